//! Per-birth facts, the long membership frame, village counts and roll-ups.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate};
use polars::prelude::*;

use poprecon_model::SourceId;

use crate::catalogue::{Membership, indicator};

use crate::config::{Basis, IndicatorConfig, Level};
use crate::{IndicatorError, IndicatorInput};

/// Columns of `births` read here: the births stage's (`poprecon_link::birth_facts`), where
/// every per-birth fact is made, the mismatch outcome included.
const BIRTH_COLUMNS: [&str; 19] = [
    "birth_id",
    "birth_date",
    "child_sex",
    "village",
    "mother_household_village",
    "institution",
    "floating",
    "birth_order",
    "policy_limit",
    "hepb1_date",
    "sources",
    "prenatal_care_key",
    "prenatal_booking_weeks",
    "birth_registration_key",
    "hospital_delivery_key",
    "birth_certificate_key",
    "household_key",
    "vaccination_key",
    "mismatch",
];

/// Columns of the births stage's stillbirths read here.
const STILLBIRTH_COLUMNS: [&str; 8] = [
    "hospital_delivery_key",
    "delivery_date",
    "residence_village",
    "institution",
    "prenatal_care_key",
    "prenatal_booking_weeks",
    "prenatal_residence_village",
    "mother_household_village",
];

fn err(table: &str) -> impl Fn(PolarsError) -> IndicatorError {
    IndicatorError::frame(table)
}

fn has_col(df: &DataFrame, c: &str) -> bool {
    df.column(c).is_ok()
}

fn require(df: &DataFrame, table: &str, columns: &[&str]) -> Result<(), IndicatorError> {
    match columns.iter().find(|c| !has_col(df, c)) {
        Some(c) => Err(IndicatorError::MissingColumn {
            table: table.to_owned(),
            column: (*c).to_owned(),
        }),
        None => Ok(()),
    }
}

/// The effective period: the configuration's, else the run's.
pub(crate) fn period(
    input: &IndicatorInput<'_>,
    cfg: &IndicatorConfig,
) -> Result<(NaiveDate, NaiveDate), IndicatorError> {
    if input.period.0 > input.period.1 {
        return Err(IndicatorError::Period);
    }
    Ok(cfg.own_period()?.unwrap_or(input.period))
}

/// One row per birth of the period with every fact an indicator reads: the births stage's
/// table, with the occurrence village of its institution.
pub(crate) fn facts(
    input: &IndicatorInput<'_>,
    cfg: &IndicatorConfig,
) -> Result<LazyFrame, IndicatorError> {
    let births = input.births;
    require(births, "births", &BIRTH_COLUMNS)?;
    let (start, end) = period(input, cfg)?;
    let mut lf = births.clone().lazy().filter(col("birth_date").is_between(
        lit(start),
        lit(end),
        ClosedInterval::Both,
    ));
    // Optional link columns: a births table without weights counts every link.
    for s in SourceId::BIRTH_LEVEL {
        for (suffix, t) in [("method", DataType::String), ("weight", DataType::Float64)] {
            let c = format!("{}_{suffix}", s.id());
            if !has_col(births, &c) {
                lf = lf.with_column(lit(NULL).cast(t).alias(c));
            }
        }
    }
    Ok(lf.join(
        institutions_frame(cfg)?.lazy(),
        [col("institution")],
        [col("inst_name")],
        JoinArgs::new(JoinType::Left),
    ))
}

/// The stillbirths' deliveries of the births stage (domain.md §8.4) dated in the period,
/// the units the delivery indicators count besides the live births' deliveries. Columns:
/// `hospital_delivery_key`, `prenatal_care_key`, `prenatal_booking_weeks`, `floating`,
/// `village` (the delivery's residence, else the booking's, else the mother's active
/// household village: the steps of §4 a delivery has), `mother_household_village`,
/// `occurrence_village`. `None` without them.
pub(crate) fn stillbirths(
    input: &IndicatorInput<'_>,
    cfg: &IndicatorConfig,
) -> Result<Option<LazyFrame>, IndicatorError> {
    let Some(still) = input.stillbirths else {
        return Ok(None);
    };
    require(still, "stillbirths", &STILLBIRTH_COLUMNS)?;
    let (start, end) = period(input, cfg)?;
    Ok(Some(
        still
            .clone()
            .lazy()
            .filter(col("delivery_date").cast(DataType::Date).is_between(
                lit(start),
                lit(end),
                ClosedInterval::Both,
            ))
            .with_column(
                coalesce(&[
                    col("residence_village"),
                    col("prenatal_residence_village"),
                    col("mother_household_village"),
                ])
                .alias("village"),
            )
            .join(
                institutions_frame(cfg)?.lazy(),
                [col("institution")],
                [col("inst_name")],
                JoinArgs::new(JoinType::Left),
            )
            .select([
                col("hospital_delivery_key"),
                col("prenatal_care_key"),
                col("prenatal_booking_weeks"),
                col("floating"),
                col("village"),
                col("mother_household_village"),
                col("occurrence_village"),
            ]),
    ))
}

