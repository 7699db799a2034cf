//! The births stage: every per-birth fact, made once, for the rules and the indicators to
//! read (they never derive one again).
//!
//! Linkage decides which records are one birth, and its [`crate::births`] gives the chosen
//! values (§8.2), the mother's records (§8.3), village, floating, order and policy. This
//! stage adds what each birth-level record says, read off the records linkage joined:
//!
//! - per source `S` of delivery, certificate, household, vaccination: `S_date`, `S_sex`,
//!   `S_mother_id` (the valid ID); delivery `hospital_delivery_outcome`,
//!   `hospital_delivery_residence_village`, `hospital_delivery_institution`; certificate
//!   `birth_certificate_place_type`, `birth_certificate_institution`; household
//!   `household_person_id`, `household_village`, `household_registration_date` (the
//!   earliest of the child's rows that are not a move in), `household_registration_birth`
//!   (a row registered for birth); vaccination `vaccination_child_id`,
//!   `vaccination_residence_village`;
//! - `prenatal_booking_weeks`: the booking's gestational weeks;
//! - `institution`: the delivery's, else the certificate's (the occurrence basis);
//! - the mismatch outcome (domain.md §5, §8.5): `sex_mismatch`, `birth_date_mismatch`,
//!   `mother_id_mismatch` (null when fewer than two of the four sources have a value,
//!   else whether they disagree; dates further apart than the tolerance), and `mismatch`
//!   (any of the three).
//!
//! It also makes the stillbirths' deliveries (§8.4), the units besides the live births that
//! the delivery rule and the three booking indicators count: see [`stillbirths`].
//!
//! A record of a key is its first row in file order (household: by the one status rank of
//! `poprecon_model::household_status_rank`, then file order); a vaccination child's field is
//! the first non-empty one in the order the doses were given.

use std::collections::HashMap;

use polars::lazy::dsl::{max_horizontal, min_horizontal, sum_horizontal};
use polars::prelude::*;
use poprecon_model::{RECORD_KEY, SourceId};

use crate::prepare::key_order;
use crate::{LinkConfig, LinkError, LinkInput};

/// What the births stage returns.
#[derive(Debug, Clone)]
pub struct BirthFacts {
    /// `births` of linkage with the facts of the module documentation.
    pub births: DataFrame,
    /// The stillbirths' deliveries: see [`stillbirths`].
    pub stillbirths: DataFrame,
}

/// The settings the births stage reads besides `[linkage]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FactSettings {
    /// `[rules.birth_date_mismatch] tolerance_days`: two birth dates this many days apart
    /// or fewer agree. Default `0`.
    pub birth_date_tolerance_days: i32,
}

fn null(dtype: DataType) -> Expr {
    lit(NULL).cast(dtype)
}

fn has(df: &DataFrame, c: &str) -> bool {
    df.column(c).is_ok()
}

/// Typed access to the columns of one table; absent columns read as nulls.
struct Cols<'a>(&'a DataFrame);

impl Cols<'_> {
    fn text(&self, c: &str) -> Expr {
        if has(self.0, c) {
            col(c).cast(DataType::String)
        } else {
            null(DataType::String)
        }
    }
    fn int(&self, c: &str) -> Expr {
        if has(self.0, c) {
            col(c).cast(DataType::Int32)
        } else {
            null(DataType::Int32)
        }
    }
    fn days(&self, c: &str) -> Expr {
        if has(self.0, c) {
            col(c).cast(DataType::Date).cast(DataType::Int32)
        } else {
            null(DataType::Int32)
        }
    }
    /// The record key: ingest's `record_key` (the key as written), else the key field
    /// (for a resident ID, the valid ID else the text as given).
    fn key(&self, s: SourceId) -> Expr {
        if has(self.0, RECORD_KEY) {
            self.text(RECORD_KEY)
        } else if s.key_is_id() {
            coalesce(&[
                self.text(s.key_field()),
                self.text(&format!("{}_input", s.key_field())),
            ])
        } else {
            self.text(s.key_field())
        }
    }
    /// Household status rank as an expression (see [`household_status_rank`]).
    fn status_rank(&self) -> Expr {
        household_status_rank(has(self.0, "status"))
    }
}

