//! Scoring a run folder against the truth of the synth folder it read: the one comparison
//! behind the truth tests (`crates/poprecon/tests`) and the figures at scale
//! (`cargo run -p poprecon-synth --example truth_figures`).
//!
//! [`Compared::read`] reads both folders' tables; then
//!
//! - [`Compared::rules`] matches discrepancies per rule: a rule about a birth by (rule, the
//!   truth's birth), the run's birth being the truth birth of its first record (delivery,
//!   certificate, household, vaccination); a rule about a record by (rule, source, key) and,
//!   for `invalid_value` and `id_number_conflict`, the field. Copies count (a duplicated key
//!   is two records). Resolved discrepancies of the run are not counted.
//! - [`Compared::linked_pairs`] compares the pairs of birth-level records linked in one
//!   birth.
//! - [`Compared::indicators`] lists the indicator rows, by (level, area, basis, indicator),
//!   whose numerator or denominator differ.
//! - [`Compared::quarantine`] lists the quarantined rows of both, by source, file name,
//!   line, reason and field.
//!
//! Scores are aggregates and record keys of synthetic data; nothing here prints.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::SynthError;

/// The sources whose records make a birth, in the order a run's birth is known by its first
/// record.
pub const BIRTH_SOURCES: [&str; 4] = poprecon_model::BIRTH_LEVEL_IDS;

/// Every source, in the order of the `<source>_key` columns (domain.md §7).
pub const ALL_SOURCES: [&str; 9] = poprecon_model::SOURCE_IDS;

/// Rules the truth does not state: `ambiguous_link` is a property of the linkage model's
/// ties (the truth's docs say why); the linkage's unit tests measure it.
pub const NOT_IN_TRUTH: [&str; 1] = ["ambiguous_link"];

/// Rules about one record rather than a birth (domain.md §8.13, and the two per-field ID
/// rules).
const RECORD_RULES: [&str; 7] = [
    "late_prenatal_booking",
    "registration_without_marriage",
    "maternity_claim_without_delivery",
    "student_without_household_registration",
    "duplicate_record",
    "invalid_value",
    "id_number_conflict",
];

/// What a run found against what the truth expects, and how many of the found are right.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Score {
    pub found: usize,
    pub expected: usize,
    pub hits: usize,
}

impl Score {
    /// Hits over found (1 when nothing was found).
    pub fn precision(&self) -> f64 {
        ratio(self.hits, self.found)
    }

    /// Hits over expected (1 when nothing was expected).
    pub fn recall(&self) -> f64 {
        ratio(self.hits, self.expected)
    }

    /// Precision and recall both at least `floor`.
    pub fn at_least(&self, floor: f64) -> bool {
        self.precision() >= floor && self.recall() >= floor
    }
}

/// Per rule id.
pub type RuleScores = BTreeMap<String, Score>;

/// Indicator rows that differ: `level|area|basis|indicator` → (run's, truth's) numerator and
/// denominator; `None` where the row is missing.
pub type IndicatorDiff = BTreeMap<String, (Option<Counts>, Option<Counts>)>;

/// An indicator row's numerator and denominator.
pub type Counts = (i64, Option<i64>);

