//! The division table: counties, townships and villages with their names.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use poprecon_model::VillageCode;

use crate::PipelineError;

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
