//! Indicators on hand-built births with known answers, the synthetic village against its
//! truth (computed here from `truth/births.parquet` and domain.md §6, not by this crate),
//! roll-up invariance, row-order independence, Wilson intervals, `low_n`, and assessment.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use polars::prelude::*;

use crate::*;

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("a date")
}

/// One hand-built birth of the link schema.
#[derive(Clone, Default)]
struct B {
    village: &'static str,
    date: &'static str,
    sex: i32,
    floating: bool,
    order: Option<i32>,
    limit: Option<i32>,
    hepb1: Option<&'static str>,
    delivery: bool,
    certificate: bool,
    household: bool,
    vaccination: bool,
    prenatal: bool,
    registration: bool,
    /// Weight of the certificate's link (None: deterministic).
    cert_weight: Option<f64>,
}

fn births(rows: &[B]) -> DataFrame {
    let n = rows.len();
    let id = |i: usize| format!("B{i:04}");
    let key = |on: fn(&B) -> bool, p: &str| -> Vec<Option<String>> {
        rows.iter()
            .enumerate()
            .map(|(i, b)| on(b).then(|| format!("{p}{i}")))
            .collect()
    };
    let dates = |v: Vec<Option<&str>>| {
        Int32Chunked::new(
            "d".into(),
            v.iter()
                .map(|d| {
                    d.map(|d| {
                        (day(d) - NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")).num_days()
                            as i32
                    })
                })
                .collect::<Vec<_>>(),
        )
        .into_date()
        .into_column()
    };
    let sources: Vec<i32> = rows
        .iter()
        .map(|b| {
            [b.delivery, b.certificate, b.household, b.vaccination]
                .iter()
                .filter(|x| **x)
                .count() as i32
        })
        .collect();
    DataFrame::new(
        n,
        vec![
            Column::new("birth_id".into(), (0..n).map(id).collect::<Vec<_>>()),
            dates(rows.iter().map(|b| Some(b.date)).collect()).with_name("birth_date".into()),
            Column::new(
                "child_sex".into(),
                rows.iter().map(|b| b.sex).collect::<Vec<_>>(),
            ),
            Column::new(
                "village".into(),
                rows.iter().map(|b| b.village).collect::<Vec<_>>(),
            ),
            Column::new(
                "floating".into(),
                rows.iter().map(|b| b.floating).collect::<Vec<_>>(),
            ),
            Column::new(
                "birth_order".into(),
                rows.iter().map(|b| b.order).collect::<Vec<_>>(),
            ),
            Column::new(
                "policy_limit".into(),
                rows.iter().map(|b| b.limit).collect::<Vec<_>>(),
            ),
            dates(rows.iter().map(|b| b.hepb1).collect()).with_name("hepb1_date".into()),
            Column::new("sources".into(), sources),
            Column::new("mother_id".into(), vec![None::<String>; n]),
            Column::new("prenatal_care_key".into(), key(|b| b.prenatal, "P")),
            Column::new(
                "birth_registration_key".into(),
                key(|b| b.registration, "R"),
            ),
            Column::new("hospital_delivery_key".into(), key(|b| b.delivery, "D")),
            Column::new("birth_certificate_key".into(), key(|b| b.certificate, "C")),
            Column::new(
                "birth_certificate_method".into(),
                rows.iter()
                    .map(|b| {
                        b.certificate.then_some(if b.cert_weight.is_some() {
                            "probabilistic"
                        } else {
                            "deterministic"
                        })
                    })
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "birth_certificate_weight".into(),
                rows.iter().map(|b| b.cert_weight).collect::<Vec<_>>(),
            ),
            Column::new("household_key".into(), key(|b| b.household, "H")),
            Column::new("vaccination_key".into(), key(|b| b.vaccination, "V")),
        ],
    )
    .expect("a births frame")
}

struct Names {
    counties: BTreeMap<String, String>,
    townships: BTreeMap<String, String>,
    villages: BTreeMap<String, String>,
}

fn names() -> Names {
    let m = |v: &[(&str, &str)]| {
        v.iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    };
    Names {
        counties: m(&[("340302", "龙子湖区"), ("340311", "淮上区")]),
        townships: m(&[("340302001", "东风街道"), ("340311100", "小蚌埠镇")]),
        villages: m(&[
            ("340302001001", "甲村"),
            ("340302001002", "乙村"),
            ("340311100001", "丙村"),
        ]),
    }
}

/// Runs [`compute`] over `births` with no source tables.
fn check(births: &DataFrame, cfg: &IndicatorConfig) -> DataFrame {
    check_with(births, &BTreeMap::new(), cfg)
}

/// `(numerator, denominator, value)` of one row.
fn row(df: &DataFrame, level: &str, area: &str, id: &str) -> (i64, Option<i64>, Option<f64>) {
    let hit = df
        .clone()
        .lazy()
        .filter(
            col("level")
                .eq(lit(level))
                .and(col("area_code").eq(lit(area)))
                .and(col("indicator_id").eq(lit(id))),
        )
        .collect()
        .expect("a filter");
    assert_eq!(hit.height(), 1, "one row for {level} {area} {id}");
    let i = |c: &str| hit.column(c).expect("column").i64().expect("i64").get(0);
    let v = hit
        .column("value")
        .expect("value")
        .f64()
        .expect("f64")
        .get(0);
    (i("numerator").expect("numerator"), i("denominator"), v)
}

const V1: &str = "340302001001";
const V2: &str = "340302001002";
const V3: &str = "340311100001";

fn fixture() -> Vec<B> {
    let base = B {
        village: V1,
        date: "2025-06-01",
        sex: 1,
        order: Some(1),
        limit: Some(3),
        hepb1: Some("2025-06-02"),
        delivery: true,
        certificate: true,
        household: true,
        vaccination: true,
        prenatal: true,
        registration: true,
        ..B::default()
    };
    vec![
        // V1: a complete first birth.
        base.clone(),
        // V1: a girl, no certificate, HepB on day 2 (late), third child.
        B {
            sex: 2,
            certificate: false,
            hepb1: Some("2025-06-03"),
            order: Some(3),
            ..base.clone()
        },
        // V1: floating mother's girl born at home, no delivery, no household record, order
        // unknown, certificate linked probabilistically at weight 8; her HepB dose dated the
        // day before her birth date (one of them is wrong): not late, so timely.
        B {
            sex: 2,
            hepb1: Some("2025-05-31"),
            floating: true,
            delivery: false,
            household: false,
            prenatal: false,
            order: None,
            cert_weight: Some(8.0),
            ..base.clone()
        },
        // V1: born late in December: outside the household denominator (as_of − 60 d), inside
        // the certificate's (as_of − 30 d) without a certificate.
        B {
            date: "2025-12-20",
            hepb1: Some("2025-12-21"),
            household: false,
            certificate: false,
            ..base.clone()
        },
        // V2: a fourth child over the limit, no registration, no booking, no vaccination.
        B {
            village: V2,
            order: Some(4),
            registration: false,
            prenatal: false,
            vaccination: false,
            hepb1: None,
            ..base.clone()
        },
        // V3 (another county): a boy seen only in the certificate.
        B {
            village: V3,
            delivery: false,
            household: false,
            vaccination: false,
            prenatal: false,
            registration: false,
            hepb1: None,
            order: None,
            ..base.clone()
        },
        // Outside the jurisdiction, and without a village: in no row.
        B {
            village: "320102001001",
            ..base.clone()
        },
        B {
            village: "",
            ..base.clone()
        },
        // Outside the period.
        B {
            date: "2024-12-31",
            ..base
        },
    ]
}

#[test]
fn hand_built_births_give_the_known_indicators() {
    let df = check(&births(&fixture()), &IndicatorConfig::default());
    let want: [(&str, &str, &str, i64, Option<i64>); 16] = [
        ("village", V1, "live_births", 4, None),
        ("village", V1, "sex_ratio_at_birth", 2, Some(2)),
        ("village", V1, "hospital_delivery_rate", 3, Some(4)),
        ("village", V1, "birth_certificate_rate", 2, Some(4)),
        ("village", V1, "household_registration_rate", 2, Some(2)),
        ("village", V1, "registration_service_rate", 4, Some(4)),
        ("village", V1, "prenatal_booking_rate", 3, Some(3)),
        ("village", V1, "hepb1_timely_rate", 3, Some(4)),
        ("village", V1, "policy_compliance_rate", 3, Some(3)),
        ("village", V1, "higher_order_birth_share", 1, Some(3)),
        ("village", V1, "floating_birth_share", 1, Some(4)),
        ("village", V1, "floating_prenatal_booking_rate", 0, Some(0)),
        ("village", V2, "policy_compliance_rate", 0, Some(1)),
        ("village", V3, "birth_info_accuracy_rate", 0, Some(0)),
        ("county", "340302", "live_births", 5, None),
        ("jurisdiction", "3403", "hospital_delivery_rate", 4, Some(6)),
    ];
    for (level, area, id, num, den) in want {
        let (n, d, _) = row(&df, level, area, id);
        assert_eq!((n, d), (num, den), "{level} {area} {id}");
    }
    // 0/0 has a row and no value; the sex ratio is ×100.
    assert_eq!(
        row(&df, "village", V1, "floating_prenatal_booking_rate").2,
        None
    );
    assert_eq!(row(&df, "village", V1, "sex_ratio_at_birth").2, Some(100.0));
    // Every area gets all 14 indicators: 3 villages, 2 townships, 2 counties, a city and
    // the jurisdiction.
    assert_eq!(df.height(), 9 * 14);
    let named = df
        .column("area_name")
        .expect("names")
        .str()
        .expect("text")
        .get(0);
    assert_eq!(
        named, None,
        "the jurisdiction has no name unless the config gives one"
    );
    // Strict and loose thresholds: the certificate linked at weight 8 counts only loosely.
    let strict = |df: &DataFrame, c: &str| {
        df.clone()
            .lazy()
            .filter(
                col("level")
                    .eq(lit("village"))
                    .and(col("area_code").eq(lit(V1)))
                    .and(col("indicator_id").eq(lit("birth_certificate_rate"))),
            )
            .collect()
            .expect("a filter")
            .column(c)
            .expect("column")
            .i64()
            .expect("i64")
            .get(0)
    };
    assert_eq!(strict(&df, "numerator_strict"), Some(1));
    assert_eq!(strict(&df, "numerator_loose"), Some(2));
    let other = df
        .clone()
        .lazy()
        .filter(col("indicator_id").eq(lit("live_births")))
        .select([col("numerator_strict").null_count()])
        .collect()
        .expect("a count");
    assert_eq!(
        other
            .column("numerator_strict")
            .expect("c")
            .u32()
            .expect("u32")
            .get(0),
        Some(9)
    );
}

#[test]
fn wilson_intervals_have_their_known_values() {
    let df = df! {
        "x" => [8i64, 0, 10, 0],
        "n" => [10i64, 10, 10, 0],
    }
    .expect("a frame");
    let (lo, hi) = compute::wilson(col("x"), col("n"));
    let out = df
        .lazy()
        .select([lo.alias("lo"), hi.alias("hi")])
        .collect()
        .expect("wilson");
    let get = |c: &str| -> Vec<Option<f64>> {
        out.column(c)
            .expect("c")
            .f64()
            .expect("f64")
            .iter()
            .map(|v| v.map(|v| (v * 1e4).round() / 1e4))
            .collect()
    };
    // Published values: 8/10 → [0.4902, 0.9433]; 0/10 → [0, 0.2775]; 10/10 → [0.7225, 1].
    assert_eq!(get("lo"), vec![Some(0.4902), Some(0.0), Some(0.7225), None]);
    assert_eq!(get("hi"), vec![Some(0.9433), Some(0.2775), Some(1.0), None]);
}

#[test]
fn small_denominators_are_marked_low_n() {
    let cfg = IndicatorConfig {
        low_n: 3,
        ..IndicatorConfig::default()
    };
    let df = check(&births(&fixture()), &cfg);
    let low = |area: &str, id: &str| {
        df.clone()
            .lazy()
            .filter(
                col("area_code")
                    .eq(lit(area))
                    .and(col("indicator_id").eq(lit(id))),
            )
            .collect()
            .expect("a filter")
            .column("low_n")
            .expect("low_n")
            .bool()
            .expect("bool")
            .get(0)
    };
    assert_eq!(low(V1, "hospital_delivery_rate"), Some(false)); // 4 ≥ 3
    assert_eq!(low(V1, "household_registration_rate"), Some(true)); // 2 < 3
    assert_eq!(low(V2, "hospital_delivery_rate"), Some(true)); // 1 < 3
    assert_eq!(low(V1, "live_births"), Some(false)); // a count is never low_n
}

#[test]
fn the_configuration_reads_from_toml_with_defaults() {
    let cfg: IndicatorConfig = toml::from_str(
        "low_n = 10\n[[catalogue]]\nid = \"hospital_delivery_rate\"\nbases = [\"residence\", \"occurrence\"]\n",
    )
    .expect("the section parses");
    assert_eq!(cfg.low_n, 10);
    assert_eq!(cfg.strict_threshold, 12.0);
    assert_eq!(cfg.catalogue.len(), 1);
    cfg.validate().expect("valid");
    assert_eq!(IndicatorConfig::default().catalogue.len(), 14);
    assert!(toml::from_str::<IndicatorConfig>("lowN = 3").is_err());
    let bad: IndicatorConfig = toml::from_str("[[catalogue]]\nid = \"nope\"").expect("parses");
    assert!(bad.validate().is_err());
    let a: AssessmentConfig = toml::from_str(
        "levels = [\"county\"]\n[[items]]\nindicator = \"hospital_delivery_rate\"\nweight = 50\ntarget = 0.98\nfloor = 0.9\n[[vetoes]]\nid = \"x\"\ncondition = \"sex_ratio_at_birth > 115\"\nreason = \"r\"\n",
    )
    .expect("the assessment parses");
    a.validate().expect("valid");
    assert_eq!(a.vetoes[0].levels, vec![Level::County, Level::Township]);
}

/// An `indicators` table of three counties (by hand) for the assessment.
fn county_indicators() -> DataFrame {
    // County A: hospital delivery 98 % (full), sex ratio 120 (vetoed).
    // County B: 94 % (half of 20 points), sex ratio 105.
    // County C: 85 % (below the floor), no girls (ratio null: no veto).
    df! {
        "level" => ["county"; 6],
        "area_code" => ["340302", "340302", "340303", "340303", "340304", "340304"],
        "area_name" => ["A", "A", "B", "B", "C", "C"],
        "indicator_id" => ["hospital_delivery_rate", "sex_ratio_at_birth", "hospital_delivery_rate", "sex_ratio_at_birth", "hospital_delivery_rate", "sex_ratio_at_birth"],
        "basis" => ["residence"; 6],
        "numerator" => [98i64, 120, 94, 105, 85, 10],
        "denominator" => [100i64, 100, 100, 100, 100, 0],
        "value" => [Some(0.98), Some(120.0), Some(0.94), Some(105.0), Some(0.85), None],
        "low_n" => [false; 6],
    }
    .expect("a frame")
}

#[test]
fn the_assessment_vetoes_the_right_county_and_credits_linearly() {
    let cfg = AssessmentConfig {
        levels: vec![Level::County],
        basis: Basis::Residence,
        items: vec![
            AssessmentItem {
                indicator: "hospital_delivery_rate".into(),
                weight: 20.0,
                target: 0.98,
                floor: 0.90,
            },
            // Lower is better: full at 107, none at 115.
            AssessmentItem {
                indicator: "sex_ratio_at_birth".into(),
                weight: 10.0,
                target: 107.0,
                floor: 115.0,
            },
        ],
        vetoes: vec![Veto {
            id: "sex_ratio_high".into(),
            condition: "sex_ratio_at_birth > 115 AND sex_ratio_at_birth_denominator >= 20".into(),
            reason: "出生人口性别比高于115".into(),
            levels: vec![Level::County],
        }],
    };
    let out = assess(&county_indicators(), &cfg).expect("assessment runs");
    assert_eq!(out.height(), 9, "two items and a total for three counties");
    let col_s = |c: &str| -> Vec<Option<String>> {
        out.column(c)
            .expect("c")
            .str()
            .expect("str")
            .iter()
            .map(|v| v.map(str::to_owned))
            .collect()
    };
    let col_f = |c: &str| -> Vec<Option<f64>> {
        out.column(c)
            .expect("c")
            .f64()
            .expect("f64")
            .iter()
            .map(|v| v.map(|v| (v * 1e6).round() / 1e6))
            .collect()
    };
    assert_eq!(
        col_s("indicator_id")
            .iter()
            .flatten()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        ["hospital_delivery_rate", "sex_ratio_at_birth", "total"].repeat(3)
    );
    // Credits: A 20 and 0 (120 is past the floor); B 10 (half way) and 10; C 0 and null.
    assert_eq!(
        col_f("credit"),
        vec![
            Some(20.0),
            Some(0.0),
            Some(20.0),
            Some(10.0),
            Some(10.0),
            Some(20.0),
            Some(0.0),
            None,
            Some(0.0)
        ]
    );
    // Totals out of 100 over the weights with a value: A 20/30, B 20/30, C 0/20.
    let totals: Vec<Option<f64>> = col_f("value").into_iter().skip(2).step_by(3).collect();
    assert_eq!(totals, vec![Some(66.666667), Some(66.666667), Some(0.0)]);
    let veto: Vec<Option<bool>> = out
        .column("veto")
        .expect("veto")
        .bool()
        .expect("bool")
        .iter()
        .collect();
    assert_eq!(veto, [vec![Some(true); 3], vec![Some(false); 6]].concat());
    assert_eq!(
        col_s("veto_reasons")[2].as_deref(),
        Some("出生人口性别比高于115")
    );
}

#[test]
fn credit_is_linear_between_floor_and_target() {
    let cfg = AssessmentConfig {
        levels: vec![Level::County],
        basis: Basis::Residence,
        items: vec![AssessmentItem {
            indicator: "hospital_delivery_rate".into(),
            weight: 40.0,
            target: 1.0,
            floor: 0.5,
        }],
        vetoes: vec![],
    };
    let values = [0.4, 0.5, 0.6, 0.75, 0.9, 1.0];
    let n = values.len();
    let ind = df! {
        "level" => vec!["county"; n],
        "area_code" => (0..n).map(|i| format!("34030{i}")).collect::<Vec<_>>(),
        "area_name" => vec!["x"; n],
        "indicator_id" => vec!["hospital_delivery_rate"; n],
        "basis" => vec!["residence"; n],
        "numerator" => vec![1i64; n],
        "denominator" => vec![1i64; n],
        "value" => values.to_vec(),
        "low_n" => vec![false; n],
    }
    .expect("a frame");
    let out = assess(&ind, &cfg).expect("assessment runs");
    let credits: Vec<f64> = out
        .lazy()
        .filter(col("indicator_id").neq(lit("total")))
        .collect()
        .expect("items")
        .column("credit")
        .expect("credit")
        .f64()
        .expect("f64")
        .iter()
        .map(|v| (v.expect("a credit") * 1e6).round() / 1e6)
        .collect();
    assert_eq!(credits, vec![0.0, 0.0, 8.0, 20.0, 32.0, 40.0]);
}

// The synthetic village against its truth.

fn read_parquet(path: &std::path::Path) -> DataFrame {
    let file = std::fs::File::open(path).expect("the truth is written");
    ParquetReader::new(file).finish().expect("the truth reads")
}

fn strs(df: &DataFrame, c: &str) -> Vec<Option<String>> {
    match df.column(c) {
        Ok(col) => col
            .cast(&DataType::String)
            .expect("text")
            .str()
            .expect("text")
            .iter()
            .map(|v| v.map(str::to_owned))
            .collect(),
        Err(_) => vec![None; df.height()],
    }
}

fn ints(df: &DataFrame, c: &str) -> Vec<Option<i64>> {
    match df.column(c) {
        Ok(col) => col
            .cast(&DataType::Int64)
            .expect("ints")
            .i64()
            .expect("i64")
            .iter()
            .collect(),
        Err(_) => vec![None; df.height()],
    }
}

/// Dates as days since 1970-01-01.
fn days(df: &DataFrame, c: &str) -> Vec<Option<i64>> {
    match df.column(c) {
        Ok(col) => col
            .cast(&DataType::Date)
            .expect("dates")
            .cast(&DataType::Int64)
            .expect("days")
            .i64()
            .expect("i64")
            .iter()
            .collect(),
        Err(_) => vec![None; df.height()],
    }
}

/// `(sex 1/2, birth date, valid mother ID)` of the first row per record key.
fn facts_by_key(
    df: Option<&DataFrame>,
    sex: &str,
    date: &str,
) -> BTreeMap<String, [Option<String>; 3]> {
    let mut out = BTreeMap::new();
    let Some(df) = df else { return out };
    let (k, s, d, m) = (
        strs(df, "record_key"),
        ints(df, sex),
        days(df, date),
        strs(df, "mother_id"),
    );
    for i in 0..df.height() {
        let Some(key) = k[i].clone() else { continue };
        let e = out.entry(key).or_insert([None, None, None]);
        let vals = [
            s[i].filter(|v| *v == 1 || *v == 2).map(|v| v.to_string()),
            d[i].map(|v| v.to_string()),
            m[i].clone(),
        ];
        for (slot, v) in e.iter_mut().zip(vals) {
            if slot.is_none() {
                *slot = v;
            }
        }
    }
    out
}

type Counts = BTreeMap<(String, String), (i64, Option<i64>)>;

/// The village indicators of the truth, by domain.md §6 and §8, from the truth's births and
/// the accepted source records their keys name.
fn truth_indicators(
    truth: &DataFrame,
    tables: &BTreeMap<String, DataFrame>,
    as_of: NaiveDate,
    jurisdiction: &str,
) -> Counts {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
    let as_of = (as_of - epoch).num_days();
    let village = strs(truth, "village");
    let floating: Vec<bool> = truth
        .column("mother_floating")
        .expect("floating")
        .bool()
        .expect("bool")
        .iter()
        .map(|v| v.unwrap_or(true))
        .collect();
    let sex = ints(truth, "sex");
    let date = days(truth, "birth_date");
    let order = ints(truth, "birth_order");
    let key = |s: &str| strs(truth, &format!("{s}_key"));
    let (hd, bc, hh, va, pc, br) = (
        key("hospital_delivery"),
        key("birth_certificate"),
        key("household"),
        key("vaccination"),
        key("prenatal_care"),
        key("birth_registration"),
    );
    // Booking weeks by prenatal key; HepB dose 1 by child code.
    let mut weeks: BTreeMap<String, i64> = BTreeMap::new();
    if let Some(p) = tables.get("prenatal_care") {
        for (k, w) in strs(p, "record_key")
            .into_iter()
            .zip(ints(p, "booking_gestational_weeks"))
        {
            if let (Some(k), Some(w)) = (k, w) {
                weeks.entry(k).or_insert(w);
            }
        }
    }
    let mut hepb1: BTreeMap<String, i64> = BTreeMap::new();
    let vac = tables.get("vaccination");
    if let Some(v) = vac {
        let (k, vaccine, dose, when) = (
            strs(v, "record_key"),
            strs(v, "vaccine"),
            ints(v, "dose"),
            days(v, "vaccination_date"),
        );
        for i in 0..v.height() {
            if let (Some(k), Some("HepB"), Some(1), Some(d)) =
                (k[i].clone(), vaccine[i].as_deref(), dose[i], when[i])
            {
                let e = hepb1.entry(k).or_insert(d);
                *e = (*e).min(d);
            }
        }
    }
    let per_source = [
        facts_by_key(
            tables.get("hospital_delivery"),
            "child_sex",
            "delivery_date",
        ),
        facts_by_key(tables.get("birth_certificate"), "child_sex", "birth_date"),
        facts_by_key(tables.get("household"), "sex", "birth_date"),
        facts_by_key(vac, "child_sex", "birth_date"),
    ];
    // The household key is the person ID, normalised by ingest; the truth writes it as typed.
    let norm = |k: &str| k.trim().to_uppercase();
    let hh_facts: BTreeMap<String, [Option<String>; 3]> = per_source[2]
        .iter()
        .map(|(k, v)| (norm(k), v.clone()))
        .collect();
    let mut out: Counts = BTreeMap::new();
    for i in 0..truth.height() {
        let Some(v) = village[i]
            .clone()
            .filter(|v| v.len() == 12 && v.starts_with(jurisdiction))
        else {
            continue;
        };
        let mut add = |id: &str, num: bool, den: Option<bool>| {
            let e = out
                .entry((v.clone(), id.to_owned()))
                .or_insert((0, den.map(|_| 0)));
            e.0 += i64::from(num && den.unwrap_or(true));
            if let (Some(d), Some(true)) = (e.1.as_mut(), den) {
                *d += 1;
            }
        };
        let d = date[i].expect("a birth date");
        let has = |k: &[Option<String>]| k[i].is_some();
        add("live_births", true, None);
        // The sex ratio's numerator is not within its denominator: boys and girls.
        let e = out
            .entry((v.clone(), "sex_ratio_at_birth".to_owned()))
            .or_insert((0, Some(0)));
        e.0 += i64::from(sex[i] == Some(1));
        *e.1.as_mut().expect("girls") += i64::from(sex[i] == Some(2));
        let mut add = |id: &str, num: bool, den: bool| {
            let e = out
                .entry((v.clone(), id.to_owned()))
                .or_insert((0, Some(0)));
            e.0 += i64::from(num && den);
            *e.1.as_mut().expect("a denominator") += i64::from(den);
        };
        add("hospital_delivery_rate", has(&hd), true);
        add("birth_certificate_rate", has(&bc), d <= as_of - 30);
        add(
            "household_registration_rate",
            has(&hh),
            !floating[i] && d <= as_of - 60,
        );
        add("registration_service_rate", has(&br), true);
        add("prenatal_booking_rate", has(&pc), has(&hd));
        let early = pc[i]
            .as_ref()
            .and_then(|k| weeks.get(k))
            .is_some_and(|w| *w < 13);
        add("early_prenatal_booking_rate", early, has(&hd));
        let timely = va[i]
            .as_ref()
            .and_then(|k| hepb1.get(k))
            .is_some_and(|h| h - d <= 1);
        add("hepb1_timely_rate", timely, d <= as_of - 7);
        // Limits: 2 from 2016-01-01, 3 from 2021-05-31 (every synthetic birth is later).
        let limit = if d >= (day("2021-05-31") - epoch).num_days() {
            3
        } else {
            2
        };
        add(
            "policy_compliance_rate",
            order[i].is_some_and(|o| o <= limit),
            order[i].is_some(),
        );
        add(
            "higher_order_birth_share",
            order[i].is_some_and(|o| o >= 3),
            order[i].is_some(),
        );
        let recs: Vec<&[Option<String>; 3]> = [
            hd[i].as_ref().and_then(|k| per_source[0].get(k)),
            bc[i].as_ref().and_then(|k| per_source[1].get(k)),
            hh[i].as_ref().and_then(|k| hh_facts.get(&norm(k))),
            va[i].as_ref().and_then(|k| per_source[3].get(k)),
        ]
        .into_iter()
        .flatten()
        .collect();
        let seen = [&hd, &bc, &hh, &va]
            .iter()
            .filter(|k| k[i].is_some())
            .count();
        let mismatch = (0..3).any(|f| {
            let mut vals: Vec<&String> = recs.iter().filter_map(|r| r[f].as_ref()).collect();
            vals.sort();
            vals.dedup();
            vals.len() > 1
        });
        add("birth_info_accuracy_rate", !mismatch, seen >= 2);
        add("floating_birth_share", floating[i], true);
        add(
            "floating_prenatal_booking_rate",
            has(&pc),
            floating[i] && has(&hd),
        );
    }
    out
}

/// A `births` table of the link schema made from the truth's births: the truth's keys,
/// village, floating flag, sex, date and order, the limit in force (3 from 2021-05-31) and
/// the earliest HepB dose 1 of the vaccination key. It stands in for a perfect linkage.
fn births_of_truth(truth: &DataFrame, tables: &BTreeMap<String, DataFrame>) -> DataFrame {
    let hepb1 = match tables.get("vaccination") {
        Some(v) => v
            .clone()
            .lazy()
            .filter(col("vaccine").eq(lit("HepB")).and(col("dose").eq(lit(1))))
            .group_by([col("record_key")])
            .agg([col("vaccination_date").min().alias("hepb1_date")]),
        None => df! { "record_key" => Vec::<String>::new() }
            .expect("empty")
            .lazy()
            .with_column(lit(NULL).cast(DataType::Date).alias("hepb1_date")),
    };
    let keys = [
        "hospital_delivery_key",
        "birth_certificate_key",
        "household_key",
        "vaccination_key",
    ];
    truth
        .clone()
        .lazy()
        .join(
            hepb1,
            [col("vaccination_key")],
            [col("record_key")],
            JoinArgs::new(JoinType::Left),
        )
        .with_columns([
            col("sex").alias("child_sex"),
            col("mother_floating").alias("floating"),
            when(col("birth_date").gt_eq(lit(day("2021-05-31"))))
                .then(lit(3))
                .otherwise(lit(2))
                .alias("policy_limit"),
            keys.iter()
                .map(|k| col(*k).is_not_null().cast(DataType::Int32))
                .reduce(|a, b| a + b)
                .expect("four keys")
                .alias("sources"),
        ])
        .collect()
        .expect("births of the truth")
}

fn village_counts(df: &DataFrame) -> Counts {
    let v = df
        .clone()
        .lazy()
        .filter(
            col("level")
                .eq(lit("village"))
                .and(col("basis").eq(lit("residence"))),
        )
        .collect()
        .expect("villages");
    let (a, id, n, d) = (
        strs(&v, "area_code"),
        strs(&v, "indicator_id"),
        ints(&v, "numerator"),
        ints(&v, "denominator"),
    );
    (0..v.height())
        .map(|i| {
            (
                (a[i].clone().expect("area"), id[i].clone().expect("id")),
                (n[i].expect("numerator"), d[i]),
            )
        })
        .collect()
}

/// The rows of a table in a seeded random order.
fn shuffled(df: &DataFrame, seed: u64) -> DataFrame {
    let mut state = seed;
    let mut idx: Vec<IdxSize> = (0..df.height() as IdxSize).collect();
    for i in (1..idx.len()).rev() {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let j = ((state >> 33) % (i as u64 + 1)) as usize;
        idx.swap(i, j);
    }
    df.take(&IdxCa::new("idx".into(), idx))
        .expect("a permutation")
}

#[test]
fn the_synthetic_village_gives_its_truth_rolls_up_and_ignores_row_order() {
    let tmp = tempfile::tempdir().expect("a temporary folder");
    let dir = tmp.path().join("village");
    poprecon_synth::generate(
        &poprecon_synth::SynthConfig::new(poprecon_synth::Scale::Village, 1),
        &dir,
        &|_| {},
    )
    .expect("the synthetic village is generated");
    let plan =
        poprecon_pipeline::Plan::load(&dir.join("pipeline.toml")).expect("the pipeline loads");
    let mut tables = BTreeMap::new();
    for sp in &plan.sources {
        let out = poprecon_ingest::ingest(&plan.ingest_config(sp)).expect("the extracts ingest");
        tables.insert(sp.source.id().to_owned(), out.records);
    }
    let linked = poprecon_link::link(
        &poprecon_link::LinkInput::from_tables(
            |s| tables.get(s),
            plan.as_of,
            plan.period,
            &plan.jurisdiction,
        ),
        &poprecon_link::LinkConfig::default(),
    )
    .expect("linkage runs");
    let run = |births: &DataFrame, tables: &BTreeMap<String, DataFrame>| {
        let f = staged(births, tables, plan.period);
        compute(&plan_input(&plan, &f, tables), &IndicatorConfig::default())
            .expect("indicators compute")
    };
    let truth = read_parquet(&dir.join("truth").join("births.parquet"));
    let want = truth_indicators(&truth, &tables, plan.as_of, &plan.jurisdiction);
    // The indicators of the linkage's births, against the truth: the differences are the
    // linkage's (a split birth, another birth order), reported, not asserted here.
    let df = run(&linked.births, &tables);
    let chained = village_counts(&df);
    let differ = want
        .iter()
        .filter(|(k, v)| chained.get(*k) != Some(*v))
        .count();
    eprintln!(
        "through linkage: {differ} of {} village indicator rows differ from the truth",
        want.len()
    );
    // The indicators of the truth's own births must equal the truth exactly.
    let of_truth = run(&births_of_truth(&truth, &tables), &tables);
    let got = village_counts(&of_truth);
    assert!(!want.is_empty());
    let diff: Vec<String> = want
        .iter()
        .filter(|(k, v)| got.get(*k) != Some(*v))
        .map(|(k, v)| format!("{k:?}: truth {v:?}, computed {:?}", got.get(k)))
        .collect();
    assert!(
        diff.is_empty(),
        "village indicators differ from the truth:\n{}",
        diff.join("\n")
    );
    assert_eq!(got.len(), want.len(), "no extra village rows");
    for ((v, id), (n, d)) in want
        .iter()
        .filter(|(k, _)| k.1 == "hospital_delivery_rate" || k.1 == "live_births")
    {
        eprintln!("truth {v} {id}: {n}/{d:?}");
    }
    // Roll-up: each county row is the sum of its villages' rows.
    let level = |l: &str| {
        of_truth
            .clone()
            .lazy()
            .filter(col("level").eq(lit(l)))
            .collect()
            .expect("a level")
    };
    let counties = level("county");
    assert!(counties.height() > 0);
    let (a, id, n, d) = (
        strs(&counties, "area_code"),
        strs(&counties, "indicator_id"),
        ints(&counties, "numerator"),
        ints(&counties, "denominator"),
    );
    for i in 0..counties.height() {
        let (a, id) = (a[i].clone().expect("area"), id[i].clone().expect("id"));
        let parts: Vec<_> = got
            .iter()
            .filter(|((v, x), _)| v.starts_with(&a) && *x == id)
            .collect();
        let sum_n: i64 = parts.iter().map(|(_, c)| c.0).sum();
        let sum_d: Option<i64> = parts.iter().map(|(_, c)| c.1).sum();
        assert_eq!(
            (n[i].expect("numerator"), d[i]),
            (sum_n, sum_d),
            "county {a} {id}"
        );
    }
    // The same inputs in another row order give an identical table.
    let linked_facts = staged(&linked.births, &tables, plan.period);
    let births_again = shuffled(&linked.births, 7);
    let tables_again: BTreeMap<String, DataFrame> = tables
        .iter()
        .map(|(k, t)| (k.clone(), shuffled(t, 11)))
        .collect();
    let again = run(&births_again, &tables_again);
    assert!(df.equals_missing(&again), "the table depends on row order");
    // Drill-through: the village rows' births add up to the counts.
    // Each source in thirds, for the data quality measured a piece at a time (below).
    let thirds: Vec<BTreeMap<String, DataFrame>> = tables
        .iter()
        .flat_map(|(id, t)| {
            let third = t.height() as i64 / 3 + 1;
            (0..3).map(move |k| BTreeMap::from([(id.clone(), t.slice(k * third, third as usize))]))
        })
        .collect();
    let input = |sources| plan_input(&plan, &linked_facts, sources);
    let drill = drill_through(&input(&tables), &IndicatorConfig::default()).expect("drill-through");
    let in_num = drill
        .clone()
        .lazy()
        .filter(col("in_numerator").and(col("indicator_id").eq(lit("hospital_delivery_rate"))))
        .collect()
        .expect("a filter")
        .height() as i64;
    let total: i64 = got
        .iter()
        .filter(|((_, id), _)| id == "hospital_delivery_rate")
        .map(|(_, c)| c.0)
        .sum();
    assert_eq!(in_num, total);
    // Data quality: one source at least, shares within [0, 1].
    let dq = data_quality(&input(&tables), &IndicatorConfig::default()).expect("data quality");
    assert!(dq.height() > 0);
    let bad = dq
        .clone()
        .lazy()
        .filter(
            col("metric")
                .neq(lit("mean_lag_days"))
                .and(col("value").gt(lit(1.0)).or(col("value").lt(lit(0.0)))),
        )
        .collect()
        .expect("a filter")
        .height();
    assert_eq!(bad, 0, "a share outside [0, 1]");
    // Measured a piece of a source at a time (as the night measures the registry it reads
    // in pieces), the tables merge into the one of every row at once.
    let pieces: Vec<DataFrame> = thirds
        .iter()
        .map(|one| {
            data_quality(&input(one), &IndicatorConfig::default()).expect("data quality of a piece")
        })
        .collect();
    assert!(pieces.len() >= 6);
    let merged = crate::merge_data_quality(pieces).expect("merged");
    assert!(merged.equals_missing(&dq), "{merged}\n{dq}");
}

#[test]
fn unknown_codes_roll_up_only_to_known_areas() {
    let b = |village| B {
        village,
        date: "2025-03-01",
        sex: 1,
        delivery: true,
        ..B::default()
    };
    // A known village; an unknown one of a known township; one of an unknown township of a
    // known county; one of an unknown county.
    let df = check(
        &births(&[
            b(V1),
            b("340302001999"),
            b("340302777001"),
            b("340399001001"),
        ]),
        &IndicatorConfig::default(),
    );
    let live = |level: &str, area: &str| row(&df, level, area, "live_births").0;
    assert_eq!(live("village", "340302001999"), 1);
    assert_eq!(live("village", "340302777001"), 1);
    assert_eq!(live("township", "340302001"), 2);
    assert_eq!(live("county", "340302"), 3);
    assert_eq!(live("city", "3403"), 4);
    assert_eq!(live("jurisdiction", "3403"), 4);
    let areas = strs(&df, "area_code");
    for unknown in ["340302777", "340399"] {
        assert!(
            !areas.iter().any(|a| a.as_deref() == Some(unknown)),
            "{unknown} is not a known area"
        );
    }
}

/// The births stage over `births` and the source tables, as the night runs it.
/// The indicators' input of a pipeline's plan: its dates, jurisdiction and divisions, with
/// the births stage's `facts` and the canonical `sources`.
fn plan_input<'a>(
    plan: &'a poprecon_pipeline::Plan,
    facts: &'a poprecon_link::BirthFacts,
    sources: &'a BTreeMap<String, DataFrame>,
) -> IndicatorInput<'a> {
    IndicatorInput {
        births: &facts.births,
        stillbirths: Some(&facts.stillbirths),
        sources,
        as_of: plan.as_of,
        period: plan.period,
        jurisdiction: &plan.jurisdiction,
        divisions: Divisions {
            counties: &plan.divisions.counties,
            townships: &plan.divisions.townships,
            villages: &plan.divisions.villages,
        },
    }
}

