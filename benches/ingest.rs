//! Ingest throughput: a 1 M-row GB18030 CSV, a 200 k-row XLSX and a 1 M-row household
//! registry in Parquet through the ingest engine, next to polars' own read of the same rows
//! (the CSV as plain UTF-8, all columns as text; the Parquet file as it is typed).
//!
//! `poprecon_household_in_pieces` reads the registry as the night does since #14 session 9,
//! its pieces handed on as they are made (`ingest_each`), not concatenated.
//!
//! Run: `cargo bench -p poprecon-benches --bench ingest`. Rows/s are printed by criterion
//! as element throughput. `POPRECON_BENCH_ROWS` scales the CSV and the registry (default
//! 1 000 000).

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use polars::prelude::*;
use poprecon_ingest::{Encoding, Format, IngestConfig, InputFile, Source};

// The binary's allocator, so that the figures are the binary's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const DELIVERY_HEADER: &str = "分娩记录编号,产妇身份证号,产妇姓名,分娩时间,助产机构,分娩方式,孕周,妊娠结局,胎数,多胎顺序,新生儿性别,出生体重(克),现居住地村代码";

/// A small deterministic generator (xorshift), so the bench needs no data files.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn resident_id(rng: &mut Rng) -> String {
    let body = format!(
        "340302{:04}{:02}{:02}{:03}",
        1980 + rng.below(20),
        1 + rng.below(12),
        1 + rng.below(28),
        rng.below(499) * 2 + 2
    );
    poprecon_model::ResidentId::from_body(&body)
        .expect("a valid body")
        .as_str()
        .to_owned()
}

const SURNAMES: &[&str] = &["王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴"];
const GIVEN: &[&str] = &[
    "芳", "娜", "敏", "静", "丽", "秀英", "桂英", "婷", "雪", "梅",
];

fn delivery_csv(rows: usize) -> String {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut s = String::with_capacity(rows * 130);
    s.push_str(DELIVERY_HEADER);
    s.push('\n');
    for i in 0..rows {
        let id = resident_id(&mut rng);
        let name = format!(
            "{}{}",
            SURNAMES[rng.below(10) as usize],
            GIVEN[rng.below(10) as usize]
        );
        let date = match i % 3 {
            0 => format!(
                "2025-{:02}-{:02} {:02}:{:02}",
                1 + rng.below(12),
                1 + rng.below(28),
                rng.below(24),
                rng.below(60)
            ),
            1 => format!("2025/{}/{}", 1 + rng.below(12), 1 + rng.below(28)),
            _ => format!("2025年{}月{}日", 1 + rng.below(12), 1 + rng.below(28)),
        };
        let village = format!("340302001{:03}", 1 + rng.below(9));
        s.push_str(&format!(
            "D{i:08},{id},{name},{date},蚌埠市妇幼保健院,顺产,{},活产,1,1,{},{},{village}\n",
            37 + rng.below(4),
            1 + rng.below(2),
            2500 + rng.below(1500),
        ));
    }
    s
}

fn write_certificates_xlsx(path: &Path, rows: usize) {
    use rust_xlsxwriter::{ExcelDateTime, Format as XFormat, Workbook};
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let mut book = Workbook::new();
    let date = XFormat::new().set_num_format("yyyy-mm-dd");
    let sheet = book.add_worksheet();
    let header = [
        "出生医学证明编号",
        "新生儿姓名",
        "性别",
        "出生时间",
        "出生地点分类",
        "母亲有效身份证件号码",
        "签发日期",
    ];
    for (c, h) in header.iter().enumerate() {
        sheet.write_string(0, c as u16, *h).expect("header");
    }
    for i in 0..rows {
        let r = i as u32 + 1;
        sheet
            .write_string(r, 0, format!("Q{:09}", 340_000_000 + i))
            .expect("cell");
        sheet
            .write_string(
                r,
                1,
                format!(
                    "{}{}",
                    SURNAMES[rng.below(10) as usize],
                    GIVEN[rng.below(10) as usize]
                ),
            )
            .expect("cell");
        sheet
            .write_string(r, 2, if rng.below(2) == 0 { "男" } else { "女" })
            .expect("cell");
        let d = ExcelDateTime::from_ymd(2025, 1 + rng.below(12) as u8, 1 + rng.below(28) as u8)
            .expect("date");
        sheet
            .write_datetime_with_format(r, 3, &d, &date)
            .expect("cell");
        sheet.write_string(r, 4, "医院").expect("cell");
        sheet
            .write_string(r, 5, resident_id(&mut rng))
            .expect("cell");
        sheet
            .write_datetime_with_format(r, 6, d, &date)
            .expect("cell");
    }
    book.save(path).expect("saved workbook");
}

