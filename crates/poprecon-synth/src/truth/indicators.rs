//! The indicators of domain.md §6 (§8.21): counts per unit (a birth, a delivery), per leaf
//! area of each basis, rolled up the division table at the end.

use std::collections::BTreeMap;

use super::rules::{BirthFacts, Ctx, limit_on, stillbirth_booking, stillbirths};
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

/// A delivery's part of the counts.
fn delivery_counts(counts: &mut Counts, floating: bool, booking: Option<Option<i64>>) {
    let booked = booking.is_some();
    let early = booking.flatten().is_some_and(|w| w < 13);
    counts[PRENATAL] = [n(booked), 1];
    counts[EARLY] = [n(early), 1];
    counts[FLOATING_PRENATAL] = [n(floating && booked), n(floating)];
}

/// Adds a unit's counts to its leaves and to the village's total.
fn add_unit(out: &mut VillageTruth, leaves: [Option<(Level, String)>; 3], counts: &Counts) {
    for (basis, leaf) in leaves.into_iter().enumerate() {
        if let Some((level, code)) = leaf {
            add_counts(
                out.leaves
                    .entry((basis as u8, level, code))
                    .or_insert([[0; 2]; 14]),
                counts,
            );
        }
    }
    add_counts(&mut out.total, counts);
    out.any_unit = true;
}

/// Counts the village's births and the period's stillbirth deliveries.
pub(crate) fn tally(ctx: &Ctx<'_>, facts: &[BirthFacts], out: &mut VillageTruth) {
    let as_of = ctx.input.cal.as_of;
    for (birth, f) in ctx.input.births.iter().zip(facts) {
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
        if has(0) {
            let booking = f.booking.map(|_| f.booking_weeks);
            delivery_counts(&mut c, f.floating, booking);
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
            birth.village.clone().map(|v| (Level::Village, v)),
            f.mother_village.clone().map(|v| (Level::Village, v)),
            f.institution.map(|i| occurrence(ctx, i)),
        ];
        add_unit(out, leaves, &c);
    }
    let w = ctx.w;
    for (pi, row, date) in stillbirths(ctx) {
        let p = &w.pregnancies[pi];
        let mother_village = ctx.active_village(p.mother);
        let booking = stillbirth_booking(ctx, pi, date);
        let mut c: Counts = [[0; 2]; 14];
        delivery_counts(&mut c, mother_village.is_none(), booking);
        let residence = ctx
            .delivery_residence(row)
            .or_else(|| booking.and_then(|_| ctx.booking_residence(pi)))
            .or_else(|| mother_village.clone());
        let leaves = [
            residence.map(|v| (Level::Village, v)),
            mother_village.map(|v| (Level::Village, v)),
            Some(occurrence(ctx, p.institution)),
        ];
        add_unit(out, leaves, &c);
    }
}

/// Every area's counts: each leaf added to itself and its ancestors (a village code the
/// division table does not know has none), and the jurisdiction's per basis.
pub(crate) fn roll_up(
    leaves: &BTreeMap<(u8, Level, String), Counts>,
    total: &Counts,
    any_unit: bool,
    divisions: &Divisions,
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
        add(*basis, *level, code, counts);
        let known = *level != Level::Village || divisions.villages.contains_key(code);
        if !known {
            continue;
        }
        let parents: &[(Level, usize)] = match level {
            Level::Village => &[(Level::Township, 9), (Level::County, 6), (Level::City, 4)],
            Level::Township => &[(Level::County, 6), (Level::City, 4)],
            Level::County => &[(Level::City, 4)],
            Level::City | Level::Jurisdiction => &[],
        };
        for (parent, len) in parents {
            add(*basis, *parent, &code[..*len], counts);
        }
    }
    if any_unit {
        for basis in 0..3u8 {
            add(basis, Level::Jurisdiction, "", total);
        }
    }
    rows
}
