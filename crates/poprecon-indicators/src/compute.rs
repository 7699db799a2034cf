//! Per-birth facts, the long membership frame, village counts and roll-ups.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate};
use polars::prelude::*;

use crate::catalogue::linked_source;
use crate::config::{Basis, IndicatorConfig, Level};
use crate::{IndicatorError, IndicatorInput};

/// The four birth-level sources, in the order of domain.md §8.2.
pub(crate) const BIRTH_SOURCES: [&str; 4] = [
    "hospital_delivery",
    "birth_certificate",
    "household",
    "vaccination",
];

/// Columns of `births` read here.
const BIRTH_COLUMNS: [&str; 15] = [
    "birth_id",
    "birth_date",
    "child_sex",
    "village",
    "floating",
    "birth_order",
    "policy_limit",
    "hepb1_date",
    "sources",
    "mother_id",
    "prenatal_care_key",
    "birth_registration_key",
    "hospital_delivery_key",
    "birth_certificate_key",
    "vaccination_key",
];

fn err(table: &str) -> impl Fn(PolarsError) -> IndicatorError {
    IndicatorError::frame(table)
}

fn has_col(df: &DataFrame, c: &str) -> bool {
    df.column(c).is_ok()
}

/// The first row per `record_key` (by file and line; household rows: active ones first) of
/// `df`, with `cols` renamed `<prefix>_<col>`; a missing column is null of `dtype`.
fn first_per_key(
    df: Option<&DataFrame>,
    wanted: LazyFrame,
    prefix: &str,
    cols: &[(&str, DataType)],
) -> Option<LazyFrame> {
    let df = df.filter(|d| has_col(d, "record_key"))?;
    let mut order = Vec::new();
    if has_col(df, "status") {
        order.push(
            when(col("status").eq(lit("active")))
                .then(lit(0))
                .when(col("status").is_null())
                .then(lit(1))
                .otherwise(lit(2)),
        );
    }
    for c in ["source_file", "source_line"] {
        if has_col(df, c) {
            order.push(col(c));
        }
    }
    if order.is_empty() {
        order.push(col("record_key"));
    }
    let n = order.len();
    let aggs: Vec<Expr> = cols
        .iter()
        .map(|(c, t)| {
            let e = if has_col(df, c) {
                col(*c)
                    .cast(t.clone())
                    .sort_by(
                        order.clone(),
                        SortMultipleOptions::default().with_order_descending_multi(vec![false; n]),
                    )
                    .drop_nulls()
                    .first()
            } else {
                lit(NULL).cast(t.clone()).first()
            };
            e.alias(format!("{prefix}_{c}"))
        })
        .collect();
    Some(
        df.clone()
            .lazy()
            .filter(col("record_key").is_not_null())
            // Only the records of the births are grouped (a few thousand of a registry's
            // millions of rows).
            .join(
                wanted,
                [col("record_key")],
                [col("record_key")],
                JoinArgs::new(JoinType::Semi),
            )
            .group_by([col("record_key")])
            .agg(aggs),
    )
}

/// Left-joins `right` (keyed by `record_key`) onto `lf` by `key`, or adds the null columns.
fn attach(
    lf: LazyFrame,
    right: Option<LazyFrame>,
    key: &str,
    prefix: &str,
    cols: &[(&str, DataType)],
) -> LazyFrame {
    match right {
        Some(r) => lf.join(
            r,
            [col(key)],
            [col("record_key")],
            JoinArgs::new(JoinType::Left),
        ),
        None => lf.with_columns(
            cols.iter()
                .map(|(c, t)| lit(NULL).cast(t.clone()).alias(format!("{prefix}_{c}")))
                .collect::<Vec<_>>(),
        ),
    }
}

/// The effective period: the configuration's, else the run's.
pub(crate) fn period(
    input: &IndicatorInput<'_>,
    cfg: &IndicatorConfig,
) -> Result<(NaiveDate, NaiveDate), IndicatorError> {
    if input.period.0 > input.period.1 {
        return Err(IndicatorError::Period);
    }
    Ok(cfg.own_period()?.unwrap_or(input.period))
}

