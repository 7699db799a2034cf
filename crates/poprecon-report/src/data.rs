//! The page's data: the run's tables shaped for the sections that draw them, every string
//! as the audience may see it.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use polars::prelude::*;
use serde_json::{Map, Value as Json, json};

use crate::{
    Audience, Node, ReportError, ReportInput, Rows, column_values, frame_json, labels, object,
};

pub(crate) fn build(input: &ReportInput<'_>) -> Result<Node, ReportError> {
    let a = input.audience;
    // The mismatch list and its records (the sources' rows gathered: the longest part) are
    // made on a thread of their own while the other members are.
    let (mismatches, members) = std::thread::scope(|scope| {
        let mismatches = scope.spawn(|| {
            let started = std::time::Instant::now();
            let made = discrepancies(input);
            tracing::debug!(
                seconds = started.elapsed().as_secs_f64(),
                "report discrepancies"
            );
            made
        });
        let members = other_members(input);
        (
            mismatches
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            members,
        )
    });
    let (dis, recs, detailed) = mismatches?;
    let mut members = members?;
    members.push(("dis", dis));
    members.push(("recs", recs.into()));
    let named = |list: &[(String, String, String)]| -> Json {
        list.iter()
            .map(|(id, zh, en)| {
                let name = if input.lang == crate::Lang::Zh || en.is_empty() {
                    zh
                } else {
                    en
                };
                json!([id, a.text(name)])
            })
            .collect()
    };
    // The small members by `json!`; the large ones as they are (`json!` would copy them).
    let page = json!({
        "lang": input.lang.code(),
        "audience": a.code(),
        "labels": labels::all(input.lang),
        "meta": {
            "title": a.text(input.title),
            "as_of": input.as_of,
            "period": [input.period.0, input.period.1],
            "run_id": input.run_id,
            "jurisdiction": input.jurisdiction,
            "threshold": input.match_threshold,
            "detail_cap": input.limits.detail_discrepancies,
            "detailed": detailed,
        },
        "names": {
            "area": input.area_names.iter().map(|(c, n)| json!([c, a.text(n)])).collect::<Vec<_>>(),
            "rule": named(input.rule_names),
            "indicator": named(input.indicator_names),
            "source": named(input.source_names),
            "field": named(input.field_names),
        },
        "targets": input.targets.iter().map(|(i, t, f)| json!([i, t, f])).collect::<Vec<_>>(),
    });
    let Json::Object(small) = page else {
        unreachable!("`json!` of an object is an object")
    };
    Ok(Node::members(
        small
            .into_iter()
            .map(|(k, v)| (k, Node::Json(v)))
            .chain(members.into_iter().map(|(k, v)| (k.to_owned(), v))),
    ))
}

/// Every member of the page data but the mismatch list and its records.
fn other_members(input: &ReportInput<'_>) -> Result<Vec<(&'static str, Node)>, ReportError> {
    let a = input.audience;
    let table = |name: &str, df: Option<&DataFrame>| -> Result<Node, ReportError> {
        df.map_or(
            Ok(Json::Null.into()),
            |df| Ok(Rows::of(name, df, a)?.into()),
        )
    };
    // The longest members, made with their seconds (`-vv`).
    let timed = |member: &'static str, make: &dyn Fn() -> Result<Node, ReportError>| {
        let started = Instant::now();
        let made = make();
        tracing::debug!(
            member,
            seconds = started.elapsed().as_secs_f64(),
            "report member"
        );
        made.map(|node| (member, node))
    };
    let drill = timed("drill", &|| drill(input))?;
    let quality = timed("quality", &|| quality(input.quality, a))?;
    Ok(vec![
        (
            "indicators",
            select(
                "indicators",
                input.indicators,
                &[
                    "level",
                    "area_code",
                    "area_name",
                    "indicator_id",
                    "basis",
                    "numerator",
                    "denominator",
                    "value",
                    "ci_low",
                    "ci_high",
                    "low_n",
                ],
                a,
            )?,
        ),
        (
            "previous_indicators",
            select(
                "previous_indicators",
                input.previous_indicators,
                &["level", "area_code", "indicator_id", "basis", "value"],
                a,
            )?,
        ),
        drill,
        (
            "village_discrepancies",
            table("village_discrepancies", input.village_discrepancies)?,
        ),
        ("link_hist", link_histogram(input.links)?.into()),
        ("link_model", table("link_model", input.link_model)?),
        ("linkage", table("linkage", input.linkage)?),
        ("ambiguous", table("ambiguous", input.ambiguous)?),
        ("ingest", table("ingest", input.ingest)?),
        ("changes", table("changes", input.changes)?),
        quality,
        ("quarantine", quarantine(input)?.into()),
    ])
}

