//! The binary as a user runs it: exit codes, messages, the output folder.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{self, poprecon};

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
    // Each command's own help states them too, with the alert code a scheduler must map.
    for command in [
        "run", "plan", "validate", "init", "sources", "report", "export", "ingest", "synth",
    ] {
        let out = poprecon(&[command, "--help"], Path::new("."));
        let help = text(&out.stdout);
        assert!(
            help.contains("Exit codes") && help.contains("3  `run` completed"),
            "{command}: {help}"
        );
    }
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
    // One run id for both runs: every table carries it, and the same inputs under the same
    // id must give the same bytes.
    let a = poprecon(
        &[
            "run",
            "city/pipeline.toml",
            "--out",
            "a",
            "--run-id",
            "night-1",
        ],
        dir.path(),
    );
    assert!(
        matches!(a.status.code(), Some(0 | 3)),
        "{}",
        text(&a.stderr)
    );
    let run = dir.path().join("a/latest");
    assert!(dir.path().join("a/runs/night-1/manifest.json").is_file());
    #[cfg(unix)]
    assert_eq!(
        std::fs::read_link(dir.path().join("a/latest")).unwrap(),
        Path::new("runs/night-1"),
        "`latest` is a relative link to the run"
    );
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
        [
            "hash_inputs",
            "ingest",
            "link",
            "births",
            "check",
            "measure",
            "write"
        ]
    );

    // The same inputs give byte-identical tables.
    let b = poprecon(
        &[
            "run",
            "city/pipeline.toml",
            "--out",
            "b",
            "--run-id",
            "night-1",
        ],
        dir.path(),
    );
    assert!(
        matches!(b.status.code(), Some(0 | 3)),
        "{}",
        text(&b.stderr)
    );
    let fa = parquet_files(&run);
    let fb = parquet_files(&dir.path().join("b/latest"));
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
    let before = std::fs::read(dir.path().join("run/latest/manifest.json")).unwrap();
    for stage in ["ingest", "link", "births", "check", "measure"] {
        let out = Command::new(env!("CARGO_BIN_EXE_poprecon"))
            .args(["run", "city/pipeline.toml", "--out", "run"])
            .current_dir(dir.path())
            .env("POPRECON_FAIL_AFTER", stage)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "stage {stage}");
        assert!(text(&out.stderr).contains(&format!("forced failure after stage `{stage}`")));
        assert_eq!(
            std::fs::read(dir.path().join("run/latest/manifest.json")).unwrap(),
            before,
            "stage {stage}: the last good run is untouched"
        );
        for folder in ["", "run", "run/runs"] {
            let partial = std::fs::read_dir(dir.path().join(folder))
                .unwrap()
                .filter_map(Result::ok)
                .any(|e| e.file_name().to_string_lossy().contains("partial"));
            assert!(
                !partial,
                "stage {stage}: no half-written folder in `{folder}`"
            );
        }
        assert_eq!(
            std::fs::read_dir(dir.path().join("run/runs"))
                .unwrap()
                .count(),
            1,
            "stage {stage}: no run added to the history"
        );
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
    let f = std::fs::File::open(dir.path().join("run/latest/sources/household.parquet")).unwrap();
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
    let before = snapshot(&d.join("run/latest"));
    assert!(before.len() > 20, "{} files", before.len());
    let root = d.join("run");
    let runs = root.join("runs");

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
        snapshot(&d.join("run/latest")) == before,
        "the previous run is byte-identical"
    );
    let visible: Vec<String> = entries_with(d, "")
        .into_iter()
        .filter(|n| !n.starts_with('.'))
        .collect();
    assert_eq!(visible, ["paused", "run"], "no partial folder in sight");
    // Not even a hidden one under `runs/`, where a reader's glob (`runs/*/…`) would find it.
    let in_runs = entries_with(&runs, "");
    assert_eq!(in_runs.len(), 1, "no partial run in `runs/`: {in_runs:?}");
    let stale = entries_with(&root, ".partial-");
    assert_eq!(stale.len(), 1, "{stale:?}");
    assert!(
        root.join(&stale[0]).join("births.parquet").is_file(),
        "the run was killed mid-write"
    );

    // Staging folders the next run must not touch: one without poprecon's marker, and one
    // whose marker is locked (as by a run writing now).
    let foreign = root.join(".run.partial-4242424");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("data"), "not poprecon's").unwrap();
    let busy = root.join(".run.partial-1");
    std::fs::create_dir(&busy).unwrap();
    let lock = std::fs::File::create(busy.join(".poprecon-staging")).unwrap();
    lock.lock().unwrap();

    run_sample(d, "run");
    assert_eq!(
        entries_with(&root, ".partial-"),
        [".run.partial-1", ".run.partial-4242424"],
        "the killed run's staging folder is removed, and only it"
    );
    assert!(foreign.join("data").is_file() && busy.join(".poprecon-staging").is_file());
    assert_eq!(
        entries_with(&runs, "").len(),
        2,
        "the new run joined the history"
    );
    let after = snapshot(&d.join("run/latest"));
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
    let before = snapshot(&d.join("run/latest"));
    // A source (written on its own thread), a table and the report (written beside it), and
    // the manifest (after both).
    for file in [
        "sources/household.parquet",
        "births.parquet",
        "report.html",
        "manifest.json",
    ] {
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
            snapshot(&d.join("run/latest")) == before,
            "{file}: previous run intact"
        );
        assert!(
            entries_with(&d.join("run"), "partial").is_empty(),
            "{file}: staging removed"
        );
        assert_eq!(
            entries_with(&d.join("run/runs"), "").len(),
            1,
            "{file}: no run added to the history"
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
ls -A disk/run > listing.txt
ls -A disk/run/runs > runs.txt
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
    assert!(!read("listing.txt").contains("partial"), "staging removed");
    assert_eq!(
        read("runs.txt").trim(),
        entries_with(&d.join("run/runs"), "")[0],
        "no run added"
    );
    assert!(
        snapshot(&d.join("after/latest")) == *before,
        "previous run intact"
    );
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
        include_bytes!("../../../../fuzz/seeds/ingest_xlsx/02-calamine-overflow-crash"),
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

/// Copies a folder, recursively.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).unwrap();
        }
    }
}

