//! Executing a [`Plan`]: the night's stages, in order, as a library call.
//!
//! [`execute`] ingests every source ([`ingest_source`]), links births, runs the checks and
//! their lifecycle against last night's discrepancies, and measures the indicators; it
//! returns every output table ([`RunTables`]) with the ingest statistics and the seconds of
//! each stage. It writes nothing and prints nothing: the binary stages the run folder, writes
//! the tables and the report, and draws progress through the [`Progress`] it passes in;
//! tests and benches call the same function, so they take the night's path.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::time::Instant;

use polars::prelude::DataFrame;
use poprecon_ingest::{SourceOutput, SourceStats};

use crate::{Plan, SourcePlan};

/// The stages [`execute`] runs, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    /// Every source read into its canonical table and quarantine.
    Ingest,
    /// Birth events, links, contested links, reviewers' linkage decisions.
    Link,
    /// The births stage: every per-birth fact, once (`poprecon_link::birth_facts`).
    Births,
    /// The discrepancy rules, and new/open/resolved against the previous run.
    Check,
    /// Indicators, assessment, data quality, drill-through.
    Measure,
}

impl Stage {
    /// The stage's name in logs and in the manifest (`ingest`, `link`, `births`, `check`,
    /// `measure`).
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Ingest => "ingest",
            Stage::Link => "link",
            Stage::Births => "births",
            Stage::Check => "check",
            Stage::Measure => "measure",
        }
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How long a stage took and how many rows it made (rows read for ingest, births for link,
/// discrepancies for check, indicator rows for measure).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StageTiming {
    pub stage: Stage,
    pub rows: u64,
    pub seconds: f64,
}

/// What [`execute`] reports as it goes. The binary draws spinners and bars from it; every
/// method does nothing by default ([`NoProgress`]).
pub trait Progress: Sync {
    /// `stage` begins.
    fn stage_started(&self, _stage: Stage) {}

    /// `stage` is done. `Break` stops the run there: [`execute`] returns
    /// [`ExecuteError::Stopped`].
    fn stage_finished(&self, _timing: &StageTiming) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }

    /// `stage` failed (its error is [`execute`]'s).
    fn stage_failed(&self, _stage: Stage) {}

    /// Ingest of `source` begins. Sources are reported one after another: a workbook source
    /// read on a thread of its own ([`ingest_sources`]) is reported, its start, all its rows
    /// and its end, once it is read.
    fn source_started(&self, _source: &'static str) {}

    /// `rows` more rows of the current source were read.
    fn source_rows(&self, _rows: u64) {}

    /// Ingest of `source` ended, well or not.
    fn source_finished(&self, _source: &'static str) {}

    /// A piece of `source`'s canonical table (cheap to clone: the columns are shared), on
    /// the thread that calls [`execute`], while the other sources and stages go on: a
    /// caller can start writing it now. The pieces come in file and line order and make the
    /// whole table once [`Progress::source_ingested`] says so. The household registry comes
    /// in pieces as it is read ([`execute`] never holds it whole); another source comes
    /// whole, as one piece, after [`Progress::source_finished`].
    fn source_piece(&self, _source: &'static str, _piece: &DataFrame) {}

    /// Every piece of `source` was handed over, and it was read well. Called once per source
    /// read well, after [`Progress::source_finished`].
    fn source_ingested(&self, _source: &'static str) {}
}

/// Reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {}

/// What [`execute`] needs beyond the plan.
#[derive(Clone, Copy)]
pub struct ExecuteOptions<'a> {
    /// Last night's `discrepancies` table, for new/open/resolved (everything is new
    /// without it).
    pub previous: Option<&'a DataFrame>,
    pub progress: &'a dyn Progress,
}

impl Default for ExecuteOptions<'_> {
    fn default() -> Self {
        ExecuteOptions {
            previous: None,
            progress: &NoProgress,
        }
    }
}

impl std::fmt::Debug for ExecuteOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecuteOptions")
            .field("previous", &self.previous.map(DataFrame::shape))
            .finish_non_exhaustive()
    }
}

