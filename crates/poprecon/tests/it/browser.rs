//! The report of real runs (the committed sample, a synthetic county) in headless Chromium:
//! no console error, every section drawn, no resident ID in clear in the DOM of the default
//! report, the filter and the drill-through show what the run's tables say, the file within
//! its size budget. `poprecon report --for data-team` shows IDs in clear, `--lang en` speaks
//! English.
//!
//! Gated by `POPRECON_BROWSER_TESTS=1` (`.ci/run` sets it and installs Chromium); the
//! county run by the same variable (it takes about a minute in the dev profile).
//! Screenshots go to `$POPRECON_SCREENSHOTS`, else `$CARGO_TARGET_DIR/report-screenshots`.

use std::path::Path;

use polars::prelude::*;

use crate::support::*;

fn enabled() -> bool {
    let on = std::env::var_os("POPRECON_BROWSER_TESTS").is_some();
    if !on {
        eprintln!("POPRECON_BROWSER_TESTS is not set: the browser test is skipped");
    }
    on
}

/// Loads a run's default report and checks it against the run's tables; writes screenshots
/// named `<name>-<section>.png`. Returns the DOM load time in seconds.
fn check_run_report(run: &Path, name: &str) -> f64 {
    let report = run.join("report.html");
    let url = format!("file://{}", report.display());
    let (dom, log, seconds) = chromium(&url, 30_000);
    assert!(console_errors(&log).is_empty(), "console errors: {log}");
    assert!(dom.contains("data-ready=\"1\""), "the page finished");
    let clear = poprecon_model::clear_ids(&dom);
    assert!(clear.is_empty(), "{} IDs in clear in the DOM", clear.len());
    // No English table, column or code name in the Chinese page's text (file names aside).
    let text = visible_text(&dom);
    for word in [
        "births",
        "records",
        "metric",
        "completeness",
        "timeliness",
        "probabilistic",
        "deterministic",
        "missing_required",
        "sex_mismatch",
        "linked_share",
        "null",
    ] {
        assert!(!text.contains(word), "`{word}` in the Chinese page");
    }
    for section in [
        "indicators",
        "overview",
        "sex-ratio",
        "mismatches",
        "linkage",
        "link-rates",
        "quarantine",
        "quality",
    ] {
        assert!(
            dom.contains(&format!("<section id=\"{section}\"")),
            "section {section}"
        );
    }

    // The filter: one rule keeps exactly that rule's rows.
    let dis = read(&run.join("discrepancies.parquet"));
    let rules = strs(&dis, "rule_id");
    let rule = rules[0].clone().unwrap();
    let n_rule = rules.iter().filter(|r| r.as_deref() == Some(&rule)).count();
    let (filtered, log, _) = chromium(&format!("{url}#rule={rule}"), 30_000);
    assert!(console_errors(&log).is_empty(), "console errors: {log}");
    let pages = text_of(&filtered, "mismatch-pages");
    assert!(
        pages.contains(&format!(" / {n_rule} (共 {})", dis.height())),
        "{pages}: {n_rule} of {}",
        dis.height()
    );

    // The drill-through: a village's hospital delivery rate cell lists as many births as its
    // denominator (the numerator's births are among them).
    let ind = read(&run.join("indicators.parquet"))
        .lazy()
        .filter(
            col("level")
                .eq(lit("village"))
                .and(col("indicator_id").eq(lit("hospital_delivery_rate")))
                .and(col("basis").eq(lit("residence")))
                .and(col("denominator").gt(lit(0))),
        )
        .sort(
            ["denominator"],
            SortMultipleOptions::default().with_order_descending(true),
        )
        .collect()
        .unwrap();
    let village = strs(&ind, "area_code")[0].clone().unwrap();
    let denominator = ints(&ind, "denominator")[0].unwrap();
    let cell = format!("{village}|hospital_delivery_rate|residence");
    let (drilled, log, _) = chromium(&format!("{url}#cell={cell}"), 30_000);
    assert!(console_errors(&log).is_empty(), "console errors: {log}");
    let count = text_of(&drilled, "drill-count");
    assert!(
        count.ends_with(&format!(": {denominator}")),
        "{count}, denominator {denominator}"
    );
    let at = drilled
        .find(&format!("data-cell=\"{cell}\""))
        .expect("the cell");
    let td = &drilled[drilled[..at].rfind("<td").unwrap()..at];
    assert!(td.contains(" sel\""), "the cell is marked: {td}");

    let shots = screenshot_dir();
    for (section, extra) in [
        ("top", String::new()),
        ("overview", format!("&cell={cell}")),
        ("drill", format!("&cell={cell}")),
        ("sex-ratio", String::new()),
        ("by-rule", String::new()),
        ("mismatches", String::new()),
        ("linkage", String::new()),
        ("quarantine", String::new()),
        ("quality", String::new()),
    ] {
        screenshot(
            &format!("{url}#section={section}&only=1{extra}"),
            &shots.join(format!("{name}-{section}.png")),
            30_000,
            "1400,1800",
        );
    }
    seconds
}

