//! The input tables as the rules read them: each source with its record key (`__key`) and
//! row number (`__row`), the birth facts (one row per birth, with what each of its records
//! says), the active household village of each person, and where a record's discrepancy
//! is attributed (domain.md §8.12).

use std::collections::BTreeMap;

use polars::prelude::*;

use crate::error::ChecksError;
use crate::{CheckInput, ChecksConfig};

use poprecon_model::SourceId;

pub(crate) const REGISTRATION: &str = SourceId::BirthRegistration.id();
pub(crate) const PRENATAL: &str = SourceId::PrenatalCare.id();
pub(crate) const DELIVERY: &str = SourceId::HospitalDelivery.id();
pub(crate) const CERTIFICATE: &str = SourceId::BirthCertificate.id();
pub(crate) const VACCINATION: &str = SourceId::Vaccination.id();
pub(crate) const HOUSEHOLD: &str = SourceId::Household.id();
pub(crate) const SCHOOL: &str = SourceId::School.id();
pub(crate) const MARRIAGE: &str = SourceId::Marriage.id();
pub(crate) const SOCIAL_SECURITY: &str = SourceId::SocialSecurity.id();

/// The four birth-level sources, in the order of domain.md §8.2.
pub(crate) const BIRTH_SOURCES: [&str; 4] = poprecon_model::BIRTH_LEVEL_IDS;

/// The field whose value is a source's record key (domain.md §7).
pub(crate) fn key_field(source: &str) -> &'static str {
    SourceId::parse(source).map_or("record_id", SourceId::key_field)
}

/// Whether the key is a resident ID (its text as given is `<key>_input`).
pub(crate) fn key_is_id(source: &str) -> bool {
    SourceId::parse(source).is_some_and(SourceId::key_is_id)
}

/// Ingest's column of the record key as written in the extract, trimmed.
pub(crate) const RECORD_KEY: &str = poprecon_model::RECORD_KEY;

/// The column of a source's key in `births` and `discrepancies`.
pub(crate) fn key_column(source: &str) -> String {
    format!("{source}_key")
}

pub(crate) use poprecon_model::epoch_days;

/// A null of a type.
pub(crate) fn null(dtype: DataType) -> Expr {
    lit(NULL).cast(dtype)
}

/// What a column read by the rules must hold.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Int,
    Date,
    Bool,
}

/// Columns the rules read, by kind. A column of another name is not read; a column of
/// these names and another type is a schema error.
const KINDS: &[(&str, Kind)] = &[
    ("registration_date", Kind::Date),
    ("booking_date", Kind::Date),
    ("delivery_date", Kind::Date),
    ("birth_date", Kind::Date),
    ("vaccination_date", Kind::Date),
    ("maternity_claim_date", Kind::Date),
    ("hepb1_date", Kind::Date),
    ("child_sex", Kind::Int),
    ("sex", Kind::Int),
    ("dose", Kind::Int),
    ("booking_gestational_weeks", Kind::Int),
    ("child_order", Kind::Int),
    ("birth_order", Kind::Int),
    ("policy_limit", Kind::Int),
    ("floating", Kind::Bool),
];

/// One input table and typed access to its columns; absent columns read as nulls, so that
/// a table built by hand needs only what its rules use.
#[derive(Debug, Clone)]
pub(crate) struct Table {
    pub name: String,
    pub df: DataFrame,
}

impl Table {
    fn new(name: &str, df: DataFrame) -> Result<Table, ChecksError> {
        for (column, kind) in KINDS {
            let Ok(c) = df.column(column) else { continue };
            let dtype = c.dtype();
            let ok = match kind {
                Kind::Int => dtype.is_integer() || dtype == &DataType::Null,
                Kind::Date => {
                    matches!(
                        dtype,
                        DataType::Date | DataType::Datetime(_, _) | DataType::Null
                    )
                }
                Kind::Bool => matches!(dtype, DataType::Boolean | DataType::Null),
            };
            if !ok {
                return Err(ChecksError::ColumnType {
                    table: name.to_owned(),
                    column: (*column).to_owned(),
                    expected: match kind {
                        Kind::Int => "integers",
                        Kind::Date => "dates",
                        Kind::Bool => "booleans",
                    },
                    found: dtype.to_string(),
                });
            }
        }
        Ok(Table {
            name: name.to_owned(),
            df,
        })
    }

