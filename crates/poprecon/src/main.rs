//! `poprecon`: cross-validates population records for health commissions.
//!
//! Only this crate knows clap, the terminal and the tracing subscriber; the libraries do no
//! printing.

mod cli;
mod export_cmd;
mod history;
mod ingest_cmd;
mod init_cmd;
mod logging;
mod output;
mod report_cmd;
mod returns_cmd;
mod run_cmd;
mod sample_cmd;

use std::process::ExitCode;

use clap::Parser;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit codes, documented in `--help`.
pub mod exit {
    /// The command did what was asked.
    pub const OK: u8 = 0;
    /// The command failed: a pipeline, input or output problem (the message says which).
    pub const FAILURE: u8 = 1;
    /// The command line was wrong (clap's own code).
    pub const USAGE: u8 = 2;
    /// The run completed and its folder is in place, but a configured alert fired.
    pub const ALERT: u8 = 3;
}

fn main() -> ExitCode {
    // A panic's message may quote the value it failed on (a slice of a name, an ID): only
    // where it happened is printed. Panics caught on purpose (a malformed workbook in the
    // XLSX reader) go through this hook too.
    std::panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map_or_else(String::new, |l| format!(" at {}:{}", l.file(), l.line()));
        logging::line(
            "ERROR",
            &format!("poprecon: internal error{at} (message withheld: it may quote personal data)"),
        );
    }));
    let cli = cli::Cli::parse();
    logging::init(cli.verbose, cli.quiet, cli.log_format);
    match cli::dispatch(&cli) {
        Ok(code) => ExitCode::from(code),
        // The reader of stdout went away (`poprecon sources | head`): what was asked is done
        // or no longer wanted; the output folders of `run` are committed before it prints.
        Err(err) if broken_pipe(&err) => ExitCode::from(exit::OK),
        Err(err) => {
            let mut text = format!("error: {}", first_line(&err));
            for cause in err.chain().skip(1) {
                text.push_str(&format!("\n  caused by: {cause}"));
            }
            logging::line("ERROR", &text);
            ExitCode::from(exit::FAILURE)
        }
    }
}

/// Whether the error is a write to a closed pipe.
fn broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The top-level message; causes follow on their own lines.
fn first_line(err: &anyhow::Error) -> String {
    err.to_string()
}
