//! The rules against the synthetic city's truth: the generator records what it injected
//! (sex, birth-date and mother-ID conflicts, wrong declared orders, duplicated deliveries)
//! and every invalid value it wrote, so these rules' discrepancies are known. The extracts
//! go through ingest; the births are the truth's (the true linkage), so that what is
//! measured is the rules, not linkage.
//!
//! The village scale runs with every test (with high mess rates, so that each kind occurs).
//! The whole pipeline's figures at a larger scale, over linkage's births, are the
//! `truth_figures` example of `poprecon-synth` (README.md).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;

use polars::prelude::*;
use poprecon_ingest::{Format, IngestConfig, InputFile, Source};
use poprecon_synth::{MessRates, Scale, SynthConfig};

use crate::*;

/// Precision and recall of each measured rule.
#[derive(Debug, Default)]
struct Score {
    found: usize,
    expected: usize,
    hits: usize,
}

impl Score {
    fn precision(&self) -> f64 {
        if self.found == 0 {
            1.0
        } else {
            self.hits as f64 / self.found as f64
        }
    }
    fn recall(&self) -> f64 {
        if self.expected == 0 {
            1.0
        } else {
            self.hits as f64 / self.expected as f64
        }
    }
}

fn sources() -> [&'static dyn Source; 9] {
    [
        &poprecon_birth_registration::BirthRegistration,
        &poprecon_prenatal_care::PrenatalCare,
        &poprecon_hospital_delivery::HospitalDelivery,
        &poprecon_birth_certificate::BirthCertificate,
        &poprecon_vaccination::Vaccination,
        &poprecon_registries::Household,
        &poprecon_registries::School,
        &poprecon_registries::Marriage,
        &poprecon_registries::SocialSecurity,
    ]
}

/// The resident-ID fields of each source (domain.md §2).
fn id_fields(source: &str) -> &'static [&'static str] {
    match source {
        "birth_registration" => &["woman_id", "man_id"],
        "prenatal_care" | "hospital_delivery" => &["mother_id"],
        "birth_certificate" => &["mother_id", "father_id"],
        "vaccination" => &["child_id", "mother_id"],
        "household" => &["person_id", "mother_id", "father_id"],
        "school" | "social_security" => &["person_id"],
        "marriage" => &["man_id", "woman_id"],
        _ => &[],
    }
}

