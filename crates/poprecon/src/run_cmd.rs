//! `poprecon run`: the nightly job. Stages run in order (ingest → link → check → measure →
//! write), each in its own tracing span with a progress spinner; the run folder
//! `ROOT/runs/<run_id>` is staged and renamed into place only when complete, then
//! `ROOT/latest` is pointed at it (see [`crate::history`]).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use polars::prelude::{DataFrame, IntoLazy, ParquetReader, PolarsResult, SerReader, col, lit};
use poprecon_pipeline::Plan;
use rayon::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::history::RunRoot;
use crate::ingest_cmd::{ingest_source, print_summary};
use crate::output::{StagedDir, create_private_dir};

/// What `manifest.json` records of a run.
#[derive(Debug, Serialize)]
pub struct Manifest {
    pub run_id: String,
    pub tool_version: &'static str,
    pub pipeline: String,
    pub pipeline_sha256: String,
    pub as_of: String,
    pub period: [String; 2],
    pub jurisdiction: String,
    pub previous_run: Option<String>,
    pub decisions: Option<String>,
    pub inputs: Vec<InputRecord>,
    /// Values of coded fields that no code list knows, with their row counts (codes only:
    /// values that could be personal data are counted, not listed).
    pub unknown_codes: Vec<UnknownCodeRecord>,
    pub stages: Vec<StageRecord>,
    pub outputs: Vec<OutputRecord>,
    pub alerts: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct InputRecord {
    pub source: String,
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
    pub rows_read: u64,
    pub rows_accepted: u64,
    pub rows_quarantined: u64,
}

#[derive(Debug, Serialize)]
pub struct UnknownCodeRecord {
    pub source: String,
    pub field: String,
    pub value: String,
    pub rows: u64,
}

#[derive(Debug, Serialize)]
pub struct StageRecord {
    pub stage: String,
    pub rows: u64,
    pub seconds: f64,
}

#[derive(Debug, Serialize)]
pub struct OutputRecord {
    pub file: String,
    pub rows: u64,
}

/// Options of `poprecon run` beyond the plan.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Last night's run folder (or a run root), for new/open/resolved; by default the
    /// root's `latest` run.
    pub previous: Option<PathBuf>,
    pub progress: bool,
    /// `--quiet`: no closing line on stderr (alerts and errors are still printed).
    pub quiet: bool,
    /// `--keep N`: the runs kept in the history, the new one included.
    pub keep: Option<usize>,
    /// `--run-id`: the run's id instead of the time-based one.
    pub run_id: Option<String>,
    pub lang: poprecon_report::Lang,
    /// Test hook: fail on purpose after this stage (`POPRECON_FAIL_AFTER`), to prove that a
    /// failed run leaves the previous folder intact.
    pub fail_after: Option<String>,
    /// Test hook: the write of this output file (`births.parquet`, `sources/household.parquet`,
    /// `report.html`, ...) fails as on a full disk (`POPRECON_FAIL_WRITE`).
    pub fail_write: Option<String>,
    /// Test hook: once `births.parquet` is written, create this marker file and block until
    /// killed (`POPRECON_PAUSE_IN_WRITE`), to prove that a run killed mid-write leaves the
    /// previous folder intact.
    pub pause_in_write: Option<PathBuf>,
}

impl RunOptions {
    /// The injected failure of `POPRECON_FAIL_WRITE` for output file `name`, if any: ENOSPC,
    /// "No space left on device".
    fn write_fault(&self, name: &str) -> std::io::Result<()> {
        const ENOSPC: i32 = 28;
        match self.fail_write.as_deref() {
            Some(n) if n == name => Err(std::io::Error::from_raw_os_error(ENOSPC)),
            _ => Ok(()),
        }
    }

    /// The pause of `POPRECON_PAUSE_IN_WRITE`: never returns once the marker is written.
    fn pause_in_write(&self) -> Result<()> {
        if let Some(marker) = &self.pause_in_write {
            std::fs::write(marker, b"paused in the write stage\n")
                .with_context(|| format!("cannot write `{}`", marker.display()))?;
            loop {
                std::thread::sleep(std::time::Duration::from_secs(60));
            }
        }
        Ok(())
    }
}

/// Who shows a stage's progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StageBar {
    /// A spinner with the stage's name.
    Spinner,
    /// The stage draws its own bars (one per source); a second bar would fight them.
    Own,
}

