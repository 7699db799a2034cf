//! The division table: the real Bengbu table (embedded, so the generator runs from
//! anywhere), the villages each scale uses, and the copies with distinct city codes that
//! make up the province.

use std::collections::BTreeMap;
use std::path::Path;

use crate::schema::Dialect;
use crate::{Scale, SynthError};

const COUNTIES: &str = include_str!("../../../sample-data/divisions/counties.csv");
const TOWNSHIPS: &str = include_str!("../../../sample-data/divisions/townships.csv");
const VILLAGES: &str = include_str!("../../../sample-data/divisions/villages.csv");

/// The county of the county scale (淮上区, 96 villages) and of the village scale.
const COUNTY_SCALE: &str = "340311";
/// City codes of the province scale: Bengbu first, then other Anhui city codes.
const PROVINCE_CITIES: [&str; 15] = [
    "03", "01", "02", "04", "05", "06", "07", "08", "10", "11", "12", "13", "15", "16", "17",
];

/// One village with what the generator needs to know about it.
#[derive(Debug, Clone)]
pub(crate) struct Village {
    pub code: String,
    /// Position in the scale's village list: makes record keys unique across the run.
    pub index: u32,
    pub county: u32,
    pub county_name: String,
    pub township_name: String,
}

/// The areas a run uses, in code order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Divisions {
    pub counties: BTreeMap<String, String>,
    pub townships: BTreeMap<String, String>,
    pub villages: BTreeMap<String, String>,
    /// The villages generated, in code order, grouped by county in [`Divisions::units`].
    pub list: Vec<Village>,
}

impl Divisions {
    /// The division table of a scale, cut to the first `sample` villages if given.
    pub(crate) fn for_scale(scale: Scale, sample: Option<usize>) -> Result<Divisions, SynthError> {
        let counties = parse(COUNTIES, "counties.csv")?;
        let townships = parse(TOWNSHIPS, "townships.csv")?;
        let villages = parse(VILLAGES, "villages.csv")?;
        let chosen: Vec<&String> = match scale {
            Scale::Village => {
                // The first village of each of the county's first two townships: one urban
                // street, one rural town.
                let mut seen_townships = Vec::new();
                villages
                    .keys()
                    .filter(|c| c.starts_with(COUNTY_SCALE))
                    .filter(|c| {
                        let t = &c[..9];
                        if seen_townships.len() < 2 && !seen_townships.contains(&t) {
                            seen_townships.push(t);
                            true
                        } else {
                            false
                        }
                    })
                    .collect()
            }
            Scale::County => villages
                .keys()
                .filter(|c| c.starts_with(COUNTY_SCALE))
                .collect(),
            Scale::City | Scale::Province => villages.keys().collect(),
        };
        let cities: &[&str] = if scale == Scale::Province {
            &PROVINCE_CITIES
        } else {
            &PROVINCE_CITIES[..1]
        };
        let mut out = Divisions::default();
        let recode = |code: &str, city: &str| format!("34{city}{}", &code[4..]);
        for city in cities {
            for code in &chosen {
                let name = &villages[*code];
                let county = &code[..6];
                let township = &code[..9];
                let county_name = counties.get(county).cloned().unwrap_or_default();
                let township_name = townships.get(township).cloned().unwrap_or_default();
                let v_code = recode(code, city);
                out.counties
                    .insert(recode(county, city), county_name.clone());
                out.townships
                    .insert(recode(township, city), township_name.clone());
                out.villages.insert(v_code.clone(), name.clone());
                out.list.push(Village {
                    county: v_code[..6].parse().unwrap_or(0),
                    code: v_code,
                    index: 0,
                    county_name,
                    township_name,
                });
            }
        }
        out.list.sort_by(|a, b| a.code.cmp(&b.code));
        if let Some(n) = sample {
            out.list.truncate(n.max(1));
            let keep: Vec<String> = out.list.iter().map(|v| v.code.clone()).collect();
            out.villages.retain(|c, _| keep.binary_search(c).is_ok());
            out.townships
                .retain(|c, _| keep.iter().any(|v| v.starts_with(c.as_str())));
            out.counties
                .retain(|c, _| keep.iter().any(|v| v.starts_with(c.as_str())));
        }
        for (i, v) in out.list.iter_mut().enumerate() {
            v.index = i as u32;
        }
        Ok(out)
    }

    /// The villages grouped by county, in code order: the units of sequential work.
    pub(crate) fn units(&self) -> Vec<&[Village]> {
        let mut units = Vec::new();
        let mut start = 0;
        for i in 1..=self.list.len() {
            if i == self.list.len() || self.list[i].county != self.list[start].county {
                units.push(&self.list[start..i]);
                start = i;
            }
        }
        units
    }

