//! The field teams' checklists (现场核查清单): one printable XLSX workbook per township
//! ([`write_checklists`]) with the sampled records and their replacements, the facts to
//! verify and blank result columns, and the filled workbook read back
//! ([`read_checklist`]) into the columns `poprecon_verify::read_back` takes.
//!
//! Person-level on purpose (the team must find the family): names and address in clear,
//! mother IDs masked. Headers come from `poprecon-report`'s labels (`checklist.<column>`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use polars::prelude::*;
use poprecon_report::{Lang, label};
use rust_xlsxwriter::{Color, DataValidation, Format, FormatAlign, FormatBorder, Workbook};

use crate::ExportError;

/// The checklist's columns, in order: the record (filled by poprecon), the field's results
/// (blank), then the draw's bookkeeping that the read-back needs (grey).
pub const COLUMNS: &[(&str, Part, f64)] = &[
    ("row", Part::Record, 5.0),
    ("village", Part::Record, 13.0),
    ("village_name", Part::Record, 14.0),
    ("role", Part::Record, 7.0),
    ("mother_name", Part::Record, 9.0),
    ("mother_id_masked", Part::Record, 20.0),
    ("child_name", Part::Record, 9.0),
    ("address", Part::Record, 18.0),
    ("birth_date", Part::Record, 11.0),
    ("child_sex", Part::Record, 5.0),
    ("birth_order", Part::Record, 5.0),
    ("facts", Part::Record, 26.0),
    ("result", Part::Field, 10.0),
    ("actual_sex", Part::Field, 7.0),
    ("actual_birth_date", Part::Field, 11.0),
    ("actual_birth_order", Part::Field, 7.0),
    ("issue_confirmed", Part::Field, 9.0),
    ("new_births", Part::Field, 8.0),
    ("checked_by", Part::Field, 8.0),
    ("checked_on", Part::Field, 11.0),
    ("remarks", Part::Field, 14.0),
    ("stratum", Part::Draw, 24.0),
    ("draw_order", Part::Draw, 6.0),
    ("birth_id", Part::Draw, 18.0),
    ("discrepancy_ids", Part::Draw, 18.0),
    ("stratum_size", Part::Draw, 8.0),
    ("sample_size", Part::Draw, 8.0),
    ("inclusion_probability", Part::Draw, 8.0),
];

/// Who fills a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Record,
    Field,
    Draw,
}

/// What a set of checklists says about itself.
#[derive(Debug, Clone)]
pub struct ChecklistInfo<'a> {
    pub lang: Lang,
    pub run_id: &'a str,
    pub as_of: NaiveDate,
    /// The sample plan in words (LQAS n, d, α, β, or the precision target; the seed).
    pub plan: &'a str,
    /// Township code → name.
    pub township_names: &'a BTreeMap<String, String>,
}

