//! The nightly run against the synthetic truth: `poprecon synth` writes extracts and, from
//! domain.md applied to the values as written with the true linkage, the discrepancies and
//! indicators the pipeline must find (`truth/discrepancies.parquet`,
//! `truth/indicators.parquet`). These tests run `poprecon run` on them and compare.
//!
//! The comparison is `poprecon_synth::score` (its docs say how discrepancies, linked pairs,
//! indicators and quarantine are matched), shared with the figures at scale: `cargo run -p
//! poprecon-synth --example truth_figures -- SYNTH_DIR RUN_DIR` (README.md).

use std::collections::BTreeMap;
use std::path::PathBuf;

use polars::prelude::*;
use poprecon_synth::score::{Compared, RuleScores, diff_lines, indicator_rows, rule_table};

use crate::support::*;

/// Synth output and a run over it.
struct Scored {
    _dir: tempfile::TempDir,
    synth: PathBuf,
    run: PathBuf,
}

fn synth_and_run(scale: &str, seed: u64) -> Scored {
    let dir = tempfile::tempdir().unwrap();
    let seed = seed.to_string();
    ok(&poprecon(
        &["synth", "--scale", scale, "--seed", &seed, "--out", "synth"],
        dir.path(),
    ));
    ok(&poprecon(
        &["run", "synth/pipeline.toml", "--out", "run"],
        dir.path(),
    ));
    Scored {
        synth: dir.path().join("synth"),
        run: dir.path().join("run/latest"),
        _dir: dir,
    }
}