fn strs(df: &DataFrame, name: &str) -> Vec<Option<String>> {
    match df.column(name) {
        Ok(c) => c
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

fn read_parquet(path: &Path) -> DataFrame {
    let file = std::fs::File::open(path).expect("truth file");
    ParquetReader::new(file).finish().expect("parquet")
}

/// A record key of the truth: as written in the extract, trimmed (domain.md §7), as
/// ingest's `record_key` gives it.
fn key_of(_source: &str, raw: &str) -> String {
    raw.trim().to_owned()
}

struct Generated {
    tables: BTreeMap<&'static str, DataFrame>,
    births: DataFrame,
    villages: Vec<String>,
    truth: std::path::PathBuf,
    cfg: SynthConfig,
}

fn generate(scale: Scale, seed: u64, mess: MessRates, dir: &Path) -> Generated {
    let mut cfg = SynthConfig::new(scale, seed);
    cfg.mess = mess;
    let out = dir.join("synth");
    poprecon_synth::generate(&cfg, &out, &|_| {}).expect("synthetic data");
    let mut villages = Vec::new();
    let mut reader =
        csv::Reader::from_path(out.join("divisions").join("villages.csv")).expect("division table");
    for r in reader.records() {
        villages.push(r.expect("a division row")[0].to_owned());
    }
    let known: HashSet<String> = villages.iter().cloned().collect();
    let columns = BTreeMap::new();
    let mut tables = BTreeMap::new();
    for source in sources() {
        let mut files: Vec<_> = std::fs::read_dir(out.join("extracts"))
            .expect("extracts")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.file_stem().and_then(|s| s.to_str()) == Some(source.id()))
            .collect();
        files.sort();
        let files: Vec<InputFile> = files
            .into_iter()
            .map(|p| {
                let format = Format::from_path(&p).expect("a known format");
                InputFile::new(p, format)
            })
            .collect();
        let output = poprecon_ingest::ingest(&IngestConfig {
            source,
            files: &files,
            columns: &columns,
            known_villages: Some(&known),
            allow_empty: true,
            progress: None,
            keep: None,
        })
        .expect("ingest");
        tables.insert(source.id(), output.records);
    }
    // The true linkage as births: the floating flag and, for non-floating mothers only, the
    // birth order (domain.md §8.9: undetermined for floating mothers).
    let truth = out.join("truth");
    let births = read_parquet(&truth.join("births.parquet"))
        .lazy()
        .with_columns([
            col("mother_floating").alias("floating"),
            when(col("mother_floating"))
                .then(lit(NULL).cast(DataType::Int32))
                .otherwise(col("birth_order"))
                .alias("birth_order"),
        ])
        .collect()
        .expect("births");
    Generated {
        tables,
        births,
        villages,
        truth,
        cfg,
    }
}

/// What the truth says each measured rule must report, as comparable strings.
fn expected(g: &Generated) -> BTreeMap<&'static str, BTreeSet<String>> {
    let mut out: BTreeMap<&'static str, BTreeSet<String>> = BTreeMap::new();
    // invalid_value: every invalid ID, unknown or malformed village, impossible optional date.
    let invalid = read_parquet(&g.truth.join("invalid_values.parquet"));
    let (src, key, field, reason) = (
        strs(&invalid, "source"),
        strs(&invalid, "record_key"),
        strs(&invalid, "field"),
        strs(&invalid, "reason"),
    );
    for i in 0..invalid.height() {
        let (Some(s), Some(k), Some(f), Some(r)) = (&src[i], &key[i], &field[i], &reason[i]) else {
            continue;
        };
        let reportable = id_fields(s).contains(&f.as_str())
            || matches!(
                r.as_str(),
                "unknown_village" | "invalid_village" | "impossible_date"
            );
        if reportable {
            out.entry("invalid_value")
                .or_default()
                .insert(format!("{s}|{}|{f}", key_of(s, k)));
        }
    }
    // Births: which record of each source belongs to which birth.
    let births = &g.births;
    let bid = strs(births, "birth_id");
    let bkeys: HashMap<&str, Vec<Option<String>>> = [
        "hospital_delivery",
        "birth_certificate",
        "household",
        "vaccination",
        "birth_registration",
    ]
    .into_iter()
    .map(|s| (s, strs(births, &format!("{s}_key"))))
    .collect();
    let floating: Vec<Option<bool>> = births
        .column("floating")
        .expect("floating")
        .bool()
        .expect("bool")
        .iter()
        .collect();
    let row_of: HashMap<&str, usize> = bid
        .iter()
        .enumerate()
        .filter_map(|(i, b)| b.as_deref().map(|b| (b, i)))
        .collect();
    // Valid mother IDs by source and key (first row of a key).
    let mut mother_of: HashMap<(&str, String), Option<String>> = HashMap::new();
    for s in [
        "hospital_delivery",
        "birth_certificate",
        "household",
        "vaccination",
    ] {
        let t = &g.tables[s];
        let keys = strs(t, "record_key");
        let mothers = strs(t, "mother_id");
        for (k, m) in keys.into_iter().zip(mothers) {
            if let Some(k) = k {
                mother_of.entry((s, k)).or_insert(m);
            }
        }
    }
    let birth_level = [
        "hospital_delivery",
        "birth_certificate",
        "household",
        "vaccination",
    ];
    let inj = read_parquet(&g.truth.join("injections.parquet"));
    let (isrc, ikey, kind, ibirth, field_) = (
        strs(&inj, "source"),
        strs(&inj, "record_key"),
        strs(&inj, "kind"),
        strs(&inj, "birth_id"),
        strs(&inj, "field"),
    );
    for i in 0..inj.height() {
        let (Some(s), Some(k), Some(kind)) = (&isrc[i], &ikey[i], &kind[i]) else {
            continue;
        };
        let k = key_of(s, k);
        match kind.as_str() {
            "duplicate_delivery" => {
                out.entry("duplicate_record")
                    .or_default()
                    .insert(format!("{s}|{k}"));
            }
            "sex_conflict" | "birth_date_conflict" | "wrong_mother_id" => {
                let Some(b) = &ibirth[i] else { continue };
                let Some(&row) = row_of.get(b.as_str()) else {
                    continue;
                };
                // The twisted record must be the birth's, and another record of the birth
                // must carry a value to disagree with.
                if bkeys[s.as_str()][row].as_deref() != Some(k.as_str()) {
                    continue;
                }
                let others = birth_level
                    .iter()
                    .filter(|o| **o != s.as_str())
                    .filter(|o| {
                        let Some(ok) = bkeys[**o][row].clone() else {
                            return false;
                        };
                        kind != "wrong_mother_id"
                            || mother_of.get(&(**o, ok)).is_some_and(Option::is_some)
                    });
                let twisted_valid = kind != "wrong_mother_id"
                    || mother_of
                        .get(&(s.as_str(), k.clone()))
                        .is_some_and(Option::is_some);
                if others.count() > 0 && twisted_valid {
                    let rule = match kind.as_str() {
                        "sex_conflict" => "sex_mismatch",
                        "birth_date_conflict" => "birth_date_mismatch",
                        _ => "mother_id_mismatch",
                    };
                    out.entry(rule).or_default().insert(b.clone());
                }
            }
            "id_substitution"
            | "id_transposition"
            | "excel_trailing_zeros"
            | "excel_numeric"
            | "excel_scientific"
                if field_[i].as_deref() == Some("mother_id")
                    && birth_level.contains(&s.as_str()) =>
            {
                // A damaged ID that still passes the check is another woman's valid ID.
                let Some(b) = &ibirth[i] else { continue };
                let Some(&row) = row_of.get(b.as_str()) else {
                    continue;
                };
                let still_valid = mother_of
                    .get(&(s.as_str(), k.clone()))
                    .is_some_and(Option::is_some);
                let linked = bkeys[s.as_str()][row].as_deref() == Some(k.as_str());
                let others = birth_level.iter().filter(|o| **o != s.as_str()).any(|o| {
                    bkeys[*o][row]
                        .clone()
                        .is_some_and(|ok| mother_of.get(&(*o, ok)).is_some_and(Option::is_some))
                });
                if still_valid && linked && others {
                    out.entry("mother_id_mismatch")
                        .or_default()
                        .insert(b.clone());
                }
            }
            "wrong_child_order" => {
                let linked = (0..births.height()).any(|row| {
                    bkeys["birth_registration"][row].as_deref() == Some(k.as_str())
                        && floating[row] == Some(false)
                });
                if linked {
                    out.entry("child_order_mismatch")
                        .or_default()
                        .insert(format!("birth_registration|{k}"));
                }
            }
            _ => {}
        }
    }
    out
}

