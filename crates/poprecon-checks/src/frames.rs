//! The input tables as the rules read them: each source with its record key (`__key`) and
//! row number (`__row`), the birth facts (one row per birth, with what each of its records
//! says), the active household village of each person, and where a record's discrepancy
//! is attributed (domain.md §8.12).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use polars::prelude::*;

use crate::error::ChecksError;
use crate::{CheckInput, ChecksConfig};

pub(crate) const REGISTRATION: &str = "birth_registration";
pub(crate) const PRENATAL: &str = "prenatal_care";
pub(crate) const DELIVERY: &str = "hospital_delivery";
pub(crate) const CERTIFICATE: &str = "birth_certificate";
pub(crate) const VACCINATION: &str = "vaccination";
pub(crate) const HOUSEHOLD: &str = "household";
pub(crate) const SCHOOL: &str = "school";
pub(crate) const MARRIAGE: &str = "marriage";
pub(crate) const SOCIAL_SECURITY: &str = "social_security";

/// The four birth-level sources, in the order of domain.md §8.2.
pub(crate) const BIRTH_SOURCES: [&str; 4] = [DELIVERY, CERTIFICATE, HOUSEHOLD, VACCINATION];

/// The field whose value is a source's record key (domain.md §7).
pub(crate) fn key_field(source: &str) -> &'static str {
    match source {
        CERTIFICATE => "certificate_no",
        VACCINATION => "child_code",
        HOUSEHOLD | SOCIAL_SECURITY => "person_id",
        SCHOOL => "student_no",
        _ => "record_id",
    }
}

/// Whether the key is a resident ID (its text as given is `<key>_input`).
pub(crate) fn key_is_id(source: &str) -> bool {
    matches!(source, HOUSEHOLD | SOCIAL_SECURITY)
}

/// Ingest's column of the record key as written in the extract, trimmed.
pub(crate) const RECORD_KEY: &str = "record_key";

/// The column of a source's key in `births` and `discrepancies`.
pub(crate) fn key_column(source: &str) -> String {
    format!("{source}_key")
}

/// Days since 1970-01-01.
pub(crate) fn epoch_days(d: NaiveDate) -> i32 {
    d.signed_duration_since(NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch"))
        .num_days() as i32
}

/// A null of a type.
pub(crate) fn null(dtype: DataType) -> Expr {
    lit(NULL).cast(dtype)
}

/// What a column read by the rules must hold.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Int,
    Date,
    Bool,
}

/// Columns the rules read, by kind. A column of another name is not read; a column of
/// these names and another type is a schema error.
const KINDS: &[(&str, Kind)] = &[
    ("registration_date", Kind::Date),
    ("booking_date", Kind::Date),
    ("delivery_date", Kind::Date),
    ("birth_date", Kind::Date),
    ("vaccination_date", Kind::Date),
    ("maternity_claim_date", Kind::Date),
    ("hepb1_date", Kind::Date),
    ("child_sex", Kind::Int),
    ("sex", Kind::Int),
    ("dose", Kind::Int),
    ("booking_gestational_weeks", Kind::Int),
    ("child_order", Kind::Int),
    ("birth_order", Kind::Int),
    ("policy_limit", Kind::Int),
    ("floating", Kind::Bool),
];

/// One input table and typed access to its columns; absent columns read as nulls, so that
/// a table built by hand needs only what its rules use.
#[derive(Debug, Clone)]
pub(crate) struct Table {
    pub name: String,
    pub df: DataFrame,
}

impl Table {
    fn new(name: &str, df: DataFrame) -> Result<Table, ChecksError> {
        for (column, kind) in KINDS {
            let Ok(c) = df.column(column) else { continue };
            let dtype = c.dtype();
            let ok = match kind {
                Kind::Int => dtype.is_integer() || dtype == &DataType::Null,
                Kind::Date => {
                    matches!(
                        dtype,
                        DataType::Date | DataType::Datetime(_, _) | DataType::Null
                    )
                }
                Kind::Bool => matches!(dtype, DataType::Boolean | DataType::Null),
            };
            if !ok {
                return Err(ChecksError::ColumnType {
                    table: name.to_owned(),
                    column: (*column).to_owned(),
                    expected: match kind {
                        Kind::Int => "integers",
                        Kind::Date => "dates",
                        Kind::Bool => "booleans",
                    },
                    found: dtype.to_string(),
                });
            }
        }
        Ok(Table {
            name: name.to_owned(),
            df,
        })
    }

    pub fn has(&self, column: &str) -> bool {
        self.df.column(column).is_ok()
    }

