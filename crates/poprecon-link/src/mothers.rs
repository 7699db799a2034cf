//! What linkage reads about mothers: their household rows (floating flag, household
//! village, birth order), their prenatal bookings, birth registrations and marriages.
//!
//! The registry can hold millions of rows: polars selects the few that concern the mothers
//! at hand (`is_in` on their IDs), and only those are read into Rust.

use std::collections::HashMap;

use polars::prelude::*;

use crate::LinkError;
use crate::compare::id_level;
use crate::prepare::{
    IdDigits, RECORD_KEY, Rec, Table, date_in_id, id_digits, key_order, status_rank,
};

/// A household row of a mother.
#[derive(Debug, Clone)]
pub(crate) struct MotherRow {
    pub active: bool,
    pub rank: u8,
    pub name: Option<String>,
    pub village: Option<String>,
    pub household_no: Option<String>,
    pub relation: Option<String>,
}

/// Relations to the head that make a woman the head or the head's spouse.
pub(crate) fn head_or_spouse(relation: Option<&str>) -> bool {
    matches!(relation, Some("02" | "10" | "11" | "12"))
}

/// Sons 20–26 and daughters 30–36; adopted and step-children (27, 37) are not counted.
pub(crate) fn own_child_relation(relation: Option<&str>) -> bool {
    relation
        .and_then(|r| r.parse::<u8>().ok())
        .is_some_and(|r| (20..=26).contains(&r) || (30..=36).contains(&r))
}

/// Household children registered without a mother ID: where exactly one of the mothers
/// the other sources name is, by her active row, the head or the head's spouse of the
/// child's household, the child is hers (the reading of domain.md §8.9). Returns how many
/// children were given a mother.
pub(crate) fn infer_household_mothers(
    children: &mut [Rec],
    mothers: &HashMap<String, Vec<MotherRow>>,
) -> usize {
    let mut by_household: HashMap<&str, Vec<&str>> = HashMap::new();
    for (id, rows) in mothers {
        for row in rows
            .iter()
            .filter(|r| r.active && head_or_spouse(r.relation.as_deref()))
        {
            if let Some(h) = row.household_no.as_deref() {
                let ids = by_household.entry(h).or_default();
                if !ids.contains(&id.as_str()) {
                    ids.push(id);
                }
            }
        }
    }
    let mut n = 0;
    for r in children
        .iter_mut()
        .filter(|r| r.mother_id.is_none() && r.child_of_head)
    {
        if let Some(&[only]) = r
            .household_no
            .as_deref()
            .and_then(|h| by_household.get(h))
            .map(Vec::as_slice)
        {
            r.mother_id = Some(only.to_owned());
            r.mother_digits = id_digits(Some(only));
            n += 1;
        }
    }
    n
}

/// A household row that may be an earlier child of a mother.
#[derive(Debug, Clone)]
pub(crate) struct ChildRow {
    pub key: String,
    pub mother_id: Option<String>,
    /// Neither a valid nor an invalid mother ID on the row.
    pub mother_empty: bool,
    pub date: Option<i32>,
    pub relation: Option<String>,
    pub household_no: Option<String>,
    pub deceased: bool,
}

/// A dated record of a mother (prenatal booking, birth registration, marriage).
#[derive(Debug, Clone)]
pub(crate) struct Dated {
    pub key: String,
    pub date: i32,
    pub village: Option<String>,
}

fn id_series(ids: &[String]) -> Series {
    Series::new("ids".into(), ids)
}

/// Household rows of the given people, by ID; each person's rows active first.
pub(crate) fn mother_rows(
    household: Option<&DataFrame>,
    ids: &[String],
) -> Result<HashMap<String, Vec<MotherRow>>, LinkError> {
    let mut out: HashMap<String, Vec<MotherRow>> = HashMap::new();
    let Some(df) = household else { return Ok(out) };
    if ids.is_empty() || df.height() == 0 {
        return Ok(out);
    }
    let rows = filter_in(df, "household", "person_id", ids)?;
    let t = Table {
        name: "household",
        df: &rows,
    };
    let person = t.strs("person_id", true)?;
    let name = t.strs("name", false)?;
    let village = t.strs("village", false)?;
    let household_no = t.strs("household_no", false)?;
    let relation = t.strs("relation_to_head", false)?;
    let status = t.strs("status", false)?;
    for i in 0..rows.height() {
        let Some(p) = person[i].clone() else { continue };
        let rank = status_rank(status[i].as_deref());
        out.entry(p).or_default().push(MotherRow {
            // A registry without a status column lists its residents.
            active: rank <= 1,
            rank,
            name: name[i].clone(),
            village: village[i].clone(),
            household_no: household_no[i].clone(),
            relation: relation[i].clone(),
        });
    }
    for rows in out.values_mut() {
        rows.sort_by(|a, b| {
            (a.rank, &a.village, &a.household_no, &a.relation, &a.name).cmp(&(
                b.rank,
                &b.village,
                &b.household_no,
                &b.relation,
                &b.name,
            ))
        });
    }
    Ok(out)
}

