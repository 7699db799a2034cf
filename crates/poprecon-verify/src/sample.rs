//! The on-site verification sample: strata village × flagged, sizes by LQAS or by a
//! precision target, selection by a keyed hash so that the draw does not depend on the
//! order of the input, an ordered replacement list, and every unit's inclusion probability.

use std::collections::{BTreeMap, HashSet};

use polars::prelude::*;
use sha2::{Digest, Sha256};

use crate::VerifyError;
use crate::frame::{Frame, Kind, bools, floats, opt_texts, texts};
use crate::stats::{LqasPlan, precision_sample_size};

/// How many records a stratum gets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SizeRule {
    /// The plan's `n` records (all of them in a smaller stratum).
    Lqas(LqasPlan),
    /// Enough records to estimate an error share near `p` within `±margin` (95 %), with the
    /// finite-population correction.
    Precision { p: f64, margin: f64 },
}

/// What to draw.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SampleConfig {
    /// The draw's key: the same seed gives the same sample.
    pub seed: u64,
    pub size: SizeRule,
    /// Replacements listed per stratum, in the order they are used.
    pub replacements: usize,
}

impl Default for SampleConfig {
    fn default() -> Self {
        SampleConfig {
            seed: 1,
            size: SizeRule::Lqas(LqasPlan::default()),
            replacements: 5,
        }
    }
}

/// The role of a unit of the frame in the draw.
pub mod role {
    pub const SAMPLE: &str = "sample";
    pub const REPLACEMENT: &str = "replacement";
}

/// The sample frame with the draw: one row per birth of `births` in the jurisdiction with
/// a village (the field teams' frame), sorted by stratum and draw order.
///
/// A birth is flagged when it has an open discrepancy (`discrepancies` rows with its
/// `birth_id`, status new or open, no reviewer decision) or when its village is flagged by
/// the returns comparison (`comparison`, a compared village row outside the VF band).
/// Stratum = `<village>:flagged` or `<village>:not_flagged`.
///
/// Columns: `stratum`, `village`, `township`, `flagged`, `birth_id`, `draw_key` (the first
/// 16 hex digits of SHA-256(seed, stratum, birth_id)), `draw_order` (1 … N within the
/// stratum, by key), `role` (`sample`, `replacement`, null), `stratum_size` (N),
/// `sample_size` (n), `inclusion_probability` (n / N, the same for every unit of the
/// stratum: they sum to n).
pub fn draw(
    births: &DataFrame,
    discrepancies: &DataFrame,
    comparison: Option<&DataFrame>,
    cfg: &SampleConfig,
) -> Result<DataFrame, VerifyError> {
    let open = open_births(discrepancies)?;
    let flagged_villages = flagged_villages(comparison)?;
    let id = texts(births, "birth_id")?;
    let village = texts(births, "village")?;
    let in_j: Vec<bool> = if births.column("in_jurisdiction").is_ok() {
        bools(births, "in_jurisdiction")?
            .into_iter()
            .map(|v| v.unwrap_or(false))
            .collect()
    } else {
        vec![true; births.height()]
    };
    // Stratum → units (key, birth id, village, flagged).
    let mut strata: BTreeMap<String, Vec<(String, String, String, bool)>> = BTreeMap::new();
    for i in 0..births.height() {
        let (Some(b), Some(v)) = (&id[i], &village[i]) else {
            continue;
        };
        if !in_j[i] {
            continue;
        }
        let flagged = open.contains(b) || flagged_villages.contains(v);
        let stratum = format!("{v}:{}", if flagged { "flagged" } else { "not_flagged" });
        let key = draw_key(cfg.seed, &stratum, b);
        strata
            .entry(stratum)
            .or_default()
            .push((key, b.clone(), v.clone(), flagged));
    }
    let mut out = Frame::default();
    for (stratum, mut units) in strata {
        // The order is the keys', ties (never in practice) by birth id: not the input's.
        units.sort();
        let n_total = units.len() as u64;
        let n = stratum_size(cfg.size, n_total);
        for (k, (key, b, v, flagged)) in units.into_iter().enumerate() {
            let order = k as u64 + 1;
            let role = if order <= n {
                Some(role::SAMPLE)
            } else if order <= n + cfg.replacements as u64 {
                Some(role::REPLACEMENT)
            } else {
                None
            };
            out.text("stratum", Some(stratum.clone()));
            out.text("township", v.get(..9).map(str::to_owned));
            out.text("village", Some(v));
            out.boolean("flagged", Some(flagged));
            out.text("birth_id", Some(b));
            out.text("draw_key", Some(key));
            out.int("draw_order", Some(order as i64));
            out.text("role", role.map(str::to_owned));
            out.int("stratum_size", Some(n_total as i64));
            out.int("sample_size", Some(n as i64));
            out.float("inclusion_probability", Some(n as f64 / n_total as f64));
        }
    }
    out.finish(FRAME_COLUMNS)
}

