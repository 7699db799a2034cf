use std::io::Read as _;

use polars::prelude::*;
use serde_json::Value as Json;

use crate::*;

const ID_MOTHER: &str = "340302199001010027";
const ID_CHILD: &str = "340302202501010012";
const ID_LEGACY: &str = "340302860101123";

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

fn input<'a>(ind: &'a DataFrame, dis: &'a DataFrame, lang: Lang) -> ReportInput<'a> {
    ReportInput {
        lang,
        title: "测试 <b>",
        as_of: "2026-01-31",
        period: ("2025-01-01", "2025-12-31"),
        run_id: "r1",
        indicators: Some(ind),
        discrepancies: Some(dis),
        ..Default::default()
    }
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
    assert!(html.contains("data-encoding=\"json\""));
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
    let j = frame_json("indicators", &ind, Audience::Analyst).unwrap();
    assert_eq!(j["columns"][0], "level");
    assert_eq!(j["rows"][0][3], 12.0);
}

/// Every kind of value, as the page's tables are written from their columns (no JSON value
/// per cell): the exact text, for the analyst and for the data team.
#[test]
fn tables_are_written_from_their_columns_value_by_value() {
    let df = df!(
        "n" => [Some(3i64), None, Some(340302199001010027), Some(-7)],
        "f" => [Some(0.1234567f64), Some(f64::NAN), None, Some(f64::INFINITY)],
        "b" => [Some(true), None, Some(false), Some(true)],
        "s" => [Some("母亲 340302199001010027"), None, Some("a\"b</script>"), Some("")],
        "d" => [Some(20089i32), None, Some(0), Some(1)],
    )
    .unwrap()
    .lazy()
    .with_column(col("d").cast(DataType::Date))
    .collect()
    .unwrap();
    let mut rows = Rows::of("t", &df, Audience::Analyst).unwrap();
    rows.push_column(
        "recs",
        vec![
            Json::Null,
            serde_json::json!([[0, 1]]),
            Json::Null,
            Json::Null,
        ],
    );
    let masked = poprecon_model::mask_ids("340302199001010027");
    assert_ne!(masked, "340302199001010027");
    assert_eq!(
        serde_json::to_string(&rows).unwrap(),
        format!(
            concat!(
                r#"{{"columns":["n","f","b","s","d","recs"],"rows":["#,
                r#"[3,0.123457,true,"母亲 {m}","2025-01-01",null],"#,
                r#"[null,null,null,null,null,[[0,1]]],"#,
                r#"["{m}",null,false,"a\"b</script>","1970-01-01",null],"#,
                r#"[-7,null,true,"","1970-01-02",null]]}}"#
            ),
            m = masked
        )
    );
    // The same table as a value (`frame_json`) reads alike, and the data team sees IDs.
    let clear = Rows::of("t", &df, Audience::DataTeam).unwrap();
    let value = serde_json::to_value(&clear).unwrap();
    assert_eq!(value["rows"][0][3], "母亲 340302199001010027");
    assert_eq!(value["rows"][2][0], "340302199001010027");
    assert_eq!(
        frame_json("t", &df, Audience::Analyst).unwrap()["rows"][2][0],
        Json::from(masked.into_owned())
    );
}

#[test]
fn the_chart_library_is_inlined_whole_and_cannot_close_its_element() {
    assert!(
        CHART_JS.starts_with("/*!\n * Chart.js v4"),
        "licence header kept"
    );
    assert!(CHART_JS.contains("Released under the MIT License"));
    assert!(!CHART_JS.to_ascii_lowercase().contains("</script"));
    let (ind, dis) = frames();
    let html = render(&input(&ind, &dis, Lang::Zh)).unwrap();
    assert!(html.contains(CHART_JS));
}

#[test]
fn base64_is_standard() {
    assert_eq!(base64(b""), "");
    assert_eq!(base64(b"f"), "Zg==");
    assert_eq!(base64(b"fo"), "Zm8=");
    assert_eq!(base64(b"foo"), "Zm9v");
    assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    assert_eq!(base64(&[0xfb, 0xff]), "+/8=");
}

/// A run's tables with resident IDs in every place one can stand: record keys, values,
/// canonical fields, links, births, contested links, quarantine rows, a numeric cell.
struct Fixture {
    indicators: DataFrame,
    births: DataFrame,
    ib: DataFrame,
    discrepancies: DataFrame,
    links: DataFrame,
    model: DataFrame,
    ambiguous: DataFrame,
    sources: Vec<(String, DataFrame)>,
    quarantine: Vec<(String, DataFrame)>,
}