/// One row per birth of the period with every fact an indicator reads.
pub(crate) fn facts(
    input: &IndicatorInput<'_>,
    cfg: &IndicatorConfig,
) -> Result<LazyFrame, IndicatorError> {
    let births = input.births;
    for c in BIRTH_COLUMNS {
        if !has_col(births, c) {
            return Err(IndicatorError::MissingColumn {
                table: "births".to_owned(),
                column: c.to_owned(),
            });
        }
    }
    let (start, end) = period(input, cfg)?;
    let src = |s: &str| input.sources.get(s);
    let mut lf = births.clone().lazy().filter(col("birth_date").is_between(
        lit(start),
        lit(end),
        ClosedInterval::Both,
    ));
    // Optional link columns: a births table without weights counts every link.
    for s in BIRTH_SOURCES {
        for (suffix, t) in [
            ("key", DataType::String),
            ("method", DataType::String),
            ("weight", DataType::Float64),
        ] {
            let c = format!("{s}_{suffix}");
            if !has_col(births, &c) {
                lf = lf.with_column(lit(NULL).cast(t).alias(c));
            }
        }
    }
    // The record keys of the births, per source.
    let wanted = |key: &str| {
        births
            .clone()
            .lazy()
            .select([col(key).alias("record_key")])
            .filter(col("record_key").is_not_null())
            .unique(None, UniqueKeepStrategy::Any)
    };
    // The booking's gestational weeks.
    let weeks = [("booking_gestational_weeks", DataType::Int32)];
    lf = attach(
        lf,
        has_col(births, "prenatal_care_key")
            .then(|| {
                first_per_key(
                    src("prenatal_care"),
                    wanted("prenatal_care_key"),
                    "pc",
                    &weeks,
                )
            })
            .flatten(),
        "prenatal_care_key",
        "pc",
        &weeks,
    );
    // Sex, date, mother ID and institution of each birth-level record.
    let fields = |sex: &'static str, date: &'static str, inst: bool| {
        let mut v = vec![
            (sex, DataType::Int32),
            (date, DataType::Date),
            ("mother_id", DataType::String),
        ];
        if inst {
            v.push(("institution", DataType::String));
        }
        v
    };
    let per_source = [
        (
            "hospital_delivery",
            "hd",
            fields("child_sex", "delivery_date", true),
        ),
        (
            "birth_certificate",
            "bc",
            fields("child_sex", "birth_date", true),
        ),
        ("household", "hh", fields("sex", "birth_date", false)),
        (
            "vaccination",
            "va",
            fields("child_sex", "birth_date", false),
        ),
    ];
    for (s, p, cols) in &per_source {
        let key = format!("{s}_key");
        lf = attach(
            lf,
            has_col(births, &key)
                .then(|| first_per_key(src(s), wanted(&key), p, cols))
                .flatten(),
            &format!("{s}_key"),
            p,
            cols,
        );
    }
    // The mother's active household village (household basis).
    lf = match household(input) {
        Some(h) => {
            let birth_mothers = births
                .clone()
                .lazy()
                .select([col("mother_id").cast(DataType::String).alias("__want")])
                .filter(col("__want").is_not_null());
            lf.join(
                active_household(h, birth_mothers),
                [col("mother_id")],
                [col("__hp")],
                JoinArgs::new(JoinType::Left),
            )
        }
        None => lf.with_column(lit(NULL).cast(DataType::String).alias("household_village")),
    };
    // The institution's village (occurrence basis).
    let institutions = institutions_frame(cfg)?;
    lf = lf
        .with_column(coalesce(&[col("hd_institution"), col("bc_institution")]).alias("institution"))
        .join(
            institutions.lazy(),
            [col("institution")],
            [col("inst_name")],
            JoinArgs::new(JoinType::Left),
        );
    // Mismatch between the birth-level sources (domain.md §8.5): two records disagree on
    // the child's sex (1/2 only), the birth date, or the valid mother ID.
    let disagree = |cols: [Expr; 4]| {
        let mut any = lit(false);
        for i in 0..4 {
            for j in i + 1..4 {
                any = any.or(cols[i].clone().neq(cols[j].clone()).fill_null(lit(false)));
            }
        }
        any
    };
    let sex = |c: &str| {
        when(col(c).is_in(
            lit(Series::new("s".into(), [1i32, 2])).implode(false),
            false,
        ))
        .then(col(c))
        .otherwise(lit(NULL).cast(DataType::Int32))
    };
    let mismatch = match input.discrepancies {
        Some(d) => {
            let ids = d
                .clone()
                .lazy()
                .filter(
                    col("rule_id").is_in(
                        lit(Series::new(
                            "r".into(),
                            ["sex_mismatch", "birth_date_mismatch", "mother_id_mismatch"],
                        ))
                        .implode(false),
                        false,
                    ),
                )
                .select([col("birth_id")])
                .filter(col("birth_id").is_not_null())
                .unique(None, UniqueKeepStrategy::First)
                .collect()
                .map_err(err("discrepancies"))?;
            col("birth_id").is_in(
                lit(ids
                    .column("birth_id")
                    .map_err(err("discrepancies"))?
                    .as_materialized_series()
                    .clone())
                .implode(false),
                false,
            )
        }
        None => disagree([
            sex("hd_child_sex"),
            sex("bc_child_sex"),
            sex("hh_sex"),
            sex("va_child_sex"),
        ])
        .or(disagree([
            col("hd_delivery_date"),
            col("bc_birth_date"),
            col("hh_birth_date"),
            col("va_birth_date"),
        ]))
        .or(disagree([
            col("hd_mother_id"),
            col("bc_mother_id"),
            col("hh_mother_id"),
            col("va_mother_id"),
        ])),
    };
    Ok(lf.with_column(mismatch.alias("mismatch")))
}

