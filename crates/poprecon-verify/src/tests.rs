use chrono::NaiveDate;
use polars::prelude::*;

use crate::stats::*;
use crate::*;

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("a date")
}

#[test]
fn the_lqas_plan_of_19_has_the_binomial_risks() {
    let plan = LqasPlan::default();
    assert_eq!((plan.n, plan.d), (19, 6));
    // α = P(more than 6 failures | 20 % fail), β = P(at most 6 failures | 50 % fail).
    assert!(
        (plan.alpha() - 0.0676).abs() < 0.0005,
        "α = {}",
        plan.alpha()
    );
    assert!(
        (plan.beta() - 43796.0 / 524288.0).abs() < 1e-9,
        "β = {}",
        plan.beta()
    );
    assert!(plan.passes(6) && !plan.passes(7));
}

#[test]
fn binomial_tails_and_tests_have_their_known_values() {
    assert!((binomial_pmf(3, 10, 0.5) - 120.0 / 1024.0).abs() < 1e-12);
    assert!((binomial_cdf(10, 10, 0.3) - 1.0).abs() < 1e-12);
    // The two-sided rule of R's binom.test, summed exactly with Python's math.comb:
    // 7 of 20 at ½ → 0.26317596435546875; 2 of 30 at ¼ (asymmetric) → 0.0187750627148012.
    assert!((binomial_test(7, 20, 0.5) - 0.263_175_964_355_468_75).abs() < 1e-10);
    assert!((binomial_test(2, 30, 0.25) - 0.018_775_062_714_801_2).abs() < 1e-10);
    assert!((poisson_test(10, 10) - 1.0).abs() < 1e-9);
    assert!(ln_gamma(5.0).exp().round() == 24.0);
}

#[test]
fn chapman_has_its_formula_and_covers_a_complete_pair() {
    let c = Chapman::new(80, 70, 60);
    assert!((c.estimate - (81.0 * 71.0 / 61.0 - 1.0)).abs() < 1e-9);
    assert!(c.low <= c.estimate && c.estimate <= c.high);
    assert!(c.low >= 90.0, "never below the births seen: {}", c.low);
    let all = Chapman::new(50, 50, 50);
    assert_eq!((all.estimate, all.low, all.high), (50.0, 50.0, 50.0));
}

#[test]
fn sample_sizes_shrink_with_the_finite_population_correction() {
    // n0 = 1.96² · 0.25 / 0.1² = 96.04; N = 100 → 96.04 / (1 + 95.04 / 100) = 49.2 → 50.
    assert_eq!(precision_sample_size(100, 0.5, 0.1), 50);
    assert_eq!(precision_sample_size(10, 0.5, 0.1), 10);
    assert_eq!(precision_sample_size(0, 0.5, 0.1), 0);
}

#[test]
fn periods_areas_values_and_indicators_read_as_returns_write_them() {
    use crate::returns::*;
    let year = Some((ymd(2025, 1, 1), ymd(2025, 12, 31)));
    assert_eq!(parse_period("2025", false), year);
    assert_eq!(parse_period("2025年度", false), year);
    assert_eq!(parse_period("2025-01-01~2025-12-31", false), year);
    assert_eq!(parse_period("20250101-20251231", false), year);
    assert_eq!(
        parse_period("2025", true),
        Some((ymd(2024, 10, 1), ymd(2025, 9, 30)))
    );
    assert_eq!(parse_period("上半年", false), None);
    assert_eq!(normalize_area("340302001000"), "340302001");
    assert_eq!(normalize_area("340302000000"), "340302");
    assert_eq!(normalize_area("340300000000"), "3403");
    assert_eq!(normalize_area("340302001002"), "340302001002");
    use poprecon_indicators::Unit;
    assert_eq!(parse_value("98.5%", Some(Unit::Share)), Some(0.985));
    assert_eq!(parse_value("98.5", Some(Unit::Share)), Some(0.985));
    assert_eq!(parse_value("0.985", Some(Unit::Share)), Some(0.985));
    assert_eq!(parse_value("1,234", Some(Unit::Count)), Some(1234.0));
    assert_eq!(parse_value("无", Some(Unit::Count)), None);
    assert_eq!(
        resolve_indicator("住院分娩率"),
        Some("hospital_delivery_rate")
    );
    assert_eq!(resolve_indicator("出生人数"), Some("live_births"));
    assert_eq!(resolve_indicator("live_births"), Some("live_births"));
    assert_eq!(resolve_indicator("计生率"), None);
}

