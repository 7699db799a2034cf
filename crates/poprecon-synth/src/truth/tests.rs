//! The truth's own consistency: the discrepancy and indicator tables against the births,
//! the injections and each other, on generated folders.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use polars::prelude::*;
use poprecon_model::ResidentId;
use rand::SeedableRng;

use super::indicators::roll_up;
use super::observe::{IdValue, id_value};
use super::{BASES, Counts, INDICATORS, Level, RULES, rules};
use crate::render::Cell;
use crate::schema::{self, Src};
use crate::tests::{generated, read_parquet, read_table, strings};
use crate::{KEY_COLUMNS, MessRates, Scale, SynthConfig, SynthSummary, ids};

/// The rules whose rows are about one record (§8.13 and `id_number_conflict`).
const RECORD_RULES: [&str; 7] = [
    "late_prenatal_booking",
    "registration_without_marriage",
    "maternity_claim_without_delivery",
    "student_without_household_registration",
    "duplicate_record",
    "invalid_value",
    "id_number_conflict",
];

#[derive(Debug, Clone)]
struct DRow {
    rule: String,
    field: Option<String>,
    birth_id: Option<String>,
    source: Option<String>,
    record_key: Option<String>,
    /// Per source id, the key in its column.
    keys: BTreeMap<&'static str, String>,
}

/// One generated folder, read back.
struct Generated {
    _dir: tempfile::TempDir,
    out: std::path::PathBuf,
    summary: SynthSummary,
    births: DataFrame,
    discrepancies: Vec<DRow>,
    injections: Vec<(String, Option<String>, String, Option<String>)>,
}

fn generate(cfg: &SynthConfig) -> Generated {
    let (dir, out, summary) = generated(cfg);
    let births = read_parquet(&out.join("truth/births.parquet"));
    let df = read_parquet(&out.join("truth/discrepancies.parquet"));
    let mut expected_columns = vec![
        "rule_id",
        "field",
        "village",
        "birth_id",
        "source",
        "record_key",
    ];
    expected_columns.extend(KEY_COLUMNS);
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(names, expected_columns, "discrepancy columns");
    let cols: Vec<Vec<Option<String>>> = expected_columns.iter().map(|c| strings(&df, c)).collect();
    let discrepancies = (0..df.height())
        .map(|i| DRow {
            rule: cols[0][i].clone().expect("rule_id"),
            field: cols[1][i].clone(),
            birth_id: cols[3][i].clone(),
            source: cols[4][i].clone(),
            record_key: cols[5][i].clone(),
            keys: schema::ALL
                .iter()
                .enumerate()
                .filter_map(|(k, s)| cols[6 + k][i].clone().map(|v| (s.id(), v)))
                .collect(),
        })
        .collect();
    let inj = read_parquet(&out.join("truth/injections.parquet"));
    let injections = strings(&inj, "source")
        .into_iter()
        .zip(strings(&inj, "record_key"))
        .zip(strings(&inj, "kind"))
        .zip(strings(&inj, "birth_id"))
        .map(|(((s, k), kind), b)| (s.expect("source"), k, kind.expect("kind"), b))
        .collect();
    Generated {
        _dir: dir,
        out,
        summary,
        births,
        discrepancies,
        injections,
    }
}

impl Generated {
    fn rows(&self, rule: &str) -> Vec<&DRow> {
        self.discrepancies
            .iter()
            .filter(|d| d.rule == rule)
            .collect()
    }

    fn birth_ids_of(&self, rule: &str) -> BTreeSet<String> {
        self.rows(rule)
            .iter()
            .filter_map(|d| d.birth_id.clone())
            .collect()
    }

    fn injected(&self, kind: &str) -> Vec<&(String, Option<String>, String, Option<String>)> {
        self.injections.iter().filter(|i| i.2 == kind).collect()
    }

    fn birth_column(&self, col: &str) -> Vec<Option<String>> {
        strings(&self.births, col)
    }

    fn floating(&self) -> Vec<bool> {
        self.births
            .column("mother_floating")
            .expect("column")
            .bool()
            .expect("bool")
            .iter()
            .map(|v| v.expect("flag"))
            .collect()
    }

    fn birth_orders(&self) -> Vec<i32> {
        self.births
            .column("birth_order")
            .expect("column")
            .i32()
            .expect("i32")
            .iter()
            .map(|v| v.expect("order"))
            .collect()
    }
}

fn sample(seed: u64, villages: usize, mess: MessRates) -> SynthConfig {
    let mut cfg = SynthConfig::new(Scale::County, seed);
    cfg.sample_villages = Some(villages);
    cfg.mess = mess;
    cfg
}

