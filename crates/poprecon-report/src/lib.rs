//! `report.html`: the analysts' report, one self-contained file (no network).
//!
//! [`render`] takes the run's tables ([`ReportInput`]) and writes one HTML page with five
//! sections: indicators (a village × indicator overview coloured against the assessment
//! targets, drill-through to the births behind a cell, sex ratio with intervals, deltas
//! against the previous run), the mismatch list (each discrepancy with its records side by
//! side and the comparison waterfall of each probabilistic link), linkage (match-weight
//! histogram, m and u per comparison level, link rates, contested links), data quality and
//! quarantine. Charts are drawn by Chart.js, inlined from `assets/` (MIT, licence header
//! kept).
//!
//! Privacy: every string that reaches the page goes through [`Audience::text`], which for
//! the default [`Audience::Analyst`] is `poprecon_model::mask_ids`, the analyst export's
//! masking; [`page_data`] returns what the page embeds, so that a test can scan all of it.
//! [`Audience::DataTeam`] renders resident IDs in clear, on purpose.
//!
//! The data travels as JSON inside a `<script type="application/json">` element (gzip and
//! base64 when large: [`Limits::compress_above`]) and is put on the page with
//! `textContent` only, so no value from the data is ever parsed as markup. Labels come in
//! Chinese by default, English with [`Lang::En`] ([`labels`]).

mod data;
mod labels;
#[cfg(test)]
mod tests;
mod verification;

use std::borrow::Cow;
use std::io::Write as _;

use polars::prelude::*;
use serde_json::Value as Json;

pub use labels::{Lang, basis_label, column_label, label, level_label, yes_no};
pub use verification::with_verification;

/// Why a report could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("report table `{table}`: {message}")]
    Table { table: String, message: String },
}

impl ReportError {
    pub(crate) fn table(table: &str) -> impl Fn(PolarsError) -> ReportError + '_ {
        move |e| ReportError::Table {
            table: table.to_owned(),
            message: e.to_string(),
        }
    }
}

/// Who the report is for: what becomes of resident IDs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Audience {
    /// 分析人员 (default): every resident ID masked as in the analyst export.
    #[default]
    Analyst,
    /// 数据组: resident IDs in clear, on purpose.
    DataTeam,
}

impl Audience {
    /// A text as the page may show it.
    pub fn text(self, s: &str) -> Cow<'_, str> {
        match self {
            Audience::Analyst => poprecon_model::mask_ids(s),
            Audience::DataTeam => Cow::Borrowed(s),
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Audience::Analyst => "analyst",
            Audience::DataTeam => "data-team",
        }
    }
}

impl std::str::FromStr for Audience {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "analyst" => Ok(Audience::Analyst),
            "data-team" | "data_team" => Ok(Audience::DataTeam),
            other => Err(format!(
                "unknown audience `{other}` (use `analyst` or `data-team`)"
            )),
        }
    }
}

/// How much a report embeds.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Discrepancies whose records are embedded side by side (highest severity, newest
    /// first); the others are listed with their values and a note.
    pub detail_discrepancies: usize,
    /// Examples per quarantine reason and source.
    pub quarantine_examples: usize,
    /// The page data is gzip-compressed (and base64-encoded) above this many bytes of JSON;
    /// below it stays plain JSON, readable by any browser.
    pub compress_above: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            detail_discrepancies: 40_000,
            quarantine_examples: 5,
            compress_above: 2 << 20,
        }
    }
}

/// The size budget of `report.html` a city run (about 140 k discrepancies) must stay within.
pub const SIZE_BUDGET_BYTES: usize = 25 << 20;

