//! One home per setting: changing a tolerance, a grace period or a window in the pipeline
//! file changes the rule and the indicator that read it together, on a night's run of a
//! synthetic county.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::support::{ints, ok, poprecon, read, strs};

/// A synthetic county and runs of its pipeline with extra settings.
struct County {
    dir: tempfile::TempDir,
}

impl County {
    fn new() -> County {
        let dir = tempfile::tempdir().unwrap();
        ok(&poprecon(
            &[
                "synth", "--scale", "county", "--seed", "1", "--out", "synth",
            ],
            dir.path(),
        ));
        County { dir }
    }

    /// Runs the pipeline with `extra` appended; the run folder.
    fn run(&self, name: &str, extra: &str) -> PathBuf {
        self.run_edited(name, |text| format!("{text}\n{extra}\n"))
    }

    /// Runs the pipeline as `edit` rewrites it; the run folder.
    fn run_edited(&self, name: &str, edit: impl Fn(String) -> String) -> PathBuf {
        let synth = self.dir.path().join("synth");
        let text = std::fs::read_to_string(synth.join("pipeline.toml")).unwrap();
        let pipeline = synth.join(format!("{name}.toml"));
        std::fs::write(&pipeline, edit(text)).unwrap();
        let out = format!("run-{name}");
        ok(&poprecon(
            &["run", pipeline.to_str().unwrap(), "--out", &out],
            self.dir.path(),
        ));
        self.dir.path().join(out).join("latest")
    }
}

/// Rows of `rule` in the run's discrepancies.
fn rule_rows(run: &Path, rule: &str) -> usize {
    strs(&read(&run.join("discrepancies.parquet")), "rule_id")
        .iter()
        .filter(|r| r.as_deref() == Some(rule))
        .count()
}

/// `village → count` of `rule` in `village_discrepancies`, villages with a count only.
fn rule_by_village(run: &Path, rule: &str) -> BTreeMap<String, i64> {
    let df = read(&run.join("village_discrepancies.parquet"));
    let (v, r, n) = (
        strs(&df, "village"),
        strs(&df, "rule_id"),
        ints(&df, "count"),
    );
    (0..df.height())
        .filter(|&i| r[i].as_deref() == Some(rule) && n[i].unwrap_or(0) > 0)
        .map(|i| (v[i].clone().unwrap_or_default(), n[i].unwrap()))
        .collect()
}

/// `(area, numerator, denominator)` of an indicator's rows at `level`, residence basis.
fn indicator(run: &Path, id: &str, level: &str) -> Vec<(String, i64, i64)> {
    let df = read(&run.join("indicators.parquet"));
    let (l, a, i, b) = (
        strs(&df, "level"),
        strs(&df, "area_code"),
        strs(&df, "indicator_id"),
        strs(&df, "basis"),
    );
    let (n, d) = (ints(&df, "numerator"), ints(&df, "denominator"));
    (0..df.height())
        .filter(|&k| {
            l[k].as_deref() == Some(level)
                && i[k].as_deref() == Some(id)
                && b[k].as_deref() == Some("residence")
        })
        .map(|k| (a[k].clone().unwrap(), n[k].unwrap(), d[k].unwrap_or(0)))
        .collect()
}

/// The births of the three mismatch rules, and the births the births stage marks.
fn mismatched(run: &Path) -> (BTreeSet<String>, BTreeSet<String>) {
    let d = read(&run.join("discrepancies.parquet"));
    let (rule, birth) = (strs(&d, "rule_id"), strs(&d, "birth_id"));
    let reported = (0..d.height())
        .filter(|&i| {
            matches!(
                rule[i].as_deref(),
                Some("sex_mismatch" | "birth_date_mismatch" | "mother_id_mismatch")
            )
        })
        .filter_map(|i| birth[i].clone())
        .collect();
    let b = read(&run.join("births.parquet"));
    let ids = strs(&b, "birth_id");
    let flag: Vec<Option<bool>> = b
        .column("mismatch")
        .unwrap()
        .bool()
        .unwrap()
        .iter()
        .collect();
    let marked = (0..b.height())
        .filter(|&i| flag[i] == Some(true))
        .filter_map(|i| ids[i].clone())
        .collect();
    (reported, marked)
}

