//! A well-formed `birth_certificate` workbook whose cells come from the fuzzer: text,
//! numbers (IDs as floats, Excel serial dates), booleans, formulas, blank rows and missing
//! columns. Raw XLSX bytes rarely get past the ZIP checksum; this target reaches the row
//! path behind it. No panic, and rows read = accepted + quarantined.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use poprecon_birth_certificate::BirthCertificate;
use poprecon_fuzz_ingest::{ingest_one, scratch};
use poprecon_ingest::Format;
use rust_xlsxwriter::{Format as CellFormat, Workbook};

const HEADERS: [&str; 8] = [
    "出生医学证明编号",
    "新生儿姓名",
    "性别",
    "出生时间",
    "出生地点分类",
    "母亲有效身份证件号码",
    "签发日期",
    "签发类型",
];

#[derive(Debug, Arbitrary)]
enum Value {
    Blank,
    Text(String),
    Number(f64),
    /// A number shown with a date format, as Excel stores dates.
    Date(f64),
    Bool(bool),
    Formula(String),
}

#[derive(Debug, Arbitrary)]
struct Sheet {
    /// Bit i drops column i from the header.
    drop_columns: u8,
    /// Rows before the header (blank or not).
    offset: u8,
    rows: Vec<Vec<Value>>,
}

fuzz_target!(|sheet: Sheet| {
    let mut book = Workbook::new();
    let ws = book.add_worksheet();
    let date = CellFormat::new().set_num_format("yyyy-mm-dd hh:mm");
    let top = u32::from(sheet.offset % 4);
    let mut c = 0u16;
    for (i, h) in HEADERS.iter().enumerate() {
        if sheet.drop_columns & (1 << i) == 0 {
            let _ = ws.write_string(top, c, *h);
            c += 1;
        }
    }
    for (r, row) in sheet.rows.iter().take(64).enumerate() {
        let r = top + 1 + r as u32;
        for (c, v) in row.iter().take(12).enumerate() {
            let c = c as u16;
            // Values rust_xlsxwriter refuses (too long, NaN) are simply not written.
            let _ = match v {
                Value::Blank => continue,
                Value::Text(s) => ws.write_string(r, c, s),
                Value::Number(x) => ws.write_number(r, c, *x),
                Value::Date(x) => ws.write_number_with_format(r, c, *x, &date),
                Value::Bool(b) => ws.write_boolean(r, c, *b),
                Value::Formula(f) => ws.write_formula(r, c, f.as_str()),
            };
        }
    }
    let Ok(bytes) = book.save_to_buffer() else {
        return;
    };
    let path = scratch(&bytes, "xlsx");
    ingest_one(&BirthCertificate, path, Format::Xlsx);
});