/// A run's indicators for two villages of one township.
fn indicators() -> DataFrame {
    df! {
        "level" => ["jurisdiction", "township", "village", "village", "village", "village"],
        "area_code" => ["3403", "340302001", "340302001001", "340302001002", "340302001001", "340302001002"],
        "area_name" => [Some("蚌埠市"), Some("甲镇"), Some("一村"), Some("二村"), Some("一村"), Some("二村")],
        "indicator_id" => ["live_births", "live_births", "live_births", "live_births", "hospital_delivery_rate", "hospital_delivery_rate"],
        "basis" => ["residence"; 6],
        "numerator" => [Some(130i64), Some(130), Some(100), Some(30), Some(95), Some(30)],
        "denominator" => [None, None, None, None, Some(100i64), Some(30)],
        "value" => [None, None, None, None, Some(0.95f64), Some(1.0)],
    }
    .expect("indicators")
}

#[test]
fn returns_are_compared_with_the_records_area_by_area() {
    let returns = df! {
        "period" => ["2025", "2025年", "2025", "2024", "2025", "2025"],
        "area_code" => ["340302001001", "340302001002", "340302001001", "340302001001", "340302001000", "340302009001"],
        "indicator" => ["活产数", "活产数", "住院分娩率", "活产数", "出生人数", "活产数"],
        "value" => ["80", "30", "99%", "70", "110", "5"],
        "numerator" => [None, None, Some(99.0f64), None, None, None],
        "denominator" => [None, None, Some(100.0f64), None, None, None],
        "source_line" => [2i64, 3, 4, 5, 6, 7],
    }
    .expect("returns");
    let period = (ymd(2025, 1, 1), ymd(2025, 12, 31));
    let out = compare(&returns, &indicators(), period, &Settings::default()).expect("compare");
    let get_s = |c: &str| -> Vec<Option<String>> { frame::texts(&out, c).expect(c) };
    let get_f = |c: &str| -> Vec<Option<f64>> { frame::floats(&out, c).expect(c) };
    let status = get_s("status");
    assert_eq!(
        status
            .iter()
            .map(|s| s.as_deref().unwrap_or(""))
            .collect::<Vec<_>>(),
        [
            "compared",
            "compared",
            "compared",
            "other_period",
            "compared",
            "unknown_area"
        ]
    );
    let vf = get_f("vf");
    assert_eq!(vf[0], Some(100.0 / 80.0));
    assert_eq!(vf[1], Some(1.0));
    assert!((vf[2].unwrap_or(0.0) - 0.95 / 0.99).abs() < 1e-12);
    assert_eq!(get_f("vf_numerator")[2], Some(95.0 / 99.0));
    assert_eq!(get_f("vf_denominator")[2], Some(1.0));
    assert_eq!(get_f("difference")[0], Some(20.0));
    assert_eq!(get_s("level")[4].as_deref(), Some("township"));
    let flagged = frame::bools(&out, "flagged").expect("flagged");
    assert_eq!(
        flagged,
        [
            Some(true),
            Some(false),
            Some(false),
            Some(false),
            Some(true),
            Some(false)
        ]
    );
    // 100 against 80 as two Poisson counts: binom.test(100, 180, 0.5) = 0.1596.
    let p = get_f("p_value");
    assert!((p[0].unwrap_or(0.0) - binomial_test(100, 180, 0.5)).abs() < 1e-12);
    // 95 of 100 against a reported 99 %: binom.test(95, 100, 0.99) is small.
    assert!(p[2].unwrap_or(1.0) < 0.01);
    assert_eq!(frame::bools(&out, "significant").expect("s")[2], Some(true));
}