    /// The jurisdiction: the city-code prefix `3403`, or `34` for the province; a county's
    /// own systems (the county-b dialect, village and county scales) assess the county.
    pub(crate) fn jurisdiction(scale: Scale, dialect: Dialect) -> &'static str {
        match (scale, dialect) {
            (Scale::Province, _) => "34",
            (_, Dialect::CountyB) => COUNTY_SCALE,
            _ => "3403",
        }
    }

    /// The new community of a village's township (`<township>899`, a code the real table
    /// does not use): in the county-b dialect the stillbirths' deliveries give it as their
    /// residence, so that it holds deliveries and no birth (domain.md §8.21).
    pub(crate) fn new_community(village: &str) -> String {
        format!("{}899", &village[..9])
    }

    /// Adds the new community of every township of the run to the table.
    pub(crate) fn add_new_communities(&mut self) {
        for v in &self.list {
            self.villages
                .entry(Self::new_community(&v.code))
                .or_insert_with(|| "新建社区居委会".to_owned());
        }
    }

    /// Writes the one 行政区划 table users hold, as XLSX: 村居代码, 村居名称, 乡镇代码,
    /// 乡镇名称, 区县代码, 区县名称, township and county codes padded to 12 digits.
    pub(crate) fn write_one_table(&self, path: &Path) -> Result<(), SynthError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| SynthError::io(dir, e))?;
        }
        let xerr = |e: rust_xlsxwriter::XlsxError| SynthError::Xlsx {
            path: path.to_owned(),
            message: e.to_string(),
        };
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        sheet.set_name("行政区划").map_err(xerr)?;
        let headers = [
            "村居代码",
            "村居名称",
            "乡镇代码",
            "乡镇名称",
            "区县代码",
            "区县名称",
        ];
        for (c, h) in headers.iter().enumerate() {
            sheet.write_string(0, c as u16, *h).map_err(xerr)?;
        }
        for (r, (code, name)) in self.villages.iter().enumerate() {
            let (township, county) = (&code[..9], &code[..6]);
            let cells = [
                code.clone(),
                name.clone(),
                format!("{township}000"),
                self.townships.get(township).cloned().unwrap_or_default(),
                format!("{county}000000"),
                self.counties.get(county).cloned().unwrap_or_default(),
            ];
            for (c, v) in cells.iter().enumerate() {
                sheet
                    .write_string(r as u32 + 1, c as u16, v.as_str())
                    .map_err(xerr)?;
            }
        }
        book.save(path).map_err(xerr)
    }

    /// Writes `counties.csv`, `townships.csv` and `villages.csv` (`code,name`, then the
    /// parent code) into `dir`.
    pub(crate) fn write(&self, dir: &Path) -> Result<(), SynthError> {
        std::fs::create_dir_all(dir).map_err(|e| SynthError::io(dir, e))?;
        write_table(&dir.join("counties.csv"), &self.counties, None)?;
        write_table(&dir.join("townships.csv"), &self.townships, Some(6))?;
        write_table(&dir.join("villages.csv"), &self.villages, Some(9))?;
        Ok(())
    }
}

fn parse(text: &str, file: &str) -> Result<BTreeMap<String, String>, SynthError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(text.as_bytes());
    let mut out = BTreeMap::new();
    for record in reader.records() {
        let record = record.map_err(|e| SynthError::Embedded {
            file: file.to_owned(),
            message: e.to_string(),
        })?;
        let (Some(code), Some(name)) = (record.get(0), record.get(1)) else {
            return Err(SynthError::Embedded {
                file: file.to_owned(),
                message: "a row has fewer than two columns".into(),
            });
        };
        out.insert(code.trim().to_owned(), name.trim().to_owned());
    }
    Ok(out)
}

fn write_table(
    path: &Path,
    rows: &BTreeMap<String, String>,
    parent_len: Option<usize>,
) -> Result<(), SynthError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let header: &[&str] = if parent_len.is_some() {
        &["code", "name", "parent"]
    } else {
        &["code", "name"]
    };
    let csv_err = |e: csv::Error| SynthError::io(path, std::io::Error::other(e));
    w.write_record(header).map_err(csv_err)?;
    for (code, name) in rows {
        match parent_len {
            Some(n) => w.write_record([code.as_str(), name.as_str(), &code[..n]]),
            None => w.write_record([code.as_str(), name.as_str()]),
        }
        .map_err(csv_err)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| SynthError::io(path, std::io::Error::other(e.to_string())))?;
    std::fs::write(path, bytes).map_err(|e| SynthError::io(path, e))
}
