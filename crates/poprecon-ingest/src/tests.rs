//! Engine tests over a small source declared here, so that they depend on no source crate.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::schema::{CodeMap, FieldKind as K, FieldSpec as F};
use crate::*;

static OUTCOME: CodeMap = CodeMap {
    name: "outcome",
    entries: &[("活产", "live"), ("死产", "stillbirth")],
};

static FIELDS: &[F] = &[
    F::new("record_id", "编号", K::Text)
        .required()
        .aliases(&["编号"]),
    F::new("mother_id", "母亲身份证号", K::ResidentId)
        .required()
        .aliases(&["母亲身份证号"]),
    F::new("mother_name", "母亲姓名", K::Name).aliases(&["母亲姓名"]),
    F::new("delivery_date", "分娩时间", K::DateTime)
        .required()
        .aliases(&["分娩时间"]),
    F::new("child_sex", "性别", K::Sex).aliases(&["性别"]),
    F::new("plurality", "胎数", K::Int { min: 1, max: 8 }).aliases(&["胎数"]),
    F::new("outcome", "结局", K::Code(&OUTCOME)).aliases(&["结局"]),
    F::new("residence_village", "村代码", K::Village).aliases(&["村代码"]),
    F::new("registration_date", "登记日期", K::Date).aliases(&["登记日期"]),
];

#[derive(Debug)]
struct TestSource;

impl Source for TestSource {
    fn id(&self) -> &'static str {
        "test_source"
    }
    fn label_zh(&self) -> &'static str {
        "测试"
    }
    fn fields(&self) -> &'static [F] {
        FIELDS
    }
    fn key_field(&self) -> &'static str {
        "record_id"
    }
    // What `check_row` reads and flags.
    fn check_row_fields(&self) -> Option<&'static [&'static str]> {
        Some(&["plurality"])
    }
    fn check_row(&self, row: &mut RowCheck<'_>) {
        if row.int("plurality") == Some(8) {
            row.flag("plurality", "implausible");
        }
    }
}

const HEADER: &str = "编号,母亲身份证号,母亲姓名,分娩时间,性别,胎数,结局,村代码,登记日期";

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn villages() -> HashSet<String> {
    ["340302001001".to_owned()].into_iter().collect()
}

fn run(files: &[InputFile]) -> Result<SourceOutput, IngestError> {
    run_with(files, &BTreeMap::new(), false)
}

fn run_with(
    files: &[InputFile],
    columns: &BTreeMap<String, Vec<String>>,
    allow_empty: bool,
) -> Result<SourceOutput, IngestError> {
    let known = villages();
    ingest(&IngestConfig {
        source: &TestSource,
        files,
        columns,
        known_villages: Some(&known),
        allow_empty,
        progress: None,
        keep: None,
    })
}

fn csv_file(path: PathBuf) -> InputFile {
    InputFile::new(path, Format::Csv)
}

fn strings(df: &DataFrame, col: &str) -> Vec<Option<String>> {
    df.column(col)
        .unwrap()
        .as_materialized_series()
        .cast(&DataType::String)
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|v| v.map(str::to_owned))
        .collect()
}

fn ints(df: &DataFrame, col: &str) -> Vec<Option<i64>> {
    df.column(col)
        .unwrap()
        .as_materialized_series()
        .cast(&DataType::Int64)
        .unwrap()
        .i64()
        .unwrap()
        .iter()
        .collect()
}

fn rows(lines: &[&str]) -> String {
    let mut s = String::from(HEADER);
    for l in lines {
        s.push('\n');
        s.push_str(l);
    }
    s.push('\n');
    s
}

const GOOD: &str = "D001,340302201601010019,王 芳,2025-03-04 10:20,女,1,活产,340302001001,2025/3/5";

#[test]
fn utf8_bom_and_gb18030_give_the_same_table() {
    let dir = tempfile::tempdir().unwrap();
    let text = rows(&[
        GOOD,
        "D002,11010519491231002x,李　娜,2025年3月4日10时20分,2,1,死产,,20250306",
    ]);
    let plain = write(dir.path(), "plain.csv", text.as_bytes());
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(text.as_bytes());
    let bom = write(dir.path(), "bom.csv", &bom);
    let (gb, _, _) = encoding_rs::GB18030.encode(&text);
    let gb = write(dir.path(), "gb.csv", &gb);

    let mut tables = Vec::new();
    for (path, encoding) in [
        (plain, Encoding::Auto),
        (bom, Encoding::Auto),
        (gb.clone(), Encoding::Auto),
        (gb, Encoding::Gb18030),
    ] {
        let mut f = csv_file(path);
        f.encoding = encoding;
        let out = run(&[f]).unwrap();
        assert_eq!(out.stats.read, 2);
        assert_eq!(out.stats.accepted, 2);
        tables.push(out.records.drop(SOURCE_FILE).unwrap());
    }
    for t in &tables[1..] {
        assert!(t.equals_missing(&tables[0]), "{t}\n{}", tables[0]);
    }
    let t = &tables[0];
    assert_eq!(
        strings(t, "mother_id"),
        [
            Some("340302201601010019".into()),
            Some("11010519491231002X".into())
        ]
    );
    assert_eq!(
        strings(t, "mother_name"),
        [Some("王 芳".into()), Some("李 娜".into())]
    );
    assert_eq!(
        strings(t, "delivery_date"),
        [Some("2025-03-04".into()), Some("2025-03-04".into())]
    );
    assert_eq!(
        strings(t, "delivery_date_time"),
        [
            Some("2025-03-04 10:20:00.000".into()),
            Some("2025-03-04 10:20:00.000".into())
        ]
    );
    assert_eq!(ints(t, "child_sex"), [Some(2), Some(2)]);
    assert_eq!(
        strings(t, "outcome"),
        [Some("live".into()), Some("stillbirth".into())]
    );
    assert_eq!(
        strings(t, "registration_date"),
        [Some("2025-03-05".into()), Some("2025-03-06".into())]
    );
    assert_eq!(ints(t, SOURCE_LINE), [Some(2), Some(3)]);
}

#[test]
fn quarantine_reasons_and_exact_lines() {
    let dir = tempfile::tempdir().unwrap();
    let text = rows(&[
        GOOD,
        // line 3: a quoted newline inside the name; the record spans lines 3-4
        "D002,340302201601010019,\"王\n芳\",2025-03-04,女,1,活产,340302001001,",
        // line 5: empty required key
        ",340302201601010019,王芳,2025-03-04,女,1,活产,340302001001,",
        // line 6: impossible required date
        "D004,340302201601010019,王芳,20250230,女,1,活产,340302001001,",
        // line 7: wrong width
        "D005,340302201601010019,王芳",
        // line 8: unrecognised required date
        "D006,340302201601010019,王芳,next tuesday,女,1,活产,340302001001,",
        // line 9: missing required ID
        "D007,,王芳,2025-03-04,女,1,活产,340302001001,",
    ]);
    let path = write(dir.path(), "q.csv", text.as_bytes());
    let out = run(&[csv_file(path.clone())]).unwrap();
    assert_eq!(out.stats.read, 7);
    assert_eq!(out.stats.accepted, 2);
    assert_eq!(out.stats.quarantined, 5);
    assert_eq!(ints(&out.records, SOURCE_LINE), [Some(2), Some(3)]);
    let q = &out.quarantine;
    assert_eq!(
        ints(q, "line"),
        [Some(5), Some(6), Some(7), Some(8), Some(9)]
    );
    assert_eq!(
        strings(q, "reason"),
        [
            Some("missing_required".into()),
            Some("invalid_required_date".into()),
            Some("field_count".into()),
            Some("invalid_required_date".into()),
            Some("missing_required".into()),
        ]
    );
    assert_eq!(
        strings(q, "field"),
        [
            Some("record_id".into()),
            Some("delivery_date".into()),
            None,
            Some("delivery_date".into()),
            Some("mother_id".into()),
        ]
    );
    // The raw row is kept, header by header.
    let raw = strings(q, "raw");
    assert!(
        raw[1]
            .as_deref()
            .unwrap()
            .contains("\"分娩时间\":\"20250230\"")
    );
    assert_eq!(
        strings(q, "file")[0].as_deref(),
        Some(path.display().to_string().as_str())
    );
    assert_eq!(out.stats.quarantine_reasons["invalid_required_date"], 2);
}

