//! Readers: each turns one input file into a header and rows of [`Cell`]s, with the line
//! (CSV), sheet row (XLSX) or row number (Parquet) of every row, so that every later message
//! can point at the place in the file.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use calamine::{Data, Reader};
use polars::prelude::*;
use poprecon_model::DateValue;

use crate::error::IngestError;

/// The file formats extracts come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Xlsx,
    /// Excel 97–2003 workbook (BIFF8).
    Xls,
    /// Excel binary workbook.
    Xlsb,
    /// OpenDocument spreadsheet (WPS, LibreOffice).
    Ods,
    Parquet,
}

impl Format {
    /// The format a file name suggests (`.csv`/`.tsv`/`.txt`, `.xlsx`/`.xlsm`, `.xls`,
    /// `.xlsb`, `.ods`, `.parquet`/`.pq`).
    pub fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" | "txt" | "tsv" => Some(Format::Csv),
            "xlsx" | "xlsm" => Some(Format::Xlsx),
            "xls" => Some(Format::Xls),
            "xlsb" => Some(Format::Xlsb),
            "ods" => Some(Format::Ods),
            "parquet" | "pq" => Some(Format::Parquet),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
            Format::Xls => "xls",
            Format::Xlsb => "xlsb",
            Format::Ods => "ods",
            Format::Parquet => "parquet",
        }
    }

    /// A spreadsheet workbook, read sheet by sheet through calamine.
    pub fn is_workbook(self) -> bool {
        matches!(
            self,
            Format::Xlsx | Format::Xls | Format::Xlsb | Format::Ods
        )
    }
}

/// The CSV delimiter a file name suggests: tab for `.tsv`, else a comma.
pub fn default_delimiter(path: &Path) -> u8 {
    match path.extension().and_then(|e| e.to_str()) {
        Some(ext) if ext.eq_ignore_ascii_case("tsv") => b'\t',
        _ => b',',
    }
}

/// Text encodings of CSV extracts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// A BOM decides; otherwise valid UTF-8 is UTF-8 and anything else is GB18030.
    #[default]
    Auto,
    #[serde(alias = "utf8", alias = "utf-8-sig")]
    #[serde(rename = "utf-8")]
    Utf8,
    /// GB18030, a superset of GBK and GB2312 (which are accepted as names for it).
    #[serde(alias = "gbk", alias = "gb2312")]
    Gb18030,
}

impl Encoding {
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Auto => "auto",
            Encoding::Utf8 => "utf-8",
            Encoding::Gb18030 => "gb18030",
        }
    }
}

/// One input file and how to read it.
#[derive(Debug, Clone, PartialEq)]
pub struct InputFile {
    pub path: PathBuf,
    pub format: Format,
    pub encoding: Encoding,
    pub delimiter: u8,
    /// XLSX: the sheet to read; the first sheet when `None`.
    pub sheet: Option<String>,
    /// Extra spellings of coded fields (`[sources.<s>.codes.<field>]`), the same for every
    /// file of a source.
    pub codes: crate::schema::CodeExtensions,
}

impl InputFile {
    /// A file read with the defaults of its format (tab-separated for `.tsv`).
    pub fn new(path: impl Into<PathBuf>, format: Format) -> Self {
        let path = path.into();
        InputFile {
            delimiter: default_delimiter(&path),
            path,
            format,
            encoding: Encoding::Auto,
            sheet: None,
            codes: crate::schema::CodeExtensions::new(),
        }
    }
}

/// One cell as a reader found it, before any interpretation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    Empty,
    Text(&'a str),
    Int(i64),
    /// A numeric cell (XLSX numbers are floats).
    Float(f64),
    /// A typed date or date-time cell (XLSX date cells, Parquet dates).
    Date(DateValue),
}

impl Cell<'_> {
    /// The cell as text, as a person would see it in the source (for quarantine).
    pub fn to_text(&self) -> Cow<'_, str> {
        match *self {
            Cell::Empty => Cow::Borrowed(""),
            Cell::Text(s) => Cow::Borrowed(s),
            Cell::Int(i) => Cow::Owned(i.to_string()),
            Cell::Float(f) => Cow::Owned(float_text(f)),
            Cell::Date(DateValue::Date(d)) => Cow::Owned(d.format("%Y-%m-%d").to_string()),
            Cell::Date(DateValue::DateTime(dt)) => {
                Cow::Owned(dt.format("%Y-%m-%d %H:%M:%S").to_string())
            }
        }
    }
}

/// Text of a number the way Excel shows it: integral values without `.0` or exponent and
/// with at most 15 significant digits (`340302201601010000`, as Excel displays an 18-digit ID
/// typed into a numeric cell), others as Rust prints them.
pub fn float_text(f: f64) -> String {
    if !(f.is_finite() && f.fract() == 0.0 && f.abs() < 1e21) {
        return f.to_string();
    }
    if f.abs() < 1e15 {
        return format!("{f:.0}");
    }
    let digits = f.abs().log10().floor() as i32 + 1;
    let mantissa = (f.abs() / 10f64.powi(digits - 15)).round();
    let sign = if f < 0.0 { "-" } else { "" };
    format!("{sign}{mantissa:.0}{}", "0".repeat((digits - 15) as usize))
}

