//! Failures and pauses injected into `poprecon run` by the binary's own tests, to prove that
//! a run that fails or is killed leaves the previous run in place:
//!
//! - `POPRECON_FAIL_AFTER=<stage>`: the run fails once that stage is done;
//! - `POPRECON_FAIL_WRITE=<output file>` (`births.parquet`, `sources/household.parquet`,
//!   `report.html`, ...): writing that file fails as on a full disk (ENOSPC);
//! - `POPRECON_PAUSE_IN_WRITE=<marker file>`: once `births.parquet` is written, the run
//!   creates the marker and blocks until killed.
//!
//! The variables are read only when the package is built with the `fault-injection`
//! feature, which only its tests enable (a dev-dependency of the package on itself): a
//! production build has no code that reads them, and [`Faults`] is then an empty value
//! whose hooks do nothing.

#[cfg(feature = "fault-injection")]
use std::path::PathBuf;

/// The faults asked for by the environment (with the `fault-injection` feature), or none.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    #[cfg(feature = "fault-injection")]
    fail_after: Option<String>,
    #[cfg(feature = "fault-injection")]
    fail_write: Option<String>,
    #[cfg(feature = "fault-injection")]
    pause_in_write: Option<PathBuf>,
}

impl Faults {
    /// The faults the `POPRECON_*` variables ask for; none without the feature.
    pub fn from_env() -> Faults {
        #[cfg(feature = "fault-injection")]
        {
            Faults {
                fail_after: std::env::var("POPRECON_FAIL_AFTER").ok(),
                fail_write: std::env::var("POPRECON_FAIL_WRITE").ok(),
                pause_in_write: std::env::var_os("POPRECON_PAUSE_IN_WRITE").map(PathBuf::from),
            }
        }
        #[cfg(not(feature = "fault-injection"))]
        Faults::default()
    }

    /// Whether the run must fail once `stage` is done (`POPRECON_FAIL_AFTER`).
    pub fn fail_after(&self, stage: &str) -> bool {
        #[cfg(feature = "fault-injection")]
        return self.fail_after.as_deref() == Some(stage);
        #[cfg(not(feature = "fault-injection"))]
        {
            let _ = stage;
            false
        }
    }

    /// The injected failure of writing output file `name` (`POPRECON_FAIL_WRITE`), if any:
    /// ENOSPC, "No space left on device".
    pub fn write(&self, name: &str) -> std::io::Result<()> {
        #[cfg(feature = "fault-injection")]
        {
            const ENOSPC: i32 = 28;
            if self.fail_write.as_deref() == Some(name) {
                return Err(std::io::Error::from_raw_os_error(ENOSPC));
            }
        }
        let _ = name;
        Ok(())
    }

    /// The pause of `POPRECON_PAUSE_IN_WRITE`: never returns once the marker is written.
    pub fn pause_in_write(&self) -> std::io::Result<()> {
        #[cfg(feature = "fault-injection")]
        if let Some(marker) = &self.pause_in_write {
            std::fs::write(marker, b"paused in the write stage\n")?;
            loop {
                std::thread::sleep(std::time::Duration::from_secs(60));
            }
        }
        Ok(())
    }
}
