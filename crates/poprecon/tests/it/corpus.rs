//! The bad-input corpus: each case is a damaged extract. Every case either stops with a
//! message naming the file (and line or column), or is read with the bad rows quarantined
//! under the right reason; never a panic, and rows are always conserved.

use std::path::Path;

use polars::prelude::*;
use poprecon_ingest::{IngestError, SourceOutput};
use poprecon_pipeline::Plan;

use crate::support::*;

const HEADER: &str = "登记编号,登记类型,男方身份证号,女方身份证号,登记日期";
const ROW: &str = "M1,结婚,34030219900101001X,340302201601010019,2015-05-01";

/// What a corpus case must give.
enum Expect {
    /// An error whose message contains every fragment.
    Error(&'static [&'static str]),
    /// Read: `accepted` rows kept and the quarantine reasons, in line order.
    Read {
        accepted: u64,
        quarantined: &'static [&'static str],
    },
}

/// Runs one case of the marriage source (any source would do: the engine is shared).
fn case(name: &str, bytes: &[u8], encoding: &str, expect: Expect) {
    let fx = Fixture::new();
    let file = fx.path(name);
    std::fs::write(&file, bytes).unwrap();
    let pipeline = fx.pipeline(&format!(
        "[sources.marriage]\npath = \"{name}\"\nencoding = \"{encoding}\"\n"
    ));
    let result = ingest_one(&pipeline);
    match (expect, result) {
        (Expect::Error(fragments), Err(e)) => {
            let msg = e.to_string();
            assert!(
                msg.contains(name),
                "case {name}: message names the file: {msg}"
            );
            for f in fragments {
                assert!(msg.contains(f), "case {name}: `{f}` in: {msg}");
            }
        }
        (
            Expect::Read {
                accepted,
                quarantined,
            },
            Ok(out),
        ) => {
            assert_eq!(
                out.stats.read,
                out.stats.accepted + out.stats.quarantined,
                "case {name}: rows conserved"
            );
            assert_eq!(out.stats.accepted, accepted, "case {name}: accepted");
            let reasons = strs(&out.quarantine, "reason");
            let reasons: Vec<&str> = reasons.iter().map(|r| r.as_deref().unwrap()).collect();
            assert_eq!(reasons, quarantined, "case {name}: quarantine reasons");
        }
        (Expect::Error(_), Ok(out)) => {
            panic!("case {name}: expected an error, read {:?}", out.stats)
        }
        (Expect::Read { .. }, Err(e)) => panic!("case {name}: expected rows, got: {e}"),
    }
}

fn ingest_one(pipeline: &Path) -> Result<SourceOutput, IngestError> {
    let plan = Plan::load(pipeline).unwrap();
    let sp = &plan.sources[0];
    poprecon_ingest::ingest(&plan.ingest_config(sp))
}

fn lines(rows: &[&str]) -> Vec<u8> {
    let mut s = String::from(HEADER);
    for r in rows {
        s.push('\n');
        s.push_str(r);
    }
    s.push('\n');
    s.into_bytes()
}

#[test]
fn truncated_files() {
    // Cut in the middle of the last row: its cells are missing.
    let mut b = lines(&[ROW, ROW]);
    b.truncate(b.len() - 20);
    case(
        "cut_row.csv",
        &b,
        "auto",
        Expect::Read {
            accepted: 1,
            quarantined: &["field_count"],
        },
    );
    // Cut inside a quoted cell: the quote runs to the end of the file.
    let mut b = lines(&[ROW]);
    b.extend_from_slice(b"M2,\"\xE7\xBB\x93");
    case(
        "cut_quote.csv",
        &b,
        "auto",
        Expect::Read {
            accepted: 1,
            quarantined: &["field_count"],
        },
    );
    // Cut inside a multi-byte GB18030 character: the last row lacks its cells (and ends in
    // an undecodable byte); the missing cells are the reason given.
    let mut gb = encoding_rs::GB18030
        .encode(&String::from_utf8(lines(&[ROW, ROW])).unwrap())
        .0
        .into_owned();
    let at = gb.len() - 40;
    gb.truncate(at);
    gb.push(0x81);
    case(
        "cut_gb.csv",
        &gb,
        "gb18030",
        Expect::Read {
            accepted: 1,
            quarantined: &["field_count"],
        },
    );
    // A corrupt byte pair inside a cell, the row otherwise whole: `undecodable`.
    let mut gb = encoding_rs::GB18030
        .encode(&String::from_utf8(lines(&[ROW, ROW])).unwrap())
        .0
        .into_owned();
    let at = gb.len() - 4;
    gb.splice(at..at, [0x81, 0x20]);
    case(
        "corrupt_gb.csv",
        &gb,
        "gb18030",
        Expect::Read {
            accepted: 1,
            quarantined: &["undecodable"],
        },
    );
}

