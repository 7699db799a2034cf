//! The binary as a user runs it: exit codes, messages, the output folder.
//!
//! The binary's tests live in this package (only its tests get `CARGO_BIN_EXE_poprecon`):
//! this file, `pipeline.rs` and `truth.rs`, sharing `common/`.

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::poprecon;

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

/// The bundled synthetic sample's pipeline (its paths are relative to the file).
fn sample_pipeline() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../pipelines/sample.toml")
        .canonicalize()
        .unwrap()
        .display()
        .to_string()
}

/// Runs the sample into `<dir>/<out>` and checks that the run completed.
fn run_sample(dir: &Path, out: &str) {
    let run = poprecon(&["run", &sample_pipeline(), "--out", out], dir);
    assert!(
        matches!(run.status.code(), Some(0 | 3)),
        "{}",
        text(&run.stderr)
    );
}

/// Every file under `dir` (relative path → bytes), for byte-for-byte comparisons.
fn snapshot(dir: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut std::collections::BTreeMap<PathBuf, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let bytes = std::fs::read(&p).unwrap();
                out.insert(p.strip_prefix(root).unwrap().to_owned(), bytes);
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// Names in `dir` that contain `pattern`, sorted.
fn entries_with(dir: &Path, pattern: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(pattern))
        .collect();
    names.sort();
    names
}

#[cfg(unix)]
#[test]
fn a_run_killed_mid_write_leaves_the_previous_run_and_the_next_run_cleans_up() {
    use std::os::unix::process::ExitStatusExt;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run_sample(d, "run");
    let before = snapshot(&d.join("run"));
    assert!(before.len() > 20, "{} files", before.len());

    let marker = d.join("paused");
    let mut child = Command::new(env!("CARGO_BIN_EXE_poprecon"))
        .args(["-q", "run", &sample_pipeline(), "--out", "run"])
        .current_dir(d)
        .env("POPRECON_PAUSE_IN_WRITE", &marker)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Not a timing assertion: a generous bound so that a run that never pauses fails the
    // test instead of hanging it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(900);
    while !marker.exists() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the run ended ({status}) before pausing in its write stage");
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no pause marker after 15 minutes"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().unwrap(); // SIGKILL: no destructor, no cleanup runs.
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(9), "{status}");

    assert!(
        snapshot(&d.join("run")) == before,
        "the previous run is byte-identical"
    );
    let visible: Vec<String> = entries_with(d, "")
        .into_iter()
        .filter(|n| !n.starts_with('.'))
        .collect();
    assert_eq!(visible, ["paused", "run"], "no partial folder in sight");
    let stale = entries_with(d, ".partial-");
    assert_eq!(stale.len(), 1, "{stale:?}");
    assert!(
        d.join(&stale[0]).join("births.parquet").is_file(),
        "the run was killed mid-write"
    );

    // Staging folders the next run must not touch: one without poprecon's marker, and one
    // whose marker is locked (as by a run writing now).
    let foreign = d.join(".run.partial-4242424");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("data"), "not poprecon's").unwrap();
    let busy = d.join(".run.partial-1");
    std::fs::create_dir(&busy).unwrap();
    let lock = std::fs::File::create(busy.join(".poprecon-staging")).unwrap();
    lock.lock().unwrap();

    run_sample(d, "run");
    assert_eq!(
        entries_with(d, ".partial-"),
        [".run.partial-1", ".run.partial-4242424"],
        "the killed run's staging folder is removed, and only it"
    );
    assert!(foreign.join("data").is_file() && busy.join(".poprecon-staging").is_file());
    let after = snapshot(&d.join("run"));
    assert!(!after.keys().any(|p| p.ends_with(".poprecon-staging")));
    // A run after a previous one also keeps that run's indicators, for the report's deltas.
    assert!(after.contains_key(Path::new("previous_indicators.parquet")));
    assert_eq!(
        after
            .keys()
            .filter(|p| *p != Path::new("previous_indicators.parquet"))
            .collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>(),
        "the new run is complete"
    );
    drop(lock);
}

#[test]
fn a_full_disk_fails_the_run_and_keeps_the_previous_one() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run_sample(d, "run");
    let before = snapshot(&d.join("run"));
    for file in ["sources/household.parquet", "manifest.json"] {
        let out = Command::new(env!("CARGO_BIN_EXE_poprecon"))
            .args(["run", &sample_pipeline(), "--out", "run"])
            .current_dir(d)
            .env("POPRECON_FAIL_WRITE", file)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{file}: {err}");
        assert!(
            err.contains("No space left on device") && err.contains(&format!("{file}`")),
            "{file}: {err}"
        );
        assert!(
            snapshot(&d.join("run")) == before,
            "{file}: previous run intact"
        );
        assert!(
            entries_with(d, "partial").is_empty(),
            "{file}: staging removed"
        );
    }
    full_tmpfs(d, &before);
}

