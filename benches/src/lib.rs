//! Benchmarks live beside this crate's manifest.
