//! Verification of the run's figures from outside the records: the villages' own returns
//! and the field teams' door-to-door checks (policy 三(四)–(五): 系统采集与第三方调查相结合,
//! 日常监管与现场核查互为补充).
//!
//! - [`returns`]: the returns file as a source ([`Returns`]) and [`compare`], reported R
//!   against record-derived D per area and indicator (D − R, the verification factor
//!   VF = D / R, numerator and denominator apart, an exact test, a flag outside the band).
//! - [`completeness`]: each birth-level source against Chapman's dual-system estimate
//!   ([`source_completeness`]) and the births no return counted ([`uncounted`]).
//! - [`sample`]: the stratified on-site sample ([`draw`]): strata village × flagged, LQAS or
//!   precision sizes, selection by a keyed hash, replacements, inclusion probabilities.
//! - [`readback`]: the filled checklists read back ([`read_back`]): per village the error
//!   rate with its Wilson interval, the LQAS decision, the field VF, Horvitz–Thompson totals
//!   and newly found births, and the reviewer decisions they make.
//! - [`stats`]: binomial tails and tests, [`LqasPlan`]'s α and β, [`Chapman`].
//!
//! Pure functions over frames: no IO (the binary reads the run folder and writes files).

pub mod completeness;
mod frame;
pub mod readback;
pub mod returns;
pub mod sample;
pub mod stats;
#[cfg(test)]
mod tests;

pub use completeness::{chapman_of, source_completeness, uncounted};
pub use readback::{Finding, ReadBack, read_back};
pub use returns::{Returns, compare};
pub use sample::{SampleConfig, SizeRule, checklist_rows, draw};
pub use stats::{Chapman, LqasPlan};

/// The settings of `[returns]` in a pipeline file (beyond where the file is).
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The counting basis of a return row that does not say (`residence`).
    pub basis: String,
    /// A year in a return (`2025`) is the statistical year 1 October 2024 – 30 September
    /// 2025 rather than the calendar year.
    pub statistical_year: bool,
    /// VF outside `[low, high]` is flagged (0.90–1.10, the WHO data-quality review's band).
    pub band: (f64, f64),
    /// The exact test is suppressed when a count it tests is below this (5).
    pub min_count: u64,
    /// A p-value below this is `significant` (0.05).
    pub alpha: f64,
    /// The two linked sources of the dual-system estimate: by default the birth
    /// certificates and the household registry, a health list and the public-security one,
    /// whose misses are nearer independent than two health lists' (certificates and
    /// vaccinations both miss the births the health system never saw; see the README's
    /// coverage figures).
    pub dual_system: (String, String),
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            basis: "residence".into(),
            statistical_year: false,
            band: (0.90, 1.10),
            min_count: 5,
            alpha: 0.05,
            dual_system: ("birth_certificate".into(), "household".into()),
        }
    }
}

impl Settings {
    /// Checks the settings; the message names the key at fault.
    pub fn validate(&self) -> Result<(), String> {
        if returns::resolve_basis(&self.basis).is_none() {
            return Err(format!(
                "`basis` must be `residence`, `household` or `occurrence`, not `{}`",
                self.basis
            ));
        }
        let (lo, hi) = self.band;
        if !(lo.is_finite() && hi.is_finite() && 0.0 < lo && lo <= 1.0 && 1.0 <= hi) {
            return Err("`band` must be `[low, high]` with 0 < low ≤ 1 ≤ high".into());
        }
        if !(0.0 < self.alpha && self.alpha < 1.0) {
            return Err("`alpha` must lie between 0 and 1".into());
        }
        let (a, b) = (&self.dual_system.0, &self.dual_system.1);
        for s in [a, b] {
            if !completeness::BIRTH_SOURCES.contains(&s.as_str()) {
                return Err(format!(
                    "`dual_system` names `{s}`; the birth-level sources are {}",
                    completeness::BIRTH_SOURCES
                        .map(|s| format!("`{s}`"))
                        .join(", ")
                ));
            }
        }
        if a == b {
            return Err("`dual_system` must name two different sources".into());
        }
        Ok(())
    }
}

/// Why verification failed: a run table without a column it needs, or a broken invariant.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("column `{column}`: {message}")]
    Column { column: String, message: String },
    #[error("{0}")]
    Invariant(String),
}

impl VerifyError {
    pub(crate) fn column(column: &str, e: polars::prelude::PolarsError) -> VerifyError {
        VerifyError::Column {
            column: column.to_owned(),
            message: e.to_string(),
        }
    }
}
