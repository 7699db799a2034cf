//! From the canonical tables of ingest to the records that linkage compares.
//!
//! Polars does the filtering and grouping of the large tables (the household registry,
//! vaccination dose rows); the few columns linkage compares are then read once into
//! [`Rec`] values, because each candidate pair is scored by per-pair code (Chinese name
//! similarity, ID digit comparison) that polars has no expression for.

use std::collections::HashMap;

use chrono::NaiveDate;
use pinyin::ToPinyin;
use polars::prelude::*;

use crate::LinkError;

/// The four birth-level sources, in the order of domain.md §8.2 (the first available of
/// these gives a birth's sex and date).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Src {
    Delivery,
    Certificate,
    Household,
    Vaccination,
}

impl Src {
    pub(crate) const ALL: [Src; 4] = [
        Src::Delivery,
        Src::Certificate,
        Src::Household,
        Src::Vaccination,
    ];

    pub(crate) fn id(self) -> &'static str {
        poprecon_model::BIRTH_LEVEL_IDS[self.index()]
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// An 18-character ID as ASCII bytes: a valid one, or one as typed that has the shape of
/// one (17 digits and a digit or `X`), so that its digits can be compared.
pub(crate) type IdDigits = [u8; 18];

pub(crate) fn id_digits(text: Option<&str>) -> Option<IdDigits> {
    let b = text?.as_bytes();
    if b.len() != 18
        || !b[..17].iter().all(u8::is_ascii_digit)
        || !(b[17].is_ascii_digit() || b[17] == b'X')
    {
        return None;
    }
    let mut out = [0u8; 18];
    out.copy_from_slice(b);
    Some(out)
}

/// A person name with what its comparison needs precomputed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Name {
    pub text: String,
    pub chars: Vec<char>,
    /// Plain pinyin of each character (`None` for characters that have none).
    pub sounds: Vec<Option<&'static str>>,
}

impl Name {
    pub(crate) fn new(text: &str) -> Option<Name> {
        // Names arrive normalised by ingest; spaces and middle dots carry no identity.
        let chars: Vec<char> = text
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '\u{00B7}')
            .collect();
        if chars.is_empty() {
            return None;
        }
        let sounds = chars
            .iter()
            .map(|c| c.to_pinyin().map(|p| p.plain()))
            .collect();
        Some(Name {
            text: chars.iter().collect(),
            chars,
            sounds,
        })
    }
}

/// One record of a birth-level source, as linkage sees it. Dates are days since
/// 1970-01-01; times are minutes since then.
#[derive(Debug, Clone, Default)]
pub(crate) struct Rec {
    pub key: String,
    pub line: i64,
    /// Every other canonical column, for telling exact copies apart; only read for records
    /// that share their key or their essentials with another.
    pub content: Option<String>,
    /// Order among rows with the same key (lower is kept); household: active rows first.
    pub rank: u8,
    pub mother_id: Option<String>,
    pub mother_digits: Option<IdDigits>,
    pub mother_name: Option<Name>,
    pub child_name: Option<Name>,
    pub child_id: Option<String>,
    pub child_digits: Option<IdDigits>,
    pub father_digits: Option<IdDigits>,
    pub sex: Option<i32>,
    /// The date compared: the record's birth date, for household rows without one the date
    /// their valid ID encodes.
    pub date: Option<i32>,
    /// Whether `date` is the record's own birth-date field.
    pub date_observed: bool,
    pub time_ms: Option<i64>,
    pub birth_seq: Option<i32>,
    pub plurality: Option<i32>,
    pub institution: Option<String>,
    /// Residence village (delivery, vaccination) or household village.
    pub village: Option<String>,
    /// Certificates: `first`, `reissue`, `replacement`.
    pub issue_type: Option<String>,
    /// Certificates: the keys of the reissued or replacement certificates of the same child.
    pub other_keys: Vec<String>,
    /// Vaccination: the date of the earliest HepB dose 1.
    pub hepb1: Option<i32>,
    /// Household: the household number, and whether the row is a son or daughter of the
    /// head (relation 20–26, 30–36).
    pub household_no: Option<String>,
    pub child_of_head: bool,
}

