// The `poprecon` binary runs the generator with mimalloc; the tests use the same allocator
// (as does the `synth_figures` example), so that they exercise the binary's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use polars::prelude::*;
use poprecon_model::{DateError, ResidentId, normalize_id, parse_date};
use rand::SeedableRng;

use crate::divisions::Divisions;
use crate::schema::{self, Src};
use crate::world::{self, Calendar, Window};
use crate::*;

/// Generates `cfg` into a fresh temporary folder.
pub(crate) fn generated(cfg: &SynthConfig) -> (tempfile::TempDir, PathBuf, SynthSummary) {
    let dir = tempfile::tempdir().expect("temporary folder");
    let out = dir.path().join("out");
    let summary = generate(cfg, &out, &|_| {}).expect("generation succeeds");
    (dir, out, summary)
}

/// A village-scale configuration with every mess rate raised, so that each kind occurs.
fn messy(seed: u64) -> SynthConfig {
    let mut cfg = SynthConfig::new(Scale::Village, seed);
    cfg.mess = MessRates::default().scaled(8.0);
    cfg
}

fn files_under(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("readable folder") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(root).expect("under root").to_owned();
                out.insert(rel, std::fs::read(&path).expect("readable file"));
            }
        }
    }
    out
}

/// A file as rows of text cells, header first, the way a person would read the cells.
pub(crate) fn read_table(path: &Path) -> Vec<Vec<String>> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("csv") => {
            let bytes = std::fs::read(path).expect("readable csv");
            let text = if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
                String::from_utf8(rest.to_vec()).expect("utf-8 after the BOM")
            } else if let Ok(s) = String::from_utf8(bytes.clone()) {
                s
            } else {
                encoding_rs::GB18030.decode(&bytes).0.into_owned()
            };
            csv::ReaderBuilder::new()
                .has_headers(false)
                .from_reader(text.as_bytes())
                .records()
                .map(|r| r.expect("csv record").iter().map(str::to_owned).collect())
                .collect()
        }
        Some("xlsx") => {
            use calamine::{Data, Reader};
            let mut book: calamine::Xlsx<_> = calamine::open_workbook(path).expect("xlsx");
            let range = book.worksheet_range("Sheet1").expect("Sheet1");
            assert_eq!(range.start(), Some((0, 0)), "the header starts at A1");
            range
                .rows()
                .map(|row| {
                    row.iter()
                        .map(|c| match c {
                            Data::Empty => String::new(),
                            Data::String(s) => s.clone(),
                            Data::Float(f) => format!("{f}"),
                            Data::Int(i) => i.to_string(),
                            Data::DateTime(d) => format!("serial:{}", d.as_f64()),
                            other => format!("{other:?}"),
                        })
                        .collect()
                })
                .collect()
        }
        _ => {
            let file = std::fs::File::open(path).expect("parquet");
            let df = ParquetReader::new(file).finish().expect("readable parquet");
            let mut rows = vec![
                df.get_column_names()
                    .iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>(),
            ];
            for i in 0..df.height() {
                rows.push(
                    df.columns()
                        .iter()
                        .map(|c| match c.get(i).expect("cell") {
                            AnyValue::Null => String::new(),
                            AnyValue::String(s) => s.to_owned(),
                            other => format!("{other}"),
                        })
                        .collect(),
                );
            }
            rows
        }
    }
}

pub(crate) fn read_parquet(path: &Path) -> DataFrame {
    let file = std::fs::File::open(path).expect("parquet file");
    ParquetReader::new(file).finish().expect("readable parquet")
}

pub(crate) fn strings(df: &DataFrame, col: &str) -> Vec<Option<String>> {
    df.column(col)
        .expect("column")
        .str()
        .expect("string column")
        .iter()
        .map(|v| v.map(str::to_owned))
        .collect()
}

#[test]
fn scales_parse_from_their_names() {
    assert_eq!("village".parse::<Scale>().ok(), Some(Scale::Village));
    assert_eq!("County".parse::<Scale>().ok(), Some(Scale::County));
    assert_eq!("city".parse::<Scale>().ok(), Some(Scale::City));
    assert_eq!("province".parse::<Scale>().ok(), Some(Scale::Province));
    assert!("town".parse::<Scale>().is_err());
}

