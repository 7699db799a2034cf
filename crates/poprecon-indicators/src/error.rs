/// Why indicators or scores could not be computed. Thin areas and missing records are not
/// errors (they are output: `low_n`, 0/0 rows); these are faults of the configuration or of
/// the input tables' schema. Messages name the table, column or setting, never a value.
#[derive(Debug, thiserror::Error)]
pub enum IndicatorError {
    #[error("invalid setting `{key}`: {message}")]
    Config { key: String, message: String },
    #[error(
        "table `{table}` has no column `{column}`\nhint: pass the `births` table of `poprecon_link::link`"
    )]
    MissingColumn { table: String, column: String },
    #[error("the period starts after it ends")]
    Period,
    #[error("table `{table}`: {message}")]
    Frame { table: String, message: String },
}

impl IndicatorError {
    pub(crate) fn config(key: &str, message: impl Into<String>) -> Self {
        IndicatorError::Config {
            key: key.to_owned(),
            message: message.into(),
        }
    }

    /// A polars error, reduced to its first line up to the first quoted part: a failed cast
    /// lists values of the data, which must not reach an error message.
    pub(crate) fn frame(table: &str) -> impl Fn(polars::error::PolarsError) -> IndicatorError {
        let table = table.to_owned();
        move |e| {
            let text = e.to_string();
            let first = text.lines().next().unwrap_or_default();
            let cut = first.find(['[', '"', '\'', '`']).unwrap_or(first.len());
            IndicatorError::Frame {
                table: table.clone(),
                message: first[..cut].trim_end().to_owned(),
            }
        }
    }
}