/// The indicators that count deliveries rather than births (domain.md §8.4): a stillbirth's
/// delivery is one of their units too.
pub(crate) fn counts_deliveries(id: &str) -> bool {
    matches!(
        id,
        "prenatal_booking_rate" | "early_prenatal_booking_rate" | "floating_prenatal_booking_rate"
    )
}

/// Columns of a delivery row that are not its content: two rows equal in every other column
/// are one delivery entered twice (`duplicate_record`, §8.18).
const NOT_CONTENT: [&str; 5] = [
    "record_id",
    "record_key",
    "source_file",
    "source_line",
    "invalid_fields",
];

/// The stillbirths' deliveries (domain.md §8.4), the units the delivery indicators count
/// besides the live births' deliveries: one row per accepted delivery row with outcome
/// `stillbirth` dated in the period, one per key, the extra copy of a duplicate left out.
/// Linkage joins live births only, so the mother is the row's valid `mother_id`: her booking
/// (the latest within `booking_window_days` before the delivery, as linkage picks a birth's),
/// floating status and household village are found by it. Columns: `hospital_delivery_key`,
/// `prenatal_care_key`, `pc_booking_gestational_weeks`, `floating`, `village` (the delivery's
/// residence, else the booking's, else the mother's active household village: the steps of
/// §4 a delivery has), `household_village`, `occurrence_village`. `None` without a delivery
/// table.
pub(crate) fn stillbirths(
    input: &IndicatorInput<'_>,
    cfg: &IndicatorConfig,
) -> Result<Option<LazyFrame>, IndicatorError> {
    let Some(d) = input.sources.get("hospital_delivery").filter(|d| {
        ["record_key", "outcome", "delivery_date"]
            .iter()
            .all(|c| has_col(d, c))
    }) else {
        return Ok(None);
    };
    let (start, end) = period(input, cfg)?;
    let text = |df: &DataFrame, c: &str| {
        if has_col(df, c) {
            col(c).cast(DataType::String)
        } else {
            lit(NULL).cast(DataType::String)
        }
    };
    let days = |c: &str| col(c).cast(DataType::Date).cast(DataType::Int32);
    let mut order = Vec::new();
    for c in ["source_file", "source_line"] {
        if has_col(d, c) {
            order.push(c);
        }
    }
    order.push("record_key");
    let content: Vec<PlSmallStr> = d
        .get_column_names()
        .into_iter()
        .filter(|c| !NOT_CONTENT.contains(&c.as_str()))
        .cloned()
        .collect();
    let date = col("delivery_date").cast(DataType::Date);
    let still = d
        .clone()
        .lazy()
        .filter(
            col("record_key")
                .is_not_null()
                .and(col("outcome").eq(lit("stillbirth")).fill_null(lit(false)))
                .and(date.is_between(lit(start), lit(end), ClosedInterval::Both)),
        )
        .sort(order, SortMultipleOptions::default())
        .unique_stable(Some(cols(["record_key"])), UniqueKeepStrategy::First)
        .unique_stable(Some(cols(content)), UniqueKeepStrategy::First)
        .select([
            col("record_key").alias("hospital_delivery_key"),
            text(d, "mother_id").alias("__sm"),
            days("delivery_date").alias("__sd"),
            text(d, "residence_village").alias("__sres"),
            text(d, "institution").alias("institution"),
        ])
        .cache();
    // Her booking: the latest within the window before the delivery.
    let booking_cols = ["record_key", "mother_id", "booking_date"];
    let booking = match input
        .sources
        .get("prenatal_care")
        .filter(|p| booking_cols.iter().all(|c| has_col(p, c)))
    {
        Some(p) => {
            let weeks = if has_col(p, "booking_gestational_weeks") {
                col("booking_gestational_weeks").cast(DataType::Int32)
            } else {
                lit(NULL).cast(DataType::Int32)
            };
            let window = input.booking_window_days;
            let found = still
                .clone()
                .select([
                    col("hospital_delivery_key").alias("__bk"),
                    col("__sm"),
                    col("__sd"),
                ])
                .join(
                    p.clone().lazy().select([
                        col("mother_id").cast(DataType::String).alias("__pm"),
                        days("booking_date").alias("__pd"),
                        col("record_key").alias("prenatal_care_key"),
                        weeks.alias("pc_booking_gestational_weeks"),
                        text(p, "residence_village").alias("__pres"),
                    ]),
                    [col("__sm")],
                    [col("__pm")],
                    JoinArgs::new(JoinType::Inner),
                )
                .filter(
                    col("__pd")
                        .gt_eq(col("__sd") - lit(window))
                        .and(col("__pd").lt_eq(col("__sd"))),
                )
                .sort_by_exprs(
                    [col("__bk"), col("__pd"), col("prenatal_care_key")],
                    SortMultipleOptions::default()
                        .with_order_descending_multi(vec![false, true, false]),
                )
                .unique_stable(Some(cols(["__bk"])), UniqueKeepStrategy::First)
                .select([
                    col("__bk"),
                    col("prenatal_care_key"),
                    col("pc_booking_gestational_weeks"),
                    col("__pres"),
                ]);
            still.clone().join(
                found,
                [col("hospital_delivery_key")],
                [col("__bk")],
                JoinArgs::new(JoinType::Left),
            )
        }
        None => still.clone().with_columns([
            lit(NULL).cast(DataType::String).alias("prenatal_care_key"),
            lit(NULL)
                .cast(DataType::Int32)
                .alias("pc_booking_gestational_weeks"),
            lit(NULL).cast(DataType::String).alias("__pres"),
        ]),
    };
    // Her active household village; no active row: floating (§8.8).
    let lf = match household(input) {
        Some(h) => {
            let mothers = active_household(h, still.clone().select([col("__sm").alias("__want")]))
                .with_column(lit(true).alias("__active"));
            booking
                .join(
                    mothers,
                    [col("__sm")],
                    [col("__hp")],
                    JoinArgs::new(JoinType::Left),
                )
                .with_column(col("__active").is_null().alias("floating"))
        }
        None => booking.with_columns([
            lit(NULL).cast(DataType::String).alias("household_village"),
            lit(true).alias("floating"),
        ]),
    };
    let institutions = institutions_frame(cfg)?;
    Ok(Some(
        lf.with_column(
            coalesce(&[col("__sres"), col("__pres"), col("household_village")]).alias("village"),
        )
        .join(
            institutions.lazy(),
            [col("institution")],
            [col("inst_name")],
            JoinArgs::new(JoinType::Left),
        )
        .select([
            col("hospital_delivery_key"),
            col("prenatal_care_key"),
            col("pc_booking_gestational_weeks"),
            col("floating"),
            col("village"),
            col("household_village"),
            col("occurrence_village"),
        ]),
    ))
}

