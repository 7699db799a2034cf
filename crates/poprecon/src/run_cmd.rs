//! `poprecon run`: the nightly job. The inputs are hashed, `poprecon_pipeline::execute` runs
//! the plan's stages (ingest → link → check → measure) and returns its tables, and the
//! binary writes them and the report; each stage runs in its own tracing span with a
//! progress spinner (ingest: a bar per source); the run folder
//! `ROOT/runs/<run_id>` is staged and renamed into place only when complete, then
//! `ROOT/latest` is pointed at it (see [`crate::history`]).

use std::collections::BTreeMap;
use std::io::Read;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{Context, Result};
use polars::prelude::{
    DataFrame, IntoLazy, ParquetCompression, ParquetReader, ParquetWriter, PolarsResult, SerReader,
    col, lit,
};
use poprecon_pipeline::{
    ExecuteError, ExecuteOptions, Plan, Progress, RunTables, Stage, StageTiming,
};
use rayon::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use poprecon::faults::Faults;

use crate::history::RunRoot;
use crate::ingest_cmd::print_summary;
use crate::output::{Bars, StagedDir, create_private_dir};

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
    /// `--keep-sources`: `sources/household.parquet`, `school.parquet`, `marriage.parquet`
    /// and `social_security.parquet` hold every accepted row, not only the rows held.
    pub keep_sources: bool,
    /// Failures and pauses injected by the tests (none unless built with the
    /// `fault-injection` feature).
    pub faults: Faults,
}

/// Times the binary's own stages (hashing the inputs, writing) and keeps every stage's
/// record for the manifest.
struct Stages {
    records: Vec<StageRecord>,
    faults: Faults,
    progress: bool,
}

impl Stages {
    fn run<T>(&mut self, name: &str, f: impl FnOnce() -> Result<(T, u64)>) -> Result<T> {
        // The field is `stage`, not `name`: JSON logs print the span's own name under
        // `name`, and one object must not hold the key twice.
        let _span = tracing::info_span!("stage", stage = name).entered();
        let bar = crate::output::spinner(self.progress);
        bar.set_message(name.to_owned());
        let t = Instant::now();
        let result = f();
        bar.finish_and_clear();
        let (value, rows) = result.with_context(|| format!("stage `{name}` failed"))?;
        let seconds = t.elapsed().as_secs_f64();
        tracing::info!(rows, seconds, "stage done");
        self.record(name, rows, seconds)?;
        Ok(value)
    }

    /// Records a stage done, and fails the run if the tests asked for that.
    fn record(&mut self, name: &str, rows: u64, seconds: f64) -> Result<()> {
        self.records.push(StageRecord {
            stage: name.to_owned(),
            rows,
            seconds,
        });
        if self.faults.fail_after(name) {
            anyhow::bail!("forced failure after stage `{name}` (POPRECON_FAIL_AFTER)");
        }
        Ok(())
    }
}

/// The executor's progress on the terminal, and the tests' `POPRECON_FAIL_AFTER` between
/// its stages.
struct NightProgress<'a> {
    bars: Bars,
    faults: &'a Faults,
    /// Takes each canonical source as soon as it is read, to write it while the night goes on.
    sources: &'a SourceWriter,
}

