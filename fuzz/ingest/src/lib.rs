//! What the ingest fuzz targets share: one scratch file per process, and the ingest of it
//! with a fixed source schema, checking that every row is accounted for.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::OnceLock;

use poprecon_ingest::{Format, IngestConfig, IngestError, InputFile, Source};

/// Writes `bytes` to this process's scratch file `input.<ext>` and returns its path.
///
/// The folder is under `TMPDIR` (set it to `/dev/shm` to keep the disk out of the loop)
/// and named by process id, so that parallel jobs (`-j`) do not share a file.
pub fn scratch(bytes: &[u8], ext: &str) -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("poprecon-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("scratch folder");
        d
    });
    let path = dir.join(format!("input.{ext}"));
    std::fs::write(&path, bytes).expect("scratch file");
    path
}

/// Ingests one file of `source` and checks conservation: an `Ok` result accounts for
/// every row read, and the engine's own conservation check never fires. Any other error
/// is a legitimate refusal of a bad file.
pub fn ingest_one(source: &dyn Source, path: PathBuf, format: Format) {
    // libfuzzer-sys's panic hook aborts on every panic, even one that poprecon catches
    // (`read_xlsx` turns a panic of calamine into an error). Restore the default hook: a
    // panic that escapes still ends in libfuzzer-sys's abort, and is reported as a crash.
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| drop(std::panic::take_hook()));
    let files = [InputFile::new(path, format)];
    let columns = BTreeMap::new();
    let known: HashSet<String> = ["340302001001", "340302001002"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    let cfg = IngestConfig {
        source,
        files: &files,
        columns: &columns,
        known_villages: Some(&known),
        allow_empty: true,
        progress: None,
        keep: None,
    };
    match poprecon_ingest::ingest(&cfg) {
        Ok(out) => {
            let s = &out.stats;
            assert_eq!(s.read, s.accepted + s.quarantined, "rows are conserved");
            assert_eq!(out.records.height() as u64, s.accepted);
            assert_eq!(out.quarantine.height() as u64, s.quarantined);
            assert_eq!(s.files.len(), 1);
            assert_eq!(s.files[0].read, s.read);
            assert_eq!(
                s.quarantine_reasons.values().sum::<u64>(),
                s.quarantined,
                "every quarantined row has one reason"
            );
        }
        Err(e @ IngestError::Conservation { .. }) => panic!("conservation broken: {e}"),
        Err(e) => {
            // A refused file is named in the message; formatting it must not panic.
            let _ = e.to_string();
        }
    }
}
