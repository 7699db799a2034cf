//! The whole night without its writing: `poprecon_pipeline::execute` (ingest, link, check,
//! measure) over the synthetic city, the very function `poprecon run` calls.
//!
//! The city is generated once (with `poprecon-synth`, seed 1) into a temporary folder, or
//! read from `POPRECON_BENCH_DATA` when that folder already holds one; each iteration reads
//! its extracts again. Run: `cargo bench -p poprecon-benches --bench run`;
//! `POPRECON_BENCH_SCALE` picks another scale (`village`, `county`, `city`).

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use poprecon_pipeline::{ExecuteOptions, execute};

// This bench needs only the plan of the shared data, not its ingested tables.
#[allow(dead_code)]
mod common;
use common::data;

// The binary's allocator, so that the figures are the binary's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn bench_run(c: &mut Criterion) {
    let d = data();
    let opts = ExecuteOptions::default();
    let tables = execute(&d.plan, &opts).expect("the night runs");
    for t in &tables.stages {
        eprintln!(
            "{:<8} {:>10} rows {:>8.1} s",
            t.stage.as_str(),
            t.rows,
            t.seconds
        );
    }
    let mut group = c.benchmark_group("run");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(60));
    group.bench_function(format!("synthetic_{}", d.scale), |b| {
        b.iter(|| execute(black_box(&d.plan), &opts).expect("the night runs"))
    });
    group.finish();
}

criterion_group!(benches, bench_run);
criterion_main!(benches);
