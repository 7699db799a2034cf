use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};

use crate::exit;

const AFTER_HELP: &str = "\
Exit codes:
  0  success
  1  failure: the pipeline, an input file or the output folder is wrong (the message names it)
  2  command-line usage error

Logs go to stderr (`-v` info, `-vv` debug, `-vvv` trace; `RUST_LOG` overrides). They never
contain an ID number, a name or a birth date: rows are referred to by source, file and line.";

/// Cross-validates birth, health and registry records and measures them per village.
#[derive(Debug, Parser)]
#[command(name = "poprecon", version, about, after_help = AFTER_HELP)]
pub struct Cli {
    /// More log output on stderr (repeat for more).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Only errors on stderr; no progress bars.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Checks a pipeline file and the headers of every input it names, without running it.
    Validate {
        /// The pipeline file (TOML), e.g. `pipelines/sample.toml`.
        pipeline: PathBuf,
    },
    /// Reads every source of a pipeline into canonical Parquet tables.
    ///
    /// Writes `<OUT>/<source>.parquet` (accepted rows, canonical columns),
    /// `<OUT>/quarantine/<source>.parquet` (rejected rows with file, line, raw cells and
    /// reason) and `<OUT>/ingest.json` (the counts), then prints a table per source:
    /// read / accepted / quarantined by reason / invalid fields by kind. The folder is
    /// written in full or not at all.
    Ingest {
        /// The pipeline file (TOML).
        pipeline: PathBuf,
        /// The output folder (replaced when the ingest succeeds).
        #[arg(long, default_value = "out/ingest")]
        out: PathBuf,
    },
}

pub fn init_tracing(verbose: u8, quiet: bool) {
    use tracing_subscriber::EnvFilter;
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        (false, _) => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::env::var_os("NO_COLOR").is_none())
        .with_target(false)
        .init();
}

pub fn dispatch(cli: &Cli) -> Result<u8> {
    match &cli.command {
        Command::Validate { pipeline } => {
            let plan = load(pipeline)?;
            crate::ingest_cmd::validate(&plan)?;
            Ok(exit::OK)
        }
        Command::Ingest { pipeline, out } => {
            let plan = load(pipeline)?;
            crate::ingest_cmd::ingest(&plan, out, !cli.quiet)?;
            Ok(exit::OK)
        }
    }
}

fn load(pipeline: &std::path::Path) -> Result<poprecon_pipeline::Plan> {
    // The pipeline's own errors name the file and the key at fault.
    Ok(poprecon_pipeline::Plan::load(pipeline)?)
}
