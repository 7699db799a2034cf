//! Discrepancy rules: what disagrees, where, in which records, and since when.
//!
//! The rule catalogue ([`CATALOGUE`], one [`RuleInfo`] per [`RuleId`]) holds the 22 rules of
//! domain.md §5 with their Chinese and English names and default [`Severity`]. A pipeline's
//! `[rules]` section deserialises into a [`ChecksConfig`]: per rule, `enabled`, `severity`
//! and its settings (grace periods, windows, tolerances, with domain.md's defaults), plus
//! the data team's [`LocalRule`]s, polars SQL queries over the linked births table.
//!
//! [`run_checks`] takes a [`CheckInput`] (the canonical source tables of ingest, the births
//! and contested links of linkage, `as_of`, the period, the division's village codes and
//! the reviewers' [`Decisions`]) and returns [`Checked`]:
//!
//! - `discrepancies`: one row per discrepancy ([`DISCREPANCY_COLUMNS`]), with a
//!   `discrepancy_id` derived from the rule, the field and the involved record keys (never
//!   from row order or from linkage's birth ids), so that the same discrepancy keeps its id
//!   from one night to the next;
//! - `village_discrepancies`: village × rule counts with the denominator the rule applies
//!   to, and the rate ([`VILLAGE_COLUMNS`]).
//!
//! [`apply_lifecycle`] compares a night's discrepancies with the previous night's: each is
//! `new` or `open` (keeping its `first_seen`), and those gone are carried once as
//! `resolved`. [`Decisions`] (`poprecon_model::decisions`, parsed once with the pipeline
//! file) are applied by [`apply_decisions`]: a decided discrepancy stays in the table, marked
//! with its decision, and leaves the work queue (`queued`). Linkage takes the `must_link` and
//! `cannot_link` decisions from the same value ([`Decisions::link_constraints`]).
//!
//! Rules read the records as ingest gives them; a rule whose sources the run does not read
//! (or that needs linked births when there are none) emits nothing. Record-level rules
//! (domain.md §8.13) and `id_number_conflict` cover every accepted record; the others cover
//! the period's births.
//! Outputs are sorted by key; the same input gives identical frames. This crate does no IO
//! and logs no person-level value.

mod catalogue;
mod config;
mod decisions;
mod error;
mod frames;
mod lifecycle;
mod narrow;
mod output;
mod records;
mod registry;
mod rules;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use chrono::NaiveDate;
use polars::prelude::*;

pub use catalogue::{CATALOGUE, RuleId, RuleInfo, Severity};
pub use config::{
    AmbiguousLinkSettings, BirthDateMismatchSettings, BirthWithoutHepb1Settings,
    BirthWithoutHouseholdRegistrationSettings, BirthWithoutRegistrationServiceSettings,
    CertificateWithoutDeliverySettings, ChecksConfig, ChildOrderMismatchSettings,
    DeliveryWithoutCertificateSettings, DeliveryWithoutPrenatalBookingSettings,
    DuplicateRecordSettings, HouseholdBirthWithoutCertificateSettings, IdNumberConflictSettings,
    InvalidValueSettings, LateHepb1Settings, LateHouseholdRegistrationSettings,
    LatePrenatalBookingSettings, LocalRule, MaternityClaimWithoutDeliverySettings,
    MotherIdMismatchSettings, OutOfPolicyBirthSettings, RegistrationWithoutMarriageSettings,
    SOURCES, SexMismatchSettings, StudentWithoutHouseholdRegistrationSettings,
};
pub use decisions::{
    Decision, DecisionError, DecisionKind, Decisions, LinkConstraint, RecordRef, apply_decisions,
    unmatched_decisions,
};
pub use error::ChecksError;
pub use lifecycle::apply_lifecycle;
pub use narrow::{
    NARROWED_AFTER_REGISTRY, NARROWED_SOURCES, SourceNarrowing, SourceRest, SourceScan,
    narrow_source,
};
pub use output::{DISCREPANCY_COLUMNS, VILLAGE_COLUMNS};
pub use registry::{HeldLines, HouseholdRest, HouseholdScan, Narrowing, narrow_household};

/// What the checks read. Build it with [`CheckInput::new`] and the `with_*` methods.
#[derive(Debug, Clone)]
pub struct CheckInput<'a> {
    /// The canonical tables of ingest (`SourceOutput::records`) by source id
    /// (`hospital_delivery`, `household`, …; see [`SOURCES`]).
    pub sources: BTreeMap<&'a str, &'a DataFrame>,
    /// `births` of the births stage (`poprecon_link::birth_facts`); `None` before linkage
    /// runs (only record-level rules then).
    pub births: Option<&'a DataFrame>,
    /// The stillbirths' deliveries of the births stage (`BirthFacts::stillbirths`), units
    /// of `delivery_without_prenatal_booking` (domain.md §8.4).
    pub stillbirths: Option<&'a DataFrame>,
    /// `ambiguous` of linkage (contested links), for `ambiguous_link`.
    pub ambiguous: Option<&'a DataFrame>,
    /// Date of the extracts.
    pub as_of: NaiveDate,
    /// Birth dates assessed, both ends included.
    pub period: (NaiveDate, NaiveDate),
    /// The division table's village codes: each gets a row per rule in
    /// `village_discrepancies`, zeros included. Empty: only villages seen in the data.
    pub villages: Vec<String>,
    /// Reviewers' decisions to apply.
    pub decisions: Option<&'a Decisions>,
    /// What the rules need of the household rows left out when `sources["household"]` was
    /// narrowed by [`narrow_household`]; `None` when it holds every row.
    pub household_rest: Option<&'a HouseholdRest>,
    /// Per source narrowed by [`SourceScan`] (marriage, social security), what the rules
    /// need of its rows left out; a source not here holds every row.
    pub source_rests: BTreeMap<&'a str, &'a SourceRest>,
}

