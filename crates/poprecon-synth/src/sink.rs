//! Writers: CSV (GB18030, UTF-8 with BOM, UTF-8), XLSX with typed date cells, and Parquet
//! (zstd) written in row groups so that no table is held whole in memory.
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
use crate::render::Cell;
use crate::schema::{ColKind, FileFormat, Src};

/// Rows per Parquet row group.
const ROW_GROUP: usize = 250_000;
/// The end of a CSV line. Windows exports end lines in CRLF, but the ingest engine's CSV
/// line numbers are one short on CRLF files (the `csv` crate positions a record before the
/// `\n` of the previous line's CRLF), so the extracts use LF until that is fixed; the truth
/// counts physical lines either way.
const CSV_LINE_END: &str = "\n";
/// Bytes of CSV text buffered before encoding and writing.
const CSV_BUFFER: usize = 1 << 20;

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

#[derive(Debug)]
enum Buf {
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
        self.types
            .iter()
            .map(|t| match t {
                PqType::Str => Buf::Str(Vec::with_capacity(self.capacity)),
                PqType::Date | PqType::I32 => Buf::I32(Vec::with_capacity(self.capacity)),
                PqType::Datetime | PqType::I64 => Buf::I64(Vec::with_capacity(self.capacity)),
                PqType::Bool => Buf::Bool(Vec::with_capacity(self.capacity)),
            })
            .collect()
    }

    /// Appends one row; values must match the column types (a mismatch is written as null).
    pub(crate) fn push<'v>(
        &mut self,
        row: impl IntoIterator<Item = Val<'v>>,
    ) -> Result<(), SynthError> {
        for (buf, v) in self.bufs.iter_mut().zip(row) {
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
        self.len += 1;
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
        gb18030: bool,
        buf: String,
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
        root: &Path,
        rel: String,
        created: NaiveDate,
    ) -> Result<Self, SynthError> {
        let path = root.join(&rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| SynthError::io(dir, e))?;
        }
        let cols = src.columns();
        let kind = match src.format() {
            FileFormat::CsvGb18030 | FileFormat::CsvUtf8Bom | FileFormat::CsvUtf8 => {
                let mut file =
                    BufWriter::new(File::create(&path).map_err(|e| SynthError::io(&path, e))?);
                if src.format() == FileFormat::CsvUtf8Bom {
                    file.write_all(b"\xEF\xBB\xBF")
                        .map_err(|e| SynthError::io(&path, e))?;
                }
                let mut buf = String::with_capacity(CSV_BUFFER + 4096);
                for (i, c) in cols.iter().enumerate() {
                    if i > 0 {
                        buf.push(',');
                    }
                    buf.push_str(c.header);
                }
                buf.push_str(CSV_LINE_END);
                Kind::Csv {
                    path,
                    file,
                    gb18030: src.format() == FileFormat::CsvGb18030,
                    buf,
                }
            }
            FileFormat::Xlsx => {
                let mut sheet = Worksheet::new();
                let xerr = |e: rust_xlsxwriter::XlsxError| SynthError::Xlsx {
                    path: path.clone(),
                    message: e.to_string(),
                };
                sheet.set_name("Sheet1").map_err(xerr)?;
                for (i, c) in cols.iter().enumerate() {
                    sheet.write_string(0, i as u16, c.header).map_err(xerr)?;
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
                let columns: Vec<(&'static str, PqType)> = cols
                    .iter()
                    .map(|c| {
                        (
                            c.header,
                            match c.kind {
                                ColKind::Text => PqType::Str,
                                ColKind::Date => PqType::Date,
                            },
                        )
                    })
                    .collect();
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

    /// Writes one row; returns its line (header = 1).
    pub(crate) fn write(&mut self, cells: Vec<Cell>) -> Result<u64, SynthError> {
        let line = self.rows + 2;
        match &mut self.kind {
            Kind::Csv {
                path,
                file,
                gb18030,
                buf,
            } => {
                for (i, c) in cells.iter().enumerate() {
                    if i > 0 {
                        buf.push(',');
                    }
                    let text = c.text();
                    // Byte searches: `[u8]::contains` is memchr, fast even in debug builds.
                    let bytes = text.as_bytes();
                    if bytes.contains(&b',')
                        || bytes.contains(&b'"')
                        || bytes.contains(&b'\n')
                        || bytes.contains(&b'\r')
                    {
                        buf.push('"');
                        buf.push_str(&text.replace('"', "\"\""));
                        buf.push('"');
                    } else {
                        buf.push_str(&text);
                    }
                }
                buf.push_str(CSV_LINE_END);
                if buf.len() >= CSV_BUFFER {
                    flush_csv(path, file, *gb18030, buf)?;
                }
            }
            Kind::Xlsx(x) => {
                let XlsxState {
                    path,
                    sheet,
                    date,
                    datetime,
                    ..
                } = &mut **x;
                let row = u32::try_from(line - 1).unwrap_or(u32::MAX);
                let xerr = |e: rust_xlsxwriter::XlsxError| SynthError::Xlsx {
                    path: path.clone(),
                    message: e.to_string(),
                };
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
                                .write_datetime_with_format(row, col, &value, date)
                                .map_err(xerr)?;
                        }
                        Cell::DateTime(t) => {
                            let value = excel_date(t.date())
                                .and_then(|v| {
                                    v.and_hms(t.hour() as u16, t.minute() as u8, t.second())
                                })
                                .map_err(xerr)?;
                            sheet
                                .write_datetime_with_format(row, col, &value, datetime)
                                .map_err(xerr)?;
                        }
                    }
                }
            }
            Kind::Parquet(sink) => {
                sink.push(cells.into_iter().map(|c| match c {
                    Cell::Empty | Cell::Number(_) => Val::Null,
                    Cell::Text(s) => Val::Owned(s),
                    Cell::Static(s) => Val::Str(s),
                    Cell::Date(d) => Val::Date(d),
                    Cell::DateTime(t) => Val::Date(t.date()),
                }))?;
            }
        }
        self.rows += 1;
        Ok(line)
    }

    /// Flushes and closes the file.
    pub(crate) fn finish(self) -> Result<(), SynthError> {
        match self.kind {
            Kind::Csv {
                path,
                mut file,
                gb18030,
                mut buf,
            } => {
                flush_csv(&path, &mut file, gb18030, &mut buf)?;
                file.flush().map_err(|e| SynthError::io(&path, e))
            }
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

fn excel_date(d: NaiveDate) -> Result<ExcelDateTime, rust_xlsxwriter::XlsxError> {
    ExcelDateTime::from_ymd(d.year() as u16, d.month() as u8, d.day() as u8)
}

fn flush_csv(
    path: &Path,
    file: &mut BufWriter<File>,
    gb18030: bool,
    buf: &mut String,
) -> Result<(), SynthError> {
    if gb18030 {
        let (bytes, _, _) = encoding_rs::GB18030.encode(buf);
        file.write_all(&bytes)
    } else {
        file.write_all(buf.as_bytes())
    }
    .map_err(|e| SynthError::io(path, e))?;
    buf.clear();
    Ok(())
}