/// The named columns of a table that it has.
fn select(
    name: &str,
    df: Option<&DataFrame>,
    columns: &[&str],
    a: Audience,
) -> Result<Node, ReportError> {
    let Some(df) = df else {
        return Ok(Json::Null.into());
    };
    let keep: Vec<&str> = columns
        .iter()
        .copied()
        .filter(|c| df.column(c).is_ok())
        .collect();
    let sub = df.select(keep).map_err(ReportError::table(name))?;
    Ok(Rows::of(name, &sub, a)?.into())
}

fn strings(df: &DataFrame, c: &str) -> PolarsResult<Vec<Option<String>>> {
    let s = df
        .column(c)?
        .as_materialized_series()
        .cast(&DataType::String)?;
    Ok(s.str()?.iter().map(|v| v.map(str::to_owned)).collect())
}

/// A column as text, to borrow its values from.
fn str_column(df: &DataFrame, c: &str) -> PolarsResult<StringChunked> {
    let s = df
        .column(c)?
        .as_materialized_series()
        .cast(&DataType::String)?;
    Ok(s.str()?.clone())
}

fn floats(df: &DataFrame, c: &str) -> PolarsResult<Vec<Option<f64>>> {
    let s = df
        .column(c)?
        .as_materialized_series()
        .cast(&DataType::Float64)?;
    Ok(s.f64()?.iter().collect())
}

fn bools(df: &DataFrame, c: &str) -> PolarsResult<Vec<bool>> {
    let s = df
        .column(c)?
        .as_materialized_series()
        .cast(&DataType::Boolean)?;
    Ok(s.bool()?.iter().map(|v| v.unwrap_or(false)).collect())
}

fn severity_rank(s: Option<&str>) -> u8 {
    match s {
        Some("high") => 0,
        Some("medium") => 1,
        Some("low") => 2,
        _ => 3,
    }
}

fn status_rank(s: Option<&str>) -> u8 {
    match s {
        Some("new") => 0,
        Some("open") => 1,
        Some("resolved") => 3,
        _ => 2,
    }
}

/// One linked record's linkage: method, match weight, and each comparison's level and
/// weight.
struct LinkInfo {
    method: Option<String>,
    weight: Option<f64>,
    comparisons: Vec<(String, Option<String>, Option<f64>)>,
}