/// One row: where it came from and its cells.
pub trait RawRow: Sync {
    /// 1-based line (CSV), sheet row (XLSX) or row number counting the header as 1 (Parquet).
    fn line(&self) -> u64;
    /// Number of cells in the row.
    fn width(&self) -> usize;
    fn cell(&self, i: usize) -> Cell<'_>;
}

/// A CSV record with its starting line.
#[derive(Debug)]
pub struct CsvRow {
    pub line: u64,
    pub record: csv::StringRecord,
}

impl RawRow for CsvRow {
    fn line(&self) -> u64 {
        self.line
    }
    fn width(&self) -> usize {
        self.record.len()
    }
    fn cell(&self, i: usize) -> Cell<'_> {
        match self.record.get(i) {
            None | Some("") => Cell::Empty,
            Some(s) => Cell::Text(s),
        }
    }
}

/// A row of owned cells (XLSX and Parquet).
#[derive(Debug, Clone, PartialEq)]
pub struct OwnedRow {
    pub line: u64,
    pub cells: Vec<OwnedCell>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum OwnedCell {
    Empty,
    Text(String),
    Int(i64),
    Float(f64),
    Date(DateValue),
}

impl RawRow for OwnedRow {
    fn line(&self) -> u64 {
        self.line
    }
    fn width(&self) -> usize {
        self.cells.len()
    }
    fn cell(&self, i: usize) -> Cell<'_> {
        match self.cells.get(i) {
            None | Some(OwnedCell::Empty) => Cell::Empty,
            Some(OwnedCell::Text(s)) if s.is_empty() => Cell::Empty,
            Some(OwnedCell::Text(s)) => Cell::Text(s),
            Some(OwnedCell::Int(i)) => Cell::Int(*i),
            Some(OwnedCell::Float(f)) => Cell::Float(*f),
            Some(OwnedCell::Date(d)) => Cell::Date(*d),
        }
    }
}

/// Reads a whole file into memory and decodes it to UTF-8.
///
/// Returns the text and the encoding actually used. Decoding never guesses silently: a file
/// declared UTF-8 that is not, or one that decodes to mostly replacement characters, is an
/// error naming the file.
pub fn read_text(file: &InputFile) -> Result<(String, Encoding), IngestError> {
    let bytes = std::fs::read(&file.path).map_err(|source| IngestError::Io {
        path: file.path.clone(),
        source,
    })?;
    decode_text(&file.path, bytes, file.encoding)
}

pub(crate) fn decode_text(
    path: &Path,
    bytes: Vec<u8>,
    declared: Encoding,
) -> Result<(String, Encoding), IngestError> {
    if bytes.is_empty() {
        return Err(IngestError::EmptyFile {
            path: path.to_owned(),
        });
    }
    if bytes.starts_with(b"PK\x03\x04") {
        return Err(IngestError::WrongFormat {
            path: path.to_owned(),
            declared: Format::Csv,
            found: "a ZIP container (an XLSX workbook?)",
        });
    }
    if bytes.starts_with(b"PAR1") {
        return Err(IngestError::WrongFormat {
            path: path.to_owned(),
            declared: Format::Csv,
            found: "a Parquet file",
        });
    }
    // UTF-16 has NUL bytes too, but comes with a BOM; without one a NUL means binary data.
    let has_utf16_bom = bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]);
    if !has_utf16_bom && bytes[..bytes.len().min(8192)].contains(&0) {
        return Err(IngestError::Binary {
            path: path.to_owned(),
        });
    }
    if let Some((enc, bom_len)) = encoding_rs::Encoding::for_bom(&bytes) {
        if enc == encoding_rs::UTF_8 {
            return into_utf8(path, bytes, bom_len, Encoding::Utf8);
        }
        let (text, had_errors) = enc.decode_without_bom_handling(&bytes[bom_len..]);
        check_replacements(path, &text, had_errors, enc.name())?;
        return Ok((text.into_owned(), Encoding::Utf8));
    }
    let bytes = match declared {
        Encoding::Utf8 => return into_utf8(path, bytes, 0, Encoding::Utf8),
        // Valid UTF-8 is UTF-8 (validated once); anything else is read as GB18030.
        Encoding::Auto => match String::from_utf8(bytes) {
            Ok(s) => return Ok((s, Encoding::Utf8)),
            Err(e) => e.into_bytes(),
        },
        Encoding::Gb18030 => bytes,
    };
    let (text, had_errors) = decode_gb18030(&bytes);
    check_replacements(path, &text, had_errors, "GB18030")?;
    Ok((text, Encoding::Gb18030))
}

