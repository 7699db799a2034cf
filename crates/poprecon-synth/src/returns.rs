//! The villages' statistical returns (统计报表) of a generated city, with under-reporting
//! injected in named villages: `extracts/统计报表.csv` and the pipeline's `[returns]` entry.
//!
//! A return reports the truth (`truth/indicators.parquet`, residence basis, the run's
//! period) for each village with births: 活产数 (live births), 住院分娩率 and
//! 出生医学证明签发率 with their numerator and denominator, and each township's live births
//! (the sum of its villages' returns, under its code padded to 12 digits). In a village of
//! [`ReturnsConfig::under_report`] with factor f, every reported count is the truth × f,
//! rounded: the returns are lower than the truth by that factor, so that VF = D / R is
//! 1 / f where the records are complete.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::{SynthConfig, SynthError};

/// Where the returns go in the generated folder.
pub const RETURNS_FILE: &str = "extracts/统计报表.csv";

/// The indicators a village's return reports, with their Chinese names as headers.
const REPORTED: [(&str, &str); 3] = [
    ("live_births", "活产数"),
    ("hospital_delivery_rate", "住院分娩率"),
    ("birth_certificate_rate", "出生医学证明签发率"),
];

/// Writes `RETURNS_FILE` into the generated folder `out` (which holds `truth/`) and adds
/// `[returns]` to its `pipeline.toml`. `under_report`: village code → factor in (0, 1].
pub fn write_returns(
    cfg: &SynthConfig,
    out: &Path,
    under_report: &BTreeMap<String, f64>,
) -> Result<PathBuf, SynthError> {
    for (village, f) in under_report {
        if !(*f > 0.0 && *f <= 1.0) || village.len() != 12 {
            return Err(SynthError::Config(format!(
                "`--under-report {village}={f}`: give a 12-digit village code and a factor in (0, 1]"
            )));
        }
    }
    let truth = out.join("truth").join("indicators.parquet");
    let df = std::fs::File::open(&truth)
        .map_err(|e| SynthError::io(&truth, e))
        .and_then(|f| {
            ParquetReader::new(f)
                .finish()
                .map_err(|e| SynthError::Parquet {
                    path: truth.clone(),
                    message: e.to_string(),
                })
        })?;
    let pq = |e: PolarsError| SynthError::Parquet {
        path: truth.clone(),
        message: e.to_string(),
    };
    let village = df
        .lazy()
        .filter(
            col("level")
                .eq(lit("village"))
                .and(col("basis").eq(lit("residence"))),
        )
        .select([
            col("area_code"),
            col("indicator_id"),
            col("numerator").cast(DataType::Int64),
            col("denominator").cast(DataType::Int64),
        ])
        .sort(
            ["area_code", "indicator_id"],
            SortMultipleOptions::default(),
        )
        .collect()
        .map_err(pq)?;
    let area = village
        .column("area_code")
        .and_then(|c| c.str().cloned())
        .map_err(pq)?;
    let id = village
        .column("indicator_id")
        .and_then(|c| c.str().cloned())
        .map_err(pq)?;
    let num = village
        .column("numerator")
        .and_then(|c| c.i64().cloned())
        .map_err(pq)?;
    let den = village
        .column("denominator")
        .and_then(|c| c.i64().cloned())
        .map_err(pq)?;
    // (village, indicator) → (numerator, denominator), the truth.
    let mut cells: BTreeMap<(String, String), (i64, Option<i64>)> = BTreeMap::new();
    for i in 0..village.height() {
        if let (Some(a), Some(id), Some(n)) = (area.get(i), id.get(i), num.get(i)) {
            cells.insert((a.to_owned(), id.to_owned()), (n, den.get(i)));
        }
    }
    let scaled = |v: i64, f: f64| (v as f64 * f).round() as i64;
    let period = format!("{}~{}", cfg.period.0, cfg.period.1);
    let mut csv = String::from("统计期,地区代码,指标,上报数,分子,分母\n");
    let mut townships: BTreeMap<String, i64> = BTreeMap::new();
    let villages: Vec<String> = cells
        .keys()
        .filter(|(_, id)| id == "live_births")
        .filter(|k| cells[*k].0 > 0)
        .map(|(v, _)| v.clone())
        .collect();
    for v in &villages {
        let f = under_report.get(v).copied().unwrap_or(1.0);
        for (id, name) in REPORTED {
            let Some(&(n, d)) = cells.get(&(v.clone(), id.to_owned())) else {
                continue;
            };
            let n = scaled(n, f);
            match d {
                None => {
                    let _ = writeln!(csv, "{period},{v},{name},{n},,");
                    *townships.entry(v[..9].to_owned()).or_default() += n;
                }
                Some(d) => {
                    let d = scaled(d, f);
                    let value = if d > 0 {
                        format!("{:.2}%", 100.0 * n as f64 / d as f64)
                    } else {
                        String::new()
                    };
                    if !value.is_empty() {
                        let _ = writeln!(csv, "{period},{v},{name},{value},{n},{d}");
                    }
                }
            }
        }
    }
    for (t, n) in &townships {
        let _ = writeln!(csv, "{period},{t}000,活产数,{n},,");
    }
    let path = out.join(RETURNS_FILE);
    std::fs::write(&path, csv).map_err(|e| SynthError::io(&path, e))?;
    append_entry(&out.join("pipeline.toml"), "")?;
    Ok(path)
}

