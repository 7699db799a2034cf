//! The binary as a user runs it: exit codes, messages, the output folder.
//!
//! This is the one test binary outside `tests/it`: only a test of this package gets
//! `CARGO_BIN_EXE_poprecon`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn poprecon(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_poprecon"))
        .args(args)
        .current_dir(cwd)
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .output()
        .expect("poprecon runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A pipeline over two small CSV extracts, one of them GB18030, with one bad row.
fn fixture() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let divisions = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sample-data/divisions");
    std::fs::create_dir_all(d.join("divisions")).unwrap();
    for f in ["counties.csv", "townships.csv", "villages.csv"] {
        std::fs::copy(divisions.join(f), d.join("divisions").join(f)).unwrap();
    }
    let delivery = "分娩记录编号,产妇身份证号,产妇姓名,分娩时间,新生儿性别,妊娠结局,现居住地村代码\n\
        D1,340302201601010019,王芳,2025-03-04 10:20,女,活产,340302001001\n\
        D2,340302201601010018,李娜,2025-03-05,男,活产,340302001001\n\
        D3,340302201601010019,王芳,2025-02-30,女,活产,340302001001\n";
    std::fs::write(
        d.join("delivery.csv"),
        encoding_rs::GB18030.encode(delivery).0,
    )
    .unwrap();
    let marriage = "登记编号,登记类型,男方身份证号,女方身份证号,登记日期\n\
        M1,结婚,34030219900101001X,340302201601010019,2015-05-01\n";
    std::fs::write(d.join("marriage.csv"), marriage).unwrap();
    let pipeline = d.join("p.toml");
    std::fs::write(
        &pipeline,
        r#"[pipeline]
name = "cli-test"
jurisdiction = "3403"
as_of = 2026-01-31
period = { start = 2025-01-01, end = 2025-12-31 }

[divisions]
counties = "divisions/counties.csv"
townships = "divisions/townships.csv"
villages = "divisions/villages.csv"

[sources.hospital_delivery]
path = "delivery.csv"
encoding = "gb18030"

[sources.marriage]
path = "marriage.csv"
"#,
    )
    .unwrap();
    (dir, pipeline)
}

#[test]
fn ingest_writes_tables_and_prints_the_summary() {
    let (dir, _) = fixture();
    let out = poprecon(&["ingest", "p.toml", "--out", "run"], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("hospital_delivery"), "{stdout}");
    assert!(
        stdout.contains("quarantined invalid_required_date: 1"),
        "{stdout}"
    );
    assert!(
        stdout.contains("invalid mother_id:check_digit: 1"),
        "{stdout}"
    );
    let run = dir.path().join("run");
    for f in [
        "hospital_delivery.parquet",
        "marriage.parquet",
        "quarantine/hospital_delivery.parquet",
        "quarantine/marriage.parquet",
        "ingest.json",
    ] {
        assert!(run.join(f).is_file(), "{f} missing");
    }
    let stats: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("ingest.json")).unwrap()).unwrap();
    assert_eq!(stats[0]["source"], "hospital_delivery");
    assert_eq!(stats[0]["read"], 3);
    assert_eq!(stats[0]["accepted"], 2);
    assert_eq!(stats[0]["quarantined"], 1);
    assert_eq!(stats[0]["files"][0]["encoding"], "gb18030");
    // Personal data stays out of the terminal.
    let all = format!("{stdout}{}", text(&out.stderr));
    assert!(
        !all.contains("340302201601010019") && !all.contains("王芳"),
        "{all}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&run).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "run folder is private");
    }
}