/// Every row is well formed: a known rule, the right columns filled for its kind, keys
/// that exist in their extracts, birth ids of the truth, the file's sort order, and the
/// `invalid_value` rows exactly the rows of `invalid_values.parquet`.
#[test]
fn discrepancies_are_well_formed() {
    let g = generate(&sample(3, 16, MessRates::default().scaled(8.0)));
    let births: HashSet<String> = g.birth_column("birth_id").into_iter().flatten().collect();
    let mut keys: BTreeMap<&str, HashSet<String>> = BTreeMap::new();
    for (rel, _) in &g.summary.files {
        let rel = rel.to_string_lossy().replace('\\', "/");
        if let Some(src) = schema::ALL
            .iter()
            .find(|s| rel.starts_with(&format!("extracts/{}", s.id())))
        {
            let table = read_table(&g.out.join(&rel));
            keys.entry(src.id())
                .or_default()
                .extend(table[1..].iter().map(|r| r[0].trim().to_owned()));
        }
    }
    let mut per_rule: BTreeMap<String, u64> = RULES.iter().map(|r| ((*r).to_owned(), 0)).collect();
    for d in &g.discrepancies {
        assert!(RULES.contains(&d.rule.as_str()), "{}", d.rule);
        *per_rule.entry(d.rule.clone()).or_default() += 1;
        if let Some(b) = &d.birth_id {
            assert!(births.contains(b), "{}: the birth exists", d.rule);
        }
        for (src, k) in &d.keys {
            assert!(keys[src].contains(k), "{}: {src} key exists", d.rule);
        }
        if RECORD_RULES.contains(&d.rule.as_str()) {
            let src = d.source.as_deref().expect("a record rule names its source");
            let key = d.record_key.as_deref().expect("and its record");
            assert_eq!(d.keys.get(src).map(String::as_str), Some(key), "{}", d.rule);
        } else {
            assert!(d.source.is_none() && d.record_key.is_none(), "{}", d.rule);
            assert!(!d.keys.is_empty(), "{}: records involved", d.rule);
        }
        // A household birth record may belong to no birth (its date as written is in the
        // period, the true one is not); every other rule about births names one (stillbirth
        // deliveries are not reported).
        if !RECORD_RULES.contains(&d.rule.as_str())
            && d.rule != "household_birth_without_certificate"
        {
            assert!(d.birth_id.is_some(), "{}: about a birth", d.rule);
        }
        match (d.rule.as_str(), d.field.as_deref()) {
            ("invalid_value" | "id_number_conflict", Some(f)) => {
                let src = schema::ALL
                    .iter()
                    .find(|s| Some(s.id()) == d.source.as_deref())
                    .expect("source");
                assert!(src.columns().iter().any(|c| c.field == f), "{f}");
            }
            ("sex_mismatch", f) => assert_eq!(f, Some("sex")),
            ("birth_date_mismatch", f) => assert_eq!(f, Some("birth_date")),
            ("mother_id_mismatch", f) => assert_eq!(f, Some("mother_id")),
            ("child_order_mismatch", f) => assert_eq!(f, Some("child_order")),
            (rule, f) => assert_eq!(f, None, "{rule}"),
        }
    }
    assert_eq!(
        per_rule, g.summary.discrepancies,
        "the summary counts the rows"
    );

    // The file's order: rule id, birth id, source, record key, field (nulls first).
    let order: Vec<_> = g
        .discrepancies
        .iter()
        .map(|d| {
            (
                d.rule.clone(),
                d.birth_id.clone(),
                d.source.clone(),
                d.record_key.clone(),
                d.field.clone(),
            )
        })
        .collect();
    assert!(order.is_sorted(), "rows are sorted");

    // invalid_value: one row per row of invalid_values.parquet, and no other.
    let inv = read_parquet(&g.out.join("truth/invalid_values.parquet"));
    let expected: Vec<(Option<String>, Option<String>, Option<String>)> = {
        let mut v: Vec<_> = strings(&inv, "source")
            .into_iter()
            .zip(strings(&inv, "record_key"))
            .zip(strings(&inv, "field"))
            .map(|((s, k), f)| (s, k, f))
            .collect();
        v.sort();
        v
    };
    let mut seen: Vec<_> = g
        .rows("invalid_value")
        .iter()
        .map(|d| (d.source.clone(), d.record_key.clone(), d.field.clone()))
        .collect();
    seen.sort();
    assert!(!seen.is_empty());
    assert_eq!(seen, expected);

    // The rules the messy sample must show, whatever the seed.
    for rule in [
        "late_prenatal_booking",
        "registration_without_marriage",
        "student_without_household_registration",
        "duplicate_record",
        "sex_mismatch",
        "birth_date_mismatch",
        "mother_id_mismatch",
        "id_number_conflict",
        "child_order_mismatch",
        "birth_without_registration_service",
        "late_household_registration",
    ] {
        assert!(per_rule[rule] > 0, "{rule} occurs");
    }
}