    pub fn lazy(&self) -> LazyFrame {
        self.df.clone().lazy()
    }

    /// A column as text, or nulls.
    pub fn text(&self, column: &str) -> Expr {
        if self.has(column) {
            col(column).cast(DataType::String)
        } else {
            null(DataType::String)
        }
    }

    /// A column as 32-bit integers, or nulls.
    pub fn int(&self, column: &str) -> Expr {
        if self.has(column) {
            col(column).cast(DataType::Int32)
        } else {
            null(DataType::Int32)
        }
    }

    /// A date column as days since 1970-01-01, or nulls.
    pub fn days(&self, column: &str) -> Expr {
        if self.has(column) {
            col(column).cast(DataType::Date).cast(DataType::Int32)
        } else {
            null(DataType::Int32)
        }
    }

    /// A resident-ID field: the valid normalised ID, or null.
    pub fn valid_id(&self, field: &str) -> Expr {
        self.text(field)
    }

    /// A resident-ID field: the valid ID, else the text as given (so that a record can still
    /// be matched to another carrying the same text).
    pub fn any_id(&self, field: &str) -> Expr {
        coalesce(&[self.text(field), self.text(&format!("{field}_input"))])
    }
}

/// Everything the rules read, prepared once.
pub(crate) struct Ctx<'a> {
    pub cfg: &'a ChecksConfig,
    pub input: &'a CheckInput<'a>,
    /// `as_of` and the period as days since 1970-01-01.
    pub as_of: i32,
    pub period: (i32, i32),
    /// Each source read, with `__key` (text) and `__row` (row number) added.
    pub sources: BTreeMap<&'static str, Table>,
    /// One row per birth (see [`BIRTH_FACTS`]); `None` before linkage.
    pub births: Option<Table>,
    /// `births` as linkage gave it (for local rules).
    pub births_raw: Option<Table>,
    /// `__a_pid` (a valid person ID) → `__a_village`: the village of the person's active
    /// household row (the smallest code if several).
    pub active: DataFrame,
    /// Whole sources with `__village` and `__birth` added, computed once: several rules and
    /// their denominators read them (see `records::attributed_all`).
    pub attributed: std::cell::RefCell<BTreeMap<String, DataFrame>>,
}

/// The columns of the birth facts, besides the `<source>_key` of every source in `births`:
/// `birth_id`, `village`, `floating`, `birth_order`, `policy_category`, `policy_limit`,
/// `__date` (days), `__mother` (valid ID), `__hepb1` (days), `__anchor` (`source=key` of
/// the birth's first record), and per birth-level source what its record says
/// (`__d_*` delivery, `__c_*` certificate, `__h_*` household, `__v_*` vaccination).
pub(crate) const BIRTH_FACTS: &str = "births";

