//! `poprecon init` and `poprecon sources`: the first hour with a new set of extracts.

use std::io::Write;
use std::path::Path;

use chrono::NaiveDate;

use anyhow::{Context, Result};
use poprecon_ingest::FieldKind;
use poprecon_pipeline::{DIVISION_COLUMNS, all_sources};

/// Drafts a pipeline file for the extracts under `dir`.
pub fn init(dir: &Path, out: Option<&Path>, force: bool, as_of: Option<NaiveDate>) -> Result<()> {
    if !dir.is_dir() {
        anyhow::bail!("`{}` is not a folder", dir.display());
    }
    let out = out.map_or_else(|| dir.join("pipeline.toml"), Path::to_owned);
    if out.exists() && !force {
        anyhow::bail!(
            "`{}` exists already\nhint: pass `--force` to replace it, or `--out` to write elsewhere",
            out.display()
        );
    }
    let base = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => std::path::PathBuf::from("."),
    };
    let today = as_of.unwrap_or_else(|| chrono::Local::now().date_naive());
    let draft = poprecon_pipeline::init::draft(dir, &base, today)?;
    std::fs::write(&out, &draft.text)
        .with_context(|| format!("cannot write `{}`", out.display()))?;
    let mut o = std::io::stdout().lock();
    for (path, source, found, fields) in &draft.recognised {
        writeln!(
            o,
            "{:<20} {} ({found} of {fields} fields)",
            source,
            path.display()
        )?;
    }
    for path in &draft.unrecognised {
        writeln!(o, "{:<20} {}", "(not recognised)", path.display())?;
    }
    if !draft.divisions_found {
        writeln!(o, "no division table found: set `[divisions]` by hand")?;
    }
    eprintln!(
        "wrote {}\nhint: check the lines marked `check:`, then run `poprecon validate {}`",
        out.display(),
        out.display()
    );
    Ok(())
}

/// Prints every source's fields, accepted headers, kinds and Chinese labels.
pub fn sources(json: bool) -> Result<()> {
    let mut o = std::io::stdout().lock();
    if json {
        let value = serde_json::json!({
            "sources": all_sources().iter().map(|s| serde_json::json!({
                "id": s.id(),
                "label_zh": s.label_zh(),
                "key_field": s.key_field(),
                "fields": s.fields().iter().map(|f| {
                    let mut field = serde_json::json!({
                        "name": f.name,
                        "label_zh": f.label_zh,
                        "kind": f.kind.name(),
                        "required": f.required,
                        "headers": std::iter::once(f.name).chain(f.aliases.iter().copied()).collect::<Vec<_>>(),
                    });
                    match f.kind {
                        FieldKind::Code(map) => field["codes"] = serde_json::json!(map.codes()),
                        FieldKind::Int { min, max } => field["range"] = serde_json::json!([min, max]),
                        FieldKind::Float { min, max } => field["range"] = serde_json::json!([min, max]),
                        _ => {}
                    }
                    field
                }).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "divisions": DIVISION_COLUMNS.iter().map(|(name, label, headers)| serde_json::json!({
                "name": name,
                "label_zh": label,
                "headers": std::iter::once(*name).chain(headers.iter().copied()).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        });
        writeln!(o, "{}", serde_json::to_string_pretty(&value)?)?;
        return Ok(());
    }
    for s in all_sources() {
        writeln!(
            o,
            "{} {} (record key: {})",
            s.id(),
            s.label_zh(),
            s.key_field()
        )?;
        for f in s.fields() {
            let kind = match f.kind {
                FieldKind::Code(map) => format!("code: {}", map.codes().join(" | ")),
                FieldKind::Int { min, max } => format!("int {min}–{max}"),
                FieldKind::Float { min, max } => format!("float {min}–{max}"),
                k => k.name().to_owned(),
            };
            writeln!(
                o,
                "  {}{:<24} {} [{kind}]\n  {:<25} headers: {}",
                if f.required { "*" } else { " " },
                f.name,
                f.label_zh,
                "",
                std::iter::once(f.name)
                    .chain(f.aliases.iter().copied())
                    .collect::<Vec<_>>()
                    .join(", ")
            )?;
        }
        writeln!(o)?;
    }
    writeln!(
        o,
        "divisions 行政区划 (one table: `[divisions] path = ...`)"
    )?;
    for (name, label, headers) in DIVISION_COLUMNS {
        writeln!(
            o,
            "   {name:<24} {label}\n  {:<25} headers: {}",
            "",
            std::iter::once(name)
                .chain(headers.iter().copied())
                .collect::<Vec<_>>()
                .join(", ")
        )?;
    }
    writeln!(o, "\n* required: a row without it is quarantined")?;
    Ok(())
}
