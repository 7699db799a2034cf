/// Why linkage could not run. Unlinkable or conflicting records are not errors (they are
/// output: unlinked births, `ambiguous` rows); these are faults of the configuration or of
/// the input tables' schema. Messages name the table and column, never a value.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("invalid setting `{key}`: {message}")]
    Config { key: String, message: String },
    #[error(
        "table `{table}` has no column `{column}`\nhint: pass the `records` table of `poprecon_ingest::ingest` for this source"
    )]
    MissingColumn { table: &'static str, column: String },
    #[error("table `{table}`, column `{column}`: expected {expected}, found {found}")]
    ColumnType {
        table: &'static str,
        column: String,
        expected: &'static str,
        found: String,
    },
    #[error("the period starts after it ends")]
    Period,
    #[error("table `{table}`: {message}")]
    Frame {
        table: &'static str,
        message: String,
    },
}

impl LinkError {
    pub(crate) fn frame(table: &'static str) -> impl Fn(polars::error::PolarsError) -> LinkError {
        // A polars message may quote values of the data (a failed cast lists them): only
        // its text up to the first quoted part is kept.
        move |e| {
            let text = e.to_string();
            let first = text.lines().next().unwrap_or_default();
            let cut = first.find(['[', '"', '\'', '`']).unwrap_or(first.len());
            LinkError::Frame {
                table,
                message: first[..cut].trim_end().to_owned(),
            }
        }
    }
}