/// `poprecon_model::household_status_rank` of the `status` column as an expression (ranks
/// 0 and 1 are active rows); without a status column, every row ranks as listed residents.
pub fn household_status_rank(has_status: bool) -> Expr {
    use poprecon_model::household_status_rank as rank;
    if !has_status {
        return lit(rank(None) as i32);
    }
    let s = col("status").cast(DataType::String);
    when(s.clone().eq(lit("active")))
        .then(lit(rank(Some("active")) as i32))
        .when(s.clone().is_null())
        .then(lit(rank(None) as i32))
        .when(s.eq(lit("moved_out")))
        .then(lit(rank(Some("moved_out")) as i32))
        .otherwise(lit(rank(Some("other")) as i32))
}

fn table<'a>(input: &LinkInput<'a>, s: SourceId) -> Option<&'a DataFrame> {
    match s {
        SourceId::HospitalDelivery => input.hospital_delivery,
        SourceId::BirthCertificate => input.birth_certificate,
        SourceId::Household => input.household,
        SourceId::Vaccination => input.vaccination,
        SourceId::PrenatalCare => input.prenatal_care,
        SourceId::BirthRegistration => input.birth_registration,
        SourceId::Marriage => input.marriage,
        _ => None,
    }
}

/// The fields read per birth-level source: (output suffix, dtype).
fn fields(s: SourceId) -> &'static [(&'static str, DataType)] {
    const D: &[(&str, DataType)] = &[
        ("date", DataType::Int32),
        ("sex", DataType::Int32),
        ("mother_id", DataType::String),
        ("outcome", DataType::String),
        ("residence_village", DataType::String),
        ("institution", DataType::String),
    ];
    const C: &[(&str, DataType)] = &[
        ("date", DataType::Int32),
        ("sex", DataType::Int32),
        ("mother_id", DataType::String),
        ("place_type", DataType::String),
        ("institution", DataType::String),
    ];
    const H: &[(&str, DataType)] = &[
        ("date", DataType::Int32),
        ("sex", DataType::Int32),
        ("mother_id", DataType::String),
        ("person_id", DataType::String),
        ("village", DataType::String),
        ("registration_date", DataType::Int32),
        ("registration_birth", DataType::Boolean),
    ];
    const V: &[(&str, DataType)] = &[
        ("date", DataType::Int32),
        ("sex", DataType::Int32),
        ("mother_id", DataType::String),
        ("child_id", DataType::String),
        ("residence_village", DataType::String),
        ("hepb1_date", DataType::Int32),
    ];
    match s {
        SourceId::HospitalDelivery => D,
        SourceId::BirthCertificate => C,
        SourceId::Household => H,
        _ => V,
    }
}