/// The household table, when it has the columns a person's village is read from.
fn household<'a>(input: &IndicatorInput<'a>) -> Option<&'a DataFrame> {
    input
        .sources
        .get("household")
        .filter(|h| ["person_id", "village"].iter().all(|c| has_col(h, c)))
}

/// The persons of `wanted` (column `__want`, IDs) with an active household row (status
/// active or none): `__hp` and `household_village`, the village of their first row by status
/// (active first) then code; null when those rows name no village.
fn active_household(h: &DataFrame, wanted: LazyFrame) -> LazyFrame {
    let (active, rank) = if has_col(h, "status") {
        (
            col("status").is_null().or(col("status").eq(lit("active"))),
            when(col("status").eq(lit("active")))
                .then(lit(0))
                .otherwise(lit(1)),
        )
    } else {
        (lit(true), lit(0))
    };
    h.clone()
        .lazy()
        .filter(col("person_id").is_not_null().and(active))
        .join(
            wanted,
            [col("person_id").cast(DataType::String)],
            [col("__want")],
            JoinArgs::new(JoinType::Semi),
        )
        .group_by([col("person_id").cast(DataType::String).alias("__hp")])
        .agg([col("village")
            .cast(DataType::String)
            .sort_by([rank, col("village")], SortMultipleOptions::default())
            .drop_nulls()
            .first()
            .alias("household_village")])
}

