use polars::prelude::*;

use crate::*;

#[test]
fn formulas_are_neutralised() {
    for s in ["=1+1", "+1", "-2", "@SUM(A1)", "\tx", "\rx"] {
        assert!(neutralize(s).starts_with('\''), "{s}");
    }
    assert_eq!(neutralize("王芳"), "王芳");
    assert_eq!(neutralize(""), "");
}

#[test]
fn the_export_masks_with_the_models_function() {
    // The masking itself is tested in `poprecon-model`; the export re-exports it.
    assert_eq!(mask_ids("340302201601010019"), "340302********0019");
}

#[test]
fn small_counts_are_suppressed() {
    let df = df!(
        "area_code" => ["a", "b", "c"],
        "numerator" => [3_i64, 0, 12],
        "denominator" => [10_i64, 0, 40],
        "value" => [0.3, f64::NAN, 0.3],
    )
    .unwrap();
    let out = suppress_small(&df, &["numerator", "denominator"], &["value"], 5).unwrap();
    let num: Vec<Option<i64>> = out
        .column("numerator")
        .unwrap()
        .i64()
        .unwrap()
        .iter()
        .collect();
    assert_eq!(num, [None, Some(0), Some(12)]);
    let val: Vec<Option<f64>> = out.column("value").unwrap().f64().unwrap().iter().collect();
    assert_eq!(val[0], None);
    let flag: Vec<Option<bool>> = out
        .column("suppressed")
        .unwrap()
        .bool()
        .unwrap()
        .iter()
        .collect();
    assert_eq!(flag, [Some(true), Some(false), Some(false)]);
}

#[test]
fn xlsx_and_csv_round_trip_with_labels_and_masks() {
    use calamine::{Data, Reader};
    let dir = tempfile::tempdir().unwrap();
    let df = df!(
        "mother_id" => ["340302201601010019", "=cmd|' /C calc'!A0"],
        "count" => [1_i64, 2],
    )
    .unwrap();
    let headers = |c: &str| (c == "mother_id").then(|| "母亲身份证号".to_owned());
    let xlsx = dir.path().join("t.xlsx");
    write_table(
        &df,
        &xlsx,
        ExportFormat::Xlsx,
        "明细",
        &headers,
        IdPolicy::Mask,
    )
    .unwrap();
    let mut book: calamine::Xlsx<_> = calamine::open_workbook(&xlsx).unwrap();
    let range = book.worksheet_range("明细").unwrap();
    let rows: Vec<Vec<Data>> = range.rows().map(|r| r.to_vec()).collect();
    assert_eq!(rows[0][0], Data::String("母亲身份证号".into()));
    assert_eq!(rows[1][0], Data::String("340302********0019".into()));
    assert_eq!(rows[2][0], Data::String("'=cmd|' /C calc'!A0".into()));
    assert_eq!(rows[2][1], Data::Float(2.0));

    let csv = dir.path().join("t.csv");
    write_table(
        &df,
        &csv,
        ExportFormat::Csv,
        "明细",
        &headers,
        IdPolicy::Clear,
    )
    .unwrap();
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(text.starts_with('\u{FEFF}'));
    assert!(text.contains("340302201601010019"), "data team: in clear");
    assert!(text.contains("\n'=cmd|' /C calc'!A0,2"), "{text}");
}

const KEY_A: &[u8] = b"0123456789abcdef-key-a";
const KEY_B: &[u8] = b"0123456789abcdef-key-b";

