//! Puts a run's tables into `report.html` (see `poprecon-report`): at the end of `poprecon
//! run` from the tables in memory, and by `poprecon report RUN` from a run folder.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use polars::prelude::*;
use poprecon_pipeline::Plan;
use poprecon_report::{Audience, Lang};

use crate::run_cmd::read_parquet;

/// The tables of a run the report shows.
pub struct Tables<'a> {
    pub indicators: &'a DataFrame,
    pub previous_indicators: Option<&'a DataFrame>,
    pub indicator_births: Option<&'a DataFrame>,
    pub births: Option<&'a DataFrame>,
    pub discrepancies: &'a DataFrame,
    pub village_discrepancies: &'a DataFrame,
    pub links: Option<&'a DataFrame>,
    pub link_model: Option<&'a DataFrame>,
    pub ambiguous: Option<&'a DataFrame>,
    pub linkage: &'a DataFrame,
    pub quality: &'a DataFrame,
    /// The canonical tables and quarantines, by source id.
    pub sources: &'a [(String, DataFrame)],
    pub quarantine: &'a [(String, DataFrame)],
    /// Rows accepted per source as ingest counted them, where `sources` may hold fewer (the
    /// night narrows the household registry to the rows it reads); `None`: the tables'
    /// heights.
    pub accepted: Option<&'a [(String, i64)]>,
}

pub fn render(
    plan: &Plan,
    run_id: &str,
    lang: Lang,
    audience: Audience,
    t: &Tables<'_>,
) -> Result<String> {
    let ingest = ingest_frame(t.sources, t.quarantine, t.accepted)?;
    let changes = t
        .discrepancies
        .clone()
        .lazy()
        .group_by([col("status")])
        .agg([len().cast(DataType::Int64).alias("count")])
        .sort(["status"], SortMultipleOptions::default())
        .collect()?;
    let area_names: Vec<(String, String)> = plan
        .divisions
        .counties
        .iter()
        .chain(&plan.divisions.townships)
        .chain(&plan.divisions.villages)
        // A national or provincial division table holds far more areas than the report
        // shows: only the jurisdiction's are embedded.
        .filter(|(c, _)| {
            c.starts_with(&plan.jurisdiction) || plan.jurisdiction.starts_with(c.as_str())
        })
        .map(|(c, n)| (c.clone(), n.clone()))
        .collect();
    let rule_names: Vec<(String, String, String)> = poprecon_checks::CATALOGUE
        .iter()
        .map(|r| {
            (
                r.id.as_str().to_owned(),
                r.name_zh.to_owned(),
                r.name_en.to_owned(),
            )
        })
        .collect();
    let indicator_names: Vec<(String, String, String)> = poprecon_indicators::CATALOGUE
        .iter()
        .map(|i| (i.id.to_owned(), i.name_zh.to_owned(), i.name_en.to_owned()))
        .collect();
    let sources = poprecon_pipeline::all_sources();
    let source_names: Vec<(String, String, String)> = sources
        .iter()
        .map(|s| (s.id().to_owned(), s.label_zh().to_owned(), english(s.id())))
        .collect();
    // Field labels per source, and unqualified (`.field`) from the first source that has
    // the field, for the columns of tables that name a field without its source.
    let mut field_names: Vec<(String, String, String)> = Vec::new();
    for s in sources {
        for f in s.fields() {
            field_names.push((
                format!("{}.{}", s.id(), f.name),
                f.label_zh.to_owned(),
                english(f.name),
            ));
            // A vocabulary's codes (`live`, `vaginal`) by their first Chinese spelling.
            if let poprecon_ingest::FieldKind::Code(map) = f.kind {
                let mut codes: Vec<&str> = map.entries.iter().map(|(_, c)| *c).collect();
                codes.dedup();
                for code in codes {
                    if let Some((zh, _)) = map
                        .entries
                        .iter()
                        .find(|(raw, c)| *c == code && !raw.is_ascii())
                    {
                        field_names.push((
                            format!("{}.{}={code}", s.id(), f.name),
                            (*zh).to_owned(),
                            code.to_owned(),
                        ));
                    }
                }
            }
            let bare = format!(".{}", f.name);
            if !field_names.iter().any(|(k, _, _)| *k == bare) {
                field_names.push((bare, f.label_zh.to_owned(), english(f.name)));
            }
        }
    }
    let targets: Vec<(String, f64, f64)> = plan
        .assessment
        .items
        .iter()
        .map(|i| (i.indicator.clone(), i.target, i.floor))
        .collect();
    let as_of = plan.as_of.to_string();
    let period = (plan.period.0.to_string(), plan.period.1.to_string());
    let title = format!("{} ({})", plan.name, plan.jurisdiction);
    Ok(poprecon_report::render(&poprecon_report::ReportInput {
        lang,
        audience,
        limits: poprecon_report::Limits::default(),
        title: &title,
        as_of: &as_of,
        period: (&period.0, &period.1),
        run_id,
        jurisdiction: &plan.jurisdiction,
        match_threshold: Some(plan.linkage.match_threshold),
        indicators: Some(t.indicators),
        previous_indicators: t.previous_indicators,
        indicator_births: t.indicator_births,
        births: t.births,
        discrepancies: Some(t.discrepancies),
        village_discrepancies: Some(t.village_discrepancies),
        links: t.links,
        link_model: t.link_model,
        ambiguous: t.ambiguous,
        linkage: Some(t.linkage),
        sources: t.sources,
        quarantine: t.quarantine,
        ingest: Some(&ingest),
        quality: Some(t.quality),
        changes: Some(&changes),
        area_names: &area_names,
        rule_names: &rule_names,
        indicator_names: &indicator_names,
        source_names: &source_names,
        field_names: &field_names,
        targets: &targets,
    })?)
}

