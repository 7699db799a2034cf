//! Linkage tests: small worlds built here (one birth, twins, a typo, a duplicate, a
//! registry family), the synthetic village against its truth, and properties of the
//! comparisons.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{NaiveDate, NaiveDateTime};
use polars::prelude::*;
use poprecon_model::{LinkConstraint, ResidentId, normalize_id};
use proptest::prelude::*;

use crate::compare::{Tolerances, compare, id_level, name_level};
use crate::model::{TermFreq, estimate, u_from_counts};
use crate::prepare::{Name, Rec, id_digits};
use crate::*;

// ---------------------------------------------------------------------------------------
// Building input tables shaped like the `records` of ingest.

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("a test date")
}

fn rid(addr: &str, birth: &str, seq: u32) -> String {
    ResidentId::from_body(&format!("{addr}{birth}{seq:03}"))
        .expect("a valid body")
        .as_str()
        .to_owned()
}

/// One digit of an ID replaced: invalid, as a typo leaves it.
fn typo(id: &str, pos: usize) -> String {
    let mut b = id.as_bytes().to_vec();
    b[pos] = if b[pos] == b'9' { b'0' } else { b[pos] + 1 };
    String::from_utf8(b).expect("ascii")
}

fn text(name: &str, v: Vec<Option<String>>) -> Column {
    Column::new(name.into(), v)
}

fn ints(name: &str, v: Vec<Option<i32>>) -> Column {
    Column::new(name.into(), v)
}

fn dates(name: &str, v: Vec<Option<&str>>) -> Column {
    let days: Vec<Option<i32>> = v
        .into_iter()
        .map(|d| d.map(|d| crate::prepare::epoch_days(day(d))))
        .collect();
    Int32Chunked::new(name.into(), days)
        .into_date()
        .into_column()
}

fn times(name: &str, v: Vec<Option<&str>>) -> Column {
    let ms: Vec<Option<i64>> = v
        .into_iter()
        .map(|t| {
            t.map(|t| {
                NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M")
                    .expect("a test time")
                    .and_utc()
                    .timestamp_millis()
            })
        })
        .collect();
    Int64Chunked::new(name.into(), ms)
        .into_datetime(TimeUnit::Milliseconds, None)
        .into_column()
}

/// `<field>` (valid or null) and `<field>_input` (normalised, as typed) of an ID column.
fn id_columns(field: &str, typed: Vec<Option<String>>) -> [Column; 2] {
    let input: Vec<Option<String>> = typed
        .iter()
        .map(|t| t.as_deref().map(|t| normalize_id(t).into_owned()))
        .collect();
    let valid: Vec<Option<String>> = input
        .iter()
        .map(|t| {
            t.as_deref()
                .and_then(|t| ResidentId::parse(t).ok())
                .map(|id| id.as_str().to_owned())
        })
        .collect();
    [text(field, valid), text(&format!("{field}_input"), input)]
}

fn frame(name: &str, n: usize, mut cols: Vec<Column>) -> DataFrame {
    let mut all = vec![
        text("source_file", vec![Some(format!("{name}.csv")); n]),
        Column::new("source_line".into(), (2..n as i64 + 2).collect::<Vec<_>>()),
    ];
    all.append(&mut cols);
    all.push(text("invalid_fields", vec![None; n]));
    DataFrame::new(n, all).expect("columns of one length")
}

fn o(s: &str) -> Option<String> {
    Some(s.to_owned())
}

#[derive(Debug, Clone, Default)]
struct Del {
    key: String,
    mother: Option<String>,
    mother_name: Option<String>,
    date: &'static str,
    time: Option<&'static str>,
    institution: Option<String>,
    outcome: Option<String>,
    plurality: Option<i32>,
    seq: Option<i32>,
    sex: Option<i32>,
    village: Option<String>,
}

#[derive(Debug, Clone, Default)]
struct Cert {
    key: String,
    child_name: Option<String>,
    sex: Option<i32>,
    date: &'static str,
    time: Option<&'static str>,
    institution: Option<String>,
    mother: Option<String>,
    mother_name: Option<String>,
    father: Option<String>,
    issue_type: Option<String>,
}

#[derive(Debug, Clone, Default)]
struct Hh {
    person: String,
    name: Option<String>,
    sex: Option<i32>,
    date: Option<&'static str>,
    household_no: Option<String>,
    relation: Option<String>,
    village: String,
    reason: Option<String>,
    status: Option<String>,
    mother: Option<String>,
    father: Option<String>,
}

#[derive(Debug, Clone, Default)]
struct Dose {
    code: String,
    child_id: Option<String>,
    child_name: Option<String>,
    sex: Option<i32>,
    date: &'static str,
    mother: Option<String>,
    mother_name: Option<String>,
    vaccine: &'static str,
    dose: i32,
    given: &'static str,
    village: Option<String>,
}

#[derive(Debug, Clone, Default)]
struct Booking {
    key: String,
    mother: Option<String>,
    date: &'static str,
    village: Option<String>,
}

#[derive(Debug, Clone, Default)]
struct Registration {
    key: String,
    woman: Option<String>,
    date: &'static str,
}

#[derive(Debug, Clone, Default)]
struct Marriage {
    key: String,
    kind: &'static str,
    man: Option<String>,
    woman: Option<String>,
    date: &'static str,
}

/// A small world of records, turned into the tables of ingest.
#[derive(Debug, Clone, Default)]
struct World {
    del: Vec<Del>,
    cert: Vec<Cert>,
    hh: Vec<Hh>,
    vac: Vec<Dose>,
    book: Vec<Booking>,
    reg: Vec<Registration>,
    mar: Vec<Marriage>,
}

struct Tables {
    del: DataFrame,
    cert: DataFrame,
    hh: DataFrame,
    vac: DataFrame,
    book: DataFrame,
    reg: DataFrame,
    mar: DataFrame,
}

