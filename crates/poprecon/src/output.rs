//! Output folders written in full or not at all: everything goes to a temporary sibling
//! folder, which is renamed into place once complete. A failure leaves the previous folder
//! untouched and removes the temporary one.
//!
//! A process killed outright (SIGKILL, power loss) cannot remove its temporary folder. Each
//! one therefore holds a marker file locked by its process for as long as it runs; the next
//! [`StagedDir::new`] for the same target removes the temporary folders whose marker is no
//! longer locked, and leaves alone anything it did not make.

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// The marker file of a staging folder, locked by the process writing it.
const MARKER: &str = ".poprecon-staging";

/// A folder being written; [`StagedDir::commit`] puts it in place.
#[derive(Debug)]
pub struct StagedDir {
    target: PathBuf,
    staging: PathBuf,
    committed: bool,
    /// Holds the lock on the marker until the folder is committed or dropped.
    _lock: File,
}

impl StagedDir {
    pub fn new(target: &Path) -> Result<Self> {
        let name = target
            .file_name()
            .with_context(|| format!("`{}` is not a folder name", target.display()))?
            .to_string_lossy()
            .into_owned();
        let parent = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        Self::staged_in(target, &parent, &name)
    }

    /// A staging folder named `.<stem>.partial-<pid>` in `parent` (on the file system of
    /// `target`, so that the final rename is atomic). The folders of a run history each get
    /// a new name, so their staging folders are named by a fixed stem that the next run can
    /// find and clean up after a killed one; and they are staged outside `runs/`, so that a
    /// reader globbing `runs/*/…` never sees a run being written or one that was killed.
    pub fn staged_in(target: &Path, parent: &Path, stem: &str) -> Result<Self> {
        let parent = parent.to_owned();
        std::fs::create_dir_all(&parent)
            .with_context(|| format!("cannot create `{}`", parent.display()))?;
        remove_stale(&parent, stem);
        let staging = parent.join(format!(".{stem}.partial-{}", std::process::id()));
        if staging.exists() {
            std::fs::remove_dir_all(&staging)
                .with_context(|| format!("cannot clear `{}`", staging.display()))?;
        }
        create_private_dir(&staging)?;
        let marker = staging.join(MARKER);
        let lock = File::create(&marker)
            .with_context(|| format!("cannot create `{}`", marker.display()))?;
        lock.lock()
            .with_context(|| format!("cannot lock `{}`", marker.display()))?;
        Ok(StagedDir {
            target: target.to_owned(),
            staging,
            committed: false,
            _lock: lock,
        })
    }

    /// Where to write files now.
    pub fn path(&self) -> &Path {
        &self.staging
    }

    /// Replaces the target folder with the staged one.
    pub fn commit(mut self) -> Result<PathBuf> {
        let old = self.target.with_file_name(format!(
            ".{}.old-{}",
            self.target
                .file_name()
                .unwrap_or_default()
                .to_string_lossy(),
            std::process::id()
        ));
        let had_old = self.target.exists();
        if had_old {
            std::fs::rename(&self.target, &old)
                .with_context(|| format!("cannot move `{}` aside", self.target.display()))?;
        }
        if let Err(e) = std::fs::rename(&self.staging, &self.target) {
            if had_old {
                // Put last good folder back before reporting.
                let _ = std::fs::rename(&old, &self.target);
            }
            return Err(e)
                .with_context(|| format!("cannot move output into `{}`", self.target.display()));
        }
        self.committed = true;
        // The marker goes once the folder is in place: until then it names the folder as
        // poprecon's own. Should this fail, a stray hidden file is all that is left.
        let _ = std::fs::remove_file(self.target.join(MARKER));
        if had_old {
            std::fs::remove_dir_all(&old)
                .with_context(|| format!("cannot remove the previous `{}`", old.display()))?;
        }
        Ok(self.target.clone())
    }
}

impl Drop for StagedDir {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.staging);
        }
    }
}