/// `mother_id` → `Mother id`.
fn english(id: &str) -> String {
    let words = id.replace('_', " ");
    let mut c = words.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// Rows read, accepted and quarantined, and invalid values flagged, per source, from the
/// run's tables (so that a report rendered again from the folder says the same).
fn ingest_frame(
    sources: &[(String, DataFrame)],
    quarantine: &[(String, DataFrame)],
    accepted: Option<&[(String, i64)]>,
) -> PolarsResult<DataFrame> {
    let mut ids: Vec<&str> = sources
        .iter()
        .chain(quarantine)
        .map(|(s, _)| s.as_str())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let height = |list: &[(String, DataFrame)], id: &str| {
        list.iter()
            .find(|(s, _)| s == id)
            .map_or(0, |(_, df)| df.height() as i64)
    };
    let mut invalid = Vec::with_capacity(ids.len());
    for id in &ids {
        let n = match sources.iter().find(|(s, _)| s == id) {
            // Nulls dropped by polars first: most rows have no invalid value, and this
            // package is not optimised in the default build (4 M household rows took 0.4 s).
            Some((_, df)) if df.column(poprecon_ingest::INVALID_FIELDS).is_ok() => df
                .column(poprecon_ingest::INVALID_FIELDS)?
                .as_materialized_series()
                .drop_nulls()
                .str()?
                .iter()
                .flatten()
                .map(|f| f.split(';').filter(|x| !x.is_empty()).count() as i64)
                .sum(),
            _ => 0,
        };
        invalid.push(n);
    }
    let accepted: Vec<i64> = ids
        .iter()
        .map(|id| match accepted {
            Some(counted) => counted.iter().find(|(s, _)| s == id).map_or(0, |(_, n)| *n),
            None => height(sources, id),
        })
        .collect();
    let quarantined: Vec<i64> = ids.iter().map(|id| height(quarantine, id)).collect();
    let read: Vec<i64> = accepted
        .iter()
        .zip(&quarantined)
        .map(|(a, q)| a + q)
        .collect();
    DataFrame::new(
        ids.len(),
        vec![
            Column::new("source".into(), ids),
            Column::new("read".into(), read),
            Column::new("accepted".into(), accepted),
            Column::new("quarantined".into(), quarantined),
            Column::new("invalid_values".into(), invalid),
        ],
    )
}

/// A run folder's tables, read back for `poprecon report`.
struct RunFolder {
    tables: Vec<(&'static str, Option<DataFrame>)>,
    sources: Vec<(String, DataFrame)>,
    quarantine: Vec<(String, DataFrame)>,
}

impl RunFolder {
    fn read(dir: &Path) -> Result<RunFolder> {
        let mut tables = Vec::new();
        for name in [
            "indicators",
            "previous_indicators",
            "indicator_births",
            "births",
            "discrepancies",
            "village_discrepancies",
            "links",
            "link_model",
            "ambiguous_links",
            "link_diagnostics",
            "data_quality",
        ] {
            let path = dir.join(format!("{name}.parquet"));
            let df = if path.is_file() {
                // The night's report is made of the tables before they are stamped; the
                // previous run's indicators it reads as written.
                let df = read_parquet(&path)?;
                Some(match name {
                    "previous_indicators" => df,
                    _ => unstamped(df),
                })
            } else {
                None
            };
            tables.push((name, df));
        }
        Ok(RunFolder {
            tables,
            sources: read_folder(&dir.join("sources"))?,
            quarantine: read_folder(&dir.join("quarantine"))?,
        })
    }

    fn get(&self, name: &str) -> Option<&DataFrame> {
        self.tables
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, df)| df.as_ref())
    }

    fn need(&self, dir: &Path, name: &str) -> Result<&DataFrame> {
        self.get(name).with_context(|| {
            format!(
                "`{}` has no `{name}.parquet`\nhint: pass a folder written by `poprecon run`",
                dir.display()
            )
        })
    }
}

