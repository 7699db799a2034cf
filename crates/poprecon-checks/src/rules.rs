//! The rules over birth events (domain.md §5), and what every rule hands on: its
//! discrepancy rows and its units (one row per thing the rule checked, for the village
//! denominators). The record-level rules (§8.13) and `id_number_conflict` are in
//! `records.rs`.

use polars::prelude::*;

use crate::catalogue::{BirthRule, RecordRule, RuleId, Scope, Severity};
use crate::error::ChecksError;
use crate::frames::{
    BIRTH_SOURCES, CERTIFICATE, Ctx, DELIVERY, HOUSEHOLD, PRENATAL, REGISTRATION, Table,
    VACCINATION, key_column, null, on_cores,
};
use crate::records;

/// What one rule found.
pub(crate) struct RuleRows {
    pub rule_id: String,
    pub severity: Severity,
    /// Columns among `village`, `birth_id`, the `<source>_key` columns, `field`, `values`
    /// and `__material` (what the discrepancy id is derived from).
    pub rows: LazyFrame,
    /// One row per unit checked, with its `village`.
    pub units: LazyFrame,
}

/// Rows and units of one rule; `None` when it cannot run (a source it needs is not read).
pub(crate) type Found = Option<(LazyFrame, LazyFrame)>;

/// Runs every enabled rule of the catalogue, then the local rules.
pub(crate) fn run_all(ctx: &Ctx<'_>) -> Result<Vec<RuleRows>, ChecksError> {
    // The record-level rules read every source attributed: made at once, in parallel.
    let record_rules = RuleId::ALL
        .into_iter()
        .any(|r| matches!(r.scope(), Scope::Record(_)) && ctx.cfg.rule(r).0);
    if record_rules {
        let started = std::time::Instant::now();
        records::attribute_sources(ctx)?;
        tracing::debug!(
            seconds = started.elapsed().as_secs_f64(),
            "sources attributed"
        );
    }
    // The rules run side by side, as many at a time as the machine has cores: the two that
    // pass over every row of every source in Rust (`id_number_conflict`, `duplicate_record`)
    // first, as they take most of the stage. Their results keep the catalogue's order.
    let mut todo: Vec<(usize, RuleId, Severity)> = RuleId::ALL
        .into_iter()
        .map(|rule| (rule, ctx.cfg.rule(rule)))
        .filter(|(_, (enabled, _))| *enabled)
        .enumerate()
        .map(|(at, (rule, (_, severity)))| (at, rule, severity))
        .collect();
    todo.sort_by_key(|&(at, rule, _)| (!LONG_RULES.contains(&rule), at));
    let mut found = on_cores(&todo, |&(at, rule, severity)| {
        (at, rule, severity, run_rule(ctx, rule))
    });
    found.sort_by_key(|(at, ..)| *at);
    let mut out = Vec::new();
    for (_, rule, severity, found) in found {
        if let Some((rows, units)) = found? {
            out.push(RuleRows {
                rule_id: rule.as_str().to_owned(),
                severity,
                rows,
                units,
            });
        }
    }
    for local in ctx.cfg.local.iter().filter(|l| l.enabled) {
        if let Some((rows, units)) = local_rule(ctx, local)? {
            out.push(RuleRows {
                rule_id: local.id.clone(),
                severity: local.severity,
                rows,
                units,
            });
        }
    }
    Ok(out)
}

/// The rules that pass over every row of every source (in Rust, not as plans): begun first.
const LONG_RULES: [RuleId; 2] = [RuleId::IdNumberConflict, RuleId::DuplicateRecord];

/// One rule of the catalogue, in its own `rule` span.
fn run_rule(ctx: &Ctx<'_>, rule: RuleId) -> Result<Found, ChecksError> {
    let _span = tracing::debug_span!("rule", rule = rule.as_str()).entered();
    let started = std::time::Instant::now();
    let found = match (rule.scope(), &ctx.births) {
        (Scope::Record(r), _) => match r {
            RecordRule::LatePrenatalBooking => records::late_prenatal_booking(ctx)?,
            RecordRule::RegistrationWithoutMarriage => records::registration_without_marriage(ctx)?,
            RecordRule::MaternityClaimWithoutDelivery => {
                records::maternity_claim_without_delivery(ctx)?
            }
            RecordRule::StudentWithoutHouseholdRegistration => {
                records::student_without_household_registration(ctx)?
            }
            RecordRule::DuplicateRecord => records::duplicate_record(ctx)?,
            RecordRule::InvalidValue => records::invalid_value(ctx)?,
            RecordRule::IdNumberConflict => records::id_number_conflict(ctx)?,
        },
        // Before linkage there is no birth to check.
        (Scope::Birth(_), None) => None,
        (Scope::Birth(r), Some(b)) => birth_rule(ctx, rule, r, b)?,
    };
    tracing::debug!(seconds = started.elapsed().as_secs_f64(), "rule planned");
    Ok(found)
}

