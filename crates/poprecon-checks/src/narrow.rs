//! The school, marriage and social-security records narrowed to the rows the night reads one
//! by one (issue #14), as the household registry is ([`crate::registry`]).
//!
//! A province's school, marriage and insurance extracts hold tens of millions of rows; the
//! night reads a few of them as rows: the records of the persons the health side names (a
//! mother's marriage, a couple's), the maternity claims, the pupils without an ID or without
//! a household row, and the rows a record-level rule may report. The others are read only
//! as units, each at the active household village of its person: [`SourceScan`] reads a
//! source in pieces, keeps what it decides by (a few numbers per row) and says which rows
//! are held ([`SourceScan::finish`]); [`SourceRest`] counts the others per village, so that
//! the rules give on the rows held what they give on the whole source.

use std::collections::BTreeMap;

use polars::prelude::*;

use crate::error::ChecksError;
use crate::frames::{
    MARRIAGE, RegisteredPersons, SCHOOL, SOCIAL_SECURITY, id_number, prepare_source,
};
use crate::records::{compared_columns, places, row_hashes, unique_key};
use crate::registry::{
    HeldLines, HouseholdRest, Known, RowPlaces, add_checked, repeated_values, text_hash,
};

/// The sources [`SourceScan`] narrows: the school records (scanned before the household
/// registry, whose scan reads their pupils without an ID, and decided after it: a pupil
/// with no household row is reported), the marriage and social-security records (read
/// after it, their rows placed by its persons).
pub const NARROWED_SOURCES: [&str; 3] = [SCHOOL, MARRIAGE, SOCIAL_SECURITY];

/// Of [`NARROWED_SOURCES`], those whose pieces are placed by the registry's persons as they
/// are read: read after the household registry.
pub const NARROWED_AFTER_REGISTRY: [&str; 2] = [MARRIAGE, SOCIAL_SECURITY];

/// What the rules need of a narrowed source's rows not held: the rows counted per village
/// (their person's active household village).
#[derive(Debug)]
pub struct SourceRest {
    /// Per village: `__all` (rows), and per ID field that `id_number_conflict` checks, the
    /// rows checked in it (`__<field>`).
    counts: DataFrame,
    /// Rows held and rows left out.
    pub held: usize,
    pub left: usize,
}

impl SourceRest {
    /// The rows left out as units of a rule over every record (`village`, `__n`).
    pub(crate) fn all_units(&self) -> PolarsResult<DataFrame> {
        units(&self.counts, "__all")
    }

    /// The rows left out that `id_number_conflict` checks in `field` (`village`, `__n`).
    pub(crate) fn checked_units(&self, field: &str) -> PolarsResult<DataFrame> {
        units(&self.counts, &format!("__{field}"))
    }
}

/// `counted` of a table of counts per village, as units (`village`, `__n`).
pub(crate) fn units(counts: &DataFrame, counted: &str) -> PolarsResult<DataFrame> {
    counts
        .select([PlSmallStr::from("village"), PlSmallStr::from(counted)])?
        .lazy()
        .select([col("village"), col(counted).alias("__n")])
        .collect()
}

/// What [`SourceScan::finish`] decides.
#[derive(Debug)]
pub struct SourceNarrowing {
    /// Per row scanned, in scan order, whether it is held.
    pub held: Vec<bool>,
    /// The rows held, by file and line.
    pub lines: HeldLines,
    pub rest: SourceRest,
}

/// A marriage or social-security source read in pieces, in file order
/// ([`SourceScan::add`]). A row is held when any of these holds (each what a stage reads by
/// row):
///
/// - marriage: one of its persons (`woman_id`, `man_id`), by the ID as valid or as given,
///   is named by the health side (the registry's `NAMING`) or is the mother of a registry
///   row in linkage's window: linkage's mothers' marriages, the couples of
///   `registration_without_marriage`;
/// - an ID of its persons is not in normal form, or it has no key;
/// - ingest flagged a field (`invalid_value`), or `id_number_conflict` finds a conflict;
/// - social security: it is a maternity claim (`maternity_claim_without_delivery`);
/// - school: its pupil has no valid ID (matched by the number or by name, sex and birth
///   date), or has no household row (`student_without_household_registration`);
/// - it may be a copy (`duplicate_record`): its key is on another row (where a key names one
///   record), or the fields copies are compared on hash as another row's.
///
/// A row left out therefore belongs to no birth and has no finding: the rules read it only
/// as a unit at its person's village, which [`SourceRest`] counts. A school's pieces are
/// scanned before the registry is read: [`SourceScan::finish`] decides and places them.
#[derive(Debug)]
pub struct SourceScan {
    source: &'static str,
    /// The ID fields whose persons place a row, and whether the key names one record.
    persons_fields: &'static [&'static str],
    unique_key: bool,
    /// Whom the health side names (marriage records only: no stage reads an insurance
    /// record by its person, but the maternity rule, which reads every claim).
    named: Option<PlHashSet<u64>>,
    /// The columns compared for copies, from the first piece.
    compared: Option<Vec<PlSmallStr>>,
    /// School records: per row, the pupil's valid ID as a number (`0`: none), decided and
    /// placed once the registry is read.
    pupil: Vec<u64>,
    /// Per row, in file order: the key's hash (`0`: none; where a key names one record),
    /// the compared fields' hash, held by its own fields.
    key: Vec<u64>,
    content: Vec<u64>,
    own: Vec<bool>,
    /// Per row, its persons' first active household village, its file and its line.
    places: RowPlaces,
    /// Per ID field `id_number_conflict` checks, whether each row is checked in it.
    checked: Vec<(&'static str, Vec<bool>)>,
}