/// What the checks found for the measured rules, in the same form.
fn found(c: &Checked) -> BTreeMap<&'static str, BTreeSet<String>> {
    let d = &c.discrepancies;
    let rule = strs(d, "rule_id");
    let field = strs(d, "field");
    let bid = strs(d, "birth_id");
    let keys: Vec<(&str, Vec<Option<String>>)> = SOURCES
        .iter()
        .map(|s| (*s, strs(d, &format!("{s}_key"))))
        .collect();
    let record = |i: usize| {
        keys.iter()
            .find_map(|(s, k)| k[i].as_ref().map(|k| format!("{s}|{k}")))
            .unwrap_or_default()
    };
    let mut out: BTreeMap<&'static str, BTreeSet<String>> = BTreeMap::new();
    for i in 0..d.height() {
        let (name, item) = match rule[i].as_deref() {
            Some("invalid_value") => (
                "invalid_value",
                format!("{}|{}", record(i), field[i].clone().unwrap_or_default()),
            ),
            Some("duplicate_record") => ("duplicate_record", record(i)),
            Some("child_order_mismatch") => ("child_order_mismatch", record(i)),
            Some(r @ ("sex_mismatch" | "birth_date_mismatch" | "mother_id_mismatch")) => {
                let name = match r {
                    "sex_mismatch" => "sex_mismatch",
                    "birth_date_mismatch" => "birth_date_mismatch",
                    _ => "mother_id_mismatch",
                };
                (name, bid[i].clone().unwrap_or_default())
            }
            _ => continue,
        };
        out.entry(name).or_default().insert(item);
    }
    out
}

