//! The synthetic city: a population in the real Bengbu villages, its births, the nine
//! extracts real systems would export about them (with injected mess), and the truth.
//!
//! [`generate`] writes, for a [`SynthConfig`] (a [`Scale`], a seed, [`MessRates`], the
//! period and `as_of`), an output folder:
//!
//! - `divisions/`: the division table used (`code,name,parent`);
//! - `extracts/`: `birth_registration.csv` (GB18030), `prenatal_care.xlsx` (date cells),
//!   `hospital_delivery.csv` (GB18030, date-times), `birth_certificate.xlsx` (date cells,
//!   some IDs stored as numbers), `vaccination.csv` (UTF-8 with BOM, one row per dose),
//!   `household.parquet`, `school.csv` (UTF-8), `marriage.csv` (GB18030),
//!   `social_security.parquet`; at province scale one file per city in
//!   `extracts/<source>/<city>.<ext>`;
//! - `truth/`: `births.parquet`, `quarantine.parquet`, `invalid_values.parquet`,
//!   `injections.parquet`, `discrepancies.parquet`, `indicators.parquet` and `summary.json`
//!   (the [`SynthSummary`]);
//! - `pipeline.toml`, the pipeline that reads it all ([`write_pipeline`] writes one
//!   elsewhere, with paths relative to its own folder).
//!
//! [`score::Compared`] scores a run folder against that truth (per-rule precision and
//! recall, linked pairs, indicator rows, quarantine): the truth tests and the
//! `truth_figures` example share it.
//!
//! For the verification of issue #18, on request: [`write_returns`] adds the villages'
//! statistical returns (`extracts/统计报表.csv`, from the truth, with under-reporting
//! injected in named villages) and `[returns]` to the pipeline; [`write_field_truth`] adds
//! `truth/field.parquet`, what a field team at the door finds for each birth.
//!
//! # The truth
//!
//! - `births.parquet`, one row per birth event of domain.md §8.1 (a live-born child of the
//!   period with at least one kept delivery, certificate, household or vaccination record),
//!   sorted by `birth_id` (`<village>-<nnn>`). The columns found through the mother follow
//!   the *mother ID* of the birth (see *Values and linkage* below): `village` is the
//!   attribution of §4/§8.11 over the values as written (the first present of the delivery's,
//!   the booking's and the vaccination's residence, the child's household village, the
//!   mother's active household village; it may be an unknown code); `mother_floating`
//!   follows §8.8 (no kept household row with status 正常 whose valid `person_id` is the
//!   mother ID, or no mother ID at all: never registered here, moved out, her own row
//!   quarantined or its ID damaged, or the first valid mother ID of the birth's records is
//!   another woman's). `design_village` is where the family was generated. `sex` and
//!   `birth_date` follow §8.2 over the kept records as written; `true_sex`,
//!   `true_birth_date` and `birth_time` are the generator's. `birth_seq`, `plurality`,
//!   `home_birth`; `birth_order` is the true order among the mother's live-born children
//!   (not the §8.9 computed order, which depends on what the registry shows). `mother_id`
//!   and `child_id` are the true IDs. Each `<source>_key` (§7) is the record key as written,
//!   trimmed; null when the record is absent or quarantined. The birth-level keys
//!   (delivery, certificate, household, vaccination) are the generator's true linkage;
//!   `prenatal_care_key` and `birth_registration_key` are the kept rows whose valid
//!   `mother_id` / `woman_id` is the mother ID, dated within the §8.3 windows: the latest
//!   booking in [date − 300, date], the latest registration in [date − 730, date], else the
//!   earliest in (date, date + 90] (on one date, the smallest key). `marriage_key` is the
//!   latest kept 结婚 row whose valid `woman_id` is the mother ID, dated strictly before the
//!   birth; `social_security_key` the first kept row whose valid `person_id` is the mother ID
//!   with a maternity claim within 180 days of the birth; `school_key` is always null. Every
//!   window is measured from the birth's date as written (§8.2), not the true date.
//!   *Registry children* are births too: a mother's earlier children registered with her
//!   family who were born in the period (the earlier children of pregnancies not ended by
//!   `as_of`; an earlier child is born at least 500 days before its younger sibling). They
//!   are seen in the household registry alone: `household_key`, the other keys as above
//!   (their mother ID is their row's `mother_id`; in practice only `marriage_key` is ever
//!   set), `birth_seq` and `plurality` 1, `birth_time` and `home_birth` null (the generator
//!   made neither), and they are numbered after the village's other births.
//! - `quarantine.parquet`: `source`, `file` (relative to the output folder), `line` (header
//!   = 1: CSV physical line, XLSX sheet row, Parquet row index + 2), `reason`
//!   (`missing_required`, `invalid_required_date`) and `field`; sorted.
//! - `invalid_values.parquet`: one row per (`source`, `record_key`, `field`) of a kept row
//!   holding an invalid value (§8.7), with the ingest `reason`: an ID damage code
//!   (`check_digit`, `birth_date`, `excel_trailing_zeros`, `excel_scientific`),
//!   `excel_numeric`, `unknown_village` or `impossible_date`.
//! - `injections.parquet`: every injected piece of mess: `source`, `file`, `line`,
//!   `record_key` (null when the key itself was emptied), `field`, `kind` (see
//!   [`MessRates`]) and the `birth_id` it touches, if any. A vaccination child's values are
//!   alike on each of its dose rows; their injections are recorded once, on the first.
//! - `discrepancies.parquet`: every discrepancy that 21 of the 22 rules of §5 report under
//!   the readings of §8 and the default settings, described below. `ambiguous_link` is not
//!   in the truth: it is a property of a linkage model's ties (a model that also compares
//!   names tells most same-sex twins apart), which the domain guide does not fix, so the
//!   linkage's own unit tests measure it.
//! - `indicators.parquet`: the 14 indicators of §6 per area and basis, described below.
//!
//! ## `discrepancies.parquet`
//!
//! Columns: `rule_id`; `field` (the canonical field at fault for `invalid_value` and
//! `id_number_conflict`, `sex`/`birth_date`/`mother_id` for the mismatch rules,
//! `child_order` for `child_order_mismatch`, else null); `village` (§8.12); `birth_id`;
//! `source` and `record_key` (only for the rules about one record: those of §8.13 and
//! `id_number_conflict`); then the nine `<source>_key` columns of §7 in the order of
//! `births.parquet`. Sorted by `rule_id`, `birth_id`, `source`, `record_key`, `field`, then
//! the key columns and `village`, nulls first. `summary.json` counts the rows per rule.
//!
//! *Values and linkage.* The rules compare the values as written, read the way §3 says
//! ingest reads them (by this module's own reader, not the pipeline's: IDs trimmed, NFKC
//! full-width digits and `Ｘ`, spaces, `-` and a leading `'` dropped, `x` upper-cased,
//! legacy 15-digit numbers upgraded, an 18-character value valid when its date is real and
//! its check character right, an Excel number cell never valid; dates in the four styles
//! with an optional time; sex `男`/`女`/`1`/`2`/`M`/`F`; relationships as GB/T 4761 codes).
//! Only the *birth-level linkage* is the generator's truth: which delivery row (not an extra
//! copy), certificate, household row and vaccination rows are a birth's, whatever their IDs
//! read as. Everything found through a person is found by the *valid normalised ID as
//! written*, and a record whose ID on either side is empty or invalid (a damaged check
//! digit, an impossible date, Excel damage) finds nothing: a birth's *mother ID* is the
//! first valid `mother_id` of its delivery, certificate, household row and vaccination, in
//! that order (§8.2), even when it is another woman's; a birth without one has no booking,
//! registration or marriage, is floating and has no computed order. A booking or
//! registration is the mother's only under her valid ID (one with a mistyped ID is not
//! hers). Quarantined rows take no part. Settings: grace periods 30/60/7 days, windows
//! 300 d and [−730, +90] d, 13 weeks, ± 180 d, limits 2 from 2016-01-01 and 3 from
//! 2021-05-31, deceased children counted; `as_of` and the period of the [`SynthConfig`].
//! (A village's truth is computed from that village's rows: the generator's persons are
//! unique across the run and all their records lie in their village, so an ID as written
//! finds the same rows there as in the whole extract. A wrong mother ID is written under
//! an address code no person holds, so it finds nothing anywhere; the rare exception is
//! one of the 1 in 11 truncated `…000` IDs that pass their check and happen to be a real
//! person's in another village.)
//!
//! A birth's records: its birth-level records above (a child's vaccination values are alike
//! on each dose row); the registration and booking found under its mother ID (§8.3).
//! Rows about a birth carry its `birth_id` and its `village` (`births.parquet`).
//!
//! | rule | reported | keys filled |
//! | --- | --- | --- |
//! | `delivery_without_certificate` | birth with a delivery, date ≤ `as_of` − 30, no certificate | delivery |
//! | `certificate_without_delivery` | birth whose certificate says 医院 or 妇幼保健院, no delivery | certificate |
//! | `birth_without_household_registration` | non-floating mother, date ≤ `as_of` − 60, no household row | the birth's birth-level records |
//! | `household_birth_without_certificate` | kept household row, reason 出生, birth date as written in the period, whose birth has no certificate | household |
//! | `birth_without_registration_service` | no registration under the mother ID in [date − 730, date + 90] (always, without a mother ID) | the birth's birth-level records |
//! | `delivery_without_prenatal_booking` | every delivery (§8.4): a birth with a delivery and no booking under the mother ID in [date − 300, date]; and a kept stillbirth delivery row (not an extra copy) dated in the period with no booking under its own valid `mother_id` in [delivery − 300, delivery] (no `birth_id`; village per §8.12) | delivery |
//! | `birth_without_hepb1` | date ≤ `as_of` − 7, no kept row of 乙肝疫苗 dose 1 | the birth's birth-level records |
//! | `late_hepb1` | the earliest HepB dose 1 more than 1 day after the birth's date | vaccination |
//! | `late_prenatal_booking` | every kept booking at ≥ 13 weeks | prenatal care |
//! | `late_household_registration` | household `registration_date` more than 30 days after the birth's date | household |
//! | `sex_mismatch`, `birth_date_mismatch`, `mother_id_mismatch` | two of the birth's four birth-level records disagree (dates as dates; mother IDs valid ones only) | the records holding a value |
//! | `id_number_conflict` | a valid own ID encoding another sex or birth date than its row (household `person_id`, vaccination `child_id`, school `person_id`), or a mother's ID encoding a man (registration `woman_id`, the `mother_id` of prenatal care, delivery, certificate, vaccination and household); one row per record and field | the record |
//! | `child_order_mismatch` | a registration found for a birth whose declared `child_order` differs from the computed order of the first birth (lowest `birth_id`) that found it; skipped when either is unknown | registration |
//! | `out_of_policy_birth` | computed order above the limit on the birth's date | the birth's birth-level records |
//! | `registration_without_marriage` | every kept registration with no kept 结婚 row whose valid (`man_id`, `woman_id`) are the registration's valid (`man_id`, `woman_id`), dated strictly before it; an empty or invalid ID on either record finds none | registration |
//! | `maternity_claim_without_delivery` | every kept social-security row with a claim date and, within ± 180 d of it, neither a kept delivery row (live, stillbirth or extra copy) whose valid `mother_id` is the row's valid `person_id` nor the delivery (date as written) of a birth whose mother ID is that `person_id` (§8.23: linkage found it under a damaged ID); an invalid `person_id` finds none | social security |
//! | `student_without_household_registration` | every kept school row whose pupil has no kept household row (any status): the pupil is the valid `person_id`; where it is empty or invalid, the valid ID inside `student_no` (`G` + ID); failing both, the one kept household row with the same name, sex and birth date as written (none, or several, finds none) (§8.17) | school |
//! | `duplicate_record` | every extra copy of a duplicated delivery (it has the larger record id) | delivery (the copy) |
//! | `invalid_value` | exactly the rows of `invalid_values.parquet` | the record |
//!
//! The *computed order* (§8.9) of a birth whose mother is not floating is 1 + the kept
//! household rows, of any status, born (as written) strictly before the birth's date, whose
//! valid `mother_id` is the mother ID, plus, when her active row's relation is 02/10/11/12,
//! the rows of her household number with an empty `mother_id` and relation 20–26 or 30–36;
//! relations 27/37 and the rows of the birth and its co-births never count; a multiple
//! birth adds its rank − 1, the rank being the delivery's `birth_seq` (the generator's for
//! a multiple born without a kept delivery; 1 for a registry child). Floating: undetermined.
//!
//! A *record-level* row's `birth_id` is the birth the record belongs to: a child-level
//! record through its child (an extra delivery copy through the original's), a household
//! row through its person, a registration, booking, marriage or social-security row when a
//! birth found it (the first such birth). Otherwise `village` is the record's own village
//! or residence field as written, else the village of the active household row (kept, 正常)
//! under the first of these valid IDs of the record that has one: registration `woman_id`
//! then `man_id`; the `mother_id` of a booking or delivery; vaccination `child_id` then
//! `mother_id`; certificate `mother_id` then `father_id` (it carries no ID of the child);
//! the `person_id` of a pupil or an insured; marriage `woman_id` then `man_id`; else null.
//!
//! ## `indicators.parquet`
//!
//! Columns `level` (village, township, county, city, jurisdiction), `area_code`, `basis`
//! (`residence`, `household`, `occurrence`), `indicator_id`, `numerator` and `denominator`
//! (Int64; the denominator null for `live_births`); sorted by basis (in that order), level
//! (in that order), area code, and indicator in the order of §6. Every area with at least
//! one birth event or delivery on a basis has all 14 indicators, 0/0 included.
//!
//! Units: the births of `births.parquet`, each counted once per basis, and the deliveries
//! (§8.4): a live birth's kept delivery row, and every kept stillbirth delivery row (not an
//! extra copy) dated in the period, which counts in the three delivery indicators only. A
//! stillbirth's mother is found by its row's valid `mother_id` (floating, booking, household
//! village); its residence area is the delivery's residence, else its booking's, else the
//! mother's active household village; an area with only a stillbirth's delivery still has
//! all 14 indicators (§8.21). The area a birth counts in:
//!
//! - `residence`: the birth's `village`.
//! - `household`: the mother's active household village (none when she is floating).
//! - `occurrence`: the delivering institution of the kept delivery row. The generator
//!   delivers in five city hospitals, the county's 人民医院 and 妇幼保健院, and the township
//!   health centre, none of which has a village code: they count in the city, the county
//!   and the township of the family's village respectively, so occurrence has no village
//!   rows, and a birth without a kept delivery has no occurrence area. (The pipeline places
//!   institutions through a table of their village codes, which the synthetic pipeline
//!   does not give, so a run does not compute this basis.)
//!
//! Areas roll up by code prefix (§3, §8.11). A code of 12 digits inside the jurisdiction's
//! prefix gets its own village row, whether or not the division table knows it; it adds to
//! the township of its first 9 digits and the county of its first 6 where the division
//! table knows that township or county (else it counts at no such level), and to the city
//! of its first 4 (there is no city table). An occurrence area (a township, county or city
//! code) adds to the levels above it the same way. The `jurisdiction` row (the pipeline's
//! jurisdiction code) counts every birth whose area on that basis lies in the prefix, plus
//! the births with no area on it. An area outside the prefix (or not a code of its level)
//! counts nowhere, not even in the jurisdiction.
//!
//! Per birth (date = the birth's date of §8.2, sex likewise): `live_births` 1;
//! `sex_ratio_at_birth` boys over girls; `hospital_delivery_rate` with a delivery;
//! `birth_certificate_rate` with a certificate among those born ≤ `as_of` − 30;
//! `household_registration_rate` with a household row among the non-floating born ≤ `as_of`
//! − 60; `registration_service_rate` with a registration in its window; `hepb1_timely_rate`
//! HepB dose 1 at most one day after the birth's date (same or next day, or earlier) among
//! those born ≤ `as_of` − 7; `policy_compliance_rate` computed order ≤ the limit (or no
//! limit) among births with a computed order; `birth_info_accuracy_rate` no sex, date or
//! mother-ID mismatch among births with records in at least two of the four birth-level
//! sources; `floating_birth_share`; `higher_order_birth_share` order ≥ 3 among births with a
//! computed order. Per delivery: `prenatal_booking_rate` with a booking under the mother ID
//! within 300 days before, `early_prenatal_booking_rate` at under 13 weeks,
//! `floating_prenatal_booking_rate` the same among floating mothers' deliveries.
//! Numerators count only units of their denominators.
//!
//! Generation is deterministic: each village draws from its own ChaCha8 stream seeded by
//! (seed, village code), so the same seed gives byte-identical files whatever the thread
//! count. The truth is written from what the generator did and from domain.md (§3–§8),
//! never by running the pipeline's code (the discrepancies and indicators are computed by
//! this crate's `truth` module, per village while generating, with no dependency on the
//! pipeline's crates). Nothing here logs a person-level value.