#[test]
fn small_counts_suppress_the_test_but_not_the_comparison() {
    let returns = df! {
        "period" => ["2025"],
        "area_code" => ["340302001002"],
        "indicator" => ["live_births"],
        "value" => ["3"],
    }
    .expect("returns");
    let mut ind = indicators();
    ind = ind
        .lazy()
        .with_column(
            when(
                col("area_code")
                    .eq(lit("340302001002"))
                    .and(col("indicator_id").eq(lit("live_births"))),
            )
            .then(lit(4i64))
            .otherwise(col("numerator"))
            .alias("numerator"),
        )
        .collect()
        .expect("edit");
    let period = (ymd(2025, 1, 1), ymd(2025, 12, 31));
    let out = compare(&returns, &ind, period, &Settings::default()).expect("compare");
    assert_eq!(frame::floats(&out, "p_value").expect("p")[0], None);
    assert_eq!(frame::bools(&out, "suppressed").expect("s")[0], Some(true));
    assert_eq!(frame::bools(&out, "flagged").expect("f")[0], Some(true));
}

#[test]
fn completeness_divides_each_source_by_chapman() {
    let births = df! {
        "birth_id" => ["a", "b", "c", "d", "e"],
        "village" => [Some("340302001001"), Some("340302001001"), Some("340302001002"), Some("340302001002"), None],
        "in_jurisdiction" => [true; 5],
        "hospital_delivery_key" => [Some("1"), Some("2"), Some("3"), Some("4"), Some("5")],
        "birth_certificate_key" => [Some("c1"), Some("c2"), None, Some("c4"), Some("c5")],
        "household_key" => [None::<&str>, None, None, None, None],
        "vaccination_key" => [Some("v1"), None, Some("v3"), Some("v4"), Some("v5")],
    }
    .expect("births");
    let read = ["hospital_delivery", "birth_certificate", "vaccination"];
    let settings = Settings {
        dual_system: ("birth_certificate".into(), "vaccination".into()),
        ..Settings::default()
    };
    let out = source_completeness(&births, &indicators(), &read, &settings).expect("completeness");
    // The default pair needs the household registry, which this run did not read.
    let none = source_completeness(&births, &indicators(), &read, &Settings::default())
        .expect("completeness");
    assert_eq!(none.height(), 0);
    // Jurisdiction: n1 = 4 certificates, n2 = 4 vaccinations, both = 3.
    let dse = Chapman::new(4, 4, 3);
    let level = frame::texts(&out, "level").expect("level");
    let source = frame::texts(&out, "source").expect("source");
    let comp = frame::floats(&out, "completeness").expect("c");
    let i = (0..out.height())
        .find(|&i| {
            level[i].as_deref() == Some("jurisdiction")
                && source[i].as_deref() == Some("hospital_delivery")
        })
        .expect("a jurisdiction row");
    assert!((comp[i].unwrap_or(0.0) - 5.0 / dse.estimate).abs() < 1e-12);
    // Three sources read, four areas (jurisdiction, township, two villages).
    assert_eq!(out.height(), 12);
    assert_eq!(
        chapman_of(&births, "birth_certificate", "vaccination").expect("c"),
        dse
    );
}

#[test]
fn births_of_villages_without_a_return_are_listed() {
    let returns = df! {
        "period" => ["2025"],
        "area_code" => ["340302001001"],
        "indicator" => ["活产数"],
        "value" => ["90"],
    }
    .expect("returns");
    let period = (ymd(2025, 1, 1), ymd(2025, 12, 31));
    let s = Settings::default();
    let cmp = compare(&returns, &indicators(), period, &s).expect("compare");
    let births = df! {
        "birth_id" => ["a", "b", "c"],
        "village" => ["340302001001", "340302001002", "340302001002"],
        "hospital_delivery_key" => [Some("1"), None, Some("3")],
    }
    .expect("births");
    let (villages, list) = uncounted(&cmp, &indicators(), &births, &s).expect("uncounted");
    assert_eq!(
        frame::floats(&villages, "uncounted").expect("u"),
        [Some(10.0), Some(30.0)]
    );
    assert_eq!(
        frame::texts(&list, "birth_id").expect("ids"),
        [Some("b".to_owned()), Some("c".to_owned())]
    );
}

