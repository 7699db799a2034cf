//! Birth events: the delivery, the birth certificate, the household record and the
//! vaccination record of one live-born child recognised as one event (domain.md §4).
//!
//! [`link`] takes the canonical tables of ingest in a [`LinkInput`] and a [`LinkConfig`]
//! (the pipeline's `[linkage]` section) and returns a [`LinkOutput`]:
//!
//! - `births`: one row per birth event of the period, with each source's record key, how
//!   each record was linked and with what match weight, the birth's date and sex, its
//!   mother's records (prenatal booking, birth registration, marriage), village, floating
//!   flag, computed birth order and policy category;
//! - `links`: for every linked record, each comparison's level and weight, so that an
//!   analyst can see why two records were joined;
//! - `ambiguous`: contested links (equal best weights: `ambiguous_link`), never silently
//!   resolved;
//! - `duplicates`: extra copies of one event left out of linkage;
//! - `diagnostics`: per village and source, the share of records linked;
//! - `model`: the estimated m and u probabilities and weights of each stage.
//!
//! # Method
//!
//! Live deliveries start the births; certificates, household children (rows born in the
//! period) and vaccinated children (dose rows grouped by `child_code`) are linked to them
//! in turn, each unlinked record starting a birth of its own. In each stage:
//!
//! 1. candidate pairs come from blocking rules ([`BlockingRule`]: same mother ID, half of
//!    the mother's ID as typed, mother's or child's name, institution or county, within a
//!    few days);
//! 2. each pair is compared field by field (mother ID digits, names by character and by
//!    pinyin, sex, birth date and time, institution, child and father ID, village); a
//!    record is compared with every record the birth already has;
//! 3. Fellegi–Sunter: u probabilities from random pairs, m probabilities and the prior by
//!    EM over the candidate pairs, weights log2(m/u), an exact name weighted by its
//!    frequency;
//! 4. one-to-one assignment by decreasing weight: first the deterministic pairs (same valid
//!    mother ID and birth date; same valid child ID), then the others at or above
//!    [`LinkConfig::match_threshold`]. Twins are told apart by sex, birth time and names;
//!    equal weights are reported in `ambiguous`. Reviewers' decisions come first: a
//!    `cannot_link` pair is never a candidate, a `must_link` pair is linked before any
//!    other ([`link_with_decisions`]).
//!
//! Every output is sorted by its key, and the same input in any row order gives the same
//! tables. No person-level value is logged.

mod births;
mod compare;
mod config;
mod decisions;
mod error;
mod facts;
mod model;
mod mothers;
mod output;
mod prepare;
mod stage;
#[cfg(test)]
mod tests;

use chrono::NaiveDate;
use polars::prelude::*;
use poprecon_model::LinkConstraint;

pub use config::{
    AttributionConfig, AttributionStep, BlockingKey, BlockingRule, LinkConfig, PolicyConfig,
    PolicyLimit,
};
pub use error::LinkError;
pub use facts::{BirthFacts, FactSettings, birth_facts, household_status_rank, stillbirths};

use crate::compare::Tolerances;
use crate::model::TermFreq;
use crate::prepare::{Name, Prepared, Src, epoch_days};
use crate::stage::Ctx;

/// The canonical tables (the `records` of `poprecon_ingest::ingest`) linkage reads, and the
/// run's dates. A source that is absent is `None`.
#[derive(Debug, Clone, Copy)]
pub struct LinkInput<'a> {
    pub hospital_delivery: Option<&'a DataFrame>,
    pub birth_certificate: Option<&'a DataFrame>,
    pub household: Option<&'a DataFrame>,
    pub vaccination: Option<&'a DataFrame>,
    pub prenatal_care: Option<&'a DataFrame>,
    pub birth_registration: Option<&'a DataFrame>,
    pub marriage: Option<&'a DataFrame>,
    /// Date of the extracts.
    pub as_of: NaiveDate,
    /// Birth dates assessed, both ends included.
    pub period: (NaiveDate, NaiveDate),
    /// Division code prefix of the jurisdiction (`3403` = Bengbu).
    pub jurisdiction: &'a str,
}

impl<'a> LinkInput<'a> {
    /// The input of a night: each source's canonical table looked up by its id (`None`:
    /// the pipeline does not read it).
    pub fn from_tables(
        table: impl Fn(&str) -> Option<&'a DataFrame>,
        as_of: NaiveDate,
        period: (NaiveDate, NaiveDate),
        jurisdiction: &'a str,
    ) -> Self {
        use poprecon_model::SourceId as S;
        let get = |s: S| table(s.id());
        LinkInput {
            hospital_delivery: get(S::HospitalDelivery),
            birth_certificate: get(S::BirthCertificate),
            household: get(S::Household),
            vaccination: get(S::Vaccination),
            prenatal_care: get(S::PrenatalCare),
            birth_registration: get(S::BirthRegistration),
            marriage: get(S::Marriage),
            as_of,
            period,
            jurisdiction,
        }
    }
}