/// The indicator table: every area with all fourteen indicators, rates no larger than their
/// denominators, and each area the sum of the areas below it.
#[test]
fn indicators_add_up() {
    let cfg = sample(4, 16, MessRates::default().scaled(8.0));
    let g = generate(&cfg);
    let df = read_parquet(&g.out.join("truth/indicators.parquet"));
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(
        names,
        [
            "level",
            "area_code",
            "basis",
            "indicator_id",
            "numerator",
            "denominator"
        ]
    );
    let known: HashSet<String> = read_table(&g.out.join("divisions/villages.csv"))[1..]
        .iter()
        .map(|r| r[0].clone())
        .collect();
    let int = |c: &str| -> Vec<Option<i64>> {
        df.column(c)
            .expect("column")
            .i64()
            .expect("i64")
            .iter()
            .collect()
    };
    let (levels, codes, bases, ids) = (
        strings(&df, "level"),
        strings(&df, "area_code"),
        strings(&df, "basis"),
        strings(&df, "indicator_id"),
    );
    let (nums, dens) = (int("numerator"), int("denominator"));
    // (basis, level, code) → per indicator (numerator, denominator).
    type Area = (String, String, String);
    let mut areas: BTreeMap<Area, Vec<(String, i64, Option<i64>)>> = BTreeMap::new();
    for i in 0..df.height() {
        let id = ids[i].clone().expect("indicator");
        let num = nums[i].expect("a numerator");
        if id == "live_births" {
            assert_eq!(dens[i], None, "live_births has no denominator");
        } else {
            let den = dens[i].expect("a denominator");
            if id != "sex_ratio_at_birth" {
                assert!(num <= den, "{id}: {num} <= {den}");
            }
        }
        areas
            .entry((
                bases[i].clone().expect("basis"),
                levels[i].clone().expect("level"),
                codes[i].clone().expect("code"),
            ))
            .or_default()
            .push((id, num, dens[i]));
    }
    for (area, rows) in &areas {
        let ids: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
        assert_eq!(ids, INDICATORS, "{area:?}: every indicator, in order");
    }
    let vector = |a: &Area| -> Vec<(i64, i64)> {
        areas[a]
            .iter()
            .map(|(_, n, d)| (*n, d.unwrap_or(0)))
            .collect()
    };
    let sum = |basis: &str, level: &str, prefix: &str| -> Option<Vec<(i64, i64)>> {
        let mut total: Option<Vec<(i64, i64)>> = None;
        for a in areas.keys() {
            if a.0 == basis && a.1 == level && a.2.starts_with(prefix) {
                let v = vector(a);
                total = Some(match total {
                    None => v,
                    Some(t) => t
                        .iter()
                        .zip(&v)
                        .map(|(x, y)| (x.0 + y.0, x.1 + y.1))
                        .collect(),
                });
            }
        }
        total
    };
    let table = |file: &str| -> HashSet<String> {
        read_table(&g.out.join("divisions").join(file))[1..]
            .iter()
            .map(|r| r[0].clone())
            .collect()
    };
    let (townships, counties) = (table("townships.csv"), table("counties.csv"));
    let n_births = g.births.height() as i64;
    let villages = g.birth_column("village");
    let floating = g.floating().iter().filter(|f| **f).count() as i64;
    for basis in BASES {
        let jurisdiction = (
            basis.to_owned(),
            "jurisdiction".to_owned(),
            "3403".to_owned(),
        );
        assert_eq!(vector(&jurisdiction)[0].0, n_births, "{basis}: every birth");
        for a in areas.keys().filter(|a| a.0 == basis) {
            match a.1.as_str() {
                "township" => assert!(townships.contains(&a.2), "{a:?} is in the table"),
                "county" => assert!(counties.contains(&a.2), "{a:?} is in the table"),
                _ => {}
            }
            if !matches!(a.1.as_str(), "township" | "county" | "city") {
                continue;
            }
            if basis == "occurrence" {
                // Hospitals of a county or the city count there, above the townships.
                let below = if a.1 == "township" {
                    "village"
                } else {
                    "township"
                };
                if let Some(children) = sum(basis, below, &a.2) {
                    let own = vector(a);
                    assert!(
                        own.iter()
                            .zip(&children)
                            .all(|(x, y)| x.0 >= y.0 && x.1 >= y.1),
                        "{a:?}"
                    );
                }
            } else {
                // By code prefix: the villages under it, known to the table or not (every
                // township and county of the sample is in the table).
                let children = sum(basis, "village", &a.2).expect("villages below");
                assert_eq!(vector(a), children, "{a:?}: the sum of its villages");
            }
        }
        match basis {
            "occurrence" => {
                assert!(!areas.keys().any(|a| a.0 == basis && a.1 == "village"));
            }
            _ => {
                // The jurisdiction: its villages, and the births with no area on the basis.
                let in_villages = sum(basis, "village", "3403").expect("villages")[0].0;
                let without = if basis == "residence" {
                    villages.iter().filter(|v| v.is_none()).count() as i64
                } else {
                    floating
                };
                assert_eq!(in_villages + without, n_births, "{basis}");
            }
        }
    }
    let unknown_births = villages
        .iter()
        .flatten()
        .filter(|v| !known.contains(*v))
        .count() as i64;
    let unknown_rows = areas
        .keys()
        .filter(|a| a.0 == "residence" && a.1 == "village" && !known.contains(&a.2))
        .map(|a| vector(a)[0].0)
        .sum::<i64>();
    assert!(unknown_births > 0, "the messy sample has unknown codes");
    assert_eq!(
        unknown_rows, unknown_births,
        "unknown codes keep their births"
    );

    // The delivery indicators count every delivery (§8.4): the live births' and the kept
    // stillbirth rows of the period, the extra copies of duplicates left out.
    let residence = |id: &str| {
        let k = (
            "residence".to_owned(),
            "jurisdiction".to_owned(),
            "3403".to_owned(),
        );
        let at = INDICATORS.iter().position(|x| *x == id).expect("indicator");
        vector(&k)[at]
    };
    let deliveries = g.birth_column("hospital_delivery_key");
    let bookings = g.birth_column("prenatal_care_key");
    let delivered = deliveries.iter().filter(|d| d.is_some()).count() as i64;
    let booked = (0..deliveries.len())
        .filter(|&i| deliveries[i].is_some() && bookings[i].is_some())
        .count() as i64;
    let copies: HashSet<String> = g
        .rows("duplicate_record")
        .iter()
        .filter_map(|d| d.record_key.clone())
        .collect();
    let quarantined: HashSet<usize> = {
        let q = read_parquet(&g.out.join("truth/quarantine.parquet"));
        let lines = q.column("line").expect("line").i64().expect("i64").clone();
        strings(&q, "source")
            .into_iter()
            .enumerate()
            .filter(|(_, s)| s.as_deref() == Some("hospital_delivery"))
            .map(|(i, _)| lines.get(i).expect("line") as usize)
            .collect()
    };
    let field = |f: &str| {
        Src::HospitalDelivery
            .columns()
            .iter()
            .position(|c| c.field == f)
            .expect("field")
    };
    let (outcome, date) = (field("outcome"), field("delivery_date"));
    let table = read_table(&g.out.join(format!(
        "extracts/hospital_delivery.{}",
        Src::HospitalDelivery.extension()
    )));
    let stillbirths = table[1..]
        .iter()
        .enumerate()
        .filter(|(i, r)| {
            let when = super::observe::date_value(&Cell::Text(r[date].clone()));
            !quarantined.contains(&(i + 2))
                && r[outcome].trim() == "死产"
                && !copies.contains(r[0].trim())
                && when.is_some_and(|d| d >= cfg.period.0 && d <= cfg.period.1)
        })
        .count() as i64;
    assert!(stillbirths > 0, "the sample has stillbirths of the period");
    let (num, den) = residence("prenatal_booking_rate");
    assert_eq!(den, delivered + stillbirths);
    assert!((booked..=booked + stillbirths).contains(&num), "{num}");
    assert_eq!(
        residence("early_prenatal_booking_rate").1,
        delivered + stillbirths
    );
    // No other indicator counts a stillbirth.
    assert_eq!(residence("hospital_delivery_rate").0, delivered);
}

