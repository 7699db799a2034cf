//! The record-level rules (domain.md §8.13): they cover every accepted record of a source,
//! not only those of the period's births. `id_number_conflict` (§8.6) is here too: it
//! checks every record of every source, one row per record and ID field.

use std::collections::HashMap;

use polars::prelude::*;
use poprecon_model::ResidentId;

use crate::catalogue::RuleId;
use crate::error::ChecksError;
use crate::frames::{
    CERTIFICATE, Ctx, DELIVERY, HOUSEHOLD, MARRIAGE, PRENATAL, REGISTRATION, RegisteredPersons,
    SCHOOL, SOCIAL_SECURITY, Table, VACCINATION, attribute_rows, key_column, key_is_id, locked,
    null, on_cores,
};
use crate::rules::{Found, concat_all, date_text, field_lit, kv, material, values};

/// Where a source's record is attributed when it belongs to no birth (domain.md §8.12):
/// its own village field, then the active household village of these persons.
pub(crate) fn places(source: &str) -> (Option<&'static str>, &'static [&'static str]) {
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

/// A whole source with `__village` and `__birth` (domain.md §8.12), computed once per run
/// and shared by the rules that read every record (their plans and denominators would
/// otherwise each repeat the attribution).
///
/// `__village` and `__birth` are made in row order ([`Ctx::attribute_all`]) and set beside
/// the source's own columns, which are shared, not copied (a join would gather every column
/// of the registry's millions of rows again).
fn attributed_all(ctx: &Ctx<'_>, t: &Table) -> Result<LazyFrame, ChecksError> {
    if let Some(df) = locked(&ctx.attributed).get(t.name.as_str()) {
        return Ok(df.clone().lazy());
    }
    let df = attributed_source(ctx.births.as_ref(), ctx.registered_persons()?, t)?;
    locked(&ctx.attributed).insert(t.name.clone(), df.clone());
    Ok(df.lazy())
}

/// A source's own columns with `__village` and `__birth` beside them.
fn attributed_source(
    births: Option<&Table>,
    active: &RegisteredPersons,
    t: &Table,
) -> Result<DataFrame, ChecksError> {
    let started = std::time::Instant::now();
    let (own, persons) = places(&t.name);
    let placed = attribute_rows(births, active, t, own, persons)?;
    let mut df = t.df.clone();
    df.hstack_mut(placed.columns())
        .map_err(ChecksError::frame(&t.name))?;
    tracing::debug!(
        source = t.name.as_str(),
        seconds = started.elapsed().as_secs_f64(),
        "attributed"
    );
    Ok(df)
}

/// [`attributed_all`] of every source at once, the sources spread over as many threads as
/// the machine has cores (largest first): the record-level rules read them all.
pub(crate) fn attribute_sources(ctx: &Ctx<'_>) -> Result<(), ChecksError> {
    let active = ctx.registered_persons()?;
    let births = ctx.births.as_ref();
    let mut todo: Vec<&Table> = {
        let done = locked(&ctx.attributed);
        ctx.sources
            .values()
            .filter(|t| !done.contains_key(t.name.as_str()))
            .collect()
    };
    todo.sort_by_key(|t| std::cmp::Reverse(t.df.height()));
    let done = on_cores(&todo, |t| {
        (t.name.clone(), attributed_source(births, active, t))
    });
    let mut cache = locked(&ctx.attributed);
    for (name, df) in done {
        cache.insert(name, df?);
    }
    Ok(())
}

/// The first row of each key (in row order) of [`attributed_all`]: a record's village and
/// birth are its first row's.
fn first_per_key(ctx: &Ctx<'_>, t: &Table) -> Result<LazyFrame, ChecksError> {
    Ok(attributed_all(ctx, t)?
        .sort(["__key", "__row"], SortMultipleOptions::default())
        .unique_stable(Some(cols(["__key"])), UniqueKeepStrategy::First))
}

/// A rule's base (its records, attributed), computed once: the rule's rows and its
/// denominator both read it, and as two plans they would each repeat the joins of the
/// attribution. An error is left to surface where the plan is collected.
fn computed_once(lf: LazyFrame) -> LazyFrame {
    match lf.clone().collect() {
        Ok(df) => df.lazy(),
        Err(_) => lf,
    }
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

/// Units of [`record_units`] counted per village (`village`, `__n`).
fn count_per_village(units: LazyFrame) -> LazyFrame {
    units.group_by([col("village")]).agg([len().alias("__n")])
}

/// Every record of a source as units: its rows counted per village (`village`, `__n`), once
/// per run, for the rules whose units are all of a source's rows.
fn all_units(ctx: &Ctx<'_>, t: &Table) -> Result<LazyFrame, ChecksError> {
    if let Some(df) = locked(&ctx.village_counts).get(t.name.as_str()) {
        return Ok(df.clone().lazy());
    }
    let err = ChecksError::frame(&t.name);
    let all = attributed_all(ctx, t)?.collect().map_err(&err)?;
    let villages = all.column("__village").map_err(&err)?.str().map_err(&err)?;
    let mut counts: PlHashMap<Option<&str>, IdxSize> = PlHashMap::new();
    for v in villages.iter() {
        *counts.entry(v).or_default() += 1;
    }
    let (names, n): (Vec<Option<&str>>, Vec<IdxSize>) = counts.into_iter().unzip();
    let mut df = DataFrame::new(
        names.len(),
        vec![
            Column::new("village".into(), names),
            Column::new("__n".into(), n),
        ],
    )
    .map_err(&err)?;
    // The registry's rows not held (see `registry::narrow_household`) are units too, as
    // are a narrowed source's (`narrow::SourceScan`).
    if t.name == HOUSEHOLD
        && let Some(rest) = ctx.input.household_rest
    {
        df.vstack_mut(&rest.all_units().map_err(&err)?)
            .map_err(&err)?;
    }
    if let Some(rest) = ctx.input.source_rests.get(t.name.as_str()) {
        df.vstack_mut(&rest.all_units().map_err(&err)?)
            .map_err(&err)?;
    }
    locked(&ctx.village_counts).insert(t.name.clone(), df.clone());
    Ok(df.lazy())
}

/// `late_prenatal_booking` (§8.19): every booking at the set number of completed weeks or
/// later.
/// The stillbirths' deliveries of the births stage (domain.md §8.4), attributed by §8.12:
/// the birth's village where a births table given by hand holds the row (linkage joins live
/// births only), else the row's residence village, else the mother's active household
/// village. Columns `__key`, `__birth`, `__village`, `__dd` (delivery date as days) and
/// `prenatal_care_key` (her booking, found by the births stage). `None` without them.
pub(crate) fn stillbirth_deliveries(ctx: &Ctx<'_>) -> Option<LazyFrame> {
    let still = ctx.input.stillbirths?;
    let key = key_column(DELIVERY);
    let mut lf = still.clone().lazy().select([
        col(&key).cast(DataType::String).alias("__key"),
        col("delivery_date")
            .cast(DataType::Date)
            .cast(DataType::Int32)
            .alias("__dd"),
        col("prenatal_care_key"),
        coalesce(&[col("residence_village"), col("mother_household_village")])
            .alias("__own_village"),
    ]);
    lf = match &ctx.births {
        Some(b) if b.has(&key) => {
            let held = b
                .lazy()
                .filter(col(&key).is_not_null())
                .group_by([col(&key).alias("__hk")])
                .agg([
                    col("birth_id").min().alias("__birth"),
                    col("village").min().alias("__bv"),
                ]);
            lf.left_join(held, col("__key"), col("__hk")).with_column(
                when(col("__birth").is_not_null())
                    .then(col("__bv"))
                    .otherwise(col("__own_village"))
                    .alias("__village"),
            )
        }
        _ => lf.with_columns([
            null(DataType::String).alias("__birth"),
            col("__own_village").alias("__village"),
        ]),
    };
    Some(lf)
}

/// `late_prenatal_booking` (§8.19): every booking at the set number of completed weeks or
/// later.
pub(crate) fn late_prenatal_booking(ctx: &Ctx<'_>) -> Result<Found, ChecksError> {
    let Some(t) = ctx.source(PRENATAL) else {
        return Ok(None);
    };
    let weeks = t.int("booking_gestational_weeks");
    let units = computed_once(
        first_per_key(ctx, t)?
            .with_column(weeks.alias("__weeks"))
            .filter(col("__weeks").is_not_null()),
    );
    let rows = units
        .clone()
        .filter(col("__weeks").gt_eq(lit(ctx.cfg.late_prenatal_booking.weeks)));
    let field = "booking_gestational_weeks";
    Ok(Some((
        record_rows(
            RuleId::LatePrenatalBooking,
            rows,
            PRENATAL,
            Some(field),
            values(vec![kv(PRENATAL, col("__weeks"))]),
            vec![],
        ),
        record_units(units),
    )))
}

/// `registration_without_marriage` (§8.15): no marriage record (not a divorce) of the same
/// man and woman dated strictly before the registration. IDs are compared as the valid ID,
/// else as typed.
pub(crate) fn registration_without_marriage(ctx: &Ctx<'_>) -> Result<Found, ChecksError> {
    let (Some(r), Some(m)) = (ctx.source(REGISTRATION), ctx.source(MARRIAGE)) else {
        return Ok(None);
    };
    let units = computed_once(first_per_key(ctx, r)?.with_columns([
        r.days("registration_date").alias("__rd"),
        r.any_id("man_id").alias("__man"),
        r.any_id("woman_id").alias("__woman"),
    ]));
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
    Ok(Some((
        record_rows(
            RuleId::RegistrationWithoutMarriage,
            rows,
            REGISTRATION,
            None,
            values(vec![kv("registration_date", date_text(col("__rd")))]),
            vec![],
        ),
        record_units(units),
    )))
}

/// `maternity_claim_without_delivery` (§8.16): one row per claim (person and claim date);
/// any delivery row of that woman, live or stillborn, within ± the window counts: one that
/// names her by her ID as written, or one that linkage attached to one of her births under a
/// blank or damaged ID (§8.23).
pub(crate) fn maternity_claim_without_delivery(ctx: &Ctx<'_>) -> Result<Found, ChecksError> {
    let (Some(s), Some(d)) = (ctx.source(SOCIAL_SECURITY), ctx.source(DELIVERY)) else {
        return Ok(None);
    };
    let window = ctx.cfg.maternity_claim_without_delivery.window_days;
    let units = attributed_all(ctx, s)?
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
    let mut deliveries = d.lazy().select([
        d.any_id("mother_id").alias("__dm"),
        d.days("delivery_date").alias("__dd"),
    ]);
    // A delivery linked to one of her births is hers whatever ID it carries (§8.16, §8.23):
    // the birth's mother (the first valid mother ID of its records) with the delivery row's
    // date.
    if let Some(b) = &ctx.births {
        let linked = b
            .lazy()
            .filter(col(key_column(DELIVERY)).is_not_null())
            .select([
                col("__mother").alias("__dm"),
                coalesce(&[col("__d_date"), col("__date")]).alias("__dd"),
            ]);
        deliveries = concat(
            [deliveries, linked],
            UnionArgs {
                rechunk: false,
                ..Default::default()
            },
        )
        .map_err(ChecksError::frame(DELIVERY))?;
    }
    let deliveries = deliveries.filter(col("__dm").is_not_null());
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
    Ok(Some((
        record_rows(
            RuleId::MaternityClaimWithoutDelivery,
            rows,
            SOCIAL_SECURITY,
            Some("maternity_claim_date"),
            values(vec![kv(SOCIAL_SECURITY, claim.clone())]),
            vec![kv("claim", claim)],
        ),
        record_units(units),
    )))
}

/// `student_without_household_registration` (§8.17): each school record (one per key) whose
/// pupil has no household row of any status. The pupil is identified by the valid
/// normalised `person_id`; where it is blank or invalid, by the ID inside the national
/// student number (`G` + the 18-character ID) when that ID is valid; failing both, by name,
/// sex and birth date matching exactly one household row (none or several identify no one,
/// and the rule fires).
pub(crate) fn student_without_household_registration(ctx: &Ctx<'_>) -> Result<Found, ChecksError> {
    let (Some(s), Some(h)) = (ctx.source(SCHOOL), ctx.source(HOUSEHOLD)) else {
        return Ok(None);
    };
    let units = computed_once(
        attributed_all(ctx, s)?
            .sort(["__key", "__row"], SortMultipleOptions::default())
            .unique_stable(Some(cols(["__key"])), UniqueKeepStrategy::First)
            .with_column(s.valid_id("person_id").alias("__pid")),
    );
    // The IDs inside the student numbers of the pupils without a valid ID field: few rows,
    // checked here by the model's GB 11643 rules.
    let err = ChecksError::frame(SCHOOL);
    let number = if s.has("student_no") {
        s.text("student_no")
    } else {
        col("__key")
    };
    let blank = units
        .clone()
        .filter(col("__pid").is_null())
        .select([col("__key"), number.alias("__no")])
        .collect()
        .map_err(&err)?;
    let (mut keys, mut ids) = (Vec::new(), Vec::new());
    let no = blank.column("__no").map_err(&err)?.str().map_err(&err)?;
    let key = blank.column("__key").map_err(&err)?.str().map_err(&err)?;
    for (k, n) in key.iter().zip(no.iter()) {
        let inner = n.map(str::trim).and_then(|n| n.strip_prefix(['G', 'g']));
        if let (Some(k), Some(id)) = (k, inner.and_then(|i| ResidentId::parse(i).ok())) {
            keys.push(k.to_owned());
            ids.push(id.as_str().to_owned());
        }
    }
    let from_number = DataFrame::new(
        keys.len(),
        vec![
            Column::new("__nk".into(), keys),
            Column::new("__nid".into(), ids),
        ],
    )
    .map_err(&err)?;
    let units = units
        .left_join(from_number.lazy(), col("__key"), col("__nk"))
        .with_column(coalesce(&[col("__pid"), col("__nid")]).alias("__pid"));
    let units = computed_once(units);
    // Whether the registry holds the ID: the run's one lookup of its persons.
    let persons = ctx.registered_persons()?;
    let with_id = units
        .clone()
        .filter(col("__pid").is_not_null())
        .select([col("__key"), col("__pid")])
        .collect()
        .map_err(&err)?;
    let pids = with_id.column("__pid").map_err(&err)?.str().map_err(&err)?;
    let keys = with_id.column("__key").map_err(&err)?.str().map_err(&err)?;
    let found: Vec<Option<&str>> = keys
        .iter()
        .zip(pids.iter())
        .filter(|(_, pid)| pid.is_some_and(|p| persons.registered(p)))
        .map(|(key, _)| key)
        .collect();
    let by_id = DataFrame::new(found.len(), vec![Column::new("__reg".into(), found)])
        .map_err(&err)?
        .lazy();
    // Failing both IDs: name, sex and birth date against the registry, narrowed first to
    // the names of those pupils.
    let person = |t: &Table, p: &str| {
        [
            t.text("name").alias(format!("__{p}n")),
            t.int("sex").alias(format!("__{p}s")),
            t.days("birth_date").alias(format!("__{p}b")),
        ]
    };
    let unnamed = units
        .clone()
        .filter(col("__pid").is_null())
        .select(
            std::iter::once(col("__key"))
                .chain(person(s, "s"))
                .collect::<Vec<_>>(),
        )
        .filter(
            col("__sn")
                .is_not_null()
                .and(col("__ss").is_not_null())
                .and(col("__sb").is_not_null()),
        );
    let candidates =
        h.lazy()
            .select(person(h, "h"))
            .semi_join(unnamed.clone(), col("__hn"), col("__sn"));
    let by_person = unnamed
        .join(
            candidates,
            [col("__sn"), col("__ss"), col("__sb")],
            [col("__hn"), col("__hs"), col("__hb")],
            JoinArgs::new(JoinType::Inner),
        )
        .group_by([col("__key")])
        .agg([len().alias("__matches")])
        .filter(col("__matches").eq(lit(1u32)))
        .select([col("__key").alias("__reg")]);
    let registered = concat([by_id, by_person], UnionArgs::default()).map_err(&err)?;
    let rows = units
        .clone()
        .anti_join(registered, col("__key"), col("__reg"));
    // With the school records narrowed, the records left out are units too (one row each).
    let mut all = record_units(units);
    if let Some(rest) = ctx.input.source_rests.get(SCHOOL) {
        all = concat(
            [
                count_per_village(all),
                rest.all_units().map_err(&err)?.lazy(),
            ],
            UnionArgs::default(),
        )
        .map_err(&err)?;
    }
    Ok(Some((
        record_rows(
            RuleId::StudentWithoutHouseholdRegistration,
            rows,
            SCHOOL,
            None,
            null(DataType::String),
            vec![],
        ),
        all,
    )))
}

/// The sex an ID field's person must have, or the row's own record of that person.
enum Holder {
    /// The person's own ID, against the birth date and sex columns of the same row.
    Own {
        birth_date: &'static str,
        sex: &'static str,
    },
    /// The ID of a person of this sex (2 female): a mother, a woman.
    Of(i32),
}

const FEMALE: Holder = Holder::Of(2);

/// The ID fields `id_number_conflict` checks, by source: the person's own ID against the
/// row, and the IDs of mothers and women (§8.6: "a mother's ID encodes male sex"). A man's
/// or father's ID is not checked (§8.6 names no such case); social security records no sex
/// or birth date beside its `person_id`.
const ID_FIELDS: [(&str, &str, Holder); 10] = [
    (REGISTRATION, "woman_id", FEMALE),
    (PRENATAL, "mother_id", FEMALE),
    (DELIVERY, "mother_id", FEMALE),
    (CERTIFICATE, "mother_id", FEMALE),
    (
        VACCINATION,
        "child_id",
        Holder::Own {
            birth_date: "birth_date",
            sex: "child_sex",
        },
    ),
    (VACCINATION, "mother_id", FEMALE),
    (
        HOUSEHOLD,
        "person_id",
        Holder::Own {
            birth_date: "birth_date",
            sex: "sex",
        },
    ),
    (HOUSEHOLD, "mother_id", FEMALE),
    (
        SCHOOL,
        "person_id",
        Holder::Own {
            birth_date: "birth_date",
            sex: "sex",
        },
    ),
    (MARRIAGE, "woman_id", FEMALE),
];

/// The birth date a resident ID encodes, as `YYYY-MM-DD` (characters 7–14).
fn encoded_date(id: Expr) -> Expr {
    concat_str(
        [
            id.clone().str().slice(lit(6), lit(4)),
            id.clone().str().slice(lit(10), lit(2)),
            id.str().slice(lit(12), lit(2)),
        ],
        "-",
        false,
    )
}

/// A column as 32-bit integers (`days`: a date column as days since 1970-01-01), or nulls
/// when the table has none.
fn int_column(t: &Table, column: &str, days: bool) -> PolarsResult<Int32Chunked> {
    if !t.has(column) {
        return Ok(Int32Chunked::full_null("".into(), t.df.height()));
    }
    let c = t.df.column(column)?;
    let c = if days {
        c.cast(&DataType::Date)?
    } else {
        c.clone()
    };
    Ok(c.cast(&DataType::Int32)?.i32()?.clone())
}

/// The part of an ID at characters `from..from + len` as a number (as polars' `slice` then
/// cast: null where it is empty or not all digits).
fn id_digits(id: &str, from: usize, len: usize) -> Option<i32> {
    let mut n: i32 = 0;
    let mut digits = 0;
    // IDs are ASCII: characters are bytes (no walk over the characters before `from`).
    if id.is_ascii() {
        let bytes = id.as_bytes();
        let part = bytes.get(from.min(bytes.len())..(from + len).min(bytes.len()))?;
        for &b in part {
            n = n
                .checked_mul(10)?
                .checked_add((b as char).to_digit(10)? as i32)?;
            digits += 1;
        }
        return (digits > 0).then_some(n);
    }
    for c in id.chars().skip(from).take(len) {
        n = n.checked_mul(10)?.checked_add(c.to_digit(10)? as i32)?;
        digits += 1;
    }
    (digits > 0).then_some(n)
}

/// The sex an ID encodes: 1 when its 17th character is an odd digit, else 2.
fn encoded_sex_of(id: Option<&str>) -> i32 {
    match id.and_then(|id| id_digits(id, 16, 1)) {
        Some(d) if d % 2 == 1 => 1,
        _ => 2,
    }
}

/// Days since 1970-01-01 as the number `YYYYMMDD`.
fn yyyymmdd_of(days: i32) -> Option<i32> {
    use chrono::Datelike;
    let d = chrono::NaiveDate::from_num_days_from_ce_opt(days.checked_add(719_163)?)?;
    Some(d.year() * 10_000 + d.month() as i32 * 100 + d.day() as i32)
}

/// One ID field of a table checked row by row: the IDs, for a person's own ID the recorded
/// birth dates (days) and sexes, and the checks.
pub(crate) struct FieldChecks {
    pub ids: StringChunked,
    pub recorded: Option<(Int32Chunked, Int32Chunked)>,
    pub checks: IdChecks,
}

/// [`IdChecks`] of `field` of `t`, held as `holder` says.
fn field_checks(t: &Table, field: &str, holder: &Holder) -> PolarsResult<FieldChecks> {
    let ids = t.df.column(field)?.cast(&DataType::String)?;
    let ids = ids.str()?.clone();
    Ok(match holder {
        Holder::Own { birth_date, sex } => {
            let recorded = int_column(t, birth_date, true)?;
            let sexes = int_column(t, sex, false)?;
            let checks = IdChecks::own(&ids, &recorded, &sexes);
            FieldChecks {
                ids,
                recorded: Some((recorded, sexes)),
                checks,
            }
        }
        Holder::Of(sex) => {
            let checks = IdChecks::of(&ids, *sex);
            FieldChecks {
                ids,
                recorded: None,
                checks,
            }
        }
    })
}

/// The ID fields `id_number_conflict` checks in a table of `source` (those it has), each
/// with its row-by-row checks.
pub(crate) fn id_field_checks(
    source: &str,
    t: &Table,
) -> PolarsResult<Vec<(&'static str, IdChecks)>> {
    ID_FIELDS
        .iter()
        .filter(|(s, f, _)| *s == source && t.has(f))
        .map(|(_, f, h)| Ok((*f, field_checks(t, f, h)?.checks)))
        .collect()
}

/// Per row of one ID field: whether it is checked, and whether the birth date or the sex
/// the ID encodes differs from the row's (only where checked).
pub(crate) struct IdChecks {
    pub checked: Vec<bool>,
    date: Vec<bool>,
    sex: Vec<bool>,
}

impl IdChecks {
    /// A person's own ID: checked where valid and with a birth date or a known sex to
    /// compare it with.
    fn own(ids: &StringChunked, recorded: &Int32Chunked, sexes: &Int32Chunked) -> IdChecks {
        let mut out = IdChecks::with_capacity(ids.len());
        for ((id, rd), rs) in ids.iter().zip(recorded.iter()).zip(sexes.iter()) {
            let sex_known = matches!(rs, Some(1 | 2));
            let checked = id.is_some() && (rd.is_some() || sex_known);
            let date = match (
                id.and_then(|id| id_digits(id, 6, 8)),
                rd.and_then(yyyymmdd_of),
            ) {
                (Some(encoded), Some(recorded)) => encoded != recorded,
                _ => false,
            };
            let sex = sex_known && Some(encoded_sex_of(id)) != rs;
            out.push(checked, checked && date, checked && sex);
        }
        out
    }

    /// The ID of a person of `sex`: checked where valid.
    fn of(ids: &StringChunked, sex: i32) -> IdChecks {
        let mut out = IdChecks::with_capacity(ids.len());
        for id in ids.iter() {
            out.push(
                id.is_some(),
                false,
                id.is_some() && encoded_sex_of(id) != sex,
            );
        }
        out
    }

    fn with_capacity(n: usize) -> IdChecks {
        IdChecks {
            checked: Vec::with_capacity(n),
            date: Vec::with_capacity(n),
            sex: Vec::with_capacity(n),
        }
    }

    fn push(&mut self, checked: bool, date: bool, sex: bool) {
        self.checked.push(checked);
        self.date.push(date);
        self.sex.push(sex);
    }

    /// Rows in conflict: checked, and the date or the sex differs.
    pub(crate) fn conflicts(&self) -> Vec<bool> {
        self.date
            .iter()
            .zip(&self.sex)
            .map(|(d, s)| *d || *s)
            .collect()
    }
}

/// `id_number_conflict` (§8.6) over every accepted record of every source: a valid ID that
/// encodes another birth date or sex than the same row records for its person (household
/// and school `person_id`, vaccination `child_id`, against the row's birth date and sex),
/// or the ID of a mother or woman that encodes male sex ([`ID_FIELDS`]). One row per record and ID field (a key with several
/// rows, such as a child's dose rows, is one record: its first conflicting row is shown),
/// `field` the ID field, the village per §8.12 (the record's first row). Units: the records
/// with a valid ID in the field and, for an own ID, a birth date or a known sex to compare
/// it with.
pub(crate) fn id_number_conflict(ctx: &Ctx<'_>) -> Result<Found, ChecksError> {
    let rule = RuleId::IdNumberConflict;
    let mut rows = Vec::new();
    let mut units = Vec::new();
    for (&source, t) in &ctx.sources {
        let fields: Vec<(&str, &Holder)> = ID_FIELDS
            .iter()
            .filter(|(s, f, _)| *s == source && t.has(f))
            .map(|(_, f, h)| (*f, h))
            .collect();
        if fields.is_empty() {
            continue;
        }
        // Per row and field: checked, in conflict. A record is checked when any of its rows
        // is, in conflict when any is, and shows its first conflicting row's values; its
        // village and birth are its first row's. The flags are made in one pass over the
        // ID, date and sex columns (every row, in row order: a filter would copy the
        // registry's columns); the rows checked in no field take no part in the records.
        let err = ChecksError::frame(source);
        let all = attributed_all(ctx, t)?.collect().map_err(&err)?;
        let n = all.height();
        let mut checked_rows = all
            .select(["__key", "__row", "__village", "__birth"])
            .map_err(&err)?;
        let mut any = vec![false; n];
        let mut field_flags = Vec::new();
        for (i, (field, holder)) in fields.iter().enumerate() {
            let FieldChecks {
                ids,
                recorded,
                checks,
            } = field_checks(t, field, holder).map_err(&err)?;
            if let Some((recorded, sexes)) = recorded {
                checked_rows
                    .with_column(recorded.with_name(format!("__rd{i}").into()).into_column())
                    .map_err(&err)?;
                checked_rows
                    .with_column(sexes.with_name(format!("__rs{i}").into()).into_column())
                    .map_err(&err)?;
            }
            checked_rows
                .with_column(ids.with_name(format!("__id{i}").into()).into_column())
                .map_err(&err)?;
            for (a, &c) in any.iter_mut().zip(&checks.checked) {
                *a |= c;
            }
            field_flags.push(checks);
        }
        let records = Records::of(checked_rows.column("__key").map_err(&err)?, &any)?;
        let first_rows = checked_rows
            .select(["__village", "__birth"])
            .and_then(|df| df.take(&records.first_rows()))
            .map_err(&err)?;
        for (i, ((field, holder), checks)) in fields.iter().zip(&field_flags).enumerate() {
            // The records checked in this field, at their first row's village; with the
            // registry narrowed, counted per village beside its rows not held.
            let checked = record_units(
                first_rows
                    .take(&records.first_rows_where(&checks.checked, false))
                    .map_err(&err)?
                    .lazy(),
            );
            if ctx.input.household_rest.is_some() || !ctx.input.source_rests.is_empty() {
                units.push(count_per_village(checked));
                if let Some(rest) = ctx.input.household_rest
                    && source == HOUSEHOLD
                {
                    units.push(rest.checked_units(field).map_err(&err)?.lazy());
                }
                if let Some(rest) = ctx.input.source_rests.get(source) {
                    units.push(rest.checked_units(field).map_err(&err)?.lazy());
                }
            } else {
                units.push(checked);
            }
            // The first conflicting row of each record in conflict, with the record's
            // village and birth (its first row's).
            let mut shown = vec!["__key".to_owned(), format!("__id{i}")];
            if matches!(holder, Holder::Own { .. }) {
                shown.extend([format!("__rd{i}"), format!("__rs{i}")]);
            }
            let conflicting = records.first_rows_where(&checks.conflicts(), true);
            let mut conflicts = checked_rows
                .select(shown)
                .and_then(|df| df.take(&conflicting))
                .map_err(&err)?;
            let of_record = first_rows
                .take(&records.records_of(&conflicting))
                .map_err(&err)?;
            conflicts.hstack_mut(of_record.columns()).map_err(&err)?;
            // What differs, and the sex the ID encodes, for the rows shown.
            let at = |v: &[bool]| -> Vec<bool> {
                conflicting
                    .into_no_null_iter()
                    .map(|r| v[r as usize])
                    .collect()
            };
            let ids = conflicts.column(&format!("__id{i}")).map_err(&err)?;
            let encoded: Vec<i32> = ids
                .str()
                .map_err(&err)?
                .iter()
                .map(encoded_sex_of)
                .collect();
            conflicts
                .hstack_mut(&[
                    Column::new("__dc".into(), at(&checks.date)),
                    Column::new("__sc".into(), at(&checks.sex)),
                    Column::new("__es".into(), encoded),
                ])
                .map_err(&err)?;
            let conflicts = conflicts.lazy();
            let vals = match holder {
                Holder::Own { .. } => {
                    let (rd, rs) = (col(format!("__rd{i}")), col(format!("__rs{i}")));
                    let shown = |on: &str, label: &str, value: Expr| {
                        when(col(on))
                            .then(kv(label, value))
                            .otherwise(null(DataType::String))
                    };
                    values(vec![
                        shown(
                            "__dc",
                            "encoded_birth_date",
                            encoded_date(col(format!("__id{i}"))),
                        ),
                        shown("__dc", "birth_date", date_text(rd)),
                        shown("__sc", "encoded_sex", col("__es")),
                        shown("__sc", "sex", rs),
                    ])
                }
                Holder::Of(_) => values(vec![kv("encoded_sex", col("__es"))]),
            };
            rows.push(record_rows(
                rule,
                conflicts,
                source,
                Some(field),
                vals,
                vec![],
            ));
        }
    }
    if units.is_empty() {
        return Ok(None);
    }
    Ok(Some((concat_all(rows)?, concat_all(units)?)))
}

/// The rows of a table grouped by record key, in row order: which record each row is, and
/// each record's first row. One pass over the keys, where polars' `unique` and semi-joins
/// would hash the millions of keys once per use. Rows without a key are one record, never
/// selected by [`Records::first_rows_where`] (a row without a key names no record).
struct Records {
    /// The record of each row (records numbered in order of their first row;
    /// `IdxSize::MAX` for a row of none).
    record: Vec<IdxSize>,
    /// Each record's first row.
    first: Vec<IdxSize>,
    /// The record of the rows without a key, if any.
    keyless: Option<IdxSize>,
}

impl Records {
    /// The records of the rows marked in `rows` (the others belong to none).
    fn of(keys: &Column, rows: &[bool]) -> Result<Records, ChecksError> {
        let keys = keys
            .str()
            .map_err(ChecksError::frame("id_number_conflict"))?;
        // Keys that are resident IDs in normal form are hashed as numbers.
        let mut by_number: PlHashMap<u64, IdxSize> = PlHashMap::with_capacity(keys.len());
        let mut by_text: PlHashMap<Option<&str>, IdxSize> = PlHashMap::new();
        let mut record = Vec::with_capacity(keys.len());
        let mut first = Vec::new();
        for ((row, key), &taken) in keys.iter().enumerate().zip(rows) {
            if !taken {
                record.push(IdxSize::MAX);
                continue;
            }
            let next = first.len() as IdxSize;
            let n = match key.and_then(crate::frames::id_number) {
                Some(number) => *by_number.entry(number).or_insert(next),
                None => *by_text.entry(key).or_insert(next),
            };
            if n == next {
                first.push(row as IdxSize);
            }
            record.push(n);
        }
        let keyless = by_text.get(&None).copied();
        Ok(Records {
            record,
            first,
            keyless,
        })
    }

    /// Every record's first row, in order (positions in the table of first rows).
    fn first_rows(&self) -> IdxCa {
        IdxCa::from_vec("".into(), self.first.clone())
    }

    /// With `rows = false`: the positions, among the first rows, of the records with a
    /// flagged row. With `rows = true`: the first flagged row of each such record. Only
    /// rows of a record may be flagged.
    fn first_rows_where(&self, flagged: &[bool], rows: bool) -> IdxCa {
        let mut seen = vec![false; self.first.len()];
        let mut out = Vec::new();
        for (row, &on) in flagged.iter().enumerate() {
            let r = self.record[row];
            if !on || r == IdxSize::MAX || self.keyless == Some(r) {
                continue;
            }
            let r = r as usize;
            if !seen[r] {
                seen[r] = true;
                out.push(if rows { row as IdxSize } else { r as IdxSize });
            }
        }
        if !rows {
            out.sort_unstable();
        }
        IdxCa::from_vec("".into(), out)
    }

    /// The record of each of `rows` (positions among the first rows).
    fn records_of(&self, rows: &IdxCa) -> IdxCa {
        IdxCa::from_vec(
            "".into(),
            rows.into_no_null_iter()
                .map(|row| self.record[row as usize])
                .collect(),
        )
    }
}

/// Sources whose key names one record: the same key twice is the same record twice.
pub(crate) fn unique_key(source: &str) -> bool {
    !matches!(source, VACCINATION | HOUSEHOLD | SOCIAL_SECURITY)
}

pub(crate) use poprecon_model::key_order;

/// The columns two rows of `t` are compared on as copies ([`duplicates`]): every field but
/// the key (and, for an ID key, the ID as given) and ingest's bookkeeping; with the key
/// where a key has several rows.
pub(crate) fn compared_columns(t: &Table) -> Vec<PlSmallStr> {
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
    let mut compared: Vec<PlSmallStr> =
        t.df.get_column_names()
            .into_iter()
            .filter(|c| !skip(c.as_str()))
            .cloned()
            .collect();
    if !unique_key(source) {
        compared.push("__key".into());
    }
    compared
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
    let compared = compared_columns(t);
    let columns: Vec<Expr> = compared.iter().map(|c| col(c.clone())).collect();
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
    let all = attributed_all(ctx, t)?.collect().map_err(&err)?;
    // Rows that may be copies: those whose hash of the compared columns is shared (equal
    // rows hash equal; a collision only adds a candidate, which the content below tells
    // apart), and in sources whose key names one record those whose key is shared.
    let mut candidate = vec![columns.is_empty() && all.height() > 1; all.height()];
    if !columns.is_empty() {
        let hashes = row_hashes(&all, &compared).map_err(&err)?;
        mark_shared(|| hashes.iter().copied(), &mut candidate);
    }
    let keys = all.column("__key").map_err(&err)?.str().map_err(&err)?;
    if unique_key(source) {
        mark_shared(|| keys.iter(), &mut candidate);
    }
    for (c, key) in candidate.iter_mut().zip(keys.iter()) {
        *c &= key.is_some();
    }
    let candidate = BooleanChunked::from_slice("__candidate".into(), &candidate);
    let cands = all
        .filter(&candidate)
        .map_err(&err)?
        .lazy()
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

/// One hash per row of `columns`: equal rows (nulls equal) have equal hashes. Texts are
/// hashed as they are, other columns as their physical numbers.
pub(crate) fn row_hashes(df: &DataFrame, columns: &[PlSmallStr]) -> PolarsResult<Vec<u64>> {
    use std::hash::BuildHasher;
    let state = PlFixedStateQuality::default();
    let mut hashes = vec![0u64; df.height()];
    let mut mix = |i: usize, h: u64| {
        hashes[i] = (hashes[i].rotate_left(27) ^ h).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    };
    for name in columns {
        let column = df.column(name)?.as_materialized_series();
        match column.dtype() {
            DataType::String => {
                for (i, v) in column.str()?.iter().enumerate() {
                    mix(i, state.hash_one(v));
                }
            }
            dtype if dtype.to_physical().is_primitive_numeric() || dtype.is_bool() => {
                let numbers = column.to_physical_repr().cast(&DataType::Float64)?;
                for (i, v) in numbers.f64()?.iter().enumerate() {
                    mix(i, state.hash_one(v.map(f64::to_bits)));
                }
            }
            _ => {
                let texts = column.cast(&DataType::String)?;
                for (i, v) in texts.str()?.iter().enumerate() {
                    mix(i, state.hash_one(v));
                }
            }
        }
    }
    Ok(hashes)
}

/// Marks the positions whose value occurs more than once.
fn mark_shared<T: std::hash::Hash + Eq, I: Iterator<Item = T>>(
    values: impl Fn() -> I,
    marks: &mut [bool],
) {
    let mut counts: PlHashMap<T, u32> = PlHashMap::with_capacity(marks.len());
    for v in values() {
        *counts.entry(v).or_default() += 1;
    }
    for (mark, v) in marks.iter_mut().zip(values()) {
        if counts.get(&v).is_some_and(|&n| n > 1) {
            *mark = true;
        }
    }
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
        units.push(all_units(ctx, t)?);
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
        let lf = attributed_all(ctx, t)?;
        units.push(all_units(ctx, t)?);
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

#[cfg(test)]
mod id_digit_tests {
    /// `id_digits` as it read every ID before its ASCII shortcut: characters walked.
    fn by_chars(id: &str, from: usize, len: usize) -> Option<i32> {
        let mut n: i32 = 0;
        let mut digits = 0;
        for c in id.chars().skip(from).take(len) {
            n = n.checked_mul(10)?.checked_add(c.to_digit(10)? as i32)?;
            digits += 1;
        }
        (digits > 0).then_some(n)
    }

    #[test]
    fn the_ascii_shortcut_reads_what_the_characters_say() {
        let ids = [
            "110101199003074518",
            "11010119900307451X",
            "1101011990",
            "",
            "11010a199003074518",
            "99999999999999999999999",
            "１１０１０１",
            "110101１99003074518",
        ];
        for id in ids {
            for from in [0, 6, 10, 16, 17, 18, 30] {
                for len in [0, 1, 2, 4, 8, 12] {
                    assert_eq!(
                        super::id_digits(id, from, len),
                        by_chars(id, from, len),
                        "{id:?} {from} {len}"
                    );
                }
            }
        }
    }
}