    pub fn has(&self, column: &str) -> bool {
        self.df.column(column).is_ok()
    }

    pub fn lazy(&self) -> LazyFrame {
        self.df.clone().lazy()
    }

    /// A column as text, or nulls.
    pub fn text(&self, column: &str) -> Expr {
        if self.has(column) {
            col(column).cast(DataType::String)
        } else {
            null(DataType::String)
        }
    }

    /// A column as 32-bit integers, or nulls.
    pub fn int(&self, column: &str) -> Expr {
        if self.has(column) {
            col(column).cast(DataType::Int32)
        } else {
            null(DataType::Int32)
        }
    }

    /// A date column as days since 1970-01-01, or nulls.
    pub fn days(&self, column: &str) -> Expr {
        if self.has(column) {
            col(column).cast(DataType::Date).cast(DataType::Int32)
        } else {
            null(DataType::Int32)
        }
    }

    /// A resident-ID field: the valid normalised ID, or null.
    pub fn valid_id(&self, field: &str) -> Expr {
        self.text(field)
    }

    /// A resident-ID field: the valid ID, else the text as given (so that a record can still
    /// be matched to another carrying the same text).
    pub fn any_id(&self, field: &str) -> Expr {
        coalesce(&[self.text(field), self.text(&format!("{field}_input"))])
    }
}

/// Everything the rules read, prepared once.
pub(crate) struct Ctx<'a> {
    pub cfg: &'a ChecksConfig,
    pub input: &'a CheckInput<'a>,
    /// `as_of` and the period as days since 1970-01-01.
    pub as_of: i32,
    pub period: (i32, i32),
    /// Each source read, with `__key` (text) and `__row` (row number) added.
    pub sources: BTreeMap<&'static str, Table>,
    /// One row per birth (see [`BIRTH_FACTS`]); `None` before linkage.
    pub births: Option<Table>,
    /// `births` as linkage gave it (for local rules).
    pub births_raw: Option<Table>,
    /// The household registry's persons and their active villages, built on first use (see
    /// [`RegisteredPersons`]).
    pub persons: std::sync::OnceLock<RegisteredPersons>,
    /// Whole sources with `__village` and `__birth` added, computed once: several rules and
    /// their denominators read them (see `records::attributed_all`).
    pub attributed: std::sync::Mutex<BTreeMap<String, DataFrame>>,
    /// Each source's records counted per village (`village`, `__n`), computed once: the
    /// units of the rules that check every record.
    pub village_counts: std::sync::Mutex<BTreeMap<String, DataFrame>>,
}

/// The births stage's table (see `birth_facts`), read by every birth-level rule.
pub(crate) const BIRTH_FACTS: &str = "births";