#[test]
fn invalid_values_are_flagged_and_rows_kept() {
    let dir = tempfile::tempdir().unwrap();
    let text = rows(&[
        // mistyped check digit, unknown village, impossible optional date, bad sex, plurality 8
        "D001,340302201601010018,王芳,2025-03-04,X,8,活产,340302999999,20250231",
        // Excel precision loss written into a CSV, unknown outcome, out-of-range plurality
        "D002,3.40302E+17,王芳,2025-03-04,1,9,流产,340302001001,",
        // full-width digits, leading apostrophe and a legacy 15-digit number are not damage
        "D003,'３４０３０２８６０１０１１２３,王芳,2025-03-04,男,第1胎,活产,'340302001001,",
    ]);
    let out = run(&[csv_file(write(dir.path(), "i.csv", text.as_bytes()))]).unwrap();
    assert_eq!(out.stats.accepted, 3);
    let r = &out.records;
    assert_eq!(
        strings(r, "mother_id"),
        [None, None, Some("340302198601011236".into())]
    );
    assert_eq!(
        strings(r, "mother_id_input"),
        [
            Some("340302201601010018".into()),
            Some("3.40302E+17".into()),
            Some("340302860101123".into())
        ]
    );
    assert_eq!(
        strings(r, INVALID_FIELDS),
        [
            Some(
                "mother_id:check_digit;child_sex:invalid_sex;residence_village:unknown_village;registration_date:impossible_date;plurality:implausible"
                    .into()
            ),
            Some("mother_id:excel_scientific;plurality:out_of_range;outcome:unknown_code".into()),
            None,
        ]
    );
    // An unknown village code is present (attribution uses it) but flagged.
    assert_eq!(
        strings(r, "residence_village"),
        [
            Some("340302999999".into()),
            Some("340302001001".into()),
            Some("340302001001".into())
        ]
    );
    assert_eq!(ints(r, "plurality"), [Some(8), None, Some(1)]);
    assert_eq!(ints(r, "child_sex"), [None, Some(1), Some(1)]);
    assert_eq!(out.stats.invalid_fields["mother_id:check_digit"], 1);
    assert_eq!(
        out.stats.invalid_fields["residence_village:unknown_village"],
        1
    );
}

#[test]
fn header_problems_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = write(
        dir.path(),
        "missing.csv",
        "编号,分娩时间\nD1,2025-01-01\n".as_bytes(),
    );
    let err = run(&[csv_file(missing)]).unwrap_err().to_string();
    assert!(err.contains("missing.csv"), "{err}");
    assert!(err.contains("`mother_id`"), "{err}");
    assert!(err.contains("hint:"), "{err}");

    let dup = write(
        dir.path(),
        "dup.csv",
        format!("{HEADER},编号\n{GOOD},D9\n").as_bytes(),
    );
    let err = run(&[csv_file(dup)]).unwrap_err().to_string();
    assert!(
        err.contains("dup.csv") && err.contains("columns 1 and 10"),
        "{err}"
    );

    let empty = write(dir.path(), "empty.csv", b"");
    let err = run(&[csv_file(empty)]).unwrap_err();
    assert!(
        matches!(err.inner(), IngestError::EmptyFile { .. }),
        "{err}"
    );

    let header_only = write(dir.path(), "header.csv", format!("{HEADER}\n").as_bytes());
    let err = run(&[csv_file(header_only.clone())]).unwrap_err();
    assert!(
        matches!(err.inner(), IngestError::HeaderOnly { .. }),
        "{err}"
    );
    // A header-only extract names its source as well as its file.
    let msg = err.to_string();
    assert!(
        msg.starts_with("source `test_source`: ") && msg.contains("header.csv"),
        "{msg}"
    );
    let ok = run_with(&[csv_file(header_only)], &BTreeMap::new(), true).unwrap();
    assert_eq!((ok.stats.read, ok.records.height()), (0, 0));
    // The empty table still has every canonical column: file, line and key, one per field
    // (two for the ID and date-time fields), and the flags.
    assert_eq!(ok.records.width(), 3 + FIELDS.len() + 2 + 1);

    let garbage = write(dir.path(), "garbage.csv", &[0u8, 159, 146, 150, 0, 1, 2, 3]);
    let err = run(&[csv_file(garbage)]).unwrap_err().to_string();
    assert!(
        err.contains("garbage.csv") && err.contains("binary"),
        "{err}"
    );

    let zip = write(dir.path(), "book.csv", b"PK\x03\x04rest");
    let err = run(&[csv_file(zip)]).unwrap_err().to_string();
    assert!(err.contains("XLSX"), "{err}");

    let err = run(&[csv_file(dir.path().join("absent.csv"))])
        .unwrap_err()
        .to_string();
    assert!(err.contains("absent.csv"), "{err}");
}

#[test]
fn wrong_encoding_declaration_is_explained() {
    let dir = tempfile::tempdir().unwrap();
    let text = rows(&[GOOD]);
    let (gb, _, _) = encoding_rs::GB18030.encode(&text);
    let mut f = csv_file(write(dir.path(), "gb.csv", &gb));
    f.encoding = Encoding::Utf8;
    let err = run(&[f]).unwrap_err().to_string();
    assert!(err.contains("gb.csv") && err.contains("line 1"), "{err}");
    assert!(err.contains("encoding = \"gb18030\""), "{err}");

    // A few undecodable bytes in a GB18030 file: those rows are quarantined, not the file.
    let mut bytes = encoding_rs::GB18030
        .encode(&rows(&[GOOD, GOOD]))
        .0
        .into_owned();
    let at = bytes.len() - 3;
    bytes.splice(at..at, [0x81, 0x20]);
    let more = format!("{GOOD}\n{GOOD}\n{GOOD}\n");
    bytes.extend_from_slice(&encoding_rs::GB18030.encode(&more).0);
    let mut f = csv_file(write(dir.path(), "partly.csv", &bytes));
    f.encoding = Encoding::Gb18030;
    let out = run(&[f]).unwrap();
    assert_eq!(out.stats.quarantine_reasons["undecodable"], 1);
    assert_eq!(out.stats.read, out.stats.accepted + out.stats.quarantined);
}

#[test]
fn pipeline_column_map_overrides_aliases() {
    let dir = tempfile::tempdir().unwrap();
    let text = "ID,MOM,DT\nD1,340302201601010019,2025-01-01\n";
    let path = write(dir.path(), "m.csv", text.as_bytes());
    let mut columns = BTreeMap::new();
    columns.insert("record_id".to_owned(), vec!["id".to_owned()]);
    columns.insert(
        "mother_id".to_owned(),
        vec!["mother".to_owned(), "MOM".to_owned()],
    );
    columns.insert("delivery_date".to_owned(), vec!["DT".to_owned()]);
    let out = run_with(&[csv_file(path.clone())], &columns, false).unwrap();
    assert_eq!(out.stats.accepted, 1);
    assert_eq!(out.stats.files[0].unmapped_headers, Vec::<String>::new());

    columns.insert("mother_name".to_owned(), vec!["NAME".to_owned()]);
    let err = run_with(&[csv_file(path.clone())], &columns, false)
        .unwrap_err()
        .to_string();
    assert!(err.contains("`NAME`") && err.contains("`MOM`"), "{err}");

    let mut unknown = BTreeMap::new();
    unknown.insert("mothers_id".to_owned(), vec!["MOM".to_owned()]);
    let err = run_with(&[csv_file(path)], &unknown, false)
        .unwrap_err()
        .to_string();
    assert!(err.contains("`mothers_id`"), "{err}");
}

