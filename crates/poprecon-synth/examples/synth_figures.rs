//! Times the generator at a scale and prints the shape of what it made:
//!
//! ```sh
//! cargo run -p poprecon-synth --example synth_figures -- SCALE [OUT_DIR [SEED]]
//! ```
//!
//! (`SCALE` is `village`, `county`, `city` or `province`; without `OUT_DIR` the output goes
//! to a temporary folder and is removed; the seed is 1 unless given.) It prints the seconds,
//! each file's rows and bytes, and aggregates of `truth/births.parquet`: sex ratio, floating
//! share, twins, higher orders, and the share of births each source's key reaches. Never a
//! person-level value.

use std::path::PathBuf;
use std::process::ExitCode;

use polars::prelude::*;
use poprecon_synth::{Scale, SynthConfig, generate, score::ALL_SOURCES};

// The `poprecon` binary runs the generator with mimalloc: the figures are the binary's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(scale) = args.first() else {
        eprintln!("usage: synth_figures SCALE [OUT_DIR [SEED]]");
        return ExitCode::from(2);
    };
    match figures(scale, args.get(1).map(PathBuf::from), args.get(2)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn figures(
    scale: &str,
    out: Option<PathBuf>,
    seed: Option<&String>,
) -> Result<(), Box<dyn std::error::Error>> {
    let scale: Scale = scale.parse()?;
    let seed: u64 = seed.map_or(Ok(1), |s| s.parse())?;
    let temporary = tempfile::tempdir()?;
    let out = out.unwrap_or_else(|| temporary.path().join("out"));
    let cfg = SynthConfig::new(scale, seed);
    let started = std::time::Instant::now();
    let summary = generate(&cfg, &out, &|m| eprintln!("{m}"))?;
    let seconds = started.elapsed().as_secs_f64();
    let mut bytes = 0;
    for (rel, rows) in &summary.files {
        let size = std::fs::metadata(out.join(rel)).map_or(0, |m| m.len());
        bytes += size;
        println!("{rows:>12} rows {size:>12} bytes  {}", rel.display());
    }
    println!(
        "scale {scale} seed {seed}: {seconds:.1} s, {:.1} MB, {} villages, {} people, {} household rows, {} births",
        bytes as f64 / 1e6,
        summary.villages,
        summary.people,
        summary.household_rows,
        summary.births
    );
    let births =
        ParquetReader::new(std::fs::File::open(out.join("truth/births.parquet"))?).finish()?;
    let count = |name: &str, value: i32| -> PolarsResult<usize> {
        Ok(births
            .column(name)?
            .i32()?
            .iter()
            .filter(|v| *v == Some(value))
            .count())
    };
    let floating = births
        .column("mother_floating")?
        .bool()?
        .iter()
        .filter(|v| *v == Some(true))
        .count();
    let n = births.height().max(1) as f64;
    println!(
        "sex ratio {:.1}, floating share {:.3}, twin children {:.3}, birth order >= 3 {:.3}",
        count("true_sex", 1)? as f64 / count("true_sex", 2)?.max(1) as f64 * 100.0,
        floating as f64 / n,
        count("plurality", 2)? as f64 / n,
        (count("birth_order", 3)? + count("birth_order", 4)? + count("birth_order", 5)?) as f64 / n,
    );
    for source in ALL_SOURCES {
        let key = births.column(&format!("{source}_key"))?;
        let present = key.len() - key.null_count();
        println!("{source}_key: {:.3} of births", present as f64 / n);
    }
    Ok(())
}
