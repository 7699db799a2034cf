//! `report.html` in a real headless Chromium: it loads without console errors, shows every
//! section, its filter and its drill-through change what is shown, hostile text in the data
//! stays text, and no resident ID in clear reaches the DOM of the default (analyst) report.
//!
//! Needs Debian's `chromium` (`.ci/run` installs it and sets `POPRECON_BROWSER_TESTS=1`).
//! Without that variable the tests say so and check the page statically only. Screenshots
//! go to `$POPRECON_SCREENSHOTS` (default `$CARGO_TARGET_DIR/report-screenshots`, else
//! `target/report-screenshots`). The reports of real runs (the sample and a county) are
//! tested in `browser.rs`.

use std::path::{Path, PathBuf};

use polars::prelude::*;
use poprecon_report::{Audience, Lang, Limits, ReportInput, render};

use crate::support::*;

const MOTHER: &str = "340302199001010027";
const CHILD: &str = "340302202501010012";

struct Tables {
    indicators: DataFrame,
    births: DataFrame,
    ib: DataFrame,
    discrepancies: DataFrame,
    links: DataFrame,
    model: DataFrame,
    sources: Vec<(String, DataFrame)>,
    quarantine: Vec<(String, DataFrame)>,
}

fn tables() -> Tables {
    let indicators = df!(
        "level" => ["jurisdiction", "jurisdiction", "county", "county", "village", "village"],
        "area_code" => ["3403", "3403", "340302", "340303", "340302001001", "340303001001"],
        "area_name" => ["蚌埠市", "蚌埠市", HOSTILE, "蚌山区", "村一", "村二"],
        "indicator_id" => ["live_births", "sex_ratio_at_birth", "sex_ratio_at_birth", "sex_ratio_at_birth", "hospital_delivery_rate", "hospital_delivery_rate"],
        "basis" => ["residence"; 6],
        "numerator" => [120_i64, 63, 40, 23, 1, 0],
        "denominator" => [None, Some(57_i64), Some(30), Some(27), Some(1), Some(1)],
        "value" => [120.0, 110.5, 133.3, 85.2, 1.0, 0.0],
        "ci_low" => [None, Some(95.0), Some(110.0), Some(70.0), None, None],
        "ci_high" => [None, Some(125.0), Some(150.0), Some(100.0), None, None],
        "low_n" => [false, false, false, false, true, true],
    )
    .unwrap();
    let b1 = format!("household:{CHILD}");
    let births = df!(
        "birth_id" => [b1.as_str(), "hospital_delivery:D-2"],
        "birth_date" => ["2025-01-01", "2025-02-01"],
        "child_sex" => ["1", "2"],
        "village" => ["340302001001", "340303001001"],
    )
    .unwrap();
    let ib = df!(
        "indicator_id" => ["hospital_delivery_rate", "hospital_delivery_rate"],
        "basis" => ["residence", "residence"],
        "area_code" => ["340302001001", "340303001001"],
        "birth_id" => [b1.as_str(), "hospital_delivery:D-2"],
        "in_numerator" => [true, false],
        "in_denominator" => [true, true],
    )
    .unwrap();
    let discrepancies = df!(
        "discrepancy_id" => ["D1", "D2", "D3"],
        "rule_id" => ["sex_mismatch", "sex_mismatch", "mother_id_mismatch"],
        "severity" => ["high", "high", "medium"],
        "village" => ["340302001001", "340303001001", "340302001001"],
        "birth_id" => [b1.as_str(), "hospital_delivery:D-2", b1.as_str()],
        "field" => ["child_sex", "child_sex", "mother_id"],
        "values" => [format!("hospital_delivery=1;household={HOSTILE}"), "hospital_delivery=1;birth_certificate=2".to_owned(), format!("hospital_delivery={MOTHER};household=340302199001010035")],
        "status" => ["new", "open", "new"],
        "hospital_delivery_key" => ["D-1", "D-2", "D-1"],
        "household_key" => [Some(CHILD), None, Some(CHILD)],
        "birth_certificate_key" => [None, Some("Q2"), None],
    )
    .unwrap();
    let links = df!(
        "birth_id" => [b1.as_str()],
        "source" => ["household"],
        "key" => [CHILD],
        "method" => ["probabilistic"],
        "match_weight" => [9.5],
        "mother_id_level" => ["exact"],
        "mother_id_weight" => [7.0],
        "child_name_level" => ["one_edit"],
        "child_name_weight" => [3.5],
    )
    .unwrap();
    let model = df!(
        "stage" => ["household", "household"],
        "comparison" => ["prior", "mother_id"],
        "level" => ["lambda", "exact"],
        "m" => [0.1, 0.9],
        "u" => [None, Some(0.001)],
        "weight" => [-1.0, 7.0],
        "candidate_pairs" => [10_i64, 10],
    )
    .unwrap();
    let hd = df!(
        "record_key" => ["D-1", "D-2"],
        "record_id" => ["D-1", "D-2"],
        "mother_id" => [MOTHER, "340303199201010045"],
        "mother_name" => [HOSTILE, "李娜"],
        "delivery_date" => ["2025-01-01", "2025-02-01"],
        "child_sex" => ["1", "1"],
        "source_file" => ["/data/hospital_delivery.csv", "/data/hospital_delivery.csv"],
        "source_line" => [2_i64, 3],
    )
    .unwrap();
    let household = df!(
        "record_key" => [CHILD],
        "person_id" => [CHILD],
        "name" => ["王小明"],
        "sex" => ["2"],
        "mother_id" => ["340302199001010035"],
        "source_file" => ["/data/household.parquet"],
        "source_line" => [7_i64],
    )
    .unwrap();
    let bc = df!(
        "record_key" => ["Q2"],
        "certificate_no" => ["Q2"],
        "child_sex" => ["2"],
        "source_file" => ["/data/birth_certificate.xlsx"],
        "source_line" => [2_i64],
    )
    .unwrap();
    let q = df!(
        "source" => ["hospital_delivery"],
        "file" => ["/data/hospital_delivery.csv"],
        "line" => [9_i64],
        "reason" => ["missing_required"],
        "field" => ["delivery_date"],
        "raw" => [format!("{{\"产妇身份证号\":\"{MOTHER}\",\"产妇姓名\":\"{HOSTILE}\"}}")],
    )
    .unwrap();
    Tables {
        indicators,
        births,
        ib,
        discrepancies,
        links,
        model,
        sources: vec![
            ("birth_certificate".into(), bc),
            ("hospital_delivery".into(), hd),
            ("household".into(), household),
        ],
        quarantine: vec![("hospital_delivery".into(), q)],
    }
}