const MEASURED: [&str; 6] = [
    "sex_mismatch",
    "birth_date_mismatch",
    "mother_id_mismatch",
    "child_order_mismatch",
    "duplicate_record",
    "invalid_value",
];

/// The births stage over `births` and the generated tables.
fn facts(g: &Generated, births: &DataFrame) -> poprecon_link::BirthFacts {
    let input =
        poprecon_link::LinkInput::from_tables(|s| g.tables.get(s), g.cfg.as_of, g.cfg.period, "34");
    poprecon_link::birth_facts(
        births,
        &input,
        &poprecon_link::LinkConfig::default(),
        &poprecon_link::FactSettings::default(),
    )
    .expect("the births stage")
}

fn measure(g: &Generated) -> (BTreeMap<&'static str, Score>, Checked) {
    let f = facts(g, &g.births);
    let input = whole_input(g, &f);
    // The truth has no policy category (linkage computes it).
    let cfg: ChecksConfig = toml::from_str("[out_of_policy_birth]\nenabled = false\n").unwrap();
    let checked = run_checks(&input, &cfg).expect("checks");
    let want = expected(g);
    let got = found(&checked);
    let empty = BTreeSet::new();
    let scores = MEASURED
        .iter()
        .map(|r| {
            let (w, f) = (want.get(r).unwrap_or(&empty), got.get(r).unwrap_or(&empty));
            let score = Score {
                found: f.len(),
                expected: w.len(),
                hits: f.intersection(w).count(),
            };
            (*r, score)
        })
        .collect();
    (scores, checked)
}

fn table(scores: &BTreeMap<&'static str, Score>) -> String {
    let mut s = String::from("rule | expected | found | precision | recall\n");
    for (r, sc) in scores {
        s.push_str(&format!(
            "{r} | {} | {} | {:.4} | {:.4}\n",
            sc.expected,
            sc.found,
            sc.precision(),
            sc.recall()
        ));
    }
    s
}

/// A village has some forty births: the conflicts are made frequent enough to occur.
fn high_mess() -> MessRates {
    MessRates {
        sex_conflict: 0.2,
        birth_date_conflict: 0.2,
        wrong_mother_id: 0.2,
        duplicate_delivery: 0.1,
        wrong_child_order: 0.3,
        ..MessRates::default().scaled(5.0)
    }
}

#[test]
fn measured_rules_match_the_synthetic_truth_at_village_scale() {
    let dir = tempfile::tempdir().unwrap();
    let g = generate(Scale::Village, 7, high_mess(), dir.path());
    let (scores, checked) = measure(&g);
    let report = table(&scores);
    eprintln!("village scale, high mess:\n{report}");
    for (r, sc) in &scores {
        assert!(
            sc.precision() >= 0.99 && sc.recall() >= 0.99,
            "`{r}` below 0.99:\n{report}"
        );
    }
    // Each kind of mess occurred, so the figures say something.
    for r in [
        "duplicate_record",
        "invalid_value",
        "sex_mismatch",
        "child_order_mismatch",
    ] {
        assert!(scores[r].expected > 0, "no `{r}` in the truth:\n{report}");
    }
    // Every rule that can run on this data did; the output is well formed.
    assert!(checked.discrepancies.height() > 0);
    let ids = strs(&checked.discrepancies, "discrepancy_id");
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len());
}

