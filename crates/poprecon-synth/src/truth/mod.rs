//! The truth the pipeline's checks and indicators are compared with:
//! `truth/discrepancies.parquet` and `truth/indicators.parquet`, and the columns of
//! `truth/births.parquet` found through the mother's ID.
//!
//! Written from domain.md (§3, §5, §6, §8) alone, never from the pipeline's crates. Each
//! village is computed on the generating threads ([`village`], from its rows as written, the
//! true linkage of the birth-level records of [`crate::render::Link`], and the valid IDs as
//! written for everything found through a person); the writing thread gathers the villages
//! in a [`Collector`], sorts the discrepancies and rolls the indicator counts up by code
//! prefix. The interpretations are documented in the crate's `# The truth`.

mod indicators;
mod observe;
mod rules;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::SynthError;
use crate::divisions::{Divisions, Village};
use crate::render::{BirthTruth, InvalidTruth, Row};
use crate::schema::{self, Src};
use crate::sink::{ParquetSink, PqType, Val};
use crate::world::{Calendar, VillageWorld};

pub(crate) use indicators::INDICATORS;
pub(crate) use rules::MotherSide;

/// The rules of domain.md §5, in its order, but `ambiguous_link`: a property of a linkage
/// model's ties, which the truth cannot state from the domain guide (the linkage's own unit
/// tests measure it).
pub(crate) const RULES: [&str; 21] = [
    "delivery_without_certificate",
    "certificate_without_delivery",
    "birth_without_household_registration",
    "household_birth_without_certificate",
    "birth_without_registration_service",
    "delivery_without_prenatal_booking",
    "birth_without_hepb1",
    "late_hepb1",
    "late_prenatal_booking",
    "late_household_registration",
    "sex_mismatch",
    "birth_date_mismatch",
    "mother_id_mismatch",
    "id_number_conflict",
    "child_order_mismatch",
    "out_of_policy_birth",
    "registration_without_marriage",
    "maternity_claim_without_delivery",
    "student_without_household_registration",
    "duplicate_record",
    "invalid_value",
];

/// What one village's truth is computed from.
#[derive(Debug)]
pub(crate) struct VillageInput<'a> {
    pub world: &'a VillageWorld,
    pub village: &'a Village,
    pub cal: Calendar,
    /// The rows of each source as written, in [`schema::ALL`] order.
    pub rows: &'a [Vec<Row>],
    pub births: &'a [BirthTruth],
    /// The invalid values of kept rows, sorted and unique per (source, key, field).
    pub invalid: &'a [InvalidTruth],
}

/// One row of `truth/discrepancies.parquet`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Discrepancy {
    /// Index into [`RULES`].
    pub rule: u8,
    pub field: Option<&'static str>,
    pub village: Option<String>,
    pub birth_id: Option<String>,
    pub source: Option<Src>,
    pub record_key: Option<String>,
    /// The records involved, per source in [`schema::ALL`] order.
    pub keys: [Option<String>; 9],
}

impl Discrepancy {
    pub(crate) fn rule_id(&self) -> &'static str {
        RULES[usize::from(self.rule)]
    }

    /// The order of the file: rule id, birth id, source, record key, field, then the keys
    /// and the village; nulls first.
    fn sort_key(&self) -> impl Ord + '_ {
        (
            self.rule_id(),
            self.birth_id.as_deref(),
            self.source.map(Src::id),
            self.record_key.as_deref(),
            self.field,
            &self.keys,
            self.village.as_deref(),
        )
    }
}

/// Indicator counts: numerator and denominator per indicator of [`INDICATORS`].
pub(crate) type Counts = [[i64; 2]; 14];

/// The level of an area; a birth's leaf on a basis is a village (or, for `occurrence`, the
/// township, county or city of its institution), or the jurisdiction when it has no area.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Level {
    Village,
    Township,
    County,
    City,
    Jurisdiction,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Village => "village",
            Level::Township => "township",
            Level::County => "county",
            Level::City => "city",
            Level::Jurisdiction => "jurisdiction",
        }
    }
}

/// The counting bases of domain.md §6, in output order.
pub(crate) const BASES: [&str; 3] = ["residence", "household", "occurrence"];

/// What one village contributes to the truth.
#[derive(Debug, Default)]
pub(crate) struct VillageTruth {
    pub discrepancies: Vec<Discrepancy>,
    /// Per (basis, leaf level, leaf code): the counts of the births counted there; a birth
    /// with no area on a basis is at (basis, jurisdiction, "").
    pub leaves: BTreeMap<(u8, Level, String), Counts>,
    /// Per birth of the input, in its order: the columns of `births.parquet` found through
    /// the mother's ID (applied by the renderer).
    pub births: Vec<MotherSide>,
}

