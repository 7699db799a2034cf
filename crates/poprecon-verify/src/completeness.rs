//! Each birth-level source's completeness against Chapman's dual-system estimate of the
//! true births, and the record-derived births that no return counted.

use std::collections::{BTreeMap, BTreeSet};

use polars::prelude::*;

use crate::frame::{Frame, Kind, bools, texts};
use crate::returns::status;
use crate::stats::Chapman;
use crate::{Settings, VerifyError};

/// The birth-level sources whose completeness is measured, in the order of domain.md §8.2.
pub const BIRTH_SOURCES: [&str; 4] = poprecon_model::BIRTH_LEVEL_IDS;

/// `source_completeness.parquet`: per area of the run's indicators (jurisdiction, county,
/// township, village, by the residence village of `births.parquet`) and per birth-level
/// source in `read` (the sources the pipeline read), the births with a record of the source
/// against Chapman's estimate of the true births from the two sources of
/// [`Settings::dual_system`]. With the household registry in the pair, the estimate is
/// Chapman's for the births of resident mothers (`floating` of `births.parquet` false) plus
/// the births of floating mothers that either source saw ([`Chapman::combine`]): the
/// registry is no list of floating mothers' births.
///
/// Columns: `level`, `area_code`, `area_name`, `source`, `births_with_source`,
/// `births_observed` (births seen by any source), `dse_pair`, `dse_n1`, `dse_n2`,
/// `dse_both`, `dse_estimate`, `dse_low`, `dse_high`, `completeness` (births with the
/// source / estimate), `completeness_low`, `completeness_high` (against the interval's
/// ends). Empty when the pipeline did not read both sources of the pair.
pub fn source_completeness(
    births: &DataFrame,
    indicators: &DataFrame,
    read: &[&str],
    settings: &Settings,
) -> Result<DataFrame, VerifyError> {
    let (a, b) = (&settings.dual_system.0, &settings.dual_system.1);
    let mut out = Frame::default();
    if !read.contains(&a.as_str()) || !read.contains(&b.as_str()) {
        return out.finish(COMPLETENESS_COLUMNS);
    }
    let sources: Vec<&str> = BIRTH_SOURCES
        .iter()
        .copied()
        .filter(|s| read.contains(s))
        .collect();
    let areas = areas(indicators)?;
    let counts = counts_by_area(births, &areas, &sources, (a, b))?;
    for ((level_rank, code), (level, name)) in &areas {
        let _ = level_rank;
        let Some(c) = counts.get(code) else {
            continue;
        };
        let dse = c.chapman(a == "household" || b == "household");
        for (i, s) in sources.iter().enumerate() {
            let n = c.by_source[i] as f64;
            out.text("level", Some(level.clone()));
            out.text("area_code", Some(code.clone()));
            out.text("area_name", name.clone());
            out.text("source", Some((*s).to_owned()));
            out.int("births_with_source", Some(c.by_source[i] as i64));
            out.int("births_observed", Some(c.all as i64));
            out.text("dse_pair", Some(format!("{a}+{b}")));
            out.int("dse_n1", Some(dse.n1 as i64));
            out.int("dse_n2", Some(dse.n2 as i64));
            out.int("dse_both", Some(dse.both as i64));
            out.float("dse_estimate", Some(dse.estimate));
            out.float("dse_low", Some(dse.low));
            out.float("dse_high", Some(dse.high));
            let share = |d: f64| (d > 0.0).then(|| n / d);
            out.float("completeness", share(dse.estimate));
            out.float("completeness_low", share(dse.high));
            out.float("completeness_high", share(dse.low));
        }
    }
    out.finish(COMPLETENESS_COLUMNS)
}

/// The columns of `source_completeness.parquet`.
pub const COMPLETENESS_COLUMNS: &[(&str, Kind)] = &[
    ("level", Kind::Text),
    ("area_code", Kind::Text),
    ("area_name", Kind::Text),
    ("source", Kind::Text),
    ("births_with_source", Kind::Int),
    ("births_observed", Kind::Int),
    ("dse_pair", Kind::Text),
    ("dse_n1", Kind::Int),
    ("dse_n2", Kind::Int),
    ("dse_both", Kind::Int),
    ("dse_estimate", Kind::Float),
    ("dse_low", Kind::Float),
    ("dse_high", Kind::Float),
    ("completeness", Kind::Float),
    ("completeness_low", Kind::Float),
    ("completeness_high", Kind::Float),
];

