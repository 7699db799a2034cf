//! Reviewers' linkage decisions (`must_link`, `cannot_link` in the pipeline's decisions
//! file): two birth-level records that are, or are not, the same birth. Linkage honours them
//! in the stage of the later record: a `cannot_link` pair is never a candidate, a
//! `must_link` pair is linked before any other (method `decision`). What became of each
//! decision is the `decisions` table of [`crate::LinkOutput`]; none is dropped silently.

use std::collections::{HashMap, HashSet};

use polars::prelude::*;
use poprecon_model::{DecisionKind, LinkConstraint, RecordRef};

use crate::prepare::{Rec, Src};
use crate::stage::Entity;

/// What became of a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Not yet reached (a decision between records of the period is applied by its stage).
    Pending,
    /// `must_link`: the records were linked. `cannot_link`: they were kept apart.
    Applied,
    /// A record is not a birth-level record of the period (another source, an unknown key,
    /// a quarantined row or a birth outside the period).
    NotFound,
    /// Both records are of one source: a birth has one record of each source.
    SameSource,
    /// An earlier `must_link` took one of the records or the partner's birth.
    Conflict,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Pending => "not_reached",
            Outcome::Applied => "applied",
            Outcome::NotFound => "record_not_found",
            Outcome::SameSource => "same_source",
            Outcome::Conflict => "conflicts_with_earlier_decision",
        }
    }
}

/// A decision resolved to record indexes, the earlier-stage record first.
#[derive(Debug, Clone, Copy)]
struct Pair {
    must: bool,
    early: (Src, u32),
    late: (Src, u32),
}

/// What one stage must honour: (birth, record) pairs that are not candidates, and pairs
/// linked first.
pub(crate) struct StageDecisions {
    pub(crate) forbidden: HashSet<(u32, u32)>,
    pub(crate) forced: Vec<(u32, u32)>,
}

/// The decisions of a run, resolved against the prepared records.
#[derive(Debug, Default)]
pub(crate) struct Constraints {
    decisions: Vec<LinkConstraint>,
    pairs: Vec<Option<Pair>>,
    pub(crate) outcome: Vec<Outcome>,
}

impl Constraints {
    pub(crate) fn new(decisions: &[LinkConstraint], recs: [&[Rec]; 4]) -> Constraints {
        let mut index: HashMap<(Src, &str), u32> = HashMap::new();
        if !decisions.is_empty() {
            for s in Src::ALL {
                for (i, r) in recs[s.index()].iter().enumerate() {
                    index.entry((s, r.key.as_str())).or_insert(i as u32);
                }
            }
        }
        let find = |r: &RecordRef| {
            let s = Src::ALL.into_iter().find(|s| s.id() == r.source)?;
            index.get(&(s, r.key.trim())).map(|&i| (s, i))
        };
        let mut pairs = Vec::with_capacity(decisions.len());
        let mut outcome = Vec::with_capacity(decisions.len());
        for d in decisions {
            let (pair, o) = match (find(&d.a), find(&d.b)) {
                (Some(a), Some(b)) if a.0 == b.0 => (None, Outcome::SameSource),
                (Some(a), Some(b)) => {
                    let (early, late) = if a.0 < b.0 { (a, b) } else { (b, a) };
                    let pair = Pair {
                        must: d.kind == DecisionKind::MustLink,
                        early,
                        late,
                    };
                    (Some(pair), Outcome::Pending)
                }
                _ => (None, Outcome::NotFound),
            };
            pairs.push(pair);
            outcome.push(o);
        }
        Constraints {
            decisions: decisions.to_vec(),
            pairs,
            outcome,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pairs.iter().all(Option::is_none)
    }

    /// For the stage of `src`: the (birth, record) pairs that must not be candidates, and
    /// those that must be linked, in file order with conflicts taken out (and noted).
    pub(crate) fn for_stage(&mut self, src: Src, ents: &[Entity]) -> StageDecisions {
        let mut forbidden = HashSet::new();
        let mut forced = Vec::new();
        if self.is_empty() {
            return StageDecisions { forbidden, forced };
        }
        let mut birth_of: HashMap<(Src, u32), u32> = HashMap::new();
        for (e, ent) in ents.iter().enumerate() {
            for s in Src::ALL {
                if let Some(i) = ent.members[s.index()] {
                    birth_of.insert((s, i), e as u32);
                }
            }
        }
        let mut e_used = HashSet::new();
        let mut r_used = HashSet::new();
        for (k, pair) in self.pairs.iter().enumerate() {
            let Some(p) = pair.filter(|p| p.late.0 == src) else {
                continue;
            };
            let Some(&e) = birth_of.get(&p.early) else {
                self.outcome[k] = Outcome::NotFound;
                continue;
            };
            let r = p.late.1;
            if p.must {
                if e_used.insert(e) & r_used.insert(r) {
                    forced.push((e, r));
                    self.outcome[k] = Outcome::Applied;
                } else {
                    self.outcome[k] = Outcome::Conflict;
                }
            } else {
                forbidden.insert((e, r));
                self.outcome[k] = Outcome::Applied;
            }
        }
        // A `cannot_link` wins over a `must_link` of the same pair: keeping records apart
        // can be undone by a reviewer; a wrong link hides a discrepancy.
        forced.retain(|p| !forbidden.contains(p));
        StageDecisions { forbidden, forced }
    }

    /// The `decisions` table: `line`, `decision`, `source`, `key`, `other_source`,
    /// `other_key`, `outcome`.
    pub(crate) fn frame(&self) -> PolarsResult<DataFrame> {
        let d = &self.decisions;
        let text = |f: &dyn Fn(&LinkConstraint) -> &str| d.iter().map(f).collect::<Vec<_>>();
        let outcome: Vec<&str> = self.outcome.iter().map(|o| o.as_str()).collect();
        df!(
            "line" => d.iter().map(|d| d.line as u32).collect::<Vec<_>>(),
            "decision" => text(&|d| d.kind.as_str()),
            "source" => text(&|d| d.a.source.as_str()),
            "key" => text(&|d| d.a.key.as_str()),
            "other_source" => text(&|d| d.b.source.as_str()),
            "other_key" => text(&|d| d.b.key.as_str()),
            "outcome" => outcome,
        )
    }
}
