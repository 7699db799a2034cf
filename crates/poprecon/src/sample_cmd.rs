//! `poprecon sample`: the on-site verification sample of a run, as one printable checklist
//! per township, and (`--read`) the filled checklists read back into per-village figures
//! and reviewer decisions for the next night.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use polars::prelude::{CsvWriter, DataFrame, DataType, IntoLazy, SerWriter, UnionArgs, concat};
use poprecon_report::Lang;
use poprecon_verify::{LqasPlan, SampleConfig, SizeRule};

use crate::run_cmd::read_parquet;

/// Options of `poprecon sample`.
#[derive(Debug, Clone)]
pub struct SampleOptions {
    pub seed: u64,
    pub lqas: LqasPlan,
    /// `--precision MARGIN` (with `--expected P`): sizes by a precision target instead.
    pub precision: Option<(f64, f64)>,
    pub replacements: usize,
    pub out: Option<PathBuf>,
    pub lang: Lang,
}

impl SampleOptions {
    fn size(&self) -> SizeRule {
        match self.precision {
            Some((margin, p)) => SizeRule::Precision { p, margin },
            None => SizeRule::Lqas(self.lqas),
        }
    }

    /// The plan in words, as the checklists and the terminal print it.
    pub fn plan_text(&self) -> String {
        let l = &self.lqas;
        let lqas = format!(
            "LQAS n = {}, d = {} (≤ {} failures pass; upper {:.0} %, lower {:.0} %): α = {:.3}, β = {:.3}",
            l.n,
            l.d,
            l.d,
            100.0 * l.upper,
            100.0 * l.lower,
            l.alpha(),
            l.beta()
        );
        match self.precision {
            Some((margin, p)) => format!(
                "sizes by precision ±{:.1} % around {:.0} % (95 %, finite-population correction); decisions by {lqas}; seed {}",
                100.0 * margin,
                100.0 * p,
                self.seed
            ),
            None => format!("sizes by {lqas}; seed {}", self.seed),
        }
    }
}

/// Draws the sample of run `run` and writes the checklists; returns the files written.
pub fn sample(run: &Path, opts: &SampleOptions) -> Result<Vec<PathBuf>> {
    let run = crate::history::resolve_run(run)?;
    let (run_id, as_of) = manifest(&run)?;
    let out = match &opts.out {
        Some(o) => o.clone(),
        None => crate::history::root_of(&run)
            .join("fieldwork")
            .join(&run_id),
    };
    crate::output::create_private_dir(&out)?;
    let births = read_parquet(&run.join("births.parquet"))?;
    let discrepancies = read_parquet(&run.join("discrepancies.parquet"))?;
    let comparison = optional(&run.join("returns_comparison.parquet"))?;
    let indicators = read_parquet(&run.join("indicators.parquet"))?;
    let mut sources = BTreeMap::new();
    for s in poprecon_model::BIRTH_LEVEL_IDS {
        if let Some(df) = optional(&run.join("sources").join(format!("{s}.parquet")))? {
            sources.insert(s.to_owned(), df);
        }
    }
    let cfg = SampleConfig {
        seed: opts.seed,
        size: opts.size(),
        replacements: opts.replacements,
    };
    let frame = poprecon_verify::draw(&births, &discrepancies, comparison.as_ref(), &cfg)
        .context("cannot draw the sample")?;
    let (villages, townships) = area_names(&indicators)?;
    let lang = opts.lang;
    let rule_name = |id: &str| -> String {
        poprecon_checks::CATALOGUE
            .iter()
            .find(|r| r.id.as_str() == id)
            .map_or(id.to_owned(), |r| {
                if lang == Lang::Zh {
                    r.name_zh
                } else {
                    r.name_en
                }
                .to_owned()
            })
    };
    let rows = poprecon_verify::checklist_rows(
        &frame,
        &births,
        &discrepancies,
        &sources,
        &villages,
        &rule_name,
    )
    .context("cannot assemble the checklists")?;
    let mut frame_out = frame.clone();
    let frame_path = out.join("sample_frame.parquet");
    poprecon_ingest::write_parquet(&mut frame_out, &frame_path)
        .with_context(|| format!("cannot write `{}`", frame_path.display()))?;
    let plan = opts.plan_text();
    let info = poprecon_export::checklist::ChecklistInfo {
        lang,
        run_id: &run_id,
        as_of,
        plan: &plan,
        township_names: &townships,
    };
    let mut files = poprecon_export::checklist::write_checklists(&rows, &out, &info)
        .context("cannot write the checklists")?;
    files.insert(0, frame_path);
    let strata = frame
        .column("stratum")
        .map(|c| c.n_unique().unwrap_or(0))
        .unwrap_or(0);
    crate::logging::line(
        "INFO",
        &format!(
            "{plan}\n{} strata, {} records in the frame, {} to check and {} replacements on {} checklists",
            strata,
            frame.height(),
            count(&frame, "sample")?,
            count(&frame, "replacement")?,
            files.len() - 1
        ),
    );
    Ok(files)
}

