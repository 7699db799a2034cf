//! The checks of the synthetic city: every rule of the catalogue over ~35 k linked births
//! and the nine sources (~7 M rows, ~4 M of them the household registry).
//!
//! The data are those of the `link` bench (see `common`); they are linked once and the births
//! stage made, then only
//! [`poprecon_checks::run_checks`] is timed, with the synthetic pipeline's `[rules]`.
//!
//! Run: `cargo bench -p poprecon-benches --bench checks`. `POPRECON_BENCH_SCALE` picks
//! another scale (`village`, `county`, `city`).

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use poprecon_checks::run_checks;

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
    group.finish();
}

criterion_group!(benches, bench_checks);
criterion_main!(benches);