#[test]
fn encodings_and_byte_order_marks() {
    // UTF-16 with a BOM (some Windows tools export it): read through the BOM.
    let text = String::from_utf8(lines(&[ROW])).unwrap();
    let mut utf16 = vec![0xFF, 0xFE];
    for u in text.encode_utf16() {
        utf16.extend_from_slice(&u.to_le_bytes());
    }
    case(
        "utf16.csv",
        &utf16,
        "auto",
        Expect::Read {
            accepted: 1,
            quarantined: &[],
        },
    );
    // Two exports concatenated: a BOM and a header in the middle of the file.
    let mut b = lines(&[ROW]);
    b.extend_from_slice(b"\xEF\xBB\xBF");
    b.extend_from_slice(&lines(&[ROW]));
    case(
        "bom_middle.csv",
        &b,
        "auto",
        Expect::Read {
            accepted: 2,
            quarantined: &["invalid_required_date"],
        },
    );
    // GBK bytes declared UTF-8: an error with the hint.
    let gb = encoding_rs::GB18030.encode(&text).0.into_owned();
    case(
        "gbk_as_utf8.csv",
        &gb,
        "utf-8",
        Expect::Error(&["not valid UTF-8", "gb18030"]),
    );
    // Latin-1 garbage declared GB18030: mostly undecodable, an error.
    let junk: Vec<u8> = (0..2000)
        .map(|i| if i % 50 == 49 { b'\n' } else { 0xFF })
        .collect();
    case(
        "junk.csv",
        &junk,
        "gb18030",
        Expect::Error(&["does not decode as GB18030"]),
    );
    // Binary data.
    let mut bin = vec![0u8; 64];
    bin.extend_from_slice(&[7u8; 64]);
    case("binary.csv", &bin, "auto", Expect::Error(&["binary"]));
}

#[test]
fn line_endings_and_quoting() {
    let mixed = format!("{HEADER}\r\n{ROW}\n{ROW}\r\n{ROW}");
    case(
        "mixed_endings.csv",
        mixed.as_bytes(),
        "auto",
        Expect::Read {
            accepted: 3,
            quarantined: &[],
        },
    );
    let quoted = format!(
        "{HEADER}\n\"M1\",\"结婚\",\"34030219900101001X\",\"340302201601010019\",\"2015-05-01\"\n\"M\"\"2\",结婚,34030219900101001X,340302201601010019,\"2015-05-\n01\"\n"
    );
    // The second record's date holds a newline: it is no date, and the row is quarantined.
    case(
        "quoted.csv",
        quoted.as_bytes(),
        "auto",
        Expect::Read {
            accepted: 1,
            quarantined: &["invalid_required_date"],
        },
    );
    // Blank lines are not rows.
    let blank = format!("{HEADER}\n\n{ROW}\n\n\n{ROW}\n");
    case(
        "blank_lines.csv",
        blank.as_bytes(),
        "auto",
        Expect::Read {
            accepted: 2,
            quarantined: &[],
        },
    );
}

#[test]
fn headers_missing_duplicated_or_extra() {
    case(
        "no_header.csv",
        format!("{ROW}\n{ROW}\n").as_bytes(),
        "auto",
        Expect::Error(&["required field", "hint:"]),
    );
    let dup = format!("{HEADER},登记日期\n{ROW},2015-05-02\n");
    case(
        "dup_header.csv",
        dup.as_bytes(),
        "auto",
        Expect::Error(&["登记日期", "columns 5 and 6"]),
    );
    let extra = format!("{HEADER},备注,经办人\n{ROW},无,张三\n");
    case(
        "extra_columns.csv",
        extra.as_bytes(),
        "auto",
        Expect::Read {
            accepted: 1,
            quarantined: &[],
        },
    );
    case(
        "header_only.csv",
        format!("{HEADER}\n").as_bytes(),
        "auto",
        Expect::Error(&["no rows", "allow_empty"]),
    );
    case("empty.csv", b"", "auto", Expect::Error(&["empty"]));
}

