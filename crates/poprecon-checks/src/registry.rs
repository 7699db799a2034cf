//! The household registry narrowed to the rows linkage, the rules and the report read one by
//! one, with what the rules need of the others (issue #14).
//!
//! A city's registry holds millions of rows; the night reads a few percent of them as rows:
//! the children of the linkage window, the persons the health-side records name with their
//! children and households, and the rows a record-level rule may report. The others are read
//! only as counts and as the persons' lookup, made here of every row:
//! [`narrow_household`] keeps the first and summarises the second ([`HouseholdRest`]), so that
//! linkage, the checks and the report run on the rows held and give what they give on the
//! whole registry.

use std::collections::BTreeMap;
use std::num::NonZeroU64;

use polars::prelude::*;
use rayon::prelude::*;

use crate::error::ChecksError;
use crate::frames::{
    CERTIFICATE, DELIVERY, HOUSEHOLD, PRENATAL, PersonsBuilder, REGISTRATION, RegisteredPersons,
    SCHOOL, Table, VACCINATION, id_number, prepare_source,
};
use crate::records::id_field_checks;

/// The health-side sources whose persons are looked up in the registry, and their ID fields.
const NAMING: [(&str, &[&str]); 5] = [
    (REGISTRATION, &["woman_id", "man_id"]),
    (PRENATAL, &["mother_id"]),
    (DELIVERY, &["mother_id"]),
    (CERTIFICATE, &["mother_id", "father_id"]),
    (VACCINATION, &["child_id", "mother_id"]),
];

/// What the rules need of the household rows [`narrow_household`] did not hold: the
/// registry's persons (made of every row) and the rows counted per village.
#[derive(Debug)]
pub struct HouseholdRest {
    pub(crate) persons: RegisteredPersons,
    /// Per own `village` of the rows not held: `__all` (rows), and per ID field that
    /// `id_number_conflict` checks, the rows checked in it (`__<field>`).
    counts: DataFrame,
    /// The IDs (valid, and as given) of the mothers of linkage's window rows: the mothers
    /// of births the health side may not name.
    pub(crate) mothers: PlHashSet<u64>,
    /// Linkage's window (days since 1970, both ends in).
    pub(crate) window: (i32, i32),
    /// Rows held and rows left out.
    pub held: usize,
    pub left: usize,
}

impl HouseholdRest {
    /// The rows left out as units of a rule over every record (`village`, `__n`).
    pub(crate) fn all_units(&self) -> PolarsResult<DataFrame> {
        self.units("__all")
    }

    /// The rows left out that `id_number_conflict` checks in `field` (`village`, `__n`).
    pub(crate) fn checked_units(&self, field: &str) -> PolarsResult<DataFrame> {
        self.units(&format!("__{field}"))
    }

    fn units(&self, counted: &str) -> PolarsResult<DataFrame> {
        crate::narrow::units(&self.counts, counted)
    }
}

/// The household registry's rows that the night reads as rows, and what it needs of the
/// others. A row is held when any of these holds (each what a stage reads by row):
///
/// - its birth date lies in linkage's window (`poprecon_link::birth_window`) or is empty:
///   linkage's children (and the period's household births);
/// - its `person_id` or `mother_id` is that of a person a health-side record names
///   (`NAMING`, the ID as valid or as given) or of the mother of a window row, or its
///   `household_no` is such a person's: the mothers' rows (floating, household village),
///   their children's and their households' (birth order);
/// - its record key is not its valid ID in normal form, or its ID is on another row too
///   (`duplicate_record` compares the rows of one key, and a record of several rows stays
///   whole), or its `mother_id` is not in normal form;
/// - ingest flagged a field (`invalid_value`), or `id_number_conflict` finds a conflict in it;
/// - its name, sex and birth date are those of a pupil without a valid ID (the rule's
///   match).
///
/// A row left out therefore belongs to no birth, is the only row of its key and has no
/// finding: the rules read it only as a unit at its own village and as a registered person,
/// which [`HouseholdRest`] keeps. `sources` are the other canonical tables by source id; IDs
/// are compared as numbers (`id_number`). The registry read whole: [`HouseholdScan`] over
/// one piece.
pub fn narrow_household(
    household: &DataFrame,
    sources: &BTreeMap<String, DataFrame>,
    window: (i32, i32),
) -> Result<(DataFrame, HouseholdRest), ChecksError> {
    let err = ChecksError::frame(HOUSEHOLD);
    let mut scan = HouseholdScan::new(window);
    scan.add(household)?;
    let Narrowing { held, rest, .. } = scan.finish(sources)?;
    let held_mask = BooleanChunked::from_slice("__held".into(), &held);
    let held =
        poprecon_ingest::shared_text(household.filter(&held_mask).map_err(&err)?).map_err(&err)?;
    Ok((held, rest))
}