/// A household registry as the city's synthetic one is written: text columns, two date
/// columns, row groups of 262 144 rows; one ID in fifty damaged, one in eleven ending in a
/// lower-case `x`.
fn write_household_parquet(path: &Path, rows: usize) {
    const RELATIONS: &[&str] = &["户主", "配偶", "长子", "长女", "母亲"];
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let mut ids = Vec::with_capacity(rows);
    let mut names = Vec::with_capacity(rows);
    let (mut sex, mut born, mut household) = (Vec::new(), Vec::new(), Vec::new());
    let (mut relation, mut village, mut registered) = (Vec::new(), Vec::new(), Vec::new());
    let (mut reason, mut status, mut mother, mut father) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..rows {
        let mut id = resident_id(&mut rng);
        match rng.below(50) {
            0 => id.replace_range(17.., "0"),
            1..=4 if id.ends_with('X') => id.replace_range(17.., "x"),
            _ => {}
        }
        ids.push(id);
        names.push(format!(
            "{}{}",
            SURNAMES[rng.below(10) as usize],
            GIVEN[rng.below(10) as usize]
        ));
        sex.push(if rng.below(2) == 0 { "1" } else { "2" });
        born.push(3650 + rng.below(15_000) as i32);
        household.push(format!("3403020010{:06}", i / 3));
        relation.push(RELATIONS[rng.below(5) as usize]);
        village.push(format!("340302001{:03}", 1 + (i / 5000) % 9));
        registered.push(10_000 + rng.below(9_000) as i32);
        reason.push(if rng.below(3) == 0 {
            "迁入"
        } else {
            "出生"
        });
        status.push("正常");
        mother.push((i % 3 == 2).then(|| resident_id(&mut rng)));
        father.push((i % 3 == 2).then(|| resident_id(&mut rng)));
    }
    let date = |name: &str, days: Vec<i32>| {
        Int32Chunked::new(name.into(), days)
            .into_date()
            .into_series()
            .into_column()
    };
    let mut df = DataFrame::new(
        rows,
        vec![
            Column::new("公民身份号码".into(), ids),
            Column::new("姓名".into(), names),
            Column::new("性别".into(), sex),
            date("出生日期", born),
            Column::new("户号".into(), household),
            Column::new("与户主关系".into(), relation),
            Column::new("户籍地村代码".into(), village),
            date("登记日期", registered),
            Column::new("登记原因".into(), reason),
            Column::new("户口状态".into(), status),
            Column::new("母亲身份证号".into(), mother),
            Column::new("父亲身份证号".into(), father),
        ],
    )
    .expect("household frame");
    ParquetWriter::new(std::fs::File::create(path).expect("parquet file"))
        .with_row_group_size(Some(1 << 18))
        .finish(&mut df)
        .expect("parquet written");
}

/// The engine's settings for one file of `source`, no division table.
fn config<'a>(
    source: &'a dyn Source,
    file: &'a InputFile,
    columns: &'a BTreeMap<String, Vec<String>>,
) -> IngestConfig<'a> {
    IngestConfig {
        source,
        files: std::slice::from_ref(file),
        columns,
        known_villages: None,
        allow_empty: false,
        progress: None,
        keep: None,
    }
}