/// The same on a real full file system, a 1 MiB-too-small tmpfs mounted in a private mount
/// namespace, where the machine allows it (root with `unshare`, as on CI); elsewhere the
/// injected error above stands in for it.
fn full_tmpfs(d: &Path, before: &std::collections::BTreeMap<PathBuf, Vec<u8>>) {
    let probe = Command::new("unshare")
        .args(["-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs \"$0\""])
        .arg(d)
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!("no private tmpfs here (needs root and unshare): injected ENOSPC only");
        return;
    }
    let kib: u64 = before
        .values()
        .map(|b| (b.len() as u64).div_ceil(4096) * 4)
        .sum();
    std::fs::create_dir(d.join("disk")).unwrap();
    let script = r#"set -e
mount -t tmpfs -o "size=${SIZE}k" tmpfs disk
cp -a run disk/run
set +e
"$BIN" run "$PIPELINE" --out disk/run 2> stderr.txt
echo $? > rc.txt
ls -A disk > listing.txt
cp -a disk/run after
"#;
    let out = Command::new("unshare")
        .args(["-m", "sh", "-c", script])
        .current_dir(d)
        .env("SIZE", (kib + 1024).to_string())
        .env("BIN", env!("CARGO_BIN_EXE_poprecon"))
        .env("PIPELINE", sample_pipeline())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let read = |f: &str| std::fs::read_to_string(d.join(f)).unwrap();
    let err = read("stderr.txt");
    assert_eq!(read("rc.txt").trim(), "1", "{err}");
    assert!(
        err.contains("No space left on device") && err.contains("cannot write `"),
        "{err}"
    );
    assert_eq!(read("listing.txt").trim(), "run", "staging removed");
    assert!(snapshot(&d.join("after")) == *before, "previous run intact");
}

