//! Writers: CSV (GB18030, UTF-8 with BOM, UTF-8), XLSX with typed date cells, and Parquet
//! (zstd) written in row groups so that no table is held whole in memory.
//!
//! A village's rows are encoded by [`encode`] on the generating threads (CSV text in its
//! encoding, Parquet column buffers), so that the one writing thread mostly appends.
//!
//! Every writer reports the line a reader will give each row: the header is line 1, and the
//! extracts never hold a line break inside a cell, so data row `i` (from 0) is line `i + 2`
//! in CSV, XLSX (sheet row) and Parquet (row index + 2) alike.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use polars::prelude::*;
use rust_xlsxwriter::{ExcelDateTime, Format as XlsxFormat, Workbook, Worksheet};

use crate::SynthError;
use crate::render::{Cell, Meta, Row};
use crate::schema::{ColKind, Dialect, FileFormat, Src};

/// Rows per Parquet row group.
const ROW_GROUP: usize = 250_000;
/// Line end of the CSV extracts: CRLF, as the Windows systems that export them write it.
const CSV_LINE_END: &str = "\r\n";

/// A column type of a Parquet table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PqType {
    Str,
    Date,
    Datetime,
    I32,
    I64,
    Bool,
}

/// A value for [`ParquetSink::push`].
#[derive(Debug, Clone)]
pub(crate) enum Val<'a> {
    Null,
    Str(&'a str),
    /// A string handed over, not copied.
    Owned(String),
    Date(NaiveDate),
    Datetime(NaiveDateTime),
    I32(i32),
    I64(i64),
    Bool(bool),
}

/// One column's values, for a row group in the making.
#[derive(Debug)]
pub(crate) enum Buf {
    Str(Vec<Option<String>>),
    I32(Vec<Option<i32>>),
    I64(Vec<Option<i64>>),
    Bool(Vec<Option<bool>>),
}

/// A Parquet file written row group by row group.
pub(crate) struct ParquetSink {
    path: PathBuf,
    names: Vec<&'static str>,
    types: Vec<PqType>,
    bufs: Vec<Buf>,
    len: usize,
    /// Rows reserved per buffer: grows to a row group as the table does.
    capacity: usize,
    writer: polars::io::parquet::write::BatchedWriter<BufWriter<File>>,
}

impl std::fmt::Debug for ParquetSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParquetSink")
            .field("path", &self.path)
            .field("names", &self.names)
            .finish_non_exhaustive()
    }
}

fn new_bufs(types: &[PqType], capacity: usize) -> Vec<Buf> {
    types
        .iter()
        .map(|t| match t {
            PqType::Str => Buf::Str(Vec::with_capacity(capacity)),
            PqType::Date | PqType::I32 => Buf::I32(Vec::with_capacity(capacity)),
            PqType::Datetime | PqType::I64 => Buf::I64(Vec::with_capacity(capacity)),
            PqType::Bool => Buf::Bool(Vec::with_capacity(capacity)),
        })
        .collect()
}

fn push_val(buf: &mut Buf, v: Val<'_>) {
    match (buf, v) {
        (Buf::Str(b), Val::Str(s)) => b.push(Some(s.to_owned())),
        (Buf::Str(b), Val::Owned(s)) => b.push(Some(s)),
        (Buf::Str(b), _) => b.push(None),
        (Buf::I32(b), Val::Date(d)) => b.push(Some(epoch_days(d))),
        (Buf::I32(b), Val::I32(i)) => b.push(Some(i)),
        (Buf::I32(b), _) => b.push(None),
        (Buf::I64(b), Val::Datetime(t)) => b.push(Some(t.and_utc().timestamp_millis())),
        (Buf::I64(b), Val::I64(i)) => b.push(Some(i)),
        (Buf::I64(b), _) => b.push(None),
        (Buf::Bool(b), Val::Bool(x)) => b.push(Some(x)),
        (Buf::Bool(b), _) => b.push(None),
    }
}

fn epoch_days(d: NaiveDate) -> i32 {
    d.num_days_from_ce() - 719_163
}

fn pq_error(path: &Path, e: PolarsError) -> SynthError {
    SynthError::Parquet {
        path: path.to_owned(),
        message: e.to_string(),
    }
}