impl<'a> Ctx<'a> {
    pub fn new(input: &'a CheckInput<'a>, cfg: &'a ChecksConfig) -> Result<Ctx<'a>, ChecksError> {
        let mut sources = BTreeMap::new();
        for (&id, &df) in &input.sources {
            let Some(id) = crate::SOURCES.into_iter().find(|s| *s == id) else {
                return Err(ChecksError::Config {
                    key: format!("sources.{id}"),
                    message: format!(
                        "unknown source; the sources are {}",
                        crate::SOURCES.map(|s| format!("`{s}`")).join(", ")
                    ),
                });
            };
            sources.insert(id, prepare_source(id, df)?);
        }
        let mut ctx = Ctx {
            cfg,
            input,
            as_of: epoch_days(input.as_of),
            period: (epoch_days(input.period.0), epoch_days(input.period.1)),
            sources,
            births: None,
            births_raw: None,
            persons: Default::default(),
            attributed: Default::default(),
            village_counts: Default::default(),
        };
        if let Some(b) = input.births {
            let raw = Table::new(BIRTH_FACTS, b.clone())?;
            if !raw.has("birth_id") {
                return Err(ChecksError::MissingColumn {
                    table: BIRTH_FACTS.to_owned(),
                    column: "birth_id".to_owned(),
                    hint: "\nhint: pass the `births` table of `poprecon_link::link`",
                });
            }
            ctx.births = Some(birth_facts(&raw)?);
            ctx.births_raw = Some(raw);
        }
        Ok(ctx)
    }

    pub fn source(&self, id: &str) -> Option<&Table> {
        self.sources.get(id)
    }

    /// Whether every one of `ids` is read.
    pub fn has_sources(&self, ids: &[&str]) -> bool {
        ids.iter().all(|s| self.sources.contains_key(s))
    }
}

/// Every person registered in the household registry (any row with a valid `person_id`),
/// with the village of their active household row, as a lookup: a resident ID in normal
/// form is held as a number in one table built once ([`NumberTable`]), so that the
/// registry's millions of persons take 17 bytes each and are looked up once per row, not
/// joined once per source and ID field.
#[derive(Debug, Default)]
pub(crate) struct RegisteredPersons {
    /// The IDs in normal form, as numbers ([`NumberTable`]).
    numbers: NumberTable,
    /// IDs not in normal form (none from ingest; a table built by hand may hold them).
    others: PlHashMap<String, u32>,
    /// The villages, each once; the table holds positions in it.
    villages: Vec<String>,
}

/// A fixed set of numbers, each with a value: built once from all its pairs, looked up by
/// number. The numbers are held mixed (a bijection, so no two collide), sorted, with a
/// directory by the mix's top bits: 16 bytes a number and 1 more for the directory, where
/// a hash map of the province's 60 M persons took ~2.3 GB in two shards grown by doubling;
/// a lookup reads the directory and one run of about four entries.
#[derive(Debug, Default)]
pub(crate) struct NumberTable {
    /// (mixed number, value), sorted by the mixed number, each number once.
    entries: Vec<(u64, u32)>,
    /// Per directory slot (the mix's top `bits` bits), where its run of entries starts;
    /// one more at the end.
    start: Vec<u32>,
    bits: u32,
}

/// splitmix64's finaliser: a bijection of `u64` that spreads resident IDs (which share
/// their leading digits) over the whole range.
pub(crate) fn mix(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl NumberTable {
    /// The table of `pairs` (mixed number, value); a number given more than once gets the
    /// values of its pairs folded by `keep`, which must not depend on their order.
    pub(crate) fn build(mut pairs: Vec<(u64, u32)>, keep: impl Fn(&mut u32, u32)) -> NumberTable {
        use rayon::slice::ParallelSliceMut as _;
        // Unstable, in place (no second buffer of the province's 60 M pairs): `keep` must
        // not depend on the order of a number's values.
        pairs.par_sort_unstable_by_key(|p| p.0);
        let mut kept = 0;
        for i in 0..pairs.len() {
            if kept > 0 && pairs[kept - 1].0 == pairs[i].0 {
                let value = pairs[i].1;
                keep(&mut pairs[kept - 1].1, value);
            } else {
                pairs[kept] = pairs[i];
                kept += 1;
            }
        }
        pairs.truncate(kept);
        let entries = pairs;
        // About four entries per slot.
        let bits = (entries.len() / 4)
            .max(1)
            .next_power_of_two()
            .trailing_zeros();
        let slots = 1usize << bits;
        let mut start = Vec::with_capacity(slots + 1);
        let mut at = 0usize;
        for slot in 0..slots {
            start.push(at as u32);
            while at < entries.len() && slot_of(entries[at].0, bits) == slot {
                at += 1;
            }
        }
        start.push(at as u32);
        NumberTable {
            entries,
            start,
            bits,
        }
    }

    pub(crate) fn get(&self, n: u64) -> Option<u32> {
        if self.entries.is_empty() {
            return None;
        }
        let mixed = mix(n);
        let slot = slot_of(mixed, self.bits);
        let run = &self.entries[self.start[slot] as usize..self.start[slot + 1] as usize];
        run.iter().find(|e| e.0 == mixed).map(|e| e.1)
    }

    fn len(&self) -> usize {
        self.entries.len()
    }
}

/// The directory slot of a mixed number: its top `bits` bits.
fn slot_of(mixed: u64, bits: u32) -> usize {
    mixed.checked_shr(64 - bits).unwrap_or(0) as usize
}

/// The position of a person registered with no active household row (with a village).
const NO_VILLAGE: u32 = u32::MAX;

/// A resident ID in normal form (17 digits and a digit or `X`) as one number.
pub(crate) fn id_number(id: &str) -> Option<u64> {
    let b = id.as_bytes();
    if b.len() != 18 {
        return None;
    }
    let mut n: u64 = 0;
    for &d in &b[..17] {
        if !d.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u64::from(d - b'0');
    }
    let check = match b[17] {
        d @ b'0'..=b'9' => u64::from(d - b'0'),
        b'X' => 10,
        _ => return None,
    };
    Some(n * 11 + check)
}

impl RegisteredPersons {
    /// From the household registry: each valid `person_id`, at the smallest village code of
    /// its active rows (status rank 0 or 1), if any.
    pub(crate) fn of(h: &Table) -> Result<RegisteredPersons, ChecksError> {
        RegisteredPersons::of_numbers(h, None)
    }

    /// [`RegisteredPersons::of`], given the registry's `person_id`s as [`id_number`]s when
    /// they are at hand, one per row (`None` for an empty ID or one not in normal form);
    /// without them each shard's thread reads the IDs itself.
    pub(crate) fn of_numbers(
        h: &Table,
        given: Option<&[Option<u64>]>,
    ) -> Result<RegisteredPersons, ChecksError> {
        let mut persons = PersonsBuilder::default();
        persons.add(h, given)?;
        Ok(persons.finish())
    }

    fn position(&self, id: &str) -> Option<u32> {
        match id_number(id) {
            Some(n) => self.numbers.get(n),
            None => self.others.get(id).copied(),
        }
    }

    fn position_of_number(&self, n: u64) -> Option<u32> {
        self.numbers.get(n)
    }

    /// The active household village of the person whose ID in normal form is `n`
    /// ([`id_number`]).
    pub(crate) fn village_of_number(&self, n: u64) -> Option<&str> {
        self.registration_of_number(n).flatten()
    }

    /// Whether the person whose ID in normal form is `n` has a household row of any status
    /// (`Some`), with their active household village if any: one lookup for both.
    pub(crate) fn registration_of_number(&self, n: u64) -> Option<Option<&str>> {
        let at = self.position_of_number(n)?;
        Some((at != NO_VILLAGE).then(|| self.villages[at as usize].as_str()))
    }

    /// The person's active household village.
    pub fn village(&self, id: &str) -> Option<&str> {
        let at = self.position(id).filter(|&at| at != NO_VILLAGE)?;
        Some(self.villages[at as usize].as_str())
    }

    /// Whether the person has a household row of any status.
    pub fn registered(&self, id: &str) -> bool {
        self.position(id).is_some()
    }
}

/// [`RegisteredPersons`] made of a registry read in pieces ([`PersonsBuilder::add`], in any
/// order): what [`RegisteredPersons::of`] makes of the pieces as one table.
#[derive(Debug, Default)]
pub(crate) struct PersonsBuilder {
    /// Per piece, each row's (mixed ID number, village position); the table is built from
    /// them all at [`PersonsBuilder::finish`].
    pieces: Vec<Vec<(u64, u32)>>,
    others: PlHashMap<String, u32>,
    villages: Vec<String>,
    positions: PlHashMap<String, u32>,
}

/// Keeps the smallest village code where a person has several active rows.
fn keep_smallest(villages: &[String], held: &mut u32, at: u32) {
    if at != NO_VILLAGE && (*held == NO_VILLAGE || villages[at as usize] < villages[*held as usize])
    {
        *held = at;
    }
}

impl PersonsBuilder {
    /// Adds the persons of `h`, a piece of the registry: each valid `person_id` at the
    /// smallest village code of its active rows (status rank 0 or 1) here and in the
    /// pieces before. `given`: the piece's `person_id`s as [`id_number`]s, one per row.
    pub(crate) fn add(
        &mut self,
        h: &Table,
        given: Option<&[Option<u64>]>,
    ) -> Result<(), ChecksError> {
        let err = ChecksError::frame(HOUSEHOLD);
        let rows = h
            .lazy()
            .select([
                h.valid_id("person_id").alias("__a_pid"),
                h.text("village").alias("__a_village"),
                status_rank(h).lt_eq(lit(1i32)).alias("__a_active"),
            ])
            .collect()
            .map_err(&err)?;
        let column = |name: &str| rows.column(name).map_err(&err);
        let (pids, villages_of, active) = (
            column("__a_pid")?.str().map_err(&err)?,
            column("__a_village")?.str().map_err(&err)?,
            column("__a_active")?.bool().map_err(&err)?,
        );
        let mut pairs = Vec::with_capacity(pids.len());
        for (((row, pid), village), active) in pids
            .iter()
            .enumerate()
            .zip(villages_of.iter())
            .zip(active.iter())
        {
            let at = match (village, active) {
                (Some(village), Some(true)) => match self.positions.get(village) {
                    Some(&at) => at,
                    None => {
                        let at = self.villages.len() as u32;
                        self.positions.insert(village.to_owned(), at);
                        self.villages.push(village.to_owned());
                        at
                    }
                },
                _ => NO_VILLAGE,
            };
            let Some(pid) = pid else { continue };
            let number = match given {
                Some(given) => given[row],
                None => id_number(pid),
            };
            match number {
                Some(n) => pairs.push((mix(n), at)),
                None => {
                    let held = match self.others.get_mut(pid) {
                        Some(held) => held,
                        None => self.others.entry(pid.to_owned()).or_insert(NO_VILLAGE),
                    };
                    keep_smallest(&self.villages, held, at);
                }
            }
        }
        self.pieces.push(pairs);
        Ok(())
    }

    pub(crate) fn finish(self) -> RegisteredPersons {
        let mut pairs = Vec::with_capacity(self.pieces.iter().map(Vec::len).sum());
        for piece in self.pieces {
            pairs.extend(piece);
        }
        let villages = self.villages;
        RegisteredPersons {
            numbers: NumberTable::build(pairs, |held, at| keep_smallest(&villages, held, at)),
            others: self.others,
            villages,
        }
    }
}

/// `f` of every item, the items taken in turn by as many threads as the machine has cores,
/// each in the calling span; the results in the items' order. A panic in `f` is resumed here.
pub(crate) fn on_cores<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(items.len())
        .max(1);
    let span = tracing::Span::current();
    let mut done: Vec<(usize, R)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let _span = span.enter();
                    let mut out = Vec::new();
                    loop {
                        let at = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(at) else { break };
                        out.push((at, f(item)));
                    }
                    out
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    done.sort_by_key(|(at, _)| *at);
    done.into_iter().map(|(_, r)| r).collect()
}

/// The value behind `m`'s lock (a cache: a thread that panicked holding it left it whole,
/// as nothing is inserted half-made).
pub(crate) fn locked<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Ctx<'_> {
    pub fn registered_persons(&self) -> Result<&RegisteredPersons, ChecksError> {
        // A registry narrowed before the checks brings its persons, made of every row.
        if let Some(rest) = self.input.household_rest {
            return Ok(&rest.persons);
        }
        if let Some(a) = self.persons.get() {
            return Ok(a);
        }
        let started = std::time::Instant::now();
        let built = match self.sources.get(HOUSEHOLD) {
            Some(h) => RegisteredPersons::of(h)?,
            None => RegisteredPersons::default(),
        };
        tracing::debug!(
            persons = built.numbers.len() + built.others.len(),
            seconds = started.elapsed().as_secs_f64(),
            "active household villages"
        );
        Ok(self.persons.get_or_init(|| built))
    }
}

