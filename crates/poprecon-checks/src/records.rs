//! The record-level rules (domain.md §8.13): they cover every accepted record of a source,
//! not only those of the period's births. `delivery_without_prenatal_booking` is here too:
//! its unit is the delivery row (§8.4), live or stillborn.

use std::cmp::Ordering;
use std::collections::HashMap;

use polars::prelude::*;

use crate::catalogue::RuleId;
use crate::error::ChecksError;
use crate::frames::{
    Ctx, DELIVERY, HOUSEHOLD, MARRIAGE, PRENATAL, REGISTRATION, SCHOOL, SOCIAL_SECURITY, Table,
    VACCINATION, key_column, key_is_id, null,
};
use crate::rules::{Found, concat_all, date_text, dated_match, field_lit, kv, material, values};

/// Where a source's record is attributed when it belongs to no birth (domain.md §8.12):
/// its own village field, then the active household village of these persons.
fn places(source: &str) -> (Option<&'static str>, &'static [&'static str]) {
    match source {
        REGISTRATION => (Some("residence_village"), &["woman_id", "man_id"]),
        PRENATAL | DELIVERY => (Some("residence_village"), &["mother_id"]),
        VACCINATION => (Some("residence_village"), &["child_id", "mother_id"]),
        HOUSEHOLD => (Some("village"), &[]),
        SCHOOL | SOCIAL_SECURITY => (None, &["person_id"]),
        MARRIAGE => (None, &["woman_id", "man_id"]),
        // Certificates: the child has no ID on them; the mother's, then the father's.
        _ => (None, &["mother_id", "father_id"]),
    }
}

/// A source's rows with `__village` and `__birth`.
fn attributed(ctx: &Ctx<'_>, t: &Table, lf: LazyFrame) -> LazyFrame {
    let (own, persons) = places(&t.name);
    ctx.attribute(lf, t, own, persons)
}

/// [`attributed`] over a whole source, computed once per run and shared by the rules that
/// read every record (their plans and denominators would otherwise each repeat the joins).
fn attributed_all(ctx: &Ctx<'_>, t: &Table) -> LazyFrame {
    if let Some(df) = ctx.attributed.borrow().get(t.name.as_str()) {
        return df.clone().lazy();
    }
    let lf = attributed(ctx, t, t.lazy());
    match lf.clone().collect() {
        Ok(df) => {
            ctx.attributed
                .borrow_mut()
                .insert(t.name.clone(), df.clone());
            df.lazy()
        }
        // The error surfaces where the plan is collected, with its table named.
        Err(_) => lf,
    }
}

/// The first row of each key (in row order).
fn first_per_key(t: &Table) -> LazyFrame {
    t.lazy()
        .sort(["__key", "__row"], SortMultipleOptions::default())
        .unique_stable(Some(cols(["__key"])), UniqueKeepStrategy::First)
}

fn record_rows(
    rule: RuleId,
    lf: LazyFrame,
    source: &str,
    field: Option<&str>,
    vals: Expr,
    extra: Vec<Expr>,
) -> LazyFrame {
    let mut parts = vec![kv(source, col("__key"))];
    parts.extend(extra);
    lf.select([
        col("__village").alias("village"),
        col("__birth").alias("birth_id"),
        col("__key").alias(key_column(source)),
        field_lit(field).alias("field"),
        vals.alias("values"),
        material(rule.as_str(), field, parts).alias("__material"),
    ])
}

fn record_units(lf: LazyFrame) -> LazyFrame {
    lf.select([col("__village").alias("village")])
}

/// `late_prenatal_booking` (§8.19): every booking at the set number of completed weeks or
/// later.
pub(crate) fn late_prenatal_booking(ctx: &Ctx<'_>) -> Found {
    let t = ctx.source(PRENATAL)?;
    let weeks = t.int("booking_gestational_weeks");
    let units = attributed(ctx, t, first_per_key(t))
        .with_column(weeks.alias("__weeks"))
        .filter(col("__weeks").is_not_null());
    let rows = units
        .clone()
        .filter(col("__weeks").gt_eq(lit(ctx.cfg.late_prenatal_booking.weeks)));
    let field = "booking_gestational_weeks";
    Some((
        record_rows(
            RuleId::LatePrenatalBooking,
            rows,
            PRENATAL,
            Some(field),
            values(vec![kv(PRENATAL, col("__weeks"))]),
            vec![],
        ),
        record_units(units),
    ))
}

/// `registration_without_marriage` (§8.15): no marriage record (not a divorce) of the same
/// man and woman dated strictly before the registration. IDs are compared as the valid ID,
/// else as typed.
pub(crate) fn registration_without_marriage(ctx: &Ctx<'_>) -> Found {
    let (r, m) = (ctx.source(REGISTRATION)?, ctx.source(MARRIAGE)?);
    let units = attributed(ctx, r, first_per_key(r)).with_columns([
        r.days("registration_date").alias("__rd"),
        r.any_id("man_id").alias("__man"),
        r.any_id("woman_id").alias("__woman"),
    ]);
    let marriages = m
        .lazy()
        .filter(m.text("kind").eq(lit("marriage")).fill_null(lit(false)))
        .select([
            m.any_id("man_id").alias("__mm"),
            m.any_id("woman_id").alias("__mw"),
            m.days("registration_date").alias("__md"),
        ]);
    let married = units
        .clone()
        .join(
            marriages,
            [col("__man"), col("__woman")],
            [col("__mm"), col("__mw")],
            JoinArgs::new(JoinType::Inner),
        )
        .filter(col("__md").lt(col("__rd")))
        .select([col("__key").alias("__married")])
        .unique(None, UniqueKeepStrategy::Any);
    let rows = units
        .clone()
        .anti_join(married, col("__key"), col("__married"));
    Some((
        record_rows(
            RuleId::RegistrationWithoutMarriage,
            rows,
            REGISTRATION,
            None,
            values(vec![kv("registration_date", date_text(col("__rd")))]),
            vec![],
        ),
        record_units(units),
    ))
}

/// `maternity_claim_without_delivery` (§8.16): one row per claim (person and claim date);
/// any delivery row of that woman, live or stillborn, within ± the window counts.
pub(crate) fn maternity_claim_without_delivery(ctx: &Ctx<'_>) -> Found {
    let (s, d) = (ctx.source(SOCIAL_SECURITY)?, ctx.source(DELIVERY)?);
    let window = ctx.cfg.maternity_claim_without_delivery.window_days;
    let units = attributed_all(ctx, s)
        .with_columns([
            s.days("maternity_claim_date").alias("__claim"),
            s.any_id("person_id").alias("__pid"),
        ])
        .filter(col("__claim").is_not_null())
        .sort(
            ["__key", "__claim", "__row"],
            SortMultipleOptions::default(),
        )
        .unique_stable(Some(cols(["__key", "__claim"])), UniqueKeepStrategy::First);
    let deliveries = d
        .lazy()
        .select([
            d.any_id("mother_id").alias("__dm"),
            d.days("delivery_date").alias("__dd"),
        ])
        .filter(col("__dm").is_not_null());
    let delivered = units
        .clone()
        .inner_join(deliveries, col("__pid"), col("__dm"))
        .filter(
            col("__dd")
                .gt_eq(col("__claim") - lit(window))
                .and(col("__dd").lt_eq(col("__claim") + lit(window))),
        )
        .select([col("__key").alias("__dk"), col("__claim").alias("__dc")])
        .unique(None, UniqueKeepStrategy::Any);
    let rows = units.clone().join(
        delivered,
        [col("__key"), col("__claim")],
        [col("__dk"), col("__dc")],
        JoinArgs::new(JoinType::Anti),
    );
    let claim = date_text(col("__claim"));
    Some((
        record_rows(
            RuleId::MaternityClaimWithoutDelivery,
            rows,
            SOCIAL_SECURITY,
            Some("maternity_claim_date"),
            values(vec![kv(SOCIAL_SECURITY, claim.clone())]),
            vec![kv("claim", claim)],
        ),
        record_units(units),
    ))
}

/// `student_without_household_registration` (§8.17): no household row of any status with
/// the student's ID (valid, else as typed); a student without a valid ID is also found by
/// name and birth date.
pub(crate) fn student_without_household_registration(ctx: &Ctx<'_>) -> Found {
    let (s, h) = (ctx.source(SCHOOL)?, ctx.source(HOUSEHOLD)?);
    let units = attributed(ctx, s, first_per_key(s)).with_columns([
        s.any_id("person_id").alias("__pid"),
        s.valid_id("person_id").alias("__valid"),
        s.text("name").alias("__name"),
        s.days("birth_date").alias("__bd"),
    ]);
    let ids = h
        .lazy()
        .select([h.any_id("person_id").alias("__hp")])
        .filter(col("__hp").is_not_null())
        .unique(None, UniqueKeepStrategy::Any);
    let mut rows = units.clone().anti_join(ids, col("__pid"), col("__hp"));
    if ctx
        .cfg
        .student_without_household_registration
        .match_name_and_birth_date
    {
        let people = h
            .lazy()
            .select([
                h.text("name").alias("__hn"),
                h.days("birth_date").alias("__hb"),
            ])
            .filter(col("__hn").is_not_null().and(col("__hb").is_not_null()))
            .unique(None, UniqueKeepStrategy::Any);
        let by_name = units
            .clone()
            .filter(col("__valid").is_null())
            .join(
                people,
                [col("__name"), col("__bd")],
                [col("__hn"), col("__hb")],
                JoinArgs::new(JoinType::Semi),
            )
            .select([col("__key").alias("__nk")]);
        rows = rows.anti_join(by_name, col("__key"), col("__nk"));
    }
    Some((
        record_rows(
            RuleId::StudentWithoutHouseholdRegistration,
            rows,
            SCHOOL,
            None,
            null(DataType::String),
            vec![],
        ),
        record_units(units),
    ))
}

/// `delivery_without_prenatal_booking`: each delivery row of the period (one per key,
/// extra copies excluded; stillbirths too unless switched off) with no booking of the
/// mother within the window before it. The mother is the delivery's valid ID, else the
/// birth's.
pub(crate) fn delivery_without_prenatal_booking(ctx: &Ctx<'_>) -> Result<Found, ChecksError> {
    let (Some(d), Some(p)) = (ctx.source(DELIVERY), ctx.source(PRENATAL)) else {
        return Ok(None);
    };
    let s = &ctx.cfg.delivery_without_prenatal_booking;
    let extras = duplicates(ctx, d)?;
    let copies = extras
        .lazy()
        .filter(col("__key").neq(col("__kept")))
        .select([col("__key").alias("__copy")])
        .unique(None, UniqueKeepStrategy::Any);
    let mut lf = first_per_key(d)
        .anti_join(copies, col("__key"), col("__copy"))
        .with_column(d.days("delivery_date").alias("__dd"))
        .filter(
            col("__dd")
                .gt_eq(lit(ctx.period.0))
                .and(col("__dd").lt_eq(lit(ctx.period.1))),
        );
    if !s.include_stillbirths {
        lf = lf.filter(
            d.text("outcome")
                .neq(lit("stillbirth"))
                .fill_null(lit(true)),
        );
    }
    let mut mother = d.valid_id("mother_id");
    if let Some(b) = &ctx.births {
        let of_birth = b.lazy().select([
            col(key_column(DELIVERY)).alias("__bk"),
            col("__mother").alias("__bmother"),
        ]);
        lf = lf.left_join(of_birth, col("__key"), col("__bk"));
        mother = coalesce(&[mother, col("__bmother")]);
    }
    let units = attributed(ctx, d, lf).with_column(mother.alias("__mother_id"));
    let booked = dated_match(
        units.clone().select([
            col("__key").alias("__lk"),
            col("__mother_id").alias("__lm"),
            col("__dd").alias("__ld"),
        ]),
        p.lazy().select([
            p.valid_id("mother_id").alias("__rm"),
            p.days("booking_date").alias("__rd"),
        ]),
        s.days_before,
        0,
    );
    let rows = units.clone().anti_join(booked, col("__key"), col("__lk"));
    Ok(Some((
        record_rows(
            RuleId::DeliveryWithoutPrenatalBooking,
            rows,
            DELIVERY,
            None,
            values(vec![kv("delivery_date", date_text(col("__dd")))]),
            vec![],
        ),
        record_units(units),
    )))
}

/// Sources whose key names one record: the same key twice is the same record twice.
fn unique_key(source: &str) -> bool {
    !matches!(source, VACCINATION | HOUSEHOLD | SOCIAL_SECURITY)
}

/// Record keys in their natural order, as linkage orders them: all-digit keys by number,
/// others as text.
pub(crate) fn key_order(a: &str, b: &str) -> Ordering {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    if digits(a) && digits(b) {
        let (ta, tb) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
        ta.len().cmp(&tb.len()).then(ta.cmp(tb)).then(a.cmp(b))
    } else {
        a.cmp(b)
    }
}

/// The extra copies of a source (domain.md §8.18): `__key` (the copy's key), `__kept` (the
/// kept record's key), `__n` (1, 2, … among copies of the same key and kept key),
/// `__village` and `__birth` (the kept record's).
///
/// In sources whose key names one record (registrations, bookings, deliveries,
/// certificates, school and marriage records) two rows are the same record when they have
/// the same key, or when every field but the key and ingest's bookkeeping is equal (the
/// same event entered again under a new number). Where a key has several rows (vaccination
/// doses, household moves, insurance schemes) the key names a person: two rows are the
/// same record only when they are equal, key included (two people of the same name and
/// scheme, or twins' identical dose rows, are not copies). Of each group the record with
/// the smaller key is kept.
pub(crate) fn duplicates(ctx: &Ctx<'_>, t: &Table) -> Result<DataFrame, ChecksError> {
    let source = t.name.as_str();
    let key = crate::frames::key_field(source);
    let id_input = format!("{key}_input");
    let skip = |c: &str| {
        c == key
            || (key_is_id(source) && c == id_input)
            || matches!(
                c,
                "source_file" | "source_line" | "invalid_fields" | "record_key" | "__row" | "__key"
            )
    };
    let mut columns: Vec<Expr> =
        t.df.get_column_names()
            .into_iter()
            .filter(|c| !skip(c.as_str()))
            .map(|c| col(c.clone()))
            .collect();
    if !unique_key(source) {
        columns.push(col("__key"));
    }
    // Copies are found by grouping on the columns themselves (hashed, no text built per
    // row); only the few candidates get their content as one text, for ordering.
    let content = if columns.is_empty() {
        lit("")
    } else {
        concat_str(
            columns
                .iter()
                .map(|c| c.clone().cast(DataType::String).fill_null(lit("\u{0}")))
                .collect::<Vec<_>>(),
            "\u{1f}",
            false,
        )
    };
    let err = ChecksError::frame(source);
    let mut candidate = if columns.is_empty() {
        len().over([lit(0)]).map_err(&err)?.gt(lit(1))
    } else {
        len().over(columns).map_err(&err)?.gt(lit(1))
    };
    if unique_key(source) {
        candidate = candidate.or(len().over([col("__key")]).map_err(&err)?.gt(lit(1)));
    }
    let cands = attributed_all(ctx, t)
        .filter(col("__key").is_not_null().and(candidate))
        .with_column(content.alias("__content"))
        .select([
            col("__key"),
            col("__content"),
            col("__row").cast(DataType::Int64),
            col("__village"),
            col("__birth"),
        ])
        .collect()
        .map_err(ChecksError::frame(source))?;
    // The candidates are few (copies and their originals): grouped and ordered here, where
    // linkage's key order can be applied.
    let strs = |name: &str| -> Result<Vec<Option<String>>, ChecksError> {
        let c = cands.column(name).map_err(ChecksError::frame(source))?;
        let ca = c.str().map_err(ChecksError::frame(source))?;
        Ok(ca.iter().map(|v| v.map(str::to_owned)).collect())
    };
    let keys = strs("__key")?;
    let contents = strs("__content")?;
    let villages = strs("__village")?;
    let births = strs("__birth")?;
    let rows: Vec<i64> = cands
        .column("__row")
        .and_then(|c| {
            c.i64()
                .map(|ca| ca.iter().map(Option::unwrap_or_default).collect())
        })
        .map_err(ChecksError::frame(source))?;
    let n = keys.len();
    let key_of = |i: usize| keys[i].as_deref().unwrap_or_default();
    let content_of = |i: usize| contents[i].as_deref().unwrap_or_default();
    let mut order: Vec<usize> = (0..n).collect();
    let by_key = |a: &usize, b: &usize| {
        key_order(key_of(*a), key_of(*b))
            .then_with(|| content_of(*a).cmp(content_of(*b)))
            .then(rows[*a].cmp(&rows[*b]))
    };
    order.sort_by(by_key);
    // (copy, kept)
    let mut extras: Vec<(usize, usize)> = Vec::new();
    let mut survivors: Vec<usize> = Vec::new();
    if unique_key(source) {
        for (pos, &i) in order.iter().enumerate() {
            match pos.checked_sub(1).map(|p| order[p]) {
                Some(prev) if key_of(prev) == key_of(i) => {
                    let kept = *survivors.last().expect("a survivor precedes its copies");
                    extras.push((i, kept));
                }
                _ => survivors.push(i),
            }
        }
    } else {
        survivors = order.clone();
    }
    let mut first_of: HashMap<&str, usize> = HashMap::new();
    for &i in &survivors {
        match first_of.get(content_of(i)) {
            Some(&kept) => extras.push((i, kept)),
            None => {
                first_of.insert(content_of(i), i);
            }
        }
    }
    extras.sort_by(|a, b| by_key(&a.0, &b.0));
    let mut counts: HashMap<(&str, &str), u32> = HashMap::new();
    let mut out_key = Vec::with_capacity(extras.len());
    let mut out_kept = Vec::with_capacity(extras.len());
    let mut out_n = Vec::with_capacity(extras.len());
    let mut out_village = Vec::with_capacity(extras.len());
    let mut out_birth = Vec::with_capacity(extras.len());
    for &(i, kept) in &extras {
        let c = counts.entry((key_of(i), key_of(kept))).or_default();
        *c += 1;
        out_key.push(key_of(i));
        out_kept.push(key_of(kept));
        out_n.push(*c);
        out_village.push(villages[kept].as_deref());
        out_birth.push(births[kept].as_deref());
    }
    DataFrame::new(
        extras.len(),
        vec![
            Column::new("__key".into(), out_key),
            Column::new("__kept".into(), out_kept),
            Column::new("__n".into(), out_n),
            Column::new("__village".into(), out_village),
            Column::new("__birth".into(), out_birth),
        ],
    )
    .map_err(ChecksError::frame(source))
}

/// `duplicate_record` (§8.18): one row per extra copy, in each source checked.
pub(crate) fn duplicate_record(ctx: &Ctx<'_>) -> Result<Found, ChecksError> {
    let rule = RuleId::DuplicateRecord;
    let mut rows = Vec::new();
    let mut units = Vec::new();
    for source in crate::SOURCES {
        if !ctx.cfg.duplicate_record.sources.iter().any(|s| s == source) {
            continue;
        }
        let Some(t) = ctx.source(source) else {
            continue;
        };
        let extras = duplicates(ctx, t)?;
        rows.push(record_rows(
            rule,
            extras.lazy(),
            source,
            None,
            values(vec![kv("kept", col("__kept"))]),
            vec![kv("kept", col("__kept")), kv("copy", col("__n"))],
        ));
        units.push(record_units(attributed_all(ctx, t)));
    }
    if rows.is_empty() {
        return Ok(None);
    }
    Ok(Some((concat_all(rows)?, concat_all(units)?)))
}

/// Ingest reasons reported as `invalid_value` besides any flag on a resident-ID field
/// (domain.md §8.7): an unknown or malformed village code, an impossible optional date.
const INVALID_REASONS: [&str; 3] = ["unknown_village", "invalid_village", "impossible_date"];

/// `invalid_value` (§8.7): one row per source, record key and field flagged by ingest with
/// a reportable reason; `values` gives the reason and the value as given (IDs, villages).
pub(crate) fn invalid_value(ctx: &Ctx<'_>) -> Result<Found, ChecksError> {
    let rule = RuleId::InvalidValue;
    let mut reasons: Vec<&str> = INVALID_REASONS.to_vec();
    reasons.extend(
        ctx.cfg
            .invalid_value
            .extra_reasons
            .iter()
            .map(String::as_str),
    );
    let mut rows = Vec::new();
    let mut units = Vec::new();
    for (source, t) in &ctx.sources {
        let lf = attributed_all(ctx, t);
        units.push(record_units(lf.clone()));
        if !t.has("invalid_fields") {
            continue;
        }
        let id_fields: Vec<String> =
            t.df.get_column_names()
                .into_iter()
                .filter_map(|c| c.as_str().strip_suffix("_input").map(str::to_owned))
                .filter(|f| t.has(f))
                .collect();
        let village_fields: Vec<&str> = ["residence_village", "village"]
            .into_iter()
            .filter(|f| t.has(f))
            .collect();
        let field = col("__field");
        let mut reportable = lit(false);
        for r in &reasons {
            reportable = reportable.or(col("__reason").eq(lit(*r)));
        }
        let mut shown = Vec::new();
        for f in &id_fields {
            reportable = reportable.or(field.clone().eq(lit(f.clone())));
            shown.push(
                when(field.clone().eq(lit(f.clone())))
                    .then(t.text(&format!("{f}_input")))
                    .otherwise(null(DataType::String)),
            );
        }
        for f in &village_fields {
            shown.push(
                when(field.clone().eq(lit(*f)))
                    .then(t.text(f))
                    .otherwise(null(DataType::String)),
            );
        }
        let shown = if shown.is_empty() {
            null(DataType::String)
        } else {
            coalesce(&shown)
        };
        let flags = lf
            .filter(col("invalid_fields").is_not_null())
            .with_column(
                col("invalid_fields")
                    .cast(DataType::String)
                    .str()
                    .split(lit(";"))
                    .alias("__flag"),
            )
            .explode(
                cols(["__flag"]),
                ExplodeOptions {
                    empty_as_null: false,
                    keep_nulls: false,
                },
            )
            .with_column(col("__flag").str().split_exact(lit(":"), 1).alias("__fr"))
            .with_columns([
                col("__fr")
                    .struct_()
                    .field_by_name("field_0")
                    .alias("__field"),
                col("__fr")
                    .struct_()
                    .field_by_name("field_1")
                    .alias("__reason"),
            ])
            .filter(reportable.fill_null(lit(false)))
            .sort(
                ["__key", "__field", "__row"],
                SortMultipleOptions::default(),
            )
            .unique_stable(Some(cols(["__key", "__field"])), UniqueKeepStrategy::First);
        rows.push(
            flags.select([
                col("__village").alias("village"),
                col("__birth").alias("birth_id"),
                col("__key").alias(key_column(source)),
                col("__field").alias("field"),
                values(vec![kv("reason", col("__reason")), kv(source, shown)]).alias("values"),
                concat_str(
                    [lit(rule.as_str()), col("__field"), kv(source, col("__key"))],
                    "|",
                    true,
                )
                .alias("__material"),
            ]),
        );
    }
    if units.is_empty() {
        return Ok(None);
    }
    Ok(Some((concat_all(rows)?, concat_all(units)?)))
}