fn fixture() -> Fixture {
    let indicators = df!(
        "level" => ["jurisdiction", "village"],
        "area_code" => ["3403", "340302001001"],
        "area_name" => ["蚌埠市", "<img src=x onerror=alert(1)>"],
        "indicator_id" => ["hospital_delivery_rate", "hospital_delivery_rate"],
        "basis" => ["residence", "residence"],
        "numerator" => [1_i64, 1],
        "denominator" => [1_i64, 1],
        "value" => [1.0, 1.0],
        "low_n" => [true, true],
    )
    .unwrap();
    let birth_id = format!("household:{ID_CHILD}");
    let births = df!(
        "birth_id" => [birth_id.as_str()],
        "household_key" => [ID_CHILD],
        "mother_id" => [ID_MOTHER],
        "birth_date" => ["2025-01-01"],
        "child_sex" => ["1"],
        "village" => ["340302001001"],
    )
    .unwrap();
    let ib = df!(
        "indicator_id" => ["hospital_delivery_rate"],
        "basis" => ["residence"],
        "area_code" => ["340302001001"],
        "birth_id" => [birth_id.as_str()],
        "in_numerator" => [true],
        "in_denominator" => [true],
    )
    .unwrap();
    let discrepancies = df!(
        "discrepancy_id" => ["d1"],
        "rule_id" => ["mother_id_mismatch"],
        "severity" => ["high"],
        "village" => ["340302001001"],
        "birth_id" => [birth_id.as_str()],
        "hospital_delivery_key" => ["HD1"],
        "household_key" => [ID_CHILD],
        "field" => ["mother_id"],
        "values" => [format!("hospital_delivery={ID_MOTHER};household={ID_LEGACY}")],
        "status" => ["new"],
    )
    .unwrap();
    let links = df!(
        "birth_id" => [birth_id.as_str()],
        "source" => ["household"],
        "key" => [ID_CHILD],
        "method" => ["probabilistic"],
        "match_weight" => [9.5],
        "mother_id_level" => ["exact"],
        "mother_id_weight" => [7.0],
        "child_name_level" => ["one_edit"],
        "child_name_weight" => [3.5],
    )
    .unwrap();
    let model = df!(
        "stage" => ["household"],
        "comparison" => ["prior"],
        "level" => ["lambda"],
        "m" => [0.1],
        "u" => [None::<f64>],
        "weight" => [-1.0],
        "candidate_pairs" => [10_i64],
    )
    .unwrap();
    let ambiguous = df!(
        "contested_source" => ["household"],
        "contested_key" => [ID_CHILD],
        "candidate_source" => ["hospital_delivery"],
        "candidate_key" => ["HD1"],
    )
    .unwrap();
    let hd = df!(
        "record_key" => ["HD1"],
        "record_id" => ["HD1"],
        "mother_id" => [ID_MOTHER],
        "mother_name" => ["王芳"],
        "delivery_date" => ["2025-01-01"],
        "source_file" => ["/data/hospital_delivery.csv"],
        "source_line" => [2_i64],
    )
    .unwrap();
    let household = df!(
        "record_key" => [ID_CHILD],
        "person_id" => [ID_CHILD],
        "name" => ["王小明"],
        "mother_id" => [ID_MOTHER],
        // An ID that a spreadsheet turned into a number.
        "father_id" => [340302198801010033_i64],
        "source_file" => ["/data/household.parquet"],
        "source_line" => [7_i64],
    )
    .unwrap();
    let q = df!(
        "source" => ["hospital_delivery"],
        "file" => ["/data/hospital_delivery.csv"],
        "line" => [9_i64],
        "reason" => ["missing_required"],
        "field" => ["delivery_date"],
        "raw" => [format!("{{\"母亲身份证号\":\"{ID_MOTHER}\",\"全角\":\"３４０３０２１９９００１０１００２７\"}}")],
    )
    .unwrap();
    Fixture {
        indicators,
        births,
        ib,
        discrepancies,
        links,
        model,
        ambiguous,
        sources: vec![
            ("hospital_delivery".into(), hd),
            ("household".into(), household),
        ],
        quarantine: vec![("hospital_delivery".into(), q)],
    }
}

fn fixture_input(f: &Fixture, audience: Audience) -> ReportInput<'_> {
    ReportInput {
        audience,
        title: "测试",
        indicators: Some(&f.indicators),
        births: Some(&f.births),
        indicator_births: Some(&f.ib),
        discrepancies: Some(&f.discrepancies),
        links: Some(&f.links),
        link_model: Some(&f.model),
        ambiguous: Some(&f.ambiguous),
        sources: &f.sources,
        quarantine: &f.quarantine,
        ..Default::default()
    }
}

