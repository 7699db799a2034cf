//! The filled checklists read back: per village the error rate with its Wilson interval,
//! the LQAS decision, the field verification factor, Horvitz–Thompson totals and the
//! births found that no record had; and the reviewer decisions the findings make.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use polars::prelude::*;

use crate::VerifyError;
use crate::frame::{Frame, Kind, floats, opt_floats, opt_texts, texts};
use crate::stats::{LqasPlan, wilson};

/// A field team's finding on one record (the checklist's 核查结果).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finding {
    /// 属实: the birth is as recorded.
    Confirmed,
    /// 信息有误: the birth is real, a recorded fact is wrong.
    Wrong,
    /// 查无此人: no such birth.
    NotFound,
}

impl Finding {
    /// A cell of 核查结果; `None` when blank (not visited) or not one of the answers.
    pub fn parse(text: &str) -> Option<Finding> {
        match text.trim() {
            "属实" | "confirmed" => Some(Finding::Confirmed),
            "信息有误" | "有误" | "wrong" => Some(Finding::Wrong),
            "查无此人" | "不存在" | "not_found" => Some(Finding::NotFound),
            _ => None,
        }
    }
}

/// What [`read_back`] returns.
#[derive(Debug)]
pub struct ReadBack {
    /// One row per village: `village`, `village_name`, `records` (the frame's births),
    /// `checked`, `errors`, `error_rate`, `error_low`, `error_high` (Wilson 95 %),
    /// `strata`, `strata_failed`, `lqas_pass`, `field_vf`, `ht_true_births`,
    /// `ht_erroneous_records`, `ht_new_births`, `new_births_found`.
    pub villages: DataFrame,
    /// Reviewer decisions (the columns of a decisions CSV): `discrepancy_id`, `decision`,
    /// `reviewer`, `date`, `reason`.
    pub decisions: DataFrame,
    /// Rows whose 核查结果 is filled but not one of the answers: (row index, text).
    pub unreadable: Vec<(usize, String)>,
}

