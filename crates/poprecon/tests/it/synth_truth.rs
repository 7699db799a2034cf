//! Ingest against the synthetic city's truth: the quarantined rows (source, file, line,
//! reason, field) and the flagged invalid values (source, record key, field, reason) are
//! exactly those the generator injected.

use std::collections::BTreeSet;

use polars::prelude::*;
use poprecon_synth::{Scale, SynthConfig};

use crate::support::*;

type Row = (String, String, String, String);

fn truth_rows(df: &DataFrame, cols: [&str; 4]) -> BTreeSet<Row> {
    let c: Vec<Vec<Option<String>>> = cols.iter().map(|c| strs(df, c)).collect();
    (0..df.height())
        .map(|i| {
            let get = |k: usize| c[k][i].clone().unwrap_or_default();
            (get(0), get(1), get(2), get(3))
        })
        .collect()
}

fn file_name(p: &str) -> String {
    std::path::Path::new(p)
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[test]
fn quarantine_and_invalid_values_match_the_truth() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("city");
    poprecon_synth::generate(&SynthConfig::new(Scale::Village, 7), &out, &|_| {}).unwrap();
    let outputs = ingest_pipeline(&out.join("pipeline.toml"));

    let read = |name: &str| {
        let f = std::fs::File::open(out.join("truth").join(name)).unwrap();
        ParquetReader::new(f).finish().unwrap()
    };
    // Quarantine: where and why.
    let truth_q = read("quarantine.parquet");
    let mut expected: BTreeSet<Row> = BTreeSet::new();
    {
        let (s, f, r, fi) = (
            strs(&truth_q, "source"),
            strs(&truth_q, "file"),
            strs(&truth_q, "reason"),
            strs(&truth_q, "field"),
        );
        let l = ints(&truth_q, "line");
        for i in 0..truth_q.height() {
            expected.insert((
                s[i].clone().unwrap(),
                format!("{}:{}", file_name(f[i].as_deref().unwrap()), l[i].unwrap()),
                r[i].clone().unwrap(),
                fi[i].clone().unwrap_or_default(),
            ));
        }
    }
    let mut got: BTreeSet<Row> = BTreeSet::new();
    for o in &outputs {
        let q = &o.quarantine;
        let (f, r, fi) = (strs(q, "file"), strs(q, "reason"), strs(q, "field"));
        let l = ints(q, "line");
        for i in 0..q.height() {
            got.insert((
                o.source.to_owned(),
                format!("{}:{}", file_name(f[i].as_deref().unwrap()), l[i].unwrap()),
                r[i].clone().unwrap(),
                fi[i].clone().unwrap_or_default(),
            ));
        }
        assert_eq!(o.stats.read, o.stats.accepted + o.stats.quarantined);
    }
    assert!(
        !expected.is_empty(),
        "the truth has quarantine rows to find"
    );
    assert_eq!(got, expected, "quarantined rows");

    // Invalid values of kept rows: every flag the truth names, with its reason.
    let expected = truth_rows(
        &read("invalid_values.parquet"),
        ["source", "record_key", "field", "reason"],
    );
    let reasons: BTreeSet<String> = expected.iter().map(|r| r.3.clone()).collect();
    let mut got: BTreeSet<Row> = BTreeSet::new();
    for o in &outputs {
        let keys = strs(&o.records, poprecon_ingest::RECORD_KEY);
        let flags = strs(&o.records, poprecon_ingest::INVALID_FIELDS);
        for (k, f) in keys.iter().zip(&flags) {
            for flag in f.iter().flat_map(|f| f.split(';')) {
                let (field, reason) = flag.split_once(':').unwrap();
                // The truth records the damage the generator injected; other flags (a
                // source's own plausibility checks) are outside it.
                if reasons.contains(reason) {
                    got.insert((
                        o.source.to_owned(),
                        k.clone().unwrap_or_default(),
                        field.to_owned(),
                        reason.to_owned(),
                    ));
                }
            }
        }
    }
    assert!(!expected.is_empty(), "the truth has invalid values to find");
    let missing: Vec<_> = expected.difference(&got).take(5).collect();
    let extra: Vec<_> = got.difference(&expected).take(5).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}, extra {extra:?}"
    );
}