#[test]
fn the_date_tolerance_changes_the_mismatch_rule_and_the_accuracy_indicator_together() {
    let county = County::new();
    let strict = county.run("strict", "");
    let tolerant = county.run(
        "tolerant",
        "[rules.birth_date_mismatch]\ntolerance_days = 3650\n",
    );
    assert!(rule_rows(&strict, "birth_date_mismatch") > 0);
    assert_eq!(rule_rows(&tolerant, "birth_date_mismatch"), 0);
    for run in [&strict, &tolerant] {
        // The rules report exactly the births the indicator counts as mismatched.
        let (reported, marked) = mismatched(run);
        assert_eq!(reported, marked);
    }
    // The births the tolerance forgives become accurate in the indicator.
    let accurate =
        |run: &Path| indicator(run, "birth_info_accuracy_rate", "jurisdiction")[0].clone();
    let (s, t) = (accurate(&strict), accurate(&tolerant));
    assert_eq!(s.2, t.2, "the same births are seen in two sources");
    assert!(t.1 > s.1, "the tolerant night counts more accurate births");
    let forgiven = mismatched(&strict).1.len() - mismatched(&tolerant).1.len();
    assert!(t.1 - s.1 <= forgiven as i64);
}

#[test]
fn a_grace_period_changes_the_rule_and_the_indicator_together_from_either_key() {
    let county = County::new();
    let default = county.run("default", "");
    assert!(rule_rows(&default, "delivery_without_certificate") > 0);
    assert!(indicator(&default, "birth_certificate_rate", "jurisdiction")[0].2 > 0);
    // 400 days before as_of is before the period: no birth is due a certificate yet, by the
    // rule or by the indicator, whichever key says so.
    let rule_key = county.run(
        "rule_key",
        "[rules.delivery_without_certificate]\ngrace_days = 400\n",
    );
    let indicator_key = county.run_edited("indicator_key", |text| {
        assert!(text.contains("\n[indicators]\n"));
        text.replace(
            "\n[indicators]\n",
            "\n[indicators]\ncertificate_after_days = 400\n",
        )
    });
    for (name, run) in [("rule_key", rule_key), ("indicator_key", indicator_key)] {
        assert_eq!(rule_rows(&run, "delivery_without_certificate"), 0, "{name}");
        assert_eq!(
            indicator(&run, "birth_certificate_rate", "jurisdiction")[0].2,
            0,
            "{name}"
        );
    }
}

#[test]
fn the_booking_window_changes_the_rule_and_the_indicator_together() {
    let county = County::new();
    for (name, extra) in [
        ("default", ""),
        ("narrow", "[linkage]\nprenatal_window_days = 60\n"),
    ] {
        let run = county.run(name, extra);
        // Per village, the deliveries the rule reports are the deliveries the indicator
        // counts without a booking (a delivery in no village counts for the jurisdiction
        // only).
        let mut rule = rule_by_village(&run, "delivery_without_prenatal_booking");
        rule.remove("");
        let unbooked: BTreeMap<String, i64> = indicator(&run, "prenatal_booking_rate", "village")
            .into_iter()
            .filter(|(_, n, d)| d - n > 0)
            .map(|(a, n, d)| (a, d - n))
            .collect();
        assert_eq!(rule, unbooked, "{name}");
        assert!(!rule.is_empty());
    }
    let total = |name: &str| {
        let run = county.dir.path().join(format!("run-{name}/latest"));
        rule_rows(&run, "delivery_without_prenatal_booking")
    };
    assert!(total("narrow") > total("default"));
}