/// The mismatch list and the records it involves.
///
/// Returns the discrepancies as a table with a `recs` column (for each detailed row, the
/// `[source, row]` of each involved record in `recs`), the records per source (canonical
/// fields, file and line, and the record's link), and how many rows are detailed.
fn discrepancies(input: &ReportInput<'_>) -> Result<(Node, Json, usize), ReportError> {
    let Some(df) = input.discrepancies else {
        return Ok((Json::Null.into(), Json::Null, 0));
    };
    let a = input.audience;
    let err = ReportError::table("discrepancies");
    let n = df.height();
    let key_columns: Vec<(String, String)> = df
        .get_column_names()
        .iter()
        .filter_map(|c| {
            c.strip_suffix("_key")
                .map(|s| (c.to_string(), s.to_owned()))
        })
        .collect();
    // Ranks and keys read from the columns, no owned string per row (2.2 M in a province).
    let rank = |c: &str, rank: fn(Option<&str>) -> u8| -> PolarsResult<Vec<u8>> {
        Ok(match df.column(c) {
            Ok(_) => str_column(df, c)?.iter().map(rank).collect(),
            Err(_) => vec![rank(None); n],
        })
    };
    let severity = rank("severity", severity_rank).map_err(&err)?;
    let status = rank("status", status_rank).map_err(&err)?;
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| (severity[i], status[i], i));
    let mut detailed = vec![false; n];
    for &i in order.iter().take(input.limits.detail_discrepancies) {
        detailed[i] = true;
    }
    let keys: Vec<StringChunked> = key_columns
        .iter()
        .map(|(c, _)| Ok(str_column(df, c)?.rechunk().into_owned()))
        .collect::<PolarsResult<_>>()
        .map_err(&err)?;

    // The records of each source that detailed rows name, first row per key (file order).
    let mut wanted: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (k, (_, source)) in key_columns.iter().enumerate() {
        for i in (0..n).filter(|&i| detailed[i]) {
            if let Some(key) = keys[k].get(i) {
                wanted.entry(source.as_str()).or_default().push(key);
            }
        }
    }
    let links = link_infos(input.links, &wanted)?;
    let mut recs = Map::new();
    let mut row_of: HashMap<(&str, &str), (usize, usize)> = HashMap::new();
    let mut source_index = 0usize;
    for (source, records) in input.sources {
        let Some(want) = wanted.get(source.as_str()) else {
            continue;
        };
        if records.column("record_key").is_err() {
            continue;
        }
        let rerr = ReportError::table(source);
        let want_df = DataFrame::new(
            want.len(),
            vec![Column::new("record_key".into(), want.clone())],
        )
        .map_err(&rerr)?;
        let sub = records
            .clone()
            .lazy()
            .join(
                want_df.lazy().unique(None, UniqueKeepStrategy::First),
                [col("record_key")],
                [col("record_key")],
                JoinArgs::new(JoinType::Semi),
            )
            .collect()
            .map_err(&rerr)?;
        let sub_keys = strings(&sub, "record_key").map_err(&rerr)?;
        let mut first: Vec<IdxSize> = Vec::new();
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (i, k) in sub_keys.iter().enumerate() {
            if let Some(k) = k
                && !seen.contains_key(k.as_str())
            {
                seen.insert(k, first.len());
                first.push(i as IdxSize);
            }
        }
        let idx = IdxCa::from_vec("idx".into(), first);
        let sub = sub.take(&idx).map_err(&rerr)?;
        let shown: Vec<String> = sub
            .get_column_names()
            .iter()
            .map(|c| c.to_string())
            .filter(|c| c != "record_key")
            .collect();
        let sub = sub.select(shown.clone()).map_err(&rerr)?;
        let (columns, rows) = match frame_json(source, &sub, a)? {
            Json::Object(mut t) => (
                t.remove("columns").unwrap_or(Json::Null),
                t.remove("rows").unwrap_or(Json::Null),
            ),
            _ => (Json::Null, Json::Null),
        };
        let keys_in_order: Vec<&str> = {
            let mut v = vec![""; seen.len()];
            for (k, &row) in &seen {
                v[row] = k;
            }
            v
        };
        let link: Vec<Json> = keys_in_order
            .iter()
            .map(|k| match links.get(&(source.as_str(), *k)) {
                None => Json::Null,
                Some(l) => json!([
                    l.method,
                    l.weight,
                    l.comparisons
                        .iter()
                        .map(|(c, level, w)| json!([c, level, w]))
                        .collect::<Vec<_>>()
                ]),
            })
            .collect();
        // The wanted keys borrow from the discrepancies, so the map outlives this source's
        // frames.
        let wanted_keys: std::collections::HashSet<&str> = want.iter().copied().collect();
        for (k, &row) in &seen {
            if let Some(key) = wanted_keys.get(*k) {
                row_of.insert((source.as_str(), *key), (source_index, row));
            }
        }
        recs.insert(
            source.clone(),
            object([
                ("index", Json::from(source_index)),
                ("columns", columns),
                ("rows", rows),
                ("link", Json::Array(link)),
            ]),
        );
        source_index += 1;
    }

    let mut count = 0;
    let source_names: Vec<&str> = {
        let mut v: Vec<(usize, &str)> = recs
            .iter()
            .map(|(s, r)| (r["index"].as_u64().unwrap_or(0) as usize, s.as_str()))
            .collect();
        v.sort();
        v.into_iter().map(|(_, s)| s).collect()
    };
    let refs: Vec<Json> = (0..n)
        .map(|i| {
            if !detailed[i] {
                return Json::Null;
            }
            count += 1;
            let mut r = Vec::new();
            for (k, (_, source)) in key_columns.iter().enumerate() {
                if let Some(key) = keys[k].get(i)
                    && let Some(&(s, row)) = row_of.get(&(source.as_str(), key))
                {
                    r.push(json!([s, row]));
                }
            }
            Json::Array(r)
        })
        .collect();
    let mut dis = Rows::of("discrepancies", df, a)?;
    dis.push_column("recs", refs);
    Ok((
        dis.into(),
        object([
            ("sources", Json::from(source_names)),
            ("tables", Json::Object(recs)),
        ]),
        count,
    ))
}