mod divisions;
mod ids;
mod names;
mod render;
mod returns;
mod schema;
pub mod score;
mod sink;
mod truth;
mod world;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono::NaiveDate;
use rayon::prelude::*;
use serde::Serialize;

use crate::divisions::Divisions;
use crate::render::VillageOut;
pub use crate::returns::{FIELD_TRUTH_FILE, RETURNS_FILE, write_field_truth, write_returns};
pub use crate::schema::Dialect;
use crate::schema::Src;
use crate::sink::{ExtractWriter, ParquetSink, PqType, Val};
use crate::world::Calendar;

/// Villages generated and written per batch: bounds memory, keeps both cores busy.
const BATCH_VILLAGES: usize = 24;

/// How much to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scale {
    /// Two villages, ~5 k household rows: for unit tests.
    Village,
    /// All 96 villages of 淮上区, ~300 k household rows.
    County,
    /// All 1,157 villages of Bengbu, ~4 M household rows, ~35 k births.
    City,
    /// Bengbu's table 15 times over with distinct city codes, ~60 M household rows,
    /// ~600 k births; written one file per city.
    Province,
}

impl Scale {
    pub fn as_str(self) -> &'static str {
        match self {
            Scale::Village => "village",
            Scale::County => "county",
            Scale::City => "city",
            Scale::Province => "province",
        }
    }

    /// Mean household rows per village.
    fn rows_per_village(self) -> u32 {
        match self {
            Scale::Village => 2_500,
            Scale::County => 3_125,
            Scale::City | Scale::Province => 3_460,
        }
    }

    /// Live births per household row and year: Bengbu-like (~35 k births over ~4 M rows),
    /// a little higher for the province (~600 k births over ~60 M rows).
    fn birth_rate(self) -> f64 {
        match self {
            Scale::Province => 0.01,
            _ => 0.008_75,
        }
    }
}