/// The tables of a synth folder's `truth/` and of a run folder.
#[derive(Debug)]
pub struct Compared {
    truth_births: DataFrame,
    truth_discrepancies: DataFrame,
    truth_indicators: DataFrame,
    truth_quarantine: DataFrame,
    run_births: DataFrame,
    /// The run's discrepancies that are not resolved.
    run_discrepancies: DataFrame,
    run_indicators: DataFrame,
    /// Per source, the run's `quarantine/<source>.parquet` where there is one.
    run_quarantine: Vec<(&'static str, DataFrame)>,
}

impl Compared {
    /// Reads `synth/truth/*.parquet` (the folder `poprecon synth --out` wrote) and the tables
    /// of the run folder `run` (such as `ROOT/latest`).
    pub fn read(synth: &Path, run: &Path) -> Result<Compared, SynthError> {
        let truth = synth.join("truth");
        let run_discrepancies = read(&run.join("discrepancies.parquet"))?;
        let run_discrepancies = run_discrepancies
            .lazy()
            .filter(col("status").neq(lit("resolved")))
            .collect()
            .map_err(|e| SynthError::Read {
                path: run.join("discrepancies.parquet"),
                message: e.to_string(),
            })?;
        let mut run_quarantine = Vec::new();
        for source in ALL_SOURCES {
            let path = run.join(format!("quarantine/{source}.parquet"));
            if path.is_file() {
                run_quarantine.push((source, read(&path)?));
            }
        }
        Ok(Compared {
            truth_births: read(&truth.join("births.parquet"))?,
            truth_discrepancies: read(&truth.join("discrepancies.parquet"))?,
            truth_indicators: read(&truth.join("indicators.parquet"))?,
            truth_quarantine: read(&truth.join("quarantine.parquet"))?,
            run_births: read(&run.join("births.parquet"))?,
            run_discrepancies,
            run_indicators: read(&run.join("indicators.parquet"))?,
            run_quarantine,
        })
    }

    /// Per rule of either side, the run's discrepancies against the truth's.
    pub fn rules(&self) -> PolarsResult<RuleScores> {
        let truth_index = birth_index(&self.truth_births)?;
        let truth_ids = strs(&self.truth_discrepancies, "birth_id")?;
        let expected = identities(&self.truth_discrepancies, &|i| truth_ids[i].clone())?;

        // The run's births, each as the truth birth of its first record.
        let run_index = birth_index(&self.run_births)?;
        let mut as_truth: HashMap<String, String> = HashMap::new();
        for s in BIRTH_SOURCES {
            for (k, b) in run_index.iter().filter(|((src, _), _)| *src == s) {
                if let Some(t) = truth_index.get(k) {
                    as_truth.entry(b.clone()).or_insert_with(|| t.clone());
                }
            }
        }
        let found_births = strs(&self.run_discrepancies, "birth_id")?;
        let found = identities(&self.run_discrepancies, &|i| {
            found_births[i]
                .as_ref()
                .and_then(|b| as_truth.get(b))
                .cloned()
        })?;
        let empty = BTreeMap::new();
        let rules: BTreeSet<&String> = expected.keys().chain(found.keys()).collect();
        Ok(rules
            .into_iter()
            .map(|rule| {
                let e = expected.get(rule).unwrap_or(&empty);
                let f = found.get(rule).unwrap_or(&empty);
                let hits = f
                    .iter()
                    .map(|(id, n)| (*n).min(e.get(id).copied().unwrap_or(0)))
                    .sum();
                let score = Score {
                    found: f.values().sum(),
                    expected: e.values().sum(),
                    hits,
                };
                (rule.clone(), score)
            })
            .collect())
    }

    /// The pairs of birth-level records linked in one birth, the run's against the truth's.
    pub fn linked_pairs(&self) -> PolarsResult<Score> {
        let found = birth_pairs(&self.run_births)?;
        let expected = birth_pairs(&self.truth_births)?;
        Ok(Score {
            found: found.len(),
            expected: expected.len(),
            hits: found.intersection(&expected).count(),
        })
    }

    /// The number of the run's indicator rows, and the rows that differ: every row of the run
    /// must be in the truth with the same counts, and every truth row of a basis and
    /// indicator the run computes must be in the run.
    pub fn indicators(&self) -> PolarsResult<(usize, IndicatorDiff)> {
        let found = indicator_rows(&self.run_indicators)?;
        let expected = indicator_rows(&self.truth_indicators)?;
        let computed: BTreeSet<String> = found
            .keys()
            .map(|k| k.splitn(3, '|').nth(2).unwrap_or_default().to_owned())
            .collect();
        let mut diff = IndicatorDiff::new();
        for (k, v) in &found {
            if expected.get(k) != Some(v) {
                diff.insert(k.clone(), (Some(*v), expected.get(k).copied()));
            }
        }
        for (k, v) in &expected {
            let what = k.splitn(3, '|').nth(2).unwrap_or_default();
            if computed.contains(what) && !found.contains_key(k) {
                diff.insert(k.clone(), (None, Some(*v)));
            }
        }
        Ok((found.len(), diff))
    }

