//! The run history under `--out ROOT`: `ROOT/runs/<run_id>/` holds each night's run,
//! `ROOT/latest` points at the last complete one, and `ROOT/.poprecon.lock` keeps a second
//! run off the same root.
//!
//! `latest` is a relative symbolic link (`latest -> runs/<run_id>`). A run folder is staged
//! as `ROOT/.run.partial-<pid>` (outside `runs/`, where a glob would find it) and renamed to
//! `runs/<run_id>`, its own new name, so no run folder is ever replaced; once it is in place, a new link is made beside `latest` and renamed over it.
//! rename(2) replaces the link atomically: a reader (a BI tool, the report's user, the next
//! night's lifecycle) sees the previous run or the new one, never a half-written one, and
//! `ROOT/latest/report.html` always opens. Where symbolic links are not available
//! (Windows without the privilege), `latest` is a small file holding `runs/<run_id>`,
//! written to a temporary name and renamed over the old one; [`latest`] reads both forms.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::output::create_private_dir;

/// The folder of the runs under a root.
pub const RUNS: &str = "runs";
/// The pointer to the last complete run.
pub const LATEST: &str = "latest";
/// The lock file of a root.
pub const LOCK: &str = ".poprecon.lock";
/// The stem of the staging folders of runs (`ROOT/.run.partial-<pid>`).
pub const STAGING_STEM: &str = "run";

/// A run root, locked for as long as this value lives.
#[derive(Debug)]
pub struct RunRoot {
    root: PathBuf,
    /// Holds the lock; released when dropped, or by the kernel when the process ends,
    /// however it ends.
    _lock: File,
}

