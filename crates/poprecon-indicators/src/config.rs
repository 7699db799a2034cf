//! The `[indicators]` and `[assessment]` sections of a pipeline, with domain.md's defaults.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Deserialize;

use crate::IndicatorError;
use crate::catalogue::{CATALOGUE, indicator};

/// Counting basis (统计口径) of an indicator row (domain.md §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Basis {
    /// 现居住地: the birth's village of attribution (`births.village`).
    Residence,
    /// 户籍地: the mother's active household village.
    Household,
    /// 发生地: the village of the delivery's (else the certificate's) institution, from
    /// [`IndicatorConfig::institutions`].
    Occurrence,
}

impl Basis {
    pub fn as_str(self) -> &'static str {
        match self {
            Basis::Residence => "residence",
            Basis::Household => "household",
            Basis::Occurrence => "occurrence",
        }
    }
}

/// Level of an area: the words of `indicators.parquet`'s `level` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Jurisdiction,
    City,
    County,
    Township,
    Village,
}

impl Level {
    pub const ALL: [Level; 5] = [
        Level::Jurisdiction,
        Level::City,
        Level::County,
        Level::Township,
        Level::Village,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Jurisdiction => "jurisdiction",
            Level::City => "city",
            Level::County => "county",
            Level::Township => "township",
            Level::Village => "village",
        }
    }

    /// Length of the area code prefix of a village code (`None`: the jurisdiction's own).
    pub(crate) fn code_len(self) -> Option<usize> {
        match self {
            Level::Jurisdiction => None,
            Level::City => Some(4),
            Level::County => Some(6),
            Level::Township => Some(9),
            Level::Village => Some(12),
        }
    }
}

/// One indicator asked for by the pipeline. Only `id` is required; the names and
/// definitions default to the built-in catalogue's, `bases` to
/// [`IndicatorConfig::bases`], `target` to the catalogue's default target.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IndicatorSpec {
    pub id: String,
    pub name_zh: String,
    pub name_en: String,
    pub numerator: String,
    pub denominator: String,
    pub bases: Option<Vec<Basis>>,
    pub target: Option<f64>,
}

/// The `[indicators]` section.
///
/// ```toml
/// [indicators]
/// period = ["2024-10-01", "2025-09-30"]  # default: the run's period
/// low_n = 20
/// bases = ["residence"]
/// strict_threshold = 12.0
/// loose_threshold = 6.0
/// institutions = { "蚌埠市妇幼保健院" = "340302001001" }
/// [[indicators.catalogue]]
/// id = "hospital_delivery_rate"
/// bases = ["residence", "occurrence"]
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IndicatorConfig {
    /// Birth dates counted, both ends included, as `YYYY-MM-DD` text; `None`: the run's
    /// period (a calendar year by default; the MCH annual report uses 1 October to 30
    /// September). Births outside the run's period are not in `births` at all.
    pub period: Option<[String; 2]>,
    /// A rate whose denominator is below this is marked `low_n`.
    pub low_n: u32,
    /// Bases of every indicator that does not name its own.
    pub bases: Vec<Basis>,
    /// Match weight (log2 odds) at or above which a probabilistic link counts in the
    /// `numerator_strict` column of the coverage indicators.
    pub strict_threshold: f64,
    /// The same for `numerator_loose`. Only links the linkage made are in `births`, so a
    /// value at or below the linkage's `match_threshold` counts every link.
    pub loose_threshold: f64,
    /// `birth_certificate_rate` counts births born on or before as_of − this many days.
    pub certificate_after_days: i32,
    /// `household_registration_rate` counts births born on or before as_of − this.
    pub household_after_days: i32,
    /// `hepb1_timely_rate` counts births born on or before as_of − this.
    pub hepb1_after_days: i32,
    /// HepB dose 1 is timely when given at most this many days after the birth date (24 h
    /// read on dates: the same or the next day; a dose dated before the birth date is not
    /// late, so timely, as for `late_hepb1`).
    pub hepb1_within_days: i32,
    /// A booking is early before this many completed weeks of gestation.
    pub early_booking_weeks: i32,
    /// Institution name → 12-digit village code where it is, for the `occurrence` basis.
    pub institutions: BTreeMap<String, String>,
    /// Name of the jurisdiction's row (default: its code's name in the division table).
    pub jurisdiction_name: Option<String>,
    /// The indicators computed; default the 14 of the catalogue.
    pub catalogue: Vec<IndicatorSpec>,
    /// Data-quality metrics per source and village.
    pub dq: DqConfig,
}