#[test]
fn rows_are_conserved_across_chunks_and_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines = Vec::new();
    for i in 0..40_000 {
        lines.push(match i % 7 {
            0 => format!("D{i},340302201601010019,王芳,20250230,女,1,活产,340302001001,"),
            1 => format!("D{i},340302201601010018,王芳,2025-03-04,女,1,活产,340302001001,"),
            _ => format!("D{i},340302201601010019,王芳,2025-03-04,女,1,活产,340302001001,"),
        });
    }
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let a = write(dir.path(), "a.csv", rows(&refs).as_bytes());
    let b = write(dir.path(), "b.csv", rows(&refs[..10]).as_bytes());
    let out = run(&[csv_file(a), csv_file(b)]).unwrap();
    assert_eq!(out.stats.read, 40_010);
    assert_eq!(out.stats.quarantined, 40_000_u64.div_ceil(7) + 2);
    assert_eq!(out.stats.read, out.stats.accepted + out.stats.quarantined);
    // Order is file order, then line order, whatever the chunking.
    let lines = ints(&out.records, SOURCE_LINE);
    let first_b = lines.len() - 8;
    assert!(lines[..first_b].windows(2).all(|w| w[0] < w[1]));
    assert_eq!(
        lines[first_b],
        Some(3),
        "b.csv: line 2 is quarantined, line 3 is kept"
    );
    assert_eq!(out.stats.files.len(), 2);
}

/// A Parquet extract of several row groups is read as parts, processed in parallel: its
/// canonical table, quarantine lines and counts are those of the same rows as one CSV file,
/// and names and IDs already in normal form come through as written.
#[test]
fn parquet_parts_give_the_rows_and_lines_of_one_table() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines = Vec::new();
    for i in 0..70_000 {
        lines.push(match i % 11 {
            0 => format!("D{i},340302201601010019,王芳,20250230,女,1,活产,340302001001,"),
            1 => format!("D{i},340302201601010018,王 芳,2025-03-04,女,1,活产,340302001002,"),
            2 => format!("D{i},34030220160101001x,Ｗａｎｇ,2025-03-04,女,1,活产,340302001001,"),
            3 => format!("D{i},,王芳,2025-03-04,女,1,活产,340302001001,"),
            _ => format!("D{i},340302201601010019,王芳,2025-03-04,女,1,活产,340302001001,"),
        });
    }
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let csv = write(dir.path(), "a.csv", rows(&refs).as_bytes());
    let from_csv = run(&[csv_file(csv.clone())]).unwrap();

    // The same rows as text columns in a Parquet file of row groups of 16 384 rows.
    let mut df = CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .try_into_reader_with_file_path(Some(csv))
        .unwrap()
        .finish()
        .unwrap();
    let pq = dir.path().join("a.parquet");
    ParquetWriter::new(std::fs::File::create(&pq).unwrap())
        .with_row_group_size(Some(16_384))
        .finish(&mut df)
        .unwrap();
    let parts =
        crate::read::ParquetTable::read_parts(&InputFile::new(&pq, Format::Parquet), 10_000)
            .unwrap();
    assert!(parts.len() >= 7, "{} parts", parts.len());
    let from_pq = run(&[InputFile::new(&pq, Format::Parquet)]).unwrap();

    let without_file = |df: &DataFrame| df.drop(SOURCE_FILE).unwrap();
    assert!(without_file(&from_pq.records) == without_file(&from_csv.records));
    assert_eq!(
        from_pq.quarantine.column("line").unwrap(),
        from_csv.quarantine.column("line").unwrap()
    );
    assert_eq!(
        from_pq.stats.quarantine_reasons,
        from_csv.stats.quarantine_reasons
    );
    assert_eq!(from_pq.stats.invalid_fields, from_csv.stats.invalid_fields);
    assert_eq!(from_pq.stats.read, 70_000);
    let names = strings(&from_pq.records, "mother_name");
    // Rows 0 and 3 of every eleven are quarantined.
    assert_eq!(
        names[..3],
        [
            Some("王 芳".into()),
            Some("Wang".into()),
            Some("王芳".into())
        ]
    );
    let ids = strings(&from_pq.records, "mother_id_input");
    assert_eq!(ids[1].as_deref(), Some("34030220160101001X"));
    let valid = strings(&from_pq.records, "mother_id");
    assert_eq!(valid[..3], [None, None, Some("340302201601010019".into())]);
}

#[test]
fn small_ints_and_numbers_as_extracts_write_them() {
    assert_eq!(parse_small_int("2"), Some(2));
    assert_eq!(parse_small_int("2.0"), Some(2));
    assert_eq!(parse_small_int("第2孩"), Some(2));
    assert_eq!(parse_small_int("二孩"), Some(2));
    assert_eq!(parse_small_int("第十二周"), Some(12));
    assert_eq!(parse_small_int("３剂"), Some(3));
    assert_eq!(parse_small_int("两"), Some(2));
    assert_eq!(parse_small_int("abc"), None);
    assert_eq!(parse_number("3200g"), Some(3200.0));
    assert_eq!(parse_number("3200克"), Some(3200.0));
    assert_eq!(parse_number("NaN"), None);
    assert_eq!(parse_bool("是"), Some(true));
    assert_eq!(parse_bool("否"), Some(false));
    assert_eq!(parse_bool("maybe"), None);
}

#[test]
fn header_normalisation_folds_width_case_and_space() {
    assert_eq!(normalize_header("\u{FEFF} 出生体重（克） "), "出生体重(克)");
    assert_eq!(normalize_header("Record ID"), "recordid");
}

#[test]
fn numbers_read_as_excel_shows_them() {
    use crate::read::float_text;
    assert_eq!(float_text(2.0), "2");
    assert_eq!(float_text(340302001001.0), "340302001001");
    assert_eq!(float_text(3.4030220160101e17), "340302201601010000");
    assert_eq!(
        float_text(340_302_201_601_010_019_f64),
        "340302201601010000"
    );
    assert_eq!(float_text(2.5), "2.5");
}

#[test]
fn line_numbers_hold_with_crlf_and_lone_cr() {
    let dir = tempfile::tempdir().unwrap();
    for (name, eol) in [("crlf.csv", "\r\n"), ("lf.csv", "\n"), ("cr.csv", "\r")] {
        let bad = "D9,340302201601010019,王芳,20250230,女,1,活产,340302001001,";
        let text = [HEADER, GOOD, bad, GOOD, "", bad].join(eol) + eol;
        let out = run(&[csv_file(write(dir.path(), name, text.as_bytes()))]).unwrap();
        assert_eq!(
            ints(&out.records, SOURCE_LINE),
            [Some(2), Some(4)],
            "{name}"
        );
        assert_eq!(ints(&out.quarantine, "line"), [Some(3), Some(6)], "{name}");
    }
}

#[test]
fn parallel_slices_give_the_sequential_rows_and_lines() {
    use crate::read::{csv_records, csv_records_from, split_body};
    let mut text = String::from("h1,h2\r\n");
    for i in 0..500 {
        let eol = match i % 4 {
            0 => "\r\n",
            1 => "\n",
            2 => "\n\n",
            _ => "\r\n\r\n",
        };
        text.push_str(&format!("a{i},b{i}{eol}"));
    }
    let all: Vec<(u64, Vec<String>)> = csv_records(&text, b',')
        .skip(1)
        .map(|r| {
            let r = r.unwrap();
            (r.line, r.record.iter().map(str::to_owned).collect())
        })
        .collect();
    for target in [1, 7, 64, 1000, 1 << 20] {
        let body = text.find('\n').unwrap() + 1;
        let mut got = Vec::new();
        for (start, end, line) in split_body(&text, body, 2, target) {
            for r in csv_records_from(&text[start..end], b',', line) {
                let r = r.unwrap();
                got.push((
                    r.line,
                    r.record.iter().map(str::to_owned).collect::<Vec<_>>(),
                ));
            }
        }
        assert_eq!(got, all, "target {target}");
    }
    assert_eq!(all.len(), 500);
    assert_eq!(all[1].0, 3);
}

#[test]
fn parallel_gb18030_decoding_equals_whole_file_decoding() {
    // More than one 8 MB slice, with multi-byte characters on both sides of every cut.
    let line = "编号,王芳,蚌埠市妇幼保健院,2025年3月4日10时20分,𠀀\n";
    let text = line.repeat((9 << 20) / line.len() + 1000);
    let (bytes, _, _) = encoding_rs::GB18030.encode(&text);
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "big.csv", &bytes);
    let (decoded, enc) = crate::read::read_text(&InputFile {
        encoding: Encoding::Gb18030,
        ..InputFile::new(path, Format::Csv)
    })
    .unwrap();
    assert_eq!(enc, Encoding::Gb18030);
    assert!(decoded == text, "decoded text differs");
}

