//! The tables of [`crate::LinkOutput`] other than `births`.

use std::collections::{BTreeMap, HashSet};

use polars::prelude::*;

use crate::births::{Birth, birth_id};
use crate::compare::{FIELDS, N_FIELDS};
use crate::prepare::{Dup, Src, key_order};
use crate::stage::{Conflict, Ctx, Entity, Method, Party, StageReport};

/// `links`: one row per record linked to a birth of the period (the record each birth
/// started from excepted), with its match weight and each comparison's level and weight.
pub(crate) fn links(ctx: &Ctx<'_>, ents: &[Entity], births: &[Birth]) -> PolarsResult<DataFrame> {
    let mut birth_col: Vec<&str> = Vec::new();
    let mut source: Vec<&str> = Vec::new();
    let mut key: Vec<&str> = Vec::new();
    let mut method: Vec<&str> = Vec::new();
    let mut weight: Vec<Option<f64>> = Vec::new();
    let mut levels: Vec<Vec<&str>> = vec![Vec::new(); N_FIELDS];
    let mut weights: Vec<Vec<f64>> = vec![Vec::new(); N_FIELDS];
    for b in births {
        let ent = &ents[b.entity as usize];
        for s in Src::ALL {
            let (Some(i), Some(link)) = (ent.members[s.index()], &ent.links[s.index()]) else {
                continue;
            };
            if link.method == Method::Anchor {
                continue;
            }
            birth_col.push(&b.birth_id);
            source.push(s.id());
            key.push(&ctx.rec(s, i).key);
            method.push(link.method.as_str());
            weight.push(link.weight);
            for f in 0..N_FIELDS {
                let l = link.levels[f];
                levels[f].push(if l == 0 {
                    "null"
                } else {
                    FIELDS[f].kind.levels()[usize::from(l) - 1]
                });
                weights[f].push(link.weights[f]);
            }
        }
    }
    let n = birth_col.len();
    let mut cols = vec![
        Column::new("birth_id".into(), birth_col),
        Column::new("source".into(), source),
        Column::new("key".into(), key),
        Column::new("method".into(), method),
        Column::new("match_weight".into(), weight),
    ];
    for f in 0..N_FIELDS {
        cols.push(Column::new(
            format!("{}_level", FIELDS[f].name).into(),
            std::mem::take(&mut levels[f]),
        ));
        cols.push(Column::new(
            format!("{}_weight", FIELDS[f].name).into(),
            std::mem::take(&mut weights[f]),
        ));
    }
    DataFrame::new(n, cols)
}

/// For every record, the birth it ended in.
pub(crate) fn record_births(ctx: &Ctx<'_>, ents: &[Entity]) -> [Vec<u32>; 4] {
    let mut out: [Vec<u32>; 4] = std::array::from_fn(|s| vec![u32::MAX; ctx.recs[s].len()]);
    for (e, ent) in ents.iter().enumerate() {
        for s in Src::ALL {
            if let Some(i) = ent.members[s.index()] {
                out[s.index()][i as usize] = e as u32;
            }
        }
    }
    out
}

