//! The one integration-test binary (each extra binary links polars again). One module per
//! area; every test goes through [`support::ingest_pipeline`] so an API change touches one
//! place.

mod corpus;
mod formats;
mod report;
mod support;
mod synth_truth;
