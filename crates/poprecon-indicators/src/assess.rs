//! The target responsibility assessment (目标管理责任制考核).

use polars::prelude::*;

use crate::catalogue::CATALOGUE;
use crate::{AssessmentConfig, IndicatorError, Level};

fn err(e: PolarsError) -> IndicatorError {
    IndicatorError::frame("assessment")(e)
}

/// `assessment.parquet` (domain.md §7) from the `indicators` table of [`crate::compute`].
///
/// One row per assessed area (the levels of [`AssessmentConfig::levels`]) and item of the
/// scheme: `level`, `area_code`, `area_name`, `indicator_id`, `value`, `numerator`,
/// `denominator`, `low_n`, `target`, `floor`, `weight`, `credit` (`weight` × the share of
/// the way from floor to target, clamped to [0, 1]; it works the same when the target is
/// below the floor, i.e. lower is better; null when the value is), then one `total` row
/// per area: `weight` = the weights of the items with a value, `credit` = their credits,
/// `value` = 100 × credit / weight (the score out of 100). Every row of an area carries
/// `veto` and `veto_reasons` (the reasons of the vetoes whose condition holds, `;`-joined).
/// Sorted by level (county first), `area_code`, then the scheme's item order, total last.
pub fn assess(indicators: &DataFrame, cfg: &AssessmentConfig) -> Result<DataFrame, IndicatorError> {
    cfg.validate()?;
    let levels = Series::new(
        "levels".into(),
        cfg.levels.iter().map(|l| l.as_str()).collect::<Vec<_>>(),
    );
    let rank_of = |l: Level| Level::ALL.iter().position(|x| *x == l).unwrap_or(0) as u32;
    let level_rank = Level::ALL
        .iter()
        .fold(lit(NULL).cast(DataType::UInt32), |acc, l| {
            when(col("level").eq(lit(l.as_str())))
                .then(lit(rank_of(*l)))
                .otherwise(acc)
        });
    let base = indicators
        .clone()
        .lazy()
        .filter(
            col("basis")
                .eq(lit(cfg.basis.as_str()))
                .and(col("level").is_in(lit(levels).implode(false), false)),
        )
        .cache();
    let areas = base
        .clone()
        .select([col("level"), col("area_code"), col("area_name")])
        .unique(None, UniqueKeepStrategy::First);
    let keys = [col("level"), col("area_code")];
    // Items.
    let mut items = Vec::new();
    for (i, it) in cfg.items.iter().enumerate() {
        let share =
            ((col("value") - lit(it.floor)) / lit(it.target - it.floor)).clip(lit(0.0), lit(1.0));
        items.push(
            areas
                .clone()
                .join(
                    base.clone()
                        .filter(col("indicator_id").eq(lit(it.indicator.as_str())))
                        .select([
                            col("level"),
                            col("area_code"),
                            col("value"),
                            col("numerator"),
                            col("denominator"),
                            col("low_n"),
                        ]),
                    keys.clone(),
                    keys.clone(),
                    JoinArgs::new(JoinType::Left),
                )
                .with_columns([
                    lit(it.indicator.as_str()).alias("indicator_id"),
                    lit(it.target).alias("target"),
                    lit(it.floor).alias("floor"),
                    lit(it.weight).alias("weight"),
                    (lit(it.weight) * share).alias("credit"),
                    lit(i as u32).alias("item_rank"),
                ]),
        );
    }
    if items.is_empty() {
        return Err(IndicatorError::config(
            "assessment.items",
            "name at least one item",
        ));
    }
    let items = concat(items, UnionArgs::default()).map_err(err)?.cache();
    let totals = items
        .clone()
        .group_by([col("level"), col("area_code"), col("area_name")])
        .agg([
            col("weight")
                .filter(col("credit").is_not_null())
                .sum()
                .alias("weight"),
            col("credit").sum().alias("credit"),
        ])
        .with_columns([
            lit("total").alias("indicator_id"),
            when(col("weight").gt(lit(0.0)))
                .then(lit(100.0) * col("credit") / col("weight"))
                .otherwise(lit(NULL).cast(DataType::Float64))
                .alias("value"),
            lit(NULL).cast(DataType::Int64).alias("numerator"),
            lit(NULL).cast(DataType::Int64).alias("denominator"),
            lit(NULL).cast(DataType::Boolean).alias("low_n"),
            lit(NULL).cast(DataType::Float64).alias("target"),
            lit(NULL).cast(DataType::Float64).alias("floor"),
            lit(cfg.items.len() as u32).alias("item_rank"),
        ]);
    // Vetoes: a wide frame of every indicator per area, then each condition over it.
    let mut wide = areas.clone();
    for ind in CATALOGUE {
        wide = wide.join(
            base.clone()
                .filter(col("indicator_id").eq(lit(ind.id)))
                .select([
                    col("level"),
                    col("area_code"),
                    col("value").alias(ind.id),
                    col("numerator").alias(format!("{}_numerator", ind.id)),
                    col("denominator").alias(format!("{}_denominator", ind.id)),
                ]),
            keys.clone(),
            keys.clone(),
            JoinArgs::new(JoinType::Left),
        );
    }
    let mut reasons = Vec::new();
    for v in &cfg.vetoes {
        let cond = polars::sql::sql_expr(&v.condition).map_err(|_| {
            IndicatorError::config(
                "assessment.vetoes.condition",
                format!("veto `{}`: not a SQL expression", v.id),
            )
        })?;
        let applies = Series::new(
            "l".into(),
            v.levels.iter().map(|l| l.as_str()).collect::<Vec<_>>(),
        );
        reasons.push(
            when(
                cond.fill_null(lit(false))
                    .and(col("level").is_in(lit(applies).implode(false), false)),
            )
            .then(lit(v.reason.as_str()))
            .otherwise(lit(NULL).cast(DataType::String)),
        );
    }
    let reason = if reasons.is_empty() {
        lit(NULL).cast(DataType::String)
    } else {
        let joined = concat_str(reasons, ";", true);
        when(joined.clone().str().len_chars().gt(lit(0u32)))
            .then(joined)
            .otherwise(lit(NULL).cast(DataType::String))
    };
    let vetoes = wide.select([
        col("level"),
        col("area_code"),
        reason.clone().is_not_null().alias("veto"),
        reason.alias("veto_reasons"),
    ]);
    let columns = [
        "level",
        "area_code",
        "area_name",
        "indicator_id",
        "value",
        "numerator",
        "denominator",
        "low_n",
        "target",
        "floor",
        "weight",
        "credit",
        "item_rank",
    ];
    let pick = |lf: LazyFrame| lf.select(columns.iter().map(|c| col(*c)).collect::<Vec<_>>());
    concat([pick(items), pick(totals)], UnionArgs::default())
        .map_err(err)?
        .join(vetoes, keys.clone(), keys, JoinArgs::new(JoinType::Left))
        .with_column(level_rank.alias("level_rank"))
        .sort(
            ["level_rank", "area_code", "item_rank"],
            SortMultipleOptions::default(),
        )
        .select(
            columns[..columns.len() - 1]
                .iter()
                .chain(&["veto", "veto_reasons"])
                .map(|c| col(*c))
                .collect::<Vec<_>>(),
        )
        .collect()
        .map_err(err)
}
