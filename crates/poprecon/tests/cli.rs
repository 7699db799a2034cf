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
