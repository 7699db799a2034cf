//! The nightly run end to end over a synthetic village: its outputs against insta snapshots
//! (inputs with their hashes, every output table's rows, the jurisdiction's and counties'
//! indicators, discrepancies per rule, assessment; after an intended change, review them
//! with `cargo insta review` or `INSTA_UPDATE=always`), and reviewers' decisions through the
//! whole pipeline. `truth.rs` compares the same tables with the generator's truth.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::support::*;

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
    let births = read(&dir.path().join("run1/latest/births.parquet"));
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

    let after = read(&dir.path().join("run2/latest/births.parquet"));
    let pairs: BTreeSet<(Option<String>, Option<String>)> = strs(&after, "hospital_delivery_key")
        .into_iter()
        .zip(strs(&after, "birth_certificate_key"))
        .collect();
    assert!(!pairs.contains(&(Some(d.clone()), Some(c.clone()))));
    assert!(pairs.iter().any(|(x, _)| x.as_deref() == Some(d.as_str())));
    assert!(pairs.iter().any(|(_, y)| y.as_deref() == Some(c.as_str())));
    assert_eq!(after.height(), births.height() + 1, "one birth became two");

    let decided = read(&dir.path().join("run2/latest/link_decisions.parquet"));
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
    let disc = read(&dir.path().join("run2/latest/discrepancies.parquet"));
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

/// A table as text, one `|`-joined line per row, floats rounded to 4 places.
fn lines(df: &DataFrame, cols: &[&str]) -> String {
    let cols: Vec<Vec<String>> = cols
        .iter()
        .map(|c| {
            let col = df.column(c).unwrap_or_else(|_| panic!("column `{c}`"));
            if col.dtype().is_float() {
                col.cast(&DataType::Float64)
                    .expect("float")
                    .f64()
                    .expect("float")
                    .iter()
                    .map(|v| v.map_or("∅".to_owned(), |v| format!("{v:.4}")))
                    .collect()
            } else {
                strs(df, c)
                    .into_iter()
                    .map(|v| v.unwrap_or_else(|| "∅".to_owned()))
                    .collect()
            }
        })
        .collect();
    let mut out = String::new();
    for i in 0..df.height() {
        let row: Vec<&str> = cols.iter().map(|c| c[i].as_str()).collect();
        out.push_str(&row.join("|"));
        out.push('\n');
    }
    out
}

#[test]
fn the_village_run_matches_its_snapshots() {
    let (dir, pipeline) = village(1);
    let root = dir.path().join("run");
    let out = poprecon(
        &[
            "run",
            pipeline.to_str().unwrap(),
            "--out",
            root.to_str().unwrap(),
        ],
        dir.path(),
    );
    let run = root.join("latest");
    assert!(
        matches!(out.status.code(), Some(0 | 3)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("manifest.json")).unwrap()).unwrap();
    let mut inputs = String::new();
    for i in manifest["inputs"].as_array().expect("inputs") {
        let path = i["path"].as_str().unwrap_or_default();
        let file = path.rsplit(['/', '\\']).next().unwrap_or_default();
        inputs.push_str(&format!(
            "{} {file} {} read={} accepted={} quarantined={}\n",
            i["source"].as_str().unwrap_or_default(),
            i["sha256"].as_str().unwrap_or_default(),
            i["rows_read"],
            i["rows_accepted"],
            i["rows_quarantined"]
        ));
    }
    insta::assert_snapshot!("village_inputs", inputs);
    let outputs: String = manifest["outputs"]
        .as_array()
        .expect("outputs")
        .iter()
        .map(|o| format!("{} {}\n", o["file"].as_str().unwrap_or_default(), o["rows"]))
        .collect();
    insta::assert_snapshot!("village_outputs", outputs);

    let indicators = read(&run.join("indicators.parquet"))
        .lazy()
        .filter(
            col("level")
                .eq(lit("jurisdiction"))
                .or(col("level").eq(lit("county"))),
        )
        .collect()
        .expect("filter");
    insta::assert_snapshot!(
        "village_indicators",
        lines(
            &indicators,
            &[
                "level",
                "area_code",
                "basis",
                "indicator_id",
                "numerator",
                "denominator",
                "value"
            ]
        )
    );
    let by_rule = read(&run.join("village_discrepancies.parquet"))
        .lazy()
        .group_by([col("rule_id")])
        .agg([col("count").sum(), col("denominator").sum()])
        .sort(["rule_id"], Default::default())
        .collect()
        .expect("group");
    insta::assert_snapshot!(
        "village_discrepancies_by_rule",
        lines(&by_rule, &["rule_id", "count", "denominator"])
    );
    let assessment = read(&run.join("assessment.parquet"));
    // Every column but the run's id, which changes with every run (`as_of` stays).
    let cols: Vec<String> = assessment
        .get_column_names()
        .iter()
        .map(|c| c.to_string())
        .filter(|c| c != "run_id")
        .collect();
    let cols: Vec<&str> = cols.iter().map(String::as_str).collect();
    insta::assert_snapshot!("village_assessment", lines(&assessment, &cols));
}