/// `label=value`, null when the value is.
pub(crate) fn kv(label: &str, value: Expr) -> Expr {
    concat_str(
        [lit(format!("{label}=")), value.cast(DataType::String)],
        "",
        false,
    )
}

/// Parts joined by `;`, leaving out null parts. An empty text becomes null when the table
/// is assembled: a `when` over the joined text here would repeat it, and polars' common-
/// subexpression pass breaks on a repeated expression made of literals only (it computes it
/// once, as one row, beside columns of many).
pub(crate) fn values(parts: Vec<Expr>) -> Expr {
    if parts.is_empty() {
        return null(DataType::String);
    }
    concat_str(parts, ";", true)
}

/// What a discrepancy id is derived from: the rule, the field and the record keys (and, for
/// rules whose key does not make a record unique, what does).
pub(crate) fn material(rule: &str, field: Option<&str>, parts: Vec<Expr>) -> Expr {
    let mut all = vec![lit(rule.to_owned()), lit(field.unwrap_or("").to_owned())];
    all.extend(parts);
    concat_str(all, "|", true)
}

/// Days since 1970-01-01 as `YYYY-MM-DD`.
pub(crate) fn date_text(days: Expr) -> Expr {
    days.cast(DataType::Date).cast(DataType::String)
}

pub(crate) fn field_lit(field: Option<&str>) -> Expr {
    match field {
        Some(f) => lit(f.to_owned()),
        None => null(DataType::String),
    }
}

/// Discrepancy rows of births: the birth's village and keys; the id is derived from the key
/// of the birth's first record (delivery, certificate, household, vaccination), which does
/// not change when linkage adds a record to the birth.
fn birth_rows(
    rule: RuleId,
    births: LazyFrame,
    field: Option<&str>,
    values: Expr,
    extra_keys: &[&str],
) -> LazyFrame {
    let mut cols = vec![col("village"), col("birth_id")];
    cols.extend(BIRTH_SOURCES.iter().map(|s| col(key_column(s))));
    cols.extend(extra_keys.iter().map(|s| col(key_column(s))));
    cols.extend([
        field_lit(field).alias("field"),
        values.alias("values"),
        material(rule.as_str(), field, vec![col("__anchor")]).alias("__material"),
    ]);
    births.select(cols)
}

fn birth_units(births: LazyFrame) -> LazyFrame {
    births.select([col("village")])
}