/// 60 births in two villages; every fifth has an open discrepancy.
fn sample_inputs() -> (DataFrame, DataFrame) {
    let ids: Vec<String> = (0..60).map(|i| format!("b{i:03}")).collect();
    let villages: Vec<&str> = (0..60)
        .map(|i| {
            if i < 40 {
                "340302001001"
            } else {
                "340302001002"
            }
        })
        .collect();
    let births = df! {
        "birth_id" => ids.clone(),
        "village" => villages,
        "in_jurisdiction" => vec![true; 60],
    }
    .expect("births");
    let open: Vec<String> = ids.iter().step_by(5).cloned().collect();
    let n = open.len();
    let discrepancies = df! {
        "discrepancy_id" => (0..n).map(|i| format!("d{i}")).collect::<Vec<_>>(),
        "rule_id" => vec!["sex_mismatch"; n],
        "birth_id" => open,
        "status" => vec!["open"; n],
    }
    .expect("discrepancies");
    (births, discrepancies)
}

fn sampled(frame: &DataFrame) -> Vec<(String, String, i64)> {
    let s = frame::texts(frame, "stratum").expect("stratum");
    let b = frame::texts(frame, "birth_id").expect("id");
    let r = frame::texts(frame, "role").expect("role");
    let o = frame::floats(frame, "draw_order").expect("order");
    (0..frame.height())
        .filter(|&i| r[i].is_some())
        .map(|i| {
            (
                s[i].clone().unwrap_or_default(),
                b[i].clone().unwrap_or_default(),
                o[i].unwrap_or(0.0) as i64,
            )
        })
        .collect()
}

#[test]
fn the_sample_does_not_depend_on_the_order_of_the_input() {
    let (births, disc) = sample_inputs();
    let cfg = SampleConfig::default();
    let a = draw(&births, &disc, None, &cfg).expect("draw");
    // The births reversed, and rotated.
    let reversed = births.reverse();
    let rotated = births
        .slice(17, 60)
        .vstack(&births.slice(0, 17))
        .expect("rotate");
    for other in [reversed, rotated] {
        let b = draw(&other, &disc.reverse(), None, &cfg).expect("draw");
        assert_eq!(sampled(&a), sampled(&b));
    }
    // Another seed draws another sample.
    let c = draw(&births, &disc, None, &SampleConfig { seed: 2, ..cfg }).expect("draw");
    assert_ne!(sampled(&a), sampled(&c));
}