#[test]
fn scales_choose_their_villages() {
    let village = Divisions::for_scale(Scale::Village, None).expect("table");
    assert_eq!(village.list.len(), 2);
    assert_ne!(village.list[0].code[..9], village.list[1].code[..9]);
    let county = Divisions::for_scale(Scale::County, None).expect("table");
    assert_eq!(county.list.len(), 96);
    assert_eq!(county.units().len(), 1);
    let city = Divisions::for_scale(Scale::City, None).expect("table");
    assert_eq!(city.list.len(), 1157);
    assert_eq!(city.units().len(), 9);
    let province = Divisions::for_scale(Scale::Province, None).expect("table");
    assert_eq!(province.list.len(), 15 * 1157);
    let cities: BTreeSet<&str> = province.list.iter().map(|v| &v.code[..4]).collect();
    assert_eq!(cities.len(), 15);
    assert_eq!(province.counties.len(), 15 * 9);
    let sample = Divisions::for_scale(Scale::County, Some(10)).expect("table");
    assert_eq!(sample.list.len(), 10);
    assert_eq!(sample.villages.len(), 10);
    assert!(
        sample
            .townships
            .keys()
            .all(|t| sample.list.iter().any(|v| v.code.starts_with(t.as_str())))
    );
}

#[test]
fn damage_reasons_agree_with_the_model() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let birth = chrono::NaiveDate::from_ymd_opt(1991, 4, 30).expect("date");
    for seq in (1..400u16).step_by(7) {
        let id = ids::build(340311, birth, seq);
        assert!(ResidentId::parse(&id).is_ok());
        let damaged = [
            Some(ids::substitute(&mut rng, &id)),
            ids::transpose(&mut rng, &id),
            Some(ids::trailing_zeros(&id)),
        ];
        for d in damaged.into_iter().flatten() {
            let expected = ResidentId::parse(&d).err().map(|e| e.code());
            assert_eq!(ids::damage_reason(&d), expected);
        }
        assert!(ResidentId::parse(&ids::fullwidth(&id)).is_ok());
        assert_eq!(
            ResidentId::parse(&ids::scientific(&id))
                .err()
                .map(|e| e.code()),
            Some("excel_scientific")
        );
    }
}

#[test]
fn relative_paths_between_folders() {
    assert_eq!(relative(Path::new("/a/b"), Path::new("/a/b")), "");
    assert_eq!(
        relative(
            Path::new("/a/pipelines"),
            Path::new("/a/sample-data/sample")
        ),
        "../sample-data/sample/"
    );
    assert_eq!(relative(Path::new("/a"), Path::new("/a/out")), "out/");
}

/// The village-level facts of the design: IDs valid and unique, births with their twins,
/// orders, floating mothers and boys in plausible numbers.
#[test]
fn worlds_have_the_designed_structure() {
    let divisions = Divisions::for_scale(Scale::County, Some(20)).expect("table");
    let cfg = SynthConfig::new(Scale::County, 11);
    let cal = Calendar {
        start: cfg.period.0,
        end: cfg.period.1,
        as_of: cfg.as_of,
    };
    let mut worlds: Vec<_> = divisions
        .list
        .iter()
        .map(|v| {
            let size = world::Size {
                rows: 2_500,
                birth_rate: 0.008_75,
                stillbirth_share: world::STILLBIRTH_SHARE,
            };
            world::generate(v, cal, 11, size)
        })
        .collect();
    world::assign_sequences(
        &mut worlds,
        &mut world::KeySet::default(),
        &mut world::KeySet::default(),
    );
    worlds.iter_mut().for_each(world::build_ids);
    let mut ids = HashSet::new();
    let (mut births, mut boys, mut floating, mut twins, mut higher) = (0, 0, 0, 0, 0);
    for w in &worlds {
        for p in &w.persons {
            let id = ResidentId::parse(&p.id).expect("every generated ID is valid");
            assert_eq!(id.birth_date(), p.birth);
            assert_eq!(id.sex() == poprecon_model::Sex::Male, p.male);
            assert!(ids.insert(p.id.clone()), "IDs are unique");
        }
        for r in &w.regs {
            assert!(r.reg_date <= cal.as_of, "nothing is registered after as_of");
        }
        for p in &w.pregnancies {
            if p.window != Window::InPeriod {
                continue;
            }
            let mother = &w.persons[p.mother as usize];
            assert!(!mother.male);
            if p.children.len() == 2 {
                twins += 1;
                assert_eq!(p.children[0].seq, 1);
                assert_eq!(p.children[1].seq, 2);
                assert_eq!(p.children[0].time.date(), p.children[1].time.date());
            }
            if p.order >= 3 {
                higher += 1;
            }
            for c in &p.children {
                births += 1;
                boys += usize::from(c.male);
                floating += usize::from(p.floating);
                assert!(c.time.date() >= cal.start && c.time.date() <= cal.end);
                if p.floating {
                    assert!(
                        c.reg_row.is_none(),
                        "floating births are not registered here"
                    );
                }
                for d in &c.doses {
                    assert!(d.date >= c.time.date() && d.date <= cal.as_of);
                }
                if let Some(cert) = c.certificate {
                    assert!(cert.issue > c.time.date() && cert.issue <= cal.as_of);
                }
            }
        }
    }
    assert!(births > 300, "{births} births");
    let ratio = boys as f64 / (births - boys) as f64 * 100.0;
    assert!((90.0..=135.0).contains(&ratio), "sex ratio {ratio:.0}");
    let share = floating as f64 / births as f64;
    assert!((0.05..=0.20).contains(&share), "floating share {share:.2}");
    assert!(twins >= 1);
    assert!(higher >= 1);
}