impl Rec {
    pub(crate) fn minute(&self) -> Option<i64> {
        self.time_ms.map(|t| t.div_euclid(60_000))
    }
}

/// An extra copy left out of linkage.
#[derive(Debug, Clone)]
pub(crate) struct Dup {
    pub src: Src,
    pub key: String,
    pub line: i64,
    pub kept_key: String,
    pub reason: &'static str,
}

/// The records of one source, sorted by key, keys unique.
#[derive(Debug, Default)]
pub(crate) struct Prepared {
    pub recs: Vec<Rec>,
    pub dups: Vec<Dup>,
}

pub(crate) use poprecon_model::key_order;

/// Ingest's column of the record key as written in the extract, trimmed.
pub(crate) const RECORD_KEY: &str = "record_key";

pub(crate) use poprecon_model::{date_of_days, epoch_days};

/// Column access with the schema checks of a table handed over by ingest. Optional columns
/// that are absent read as nulls, so that a table built by hand needs only what it uses.
pub(crate) struct Table<'a> {
    pub name: &'static str,
    pub df: &'a DataFrame,
}

impl Table<'_> {
    fn column(&self, name: &str, required: bool) -> Result<Option<&Column>, LinkError> {
        match self.df.column(name) {
            Ok(c) => Ok(Some(c)),
            Err(_) if !required => Ok(None),
            Err(_) => Err(LinkError::MissingColumn {
                table: self.name,
                column: name.to_owned(),
            }),
        }
    }

    fn cast(&self, c: &Column, to: &DataType, expected: &'static str) -> Result<Column, LinkError> {
        let ok = match (c.dtype(), to) {
            (DataType::String, DataType::String) => true,
            (DataType::Date, DataType::Date) => true,
            (DataType::Datetime(_, _), DataType::Datetime(_, _)) => true,
            (DataType::Null, _) => true,
            (from, DataType::Int32 | DataType::Int64) => from.is_integer(),
            _ => false,
        };
        if !ok {
            return Err(LinkError::ColumnType {
                table: self.name,
                column: c.name().to_string(),
                expected,
                found: c.dtype().to_string(),
            });
        }
        c.cast(to).map_err(LinkError::frame(self.name))
    }

    pub(crate) fn strs(
        &self,
        name: &str,
        required: bool,
    ) -> Result<Vec<Option<String>>, LinkError> {
        let Some(c) = self.column(name, required)? else {
            return Ok(vec![None; self.df.height()]);
        };
        let c = self.cast(c, &DataType::String, "text")?;
        let ca = c.str().map_err(LinkError::frame(self.name))?;
        Ok(ca
            .iter()
            .map(|v| {
                v.map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
            })
            .collect())
    }

    pub(crate) fn i32s(&self, name: &str, required: bool) -> Result<Vec<Option<i32>>, LinkError> {
        let Some(c) = self.column(name, required)? else {
            return Ok(vec![None; self.df.height()]);
        };
        let c = self.cast(c, &DataType::Int32, "integers")?;
        let ca = c.i32().map_err(LinkError::frame(self.name))?;
        Ok(ca.iter().collect())
    }

    pub(crate) fn i64s(&self, name: &str, required: bool) -> Result<Vec<Option<i64>>, LinkError> {
        let Some(c) = self.column(name, required)? else {
            return Ok(vec![None; self.df.height()]);
        };
        let c = self.cast(c, &DataType::Int64, "integers")?;
        let ca = c.i64().map_err(LinkError::frame(self.name))?;
        Ok(ca.iter().collect())
    }

    /// Days since 1970-01-01.
    pub(crate) fn dates(&self, name: &str, required: bool) -> Result<Vec<Option<i32>>, LinkError> {
        let Some(c) = self.column(name, required)? else {
            return Ok(vec![None; self.df.height()]);
        };
        let c = self.cast(c, &DataType::Date, "dates")?;
        let ca = c.date().map_err(LinkError::frame(self.name))?;
        Ok(ca.physical().iter().collect())
    }

    /// Milliseconds since 1970-01-01 00:00.
    pub(crate) fn times(&self, name: &str) -> Result<Vec<Option<i64>>, LinkError> {
        let Some(c) = self.column(name, false)? else {
            return Ok(vec![None; self.df.height()]);
        };
        let c = self.cast(
            c,
            &DataType::Datetime(TimeUnit::Milliseconds, None),
            "date-times",
        )?;
        let ca = c.datetime().map_err(LinkError::frame(self.name))?;
        Ok(ca.physical().iter().collect())
    }

    /// The record keys: ingest's `record_key` (the key as written, trimmed) when the table
    /// has it, else the key field.
    pub(crate) fn keys(&self, key_field: &str) -> Result<Vec<Option<String>>, LinkError> {
        if self.df.column(RECORD_KEY).is_ok() {
            self.strs(RECORD_KEY, true)
        } else {
            self.strs(key_field, true)
        }
    }

    /// Every column but `exclude` and the bookkeeping columns of ingest, as one text.
    pub(crate) fn content(&self, exclude: &[&str]) -> Result<Vec<Option<String>>, LinkError> {
        let skip = |c: &str| {
            exclude.contains(&c)
                || matches!(
                    c,
                    "source_file" | "source_line" | RECORD_KEY | "invalid_fields"
                )
        };
        let exprs: Vec<Expr> = self
            .df
            .get_column_names()
            .into_iter()
            .filter(|c| !skip(c.as_str()))
            .map(|c| {
                col(c.clone())
                    .cast(DataType::String)
                    .fill_null(lit("\u{0}"))
            })
            .collect();
        if exprs.is_empty() {
            return Ok(vec![Some(String::new()); self.df.height()]);
        }
        let out = self
            .df
            .clone()
            .lazy()
            .select([concat_str(exprs, "\u{1f}", false).alias("content")])
            .collect()
            .map_err(LinkError::frame(self.name))?;
        Table {
            name: self.name,
            df: &out,
        }
        .strs("content", true)
    }
}