#[test]
fn a_failed_ingest_leaves_the_previous_folder_intact() {
    let (dir, pipeline) = fixture();
    let ok = poprecon(&["ingest", "p.toml", "--out", "run"], dir.path());
    assert!(ok.status.success());
    let before = std::fs::read(dir.path().join("run/ingest.json")).unwrap();
    // Break the marriage extract: its required column disappears.
    std::fs::write(
        dir.path().join("marriage.csv"),
        "登记编号,登记日期\nM1,2015-05-01\n",
    )
    .unwrap();
    let out = poprecon(&["ingest", "p.toml", "--out", "run"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("marriage.csv") && err.contains("`kind`"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(dir.path().join("run/ingest.json")).unwrap(),
        before
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "no partial folder is left behind");
    let _ = pipeline;
}

#[test]
fn validate_reports_headers_and_pipeline_errors() {
    let (dir, pipeline) = fixture();
    let out = poprecon(&["validate", "p.toml"], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("ok    hospital_delivery"), "{stdout}");
    assert!(stdout.contains("gb18030"), "{stdout}");

    let broken = std::fs::read_to_string(&pipeline).unwrap()
        + "\n[sources.marriage.columns]\nkinds = \"类型\"\n";
    std::fs::write(&pipeline, broken).unwrap();
    let out = poprecon(&["validate", "p.toml"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("p.toml") && err.contains("kinds"), "{err}");

    let out = poprecon(&["validate", "absent.toml"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("absent.toml"));

    let out = poprecon(&["frobnicate"], dir.path());
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn help_documents_exit_codes() {
    let out = poprecon(&["--help"], Path::new("."));
    let help = text(&out.stdout);
    assert!(
        help.contains("Exit codes") && help.contains("ingest") && help.contains("validate"),
        "{help}"
    );
}

/// A synthetic village written by the binary itself.
fn synthetic(dir: &Path) -> PathBuf {
    let out = poprecon(
        &[
            "synth", "--scale", "village", "--seed", "3", "--out", "city",
        ],
        dir,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    dir.join("city/pipeline.toml")
}

fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            out.extend(parquet_files(&p));
        } else if p.extension().is_some_and(|e| e == "parquet") {
            out.push(p);
        }
    }
    out.sort();
    out
}

#[test]
fn run_writes_a_complete_folder_and_is_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    synthetic(dir.path());
    let a = poprecon(&["run", "city/pipeline.toml", "--out", "a"], dir.path());
    assert!(
        matches!(a.status.code(), Some(0 | 3)),
        "{}",
        text(&a.stderr)
    );
    let run = dir.path().join("a");
    for f in [
        "manifest.json",
        "births.parquet",
        "links.parquet",
        "discrepancies.parquet",
        "village_discrepancies.parquet",
        "indicators.parquet",
        "assessment.parquet",
        "report.html",
        "quarantine/household.parquet",
    ] {
        assert!(run.join(f).is_file(), "{f} missing");
    }
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["as_of"], "2026-01-31");
    assert_eq!(manifest["inputs"].as_array().unwrap().len(), 9);
    assert_eq!(manifest["inputs"][0]["sha256"].as_str().unwrap().len(), 64);
    let stages: Vec<&str> = manifest["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stage"].as_str().unwrap())
        .collect();
    assert_eq!(
        stages,
        ["hash_inputs", "ingest", "link", "check", "measure", "write"]
    );

    // The same inputs give byte-identical tables.
    let b = poprecon(&["run", "city/pipeline.toml", "--out", "b"], dir.path());
    assert!(
        matches!(b.status.code(), Some(0 | 3)),
        "{}",
        text(&b.stderr)
    );
    let fa = parquet_files(&run);
    let fb = parquet_files(&dir.path().join("b"));
    assert_eq!(fa.len(), fb.len());
    assert!(fa.len() >= 20);
    for (x, y) in fa.iter().zip(&fb) {
        assert_eq!(x.file_name(), y.file_name());
        assert!(
            std::fs::read(x).unwrap() == std::fs::read(y).unwrap(),
            "{} differs",
            x.display()
        );
    }
}

