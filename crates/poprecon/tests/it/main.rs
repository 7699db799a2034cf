//! The one integration-test binary (each extra binary links polars again). One module per
//! area, one [`support`] module they share: running the `poprecon` binary, fixtures, reading
//! tables, driving headless Chromium.
//!
//! - `cli`: every command of the binary, the run folder and its history, failures;
//! - `pipeline`: the nightly run of a synthetic village against insta snapshots, reviewers'
//!   decisions;
//! - `truth`: runs against the synthetic truth (scored by `poprecon_synth::score`);
//! - `browser`: the reports of real runs in headless Chromium (`POPRECON_BROWSER_TESTS=1`);
//! - `corpus`, `formats`: ingest of the test corpus and of every file format;
//! - `report`: the report page of fixture tables, statically and in Chromium;
//! - `settings`: one home per setting: a tolerance, a grace period, a window change the
//!   rule and the indicator together;
//! - `verify`: returns against records and the on-site sample, end to end (issue #18);
//! - `synth_truth`: the generator's extracts and truth read back through ingest.

mod browser;
mod cli;
mod corpus;
mod formats;
mod pipeline;
mod report;
mod settings;
mod support;
mod synth_truth;
mod truth;
mod verify;
