//! `poprecon validate` and `poprecon ingest`.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use poprecon_ingest::{SourceOutput, SourceStats};
use poprecon_pipeline::Plan;

use crate::output::{StagedDir, create_private_dir};

/// The header check of one input file, as `validate --json` prints it.
#[derive(Debug, serde::Serialize)]
struct FileCheck {
    source: &'static str,
    path: String,
    ok: bool,
    format: String,
    /// The encoding read (a detected one for `auto`); empty for XLSX and Parquet.
    encoding: String,
    /// Headers that no field reads.
    unread_columns: Vec<String>,
    /// Optional fields no header gives (they will be empty).
    missing_fields: Vec<String>,
    /// The same, each with its Chinese label (for the text output).
    #[serde(skip)]
    missing_labelled: String,
    /// Why the file cannot be read as declared.
    error: Option<String>,
}

/// Checks every input's header against its source; prints what each file will give, as
/// text or (`json`) as one JSON object.
pub fn validate(plan: &Plan, json: bool) -> Result<()> {
    let mut checks = Vec::new();
    for sp in &plan.sources {
        for file in &sp.files {
            let path = file.path.display().to_string();
            checks.push(
                match poprecon_ingest::check_header(sp.source, file, &sp.columns) {
                    Ok(stats) => FileCheck {
                        source: sp.source.id(),
                        path,
                        ok: true,
                        format: stats.format,
                        encoding: stats.encoding,
                        unread_columns: stats.unmapped_headers,
                        missing_labelled: poprecon_pipeline::labelled_fields(
                            sp.source,
                            &stats.missing_fields,
                        ),
                        missing_fields: stats.missing_fields,
                        error: None,
                    },
                    Err(e) => FileCheck {
                        source: sp.source.id(),
                        path,
                        ok: false,
                        format: file.format.as_str().to_owned(),
                        encoding: String::new(),
                        unread_columns: Vec::new(),
                        missing_fields: Vec::new(),
                        missing_labelled: String::new(),
                        error: Some(e.to_string()),
                    },
                },
            );
        }
    }
    let problems = checks.iter().filter(|c| !c.ok).count();
    let mut out = std::io::stdout().lock();
    if json {
        let mut value = plan_json(plan);
        value.insert("villages".into(), plan.divisions.villages.len().into());
        value.insert("ok".into(), (problems == 0).into());
        value.insert("files".into(), serde_json::to_value(&checks)?);
        let value = serde_json::Value::Object(value);
        writeln!(out, "{value}")?;
    } else {
        writeln!(
            out,
            "pipeline `{}`: jurisdiction {}, as_of {}, period {} to {}, {} villages",
            plan.name,
            plan.jurisdiction,
            plan.as_of,
            plan.period.0,
            plan.period.1,
            plan.divisions.villages.len()
        )?;
        for c in &checks {
            match &c.error {
                None => {
                    writeln!(
                        out,
                        "ok    {:<20} {} ({}{})",
                        c.source,
                        c.path,
                        c.format,
                        if c.encoding.is_empty() {
                            String::new()
                        } else {
                            format!(", {}", c.encoding)
                        }
                    )?;
                    if !c.unread_columns.is_empty() {
                        writeln!(out, "      unread columns: {}", c.unread_columns.join(", "))?;
                    }
                    if !c.missing_fields.is_empty() {
                        writeln!(
                            out,
                            "      no column for: {}\n      hint: these fields will be empty; if the file has them under other headers, map them under `[sources.{}.columns]`",
                            c.missing_labelled, c.source
                        )?;
                    }
                }
                Some(e) => writeln!(out, "FAIL  {:<20} {e}", c.source)?,
            }
        }
    }
    if problems > 0 {
        anyhow::bail!("{problems} input file(s) cannot be read as declared");
    }
    Ok(())
}

/// Ingests every source of the plan into `out`.
pub fn ingest(plan: &Plan, out: &Path, progress: bool) -> Result<()> {
    let staged = StagedDir::new(out)?;
    create_private_dir(&staged.path().join("quarantine"))?;
    let mut all = Vec::new();
    let bars = crate::output::Bars::new(progress);
    for sp in &plan.sources {
        let mut output = poprecon_pipeline::ingest_source(plan, sp, &bars)?;
        write_source(staged.path(), &mut output)?;
        all.push(output.stats);
    }
    let json = serde_json::to_string_pretty(&all)?;
    std::fs::write(staged.path().join("ingest.json"), json + "\n")
        .context("cannot write `ingest.json`")?;
    let dest = staged.commit()?;
    print_summary(&all)?;
    crate::logging::line("INFO", &format!("wrote {}", dest.display()));
    Ok(())
}

fn write_source(dir: &Path, output: &mut SourceOutput) -> Result<()> {
    let path = dir.join(format!("{}.parquet", output.source));
    poprecon_ingest::write_parquet(&mut output.records, &path)
        .with_context(|| format!("cannot write `{}`", path.display()))?;
    let path = dir
        .join("quarantine")
        .join(format!("{}.parquet", output.source));
    poprecon_ingest::write_parquet(&mut output.quarantine, &path)
        .with_context(|| format!("cannot write `{}`", path.display()))?;
    Ok(())
}