impl World {
    fn tables(&self) -> Tables {
        let d = &self.del;
        let [mid, mid_in] = id_columns("mother_id", d.iter().map(|r| r.mother.clone()).collect());
        let del = frame(
            "hospital_delivery",
            d.len(),
            vec![
                text("record_id", d.iter().map(|r| o(&r.key)).collect()),
                mid,
                mid_in,
                text(
                    "mother_name",
                    d.iter().map(|r| r.mother_name.clone()).collect(),
                ),
                dates("delivery_date", d.iter().map(|r| Some(r.date)).collect()),
                times("delivery_date_time", d.iter().map(|r| r.time).collect()),
                text(
                    "institution",
                    d.iter().map(|r| r.institution.clone()).collect(),
                ),
                text("outcome", d.iter().map(|r| r.outcome.clone()).collect()),
                ints("plurality", d.iter().map(|r| r.plurality).collect()),
                ints("birth_seq", d.iter().map(|r| r.seq).collect()),
                ints("child_sex", d.iter().map(|r| r.sex).collect()),
                text(
                    "residence_village",
                    d.iter().map(|r| r.village.clone()).collect(),
                ),
            ],
        );
        let c = &self.cert;
        let [mid, mid_in] = id_columns("mother_id", c.iter().map(|r| r.mother.clone()).collect());
        let [fid, fid_in] = id_columns("father_id", c.iter().map(|r| r.father.clone()).collect());
        let cert = frame(
            "birth_certificate",
            c.len(),
            vec![
                text("certificate_no", c.iter().map(|r| o(&r.key)).collect()),
                text(
                    "child_name",
                    c.iter().map(|r| r.child_name.clone()).collect(),
                ),
                ints("child_sex", c.iter().map(|r| r.sex).collect()),
                dates("birth_date", c.iter().map(|r| Some(r.date)).collect()),
                times("birth_date_time", c.iter().map(|r| r.time).collect()),
                text(
                    "birth_place_type",
                    c.iter().map(|_| o("medical_institution")).collect(),
                ),
                text(
                    "institution",
                    c.iter().map(|r| r.institution.clone()).collect(),
                ),
                mid,
                mid_in,
                text(
                    "mother_name",
                    c.iter().map(|r| r.mother_name.clone()).collect(),
                ),
                fid,
                fid_in,
                text(
                    "issue_type",
                    c.iter().map(|r| r.issue_type.clone()).collect(),
                ),
            ],
        );
        let h = &self.hh;
        let [pid, pid_in] = id_columns("person_id", h.iter().map(|r| o(&r.person)).collect());
        let [mid, mid_in] = id_columns("mother_id", h.iter().map(|r| r.mother.clone()).collect());
        let [fid, fid_in] = id_columns("father_id", h.iter().map(|r| r.father.clone()).collect());
        let hh = frame(
            "household",
            h.len(),
            vec![
                pid,
                pid_in,
                text("name", h.iter().map(|r| r.name.clone()).collect()),
                ints("sex", h.iter().map(|r| r.sex).collect()),
                dates("birth_date", h.iter().map(|r| r.date).collect()),
                text(
                    "household_no",
                    h.iter().map(|r| r.household_no.clone()).collect(),
                ),
                text(
                    "relation_to_head",
                    h.iter().map(|r| r.relation.clone()).collect(),
                ),
                text("village", h.iter().map(|r| o(&r.village)).collect()),
                text(
                    "registration_reason",
                    h.iter().map(|r| r.reason.clone()).collect(),
                ),
                text("status", h.iter().map(|r| r.status.clone()).collect()),
                mid,
                mid_in,
                fid,
                fid_in,
            ],
        );
        let v = &self.vac;
        let [cid, cid_in] = id_columns("child_id", v.iter().map(|r| r.child_id.clone()).collect());
        let [mid, mid_in] = id_columns("mother_id", v.iter().map(|r| r.mother.clone()).collect());
        let vac = frame(
            "vaccination",
            v.len(),
            vec![
                text("child_code", v.iter().map(|r| o(&r.code)).collect()),
                cid,
                cid_in,
                text(
                    "child_name",
                    v.iter().map(|r| r.child_name.clone()).collect(),
                ),
                ints("child_sex", v.iter().map(|r| r.sex).collect()),
                dates("birth_date", v.iter().map(|r| Some(r.date)).collect()),
                mid,
                mid_in,
                text(
                    "mother_name",
                    v.iter().map(|r| r.mother_name.clone()).collect(),
                ),
                text("vaccine", v.iter().map(|r| o(r.vaccine)).collect()),
                ints("dose", v.iter().map(|r| Some(r.dose)).collect()),
                dates(
                    "vaccination_date",
                    v.iter().map(|r| Some(r.given)).collect(),
                ),
                text(
                    "residence_village",
                    v.iter().map(|r| r.village.clone()).collect(),
                ),
            ],
        );
        let b = &self.book;
        let [mid, mid_in] = id_columns("mother_id", b.iter().map(|r| r.mother.clone()).collect());
        let book = frame(
            "prenatal_care",
            b.len(),
            vec![
                text("record_id", b.iter().map(|r| o(&r.key)).collect()),
                mid,
                mid_in,
                dates("booking_date", b.iter().map(|r| Some(r.date)).collect()),
                text(
                    "residence_village",
                    b.iter().map(|r| r.village.clone()).collect(),
                ),
            ],
        );
        let r = &self.reg;
        let [wid, wid_in] = id_columns("woman_id", r.iter().map(|r| r.woman.clone()).collect());
        let reg = frame(
            "birth_registration",
            r.len(),
            vec![
                text("record_id", r.iter().map(|r| o(&r.key)).collect()),
                dates(
                    "registration_date",
                    r.iter().map(|r| Some(r.date)).collect(),
                ),
                wid,
                wid_in,
            ],
        );
        let m = &self.mar;
        let [man, man_in] = id_columns("man_id", m.iter().map(|r| r.man.clone()).collect());
        let [wid, wid_in] = id_columns("woman_id", m.iter().map(|r| r.woman.clone()).collect());
        let mar = frame(
            "marriage",
            m.len(),
            vec![
                text("record_id", m.iter().map(|r| o(&r.key)).collect()),
                text("kind", m.iter().map(|r| o(r.kind)).collect()),
                man,
                man_in,
                wid,
                wid_in,
                dates(
                    "registration_date",
                    m.iter().map(|r| Some(r.date)).collect(),
                ),
            ],
        );
        Tables {
            del,
            cert,
            hh,
            vac,
            book,
            reg,
            mar,
        }
    }

    fn run(&self) -> LinkOutput {
        self.run_with(&LinkConfig::default())
    }

    fn run_with(&self, cfg: &LinkConfig) -> LinkOutput {
        run_tables(&self.tables(), cfg)
    }
}

fn run_tables(t: &Tables, cfg: &LinkConfig) -> LinkOutput {
    run_decided_tables(t, cfg, &[])
}

fn run_decided_tables(t: &Tables, cfg: &LinkConfig, decisions: &[LinkConstraint]) -> LinkOutput {
    link_with_decisions(
        &LinkInput {
            hospital_delivery: Some(&t.del),
            birth_certificate: Some(&t.cert),
            household: Some(&t.hh),
            vaccination: Some(&t.vac),
            prenatal_care: Some(&t.book),
            birth_registration: Some(&t.reg),
            marriage: Some(&t.mar),
            as_of: day("2026-01-31"),
            period: (day("2025-01-01"), day("2025-12-31")),
            jurisdiction: "3403",
        },
        cfg,
        decisions,
    )
    .expect("linkage runs")
}

