//! Puts a run's tables into `report.html` (see `poprecon-report`).

use anyhow::Result;
use polars::prelude::*;
use poprecon_pipeline::Plan;

/// The tables of a run the report shows.
pub struct Tables<'a> {
    pub indicators: &'a DataFrame,
    pub discrepancies: &'a DataFrame,
    pub village_discrepancies: &'a DataFrame,
    pub linkage: &'a DataFrame,
    pub quality: &'a DataFrame,
    pub ingest: &'a [poprecon_ingest::SourceStats],
}

pub fn render(
    plan: &Plan,
    run_id: &str,
    lang: poprecon_report::Lang,
    t: &Tables<'_>,
) -> Result<String> {
    let ingest = ingest_frame(t.ingest)?;
    let changes = t
        .discrepancies
        .clone()
        .lazy()
        .group_by([col("status")])
        .agg([len().cast(DataType::Int64).alias("count")])
        .sort(["status"], SortMultipleOptions::default())
        .collect()?;
    // Data quality is long (one row per source, village, metric, field): the report shows
    // the jurisdiction-wide summary per source and metric.
    let quality = summarize_quality(t.quality)?;
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
    let as_of = plan.as_of.to_string();
    let period = (plan.period.0.to_string(), plan.period.1.to_string());
    let title = format!("{} ({})", plan.name, plan.jurisdiction);
    Ok(poprecon_report::render(&poprecon_report::ReportInput {
        lang,
        title: &title,
        as_of: &as_of,
        period: (&period.0, &period.1),
        run_id,
        indicators: Some(t.indicators),
        discrepancies: Some(t.discrepancies),
        village_discrepancies: Some(t.village_discrepancies),
        linkage: Some(t.linkage),
        ingest: Some(&ingest),
        quality: Some(&quality),
        changes: Some(&changes),
        area_names: &area_names,
        rule_names: &rule_names,
        indicator_names: &indicator_names,
    })?)
}

fn ingest_frame(stats: &[poprecon_ingest::SourceStats]) -> PolarsResult<DataFrame> {
    let n = stats.len();
    DataFrame::new(
        n,
        vec![
            Column::new(
                "source".into(),
                stats.iter().map(|s| s.source.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                "read".into(),
                stats.iter().map(|s| s.read as i64).collect::<Vec<_>>(),
            ),
            Column::new(
                "accepted".into(),
                stats.iter().map(|s| s.accepted as i64).collect::<Vec<_>>(),
            ),
            Column::new(
                "quarantined".into(),
                stats
                    .iter()
                    .map(|s| s.quarantined as i64)
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "invalid_values".into(),
                stats
                    .iter()
                    .map(|s| s.invalid_fields.values().sum::<u64>() as i64)
                    .collect::<Vec<_>>(),
            ),
        ],
    )
}

fn summarize_quality(q: &DataFrame) -> PolarsResult<DataFrame> {
    let has = |c: &str| q.column(c).is_ok();
    if !(has("source") && has("metric") && has("numerator") && has("denominator")) {
        return Ok(q.clone());
    }
    let mut keys = vec![col("source"), col("metric")];
    if has("field") {
        keys.push(col("field"));
    }
    q.clone()
        .lazy()
        .group_by(keys.clone())
        .agg([
            col("numerator").sum().alias("numerator"),
            col("denominator").sum().alias("denominator"),
        ])
        .with_column(
            (col("numerator").cast(DataType::Float64) / col("denominator").cast(DataType::Float64))
                .alias("value"),
        )
        .sort_by_exprs(keys, SortMultipleOptions::default())
        .collect()
}