/// Where every row of a source is attributed (domain.md §8.12), as the two columns
/// `__village` and `__birth` in the table's row order: the village of the birth the record
/// belongs to; otherwise the record's own village field, else the active household village
/// of the first of `persons` (valid ID fields) that has one. The birth each record belongs
/// to is joined (the births are few); the persons' villages are looked up in `active`.
pub(crate) fn attribute_rows(
    births: Option<&Table>,
    active: &RegisteredPersons,
    t: &Table,
    own_village: Option<&str>,
    persons: &[&str],
) -> Result<DataFrame, ChecksError> {
    let err = ChecksError::frame(&t.name);
    let n = t.df.height();
    let key_col = key_column(&t.name);
    let mut lf = t.lazy().select([col("__row"), col("__key")]);
    let belongs = match births {
        Some(b) if b.has(&key_col) => {
            let map = b
                .lazy()
                .filter(col(&key_col).is_not_null())
                .group_by([col(&key_col).alias("__bm_key")])
                .agg([
                    col("birth_id").min().alias("__bm_birth"),
                    col("village").min().alias("__bm_village"),
                ]);
            lf = lf.left_join(map, col("__key"), col("__bm_key"));
            true
        }
        _ => false,
    };
    let mut placed = if belongs {
        lf.select([col("__row"), col("__bm_birth"), col("__bm_village")])
            .sort(["__row"], SortMultipleOptions::default())
            .collect()
            .map_err(&err)?
    } else {
        t.lazy().select([col("__row")]).collect().map_err(&err)?
    };
    if placed.height() != n {
        return Err(ChecksError::Frame {
            table: t.name.clone(),
            message: format!("attribution made {} rows of {n}", placed.height()),
        });
    }
    let text = |c: &str| -> Result<Option<StringChunked>, ChecksError> {
        if !t.has(c) {
            return Ok(None);
        }
        let s = t.df.column(c).and_then(|c| c.cast(&DataType::String));
        Ok(Some(s.map_err(&err)?.str().map_err(&err)?.clone()))
    };
    let own = match own_village {
        Some(v) => text(v)?,
        None => None,
    };
    let mut village: Vec<Option<&str>> = match &own {
        Some(ca) => ca.iter().collect(),
        None => vec![None; n],
    };
    let ids = persons
        .iter()
        .map(|p| text(p))
        .collect::<Result<Vec<_>, _>>()?;
    for ca in ids.iter().flatten() {
        for (slot, id) in village.iter_mut().zip(ca.iter()) {
            if slot.is_none() {
                *slot = id.and_then(|id| active.village(id));
            }
        }
    }
    let fallback = StringChunked::from_iter_options("__fallback".into(), village.into_iter());
    placed.with_column(fallback.into_column()).map_err(&err)?;
    let out = if belongs {
        [
            when(col("__bm_birth").is_not_null())
                .then(col("__bm_village"))
                .otherwise(col("__fallback"))
                .alias("__village"),
            col("__bm_birth").alias("__birth"),
        ]
    } else {
        [
            col("__fallback").alias("__village"),
            null(DataType::String).alias("__birth"),
        ]
    };
    placed.lazy().select(out).collect().map_err(err)
}

