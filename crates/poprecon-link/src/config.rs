//! The `[linkage]` section of a pipeline file.

use chrono::NaiveDate;
use serde::{Deserialize, Deserializer};

use crate::LinkError;

/// How records are linked into birth events, and how a birth's order and policy category
/// are read. Every key is optional; the defaults are those of domain.md §4.
///
/// ```toml
/// [linkage]
/// match_threshold = 6.0
/// date_tolerances = [1, 7]
///
/// [[linkage.blocking]]
/// on = ["mother_name"]
/// date_window = 7
///
/// ```
///
/// The policy limits and the attribution order have sections of their own:
/// [`PolicyConfig`] and [`AttributionConfig`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LinkConfig {
    /// Match weight (log2 odds that a candidate pair is one birth, the prior included) from
    /// which a probabilistic candidate is a link. Default `6.0`, a match probability of
    /// about 0.985. A probabilistic link also needs an identifying agreement (an ID within
    /// two digits, or a name within one edit): date, sex and village alone never make one.
    /// Deterministic pairs are linked whatever their weight.
    pub match_threshold: f64,
    /// Two candidates whose weights differ by no more than this are a tie
    /// (`ambiguous_link`). Default `1e-9`.
    pub tie_epsilon: f64,
    /// The two date tolerances of the birth-date comparison, in days: `exact`, within the
    /// first (`near`), within the second (`within`), `different`. Default `[1, 7]`.
    pub date_tolerances: [i32; 2],
    /// A probabilistic link never joins records whose birth dates lie further apart than
    /// this (a mother's two births in one period are months apart); a deterministic rule
    /// (same child ID) still can. Default `60`.
    pub max_date_gap_days: i32,
    /// Records born this many days outside the period still take part in linkage, so that
    /// a birth at the period's edge links to a record whose date is a day off. Only births
    /// whose date (domain.md §8.2) lies in the period are output. Default `7`.
    pub period_margin_days: i32,
    /// Candidate pairs: the union of these rules. Pairs that a deterministic rule could
    /// link (same valid mother ID and birth date, same valid child ID) are always
    /// candidates. Default: see [`BlockingRule::defaults`].
    pub blocking: Vec<BlockingRule>,
    /// Random record pairs drawn to estimate the u probabilities. Default `50000`.
    pub u_sample_pairs: u32,
    /// Seed of that draw. Default `20160101`.
    pub seed: u64,
    /// Upper bound on EM iterations for the m probabilities. Default `60`.
    pub em_max_iterations: u32,
    /// Weight, in pairs, of the default m probabilities that EM starts from (a Dirichlet
    /// prior): it keeps small areas' estimates sane. Default `10.0`.
    pub em_prior_pairs: f64,
    /// Replace the u probability of an exact name agreement by the name's frequency, so
    /// that a common name is weaker evidence than a rare one. Default `true`.
    pub term_frequency: bool,
    /// Where a birth is attributed: the first non-empty of these. Default: delivery,
    /// prenatal booking, vaccination, the child's household, the mother's active household.
    /// Set by the pipeline's own `[attribution]` section ([`AttributionConfig`]), not in
    /// `[linkage]`.
    #[serde(skip)]
    pub attribution: Vec<AttributionStep>,
    /// Prenatal booking of the mother within this many days before the birth. Default `300`.
    pub prenatal_window_days: i32,
    /// Birth registration of the mother within [birth − this, birth + `registration_days_after`].
    /// Default `730`.
    pub registration_days_before: i32,
    /// See `registration_days_before`. Default `90`.
    pub registration_days_after: i32,
    /// Whether the mother's deceased children count in the birth order. Default `true`.
    /// Set by `[policy]` ([`PolicyConfig`]).
    #[serde(skip)]
    pub count_deceased_children: bool,
    /// Whether a booking, birth registration or marriage whose woman's ID is damaged (an
    /// invalid ID within a few digits of the mother's) counts as hers. Default `false`:
    /// domain.md finds these records by the mother's ID, so a damaged ID finds nothing and
    /// is reported by `invalid_value`.
    pub damaged_mother_ids: bool,
    /// The effective-dated limits on a mother's children, keyed on the birth date.
    /// Default: 2 from 2016-01-01, 3 from 2021-05-31. Set by `[policy]` ([`PolicyConfig`]).
    #[serde(skip)]
    pub policy_limits: Vec<PolicyLimit>,
}