/// `df` without the `run_id` and `as_of` columns the write stage stamps on every table: the
/// tables as the night's report read them, so that a report rendered again is the night's.
fn unstamped(df: DataFrame) -> DataFrame {
    df.drop_many(["run_id", "as_of"])
}

/// Every `<source>.parquet` of a folder, by source id, in name order.
fn read_folder(dir: &Path) -> Result<Vec<(String, DataFrame)>> {
    let mut out = Vec::new();
    if !dir.is_dir() {
        return Ok(out);
    }
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read `{}`", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
        .collect();
    paths.sort();
    for p in paths {
        let id = p
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        out.push((id, unstamped(read_parquet(&p)?)));
    }
    Ok(out)
}

/// `poprecon report RUN`: renders the report of a run folder again, for `audience` in
/// `lang`, and writes it to `out` (default `<RUN>/report.html` for analysts,
/// `<RUN>/report_data_team.html` for the data team). Returns the path written.
pub fn report(run: &Path, lang: Lang, audience: Audience, out: Option<&Path>) -> Result<PathBuf> {
    // A run root stands for its latest run.
    let run = &crate::history::resolve_run(run)?;
    let manifest_path = run.join("manifest.json");
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(&manifest_path).with_context(|| {
            format!(
                "`{}` is not a run folder (no `manifest.json`)\nhint: pass the `--out` folder of `poprecon run`",
                run.display()
            )
        })?,
    )
    .with_context(|| format!("cannot read `{}`", manifest_path.display()))?;
    let pipeline = manifest["pipeline"].as_str().unwrap_or_default();
    let mut plan = Plan::load(Path::new(pipeline)).with_context(|| {
        format!(
            "the run's pipeline `{pipeline}` (named in `{}`)",
            manifest_path.display()
        )
    })?;
    if let Some(as_of) = manifest["as_of"]
        .as_str()
        .and_then(|s| s.parse::<chrono::NaiveDate>().ok())
    {
        plan.as_of = as_of;
    }
    let run_id = manifest["run_id"].as_str().unwrap_or_default().to_owned();
    // Rows accepted as ingest counted them: `sources/household.parquet` holds only the rows
    // the night held, unless the run kept every row (`--keep-sources`).
    let mut accepted: Vec<(String, i64)> = Vec::new();
    for input in manifest["inputs"].as_array().into_iter().flatten() {
        if let (Some(source), Some(rows)) =
            (input["source"].as_str(), input["rows_accepted"].as_i64())
        {
            match accepted.iter_mut().find(|(s, _)| s == source) {
                Some((_, n)) => *n += rows,
                None => accepted.push((source.to_owned(), rows)),
            }
        }
    }
    let started = std::time::Instant::now();
    let mut folder = RunFolder::read(run)?;
    // The quarantines in the plan's order of sources, as the night listed them.
    folder.quarantine.sort_by_key(|(id, _)| {
        plan.sources
            .iter()
            .position(|sp| sp.source.id() == id)
            .unwrap_or(usize::MAX)
    });
    tracing::info!(seconds = started.elapsed().as_secs_f64(), "run folder read");
    let started = std::time::Instant::now();
    let html = render(
        &plan,
        &run_id,
        lang,
        audience,
        &Tables {
            indicators: folder.need(run, "indicators")?,
            previous_indicators: folder.get("previous_indicators"),
            indicator_births: folder.get("indicator_births"),
            births: folder.get("births"),
            discrepancies: folder.need(run, "discrepancies")?,
            village_discrepancies: folder.need(run, "village_discrepancies")?,
            links: folder.get("links"),
            link_model: folder.get("link_model"),
            ambiguous: folder.get("ambiguous_links"),
            linkage: folder.need(run, "link_diagnostics")?,
            quality: folder.need(run, "data_quality")?,
            sources: &folder.sources,
            quarantine: &folder.quarantine,
            // A folder of an older version's manifest: the tables' rows.
            accepted: (!accepted.is_empty()).then_some(accepted.as_slice()),
        },
    )?;
    let html =
        crate::returns_cmd::with_section(&html, lang, &crate::returns_cmd::read_tables(run)?)?;
    tracing::info!(
        seconds = started.elapsed().as_secs_f64(),
        bytes = html.len(),
        "report rendered"
    );
    let path = match out {
        Some(p) => p.to_owned(),
        // An English page goes beside the run's report, never over it.
        None => run.join(match (audience, lang) {
            (Audience::Analyst, Lang::Zh) => "report.html",
            (Audience::Analyst, Lang::En) => "report_en.html",
            (Audience::DataTeam, Lang::Zh) => "report_data_team.html",
            (Audience::DataTeam, Lang::En) => "report_data_team_en.html",
        }),
    };
    std::fs::write(&path, html).with_context(|| format!("cannot write `{}`", path.display()))?;
    Ok(path)
}