/// The per-source table: read / accepted / quarantined by reason / invalid fields by kind.
pub fn print_summary(all: &[SourceStats]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{:<20} {:>10} {:>10} {:>12}",
        "source", "read", "accepted", "quarantined"
    )?;
    for s in all {
        writeln!(
            out,
            "{:<20} {:>10} {:>10} {:>12}",
            s.source, s.read, s.accepted, s.quarantined
        )?;
        for (reason, n) in &s.quarantine_reasons {
            writeln!(out, "{:<20}   quarantined {reason}: {n}", "")?;
        }
        for (kind, n) in &s.invalid_fields {
            writeln!(out, "{:<20}   invalid {kind}: {n}", "")?;
        }
        for (field, values) in &s.unknown_codes {
            let listed: Vec<String> = values.iter().map(|(v, n)| format!("{v} ({n})")).collect();
            writeln!(
                out,
                "{:<20}   unknown {field} values: {}",
                "",
                listed.join(", ")
            )?;
        }
        if !s.unknown_codes.is_empty() {
            writeln!(
                out,
                "{:<20}   hint: map them under `[sources.{}.codes.<field>]` in the pipeline",
                "", s.source
            )?;
        }
    }
    Ok(())
}

/// `poprecon plan`: the checked plan, as a person reads it, or (`json`) as one JSON object.
pub fn print_plan(plan: &Plan, json: bool) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        let sources: Vec<serde_json::Value> = plan
            .sources
            .iter()
            .map(|sp| {
                serde_json::json!({
                    "source": sp.source.id(),
                    "name_zh": sp.source.label_zh(),
                    "allow_empty": sp.allow_empty,
                    "files": sp.files.iter().map(|f| serde_json::json!({
                        "path": f.path.display().to_string(),
                        "format": f.format.as_str(),
                        "encoding": (f.format == poprecon_ingest::Format::Csv)
                            .then(|| f.encoding.as_str()),
                        "delimiter": (f.format == poprecon_ingest::Format::Csv)
                            .then(|| (f.delimiter as char).to_string()),
                        "sheet": f.sheet,
                    })).collect::<Vec<_>>(),
                    "columns": sp.columns,
                })
            })
            .collect();
        let mut value = plan_json(plan);
        value.insert(
            "divisions".into(),
            serde_json::json!({
                "counties": plan.divisions.counties.len(),
                "townships": plan.divisions.townships.len(),
                "villages": plan.divisions.villages.len(),
            }),
        );
        value.insert("sources".into(), sources.into());
        let value = serde_json::Value::Object(value);
        writeln!(out, "{value}")?;
        return Ok(());
    }
    writeln!(out, "pipeline     {} ({})", plan.name, plan.path.display())?;
    writeln!(out, "jurisdiction {}", plan.jurisdiction)?;
    writeln!(out, "as_of        {}", plan.as_of)?;
    writeln!(out, "period       {} to {}", plan.period.0, plan.period.1)?;
    writeln!(
        out,
        "divisions    {} counties, {} townships, {} villages (jurisdiction: {})",
        plan.divisions.counties.len(),
        plan.divisions.townships.len(),
        plan.divisions.villages.len(),
        plan.divisions
            .villages
            .keys()
            .filter(|c| c.starts_with(&plan.jurisdiction))
            .count()
    )?;
    writeln!(out, "sources")?;
    for sp in &plan.sources {
        writeln!(
            out,
            "  {:<20} {} ({} file(s){})",
            sp.source.id(),
            sp.source.label_zh(),
            sp.files.len(),
            if sp.allow_empty { ", may be empty" } else { "" }
        )?;
        for f in &sp.files {
            let detail = match f.format {
                poprecon_ingest::Format::Csv => format!(
                    "csv, encoding {}, delimiter `{}`",
                    f.encoding.as_str(),
                    (f.delimiter as char).escape_default()
                ),
                poprecon_ingest::Format::Parquet => "parquet".to_owned(),
                workbook => format!(
                    "{}, sheet {}",
                    workbook.as_str(),
                    f.sheet.as_deref().unwrap_or("(first)")
                ),
            };
            writeln!(out, "    {} [{detail}]", f.path.display())?;
        }
        for (field, headers) in &sp.columns {
            writeln!(out, "    column {field} <- {}", headers.join(" | "))?;
        }
        for (field, spellings) in &sp.codes {
            let listed: Vec<String> = spellings
                .iter()
                .map(|(spelling, code)| format!("{spelling} -> {code}"))
                .collect();
            writeln!(out, "    codes {field}: {}", listed.join(", "))?;
        }
    }
    Ok(())
}

/// The fields that open both `validate --json` and `plan --json`: the pipeline's name, file,
/// jurisdiction, `as_of` and period.
fn plan_json(plan: &Plan) -> serde_json::Map<String, serde_json::Value> {
    let mut map = serde_json::Map::new();
    map.insert("pipeline".into(), plan.name.clone().into());
    map.insert("path".into(), plan.path.display().to_string().into());
    map.insert("jurisdiction".into(), plan.jurisdiction.clone().into());
    map.insert("as_of".into(), plan.as_of.to_string().into());
    map.insert(
        "period".into(),
        serde_json::json!([plan.period.0.to_string(), plan.period.1.to_string()]),
    );
    map
}
