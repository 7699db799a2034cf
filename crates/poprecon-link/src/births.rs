//! From linked records to birth events: the birth's date and sex (domain.md §8.2), its
//! mother-level records (§8.3), village (§8.11), floating flag (§8.8), birth order (§8.9)
//! and policy category (§8.10).

use std::collections::HashMap;

use polars::prelude::*;
use sha2::{Digest, Sha256};

use crate::config::{AttributionStep, LinkConfig};
use crate::mothers::{
    self, ChildRow, Dated, DatedSpec, MotherRow, head_or_spouse, own_child_relation,
};
use crate::prepare::{Src, date_of_days, epoch_days};
use crate::stage::{Ctx, Entity};
use crate::{LinkError, LinkInput};

/// A birth event, before it becomes a row of `births`.
#[derive(Debug, Clone)]
pub(crate) struct Birth {
    pub entity: u32,
    pub birth_id: String,
    pub date: i32,
    pub date_source: Src,
    pub time_ms: Option<i64>,
    pub sex: Option<i32>,
    pub mother_id: Option<String>,
    pub birth_seq: Option<i32>,
    pub plurality: Option<i32>,
    pub village: Option<String>,
    pub village_source: Option<AttributionStep>,
    pub floating: bool,
    pub order: Option<i32>,
    pub limit: Option<i32>,
    pub category: &'static str,
    pub prenatal: Option<String>,
    pub prenatal_village: Option<String>,
    /// The village of the mother's first active household row (status rank, then village).
    pub mother_village: Option<String>,
    pub registration: Option<String>,
    pub marriage: Option<String>,
    pub hepb1: Option<i32>,
}

/// The id of a birth: a hash of the source and key of its first record in source order,
/// so that it does not depend on row order and stays the same from one run to the next as
/// long as that record is there.
pub(crate) fn birth_id(src: Src, key: &str) -> String {
    let digest = Sha256::digest(format!("{}\u{1f}{key}", src.id()).as_bytes());
    let mut id = String::with_capacity(17);
    id.push('B');
    for b in &digest[..8] {
        id.push_str(&format!("{b:02x}"));
    }
    id
}

/// The birth-level facts of every entity, and which entities are births of the period.
pub(crate) fn build(
    ctx: &Ctx<'_>,
    ents: &[Entity],
    input: &LinkInput<'_>,
    mothers: &HashMap<String, Vec<MotherRow>>,
    cfg: &LinkConfig,
) -> Result<Vec<Birth>, LinkError> {
    let started = std::time::Instant::now();
    let (start, end) = (epoch_days(input.period.0), epoch_days(input.period.1));
    let mut births: Vec<Birth> = Vec::new();
    for (e, ent) in ents.iter().enumerate() {
        let recs: Vec<(Src, &crate::prepare::Rec)> = Src::ALL
            .into_iter()
            .filter_map(|s| ent.members[s.index()].map(|i| (s, ctx.rec(s, i))))
            .collect();
        // The first available of delivery, certificate, household, vaccination (§8.2).
        let Some((date_source, date)) = recs
            .iter()
            .find_map(|(s, r)| r.date.filter(|_| r.date_observed).map(|d| (*s, d)))
        else {
            continue;
        };
        if date < start || date > end {
            continue;
        }
        let sex = recs
            .iter()
            .find_map(|(_, r)| r.sex.filter(|s| matches!(s, 1 | 2)))
            .or_else(|| recs.iter().find_map(|(_, r)| r.sex));
        let delivery = ent.members[Src::Delivery.index()].map(|i| ctx.rec(Src::Delivery, i));
        let (anchor_src, anchor) = ent.anchor();
        births.push(Birth {
            entity: e as u32,
            birth_id: birth_id(anchor_src, &ctx.rec(anchor_src, anchor).key),
            date,
            date_source,
            time_ms: recs.iter().find_map(|(_, r)| r.time_ms),
            sex,
            // The first valid mother ID in source order, as for sex and date (§8.2); a
            // record that names another woman is reported by `mother_id_mismatch`.
            mother_id: recs.iter().find_map(|(_, r)| r.mother_id.clone()),
            birth_seq: delivery.and_then(|d| d.birth_seq),
            plurality: delivery.and_then(|d| d.plurality),
            village: None,
            village_source: None,
            floating: true,
            order: None,
            limit: None,
            category: "undetermined",
            prenatal: None,
            prenatal_village: None,
            mother_village: None,
            registration: None,
            marriage: None,
            hepb1: ent.members[Src::Vaccination.index()]
                .and_then(|i| ctx.rec(Src::Vaccination, i).hepb1),
        });
    }
    let mut ids: Vec<String> = births.iter().filter_map(|b| b.mother_id.clone()).collect();
    ids.sort();
    ids.dedup();
    // Each step's seconds at `-vv` (a province's births take seconds each).
    let step = |name: &'static str| {
        tracing::debug!(
            step = name,
            seconds = started.elapsed().as_secs_f64(),
            "births step done"
        );
    };
    step("events");
    mother_records(&mut births, input, &ids, cfg)?;
    step("mother_records");
    for b in &mut births {
        let rows = b.mother_id.as_ref().and_then(|m| mothers.get(m));
        b.floating = !rows.is_some_and(|rows| rows.iter().any(|r| r.active));
    }
    attribute(ctx, ents, &mut births, mothers, cfg);
    step("attribute");
    birth_orders(ctx, ents, &mut births, input, mothers, cfg)?;
    step("birth_orders");
    for b in &mut births {
        let (limit, category) = policy(b.order, b.date, cfg);
        b.limit = limit;
        b.category = category;
    }
    births.sort_by(|a, b| a.birth_id.cmp(&b.birth_id));
    Ok(births)
}

