//! XLSX and Parquet extracts through the pipeline, with the damage real exports carry.

use polars::prelude::*;
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};

use crate::support::*;

const CERT_HEADER: [&str; 7] = [
    "出生医学证明编号",
    "新生儿姓名",
    "性别",
    "出生时间",
    "出生地点分类",
    "母亲有效身份证件号码",
    "签发日期",
];

fn write_certificates(path: &std::path::Path, with_decoy_sheet: bool) {
    let mut book = Workbook::new();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let datetime = Format::new().set_num_format("yyyy-mm-dd hh:mm");
    if with_decoy_sheet {
        let notes = book.add_worksheet();
        notes.set_name("说明").unwrap();
        notes.write_string(0, 0, "导出说明").unwrap();
    }
    let sheet = book.add_worksheet();
    sheet.set_name("出生证").unwrap();
    for (c, h) in CERT_HEADER.iter().enumerate() {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    // Row 2: all typed as Excel does, ID as text.
    sheet.write_string(1, 0, "Q340000001").unwrap();
    sheet.write_string(1, 1, "王小明").unwrap();
    sheet.write_string(1, 2, "男").unwrap();
    let born = ExcelDateTime::from_ymd(2025, 3, 4)
        .unwrap()
        .and_hms(10, 20, 0)
        .unwrap();
    sheet
        .write_datetime_with_format(1, 3, born, &datetime)
        .unwrap();
    sheet.write_string(1, 4, "医院").unwrap();
    sheet.write_string(1, 5, "340302201601010019").unwrap();
    let issued = ExcelDateTime::from_ymd(2025, 3, 10).unwrap();
    sheet
        .write_datetime_with_format(1, 6, &issued, &date)
        .unwrap();
    // Row 3: the mother's ID typed as a number (Excel kept 15 significant digits),
    // the birth date as text with a Chinese date format.
    sheet.write_string(2, 0, "Q340000002").unwrap();
    sheet.write_string(2, 1, "李小红").unwrap();
    sheet.write_number(2, 2, 2).unwrap();
    sheet.write_string(2, 3, "2025年3月5日").unwrap();
    sheet.write_string(2, 4, "妇幼保健院").unwrap();
    sheet.write_number(2, 5, 3.4030220160101e17).unwrap();
    // Row 4 is empty (skipped); row 5 has no birth date: quarantined with its sheet row.
    sheet.write_string(4, 0, "Q340000003").unwrap();
    sheet.write_string(4, 2, "女").unwrap();
    sheet.write_string(4, 4, "家庭").unwrap();
    // Row 6: a merged cell over the name and sex columns (value in the first cell only).
    sheet.write_string(5, 0, "q340000004").unwrap();
    sheet
        .merge_range(5, 1, 5, 2, "赵某", &Format::new())
        .unwrap();
    sheet
        .write_datetime_with_format(5, 3, &issued, &date)
        .unwrap();
    book.save(path).unwrap();
}

#[test]
fn xlsx_dates_numeric_ids_and_sheet_rows() {
    let fx = Fixture::new();
    write_certificates(&fx.path("cert.xlsx"), true);
    let pipeline =
        fx.pipeline("[sources.birth_certificate]\npath = \"cert.xlsx\"\nsheet = \"出生证\"\n");
    let out = ingest_pipeline(&pipeline).remove(0);
    assert_eq!(out.stats.read, 4);
    assert_eq!(out.stats.accepted, 2);
    let r = &out.records;
    assert_eq!(
        strs(r, "certificate_no"),
        some(&["Q340000001", "Q340000002"])
    );
    assert_eq!(strs(r, "birth_date"), some(&["2025-03-04", "2025-03-05"]));
    assert_eq!(
        strs(r, "birth_date_time"),
        some(&["2025-03-04 10:20:00.000", ""])
    );
    assert_eq!(strs(r, "issue_date"), some(&["2025-03-10", ""]));
    assert_eq!(ints(r, "child_sex"), [Some(1), Some(2)]);
    assert_eq!(
        strs(r, "birth_place_type"),
        some(&["medical_institution", "medical_institution"])
    );
    // The numeric cell is named as Excel damage, never silently "fixed"; its text is what
    // Excel shows (15 significant digits).
    assert_eq!(strs(r, "mother_id"), some(&["340302201601010019", ""]));
    assert_eq!(
        strs(r, "mother_id_input"),
        some(&["340302201601010019", "340302201601010000"])
    );
    assert_eq!(
        strs(r, "invalid_fields"),
        [None, Some("mother_id:excel_numeric".to_owned())]
    );
    assert_eq!(ints(r, "source_line"), [Some(2), Some(3)]);
    // Row 5 lacks the birth date; row 6's merged cell leaves the sex column empty.
    assert_eq!(ints(&out.quarantine, "line"), [Some(5), Some(6)]);
    assert_eq!(
        strs(&out.quarantine, "reason"),
        some(&["missing_required", "missing_required"])
    );
    assert_eq!(
        strs(&out.quarantine, "field"),
        some(&["birth_date", "child_sex"])
    );
}

#[test]
fn xlsx_first_sheet_by_default_and_missing_sheet_named() {
    let fx = Fixture::new();
    write_certificates(&fx.path("cert.xlsx"), false);
    let out = ingest_pipeline(&fx.pipeline("[sources.birth_certificate]\npath = \"cert.xlsx\"\n"));
    assert_eq!(out[0].stats.read, 4);

    let pipeline =
        fx.pipeline("[sources.birth_certificate]\npath = \"cert.xlsx\"\nsheet = \"Sheet9\"\n");
    let plan = poprecon_pipeline::Plan::load(&pipeline).unwrap();
    let sp = &plan.sources[0];
    let err = poprecon_ingest::check_header(sp.source, &sp.files[0], &sp.columns)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cert.xlsx") && err.contains("Sheet9") && err.contains("出生证"),
        "{err}"
    );
}

