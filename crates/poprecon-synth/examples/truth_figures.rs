//! The figures against the synthetic truth, from folders that already exist:
//!
//! ```sh
//! poprecon synth --scale city --seed 1 --out SYNTH_DIR
//! poprecon run SYNTH_DIR/pipeline.toml --out ROOT
//! cargo run -p poprecon-synth --example truth_figures -- SYNTH_DIR ROOT/latest
//! ```
//!
//! prints the per-rule precision and recall (the closing notes' table), the linked pairs'
//! precision and recall, the indicator rows that differ from the truth's and whether the
//! quarantine is the truth's. It neither generates nor runs anything, so two binaries' runs
//! over one synth folder can be scored alike. Scoring is `poprecon_synth::score`, the truth
//! tests' own.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use poprecon_synth::score::{Compared, diff_lines, rule_table};

fn main() -> ExitCode {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [synth, run] = args.as_slice() else {
        eprintln!("usage: truth_figures SYNTH_DIR RUN_DIR");
        eprintln!("hint: SYNTH_DIR is what `poprecon synth --out` wrote (with `truth/`),");
        eprintln!("      RUN_DIR a run folder such as `ROOT/latest`");
        return ExitCode::from(2);
    };
    match figures(synth, run) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn figures(synth: &Path, run: &Path) -> Result<String, Box<dyn std::error::Error>> {
    let compared = Compared::read(synth, run)?;
    let mut out = format!("{} against {}\n", run.display(), synth.display());
    out.push_str(&rule_table(&compared.rules()?));
    let pairs = compared.linked_pairs()?;
    out.push_str(&format!(
        "linked pairs: {} found, {} expected, precision {:.4}, recall {:.4}\n",
        pairs.found,
        pairs.expected,
        pairs.precision(),
        pairs.recall()
    ));
    let (n, diff) = compared.indicators()?;
    out.push_str(&format!("indicator rows: {n}, differing: {}\n", diff.len()));
    if !diff.is_empty() {
        out.push_str(&diff_lines(&diff, 40));
        out.push('\n');
    }
    let (found, expected) = compared.quarantine()?;
    out.push_str(&format!(
        "quarantined rows: {} found, {} expected, {}\n",
        found.len(),
        expected.len(),
        if found == expected {
            "equal"
        } else {
            "different"
        }
    ));
    Ok(out)
}