fn strings_of(j: &Json, out: &mut Vec<String>) {
    match j {
        Json::String(s) => out.push(s.clone()),
        Json::Number(n) => out.push(n.to_string()),
        Json::Array(a) => a.iter().for_each(|v| strings_of(v, out)),
        Json::Object(o) => o.iter().for_each(|(k, v)| {
            out.push(k.clone());
            strings_of(v, out);
        }),
        _ => {}
    }
}

/// Every string (and number, and key) the page embeds, and the page itself.
fn embedded(input: &ReportInput<'_>) -> Vec<String> {
    let mut out = Vec::new();
    strings_of(&page_data(input).unwrap(), &mut out);
    out.push(render(input).unwrap());
    out
}

#[test]
fn the_default_report_holds_no_resident_id_in_clear() {
    let f = fixture();
    let all = embedded(&fixture_input(&f, Audience::Analyst));
    let found: Vec<&str> = all
        .iter()
        .flat_map(|s| poprecon_model::clear_ids(s))
        .collect();
    assert!(found.is_empty(), "IDs in clear: {}", found.len());
    // Nor a legacy 15-digit number or a full-width one.
    assert!(all.iter().all(|s| !s.contains(ID_LEGACY)));
    assert!(all.iter().all(|s| !poprecon_model::contains_id(s)));
    // What the analyst sees instead: the export's masking, and the records themselves.
    let joined = all.join("\n");
    assert!(joined.contains("340302********0027"));
    assert!(
        joined.contains("王芳"),
        "names as the analyst export shows them"
    );
    let data = page_data(&fixture_input(&f, Audience::Analyst)).unwrap();
    let refs = &data["dis"]["rows"][0];
    let refs = refs.as_array().unwrap().last().unwrap();
    assert_eq!(
        refs.as_array().unwrap().len(),
        2,
        "both records side by side"
    );
    assert_eq!(data["meta"]["detailed"], 1);
}

#[test]
fn the_data_team_report_shows_ids_in_clear() {
    let f = fixture();
    let all = embedded(&fixture_input(&f, Audience::DataTeam));
    let joined = all.join("\n");
    assert!(joined.contains(ID_MOTHER));
    assert!(joined.contains(ID_CHILD));
}

#[test]
fn records_and_their_link_are_embedded_side_by_side() {
    let f = fixture();
    let data = page_data(&fixture_input(&f, Audience::Analyst)).unwrap();
    let tables = &data["recs"]["tables"];
    let hh = &tables["household"];
    assert!(
        hh["columns"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "source_line")
    );
    assert_eq!(hh["link"][0][0], "probabilistic");
    assert_eq!(hh["link"][0][1], 9.5);
    assert_eq!(hh["link"][0][2][0][0], "mother_id");
    // The numeric ID cell became a masked string.
    let row = hh["rows"][0].as_array().unwrap();
    assert!(row.iter().any(|v| v == "340302********0033"), "{row:?}");
    // Drill-through: the one birth, counted in both.
    assert_eq!(
        data["drill"]["cells"]["hospital_delivery_rate|residence"],
        "b"
    );
}

#[test]
fn detail_is_capped_and_the_cap_is_said() {
    let f = fixture();
    let mut input = fixture_input(&f, Audience::Analyst);
    input.limits.detail_discrepancies = 0;
    let data = page_data(&input).unwrap();
    assert_eq!(data["meta"]["detailed"], 0);
    assert_eq!(data["meta"]["detail_cap"], 0);
    let row = data["dis"]["rows"][0].as_array().unwrap();
    assert!(row.last().unwrap().is_null());
}

#[test]
fn large_data_is_compressed_and_decodes_to_the_page_data() {
    let f = fixture();
    let mut input = fixture_input(&f, Audience::Analyst);
    input.limits.compress_above = 0;
    let html = render(&input).unwrap();
    assert!(html.contains("data-encoding=\"gzip-base64\""));
    let start = html.find("id=\"report-data\"").unwrap();
    let body = &html[start..];
    let body = &body[body.find('>').unwrap() + 1..];
    let body = &body[..body.find("</script>").unwrap()];
    let bytes = decode_base64(body);
    let mut text = String::new();
    flate2::read::GzDecoder::new(&bytes[..])
        .read_to_string(&mut text)
        .unwrap();
    let decoded: Json = serde_json::from_str(&text).unwrap();
    assert_eq!(decoded, page_data(&input).unwrap());
}