/// One row per key of source `s` among `wanted` (column `__want`): what the record says,
/// as `<source>_<field>`, keyed by `__fk`.
fn reduce(s: SourceId, df: &DataFrame, wanted: LazyFrame) -> LazyFrame {
    let t = Cols(df);
    let p = |f: &str| format!("{}_{f}", s.id());
    let base = df
        .clone()
        .lazy()
        .with_row_index("__row", None)
        .with_column(t.key(s).alias("__fk"))
        .semi_join(wanted, col("__fk"), col("__want"));
    match s {
        SourceId::HospitalDelivery => base
            .sort(["__fk", "__row"], SortMultipleOptions::default())
            .group_by([col("__fk")])
            .agg([
                t.days("delivery_date").first().alias(p("date")),
                t.int("child_sex").first().alias(p("sex")),
                t.text("mother_id").first().alias(p("mother_id")),
                t.text("outcome").first().alias(p("outcome")),
                t.text("residence_village")
                    .first()
                    .alias(p("residence_village")),
                t.text("institution").first().alias(p("institution")),
            ]),
        SourceId::BirthCertificate => base
            .sort(["__fk", "__row"], SortMultipleOptions::default())
            .group_by([col("__fk")])
            .agg([
                t.days("birth_date").first().alias(p("date")),
                t.int("child_sex").first().alias(p("sex")),
                t.text("mother_id").first().alias(p("mother_id")),
                t.text("birth_place_type").first().alias(p("place_type")),
                t.text("institution").first().alias(p("institution")),
            ]),
        SourceId::Household => {
            // The child's registration: the earliest registration date of its rows that are
            // not a move into the household.
            let not_move_in = t
                .text("registration_reason")
                .neq(lit("move_in"))
                .fill_null(lit(true));
            base.with_column(t.status_rank().alias("__rank"))
                .sort(["__fk", "__rank", "__row"], SortMultipleOptions::default())
                .group_by([col("__fk")])
                .agg([
                    t.days("birth_date").first().alias(p("date")),
                    t.int("sex").first().alias(p("sex")),
                    t.text("mother_id").first().alias(p("mother_id")),
                    t.text("person_id").first().alias(p("person_id")),
                    t.text("village").first().alias(p("village")),
                    t.days("registration_date")
                        .filter(not_move_in)
                        .min()
                        .alias(p("registration_date")),
                    t.text("registration_reason")
                        .eq(lit("birth"))
                        .fill_null(lit(false))
                        .any(true)
                        .alias(p("registration_birth")),
                ])
        }
        _ => {
            // Vaccination: dose rows of a child, in the order the doses were given.
            let hepb1 = t
                .text("vaccine")
                .eq(lit("HepB"))
                .and(t.int("dose").eq(lit(1i32)));
            let first = |e: Expr| e.drop_nulls().first();
            base.with_columns([
                t.days("vaccination_date").alias("__vd"),
                t.int("dose").alias("__dose"),
            ])
            .sort_by_exprs(
                [col("__fk"), col("__vd"), col("__dose"), col("__row")],
                SortMultipleOptions::default().with_nulls_last(true),
            )
            .group_by([col("__fk")])
            .agg([
                first(t.days("birth_date")).alias(p("date")),
                first(t.int("child_sex")).alias(p("sex")),
                first(t.text("mother_id")).alias(p("mother_id")),
                first(t.text("child_id")).alias(p("child_id")),
                first(t.text("residence_village")).alias(p("residence_village")),
                col("__vd").filter(hepb1).min().alias(p("hepb1_date")),
            ])
        }
    }
}

/// Whether two or more of `values` are present and they disagree by `differ`; null when
/// fewer than two are present.
fn outcome(values: &[Expr], differ: Expr) -> PolarsResult<Expr> {
    let present: Vec<Expr> = values
        .iter()
        .map(|e| e.clone().is_not_null().cast(DataType::Int32))
        .collect();
    let count = sum_horizontal(present, true)?;
    Ok(when(count.gt_eq(lit(2i32)))
        .then(differ.fill_null(lit(false)))
        .otherwise(null(DataType::Boolean)))
}