/// The institution → village table of the occurrence basis.
fn institutions_frame(cfg: &IndicatorConfig) -> Result<DataFrame, IndicatorError> {
    DataFrame::new(
        cfg.institutions.len(),
        vec![
            Column::new(
                "inst_name".into(),
                cfg.institutions.keys().cloned().collect::<Vec<_>>(),
            ),
            Column::new(
                "occurrence_village".into(),
                cfg.institutions.values().cloned().collect::<Vec<_>>(),
            ),
        ],
    )
    .map_err(err("institutions"))
}

/// Whether the birth has source `s`, counting a probabilistic link only at or above
/// `threshold` (the anchor and deterministic links always count).
fn has(s: &str, threshold: Option<f64>) -> Expr {
    let key = col(format!("{s}_key")).is_not_null();
    match threshold {
        None => key,
        Some(t) => key.and(
            col(format!("{s}_weight"))
                .is_null()
                .or(col(format!("{s}_method")).eq(lit("deterministic")))
                .or(col(format!("{s}_weight")).gt_eq(lit(t)))
                .fill_null(lit(false)),
        ),
    }
}

/// Numerator and denominator membership of a birth for an indicator, counting links at
/// `threshold` (see [`has`]).
fn membership(
    m: Membership,
    cfg: &IndicatorConfig,
    as_of: NaiveDate,
    threshold: Option<f64>,
) -> (Expr, Expr) {
    let born_by = |days: i32| col("birth_date").lt_eq(lit(as_of - Duration::days(days.into())));
    let key = |s: &str| col(format!("{s}_key")).is_not_null();
    let known_order = col("birth_order").is_not_null();
    let (num, den) = match m {
        Membership::LiveBirths => (lit(true), lit(false)),
        Membership::SexRatio => (col("child_sex").eq(lit(1)), col("child_sex").eq(lit(2))),
        Membership::HospitalDelivery => (has("hospital_delivery", threshold), lit(true)),
        Membership::BirthCertificate => {
            let den = born_by(cfg.certificate_after_days);
            (den.clone().and(has("birth_certificate", threshold)), den)
        }
        Membership::HouseholdRegistration => {
            let den = col("floating").not().and(born_by(cfg.household_after_days));
            (den.clone().and(has("household", threshold)), den)
        }
        Membership::RegistrationService => (key("birth_registration"), lit(true)),
        Membership::PrenatalBooking => {
            let den = key("hospital_delivery");
            (den.clone().and(key("prenatal_care")), den)
        }
        Membership::EarlyPrenatalBooking => {
            let den = key("hospital_delivery");
            let early = key("prenatal_care")
                .and(col("prenatal_booking_weeks").lt(lit(cfg.early_booking_weeks)));
            (den.clone().and(early), den)
        }
        Membership::Hepb1Timely => {
            let den = born_by(cfg.hepb1_after_days);
            let lag =
                col("hepb1_date").cast(DataType::Int32) - col("birth_date").cast(DataType::Int32);
            // Timely is not late (`late_hepb1`): a dose dated before the birth date (one of
            // the two dates is wrong) is not late, so it is timely.
            let timely = lag.lt_eq(lit(cfg.hepb1_within_days));
            (
                den.clone().and(has("vaccination", threshold)).and(timely),
                den,
            )
        }
        Membership::PolicyCompliance => (
            known_order.clone().and(
                col("policy_limit")
                    .is_null()
                    .or(col("birth_order").lt_eq(col("policy_limit"))),
            ),
            known_order,
        ),
        Membership::BirthInfoAccuracy => {
            let den = col("sources").gt_eq(lit(2));
            (den.clone().and(col("mismatch").not()), den)
        }
        Membership::FloatingBirthShare => (col("floating"), lit(true)),
        Membership::FloatingPrenatalBooking => {
            let den = col("floating").and(key("hospital_delivery"));
            (den.clone().and(key("prenatal_care")), den)
        }
        Membership::HigherOrderBirthShare => (col("birth_order").gt_eq(lit(3)), known_order),
    };
    (num.fill_null(lit(false)), den.fill_null(lit(false)))
}