impl Progress for NightProgress<'_> {
    fn stage_started(&self, stage: Stage) {
        self.bars.stage_started(stage);
    }

    fn stage_finished(&self, timing: &StageTiming) -> ControlFlow<()> {
        self.bars.stage_finished(timing)?;
        // A source that could not be written (a full disk) fails the night: no stage more.
        if self.faults.fail_after(timing.stage.as_str()) || self.sources.failed() {
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    }

    fn stage_failed(&self, stage: Stage) {
        self.bars.stage_failed(stage);
    }

    fn source_started(&self, source: &'static str) {
        self.bars.source_started(source);
    }

    fn source_rows(&self, rows: u64) {
        self.bars.source_rows(rows);
    }

    fn source_finished(&self, source: &'static str) {
        self.bars.source_finished(source);
    }

    fn source_piece(&self, source: &'static str, piece: &DataFrame) {
        self.sources.write(source, piece);
    }

    fn source_ingested(&self, source: &'static str) {
        self.sources.end(source);
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
        faults: opts.faults.clone(),
        progress: opts.progress,
    };

    let inputs = stages.run("hash_inputs", || {
        let h = hash_inputs(plan)?;
        let n = h.len() as u64;
        Ok((h, n))
    })?;

    let out = std::sync::Arc::new(Output {
        dir: dir.clone(),
        run_id: run_id.clone(),
        as_of: plan.as_of,
        faults: opts.faults.clone(),
    });
    // The canonical sources are most of the run folder's bytes (the household registry alone
    // is 4 M rows in a city): each is written on a thread of its own as soon as ingest has
    // read it, while linkage and the checks go on (issue #14).
    let mut source_writer = SourceWriter::start(out.clone());
    let progress = NightProgress {
        bars: Bars::new(opts.progress),
        faults: &opts.faults,
        sources: &source_writer,
    };
    let executed = poprecon_pipeline::execute(
        plan,
        &ExecuteOptions {
            previous: previous.as_ref(),
            progress: &progress,
            whole_sources: opts.keep_sources,
        },
    );
    drop(progress);
    let tables = match executed {
        Ok(tables) => tables,
        Err(ExecuteError::Stopped { stage }) => {
            // Stopped because a source could not be written: that error is the night's.
            if source_writer.failed() {
                source_writer.finish()?;
            }
            anyhow::bail!("forced failure after stage `{stage}` (POPRECON_FAIL_AFTER)")
        }
        Err(e) => return Err(e.into()),
    };
    stages
        .records
        .extend(tables.stages.iter().map(|t| StageRecord {
            stage: t.stage.as_str().to_owned(),
            rows: t.rows,
            seconds: t.seconds,
        }));
    let RunTables {
        ingest: stats,
        records,
        quarantine: quarantines,
        linked,
        stillbirths: _,
        discrepancies,
        village_discrepancies,
        indicators,
        assessment,
        data_quality: quality,
        indicator_births: drill,
        stages: _,
    } = tables;
    // `[returns]` (issue #18): the returns against the records, and the sources' completeness.
    let returns = match &plan.returns {
        None => Vec::new(),
        Some(_) => stages.run("returns", || {
            let t = crate::returns_cmd::tables(plan, &records, &linked.births, &indicators)?;
            let n = t.iter().map(|(_, df)| df.height() as u64).sum();
            Ok((t, n))
        })?,
    };

    let alerts = alerts(plan, &stats, &discrepancies, previous.is_some())?;
    let accepted: Vec<(String, i64)> = stats
        .iter()
        .map(|s| (s.source.clone(), s.accepted as i64))
        .collect();
    let outputs = stages.run("write", || {
        let rest = write_rest(
            &out,
            &source_writer.stop,
            plan,
            opts,
            &Rest {
                records: &records,
                quarantines: &quarantines,
                linked: &linked,
                discrepancies: &discrepancies,
                village_discrepancies: &village_discrepancies,
                indicators: &indicators,
                assessment: &assessment,
                quality: &quality,
                drill: &drill,
                previous_indicators: previous_indicators.as_ref(),
                returns: &returns,
                accepted: &accepted,
            },
        );
        if rest.is_err() {
            source_writer.stop.store(true, Ordering::Relaxed);
        }
        // A source's error is reported first: it is what stopped the rest.
        let mut outputs = source_writer.finish()?;
        let rest = rest?;
        if let Some(missing) = records
            .keys()
            .find(|id| !outputs.iter().any(|o| o.file == source_file(id)))
        {
            anyhow::bail!("`{}` was not written", source_file(missing));
        }
        // Sources first, in their file order: the manifest lists the outputs in this order.
        outputs.sort_by(|a, b| a.file.cmp(&b.file));
        outputs.extend(rest);
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
    opts.faults
        .write("manifest.json")
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

/// Where the write stage puts a run's tables, and what it stamps on them.
struct Output {
    dir: PathBuf,
    run_id: String,
    as_of: chrono::NaiveDate,
    faults: Faults,
}

/// `sources/<id>.parquet`, the file of a canonical source in the run folder.
fn source_file(id: &str) -> String {
    format!("sources/{id}.parquet")
}

/// Writes the canonical sources on a thread of its own, in the order ingest hands them over
/// ([`SourceWriter::write`], a piece at a time: with `--keep-sources`, the narrowed sources
/// as they are read; without, their rows held once known), while
/// the rest of the night goes on. A failed write sets `stop`, which the write stage reads
/// before each of its files; dropping the writer stops it after the piece it is writing and
/// waits for it.
struct SourceWriter {
    send: Option<std::sync::mpsc::SyncSender<Piece>>,
    stop: std::sync::Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<Result<Vec<OutputRecord>>>>,
}

/// What ingest hands the writer: a piece of a source's canonical table, or the end of it.
enum Piece {
    Rows(&'static str, DataFrame),
    End(&'static str),
}

/// Pieces queued for the writer before ingest waits for it: a registry read faster than it
/// is written would otherwise pile up in memory.
const PIECES_QUEUED: usize = 1;

impl SourceWriter {
    fn start(out: std::sync::Arc<Output>) -> SourceWriter {
        let (send, receive) = std::sync::mpsc::sync_channel::<Piece>(PIECES_QUEUED);
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        // Its logs sit under the run's span, as the other writes'.
        let span = tracing::Span::current();
        let thread = {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("poprecon-sources".into())
                .spawn(move || {
                    let _span = span.entered();
                    let mut written = Vec::new();
                    let mut open: Option<SourceFile> = None;
                    for piece in receive {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let done = match piece {
                            Piece::Rows(id, df) => {
                                let file = match &mut open {
                                    Some(file) if file.source == id => file,
                                    _ => open.insert(SourceFile::create(&out, id, &df)),
                                };
                                file.write(&out, &df)
                            }
                            Piece::End(id) => match open.take() {
                                Some(file) if file.source == id => {
                                    file.finish().map(|record| written.push(record))
                                }
                                _ => Ok(()),
                            },
                        };
                        if let Err(e) = done {
                            stop.store(true, Ordering::Relaxed);
                            return Err(e);
                        }
                    }
                    Ok(written)
                })
                .expect("the system starts a thread")
        };
        SourceWriter {
            send: Some(send),
            stop,
            thread: Some(thread),
        }
    }

    /// Whether a source could not be written (while the stages run, only the writer's
    /// thread stops itself).
    fn failed(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Queues `piece`, the next rows of the canonical table of `source`, to be written;
    /// waits while [`PIECES_QUEUED`] pieces are.
    fn write(&self, source: &'static str, piece: &DataFrame) {
        if let Some(send) = &self.send {
            // The thread only hangs up after a failure, which `finish` reports.
            let _ = send.send(Piece::Rows(source, piece.clone()));
        }
    }

    /// Every piece of `source` was queued: its file is finished once they are written.
    fn end(&self, source: &'static str) {
        if let Some(send) = &self.send {
            let _ = send.send(Piece::End(source));
        }
    }

    /// Waits until every queued source is written; what was written, or the first error.
    fn finish(&mut self) -> Result<Vec<OutputRecord>> {
        self.send = None;
        match self.thread.take() {
            Some(thread) => thread
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            None => Ok(Vec::new()),
        }
    }
}

/// A source's file being written, a piece at a time ([`poprecon_ingest::write_parquet`]'s
/// format: zstd level 1, statistics, row groups of at most [`ROW_GROUP_ROWS`] rows), each
/// piece stamped with the run id and `as_of`, encoded on the calling thread (the sources'
/// thread leaves polars' pool to the stages and the report, whose joins would otherwise
/// queue behind whole household columns: city seed 1 at load 8, one pair each, 22.2 s
/// against 22.7 s written in turn with the pool, 20.1 s against 22.9 s on its own thread).
/// Its creation failing is its first write's error.
struct SourceFile {
    source: &'static str,
    name: String,
    writer: Result<polars::io::parquet::write::BatchedWriter<std::fs::File>>,
    rows: u64,
    started: Instant,
}

/// Rows of a row group, as polars' `ParquetWriter` cuts a table.
const ROW_GROUP_ROWS: usize = 512 * 512;

impl SourceFile {
    fn create(out: &Output, source: &'static str, first: &DataFrame) -> SourceFile {
        let name = source_file(source);
        let path = out.dir.join(&name);
        let writer =
            (|| -> PolarsResult<polars::io::parquet::write::BatchedWriter<std::fs::File>> {
                out.faults.write(&name)?;
                let stamped = stamp(&first.head(Some(0)), &out.run_id, out.as_of)?;
                ParquetWriter::new(std::fs::File::create(&path)?)
                    .with_compression(ParquetCompression::Zstd(Some(
                        polars::polars_utils::compression::ZstdLevel::try_new(1)?,
                    )))
                    .set_parallel(false)
                    .batched(stamped.schema())
            })()
            .with_context(|| format!("cannot write `{}`", path.display()));
        SourceFile {
            source,
            name,
            writer,
            rows: 0,
            started: Instant::now(),
        }
    }

    fn write(&mut self, out: &Output, piece: &DataFrame) -> Result<()> {
        let path = out.dir.join(&self.name);
        let writer = match &mut self.writer {
            Ok(writer) => writer,
            Err(e) => anyhow::bail!("{e:#}"),
        };
        let mut stamped = stamp(piece, &out.run_id, out.as_of)
            .with_context(|| format!("cannot add `run_id` and `as_of` to `{}`", self.name))?;
        stamped.rechunk_mut();
        let mut offset = 0;
        while offset < stamped.height() {
            let group = stamped.slice(offset as i64, ROW_GROUP_ROWS);
            writer
                .write_batch(&group)
                .with_context(|| format!("cannot write `{}`", path.display()))?;
            offset += ROW_GROUP_ROWS;
        }
        self.rows += piece.height() as u64;
        Ok(())
    }

    fn finish(self) -> Result<OutputRecord> {
        self.writer?
            .finish()
            .with_context(|| format!("cannot write `{}`", self.name))?;
        // Where the write stage spends its time (`-vv`): file names and counts only.
        tracing::debug!(
            file = self.name,
            rows = self.rows,
            seconds = self.started.elapsed().as_secs_f64(),
            "written"
        );
        Ok(OutputRecord {
            file: self.name,
            rows: self.rows,
        })
    }
}

impl Drop for SourceWriter {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.stop.store(true, Ordering::Relaxed);
            // The night failed already: its error is the one reported.
            let _ = self.finish();
        }
    }
}

impl Output {
    /// Writes `df`, stamped with `run_id` and `as_of`, to `name` in the run folder, its
    /// columns encoded on polars' pool.
    fn write(&self, name: &str, df: &DataFrame) -> Result<OutputRecord> {
        let started = Instant::now();
        let mut df = stamp(df, &self.run_id, self.as_of)
            .with_context(|| format!("cannot add `run_id` and `as_of` to `{name}`"))?;
        let stamped = started.elapsed().as_secs_f64();
        let path = self.dir.join(name);
        self.faults
            .write(name)
            .map_err(polars::prelude::PolarsError::from)
            .and_then(|()| poprecon_ingest::write_parquet(&mut df, &path))
            .with_context(|| format!("cannot write `{}`", path.display()))?;
        // Where the write stage spends its time (`-vv`): file names and counts only.
        tracing::debug!(
            file = name,
            rows = df.height(),
            stamp_seconds = stamped,
            seconds = started.elapsed().as_secs_f64(),
            "written"
        );
        Ok(OutputRecord {
            file: name.to_owned(),
            rows: df.height() as u64,
        })
    }
}

/// The tables of the night that [`write_rest`] writes, and the sources the report reads.
struct Rest<'a> {
    records: &'a BTreeMap<String, DataFrame>,
    quarantines: &'a [(&'static str, DataFrame)],
    linked: &'a poprecon_link::LinkOutput,
    discrepancies: &'a DataFrame,
    village_discrepancies: &'a DataFrame,
    indicators: &'a DataFrame,
    assessment: &'a DataFrame,
    quality: &'a DataFrame,
    drill: &'a DataFrame,
    previous_indicators: Option<&'a DataFrame>,
    returns: &'a [(String, DataFrame)],
    /// Rows accepted per source, as ingest counted them (`records` holds the household
    /// registry's rows the night read one by one).
    accepted: &'a [(String, i64)],
}

/// Everything the write stage writes but the sources: the quarantines and the night's
/// tables, in that order, while `report.html` is made beside them, then the report; stops
/// before the next file once `stop` is set (the sources' thread failed).
fn write_rest(
    out: &Output,
    stop: &AtomicBool,
    plan: &Plan,
    opts: &RunOptions,
    t: &Rest<'_>,
) -> Result<Vec<OutputRecord>> {
    let Rest {
        quarantines,
        linked,
        ..
    } = *t;
    let mut outputs = Vec::new();
    let mut write = |name: &str, df: &DataFrame| -> Result<()> {
        if stop.load(Ordering::Relaxed) {
            anyhow::bail!("stopped before `{name}`: writing a source failed");
        }
        outputs.push(out.write(name, df)?);
        Ok(())
    };
    // The report is made on a thread of its own while the tables are written.
    let (written, html) = std::thread::scope(|scope| {
        let span = tracing::Span::current();
        let html = scope.spawn(move || span.in_scope(|| render_report(out, plan, opts, t)));
        let mut write_tables = || -> Result<()> {
            for (id, df) in quarantines {
                write(&format!("quarantine/{id}.parquet"), df)?;
            }
            write("births.parquet", &linked.births)?;
            opts.faults
                .pause_in_write()
                .context("cannot pause in the write stage")?;
            write("links.parquet", &linked.links)?;
            write("ambiguous_links.parquet", &linked.ambiguous)?;
            write("link_diagnostics.parquet", &linked.diagnostics)?;
            write("link_model.parquet", &linked.model)?;
            write("link_decisions.parquet", &linked.decisions)?;
            write("discrepancies.parquet", t.discrepancies)?;
            write("village_discrepancies.parquet", t.village_discrepancies)?;
            write("indicators.parquet", t.indicators)?;
            write("indicator_births.parquet", t.drill)?;
            write("assessment.parquet", t.assessment)?;
            write("data_quality.parquet", t.quality)?;
            if let Some(prev) = t.previous_indicators {
                write("previous_indicators.parquet", prev)?;
            }
            for (name, df) in t.returns {
                write(name, df)?;
            }
            Ok(())
        };
        let written = write_tables();
        let html = html
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (written, html)
    });
    written?;
    let (html, started) = html?;
    if stop.load(Ordering::Relaxed) {
        anyhow::bail!("stopped before `report.html`: writing a source failed");
    }
    let rendered = started.elapsed().as_secs_f64();
    let bytes = html.len();
    opts.faults
        .write("report.html")
        .and_then(|()| std::fs::write(out.dir.join("report.html"), html))
        .context("cannot write `report.html`")?;
    tracing::debug!(
        file = "report.html",
        bytes,
        render_seconds = rendered,
        seconds = started.elapsed().as_secs_f64(),
        "written"
    );
    Ok(outputs)
}

/// The analysts' `report.html` of the night, and when its making began.
fn render_report(
    out: &Output,
    plan: &Plan,
    opts: &RunOptions,
    t: &Rest<'_>,
) -> Result<(String, Instant)> {
    let Rest {
        records,
        quarantines,
        linked,
        ..
    } = *t;
    let sources: Vec<(String, DataFrame)> = records
        .iter()
        .map(|(id, df)| (id.clone(), df.clone()))
        .collect();
    let quarantine: Vec<(String, DataFrame)> = quarantines
        .iter()
        .map(|(id, df)| ((*id).to_owned(), df.clone()))
        .collect();
    let started = Instant::now();
    let html = crate::report_cmd::render(
        plan,
        &out.run_id,
        opts.lang,
        poprecon_report::Audience::Analyst,
        &crate::report_cmd::Tables {
            indicators: t.indicators,
            previous_indicators: t.previous_indicators,
            indicator_births: Some(t.drill),
            births: Some(&linked.births),
            discrepancies: t.discrepancies,
            village_discrepancies: t.village_discrepancies,
            links: Some(&linked.links),
            link_model: Some(&linked.model),
            ambiguous: Some(&linked.ambiguous),
            linkage: &linked.diagnostics,
            quality: t.quality,
            sources: &sources,
            quarantine: &quarantine,
            accepted: Some(t.accepted),
        },
    )?;
    let html = crate::returns_cmd::with_section(&html, opts.lang, t.returns)?;
    Ok((html, started))
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
