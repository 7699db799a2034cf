//! The division table: counties, townships and villages with their names, from one table
//! (行政区划: a code and a name column per level) or from three `code,name` files.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use poprecon_ingest::{InputFile, normalize_header};
use poprecon_model::VillageCode;

use crate::PipelineError;

/// The columns of a one-table division table, with the headers tried for each when the
/// pipeline maps none (`[divisions.columns]`), compared as ingest compares headers.
pub const DIVISION_COLUMNS: [(&str, &str, &[&str]); 6] = [
    (
        "village_code",
        "村居代码",
        &[
            "村居代码",
            "村(居)代码",
            "村居委会代码",
            "村(居)委会代码",
            "村级代码",
            "村级区划代码",
            "村居区划代码",
            "村代码",
            "村委会代码",
            "居委会代码",
            "社区代码",
            "村社区代码",
            "城乡区划代码",
        ],
    ),
    (
        "village_name",
        "村居名称",
        &[
            "村居名称",
            "村(居)名称",
            "村居委会名称",
            "村(居)委会名称",
            "村级名称",
            "村名称",
            "村委会名称",
            "居委会名称",
            "社区名称",
            "村社区名称",
        ],
    ),
    (
        "township_code",
        "乡镇代码",
        &[
            "乡镇代码",
            "乡镇(街道)代码",
            "乡镇街道代码",
            "街道代码",
            "街道乡镇代码",
            "乡级代码",
            "乡镇区划代码",
            "乡镇级代码",
        ],
    ),
    (
        "township_name",
        "乡镇名称",
        &[
            "乡镇名称",
            "乡镇(街道)名称",
            "乡镇街道名称",
            "街道名称",
            "街道乡镇名称",
            "乡级名称",
            "乡镇级名称",
        ],
    ),
    (
        "county_code",
        "区县代码",
        &[
            "区县代码",
            "县区代码",
            "县(区)代码",
            "区(县)代码",
            "县级代码",
            "区县区划代码",
            "县代码",
            "区县级代码",
        ],
    ),
    (
        "county_name",
        "区县名称",
        &[
            "区县名称",
            "县区名称",
            "县(区)名称",
            "区(县)名称",
            "县级名称",
            "县名称",
            "区县级名称",
        ],
    ),
];

