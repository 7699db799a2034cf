//! Data quality per source and village (the WHO data-quality-review style metrics).

use polars::prelude::*;

use crate::{IndicatorConfig, IndicatorError, IndicatorInput};

/// One metric's rows of the per-village aggregate: `source`, `village`, `metric`, `field`,
/// `numerator`, `denominator`.
fn metric_row(source: &str, metric: &str, field: Option<&str>, num: Expr, den: Expr) -> Vec<Expr> {
    vec![
        lit(source.to_owned()).alias("source"),
        col("dq_area").alias("village"),
        lit(metric.to_owned()).alias("metric"),
        match field {
            Some(f) => lit(f.to_owned()),
            None => lit(NULL).cast(DataType::String),
        }
        .alias("field"),
        num.cast(DataType::Int64).alias("numerator"),
        den.cast(DataType::Int64).alias("denominator"),
    ]
}

/// Data quality of every source table of `input` per village: one row per `source`,
/// `village` (the record's residence or household village; certificates, which have none,
/// take their birth's; null when unknown), `metric`, `field`, with `numerator`,
/// `denominator`, `value`:
///
/// - `completeness` of each field of [`crate::DqConfig::fields`] the table has (an ID
///   field counts as present when anything was typed): records with a value / records;
/// - `invalid_share`: records flagged by ingest (`field` null: any field; else that field)
///   / records;
/// - `timeliness`: records whose lag from the event date to the record date is at most the
///   setting / records with both dates (vaccination: HepB dose 1 rows only);
/// - `mean_lag_days`: the sum of those lags / records with both dates.
///
/// Every accepted record counts, not only the period's births (domain.md §8.13). Sorted by
/// `source`, `village`, `metric`, `field`.
pub fn data_quality(
    input: &IndicatorInput<'_>,
    cfg: &IndicatorConfig,
) -> Result<DataFrame, IndicatorError> {
    let mut parts: Vec<LazyFrame> = Vec::new();
    for (source, df) in input.sources {
        let has = |c: &str| df.column(c).is_ok();
        let mut lf = df.clone().lazy();
        let village = if has("residence_village") {
            col("residence_village")
        } else if has("village") {
            col("village")
        } else {
            let key = format!("{source}_key");
            if has("record_key") && input.births.column(&key).is_ok() {
                let map = input
                    .births
                    .clone()
                    .lazy()
                    .select([
                        col(key.as_str()).alias("dq_key"),
                        col("village").alias("dq_village"),
                    ])
                    .filter(col("dq_key").is_not_null())
                    .group_by([col("dq_key")])
                    .agg([col("dq_village").min()]);
                lf = lf.join(
                    map,
                    [col("record_key")],
                    [col("dq_key")],
                    JoinArgs::new(JoinType::Left),
                );
                col("dq_village")
            } else {
                lit(NULL).cast(DataType::String)
            }
        };
        let lf = lf
            .with_column(village.cast(DataType::String).alias("dq_area"))
            .cache();
        let metric = |lf: LazyFrame, metric: &str, field: Option<&str>, num: Expr, den: Expr| {
            lf.group_by([col("dq_area")])
                .agg([num.alias("numerator"), den.alias("denominator")])
                .select(metric_row(
                    source,
                    metric,
                    field,
                    col("numerator"),
                    col("denominator"),
                ))
        };
        let rows = || len().cast(DataType::Int64);
        let flagged = |field: Option<&str>| {
            if !has("invalid_fields") {
                return lit(0i64);
            }
            let flags = col("invalid_fields").fill_null(lit(""));
            // A flag `field:reason` first or after a `;` (no text made per row).
            let hit = match field {
                None => flags.str().len_bytes().gt(lit(0u32)),
                Some(f) => flags
                    .clone()
                    .str()
                    .starts_with(lit(format!("{f}:")))
                    .or(flags.str().contains_literal(lit(format!(";{f}:")))),
            };
            hit.cast(DataType::Int64).sum()
        };
        // The metrics over every record: one group-by of the source by village, each
        // metric's numerator and denominator an aggregate of it (a group-by per metric
        // would read the registry's millions of rows once per field).
        let mut specs: Vec<(&str, Option<&str>)> = vec![("invalid_share", None)];
        let mut aggs = vec![flagged(None), rows()];
        for f in cfg.dq.fields.get(source).into_iter().flatten() {
            let input_col = format!("{f}_input");
            let present = if has(&input_col) {
                col(input_col.as_str())
            } else if has(f) {
                col(f.as_str())
            } else {
                continue;
            };
            specs.push(("completeness", Some(f)));
            aggs.extend([present.is_not_null().cast(DataType::Int64).sum(), rows()]);
            specs.push(("invalid_share", Some(f)));
            aggs.extend([flagged(Some(f)), rows()]);
        }
        let aggs: Vec<Expr> = aggs
            .into_iter()
            .enumerate()
            .map(|(i, e)| e.alias(format!("dq_{i}")))
            .collect();
        let grouped = lf.clone().group_by([col("dq_area")]).agg(aggs).cache();
        for (i, (m, field)) in specs.into_iter().enumerate() {
            let (num, den) = (
                col(format!("dq_{}", 2 * i)),
                col(format!("dq_{}", 2 * i + 1)),
            );
            parts.push(
                grouped
                    .clone()
                    .select(metric_row(source, m, field, num, den)),
            );
        }
        if let Some(t) = cfg
            .dq
            .timeliness
            .get(source)
            .filter(|t| has(&t.event) && has(&t.record))
        {
            let mut events = lf.clone();
            if source == "vaccination" && has("vaccine") && has("dose") {
                events = events.filter(
                    col("vaccine")
                        .eq(lit("HepB"))
                        .and(col("dose").cast(DataType::Int64).eq(lit(1i64)))
                        .fill_null(lit(false)),
                );
            }
            let lag = col(t.record.as_str())
                .cast(DataType::Date)
                .cast(DataType::Int32)
                - col(t.event.as_str())
                    .cast(DataType::Date)
                    .cast(DataType::Int32);
            let events = events
                .with_column(lag.alias("dq_lag"))
                .filter(col("dq_lag").is_not_null());
            parts.push(metric(
                events.clone(),
                "timeliness",
                Some(t.record.as_str()),
                col("dq_lag").lt_eq(lit(t.days)).cast(DataType::Int64).sum(),
                rows(),
            ));
            parts.push(metric(
                events,
                "mean_lag_days",
                Some(t.record.as_str()),
                col("dq_lag").cast(DataType::Int64).sum(),
                rows(),
            ));
        }
    }
    if parts.is_empty() {
        return DataFrame::new(
            0,
            vec![
                Column::new_empty("source".into(), &DataType::String),
                Column::new_empty("village".into(), &DataType::String),
                Column::new_empty("metric".into(), &DataType::String),
                Column::new_empty("field".into(), &DataType::String),
                Column::new_empty("numerator".into(), &DataType::Int64),
                Column::new_empty("denominator".into(), &DataType::Int64),
                Column::new_empty("value".into(), &DataType::Float64),
            ],
        )
        .map_err(IndicatorError::frame("data_quality"));
    }
    valued(concat(parts, UnionArgs::default()).map_err(IndicatorError::frame("data_quality"))?)
        .collect()
        .map_err(IndicatorError::frame("data_quality"))
}

