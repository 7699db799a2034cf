//! The library part of the `poprecon` package: only [`faults`], the failures and pauses the
//! binary's tests inject into a run (feature `fault-injection`). It is a library so that the
//! package's tests can enable that feature through a dev-dependency on the package itself;
//! everything else of the binary lives in `main.rs` and its modules.

pub mod faults;