/// The household registry read in pieces, in file order ([`HouseholdScan::add`]), so that a
/// registry of millions of rows is never whole in memory: of each row it keeps what
/// [`narrow_household`] decides by (IDs as numbers, household numbers and names as hashes,
/// the tests a row passes on its own fields, its village, file and line), and of the
/// registry its persons' lookup. [`HouseholdScan::finish`] then says which rows are held,
/// as [`narrow_household`] does of the pieces as one table, and where they are: a second
/// read of the registry keeps those ([`Narrowing::lines`]).
#[derive(Debug)]
pub struct HouseholdScan {
    window: (i32, i32),
    /// Per row, in file order: valid `person_id` and `mother_id` as numbers.
    person: Vec<Option<NonZeroU64>>,
    mother: Vec<Option<NonZeroU64>>,
    /// Hashes of `household_no`, and of `name`, `sex` and `birth_date` (`None`: empty). The
    /// latter only when the other sources are not known while scanning: else a pupil's
    /// namesake is settled at once.
    household: Vec<Option<NonZeroU64>>,
    name: Vec<Option<NonZeroU64>>,
    /// Held by the row's own fields alone: in the window, a key that is not its valid ID,
    /// a `mother_id` not in normal form, a flag or an ID conflict; and, the other sources
    /// known, a person or mother they name, or a pupil's namesake.
    held: Vec<bool>,
    /// Per row, its own village, its file and its line.
    places: RowPlaces,
    /// Per ID field `id_number_conflict` checks, whether each row is checked in it.
    checked: Vec<(&'static str, Vec<bool>)>,
    /// The IDs (valid, and as given) of the mothers of the window's rows.
    window_mothers: PlHashSet<u64>,
    persons: PersonsBuilder,
    /// The other sources' part, when they were read before the registry
    /// ([`HouseholdScan::knowing`]).
    known: Option<Known>,
}

/// No village, no file.
pub(crate) const NONE: u32 = u32::MAX;

/// Ingest's columns of a row's file and line (`poprecon_ingest::SOURCE_FILE`,
/// `SOURCE_LINE`).
const SOURCE_FILE: &str = "source_file";
const SOURCE_LINE: &str = "source_line";

/// What [`HouseholdScan::finish`] decides.
#[derive(Debug)]
pub struct Narrowing {
    /// Per row scanned, in scan order, whether it is held.
    pub held: Vec<bool>,
    /// The rows held, by file and line (rows of pieces without ingest's file and line
    /// columns are not in it).
    pub lines: HeldLines,
    pub rest: HouseholdRest,
}

/// The rows [`HouseholdScan::finish`] holds, by file and line.
#[derive(Debug, Default)]
pub struct HeldLines {
    lines: BTreeMap<String, Vec<u64>>,
}

impl HeldLines {
    /// Of each file's lines held (any order).
    pub(crate) fn of(files: impl Iterator<Item = (String, Vec<u64>)>) -> HeldLines {
        let mut lines: BTreeMap<String, Vec<u64>> = files.collect();
        for l in lines.values_mut() {
            l.sort_unstable();
        }
        HeldLines { lines }
    }

