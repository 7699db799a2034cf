//! One linkage stage: the records of one source joined to the births built so far.
//!
//! Births start as the live deliveries; certificates, then household children, then
//! vaccinated children are linked to them in turn, each unlinked record starting a birth of
//! its own. A record is compared with a birth through every record the birth already has
//! (the strongest agreement per field counts), so a certificate's child name helps to link
//! the household row and the household row's child ID helps to link the vaccination child.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hash, Hasher};

use rayon::prelude::*;

use crate::compare::{
    BIRTH_DATE, CHILD_NAME, CHILD_SEX, FATHER_ID, FIELDS, INSTITUTION, Kind, Levels, MOTHER_ID,
    MOTHER_NAME, N_FIELDS, Tolerances, compare, merge_best,
};
use crate::config::{BlockingKey, BlockingRule, LinkConfig};
use crate::decisions::{Constraints, StageDecisions};
use crate::model::{self, Model, TermFreq};
use crate::prepare::{Rec, Src};

/// What every stage reads.
pub(crate) struct Ctx<'a> {
    pub recs: [&'a [Rec]; 4],
    pub cfg: &'a LinkConfig,
    pub tol: Tolerances,
    pub tf: Option<&'a TermFreq>,
}

impl Ctx<'_> {
    pub(crate) fn rec(&self, src: Src, i: u32) -> &Rec {
        &self.recs[src.index()][i as usize]
    }
}

/// A birth being built: at most one record of each source.
#[derive(Debug, Clone, Default)]
pub(crate) struct Entity {
    pub members: [Option<u32>; 4],
    pub links: [Option<LinkInfo>; 4],
}

impl Entity {
    /// The first record of the birth in source order: what its id derives from.
    pub(crate) fn anchor(&self) -> (Src, u32) {
        Src::ALL
            .into_iter()
            .find_map(|s| self.members[s.index()].map(|i| (s, i)))
            .expect("a birth has a record")
    }
}

#[derive(Debug, Clone)]
pub(crate) struct LinkInfo {
    pub method: Method,
    /// Match weight (log2 odds, prior included); `None` for the record a birth started from.
    pub weight: Option<f64>,
    pub levels: Levels,
    pub weights: [f64; N_FIELDS],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    /// The record the birth started from.
    Anchor,
    Deterministic,
    Probabilistic,
    /// A reviewer's `must_link` decision.
    Decision,
}

impl Method {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Method::Anchor => "anchor",
            Method::Deterministic => "deterministic",
            Method::Probabilistic => "probabilistic",
            Method::Decision => "decision",
        }
    }
}