#[test]
fn pseudonymised_exports_join_across_exports_and_need_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run_sample(d, "run");
    let key_a = "correct horse battery staple A";
    let key_b = "correct horse battery staple B";
    let export = |out: &str, envs: &[(&str, &str)], extra: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_poprecon"));
        cmd.args([
            "export", "run", "--for", "analyst", "--format", "csv", "--out", out,
        ])
        .args(extra)
        .current_dir(d)
        .env_remove("POPRECON_PSEUDONYM_KEY")
        .env_remove("POPRECON_PSEUDONYM_KEY_FILE");
        for (k, v) in envs {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let births =
        |out: &str| std::fs::read_to_string(d.join(out).join("births_analyst.csv")).unwrap();
    let column = |csv: &str, name: &str| -> Vec<String> {
        let mut lines = csv.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        let i = header.iter().position(|h| *h == name).unwrap();
        lines
            .map(|l| l.split(',').nth(i).unwrap().to_owned())
            .collect()
    };

    // The key from the environment, then the same key from a file: the same pseudonyms.
    let a1 = export(
        "a1",
        &[("POPRECON_PSEUDONYM_KEY", key_a)],
        &["--pseudonymize"],
    );
    assert!(a1.status.success(), "{}", text(&a1.stderr));
    let key_file = d.join("key");
    std::fs::write(&key_file, format!("{key_a}\n")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let a2 = export("a2", &[], &["--pseudonymize", "--key-file", "key"]);
    assert!(a2.status.success(), "{}", text(&a2.stderr));
    assert!(
        !text(&a2.stderr).contains("warning"),
        "{}",
        text(&a2.stderr)
    );
    let (b1, b2) = (births("a1"), births("a2"));
    assert_eq!(b1, b2, "same key, same pseudonyms");
    let mothers = column(&b1, "母亲身份证号");
    let pseudonyms: Vec<&String> = mothers.iter().filter(|m| !m.is_empty()).collect();
    assert!(pseudonyms.len() > 100, "{} mothers", pseudonyms.len());
    assert!(
        pseudonyms
            .iter()
            .all(|m| m.len() == 17 && m.starts_with('P')),
        "{pseudonyms:?}"
    );

    // Another key: other pseudonyms, for every ID.
    let bb = export(
        "b",
        &[("POPRECON_PSEUDONYM_KEY_FILE", "keyb")],
        &["--pseudonymize"],
    );
    assert_eq!(bb.status.code(), Some(1), "a missing key file is an error");
    std::fs::write(d.join("keyb"), key_b).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(d.join("keyb"), std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let bb = export(
        "b",
        &[("POPRECON_PSEUDONYM_KEY_FILE", "keyb")],
        &["--pseudonymize"],
    );
    assert!(bb.status.success(), "{}", text(&bb.stderr));
    #[cfg(unix)]
    assert!(
        text(&bb.stderr).contains("warning: the pseudonym key file `keyb` can be read by others"),
        "{}",
        text(&bb.stderr)
    );
    let other = column(&births("b"), "母亲身份证号");
    assert_eq!(other.len(), mothers.len());
    for (x, y) in mothers.iter().zip(&other) {
        assert!(x.is_empty() == y.is_empty() && (x.is_empty() || x != y));
    }

    // No clear ID, and no masked one, in any pseudonymised file; the clear IDs of the
    // data team's export are nowhere.
    let team = Command::new(env!("CARGO_BIN_EXE_poprecon"))
        .args([
            "export",
            "run",
            "--for",
            "data-team",
            "--format",
            "csv",
            "--out",
            "team",
        ])
        .current_dir(d)
        .output()
        .unwrap();
    assert!(team.status.success(), "{}", text(&team.stderr));
    let team_births = std::fs::read_to_string(d.join("team/births_data_team.csv")).unwrap();
    let clear_mothers: Vec<String> = column(&team_births, "母亲身份证号")
        .into_iter()
        .filter(|m| !m.is_empty())
        .collect();
    assert_eq!(clear_mothers.len(), pseudonyms.len());
    for f in std::fs::read_dir(d.join("a1")).unwrap() {
        let body = std::fs::read_to_string(f.unwrap().path()).unwrap();
        let id_like = body // A number's fraction (`14.507918552036198`) is not an ID.
            .split(|c: char| !c.is_ascii_alphanumeric() && c != '.')
            .any(|t| {
                (t.len() == 18 || t.len() == 15) && t[..15].bytes().all(|b| b.is_ascii_digit())
            });
        assert!(
            !id_like && !body.contains("****"),
            "no ID in clear or masked"
        );
        assert!(clear_mothers.iter().all(|m| !body.contains(m.as_str())));
    }

    // No key: a clear error, and nothing written.
    let none = export("none", &[], &["--pseudonymize"]);
    assert_eq!(none.status.code(), Some(1));
    let err = text(&none.stderr);
    assert!(
        err.contains("`--pseudonymize` needs a key") && err.contains("POPRECON_PSEUDONYM_KEY"),
        "{err}"
    );
    assert!(!d.join("none").exists());
    // A short key is refused without being shown.
    let short = export(
        "short",
        &[("POPRECON_PSEUDONYM_KEY", "hunter2")],
        &["--pseudonymize"],
    );
    assert_eq!(short.status.code(), Some(1));
    let err = text(&short.stderr);
    assert!(
        err.contains("at least 16") && !err.contains("hunter2"),
        "{err}"
    );
    // Assessors get no identifiers to pseudonymise.
    let assessor = Command::new(env!("CARGO_BIN_EXE_poprecon"))
        .args(["export", "run", "--for", "assessor", "--pseudonymize"])
        .current_dir(d)
        .env("POPRECON_PSEUDONYM_KEY", key_a)
        .output()
        .unwrap();
    assert_eq!(
        assessor.status.code(),
        Some(1),
        "{}",
        text(&assessor.stderr)
    );
}

/// A workbook that made calamine panic (found by the `ingest_xlsx` fuzz target): the
/// source fails with a message naming the file, and the panic's own message, which could
/// quote a value, is not printed.
#[test]
fn a_reader_panic_names_the_file_and_withholds_its_message() {
    let (dir, pipeline) = fixture();
    std::fs::write(
        dir.path().join("bad.xlsx"),
        include_bytes!("../../../fuzz/seeds/ingest_xlsx/02-calamine-overflow-crash"),
    )
    .unwrap();
    let mut text = std::fs::read_to_string(&pipeline).unwrap();
    text.push_str("\n[sources.birth_certificate]\npath = \"bad.xlsx\"\n");
    std::fs::write(&pipeline, text).unwrap();
    let out = poprecon(&["ingest", "p.toml", "--out", "run"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad.xlsx"), "{stderr}");
    assert!(stderr.contains("message withheld"), "{stderr}");
    assert!(!stderr.contains("overflow"), "{stderr}");
    assert!(!dir.path().join("run").exists());
}