fn staged(
    births: &DataFrame,
    tables: &BTreeMap<String, DataFrame>,
    period: (NaiveDate, NaiveDate),
) -> poprecon_link::BirthFacts {
    poprecon_link::birth_facts(
        births,
        &poprecon_link::LinkInput::from_tables(
            |s| tables.get(s),
            day("2026-01-31"),
            period,
            "3403",
        ),
        &poprecon_link::LinkConfig::default(),
        &poprecon_link::FactSettings::default(),
    )
    .expect("the births stage runs")
}

/// Runs [`compute`] over `births` and the given source tables, through the births stage.
fn check_with(
    births: &DataFrame,
    sources: &BTreeMap<String, DataFrame>,
    cfg: &IndicatorConfig,
) -> DataFrame {
    let n = names();
    let period = (day("2025-01-01"), day("2025-12-31"));
    let f = staged(births, sources, period);
    compute(
        &IndicatorInput {
            births: &f.births,
            stillbirths: Some(&f.stillbirths),
            sources,
            as_of: day("2026-01-31"),
            period: (day("2025-01-01"), day("2025-12-31")),
            jurisdiction: "3403",
            divisions: Divisions {
                counties: &n.counties,
                townships: &n.townships,
                villages: &n.villages,
            },
        },
        cfg,
    )
    .expect("indicators compute")
}