#[test]
fn pseudonyms_are_keyed_and_normalised() {
    let a = Pseudonymizer::new(KEY_A).unwrap();
    let b = Pseudonymizer::new(KEY_B).unwrap();
    let p = a.pseudonym("340302201601010019").unwrap();
    assert_eq!(p.len(), 17);
    assert!(p.starts_with('P') && p[1..].bytes().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(a.pseudonym("340302201601010019"), Some(p.clone()), "stable");
    assert_ne!(b.pseudonym("340302201601010019"), Some(p.clone()), "keyed");
    assert_ne!(a.pseudonym("340302201601010027"), Some(p.clone()));
    // Every spelling of one ID is one person: full-width digits, spaces, a legacy number.
    assert_eq!(
        a.pseudonym(" ３４０３０２２０１６０１０１００１９ "),
        Some(p.clone())
    );
    assert_eq!(a.pseudonym("340302 20160101 0019"), Some(p));
    assert_eq!(
        a.pseudonym("340302860101123"),
        a.pseudonym(
            poprecon_model::ResidentId::parse("340302860101123")
                .unwrap()
                .as_str()
        )
    );
    assert_eq!(a.pseudonym("  "), None);
    // Not an unkeyed hash: the key changes everything, a record key is pseudonymised too.
    assert_ne!(a.pseudonym("FM000000001"), b.pseudonym("FM000000001"));
    assert_eq!(
        Pseudonymizer::new(b"short").unwrap_err(),
        KeyError::TooShort(5)
    );
    assert!(
        !format!("{a:?}").contains("0123456789"),
        "Debug hides the key"
    );
}

#[test]
fn pseudonymised_tables_hold_no_clear_identifier() {
    let p = Pseudonymizer::new(KEY_A).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let df = df!(
        "birth_id" => ["B1", "B2"],
        "mother_id" => [Some("340302201601010019"), None],
        "household_key" => ["340302202501010015", "340302202501010023"],
        "birth_certificate_other_keys" => ["Q1;Q2", ""],
        "values" => ["hospital_delivery=340302201601010019;birth_certificate=Q340000001", "x"],
        "count" => [1_i64, 2],
    )
    .unwrap();
    let csv = dir.path().join("t.csv");
    let headers = |_: &str| None;
    write_table(
        &df,
        &csv,
        ExportFormat::Csv,
        "t",
        &headers,
        IdPolicy::Pseudonymize(&p),
    )
    .unwrap();
    let text = std::fs::read_to_string(&csv).unwrap();
    let mother = p.pseudonym("340302201601010019").unwrap();
    let expected_first = format!(
        "{},{mother},{},{};{},hospital_delivery={mother};birth_certificate=Q340000001,1",
        p.pseudonym("B1").unwrap(),
        p.pseudonym("340302202501010015").unwrap(),
        p.pseudonym("Q1").unwrap(),
        p.pseudonym("Q2").unwrap(),
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[1], expected_first, "{text}");
    // A birth id is a hash of its first record's key, here a child's ID: keyed too.
    assert!(
        lines[2].starts_with(&format!("{},,P", p.pseudonym("B2").unwrap())),
        "{text}"
    );
    assert!(!text.contains("B1") && !text.contains("B2"), "{text}");
    assert!(!text.contains("3403022016"), "{text}");
}

/// A small run: two counties (one vetoed), their jurisdiction, one village with small counts.
fn small_run() -> (DataFrame, DataFrame) {
    let indicators = df!(
        "run_id" => ["r1"; 6],
        "level" => ["jurisdiction", "jurisdiction", "county", "county", "village", "village"],
        "area_code" => ["3403", "3403", "340302", "340303", "340302001001", "340302001001"],
        "area_name" => ["蚌埠市", "蚌埠市", "龙子湖区", "蚌山区", "某村", "某村"],
        "indicator_id" => ["live_births", "hospital_delivery_rate", "hospital_delivery_rate",
            "hospital_delivery_rate", "hospital_delivery_rate", "sex_ratio_at_birth"],
        "basis" => ["residence"; 6],
        "numerator" => [200_i64, 190, 95, 95, 3, 12],
        "denominator" => [None, Some(200_i64), Some(100), Some(100), Some(4), Some(10)],
        "value" => [200.0, 0.95, 0.95, 0.95, 0.75, 120.0],
        "low_n" => [false, false, false, false, true, true],
        "ci_low" => [None, Some(0.91), Some(0.89), Some(0.89), Some(0.3), Some(60.0)],
        "ci_high" => [None, Some(0.97), Some(0.98), Some(0.98), Some(0.95), Some(250.0)],
    )
    .unwrap();
    let assessment = df!(
        "level" => ["county"; 4],
        "area_code" => ["340302", "340302", "340303", "340303"],
        "area_name" => ["龙子湖区", "龙子湖区", "蚌山区", "蚌山区"],
        "indicator_id" => ["hospital_delivery_rate", "total", "hospital_delivery_rate", "total"],
        "value" => [Some(0.95), Some(62.5), Some(0.95), Some(90.0)],
        "numerator" => [Some(95_i64), None, Some(95), None],
        "denominator" => [Some(100_i64), None, Some(100), None],
        "low_n" => [Some(false), None, Some(false), None],
        "target" => [Some(0.98), None, Some(0.98), None],
        "floor" => [Some(0.90), None, Some(0.90), None],
        "weight" => [15.0, 15.0, 15.0, 15.0],
        "credit" => [9.375, 9.375, 13.5, 13.5],
        "veto" => [false, false, true, true],
        "veto_reasons" => [None, None, Some("出生人口性别比高于115"), Some("出生人口性别比高于115")],
    )
    .unwrap();
    (indicators, assessment)
}

fn book<'a>(indicators: &'a DataFrame, assessment: &'a DataFrame) -> AssessorWorkbook<'a> {
    AssessorWorkbook {
        lang: poprecon_report::Lang::Zh,
        run_id: "r1",
        jurisdiction: "3403",
        as_of: chrono::NaiveDate::from_ymd_opt(2026, 1, 31).unwrap(),
        period: (
            chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(),
            chrono::NaiveDate::from_ymd_opt(2025, 12, 31).unwrap(),
        ),
        indicators,
        assessment,
        village_discrepancies: None,
        suppress_below: 5,
        returns: None,
        completeness: None,
    }
}

fn text(range: &calamine::Range<calamine::Data>, row: u32, col: u32) -> String {
    range
        .get_value((row, col))
        .map(|d| d.to_string())
        .unwrap_or_default()
}

#[test]
fn the_workbook_pivots_scores_ranks_and_vetoes() {
    use calamine::{Data, Reader, Xlsx, open_workbook};
    let (indicators, assessment) = small_run();
    let wb = book(&indicators, &assessment);
    assert_eq!(
        wb.file_name(),
        "考核_3403蚌埠市_20250101-20251231_截至20260131.xlsx"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(wb.file_name());
    wb.write(&path).unwrap();
    let mut x: Xlsx<_> = open_workbook(&path).unwrap();
    assert_eq!(
        x.sheet_names(),
        [
            "考核汇总",
            "全辖区指标",
            "县(区)指标",
            "村(居)指标",
            "指标说明"
        ]
    );
    let s = x.worksheet_range("考核汇总").unwrap();
    // Areas down in the table's order, one item across, then score, rank, veto, reason.
    assert_eq!(text(&s, 2, 3), "住院分娩率\n（15分）");
    let row = |r: u32| -> Vec<String> { (0..9).map(|c| text(&s, r, c)).collect() };
    assert_eq!(
        row(4),
        [
            "县(区)",
            "340302",
            "龙子湖区",
            "0.95",
            "0.98",
            "62.5",
            "1",
            "否",
            ""
        ]
    );
    // The vetoed county scored higher but ranks after the one that was not vetoed.
    assert_eq!(
        row(5),
        [
            "县(区)",
            "340303",
            "蚌山区",
            "0.95",
            "0.98",
            "90",
            "2",
            "是",
            "出生人口性别比高于115"
        ]
    );
    assert!(matches!(s.get_value((4, 3)), Some(Data::Float(_))));
    // The sheet's formulas colour a value against the item's target and floor.
    let xml = {
        use std::io::Read;
        let mut zip = ::zip::ZipArchive::new(std::fs::File::open(&path).unwrap()).unwrap();
        let mut xml = String::new();
        zip.by_name("xl/worksheets/sheet1.xml")
            .unwrap()
            .read_to_string(&mut xml)
            .unwrap();
        xml
    };
    // The printed title: the size code first, so the title's leading digits stay text.
    assert!(
        xml.contains("<oddHeader>&amp;C&amp;12&amp;\"-,Bold\"蚌埠市（3403）"),
        "{xml}"
    );
    for rule in [
        "AND(ISNUMBER(D5),D5&gt;=0.98)",
        "AND(ISNUMBER(D5),D5&lt;0.9)",
    ] {
        assert!(xml.contains(rule), "{rule} in {xml}");
    }
}

#[test]
fn the_workbook_suppresses_small_counts_and_marks_small_denominators() {
    use calamine::{Reader, Xlsx, open_workbook};
    let (indicators, assessment) = small_run();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.xlsx");
    book(&indicators, &assessment).write(&path).unwrap();
    let mut x: Xlsx<_> = open_workbook(&path).unwrap();
    let v = x.worksheet_range("村(居)指标").unwrap();
    // Catalogue order: the sex ratio before the hospital delivery rate.
    assert_eq!(text(&v, 3, 2), "出生人口性别比");
    assert_eq!(text(&v, 3, 4), "12", "counts of 5 and more are shown");
    assert_eq!(text(&v, 3, 6), "120");
    assert_eq!(
        (text(&v, 3, 9), text(&v, 3, 10)),
        ("是".into(), "否".into())
    );
    assert_eq!(text(&v, 4, 2), "住院分娩率");
    for c in 4..=8 {
        assert_eq!(text(&v, 4, c), "", "column {c} suppressed (3 of 4)");
    }
    assert_eq!(
        (text(&v, 4, 9), text(&v, 4, 10)),
        ("是".into(), "是".into())
    );
    let j = x.worksheet_range("全辖区指标").unwrap();
    // A count is never `low_n`; its value is a count.
    assert_eq!(text(&j, 3, 2), "活产数");
    assert_eq!(text(&j, 3, 6), "200");
    assert_eq!(text(&j, 3, 9), "否");
    let styles = x.worksheet_style("全辖区指标").unwrap();
    let fmt = |r, c| {
        styles
            .get((r, c))
            .and_then(|s| s.number_format.clone())
            .map(|f| f.format_code)
            .unwrap_or_default()
    };
    assert_eq!(fmt(3, 6), COUNT_FORMAT);
    assert_eq!(fmt(4, 6), PERCENT_FORMAT);
    assert_eq!(fmt(4, 7), PERCENT_FORMAT);
}
