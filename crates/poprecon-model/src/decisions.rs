//! Reviewers' decisions: a decisions file (CSV or TOML) in the pipeline folder, honoured on
//! every later run and shown in the output, never applied silently. The pipeline crate reads
//! the file and parses it here, once; checks apply the decisions to discrepancies
//! (`poprecon_checks::apply_decisions`) and linkage honours the `must_link` and
//! `cannot_link` ones ([`Decisions::link_constraints`], taken by
//! `poprecon_link::link_with_decisions` as they are).
//!
//! A decision names a discrepancy by its id, or records by source and key (optionally with
//! the rule): `accepted` (the discrepancy is explained, e.g. a home birth with no delivery
//! record), `must_link` or `cannot_link` (two records are, or are not, the same birth).
//!
//! CSV: a header with any of `discrepancy_id`, `rule_id`, `source`, `key`, `other_source`,
//! `other_key`, `decision`, `reviewer`, `date`, `reason`, one decision per line. TOML: the
//! same keys in `[[decision]]` tables. Errors name the line and the column, never a value
//! (a key may be a resident ID).

use std::collections::HashMap;

use chrono::NaiveDate;
use serde::Deserialize;

/// What is wrong with a decisions file: its line (the CSV line, or the number of the
/// `[[decision]]` table) and what, without the values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("decisions file, line {line}: {message}")]
pub struct DecisionError {
    pub line: usize,
    pub message: String,
}

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
    /// Parses a CSV decisions file (UTF-8, with a header); a record's source must be one of
    /// `sources` (the ids of the sources poprecon reads, in the order error messages list
    /// them).
    pub fn parse_csv(text: &str, sources: &[&str]) -> Result<Decisions, DecisionError> {
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
                return Err(DecisionError {
                    line: 1,
                    message: format!(
                        "unknown column `{h}`; the columns are {}",
                        CSV_COLUMNS.map(|c| format!("`{c}`")).join(", ")
                    ),
                });
            }
            if index.insert(h.clone(), i).is_some() {
                return Err(DecisionError {
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
            decisions.push(check(raw, line, sources)?);
        }
        Ok(Decisions { decisions })
    }

    /// Parses a TOML decisions file: `[[decision]]` tables; sources as for
    /// [`Decisions::parse_csv`].
    pub fn parse_toml(text: &str, sources: &[&str]) -> Result<Decisions, DecisionError> {
        let file: TomlFile = toml::from_str(text).map_err(|e| DecisionError {
            line: e.span().map_or(0, |s| {
                text[..s.start.min(text.len())].lines().count().max(1)
            }),
            message: toml_message(e.message()),
        })?;
        let decisions = file
            .decision
            .into_iter()
            .enumerate()
            .map(|(i, raw)| check(raw, i + 1, sources))
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
        safe_message(text)
    }
}

fn csv_error(e: &csv::Error, line: usize) -> DecisionError {
    let line = e.position().map_or(line, |p| p.line() as usize);
    // The csv crate's messages describe the structure (field counts, UTF-8), not values.
    let message = match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("{len} fields where the header has {expected_len}"),
        csv::ErrorKind::Utf8 { .. } => "not valid UTF-8".to_owned(),
        _ => "unreadable CSV".to_owned(),
    };
    DecisionError { line, message }
}

/// Checks a decision as written. Messages name columns, never values (a key may be a
/// resident ID).
fn check(raw: Raw, line: usize, sources: &[&str]) -> Result<Decision, DecisionError> {
    let bad = |message: &str| {
        Err(DecisionError {
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
                if sources.contains(&source.as_str()) {
                    Ok(Some(RecordRef { source, key }))
                } else {
                    Err(DecisionError {
                        line,
                        message: format!(
                            "`{what}source` must be one of {}",
                            sources
                                .iter()
                                .map(|s| format!("`{s}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    })
                }
            }
            _ => Err(DecisionError {
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
    // A rule id of the catalogue or of a local rule: snake case (every catalogue id is).
    if let Some(r) = &rule_id
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

/// A message of the TOML or CSV parser cut before its first quoted part, which may quote a
/// value of the file.
fn safe_message(text: &str) -> String {
    let first = text.lines().next().unwrap_or_default();
    let cut = first.find(['[', '"', '\'', '`']).unwrap_or(first.len());
    first[..cut].trim_end().to_owned()
}