/// Computes one village's discrepancies and indicator counts.
pub(crate) fn village(input: &VillageInput<'_>) -> VillageTruth {
    let mut ctx = rules::Ctx::new(input);
    let mut out = VillageTruth::default();
    let facts = ctx.birth_facts();
    ctx.attach(&facts);
    let stillbirths = ctx.stillbirth_facts();
    rules::birth_rules(&ctx, &facts, &mut out.discrepancies);
    rules::stillbirth_rules(&ctx, &stillbirths, &mut out.discrepancies);
    rules::record_rules(&ctx, &facts, &mut out.discrepancies);
    indicators::tally(&ctx, &facts, &stillbirths, &mut out);
    out.births = ctx.mother_sides(&facts);
    out
}

/// Gathers the villages on the writing thread and writes the two files at the end.
#[derive(Debug)]
pub(crate) struct Collector {
    discrepancies: Vec<Discrepancy>,
    leaves: BTreeMap<(u8, Level, String), Counts>,
}

/// What [`Collector::finish`] wrote: rows per file and discrepancies per rule.
#[derive(Debug)]
pub(crate) struct Written {
    pub files: Vec<(PathBuf, u64)>,
    pub per_rule: BTreeMap<String, u64>,
}

impl Collector {
    pub(crate) fn new() -> Collector {
        Collector {
            discrepancies: Vec::new(),
            leaves: BTreeMap::new(),
        }
    }

    pub(crate) fn add(&mut self, v: VillageTruth) {
        self.discrepancies.extend(v.discrepancies);
        for (k, counts) in v.leaves {
            add_counts(self.leaves.entry(k).or_insert([[0; 2]; 14]), &counts);
        }
    }

    /// Sorts and writes `discrepancies.parquet`, rolls up and writes `indicators.parquet`.
    pub(crate) fn finish(
        mut self,
        truth: &Path,
        divisions: &Divisions,
        jurisdiction: &str,
    ) -> Result<Written, SynthError> {
        let mut per_rule: BTreeMap<String, u64> =
            RULES.iter().map(|r| ((*r).to_owned(), 0)).collect();
        self.discrepancies
            .sort_unstable_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        let mut columns: Vec<(&'static str, PqType)> = vec![
            ("rule_id", PqType::Str),
            ("field", PqType::Str),
            ("village", PqType::Str),
            ("birth_id", PqType::Str),
            ("source", PqType::Str),
            ("record_key", PqType::Str),
        ];
        columns.extend(crate::KEY_COLUMNS.iter().map(|k| (*k, PqType::Str)));
        let mut sink = ParquetSink::create(&truth.join("discrepancies.parquet"), &columns)?;
        fn opt(v: Option<&str>) -> Val<'_> {
            v.map_or(Val::Null, Val::Str)
        }
        for d in &self.discrepancies {
            *per_rule.entry(d.rule_id().to_owned()).or_default() += 1;
            let mut row = vec![
                Val::Str(d.rule_id()),
                opt(d.field),
                opt(d.village.as_deref()),
                opt(d.birth_id.as_deref()),
                opt(d.source.map(Src::id)),
                opt(d.record_key.as_deref()),
            ];
            row.extend(d.keys.iter().map(|k| opt(k.as_deref())));
            sink.push(row)?;
        }
        sink.finish()?;
        let n_discrepancies = self.discrepancies.len() as u64;
        drop(self.discrepancies);

        let rows = indicators::roll_up(&self.leaves, divisions, jurisdiction);
        let mut sink = ParquetSink::create(
            &truth.join("indicators.parquet"),
            &[
                ("level", PqType::Str),
                ("area_code", PqType::Str),
                ("basis", PqType::Str),
                ("indicator_id", PqType::Str),
                ("numerator", PqType::I64),
                ("denominator", PqType::I64),
            ],
        )?;
        let mut n_indicators = 0u64;
        for ((basis, level, code), counts) in &rows {
            let code = if *level == Level::Jurisdiction {
                jurisdiction
            } else {
                code.as_str()
            };
            for (i, id) in INDICATORS.iter().enumerate() {
                let [num, den] = counts[i];
                sink.push([
                    Val::Str(level.as_str()),
                    Val::Str(code),
                    Val::Str(BASES[usize::from(*basis)]),
                    Val::Str(id),
                    Val::I64(num),
                    if i == 0 { Val::Null } else { Val::I64(den) },
                ])?;
                n_indicators += 1;
            }
        }
        sink.finish()?;
        Ok(Written {
            files: vec![
                (
                    PathBuf::from("truth").join("discrepancies.parquet"),
                    n_discrepancies,
                ),
                (
                    PathBuf::from("truth").join("indicators.parquet"),
                    n_indicators,
                ),
            ],
            per_rule,
        })
    }
}

pub(crate) fn add_counts(into: &mut Counts, from: &Counts) {
    for (a, b) in into.iter_mut().zip(from) {
        a[0] += b[0];
        a[1] += b[1];
    }
}

/// The key column index of a source (its position in [`schema::ALL`]).
fn key_slot(src: Src) -> usize {
    debug_assert_eq!(schema::ALL[src.index()], src);
    src.index()
}