/// `births` with every fact of the module documentation. A births table built by hand needs
/// only `birth_id` and the `<source>_key` columns it uses; the chosen date, sex and mother
/// are then the first of the sources' values (§8.2).
pub fn birth_facts(
    births: &DataFrame,
    input: &LinkInput<'_>,
    cfg: &LinkConfig,
    settings: &FactSettings,
) -> Result<BirthFacts, LinkError> {
    let err = LinkError::frame("births");
    let b = Cols(births);
    let mut lf = births.clone().lazy();
    // Key columns and linkage's villages a hand-built table may lack.
    let optional = SourceId::ALL
        .iter()
        .map(|s| s.key_column())
        .chain(["mother_household_village", "prenatal_residence_village"].map(String::from));
    for c in optional {
        if !has(births, &c) {
            lf = lf.with_column(null(DataType::String).alias(c));
        }
    }
    for s in SourceId::BIRTH_LEVEL {
        let key = s.key_column();
        match table(input, s) {
            Some(df) if has(births, &key) => {
                let wanted = births
                    .clone()
                    .lazy()
                    .select([col(&key).cast(DataType::String).alias("__want")])
                    .filter(col("__want").is_not_null())
                    .unique(None, UniqueKeepStrategy::Any);
                // The join keeps the left key column only.
                lf = lf.left_join(reduce(s, df, wanted), col(&key), col("__fk"));
            }
            _ => {
                lf = lf.with_columns(
                    fields(s)
                        .iter()
                        .map(|(f, t)| null(t.clone()).alias(format!("{}_{f}", s.id())))
                        .collect::<Vec<_>>(),
                );
            }
        }
    }
    // The booking's gestational weeks.
    lf = match input.prenatal_care {
        Some(p) if has(births, "prenatal_care_key") => {
            let t = Cols(p);
            let weeks = p
                .clone()
                .lazy()
                .with_row_index("__row", None)
                .with_column(t.key(SourceId::PrenatalCare).alias("__pk"))
                .sort(["__pk", "__row"], SortMultipleOptions::default())
                .group_by([col("__pk")])
                .agg([t
                    .int("booking_gestational_weeks")
                    .first()
                    .alias("prenatal_booking_weeks")]);
            lf.left_join(weeks, col("prenatal_care_key"), col("__pk"))
        }
        _ => lf.with_column(null(DataType::Int32).alias("prenatal_booking_weeks")),
    };
    let per = |f: &str| -> Vec<Expr> {
        SourceId::BIRTH_LEVEL
            .iter()
            .map(|s| col(format!("{}_{f}", s.id())))
            .collect()
    };
    // The chosen values (§8.2): linkage's, else (a table built by hand) the first source's.
    let chosen = |own: Expr, f: &str| {
        let mut parts = vec![own];
        parts.extend(per(f));
        coalesce(&parts)
    };
    let known_sex = |e: Expr| {
        when(e.clone().eq(lit(1i32)).or(e.clone().eq(lit(2i32))))
            .then(e)
            .otherwise(null(DataType::Int32))
    };
    let sexes: Vec<Expr> = per("sex").into_iter().map(known_sex).collect();
    let dates = per("date");
    let mothers = per("mother_id");
    let pairwise = |v: &[Expr]| {
        let mut any = lit(false);
        for i in 0..v.len() {
            for j in i + 1..v.len() {
                any = any.or(v[i].clone().neq(v[j].clone()).fill_null(lit(false)));
            }
        }
        any
    };
    let tolerance = settings.birth_date_tolerance_days;
    let sex_differ = max_horizontal(sexes.clone())
        .map_err(&err)?
        .neq(min_horizontal(sexes.clone()).map_err(&err)?);
    let date_spread = max_horizontal(dates.clone()).map_err(&err)?
        - min_horizontal(dates.clone()).map_err(&err)?;
    let mother_differ = pairwise(&mothers);
    let dated = |c: &str| col(c).cast(DataType::Date);
    let mut df = lf
        .with_columns([
            chosen(b.days("birth_date"), "date").alias("__date"),
            chosen(b.text("mother_id"), "mother_id").alias("__mother"),
            coalesce(&[b.days("hepb1_date"), col("vaccination_hepb1_date")]).alias("__hepb1"),
            coalesce(&[
                col("hospital_delivery_institution"),
                col("birth_certificate_institution"),
            ])
            .alias("institution"),
            outcome(&sexes, sex_differ)
                .map_err(&err)?
                .alias("sex_mismatch"),
            outcome(&dates, date_spread.gt(lit(tolerance)))
                .map_err(&err)?
                .alias("birth_date_mismatch"),
            outcome(&mothers, mother_differ)
                .map_err(&err)?
                .alias("mother_id_mismatch"),
        ])
        .with_column(
            col("sex_mismatch")
                .fill_null(lit(false))
                .or(col("birth_date_mismatch").fill_null(lit(false)))
                .or(col("mother_id_mismatch").fill_null(lit(false)))
                .alias("mismatch"),
        )
        .collect()
        .map_err(&err)?;
    // Dates as dates in the table; `birth_date`, `mother_id` and `hepb1_date` filled where
    // a table built by hand lacks them.
    let date_cols = [
        "hospital_delivery_date",
        "birth_certificate_date",
        "household_date",
        "household_registration_date",
        "vaccination_date",
        "vaccination_hepb1_date",
    ];
    let mut exprs: Vec<Expr> = date_cols.iter().map(|c| dated(c)).collect();
    exprs.push(col("__date").cast(DataType::Date).alias("birth_date"));
    exprs.push(col("__mother").alias("mother_id"));
    exprs.push(col("__hepb1").cast(DataType::Date).alias("hepb1_date"));
    df = df
        .lazy()
        .with_columns(exprs)
        .drop(cols(["__date", "__mother", "__hepb1"]))
        .collect()
        .map_err(&err)?;
    Ok(BirthFacts {
        births: df,
        stillbirths: stillbirths(input, cfg)?,
    })
}

