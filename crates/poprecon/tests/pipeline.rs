//! The nightly run over the synthetic village: reviewers' decisions through the whole
//! pipeline.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use polars::prelude::*;

fn poprecon(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_poprecon"))
        .args(args)
        .current_dir(cwd)
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .output()
        .expect("poprecon runs")
}

fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "exit {:?}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn read(path: &Path) -> DataFrame {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    ParquetReader::new(file).finish().expect("parquet")
}

fn strs(df: &DataFrame, col: &str) -> Vec<Option<String>> {
    df.column(col)
        .unwrap_or_else(|_| panic!("column `{col}`"))
        .cast(&DataType::String)
        .expect("text")
        .str()
        .expect("text")
        .iter()
        .map(|v| v.map(str::to_owned))
        .collect()
}

/// A synthetic village (seed `seed`) in a temporary folder; returns the folder and the
/// pipeline file synth wrote there.
fn village(seed: u64) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let seed = seed.to_string();
    ok(&poprecon(
        &[
            "synth", "--scale", "village", "--seed", &seed, "--out", "synth",
        ],
        dir.path(),
    ));
    let pipeline = dir.path().join("synth/pipeline.toml");
    assert!(pipeline.is_file());
    (dir, pipeline)
}

/// Adds `decisions = "<file>"` to the `[pipeline]` table.
fn with_decisions(pipeline: &Path, file: &str) {
    let text = std::fs::read_to_string(pipeline).unwrap();
    let text = text.replacen(
        "[pipeline]\n",
        &format!("[pipeline]\ndecisions = \"{file}\"\n"),
        1,
    );
    std::fs::write(pipeline, text).unwrap();
}

#[test]
fn linkage_decisions_change_the_births_and_are_reported() {
    let (dir, pipeline) = village(11);
    let p = pipeline.to_str().unwrap();
    ok(&poprecon(&["run", p, "--out", "run1"], dir.path()));
    let births = read(&dir.path().join("run1/births.parquet"));
    let del = strs(&births, "hospital_delivery_key");
    let cert = strs(&births, "birth_certificate_key");
    let method = strs(&births, "birth_certificate_method");
    // A birth whose certificate linked to its delivery with certainty.
    let i = (0..births.height())
        .find(|&i| del[i].is_some() && method[i].as_deref() == Some("deterministic"))
        .expect("a delivery with a deterministically linked certificate");
    let (d, c) = (del[i].clone().unwrap(), cert[i].clone().unwrap());
    std::fs::write(
        dir.path().join("synth/decisions.csv"),
        format!(
            "source,key,other_source,other_key,decision,reviewer,date,reason\n\
             hospital_delivery,{d},birth_certificate,{c},cannot_link,审核员甲,2026-02-01,两个孩子\n\
             hospital_delivery,{d},school,S1,must_link,审核员甲,2026-02-01,\n"
        ),
    )
    .unwrap();
    with_decisions(&pipeline, "decisions.csv");
    ok(&poprecon(&["run", p, "--out", "run2"], dir.path()));

    let after = read(&dir.path().join("run2/births.parquet"));
    let pairs: BTreeSet<(Option<String>, Option<String>)> = strs(&after, "hospital_delivery_key")
        .into_iter()
        .zip(strs(&after, "birth_certificate_key"))
        .collect();
    assert!(!pairs.contains(&(Some(d.clone()), Some(c.clone()))));
    assert!(pairs.iter().any(|(x, _)| x.as_deref() == Some(d.as_str())));
    assert!(pairs.iter().any(|(_, y)| y.as_deref() == Some(c.as_str())));
    assert_eq!(after.height(), births.height() + 1, "one birth became two");

    let decided = read(&dir.path().join("run2/link_decisions.parquet"));
    assert_eq!(
        strs(&decided, "outcome"),
        [
            Some("applied".to_owned()),
            Some("record_not_found".to_owned())
        ]
    );
    assert_eq!(
        strs(&decided, "line"),
        [Some("2".to_owned()), Some("3".to_owned())]
    );
    // Kept apart, the delivery now has no certificate: the rule says so.
    let disc = read(&dir.path().join("run2/discrepancies.parquet"));
    let rules = strs(&disc, "rule_id");
    let keys = strs(&disc, "hospital_delivery_key");
    assert!(
        (0..disc.height()).any(
            |k| rules[k].as_deref() == Some("delivery_without_certificate")
                && keys[k].as_deref() == Some(d.as_str())
        ),
        "the delivery kept apart is reported without a certificate"
    );
}