/// A ZIP archive of `files`, stored without compression: enough to hand-craft an XLSX that
/// no spreadsheet writer would produce.
fn stored_zip(files: &[(&str, &str)]) -> Vec<u8> {
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, body) in files {
        let (name, body) = (name.as_bytes(), body.as_bytes());
        let crc = crc32(body);
        let offset = out.len() as u32;
        let size = body.len() as u32;
        let common = |v: &mut Vec<u8>| {
            v.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // version, flags, stored, time, date
            v.extend_from_slice(&crc.to_le_bytes());
            v.extend_from_slice(&size.to_le_bytes());
            v.extend_from_slice(&size.to_le_bytes());
            v.extend_from_slice(&(name.len() as u16).to_le_bytes());
            v.extend_from_slice(&[0, 0]); // extra field length
        };
        out.extend_from_slice(b"PK\x03\x04");
        common(&mut out);
        out.extend_from_slice(name);
        out.extend_from_slice(body);
        central.extend_from_slice(b"PK\x01\x02\x14\x00");
        common(&mut central);
        central.extend_from_slice(&[0; 6]); // comment length, disk, internal attributes
        central.extend_from_slice(&[0; 4]); // external attributes
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name);
    }
    let central_offset = out.len() as u32;
    let n = files.len() as u16;
    out.extend_from_slice(&central);
    out.extend_from_slice(b"PK\x05\x06\0\0\0\0");
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&central_offset.to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    out
}

/// Found by the `ingest_xlsx` fuzz target: a cell reference whose column letters overflow
/// made calamine panic ("attempt to multiply with overflow", with the overflow checks of
/// the dev profile), killing the run. A malformed workbook is an error naming the file.
#[test]
fn a_workbook_that_makes_the_xlsx_reader_panic_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let sheet = |cell_ref: &str| {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>编号</t></is></c></row><row r="2"><c r="{cell_ref}" t="inlineStr"><is><t>x</t></is></c></row></sheetData></worksheet>"#
        )
    };
    let book = |sheet: &str| {
        stored_zip(&[
            (
                "[Content_Types].xml",
                r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#,
            ),
            (
                "_rels/.rels",
                r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#,
            ),
            (
                "xl/workbook.xml",
                r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>"#,
            ),
            (
                "xl/_rels/workbook.xml.rels",
                r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#,
            ),
            ("xl/worksheets/sheet1.xml", sheet),
        ])
    };
    // The hand-made workbook is well formed: with an ordinary reference it is read.
    let ok = write(dir.path(), "ok.xlsx", &book(&sheet("A2")));
    let (header, rows) = read::read_xlsx(&InputFile::new(ok, Format::Xlsx)).unwrap();
    assert_eq!((header, rows.len()), (vec!["编号".to_owned()], 1));
    // Fourteen column letters overflow a u32 column number.
    let bad = write(dir.path(), "bad.xlsx", &book(&sheet("ZZZZZZZZZZZZZZ2")));
    let err = read::read_xlsx(&InputFile::new(bad, Format::Xlsx)).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, IngestError::Xlsx { .. }) && msg.contains("bad.xlsx"),
        "{msg}"
    );
}

static MONTH_FIELDS: &[F] = &[
    F::new("student_no", "学籍号", K::Text)
        .required()
        .aliases(&["学籍号"]),
    F::new("enrolment_date", "入学日期", K::Month).aliases(&["入学年月"]),
];

#[derive(Debug)]
struct MonthSource;

impl Source for MonthSource {
    fn id(&self) -> &'static str {
        "month_source"
    }
    fn label_zh(&self) -> &'static str {
        "月份"
    }
    fn fields(&self) -> &'static [F] {
        MONTH_FIELDS
    }
    fn key_field(&self) -> &'static str {
        "student_no"
    }
}

fn run_source(source: &dyn Source, files: &[InputFile]) -> Result<SourceOutput, IngestError> {
    ingest(&IngestConfig {
        source,
        files,
        columns: &BTreeMap::new(),
        known_villages: None,
        allow_empty: false,
        progress: None,
        keep: None,
    })
}

/// domain.md §3: month-precision fields read `2019-09`, `201909`, `2019年9月` and `2019/9`
/// as the first day of the month and are not invalid; a month that does not exist is.
#[test]
fn month_fields_read_as_the_first_of_the_month() {
    let dir = tempfile::tempdir().unwrap();
    let text = "学籍号,入学年月\nS1,2019-09\nS2,201909\nS3,2019年9月\nS4,2019/9\nS5,2019-09-02\nS6,2019-13\nS7,\n";
    let path = write(dir.path(), "school.csv", text.as_bytes());
    let out = run_source(&MonthSource, &[csv_file(path)]).unwrap();
    let t = &out.records;
    assert_eq!(
        strings(t, "enrolment_date"),
        [
            Some("2019-09-01".into()),
            Some("2019-09-01".into()),
            Some("2019-09-01".into()),
            Some("2019-09-01".into()),
            Some("2019-09-02".into()),
            None,
            None,
        ]
    );
    assert_eq!(
        strings(t, INVALID_FIELDS),
        [
            None,
            None,
            None,
            None,
            None,
            Some("enrolment_date:impossible_date".into()),
            None
        ]
    );
    assert_eq!(t.column("enrolment_date").unwrap().dtype(), &DataType::Date);
}

/// domain.md §3: a value no code list knows is flagged, kept, and counted with its value in
/// the summary; values that may be personal data are counted without being listed; the
/// pipeline's extensions map new spellings to canonical codes.
#[test]
fn unknown_codes_are_counted_and_extensions_map_them() {
    let dir = tempfile::tempdir().unwrap();
    let with_outcome =
        |key: &str, outcome: &str| GOOD.replacen("D001", key, 1).replacen("活产", outcome, 1);
    let text = rows(&[
        &with_outcome("D1", "活产"),
        &with_outcome("D2", "死胎"),
        &with_outcome("D3", " 死胎 "),
        &with_outcome("D4", "340302201601010019"),
        &with_outcome("D5", "ＬＩＶＥ"),
    ]);
    let path = write(dir.path(), "d.csv", text.as_bytes());
    let out = run(&[csv_file(path.clone())]).unwrap();
    assert_eq!((out.stats.read, out.stats.accepted), (5, 5));
    assert_eq!(out.stats.invalid_fields["outcome:unknown_code"], 4);
    let expected: BTreeMap<String, u64> = [
        ("live".to_owned(), 1),
        ("死胎".to_owned(), 2),
        (NOT_LISTED.to_owned(), 1),
    ]
    .into_iter()
    .collect();
    assert_eq!(out.stats.unknown_codes["outcome"], expected);
    let json = serde_json::to_string(&out.stats).unwrap();
    assert!(!json.contains("340302201601010019"), "{json}");

    let mut file = csv_file(path);
    file.codes.insert(
        "outcome".into(),
        [
            ("死胎".to_owned(), "stillbirth".to_owned()),
            ("LIVE".to_owned(), "live".to_owned()),
        ]
        .into_iter()
        .collect(),
    );
    let out = run(std::slice::from_ref(&file)).unwrap();
    assert_eq!(
        strings(&out.records, "outcome"),
        [
            Some("live".into()),
            Some("stillbirth".into()),
            Some("stillbirth".into()),
            None,
            Some("live".into())
        ]
    );
    assert_eq!(out.stats.invalid_fields["outcome:unknown_code"], 1);
    assert_eq!(out.stats.unknown_codes["outcome"].len(), 1);

    file.codes.insert(
        "outcome".into(),
        [("死胎".to_owned(), "dead".to_owned())]
            .into_iter()
            .collect(),
    );
    let err = run(&[file]).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, IngestError::UnknownCanonicalCode { .. })
            && msg.contains("test_source")
            && msg.contains("`outcome`")
            && msg.contains("`dead`")
            && msg.contains("`stillbirth`"),
        "{msg}"
    );
}

