//! The pipeline file as written: parsed strictly, checked by [`crate::Plan::resolve`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use poprecon_ingest::{Encoding, Format};
use serde::Deserialize;

use crate::PipelineError;

/// A pipeline file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub pipeline: PipelineSection,
    pub divisions: DivisionsConfig,
    #[serde(default)]
    pub sources: BTreeMap<String, SourceConfig>,
    /// `[linkage]`: blocking, comparisons, threshold, the mother-record windows.
    #[serde(default)]
    pub linkage: poprecon_link::LinkConfig,
    /// `[policy]`: the effective-dated limits, whether deceased children count.
    #[serde(default)]
    pub policy: poprecon_link::PolicyConfig,
    /// `[attribution]`: the order of the steps that give a birth's village.
    #[serde(default)]
    pub attribution: poprecon_link::AttributionConfig,
    /// `[rules]`: per rule `enabled`, `severity` and settings; `[[rules.local]]` SQL rules.
    #[serde(default)]
    pub rules: poprecon_checks::ChecksConfig,
    /// `[indicators]`: catalogue, bases, `low_n`, thresholds.
    #[serde(default)]
    pub indicators: poprecon_indicators::IndicatorConfig,
    /// `[assessment]`: weights, targets, floors and veto conditions.
    #[serde(default)]
    pub assessment: poprecon_indicators::AssessmentConfig,
    /// `[alerts]`: when a completed run exits with the alert code.
    #[serde(default)]
    pub alerts: AlertsConfig,
    /// `[returns]`: the villages' statistical returns, compared with the records.
    pub returns: Option<ReturnsConfig>,
}

/// `[returns]`: the statistical returns (统计报表) and how they are compared. The file keys
/// are a source's (`path`/`paths`, `format`, `encoding`, `delimiter`, `sheet`, `columns`
/// with the fields `period`, `area_code`, `area_name`, `indicator`, `value`, `numerator`,
/// `denominator`, `basis`); without a file only the sources' completeness is measured.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReturnsConfig {
    /// One path or glob of the returns file(s).
    pub path: Option<String>,
    /// Several paths or globs.
    #[serde(default)]
    pub paths: Vec<String>,
    pub format: Option<Format>,
    pub encoding: Option<Encoding>,
    pub delimiter: Option<String>,
    pub sheet: Option<String>,
    /// Field → header(s), where a header is not one the returns reader knows.
    #[serde(default)]
    pub columns: BTreeMap<String, OneOrMany>,
    /// The counting basis of rows that do not say: `residence` (default), `household`,
    /// `occurrence`.
    pub basis: Option<String>,
    /// A year (`2025`) is the statistical year 1 October – 30 September (default: calendar).
    #[serde(default)]
    pub statistical_year: bool,
    /// The verification factor's band `[low, high]`; default `[0.90, 1.10]`.
    pub band: Option<[f64; 2]>,
    /// The exact test is suppressed below this count (default 5).
    pub min_count: Option<u64>,
    /// Significance level of the exact test (default 0.05).
    pub alpha: Option<f64>,
    /// The two linked sources of the dual-system estimate (default
    /// `["birth_certificate", "household"]`: a health list and the public-security one).
    pub dual_system: Option<[String; 2]>,
}

/// `[alerts]`: thresholds that make a completed run exit with code 3.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// Alert when at least this many new high-severity discrepancies appear (0: never).
    pub new_high_severity: u64,
    /// Alert when a source quarantines more than this share of its rows.
    pub quarantine_share: f64,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            new_high_severity: 1,
            quarantine_share: 0.05,
        }
    }
}

/// `[pipeline]`: what is assessed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineSection {
    pub name: String,
    /// Division code prefix of the jurisdiction (`3403` = Bengbu).
    pub jurisdiction: String,
    /// Date of the extracts.
    pub as_of: DateSetting,
    /// Birth dates assessed.
    pub period: PeriodConfig,
    /// Reviewers' decisions (CSV or TOML), relative to the pipeline file.
    pub decisions: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeriodConfig {
    pub start: DateSetting,
    pub end: DateSetting,
}

/// A date written as a TOML date (`2025-12-31`) or a string (`"2025-12-31"`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum DateSetting {
    Toml(toml::value::Datetime),
    Text(String),
}

impl DateSetting {
    pub(crate) fn to_date(&self, path: &Path, key: &str) -> Result<NaiveDate, PipelineError> {
        let text = match self {
            DateSetting::Toml(d) => d.to_string(),
            DateSetting::Text(s) => s.clone(),
        };
        NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| PipelineError::Invalid {
            path: path.to_owned(),
            key: key.to_owned(),
            message: format!("must be a date like `2025-12-31`, not `{text}`"),
        })
    }
}

/// `[divisions]`: the division table, either one table (`path`: 行政区划 with a code and a
/// name column per level, in any format and encoding ingest reads) or three CSV files
/// (`counties`, `townships`, `villages`) whose first columns are `code,name`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DivisionsConfig {
    /// One table with a row per village (CSV UTF-8/GBK, XLSX, XLS, ODS, Parquet).
    pub path: Option<PathBuf>,
    /// The table's format; from the file name when absent.
    pub format: Option<Format>,
    /// CSV only: `auto` (default), `utf-8`, `gb18030`.
    pub encoding: Option<Encoding>,
    /// CSV only: one character, or `tab`; `,` by default (tab for `.tsv`).
    pub delimiter: Option<String>,
    /// Workbooks only: the sheet; the first one by default.
    pub sheet: Option<String>,
    /// Column of each level's code and name (`village_code`, `village_name`,
    /// `township_code`, `township_name`, `county_code`, `county_name`) where the table's
    /// header is not one of the usual ones (村居代码, 乡镇名称, 区县代码 …).
    #[serde(default)]
    pub columns: BTreeMap<String, OneOrMany>,
    /// Three-file form: counties (6-digit codes).
    pub counties: Option<PathBuf>,
    /// Three-file form: townships (9-digit codes).
    pub townships: Option<PathBuf>,
    /// Three-file form: villages (12-digit codes).
    pub villages: Option<PathBuf>,
}