#[test]
fn same_seed_gives_byte_identical_files() {
    let cfg = messy(5);
    let (_a, out_a, sum_a) = generated(&cfg);
    // The second run on one thread: the files must not depend on the thread count.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("thread pool");
    let (_b, out_b, sum_b) = pool.install(|| generated(&cfg));
    assert_eq!(sum_a, sum_b);
    let a = files_under(&out_a);
    let b = files_under(&out_b);
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    // Nine extracts, three division tables, six truth tables, the summary, the pipeline.
    assert_eq!(a.len(), 9 + 3 + 6 + 1 + 1);
    for (path, bytes) in &a {
        assert!(bytes == &b[path], "{} differs between runs", path.display());
    }
    let (_c, out_c, _) = generated(&messy(6));
    let c = files_under(&out_c);
    let births = Path::new("truth/births.parquet");
    assert_ne!(a[births], c[births], "another seed gives other births");
}

/// A pipeline written elsewhere reads the same folder through relative paths.
#[test]
fn pipelines_elsewhere_reach_the_data() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let data = dir.path().join("sample-data").join("sample");
    std::fs::create_dir_all(data.parent().expect("parent")).expect("folder");
    let cfg = SynthConfig::new(Scale::Village, 4);
    generate(&cfg, &data, &|_| {}).expect("generation succeeds");
    let pipeline = dir.path().join("pipelines").join("sample.toml");
    write_pipeline(&cfg, &data, &pipeline).expect("pipeline written");
    let text = std::fs::read_to_string(&pipeline).expect("readable");
    assert!(text.contains("\"../sample-data/sample/extracts/household.parquet\""));
    let plan = poprecon_pipeline::Plan::load(&pipeline).expect("pipeline loads");
    assert_eq!(plan.sources.len(), 9);
    // Generating again over the generator's own folder replaces it.
    generate(&cfg, &data, &|_| {}).expect("regeneration succeeds");
    // A folder the generator did not write is never replaced.
    let foreign = dir.path().join("foreign");
    std::fs::create_dir_all(&foreign).expect("folder");
    std::fs::write(foreign.join("notes.txt"), "keep").expect("file");
    assert!(matches!(
        generate(&cfg, &foreign, &|_| {}),
        Err(SynthError::OutputNotEmpty { .. })
    ));
    assert!(foreign.join("notes.txt").is_file());
    assert!(!dir.path().join(".foreign.synth-tmp").exists());
}

/// The province writes one file per city and a pipeline that reads them by glob. (Tiny
/// villages, so that the sample crosses from the first city into the second quickly.)
#[test]
fn province_is_written_in_city_partitions() {
    let mut cfg = SynthConfig::new(Scale::Province, 2);
    cfg.rows_per_village = Some(12);
    cfg.sample_villages = Some(1157 + 3);
    let (_dir, out, summary) = generated(&cfg);
    assert_eq!(summary.jurisdiction, "34");
    let household: Vec<_> = summary
        .files
        .iter()
        .filter(|(p, _)| p.starts_with("extracts/household"))
        .map(|(p, _)| p.to_string_lossy().replace('\\', "/"))
        .collect();
    assert_eq!(
        household,
        [
            "extracts/household/3401.parquet",
            "extracts/household/3402.parquet"
        ]
    );
    let plan = poprecon_pipeline::Plan::load(&out.join("pipeline.toml")).expect("pipeline loads");
    assert_eq!(plan.jurisdiction, "34");
    for sp in &plan.sources {
        assert_eq!(sp.files.len(), 2, "{}: one file per city", sp.source.id());
    }
    assert_eq!(plan.divisions.villages.len(), 1160);
}