/// Institution names are compared without white space.
fn institution(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(|s| s.chars().filter(|c| !c.is_whitespace()).collect::<String>())
        .filter(|s| !s.is_empty())
}

fn name(v: Option<String>) -> Option<Name> {
    v.as_deref().and_then(Name::new)
}

/// A child's name, unless it is a placeholder given before the child was named
/// (`张芳之子`: "son of 张芳"), which says nothing about the child's own name.
fn own_name(v: Option<String>) -> Option<Name> {
    const PLACEHOLDERS: [&str; 5] = ["之子", "之女", "之婴", "男婴", "女婴"];
    v.filter(|n| !PLACEHOLDERS.iter().any(|p| n.trim_end().ends_with(p)))
        .as_deref()
        .and_then(Name::new)
}

fn valid_id(v: Option<String>) -> Option<String> {
    v.filter(|s| s.len() == 18)
}

/// The digits to compare: the valid ID, else the ID as typed when it has the shape of one.
fn digits(valid: &Option<String>, input: &Option<String>) -> Option<IdDigits> {
    id_digits(valid.as_deref()).or_else(|| id_digits(input.as_deref()))
}

/// Live deliveries (a delivery without an outcome is taken as live) born in the window.
pub(crate) fn deliveries(df: &DataFrame, window: (i32, i32)) -> Result<Prepared, LinkError> {
    let t = Table {
        name: "hospital_delivery",
        df,
    };
    let keys = t.keys("record_id")?;
    let lines = t.i64s("source_line", false)?;
    let mother_id = t.strs("mother_id", false)?;
    let mother_input = t.strs("mother_id_input", false)?;
    let mother_name = t.strs("mother_name", false)?;
    let dates = t.dates("delivery_date", true)?;
    let times = t.times("delivery_date_time")?;
    let institution = t.strs("institution", false)?;
    let outcome = t.strs("outcome", false)?;
    let plurality = t.i32s("plurality", false)?;
    let birth_seq = t.i32s("birth_seq", false)?;
    let child_sex = t.i32s("child_sex", false)?;
    let village = t.strs("residence_village", false)?;
    let mut recs = Vec::new();
    let mut rows = Vec::new();
    for i in 0..df.height() {
        let (Some(key), Some(date)) = (keys[i].clone(), dates[i]) else {
            continue;
        };
        if outcome[i].as_deref() == Some("stillbirth") || date < window.0 || date > window.1 {
            continue;
        }
        rows.push(i);
        let mother = valid_id(mother_id[i].clone());
        recs.push(Rec {
            key,
            line: lines[i].unwrap_or(i as i64),
            mother_digits: digits(&mother, &mother_input[i]),
            mother_id: mother,
            mother_name: name(mother_name[i].clone()),
            sex: child_sex[i],
            date: Some(date),
            date_observed: true,
            time_ms: times[i],
            birth_seq: birth_seq[i],
            plurality: plurality[i],
            institution: self::institution(&institution[i]),
            village: village[i].clone(),
            ..Rec::default()
        });
    }
    fill_content(
        &t,
        &mut recs,
        &rows,
        &["record_id"],
        Some(&|r: &Rec| shape(r, r.birth_seq, &r.mother_name)),
    )?;
    Ok(dedup(Src::Delivery, recs, true))
}