/// The household registry narrowed to the rows the night reads one by one
/// (`narrow_household`) gives the births stage and every rule what the whole registry gives:
/// the same births, the same discrepancies, the same units per village.
#[test]
fn a_narrowed_household_registry_gives_what_the_whole_one_gives() {
    let dir = tempfile::tempdir().unwrap();
    let mut g = generate(Scale::Village, 11, high_mess(), dir.path());
    // The synthetic registry has no copies: three rows of adults entered twice.
    let window = poprecon_link::birth_window(g.cfg.period, &poprecon_link::LinkConfig::default());
    let copies = g.tables["household"]
        .clone()
        .lazy()
        .filter(
            col("birth_date")
                .cast(DataType::Int32)
                .lt(lit(window.0 - 10_000))
                .and(col("invalid_fields").is_null()),
        )
        .slice(100, 3)
        .collect()
        .unwrap();
    assert_eq!(copies.height(), 3);
    g.tables
        .get_mut("household")
        .unwrap()
        .vstack_mut(&copies)
        .unwrap();
    let whole = &g.tables["household"];
    let others: BTreeMap<String, DataFrame> = g
        .tables
        .iter()
        .filter(|(s, _)| **s != "household")
        .map(|(s, df)| ((*s).to_owned(), df.clone()))
        .collect();
    let (held, rest) = narrow_household(whole, &others, window).expect("narrowed");
    assert_eq!(rest.held, held.height());
    assert_eq!(rest.held + rest.left, whole.height());
    assert!(
        rest.left > whole.height() / 2,
        "most of a registry is read only as counts: {} of {} held",
        rest.held,
        whole.height()
    );

    let mut narrowed = g.tables.clone();
    narrowed.insert("household", held.clone());
    let narrowed_g = with_tables(&g, narrowed);
    let (f, nf) = (facts(&g, &g.births), facts(&narrowed_g, &g.births));
    assert!(f.births.equals_missing(&nf.births), "births differ");
    assert!(
        f.stillbirths.equals_missing(&nf.stillbirths),
        "stillbirths differ"
    );

    let cfg: ChecksConfig = toml::from_str("[out_of_policy_birth]\nenabled = false\n").unwrap();
    let all = whole_input(&g, &f);
    let part = all.clone().with_narrowed_household(&held, &rest);
    let (a, b) = (
        run_checks(&all, &cfg).expect("checks, whole registry"),
        run_checks(&part, &cfg).expect("checks, narrowed registry"),
    );
    assert!(a.discrepancies.height() > 0);
    assert_same_checks(&a, &b);
    // The registry's own findings are among them: the narrowed one did not lose them.
    let rules = rules_on(&b, "household_key");
    for r in ["invalid_value", "id_number_conflict", "duplicate_record"] {
        assert!(rules.contains(r), "no household `{r}`: {rules:?}");
    }

    // Read in pieces of 1 000 rows (the night's second read keeps the rows at the lines
    // held), the registry narrows to the same rows and the rules give the same.
    let mut scan = crate::HouseholdScan::new(window);
    let mut offset = 0;
    while offset < whole.height() {
        scan.add(&whole.slice(offset as i64, 1_000))
            .expect("a piece");
        offset += 1_000;
    }
    assert_eq!(scan.rows(), whole.height());
    let narrowing = scan.finish(&others).expect("narrowed in pieces");
    let mask = BooleanChunked::from_slice("held".into(), &narrowing.held);
    let pieces_held = whole.filter(&mask).unwrap();
    assert!(pieces_held.equals_missing(&held), "rows held differ");
    assert_eq!(narrowing.lines.len(), held.height());
    let (files, lines) = (
        strs(&held, "source_file"),
        held.column("source_line").unwrap(),
    );
    let lines = lines.cast(&DataType::UInt64).unwrap();
    for (file, line) in files.iter().zip(lines.u64().unwrap().iter()) {
        assert!(
            narrowing
                .lines
                .holds(file.as_deref().unwrap(), line.unwrap())
        );
    }
    assert!(!narrowing.lines.holds("elsewhere.csv", 2));
    let part = all.with_narrowed_household(&pieces_held, &narrowing.rest);
    let c = run_checks(&part, &cfg).expect("checks, registry read in pieces");
    assert_same_checks(&a, &c);
}