/// The roll-up by code prefix (§8.11): an unknown village keeps its own row and adds to the
/// township and county the table knows, always to the city; an area outside the
/// jurisdiction counts nowhere; a birth without an area counts for the jurisdiction only.
#[test]
fn areas_roll_up_by_code_prefix() {
    let mut divisions = crate::divisions::Divisions::default();
    divisions
        .townships
        .insert("340311001".to_owned(), String::new());
    divisions
        .counties
        .insert("340311".to_owned(), String::new());
    divisions
        .villages
        .insert("340311001001".to_owned(), String::new());
    let mut leaves = BTreeMap::new();
    // Each leaf counts a distinct power of two live births, so each sum names its leaves.
    let codes = [
        (Level::Village, "340311001001"),
        (Level::Village, "340311001901"),
        (Level::Village, "340311777001"),
        (Level::Village, "340399001001"),
        (Level::Village, "340411001001"),
        (Level::Village, "3403110019"),
        (Level::Jurisdiction, ""),
        (Level::County, "340311"),
    ];
    for (k, (level, code)) in codes.iter().enumerate() {
        let mut c: Counts = [[0; 2]; 14];
        c[0] = [1 << k, 0];
        leaves.insert((0u8, *level, (*code).to_owned()), c);
    }
    let rows = roll_up(&leaves, &divisions, "3403");
    let got: BTreeMap<(Level, &str), i64> = rows
        .iter()
        .map(|((_, level, code), c)| ((*level, code.as_str()), c[0][0]))
        .collect();
    let want: BTreeMap<(Level, &str), i64> = [
        ((Level::Village, "340311001001"), 1),
        ((Level::Village, "340311001901"), 2),
        ((Level::Village, "340311777001"), 4),
        ((Level::Village, "340399001001"), 8),
        ((Level::Township, "340311001"), 1 + 2),
        ((Level::County, "340311"), 1 + 2 + 4 + 128),
        ((Level::City, "3403"), 1 + 2 + 4 + 8 + 128),
        ((Level::Jurisdiction, ""), 1 + 2 + 4 + 8 + 64 + 128),
    ]
    .into_iter()
    .collect();
    assert_eq!(got, want);
}