/// For each of [`DIVISION_COLUMNS`], the column of `header` that holds it: the pipeline's
/// map first, then the usual headers. `Err` names the first column not found and the
/// headers tried.
pub fn division_columns(
    header: &[String],
    overrides: &BTreeMap<String, Vec<String>>,
) -> Result<[usize; 6], (String, String)> {
    let norm: Vec<String> = header.iter().map(|h| normalize_header(h)).collect();
    let mut out = [0; 6];
    for (slot, (name, label, defaults)) in out.iter_mut().zip(DIVISION_COLUMNS) {
        let tried: Vec<String> = match overrides.get(name) {
            Some(headers) => headers.clone(),
            None => std::iter::once(name.to_owned())
                .chain(defaults.iter().map(|d| (*d).to_owned()))
                .collect(),
        };
        let found = tried
            .iter()
            .find_map(|t| norm.iter().position(|h| *h == normalize_header(t)));
        *slot = found.ok_or_else(|| {
            (
                format!("{name} ({label})"),
                tried
                    .iter()
                    .map(|t| format!("`{t}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
            )
        })?;
    }
    Ok(out)
}

/// Names of the areas of a jurisdiction, keyed by code. Village names repeat: poprecon
/// matches on codes, never on names.
#[derive(Debug, Clone, Default)]
pub struct Divisions {
    /// 6-digit county code → name.
    pub counties: BTreeMap<String, String>,
    /// 9-digit township code → name.
    pub townships: BTreeMap<String, String>,
    /// 12-digit village code → name.
    pub villages: BTreeMap<String, String>,
    village_set: HashSet<String>,
}

impl Divisions {
    /// Reads three CSV files whose first two columns are `code` and `name`.
    pub fn load(counties: &Path, townships: &Path, villages: &Path) -> Result<Self, PipelineError> {
        let counties = read_table(counties, 6)?;
        let townships = read_table(townships, 9)?;
        let villages = read_table(villages, 12)?;
        Ok(Divisions::new(counties, townships, villages))
    }

    /// Reads one table with a row per village and a code and a name column per level
    /// ([`DIVISION_COLUMNS`]), in any format ingest reads. Township and county codes may be
    /// padded to 12 digits with zeros (`340302001000`, `340302000000`). Areas repeated on
    /// every village row are kept once; a code given two names is an error.
    pub fn load_table(
        file: &InputFile,
        columns: &BTreeMap<String, Vec<String>>,
    ) -> Result<Self, PipelineError> {
        let path = &file.path;
        let err = |line: u64, message: String| PipelineError::Division {
            path: path.clone(),
            line,
            message,
        };
        let table =
            poprecon_ingest::read::read_table(file).map_err(|e| PipelineError::DivisionFile {
                message: e.to_string(),
            })?;
        let cols = division_columns(&table.header, columns).map_err(|(column, tried)| {
            err(
                1,
                format!(
                    "no column for `{column}`\nhint: tried the headers {tried}; map it under `[divisions.columns]`, e.g. `{} = \"<header>\"`",
                    column.split(' ').next().unwrap_or_default()
                ),
            )
        })?;
        let mut levels: [BTreeMap<String, (String, u64)>; 3] = Default::default();
        for (line, cells) in &table.rows {
            let cell = |i: usize| cells.get(cols[i]).map_or("", |c| c.trim());
            let parts = [
                (cell(0), cell(1), 12, "village"),
                (cell(2), cell(3), 9, "township"),
                (cell(4), cell(5), 6, "county"),
            ];
            for (level, (raw, name, digits, what)) in parts.into_iter().enumerate() {
                if raw.is_empty() {
                    continue;
                }
                let code = division_code(raw, digits).ok_or_else(|| {
                    err(
                        *line,
                        format!("{what} code `{raw}` is not {digits} digits (or 12 digits padded with zeros)"),
                    )
                })?;
                if level == 0 && VillageCode::parse(&code).is_err() {
                    return Err(err(
                        *line,
                        format!("village code `{raw}` is not a village code"),
                    ));
                }
                if let Some((other, first)) = levels[level].get(&code) {
                    if other.as_str() != name {
                        return Err(err(
                            *line,
                            format!(
                                "{what} `{code}` is named `{name}` here and `{other}` on line {first}"
                            ),
                        ));
                    }
                    continue;
                }
                levels[level].insert(code, (name.to_owned(), *line));
            }
            let (village, township, county) = (cell(0), cell(2), cell(4));
            let village = division_code(village, 12).unwrap_or_default();
            let township = division_code(township, 9).unwrap_or_default();
            let county = division_code(county, 6).unwrap_or_default();
            if !village.is_empty() && !township.is_empty() && !village.starts_with(&township) {
                return Err(err(
                    *line,
                    format!("village `{village}` is not in township `{township}`"),
                ));
            }
            if !township.is_empty() && !county.is_empty() && !township.starts_with(&county) {
                return Err(err(
                    *line,
                    format!("township `{township}` is not in county `{county}`"),
                ));
            }
        }
        let [villages, townships, counties] = levels.map(|l| {
            l.into_iter()
                .map(|(c, (n, _))| (c, n))
                .collect::<BTreeMap<_, _>>()
        });
        if villages.is_empty() {
            return Err(err(1, "the table has no village rows".into()));
        }
        Ok(Divisions::new(counties, townships, villages))
    }

    pub fn new(
        counties: BTreeMap<String, String>,
        townships: BTreeMap<String, String>,
        villages: BTreeMap<String, String>,
    ) -> Self {
        let village_set = villages.keys().cloned().collect();
        Divisions {
            counties,
            townships,
            villages,
            village_set,
        }
    }

    /// The set of known village codes, for ingest's `unknown_village` flag.
    pub fn village_codes(&self) -> &HashSet<String> {
        &self.village_set
    }

    /// The name of an area of any level (by the length of its code).
    pub fn name(&self, code: &str) -> Option<&str> {
        match code.len() {
            6 => self.counties.get(code),
            9 => self.townships.get(code),
            12 => self.villages.get(code),
            _ => None,
        }
        .map(String::as_str)
    }
}

fn read_table(path: &Path, digits: usize) -> Result<BTreeMap<String, String>, PipelineError> {
    let err = |line: u64, message: String| PipelineError::Division {
        path: path.to_owned(),
        line,
        message,
    };
    let mut reader = csv::ReaderBuilder::new()
        .from_path(path)
        .map_err(|e| err(0, e.to_string()))?;
    let headers = reader.headers().map_err(|e| err(1, e.to_string()))?.clone();
    if headers.get(0).map(str::trim) != Some("code")
        || headers.get(1).map(str::trim) != Some("name")
    {
        return Err(err(
            1,
            "the first two columns must be `code` and `name`".into(),
        ));
    }
    let mut out = BTreeMap::new();
    for record in reader.records() {
        let record =
            record.map_err(|e| err(e.position().map_or(0, |p| p.line()), e.to_string()))?;
        let line = record.position().map_or(0, |p| p.line());
        let code = record.get(0).unwrap_or("").trim();
        let name = record.get(1).unwrap_or("").trim();
        let ok = code.len() == digits && code.bytes().all(|b| b.is_ascii_digit());
        if !ok || (digits == 12 && VillageCode::parse(code).is_err()) {
            return Err(err(line, format!("`code` must have {digits} digits")));
        }
        if out.insert(code.to_owned(), name.to_owned()).is_some() {
            return Err(err(line, format!("code `{code}` appears twice")));
        }
    }
    if out.is_empty() {
        return Err(err(1, "the table has no rows".into()));
    }
    Ok(out)
}

/// A code of `digits` digits as written, or padded to 12 digits with zeros; a leading `'`
/// (Excel's text marker) and a trailing `.0` (a number cell) are dropped.
pub fn division_code(raw: &str, digits: usize) -> Option<String> {
    let t = raw.trim().trim_start_matches('\'');
    let t = t.strip_suffix(".0").unwrap_or(t);
    if !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if t.len() == digits {
        return Some(t.to_owned());
    }
    if t.len() == 12 && t[digits..].bytes().all(|b| b == b'0') {
        return Some(t[..digits].to_owned());
    }
    None
}
