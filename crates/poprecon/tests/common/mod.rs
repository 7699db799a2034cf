//! What the binary's integration tests share: running `poprecon` and reading its tables.
// Each test binary uses its own part of these.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

use polars::prelude::*;

/// Runs the binary in `cwd`, without the caller's `RUST_LOG` and colours.
pub fn poprecon(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_poprecon"))
        .args(args)
        .current_dir(cwd)
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .output()
        .expect("poprecon runs")
}

/// Asserts a command completed: exit 0, or 3 (completed, an alert fired).
pub fn ok(out: &Output) {
    assert!(
        matches!(out.status.code(), Some(0 | 3)),
        "exit {:?}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn read(path: &Path) -> DataFrame {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    ParquetReader::new(file).finish().expect("parquet")
}

/// A column as text (null stays `None`).
pub fn strs(df: &DataFrame, col: &str) -> Vec<Option<String>> {
    df.column(col)
        .unwrap_or_else(|_| panic!("column `{col}`"))
        .cast(&DataType::String)
        .expect("text")
        .str()
        .expect("text")
        .iter()
        .map(|v| v.map(str::to_owned))
        .collect()
}

pub fn ints(df: &DataFrame, col: &str) -> Vec<Option<i64>> {
    df.column(col)
        .unwrap_or_else(|_| panic!("column `{col}`"))
        .cast(&DataType::Int64)
        .expect("integers")
        .i64()
        .expect("integers")
        .iter()
        .collect()
}
