//! `poprecon run`: the nightly job. Stages run in order, each in its own tracing span with
//! a progress bar; the run folder is staged and renamed into place only when complete.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use poprecon_pipeline::Plan;
use rayon::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::ingest_cmd::{ingest_source, print_summary};
use crate::output::{StagedDir, create_private_dir};

/// What `manifest.json` records of a run.
#[derive(Debug, Serialize)]
pub struct Manifest {
    pub run_id: String,
    pub tool_version: &'static str,
    pub pipeline: String,
    pub pipeline_sha256: String,
    pub as_of: String,
    pub period: [String; 2],
    pub jurisdiction: String,
    pub inputs: Vec<InputRecord>,
    pub stages: Vec<StageRecord>,
}

#[derive(Debug, Serialize)]
pub struct InputRecord {
    pub source: String,
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
    pub rows_read: u64,
    pub rows_accepted: u64,
    pub rows_quarantined: u64,
}

#[derive(Debug, Serialize)]
pub struct StageRecord {
    pub stage: String,
    pub rows: u64,
    pub seconds: f64,
}

/// Runs the pipeline into `out`. Returns the exit code.
pub fn run(plan: &Plan, out: &Path, progress: bool) -> Result<u8> {
    let started = Instant::now();
    let staged = StagedDir::new(out)?;
    let dir = staged.path().to_owned();
    create_private_dir(&dir.join("quarantine"))?;
    create_private_dir(&dir.join("sources"))?;
    let mut stages = Vec::new();

    let t = Instant::now();
    let inputs = hash_inputs(plan)?;
    stages.push(StageRecord {
        stage: "hash_inputs".into(),
        rows: inputs.len() as u64,
        seconds: t.elapsed().as_secs_f64(),
    });

    let t = Instant::now();
    let span = tracing::info_span!("stage", name = "ingest").entered();
    let mut stats = Vec::new();
    for sp in &plan.sources {
        let mut output = ingest_source(plan, sp, progress)?;
        let path = dir
            .join("sources")
            .join(format!("{}.parquet", output.source));
        poprecon_ingest::write_parquet(&mut output.records, &path)
            .with_context(|| format!("cannot write `{}`", path.display()))?;
        let path = dir
            .join("quarantine")
            .join(format!("{}.parquet", output.source));
        poprecon_ingest::write_parquet(&mut output.quarantine, &path)
            .with_context(|| format!("cannot write `{}`", path.display()))?;
        stats.push(output.stats);
    }
    drop(span);
    stages.push(StageRecord {
        stage: "ingest".into(),
        rows: stats.iter().map(|s| s.read).sum(),
        seconds: t.elapsed().as_secs_f64(),
    });

    let mut records = Vec::new();
    for s in &stats {
        for fs in &s.files {
            let (bytes, sha256) = inputs
                .iter()
                .find(|(p, _, _)| p.display().to_string() == fs.path)
                .map(|(_, b, h)| (*b, h.clone()))
                .unwrap_or_default();
            records.push(InputRecord {
                source: s.source.clone(),
                path: fs.path.clone(),
                bytes,
                sha256,
                rows_read: fs.read,
                rows_accepted: fs.accepted,
                rows_quarantined: fs.quarantined,
            });
        }
    }
    let pipeline_bytes = std::fs::read(&plan.path)
        .with_context(|| format!("cannot read `{}`", plan.path.display()))?;
    let manifest = Manifest {
        run_id: run_id(plan),
        tool_version: env!("CARGO_PKG_VERSION"),
        pipeline: plan.path.display().to_string(),
        pipeline_sha256: hex(&Sha256::digest(&pipeline_bytes)),
        as_of: plan.as_of.to_string(),
        period: [plan.period.0.to_string(), plan.period.1.to_string()],
        jurisdiction: plan.jurisdiction.clone(),
        inputs: records,
        stages,
    };
    std::fs::write(
        dir.join("manifest.json"),
        serde_json::to_string_pretty(&manifest)? + "\n",
    )
    .context("cannot write `manifest.json`")?;
    let dest = staged.commit()?;
    print_summary(&stats)?;
    eprintln!(
        "run complete in {:.1} s: {}",
        started.elapsed().as_secs_f64(),
        dest.display()
    );
    Ok(crate::exit::OK)
}

/// A run id that sorts by time: `YYYYMMDDTHHMMSSZ-<as_of>`.
fn run_id(plan: &Plan) -> String {
    let now = chrono::Utc::now();
    format!(
        "{}-{}",
        now.format("%Y%m%dT%H%M%SZ"),
        plan.as_of.format("%Y%m%d")
    )
}

/// Size and sha256 of every input file, hashed in parallel.
fn hash_inputs(plan: &Plan) -> Result<Vec<(PathBuf, u64, String)>> {
    let files: Vec<&PathBuf> = plan
        .sources
        .iter()
        .flat_map(|s| s.files.iter().map(|f| &f.path))
        .collect();
    files
        .par_iter()
        .map(|path| {
            let mut f = std::fs::File::open(path)
                .with_context(|| format!("cannot read `{}`", path.display()))?;
            let mut hasher = Sha256::new();
            let mut buf = vec![0u8; 1 << 20];
            let mut bytes = 0u64;
            loop {
                let n = f
                    .read(&mut buf)
                    .with_context(|| format!("cannot read `{}`", path.display()))?;
                if n == 0 {
                    break;
                }
                bytes += n as u64;
                hasher.update(&buf[..n]);
            }
            Ok(((*path).clone(), bytes, hex(&hasher.finalize())))
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