/// Removes the staging folders of `name` in `parent` left by killed processes: folders
/// named `.<name>.partial-<pid>` (never a symbolic link) that hold a marker no process
/// holds locked any more. A folder without the marker is not known to be poprecon's and is
/// kept; so is one whose marker is locked, which a run is writing now. Best effort: what
/// cannot be removed stays for the next run.
fn remove_stale(parent: &Path, name: &str) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    let prefix = format!(".{name}.partial-");
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(pid) = file_name.to_str().and_then(|n| n.strip_prefix(&prefix)) else {
            continue;
        };
        if pid.is_empty()
            || !pid.bytes().all(|b| b.is_ascii_digit())
            || pid == std::process::id().to_string()
            || !entry.file_type().is_ok_and(|t| t.is_dir())
        {
            continue;
        }
        let path = entry.path();
        let Ok(marker) = File::open(path.join(MARKER)) else {
            continue;
        };
        if marker.try_lock().is_ok() {
            drop(marker);
            match std::fs::remove_dir_all(&path) {
                Ok(()) => tracing::info!(
                    folder = %path.display(),
                    "removed the staging folder of an interrupted run"
                ),
                Err(e) => tracing::warn!(
                    folder = %path.display(),
                    error = %e,
                    "cannot remove the staging folder of an interrupted run"
                ),
            }
        }
    }
}

/// Creates a folder readable by its owner only: the outputs hold personal data.
pub fn create_private_dir(path: &Path) -> Result<()> {
    std::fs::create_dir_all(path).with_context(|| format!("cannot create `{}`", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot restrict `{}`", path.display()))?;
    }
    Ok(())
}

/// A spinner on stderr, or a hidden bar when progress is not shown (`--quiet`, or a
/// caller that draws its own bars).
pub fn spinner(show: bool) -> indicatif::ProgressBar {
    let bar = if show {
        indicatif::ProgressBar::new_spinner()
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

/// The terminal's view of [`poprecon_pipeline::execute`] (and of `poprecon ingest`): a
/// spinner with each stage's name, except ingest, where each source draws its own bar of rows
/// read (a second bar would fight them). Hidden unless `show`.
#[derive(Debug)]
pub struct Bars {
    show: bool,
    stage: std::sync::Mutex<Option<indicatif::ProgressBar>>,
    source: std::sync::Mutex<Option<indicatif::ProgressBar>>,
}

impl Bars {
    pub fn new(show: bool) -> Bars {
        Bars {
            show,
            stage: std::sync::Mutex::new(None),
            source: std::sync::Mutex::new(None),
        }
    }

    fn clear(slot: &std::sync::Mutex<Option<indicatif::ProgressBar>>) {
        // A poisoned lock only means a bar's thread panicked: the bar is still cleared.
        let bar = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
    }
}

impl poprecon_pipeline::Progress for Bars {
    fn stage_started(&self, stage: poprecon_pipeline::Stage) {
        if stage == poprecon_pipeline::Stage::Ingest {
            return;
        }
        let bar = spinner(self.show);
        bar.set_message(stage.as_str());
        *self.stage.lock().unwrap_or_else(|e| e.into_inner()) = Some(bar);
    }

    fn stage_finished(
        &self,
        _timing: &poprecon_pipeline::StageTiming,
    ) -> std::ops::ControlFlow<()> {
        Bars::clear(&self.stage);
        std::ops::ControlFlow::Continue(())
    }

    fn stage_failed(&self, _stage: poprecon_pipeline::Stage) {
        Bars::clear(&self.stage);
    }

    fn source_started(&self, source: &'static str) {
        let bar = spinner(self.show);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {prefix:<20} {human_pos} rows ({per_sec})",
            )
            .expect("valid template"),
        );
        bar.set_prefix(source);
        *self.source.lock().unwrap_or_else(|e| e.into_inner()) = Some(bar);
    }

    fn source_rows(&self, rows: u64) {
        if let Some(bar) = &*self.source.lock().unwrap_or_else(|e| e.into_inner()) {
            bar.inc(rows);
        }
    }

    fn source_finished(&self, _source: &'static str) {
        Bars::clear(&self.source);
    }
}