/// IDs as written decide what is found through a person (the lead's reading of §3 and §8):
/// a birth's mother ID is the first valid one of its birth-level records; its booking and
/// registration are rows under that valid ID; a registration, claim or pupil whose ID is
/// empty or invalid finds nothing, so its rule fires.
#[test]
fn ids_as_written_decide_what_is_found() {
    let g = generate(&sample(7, 16, MessRates::default().scaled(8.0)));
    let quarantined: HashSet<(String, usize)> = {
        let q = read_parquet(&g.out.join("truth/quarantine.parquet"));
        let lines = q.column("line").expect("line").i64().expect("i64").clone();
        strings(&q, "source")
            .into_iter()
            .enumerate()
            .map(|(i, s)| (s.expect("source"), lines.get(i).expect("line") as usize))
            .collect()
    };
    // Per source: each kept row's key → its cells' ID values, by field.
    let kept_ids = |src: Src, fields: &[&str]| -> BTreeMap<String, Vec<IdValue>> {
        let path = g
            .out
            .join(format!("extracts/{}.{}", src.id(), src.extension()));
        let cols: Vec<usize> = fields
            .iter()
            .map(|f| {
                src.columns()
                    .iter()
                    .position(|c| c.field == *f)
                    .expect("field")
            })
            .collect();
        let cells = id_cells(&path, &cols);
        let mut out = BTreeMap::new();
        for (i, (key, ids)) in cells.into_iter().enumerate() {
            // The table's first row is line 1 (the header).
            if !quarantined.contains(&(src.id().to_owned(), i + 2)) {
                out.entry(key).or_insert(ids);
            }
        }
        out
    };
    let rows_of = |rule: &str| -> BTreeSet<String> {
        g.rows(rule)
            .iter()
            .map(|d| d.record_key.clone().expect("key"))
            .collect()
    };
    let unusable = |v: &IdValue| v.valid().is_none();

    let registrations = kept_ids(Src::BirthRegistration, &["woman_id", "man_id"]);
    let reported = rows_of("registration_without_marriage");
    let damaged: Vec<&String> = registrations
        .iter()
        .filter(|(_, ids)| ids.iter().any(unusable))
        .map(|(k, _)| k)
        .collect();
    assert!(!damaged.is_empty());
    assert!(damaged.iter().all(|k| reported.contains(*k)));

    let claims = kept_ids(Src::SocialSecurity, &["person_id"]);
    let claim_col = Src::SocialSecurity
        .columns()
        .iter()
        .position(|c| c.field == "maternity_claim_date")
        .expect("field");
    let claiming: HashSet<String> = read_table(&g.out.join("extracts/social_security.parquet"))
        [1..]
        .iter()
        .filter(|r| !r[claim_col].is_empty())
        .map(|r| r[0].trim().to_owned())
        .collect();
    let reported = rows_of("maternity_claim_without_delivery");
    let invalid_claims: Vec<&String> = claims
        .iter()
        .filter(|(k, ids)| ids[0] == IdValue::Invalid && claiming.contains(*k))
        .map(|(k, _)| k)
        .collect();
    assert!(invalid_claims.iter().all(|k| reported.contains(*k)));

    // A pupil is the valid ID field, else the ID inside the student number (§8.17; the
    // generator numbers every pupil `G` + ID, so the name fallback is never needed here).
    let pupils = kept_ids(Src::School, &["person_id"]);
    let household = kept_ids(Src::Household, &["person_id"]);
    let registered: HashSet<[u8; 18]> = household
        .values()
        .filter_map(|ids| ids[0].valid())
        .collect();
    let reported = rows_of("student_without_household_registration");
    let pupil = |k: &String, ids: &Vec<IdValue>| {
        ids[0]
            .valid()
            .or_else(|| super::observe::student_no_id(&Cell::Text(k.clone())))
    };
    assert!(pupils.iter().all(|(k, ids)| pupil(k, ids).is_some()));
    let expected: BTreeSet<String> = pupils
        .iter()
        .filter(|(k, ids)| pupil(k, ids).is_none_or(|id| !registered.contains(&id)))
        .map(|(k, _)| k.clone())
        .collect();
    // Pupils whose ID field is unusable but whose number names a registered child are
    // found, so not reported.
    let by_number = pupils
        .iter()
        .filter(|(k, ids)| unusable(&ids[0]) && !expected.contains(*k))
        .count();
    assert!(by_number > 0, "the messy sample has such pupils");
    assert_eq!(reported, expected);

    // Mother IDs: the first valid of delivery, certificate, household, vaccination.
    let mothers: Vec<BTreeMap<String, Vec<IdValue>>> = rules::BIRTH_LEVEL
        .iter()
        .map(|src| kept_ids(*src, &["mother_id"]))
        .collect();
    let bookings = kept_ids(Src::PrenatalCare, &["mother_id"]);
    let key_columns: Vec<Vec<Option<String>>> = rules::BIRTH_LEVEL
        .iter()
        .map(|s| g.birth_column(&format!("{}_key", s.id())))
        .collect();
    let booked = g.birth_column("prenatal_care_key");
    let registered = g.birth_column("birth_registration_key");
    let married = g.birth_column("marriage_key");
    let floating = g.floating();
    let (mut without, mut with) = (0, 0);
    for b in 0..g.births.height() {
        let mother = (0..4).find_map(|k| {
            let key = key_columns[k][b].as_ref()?;
            mothers[k].get(key).and_then(|ids| ids[0].valid())
        });
        match mother {
            None => {
                without += 1;
                assert!(booked[b].is_none() && registered[b].is_none() && married[b].is_none());
                assert!(floating[b], "no mother ID: floating");
            }
            Some(m) => {
                with += 1;
                if let Some(k) = &booked[b] {
                    assert_eq!(bookings[k][0].valid(), Some(m), "the booking is hers");
                }
                if let Some(k) = &registered[b] {
                    assert_eq!(registrations[k][0].valid(), Some(m), "registered by her");
                }
            }
        }
    }
    assert!(without > 0 && with > 0);
}