/// The first hour: `init` on a folder holding the sample's nine extracts and its division
/// files writes a pipeline that recognises every source, passes `validate` and runs.
#[test]
fn init_drafts_a_pipeline_that_validates_and_runs() {
    let dir = tempfile::tempdir().unwrap();
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sample-data/sample");
    let county = dir.path().join("county");
    copy_dir(&sample.join("extracts"), &county.join("extracts"));
    copy_dir(&sample.join("divisions"), &county.join("divisions"));
    let out = poprecon(&["init", "county"], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(!stdout.contains("not recognised"), "{stdout}");
    let written = std::fs::read_to_string(county.join("pipeline.toml")).unwrap();
    for source in [
        "birth_registration",
        "prenatal_care",
        "hospital_delivery",
        "birth_certificate",
        "vaccination",
        "household",
        "school",
        "marriage",
        "social_security",
    ] {
        assert!(
            written.contains(&format!("[sources.{source}]")),
            "{source} not recognised:\n{written}"
        );
    }
    assert!(written.contains("jurisdiction = \"3403"), "{written}");
    assert!(
        written.contains("villages = \"divisions/villages.csv\""),
        "{written}"
    );
    assert!(written.contains("encoding = \"gb18030\""), "{written}");
    assert!(written.contains("[sources.household.columns]"), "{written}");

    // It does not overwrite without `--force`.
    let again = poprecon(&["init", "county"], dir.path());
    assert_eq!(again.status.code(), Some(1));
    assert!(text(&again.stderr).contains("--force"));

    let validate = poprecon(&["validate", "county/pipeline.toml"], dir.path());
    assert!(
        validate.status.success(),
        "{}\n{}",
        text(&validate.stdout),
        text(&validate.stderr)
    );
    assert_eq!(
        text(&validate.stdout).matches("\nok ").count(),
        9,
        "{}",
        text(&validate.stdout)
    );
    let run = poprecon(
        &["-q", "run", "county/pipeline.toml", "--out", "run"],
        dir.path(),
    );
    assert!(
        matches!(run.status.code(), Some(0 | 3)),
        "{}",
        text(&run.stderr)
    );
    assert!(dir.path().join("run/latest/report.html").is_file());
}

/// `init` finds a one-table division table (GBK CSV, padded codes) and the pipeline it
/// writes reads it.
#[test]
fn init_recognises_one_division_table_and_a_tsv_extract() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let table = "区县代码,区县名称,乡镇代码,乡镇名称,村居代码,村居名称\n\
        340302000000,龙子湖区,340302001000,东风街道,340302001001,东风社区居委会\n\
        340302000000,龙子湖区,340302001000,东风街道,340302001002,勤俭里社区居委会\n";
    std::fs::write(d.join("行政区划.csv"), encoding_rs::GB18030.encode(table).0).unwrap();
    std::fs::write(
        d.join("婚姻.tsv"),
        "登记编号\t登记类型\t男方身份证号\t女方身份证号\t登记日期\t备注\n\
         M1\t结婚\t34030219900101001X\t340302201601010019\t2015-05-01\t\n",
    )
    .unwrap();
    let out = poprecon(&["init", ".", "--out", "p.toml"], d);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let written = std::fs::read_to_string(d.join("p.toml")).unwrap();
    assert!(written.contains("path = \"行政区划.csv\""), "{written}");
    assert!(
        written.contains("jurisdiction = \"340302001\""),
        "{written}"
    );
    assert!(written.contains("[sources.marriage]"), "{written}");
    assert!(
        written.contains("headers no field reads: 备注"),
        "{written}"
    );
    let validate = poprecon(&["validate", "p.toml"], d);
    assert!(
        validate.status.success(),
        "{}\n{}",
        text(&validate.stdout),
        text(&validate.stderr)
    );
    let plan = poprecon(&["plan", "p.toml"], d);
    assert!(
        text(&plan.stdout).contains("delimiter `\\t`"),
        "{}",
        text(&plan.stdout)
    );
}

