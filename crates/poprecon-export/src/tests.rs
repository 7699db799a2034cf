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