/// Reads the filled checklist rows back.
///
/// `filled` has the columns of [`crate::sample::checklist_rows`] (at least `village`,
/// `village_name`, `stratum`, `birth_id`, `child_sex`, `birth_date`, `birth_order`,
/// `discrepancy_ids`, `stratum_size`) and the field columns `result` (属实, 信息有误,
/// 查无此人; blank: not visited), `actual_sex`, `actual_birth_date`, `actual_birth_order`
/// (blank: as recorded), `issue_confirmed` (属实/不属实 for the listed facts), `new_births`
/// (births found in the household that no record has), `checked_by`, `checked_on`.
///
/// A visited record fails when the result is 信息有误 or 查无此人, or an actual value differs
/// from the recorded one. Within a stratum the m visited records are a simple random sample
/// of its N (replacements take the place of records not visited), so each weighs N / m in the
/// Horvitz–Thompson totals. A stratum passes LQAS with at most d failures among n records;
/// a stratum checked with fewer records uses the rule scaled to them, ⌊d·m/n⌋. A village
/// passes when every stratum does. Field VF = the estimated true births (HT, records found
/// plus births newly found) / the births the records have.
///
/// Decisions: every listed discrepancy of a visited record whose `issue_confirmed` is filled
/// becomes `accepted` (it leaves the work queue, shown as decided): 属实 with the reason
/// "现场核查确认属实，待源系统更正", 不属实 with "现场核查：记录无误"; the reviewer is
/// `checked_by` (else 现场核查组), the date `checked_on` (else `today`).
pub fn read_back(
    filled: &DataFrame,
    plan: &LqasPlan,
    today: NaiveDate,
) -> Result<ReadBack, VerifyError> {
    let t = |c: &str| opt_texts(filled, c);
    let village = texts(filled, "village")?;
    let village_name = t("village_name")?;
    let stratum = texts(filled, "stratum")?;
    let size = floats(filled, "stratum_size")?;
    let result = t("result")?;
    let recorded = [t("child_sex")?, t("birth_date")?, t("birth_order")?];
    let actual = [
        t("actual_sex")?,
        t("actual_birth_date")?,
        t("actual_birth_order")?,
    ];
    let issue = t("issue_confirmed")?;
    let new_births = opt_floats(filled, "new_births")?;
    let ids = t("discrepancy_ids")?;
    let by = t("checked_by")?;
    let on = t("checked_on")?;

    #[derive(Default)]
    struct Stratum {
        size: f64,
        visited: u64,
        failures: u64,
        found: u64,
        new: f64,
    }
    let mut strata: BTreeMap<(String, String), Stratum> = BTreeMap::new();
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    let mut unreadable = Vec::new();
    let mut decisions = Frame::default();
    for i in 0..filled.height() {
        let (Some(v), Some(s)) = (&village[i], &stratum[i]) else {
            continue;
        };
        if let Some(n) = &village_name[i] {
            names.entry(v.clone()).or_insert_with(|| n.clone());
        }
        let e = strata.entry((v.clone(), s.clone())).or_default();
        e.size = size[i].unwrap_or(e.size);
        let text = result[i].as_deref().unwrap_or("").trim();
        if text.is_empty() {
            continue;
        }
        let Some(finding) = Finding::parse(text) else {
            unreadable.push((i, text.to_owned()));
            continue;
        };
        let differs = (0..3).any(|k| {
            let a = actual[k][i]
                .as_deref()
                .map(str::trim)
                .filter(|a| !a.is_empty());
            a.is_some_and(|a| Some(a) != recorded[k][i].as_deref().map(str::trim))
        });
        e.visited += 1;
        e.failures += u64::from(finding != Finding::Confirmed || differs);
        e.found += u64::from(finding != Finding::NotFound);
        e.new += new_births[i].unwrap_or(0.0).max(0.0);
        let reason = match issue[i].as_deref().map(str::trim) {
            Some("属实" | "confirmed") => "现场核查确认属实，待源系统更正",
            Some("不属实" | "not_confirmed") => "现场核查：记录无误",
            _ => continue,
        };
        let reviewer = by[i]
            .as_deref()
            .map(str::trim)
            .filter(|b| !b.is_empty())
            .unwrap_or("现场核查组");
        let date = on[i]
            .as_deref()
            .and_then(|d| crate::returns::parse_period(&format!("{d}~{d}"), false))
            .map_or(today, |(d, _)| d);
        for id in ids[i].as_deref().unwrap_or("").split_whitespace() {
            decisions.text("discrepancy_id", Some(id.to_owned()));
            decisions.text("decision", Some("accepted".to_owned()));
            decisions.text("reviewer", Some(reviewer.to_owned()));
            decisions.text("date", Some(date.to_string()));
            decisions.text("reason", Some(reason.to_owned()));
        }
    }
    let mut out = Frame::default();
    let mut village_keys: Vec<&String> = strata.keys().map(|(v, _)| v).collect();
    village_keys.dedup();
    for v in village_keys {
        let parts: Vec<&Stratum> = strata
            .iter()
            .filter(|((x, _), _)| x == v)
            .map(|(_, s)| s)
            .collect();
        let records: f64 = parts.iter().map(|s| s.size).sum();
        let checked: u64 = parts.iter().map(|s| s.visited).sum();
        let errors: u64 = parts.iter().map(|s| s.failures).sum();
        let visited: Vec<&&Stratum> = parts.iter().filter(|s| s.visited > 0).collect();
        let ht = |f: &dyn Fn(&Stratum) -> f64| -> Option<f64> {
            // A stratum nobody visited has no estimate: the village's is then unknown.
            if visited.len() < parts.len() {
                return None;
            }
            Some(
                visited
                    .iter()
                    .map(|s| s.size / s.visited as f64 * f(s))
                    .sum(),
            )
        };
        let failed = parts
            .iter()
            .filter(|s| s.visited > 0)
            .filter(|s| {
                let d = if s.visited >= plan.n {
                    plan.d
                } else {
                    plan.d * s.visited / plan.n
                };
                s.failures > d
            })
            .count();
        let true_births = ht(&|s| s.found as f64 + s.new);
        let interval = wilson(errors, checked);
        out.text("village", Some(v.clone()));
        out.text("village_name", names.get(v).cloned());
        out.float("records", Some(records));
        out.int("checked", Some(checked as i64));
        out.int("errors", Some(errors as i64));
        out.float(
            "error_rate",
            (checked > 0).then(|| errors as f64 / checked as f64),
        );
        out.float("error_low", interval.map(|i| i.0));
        out.float("error_high", interval.map(|i| i.1));
        out.int("strata", Some(parts.len() as i64));
        out.int("strata_failed", Some(failed as i64));
        out.boolean(
            "lqas_pass",
            (visited.len() == parts.len()).then_some(failed == 0),
        );
        out.float(
            "field_vf",
            true_births.filter(|_| records > 0.0).map(|t| t / records),
        );
        out.float("ht_true_births", true_births);
        out.float("ht_erroneous_records", ht(&|s| s.failures as f64));
        out.float("ht_new_births", ht(&|s| s.new));
        out.float("new_births_found", Some(parts.iter().map(|s| s.new).sum()));
    }
    Ok(ReadBack {
        villages: out.finish(VILLAGE_COLUMNS)?,
        decisions: decisions.finish(&[
            ("discrepancy_id", Kind::Text),
            ("decision", Kind::Text),
            ("reviewer", Kind::Text),
            ("date", Kind::Text),
            ("reason", Kind::Text),
        ])?,
        unreadable,
    })
}

/// The columns of [`ReadBack::villages`].
pub const VILLAGE_COLUMNS: &[(&str, Kind)] = &[
    ("village", Kind::Text),
    ("village_name", Kind::Text),
    ("records", Kind::Float),
    ("checked", Kind::Int),
    ("errors", Kind::Int),
    ("error_rate", Kind::Float),
    ("error_low", Kind::Float),
    ("error_high", Kind::Float),
    ("strata", Kind::Int),
    ("strata_failed", Kind::Int),
    ("lqas_pass", Kind::Bool),
    ("field_vf", Kind::Float),
    ("ht_true_births", Kind::Float),
    ("ht_erroneous_records", Kind::Float),
    ("ht_new_births", Kind::Float),
    ("new_births_found", Kind::Float),
];
