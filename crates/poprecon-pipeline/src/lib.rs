//! The pipeline file: what a run reads and how.
//!
//! A pipeline is a TOML file under `pipelines/` ([`Config`], parsed strictly: an unknown key
//! is an error naming the key and the file). [`Plan::load`] checks it and resolves it into
//! a [`Plan`]: the jurisdiction, `as_of`, `period`, the division table ([`Divisions`]) and,
//! per source, the files to read ([`SourcePlan`]). The plan knows every source poprecon
//! reads ([`all_sources`]). [`execute`] runs it (ingest, link, check, measure) and returns
//! every table of the run ([`RunTables`]), reporting progress to a [`Progress`]; writing
//! the run folder is the binary's business. [`init::draft`] writes a first pipeline file
//! for a folder of extracts, recognising each file by its headers.

mod config;
mod divisions;
mod error;
mod execute;
pub mod init;
mod params;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use poprecon_ingest::{Format, IngestConfig, InputFile, Source};
use poprecon_model::Decisions;

pub use config::{
    AlertsConfig, Config, DivisionsConfig, PipelineSection, ReturnsConfig, SourceConfig,
};
pub use divisions::{DIVISION_COLUMNS, Divisions, division_code, division_columns};
pub use error::PipelineError;
pub use execute::{
    ExecuteError, ExecuteOptions, NoProgress, PieceReader, Progress, RunTables, Stage, StageError,
    StageTiming, Streamed, execute, ingest_source, ingest_sources, labelled_fields,
};

/// Every source poprecon reads, health side first, in the order of domain.md §2.
pub fn all_sources() -> [&'static dyn Source; 9] {
    [
        &poprecon_birth_registration::BirthRegistration,
        &poprecon_prenatal_care::PrenatalCare,
        &poprecon_hospital_delivery::HospitalDelivery,
        &poprecon_birth_certificate::BirthCertificate,
        &poprecon_vaccination::Vaccination,
        &poprecon_registries::Household,
        &poprecon_registries::School,
        &poprecon_registries::Marriage,
        &poprecon_registries::SocialSecurity,
    ]
}

/// A source by its id.
pub fn source_by_id(id: &str) -> Option<&'static dyn Source> {
    all_sources().into_iter().find(|s| s.id() == id)
}

/// A checked pipeline, ready to run.
#[derive(Debug)]
pub struct Plan {
    /// The pipeline file.
    pub path: PathBuf,
    pub name: String,
    /// Code prefix of the jurisdiction (`3403` = Bengbu).
    pub jurisdiction: String,
    /// Date of the extracts.
    pub as_of: NaiveDate,
    /// Birth dates assessed, both ends included.
    pub period: (NaiveDate, NaiveDate),
    pub divisions: Divisions,
    /// The sources the pipeline reads, in the order of [`all_sources`].
    pub sources: Vec<SourcePlan>,
    pub linkage: poprecon_link::LinkConfig,
    pub rules: poprecon_checks::ChecksConfig,
    pub indicators: poprecon_indicators::IndicatorConfig,
    pub assessment: poprecon_indicators::AssessmentConfig,
    pub alerts: AlertsConfig,
    /// Reviewers' decisions, parsed; empty when the pipeline names no file. Checks and
    /// linkage take them as they are.
    pub decisions: Decisions,
    /// The decisions file, if any.
    pub decisions_path: Option<PathBuf>,
    /// `[returns]`: the statistical returns to compare with the records, if any.
    pub returns: Option<ReturnsPlan>,
}

/// How the returns are read and compared (`[returns]`).
#[derive(Debug)]
pub struct ReturnsPlan {
    /// The returns files; empty when `[returns]` names none (completeness only).
    pub files: Vec<InputFile>,
    /// Field → headers, overriding the returns reader's usual headers.
    pub columns: BTreeMap<String, Vec<String>>,
    pub settings: poprecon_verify::Settings,
}

/// How one source is read.
#[derive(Debug)]
pub struct SourcePlan {
    pub source: &'static dyn Source,
    pub files: Vec<InputFile>,
    /// Canonical field → source headers, overriding the source's aliases.
    pub columns: BTreeMap<String, Vec<String>>,
    /// Coded field → extra spellings → canonical code (`[sources.<s>.codes.<field>]`),
    /// checked against the field's code list; every file of the source carries them.
    pub codes: poprecon_ingest::CodeExtensions,
    pub allow_empty: bool,
}