/// Columns of a delivery row that are not its content: two rows equal in every other column
/// are one delivery entered twice (`duplicate_record`, §8.18).
const NOT_CONTENT: [&str; 5] = [
    "record_id",
    RECORD_KEY,
    "source_file",
    "source_line",
    "invalid_fields",
];

/// The stillbirths' deliveries (domain.md §8.4): one row per accepted delivery row with
/// outcome `stillbirth` dated in the period, one per key, the extra copy of a duplicate
/// left out (of copies equal in every other column, the smaller key is kept). Linkage joins
/// live births only, so the mother is the row's valid `mother_id`.
///
/// Columns: `hospital_delivery_key`, `mother_id`, `delivery_date`, `residence_village`,
/// `institution`; her booking, the latest within `[linkage] prenatal_window_days` before
/// the delivery, as linkage picks a birth's: `prenatal_care_key`, `prenatal_booking_weeks`,
/// `prenatal_residence_village`; `mother_household_village` (her first active household
/// row, by status rank then village, as linkage reads it) and `floating` (no active row,
/// §8.8). Sorted by key.
pub fn stillbirths(input: &LinkInput<'_>, cfg: &LinkConfig) -> Result<DataFrame, LinkError> {
    let empty = || {
        DataFrame::new(
            0,
            vec![
                Column::new_empty("hospital_delivery_key".into(), &DataType::String),
                Column::new_empty("mother_id".into(), &DataType::String),
                Column::new_empty("delivery_date".into(), &DataType::Date),
                Column::new_empty("residence_village".into(), &DataType::String),
                Column::new_empty("institution".into(), &DataType::String),
                Column::new_empty("prenatal_care_key".into(), &DataType::String),
                Column::new_empty("prenatal_booking_weeks".into(), &DataType::Int32),
                Column::new_empty("prenatal_residence_village".into(), &DataType::String),
                Column::new_empty("mother_household_village".into(), &DataType::String),
                Column::new_empty("floating".into(), &DataType::Boolean),
            ],
        )
        .map_err(LinkError::frame("stillbirths"))
    };
    let Some(d) = input
        .hospital_delivery
        .filter(|d| has(d, "outcome") && has(d, "delivery_date"))
    else {
        return empty();
    };
    let err = LinkError::frame("hospital_delivery");
    let t = Cols(d);
    let (start, end) = (
        poprecon_model::epoch_days(input.period.0),
        poprecon_model::epoch_days(input.period.1),
    );
    let content: Vec<Expr> = d
        .get_column_names()
        .into_iter()
        .filter(|c| !NOT_CONTENT.contains(&c.as_str()))
        .map(|c| {
            col(c.clone())
                .cast(DataType::String)
                .fill_null(lit("\u{0}"))
        })
        .collect();
    let content = if content.is_empty() {
        lit("")
    } else {
        concat_str(content, "\u{1f}", false)
    };
    let rows = d
        .clone()
        .lazy()
        .with_row_index("__row", None)
        .with_columns([
            t.key(SourceId::HospitalDelivery).alias("__k"),
            t.days("delivery_date").alias("__dd"),
        ])
        .filter(
            col("__k")
                .is_not_null()
                .and(
                    t.text("outcome")
                        .eq(lit("stillbirth"))
                        .fill_null(lit(false)),
                )
                .and(col("__dd").gt_eq(lit(start)))
                .and(col("__dd").lt_eq(lit(end))),
        )
        .sort(["__k", "__row"], SortMultipleOptions::default())
        .unique_stable(Some(cols(["__k"])), UniqueKeepStrategy::First)
        .select([
            col("__k"),
            col("__dd"),
            t.text("mother_id").alias("__m"),
            t.text("residence_village").alias("residence_village"),
            t.text("institution").alias("institution"),
            content.alias("__content"),
        ])
        .collect()
        .map_err(&err)?;
    if rows.height() == 0 {
        return empty();
    }
    // Copies equal in every other column: the smaller key is kept (the few stillbirths are
    // grouped here, where linkage's key order applies).
    let keys: Vec<Option<String>> = rows
        .column("__k")
        .and_then(|c| {
            c.str()
                .map(|s| s.iter().map(|v| v.map(str::to_owned)).collect())
        })
        .map_err(&err)?;
    let contents: Vec<Option<String>> = rows
        .column("__content")
        .and_then(|c| {
            c.str()
                .map(|s| s.iter().map(|v| v.map(str::to_owned)).collect())
        })
        .map_err(&err)?;
    let mut kept: HashMap<&str, usize> = HashMap::new();
    for (i, c) in contents.iter().enumerate() {
        let c = c.as_deref().unwrap_or("");
        let k = keys[i].as_deref().unwrap_or("");
        kept.entry(c)
            .and_modify(|j| {
                if key_order(k, keys[*j].as_deref().unwrap_or("")).is_lt() {
                    *j = i;
                }
            })
            .or_insert(i);
    }
    let mask: BooleanChunked = (0..rows.height())
        .map(|i| Some(kept.get(contents[i].as_deref().unwrap_or("")) == Some(&i)))
        .collect();
    let still = rows.filter(&mask).map_err(&err)?.lazy();
    // Her booking: the latest within the window before the delivery (the smallest key on
    // one date).
    let still = match input.prenatal_care.filter(|p| has(p, "mother_id")) {
        Some(p) => {
            let pt = Cols(p);
            let found = still
                .clone()
                .select([col("__k").alias("__bk"), col("__m"), col("__dd")])
                .join(
                    p.clone().lazy().select([
                        pt.text("mother_id").alias("__pm"),
                        pt.days("booking_date").alias("__pd"),
                        pt.key(SourceId::PrenatalCare).alias("prenatal_care_key"),
                        pt.int("booking_gestational_weeks")
                            .alias("prenatal_booking_weeks"),
                        pt.text("residence_village")
                            .alias("prenatal_residence_village"),
                    ]),
                    [col("__m")],
                    [col("__pm")],
                    JoinArgs::new(JoinType::Inner),
                )
                .filter(
                    col("__pd")
                        .gt_eq(col("__dd") - lit(cfg.prenatal_window_days))
                        .and(col("__pd").lt_eq(col("__dd"))),
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
                    col("prenatal_booking_weeks"),
                    col("prenatal_residence_village"),
                ]);
            still.left_join(found, col("__k"), col("__bk"))
        }
        None => still.with_columns([
            null(DataType::String).alias("prenatal_care_key"),
            null(DataType::Int32).alias("prenatal_booking_weeks"),
            null(DataType::String).alias("prenatal_residence_village"),
        ]),
    };
    // Her active household row: the first by status rank, then village (as linkage reads a
    // mother's rows); none: floating.
    let still = match input.household.filter(|h| has(h, "person_id")) {
        Some(h) => {
            let ht = Cols(h);
            let rank = ht.status_rank();
            let active = h
                .clone()
                .lazy()
                .with_column(rank.alias("__rank"))
                .filter(col("__rank").lt_eq(lit(1i32)))
                .select([
                    ht.text("person_id").alias("__hp"),
                    col("__rank"),
                    ht.text("village").alias("__hv"),
                ])
                .semi_join(still.clone().select([col("__m")]), col("__hp"), col("__m"))
                .sort_by_exprs(
                    [col("__hp"), col("__rank"), col("__hv")],
                    SortMultipleOptions::default().with_nulls_last(false),
                )
                .group_by([col("__hp")])
                .agg([col("__hv").first().alias("mother_household_village")])
                .with_column(lit(true).alias("__active"));
            still
                .left_join(active, col("__m"), col("__hp"))
                .with_column(col("__active").is_null().alias("floating"))
        }
        None => still.with_columns([
            null(DataType::String).alias("mother_household_village"),
            lit(true).alias("floating"),
        ]),
    };
    still
        .sort(["__k"], SortMultipleOptions::default())
        .select([
            col("__k").alias("hospital_delivery_key"),
            col("__m").alias("mother_id"),
            col("__dd").cast(DataType::Date).alias("delivery_date"),
            col("residence_village"),
            col("institution"),
            col("prenatal_care_key"),
            col("prenatal_booking_weeks"),
            col("prenatal_residence_village"),
            col("mother_household_village"),
            col("floating"),
        ])
        .collect()
        .map_err(LinkError::frame("stillbirths"))
}