/// Every table a run makes, before the binary stamps and writes them.
#[derive(Debug)]
pub struct RunTables {
    /// Per source, in plan order: rows read, accepted, quarantined, unknown codes, files.
    pub ingest: Vec<SourceStats>,
    /// Each source's canonical table, by source id (`sources/<id>.parquet`), but the
    /// household registry's: only its rows the later stages read one by one
    /// (`poprecon_checks::narrow_household`; every row of a record key held, in file order).
    /// The whole table is what [`Progress::source_piece`] hands over.
    pub records: BTreeMap<String, DataFrame>,
    /// Each source's quarantined rows, in plan order (`quarantine/<id>.parquet`).
    pub quarantine: Vec<(&'static str, DataFrame)>,
    /// Births (the births stage's table, every per-birth fact), links, contested links,
    /// diagnostics, the linkage model and what became of each linkage decision.
    pub linked: poprecon_link::LinkOutput,
    /// The stillbirths' deliveries of the births stage (domain.md §8.4).
    pub stillbirths: DataFrame,
    /// The night's discrepancies with their lifecycle (`new`, `open`, `resolved`) and
    /// reviewers' decisions.
    pub discrepancies: DataFrame,
    pub village_discrepancies: DataFrame,
    pub indicators: DataFrame,
    pub assessment: DataFrame,
    pub data_quality: DataFrame,
    /// The births behind each indicator cell (`indicator_births.parquet`).
    pub indicator_births: DataFrame,
    /// The stages in the order they ran.
    pub stages: Vec<StageTiming>,
}

/// Why a run stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExecuteError {
    #[error("stage `{stage}` failed")]
    Stage {
        stage: Stage,
        #[source]
        source: StageError,
    },
    /// The [`Progress`] asked to stop after `stage`.
    #[error("stopped after stage `{stage}`")]
    Stopped { stage: Stage },
}