/// The pipeline's `[policy]` section: the birth-order policy of domain.md §4.
///
/// ```toml
/// [policy]
/// count_deceased_children = true
///
/// [[policy.limits]]
/// from = 2016-01-01
/// limit = 2
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyConfig {
    /// The effective-dated limits on a mother's children, keyed on the birth date.
    /// Default: 2 from 2016-01-01, 3 from 2021-05-31.
    pub limits: Vec<PolicyLimit>,
    /// Whether the mother's deceased children count in the birth order. Default `true`.
    pub count_deceased_children: bool,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        let d = LinkConfig::default();
        PolicyConfig {
            limits: d.policy_limits,
            count_deceased_children: d.count_deceased_children,
        }
    }
}

/// The pipeline's `[attribution]` section: where a birth is counted (domain.md §4, §8.11).
///
/// ```toml
/// [attribution]
/// order = ["hospital_delivery", "prenatal_care", "vaccination", "household", "mother_household"]
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AttributionConfig {
    /// The first non-empty of these steps gives a birth's village.
    pub order: Vec<AttributionStep>,
}

impl Default for AttributionConfig {
    fn default() -> Self {
        AttributionConfig {
            order: AttributionStep::DEFAULT_ORDER.to_vec(),
        }
    }
}

impl LinkConfig {
    /// This configuration with the `[policy]` and `[attribution]` sections applied.
    pub fn with_sections(mut self, policy: &PolicyConfig, attribution: &AttributionConfig) -> Self {
        self.policy_limits = policy.limits.clone();
        self.count_deceased_children = policy.count_deceased_children;
        self.attribution = attribution.order.clone();
        self
    }
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            match_threshold: 6.0,
            tie_epsilon: 1e-9,
            date_tolerances: [1, 7],
            max_date_gap_days: 60,
            period_margin_days: 7,
            blocking: BlockingRule::defaults(),
            u_sample_pairs: 50_000,
            seed: 20_160_101,
            em_max_iterations: 60,
            em_prior_pairs: 10.0,
            term_frequency: true,
            attribution: AttributionStep::DEFAULT_ORDER.to_vec(),
            prenatal_window_days: 300,
            registration_days_before: 730,
            registration_days_after: 90,
            count_deceased_children: true,
            damaged_mother_ids: false,
            policy_limits: vec![
                PolicyLimit {
                    from: NaiveDate::from_ymd_opt(2016, 1, 1).expect("a valid date"),
                    limit: Some(2),
                },
                PolicyLimit {
                    from: NaiveDate::from_ymd_opt(2021, 5, 31).expect("a valid date"),
                    limit: Some(3),
                },
            ],
        }
    }
}

impl LinkConfig {
    /// Checks the settings that serde cannot: the error names the key at fault.
    pub fn validate(&self) -> Result<(), LinkError> {
        let bad = |key: &str, message: &str| {
            Err(LinkError::Config {
                key: format!("linkage.{key}"),
                message: message.to_owned(),
            })
        };
        if !self.match_threshold.is_finite() {
            return bad("match_threshold", "must be a finite number");
        }
        if !(self.tie_epsilon >= 0.0 && self.tie_epsilon < 1.0) {
            return bad("tie_epsilon", "must be at least 0 and below 1");
        }
        let [near, within] = self.date_tolerances;
        if near < 1 || within < near {
            return bad(
                "date_tolerances",
                "must be two day counts, the first at least 1 and the second at least the first",
            );
        }
        if self.max_date_gap_days < within {
            return bad(
                "max_date_gap_days",
                "must be at least the second of `date_tolerances`",
            );
        }
        if !(0..=366).contains(&self.period_margin_days) {
            return bad("period_margin_days", "must be between 0 and 366");
        }
        for (i, rule) in self.blocking.iter().enumerate() {
            if rule.on.is_empty() {
                return bad(&format!("blocking[{i}].on"), "names no key");
            }
            if rule.date_window.is_some_and(|w| !(0..=366).contains(&w)) {
                return bad(
                    &format!("blocking[{i}].date_window"),
                    "must be between 0 and 366",
                );
            }
        }
        if self.u_sample_pairs == 0 {
            return bad("u_sample_pairs", "must be at least 1");
        }
        if !(self.em_prior_pairs >= 0.0 && self.em_prior_pairs.is_finite()) {
            return bad("em_prior_pairs", "must be a number of at least 0");
        }
        if self.attribution.is_empty() {
            return bad("attribution", "names no source");
        }
        for (key, days) in [
            ("prenatal_window_days", self.prenatal_window_days),
            ("registration_days_before", self.registration_days_before),
            ("registration_days_after", self.registration_days_after),
        ] {
            if !(0..=3650).contains(&days) {
                return bad(key, "must be between 0 and 3650 days");
            }
        }
        for pair in self.policy_limits.windows(2) {
            if pair[1].from <= pair[0].from {
                return bad("policy_limits", "must be in increasing order of `from`");
            }
        }
        if self.policy_limits.iter().any(|p| p.limit == Some(0)) {
            return bad(
                "policy_limits",
                "a `limit` must be at least 1; leave it out for a period without a limit",
            );
        }
        Ok(())
    }