/// On clean extracts every ID reads as its person's, so what the IDs find is the design:
/// the mother's floating flag (no active household row of hers), her registration and
/// booking within their windows, her marriage before the birth and her claim.
#[test]
fn on_clean_extracts_ids_find_the_design() {
    use crate::world::{self, Calendar, Status};
    let divisions = crate::divisions::Divisions::for_scale(Scale::County, Some(6)).expect("table");
    let cfg = SynthConfig::new(Scale::County, 13);
    let cal = Calendar {
        start: cfg.period.0,
        end: cfg.period.1,
        as_of: cfg.as_of,
    };
    let size = world::Size {
        rows: 2_500,
        birth_rate: 0.008_75,
        stillbirth_share: world::STILLBIRTH_SHARE,
    };
    let mut worlds: Vec<_> = divisions
        .list
        .iter()
        .map(|v| world::generate(v, cal, cfg.seed, size))
        .collect();
    world::assign_sequences(
        &mut worlds,
        &mut world::KeySet::default(),
        &mut world::KeySet::default(),
    );
    worlds.iter_mut().for_each(world::build_ids);
    let (mut checked, mut floating, mut found) = (0, 0, [0; 4]);
    for (w, v) in worlds.iter().zip(&divisions.list) {
        let out = crate::render::render(
            w,
            v,
            cal,
            &MessRates::none(),
            cfg.seed,
            crate::Dialect::Bengbu,
        );
        for b in &out.births {
            // A birth with a delivery: its first record carries the mother's own ID.
            if b.keys[Src::HospitalDelivery.index()].is_none() {
                continue;
            }
            checked += 1;
            let p = &w.pregnancies[b.origin.pregnancy as usize];
            let active = p
                .mother_reg
                .is_some_and(|r| w.regs[r as usize].status == Status::Active);
            assert_eq!(p.floating, !active, "the design's floating mothers");
            assert_eq!(b.mother_floating, p.floating, "{}: floating", b.birth_id);
            floating += usize::from(b.mother_floating);
            let born = b.birth_date.expect("a date");
            let within = |d: chrono::NaiveDate, before: i64, after: i64| {
                d >= born - chrono::TimeDelta::days(before)
                    && d <= born + chrono::TimeDelta::days(after)
            };
            let expected = [
                p.registration.is_some_and(|d| within(d, 730, 90)),
                p.booking.is_some_and(|bk| within(bk.date, 300, 0)),
                p.marriage
                    .is_some_and(|m| w.marriages[m as usize].date < born),
                p.claim.is_some_and(|r| {
                    w.insured[r as usize]
                        .claim
                        .is_some_and(|d| within(d, 180, 180))
                }),
            ];
            let sources = [
                Src::BirthRegistration,
                Src::PrenatalCare,
                Src::Marriage,
                Src::SocialSecurity,
            ];
            for (k, src) in sources.iter().enumerate() {
                let key = &b.keys[src.index()];
                assert_eq!(key.is_some(), expected[k], "{}: {}", b.birth_id, src.id());
                found[k] += usize::from(key.is_some());
            }
        }
    }
    assert!(
        checked > 100 && floating > 0,
        "{checked} births, {floating} floating"
    );
    assert!(found.iter().all(|n| *n > 0), "{found:?}");
}

