//! The checks of the synthetic city: every rule of the catalogue over ~35 k linked births
//! and the nine sources (~7 M rows, ~4 M of them the household registry).
//!
//! The data are those of the `link` bench (see `common`); they are linked once and the births
//! stage made, then only
//! [`poprecon_checks::run_checks`] is timed, with the synthetic pipeline's `[rules]`.
//!
//! Since #14 the night narrows the household registry first (`narrow_household`, in the
//! ingest stage) and runs the rules on the rows held: `narrow_household` and
//! `synthetic_<scale>_narrowed` time the two, `synthetic_<scale>` the rules over the whole
//! registry (as before, and as a caller without the narrowing has them).
//!
//! `household_scan_in_pieces` times the narrowing as the night runs it since session 9
//! (`HouseholdScan` over pieces of the registry, the other sources known);
//! `narrow_sources` the school, marriage and social-security records narrowed
//! (`narrow_source`, session 10) and `synthetic_<scale>_all_narrowed` the rules on the rows
//! held of all four, as the night runs them since.
//!
//! Run: `cargo bench -p poprecon-benches --bench checks`. `POPRECON_BENCH_SCALE` picks
//! another scale (`village`, `county`, `city`).

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use poprecon_checks::{narrow_household, run_checks};

mod common;
use common::data;
#[path = "checks_input.rs"]
mod checks_input;
use checks_input::{check_input, linked};

// The binary's allocator, so that the figures are the binary's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn bench_checks(c: &mut Criterion) {
    let d = data();
    let (linked, facts) = linked(&d);
    let input = check_input(&d, &linked, &facts);
    let checked = run_checks(&input, &d.plan.rules).expect("the checks run");
    eprintln!(
        "{} births, {} discrepancies, {} village rows",
        linked.births.height(),
        checked.discrepancies.height(),
        checked.village_discrepancies.height()
    );
    let mut group = c.benchmark_group("checks");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(60));
    group.bench_function(format!("synthetic_{}", d.scale), |b| {
        b.iter(|| run_checks(black_box(&input), &d.plan.rules).expect("the checks run"))
    });
    // The night's way: the registry narrowed (with linkage's window), the rules on the rows
    // held; the same tables.
    let window = poprecon_link::birth_window(d.plan.period, &poprecon_link::LinkConfig::default());
    let whole = &d.tables["household"];
    let mut others = d.tables.clone();
    others.remove("household");
    let narrow = || narrow_household(whole, &others, window).expect("the registry narrows");
    let (held, rest) = narrow();
    let narrowed = input.clone().with_narrowed_household(&held, &rest);
    let same = run_checks(&narrowed, &d.plan.rules).expect("the checks run");
    assert!(same.discrepancies.equals_missing(&checked.discrepancies));
    assert!(
        same.village_discrepancies
            .equals_missing(&checked.village_discrepancies)
    );
    eprintln!("{} of {} household rows held", rest.held, whole.height());
    group.bench_function("narrow_household", |b| b.iter(|| black_box(narrow())));
    // The night's way since session 9: the registry scanned in pieces of 524 288 rows, the
    // other sources known, each piece's likely rows kept.
    let scan = || {
        let mut scan = poprecon_checks::HouseholdScan::new(window)
            .knowing(&others)
            .expect("the others are read");
        let mut likely = 0;
        let mut offset = 0;
        while offset < whole.height() {
            let piece = whole.slice(offset as i64, 1 << 19);
            likely += scan
                .add(&piece)
                .expect("a piece")
                .iter()
                .filter(|l| **l)
                .count();
            offset += 1 << 19;
        }
        let narrowing = scan.finish(&others).expect("the registry narrows");
        (likely, narrowing.rest.held)
    };
    let (likely, held) = scan();
    assert_eq!(held, rest.held);
    eprintln!("{likely} household rows likely held in pieces, {held} held");
    group.bench_function("household_scan_in_pieces", |b| b.iter(|| black_box(scan())));
    group.bench_function(format!("synthetic_{}_narrowed", d.scale), |b| {
        b.iter(|| run_checks(black_box(&narrowed), &d.plan.rules).expect("the checks run"))
    });
    // Since session 10 the school, marriage and social-security records are narrowed too
    // (`SourceScan`; the night scans them in pieces): the rules on the rows held of all four.
    let narrow_sources = || {
        poprecon_checks::NARROWED_SOURCES
            .iter()
            .map(|s| {
                let mut others = d.tables.clone();
                others.remove(*s);
                let (held, rest) =
                    poprecon_checks::narrow_source(s, &d.tables[*s], &others, Some(&rest))
                        .expect("the source narrows")
                        .expect("a narrowed source");
                (*s, held, rest)
            })
            .collect::<Vec<_>>()
    };
    let sources = narrow_sources();
    let mut all_narrowed = narrowed.clone();
    for (s, held, rest) in &sources {
        eprintln!(
            "{s}: {} of {} rows held",
            held.height(),
            d.tables[*s].height()
        );
        all_narrowed = all_narrowed.with_narrowed_source(s, held, rest);
    }
    let same = run_checks(&all_narrowed, &d.plan.rules).expect("the checks run");
    assert!(same.discrepancies.equals_missing(&checked.discrepancies));
    assert!(
        same.village_discrepancies
            .equals_missing(&checked.village_discrepancies)
    );
    group.bench_function("narrow_sources", |b| b.iter(|| black_box(narrow_sources())));
    group.bench_function(format!("synthetic_{}_all_narrowed", d.scale), |b| {
        b.iter(|| run_checks(black_box(&all_narrowed), &d.plan.rules).expect("the checks run"))
    });
    group.finish();
}

criterion_group!(benches, bench_checks);
criterion_main!(benches);