/// `ambiguous`: one row per candidate of a contested link that concerns a birth of the
/// period. A `tie` row: `contested` matched each of its `candidate`s with the same weight
/// (domain.md `ambiguous_link`); the pair of smaller key order was linked. An `outweighed`
/// row pair: the winning and the losing candidate of a record that only one could have.
pub(crate) fn ambiguous(
    ctx: &Ctx<'_>,
    ents: &[Entity],
    births: &[Birth],
    conflicts: &[Conflict],
) -> PolarsResult<DataFrame> {
    let rec_birth = record_births(ctx, ents);
    let period: HashSet<u32> = births.iter().map(|b| b.entity).collect();
    let party = |p: Party| -> (Src, &str, u32) {
        match p {
            Party::Birth(e) => {
                let (s, i) = ents[e as usize].anchor();
                (s, ctx.rec(s, i).key.as_str(), e)
            }
            Party::Record(s, i) => (
                s,
                ctx.rec(s, i).key.as_str(),
                rec_birth[s.index()][i as usize],
            ),
        }
    };
    let mut rows: Vec<_> = conflicts
        .iter()
        .map(|c| (c, party(c.contested), party(c.candidate)))
        .filter(|(_, a, b)| period.contains(&a.2) || period.contains(&b.2))
        .collect();
    rows.sort_by(|(x, xa, xb), (y, ya, yb)| {
        xa.0.cmp(&ya.0)
            .then(key_order(xa.1, ya.1))
            .then(x.stage.cmp(&y.stage))
            .then(x.kind.cmp(&y.kind))
            .then(xb.0.cmp(&yb.0))
            .then(key_order(xb.1, yb.1))
    });
    let bid = |e: u32| -> Option<String> {
        (e != u32::MAX).then(|| {
            let (s, i) = ents[e as usize].anchor();
            birth_id(s, &ctx.rec(s, i).key)
        })
    };
    let n = rows.len();
    DataFrame::new(
        n,
        vec![
            Column::new(
                "contested_source".into(),
                rows.iter().map(|r| r.1.0.id()).collect::<Vec<_>>(),
            ),
            Column::new(
                "contested_key".into(),
                rows.iter().map(|r| r.1.1).collect::<Vec<_>>(),
            ),
            Column::new(
                "contested_birth_id".into(),
                rows.iter().map(|r| bid(r.1.2)).collect::<Vec<_>>(),
            ),
            Column::new(
                "stage".into(),
                rows.iter().map(|r| r.0.stage.id()).collect::<Vec<_>>(),
            ),
            Column::new(
                "kind".into(),
                rows.iter().map(|r| r.0.kind.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                "candidate_source".into(),
                rows.iter().map(|r| r.2.0.id()).collect::<Vec<_>>(),
            ),
            Column::new(
                "candidate_key".into(),
                rows.iter().map(|r| r.2.1).collect::<Vec<_>>(),
            ),
            Column::new(
                "candidate_birth_id".into(),
                rows.iter().map(|r| bid(r.2.2)).collect::<Vec<_>>(),
            ),
            Column::new(
                "match_weight".into(),
                rows.iter().map(|r| r.0.weight).collect::<Vec<_>>(),
            ),
            Column::new(
                "linked".into(),
                rows.iter().map(|r| r.1.2 == r.2.2).collect::<Vec<_>>(),
            ),
        ],
    )
}

/// `duplicates`: the extra copies left out of linkage.
pub(crate) fn duplicates(dups: &[Dup]) -> PolarsResult<DataFrame> {
    let mut dups: Vec<&Dup> = dups.iter().collect();
    dups.sort_by(|a, b| {
        a.src
            .cmp(&b.src)
            .then(key_order(&a.key, &b.key))
            .then(a.line.cmp(&b.line))
    });
    let n = dups.len();
    DataFrame::new(
        n,
        vec![
            Column::new(
                "source".into(),
                dups.iter().map(|d| d.src.id()).collect::<Vec<_>>(),
            ),
            Column::new(
                "key".into(),
                dups.iter().map(|d| d.key.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                "source_line".into(),
                dups.iter().map(|d| d.line).collect::<Vec<_>>(),
            ),
            Column::new(
                "kept_key".into(),
                dups.iter().map(|d| d.kept_key.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                "reason".into(),
                dups.iter().map(|d| d.reason).collect::<Vec<_>>(),
            ),
        ],
    )
}

#[derive(Default)]
struct VillageCounts {
    births: u32,
    records: u32,
    linked: u32,
    deterministic: u32,
    probabilistic: u32,
}

/// `diagnostics`: per village (of attribution) and source, the births, the source's records
/// among them, how many are linked to another source (and how), and how many stand alone.
pub(crate) fn diagnostics(ents: &[Entity], births: &[Birth]) -> PolarsResult<DataFrame> {
    let mut counts: BTreeMap<(Option<&str>, Src), VillageCounts> = BTreeMap::new();
    for b in births {
        let ent = &ents[b.entity as usize];
        let sources = ent.members.iter().filter(|m| m.is_some()).count();
        for s in Src::ALL {
            let c = counts.entry((b.village.as_deref(), s)).or_default();
            c.births += 1;
            let Some(link) = &ent.links[s.index()] else {
                continue;
            };
            c.records += 1;
            if sources > 1 {
                c.linked += 1;
            }
            match link.method {
                // A reviewer's link is as certain as a deterministic one.
                Method::Deterministic | Method::Decision => c.deterministic += 1,
                Method::Probabilistic => c.probabilistic += 1,
                Method::Anchor => {}
            }
        }
    }
    let rows: Vec<_> = counts.into_iter().collect();
    let n = rows.len();
    DataFrame::new(
        n,
        vec![
            Column::new(
                "village".into(),
                rows.iter().map(|((v, _), _)| *v).collect::<Vec<_>>(),
            ),
            Column::new(
                "source".into(),
                rows.iter().map(|((_, s), _)| s.id()).collect::<Vec<_>>(),
            ),
            Column::new(
                "births".into(),
                rows.iter().map(|(_, c)| c.births).collect::<Vec<_>>(),
            ),
            Column::new(
                "records".into(),
                rows.iter().map(|(_, c)| c.records).collect::<Vec<_>>(),
            ),
            Column::new(
                "linked".into(),
                rows.iter().map(|(_, c)| c.linked).collect::<Vec<_>>(),
            ),
            Column::new(
                "deterministic".into(),
                rows.iter()
                    .map(|(_, c)| c.deterministic)
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "probabilistic".into(),
                rows.iter()
                    .map(|(_, c)| c.probabilistic)
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "unlinked".into(),
                rows.iter()
                    .map(|(_, c)| c.records - c.linked)
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "linked_share".into(),
                rows.iter()
                    .map(|(_, c)| {
                        (c.records > 0).then(|| f64::from(c.linked) / f64::from(c.records))
                    })
                    .collect::<Vec<_>>(),
            ),
        ],
    )
}

/// `model`: each stage's estimated parameters, so that a weight can be traced to its m and
/// u. The row `prior`/`lambda` holds the share of candidate pairs that are matches (in `m`)
/// and its log2 odds (in `weight`).
pub(crate) fn model(reports: &[StageReport]) -> PolarsResult<DataFrame> {
    let mut stage = Vec::new();
    let mut comparison = Vec::new();
    let mut level = Vec::new();
    let mut m = Vec::new();
    let mut u: Vec<Option<f64>> = Vec::new();
    let mut weight = Vec::new();
    let mut candidates = Vec::new();
    for r in reports {
        let Some(model) = &r.model else { continue };
        stage.push(r.src.id());
        comparison.push("prior");
        level.push("lambda");
        m.push(model.lambda);
        u.push(None);
        weight.push(model.log2_prior());
        candidates.push(r.candidates as u64);
        for (f, def) in FIELDS.iter().enumerate() {
            for (l, name) in def.kind.levels().iter().enumerate() {
                stage.push(r.src.id());
                comparison.push(def.name);
                level.push(*name);
                m.push(model.m[f][l]);
                u.push(Some(model.u[f][l]));
                weight.push(model.weight[f][l]);
                candidates.push(r.candidates as u64);
            }
        }
    }
    let n = stage.len();
    DataFrame::new(
        n,
        vec![
            Column::new("stage".into(), stage),
            Column::new("comparison".into(), comparison),
            Column::new("level".into(), level),
            Column::new("m".into(), m),
            Column::new("u".into(), u),
            Column::new("weight".into(), weight),
            Column::new("candidate_pairs".into(), candidates),
        ],
    )
}
