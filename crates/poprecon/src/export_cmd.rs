//! `poprecon export`: a run's tables as XLSX or CSV for one audience.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use polars::prelude::DataFrame;
use poprecon_export::{Audience, ExportFormat, IdPolicy, Pseudonymizer};
use poprecon_report::Lang;

use crate::run_cmd::read_parquet;

/// What each audience receives, and how.
struct Item {
    file: &'static str,
    sheet_zh: &'static str,
    sheet_en: &'static str,
}

const AGGREGATES: &[Item] = &[
    Item {
        file: "indicators",
        sheet_zh: "指标",
        sheet_en: "indicators",
    },
    Item {
        file: "assessment",
        sheet_zh: "考核得分",
        sheet_en: "assessment",
    },
    Item {
        file: "village_discrepancies",
        sheet_zh: "各村不一致",
        sheet_en: "village_discrepancies",
    },
];

const DETAIL: &[Item] = &[
    Item {
        file: "discrepancies",
        sheet_zh: "不一致明细",
        sheet_en: "discrepancies",
    },
    Item {
        file: "births",
        sheet_zh: "出生事件",
        sheet_en: "births",
    },
];

const DATA_TEAM: &[Item] = &[
    Item {
        file: "links",
        sheet_zh: "关联",
        sheet_en: "links",
    },
    Item {
        file: "data_quality",
        sheet_zh: "数据质量",
        sheet_en: "data_quality",
    },
];

/// Counts below this are suppressed in assessor exports.
pub const SUPPRESS_BELOW: i64 = 5;

pub fn export(
    run: &Path,
    audience: Audience,
    format: ExportFormat,
    out: &Path,
    lang: Lang,
    ids: IdPolicy<'_>,
) -> Result<Vec<PathBuf>> {
    if !run.join("manifest.json").is_file() {
        anyhow::bail!(
            "`{}` is not a run folder (no `manifest.json`)\nhint: pass the `--out` folder of `poprecon run`",
            run.display()
        );
    }
    crate::output::create_private_dir(out)?;
    if audience == Audience::Assessor && format == ExportFormat::Xlsx {
        return Ok(vec![assessor_workbook(run, out, lang)?]);
    }
    let mut items: Vec<&Item> = AGGREGATES.iter().collect();
    if audience != Audience::Assessor {
        items.extend(DETAIL);
    }
    if audience == Audience::DataTeam {
        items.extend(DATA_TEAM);
    }
    let ext = match format {
        ExportFormat::Xlsx => "xlsx",
        ExportFormat::Csv => "csv",
    };
    let mut written = Vec::new();
    for item in items {
        let source = run.join(format!("{}.parquet", item.file));
        if !source.is_file() {
            continue;
        }
        let df = read_parquet(&source)?;
        let df = prepare(item.file, df, audience)?;
        let sheet = if lang == Lang::Zh {
            item.sheet_zh
        } else {
            item.sheet_en
        };
        let path = out.join(format!("{}_{}.{ext}", item.file, audience_name(audience)));
        poprecon_export::write_table(&df, &path, format, sheet, &|c| header(c, lang), ids)
            .with_context(|| format!("cannot export `{}`", item.file))?;
        written.push(path);
    }
    Ok(written)
}

/// What `manifest.json` says of a run, as far as exports need it.
struct RunInfo {
    run_id: String,
    jurisdiction: String,
    as_of: chrono::NaiveDate,
    period: (chrono::NaiveDate, chrono::NaiveDate),
}

fn run_info(run: &Path) -> Result<RunInfo> {
    let path = run.join("manifest.json");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read `{}`", path.display()))?;
    let m: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("`{}` is not JSON", path.display()))?;
    let field = |key: &str, v: &serde_json::Value| -> Result<String> {
        v.as_str()
            .map(str::to_owned)
            .with_context(|| format!("`{}`: field `{key}` missing", path.display()))
    };
    let date = |key: &str, v: &serde_json::Value| -> Result<chrono::NaiveDate> {
        let t = field(key, v)?;
        t.parse()
            .with_context(|| format!("`{}`: field `{key}` is not a date", path.display()))
    };
    Ok(RunInfo {
        run_id: field("run_id", &m["run_id"])?,
        jurisdiction: field("jurisdiction", &m["jurisdiction"])?,
        as_of: date("as_of", &m["as_of"])?,
        period: (
            date("period", &m["period"][0])?,
            date("period", &m["period"][1])?,
        ),
    })
}

/// The default export folder of a run: `ROOT/exports/<run_id>/`, outside the run folder
/// (which `--keep` removes in time) and outside `runs/` (which BI tools read by glob).
pub fn default_out(run: &Path) -> Result<PathBuf> {
    let info = run_info(run)?;
    Ok(crate::history::root_of(run)
        .join("exports")
        .join(info.run_id))
}