#[test]
fn sources_lists_fields_headers_kinds_and_labels() {
    let out = poprecon(&["sources", "--json"], Path::new("."));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let sources = v["sources"].as_array().unwrap();
    assert_eq!(sources.len(), 9);
    let school = sources.iter().find(|s| s["id"] == "school").unwrap();
    assert_eq!(school["label_zh"], "学籍");
    let enrolment = school["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "enrolment_date")
        .unwrap();
    assert_eq!(enrolment["kind"], "month");
    assert!(
        enrolment["headers"]
            .as_array()
            .unwrap()
            .contains(&"入学年月".into())
    );
    let ss = sources
        .iter()
        .find(|s| s["id"] == "social_security")
        .unwrap();
    let scheme = ss["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "scheme")
        .unwrap();
    assert!(
        scheme["codes"]
            .as_array()
            .unwrap()
            .contains(&"resident_pension".into())
    );
    assert_eq!(v["divisions"][0]["name"], "village_code");
    let out = poprecon(&["sources"], Path::new("."));
    let t = text(&out.stdout);
    assert!(
        t.contains("hospital_delivery 住院分娩")
            && t.contains("*record_id")
            && t.contains("村居代码"),
        "{t}"
    );
}

/// Unknown code values are listed with their counts in the summary and the manifest;
/// `validate` names an optional field it found no column for, and the run warns of it.
#[test]
fn unknown_codes_and_missing_optional_columns_are_reported() {
    let (dir, pipeline) = fixture();
    let delivery = "分娩记录编号,产妇身份证号,产妇姓名,分娩时间,新生儿性别,妊娠结局,住址村居编码\n\
        D1,340302201601010019,王芳,2025-03-04 10:20,女,活产,340302001001\n\
        D2,340302201601010018,李娜,2025-03-05,男,活胎,340302001001\n\
        D3,340302201601010017,张丽,2025-03-06,男,活胎,340302001001\n";
    std::fs::write(
        dir.path().join("delivery.csv"),
        encoding_rs::GB18030.encode(delivery).0,
    )
    .unwrap();
    let validate = poprecon(&["validate", "p.toml"], dir.path());
    let stdout = text(&validate.stdout);
    assert!(
        stdout.contains("no column for: ") && stdout.contains("residence_village (现居住地)"),
        "{stdout}"
    );
    assert!(stdout.contains("住址村居编码"), "{stdout}");
    let run = poprecon(&["run", "p.toml", "--out", "run"], dir.path());
    assert!(
        matches!(run.status.code(), Some(0 | 3)),
        "{}",
        text(&run.stderr)
    );
    let stderr = text(&run.stderr);
    assert!(
        stderr.contains("no column for optional fields") && stderr.contains("residence_village"),
        "{stderr}"
    );
    let stdout = text(&run.stdout);
    assert!(
        stdout.contains("unknown outcome values: 活胎 (2)"),
        "{stdout}"
    );
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("run/latest/manifest.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        manifest["unknown_codes"],
        serde_json::json!([{"source": "hospital_delivery", "field": "outcome", "value": "活胎", "rows": 2}])
    );
    // With the spelling mapped in the pipeline, nothing is unknown.
    let mapped = std::fs::read_to_string(&pipeline).unwrap()
        + "\n[sources.hospital_delivery.codes.outcome]\n\"活胎\" = \"live\"\n";
    std::fs::write(&pipeline, mapped).unwrap();
    let run = poprecon(&["run", "p.toml", "--out", "run2"], dir.path());
    assert!(
        matches!(run.status.code(), Some(0 | 3)),
        "{}",
        text(&run.stderr)
    );
    assert!(
        !text(&run.stdout).contains("unknown outcome"),
        "{}",
        text(&run.stdout)
    );
}

/// A header-only extract stops the run with a message naming its source and its file (the
/// Parquet type errors are tested in `poprecon-ingest`).
#[test]
fn errors_name_the_source_the_file_and_the_column() {
    let (dir, _) = fixture();
    std::fs::write(
        dir.path().join("marriage.csv"),
        "登记编号,登记类型,男方身份证号,女方身份证号,登记日期\n",
    )
    .unwrap();
    let out = poprecon(&["run", "p.toml", "--out", "run"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("source `marriage`")
            && err.contains("marriage.csv")
            && err.contains("no rows"),
        "{err}"
    );
}

// --- Run history, the lock, logs for schedulers ---------------------------------------

/// The run folders of a root's history, by name.
fn history(root: &Path) -> Vec<String> {
    entries_with(&root.join("runs"), "")
        .into_iter()
        .filter(|n| !n.starts_with('.'))
        .collect()
}

fn manifest_of(run: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(run.join("manifest.json")).unwrap()).unwrap()
}

/// Three nights into one root, a column added to an extract before the third: the
/// history holds three runs, `latest` the third, each night compared with the one before,
/// and `runs/*/indicators.parquet` reads back as one series, one `run_id` and `as_of` per
/// night.
#[test]
fn three_runs_read_back_as_one_series() {
    use polars::prelude::*;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    synthetic(d);
    let nights = ["2026-01-29", "2026-01-30", "2026-01-31"];
    let mut ids = Vec::new();
    for (i, night) in nights.iter().enumerate() {
        if i == 2 {
            // The school registry's extract gains a column nobody asked for.
            let path = d.join("city/extracts/school.csv");
            let text = std::fs::read_to_string(&path).unwrap();
            let mut lines = text.lines();
            let mut out = format!("{},备注\n", lines.next().unwrap());
            for line in lines {
                out.push_str(&format!("{line},无\n"));
            }
            std::fs::write(&path, out).unwrap();
        }
        let out = poprecon(
            &[
                "run",
                "city/pipeline.toml",
                "--out",
                "root",
                "--as-of",
                night,
            ],
            d,
        );
        assert!(
            matches!(out.status.code(), Some(0 | 3)),
            "{}",
            text(&out.stderr)
        );
        let runs = history(&d.join("root"));
        assert_eq!(runs.len(), i + 1, "{runs:?}");
        let new: Vec<&String> = runs.iter().filter(|r| !ids.contains(*r)).collect();
        assert_eq!(new.len(), 1, "{runs:?}");
        ids.push(new[0].clone());
        let latest = d.join("root/latest");
        let manifest = manifest_of(&latest);
        assert_eq!(
            manifest["run_id"],
            ids[i].as_str(),
            "`latest` is the new run"
        );
        assert_eq!(manifest["as_of"], *night);
        // The lifecycle compared with the previous night's run, named by its folder.
        match i {
            0 => assert!(manifest["previous_run"].is_null()),
            _ => assert!(
                manifest["previous_run"]
                    .as_str()
                    .unwrap()
                    .ends_with(&format!("runs/{}", ids[i - 1])),
                "{}",
                manifest["previous_run"]
            ),
        }
        let statuses = strs_of(&latest.join("discrepancies.parquet"), "status");
        let open = statuses
            .iter()
            .filter(|s| s.as_deref() == Some("open"))
            .count();
        if i == 0 {
            assert_eq!(open, 0, "no previous night: everything is new");
        } else {
            assert!(open > 0, "night {i}: discrepancies seen before are open");
        }
    }
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "run ids sort by time: {ids:?}"
    );

    let glob = |table: &str| {
        LazyFrame::scan_parquet(
            PlRefPath::from(format!("{}/root/runs/*/{table}", d.display()).as_str()),
            ScanArgsParquet::default(),
        )
        .unwrap()
        .collect()
        .unwrap_or_else(|e| panic!("{table}: {e}"))
    };
    let series = glob("indicators.parquet");
    let per_run: usize = ids
        .iter()
        .map(|id| support::read(&d.join("root/runs").join(id).join("indicators.parquet")).height())
        .sum();
    assert_eq!(series.height(), per_run, "every night's rows, once");
    let names: Vec<String> = series
        .get_column_names()
        .iter()
        .take(2)
        .map(|c| c.to_string())
        .collect();
    assert_eq!(names, ["run_id", "as_of"]);
    assert_eq!(series.column("as_of").unwrap().dtype(), &DataType::Date);
    let live = series
        .lazy()
        .filter(
            col("level")
                .eq(lit("jurisdiction"))
                .and(col("indicator_id").eq(lit("live_births")))
                .and(col("basis").eq(lit("residence"))),
        )
        .sort(["as_of"], SortMultipleOptions::default())
        .collect()
        .unwrap();
    assert_eq!(
        support::strs(&live, "run_id"),
        ids.iter().cloned().map(Some).collect::<Vec<_>>(),
        "one live-birth count per night"
    );
    assert_eq!(
        support::strs(&live, "as_of"),
        nights
            .iter()
            .map(|n| Some(n.to_string()))
            .collect::<Vec<_>>()
    );
    // The extract's new column leaves the canonical table's schema alone: its nights read
    // as one series too.
    let school = glob("sources/school.parquet");
    assert_eq!(
        school.column("run_id").unwrap().n_unique().unwrap(),
        3,
        "three nights of the school table"
    );
    assert!(school.column("备注").is_err());
}

fn strs_of(path: &Path, column: &str) -> Vec<Option<String>> {
    support::strs(&support::read(path), column)
}

/// `--keep N` keeps the newest N runs, the new one included; a root that is a run folder
/// of the earlier layout is refused with a hint.
#[test]
fn keep_prunes_the_oldest_runs() {
    let (dir, _) = fixture();
    let d = dir.path();
    for id in ["n1", "n2", "n3"] {
        let out = poprecon(
            &[
                "run", "p.toml", "--out", "root", "--run-id", id, "--keep", "2",
            ],
            d,
        );
        assert!(
            matches!(out.status.code(), Some(0 | 3)),
            "{}",
            text(&out.stderr)
        );
    }
    assert_eq!(history(&d.join("root")), ["n2", "n3"]);
    assert_eq!(manifest_of(&d.join("root/latest"))["run_id"], "n3");
    // `--previous` still names the run to compare with: a run folder, or a root's latest.
    let other = poprecon(
        &[
            "run",
            "p.toml",
            "--out",
            "other",
            "--previous",
            "root/runs/n2",
        ],
        d,
    );
    assert!(
        matches!(other.status.code(), Some(0 | 3)),
        "{}",
        text(&other.stderr)
    );
    let previous = manifest_of(&d.join("other/latest"))["previous_run"].clone();
    assert_eq!(previous, "root/runs/n2");
    let other = poprecon(
        &["run", "p.toml", "--out", "other", "--previous", "root"],
        d,
    );
    assert!(
        matches!(other.status.code(), Some(0 | 3)),
        "{}",
        text(&other.stderr)
    );
    let previous = manifest_of(&d.join("other/latest"))["previous_run"].clone();
    assert_eq!(previous, "root/runs/n3");
    // The same id twice is refused; so is a run id that is no plain folder name.
    let again = poprecon(&["run", "p.toml", "--out", "root", "--run-id", "n3"], d);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        text(&again.stderr).contains("run `n3` is already in"),
        "{}",
        text(&again.stderr)
    );
    let bad = poprecon(&["run", "p.toml", "--out", "root", "--run-id", "../x"], d);
    assert_eq!(bad.status.code(), Some(1));
    assert_eq!(history(&d.join("root")), ["n2", "n3"]);
    // A run folder of the earlier layout (`--out` was the run itself).
    std::fs::create_dir(d.join("old")).unwrap();
    std::fs::write(d.join("old/manifest.json"), "{}").unwrap();
    let old = poprecon(&["run", "p.toml", "--out", "old"], d);
    assert_eq!(old.status.code(), Some(1));
    let err = text(&old.stderr);
    assert!(
        err.contains("is a single run folder") && err.contains("--previous old"),
        "{err}"
    );
    assert!(!d.join("old/runs").exists());
}

