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

use polars::prelude::{
    BooleanChunked, DataFrame, DataType, IdxCa, IdxSize, NewChunkedArray, PolarsError, PolarsResult,
};
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
    /// table once [`Progress::source_ingested`] says so. A source comes whole, as one piece,
    /// after [`Progress::source_finished`], but the sources narrowed at ingest (the
    /// household registry, the school, marriage and social-security records): their rows
    /// held ([`RunTables::records`]) once ingest has narrowed them, or with
    /// [`ExecuteOptions::whole_sources`] every row, in pieces as they are read ([`execute`]
    /// never holds them whole).
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
    /// Hand the sources narrowed at ingest (the household registry, the school, marriage
    /// and social-security records) to [`Progress::source_piece`] whole, a piece at a time as
    /// they are read; by default only their rows held ([`RunTables::records`]), once
    /// ingest has narrowed them.
    pub whole_sources: bool,
}

impl Default for ExecuteOptions<'_> {
    fn default() -> Self {
        ExecuteOptions {
            previous: None,
            progress: &NoProgress,
            whole_sources: false,
        }
    }
}

impl std::fmt::Debug for ExecuteOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecuteOptions")
            .field("previous", &self.previous.map(DataFrame::shape))
            .field("whole_sources", &self.whole_sources)
            .finish_non_exhaustive()
    }
}

