//! The two output tables: `discrepancies` (ids, lifecycle and decision columns) and
//! `village_discrepancies` (counts, denominators, rates).

use chrono::NaiveDate;
use polars::prelude::*;
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::error::ChecksError;
use crate::frames::{key_column, null};
use crate::rules::RuleRows;

/// The columns of `discrepancies.parquet` (domain.md §7), in order:
///
/// - `discrepancy_id`: `D` + 16 hex digits of the SHA-256 of the rule, the field and the
///   involved record keys (for a birth, the key of its first record in the order delivery,
///   certificate, household, vaccination); stable across runs;
/// - `rule_id`, `severity`, `village` (domain.md §8.12), `birth_id` (if any);
/// - `<source>_key` for each of the nine sources, null where the source is not involved;
/// - `field`: the field at fault, if the rule is about one;
/// - `values`: the values side by side, `label=value` joined by `;` (e.g.
///   `hospital_delivery=1;birth_certificate=2`);
/// - `status`: `new`, `open` or `resolved` ([`crate::apply_lifecycle`]); `first_seen`;
/// - `decision` (`accepted`, `must_link`, `cannot_link`), `decided_by`, `decided_on`,
///   `decision_reason`: the reviewer's decision, if any ([`crate::apply_decisions`]);
/// - `queued`: in the work queue (not resolved, no decision).
pub const DISCREPANCY_COLUMNS: [&str; 23] = [
    "discrepancy_id",
    "rule_id",
    "severity",
    "village",
    "birth_id",
    "birth_registration_key",
    "prenatal_care_key",
    "hospital_delivery_key",
    "birth_certificate_key",
    "vaccination_key",
    "household_key",
    "school_key",
    "marriage_key",
    "social_security_key",
    "field",
    "values",
    "status",
    "first_seen",
    "decision",
    "decided_by",
    "decided_on",
    "decision_reason",
    "queued",
];

/// The columns of `village_discrepancies.parquet`: `village`, `rule_id`, `count` (the
/// rule's discrepancies in the village), `denominator` (what the rule checked there, see
/// [`crate::RuleInfo::denominator`]), `rate` (`count / denominator`, null for 0/0), and
/// `decided` (of `count`, those with a reviewer's decision).
pub const VILLAGE_COLUMNS: [&str; 6] = [
    "village",
    "rule_id",
    "count",
    "denominator",
    "rate",
    "decided",
];

/// The units of every rule that ran, for the village table.
pub(crate) struct Units {
    /// The rules that ran, in the order they ran.
    pub rules: Vec<String>,
    /// `rule_id`, `village`, `denominator`: the units of each rule in each village.
    pub frame: LazyFrame,
}

pub(crate) fn dtype_of(column: &str) -> DataType {
    match column {
        "first_seen" | "decided_on" => DataType::Date,
        "queued" => DataType::Boolean,
        _ => DataType::String,
    }
}

/// `queued`: not resolved and not decided.
pub(crate) fn queued() -> Expr {
    col("status")
        .neq(lit("resolved"))
        .fill_null(lit(true))
        .and(col("decision").is_null())
        .alias("queued")
}

/// Selects the output columns in order, as their types; missing ones are nulls.
pub(crate) fn select_output(lf: LazyFrame, present: &[String]) -> LazyFrame {
    lf.select(
        DISCREPANCY_COLUMNS
            .iter()
            .map(|c| {
                if present.iter().any(|p| p == c) {
                    col(*c).cast(dtype_of(c))
                } else {
                    null(dtype_of(c)).alias(*c)
                }
            })
            .collect::<Vec<_>>(),
    )
}

/// The stable id of a discrepancy.
fn discrepancy_id(material: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(material.as_bytes());
    let mut id = String::with_capacity(17);
    id.push('D');
    for b in &digest[..8] {
        id.push(char::from(HEX[usize::from(b >> 4)]));
        id.push(char::from(HEX[usize::from(b & 15)]));
    }
    id
}