/// The columns of [`draw`]'s frame.
pub const FRAME_COLUMNS: &[(&str, Kind)] = &[
    ("stratum", Kind::Text),
    ("village", Kind::Text),
    ("township", Kind::Text),
    ("flagged", Kind::Bool),
    ("birth_id", Kind::Text),
    ("draw_key", Kind::Text),
    ("draw_order", Kind::Int),
    ("role", Kind::Text),
    ("stratum_size", Kind::Int),
    ("sample_size", Kind::Int),
    ("inclusion_probability", Kind::Float),
];

/// The records a stratum of `population` gets under `rule`.
pub fn stratum_size(rule: SizeRule, population: u64) -> u64 {
    match rule {
        SizeRule::Lqas(plan) => plan.n.min(population),
        SizeRule::Precision { p, margin } => precision_sample_size(population, p, margin),
    }
}

/// The keyed hash of a unit: the first 16 hex digits of SHA-256 over the seed (8 bytes,
/// little-endian), the stratum and the record key, separated by a unit separator.
pub fn draw_key(seed: u64, stratum: &str, key: &str) -> String {
    let mut h = Sha256::new();
    h.update(seed.to_le_bytes());
    h.update(stratum.as_bytes());
    h.update([0x1f]);
    h.update(key.as_bytes());
    h.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Births with an open discrepancy: new or open, not decided by a reviewer.
fn open_births(discrepancies: &DataFrame) -> Result<HashSet<String>, VerifyError> {
    let id = texts(discrepancies, "birth_id")?;
    let status = opt_texts(discrepancies, "status")?;
    let decision = opt_texts(discrepancies, "decision")?;
    Ok((0..discrepancies.height())
        .filter(|&i| {
            matches!(status[i].as_deref(), None | Some("new" | "open")) && decision[i].is_none()
        })
        .filter_map(|i| id[i].clone())
        .collect())
}

/// Villages with a compared return row outside the band.
fn flagged_villages(comparison: Option<&DataFrame>) -> Result<HashSet<String>, VerifyError> {
    let Some(c) = comparison else {
        return Ok(HashSet::new());
    };
    let level = texts(c, "level")?;
    let area = texts(c, "area_code")?;
    let flagged = bools(c, "flagged")?;
    Ok((0..c.height())
        .filter(|&i| level[i].as_deref() == Some("village") && flagged[i] == Some(true))
        .filter_map(|i| area[i].clone())
        .collect())
}

/// The rows of the field checklists: the sampled and replacement births of `frame` (from
/// [`draw`]) with what the field team needs to find and check them. Person-level: for the
/// field teams' checklists only. Mother IDs are masked (`poprecon_model::mask_ids`).
///
/// `sources` are the run's canonical tables by source id; `village_names` the division
/// table's village names. Columns: `township`, `village`, `village_name`, `stratum`,
/// `flagged`, `role`, `draw_order`, `birth_id`, `mother_id_masked`, `mother_name`,
/// `child_name`, `address` (village name and household number), `birth_date`, `child_sex`,
/// `birth_order`, `facts` (the open discrepancies' rules, by `rule_names`),
/// `discrepancy_ids`, `stratum_size`, `sample_size`, `inclusion_probability`; sorted by
/// township, village, stratum, role (sample first) and draw order.
pub fn checklist_rows(
    frame: &DataFrame,
    births: &DataFrame,
    discrepancies: &DataFrame,
    sources: &BTreeMap<String, DataFrame>,
    village_names: &BTreeMap<String, String>,
    rule_names: &dyn Fn(&str) -> String,
) -> Result<DataFrame, VerifyError> {
    let role = opt_texts(frame, "role")?;
    let f_id = texts(frame, "birth_id")?;
    let f_village = texts(frame, "village")?;
    let f_township = texts(frame, "township")?;
    let f_stratum = texts(frame, "stratum")?;
    let f_flagged = bools(frame, "flagged")?;
    let f_order = floats(frame, "draw_order")?;
    let f_size = floats(frame, "stratum_size")?;
    let f_n = floats(frame, "sample_size")?;
    let f_pi = floats(frame, "inclusion_probability")?;

    let b_index: BTreeMap<String, usize> = texts(births, "birth_id")?
        .into_iter()
        .enumerate()
        .filter_map(|(i, b)| Some((b?, i)))
        .collect();
    let b_col = |c: &str| opt_texts(births, c);
    let (mother, bdate, sex, order) = (
        b_col("mother_id")?,
        b_col("birth_date")?,
        b_col("child_sex")?,
        b_col("birth_order")?,
    );
    let keys: BTreeMap<&str, Vec<Option<String>>> = poprecon_model::BIRTH_LEVEL_IDS
        .into_iter()
        .map(|s| Ok((s, b_col(&format!("{s}_key"))?)))
        .collect::<Result<_, VerifyError>>()?;
    // Record key → (name fields) per source.
    let lookup = |source: &str,
                  fields: &[&str]|
     -> Result<BTreeMap<String, Vec<Option<String>>>, VerifyError> {
        let Some(df) = sources.get(source) else {
            return Ok(BTreeMap::new());
        };
        let key = opt_texts(df, poprecon_ingest::RECORD_KEY)?;
        let cols: Vec<Vec<Option<String>>> = fields
            .iter()
            .map(|f| opt_texts(df, f))
            .collect::<Result<_, _>>()?;
        let mut m = BTreeMap::new();
        for i in 0..df.height() {
            if let Some(k) = &key[i] {
                m.entry(k.clone())
                    .or_insert_with(|| cols.iter().map(|c| c[i].clone()).collect());
            }
        }
        Ok(m)
    };
    let delivery = lookup("hospital_delivery", &["mother_name"])?;
    let certificate = lookup("birth_certificate", &["child_name", "mother_name"])?;
    let vaccination = lookup("vaccination", &["child_name", "mother_name"])?;
    let household = lookup("household", &["name", "household_no"])?;
    // A mother's active household row, for the household number of a child not registered.
    let mother_household: BTreeMap<String, String> = match sources.get("household") {
        None => BTreeMap::new(),
        Some(h) => {
            let pid = opt_texts(h, "person_id")?;
            let no = opt_texts(h, "household_no")?;
            let status = opt_texts(h, "status")?;
            (0..h.height())
                .filter(|&i| status[i].as_deref() == Some("active"))
                .filter_map(|i| Some((pid[i].clone()?, no[i].clone()?)))
                .collect()
        }
    };
    // Birth → (discrepancy ids, rule names) of its open discrepancies.
    let mut facts: BTreeMap<String, (Vec<String>, Vec<String>)> = BTreeMap::new();
    {
        let id = texts(discrepancies, "birth_id")?;
        let did = texts(discrepancies, "discrepancy_id")?;
        let rule = texts(discrepancies, "rule_id")?;
        let status = opt_texts(discrepancies, "status")?;
        let decision = opt_texts(discrepancies, "decision")?;
        for i in 0..discrepancies.height() {
            if !matches!(status[i].as_deref(), None | Some("new" | "open")) || decision[i].is_some()
            {
                continue;
            }
            if let (Some(b), Some(d), Some(r)) = (&id[i], &did[i], &rule[i]) {
                let e = facts.entry(b.clone()).or_default();
                e.0.push(d.clone());
                let name = rule_names(r);
                if !e.1.contains(&name) {
                    e.1.push(name);
                }
            }
        }
    }
    let mut rows: Vec<usize> = (0..frame.height()).filter(|&i| role[i].is_some()).collect();
    rows.sort_by(|&a, &b| {
        let k = |i: usize| {
            (
                f_township[i].clone(),
                f_village[i].clone(),
                f_stratum[i].clone(),
                role[i].as_deref() != Some(role::SAMPLE),
                f_order[i].map(|o| o as i64),
            )
        };
        k(a).cmp(&k(b))
    });
    let mut out = Frame::default();
    for i in rows {
        let b = f_id[i].clone().unwrap_or_default();
        let j = b_index.get(&b).copied();
        let at = |c: &Vec<Option<String>>| j.and_then(|j| c[j].clone());
        let key = |s: &str| j.and_then(|j| keys[s][j].clone());
        let from = |m: &BTreeMap<String, Vec<Option<String>>>, s: &str, f: usize| {
            key(s).and_then(|k| m.get(&k).and_then(|v| v[f].clone()))
        };
        let child_name = from(&certificate, "birth_certificate", 0)
            .or_else(|| from(&vaccination, "vaccination", 0))
            .or_else(|| from(&household, "household", 0));
        let mother_name = from(&delivery, "hospital_delivery", 0)
            .or_else(|| from(&certificate, "birth_certificate", 1))
            .or_else(|| from(&vaccination, "vaccination", 1));
        let mother_id = at(&mother);
        let household_no = from(&household, "household", 1).or_else(|| {
            mother_id
                .as_ref()
                .and_then(|m| mother_household.get(m).cloned())
        });
        let v = f_village[i].clone().unwrap_or_default();
        let v_name = village_names.get(&v).cloned().unwrap_or_default();
        let address = match &household_no {
            Some(no) => format!("{v_name} 户号{no}"),
            None => v_name.clone(),
        };
        let (ids, names) = facts.get(&b).cloned().unwrap_or_default();
        out.text("township", f_township[i].clone());
        out.text("village", Some(v));
        out.text("village_name", Some(v_name));
        out.text("stratum", f_stratum[i].clone());
        out.boolean("flagged", f_flagged[i]);
        out.text("role", role[i].clone());
        out.int("draw_order", f_order[i].map(|o| o as i64));
        out.text("birth_id", Some(b));
        out.text(
            "mother_id_masked",
            mother_id.map(|m| poprecon_model::mask_ids(&m).into_owned()),
        );
        out.text("mother_name", mother_name);
        out.text("child_name", child_name);
        out.text("address", Some(address));
        out.text("birth_date", at(&bdate));
        out.text("child_sex", at(&sex));
        out.text("birth_order", at(&order));
        out.text("facts", Some(names.join("；")));
        out.text("discrepancy_ids", Some(ids.join(" ")));
        out.int("stratum_size", f_size[i].map(|v| v as i64));
        out.int("sample_size", f_n[i].map(|v| v as i64));
        out.float("inclusion_probability", f_pi[i]);
    }
    out.finish(CHECKLIST_COLUMNS)
}

/// The columns of [`checklist_rows`].
pub const CHECKLIST_COLUMNS: &[(&str, Kind)] = &[
    ("township", Kind::Text),
    ("village", Kind::Text),
    ("village_name", Kind::Text),
    ("stratum", Kind::Text),
    ("flagged", Kind::Bool),
    ("role", Kind::Text),
    ("draw_order", Kind::Int),
    ("birth_id", Kind::Text),
    ("mother_id_masked", Kind::Text),
    ("mother_name", Kind::Text),
    ("child_name", Kind::Text),
    ("address", Kind::Text),
    ("birth_date", Kind::Text),
    ("child_sex", Kind::Text),
    ("birth_order", Kind::Text),
    ("facts", Kind::Text),
    ("discrepancy_ids", Kind::Text),
    ("stratum_size", Kind::Int),
    ("sample_size", Kind::Int),
    ("inclusion_probability", Kind::Float),
];
