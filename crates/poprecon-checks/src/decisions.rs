//! Reviewers' decisions applied to the night's discrepancies. The decisions file is parsed
//! once, where the pipeline file is ([`poprecon_model::decisions`]); here a decided
//! discrepancy is marked with its decision and leaves the work queue ([`apply_decisions`]),
//! and decisions that apply to nothing are listed ([`unmatched_decisions`]).

use std::collections::HashMap;

use polars::prelude::*;
pub use poprecon_model::decisions::{
    Decision, DecisionError, DecisionKind, Decisions, LinkConstraint, RecordRef,
};

use crate::config::SOURCES;
use crate::error::ChecksError;
use crate::frames::key_column;
use crate::output::queued;

/// The decisions that apply to a discrepancy: by its id; or, for an `accepted` decision on a
/// record, any discrepancy involving that record (of its rule, if it names one); or, for a
/// linkage decision naming a rule, the discrepancies of that rule involving either record.
fn applies(d: &Decision, id: &str, rule: &str, keys: &[Option<&str>]) -> bool {
    if let Some(want) = &d.discrepancy_id {
        return want == id;
    }
    if d.rule_id.as_deref().is_some_and(|r| r != rule) {
        return false;
    }
    if d.kind != DecisionKind::Accepted && d.rule_id.is_none() {
        return false;
    }
    let involves = |r: &RecordRef| {
        SOURCES
            .iter()
            .position(|s| *s == r.source)
            .is_some_and(|i| keys[i] == Some(r.key.as_str()))
    };
    d.record.as_ref().is_some_and(involves) || d.other.as_ref().is_some_and(involves)
}

/// Marks each discrepancy a decision applies to with the decision (the latest by date, then
/// by line, if several do): `decision`, `decided_by`, `decided_on`, `decision_reason`; a
/// decided discrepancy leaves the work queue (`queued` false) but stays in the table.
pub fn apply_decisions(
    discrepancies: &DataFrame,
    decisions: &Decisions,
) -> Result<DataFrame, ChecksError> {
    let (chosen, _) = match_decisions(discrepancies, decisions)?;
    let err = ChecksError::frame("discrepancies");
    let pick = |name: &str, f: &dyn Fn(&Decision) -> Option<String>| -> Column {
        Column::new(
            name.into(),
            chosen
                .iter()
                .map(|c| c.and_then(|i| f(&decisions.decisions[i])))
                .collect::<Vec<_>>(),
        )
    };
    let decision = pick("decision", &|d| Some(d.kind.as_str().to_owned()));
    let by = pick("decided_by", &|d| Some(d.reviewer.clone()));
    let reason = pick("decision_reason", &|d| d.reason.clone());
    let on = Column::new(
        "decided_on".into(),
        chosen
            .iter()
            .map(|c| c.map(|i| decisions.decisions[i].date))
            .collect::<Vec<_>>(),
    );
    let mut df = discrepancies.clone();
    for c in [decision, by, on, reason] {
        df.with_column(c).map_err(&err)?;
    }
    df.lazy().with_column(queued()).collect().map_err(err)
}

/// The lines of the decisions that apply to no discrepancy of the table (stale ids, records
/// no longer in the extracts, or linkage decisions without a rule), for the run's report.
pub fn unmatched_decisions(
    discrepancies: &DataFrame,
    decisions: &Decisions,
) -> Result<Vec<usize>, ChecksError> {
    let (_, used) = match_decisions(discrepancies, decisions)?;
    Ok(decisions
        .decisions
        .iter()
        .zip(used)
        .filter(|(_, u)| !u)
        .map(|(d, _)| d.line)
        .collect())
}

/// For each discrepancy, the decision chosen; for each decision, whether it applied.
fn match_decisions(
    discrepancies: &DataFrame,
    decisions: &Decisions,
) -> Result<(Vec<Option<usize>>, Vec<bool>), ChecksError> {
    let err = ChecksError::frame("discrepancies");
    let text = |name: &str| -> Result<Vec<Option<String>>, ChecksError> {
        let c = discrepancies
            .column(name)
            .map_err(|_| ChecksError::MissingColumn {
                table: "discrepancies".to_owned(),
                column: name.to_owned(),
                hint: "",
            })?;
        let c = c.cast(&DataType::String).map_err(&err)?;
        let ca = c.str().map_err(&err)?;
        Ok(ca.iter().map(|v| v.map(str::to_owned)).collect())
    };
    let ids = text("discrepancy_id")?;
    let rules = text("rule_id")?;
    let keys = SOURCES
        .iter()
        .map(|s| text(&key_column(s)))
        .collect::<Result<Vec<_>, _>>()?;
    // The decisions are few and the table is the night's discrepancies: one pass over both,
    // with the decisions indexed by id and by record.
    let mut by_id: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut by_record: HashMap<(&str, &str), Vec<usize>> = HashMap::new();
    for (i, d) in decisions.decisions.iter().enumerate() {
        if let Some(id) = &d.discrepancy_id {
            by_id.entry(id.as_str()).or_default().push(i);
        } else {
            for r in [&d.record, &d.other].into_iter().flatten() {
                by_record
                    .entry((r.source.as_str(), r.key.as_str()))
                    .or_default()
                    .push(i);
            }
        }
    }
    let mut used = vec![false; decisions.decisions.len()];
    let mut chosen = Vec::with_capacity(ids.len());
    for row in 0..ids.len() {
        let id = ids[row].as_deref().unwrap_or_default();
        let rule = rules[row].as_deref().unwrap_or_default();
        let row_keys: Vec<Option<&str>> = keys.iter().map(|k| k[row].as_deref()).collect();
        let mut candidates: Vec<usize> = by_id.get(id).cloned().unwrap_or_default();
        for (s, key) in SOURCES.iter().zip(&row_keys) {
            if let Some(k) = key
                && let Some(found) = by_record.get(&(*s, *k))
            {
                candidates.extend(found);
            }
        }
        candidates.retain(|&i| applies(&decisions.decisions[i], id, rule, &row_keys));
        for &i in &candidates {
            used[i] = true;
        }
        let best = candidates
            .into_iter()
            .max_by_key(|&i| (decisions.decisions[i].date, decisions.decisions[i].line));
        chosen.push(best);
    }
    Ok((chosen, used))
}