/// Times stages and writes their records.
struct Stages {
    records: Vec<StageRecord>,
    fail_after: Option<String>,
    progress: bool,
}

impl Stages {
    fn run<T>(
        &mut self,
        name: &str,
        bar: StageBar,
        f: impl FnOnce() -> Result<(T, u64)>,
    ) -> Result<T> {
        // The field is `stage`, not `name`: JSON logs print the span's own name under
        // `name`, and one object must not hold the key twice.
        let _span = tracing::info_span!("stage", stage = name).entered();
        let bar = crate::output::spinner(self.progress && bar == StageBar::Spinner);
        bar.set_message(name.to_owned());
        let t = Instant::now();
        let result = f();
        bar.finish_and_clear();
        let (value, rows) = result.with_context(|| format!("stage `{name}` failed"))?;
        let seconds = t.elapsed().as_secs_f64();
        tracing::info!(rows, seconds, "stage done");
        self.records.push(StageRecord {
            stage: name.to_owned(),
            rows,
            seconds,
        });
        if self.fail_after.as_deref() == Some(name) {
            anyhow::bail!("forced failure after stage `{name}` (POPRECON_FAIL_AFTER)");
        }
        Ok(value)
    }
}

/// Runs the pipeline into a new run of the root `out`. Returns the exit code.
pub fn run(plan: &Plan, out: &Path, opts: &RunOptions) -> Result<u8> {
    let started = Instant::now();
    // Locked until this function returns: a second run on the same root is refused.
    let root = RunRoot::open(out)?;
    let previous_dir = match &opts.previous {
        Some(p) => Some(crate::history::resolve_run(p).context("`--previous`")?),
        None => root
            .latest()
            .filter(|d| d.join("discrepancies.parquet").is_file()),
    };
    let previous = match &previous_dir {
        Some(dir) => Some(
            read_parquet(&dir.join("discrepancies.parquet"))
                .with_context(|| format!("previous run `{}`", dir.display()))?,
        ),
        None => None,
    };
    // The previous run's indicators travel into this run's folder, for the report's deltas
    // (the previous folder is usually the one this run replaces).
    let previous_indicators = match &previous_dir {
        Some(dir) if dir.join("indicators.parquet").is_file() => {
            Some(read_parquet(&dir.join("indicators.parquet"))?)
        }
        _ => None,
    };
    let run_id = match &opts.run_id {
        Some(id) => {
            crate::history::check_run_id(id)?;
            if root.run_dir(id).exists() {
                anyhow::bail!(
                    "run `{id}` is already in `{}`\nhint: give another `--run-id`, or none for a time-based one",
                    root.root().join(crate::history::RUNS).display()
                );
            }
            id.clone()
        }
        None => root.unique_id(&run_id(plan)),
    };
    let staged = StagedDir::staged_in(
        &root.run_dir(&run_id),
        root.root(),
        crate::history::STAGING_STEM,
    )?;
    let dir = staged.path().to_owned();
    create_private_dir(&dir.join("quarantine"))?;
    create_private_dir(&dir.join("sources"))?;
    let mut stages = Stages {
        records: Vec::new(),
        fail_after: opts.fail_after.clone(),
        progress: opts.progress,
    };

    let inputs = stages.run("hash_inputs", StageBar::Spinner, || {
        let h = hash_inputs(plan)?;
        let n = h.len() as u64;
        Ok((h, n))
    })?;

    let mut stats = Vec::new();
    let mut records: BTreeMap<String, DataFrame> = BTreeMap::new();
    let mut quarantines = Vec::new();
    stages.run("ingest", StageBar::Own, || {
        for sp in &plan.sources {
            let output = ingest_source(plan, sp, opts.progress)?;
            stats.push(output.stats);
            quarantines.push((output.source, output.quarantine));
            records.insert(output.source.to_owned(), output.records);
        }
        let rows = stats.iter().map(|s| s.read).sum();
        Ok(((), rows))
    })?;

    let linked = stages.run("link", StageBar::Spinner, || {
        let get = |id: &str| records.get(id);
        let input = poprecon_link::LinkInput {
            hospital_delivery: get("hospital_delivery"),
            birth_certificate: get("birth_certificate"),
            household: get("household"),
            vaccination: get("vaccination"),
            prenatal_care: get("prenatal_care"),
            birth_registration: get("birth_registration"),
            marriage: get("marriage"),
            as_of: plan.as_of,
            period: plan.period,
            jurisdiction: &plan.jurisdiction,
        };
        let decisions: Vec<poprecon_link::LinkDecision> = plan
            .decisions
            .link_constraints()
            .into_iter()
            .map(|c| poprecon_link::LinkDecision {
                line: c.line,
                must_link: c.kind == poprecon_checks::DecisionKind::MustLink,
                a: (c.a.source, c.a.key),
                b: (c.b.source, c.b.key),
            })
            .collect();
        let linked = poprecon_link::link_with_decisions(&input, &plan.linkage, &decisions)?;
        let n = linked.births.height() as u64;
        Ok((linked, n))
    })?;

    let discrepancies = stages.run("check", StageBar::Spinner, || {
        let mut input = poprecon_checks::CheckInput::new(plan.as_of, plan.period)
            .with_births(&linked.births)
            .with_ambiguous(&linked.ambiguous)
            .with_villages(plan.divisions.villages.keys().cloned())
            .with_decisions(&plan.decisions);
        for (id, df) in &records {
            input = input.with_source(id, df);
        }
        let checked = poprecon_checks::run_checks(&input, &plan.rules)?;
        let current = poprecon_checks::apply_lifecycle(
            &checked.discrepancies,
            previous.as_ref(),
            plan.as_of,
        )?;
        let n = current.height() as u64;
        Ok(((current, checked.village_discrepancies), n))
    })?;
    let (discrepancies, village_discrepancies) = discrepancies;

    let measured = stages.run("measure", StageBar::Spinner, || {
        let input = poprecon_indicators::IndicatorInput {
            births: &linked.births,
            sources: &records,
            discrepancies: None,
            booking_window_days: plan.linkage.prenatal_window_days,
            as_of: plan.as_of,
            period: plan.period,
            jurisdiction: &plan.jurisdiction,
            divisions: poprecon_indicators::Divisions {
                counties: &plan.divisions.counties,
                townships: &plan.divisions.townships,
                villages: &plan.divisions.villages,
            },
        };
        let indicators = poprecon_indicators::compute(&input, &plan.indicators)?;
        let assessment = poprecon_indicators::assess(&indicators, &plan.assessment)?;
        let quality = poprecon_indicators::data_quality(&input, &plan.indicators)?;
        let drill = poprecon_indicators::drill_through(&input, &plan.indicators)?;
        let n = indicators.height() as u64;
        Ok(((indicators, assessment, quality, drill), n))
    })?;
    let (indicators, assessment, quality, drill) = measured;
    // `[returns]` (issue #18): the returns against the records, and the sources' completeness.
    let returns = match &plan.returns {
        None => Vec::new(),
        Some(_) => stages.run("returns", StageBar::Spinner, || {
            let t = crate::returns_cmd::tables(plan, &records, &linked.births, &indicators)?;
            let n = t.iter().map(|(_, df)| df.height() as u64).sum();
            Ok((t, n))
        })?,
    };

    let alerts = alerts(plan, &stats, &discrepancies, previous.is_some())?;
    let outputs = stages.run("write", StageBar::Spinner, || {
        let mut outputs = Vec::new();
        let mut write = |name: &str, df: &DataFrame| -> Result<()> {
            let mut df = stamp(df, &run_id, plan.as_of)
                .with_context(|| format!("cannot add `run_id` and `as_of` to `{name}`"))?;
            let path = dir.join(name);
            opts.write_fault(name)
                .map_err(polars::prelude::PolarsError::from)
                .and_then(|()| poprecon_ingest::write_parquet(&mut df, &path))
                .with_context(|| format!("cannot write `{}`", path.display()))?;
            outputs.push(OutputRecord {
                file: name.to_owned(),
                rows: df.height() as u64,
            });
            Ok(())
        };
        for (id, df) in &records {
            write(&format!("sources/{id}.parquet"), df)?;
        }
        for (id, df) in &quarantines {
            write(&format!("quarantine/{id}.parquet"), df)?;
        }
        write("births.parquet", &linked.births)?;
        opts.pause_in_write()?;
        write("links.parquet", &linked.links)?;
        write("ambiguous_links.parquet", &linked.ambiguous)?;
        write("link_diagnostics.parquet", &linked.diagnostics)?;
        write("link_model.parquet", &linked.model)?;
        write("link_decisions.parquet", &linked.decisions)?;
        write("discrepancies.parquet", &discrepancies)?;
        write("village_discrepancies.parquet", &village_discrepancies)?;
        write("indicators.parquet", &indicators)?;
        write("indicator_births.parquet", &drill)?;
        write("assessment.parquet", &assessment)?;
        write("data_quality.parquet", &quality)?;
        if let Some(prev) = &previous_indicators {
            write("previous_indicators.parquet", prev)?;
        }
        for (name, df) in &returns {
            write(name, df)?;
        }
        let sources: Vec<(String, DataFrame)> = records
            .iter()
            .map(|(id, df)| (id.clone(), df.clone()))
            .collect();
        let quarantine: Vec<(String, DataFrame)> = quarantines
            .iter()
            .map(|(id, df)| ((*id).to_owned(), df.clone()))
            .collect();
        let html = crate::report_cmd::render(
            plan,
            &run_id,
            opts.lang,
            poprecon_report::Audience::Analyst,
            &crate::report_cmd::Tables {
                indicators: &indicators,
                previous_indicators: previous_indicators.as_ref(),
                indicator_births: Some(&drill),
                births: Some(&linked.births),
                discrepancies: &discrepancies,
                village_discrepancies: &village_discrepancies,
                links: Some(&linked.links),
                link_model: Some(&linked.model),
                ambiguous: Some(&linked.ambiguous),
                linkage: &linked.diagnostics,
                quality: &quality,
                sources: &sources,
                quarantine: &quarantine,
            },
        )?;
        let html = crate::returns_cmd::with_section(&html, opts.lang, &returns)?;
        opts.write_fault("report.html")
            .and_then(|()| std::fs::write(dir.join("report.html"), html))
            .context("cannot write `report.html`")?;
        let n = outputs.len() as u64;
        Ok((outputs, n))
    })?;

    let pipeline_bytes = std::fs::read(&plan.path)
        .with_context(|| format!("cannot read `{}`", plan.path.display()))?;
    let manifest = Manifest {
        run_id: run_id.clone(),
        tool_version: env!("CARGO_PKG_VERSION"),
        pipeline: plan.path.display().to_string(),
        pipeline_sha256: hex(&Sha256::digest(&pipeline_bytes)),
        as_of: plan.as_of.to_string(),
        period: [plan.period.0.to_string(), plan.period.1.to_string()],
        jurisdiction: plan.jurisdiction.clone(),
        previous_run: previous_dir.map(|d| d.display().to_string()),
        decisions: plan
            .decisions_path
            .as_ref()
            .map(|d| d.display().to_string()),
        inputs: input_records(&stats, &inputs),
        unknown_codes: stats
            .iter()
            .flat_map(|s| {
                s.unknown_codes.iter().flat_map(move |(field, values)| {
                    values.iter().map(move |(value, rows)| UnknownCodeRecord {
                        source: s.source.clone(),
                        field: field.clone(),
                        value: value.clone(),
                        rows: *rows,
                    })
                })
            })
            .collect(),
        stages: stages.records,
        outputs,
        alerts: alerts.clone(),
    };
    let manifest = serde_json::to_string_pretty(&manifest)? + "\n";
    opts.write_fault("manifest.json")
        .and_then(|()| std::fs::write(dir.join("manifest.json"), manifest))
        .context("cannot write `manifest.json`")?;
    let dest = staged.commit()?;
    root.set_latest(&run_id)?;
    if let Some(keep) = opts.keep {
        root.prune(keep)?;
    }
    print_summary(&stats)?;
    if !opts.quiet {
        crate::logging::line(
            "INFO",
            &format!(
                "run complete in {:.1} s: {} (report: {})",
                started.elapsed().as_secs_f64(),
                dest.display(),
                root.root()
                    .join(crate::history::LATEST)
                    .join("report.html")
                    .display()
            ),
        );
    }
    if alerts.is_empty() {
        Ok(crate::exit::OK)
    } else {
        for a in &alerts {
            crate::logging::line("WARN", &format!("alert: {a}"));
        }
        Ok(crate::exit::ALERT)
    }
}