impl fmt::Display for Scale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scale {
    type Err = SynthError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "village" => Ok(Scale::Village),
            "county" => Ok(Scale::County),
            "city" => Ok(Scale::City),
            "province" => Ok(Scale::Province),
            other => Err(SynthError::Config(format!(
                "unknown scale `{other}`; expected `village`, `county`, `city` or `province`"
            ))),
        }
    }
}

/// The rates of each kind of injected mess: the probability per cell, row or birth named
/// on each field. Every injection is recorded in `truth/injections.parquet` with its kind
/// (the field name below, or the name given).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MessRates {
    /// Per ID cell: one of the first 17 digits replaced (`id_substitution`).
    pub id_substitution: f64,
    /// Per ID cell: two adjacent digits swapped (`id_transposition`).
    pub id_transposition: f64,
    /// Per ID cell ending in `X`: written `x` (`lowercase_x`; valid after normalisation).
    pub id_lowercase_x: f64,
    /// Per ID cell: full-width digits (`fullwidth_digits`; valid after normalisation).
    pub id_fullwidth: f64,
    /// Per CSV/XLSX ID cell: a leading `'` (`leading_apostrophe`; valid after normalisation).
    pub id_apostrophe: f64,
    /// Per CSV ID cell: Excel's damage as text, `3.40302E+17` (`excel_scientific`) or the
    /// last three digits `000` (`excel_trailing_zeros`), half each.
    pub id_excel_text: f64,
    /// Per ID cell of the certificate XLSX: stored as a number (`excel_numeric`).
    pub id_excel_numeric: f64,
    /// Per name cell: one character of the given name mistyped (`name_typo`).
    pub name_typo: f64,
    /// Per birth seen in two sources or more: one source has the other sex (`sex_conflict`).
    pub sex_conflict: f64,
    /// Per birth seen in two sources or more: one source is a day off (`birth_date_conflict`).
    pub birth_date_conflict: f64,
    /// Per birth with two mother-carrying records: one has another woman's valid ID
    /// (`wrong_mother_id`).
    pub wrong_mother_id: f64,
    /// Per delivery row: entered twice under a new, larger record id (`duplicate_delivery`).
    pub duplicate_delivery: f64,
    /// Per birth registration: declared `child_order` one off (`wrong_child_order`).
    pub wrong_child_order: f64,
    /// Per village cell: a code the division table does not know (`unknown_village`).
    pub unknown_village: f64,
    /// Per row: a required field left empty, so the row is quarantined (`missing_required`).
    pub missing_required: f64,
    /// Per row with a required date: an impossible date there, so the row is quarantined
    /// (`impossible_required_date`).
    pub impossible_required_date: f64,
    /// Per optional date cell (prenatal due date, certificate issue date, school dates): an
    /// impossible date, flagged and kept (`impossible_optional_date`).
    pub impossible_optional_date: f64,
}

