//! What the integration tests share: running the `poprecon` binary, fixtures of a pipeline
//! with the real division table, reading tables back.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use polars::prelude::*;
use poprecon_ingest::SourceOutput;
use poprecon_pipeline::Plan;

/// A folder with the real Bengbu division table and a pipeline file written by the test.
pub struct Fixture {
    pub dir: tempfile::TempDir,
}

impl Fixture {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let divisions = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sample-data/divisions");
        std::fs::create_dir_all(dir.path().join("divisions")).unwrap();
        for f in ["counties.csv", "townships.csv", "villages.csv"] {
            std::fs::copy(divisions.join(f), dir.path().join("divisions").join(f)).unwrap();
        }
        Fixture { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `pipeline.toml` with the given `[sources.*]` tables.
    pub fn pipeline(&self, sources: &str) -> PathBuf {
        let text = format!(
            r#"[pipeline]
name = "test"
jurisdiction = "3403"
as_of = 2026-01-31
period = {{ start = 2025-01-01, end = 2025-12-31 }}

[divisions]
counties = "divisions/counties.csv"
townships = "divisions/townships.csv"
villages = "divisions/villages.csv"

{sources}"#
        );
        let path = self.path("pipeline.toml");
        std::fs::write(&path, text).unwrap();
        path
    }
}

/// Loads a pipeline and ingests all its sources with the night's own
/// `poprecon_pipeline::ingest_source`, as `poprecon ingest` and `poprecon run` do.
pub fn ingest_pipeline(pipeline: &Path) -> Vec<SourceOutput> {
    let plan = Plan::load(pipeline).unwrap();
    plan.sources
        .iter()
        .map(|sp| {
            poprecon_pipeline::ingest_source(&plan, sp, &poprecon_pipeline::NoProgress)
                .unwrap_or_else(|e| panic!("{e}"))
        })
        .collect()
}

/// Runs the binary in `cwd`, without the caller's `RUST_LOG` and colours.
pub fn poprecon(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_poprecon"))
        .args(args)
        .current_dir(cwd)
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .output()
        .expect("poprecon runs")
}

/// Asserts a command completed: exit 0, or 3 (completed, an alert fired).
pub fn ok(out: &Output) {
    assert!(
        matches!(out.status.code(), Some(0 | 3)),
        "exit {:?}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn read(path: &Path) -> DataFrame {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    ParquetReader::new(file).finish().expect("parquet")
}

/// A column as text (null stays `None`).
pub fn strs(df: &DataFrame, col: &str) -> Vec<Option<String>> {
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

pub fn ints(df: &DataFrame, col: &str) -> Vec<Option<i64>> {
    df.column(col)
        .unwrap_or_else(|_| panic!("column `{col}`"))
        .cast(&DataType::Int64)
        .expect("integers")
        .i64()
        .expect("integers")
        .iter()
        .collect()
}

pub fn some(values: &[&str]) -> Vec<Option<String>> {
    values
        .iter()
        .map(|v| (!v.is_empty()).then(|| (*v).to_owned()))
        .collect()
}

/// A value the report must show as text, never run.
pub const HOSTILE: &str = "<img src=x onerror=alert(1)>";

/// Headless Chromium (Debian's `chromium`) with no network, no sync and its log on stderr.
const CHROMIUM_FLAGS: [&str; 10] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
];

/// The DOM after scripts ran for `budget_ms` of virtual time, what the browser logged, and
/// the seconds it took.
pub fn chromium(url: &str, budget_ms: u32) -> (String, String, f64) {
    let profile = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let out = Command::new("chromium")
        .args(CHROMIUM_FLAGS)
        .arg(format!("--virtual-time-budget={budget_ms}"))
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(url)
        .output()
        .expect("chromium runs");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        started.elapsed().as_secs_f64(),
    )
}

/// A screenshot of `url` into `path`, the window `width,height`.
pub fn screenshot(url: &str, path: &Path, budget_ms: u32, window: &str) {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new("chromium")
        .args(CHROMIUM_FLAGS)
        .arg(format!("--virtual-time-budget={budget_ms}"))
        .arg(format!("--window-size={window}"))
        .arg("--hide-scrollbars")
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", path.display()))
        .arg(url)
        .output()
        .expect("chromium runs");
    assert!(
        path.is_file(),
        "no screenshot {}: {:?}",
        path.display(),
        out
    );
}

/// Where screenshots go (kept by CI as artefacts): `$POPRECON_SCREENSHOTS`, else
/// `$CARGO_TARGET_DIR/report-screenshots`.
pub fn screenshot_dir() -> PathBuf {
    let dir = std::env::var_os("POPRECON_SCREENSHOTS")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("CARGO_TARGET_DIR")
                .map(|d| PathBuf::from(d).join("report-screenshots"))
        })
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/report-screenshots")
        });
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Console errors, uncaught exceptions and content-security-policy refusals in a log.
pub fn console_errors(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| {
            l.contains("Uncaught")
                || l.contains("Refused to")
                || (l.contains(":CONSOLE") && l.contains("Error"))
        })
        .collect()
}

/// The element with `id` in a DOM dump, up to its closing tag `end`.
pub fn dom_element<'a>(dom: &'a str, id: &str, end: &str) -> &'a str {
    let start = dom
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in the DOM"));
    let rest = &dom[start..];
    &rest[..rest.find(end).unwrap_or(rest.len())]
}

/// The text of the element with `id`, up to its first inner tag.
pub fn text_of(dom: &str, id: &str) -> String {
    let e = dom_element(dom, id, "</");
    e[e.find('>').unwrap() + 1..].to_owned()
}

/// The text between tags, without the scripts' source and the style sheet.
pub fn page_text(dom: &str) -> String {
    let mut out = String::new();
    let mut rest = dom;
    loop {
        let next = ["<script", "<style"]
            .iter()
            .filter_map(|tag| rest.find(tag).map(|i| (i, *tag)))
            .min();
        let Some((i, tag)) = next else { break };
        strip_tags(&rest[..i], &mut out);
        let close = format!("</{}>", &tag[1..]);
        rest = &rest[i..];
        rest = &rest[rest.find(&close).map_or(rest.len(), |e| e + close.len())..];
    }
    strip_tags(rest, &mut out);
    out
}

fn strip_tags(s: &str, out: &mut String) {
    let mut inside = false;
    for c in s.chars() {
        match c {
            '<' => inside = true,
            '>' => {
                inside = false;
                out.push(' ');
            }
            c if !inside => out.push(c),
            _ => {}
        }
    }
}
