//! `report.html` in a real headless Chromium: it loads without console errors, shows the
//! indicator table, its filter works, and hostile text in the data stays text.
//!
//! Needs Debian's `chromium` (`.ci/run` installs it and sets `POPRECON_BROWSER_TESTS=1`).
//! Without that variable the test says so and checks the page statically only.

use std::path::Path;
use std::process::Command;

use polars::prelude::*;
use poprecon_report::{Lang, ReportInput, render};

const HOSTILE: &str = "<img src=x onerror=alert(1)>";

fn report(dir: &Path) -> std::path::PathBuf {
    let indicators = df!(
        "level" => ["jurisdiction", "jurisdiction", "county", "county"],
        "area_code" => ["3403", "3403", "340302", "340303"],
        "area_name" => ["蚌埠市", "蚌埠市", HOSTILE, "蚌山区"],
        "indicator_id" => ["live_births", "sex_ratio_at_birth", "sex_ratio_at_birth", "sex_ratio_at_birth"],
        "numerator" => [120_i64, 63, 40, 23],
        "denominator" => [None, Some(57_i64), Some(30), Some(27)],
        "value" => [120.0, 110.5, 133.3, 85.2],
        "low_n" => [false, false, false, false],
    )
    .unwrap();
    let discrepancies = df!(
        "discrepancy_id" => ["D1", "D2", "D3"],
        "rule_id" => ["sex_mismatch", "sex_mismatch", "delivery_without_certificate"],
        "severity" => ["high", "high", "medium"],
        "village" => ["340302001001", "340303001001", "340302001001"],
        "field" => ["child_sex", "child_sex", ""],
        "values" => [format!("hospital_delivery=1;birth_certificate={HOSTILE}"), "hospital_delivery=1;birth_certificate=2".to_owned(), String::new()],
        "status" => ["new", "open", "new"],
        "hospital_delivery_key" => ["D-1", "D-2", "D-3"],
        "birth_certificate_key" => [Some("Q1"), Some("Q2"), None],
    )
    .unwrap();
    let html = render(&ReportInput {
        lang: Lang::Zh,
        title: "测试",
        as_of: "2026-01-31",
        period: ("2025-01-01", "2025-12-31"),
        run_id: "r1",
        indicators: Some(&indicators),
        discrepancies: Some(&discrepancies),
        village_discrepancies: None,
        linkage: None,
        ingest: None,
        quality: None,
        changes: None,
        area_names: &[],
        rule_names: &[(
            "sex_mismatch".into(),
            "性别不一致".into(),
            "Sex mismatch".into(),
        )],
        indicator_names: &[("live_births".into(), "活产数".into(), "Live births".into())],
    })
    .unwrap();
    let path = dir.join("report.html");
    std::fs::write(&path, html).unwrap();
    path
}

/// The DOM after scripts ran, and what the browser logged.
fn chromium(url: &str) -> (String, String) {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new("chromium")
        .args([
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
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(url)
        .output()
        .expect("chromium runs");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn report_in_headless_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let path = report(dir.path());
    let html = std::fs::read_to_string(&path).unwrap();
    assert!(
        !html.contains(HOSTILE),
        "hostile text is never markup in the file"
    );

    if std::env::var_os("POPRECON_BROWSER_TESTS").is_none() {
        eprintln!("POPRECON_BROWSER_TESTS is not set: the page was checked statically only");
        return;
    }
    let url = format!("file://{}", path.display());
    let (dom, log) = chromium(&url);
    assert!(
        !dom.trim().is_empty(),
        "an alert() would block the page and empty the DOM"
    );
    assert!(!log.contains("Uncaught"), "console errors: {log}");
    // The indicator table is there.
    assert!(
        dom.contains("活产数") && dom.contains("120"),
        "indicator table shown"
    );
    // Hostile text is shown as text: escaped in the DOM, no <img> element made of it.
    assert!(
        dom.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "hostile text shown as text"
    );
    assert!(
        !dom.contains("<img src=\"x\""),
        "no element built from data"
    );
    // All three discrepancies unfiltered; the filter from the link keeps one.
    assert!(dom.contains("显示 3 / 3"), "unfiltered count");
    let (filtered, _) = chromium(&format!("{url}#rule=sex_mismatch&status=open"));
    assert!(filtered.contains("显示 1 / 1"), "filtered count");
    let start = filtered
        .find("<tbody id=\"mismatch-rows\">")
        .expect("the mismatch list");
    let rows = &filtered[start..start + filtered[start..].find("</tbody>").unwrap()];
    assert!(
        rows.contains("340303001001") && !rows.contains("340302001001"),
        "{rows}"
    );
}