/// The tables linkage produces. Each is sorted by its key.
#[derive(Debug, Clone)]
pub struct LinkOutput {
    /// One row per birth event of the period (domain.md §8.1), sorted by `birth_id`:
    ///
    /// - `birth_id`: `B` + 16 hex digits, derived from the source and key of the birth's
    ///   first record in the order delivery, certificate, household, vaccination;
    /// - for each `S` of `hospital_delivery`, `birth_certificate`, `household`,
    ///   `vaccination`: `S_key` (the record key, null if absent), `S_method` (`anchor` for
    ///   the record the birth started from, `deterministic`, `probabilistic`), `S_weight`
    ///   (match weight, log2 odds; null for the anchor);
    /// - `birth_certificate_other_keys`: reissued or replacement certificates of the child,
    ///   `;`-separated (domain.md §8.20);
    /// - `prenatal_care_key`, `birth_registration_key`, `marriage_key`: the mother's records
    ///   of this birth (§8.3), found by her valid ID;
    /// - `sources`: how many of the four birth-level sources the birth has;
    /// - `mother_id`: the first valid mother ID of delivery, certificate, household,
    ///   vaccination;
    /// - `birth_date` (with `birth_date_source`), `birth_time`, `child_sex`: the first
    ///   available in that order (§8.2); `plurality`, `birth_seq`: the delivery's;
    /// - `village`, `village_source`: attribution (§4, §8.11); `in_jurisdiction`;
    /// - `floating` (§8.8; also when no valid mother ID is known), `birth_order` (§8.9,
    ///   null when undetermined), `policy_limit`, `policy_category` (§8.10);
    /// - `hepb1_date`: the earliest HepB dose 1 of the linked vaccination child.
    pub births: DataFrame,
    /// One row per record linked to a birth (the anchors excepted): `birth_id`, `source`,
    /// `key`, `method`, `match_weight`, and for each comparison `<name>_level` and
    /// `<name>_weight` (`null` level: no value on one side, weight 0).
    pub links: DataFrame,
    /// Contested links: `contested_source`, `contested_key`, `contested_birth_id`, `stage`,
    /// `kind` (`tie`: the contested record matched each candidate equally well, the rule
    /// `ambiguous_link`; `outweighed`: the winning and the losing candidate), the
    /// candidate's `candidate_source`, `candidate_key`, `candidate_birth_id`, its
    /// `match_weight`, and whether it was `linked`.
    pub ambiguous: DataFrame,
    /// Extra copies of one event left out of linkage: `source`, `key`, `source_line`,
    /// `kept_key` (the smaller key), `reason` (`same_key`, `same_content`).
    pub duplicates: DataFrame,
    /// Per village of attribution and source: `births`, `records` of the source among them,
    /// `linked` (to another source), `deterministic`, `probabilistic`, `unlinked`,
    /// `linked_share`.
    pub diagnostics: DataFrame,
    /// Per stage, comparison and level: `m`, `u`, `weight`, `candidate_pairs`.
    pub model: DataFrame,
    /// One row per reviewer's linkage decision: `line`, `decision` (`must_link`,
    /// `cannot_link`), `source`, `key`, `other_source`, `other_key`, `outcome` (`applied`;
    /// `record_not_found` when a record is not a birth-level record of the period;
    /// `same_source`; `conflicts_with_earlier_decision`).
    pub decisions: DataFrame,
}

/// The birth dates linkage reads records of, as days since 1970-01-01, both ends included:
/// the period widened by `period_margin_days` on each side. A household row whose birth
/// date lies outside it (and is not empty) is never one of linkage's children.
pub fn birth_window(period: (NaiveDate, NaiveDate), cfg: &LinkConfig) -> (i32, i32) {
    let margin = cfg.period_margin_days;
    (epoch_days(period.0) - margin, epoch_days(period.1) + margin)
}

/// Links the birth-level records of `input` into birth events.
pub fn link(input: &LinkInput<'_>, cfg: &LinkConfig) -> Result<LinkOutput, LinkError> {
    link_with_decisions(input, cfg, &[])
}