#[test]
fn inclusion_probabilities_sum_to_each_stratum_size() {
    let (births, disc) = sample_inputs();
    for size in [
        SizeRule::Lqas(LqasPlan::default()),
        SizeRule::Precision {
            p: 0.5,
            margin: 0.15,
        },
    ] {
        let cfg = SampleConfig {
            size,
            ..SampleConfig::default()
        };
        let frame = draw(&births, &disc, None, &cfg).expect("draw");
        let s = frame::texts(&frame, "stratum").expect("stratum");
        let pi = frame::floats(&frame, "inclusion_probability").expect("pi");
        let n = frame::floats(&frame, "sample_size").expect("n");
        let role = frame::texts(&frame, "role").expect("role");
        let mut sums: std::collections::BTreeMap<String, (f64, f64, usize)> = Default::default();
        for i in 0..frame.height() {
            let e = sums.entry(s[i].clone().unwrap_or_default()).or_default();
            e.0 += pi[i].unwrap_or(0.0);
            e.1 = n[i].unwrap_or(0.0);
            e.2 += usize::from(role[i].as_deref() == Some("sample"));
        }
        assert_eq!(sums.len(), 4, "two villages × flagged/not flagged");
        for (stratum, (sum, n, drawn)) in sums {
            assert!((sum - n).abs() < 1e-9, "{stratum}: Σπ = {sum}, n = {n}");
            assert_eq!(drawn as f64, n, "{stratum}");
        }
    }
    // LQAS: 19 of the 32 unflagged births of the first village, all 8 of its flagged ones.
    let frame = draw(&births, &disc, None, &SampleConfig::default()).expect("draw");
    let s = frame::texts(&frame, "stratum").expect("stratum");
    let n = frame::floats(&frame, "sample_size").expect("n");
    let size = |name: &str| {
        (0..frame.height())
            .find(|&i| s[i].as_deref() == Some(name))
            .and_then(|i| n[i])
    };
    assert_eq!(size("340302001001:not_flagged"), Some(19.0));
    assert_eq!(size("340302001001:flagged"), Some(8.0));
}

#[test]
fn a_village_flagged_by_the_returns_is_one_flagged_stratum() {
    let (births, disc) = sample_inputs();
    let comparison = df! {
        "level" => ["village"],
        "area_code" => ["340302001002"],
        "flagged" => [true],
    }
    .expect("comparison");
    let frame = draw(&births, &disc, Some(&comparison), &SampleConfig::default()).expect("draw");
    let s = frame::texts(&frame, "stratum").expect("stratum");
    assert!(
        s.iter()
            .all(|x| x.as_deref() != Some("340302001002:not_flagged"))
    );
    assert_eq!(
        s.iter()
            .filter(|x| x.as_deref() == Some("340302001002:flagged"))
            .count(),
        20
    );
}

/// A filled checklist of one village: its flagged stratum (N = 8, all 8 checked) and its
/// unflagged one (N = 40, 19 drawn, 18 visited, one not visited).
fn filled() -> DataFrame {
    let mut stratum = vec!["340302001001:flagged"; 8];
    stratum.extend(vec!["340302001001:not_flagged"; 19]);
    let mut size = vec![8i64; 8];
    size.extend(vec![40i64; 19]);
    // Flagged: 3 wrong sex, 1 not found, 4 confirmed. Unflagged: 1 wrong, 17 confirmed, 1 blank.
    let mut result = vec![
        "属实",
        "属实",
        "属实",
        "属实",
        "属实",
        "属实",
        "信息有误",
        "查无此人",
    ];
    result.extend(vec!["属实"; 17]);
    result.push("信息有误");
    result.push("");
    let mut actual_sex = vec![None, None, None, None, Some("2"), Some("2"), None, None];
    actual_sex.extend(vec![None::<&str>; 19]);
    // Birth 0 carries two open discrepancies, confirmed; birth 1 one, explained.
    let mut ids = vec!["d1 d2", "d3"];
    ids.extend(vec![""; 25]);
    let mut issue = vec![Some("属实"), Some("不属实")];
    issue.extend(vec![None::<&str>; 25]);
    let mut new = vec![Some(1.0f64), None];
    new.extend(vec![None; 17]);
    new.push(Some(2.0));
    new.extend(vec![None; 7]);
    df! {
        "village" => vec!["340302001001"; 27],
        "village_name" => vec!["一村"; 27],
        "stratum" => stratum,
        "stratum_size" => size,
        "birth_id" => (0..27).map(|i| format!("b{i}")).collect::<Vec<_>>(),
        "child_sex" => vec!["1"; 27],
        "birth_date" => vec!["2025-03-01"; 27],
        "birth_order" => vec!["1"; 27],
        "discrepancy_ids" => ids,
        "result" => result,
        "actual_sex" => actual_sex,
        "issue_confirmed" => issue,
        "new_births" => new,
        "checked_by" => vec![Some("张三"); 27],
        "checked_on" => vec![Some("2026-02-10"); 27],
    }
    .expect("filled")
}