impl Default for MessRates {
    /// Rates seen in real extracts: a few per thousand cells, a few per cent of rows
    /// somewhere touched.
    fn default() -> Self {
        MessRates {
            id_substitution: 0.003,
            id_transposition: 0.002,
            id_lowercase_x: 0.3,
            id_fullwidth: 0.002,
            id_apostrophe: 0.01,
            id_excel_text: 0.001,
            id_excel_numeric: 0.05,
            name_typo: 0.01,
            sex_conflict: 0.004,
            birth_date_conflict: 0.004,
            wrong_mother_id: 0.003,
            duplicate_delivery: 0.004,
            wrong_child_order: 0.03,
            unknown_village: 0.002,
            missing_required: 0.001,
            impossible_required_date: 0.0005,
            impossible_optional_date: 0.001,
        }
    }
}

impl MessRates {
    /// Clean extracts: no injected mess at all.
    pub fn none() -> Self {
        Self::default().scaled(0.0)
    }

    /// Every rate multiplied by `factor` (clamped to 1).
    pub fn scaled(self, factor: f64) -> Self {
        let f = |x: f64| (x * factor).clamp(0.0, 1.0);
        MessRates {
            id_substitution: f(self.id_substitution),
            id_transposition: f(self.id_transposition),
            id_lowercase_x: f(self.id_lowercase_x),
            id_fullwidth: f(self.id_fullwidth),
            id_apostrophe: f(self.id_apostrophe),
            id_excel_text: f(self.id_excel_text),
            id_excel_numeric: f(self.id_excel_numeric),
            name_typo: f(self.name_typo),
            sex_conflict: f(self.sex_conflict),
            birth_date_conflict: f(self.birth_date_conflict),
            wrong_mother_id: f(self.wrong_mother_id),
            duplicate_delivery: f(self.duplicate_delivery),
            wrong_child_order: f(self.wrong_child_order),
            unknown_village: f(self.unknown_village),
            missing_required: f(self.missing_required),
            impossible_required_date: f(self.impossible_required_date),
            impossible_optional_date: f(self.impossible_optional_date),
        }
    }
}