/// The tables a report shows; any may be absent (a section then says so).
#[derive(Debug, Clone, Copy, Default)]
pub struct ReportInput<'a> {
    pub lang: Lang,
    pub audience: Audience,
    pub limits: Limits,
    /// Pipeline name and jurisdiction, for the heading.
    pub title: &'a str,
    pub as_of: &'a str,
    pub period: (&'a str, &'a str),
    pub run_id: &'a str,
    /// The jurisdiction's code.
    pub jurisdiction: &'a str,
    /// The linkage's match threshold (log2 odds).
    pub match_threshold: Option<f64>,
    /// `indicators.parquet`.
    pub indicators: Option<&'a DataFrame>,
    /// The previous run's `indicators.parquet`, for deltas.
    pub previous_indicators: Option<&'a DataFrame>,
    /// `indicator_births.parquet` (`poprecon_indicators::drill_through`).
    pub indicator_births: Option<&'a DataFrame>,
    /// `births.parquet`.
    pub births: Option<&'a DataFrame>,
    /// `discrepancies.parquet`.
    pub discrepancies: Option<&'a DataFrame>,
    /// `village_discrepancies.parquet`.
    pub village_discrepancies: Option<&'a DataFrame>,
    /// `links.parquet`.
    pub links: Option<&'a DataFrame>,
    /// `link_model.parquet`.
    pub link_model: Option<&'a DataFrame>,
    /// `ambiguous_links.parquet`.
    pub ambiguous: Option<&'a DataFrame>,
    /// `link_diagnostics.parquet`: per village and source, the share of records linked.
    pub linkage: Option<&'a DataFrame>,
    /// The canonical tables (`sources/<id>.parquet`), for the records side by side.
    pub sources: &'a [(String, DataFrame)],
    /// `quarantine/<id>.parquet`.
    pub quarantine: &'a [(String, DataFrame)],
    /// Per-source ingest counts (one row per source).
    pub ingest: Option<&'a DataFrame>,
    /// `data_quality.parquet`: per source, village, metric and field.
    pub quality: Option<&'a DataFrame>,
    /// Counts of discrepancies by status (new/open/resolved) since the previous run.
    pub changes: Option<&'a DataFrame>,
    /// Area code → name, for headings of villages, townships and counties.
    pub area_names: &'a [(String, String)],
    /// Rule id → (Chinese name, English name).
    pub rule_names: &'a [(String, String, String)],
    /// Indicator id → (Chinese name, English name).
    pub indicator_names: &'a [(String, String, String)],
    /// Source id → (Chinese name, English name).
    pub source_names: &'a [(String, String, String)],
    /// `source.field` → (Chinese label, English label) of canonical fields.
    pub field_names: &'a [(String, String, String)],
    /// Assessment targets: indicator id, target, floor (full credit at the target, none at
    /// the floor).
    pub targets: &'a [(String, f64, f64)],
}

/// A table as JSON: column names and rows of values (numbers, strings, null), strings as
/// `audience` may see them. The page's own tables are [`Rows`], written as they are
/// serialised; this builds the same JSON as a value.
pub fn frame_json(table: &str, df: &DataFrame, audience: Audience) -> Result<Json, ReportError> {
    let rows = Rows::of(table, df, audience)?;
    Ok(serde_json::to_value(&rows).expect("a table always serialises"))
}

/// A JSON object of the given members, moved in (`json!` copies every embedded `Value`).
pub(crate) fn object<const N: usize>(members: [(&str, Json); N]) -> Json {
    Json::Object(
        members
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    )
}

/// A table as the page reads it, `{"columns": [...], "rows": [[...], ...]}`, each value
/// read from its column as it is serialised: no JSON value is built per cell (a province's
/// 2.2 M discrepancies of 25 columns would be 55 M of them, several GiB).
///
/// Values: integers as numbers, but one long enough to be an ID (a spreadsheet's doing) as
/// a string, masked like one; floats rounded to six decimals, null when not finite;
/// booleans; anything else as its text through [`Audience::text`].
pub(crate) struct Rows {
    columns: Vec<String>,
    cells: Vec<Cells>,
    height: usize,
    audience: Audience,
}

/// One column's values, in one chunk.
enum Cells {
    Int(Int64Chunked),
    Float(Float64Chunked),
    Bool(BooleanChunked),
    Text(StringChunked),
    /// Values made by the report itself (the mismatch list's `recs`).
    Json(Vec<Json>),
}

impl Cells {
    fn of(s: &Series) -> PolarsResult<Cells> {
        Ok(match s.dtype() {
            dt if dt.is_integer() => {
                Cells::Int(s.cast(&DataType::Int64)?.i64()?.rechunk().into_owned())
            }
            dt if dt.is_float() => {
                Cells::Float(s.cast(&DataType::Float64)?.f64()?.rechunk().into_owned())
            }
            DataType::Boolean => Cells::Bool(s.bool()?.rechunk().into_owned()),
            _ => Cells::Text(s.cast(&DataType::String)?.str()?.rechunk().into_owned()),
        })
    }
}

impl Rows {
    pub(crate) fn of(table: &str, df: &DataFrame, audience: Audience) -> Result<Rows, ReportError> {
        let cells = df
            .columns()
            .iter()
            .map(|c| Cells::of(c.as_materialized_series()))
            .collect::<PolarsResult<_>>()
            .map_err(ReportError::table(table))?;
        Ok(Rows {
            columns: df
                .get_column_names()
                .iter()
                .map(|c| c.to_string())
                .collect(),
            cells,
            height: df.height(),
            audience,
        })
    }