#[test]
fn a_filled_checklist_gives_the_village_figures() {
    let today = ymd(2026, 2, 15);
    let back = read_back(&filled(), &LqasPlan::default(), today).expect("read back");
    let v = &back.villages;
    assert_eq!(v.height(), 1);
    let f = |c: &str| frame::floats(v, c).expect(c)[0];
    // Flagged: failures = 2 (wrong sex) + 1 (信息有误) + 1 (查无此人) = 4 of 8.
    // Unflagged: 1 of 18 visited. Village: 5 errors of 26 checked.
    assert_eq!(f("checked"), Some(26.0));
    assert_eq!(f("errors"), Some(5.0));
    assert!((f("error_rate").unwrap_or(0.0) - 5.0 / 26.0).abs() < 1e-12);
    let (lo, hi) = wilson(5, 26).expect("interval");
    assert_eq!((f("error_low"), f("error_high")), (Some(lo), Some(hi)));
    // LQAS: the flagged stratum, 8 checked, passes with ⌊6·8/19⌋ = 2 failures: 4 fail it.
    assert_eq!(f("strata_failed"), Some(1.0));
    assert_eq!(frame::bools(v, "lqas_pass").expect("pass")[0], Some(false));
    // HT: flagged 8/8 × (7 found + 1 new) = 8; unflagged 40/18 × (18 found + 2 new) = 44.44.
    let true_births = 8.0 + 40.0 / 18.0 * 20.0;
    assert!((f("ht_true_births").unwrap_or(0.0) - true_births).abs() < 1e-9);
    assert!((f("field_vf").unwrap_or(0.0) - true_births / 48.0).abs() < 1e-9);
    assert!((f("ht_erroneous_records").unwrap_or(0.0) - (4.0 + 40.0 / 18.0)).abs() < 1e-9);
    assert!((f("ht_new_births").unwrap_or(0.0) - (1.0 + 40.0 / 18.0 * 2.0)).abs() < 1e-9);
    assert_eq!(f("new_births_found"), Some(3.0));
    // Decisions: d1 and d2 confirmed, d3 explained, dated by the checklist.
    let d = &back.decisions;
    assert_eq!(
        frame::texts(d, "discrepancy_id").expect("ids"),
        [Some("d1".into()), Some("d2".into()), Some("d3".into())]
    );
    let reason = frame::texts(d, "reason").expect("reason");
    assert!(reason[0].as_deref().is_some_and(|r| r.contains("确认属实")));
    assert!(reason[2].as_deref().is_some_and(|r| r.contains("记录无误")));
    assert_eq!(
        frame::texts(d, "date").expect("date")[0].as_deref(),
        Some("2026-02-10")
    );
    assert!(back.unreadable.is_empty());
}

#[test]
fn with_the_household_registry_floating_mothers_births_count_as_seen() {
    // Residents: 6 with both, 2 certificate only, 1 household only. Floating: 3 with a
    // certificate, none in the household registry (not expected there).
    let cert = [
        true, true, true, true, true, true, true, true, false, true, true, true,
    ];
    let hh = [
        true, true, true, true, true, true, false, false, true, false, false, false,
    ];
    let floating = [
        false, false, false, false, false, false, false, false, false, true, true, true,
    ];
    let key = |has: &[bool; 12], p: &str| -> Vec<Option<String>> {
        has.iter()
            .enumerate()
            .map(|(i, h)| h.then(|| format!("{p}{i}")))
            .collect()
    };
    let births = df! {
        "birth_id" => (0..12).map(|i| format!("b{i}")).collect::<Vec<_>>(),
        "village" => vec!["340302001001"; 12],
        "floating" => floating.to_vec(),
        "birth_certificate_key" => key(&cert, "c"),
        "household_key" => key(&hh, "h"),
    }
    .expect("births");
    let got = chapman_of(&births, "birth_certificate", "household").expect("estimate");
    let parts = [Chapman::new(8, 7, 6), Chapman::new(3, 3, 3)];
    let want = Chapman::combine(&parts);
    assert_eq!(got, want);
    assert!((want.estimate - parts.iter().map(|c| c.estimate).sum::<f64>()).abs() < 1e-12);
    assert!((want.variance - parts.iter().map(|c| c.variance).sum::<f64>()).abs() < 1e-12);
    assert!(want.low >= 12.0 && want.low <= want.estimate && want.estimate <= want.high);
    // Without the registry in the pair, one estimate over every birth.
    let vacc = births
        .clone()
        .lazy()
        .rename(["household_key"], ["vaccination_key"], true)
        .collect()
        .expect("rename");
    assert_eq!(
        chapman_of(&vacc, "birth_certificate", "vaccination").expect("estimate"),
        Chapman::new(11, 7, 6)
    );
}

