//! The nightly lifecycle: what is new since the previous run, what is still open, and what
//! was resolved.

use chrono::NaiveDate;
use polars::prelude::*;

use crate::error::ChecksError;
use crate::output::{DISCREPANCY_COLUMNS, queued, select_output};

/// Compares tonight's discrepancies (`current`, as [`crate::run_checks`] gives them) with
/// the previous run's table:
///
/// - a discrepancy whose id was `new` or `open` last night is `open`, with last night's
///   `first_seen`;
/// - any other is `new`: first seen on `run_date`, or, when it comes back after being
///   resolved, on the day it was first seen;
/// - a discrepancy `new` or `open` last night and gone tonight is carried once as
///   `resolved`, with last night's columns (a `resolved` row is not carried again).
///
/// Without a previous run everything is `new` on `run_date`. Decisions are kept as they
/// are. The result is sorted by `rule_id` then `discrepancy_id`.
pub fn apply_lifecycle(
    current: &DataFrame,
    previous: Option<&DataFrame>,
    run_date: NaiveDate,
) -> Result<DataFrame, ChecksError> {
    let err = ChecksError::frame("discrepancies");
    let names = |df: &DataFrame| -> Vec<String> {
        df.get_column_names()
            .into_iter()
            .map(|c| c.to_string())
            .collect()
    };
    for (table, df) in [("current", Some(current)), ("previous", previous)] {
        let Some(df) = df else { continue };
        for column in ["discrepancy_id", "rule_id", "status"] {
            if df.column(column).is_err() {
                return Err(ChecksError::MissingColumn {
                    table: format!("{table} discrepancies"),
                    column: column.to_owned(),
                    hint: "",
                });
            }
        }
    }
    let current_cols = names(current);
    let cur = select_output(current.clone().lazy(), &current_cols);
    let Some(previous) = previous else {
        return select_output(
            cur.with_columns([
                lit("new").alias("status"),
                lit(run_date).alias("first_seen"),
            ]),
            &DISCREPANCY_COLUMNS.map(str::to_owned),
        )
        .with_column(queued())
        .sort(
            ["rule_id", "discrepancy_id"],
            SortMultipleOptions::default(),
        )
        .collect()
        .map_err(err);
    };
    let prev = select_output(previous.clone().lazy(), &names(previous));
    let last = prev.clone().select([
        col("discrepancy_id").alias("__pid"),
        col("status").alias("__pstatus"),
        col("first_seen").alias("__pfirst"),
    ]);
    let was_open = col("__pstatus")
        .eq(lit("new"))
        .or(col("__pstatus").eq(lit("open")))
        .fill_null(lit(false));
    let tonight = cur
        .left_join(last, col("discrepancy_id"), col("__pid"))
        .with_columns([
            when(was_open)
                .then(lit("open"))
                .otherwise(lit("new"))
                .alias("status"),
            coalesce(&[col("__pfirst"), lit(run_date)]).alias("first_seen"),
        ]);
    let resolved = prev
        .filter(
            col("status")
                .eq(lit("new"))
                .or(col("status").eq(lit("open")))
                .fill_null(lit(false)),
        )
        .anti_join(
            current
                .clone()
                .lazy()
                .select([col("discrepancy_id").alias("__cid")]),
            col("discrepancy_id"),
            col("__cid"),
        )
        .with_column(lit("resolved").alias("status"));
    let all = DISCREPANCY_COLUMNS.map(str::to_owned);
    concat(
        [select_output(tonight, &all), select_output(resolved, &all)],
        UnionArgs::default(),
    )
    .map_err(&err)?
    .with_column(queued())
    .sort(
        ["rule_id", "discrepancy_id"],
        SortMultipleOptions::default(),
    )
    .collect()
    .map_err(err)
}