/// The school, marriage and social-security records narrowed to the rows the night reads one by one
/// (`narrow_source`, and `SourceScan` over pieces) give the births stage and every rule what
/// the whole records give, beside the narrowed registry as the night runs them: the same
/// births, the same discrepancies, the same units per village.
#[test]
fn narrowed_school_marriage_and_insurance_records_give_what_the_whole_ones_give() {
    let dir = tempfile::tempdir().unwrap();
    let mut g = generate(Scale::Village, 12, high_mess(), dir.path());
    // Rows that only copies can hold, added at the end (pieces of 100 rows apart from their
    // originals): a marriage entered again under a new number, insurance rows entered
    // twice, and a maternity claim of a woman no one else names (the rule fires on it).
    let window = poprecon_link::birth_window(g.cfg.period, &poprecon_link::LinkConfig::default());
    let others_of = |g: &Generated, source: &str| -> BTreeMap<String, DataFrame> {
        g.tables
            .iter()
            .filter(|(s, _)| **s != source)
            .map(|(s, df)| ((*s).to_owned(), df.clone()))
            .collect()
    };
    let (held_h, rest_h) =
        narrow_household(&g.tables["household"], &others_of(&g, "household"), window).unwrap();
    for source in NARROWED_SOURCES {
        let whole = g.tables[source].clone();
        let others = others_of(&g, source);
        let household = (source != "school").then_some(&rest_h);
        let mut scan = SourceScan::new(source, &others, household)
            .unwrap()
            .unwrap();
        let left: Vec<bool> = scan
            .add(&whole, household)
            .unwrap()
            .iter()
            .map(|h| !h)
            .collect();
        let left = whole
            .filter(&BooleanChunked::from_slice("left".into(), &left))
            .unwrap();
        assert!(
            left.height() > 10,
            "`{source}`: {} rows left",
            left.height()
        );
        let mut extra = left.slice(3, 2);
        if source == "school" {
            // Pupils entered again under new numbers.
            let renumbered: Vec<String> = (0..2).map(|i| format!("COPY{i}")).collect();
            for c in ["student_no", "record_key"] {
                extra
                    .with_column(Column::new(c.into(), renumbered.clone()))
                    .unwrap();
            }
        } else if source == "marriage" {
            let renumbered: Vec<String> = (0..2).map(|i| format!("COPY{i}")).collect();
            for c in ["record_id", "record_key"] {
                extra
                    .with_column(Column::new(c.into(), renumbered.clone()))
                    .unwrap();
            }
            // The same number entered again with another date.
            let mut again = left.slice(9, 1);
            let day = again
                .column("registration_date")
                .unwrap()
                .cast(&DataType::Int32)
                .unwrap()
                .i32()
                .unwrap()
                .get(0)
                .unwrap();
            again
                .with_column(
                    Column::new("registration_date".into(), [day - 3])
                        .cast(&DataType::Date)
                        .unwrap(),
                )
                .unwrap();
            extra.vstack_mut(&again).unwrap();
        } else {
            let mut claim = left.slice(7, 1);
            let day = claim.column("start_date").unwrap().clone();
            claim
                .with_column(day.with_name("maternity_claim_date".into()))
                .unwrap();
            extra.vstack_mut(&claim).unwrap();
        }
        g.tables
            .get_mut(source)
            .unwrap()
            .vstack_mut(&extra)
            .unwrap();
    }
    let mut narrowed = g.tables.clone();
    narrowed.insert("household", held_h.clone());
    let mut held = Vec::new();
    for source in NARROWED_SOURCES {
        let whole = &g.tables[source];
        let (rows, rest) = narrow_source(source, whole, &others_of(&g, source), Some(&rest_h))
            .unwrap()
            .expect("a narrowed source");
        assert_eq!(rest.held, rows.height());
        assert_eq!(rest.held + rest.left, whole.height());
        assert!(
            rest.left > whole.height() / 2,
            "most of `{source}` is read only as counts: {} of {} held",
            rest.held,
            whole.height()
        );
        // Read in pieces of 100 rows, the source narrows to the same rows.
        // A school's pieces are scanned before the registry is read.
        let household = (source != "school").then_some(&rest_h);
        let mut scan = SourceScan::new(source, &others_of(&g, source), household)
            .unwrap()
            .unwrap();
        let mut offset = 0;
        while offset < whole.height() {
            scan.add(&whole.slice(offset as i64, 100), household)
                .unwrap();
            offset += 100;
        }
        let in_pieces = scan.finish(Some(&rest_h)).unwrap();
        let mask = BooleanChunked::from_slice("held".into(), &in_pieces.held);
        assert!(
            whole.filter(&mask).unwrap().equals_missing(&rows),
            "`{source}` rows held differ"
        );
        assert_eq!(in_pieces.lines.len(), rows.height());
        assert_eq!(in_pieces.rest.left, rest.left);
        narrowed.insert(source, rows.clone());
        held.push((source, rows, in_pieces.rest));
    }
    let narrowed_g = with_tables(&g, narrowed);
    let (f, nf) = (facts(&g, &g.births), facts(&narrowed_g, &g.births));
    assert!(f.births.equals_missing(&nf.births), "births differ");

    let cfg: ChecksConfig = toml::from_str("[out_of_policy_birth]\nenabled = false\n").unwrap();
    let all = whole_input(&g, &f);
    let mut part = all.clone().with_narrowed_household(&held_h, &rest_h);
    for (s, rows, rest) in &held {
        part = part.with_narrowed_source(s, rows, rest);
    }
    let (a, b) = (
        run_checks(&all, &cfg).expect("checks, whole records"),
        run_checks(&part, &cfg).expect("checks, narrowed records"),
    );
    assert_same_checks(&a, &b);
    // Their own findings are among them: the narrowed records did not lose them.
    for (column, rule) in [
        ("marriage_key", "duplicate_record"),
        ("marriage_key", "invalid_value"),
        ("social_security_key", "duplicate_record"),
        ("social_security_key", "maternity_claim_without_delivery"),
        ("school_key", "duplicate_record"),
        ("school_key", "student_without_household_registration"),
        ("school_key", "id_number_conflict"),
    ] {
        let rules = rules_on(&b, column);
        assert!(rules.contains(rule), "no `{rule}` on {column}: {rules:?}");
    }
}