/// A second run on a root that a run holds is refused, names the lock and writes nothing;
/// once the lock is released, the run goes ahead.
#[test]
fn a_second_run_on_a_locked_root_is_refused() {
    let (dir, _) = fixture();
    let d = dir.path();
    std::fs::create_dir(d.join("root")).unwrap();
    let lock = std::fs::File::create(d.join("root/.poprecon.lock")).unwrap();
    lock.lock().unwrap();
    let out = poprecon(&["run", "p.toml", "--out", "root"], d);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("another `poprecon run` is writing `root`")
            && err.contains(".poprecon.lock")
            && err.contains("hint:"),
        "{err}"
    );
    assert!(history(&d.join("root")).is_empty(), "nothing written");
    assert!(!d.join("root/latest").exists());
    drop(lock);
    let out = poprecon(&["run", "p.toml", "--out", "root"], d);
    assert!(
        matches!(out.status.code(), Some(0 | 3)),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(history(&d.join("root")).len(), 1);
}

/// stderr redirected to a file, `NO_COLOR` unset: no escape code (no colour, no progress
/// bar), though the log is verbose.
#[test]
fn logs_to_a_file_hold_no_escape_codes() {
    let (dir, _) = fixture();
    let d = dir.path();
    let log = d.join("stderr.log");
    let status = Command::new(env!("CARGO_BIN_EXE_poprecon"))
        .args(["-vv", "run", "p.toml", "--out", "root"])
        .current_dir(d)
        .env_remove("NO_COLOR")
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .status()
        .unwrap();
    assert!(matches!(status.code(), Some(0 | 3)));
    let written = std::fs::read_to_string(&log).unwrap();
    assert!(written.contains("stage done"), "{written}");
    assert!(written.contains("run complete"), "{written}");
    assert!(!written.contains('\u{1b}'), "escape code in {written:?}");
}