/// The error of the library a stage called.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    #[error(transparent)]
    Ingest(#[from] poprecon_ingest::IngestError),
    #[error(transparent)]
    Link(#[from] poprecon_link::LinkError),
    #[error(transparent)]
    Checks(#[from] poprecon_checks::ChecksError),
    #[error(transparent)]
    Indicators(#[from] poprecon_indicators::IndicatorError),
}

/// Runs the plan's stages (ingest, link, check with lifecycle, measure) and returns their
/// tables. Each stage runs in a `stage` tracing span and logs its rows and seconds.
pub fn execute(plan: &Plan, opts: &ExecuteOptions<'_>) -> Result<RunTables, ExecuteError> {
    let mut stages = Vec::new();

    let mut ingest = Vec::new();
    let mut records = BTreeMap::new();
    let mut quarantine = Vec::new();
    let divisions = poprecon_indicators::Divisions {
        counties: &plan.divisions.counties,
        townships: &plan.divisions.townships,
        villages: &plan.divisions.villages,
    };
    let household = run_stage(&mut stages, opts.progress, Stage::Ingest, || {
        // The household registry is read in pieces, each scanned and measured as it comes
        // (`Registry::add`), then read again for the rows held.
        let mut registry = Registry::new(plan, divisions);
        let read = {
            let mut sink = |piece: &DataFrame| registry.add(piece);
            let streamed = registry_plan(plan).map(|sp| Streamed {
                source: sp.source.id(),
                sink: &mut sink,
            });
            ingest_sources(plan, opts.progress, streamed)?
        };
        for output in read {
            ingest.push(output.stats);
            quarantine.push((output.source, output.quarantine));
            records.insert(output.source.to_owned(), output.records);
        }
        let household = match registry_plan(plan) {
            Some(sp) => {
                // A registry read whole (from workbooks) is scanned as one piece.
                if let Some(whole) = records.remove(HOUSEHOLD)
                    && whole.height() > 0
                {
                    registry.add(&whole)?;
                }
                let (held, narrowed) = registry.finish(plan, sp, &records)?;
                records.insert(HOUSEHOLD.to_owned(), held);
                Some(narrowed)
            }
            None => None,
        };
        let rows = ingest.iter().map(|s: &SourceStats| s.read).sum();
        Ok((household, rows))
    })?;

    let input = poprecon_link::LinkInput::from_tables(
        |s| records.get(s),
        plan.as_of,
        plan.period,
        &plan.jurisdiction,
    );
    let mut linked = run_stage(&mut stages, opts.progress, Stage::Link, || {
        let decisions = plan.decisions.link_constraints();
        let linked = poprecon_link::link_with_decisions(&input, &plan.linkage, &decisions)?;
        let rows = linked.births.height() as u64;
        Ok((linked, rows))
    })?;

    let facts = run_stage(&mut stages, opts.progress, Stage::Births, || {
        let facts = poprecon_link::birth_facts(
            &linked.births,
            &input,
            &plan.linkage,
            &poprecon_link::FactSettings {
                birth_date_tolerance_days: plan.rules.birth_date_mismatch.tolerance_days,
            },
        )?;
        let rows = (facts.births.height() + facts.stillbirths.height()) as u64;
        Ok((facts, rows))
    })?;
    linked.births = facts.births;
    let stillbirths = facts.stillbirths;

    let (discrepancies, village_discrepancies) =
        run_stage(&mut stages, opts.progress, Stage::Check, || {
            let mut input = poprecon_checks::CheckInput::new(plan.as_of, plan.period)
                .with_births(&linked.births)
                .with_stillbirths(&stillbirths)
                .with_ambiguous(&linked.ambiguous)
                .with_villages(plan.divisions.villages.keys().cloned())
                .with_decisions(&plan.decisions);
            for (id, df) in &records {
                input = input.with_source(id, df);
            }
            if let Some(h) = &household {
                input = input.with_narrowed_household(&records[HOUSEHOLD], &h.rest);
            }
            let checked = poprecon_checks::run_checks(&input, &plan.rules)?;
            let current = poprecon_checks::apply_lifecycle(
                &checked.discrepancies,
                opts.previous,
                plan.as_of,
            )?;
            let rows = current.height() as u64;
            Ok(((current, checked.village_discrepancies), rows))
        })?;

    let (indicators, assessment, data_quality, indicator_births) =
        run_stage(&mut stages, opts.progress, Stage::Measure, || {
            // The household registry's data quality was measured on all its rows at ingest.
            let mut others = records.clone();
            if household.is_some() {
                others.remove(HOUSEHOLD);
            }
            let input = poprecon_indicators::IndicatorInput {
                births: &linked.births,
                stillbirths: Some(&stillbirths),
                sources: &others,
                as_of: plan.as_of,
                period: plan.period,
                jurisdiction: &plan.jurisdiction,
                divisions,
            };
            let timed = |part: &str, started: Instant| {
                tracing::debug!(part, seconds = started.elapsed().as_secs_f64(), "measured");
            };
            let started = Instant::now();
            let indicators = poprecon_indicators::compute(&input, &plan.indicators)?;
            timed("indicators", started);
            let started = Instant::now();
            let assessment = poprecon_indicators::assess(&indicators, &plan.assessment)?;
            timed("assessment", started);
            let started = Instant::now();
            let mut quality = poprecon_indicators::data_quality(&input, &plan.indicators)?;
            if let Some(h) = &household {
                quality =
                    poprecon_indicators::merge_data_quality(vec![quality, h.quality.clone()])?;
            }
            timed("data_quality", started);
            let started = Instant::now();
            let drill = poprecon_indicators::drill_through(&input, &plan.indicators)?;
            timed("drill_through", started);
            let rows = indicators.height() as u64;
            Ok(((indicators, assessment, quality, drill), rows))
        })?;

    Ok(RunTables {
        ingest,
        records,
        quarantine,
        linked,
        stillbirths,
        discrepancies,
        village_discrepancies,
        indicators,
        assessment,
        data_quality,
        indicator_births,
        stages,
    })
}

const HOUSEHOLD: &str = poprecon_model::SourceId::Household.id();

/// The household registry as the later stages read it: its rows that linkage, the rules
/// and the report read one by one, with what the rules need of the others and its data
/// quality, measured on every row.
struct NarrowedHousehold {
    rest: poprecon_checks::HouseholdRest,
    quality: DataFrame,
}

/// The plan's household registry, if it has one.
fn registry_plan(plan: &Plan) -> Option<&SourcePlan> {
    plan.sources.iter().find(|sp| sp.source.id() == HOUSEHOLD)
}

/// The household registry as ingest hands it over, a piece at a time: each piece scanned
/// (`poprecon_checks::HouseholdScan`) and measured (data quality), then dropped, so that a
/// registry of millions of rows is never whole in memory. [`Registry::finish`] reads the
/// registry's files again for the rows held alone.
struct Registry<'p> {
    plan: &'p Plan,
    divisions: poprecon_indicators::Divisions<'p>,
    scan: poprecon_checks::HouseholdScan,
    quality: Vec<DataFrame>,
}

impl<'p> Registry<'p> {
    fn new(plan: &'p Plan, divisions: poprecon_indicators::Divisions<'p>) -> Self {
        let window = poprecon_link::birth_window(plan.period, &plan.linkage);
        Registry {
            plan,
            divisions,
            scan: poprecon_checks::HouseholdScan::new(window),
            quality: Vec::new(),
        }
    }

    /// Scans and measures the next piece of the registry.
    fn add(&mut self, piece: &DataFrame) -> Result<(), StageError> {
        self.scan.add(piece)?;
        let empty = DataFrame::empty();
        let only = BTreeMap::from([(HOUSEHOLD.to_owned(), piece.clone())]);
        self.quality.push(poprecon_indicators::data_quality(
            &poprecon_indicators::IndicatorInput {
                births: &empty,
                stillbirths: None,
                sources: &only,
                as_of: self.plan.as_of,
                period: self.plan.period,
                jurisdiction: &self.plan.jurisdiction,
                divisions: self.divisions,
            },
            &self.plan.indicators,
        )?);
        Ok(())
    }

    /// The rows held (`poprecon_checks::HouseholdScan::finish`, given the other sources'
    /// `records`), read again from the registry's files in file order, and what the rules
    /// need of the others.
    fn finish(
        self,
        plan: &Plan,
        sp: &SourcePlan,
        records: &BTreeMap<String, DataFrame>,
    ) -> Result<(DataFrame, NarrowedHousehold), StageError> {
        let started = Instant::now();
        let scanned = self.scan.rows();
        let narrowing = self.scan.finish(records)?;
        let quality = poprecon_indicators::merge_data_quality(self.quality)?;
        // The second read keeps the rows at the lines held (file by file, as ingest names
        // the files in `source_file`), without progress: its rows were counted once.
        let lines: Vec<&[u64]> = sp
            .files
            .iter()
            .map(|f| narrowing.lines.of_file(&f.path.display().to_string()))
            .collect();
        let keep = |file: usize, line: u64| lines[file].binary_search(&line).is_ok();
        let held = poprecon_ingest::ingest(&poprecon_ingest::IngestConfig {
            keep: Some(&keep),
            ..plan.ingest_config(sp)
        })?
        .records;
        if held.height() != narrowing.rest.held {
            return Err(StageError::Ingest(poprecon_ingest::IngestError::Frame {
                source_id: HOUSEHOLD,
                message: format!(
                    "the registry changed while it was read: {} rows held, {} read again",
                    narrowing.rest.held,
                    held.height()
                ),
            }));
        }
        let held = poprecon_checks::compacted(held).map_err(|e| {
            StageError::Ingest(poprecon_ingest::IngestError::Frame {
                source_id: HOUSEHOLD,
                message: e.to_string(),
            })
        })?;
        tracing::debug!(
            scanned,
            held = held.height(),
            seconds = started.elapsed().as_secs_f64(),
            "household read again for the rows held"
        );
        Ok((
            held,
            NarrowedHousehold {
                rest: narrowing.rest,
                quality,
            },
        ))
    }
}

/// A source [`ingest_sources`] hands over in pieces as it reads them (`sink`, after
/// [`Progress::source_piece`]) instead of holding it: its output's `records` has no rows.
pub struct Streamed<'a> {
    pub source: &'static str,
    pub sink: &'a mut dyn FnMut(&DataFrame) -> Result<(), StageError>,
}

impl std::fmt::Debug for Streamed<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Streamed")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// Reads every source of the plan; the outputs come back in plan order. `streamed`, if
/// given, is read in pieces (unless it is read from workbooks alone: then it comes whole).
///
/// A source read only from workbooks is read on a thread of its own while the others are
/// ingested one after another: calamine reads a
/// sheet on one core, so an XLSX extract would otherwise hold the stage while the CSV and
/// Parquet sources wait. `progress` still sees one source at a time: such a source is
/// reported (started, its rows, finished) between two of the others once it is read, or at
/// the end. When sources fail, the error is the first failing source's in plan order; no
/// source is begun after a failure.
pub fn ingest_sources(
    plan: &Plan,
    progress: &dyn Progress,
    mut streamed: Option<Streamed<'_>>,
) -> Result<Vec<SourceOutput>, StageError> {
    use std::sync::atomic::{AtomicBool, Ordering};
    type Read = (usize, Result<SourceOutput, StageError>);

    let apart: Vec<usize> = (0..plan.sources.len())
        .filter(|&i| {
            let files = &plan.sources[i].files;
            !files.is_empty() && files.iter().all(|f| f.format.is_workbook())
        })
        .collect();
    let mut outputs: Vec<Option<Result<SourceOutput, StageError>>> =
        (0..plan.sources.len()).map(|_| None).collect();
    let failed = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let (send, read) = std::sync::mpsc::channel::<Read>();
        if !apart.is_empty() {
            // The thread's spans and logs sit under the ingest stage's span, as the others'.
            let stage = tracing::Span::current();
            let (apart, failed) = (&apart, &failed);
            scope.spawn(move || {
                let _stage = stage.enter();
                for &i in apart {
                    if failed.load(Ordering::Relaxed) {
                        break;
                    }
                    let result = read_source(plan, &plan.sources[i], None, None);
                    if send.send((i, result)).is_err() {
                        break;
                    }
                }
            });
        } else {
            drop(send);
        }
        let report = |(i, result): &Read| {
            let id = plan.sources[*i].source.id();
            progress.source_started(id);
            match result {
                Ok(output) => progress.source_rows(output.stats.read),
                Err(_) => failed.store(true, Ordering::Relaxed),
            }
            progress.source_finished(id);
            if let Ok(output) = result {
                progress.source_piece(id, &output.records);
                progress.source_ingested(id);
            }
        };
        for (i, sp) in plan.sources.iter().enumerate() {
            if apart.contains(&i) {
                continue;
            }
            while let Ok(done) = read.try_recv() {
                report(&done);
                outputs[done.0] = Some(done.1);
            }
            if failed.load(Ordering::Relaxed) {
                break;
            }
            let id = sp.source.id();
            let result = match streamed.as_mut().filter(|s| s.source == id) {
                Some(streamed) => {
                    let mut pieces = 0;
                    let mut sink = |piece: &DataFrame| {
                        progress.source_piece(id, piece);
                        pieces += 1;
                        (streamed.sink)(piece)
                    };
                    let result = ingest_source_with(plan, sp, progress, Some(&mut sink));
                    if let Ok(output) = &result
                        && pieces == 0
                    {
                        // A registry of no rows still has its (empty) table.
                        progress.source_piece(id, &output.records);
                    }
                    result
                }
                None => {
                    let result = ingest_source_with(plan, sp, progress, None);
                    if let Ok(output) = &result {
                        progress.source_piece(id, &output.records);
                    }
                    result
                }
            };
            match &result {
                Ok(_) => progress.source_ingested(id),
                Err(_) => failed.store(true, Ordering::Relaxed),
            }
            outputs[i] = Some(result);
        }
        // Until the workbook thread is done (it drops its sender as it ends).
        for done in read {
            report(&done);
            outputs[done.0] = Some(done.1);
        }
    });
    outputs.into_iter().flatten().collect()
}