/// Opens the first detailed discrepancy with a probabilistic link and screenshots its
/// records side by side and the waterfall.
fn check_side_by_side(run: &Path, name: &str) {
    let links = read(&run.join("links.parquet"));
    let dis = read(&run.join("discrepancies.parquet"));
    let method = strs(&links, "method");
    let keys = strs(&links, "key");
    let sources = strs(&links, "source");
    let mut target = None;
    'find: for i in 0..links.height() {
        if method[i].as_deref() != Some("probabilistic") {
            continue;
        }
        let col = format!("{}_key", sources[i].as_deref().unwrap());
        if dis.column(&col).is_err() {
            continue;
        }
        let ks = strs(&dis, &col);
        let ids = strs(&dis, "discrepancy_id");
        for (j, k) in ks.iter().enumerate() {
            if k.is_some() && *k == keys[i] {
                target = ids[j].clone();
                break 'find;
            }
        }
    }
    let Some(id) = target else {
        eprintln!("no discrepancy with a probabilistic link in {name}");
        return;
    };
    let url = format!(
        "file://{}#section=mismatches&only=1&q={id}&open={id}",
        run.join("report.html").display()
    );
    let (dom, log, _) = chromium(&url, 30_000);
    assert!(console_errors(&log).is_empty(), "console errors: {log}");
    assert!(
        dom.contains("class=\"side-by-side\""),
        "records side by side"
    );
    assert!(dom.contains("概率匹配"), "link method shown");
    assert!(dom.contains("waterfall-box"), "waterfall drawn");
    screenshot(
        &url,
        &screenshot_dir().join(format!("{name}-side-by-side.png")),
        30_000,
        "1400,1800",
    );
}

#[test]
fn sample_run_report_in_chromium() {
    if !enabled() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = dir.path().join("run");
    ok(&poprecon(
        &[
            "run",
            "pipelines/sample.toml",
            "--out",
            out.to_str().unwrap(),
            "--quiet",
        ],
        &root,
    ));
    // The root's `latest` run.
    let run = out.join("latest");
    check_run_report(&run, "sample");
    check_side_by_side(&run, "sample");

    // Re-rendered for the data team: IDs in clear, on purpose; in English on request.
    ok(&poprecon(
        &["report", run.to_str().unwrap(), "--for", "data-team"],
        &root,
    ));
    let (dom, log, _) = chromium(
        &format!("file://{}", run.join("report_data_team.html").display()),
        30_000,
    );
    assert!(console_errors(&log).is_empty(), "console errors: {log}");
    assert!(!poprecon_model::clear_ids(&dom).is_empty(), "IDs in clear");
    let en = dir.path().join("en.html");
    ok(&poprecon(
        &[
            "report",
            run.to_str().unwrap(),
            "--lang",
            "en",
            "--out",
            en.to_str().unwrap(),
        ],
        &root,
    ));
    let (dom, log, _) = chromium(&format!("file://{}", en.display()), 30_000);
    assert!(console_errors(&log).is_empty(), "console errors: {log}");
    assert!(dom.contains("Mismatch list") && dom.contains("Match weight histogram"));
    assert!(poprecon_model::clear_ids(&dom).is_empty());
}

#[test]
fn county_run_report_in_chromium() {
    if !enabled() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    ok(&poprecon(
        &[
            "synth", "--scale", "county", "--seed", "1", "--out", "c1", "--quiet",
        ],
        dir.path(),
    ));
    // A hostile child's name in the extract, on a row quarantined for its missing date (so
    // that the report shows it among the quarantine's examples).
    let vaccination = dir.path().join("c1/extracts/vaccination.csv");
    let text = std::fs::read_to_string(&vaccination).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let header: Vec<String> = lines[0]
        .trim_start_matches('\u{feff}')
        .split(',')
        .map(str::to_owned)
        .collect();
    let at = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (name, date) = (at("儿童姓名"), at("接种日期"));
    let mut row: Vec<String> = lines[1].split(',').map(str::to_owned).collect();
    row[name] = HOSTILE.to_owned();
    row[date] = String::new();
    lines[1] = row.join(",");
    std::fs::write(&vaccination, lines.join("\n") + "\n").unwrap();
    ok(&poprecon(
        &["run", "c1/pipeline.toml", "--out", "run", "--quiet"],
        dir.path(),
    ));
    let run = dir.path().join("run").join("latest");
    let bytes = std::fs::metadata(run.join("report.html")).unwrap().len();
    assert!(
        bytes as usize <= poprecon_report::SIZE_BUDGET_BYTES,
        "{bytes} bytes"
    );
    let seconds = check_run_report(&run, "county");
    check_side_by_side(&run, "county");
    let (dom, log, _) = chromium(
        &format!(
            "file://{}#section=quarantine",
            run.join("report.html").display()
        ),
        30_000,
    );
    assert!(console_errors(&log).is_empty(), "console errors: {log}");
    assert!(
        dom.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "the hostile name is shown as text"
    );
    assert!(!dom.contains("<img"), "no element built from data");
    eprintln!("county report: {bytes} bytes, DOM dumped in {seconds:.1} s");
}

/// The text between tags, without scripts, the style sheet and file names (`x.csv:12`).
fn visible_text(dom: &str) -> String {
    page_text(dom)
        .split_whitespace()
        .filter(|w| {
            ![".csv:", ".xlsx:", ".parquet:"]
                .iter()
                .any(|x| w.contains(x))
        })
        .collect::<Vec<_>>()
        .join(" ")
}
