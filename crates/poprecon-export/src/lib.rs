//! Exports of a run's tables for people: XLSX (Excel/WPS) or CSV, per audience.
//!
//! [`Audience`] decides what leaves the run folder: assessors get aggregates only, with
//! small counts suppressed ([`suppress_small`]); analysts get person-level rows with every
//! resident ID masked ([`mask_ids`]); the data team gets everything. An export that must
//! join across runs replaces identifiers with keyed pseudonyms instead ([`Pseudonymizer`]:
//! HMAC-SHA256 under a key that never leaves the machine). Every text cell that a
//! spreadsheet would read as a formula is neutralised ([`neutralize`]). [`write_table`]
//! writes one table with Chinese (or English) headers, applying an [`IdPolicy`].
//! [`AssessorWorkbook`] writes the assessors' one formatted workbook of a run.

pub mod checklist;
#[cfg(test)]
mod tests;
mod workbook;

pub use workbook::{
    AssessorWorkbook, COUNT_FORMAT, DATE_FORMAT, PERCENT_FORMAT, RATIO_FORMAT, SCORE_FORMAT,
    SUPPRESSED_MARK,
};

use std::borrow::Cow;
use std::path::Path;

use hmac::{Hmac, Mac};
use polars::prelude::*;
use sha2::Sha256;

/// Who an export is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// 考核人员: aggregates only, small counts suppressed.
    Assessor,
    /// 分析人员: person-level rows with IDs masked.
    Analyst,
    /// 数据组: everything, in clear.
    DataTeam,
}

impl std::str::FromStr for Audience {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "assessor" => Ok(Audience::Assessor),
            "analyst" => Ok(Audience::Analyst),
            "data-team" | "data_team" => Ok(Audience::DataTeam),
            other => Err(format!(
                "unknown audience `{other}` (use `assessor`, `analyst` or `data-team`)"
            )),
        }
    }
}

/// File format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Xlsx,
    Csv,
}

impl std::str::FromStr for ExportFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "xlsx" => Ok(ExportFormat::Xlsx),
            "csv" => Ok(ExportFormat::Csv),
            other => Err(format!("unknown format `{other}` (use `xlsx` or `csv`)")),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("cannot write `{}`: {message}", path.display())]
    Write {
        path: std::path::PathBuf,
        message: String,
    },
    #[error("table `{table}`: {message}")]
    Table { table: String, message: String },
}

/// A cell a spreadsheet would evaluate (`=`, `+`, `-`, `@`, tab, carriage return first) is
/// prefixed with `'` so that it is shown as text.
pub fn neutralize(s: &str) -> Cow<'_, str> {
    match s.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => Cow::Owned(format!("'{s}")),
        _ => Cow::Borrowed(s),
    }
}

pub use poprecon_model::mask_ids;
use poprecon_model::replace_ids;

/// The smallest pseudonym key accepted, in bytes: a short key could be found by trying
/// keys against a known ID.
pub const MIN_KEY_BYTES: usize = 16;

/// Keyed pseudonyms for identifiers: `P` and the first 16 hex digits of
/// HMAC-SHA256(key, normalised identifier).
///
/// The same key gives the same pseudonym for the same person in every export and every
/// run, so that pseudonymised exports join with each other; without the key, a pseudonym
/// cannot be traced back to an ID by hashing candidate IDs (an unkeyed hash could, as the
/// ID space is small). Resident IDs are normalised first (full-width digits, `x`, spaces,
/// a legacy 15-digit number upgraded to 18), so every spelling of one ID gives one
/// pseudonym; other identifiers (record keys) are trimmed.
#[derive(Clone)]
pub struct Pseudonymizer {
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for Pseudonymizer {
    /// Never shows the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pseudonymizer(..)")
    }
}

/// Why a pseudonym key is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the pseudonym key is {0} bytes long; at least {MIN_KEY_BYTES} are needed")]
    TooShort(usize),
}

impl Pseudonymizer {
    /// A pseudonymizer with `key` (at least [`MIN_KEY_BYTES`] bytes).
    pub fn new(key: &[u8]) -> Result<Self, KeyError> {
        if key.len() < MIN_KEY_BYTES {
            return Err(KeyError::TooShort(key.len()));
        }
        let mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any size");
        Ok(Pseudonymizer { mac })
    }