/// The configured alert thresholds that fired.
fn alerts(
    plan: &Plan,
    stats: &[poprecon_ingest::SourceStats],
    discrepancies: &DataFrame,
    has_previous: bool,
) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let a = &plan.alerts;
    // Without a previous run every discrepancy is new: "new since last night" means nothing.
    if a.new_high_severity > 0 && has_previous {
        let n = discrepancies
            .clone()
            .lazy()
            .filter(
                col("status")
                    .eq(lit("new"))
                    .and(col("severity").eq(lit("high"))),
            )
            .collect()?
            .height() as u64;
        if n >= a.new_high_severity {
            out.push(format!("{n} new high-severity discrepancies"));
        }
    }
    for s in stats {
        if s.read > 0 && (s.quarantined as f64) / (s.read as f64) > a.quarantine_share {
            out.push(format!(
                "source `{}` quarantined {} of {} rows",
                s.source, s.quarantined, s.read
            ));
        }
    }
    Ok(out)
}

fn input_records(
    stats: &[poprecon_ingest::SourceStats],
    inputs: &[(PathBuf, u64, String)],
) -> Vec<InputRecord> {
    let mut records = Vec::new();
    for s in stats {
        for fs in &s.files {
            let (bytes, sha256) = inputs
                .iter()
                .find(|(p, _, _)| p.display().to_string() == fs.path)
                .map(|(_, b, h)| (*b, h.clone()))
                .unwrap_or_default();
            records.push(InputRecord {
                source: s.source.clone(),
                path: fs.path.clone(),
                bytes,
                sha256,
                rows_read: fs.read,
                rows_accepted: fs.accepted,
                rows_quarantined: fs.quarantined,
            });
        }
    }
    records
}