fn decode_base64(s: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes().filter(|c| *c != b'=') {
        acc = (acc << 6) | ALPHABET.iter().position(|a| *a == c).unwrap() as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

/// A city-sized mismatch list (140 k discrepancies, two records each) stays within the size
/// budget: the records of the first [`Limits::detail_discrepancies`] are embedded, and the
/// data is compressed.
#[test]
fn a_city_sized_report_stays_within_its_budget() {
    let n = 140_000usize;
    let rules = [
        "sex_mismatch",
        "birth_date_mismatch",
        "mother_id_mismatch",
        "delivery_without_certificate",
    ];
    let id = |i: usize| format!("D{i:08}");
    let dis = df!(
        "discrepancy_id" => (0..n).map(|i| format!("{i:016x}")).collect::<Vec<_>>(),
        "rule_id" => (0..n).map(|i| rules[i % 4]).collect::<Vec<_>>(),
        "severity" => (0..n).map(|i| if i % 3 == 0 { "high" } else { "medium" }).collect::<Vec<_>>(),
        "village" => (0..n).map(|i| format!("3403{:02}{:03}{:03}", i % 5, i % 40, i % 300)).collect::<Vec<_>>(),
        "birth_id" => (0..n).map(|i| format!("hospital_delivery:{}", id(i))).collect::<Vec<_>>(),
        "hospital_delivery_key" => (0..n).map(id).collect::<Vec<_>>(),
        "birth_certificate_key" => (0..n).map(|i| format!("Q{i:09}")).collect::<Vec<_>>(),
        "field" => (0..n).map(|_| "child_sex").collect::<Vec<_>>(),
        "values" => (0..n).map(|i| format!("hospital_delivery=1;birth_certificate={}", 1 + i % 2)).collect::<Vec<_>>(),
        "status" => (0..n).map(|i| if i % 2 == 0 { "new" } else { "open" }).collect::<Vec<_>>(),
        "first_seen" => (0..n).map(|_| "2026-01-31").collect::<Vec<_>>(),
    )
    .unwrap();
    let hd = df!(
        "record_key" => (0..n).map(id).collect::<Vec<_>>(),
        "record_id" => (0..n).map(id).collect::<Vec<_>>(),
        "mother_id" => (0..n).map(|i| format!("3403021990{:08}", i)).collect::<Vec<_>>(),
        "mother_name" => (0..n).map(|i| ["王芳", "李娜", "张敏"][i % 3]).collect::<Vec<_>>(),
        "delivery_date" => (0..n).map(|i| format!("2025-{:02}-{:02}", 1 + i % 12, 1 + i % 28)).collect::<Vec<_>>(),
        "institution" => (0..n).map(|i| format!("蚌埠市第{}人民医院", i % 9)).collect::<Vec<_>>(),
        "child_sex" => (0..n).map(|_| "1").collect::<Vec<_>>(),
        "source_file" => (0..n).map(|_| "/data/extracts/hospital_delivery.csv").collect::<Vec<_>>(),
        "source_line" => (0..n).map(|i| i as i64 + 2).collect::<Vec<_>>(),
    )
    .unwrap();
    let bc = df!(
        "record_key" => (0..n).map(|i| format!("Q{i:09}")).collect::<Vec<_>>(),
        "certificate_no" => (0..n).map(|i| format!("Q{i:09}")).collect::<Vec<_>>(),
        "child_name" => (0..n).map(|i| ["王小明", "李小红", "张伟"][i % 3]).collect::<Vec<_>>(),
        "child_sex" => (0..n).map(|i| format!("{}", 1 + i % 2)).collect::<Vec<_>>(),
        "birth_date" => (0..n).map(|i| format!("2025-{:02}-{:02}", 1 + i % 12, 1 + i % 28)).collect::<Vec<_>>(),
        "mother_id" => (0..n).map(|i| format!("3403021990{:08}", i)).collect::<Vec<_>>(),
        "source_file" => (0..n).map(|_| "/data/extracts/birth_certificate.xlsx").collect::<Vec<_>>(),
        "source_line" => (0..n).map(|i| i as i64 + 2).collect::<Vec<_>>(),
    )
    .unwrap();
    let sources = vec![
        ("birth_certificate".to_owned(), bc),
        ("hospital_delivery".to_owned(), hd),
    ];
    let input = ReportInput {
        discrepancies: Some(&dis),
        sources: &sources,
        ..Default::default()
    };
    let html = render(&input).unwrap();
    eprintln!("city-sized report: {} bytes", html.len());
    assert!(
        html.len() <= SIZE_BUDGET_BYTES,
        "{} bytes > budget {}",
        html.len(),
        SIZE_BUDGET_BYTES
    );
    let data = page_data(&input).unwrap();
    assert_eq!(
        data["meta"]["detailed"],
        Limits::default().detail_discrepancies
    );
    assert_eq!(
        data["dis"]["rows"].as_array().unwrap().len(),
        n,
        "every row listed"
    );
}