    /// The pseudonym of one identifier; `None` for an empty one.
    pub fn pseudonym(&self, value: &str) -> Option<String> {
        let trimmed = value.trim();
        if trimmed.is_empty() {
            return None;
        }
        let normalized = poprecon_model::ResidentId::parse(trimmed);
        let normalized = match &normalized {
            Ok(id) => id.as_str(),
            Err(_) => trimmed,
        };
        let mut mac = self.mac.clone();
        mac.update(normalized.as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut out = String::with_capacity(17);
        out.push('P');
        for b in &digest[..8] {
            out.push_str(&format!("{b:02x}"));
        }
        Some(out)
    }

    /// Replaces every resident ID in a free text (e.g. the `values` of a discrepancy) with
    /// its pseudonym, where [`mask_ids`] would mask it.
    pub fn pseudonymize_text<'a>(&self, s: &'a str) -> Cow<'a, str> {
        replace_ids(s, |id| self.pseudonym(id).unwrap_or_default())
    }
}

/// Whether a column holds identifiers of persons or records, pseudonymised whole under
/// [`IdPolicy::Pseudonymize`]: resident-ID columns (`mother_id`, `person_id`, ...,
/// `<field>_input`), record keys (`key`, `record_key`, `<source>_key`,
/// `<source>_other_keys`) and the ids poprecon derives from record keys (`birth_id`,
/// `discrepancy_id`): those are unkeyed hashes of keys that may be resident IDs, which
/// anyone can recompute from candidate IDs. Catalogue ids (`rule_id`, `indicator_id`) stay.
pub fn is_identifier_column(name: &str) -> bool {
    const CATALOGUE: [&str; 2] = ["rule_id", "indicator_id"];
    if CATALOGUE.contains(&name) {
        return false;
    }
    name == "key"
        || name.ends_with("_key")
        || name.ends_with("_keys")
        || name.ends_with("_id")
        || name.ends_with("_id_input")
}

/// What an export does with identifiers.
#[derive(Debug, Clone, Copy)]
pub enum IdPolicy<'a> {
    /// Everything in clear (the data team).
    Clear,
    /// Resident IDs in text cells masked (`340302********0019`).
    Mask,
    /// Identifier columns ([`is_identifier_column`]) replaced by keyed pseudonyms, a list of
    /// keys (`;`- or `,`-separated) key by key; resident IDs in any other text cell too.
    Pseudonymize(&'a Pseudonymizer),
}

/// Replaces counts below `threshold` (but above 0) in the given columns with null and
/// marks the row in a `suppressed` column; a rate computed from them is nulled too.
pub fn suppress_small(
    df: &DataFrame,
    count_columns: &[&str],
    rate_columns: &[&str],
    threshold: i64,
) -> PolarsResult<DataFrame> {
    let mut small = lit(false);
    for c in count_columns {
        if df.schema().contains(c) {
            let v = col(*c).cast(DataType::Int64);
            small = small.or(v.clone().gt(lit(0)).and(v.lt(lit(threshold))));
        }
    }
    let mut exprs = vec![small.clone().alias("suppressed")];
    for c in count_columns.iter().chain(rate_columns) {
        if df.schema().contains(c) {
            exprs.push(
                when(small.clone())
                    .then(lit(NULL).cast(df.schema().get(c).cloned().unwrap_or(DataType::Null)))
                    .otherwise(col(*c))
                    .alias(*c),
            );
        }
    }
    df.clone().lazy().with_columns(exprs).collect()
}