/// Decodes GB18030 in parallel slices cut after `\n`: the byte 0x0A is never part of a
/// multi-byte GB18030 sequence, so every slice starts on a character boundary.
fn decode_gb18030(bytes: &[u8]) -> (String, bool) {
    use rayon::prelude::*;
    const SLICE: usize = 8 << 20;
    let mut cuts = vec![0];
    while let Some(&last) = cuts.last() {
        if last >= bytes.len() {
            break;
        }
        let mut end = (last + SLICE).min(bytes.len());
        while end < bytes.len() && bytes[end - 1] != b'\n' {
            end += 1;
        }
        cuts.push(end);
    }
    let parts: Vec<(std::borrow::Cow<'_, str>, bool)> = cuts
        .windows(2)
        .collect::<Vec<_>>()
        .par_iter()
        .map(|w| encoding_rs::GB18030.decode_without_bom_handling(&bytes[w[0]..w[1]]))
        .collect();
    let mut text = String::with_capacity(parts.iter().map(|(p, _)| p.len()).sum());
    let mut had_errors = false;
    for (part, errors) in parts {
        text.push_str(&part);
        had_errors |= errors;
    }
    (text, had_errors)
}

fn into_utf8(
    path: &Path,
    mut bytes: Vec<u8>,
    bom_len: usize,
    enc: Encoding,
) -> Result<(String, Encoding), IngestError> {
    bytes.drain(..bom_len);
    match String::from_utf8(bytes) {
        Ok(s) => Ok((s, enc)),
        Err(e) => {
            let bytes = e.into_bytes();
            let valid_up_to = std::str::from_utf8(&bytes)
                .err()
                .map_or(0, |e| e.valid_up_to());
            let line = 1 + bytes[..valid_up_to].iter().filter(|&&b| b == b'\n').count();
            // A UTF-8 declaration over GBK bytes is the usual mistake: say so.
            let looks_gb = encoding_rs::GB18030
                .decode_without_bom_handling_and_without_replacement(&bytes)
                .is_some();
            Err(IngestError::NotUtf8 {
                path: path.to_owned(),
                line: line as u64,
                looks_gb,
            })
        }
    }
}

/// A few undecodable lines are quarantined row by row (`undecodable`); a file that decodes
/// mostly to replacement characters is in another encoding than declared and is an error.
fn check_replacements(
    path: &Path,
    text: &str,
    had_errors: bool,
    encoding: &str,
) -> Result<(), IngestError> {
    if !had_errors {
        return Ok(());
    }
    let lines = text.lines().count().max(1);
    let bad = text.lines().filter(|l| l.contains('\u{FFFD}')).count();
    if bad * 2 > lines {
        return Err(IngestError::Undecodable {
            path: path.to_owned(),
            encoding: encoding.to_owned(),
            bad_lines: bad as u64,
            lines: lines as u64,
        });
    }
    Ok(())
}

/// Parses decoded CSV text. The first record is the header. Rows keep their starting line
/// (quoted newlines included), and rows of the wrong width are kept for the engine to
/// quarantine.
pub fn csv_records(
    text: &str,
    delimiter: u8,
) -> impl Iterator<Item = Result<CsvRow, csv::Error>> + '_ {
    csv_records_from(text, delimiter, 1)
}

/// Like [`csv_records`] for a slice of a file whose first byte is on line `first_line`.
pub fn csv_records_from(
    text: &str,
    delimiter: u8,
    first_line: u64,
) -> impl Iterator<Item = Result<CsvRow, csv::Error>> + '_ {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let bytes = text.as_bytes();
    // Lines are counted here from the record's first byte: the reader's own line count is
    // one short after a CRLF (it stops at the `\r` and has not seen the `\n` yet) and does
    // not count lone `\r` line ends.
    let (mut counted_to, mut newlines) = (0usize, 0u64);
    std::iter::from_fn(move || {
        let mut record = csv::StringRecord::new();
        match reader.read_record(&mut record) {
            Ok(true) => {
                let mut start = record.position().map_or(0, |p| p.byte() as usize);
                // A record "starting" on the `\n` of a CRLF starts after it.
                while bytes.get(start) == Some(&b'\n') || bytes.get(start) == Some(&b'\r') {
                    start += 1;
                }
                let start = start.min(bytes.len());
                if start >= counted_to {
                    newlines += count_line_breaks(&bytes[counted_to..start]);
                    counted_to = start;
                }
                let line = newlines + first_line;
                Some(Ok(CsvRow { line, record }))
            }
            Ok(false) => None,
            Err(e) => Some(Err(e)),
        }
    })
}

/// A row of a quote-free CSV slice: its cells are slices of the decoded text.
#[derive(Debug, Clone, Copy)]
pub struct SplitRow<'c, 't> {
    line: u64,
    cells: &'c [&'t str],
}

impl RawRow for SplitRow<'_, '_> {
    fn line(&self) -> u64 {
        self.line
    }
    fn width(&self) -> usize {
        self.cells.len()
    }
    fn cell(&self, i: usize) -> Cell<'_> {
        match self.cells.get(i) {
            None | Some(&"") => Cell::Empty,
            Some(s) => Cell::Text(s),
        }
    }
}

