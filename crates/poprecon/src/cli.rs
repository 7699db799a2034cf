use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};

use crate::exit;

/// The exit codes, shown under `poprecon --help` and under every command's help.
macro_rules! exit_codes {
    () => {
        "\
Exit codes:
  0  success
  1  failure: the pipeline, an input file or the output folder is wrong (the message names it)
  2  command-line usage error
  3  `run` completed and wrote its folder, but an alert of the pipeline's `[alerts]` fired
     (e.g. new high-severity discrepancies)"
    };
}

const EXIT_CODES: &str = exit_codes!();

const AFTER_HELP: &str = concat!(
    exit_codes!(),
    "

Logs go to stderr (`-v` info, `-vv` debug, `-vvv` trace; `RUST_LOG` overrides), coloured only
on a terminal without `NO_COLOR`; `--log-format json` makes every stderr line a JSON object.
They never contain an ID number, a name or a birth date: rows are referred to by source, file
and line."
);

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
    /// `text` (default) or `json`: one JSON object per stderr line, for schedulers.
    #[arg(long, global = true, default_value = "text", value_name = "FORMAT")]
    pub log_format: crate::logging::LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Runs the nightly job: ingest → link → check → measure → write.
    ///
    /// `--out ROOT` keeps the history: each run is the folder `ROOT/runs/<run_id>/` and
    /// `ROOT/latest` points at the last complete one (open `ROOT/latest/report.html`). A
    /// run folder holds `manifest.json` (inputs with size, sha256 and row counts; each
    /// stage's rows and seconds), `births.parquet`, `links.parquet`,
    /// `discrepancies.parquet` (new/open/resolved against `latest`),
    /// `village_discrepancies.parquet`, `indicators.parquet`, `indicator_births.parquet`,
    /// `assessment.parquet`, `data_quality.parquet`, the linkage tables
    /// (`ambiguous_links`, `link_diagnostics`, `link_model`, `link_decisions`),
    /// `report.html`, `sources/` and `quarantine/` (with `[returns]` also
    /// `returns_comparison`, `source_completeness`, `returns_uncounted`,
    /// `uncounted_births`); every table
    /// starts with `run_id` and `as_of` columns, so `ROOT/runs/*/indicators.parquet` reads
    /// as one series. The folder is written to a temporary folder and renamed into place,
    /// then `latest` moves: a failed run leaves the history untouched. A second run on the
    /// same root is refused while one is running (`ROOT/.poprecon.lock`).
    #[command(after_help = EXIT_CODES)]
    Run {
        /// The pipeline file (TOML), e.g. `pipelines/sample.toml`.
        pipeline: PathBuf,
        /// The run root: `ROOT/runs/<run_id>/` and `ROOT/latest`.
        #[arg(long, default_value = "out/run", value_name = "ROOT")]
        out: PathBuf,
        /// Date of the extracts, overriding the pipeline's `as_of` (YYYY-MM-DD).
        #[arg(long, value_name = "DATE")]
        as_of: Option<chrono::NaiveDate>,
        /// Last night's run folder (or a run root), for new/open/resolved (default: the
        /// root's `latest` run, if any).
        #[arg(long, value_name = "DIR")]
        previous: Option<PathBuf>,
        /// Keep only the newest N runs in `ROOT/runs` after this one (default: keep all).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        keep: Option<u32>,
        /// The run's id, e.g. a scheduler's `20260131T021500` (default:
        /// `<UTC time>-<as_of>`). Ids should sort by time: `--keep` removes the first ones.
        #[arg(long, value_name = "ID")]
        run_id: Option<String>,
        /// Language of `report.html`: `zh` (default) or `en`.
        #[arg(long, default_value = "zh")]
        lang: poprecon_report::Lang,
        /// Write every accepted row of the household registry, the school, the marriage and
        /// the social-security records to `sources/<id>.parquet` (default: only the rows
        /// the night reads one by one; the extracts themselves are the input, by path and
        /// sha256 in the manifest).
        #[arg(long)]
        keep_sources: bool,
    },
    /// Writes a synthetic city: population, the nine extracts, a pipeline file and the truth.
    ///
    /// Deterministic per seed: the same seed gives byte-identical files. No real person's
    /// data is involved. Scales: village (~5 k people), county (~300 k), city (~4 M
    /// household rows, ~35 k births), province (~60 M household rows; large, never commit).
    #[command(after_help = EXIT_CODES)]
    Synth {
        /// village, county, city or province.
        #[arg(long, default_value = "village")]
        scale: poprecon_synth::Scale,
        /// Seed of the generator.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Output folder (extracts/, truth/, divisions/, pipeline.toml).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Also write a pipeline file here that reads the output folder (paths relative to it).
        #[arg(long, value_name = "PATH")]
        pipeline: Option<PathBuf>,
        /// Only the first N villages of the scale, for a small committed sample.
        #[arg(long, value_name = "N")]
        sample_villages: Option<usize>,
        /// Mean household rows per village (the scale's default otherwise).
        #[arg(long, value_name = "N")]
        rows_per_village: Option<u32>,
        /// How the extracts are exported: `bengbu` (default) or `county-b`, another county's
        /// systems (other Chinese headers, a TSV and an XLSX, one 行政区划 table among the
        /// extracts, month dates, every 险种, blank pupil IDs, a stillbirth-only community
        /// per township, mistyped IDs on claimants' deliveries; village and county scales),
        /// for `poprecon init` to read with no hand edits.
        #[arg(long, default_value = "bengbu")]
        dialect: poprecon_synth::Dialect,
        /// Also write the villages' statistical returns (`extracts/统计报表.csv`, from the
        /// truth) and the pipeline's `[returns]` entry.
        #[arg(long)]
        returns: bool,
        /// Under-reporting in a village's returns: `VILLAGE=FACTOR`, every reported count
        /// the truth × FACTOR (e.g. `340311001001=0.8`); repeat for more villages. Implies
        /// `--returns`.
        #[arg(long, value_name = "VILLAGE=FACTOR", value_parser = parse_under_report)]
        under_report: Vec<(String, f64)>,
        /// The field truth (`truth/field.parquet`: what a team at the door finds for each
        /// birth), with this share of a village's births wrong or not found: `VILLAGE=SHARE`;
        /// repeat for more villages. Written with `--returns` too (no errors then).
        #[arg(long, value_name = "VILLAGE=SHARE", value_parser = parse_under_report)]
        field_errors: Vec<(String, f64)>,
    },
    /// Exports a run's tables for people, as XLSX (Excel/WPS) or CSV.
    ///
    /// `assessor`: indicators, assessment and per-village counts only, no person-level
    /// column, counts below 5 suppressed. As XLSX, one formatted workbook named with the
    /// jurisdiction, period and as_of (考核汇总: areas down, indicators across, score, rank
    /// and veto; one sheet per level; 指标说明); as CSV, the long tables for machines.
    /// `analyst`: adds the mismatch list and births, with every resident ID masked
    /// (`340302********0019`). `data-team`: everything in clear. Cells that a spreadsheet
    /// would read as a formula are neutralised.
    ///
    /// `--pseudonymize` (analyst, data-team) replaces identifiers instead: every ID and
    /// record-key column, and every resident ID in other text, becomes `P` + 16 hex digits
    /// of HMAC-SHA256(key, normalised ID). The same key gives the same pseudonym in every
    /// export and every run, so pseudonymised exports join across runs; without the key a
    /// pseudonym cannot be traced back. The key (at least 16 bytes) is read from the file
    /// given by `--key-file` or `POPRECON_PSEUDONYM_KEY_FILE`, else from
    /// `POPRECON_PSEUDONYM_KEY`; never from the pipeline file. Keep it secret and keep it:
    /// a new key gives new pseudonyms.
    #[command(after_help = EXIT_CODES)]
    Export {
        /// A run root (`--out` of `poprecon run`: its `latest` run) or one run folder
        /// (`ROOT/runs/<run_id>`).
        run: PathBuf,
        /// assessor, analyst or data-team.
        #[arg(long = "for", value_name = "AUDIENCE")]
        audience: poprecon_export::Audience,
        /// xlsx or csv.
        #[arg(long, default_value = "xlsx")]
        format: poprecon_export::ExportFormat,
        /// Where to write the files (default: `ROOT/exports/<run_id>/`, outside the run
        /// folder, which `--keep` may remove).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Language of headers and sheet names: `zh` (default) or `en`.
        #[arg(long, default_value = "zh")]
        lang: poprecon_report::Lang,
        /// Replace identifiers with keyed pseudonyms (HMAC-SHA256) that join across runs.
        #[arg(long, alias = "pseudonymise")]
        pseudonymize: bool,
        /// The pseudonym key file (default: `POPRECON_PSEUDONYM_KEY_FILE`, else the key in
        /// `POPRECON_PSEUDONYM_KEY`). It should be readable by its owner only.
        #[arg(long, value_name = "PATH", requires = "pseudonymize")]
        key_file: Option<PathBuf>,
    },
    /// Drafts a commented pipeline file for a folder of extracts: the first hour's work.
    ///
    /// Each file's source is recognised from its headers (scored against every source's
    /// accepted headers: `poprecon sources`), with the CSV encoding detected, the best sheet
    /// of a workbook, a column map per source, the fields without a column and the headers
    /// no field reads listed as comments, and the division table found (one 行政区划 table,
    /// or three `code,name` files). The jurisdiction is what the table's villages share;
    /// `as_of` is today and the period last calendar year: check the lines marked
    /// `check:`, then run `poprecon validate`.
    #[command(after_help = EXIT_CODES)]
    Init {
        /// The folder of extracts (searched recursively; hidden files skipped).
        extracts_dir: PathBuf,
        /// Where to write the pipeline file (default: `EXTRACTS_DIR/pipeline.toml`). Paths
        /// in it are relative to its folder.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Replace the file if it exists.
        #[arg(long)]
        force: bool,
        /// The date of the extracts (`YYYY-MM-DD`; default today). The period drafted is
        /// the calendar year before it.
        #[arg(long, value_name = "DATE")]
        as_of: Option<chrono::NaiveDate>,
    },
    /// Prints every source's fields, the headers recognised for them and their codes.
    ///
    /// For each field: name, Chinese label, kind, whether required, the headers recognised
    /// for it, and the codes of coded fields; then the division table's columns. `--json`
    /// prints the same as JSON.
    #[command(after_help = EXIT_CODES)]
    Sources {
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Renders a run folder's `report.html` again, in another language or for the data team.
    ///
    /// `--for analyst` (default) masks every resident ID as `export --for analyst` does and
    /// writes `<RUN>/report.html` (`report_en.html` with `--lang en`, beside it); `--for
    /// data-team` shows IDs in clear, on purpose, and writes `<RUN>/report_data_team.html`
    /// (`report_data_team_en.html`; not for sending on). The run's pipeline file
    /// (named in its `manifest.json`) supplies area names, targets and the match threshold.
    #[command(after_help = EXIT_CODES)]
    Report {
        /// The run folder, or the run root (`--out` of `poprecon run`: its `latest` run).
        run: PathBuf,
        /// Language of the report: `zh` (default) or `en`.
        #[arg(long, default_value = "zh")]
        lang: poprecon_report::Lang,
        /// analyst (IDs masked, default) or data-team (IDs in clear).
        #[arg(long = "for", value_name = "AUDIENCE", default_value = "analyst")]
        audience: poprecon_report::Audience,
        /// Where to write the page (default: in the run folder).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Draws the on-site verification sample of a run: one printable checklist per township.
    ///
    /// Strata are village × flagged (an open discrepancy, or a village whose returns the
    /// comparison flags); each stratum gets n records by LQAS (default n = 19, pass with at
    /// most d = 6 failures; α and β printed) or by `--precision`, drawn by a keyed hash of
    /// (seed, stratum, birth id) so that the same seed draws the same records whatever the
    /// order of the input, with an ordered list of replacements. Writes
    /// `sample_frame.parquet` (every record of the frame with its inclusion probability) and
    /// `核查清单_<township>.xlsx` (A4 landscape: masked mother IDs, names, address, birth
    /// date, sex, order, the facts to verify, blank result columns) to
    /// `ROOT/fieldwork/<run_id>/`. With `--read`, reads the filled checklists back: per
    /// village the error rate with its Wilson interval, the LQAS decision, the field VF,
    /// Horvitz–Thompson totals and newly found births (`field_villages.parquet`/`.csv`), and
    /// the findings on listed discrepancies as reviewer decisions for the next night
    /// (`field_decisions.csv`, or appended to `--decisions FILE`).
    #[command(after_help = EXIT_CODES)]
    Sample {
        /// A run folder, or a run root (its `latest`).
        run: PathBuf,
        /// The draw's key: the same seed draws the same sample.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// LQAS: records per stratum.
        #[arg(long, default_value_t = 19)]
        lqas_n: u64,
        /// LQAS: a stratum passes with at most this many failures.
        #[arg(long, default_value_t = 6)]
        lqas_d: u64,
        /// LQAS: the accuracy a stratum should reach (α is the risk of failing it).
        #[arg(long, default_value_t = 0.80)]
        upper: f64,
        /// LQAS: the accuracy at which a stratum must fail (β is the risk of passing it).
        #[arg(long, default_value_t = 0.50)]
        lower: f64,
        /// Size strata to estimate the error share within ± MARGIN (e.g. 0.1) instead of
        /// LQAS, with the finite-population correction.
        #[arg(long, value_name = "MARGIN")]
        precision: Option<f64>,
        /// The error share expected, for `--precision` (0.5 is the safe choice).
        #[arg(long, default_value_t = 0.5, value_name = "P")]
        expected: f64,
        /// Replacements listed per stratum.
        #[arg(long, default_value_t = 5)]
        replacements: usize,
        /// Output folder (default `ROOT/fieldwork/<run_id>/`).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Read filled checklists back instead of drawing.
        #[arg(long, value_name = "FILLED.xlsx", num_args = 1..)]
        read: Vec<PathBuf>,
        /// With `--read`: append the decisions to this decisions CSV (the pipeline's
        /// `decisions`) instead of writing `field_decisions.csv`.
        #[arg(long, value_name = "FILE", requires = "read")]
        decisions: Option<PathBuf>,
        /// Language of the checklists' headers: `zh` (default) or `en`.
        #[arg(long, default_value = "zh")]
        lang: poprecon_report::Lang,
    },
    /// Prints the checked plan of a pipeline (sources, files, column maps) without running.
    #[command(after_help = EXIT_CODES)]
    Plan {
        /// The pipeline file (TOML).
        pipeline: PathBuf,
        /// Print the plan as one JSON object on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Checks a pipeline file and the headers of every input it names, without running it.
    ///
    /// Prints per file its format and encoding, the headers no field reads, and the optional
    /// fields it has no column for (they would be empty in every row). A Parquet column whose
    /// type does not fit its field (integers in a date column) fails here too.
    #[command(after_help = EXIT_CODES)]
    Validate {
        /// The pipeline file (TOML), e.g. `pipelines/sample.toml`.
        pipeline: PathBuf,
        /// Print the result as one JSON object on stdout (exit 1 still means a problem).
        #[arg(long)]
        json: bool,
    },
    /// Reads every source of a pipeline into canonical Parquet tables.
    ///
    /// Writes `<OUT>/<source>.parquet` (accepted rows, canonical columns),
    /// `<OUT>/quarantine/<source>.parquet` (rejected rows with file, line, raw cells and
    /// reason) and `<OUT>/ingest.json` (the counts), then prints a table per source:
    /// read / accepted / quarantined by reason / invalid fields by kind / the values of
    /// coded fields that no code list knows, with their counts (map them under
    /// `[sources.<s>.codes.<field>]`). The folder is written in full or not at all.
    #[command(after_help = EXIT_CODES)]
    Ingest {
        /// The pipeline file (TOML).
        pipeline: PathBuf,
        /// The output folder (replaced when the ingest succeeds).
        #[arg(long, default_value = "out/ingest", value_name = "DIR")]
        out: PathBuf,
    },
}

impl Cli {
    /// Whether to draw progress bars (on a terminal only, as indicatif decides): not with
    /// `--quiet`, nor with `--log-format json`, whose stderr is for machines.
    fn progress(&self) -> bool {
        !self.quiet && self.log_format == crate::logging::LogFormat::Text
    }
}

pub fn dispatch(cli: &Cli) -> Result<u8> {
    match &cli.command {
        Command::Run {
            pipeline,
            out,
            as_of,
            previous,
            keep,
            run_id,
            lang,
            keep_sources,
        } => {
            let mut plan = load(pipeline)?;
            if let Some(d) = as_of {
                plan.as_of = *d;
            }
            let opts = crate::run_cmd::RunOptions {
                previous: previous.clone(),
                progress: cli.progress(),
                quiet: cli.quiet,
                keep: keep.map(|n| n as usize),
                run_id: run_id.clone(),
                lang: *lang,
                keep_sources: *keep_sources,
                faults: poprecon::faults::Faults::from_env(),
            };
            crate::run_cmd::run(&plan, out, &opts)
        }
        Command::Synth {
            scale,
            seed,
            out,
            pipeline,
            sample_villages,
            rows_per_village,
            dialect,
            returns,
            under_report,
            field_errors,
        } => {
            let mut cfg = poprecon_synth::SynthConfig::new(*scale, *seed);
            cfg.sample_villages = *sample_villages;
            cfg.rows_per_village = *rows_per_village;
            cfg.dialect = *dialect;
            let started = std::time::Instant::now();
            let bar = crate::output::spinner(cli.progress());
            let summary =
                poprecon_synth::generate(&cfg, out, &|msg| bar.set_message(msg.to_owned()));
            bar.finish_and_clear();
            let summary = summary?;
            if *returns || !under_report.is_empty() {
                let under = under_report.iter().cloned().collect();
                poprecon_synth::write_returns(&cfg, out, &under)?;
            }
            if *returns || !under_report.is_empty() || !field_errors.is_empty() {
                let errors = field_errors.iter().cloned().collect();
                poprecon_synth::write_field_truth(&cfg, out, &errors)?;
            }
            if let Some(p) = pipeline {
                poprecon_synth::write_pipeline(&cfg, out, p)?;
            }
            println!(
                "{}: {} villages, {} people, {} household rows, {} births, {} quarantined rows, {} injections in {:.1} s",
                summary.name,
                summary.villages,
                summary.people,
                summary.household_rows,
                summary.births,
                summary.quarantined,
                summary.injections,
                started.elapsed().as_secs_f64()
            );
            for (path, rows) in &summary.files {
                println!("  {:>10} rows  {}", rows, path.display());
            }
            Ok(exit::OK)
        }
        Command::Export {
            run,
            audience,
            format,
            out,
            lang,
            pseudonymize,
            key_file,
        } => {
            let pseudonymizer = if *pseudonymize {
                Some(crate::export_cmd::pseudonymizer(
                    *audience,
                    key_file.as_deref(),
                )?)
            } else {
                None
            };
            let run = crate::history::resolve_run(run)?;
            let out = match out {
                Some(o) => o.clone(),
                None => crate::export_cmd::default_out(&run)?,
            };
            let ids = match (&pseudonymizer, audience) {
                (Some(p), _) => poprecon_export::IdPolicy::Pseudonymize(p),
                (None, poprecon_export::Audience::Analyst) => poprecon_export::IdPolicy::Mask,
                (None, _) => poprecon_export::IdPolicy::Clear,
            };
            for path in crate::export_cmd::export(&run, *audience, *format, &out, *lang, ids)? {
                println!("{}", path.display());
            }
            Ok(exit::OK)
        }
        Command::Init {
            extracts_dir,
            out,
            force,
            as_of,
        } => {
            crate::init_cmd::init(extracts_dir, out.as_deref(), *force, *as_of)?;
            Ok(exit::OK)
        }
        Command::Report {
            run,
            lang,
            audience,
            out,
        } => {
            let path = crate::report_cmd::report(run, *lang, *audience, out.as_deref())?;
            println!("{}", path.display());
            Ok(exit::OK)
        }
        Command::Sample {
            run,
            seed,
            lqas_n,
            lqas_d,
            upper,
            lower,
            precision,
            expected,
            replacements,
            out,
            read,
            decisions,
            lang,
        } => {
            if !(0.0 < *lower && lower < upper && *upper < 1.0) || lqas_d >= lqas_n {
                anyhow::bail!(
                    "the LQAS plan needs 0 < --lower < --upper < 1 and --lqas-d < --lqas-n"
                );
            }
            if precision.is_some_and(|m| !(0.0 < m && m < 1.0))
                || !(0.0 < *expected && *expected < 1.0)
            {
                anyhow::bail!("`--precision` and `--expected` lie between 0 and 1");
            }
            let opts = crate::sample_cmd::SampleOptions {
                seed: *seed,
                lqas: poprecon_verify::LqasPlan {
                    n: *lqas_n,
                    d: *lqas_d,
                    upper: *upper,
                    lower: *lower,
                },
                precision: precision.map(|m| (m, *expected)),
                replacements: *replacements,
                out: out.clone(),
                lang: *lang,
            };
            let files = if read.is_empty() {
                crate::sample_cmd::sample(run, &opts)?
            } else {
                crate::sample_cmd::read(run, read, decisions.as_deref(), &opts)?
            };
            for f in files {
                println!("{}", f.display());
            }
            Ok(exit::OK)
        }
        Command::Sources { json } => {
            crate::init_cmd::sources(*json)?;
            Ok(exit::OK)
        }
        Command::Plan { pipeline, json } => {
            let plan = load(pipeline)?;
            crate::ingest_cmd::print_plan(&plan, *json)?;
            Ok(exit::OK)
        }
        Command::Validate { pipeline, json } => {
            let plan = load(pipeline)?;
            crate::ingest_cmd::validate(&plan, *json)?;
            Ok(exit::OK)
        }
        Command::Ingest { pipeline, out } => {
            let plan = load(pipeline)?;
            crate::ingest_cmd::ingest(&plan, out, cli.progress())?;
            Ok(exit::OK)
        }
    }
}

/// `VILLAGE=FACTOR` of `synth --under-report`.
fn parse_under_report(text: &str) -> Result<(String, f64), String> {
    let (village, factor) = text
        .split_once('=')
        .ok_or("expected `VILLAGE=FACTOR`, e.g. `340311001001=0.8`")?;
    let factor: f64 = factor
        .trim()
        .parse()
        .map_err(|_| format!("`{factor}` is not a number"))?;
    Ok((village.trim().to_owned(), factor))
}

fn load(pipeline: &std::path::Path) -> Result<poprecon_pipeline::Plan> {
    // The pipeline's own errors name the file and the key at fault.
    Ok(poprecon_pipeline::Plan::load(pipeline)?)
}