/// Household rows whose mother is one of `mothers`, or that lie in one of `households`.
pub(crate) fn child_rows(
    household: Option<&DataFrame>,
    mothers: &[String],
    households: &[String],
) -> Result<Vec<ChildRow>, LinkError> {
    let Some(df) = household else {
        return Ok(Vec::new());
    };
    if df.height() == 0 || (mothers.is_empty() && households.is_empty()) {
        return Ok(Vec::new());
    }
    let mut predicate = col("mother_id").is_in(lit(id_series(mothers)).implode(false), false);
    if df.column("household_no").is_ok() && !households.is_empty() {
        predicate = predicate
            .or(col("household_no").is_in(lit(id_series(households)).implode(false), false));
    }
    if df.column("mother_id").is_err() {
        return Ok(Vec::new());
    }
    let rows = df
        .clone()
        .lazy()
        .filter(predicate)
        .collect()
        .map_err(LinkError::frame("household"))?;
    let t = Table {
        name: "household",
        df: &rows,
    };
    let person = t.strs("person_id", true)?;
    let person_input = t.strs("person_id_input", false)?;
    let record_key = t.strs(RECORD_KEY, false)?;
    let mother = t.strs("mother_id", false)?;
    let mother_input = t.strs("mother_id_input", false)?;
    let dates = t.dates("birth_date", false)?;
    let relation = t.strs("relation_to_head", false)?;
    let household_no = t.strs("household_no", false)?;
    let status = t.strs("status", false)?;
    let mut out = Vec::with_capacity(rows.height());
    for i in 0..rows.height() {
        let Some(key) = record_key[i]
            .clone()
            .or_else(|| person_input[i].clone())
            .or_else(|| person[i].clone())
        else {
            continue;
        };
        let date = dates[i].or_else(|| person[i].as_deref().and_then(date_in_id));
        out.push(ChildRow {
            key,
            mother_empty: mother[i].is_none() && mother_input[i].is_none(),
            mother_id: mother[i].clone(),
            date,
            relation: relation[i].clone(),
            household_no: household_no[i].clone(),
            deceased: status[i].as_deref() == Some("deceased"),
        });
    }
    // In the registry's order: birth order counts a mother's children, whatever their order.
    Ok(out)
}

/// Which columns of a mother-level table [`dated_rows`] reads.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DatedSpec {
    pub table: &'static str,
    pub key: &'static str,
    pub id: &'static str,
    pub date: &'static str,
    pub village: Option<&'static str>,
}

/// The dated records of the mothers at hand: by valid ID, and the records whose ID is
/// invalid but has the shape of one (a typo, a transposition, Excel's `000`), to be found
/// by their digits.
#[derive(Debug, Default)]
pub(crate) struct DatedRows {
    by_id: HashMap<String, Vec<Dated>>,
    damaged: Vec<(IdDigits, Dated)>,
    /// Damaged records by two of the three parts of their ID (see [`id_parts`]).
    parts: HashMap<(u8, [u8; 14]), Vec<usize>>,
}

impl DatedRows {
    /// The records of the mother with this valid ID: those under her ID, and damaged ones
    /// whose ID is hers but for a typo, a transposition, two digits or a truncation; sorted
    /// by date and key.
    /// The rows under `id`; with `damaged`, also those whose damaged ID is within a few
    /// digits of it.
    pub(crate) fn of(&self, id: &str, damaged: bool) -> Vec<&Dated> {
        let mut out: Vec<&Dated> = self.by_id.get(id).into_iter().flatten().collect();
        if let Some(digits) = id_digits(Some(id)).filter(|_| damaged) {
            let mut hits: Vec<usize> = Vec::new();
            for part in id_parts(&digits) {
                hits.extend(self.parts.get(&part).into_iter().flatten());
            }
            hits.sort_unstable();
            hits.dedup();
            out.extend(
                hits.into_iter()
                    .filter(|&i| id_level(&digits, &self.damaged[i].0) <= 5)
                    .map(|i| &self.damaged[i].1),
            );
        }
        out.sort_by(|a, b| {
            a.date
                .cmp(&b.date)
                .then(key_order(&a.key, &b.key))
                .then(a.village.cmp(&b.village))
        });
        out
    }
}