/// Reads one source of the plan (its files, column map and code lists, village codes
/// checked against the division table), reporting rows read to `progress`; warns once per
/// file about optional fields no column gives.
pub fn ingest_source(
    plan: &Plan,
    sp: &SourcePlan,
    progress: &dyn Progress,
) -> Result<SourceOutput, poprecon_ingest::IngestError> {
    ingest_source_with(plan, sp, progress, None).map_err(|e| match e {
        StageError::Ingest(e) => e,
        other => poprecon_ingest::IngestError::Frame {
            source_id: sp.source.id(),
            message: other.to_string(),
        },
    })
}

/// A piece of a source, to the caller ([`Streamed::sink`]).
type Sink<'s> = &'s mut dyn FnMut(&DataFrame) -> Result<(), StageError>;

/// [`ingest_source`], the source's pieces handed to `sink` if given.
fn ingest_source_with(
    plan: &Plan,
    sp: &SourcePlan,
    progress: &dyn Progress,
    sink: Option<Sink<'_>>,
) -> Result<SourceOutput, StageError> {
    let id = sp.source.id();
    progress.source_started(id);
    let tick = |n: u64| progress.source_rows(n);
    let output = read_source(plan, sp, Some(&tick), sink);
    progress.source_finished(id);
    output
}

/// [`ingest_source`] without the progress of the source as a whole: `tick` is told the rows
/// as they are read; with `sink`, the canonical table goes there piece by piece
/// (`poprecon_ingest::ingest_each`). Logs in the source's `ingest` span.
fn read_source(
    plan: &Plan,
    sp: &SourcePlan,
    tick: Option<&(dyn Fn(u64) + Sync)>,
    sink: Option<Sink<'_>>,
) -> Result<SourceOutput, StageError> {
    let id = sp.source.id();
    let _span = tracing::info_span!("ingest", source = id).entered();
    let started = Instant::now();
    let cfg = poprecon_ingest::IngestConfig {
        progress: tick,
        ..plan.ingest_config(sp)
    };
    let output = match sink {
        None => poprecon_ingest::ingest(&cfg)?,
        Some(sink) => {
            // The caller's error stops ingest, and is the one returned.
            let mut stopped = None;
            let read = poprecon_ingest::ingest_each(&cfg, &mut |piece| {
                sink(&piece).map_err(|e| {
                    stopped = Some(e);
                    poprecon_ingest::IngestError::Frame {
                        source_id: id,
                        message: "stopped by the reader of its pieces".to_owned(),
                    }
                })
            });
            match (read, stopped) {
                (_, Some(e)) => return Err(e),
                (read, None) => read?,
            }
        }
    };
    for file in &output.stats.files {
        if !file.missing_fields.is_empty() {
            tracing::warn!(
                source = id,
                file = %file.path,
                fields = %labelled_fields(sp.source, &file.missing_fields),
                "no column for optional fields: they are empty for every row of this file"
            );
        }
    }
    tracing::info!(
        read = output.stats.read,
        accepted = output.stats.accepted,
        quarantined = output.stats.quarantined,
        seconds = started.elapsed().as_secs_f64(),
        "ingested"
    );
    Ok(output)
}