/// Another county's extracts (`synth --dialect county-b`) read as a new user would: `init`
/// drafts the pipeline from the extracts folder (headers, encodings, sheets, the one
/// 行政区划 table), and `run` reads it with no hand edit. `init --as-of` only pins the
/// date (the period drafted is the year before it), so the test does not age.
fn county_b_from_init(scale: &str, seed: u64) -> Scored {
    let dir = tempfile::tempdir().unwrap();
    let seed = seed.to_string();
    ok(&poprecon(
        &[
            "synth",
            "--dialect",
            "county-b",
            "--scale",
            scale,
            "--seed",
            &seed,
            "--out",
            "synth",
        ],
        dir.path(),
    ));
    ok(&poprecon(
        &[
            "init",
            "synth/extracts",
            "--out",
            "county-b.toml",
            "--as-of",
            "2026-01-31",
        ],
        dir.path(),
    ));
    let run = poprecon(&["run", "county-b.toml", "--out", "run"], dir.path());
    assert!(
        matches!(run.status.code(), Some(0 | 3)),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    Scored {
        synth: dir.path().join("synth"),
        run: dir.path().join("run/latest"),
        _dir: dir,
    }
}

impl Scored {
    fn compared(&self) -> Compared {
        Compared::read(&self.synth, &self.run).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// The run's indicators equal the truth's (and there are some), or a failure.
fn indicators_equal(c: &Compared, failures: &mut Vec<String>) {
    let (n, diff) = c.indicators().expect("indicator tables");
    assert!(n > 0, "the run computed indicators");
    if !diff.is_empty() {
        failures.push(format!(
            "{} indicator rows differ:\n{}",
            diff.len(),
            diff_lines(&diff, 40)
        ));
    }
}

/// Linked pairs and every rule at precision and recall ≥ 0.99, or a failure each; returns
/// the per-rule scores.
fn linked_pairs_and_rules(c: &Compared, failures: &mut Vec<String>) -> RuleScores {
    let pairs = c.linked_pairs().expect("birth tables");
    if !pairs.at_least(0.99) {
        failures.push(format!(
            "linked pairs: precision {:.4}, recall {:.4}",
            pairs.precision(),
            pairs.recall()
        ));
    }
    let scores = c.rules().expect("discrepancy tables");
    if scores.values().any(|s| !s.at_least(0.99)) {
        failures.push(format!("rules below 0.99:\n{}", rule_table(&scores)));
    }
    scores
}

/// Every table of the run that the truth describes, at village scale: quarantine (equal),
/// births (pairs of linked records, precision and recall ≥ 0.99), discrepancies (per rule,
/// precision and recall ≥ 0.99), the village table (its counts are the discrepancies'),
/// indicators (equal).
#[test]
fn the_run_matches_the_truth_at_village_scale() {
    let mut seen = std::collections::BTreeSet::new();
    for seed in [1, 2] {
        let s = synth_and_run("village", seed);
        let c = s.compared();
        let mut failures = Vec::new();

        let (found, expected) = c.quarantine().expect("quarantine tables");
        assert!(!expected.is_empty(), "the truth quarantines rows");
        if found != expected {
            failures.push(format!(
                "quarantine differs: {} found, {} expected",
                found.len(),
                expected.len()
            ));
        }

        let scores = linked_pairs_and_rules(&c, &mut failures);
        seen.extend(scores.keys().cloned());

        let disc = read(&s.run.join("discrepancies.parquet"))
            .lazy()
            .filter(col("status").neq(lit("resolved")))
            .group_by([col("village"), col("rule_id")])
            .agg([len().cast(DataType::Int64).alias("n")])
            .collect()
            .expect("group");
        let counted: BTreeMap<String, i64> = {
            let (v, r, n) = (
                strs(&disc, "village"),
                strs(&disc, "rule_id"),
                ints(&disc, "n"),
            );
            (0..disc.height())
                .map(|i| {
                    (
                        format!(
                            "{}|{}",
                            v[i].as_deref().unwrap_or(""),
                            r[i].as_deref().unwrap_or("")
                        ),
                        n[i].unwrap_or(0),
                    )
                })
                .collect()
        };
        let vd = read(&s.run.join("village_discrepancies.parquet"));
        let (v, r, n) = (
            strs(&vd, "village"),
            strs(&vd, "rule_id"),
            ints(&vd, "count"),
        );
        for i in 0..vd.height() {
            let k = format!(
                "{}|{}",
                v[i].as_deref().unwrap_or(""),
                r[i].as_deref().unwrap_or("")
            );
            let want = counted.get(&k).copied().unwrap_or(0);
            if n[i].unwrap_or(0) != want {
                failures.push(format!(
                    "village table {k}: count {:?}, discrepancies {want}",
                    n[i]
                ));
            }
        }

        indicators_equal(&c, &mut failures);
        assert!(failures.is_empty(), "seed {seed}:\n{}", failures.join("\n"));
    }
    // The two villages exercise most of the catalogue; the county test below the rest.
    assert!(seen.len() >= 15, "rules seen: {seen:?}");
}

/// At county scale every rule of the truth occurs: each at precision and recall ≥ 0.99, and
/// the indicators equal.
#[test]
fn the_run_matches_the_truth_at_county_scale() {
    let c = synth_and_run("county", 3).compared();
    let scores = c.rules().expect("discrepancy tables");
    let weak = scores.values().any(|s| !s.at_least(0.99));
    assert!(
        !weak && scores.len() >= 21,
        "per rule:\n{}",
        rule_table(&scores)
    );
    let (n, diff) = c.indicators().expect("indicator tables");
    assert!(n > 0, "the run computed indicators");
    assert!(
        diff.is_empty(),
        "{} rows differ:\n{}",
        diff.len(),
        diff_lines(&diff, 40)
    );
}

/// The county-b dialect, from `init` to `run` with no hand edit, matches its truth: linked
/// pairs, every rule at precision and recall ≥ 0.99, indicators equal; every code of its
/// extracts is known (every 险种), the pipeline reads its one division table, and a
/// community whose only deliveries are stillbirths has its indicator rows (§8.21).
#[test]
fn the_county_b_dialect_runs_from_init_and_matches_its_truth() {
    for seed in [1, 2] {
        let s = county_b_from_init("village", seed);
        let c = s.compared();
        let mut failures = Vec::new();
        linked_pairs_and_rules(&c, &mut failures);
        indicators_equal(&c, &mut failures);
        let manifest: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(s.run.join("manifest.json")).unwrap())
                .unwrap();
        let unknown = &manifest["unknown_codes"];
        if unknown.as_array().is_none_or(|a| !a.is_empty()) {
            failures.push(format!("unknown codes: {unknown}"));
        }
        // The stillbirths' community: deliveries, no birth, every indicator.
        let rows = indicator_rows(&read(&s.run.join("indicators.parquet"))).expect("indicators");
        let community: Vec<&String> = rows
            .keys()
            .filter(|k| {
                k.starts_with("village|") && k.split('|').nth(1).is_some_and(|a| a.ends_with("899"))
            })
            .collect();
        if community.is_empty() {
            failures.push("no indicator row of a stillbirth-only community".to_owned());
        }
        assert!(failures.is_empty(), "seed {seed}:\n{}", failures.join("\n"));
    }
}
