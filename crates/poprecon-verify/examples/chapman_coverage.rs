//! How often the dual-system estimate's 95 % interval covers the true births, over many
//! synthetic seeds.
//!
//! ```sh
//! cargo run -p poprecon-verify --example chapman_coverage -- [SCALE] [SEEDS] [A] [B] [plain]
//! ```
//!
//! SCALE is `village` (default) or `county`; SEEDS defaults to 100; the pair A × B defaults
//! to `birth_certificate household` (the pipeline's default). For each seed the generator
//! writes a city into a temporary folder; the estimate is made by
//! `poprecon_verify::chapman_of`, as a run makes it (with the household registry in the
//! pair, Chapman's estimate for resident mothers' births plus floating mothers' births as
//! seen), from the true links (`truth/births.parquet`: which births each source recorded),
//! and compared with the true number of live births of the period (the truth's births and
//! the unseen ones). `plain` as the fifth argument: one Chapman estimate over all births.
//! The estimator is measured here, not the linkage: a run's `births.parquet` gives the
//! same counts where linkage is right.

use polars::prelude::*;
use poprecon_synth::{Scale, SynthConfig};
use poprecon_verify::Chapman;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let scale = match args.first().map(String::as_str) {
        None | Some("village") => Scale::Village,
        Some("county") => Scale::County,
        Some(other) => return Err(format!("scale `{other}`: village or county").into()),
    };
    let seeds: u64 = args.get(1).map_or(Ok(100), |s| s.parse())?;
    let a = args
        .get(2)
        .map_or("birth_certificate", String::as_str)
        .to_owned();
    let b = args.get(3).map_or("household", String::as_str).to_owned();
    let plain = args.get(4).map(String::as_str) == Some("plain");
    let dir = tempfile::tempdir()?;
    let (mut covered, mut rel_error, mut width) = (0u64, 0.0f64, 0.0f64);
    for seed in 1..=seeds {
        let out = dir.path().join(format!("s{seed}"));
        let summary = poprecon_synth::generate(&SynthConfig::new(scale, seed), &out, &|_| {})?;
        let truth_births =
            ParquetReader::new(std::fs::File::open(out.join("truth/births.parquet"))?).finish()?;
        // The truth's births as a run's `births.parquet` names them.
        let births = truth_births
            .lazy()
            .select([
                col("birth_id"),
                col("village"),
                col("mother_floating").alias("floating"),
                col(format!("{a}_key")),
                col(format!("{b}_key")),
            ])
            .collect()?;
        let c = if plain {
            let has = |s: &str| -> PolarsResult<Vec<bool>> {
                Ok(births
                    .column(&format!("{s}_key"))?
                    .as_materialized_series()
                    .is_not_null()
                    .iter()
                    .map(|v| v.unwrap_or(false))
                    .collect())
            };
            let (ha, hb) = (has(&a)?, has(&b)?);
            let count = |f: &dyn Fn(usize) -> bool| (0..ha.len()).filter(|&i| f(i)).count() as u64;
            Chapman::new(
                count(&|i| ha[i]),
                count(&|i| hb[i]),
                count(&|i| ha[i] && hb[i]),
            )
        } else {
            poprecon_verify::chapman_of(&births, &a, &b)?
        };
        let truth = (summary.births + summary.unseen_births) as f64;
        covered += u64::from(c.covers(truth));
        rel_error += (c.estimate - truth) / truth;
        width += (c.high - c.low) / truth;
        println!(
            "seed {seed:>4}: true {truth:>6} n1 {:>6} n2 {:>6} both {:>6} estimate {:>9.1} [{:.1}, {:.1}] {}",
            c.n1,
            c.n2,
            c.both,
            c.estimate,
            c.low,
            c.high,
            if c.covers(truth) { "covers" } else { "misses" }
        );
        std::fs::remove_dir_all(&out)?;
    }
    let n = seeds as f64;
    println!(
        "{scale} scale, {a} × {b}{}, {seeds} seeds: the interval covers the true births in {covered} ({:.1} %); mean relative error {:+.2} %, mean relative width {:.2} %",
        if plain { " (plain)" } else { "" },
        100.0 * covered as f64 / n,
        100.0 * rel_error / n,
        100.0 * width / n
    );
    Ok(())
}