/// All rules' rows as one table: ids derived, one row per id, `status` `new`, `first_seen`
/// `as_of`, no decision; sorted by `rule_id` then `discrepancy_id`.
pub(crate) fn assemble(
    parts: Vec<RuleRows>,
    as_of: NaiveDate,
) -> Result<(DataFrame, Units), ChecksError> {
    let err = ChecksError::frame("discrepancies");
    let started = std::time::Instant::now();
    let row_cols: Vec<String> = ["rule_id", "severity", "village", "birth_id"]
        .into_iter()
        .map(str::to_owned)
        .chain(crate::SOURCES.iter().map(|s| key_column(s)))
        .chain(["field", "values", "__material"].map(str::to_owned))
        .collect();
    let base = DataFrame::new(
        0,
        row_cols
            .iter()
            .map(|c| Column::new_empty(c.as_str().into(), &DataType::String))
            .collect(),
    )
    .map_err(&err)?;
    let mut rows = vec![base.lazy()];
    let mut units = vec![
        DataFrame::new(
            0,
            vec![
                Column::new_empty("rule_id".into(), &DataType::String),
                Column::new_empty("village".into(), &DataType::String),
                Column::new_empty("denominator".into(), &DataType::Int64),
            ],
        )
        .map_err(&err)?
        .lazy(),
    ];
    let mut rules = Vec::new();
    for p in parts {
        rules.push(p.rule_id.clone());
        rows.push(p.rows.with_columns([
            lit(p.rule_id.clone()).alias("rule_id"),
            lit(p.severity.as_str()).alias("severity"),
        ]));
        // Counted per village here, so that the table of units is villages × rules, not
        // one row per record checked (every record of every source, several times over).
        // Units already counted per village carry their count in `__n`.
        let counted = p
            .units
            .clone()
            .collect_schema()
            .is_ok_and(|s| s.contains("__n"));
        let denominator = if counted { col("__n").sum() } else { len() };
        units.push(
            p.units
                .group_by([col("village").cast(DataType::String)])
                .agg([denominator.cast(DataType::Int64).alias("denominator")])
                .select([
                    lit(p.rule_id.clone()).alias("rule_id"),
                    col("village"),
                    col("denominator"),
                ]),
        );
    }
    let union = UnionArgs {
        to_supertypes: true,
        ..UnionArgs::default()
    };
    let mut df = crate::rules::concat_all(rows)?
        .select(
            row_cols
                .iter()
                .map(|c| col(c.as_str()).cast(DataType::String))
                .collect::<Vec<_>>(),
        )
        .collect()
        .map_err(&err)?;
    tracing::debug!(
        rows = df.height(),
        seconds = started.elapsed().as_secs_f64(),
        "rules' rows collected"
    );
    let started = std::time::Instant::now();
    // Hashed on the pool: a province has millions of rows.
    let ids: StringChunked = df
        .column("__material")
        .and_then(|c| {
            c.str().map(|ca| {
                let material: Vec<Option<&str>> = ca.iter().collect();
                let ids: Vec<Option<String>> =
                    material.par_iter().map(|m| m.map(discrepancy_id)).collect();
                StringChunked::from_iter(ids)
            })
        })
        .map_err(&err)?;
    tracing::debug!(seconds = started.elapsed().as_secs_f64(), "ids made");
    df.with_column(
        ids.with_name("discrepancy_id".into())
            .into_series()
            .into_column(),
    )
    .map_err(&err)?;
    let mut present: Vec<String> = row_cols;
    present.push("discrepancy_id".to_owned());
    let started = std::time::Instant::now();
    let out = select_output(
        df.lazy()
            .sort(
                ["rule_id", "discrepancy_id", "values", "village", "birth_id"],
                SortMultipleOptions::default(),
            )
            .unique_stable(Some(cols(["discrepancy_id"])), UniqueKeepStrategy::First)
            .with_columns([
                when(col("values").eq(lit("")))
                    .then(null(DataType::String))
                    .otherwise(col("values"))
                    .alias("values"),
                lit("new").alias("status"),
                lit(as_of).alias("first_seen"),
                null(DataType::String).alias("decision"),
            ]),
        &[
            present,
            vec!["status".into(), "first_seen".into(), "decision".into()],
        ]
        .concat(),
    )
    .with_column(queued())
    .collect()
    .map_err(&err)?;
    tracing::debug!(
        rows = out.height(),
        seconds = started.elapsed().as_secs_f64(),
        "sorted, one row per id"
    );
    let frame = concat(units, union).map_err(&err)?;
    Ok((out, Units { rules, frame }))
}