/// The institution → village table of the occurrence basis.
fn institutions_frame(cfg: &IndicatorConfig) -> Result<DataFrame, IndicatorError> {
    DataFrame::new(
        cfg.institutions.len(),
        vec![
            Column::new(
                "inst_name".into(),
                cfg.institutions.keys().cloned().collect::<Vec<_>>(),
            ),
            Column::new(
                "occurrence_village".into(),
                cfg.institutions.values().cloned().collect::<Vec<_>>(),
            ),
        ],
    )
    .map_err(err("institutions"))
}

/// Whether the birth has source `s`, counting a probabilistic link only at or above
/// `threshold` (the anchor and deterministic links always count).
fn has(s: &str, threshold: Option<f64>) -> Expr {
    let key = col(format!("{s}_key")).is_not_null();
    match threshold {
        None => key,
        Some(t) => key.and(
            col(format!("{s}_weight"))
                .is_null()
                .or(col(format!("{s}_method")).eq(lit("deterministic")))
                .or(col(format!("{s}_weight")).gt_eq(lit(t)))
                .fill_null(lit(false)),
        ),
    }
}

/// Numerator and denominator membership of a birth for indicator `id`, counting links at
/// `threshold` (see [`has`]).
fn membership(
    id: &str,
    cfg: &IndicatorConfig,
    as_of: NaiveDate,
    threshold: Option<f64>,
) -> (Expr, Expr) {
    let born_by = |days: i32| col("birth_date").lt_eq(lit(as_of - Duration::days(days.into())));
    let key = |s: &str| col(format!("{s}_key")).is_not_null();
    let known_order = col("birth_order").is_not_null();
    let (num, den) = match id {
        "live_births" => (lit(true), lit(false)),
        "sex_ratio_at_birth" => (col("child_sex").eq(lit(1)), col("child_sex").eq(lit(2))),
        "hospital_delivery_rate" => (has("hospital_delivery", threshold), lit(true)),
        "birth_certificate_rate" => {
            let den = born_by(cfg.certificate_after_days);
            (den.clone().and(has("birth_certificate", threshold)), den)
        }
        "household_registration_rate" => {
            let den = col("floating").not().and(born_by(cfg.household_after_days));
            (den.clone().and(has("household", threshold)), den)
        }
        "registration_service_rate" => (key("birth_registration"), lit(true)),
        "prenatal_booking_rate" => {
            let den = key("hospital_delivery");
            (den.clone().and(key("prenatal_care")), den)
        }
        "early_prenatal_booking_rate" => {
            let den = key("hospital_delivery");
            let early = key("prenatal_care")
                .and(col("pc_booking_gestational_weeks").lt(lit(cfg.early_booking_weeks)));
            (den.clone().and(early), den)
        }
        "hepb1_timely_rate" => {
            let den = born_by(cfg.hepb1_after_days);
            let lag =
                col("hepb1_date").cast(DataType::Int32) - col("birth_date").cast(DataType::Int32);
            // Timely is not late (`late_hepb1`): a dose dated before the birth date (one of
            // the two dates is wrong) is not late, so it is timely.
            let timely = lag.lt_eq(lit(cfg.hepb1_within_days));
            (
                den.clone().and(has("vaccination", threshold)).and(timely),
                den,
            )
        }
        "policy_compliance_rate" => (
            known_order.clone().and(
                col("policy_limit")
                    .is_null()
                    .or(col("birth_order").lt_eq(col("policy_limit"))),
            ),
            known_order,
        ),
        "birth_info_accuracy_rate" => {
            let den = col("sources").gt_eq(lit(2));
            (den.clone().and(col("mismatch").not()), den)
        }
        "floating_birth_share" => (col("floating"), lit(true)),
        "floating_prenatal_booking_rate" => {
            let den = col("floating").and(key("hospital_delivery"));
            (den.clone().and(key("prenatal_care")), den)
        }
        "higher_order_birth_share" => (col("birth_order").gt_eq(lit(3)), known_order),
        _ => (lit(false), lit(false)),
    };
    (num.fill_null(lit(false)), den.fill_null(lit(false)))
}

