//! The truth's own consistency: the discrepancy and indicator tables against the births,
//! the injections and each other, on generated folders.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use polars::prelude::*;
use poprecon_model::ResidentId;
use rand::SeedableRng;

use super::observe::{IdValue, id_value};
use super::{BASES, INDICATORS, RULES};
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
        let birth_rules_without_birth = [
            "household_birth_without_certificate",
            "delivery_without_prenatal_booking",
        ];
        if !RECORD_RULES.contains(&d.rule.as_str())
            && !birth_rules_without_birth.contains(&d.rule.as_str())
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
    let g = generate(&sample(4, 16, MessRates::default().scaled(8.0)));
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
    let sum =
        |basis: &str, level: &str, prefix: &str, only_known: bool| -> Option<Vec<(i64, i64)>> {
            let mut total: Option<Vec<(i64, i64)>> = None;
            for a in areas.keys() {
                if a.0 == basis
                    && a.1 == level
                    && a.2.starts_with(prefix)
                    && (!only_known || known.contains(&a.2))
                {
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
    let n_births = g.births.height() as i64;
    let villages = g.birth_column("village");
    for basis in BASES {
        let jurisdiction = (
            basis.to_owned(),
            "jurisdiction".to_owned(),
            "3403".to_owned(),
        );
        assert_eq!(vector(&jurisdiction)[0].0, n_births, "{basis}: every birth");
        for a in areas.keys().filter(|a| a.0 == basis) {
            let (below, known_only) = match a.1.as_str() {
                "township" => ("village", true),
                "county" => ("township", false),
                "city" => ("county", false),
                _ => continue,
            };
            let Some(children) = sum(basis, below, &a.2, known_only) else {
                assert_eq!(
                    basis, "occurrence",
                    "{a:?}: only institutions sit above villages"
                );
                continue;
            };
            let own = vector(a);
            if basis == "occurrence" {
                // Hospitals of a county or the city count there, above the townships.
                assert!(
                    own.iter()
                        .zip(&children)
                        .all(|(x, y)| x.0 >= y.0 && x.1 >= y.1),
                    "{a:?}"
                );
            } else {
                assert_eq!(own, children, "{a:?}: the sum of its {below}s");
            }
        }
        if basis != "occurrence" {
            // The jurisdiction: its cities, the unknown village codes, the unattributed.
            let cities = sum(basis, "city", "", false).expect("a city");
            let unknown = areas
                .keys()
                .filter(|a| a.0 == basis && a.1 == "village" && !known.contains(&a.2))
                .map(|a| vector(a)[0].0)
                .sum::<i64>();
            assert!(cities[0].0 + unknown <= n_births);
            if basis == "residence" {
                let unattributed = villages.iter().filter(|v| v.is_none()).count() as i64;
                assert_eq!(cities[0].0 + unknown + unattributed, n_births);
                let unknown_births = villages
                    .iter()
                    .flatten()
                    .filter(|v| !known.contains(*v))
                    .count() as i64;
                assert_eq!(unknown, unknown_births, "unknown codes keep their births");
            }
        } else {
            assert!(!areas.keys().any(|a| a.0 == basis && a.1 == "village"));
        }
    }
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

    // Ambiguous links only between same-sex co-births.
    let sexes: Vec<i32> = g
        .births
        .column("true_sex")
        .expect("column")
        .i32()
        .expect("i32")
        .iter()
        .map(|v| v.expect("sex"))
        .collect();
    let twins: BTreeMap<String, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, b)| (b.clone().expect("id"), i))
        .collect();
    let mothers = g.birth_column("mother_id");
    for b in g.birth_ids_of("ambiguous_link") {
        let i = twins[&b];
        let same_sex_sibling =
            (0..ids.len()).any(|j| j != i && mothers[j] == mothers[i] && sexes[j] == sexes[i]);
        assert!(
            same_sex_sibling,
            "an ambiguous link needs a same-sex co-birth"
        );
    }

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