/// Writes one checklist per township of `rows` (`poprecon_verify::checklist_rows`) into
/// `dir`, named `核查清单_<township>.xlsx`; returns the files in township order.
pub fn write_checklists(
    rows: &DataFrame,
    dir: &Path,
    info: &ChecklistInfo<'_>,
) -> Result<Vec<PathBuf>, ExportError> {
    let text = |c: &str| -> Result<Vec<Option<String>>, ExportError> {
        let s = rows
            .column(c)
            .and_then(|c| c.as_materialized_series().cast(&DataType::String))
            .map_err(|e| table_error(c, e))?;
        Ok(s.str()
            .map_err(|e| table_error(c, e))?
            .iter()
            .map(|v| v.map(str::to_owned))
            .collect())
    };
    let township = text("township")?;
    let columns: BTreeMap<&str, Vec<Option<String>>> = COLUMNS
        .iter()
        .filter(|(c, p, _)| *p != Part::Field && *c != "row")
        .map(|(c, _, _)| Ok((*c, text(c)?)))
        .collect::<Result<_, ExportError>>()?;
    let mut by_township: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, t) in township.iter().enumerate() {
        by_township
            .entry(t.clone().unwrap_or_default())
            .or_default()
            .push(i);
    }
    let l = |k: &str| label(info.lang, &format!("checklist.{k}"));
    let mut files = Vec::new();
    for (t, idx) in by_township {
        let path = dir.join(format!("{}_{t}.xlsx", l("file")));
        let xl = |e: rust_xlsxwriter::XlsxError| ExportError::Write {
            path: path.clone(),
            message: e.to_string(),
        };
        let mut book = Workbook::new();
        let ws = book.add_worksheet();
        ws.set_name(l("sheet")).map_err(xl)?;
        let name = info.township_names.get(&t).cloned().unwrap_or_default();
        let title = format!("{}{name}（{t}）{}", l("title_prefix"), l("title"));
        let last = COLUMNS.len() as u16 - 1;
        let title_f = Format::new()
            .set_bold()
            .set_font_size(14)
            .set_align(FormatAlign::Center);
        let note_f = Format::new().set_font_size(9).set_text_wrap();
        let header = Format::new()
            .set_bold()
            .set_text_wrap()
            .set_align(FormatAlign::Center)
            .set_align(FormatAlign::VerticalCenter)
            .set_border(FormatBorder::Thin);
        let record_h = header.clone().set_background_color(Color::RGB(0xDDEBF7));
        let field_h = header.clone().set_background_color(Color::RGB(0xFFF2CC));
        let draw_h = header
            .set_background_color(Color::RGB(0xEDEDED))
            .set_font_color(Color::RGB(0x595959));
        let cell = Format::new()
            .set_border(FormatBorder::Thin)
            .set_text_wrap()
            .set_align(FormatAlign::Top);
        let blank = cell.clone().set_background_color(Color::RGB(0xFFFDF2));
        let grey = cell.clone().set_font_color(Color::RGB(0x7F7F7F));
        ws.merge_range(0, 0, 0, last, &title, &title_f)
            .map_err(xl)?;
        ws.set_row_height(0, 24).map_err(xl)?;
        let note = format!(
            "{} {}；{} {}；{}",
            l("as_of"),
            info.as_of,
            l("run"),
            info.run_id,
            info.plan
        );
        ws.merge_range(
            1,
            0,
            1,
            last,
            &format!("{note}\n{}", l("instructions")),
            &note_f,
        )
        .map_err(xl)?;
        ws.set_row_height(1, 44).map_err(xl)?;
        let header_row = 2u32;
        for (c, (key, part, width)) in COLUMNS.iter().enumerate() {
            let f = match part {
                Part::Record => &record_h,
                Part::Field => &field_h,
                Part::Draw => &draw_h,
            };
            ws.write_string_with_format(header_row, c as u16, l(key), f)
                .map_err(xl)?;
            ws.set_column_width(c as u16, *width).map_err(xl)?;
        }
        ws.set_row_height(header_row, 30).map_err(xl)?;
        for (k, &i) in idx.iter().enumerate() {
            let row = header_row + 1 + k as u32;
            for (c, (key, part, _)) in COLUMNS.iter().enumerate() {
                let c = c as u16;
                let value = match *key {
                    "row" => Some((k + 1).to_string()),
                    "role" => columns["role"][i].as_deref().map(|r| {
                        let order = columns["draw_order"][i].clone().unwrap_or_default();
                        format!("{}{order}", l(&format!("role.{r}")))
                    }),
                    "child_sex" => columns["child_sex"][i]
                        .as_deref()
                        .map(|s| sex_text(info.lang, s)),
                    "flagged" => None,
                    k if *part == Part::Field => {
                        ws.write_blank(row, c, &blank).map_err(xl)?;
                        let _ = k;
                        continue;
                    }
                    k => columns[k][i].clone(),
                };
                let f = if *part == Part::Draw { &grey } else { &cell };
                match value {
                    Some(v) => {
                        ws.write_string_with_format(row, c, crate::neutralize(&v).as_ref(), f)
                    }
                    None => ws.write_blank(row, c, f),
                }
                .map_err(xl)?;
            }
        }
        let first = header_row + 1;
        let last_row = header_row + idx.len().max(1) as u32;
        let col = |k: &str| COLUMNS.iter().position(|(c, _, _)| *c == k).unwrap_or(0) as u16;
        let lists: [(&str, Vec<&str>); 3] = [
            (
                "result",
                vec![
                    l("answer.confirmed"),
                    l("answer.wrong"),
                    l("answer.not_found"),
                ],
            ),
            (
                "issue_confirmed",
                vec![l("answer.issue_true"), l("answer.issue_false")],
            ),
            (
                "actual_sex",
                vec![sex_label(info.lang, "1"), sex_label(info.lang, "2")],
            ),
        ];
        for (k, values) in lists {
            let dv = DataValidation::new()
                .allow_list_strings(&values)
                .map_err(xl)?;
            ws.add_data_validation(first, col(k), last_row, col(k), &dv)
                .map_err(xl)?;
        }
        ws.set_landscape();
        ws.set_paper_size(9); // A4
        ws.set_print_fit_to_pages(1, 0);
        ws.set_margins(0.3, 0.3, 0.5, 0.5, 0.3, 0.3);
        ws.set_header(format!("&C&12&\"-,Bold\"{}", title.replace('&', "&&")));
        ws.set_footer(match info.lang {
            Lang::Zh => "&C第 &P 页，共 &N 页",
            Lang::En => "&CPage &P of &N",
        });
        ws.set_repeat_rows(0, header_row).map_err(xl)?;
        ws.set_freeze_panes(first, 3).map_err(xl)?;
        // The draw's bookkeeping prints too (it is small), but the team fills the middle.
        ws.set_print_area(0, 0, last_row, col("remarks"))
            .map_err(xl)?;
        book.save(&path).map_err(xl)?;
        files.push(path);
    }
    Ok(files)
}