    /// The quarantined rows of the run and of the truth, each `source file:line reason
    /// field` (the file by its name alone), sorted.
    pub fn quarantine(&self) -> PolarsResult<(Vec<String>, Vec<String>)> {
        let mut found = Vec::new();
        for (source, df) in &self.run_quarantine {
            found.extend(quarantine_rows(df, Some(source))?);
        }
        let mut expected = quarantine_rows(&self.truth_quarantine, None)?;
        found.sort();
        expected.sort();
        Ok((found, expected))
    }
}

/// The run's indicator rows, `level|area|basis|indicator` → counts.
pub fn indicator_rows(df: &DataFrame) -> PolarsResult<BTreeMap<String, Counts>> {
    let level = strs(df, "level")?;
    let area = strs(df, "area_code")?;
    let basis = strs(df, "basis")?;
    let id = strs(df, "indicator_id")?;
    let num = ints(df, "numerator")?;
    let den = ints(df, "denominator")?;
    Ok((0..df.height())
        .map(|i| {
            let key = format!(
                "{}|{}|{}|{}",
                level[i].as_deref().unwrap_or(""),
                area[i].as_deref().unwrap_or(""),
                basis[i].as_deref().unwrap_or(""),
                id[i].as_deref().unwrap_or("")
            );
            (key, (num[i].unwrap_or(0), den[i]))
        })
        .collect())
}

/// A Markdown table of the per-rule scores (the closing notes' table).
pub fn rule_table(scores: &RuleScores) -> String {
    let mut t = String::from(
        "| rule | found | expected | precision | recall |\n| --- | --- | --- | --- | --- |\n",
    );
    for (rule, s) in scores {
        let _ = writeln!(
            t,
            "| {rule} | {} | {} | {:.4} | {:.4} |",
            s.found,
            s.expected,
            s.precision(),
            s.recall()
        );
    }
    t
}

/// The first `limit` differing indicator rows, one a line.
pub fn diff_lines(diff: &IndicatorDiff, limit: usize) -> String {
    diff.iter()
        .take(limit)
        .map(|(k, (f, e))| format!("{k}: found {f:?}, truth {e:?}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}

fn read(path: &Path) -> Result<DataFrame, SynthError> {
    let fail = |message: String| SynthError::Read {
        path: PathBuf::from(path),
        message,
    };
    let file = std::fs::File::open(path).map_err(|e| fail(e.to_string()))?;
    ParquetReader::new(file)
        .finish()
        .map_err(|e| fail(e.to_string()))
}

/// A column as text (null stays `None`).
fn strs(df: &DataFrame, name: &str) -> PolarsResult<Vec<Option<String>>> {
    let text = df.column(name)?.cast(&DataType::String)?;
    Ok(text.str()?.iter().map(|v| v.map(str::to_owned)).collect())
}

fn ints(df: &DataFrame, name: &str) -> PolarsResult<Vec<Option<i64>>> {
    let n = df.column(name)?.cast(&DataType::Int64)?;
    Ok(n.i64()?.iter().collect())
}

/// Each (source, key) of a birth table's `<source>_key` columns → the table's `birth_id`.
fn birth_index(births: &DataFrame) -> PolarsResult<HashMap<(&'static str, String), String>> {
    let ids = strs(births, "birth_id")?;
    let mut index = HashMap::new();
    for s in BIRTH_SOURCES {
        for (i, k) in strs(births, &format!("{s}_key"))?.into_iter().enumerate() {
            if let (Some(k), Some(b)) = (k, &ids[i]) {
                index.insert((s, k), b.clone());
            }
        }
    }
    Ok(index)
}

/// The identities of a discrepancy table, counted per rule. `birth_of` maps a row to the
/// truth's birth id of its birth.
fn identities(
    df: &DataFrame,
    birth_of: &dyn Fn(usize) -> Option<String>,
) -> PolarsResult<BTreeMap<String, BTreeMap<String, usize>>> {
    let rules = strs(df, "rule_id")?;
    let fields = strs(df, "field")?;
    let birth_ids = strs(df, "birth_id")?;
    let keys = ALL_SOURCES
        .iter()
        .map(|s| strs(df, &format!("{s}_key")))
        .collect::<PolarsResult<Vec<_>>>()?;
    let mut out: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for i in 0..df.height() {
        let Some(rule) = rules[i].clone() else {
            return Err(polars_err!(ComputeError: "a discrepancy without a rule id"));
        };
        if NOT_IN_TRUTH.contains(&rule.as_str()) {
            continue;
        }
        // A rule about births fires on a record of no birth too (a stillbirth's delivery
        // without a booking, §8.4): such a row is known by its record keys.
        let id = if RECORD_RULES.contains(&rule.as_str()) || birth_ids[i].is_none() {
            let involved: Vec<String> = ALL_SOURCES
                .iter()
                .zip(&keys)
                .filter_map(|(s, k)| k[i].as_ref().map(|k| format!("{s}:{k}")))
                .collect();
            let field = match rule.as_str() {
                "invalid_value" | "id_number_conflict" => fields[i].clone().unwrap_or_default(),
                _ => String::new(),
            };
            format!("{}|{field}", involved.join(","))
        } else {
            match birth_of(i) {
                Some(b) => b,
                None => format!("unmatched-birth-{i}"),
            }
        };
        *out.entry(rule).or_default().entry(id).or_default() += 1;
    }
    Ok(out)
}

/// Pairs of birth-level records in one birth: `source a:key a|source b:key b`.
fn birth_pairs(births: &DataFrame) -> PolarsResult<BTreeSet<String>> {
    let keys = BIRTH_SOURCES
        .iter()
        .map(|s| strs(births, &format!("{s}_key")))
        .collect::<PolarsResult<Vec<_>>>()?;
    let mut pairs = BTreeSet::new();
    for i in 0..births.height() {
        let present: Vec<(&str, &str)> = BIRTH_SOURCES
            .iter()
            .zip(&keys)
            .filter_map(|(s, k)| k[i].as_deref().map(|k| (*s, k)))
            .collect();
        for (n, (a, x)) in present.iter().enumerate() {
            for (b, y) in &present[n + 1..] {
                pairs.insert(format!("{a}:{x}|{b}:{y}"));
            }
        }
    }
    Ok(pairs)
}

/// The rows of a quarantine table (a run's, of `source`, or the truth's, with a `source`
/// column): `source file:line reason field`.
fn quarantine_rows(df: &DataFrame, source: Option<&str>) -> PolarsResult<Vec<String>> {
    let src = match source {
        Some(s) => vec![Some(s.to_owned()); df.height()],
        None => strs(df, "source")?,
    };
    let file = strs(df, "file")?;
    let reason = strs(df, "reason")?;
    let field = strs(df, "field")?;
    let line = ints(df, "line")?;
    Ok((0..df.height())
        .map(|i| {
            let f = file[i].as_deref().unwrap_or_default();
            let f = f.rsplit(['/', '\\']).next().unwrap_or_default();
            format!(
                "{} {f}:{} {} {}",
                src[i].as_deref().unwrap_or_default(),
                line[i].unwrap_or_default(),
                reason[i].as_deref().unwrap_or_default(),
                field[i].as_deref().unwrap_or_default()
            )
        })
        .collect())
}