impl RunRoot {
    /// Opens (creating it if need be) and locks the root `root`. Refuses a root that a
    /// running `poprecon run` holds, and a folder that is itself a run folder of the
    /// earlier one-folder layout.
    pub fn open(root: &Path) -> Result<Self> {
        if root.join("manifest.json").is_file() && !root.join(RUNS).is_dir() {
            anyhow::bail!(
                "`{}` is a single run folder, not a run root\nhint: `--out` now names a root that keeps every run in `runs/<run_id>/` with `latest` pointing at the last one: pass a new `--out` folder, with `--previous {}` for tonight's new/open/resolved",
                root.display(),
                root.display()
            );
        }
        create_private_dir(&root.join(RUNS))?;
        let path = root.join(LOCK);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("cannot open the lock file `{}`", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.split_whitespace().collect::<Vec<_>>().join(" ");
                anyhow::bail!(
                    "another `poprecon run` is writing `{}` ({}): two runs on one root would race for `latest`\nhint: wait for it to end; the lock `{}` is released when that process ends, even if it is killed",
                    root.display(),
                    if holder.is_empty() {
                        "holder unknown".to_owned()
                    } else {
                        holder
                    },
                    path.display()
                );
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("cannot lock `{}`", path.display()));
            }
        }
        // Who holds the lock, for the message a second run prints. The lock, not this text,
        // is what keeps the second run out: a stale text after a crash means nothing.
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| {
                writeln!(
                    file,
                    "pid {} since {}",
                    std::process::id(),
                    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ")
                )
            })
            .with_context(|| format!("cannot write `{}`", path.display()))?;
        Ok(RunRoot {
            root: root.to_owned(),
            _lock: file,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The folder of run `run_id`.
    pub fn run_dir(&self, run_id: &str) -> PathBuf {
        self.root.join(RUNS).join(run_id)
    }

    /// The last complete run, if any.
    pub fn latest(&self) -> Option<PathBuf> {
        latest(&self.root)
    }

    /// `base`, or `base-2`, `base-3` … when a run of that id is already in the history
    /// (two runs within one second).
    pub fn unique_id(&self, base: &str) -> String {
        let mut id = base.to_owned();
        let mut n = 2;
        while self.run_dir(&id).exists() {
            id = format!("{base}-{n}");
            n += 1;
        }
        id
    }

    /// Points `latest` at run `run_id`, atomically.
    pub fn set_latest(&self, run_id: &str) -> Result<()> {
        let target = Path::new(RUNS).join(run_id);
        let link = self.root.join(LATEST);
        let tmp = self
            .root
            .join(format!(".{LATEST}.new-{}", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        make_pointer(&target, &tmp).with_context(|| format!("cannot write `{}`", tmp.display()))?;
        if link.is_dir() && !link.is_symlink() {
            let _ = std::fs::remove_file(&tmp);
            anyhow::bail!(
                "`{}` is a folder, not poprecon's pointer to the last run\nhint: move it away",
                link.display()
            );
        }
        std::fs::rename(&tmp, &link).with_context(|| {
            let _ = std::fs::remove_file(&tmp);
            format!(
                "cannot point `{}` at `{}`",
                link.display(),
                target.display()
            )
        })
    }

    /// Removes the oldest runs so that `keep` remain (never the one `latest` points at).
    /// Returns the folders removed.
    pub fn prune(&self, keep: usize) -> Result<Vec<PathBuf>> {
        let latest = self.latest().and_then(|p| p.canonicalize().ok());
        let mut runs = runs(&self.root)?;
        let excess = runs.len().saturating_sub(keep);
        runs.truncate(excess);
        let mut removed = Vec::new();
        for run in runs {
            if run.canonicalize().ok() == latest {
                continue;
            }
            std::fs::remove_dir_all(&run)
                .with_context(|| format!("cannot remove the old run `{}`", run.display()))?;
            tracing::info!(folder = %run.display(), "removed an old run (--keep)");
            removed.push(run);
        }
        Ok(removed)
    }
}

/// The complete runs under `root`, oldest first: the folders of `runs/` (not hidden, not
/// links) that hold a `manifest.json`, in the order of their names (run ids sort by time).
pub fn runs(root: &Path) -> Result<Vec<PathBuf>> {
    let dir = root.join(RUNS);
    let mut out = Vec::new();
    for entry in
        std::fs::read_dir(&dir).with_context(|| format!("cannot read `{}`", dir.display()))?
    {
        let entry = entry.with_context(|| format!("cannot read `{}`", dir.display()))?;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.')
            || !entry.file_type().is_ok_and(|t| t.is_dir())
            || !entry.path().join("manifest.json").is_file()
        {
            continue;
        }
        out.push(entry.path());
    }
    out.sort();
    Ok(out)
}

/// The run `ROOT/latest` points at, if it points at a run: `ROOT/runs/<run_id>`, so that
/// what is recorded of it (a manifest's `previous_run`) names the run, not the pointer.
pub fn latest(root: &Path) -> Option<PathBuf> {
    let link = root.join(LATEST);
    let dir = if link.is_symlink() {
        root.join(std::fs::read_link(&link).ok()?)
    } else if link.is_file() {
        // The file form: `runs/<run_id>` as text.
        root.join(std::fs::read_to_string(&link).ok()?.trim())
    } else {
        return None;
    };
    dir.join("manifest.json").is_file().then_some(dir)
}

/// The run folder a command was given: a run folder itself, or a root (its `latest`).
pub fn resolve_run(path: &Path) -> Result<PathBuf> {
    if path.join("manifest.json").is_file() {
        return Ok(path.to_owned());
    }
    if let Some(dir) = latest(path) {
        return Ok(dir);
    }
    anyhow::bail!(
        "`{}` is neither a run folder (no `manifest.json`) nor a run root (no `latest` run)\nhint: pass the `--out` folder of `poprecon run`, or one of its `runs/<run_id>` folders",
        path.display()
    )
}

/// The root a run folder belongs to: the parent of its `runs/` folder, else the folder
/// holding it.
pub fn root_of(run: &Path) -> PathBuf {
    let run = run.canonicalize().unwrap_or_else(|_| run.to_owned());
    let parent = run.parent().map(Path::to_owned).unwrap_or_default();
    match parent.file_name() {
        Some(n) if n == RUNS => parent.parent().map(Path::to_owned).unwrap_or(parent),
        _ => parent,
    }
}

/// Checks a run id given on the command line: a plain folder name.
pub fn check_run_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'+'));
    if !ok {
        anyhow::bail!(
            "`--run-id {id}` is not a plain folder name\nhint: use letters, digits, `-`, `_`, `.` and `+`, not starting with `.`, e.g. `20260131T021500`"
        );
    }
    Ok(())
}

#[cfg(unix)]
fn make_pointer(target: &Path, at: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, at)
}

#[cfg(not(unix))]
fn make_pointer(target: &Path, at: &Path) -> std::io::Result<()> {
    std::fs::write(at, format!("{}\n", target.display()))
}