/// What two copies of one record share, to find the few records whose full content is
/// worth reading.
fn shape(r: &Rec, extra: Option<i32>, name: &Option<Name>) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    (r.mother_digits, r.date, r.time_ms, r.sex, extra).hash(&mut h);
    name.as_ref().map(|n| &n.text).hash(&mut h);
    h.finish()
}

/// Reads the content of the records that share their key, or their `shape`, with another.
fn fill_content(
    t: &Table<'_>,
    recs: &mut [Rec],
    rows: &[usize],
    exclude: &[&str],
    shape: Option<&dyn Fn(&Rec) -> u64>,
) -> Result<(), LinkError> {
    let mut keys: HashMap<&str, u32> = HashMap::new();
    let mut shapes: HashMap<u64, u32> = HashMap::new();
    for r in recs.iter() {
        *keys.entry(r.key.as_str()).or_default() += 1;
        if let Some(shape) = shape {
            *shapes.entry(shape(r)).or_default() += 1;
        }
    }
    let wanted: Vec<usize> = (0..recs.len())
        .filter(|&i| {
            keys[recs[i].key.as_str()] > 1 || shape.is_some_and(|f| shapes[&f(&recs[i])] > 1)
        })
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let idx: Vec<IdxSize> = wanted.iter().map(|&i| rows[i] as IdxSize).collect();
    let sub =
        t.df.take(&IdxCa::new("rows".into(), idx))
            .map_err(LinkError::frame(t.name))?;
    let content = Table {
        name: t.name,
        df: &sub,
    }
    .content(exclude)?;
    for (i, c) in wanted.into_iter().zip(content) {
        recs[i].content = Some(c.unwrap_or_default());
    }
    Ok(())
}

/// Certificates born in the window; a reissue or replacement of a certificate in the
/// extract joins the child's first certificate (domain.md §8.20).
pub(crate) fn certificates(df: &DataFrame, window: (i32, i32)) -> Result<Prepared, LinkError> {
    let t = Table {
        name: "birth_certificate",
        df,
    };
    let keys = t.keys("certificate_no")?;
    let lines = t.i64s("source_line", false)?;
    let child_name = t.strs("child_name", false)?;
    let child_sex = t.i32s("child_sex", false)?;
    let dates = t.dates("birth_date", true)?;
    let times = t.times("birth_date_time")?;
    let institution = t.strs("institution", false)?;
    let mother_id = t.strs("mother_id", false)?;
    let mother_input = t.strs("mother_id_input", false)?;
    let mother_name = t.strs("mother_name", false)?;
    let father_id = t.strs("father_id", false)?;
    let father_input = t.strs("father_id_input", false)?;
    let issue_type = t.strs("issue_type", false)?;
    let mut recs = Vec::new();
    let mut rows = Vec::new();
    for i in 0..df.height() {
        let (Some(key), Some(date)) = (keys[i].clone(), dates[i]) else {
            continue;
        };
        if date < window.0 || date > window.1 {
            continue;
        }
        rows.push(i);
        let mother = valid_id(mother_id[i].clone());
        let father = valid_id(father_id[i].clone());
        recs.push(Rec {
            key,
            line: lines[i].unwrap_or(i as i64),
            mother_digits: digits(&mother, &mother_input[i]),
            mother_id: mother,
            mother_name: name(mother_name[i].clone()),
            child_name: own_name(child_name[i].clone()),
            father_digits: digits(&father, &father_input[i]),
            sex: child_sex[i],
            date: Some(date),
            date_observed: true,
            time_ms: times[i],
            institution: self::institution(&institution[i]),
            issue_type: issue_type[i].clone(),
            ..Rec::default()
        });
    }
    fill_content(
        &t,
        &mut recs,
        &rows,
        &["certificate_no"],
        Some(&|r: &Rec| shape(r, None, &r.child_name)),
    )?;
    let mut prepared = dedup(Src::Certificate, recs, true);
    join_reissues(&mut prepared.recs);
    Ok(prepared)
}