/// The ID values of a source file's rows, with each row's key: `(key, values of cols)`.
/// An XLSX number cell is never a valid ID (§3: Excel keeps 15 significant digits).
fn id_cells(path: &std::path::Path, cols: &[usize]) -> Vec<(String, Vec<IdValue>)> {
    let value = |s: &str| {
        if s.trim().is_empty() {
            IdValue::Blank
        } else {
            id_value(&Cell::Text(s.to_owned()))
        }
    };
    if path.extension().and_then(|e| e.to_str()) == Some("xlsx") {
        use calamine::{Data, Reader};
        let mut book: calamine::Xlsx<_> = calamine::open_workbook(path).expect("xlsx");
        let range = book.worksheet_range("Sheet1").expect("Sheet1");
        return range
            .rows()
            .skip(1)
            .map(|row| {
                let text = |c: &Data| match c {
                    Data::String(s) => value(s),
                    Data::Empty => IdValue::Blank,
                    _ => IdValue::Invalid,
                };
                let key = match &row[0] {
                    Data::String(s) => s.trim().to_owned(),
                    other => other.to_string(),
                };
                (key, cols.iter().map(|&c| text(&row[c])).collect())
            })
            .collect();
    }
    read_table(path)[1..]
        .iter()
        .map(|r| {
            let ids = cols.iter().map(|&c| value(&r[c])).collect();
            (r[0].trim().to_owned(), ids)
        })
        .collect()
}

/// Clean extracts: no mismatch, conflict, duplicate or invalid value; the computed order
/// is the true order, so the only policy discrepancies are the true fourth children; every
/// household child of the period is a birth.
#[test]
fn clean_extracts_show_only_what_the_world_holds() {
    let g = generate(&sample(5, 12, MessRates::none()));
    for rule in [
        "sex_mismatch",
        "birth_date_mismatch",
        "mother_id_mismatch",
        "id_number_conflict",
        "child_order_mismatch",
        "duplicate_record",
        "invalid_value",
    ] {
        assert!(g.rows(rule).is_empty(), "{rule}: none in clean extracts");
    }
    let ids = g.birth_column("birth_id");
    let floating = g.floating();
    let orders = g.birth_orders();
    let over: BTreeSet<String> = (0..ids.len())
        .filter(|&i| !floating[i] && orders[i] > 3)
        .filter_map(|i| ids[i].clone())
        .collect();
    assert!(!over.is_empty(), "the sample has fourth children");
    assert_eq!(g.birth_ids_of("out_of_policy_birth"), over);

    // Registry children of the period are births, seen in the registry alone.
    let household: HashSet<String> = g
        .birth_column("household_key")
        .into_iter()
        .flatten()
        .collect();
    let table = read_table(&g.out.join("extracts/household.parquet"));
    let col = |field: &str| {
        Src::Household
            .columns()
            .iter()
            .position(|c| c.field == field)
            .expect("field")
    };
    let (start, end) = ("2025-01-01", "2025-12-31");
    let mut in_period = 0;
    for row in &table[1..] {
        let born = &row[col("birth_date")];
        if born.as_str() >= start && born.as_str() <= end {
            in_period += 1;
            assert!(
                household.contains(row[0].trim()),
                "a household child of the period is a birth"
            );
        }
    }
    assert!(in_period > 0);
    let only_household = (0..ids.len())
        .filter(|&i| {
            [
                "hospital_delivery_key",
                "birth_certificate_key",
                "vaccination_key",
            ]
            .iter()
            .all(|k| g.birth_column(k)[i].is_none())
        })
        .count();
    assert!(only_household > 0, "registry children are among the births");
}

