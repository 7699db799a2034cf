//! The Fellegi–Sunter model of one linkage stage: u probabilities from random pairs, m
//! probabilities and the match prior by EM over the candidate pairs, and the weights.

use std::collections::HashMap;

use crate::compare::{CHILD_NAME, FIELDS, Kind, Levels, MOTHER_NAME, N_FIELDS};
use crate::prepare::Rec;

/// Per field, one probability (or weight) per level, level 1 first.
pub(crate) type PerLevel = [Vec<f64>; N_FIELDS];

#[derive(Debug, Clone)]
pub(crate) struct Model {
    /// Share of candidate pairs that are matches.
    pub lambda: f64,
    pub m: PerLevel,
    pub u: PerLevel,
    /// log2(m / u).
    pub weight: PerLevel,
    pub em_iterations: u32,
}

/// How often each name occurs among all records, for the term-frequency adjustment.
#[derive(Debug, Default)]
pub(crate) struct TermFreq {
    counts: [HashMap<String, u32>; 2],
    totals: [u32; 2],
}

impl TermFreq {
    pub(crate) fn new<'a>(recs: impl Iterator<Item = &'a Rec>) -> Self {
        let mut tf = TermFreq::default();
        for r in recs {
            for (slot, name) in [&r.mother_name, &r.child_name].into_iter().enumerate() {
                if let Some(n) = name {
                    *tf.counts[slot].entry(n.text.clone()).or_default() += 1;
                    tf.totals[slot] += 1;
                }
            }
        }
        tf
    }

    /// The frequency of a name among the names of that field (at least 1 / total).
    fn freq(&self, slot: usize, text: &str) -> Option<f64> {
        let total = self.totals[slot];
        (total > 0).then(|| {
            let n = self.counts[slot].get(text).copied().unwrap_or(1).max(1);
            f64::from(n) / f64::from(total)
        })
    }
}

/// Counts of levels per field, from random pairs: the u probabilities, smoothed so that a
/// level never seen among random pairs has u = 1 / (pairs + levels).
pub(crate) fn u_from_counts(counts: &[Vec<u64>; N_FIELDS]) -> PerLevel {
    std::array::from_fn(|f| {
        let n: u64 = counts[f].iter().sum();
        let k = counts[f].len() as f64;
        counts[f]
            .iter()
            .map(|&c| (c as f64 + 1.0) / (n as f64 + k))
            .collect()
    })
}

pub(crate) fn level_counts() -> [Vec<u64>; N_FIELDS] {
    std::array::from_fn(|f| vec![0; FIELDS[f].kind.levels().len()])
}

pub(crate) fn count_levels(counts: &mut [Vec<u64>; N_FIELDS], levels: &Levels, n: u64) {
    for (f, &l) in levels.iter().enumerate() {
        if l > 0 {
            counts[f][usize::from(l) - 1] += n;
        }
    }
}

/// Estimates λ and m by EM with u fixed. `patterns` are the distinct comparison vectors of
/// the candidate pairs with their counts, in a fixed order, so that the sums (and so the
/// estimates) do not depend on the order of the input rows.
pub(crate) fn estimate(
    patterns: &[(Levels, u64)],
    u: PerLevel,
    init_lambda: f64,
    prior_pairs: f64,
    max_iterations: u32,
) -> Model {
    let m0: PerLevel = std::array::from_fn(|f| FIELDS[f].kind.default_m().to_vec());
    let mut m = m0.clone();
    let mut lambda = init_lambda.clamp(1e-4, 0.999);
    let total: f64 = patterns.iter().map(|(_, n)| *n as f64).sum();
    let mut iterations = 0;
    if total > 0.0 {
        for _ in 0..max_iterations {
            iterations += 1;
            let mut acc = level_sums();
            let mut matches = 0.0;
            for (levels, n) in patterns {
                let p = match_probability(levels, lambda, &m, &u);
                let w = p * *n as f64;
                matches += w;
                for (f, &l) in levels.iter().enumerate() {
                    if l > 0 {
                        acc[f][usize::from(l) - 1] += w;
                    }
                }
            }
            let mut change: f64 = 0.0;
            for f in 0..N_FIELDS {
                let sum: f64 = acc[f].iter().sum();
                for l in 0..m[f].len() {
                    let new = (acc[f][l] + prior_pairs * m0[f][l]) / (sum + prior_pairs);
                    change = change.max((new - m[f][l]).abs());
                    m[f][l] = new;
                }
            }
            let new_lambda = (matches / total).clamp(1e-6, 0.999);
            change = change.max((new_lambda - lambda).abs());
            lambda = new_lambda;
            if change < 1e-7 {
                break;
            }
        }
    }
    // Levels run from the strongest agreement down: a weaker agreement is never stronger
    // evidence. Without this cap a level that random pairs never reach (a different county
    // when the extract covers one county) would weigh for a match.
    let weight = std::array::from_fn(|f| {
        let mut w: Vec<f64> = m[f]
            .iter()
            .zip(&u[f])
            .map(|(m, u)| (m.max(1e-12) / u.max(1e-12)).log2())
            .collect();
        for l in 1..w.len() {
            w[l] = w[l].min(w[l - 1]);
        }
        w
    });
    Model {
        lambda,
        m,
        u,
        weight,
        em_iterations: iterations,
    }
}

fn level_sums() -> PerLevel {
    std::array::from_fn(|f| vec![0.0; FIELDS[f].kind.levels().len()])
}

fn match_probability(levels: &Levels, lambda: f64, m: &PerLevel, u: &PerLevel) -> f64 {
    let mut lm = lambda.ln();
    let mut lu = (1.0 - lambda).ln();
    for (f, &l) in levels.iter().enumerate() {
        if l > 0 {
            let i = usize::from(l) - 1;
            lm += m[f][i].max(1e-300).ln();
            lu += u[f][i].max(1e-300).ln();
        }
    }
    1.0 / (1.0 + (lu - lm).exp())
}

impl Model {
    /// log2 of the prior odds of a match among candidate pairs.
    pub(crate) fn log2_prior(&self) -> f64 {
        (self.lambda / (1.0 - self.lambda)).log2()
    }

    /// The weight of each field and the match weight (prior included) of a candidate whose
    /// record `r` compares with the birth as `levels`. An exact name agreement weighs
    /// log2(m / frequency of the name) when `tf` is given.
    pub(crate) fn score(
        &self,
        levels: &Levels,
        r: &Rec,
        tf: Option<&TermFreq>,
    ) -> (f64, [f64; N_FIELDS]) {
        let mut weights = [0.0; N_FIELDS];
        let mut total = self.log2_prior();
        for (f, &l) in levels.iter().enumerate() {
            if l == 0 {
                continue;
            }
            let i = usize::from(l) - 1;
            let mut w = self.weight[f][i];
            if l == 1
                && FIELDS[f].kind == Kind::Name
                && let Some(tf) = tf
            {
                let (slot, name) = match f {
                    MOTHER_NAME => (0, &r.mother_name),
                    CHILD_NAME => (1, &r.child_name),
                    _ => unreachable!("only the two name fields are of kind Name"),
                };
                if let Some(freq) = name.as_ref().and_then(|n| tf.freq(slot, &n.text)) {
                    w = (self.m[f][i].max(1e-12) / freq).log2();
                }
            }
            weights[f] = w;
            total += w;
        }
        (total, weights)
    }
}
