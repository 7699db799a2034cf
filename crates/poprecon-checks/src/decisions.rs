//! Reviewers' decisions: a decisions file (CSV or TOML) in the pipeline folder, honoured on
//! every later run and shown in the output, never applied silently.
//!
//! A decision names a discrepancy by its id, or records by source and key (optionally with
//! the rule): `accepted` (the discrepancy is explained, e.g. a home birth with no delivery
//! record), `must_link` or `cannot_link` (two records are, or are not, the same birth: for
//! linkage, see [`Decisions::link_constraints`]).
//!
//! CSV: a header with any of `discrepancy_id`, `rule_id`, `source`, `key`, `other_source`,
//! `other_key`, `decision`, `reviewer`, `date`, `reason`, one decision per line. TOML: the
//! same keys in `[[decision]]` tables.

use std::collections::HashMap;

use chrono::NaiveDate;
use polars::prelude::*;
use serde::Deserialize;

use crate::catalogue::RuleId;
use crate::config::SOURCES;
use crate::error::ChecksError;
use crate::frames::key_column;
use crate::output::queued;

/// What a reviewer decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DecisionKind {
    /// The discrepancy is explained; it leaves the work queue.
    Accepted,
    /// The two records are the same birth.
    MustLink,
    /// The two records are not the same birth.
    CannotLink,
}

impl DecisionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionKind::Accepted => "accepted",
            DecisionKind::MustLink => "must_link",
            DecisionKind::CannotLink => "cannot_link",
        }
    }

    fn parse(text: &str) -> Option<DecisionKind> {
        match text.trim() {
            "accepted" => Some(DecisionKind::Accepted),
            "must_link" => Some(DecisionKind::MustLink),
            "cannot_link" => Some(DecisionKind::CannotLink),
            _ => None,
        }
    }
}

/// A record: its source id and key (as in the `<source>_key` columns).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordRef {
    pub source: String,
    pub key: String,
}

/// One decision of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The line of the CSV file, or the number (from 1) of the `[[decision]]` table.
    pub line: usize,
    pub discrepancy_id: Option<String>,
    /// Restricts a decision on records to one rule.
    pub rule_id: Option<String>,
    pub record: Option<RecordRef>,
    /// The second record of `must_link` and `cannot_link`.
    pub other: Option<RecordRef>,
    pub kind: DecisionKind,
    pub reviewer: String,
    pub date: NaiveDate,
    pub reason: Option<String>,
}

/// A linkage instruction from a reviewer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkConstraint {
    /// [`DecisionKind::MustLink`] or [`DecisionKind::CannotLink`].
    pub kind: DecisionKind,
    pub a: RecordRef,
    pub b: RecordRef,
    /// The decision's line in the file.
    pub line: usize,
}

/// The decisions of a file, in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decisions {
    pub decisions: Vec<Decision>,
}