/// The links of the wanted records, by (source, key).
fn link_infos<'w>(
    links: Option<&DataFrame>,
    wanted: &BTreeMap<&'w str, Vec<&'w str>>,
) -> Result<HashMap<(&'w str, &'w str), LinkInfo>, ReportError> {
    let mut out = HashMap::new();
    let Some(links) = links else { return Ok(out) };
    if links.column("source").is_err() || links.column("key").is_err() {
        return Ok(out);
    }
    let err = ReportError::table("links");
    let (mut src, mut key) = (Vec::new(), Vec::new());
    for (s, keys) in wanted {
        for k in keys {
            src.push(*s);
            key.push(*k);
        }
    }
    let want = DataFrame::new(
        src.len(),
        vec![
            Column::new("source".into(), src),
            Column::new("key".into(), key),
        ],
    )
    .map_err(&err)?;
    let sub = links
        .clone()
        .lazy()
        .join(
            want.lazy().unique(None, UniqueKeepStrategy::First),
            [col("source"), col("key")],
            [col("source"), col("key")],
            JoinArgs::new(JoinType::Semi),
        )
        .collect()
        .map_err(&err)?;
    let sources = strings(&sub, "source").map_err(&err)?;
    let keys = strings(&sub, "key").map_err(&err)?;
    let method = if sub.column("method").is_ok() {
        strings(&sub, "method").map_err(&err)?
    } else {
        vec![None; sub.height()]
    };
    let weight = if sub.column("match_weight").is_ok() {
        floats(&sub, "match_weight").map_err(&err)?
    } else {
        vec![None; sub.height()]
    };
    let comparisons: Vec<String> = sub
        .get_column_names()
        .iter()
        .filter_map(|c| c.strip_suffix("_level").map(str::to_owned))
        .filter(|c| sub.column(&format!("{c}_weight")).is_ok())
        .collect();
    let levels: Vec<Vec<Option<String>>> = comparisons
        .iter()
        .map(|c| strings(&sub, &format!("{c}_level")))
        .collect::<PolarsResult<_>>()
        .map_err(&err)?;
    let weights: Vec<Vec<Option<f64>>> = comparisons
        .iter()
        .map(|c| floats(&sub, &format!("{c}_weight")))
        .collect::<PolarsResult<_>>()
        .map_err(&err)?;
    // Keys borrowed from `wanted`, so the map outlives `sub`.
    let mut interned: HashMap<(&str, &str), (&'w str, &'w str)> = HashMap::new();
    for (s, keys) in wanted {
        for k in keys {
            interned.insert((s, k), (s, k));
        }
    }
    for i in 0..sub.height() {
        let (Some(s), Some(k)) = (&sources[i], &keys[i]) else {
            continue;
        };
        let Some(&at) = interned.get(&(s.as_str(), k.as_str())) else {
            continue;
        };
        out.entry(at).or_insert_with(|| LinkInfo {
            method: method[i].clone(),
            weight: weight[i],
            comparisons: comparisons
                .iter()
                .enumerate()
                .map(|(c, name)| (name.clone(), levels[c][i].clone(), weights[c][i]))
                .collect(),
        });
    }
    Ok(out)
}

