//! Each rule on small hand-built tables, at the edges domain.md §5 and §8 name; the
//! lifecycle over two nights; decisions; local rules. Tables are built as ingest and
//! linkage give them (only the columns a test needs).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use polars::prelude::*;

use crate::*;

mod synth;

// ---------------------------------------------------------------------------------------
// Fixtures

/// A cell of a hand-built table. Column types follow the column name (dates, integers,
/// booleans), as ingest would give them.
#[derive(Debug, Clone)]
enum V {
    S(String),
    I(i32),
    D(&'static str),
    B(bool),
    N,
}

type Row = Vec<(&'static str, V)>;

fn s(text: &str) -> V {
    V::S(text.to_owned())
}

fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("a test date")
}

/// A valid resident ID born on `birth` (`YYYYMMDD`); an odd `seq` is a man, even a woman.
fn rid(birth: &str, seq: u32) -> String {
    let body = format!("340302{birth}{seq:03}");
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = body
        .bytes()
        .zip(W)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    let check = b"10X98765432"[(sum % 11) as usize] as char;
    format!("{body}{check}")
}

/// A valid ID field: `<field>` and `<field>_input`.
fn id(field: &'static str, value: &str) -> Row {
    vec![(field, s(value)), (input(field), s(value))]
}

/// An invalid ID field as ingest keeps it: no valid ID, the text as given, and a flag.
fn bad_id(field: &'static str, text: &str, reason: &str) -> Row {
    vec![
        (field, V::N),
        (input(field), s(text)),
        ("invalid_fields", s(&format!("{field}:{reason}"))),
    ]
}

fn input(field: &'static str) -> &'static str {
    match field {
        "mother_id" => "mother_id_input",
        "father_id" => "father_id_input",
        "person_id" => "person_id_input",
        "child_id" => "child_id_input",
        "woman_id" => "woman_id_input",
        "man_id" => "man_id_input",
        other => panic!("no ID field `{other}`"),
    }
}

fn dtype(column: &str) -> DataType {
    match column {
        c if c.ends_with("_date") => DataType::Date,
        "child_sex"
        | "sex"
        | "dose"
        | "booking_gestational_weeks"
        | "child_order"
        | "birth_order"
        | "birth_seq"
        | "plurality"
        | "policy_limit" => DataType::Int32,
        "floating" => DataType::Boolean,
        _ => DataType::String,
    }
}

fn frame(rows: &[Row], always: &[&'static str]) -> DataFrame {
    let mut names: Vec<&'static str> = always.to_vec();
    for r in rows {
        for (c, _) in r {
            if !names.contains(c) {
                names.push(c);
            }
        }
    }
    let get = |r: &Row, c: &str| {
        r.iter()
            .rev()
            .find(|(n, _)| *n == c)
            .map(|(_, v)| v.clone())
    };
    let cols = names
        .iter()
        .map(|c| {
            let vals: Vec<V> = rows.iter().map(|r| get(r, c).unwrap_or(V::N)).collect();
            let name: PlSmallStr = (*c).into();
            match dtype(c) {
                DataType::Date => Column::new(
                    name,
                    vals.iter()
                        .map(|v| match v {
                            V::D(t) => Some(day(t)),
                            _ => None,
                        })
                        .collect::<Vec<_>>(),
                ),
                DataType::Int32 => Column::new(
                    name,
                    vals.iter()
                        .map(|v| match v {
                            V::I(i) => Some(*i),
                            _ => None,
                        })
                        .collect::<Vec<_>>(),
                ),
                DataType::Boolean => Column::new(
                    name,
                    vals.iter()
                        .map(|v| match v {
                            V::B(b) => Some(*b),
                            _ => None,
                        })
                        .collect::<Vec<_>>(),
                ),
                _ => Column::new(
                    name,
                    vals.iter()
                        .map(|v| match v {
                            V::S(t) => Some(t.clone()),
                            _ => None,
                        })
                        .collect::<Vec<_>>(),
                ),
            }
        })
        .collect();
    DataFrame::new(rows.len(), cols).expect("a test frame")
}

/// A night's inputs.
#[derive(Debug, Clone)]
struct Fx {
    tables: BTreeMap<&'static str, Vec<Row>>,
    births: Option<Vec<Row>>,
    ambiguous: Option<DataFrame>,
    as_of: NaiveDate,
    villages: Vec<String>,
}

impl Fx {
    /// `as_of` 2026-01-15; the period is 2025.
    fn new() -> Fx {
        Fx {
            tables: BTreeMap::new(),
            births: None,
            ambiguous: None,
            as_of: day("2026-01-15"),
            villages: Vec::new(),
        }
    }

    fn add(&mut self, source: &'static str, rows: Vec<Row>) -> &mut Fx {
        self.tables.entry(source).or_default().extend(rows);
        self
    }

    /// Reads a source with no rows.
    fn empty(&mut self, source: &'static str) -> &mut Fx {
        self.tables.entry(source).or_default();
        self
    }

    fn birth(&mut self, row: Row) -> &mut Fx {
        self.births.get_or_insert_with(Vec::new).push(row);
        self
    }

    fn frames(&self) -> (BTreeMap<&'static str, DataFrame>, Option<DataFrame>) {
        let tables = self
            .tables
            .iter()
            .map(|(src, rows)| (*src, frame(rows, &[frames::key_field(src)])))
            .collect();
        let births = self.births.as_ref().map(|b| {
            // The columns of linkage's births that rules need, nulls where a test sets none.
            let always = [
                "birth_id",
                "village",
                "floating",
                "hospital_delivery_key",
                "birth_certificate_key",
                "household_key",
                "vaccination_key",
                "prenatal_care_key",
                "birth_registration_key",
                "birth_order",
                "policy_category",
                "policy_limit",
            ];
            frame(b, &always)
        });
        (tables, births)
    }

    fn run_with(&self, cfg: &ChecksConfig, decisions: Option<&Decisions>) -> Checked {
        self.try_run(cfg, decisions).expect("checks run")
    }

    fn try_run_with(&self, cfg: &ChecksConfig) -> Result<Checked, ChecksError> {
        self.try_run(cfg, None)
    }

    /// Runs the births stage over the births given by hand, then the checks.
    fn try_run(
        &self,
        cfg: &ChecksConfig,
        decisions: Option<&Decisions>,
    ) -> Result<Checked, ChecksError> {
        let (tables, births) = self.frames();
        let mut input = CheckInput::new(self.as_of, (day("2025-01-01"), day("2025-12-31")))
            .with_villages(self.villages.clone());
        for (src, df) in &tables {
            input = input.with_source(src, df);
        }
        // The births stage over the births given by hand, as the night runs it.
        let period = (day("2025-01-01"), day("2025-12-31"));
        let settings = poprecon_link::FactSettings {
            birth_date_tolerance_days: cfg.birth_date_mismatch.tolerance_days,
        };
        let facts_of = |tables: &BTreeMap<&'static str, DataFrame>| {
            let link_input = poprecon_link::LinkInput::from_tables(
                |s| tables.get(s),
                self.as_of,
                period,
                "3403",
            );
            births.as_ref().map(|b| {
                poprecon_link::birth_facts(
                    b,
                    &link_input,
                    &poprecon_link::LinkConfig::default(),
                    &settings,
                )
                .expect("the births stage runs")
            })
        };
        let facts = facts_of(&tables);
        if let Some(f) = &facts {
            input = input
                .with_births(&f.births)
                .with_stillbirths(&f.stillbirths);
        }
        if let Some(a) = &self.ambiguous {
            input = input.with_ambiguous(a);
        }
        if let Some(d) = decisions {
            input = input.with_decisions(d);
        }
        let checked = run_checks(&input, cfg);
        // Every fixture with a household registry, school, marriage or social-security records
        // is run a second time as the night runs it: the registry narrowed
        // (`narrow_household`), the school, marriage and insurance records too
        // (`narrow_source`), the births stage and the rules on the rows held. Both must give
        // the same tables (or both fail).
        let narrowable = tables.contains_key("household")
            || crate::NARROWED_SOURCES
                .iter()
                .any(|s| tables.contains_key(s));
        if narrowable {
            let others_of = |source: &str| -> BTreeMap<String, DataFrame> {
                tables
                    .iter()
                    .filter(|(s, _)| **s != source)
                    .map(|(s, df)| ((*s).to_owned(), df.clone()))
                    .collect()
            };
            let window = poprecon_link::birth_window(period, &poprecon_link::LinkConfig::default());
            let household = tables
                .get("household")
                .map(|h| narrow_household(h, &others_of("household"), window))
                .transpose()
                .expect("the registry narrows");
            let sources: Vec<(&str, DataFrame, crate::SourceRest)> = crate::NARROWED_SOURCES
                .iter()
                .filter_map(|s| {
                    let df = tables.get(s)?;
                    crate::narrow_source(s, df, &others_of(s), household.as_ref().map(|h| &h.1))
                        .expect("the source narrows")
                        .map(|(held, rest)| (*s, held, rest))
                })
                .collect();
            let mut narrowed_tables = tables.clone();
            let mut narrowed = input.clone();
            if let Some((held, rest)) = &household {
                narrowed_tables.insert("household", held.clone());
                narrowed = narrowed.with_narrowed_household(held, rest);
            }
            for (s, held, rest) in &sources {
                narrowed_tables.insert(s, held.clone());
                narrowed = narrowed.with_narrowed_source(s, held, rest);
            }
            let narrowed_facts = facts_of(&narrowed_tables);
            if let (Some(f), Some(n)) = (&facts, &narrowed_facts) {
                assert!(
                    f.births.equals_missing(&n.births),
                    "births, narrowed registry"
                );
                narrowed = narrowed
                    .with_births(&n.births)
                    .with_stillbirths(&n.stillbirths);
            }
            match (&checked, run_checks(&narrowed, cfg)) {
                (Ok(a), Ok(b)) => {
                    assert!(
                        a.discrepancies.equals_missing(&b.discrepancies),
                        "discrepancies, narrowed registry:\n{:?}\n{:?}",
                        a.discrepancies,
                        b.discrepancies
                    );
                    assert!(
                        a.village_discrepancies
                            .equals_missing(&b.village_discrepancies),
                        "village units, narrowed registry:\n{:?}\n{:?}",
                        a.village_discrepancies,
                        b.village_discrepancies
                    );
                }
                (Err(_), Err(_)) => {}
                (a, b) => panic!("whole registry {:?}, narrowed {:?}", a.is_ok(), b.is_ok()),
            }
        }
        checked
    }

    fn run(&self) -> Checked {
        self.run_with(&ChecksConfig::default(), None)
    }
}

fn texts(df: &DataFrame, column: &str) -> Vec<Option<String>> {
    df.column(column)
        .expect("column")
        .cast(&DataType::String)
        .expect("text")
        .str()
        .expect("text")
        .iter()
        .map(|v| v.map(str::to_owned))
        .collect()
}

fn names(df: &DataFrame) -> Vec<&str> {
    df.get_column_names()
        .into_iter()
        .map(|c| c.as_str())
        .collect()
}

fn of_rule(c: &Checked, rule: &str) -> DataFrame {
    c.discrepancies
        .clone()
        .lazy()
        .filter(col("rule_id").eq(lit(rule.to_owned())))
        .collect()
        .expect("filter")
}

/// The keys of `source` in the rule's discrepancies, sorted.
fn keys(c: &Checked, rule: &str, source: &str) -> Vec<String> {
    let mut k: Vec<String> = texts(&of_rule(c, rule), &format!("{source}_key"))
        .into_iter()
        .flatten()
        .collect();
    k.sort();
    k
}

/// The births of the rule's discrepancies, sorted.
fn births_of(c: &Checked, rule: &str) -> Vec<String> {
    let mut b: Vec<String> = texts(&of_rule(c, rule), "birth_id")
        .into_iter()
        .flatten()
        .collect();
    b.sort();
    b
}

/// The `values` of the rule's one discrepancy whose `source` key is `key`.
fn values_of(c: &Checked, rule: &str, source: &str, key: &str) -> String {
    let df = of_rule(c, rule);
    let k = texts(&df, &format!("{source}_key"));
    let v = texts(&df, "values");
    let hits: Vec<_> = k
        .iter()
        .zip(&v)
        .filter(|(k, _)| k.as_deref() == Some(key))
        .collect();
    assert_eq!(hits.len(), 1, "one `{rule}` row for {source}={key}");
    hits[0].1.clone().unwrap_or_default()
}

fn village_row(c: &Checked, village: Option<&str>, rule: &str) -> (i64, i64) {
    let df = &c.village_discrepancies;
    let v = texts(df, "village");
    let r = texts(df, "rule_id");
    let count = df.column("count").unwrap().i64().unwrap();
    let den = df.column("denominator").unwrap().i64().unwrap();
    let i = (0..df.height())
        .find(|&i| v[i].as_deref() == village && r[i].as_deref() == Some(rule))
        .unwrap_or_else(|| panic!("a village row for `{rule}`"));
    (count.get(i).unwrap(), den.get(i).unwrap())
}

fn only(rules: &[RuleId]) -> ChecksConfig {
    let mut cfg: ChecksConfig = toml::from_str(
        &RuleId::ALL
            .iter()
            .map(|r| format!("[{r}]\nenabled = false\n"))
            .collect::<String>(),
    )
    .expect("config");
    for r in rules {
        let text = format!("[{r}]\nenabled = true\n");
        let one: ChecksConfig = toml::from_str(&text).expect("config");
        cfg = merge(cfg, one, *r);
    }
    cfg
}

/// `base` with rule `r`'s settings taken from `other`.
fn merge(mut base: ChecksConfig, other: ChecksConfig, r: RuleId) -> ChecksConfig {
    macro_rules! take {
        ($($v:ident => $f:ident),*) => {
            match r { $(RuleId::$v => base.$f = other.$f,)* }
        };
    }
    take! {
        DeliveryWithoutCertificate => delivery_without_certificate,
        CertificateWithoutDelivery => certificate_without_delivery,
        BirthWithoutHouseholdRegistration => birth_without_household_registration,
        HouseholdBirthWithoutCertificate => household_birth_without_certificate,
        BirthWithoutRegistrationService => birth_without_registration_service,
        DeliveryWithoutPrenatalBooking => delivery_without_prenatal_booking,
        BirthWithoutHepb1 => birth_without_hepb1,
        LateHepb1 => late_hepb1,
        LatePrenatalBooking => late_prenatal_booking,
        LateHouseholdRegistration => late_household_registration,
        SexMismatch => sex_mismatch,
        BirthDateMismatch => birth_date_mismatch,
        MotherIdMismatch => mother_id_mismatch,
        IdNumberConflict => id_number_conflict,
        ChildOrderMismatch => child_order_mismatch,
        OutOfPolicyBirth => out_of_policy_birth,
        RegistrationWithoutMarriage => registration_without_marriage,
        MaternityClaimWithoutDelivery => maternity_claim_without_delivery,
        StudentWithoutHouseholdRegistration => student_without_household_registration,
        DuplicateRecord => duplicate_record,
        AmbiguousLink => ambiguous_link,
        InvalidValue => invalid_value
    }
    base
}

const V1: &str = "340302001001";
const V2: &str = "340302001002";
const V3: &str = "340302002001";

fn mother(n: u32) -> String {
    rid("19950101", 2 * n)
}

/// A mother's active household row in `village`.
fn resident(m: &str, village: &str) -> Row {
    [
        id("person_id", m),
        vec![
            ("village", s(village)),
            ("status", s("active")),
            ("sex", V::I(2)),
            ("relation_to_head", s("10")),
        ],
    ]
    .concat()
}

/// A birth of linkage: id, keys (source, key), village, floating.
fn birth(bid: &str, recs: &[(&'static str, &str)], village: &str, floating: bool) -> Row {
    let mut r: Row = vec![
        ("birth_id", s(bid)),
        ("village", s(village)),
        ("floating", V::B(floating)),
    ];
    for (src, key) in recs {
        let col: &'static str = match *src {
            "hospital_delivery" => "hospital_delivery_key",
            "birth_certificate" => "birth_certificate_key",
            "household" => "household_key",
            "vaccination" => "vaccination_key",
            "prenatal_care" => "prenatal_care_key",
            "birth_registration" => "birth_registration_key",
            other => panic!("no key column for `{other}`"),
        };
        r.push((col, s(key)));
    }
    r
}

fn delivery(key: &str, m: &str, date: &'static str, sex: i32, village: &str) -> Row {
    [
        vec![("record_id", s(key))],
        id("mother_id", m),
        vec![
            ("delivery_date", V::D(date)),
            ("child_sex", V::I(sex)),
            ("outcome", s("live")),
            ("residence_village", s(village)),
        ],
    ]
    .concat()
}

fn certificate(key: &str, m: &str, date: &'static str, sex: i32) -> Row {
    [
        vec![("certificate_no", s(key))],
        id("mother_id", m),
        vec![
            ("birth_date", V::D(date)),
            ("child_sex", V::I(sex)),
            ("birth_place_type", s("medical_institution")),
            ("issue_type", s("first")),
        ],
    ]
    .concat()
}

fn dose(
    code: &str,
    m: &str,
    born: &'static str,
    vaccine: &str,
    n: i32,
    given: &'static str,
) -> Row {
    [
        vec![("child_code", s(code))],
        id("mother_id", m),
        vec![
            ("birth_date", V::D(born)),
            ("child_sex", V::I(1)),
            ("vaccine", s(vaccine)),
            ("dose", V::I(n)),
            ("vaccination_date", V::D(given)),
        ],
    ]
    .concat()
}

/// A child's household row registered by reason of birth.
fn child_row(pid: &str, m: &str, born: &'static str, sex: i32, registered: &'static str) -> Row {
    [
        id("person_id", pid),
        id("mother_id", m),
        vec![
            ("birth_date", V::D(born)),
            ("sex", V::I(sex)),
            ("village", s(V1)),
            ("status", s("active")),
            ("registration_reason", s("birth")),
            ("registration_date", V::D(registered)),
            ("relation_to_head", s("20")),
        ],
    ]
    .concat()
}

// ---------------------------------------------------------------------------------------
// Catalogue and configuration

#[test]
fn the_ids_are_those_of_domain_md() {
    let ids: Vec<&str> = RuleId::ALL.iter().map(|r| r.as_str()).collect();
    assert_eq!(
        ids,
        [
            "delivery_without_certificate",
            "certificate_without_delivery",
            "birth_without_household_registration",
            "household_birth_without_certificate",
            "birth_without_registration_service",
            "delivery_without_prenatal_booking",
            "birth_without_hepb1",
            "late_hepb1",
            "late_prenatal_booking",
            "late_household_registration",
            "sex_mismatch",
            "birth_date_mismatch",
            "mother_id_mismatch",
            "id_number_conflict",
            "child_order_mismatch",
            "out_of_policy_birth",
            "registration_without_marriage",
            "maternity_claim_without_delivery",
            "student_without_household_registration",
            "duplicate_record",
            "ambiguous_link",
            "invalid_value",
        ]
    );
    for r in RuleId::ALL {
        assert_eq!(RuleId::parse(r.as_str()), Some(r));
        assert_eq!(r.info().id, r);
        assert!(!r.info().name_zh.is_empty() && !r.info().name_en.is_empty());
    }
    assert_eq!(RuleId::SexMismatch.info().name_zh, "性别不一致");
    assert_eq!(RuleId::InvalidValue.info().name_zh, "数据项不合规");
}

#[test]
fn test_ids_follow_gb_11643() {
    assert_eq!(rid("20160101", 1), "340302201601010019");
}

#[test]
fn settings_default_to_domain_md_and_unknown_keys_are_errors() {
    let cfg = ChecksConfig::default();
    assert_eq!(cfg.delivery_without_certificate.grace_days, 30);
    assert_eq!(cfg.birth_without_household_registration.grace_days, 60);
    assert_eq!(cfg.birth_without_hepb1.grace_days, 7);
    assert_eq!(cfg.late_hepb1.max_days, 1);
    assert_eq!(cfg.late_prenatal_booking.weeks, 13);
    assert_eq!(cfg.late_household_registration.max_days, 30);
    assert_eq!(
        (
            cfg.birth_without_registration_service.days_before,
            cfg.birth_without_registration_service.days_after
        ),
        (730, 90)
    );
    assert_eq!(cfg.delivery_without_prenatal_booking.days_before, 300);
    assert_eq!(cfg.maternity_claim_without_delivery.window_days, 180);
    assert_eq!(cfg.duplicate_record.sources.len(), 9);

    // A partial table keeps the rule's other defaults, its severity included.
    let cfg: ChecksConfig = toml::from_str(
        "[delivery_without_certificate]\ngrace_days = 45\n[sex_mismatch]\nseverity = \"low\"\n",
    )
    .unwrap();
    assert_eq!(cfg.delivery_without_certificate.grace_days, 45);
    assert!(cfg.delivery_without_certificate.enabled);
    assert_eq!(cfg.delivery_without_certificate.severity, Severity::High);
    assert_eq!(cfg.rule(RuleId::SexMismatch), (true, Severity::Low));
    assert_eq!(
        cfg.birth_without_hepb1,
        BirthWithoutHepb1Settings::default()
    );

    assert!(toml::from_str::<ChecksConfig>("[sex_mismatch]\ngrace_days = 3\n").is_err());
    assert!(toml::from_str::<ChecksConfig>("[no_such_rule]\nenabled = false\n").is_err());
    assert!(toml::from_str::<ChecksConfig>("[late_hepb1]\nseverity = \"urgent\"\n").is_err());

    let bad: ChecksConfig = toml::from_str("[late_hepb1]\nmax_days = -1\n").unwrap();
    let e = bad.validate().unwrap_err().to_string();
    assert!(e.contains("rules.late_hepb1.max_days"), "{e}");
    let clash: ChecksConfig = toml::from_str(
        "[[local]]\nid = \"sex_mismatch\"\nname_zh = \"x\"\nsql = \"SELECT birth_id FROM births\"\n",
    )
    .unwrap();
    assert!(
        clash
            .validate()
            .unwrap_err()
            .to_string()
            .contains("rules.local[0].id")
    );
    let dup_source: ChecksConfig =
        toml::from_str("[duplicate_record]\nsources = [\"hospital\"]\n").unwrap();
    assert!(dup_source.validate().is_err());
}

// ---------------------------------------------------------------------------------------
// Coverage rules: grace periods, floating mothers

#[test]
fn coverage_rules_honour_their_grace_periods() {
    // as_of 2026-01-15: certificate grace 30 d ⇒ born on or before 2025-12-16; household
    // 60 d ⇒ 2025-11-16; HepB 7 d ⇒ 2026-01-08 (all births of 2025).
    let m = mother(1);
    let mut fx = Fx::new();
    fx.add(
        "hospital_delivery",
        vec![
            delivery("D1", &m, "2025-12-16", 1, V1),
            delivery("D2", &m, "2025-12-17", 2, V1),
            delivery("D3", &m, "2025-11-16", 1, V1),
            delivery("D4", &m, "2025-11-17", 1, V1),
        ],
    )
    .empty("birth_certificate")
    .empty("vaccination")
    .add("household", vec![resident(&m, V1)]);
    for (b, d) in [("B1", "D1"), ("B2", "D2"), ("B3", "D3"), ("B4", "D4")] {
        fx.birth(birth(b, &[("hospital_delivery", d)], V1, false));
    }
    let c = fx.run();
    assert_eq!(
        births_of(&c, "delivery_without_certificate"),
        ["B1", "B3", "B4"]
    );
    assert_eq!(
        births_of(&c, "birth_without_household_registration"),
        ["B3"]
    );
    assert_eq!(
        births_of(&c, "birth_without_hepb1"),
        ["B1", "B2", "B3", "B4"]
    );
    // The denominators count what the rule checked.
    assert_eq!(
        village_row(&c, Some(V1), "delivery_without_certificate"),
        (3, 3)
    );
    assert_eq!(
        village_row(&c, Some(V1), "birth_without_household_registration"),
        (1, 1)
    );
    // A longer grace period is a setting.
    let cfg: ChecksConfig =
        toml::from_str("[delivery_without_certificate]\ngrace_days = 60\n").unwrap();
    let c = fx.run_with(&cfg, None);
    assert_eq!(births_of(&c, "delivery_without_certificate"), ["B3"]);
}

#[test]
fn floating_mothers_are_not_expected_in_the_household_registry() {
    let (m1, m2, m3) = (mother(1), mother(2), mother(3));
    let mut moved = resident(&m3, V2);
    moved.push(("status", s("moved_out")));
    let mut fx = Fx::new();
    fx.add(
        "hospital_delivery",
        vec![
            delivery("D1", &m1, "2025-03-01", 1, V1),
            delivery("D2", &m2, "2025-03-01", 1, V1),
            delivery("D3", &m3, "2025-03-01", 1, V1),
        ],
    )
    .add("household", vec![resident(&m1, V1), moved]);
    // Linkage's floating flag is used where it is given; computed where it is not.
    fx.birth(birth("B1", &[("hospital_delivery", "D1")], V1, false))
        .birth(birth("B2", &[("hospital_delivery", "D2")], V1, true));
    let mut b3 = birth("B3", &[("hospital_delivery", "D3")], V1, false);
    b3.retain(|(c, _)| *c != "floating");
    fx.birth(b3);
    let c = fx.run();
    assert_eq!(
        births_of(&c, "birth_without_household_registration"),
        ["B1"]
    );
}

#[test]
fn certificate_and_household_coverage() {
    let m = mother(1);
    let (k1, k2) = (rid("20250301", 1), rid("20250302", 2));
    let mut home = certificate("C2", &m, "2025-05-01", 1);
    home.push(("birth_place_type", s("home")));
    let mut moved_in = child_row(&k2, &m, "2025-03-02", 2, "2025-03-10");
    moved_in.push(("registration_reason", s("move_in")));
    let mut fx = Fx::new();
    fx.add(
        "birth_certificate",
        vec![certificate("C1", &m, "2025-04-01", 1), home],
    )
    .empty("hospital_delivery")
    .add(
        "household",
        vec![
            resident(&m, V1),
            child_row(&k1, &m, "2025-03-01", 1, "2025-03-05"),
            moved_in,
        ],
    )
    .birth(birth("B1", &[("birth_certificate", "C1")], V1, false))
    .birth(birth("B2", &[("birth_certificate", "C2")], V1, false))
    .birth(birth("B3", &[("household", &k1)], V1, false))
    .birth(birth("B4", &[("household", &k2)], V1, false));
    let c = fx.run();
    // A home birth has no delivery record to expect.
    assert_eq!(births_of(&c, "certificate_without_delivery"), ["B1"]);
    // Registered by reason of birth, no certificate; a move-in is not a birth registration.
    assert_eq!(births_of(&c, "household_birth_without_certificate"), ["B3"]);
    assert_eq!(
        keys(&c, "household_birth_without_certificate", "household"),
        [k1]
    );
}

// ---------------------------------------------------------------------------------------
// Mother-level windows

/// The rules read the registration and the booking linkage attached to each birth (its
/// windows are linkage's, tested there: `booking_and_registration_windows_have_their_edges`);
/// the stillbirths' deliveries take the booking the births stage found.
#[test]
fn registration_and_booking_rules_read_linkages_keys() {
    let ms: Vec<String> = (1..=5).map(mother).collect();
    let mut fx = Fx::new();
    // All born 2025-06-01; registrations at −730, +90, +91 days, none, −731: linkage
    // attaches R1 and R2.
    let regs = [
        ("R1", &ms[0], "2023-06-02"),
        ("R2", &ms[1], "2025-08-30"),
        ("R3", &ms[2], "2025-08-31"),
        ("R5", &ms[4], "2023-06-01"),
    ];
    fx.add(
        "birth_registration",
        regs.iter()
            .map(|(k, m, d)| {
                [
                    vec![("record_id", s(k)), ("registration_date", V::D(d))],
                    id("woman_id", m),
                ]
                .concat()
            })
            .collect(),
    );
    // Bookings at −300 (in), −301 (out), the day itself (in), after (out): linkage attaches
    // P1 and P3.
    let books = [
        ("P1", &ms[0], "2024-08-05"),
        ("P2", &ms[1], "2024-08-04"),
        ("P3", &ms[2], "2025-06-01"),
        ("P4", &ms[3], "2025-06-02"),
    ];
    fx.add(
        "prenatal_care",
        books
            .iter()
            .map(|(k, m, d)| {
                [
                    vec![("record_id", s(k)), ("booking_date", V::D(d))],
                    id("mother_id", m),
                ]
                .concat()
            })
            .collect(),
    );
    let stillbirth = |key: &str, m: &str| {
        let mut r = delivery(key, m, "2025-02-01", 1, V2);
        r.push(("outcome", s("stillbirth")));
        r
    };
    let mut rows: Vec<Row> = (0..5)
        .map(|i| delivery(&format!("D{}", i + 1), &ms[i], "2025-06-01", 1, V1))
        .collect();
    // Stillbirth deliveries of the period without a booking: one in no birth (as linkage
    // gives them), one in a birth given by hand.
    rows.push(stillbirth("D6", &ms[4]));
    rows.push(stillbirth("D8", &ms[3]));
    // A delivery outside the period is not checked.
    rows.push(delivery("D7", &ms[4], "2024-12-31", 1, V1));
    fx.add("hospital_delivery", rows);
    let attached: [&[(&'static str, &str)]; 5] = [
        &[("prenatal_care", "P1"), ("birth_registration", "R1")],
        &[("birth_registration", "R2")],
        &[("prenatal_care", "P3")],
        &[],
        &[],
    ];
    for (i, keys) in attached.iter().enumerate() {
        let d = format!("D{}", i + 1);
        let mut recs = vec![("hospital_delivery", d.as_str())];
        recs.extend_from_slice(keys);
        fx.birth(birth(&format!("B{}", i + 1), &recs, V1, true));
    }
    fx.birth(birth("B8", &[("hospital_delivery", "D8")], V1, true));
    let c = fx.run();
    assert_eq!(
        births_of(&c, "birth_without_registration_service"),
        ["B3", "B4", "B5", "B8"]
    );
    // Every delivery of the period (§8.4): the stillbirths' too, once each, whether or not
    // a birth holds them; the stillbirth outside the period (D7 is live and outside) is not.
    assert_eq!(
        keys(&c, "delivery_without_prenatal_booking", "hospital_delivery"),
        ["D2", "D4", "D5", "D6", "D8"]
    );
    assert_eq!(
        births_of(&c, "delivery_without_prenatal_booking"),
        ["B2", "B4", "B5", "B8"]
    );
    assert_eq!(
        values_of(
            &c,
            "delivery_without_prenatal_booking",
            "hospital_delivery",
            "D2"
        ),
        "delivery_date=2025-06-01"
    );
    // The denominators count the five live births' deliveries and the stillbirth of B8 in
    // its birth's village, and the stillbirth of no birth in its own residence village.
    assert_eq!(
        village_row(&c, Some(V1), "delivery_without_prenatal_booking"),
        (4, 6)
    );
    assert_eq!(
        village_row(&c, Some(V2), "delivery_without_prenatal_booking"),
        (1, 1)
    );
    assert_eq!(
        values_of(
            &c,
            "delivery_without_prenatal_booking",
            "hospital_delivery",
            "D6"
        ),
        "delivery_date=2025-02-01"
    );
    // The setting that checked stillbirths is gone: the pipeline names it as an error.
    assert!(
        toml::from_str::<ChecksConfig>(
            "[delivery_without_prenatal_booking]\ninclude_stillbirths = true\n"
        )
        .is_err()
    );
}

// ---------------------------------------------------------------------------------------
// Vaccination and registration timeliness

#[test]
fn hepb1_and_household_registration_timeliness() {
    let m = mother(1);
    let (k1, k2, k3) = (rid("20250301", 1), rid("20250301", 3), rid("20250301", 5));
    let mut fx = Fx::new();
    fx.add(
        "vaccination",
        vec![
            // Next day: timely. The earliest HepB 1 counts, not a later BCG or dose 2.
            dose("V1", &m, "2025-03-01", "BCG", 1, "2025-03-01"),
            dose("V1", &m, "2025-03-01", "HepB", 1, "2025-03-02"),
            dose("V1", &m, "2025-03-01", "HepB", 2, "2025-04-01"),
            // Two days after: late.
            dose("V2", &m, "2025-03-01", "HepB", 1, "2025-03-03"),
            // No HepB 1 at all.
            dose("V3", &m, "2025-03-01", "HepB", 2, "2025-04-01"),
        ],
    )
    .add(
        "household",
        vec![
            resident(&m, V1),
            child_row(&k1, &m, "2025-03-01", 1, "2025-03-31"),
            child_row(&k2, &m, "2025-03-01", 1, "2025-04-01"),
            child_row(&k3, &m, "2025-03-01", 1, "2025-03-02"),
        ],
    );
    // k3 moved into another household later: the move is not the registration.
    let mut again = child_row(&k3, &m, "2025-03-01", 1, "2025-09-01");
    again.push(("registration_reason", s("move_in")));
    fx.add("household", vec![again])
        .birth(birth(
            "B1",
            &[("vaccination", "V1"), ("household", &k1)],
            V1,
            false,
        ))
        .birth(birth(
            "B2",
            &[("vaccination", "V2"), ("household", &k2)],
            V1,
            false,
        ))
        .birth(birth(
            "B3",
            &[("vaccination", "V3"), ("household", &k3)],
            V1,
            false,
        ));
    let c = fx.run();
    assert_eq!(births_of(&c, "late_hepb1"), ["B2"]);
    assert_eq!(births_of(&c, "birth_without_hepb1"), ["B3"]);
    assert_eq!(births_of(&c, "late_household_registration"), ["B2"]);
    let v = values_of(&c, "late_hepb1", "vaccination", "V2");
    assert_eq!(v, "birth_date=2025-03-01;hepb1_date=2025-03-03");
}

#[test]
fn late_prenatal_booking_covers_every_booking() {
    let m = mother(1);
    let book = |k: &str, weeks: i32| {
        [
            vec![
                ("record_id", s(k)),
                ("booking_date", V::D("2020-01-01")),
                ("booking_gestational_weeks", V::I(weeks)),
                ("residence_village", s(V2)),
            ],
            id("mother_id", &m),
        ]
        .concat()
    };
    let mut no_weeks = book("P4", 1);
    no_weeks.retain(|(c, _)| *c != "booking_gestational_weeks");
    let mut fx = Fx::new();
    // No births at all: record-level rules still run (a booking of 2020 is checked too).
    fx.add(
        "prenatal_care",
        vec![book("P1", 12), book("P2", 13), book("P3", 20), no_weeks],
    );
    let c = fx.run();
    assert_eq!(
        keys(&c, "late_prenatal_booking", "prenatal_care"),
        ["P2", "P3"]
    );
    assert_eq!(
        values_of(&c, "late_prenatal_booking", "prenatal_care", "P2"),
        "prenatal_care=13"
    );
    assert_eq!(village_row(&c, Some(V2), "late_prenatal_booking"), (2, 3));
}

// ---------------------------------------------------------------------------------------
// Mismatches: one row per birth, every source's value; twins; invalid against blank IDs

#[test]
fn mismatches_list_every_source_and_twins_are_births_apart() {
    let (m1, m2, m3) = (mother(1), mother(2), mother(3));
    let mut fx = Fx::new();
    let mut d2 = delivery("D2", &m1, "2025-03-01", 2, V1);
    d2.push(("birth_seq", V::I(2)));
    let mut d1 = delivery("D1", &m1, "2025-03-01", 1, V1);
    d1.push(("birth_seq", V::I(1)));
    let mut unknown_sex = certificate("C3", &m2, "2025-03-02", 1);
    unknown_sex.push(("child_sex", V::I(0)));
    fx.add(
        "hospital_delivery",
        vec![d1, d2, delivery("D3", &m2, "2025-03-02", 1, V1), {
            // An invalid mother ID is not compared (invalid_value reports it).
            [
                vec![
                    ("record_id", s("D4")),
                    ("delivery_date", V::D("2025-03-03")),
                    ("child_sex", V::I(1)),
                ],
                bad_id("mother_id", "340302199501010041", "check_digit"),
            ]
            .concat()
        }],
    )
    .add(
        "birth_certificate",
        vec![
            // Twins: each child's certificate agrees with its own delivery.
            certificate("C1", &m1, "2025-03-01", 1),
            certificate("C2", &m1, "2025-03-01", 2),
            unknown_sex,
            certificate("C4", &m3, "2025-03-04", 1),
        ],
    )
    .add(
        "vaccination",
        vec![
            // The second twin: vaccination says male, and a wrong mother.
            dose("V2", &m2, "2025-03-01", "HepB", 1, "2025-03-01"),
            dose("V4", &m3, "2025-03-03", "HepB", 1, "2025-03-04"),
        ],
    )
    .birth(birth(
        "B1",
        &[("hospital_delivery", "D1"), ("birth_certificate", "C1")],
        V1,
        true,
    ))
    .birth(birth(
        "B2",
        &[
            ("hospital_delivery", "D2"),
            ("birth_certificate", "C2"),
            ("vaccination", "V2"),
        ],
        V1,
        true,
    ))
    .birth(birth(
        "B3",
        &[("hospital_delivery", "D3"), ("birth_certificate", "C3")],
        V1,
        true,
    ))
    .birth(birth(
        "B4",
        &[
            ("hospital_delivery", "D4"),
            ("birth_certificate", "C4"),
            ("vaccination", "V4"),
        ],
        V1,
        true,
    ));
    let c = fx.run();
    assert_eq!(births_of(&c, "sex_mismatch"), ["B2"]);
    assert_eq!(
        values_of(&c, "sex_mismatch", "hospital_delivery", "D2"),
        "hospital_delivery=2;birth_certificate=2;vaccination=1"
    );
    // B4: delivery and certificate disagree by a day, the vaccination agrees with one.
    assert_eq!(births_of(&c, "birth_date_mismatch"), ["B4"]);
    assert_eq!(
        values_of(&c, "birth_date_mismatch", "hospital_delivery", "D4"),
        "hospital_delivery=2025-03-03;birth_certificate=2025-03-04;vaccination=2025-03-03"
    );
    // B2: the vaccination names another valid mother. B4: the delivery's ID is invalid,
    // so only the certificate and the vaccination are compared, and they agree.
    assert_eq!(births_of(&c, "mother_id_mismatch"), ["B2"]);
    assert_eq!(keys(&c, "invalid_value", "hospital_delivery"), ["D4"]);
    assert_eq!(
        values_of(&c, "invalid_value", "hospital_delivery", "D4"),
        "reason=check_digit;hospital_delivery=340302199501010041"
    );
    let row = of_rule(&c, "sex_mismatch");
    assert_eq!(texts(&row, "field"), [Some("sex".to_owned())]);
    assert_eq!(texts(&row, "severity"), [Some("high".to_owned())]);
}

#[test]
fn id_number_conflicts_per_record_and_id_field() {
    let m = mother(1);
    let man = rid("19900101", 1);
    let k1 = rid("20250301", 1);
    let mut fx = Fx::new();
    fx.add(
        "household",
        vec![
            resident(&m, V1),
            // The child's ID says born 2025-03-01, male; the row says 2025-03-02, female.
            child_row(&k1, &m, "2025-03-02", 2, "2025-03-05"),
        ],
    )
    .add(
        "hospital_delivery",
        // A man's ID as the mother's.
        vec![delivery("D1", &man, "2025-03-02", 2, V1)],
    )
    .birth(birth(
        "B1",
        &[("hospital_delivery", "D1"), ("household", &k1)],
        V1,
        false,
    ));
    let c = fx.run();
    let rows = of_rule(&c, "id_number_conflict");
    assert_eq!(rows.height(), 2);
    assert_eq!(
        keys(&c, "id_number_conflict", "household"),
        vec![k1.clone()]
    );
    assert_eq!(
        values_of(&c, "id_number_conflict", "household", &k1),
        "encoded_birth_date=2025-03-01;birth_date=2025-03-02;encoded_sex=1;sex=2"
    );
    assert_eq!(
        values_of(&c, "id_number_conflict", "hospital_delivery", "D1"),
        "encoded_sex=1"
    );
    let mut fields: Vec<_> = texts(&rows, "field").into_iter().flatten().collect();
    fields.sort();
    assert_eq!(fields, ["mother_id", "person_id"]);
}

#[test]
fn id_number_conflicts_in_every_record_of_every_source() {
    // No births at all: the rule reads every record of every source.
    let (m, man) = (mother(1), rid("19900101", 1));
    let woman = rid("19920202", 4);
    let pupil = rid("20150101", 2);
    let other = rid("20150301", 1);
    let school = |key: &str, pid: Row, sex: i32, born: &'static str| {
        [
            vec![
                ("student_no", s(key)),
                ("sex", V::I(sex)),
                ("birth_date", V::D(born)),
            ],
            pid,
        ]
        .concat()
    };
    let mut fx = Fx::new();
    fx.add(
        "school",
        vec![
            // A female ID on a male row.
            school("S1", id("person_id", &pupil), 1, "2015-01-01"),
            // The ID says born 2015-03-01; the row says 2015-03-02.
            school("S2", id("person_id", &other), 1, "2015-03-02"),
            // Agrees.
            school("S3", id("person_id", &other), 1, "2015-03-01"),
            // Unknown sex and no birth date: nothing to compare.
            school("S4", id("person_id", &pupil), 9, "2015-01-01"),
            // An invalid ID is not read (it is an `invalid_value`).
            school(
                "S5",
                bad_id("person_id", "340302201501010020", "check_digit"),
                1,
                "2015-01-01",
            ),
        ],
    )
    .add(
        "household",
        vec![
            // The pupil's own household row agrees with her ID; it gives her village.
            [
                resident(&pupil, V2),
                vec![("birth_date", V::D("2015-01-01"))],
            ]
            .concat(),
            // A man's ID as a mother's, and a woman's as a father's.
            [
                child_row(&rid("20100505", 3), &man, "2010-05-05", 1, "2010-05-10"),
                id("father_id", &woman),
            ]
            .concat(),
        ],
    )
    .add(
        "birth_registration",
        vec![
            [
                vec![
                    ("record_id", s("R1")),
                    ("registration_date", V::D("2024-01-01")),
                ],
                id("woman_id", &man),
                id("man_id", &woman),
            ]
            .concat(),
            [
                vec![
                    ("record_id", s("R2")),
                    ("registration_date", V::D("2024-01-01")),
                ],
                id("woman_id", &m),
                id("man_id", &man),
            ]
            .concat(),
        ],
    )
    .add(
        "marriage",
        vec![
            [
                vec![
                    ("record_id", s("M1")),
                    ("kind", s("marriage")),
                    ("registration_date", V::D("2020-01-01")),
                ],
                id("man_id", &woman),
                id("woman_id", &m),
            ]
            .concat(),
        ],
    )
    .add(
        "birth_certificate",
        vec![
            [
                certificate("C1", &m, "2025-03-02", 1),
                id("father_id", &woman),
            ]
            .concat(),
        ],
    )
    .add(
        "prenatal_care",
        vec![
            [
                vec![("record_id", s("P1")), ("booking_date", V::D("2024-09-01"))],
                id("mother_id", &man),
            ]
            .concat(),
        ],
    )
    .add(
        "vaccination",
        vec![
            // A child of two dose rows whose ID says female on a male row: one record.
            [
                dose("V1", &m, "2025-03-01", "HepB", 1, "2025-03-01"),
                id("child_id", &rid("20250301", 2)),
            ]
            .concat(),
            [
                dose("V1", &m, "2025-03-01", "HepB", 2, "2025-04-01"),
                id("child_id", &rid("20250301", 2)),
            ]
            .concat(),
            // Agrees.
            [
                dose("V2", &m, "2025-03-01", "HepB", 1, "2025-03-01"),
                id("child_id", &rid("20250301", 1)),
            ]
            .concat(),
        ],
    );
    let c = fx.run();
    let rows = of_rule(&c, "id_number_conflict");
    let mut found: Vec<String> = (0..rows.height())
        .map(|i| {
            let source = SOURCES
                .iter()
                .find(|src| texts(&rows, &format!("{src}_key"))[i].is_some())
                .expect("a record key");
            let key = texts(&rows, &format!("{source}_key"))[i].clone().unwrap();
            let field = texts(&rows, "field")[i].clone().unwrap();
            format!("{source}:{key}:{field}")
        })
        .collect();
    found.sort();
    let child = rid("20100505", 3);
    // A man's or father's ID is not checked (§8.6 names mothers only).
    let mut want = vec![
        "birth_registration:R1:woman_id".to_owned(),
        format!("household:{child}:mother_id"),
        "prenatal_care:P1:mother_id".to_owned(),
        "school:S1:person_id".to_owned(),
        "school:S2:person_id".to_owned(),
        "vaccination:V1:child_id".to_owned(),
    ];
    want.sort();
    assert_eq!(found, want);
    assert_eq!(
        values_of(&c, "id_number_conflict", "school", "S1"),
        "encoded_sex=2;sex=1"
    );
    assert_eq!(
        values_of(&c, "id_number_conflict", "school", "S2"),
        "encoded_birth_date=2015-03-01;birth_date=2015-03-02"
    );
    // §8.12: a school record's village is its person's active household village.
    let s1 = of_rule(&c, "id_number_conflict")
        .lazy()
        .filter(col("school_key").eq(lit("S1")))
        .collect()
        .unwrap();
    assert_eq!(texts(&s1, "village"), [Some(V2.to_owned())]);
    // Units per record and ID field with a valid ID (and, for an own ID, something to
    // compare it with): in V2 the pupil's school rows S1 and S4 (S4 has a birth date) and
    // her household row.
    assert_eq!(village_row(&c, Some(V2), "id_number_conflict"), (1, 3));
}

// ---------------------------------------------------------------------------------------
// Birth order and policy

#[test]
fn child_order_and_policy() {
    let (m1, m2, m3, m4) = (mother(1), mother(2), mother(3), mother(4));
    let reg = |k: &str, m: &str, order: Option<i32>| {
        let mut r = [
            vec![
                ("record_id", s(k)),
                ("registration_date", V::D("2024-10-01")),
            ],
            id("woman_id", m),
        ]
        .concat();
        if let Some(o) = order {
            r.push(("child_order", V::I(o)));
        }
        r
    };
    let mut fx = Fx::new();
    fx.add(
        "birth_registration",
        vec![
            reg("R1", &m1, Some(2)),
            reg("R2", &m2, Some(3)),
            reg("R3", &m3, Some(1)),
            reg("R4", &m4, Some(1)),
        ],
    );
    let b = |bid: &str, reg: &str, order: Option<i32>, cat: &str| {
        let mut r = birth(bid, &[("birth_registration", reg)], V1, false);
        r.push(("birth_date", V::D("2025-05-01")));
        if let Some(o) = order {
            r.push(("birth_order", V::I(o)));
        }
        r.push(("policy_category", s(cat)));
        r
    };
    // Twins of order 2 and 3: the pregnancy's first child is of order 2 (declared 2: fine).
    fx.birth(b("B1", "R1", Some(2), "second_within"))
        .birth(b("B2", "R1", Some(3), "higher_within"))
        // Declared 3, computed 4 (and out of policy).
        .birth(b("B3", "R2", Some(4), "higher_outside"))
        // A floating mother: undetermined, skipped.
        .birth(b("B4", "R3", None, "undetermined"))
        // Twins of order 2 and 3, declared 1: reported on the first-born (B9), whatever
        // the order of the birth ids.
        .birth(b("B5", "R4", Some(3), "higher_within"))
        .birth(b("B9", "R4", Some(2), "second_within"));
    let c = fx.run();
    assert_eq!(
        keys(&c, "child_order_mismatch", "birth_registration"),
        ["R2", "R4"]
    );
    assert_eq!(births_of(&c, "child_order_mismatch"), ["B3", "B9"]);
    assert_eq!(
        values_of(&c, "child_order_mismatch", "birth_registration", "R2"),
        "declared=3;computed=4"
    );
    assert_eq!(births_of(&c, "out_of_policy_birth"), ["B3"]);
    assert_eq!(village_row(&c, Some(V1), "out_of_policy_birth"), (1, 5));
    assert_eq!(village_row(&c, Some(V1), "child_order_mismatch"), (2, 3));
}

// ---------------------------------------------------------------------------------------
// Record-level rules over the registries

#[test]
fn divorces_do_not_cancel_a_marriage() {
    let couple = |n: u32| (rid("19900101", 2 * n + 1), mother(n));
    let (a, b, c_, d) = (couple(1), couple(2), couple(3), couple(4));
    let reg = |k: &str, (man, woman): &(String, String)| {
        [
            vec![
                ("record_id", s(k)),
                ("registration_date", V::D("2024-05-01")),
                ("residence_village", s(V3)),
            ],
            id("woman_id", woman),
            id("man_id", man),
        ]
        .concat()
    };
    let mar = |k: &str, kind: &str, date: &'static str, (man, woman): &(String, String)| {
        [
            vec![
                ("record_id", s(k)),
                ("kind", s(kind)),
                ("registration_date", V::D(date)),
            ],
            id("man_id", man),
            id("woman_id", woman),
        ]
        .concat()
    };
    let mut no_man = reg("R5", &d);
    no_man.retain(|(c, _)| !c.starts_with("man_id"));
    let mut fx = Fx::new();
    fx.add(
        "birth_registration",
        vec![
            reg("R1", &a),
            reg("R2", &b),
            reg("R3", &c_),
            reg("R4", &d),
            no_man,
        ],
    )
    .add(
        "marriage",
        vec![
            // Married, then divorced before the registration: still married before it.
            mar("M1", "marriage", "2020-01-01", &a),
            mar("M2", "divorce", "2023-01-01", &a),
            // Only a divorce.
            mar("M3", "divorce", "2020-01-01", &b),
            // Married on the day of the registration: not strictly before.
            mar("M4", "marriage", "2024-05-01", &c_),
            mar("M5", "marriage", "2019-05-01", &d),
        ],
    );
    let c = fx.run();
    assert_eq!(
        keys(&c, "registration_without_marriage", "birth_registration"),
        ["R2", "R3", "R5"]
    );
    assert_eq!(
        village_row(&c, Some(V3), "registration_without_marriage"),
        (3, 5)
    );
}

/// An 18-character ID whose date (2015-02-30) does not exist.
const IMPOSSIBLE_DATE_ID: &str = "340302201502300011";

#[test]
fn maternity_claims_and_students() {
    let (m1, m2, m3) = (mother(1), mother(2), mother(3));
    let claim = |m: &str, scheme: &str, date: &'static str| {
        [
            id("person_id", m),
            vec![("scheme", s(scheme)), ("maternity_claim_date", V::D(date))],
        ]
        .concat()
    };
    let mut still = delivery("D1", &m1, "2024-06-01", 1, V1);
    still.push(("outcome", s("stillbirth")));
    // m3's delivery carries an Excel-damaged mother ID, but linkage joined it to her birth
    // through her certificate: the delivery is hers (§8.23).
    let damaged = [
        vec![("record_id", s("D3"))],
        bad_id("mother_id", "340302199501010000", "excel_trailing_zeros"),
        vec![
            ("delivery_date", V::D("2024-06-01")),
            ("child_sex", V::I(1)),
            ("outcome", s("live")),
            ("residence_village", s(V1)),
        ],
    ]
    .concat();
    let s1 = rid("20150101", 1);
    let s2 = rid("20150102", 3);
    let student = |k: &str, pid: Row, name: &str, sex: i32, born: &'static str| {
        [
            vec![
                ("student_no", s(k)),
                ("name", s(name)),
                ("sex", V::I(sex)),
                ("birth_date", V::D(born)),
            ],
            pid,
        ]
        .concat()
    };
    let mut named = resident(&rid("20150103", 5), V2);
    named.extend([("name", s("张三")), ("birth_date", V::D("2015-01-03"))]);
    // Two household rows alike in name, sex and birth date: they identify no one.
    let twin_named = |seq: u32| {
        [
            id("person_id", &rid("20150108", seq)),
            vec![
                ("village", s(V1)),
                ("name", s("孙八")),
                ("sex", V::I(1)),
                ("birth_date", V::D("2015-01-08")),
            ],
        ]
        .concat()
    };
    let mut fx = Fx::new();
    fx.add(
        "social_security",
        vec![
            // 180 days after a stillbirth delivery: covered; on the same person's other
            // scheme row, the same claim is one claim.
            claim(&m1, "maternity", "2024-11-28"),
            claim(&m1, "employee_medical", "2024-11-28"),
            // 181 days after.
            claim(&m2, "maternity", "2024-11-29"),
            // 30 days after the delivery linkage found under a damaged ID.
            claim(&m3, "maternity", "2024-07-01"),
            {
                let mut r = id("person_id", &m2);
                r.push(("scheme", s("pension")));
                r
            },
        ],
    )
    .add(
        "hospital_delivery",
        vec![still, delivery("D2", &m2, "2024-06-01", 1, V1), damaged],
    )
    .add(
        "birth_certificate",
        vec![certificate("C3", &m3, "2024-06-01", 1)],
    )
    .add(
        "school",
        vec![
            student("S1", id("person_id", &s1), "李四", 1, "2015-01-01"),
            student("S2", id("person_id", &s2), "王五", 1, "2015-01-02"),
            // No valid ID, but name, sex and birth date are one household row's.
            student(
                "S3",
                bad_id("person_id", "34030220150103005", "length"),
                "张三",
                2,
                "2015-01-03",
            ),
            student("S4", vec![], "赵六", 1, "2015-01-04"),
            student(
                "S5",
                bad_id("person_id", IMPOSSIBLE_DATE_ID, "birth_date"),
                "钱七",
                1,
                "2015-02-28",
            ),
            // A blank ID field; the student number holds a registered child's ID.
            student(&format!("G{s1}"), vec![], "李四", 1, "2015-01-01"),
            // The student number's ID is valid but nobody's in the registry.
            student(&format!("G{s2}"), vec![], "王五", 1, "2015-01-02"),
            // Name, sex and birth date match two household rows.
            student("S8", vec![], "孙八", 1, "2015-01-08"),
        ],
    )
    .add(
        "household",
        vec![
            resident(&m1, V1),
            resident(&m2, V2),
            // A moved-out row is still a household row.
            [
                id("person_id", &s1),
                vec![("village", s(V1)), ("status", s("moved_out"))],
            ]
            .concat(),
            named,
            twin_named(1),
            twin_named(3),
            [
                bad_id("person_id", IMPOSSIBLE_DATE_ID, "birth_date"),
                vec![("village", s(V1)), ("status", s("active"))],
            ]
            .concat(),
        ],
    );
    fx.birth(birth(
        "B3",
        &[("hospital_delivery", "D3"), ("birth_certificate", "C3")],
        V1,
        false,
    ));
    let c = fx.run();
    let rows = of_rule(&c, "maternity_claim_without_delivery");
    assert_eq!(texts(&rows, "social_security_key"), [Some(m2.clone())]);
    // The claim's village: the person's active household village.
    assert_eq!(texts(&rows, "village"), [Some(V2.to_owned())]);
    // §8.17: the ID field, else the ID inside the student number, else name, sex and
    // birth date matching exactly one household row. S3 is found by its name; S4 (no ID,
    // no such name), S5 (an ID with an impossible date, typed alike on a household row),
    // the number of a child nobody registered and S8 (two rows alike) find no one.
    assert_eq!(
        keys(&c, "student_without_household_registration", "school"),
        [format!("G{s2}").as_str(), "S2", "S4", "S5", "S8"]
    );
    assert!(
        toml::from_str::<ChecksConfig>(
            "[student_without_household_registration]\nmatch_name_and_birth_date = true\n"
        )
        .is_err()
    );
}

#[test]
fn duplicates_one_row_per_extra_copy_the_smaller_key_kept() {
    let m = mother(1);
    let k = rid("20250301", 1);
    let mut twin2 = dose("V8", &m, "2025-03-01", "HepB", 1, "2025-03-01");
    twin2.retain(|(c, _)| *c != "child_code");
    twin2.push(("child_code", s("V9")));
    let mut moved = child_row(&k, &m, "2025-03-01", 1, "2025-03-05");
    moved.extend([("status", s("moved_out")), ("village", s(V2))]);
    let mut fx = Fx::new();
    fx.add(
        "hospital_delivery",
        vec![
            // 10 and 9 copy 2 (kept: the smaller id; all-digit ids by number).
            delivery("10", &m, "2025-03-01", 1, V1),
            delivery("2", &m, "2025-03-01", 1, V1),
            delivery("9", &m, "2025-03-01", 1, V1),
            // The same key twice.
            delivery("5", &m, "2025-05-01", 2, V1),
            delivery("5", &m, "2025-05-01", 2, V1),
            // Another birth of the same mother: not a copy.
            delivery("6", &m, "2025-05-02", 2, V1),
        ],
    )
    .add(
        "vaccination",
        vec![
            // Twins' identical dose rows under two codes are two children; a dose row
            // entered twice is a copy.
            dose("V8", &m, "2025-03-01", "HepB", 1, "2025-03-01"),
            twin2,
            dose("V8", &m, "2025-03-01", "HepB", 1, "2025-03-01"),
        ],
    )
    .add(
        "household",
        vec![
            child_row(&k, &m, "2025-03-01", 1, "2025-03-05"),
            // A move: the same person's history, not a copy.
            moved,
        ],
    );
    let c = fx.run();
    let rows = of_rule(&c, "duplicate_record");
    assert_eq!(
        keys(&c, "duplicate_record", "hospital_delivery"),
        ["10", "5", "9"]
    );
    assert_eq!(
        values_of(&c, "duplicate_record", "hospital_delivery", "10"),
        "kept=2"
    );
    assert_eq!(
        values_of(&c, "duplicate_record", "hospital_delivery", "5"),
        "kept=5"
    );
    assert_eq!(keys(&c, "duplicate_record", "vaccination"), ["V8"]);
    assert!(keys(&c, "duplicate_record", "household").is_empty());
    assert_eq!(rows.height(), 4);
    // Every row is a unit: six deliveries and the child's first household row in V1 (the
    // dose rows have no village: no residence, no household row of the child or mother).
    assert_eq!(village_row(&c, Some(V1), "duplicate_record"), (3, 7));
    assert_eq!(village_row(&c, None, "duplicate_record"), (1, 3));
}

#[test]
fn invalid_values_blank_ids_and_reasons() {
    let m = mother(1);
    let mut fx = Fx::new();
    let book = |k: &str, extra: Row| {
        [
            vec![("record_id", s(k)), ("booking_date", V::D("2025-01-01"))],
            extra,
        ]
        .concat()
    };
    fx.add(
        "prenatal_care",
        vec![
            book("P1", id("mother_id", &m)),
            // Excel damage is an invalid ID too.
            book("P2", bad_id("mother_id", "3.40302E+17", "excel_scientific")),
            // A blank ID is no value.
            book("P3", vec![]),
            // Two flags on one row: an unknown village and an impossible due date.
            book(
                "P4",
                [
                    id("mother_id", &m),
                    vec![
                        ("residence_village", s("340399999999")),
                        (
                            "invalid_fields",
                            s("residence_village:unknown_village;expected_delivery_date:impossible_date"),
                        ),
                    ],
                ]
                .concat(),
            ),
            // Not an invalid value by default: a code outside the vocabulary.
            book("P5", vec![("invalid_fields", s("high_risk:invalid_bool"))]),
        ],
    );
    let c = fx.run();
    let rows = of_rule(&c, "invalid_value");
    assert_eq!(rows.height(), 3);
    assert_eq!(
        keys(&c, "invalid_value", "prenatal_care"),
        ["P2", "P4", "P4"]
    );
    // The unknown village is where the record is attributed: it is kept, not dropped.
    assert_eq!(
        village_row(&c, Some("340399999999"), "invalid_value"),
        (2, 1)
    );
    let cfg: ChecksConfig =
        toml::from_str("[invalid_value]\nextra_reasons = [\"invalid_bool\"]\n").unwrap();
    let c = fx.run_with(&cfg, None);
    assert_eq!(of_rule(&c, "invalid_value").height(), 4);
}

#[test]
fn ambiguous_links_from_linkage() {
    let m = mother(1);
    let mut fx = Fx::new();
    fx.add(
        "hospital_delivery",
        vec![
            delivery("D1", &m, "2025-03-01", 1, V1),
            delivery("D2", &m, "2025-03-01", 1, V1),
        ],
    )
    .birth(birth("B1", &[("hospital_delivery", "D1")], V1, true))
    .birth(birth("B2", &[("hospital_delivery", "D2")], V2, true));
    fx.ambiguous = Some(
        df!(
            "contested_source" => ["birth_certificate", "birth_certificate", "vaccination", "vaccination"],
            "contested_key" => ["C1", "C1", "V1", "V1"],
            "contested_birth_id" => [Some("B1"), Some("B1"), None, None],
            "kind" => ["tie", "tie", "outweighed", "outweighed"],
            "candidate_source" => ["hospital_delivery"; 4],
            "candidate_key" => ["D2", "D1", "D1", "D2"],
            "candidate_birth_id" => ["B2", "B1", "B1", "B2"],
            "match_weight" => [12.0, 12.0, 9.0, 3.0],
            "linked" => [false, true, true, false],
        )
        .unwrap(),
    );
    let c = fx.run();
    assert_eq!(keys(&c, "ambiguous_link", "birth_certificate"), ["C1"]);
    assert_eq!(
        values_of(&c, "ambiguous_link", "birth_certificate", "C1"),
        "hospital_delivery=D1;hospital_delivery=D2"
    );
    assert_eq!(births_of(&c, "ambiguous_link"), ["B1"]);
}

// ---------------------------------------------------------------------------------------
// Local rules, switches, the village table, determinism

#[test]
fn a_local_sql_rule_runs_over_births() {
    let m = mother(1);
    let mut fx = Fx::new();
    fx.add(
        "hospital_delivery",
        vec![
            delivery("D1", &m, "2025-03-01", 1, V1),
            delivery("D2", &m, "2025-04-01", 1, V1),
        ],
    )
    .birth(birth("B1", &[("hospital_delivery", "D1")], V1, true))
    .birth(birth("B2", &[("hospital_delivery", "D2")], V2, false));
    let cfg: ChecksConfig = toml::from_str(
        r#"
        [[local]]
        id = "floating_birth"
        name_zh = "流动人口出生"
        severity = "low"
        sql = "SELECT birth_id, village FROM births WHERE floating"
        "#,
    )
    .unwrap();
    let c = fx.run_with(&cfg, None);
    let rows = of_rule(&c, "floating_birth");
    assert_eq!(texts(&rows, "birth_id"), [Some("B1".to_owned())]);
    assert_eq!(texts(&rows, "values"), [Some(format!("village={V1}"))]);
    assert_eq!(texts(&rows, "severity"), [Some("low".to_owned())]);
    assert_eq!(
        texts(&rows, "hospital_delivery_key"),
        [Some("D1".to_owned())]
    );
    assert_eq!(village_row(&c, Some(V2), "floating_birth"), (0, 1));

    let bad: ChecksConfig = toml::from_str(
        "[[local]]\nid = \"x\"\nname_zh = \"x\"\nsql = \"SELECT village FROM births\"\n",
    )
    .unwrap();
    let e = fx.try_run_with(&bad).unwrap_err().to_string();
    assert!(
        e.contains("local rule `x`") && e.contains("birth_id"),
        "{e}"
    );
}

#[test]
fn a_disabled_rule_emits_nothing() {
    let m = mother(1);
    let mut fx = Fx::new();
    fx.add(
        "hospital_delivery",
        vec![delivery("D1", &m, "2025-03-01", 1, V1)],
    )
    .empty("birth_certificate")
    .birth(birth("B1", &[("hospital_delivery", "D1")], V1, true));
    let on = fx.run();
    assert_eq!(births_of(&on, "delivery_without_certificate"), ["B1"]);
    let cfg: ChecksConfig =
        toml::from_str("[delivery_without_certificate]\nenabled = false\n").unwrap();
    let off = fx.run_with(&cfg, None);
    assert_eq!(of_rule(&off, "delivery_without_certificate").height(), 0);
    let rules = texts(&off.village_discrepancies, "rule_id");
    assert!(
        !rules
            .iter()
            .flatten()
            .any(|r| r == "delivery_without_certificate")
    );
    // Only the enabled rules run.
    let c = fx.run_with(&only(&[RuleId::DeliveryWithoutCertificate]), None);
    let mut ran: Vec<_> = texts(&c.village_discrepancies, "rule_id")
        .into_iter()
        .flatten()
        .collect();
    ran.dedup();
    assert_eq!(ran, ["delivery_without_certificate"]);
}

#[test]
fn the_village_table_lists_division_villages_with_zeros() {
    let m = mother(1);
    let mut fx = Fx::new();
    fx.villages = vec![V1.to_owned(), V3.to_owned()];
    fx.add(
        "hospital_delivery",
        vec![delivery("D1", &m, "2025-03-01", 1, V1)],
    )
    .empty("birth_certificate")
    .birth(birth("B1", &[("hospital_delivery", "D1")], V1, true));
    let c = fx.run_with(&only(&[RuleId::DeliveryWithoutCertificate]), None);
    assert_eq!(
        village_row(&c, Some(V1), "delivery_without_certificate"),
        (1, 1)
    );
    assert_eq!(
        village_row(&c, Some(V3), "delivery_without_certificate"),
        (0, 0)
    );
    let rate = c
        .village_discrepancies
        .column("rate")
        .unwrap()
        .f64()
        .unwrap();
    assert_eq!(rate.get(0), Some(1.0));
    assert_eq!(rate.get(1), None);
    assert_eq!(names(&c.village_discrepancies), VILLAGE_COLUMNS);
}

/// A small night with something for most rules.
fn night() -> Fx {
    let (m1, m2) = (mother(1), mother(2));
    let k1 = rid("20250301", 1);
    let mut fx = Fx::new();
    fx.add(
        "hospital_delivery",
        vec![
            delivery("D1", &m1, "2025-03-01", 1, V1),
            delivery("D2", &m2, "2025-04-01", 2, V2),
            delivery("D3", &m2, "2025-04-01", 2, V2),
        ],
    )
    .add(
        "birth_certificate",
        vec![certificate("C1", &m1, "2025-03-01", 2)],
    )
    .add(
        "household",
        vec![
            resident(&m1, V1),
            resident(&m2, V2),
            child_row(&k1, &m1, "2025-03-01", 1, "2025-05-01"),
        ],
    )
    .add(
        "prenatal_care",
        vec![
            [
                vec![
                    ("record_id", s("P1")),
                    ("booking_date", V::D("2024-07-01")),
                    ("booking_gestational_weeks", V::I(16)),
                ],
                id("mother_id", &m1),
            ]
            .concat(),
        ],
    )
    .birth(birth(
        "B1",
        &[
            ("hospital_delivery", "D1"),
            ("birth_certificate", "C1"),
            ("household", &k1),
        ],
        V1,
        false,
    ))
    .birth(birth("B2", &[("hospital_delivery", "D2")], V2, false));
    fx
}

#[test]
fn same_input_in_any_row_order_gives_identical_tables() {
    let fx = night();
    let a = fx.run();
    let mut shuffled = fx.clone();
    for rows in shuffled.tables.values_mut() {
        rows.reverse();
    }
    if let Some(b) = &mut shuffled.births {
        b.reverse();
    }
    let b = shuffled.run();
    assert!(a.discrepancies.height() > 5);
    assert!(a.discrepancies.equals_missing(&b.discrepancies));
    assert!(
        a.village_discrepancies
            .equals_missing(&b.village_discrepancies)
    );
    assert_eq!(names(&a.discrepancies), DISCREPANCY_COLUMNS);
    // Ids are unique and not derived from linkage's birth ids.
    let ids = texts(&a.discrepancies, "discrepancy_id");
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len());
    let mut renamed = fx.clone();
    for b in renamed.births.as_mut().unwrap() {
        for (c, v) in b.iter_mut() {
            if *c == "birth_id"
                && let V::S(t) = v
            {
                *t = format!("X{t}");
            }
        }
    }
    let r = renamed.run();
    assert_eq!(texts(&r.discrepancies, "discrepancy_id"), ids);
}