/// Where the county-b dialect writes its one division table: among the extracts, as users
/// receive it.
const COUNTY_B_DIVISIONS: &str = "extracts/行政区划.xlsx";

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthConfig {
    pub scale: Scale,
    pub seed: u64,
    pub mess: MessRates,
    /// The date of the extracts: nothing dated later is in them.
    pub as_of: NaiveDate,
    /// Birth dates assessed, both ends included.
    pub period: (NaiveDate, NaiveDate),
    /// Only the first `n` villages of the scale (in code order): for a committed sample.
    pub sample_villages: Option<usize>,
    /// Mean household rows per village; the scale's default when `None`.
    pub rows_per_village: Option<u32>,
    /// How the extracts are exported (headers, formats, division table, mess).
    pub dialect: Dialect,
}

impl SynthConfig {
    /// The defaults: period 2025-01-01..=2025-12-31, `as_of` 2026-01-31, default mess.
    pub fn new(scale: Scale, seed: u64) -> Self {
        let ymd = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default();
        SynthConfig {
            scale,
            seed,
            mess: MessRates::default(),
            as_of: ymd(2026, 1, 31),
            period: (ymd(2025, 1, 1), ymd(2025, 12, 31)),
            sample_villages: None,
            rows_per_village: None,
            dialect: Dialect::Bengbu,
        }
    }

    /// The pipeline name: `synthetic-<scale>-<seed>`.
    pub fn name(&self) -> String {
        format!("synthetic-{}-{}", self.scale, self.seed)
    }

    fn check(&self) -> Result<(), SynthError> {
        let (start, end) = self.period;
        if start > end {
            return Err(SynthError::Config(
                "the period ends before it starts".into(),
            ));
        }
        if self.as_of < start {
            return Err(SynthError::Config("`as_of` is before the period".into()));
        }
        if self.dialect == Dialect::CountyB && matches!(self.scale, Scale::City | Scale::Province) {
            // Its social-security workbook would pass Excel's 1,048,576 rows at city scale.
            return Err(SynthError::Config(
                "the `county-b` dialect is a county's: use the village or county scale".into(),
            ));
        }
        if self.sample_villages == Some(0) {
            return Err(SynthError::Config(
                "`sample_villages` must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

/// Rows written per source, by role and quarantine.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SourceSummary {
    pub source: String,
    pub rows: u64,
    pub quarantined: u64,
    /// Role → rows: `birth`, `mother`, `stillbirth`, `out_of_period`, `pending`,
    /// `duplicate`, `background`. The roles add up to `rows`.
    pub roles: BTreeMap<String, u64>,
}

/// What [`generate`] wrote. Paths are relative to the output folder.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SynthSummary {
    pub name: String,
    pub scale: String,
    pub seed: u64,
    pub jurisdiction: String,
    pub villages: u64,
    /// Persons generated: registry members, floating parents, pupils from elsewhere.
    pub people: u64,
    pub household_rows: u64,
    /// Births of the truth (live, in the period, with an accepted birth-level record).
    pub births: u64,
    /// Live children of the period whose every birth-level record was quarantined or never
    /// made (not births by domain.md §8.1).
    pub unseen_births: u64,
    pub quarantined: u64,
    pub invalid_values: u64,
    pub injections: u64,
    /// Rows of `truth/discrepancies.parquet` per rule id (every rule, zeros included).
    pub discrepancies: BTreeMap<String, u64>,
    pub files: Vec<(PathBuf, u64)>,
    pub sources: Vec<SourceSummary>,
}

/// Why generation failed. Messages name the file at fault and never a generated value.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("cannot write `{}`: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write parquet file `{}`: {message}", path.display())]
    Parquet { path: PathBuf, message: String },
    #[error("cannot read `{}`: {message}", path.display())]
    Read { path: PathBuf, message: String },
    #[error("cannot write xlsx file `{}`: {message}", path.display())]
    Xlsx { path: PathBuf, message: String },
    #[error("embedded division table `{file}`: {message}")]
    Embedded { file: String, message: String },
    #[error(
        "output folder `{}` is not empty and was not written by the generator; choose another",
        path.display()
    )]
    OutputNotEmpty { path: PathBuf },
    #[error("{0}")]
    Config(String),
}

impl SynthError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> SynthError {
        SynthError::Io {
            path: path.to_owned(),
            source,
        }
    }
}