fn area_column(basis: Basis) -> &'static str {
    match basis {
        Basis::Residence => "village",
        Basis::Household => "mother_household_village",
        Basis::Occurrence => "occurrence_village",
    }
}

/// One row per (indicator, basis, birth attributed to a village of the jurisdiction, or to
/// none: those count for the jurisdiction only):
/// `basis`, `indicator_id`, `area_code` (the village), `birth_id` (null for a stillbirth's
/// delivery), `hospital_delivery_key`, `in_numerator`, `in_denominator`,
/// `in_numerator_strict`, `in_numerator_loose`.
pub(crate) fn membership_frame(
    input: &IndicatorInput<'_>,
    cfg: &IndicatorConfig,
) -> Result<LazyFrame, IndicatorError> {
    concat(membership_parts(input, cfg)?, UnionArgs::default()).map_err(err("births"))
}

/// [`membership_frame`] in parts, one per indicator, basis and unit (births, stillbirths'
/// deliveries), each of one `indicator_id` and one `basis`: what is counted per part is
/// never the whole frame at once (a province's is 15 M rows).
pub(crate) fn membership_parts(
    input: &IndicatorInput<'_>,
    cfg: &IndicatorConfig,
) -> Result<Vec<LazyFrame>, IndicatorError> {
    let resolved = cfg.resolved()?;
    let facts = facts(input, cfg)?.cache();
    let stillbirths = stillbirths(input, cfg)?.map(LazyFrame::cache);
    let mut parts = Vec::new();
    let in_jurisdiction = |area: &Expr| {
        area.clone().is_null().or(area
            .clone()
            .str()
            .len_chars()
            .eq(lit(12u32))
            .and(area.clone().str().starts_with(lit(input.jurisdiction)))
            .fill_null(lit(false)))
    };
    for r in &resolved {
        let Some(declared) = indicator(&r.id) else {
            return Err(IndicatorError::config(
                "indicators.catalogue",
                format!("`{}` is not an indicator of the catalogue", r.id),
            ));
        };
        let m = declared.membership;
        let (num, den) = membership(m, cfg, input.as_of, None);
        let (strict, loose) = match m.linked_source() {
            Some(_) => (
                membership(m, cfg, input.as_of, Some(cfg.strict_threshold)).0,
                membership(m, cfg, input.as_of, Some(cfg.loose_threshold)).0,
            ),
            None => (
                lit(NULL).cast(DataType::Boolean),
                lit(NULL).cast(DataType::Boolean),
            ),
        };
        for basis in &r.bases {
            let area = col(area_column(*basis));
            parts.push(
                facts
                    .clone()
                    // A birth without a village on this basis (no attribution, a floating
                    // mother's household, an unknown institution) counts for the
                    // jurisdiction only.
                    .filter(in_jurisdiction(&area))
                    .select([
                        lit(basis.as_str()).alias("basis"),
                        lit(r.id.as_str()).alias("indicator_id"),
                        area.clone().alias("area_code"),
                        col("birth_id"),
                        col("hospital_delivery_key"),
                        num.clone().alias("in_numerator"),
                        den.clone().alias("in_denominator"),
                        strict.clone().alias("in_numerator_strict"),
                        loose.clone().alias("in_numerator_loose"),
                    ]),
            );
            // The stillbirths' deliveries: units of the delivery indicators, and of no
            // other, though their areas get a row of every indicator (§8.21).
            if let Some(still) = &stillbirths {
                let (num, den) = if m.counts_deliveries() {
                    (num.clone(), den.clone())
                } else {
                    (lit(false), lit(false))
                };
                parts.push(
                    still.clone().filter(in_jurisdiction(&area)).select([
                        lit(basis.as_str()).alias("basis"),
                        lit(r.id.as_str()).alias("indicator_id"),
                        area.alias("area_code"),
                        lit(NULL).cast(DataType::String).alias("birth_id"),
                        col("hospital_delivery_key"),
                        num.alias("in_numerator"),
                        den.alias("in_denominator"),
                        lit(NULL)
                            .cast(DataType::Boolean)
                            .alias("in_numerator_strict"),
                        lit(NULL)
                            .cast(DataType::Boolean)
                            .alias("in_numerator_loose"),
                    ]),
                );
            }
        }
    }
    if parts.is_empty() {
        return Err(IndicatorError::config(
            "indicators.catalogue",
            "name at least one indicator",
        ));
    }
    Ok(parts)
}

