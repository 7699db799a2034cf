//! The synthetic data the stage benchmarks share: the city (or `POPRECON_BENCH_SCALE`)
//! generated once with `poprecon-synth` (seed 1) into a temporary folder, or read from
//! `POPRECON_BENCH_DATA` when that folder already holds one, and its nine extracts
//! ingested once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use polars::prelude::*;
use poprecon_link::LinkInput;
use poprecon_pipeline::Plan;
use poprecon_synth::{Scale, SynthConfig};

/// The generated data: a kept folder, or a temporary one that lives as long as the bench.
pub struct Data {
    pub _tmp: Option<tempfile::TempDir>,
    pub scale: Scale,
    pub plan: Plan,
    pub tables: BTreeMap<String, DataFrame>,
}

fn generated(scale: Scale) -> (Option<tempfile::TempDir>, PathBuf) {
    if let Ok(dir) = std::env::var("POPRECON_BENCH_DATA") {
        let dir = PathBuf::from(dir);
        if !dir.join("pipeline.toml").is_file() {
            poprecon_synth::generate(&SynthConfig::new(scale, 1), &dir, &|_| {})
                .expect("the synthetic city is generated");
        }
        return (None, dir);
    }
    let tmp = tempfile::tempdir().expect("a temporary folder");
    let dir = tmp.path().join(scale.as_str());
    poprecon_synth::generate(&SynthConfig::new(scale, 1), &dir, &|_| {})
        .expect("the synthetic city is generated");
    (Some(tmp), dir)
}

fn ingest_all(pipeline: &Path) -> (Plan, BTreeMap<String, DataFrame>) {
    let plan = Plan::load(pipeline).expect("the synthetic pipeline loads");
    let mut tables = BTreeMap::new();
    for sp in &plan.sources {
        // The night's own ingest of a source (`poprecon_pipeline::execute` calls it).
        let out = poprecon_pipeline::ingest_source(&plan, sp, &poprecon_pipeline::NoProgress)
            .expect("the synthetic extracts ingest");
        tables.insert(sp.source.id().to_owned(), out.records);
    }
    (plan, tables)
}

pub fn data() -> Data {
    let scale: Scale = std::env::var("POPRECON_BENCH_SCALE")
        .ok()
        .map(|s| s.parse().expect("a scale: village, county or city"))
        .unwrap_or(Scale::City);
    let started = Instant::now();
    let (tmp, dir) = generated(scale);
    let generated_in = started.elapsed();
    let started = Instant::now();
    let (plan, tables) = ingest_all(&dir.join("pipeline.toml"));
    eprintln!(
        "{scale}: generated in {:.1} s, ingested in {:.1} s ({} household rows)",
        generated_in.as_secs_f64(),
        started.elapsed().as_secs_f64(),
        tables.get("household").map_or(0, DataFrame::height),
    );
    Data {
        _tmp: tmp,
        scale,
        plan,
        tables,
    }
}

/// The linkage input of the data.
pub fn link_input(d: &Data) -> LinkInput<'_> {
    let t = |s: &str| d.tables.get(s);
    poprecon_link::LinkInput::from_tables(
        |s| t(s),
        d.plan.as_of,
        d.plan.period,
        &d.plan.jurisdiction,
    )
}
