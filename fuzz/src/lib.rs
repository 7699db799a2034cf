//! The value parsers of `poprecon-model`, compiled from the model's own source files.
//!
//! `poprecon-model` depends on `poprecon-workspace-hack`, which pulls polars; a fuzz build
//! instruments every dependency, so depending on the crate would cost half an hour of
//! compiling per build. The parser modules need only chrono, unicode-normalization and
//! thiserror, so they are included here by path: the code fuzzed is the code shipped.

#[path = "../../crates/poprecon-model/src/date.rs"]
pub mod date;
#[path = "../../crates/poprecon-model/src/id.rs"]
pub mod id;
#[path = "../../crates/poprecon-model/src/sex.rs"]
pub mod sex;
#[path = "../../crates/poprecon-model/src/village.rs"]
pub mod village;

// `id.rs` names `crate::Sex`, as in `poprecon-model`.
pub use sex::Sex;