/// Splits a slice of CSV text that holds no quote character into rows of borrowed cells, the
/// way the csv crate reads such text (a line ends at `\n`, `\r\n` or a lone `\r`; blank
/// lines are skipped), and hands them to `f` `chunk` rows at a time. The slice starts on line
/// `first_line`. Nothing is allocated per row or per cell, and the text, valid UTF-8 already,
/// is not validated again.
pub fn split_rows<'t>(
    text: &'t str,
    delimiter: char,
    first_line: u64,
    chunk: usize,
    mut f: impl FnMut(&[SplitRow<'_, 't>]),
) {
    fn flush<'t>(
        cells: &mut Vec<&'t str>,
        spans: &mut Vec<(u64, usize, usize)>,
        f: &mut impl FnMut(&[SplitRow<'_, 't>]),
    ) {
        let rows: Vec<SplitRow<'_, 't>> = spans
            .iter()
            .map(|&(line, start, end)| SplitRow {
                line,
                cells: &cells[start..end],
            })
            .collect();
        f(&rows);
        cells.clear();
        spans.clear();
    }
    let bytes = text.as_bytes();
    let mut cells: Vec<&'t str> = Vec::new();
    let mut spans: Vec<(u64, usize, usize)> = Vec::with_capacity(chunk);
    let (mut pos, mut line) = (0, first_line);
    while pos < bytes.len() {
        let end = bytes[pos..]
            .iter()
            .position(|&b| b == b'\n' || b == b'\r')
            .map_or(bytes.len(), |i| pos + i);
        if end > pos {
            let first = cells.len();
            cells.extend(text[pos..end].split(delimiter));
            spans.push((line, first, cells.len()));
            if spans.len() == chunk {
                flush(&mut cells, &mut spans, &mut f);
            }
        }
        if end == bytes.len() {
            break;
        }
        pos = if bytes[end] == b'\r' && bytes.get(end + 1) == Some(&b'\n') {
            end + 2
        } else {
            end + 1
        };
        line += 1;
    }
    if !spans.is_empty() {
        flush(&mut cells, &mut spans, &mut f);
    }
}

/// Reads the chosen sheet of a workbook (XLSX, XLS, XLSB or ODS, by the file's declared
/// format): the first non-empty row is the header.
pub fn read_workbook(file: &InputFile) -> Result<(Vec<String>, Vec<OwnedRow>), IngestError> {
    read_xlsx(file)
}

/// The sheet names of a workbook, in order.
pub fn sheet_names(file: &InputFile) -> Result<Vec<String>, IngestError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(
        || -> Result<Vec<String>, IngestError> { Ok(open_book(file)?.sheet_names()) },
    ))
    .unwrap_or_else(|_| {
        Err(IngestError::Xlsx {
            path: file.path.clone(),
            message: "the workbook is malformed (the workbook reader failed on it)".into(),
        })
    })
}

/// Opens a workbook through calamine's auto opener, which goes by the file name; a file
/// whose name does not say its declared format is opened as that format.
fn open_book(
    file: &InputFile,
) -> Result<calamine::Sheets<std::io::BufReader<std::fs::File>>, IngestError> {
    use calamine::{Sheets, open_workbook};
    let err = |message: String| IngestError::Xlsx {
        path: file.path.clone(),
        message,
    };
    let meta = std::fs::metadata(&file.path).map_err(|source| IngestError::Io {
        path: file.path.clone(),
        source,
    })?;
    if meta.len() == 0 {
        return Err(IngestError::EmptyFile {
            path: file.path.clone(),
        });
    }
    // calamine's opener matches extensions case-sensitively.
    let named = file
        .path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.chars().all(|c| c.is_ascii_lowercase()));
    if named && Format::from_path(&file.path) == Some(file.format) {
        return calamine::open_workbook_auto(&file.path).map_err(|e| err(e.to_string()));
    }
    let path = &file.path;
    Ok(match file.format {
        Format::Xls => {
            Sheets::Xls(open_workbook(path).map_err(|e: calamine::XlsError| err(e.to_string()))?)
        }
        Format::Xlsb => {
            Sheets::Xlsb(open_workbook(path).map_err(|e: calamine::XlsbError| err(e.to_string()))?)
        }
        Format::Ods => {
            Sheets::Ods(open_workbook(path).map_err(|e: calamine::OdsError| err(e.to_string()))?)
        }
        _ => {
            Sheets::Xlsx(open_workbook(path).map_err(|e: calamine::XlsxError| err(e.to_string()))?)
        }
    })
}

/// Reads the chosen sheet of a workbook: the first non-empty row is the header. (Named for
/// the first format it read; it reads every workbook format.)
pub fn read_xlsx(file: &InputFile) -> Result<(Vec<String>, Vec<OwnedRow>), IngestError> {
    // calamine panics on some malformed workbooks (a cell reference whose column letters
    // overflow its arithmetic, found by fuzzing): a bad extract must stop its source with a
    // message naming the file, never crash the nightly run.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| read_xlsx_unguarded(file)))
        .unwrap_or_else(|_| {
            Err(IngestError::Xlsx {
                path: file.path.clone(),
                message: "the workbook is malformed (the XLSX reader failed on it)".into(),
            })
        })
}