    /// Adds a column of values made by the report, one per row.
    pub(crate) fn push_column(&mut self, name: &str, values: Vec<Json>) {
        debug_assert_eq!(values.len(), self.height);
        self.columns.push(name.to_owned());
        self.cells.push(Cells::Json(values));
    }
}

impl serde::Serialize for Rows {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("columns", &self.columns)?;
        m.serialize_entry("rows", &RowList(self))?;
        m.end()
    }
}

struct RowList<'a>(&'a Rows);

impl serde::Serialize for RowList<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq as _;
        let mut seq = s.serialize_seq(Some(self.0.height))?;
        for i in 0..self.0.height {
            seq.serialize_element(&Row(self.0, i))?;
        }
        seq.end()
    }
}

struct Row<'a>(&'a Rows, usize);

impl serde::Serialize for Row<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq as _;
        let Row(rows, i) = *self;
        let mut seq = s.serialize_seq(Some(rows.cells.len()))?;
        for cells in &rows.cells {
            seq.serialize_element(&Cell(cells, i, rows.audience))?;
        }
        seq.end()
    }
}

struct Cell<'a>(&'a Cells, usize, Audience);

impl serde::Serialize for Cell<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Cell(cells, i, audience) = *self;
        match cells {
            Cells::Int(c) => match c.get(i) {
                None => s.serialize_unit(),
                Some(x) if x.unsigned_abs() >= 100_000_000_000_000 => {
                    s.serialize_str(&audience.text(&x.to_string()))
                }
                Some(x) => s.serialize_i64(x),
            },
            Cells::Float(c) => match c.get(i).filter(|x| x.is_finite()) {
                None => s.serialize_unit(),
                Some(x) => s.serialize_f64((x * 1e6).round() / 1e6),
            },
            Cells::Bool(c) => match c.get(i) {
                None => s.serialize_unit(),
                Some(b) => s.serialize_bool(b),
            },
            Cells::Text(c) => match c.get(i) {
                None => s.serialize_unit(),
                Some(t) => s.serialize_str(&audience.text(t)),
            },
            Cells::Json(v) => serde::Serialize::serialize(&v[i], s),
        }
    }
}

/// The values of one column as JSON, strings through [`Audience::text`], as [`Rows`]
/// writes them.
pub(crate) fn column_values(s: &Series, audience: Audience) -> PolarsResult<Vec<Json>> {
    let cells = Cells::of(s)?;
    Ok((0..s.len())
        .map(|i| {
            serde_json::to_value(Cell(&cells, i, audience)).expect("a value always serialises")
        })
        .collect())
}

/// The page data: JSON values, tables written as they are serialised, and objects of them
/// (members in key order, as a JSON object's are).
pub(crate) enum Node {
    Json(Json),
    Rows(Rows),
    Members(Vec<(String, Node)>),
}

impl Node {
    /// An object of the given members, put in key order.
    pub(crate) fn members(members: impl IntoIterator<Item = (String, Node)>) -> Node {
        let mut members: Vec<(String, Node)> = members.into_iter().collect();
        members.sort_by(|a, b| a.0.cmp(&b.0));
        Node::Members(members)
    }
}

impl From<Json> for Node {
    fn from(j: Json) -> Node {
        Node::Json(j)
    }
}

impl From<Rows> for Node {
    fn from(r: Rows) -> Node {
        Node::Rows(r)
    }
}

