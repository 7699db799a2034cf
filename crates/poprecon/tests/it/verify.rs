//! Issue #18 end to end: returns against records on a synthetic county with injected
//! under-reporting, and the on-site sample drawn from the run and read back.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::support::*;
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

fn checklist_cells(path: &Path) -> Vec<Vec<String>> {
    use calamine::Reader;
    let mut wb: calamine::Xlsx<_> = calamine::open_workbook(path).expect("xlsx");
    let name = wb.sheet_names()[0].clone();
    let range = wb.worksheet_range(&name).expect("sheet");
    range
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect()
}

#[test]
fn the_sample_is_drawn_checked_and_read_back_into_figures_and_decisions() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let (synth, run) = under_reported_run(dir.path(), &[("340311001002", 0.8)]);
    let fw = dir.path().join("fieldwork");
    let fw_s = fw.to_string_lossy().into_owned();
    let run_s = run.to_string_lossy().into_owned();
    let out = poprecon(
        &["sample", &run_s, "--seed", "7", "--out", &fw_s],
        dir.path(),
    );
    ok(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("α = 0.068, β = 0.084"), "{stderr}");
    let frame = read(&fw.join("sample_frame.parquet"));
    // The same seed draws the same sample again.
    let again = dir.path().join("again");
    ok(&poprecon(
        &[
            "sample",
            &run_s,
            "--seed",
            "7",
            "--out",
            &again.to_string_lossy(),
        ],
        dir.path(),
    ));
    assert!(frame.equals_missing(&read(&again.join("sample_frame.parquet"))));
    let book = fw.join("核查清单_340311001.xlsx");
    let cells = checklist_cells(&book);
    assert!(cells[0][0].contains("现场核查清单"));
    let header = &cells[2];
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("{name}"))
    };
    // No resident ID in clear on a checklist: mother IDs are masked.
    let id_col = col("母亲身份证号(脱敏)");
    assert!(
        cells[3..]
            .iter()
            .all(|r| r[id_col].is_empty() || r[id_col].contains("********"))
    );

    // The field team: in the first village every sampled record of its first stratum is
    // not found; elsewhere all as recorded, one new birth in the first row of each other
    // village; the listed facts of every visited record confirmed.
    let (c_village, c_role, c_stratum, c_ids) = (
        col("村(居)代码"),
        col("类别"),
        col("抽样层"),
        col("问题编号"),
    );
    let first_stratum = cells[3][c_stratum].clone();
    let mut filled = cells.clone();
    let mut expected_new: BTreeMap<String, f64> = BTreeMap::new();
    let mut expected_errors: BTreeMap<String, u64> = BTreeMap::new();
    let mut expected_ids: BTreeSet<String> = BTreeSet::new();
    for r in filled.iter_mut().skip(3) {
        if !r[c_role].starts_with("样本") {
            continue;
        }
        let v = r[c_village].clone();
        let not_found = r[c_stratum] == first_stratum;
        r[col("核查结果")] = if not_found { "查无此人" } else { "属实" }.to_owned();
        *expected_errors.entry(v.clone()).or_default() += u64::from(not_found);
        if !v.ends_with("001") && !expected_new.contains_key(&v) {
            r[col("新发现出生数")] = "1".to_owned();
            expected_new.insert(v.clone(), 1.0);
        }
        if !r[c_ids].is_empty() {
            r[col("问题是否属实")] = "属实".to_owned();
            expected_ids.extend(r[c_ids].split_whitespace().map(str::to_owned));
        }
        r[col("核查日期")] = "2026-02-10".to_owned();
    }
    let filled_path = dir.path().join("filled.xlsx");
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for (i, row) in filled.iter().enumerate() {
        for (j, v) in row.iter().enumerate() {
            ws.write_string(i as u32, j as u16, v).expect("cell");
        }
    }
    wb.save(&filled_path).expect("save");

    let decisions = synth.join("decisions.csv");
    ok(&poprecon(
        &[
            "sample",
            &run_s,
            "--out",
            &fw_s,
            "--read",
            &filled_path.to_string_lossy(),
            "--decisions",
            &decisions.to_string_lossy(),
        ],
        dir.path(),
    ));
    let villages = read(&fw.join("field_villages.parquet"));
    let code = strs(&villages, "village");
    let errors = ints(&villages, "errors");
    let checked = ints(&villages, "checked");
    let pass = bools(&villages, "lqas_pass");
    let vf = floats(&villages, "field_vf");
    let ht = floats(&villages, "ht_true_births");
    let records = floats(&villages, "records");
    let new = floats(&villages, "new_births_found");
    assert_eq!(villages.height(), 6);
    for i in 0..villages.height() {
        let v = code[i].clone().expect("village");
        let e = expected_errors.get(&v).copied().unwrap_or(0);
        assert_eq!(errors[i], Some(e as i64), "{v}");
        // The first stratum's records all fail (more than 6 of 19, or all of a short one).
        assert_eq!(pass[i], Some(e == 0), "{v}");
        let n_new = expected_new.get(&v).copied().unwrap_or(0.0);
        assert_eq!(new[i], Some(n_new), "{v}");
        if e == 0 {
            // Every record found: HT true births = records + the new births weighted N/m.
            let h = ht[i].expect("HT");
            assert!(h >= records[i].expect("records") + n_new - 1e-9, "{v}: {h}");
            assert!((vf[i].expect("VF") - h / records[i].expect("records")).abs() < 1e-12);
        }
        assert!(checked[i].expect("checked") > 0);
    }
    // The decisions file parses and names exactly the confirmed discrepancies.
    let text = std::fs::read_to_string(&decisions).expect("decisions");
    assert!(text.starts_with("discrepancy_id,decision,reviewer,date,reason\n"));
    let named: BTreeSet<String> = text
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').next().map(str::to_owned))
        .collect();
    assert_eq!(named, expected_ids);
    assert!(!expected_ids.is_empty());

    // The next night honours them: the pipeline names the decisions file.
    let pipeline = synth.join("pipeline.toml");
    let p = std::fs::read_to_string(&pipeline).expect("pipeline");
    let p = p.replacen(
        "[pipeline]\n",
        "[pipeline]\ndecisions = \"decisions.csv\"\n",
        1,
    );
    std::fs::write(&pipeline, p).expect("pipeline");
    let out2 = dir.path().join("out2");
    ok(&poprecon(
        &[
            "-q",
            "run",
            &pipeline.to_string_lossy(),
            "--out",
            &out2.to_string_lossy(),
        ],
        dir.path(),
    ));
    let disc = read(&out2.join("latest/discrepancies.parquet"));
    let id = strs(&disc, "discrepancy_id");
    let decision = strs(&disc, "decision");
    let reason = strs(&disc, "decision_reason");
    let decided: BTreeSet<String> = (0..disc.height())
        .filter(|&i| decision[i].as_deref() == Some("accepted"))
        .filter_map(|i| id[i].clone())
        .collect();
    assert_eq!(decided, expected_ids);
    assert!(reason.iter().flatten().all(|r| r.contains("现场核查")));
}