impl Plan {
    /// How ingest reads one of the plan's sources: its files and column map, village codes
    /// checked against the division table, no progress callback (set `progress` on the
    /// result to have one).
    pub fn ingest_config<'a>(&'a self, sp: &'a SourcePlan) -> IngestConfig<'a> {
        IngestConfig {
            source: sp.source,
            files: &sp.files,
            columns: &sp.columns,
            known_villages: Some(self.divisions.village_codes()),
            allow_empty: sp.allow_empty,
            progress: None,
            keep: None,
        }
    }

    /// Reads, checks and resolves a pipeline file. Paths in it are relative to its folder.
    pub fn load(path: &Path) -> Result<Plan, PipelineError> {
        let text = std::fs::read_to_string(path).map_err(|source| PipelineError::Io {
            path: path.to_owned(),
            source,
        })?;
        let config = Config::parse(&text, path)?;
        let base = path.parent().unwrap_or(Path::new("."));
        Plan::resolve(config, path, base)
    }

    /// Checks a parsed config and resolves its paths against `base`.
    pub fn resolve(config: Config, path: &Path, base: &Path) -> Result<Plan, PipelineError> {
        let invalid = |key: &str, message: String| PipelineError::Invalid {
            path: path.to_owned(),
            key: key.to_owned(),
            message,
        };
        let p = &config.pipeline;
        let jurisdiction = p.jurisdiction.trim().to_owned();
        if ![2, 4, 6, 9, 12].contains(&jurisdiction.len())
            || !jurisdiction.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(invalid(
                "pipeline.jurisdiction",
                "must be a division code prefix of 2, 4, 6, 9 or 12 digits (e.g. `3403`)".into(),
            ));
        }
        let as_of = p.as_of.to_date(path, "pipeline.as_of")?;
        let period = (
            p.period.start.to_date(path, "pipeline.period.start")?,
            p.period.end.to_date(path, "pipeline.period.end")?,
        );
        if period.0 > period.1 {
            return Err(invalid("pipeline.period", "`start` is after `end`".into()));
        }
        let divisions = load_divisions(&config.divisions, base)
            .map_err(|e| e.unwrap_or_else(|(key, message)| invalid(&key, message)))?;
        if !divisions
            .villages
            .keys()
            .any(|code| code.starts_with(&jurisdiction))
        {
            return Err(invalid(
                "pipeline.jurisdiction",
                format!("no village of the division table lies in `{jurisdiction}`"),
            ));
        }
        for id in config.sources.keys() {
            if source_by_id(id).is_none() {
                return Err(invalid(
                    &format!("sources.{id}"),
                    format!(
                        "unknown source `{id}`; the sources are {}",
                        all_sources()
                            .iter()
                            .map(|s| format!("`{}`", s.id()))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
        }
        let mut sources = Vec::new();
        for source in all_sources() {
            let Some(sc) = config.sources.get(source.id()) else {
                continue;
            };
            let key = format!("sources.{}", source.id());
            let files = sc.resolve_files(base).map_err(|m| invalid(&key, m))?;
            let columns = config::OneOrMany::lists(&sc.columns);
            if let Some(unknown) = columns
                .keys()
                .find(|k| poprecon_ingest::field(source, k).is_none())
            {
                return Err(invalid(
                    &format!("{key}.columns.{unknown}"),
                    format!(
                        "`{}` has no field `{unknown}`; its fields are {}",
                        source.id(),
                        source
                            .fields()
                            .iter()
                            .map(|f| format!("`{}`", f.name))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
            let codes = resolve_codes(source, &sc.codes)
                .map_err(|(k, m)| invalid(&format!("{key}.codes{k}"), m))?;
            let mut inputs = Vec::with_capacity(files.len());
            for f in files {
                let format = match sc.format {
                    Some(fmt) => fmt,
                    None => Format::from_path(&f).ok_or_else(|| {
                        invalid(
                            &key,
                            format!(
                                "cannot tell the format of `{}` from its name\nhint: set `format = \"csv\"`, `\"xlsx\"`, `\"xls\"`, `\"xlsb\"`, `\"ods\"` or `\"parquet\"`",
                                f.display()
                            ),
                        )
                    })?,
                };
                let delimiter = parse_delimiter(sc.delimiter.as_deref(), &f)
                    .map_err(|m| invalid(&format!("{key}.delimiter"), m))?;
                inputs.push(InputFile {
                    path: f,
                    format,
                    encoding: sc.encoding.unwrap_or_default(),
                    delimiter,
                    sheet: sc.sheet.clone(),
                    codes: codes.clone(),
                });
            }
            sources.push(SourcePlan {
                source,
                files: inputs,
                columns,
                codes,
                allow_empty: sc.allow_empty,
            });
        }
        if sources.is_empty() {
            return Err(invalid(
                "sources",
                "the pipeline reads no source; add a `[sources.<id>]` table".into(),
            ));
        }
        config
            .linkage
            .validate()
            .map_err(|e| invalid("linkage", e.to_string()))?;
        config
            .rules
            .validate()
            .map_err(|e| invalid("rules", e.to_string()))?;
        config
            .indicators
            .validate()
            .map_err(|e| invalid("indicators", e.to_string()))?;
        config
            .assessment
            .validate()
            .map_err(|e| invalid("assessment", e.to_string()))?;
        let decisions_path = p.decisions.as_ref().map(|d| base.join(d));
        let decisions = match &decisions_path {
            None => Decisions::default(),
            Some(d) => {
                let text = std::fs::read_to_string(d).map_err(|source| PipelineError::Io {
                    path: d.clone(),
                    source,
                })?;
                let sources = all_sources().map(|s| s.id());
                let parsed = if d.extension().is_some_and(|e| e == "toml") {
                    Decisions::parse_toml(&text, &sources)
                } else {
                    Decisions::parse_csv(&text, &sources)
                };
                parsed
                    .map_err(|e| invalid("pipeline.decisions", format!("`{}`: {e}", d.display())))?
            }
        };
        let returns = match &config.returns {
            None => None,
            Some(rc) => Some(resolve_returns(rc, base).map_err(|(k, m)| invalid(&k, m))?),
        };
        Ok(Plan {
            path: path.to_owned(),
            name: p.name.clone(),
            jurisdiction,
            as_of,
            period,
            divisions,
            sources,
            linkage: config.linkage,
            rules: config.rules,
            indicators: config.indicators,
            assessment: config.assessment,
            alerts: config.alerts,
            decisions,
            decisions_path,
            returns,
        })
    }

    /// The plan of one source, if the pipeline reads it.
    pub fn source(&self, id: &str) -> Option<&SourcePlan> {
        self.sources.iter().find(|s| s.source.id() == id)
    }
}

/// Checks `[returns]` and resolves its files; the error is the key and the message.
fn resolve_returns(rc: &ReturnsConfig, base: &Path) -> Result<ReturnsPlan, (String, String)> {
    let settings = rc.settings();
    settings.validate().map_err(|m| ("returns".to_owned(), m))?;
    let sc = rc.as_source();
    let files = if sc.path.is_none() && sc.paths.is_empty() {
        Vec::new()
    } else {
        sc.resolve_files(base)
            .map_err(|m| ("returns".to_owned(), m))?
    };
    let columns = config::OneOrMany::lists(&sc.columns);
    let source = &poprecon_verify::Returns;
    if let Some(unknown) = columns
        .keys()
        .find(|k| poprecon_ingest::field(source, k).is_none())
    {
        return Err((
            format!("returns.columns.{unknown}"),
            format!(
                "the returns have no field `{unknown}`; their fields are {}",
                source
                    .fields()
                    .iter()
                    .map(|f| format!("`{}`", f.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let mut inputs = Vec::with_capacity(files.len());
    for f in files {
        let format = match sc.format {
            Some(fmt) => fmt,
            None => Format::from_path(&f).ok_or_else(|| {
                (
                    "returns".to_owned(),
                    format!(
                        "cannot tell the format of `{}` from its name\nhint: set `format = \"csv\"` or `\"xlsx\"`",
                        f.display()
                    ),
                )
            })?,
        };
        let delimiter = parse_delimiter(sc.delimiter.as_deref(), &f)
            .map_err(|m| ("returns.delimiter".to_owned(), m))?;
        inputs.push(InputFile {
            delimiter,
            encoding: sc.encoding.unwrap_or_default(),
            sheet: sc.sheet.clone(),
            ..InputFile::new(f, format)
        });
    }
    Ok(ReturnsPlan {
        files: inputs,
        columns,
        settings,
    })
}

/// Checks a source's `[codes]` tables: each names a coded field of the source, and maps
/// each spelling to one of that field's canonical codes. The error is the key suffix
/// (`.scheme`) and the message.
fn resolve_codes(
    source: &dyn Source,
    codes: &BTreeMap<String, BTreeMap<String, String>>,
) -> Result<poprecon_ingest::CodeExtensions, (String, String)> {
    let coded: Vec<(&str, &'static poprecon_ingest::CodeMap)> = source
        .fields()
        .iter()
        .filter_map(|f| match f.kind {
            poprecon_ingest::FieldKind::Code(map) => Some((f.name, map)),
            _ => None,
        })
        .collect();
    let quoted = |items: &mut dyn Iterator<Item = &str>| {
        items
            .map(|s| format!("`{s}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut out = poprecon_ingest::CodeExtensions::new();
    for (field, spellings) in codes {
        let Some((_, map)) = coded.iter().find(|(name, _)| name == field) else {
            return Err((
                format!(".{field}"),
                format!(
                    "`{}` has no coded field `{field}`; its coded fields are {}",
                    source.id(),
                    quoted(&mut coded.iter().map(|(n, _)| *n))
                ),
            ));
        };
        let mut checked = BTreeMap::new();
        for (spelling, code) in spellings {
            if spelling.trim().is_empty() {
                return Err((format!(".{field}"), "maps an empty spelling".into()));
            }
            if map.canonical(code).is_none() {
                return Err((
                    format!(".{field}"),
                    format!(
                        "maps `{spelling}` to `{code}`, which is not a code of `{field}`; its codes are {}",
                        quoted(&mut map.codes().into_iter())
                    ),
                ));
            }
            checked.insert(spelling.clone(), code.trim().to_owned());
        }
        out.insert(field.clone(), checked);
    }
    Ok(out)
}

/// The division table of `[divisions]`: one table (`path`) or three files. A wrong setting
/// is `Err(Err((key, message)))`; a table that cannot be read, `Err(Ok(error))`.
fn load_divisions(
    d: &DivisionsConfig,
    base: &Path,
) -> Result<Divisions, Result<PipelineError, (String, String)>> {
    let three = [&d.counties, &d.townships, &d.villages];
    match (&d.path, three) {
        (Some(path), [None, None, None]) => {
            let full = base.join(path);
            if !full.is_file() {
                return Err(Err((
                    "divisions.path".into(),
                    format!("file `{}` does not exist", full.display()),
                )));
            }
            let format = match d.format {
                Some(f) => f,
                None => Format::from_path(&full).ok_or_else(|| {
                    Err((
                        "divisions.path".to_owned(),
                        format!(
                            "cannot tell the format of `{}` from its name\nhint: set `format` under `[divisions]`",
                            full.display()
                        ),
                    ))
                })?,
            };
            let delimiter = parse_delimiter(d.delimiter.as_deref(), &full)
                .map_err(|m| Err(("divisions.delimiter".to_owned(), m)))?;
            let file = InputFile {
                delimiter,
                encoding: d.encoding.unwrap_or_default(),
                sheet: d.sheet.clone(),
                ..InputFile::new(full, format)
            };
            let columns = config::OneOrMany::lists(&d.columns);
            if let Some(unknown) = columns
                .keys()
                .find(|k| !DIVISION_COLUMNS.iter().any(|(name, _, _)| name == k))
            {
                return Err(Err((
                    format!("divisions.columns.{unknown}"),
                    format!(
                        "is not a column of the division table; they are {}",
                        DIVISION_COLUMNS
                            .iter()
                            .map(|(n, _, _)| format!("`{n}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )));
            }
            Divisions::load_table(&file, &columns).map_err(Ok)
        }
        (None, [Some(c), Some(t), Some(v)]) => {
            if d.format.is_some() || d.encoding.is_some() || d.sheet.is_some() || !d.columns.is_empty() {
                return Err(Err((
                    "divisions".into(),
                    "`format`, `encoding`, `sheet` and `columns` apply to a one-table `path`, not to `counties`/`townships`/`villages`".into(),
                )));
            }
            Divisions::load(&base.join(c), &base.join(t), &base.join(v)).map_err(Ok)
        }
        _ => Err(Err((
            "divisions".into(),
            "must name either one table (`path = \"行政区划.xlsx\"`) or the three files `counties`, `townships` and `villages`".into(),
        ))),
    }
}

/// A `delimiter` setting: one ASCII character or `tab`; by default tab for `.tsv` and a
/// comma otherwise.
fn parse_delimiter(setting: Option<&str>, path: &Path) -> Result<u8, String> {
    match setting {
        None => Ok(poprecon_ingest::read::default_delimiter(path)),
        Some("\\t" | "\t" | "tab") => Ok(b'\t'),
        Some(d) if d.len() == 1 => Ok(d.as_bytes()[0]),
        Some(_) => Err("must be one ASCII character (or `tab`)".into()),
    }
}