#[test]
fn unknown_code_lists_are_bounded() {
    let mut values: BTreeMap<String, u64> = (0..UNKNOWN_CODES_LISTED + 5)
        .map(|i| (format!("v{i:03}"), 1 + (i as u64 % 3)))
        .collect();
    let total: u64 = values.values().sum();
    crate::engine::bound_listed_for_tests(&mut values);
    assert_eq!(values.len(), UNKNOWN_CODES_LISTED + 1);
    assert_eq!(values.values().sum::<u64>(), total);
    assert!(values.contains_key(OTHER_VALUES));
}

/// Every failure of a source names the source as well as the file (and the line or the
/// column where there is one); a Parquet column whose type is not its field's is an error
/// naming the file, the column, the type expected and the type found; optional fields
/// without a column are listed.
#[test]
fn errors_name_source_file_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let missing = write(
        dir.path(),
        "missing.csv",
        "编号,分娩时间\nD1,2025-01-01\n".as_bytes(),
    );
    let err = run(&[csv_file(missing)]).unwrap_err().to_string();
    assert!(
        err.contains("source `test_source`")
            && err.contains("missing.csv")
            && err.contains("`mother_id`"),
        "{err}"
    );

    // Integers in a date column: an error, not 9 k dates made up from numbers.
    let mut df = df!(
        "编号" => ["D1", "D2"],
        "母亲身份证号" => ["340302201601010019", "340302201601010019"],
        "分娩时间" => [45_000i64, 20_250_304],
    )
    .unwrap();
    let pq = dir.path().join("delivery.parquet");
    write_parquet(&mut df, &pq).unwrap();
    let file = InputFile::new(&pq, Format::Parquet);
    for err in [
        run(std::slice::from_ref(&file)).unwrap_err(),
        check_header(&TestSource, &file, &BTreeMap::new()).unwrap_err(),
    ] {
        let msg = err.to_string();
        assert!(
            matches!(err.inner(), IngestError::ParquetType { .. })
                && msg.contains("source `test_source`")
                && msg.contains("delivery.parquet")
                && msg.contains("column `分娩时间`")
                && msg.contains("field `delivery_date`")
                && msg.contains("expected a date")
                && msg.contains("found i64"),
            "{msg}"
        );
    }
    // Typed dates and text dates are what a date column should hold.
    let mut df = df!(
        "编号" => ["D1"],
        "母亲身份证号" => ["340302201601010019"],
        "分娩时间" => ["2025-03-04"],
        "结局" => ["活产"],
    )
    .unwrap();
    write_parquet(&mut df, &pq).unwrap();
    let stats = check_header(&TestSource, &file, &BTreeMap::new()).unwrap();
    assert_eq!(
        stats.missing_fields,
        [
            "mother_name",
            "child_sex",
            "plurality",
            "residence_village",
            "registration_date"
        ]
    );
    let out = run(std::slice::from_ref(&file)).unwrap();
    assert_eq!(out.stats.files[0].missing_fields, stats.missing_fields);
}

/// The rows of `rows(&[GOOD])` as an OpenDocument spreadsheet (what WPS and LibreOffice
/// save), written by hand: a stored ZIP with the mimetype, the manifest and the content.
fn ods_book(rows: &[Vec<&str>]) -> Vec<u8> {
    let mut content = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"><office:body><office:spreadsheet><table:table table:name="分娩">"#,
    );
    for row in rows {
        content.push_str("<table:table-row>");
        for cell in row {
            if cell.is_empty() {
                content.push_str("<table:table-cell/>");
            } else if let Ok(x) = cell.parse::<f64>()
                && cell.len() < 4
            {
                content.push_str(&format!(
                    r#"<table:table-cell office:value-type="float" office:value="{x}"><text:p>{cell}</text:p></table:table-cell>"#
                ));
            } else {
                content.push_str(&format!(
                    r#"<table:table-cell office:value-type="string"><text:p>{cell}</text:p></table:table-cell>"#
                ));
            }
        }
        content.push_str("</table:table-row>");
    }
    content.push_str("</table:table></office:spreadsheet></office:body></office:document-content>");
    stored_zip(&[
        ("mimetype", "application/vnd.oasis.opendocument.spreadsheet"),
        (
            "META-INF/manifest.xml",
            r#"<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2"><manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/><manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>"#,
        ),
        ("content.xml", &content),
    ])
}

/// `.xlsx`, `.ods` and `.tsv` extracts give the table the same rows give as CSV; `.xls` and
/// `.xlsb` go to calamine's readers of those formats (no writer for them is at hand, so
/// the test checks the dispatch: an XLSX named `.xls` is read as XLS and fails, naming the
/// file).
#[test]
fn workbook_formats_and_tsv_give_the_csv_table() {
    let dir = tempfile::tempdir().unwrap();
    let second = "D002,11010519491231002X,李娜,2025-03-05,男,2,死产,340302001001,2025/3/6";
    let csv = write(dir.path(), "d.csv", rows(&[GOOD, second]).as_bytes());
    let expected = run(&[csv_file(csv)])
        .unwrap()
        .records
        .drop_many([SOURCE_FILE, SOURCE_LINE]);

    let cells: Vec<Vec<&str>> = std::iter::once(HEADER)
        .chain([GOOD, second])
        .map(|l| l.split(',').collect())
        .collect();

    let tsv_text: String = cells.iter().map(|r| r.join("\t") + "\n").collect();
    let tsv = write(dir.path(), "d.tsv", tsv_text.as_bytes());
    let tsv_file = InputFile::new(&tsv, Format::from_path(&tsv).unwrap());
    assert_eq!(tsv_file.delimiter, b'\t');
    let out = run(&[tsv_file]).unwrap();
    assert!(
        out.records
            .drop_many([SOURCE_FILE, SOURCE_LINE])
            .equals_missing(&expected)
    );

    let ods = write(dir.path(), "d.ods", &ods_book(&cells));
    assert_eq!(Format::from_path(&ods), Some(Format::Ods));
    let out = run(&[InputFile::new(&ods, Format::Ods)]).unwrap();
    let got = out.records.drop_many([SOURCE_FILE, SOURCE_LINE]);
    assert!(got.equals_missing(&expected), "{got}\n{expected}");
    assert_eq!(ints(&out.records, SOURCE_LINE), [Some(2), Some(3)]);
    assert_eq!(
        read::sheet_names(&InputFile::new(&ods, Format::Ods)).unwrap(),
        ["分娩"]
    );

    let xlsx = dir.path().join("d.xlsx");
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (r, row) in cells.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            sheet.write_string(r as u32, c as u16, *v).unwrap();
        }
    }
    book.save(&xlsx).unwrap();
    let out = run(&[InputFile::new(&xlsx, Format::Xlsx)]).unwrap();
    assert!(
        out.records
            .drop_many([SOURCE_FILE, SOURCE_LINE])
            .equals_missing(&expected)
    );
    // A name that does not say the format: the declared format decides.
    let dat = dir.path().join("d.dat");
    std::fs::copy(&xlsx, &dat).unwrap();
    let out = run(&[InputFile::new(&dat, Format::Xlsx)]).unwrap();
    assert_eq!(out.stats.accepted, 2);

    for (name, format) in [("old.xls", Format::Xls), ("bin.xlsb", Format::Xlsb)] {
        let path = dir.path().join(name);
        std::fs::copy(&xlsx, &path).unwrap();
        assert_eq!(Format::from_path(&path), Some(format));
        let err = run(&[InputFile::new(&path, format)]).unwrap_err();
        let msg = err.to_string();
        assert!(
            matches!(err.inner(), IngestError::Xlsx { .. }) && msg.contains(name),
            "{msg}"
        );
    }
}