impl serde::Serialize for Node {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        match self {
            Node::Json(j) => serde::Serialize::serialize(j, s),
            Node::Rows(r) => serde::Serialize::serialize(r, s),
            Node::Members(members) => {
                let mut m = s.serialize_map(Some(members.len()))?;
                for (k, v) in members {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
        }
    }
}

/// JSON made safe inside a `<script>` element: `<`, `>`, `&` and the line separators are
/// escaped, so `</script>` in the data cannot close the element.
fn script_json(value: &impl serde::Serialize) -> String {
    let s = serde_json::to_string(value).expect("the page data always serialises");
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// HTML-escapes text for the few values written into markup directly (the heading).
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Everything the page embeds as data, before it is encoded: every string in it is as the
/// audience may see it. [`render`] writes the same data without building this value (it
/// serialises the tables from their columns); this is for tests and inspection.
pub fn page_data(input: &ReportInput<'_>) -> Result<Json, ReportError> {
    Ok(serde_json::to_value(data::build(input)?).expect("the page data always serialises"))
}

/// Renders the report.
pub fn render(input: &ReportInput<'_>) -> Result<String, ReportError> {
    let started = std::time::Instant::now();
    let data = data::build(input)?;
    tracing::debug!(seconds = started.elapsed().as_secs_f64(), "report data");
    let started = std::time::Instant::now();
    let (json_bytes, compressed) = json_gzip(&data);
    tracing::debug!(
        seconds = started.elapsed().as_secs_f64(),
        bytes = json_bytes,
        compressed = compressed.len(),
        "report json and gzip"
    );
    let (encoding, payload) = if json_bytes > input.limits.compress_above {
        ("gzip-base64", base64(&compressed))
    } else {
        ("json", script_json(&data))
    };
    let heading = format!(
        "{} — {}",
        escape_html(label(input.lang, "report_title")),
        escape_html(&input.audience.text(input.title))
    );
    Ok(fill(
        TEMPLATE,
        &[
            ("lang", input.lang.html_lang()),
            ("heading", &heading),
            ("encoding", encoding),
            ("loading", &escape_html(label(input.lang, "loading"))),
            (
                "no_decompression",
                &escape_html(label(input.lang, "no_decompression")),
            ),
            ("data", &payload),
            ("chartjs", CHART_JS),
        ],
    ))
}

/// The page data's JSON, its length and gzip: the JSON is compressed as it is written
/// (serde_json on this thread, in pieces of 1 MiB, gzip on another), not after it is whole
/// (a city's 86 MB took 0.38 s to write and 0.32 s to compress, one after the other). The
/// page reads it as gzip, then base64 (standard alphabet, no line breaks: no `<` can occur
/// in it).
///
/// Level 3: on a city's 100 MB of JSON, 0.38 s and 11.4 MB against level 6's 1.15 s and
/// 10.1 MB (zlib-rs, measured for issue #14); the page reads every level alike.
fn json_gzip(data: &impl serde::Serialize) -> (usize, Vec<u8>) {
    /// Sends what is written in pieces of `PIECE` bytes.
    struct Pieces {
        piece: Vec<u8>,
        send: std::sync::mpsc::SyncSender<Vec<u8>>,
    }
    const PIECE: usize = 1 << 20;
    impl std::io::Write for Pieces {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.piece.extend_from_slice(bytes);
            if self.piece.len() >= PIECE {
                let full = std::mem::replace(&mut self.piece, Vec::with_capacity(2 * PIECE));
                self.send
                    .send(full)
                    .map_err(|_| std::io::Error::other("the compressing thread stopped"))?;
            }
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let (send, receive) = std::sync::mpsc::sync_channel::<Vec<u8>>(4);
    std::thread::scope(|scope| {
        let span = tracing::Span::current();
        let gzip = scope.spawn(move || {
            let _span = span.enter();
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(3));
            let mut n = 0;
            for piece in receive {
                n += piece.len();
                gz.write_all(&piece).expect("writing to memory cannot fail");
            }
            (n, gz.finish().expect("writing to memory cannot fail"))
        });
        let mut pieces = Pieces {
            piece: Vec::with_capacity(2 * PIECE),
            send,
        };
        serde_json::to_writer(&mut pieces, data).expect("the page data always serialises");
        let Pieces { piece, send } = pieces;
        if !piece.is_empty() {
            send.send(piece)
                .expect("the compressing thread runs until its input ends");
        }
        drop(send);
        gzip.join().unwrap_or_else(|e| std::panic::resume_unwind(e))
    })
}

/// Standard base64 with padding (RFC 4648 §4), as the page's `atob` reads it.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Fills `{{key}}` markers of the template in one pass, so that a value containing a marker
/// is never expanded again.
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out =
        String::with_capacity(template.len() + values.iter().map(|(_, v)| v.len()).sum::<usize>());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) => {
                let key = &after[..end];
                match values.iter().find(|(k, _)| *k == key) {
                    Some((_, v)) => out.push_str(v),
                    None => {
                        out.push_str("{{");
                        out.push_str(key);
                        out.push_str("}}");
                    }
                }
                rest = &after[end + 2..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

const TEMPLATE: &str = include_str!("report.html");

/// Chart.js 4 (MIT), the minified UMD build as published on npm, licence header kept.
/// `</script` does not occur in it (checked by a test), so it cannot close its element.
const CHART_JS: &str = include_str!("../assets/chart.umd.min.js");