/// The births behind each village × indicator cell: the births (one row each, with date,
/// sex and village), each basis's village index per birth, and per `indicator|basis` one
/// character per birth: `.` not counted, `d` in the denominator only, `b` in both, `n` in
/// the numerator only (letters: a run of digit codes could read as an ID).
fn drill(input: &ReportInput<'_>) -> Result<Node, ReportError> {
    let Some(ib) = input.indicator_births else {
        return Ok(Json::Null.into());
    };
    let err = ReportError::table("indicator_births");
    // Borrowed from the columns (900 k rows in a city): no owned string per cell.
    let columns =
        ["indicator_id", "basis", "area_code", "birth_id"].map(|c| str_column(ib, c).map_err(&err));
    let [ind, basis, area, birth] = columns;
    let (ind, basis, area, birth) = (ind?, basis?, area?, birth?);
    let num = bools(ib, "in_numerator").map_err(&err)?;
    let den = bools(ib, "in_denominator").map_err(&err)?;
    // Each row's birth and village as its index among the distinct values in order (one
    // hash lookup per row, none where the village repeats the row before): no map from
    // text to index per row of a province's 15 M.
    let ((birth_rank, ids), (area_rank, villages)) = rayon::join(
        || poprecon_indicators::order::text_ranks(&birth),
        || poprecon_indicators::order::text_ranks(&area),
    );
    // The table comes grouped by indicator and basis (15 M rows in a province): the cell
    // and basis of the row before are kept at hand.
    let mut cells: PlHashMap<(&str, &str), Vec<u8>> = PlHashMap::new();
    let mut by_basis: PlHashMap<&str, Vec<i64>> = PlHashMap::new();
    let mut at: Cell<'_> = None;
    type Cell<'a> = Option<((&'a str, &'a str), Vec<u8>, Vec<i64>)>;
    fn put_back<'a>(
        at: Cell<'a>,
        cells: &mut PlHashMap<(&'a str, &'a str), Vec<u8>>,
        by_basis: &mut PlHashMap<&'a str, Vec<i64>>,
    ) {
        if let Some((key, cell, village)) = at {
            cells.insert(key, cell);
            by_basis.insert(key.1, village);
        }
    }
    for (i, (ind, basis)) in ind.iter().zip(basis.iter()).enumerate() {
        let (Some(ind), Some(basis), Some(bi)) = (ind, basis, birth_rank[i].checked_sub(1)) else {
            continue;
        };
        if at.as_ref().is_none_or(|(key, _, _)| *key != (ind, basis)) {
            put_back(at.take(), &mut cells, &mut by_basis);
            let cell = cells
                .remove(&(ind, basis))
                .unwrap_or_else(|| vec![b'.'; ids.len()]);
            let village = by_basis
                .remove(basis)
                .unwrap_or_else(|| vec![-1; ids.len()]);
            at = Some(((ind, basis), cell, village));
        }
        let Some((_, cell, village)) = at.as_mut() else {
            unreachable!("set above")
        };
        let bi = bi as usize;
        cell[bi] = match (num[i], den[i]) {
            (true, true) => b'b',
            (false, true) => b'd',
            (true, false) => b'n',
            (false, false) => b'.',
        };
        if let Some(a) = area_rank[i].checked_sub(1) {
            village[bi] = i64::from(a);
        }
    }
    put_back(at, &mut cells, &mut by_basis);
    // Keyed `indicator|basis` and `basis`, in key order, as the page reads them.
    let cells: BTreeMap<String, Vec<u8>> = cells
        .into_iter()
        .map(|((ind, basis), v)| (format!("{ind}|{basis}"), v))
        .collect();
    let by_basis: BTreeMap<&str, Vec<i64>> = by_basis.into_iter().collect();
    let births = match input.births {
        Some(b) if b.column("birth_id").is_ok() => {
            let berr = ReportError::table("births");
            let want = DataFrame::new(ids.len(), vec![Column::new("birth_id".into(), ids.clone())])
                .map_err(&berr)?;
            let cols: Vec<&str> = [
                "birth_id",
                "birth_date",
                "child_sex",
                "plurality",
                "village",
                "floating",
                "birth_order",
                "policy_category",
            ]
            .into_iter()
            .filter(|c| b.column(c).is_ok())
            .collect();
            // In the order of `ids`, one row per birth (null where births.parquet lacks it).
            let sub = want
                .lazy()
                .join(
                    b.clone()
                        .lazy()
                        .select(cols.iter().map(|c| col(*c)).collect::<Vec<_>>()),
                    [col("birth_id")],
                    [col("birth_id")],
                    JoinArgs::new(JoinType::Left),
                )
                .unique_stable_generic(Some(vec![col("birth_id")]), UniqueKeepStrategy::First)
                .sort(["birth_id"], SortMultipleOptions::default())
                .collect()
                .map_err(&berr)?;
            Node::from(Rows::of("births", &sub, input.audience)?)
        }
        _ => {
            let a = input.audience;
            Node::from(json!({
                "columns": ["birth_id"],
                "rows": ids.iter().map(|b| json!([a.text(b)])).collect::<Vec<_>>(),
            }))
        }
    };
    Ok(Node::members([
        ("births".to_owned(), births),
        ("villages".to_owned(), Json::from(villages).into()),
        (
            "village".to_owned(),
            Json::from(
                by_basis
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), Json::from(v)))
                    .collect::<Map<_, _>>(),
            )
            .into(),
        ),
        (
            "cells".to_owned(),
            Json::from(
                cells
                    .into_iter()
                    .map(|(k, v)| (k, Json::from(String::from_utf8(v).unwrap_or_default())))
                    .collect::<Map<_, _>>(),
            )
            .into(),
        ),
    ]))
}