/// Prenatal booking in [birth − 300 d, birth] (the latest); birth registration in
/// [birth − 730 d, birth + 90 d] (the latest before the birth, else the first after); the
/// latest marriage registered before the birth (§8.3), found by the mother's valid ID (and,
/// with [`LinkConfig::damaged_mother_ids`], under a damaged ID that is hers but for a typo).
fn mother_records(
    births: &mut [Birth],
    input: &LinkInput<'_>,
    ids: &[String],
    cfg: &LinkConfig,
) -> Result<(), LinkError> {
    let prenatal = mothers::dated_rows(
        input.prenatal_care,
        DatedSpec {
            table: "prenatal_care",
            key: "record_id",
            id: "mother_id",
            date: "booking_date",
            village: Some("residence_village"),
        },
        ids,
        None,
    )?;
    let registration = mothers::dated_rows(
        input.birth_registration,
        DatedSpec {
            table: "birth_registration",
            key: "record_id",
            id: "woman_id",
            date: "registration_date",
            village: None,
        },
        ids,
        None,
    )?;
    let marriage_filter = input
        .marriage
        .filter(|df| df.column("kind").is_ok())
        .map(|_| col("kind").eq(lit("marriage")));
    let marriage = mothers::dated_rows(
        input.marriage,
        DatedSpec {
            table: "marriage",
            key: "record_id",
            id: "woman_id",
            date: "registration_date",
            village: None,
        },
        ids,
        marriage_filter,
    )?;
    for b in births.iter_mut() {
        let Some(m) = &b.mother_id else { continue };
        let d = b.date;
        let bookings = prenatal.of(m, cfg.damaged_mother_ids);
        if let Some(r) = latest(&bookings, d - cfg.prenatal_window_days, d) {
            b.prenatal = Some(r.key.clone());
            b.prenatal_village = r.village.clone();
        }
        let reg = registration.of(m, cfg.damaged_mother_ids);
        b.registration = latest(&reg, d - cfg.registration_days_before, d)
            .or_else(|| {
                reg.iter()
                    .copied()
                    .find(|r| r.date > d && r.date <= d + cfg.registration_days_after)
            })
            .map(|r| r.key.clone());
        // Married strictly before the birth (§8.15 reads "before" so).
        b.marriage =
            latest(&marriage.of(m, cfg.damaged_mother_ids), i32::MIN, d - 1).map(|r| r.key.clone());
    }
    Ok(())
}

/// The latest of rows sorted by date and key dated in [lo, hi]; on one date, the smallest
/// key.
fn latest<'a>(rows: &[&'a Dated], lo: i32, hi: i32) -> Option<&'a Dated> {
    let last_date = rows
        .iter()
        .rev()
        .find(|r| r.date >= lo && r.date <= hi)?
        .date;
    rows.iter().copied().find(|r| r.date == last_date)
}

