use polars::prelude::*;

use crate::*;

fn input<'a>(ind: &'a DataFrame, dis: &'a DataFrame, lang: Lang) -> ReportInput<'a> {
    ReportInput {
        lang,
        title: "测试 <b>",
        as_of: "2026-01-31",
        period: ("2025-01-01", "2025-12-31"),
        run_id: "r1",
        indicators: Some(ind),
        discrepancies: Some(dis),
        village_discrepancies: None,
        linkage: None,
        ingest: None,
        quality: None,
        changes: None,
        area_names: &[],
        rule_names: &[],
        indicator_names: &[],
    }
}

fn frames() -> (DataFrame, DataFrame) {
    let ind = df!(
        "level" => ["jurisdiction"],
        "area_code" => ["3403"],
        "indicator_id" => ["live_births"],
        "value" => [12.0],
    )
    .unwrap();
    let dis = df!(
        "rule_id" => ["sex_mismatch"],
        "village" => ["340302001001"],
        "values" => ["hospital_delivery=<img src=x onerror=alert(1)>;birth_certificate=</script><script>alert(2)</script>"],
    )
    .unwrap();
    (ind, dis)
}

#[test]
fn data_cannot_escape_its_script_element() {
    let (ind, dis) = frames();
    let html = render(&input(&ind, &dis, Lang::Zh)).unwrap();
    assert!(
        !html.contains("<img src=x"),
        "hostile markup is not in the page as markup"
    );
    assert!(
        !html.contains("</script><script>alert"),
        "the data cannot close its script element"
    );
    assert!(html.contains("\\u003cimg src=x onerror=alert(1)\\u003e"));
    assert!(html.contains("测试 &lt;b&gt;"), "the title is escaped");
    assert!(html.contains("lang=\"zh-CN\""));
    assert!(!html.contains("{{"), "every marker is filled");
}

#[test]
fn english_labels_on_request() {
    let (ind, dis) = frames();
    let html = render(&input(&ind, &dis, Lang::En)).unwrap();
    assert!(html.contains("Population records cross-validation report"));
    assert!(html.contains("lang=\"en\""));
}

#[test]
fn markers_in_values_are_not_expanded() {
    assert_eq!(
        fill("a{{x}}b{{y}}c", &[("x", "{{y}}"), ("y", "Y")]),
        "a{{y}}bYc"
    );
    assert_eq!(fill("{{unknown}} {{", &[]), "{{unknown}} {{");
}

#[test]
fn frames_become_json_tables() {
    let (ind, _) = frames();
    let j = frame_json("indicators", &ind).unwrap();
    assert_eq!(j["columns"][0], "level");
    assert_eq!(j["rows"][0][3], 12.0);
}
