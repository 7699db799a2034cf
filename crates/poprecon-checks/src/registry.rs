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
    VACCINATION, prepare_source,
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
/// - its birth date lies in linkage's window (`birth_window`) or is empty: linkage's
///   children (and the period's household births);
/// - its `person_id`, `mother_id` or `household_no` is that of a person a health-side record
///   names (`NAMING`, the ID as valid or as given) or of a window row's mother, or of such a
///   person's household: the mothers' rows (floating, household village, birth order);
/// - its record key is empty or shared with another row (`duplicate_record` compares rows
///   of one key; a record of several rows stays whole);
/// - ingest flagged a field (`invalid_value`), or `id_number_conflict` finds a conflict in it;
/// - its name is that of a pupil without a valid ID (the rule's match by name, sex and birth
///   date).
///
/// A row left out therefore belongs to no birth, has a key of its own and no finding: the
/// rules read it only as a unit at its own village and as a registered person, which
/// [`HouseholdRest`] keeps. `sources` are the other canonical tables by source id.
pub fn narrow_household(
    household: &DataFrame,
    sources: &BTreeMap<String, DataFrame>,
    window: (i32, i32),
) -> Result<(DataFrame, HouseholdRest), ChecksError> {
    let started = std::time::Instant::now();
    let err = ChecksError::frame(HOUSEHOLD);
    let t = prepare_source(HOUSEHOLD, household)?;
    let persons = RegisteredPersons::of(&t)?;
    let has = |c: &str| t.has(c);

    // Whom the health side names, and the names of pupils without a valid ID.
    let mut named: Vec<LazyFrame> = Vec::new();
    for (source, fields) in NAMING {
        let Some(df) = sources.get(source) else {
            continue;
        };
        for f in fields
            .iter()
            .flat_map(|f| [(*f).to_owned(), format!("{f}_input")])
        {
            if df.column(&f).is_ok() {
                named.push(
                    df.clone()
                        .lazy()
                        .select([col(f).cast(DataType::String).alias("__id")]),
                );
            }
        }
    }
    let in_window = if has("birth_date") {
        let days = col("birth_date").cast(DataType::Date).cast(DataType::Int32);
        days.clone()
            .gt_eq(lit(window.0))
            .and(days.clone().lt_eq(lit(window.1)))
            .or(days.is_null())
    } else {
        lit(true)
    };
    for f in ["mother_id", "mother_id_input"]
        .into_iter()
        .filter(|f| has(f))
    {
        named.push(
            t.lazy()
                .filter(in_window.clone())
                .select([col(f).cast(DataType::String).alias("__id")]),
        );
    }
    let ids = if named.is_empty() {
        Series::new_empty("__id".into(), &DataType::String)
    } else {
        concat(named, UnionArgs::default())
            .map_err(&err)?
            .filter(col("__id").is_not_null())
            .unique(None, UniqueKeepStrategy::Any)
            .collect()
            .map_err(&err)?
            .column("__id")
            .map_err(&err)?
            .as_materialized_series()
            .clone()
    };
    let is_named = |c: &str| {
        if has(c) {
            col(c)
                .cast(DataType::String)
                .is_in(lit(ids.clone()).implode(false), false)
                .fill_null(lit(false))
        } else {
            lit(false)
        }
    };
    let households = if has("household_no") && has("person_id") {
        t.lazy()
            .filter(is_named("person_id").and(col("household_no").is_not_null()))
            .select([col("household_no").cast(DataType::String)])
            .unique(None, UniqueKeepStrategy::Any)
            .collect()
            .map_err(&err)?
            .column("household_no")
            .map_err(&err)?
            .as_materialized_series()
            .clone()
    } else {
        Series::new_empty("household_no".into(), &DataType::String)
    };
    let in_households = if has("household_no") {
        col("household_no")
            .cast(DataType::String)
            .is_in(lit(households).implode(false), false)
            .fill_null(lit(false))
    } else {
        lit(false)
    };
    let shared_keys = t
        .lazy()
        .group_by([col("__key")])
        .agg([len().alias("__rows")])
        .filter(col("__rows").gt(lit(1)))
        .select([col("__key")])
        .collect()
        .map_err(&err)?
        .column("__key")
        .map_err(&err)?
        .as_materialized_series()
        .clone();
    let shared = col("__key").is_null().or(col("__key")
        .is_in(lit(shared_keys).implode(false), false)
        .fill_null(lit(false)));
    let flagged = if has("invalid_fields") {
        col("invalid_fields").is_not_null()
    } else {
        lit(false)
    };
    let pupil_names = match sources.get(SCHOOL) {
        Some(s) if s.column("name").is_ok() && has("name") => {
            let valid = if s.column("person_id").is_ok() {
                col("person_id").is_null()
            } else {
                lit(true)
            };
            s.clone()
                .lazy()
                .filter(valid.and(col("name").is_not_null()))
                .select([col("name").cast(DataType::String)])
                .unique(None, UniqueKeepStrategy::Any)
                .collect()
                .map_err(&err)?
                .column("name")
                .map_err(&err)?
                .as_materialized_series()
                .clone()
        }
        _ => Series::new_empty("name".into(), &DataType::String),
    };
    let pupils = if has("name") {
        col("name")
            .cast(DataType::String)
            .is_in(lit(pupil_names).implode(false), false)
            .fill_null(lit(false))
    } else {
        lit(false)
    };
    let checks = id_field_checks(HOUSEHOLD, &t).map_err(&err)?;
    let mut conflict = vec![false; t.df.height()];
    for (_, c) in &checks {
        for (slot, hit) in conflict.iter_mut().zip(c.conflicts()) {
            *slot |= hit;
        }
    }
    let mut with_conflicts = t.df.clone();
    with_conflicts
        .with_column(Column::new("__conflict".into(), conflict))
        .map_err(&err)?;
    let by_rows = with_conflicts
        .lazy()
        .select([in_window
            .or(is_named("person_id"))
            .or(is_named("mother_id"))
            .or(in_households)
            .or(shared)
            .or(flagged)
            .or(pupils)
            .or(col("__conflict"))
            .alias("__held")])
        .collect()
        .map_err(&err)?;
    let held_mask = by_rows
        .column("__held")
        .map_err(&err)?
        .bool()
        .map_err(&err)?
        .clone();
    let held = household.filter(&held_mask).map_err(&err)?;

    // The rows left out, counted per own village (their attribution: they belong to no
    // birth, and the registry's rows are placed by their own village).
    let left_mask = !&held_mask;
    let mut counted = vec![
        t.text("village").alias("village"),
        lit(1 as IdxSize).alias("__all"),
    ];
    let mut frame = t.df.select(["__row"]).map_err(&err)?;
    for (field, c) in &checks {
        let name = format!("__{field}");
        frame
            .with_column(Column::new(name.as_str().into(), c.checked.as_slice()))
            .map_err(&err)?;
        counted.push(col(name.as_str()).cast(IDX_DTYPE).alias(name.as_str()));
    }
    let sum = |c: String| col(c.as_str()).sum().cast(IDX_DTYPE).alias(c.as_str());
    let mut sums = vec![sum("__all".to_owned())];
    sums.extend(checks.iter().map(|(f, _)| sum(format!("__{f}"))));
    if has("village") {
        frame
            .with_column(t.df.column("village").map_err(&err)?.clone())
            .map_err(&err)?;
    }
    let counts = frame
        .filter(&left_mask)
        .map_err(&err)?
        .lazy()
        .select(counted)
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