/// Each injected conflict gives its discrepancy, and each mismatch, duplicate and order
/// discrepancy has its injection.
#[test]
fn every_injected_conflict_is_reported() {
    let mut mess = MessRates::none();
    mess.sex_conflict = 0.15;
    mess.birth_date_conflict = 0.15;
    mess.wrong_mother_id = 0.15;
    mess.duplicate_delivery = 0.1;
    mess.wrong_child_order = 0.2;
    let g = generate(&sample(6, 12, mess));
    let ids = g.birth_column("birth_id");
    let floating = g.floating();
    let registrations = g.birth_column("birth_registration_key");

    for (kind, rule) in [
        ("sex_conflict", "sex_mismatch"),
        ("birth_date_conflict", "birth_date_mismatch"),
        ("wrong_mother_id", "mother_id_mismatch"),
    ] {
        let injected: BTreeSet<String> = g
            .injected(kind)
            .iter()
            .map(|i| i.3.clone().expect("a conflict touches a birth"))
            .collect();
        assert!(!injected.is_empty(), "{kind} injected");
        assert_eq!(
            g.birth_ids_of(rule),
            injected,
            "{rule}: exactly the {kind} births"
        );
    }
    // A household row with another sex or birth date than its ID encodes.
    let conflicts: BTreeSet<(String, String)> = g
        .rows("id_number_conflict")
        .iter()
        .map(|d| {
            (
                d.source.clone().expect("s"),
                d.record_key.clone().expect("k"),
            )
        })
        .collect();
    let twisted: BTreeSet<(String, String)> = g
        .injections
        .iter()
        .filter(|i| matches!(i.2.as_str(), "sex_conflict" | "birth_date_conflict"))
        .map(|i| (i.0.clone(), i.1.clone().expect("k")))
        .collect();
    assert!(
        conflicts.is_subset(&twisted),
        "ID conflicts come from twisted records"
    );
    for t in twisted.iter().filter(|t| t.0 == "household") {
        assert!(
            conflicts.contains(t),
            "a twisted household row conflicts with its ID"
        );
    }

    let copies: BTreeSet<String> = g
        .injected("duplicate_delivery")
        .iter()
        .map(|i| i.1.clone().expect("key"))
        .collect();
    let reported: BTreeSet<String> = g
        .rows("duplicate_record")
        .iter()
        .map(|d| d.record_key.clone().expect("key"))
        .collect();
    assert!(!copies.is_empty());
    assert_eq!(
        reported, copies,
        "duplicate_record: exactly the extra copies"
    );

    // A wrong declared order on a registration of a birth to a registered mother.
    let expected: BTreeSet<String> = g
        .injected("wrong_child_order")
        .iter()
        .filter_map(|i| i.1.clone())
        .filter(|k| (0..ids.len()).any(|b| registrations[b].as_ref() == Some(k) && !floating[b]))
        .collect();
    let reported: BTreeSet<String> = g
        .rows("child_order_mismatch")
        .iter()
        .map(|d| d.keys["birth_registration"].clone())
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(
        reported, expected,
        "child_order_mismatch: exactly the wrong orders"
    );
}

/// The truth's ID reading agrees with the model's on every kind of damage the generator
/// makes (two implementations of domain.md §3).
#[test]
fn id_reading_agrees_with_the_model() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let birth = chrono::NaiveDate::from_ymd_opt(1993, 7, 9).expect("date");
    for seq in (1..600u16).step_by(3) {
        let id = ids::build(340303, birth, seq);
        let variants = [
            Some(id.clone()),
            Some(ids::substitute(&mut rng, &id)),
            ids::transpose(&mut rng, &id),
            Some(ids::trailing_zeros(&id)),
            Some(ids::scientific(&id)),
            Some(ids::fullwidth(&id)),
            Some(format!("'{id}")),
            Some(id.replace('X', "x")),
            // The legacy 15-digit form: no century, no check character.
            Some(format!(" {}{} ", &id[..6], &id[8..17])),
        ];
        for v in variants.into_iter().flatten() {
            let model = ResidentId::parse(&v).ok().map(|r| r.as_str().to_owned());
            let ours = match id_value(&Cell::Text(v.clone())) {
                IdValue::Valid(b) => Some(String::from_utf8(b.to_vec()).expect("ascii")),
                IdValue::Blank | IdValue::Invalid => None,
            };
            assert_eq!(ours, model, "variant of sequence {seq}");
        }
    }
}