/// [`link`], honouring reviewers' `must_link` and `cannot_link` decisions: a `cannot_link`
/// pair is never linked; a `must_link` pair is linked (method `decision`) before any other
/// link of the later record's stage. [`LinkOutput::decisions`] says what became of each.
pub fn link_with_decisions(
    input: &LinkInput<'_>,
    cfg: &LinkConfig,
    decisions: &[LinkConstraint],
) -> Result<LinkOutput, LinkError> {
    cfg.validate()?;
    if input.period.0 > input.period.1 {
        return Err(LinkError::Period);
    }
    let _span = tracing::info_span!("link").entered();
    let window = birth_window(input.period, cfg);
    let prepare = |df: Option<&DataFrame>,
                   f: fn(&DataFrame, (i32, i32)) -> Result<Prepared, LinkError>| {
        df.map(|df| f(df, window))
            .transpose()
            .map(Option::unwrap_or_default)
    };
    let started = std::time::Instant::now();
    // The four sources' records are prepared side by side (each mostly one thread's work).
    let span = tracing::Span::current();
    let in_span = |f: &dyn Fn() -> Result<Prepared, LinkError>| span.in_scope(f);
    let ((delivery, certificate), (household, vaccination)) = rayon::join(
        || {
            rayon::join(
                || in_span(&|| prepare(input.hospital_delivery, prepare::deliveries)),
                || in_span(&|| prepare(input.birth_certificate, prepare::certificates)),
            )
        },
        || {
            rayon::join(
                || in_span(&|| prepare(input.household, prepare::household_children)),
                || in_span(&|| prepare(input.vaccination, prepare::vaccination_children)),
            )
        },
    );
    let (delivery, certificate) = (delivery?, certificate?);
    let (mut household, vaccination) = (household?, vaccination?);
    let parts = [&delivery, &certificate, &household, &vaccination];
    tracing::debug!(
        seconds = started.elapsed().as_secs_f64(),
        "records prepared"
    );
    let started = std::time::Instant::now();
    let mut mother_ids: Vec<String> = parts
        .iter()
        .flat_map(|p| p.recs.iter().filter_map(|r| r.mother_id.clone()))
        .collect();
    mother_ids.sort();
    mother_ids.dedup();
    let mothers = mothers::mother_rows(input.household, &mother_ids)?;
    let inferred = mothers::infer_household_mothers(&mut household.recs, &mothers);
    tracing::debug!(
        children = inferred,
        seconds = started.elapsed().as_secs_f64(),
        "household mothers inferred from the household"
    );
    // A household row names no mother: her name is on her own row.
    for r in &mut household.recs {
        if r.mother_name.is_none() {
            r.mother_name = r
                .mother_id
                .as_ref()
                .and_then(|m| mothers.get(m))
                .and_then(|rows| rows.iter().find_map(|row| row.name.as_deref()))
                .and_then(Name::new);
        }
    }
    let parts = [&delivery, &certificate, &household, &vaccination];
    for (s, p) in Src::ALL.iter().zip(parts) {
        tracing::debug!(
            source = s.id(),
            records = p.recs.len(),
            duplicates = p.dups.len(),
            "prepared"
        );
    }
    let tf = TermFreq::new(parts.iter().flat_map(|p| p.recs.iter()));
    let ctx = Ctx {
        recs: [
            &delivery.recs,
            &certificate.recs,
            &household.recs,
            &vaccination.recs,
        ],
        cfg,
        tol: Tolerances {
            near: cfg.date_tolerances[0],
            within: cfg.date_tolerances[1],
        },
        tf: cfg.term_frequency.then_some(&tf),
    };
    let mut ents = Vec::new();
    let mut conflicts = Vec::new();
    let mut constraints = decisions::Constraints::new(decisions, ctx.recs);
    let reports: Vec<_> = Src::ALL
        .into_iter()
        .map(|s| stage::run(&ctx, &mut ents, s, &mut conflicts, &mut constraints))
        .collect();
    tracing::info!(
        decisions = decisions.len(),
        applied = constraints
            .outcome
            .iter()
            .filter(|o| **o == decisions::Outcome::Applied)
            .count(),
        "reviewers' linkage decisions"
    );
    stage::tidy(&mut conflicts);
    let started = std::time::Instant::now();
    let births = births::build(&ctx, &ents, input, &mothers, cfg)?;
    tracing::debug!(seconds = started.elapsed().as_secs_f64(), "births built");
    tracing::info!(births = births.len(), entities = ents.len(), "linked");
    let dups: Vec<_> = parts.iter().flat_map(|p| p.dups.iter().cloned()).collect();
    let frame = |table: &'static str| LinkError::frame(table);
    // The births' table beside the others (a province's 0.6 M births, 1.6 M links).
    let started = std::time::Instant::now();
    let (births_frame, links) = rayon::join(
        || births::frame(&ctx, &ents, &births, input.jurisdiction),
        || output::links(&ctx, &ents, &births),
    );
    let out = LinkOutput {
        births: births_frame.map_err(frame("births"))?,
        links: links.map_err(frame("links"))?,
        ambiguous: output::ambiguous(&ctx, &ents, &births, &conflicts)
            .map_err(frame("ambiguous"))?,
        duplicates: output::duplicates(&dups).map_err(frame("duplicates"))?,
        diagnostics: output::diagnostics(&ents, &births).map_err(frame("diagnostics"))?,
        model: output::model(&reports).map_err(frame("model"))?,
        decisions: constraints.frame().map_err(frame("decisions"))?,
    };
    tracing::debug!(
        seconds = started.elapsed().as_secs_f64(),
        "link tables made"
    );
    Ok(out)
}