// ---------------------------------------------------------------------------------------
// Lifecycle and decisions

fn status_of(df: &DataFrame) -> BTreeMap<(String, String), (String, String)> {
    let ids = texts(df, "discrepancy_id");
    let rules = texts(df, "rule_id");
    let status = texts(df, "status");
    let first = texts(df, "first_seen");
    (0..df.height())
        .map(|i| {
            (
                (rules[i].clone().unwrap(), ids[i].clone().unwrap()),
                (status[i].clone().unwrap(), first[i].clone().unwrap()),
            )
        })
        .collect()
}

#[test]
fn two_nights_new_open_resolved() {
    let cfg = only(&[
        RuleId::DeliveryWithoutCertificate,
        RuleId::SexMismatch,
        RuleId::LatePrenatalBooking,
        RuleId::DuplicateRecord,
    ]);
    let fx1 = night();
    let first = fx1.run_with(&cfg, None);
    let n1 = apply_lifecycle(&first.discrepancies, None, day("2026-01-15")).unwrap();
    let s1 = status_of(&n1);
    assert!(s1.values().all(|(s, f)| s == "new" && f == "2026-01-15"));
    // Night 1: D2 without certificate, D3 a copy of D2, B1's sex mismatch, P1 late.
    assert_eq!(s1.len(), 4);

    // Night 2: the certificate of D2 arrives (fixed), B1's certificate is corrected (fixed),
    // a new late booking P2 comes in; the copy D3 is still there.
    let mut fx2 = night();
    fx2.as_of = day("2026-01-16");
    fx2.tables.get_mut("birth_certificate").unwrap()[0].push(("child_sex", V::I(1)));
    fx2.add(
        "birth_certificate",
        vec![certificate("C2", &mother(2), "2025-04-01", 2)],
    )
    .add(
        "prenatal_care",
        vec![
            [
                vec![
                    ("record_id", s("P2")),
                    ("booking_date", V::D("2024-08-01")),
                    ("booking_gestational_weeks", V::I(14)),
                ],
                id("mother_id", &mother(2)),
            ]
            .concat(),
        ],
    );
    let births = fx2.births.as_mut().unwrap();
    births[1].push(("birth_certificate_key", s("C2")));
    let second = fx2.run_with(&cfg, None);
    let n2 = apply_lifecycle(&second.discrepancies, Some(&n1), day("2026-01-16")).unwrap();
    let s2 = status_of(&n2);
    let by_rule = |s: &BTreeMap<(String, String), (String, String)>, rule: &str| {
        s.iter()
            .filter(|((r, _), _)| r == rule)
            .map(|((_, id), v)| (id.clone(), v.clone()))
            .collect::<Vec<_>>()
    };
    let resolved = |rule: &str| by_rule(&s2, rule)[0].1.0.clone();
    assert_eq!(resolved("delivery_without_certificate"), "resolved");
    assert_eq!(resolved("sex_mismatch"), "resolved");
    // The same copy keeps its id and is open since the first night.
    assert_eq!(
        by_rule(&s2, "duplicate_record"),
        by_rule(&s1, "duplicate_record")
            .into_iter()
            .map(|(id, _)| (id, ("open".to_owned(), "2026-01-15".to_owned())))
            .collect::<Vec<_>>()
    );
    let late = by_rule(&s2, "late_prenatal_booking");
    assert_eq!(late.len(), 2);
    let p1 = &by_rule(&s1, "late_prenatal_booking")[0].0;
    for (id, (status, first)) in &late {
        if id == p1 {
            assert_eq!((status.as_str(), first.as_str()), ("open", "2026-01-15"));
        } else {
            assert_eq!((status.as_str(), first.as_str()), ("new", "2026-01-16"));
        }
    }
    // Resolved rows are carried once, and leave the queue.
    let queued = n2.column("queued").unwrap().bool().unwrap();
    let status = texts(&n2, "status");
    for (i, s) in status.iter().enumerate() {
        assert_eq!(queued.get(i), Some(s.as_deref() != Some("resolved")));
    }
    let n3 = apply_lifecycle(&second.discrepancies, Some(&n2), day("2026-01-17")).unwrap();
    assert!(
        !texts(&n3, "status")
            .iter()
            .flatten()
            .any(|s| s == "resolved")
    );
    // A resolved discrepancy that comes back is new again, first seen on its first night.
    let n4 = apply_lifecycle(&first.discrepancies, Some(&n2), day("2026-01-17")).unwrap();
    let s4 = status_of(&n4);
    assert_eq!(
        by_rule(&s4, "sex_mismatch")[0].1,
        ("new".to_owned(), "2026-01-15".to_owned())
    );
}