/// The truth agrees with the files: rows conserved, quarantine lines point at the damaged
/// cells, every birth is seen through keys that exist.
#[test]
fn truth_is_consistent_with_the_extracts() {
    let (_dir, out, summary) = generated(&messy(3));
    let mut keys: BTreeMap<&str, HashSet<String>> = BTreeMap::new();
    let mut tables: BTreeMap<String, Vec<Vec<String>>> = BTreeMap::new();
    for (rel, rows) in &summary.files {
        let table = read_table(&out.join(rel));
        let rel = rel.to_string_lossy().replace('\\', "/");
        assert_eq!(table.len() as u64, rows + 1, "{rel}: rows written");
        if let Some(src) = schema::ALL
            .iter()
            .find(|s| rel.starts_with(&format!("extracts/{}", s.id())))
        {
            let headers: Vec<&str> = src.columns().iter().map(|c| c.header).collect();
            assert_eq!(table[0], headers, "{rel}: header");
            keys.entry(src.id())
                .or_default()
                .extend(table[1..].iter().map(|r| r[0].trim().to_owned()));
        }
        tables.insert(rel, table);
    }
    for s in &summary.sources {
        assert_eq!(
            s.roles.values().sum::<u64>(),
            s.rows,
            "{}: roles add up",
            s.source
        );
        assert!(s.rows > 0, "{}: rows", s.source);
    }
    assert_eq!(
        summary.quarantined,
        summary.sources.iter().map(|s| s.quarantined).sum::<u64>()
    );

    // Quarantine: each line exists and holds the damage named.
    let q = read_parquet(&out.join("truth/quarantine.parquet"));
    assert_eq!(q.height() as u64, summary.quarantined);
    assert!(q.height() > 0, "the messy sample quarantines rows");
    let lines = q.column("line").expect("line").i64().expect("i64").clone();
    let (sources, files, reasons, fields) = (
        strings(&q, "source"),
        strings(&q, "file"),
        strings(&q, "reason"),
        strings(&q, "field"),
    );
    for i in 0..q.height() {
        let (source, file, reason, field) = (
            sources[i].as_deref().expect("source"),
            files[i].as_deref().expect("file"),
            reasons[i].as_deref().expect("reason"),
            fields[i].as_deref().expect("field"),
        );
        let line = lines.get(i).expect("line") as usize;
        let table = &tables[file];
        assert!(
            line >= 2 && line <= table.len(),
            "{file}: line {line} exists"
        );
        let src = schema::ALL
            .iter()
            .find(|s| s.id() == source)
            .expect("source");
        let col = src
            .columns()
            .iter()
            .position(|c| c.field == field)
            .expect("field");
        let cell = table[line - 1][col].trim();
        match reason {
            "missing_required" => assert!(cell.is_empty(), "{file}:{line} `{field}` is empty"),
            "invalid_required_date" => {
                assert_eq!(
                    parse_date(cell).err(),
                    Some(DateError::Impossible),
                    "{file}:{line}"
                )
            }
            other => panic!("unexpected reason {other}"),
        }
    }

    // Births: each has a birth-level key, and every key exists in its extract.
    let births = read_parquet(&out.join("truth/births.parquet"));
    assert_eq!(births.height() as u64, summary.births);
    let columns: Vec<Vec<Option<String>>> =
        KEY_COLUMNS.iter().map(|k| strings(&births, k)).collect();
    let birth_level = [
        Src::HospitalDelivery,
        Src::BirthCertificate,
        Src::Household,
        Src::Vaccination,
    ];
    let rows: Vec<Vec<Option<String>>> = (0..births.height())
        .map(|i| columns.iter().map(|c| c[i].clone()).collect())
        .collect();
    for row in &rows {
        let key = |src: Src| row[src.index()].as_ref();
        assert!(birth_level.iter().any(|s| key(*s).is_some()));
        for src in schema::ALL {
            if let Some(k) = key(src) {
                assert!(keys[src.id()].contains(k), "{} key exists", src.id());
            }
        }
    }
    let ids = strings(&births, "birth_id");
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        ids.len(),
        "birth ids are unique"
    );
    // Invalid values point at kept records.
    let inv = read_parquet(&out.join("truth/invalid_values.parquet"));
    assert_eq!(inv.height() as u64, summary.invalid_values);
    for (s, k) in strings(&inv, "source")
        .iter()
        .zip(strings(&inv, "record_key"))
    {
        let s = s.as_deref().expect("source");
        assert!(
            keys[s].contains(k.as_deref().expect("key")),
            "{s}: invalid value of an existing record"
        );
    }
    let kinds: BTreeSet<String> =
        strings(&read_parquet(&out.join("truth/injections.parquet")), "kind")
            .into_iter()
            .flatten()
            .collect();
    for kind in [
        "id_substitution",
        "name_typo",
        "duplicate_delivery",
        "wrong_child_order",
        "excel_numeric",
        "leading_apostrophe",
        "missing_required",
    ] {
        assert!(kinds.contains(kind), "{kind} injected");
    }
}