fn run_ingest(source: &dyn Source, file: &InputFile) -> u64 {
    let columns = BTreeMap::new();
    let out = poprecon_ingest::ingest(&config(source, file, &columns)).expect("ingest");
    out.stats.accepted
}

/// The night's way with the household registry: its pieces handed over as they are made
/// (`ingest_each`) and dropped, never one table.
fn run_ingest_each(source: &dyn Source, file: &InputFile) -> u64 {
    let columns = BTreeMap::new();
    let mut rows = 0;
    poprecon_ingest::ingest_each(&config(source, file, &columns), &mut |piece| {
        rows += piece.height() as u64;
        Ok(())
    })
    .expect("ingest");
    rows
}

fn polars_read_parquet(path: &Path) -> usize {
    ParquetReader::new(std::fs::File::open(path).expect("parquet file"))
        .finish()
        .expect("read")
        .height()
}

fn polars_read_utf8(path: &Path) -> usize {
    CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .try_into_reader_with_file_path(Some(path.to_owned()))
        .expect("reader")
        .finish()
        .expect("read")
        .height()
}

fn ingest_benches(c: &mut Criterion) {
    let rows: usize = std::env::var("POPRECON_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let text = delivery_csv(rows);
    let utf8 = dir.path().join("delivery_utf8.csv");
    std::fs::write(&utf8, &text).expect("write");
    let gb = dir.path().join("delivery_gb18030.csv");
    std::fs::write(&gb, encoding_rs::GB18030.encode(&text).0).expect("write");
    drop(text);
    let xlsx = dir.path().join("certificates.xlsx");
    let xlsx_rows = rows / 5;
    write_certificates_xlsx(&xlsx, xlsx_rows);

    let delivery = poprecon_hospital_delivery::HospitalDelivery;
    let mut gb_file = InputFile::new(&gb, Format::Csv);
    gb_file.encoding = Encoding::Gb18030;
    let utf8_file = InputFile::new(&utf8, Format::Csv);

    let mut g = c.benchmark_group("ingest_csv");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.throughput(Throughput::Elements(rows as u64));
    g.bench_function("poprecon_gb18030", |b| {
        b.iter(|| black_box(run_ingest(&delivery, &gb_file)))
    });
    g.bench_function("poprecon_utf8", |b| {
        b.iter(|| black_box(run_ingest(&delivery, &utf8_file)))
    });
    g.bench_function("polars_read_utf8", |b| {
        b.iter(|| black_box(polars_read_utf8(&utf8)))
    });
    g.finish();

    let certificate = poprecon_birth_certificate::BirthCertificate;
    let xlsx_file = InputFile::new(&xlsx, Format::Xlsx);
    let mut g = c.benchmark_group("ingest_xlsx");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.throughput(Throughput::Elements(xlsx_rows as u64));
    g.bench_function("poprecon_xlsx", |b| {
        b.iter(|| black_box(run_ingest(&certificate, &xlsx_file)))
    });
    g.finish();

    let parquet = dir.path().join("household.parquet");
    write_household_parquet(&parquet, rows);
    let household = poprecon_registries::Household;
    let parquet_file = InputFile::new(&parquet, Format::Parquet);
    let mut g = c.benchmark_group("ingest_parquet");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.throughput(Throughput::Elements(rows as u64));
    g.bench_function("poprecon_household", |b| {
        b.iter(|| black_box(run_ingest(&household, &parquet_file)))
    });
    g.bench_function("poprecon_household_in_pieces", |b| {
        b.iter(|| black_box(run_ingest_each(&household, &parquet_file)))
    });
    g.bench_function("polars_read_parquet", |b| {
        b.iter(|| black_box(polars_read_parquet(&parquet)))
    });
    g.finish();
}

criterion_group!(benches, ingest_benches);
criterion_main!(benches);