    /// The limit in force on a date: `None` when no limit applies.
    pub fn limit_on(&self, date: NaiveDate) -> Option<i32> {
        self.policy_limits
            .iter()
            .rev()
            .find(|p| p.from <= date)
            .and_then(|p| p.limit)
    }
}

/// One rule of candidate generation: records agreeing on every key of `on` (and, with a
/// `date_window`, born within that many days of each other) are compared.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockingRule {
    pub on: Vec<BlockingKey>,
    /// Days; absent means the birth date is not part of the rule.
    #[serde(default)]
    pub date_window: Option<i32>,
}

impl BlockingRule {
    /// The default rules: the mother's valid ID; two of the three parts of her ID as typed
    /// (address, birth date, sequence and check: a typo leaves two parts intact) within 7
    /// days; her name within 7 days; the child's valid ID; the child's name within 7 days;
    /// the institution and the child's sex on the same day; the village on the same day.
    pub fn defaults() -> Vec<BlockingRule> {
        use BlockingKey as K;
        let rule = |on: &[K], date_window: Option<i32>| BlockingRule {
            on: on.to_vec(),
            date_window,
        };
        vec![
            rule(&[K::MotherId], None),
            rule(&[K::MotherIdHead], Some(7)),
            rule(&[K::MotherIdTail], Some(7)),
            rule(&[K::MotherIdEnds], Some(7)),
            rule(&[K::MotherName], Some(7)),
            rule(&[K::ChildId], None),
            rule(&[K::ChildName], Some(7)),
            rule(&[K::Institution, K::ChildSex], Some(0)),
            rule(&[K::Village], Some(0)),
        ]
    }
}

/// A value records can be blocked on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockingKey {
    /// The mother's valid ID.
    MotherId,
    /// Characters 1–14 of the mother's ID as typed (18 characters): address and birth date.
    MotherIdHead,
    /// Characters 7–18: birth date, sequence and check.
    MotherIdTail,
    /// Characters 1–6 and 15–18: address, sequence and check.
    MotherIdEnds,
    MotherName,
    /// The child's valid ID (household, vaccination).
    ChildId,
    ChildName,
    Institution,
    /// The first 6 digits of the record's village (residence or household).
    County,
    Village,
    ChildSex,
}

/// A step of the attribution order (domain.md §4, §8.11).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttributionStep {
    /// The delivery's `residence_village`.
    HospitalDelivery,
    /// The linked prenatal booking's `residence_village`.
    PrenatalCare,
    /// The vaccination child's `residence_village`.
    Vaccination,
    /// The child's household `village`.
    Household,
    /// The mother's active household `village`.
    MotherHousehold,
}

impl AttributionStep {
    pub const DEFAULT_ORDER: [AttributionStep; 5] = [
        AttributionStep::HospitalDelivery,
        AttributionStep::PrenatalCare,
        AttributionStep::Vaccination,
        AttributionStep::Household,
        AttributionStep::MotherHousehold,
    ];

    /// The name written in the `village_source` column.
    pub fn as_str(self) -> &'static str {
        match self {
            AttributionStep::HospitalDelivery => "hospital_delivery",
            AttributionStep::PrenatalCare => "prenatal_care",
            AttributionStep::Vaccination => "vaccination",
            AttributionStep::Household => "household",
            AttributionStep::MotherHousehold => "mother_household",
        }
    }
}

/// From `from` on (birth dates), a mother may have `limit` children; no `limit` means none
/// is in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyLimit {
    #[serde(deserialize_with = "date_setting")]
    pub from: NaiveDate,
    #[serde(default)]
    pub limit: Option<i32>,
}

/// A date written as a TOML date (`2016-01-01`) or a string (`"2016-01-01"`).
fn date_setting<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Repr {
        Toml(toml::value::Datetime),
        Text(String),
    }
    let text = match Repr::deserialize(d)? {
        Repr::Toml(t) => t.to_string(),
        Repr::Text(s) => s,
    };
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| {
        serde::de::Error::custom(format!("must be a date like `2016-01-01`, not `{text}`"))
    })
}