/// One side of a contested link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Party {
    Birth(u32),
    Record(Src, u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum ConflictKind {
    /// The contested party matched two or more candidates equally well.
    Tie,
    /// A candidate lost the contested party to a better-weighted one and stayed unlinked.
    Outweighed,
}

impl ConflictKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ConflictKind::Tie => "tie",
            ConflictKind::Outweighed => "outweighed",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Conflict {
    pub stage: Src,
    pub kind: ConflictKind,
    pub contested: Party,
    pub candidate: Party,
    pub weight: f64,
}

/// What a stage did, for the `model` table and the logs.
#[derive(Debug, Clone)]
pub(crate) struct StageReport {
    pub src: Src,
    pub model: Option<Model>,
    pub candidates: usize,
}

/// A scored candidate pair.
#[derive(Debug, Clone)]
struct Cand {
    e: u32,
    r: u32,
    levels: Levels,
    det: bool,
    weight: f64,
    date_gap: Option<i32>,
    identified: bool,
    /// A reviewer's `must_link`: linked first, whatever its weight.
    forced: bool,
}

/// Links the records of `src` to the births; unlinked records become births.
pub(crate) fn run(
    ctx: &Ctx<'_>,
    ents: &mut Vec<Entity>,
    src: Src,
    conflicts: &mut Vec<Conflict>,
    decisions: &mut Constraints,
) -> StageReport {
    let recs = ctx.recs[src.index()];
    let _span = tracing::debug_span!("stage", source = src.id(), records = recs.len()).entered();
    if ents.is_empty() || recs.is_empty() {
        start_births(ents, src, recs.len(), &vec![false; recs.len()]);
        return StageReport {
            src,
            model: None,
            candidates: 0,
        };
    }
    let StageDecisions { forbidden, forced } = decisions.for_stage(src, ents);
    let mut pairs = candidates(ctx, ents, src);
    if !forbidden.is_empty() || !forced.is_empty() {
        pairs.retain(|p| !forbidden.contains(p));
        pairs.extend(forced.iter().copied());
        pairs.sort_unstable();
        pairs.dedup();
    }
    let compared: Vec<(Levels, bool, Option<i32>)> = pairs
        .par_iter()
        .map(|&(e, r)| compare_birth(ctx, &ents[e as usize], ctx.rec(src, r)))
        .collect();
    let u = model::u_from_counts(&random_pair_counts(ctx, ents, src));
    let mut patterns: BTreeMap<Levels, u64> = BTreeMap::new();
    let mut det = 0usize;
    for (levels, d, _) in &compared {
        *patterns.entry(*levels).or_default() += 1;
        det += usize::from(*d);
    }
    let init_lambda = if det > 0 {
        det as f64 / compared.len() as f64
    } else {
        0.1
    };
    let patterns: Vec<(Levels, u64)> = patterns.into_iter().collect();
    let model = model::estimate(
        &patterns,
        u,
        init_lambda.clamp(0.01, 0.9),
        ctx.cfg.em_prior_pairs,
        ctx.cfg.em_max_iterations,
    );
    // Only the candidates that can be linked or contested are kept (`eligible`): the others
    // take no part in the assignment, and a province's blocks give tens of millions.
    let candidates = pairs.len();
    let forced: HashSet<(u32, u32)> = forced.into_iter().collect();
    let cands: Vec<Cand> = pairs
        .into_par_iter()
        .zip(compared.into_par_iter())
        .filter_map(|((e, r), (levels, det, gap))| {
            let (weight, _) = model.score(&levels, ctx.rec(src, r), ctx.tf);
            let c = Cand {
                e,
                r,
                levels,
                det,
                weight,
                date_gap: gap,
                identified: identifies(&levels),
                forced: forced.contains(&(e, r)),
            };
            eligible(ctx.cfg, &c, 1).then_some(c)
        })
        .collect();
    let linked = assign(ctx, ents, src, recs.len(), &cands, &model, conflicts);
    tracing::debug!(
        candidates,
        eligible = cands.len(),
        linked = linked.iter().filter(|l| **l).count(),
        em_iterations = model.em_iterations,
        "stage done"
    );
    start_births(ents, src, recs.len(), &linked);
    StageReport {
        src,
        model: Some(model),
        candidates,
    }
}

/// Whether a candidate can be linked in `round`: deterministic or forced in the first; in
/// the second also a probabilistic pair at or above the threshold that identifies, within
/// the largest date gap.
fn eligible(cfg: &LinkConfig, c: &Cand, round: usize) -> bool {
    match round {
        0 => c.det || c.forced,
        _ => {
            c.det
                || c.forced
                || (c.weight >= cfg.match_threshold
                    && c.identified
                    && c.date_gap.is_none_or(|g| g <= cfg.max_date_gap_days))
        }
    }
}

fn start_births(ents: &mut Vec<Entity>, src: Src, n: usize, linked: &[bool]) {
    for (r, _) in linked.iter().enumerate().filter(|(_, l)| !**l).take(n) {
        let mut e = Entity::default();
        e.members[src.index()] = Some(r as u32);
        e.links[src.index()] = Some(LinkInfo {
            method: Method::Anchor,
            weight: None,
            levels: [0; N_FIELDS],
            weights: [0.0; N_FIELDS],
        });
        ents.push(e);
    }
}

/// Compares a record with a birth: per field the strongest agreement with any of the
/// birth's records; whether a deterministic rule links them (same valid mother ID and birth
/// date, or same valid child ID); and the smallest birth-date gap.
fn compare_birth(ctx: &Ctx<'_>, e: &Entity, r: &Rec) -> (Levels, bool, Option<i32>) {
    let mut acc = [0u8; N_FIELDS];
    let mut det = false;
    let mut gap: Option<i32> = None;
    for s in Src::ALL {
        let Some(i) = e.members[s.index()] else {
            continue;
        };
        let m = ctx.rec(s, i);
        merge_best(&mut acc, &compare(m, r, ctx.tol));
        det |= (m.mother_id.is_some() && m.mother_id == r.mother_id && m.date == r.date)
            || (m.child_id.is_some() && m.child_id == r.child_id);
        if let (Some(a), Some(b)) = (m.date, r.date) {
            let g = (a - b).abs();
            gap = Some(gap.map_or(g, |x| x.min(g)));
        }
    }
    // The same mother and date are a co-twin's too: not deterministic for another child.
    (acc, det && !another_child(&acc), gap)
}

/// Whether a comparison disagrees outright on both the child's name and sex: another child
/// of the same mother (a co-twin, a sibling), whatever else agrees.
fn another_child(levels: &Levels) -> bool {
    different(levels, CHILD_NAME) && different(levels, CHILD_SEX)
}

/// Whether field `i` disagrees outright (its last level).
fn different(levels: &Levels, i: usize) -> bool {
    levels[i] == FIELDS[i].kind.levels().len() as u8
}

/// Whether a comparison has an identifying agreement: an ID within two digits or a name
/// within one edit. Date, sex and village alone fit every child born that day in that
/// village; they support a link but never make one.
///
/// Two mother IDs three or more digits apart and another outright disagreement on who the
/// family is are two families, and a name, which many people share, then identifies
/// nothing:
/// - the mother's name, when the father's IDs or the child's names disagree too, or when
///   neither the birth date nor the institution is the same: a common name and a date a
///   few days off do not outweigh an ID that names another woman;
/// - the child's name, when the father's IDs disagree too. Not when only the mother's
///   names do: a household row's mother name is read off the row of the woman its mother
///   ID names, so a wrong mother ID brings a wrong name with it, one mistake, not two.
///
/// A record that names the wrong mother alone still links to its child. A record that
/// disagrees on both the child's name and sex is another child ([`another_child`]): nothing
/// identifies it.
pub(crate) fn identifies(levels: &Levels) -> bool {
    if another_child(levels) {
        return false;
    }
    let different = |i: usize| different(levels, i);
    let other_father = different(MOTHER_ID) && different(FATHER_ID);
    // Another specific agreement: the same birth date, or the same institution.
    let seconded = levels[BIRTH_DATE] == 1 || levels[INSTITUTION] == 1;
    let mother_name_identifies =
        !(other_father || (different(MOTHER_ID) && (different(CHILD_NAME) || !seconded)));
    FIELDS.iter().enumerate().any(|(i, f)| {
        let l = levels[i];
        l > 0
            && match f.kind {
                Kind::Id => l <= 5,
                Kind::Name => {
                    l <= 3
                        && (i != MOTHER_NAME || mother_name_identifies)
                        && (i != CHILD_NAME || !other_father)
                }
                _ => false,
            }
    })
}

/// FxHash (rustc's hash): fast, and the same on every run, for the in-memory indexes of a
/// stage. Nothing of it reaches an output.
#[derive(Debug, Default, Clone, Copy)]
struct FxHasher(u64);

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut b = [0u8; 8];
            b[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(b) ^ ((rest.len() as u64) << 56));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    fn write_i32(&mut self, i: i32) {
        self.add(u64::from(i as u32));
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// The records of one blocking rule: (key hash, birth date, record) sorted, and where each
/// key's run starts and ends, so that a key is one lookup and a date window one binary
/// search within its run. Rules without a window index every record at date 0.
struct BlockIndex {
    entries: Vec<(u64, i32, u32)>,
    runs: FxMap<u64, (u32, u32)>,
}

impl BlockIndex {
    fn new(recs: &[Rec], rule: &BlockingRule) -> Self {
        let mut entries: Vec<(u64, i32, u32)> = recs
            .iter()
            .enumerate()
            .filter_map(|(i, r)| {
                let h = block_hash(r, rule)?;
                let d = match rule.date_window {
                    Some(_) => r.date?,
                    None => 0,
                };
                Some((h, d, i as u32))
            })
            .collect();
        entries.sort_unstable();
        let mut runs: FxMap<u64, (u32, u32)> = FxMap::default();
        let mut start = 0;
        for i in 1..=entries.len() {
            if i == entries.len() || entries[i].0 != entries[start].0 {
                runs.insert(entries[start].0, (start as u32, i as u32));
                start = i;
            }
        }
        BlockIndex { entries, runs }
    }

    /// The records with key `h` dated within [from, to].
    fn get(&self, h: u64, from: i32, to: i32) -> impl Iterator<Item = u32> + '_ {
        let run = self.runs.get(&h).map_or(&self.entries[..0], |&(a, b)| {
            &self.entries[a as usize..b as usize]
        });
        let lo = run.partition_point(|e| e.1 < from);
        let hi = run.partition_point(|e| e.1 <= to);
        run[lo..hi].iter().map(|e| e.2)
    }
}

/// A hash of a record's blocking key, `None` when the record lacks a part of it. Equal keys
/// hash equal; a collision only adds a candidate, which is then scored like any other.
fn block_hash(r: &Rec, rule: &BlockingRule) -> Option<u64> {
    let mut h = FxHasher::default();
    for key in &rule.on {
        std::mem::discriminant(key).hash(&mut h);
        match key {
            BlockingKey::MotherId => r.mother_id.as_ref()?.hash(&mut h),
            BlockingKey::MotherIdHead => r.mother_digits.as_ref()?[..14].hash(&mut h),
            BlockingKey::MotherIdTail => r.mother_digits.as_ref()?[6..].hash(&mut h),
            BlockingKey::MotherIdEnds => {
                let d = r.mother_digits.as_ref()?;
                d[..6].hash(&mut h);
                d[14..].hash(&mut h);
            }
            BlockingKey::MotherName => r.mother_name.as_ref()?.text.hash(&mut h),
            BlockingKey::ChildId => r.child_id.as_ref()?.hash(&mut h),
            BlockingKey::ChildName => r.child_name.as_ref()?.text.hash(&mut h),
            BlockingKey::Institution => {
                for c in r
                    .institution
                    .as_ref()?
                    .chars()
                    .filter(|c| !c.is_whitespace())
                {
                    c.hash(&mut h);
                }
            }
            BlockingKey::County => r.village.as_ref()?.get(..6)?.hash(&mut h),
            BlockingKey::Village => r.village.as_ref()?.hash(&mut h),
            BlockingKey::ChildSex => r.sex.filter(|s| matches!(s, 1 | 2))?.hash(&mut h),
        }
    }
    Some(h.finish())
}

/// Candidate pairs (birth, record), sorted and unique: the union of the blocking rules and
/// of the deterministic rules.
fn candidates(ctx: &Ctx<'_>, ents: &[Entity], src: Src) -> Vec<(u32, u32)> {
    let mut rules = ctx.cfg.blocking.clone();
    rules.push(BlockingRule {
        on: vec![BlockingKey::MotherId],
        date_window: Some(0),
    });
    rules.push(BlockingRule {
        on: vec![BlockingKey::ChildId],
        date_window: None,
    });
    let recs = ctx.recs[src.index()];
    let index: Vec<BlockIndex> = rules
        .par_iter()
        .map(|rule| BlockIndex::new(recs, rule))
        .collect();
    let per_birth: Vec<Vec<(u32, u32)>> = ents
        .par_iter()
        .enumerate()
        .map(|(e, ent)| {
            let mut found: Vec<u32> = Vec::new();
            for s in Src::ALL {
                let Some(i) = ent.members[s.index()] else {
                    continue;
                };
                let m = ctx.rec(s, i);
                for (rule, entries) in rules.iter().zip(&index) {
                    let Some(h) = block_hash(m, rule) else {
                        continue;
                    };
                    let (from, to) = match rule.date_window {
                        Some(w) => {
                            let Some(d) = m.date else { continue };
                            (d - w, d + w)
                        }
                        None => (0, 0),
                    };
                    found.extend(entries.get(h, from, to));
                }
            }
            found.sort_unstable();
            found.dedup();
            found.into_iter().map(|r| (e as u32, r)).collect()
        })
        .collect();
    per_birth.into_iter().flatten().collect()
}

/// Level counts over random (birth, record) pairs, or over all of them when there are no
/// more than the sample size. The draw is seeded, so the counts are the same on every run.
fn random_pair_counts(ctx: &Ctx<'_>, ents: &[Entity], src: Src) -> [Vec<u64>; N_FIELDS] {
    let recs = ctx.recs[src.index()];
    let (ne, nr) = (ents.len() as u64, recs.len() as u64);
    let want = u64::from(ctx.cfg.u_sample_pairs);
    let pairs: Vec<(u32, u32)> = if ne * nr <= want {
        (0..ne)
            .flat_map(|e| (0..nr).map(move |r| (e as u32, r as u32)))
            .collect()
    } else {
        let mut state = ctx.cfg.seed ^ (src.index() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (0..want)
            .map(|_| {
                let e = splitmix64(&mut state) % ne;
                let r = splitmix64(&mut state) % nr;
                (e as u32, r as u32)
            })
            .collect()
    };
    let levels: Vec<Levels> = pairs
        .par_iter()
        .map(|&(e, r)| compare_birth(ctx, &ents[e as usize], ctx.rec(src, r)).0)
        .collect();
    let mut counts = model::level_counts();
    for l in &levels {
        model::count_levels(&mut counts, l, 1);
    }
    counts
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// One-to-one assignment: first the deterministic pairs, then the probabilistic ones at or
/// above the threshold, each round by decreasing weight. Equal weights are ties: the pair
/// of the smaller birth and record index is taken (indexes follow key order) and every tied
/// candidate is reported. Records left unlinked while a candidate of theirs went to a
/// better-weighted rival are reported too. Returns which records were linked.
fn assign(
    ctx: &Ctx<'_>,
    ents: &mut [Entity],
    src: Src,
    n_recs: usize,
    cands: &[Cand],
    model: &model::Model,
    conflicts: &mut Vec<Conflict>,
) -> Vec<bool> {
    let cfg = ctx.cfg;
    let eps = cfg.tie_epsilon;
    let eligible = |c: &Cand, round: usize| eligible(cfg, c, round);
    let mut by_e: Vec<Vec<usize>> = vec![Vec::new(); ents.len()];
    let mut by_r: Vec<Vec<usize>> = vec![Vec::new(); n_recs];
    for (i, c) in cands.iter().enumerate() {
        by_e[c.e as usize].push(i);
        by_r[c.r as usize].push(i);
    }
    let mut order: Vec<usize> = (0..cands.len()).collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (&cands[a], &cands[b]);
        y.forced
            .cmp(&x.forced)
            .then(y.weight.total_cmp(&x.weight))
            .then(x.e.cmp(&y.e))
            .then(x.r.cmp(&y.r))
    });
    let mut e_taken: Vec<Option<usize>> = vec![None; ents.len()];
    let mut r_taken: Vec<Option<usize>> = vec![None; n_recs];
    let mut found = Vec::new();
    for round in 0..2 {
        for &i in &order {
            let c = &cands[i];
            if !eligible(c, round)
                || e_taken[c.e as usize].is_some()
                || r_taken[c.r as usize].is_some()
            {
                continue;
            }
            let tie = |j: &usize| {
                !c.forced
                    && *j != i
                    && eligible(&cands[*j], round)
                    && (cands[*j].weight - c.weight).abs() <= eps
            };
            let rival_records: Vec<usize> = by_e[c.e as usize]
                .iter()
                .filter(|j| tie(j) && r_taken[cands[**j].r as usize].is_none())
                .copied()
                .collect();
            if !rival_records.is_empty() {
                for j in std::iter::once(i).chain(rival_records) {
                    found.push(Conflict {
                        stage: src,
                        kind: ConflictKind::Tie,
                        contested: Party::Birth(c.e),
                        candidate: Party::Record(src, cands[j].r),
                        weight: cands[j].weight,
                    });
                }
            }
            let rival_births: Vec<usize> = by_r[c.r as usize]
                .iter()
                .filter(|j| tie(j) && e_taken[cands[**j].e as usize].is_none())
                .copied()
                .collect();
            if !rival_births.is_empty() {
                for j in std::iter::once(i).chain(rival_births) {
                    found.push(Conflict {
                        stage: src,
                        kind: ConflictKind::Tie,
                        contested: Party::Record(src, c.r),
                        candidate: Party::Birth(cands[j].e),
                        weight: cands[j].weight,
                    });
                }
            }
            e_taken[c.e as usize] = Some(i);
            r_taken[c.r as usize] = Some(i);
        }
    }
    // Losers: an unlinked record whose candidate birth took another record, and a birth
    // left without a record of this source whose candidate record went to another birth.
    // Not when the weights are equal: that is a tie, reported as one above.
    let outweighed = |loser: usize, winner: usize| cands[winner].weight - cands[loser].weight > eps;
    for (r, taken) in r_taken.iter().enumerate() {
        if taken.is_some() {
            continue;
        }
        for &j in &by_r[r] {
            let c = &cands[j];
            if !eligible(c, 1) {
                continue;
            }
            if let Some(w) = e_taken[c.e as usize].filter(|&w| outweighed(j, w)) {
                push_outweighed(&mut found, src, Party::Birth(c.e), cands, j, w, |c| {
                    Party::Record(src, c.r)
                });
            }
        }
    }
    for e in (0..ents.len()).filter(|&e| e_taken[e].is_none()) {
        for &j in &by_e[e] {
            let c = &cands[j];
            if !eligible(c, 1) {
                continue;
            }
            if let Some(w) = r_taken[c.r as usize].filter(|&w| outweighed(j, w)) {
                push_outweighed(&mut found, src, Party::Record(src, c.r), cands, j, w, |c| {
                    Party::Birth(c.e)
                });
            }
        }
    }
    conflicts.extend(found);
    let mut linked = vec![false; n_recs];
    for i in e_taken.into_iter().flatten() {
        let c = &cands[i];
        let e = &mut ents[c.e as usize];
        e.members[src.index()] = Some(c.r);
        e.links[src.index()] = Some(LinkInfo {
            method: if c.forced {
                Method::Decision
            } else if c.det {
                Method::Deterministic
            } else {
                Method::Probabilistic
            },
            weight: Some(c.weight),
            levels: c.levels,
            // Per field, as the weight was scored (the same sums, again).
            weights: model.score(&c.levels, ctx.rec(src, c.r), ctx.tf).1,
        });
        linked[c.r as usize] = true;
    }
    linked
}

fn push_outweighed(
    found: &mut Vec<Conflict>,
    src: Src,
    contested: Party,
    cands: &[Cand],
    loser: usize,
    winner: usize,
    candidate: impl Fn(&Cand) -> Party,
) {
    for j in [winner, loser] {
        found.push(Conflict {
            stage: src,
            kind: ConflictKind::Outweighed,
            contested,
            candidate: candidate(&cands[j]),
            weight: cands[j].weight,
        });
    }
}

/// Sorts conflicts and drops repeated rows.
pub(crate) fn tidy(conflicts: &mut Vec<Conflict>) {
    conflicts.sort_by(|a, b| {
        (a.stage, a.kind, a.contested, a.candidate)
            .cmp(&(b.stage, b.kind, b.contested, b.candidate))
            .then(a.weight.total_cmp(&b.weight).then(Ordering::Equal))
    });
    conflicts.dedup_by(|a, b| {
        (a.stage, a.kind, a.contested, a.candidate) == (b.stage, b.kind, b.contested, b.candidate)
    });
}