/// The named columns of a table as text, one `|`-joined line per row (`∅` for null).
fn rows(df: &DataFrame, cols: &[&str]) -> Vec<String> {
    let cols: Vec<Column> = cols
        .iter()
        .map(|c| {
            df.column(c)
                .unwrap_or_else(|_| panic!("column `{c}`"))
                .cast(&DataType::String)
                .expect("castable to text")
        })
        .collect();
    (0..df.height())
        .map(|i| {
            cols.iter()
                .map(|c| c.str().expect("text").get(i).unwrap_or("∅").to_owned())
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect()
}

const V1: &str = "340302001001";
const V2: &str = "340303002003";
const HOSPITAL: &str = "蚌埠市妇幼保健院";

/// A born-and-registered child of a local family: delivery, certificate, household row,
/// two vaccination doses, the mother's and father's household rows.
fn family(w: &mut World, n: u32, date: &'static str, sex: i32, child: &str, mother_name: &str) {
    let mother = rid("340302", "19900101", 2 * n);
    let father = rid("340302", "19880101", 2 * n + 1);
    let child_id = rid("340302", &date.replace('-', ""), 2 * n + sex as u32 % 2);
    let household = format!("H{n:04}");
    w.del.push(Del {
        key: format!("FM{n:04}"),
        mother: o(&mother),
        mother_name: o(mother_name),
        date,
        institution: o(HOSPITAL),
        outcome: o("live"),
        plurality: Some(1),
        seq: Some(1),
        sex: Some(sex),
        village: o(V1),
        ..Del::default()
    });
    w.cert.push(Cert {
        key: format!("P34{n:07}"),
        child_name: o(child),
        sex: Some(sex),
        date,
        institution: o(HOSPITAL),
        mother: o(&mother),
        mother_name: o(mother_name),
        father: o(&father),
        issue_type: o("first"),
        ..Cert::default()
    });
    w.hh.push(Hh {
        person: mother.clone(),
        name: o(mother_name),
        sex: Some(2),
        date: Some("1990-01-01"),
        household_no: o(&household),
        relation: o("10"),
        village: V1.to_owned(),
        status: o("active"),
        ..Hh::default()
    });
    w.hh.push(Hh {
        person: father.clone(),
        sex: Some(1),
        date: Some("1988-01-01"),
        household_no: o(&household),
        relation: o("02"),
        village: V1.to_owned(),
        status: o("active"),
        ..Hh::default()
    });
    w.hh.push(Hh {
        person: child_id.clone(),
        name: o(child),
        sex: Some(sex),
        date: Some(date),
        household_no: o(&household),
        relation: o(if sex == 1 { "20" } else { "30" }),
        village: V1.to_owned(),
        reason: o("birth"),
        status: o("active"),
        mother: o(&mother),
        father: o(&father),
    });
    for (vaccine, dose) in [("HepB", 1), ("BCG", 1)] {
        w.vac.push(Dose {
            code: format!("340302{n:08}"),
            child_id: o(&child_id),
            child_name: o(child),
            sex: Some(sex),
            date,
            mother: o(&mother),
            mother_name: o(mother_name),
            vaccine,
            dose,
            given: date,
            village: o(V1),
        });
    }
}

const SURNAMES: [&str; 8] = ["王", "李", "张", "刘", "陈", "杨", "赵", "黄"];
const GIVEN: [&str; 8] = ["芳", "娜", "敏", "静", "丽", "秀英", "桂英", "婷"];
const CHILD: [&str; 8] = [
    "子轩", "梓涵", "浩然", "欣怡", "宇航", "雨桐", "俊杰", "诗涵",
];

/// `n` ordinary families spread over the year, so that the model has data to learn from.
fn background(n: u32) -> World {
    const DATES: [&str; 12] = [
        "2025-01-15",
        "2025-02-11",
        "2025-03-09",
        "2025-04-21",
        "2025-05-02",
        "2025-06-18",
        "2025-07-07",
        "2025-08-30",
        "2025-09-12",
        "2025-10-05",
        "2025-11-23",
        "2025-12-08",
    ];
    let mut w = World::default();
    for i in 0..n {
        let k = i as usize;
        let mother_name = format!("{}{}", SURNAMES[k % 8], GIVEN[(k / 8) % 8]);
        let child = format!("{}{}", SURNAMES[(k + 3) % 8], CHILD[(k / 3) % 8]);
        family(
            &mut w,
            100 + i,
            DATES[k % 12],
            1 + (i % 2) as i32,
            &child,
            &mother_name,
        );
    }
    w
}

fn birth_of<'a>(births: &'a [String], key: &str) -> &'a String {
    births
        .iter()
        .find(|r| r.split('|').any(|c| c == key))
        .unwrap_or_else(|| panic!("a birth with key {key}"))
}

// ---------------------------------------------------------------------------------------
// Features.

#[test]
fn one_birth_is_linked_across_the_four_sources() {
    let mut w = World::default();
    family(&mut w, 1, "2025-03-04", 1, "王小明", "李芳");
    let out = w.run();
    assert_eq!(out.births.height(), 1);
    assert_eq!(
        rows(
            &out.births,
            &[
                "hospital_delivery_key",
                "birth_certificate_key",
                "household_key",
                "vaccination_key",
                "hospital_delivery_method",
                "birth_certificate_method",
                "household_method",
                "vaccination_method",
                "sources",
                "village",
                "village_source",
                "floating",
                "birth_order",
                "policy_category",
                "hepb1_date",
            ]
        ),
        [format!(
            "FM0001|P340000001|{}|34030200000001|anchor|deterministic|deterministic|deterministic|4|{V1}|hospital_delivery|false|1|first|2025-03-04",
            rid("340302", "20250304", 3)
        )]
    );
    assert_eq!(out.links.height(), 3);
    assert_eq!(out.ambiguous.height(), 0);
    assert_eq!(out.duplicates.height(), 0);
}

#[test]
fn records_without_a_valid_mother_id_link_probabilistically() {
    let mut w = background(40);
    family(&mut w, 1, "2025-06-20", 2, "周雨涵", "吴秀兰");
    let mother = w
        .del
        .last()
        .and_then(|d| d.mother.clone())
        .expect("a mother");
    // The certificate's mother ID has a typo; the vaccination record has none.
    let cert = w.cert.last_mut().expect("a certificate");
    cert.mother = Some(typo(&mother, 10));
    for dose in w.vac.iter_mut().filter(|d| d.code == "34030200000001") {
        dose.mother = None;
        dose.child_id = None;
    }
    let out = w.run();
    let births = rows(
        &out.births,
        &[
            "hospital_delivery_key",
            "birth_certificate_key",
            "birth_certificate_method",
            "vaccination_key",
            "vaccination_method",
        ],
    );
    assert_eq!(
        birth_of(&births, "FM0001"),
        "FM0001|P340000001|probabilistic|34030200000001|probabilistic"
    );
    let links = rows(
        &out.links,
        &[
            "key",
            "method",
            "mother_id_level",
            "mother_name_level",
            "birth_date_level",
        ],
    );
    assert!(
        links.contains(&"P340000001|probabilistic|one_substitution|exact|exact".to_owned()),
        "{links:?}"
    );
    assert_eq!(out.births.height(), 41, "no record left alone");
}

fn decision(line: usize, must_link: bool, a: (&str, &str), b: (&str, &str)) -> LinkConstraint {
    let record = |(source, key): (&str, &str)| poprecon_model::RecordRef {
        source: source.to_owned(),
        key: key.to_owned(),
    };
    LinkConstraint {
        kind: if must_link {
            poprecon_model::DecisionKind::MustLink
        } else {
            poprecon_model::DecisionKind::CannotLink
        },
        a: record(a),
        b: record(b),
        line,
    }
}

fn run_decided(w: &World, decisions: &[LinkConstraint]) -> LinkOutput {
    run_decided_tables(&w.tables(), &LinkConfig::default(), decisions)
}

#[test]
fn a_household_child_without_a_mother_id_is_the_head_or_spouses() {
    let mut w = background(20);
    family(&mut w, 1, "2025-03-04", 1, "王小明", "李芳");
    // The child's row names no mother; she is the head's spouse (10) of its household.
    for h in
        w.hh.iter_mut()
            .filter(|h| h.name.as_deref() == Some("王小明"))
    {
        h.mother = None;
        h.father = None;
    }
    let out = w.run();
    let births = rows(
        &out.births,
        &["hospital_delivery_key", "household_key", "household_method"],
    );
    let child = rid("340302", "20250304", 3);
    assert!(
        births.contains(&format!("FM0001|{child}|deterministic")),
        "{births:?}"
    );
    // Not when the child is not a son or daughter of the head.
    for h in
        w.hh.iter_mut()
            .filter(|h| h.name.as_deref() == Some("王小明"))
    {
        h.relation = o("27");
    }
    let births = rows(
        &w.run().births,
        &["hospital_delivery_key", "household_method"],
    );
    assert!(
        !births.contains(&"FM0001|deterministic".to_owned()),
        "{births:?}"
    );
}

/// The household row of another family's child: same name and sex, born a day later in
/// another village, under another mother (ID and name) and another father.
fn another_family(w: &mut World, child: &str, date: &'static str) -> String {
    let mother = rid("340303", "19920202", 8);
    let father = rid("340303", "19910303", 7);
    let child_id = rid("340303", &date.replace('-', ""), 5);
    let household = o("H9999");
    w.hh.push(Hh {
        person: mother.clone(),
        name: o("赵敏"),
        sex: Some(2),
        date: Some("1992-02-02"),
        household_no: household.clone(),
        relation: o("10"),
        village: V2.to_owned(),
        status: o("active"),
        ..Hh::default()
    });
    w.hh.push(Hh {
        person: child_id.clone(),
        name: o(child),
        sex: Some(1),
        date: Some(date),
        household_no: household,
        relation: o("20"),
        village: V2.to_owned(),
        reason: o("birth"),
        status: o("active"),
        mother: o(&mother),
        father: o(&father),
    });
    child_id
}