fn birth_rule(
    ctx: &Ctx<'_>,
    rule: RuleId,
    which: BirthRule,
    b: &Table,
) -> Result<Found, ChecksError> {
    let cfg = ctx.cfg;
    let key = |s: &str| col(key_column(s));
    let born_by = |grace: i32| col("__date").lt_eq(lit(ctx.as_of - grace));
    let birth_date = || kv("birth_date", date_text(col("__date")));
    // A coverage rule: `units` are the births checked, those without `missing` fire.
    let coverage = |units: Expr, missing: &str, vals: Expr| -> Found {
        let units = b.lazy().filter(units);
        let rows = units.clone().filter(key(missing).is_null());
        Some((birth_rows(rule, rows, None, vals, &[]), birth_units(units)))
    };
    Ok(match which {
        BirthRule::DeliveryWithoutCertificate => {
            if !ctx.has_sources(&[DELIVERY, CERTIFICATE]) {
                return Ok(None);
            }
            let live = col("__d_outcome")
                .neq(lit("stillbirth"))
                .fill_null(lit(true));
            coverage(
                key(DELIVERY)
                    .is_not_null()
                    .and(live)
                    .and(born_by(cfg.delivery_without_certificate.grace_days)),
                CERTIFICATE,
                values(vec![birth_date()]),
            )
        }
        BirthRule::CertificateWithoutDelivery => {
            if !ctx.has_sources(&[DELIVERY, CERTIFICATE]) {
                return Ok(None);
            }
            coverage(
                key(CERTIFICATE).is_not_null().and(
                    col("__c_place")
                        .eq(lit("medical_institution"))
                        .fill_null(lit(false)),
                ),
                DELIVERY,
                values(vec![kv("birth_place_type", col("__c_place"))]),
            )
        }
        BirthRule::BirthWithoutHouseholdRegistration => {
            if !ctx.has_sources(&[HOUSEHOLD]) {
                return Ok(None);
            }
            coverage(
                col("floating")
                    .not()
                    .and(born_by(cfg.birth_without_household_registration.grace_days)),
                HOUSEHOLD,
                values(vec![birth_date()]),
            )
        }
        BirthRule::HouseholdBirthWithoutCertificate => {
            if !ctx.has_sources(&[HOUSEHOLD, CERTIFICATE]) {
                return Ok(None);
            }
            let date = col("__h_birth");
            coverage(
                key(HOUSEHOLD)
                    .is_not_null()
                    .and(col("__h_reason_birth").fill_null(lit(false)))
                    .and(date.clone().gt_eq(lit(ctx.period.0)))
                    .and(date.lt_eq(lit(ctx.period.1))),
                CERTIFICATE,
                values(vec![birth_date()]),
            )
        }
        // The mother's registration and booking are linkage's (§8.3, `[linkage]` windows):
        // the rules read the keys it attached, and never match the windows again.
        BirthRule::BirthWithoutRegistrationService => {
            if !ctx.has_sources(&[REGISTRATION]) {
                return Ok(None);
            }
            coverage(lit(true), REGISTRATION, values(vec![birth_date()]))
        }
        BirthRule::DeliveryWithoutPrenatalBooking => {
            // Every delivery (domain.md §8.4): those of live birth events, with the booking
            // linkage attached to the birth, and below the stillbirths' deliveries.
            if !ctx.has_sources(&[PRENATAL, DELIVERY]) {
                return Ok(None);
            }
            let live = col("__d_outcome")
                .neq(lit("stillbirth"))
                .fill_null(lit(true));
            let units = b
                .lazy()
                .filter(key(DELIVERY).is_not_null().and(live))
                .with_column(coalesce(&[col("__d_date"), col("__date")]).alias("__dd"));
            let rows = units.clone().filter(key(PRENATAL).is_null());
            let vals = || values(vec![kv("delivery_date", date_text(col("__dd")))]);
            let mut all_rows = vec![birth_rows(rule, rows, None, vals(), &[])];
            let mut all_units = vec![birth_units(units)];
            // The stillbirths' deliveries count too (§8.4), each with the booking the births
            // stage found for the mother its row names; they belong to no birth, so the row
            // is the record's.
            if let Some(still) = records::stillbirth_deliveries(ctx) {
                // Shaped as a birth's row: its own record is its anchor and its only key.
                let mut shape = vec![
                    col("__village").alias("village"),
                    col("__birth").alias("birth_id"),
                    col("__key").alias(key_column(DELIVERY)),
                    concat_str([lit(format!("{DELIVERY}=")), col("__key")], "", false)
                        .alias("__anchor"),
                ];
                shape.extend(
                    BIRTH_SOURCES
                        .iter()
                        .filter(|s| **s != DELIVERY)
                        .map(|s| null(DataType::String).alias(key_column(s))),
                );
                let still = still.with_columns(shape);
                let rows = still.clone().filter(col("prenatal_care_key").is_null());
                all_rows.push(birth_rows(rule, rows, None, vals(), &[]));
                all_units.push(birth_units(still));
            }
            Some((concat_all(all_rows)?, concat_all(all_units)?))
        }
        BirthRule::BirthWithoutHepb1 => {
            if !ctx.has_sources(&[VACCINATION]) {
                return Ok(None);
            }
            let units = b.lazy().filter(born_by(cfg.birth_without_hepb1.grace_days));
            let rows = units.clone().filter(col("__hepb1").is_null());
            Some((
                birth_rows(rule, rows, None, values(vec![birth_date()]), &[]),
                birth_units(units),
            ))
        }
        BirthRule::LateHepb1 => {
            if !ctx.has_sources(&[VACCINATION]) {
                return Ok(None);
            }
            let units = b.lazy().filter(
                col("__hepb1")
                    .is_not_null()
                    .and(col("__date").is_not_null()),
            );
            let rows = units
                .clone()
                .filter((col("__hepb1") - col("__date")).gt(lit(cfg.late_hepb1.max_days)));
            let vals = values(vec![
                birth_date(),
                kv("hepb1_date", date_text(col("__hepb1"))),
            ]);
            Some((
                birth_rows(rule, rows, Some("vaccination_date"), vals, &[]),
                birth_units(units),
            ))
        }
        BirthRule::LateHouseholdRegistration => {
            if !ctx.has_sources(&[HOUSEHOLD]) {
                return Ok(None);
            }
            let units = b.lazy().filter(
                key(HOUSEHOLD)
                    .is_not_null()
                    .and(col("__h_reg").is_not_null())
                    .and(col("__date").is_not_null()),
            );
            let rows = units.clone().filter(
                (col("__h_reg") - col("__date")).gt(lit(cfg.late_household_registration.max_days)),
            );
            let vals = values(vec![
                birth_date(),
                kv("registration_date", date_text(col("__h_reg"))),
            ]);
            Some((
                birth_rows(rule, rows, Some("registration_date"), vals, &[]),
                birth_units(units),
            ))
        }
        // The births stage decides each mismatch once (null: fewer than two values);
        // `birth_info_accuracy_rate` counts from the same outcome.
        BirthRule::SexMismatch => mismatch(rule, b, "sex", "sex_mismatch", "sex", false),
        BirthRule::BirthDateMismatch => {
            mismatch(rule, b, "birth_date", "birth_date_mismatch", "date", true)
        }
        BirthRule::MotherIdMismatch => mismatch(
            rule,
            b,
            "mother_id",
            "mother_id_mismatch",
            "mother_id",
            false,
        ),
        BirthRule::ChildOrderMismatch => child_order_mismatch(ctx, b)?,
        BirthRule::OutOfPolicyBirth => {
            let raw = ctx
                .births_raw
                .as_ref()
                .expect("births_raw is set with births");
            if !raw.has("policy_category") {
                return Err(ChecksError::MissingColumn {
                    table: "births".to_owned(),
                    column: "policy_category".to_owned(),
                    hint: "\nhint: disable `out_of_policy_birth` or pass the births of `poprecon_link::link`",
                });
            }
            let known = if raw.has("birth_order") {
                col("birth_order").is_not_null()
            } else {
                col("policy_category")
                    .neq(lit("undetermined"))
                    .fill_null(lit(false))
            };
            let units = b.lazy().filter(known);
            let rows = units.clone().filter(
                col("policy_category")
                    .eq(lit("second_outside"))
                    .or(col("policy_category").eq(lit("higher_outside")))
                    .fill_null(lit(false)),
            );
            let vals = values(vec![
                kv("birth_order", col("birth_order")),
                kv("policy_limit", col("policy_limit")),
                kv("policy_category", col("policy_category")),
            ]);
            Some((
                birth_rows(rule, rows, Some("birth_order"), vals, &[]),
                birth_units(units),
            ))
        }
        BirthRule::AmbiguousLink => ambiguous_link(ctx, b)?,
    })
}