/// The hand splitter of quote-free bodies gives the csv crate's rows and lines: blank
/// lines skipped, `\r\n`, `\n` and a lone `\r` each one line end, empty and white-space
/// cells kept, rows of any width, no line end at the end, in chunks of any size.
#[test]
fn split_rows_gives_the_csv_readers_rows_and_lines() {
    use crate::read::{RawRow, csv_records_from, split_rows};
    let mut text = String::new();
    for i in 0..300 {
        let row = match i % 5 {
            0 => format!("a{i},b{i},"),
            1 => format!(" ,{i}"),
            2 => format!("王{i},,三,四"),
            3 => format!("{i}"),
            _ => format!("x{i},y\t{i}"),
        };
        let eol = ["\r\n", "\n", "\n\n", "\r", "\r\n\r\n", "\r\r\n"][i % 6];
        text.push_str(&row);
        text.push_str(eol);
    }
    text.push_str("last,row");
    let expected: Vec<(u64, Vec<String>)> = csv_records_from(&text, b',', 7)
        .map(|r| {
            let r = r.unwrap();
            (r.line, r.record.iter().map(str::to_owned).collect())
        })
        .collect();
    for chunk in [1, 3, 64, 10_000] {
        let mut got = Vec::new();
        let mut sizes = Vec::new();
        split_rows(&text, ',', 7, chunk, |rows| {
            sizes.push(rows.len());
            for r in rows {
                let cells = (0..r.width())
                    .map(|i| r.cell(i).to_text().into_owned())
                    .collect::<Vec<_>>();
                got.push((r.line(), cells));
            }
        });
        assert_eq!(got, expected, "chunk {chunk}");
        assert!(sizes.iter().all(|&n| n > 0 && n <= chunk));
    }
    assert_eq!(expected.len(), 301);
}

// Parquet columns canonicalised as columns (`columns.rs`): the same tables, quarantine and
// counts as the row loop alone, whatever the cells.

static PQ_FIELDS: &[F] = &[
    F::new("person_id", "公民身份号码", K::ResidentId)
        .required()
        .aliases(&["公民身份号码"]),
    F::new("name", "姓名", K::Name).aliases(&["姓名"]),
    F::new("sex", "性别", K::Sex).aliases(&["性别"]),
    F::new("birth_date", "出生日期", K::Date)
        .required()
        .aliases(&["出生日期"]),
    F::new("household_no", "户号", K::Text).aliases(&["户号"]),
    F::new("village", "村代码", K::Village)
        .required()
        .aliases(&["村代码"]),
    F::new("status", "状态", K::Code(&OUTCOME)).aliases(&["状态"]),
    F::new("children", "子女数", K::Int { min: 0, max: 8 }).aliases(&["子女数"]),
    F::new("registered", "登记时间", K::DateTime).aliases(&["登记时间"]),
    F::new("note", "备注", K::Text).aliases(&["备注"]),
    F::new("mother_id", "母亲身份证号", K::ResidentId).aliases(&["母亲身份证号"]),
    F::new("phone", "电话", K::Text).aliases(&["电话"]),
];

/// A registry-like source over [`PQ_FIELDS`]: its id, its row check and the fields the check
/// declares (`None`: all of them, the trait's default).
#[derive(Debug)]
struct PqSource {
    id: &'static str,
    check: fn(&mut RowCheck<'_>),
    declared: Option<&'static [&'static str]>,
}

impl Source for PqSource {
    fn id(&self) -> &'static str {
        self.id
    }
    fn label_zh(&self) -> &'static str {
        "测试"
    }
    fn fields(&self) -> &'static [F] {
        PQ_FIELDS
    }
    fn key_field(&self) -> &'static str {
        "person_id"
    }
    fn check_row(&self, row: &mut RowCheck<'_>) {
        (self.check)(row)
    }
    fn check_row_fields(&self) -> Option<&'static [&'static str]> {
        self.declared
    }
}

/// The Parquet tests' source: its check reads, sets and flags one field (`note`), and says so.
const PQ_SOURCE: PqSource = PqSource {
    id: "pq_source",
    check: |row| match row.text("note") {
        Some("坏") => row.flag("note", "bad_note"),
        Some("改") => row.set("note", Value::Str("changed".into())),
        _ => {}
    },
    declared: Some(&["note"]),
};

/// One row of the Parquet test extract, as its columns hold it.
#[derive(Clone)]
struct PqRow {
    id: Option<String>,
    name: Option<String>,
    sex: Option<String>,
    born: Option<i32>,
    household: Option<String>,
    village: Option<String>,
    status: Option<String>,
    children: Option<i64>,
    registered: Option<i32>,
    note: Option<String>,
    mother: Option<String>,
    extra: Option<String>,
}

fn clean_pq_row(i: usize) -> PqRow {
    let ids = [
        "340302201601010019",
        "34030219900307002X",
        "340302198811169023",
    ];
    PqRow {
        id: Some(ids[i % 3].to_owned()),
        name: Some(["王芳", "李娜", "张伟"][i % 3].to_owned()),
        sex: Some(["1", "2"][i % 2].to_owned()),
        born: Some(16_000 + (i % 300) as i32),
        household: Some(format!("H{}", i / 4)),
        village: Some("340302001001".to_owned()),
        status: Some(["活产", "死产"][i % 2].to_owned()),
        children: Some((i % 4) as i64),
        registered: (!i.is_multiple_of(5)).then_some(18_000 + (i % 90) as i32),
        note: i
            .is_multiple_of(7)
            .then(|| ["坏", "改", "好"][i % 3].to_owned()),
        mother: i.is_multiple_of(3).then(|| ids[(i + 1) % 3].to_owned()),
        extra: Some(format!("x{i}")),
    }
}

/// Writes the rows as a Parquet file of row groups of 1 000 rows (so of several parts).
fn write_pq(dir: &Path, name: &str, rows: &[PqRow]) -> InputFile {
    let text = |f: fn(&PqRow) -> Option<String>| rows.iter().map(f).collect::<Vec<_>>();
    let days = |name: &str, f: fn(&PqRow) -> Option<i32>| {
        Int32Chunked::from_iter_options(name.into(), rows.iter().map(f))
            .into_date()
            .into_series()
            .into_column()
    };
    let mut df = DataFrame::new(
        rows.len(),
        vec![
            Column::new("公民身份号码".into(), text(|r| r.id.clone())),
            Column::new("姓名".into(), text(|r| r.name.clone())),
            Column::new("性别".into(), text(|r| r.sex.clone())),
            days("出生日期", |r| r.born),
            Column::new("户号".into(), text(|r| r.household.clone())),
            Column::new("村代码".into(), text(|r| r.village.clone())),
            Column::new("状态".into(), text(|r| r.status.clone())),
            Column::new(
                "子女数".into(),
                rows.iter().map(|r| r.children).collect::<Vec<_>>(),
            ),
            days("登记时间", |r| r.registered),
            Column::new("备注".into(), text(|r| r.note.clone())),
            Column::new("母亲身份证号".into(), text(|r| r.mother.clone())),
            Column::new("其他".into(), text(|r| r.extra.clone())),
        ],
    )
    .unwrap();
    let path = dir.join(name);
    ParquetWriter::new(std::fs::File::create(&path).unwrap())
        .with_row_group_size(Some(1_000))
        .finish(&mut df)
        .unwrap();
    InputFile::new(&path, Format::Parquet)
}