fn report(dir: &Path, t: &Tables, audience: Audience, compress: bool) -> PathBuf {
    let html = render(&ReportInput {
        lang: Lang::Zh,
        audience,
        limits: Limits {
            compress_above: if compress { 0 } else { usize::MAX },
            ..Limits::default()
        },
        title: "测试",
        as_of: "2026-01-31",
        period: ("2025-01-01", "2025-12-31"),
        run_id: "r1",
        jurisdiction: "3403",
        match_threshold: Some(6.0),
        indicators: Some(&t.indicators),
        indicator_births: Some(&t.ib),
        births: Some(&t.births),
        discrepancies: Some(&t.discrepancies),
        links: Some(&t.links),
        link_model: Some(&t.model),
        sources: &t.sources,
        quarantine: &t.quarantine,
        rule_names: &[
            (
                "sex_mismatch".into(),
                "性别不一致".into(),
                "Sex mismatch".into(),
            ),
            (
                "mother_id_mismatch".into(),
                "母亲身份证号不一致".into(),
                "Mother ID mismatch".into(),
            ),
        ],
        indicator_names: &[
            ("live_births".into(), "活产数".into(), "Live births".into()),
            (
                "hospital_delivery_rate".into(),
                "住院分娩率".into(),
                "Hospital delivery rate".into(),
            ),
            (
                "sex_ratio_at_birth".into(),
                "出生人口性别比".into(),
                "Sex ratio at birth".into(),
            ),
        ],
        targets: &[("hospital_delivery_rate".into(), 0.98, 0.9)],
        ..Default::default()
    })
    .unwrap();
    let path = dir.join(format!(
        "report-{}-{}.html",
        audience.code(),
        if compress { "gz" } else { "json" }
    ));
    std::fs::write(&path, html).unwrap();
    path
}