/// Moves each reissue or replacement that has a first certificate of the same child (same
/// birth date and sex, same mother ID or child name, and no other birth time) into that
/// certificate's `other_keys`. A reissue without one is the child's certificate.
fn join_reissues(recs: &mut Vec<Rec>) {
    let is_first = |r: &Rec| !matches!(r.issue_type.as_deref(), Some("reissue" | "replacement"));
    let mut firsts: HashMap<(i32, Option<i32>), Vec<usize>> = HashMap::new();
    for (i, r) in recs.iter().enumerate() {
        if is_first(r)
            && let Some(d) = r.date
        {
            firsts.entry((d, r.sex)).or_default().push(i);
        }
    }
    let mut target: Vec<Option<usize>> = vec![None; recs.len()];
    for (i, r) in recs.iter().enumerate() {
        if is_first(r) {
            continue;
        }
        let Some(d) = r.date else { continue };
        // A twin's certificate has the same mother, date and often sex: a birth time to the
        // minute on both that differs tells the children apart (a reissue may carry a new
        // name, never a new birth time).
        let same_child = |f: &Rec| {
            let other_time = matches!((r.minute(), f.minute()), (Some(a), Some(b)) if a != b);
            !other_time
                && ((r.mother_digits.is_some() && f.mother_digits == r.mother_digits)
                    || (r.child_name.is_some() && f.child_name == r.child_name))
        };
        // Candidates are in key order: the smallest matching key wins.
        target[i] = firsts
            .get(&(d, r.sex))
            .and_then(|c| c.iter().copied().find(|&f| same_child(&recs[f])));
    }
    let mut moved: Vec<(usize, String)> = Vec::new();
    for (i, t) in target.iter().enumerate() {
        if let Some(f) = t {
            moved.push((*f, recs[i].key.clone()));
        }
    }
    for (f, key) in moved {
        recs[f].other_keys.push(key);
    }
    let mut i = 0;
    recs.retain(|_| {
        let keep = target[i].is_none();
        i += 1;
        keep
    });
}