impl<'a> CheckInput<'a> {
    pub fn new(as_of: NaiveDate, period: (NaiveDate, NaiveDate)) -> Self {
        CheckInput {
            sources: BTreeMap::new(),
            births: None,
            stillbirths: None,
            ambiguous: None,
            as_of,
            period,
            villages: Vec::new(),
            decisions: None,
            household_rest: None,
            source_rests: BTreeMap::new(),
        }
    }

    /// The household registry narrowed by [`narrow_household`]: its rows held (read by
    /// every rule as the registry) and what the rules need of the others.
    pub fn with_narrowed_household(mut self, held: &'a DataFrame, rest: &'a HouseholdRest) -> Self {
        self.sources.insert(frames::HOUSEHOLD, held);
        self.household_rest = Some(rest);
        self
    }

    /// A source narrowed by [`SourceScan`] (or [`narrow_source`]): its rows held (read by
    /// every rule as the source) and what the rules need of the others.
    pub fn with_narrowed_source(
        mut self,
        id: &'a str,
        held: &'a DataFrame,
        rest: &'a SourceRest,
    ) -> Self {
        self.sources.insert(id, held);
        self.source_rests.insert(id, rest);
        self
    }

    /// Adds a source's canonical table.
    pub fn with_source(mut self, id: &'a str, records: &'a DataFrame) -> Self {
        self.sources.insert(id, records);
        self
    }

    pub fn with_stillbirths(mut self, stillbirths: &'a DataFrame) -> Self {
        self.stillbirths = Some(stillbirths);
        self
    }

    pub fn with_births(mut self, births: &'a DataFrame) -> Self {
        self.births = Some(births);
        self
    }

    pub fn with_ambiguous(mut self, ambiguous: &'a DataFrame) -> Self {
        self.ambiguous = Some(ambiguous);
        self
    }

    pub fn with_villages(mut self, villages: impl IntoIterator<Item = String>) -> Self {
        self.villages = villages.into_iter().collect();
        self
    }

    pub fn with_decisions(mut self, decisions: &'a Decisions) -> Self {
        self.decisions = Some(decisions);
        self
    }
}

/// The two tables of a night's checks.
#[derive(Debug, Clone)]
pub struct Checked {
    /// One row per discrepancy ([`DISCREPANCY_COLUMNS`]), sorted by `rule_id` then
    /// `discrepancy_id`; `status` is `new` and `first_seen` is `as_of` until
    /// [`apply_lifecycle`] compares it with the previous night.
    pub discrepancies: DataFrame,
    /// One row per village and rule that ran ([`VILLAGE_COLUMNS`]), sorted by village then
    /// rule.
    pub village_discrepancies: DataFrame,
}

/// Runs every enabled rule over `input`.
pub fn run_checks(input: &CheckInput<'_>, cfg: &ChecksConfig) -> Result<Checked, ChecksError> {
    cfg.validate()?;
    if input.period.0 > input.period.1 {
        return Err(ChecksError::Config {
            key: "period".to_owned(),
            message: "starts after it ends".to_owned(),
        });
    }
    let _span = tracing::info_span!("checks").entered();
    let started = std::time::Instant::now();
    let ctx = frames::Ctx::new(input, cfg)?;
    tracing::debug!(seconds = started.elapsed().as_secs_f64(), "inputs prepared");
    let parts = rules::run_all(&ctx)?;
    let started = std::time::Instant::now();
    let (discrepancies, units) = output::assemble(parts, input.as_of)?;
    tracing::debug!(seconds = started.elapsed().as_secs_f64(), "assembled");
    let started = std::time::Instant::now();
    // The assembled table's decision columns are empty already: with no decision, nothing
    // to match (a province's 2.2 M rows took a second).
    let discrepancies = match input.decisions {
        Some(d) if !d.decisions.is_empty() => apply_decisions(&discrepancies, d)?,
        _ => discrepancies,
    };
    tracing::debug!(
        seconds = started.elapsed().as_secs_f64(),
        "decisions applied"
    );
    let started = std::time::Instant::now();
    let village_discrepancies = output::village_table(&discrepancies, units, &input.villages)?;
    tracing::debug!(seconds = started.elapsed().as_secs_f64(), "village table");
    tracing::info!(
        discrepancies = discrepancies.height(),
        villages = village_discrepancies.height(),
        "checked"
    );
    Ok(Checked {
        discrepancies,
        village_discrepancies,
    })
}
