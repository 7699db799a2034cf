//! The run's returns stage: reads the returns of `[returns]` (a source read by the ingest
//! engine, with its quarantine) and hands them with the run's tables to `poprecon-verify`.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use polars::prelude::DataFrame;
use poprecon_pipeline::Plan;

/// The tables `[returns]` adds to a run folder, by file name: `returns_comparison.parquet`,
/// `source_completeness.parquet`, `returns_uncounted.parquet`, `uncounted_births.parquet`
/// and `quarantine/returns.parquet` (the comparison tables only when the pipeline names a
/// returns file). Nothing without `[returns]`.
pub fn tables(
    plan: &Plan,
    records: &BTreeMap<String, DataFrame>,
    births: &DataFrame,
    indicators: &DataFrame,
) -> Result<Vec<(String, DataFrame)>> {
    let Some(rp) = &plan.returns else {
        return Ok(Vec::new());
    };
    let _span = tracing::info_span!("returns").entered();
    let read: Vec<&str> = records.keys().map(String::as_str).collect();
    let mut out = Vec::new();
    let completeness =
        poprecon_verify::source_completeness(births, indicators, &read, &rp.settings)
            .context("source completeness")?;
    out.push(("source_completeness.parquet".to_owned(), completeness));
    if rp.files.is_empty() {
        return Ok(out);
    }
    let cfg = poprecon_ingest::IngestConfig {
        source: &poprecon_verify::Returns,
        files: &rp.files,
        columns: &rp.columns,
        known_villages: None,
        allow_empty: false,
        progress: None,
        keep: None,
    };
    let ingested = poprecon_ingest::ingest(&cfg).context("cannot read the returns")?;
    tracing::info!(
        rows = ingested.stats.read,
        quarantined = ingested.stats.quarantined,
        "returns read"
    );
    let comparison =
        poprecon_verify::compare(&ingested.records, indicators, plan.period, &rp.settings)
            .context("returns against records")?;
    let (villages, list) =
        poprecon_verify::uncounted(&comparison, indicators, births, &rp.settings)
            .context("births no return counted")?;
    out.push(("returns_comparison.parquet".to_owned(), comparison));
    out.push(("returns_uncounted.parquet".to_owned(), villages));
    out.push(("uncounted_births.parquet".to_owned(), list));
    out.push(("quarantine/returns.parquet".to_owned(), ingested.quarantine));
    Ok(out)
}

/// The report `html` with the verification section of the run's `[returns]` tables (named
/// as [`tables`] names them); unchanged without them.
pub fn with_section(
    html: &str,
    lang: poprecon_report::Lang,
    tables: &[(String, DataFrame)],
) -> Result<String> {
    let get = |name: &str| tables.iter().find(|(n, _)| n == name).map(|(_, df)| df);
    Ok(poprecon_report::with_verification(
        html,
        lang,
        get("returns_comparison.parquet"),
        get("source_completeness.parquet"),
    )?)
}

/// The `[returns]` tables a run folder holds, for the report rendered again from it.
pub fn read_tables(run: &std::path::Path) -> Result<Vec<(String, DataFrame)>> {
    let mut out = Vec::new();
    for name in ["returns_comparison.parquet", "source_completeness.parquet"] {
        let p = run.join(name);
        if p.is_file() {
            out.push((name.to_owned(), crate::run_cmd::read_parquet(&p)?));
        }
    }
    Ok(out)
}