/// `[sources.<id>]`: where a source's extracts are and how to read them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// One path or glob.
    pub path: Option<String>,
    /// Several paths or globs, read in order.
    #[serde(default)]
    pub paths: Vec<String>,
    /// `csv`, `xlsx` or `parquet`; from the file name when absent.
    pub format: Option<Format>,
    /// CSV only: `auto` (default), `utf-8`, `gb18030` (`gbk` and `gb2312` are read as it).
    pub encoding: Option<Encoding>,
    /// CSV only: one character, or `tab`; `,` by default.
    pub delimiter: Option<String>,
    /// XLSX only: the sheet to read; the first one by default.
    pub sheet: Option<String>,
    /// Accept a file with a header and no rows.
    #[serde(default)]
    pub allow_empty: bool,
    /// Canonical field → source header (or a list of headers tried in order).
    #[serde(default)]
    pub columns: BTreeMap<String, OneOrMany>,
    /// `[sources.<s>.codes.<field>]`: extra spellings of a coded field, each mapped to one
    /// of the field's canonical codes (`"城乡居民养老" = "resident_pension"`).
    #[serde(default)]
    pub codes: BTreeMap<String, BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    /// A column map as header lists: `field = "header"` and `field = ["a", "b"]` alike.
    pub fn lists(map: &BTreeMap<String, OneOrMany>) -> BTreeMap<String, Vec<String>> {
        map.iter()
            .map(|(k, v)| (k.clone(), v.clone().into_vec()))
            .collect()
    }

    pub fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

impl ReturnsConfig {
    /// The file keys as a source's, to resolve and read them the same way.
    pub(crate) fn as_source(&self) -> SourceConfig {
        SourceConfig {
            path: self.path.clone(),
            paths: self.paths.clone(),
            format: self.format,
            encoding: self.encoding,
            delimiter: self.delimiter.clone(),
            sheet: self.sheet.clone(),
            allow_empty: false,
            columns: self.columns.clone(),
            codes: BTreeMap::new(),
        }
    }

    /// The comparison's settings, defaults filled in.
    pub fn settings(&self) -> poprecon_verify::Settings {
        let d = poprecon_verify::Settings::default();
        poprecon_verify::Settings {
            basis: self.basis.clone().unwrap_or(d.basis),
            statistical_year: self.statistical_year,
            band: self.band.map_or(d.band, |[a, b]| (a, b)),
            min_count: self.min_count.unwrap_or(d.min_count),
            alpha: self.alpha.unwrap_or(d.alpha),
            dual_system: self
                .dual_system
                .clone()
                .map_or(d.dual_system, |[a, b]| (a, b)),
        }
    }
}

impl Config {
    /// Parses a pipeline file's text; `path` is for messages.
    pub fn parse(text: &str, path: &Path) -> Result<Config, PipelineError> {
        let parse_error = |e: toml::de::Error| {
            let mut message = e.to_string().trim_end().to_owned();
            for (old, new) in [
                ("policy_limits", "[[policy.limits]]"),
                (
                    "count_deceased_children",
                    "[policy] count_deceased_children",
                ),
                ("attribution", "[attribution] order"),
            ] {
                if message.contains(&format!("unknown field `{old}`")) {
                    message.push_str(&format!("\nhint: `linkage.{old}` moved to `{new}`"));
                }
            }
            PipelineError::Parse {
                path: path.to_owned(),
                message,
            }
        };
        let mut config: Config = toml::from_str(text).map_err(parse_error)?;
        let doc: toml::Value = toml::from_str(text).map_err(parse_error)?;
        crate::params::unify(&mut config, &doc, path)?;
        config.linkage = config
            .linkage
            .clone()
            .with_sections(&config.policy, &config.attribution);
        Ok(config)
    }
}

impl SourceConfig {
    /// The files named by `path`/`paths`, globs expanded (sorted), relative to `base`.
    pub(crate) fn resolve_files(&self, base: &Path) -> Result<Vec<PathBuf>, String> {
        let patterns: Vec<&String> = self.path.iter().chain(self.paths.iter()).collect();
        if patterns.is_empty() {
            return Err("names no file: set `path` or `paths`".into());
        }
        let mut files = Vec::new();
        for pattern in patterns {
            let full = base.join(pattern);
            let full_str = full.to_string_lossy();
            if pattern.contains(['*', '?', '[']) {
                let mut matched: Vec<PathBuf> = glob::glob(&full_str)
                    .map_err(|e| format!("bad glob `{pattern}`: {e}"))?
                    .filter_map(Result::ok)
                    .collect();
                if matched.is_empty() {
                    return Err(format!("glob `{pattern}` matches no file"));
                }
                matched.sort();
                files.extend(matched);
            } else if full.is_file() {
                files.push(full);
            } else {
                return Err(format!("file `{}` does not exist", full.display()));
            }
        }
        Ok(files)
    }
}