/// Reads a filled checklist: its first sheet, from the header row (found by the labels of
/// either language), every column of [`COLUMNS`] except the row number, as text. Sexes read
/// as codes (男 → 1, 女 → 2), date cells as `YYYY-MM-DD`, whole numbers without `.0`.
pub fn read_checklist(path: &Path) -> Result<DataFrame, ExportError> {
    use calamine::{Data, Reader};
    let err = |message: String| ExportError::Write {
        path: path.to_owned(),
        message,
    };
    let mut wb = calamine::open_workbook_auto(path).map_err(|e| err(e.to_string()))?;
    let sheet = wb
        .sheet_names()
        .first()
        .cloned()
        .ok_or_else(|| err("the workbook has no sheet".into()))?;
    let range = wb.worksheet_range(&sheet).map_err(|e| err(e.to_string()))?;
    let header_of = |text: &str| -> Option<&'static str> {
        COLUMNS.iter().map(|(c, _, _)| *c).find(|c| {
            [Lang::Zh, Lang::En]
                .iter()
                .any(|lang| label(*lang, &format!("checklist.{c}")) == text.trim())
        })
    };
    let rows: Vec<&[Data]> = range.rows().collect();
    let (h, map) = rows
        .iter()
        .enumerate()
        .find_map(|(r, cells)| {
            let map: Vec<Option<&'static str>> = cells
                .iter()
                .map(|c| match c {
                    Data::String(s) => header_of(s),
                    _ => None,
                })
                .collect();
            map.contains(&Some("birth_id")).then_some((r, map))
        })
        .ok_or_else(|| {
            err(format!(
                "no header row with `{}`",
                label(Lang::Zh, "checklist.birth_id")
            ))
        })?;
    let mut cols: BTreeMap<&'static str, Vec<Option<String>>> = BTreeMap::new();
    for (c, name) in map.iter().enumerate() {
        let Some(name) = name.filter(|n| *n != "row") else {
            continue;
        };
        let values = rows[h + 1..]
            .iter()
            .map(|cells| cells.get(c).and_then(|d| cell_text(d, name)))
            .collect();
        cols.insert(name, values);
    }
    for required in ["village", "stratum", "birth_id", "stratum_size", "result"] {
        if !cols.contains_key(required) {
            return Err(err(format!(
                "no column `{}`",
                label(Lang::Zh, &format!("checklist.{required}"))
            )));
        }
    }
    let height = rows.len().saturating_sub(h + 1);
    let columns: Vec<Column> = cols
        .into_iter()
        .map(|(name, v)| Column::new(name.into(), v))
        .collect();
    let df = DataFrame::new(height, columns).map_err(|e| err(e.to_string()))?;
    // Rows without a record (blank lines under the table) are not rows of the sample.
    df.lazy()
        .filter(col("birth_id").is_not_null())
        .collect()
        .map_err(|e| err(e.to_string()))
}

fn cell_text(d: &calamine::Data, column: &str) -> Option<String> {
    use calamine::Data;
    let text = match d {
        Data::Empty => return None,
        Data::String(s) => s.trim().to_owned(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Int(i) => i.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(dt) => poprecon_model::excel_serial_to_datetime(dt.as_f64())
            .map_or_else(|| dt.as_f64().to_string(), |t| t.date().to_string()),
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Error(_) => return None,
    };
    if text.is_empty() {
        return None;
    }
    // The role cell reads 样本3 / 替补1: the draw's role and order are in their own columns.
    Some(match column {
        "child_sex" | "actual_sex" => sex_code(&text).unwrap_or(text),
        "checked_on" | "actual_birth_date" => normalize_date(&text).unwrap_or(text),
        _ => text,
    })
}

fn normalize_date(text: &str) -> Option<String> {
    ["%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y年%m月%d日", "%Y.%m.%d"]
        .iter()
        .find_map(|f| NaiveDate::parse_from_str(text.trim(), f).ok())
        .map(|d| d.to_string())
}

fn sex_code(text: &str) -> Option<String> {
    match text.trim() {
        "男" | "M" | "m" | "male" | "Male" | "1" => Some("1".into()),
        "女" | "F" | "f" | "female" | "Female" | "2" => Some("2".into()),
        _ => None,
    }
}

fn sex_label(lang: Lang, code: &str) -> &'static str {
    label(lang, &format!("checklist.sex.{code}"))
}

fn sex_text(lang: Lang, code: &str) -> String {
    match sex_label(lang, code) {
        "" => code.to_owned(),
        s => s.to_owned(),
    }
}

fn table_error(column: &str, e: PolarsError) -> ExportError {
    ExportError::Table {
        table: "checklist".to_owned(),
        message: format!("column `{column}`: {e}"),
    }
}