/// `numerator`, `denominator` rows with their `value` (null without a denominator), in the
/// table's order.
fn valued(lf: LazyFrame) -> LazyFrame {
    lf.with_column(
        when(col("denominator").gt(lit(0i64)))
            .then(
                col("numerator").cast(DataType::Float64)
                    / col("denominator").cast(DataType::Float64),
            )
            .otherwise(lit(NULL).cast(DataType::Float64))
            .alias("value"),
    )
    .sort(
        DQ_ORDER,
        SortMultipleOptions::default().with_nulls_last(true),
    )
}

/// The order of `data_quality.parquet`'s rows (one row per key).
const DQ_ORDER: [&str; 4] = ["source", "village", "metric", "field"];

/// [`data_quality`] tables as one, in its order: of disjoint sets of sources, or of disjoint
/// pieces of one source's rows (a registry measured as it is read), what [`data_quality`]
/// gives of all the rows at once. Each metric's numerator and denominator are counts and
/// sums of rows, so a key's are the sums of its pieces' and its value their quotient.
pub fn merge_data_quality(parts: Vec<DataFrame>) -> Result<DataFrame, IndicatorError> {
    merge_data_quality_less(parts, Vec::new())
}

/// [`merge_data_quality`] of `parts` less `less`, whose rows are counted in `parts` too:
/// a source measured in pieces as it is read (each row at the village [`data_quality`] gives
/// it without births), plus its rows held measured with the births, less the same rows
/// measured without them, is the source measured with the births. A key left with no
/// denominator is dropped: every row [`data_quality`] gives has one.
pub fn merge_data_quality_less(
    parts: Vec<DataFrame>,
    less: Vec<DataFrame>,
) -> Result<DataFrame, IndicatorError> {
    let err = IndicatorError::frame("data_quality");
    let mut all: Vec<LazyFrame> = parts.into_iter().map(DataFrame::lazy).collect();
    all.extend(less.into_iter().map(|df| {
        df.lazy().with_columns([
            (lit(0i64) - col("numerator")).alias("numerator"),
            (lit(0i64) - col("denominator")).alias("denominator"),
        ])
    }));
    valued(
        concat(all, UnionArgs::default())
            .map_err(&err)?
            .group_by(DQ_ORDER.map(col))
            .agg([col("numerator").sum(), col("denominator").sum()])
            .filter(col("denominator").neq(lit(0i64))),
    )
    .collect()
    .map_err(err)
}
