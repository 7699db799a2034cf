//! What goes to stderr: the tracing subscriber (text or JSON lines) and the few lines the
//! binary writes itself (the closing line of a run, alerts, errors), in the same format.
//!
//! Colour only when stderr is a terminal and `NO_COLOR` is unset or empty
//! (<https://no-color.org>): cron mail, journald and scheduler logs get plain text. With
//! `--log-format json` every line on stderr is one JSON object, so that a scheduler's log
//! collector can parse it.

use std::io::{IsTerminal, Write};
use std::sync::OnceLock;

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Lines for people (coloured on a terminal).
    #[default]
    Text,
    /// One JSON object per line (tracing-subscriber's JSON layout).
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!(
                "unknown log format `{other}` (use `text` or `json`)"
            )),
        }
    }
}

static FORMAT: OnceLock<LogFormat> = OnceLock::new();

/// Whether stderr gets colour: a terminal, and no `NO_COLOR`.
pub fn colour() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Sets up the subscriber: level from `-q`/`-v` unless `RUST_LOG` says otherwise.
pub fn init(verbose: u8, quiet: bool, format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let _ = FORMAT.set(format);
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        (false, _) => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    match format {
        LogFormat::Text => builder.with_ansi(colour()).init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
}

/// Writes one line of the binary's own to stderr: as it is, or under `--log-format json`
/// as a JSON object in the subscriber's layout (`timestamp`, `level`, `fields.message`).
pub fn line(level: &str, text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = match FORMAT.get().copied().unwrap_or_default() {
        LogFormat::Text => writeln!(err, "{text}"),
        LogFormat::Json => writeln!(
            err,
            "{}",
            serde_json::json!({
                "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                "level": level,
                "fields": { "message": text },
            })
        ),
    };
}