/// Generates the population, extracts and truth of `cfg` into `out`.
///
/// The folder is written in a staging folder beside it and renamed into place at the end;
/// an existing `out` is replaced only if the generator wrote it (it has
/// `truth/summary.json`) or it is empty. `progress` receives short messages (area codes and
/// counts, never a person-level value).
pub fn generate(
    cfg: &SynthConfig,
    out: &Path,
    progress: &dyn Fn(&str),
) -> Result<SynthSummary, SynthError> {
    cfg.check()?;
    let mut divisions = Divisions::for_scale(cfg.scale, cfg.sample_villages)?;
    if cfg.dialect == Dialect::CountyB {
        divisions.add_new_communities();
    }
    let replace = replaceable(out)?;
    let staging = staging_dir(out)?;
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(|e| SynthError::io(&staging, e))?;
    }
    std::fs::create_dir_all(&staging).map_err(|e| SynthError::io(&staging, e))?;
    let summary = match write_all(cfg, &divisions, &staging, progress) {
        Ok(summary) => summary,
        Err(e) => {
            // Best effort: the error that matters is the one being returned.
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    if replace {
        std::fs::remove_dir_all(out).map_err(|e| SynthError::io(out, e))?;
    }
    std::fs::rename(&staging, out).map_err(|e| SynthError::io(out, e))?;
    progress(&format!(
        "wrote {} births, {} household rows",
        summary.births, summary.household_rows
    ));
    Ok(summary)
}

/// Whether `out` exists and may be replaced: it is empty or the generator wrote it. A
/// folder holding anything else is an error, checked before any work.
fn replaceable(out: &Path) -> Result<bool, SynthError> {
    if !out.exists() {
        return Ok(false);
    }
    let ours = out.join("truth").join("summary.json").is_file();
    let empty = std::fs::read_dir(out)
        .map_err(|e| SynthError::io(out, e))?
        .next()
        .is_none();
    if ours || empty {
        Ok(true)
    } else {
        Err(SynthError::OutputNotEmpty {
            path: out.to_owned(),
        })
    }
}

/// Writes the whole output into `staging`.
fn write_all(
    cfg: &SynthConfig,
    divisions: &Divisions,
    staging: &Path,
    progress: &dyn Fn(&str),
) -> Result<SynthSummary, SynthError> {
    divisions.write(&staging.join("divisions"))?;
    if cfg.dialect == Dialect::CountyB {
        divisions.write_one_table(&staging.join(COUNTY_B_DIVISIONS))?;
    }
    let output = Output::new(cfg, divisions, staging)?;
    let summary = run(cfg, divisions, output, progress)?;
    let pipeline = staging.join("pipeline.toml");
    std::fs::write(&pipeline, pipeline_text(cfg, "")).map_err(|e| SynthError::io(&pipeline, e))?;
    let json = staging.join("truth").join("summary.json");
    let text = serde_json::to_string_pretty(&summary)
        .map_err(|e| SynthError::io(&json, std::io::Error::other(e)))?;
    std::fs::write(&json, text + "\n").map_err(|e| SynthError::io(&json, e))?;
    Ok(summary)
}

fn staging_dir(out: &Path) -> Result<PathBuf, SynthError> {
    let name = out
        .file_name()
        .ok_or_else(|| SynthError::Config(format!("`{}` is not a folder name", out.display())))?;
    let mut staged = std::ffi::OsString::from(".");
    staged.push(name);
    staged.push(".synth-tmp");
    Ok(out.with_file_name(staged))
}

/// Writes a pipeline file at `pipeline_path` that reads the generated folder `data_dir`,
/// with paths relative to the pipeline file's folder (e.g. `../sample-data/sample/...` for
/// `pipelines/sample.toml`). Both folders must exist or be creatable.
pub fn write_pipeline(
    cfg: &SynthConfig,
    data_dir: &Path,
    pipeline_path: &Path,
) -> Result<(), SynthError> {
    let parent = match pipeline_path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(|e| SynthError::io(&parent, e))?;
    let from = parent
        .canonicalize()
        .map_err(|e| SynthError::io(&parent, e))?;
    let to = data_dir
        .canonicalize()
        .map_err(|e| SynthError::io(data_dir, e))?;
    let prefix = relative(&from, &to);
    std::fs::write(pipeline_path, pipeline_text(cfg, &prefix))
        .map_err(|e| SynthError::io(pipeline_path, e))?;
    if data_dir.join(RETURNS_FILE).is_file() {
        returns::append_entry(pipeline_path, &prefix)?;
    }
    Ok(())
}

/// The path from folder `from` to folder `to`, `/`-separated, ending in `/` (empty when
/// they are the same folder).
fn relative(from: &Path, to: &Path) -> String {
    let a: Vec<_> = from.components().collect();
    let b: Vec<_> = to.components().collect();
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut parts: Vec<String> = vec!["..".to_owned(); a.len() - common];
    parts.extend(
        b[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    if parts.is_empty() {
        String::new()
    } else {
        parts.join("/") + "/"
    }
}

/// The pipeline file's text, with every path prefixed by `prefix`.
fn pipeline_text(cfg: &SynthConfig, prefix: &str) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Written by poprecon-synth: reads the synthetic extracts beside it."
    );
    let _ = writeln!(s, "[pipeline]");
    let _ = writeln!(s, "name = \"{}\"", cfg.name());
    let _ = writeln!(
        s,
        "jurisdiction = \"{}\"",
        Divisions::jurisdiction(cfg.scale, cfg.dialect)
    );
    let _ = writeln!(s, "as_of = {}", cfg.as_of.format("%Y-%m-%d"));
    let _ = writeln!(
        s,
        "period = {{ start = {}, end = {} }}",
        cfg.period.0.format("%Y-%m-%d"),
        cfg.period.1.format("%Y-%m-%d")
    );
    let _ = writeln!(s, "\n[divisions]");
    if cfg.dialect == Dialect::CountyB {
        let _ = writeln!(s, "path = \"{prefix}{COUNTY_B_DIVISIONS}\"");
    } else {
        for table in ["counties", "townships", "villages"] {
            let _ = writeln!(s, "{table} = \"{prefix}divisions/{table}.csv\"");
        }
    }
    for src in schema::ALL {
        let _ = writeln!(s, "\n[sources.{}]", src.id());
        let ext = src.extension_in(cfg.dialect);
        let path = if cfg.scale == Scale::Province {
            format!("extracts/{}/*.{ext}", src.id())
        } else {
            format!("extracts/{}.{ext}", src.id())
        };
        let _ = writeln!(s, "path = \"{prefix}{path}\"");
        if let Some(enc) = src.encoding_in(cfg.dialect) {
            let _ = writeln!(s, "encoding = \"{enc}\"");
        }
    }
    // The household basis too, so that a run over the synthetic data exercises both bases
    // the truth states for every area (occurrence needs the institutions' village codes).
    let _ = writeln!(s, "\n[indicators]");
    let _ = writeln!(s, "bases = [\"residence\", \"household\"]");
    s
}

/// A message from the generating threads to the writing thread.
enum Msg {
    /// The villages that follow lie in this city (4-digit code).
    City(String),
    Batch(Vec<VillageOut>),
}

/// Generates village batches on the rayon pool and writes them on a thread of their own,
/// so that writing one batch overlaps generating the next. Files are written in village
/// order whatever the thread count.
fn run(
    cfg: &SynthConfig,
    divisions: &Divisions,
    output: Output<'_>,
    progress: &dyn Fn(&str),
) -> Result<SynthSummary, SynthError> {
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Msg>(2);
        let writer = scope.spawn(move || {
            let mut output = output;
            for msg in rx {
                match msg {
                    Msg::City(city) => output.open_city(&city)?,
                    Msg::Batch(outs) => {
                        for out in outs {
                            output.write_village(out)?;
                        }
                    }
                }
            }
            output.finish()
        });
        produce(cfg, divisions, &tx, progress);
        drop(tx);
        match writer.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// Generates every village, batch by batch, and sends the batches to the writer. Stops
/// early when the writer has stopped (it returns the error).
fn produce(
    cfg: &SynthConfig,
    divisions: &Divisions,
    tx: &std::sync::mpsc::SyncSender<Msg>,
    progress: &dyn Fn(&str),
) {
    let cal = Calendar {
        start: cfg.period.0,
        end: cfg.period.1,
        as_of: cfg.as_of,
    };
    let size = world::Size {
        rows: cfg
            .rows_per_village
            .unwrap_or_else(|| cfg.scale.rows_per_village()),
        birth_rate: cfg.scale.birth_rate(),
        stillbirth_share: if cfg.dialect == Dialect::CountyB {
            // Enough stillbirths that a village sample has some.
            0.05
        } else {
            world::STILLBIRTH_SHARE
        },
    };
    let mut external_seen = world::KeySet::default();
    let units = divisions.units();
    for (u, unit) in units.iter().enumerate() {
        progress(&format!(
            "county {} ({}/{}): {} villages",
            unit[0].county,
            u + 1,
            units.len(),
            unit.len()
        ));
        if tx.send(Msg::City(unit[0].code[..4].to_owned())).is_err() {
            return;
        }
        let mut county_seen = world::KeySet::default();
        for batch in unit.chunks(BATCH_VILLAGES) {
            let mut worlds: Vec<world::VillageWorld> = batch
                .par_iter()
                .map(|v| world::generate(v, cal, cfg.seed, size))
                .collect();
            world::assign_sequences(&mut worlds, &mut county_seen, &mut external_seen);
            let outs: Vec<VillageOut> = worlds
                .par_iter_mut()
                .zip(batch.par_iter())
                .map(|(w, v)| {
                    world::build_ids(w);
                    render::render(w, v, cal, &cfg.mess, cfg.seed, cfg.dialect)
                })
                .collect();
            drop(worlds);
            if tx.send(Msg::Batch(outs)).is_err() {
                return;
            }
        }
    }
}

/// The writing side of a run: the open files and the running counts.
struct Output<'a> {
    cfg: &'a SynthConfig,
    root: &'a Path,
    writers: Vec<ExtractWriter>,
    /// The city whose partition files are open (province scale).
    city: Option<String>,
    births: ParquetSink,
    quarantine: ParquetSink,
    /// Quarantined rows (few), kept to be written sorted by source, file and line.
    quarantined: Vec<(Src, String, i64, &'static str, &'static str)>,
    invalid: ParquetSink,
    injections: ParquetSink,
    truth: truth::Collector,
    divisions: &'a Divisions,
    summary: SynthSummary,
    sources: Vec<SourceSummary>,
    files: Vec<(PathBuf, u64)>,
}

impl<'a> Output<'a> {
    fn new(
        cfg: &'a SynthConfig,
        divisions: &'a Divisions,
        root: &'a Path,
    ) -> Result<Self, SynthError> {
        let truth = root.join("truth");
        std::fs::create_dir_all(&truth).map_err(|e| SynthError::io(&truth, e))?;
        let mut birth_cols: Vec<(&'static str, PqType)> = vec![
            ("birth_id", PqType::Str),
            ("village", PqType::Str),
            ("design_village", PqType::Str),
            ("mother_floating", PqType::Bool),
            ("sex", PqType::I32),
            ("birth_date", PqType::Date),
            ("true_sex", PqType::I32),
            ("true_birth_date", PqType::Date),
            ("birth_time", PqType::Datetime),
            ("birth_seq", PqType::I32),
            ("plurality", PqType::I32),
            ("birth_order", PqType::I32),
            ("home_birth", PqType::Bool),
            ("mother_id", PqType::Str),
            ("child_id", PqType::Str),
        ];
        birth_cols.extend(KEY_COLUMNS.iter().map(|k| (*k, PqType::Str)));
        let births = ParquetSink::create(&truth.join("births.parquet"), &birth_cols)?;
        let quarantine = ParquetSink::create(
            &truth.join("quarantine.parquet"),
            &[
                ("source", PqType::Str),
                ("file", PqType::Str),
                ("line", PqType::I64),
                ("reason", PqType::Str),
                ("field", PqType::Str),
            ],
        )?;
        let invalid = ParquetSink::create(
            &truth.join("invalid_values.parquet"),
            &[
                ("source", PqType::Str),
                ("record_key", PqType::Str),
                ("field", PqType::Str),
                ("reason", PqType::Str),
            ],
        )?;
        let injections = ParquetSink::create(
            &truth.join("injections.parquet"),
            &[
                ("source", PqType::Str),
                ("file", PqType::Str),
                ("line", PqType::I64),
                ("record_key", PqType::Str),
                ("field", PqType::Str),
                ("kind", PqType::Str),
                ("birth_id", PqType::Str),
            ],
        )?;
        Ok(Output {
            cfg,
            root,
            writers: Vec::new(),
            city: None,
            births,
            quarantine,
            quarantined: Vec::new(),
            invalid,
            injections,
            truth: truth::Collector::new(),
            divisions,
            summary: SynthSummary {
                name: cfg.name(),
                scale: cfg.scale.to_string(),
                seed: cfg.seed,
                jurisdiction: Divisions::jurisdiction(cfg.scale, cfg.dialect).to_owned(),
                villages: divisions.list.len() as u64,
                ..SynthSummary::default()
            },
            sources: schema::ALL
                .iter()
                .map(|s| SourceSummary {
                    source: s.id().to_owned(),
                    ..SourceSummary::default()
                })
                .collect(),
            files: Vec::new(),
        })
    }

    /// Closes every file and returns the summary.
    fn finish(mut self) -> Result<SynthSummary, SynthError> {
        self.close_city()?;
        let truth = |name: &str| PathBuf::from("truth").join(name);
        self.births.finish()?;
        self.files
            .push((truth("births.parquet"), self.summary.births));
        self.quarantined.sort();
        for (src, file, line, reason, field) in std::mem::take(&mut self.quarantined) {
            self.quarantine.push([
                Val::Str(src.id()),
                Val::Owned(file),
                Val::I64(line),
                Val::Str(reason),
                Val::Str(field),
            ])?;
        }
        self.quarantine.finish()?;
        self.files
            .push((truth("quarantine.parquet"), self.summary.quarantined));
        self.invalid.finish()?;
        self.files
            .push((truth("invalid_values.parquet"), self.summary.invalid_values));
        self.injections.finish()?;
        self.files
            .push((truth("injections.parquet"), self.summary.injections));
        let written = self.truth.finish(
            &self.root.join("truth"),
            self.divisions,
            Divisions::jurisdiction(self.cfg.scale, self.cfg.dialect),
        )?;
        self.files.extend(written.files);
        self.summary.discrepancies = written.per_rule;
        self.summary.household_rows = self.sources[Src::Household.index()].rows;
        self.summary.files = self.files;
        self.summary.sources = self.sources;
        Ok(self.summary)
    }

    /// Opens the extract files for `city` (once at smaller scales; per city at province
    /// scale).
    fn open_city(&mut self, city: &str) -> Result<(), SynthError> {
        let province = self.cfg.scale == Scale::Province;
        if self.city.as_deref() == Some(city) || (!province && !self.writers.is_empty()) {
            return Ok(());
        }
        self.close_city()?;
        for src in schema::ALL {
            let ext = src.extension_in(self.cfg.dialect);
            let rel = if province {
                format!("extracts/{}/{city}.{ext}", src.id())
            } else {
                format!("extracts/{}.{ext}", src.id())
            };
            self.writers.push(ExtractWriter::create(
                src,
                self.cfg.dialect,
                self.root,
                rel,
                self.cfg.as_of,
            )?);
        }
        self.city = Some(city.to_owned());
        Ok(())
    }

    fn close_city(&mut self) -> Result<(), SynthError> {
        for w in self.writers.drain(..) {
            self.files.push((PathBuf::from(&w.rel), w.rows));
            w.finish()?;
        }
        Ok(())
    }

    fn write_village(&mut self, mut out: VillageOut) -> Result<(), SynthError> {
        self.truth.add(std::mem::take(&mut out.truth));
        self.summary.people += out.people;
        self.summary.unseen_births += out.unseen_births;
        for (src, part) in schema::ALL.iter().zip(out.parts) {
            let writer = &mut self.writers[src.index()];
            let (metas, first) = writer.write(part)?;
            let stats = &mut self.sources[src.index()];
            for (i, meta) in metas.into_iter().enumerate() {
                stats.rows += 1;
                *stats.roles.entry(meta.role.label().to_owned()).or_default() += 1;
                let line = i64::try_from(first + i as u64).unwrap_or(i64::MAX);
                if let Some((reason, field)) = meta.quarantine {
                    stats.quarantined += 1;
                    self.summary.quarantined += 1;
                    self.quarantined
                        .push((*src, writer.rel.clone(), line, reason, field));
                }
                for inj in meta.injections {
                    self.summary.injections += 1;
                    self.injections.push([
                        Val::Str(src.id()),
                        Val::Str(&writer.rel),
                        Val::I64(line),
                        meta.key.as_deref().map_or(Val::Null, Val::Str),
                        Val::Str(inj.field),
                        Val::Str(inj.kind),
                        inj.birth.map_or(Val::Null, Val::Owned),
                    ])?;
                }
            }
        }
        for inv in &out.invalid {
            self.summary.invalid_values += 1;
            self.invalid.push([
                Val::Str(inv.source.id()),
                Val::Str(&inv.key),
                Val::Str(inv.field),
                Val::Str(inv.reason),
            ])?;
        }
        for b in &out.births {
            self.summary.births += 1;
            let mut row: Vec<Val<'_>> = vec![
                Val::Str(&b.birth_id),
                b.village.as_deref().map_or(Val::Null, Val::Str),
                Val::Str(&b.design_village),
                Val::Bool(b.mother_floating),
                b.sex.map_or(Val::Null, Val::I32),
                b.birth_date.map_or(Val::Null, Val::Date),
                Val::I32(b.true_sex),
                Val::Date(b.true_birth_date),
                b.birth_time.map_or(Val::Null, Val::Datetime),
                Val::I32(b.birth_seq),
                Val::I32(b.plurality),
                Val::I32(b.birth_order),
                b.home_birth.map_or(Val::Null, Val::Bool),
                Val::Str(&b.mother_id),
                Val::Str(&b.child_id),
            ];
            row.extend(
                b.keys
                    .iter()
                    .map(|k| k.as_deref().map_or(Val::Null, Val::Str)),
            );
            self.births.push(row)?;
        }
        Ok(())
    }
}

/// The key columns of `truth/births.parquet`, in source order (domain.md §7).
const KEY_COLUMNS: [&str; 9] = [
    "birth_registration_key",
    "prenatal_care_key",
    "hospital_delivery_key",
    "birth_certificate_key",
    "vaccination_key",
    "household_key",
    "school_key",
    "marriage_key",
    "social_security_key",
];