fn area_column(basis: Basis) -> &'static str {
    match basis {
        Basis::Residence => "village",
        Basis::Household => "household_village",
        Basis::Occurrence => "occurrence_village",
    }
}

/// One row per (indicator, basis, birth attributed to a village of the jurisdiction, or to
/// none: those count for the jurisdiction only):
/// `basis`, `indicator_id`, `area_code` (the village), `birth_id` (null for a stillbirth's
/// delivery), `hospital_delivery_key`, `in_numerator`, `in_denominator`,
/// `in_numerator_strict`, `in_numerator_loose`.
pub(crate) fn membership_frame(
    input: &IndicatorInput<'_>,
    cfg: &IndicatorConfig,
) -> Result<LazyFrame, IndicatorError> {
    let resolved = cfg.resolved()?;
    let facts = facts(input, cfg)?.cache();
    let stillbirths = stillbirths(input, cfg)?.map(LazyFrame::cache);
    let mut parts = Vec::new();
    let in_jurisdiction = |area: &Expr| {
        area.clone().is_null().or(area
            .clone()
            .str()
            .len_chars()
            .eq(lit(12u32))
            .and(area.clone().str().starts_with(lit(input.jurisdiction)))
            .fill_null(lit(false)))
    };
    for r in &resolved {
        let (num, den) = membership(&r.id, cfg, input.as_of, None);
        let (strict, loose) = match linked_source(&r.id) {
            Some(_) => (
                membership(&r.id, cfg, input.as_of, Some(cfg.strict_threshold)).0,
                membership(&r.id, cfg, input.as_of, Some(cfg.loose_threshold)).0,
            ),
            None => (
                lit(NULL).cast(DataType::Boolean),
                lit(NULL).cast(DataType::Boolean),
            ),
        };
        for basis in &r.bases {
            let area = col(area_column(*basis));
            parts.push(
                facts
                    .clone()
                    // A birth without a village on this basis (no attribution, a floating
                    // mother's household, an unknown institution) counts for the
                    // jurisdiction only.
                    .filter(in_jurisdiction(&area))
                    .select([
                        lit(basis.as_str()).alias("basis"),
                        lit(r.id.as_str()).alias("indicator_id"),
                        area.clone().alias("area_code"),
                        col("birth_id"),
                        col("hospital_delivery_key"),
                        num.clone().alias("in_numerator"),
                        den.clone().alias("in_denominator"),
                        strict.clone().alias("in_numerator_strict"),
                        loose.clone().alias("in_numerator_loose"),
                    ]),
            );
            // The stillbirths' deliveries: units of the delivery indicators, and of no
            // other, though their areas get a row of every indicator (§8.21).
            if let Some(still) = &stillbirths {
                let (num, den) = if counts_deliveries(&r.id) {
                    (num.clone(), den.clone())
                } else {
                    (lit(false), lit(false))
                };
                parts.push(
                    still.clone().filter(in_jurisdiction(&area)).select([
                        lit(basis.as_str()).alias("basis"),
                        lit(r.id.as_str()).alias("indicator_id"),
                        area.alias("area_code"),
                        lit(NULL).cast(DataType::String).alias("birth_id"),
                        col("hospital_delivery_key"),
                        num.alias("in_numerator"),
                        den.alias("in_denominator"),
                        lit(NULL)
                            .cast(DataType::Boolean)
                            .alias("in_numerator_strict"),
                        lit(NULL)
                            .cast(DataType::Boolean)
                            .alias("in_numerator_loose"),
                    ]),
                );
            }
        }
    }
    if parts.is_empty() {
        return Err(IndicatorError::config(
            "indicators.catalogue",
            "name at least one indicator",
        ));
    }
    concat(parts, UnionArgs::default()).map_err(err("births"))
}