#[test]
fn huge_and_hostile_values() {
    // A 10 MB cell in a free-text column is read, not a crash.
    let big = format!("{HEADER},备注\n{ROW},{}\n", "长".repeat(3_500_000));
    case(
        "huge_field.csv",
        big.as_bytes(),
        "auto",
        Expect::Read {
            accepted: 1,
            quarantined: &[],
        },
    );
    // Hostile text is data: kept as is (outputs escape it), never interpreted here.
    let hostile = format!(
        "{HEADER}\n<img src=x onerror=alert(1)>,结婚,34030219900101001X,340302201601010019,2015-05-01\n=HYPERLINK(\"x\"),结婚,34030219900101001X,340302201601010019,2015-05-01\n\u{202E}M3\u{0007},结婚,34030219900101001X,340302201601010019,2015-05-01\n"
    );
    case(
        "hostile.csv",
        hostile.as_bytes(),
        "auto",
        Expect::Read {
            accepted: 3,
            quarantined: &[],
        },
    );
    // Control characters inside an ID make it invalid (flagged), not quarantined.
    let ctrl =
        format!("{HEADER}\nM1,结婚,3403021990\u{0001}0101001X,340302201601010019,2015-05-01\n");
    case(
        "control_in_id.csv",
        ctrl.as_bytes(),
        "auto",
        Expect::Read {
            accepted: 1,
            quarantined: &[],
        },
    );
}

#[test]
fn impossible_dates_and_codes() {
    let rows = [
        "M1,结婚,34030219900101001X,340302201601010019,2015-02-29",
        "M2,结婚,34030219900101001X,340302201601010019,2015年13月1日",
        "M3,同居,34030219900101001X,340302201601010019,2015-05-01",
        "M4,结婚,34030219900101001X,340302201601010019,",
        "M5,结婚,,340302201601010019,2015-05-01",
    ];
    case(
        "impossible.csv",
        &lines(&rows),
        "auto",
        Expect::Read {
            accepted: 1,
            quarantined: &[
                "invalid_required_date",
                "invalid_required_date",
                "missing_required",
                "missing_required",
            ],
        },
    );
}

#[test]
fn parquet_with_wrong_types() {
    let fx = Fixture::new();
    // Dates stored as integers: `20150501` or an Excel serial `42000`? Nothing says, so the
    // file is an error naming the source, the file, the column and both types.
    let mut df = df!(
        "登记编号" => [1_i64, 2, 3],
        "登记类型" => ["结婚", "离婚", "结婚"],
        "男方身份证号" => [3.4030219900101e17, 3.4030219900101e17, 3.4030219900101e17],
        "女方身份证号" => ["340302201601010019", "340302201601010019", "bad"],
        "登记日期" => [20150501_i64, 42000, 20150230],
    )
    .unwrap();
    poprecon_ingest::write_parquet(&mut df, &fx.path("m.parquet")).unwrap();
    let pipeline = fx.pipeline("[sources.marriage]\npath = \"m.parquet\"\n");
    let err = ingest_one(&pipeline).unwrap_err().to_string();
    assert!(
        err.contains("source `marriage`")
            && err.contains("m.parquet")
            && err.contains("`登记日期`")
            && err.contains("expected a date, a date-time or text")
            && err.contains("found i64"),
        "{err}"
    );
    // IDs stored as floats (precision lost) and dates as text: read, the IDs flagged.
    let mut df = df!(
        "登记编号" => [1_i64, 2, 3],
        "登记类型" => ["结婚", "离婚", "结婚"],
        "男方身份证号" => [3.4030219900101e17, 3.4030219900101e17, 3.4030219900101e17],
        "女方身份证号" => ["340302201601010019", "340302201601010019", "bad"],
        "登记日期" => ["20150501", "2014-12-27", "20150230"],
    )
    .unwrap();
    poprecon_ingest::write_parquet(&mut df, &fx.path("m.parquet")).unwrap();
    let out = ingest_one(&pipeline).unwrap();
    assert_eq!(out.stats.read, 3);
    assert_eq!(out.stats.accepted, 2);
    assert_eq!(
        strs(&out.quarantine, "reason"),
        some(&["invalid_required_date"])
    );
    let r = &out.records;
    assert_eq!(strs(r, "record_id"), some(&["1", "2"]));
    assert_eq!(
        strs(r, "registration_date"),
        some(&["2015-05-01", "2014-12-27"])
    );
    assert_eq!(strs(r, "man_id"), [None, None]);
    assert_eq!(
        strs(r, "invalid_fields"),
        some(&["man_id:excel_numeric", "man_id:excel_numeric"])
    );
    let _ = DataType::String;
}