/// `--log-format json`: every stderr line is a JSON object, the run's own closing line and
/// an error included.
#[test]
fn json_logs_parse() {
    let (dir, _) = fixture();
    let d = dir.path();
    let out = poprecon(
        &[
            "--log-format",
            "json",
            "-v",
            "run",
            "p.toml",
            "--out",
            "root",
        ],
        d,
    );
    assert!(
        matches!(out.status.code(), Some(0 | 3)),
        "{}",
        text(&out.stderr)
    );
    let stderr = text(&out.stderr);
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect();
    let messages: Vec<&str> = lines
        .iter()
        .map(|v| {
            assert!(v["timestamp"].is_string() && v["level"].is_string(), "{v}");
            v["fields"]["message"].as_str().unwrap_or("")
        })
        .collect();
    assert!(messages.contains(&"stage done"), "{messages:?}");
    assert!(
        messages.iter().any(|m| m.starts_with("run complete")),
        "{messages:?}"
    );
    let stage = lines
        .iter()
        .find(|v| v["fields"]["message"] == "stage done")
        .unwrap();
    assert!(stage["fields"]["rows"].is_number(), "{stage}");
    assert!(stage["span"].is_object(), "the stage's span: {stage}");
    // One key per object: the span's name and the stage it names are two keys.
    let line = stderr
        .lines()
        .find(|l| l.contains("\"stage done\""))
        .unwrap();
    assert_eq!(line.matches("\"name\":").count(), 1, "{line}");
    assert_eq!(stage["span"]["name"], "stage", "{stage}");
    assert!(stage["span"]["stage"].is_string(), "{stage}");

    let out = poprecon(&["--log-format", "json", "validate", "absent.toml"], d);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(v["level"], "ERROR");
    assert!(
        v["fields"]["message"]
            .as_str()
            .unwrap()
            .contains("absent.toml"),
        "{v}"
    );
}