#[test]
fn a_run_killed_after_linkage_leaves_the_previous_folder_intact() {
    let dir = tempfile::tempdir().unwrap();
    synthetic(dir.path());
    let first = poprecon(&["run", "city/pipeline.toml", "--out", "run"], dir.path());
    assert!(
        matches!(first.status.code(), Some(0 | 3)),
        "{}",
        text(&first.stderr)
    );
    let before = std::fs::read(dir.path().join("run/manifest.json")).unwrap();
    for stage in ["ingest", "link", "check", "measure"] {
        let out = Command::new(env!("CARGO_BIN_EXE_poprecon"))
            .args(["run", "city/pipeline.toml", "--out", "run"])
            .current_dir(dir.path())
            .env("POPRECON_FAIL_AFTER", stage)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "stage {stage}");
        assert!(text(&out.stderr).contains(&format!("forced failure after stage `{stage}`")));
        assert_eq!(
            std::fs::read(dir.path().join("run/manifest.json")).unwrap(),
            before,
            "stage {stage}: the last good run is untouched"
        );
        let partial = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(Result::ok)
            .any(|e| e.file_name().to_string_lossy().contains("partial"));
        assert!(!partial, "stage {stage}: no half-written folder");
    }
}

#[test]
fn exports_for_each_audience() {
    let dir = tempfile::tempdir().unwrap();
    synthetic(dir.path());
    let run = poprecon(&["run", "city/pipeline.toml", "--out", "run"], dir.path());
    assert!(
        matches!(run.status.code(), Some(0 | 3)),
        "{}",
        text(&run.stderr)
    );
    let out = poprecon(
        &[
            "export", "run", "--for", "assessor", "--format", "csv", "--out", "x",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let indicators = std::fs::read_to_string(dir.path().join("x/indicators_assessor.csv")).unwrap();
    assert!(indicators.starts_with('\u{FEFF}'));
    assert!(
        indicators.contains("分子") && indicators.contains("小数抑制"),
        "Chinese headers"
    );
    for f in std::fs::read_dir(dir.path().join("x")).unwrap() {
        let body = std::fs::read_to_string(f.unwrap().path()).unwrap();
        assert!(
            !body.contains("出生事件编号") && !body.contains("母亲身份证号"),
            "no person-level column"
        );
    }
    let out = poprecon(
        &[
            "export", "run", "--for", "analyst", "--format", "csv", "--out", "y",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let births = std::fs::read_to_string(dir.path().join("y/births_analyst.csv")).unwrap();
    assert!(births.contains("********"), "IDs are masked");
    let id_like = births
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|tok| tok.len() == 18 && tok[..17].bytes().all(|b| b.is_ascii_digit()));
    assert!(!id_like, "no resident ID in clear in an analyst export");
}

#[test]
fn verbose_logs_hold_no_personal_data() {
    use polars::prelude::*;
    let dir = tempfile::tempdir().unwrap();
    synthetic(dir.path());
    let out = poprecon(
        &["-vvv", "run", "city/pipeline.toml", "--out", "run"],
        dir.path(),
    );
    assert!(
        matches!(out.status.code(), Some(0 | 3)),
        "{}",
        text(&out.stderr)
    );
    let log = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(log.contains("stage done"), "the log is verbose");
    let f = std::fs::File::open(dir.path().join("run/sources/household.parquet")).unwrap();
    let household = ParquetReader::new(f).finish().unwrap();
    let mut checked = 0;
    for column in ["person_id_input", "name", "birth_date"] {
        let values = household
            .column(column)
            .unwrap()
            .as_materialized_series()
            .cast(&DataType::String)
            .unwrap();
        for v in values.str().unwrap().iter().flatten() {
            // The pipeline's own dates (as_of, period) are not personal data.
            if ["2026-01-31", "2025-01-01", "2025-12-31"].contains(&v) {
                continue;
            }
            assert!(!log.contains(v), "`{column}` value in the log");
            checked += 1;
        }
    }
    assert!(checked > 1000, "checked {checked} values");
}
