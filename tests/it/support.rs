use std::path::{Path, PathBuf};

use polars::prelude::*;
use poprecon_ingest::SourceOutput;
use poprecon_pipeline::Plan;

/// A folder with the real Bengbu division table and a pipeline file written by the test.
pub struct Fixture {
    pub dir: tempfile::TempDir,
}

impl Fixture {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let divisions = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sample-data/divisions");
        std::fs::create_dir_all(dir.path().join("divisions")).unwrap();
        for f in ["counties.csv", "townships.csv", "villages.csv"] {
            std::fs::copy(divisions.join(f), dir.path().join("divisions").join(f)).unwrap();
        }
        Fixture { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `pipeline.toml` with the given `[sources.*]` tables.
    pub fn pipeline(&self, sources: &str) -> PathBuf {
        let text = format!(
            r#"[pipeline]
name = "test"
jurisdiction = "3403"
as_of = 2026-01-31
period = {{ start = 2025-01-01, end = 2025-12-31 }}

[divisions]
counties = "divisions/counties.csv"
townships = "divisions/townships.csv"
villages = "divisions/villages.csv"

{sources}"#
        );
        let path = self.path("pipeline.toml");
        std::fs::write(&path, text).unwrap();
        path
    }
}

/// Loads a pipeline and ingests all its sources, as `poprecon ingest` does.
pub fn ingest_pipeline(pipeline: &Path) -> Vec<SourceOutput> {
    let plan = Plan::load(pipeline).unwrap();
    plan.sources
        .iter()
        .map(|sp| {
            poprecon_ingest::ingest(&plan.ingest_config(sp)).unwrap_or_else(|e| panic!("{e}"))
        })
        .collect()
}

pub fn strings(df: &DataFrame, col: &str) -> Vec<Option<String>> {
    df.column(col)
        .unwrap_or_else(|e| panic!("{e}"))
        .as_materialized_series()
        .cast(&DataType::String)
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|v| v.map(str::to_owned))
        .collect()
}

pub fn ints(df: &DataFrame, col: &str) -> Vec<Option<i64>> {
    df.column(col)
        .unwrap_or_else(|e| panic!("{e}"))
        .as_materialized_series()
        .cast(&DataType::Int64)
        .unwrap()
        .i64()
        .unwrap()
        .iter()
        .collect()
}

pub fn some(values: &[&str]) -> Vec<Option<String>> {
    values
        .iter()
        .map(|v| (!v.is_empty()).then(|| (*v).to_owned()))
        .collect()
}