impl ParquetSink {
    pub(crate) fn create(
        path: &Path,
        columns: &[(&'static str, PqType)],
    ) -> Result<Self, SynthError> {
        let file = File::create(path).map_err(|e| SynthError::io(path, e))?;
        let schema = Schema::from_iter(columns.iter().map(|(name, t)| {
            Field::new(
                (*name).into(),
                match t {
                    PqType::Str => DataType::String,
                    PqType::Date => DataType::Date,
                    PqType::Datetime => DataType::Datetime(TimeUnit::Milliseconds, None),
                    PqType::I32 => DataType::Int32,
                    PqType::I64 => DataType::Int64,
                    PqType::Bool => DataType::Boolean,
                },
            )
        }));
        let writer = ParquetWriter::new(BufWriter::new(file))
            .with_compression(ParquetCompression::Zstd(None))
            .batched(&schema)
            .map_err(|e| pq_error(path, e))?;
        let mut sink = ParquetSink {
            path: path.to_owned(),
            names: columns.iter().map(|(n, _)| *n).collect(),
            types: columns.iter().map(|(_, t)| *t).collect(),
            bufs: Vec::new(),
            len: 0,
            capacity: 1024,
            writer,
        };
        sink.bufs = sink.new_bufs();
        Ok(sink)
    }

    fn new_bufs(&self) -> Vec<Buf> {
        new_bufs(&self.types, self.capacity)
    }

    /// Appends one row; values must match the column types (a mismatch is written as null).
    pub(crate) fn push<'v>(
        &mut self,
        row: impl IntoIterator<Item = Val<'v>>,
    ) -> Result<(), SynthError> {
        for (buf, v) in self.bufs.iter_mut().zip(row) {
            push_val(buf, v);
        }
        self.len += 1;
        if self.len >= ROW_GROUP {
            self.flush()?;
        }
        Ok(())
    }

    /// Appends columns of `rows` rows made by [`encode`] (strings are moved, not copied).
    fn extend(&mut self, columns: Vec<Buf>, rows: usize) -> Result<(), SynthError> {
        for (buf, col) in self.bufs.iter_mut().zip(columns) {
            match (buf, col) {
                (Buf::Str(a), Buf::Str(b)) => a.extend(b),
                (Buf::I32(a), Buf::I32(b)) => a.extend(b),
                (Buf::I64(a), Buf::I64(b)) => a.extend(b),
                (Buf::Bool(a), Buf::Bool(b)) => a.extend(b),
                _ => {
                    return Err(SynthError::Parquet {
                        path: self.path.clone(),
                        message: "internal error: column types differ".into(),
                    });
                }
            }
        }
        self.len += rows;
        if self.len >= ROW_GROUP {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SynthError> {
        if self.len == 0 {
            return Ok(());
        }
        self.capacity = self.len.next_power_of_two().min(ROW_GROUP);
        let fresh = self.new_bufs();
        let bufs = std::mem::replace(&mut self.bufs, fresh);
        let mut cols = Vec::with_capacity(bufs.len());
        for ((buf, name), t) in bufs.into_iter().zip(&self.names).zip(&self.types) {
            let name: PlSmallStr = (*name).into();
            let col = match buf {
                Buf::Str(v) => {
                    let refs: Vec<Option<&str>> = v.iter().map(|s| s.as_deref()).collect();
                    Column::new(name, refs)
                }
                Buf::I32(v) => {
                    let c = Column::new(name, v);
                    if *t == PqType::Date {
                        c.cast(&DataType::Date)
                            .map_err(|e| pq_error(&self.path, e))?
                    } else {
                        c
                    }
                }
                Buf::I64(v) => {
                    let c = Column::new(name, v);
                    if *t == PqType::Datetime {
                        c.cast(&DataType::Datetime(TimeUnit::Milliseconds, None))
                            .map_err(|e| pq_error(&self.path, e))?
                    } else {
                        c
                    }
                }
                Buf::Bool(v) => Column::new(name, v),
            };
            cols.push(col);
        }
        let df = DataFrame::new(self.len, cols).map_err(|e| pq_error(&self.path, e))?;
        self.writer
            .write_batch(&df)
            .map_err(|e| pq_error(&self.path, e))?;
        self.len = 0;
        Ok(())
    }

    pub(crate) fn finish(mut self) -> Result<(), SynthError> {
        self.flush()?;
        self.writer.finish().map_err(|e| pq_error(&self.path, e))?;
        Ok(())
    }
}

/// One village's rows of one source, encoded for its file.
#[derive(Debug)]
pub(crate) struct Part {
    pub metas: Vec<Meta>,
    data: Data,
}

#[derive(Debug)]
enum Data {
    /// CSV lines in the file's encoding.
    Csv(Vec<u8>),
    /// XLSX cells: only the writer holds the worksheet.
    Cells(Vec<Vec<Cell>>),
    /// Parquet column buffers.
    Columns(Vec<Buf>),
}

/// Encodes a village's rows of `src` for its writer.
pub(crate) fn encode(src: Src, dialect: Dialect, rows: Vec<Row>) -> Part {
    let mut metas = Vec::with_capacity(rows.len());
    let format = src.format_in(dialect);
    let data = match format {
        FileFormat::CsvGb18030
        | FileFormat::CsvUtf8Bom
        | FileFormat::CsvUtf8
        | FileFormat::TsvUtf8 => {
            let mut text = String::with_capacity(rows.len() * 96);
            for row in rows {
                csv_line(
                    &mut text,
                    separator(format),
                    row.cells.iter().map(|c| c.text()),
                );
                metas.push(row.meta);
            }
            Data::Csv(encode_text(format, text))
        }
        FileFormat::Xlsx => Data::Cells(
            rows.into_iter()
                .map(|row| {
                    metas.push(row.meta);
                    row.cells
                })
                .collect(),
        ),
        FileFormat::Parquet => {
            let mut bufs = new_bufs(&parquet_types(src), rows.len());
            for row in rows {
                for (buf, cell) in bufs.iter_mut().zip(row.cells) {
                    push_val(
                        buf,
                        match cell {
                            Cell::Empty | Cell::Number(_) => Val::Null,
                            Cell::Text(s) => Val::Owned(s),
                            Cell::Static(s) => Val::Str(s),
                            Cell::Date(d) => Val::Date(d),
                            Cell::DateTime(t) => Val::Date(t.date()),
                        },
                    );
                }
                metas.push(row.meta);
            }
            Data::Columns(bufs)
        }
    };
    Part { metas, data }
}

fn parquet_types(src: Src) -> Vec<PqType> {
    src.columns()
        .iter()
        .map(|c| match c.kind {
            ColKind::Text => PqType::Str,
            ColKind::Date => PqType::Date,
        })
        .collect()
}

/// The field separator of a delimited format.
fn separator(format: FileFormat) -> u8 {
    if format == FileFormat::TsvUtf8 {
        b'\t'
    } else {
        b','
    }
}

/// Appends one CSV (or TSV) line; a cell holding a separator, quote or line break is quoted.
fn csv_line<'a>(out: &mut String, sep: u8, cells: impl Iterator<Item = std::borrow::Cow<'a, str>>) {
    for (i, text) in cells.enumerate() {
        if i > 0 {
            out.push(char::from(sep));
        }
        // Byte searches: `[u8]::contains` is memchr, fast even in debug builds.
        let bytes = text.as_bytes();
        if bytes.contains(&sep)
            || bytes.contains(&b'"')
            || bytes.contains(&b'\n')
            || bytes.contains(&b'\r')
        {
            out.push('"');
            out.push_str(&text.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(&text);
        }
    }
    out.push_str(CSV_LINE_END);
}

fn encode_text(format: FileFormat, text: String) -> Vec<u8> {
    if format == FileFormat::CsvGb18030 {
        encoding_rs::GB18030.encode(&text).0.into_owned()
    } else {
        text.into_bytes()
    }
}

/// The writer of one extract file.
pub(crate) struct ExtractWriter {
    pub src: Src,
    /// The path relative to the output folder, with `/` separators.
    pub rel: String,
    pub rows: u64,
    kind: Kind,
}

impl std::fmt::Debug for ExtractWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExtractWriter")
            .field("src", &self.src)
            .field("rel", &self.rel)
            .field("rows", &self.rows)
            .finish_non_exhaustive()
    }
}

enum Kind {
    Csv {
        path: PathBuf,
        file: BufWriter<File>,
    },
    Xlsx(Box<XlsxState>),
    Parquet(Box<ParquetSink>),
}

struct XlsxState {
    path: PathBuf,
    sheet: Worksheet,
    date: XlsxFormat,
    datetime: XlsxFormat,
    created: NaiveDate,
}

impl ExtractWriter {
    /// Opens `root/rel` for `src` and writes its header.
    pub(crate) fn create(
        src: Src,
        dialect: Dialect,
        root: &Path,
        rel: String,
        created: NaiveDate,
    ) -> Result<Self, SynthError> {
        let path = root.join(&rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| SynthError::io(dir, e))?;
        }
        let cols = src.columns();
        let format = src.format_in(dialect);
        let headers: Vec<&'static str> = cols.iter().map(|c| src.header_in(c, dialect)).collect();
        let kind = match format {
            FileFormat::CsvGb18030
            | FileFormat::CsvUtf8Bom
            | FileFormat::CsvUtf8
            | FileFormat::TsvUtf8 => {
                let mut file = BufWriter::with_capacity(
                    1 << 20,
                    File::create(&path).map_err(|e| SynthError::io(&path, e))?,
                );
                let mut header = String::new();
                if format == FileFormat::CsvUtf8Bom {
                    header.push('\u{FEFF}');
                }
                csv_line(
                    &mut header,
                    separator(format),
                    headers.iter().map(|h| (*h).into()),
                );
                file.write_all(&encode_text(format, header))
                    .map_err(|e| SynthError::io(&path, e))?;
                Kind::Csv { path, file }
            }
            FileFormat::Xlsx => {
                let mut sheet = Worksheet::new();
                let xerr = |e: rust_xlsxwriter::XlsxError| SynthError::Xlsx {
                    path: path.clone(),
                    message: e.to_string(),
                };
                sheet.set_name("Sheet1").map_err(xerr)?;
                for (i, h) in headers.iter().enumerate() {
                    sheet.write_string(0, i as u16, *h).map_err(xerr)?;
                }
                Kind::Xlsx(Box::new(XlsxState {
                    path,
                    sheet,
                    date: XlsxFormat::new().set_num_format("yyyy-mm-dd"),
                    datetime: XlsxFormat::new().set_num_format("yyyy-mm-dd hh:mm"),
                    created,
                }))
            }
            FileFormat::Parquet => {
                let columns: Vec<(&'static str, PqType)> =
                    headers.iter().copied().zip(parquet_types(src)).collect();
                Kind::Parquet(Box::new(ParquetSink::create(&path, &columns)?))
            }
        };
        Ok(ExtractWriter {
            src,
            rel,
            rows: 0,
            kind,
        })
    }