impl SourceScan {
    /// A scan of `source` (one of [`NARROWED_SOURCES`]) knowing the other canonical tables
    /// (by source id) and the household registry narrowed (if the run has one), read
    /// before it; `None` for a source not narrowed.
    pub fn new(
        source: &str,
        others: &BTreeMap<String, DataFrame>,
        household: Option<&HouseholdRest>,
    ) -> Result<Option<SourceScan>, ChecksError> {
        let Some(&source) = NARROWED_SOURCES.iter().find(|s| **s == source) else {
            return Ok(None);
        };
        let (own_village, persons_fields) = places(source);
        debug_assert!(
            own_village.is_none(),
            "a narrowed source has no village field"
        );
        // Without a registry, every vaccinated child's IDs name a person.
        let window = household.map_or((i32::MIN, i32::MAX), |h| h.window);
        let named = match source {
            MARRIAGE => {
                let mut named = Known::of(others, window)?.named;
                if let Some(h) = household {
                    named.extend(&h.mothers);
                }
                Some(named)
            }
            _ => None,
        };
        Ok(Some(SourceScan {
            source,
            persons_fields,
            unique_key: unique_key(source),
            named,
            compared: None,
            pupil: Vec::new(),
            key: Vec::new(),
            content: Vec::new(),
            own: Vec::new(),
            places: RowPlaces::default(),
            checked: Vec::new(),
        }))
    }