/// Household rows of people born in the window (birth date, or the date their valid ID
/// encodes when the row has none).
pub(crate) fn household_children(
    df: &DataFrame,
    window: (i32, i32),
) -> Result<Prepared, LinkError> {
    let name_t = "household";
    let (lo, hi) = (date_of_days(window.0), date_of_days(window.1));
    let has_birth_date = df.column("birth_date").is_ok();
    let id_date = col("person_id").str().slice(lit(6), lit(8));
    let by_id = col("person_id").is_not_null().and(
        id_date
            .clone()
            .gt_eq(lit(lo.format("%Y%m%d").to_string()))
            .and(id_date.lt_eq(lit(hi.format("%Y%m%d").to_string()))),
    );
    // Rows without a birth date are few: their ID's date is read below, which saves slicing
    // millions of IDs here.
    let predicate = if has_birth_date {
        col("birth_date")
            .gt_eq(lit(lo))
            .and(col("birth_date").lt_eq(lit(hi)))
            .or(col("birth_date").is_null())
    } else {
        by_id
    };
    if df.column("person_id").is_err() {
        return Err(LinkError::MissingColumn {
            table: name_t,
            column: "person_id".to_owned(),
        });
    }
    let rows = df
        .clone()
        .lazy()
        .filter(predicate)
        .collect()
        .map_err(LinkError::frame(name_t))?;
    let t = Table {
        name: name_t,
        df: &rows,
    };
    let person_id = t.strs("person_id", true)?;
    let person_input = t.strs("person_id_input", false)?;
    let record_key = t.strs(RECORD_KEY, false)?;
    let lines = t.i64s("source_line", false)?;
    let names = t.strs("name", false)?;
    let sexes = t.i32s("sex", false)?;
    let dates = t.dates("birth_date", false)?;
    let village = t.strs("village", false)?;
    let status = t.strs("status", false)?;
    let mother_id = t.strs("mother_id", false)?;
    let mother_input = t.strs("mother_id_input", false)?;
    let father_id = t.strs("father_id", false)?;
    let father_input = t.strs("father_id_input", false)?;
    let household_no = t.strs("household_no", false)?;
    let relation = t.strs("relation_to_head", false)?;
    let mut recs = Vec::new();
    let mut row_of = Vec::new();
    for i in 0..rows.height() {
        let valid = valid_id(person_id[i].clone());
        let Some(key) = record_key[i]
            .clone()
            .or_else(|| person_input[i].clone())
            .or_else(|| valid.clone())
        else {
            continue;
        };
        let id_date = valid.as_deref().and_then(date_in_id);
        let (date, observed) = match dates[i] {
            Some(d) => (Some(d), true),
            None => (id_date, false),
        };
        let Some(d) = date else { continue };
        if d < window.0 || d > window.1 {
            continue;
        }
        let mother = valid_id(mother_id[i].clone());
        let father = valid_id(father_id[i].clone());
        row_of.push(i);
        recs.push(Rec {
            key,
            line: lines[i].unwrap_or(i as i64),
            rank: status_rank(status[i].as_deref()),
            mother_digits: digits(&mother, &mother_input[i]),
            mother_id: mother,
            child_name: own_name(names[i].clone()),
            child_digits: digits(&valid, &person_input[i]),
            child_id: valid,
            father_digits: digits(&father, &father_input[i]),
            sex: sexes[i],
            date,
            date_observed: observed,
            village: village[i].clone(),
            household_no: household_no[i].clone(),
            child_of_head: crate::mothers::own_child_relation(relation[i].as_deref()),
            ..Rec::default()
        });
    }
    // Only rows that share a key are compared whole.
    fill_content(
        &t,
        &mut recs,
        &row_of,
        &["person_id", "person_id_input"],
        None,
    )?;
    // Two rows of one person are a move, not a duplicate event: the active one is linked.
    Ok(dedup(Src::Household, recs, false))
}

pub(crate) use poprecon_model::household_status_rank as status_rank;

/// The birth date a valid 18-character ID encodes.
pub(crate) fn date_in_id(id: &str) -> Option<i32> {
    let d = NaiveDate::parse_from_str(id.get(6..14)?, "%Y%m%d").ok()?;
    Some(epoch_days(d))
}