    /// Writes a village's part; returns the line of its first row (header = 1).
    pub(crate) fn write(&mut self, part: Part) -> Result<(Vec<Meta>, u64), SynthError> {
        let first = self.rows + 2;
        let n = part.metas.len();
        match (&mut self.kind, part.data) {
            (Kind::Csv { path, file }, Data::Csv(bytes)) => {
                file.write_all(&bytes)
                    .map_err(|e| SynthError::io(path, e))?;
            }
            (Kind::Xlsx(x), Data::Cells(rows)) => {
                for (i, cells) in rows.iter().enumerate() {
                    let row = u32::try_from(first - 1 + i as u64).unwrap_or(u32::MAX);
                    x.write_row(row, cells)?;
                }
            }
            (Kind::Parquet(sink), Data::Columns(columns)) => sink.extend(columns, n)?,
            _ => {
                return Err(SynthError::Config(format!(
                    "internal error: rows encoded for another format than `{}`",
                    self.rel
                )));
            }
        }
        self.rows += n as u64;
        Ok((part.metas, first))
    }

    /// Flushes and closes the file.
    pub(crate) fn finish(self) -> Result<(), SynthError> {
        match self.kind {
            Kind::Csv { path, mut file } => file.flush().map_err(|e| SynthError::io(&path, e)),
            Kind::Xlsx(x) => {
                let XlsxState {
                    path,
                    sheet,
                    created,
                    ..
                } = *x;
                let xerr = |e: rust_xlsxwriter::XlsxError| SynthError::Xlsx {
                    path: path.clone(),
                    message: e.to_string(),
                };
                let mut book = Workbook::new();
                // A fixed creation time keeps the file byte-identical from run to run.
                let created = excel_date(created).map_err(xerr)?;
                book.set_properties(
                    &rust_xlsxwriter::DocProperties::new().set_creation_datetime(&created),
                );
                book.push_worksheet(sheet);
                book.save(&path).map_err(xerr)
            }
            Kind::Parquet(sink) => sink.finish(),
        }
    }
}

impl XlsxState {
    fn write_row(&mut self, row: u32, cells: &[Cell]) -> Result<(), SynthError> {
        let xerr = |e: rust_xlsxwriter::XlsxError| SynthError::Xlsx {
            path: self.path.clone(),
            message: e.to_string(),
        };
        let sheet = &mut self.sheet;
        for (i, c) in cells.iter().enumerate() {
            let col = i as u16;
            match c {
                Cell::Empty => {}
                Cell::Text(s) => {
                    sheet.write_string(row, col, s.as_str()).map_err(xerr)?;
                }
                Cell::Static(s) => {
                    sheet.write_string(row, col, *s).map_err(xerr)?;
                }
                Cell::Number(x) => {
                    sheet.write_number(row, col, *x).map_err(xerr)?;
                }
                Cell::Date(d) => {
                    let value = excel_date(*d).map_err(xerr)?;
                    sheet
                        .write_datetime_with_format(row, col, &value, &self.date)
                        .map_err(xerr)?;
                }
                Cell::DateTime(t) => {
                    let value = excel_date(t.date())
                        .and_then(|v| v.and_hms(t.hour() as u16, t.minute() as u8, t.second()))
                        .map_err(xerr)?;
                    sheet
                        .write_datetime_with_format(row, col, &value, &self.datetime)
                        .map_err(xerr)?;
                }
            }
        }
        Ok(())
    }
}

fn excel_date(d: NaiveDate) -> Result<ExcelDateTime, rust_xlsxwriter::XlsxError> {
    ExcelDateTime::from_ymd(d.year() as u16, d.month() as u8, d.day() as u8)
}