/// `residence_village (现居住地), mother_name (产妇姓名)`.
pub fn labelled_fields(source: &dyn poprecon_ingest::Source, fields: &[String]) -> String {
    fields
        .iter()
        .map(|f| match poprecon_ingest::field(source, f) {
            Some(spec) => format!("{f} ({})", spec.label_zh),
            None => f.clone(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs one stage in its span, times it, tells `progress`, and records it in `stages`.
fn run_stage<T>(
    stages: &mut Vec<StageTiming>,
    progress: &dyn Progress,
    stage: Stage,
    f: impl FnOnce() -> Result<(T, u64), StageError>,
) -> Result<T, ExecuteError> {
    // The field is `stage`, not `name`: JSON logs print the span's own name under `name`,
    // and one object must not hold the key twice.
    let _span = tracing::info_span!("stage", stage = stage.as_str()).entered();
    progress.stage_started(stage);
    let started = Instant::now();
    let (value, rows) = f().map_err(|source| {
        progress.stage_failed(stage);
        ExecuteError::Stage { stage, source }
    })?;
    let timing = StageTiming {
        stage,
        rows,
        seconds: started.elapsed().as_secs_f64(),
    };
    tracing::info!(rows, seconds = timing.seconds, "stage done");
    stages.push(timing);
    match progress.stage_finished(&timing) {
        ControlFlow::Continue(()) => Ok(value),
        ControlFlow::Break(()) => Err(ExecuteError::Stopped { stage }),
    }
}