/// Match weights of the links per stage (the source linked), in bins of one unit of log2
/// odds, per method.
fn link_histogram(links: Option<&DataFrame>) -> Result<Json, ReportError> {
    let Some(links) = links else {
        return Ok(Json::Null);
    };
    let err = ReportError::table("links");
    if links.column("match_weight").is_err() || links.column("source").is_err() {
        return Ok(Json::Null);
    }
    let source = strings(links, "source").map_err(&err)?;
    let method = strings(links, "method").map_err(&err)?;
    let weight = floats(links, "match_weight").map_err(&err)?;
    let mut stages: BTreeMap<&str, Vec<(&str, f64)>> = BTreeMap::new();
    for i in 0..links.height() {
        if let (Some(s), Some(w)) = (&source[i], weight[i]) {
            stages
                .entry(s)
                .or_default()
                .push((method[i].as_deref().unwrap_or(""), w));
        }
    }
    let mut out = Vec::new();
    for (stage, values) in stages {
        let lo = values
            .iter()
            .map(|v| v.1)
            .fold(f64::INFINITY, f64::min)
            .floor();
        let hi = values
            .iter()
            .map(|v| v.1)
            .fold(f64::NEG_INFINITY, f64::max)
            .floor();
        let bins = (hi - lo) as usize + 1;
        let mut counts: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
        for (m, w) in values {
            let b = ((w - lo).floor() as usize).min(bins - 1);
            counts.entry(m).or_insert_with(|| vec![0; bins])[b] += 1;
        }
        out.push(json!({ "source": stage, "lo": lo, "counts": counts }));
    }
    Ok(Json::Array(out))
}

