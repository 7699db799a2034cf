//! The ingest algorithm, the same for every source: resolve the header against the
//! source's fields, turn each row's cells into canonical values, quarantine what cannot be
//! kept, flag what is kept but invalid, and account for every row.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};

use chrono::{NaiveDate, NaiveDateTime};
use polars::prelude::*;
use poprecon_model::{
    DateError, DateValue, ResidentId, Sex, VillageCode, normalize_id, normalize_name, parse_date,
    parse_month,
};
use rayon::prelude::*;

use crate::columns::{self, FastPart, Segments, merge};
use crate::error::IngestError;
use crate::read::{self, Cell, Format, InputFile, RawRow, float_text};
use crate::schema::{CodeTable, FieldKind, FieldSpec, Source, code_key};

/// Rows per unit of parallel work.
const CHUNK_ROWS: usize = 16_384;

/// Most rows of a Parquet part, the unit of parallel work on a Parquet extract: small
/// enough that two cores share a registry's parts evenly.
const PARQUET_PART_ROWS: usize = 1 << 18;

/// How much of a file [`ingest_each`] reads before it hands the rows on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pace {
    /// Rows of a Parquet file read at a time (whole row groups, at least this many where
    /// the file has them).
    pub(crate) parquet_rows: usize,
    /// The bytes of a slice of a quote-free CSV file, parsed on one core.
    pub(crate) csv_slice_bytes: usize,
    /// Slices processed before their rows are handed on.
    pub(crate) csv_slices: usize,
}

/// Two Parquet parts at a time, one per core, so that a registry of millions of rows is
/// decoded half a million rows at a time; four CSV slices of 4 MiB, two per core: a city's
/// 64 MB marriage file comes in four pieces, each scanned by its caller while the next is
/// parsed (one piece of sixteen slices left the caller's scan alone at the end: 1.59 s for
/// the file against 1.19 s in four).
const PACE: Pace = Pace {
    parquet_rows: 2 * PARQUET_PART_ROWS,
    csv_slice_bytes: 4 << 20,
    csv_slices: 4,
};

/// Column of every canonical table: the input file a row came from.
pub const SOURCE_FILE: &str = "source_file";
/// Column of every canonical table: the row's line (CSV), sheet row (XLSX) or row number.
pub const SOURCE_LINE: &str = "source_line";
/// Column of every canonical table: the record key (the source's key field) exactly as
/// written in the extract, trimmed; the key of `<source>_key` columns downstream.
pub const RECORD_KEY: &str = "record_key";
/// Column of every canonical table: `field:reason` flags of kept rows, `;`-separated.
pub const INVALID_FIELDS: &str = "invalid_fields";

/// Everything the engine needs to ingest one source.
#[derive(Clone, Copy)]
pub struct IngestConfig<'a> {
    pub source: &'a dyn Source,
    pub files: &'a [InputFile],
    /// Canonical field → source headers, tried in order; replaces the source's aliases for
    /// the fields it names.
    pub columns: &'a BTreeMap<String, Vec<String>>,
    /// Village codes of the division table; codes outside it are flagged `unknown_village`.
    pub known_villages: Option<&'a HashSet<String>>,
    /// A header-only file is an error unless this is set.
    pub allow_empty: bool,
    /// Called with the number of rows just processed.
    pub progress: Option<&'a (dyn Fn(u64) + Sync)>,
    /// Which rows to read, by file (its index in `files`) and line: a row refused is passed
    /// over before its cells are read, neither kept nor quarantined nor counted. For a
    /// second pass over a source that keeps a few of its rows (a file of no such rows is no
    /// error then). `None`: every row.
    pub keep: Option<&'a (dyn Fn(usize, u64) -> bool + Sync)>,
}

impl std::fmt::Debug for IngestConfig<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IngestConfig")
            .field("source", &self.source.id())
            .field("files", &self.files)
            .field("columns", &self.columns)
            .field("allow_empty", &self.allow_empty)
            .field("keep", &self.keep.is_some())
            .finish_non_exhaustive()
    }
}

/// The result of ingesting one source.
#[derive(Debug, Clone)]
pub struct SourceOutput {
    pub source: &'static str,
    /// Accepted rows in canonical form, in file and line order.
    pub records: DataFrame,
    /// Rejected rows: `source`, `file`, `line`, `reason`, `field`, `raw` (JSON of the row).
    pub quarantine: DataFrame,
    pub stats: SourceStats,
}

/// Counts of one source's ingest, for the summary table and the manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SourceStats {
    pub source: String,
    pub files: Vec<FileStats>,
    pub read: u64,
    pub accepted: u64,
    pub quarantined: u64,
    /// Quarantine reason → rows.
    pub quarantine_reasons: BTreeMap<String, u64>,
    /// `field:reason` → kept rows flagged so.
    pub invalid_fields: BTreeMap<String, u64>,
    /// Coded field → value no code list knows → rows (flagged `unknown_code`). Only
    /// values that look like codes are listed; at most [`UNKNOWN_CODES_LISTED`] per field,
    /// the rest counted under [`OTHER_VALUES`].
    pub unknown_codes: BTreeMap<String, BTreeMap<String, u64>>,
}

/// Most distinct unknown values listed per coded field.
pub const UNKNOWN_CODES_LISTED: usize = 50;
/// The key under which unknown values beyond the listed ones are counted.
pub const OTHER_VALUES: &str = "(other values)";
/// The key under which unknown values that do not look like codes (long text, long runs of
/// digits: possibly personal data) are counted instead of being listed.
pub const NOT_LISTED: &str = "(not listed: not a code)";

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FileStats {
    pub path: String,
    pub format: String,
    /// The encoding used (a detected one for `auto`); empty for XLSX and Parquet.
    pub encoding: String,
    pub read: u64,
    pub accepted: u64,
    pub quarantined: u64,
    /// Headers that no field reads, so that nothing is ignored without being said.
    pub unmapped_headers: Vec<String>,
    /// Optional fields for which the file has no column: they are empty in every row.
    pub missing_fields: Vec<String>,
}

/// Ingests one source: all its files, in order.
pub fn ingest(cfg: &IngestConfig<'_>) -> Result<SourceOutput, IngestError> {
    let mut frames = Vec::new();
    let mut output = ingest_each(cfg, &mut |frame| {
        frames.push(frame);
        Ok(())
    })?;
    let frame_err = |e: PolarsError| IngestError::Frame {
        source_id: cfg.source.id(),
        message: e.to_string(),
    };
    let t = std::time::Instant::now();
    if !frames.is_empty() {
        let mut it = frames.into_iter();
        let mut df = it.next().expect("one frame at least");
        for f in it {
            df.vstack_mut_owned(f).map_err(frame_err)?;
        }
        // One piece, as the later stages expect: a joined or filtered table of many
        // chunks is copied again there, at the night's peak (measured: a city's peak
        // went from 6.8 to 8.0 GB with the household registry left in 16 chunks). Each
        // long text once per column: the table is held through the night.
        let bytes = crate::text_bytes(&df);
        df = crate::shared_text(df).map_err(frame_err)?;
        tracing::debug!(
            before = bytes,
            after = crate::text_bytes(&df),
            "text shared"
        );
        output.records = df;
    }
    tracing::debug!(seconds = t.elapsed().as_secs_f64(), "concatenated");
    Ok(output)
}

/// `next` made on a thread of its own (its work on the pool) while `hand_on` runs on this
/// one, both results returned: a file's next span or round of slices is read while the one
/// before is handed on, so that the caller's work on a piece does not hold the cores idle.
/// A panic in `next` is resumed here.
fn beside<T: Send, R>(next: impl FnOnce() -> T + Send, hand_on: impl FnOnce() -> R) -> (T, R) {
    std::thread::scope(|scope| {
        let next = scope.spawn(next);
        let done = hand_on();
        let next = next
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (next, done)
    })
}

/// [`ingest`], handing the canonical table to `sink` in pieces as they are made, in file
/// and line order, instead of holding it: a Parquet file is read a span of row groups at a
/// time (`PACE`: at least two parts' rows), a quote-free CSV file four slices at a time,
/// so that a registry of millions of rows is never whole in memory. Workbooks, and CSV files with
/// quotes, are handed over a file at a time. The output's `records` has the canonical
/// columns and no rows; its counts are those of every piece, checked for conservation.
pub fn ingest_each(
    cfg: &IngestConfig<'_>,
    sink: &mut dyn FnMut(DataFrame) -> Result<(), IngestError>,
) -> Result<SourceOutput, IngestError> {
    ingest_paced(cfg, PACE, sink)
}