/// A source's table with its key as text (`__key`) and its row number (`__row`).
pub(crate) fn prepare_source(id: &'static str, df: &DataFrame) -> Result<Table, ChecksError> {
    let key = key_field(id);
    if df.column(RECORD_KEY).is_err() && df.column(key).is_err() {
        return Err(ChecksError::MissingColumn {
            table: id.to_owned(),
            column: key.to_owned(),
            hint: "\nhint: pass the `records` table of `poprecon_ingest::ingest` for this source",
        });
    }
    let t = Table::new(id, df.clone())?;
    // Ingest's `record_key` is the key as written (domain.md §7); a table without it (built
    // by hand) gives its key field, for IDs the text as given.
    let key_expr = if t.has(RECORD_KEY) {
        t.text(RECORD_KEY)
    } else if key_is_id(id) {
        t.any_id(key)
    } else {
        t.text(key)
    };
    let df = t
        .lazy()
        .with_row_index("__row", None)
        .with_column(key_expr.alias("__key"))
        .collect()
        .map_err(ChecksError::frame(id))?;
    Table::new(id, df)
}

/// Household status rank (`poprecon_link::household_status_rank`): 0 and 1 are active.
fn status_rank(t: &Table) -> Expr {
    poprecon_link::household_status_rank(t.has("status"))
}