impl Default for IndicatorConfig {
    fn default() -> Self {
        IndicatorConfig {
            period: None,
            low_n: 20,
            bases: vec![Basis::Residence],
            strict_threshold: 12.0,
            loose_threshold: 6.0,
            certificate_after_days: 30,
            household_after_days: 60,
            hepb1_after_days: 7,
            hepb1_within_days: 1,
            early_booking_weeks: 13,
            institutions: BTreeMap::new(),
            jurisdiction_name: None,
            catalogue: CATALOGUE
                .iter()
                .map(|i| IndicatorSpec {
                    id: i.id.to_owned(),
                    ..IndicatorSpec::default()
                })
                .collect(),
            dq: DqConfig::default(),
        }
    }
}

/// An indicator of the configuration with every default filled in.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Resolved {
    pub id: String,
    pub bases: Vec<Basis>,
}

impl IndicatorConfig {
    /// Checks the settings.
    pub fn validate(&self) -> Result<(), IndicatorError> {
        self.resolved().map(|_| ())
    }

    /// The period given here, if any.
    pub(crate) fn own_period(&self) -> Result<Option<(NaiveDate, NaiveDate)>, IndicatorError> {
        let Some([a, b]) = &self.period else {
            return Ok(None);
        };
        let parse = |s: &str| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
                IndicatorError::config("indicators.period", "expected two `YYYY-MM-DD` dates")
            })
        };
        let (a, b) = (parse(a)?, parse(b)?);
        if a > b {
            return Err(IndicatorError::Period);
        }
        Ok(Some((a, b)))
    }

    pub(crate) fn resolved(&self) -> Result<Vec<Resolved>, IndicatorError> {
        self.own_period()?;
        if self.bases.is_empty() {
            return Err(IndicatorError::config(
                "indicators.bases",
                "name at least one basis",
            ));
        }
        for (k, v) in [
            ("indicators.strict_threshold", self.strict_threshold),
            ("indicators.loose_threshold", self.loose_threshold),
        ] {
            if !v.is_finite() {
                return Err(IndicatorError::config(k, "must be a finite number"));
            }
        }
        if self.institutions.values().any(|c| !is_village(c)) {
            return Err(IndicatorError::config(
                "indicators.institutions",
                "every institution maps to a 12-digit village code",
            ));
        }
        let mut out: Vec<Resolved> = Vec::new();
        for spec in &self.catalogue {
            if indicator(&spec.id).is_none() {
                return Err(IndicatorError::config(
                    "indicators.catalogue.id",
                    format!(
                        "unknown indicator `{}`\nhint: one of {}",
                        spec.id,
                        CATALOGUE.map(|i| i.id).join(", ")
                    ),
                ));
            }
            if out.iter().any(|r| r.id == spec.id) {
                return Err(IndicatorError::config(
                    "indicators.catalogue.id",
                    format!("indicator `{}` is listed twice", spec.id),
                ));
            }
            let mut bases = spec.bases.clone().unwrap_or_else(|| self.bases.clone());
            bases.sort();
            bases.dedup();
            if bases.is_empty() {
                return Err(IndicatorError::config(
                    "indicators.catalogue.bases",
                    format!("indicator `{}` names no basis", spec.id),
                ));
            }
            out.push(Resolved {
                id: spec.id.clone(),
                bases,
            });
        }
        Ok(out)
    }
}

fn is_village(code: &str) -> bool {
    code.len() == 12 && code.bytes().all(|b| b.is_ascii_digit())
}

/// Data-quality metrics ([`crate::data_quality`]).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DqConfig {
    /// Source id → the fields whose completeness is measured.
    pub fields: BTreeMap<String, Vec<String>>,
    /// Source id → `[event date field, record date field, days]`: the lag measured and the
    /// most days that count as timely.
    pub timeliness: BTreeMap<String, Timeliness>,
}

/// One timeliness measure: days from `event` to `record`, timely when at most `days`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timeliness {
    pub event: String,
    pub record: String,
    pub days: i32,
}

impl Default for DqConfig {
    fn default() -> Self {
        let f = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let fields = [
            (
                "birth_registration",
                f(&["woman_id", "man_id", "child_order", "residence_village"]),
            ),
            (
                "prenatal_care",
                f(&[
                    "mother_id",
                    "booking_gestational_weeks",
                    "expected_delivery_date",
                    "residence_village",
                ]),
            ),
            (
                "hospital_delivery",
                f(&[
                    "mother_id",
                    "child_sex",
                    "outcome",
                    "plurality",
                    "birth_seq",
                    "institution",
                    "residence_village",
                ]),
            ),
            (
                "birth_certificate",
                f(&[
                    "child_name",
                    "child_sex",
                    "mother_id",
                    "institution",
                    "birth_place_type",
                    "issue_date",
                ]),
            ),
            (
                "vaccination",
                f(&[
                    "child_id",
                    "child_sex",
                    "mother_id",
                    "institution",
                    "residence_village",
                ]),
            ),
            (
                "household",
                f(&[
                    "sex",
                    "birth_date",
                    "household_no",
                    "relation_to_head",
                    "status",
                    "mother_id",
                ]),
            ),
        ]
        .into_iter()
        .map(|(s, v)| (s.to_owned(), v))
        .collect();
        let t = |event: &str, record: &str, days: i32| Timeliness {
            event: event.to_owned(),
            record: record.to_owned(),
            days,
        };
        let timeliness = [
            ("birth_certificate", t("birth_date", "issue_date", 30)),
            ("household", t("birth_date", "registration_date", 30)),
            ("vaccination", t("birth_date", "vaccination_date", 1)),
        ]
        .into_iter()
        .map(|(s, v)| (s.to_owned(), v))
        .collect();
        DqConfig { fields, timeliness }
    }
}