/// Rows of `df` whose ID column is one of `ids`, or whose ID is damaged (and, with
/// `filter`, that pass it).
pub(crate) fn dated_rows(
    df: Option<&DataFrame>,
    spec: DatedSpec,
    ids: &[String],
    filter: Option<Expr>,
) -> Result<DatedRows, LinkError> {
    let DatedSpec {
        table,
        key: key_col,
        id: id_col,
        date: date_col,
        village: village_col,
    } = spec;
    let mut out = DatedRows::default();
    let Some(df) = df else { return Ok(out) };
    if ids.is_empty() || df.height() == 0 {
        return Ok(out);
    }
    for c in [key_col, id_col, date_col] {
        if df.column(c).is_err() {
            return Err(LinkError::MissingColumn {
                table,
                column: c.to_owned(),
            });
        }
    }
    let input_col = format!("{id_col}_input");
    let mut wanted = col(id_col).is_in(lit(id_series(ids)).implode(false), false);
    if df.column(&input_col).is_ok() {
        wanted = wanted.or(col(id_col)
            .is_null()
            .and(col(input_col.as_str()).str().len_bytes().eq(lit(18u32))));
    }
    let mut lf = df.clone().lazy().filter(wanted);
    if let Some(f) = filter {
        lf = lf.filter(f);
    }
    let rows = lf.collect().map_err(LinkError::frame(table))?;
    let t = Table {
        name: table,
        df: &rows,
    };
    let keys = t.keys(key_col)?;
    let id = t.strs(id_col, true)?;
    let input = t.strs(&input_col, false)?;
    let dates = t.dates(date_col, true)?;
    let village = match village_col {
        Some(c) => t.strs(c, false)?,
        None => vec![None; rows.height()],
    };
    for i in 0..rows.height() {
        let (Some(k), Some(d)) = (keys[i].clone(), dates[i]) else {
            continue;
        };
        let rec = Dated {
            key: k,
            date: d,
            village: village[i].clone(),
        };
        match (&id[i], id_digits(input[i].as_deref())) {
            (Some(p), _) => out.by_id.entry(p.clone()).or_default().push(rec),
            (None, Some(digits)) => out.damaged.push((digits, rec)),
            (None, None) => {}
        }
    }
    out.damaged
        .sort_by(|a, b| a.0.cmp(&b.0).then(key_order(&a.1.key, &b.1.key)));
    for (i, (digits, _)) in out.damaged.iter().enumerate() {
        for part in id_parts(digits) {
            out.parts.entry(part).or_default().push(i);
        }
    }
    Ok(out)
}

/// Three keys of an ID, each leaving out one of its parts (address 1–6, birth date 7–14,
/// sequence and check 15–18): a typo in one part leaves two keys intact.
fn id_parts(d: &IdDigits) -> [(u8, [u8; 14]); 3] {
    let mut keys = [(0u8, [0u8; 14]); 3];
    keys[0].1.copy_from_slice(&d[..14]);
    keys[1] = (1, [0; 14]);
    keys[1].1[..12].copy_from_slice(&d[6..]);
    keys[2] = (2, [0; 14]);
    keys[2].1[..6].copy_from_slice(&d[..6]);
    keys[2].1[6..10].copy_from_slice(&d[14..]);
    keys
}

fn filter_in(
    df: &DataFrame,
    table: &'static str,
    column: &str,
    ids: &[String],
) -> Result<DataFrame, LinkError> {
    if df.column(column).is_err() {
        return Err(LinkError::MissingColumn {
            table,
            column: column.to_owned(),
        });
    }
    df.clone()
        .lazy()
        .filter(col(column).is_in(lit(id_series(ids)).implode(false), false))
        .collect()
        .map_err(LinkError::frame(table))
}