#[test]
fn no_decision_leaves_the_table_as_no_decisions_file_does() {
    // `run_checks` skips matching when the decisions are empty: applying none must give the
    // table the checks assembled, column for column.
    let fx = night();
    let cfg = only(&[
        RuleId::DeliveryWithoutCertificate,
        RuleId::LatePrenatalBooking,
    ]);
    let without = fx.run_with(&cfg, None);
    assert!(
        without.discrepancies.height() > 0,
        "the fixture has discrepancies"
    );
    let none = Decisions::default();
    let applied = apply_decisions(&without.discrepancies, &none).unwrap();
    assert!(applied.equals_missing(&without.discrepancies));
    assert_eq!(applied.schema(), without.discrepancies.schema());
    let with_none = fx.run_with(&cfg, Some(&none));
    assert!(
        with_none
            .discrepancies
            .equals_missing(&without.discrepancies)
    );
}

#[test]
fn a_reviewer_decision_suppresses_its_discrepancy_and_shows_as_decided() {
    let fx = night();
    let cfg = only(&[
        RuleId::DeliveryWithoutCertificate,
        RuleId::LatePrenatalBooking,
    ]);
    let first = fx.run_with(&cfg, None);
    let target = of_rule(&first, "delivery_without_certificate");
    let id = texts(&target, "discrepancy_id")[0].clone().unwrap();
    let csv = format!(
        "discrepancy_id,decision,reviewer,date,reason\n\
         {id},accepted,王芳,2026-01-16,home birth\n\
         ,,,,\n"
    );
    let decisions = Decisions::parse_csv(&csv, &SOURCES).unwrap();
    let decided = fx.run_with(&cfg, Some(&decisions));
    let row = of_rule(&decided, "delivery_without_certificate");
    assert_eq!(row.height(), 1, "kept, not dropped");
    assert_eq!(texts(&row, "decision"), [Some("accepted".to_owned())]);
    assert_eq!(texts(&row, "decided_by"), [Some("王芳".to_owned())]);
    assert_eq!(texts(&row, "decided_on"), [Some("2026-01-16".to_owned())]);
    assert_eq!(
        texts(&row, "decision_reason"),
        [Some("home birth".to_owned())]
    );
    assert_eq!(
        row.column("queued").unwrap().bool().unwrap().get(0),
        Some(false)
    );
    let other = of_rule(&decided, "late_prenatal_booking");
    assert_eq!(
        other.column("queued").unwrap().bool().unwrap().get(0),
        Some(true)
    );
    assert_eq!(texts(&other, "decision"), [None]);
    assert_eq!(
        village_row(&decided, Some(V2), "delivery_without_certificate"),
        (1, 1)
    );
    // The decision holds on the next night too, through the lifecycle.
    let n1 = apply_lifecycle(&decided.discrepancies, None, day("2026-01-16")).unwrap();
    let n2 = apply_lifecycle(
        &fx.run_with(&cfg, Some(&decisions)).discrepancies,
        Some(&n1),
        day("2026-01-17"),
    )
    .unwrap();
    let row = n2
        .lazy()
        .filter(col("discrepancy_id").eq(lit(id.clone())))
        .collect()
        .unwrap();
    assert_eq!(texts(&row, "status"), [Some("open".to_owned())]);
    assert_eq!(texts(&row, "decision"), [Some("accepted".to_owned())]);

    // By record key and rule, in TOML; a linkage decision goes to linkage.
    let toml = r#"
        [[decision]]
        source = "prenatal_care"
        key = "P1"
        rule_id = "late_prenatal_booking"
        decision = "accepted"
        reviewer = "李明"
        date = 2026-01-16

        [[decision]]
        source = "hospital_delivery"
        key = "D2"
        other_source = "birth_certificate"
        other_key = "C9"
        decision = "must_link"
        reviewer = "李明"
        date = 2026-01-16
        reason = "same child, certificate typo"
    "#;
    let decisions = Decisions::parse_toml(toml, &SOURCES).unwrap();
    let decided = fx.run_with(&cfg, Some(&decisions));
    let late = of_rule(&decided, "late_prenatal_booking");
    assert_eq!(texts(&late, "decision"), [Some("accepted".to_owned())]);
    // A linkage decision without a rule marks nothing: it is for linkage.
    let dwc = of_rule(&decided, "delivery_without_certificate");
    assert_eq!(texts(&dwc, "decision"), [None]);
    assert_eq!(
        decisions.link_constraints(),
        [LinkConstraint {
            kind: DecisionKind::MustLink,
            a: RecordRef {
                source: "hospital_delivery".into(),
                key: "D2".into()
            },
            b: RecordRef {
                source: "birth_certificate".into(),
                key: "C9".into()
            },
            line: 2,
        }]
    );
    assert_eq!(
        unmatched_decisions(&decided.discrepancies, &decisions).unwrap(),
        [2]
    );
}