/// `validate --json` and `plan --json` print one JSON object on stdout.
#[test]
fn validate_and_plan_print_json() {
    let (dir, pipeline) = fixture();
    let d = dir.path();
    let out = poprecon(&["validate", "--json", "p.toml"], d);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["jurisdiction"], "3403");
    let files = v["files"].as_array().unwrap();
    assert_eq!(files.len(), 2);
    assert_eq!(files[0]["source"], "hospital_delivery");
    assert_eq!(files[0]["encoding"], "gb18030");
    assert_eq!(files[0]["ok"], true);

    let out = poprecon(&["plan", "--json", "p.toml"], d);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let sources: Vec<&str> = v["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["source"].as_str().unwrap())
        .collect();
    assert_eq!(sources, ["hospital_delivery", "marriage"]);
    assert_eq!(v["sources"][0]["files"][0]["format"], "csv");
    assert_eq!(v["period"][0], "2025-01-01");

    // A file that cannot be read: `ok` false, the error named, exit 1.
    std::fs::write(d.join("marriage.csv"), "登记编号,登记日期\nM1,2015-05-01\n").unwrap();
    let out = poprecon(&["validate", "--json", "p.toml"], d);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["files"][1]["ok"], false);
    assert!(
        v["files"][1]["error"].as_str().unwrap().contains("kind"),
        "{v}"
    );
    let _ = pipeline;
}

// --- The assessors' workbook ------------------------------------------------------------

/// The text of a cell, as calamine reads it.
fn cell(range: &calamine::Range<calamine::Data>, row: u32, col: u32) -> String {
    range
        .get_value((row, col))
        .map(|d| d.to_string())
        .unwrap_or_default()
}

/// The XML of a sheet of a workbook (`xl/worksheets/sheetN.xml`).
fn sheet_xml(path: &Path, n: usize) -> String {
    use std::io::Read;
    let mut zip = ::zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut xml = String::new();
    zip.by_name(&format!("xl/worksheets/sheet{n}.xml"))
        .unwrap()
        .read_to_string(&mut xml)
        .unwrap();
    xml
}