/// A stillbirth's delivery is a delivery (domain.md §8.4): it counts in the three delivery
/// indicators, found by its own mother ID (booking, floating), once however often it was
/// entered, and in no birth indicator; a village whose only delivery is a stillbirth gets
/// every indicator (§8.21).
#[test]
fn stillbirth_deliveries_count_in_the_delivery_indicators_only() {
    let v3 = "340311100001";
    let date_col = |name: &str, v: &[&str]| {
        Column::new(name.into(), v.iter().map(|d| day(d)).collect::<Vec<_>>())
    };
    let str_col = |name: &str, v: &[Option<&str>]| {
        Column::new(
            name.into(),
            v.iter().map(|s| s.map(str::to_owned)).collect::<Vec<_>>(),
        )
    };
    // D1: a stillbirth in V3, mother M1 (booked at 10 weeks, active in the registry), and
    // its copy D1b; D2: a stillbirth of floating M2, no booking, no residence (in no
    // village); D3: a stillbirth of 2024 (outside the period); D4: live (linkage's).
    let deliveries = DataFrame::new(
        5,
        vec![
            str_col(
                "record_key",
                &[Some("D1"), Some("D1b"), Some("D2"), Some("D3"), Some("D4")],
            ),
            str_col(
                "record_id",
                &[Some("D1"), Some("D1b"), Some("D2"), Some("D3"), Some("D4")],
            ),
            str_col(
                "mother_id",
                &[Some("M1"), Some("M1"), Some("M2"), Some("M1"), Some("M1")],
            ),
            date_col(
                "delivery_date",
                &[
                    "2025-03-01",
                    "2025-03-01",
                    "2025-04-01",
                    "2024-03-01",
                    "2025-06-01",
                ],
            ),
            str_col(
                "outcome",
                &[
                    Some("stillbirth"),
                    Some("stillbirth"),
                    Some("stillbirth"),
                    Some("stillbirth"),
                    Some("live"),
                ],
            ),
            str_col(
                "residence_village",
                &[Some(v3), Some(v3), None, Some(v3), Some(V1)],
            ),
        ],
    )
    .expect("deliveries");
    let bookings = DataFrame::new(
        1,
        vec![
            str_col("record_key", &[Some("P9")]),
            str_col("mother_id", &[Some("M1")]),
            date_col("booking_date", &["2024-09-01"]),
            Column::new("booking_gestational_weeks".into(), [10i32]),
        ],
    )
    .expect("bookings");
    let household = DataFrame::new(
        1,
        vec![
            str_col("person_id", &[Some("M1")]),
            str_col("village", &[Some(V1)]),
            str_col("status", &[Some("active")]),
        ],
    )
    .expect("household");
    let sources: BTreeMap<String, DataFrame> = [
        ("hospital_delivery".to_owned(), deliveries),
        ("prenatal_care".to_owned(), bookings),
        ("household".to_owned(), household),
    ]
    .into();
    let one = births(&[B {
        village: V1,
        date: "2025-06-01",
        sex: 1,
        delivery: true,
        ..B::default()
    }]);
    let df = check_with(&one, &sources, &IndicatorConfig::default());
    // V3 holds only D1: every indicator, the delivery ones counting it.
    let v3_rows = df
        .clone()
        .lazy()
        .filter(col("area_code").eq(lit(v3)))
        .collect()
        .expect("filter");
    assert_eq!(
        v3_rows
            .column("indicator_id")
            .expect("ids")
            .n_unique()
            .expect("unique"),
        CATALOGUE.len()
    );
    assert_eq!(row(&df, "village", v3, "live_births").0, 0);
    assert_eq!(
        row(&df, "village", v3, "prenatal_booking_rate"),
        (1, Some(1), Some(1.0))
    );
    assert_eq!(
        row(&df, "village", v3, "early_prenatal_booking_rate"),
        (1, Some(1), Some(1.0))
    );
    assert_eq!(
        row(&df, "village", v3, "floating_prenatal_booking_rate").1,
        Some(0)
    );
    // The jurisdiction: the live birth's delivery (no booking), D1 (booked) and D2
    // (floating, no booking, no village).
    assert_eq!(
        row(&df, "jurisdiction", "3403", "prenatal_booking_rate"),
        (1, Some(3), Some(1.0 / 3.0))
    );
    assert_eq!(
        row(
            &df,
            "jurisdiction",
            "3403",
            "floating_prenatal_booking_rate"
        ),
        (0, Some(1), Some(0.0))
    );
    assert_eq!(row(&df, "jurisdiction", "3403", "live_births").0, 1);
    assert_eq!(
        row(&df, "jurisdiction", "3403", "hospital_delivery_rate"),
        (1, Some(1), Some(1.0))
    );
}