/// Ingests `file` with the column-wise path and with the row loop alone, asserts the same
/// canonical table, quarantine and counts, and returns the first, with each part's fast
/// fields and exceptional rows.
fn pq_both_ways(file: &InputFile) -> (SourceOutput, Vec<(Vec<&'static str>, usize)>) {
    let known = villages();
    let files = std::slice::from_ref(file);
    let columns = BTreeMap::new();
    let cfg = IngestConfig {
        source: &PQ_SOURCE,
        files,
        columns: &columns,
        known_villages: Some(&known),
        allow_empty: false,
        progress: None,
        keep: None,
    };
    let fast = ingest(&cfg).unwrap();
    let rows = crate::columns::with_row_loop_only(|| ingest(&cfg).unwrap());
    assert_eq!(fast.records.schema(), rows.records.schema());
    assert!(
        fast.records.equals_missing(&rows.records),
        "canonical tables differ:\n{}\n{}",
        fast.records,
        rows.records
    );
    assert!(
        fast.quarantine.equals_missing(&rows.quarantine),
        "quarantines differ:\n{}\n{}",
        fast.quarantine,
        rows.quarantine
    );
    assert_eq!(fast.stats, rows.stats);
    assert_eq!(fast.records.first_col_n_chunks(), 1);
    let plan = crate::engine::fast_fields_for_tests(&cfg, file);
    (fast, plan)
}

/// Every field (`note`, the one field the check touches, with its check); `phone` has no
/// column.
const ALL_FAST: &[&str] = &[
    "person_id",
    "name",
    "sex",
    "birth_date",
    "household_no",
    "village",
    "status",
    "children",
    "registered",
    "note",
    "mother_id",
    "phone",
];

#[test]
fn parquet_clean_columns_are_taken_as_columns() {
    let dir = tempfile::tempdir().unwrap();
    let rows: Vec<PqRow> = (0..3_500).map(clean_pq_row).collect();
    let file = write_pq(dir.path(), "clean.parquet", &rows);
    let (out, plan) = pq_both_ways(&file);
    assert!(plan.len() >= 2, "{} parts", plan.len());
    for (fields, _) in &plan {
        assert_eq!(fields, ALL_FAST);
    }
    // The rows the check flags (`坏`) are made whole by the row loop.
    assert_eq!(plan.iter().map(|(_, n)| n).sum::<usize>(), 167);
    assert_eq!(out.stats.accepted, 3_500);
    assert_eq!(out.stats.invalid_fields.get("note:bad_note"), Some(&167));
    let t = &out.records;
    assert_eq!(
        strings(t, "person_id")[..2],
        [
            Some("340302201601010019".into()),
            Some("34030219900307002X".into())
        ]
    );
    assert_eq!(strings(t, RECORD_KEY), strings(t, "person_id"));
    assert_eq!(strings(t, "person_id_input"), strings(t, "person_id"));
    assert_eq!(ints(t, "sex")[..2], [Some(1), Some(2)]);
    assert_eq!(
        strings(t, "status")[..2],
        [Some("live".into()), Some("stillbirth".into())]
    );
    assert_eq!(ints(t, SOURCE_LINE)[..2], [Some(2), Some(3)]);
    assert_eq!(strings(t, "note")[7..8], [Some("changed".into())]);
    assert_eq!(t.column("registered_time").unwrap().null_count(), 3_500);
    assert_eq!(t.column("phone").unwrap().null_count(), 3_500);
}

/// Dirty cells in a few rows: those rows are made whole by the row loop, with their flags
/// in field order and their quarantine reasons' precedence; the rest stay columns.
#[test]
fn parquet_dirty_cells_are_made_by_the_row_loop() {
    let dir = tempfile::tempdir().unwrap();
    let mut rows: Vec<PqRow> = (0..3_500).map(clean_pq_row).collect();
    let dirt: [fn(&mut PqRow); 22] = [
        |r| r.id = Some("34030220160101001x".into()),
        |r| r.id = Some(" 340302201601010019".into()),
        |r| r.id = Some("340302201601010018".into()),
        |r| r.name = Some("王 芳".into()),
        |r| r.name = Some("Ｗａｎｇ".into()),
        |r| r.name = Some("   ".into()),
        |r| r.household = Some("H1 ".into()),
        |r| r.household = Some(String::new()),
        |r| r.village = Some("340302001009".into()),
        |r| r.village = Some("3403020010".into()),
        |r| r.sex = Some("女".into()),
        |r| r.sex = Some("x".into()),
        |r| r.status = Some("失踪".into()),
        |r| r.children = Some(9),
        |r| r.born = Some(2_000_000_000),
        |r| r.extra = Some("乱\u{FFFD}码".into()),
        |r| r.name = Some("王\u{FFFD}".into()),
        |r| r.mother = Some("34030220160101001x".into()),
        |r| {
            r.sex = Some("x".into());
            r.status = Some("失踪".into());
            r.note = Some("坏".into());
        },
        |r| r.registered = Some(-2_000_000_000),
        |r| r.id = Some("34030219900307002x".into()),
        |r| r.mother = Some("34030219900307002x".into()),
    ];
    for (n, d) in dirt.iter().enumerate() {
        for k in 0..3 {
            d(&mut rows[n * 37 + k * 1_100 + 5]);
        }
    }
    let file = write_pq(dir.path(), "dirty.parquet", &rows);
    let (out, plan) = pq_both_ways(&file);
    for (fields, _) in &plan {
        assert_eq!(fields, ALL_FAST);
    }
    // Every dirty row but those whose only dirt is in a column no field reads, and `女`,
    // a canonical spelling of the sex code (looked up once, like the codes); and the 167
    // rows the check flags, 4 of them dirty too.
    assert_eq!(plan.iter().map(|(_, n)| n).sum::<usize>(), 20 * 3 + 163);
    // A valid ID with a lower-case `x`: the key is the cell as written, the ID its normal
    // form.
    let t = &out.records;
    let key = strings(t, RECORD_KEY);
    let x = key
        .iter()
        .position(|k| k.as_deref() == Some("34030219900307002x"))
        .unwrap();
    assert_eq!(
        strings(t, "person_id")[x].as_deref(),
        Some("34030219900307002X")
    );
    let s = &out.stats;
    // A day no date has reads as an empty cell.
    assert_eq!(s.quarantine_reasons.get("missing_required"), Some(&3));
    assert_eq!(s.quarantine_reasons.get("undecodable"), Some(&6));
    assert_eq!(s.invalid_fields.get("person_id:check_digit"), Some(&6));
    assert_eq!(s.invalid_fields.get("mother_id:check_digit"), Some(&3));
    assert_eq!(s.invalid_fields.get("village:unknown_village"), Some(&3));
    assert_eq!(s.invalid_fields.get("sex:invalid_sex"), Some(&6));
    assert_eq!(s.invalid_fields.get("children:out_of_range"), Some(&3));
    assert_eq!(s.unknown_codes["status"].get("失踪"), Some(&6));
    let flags = strings(&out.records, INVALID_FIELDS);
    assert!(
        flags
            .iter()
            .any(|f| f.as_deref() == Some("sex:invalid_sex;status:unknown_code;note:bad_note"))
    );
}

/// Nulls in required columns quarantine their rows, the first required field in field
/// order being the one named, whether the null is in a column taken as it is or not.
#[test]
fn parquet_required_nulls_keep_their_precedence() {
    let dir = tempfile::tempdir().unwrap();
    let mut rows: Vec<PqRow> = (0..2_500).map(clean_pq_row).collect();
    for k in 0..4 {
        rows[k * 600 + 1].id = None;
        rows[k * 600 + 2].village = None;
        rows[k * 600 + 3].born = None;
        rows[k * 600 + 4].id = None;
        rows[k * 600 + 4].village = None;
        rows[k * 600 + 5].village = None;
        rows[k * 600 + 5].born = None;
        rows[k * 600 + 6].village = Some("  ".into());
    }
    let file = write_pq(dir.path(), "nulls.parquet", &rows);
    let (out, plan) = pq_both_ways(&file);
    assert_eq!(plan[0].0, ALL_FAST);
    let q = &out.quarantine;
    assert_eq!(out.stats.quarantined, 24, "{q}");
    let fields = strings(q, "field");
    assert_eq!(
        fields[..6],
        [
            Some("person_id".into()),
            Some("village".into()),
            Some("birth_date".into()),
            Some("person_id".into()),
            Some("birth_date".into()),
            Some("village".into()),
        ]
    );
    assert_eq!(ints(q, "line")[..3], [Some(3), Some(4), Some(5)]);
}

/// A coded column with a value the list does not know: the value is flagged and counted
/// as the row loop counts it; a column with too many values that are not canonical is left
/// to the row loop as a whole.
#[test]
fn parquet_unknown_codes_and_dirty_columns() {
    let dir = tempfile::tempdir().unwrap();
    let mut rows: Vec<PqRow> = (0..2_000).map(clean_pq_row).collect();
    for (i, r) in rows.iter_mut().enumerate() {
        if i.is_multiple_of(97) {
            r.status = Some(["失踪", "LIVE ", "13800138000"][i % 3].to_owned());
        }
        // A quarter of the names need folding: the name column is not worth taking.
        if i % 4 == 1 {
            r.name = Some("王 芳".into());
        }
    }
    let file = write_pq(dir.path(), "codes.parquet", &rows);
    let (out, plan) = pq_both_ways(&file);
    assert!(plan[0].0.contains(&"status"));
    assert!(!plan[0].0.contains(&"name"));
    let codes = &out.stats.unknown_codes["status"];
    assert_eq!(codes.get("失踪"), Some(&7));
    assert_eq!(codes.get(NOT_LISTED), Some(&7));
    assert_eq!(
        strings(&out.records, "name")[1].as_deref(),
        Some("王 芳"),
        "names keep their inner space, folded"
    );
}

/// A source that names no fields for its check gets nothing column-wise.
#[test]
fn parquet_without_a_declaration_uses_the_row_loop() {
    let undeclared = PqSource {
        id: "undeclared",
        check: |_| {},
        declared: None,
    };
    let dir = tempfile::tempdir().unwrap();
    let rows: Vec<PqRow> = (0..10).map(clean_pq_row).collect();
    let file = write_pq(dir.path(), "u.parquet", &rows);
    let known = villages();
    let cfg = IngestConfig {
        source: &undeclared,
        files: std::slice::from_ref(&file),
        columns: &BTreeMap::new(),
        known_villages: Some(&known),
        allow_empty: false,
        progress: None,
        keep: None,
    };
    assert_eq!(
        crate::engine::fast_fields_for_tests(&cfg, &file),
        [(Vec::new(), 10)]
    );
}

/// A check that touches a field its source does not declare fails in debug builds: the
/// field may have been taken as a column and be null in the check.
#[test]
#[should_panic(expected = "does not name")]
fn a_check_touching_an_undeclared_field_panics() {
    let liar = PqSource {
        id: "liar",
        check: |row| {
            let _ = row.text("name");
        },
        declared: Some(&["note"]),
    };
    let dir = tempfile::tempdir().unwrap();
    let rows: Vec<PqRow> = (0..10).map(clean_pq_row).collect();
    let file = write_pq(dir.path(), "l.parquet", &rows);
    let _ = run_source(&liar, &[file]);
}

/// `name_is_normal`'s shortcut: every CJK unified ideograph of the basic block is its own
/// NFKC form, alone and beside others, so a name of them alone needs no folding.
#[test]
fn cjk_unified_ideographs_are_nfkc() {
    use unicode_normalization::UnicodeNormalization;
    let all: String = ('\u{4E00}'..='\u{9FFF}').collect();
    assert_eq!(all.chars().count(), 0x9FFF - 0x4E00 + 1);
    assert_eq!(all.nfkc().collect::<String>(), all);
    for c in all.chars() {
        let one = c.to_string();
        assert_eq!(one.nfkc().collect::<String>(), one, "U+{:04X}", c as u32);
        assert!(crate::engine::name_is_normal(&one));
    }
    // Outside the block the full check still runs: a compatibility ideograph folds.
    assert!(!crate::engine::name_is_normal("\u{F900}"));
    assert!(!crate::engine::name_is_normal("张 三"));
    assert!(crate::engine::name_is_normal("张三"));
}

/// The 70 000 rows of `parquet_parts_give_the_rows_and_lines_of_one_table` (every eleventh
/// quarantined in two ways, IDs and names to fold), as CSV and as Parquet of row groups of
/// 1 000 rows.
fn csv_and_parquet(dir: &Path) -> (InputFile, InputFile) {
    let mut lines = Vec::new();
    for i in 0..70_000 {
        lines.push(match i % 11 {
            0 => format!("D{i},340302201601010019,王芳,20250230,女,1,活产,340302001001,"),
            1 => format!("D{i},340302201601010018,王 芳,2025-03-04,女,1,活产,340302001002,"),
            2 => format!("D{i},34030220160101001x,Ｗａｎｇ,2025-03-04,女,8,活产,340302001001,"),
            3 => format!("D{i},,王芳,2025-03-04,女,1,活产,340302001001,"),
            _ => format!("D{i},340302201601010019,王芳,2025-03-04,女,1,死产,340302001001,"),
        });
    }
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let csv = write(dir, "a.csv", rows(&refs).as_bytes());
    let mut df = CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .try_into_reader_with_file_path(Some(csv.clone()))
        .unwrap()
        .finish()
        .unwrap();
    let pq = dir.join("a.parquet");
    ParquetWriter::new(std::fs::File::create(&pq).unwrap())
        .with_row_group_size(Some(1_000))
        .finish(&mut df)
        .unwrap();
    (csv_file(csv), InputFile::new(&pq, Format::Parquet))
}

fn test_config<'a>(
    files: &'a [InputFile],
    columns: &'a BTreeMap<String, Vec<String>>,
    known: &'a HashSet<String>,
) -> IngestConfig<'a> {
    IngestConfig {
        source: &TestSource,
        files,
        columns,
        known_villages: Some(known),
        allow_empty: false,
        progress: None,
        keep: None,
    }
}

