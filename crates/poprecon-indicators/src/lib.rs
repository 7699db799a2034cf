//! Indicators, roll-ups and assessment scores (domain.md §6, §7, §8.21).
//!
//! [`compute`] turns the births stage's tables (`poprecon_link::birth_facts`: births and
//! stillbirths' deliveries, every per-birth fact made once) into `indicators.parquet`: per village, township, county, city and jurisdiction,
//! per counting [`Basis`], each indicator of the [`CATALOGUE`] with its numerator,
//! denominator, value, `low_n` mark and Wilson 95 % interval, and for the coverage
//! indicators the numerators at a strict and a loose match threshold. Villages are counted
//! from births; every higher level adds its villages' numerators and denominators, never
//! rates. Every area with at least one birth or delivery gets every indicator, 0/0
//! included (§8.21).
//!
//! [`drill_through`] gives the births behind each village row, [`data_quality`] the
//! completeness, invalid share and timeliness of each source per village, and [`assess`]
//! scores counties and townships by an [`AssessmentConfig`] (weights, targets, floors and
//! veto conditions written as SQL expressions over indicators).
//!
//! The settings are [`IndicatorConfig`] (the pipeline's `[indicators]` section) and
//! [`AssessmentConfig`] (`[assessment]`); the inputs are an [`IndicatorInput`] and the
//! division names in [`Divisions`]. Nothing here does IO or logs a person-level value.
//!
//! # Readings
//!
//! - A *delivery* (§8.4) is an accepted delivery row, live birth or stillbirth: a birth with
//!   a linked hospital delivery (one per child), or a stillbirth's delivery row dated in the
//!   period (one per key, the extra copy of a duplicate left out). The delivery indicators
//!   (`prenatal_booking_rate`, `early_prenatal_booking_rate`,
//!   `floating_prenatal_booking_rate`) count both; a stillbirth is no birth and counts in
//!   no other indicator. The births stage (`poprecon_link::birth_facts`) makes both units.
//! - Where a denominator is restricted (born on or before as_of − 30 d and the like), the
//!   numerator counts only births of the denominator, so that a rate never exceeds 1.
//! - `birth_info_accuracy_rate` counts the births stage's `mismatch`, the outcome the three
//!   mismatch rules report (one computation, one `tolerance_days`).
//! - Births without a village on a basis, or whose village code is not a 12-digit code
//!   under the jurisdiction, are in no row.
//! - Rates are fractions (0.98); `sex_ratio_at_birth` is boys per 100 girls, its interval
//!   Wilson's on the share of boys mapped to the ratio; `live_births` is a count with a
//!   null denominator and no interval.

mod assess;
mod catalogue;
mod compute;
mod config;
mod dq;
mod error;
pub mod order;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use chrono::NaiveDate;
use polars::prelude::*;

pub use assess::assess;
pub use catalogue::{CATALOGUE, Indicator, Membership, Unit, indicator};
pub use config::{
    AssessmentConfig, AssessmentItem, Basis, DqConfig, IndicatorConfig, IndicatorSpec, Level,
    Timeliness, Veto,
};
pub use dq::{data_quality, merge_data_quality, merge_data_quality_less};
pub use error::IndicatorError;

/// Names of the divisions, code → name: counties (6 digits), townships (9), villages (12).
#[derive(Debug, Clone, Copy)]
pub struct Divisions<'a> {
    pub counties: &'a BTreeMap<String, String>,
    pub townships: &'a BTreeMap<String, String>,
    pub villages: &'a BTreeMap<String, String>,
}

/// What indicators are computed from.
#[derive(Debug, Clone, Copy)]
pub struct IndicatorInput<'a> {
    /// The `births` table of the births stage (`poprecon_link::birth_facts`).
    pub births: &'a DataFrame,
    /// The stillbirths' deliveries of the births stage (`BirthFacts::stillbirths`): units
    /// of the delivery indicators besides the live births' deliveries (domain.md §8.4).
    pub stillbirths: Option<&'a DataFrame>,
    /// The canonical tables of ingest (accepted rows) by source id, for [`data_quality`]
    /// (the indicators read the births stage only).
    pub sources: &'a BTreeMap<String, DataFrame>,
    /// Date of the extracts.
    pub as_of: NaiveDate,
    /// The run's period (birth dates, both ends included).
    pub period: (NaiveDate, NaiveDate),
    /// Division code prefix of the jurisdiction (`3403` = Bengbu).
    pub jurisdiction: &'a str,
    pub divisions: Divisions<'a>,
}

/// `indicators.parquet` (domain.md §7): one row per level, area, indicator and basis,
/// sorted by level (jurisdiction first), `area_code`, `indicator_id`, `basis`.
///
/// Columns: `level`, `area_code`, `area_name`, `indicator_id`, `basis`, `numerator`,
/// `denominator` (Int64; null for `live_births`), `value` (Float64; null at 0/0), `low_n`
/// (denominator below [`IndicatorConfig::low_n`]), `ci_low`, `ci_high` (Wilson 95 %),
/// `numerator_strict`, `numerator_loose` (coverage indicators only, else null).
pub fn compute(
    input: &IndicatorInput<'_>,
    cfg: &IndicatorConfig,
) -> Result<DataFrame, IndicatorError> {
    let _span = tracing::info_span!("indicators").entered();
    let members = compute::membership_parts(input, cfg)?;
    let counts = compute::counts(members, input)?;
    let names = compute::names_frame(input, cfg)?;
    let df = compute::finish(counts, names, cfg.low_n)?;
    tracing::info!(rows = df.height(), "indicators computed");
    Ok(df)
}

/// The births behind every village row of [`compute`]: one row per indicator, basis and
/// birth in its numerator or denominator, with columns `indicator_id`, `basis`,
/// `area_code` (the village; null for a birth with no village on that basis, which counts
/// for the jurisdiction only), `birth_id` (null for a stillbirth's delivery, §8.4),
/// `hospital_delivery_key`, `in_numerator`, `in_denominator`, sorted in that order. A township's (county's …) births are the rows whose `area_code` starts with its
/// code; the jurisdiction's are all rows.
pub fn drill_through(
    input: &IndicatorInput<'_>,
    cfg: &IndicatorConfig,
) -> Result<DataFrame, IndicatorError> {
    let err = IndicatorError::frame("drill_through");
    let started = std::time::Instant::now();
    let rows = compute::membership_frame(input, cfg)?
        .filter(col("in_numerator").or(col("in_denominator")))
        .select([
            col("indicator_id"),
            col("basis"),
            col("area_code"),
            col("birth_id"),
            col("hospital_delivery_key"),
            col("in_numerator"),
            col("in_denominator"),
        ])
        .collect()
        .map_err(&err)?;
    tracing::debug!(
        rows = rows.height(),
        seconds = started.elapsed().as_secs_f64(),
        "drill rows made"
    );
    let started = std::time::Instant::now();
    let sorted = order::sorted(
        rows,
        &[
            "indicator_id",
            "basis",
            "area_code",
            "birth_id",
            "hospital_delivery_key",
        ],
    )
    .map_err(err)?;
    tracing::debug!(
        seconds = started.elapsed().as_secs_f64(),
        "drill rows sorted"
    );
    Ok(sorted)
}