fn read_xlsx_unguarded(file: &InputFile) -> Result<(Vec<String>, Vec<OwnedRow>), IngestError> {
    let xlsx_err = |message: String| IngestError::Xlsx {
        path: file.path.clone(),
        message,
    };
    let mut book = open_book(file)?;
    let names = book.sheet_names();
    let sheet = match &file.sheet {
        Some(s) if names.contains(s) => s.clone(),
        Some(s) => {
            return Err(IngestError::NoSheet {
                path: file.path.clone(),
                sheet: s.clone(),
                available: names.join("`, `"),
            });
        }
        None => names
            .first()
            .cloned()
            .ok_or_else(|| xlsx_err("no sheet".into()))?,
    };
    let range = book
        .worksheet_range(&sheet)
        .map_err(|e| xlsx_err(format!("sheet `{sheet}`: {e}")))?;
    let (row0, _) = range.start().unwrap_or((0, 0));
    let mut rows = range.rows().enumerate();
    let mut header = None;
    for (i, row) in rows.by_ref() {
        if row.iter().any(|c| !matches!(c, Data::Empty)) {
            header = Some((i, row));
            break;
        }
    }
    let Some((_, header_row)) = header else {
        return Err(IngestError::EmptyFile {
            path: file.path.clone(),
        });
    };
    let header: Vec<String> = header_row
        .iter()
        .map(|c| owned_from_xlsx(c).text())
        .collect();
    let mut out = Vec::with_capacity(range.height());
    for (i, row) in rows {
        if row.iter().all(|c| matches!(c, Data::Empty)) {
            continue;
        }
        out.push(OwnedRow {
            line: u64::from(row0) + i as u64 + 1,
            cells: row.iter().map(owned_from_xlsx).collect(),
        });
    }
    Ok((header, out))
}

impl OwnedCell {
    fn text(&self) -> String {
        match self {
            OwnedCell::Empty => String::new(),
            OwnedCell::Text(s) => s.clone(),
            OwnedCell::Int(i) => i.to_string(),
            OwnedCell::Float(f) => float_text(*f),
            OwnedCell::Date(d) => Cell::Date(*d).to_text().into_owned(),
        }
    }
}

fn owned_from_xlsx(cell: &Data) -> OwnedCell {
    match cell {
        Data::Empty => OwnedCell::Empty,
        Data::String(s) => OwnedCell::Text(s.clone()),
        Data::Int(i) => OwnedCell::Int(*i),
        Data::Float(f) => OwnedCell::Float(*f),
        Data::Bool(b) => OwnedCell::Text(if *b { "TRUE" } else { "FALSE" }.into()),
        Data::DateTime(dt) => {
            match poprecon_model::excel_serial_to_datetime(dt.as_f64()) {
                Some(t) if t.time() == chrono::NaiveTime::MIN => {
                    OwnedCell::Date(DateValue::Date(t.date()))
                }
                Some(t) => OwnedCell::Date(DateValue::DateTime(t)),
                // A date cell outside the calendar is kept as its number for the engine to flag.
                None => OwnedCell::Float(dt.as_f64()),
            }
        }
        Data::DateTimeIso(s) | Data::DurationIso(s) => OwnedCell::Text(s.clone()),
        Data::Error(e) => OwnedCell::Text(format!("#{e:?}")),
    }
}

/// Reads a Parquet extract. Typed columns keep their types (dates stay dates, integers stay
/// exact); everything else is read as text.
pub fn read_parquet(file: &InputFile) -> Result<(Vec<String>, Vec<OwnedRow>), IngestError> {
    read_parquet_typed(file).map(|(header, rows, _)| (header, rows))
}

/// The column names and types of a Parquet file, from its footer alone.
pub fn parquet_schema(file: &InputFile) -> Result<(Vec<String>, Vec<DataType>), IngestError> {
    let f = std::fs::File::open(&file.path).map_err(|source| IngestError::Io {
        path: file.path.clone(),
        source,
    })?;
    let schema = ParquetReader::new(f)
        .schema()
        .map_err(|e| IngestError::Parquet {
            path: file.path.clone(),
            message: e.to_string(),
        })?;
    Ok(schema
        .iter_values()
        .map(|field| (field.name.to_string(), DataType::from_arrow_field(field)))
        .unzip())
}

/// [`read_parquet`], with each column's type.
#[allow(clippy::type_complexity)]
pub fn read_parquet_typed(
    file: &InputFile,
) -> Result<(Vec<String>, Vec<OwnedRow>, Vec<DataType>), IngestError> {
    let table = ParquetTable::read(file)?;
    let width = table.header.len();
    let rows = (0..table.height())
        .map(|i| {
            let row = table.row(i);
            OwnedRow {
                line: row.line(),
                cells: (0..width).map(|c| table.owned_cell(i, c)).collect(),
            }
        })
        .collect();
    Ok((table.header, rows, table.types))
}

/// A Parquet extract held as the columns it was read into, each row's cells borrowed from
/// them: a registry of millions of rows is never copied into a value per cell.
#[derive(Debug)]
pub struct ParquetTable {
    pub header: Vec<String>,
    /// Each column's type as stored in the file.
    pub types: Vec<DataType>,
    columns: Vec<ParquetColumn>,
    height: usize,
    /// The file's row index of this table's first row (a part of a file starts further in).
    first_row: usize,
    /// Each row's line, where the table holds some rows of the file only
    /// ([`ParquetTable::read_span`] with `keep`).
    lines: Option<Vec<u64>>,
}