/// A mismatch rule over the four birth-level sources: the births whose outcome column
/// `flag` is set are checked, those where it is true fire; `values` lists every source's
/// value (`<source>_<suffix>`).
fn mismatch(
    rule: RuleId,
    b: &Table,
    field: &str,
    flag: &str,
    suffix: &str,
    is_date: bool,
) -> Found {
    let units = b.lazy().filter(col(flag).is_not_null());
    let rows = units.clone().filter(col(flag));
    let parts = BIRTH_SOURCES
        .iter()
        .map(|s| {
            let c = col(format!("{s}_{suffix}"));
            kv(
                s,
                if is_date {
                    date_text(c.cast(DataType::Date).cast(DataType::Int32))
                } else {
                    c
                },
            )
        })
        .collect();
    Some((
        birth_rows(rule, rows, Some(field), values(parts), &[]),
        birth_units(units),
    ))
}

/// Vertical concatenation of frames with different columns: the union of their columns, in
/// order of first appearance, missing ones as nulls (polars' diagonal concatenation is a
/// feature this workspace does not build).
pub(crate) fn concat_all(frames: Vec<LazyFrame>) -> Result<LazyFrame, ChecksError> {
    let err = ChecksError::frame("discrepancies");
    if frames.is_empty() {
        // Typed and with a column, so that literals added later have no row to fill.
        let empty = DataFrame::new(
            0,
            vec![Column::new_empty("village".into(), &DataType::String)],
        )
        .map_err(&err)?;
        return Ok(empty.lazy());
    }
    let mut frames = frames;
    let mut columns: Vec<(PlSmallStr, DataType)> = Vec::new();
    for lf in &mut frames {
        let schema = lf.collect_schema().map_err(&err)?;
        for (name, dtype) in schema.iter() {
            match columns.iter_mut().find(|(n, _)| n == name) {
                Some((_, known)) if known == &DataType::Null => *known = dtype.clone(),
                Some(_) => {}
                None => columns.push((name.clone(), dtype.clone())),
            }
        }
    }
    let mut aligned = Vec::with_capacity(frames.len());
    for mut lf in frames {
        let schema = lf.collect_schema().map_err(&err)?;
        let select: Vec<Expr> = columns
            .iter()
            .map(|(name, dtype)| {
                if schema.contains(name) {
                    col(name.clone()).cast(dtype.clone())
                } else {
                    null(dtype.clone()).alias(name.clone())
                }
            })
            .collect();
        aligned.push(lf.select(select));
    }
    concat(aligned, UnionArgs::default()).map_err(err)
}