/// Chapman's estimate from the births of a run: the births of `births.parquet` in the
/// jurisdiction with a record of `a`, of `b`, and of both (floating mothers' births as
/// seen when the pair includes the household registry, as in [`source_completeness`]).
pub fn chapman_of(births: &DataFrame, a: &str, b: &str) -> Result<Chapman, VerifyError> {
    let counts = counts_by_area(births, &BTreeMap::new(), &[], (a, b))?;
    Ok(counts
        .get("")
        .cloned()
        .unwrap_or_default()
        .chapman(a == "household" || b == "household"))
}

#[derive(Debug, Clone, Default)]
struct Counts {
    all: u64,
    /// Per stratum (resident mothers, floating mothers): births with `a`, with `b`, both.
    a: [u64; 2],
    b: [u64; 2],
    both: [u64; 2],
    by_source: Vec<u64>,
}

impl Counts {
    /// Chapman's estimate. With the household registry in the pair, the estimate is made
    /// for the births of resident mothers only: the registry is not expected to hold the
    /// children of floating mothers (domain.md §4), so it is no list of theirs, and their
    /// births count as the pair saw them (no unseen part is estimated for them).
    fn chapman(&self, household_in_pair: bool) -> Chapman {
        if !household_in_pair {
            let sum = |x: [u64; 2]| x[0] + x[1];
            return Chapman::new(sum(self.a), sum(self.b), sum(self.both));
        }
        let seen = self.a[1] + self.b[1] - self.both[1];
        let mut parts = vec![Chapman::new(self.a[0], self.b[0], self.both[0])];
        if seen > 0 {
            parts.push(Chapman::new(seen, seen, seen));
        }
        Chapman::combine(&parts)
    }
}

/// The areas of the run's indicators, ordered by level (jurisdiction first) then code:
/// `(level rank, code) → (level, name)`.
type Areas = BTreeMap<(usize, String), (String, Option<String>)>;

fn areas(indicators: &DataFrame) -> Result<Areas, VerifyError> {
    let level = texts(indicators, "level")?;
    let code = texts(indicators, "area_code")?;
    let name = texts(indicators, "area_name")?;
    let rank = |l: &str| {
        ["jurisdiction", "city", "county", "township", "village"]
            .iter()
            .position(|x| *x == l)
            .unwrap_or(5)
    };
    let mut out = Areas::new();
    for i in 0..indicators.height() {
        if let (Some(l), Some(c)) = (&level[i], &code[i]) {
            out.entry((rank(l), c.clone()))
                .or_insert_with(|| (l.clone(), name[i].clone()));
        }
    }
    Ok(out)
}

/// Counts per area code (the jurisdiction's and, with no areas, `""` for all births): a
/// birth counts in every area whose code starts its village, and in the jurisdiction.
fn counts_by_area(
    births: &DataFrame,
    areas: &Areas,
    sources: &[&str],
    pair: (&str, &str),
) -> Result<BTreeMap<String, Counts>, VerifyError> {
    let has = |s: &str| -> Result<Vec<bool>, VerifyError> {
        let c = format!("{s}_key");
        if births.column(&c).is_err() {
            return Ok(vec![false; births.height()]);
        }
        Ok(texts(births, &c)?
            .into_iter()
            .map(|v| v.is_some())
            .collect())
    };
    let in_j: Vec<bool> = if births.column("in_jurisdiction").is_ok() {
        bools(births, "in_jurisdiction")?
            .into_iter()
            .map(|v| v.unwrap_or(false))
            .collect()
    } else {
        vec![true; births.height()]
    };
    let village = texts(births, "village")?;
    let floating: Vec<usize> = if births.column("floating").is_ok() {
        bools(births, "floating")?
            .into_iter()
            .map(|v| usize::from(v.unwrap_or(false)))
            .collect()
    } else {
        vec![0; births.height()]
    };
    let a = has(pair.0)?;
    let b = has(pair.1)?;
    let per_source: Vec<Vec<bool>> = sources.iter().map(|s| has(s)).collect::<Result<_, _>>()?;
    let jurisdiction: Vec<&String> = areas
        .iter()
        .filter(|((r, _), _)| *r == 0)
        .map(|((_, c), _)| c)
        .collect();
    let codes: std::collections::HashSet<&str> = areas
        .keys()
        .filter(|(r, _)| *r > 0)
        .map(|(_, c)| c.as_str())
        .collect();
    let prefixes: BTreeSet<usize> = areas
        .keys()
        .filter(|(r, _)| *r > 0)
        .map(|(_, c)| c.len())
        .collect();
    let mut out: BTreeMap<String, Counts> = BTreeMap::new();
    // One pass over the births with a handful of counters per area: the nested prefix
    // roll-up reads more plainly here than as one group-by per level.
    for i in 0..births.height() {
        if !in_j[i] {
            continue;
        }
        let mut keys: Vec<String> = if areas.is_empty() {
            vec![String::new()]
        } else {
            jurisdiction.iter().map(|c| (*c).clone()).collect()
        };
        if let Some(v) = &village[i] {
            for len in &prefixes {
                if let Some(code) = v.get(..*len).filter(|c| codes.contains(c)) {
                    keys.push(code.to_owned());
                }
            }
        }
        for k in keys {
            let c = out.entry(k).or_insert_with(|| Counts {
                by_source: vec![0; sources.len()],
                ..Counts::default()
            });
            let k = floating[i];
            c.all += 1;
            c.a[k] += u64::from(a[i]);
            c.b[k] += u64::from(b[i]);
            c.both[k] += u64::from(a[i] && b[i]);
            for (j, s) in per_source.iter().enumerate() {
                c.by_source[j] += u64::from(s[i]);
            }
        }
    }
    Ok(out)
}

