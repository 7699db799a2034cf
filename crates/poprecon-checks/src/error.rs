/// Why the checks could not run. Discrepancies are not errors (they are the output); these
/// are faults of the configuration or of an input table's schema.
/// Messages name the setting, table, column or line at fault, never a value of the data.
#[derive(Debug, thiserror::Error)]
pub enum ChecksError {
    #[error("invalid setting `{key}`: {message}")]
    Config { key: String, message: String },
    #[error("table `{table}` has no column `{column}`{hint}")]
    MissingColumn {
        table: String,
        column: String,
        hint: &'static str,
    },
    #[error("table `{table}`, column `{column}`: expected {expected}, found {found}")]
    ColumnType {
        table: String,
        column: String,
        expected: &'static str,
        found: String,
    },
    #[error("local rule `{id}`: {message}")]
    LocalRule { id: String, message: String },
    #[error("table `{table}`: {message}")]
    Frame { table: String, message: String },
}

impl ChecksError {
    /// Wraps a polars error. A polars message may quote values of the data (a failed cast
    /// lists them): only its text up to the first quoted part is kept.
    pub(crate) fn frame(table: &str) -> impl Fn(polars::error::PolarsError) -> ChecksError {
        let table = table.to_owned();
        move |e| ChecksError::Frame {
            table: table.clone(),
            message: safe_message(&e.to_string()),
        }
    }
}

/// The first line of a polars message, cut before anything quoted.
pub(crate) fn safe_message(text: &str) -> String {
    let first = text.lines().next().unwrap_or_default();
    let cut = first.find(['[', '"', '\'', '`']).unwrap_or(first.len());
    first[..cut].trim_end().to_owned()
}