/// Vaccinated children (dose rows grouped by `child_code`) born in the window. Each field is
/// the first non-empty one in the order the doses were given.
pub(crate) fn vaccination_children(
    df: &DataFrame,
    window: (i32, i32),
) -> Result<Prepared, LinkError> {
    let name_t = "vaccination";
    for required in ["child_code", "birth_date"] {
        if df.column(required).is_err() {
            return Err(LinkError::MissingColumn {
                table: name_t,
                column: required.to_owned(),
            });
        }
    }
    let present = |c: &str| df.column(c).is_ok();
    let mut sort_by = vec![col("child_code")];
    for c in ["vaccination_date", "dose", "source_line"] {
        if present(c) {
            sort_by.push(col(c));
        }
    }
    let n = sort_by.len();
    let first_of = [
        "source_line",
        "child_id",
        "child_id_input",
        "child_name",
        "child_sex",
        "birth_date",
        "mother_id",
        "mother_id_input",
        "mother_name",
        "residence_village",
    ];
    let mut aggs: Vec<Expr> = first_of
        .iter()
        .filter(|c| present(c))
        .map(|c| col(*c).drop_nulls().first())
        .collect();
    if present("vaccine") && present("dose") && present("vaccination_date") {
        aggs.push(
            col("vaccination_date")
                .filter(col("vaccine").eq(lit("HepB")).and(col("dose").eq(lit(1))))
                .min()
                .alias("hepb1_date"),
        );
    }
    let children = df
        .clone()
        .lazy()
        .sort_by_exprs(
            sort_by,
            SortMultipleOptions::default()
                .with_nulls_last(true)
                .with_maintain_order(true)
                .with_order_descending_multi(vec![false; n]),
        )
        .group_by_stable([col("child_code")])
        .agg(aggs)
        .collect()
        .map_err(LinkError::frame(name_t))?;
    let t = Table {
        name: name_t,
        df: &children,
    };
    let keys = t.strs("child_code", true)?;
    let lines = t.i64s("source_line", false)?;
    let child_id = t.strs("child_id", false)?;
    let child_input = t.strs("child_id_input", false)?;
    let child_name = t.strs("child_name", false)?;
    let child_sex = t.i32s("child_sex", false)?;
    let dates = t.dates("birth_date", true)?;
    let mother_id = t.strs("mother_id", false)?;
    let mother_input = t.strs("mother_id_input", false)?;
    let mother_name = t.strs("mother_name", false)?;
    let village = t.strs("residence_village", false)?;
    let hepb1 = t.dates("hepb1_date", false)?;
    let mut recs = Vec::new();
    for i in 0..children.height() {
        let (Some(key), Some(date)) = (keys[i].clone(), dates[i]) else {
            continue;
        };
        if date < window.0 || date > window.1 {
            continue;
        }
        let mother = valid_id(mother_id[i].clone());
        let child = valid_id(child_id[i].clone());
        recs.push(Rec {
            key,
            line: lines[i].unwrap_or(i as i64),
            mother_digits: digits(&mother, &mother_input[i]),
            mother_id: mother,
            mother_name: name(mother_name[i].clone()),
            child_name: own_name(child_name[i].clone()),
            child_digits: digits(&child, &child_input[i]),
            child_id: child,
            sex: child_sex[i],
            date: Some(date),
            date_observed: true,
            village: village[i].clone(),
            hepb1: hepb1[i],
            ..Rec::default()
        });
    }
    Ok(dedup(Src::Vaccination, recs, false))
}

/// Sorts by key and keeps one record per key (the lowest `rank`, then content, then line);
/// with `by_content`, also one record per content (the smallest key): the same event entered
/// twice under two keys (domain.md §8.18).
fn dedup(src: Src, mut recs: Vec<Rec>, by_content: bool) -> Prepared {
    recs.sort_by(|a, b| {
        key_order(&a.key, &b.key)
            .then(a.rank.cmp(&b.rank))
            .then(a.content.cmp(&b.content))
            .then(a.line.cmp(&b.line))
    });
    let mut dups = Vec::new();
    let mut kept: Vec<Rec> = Vec::with_capacity(recs.len());
    for r in recs {
        match kept.last() {
            Some(last) if last.key == r.key => {
                // Household rows of one person in two households are history, not copies.
                if src != Src::Household || last.content == r.content {
                    dups.push(Dup {
                        src,
                        key: r.key.clone(),
                        line: r.line,
                        kept_key: last.key.clone(),
                        reason: "same_key",
                    });
                }
            }
            _ => kept.push(r),
        }
    }
    if by_content {
        let mut seen: HashMap<String, String> = HashMap::new();
        kept.retain(|r| match r.content.as_ref().and_then(|c| seen.get(c)) {
            Some(k) => {
                dups.push(Dup {
                    src,
                    key: r.key.clone(),
                    line: r.line,
                    kept_key: k.clone(),
                    reason: "same_content",
                });
                false
            }
            None => {
                if let Some(c) = &r.content {
                    seen.insert(c.clone(), r.key.clone());
                }
                true
            }
        });
    }
    for r in &mut kept {
        // No longer needed, and large.
        r.content = None;
    }
    Prepared { recs: kept, dups }
}