/// The village of a birth: the first non-empty of the attribution steps (§4, §8.11).
fn attribute(
    ctx: &Ctx<'_>,
    ents: &[Entity],
    births: &mut [Birth],
    mothers: &HashMap<String, Vec<MotherRow>>,
    cfg: &LinkConfig,
) {
    for b in births.iter_mut() {
        b.mother_village = b
            .mother_id
            .as_ref()
            .and_then(|m| mothers.get(m))
            .and_then(|rows| rows.iter().find(|r| r.active))
            .and_then(|r| r.village.clone());
        let ent = &ents[b.entity as usize];
        let member_village =
            |s: Src| ent.members[s.index()].and_then(|i| ctx.rec(s, i).village.clone());
        for step in &cfg.attribution {
            let v = match step {
                AttributionStep::HospitalDelivery => member_village(Src::Delivery),
                AttributionStep::PrenatalCare => b.prenatal_village.clone(),
                AttributionStep::Vaccination => member_village(Src::Vaccination),
                AttributionStep::Household => member_village(Src::Household),
                AttributionStep::MotherHousehold => b.mother_village.clone(),
            };
            if v.is_some() {
                b.village = v;
                b.village_source = Some(*step);
                break;
            }
        }
    }
}

/// The computed order of each birth of a non-floating mother (§8.9).
fn birth_orders(
    ctx: &Ctx<'_>,
    ents: &[Entity],
    births: &mut [Birth],
    input: &LinkInput<'_>,
    mothers: &HashMap<String, Vec<MotherRow>>,
    cfg: &LinkConfig,
) -> Result<(), LinkError> {
    let local: Vec<usize> = (0..births.len())
        .filter(|&i| !births[i].floating && births[i].mother_id.is_some())
        .collect();
    let mut ids: Vec<String> = local
        .iter()
        .filter_map(|&i| births[i].mother_id.clone())
        .collect();
    ids.sort();
    ids.dedup();
    // Households where the mother is the head or the head's spouse.
    let mut own_households: PlHashMap<&str, Vec<String>> = PlHashMap::default();
    for m in &ids {
        for r in mothers.get(m).into_iter().flatten() {
            if r.active
                && head_or_spouse(r.relation.as_deref())
                && let Some(h) = &r.household_no
            {
                own_households
                    .entry(m.as_str())
                    .or_default()
                    .push(h.clone());
            }
        }
    }
    let mut households: Vec<String> = own_households.values().flatten().cloned().collect();
    households.sort();
    households.dedup();
    let rows = mothers::child_rows(input.household, &ids, &households)?;
    let mut by_mother: PlHashMap<&str, Vec<&ChildRow>> = PlHashMap::default();
    let mut by_household: PlHashMap<&str, Vec<&ChildRow>> = PlHashMap::default();
    for r in &rows {
        if let Some(m) = &r.mother_id {
            by_mother.entry(m.as_str()).or_default().push(r);
        }
        if r.mother_empty
            && let Some(h) = &r.household_no
        {
            by_household.entry(h.as_str()).or_default().push(r);
        }
    }
    // The household records of each (mother, birth date): the birth and its co-births.
    let mut this_birth: PlHashMap<(&str, i32), PlHashSet<&str>> = PlHashMap::default();
    for b in births.iter() {
        let (Some(m), Some(h)) = (&b.mother_id, ents[b.entity as usize].members[2]) else {
            continue;
        };
        this_birth
            .entry((m.as_str(), b.date))
            .or_default()
            .insert(ctx.rec(Src::Household, h).key.as_str());
    }
    // Co-births without a delivery's `birth_seq` are ranked by birth time (the earlier
    // minute first; without a time, after those with one), then birth id.
    let mut co_births: PlHashMap<(&str, i32), Vec<usize>> = PlHashMap::default();
    for &i in &local {
        let b = &births[i];
        if let Some(m) = &b.mother_id {
            co_births.entry((m.as_str(), b.date)).or_default().push(i);
        }
    }
    let mut time_rank: PlHashMap<usize, i32> = PlHashMap::default();
    for group in co_births.values_mut().filter(|g| g.len() > 1) {
        group.sort_by(|&a, &b| {
            let key = |i: usize| (births[i].time_ms.is_none(), births[i].time_ms);
            key(a)
                .cmp(&key(b))
                .then_with(|| births[a].birth_id.cmp(&births[b].birth_id))
        });
        for (r, &i) in group.iter().enumerate() {
            time_rank.insert(i, r as i32 + 1);
        }
    }
    let mut orders: Vec<(usize, i32)> = Vec::with_capacity(local.len());
    for &i in &local {
        let b = &births[i];
        let m = b
            .mother_id
            .as_deref()
            .expect("local births have a mother ID");
        let excluded = this_birth.get(&(m, b.date));
        let counts = |r: &ChildRow| {
            r.date.is_some_and(|d| d < b.date)
                && !matches!(r.relation.as_deref(), Some("27" | "37"))
                && (cfg.count_deceased_children || !r.deceased)
                && !excluded.is_some_and(|x| x.contains(r.key.as_str()))
        };
        let mut earlier: Vec<&str> = by_mother
            .get(m)
            .into_iter()
            .flatten()
            .filter(|r| counts(r))
            .map(|r| r.key.as_str())
            .collect();
        for h in own_households.get(m).into_iter().flatten() {
            earlier.extend(
                by_household
                    .get(h.as_str())
                    .into_iter()
                    .flatten()
                    .filter(|r| own_child_relation(r.relation.as_deref()) && counts(r))
                    .map(|r| r.key.as_str()),
            );
        }
        earlier.sort_unstable();
        earlier.dedup();
        let rank = b
            .birth_seq
            .or_else(|| time_rank.get(&i).copied())
            .unwrap_or(1)
            .max(1);
        orders.push((i, earlier.len() as i32 + rank));
    }
    // The maps borrow the births' mother IDs.
    drop((this_birth, co_births));
    for (i, o) in orders {
        births[i].order = Some(o);
    }
    Ok(())
}