/// The births as the rules read them: the births stage's table
/// (`poprecon_link::birth_facts`, where every per-birth fact is made) with its dates as day
/// numbers under the short names the rules use, and `__anchor` (`source=key` of the birth's
/// first record, for stable discrepancy ids).
fn birth_facts(raw: &Table) -> Result<Table, ChecksError> {
    let b = raw;
    for column in FACT_COLUMNS {
        if !b.has(column) {
            return Err(ChecksError::MissingColumn {
                table: BIRTH_FACTS.to_owned(),
                column: (*column).to_owned(),
                hint: "\nhint: pass the `births` of `poprecon_link::birth_facts`",
            });
        }
    }
    let anchor = coalesce(
        &BIRTH_SOURCES
            .iter()
            .map(|s| concat_str([lit(format!("{s}=")), col(key_column(s))], "", false))
            .chain([concat_str([lit("birth="), col("birth_id")], "", false)])
            .collect::<Vec<_>>(),
    );
    let df = b
        .lazy()
        .with_columns([
            col("birth_id").cast(DataType::String),
            b.days("birth_date").alias("__date"),
            b.text("mother_id").alias("__mother"),
            b.days("hepb1_date").alias("__hepb1"),
            b.days("hospital_delivery_date").alias("__d_date"),
            b.text("hospital_delivery_outcome").alias("__d_outcome"),
            b.text("birth_certificate_place_type").alias("__c_place"),
            b.days("household_registration_date").alias("__h_reg"),
            col("household_registration_birth")
                .cast(DataType::Boolean)
                .alias("__h_reason_birth"),
            anchor.alias("__anchor"),
        ])
        .with_column(coalesce(&[b.days("household_date"), col("__date")]).alias("__h_birth"))
        .collect()
        .map_err(ChecksError::frame(BIRTH_FACTS))?;
    Table::new(BIRTH_FACTS, df)
}

/// Columns of the births stage the rules read.
const FACT_COLUMNS: &[&str] = &[
    "birth_id",
    "village",
    "floating",
    "birth_date",
    "mother_id",
    "hepb1_date",
    "hospital_delivery_date",
    "hospital_delivery_outcome",
    "birth_certificate_place_type",
    "household_date",
    "household_registration_date",
    "household_registration_birth",
    "sex_mismatch",
    "birth_date_mismatch",
    "mother_id_mismatch",
];