/// `export ROOT --for assessor` on the sample run: one workbook named with jurisdiction,
/// period and as_of, outside the run folder; its sheets, headers, number formats and
/// translated codes as calamine reads them back; frozen headers, filters, A4 landscape
/// and conditional formats in its XML.
#[test]
fn the_assessors_workbook_of_the_sample_run() {
    use calamine::{Data, Reader, Xlsx, open_workbook};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run_sample(d, "root");
    let out = poprecon(&["export", "root", "--for", "assessor"], d);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed: Vec<String> = text(&out.stdout).lines().map(str::to_owned).collect();
    assert_eq!(printed.len(), 1, "one file: {printed:?}");
    let path = d.join(&printed[0]);
    let run_id = manifest_of(&d.join("root/latest"))["run_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        path.parent().unwrap(),
        d.join("root/exports").join(&run_id),
        "beside the history, not in the run folder"
    );
    assert_eq!(
        path.file_name().unwrap().to_string_lossy(),
        // The sample's division table names no city: the code stands alone.
        "考核_3403_20250101-20251231_截至20260131.xlsx"
    );

    let mut book: Xlsx<_> = open_workbook(&path).unwrap();
    assert_eq!(
        book.sheet_names(),
        [
            "考核汇总",
            "全辖区指标",
            "县(区)指标",
            "乡镇(街道)指标",
            "村(居)指标",
            "指标说明",
            "各村核查问题"
        ]
    );
    // 考核汇总: title, item names over their two columns, headers in row 4.
    let summary = book.worksheet_range("考核汇总").unwrap();
    let title = cell(&summary, 0, 0);
    assert!(
        title.starts_with("3403 2025-01-01至2025-12-31") && title.contains("考核汇总"),
        "{title}"
    );
    assert_eq!(cell(&summary, 2, 3), "住院分娩率\n（15分）");
    let headers: Vec<String> = (0..summary.end().unwrap().1 + 1)
        .map(|c| cell(&summary, 3, c))
        .collect();
    assert_eq!(
        &headers[..5],
        ["层级", "地区代码", "地区名称", "值", "目标值"]
    );
    assert_eq!(
        &headers[headers.len() - 4..],
        ["总得分", "名次", "一票否决", "否决原因"]
    );
    let n_items = (headers.len() - 7) / 2;
    assert_eq!(n_items, 9, "the default scheme's nine items across");
    let rows = summary.end().unwrap().0;
    assert!(rows >= 5, "areas down");
    let score_col = 3 + 2 * n_items as u32;
    for r in 4..=rows {
        assert!(["县(区)", "乡镇(街道)"].contains(&cell(&summary, r, 0).as_str()));
        assert!(["是", "否"].contains(&cell(&summary, r, score_col + 2).as_str()));
        let score = summary.get_value((r, score_col)).unwrap();
        assert!(
            matches!(score, Data::Float(x) if (0.0..=100.0).contains(x)),
            "{score:?}"
        );
        assert!(matches!(
            summary.get_value((r, score_col + 1)),
            Some(Data::Float(_))
        ));
    }
    let styles = book.worksheet_style("考核汇总").unwrap();
    let format = |styles: &calamine::StyleRange, r: u32, c: u32| {
        styles
            .get((r, c))
            .and_then(|s| s.number_format.as_ref())
            .map(|f| f.format_code.clone())
            .unwrap_or_default()
    };
    assert_eq!(format(&styles, 4, 4), "0.0%", "targets as percentages");
    let value_cells = (4..=rows)
        .filter(|&r| matches!(summary.get_value((r, 3)), Some(Data::Float(_))))
        .inspect(|&r| assert_eq!(format(&styles, r, 3), "0.0%"))
        .count();
    assert!(value_cells > 0);
    assert_eq!(format(&styles, 4, score_col), "0.0");

    // The level sheets: translated codes, 是/否, percentages, counts.
    let villages = book.worksheet_range("村(居)指标").unwrap();
    let headers: Vec<String> = (0..11).map(|c| cell(&villages, 2, c)).collect();
    assert_eq!(
        headers,
        [
            "地区代码",
            "地区名称",
            "指标",
            "统计口径",
            "分子",
            "分母",
            "值",
            "95%置信下限",
            "95%置信上限",
            "样本量小",
            "小数抑制"
        ]
    );
    let styles = book.worksheet_style("村(居)指标").unwrap();
    let ids: Vec<&str> = poprecon_indicator_ids();
    let mut suppressed = 0;
    let mut shown = 0;
    for r in 3..=villages.end().unwrap().0 {
        let indicator = cell(&villages, r, 2);
        assert!(
            !ids.contains(&indicator.as_str()),
            "an indicator id: {indicator}"
        );
        assert!(["现居住地", "户籍地"].contains(&cell(&villages, r, 3).as_str()));
        for c in [9, 10] {
            assert!(["是", "否"].contains(&cell(&villages, r, c).as_str()));
        }
        if cell(&villages, r, 10) == "是" {
            suppressed += 1;
            assert!(cell(&villages, r, 4).is_empty() && cell(&villages, r, 6).is_empty());
        } else if indicator == "住院分娩率"
            && matches!(villages.get_value((r, 6)), Some(Data::Float(_)))
        {
            shown += 1;
            assert_eq!(format(&styles, r, 6), "0.0%");
            assert_eq!(format(&styles, r, 4), "0");
        }
    }
    assert!(
        suppressed > 0 && shown > 0,
        "{suppressed} suppressed, {shown} shown"
    );

    // 指标说明: Chinese names and words, dates as dates.
    let defs = book.worksheet_range("指标说明").unwrap();
    assert_eq!(cell(&defs, 2, 0), "指标");
    assert_eq!(cell(&defs, 3, 0), "活产数");
    let hospital = (3..=defs.end().unwrap().0)
        .find(|&r| cell(&defs, r, 1) == "hospital_delivery_rate")
        .unwrap();
    assert_eq!(cell(&defs, hospital, 0), "住院分娩率");
    assert_eq!(cell(&defs, hospital, 4), "活产数");
    assert!(matches!(
        defs.get_value((hospital, 10)),
        Some(Data::DateTime(_))
    ));
    let styles = book.worksheet_style("指标说明").unwrap();
    assert_eq!(format(&styles, hospital, 10), "yyyy-mm-dd");
    assert_eq!(cell(&defs, hospital, 9), "户籍地、现居住地");

    // No code of the run's tables is left untranslated in any cell a person reads.
    let codes = [
        "county",
        "township",
        "village",
        "residence",
        "household",
        "true",
        "false",
    ];
    for name in book.sheet_names() {
        let range = book.worksheet_range(&name).unwrap();
        for (r, c, v) in range.used_cells() {
            if name == "指标说明" && c == 1 {
                continue; // the id column, for finding the CSV rows
            }
            let t = v.to_string();
            assert!(!codes.contains(&t.as_str()), "`{t}` in {name} ({r}, {c})");
            assert!(!ids.contains(&t.as_str()), "`{t}` in {name} ({r}, {c})");
        }
    }

    // Frozen headers, filters, print setup, conditional formats.
    let xml = sheet_xml(&path, 1);
    assert!(
        xml.contains(r#"state="frozen""#) && xml.contains(r#"topLeftCell="D5""#),
        "frozen"
    );
    assert!(
        xml.contains("<autoFilter ref=\"A4:"),
        "autofilter on the header row"
    );
    assert!(xml.contains(r#"paperSize="9""#) && xml.contains(r#"orientation="landscape""#));
    assert!(xml.contains("<conditionalFormatting") && xml.contains("ISNUMBER(D5)"));
    assert!(xml.contains("<oddHeader>"), "a printed title");
    for n in 2..=7 {
        let xml = sheet_xml(&path, n);
        assert!(
            xml.contains(r#"state="frozen""#) && xml.contains("<autoFilter"),
            "sheet {n}"
        );
        assert!(xml.contains(r#"orientation="landscape""#), "sheet {n}");
    }

    // English on request; CSV stays long, for machines.
    let out = poprecon(
        &[
            "export", "root", "--for", "assessor", "--lang", "en", "--out", "en",
        ],
        d,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut en: Xlsx<_> =
        open_workbook(d.join("en/assessment_3403_20250101-20251231_as-of-20260131.xlsx")).unwrap();
    assert_eq!(en.sheet_names()[0], "Assessment");
    let summary = en.worksheet_range("Assessment").unwrap();
    assert_eq!(cell(&summary, 3, 0), "Level");
    assert_eq!(cell(&summary, 4, 0), "County");
}

/// The indicator ids of the catalogue (domain.md §6).
fn poprecon_indicator_ids() -> Vec<&'static str> {
    vec![
        "live_births",
        "sex_ratio_at_birth",
        "hospital_delivery_rate",
        "birth_certificate_rate",
        "household_registration_rate",
        "registration_service_rate",
        "prenatal_booking_rate",
        "early_prenatal_booking_rate",
        "hepb1_timely_rate",
        "policy_compliance_rate",
        "birth_info_accuracy_rate",
        "floating_birth_share",
        "floating_prenatal_booking_rate",
        "higher_order_birth_share",
    ]
}

/// On a terminal (a pseudo-terminal from util-linux `script`, where the machine has it) the
/// log is coloured, and `NO_COLOR` turns the colour off: colour follows the terminal, not
/// only `NO_COLOR`.
#[test]
fn colour_on_a_terminal_unless_no_color() {
    let (dir, _) = fixture();
    let d = dir.path();
    let bin = env!("CARGO_BIN_EXE_poprecon");
    let on_pty = |no_color: bool, args: &str| -> Option<String> {
        let mut cmd = Command::new("script");
        cmd.args(["-qec", &format!("{bin} {args}"), "/dev/null"])
            .current_dir(d)
            .env_remove("RUST_LOG")
            .env_remove("NO_COLOR");
        if no_color {
            cmd.env("NO_COLOR", "1");
        }
        let o = cmd.output().ok().filter(|o| o.status.code().is_some())?;
        Some(text(&o.stdout))
    };
    // Select Graphic Rendition sequences (`ESC [ … m`): colour and weight, not the
    // progress bar's cursor moves.
    let sgr = |s: &str| {
        s.split('\u{1b}')
            .skip(1)
            .filter(|rest| {
                rest.strip_prefix('[').is_some_and(|r| {
                    r.find(|c: char| !(c.is_ascii_digit() || c == ';'))
                        .is_some_and(|i| r[i..].starts_with('m'))
                })
            })
            .count()
    };
    let Some(coloured) = on_pty(false, "-v run p.toml --out a") else {
        eprintln!("no `script` here: the terminal half of this test did not run");
        return;
    };
    assert!(coloured.contains("stage done"), "{coloured}");
    assert!(sgr(&coloured) > 0, "coloured on a terminal: {coloured:?}");
    let plain = on_pty(true, "-v run p.toml --out b").unwrap();
    assert!(plain.contains("stage done"), "{plain}");
    assert_eq!(sgr(&plain), 0, "NO_COLOR: {plain:?}");
    // JSON lines even on a terminal: no colour, no progress bar between them.
    let json = on_pty(false, "--log-format json -v run p.toml --out c").unwrap();
    assert!(json.contains("stage done"), "{json}");
    assert!(
        !json.contains('\u{1b}'),
        "escape code in JSON logs: {json:?}"
    );
}

/// A reader that stops early (`poprecon sources | head`) ends the command quietly, with
/// success: the pipe's read end is closed before the command writes its first line.
#[test]
fn a_closed_stdout_pipe_is_not_an_error() {
    for args in [&["sources"][..], &["sources", "--json"][..]] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_poprecon"))
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    }
}

/// The fixture run into `run/` (done, or done with an alert).
fn fixture_run() -> tempfile::TempDir {
    let (dir, _) = fixture();
    let run = poprecon(&["-q", "run", "p.toml", "--out", "run"], dir.path());
    assert!(
        matches!(run.status.code(), Some(0 | 3)),
        "{}",
        text(&run.stderr)
    );
    dir
}

/// `report` renders a run's folder again into the very page the night wrote: the tables as
/// the night read them (without the `run_id` and `as_of` the write stage stamps on them),
/// the quarantines in the plan's order.
#[test]
fn a_report_rendered_again_is_the_nights_report() {
    let dir = fixture_run();
    support::ok(&poprecon(
        &["report", "run", "--out", "again.html"],
        dir.path(),
    ));
    let night = std::fs::read(dir.path().join("run/latest/report.html")).unwrap();
    let again = std::fs::read(dir.path().join("again.html")).unwrap();
    assert!(night.len() > 10_000);
    assert!(
        night == again,
        "the page rendered again differs from the night's"
    );
}

/// `report --lang en` writes `report_en.html` beside the run's report and leaves the
/// Chinese page as it was; `--for data-team --lang en` its own file again.
#[test]
fn an_english_report_goes_beside_the_runs_report() {
    let dir = fixture_run();
    let latest = dir.path().join("run/latest");
    let before = std::fs::read(latest.join("report.html")).unwrap();
    support::ok(&poprecon(&["report", "run", "--lang", "en"], dir.path()));
    support::ok(&poprecon(
        &["report", "run", "--lang", "en", "--for", "data-team"],
        dir.path(),
    ));
    assert_eq!(std::fs::read(latest.join("report.html")).unwrap(), before);
    let en = std::fs::read_to_string(latest.join("report_en.html")).unwrap();
    assert!(en.contains("lang=\"en\""), "an English page");
    assert!(latest.join("report_data_team_en.html").is_file());
}