/// A value of the pregnancy's first child: the birth of the lowest computed order (the
/// first-born of twins), on a tie the smallest birth id.
fn first_child(value: Expr) -> Expr {
    value
        .sort_by(
            [col("birth_order"), col("birth_id")],
            SortMultipleOptions::default().with_nulls_last(true),
        )
        .first()
}

/// `child_order_mismatch` (domain.md §8.14): each birth registration of the births against
/// the computed order of the pregnancy's first child (the earliest-born births of the
/// registration, the lowest order among them), reported on that child's birth.
fn child_order_mismatch(ctx: &Ctx<'_>, b: &Table) -> Result<Found, ChecksError> {
    let rule = RuleId::ChildOrderMismatch;
    let Some(reg) = ctx.source(REGISTRATION) else {
        return Ok(None);
    };
    let raw = ctx
        .births_raw
        .as_ref()
        .expect("births_raw is set with births");
    for column in ["birth_order", "birth_registration_key"] {
        if !raw.has(column) {
            return Err(ChecksError::MissingColumn {
                table: "births".to_owned(),
                column: column.to_owned(),
                hint: "\nhint: disable `child_order_mismatch` or pass the births of `poprecon_link::link`",
            });
        }
    }
    // The pregnancy's first child: the births of the registration born first (twins share
    // a date), the lowest order among them. Done with a join rather than a filter on a
    // group's minimum inside the aggregation, a shape polars' common-subexpression pass
    // mishandles.
    let of_reg = b
        .lazy()
        .filter(col(key_column(REGISTRATION)).is_not_null())
        .select([
            col(key_column(REGISTRATION)).alias("__key"),
            col("__date"),
            col("birth_order"),
            col("birth_id"),
            col("village"),
        ]);
    let first_dates = of_reg
        .clone()
        .group_by([col("__key").alias("__fk")])
        .agg([col("__date").min().alias("__first")]);
    let pregnancies = of_reg
        .join(
            first_dates,
            [col("__key"), col("__date")],
            [col("__fk"), col("__first")],
            JoinArgs::new(JoinType::Inner),
        )
        .group_by([col("__key")])
        .agg([
            col("birth_order").min().alias("__computed"),
            col("birth_order").null_count().alias("__undetermined"),
            first_child(col("birth_id")).alias("__birth"),
            first_child(col("village")).alias("__village"),
        ]);
    let declared = reg
        .lazy()
        .sort(["__key", "__row"], SortMultipleOptions::default())
        .group_by([col("__key").alias("__rk")])
        .agg([reg.int("child_order").first().alias("__declared")]);
    let units = pregnancies
        .inner_join(declared, col("__key"), col("__rk"))
        .filter(
            col("__declared")
                .is_not_null()
                .and(col("__computed").is_not_null())
                .and(col("__undetermined").eq(lit(0))),
        );
    let rows = units
        .clone()
        .filter(col("__declared").neq(col("__computed")))
        .select([
            col("__village").alias("village"),
            col("__birth").alias("birth_id"),
            col("__key").alias(key_column(REGISTRATION)),
            lit("child_order").alias("field"),
            values(vec![
                kv("declared", col("__declared")),
                kv("computed", col("__computed")),
            ])
            .alias("values"),
            material(
                rule.as_str(),
                Some("child_order"),
                vec![kv(REGISTRATION, col("__key"))],
            )
            .alias("__material"),
        ]);
    Ok(Some((
        rows,
        units.select([col("__village").alias("village")]),
    )))
}

