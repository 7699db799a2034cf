//! Linkage of the synthetic city: ~4 M household rows, ~35 k births, every source.
//!
//! The city is generated once (with `poprecon-synth`, seed 1) into a temporary folder, or
//! read from `POPRECON_BENCH_DATA` when that folder already holds a generated city; the
//! nine extracts are ingested once; only [`poprecon_link::link`] is timed.
//!
//! Run: `cargo bench -p poprecon-benches --bench link`. `POPRECON_BENCH_SCALE` picks
//! another scale (`village`, `county`, `city`).

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use poprecon_link::{LinkConfig, link};

mod common;
use common::{data, link_input};

// The binary's allocator, so that the figures are the binary's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn bench_link(c: &mut Criterion) {
    let d = data();
    let input = link_input(&d);
    let cfg = LinkConfig::default();
    let out = link(&input, &cfg).expect("linkage runs");
    eprintln!(
        "linked {} births ({} links, {} contested rows)",
        out.births.height(),
        out.links.height(),
        out.ambiguous.height()
    );
    let mut group = c.benchmark_group("link");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(40));
    group.bench_function(format!("synthetic_{}", d.scale), |b| {
        b.iter(|| link(black_box(&input), &cfg).expect("linkage runs"))
    });
    group.finish();
}

criterion_group!(benches, bench_link);
criterion_main!(benches);