/// Names of the areas, code → name.
pub(crate) fn names_frame(
    input: &IndicatorInput<'_>,
    cfg: &IndicatorConfig,
) -> Result<DataFrame, IndicatorError> {
    let mut names: BTreeMap<&str, &str> = BTreeMap::new();
    for m in [
        input.divisions.counties,
        input.divisions.townships,
        input.divisions.villages,
    ] {
        for (k, v) in m {
            names.insert(k, v);
        }
    }
    let own = cfg
        .jurisdiction_name
        .as_deref()
        .or_else(|| names.get(input.jurisdiction).copied());
    if let Some(n) = own {
        names.insert(input.jurisdiction, n);
    }
    DataFrame::new(
        names.len(),
        vec![
            Column::new(
                "name_code".into(),
                names.keys().copied().collect::<Vec<_>>(),
            ),
            Column::new(
                "area_name".into(),
                names.values().copied().collect::<Vec<_>>(),
            ),
        ],
    )
    .map_err(err("divisions"))
}

/// Village counts rolled up to every level by adding numerators and denominators.
/// Village rows rolled up by code prefix: township (9 digits) and county (6) only where the
/// division table knows that area, city (4) always, and the jurisdiction over every row,
/// births without a village included. A village code the table does not know keeps its
/// own village row (domain.md §8.11).
pub(crate) fn counts(
    members: Vec<LazyFrame>,
    input: &IndicatorInput<'_>,
) -> Result<LazyFrame, IndicatorError> {
    let jurisdiction = input.jurisdiction;
    let known = |codes: &BTreeMap<String, String>| {
        lit(Series::new(
            "known".into(),
            codes.keys().cloned().collect::<Vec<_>>(),
        ))
        .implode(false)
    };
    let sum = |c: &str| col(c).cast(DataType::Int64).sum().alias(c);
    // Each part (one indicator and basis) counted on its own, then the counts put together.
    let per_part = members
        .into_iter()
        .map(|part| {
            part.group_by([col("basis"), col("indicator_id"), col("area_code")])
                .agg([
                    sum("in_numerator").alias("numerator"),
                    sum("in_denominator").alias("denominator"),
                    col("in_numerator_strict")
                        .cast(DataType::Int64)
                        .sum()
                        .alias("numerator_strict"),
                    col("in_numerator_loose")
                        .cast(DataType::Int64)
                        .sum()
                        .alias("numerator_loose"),
                ])
        })
        .collect::<Vec<_>>();
    // A stillbirths' part and its births' part share their groups: added up once more.
    let village = concat(per_part, UnionArgs::default())
        .map_err(err("indicators"))?
        .group_by([col("basis"), col("indicator_id"), col("area_code")])
        .agg([
            col("numerator").sum(),
            col("denominator").sum(),
            col("numerator_strict").sum(),
            col("numerator_loose").sum(),
        ])
        .cache();
    let mut levels = Vec::new();
    for (rank, level) in Level::ALL.iter().enumerate() {
        let code = match level.code_len() {
            Some(n) => col("area_code").str().slice(lit(0), lit(n as u64)),
            None => lit(jurisdiction.to_owned()),
        };
        let placed = match level {
            Level::Jurisdiction => lit(true),
            Level::County => code.clone().is_in(known(input.divisions.counties), false),
            Level::Township => code.clone().is_in(known(input.divisions.townships), false),
            Level::Village | Level::City => col("area_code").is_not_null(),
        };
        levels.push(
            village
                .clone()
                .filter(placed.fill_null(lit(false)))
                .with_column(code.alias("area_code"))
                .group_by([col("basis"), col("indicator_id"), col("area_code")])
                .agg([
                    col("numerator").sum(),
                    col("denominator").sum(),
                    col("numerator_strict").sum(),
                    col("numerator_loose").sum(),
                ])
                .with_columns([
                    lit(level.as_str()).alias("level"),
                    lit(rank as u32).alias("level_rank"),
                ]),
        );
    }
    concat(levels, UnionArgs::default()).map_err(err("indicators"))
}

/// z of a two-sided 95 % interval.
const Z95: f64 = 1.959_963_984_540_054;

