//! `report.html`: the analysts' report, one self-contained file (no network).
//!
//! [`render`] takes the run's tables ([`ReportInput`]) and writes one HTML page: the data
//! travels as JSON inside `<script type="application/json">` blocks and is put on the page
//! by a small script with `textContent` only, so no value from the data is ever parsed as
//! markup. Labels come in Chinese by default, English with [`Lang::En`] ([`labels`]).

mod labels;
#[cfg(test)]
mod tests;

use polars::prelude::*;
use serde_json::{Value as Json, json};

pub use labels::{Lang, basis_label, column_label, label, level_label, yes_no};

/// Why a report could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("report table `{table}`: {message}")]
    Table { table: String, message: String },
}

/// The tables a report shows; any may be absent (a section then says so).
#[derive(Debug, Clone, Copy)]
pub struct ReportInput<'a> {
    pub lang: Lang,
    /// Pipeline name and jurisdiction, for the heading.
    pub title: &'a str,
    pub as_of: &'a str,
    pub period: (&'a str, &'a str),
    pub run_id: &'a str,
    /// `indicators.parquet`.
    pub indicators: Option<&'a DataFrame>,
    /// `discrepancies.parquet`.
    pub discrepancies: Option<&'a DataFrame>,
    /// `village_discrepancies.parquet`.
    pub village_discrepancies: Option<&'a DataFrame>,
    /// Per-village linkage diagnostics.
    pub linkage: Option<&'a DataFrame>,
    /// Per-source ingest counts (one row per source).
    pub ingest: Option<&'a DataFrame>,
    /// Data quality per source and village.
    pub quality: Option<&'a DataFrame>,
    /// Counts of discrepancies by status (new/open/resolved) since the previous run.
    pub changes: Option<&'a DataFrame>,
    /// Area code → name, for headings of villages, townships and counties.
    pub area_names: &'a [(String, String)],
    /// Rule id → (Chinese name, English name).
    pub rule_names: &'a [(String, String, String)],
    /// Indicator id → (Chinese name, English name).
    pub indicator_names: &'a [(String, String, String)],
}

/// A table as JSON: column names and rows of values (numbers, strings, null).
pub fn frame_json(table: &str, df: &DataFrame) -> Result<Json, ReportError> {
    let err = |e: PolarsError| ReportError::Table {
        table: table.to_owned(),
        message: e.to_string(),
    };
    let columns: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|c| c.to_string())
        .collect();
    let mut cols = Vec::with_capacity(df.width());
    for c in df.columns() {
        let s = c.as_materialized_series();
        let values: Vec<Json> = match s.dtype() {
            dt if dt.is_integer() => s
                .cast(&DataType::Int64)
                .map_err(err)?
                .i64()
                .map_err(err)?
                .iter()
                .map(|v| v.map_or(Json::Null, Json::from))
                .collect(),
            dt if dt.is_float() => s
                .cast(&DataType::Float64)
                .map_err(err)?
                .f64()
                .map_err(err)?
                .iter()
                .map(|v| v.filter(|x| x.is_finite()).map_or(Json::Null, Json::from))
                .collect(),
            DataType::Boolean => s
                .bool()
                .map_err(err)?
                .iter()
                .map(|v| v.map_or(Json::Null, Json::from))
                .collect(),
            _ => s
                .cast(&DataType::String)
                .map_err(err)?
                .str()
                .map_err(err)?
                .iter()
                .map(|v| v.map_or(Json::Null, Json::from))
                .collect(),
        };
        cols.push(values);
    }
    let rows: Vec<Json> = (0..df.height())
        .map(|i| Json::Array(cols.iter().map(|c| c[i].clone()).collect()))
        .collect();
    Ok(json!({ "columns": columns, "rows": rows }))
}

/// JSON made safe inside a `<script>` element: `<`, `>`, `&` and the line separators are
/// escaped, so `</script>` in the data cannot close the element.
fn script_json(value: &Json) -> String {
    let s = value.to_string();
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

/// Renders the report.
pub fn render(input: &ReportInput<'_>) -> Result<String, ReportError> {
    let table = |name: &str, df: Option<&DataFrame>| -> Result<Json, ReportError> {
        df.map_or(Ok(Json::Null), |df| frame_json(name, df))
    };
    let data = json!({
        "lang": input.lang.code(),
        "labels": labels::all(input.lang),
        "meta": {
            "title": input.title,
            "as_of": input.as_of,
            "period": [input.period.0, input.period.1],
            "run_id": input.run_id,
        },
        "indicators": table("indicators", input.indicators)?,
        "discrepancies": table("discrepancies", input.discrepancies)?,
        "village_discrepancies": table("village_discrepancies", input.village_discrepancies)?,
        "linkage": table("linkage", input.linkage)?,
        "ingest": table("ingest", input.ingest)?,
        "quality": table("quality", input.quality)?,
        "changes": table("changes", input.changes)?,
        "area_names": input.area_names.iter().map(|(c, n)| json!([c, n])).collect::<Vec<_>>(),
        "rule_names": input.rule_names.iter().map(|(id, zh, en)| json!([id, zh, en])).collect::<Vec<_>>(),
        "indicator_names": input.indicator_names.iter().map(|(id, zh, en)| json!([id, zh, en])).collect::<Vec<_>>(),
    });
    let heading = format!(
        "{} — {}",
        escape_html(label(input.lang, "report_title")),
        escape_html(input.title)
    );
    Ok(fill(
        TEMPLATE,
        &[
            ("lang", input.lang.html_lang()),
            ("heading", &heading),
            ("data", &script_json(&data)),
        ],
    ))
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