/// A column of a [`ParquetTable`] as the engine's column-wise path sees it: text, dates (days
/// since 1970), whole numbers, or another type it leaves to the row loop.
#[derive(Debug, Clone, Copy)]
pub(crate) enum PartColumn<'a> {
    Text(&'a StringChunked),
    Date(&'a Int32Chunked),
    Int(&'a Int64Chunked),
    Other,
}

/// One column as the engine reads it: dates stay dates, integers stay exact, numbers stay
/// numbers, and everything else is text.
#[derive(Debug)]
enum ParquetColumn {
    Date(Int32Chunked),
    Datetime(Int64Chunked, TimeUnit),
    Int(Int64Chunked),
    Float(Float64Chunked),
    Text(StringChunked),
}

impl ParquetTable {
    /// Reads the whole file (every column: a quarantined row keeps all its cells).
    pub fn read(file: &InputFile) -> Result<ParquetTable, IngestError> {
        let mut df = read_parquet_frame(file, None)?;
        df.rechunk_mut_par();
        ParquetTable::from_frame(file, &df, 0)
    }

    /// Reads the whole file as parts of at most `max_rows` rows, cut where the file's row
    /// groups end (and within a longer row group): each part borrows the columns as they
    /// were decoded, so nothing is copied to make one piece of them, and the parts can be
    /// processed in parallel. A file of no rows gives one empty part.
    pub fn read_parts(file: &InputFile, max_rows: usize) -> Result<Vec<ParquetTable>, IngestError> {
        ParquetTable::parts_of(file, read_parquet_frame(file, None)?, 0, max_rows)
    }

    /// The file's rows as spans `(first row, rows)` of whole row groups, each of at least
    /// `rows` rows where the file has them (a longer row group is a span of its own): the
    /// pieces [`ParquetTable::read_span`] reads one after another, so that a registry is
    /// never decoded whole. A file of no rows is one empty span.
    pub fn spans(file: &InputFile, rows: usize) -> Result<Vec<(usize, usize)>, IngestError> {
        let f = open(file)?;
        let groups: Vec<usize> = ParquetReader::new(f)
            .get_metadata()
            .map_err(|e| parquet_error(file, &e))?
            .row_groups
            .iter()
            .map(|rg| rg.num_rows())
            .collect();
        let mut spans = Vec::new();
        let (mut start, mut len) = (0, 0);
        for n in groups {
            len += n;
            if len >= rows {
                spans.push((start, len));
                start += len;
                len = 0;
            }
        }
        if len > 0 || spans.is_empty() {
            spans.push((start, len));
        }
        Ok(spans)
    }

    /// The rows of one span of [`ParquetTable::spans`], as [`ParquetTable::read_parts`] gives
    /// a whole file's; with `keep`, only the rows at the lines it keeps (the others are
    /// dropped as decoded, before any part is made of them).
    pub fn read_span(
        file: &InputFile,
        (start, len): (usize, usize),
        max_rows: usize,
        keep: Option<&(dyn Fn(u64) -> bool + Sync)>,
    ) -> Result<Vec<ParquetTable>, IngestError> {
        let df = read_parquet_frame(file, Some((start, len)))?;
        let Some(keep) = keep else {
            return ParquetTable::parts_of(file, df, start, max_rows);
        };
        let line_of = |row: usize| (start + row) as u64 + 2;
        let wanted: Vec<bool> = (0..df.height()).map(|row| keep(line_of(row))).collect();
        let lines: Vec<u64> = (0..df.height())
            .filter(|&row| wanted[row])
            .map(line_of)
            .collect();
        let mask = BooleanChunked::from_slice("keep".into(), &wanted);
        let kept = df.filter(&mask).map_err(|e| parquet_error(file, &e))?;
        let mut parts = Vec::new();
        let mut offset = 0;
        while offset < kept.height() || parts.is_empty() {
            let len = max_rows.min(kept.height() - offset);
            let mut part = ParquetTable::from_frame(file, &kept.slice(offset as i64, len), start)?;
            part.lines = Some(lines[offset..offset + len].to_vec());
            parts.push(part);
            offset += len;
        }
        Ok(parts)
    }

    /// `df` (rows of the file from row `first_row`) as parts of at most `max_rows` rows.
    fn parts_of(
        file: &InputFile,
        mut df: DataFrame,
        first_row: usize,
        max_rows: usize,
    ) -> Result<Vec<ParquetTable>, IngestError> {
        if df.height() == 0 {
            return Ok(vec![ParquetTable::from_frame(file, &df, first_row)?]);
        }
        let mut parts = Vec::new();
        let mut first_row = first_row;
        for chunk in df.split_chunks() {
            let mut offset = 0;
            while offset < chunk.height() {
                let len = max_rows.min(chunk.height() - offset);
                let part = chunk.slice(offset as i64, len);
                parts.push(ParquetTable::from_frame(file, &part, first_row + offset)?);
                offset += len;
            }
            first_row += chunk.height();
        }
        Ok(parts)
    }

    /// A table over the columns of `df`, whose first row is row `first_row` of the file.
    fn from_frame(
        file: &InputFile,
        df: &DataFrame,
        first_row: usize,
    ) -> Result<ParquetTable, IngestError> {
        let header: Vec<String> = df
            .get_column_names()
            .iter()
            .map(|s| s.to_string())
            .collect();
        let types: Vec<DataType> = df.columns().iter().map(|c| c.dtype().clone()).collect();
        let columns = df
            .columns()
            .iter()
            .map(|c| {
                let s = c.as_materialized_series();
                ParquetColumn::new(s).map_err(|e| IngestError::Parquet {
                    path: file.path.clone(),
                    message: format!("column `{}`: {e}", s.name()),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ParquetTable {
            header,
            types,
            columns,
            height: df.height(),
            first_row,
            lines: None,
        })
    }

    pub fn height(&self) -> usize {
        self.height
    }

    /// Number of columns.
    pub fn width(&self) -> usize {
        self.columns.len()
    }

    /// Column `index` as it was read, for the engine's column-wise canonicalisation.
    pub(crate) fn column(&self, index: usize) -> PartColumn<'_> {
        match &self.columns[index] {
            ParquetColumn::Text(ca) => PartColumn::Text(ca),
            ParquetColumn::Date(ca) => PartColumn::Date(ca),
            ParquetColumn::Int(ca) => PartColumn::Int(ca),
            ParquetColumn::Float(_) | ParquetColumn::Datetime(..) => PartColumn::Other,
        }
    }

    /// Row `index` (0-based, the header not counted).
    pub fn row(&self, index: usize) -> ParquetRow<'_> {
        ParquetRow { table: self, index }
    }

    fn cell(&self, row: usize, column: usize) -> Cell<'_> {
        let Some(col) = self.columns.get(column) else {
            return Cell::Empty;
        };
        match col {
            ParquetColumn::Text(ca) => match ca.get(row) {
                None | Some("") => Cell::Empty,
                Some(s) => Cell::Text(s),
            },
            ParquetColumn::Int(ca) => ca.get(row).map_or(Cell::Empty, Cell::Int),
            ParquetColumn::Float(ca) => ca.get(row).map_or(Cell::Empty, Cell::Float),
            ParquetColumn::Date(ca) => ca
                .get(row)
                .and_then(chrono::NaiveDate::from_epoch_days)
                .map_or(Cell::Empty, |d| Cell::Date(DateValue::Date(d))),
            ParquetColumn::Datetime(ca, unit) => ca
                .get(row)
                .and_then(|v| datetime_from(v, *unit))
                .map_or(Cell::Empty, |dt| Cell::Date(DateValue::DateTime(dt))),
        }
    }

    fn owned_cell(&self, row: usize, column: usize) -> OwnedCell {
        match (&self.columns[column], self.cell(row, column)) {
            // An empty text cell stays text, as the table holds it.
            (ParquetColumn::Text(ca), Cell::Empty) => ca
                .get(row)
                .map_or(OwnedCell::Empty, |t| OwnedCell::Text(t.to_owned())),
            (_, Cell::Empty) => OwnedCell::Empty,
            (_, Cell::Text(s)) => OwnedCell::Text(s.to_owned()),
            (_, Cell::Int(i)) => OwnedCell::Int(i),
            (_, Cell::Float(f)) => OwnedCell::Float(f),
            (_, Cell::Date(d)) => OwnedCell::Date(d),
        }
    }
}

impl ParquetColumn {
    fn new(s: &Series) -> PolarsResult<ParquetColumn> {
        Ok(match s.dtype() {
            DataType::Date => ParquetColumn::Date(s.date()?.physical().clone()),
            DataType::Datetime(unit, _) => {
                ParquetColumn::Datetime(s.datetime()?.physical().clone(), *unit)
            }
            dt if dt.is_integer() => ParquetColumn::Int(s.cast(&DataType::Int64)?.i64()?.clone()),
            dt if dt.is_float() => ParquetColumn::Float(s.cast(&DataType::Float64)?.f64()?.clone()),
            _ => ParquetColumn::Text(s.cast(&DataType::String)?.str()?.clone()),
        })
    }
}

/// Every column of a Parquet file (or of the rows of `slice`: first row, rows), as decoded
/// (one chunk per row group).
fn read_parquet_frame(
    file: &InputFile,
    slice: Option<(usize, usize)>,
) -> Result<DataFrame, IngestError> {
    ParquetReader::new(open(file)?)
        .with_slice(slice)
        .finish()
        .map_err(|e| parquet_error(file, &e))
}

fn open(file: &InputFile) -> Result<std::fs::File, IngestError> {
    std::fs::File::open(&file.path).map_err(|source| IngestError::Io {
        path: file.path.clone(),
        source,
    })
}

fn parquet_error(file: &InputFile, e: &PolarsError) -> IngestError {
    IngestError::Parquet {
        path: file.path.clone(),
        message: e.to_string(),
    }
}

fn datetime_from(v: i64, unit: TimeUnit) -> Option<chrono::NaiveDateTime> {
    use chrono::DateTime;
    let dt = match unit {
        TimeUnit::Milliseconds => DateTime::from_timestamp_millis(v),
        TimeUnit::Microseconds => DateTime::from_timestamp_micros(v),
        TimeUnit::Nanoseconds => Some(DateTime::from_timestamp_nanos(v)),
    };
    dt.map(|dt| dt.naive_utc())
}

/// One row of a [`ParquetTable`].
#[derive(Debug, Clone, Copy)]
pub struct ParquetRow<'a> {
    table: &'a ParquetTable,
    index: usize,
}

impl RawRow for ParquetRow<'_> {
    fn line(&self) -> u64 {
        match &self.table.lines {
            Some(lines) => lines[self.index],
            None => (self.table.first_row + self.index) as u64 + 2,
        }
    }
    fn width(&self) -> usize {
        self.table.columns.len()
    }
    fn cell(&self, i: usize) -> Cell<'_> {
        self.table.cell(self.index, i)
    }
}