/// `df` with the run's `run_id` and `as_of` as its first columns, so that the tables of
/// every run of a history read as one series (`ROOT/runs/*/indicators.parquet`).
fn stamp(df: &DataFrame, run_id: &str, as_of: chrono::NaiveDate) -> PolarsResult<DataFrame> {
    if df.width() == 0 {
        // Literals alone would make one row of a table without columns.
        return Ok(df.clone());
    }
    let stamped = df
        .clone()
        .lazy()
        .with_columns([
            lit(run_id).alias("run_id"),
            // A date literal is a datetime in polars: cast it back to a date.
            lit(as_of)
                .cast(polars::prelude::DataType::Date)
                .alias("as_of"),
        ])
        .collect()?;
    let mut order = vec!["run_id".to_owned(), "as_of".to_owned()];
    order.extend(
        df.get_column_names()
            .iter()
            .map(|c| c.to_string())
            .filter(|c| c != "run_id" && c != "as_of"),
    );
    stamped.select(order)
}

pub fn read_parquet(path: &Path) -> Result<DataFrame> {
    let f =
        std::fs::File::open(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    ParquetReader::new(f)
        .finish()
        .with_context(|| format!("cannot read `{}`", path.display()))
}

/// A run id that sorts by time: `YYYYMMDDTHHMMSSZ-<as_of>`.
fn run_id(plan: &Plan) -> String {
    let now = chrono::Utc::now();
    format!(
        "{}-{}",
        now.format("%Y%m%dT%H%M%SZ"),
        plan.as_of.format("%Y%m%d")
    )
}

/// Size and sha256 of every input file, hashed in parallel.
fn hash_inputs(plan: &Plan) -> Result<Vec<(PathBuf, u64, String)>> {
    let files: Vec<&PathBuf> = plan
        .sources
        .iter()
        .flat_map(|s| s.files.iter().map(|f| &f.path))
        .collect();
    files
        .par_iter()
        .map(|path| {
            let mut f = std::fs::File::open(path)
                .with_context(|| format!("cannot read `{}`", path.display()))?;
            let mut hasher = Sha256::new();
            let mut buf = vec![0u8; 1 << 20];
            let mut bytes = 0u64;
            loop {
                let n = f
                    .read(&mut buf)
                    .with_context(|| format!("cannot read `{}`", path.display()))?;
                if n == 0 {
                    break;
                }
                bytes += n as u64;
                hasher.update(&buf[..n]);
            }
            Ok(((*path).clone(), bytes, hex(&hasher.finalize())))
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
