//! The check stage of a synthetic night, once, with its inner timings (`-vv` logs of
//! `poprecon_checks`) and the resident memory it adds: where the stage spends its time and
//! its memory, without criterion's repetitions.
//!
//! Run: `POPRECON_BENCH_DATA=/tmp/city1/synth cargo run -p poprecon-benches --example
//! checks_once` (the data as for the benches, see `common`).

use std::time::Instant;

use poprecon_checks::run_checks;

#[path = "../common/mod.rs"]
mod common;
use common::data;
#[path = "../checks_input.rs"]
mod checks_input;
use checks_input::{check_input, linked};

// The scale is printed by `data()`; this example does not need it again.
#[allow(dead_code)]
fn _scale(d: &common::Data) -> poprecon_synth::Scale {
    d.scale
}

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `VmRSS` and `VmHWM` of this process, in MiB.
fn memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb / 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "poprecon_checks=debug".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let d = data();
    let (linked, facts) = linked(&d);
    let input = check_input(&d, &linked, &facts);
    let (rss, hwm) = memory();
    eprintln!("before the checks: {rss} MiB resident, {hwm} MiB peak");
    // What the canonical tables hold (polars' estimate: buffers shared between columns are
    // counted in each).
    for (id, df) in &d.tables {
        let mib = |b: usize| b as f64 / (1 << 20) as f64;
        let mut columns: Vec<(String, usize)> = df
            .columns()
            .iter()
            .map(|c| {
                (
                    c.name().to_string(),
                    c.as_materialized_series().estimated_size(),
                )
            })
            .collect();
        columns.sort_by_key(|(_, b)| std::cmp::Reverse(*b));
        let top: Vec<String> = columns
            .iter()
            .take(6)
            .map(|(n, b)| format!("{n} {:.0}", mib(*b)))
            .collect();
        eprintln!(
            "{id}: {} rows, {:.0} MiB ({})",
            df.height(),
            mib(df.estimated_size()),
            top.join(", ")
        );
    }
    let runs: usize = std::env::var("POPRECON_CHECK_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    for _ in 0..runs {
        let started = Instant::now();
        let checked = run_checks(&input, &d.plan.rules).expect("the checks run");
        let (rss, hwm) = memory();
        eprintln!(
            "checks: {:.2} s, {} discrepancies, {} village rows; {rss} MiB resident, {hwm} MiB peak",
            started.elapsed().as_secs_f64(),
            checked.discrepancies.height(),
            checked.village_discrepancies.height(),
        );
    }
}