/// The pipeline file loads, and the ingest engine reads the extracts as the truth says: the
/// same rows quarantined for the same reasons, the same invalid values flagged, nothing
/// else flagged. (A cross-check of generator and engine; the truth is not made from it.)
#[test]
fn ingest_agrees_with_the_truth() {
    let (_dir, out, summary) = generated(&messy(9));
    let plan = poprecon_pipeline::Plan::load(&out.join("pipeline.toml")).expect("pipeline loads");
    assert_eq!(plan.sources.len(), 9);
    let q = read_parquet(&out.join("truth/quarantine.parquet"));
    let mut truth_q: BTreeSet<(String, i64, String, String)> = BTreeSet::new();
    let lines = q.column("line").expect("line").i64().expect("i64").clone();
    for (i, ((s, r), f)) in strings(&q, "source")
        .into_iter()
        .zip(strings(&q, "reason"))
        .zip(strings(&q, "field"))
        .enumerate()
    {
        truth_q.insert((
            s.expect("s"),
            lines.get(i).expect("line"),
            r.expect("r"),
            f.expect("f"),
        ));
    }
    let inv = read_parquet(&out.join("truth/invalid_values.parquet"));
    let mut truth_inv: BTreeSet<(String, String, String, String)> = BTreeSet::new();
    for (((s, k), f), r) in strings(&inv, "source")
        .into_iter()
        .zip(strings(&inv, "record_key"))
        .zip(strings(&inv, "field"))
        .zip(strings(&inv, "reason"))
    {
        let s = s.expect("s");
        let k = k.expect("k");
        truth_inv.insert((
            s,
            normalize_id(&k).into_owned(),
            f.expect("f"),
            r.expect("r"),
        ));
    }
    let mut seen_q = BTreeSet::new();
    let mut seen_inv = BTreeSet::new();
    for sp in &plan.sources {
        let cfg = plan.ingest_config(sp);
        let result = poprecon_ingest::ingest(&cfg).expect("ingest succeeds");
        let id = sp.source.id();
        let expected = &summary
            .sources
            .iter()
            .find(|s| s.source == id)
            .expect("summary");
        assert_eq!(result.stats.read, expected.rows, "{id}: rows read");
        assert_eq!(
            result.stats.quarantined, expected.quarantined,
            "{id}: quarantined"
        );
        let ql = result
            .quarantine
            .column("line")
            .expect("line")
            .i64()
            .expect("i64")
            .clone();
        for (i, (r, f)) in strings(&result.quarantine, "reason")
            .into_iter()
            .zip(strings(&result.quarantine, "field"))
            .enumerate()
        {
            seen_q.insert((
                id.to_owned(),
                ql.get(i).expect("line"),
                r.expect("reason"),
                f.unwrap_or_default(),
            ));
        }
        let key_field = sp.source.key_field();
        let key_col = if result.records.column(&format!("{key_field}_input")).is_ok() {
            format!("{key_field}_input")
        } else {
            key_field.to_owned()
        };
        let keys = strings(&result.records, &key_col);
        let flags = strings(&result.records, poprecon_ingest::INVALID_FIELDS);
        for (k, f) in keys.into_iter().zip(flags) {
            let Some(f) = f else { continue };
            for flag in f.split(';') {
                let (field, reason) = flag.split_once(':').expect("field:reason");
                seen_inv.insert((
                    id.to_owned(),
                    normalize_id(k.as_deref().unwrap_or_default()).into_owned(),
                    field.to_owned(),
                    reason.to_owned(),
                ));
            }
        }
    }
    assert_eq!(seen_q, truth_q, "quarantine");
    let missing: Vec<_> = truth_inv.difference(&seen_inv).collect();
    let extra: Vec<_> = seen_inv
        .difference(&truth_inv)
        .map(|(s, _, f, r)| (s, f, r))
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "invalid values: missing {} {:?}, unexpected {extra:?}",
        missing.len(),
        missing
            .iter()
            .map(|(s, _, f, r)| (s, f, r))
            .collect::<Vec<_>>()
    );
}