#[test]
fn a_source_handed_over_in_pieces_is_the_source_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, pq) = csv_and_parquet(dir.path());
    let (columns, known) = (BTreeMap::new(), villages());
    // 64 KiB slices two at a time; 5 000 rows (five row groups) at a time.
    let pace = crate::engine::Pace {
        parquet_rows: 5_000,
        csv_slice_bytes: 64 << 10,
        csv_slices: 2,
    };
    for files in [vec![csv.clone()], vec![pq.clone()], vec![pq, csv]] {
        let cfg = test_config(&files, &columns, &known);
        let whole = ingest(&cfg).unwrap();
        let mut pieces: Vec<DataFrame> = Vec::new();
        let each = crate::engine::ingest_paced(&cfg, pace, &mut |df| {
            pieces.push(df);
            Ok(())
        })
        .unwrap();
        assert!(pieces.len() >= 10, "{} pieces", pieces.len());
        assert_eq!(each.records.height(), 0);
        assert_eq!(each.records.schema(), whole.records.schema());
        let mut joined = pieces[0].clone();
        for p in &pieces[1..] {
            joined.vstack_mut(p).unwrap();
        }
        assert!(joined.equals_missing(&whole.records));
        assert!(each.quarantine.equals_missing(&whole.quarantine));
        assert_eq!(each.stats, whole.stats);
        // Lines climb through the pieces, file by file.
        let lines: Vec<(String, i64)> = strings(&joined, SOURCE_FILE)
            .into_iter()
            .map(Option::unwrap)
            .zip(ints(&joined, SOURCE_LINE).into_iter().map(Option::unwrap))
            .collect();
        assert!(
            lines
                .windows(2)
                .all(|w| w[0].0 != w[1].0 || w[0].1 < w[1].1)
        );
    }
}

#[test]
fn rows_refused_by_keep_are_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, pq) = csv_and_parquet(dir.path());
    let (columns, known) = (BTreeMap::new(), villages());
    for files in [vec![csv.clone()], vec![pq.clone()], vec![csv, pq]] {
        let cfg = test_config(&files, &columns, &known);
        let whole = ingest(&cfg).unwrap();
        // Every third line of the first file, and every line of the second but its first
        // thousand rows.
        let keep = |file: usize, line: u64| match file {
            0 => line.is_multiple_of(3),
            _ => line > 1_001,
        };
        let kept = ingest(&IngestConfig {
            keep: Some(&keep),
            ..cfg
        })
        .unwrap();
        let wanted = |df: &DataFrame| {
            let file = df
                .column(SOURCE_FILE)
                .unwrap()
                .str()
                .unwrap()
                .equal(files[0].path.display().to_string().as_str());
            let line = df
                .column(SOURCE_LINE)
                .unwrap()
                .cast(&DataType::Int64)
                .unwrap();
            let line = line.i64().unwrap();
            let first = &file & &(line % 3).equal(0);
            let second = &!&file & &line.gt(1_001);
            df.filter(&(&first | &second)).unwrap()
        };
        let expected = wanted(&whole.records);
        assert!(expected.height() > 10_000 && expected.height() < whole.records.height());
        assert!(kept.records.equals_missing(&expected));
        let quarantined = whole
            .quarantine
            .clone()
            .lazy()
            .rename(["file", "line"], [SOURCE_FILE, SOURCE_LINE], true)
            .collect()
            .unwrap();
        assert_eq!(
            kept.quarantine.height(),
            wanted(&quarantined).height(),
            "the rows refused are not quarantined"
        );
        assert_eq!(kept.stats.accepted, expected.height() as u64);
        assert_eq!(
            kept.stats.read,
            kept.stats.accepted + kept.stats.quarantined
        );
        assert!(kept.stats.read < whole.stats.read);
    }
}