/// Wilson score interval bounds of `x` successes in `n` trials (null when `n` is 0).
pub(crate) fn wilson(x: Expr, n: Expr) -> (Expr, Expr) {
    let z2 = Z95 * Z95;
    let nf = n.clone().cast(DataType::Float64);
    let p = x.cast(DataType::Float64) / nf.clone();
    let denom = lit(1.0) + lit(z2) / nf.clone();
    let centre = (p.clone() + lit(z2) / (lit(2.0) * nf.clone())) / denom.clone();
    let half = lit(Z95) / denom
        * (p.clone() * (lit(1.0) - p) / nf.clone() + lit(z2) / (lit(4.0) * nf.clone() * nf)).sqrt();
    let ok = n.gt(lit(0));
    let guard = |e: Expr| {
        when(ok.clone())
            .then(e)
            .otherwise(lit(NULL).cast(DataType::Float64))
    };
    (
        guard((centre.clone() - half.clone()).clip(lit(0.0), lit(1.0))),
        guard((centre + half).clip(lit(0.0), lit(1.0))),
    )
}

/// Value, `low_n` and interval of each row; the output columns in their order.
pub(crate) fn finish(
    counts: LazyFrame,
    names: DataFrame,
    low_n: u32,
) -> Result<DataFrame, IndicatorError> {
    let id = col("indicator_id");
    let is_count = id.clone().eq(lit("live_births"));
    let is_ratio = id.clone().eq(lit("sex_ratio_at_birth"));
    let num = col("numerator");
    let den = col("denominator");
    let null_f = || lit(NULL).cast(DataType::Float64);
    // The sex ratio's interval is Wilson's on the share of boys, mapped to boys per 100
    // girls.
    let (lo_p, hi_p) = wilson(num.clone(), num.clone() + den.clone());
    let (lo, hi) = wilson(num.clone(), den.clone());
    let to_ratio = |p: Expr| {
        when(p.clone().lt(lit(1.0)))
            .then(lit(100.0) * p.clone() / (lit(1.0) - p))
            .otherwise(null_f())
    };
    let coverage_ids = Series::new(
        "c".into(),
        crate::catalogue::CATALOGUE
            .iter()
            .filter(|i| i.membership.linked_source().is_some())
            .map(|i| i.id)
            .collect::<Vec<_>>(),
    );
    let coverage = |e: Expr| {
        when(
            id.clone()
                .is_in(lit(coverage_ids.clone()).implode(false), false),
        )
        .then(e)
        .otherwise(lit(NULL).cast(DataType::Int64))
    };
    let rate = |a: Expr, b: Expr| {
        when(b.clone().gt(lit(0)))
            .then(a.cast(DataType::Float64) / b.cast(DataType::Float64))
            .otherwise(null_f())
    };
    let df = counts
        .with_columns([when(is_count.clone())
            .then(lit(NULL).cast(DataType::Int64))
            .otherwise(den.clone())
            .alias("denominator")])
        .with_columns([
            when(is_count.clone())
                .then(num.clone().cast(DataType::Float64))
                .when(is_ratio.clone())
                .then(rate(lit(100) * num.clone(), den.clone()))
                .otherwise(rate(num.clone(), den.clone()))
                .alias("value"),
            when(is_count.clone())
                .then(lit(false))
                .otherwise(den.clone().lt(lit(low_n as i64)))
                .alias("low_n"),
            when(is_count.clone())
                .then(null_f())
                .when(is_ratio.clone())
                .then(to_ratio(lo_p))
                .otherwise(lo)
                .alias("ci_low"),
            when(is_count)
                .then(null_f())
                .when(is_ratio)
                .then(to_ratio(hi_p))
                .otherwise(hi)
                .alias("ci_high"),
            coverage(col("numerator_strict")).alias("numerator_strict"),
            coverage(col("numerator_loose")).alias("numerator_loose"),
        ])
        .join(
            names.lazy(),
            [col("area_code")],
            [col("name_code")],
            JoinArgs::new(JoinType::Left),
        )
        .sort(
            ["level_rank", "area_code", "indicator_id", "basis"],
            SortMultipleOptions::default(),
        )
        .select([
            col("level"),
            col("area_code"),
            col("area_name"),
            col("indicator_id"),
            col("basis"),
            col("numerator"),
            col("denominator"),
            col("value"),
            col("low_n"),
            col("ci_low"),
            col("ci_high"),
            col("numerator_strict"),
            col("numerator_loose"),
        ])
        .collect()
        .map_err(err("indicators"))?;
    Ok(df)
}