/// [`ingest_each`] at the given pace.
pub(crate) fn ingest_paced(
    cfg: &IngestConfig<'_>,
    pace: Pace,
    sink: &mut dyn FnMut(DataFrame) -> Result<(), IngestError>,
) -> Result<SourceOutput, IngestError> {
    let source = cfg.source;
    let layout = Layout::new(source.fields());
    let mut stats = SourceStats {
        source: source.id().to_owned(),
        ..SourceStats::default()
    };
    let frame_err = |e: PolarsError| IngestError::Frame {
        source_id: source.id(),
        message: e.to_string(),
    };
    let mut quarantine = Vec::new();
    for (index, file) in cfg.files.iter().enumerate() {
        let mut emit = |chunks: Vec<ChunkOut>| -> Result<(), IngestError> {
            let mut piece: Option<DataFrame> = None;
            for chunk in chunks {
                stats.read += chunk.read;
                for (k, n) in chunk.invalid_counts {
                    *stats.invalid_fields.entry(k).or_default() += n;
                }
                for (field, values) in chunk.unknown_codes {
                    let entry = stats.unknown_codes.entry(field.to_owned()).or_default();
                    for (value, n) in values {
                        *entry.entry(value).or_default() += n;
                    }
                }
                for q in &chunk.quarantine {
                    *stats
                        .quarantine_reasons
                        .entry(q.reason.to_owned())
                        .or_default() += 1;
                }
                quarantine.extend(chunk.quarantine);
                stats.accepted += chunk.frame.height() as u64;
                match &mut piece {
                    None => piece = Some(chunk.frame),
                    Some(df) => {
                        df.vstack_mut_owned(chunk.frame).map_err(frame_err)?;
                    }
                }
            }
            match piece {
                Some(df) if df.height() > 0 => sink(df),
                _ => Ok(()),
            }
        };
        let file_stats = ingest_file(cfg, &layout, index, file, pace, &mut emit)
            .map_err(|e| e.in_source(source.id()))?;
        stats.files.push(file_stats);
    }
    for values in stats.unknown_codes.values_mut() {
        bound_listed(values);
    }
    stats.quarantined = quarantine.len() as u64;
    if stats.read != stats.accepted + stats.quarantined {
        return Err(IngestError::Conservation {
            source_id: source.id(),
            read: stats.read,
            accepted: stats.accepted,
            quarantined: stats.quarantined,
        });
    }
    let quarantine = quarantine_frame(source.id(), &quarantine).map_err(frame_err)?;
    Ok(SourceOutput {
        source: source.id(),
        records: layout.empty_frame().map_err(frame_err)?,
        quarantine,
        stats,
    })
}

/// Keeps the most frequent [`UNKNOWN_CODES_LISTED`] values (ties by value) and counts the
/// rest under [`OTHER_VALUES`].
fn bound_listed(values: &mut BTreeMap<String, u64>) {
    if values.len() <= UNKNOWN_CODES_LISTED {
        return;
    }
    let mut all: Vec<(String, u64)> = std::mem::take(values).into_iter().collect();
    all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let rest: u64 = all[UNKNOWN_CODES_LISTED..].iter().map(|(_, n)| n).sum();
    all.truncate(UNKNOWN_CODES_LISTED);
    values.extend(all);
    *values.entry(OTHER_VALUES.to_owned()).or_default() += rest;
}

/// Per part of a Parquet file, the fields the column-wise path takes as columns and how
/// many rows it leaves to the row loop whole.
#[cfg(test)]
pub(crate) fn fast_fields_for_tests(
    cfg: &IngestConfig<'_>,
    file: &InputFile,
) -> Vec<(Vec<&'static str>, usize)> {
    let layout = Layout::new(cfg.source.fields());
    let parts = read::ParquetTable::read_parts(file, PARQUET_PART_ROWS).unwrap();
    let header = &parts[0].header;
    let mapping = resolve_header(cfg.source, header, cfg.columns, &file.path).unwrap();
    let ctx = Ctx {
        cfg,
        key_column: key_column(cfg.source, &mapping),
        layout: &layout,
        mapping: &mapping,
        header,
        file: Arc::from("test"),
        file_index: 0,
        codes: code_tables(cfg.source, file).unwrap(),
    };
    parts
        .iter()
        .map(|part| match columns::plan(&ctx, part) {
            None => (Vec::new(), part.height()),
            Some(fast) => (
                cfg.source
                    .fields()
                    .iter()
                    .zip(&fast.fields)
                    .filter(|(_, c)| c.is_some())
                    .map(|(f, _)| f.name)
                    .collect(),
                fast.exceptional.iter().filter(|e| **e).count(),
            ),
        })
        .collect()
}

#[cfg(test)]
pub(crate) fn bound_listed_for_tests(values: &mut BTreeMap<String, u64>) {
    bound_listed(values);
}

/// Whether an unknown value of a coded field may be listed: short, and without a run of
/// digits long enough to be (part of) an ID or a phone number. Anything else might be
/// personal data that landed in a coded column.
fn listable_code(text: &str) -> bool {
    let mut run = 0;
    for c in text.chars() {
        run = if c.is_ascii_digit() { run + 1 } else { 0 };
        if run >= 7 {
            return false;
        }
    }
    text.chars().count() <= 24
}

/// Each field's code list with the file's extensions.
fn code_tables(
    source: &dyn Source,
    file: &InputFile,
) -> Result<Vec<Option<CodeTable>>, IngestError> {
    source
        .fields()
        .iter()
        .map(|f| match f.kind {
            FieldKind::Code(map) => CodeTable::new(map, file.codes.get(f.name))
                .map(Some)
                .map_err(|(spelling, code)| IngestError::UnknownCanonicalCode {
                    source_id: source.id(),
                    field: f.name,
                    spelling,
                    code,
                    known: map
                        .codes()
                        .iter()
                        .map(|c| format!("`{c}`"))
                        .collect::<Vec<_>>()
                        .join(", "),
                }),
            _ => Ok(None),
        })
        .collect()
}

/// Reads a file's header only and resolves it, for `poprecon validate`.
pub fn check_header(
    source: &dyn Source,
    file: &InputFile,
    columns: &BTreeMap<String, Vec<String>>,
) -> Result<FileStats, IngestError> {
    check_header_unnamed(source, file, columns).map_err(|e| e.in_source(source.id()))
}

fn check_header_unnamed(
    source: &dyn Source,
    file: &InputFile,
    columns: &BTreeMap<String, Vec<String>>,
) -> Result<FileStats, IngestError> {
    code_tables(source, file)?;
    if file.format == Format::Parquet {
        let (header, types) = read::parquet_schema(file)?;
        let mapping = resolve_header(source, &header, columns, &file.path)?;
        check_parquet_types(source, &mapping, &header, &types, &file.path)?;
        return Ok(file_stats(
            source,
            file,
            "",
            &Counted::default(),
            &header,
            &mapping,
        ));
    }
    let (header, encoding) = match file.format {
        Format::Csv => {
            let (text, enc) = read::read_text(file)?;
            let header = csv_header(&mut read::csv_records(&text, file.delimiter), file)?;
            (header, enc.as_str())
        }
        Format::Parquet => (read::read_parquet(file)?.0, ""),
        Format::Xlsx | Format::Xls | Format::Xlsb | Format::Ods => {
            (read::read_workbook(file)?.0, "")
        }
    };
    let mapping = resolve_header(source, &header, columns, &file.path)?;
    Ok(file_stats(
        source,
        file,
        encoding,
        &Counted::default(),
        &header,
        &mapping,
    ))
}