/// The library's executor is the night: `poprecon_pipeline::execute` over a village returns
/// the tables `poprecon run` wrote (their `run_id` and `as_of` stamp aside), stage by stage.
#[test]
fn the_executor_returns_the_tables_the_run_writes() {
    let (dir, pipeline) = village(5);
    ok(&poprecon(
        &["run", pipeline.to_str().unwrap(), "--out", "run"],
        dir.path(),
    ));
    let plan = poprecon_pipeline::Plan::load(&pipeline).unwrap();
    let t = poprecon_pipeline::execute(&plan, &poprecon_pipeline::ExecuteOptions::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let stages: Vec<&str> = t.stages.iter().map(|s| s.stage.as_str()).collect();
    assert_eq!(stages, ["ingest", "link", "births", "check", "measure"]);
    let run = dir.path().join("run/latest");
    let mut tables: Vec<(String, &DataFrame)> = vec![
        ("births.parquet".into(), &t.linked.births),
        ("links.parquet".into(), &t.linked.links),
        ("ambiguous_links.parquet".into(), &t.linked.ambiguous),
        ("link_decisions.parquet".into(), &t.linked.decisions),
        ("discrepancies.parquet".into(), &t.discrepancies),
        (
            "village_discrepancies.parquet".into(),
            &t.village_discrepancies,
        ),
        ("indicators.parquet".into(), &t.indicators),
        ("indicator_births.parquet".into(), &t.indicator_births),
        ("assessment.parquet".into(), &t.assessment),
        ("data_quality.parquet".into(), &t.data_quality),
    ];
    // The household registry, the school, marriage and social-security records come back
    // narrowed to the rows the later stages read one by one (in file order), and so they
    // are written.
    for (id, df) in &t.records {
        tables.push((format!("sources/{id}.parquet"), df));
    }
    // With `--keep-sources`, their files have every accepted row; the rows held among them.
    ok(&poprecon(
        &[
            "run",
            pipeline.to_str().unwrap(),
            "--out",
            "kept",
            "--keep-sources",
        ],
        dir.path(),
    ));
    for id in ["household", "school", "marriage", "social_security"] {
        let held = &t.records[id];
        let accepted = t.ingest.iter().find(|s| s.source == id).unwrap();
        assert!((held.height() as u64) < accepted.accepted, "{id}");
        let kept = read(&dir.path().join(format!("kept/latest/sources/{id}.parquet")))
            .drop_many(["run_id", "as_of"]);
        assert_eq!(kept.height() as u64, accepted.accepted, "{id}");
        let lines = held
            .clone()
            .lazy()
            .select([col("source_file"), col("source_line")]);
        let written_held = kept
            .lazy()
            .join(
                lines,
                [col("source_file"), col("source_line")],
                [col("source_file"), col("source_line")],
                JoinArgs::new(JoinType::Semi),
            )
            .collect()
            .unwrap();
        assert!(written_held.equals_missing(held), "the {id} rows held");
    }
    for (id, df) in &t.quarantine {
        tables.push((format!("quarantine/{id}.parquet"), df));
    }
    assert_eq!(t.records.len(), 9, "every source");
    for (name, df) in tables {
        let written = read(&run.join(&name));
        let written = if df.width() == 0 {
            written
        } else {
            written.drop_many(["run_id", "as_of"])
        };
        assert!(
            written.equals_missing(df),
            "{name}: written {:?}, returned {:?}",
            written.shape(),
            df.shape()
        );
    }
}

/// `execute` reads the workbook sources on a thread of their own, yet its `Progress` still
/// sees one source at a time (started, its rows, finished), each source once with all its
/// rows, and the ingest statistics and quarantines come back in plan order.
#[test]
fn the_executor_reports_one_source_at_a_time_in_plan_order() {
    use std::sync::Mutex;

    #[derive(Default)]
    struct Recorder(Mutex<Vec<(&'static str, &'static str, u64)>>);

    impl poprecon_pipeline::Progress for Recorder {
        fn source_started(&self, source: &'static str) {
            self.0.lock().unwrap().push(("started", source, 0));
        }
        fn source_rows(&self, rows: u64) {
            self.0.lock().unwrap().push(("rows", "", rows));
        }
        fn source_finished(&self, source: &'static str) {
            self.0.lock().unwrap().push(("finished", source, 0));
        }
    }

    let (_dir, pipeline) = village(5);
    let plan = poprecon_pipeline::Plan::load(&pipeline).unwrap();
    assert!(
        plan.sources
            .iter()
            .any(|sp| sp.files.iter().all(|f| f.format.is_workbook())),
        "the village has a workbook source"
    );
    let recorder = Recorder::default();
    let opts = poprecon_pipeline::ExecuteOptions {
        previous: None,
        progress: &recorder,
        whole_sources: false,
    };
    let t = poprecon_pipeline::execute(&plan, &opts).unwrap_or_else(|e| panic!("{e}"));
    let planned: Vec<&str> = plan.sources.iter().map(|sp| sp.source.id()).collect();
    let ingested: Vec<&str> = t.ingest.iter().map(|s| s.source.as_str()).collect();
    assert_eq!(ingested, planned);
    let quarantined: Vec<&str> = t.quarantine.iter().map(|(id, _)| *id).collect();
    assert_eq!(quarantined, planned);

    let events = recorder.0.into_inner().unwrap();
    let mut current: Option<&str> = None;
    let mut rows: std::collections::BTreeMap<&str, u64> = Default::default();
    for (event, source, n) in events {
        match (event, current) {
            ("started", None) => {
                assert!(!rows.contains_key(source), "{source} reported twice");
                rows.insert(source, 0);
                current = Some(source);
            }
            ("rows", Some(s)) => *rows.get_mut(s).unwrap() += n,
            ("finished", Some(s)) => {
                assert_eq!(s, source);
                current = None;
            }
            other => panic!("{other:?}: sources overlap"),
        }
    }
    assert_eq!(current, None);
    for stats in &t.ingest {
        assert_eq!(rows[stats.source.as_str()], stats.read, "{}", stats.source);
    }
}

/// The household registry in two files, with an adult entered twice, once in each: in the
/// first file the row is held only for the copy in the second (a key of several rows is
/// held whole), so the night reads the first file again for it. Every table is what the
/// registry in one file gives, and so are the rows held (but for their file and line).
#[test]
fn a_registry_in_two_files_gives_what_one_file_gives() {
    let (dir, pipeline) = village(5);
    let plan = poprecon_pipeline::Plan::load(&pipeline).unwrap();
    let first = poprecon_pipeline::execute(&plan, &Default::default()).unwrap();

    // Every ID the other sources give (a superset of those the night looks up).
    let mut named: BTreeSet<String> = BTreeSet::new();
    for (_, df) in first.records.iter().filter(|(id, _)| *id != "household") {
        for c in df.get_column_names() {
            if c.ends_with("_id") || c.ends_with("_id_input") {
                named.extend(strs(df, c.as_str()).into_iter().flatten());
            }
        }
    }
    let registry = dir.path().join("synth/extracts/household.parquet");
    let mut whole = read(&registry);
    let n = whole.height();
    let (pid, born) = (strs(&whole, "公民身份号码"), strs(&whole, "出生日期"));
    let held: BTreeSet<String> = strs(&first.records["household"], "record_key")
        .into_iter()
        .flatten()
        .collect();
    // An adult of the first half whose row the night does not hold.
    let adult = (0..n / 2)
        .find(|&i| {
            pid[i].as_ref().is_some_and(|p| {
                p.len() == 18
                    && p.bytes().all(|b| b.is_ascii_digit())
                    && !named.contains(p)
                    && !held.contains(p)
            }) && born[i].as_deref().is_some_and(|b| b < "2000")
        })
        .expect("an adult row not held");
    whole.vstack_mut(&whole.slice(adult as i64, 1)).unwrap();
    let write = |path: &Path, mut df: DataFrame| {
        ParquetWriter::new(std::fs::File::create(path).unwrap())
            .finish(&mut df)
            .unwrap();
    };
    write(&registry, whole.clone());
    let one = poprecon_pipeline::execute(&plan, &Default::default()).unwrap();
    assert_eq!(
        one.records["household"].height(),
        first.records["household"].height() + 2,
        "the adult's two rows are held"
    );

    let folder = dir.path().join("synth/extracts/household");
    std::fs::create_dir(&folder).unwrap();
    write(&folder.join("a.parquet"), whole.slice(0, n / 2));
    write(
        &folder.join("b.parquet"),
        whole.slice((n / 2) as i64, whole.height() - n / 2),
    );
    std::fs::remove_file(&registry).unwrap();
    let text = std::fs::read_to_string(&pipeline).unwrap();
    assert!(text.contains("\"extracts/household.parquet\""));
    std::fs::write(
        &pipeline,
        text.replace(
            "\"extracts/household.parquet\"",
            "\"extracts/household/*.parquet\"",
        ),
    )
    .unwrap();
    let plan = poprecon_pipeline::Plan::load(&pipeline).unwrap();
    let files = |p: &poprecon_pipeline::Plan| {
        p.sources
            .iter()
            .find(|s| s.source.id() == "household")
            .unwrap()
            .files
            .len()
    };
    assert_eq!(files(&plan), 2);
    let two = poprecon_pipeline::execute(&plan, &Default::default()).unwrap();

    for (name, a, b) in [
        ("births", &one.linked.births, &two.linked.births),
        ("discrepancies", &one.discrepancies, &two.discrepancies),
        (
            "village_discrepancies",
            &one.village_discrepancies,
            &two.village_discrepancies,
        ),
        ("indicators", &one.indicators, &two.indicators),
        ("assessment", &one.assessment, &two.assessment),
        ("data_quality", &one.data_quality, &two.data_quality),
        (
            "indicator_births",
            &one.indicator_births,
            &two.indicator_births,
        ),
    ] {
        assert!(a.height() > 0, "{name} is empty");
        assert!(a.equals_missing(b), "{name} differs");
    }
    let held = |t: &poprecon_pipeline::RunTables| {
        t.records["household"].drop_many(["source_file", "source_line"])
    };
    assert!(
        held(&one).equals_missing(&held(&two)),
        "the rows held differ"
    );
}