/// Appends `[returns]` reading [`RETURNS_FILE`] to a pipeline file, its path prefixed by
/// `prefix` (the folder of the generated data seen from the pipeline file).
pub(crate) fn append_entry(pipeline: &Path, prefix: &str) -> Result<(), SynthError> {
    let mut text = std::fs::read_to_string(pipeline).map_err(|e| SynthError::io(pipeline, e))?;
    let _ = write!(
        text,
        "\n# The villages' statistical returns, compared with the records.\n[returns]\npath = \"{prefix}{RETURNS_FILE}\"\nencoding = \"utf-8\"\n"
    );
    std::fs::write(pipeline, text).map_err(|e| SynthError::io(pipeline, e))
}

/// Where the field truth goes in the generated folder.
pub const FIELD_TRUTH_FILE: &str = "truth/field.parquet";

/// Share of households where the field team finds a birth that no record has.
const NEW_BIRTH_SHARE: f64 = 0.02;

/// Writes the field truth, what a team at the door would find for each birth of the truth
/// (`truth/field.parquet`): `birth_id`, `village`, the birth-level sources' record keys,
/// `field_result` (`confirmed`, `wrong`: a recorded fact is false, `not_found`: no such
/// birth), `field_sex` (the sex the team finds: the recorded one flipped where `wrong`),
/// `new_births` (births in the household no record has: 1 in about 2 % of households).
/// In a village of `field_errors` with share e, each birth is wrong or not found (one in
/// two each) with probability e; elsewhere every birth is as recorded. Random per village
/// and seed, whatever order villages are in.
pub fn write_field_truth(
    cfg: &SynthConfig,
    out: &Path,
    field_errors: &BTreeMap<String, f64>,
) -> Result<PathBuf, SynthError> {
    use rand::RngExt;
    for (village, e) in field_errors {
        if !(0.0..=1.0).contains(e) || village.len() != 12 {
            return Err(SynthError::Config(format!(
                "`--field-errors {village}={e}`: give a 12-digit village code and a share in [0, 1]"
            )));
        }
    }
    let path = out.join("truth").join("births.parquet");
    let pq = |e: PolarsError| SynthError::Parquet {
        path: path.clone(),
        message: e.to_string(),
    };
    let births = std::fs::File::open(&path)
        .map_err(|e| SynthError::io(&path, e))
        .and_then(|f| ParquetReader::new(f).finish().map_err(pq))?;
    let births = births
        .sort(["village", "birth_id"], SortMultipleOptions::default())
        .map_err(pq)?;
    let text = |c: &str| -> Result<Vec<Option<String>>, SynthError> {
        Ok(births
            .column(c)
            .and_then(|c| c.str().cloned())
            .map_err(pq)?
            .iter()
            .map(|v| v.map(str::to_owned))
            .collect())
    };
    let village = text("village")?;
    let sex: Vec<Option<i32>> = births
        .column("sex")
        .and_then(|c| c.cast(&DataType::Int32))
        .and_then(|c| c.i32().cloned())
        .map_err(pq)?
        .iter()
        .collect();
    let mut rngs: BTreeMap<String, rand_chacha::ChaCha8Rng> = BTreeMap::new();
    let (mut result, mut field_sex, mut new) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..births.height() {
        let v = village[i].clone().unwrap_or_default();
        let rng = rngs
            .entry(v.clone())
            .or_insert_with(|| crate::world::stream_rng(cfg.seed, &v, 0xF1E1D));
        let e = field_errors.get(&v).copied().unwrap_or(0.0);
        let (bad, kind, extra): (f64, f64, f64) = (rng.random(), rng.random(), rng.random());
        let r = match (bad < e, kind < 0.5) {
            (false, _) => "confirmed",
            (true, true) => "wrong",
            (true, false) => "not_found",
        };
        result.push(r);
        field_sex.push(match (r, sex[i]) {
            ("wrong", Some(1)) => Some(2),
            ("wrong", Some(2)) => Some(1),
            (_, s) => s,
        });
        new.push(i32::from(r != "not_found" && extra < NEW_BIRTH_SHARE));
    }
    let mut columns = vec![
        births.column("birth_id").map_err(pq)?.clone(),
        births.column("village").map_err(pq)?.clone(),
    ];
    for s in [
        "hospital_delivery",
        "birth_certificate",
        "household",
        "vaccination",
    ] {
        columns.push(births.column(&format!("{s}_key")).map_err(pq)?.clone());
    }
    columns.push(Column::new("field_result".into(), result));
    columns.push(Column::new("field_sex".into(), field_sex));
    columns.push(Column::new("new_births".into(), new));
    let mut df = DataFrame::new(births.height(), columns).map_err(pq)?;
    let target = out.join(FIELD_TRUTH_FILE);
    let file = std::fs::File::create(&target).map_err(|e| SynthError::io(&target, e))?;
    ParquetWriter::new(file)
        .finish(&mut df)
        .map_err(|e| SynthError::Parquet {
            path: target.clone(),
            message: e.to_string(),
        })?;
    Ok(target)
}
