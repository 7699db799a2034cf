use std::path::PathBuf;

use crate::read::Format;

/// Why a source could not be ingested. Bad rows are not errors (they are quarantined);
/// these are the faults that stop a source: the file, its encoding, its header, or a broken
/// invariant. Messages name the file and, where known, the line and column; never a value
/// from the data.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("cannot read `{}`: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("`{}` is empty (0 bytes)", path.display())]
    EmptyFile { path: PathBuf },
    #[error(
        "`{}` has a header but no rows\nhint: set `allow_empty = true` for this source if an empty extract is expected",
        path.display()
    )]
    HeaderOnly { path: PathBuf },
    #[error("`{}` is not a text file: it holds binary data", path.display())]
    Binary { path: PathBuf },
    #[error("`{}` is declared {} but is {found}", path.display(), declared.as_str())]
    WrongFormat {
        path: PathBuf,
        declared: Format,
        found: &'static str,
    },
    #[error(
        "`{}` is not valid UTF-8 (first bad byte on line {line}){}",
        path.display(),
        if *looks_gb { "\nhint: it decodes as GB18030: set `encoding = \"gb18030\"` (or `\"auto\"`) for this source" } else { "" }
    )]
    NotUtf8 {
        path: PathBuf,
        line: u64,
        looks_gb: bool,
    },
    #[error(
        "`{}` does not decode as {encoding}: {bad_lines} of {lines} lines hold undecodable bytes\nhint: check the `encoding` of this source",
        path.display()
    )]
    Undecodable {
        path: PathBuf,
        encoding: String,
        bad_lines: u64,
        lines: u64,
    },
    #[error("`{}`, line {line}: malformed CSV: {message}", path.display())]
    Csv {
        path: PathBuf,
        line: u64,
        message: String,
    },
    #[error(
        "`{}`: no column for required field `{field}` ({label})\nhint: tried the headers {tried}; map it in the pipeline under `[sources.{source_id}.columns]`, e.g. `{field} = \"<header>\"`",
        path.display()
    )]
    MissingColumn {
        path: PathBuf,
        source_id: &'static str,
        field: &'static str,
        label: &'static str,
        tried: String,
    },
    #[error(
        "`{}`: the pipeline maps field `{field}` to header `{header}`, which the file does not have\nhint: the file's headers are {available}",
        path.display()
    )]
    MappedColumnMissing {
        path: PathBuf,
        field: String,
        header: String,
        available: String,
    },
    #[error(
        "`{}`: header `{header}` appears in columns {first} and {second}, so field `{field}` is ambiguous",
        path.display()
    )]
    DuplicateColumn {
        path: PathBuf,
        header: String,
        field: &'static str,
        first: usize,
        second: usize,
    },
    #[error("`{}`: the pipeline maps unknown field `{field}` for source `{source_id}`\nhint: the fields of `{source_id}` are {known}", path.display())]
    UnknownField {
        path: PathBuf,
        source_id: &'static str,
        field: String,
        known: String,
    },
    #[error(
        "source `{source_id}`: the pipeline maps `{spelling}` of field `{field}` to `{code}`, which is not one of its codes\nhint: the codes of `{field}` are {known}"
    )]
    UnknownCanonicalCode {
        source_id: &'static str,
        field: &'static str,
        spelling: String,
        code: String,
        known: String,
    },
    #[error("`{}`: cannot read the workbook: {message}", path.display())]
    Xlsx { path: PathBuf, message: String },
    #[error("`{}` has no sheet `{sheet}`\nhint: its sheets are `{available}`", path.display())]
    NoSheet {
        path: PathBuf,
        sheet: String,
        available: String,
    },
    #[error("`{}`: cannot read the Parquet file: {message}", path.display())]
    Parquet { path: PathBuf, message: String },
    #[error(
        "`{}`, column `{column}` (field `{field}`): expected {expected}, found {found}\nhint: a column of this type would be read as something it is not; export it as {expected}",
        path.display()
    )]
    ParquetType {
        path: PathBuf,
        column: String,
        field: &'static str,
        expected: &'static str,
        found: String,
    },
    /// Any of the other errors, with the source whose file it is about.
    #[error("source `{source_id}`: {error}")]
    InSource {
        source_id: &'static str,
        error: Box<IngestError>,
    },
    #[error("source `{source_id}`: building the canonical table failed: {message}")]
    Frame {
        source_id: &'static str,
        message: String,
    },
    #[error(
        "source `{source_id}`: rows not conserved: read {read} but accepted {accepted} + quarantined {quarantined} (a bug: please report it)"
    )]
    Conservation {
        source_id: &'static str,
        read: u64,
        accepted: u64,
        quarantined: u64,
    },
}

impl IngestError {
    /// The error with the source it concerns, unless it names it already.
    pub fn in_source(self, source_id: &'static str) -> IngestError {
        match self {
            IngestError::InSource { .. }
            | IngestError::Frame { .. }
            | IngestError::Conservation { .. }
            | IngestError::UnknownCanonicalCode { .. } => self,
            error => IngestError::InSource {
                source_id,
                error: Box::new(error),
            },
        }
    }

    /// The error itself, without the source it was reported for.
    pub fn inner(&self) -> &IngestError {
        match self {
            IngestError::InSource { error, .. } => error.inner(),
            other => other,
        }
    }
}