/// Reads filled checklists back: writes `field_villages.parquet` and `.csv` and
/// `field_decisions.csv` into the output folder (or appends the decisions to `decisions`),
/// prints the per-village table; returns the files written.
pub fn read(
    run: &Path,
    filled: &[PathBuf],
    decisions: Option<&Path>,
    opts: &SampleOptions,
) -> Result<Vec<PathBuf>> {
    let run = crate::history::resolve_run(run)?;
    let (run_id, _) = manifest(&run)?;
    let out = match &opts.out {
        Some(o) => o.clone(),
        None => crate::history::root_of(&run)
            .join("fieldwork")
            .join(&run_id),
    };
    crate::output::create_private_dir(&out)?;
    let mut all: Option<DataFrame> = None;
    for f in filled {
        let df = poprecon_export::checklist::read_checklist(f)
            .with_context(|| format!("cannot read the checklist `{}`", f.display()))?;
        all = Some(match all {
            None => df,
            Some(a) => concat(
                [a.lazy(), df.lazy()],
                UnionArgs {
                    diagonal: true,
                    ..UnionArgs::default()
                },
            )?
            .collect()?,
        });
    }
    let all = all.context("no checklist given")?;
    let today = chrono::Local::now().date_naive();
    let back = poprecon_verify::read_back(&all, &opts.lqas, today)
        .context("cannot read the results back")?;
    for (row, text) in &back.unreadable {
        crate::logging::line(
            "WARN",
            &format!(
                "checklist row {}: result `{text}` is not 属实, 信息有误 or 查无此人; the row is left out",
                row + 1
            ),
        );
    }
    let mut files = Vec::new();
    let mut villages = back.villages.clone();
    let p = out.join("field_villages.parquet");
    poprecon_ingest::write_parquet(&mut villages, &p)
        .with_context(|| format!("cannot write `{}`", p.display()))?;
    files.push(p);
    let p = out.join("field_villages.csv");
    write_csv(&mut villages, &p)?;
    files.push(p);
    let p = decisions.map_or_else(|| out.join("field_decisions.csv"), Path::to_owned);
    append_decisions(&back.decisions, &p)?;
    files.push(p);
    print_villages(&back.villages, &opts.lqas)?;
    Ok(files)
}

fn write_csv(df: &mut DataFrame, path: &Path) -> Result<()> {
    let mut f = std::fs::File::create(path)
        .with_context(|| format!("cannot write `{}`", path.display()))?;
    CsvWriter::new(&mut f)
        .include_header(true)
        .finish(df)
        .with_context(|| format!("cannot write `{}`", path.display()))
}

/// Appends the decisions to a decisions CSV (made with its header when new), in the
/// columns that file has; then checks that the file still parses as decisions.
fn append_decisions(decisions: &DataFrame, path: &Path) -> Result<()> {
    const COLUMNS: [&str; 5] = ["discrepancy_id", "decision", "reviewer", "date", "reason"];
    let existing = if path.is_file() {
        std::fs::read_to_string(path)
            .with_context(|| format!("cannot read `{}`", path.display()))?
    } else {
        String::new()
    };
    let header: Vec<String> = match existing.lines().next() {
        Some(h) if !h.trim().is_empty() => h.split(',').map(|c| c.trim().to_owned()).collect(),
        _ => COLUMNS.iter().map(|c| (*c).to_owned()).collect(),
    };
    if let Some(missing) = COLUMNS.iter().find(|c| !header.iter().any(|h| h == *c)) {
        anyhow::bail!(
            "`{}` has no column `{missing}`\nhint: give another `--decisions` file",
            path.display()
        );
    }
    let mut text = if existing.is_empty() {
        header.join(",") + "\n"
    } else if existing.ends_with('\n') {
        existing
    } else {
        existing + "\n"
    };
    let get = |c: &str| -> Result<Vec<Option<String>>> {
        Ok(decisions
            .column(c)?
            .str()?
            .iter()
            .map(|v| v.map(str::to_owned))
            .collect())
    };
    let cols: BTreeMap<&str, Vec<Option<String>>> = COLUMNS
        .iter()
        .map(|c| Ok((*c, get(c)?)))
        .collect::<Result<_>>()?;
    for i in 0..decisions.height() {
        let cells: Vec<String> = header
            .iter()
            .map(|h| {
                let v = cols
                    .get(h.as_str())
                    .and_then(|c| c[i].clone())
                    .unwrap_or_default();
                if v.contains([',', '"', '\n']) {
                    format!("\"{}\"", v.replace('"', "\"\""))
                } else {
                    v
                }
            })
            .collect();
        text.push_str(&cells.join(","));
        text.push('\n');
    }
    poprecon_model::Decisions::parse_csv(&text, &poprecon_checks::SOURCES)
        .map_err(|e| anyhow::anyhow!("`{}`: {e}", path.display()))?;
    std::fs::write(path, text).with_context(|| format!("cannot write `{}`", path.display()))
}