/// The assessors' workbook of a run (see `poprecon_export::AssessorWorkbook`).
fn assessor_workbook(run: &Path, out: &Path, lang: Lang) -> Result<PathBuf> {
    let info = run_info(run)?;
    let indicators = read_parquet(&run.join("indicators.parquet"))?;
    let assessment = read_parquet(&run.join("assessment.parquet"))?;
    let village = run.join("village_discrepancies.parquet");
    let village = if village.is_file() {
        Some(read_parquet(&village)?)
    } else {
        None
    };
    let optional = |name: &str| -> Result<Option<DataFrame>> {
        let p = run.join(name);
        Ok(if p.is_file() {
            Some(read_parquet(&p)?)
        } else {
            None
        })
    };
    let returns = optional("returns_comparison.parquet")?;
    let completeness = optional("source_completeness.parquet")?;
    let book = poprecon_export::AssessorWorkbook {
        lang,
        run_id: &info.run_id,
        jurisdiction: &info.jurisdiction,
        as_of: info.as_of,
        period: info.period,
        indicators: &indicators,
        assessment: &assessment,
        village_discrepancies: village.as_ref(),
        suppress_below: SUPPRESS_BELOW,
        returns: returns.as_ref(),
        completeness: completeness.as_ref(),
    };
    let path = out.join(book.file_name());
    book.write(&path)
        .context("cannot write the assessors' workbook")?;
    Ok(path)
}

/// Environment variable holding the pseudonym key itself.
pub const KEY_ENV: &str = "POPRECON_PSEUDONYM_KEY";
/// Environment variable naming a file that holds the pseudonym key.
pub const KEY_FILE_ENV: &str = "POPRECON_PSEUDONYM_KEY_FILE";

/// The pseudonymizer of `--pseudonymize`, with the key from `--key-file`, else the file
/// named by `POPRECON_PSEUDONYM_KEY_FILE`, else `POPRECON_PSEUDONYM_KEY`. The key never
/// comes from the pipeline file, which is shared and versioned, and never appears in a
/// message.
pub fn pseudonymizer(audience: Audience, key_file: Option<&Path>) -> Result<Pseudonymizer> {
    if audience == Audience::Assessor {
        anyhow::bail!(
            "`--pseudonymize` does not apply to `--for assessor`: assessor exports hold no identifiers"
        );
    }
    let env_file = std::env::var_os(KEY_FILE_ENV).filter(|v| !v.is_empty());
    let (key, origin) = match key_file
        .map(Path::to_owned)
        .or_else(|| env_file.map(PathBuf::from))
    {
        Some(path) => (read_key_file(&path)?, format!("`{}`", path.display())),
        None => match std::env::var_os(KEY_ENV).filter(|v| !v.is_empty()) {
            Some(v) => (
                v.into_encoded_bytes(),
                format!("the environment variable `{KEY_ENV}`"),
            ),
            None => anyhow::bail!(
                "`--pseudonymize` needs a key, and none is set\nhint: keep a secret of at least {} bytes in a file only you can read, e.g. `head -c 32 /dev/urandom | base64 > key && chmod 600 key`, and pass `--key-file key` (or set `{KEY_FILE_ENV}`); or set `{KEY_ENV}`",
                poprecon_export::MIN_KEY_BYTES
            ),
        },
    };
    Pseudonymizer::new(&key).with_context(|| format!("the pseudonym key in {origin} is refused"))
}

/// The key in a file, without surrounding whitespace (an editor's final newline). Warns
/// when others than the owner may read it.
fn read_key_file(path: &Path) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read the pseudonym key file `{}`", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .with_context(|| format!("cannot read `{}`", path.display()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            crate::logging::line(
                "WARN",
                &format!(
                    "warning: the pseudonym key file `{}` can be read by others (mode {:o})\nhint: `chmod 600 {}`",
                    path.display(),
                    mode & 0o777,
                    path.display()
                ),
            );
        }
    }
    Ok(bytes.trim_ascii().to_vec())
}

fn audience_name(a: Audience) -> &'static str {
    match a {
        Audience::Assessor => "assessor",
        Audience::Analyst => "analyst",
        Audience::DataTeam => "data_team",
    }
}

/// Assessors get aggregates without person-level columns and with small counts suppressed.
fn prepare(file: &str, df: DataFrame, audience: Audience) -> Result<DataFrame> {
    if audience != Audience::Assessor {
        return Ok(df);
    }
    let person_level = ["birth_id", "mother_id", "record_key"];
    let keep: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|c| c.to_string())
        .filter(|c| !person_level.contains(&c.as_str()) && !c.ends_with("_key"))
        .collect();
    let df = df.select(keep)?;
    let counts: &[&str] = match file {
        "village_discrepancies" => &["count", "denominator"],
        _ => &["numerator", "denominator"],
    };
    let rates: &[&str] = match file {
        "village_discrepancies" => &["rate"],
        _ => &["value", "ci_low", "ci_high", "credit"],
    };
    Ok(poprecon_export::suppress_small(
        &df,
        counts,
        rates,
        SUPPRESS_BELOW,
    )?)
}

/// Column labels people read: the report's column labels, then rule and indicator names.
fn header(column: &str, lang: Lang) -> Option<String> {
    let rule = || {
        poprecon_checks::CATALOGUE
            .iter()
            .find(|r| r.id.as_str() == column)
            .map(|r| {
                if lang == Lang::Zh {
                    r.name_zh
                } else {
                    r.name_en
                }
            })
    };
    poprecon_report::column_label(lang, column)
        .or_else(rule)
        .map(str::to_owned)
}
