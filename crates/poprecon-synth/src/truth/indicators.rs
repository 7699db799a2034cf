//! The indicators of domain.md §6 (§8.21): counts per birth event, per leaf area of each
//! basis, rolled up by code prefix at the end.

use std::collections::BTreeMap;

use super::rules::{BirthFacts, Ctx, StillbirthFacts, limit_on};
use super::{Counts, Level, VillageTruth, add_counts};
use crate::divisions::Divisions;
use crate::world::days;

/// The indicators of domain.md §6, in its order (the index of each in [`Counts`]).
pub(crate) const INDICATORS: [&str; 14] = [
    "live_births",
    "sex_ratio_at_birth",
    "hospital_delivery_rate",
    "birth_certificate_rate",
    "household_registration_rate",
    "registration_service_rate",
    "prenatal_booking_rate",
    "early_prenatal_booking_rate",
    "hepb1_timely_rate",
    "policy_compliance_rate",
    "birth_info_accuracy_rate",
    "floating_birth_share",
    "floating_prenatal_booking_rate",
    "higher_order_birth_share",
];

const PRENATAL: usize = 6;
const EARLY: usize = 7;
const FLOATING_PRENATAL: usize = 12;

fn n(b: bool) -> i64 {
    i64::from(b)
}

/// The area of a delivering institution: the five city hospitals lie in the city, the
/// county's two hospitals in the county, the township health centre in the township.
fn occurrence(ctx: &Ctx<'_>, institution: u8) -> (Level, String) {
    let code = &ctx.input.village.code;
    match institution {
        0..=4 => (Level::City, code[..4].to_owned()),
        5 | 6 => (Level::County, code[..6].to_owned()),
        _ => (Level::Township, code[..9].to_owned()),
    }
}

/// Adds a unit's counts to its leaf on each basis (residence, household, occurrence); a
/// unit without an area on a basis counts for the jurisdiction only.
fn add_leaves(out: &mut VillageTruth, leaves: [Option<(Level, String)>; 3], c: &Counts) {
    for (basis, leaf) in leaves.into_iter().enumerate() {
        let key = leaf.unwrap_or((Level::Jurisdiction, String::new()));
        add_counts(
            out.leaves
                .entry((basis as u8, key.0, key.1))
                .or_insert([[0; 2]; 14]),
            c,
        );
    }
}

/// The three delivery indicators of one delivery (§8.4): booked, booked before 13 weeks,
/// and the same among floating mothers.
fn delivery_counts(c: &mut Counts, booked: bool, weeks: Option<i64>, floating: bool) {
    let early = booked && weeks.is_some_and(|w| w < 13);
    c[PRENATAL] = [n(booked), 1];
    c[EARLY] = [n(early), 1];
    c[FLOATING_PRENATAL] = [n(floating && booked), n(floating)];
}

/// Counts the village's births and the stillbirths' deliveries: each adds its counts to
/// its leaf on each basis. A stillbirth's delivery counts in the delivery indicators only
/// (§8.4), and its area gets every indicator (§8.21).
pub(crate) fn tally(
    ctx: &Ctx<'_>,
    facts: &[BirthFacts],
    stillbirths: &[StillbirthFacts],
    out: &mut VillageTruth,
) {
    for s in stillbirths {
        let mut c: Counts = [[0; 2]; 14];
        delivery_counts(&mut c, s.booking.is_some(), s.booking_weeks, s.floating);
        let leaves = [
            s.village.clone().map(|v| (Level::Village, v)),
            s.mother_village.clone().map(|v| (Level::Village, v)),
            Some(occurrence(ctx, s.institution)),
        ];
        add_leaves(out, leaves, &c);
    }
    let as_of = ctx.input.cal.as_of;
    for f in facts {
        let mut c: Counts = [[0; 2]; 14];
        let due = |grace: i64| f.date <= as_of - days(grace);
        let has = |k: usize| f.obs[k].is_some();
        c[0] = [1, 0];
        c[1] = [n(f.sex == Some(1)), n(f.sex == Some(2))];
        c[2] = [n(has(0)), 1];
        c[3] = [n(due(30) && has(1)), n(due(30))];
        let registrable = !f.floating && due(60);
        c[4] = [n(registrable && has(2)), n(registrable)];
        c[5] = [n(f.registration.is_some()), 1];
        // A live birth's delivery; the stillbirths' deliveries are counted above.
        if has(0) {
            delivery_counts(&mut c, f.booking.is_some(), f.booking_weeks, f.floating);
        }
        let timely = f.hepb1.is_some_and(|d| (d - f.date).num_days() <= 1);
        c[8] = [n(due(7) && timely), n(due(7))];
        let known = f.order.is_some();
        let within = f
            .order
            .is_some_and(|o| limit_on(f.date).is_none_or(|l| o <= l));
        c[9] = [n(within), n(known)];
        let seen2 = f.sources_seen() >= 2;
        c[10] = [n(seen2 && !f.mismatch.iter().any(|m| *m)), n(seen2)];
        c[11] = [n(f.floating), 1];
        c[13] = [n(f.order.is_some_and(|o| o >= 3)), n(known)];
        let leaves = [
            f.village.clone().map(|v| (Level::Village, v)),
            f.mother_village.clone().map(|v| (Level::Village, v)),
            f.institution.map(|i| occurrence(ctx, i)),
        ];
        add_leaves(out, leaves, &c);
    }
}

/// The length of an area code of a level.
fn code_len(level: Level) -> usize {
    match level {
        Level::Village => 12,
        Level::Township => 9,
        Level::County => 6,
        Level::City => 4,
        Level::Jurisdiction => 0,
    }
}

/// Every area's counts, by code prefix (domain.md §3, §8.11). A leaf whose code is not a
/// code of its level inside the jurisdiction's prefix counts nowhere. Otherwise it has its
/// own row (a village code the division table does not know included) and adds to the
/// township of its first 9 digits and the county of its first 6 where the division table
/// knows them, to the city of its first 4 (there is no city table), and to the
/// jurisdiction, which also counts the births with no area on that basis.
pub(crate) fn roll_up(
    leaves: &BTreeMap<(u8, Level, String), Counts>,
    divisions: &Divisions,
    jurisdiction: &str,
) -> BTreeMap<(u8, Level, String), Counts> {
    let mut rows: BTreeMap<(u8, Level, String), Counts> = BTreeMap::new();
    let mut add = |basis: u8, level: Level, code: &str, counts: &Counts| {
        add_counts(
            rows.entry((basis, level, code.to_owned()))
                .or_insert([[0; 2]; 14]),
            counts,
        );
    };
    for ((basis, level, code), counts) in leaves {
        if *level != Level::Jurisdiction {
            let in_prefix = code.len() == code_len(*level)
                && code.bytes().all(|b| b.is_ascii_digit())
                && code.starts_with(jurisdiction);
            if !in_prefix {
                continue;
            }
            add(*basis, *level, code, counts);
            for parent in [Level::Township, Level::County, Level::City] {
                let len = code_len(parent);
                if parent <= *level || code.len() < len {
                    continue;
                }
                let prefix = &code[..len];
                let known = match parent {
                    Level::Township => divisions.townships.contains_key(prefix),
                    Level::County => divisions.counties.contains_key(prefix),
                    _ => true,
                };
                if known {
                    add(*basis, parent, prefix, counts);
                }
            }
        }
        add(*basis, Level::Jurisdiction, "", counts);
    }
    rows
}