fn print_villages(v: &DataFrame, plan: &LqasPlan) -> Result<()> {
    use std::io::Write as _;
    let t = |c: &str| -> Result<Vec<Option<String>>> {
        Ok(v.column(c)?
            .cast(&DataType::String)?
            .str()?
            .iter()
            .map(|x| x.map(str::to_owned))
            .collect())
    };
    let f = |c: &str| -> Result<Vec<Option<f64>>> {
        Ok(v.column(c)?
            .cast(&DataType::Float64)?
            .f64()?
            .iter()
            .collect())
    };
    let (code, name, pass) = (t("village")?, t("village_name")?, t("lqas_pass")?);
    let (checked, errors, rate, lo, hi, vf, ht, new) = (
        f("checked")?,
        f("errors")?,
        f("error_rate")?,
        f("error_low")?,
        f("error_high")?,
        f("field_vf")?,
        f("ht_true_births")?,
        f("new_births_found")?,
    );
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "village       name                 checked errors  error rate (95 % CI)      LQAS (≤{} of {})  field VF  HT births  new births",
        plan.d, plan.n
    )?;
    let pct = |x: Option<f64>| x.map_or("-".to_owned(), |x| format!("{:.1}%", 100.0 * x));
    for i in 0..v.height() {
        let decision = match pass[i].as_deref() {
            Some("true") => "pass",
            Some("false") => "FAIL",
            _ => "incomplete",
        };
        writeln!(
            out,
            "{:<13} {:<20} {:>7} {:>6}  {:>6} ({} – {})  {:<16}  {:>8}  {:>9}  {:>10}",
            code[i].as_deref().unwrap_or(""),
            name[i].as_deref().unwrap_or(""),
            checked[i].unwrap_or(0.0),
            errors[i].unwrap_or(0.0),
            pct(rate[i]),
            pct(lo[i]),
            pct(hi[i]),
            decision,
            vf[i].map_or("-".to_owned(), |x| format!("{x:.3}")),
            ht[i].map_or("-".to_owned(), |x| format!("{x:.1}")),
            new[i].unwrap_or(0.0)
        )?;
    }
    Ok(())
}

fn count(frame: &DataFrame, role: &str) -> Result<usize> {
    Ok(frame
        .column("role")?
        .str()?
        .iter()
        .filter(|r| *r == Some(role))
        .count())
}

fn optional(path: &Path) -> Result<Option<DataFrame>> {
    Ok(if path.is_file() {
        Some(read_parquet(path)?)
    } else {
        None
    })
}

/// Village and township names from the run's indicators.
fn area_names(
    indicators: &DataFrame,
) -> Result<(BTreeMap<String, String>, BTreeMap<String, String>)> {
    let level = indicators.column("level")?.str()?.clone();
    let code = indicators.column("area_code")?.str()?.clone();
    let name = indicators.column("area_name")?.str()?.clone();
    let (mut v, mut t) = (BTreeMap::new(), BTreeMap::new());
    for i in 0..indicators.height() {
        if let (Some(l), Some(c), Some(n)) = (level.get(i), code.get(i), name.get(i)) {
            match l {
                "village" => v.entry(c.to_owned()).or_insert_with(|| n.to_owned()),
                "township" => t.entry(c.to_owned()).or_insert_with(|| n.to_owned()),
                _ => continue,
            };
        }
    }
    Ok((v, t))
}

/// The run's id and `as_of` from its manifest.
fn manifest(run: &Path) -> Result<(String, chrono::NaiveDate)> {
    let path = run.join("manifest.json");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read `{}`", path.display()))?;
    let m: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("`{}` is not JSON", path.display()))?;
    let run_id = m["run_id"]
        .as_str()
        .with_context(|| format!("`{}`: no `run_id`", path.display()))?
        .to_owned();
    let as_of = m["as_of"]
        .as_str()
        .and_then(|s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
        .with_context(|| format!("`{}`: no `as_of`", path.display()))?;
    Ok((run_id, as_of))
}