/// `village_discrepancies`: every village seen (or listed in the division table) × every
/// rule that ran, with the count of its current discrepancies, its denominator and rate.
pub(crate) fn village_table(
    discrepancies: &DataFrame,
    units: Units,
    villages: &[String],
) -> Result<DataFrame, ChecksError> {
    let err = ChecksError::frame("village_discrepancies");
    let nulls_equal = |how| {
        let mut args = JoinArgs::new(how);
        args.nulls_equal = true;
        args
    };
    // Collected once: the units are plans over the large tables, read twice below.
    let denominators = units
        .frame
        .group_by([col("rule_id"), col("village")])
        .agg([col("denominator").sum().cast(DataType::Int64)])
        .collect()
        .map_err(&err)?
        .lazy();
    let counts = discrepancies
        .clone()
        .lazy()
        .filter(col("status").neq(lit("resolved")).fill_null(lit(true)))
        .group_by([col("rule_id"), col("village")])
        .agg([
            len().cast(DataType::Int64).alias("count"),
            col("decision")
                .is_not_null()
                .sum()
                .cast(DataType::Int64)
                .alias("decided"),
        ]);
    let seen = concat(
        [
            denominators.clone().select([col("village")]),
            counts.clone().select([col("village")]),
        ],
        UnionArgs::default(),
    )
    .map_err(&err)?
    .unique(None, UniqueKeepStrategy::Any)
    .collect()
    .map_err(&err)?;
    let mut all: Vec<Option<String>> = seen
        .column("village")
        .and_then(|c| {
            c.str()
                .map(|ca| ca.iter().map(|v| v.map(str::to_owned)).collect())
        })
        .map_err(&err)?;
    all.extend(villages.iter().cloned().map(Some));
    all.sort();
    all.dedup();
    let mut grid_village: Vec<Option<&str>> = Vec::new();
    let mut grid_rule: Vec<&str> = Vec::new();
    for v in &all {
        for r in &units.rules {
            grid_village.push(v.as_deref());
            grid_rule.push(r);
        }
    }
    let grid = DataFrame::new(
        grid_rule.len(),
        vec![
            Column::new("village".into(), grid_village),
            Column::new("rule_id".into(), grid_rule),
        ],
    )
    .map_err(&err)?;
    grid.lazy()
        .join(
            denominators,
            [col("rule_id"), col("village")],
            [col("rule_id"), col("village")],
            nulls_equal(JoinType::Left),
        )
        .join(
            counts,
            [col("rule_id"), col("village")],
            [col("rule_id"), col("village")],
            nulls_equal(JoinType::Left),
        )
        .with_columns([
            col("denominator").fill_null(lit(0i64)),
            col("count").fill_null(lit(0i64)),
            col("decided").fill_null(lit(0i64)),
        ])
        .with_column(
            when(col("denominator").gt(lit(0i64)))
                .then(
                    col("count").cast(DataType::Float64)
                        / col("denominator").cast(DataType::Float64),
                )
                .otherwise(null(DataType::Float64))
                .alias("rate"),
        )
        .select(VILLAGE_COLUMNS.map(col))
        .sort(["village", "rule_id"], SortMultipleOptions::default())
        .collect()
        .map_err(err)
}