/// A typed Parquet column must hold what its field is: dates (or text) for a date field,
/// anything but dates for the others. Integers in a date column would otherwise be read as
/// `yyyymmdd` numbers or Excel serials, which they may not be.
fn check_parquet_types(
    source: &dyn Source,
    mapping: &[Option<usize>],
    header: &[String],
    types: &[DataType],
    path: &Path,
) -> Result<(), IngestError> {
    for (f, column) in source.fields().iter().zip(mapping) {
        let Some(i) = *column else { continue };
        let dtype = &types[i];
        let is_date_field = matches!(
            f.kind,
            FieldKind::Date | FieldKind::DateTime | FieldKind::Month
        );
        let temporal = matches!(dtype, DataType::Date | DataType::Datetime(..));
        let text = matches!(dtype, DataType::String | DataType::Null);
        let (ok, expected) = if is_date_field {
            (temporal || text, "a date, a date-time or text")
        } else {
            (!temporal, "text or a number")
        };
        if !ok {
            return Err(IngestError::ParquetType {
                path: path.to_owned(),
                column: header[i].clone(),
                field: f.name,
                expected,
                found: dtype.to_string(),
            });
        }
    }
    Ok(())
}

fn file_stats(
    source: &dyn Source,
    file: &InputFile,
    encoding: &str,
    counted: &Counted,
    header: &[String],
    mapping: &[Option<usize>],
) -> FileStats {
    let Counted { read, quarantined } = *counted;
    let used: HashSet<usize> = mapping.iter().flatten().copied().collect();
    FileStats {
        path: file.path.display().to_string(),
        format: file.format.as_str().to_owned(),
        encoding: encoding.to_owned(),
        read,
        accepted: read - quarantined,
        quarantined,
        unmapped_headers: header
            .iter()
            .enumerate()
            .filter(|(i, h)| !used.contains(i) && !h.trim().is_empty())
            .map(|(_, h)| h.clone())
            .collect(),
        missing_fields: source
            .fields()
            .iter()
            .zip(mapping)
            .filter(|(f, m)| m.is_none() && !f.required)
            .map(|(f, _)| f.name.to_owned())
            .collect(),
    }
}

/// The first record of a CSV file: its header. No record at all means an empty file.
fn csv_header(
    records: &mut impl Iterator<Item = Result<read::CsvRow, csv::Error>>,
    file: &InputFile,
) -> Result<Vec<String>, IngestError> {
    match records.next() {
        Some(Ok(row)) => Ok(row.record.iter().map(str::to_owned).collect()),
        Some(Err(e)) => Err(csv_error(&file.path, &e)),
        None => Err(IngestError::EmptyFile {
            path: file.path.clone(),
        }),
    }
}

fn csv_error(path: &Path, e: &csv::Error) -> IngestError {
    IngestError::Csv {
        path: path.to_owned(),
        line: e.position().map_or(0, |p| p.line()),
        message: e.to_string(),
    }
}

/// Reads one file (`index` in the source's files), handing its chunks to `emit` as they are
/// made, in line order; the file's counts.
fn ingest_file(
    cfg: &IngestConfig<'_>,
    layout: &Layout,
    index: usize,
    file: &InputFile,
    pace: Pace,
    emit: &mut dyn FnMut(Vec<ChunkOut>) -> Result<(), IngestError>,
) -> Result<FileStats, IngestError> {
    let mut counted = Counted::default();
    let mut emit = |chunks: Vec<ChunkOut>| {
        counted.add(&chunks);
        emit(chunks)
    };
    let _span = tracing::info_span!("file", source = cfg.source.id(), path = %file.path.display())
        .entered();
    let path_str: Arc<str> = Arc::from(file.path.display().to_string());
    match file.format {
        Format::Csv => {
            let t = std::time::Instant::now();
            let (text, encoding) = read::read_text(file)?;
            tracing::debug!(seconds = t.elapsed().as_secs_f64(), "decoded");
            let mut records = read::csv_records(&text, file.delimiter);
            let header = csv_header(&mut records, file)?;
            let mapping = resolve_header(cfg.source, &header, cfg.columns, &file.path)?;
            let ctx = Ctx {
                cfg,
                key_column: key_column(cfg.source, &mapping),
                layout,
                mapping: &mapping,
                header: &header,
                file: path_str,
                file_index: index,
                codes: code_tables(cfg.source, file)?,
            };
            // Without a quote character no cell can hold a line end, so the body can be cut
            // at line ends and parsed in parallel (the usual case for system exports).
            // Such a body is also split by hand: each row's cells are slices of the text.
            if !text.as_bytes().contains(&b'"')
                && !text.starts_with(['\n', '\r'])
                && file.delimiter.is_ascii()
                && let Some(nl) = text.find('\n')
            {
                let slices = read::split_body(&text, nl + 1, 2, pace.csv_slice_bytes);
                let delimiter = char::from(file.delimiter);
                // A few slices per core at a time, handed on before the next ones.
                let parse = |round: &[(usize, usize, u64)]| -> Vec<ChunkOut> {
                    let parsed: Vec<Vec<ChunkOut>> = round
                        .par_iter()
                        .map(|&(start, end, line)| {
                            let mut out = Vec::new();
                            read::split_rows(
                                &text[start..end],
                                delimiter,
                                line,
                                CHUNK_ROWS,
                                |rows| out.push(process_rows(&ctx, rows, None)),
                            );
                            out
                        })
                        .collect();
                    parsed.into_iter().flatten().collect()
                };
                // Each round is parsed (on the pool) while the one before is handed on
                // here, as a Parquet file's spans are: the caller's work on a piece (a
                // narrowed source's scan) does not hold the cores idle.
                let mut rounds = slices.chunks(pace.csv_slices);
                let mut ready = rounds.next().map(parse);
                for round in rounds {
                    let done = ready.take().expect("the round before was parsed");
                    let (next, emitted) = beside(|| parse(round), || emit(done));
                    emitted?;
                    ready = Some(next);
                }
                if let Some(done) = ready {
                    emit(done)?;
                }
                tracing::debug!(seconds = t.elapsed().as_secs_f64(), "parsed and processed");
                return finish_file(cfg, file, encoding.as_str(), &header, &mapping, &counted);
            }
            // Parsing is sequential; each chunk is processed on the rayon pool while the
            // next one is parsed.
            let results: Mutex<Vec<(usize, ChunkOut)>> = Mutex::new(Vec::new());
            let mut parse_error = None;
            rayon::scope(|scope| {
                let mut index = 0;
                loop {
                    let mut chunk = Vec::with_capacity(CHUNK_ROWS);
                    for r in records.by_ref() {
                        match r {
                            Ok(row) => chunk.push(row),
                            Err(e) => {
                                parse_error = Some(csv_error(&file.path, &e));
                                break;
                            }
                        }
                        if chunk.len() == CHUNK_ROWS {
                            break;
                        }
                    }
                    if chunk.is_empty() {
                        break;
                    }
                    let full = chunk.len() == CHUNK_ROWS;
                    let (ctx, results) = (&ctx, &results);
                    scope.spawn(move |_| {
                        let out = process_rows(ctx, &chunk, None);
                        results
                            .lock()
                            .expect("no panics hold this lock")
                            .push((index, out));
                    });
                    index += 1;
                    if !full || parse_error.is_some() {
                        break;
                    }
                }
            });
            if let Some(e) = parse_error {
                return Err(e);
            }
            tracing::debug!(seconds = t.elapsed().as_secs_f64(), "parsed and processed");
            let mut chunks = results.into_inner().expect("no panics hold this lock");
            chunks.sort_by_key(|(i, _)| *i);
            emit(chunks.into_iter().map(|(_, c)| c).collect())?;
            finish_file(cfg, file, encoding.as_str(), &header, &mapping, &counted)
        }
        Format::Parquet => {
            let t = std::time::Instant::now();
            // The file a span of row groups at a time (the first span gives the header); rows
            // `keep` refuses are dropped as they are decoded.
            let keep_here = |line: u64| cfg.keep.is_none_or(|keep| keep(index, line));
            let keep_here = cfg
                .keep
                .map(|_| &keep_here as &(dyn Fn(u64) -> bool + Sync));
            let mut spans = read::ParquetTable::spans(file, pace.parquet_rows)?.into_iter();
            let first = read::ParquetTable::read_span(
                file,
                spans.next().expect("a Parquet file has one span at least"),
                PARQUET_PART_ROWS,
                keep_here,
            )?;
            let (header, types) = {
                let part = first
                    .first()
                    .expect("a Parquet span reads as one part at least");
                (part.header.clone(), part.types.clone())
            };
            let mapping = resolve_header(cfg.source, &header, cfg.columns, &file.path)?;
            check_parquet_types(cfg.source, &mapping, &header, &types, &file.path)?;
            let ctx = Ctx {
                cfg,
                key_column: key_column(cfg.source, &mapping),
                layout,
                mapping: &mapping,
                header: &header,
                file: path_str,
                file_index: index,
                codes: code_tables(cfg.source, file)?,
            };
            // Rows are borrowed from the columns as the file's row groups decoded them, a
            // part at a time: no cell is copied before it becomes a canonical value. A
            // column already canonical is taken as it is (`columns.rs`); the row loop makes
            // the other fields, and the rows whose cells are not canonical as they are.
            let columnwise = columns::enabled();
            let process = |parts: Vec<read::ParquetTable>| -> (Vec<ChunkOut>, usize) {
                let chunks: Vec<(ChunkOut, usize)> = parts
                    .par_iter()
                    .map(|part| {
                        let rows: Vec<read::ParquetRow<'_>> =
                            (0..part.height()).map(|i| part.row(i)).collect();
                        let fast = columnwise.then(|| columns::plan(&ctx, part)).flatten();
                        let n_fast = fast.as_ref().map_or(0, FastPart::fields_fast);
                        (process_rows(&ctx, &rows, fast.as_ref()), n_fast)
                    })
                    .collect();
                let n_fast = chunks.iter().map(|(_, n)| n).sum::<usize>();
                (chunks.into_iter().map(|(c, _)| c).collect(), n_fast)
            };
            // Each span is read and processed (on the pool) while the one before is handed
            // on here: the caller's work on a piece does not hold the cores idle.
            let mut ready = process(first);
            let mut fields_as_columns = 0;
            for span in spans {
                let (done, n_fast) = ready;
                fields_as_columns += n_fast;
                let (next, emitted) = beside(
                    || {
                        read::ParquetTable::read_span(file, span, PARQUET_PART_ROWS, keep_here)
                            .map(&process)
                    },
                    || emit(done),
                );
                emitted?;
                ready = next?;
            }
            let (done, n_fast) = ready;
            fields_as_columns += n_fast;
            emit(done)?;
            tracing::debug!(
                seconds = t.elapsed().as_secs_f64(),
                fields_as_columns,
                "read and processed"
            );
            finish_file(cfg, file, "", &header, &mapping, &counted)
        }
        Format::Xlsx | Format::Xls | Format::Xlsb | Format::Ods => {
            let (header, rows) = read::read_workbook(file)?;
            let mapping = resolve_header(cfg.source, &header, cfg.columns, &file.path)?;
            let ctx = Ctx {
                cfg,
                key_column: key_column(cfg.source, &mapping),
                layout,
                mapping: &mapping,
                header: &header,
                file: path_str,
                file_index: index,
                codes: code_tables(cfg.source, file)?,
            };
            let chunks: Vec<ChunkOut> = rows
                .par_chunks(CHUNK_ROWS)
                .map(|rows| process_rows(&ctx, rows, None))
                .collect();
            emit(chunks)?;
            finish_file(cfg, file, "", &header, &mapping, &counted)
        }
    }
}