/// The limit in force and the policy category of a birth (§4, §8.10).
fn policy(order: Option<i32>, date: i32, cfg: &LinkConfig) -> (Option<i32>, &'static str) {
    let limit = cfg.limit_on(date_of_days(date));
    let category = match (limit, order) {
        (None, _) => "not_applicable",
        (Some(_), None) => "undetermined",
        (Some(_), Some(o)) if o <= 1 => "first",
        (Some(l), Some(2)) => {
            if 2 <= l {
                "second_within"
            } else {
                "second_outside"
            }
        }
        (Some(l), Some(o)) => {
            if o <= l {
                "higher_within"
            } else {
                "higher_outside"
            }
        }
    };
    (limit, category)
}

/// The `births` table, sorted by `birth_id`.
pub(crate) fn frame(
    ctx: &Ctx<'_>,
    ents: &[Entity],
    births: &[Birth],
    jurisdiction: &str,
) -> PolarsResult<DataFrame> {
    let n = births.len();
    let mut cols: Vec<Column> = Vec::new();
    cols.push(Column::new(
        "birth_id".into(),
        births
            .iter()
            .map(|b| b.birth_id.as_str())
            .collect::<Vec<_>>(),
    ));
    for s in Src::ALL {
        let member = |b: &Birth| ents[b.entity as usize].members[s.index()];
        let link = |b: &Birth| ents[b.entity as usize].links[s.index()].as_ref();
        cols.push(Column::new(
            format!("{}_key", s.id()).into(),
            births
                .iter()
                .map(|b| member(b).map(|i| ctx.rec(s, i).key.as_str()))
                .collect::<Vec<_>>(),
        ));
        cols.push(Column::new(
            format!("{}_method", s.id()).into(),
            births
                .iter()
                .map(|b| link(b).map(|l| l.method.as_str()))
                .collect::<Vec<_>>(),
        ));
        cols.push(Column::new(
            format!("{}_weight", s.id()).into(),
            births
                .iter()
                .map(|b| link(b).and_then(|l| l.weight))
                .collect::<Vec<_>>(),
        ));
    }
    cols.push(Column::new(
        "birth_certificate_other_keys".into(),
        births
            .iter()
            .map(|b| {
                ents[b.entity as usize].members[Src::Certificate.index()]
                    .map(|i| &ctx.rec(Src::Certificate, i).other_keys)
                    .filter(|k| !k.is_empty())
                    .map(|k| k.join(";"))
            })
            .collect::<Vec<_>>(),
    ));
    cols.push(Column::new(
        "prenatal_care_key".into(),
        births
            .iter()
            .map(|b| b.prenatal.as_deref())
            .collect::<Vec<_>>(),
    ));
    cols.push(Column::new(
        "birth_registration_key".into(),
        births
            .iter()
            .map(|b| b.registration.as_deref())
            .collect::<Vec<_>>(),
    ));
    cols.push(Column::new(
        "marriage_key".into(),
        births
            .iter()
            .map(|b| b.marriage.as_deref())
            .collect::<Vec<_>>(),
    ));
    cols.push(Column::new(
        "sources".into(),
        births
            .iter()
            .map(|b| {
                ents[b.entity as usize]
                    .members
                    .iter()
                    .filter(|m| m.is_some())
                    .count() as i32
            })
            .collect::<Vec<_>>(),
    ));
    cols.push(Column::new(
        "mother_id".into(),
        births
            .iter()
            .map(|b| b.mother_id.as_deref())
            .collect::<Vec<_>>(),
    ));
    cols.push(
        Int32Chunked::new(
            "birth_date".into(),
            births.iter().map(|b| Some(b.date)).collect::<Vec<_>>(),
        )
        .into_date()
        .into_column(),
    );
    cols.push(Column::new(
        "birth_date_source".into(),
        births
            .iter()
            .map(|b| b.date_source.id())
            .collect::<Vec<_>>(),
    ));
    cols.push(
        Int64Chunked::new(
            "birth_time".into(),
            births.iter().map(|b| b.time_ms).collect::<Vec<_>>(),
        )
        .into_datetime(TimeUnit::Milliseconds, None)
        .into_column(),
    );
    cols.push(Column::new(
        "child_sex".into(),
        births.iter().map(|b| b.sex).collect::<Vec<_>>(),
    ));
    cols.push(Column::new(
        "plurality".into(),
        births.iter().map(|b| b.plurality).collect::<Vec<_>>(),
    ));
    cols.push(Column::new(
        "birth_seq".into(),
        births.iter().map(|b| b.birth_seq).collect::<Vec<_>>(),
    ));
    cols.push(Column::new(
        "village".into(),
        births
            .iter()
            .map(|b| b.village.as_deref())
            .collect::<Vec<_>>(),
    ));
    cols.push(Column::new(
        "prenatal_residence_village".into(),
        births
            .iter()
            .map(|b| b.prenatal_village.as_deref())
            .collect::<Vec<_>>(),
    ));
    cols.push(Column::new(
        "mother_household_village".into(),
        births
            .iter()
            .map(|b| b.mother_village.as_deref())
            .collect::<Vec<_>>(),
    ));
    cols.push(Column::new(
        "village_source".into(),
        births
            .iter()
            .map(|b| b.village_source.map(AttributionStep::as_str))
            .collect::<Vec<_>>(),
    ));
    cols.push(Column::new(
        "in_jurisdiction".into(),
        births
            .iter()
            .map(|b| b.village.as_ref().map(|v| v.starts_with(jurisdiction)))
            .collect::<Vec<_>>(),
    ));
    cols.push(Column::new(
        "floating".into(),
        births.iter().map(|b| b.floating).collect::<Vec<_>>(),
    ));
    cols.push(Column::new(
        "birth_order".into(),
        births.iter().map(|b| b.order).collect::<Vec<_>>(),
    ));
    cols.push(Column::new(
        "policy_limit".into(),
        births.iter().map(|b| b.limit).collect::<Vec<_>>(),
    ));
    cols.push(Column::new(
        "policy_category".into(),
        births.iter().map(|b| b.category).collect::<Vec<_>>(),
    ));
    cols.push(
        Int32Chunked::new(
            "hepb1_date".into(),
            births.iter().map(|b| b.hepb1).collect::<Vec<_>>(),
        )
        .into_date()
        .into_column(),
    );
    DataFrame::new(n, cols)
}