/// Writes one table as an XLSX workbook (one sheet) or a UTF-8-with-BOM CSV (which Excel
/// and WPS open with Chinese intact). `headers` maps column names to the labels people read;
/// unknown columns keep their names. `ids` says what becomes of identifiers.
pub fn write_table(
    df: &DataFrame,
    path: &Path,
    format: ExportFormat,
    sheet: &str,
    headers: &dyn Fn(&str) -> Option<String>,
    ids: IdPolicy<'_>,
) -> Result<(), ExportError> {
    let write_err = |message: String| ExportError::Write {
        path: path.to_owned(),
        message,
    };
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|c| headers(c).unwrap_or_else(|| c.to_string()))
        .collect();
    let columns: Vec<Vec<Cell>> = df
        .columns()
        .iter()
        .map(|c| cells(c.as_materialized_series(), ids))
        .collect::<PolarsResult<_>>()
        .map_err(|e| ExportError::Table {
            table: sheet.to_owned(),
            message: e.to_string(),
        })?;
    match format {
        ExportFormat::Csv => {
            let mut bytes = b"\xEF\xBB\xBF".to_vec();
            {
                let mut w = csv::Writer::from_writer(&mut bytes);
                w.write_record(names.iter().map(|n| neutralize(n).into_owned()))
                    .map_err(|e| write_err(e.to_string()))?;
                for i in 0..df.height() {
                    w.write_record(columns.iter().map(|c| match &c[i] {
                        Cell::Null => String::new(),
                        Cell::Num(x) => format_number(*x),
                        Cell::Text(s) => neutralize(s).into_owned(),
                    }))
                    .map_err(|e| write_err(e.to_string()))?;
                }
                w.flush().map_err(|e| write_err(e.to_string()))?;
            }
            std::fs::write(path, bytes).map_err(|e| write_err(e.to_string()))
        }
        ExportFormat::Xlsx => {
            let mut book = rust_xlsxwriter::Workbook::new();
            let ws = book.add_worksheet();
            ws.set_name(sheet).map_err(|e| write_err(e.to_string()))?;
            let bold = rust_xlsxwriter::Format::new().set_bold();
            for (c, n) in names.iter().enumerate() {
                ws.write_string_with_format(0, c as u16, neutralize(n).as_ref(), &bold)
                    .map_err(|e| write_err(e.to_string()))?;
            }
            for (c, col) in columns.iter().enumerate() {
                for (i, v) in col.iter().enumerate() {
                    let row = i as u32 + 1;
                    match v {
                        Cell::Null => {}
                        Cell::Num(x) => {
                            ws.write_number(row, c as u16, *x)
                                .map_err(|e| write_err(e.to_string()))?;
                        }
                        // Strings are written as strings, never as formulas; the prefix
                        // keeps them inert when the sheet is saved again as CSV.
                        Cell::Text(s) => {
                            ws.write_string(row, c as u16, neutralize(s).as_ref())
                                .map_err(|e| write_err(e.to_string()))?;
                        }
                    }
                }
            }
            ws.set_freeze_panes(1, 0)
                .map_err(|e| write_err(e.to_string()))?;
            book.save(path).map_err(|e| write_err(e.to_string()))
        }
    }
}

enum Cell {
    Null,
    Num(f64),
    Text(String),
}

fn cells(s: &Series, ids: IdPolicy<'_>) -> PolarsResult<Vec<Cell>> {
    let identifiers = is_identifier_column(s.name());
    Ok(match s.dtype() {
        // An identifier stored as a number (a spreadsheet's doing) is still an identifier.
        dt if dt.is_primitive_numeric()
            && !(identifiers && matches!(ids, IdPolicy::Pseudonymize(_))) =>
        {
            s.cast(&DataType::Float64)?
                .f64()?
                .iter()
                .map(|v| v.filter(|x| x.is_finite()).map_or(Cell::Null, Cell::Num))
                .collect()
        }
        _ => s
            .cast(&DataType::String)?
            .str()?
            .iter()
            .map(|v| match (v, ids) {
                (None, _) => Cell::Null,
                (Some(t), IdPolicy::Clear) => Cell::Text(t.to_owned()),
                (Some(t), IdPolicy::Mask) => Cell::Text(mask_ids(t).into_owned()),
                (Some(t), IdPolicy::Pseudonymize(p)) if identifiers => {
                    Cell::Text(pseudonymize_keys(p, t))
                }
                (Some(t), IdPolicy::Pseudonymize(p)) => {
                    Cell::Text(p.pseudonymize_text(t).into_owned())
                }
            })
            .collect(),
    })
}

/// The pseudonym of an identifier cell; a list of keys (`a;b`, `a,b`) key by key.
fn pseudonymize_keys(p: &Pseudonymizer, cell: &str) -> String {
    let mut out = String::with_capacity(cell.len().max(17));
    let mut rest = cell;
    loop {
        let end = rest.find([';', ',']).unwrap_or(rest.len());
        if let Some(pseudonym) = p.pseudonym(&rest[..end]) {
            out.push_str(&pseudonym);
        }
        match rest[end..].chars().next() {
            Some(sep) => {
                out.push(sep);
                rest = &rest[end + sep.len_utf8()..];
            }
            None => break,
        }
    }
    out
}

fn format_number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        format!("{x}")
    }
}