/// A decision as written, before it is checked.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    discrepancy_id: Option<String>,
    rule_id: Option<String>,
    source: Option<String>,
    key: Option<String>,
    other_source: Option<String>,
    other_key: Option<String>,
    decision: Option<String>,
    reviewer: Option<String>,
    date: Option<RawDate>,
    reason: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawDate {
    Toml(toml::value::Datetime),
    Text(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlFile {
    #[serde(default)]
    decision: Vec<Raw>,
}

const CSV_COLUMNS: [&str; 10] = [
    "discrepancy_id",
    "rule_id",
    "source",
    "key",
    "other_source",
    "other_key",
    "decision",
    "reviewer",
    "date",
    "reason",
];

impl Decisions {
    /// Parses a CSV decisions file (UTF-8, with a header).
    pub fn parse_csv(text: &str) -> Result<Decisions, ChecksError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut reader = csv::ReaderBuilder::new()
            .flexible(false)
            .from_reader(text.as_bytes());
        let header: Vec<String> = reader
            .headers()
            .map_err(|e| csv_error(&e, 1))?
            .iter()
            .map(|h| h.trim().to_owned())
            .collect();
        let mut index = HashMap::new();
        for (i, h) in header.iter().enumerate() {
            if !CSV_COLUMNS.contains(&h.as_str()) {
                return Err(ChecksError::Decision {
                    line: 1,
                    message: format!(
                        "unknown column `{h}`; the columns are {}",
                        CSV_COLUMNS.map(|c| format!("`{c}`")).join(", ")
                    ),
                });
            }
            if index.insert(h.clone(), i).is_some() {
                return Err(ChecksError::Decision {
                    line: 1,
                    message: format!("column `{h}` appears twice"),
                });
            }
        }
        let mut decisions = Vec::new();
        for record in reader.records() {
            let line = record
                .as_ref()
                .ok()
                .and_then(|r| r.position())
                .map_or(0, |p| p.line() as usize);
            let record = record.map_err(|e| csv_error(&e, line))?;
            if record.iter().all(|c| c.trim().is_empty()) {
                continue;
            }
            let get = |name: &str| -> Option<String> {
                index
                    .get(name)
                    .and_then(|&i| record.get(i))
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
            };
            let raw = Raw {
                discrepancy_id: get("discrepancy_id"),
                rule_id: get("rule_id"),
                source: get("source"),
                key: get("key"),
                other_source: get("other_source"),
                other_key: get("other_key"),
                decision: get("decision"),
                reviewer: get("reviewer"),
                date: get("date").map(RawDate::Text),
                reason: get("reason"),
            };
            decisions.push(check(raw, line)?);
        }
        Ok(Decisions { decisions })
    }

    /// Parses a TOML decisions file: `[[decision]]` tables.
    pub fn parse_toml(text: &str) -> Result<Decisions, ChecksError> {
        let file: TomlFile = toml::from_str(text).map_err(|e| ChecksError::Decision {
            line: e.span().map_or(0, |s| {
                text[..s.start.min(text.len())].lines().count().max(1)
            }),
            message: toml_message(e.message()),
        })?;
        let decisions = file
            .decision
            .into_iter()
            .enumerate()
            .map(|(i, raw)| check(raw, i + 1))
            .collect::<Result<_, _>>()?;
        Ok(Decisions { decisions })
    }

    /// The `must_link` and `cannot_link` decisions, for linkage.
    pub fn link_constraints(&self) -> Vec<LinkConstraint> {
        self.decisions
            .iter()
            .filter(|d| d.kind != DecisionKind::Accepted)
            .filter_map(|d| {
                Some(LinkConstraint {
                    kind: d.kind,
                    a: d.record.clone()?,
                    b: d.other.clone()?,
                    line: d.line,
                })
            })
            .collect()
    }
}

/// A TOML error without the values it may quote (a key given as a number is an ID): only
/// messages about key names are kept whole.
fn toml_message(text: &str) -> String {
    let text = text.trim_end();
    if text.starts_with("unknown field") || text.starts_with("missing field") {
        text.lines().next().unwrap_or_default().to_owned()
    } else {
        crate::error::safe_message(text)
    }
}

fn csv_error(e: &csv::Error, line: usize) -> ChecksError {
    let line = e.position().map_or(line, |p| p.line() as usize);
    // The csv crate's messages describe the structure (field counts, UTF-8), not values.
    let message = match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("{len} fields where the header has {expected_len}"),
        csv::ErrorKind::Utf8 { .. } => "not valid UTF-8".to_owned(),
        _ => "unreadable CSV".to_owned(),
    };
    ChecksError::Decision { line, message }
}

/// Checks a decision as written. Messages name columns, never values (a key may be a
/// resident ID).
fn check(raw: Raw, line: usize) -> Result<Decision, ChecksError> {
    let bad = |message: &str| {
        Err(ChecksError::Decision {
            line,
            message: message.to_owned(),
        })
    };
    let Some(kind) = raw
        .decision
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    else {
        return bad("`decision` is missing");
    };
    let Some(kind) = DecisionKind::parse(kind) else {
        return bad("`decision` must be `accepted`, `must_link` or `cannot_link`");
    };
    let Some(reviewer) = raw
        .reviewer
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
    else {
        return bad("`reviewer` is missing");
    };
    let date_text = match raw.date {
        Some(RawDate::Toml(d)) => d.to_string(),
        Some(RawDate::Text(s)) => s,
        None => return bad("`date` is missing"),
    };
    let Ok(date) = NaiveDate::parse_from_str(date_text.trim(), "%Y-%m-%d") else {
        return bad("`date` must be a date like `2026-02-03`");
    };
    let record = |source: Option<String>, key: Option<String>, what: &str| {
        let source = source
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty());
        let key = key.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        match (source, key) {
            (None, None) => Ok(None),
            (Some(source), Some(key)) => {
                if SOURCES.contains(&source.as_str()) {
                    Ok(Some(RecordRef { source, key }))
                } else {
                    Err(ChecksError::Decision {
                        line,
                        message: format!(
                            "`{what}source` must be one of {}",
                            SOURCES.map(|s| format!("`{s}`")).join(", ")
                        ),
                    })
                }
            }
            _ => Err(ChecksError::Decision {
                line,
                message: format!("`{what}source` and `{what}key` go together"),
            }),
        }
    };
    let record_ref = record(raw.source, raw.key, "")?;
    let other = record(raw.other_source, raw.other_key, "other_")?;
    let discrepancy_id = raw
        .discrepancy_id
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
    let rule_id = raw
        .rule_id
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
    if let Some(r) = &rule_id
        && RuleId::parse(r).is_none()
        && !r
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return bad("`rule_id` is not a rule id");
    }
    match kind {
        DecisionKind::Accepted => {
            if discrepancy_id.is_none() && record_ref.is_none() {
                return bad("an `accepted` decision needs `discrepancy_id`, or `source` and `key`");
            }
        }
        DecisionKind::MustLink | DecisionKind::CannotLink => {
            if record_ref.is_none() || other.is_none() {
                return bad(
                    "a linkage decision needs `source`, `key`, `other_source` and `other_key`",
                );
            }
        }
    }
    Ok(Decision {
        line,
        discrepancy_id,
        rule_id,
        record: record_ref,
        other,
        kind,
        reviewer,
        date,
        reason: raw
            .reason
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty()),
    })
}

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