/// `ambiguous_link`: each record of linkage's `ambiguous` table that matched several
/// candidates equally well (`kind` = `tie`), with the candidates side by side.
fn ambiguous_link(ctx: &Ctx<'_>, b: &Table) -> Result<Found, ChecksError> {
    let rule = RuleId::AmbiguousLink;
    let Some(amb) = ctx.input.ambiguous else {
        return Ok(None);
    };
    for column in [
        "contested_source",
        "contested_key",
        "kind",
        "candidate_source",
        "candidate_key",
    ] {
        if amb.column(column).is_err() {
            return Err(ChecksError::MissingColumn {
                table: "ambiguous".to_owned(),
                column: column.to_owned(),
                hint: "\nhint: pass the `ambiguous` table of `poprecon_link::link`",
            });
        }
    }
    let amb = Table {
        name: "ambiguous".to_owned(),
        df: amb.clone(),
    };
    let candidate = concat_str(
        [
            col("candidate_source").cast(DataType::String),
            lit("="),
            col("candidate_key").cast(DataType::String),
        ],
        "",
        false,
    );
    let contested = amb
        .lazy()
        .filter(col("kind").cast(DataType::String).eq(lit("tie")))
        .group_by([
            col("contested_source")
                .cast(DataType::String)
                .alias("__src"),
            col("contested_key").cast(DataType::String).alias("__key"),
        ])
        .agg([
            amb.text("contested_birth_id").min().alias("__birth"),
            candidate
                .sort(SortOptions::default())
                .str()
                .join(";", true)
                .alias("__candidates"),
        ]);
    let villages = b
        .lazy()
        .select([col("birth_id").alias("__vb"), col("village").alias("__bv")]);
    let rows = contested.left_join(villages, col("__birth"), col("__vb"));
    let mut cols = vec![
        col("__bv").alias("village"),
        col("__birth").alias("birth_id"),
    ];
    for s in crate::SOURCES {
        cols.push(
            when(col("__src").eq(lit(s)))
                .then(col("__key"))
                .otherwise(null(DataType::String))
                .alias(key_column(s)),
        );
    }
    cols.extend([
        null(DataType::String).alias("field"),
        col("__candidates").alias("values"),
        material(
            rule.as_str(),
            None,
            vec![concat_str(
                [col("__src"), lit("="), col("__key")],
                "",
                false,
            )],
        )
        .alias("__material"),
    ]);
    Ok(Some((rows.select(cols), birth_units(b.lazy()))))
}

/// A local rule: its SQL over `births` (as linkage gave it); each row is a discrepancy of
/// the birth in its `birth_id`, the other columns are its values.
fn local_rule(ctx: &Ctx<'_>, rule: &crate::LocalRule) -> Result<Found, ChecksError> {
    let (Some(raw), Some(b)) = (&ctx.births_raw, &ctx.births) else {
        return Ok(None);
    };
    let err = |message: String| ChecksError::LocalRule {
        id: rule.id.clone(),
        message,
    };
    let mut sql = polars::sql::SQLContext::new();
    sql.register("births", raw.lazy());
    let mut found = sql
        .execute(&rule.sql)
        .map_err(|e| err(first_line(&e.to_string())))?;
    let schema = found
        .collect_schema()
        .map_err(|e| err(first_line(&e.to_string())))?;
    if !schema.contains("birth_id") {
        return Err(err(
            "the query returns no `birth_id` column\nhint: write `SELECT birth_id, … FROM births WHERE …`".to_owned(),
        ));
    }
    let shown: Vec<Expr> = schema
        .iter_names()
        .filter(|n| n.as_str() != "birth_id")
        .map(|n| kv(n.as_str(), col(n.clone())))
        .collect();
    let found = found
        .select([
            col("birth_id").cast(DataType::String).alias("__lb"),
            values(shown).alias("__values"),
        ])
        .unique_stable(Some(cols(["__lb"])), UniqueKeepStrategy::First);
    let rows = b.lazy().inner_join(found, col("birth_id"), col("__lb"));
    let field = rule.field.as_deref();
    let mut cols_out = vec![col("village"), col("birth_id")];
    cols_out.extend(BIRTH_SOURCES.iter().map(|s| col(key_column(s))));
    cols_out.extend([
        field_lit(field).alias("field"),
        col("__values").alias("values"),
        material(&rule.id, field, vec![col("__anchor")]).alias("__material"),
    ]);
    Ok(Some((rows.select(cols_out), birth_units(b.lazy()))))
}

/// The first line of a message (SQL errors name the query's columns, not data values).
fn first_line(text: &str) -> String {
    text.lines()
        .next()
        .unwrap_or_default()
        .trim_end()
        .to_owned()
}