    /// Whether the row at `line` of `file` (a path as ingest's `source_file` gives it) is
    /// held.
    pub fn holds(&self, file: &str, line: u64) -> bool {
        self.lines
            .get(file)
            .is_some_and(|lines| lines.binary_search(&line).is_ok())
    }

    /// The lines held of `file`, in order.
    pub fn of_file(&self, file: &str) -> &[u64] {
        self.lines.get(file).map_or(&[], Vec::as_slice)
    }

    /// Rows held.
    pub fn len(&self) -> usize {
        self.lines.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What a scan keeps to place each row and to find it again: its village's position, its
/// file's position and its line, in scan order.
#[derive(Debug, Default)]
pub(crate) struct RowPlaces {
    village: Vec<u32>,
    villages: Vec<String>,
    village_at: PlHashMap<String, u32>,
    file: Vec<u32>,
    line: Vec<u32>,
    files: Vec<String>,
    /// The last village and file seen (a source runs village by village, file by file).
    last_village: Option<u32>,
    last_file: Option<u32>,
}

impl RowPlaces {
    /// The position of `village` (`NONE`: none), a new one for a village not seen yet.
    pub(crate) fn village_at(&mut self, village: Option<&str>) -> u32 {
        let Some(v) = village else { return NONE };
        if let Some(last) = self.last_village
            && self.villages[last as usize] == v
        {
            return last;
        }
        let at = match self.village_at.get(v) {
            Some(&at) => at,
            None => {
                let at = self.villages.len() as u32;
                self.villages.push(v.to_owned());
                self.village_at.insert(v.to_owned(), at);
                at
            }
        };
        self.last_village = Some(at);
        at
    }

    /// The next row: its village's position ([`RowPlaces::village_at`]), its file and line
    /// (ingest's `source_file` and `source_line`) in `table`.
    pub(crate) fn push(
        &mut self,
        village: u32,
        file: Option<&str>,
        line: Option<u64>,
        table: &str,
    ) -> Result<(), ChecksError> {
        self.village.push(village);
        let at = match file {
            None => NONE,
            Some(f) => match self.last_file {
                Some(last) if self.files[last as usize] == f => last,
                _ => {
                    let at = match self.files.iter().position(|known| known == f) {
                        Some(at) => at as u32,
                        None => {
                            self.files.push(f.to_owned());
                            (self.files.len() - 1) as u32
                        }
                    };
                    self.last_file = Some(at);
                    at
                }
            },
        };
        self.file.push(at);
        let line = line.unwrap_or(0);
        self.line
            .push(u32::try_from(line).map_err(|_| ChecksError::Frame {
                table: table.to_owned(),
                message: format!("a file of more than {} lines", u32::MAX),
            })?);
        Ok(())
    }

    /// Places row `i` at `village` (a position of [`RowPlaces::village_at`]).
    pub(crate) fn place(&mut self, i: usize, village: u32) {
        self.village[i] = village;
    }

    /// The rows not `held`, counted per village: `village` (ordered by code, no village
    /// first), `__all` (rows), and per ID field in `checked` the rows checked in it
    /// (`__<field>`).
    pub(crate) fn rest_counts(
        &self,
        held: &[bool],
        checked: &[(&'static str, Vec<bool>)],
    ) -> PolarsResult<DataFrame> {
        // Counted per village position (the last slot: no village), then keyed by code.
        let slots = self.villages.len() + 1;
        let slot = |i: usize| match self.village[i] {
            NONE => slots - 1,
            at => at as usize,
        };
        let mut all: Vec<IdxSize> = vec![0; slots];
        let mut counted: Vec<Vec<IdxSize>> = vec![vec![0; slots]; checked.len()];
        for i in (0..held.len()).filter(|&i| !held[i]) {
            let at = slot(i);
            all[at] += 1;
            for (counts, (_, rows)) in counted.iter_mut().zip(checked) {
                counts[at] += IdxSize::from(rows[i]);
            }
        }
        let per_village: BTreeMap<Option<&str>, usize> = (0..slots)
            .filter(|&at| all[at] > 0)
            .map(|at| (self.villages.get(at).map(String::as_str), at))
            .collect();
        let mut columns = vec![
            Column::new(
                "village".into(),
                per_village.keys().copied().collect::<Vec<_>>(),
            ),
            Column::new(
                "__all".into(),
                per_village.values().map(|&at| all[at]).collect::<Vec<_>>(),
            ),
        ];
        for ((field, _), counts) in checked.iter().zip(&counted) {
            columns.push(Column::new(
                format!("__{field}").into(),
                per_village
                    .values()
                    .map(|&at| counts[at])
                    .collect::<Vec<_>>(),
            ));
        }
        DataFrame::new(per_village.len(), columns)
    }

    /// The `held` rows' lines, file by file.
    pub(crate) fn held_lines(&self, held: &[bool]) -> HeldLines {
        let mut by_file: Vec<Vec<u64>> = vec![Vec::new(); self.files.len()];
        for i in (0..held.len()).filter(|&i| held[i] && self.file[i] != NONE) {
            by_file[self.file[i] as usize].push(u64::from(self.line[i]));
        }
        HeldLines::of(self.files.iter().cloned().zip(by_file))
    }
}

/// The next piece's `id_number_conflict` checks of `t` (a piece of `source`): each ID
/// field's rows checked appended to `checked` (its fields set by the first piece, `first`),
/// and per field the rows in conflict returned.
pub(crate) fn add_checked(
    checked: &mut Vec<(&'static str, Vec<bool>)>,
    first: bool,
    source: &str,
    t: &Table,
) -> Result<Vec<Vec<bool>>, ChecksError> {
    let checks = id_field_checks(source, t).map_err(ChecksError::frame(source))?;
    if first {
        *checked = checks.iter().map(|(f, _)| (*f, Vec::new())).collect();
    }
    if checked.len() != checks.len() || checked.iter().zip(&checks).any(|((a, _), (b, _))| a != b) {
        return Err(ChecksError::Frame {
            table: source.to_owned(),
            message: "a piece has other ID fields than the first".to_owned(),
        });
    }
    let conflicts = checks.iter().map(|(_, c)| c.conflicts()).collect();
    for ((_, all), (_, c)) in checked.iter_mut().zip(&checks) {
        all.extend_from_slice(&c.checked);
    }
    Ok(conflicts)
}

/// What the other sources tell of the registry's rows: whom the health side names (the
/// ID as valid or as given, `NAMING`; of vaccination records, only those of children born
/// in linkage's window or of no birth date: the others are read as units, placed by the
/// persons' lookup, never by a registry row), and the pupils without a valid ID (the rule
/// matches them by name, sex and birth date), as hashes of those three.
#[derive(Debug, Default)]
pub(crate) struct Known {
    pub(crate) named: PlHashSet<u64>,
    pupils: PlHashSet<NonZeroU64>,
}

impl Known {
    pub(crate) fn of(
        sources: &BTreeMap<String, DataFrame>,
        window: (i32, i32),
    ) -> Result<Known, ChecksError> {
        let err = ChecksError::frame(HOUSEHOLD);
        let mut named = PlHashSet::new();
        for (source, fields) in NAMING {
            let Some(df) = sources.get(source) else {
                continue;
            };
            // A vaccinated child born outside the window links to no birth.
            let rows: Option<BooleanChunked> = match (source, df.column("birth_date")) {
                (VACCINATION, Ok(birth)) => {
                    let days = birth
                        .cast(&DataType::Date)
                        .and_then(|c| c.cast(&DataType::Int32))
                        .map_err(&err)?;
                    Some(
                        days.i32()
                            .map_err(&err)?
                            .iter()
                            .map(|d| d.is_none_or(|d| (window.0..=window.1).contains(&d)))
                            .collect(),
                    )
                }
                _ => None,
            };
            for f in fields
                .iter()
                .flat_map(|f| [(*f).to_owned(), format!("{f}_input")])
            {
                let Ok(c) = df.column(&f) else { continue };
                let c = c.cast(&DataType::String).map_err(&err)?;
                let ids = c.str().map_err(&err)?;
                match &rows {
                    Some(rows) => named.extend(
                        ids.iter()
                            .zip(rows.iter())
                            .filter(|(_, keep)| keep.unwrap_or(true))
                            .filter_map(|(id, _)| id.and_then(id_number)),
                    ),
                    None => named.extend(ids.iter().filter_map(|id| id.and_then(id_number))),
                }
            }
        }
        let mut pupils = PlHashSet::new();
        if let Some(s) = sources.get(SCHOOL) {
            let t = prepare_source(SCHOOL, s)?;
            let rows = t
                .lazy()
                .select([
                    t.valid_id("person_id").alias("__pid"),
                    t.text("name").alias("__n"),
                    t.int("sex").alias("__s"),
                    t.days("birth_date").alias("__b"),
                ])
                .collect()
                .map_err(&err)?;
            let column = |c: &str| rows.column(c).map_err(&err);
            let (pid, name) = (
                column("__pid")?.str().map_err(&err)?,
                column("__n")?.str().map_err(&err)?,
            );
            let (sex, birth) = (
                column("__s")?.i32().map_err(&err)?,
                column("__b")?.i32().map_err(&err)?,
            );
            for i in 0..rows.height() {
                if pid.get(i).is_none() {
                    pupils.extend(person_hash(name.get(i), sex.get(i), birth.get(i)));
                }
            }
        }
        Ok(Known { named, pupils })
    }
}

/// A hash of a person's name, sex and birth date (the same in every run), `None` unless
/// all three are given: what the pupils without an ID are matched by.
fn person_hash(name: Option<&str>, sex: Option<i32>, birth: Option<i32>) -> Option<NonZeroU64> {
    use std::hash::BuildHasher;
    let h = polars::polars_utils::aliases::PlFixedStateQuality::default()
        .hash_one((name?, sex?, birth?));
    Some(NonZeroU64::new(h).unwrap_or(NonZeroU64::MIN))
}

/// The values that occur more than once (found by sorting: cheaper than counting in a map).
pub(crate) fn repeated_values<T: Ord + Copy + std::hash::Hash + Send>(
    values: impl Iterator<Item = T>,
) -> PlHashSet<T> {
    let mut sorted: Vec<T> = values.collect();
    // On the pool: a province's registry gives 60 M IDs.
    sorted.par_sort_unstable();
    sorted
        .windows(2)
        .filter(|w| w[0] == w[1])
        .map(|w| w[0])
        .collect()
}

/// A text's hash, the same in every run (`None` for no text).
pub(crate) fn text_hash(text: Option<&str>) -> Option<NonZeroU64> {
    use std::hash::BuildHasher;
    let h = polars::polars_utils::aliases::PlFixedStateQuality::default().hash_one(text?);
    Some(NonZeroU64::new(h).unwrap_or(NonZeroU64::MIN))
}

impl HouseholdScan {
    /// A scan for linkage's window `window` (days since 1970, both ends in).
    pub fn new(window: (i32, i32)) -> Self {
        HouseholdScan {
            window,
            person: Vec::new(),
            mother: Vec::new(),
            household: Vec::new(),
            name: Vec::new(),
            held: Vec::new(),
            places: RowPlaces::default(),
            checked: Vec::new(),
            window_mothers: PlHashSet::new(),
            persons: PersonsBuilder::default(),
            known: None,
        }
    }

    /// The scan told the other canonical tables (by source id) before the registry is
    /// read, so that [`HouseholdScan::add`] can say which rows of each piece are likely
    /// held; [`HouseholdScan::finish`] then reads them from here.
    pub fn knowing(mut self, sources: &BTreeMap<String, DataFrame>) -> Result<Self, ChecksError> {
        self.known = Some(Known::of(sources, self.window)?);
        Ok(self)
    }

    /// Rows scanned.
    pub fn rows(&self) -> usize {
        self.person.len()
    }

    /// Reads the next piece of the registry (canonical rows, in file order). Returns, per
    /// row of the piece, whether it is likely held: held by what the piece and the other
    /// sources (if [`HouseholdScan::knowing`] them) tell, as [`HouseholdScan::finish`]
    /// decides of the whole registry. Rows of other pieces can change a row's lot (a
    /// household, a mother or an ID shared across pieces): `finish` says which rows are
    /// held in the end.
    pub fn add(&mut self, piece: &DataFrame) -> Result<Vec<bool>, ChecksError> {
        let err = ChecksError::frame(HOUSEHOLD);
        let t = prepare_source(HOUSEHOLD, piece)?;
        let n = t.df.height();
        let has = |c: &str| t.df.column(c).is_ok();
        let columns = t
            .lazy()
            .select([
                t.valid_id("person_id").alias("person_id"),
                t.valid_id("mother_id").alias("mother_id"),
                t.text("mother_id_input").alias("mother_id_input"),
                col("__key"),
                t.text("household_no").alias("household_no"),
                t.text("name").alias("name"),
                t.int("sex").alias("sex"),
                t.text("invalid_fields").alias("invalid_fields"),
                t.days("birth_date").alias("birth_date"),
                match has("village") {
                    true => col("village").cast(DataType::String),
                    false => lit(NULL).cast(DataType::String),
                }
                .alias("village"),
                match has(SOURCE_FILE) {
                    true => col(SOURCE_FILE).cast(DataType::String),
                    false => lit(NULL).cast(DataType::String),
                }
                .alias("file"),
                match has(SOURCE_LINE) {
                    true => col(SOURCE_LINE).cast(DataType::UInt64),
                    false => lit(NULL).cast(DataType::UInt64),
                }
                .alias("line"),
            ])
            .collect()
            .map_err(&err)?;
        let text = |c: &str| -> Result<&StringChunked, ChecksError> {
            columns.column(c).map_err(&err)?.str().map_err(&err)
        };
        let (person, mother, mother_input, key, household_no, name, flags, village, file) = (
            text("person_id")?,
            text("mother_id")?,
            text("mother_id_input")?,
            text("__key")?,
            text("household_no")?,
            text("name")?,
            text("invalid_fields")?,
            text("village")?,
            text("file")?,
        );
        let birth = columns
            .column("birth_date")
            .map_err(&err)?
            .i32()
            .map_err(&err)?;
        let line = columns.column("line").map_err(&err)?.u64().map_err(&err)?;
        let sex = columns.column("sex").map_err(&err)?.i32().map_err(&err)?;
        let pid: Vec<Option<u64>> = person.iter().map(|id| id.and_then(id_number)).collect();
        self.persons.add(&t, Some(&pid))?;
        let conflicts = add_checked(&mut self.checked, self.person.is_empty(), HOUSEHOLD, &t)?;
        let window = self.window;
        let first = self.person.len();
        for i in 0..n {
            let in_window = birth
                .get(i)
                .is_none_or(|d| (window.0..=window.1).contains(&d));
            let mid = mother.get(i).and_then(id_number);
            if in_window {
                self.window_mothers.extend(mid);
                self.window_mothers
                    .extend(mother_input.get(i).and_then(id_number));
            }
            let own_key = matches!((key.get(i), person.get(i), pid[i]),
                (Some(k), Some(p), Some(_)) if k == p);
            let name = person_hash(name.get(i), sex.get(i), birth.get(i));
            let known = match &self.known {
                Some(known) => {
                    let named = |id: Option<u64>| id.is_some_and(|id| known.named.contains(&id));
                    named(pid[i]) || named(mid) || name.is_some_and(|nm| known.pupils.contains(&nm))
                }
                None => {
                    self.name.push(name);
                    false
                }
            };
            self.held.push(
                in_window
                    || !own_key
                    || (mother.get(i).is_some() && mid.is_none())
                    || flags.get(i).is_some()
                    || conflicts.iter().any(|c| c[i])
                    || known,
            );
            self.person.push(pid[i].and_then(NonZeroU64::new));
            self.mother.push(mid.and_then(NonZeroU64::new));
            self.household.push(text_hash(household_no.get(i)));
            let at = self.places.village_at(village.get(i));
            self.places.push(at, file.get(i), line.get(i), HOUSEHOLD)?;
        }
        Ok(self.likely_held(first))
    }

    /// [`HouseholdScan::add`]'s guess for the rows from `first` on: `finish`'s tests, with
    /// the window's mothers, households and shared IDs of these rows alone.
    fn likely_held(&self, first: usize) -> Vec<bool> {
        let rows = first..self.person.len();
        let empty = Known::default();
        let known = self.known.as_ref().unwrap_or(&empty);
        self.held_among(
            rows,
            |id| known.named.contains(&id) || self.window_mothers.contains(&id),
            &known.pupils,
        )
    }

    /// Which of `rows` are held, `named` saying whom the other sources (and the window's
    /// children) name: a row's own tests, an ID on several of these rows, a named person or
    /// mother, a named person's household among these rows, a pupil's namesake.
    fn held_among(
        &self,
        rows: std::ops::Range<usize>,
        named: impl Fn(u64) -> bool + Sync,
        pupils: &PlHashSet<NonZeroU64>,
    ) -> Vec<bool> {
        let is_named = |id: &Option<NonZeroU64>| id.is_some_and(|id| named(id.get()));
        let households: PlHashSet<NonZeroU64> = rows
            .clone()
            .into_par_iter()
            .filter(|&i| is_named(&self.person[i]))
            .filter_map(|i| self.household[i])
            .collect::<Vec<_>>()
            .into_iter()
            .collect();
        let shared = repeated_values(rows.clone().filter_map(|i| self.person[i]));
        // Each row's tests on the pool, in row order.
        rows.into_par_iter()
            .map(|i| {
                self.held[i]
                    || self.person[i].is_some_and(|p| shared.contains(&p))
                    || is_named(&self.person[i])
                    || is_named(&self.mother[i])
                    || self.household[i].is_some_and(|h| households.contains(&h))
                    || self
                        .name
                        .get(i)
                        .copied()
                        .flatten()
                        .is_some_and(|nm| pupils.contains(&nm))
            })
            .collect()
    }

    /// Which rows are held, in scan order, and what the rules need of the others: what
    /// [`narrow_household`] gives of the pieces as one table. `sources` are the other
    /// canonical tables by source id.
    pub fn finish(
        mut self,
        sources: &BTreeMap<String, DataFrame>,
    ) -> Result<Narrowing, ChecksError> {
        let started = std::time::Instant::now();
        let err = ChecksError::frame(HOUSEHOLD);
        // Whom the health side names, and the mothers of the window's children: a person's
        // rows, her children's and her household's are read.
        let Known { mut named, pupils } = match self.known.take() {
            Some(known) => known,
            None => Known::of(sources, self.window)?,
        };
        named.extend(&self.window_mothers);
        let mothers = std::mem::take(&mut self.window_mothers);
        let n = self.person.len();
        let held_rows = self.held_among(0..n, |id| named.contains(&id), &pupils);

        // The rows left out, counted per own village (their attribution: they belong to
        // no birth, and the registry's rows are placed by their own village).
        let counts = self
            .places
            .rest_counts(&held_rows, &self.checked)
            .map_err(&err)?;
        let lines = self.places.held_lines(&held_rows);
        let held = held_rows.iter().filter(|h| **h).count();
        let rest = HouseholdRest {
            persons: self.persons.finish(),
            counts,
            mothers,
            window: self.window,
            held,
            left: n - held,
        };
        tracing::debug!(
            held = rest.held,
            left = rest.left,
            seconds = started.elapsed().as_secs_f64(),
            "household narrowed"
        );
        Ok(Narrowing {
            held: held_rows,
            lines,
            rest,
        })
    }
}