/// The persons' number table: every number found with its folded value, none that was not
/// given, for sizes around the directory's steps (empty, one slot, many), with repeats.
#[test]
fn the_number_table_finds_every_number_given_and_no_other() {
    use frames::{NumberTable, mix};
    assert_eq!(NumberTable::build(Vec::new(), |_, _| {}).get(7), None);
    for n in [1usize, 3, 4, 5, 17, 1_000, 40_000] {
        // Numbers as resident IDs come: a shared head, a few digits apart; each given
        // twice, with two values, folded to the smaller.
        let numbers: Vec<u64> = (0..n as u64)
            .map(|i| 340_302_199_001_010_000 + 7 * i)
            .collect();
        let mut pairs: Vec<(u64, u32)> = Vec::new();
        for (i, &x) in numbers.iter().enumerate() {
            pairs.push((mix(x), i as u32 + 10));
            if i % 3 == 0 {
                pairs.push((mix(x), i as u32));
            }
        }
        pairs.reverse();
        let table = NumberTable::build(pairs, |held, v| *held = (*held).min(v));
        for (i, &x) in numbers.iter().enumerate() {
            let want = if i % 3 == 0 { i as u32 } else { i as u32 + 10 };
            assert_eq!(table.get(x), Some(want), "{n} numbers, the {i}th");
            assert_eq!(table.get(x + 1), None, "{n} numbers, beside the {i}th");
        }
        assert_eq!(table.get(0), None);
        assert_eq!(table.get(u64::MAX), None);
    }
}