/// Data quality: jurisdiction-wide per source, metric and field, and per source, village and
/// metric (fields summed).
fn quality(q: Option<&DataFrame>, a: Audience) -> Result<Node, ReportError> {
    let Some(q) = q else {
        return Ok(Json::Null.into());
    };
    let has = |c: &str| q.column(c).is_ok();
    if !(has("source") && has("metric") && has("numerator") && has("denominator")) {
        return Ok(Node::members([
            ("summary".to_owned(), Rows::of("quality", q, a)?.into()),
            ("villages".to_owned(), Json::Null.into()),
        ]));
    }
    let err = ReportError::table("data_quality");
    let rate = (col("numerator").cast(DataType::Float64)
        / col("denominator").cast(DataType::Float64))
    .alias("value");
    let sums = [
        col("numerator").sum().alias("numerator"),
        col("denominator").sum().alias("denominator"),
    ];
    let mut keys = vec![col("source"), col("metric")];
    if has("field") {
        keys.push(col("field"));
    }
    let summary = q
        .clone()
        .lazy()
        .group_by(keys.clone())
        .agg(sums.clone())
        .with_column(rate.clone())
        .sort_by_exprs(keys, SortMultipleOptions::default())
        .collect()
        .map_err(&err)?;
    let villages = if has("village") {
        let keys = vec![col("source"), col("village"), col("metric")];
        Some(
            q.clone()
                .lazy()
                .filter(
                    col("metric")
                        .eq(lit("completeness"))
                        .or(col("metric").eq(lit("timeliness")))
                        .or(col("metric").eq(lit("invalid_share"))),
                )
                .group_by(keys.clone())
                .agg(sums)
                .with_column(rate)
                .sort_by_exprs(keys, SortMultipleOptions::default())
                .collect()
                .map_err(&err)?,
        )
    } else {
        None
    };
    Ok(Node::members([
        (
            "summary".to_owned(),
            Rows::of("data_quality", &summary, a)?.into(),
        ),
        (
            "villages".to_owned(),
            match villages {
                Some(v) => Rows::of("data_quality", &v, a)?.into(),
                None => Json::Null.into(),
            },
        ),
    ]))
}

/// Quarantine per source: each reason and field with its count and a few examples (file
/// name, line, the raw row masked).
fn quarantine(input: &ReportInput<'_>) -> Result<Json, ReportError> {
    let a = input.audience;
    let mut out = Vec::new();
    for (source, q) in input.quarantine {
        if q.height() == 0 || q.column("reason").is_err() {
            continue;
        }
        let err = ReportError::table("quarantine");
        let reason = strings(q, "reason").map_err(&err)?;
        let field = if q.column("field").is_ok() {
            strings(q, "field").map_err(&err)?
        } else {
            vec![None; q.height()]
        };
        let file = if q.column("file").is_ok() {
            strings(q, "file").map_err(&err)?
        } else {
            vec![None; q.height()]
        };
        let line = if q.column("line").is_ok() {
            column_values(q.column("line").map_err(&err)?.as_materialized_series(), a)
                .map_err(&err)?
        } else {
            vec![Json::Null; q.height()]
        };
        let raw = if q.column("raw").is_ok() {
            strings(q, "raw").map_err(&err)?
        } else {
            vec![None; q.height()]
        };
        let mut groups: BTreeMap<(String, String), (u64, Vec<Json>)> = BTreeMap::new();
        for i in 0..q.height() {
            let g = groups
                .entry((
                    reason[i].clone().unwrap_or_default(),
                    field[i].clone().unwrap_or_default(),
                ))
                .or_default();
            g.0 += 1;
            if g.1.len() < input.limits.quarantine_examples {
                let name = file[i]
                    .as_deref()
                    .map(|f| f.rsplit(['/', '\\']).next().unwrap_or(f))
                    .unwrap_or("");
                let raw: String = raw[i].as_deref().unwrap_or("").chars().take(240).collect();
                g.1.push(json!([a.text(name), line[i], a.text(&raw)]));
            }
        }
        for ((reason, field), (count, examples)) in groups {
            out.push(json!([source, reason, field, count, examples]));
        }
    }
    Ok(Json::Array(out))
}