#[test]
fn parquet_keeps_types_and_reads_text() {
    let fx = Fixture::new();
    let born = [
        chrono::NaiveDate::from_ymd_opt(2025, 3, 4),
        chrono::NaiveDate::from_ymd_opt(1990, 1, 1),
        None,
    ];
    let mut df = df!(
        "公民身份号码" => ["340302202503040012", "34030219900101002X", "340302198601011236"],
        "姓名" => ["王小明", "李娜", "张伟"],
        "性别" => ["1", "2", "男"],
        "出生日期" => born,
        "户号" => [1001_i64, 1001, 1002],
        "与户主关系" => ["长子", "02", "户主"],
        "户籍地村代码" => [340302001001_i64, 340302001001, 340302001002],
        "户口状态" => ["正常", "正常", "迁出"],
        "母亲身份证号" => [Some("34030219900101002X"), None, None],
    )
    .unwrap();
    df.apply("出生日期", |c| c.cast(&DataType::Date).unwrap())
        .unwrap();
    let path = fx.path("house.parquet");
    poprecon_ingest::write_parquet(&mut df, &path).unwrap();
    let out =
        ingest_pipeline(&fx.pipeline("[sources.household]\npath = \"house.parquet\"\n")).remove(0);
    assert_eq!(out.stats.accepted, 3);
    let r = &out.records;
    assert_eq!(
        strs(r, "birth_date"),
        some(&["2025-03-04", "1990-01-01", ""])
    );
    assert_eq!(strs(r, "household_no"), some(&["1001", "1001", "1002"]));
    assert_eq!(strs(r, "relation_to_head"), some(&["22", "02", "02"]));
    assert_eq!(
        strs(r, "village"),
        some(&["340302001001", "340302001001", "340302001002"])
    );
    assert_eq!(strs(r, "status"), some(&["active", "active", "moved_out"]));
    assert_eq!(ints(r, "sex"), [Some(1), Some(2), Some(1)]);
    assert_eq!(ints(r, "source_line"), [Some(2), Some(3), Some(4)]);
}
