//! Issue #18 end to end: returns against records on a synthetic county with injected
//! under-reporting, and the on-site sample drawn from the run and read back.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use common::*;
use polars::prelude::*;

fn floats(df: &DataFrame, col: &str) -> Vec<Option<f64>> {
    df.column(col)
        .unwrap_or_else(|_| panic!("column `{col}`"))
        .cast(&DataType::Float64)
        .expect("numbers")
        .f64()
        .expect("numbers")
        .iter()
        .collect()
}

fn bools(df: &DataFrame, col: &str) -> Vec<Option<bool>> {
    df.column(col)
        .unwrap_or_else(|_| panic!("column `{col}`"))
        .bool()
        .expect("booleans")
        .iter()
        .collect()
}

/// Six villages of a county (seed 3), two of them under-reporting, run once.
fn under_reported_run(dir: &Path, injected: &[(&str, f64)]) -> (PathBuf, PathBuf) {
    let synth = dir.join("synth");
    let mut args = vec![
        "synth",
        "--scale",
        "county",
        "--sample-villages",
        "6",
        "--seed",
        "3",
        "--out",
    ];
    let synth_s = synth.to_string_lossy().into_owned();
    args.push(&synth_s);
    let flags: Vec<String> = injected.iter().map(|(v, f)| format!("{v}={f}")).collect();
    for f in &flags {
        args.push("--under-report");
        args.push(f);
    }
    ok(&poprecon(&args, dir));
    let out = dir.join("out");
    ok(&poprecon(
        &[
            "-q",
            "run",
            &synth.join("pipeline.toml").to_string_lossy(),
            "--out",
            &out.to_string_lossy(),
        ],
        dir,
    ));
    (synth, out.join("latest"))
}

#[test]
fn the_comparison_flags_exactly_the_under_reporting_villages() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let injected = [("340311001002", 0.8), ("340311001005", 0.5)];
    let (synth, run) = under_reported_run(dir.path(), &injected);
    let cmp = read(&run.join("returns_comparison.parquet"));
    let level = strs(&cmp, "level");
    let area = strs(&cmp, "area_code");
    let id = strs(&cmp, "indicator_id");
    let status = strs(&cmp, "status");
    let flagged = bools(&cmp, "flagged");
    assert!(
        status.iter().all(|s| s.as_deref() == Some("compared")),
        "{status:?}"
    );
    let flagged_villages: BTreeSet<String> = (0..cmp.height())
        .filter(|&i| level[i].as_deref() == Some("village") && flagged[i] == Some(true))
        .filter_map(|i| area[i].clone())
        .collect();
    let expected: BTreeSet<String> = injected.iter().map(|(v, _)| (*v).to_owned()).collect();
    assert_eq!(flagged_villages, expected);

    // Where the records are complete (D equals the truth), R is the truth × f, rounded,
    // and VF = D / R: 1 / f up to that rounding.
    let truth = read(&synth.join("truth/indicators.parquet"));
    let t_area = strs(&truth, "area_code");
    let t_id = strs(&truth, "indicator_id");
    let t_basis = strs(&truth, "basis");
    let t_num = ints(&truth, "numerator");
    let truth_births: BTreeMap<String, i64> = (0..truth.height())
        .filter(|&i| {
            t_id[i].as_deref() == Some("live_births") && t_basis[i].as_deref() == Some("residence")
        })
        .filter_map(|i| Some((t_area[i].clone()?, t_num[i]?)))
        .collect();
    let reported = floats(&cmp, "reported");
    let derived = floats(&cmp, "derived");
    let vf = floats(&cmp, "vf");
    let mut checked = 0;
    for i in 0..cmp.height() {
        if id[i].as_deref() != Some("live_births") || level[i].as_deref() != Some("village") {
            continue;
        }
        let code = area[i].clone().expect("an area");
        let (d, r) = (derived[i].expect("D"), reported[i].expect("R"));
        if truth_births.get(&code).copied() != Some(d as i64) {
            continue;
        }
        let f = injected
            .iter()
            .find(|(v, _)| *v == code)
            .map_or(1.0, |(_, f)| *f);
        assert_eq!(r, (d * f).round(), "village {code}");
        assert!((vf[i].expect("VF") - d / r).abs() < 1e-12);
        assert!(
            (r / d - f).abs() <= 0.5 / d + 1e-12,
            "R/D = {} against f = {f}",
            r / d
        );
        checked += 1;
    }
    assert_eq!(
        checked, 6,
        "every village's records are complete at this seed"
    );

    // The township's return is the sum of its villages' (padded code 340311001000).
    let i = (0..cmp.height())
        .find(|&i| level[i].as_deref() == Some("township"))
        .expect("a township row");
    assert_eq!(area[i].as_deref(), Some("340311001"));

    // Completeness: a row per area and birth-level source, the estimate never below the
    // births the two sources saw.
    let sc = read(&run.join("source_completeness.parquet"));
    let lo = floats(&sc, "dse_low");
    let n1 = ints(&sc, "dse_n1");
    let n2 = ints(&sc, "dse_n2");
    let both = ints(&sc, "dse_both");
    for k in 0..sc.height() {
        let seen = (n1[k].expect("n1") + n2[k].expect("n2") - both[k].expect("both")) as f64;
        assert!(lo[k].expect("low") >= seen - 1e-9);
    }
    // The report's section and the assessors' workbook carry the comparison.
    let html = std::fs::read_to_string(run.join("report.html")).expect("report");
    assert!(html.contains("<section id=\"returns\">") && html.contains("报表核实与来源完整性"));
    assert!(
        injected
            .iter()
            .all(|(v, _)| html.contains(&format!("({v})")))
    );
    let exports = dir.path().join("exports");
    ok(&poprecon(
        &[
            "export",
            &run.to_string_lossy(),
            "--for",
            "assessor",
            "--out",
            &exports.to_string_lossy(),
        ],
        dir.path(),
    ));
    let book = std::fs::read_dir(&exports)
        .expect("exports")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "xlsx"))
        .expect("a workbook");
    use calamine::Reader;
    let mut wb: calamine::Xlsx<_> = calamine::open_workbook(&book).expect("xlsx");
    let names = wb.sheet_names();
    assert!(
        names.iter().any(|n| n == "报表核实") && names.iter().any(|n| n == "来源完整性"),
        "{names:?}"
    );
    let sheet = wb.worksheet_range("报表核实").expect("sheet");
    // Title, note, header; then the flagged rows first: the township (whose sum falls
    // short too) and the two villages' three rows each.
    let cell = |r: u32, c: u32| {
        sheet
            .get_value((r, c))
            .map(|v| v.to_string())
            .unwrap_or_default()
    };
    let flagged_rows: Vec<(String, String)> = (3..10).map(|r| (cell(r, 0), cell(r, 1))).collect();
    assert_eq!(
        flagged_rows[0],
        ("乡镇(街道)".to_owned(), "340311001".to_owned())
    );
    let villages: BTreeSet<String> = flagged_rows[1..].iter().map(|(_, c)| c.clone()).collect();
    assert_eq!(villages, expected);
    assert!((3..10).all(|r| cell(r, 16) == "是") && cell(10, 16) == "否");

    let un = read(&run.join("returns_uncounted.parquet"));
    let un_area = strs(&un, "area_code");
    let uncounted = floats(&un, "uncounted");
    for k in 0..un.height() {
        let injected_here = injected
            .iter()
            .any(|(v, _)| Some(*v) == un_area[k].as_deref());
        assert_eq!(uncounted[k].expect("uncounted") > 0.0, injected_here);
    }
}