/// Every table a run makes, before the binary stamps and writes them.
#[derive(Debug)]
pub struct RunTables {
    /// Per source, in plan order: rows read, accepted, quarantined, unknown codes, files.
    pub ingest: Vec<SourceStats>,
    /// Each source's canonical table, by source id (`sources/<id>.parquet`), but those
    /// narrowed at ingest: only their rows the later stages read one by one (the household
    /// registry's by `poprecon_checks::HouseholdScan`, the school, marriage and
    /// social-security records' by `poprecon_checks::SourceScan`; in file order). With
    /// [`ExecuteOptions::whole_sources`], the whole tables are what
    /// [`Progress::source_piece`] hands over.
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
    let mut narrowed = run_stage(&mut stages, opts.progress, Stage::Ingest, || {
        // The school records, the household registry, then the marriage and insurance
        // records are read last, in pieces, each scanned and measured as it comes and its
        // likely rows kept (`Narrowed`), knowing the sources read before them: the
        // registry's scan reads the pupils without an ID, the school and the other records
        // are placed by the registry's persons.
        let registry = std::cell::OnceCell::new();
        let mut readers: Vec<Narrowed<'_>> = narrowed_plans(plan)
            .map(|sp| {
                // Unless every row was handed over as read, the rows held are, as soon as
                // they are known (the caller writes them while the next source is read).
                let hand_over = (!opts.whole_sources).then_some(opts.progress);
                Narrowed::new(plan, sp, divisions, &registry, hand_over)
            })
            .collect();
        // A registry read from workbooks comes whole, after the others: the records placed
        // by its persons are then read whole too, and scanned after it.
        let streamable = |r: &Narrowed<'_>| {
            !poprecon_checks::NARROWED_AFTER_REGISTRY.contains(&r.source)
                || registry_plan(plan).is_none_or(|sp| !read_apart(sp))
        };
        let streamed = readers
            .iter_mut()
            .filter(|r| streamable(r))
            .map(|r| Streamed {
                source: r.source,
                hand_over: opts.whole_sources,
                reader: r,
            })
            .collect();
        let read = ingest_sources(plan, opts.progress, streamed)?;
        for output in read {
            ingest.push(output.stats);
            quarantine.push((output.source, output.quarantine));
            records.insert(output.source.to_owned(), output.records);
        }
        // A source read whole is scanned as one piece, in the readers' order.
        for reader in &mut readers {
            if !reader.ended {
                let whole = records.remove(reader.source);
                reader.begin(&records)?;
                if let Some(whole) = whole.filter(|w| w.height() > 0) {
                    reader.piece(&whole)?;
                }
                if let Some(rows) = reader.end()? {
                    records.insert(reader.source.to_owned(), rows);
                }
            }
        }
        // The school records, decided once the registry is read.
        for reader in &mut readers {
            if reader.done.is_none() {
                reader.finish()?;
            }
        }
        let mut narrowed = NarrowedSources::default();
        for reader in readers {
            let source = reader.source;
            let done = reader.done.expect("every narrowed source is finished");
            narrowed.quality.push((source, done.quality));
            if let Some(rest) = done.rest {
                narrowed.sources.push((source, rest));
            }
            records.insert(source.to_owned(), done.rows);
        }
        narrowed.household = registry.into_inner();
        // What the later stages hold of each source (`-vv`): rows and bytes, no values.
        for (source, df) in &records {
            tracing::debug!(
                source = source.as_str(),
                rows = df.height(),
                bytes = df.estimated_size(),
                "held"
            );
        }
        let rows = ingest.iter().map(|s: &SourceStats| s.read).sum();
        Ok((narrowed, rows))
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
            if let Some(rest) = &narrowed.household {
                input = input.with_narrowed_household(&records[HOUSEHOLD], rest);
            }
            for (source, rest) in &narrowed.sources {
                input = input.with_narrowed_source(source, &records[*source], rest);
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

    // What the rules needed of the narrowed sources' other rows (the registry's persons: a
    // province's 60 M, ~1 GB) is not needed past them.
    drop(narrowed.household.take());
    narrowed.sources.clear();

    let (indicators, assessment, data_quality, indicator_births) =
        run_stage(&mut stages, opts.progress, Stage::Measure, || {
            // The narrowed sources' data quality was measured on all their rows at ingest.
            let mut others = records.clone();
            for (source, _) in &narrowed.quality {
                others.remove(*source);
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
            if !narrowed.quality.is_empty() {
                // Measured at ingest without births: the rows held move to their births'
                // villages (marriage records have no village of their own).
                let mut parts = vec![quality];
                let mut less = Vec::new();
                for (source, measured) in &narrowed.quality {
                    parts.push(measured.clone());
                    if *source == HOUSEHOLD {
                        // The registry's rows are at their own village.
                        continue;
                    }
                    let only = BTreeMap::from([((*source).to_owned(), records[*source].clone())]);
                    let with = poprecon_indicators::IndicatorInput {
                        sources: &only,
                        ..input
                    };
                    parts.push(poprecon_indicators::data_quality(&with, &plan.indicators)?);
                    let empty = DataFrame::empty();
                    let without = poprecon_indicators::IndicatorInput {
                        births: &empty,
                        ..with
                    };
                    less.push(poprecon_indicators::data_quality(
                        &without,
                        &plan.indicators,
                    )?);
                }
                quality = poprecon_indicators::merge_data_quality_less(parts, less)?;
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
const SCHOOL: &str = poprecon_model::SourceId::School.id();

/// The sources narrowed at ingest as the later stages read them: beside their rows held (in
/// `records`), what the rules need of the others and their data quality, measured on every
/// row as they were read (without births).
#[derive(Default)]
struct NarrowedSources {
    household: Option<poprecon_checks::HouseholdRest>,
    sources: Vec<(&'static str, poprecon_checks::SourceRest)>,
    quality: Vec<(&'static str, DataFrame)>,
}

/// The plan's sources narrowed at ingest, in the order they are read: the school records
/// (whose pupils without an ID the registry's scan reads), the household registry, then the
/// marriage and social-security records (`poprecon_checks::NARROWED_AFTER_REGISTRY`),
/// placed by the registry's persons as they are read.
fn narrowed_plans(plan: &Plan) -> impl Iterator<Item = &SourcePlan> {
    let before = poprecon_checks::NARROWED_SOURCES
        .into_iter()
        .filter(|s| !poprecon_checks::NARROWED_AFTER_REGISTRY.contains(s));
    let order = before
        .chain([HOUSEHOLD])
        .chain(poprecon_checks::NARROWED_AFTER_REGISTRY);
    order.filter_map(|id| plan.sources.iter().find(|sp| sp.source.id() == id))
}

/// The plan's household registry, if it has one.
fn registry_plan(plan: &Plan) -> Option<&SourcePlan> {
    plan.sources.iter().find(|sp| sp.source.id() == HOUSEHOLD)
}

/// Whether [`ingest_sources`] reads `sp` apart, whole: from workbooks alone.
fn read_apart(sp: &SourcePlan) -> bool {
    !sp.files.is_empty() && sp.files.iter().all(|f| f.format.is_workbook())
}

/// How a narrowed source is scanned.
enum Scan {
    Household(poprecon_checks::HouseholdScan),
    /// Made once the sources read before are known ([`PieceReader::begin`]).
    Source(Option<poprecon_checks::SourceScan>),
}

/// A narrowed source's rows held, in file order, with its data quality (every row, without
/// births) and what the rules need of its other rows (the registry's are in
/// [`Narrowed::registry`]).
struct Done {
    rows: DataFrame,
    quality: DataFrame,
    rest: Option<poprecon_checks::SourceRest>,
}

/// A source as ingest hands it over, a piece at a time: each piece scanned
/// (`poprecon_checks::HouseholdScan`, `poprecon_checks::SourceScan`), measured (data
/// quality) and its likely rows kept, so that millions of rows are never whole in memory.
/// Its end keeps the rows held of those, and reads the source's files again for the rows
/// held that a later piece revealed (a household, a mother, an ID or a copy across pieces).
/// The registry's end leaves what the rules need of its other rows in `registry`, where the
/// records read after it find its persons.
struct Narrowed<'p> {
    source: &'static str,
    plan: &'p Plan,
    sp: &'p SourcePlan,
    divisions: poprecon_indicators::Divisions<'p>,
    registry: &'p std::cell::OnceCell<poprecon_checks::HouseholdRest>,
    /// Told the rows held once they are known ([`Progress::source_piece`]).
    hand_over: Option<&'p dyn Progress>,
    scan: Scan,
    /// The sources read before (the registry's scan reads them as it ends).
    others: BTreeMap<String, DataFrame>,
    quality: Vec<DataFrame>,
    /// The rows of each piece likely held, with text buffers of their own.
    likely: Vec<DataFrame>,
    /// Whether its last piece was read ([`PieceReader::end`]).
    ended: bool,
    done: Option<Done>,
}

impl<'p> Narrowed<'p> {
    fn new(
        plan: &'p Plan,
        sp: &'p SourcePlan,
        divisions: poprecon_indicators::Divisions<'p>,
        registry: &'p std::cell::OnceCell<poprecon_checks::HouseholdRest>,
        hand_over: Option<&'p dyn Progress>,
    ) -> Self {
        let source = sp.source.id();
        let scan = if source == HOUSEHOLD {
            let window = poprecon_link::birth_window(plan.period, &plan.linkage);
            Scan::Household(poprecon_checks::HouseholdScan::new(window))
        } else {
            Scan::Source(None)
        };
        Narrowed {
            source,
            plan,
            sp,
            divisions,
            registry,
            hand_over,
            scan,
            others: BTreeMap::new(),
            quality: Vec::new(),
            likely: Vec::new(),
            ended: false,
            done: None,
        }
    }
}

/// The rows of `sp` at `lines` (`expected` of them), in file order: those of the `likely`
/// pieces, and the others read again from the source's files (without progress: their rows
/// were counted once).
fn held_rows(
    plan: &Plan,
    sp: &SourcePlan,
    likely: Vec<DataFrame>,
    lines: &poprecon_checks::HeldLines,
    expected: usize,
) -> Result<DataFrame, StageError> {
    let source = sp.source.id();
    let err = |e: PolarsError| frame_err(source, e);
    // Lines as ingest names the files in `source_file`, each file a set of lines.
    let paths: Vec<String> = sp
        .files
        .iter()
        .map(|f| f.path.display().to_string())
        .collect();
    let held = LineSet::of(paths.iter().map(|p| lines.of_file(p)));
    // The likely rows that are held.
    let mut kept = Vec::new();
    let mut found = LineSet::of(paths.iter().map(|_| &[][..]));
    for piece in likely {
        let (files, lines) = file_lines(&piece, &paths).map_err(err)?;
        let mask: BooleanChunked = files
            .iter()
            .zip(&lines)
            .map(|(&f, &l)| {
                let hit = held.holds(f, l);
                if hit {
                    found.insert(f, l);
                }
                hit
            })
            .collect();
        kept.push(piece.filter(&mask).map_err(err)?);
    }
    // The rows held that no piece thought likely, read again.
    let missing = held.len() - found.len();
    if missing > 0 {
        let keep = |file: usize, line: u64| held.holds(file, line) && !found.holds(file, line);
        let again = poprecon_ingest::ingest(&poprecon_ingest::IngestConfig {
            keep: Some(&keep),
            ..plan.ingest_config(sp)
        })?
        .records;
        kept.push(again);
    }
    let mut rows = match kept.len() {
        // A source of no rows: its (empty) table.
        0 => {
            poprecon_ingest::ingest(&poprecon_ingest::IngestConfig {
                keep: Some(&|_, _| false),
                ..plan.ingest_config(sp)
            })?
            .records
        }
        _ => {
            let mut it = kept.into_iter();
            let mut df = it.next().expect("one piece at least");
            for piece in it {
                df.vstack_mut_owned(piece).map_err(err)?;
            }
            df
        }
    };
    if missing > 0 {
        // In file order, as the source's rows are everywhere else.
        let (files, lines) = file_lines(&rows, &paths).map_err(err)?;
        let mut order: Vec<usize> = (0..rows.height()).collect();
        order.sort_by_key(|&i| (files[i], lines[i]));
        let order: Vec<IdxSize> = order.into_iter().map(|i| i as IdxSize).collect();
        rows = rows
            .take(&IdxCa::from_vec("order".into(), order))
            .map_err(err)?;
    }
    // One chunk per column, each long text once across the pieces.
    let rows = poprecon_ingest::shared_text(rows).map_err(err)?;
    if rows.height() != expected {
        return Err(StageError::Ingest(poprecon_ingest::IngestError::Frame {
            source_id: source,
            message: format!(
                "the source changed while it was read: {expected} rows held, {} read",
                rows.height()
            ),
        }));
    }
    tracing::debug!(source, read_again = missing, "rows gathered");
    Ok(rows)
}

/// A frame error of `source`, as an ingest error.
fn frame_err(source: &'static str, e: PolarsError) -> StageError {
    StageError::Ingest(poprecon_ingest::IngestError::Frame {
        source_id: source,
        message: e.to_string(),
    })
}

impl PieceReader for Narrowed<'_> {
    fn begin(&mut self, others: &BTreeMap<String, DataFrame>) -> Result<(), StageError> {
        match &mut self.scan {
            Scan::Household(scan) => {
                let fresh = poprecon_checks::HouseholdScan::new((0, 0));
                let scan = std::mem::replace(scan, fresh);
                self.scan = Scan::Household(scan.knowing(others)?);
                self.others = others.clone();
            }
            Scan::Source(scan) => {
                *scan = poprecon_checks::SourceScan::new(self.source, others, self.registry.get())?;
            }
        }
        Ok(())
    }

    fn piece(&mut self, piece: &DataFrame) -> Result<(), StageError> {
        let source = self.source;
        let likely = match &mut self.scan {
            Scan::Household(scan) => scan.add(piece)?,
            Scan::Source(Some(scan)) => scan.add(piece, self.registry.get())?,
            Scan::Source(None) => unreachable!("a source's scan begins before its pieces"),
        };
        let mask = BooleanChunked::from_slice("likely".into(), &likely);
        let likely = piece.filter(&mask).map_err(|e| frame_err(source, e))?;
        self.likely
            .push(poprecon_ingest::shared_text(likely).map_err(|e| frame_err(source, e))?);
        // What the scan keeps so far (`-vv`): rows and bytes, no values.
        tracing::debug!(
            source,
            rows = piece.height(),
            likely_rows = self.likely.iter().map(DataFrame::height).sum::<usize>(),
            likely_bytes = self
                .likely
                .iter()
                .map(DataFrame::estimated_size)
                .sum::<usize>(),
            "piece scanned"
        );

        let empty = DataFrame::empty();
        let only = BTreeMap::from([(source.to_owned(), piece.clone())]);
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

    /// The rows held, gathered in file order ([`Narrowed::finish`]); a school's rows likely
    /// held for now (the registry's scan reads its pupils without an ID): it is decided
    /// once the registry is read.
    fn end(&mut self) -> Result<Option<DataFrame>, StageError> {
        self.ended = true;
        if self.source == SCHOOL {
            let mut likely = self.likely.iter();
            let Some(first) = likely.next() else {
                return Ok(None);
            };
            let mut rows = first.clone();
            for piece in likely {
                rows.vstack_mut(piece).map_err(|e| frame_err(SCHOOL, e))?;
            }
            return Ok(Some(rows));
        }
        self.finish()?;
        Ok(self.done.as_ref().map(|done| done.rows.clone()))
    }
}

impl Narrowed<'_> {
    /// The rows held (`poprecon_checks::HouseholdScan::finish`,
    /// `poprecon_checks::SourceScan::finish`), gathered in file order.
    fn finish(&mut self) -> Result<(), StageError> {
        let started = Instant::now();
        let scan = std::mem::replace(&mut self.scan, Scan::Source(None));
        let likely = std::mem::take(&mut self.likely);
        let quality = poprecon_indicators::merge_data_quality(std::mem::take(&mut self.quality))?;
        let (scanned, lines, expected, rest) = match scan {
            Scan::Household(scan) => {
                let scanned = scan.rows();
                let narrowing = scan.finish(&std::mem::take(&mut self.others))?;
                let held = narrowing.rest.held;
                // Set once: a registry ends once.
                let _ = self.registry.set(narrowing.rest);
                (scanned, narrowing.lines, held, None)
            }
            Scan::Source(Some(scan)) => {
                let scanned = scan.rows();
                let narrowing = scan.finish(self.registry.get())?;
                let held = narrowing.rest.held;
                (scanned, narrowing.lines, held, Some(narrowing.rest))
            }
            // No scan was begun (the read failed before): nothing is held.
            Scan::Source(None) => return Ok(()),
        };
        let rows = held_rows(self.plan, self.sp, likely, &lines, expected)?;
        tracing::debug!(
            source = self.source,
            scanned,
            held = rows.height(),
            seconds = started.elapsed().as_secs_f64(),
            "rows held"
        );
        if let Some(progress) = self.hand_over {
            progress.source_piece(self.source, &rows);
            progress.source_ingested(self.source);
        }
        self.done = Some(Done {
            rows,
            quality,
            rest,
        });
        Ok(())
    }
}

/// Each row's file (its position in `paths`) and line, from ingest's columns.
fn file_lines(df: &DataFrame, paths: &[String]) -> PolarsResult<(Vec<usize>, Vec<u64>)> {
    let files = df.column(poprecon_ingest::SOURCE_FILE)?.str()?;
    let files: Vec<usize> = files
        .iter()
        .map(|f| {
            f.and_then(|f| paths.iter().position(|p| p == f))
                .unwrap_or(usize::MAX)
        })
        .collect();
    let lines = df
        .column(poprecon_ingest::SOURCE_LINE)?
        .cast(&DataType::UInt64)?;
    let lines: Vec<u64> = lines.u64()?.iter().map(|l| l.unwrap_or(0)).collect();
    Ok((files, lines))
}

/// Lines of each of a source's files, as bits.
#[derive(Debug)]
struct LineSet {
    files: Vec<Vec<u64>>,
    len: usize,
}

impl LineSet {
    /// Of each file's lines (any order).
    fn of<'a>(files: impl Iterator<Item = &'a [u64]>) -> LineSet {
        let mut set = LineSet {
            files: Vec::new(),
            len: 0,
        };
        for (f, lines) in files.enumerate() {
            set.files.push(Vec::new());
            for &l in lines {
                set.insert(f, l);
            }
        }
        set
    }

    fn insert(&mut self, file: usize, line: u64) {
        let Some(bits) = self.files.get_mut(file) else {
            return;
        };
        let (word, bit) = ((line / 64) as usize, line % 64);
        if bits.len() <= word {
            bits.resize(word + 1, 0);
        }
        if bits[word] & (1 << bit) == 0 {
            bits[word] |= 1 << bit;
            self.len += 1;
        }
    }

    fn holds(&self, file: usize, line: u64) -> bool {
        self.files.get(file).is_some_and(|bits| {
            bits.get((line / 64) as usize)
                .is_some_and(|w| w & (1 << (line % 64)) != 0)
        })
    }

    fn len(&self) -> usize {
        self.len
    }
}

/// Reads a source [`ingest_sources`] hands over in pieces ([`Streamed`]).
pub trait PieceReader {
    /// Before the first piece: the other sources, read already (by source id).
    fn begin(&mut self, others: &BTreeMap<String, DataFrame>) -> Result<(), StageError>;

    /// The next piece of the source's canonical table, in file and line order.
    fn piece(&mut self, piece: &DataFrame) -> Result<(), StageError>;

    /// After the last piece, once the source was read well (before the next source
    /// begins): the source's rows as the sources read after it see them (its output's
    /// `records`), if the reader keeps any.
    fn end(&mut self) -> Result<Option<DataFrame>, StageError> {
        Ok(None)
    }
}

/// A source [`ingest_sources`] reads after every other and hands over in pieces as it reads
/// them (to `reader`) instead of holding it: its output's `records` are the rows its
/// reader keeps ([`PieceReader::end`]), none if it keeps none.
pub struct Streamed<'a> {
    pub source: &'static str,
    pub reader: &'a mut dyn PieceReader,
    /// Whether [`Progress::source_piece`] and [`Progress::source_ingested`] see it (each
    /// piece as it is read); if not, the caller tells them what it makes of it.
    pub hand_over: bool,
}

impl std::fmt::Debug for Streamed<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Streamed")
            .field("source", &self.source)
            .field("hand_over", &self.hand_over)
            .finish_non_exhaustive()
    }
}

/// Reads every source of the plan; the outputs come back in plan order. The `streamed`
/// sources are read after every other source, in the order given, each in pieces, its
/// reader told the sources read before it first (unless it is read from workbooks alone:
/// then it comes whole, in its turn).
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
    mut streamed: Vec<Streamed<'_>>,
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
        let hand_over = |id: &str| streamed.iter().all(|s| s.source != id || s.hand_over);
        let report = |(i, result): &Read| {
            let id = plan.sources[*i].source.id();
            progress.source_started(id);
            match result {
                Ok(output) => progress.source_rows(output.stats.read),
                Err(_) => failed.store(true, Ordering::Relaxed),
            }
            progress.source_finished(id);
            if let Ok(output) = result
                && hand_over(id)
            {
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
            if streamed.iter().any(|s| s.source == id) {
                continue;
            }
            let result = ingest_source_with(plan, sp, progress, None);
            match &result {
                Ok(output) => {
                    progress.source_piece(id, &output.records);
                    progress.source_ingested(id);
                }
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
    for streamed in &mut streamed {
        if failed.load(Ordering::Relaxed) {
            break;
        }
        let Some(i) = (0..plan.sources.len())
            .find(|&i| plan.sources[i].source.id() == streamed.source && !apart.contains(&i))
        else {
            continue;
        };
        let others: BTreeMap<String, DataFrame> = outputs
            .iter()
            .flatten()
            .flatten()
            .map(|o| (o.source.to_owned(), o.records.clone()))
            .collect();
        let (id, hand_over) = (streamed.source, streamed.hand_over);
        let result = streamed.reader.begin(&others).and_then(|()| {
            let mut pieces = 0;
            let mut sink = |piece: &DataFrame| {
                if hand_over {
                    progress.source_piece(id, piece);
                }
                pieces += 1;
                streamed.reader.piece(piece)
            };
            let output = ingest_source_with(plan, &plan.sources[i], progress, Some(&mut sink))?;
            let mut output = output;
            if let Some(rows) = streamed.reader.end()? {
                output.records = rows;
            }
            if hand_over {
                if pieces == 0 {
                    // A source of no rows still has its (empty) table.
                    progress.source_piece(id, &output.records);
                }
                progress.source_ingested(id);
            }
            Ok(output)
        });
        if result.is_err() {
            failed.store(true, Ordering::Relaxed);
        }
        outputs[i] = Some(result);
    }
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