/// Line breaks in `bytes`: `\n`, or a `\r` not followed by `\n` (old Mac files). A slice
/// always ends on a record's first byte, so a `\r\n` is never split across two calls.
pub(crate) fn count_line_breaks(bytes: &[u8]) -> u64 {
    (0..bytes.len())
        .filter(|&i| bytes[i] == b'\n' || (bytes[i] == b'\r' && bytes.get(i + 1) != Some(&b'\n')))
        .count() as u64
}

/// Splits the body of a CSV text (after its header) into slices that end at line ends, of
/// about `target` bytes each, for parsing in parallel. Only sound when the text holds no
/// quote character (a quoted cell may hold a line end). Each slice comes with its first
/// line number.
pub(crate) fn split_body(
    text: &str,
    body_start: usize,
    first_line: u64,
    target: usize,
) -> Vec<(usize, usize, u64)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let (mut start, mut line) = (body_start, first_line);
    while start < bytes.len() {
        let mut end = (start + target).min(bytes.len());
        while end < bytes.len() && bytes[end - 1] != b'\n' {
            end += 1;
        }
        out.push((start, end, line));
        line += count_line_breaks(&bytes[start..end]);
        start = end;
    }
    out
}

/// A whole table as text, for small reference tables (the division table): the header and
/// each non-empty row with its line (CSV), sheet row (workbooks) or row number (Parquet).
/// Cells read as a person sees them in the source (numbers without `.0`).
pub fn read_table(file: &InputFile) -> Result<TextTable, IngestError> {
    match file.format {
        Format::Csv => {
            let (text, encoding) = read_text(file)?;
            let mut records = csv_records(&text, file.delimiter);
            let header = match records.next() {
                Some(Ok(row)) => row.record.iter().map(str::to_owned).collect(),
                Some(Err(e)) => return Err(csv_table_error(&file.path, &e)),
                None => {
                    return Err(IngestError::EmptyFile {
                        path: file.path.clone(),
                    });
                }
            };
            let mut rows = Vec::new();
            for r in records {
                let r = r.map_err(|e| csv_table_error(&file.path, &e))?;
                if r.record.iter().all(|c| c.trim().is_empty()) {
                    continue;
                }
                rows.push((r.line, r.record.iter().map(str::to_owned).collect()));
            }
            Ok(TextTable {
                header,
                rows,
                encoding: Some(encoding),
            })
        }
        _ => {
            let (header, owned) = if file.format == Format::Parquet {
                read_parquet(file)?
            } else {
                read_workbook(file)?
            };
            let rows = owned
                .into_iter()
                .map(|r| (r.line, r.cells.iter().map(OwnedCell::text).collect()))
                .collect();
            Ok(TextTable {
                header,
                rows,
                encoding: None,
            })
        }
    }
}