/// Names of the areas, code → name.
pub(crate) fn names_frame(
    input: &IndicatorInput<'_>,
    cfg: &IndicatorConfig,
) -> Result<DataFrame, IndicatorError> {
    let mut names: BTreeMap<&str, &str> = BTreeMap::new();
    for m in [
        input.divisions.counties,
        input.divisions.townships,
        input.divisions.villages,
    ] {
        for (k, v) in m {
            names.insert(k, v);
        }
    }
    let own = cfg
        .jurisdiction_name
        .as_deref()
        .or_else(|| names.get(input.jurisdiction).copied());
    if let Some(n) = own {
        names.insert(input.jurisdiction, n);
    }
    DataFrame::new(
        names.len(),
        vec![
            Column::new(
                "name_code".into(),
                names.keys().copied().collect::<Vec<_>>(),
            ),
            Column::new(
                "area_name".into(),
                names.values().copied().collect::<Vec<_>>(),
            ),
        ],
    )
    .map_err(err("divisions"))
}

/// Village counts rolled up to every level by adding numerators and denominators.
/// Village rows rolled up by code prefix: township (9 digits) and county (6) only where the
/// division table knows that area, city (4) always, and the jurisdiction over every row,
/// births without a village included. A village code the table does not know keeps its
/// own village row (domain.md §8.11).
pub(crate) fn counts(
    members: LazyFrame,
    input: &IndicatorInput<'_>,
) -> Result<LazyFrame, IndicatorError> {
    let jurisdiction = input.jurisdiction;
    let known = |codes: &BTreeMap<String, String>| {
        lit(Series::new(
            "known".into(),
            codes.keys().cloned().collect::<Vec<_>>(),
        ))
        .implode(false)
    };
    let sum = |c: &str| col(c).cast(DataType::Int64).sum().alias(c);
    let village = members
        .group_by([col("basis"), col("indicator_id"), col("area_code")])
        .agg([
            sum("in_numerator").alias("numerator"),
            sum("in_denominator").alias("denominator"),
            col("in_numerator_strict")
                .cast(DataType::Int64)
                .sum()
                .alias("numerator_strict"),
            col("in_numerator_loose")
                .cast(DataType::Int64)
                .sum()
                .alias("numerator_loose"),
        ])
        .cache();
    let mut levels = Vec::new();
    for (rank, level) in Level::ALL.iter().enumerate() {
        let code = match level.code_len() {
            Some(n) => col("area_code").str().slice(lit(0), lit(n as u64)),
            None => lit(jurisdiction.to_owned()),
        };
        let placed = match level {
            Level::Jurisdiction => lit(true),
            Level::County => code.clone().is_in(known(input.divisions.counties), false),
            Level::Township => code.clone().is_in(known(input.divisions.townships), false),
            Level::Village | Level::City => col("area_code").is_not_null(),
        };
        levels.push(
            village
                .clone()
                .filter(placed.fill_null(lit(false)))
                .with_column(code.alias("area_code"))
                .group_by([col("basis"), col("indicator_id"), col("area_code")])
                .agg([
                    col("numerator").sum(),
                    col("denominator").sum(),
                    col("numerator_strict").sum(),
                    col("numerator_loose").sum(),
                ])
                .with_columns([
                    lit(level.as_str()).alias("level"),
                    lit(rank as u32).alias("level_rank"),
                ]),
        );
    }
    concat(levels, UnionArgs::default()).map_err(err("indicators"))
}

/// z of a two-sided 95 % interval.
const Z95: f64 = 1.959_963_984_540_054;