/// Rows read and quarantined in the chunks of a file.
#[derive(Debug, Default, Clone, Copy)]
struct Counted {
    read: u64,
    quarantined: u64,
}

impl Counted {
    fn add(&mut self, chunks: &[ChunkOut]) {
        for c in chunks {
            self.read += c.read;
            self.quarantined += c.quarantine.len() as u64;
        }
    }
}

fn finish_file(
    cfg: &IngestConfig<'_>,
    file: &InputFile,
    encoding: &str,
    header: &[String],
    mapping: &[Option<usize>],
    counted: &Counted,
) -> Result<FileStats, IngestError> {
    if counted.read == 0 && !cfg.allow_empty && cfg.keep.is_none() {
        return Err(IngestError::HeaderOnly {
            path: file.path.clone(),
        });
    }
    tracing::debug!(rows = counted.read, "read file");
    Ok(file_stats(
        cfg.source, file, encoding, counted, header, mapping,
    ))
}

fn key_column(source: &dyn Source, mapping: &[Option<usize>]) -> Option<usize> {
    let i = source
        .fields()
        .iter()
        .position(|f| f.name == source.key_field())?;
    mapping[i]
}

/// Header text as compared with aliases: NFKC, no white space or BOM, ASCII lower case.
pub fn normalize_header(h: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    h.nfkc()
        .filter(|c| !c.is_whitespace() && !matches!(c, '\u{FEFF}' | '\u{200B}'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// For each field of the source, the column that feeds it.
pub fn resolve_header(
    source: &dyn Source,
    header: &[String],
    overrides: &BTreeMap<String, Vec<String>>,
    path: &Path,
) -> Result<Vec<Option<usize>>, IngestError> {
    let fields = source.fields();
    if let Some(unknown) = overrides
        .keys()
        .find(|k| !fields.iter().any(|f| f.name == k.as_str()))
    {
        return Err(IngestError::UnknownField {
            path: path.to_owned(),
            source_id: source.id(),
            field: unknown.clone(),
            known: fields
                .iter()
                .map(|f| format!("`{}`", f.name))
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    let norm: Vec<String> = header.iter().map(|h| normalize_header(h)).collect();
    let find = |field: &'static str, wanted: &str| -> Result<Option<usize>, IngestError> {
        let wanted = normalize_header(wanted);
        let mut hits = norm.iter().enumerate().filter(|(_, h)| **h == wanted);
        match (hits.next(), hits.next()) {
            (Some((i, _)), None) => Ok(Some(i)),
            (Some((i, _)), Some((j, _))) => Err(IngestError::DuplicateColumn {
                path: path.to_owned(),
                header: header[i].trim().to_owned(),
                field,
                first: i + 1,
                second: j + 1,
            }),
            (None, _) => Ok(None),
        }
    };
    let mut mapping = Vec::with_capacity(fields.len());
    for f in fields {
        let found = if let Some(headers) = overrides.get(f.name) {
            let mut found = None;
            for h in headers {
                if let Some(i) = find(f.name, h)? {
                    found = Some(i);
                    break;
                }
            }
            if found.is_none() {
                return Err(IngestError::MappedColumnMissing {
                    path: path.to_owned(),
                    field: f.name.to_owned(),
                    header: headers.join("` or `"),
                    available: quoted_list(header),
                });
            }
            found
        } else {
            let mut found = find(f.name, f.name)?;
            for alias in f.aliases {
                if found.is_some() {
                    break;
                }
                found = find(f.name, alias)?;
            }
            found
        };
        if found.is_none() && f.required {
            let mut tried = vec![format!("`{}`", f.name)];
            tried.extend(f.aliases.iter().map(|a| format!("`{a}`")));
            return Err(IngestError::MissingColumn {
                path: path.to_owned(),
                source_id: source.id(),
                field: f.name,
                label: f.label_zh,
                tried: tried.join(", "),
            });
        }
        mapping.push(found);
    }
    Ok(mapping)
}

fn quoted_list(items: &[String]) -> String {
    items
        .iter()
        .map(|h| format!("`{}`", h.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The output columns of a source's canonical table, derived from its fields.
#[derive(Debug)]
pub(crate) struct Layout {
    pub(crate) columns: Vec<(String, ColKind)>,
    /// Per field, the columns it writes (one; two for resident IDs and date-times).
    pub(crate) field_cols: Vec<std::ops::Range<usize>>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum ColKind {
    Str,
    I32,
    I64,
    F64,
    Bool,
    Date,
    Datetime,
}

impl Layout {
    fn new(fields: &[FieldSpec]) -> Self {
        let mut columns = vec![
            (SOURCE_FILE.to_owned(), ColKind::Str),
            (SOURCE_LINE.to_owned(), ColKind::I64),
            (RECORD_KEY.to_owned(), ColKind::Str),
        ];
        let mut field_cols = Vec::with_capacity(fields.len());
        for f in fields {
            let start = columns.len();
            match f.kind {
                FieldKind::ResidentId => {
                    columns.push((f.name.to_owned(), ColKind::Str));
                    columns.push((format!("{}_input", f.name), ColKind::Str));
                }
                FieldKind::DateTime => {
                    columns.push((f.name.to_owned(), ColKind::Date));
                    columns.push((format!("{}_time", f.name), ColKind::Datetime));
                }
                FieldKind::Date | FieldKind::Month => {
                    columns.push((f.name.to_owned(), ColKind::Date));
                }
                FieldKind::Sex | FieldKind::Int { .. } => {
                    columns.push((f.name.to_owned(), ColKind::I32));
                }
                FieldKind::Float { .. } => columns.push((f.name.to_owned(), ColKind::F64)),
                FieldKind::Bool => columns.push((f.name.to_owned(), ColKind::Bool)),
                FieldKind::Text
                | FieldKind::Name
                | FieldKind::Village
                | FieldKind::AreaCode
                | FieldKind::Certificate
                | FieldKind::Code(_) => columns.push((f.name.to_owned(), ColKind::Str)),
            }
            field_cols.push(start..columns.len());
        }
        columns.push((INVALID_FIELDS.to_owned(), ColKind::Str));
        Layout {
            columns,
            field_cols,
        }
    }

    /// Builders for the columns of field `i` only.
    pub(crate) fn field_builders(&self, i: usize, capacity: usize) -> Vec<Builder> {
        self.columns[self.field_cols[i].clone()]
            .iter()
            .map(|(name, kind)| Builder::new(name, *kind, capacity))
            .collect()
    }

    fn builders(&self, capacity: usize) -> Vec<Builder> {
        self.columns
            .iter()
            .map(|(name, kind)| Builder::new(name, *kind, capacity))
            .collect()
    }

    fn empty_frame(&self) -> PolarsResult<DataFrame> {
        let cols = self
            .builders(0)
            .into_iter()
            .map(Builder::finish)
            .collect::<PolarsResult<Vec<_>>>()?;
        DataFrame::new(0, cols)
    }
}

impl ColKind {
    pub(crate) fn dtype(self) -> DataType {
        match self {
            ColKind::Str => DataType::String,
            ColKind::I32 => DataType::Int32,
            ColKind::I64 => DataType::Int64,
            ColKind::F64 => DataType::Float64,
            ColKind::Bool => DataType::Boolean,
            ColKind::Date => DataType::Date,
            ColKind::Datetime => DataType::Datetime(TimeUnit::Milliseconds, None),
        }
    }
}

pub(crate) enum Builder {
    Str(StringChunkedBuilder),
    I32(PlSmallStr, Vec<Option<i32>>),
    I64(PlSmallStr, Vec<Option<i64>>),
    F64(PlSmallStr, Vec<Option<f64>>),
    Bool(PlSmallStr, Vec<Option<bool>>),
    Date(PlSmallStr, Vec<Option<i32>>),
    Datetime(PlSmallStr, Vec<Option<i64>>),
}

impl Builder {
    pub(crate) fn new(name: &str, kind: ColKind, capacity: usize) -> Self {
        let name = PlSmallStr::from_str(name);
        match kind {
            ColKind::Str => Builder::Str(StringChunkedBuilder::new(name, capacity)),
            ColKind::I32 => Builder::I32(name, Vec::with_capacity(capacity)),
            ColKind::I64 => Builder::I64(name, Vec::with_capacity(capacity)),
            ColKind::F64 => Builder::F64(name, Vec::with_capacity(capacity)),
            ColKind::Bool => Builder::Bool(name, Vec::with_capacity(capacity)),
            ColKind::Date => Builder::Date(name, Vec::with_capacity(capacity)),
            ColKind::Datetime => Builder::Datetime(name, Vec::with_capacity(capacity)),
        }
    }

    pub(crate) fn push_str(&mut self, v: Option<&str>) {
        if let Builder::Str(b) = self {
            match v {
                Some(s) => b.append_value(s),
                None => b.append_null(),
            }
        }
    }

    pub(crate) fn push_null(&mut self) {
        match self {
            Builder::Str(b) => b.append_null(),
            Builder::I32(_, v) | Builder::Date(_, v) => v.push(None),
            Builder::I64(_, v) | Builder::Datetime(_, v) => v.push(None),
            Builder::F64(_, v) => v.push(None),
            Builder::Bool(_, v) => v.push(None),
        }
    }

    fn finish(self) -> PolarsResult<Column> {
        Ok(self.finish_series().into_column())
    }

    pub(crate) fn finish_series(self) -> Series {
        match self {
            Builder::Str(b) => b.finish().into_series(),
            Builder::I32(n, v) => Series::new(n, v),
            Builder::I64(n, v) => Series::new(n, v),
            Builder::F64(n, v) => Series::new(n, v),
            Builder::Bool(n, v) => Series::new(n, v),
            Builder::Date(n, v) => Int32Chunked::new(n, v).into_date().into_series(),
            Builder::Datetime(n, v) => Int64Chunked::new(n, v)
                .into_datetime(TimeUnit::Milliseconds, None)
                .into_series(),
        }
    }
}

/// A canonical value of one field of the row being processed.
///
/// Text is held as a [`PlSmallStr`], which keeps up to 24 bytes inline: IDs, names, village
/// codes and codes (nearly every cell of an extract) cost no allocation of their own.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Str(PlSmallStr),
    Int(i32),
    Float(f64),
    Bool(bool),
    Date(NaiveDate),
    DateTime(NaiveDate, Option<NaiveDateTime>),
    /// A resident ID: the valid normalised form, and the normalised text as given.
    Id(Option<PlSmallStr>, PlSmallStr),
}

/// What a source's own check sees of a row: its values by field name, and a way to flag.
#[derive(Debug)]
pub struct RowCheck<'a> {
    fields: &'a [FieldSpec],
    values: &'a mut [Value],
    flags: &'a mut Vec<(&'static str, &'static str)>,
    /// The fields the source declares its check touches (`Source::check_row_fields`).
    declared: Option<&'static [&'static str]>,
}

impl<'a> RowCheck<'a> {
    /// A row of values as the column-wise path checks them (`columns.rs`).
    pub(crate) fn for_columns(
        fields: &'a [FieldSpec],
        values: &'a mut [Value],
        flags: &'a mut Vec<(&'static str, &'static str)>,
        declared: Option<&'static [&'static str]>,
    ) -> Self {
        RowCheck {
            fields,
            values,
            flags,
            declared,
        }
    }

    fn index(&self, field: &str) -> Option<usize> {
        self.assert_declared(field);
        self.fields.iter().position(|f| f.name == field)
    }

    /// A check may touch only the fields its source declares: the others may have been
    /// canonicalised as whole columns, and are null here.
    fn assert_declared(&self, field: &str) {
        debug_assert!(
            self.declared.is_none_or(|d| d.contains(&field)),
            "a row check touched `{field}`, which its source's `check_row_fields` does not name"
        );
    }

    pub fn value(&self, field: &str) -> &Value {
        self.index(field).map_or(&Value::Null, |i| &self.values[i])
    }

    pub fn int(&self, field: &str) -> Option<i32> {
        match self.value(field) {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn float(&self, field: &str) -> Option<f64> {
        match self.value(field) {
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }

    pub fn text(&self, field: &str) -> Option<&str> {
        match self.value(field) {
            Value::Str(s) => Some(s.as_str()),
            _ => None,
        }
    }

    pub fn date(&self, field: &str) -> Option<NaiveDate> {
        match self.value(field) {
            Value::Date(d) | Value::DateTime(d, _) => Some(*d),
            _ => None,
        }
    }

    /// Flags a field of a kept row as invalid for `reason` (a bounded snake_case code).
    /// The value stays as it is; call [`RowCheck::clear`] as well where it must not be used.
    pub fn flag(&mut self, field: &'static str, reason: &'static str) {
        self.assert_declared(field);
        self.flags.push((field, reason));
    }

    /// Replaces a field's value with its canonical form (e.g. a code for a label).
    pub fn set(&mut self, field: &str, value: Value) {
        if let Some(i) = self.index(field) {
            self.values[i] = value;
        }
    }

    /// Drops a field's value (keeps the row).
    pub fn clear(&mut self, field: &str) {
        if let Some(i) = self.index(field) {
            self.values[i] = Value::Null;
        }
    }
}

pub(crate) struct Ctx<'a> {
    pub(crate) cfg: &'a IngestConfig<'a>,
    /// The column of the source's key field.
    pub(crate) key_column: Option<usize>,
    pub(crate) layout: &'a Layout,
    pub(crate) mapping: &'a [Option<usize>],
    header: &'a [String],
    file: Arc<str>,
    /// The file's index in the source's files (for [`IngestConfig::keep`]).
    file_index: usize,
    /// Per field, its code table (coded fields only).
    pub(crate) codes: Vec<Option<CodeTable>>,
}

struct QuarantineRow {
    file: Arc<str>,
    line: u64,
    reason: &'static str,
    field: Option<&'static str>,
    raw: String,
}

struct ChunkOut {
    read: u64,
    frame: DataFrame,
    quarantine: Vec<QuarantineRow>,
    invalid_counts: BTreeMap<String, u64>,
    unknown_codes: BTreeMap<&'static str, BTreeMap<String, u64>>,
}

/// Why a cell could not become a value.
pub(crate) struct Invalid {
    reason: &'static str,
    /// The cell held a date that is not a date: for a required field, the row is quarantined.
    bad_date: bool,
}

impl Invalid {
    fn new(reason: &'static str) -> Self {
        Invalid {
            reason,
            bad_date: false,
        }
    }
}

/// Canonicalises a chunk of rows: each row's cells become canonical values (`parse_cell`)
/// pushed into the output columns' builders, or the row is quarantined with the reason of
/// its first failing field (in field order) after the width and decoding tests; then the
/// source's `check_row`, the flags and their counts.
///
/// With `fast` (a Parquet part, see `columns.rs`), the fields it holds as whole columns are
/// not made here for a row that is not exceptional: the loop makes only the other fields and
/// runs `check_row` (which touches none of the fast ones), while an exceptional row is made
/// whole, as without `fast`, and its fast fields' values patch the fast columns. Rows are
/// kept or quarantined exactly as without `fast`, with the same flags: outside the
/// exceptional rows a fast field's cell is canonical as it is, is not null where the field is
/// required, and flags nothing.
fn process_rows<R: RawRow>(ctx: &Ctx<'_>, rows: &[R], fast: Option<&FastPart>) -> ChunkOut {
    let source = ctx.cfg.source;
    let fields = source.fields();
    let layout = ctx.layout;
    let declared = source.check_row_fields();
    let fast_field: Vec<bool> = (0..fields.len())
        .map(|i| fast.is_some_and(|p| p.fields[i].is_some()))
        .collect();
    let mut builders = layout.builders(rows.len());
    // The fast fields' values (and record keys) of the exceptional rows kept, in row order.
    let mut patches: Vec<Vec<Builder>> = (0..fields.len())
        .map(|i| match fast_field[i] {
            true => layout.field_builders(i, 0),
            false => Vec::new(),
        })
        .collect();
    let mut key_patch = fast
        .and_then(|p| p.key.as_ref())
        .map(|_| Builder::new(RECORD_KEY, ColKind::Str, 0));
    let mut segments = Segments::default();
    let mut quarantine = Vec::new();
    let mut invalid_counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut unknown_codes: BTreeMap<&'static str, BTreeMap<String, u64>> = BTreeMap::new();
    let mut values: Vec<Value> = vec![Value::Null; fields.len()];
    let mut flags: Vec<(&'static str, &'static str)> = Vec::new();
    let mut flag_text = String::new();
    // The row's cells, fetched once for the checks, the fields and the key.
    let mut cells: Vec<Cell<'_>> = Vec::with_capacity(ctx.header.len());
    let mut passed_over = 0;
    for (r, row) in rows.iter().enumerate() {
        if let Some(keep) = ctx.cfg.keep
            && !keep(ctx.file_index, row.line())
        {
            // Not read at all: as a quarantined row, in neither the columns nor the patches.
            segments.skip();
            passed_over += 1;
            continue;
        }
        flags.clear();
        let whole = fast.is_none_or(|p| p.exceptional[r]);
        let part = if whole { None } else { fast };
        if let Err((reason, field)) =
            canonical_row(ctx, row, part, &mut cells, &mut values, &mut flags)
        {
            quarantine.push(QuarantineRow {
                file: ctx.file.clone(),
                line: row.line(),
                reason,
                field,
                raw: raw_json(ctx.header, row),
            });
            // The fields made before the failing one; a row made in part leaves the others
            // alone, so none may carry this row's value.
            values.fill(Value::Null);
            segments.skip();
            continue;
        }
        // Where the check's one field was made column by column, so was the check.
        if whole || !fast.is_some_and(|p| p.check_done) {
            source.check_row(&mut RowCheck {
                fields,
                values: &mut values,
                flags: &mut flags,
                declared,
            });
        }
        for &(field, reason) in &flags {
            if reason != "unknown_code" {
                continue;
            }
            let cell = fields
                .iter()
                .position(|f| f.name == field)
                .and_then(|i| ctx.mapping[i])
                .map_or(Cell::Empty, |c| cells[c]);
            if let Some(text) = cell_text(cell) {
                let value = if listable_code(&text) {
                    code_key(&text)
                } else {
                    NOT_LISTED.to_owned()
                };
                *unknown_codes
                    .entry(field)
                    .or_default()
                    .entry(value)
                    .or_default() += 1;
            }
        }
        // The file column is filled once per chunk below.
        if let Builder::I64(_, v) = &mut builders[1] {
            v.push(Some(row.line() as i64));
        }
        let key = || ctx.key_column.and_then(|c| cell_text(cells[c]));
        match &mut key_patch {
            Some(patch) if whole => patch.push_str(key().as_deref()),
            Some(_) => {}
            None => builders[2].push_str(key().as_deref()),
        }
        for (i, (f, value)) in fields.iter().zip(values.iter_mut()).enumerate() {
            let value = std::mem::replace(value, Value::Null);
            if !fast_field[i] {
                push_value(
                    &mut builders[layout.field_cols[i].clone()].iter_mut(),
                    f.kind,
                    value,
                );
            } else if whole {
                push_value(&mut patches[i].iter_mut(), f.kind, value);
            }
        }
        let flags_column = builders.last_mut().expect("flags column");
        if flags.is_empty() {
            flags_column.push_null();
        } else {
            flag_text.clear();
            for (n, (field, reason)) in flags.iter().enumerate() {
                if n > 0 {
                    flag_text.push(';');
                }
                flag_text.push_str(field);
                flag_text.push(':');
                flag_text.push_str(reason);
                *invalid_counts
                    .entry(format!("{field}:{reason}"))
                    .or_default() += 1;
            }
            flags_column.push_str(Some(&flag_text));
        }
        if whole {
            segments.patch();
        } else {
            segments.keep();
        }
    }
    let height = rows.len() - passed_over - quarantine.len();
    let mut cols: Vec<Column> = builders
        .into_iter()
        .map(|b| {
            b.finish()
                .expect("builders of one chunk have equal lengths")
        })
        .collect();
    cols[0] = file_column(&ctx.file, height);
    if let Some(fast) = fast {
        let segments = segments.finish();
        for (i, patch) in patches.into_iter().enumerate() {
            let Some(columns) = &fast.fields[i] else {
                continue;
            };
            for ((c, column), patch) in layout.field_cols[i].clone().zip(columns).zip(patch) {
                let name = layout.columns[c].0.as_str();
                cols[c] = merge(name, column, &patch.finish_series(), &segments).into_column();
            }
        }
        if let (Some(key), Some(patch)) = (&fast.key, key_patch) {
            cols[2] = merge(RECORD_KEY, key, &patch.finish_series(), &segments).into_column();
        }
    }
    let frame = DataFrame::new(height, cols).expect("builders of one chunk have equal lengths");
    if let Some(progress) = ctx.cfg.progress {
        progress(rows.len() as u64);
    }
    ChunkOut {
        read: (rows.len() - passed_over) as u64,
        frame,
        quarantine,
        invalid_counts,
        unknown_codes,
    }
}

/// Makes a row's values, or says why it is quarantined (the reason and the field): a row
/// of the wrong width, a cell that did not decode, then the first field (in field order) that
/// is required and empty or an impossible date. Invalid values of a kept row are flagged.
///
/// With `fast` (a row that is not exceptional), only the fields it does not hold are made
/// (its fields stay null, as `check_row` does not read them), and the cells of the columns
/// only its fields read are neither fetched nor tested: they were, column by column.
fn canonical_row<'r, R: RawRow>(
    ctx: &Ctx<'_>,
    row: &'r R,
    fast: Option<&FastPart>,
    cells: &mut Vec<Cell<'r>>,
    values: &mut [Value],
    flags: &mut Vec<(&'static str, &'static str)>,
) -> Result<(), (&'static str, Option<&'static str>)> {
    if row.width() != ctx.header.len() {
        return Err(("field_count", None));
    }
    cells.clear();
    match fast {
        None => cells.extend((0..row.width()).map(|i| row.cell(i))),
        Some(p) => {
            cells.resize(row.width(), Cell::Empty);
            for &c in &p.row_columns {
                cells[c] = row.cell(c);
            }
        }
    }
    if cells
        .iter()
        .any(|cell| matches!(cell, Cell::Text(s) if s.contains('\u{FFFD}')))
    {
        return Err(("undecodable", None));
    }
    let make = |i: usize, values: &mut [Value], flags: &mut Vec<_>| {
        let f = &ctx.cfg.source.fields()[i];
        let cell = ctx.mapping[i].map_or(Cell::Empty, |c| cells[c]);
        let (value, invalid) = parse_cell(f, cell, ctx.cfg.known_villages, ctx.codes[i].as_ref());
        if let Some(inv) = invalid {
            if f.required && inv.bad_date {
                return Err(("invalid_required_date", Some(f.name)));
            }
            flags.push((f.name, inv.reason));
        } else if f.required && value == Value::Null {
            return Err(("missing_required", Some(f.name)));
        }
        values[i] = value;
        Ok(())
    };
    match fast {
        None => (0..values.len()).try_for_each(|i| make(i, values, flags)),
        Some(p) => p
            .row_fields
            .iter()
            .try_for_each(|&i| make(i, values, flags)),
    }
}

/// The file column of a chunk: the path stored once and viewed from every row (a path per
/// row would cost its length again for each of a registry's millions of rows). Not marked
/// sorted, as a column built row by row is not.
fn file_column(path: &str, height: usize) -> Column {
    let mut ca = StringChunked::full(PlSmallStr::from_static(SOURCE_FILE), path, height);
    ca.set_sorted_flag(polars::series::IsSorted::Not);
    ca.into_series().into_column()
}

pub(crate) fn push_value<'b>(
    b: &mut impl Iterator<Item = &'b mut Builder>,
    kind: FieldKind,
    value: Value,
) {
    let mut next = || b.next().expect("one builder per output column");
    match (kind, value) {
        (FieldKind::ResidentId, Value::Id(valid, input)) => {
            next().push_str(valid.as_deref());
            next().push_str(Some(input.as_str()));
        }
        (FieldKind::ResidentId, _) => {
            next().push_null();
            next().push_null();
        }
        (FieldKind::DateTime, Value::DateTime(d, t)) => {
            if let Builder::Date(_, v) = next() {
                v.push(Some(epoch_days(d)));
            }
            if let Builder::Datetime(_, v) = next() {
                v.push(t.map(|t| t.and_utc().timestamp_millis()));
            }
        }
        (FieldKind::DateTime, _) => {
            next().push_null();
            next().push_null();
        }
        (_, Value::Null) => next().push_null(),
        (_, Value::Str(s)) => next().push_str(Some(s.as_str())),
        (_, value) => match (next(), value) {
            (Builder::I32(_, v), Value::Int(i)) => v.push(Some(i)),
            (Builder::F64(_, v), Value::Float(f)) => v.push(Some(f)),
            (Builder::Bool(_, v), Value::Bool(x)) => v.push(Some(x)),
            (Builder::Date(_, v), Value::Date(d)) => v.push(Some(epoch_days(d))),
            (other, _) => other.push_null(),
        },
    }
}

fn epoch_days(d: NaiveDate) -> i32 {
    d.signed_duration_since(NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch"))
        .num_days() as i32
}

/// The quarantined row as a JSON object of header → text, in column order.
fn raw_json<R: RawRow>(header: &[String], row: &R) -> String {
    let mut map = serde_json::Map::new();
    for i in 0..row.width() {
        let key = match header.get(i) {
            Some(h) if !h.trim().is_empty() && !map.contains_key(h.trim()) => h.trim().to_owned(),
            _ => format!("column_{}", i + 1),
        };
        map.insert(
            key,
            serde_json::Value::String(row.cell(i).to_text().into_owned()),
        );
    }
    serde_json::Value::Object(map).to_string()
}

fn quarantine_frame(source: &str, rows: &[QuarantineRow]) -> PolarsResult<DataFrame> {
    let n = rows.len();
    DataFrame::new(
        n,
        vec![
            Column::new("source".into(), vec![source; n]),
            Column::new(
                "file".into(),
                rows.iter().map(|r| r.file.as_ref()).collect::<Vec<_>>(),
            ),
            Column::new(
                "line".into(),
                rows.iter().map(|r| r.line as i64).collect::<Vec<_>>(),
            ),
            Column::new(
                "reason".into(),
                rows.iter().map(|r| r.reason).collect::<Vec<_>>(),
            ),
            Column::new(
                "field".into(),
                rows.iter().map(|r| r.field).collect::<Vec<_>>(),
            ),
            Column::new(
                "raw".into(),
                rows.iter().map(|r| r.raw.as_str()).collect::<Vec<_>>(),
            ),
        ],
    )
}

/// Text of a cell with surrounding white space, BOMs and zero-width spaces removed.
pub(crate) fn clean_text(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace() || matches!(c, '\u{FEFF}' | '\u{200B}'))
}

fn cell_text(cell: Cell<'_>) -> Option<std::borrow::Cow<'_, str>> {
    match cell {
        Cell::Empty => None,
        Cell::Text(s) => {
            let t = clean_text(s);
            (!t.is_empty()).then_some(std::borrow::Cow::Borrowed(t))
        }
        other => Some(std::borrow::Cow::Owned(other.to_text().into_owned())),
    }
}

/// Turns one cell into the canonical value of a field.
pub(crate) fn parse_cell(
    f: &FieldSpec,
    cell: Cell<'_>,
    known_villages: Option<&HashSet<String>>,
    code: Option<&CodeTable>,
) -> (Value, Option<Invalid>) {
    let invalid = |reason| (Value::Null, Some(Invalid::new(reason)));
    match f.kind {
        FieldKind::Date | FieldKind::DateTime | FieldKind::Month => {
            let month = f.kind == FieldKind::Month;
            let parsed = match cell {
                Cell::Empty => return (Value::Null, None),
                Cell::Date(d) => Ok(d),
                Cell::Int(i) if month => month_from_number(i as f64),
                Cell::Float(x) if month => month_from_number(x),
                Cell::Int(i) => date_from_number(i as f64),
                Cell::Float(x) => date_from_number(x),
                Cell::Text(s) if month => match parse_month(s) {
                    Err(DateError::Empty) => return (Value::Null, None),
                    other => other.map(DateValue::Date),
                },
                Cell::Text(s) => match parse_date(s) {
                    Err(DateError::Empty) => return (Value::Null, None),
                    other => other,
                },
            };
            match parsed {
                Ok(d) if f.kind != FieldKind::DateTime => (Value::Date(d.date()), None),
                Ok(d) => (Value::DateTime(d.date(), d.datetime()), None),
                Err(e) => (
                    Value::Null,
                    Some(Invalid {
                        reason: if e == DateError::Impossible {
                            "impossible_date"
                        } else {
                            "unrecognised_date"
                        },
                        bad_date: true,
                    }),
                ),
            }
        }
        FieldKind::ResidentId => match cell {
            Cell::Empty => (Value::Null, None),
            // Excel stores numbers as doubles: an 18-digit ID in a numeric cell has lost its
            // last digits already. It is named, never "repaired".
            Cell::Float(x) => (
                Value::Id(None, float_text(x).into()),
                Some(Invalid::new("excel_numeric")),
            ),
            other => {
                let Some(text) = cell_text(other) else {
                    return (Value::Null, None);
                };
                let input = normalize_id(&text);
                if input.is_empty() {
                    return (Value::Null, None);
                }
                // Nearly every ID of an extract is valid as written: it is its own normal
                // form, checked without building a `ResidentId`.
                if ResidentId::is_valid_normal(&input) {
                    let id = PlSmallStr::from_str(&input);
                    return (Value::Id(Some(id.clone()), id), None);
                }
                match ResidentId::parse(&input) {
                    Ok(id) => (
                        Value::Id(Some(id.as_str().into()), input.as_ref().into()),
                        None,
                    ),
                    Err(damage) => (
                        Value::Id(None, input.as_ref().into()),
                        Some(Invalid::new(damage.code())),
                    ),
                }
            }
        },
        _ => {
            let Some(text) = cell_text(cell) else {
                return (Value::Null, None);
            };
            match f.kind {
                FieldKind::Text => (Value::Str(text.as_ref().into()), None),
                FieldKind::Name if name_is_normal(&text) => {
                    (Value::Str(text.as_ref().into()), None)
                }
                FieldKind::Name => match normalize_name(&text) {
                    Some(n) => (Value::Str(n.into()), None),
                    None => (Value::Null, None),
                },
                FieldKind::Village => {
                    let parsed = if village_as_written(&text) {
                        Ok(PlSmallStr::from_str(&text))
                    } else {
                        VillageCode::parse(&text).map(|code| PlSmallStr::from_str(code.as_str()))
                    };
                    match parsed {
                        Ok(code) => {
                            let unknown =
                                known_villages.is_some_and(|k| !k.contains(code.as_str()));
                            (
                                Value::Str(code),
                                unknown.then(|| Invalid::new("unknown_village")),
                            )
                        }
                        Err(_) => invalid("invalid_village"),
                    }
                }
                FieldKind::AreaCode => {
                    let t = text.trim_start_matches('\'');
                    let t = t.strip_suffix(".0").unwrap_or(t);
                    if t.len() == 6 && t.bytes().all(|b| b.is_ascii_digit()) {
                        (Value::Str(t.into()), None)
                    } else {
                        invalid("invalid_area_code")
                    }
                }
                FieldKind::Sex => match Sex::parse(&text) {
                    Some(s) => (Value::Int(s.code()), None),
                    None => invalid("invalid_sex"),
                },
                FieldKind::Int { min, max } => match parse_small_int(&text) {
                    Some(i) if (min..=max).contains(&i) => (Value::Int(i), None),
                    Some(_) => invalid("out_of_range"),
                    None => invalid("not_a_number"),
                },
                FieldKind::Float { min, max } => match parse_number(&text) {
                    Some(x) if x >= min && x <= max => (Value::Float(x), None),
                    Some(_) => invalid("out_of_range"),
                    None => invalid("not_a_number"),
                },
                FieldKind::Bool => match parse_bool(&text) {
                    Some(b) => (Value::Bool(b), None),
                    None => invalid("invalid_bool"),
                },
                FieldKind::Certificate => match poprecon_model::CertificateNo::parse(&text) {
                    Ok(c) => (Value::Str(c.as_str().into()), None),
                    Err(_) => invalid("certificate_format"),
                },
                FieldKind::Code(map) => {
                    match code.map_or_else(|| map.lookup(&text), |t| t.lookup(&text)) {
                        Some(code) => (Value::Str(PlSmallStr::from_static(code)), None),
                        None => invalid("unknown_code"),
                    }
                }
                FieldKind::Date
                | FieldKind::DateTime
                | FieldKind::Month
                | FieldKind::ResidentId => {
                    unreachable!("handled above")
                }
            }
        }
    }
}

/// Twelve ASCII digits: a village code as written (`VillageCode::parse` would return it
/// unchanged), so the row loop and the column-wise path take it as it is.
pub(crate) fn village_as_written(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `normalize_name` would return `text` unchanged: no white space, no middle-dot
/// variant to fold, and already in NFKC. Lets the common name through without allocating.
pub(crate) fn name_is_normal(text: &str) -> bool {
    use unicode_normalization::{IsNormalized, is_nfkc_quick};
    // Most names are CJK unified ideographs alone, each its own NFKC form (no decomposition,
    // combining class 0: `cjk_unified_ideographs_are_nfkc` checks every one).
    if !text.is_empty() && text.chars().all(is_cjk_unified) {
        return true;
    }
    !text.is_empty()
        && !text
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '\u{30FB}' | '\u{FF65}' | '\u{2027}'))
        && is_nfkc_quick(text.chars()) == IsNormalized::Yes
}

/// A CJK unified ideograph of the basic block (U+4E00–U+9FFF).
fn is_cjk_unified(c: char) -> bool {
    ('\u{4E00}'..='\u{9FFF}').contains(&c)
}

/// A number in a date column: `20250304` as a number, or an Excel serial.
fn date_from_number(x: f64) -> Result<DateValue, DateError> {
    if x.fract() == 0.0 && (19_000_101.0..=29_991_231.0).contains(&x) {
        return parse_date(&format!("{x:.0}"));
    }
    match poprecon_model::excel_serial_to_datetime(x) {
        Some(t) if t.time() == chrono::NaiveTime::MIN => Ok(DateValue::Date(t.date())),
        Some(t) => Ok(DateValue::DateTime(t)),
        None => Err(DateError::Unrecognised),
    }
}

/// A number in a month column: `201909` as a number is a month; anything else is read as
/// a date would be (`20190901`, an Excel serial).
fn month_from_number(x: f64) -> Result<DateValue, DateError> {
    if x.fract() == 0.0 && (190_001.0..=299_912.0).contains(&x) {
        return parse_month(&format!("{x:.0}")).map(DateValue::Date);
    }
    date_from_number(x)
}

/// Whole numbers as extracts write them: `2`, `2.0`, `第2孩`, `二孩`, `3剂`, full-width digits.
pub fn parse_small_int(text: &str) -> Option<i32> {
    use unicode_normalization::UnicodeNormalization;
    // The common case, plain digits, needs no normalisation.
    if let Ok(i) = text.trim().parse::<i32>() {
        return Some(i);
    }
    let s: String = text.nfkc().collect();
    let s = s.trim();
    let s = s.strip_prefix('第').unwrap_or(s);
    let s = s.trim_end_matches(['孩', '胎', '剂', '针', '次', '个', '周', '天']);
    let s = s.trim();
    if let Ok(i) = s.parse::<i32>() {
        return Some(i);
    }
    if let Some(int) = s.strip_suffix(".0")
        && let Ok(i) = int.parse::<i32>()
    {
        return Some(i);
    }
    chinese_numeral(s)
}

fn chinese_numeral(s: &str) -> Option<i32> {
    let digit = |c: char| {
        Some(match c {
            '零' | '〇' => 0,
            '一' | '壹' => 1,
            '二' | '两' | '贰' => 2,
            '三' | '叁' => 3,
            '四' | '肆' => 4,
            '五' | '伍' => 5,
            '六' | '陆' => 6,
            '七' | '柒' => 7,
            '八' | '捌' => 8,
            '九' | '玖' => 9,
            _ => return None,
        })
    };
    let chars: Vec<char> = s.chars().collect();
    match chars.as_slice() {
        ['十'] => Some(10),
        [d] => digit(*d),
        ['十', d] => Some(10 + digit(*d)?),
        [t, '十'] => Some(10 * digit(*t)?),
        [t, '十', d] => Some(10 * digit(*t)? + digit(*d)?),
        _ => None,
    }
}

/// Decimal numbers, with the units extracts append (`3200g`, `3200克`, `38周`).
pub fn parse_number(text: &str) -> Option<f64> {
    use unicode_normalization::UnicodeNormalization;
    if let Ok(x) = text.trim().parse::<f64>() {
        return x.is_finite().then_some(x);
    }
    let s: String = text.nfkc().collect();
    let s = s
        .trim()
        .trim_end_matches(['g', 'G', '克', '周', '+'])
        .trim();
    let x: f64 = s.parse().ok()?;
    x.is_finite().then_some(x)
}

/// Yes/no as extracts write it.
pub fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "是" | "1" | "y" | "yes" | "true" | "高危" | "有" => Some(true),
        "否" | "0" | "n" | "no" | "false" | "非高危" | "无" | "一般" => Some(false),
        _ => None,
    }
}