#[test]
fn report_in_headless_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let t = tables();
    let plain = report(dir.path(), &t, Audience::Analyst, false);
    let packed = report(dir.path(), &t, Audience::Analyst, true);
    for path in [&plain, &packed] {
        let html = std::fs::read_to_string(path).unwrap();
        assert!(
            !html.contains(HOSTILE),
            "hostile text is never markup in the file"
        );
        assert!(
            poprecon_model::clear_ids(&html).is_empty(),
            "no ID in clear in the file"
        );
    }

    if std::env::var_os("POPRECON_BROWSER_TESTS").is_none() {
        eprintln!("POPRECON_BROWSER_TESTS is not set: the page was checked statically only");
        return;
    }
    for path in [&plain, &packed] {
        let url = format!("file://{}", path.display());
        let (dom, log, _) = chromium(&url, 10_000);
        assert!(
            !dom.trim().is_empty(),
            "an alert() would block the page and empty the DOM"
        );
        assert!(console_errors(&log).is_empty(), "console errors: {log}");
        assert!(dom.contains("data-ready=\"1\""), "the page finished: {dom}");
        // Every ID masked in the DOM, the masked form shown.
        assert_eq!(poprecon_model::clear_ids(&dom), Vec::<&str>::new());
        assert!(dom.contains("340302********0027"));
        // The jurisdiction's indicators, the charts' canvases.
        assert!(
            dom.contains("活产数") && dom.contains("120"),
            "indicator table"
        );
        assert!(dom.matches("<canvas").count() >= 2, "charts drawn");
        // Hostile text is shown as text: escaped in the DOM, no <img> element made of it.
        assert!(
            dom.contains("&lt;img src=x onerror=alert(1)&gt;"),
            "hostile text shown as text"
        );
        assert!(
            !dom.contains("<img src=\"x\""),
            "no element built from data"
        );
        // No raw English table or code names in the Chinese page's text.
        let text = page_text(&dom);
        for word in [
            "births",
            "records",
            "metric",
            "completeness",
            "probabilistic",
            "missing_required",
            "sex_mismatch",
        ] {
            assert!(!text.contains(word), "`{word}` in the Chinese page: {text}");
        }
        assert!(text_of(&dom, "mismatch-pages").contains("1–3 / 3"));
        assert!(text.contains("住院分娩=1"), "sources named in the values");

        // The filter (from the link): two conditions keep one row, of the other village.
        let (filtered, log, _) = chromium(&format!("{url}#rule=sex_mismatch&status=open"), 10_000);
        assert!(console_errors(&log).is_empty(), "console errors: {log}");
        assert!(
            text_of(&filtered, "mismatch-pages").contains("1–1 / 1 (共 3)"),
            "{}",
            text_of(&filtered, "mismatch-pages")
        );
        let rows = dom_element(&filtered, "mismatch-rows", "</tbody>");
        assert!(
            rows.contains("340303001001") && !rows.contains("340302001001"),
            "{rows}"
        );

        // Drill-through: the cell of village 340302001001 holds one birth, with its two
        // discrepancies; the records of D3 side by side with the disputed field marked.
        let (drilled, log, _) = chromium(
            &format!("{url}#cell=340302001001|hospital_delivery_rate|residence&open=D3"),
            10_000,
        );
        assert!(console_errors(&log).is_empty(), "console errors: {log}");
        assert!(
            text_of(&drilled, "drill-count").contains(": 1"),
            "{}",
            text_of(&drilled, "drill-count")
        );
        let births = dom_element(&drilled, "drill-rows", "</tbody>");
        assert!(births.contains("household:340302********0012"), "{births}");
        assert!(
            births.contains("性别不一致、母亲身份证号不一致"),
            "{births}"
        );
        let detail = dom_element(&drilled, "detail-2", "</table>");
        assert!(detail.contains("class=\"disputed\""), "{detail}");
        assert!(
            detail.contains("hospital_delivery.csv:2") && detail.contains("household.parquet:7")
        );
        assert!(
            detail.contains("概率匹配") && detail.contains("9.50"),
            "{detail}"
        );
    }
    let shots = screenshot_dir();
    let url = format!("file://{}", plain.display());
    screenshot(&url, &shots.join("fixture-top.png"), 10_000, "1400,1600");
    screenshot(
        &format!("{url}#section=mismatches&only=1&open=D3"),
        &shots.join("fixture-mismatch-detail.png"),
        10_000,
        "1400,1600",
    );
}

/// When the jurisdiction is itself a county, the sex-ratio chart draws it once.
#[test]
fn a_county_jurisdiction_is_drawn_once() {
    let indicators = df!(
        "level" => ["jurisdiction", "county", "township"],
        "area_code" => ["340302", "340302", "340302001"],
        "indicator_id" => ["sex_ratio_at_birth"; 3],
        "basis" => ["residence"; 3],
        "numerator" => [63_i64, 63, 30],
        "denominator" => [57_i64, 57, 28],
        "value" => [110.5, 110.5, 107.1],
        "ci_low" => [95.0, 95.0, 80.0],
        "ci_high" => [125.0, 125.0, 140.0],
        "low_n" => [false, false, false],
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("county.html");
    let html = render(&ReportInput {
        title: "县",
        jurisdiction: "340302",
        indicators: Some(&indicators),
        ..Default::default()
    })
    .unwrap();
    std::fs::write(&path, html).unwrap();
    if std::env::var_os("POPRECON_BROWSER_TESTS").is_none() {
        eprintln!("POPRECON_BROWSER_TESTS is not set: the page was checked statically only");
        return;
    }
    let (dom, log, _) = chromium(&format!("file://{}", path.display()), 10_000);
    assert!(console_errors(&log).is_empty(), "console errors: {log}");
    assert!(
        dom.contains("id=\"sex-ratio-top\" data-areas=\"340302\""),
        "{}",
        dom_element(&dom, "sex-ratio-top", ">")
    );
    assert!(dom.contains("id=\"sex-ratio-townships\" data-areas=\"340302001\""));
}

/// The data-team variant shows IDs in clear, on purpose, and says so.
#[test]
fn data_team_report_in_headless_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let t = tables();
    let path = report(dir.path(), &t, Audience::DataTeam, true);
    if std::env::var_os("POPRECON_BROWSER_TESTS").is_none() {
        eprintln!("POPRECON_BROWSER_TESTS is not set: the page was checked statically only");
        return;
    }
    let (dom, log, _) = chromium(&format!("file://{}", path.display()), 10_000);
    assert!(console_errors(&log).is_empty(), "console errors: {log}");
    assert!(dom.contains(MOTHER), "IDs in clear for the data team");
    assert!(dom.contains("数据组版本"));
}