/// Reads a returns file as a run does: the ingest engine with the [`Returns`] source.
fn ingest_returns(file: poprecon_ingest::InputFile) -> poprecon_ingest::SourceOutput {
    let columns = std::collections::BTreeMap::new();
    poprecon_ingest::ingest(&poprecon_ingest::IngestConfig {
        source: &Returns,
        files: std::slice::from_ref(&file),
        columns: &columns,
        known_villages: None,
        allow_empty: false,
        progress: None,
        keep: None,
    })
    .expect("the returns read")
}

#[test]
fn returns_read_from_gb18030_csv_and_xlsx_with_chinese_headers() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let text = "统计期,村居代码,村居名称,指标名称,上报数,分子,分母\n\
                2025年,340302001001,一村,活产数,80,,\n\
                2025年,340302001001,一村,住院分娩率,99%,99,100\n\
                ,340302001002,二村,活产数,30,,\n";
    let (bytes, _, _) = encoding_rs::GB18030.encode(text);
    let csv = dir.path().join("统计报表.csv");
    std::fs::write(&csv, &bytes).expect("write");
    let mut file = poprecon_ingest::InputFile::new(&csv, poprecon_ingest::Format::Csv);
    file.encoding = poprecon_ingest::Encoding::Gb18030;
    let out = ingest_returns(file);
    // The row without a period is quarantined; the others compare.
    assert_eq!(
        (out.stats.read, out.stats.accepted, out.stats.quarantined),
        (3, 2, 1)
    );
    let period = (ymd(2025, 1, 1), ymd(2025, 12, 31));
    let cmp = compare(&out.records, &indicators(), period, &Settings::default()).expect("compare");
    assert_eq!(
        frame::floats(&cmp, "vf").expect("vf"),
        [Some(100.0 / 80.0), Some(0.95 / 0.99)]
    );
    assert_eq!(
        frame::floats(&cmp, "source_line").expect("line"),
        [Some(2.0), Some(3.0)]
    );

    let xlsx = dir.path().join("统计报表.xlsx");
    let mut book = rust_xlsxwriter::Workbook::new();
    let ws = book.add_worksheet();
    for (c, h) in ["报告期", "地区代码", "指标", "报告值"].iter().enumerate() {
        ws.write_string(0, c as u16, *h).expect("header");
    }
    ws.write_string(1, 0, "2025-01-01~2025-12-31")
        .expect("cell");
    ws.write_string(1, 1, "340302001000").expect("cell");
    ws.write_string(1, 2, "活产数").expect("cell");
    ws.write_number(1, 3, 130.0).expect("cell");
    book.save(&xlsx).expect("save");
    let out = ingest_returns(poprecon_ingest::InputFile::new(
        &xlsx,
        poprecon_ingest::Format::Xlsx,
    ));
    let cmp = compare(&out.records, &indicators(), period, &Settings::default()).expect("compare");
    assert_eq!(
        frame::texts(&cmp, "level").expect("level"),
        [Some("township".to_owned())]
    );
    assert_eq!(frame::floats(&cmp, "vf").expect("vf"), [Some(1.0)]);
}