/// One assessed indicator: full credit (`weight` points) at `target`, none at `floor`,
/// linear between. A target below the floor means lower is better.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssessmentItem {
    pub indicator: String,
    pub weight: f64,
    pub target: f64,
    pub floor: f64,
}

/// A veto (一票否决): an area whose indicators satisfy `condition` is vetoed, for `reason`.
///
/// `condition` is a SQL expression (polars SQL) over the area's indicators: each indicator
/// id is its value, `<id>_numerator` and `<id>_denominator` its counts, e.g.
/// `sex_ratio_at_birth > 115` or `live_births >= 20 AND hepb1_timely_rate < 0.8`. An
/// expression that is null for an area (0/0) does not veto.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Veto {
    pub id: String,
    pub condition: String,
    pub reason: String,
    /// Levels it applies to; default county and township.
    #[serde(default = "assessed_levels")]
    pub levels: Vec<Level>,
}

fn assessed_levels() -> Vec<Level> {
    vec![Level::County, Level::Township]
}

/// The `[assessment]` section: the scheme of the target responsibility assessment.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AssessmentConfig {
    /// Levels scored; default county and township.
    pub levels: Vec<Level>,
    /// Basis of the indicators scored.
    pub basis: Basis,
    pub items: Vec<AssessmentItem>,
    pub vetoes: Vec<Veto>,
}

impl Default for AssessmentConfig {
    fn default() -> Self {
        let item = |indicator: &str, weight: f64, target: f64, floor: f64| AssessmentItem {
            indicator: indicator.to_owned(),
            weight,
            target,
            floor,
        };
        AssessmentConfig {
            levels: assessed_levels(),
            basis: Basis::Residence,
            items: vec![
                item("hospital_delivery_rate", 15.0, 0.98, 0.90),
                item("birth_certificate_rate", 15.0, 0.98, 0.90),
                item("household_registration_rate", 15.0, 0.95, 0.85),
                item("registration_service_rate", 10.0, 0.90, 0.70),
                item("prenatal_booking_rate", 10.0, 0.90, 0.70),
                item("early_prenatal_booking_rate", 10.0, 0.80, 0.60),
                item("hepb1_timely_rate", 10.0, 0.95, 0.85),
                item("policy_compliance_rate", 5.0, 0.95, 0.85),
                item("birth_info_accuracy_rate", 10.0, 0.98, 0.90),
            ],
            vetoes: vec![Veto {
                id: "sex_ratio_high".to_owned(),
                condition: "sex_ratio_at_birth > 115".to_owned(),
                reason: "出生人口性别比高于115".to_owned(),
                levels: vec![Level::County],
            }],
        }
    }
}

impl AssessmentConfig {
    /// Checks the scheme: known indicators, positive weights, target ≠ floor, vetoes that
    /// parse.
    pub fn validate(&self) -> Result<(), IndicatorError> {
        for it in &self.items {
            if indicator(&it.indicator).is_none() {
                return Err(IndicatorError::config(
                    "assessment.items.indicator",
                    format!("unknown indicator `{}`", it.indicator),
                ));
            }
            if !(it.weight.is_finite() && it.weight > 0.0) {
                return Err(IndicatorError::config(
                    "assessment.items.weight",
                    format!("the weight of `{}` must be positive", it.indicator),
                ));
            }
            if !(it.target.is_finite() && it.floor.is_finite()) || it.target == it.floor {
                return Err(IndicatorError::config(
                    "assessment.items.target",
                    format!(
                        "`{}` needs finite, different target and floor",
                        it.indicator
                    ),
                ));
            }
        }
        for v in &self.vetoes {
            polars::sql::sql_expr(&v.condition).map(drop).map_err(|_| {
                IndicatorError::config(
                    "assessment.vetoes.condition",
                    format!("veto `{}`: not a SQL expression", v.id),
                )
            })?;
        }
        Ok(())
    }
}