/// The record-derived births no return counted, per village: `returns_uncounted.parquet`
/// (one row per village with live births in the records: `area_code`, `area_name`,
/// `derived` (D), `reported` (R, null without a return), `uncounted` (D − R when R < D, D
/// without a return, else 0)) and `uncounted_births.parquet` (the births of the villages
/// with no return at all: `village`, `birth_id`, the birth-level sources' keys), for the
/// data team. Both are empty when the returns give no village's live births for the
/// run's period.
pub fn uncounted(
    comparison: &DataFrame,
    indicators: &DataFrame,
    births: &DataFrame,
    settings: &Settings,
) -> Result<(DataFrame, DataFrame), VerifyError> {
    let level = texts(comparison, "level")?;
    let area = texts(comparison, "area_code")?;
    let id = texts(comparison, "indicator_id")?;
    let st = texts(comparison, "status")?;
    let basis = texts(comparison, "basis")?;
    let reported = crate::frame::floats(comparison, "reported")?;
    let mut returned: BTreeMap<String, f64> = BTreeMap::new();
    for i in 0..comparison.height() {
        if level[i].as_deref() == Some("village")
            && id[i].as_deref() == Some("live_births")
            && st[i].as_deref() == Some(status::COMPARED)
            && basis[i].as_deref() == Some(settings.basis.as_str())
            && let (Some(a), Some(r)) = (&area[i], reported[i])
        {
            *returned.entry(a.clone()).or_default() += r;
        }
    }
    let mut villages = Frame::default();
    let mut without: BTreeSet<String> = BTreeSet::new();
    if !returned.is_empty() {
        let l = texts(indicators, "level")?;
        let a = texts(indicators, "area_code")?;
        let n = texts(indicators, "area_name")?;
        let ind = texts(indicators, "indicator_id")?;
        let b = texts(indicators, "basis")?;
        let num = crate::frame::floats(indicators, "numerator")?;
        for i in 0..indicators.height() {
            if l[i].as_deref() != Some("village")
                || ind[i].as_deref() != Some("live_births")
                || b[i].as_deref() != Some(settings.basis.as_str())
            {
                continue;
            }
            let (Some(code), Some(d)) = (&a[i], num[i]) else {
                continue;
            };
            if d <= 0.0 {
                continue;
            }
            let r = returned.get(code).copied();
            if r.is_none() {
                without.insert(code.clone());
            }
            villages.text("area_code", Some(code.clone()));
            villages.text("area_name", n[i].clone());
            villages.float("derived", Some(d));
            villages.float("reported", r);
            villages.float("uncounted", Some(r.map_or(d, |r| (d - r).max(0.0))));
        }
    }
    let villages = villages.finish(&[
        ("area_code", Kind::Text),
        ("area_name", Kind::Text),
        ("derived", Kind::Float),
        ("reported", Kind::Float),
        ("uncounted", Kind::Float),
    ])?;
    let set: Vec<String> = without.into_iter().collect();
    let keys: Vec<String> = BIRTH_SOURCES
        .iter()
        .map(|s| format!("{s}_key"))
        .filter(|c| births.column(c).is_ok())
        .collect();
    let mut select = vec![col("village"), col("birth_id")];
    select.extend(keys.iter().map(|k| col(k.as_str())));
    let list = births
        .clone()
        .lazy()
        .filter(col("village").is_in(lit(Series::new("v".into(), set)).implode(false), false))
        .select(select)
        .sort(["village", "birth_id"], SortMultipleOptions::default())
        .collect()
        .map_err(|e| VerifyError::column("births", e))?;
    Ok((villages, list))
}