/// A table read as text by [`read_table`].
#[derive(Debug, Clone, PartialEq)]
pub struct TextTable {
    pub header: Vec<String>,
    /// `(line, cells)` of each non-empty row.
    pub rows: Vec<(u64, Vec<String>)>,
    /// The encoding used for a CSV file (the detected one for `auto`).
    pub encoding: Option<Encoding>,
}

/// The header of a file, and the encoding a CSV file was read in, without reading its rows
/// beyond what the format requires.
pub fn read_header(file: &InputFile) -> Result<(Vec<String>, Option<Encoding>), IngestError> {
    match file.format {
        Format::Csv => {
            let (text, encoding) = read_text(file)?;
            match csv_records(&text, file.delimiter).next() {
                Some(Ok(row)) => Ok((
                    row.record.iter().map(str::to_owned).collect(),
                    Some(encoding),
                )),
                Some(Err(e)) => Err(csv_table_error(&file.path, &e)),
                None => Err(IngestError::EmptyFile {
                    path: file.path.clone(),
                }),
            }
        }
        Format::Parquet => Ok((parquet_schema(file)?.0, None)),
        _ => Ok((read_workbook(file)?.0, None)),
    }
}

fn csv_table_error(path: &Path, e: &csv::Error) -> IngestError {
    IngestError::Csv {
        path: path.to_owned(),
        line: e.position().map_or(0, |p| p.line()),
        message: e.to_string(),
    }
}