/// The checks over the whole sources of `g` with the births stage's `f` (the truth has no
/// policy category: that rule is off), as the narrowed runs are compared with.
fn whole_input<'a>(g: &'a Generated, f: &'a poprecon_link::BirthFacts) -> CheckInput<'a> {
    let mut all = CheckInput::new(g.cfg.as_of, g.cfg.period)
        .with_births(&f.births)
        .with_stillbirths(&f.stillbirths)
        .with_villages(g.villages.clone());
    for (s, df) in &g.tables {
        all = all.with_source(s, df);
    }
    all
}

/// `a` and `b` give the same discrepancies and the same units per village.
fn assert_same_checks(a: &Checked, b: &Checked) {
    assert!(
        a.discrepancies.equals_missing(&b.discrepancies),
        "discrepancies differ"
    );
    assert!(
        a.village_discrepancies
            .equals_missing(&b.village_discrepancies),
        "village units differ"
    );
}

/// The rules with a discrepancy on a record of the source whose key column is `column`.
fn rules_on(checked: &Checked, column: &str) -> BTreeSet<String> {
    strs(&checked.discrepancies, "rule_id")
        .into_iter()
        .zip(strs(&checked.discrepancies, column))
        .filter_map(|(r, k)| k.and(r))
        .collect()
}

/// `g` with other source tables.
fn with_tables(g: &Generated, tables: BTreeMap<&'static str, DataFrame>) -> Generated {
    Generated {
        tables,
        births: g.births.clone(),
        villages: g.villages.clone(),
        truth: g.truth.clone(),
        cfg: g.cfg.clone(),
    }
}
