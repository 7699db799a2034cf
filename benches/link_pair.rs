//! The poprecon side of the peer benchmark (`benches/peers/splink_vs_poprecon.sh`):
//! deliveries linked to birth certificates on the synthetic city, timed, and scored against
//! the truth.
//!
//! Run: `POPRECON_PEER_DATA=<folder> cargo bench -p poprecon-benches --bench link_pair`.
//! The folder is generated (synthetic city, seed 1; `POPRECON_PEER_SCALE` for another
//! scale) unless it already holds one. The ingested delivery and certificate tables are
//! written to `<folder>/peer/` so that the peer links the very same records. Prints one line
//! of `key=value` pairs: linkage seconds (best of 3), precision, recall and F1 of the
//! delivery–certificate pairs.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use polars::prelude::*;
use poprecon_link::{LinkConfig, LinkInput, link};
use poprecon_pipeline::Plan;
use poprecon_synth::{Scale, SynthConfig};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn ingest(plan: &Plan, id: &str) -> DataFrame {
    let sp = plan.source(id).expect("the pipeline reads the source");
    poprecon_ingest::ingest(&plan.ingest_config(sp))
        .expect("the extract ingests")
        .records
}

fn pairs(df: &DataFrame, a: &str, b: &str) -> BTreeSet<(String, String)> {
    let ka = df.column(a).expect("key").str().expect("text").clone();
    let kb = df.column(b).expect("key").str().expect("text").clone();
    ka.iter()
        .zip(kb.iter())
        .filter_map(|(x, y)| Some((x?.to_owned(), y?.to_owned())))
        .collect()
}

fn main() {
    let dir = PathBuf::from(
        std::env::var("POPRECON_PEER_DATA").unwrap_or_else(|_| "target/peer-city".into()),
    );
    if !dir.join("pipeline.toml").is_file() {
        let scale: Scale = std::env::var("POPRECON_PEER_SCALE")
            .ok()
            .map(|s| s.parse().expect("a scale"))
            .unwrap_or(Scale::City);
        let t = Instant::now();
        poprecon_synth::generate(&SynthConfig::new(scale, 1), &dir, &|_| {})
            .expect("the synthetic data is generated");
        eprintln!(
            "generated {} in {:.1} s",
            dir.display(),
            t.elapsed().as_secs_f64()
        );
    }
    let plan = Plan::load(&dir.join("pipeline.toml")).expect("the pipeline loads");
    let t = Instant::now();
    let mut delivery = ingest(&plan, "hospital_delivery");
    let mut certificate = ingest(&plan, "birth_certificate");
    let ingest_s = t.elapsed().as_secs_f64();
    let peer = dir.join("peer");
    std::fs::create_dir_all(&peer).expect("the peer folder is created");
    write(&mut delivery, &peer.join("hospital_delivery.parquet"));
    write(&mut certificate, &peer.join("birth_certificate.parquet"));

    let input = LinkInput {
        hospital_delivery: Some(&delivery),
        birth_certificate: Some(&certificate),
        household: None,
        vaccination: None,
        prenatal_care: None,
        birth_registration: None,
        marriage: None,
        as_of: plan.as_of,
        period: plan.period,
        jurisdiction: &plan.jurisdiction,
    };
    let cfg = LinkConfig::default();
    let mut best = f64::INFINITY;
    let mut out = None;
    for _ in 0..3 {
        let t = Instant::now();
        let o = link(&input, &cfg).expect("linkage runs");
        best = best.min(t.elapsed().as_secs_f64());
        out = Some(o);
    }
    let out = out.expect("three runs");
    let truth = read(&dir.join("truth").join("births.parquet"));
    let (a, b) = ("hospital_delivery_key", "birth_certificate_key");
    let want = pairs(&truth, a, b);
    let got = pairs(&out.births, a, b);
    let hit = want.intersection(&got).count() as f64;
    let precision = hit / got.len().max(1) as f64;
    let recall = hit / want.len().max(1) as f64;
    let f1 = 2.0 * precision * recall / (precision + recall).max(f64::MIN_POSITIVE);
    println!(
        "tool=poprecon deliveries={} certificates={} ingest_s={ingest_s:.3} link_s={best:.3} true_pairs={} linked_pairs={} precision={precision:.5} recall={recall:.5} f1={f1:.5}",
        delivery.height(),
        certificate.height(),
        want.len(),
        got.len(),
    );
}

fn write(df: &mut DataFrame, path: &Path) {
    let file = std::fs::File::create(path).expect("the peer table is created");
    ParquetWriter::new(file)
        .finish(df)
        .expect("the peer table is written");
}

fn read(path: &Path) -> DataFrame {
    let file = std::fs::File::open(path).expect("the truth is there");
    ParquetReader::new(file).finish().expect("the truth reads")
}