#[test]
fn a_childs_name_alone_does_not_join_two_families() {
    let mut w = background(40);
    family(&mut w, 1, "2025-03-14", 1, "王小明", "李芳");
    // Family 1's own household row is missing: the other family's child is the only
    // household candidate of its birth.
    w.hh.retain(|h| h.name.as_deref() != Some("王小明"));
    let other = another_family(&mut w, "王小明", "2025-03-15");
    let births = rows(&w.run().births, &["hospital_delivery_key", "household_key"]);
    assert!(births.contains(&"FM0001|∅".to_owned()), "{births:?}");
    assert!(births.contains(&format!("∅|{other}")), "{births:?}");
    // The same row under family 1's parents and village, her ID mistyped, is her child's.
    let row =
        w.hh.iter_mut()
            .find(|h| h.person == other)
            .expect("the row");
    row.mother = Some(typo(&rid("340302", "19900101", 2), 12));
    row.father = o(&rid("340302", "19880101", 3));
    row.village = V1.to_owned();
    let births = rows(&w.run().births, &["hospital_delivery_key", "household_key"]);
    assert!(births.contains(&format!("FM0001|{other}")), "{births:?}");
}

/// Levels in [`crate::compare::FIELDS`] order from (field, level name) pairs; the others
/// null.
fn levels_of(pairs: &[(&str, &str)]) -> crate::compare::Levels {
    let mut levels = [0u8; crate::compare::N_FIELDS];
    for (field, level) in pairs {
        let (i, f) = crate::compare::FIELDS
            .iter()
            .enumerate()
            .find(|(_, f)| f.name == *field)
            .expect("a field");
        let l = f
            .kind
            .levels()
            .iter()
            .position(|l| l == level)
            .expect("a level");
        levels[i] = l as u8 + 1;
    }
    levels
}

#[test]
fn a_name_identifies_unless_the_mothers_id_and_another_identity_disagree() {
    use crate::stage::identifies;
    let support = [
        ("child_sex", "same"),
        ("birth_date", "near"),
        ("village", "different"),
    ];
    let with = |extra: &[(&str, &str)]| {
        let mut all = support.to_vec();
        all.extend_from_slice(extra);
        identifies(&levels_of(&all))
    };
    // Date, sex and village alone never identify.
    assert!(!with(&[]));
    // A name does, and an ID within two digits.
    assert!(with(&[("child_name", "exact")]));
    assert!(with(&[("mother_name", "homophone")]));
    assert!(with(&[("mother_id", "two_differences")]));
    // The mother's name under another woman's ID: only with the same birth date or
    // institution (a common name and a date a few days off are another family).
    assert!(with(&[
        ("mother_id", "different"),
        ("mother_name", "exact"),
        ("institution", "exact"),
    ]));
    assert!(!with(&[
        ("mother_id", "different"),
        ("mother_name", "exact")
    ]));
    assert!(!with(&[
        ("mother_id", "different"),
        ("mother_name", "exact"),
        ("birth_date", "within"),
    ]));
    assert!(with(&[
        ("mother_id", "different"),
        ("mother_name", "exact"),
        ("birth_date", "exact"),
    ]));
    // The wrong mother's ID alone: the child's name still identifies.
    assert!(with(&[("mother_id", "different"), ("child_name", "exact")]));
    assert!(with(&[
        ("mother_id", "different"),
        ("mother_name", "different"),
        ("child_name", "exact"),
        ("father_id", "exact"),
    ]));
    // Another mother (ID and name) and another father: the child's name is another child's.
    assert!(!with(&[
        ("mother_id", "different"),
        ("mother_name", "different"),
        ("child_name", "exact"),
        ("father_id", "different"),
    ]));
    // Her name looked up from the wrong ID disagrees with it: one mistake, not two.
    assert!(with(&[
        ("mother_id", "different"),
        ("mother_name", "different"),
        ("child_name", "exact"),
    ]));
    assert!(!with(&[
        ("mother_id", "different"),
        ("father_id", "different"),
        ("child_name", "exact"),
    ]));
    // And the mother's name, under another mother's ID with another child's name or father.
    assert!(!with(&[
        ("mother_id", "different"),
        ("mother_name", "exact"),
        ("child_name", "different"),
    ]));
    assert!(!with(&[
        ("mother_id", "different"),
        ("mother_name", "exact"),
        ("father_id", "different"),
    ]));
    // Another child of the same parents (a co-twin): its name and sex both disagree.
    assert!(!with(&[
        ("mother_id", "exact"),
        ("father_id", "exact"),
        ("child_name", "different"),
        ("child_sex", "different"),
    ]));
    assert!(with(&[
        ("mother_id", "exact"),
        ("child_name", "one_edit"),
        ("child_sex", "different"),
    ]));
    // The father's ID identifies on its own, whatever the names say.
    assert!(with(&[
        ("mother_id", "different"),
        ("mother_name", "different"),
        ("child_name", "exact"),
        ("father_id", "exact"),
    ]));
}

#[test]
fn a_cannot_link_decision_keeps_two_records_apart() {
    let mut w = background(20);
    family(&mut w, 1, "2025-03-04", 1, "王小明", "李芳");
    let before = rows(
        &w.run().births,
        &["hospital_delivery_key", "birth_certificate_key"],
    );
    assert!(
        before.contains(&"FM0001|P340000001".to_owned()),
        "{before:?}"
    );
    let out = run_decided(
        &w,
        &[decision(
            2,
            false,
            ("birth_certificate", "P340000001"),
            ("hospital_delivery", "FM0001"),
        )],
    );
    let births = rows(
        &out.births,
        &["hospital_delivery_key", "birth_certificate_key"],
    );
    assert!(births.contains(&"FM0001|∅".to_owned()), "{births:?}");
    assert!(births.contains(&"∅|P340000001".to_owned()), "{births:?}");
    assert_eq!(out.births.height(), 22);
    assert_eq!(
        rows(&out.decisions, &["line", "decision", "outcome"]),
        ["2|cannot_link|applied"]
    );
}

#[test]
fn a_must_link_decision_joins_records_linkage_would_leave_apart() {
    let mut w = background(20);
    family(&mut w, 1, "2025-03-04", 1, "王小明", "李芳");
    // The certificate says nothing linkage could use: another mother, another name, a
    // week later.
    let cert = w.cert.last_mut().expect("a certificate");
    cert.mother = Some(rid("340311", "19700101", 9));
    cert.mother_name = o("周敏");
    cert.child_name = o("郑一");
    cert.date = "2025-03-11";
    for h in
        w.hh.iter_mut()
            .filter(|h| h.name.as_deref() == Some("王小明"))
    {
        h.mother = None;
        h.name = o("郑一");
    }
    let before = rows(
        &w.run().births,
        &["hospital_delivery_key", "birth_certificate_key"],
    );
    assert!(before.contains(&"FM0001|∅".to_owned()), "{before:?}");
    let out = run_decided(
        &w,
        &[
            decision(
                2,
                true,
                ("hospital_delivery", "FM0001"),
                ("birth_certificate", "P340000001"),
            ),
            decision(
                3,
                true,
                ("hospital_delivery", "FM0001"),
                ("household", "nobody"),
            ),
            decision(
                4,
                true,
                ("hospital_delivery", "FM0001"),
                ("hospital_delivery", "FM0100"),
            ),
        ],
    );
    let births = rows(
        &out.births,
        &[
            "hospital_delivery_key",
            "birth_certificate_key",
            "birth_certificate_method",
        ],
    );
    assert!(
        births.contains(&"FM0001|P340000001|decision".to_owned()),
        "{births:?}"
    );
    assert_eq!(
        rows(&out.decisions, &["line", "outcome"]),
        ["2|applied", "3|record_not_found", "4|same_source"]
    );
    let links = rows(&out.links, &["key", "method"]);
    assert!(
        links.contains(&"P340000001|decision".to_owned()),
        "{links:?}"
    );
}