    /// The source's id.
    pub fn source(&self) -> &'static str {
        self.source
    }

    /// Rows scanned.
    pub fn rows(&self) -> usize {
        self.own.len()
    }

    /// Reads the next piece (canonical rows, in file order), its rows placed by the
    /// persons of `household` (the registry narrowed, as for [`SourceScan::new`]). Returns,
    /// per row of the piece, whether it is likely held: by its own fields, or as a copy
    /// within the piece. A copy in another piece can hold a row too:
    /// [`SourceScan::finish`] says which rows are held in the end.
    pub fn add(
        &mut self,
        piece: &DataFrame,
        household: Option<&HouseholdRest>,
    ) -> Result<Vec<bool>, ChecksError> {
        let none = RegisteredPersons::default();
        let persons = household.map_or(&none, |h| &h.persons);
        let source = self.source;
        let err = ChecksError::frame(source);
        let t = prepare_source(source, piece)?;
        let n = t.df.height();
        let first = self.rows();
        let compared = compared_columns(&t);
        match &self.compared {
            None => self.compared = Some(compared.clone()),
            Some(c) if *c != compared => {
                return Err(ChecksError::Frame {
                    table: source.to_owned(),
                    message: "a piece has other columns than the first".to_owned(),
                });
            }
            Some(_) => {}
        }
        self.content
            .extend(row_hashes(&t.df, &compared).map_err(&err)?);
        let mut exprs = vec![
            col("__key"),
            t.text("invalid_fields").alias("__flags"),
            t.text("maternity_claim_date").alias("__claim"),
            t.text(SOURCE_FILE).alias("__file"),
            match t.has(SOURCE_LINE) {
                true => col(SOURCE_LINE).cast(DataType::UInt64),
                false => lit(NULL).cast(DataType::UInt64),
            }
            .alias("__line"),
        ];
        for (i, f) in self.persons_fields.iter().enumerate() {
            exprs.push(t.valid_id(f).alias(format!("__valid{i}")));
            exprs.push(t.text(&format!("{f}_input")).alias(format!("__input{i}")));
        }
        let columns = t.lazy().select(exprs).collect().map_err(&err)?;
        let text = |c: &str| -> Result<&StringChunked, ChecksError> {
            columns.column(c).map_err(&err)?.str().map_err(&err)
        };
        let (key, flags, claim, file) = (
            text("__key")?,
            text("__flags")?,
            text("__claim")?,
            text("__file")?,
        );
        let line = columns
            .column("__line")
            .map_err(&err)?
            .u64()
            .map_err(&err)?;
        let ids: Vec<(&StringChunked, &StringChunked)> = (0..self.persons_fields.len())
            .map(|i| Ok((text(&format!("__valid{i}"))?, text(&format!("__input{i}"))?)))
            .collect::<Result<_, ChecksError>>()?;
        let conflicts = add_checked(&mut self.checked, first == 0, source, &t)?;
        for i in 0..n {
            let k = key.get(i);
            self.key.push(match (self.unique_key, k) {
                (true, Some(k)) => text_hash(Some(k)).map_or(0, |h| h.get()),
                _ => 0,
            });
            let mut held = k.is_none()
                || flags.get(i).is_some()
                || claim.get(i).is_some()
                || conflicts.iter().any(|c| c[i]);
            let mut village = None;
            for (valid, input) in &ids {
                let (v, given) = (valid.get(i), input.get(i));
                let number = v.and_then(id_number);
                // An ID not in normal form, or given but not valid: read by its text.
                held |= (v.is_some() && number.is_none()) || (given.is_some() && v.is_none());
                if let Some(named) = &self.named {
                    held |= number.is_some_and(|id| named.contains(&id))
                        || given
                            .and_then(id_number)
                            .is_some_and(|id| named.contains(&id));
                }
                if village.is_none() {
                    village = number.and_then(|id| persons.village_of_number(id));
                }
                if source == SCHOOL {
                    // Matched by the student number or by name, sex and birth date.
                    held |= number.is_none();
                    self.pupil.push(number.unwrap_or(0));
                }
            }
            self.own.push(held);
            let at = self.places.village_at(village);
            self.places.push(at, file.get(i), line.get(i), source)?;
        }
        Ok(self.held_among(first..self.rows()))
    }

    /// Which of `rows` are held: by their own fields, or as copies among these rows.
    fn held_among(&self, rows: std::ops::Range<usize>) -> Vec<bool> {
        let keys = repeated_values(rows.clone().map(|i| self.key[i]).filter(|&k| k != 0));
        let contents = repeated_values(rows.clone().map(|i| self.content[i]));
        rows.map(|i| {
            self.own[i]
                || (self.key[i] != 0 && keys.contains(&self.key[i]))
                || contents.contains(&self.content[i])
        })
        .collect()
    }

    /// Which rows are held, in scan order, and the others counted per village (their
    /// persons' first active household village). `household`: the registry narrowed, if
    /// the run has one (a school's pupils are looked up in it here; the other sources'
    /// rows were placed as they were read).
    pub fn finish(
        mut self,
        household: Option<&HouseholdRest>,
    ) -> Result<SourceNarrowing, ChecksError> {
        let started = std::time::Instant::now();
        let err = ChecksError::frame(self.source);
        let n = self.rows();
        if self.source == SCHOOL {
            let none = RegisteredPersons::default();
            let persons = household.map_or(&none, |h| &h.persons);
            for i in 0..n {
                let pupil = self.pupil[i];
                if pupil == 0 {
                    continue;
                }
                // A pupil with no household row of any status: the rule fires.
                let registration = persons.registration_of_number(pupil);
                self.own[i] |= registration.is_none();
                if let Some(v) = registration.flatten() {
                    let at = self.places.village_at(Some(v));
                    self.places.place(i, at);
                }
            }
        }
        let held = self.held_among(0..n);
        // The rows left out, per village.
        let counts = self
            .places
            .rest_counts(&held, &self.checked)
            .map_err(&err)?;
        let lines = self.places.held_lines(&held);
        let kept = held.iter().filter(|h| **h).count();
        tracing::debug!(
            source = self.source,
            held = kept,
            left = n - kept,
            seconds = started.elapsed().as_secs_f64(),
            "source narrowed"
        );
        Ok(SourceNarrowing {
            held,
            lines,
            rest: SourceRest {
                counts,
                held: kept,
                left: n - kept,
            },
        })
    }
}

/// Ingest's columns of a row's file and line.
const SOURCE_FILE: &str = "source_file";
const SOURCE_LINE: &str = "source_line";

/// A narrowed source read whole: its rows held and what the rules need of the others.
/// `others` are the other canonical tables (by source id), `household` the registry
/// narrowed if the run has one. `None` for a source not narrowed.
pub fn narrow_source(
    source: &str,
    df: &DataFrame,
    others: &BTreeMap<String, DataFrame>,
    household: Option<&HouseholdRest>,
) -> Result<Option<(DataFrame, SourceRest)>, ChecksError> {
    let Some(mut scan) = SourceScan::new(source, others, household)? else {
        return Ok(None);
    };
    let err = ChecksError::frame(scan.source());
    scan.add(df, household)?;
    let SourceNarrowing { held, rest, .. } = scan.finish(household)?;
    let mask = BooleanChunked::from_slice("__held".into(), &held);
    let held = poprecon_ingest::shared_text(df.filter(&mask).map_err(&err)?).map_err(&err)?;
    Ok(Some((held, rest)))
}
