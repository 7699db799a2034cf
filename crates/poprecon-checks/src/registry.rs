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

use polars::prelude::*;

use crate::error::ChecksError;
use crate::frames::{
    CERTIFICATE, DELIVERY, HOUSEHOLD, PRENATAL, REGISTRATION, RegisteredPersons, SCHOOL,
    VACCINATION, id_number, prepare_source,
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
        self.counts
            .select([PlSmallStr::from("village"), PlSmallStr::from(counted)])?
            .lazy()
            .select([col("village"), col(counted).alias("__n")])
            .collect()
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
/// - its name is that of a pupil without a valid ID (the rule's match by name, sex and birth
///   date).
///
/// A row left out therefore belongs to no birth, is the only row of its key and has no
/// finding: the rules read it only as a unit at its own village and as a registered person,
/// which [`HouseholdRest`] keeps. `sources` are the other canonical tables by source id; IDs
/// are compared as numbers (`id_number`).
pub fn narrow_household(
    household: &DataFrame,
    sources: &BTreeMap<String, DataFrame>,
    window: (i32, i32),
) -> Result<(DataFrame, HouseholdRest), ChecksError> {
    let started = std::time::Instant::now();
    let err = ChecksError::frame(HOUSEHOLD);
    let t = prepare_source(HOUSEHOLD, household)?;
    let n = t.df.height();
    // The registry's columns as the loop below reads them: IDs as numbers (`id_number`),
    // texts borrowed, dates as days.
    let columns = t
        .lazy()
        .select([
            t.valid_id("person_id").alias("person_id"),
            t.valid_id("mother_id").alias("mother_id"),
            t.text("mother_id_input").alias("mother_id_input"),
            col("__key"),
            t.text("household_no").alias("household_no"),
            t.text("name").alias("name"),
            t.text("invalid_fields").alias("invalid_fields"),
            t.days("birth_date").alias("birth_date"),
        ])
        .collect()
        .map_err(&err)?;
    let text = |c: &str| -> Result<&StringChunked, ChecksError> {
        columns.column(c).map_err(&err)?.str().map_err(&err)
    };
    let (person, mother, mother_input, key, household_no, name, flags) = (
        text("person_id")?,
        text("mother_id")?,
        text("mother_id_input")?,
        text("__key")?,
        text("household_no")?,
        text("name")?,
        text("invalid_fields")?,
    );
    let birth = columns
        .column("birth_date")
        .map_err(&err)?
        .i32()
        .map_err(&err)?;
    let numbers = |ids: &StringChunked| -> Vec<Option<u64>> {
        ids.iter().map(|id| id.and_then(id_number)).collect()
    };
    let (pid, mid) = (numbers(person), numbers(mother));
    let persons = RegisteredPersons::of_numbers(&t, Some(&pid))?;

    // Whom the health side names (the ID as valid or as given), and the mothers of the
    // window's children: a person's rows, her children's and her household's are read.
    let in_window: Vec<bool> = birth
        .iter()
        .map(|d| d.is_none_or(|d| (window.0..=window.1).contains(&d)))
        .collect();
    let mut named: PlHashSet<u64> = PlHashSet::new();
    for (source, fields) in NAMING {
        let Some(df) = sources.get(source) else {
            continue;
        };
        for f in fields
            .iter()
            .flat_map(|f| [(*f).to_owned(), format!("{f}_input")])
        {
            let Ok(c) = df.column(&f) else { continue };
            let c = c.cast(&DataType::String).map_err(&err)?;
            named.extend(
                c.str()
                    .map_err(&err)?
                    .iter()
                    .filter_map(|id| id.and_then(id_number)),
            );
        }
    }
    for (i, _) in in_window.iter().enumerate().filter(|(_, w)| **w) {
        named.extend(mid[i]);
        named.extend(mother_input.get(i).and_then(id_number));
    }
    let is_named = |id: &Option<u64>| id.is_some_and(|id| named.contains(&id));
    let households: PlHashSet<&str> = pid
        .iter()
        .zip(household_no.iter())
        .filter(|(p, _)| is_named(p))
        .filter_map(|(_, h)| h)
        .collect();
    // Keys of several rows: a key is held whole. A key that is not its row's valid ID (or a
    // row without one) is held as it is: such rows are few.
    let mut sorted: Vec<u64> = pid.iter().flatten().copied().collect();
    sorted.sort_unstable();
    let shared: PlHashSet<u64> = sorted
        .windows(2)
        .filter(|w| w[0] == w[1])
        .map(|w| w[0])
        .collect();
    drop(sorted);
    // The names of pupils without a valid ID: the rule matches them by name, sex and birth
    // date.
    let mut pupils: PlHashSet<String> = PlHashSet::new();
    if let Some(s) = sources.get(SCHOOL)
        && let Ok(names) = s.column("name")
    {
        let names = names.cast(&DataType::String).map_err(&err)?;
        let ids = match s.column("person_id") {
            Ok(c) => Some(c.cast(&DataType::String).map_err(&err)?),
            Err(_) => None,
        };
        let ids = ids.as_ref().map(|c| c.str()).transpose().map_err(&err)?;
        for (i, nm) in names.str().map_err(&err)?.iter().enumerate() {
            if let Some(nm) = nm
                && ids.is_none_or(|ids| ids.get(i).is_none())
            {
                pupils.insert(nm.to_owned());
            }
        }
    }
    let checks = id_field_checks(HOUSEHOLD, &t).map_err(&err)?;
    let conflicts: Vec<Vec<bool>> = checks.iter().map(|(_, c)| c.conflicts()).collect();
    let mut held_rows = vec![false; n];
    for (i, held) in held_rows.iter_mut().enumerate() {
        let own_key = match (key.get(i), person.get(i), pid[i]) {
            (Some(k), Some(p), Some(number)) => k == p && !shared.contains(&number),
            _ => false,
        };
        *held = in_window[i]
            || !own_key
            || is_named(&pid[i])
            || is_named(&mid[i])
            || (mother.get(i).is_some() && mid[i].is_none())
            || household_no.get(i).is_some_and(|h| households.contains(h))
            || flags.get(i).is_some()
            || name.get(i).is_some_and(|nm| pupils.contains(nm))
            || conflicts.iter().any(|c| c[i]);
    }
    let held_mask = BooleanChunked::from_slice("__held".into(), &held_rows);
    let held = compacted(household.filter(&held_mask).map_err(&err)?).map_err(&err)?;

    // The rows left out, counted per own village (their attribution: they belong to no
    // birth, and the registry's rows are placed by their own village).
    let left_mask = !&held_mask;
    let mut left: Vec<Column> = vec![match t.df.column("village") {
        Ok(c) => c.cast(&DataType::String).map_err(&err)?,
        Err(_) => Column::full_null("village".into(), n, &DataType::String),
    }];
    let mut sums = vec![len().alias("__all")];
    for (field, c) in &checks {
        let name = format!("__{field}");
        left.push(Column::new(name.as_str().into(), c.checked.as_slice()));
        sums.push(
            col(name.as_str())
                .cast(IDX_DTYPE)
                .sum()
                .cast(IDX_DTYPE)
                .alias(name.as_str()),
        );
    }
    let counts = DataFrame::new(n, left)
        .and_then(|df| df.filter(&left_mask))
        .map_err(&err)?
        .lazy()
        .group_by([col("village")])
        .agg(sums)
        .collect()
        .map_err(&err)?;
    let rest = HouseholdRest {
        persons,
        counts,
        held: held.height(),
        left: household.height() - held.height(),
    };
    tracing::debug!(
        held = rest.held,
        left = rest.left,
        seconds = started.elapsed().as_secs_f64(),
        "household narrowed"
    );
    Ok((held, rest))
}

/// `df` with its text columns' bytes copied into buffers of their own. A filtered text
/// column keeps the buffers of the column it was filtered from (polars' filter copies the
/// views, not the bytes): the rows held would otherwise keep every long text of the whole
/// registry (IDs, household numbers, file paths) resident for the rest of the night.
fn compacted(df: DataFrame) -> PolarsResult<DataFrame> {
    let height = df.height();
    let columns = df
        .into_columns()
        .into_iter()
        .map(|c| {
            if c.dtype() != &DataType::String {
                return Ok(c);
            }
            let ca = c.str()?;
            let own = StringChunked::from_chunk_iter(
                ca.name().clone(),
                ca.downcast_iter().map(|a| a.clone().gc()),
            );
            Ok(own.into_column())
        })
        .collect::<PolarsResult<Vec<Column>>>()?;
    DataFrame::new(height, columns)
}