/// The deliveries of twins of 孙丽 (`mother`) in V2, each (key, seq, sex, time).
fn twin_deliveries(
    w: &mut World,
    mother: &str,
    date: &'static str,
    twins: [(&str, i32, i32, &'static str); 2],
) {
    for (key, seq, sex, time) in twins {
        w.del.push(Del {
            key: key.into(),
            mother: o(mother),
            mother_name: o("孙丽"),
            date,
            time: Some(time),
            institution: o(HOSPITAL),
            plurality: Some(2),
            seq: Some(seq),
            sex: Some(sex),
            village: o(V2),
            ..Del::default()
        });
    }
}

#[test]
fn twins_are_told_apart_by_sex_and_birth_time() {
    let mut w = background(20);
    let mother = rid("340302", "19920303", 40);
    twin_deliveries(
        &mut w,
        &mother,
        "2025-05-05",
        [
            ("FM9001", 1, 2, "2025-05-05 08:00"),
            ("FM9002", 2, 2, "2025-05-05 08:07"),
        ],
    );
    // Certificates in the other order, same sex: only the minute tells them apart.
    for (key, name, time) in [
        ("P349000002", "郑可欣", "2025-05-05 08:07"),
        ("P349000001", "郑可馨", "2025-05-05 08:00"),
    ] {
        w.cert.push(Cert {
            key: key.into(),
            child_name: o(name),
            sex: Some(2),
            date: "2025-05-05",
            time: Some(time),
            institution: o(HOSPITAL),
            mother: o(&mother),
            mother_name: o("孙丽"),
            ..Cert::default()
        });
    }
    // Household rows: a boy and a girl would be easy; these are told apart by name only.
    for (id_seq, name) in [(52, "郑可馨"), (54, "郑可欣")] {
        w.hh.push(Hh {
            person: rid("340302", "20250505", id_seq),
            name: o(name),
            sex: Some(2),
            date: Some("2025-05-05"),
            village: V2.into(),
            mother: o(&mother),
            status: o("active"),
            ..Hh::default()
        });
    }
    let out = w.run();
    let births = rows(
        &out.births,
        &[
            "hospital_delivery_key",
            "birth_certificate_key",
            "household_key",
            "birth_seq",
        ],
    );
    assert_eq!(
        birth_of(&births, "FM9001"),
        &format!("FM9001|P349000001|{}|1", rid("340302", "20250505", 52))
    );
    assert_eq!(
        birth_of(&births, "FM9002"),
        &format!("FM9002|P349000002|{}|2", rid("340302", "20250505", 54))
    );
    assert_eq!(out.ambiguous.height(), 0, "{:?}", out.ambiguous);
}

#[test]
fn a_twins_household_row_does_not_go_to_the_co_twin_its_father_names() {
    let mut w = background(20);
    let mother = rid("340302", "19920303", 40);
    let father = rid("340302", "19900404", 41);
    twin_deliveries(
        &mut w,
        &mother,
        "2025-07-19",
        [
            ("FM9001", 1, 1, "2025-07-19 10:41"),
            ("FM9002", 2, 2, "2025-07-19 10:48"),
        ],
    );
    // Only the girl has a certificate, naming the father; only the boy a household row,
    // naming him too. Mother, date and father agree with the girl's birth as well: the
    // boy's name and sex do not.
    w.cert.push(Cert {
        key: "P349000002".into(),
        child_name: o("郑可欣"),
        sex: Some(2),
        date: "2025-07-19",
        time: Some("2025-07-19 10:48"),
        institution: o(HOSPITAL),
        mother: o(&mother),
        mother_name: o("孙丽"),
        father: o(&father),
        ..Cert::default()
    });
    let boy = rid("340302", "20250719", 51);
    w.hh.push(Hh {
        person: boy.clone(),
        name: o("郑浩然"),
        sex: Some(1),
        date: Some("2025-07-19"),
        village: V2.into(),
        mother: o(&mother),
        father: o(&father),
        status: o("active"),
        ..Hh::default()
    });
    let births = rows(
        &w.run().births,
        &[
            "hospital_delivery_key",
            "birth_certificate_key",
            "household_key",
        ],
    );
    assert!(births.contains(&format!("FM9001|∅|{boy}")), "{births:?}");
    assert!(
        births.contains(&"FM9002|P349000002|∅".to_owned()),
        "{births:?}"
    );
}

#[test]
fn indistinguishable_twins_are_reported_as_ambiguous() {
    let mut w = background(20);
    let mother = rid("340302", "19920303", 40);
    for (key, seq) in [("FM9001", 1), ("FM9002", 2)] {
        w.del.push(Del {
            key: key.into(),
            mother: o(&mother),
            date: "2025-05-05",
            plurality: Some(2),
            seq: Some(seq),
            sex: Some(1),
            ..Del::default()
        });
    }
    // Named, but a delivery has no child name: only the certificates differ.
    for (key, name) in [("P349000001", "郑一"), ("P349000002", "郑二")] {
        w.cert.push(Cert {
            key: key.into(),
            child_name: o(name),
            sex: Some(1),
            date: "2025-05-05",
            mother: o(&mother),
            ..Cert::default()
        });
    }
    let out = w.run();
    let births = rows(
        &out.births,
        &["hospital_delivery_key", "birth_certificate_key"],
    );
    // Each twin has a certificate: the pairing is arbitrary, and said so.
    assert!(
        births.contains(&"FM9001|P349000001".to_owned()),
        "{births:?}"
    );
    assert!(
        births.contains(&"FM9002|P349000002".to_owned()),
        "{births:?}"
    );
    let amb = rows(
        &out.ambiguous,
        &[
            "contested_source",
            "contested_key",
            "kind",
            "candidate_key",
            "linked",
        ],
    );
    assert!(
        amb.contains(&"hospital_delivery|FM9001|tie|P349000001|true".to_owned()),
        "{amb:?}"
    );
    assert!(
        amb.contains(&"hospital_delivery|FM9001|tie|P349000002|false".to_owned()),
        "{amb:?}"
    );
    assert!(
        amb.contains(&"birth_certificate|P349000001|tie|FM9002|false".to_owned()),
        "{amb:?}"
    );
    // One certificate for the two: a tie, and the twin left without it was not outweighed.
    w.cert.retain(|c| c.key != "P349000002");
    let amb = rows(
        &w.run().ambiguous,
        &["contested_key", "kind", "candidate_key", "linked"],
    );
    assert!(
        amb.contains(&"P349000001|tie|FM9002|false".to_owned()),
        "{amb:?}"
    );
    assert!(!amb.iter().any(|r| r.contains("outweighed")), "{amb:?}");
}

#[test]
fn a_duplicated_delivery_is_one_birth() {
    let mut w = background(10);
    let mut copy = w.del[3].clone();
    copy.key = "FM9999".into();
    w.del.push(copy);
    let out = w.run();
    assert_eq!(out.births.height(), 10);
    assert_eq!(
        rows(&out.duplicates, &["source", "key", "kept_key", "reason"]),
        ["hospital_delivery|FM9999|FM0103|same_content"]
    );
    assert_eq!(out.ambiguous.height(), 0);
}

#[test]
fn stillbirths_and_records_outside_the_period_are_not_births() {
    let mut w = background(6);
    w.del[0].outcome = o("stillbirth");
    w.cert.remove(0);
    w.hh.retain(|h| h.date != Some("2025-01-15"));
    w.vac.retain(|v| v.date != "2025-01-15");
    family(&mut w, 7, "2024-12-31", 1, "钱多多", "冯敏");
    let out = w.run();
    assert_eq!(out.births.height(), 5);
}

#[test]
fn birth_order_counts_the_mothers_earlier_children() {
    let mut w = World::default();
    family(&mut w, 1, "2025-08-01", 1, "王小明", "李芳");
    let mother = w.del[0].mother.clone();
    let household = o("H0001");
    let child = |id_seq: u32, birth: &'static str, relation: &str, mother: Option<String>| Hh {
        person: rid("340302", &birth.replace('-', ""), id_seq),
        sex: Some(1),
        date: Some(birth),
        household_no: household.clone(),
        relation: o(relation),
        village: V1.into(),
        status: o("active"),
        mother,
        ..Hh::default()
    };
    // Two children under her ID, one under the household with no mother ID (she is the
    // head's spouse), one adopted, one born after this birth.
    w.hh.push(child(11, "2019-02-02", "20", mother.clone()));
    w.hh.push(child(12, "2021-03-03", "30", mother.clone()));
    w.hh.push(child(13, "2017-04-04", "22", None));
    w.hh.push(child(14, "2018-05-05", "27", None));
    let out = w.run();
    assert_eq!(
        rows(
            &out.births,
            &["birth_order", "policy_limit", "policy_category"]
        ),
        ["4|3|higher_outside"]
    );
    // Before 2021-05-31 the limit was 2; without a limit in force the category is
    // `not_applicable`.
    let cfg = LinkConfig {
        policy_limits: vec![PolicyLimit {
            from: day("2026-01-01"),
            limit: Some(2),
        }],
        ..LinkConfig::default()
    };
    assert_eq!(
        rows(
            &w.run_with(&cfg).births,
            &["birth_order", "policy_category"]
        ),
        ["4|not_applicable"]
    );
}

#[test]
fn twins_without_a_delivery_take_their_orders_by_birth_time() {
    let mut w = World::default();
    family(&mut w, 1, "2025-08-01", 1, "王小明", "李芳");
    let mother = w.del[0].mother.clone();
    // No delivery, no vaccination, no household row of the twins: two certificates, the
    // girl's minute earlier, and an earlier child under her ID.
    w.del.clear();
    w.vac.clear();
    w.hh.retain(|h| h.name.as_deref() != Some("王小明"));
    w.cert[0].time = Some("2025-08-01 09:30");
    let girl = Cert {
        key: "P340000009".into(),
        child_name: o("王小红"),
        sex: Some(2),
        time: Some("2025-08-01 09:12"),
        ..w.cert[0].clone()
    };
    w.cert.push(girl);
    w.hh.push(Hh {
        person: rid("340302", "20190202", 11),
        sex: Some(1),
        date: Some("2019-02-02"),
        household_no: o("H0001"),
        relation: o("20"),
        village: V1.into(),
        status: o("active"),
        mother,
        ..Hh::default()
    });
    let mut births = rows(
        &w.run().births,
        &["birth_certificate_key", "birth_seq", "birth_order"],
    );
    births.sort();
    assert_eq!(births, ["P340000001|∅|3", "P340000009|∅|2"]);
}

#[test]
fn a_mother_without_an_active_household_row_is_floating() {
    let mut w = World::default();
    family(&mut w, 1, "2025-08-01", 2, "王小红", "李芳");
    let mother = w.del[0].mother.clone();
    w.hh.retain(|h| Some(&h.person) != mother.as_ref());
    // Only the certificate and the vaccination record: the village comes from vaccination.
    w.del.clear();
    for v in &mut w.vac {
        v.village = o(V2);
    }
    let out = w.run();
    assert_eq!(
        rows(
            &out.births,
            &[
                "floating",
                "birth_order",
                "policy_category",
                "village",
                "village_source"
            ]
        ),
        [format!("true|∅|undetermined|{V2}|vaccination")]
    );
}

#[test]
fn the_mothers_booking_registration_and_marriage_are_found() {
    let mut w = World::default();
    family(&mut w, 1, "2025-08-01", 2, "王小红", "李芳");
    let mother = w.del[0].mother.clone().expect("an ID");
    w.del[0].village = None;
    w.book = vec![
        Booking {
            key: "YC1".into(),
            mother: o(&mother),
            date: "2024-06-01",
            village: o(V2),
        },
        // Under a mistyped ID: not found by her ID, unless `damaged_mother_ids` is set.
        Booking {
            key: "YC2".into(),
            mother: o(&typo(&mother, 15)),
            date: "2025-01-10",
            village: o(V2),
        },
    ];
    w.reg = vec![
        Registration {
            key: "SY1".into(),
            woman: o(&mother),
            date: "2022-01-01",
        },
        Registration {
            key: "SY2".into(),
            woman: o(&mother),
            date: "2024-12-01",
        },
    ];
    w.mar = vec![
        Marriage {
            key: "J1".into(),
            kind: "marriage",
            woman: o(&mother),
            man: o(&rid("340302", "19880101", 3)),
            date: "2020-10-01",
        },
        Marriage {
            key: "J2".into(),
            kind: "divorce",
            woman: o(&mother),
            man: o(&rid("340302", "19880101", 3)),
            date: "2023-10-01",
        },
    ];
    let cols = [
        "prenatal_care_key",
        "birth_registration_key",
        "marriage_key",
        "village",
        "village_source",
    ];
    assert_eq!(
        rows(&w.run().births, &cols),
        [format!("∅|SY2|J1|{V1}|vaccination")],
        "YC1, 426 days before the birth, is outside the window; YC2 is not hers"
    );
    let fuzzy = LinkConfig {
        damaged_mother_ids: true,
        ..LinkConfig::default()
    };
    assert_eq!(
        rows(&w.run_with(&fuzzy).births, &cols),
        [format!("YC2|SY2|J1|{V2}|prenatal_care")]
    );
}

/// The windows of domain.md §8.3 at their edges: a registration in [birth − 730 d,
/// birth + 90 d], a booking in [birth − 300 d, birth]. The rules read what linkage attaches.
#[test]
fn booking_and_registration_windows_have_their_edges() {
    let mut w = World::default();
    let names = ["甲", "乙", "丙", "丁", "戊"];
    for (n, name) in (1..=5).zip(names) {
        family(
            &mut w,
            n,
            "2025-06-01",
            1,
            &format!("王{name}"),
            &format!("李{name}"),
        );
    }
    let mother = |n: u32| o(&rid("340302", "19900101", 2 * n));
    // Registrations at −730 (in), +90 (in), +91 (out), none, −731 (out).
    w.reg = [
        (1, "2023-06-02"),
        (2, "2025-08-30"),
        (3, "2025-08-31"),
        (5, "2023-06-01"),
    ]
    .into_iter()
    .map(|(n, date)| Registration {
        key: format!("R{n}"),
        woman: mother(n),
        date,
    })
    .collect();
    // Bookings at −300 (in), −301 (out), the day itself (in), the day after (out).
    w.book = [
        (1, "2024-08-05"),
        (2, "2024-08-04"),
        (3, "2025-06-01"),
        (4, "2025-06-02"),
    ]
    .into_iter()
    .map(|(n, date)| Booking {
        key: format!("P{n}"),
        mother: mother(n),
        date,
        village: None,
    })
    .collect();
    let mut got = rows(
        &w.run().births,
        &[
            "hospital_delivery_key",
            "prenatal_care_key",
            "birth_registration_key",
        ],
    );
    got.sort();
    assert_eq!(
        got,
        [
            "FM0001|P1|R1",
            "FM0002|∅|R2",
            "FM0003|P3|∅",
            "FM0004|∅|∅",
            "FM0005|∅|∅",
        ]
    );
}

#[test]
fn a_reissued_certificate_joins_the_childs_first_one() {
    let mut w = World::default();
    family(&mut w, 1, "2025-08-01", 2, "王小红", "李芳");
    let mut reissue = w.cert[0].clone();
    reissue.key = "P349999999".into();
    reissue.issue_type = o("reissue");
    w.cert.push(reissue);
    let out = w.run();
    assert_eq!(
        rows(
            &out.births,
            &["birth_certificate_key", "birth_certificate_other_keys"]
        ),
        ["P340000001|P349999999"]
    );
    assert_eq!(out.ambiguous.height(), 0);
}

#[test]
fn a_twins_reissued_certificate_is_not_joined_to_the_other_twins() {
    let mut w = World::default();
    family(&mut w, 1, "2025-08-01", 2, "王小红", "李芳");
    w.cert[0].time = Some("2025-08-01 00:33");
    // The co-twin's only certificate is a reissue: same mother, date and sex, another
    // minute of birth and name.
    let mut twin = w.cert[0].clone();
    twin.key = "P349999999".into();
    twin.issue_type = o("reissue");
    twin.child_name = o("王小兰");
    twin.time = Some("2025-08-01 00:21");
    w.cert.push(twin);
    let out = w.run();
    let keys = rows(
        &out.births,
        &["birth_certificate_key", "birth_certificate_other_keys"],
    );
    assert!(keys.contains(&"P340000001|∅".to_owned()), "{keys:?}");
    assert!(keys.contains(&"P349999999|∅".to_owned()), "{keys:?}");
}

#[test]
fn output_does_not_depend_on_row_order() {
    let mut w = background(30);
    // Some mess, so that every stage has probabilistic work and conflicts.
    let m = w.del[5].mother.clone().expect("an ID");
    w.cert[5].mother = Some(typo(&m, 3));
    w.cert[7].mother = None;
    w.del[9].sex = Some(2);
    let mut copy = w.del[2].clone();
    copy.key = "FM9999".into();
    w.del.push(copy);
    let a = w.run();
    let mut shuffled = w.clone();
    shuffled.del.reverse();
    shuffled.cert.rotate_left(7);
    shuffled.hh.reverse();
    shuffled.vac.rotate_left(11);
    let b = shuffled.run();
    assert_frames_equal(&a, &b);
}

fn assert_frames_equal(a: &LinkOutput, b: &LinkOutput) {
    for (name, x, y) in [
        ("births", &a.births, &b.births),
        ("links", &a.links, &b.links),
        ("ambiguous", &a.ambiguous, &b.ambiguous),
        (
            "duplicates",
            &a.duplicates.drop("source_line").expect("column"),
            &b.duplicates.drop("source_line").expect("column"),
        ),
        ("diagnostics", &a.diagnostics, &b.diagnostics),
        ("model", &a.model, &b.model),
    ] {
        assert!(x == y, "{name} differs:\n{x}\n{y}");
    }
}

#[test]
fn diagnostics_count_linked_and_unlinked_records_per_village() {
    let mut w = background(4);
    // A certificate with no other record of its birth.
    w.cert.push(Cert {
        key: "P348888888".into(),
        sex: Some(1),
        date: "2025-09-09",
        mother: o(&rid("340321", "19950505", 8)),
        ..Cert::default()
    });
    let out = w.run();
    let rows = rows(
        &out.diagnostics,
        &[
            "village", "source", "births", "records", "linked", "unlinked",
        ],
    );
    assert!(
        rows.contains(&format!("{V1}|birth_certificate|4|4|4|0")),
        "{rows:?}"
    );
    assert!(
        rows.contains(&"∅|birth_certificate|1|1|0|1".to_owned()),
        "{rows:?}"
    );
}

#[test]
fn the_linkage_section_reads_from_toml() {
    let cfg: LinkConfig = toml::from_str(
        r#"
        match_threshold = 7.5

        [[blocking]]
        on = ["mother_name", "county"]
        date_window = 3
        "#,
    )
    .expect("a valid section");
    let policy: PolicyConfig = toml::from_str(
        r#"
        [[limits]]
        from = 2016-01-01
        limit = 2

        [[limits]]
        from = "2021-05-31"
        limit = 3
        "#,
    )
    .expect("a valid [policy]");
    let attribution: AttributionConfig =
        toml::from_str(r#"order = ["household", "mother_household"]"#).expect("[attribution]");
    let cfg = cfg.with_sections(&policy, &attribution);
    assert_eq!(
        cfg.attribution,
        [AttributionStep::Household, AttributionStep::MotherHousehold]
    );
    // The limits and the order live in their own sections, not in `[linkage]`.
    assert!(toml::from_str::<LinkConfig>("[[policy_limits]]\nfrom = 2016-01-01\n").is_err());
    assert!(toml::from_str::<LinkConfig>("attribution = [\"household\"]\n").is_err());
    assert_eq!(cfg.match_threshold, 7.5);
    assert_eq!(
        cfg.blocking,
        [BlockingRule {
            on: vec![BlockingKey::MotherName, BlockingKey::County],
            date_window: Some(3),
        }]
    );
    assert_eq!(cfg.policy_limits, LinkConfig::default().policy_limits);
    assert_eq!(cfg.limit_on(day("2021-05-30")), Some(2));
    assert_eq!(cfg.limit_on(day("2015-12-31")), None);
    cfg.validate().expect("valid");
    assert_eq!(
        toml::from_str::<LinkConfig>("").expect("all defaults"),
        LinkConfig::default()
    );
    let err = toml::from_str::<LinkConfig>("match_treshold = 3").expect_err("a typo");
    assert!(err.to_string().contains("match_treshold"), "{err}");
    let bad = LinkConfig {
        date_tolerances: [7, 1],
        ..LinkConfig::default()
    };
    assert!(
        matches!(bad.validate(), Err(LinkError::Config { key, .. }) if key == "linkage.date_tolerances")
    );
}

#[test]
fn a_missing_key_column_is_an_error_naming_it() {
    let t = World::default().tables();
    let del = t.del.drop("record_id").expect("column");
    let err = link(
        &LinkInput {
            hospital_delivery: Some(&del),
            birth_certificate: None,
            household: None,
            vaccination: None,
            prenatal_care: None,
            birth_registration: None,
            marriage: None,
            as_of: day("2026-01-31"),
            period: (day("2025-01-01"), day("2025-12-31")),
            jurisdiction: "3403",
        },
        &LinkConfig::default(),
    )
    .expect_err("no key column");
    assert_eq!(
        err.to_string().lines().next(),
        Some("table `hospital_delivery` has no column `record_id`")
    );
}

// ---------------------------------------------------------------------------------------
// Comparisons.

fn name(s: &str) -> Name {
    Name::new(s).expect("a name")
}

#[test]
fn name_levels() {
    assert_eq!(name_level(&name("王秀英"), &name("王秀英")), 1);
    // 英 and 鹰 sound alike (yīng/yīng); 秀 and 绣 too.
    assert_eq!(name_level(&name("王秀英"), &name("王绣鹰")), 2);
    assert_eq!(name_level(&name("王秀英"), &name("王秀兰")), 3);
    assert_eq!(name_level(&name("王秀英"), &name("王英")), 3);
    assert_eq!(name_level(&name("王秀英"), &name("李桂兰")), 4);
}

#[test]
fn id_levels() {
    let a = id_digits(Some("340302199001010029")).expect("shape");
    let level = |b: &str| id_level(&a, &id_digits(Some(b)).expect("shape"));
    assert_eq!(level("340302199001010029"), 1);
    assert_eq!(level("340302199001011029"), 2);
    assert_eq!(level("340302199010010029"), 3);
    assert_eq!(level("340302199001010000"), 4);
    assert_eq!(level("340302199101011029"), 5);
    assert_eq!(level("110105194912310021"), 6);
    assert_eq!(id_digits(Some("3.40302E+17")), None);
}

fn arb_rec() -> impl Strategy<Value = Rec> {
    let names = prop::sample::select(vec![
        "王秀英",
        "王绣鹰",
        "王秀兰",
        "王英",
        "李桂兰",
        "张伟",
        "张玮",
        "欧阳娜娜",
    ]);
    let ids = prop::sample::select(vec![
        "340302199001010029",
        "340302199001011029",
        "340302199010010029",
        "340302199001010000",
        "110105194912310021",
    ]);
    (
        prop::option::of(ids.clone()),
        prop::option::of(names.clone()),
        prop::option::of(names),
        prop::option::of(0..3i32),
        prop::option::of(20_000..20_020i32),
        prop::option::of(0..3i64),
        prop::option::of(prop::sample::select(vec!["甲医院", "乙医院"])),
        prop::option::of(ids),
        prop::option::of(prop::sample::select(vec![
            "340302001001",
            "340302001002",
            "340303001001",
        ])),
    )
        .prop_map(|(m, mn, cn, sex, date, minute, inst, child, village)| Rec {
            key: "k".into(),
            mother_digits: id_digits(m),
            mother_name: mn.and_then(Name::new),
            child_name: cn.and_then(Name::new),
            sex,
            date,
            time_ms: minute.map(|m| m * 60_000),
            institution: inst.map(str::to_owned),
            child_digits: id_digits(child),
            village: village.map(str::to_owned),
            ..Rec::default()
        })
}

proptest! {
    #[test]
    fn match_weights_are_symmetric(a in arb_rec(), b in arb_rec()) {
        let tol = Tolerances { near: 1, within: 7 };
        let ab = compare(&a, &b, tol);
        prop_assert_eq!(ab, compare(&b, &a, tol));
        let u = u_from_counts(&crate::model::level_counts());
        let model = estimate(&[(ab, 3)], u, 0.2, 10.0, 20);
        let tf = TermFreq::new([&a, &b].into_iter());
        let (wa, _) = model.score(&ab, &b, Some(&tf));
        let (wb, _) = model.score(&ab, &a, Some(&tf));
        prop_assert!((wa - wb).abs() < 1e-12, "{} != {}", wa, wb);
    }
}

// ---------------------------------------------------------------------------------------
// The synthetic village against its truth.

/// Ingests the synthetic pipeline's sources into tables by source id.
fn ingest_pipeline(
    pipeline: &std::path::Path,
) -> (poprecon_pipeline::Plan, BTreeMap<String, DataFrame>) {
    let plan = poprecon_pipeline::Plan::load(pipeline).expect("the synthetic pipeline loads");
    let mut tables = BTreeMap::new();
    for sp in &plan.sources {
        let out = poprecon_ingest::ingest(&plan.ingest_config(sp))
            .expect("the synthetic extracts ingest");
        tables.insert(sp.source.id().to_owned(), out.records);
    }
    (plan, tables)
}

fn link_tables(plan: &poprecon_pipeline::Plan, t: &BTreeMap<String, DataFrame>) -> LinkOutput {
    link(
        &LinkInput {
            hospital_delivery: t.get("hospital_delivery"),
            birth_certificate: t.get("birth_certificate"),
            household: t.get("household"),
            vaccination: t.get("vaccination"),
            prenatal_care: t.get("prenatal_care"),
            birth_registration: t.get("birth_registration"),
            marriage: t.get("marriage"),
            as_of: plan.as_of,
            period: plan.period,
            jurisdiction: &plan.jurisdiction,
        },
        &LinkConfig::default(),
    )
    .expect("linkage runs")
}

/// Pairs of keys (source A, source B) of the births of a table.
fn key_pairs(df: &DataFrame, a: &str, b: &str) -> BTreeSet<(String, String)> {
    let ka = df
        .column(&format!("{a}_key"))
        .expect("key")
        .str()
        .expect("text")
        .clone();
    let kb = df
        .column(&format!("{b}_key"))
        .expect("key")
        .str()
        .expect("text")
        .clone();
    ka.iter()
        .zip(kb.iter())
        .filter_map(|(x, y)| Some((x?.to_owned(), y?.to_owned())))
        .collect()
}

/// The source pairs whose links are measured: the birth-level ones, and the mother's
/// booking and registration against the delivery and the certificate.
const PAIRS: [(&str, &str); 10] = [
    ("hospital_delivery", "birth_certificate"),
    ("hospital_delivery", "household"),
    ("hospital_delivery", "vaccination"),
    ("birth_certificate", "household"),
    ("birth_certificate", "vaccination"),
    ("household", "vaccination"),
    ("hospital_delivery", "prenatal_care"),
    ("hospital_delivery", "birth_registration"),
    ("birth_certificate", "prenatal_care"),
    ("birth_certificate", "birth_registration"),
];

/// Precision and recall of the linked pairs of each source pair against the truth:
/// `(pair, true pairs, precision, recall)`.
fn accuracy(out: &LinkOutput, truth: &DataFrame) -> Vec<(String, usize, f64, f64)> {
    PAIRS
        .iter()
        .map(|(a, b)| {
            let want = key_pairs(truth, a, b);
            let got = key_pairs(&out.births, a, b);
            let hit = want.intersection(&got).count();
            let ratio = |n: usize| if n == 0 { 1.0 } else { hit as f64 / n as f64 };
            (
                format!("{a}~{b}"),
                want.len(),
                ratio(got.len()),
                ratio(want.len()),
            )
        })
        .collect()
}

fn read_parquet(path: &std::path::Path) -> DataFrame {
    let file = std::fs::File::open(path).expect("the truth is written");
    ParquetReader::new(file).finish().expect("the truth reads")
}

/// The rows of a table in a seeded random order.
fn shuffled(df: &DataFrame, seed: u64) -> DataFrame {
    let mut state = seed;
    let mut next = || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut idx: Vec<IdxSize> = (0..df.height() as IdxSize).collect();
    for i in (1..idx.len()).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        idx.swap(i, j);
    }
    df.take(&IdxCa::new("idx".into(), idx))
        .expect("a permutation")
}

/// Generates a synthetic area, ingests it, links it and measures every pair against the
/// truth. The village scale runs by default; `POPRECON_LINK_SCALE=county` (or `city`) runs
/// a larger one and prints the figures. `POPRECON_LINK_SEEDS` sets how many seeds.
#[test]
fn the_synthetic_area_links_as_its_truth_says() {
    let scale: poprecon_synth::Scale = std::env::var("POPRECON_LINK_SCALE")
        .ok()
        .map(|s| s.parse().expect("a scale"))
        .unwrap_or(poprecon_synth::Scale::Village);
    let seeds: u64 = std::env::var("POPRECON_LINK_SEEDS")
        .ok()
        .map(|s| s.parse().expect("a number of seeds"))
        .unwrap_or(3);
    let tmp = tempfile::tempdir().expect("a temporary folder");
    let mut totals: BTreeMap<String, (usize, f64, f64)> = BTreeMap::new();
    for seed in 1..=seeds {
        let dir = tmp.path().join(format!("{scale}-{seed}"));
        poprecon_synth::generate(
            &poprecon_synth::SynthConfig::new(scale, seed),
            &dir,
            &|_| {},
        )
        .expect("the synthetic area is generated");
        let (plan, tables) = ingest_pipeline(&dir.join("pipeline.toml"));
        let out = link_tables(&plan, &tables);
        let truth = read_parquet(&dir.join("truth").join("births.parquet"));
        for (pair, n, precision, recall) in accuracy(&out, &truth) {
            // Weighted by the true pairs, so that the seeds pool.
            let t = totals.entry(pair).or_default();
            t.0 += n;
            t.1 += precision * n as f64;
            t.2 += recall * n as f64;
        }
        if seed == 1 {
            // The same extracts in another row order link the same.
            let again: BTreeMap<String, DataFrame> = tables
                .iter()
                .map(|(k, df)| (k.clone(), shuffled(df, 99)))
                .collect();
            assert_frames_equal(&out, &link_tables(&plan, &again));
        }
    }
    let mut failures = Vec::new();
    for (pair, (n, p, r)) in &totals {
        let (p, r) = (p / (*n).max(1) as f64, r / (*n).max(1) as f64);
        eprintln!("{scale} {pair}: true pairs {n}, precision {p:.4}, recall {r:.4}");
        if *n > 0 && (p < 0.995 || r < 0.995) {
            failures.push(format!("{pair}: precision {p:.4}, recall {r:.4}"));
        }
    }
    assert!(failures.is_empty(), "below 0.995: {failures:#?}");
}