#[test]
fn checklists_filled_from_the_field_truth_read_back_to_its_figures() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let synth = dir.path().join("synth");
    let synth_s = synth.to_string_lossy().into_owned();
    ok(&poprecon(
        &[
            "synth",
            "--scale",
            "county",
            "--sample-villages",
            "6",
            "--seed",
            "5",
            "--out",
            &synth_s,
            "--returns",
            "--field-errors",
            "340311001003=0.7",
        ],
        dir.path(),
    ));
    let out = dir.path().join("out");
    ok(&poprecon(
        &[
            "-q",
            "run",
            &synth.join("pipeline.toml").to_string_lossy(),
            "--out",
            &out.to_string_lossy(),
        ],
        dir.path(),
    ));
    let run = out.join("latest");
    let fw = dir.path().join("fieldwork");
    ok(&poprecon(
        &[
            "sample",
            &run.to_string_lossy(),
            "--seed",
            "11",
            "--out",
            &fw.to_string_lossy(),
        ],
        dir.path(),
    ));
    // Birth id → the field truth's row, through any record key the two share.
    let births = read(&run.join("births.parquet"));
    let field = read(&synth.join("truth/field.parquet"));
    let sources = [
        "hospital_delivery",
        "birth_certificate",
        "household",
        "vaccination",
    ];
    let mut by_key: BTreeMap<(usize, String), usize> = BTreeMap::new();
    for (s, src) in sources.iter().enumerate() {
        for (i, k) in strs(&field, &format!("{src}_key")).into_iter().enumerate() {
            if let Some(k) = k {
                by_key.insert((s, k), i);
            }
        }
    }
    let b_id = strs(&births, "birth_id");
    let b_keys: Vec<Vec<Option<String>>> = sources
        .iter()
        .map(|s| strs(&births, &format!("{s}_key")))
        .collect();
    let truth_row: BTreeMap<String, usize> = (0..births.height())
        .filter_map(|i| {
            let t = (0..4).find_map(|s| {
                b_keys[s][i]
                    .clone()
                    .and_then(|k| by_key.get(&(s, k)).copied())
            })?;
            Some((b_id[i].clone()?, t))
        })
        .collect();
    let f_result = strs(&field, "field_result");
    let f_sex = ints(&field, "field_sex");
    let f_new = ints(&field, "new_births");

    let mut filled_files = Vec::new();
    // Per stratum: (village, N, visited, failures, found, new).
    let mut strata: BTreeMap<String, (String, f64, f64, u64, f64, f64)> = BTreeMap::new();
    for entry in std::fs::read_dir(&fw).expect("fieldwork") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "xlsx") {
            continue;
        }
        let mut cells = checklist_cells(&path);
        let header = cells[2].clone();
        let col = |name: &str| {
            header
                .iter()
                .position(|h| h == name)
                .unwrap_or_else(|| panic!("{name}"))
        };
        for r in cells.iter_mut().skip(3) {
            if !r[col("类别")].starts_with("样本") {
                continue;
            }
            let t = truth_row[&r[col("出生编号")]];
            let result = f_result[t].as_deref().expect("result");
            r[col("核查结果")] = match result {
                "confirmed" => "属实",
                "wrong" => "信息有误",
                _ => "查无此人",
            }
            .to_owned();
            if result == "wrong" {
                r[col("实际性别")] = if f_sex[t] == Some(1) { "男" } else { "女" }.to_owned();
            }
            let new = f_new[t].unwrap_or(0);
            if new > 0 {
                r[col("新发现出生数")] = new.to_string();
            }
            let e = strata.entry(r[col("抽样层")].clone()).or_insert((
                r[col("村(居)代码")].clone(),
                r[col("层内记录数")].parse().expect("N"),
                0.0,
                0,
                0.0,
                0.0,
            ));
            e.2 += 1.0;
            e.3 += u64::from(result != "confirmed");
            e.4 += f64::from(u8::from(result != "not_found"));
            e.5 += new as f64;
        }
        let filled = dir.path().join(format!(
            "filled_{}",
            path.file_name().expect("name").to_string_lossy()
        ));
        let mut wb = rust_xlsxwriter::Workbook::new();
        let ws = wb.add_worksheet();
        for (i, row) in cells.iter().enumerate() {
            for (j, v) in row.iter().enumerate() {
                ws.write_string(i as u32, j as u16, v).expect("cell");
            }
        }
        wb.save(&filled).expect("save");
        filled_files.push(filled.to_string_lossy().into_owned());
    }
    let mut args = vec![
        "sample".to_owned(),
        run.to_string_lossy().into_owned(),
        "--out".into(),
        fw.to_string_lossy().into_owned(),
        "--read".into(),
    ];
    args.extend(filled_files);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ok(&poprecon(&args, dir.path()));

    let villages = read(&fw.join("field_villages.parquet"));
    let code = strs(&villages, "village");
    let errors = ints(&villages, "errors");
    let pass = bools(&villages, "lqas_pass");
    let ht = floats(&villages, "ht_true_births");
    for i in 0..villages.height() {
        let v = code[i].clone().expect("village");
        let parts: Vec<_> = strata.values().filter(|s| s.0 == v).collect();
        let e: u64 = parts.iter().map(|s| s.3).sum();
        assert_eq!(errors[i], Some(e as i64), "{v}");
        let passes = parts.iter().all(|s| {
            let d = if s.2 >= 19.0 {
                6
            } else {
                (6.0 * s.2 / 19.0).floor() as u64
            };
            s.3 <= d
        });
        assert_eq!(pass[i], Some(passes), "{v}");
        let expected: f64 = parts.iter().map(|s| s.1 / s.2 * (s.4 + s.5)).sum();
        assert!((ht[i].expect("HT") - expected).abs() < 1e-9, "{v}");
        // The village with 70 % of its births wrong or not found fails; the others have
        // no error at all.
        assert_eq!(v == "340311001003", e > 0, "{v}: {e} errors");
        assert_eq!(pass[i], Some(v != "340311001003"), "{v}");
    }
}