impl<'a> Ctx<'a> {
    pub fn new(input: &'a CheckInput<'a>, cfg: &'a ChecksConfig) -> Result<Ctx<'a>, ChecksError> {
        let mut sources = BTreeMap::new();
        for (&id, &df) in &input.sources {
            let Some(id) = crate::SOURCES.into_iter().find(|s| *s == id) else {
                return Err(ChecksError::Config {
                    key: format!("sources.{id}"),
                    message: format!(
                        "unknown source; the sources are {}",
                        crate::SOURCES.map(|s| format!("`{s}`")).join(", ")
                    ),
                });
            };
            sources.insert(id, prepare_source(id, df)?);
        }
        let active = match sources.get(HOUSEHOLD) {
            Some(h) => active_villages(h)?,
            None => DataFrame::new(
                0,
                vec![
                    Column::new_empty("__a_pid".into(), &DataType::String),
                    Column::new_empty("__a_village".into(), &DataType::String),
                ],
            )
            .map_err(ChecksError::frame(HOUSEHOLD))?,
        };
        let mut ctx = Ctx {
            cfg,
            input,
            as_of: epoch_days(input.as_of),
            period: (epoch_days(input.period.0), epoch_days(input.period.1)),
            sources,
            births: None,
            births_raw: None,
            active,
            attributed: Default::default(),
        };
        if let Some(b) = input.births {
            let raw = Table::new(BIRTH_FACTS, b.clone())?;
            if !raw.has("birth_id") {
                return Err(ChecksError::MissingColumn {
                    table: BIRTH_FACTS.to_owned(),
                    column: "birth_id".to_owned(),
                    hint: "\nhint: pass the `births` table of `poprecon_link::link`",
                });
            }
            ctx.births = Some(birth_facts(&ctx, &raw)?);
            ctx.births_raw = Some(raw);
        }
        Ok(ctx)
    }

    pub fn source(&self, id: &str) -> Option<&Table> {
        self.sources.get(id)
    }

    /// Whether every one of `ids` is read.
    pub fn has_sources(&self, ids: &[&str]) -> bool {
        ids.iter().all(|s| self.sources.contains_key(s))
    }

    /// Adds `__village` and `__birth` to a source's rows (domain.md §8.12): the village of
    /// the birth the record belongs to; otherwise the record's own village field, else the
    /// active household village of the first of `persons` (valid ID fields) that has one.
    pub fn attribute(
        &self,
        lf: LazyFrame,
        t: &Table,
        own_village: Option<&str>,
        persons: &[&str],
    ) -> LazyFrame {
        let mut lf = lf;
        let key_col = key_column(&t.name);
        let belongs = match &self.births {
            Some(b) if b.has(&key_col) => {
                let map = b
                    .lazy()
                    .filter(col(&key_col).is_not_null())
                    .group_by([col(&key_col).alias("__bm_key")])
                    .agg([
                        col("birth_id").min().alias("__bm_birth"),
                        col("village").min().alias("__bm_village"),
                    ]);
                lf = lf.left_join(map, col("__key"), col("__bm_key"));
                true
            }
            _ => false,
        };
        let mut fallbacks = vec![match own_village {
            Some(v) => t.text(v),
            None => null(DataType::String),
        }];
        for (i, p) in persons.iter().enumerate() {
            let pid = format!("__p{i}_pid");
            let village = format!("__p{i}_village");
            lf = lf.with_column(t.valid_id(p).alias(&pid));
            // The registry's millions of residents narrowed first to the IDs this source
            // names (a semi-join hashes the few), so that the left join does not hash them
            // all for every source and ID field. Read off the table itself, not `lf`,
            // whose joins would run a second time.
            let named = t
                .lazy()
                .select([t.valid_id(p).alias("__named")])
                .filter(col("__named").is_not_null());
            let active = self
                .active
                .clone()
                .lazy()
                .semi_join(named, col("__a_pid"), col("__named"))
                .select([
                    col("__a_pid").alias(&pid),
                    col("__a_village").alias(&village),
                ]);
            lf = lf.left_join(active, col(&pid), col(&pid));
            fallbacks.push(col(&village));
        }
        let fallback = coalesce(&fallbacks);
        if belongs {
            lf.with_columns([
                when(col("__bm_birth").is_not_null())
                    .then(col("__bm_village"))
                    .otherwise(fallback)
                    .alias("__village"),
                col("__bm_birth").alias("__birth"),
            ])
        } else {
            lf.with_columns([
                fallback.alias("__village"),
                null(DataType::String).alias("__birth"),
            ])
        }
    }
}

/// A source's table with its key as text (`__key`) and its row number (`__row`).
fn prepare_source(id: &'static str, df: &DataFrame) -> Result<Table, ChecksError> {
    let key = key_field(id);
    if df.column(RECORD_KEY).is_err() && df.column(key).is_err() {
        return Err(ChecksError::MissingColumn {
            table: id.to_owned(),
            column: key.to_owned(),
            hint: "\nhint: pass the `records` table of `poprecon_ingest::ingest` for this source",
        });
    }
    let t = Table::new(id, df.clone())?;
    // Ingest's `record_key` is the key as written (domain.md §7); a table without it (built
    // by hand) gives its key field, for IDs the text as given.
    let key_expr = if t.has(RECORD_KEY) {
        t.text(RECORD_KEY)
    } else if key_is_id(id) {
        t.any_id(key)
    } else {
        t.text(key)
    };
    let df = t
        .lazy()
        .with_row_index("__row", None)
        .with_column(key_expr.alias("__key"))
        .collect()
        .map_err(ChecksError::frame(id))?;
    Table::new(id, df)
}

/// Household status as linkage ranks it: active (or no status) first, then moved out, then
/// the rest. A registry without a status column lists its residents.
fn status_rank(t: &Table) -> Expr {
    if !t.has("status") {
        return lit(0i32);
    }
    let s = col("status").cast(DataType::String);
    when(s.clone().is_null().or(s.clone().eq(lit("active"))))
        .then(lit(0i32))
        .when(s.eq(lit("moved_out")))
        .then(lit(2i32))
        .otherwise(lit(3i32))
}

fn active_villages(h: &Table) -> Result<DataFrame, ChecksError> {
    h.lazy()
        .filter(status_rank(h).eq(lit(0i32)))
        .select([
            h.valid_id("person_id").alias("__a_pid"),
            h.text("village").alias("__a_village"),
        ])
        .filter(col("__a_pid").is_not_null())
        .group_by([col("__a_pid")])
        .agg([col("__a_village").min()])
        .collect()
        .map_err(ChecksError::frame(HOUSEHOLD))
}

/// One row per key of a birth-level source: what the record says, prefixed `prefix`.
fn reduce_source(t: &Table, prefix: &str) -> LazyFrame {
    let p = |name: &str| format!("__{prefix}_{name}");
    let key = format!("__{prefix}_key");
    match t.name.as_str() {
        DELIVERY => t
            .lazy()
            .sort(["__key", "__row"], SortMultipleOptions::default())
            .group_by([col("__key").alias(&key)])
            .agg([
                t.days("delivery_date").first().alias(p("date")),
                t.int("child_sex").first().alias(p("sex")),
                t.valid_id("mother_id").first().alias(p("mother")),
                t.text("outcome").first().alias(p("outcome")),
                t.text("residence_village").first().alias(p("res")),
            ]),
        CERTIFICATE => t
            .lazy()
            .sort(["__key", "__row"], SortMultipleOptions::default())
            .group_by([col("__key").alias(&key)])
            .agg([
                t.days("birth_date").first().alias(p("date")),
                t.int("child_sex").first().alias(p("sex")),
                t.valid_id("mother_id").first().alias(p("mother")),
                t.text("birth_place_type").first().alias(p("place")),
            ]),
        HOUSEHOLD => {
            // The child's registration: the earliest registration date of its rows that are
            // not a move into the household.
            let not_move_in = t
                .text("registration_reason")
                .neq(lit("move_in"))
                .fill_null(lit(true));
            t.lazy()
                .with_column(status_rank(t).alias("__rank"))
                .sort(["__key", "__rank", "__row"], SortMultipleOptions::default())
                .group_by([col("__key").alias(&key)])
                .agg([
                    t.days("birth_date").first().alias(p("date")),
                    t.int("sex").first().alias(p("sex")),
                    t.valid_id("mother_id").first().alias(p("mother")),
                    t.valid_id("person_id").first().alias(p("pid")),
                    t.text("village").first().alias(p("village")),
                    t.days("registration_date")
                        .filter(not_move_in)
                        .min()
                        .alias(p("reg")),
                    t.text("registration_reason")
                        .eq(lit("birth"))
                        .fill_null(lit(false))
                        .any(true)
                        .alias(p("reason_birth")),
                ])
        }
        _ => {
            // Vaccination: dose rows of a child; each field is the first non-empty one in
            // the order the doses were given.
            let hepb1 = t
                .text("vaccine")
                .eq(lit("HepB"))
                .and(t.int("dose").eq(lit(1i32)));
            let first = |e: Expr| e.drop_nulls().first();
            t.lazy()
                .with_columns([
                    t.days("vaccination_date").alias("__vd"),
                    t.int("dose").alias("__dose"),
                ])
                .sort_by_exprs(
                    [col("__key"), col("__vd"), col("__dose"), col("__row")],
                    SortMultipleOptions::default().with_nulls_last(true),
                )
                .group_by([col("__key").alias(&key)])
                .agg([
                    first(t.days("birth_date")).alias(p("date")),
                    first(t.int("child_sex")).alias(p("sex")),
                    first(t.valid_id("mother_id")).alias(p("mother")),
                    first(t.valid_id("child_id")).alias(p("child")),
                    first(t.text("residence_village")).alias(p("res")),
                    col("__vd").filter(hepb1).min().alias(p("hepb1")),
                ])
        }
    }
}

/// The birth facts: `births` joined with what each of its records says.
fn birth_facts(ctx: &Ctx<'_>, raw: &Table) -> Result<Table, ChecksError> {
    let b = raw;
    let mut keep = vec![col("birth_id").cast(DataType::String)];
    for s in crate::SOURCES {
        keep.push(b.text(&key_column(s)).alias(key_column(s)));
    }
    keep.extend([
        b.text("village").alias("__b_village"),
        if b.has("floating") {
            col("floating")
                .cast(DataType::Boolean)
                .alias("__b_floating")
        } else {
            null(DataType::Boolean).alias("__b_floating")
        },
        b.int("birth_order").alias("birth_order"),
        b.text("policy_category").alias("policy_category"),
        b.int("policy_limit").alias("policy_limit"),
        b.days("birth_date").alias("__b_date"),
        b.valid_id("mother_id").alias("__b_mother"),
        b.days("hepb1_date").alias("__b_hepb1"),
    ]);
    let mut lf = b.lazy().select(keep);
    let prefixes = [
        (DELIVERY, "d"),
        (CERTIFICATE, "c"),
        (HOUSEHOLD, "h"),
        (VACCINATION, "v"),
    ];
    let fields: &[(&str, &[(&str, DataType)])] = &[
        (
            "d",
            &[
                ("date", DataType::Int32),
                ("sex", DataType::Int32),
                ("mother", DataType::String),
                ("outcome", DataType::String),
                ("res", DataType::String),
            ],
        ),
        (
            "c",
            &[
                ("date", DataType::Int32),
                ("sex", DataType::Int32),
                ("mother", DataType::String),
                ("place", DataType::String),
            ],
        ),
        (
            "h",
            &[
                ("date", DataType::Int32),
                ("sex", DataType::Int32),
                ("mother", DataType::String),
                ("pid", DataType::String),
                ("village", DataType::String),
                ("reg", DataType::Int32),
                ("reason_birth", DataType::Boolean),
            ],
        ),
        (
            "v",
            &[
                ("date", DataType::Int32),
                ("sex", DataType::Int32),
                ("mother", DataType::String),
                ("child", DataType::String),
                ("res", DataType::String),
                ("hepb1", DataType::Int32),
            ],
        ),
    ];
    for ((source, prefix), (_, cols)) in prefixes.iter().zip(fields) {
        match ctx.source(source) {
            Some(t) => {
                let reduced = reduce_source(t, prefix);
                lf = lf.left_join(
                    reduced,
                    col(key_column(source)),
                    col(format!("__{prefix}_key")),
                );
            }
            None => {
                lf = lf.with_columns(
                    cols.iter()
                        .map(|(name, dtype)| {
                            null(dtype.clone()).alias(format!("__{prefix}_{name}"))
                        })
                        .collect::<Vec<_>>(),
                );
            }
        }
    }
    // The mother's prenatal residence, the last but two step of attribution.
    lf = match ctx.source(PRENATAL) {
        Some(t) => {
            let res = t
                .lazy()
                .sort(["__key", "__row"], SortMultipleOptions::default())
                .group_by([col("__key").alias("__p_key")])
                .agg([t.text("residence_village").first().alias("__p_res")]);
            lf.left_join(res, col(key_column(PRENATAL)), col("__p_key"))
        }
        None => lf.with_column(null(DataType::String).alias("__p_res")),
    };
    let date = coalesce(&[
        col("__b_date"),
        col("__d_date"),
        col("__c_date"),
        col("__h_date"),
        col("__v_date"),
    ]);
    let mother = coalesce(&[
        col("__b_mother"),
        col("__d_mother"),
        col("__c_mother"),
        col("__h_mother"),
        col("__v_mother"),
    ]);
    let active = ctx.active.clone().lazy().select([
        col("__a_pid").alias("__m_pid"),
        col("__a_village").alias("__m_village"),
    ]);
    let anchor = coalesce(
        &BIRTH_SOURCES
            .iter()
            .map(|s| concat_str([lit(format!("{s}=")), col(key_column(s))], "", false))
            .chain([concat_str([lit("birth="), col("birth_id")], "", false)])
            .collect::<Vec<_>>(),
    );
    let village = if raw.has("village") {
        col("__b_village")
    } else {
        coalesce(&[
            col("__d_res"),
            col("__p_res"),
            col("__v_res"),
            col("__h_village"),
            col("__m_village"),
        ])
    };
    let df = lf
        .with_columns([
            date.alias("__date"),
            mother.alias("__mother"),
            anchor.alias("__anchor"),
        ])
        .left_join(active, col("__mother"), col("__m_pid"))
        .with_columns([
            // Floating: no active household row of the mother (domain.md §8.8), also when
            // no valid mother ID is known.
            coalesce(&[col("__b_floating"), col("__m_village").is_null()]).alias("floating"),
            // Attribution (§4, §8.11) where linkage gave no village.
            village.alias("village"),
            coalesce(&[col("__b_hepb1"), col("__v_hepb1")]).alias("__hepb1"),
        ])
        .with_column(coalesce(&[col("__h_date"), col("__date")]).alias("__h_birth"))
        .collect()
        .map_err(ChecksError::frame(BIRTH_FACTS))?;
    Table::new(BIRTH_FACTS, df)
}