/// Wilson score interval bounds of `x` successes in `n` trials (null when `n` is 0).
pub(crate) fn wilson(x: Expr, n: Expr) -> (Expr, Expr) {
    let z2 = Z95 * Z95;
    let nf = n.clone().cast(DataType::Float64);
    let p = x.cast(DataType::Float64) / nf.clone();
    let denom = lit(1.0) + lit(z2) / nf.clone();
    let centre = (p.clone() + lit(z2) / (lit(2.0) * nf.clone())) / denom.clone();
    let half = lit(Z95) / denom
        * (p.clone() * (lit(1.0) - p) / nf.clone() + lit(z2) / (lit(4.0) * nf.clone() * nf)).sqrt();
    let ok = n.gt(lit(0));
    let guard = |e: Expr| {
        when(ok.clone())
            .then(e)
            .otherwise(lit(NULL).cast(DataType::Float64))
    };
    (
        guard((centre.clone() - half.clone()).clip(lit(0.0), lit(1.0))),
        guard((centre + half).clip(lit(0.0), lit(1.0))),
    )
}

/// Value, `low_n` and interval of each row; the output columns in their order.
pub(crate) fn finish(
    counts: LazyFrame,
    names: DataFrame,
    low_n: u32,
) -> Result<DataFrame, IndicatorError> {
    let id = col("indicator_id");
    let is_count = id.clone().eq(lit("live_births"));
    let is_ratio = id.clone().eq(lit("sex_ratio_at_birth"));
    let num = col("numerator");
    let den = col("denominator");
    let null_f = || lit(NULL).cast(DataType::Float64);
    // The sex ratio's interval is Wilson's on the share of boys, mapped to boys per 100
    // girls.
    let (lo_p, hi_p) = wilson(num.clone(), num.clone() + den.clone());
    let (lo, hi) = wilson(num.clone(), den.clone());
    let to_ratio = |p: Expr| {
        when(p.clone().lt(lit(1.0)))
            .then(lit(100.0) * p.clone() / (lit(1.0) - p))
            .otherwise(null_f())
    };
    let coverage_ids = Series::new(
        "c".into(),
        crate::catalogue::CATALOGUE
            .iter()
            .filter(|i| linked_source(i.id).is_some())
            .map(|i| i.id)
            .collect::<Vec<_>>(),
    );
    let coverage = |e: Expr| {
        when(
            id.clone()
                .is_in(lit(coverage_ids.clone()).implode(false), false),
        )
        .then(e)
        .otherwise(lit(NULL).cast(DataType::Int64))
    };
    let rate = |a: Expr, b: Expr| {
        when(b.clone().gt(lit(0)))
            .then(a.cast(DataType::Float64) / b.cast(DataType::Float64))
            .otherwise(null_f())
    };
    let df = counts
        .with_columns([when(is_count.clone())
            .then(lit(NULL).cast(DataType::Int64))
            .otherwise(den.clone())
            .alias("denominator")])
        .with_columns([
            when(is_count.clone())
                .then(num.clone().cast(DataType::Float64))
                .when(is_ratio.clone())
                .then(rate(lit(100) * num.clone(), den.clone()))
                .otherwise(rate(num.clone(), den.clone()))
                .alias("value"),
            when(is_count.clone())
                .then(lit(false))
                .otherwise(den.clone().lt(lit(low_n as i64)))
                .alias("low_n"),
            when(is_count.clone())
                .then(null_f())
                .when(is_ratio.clone())
                .then(to_ratio(lo_p))
                .otherwise(lo)
                .alias("ci_low"),
            when(is_count)
                .then(null_f())
                .when(is_ratio)
                .then(to_ratio(hi_p))
                .otherwise(hi)
                .alias("ci_high"),
            coverage(col("numerator_strict")).alias("numerator_strict"),
            coverage(col("numerator_loose")).alias("numerator_loose"),
        ])
        .join(
            names.lazy(),
            [col("area_code")],
            [col("name_code")],
            JoinArgs::new(JoinType::Left),
        )
        .sort(
            ["level_rank", "area_code", "indicator_id", "basis"],
            SortMultipleOptions::default(),
        )
        .select([
            col("level"),
            col("area_code"),
            col("area_name"),
            col("indicator_id"),
            col("basis"),
            col("numerator"),
            col("denominator"),
            col("value"),
            col("low_n"),
            col("ci_low"),
            col("ci_high"),
            col("numerator_strict"),
            col("numerator_loose"),
        ])
        .collect()
        .map_err(err("indicators"))?;
    Ok(df)
}
