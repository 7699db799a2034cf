//! The assessors' workbook: one formatted XLSX file per run ([`AssessorWorkbook`]).
//!
//! Sheets, in order:
//! - 考核汇总: the assessed areas down, the scheme's indicators across (value and target),
//!   then the score, the rank within the level and the veto with its reason; values are
//!   coloured against target and floor by conditional formats;
//! - one sheet per area level present (全辖区, 县(区), 乡镇(街道), 村(居)): each indicator's
//!   numerator, denominator, value and 95 % interval, the small-denominator mark, small
//!   counts suppressed;
//! - 指标说明: each indicator's name, definition, numerator and denominator in words, unit,
//!   the scheme's target, floor and weight, the extracts' date and the period;
//! - 各村核查问题 (when the run has it): discrepancies per village and rule;
//! - 报表核实 and 来源完整性 (when the pipeline has `[returns]`): the returns against the
//!   records and each source's completeness against the dual-system estimate.
//!
//! Every code is translated (levels, bases, indicator and rule ids, booleans as 是/否);
//! rates are percentages, dates are dates; each sheet has a title, frozen headers, an
//! autofilter and an A4 landscape print setup. The labels come from `poprecon-report` and
//! the indicator catalogue of `poprecon-indicators`; nothing here has words of its own.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{Datelike, NaiveDate};
use polars::prelude::*;
use poprecon_indicators::Unit;
use poprecon_report::{Lang, basis_label, column_label, label, level_label, yes_no};
use rust_xlsxwriter::{
    Color, ConditionalFormatFormula, ExcelDateTime, Format, FormatAlign, FormatBorder, Workbook,
    Worksheet,
};

use crate::ExportError;

mod verification;

/// What the workbook is made of: a run's aggregate tables and what the run was.
#[derive(Debug, Clone, Copy)]
pub struct AssessorWorkbook<'a> {
    pub lang: Lang,
    pub run_id: &'a str,
    /// The jurisdiction's code prefix (`3403`).
    pub jurisdiction: &'a str,
    /// Date of the extracts.
    pub as_of: NaiveDate,
    /// Birth dates assessed, both ends included.
    pub period: (NaiveDate, NaiveDate),
    /// `indicators.parquet`.
    pub indicators: &'a DataFrame,
    /// `assessment.parquet`.
    pub assessment: &'a DataFrame,
    /// `village_discrepancies.parquet`, if the run has it.
    pub village_discrepancies: Option<&'a DataFrame>,
    /// Counts above 0 and below this are suppressed.
    pub suppress_below: i64,
    /// `returns_comparison.parquet`, if the run compared returns (sheet 报表核实).
    pub returns: Option<&'a DataFrame>,
    /// `source_completeness.parquet`, if the run measured it (sheet 来源完整性).
    pub completeness: Option<&'a DataFrame>,
}

/// Number formats of the workbook, as Excel writes them.
pub const PERCENT_FORMAT: &str = "0.0%";
pub const RATIO_FORMAT: &str = "0.0";
pub const COUNT_FORMAT: &str = "0";
pub const SCORE_FORMAT: &str = "0.0";
pub const DATE_FORMAT: &str = "yyyy-mm-dd";

/// The mark of a suppressed value in the summary.
pub const SUPPRESSED_MARK: &str = "*";

impl AssessorWorkbook<'_> {
    /// The jurisdiction's name, from the indicators' jurisdiction row.
    pub fn jurisdiction_name(&self) -> Option<String> {
        let levels = texts(self.indicators, "level").ok()?;
        let names = texts(self.indicators, "area_name").ok()?;
        levels
            .iter()
            .zip(names)
            .find(|(l, n)| l.as_deref() == Some("jurisdiction") && n.is_some())
            .and_then(|(_, n)| n)
    }

    /// The file name: jurisdiction, period and as_of, e.g.
    /// `考核_3403蚌埠市_20250101-20251231_截至20260131.xlsx`.
    pub fn file_name(&self) -> String {
        let ymd = |d: NaiveDate| d.format("%Y%m%d").to_string();
        let name: String = self
            .jurisdiction_name()
            .unwrap_or_default()
            .chars()
            .filter(|c| !matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|'))
            .filter(|c| !c.is_whitespace() && !c.is_control())
            .collect();
        match self.lang {
            Lang::Zh => format!(
                "考核_{}{name}_{}-{}_截至{}.xlsx",
                self.jurisdiction,
                ymd(self.period.0),
                ymd(self.period.1),
                ymd(self.as_of)
            ),
            Lang::En => format!(
                "assessment_{}_{}-{}_as-of-{}.xlsx",
                self.jurisdiction,
                ymd(self.period.0),
                ymd(self.period.1),
                ymd(self.as_of)
            ),
        }
    }

    /// Writes the workbook to `path`.
    pub fn write(&self, path: &Path) -> Result<(), ExportError> {
        let xl = |e: rust_xlsxwriter::XlsxError| ExportError::Write {
            path: path.to_owned(),
            message: e.to_string(),
        };
        let styles = Styles::new();
        let mut book = Workbook::new();
        let title_base = match self.jurisdiction_name() {
            Some(name) => format!("{name}（{}）{}", self.jurisdiction, self.period_text()),
            None => format!("{} {}", self.jurisdiction, self.period_text()),
        };

        let summary = Summary::read(self.assessment)?;
        {
            let ws = book.add_worksheet();
            self.summary_sheet(ws, &styles, &summary, &title_base)
                .map_err(xl)?;
        }
        let indicators = IndicatorRows::read(self.indicators)?;
        for level in self.levels(&indicators) {
            let ws = book.add_worksheet();
            self.level_sheet(ws, &styles, &indicators, level, &title_base)
                .map_err(xl)?;
        }
        {
            let ws = book.add_worksheet();
            self.definitions_sheet(ws, &styles, &indicators, &summary, &title_base)
                .map_err(xl)?;
        }
        if let Some(vd) = self.village_discrepancies {
            let names = indicators.area_names();
            let ws = book.add_worksheet();
            self.village_discrepancy_sheet(ws, &styles, vd, &names, &title_base)?;
        }
        if let Some(df) = self.returns {
            let ws = book.add_worksheet();
            self.returns_sheet(ws, &styles, df, &title_base)?;
        }
        if let Some(df) = self.completeness.filter(|df| df.height() > 0) {
            let ws = book.add_worksheet();
            self.completeness_sheet(ws, &styles, df, &title_base)?;
        }
        book.save(path).map_err(xl)
    }

    fn l(&self, key: &str) -> &'static str {
        label(self.lang, key)
    }

    fn column(&self, key: &str) -> String {
        column_label(self.lang, key)
            .map(str::to_owned)
            .unwrap_or_else(|| key.to_owned())
    }

    fn period_text(&self) -> String {
        match self.lang {
            Lang::Zh => format!("{}至{}", self.period.0, self.period.1),
            Lang::En => format!("{} to {}", self.period.0, self.period.1),
        }
    }

    fn legend(&self, key: &str) -> String {
        self.l(key).replace("{n}", &self.suppress_below.to_string())
    }

    /// The levels with a sheet: jurisdiction, city (when the jurisdiction is larger than a
    /// city), county, township, village, those present.
    fn levels(&self, rows: &IndicatorRows) -> Vec<&'static str> {
        ["jurisdiction", "city", "county", "township", "village"]
            .into_iter()
            .filter(|l| *l != "city" || self.jurisdiction.len() < 4)
            .filter(|l| rows.level.iter().any(|x| x.as_deref() == Some(*l)))
            .collect()
    }

    fn indicator_name(&self, id: &str) -> String {
        match poprecon_indicators::indicator(id) {
            Some(i) if self.lang == Lang::Zh => i.name_zh.to_owned(),
            Some(i) => i.name_en.to_owned(),
            None => id.to_owned(),
        }
    }

    /// Title (row 0, merged), a note (row 1, merged), print setup with the title as the
    /// page header and the rows up to the header row repeated on every page.
    fn frame(
        &self,
        ws: &mut Worksheet,
        styles: &Styles,
        f: &SheetFrame<'_>,
    ) -> Result<(), rust_xlsxwriter::XlsxError> {
        let SheetFrame {
            name,
            title,
            note,
            last_col,
            header_row,
        } = *f;
        ws.set_name(name)?;
        ws.merge_range(0, 0, 0, last_col, title, &styles.title)?;
        ws.set_row_height(0, 24)?;
        ws.merge_range(1, 0, 1, last_col, note, &styles.note)?;
        ws.set_row_height(1, if note.chars().count() > 60 { 32 } else { 16 })?;
        ws.set_landscape();
        ws.set_paper_size(9); // A4
        ws.set_print_fit_to_pages(1, 0);
        ws.set_print_center_horizontally(true);
        ws.set_margins(0.4, 0.4, 0.6, 0.6, 0.3, 0.3);
        // `&` starts a code in a page header: double it in the title. The font size goes
        // first: digits right after `&12` would be read as part of the size.
        ws.set_header(format!("&C&12&\"-,Bold\"{}", title.replace('&', "&&")));
        ws.set_footer(match self.lang {
            Lang::Zh => "&C第 &P 页，共 &N 页",
            Lang::En => "&CPage &P of &N",
        });
        ws.set_repeat_rows(0, header_row)?;
        Ok(())
    }

    fn summary_sheet(
        &self,
        ws: &mut Worksheet,
        styles: &Styles,
        s: &Summary,
        title_base: &str,
    ) -> Result<(), rust_xlsxwriter::XlsxError> {
        let fixed = 3u16; // level, area code, area name
        let n_items = s.items.len() as u16;
        let score_col = fixed + 2 * n_items;
        let last_col = score_col + 3; // score, rank, veto, reasons
        let title = format!(
            "{title_base} {}（{} {}）",
            self.l("summary_title"),
            self.l("title_as_of"),
            self.as_of
        );
        let note = format!(
            "{} {} · {}",
            self.l("run_id"),
            self.run_id,
            self.legend("legend_summary")
        );
        self.frame(
            ws,
            styles,
            &SheetFrame {
                name: self.l("sheet_summary"),
                title: &title,
                note: &note,
                last_col,
                header_row: 3,
            },
        )?;
        // Row 2: each item's name (and weight) over its two columns, on two lines where it
        // is long; row 3: the headers.
        let header_row = 3u32;
        ws.set_row_height(2, 30)?;
        for (i, item) in s.items.iter().enumerate() {
            let c = fixed + 2 * i as u16;
            // The weight on a line of its own, so that a long name breaks where it should.
            let weight = item
                .weight
                .map(|w| match self.lang {
                    Lang::Zh => format!("\n（{}{}）", trim_float(w), self.l("item_weight")),
                    Lang::En => format!("\n({} {})", trim_float(w), self.l("item_weight")),
                })
                .unwrap_or_default();
            ws.merge_range(
                2,
                c,
                2,
                c + 1,
                &format!("{}{weight}", self.indicator_name(&item.id)),
                &styles.group,
            )?;
            ws.write_string_with_format(header_row, c, self.l("value"), &styles.header)?;
            ws.write_string_with_format(header_row, c + 1, self.column("target"), &styles.header)?;
            ws.set_column_width(c, 10)?;
            ws.set_column_width(c + 1, 9)?;
        }
        for c in [
            0,
            1,
            2,
            score_col,
            score_col + 1,
            score_col + 2,
            score_col + 3,
        ] {
            ws.write_blank(2, c, &styles.group)?;
        }
        let headers = [
            (0, self.column("level"), 10.0),
            (1, self.column("area_code"), 14.0),
            (2, self.column("area_name"), 16.0),
            (score_col, self.l("score").to_owned(), 9.0),
            (score_col + 1, self.l("rank").to_owned(), 7.0),
            (score_col + 2, self.column("veto"), 9.0),
            (score_col + 3, self.column("veto_reasons"), 28.0),
        ];
        for (c, text, width) in &headers {
            ws.write_string_with_format(header_row, *c, text, &styles.header)?;
            ws.set_column_width(*c, *width)?;
        }
        let first = header_row + 1;
        for (r, area) in s.areas.iter().enumerate() {
            let row = first + r as u32;
            ws.write_string(
                row,
                0,
                level_label(self.lang, &area.level).unwrap_or(&area.level),
            )?;
            ws.write_string(row, 1, &area.code)?;
            ws.write_string(row, 2, area.name.as_deref().unwrap_or(""))?;
            for (i, item) in s.items.iter().enumerate() {
                let c = fixed + 2 * i as u16;
                let fmt = styles.value(item.unit);
                match area.cells.get(&item.id) {
                    Some(cell) if cell.suppressed(self.suppress_below) => {
                        ws.write_string_with_format(row, c, SUPPRESSED_MARK, &styles.centre)?;
                    }
                    Some(Cell { value: Some(v), .. }) => {
                        ws.write_number_with_format(row, c, *v, fmt)?;
                    }
                    _ => {}
                }
                if let Some(t) = item.target {
                    ws.write_number_with_format(row, c + 1, t, styles.target(item.unit))?;
                }
            }
            if let Some(v) = area.score {
                ws.write_number_with_format(row, score_col, v, &styles.score)?;
            }
            if let Some(rank) = s.rank(r) {
                ws.write_number_with_format(row, score_col + 1, rank as f64, &styles.count)?;
            }
            ws.write_string_with_format(
                row,
                score_col + 2,
                yes_no(self.lang, area.veto),
                &styles.centre,
            )?;
            if let Some(reason) = &area.veto_reasons {
                ws.write_string(row, score_col + 3, crate::neutralize(reason).as_ref())?;
            }
        }
        let last = (first + s.areas.len() as u32).saturating_sub(1).max(first);
        // Colour against target and floor. Formula rules, so that the text `*` of a
        // suppressed cell is never compared with a number (text sorts above numbers).
        if !s.areas.is_empty() {
            for (i, item) in s.items.iter().enumerate() {
                let c = fixed + 2 * i as u16;
                let (Some(target), Some(floor)) = (item.target, item.floor) else {
                    continue;
                };
                let cell = format!("{}{}", column_name(c), first + 1);
                let (good, bad) = if target >= floor {
                    (format!("{cell}>={target}"), format!("{cell}<{floor}"))
                } else {
                    (format!("{cell}<={target}"), format!("{cell}>{floor}"))
                };
                for (rule, fmt) in [
                    (format!("=AND(ISNUMBER({cell}),{good})"), &styles.good),
                    (format!("=AND(ISNUMBER({cell}),{bad})"), &styles.bad),
                    (format!("=ISNUMBER({cell})"), &styles.middle),
                ] {
                    let cf = ConditionalFormatFormula::new()
                        .set_rule(rule.as_str())
                        .set_stop_if_true(true)
                        .set_format(fmt);
                    ws.add_conditional_format(first, c, last, c, &cf)?;
                }
            }
        }
        ws.set_freeze_panes(first, fixed)?;
        ws.autofilter(header_row, 0, last.max(header_row), last_col)?;
        Ok(())
    }

    fn level_sheet(
        &self,
        ws: &mut Worksheet,
        styles: &Styles,
        rows: &IndicatorRows,
        level: &str,
        title_base: &str,
    ) -> Result<(), rust_xlsxwriter::XlsxError> {
        let level_name = level_label(self.lang, level).unwrap_or(level);
        let name = format!("{level_name}{}", self.l("sheet_suffix_indicators"));
        let title = format!(
            "{title_base} {level_name}{}（{} {}）",
            self.l("indicators_title"),
            self.l("title_as_of"),
            self.as_of
        );
        let columns = [
            ("area_code", 14.0),
            ("area_name", 16.0),
            ("indicator", 22.0),
            ("basis", 10.0),
            ("numerator", 9.0),
            ("denominator", 9.0),
            ("value", 9.0),
            ("ci_low", 11.0),
            ("ci_high", 11.0),
            ("low_n", 9.0),
            ("suppressed", 9.0),
        ];
        let last_col = columns.len() as u16 - 1;
        self.frame(
            ws,
            styles,
            &SheetFrame {
                name: &name,
                title: &title,
                note: &self.legend("legend_level"),
                last_col,
                header_row: 2,
            },
        )?;
        let header_row = 2u32;
        for (c, (key, width)) in columns.iter().enumerate() {
            ws.write_string_with_format(header_row, c as u16, self.column(key), &styles.header)?;
            ws.set_column_width(c as u16, *width)?;
        }
        let mut order: Vec<usize> = (0..rows.level.len())
            .filter(|&i| rows.level[i].as_deref() == Some(level))
            .collect();
        order.sort_by_key(|&i| {
            (
                rows.area_code[i].clone(),
                catalogue_rank(rows.indicator_id[i].as_deref()),
                rows.basis[i].clone(),
            )
        });
        let first = header_row + 1;
        for (r, &i) in order.iter().enumerate() {
            let row = first + r as u32;
            let id = rows.indicator_id[i].as_deref().unwrap_or("");
            let unit = unit_of(id);
            ws.write_string(row, 0, rows.area_code[i].as_deref().unwrap_or(""))?;
            ws.write_string(row, 1, rows.area_name[i].as_deref().unwrap_or(""))?;
            ws.write_string(row, 2, self.indicator_name(id))?;
            let basis = rows.basis[i].as_deref().unwrap_or("");
            ws.write_string(row, 3, basis_label(self.lang, basis).unwrap_or(basis))?;
            let cell = Cell {
                value: rows.value[i],
                numerator: rows.numerator[i],
                denominator: rows.denominator[i],
            };
            let suppressed = cell.suppressed(self.suppress_below);
            if !suppressed {
                for (c, v) in [(4, cell.numerator), (5, cell.denominator)] {
                    if let Some(v) = v {
                        ws.write_number_with_format(row, c, v, &styles.count)?;
                    }
                }
                for (c, v) in [(6, cell.value), (7, rows.ci_low[i]), (8, rows.ci_high[i])] {
                    if let Some(v) = v.filter(|v| v.is_finite()) {
                        ws.write_number_with_format(row, c, v, styles.value(unit))?;
                    }
                }
            }
            let low_n = rows.low_n[i].unwrap_or(false) && unit != Unit::Count;
            ws.write_string_with_format(row, 9, yes_no(self.lang, low_n), &styles.centre)?;
            ws.write_string_with_format(row, 10, yes_no(self.lang, suppressed), &styles.centre)?;
        }
        let last = (first + order.len() as u32)
            .saturating_sub(1)
            .max(header_row);
        ws.set_freeze_panes(first, 3)?;
        ws.autofilter(header_row, 0, last, last_col)?;
        Ok(())
    }

    fn definitions_sheet(
        &self,
        ws: &mut Worksheet,
        styles: &Styles,
        rows: &IndicatorRows,
        s: &Summary,
        title_base: &str,
    ) -> Result<(), rust_xlsxwriter::XlsxError> {
        let title = format!("{title_base} {}", self.l("definitions_title"));
        let note = format!(
            "{} {} · {} {}",
            self.l("as_of"),
            self.as_of,
            self.l("period"),
            self.period_text()
        );
        let headers: [(String, f64); 13] = [
            (self.l("indicator").to_owned(), 20.0),
            (self.l("indicator_code").to_owned(), 26.0),
            (self.l("definition").to_owned(), 40.0),
            (self.l("numerator").to_owned(), 30.0),
            (self.l("denominator").to_owned(), 30.0),
            (self.l("unit").to_owned(), 12.0),
            (self.column("target"), 9.0),
            (self.column("floor"), 9.0),
            (self.column("weight"), 7.0),
            (self.l("bases").to_owned(), 16.0),
            (self.l("as_of").to_owned(), 12.0),
            (self.l("period_start").to_owned(), 12.0),
            (self.l("period_end").to_owned(), 12.0),
        ];
        let last_col = headers.len() as u16 - 1;
        self.frame(
            ws,
            styles,
            &SheetFrame {
                name: self.l("sheet_definitions"),
                title: &title,
                note: &note,
                last_col,
                header_row: 2,
            },
        )?;
        let header_row = 2u32;
        for (c, (text, width)) in headers.iter().enumerate() {
            ws.write_string_with_format(header_row, c as u16, text, &styles.header)?;
            ws.set_column_width(c as u16, *width)?;
        }
        let date =
            |d: NaiveDate| ExcelDateTime::from_ymd(d.year() as u16, d.month() as u8, d.day() as u8);
        let (as_of, start, end) = (
            date(self.as_of)?,
            date(self.period.0)?,
            date(self.period.1)?,
        );
        let present: Vec<&poprecon_indicators::Indicator> = poprecon_indicators::CATALOGUE
            .iter()
            .filter(|i| rows.indicator_id.iter().any(|x| x.as_deref() == Some(i.id)))
            .collect();
        let first = header_row + 1;
        for (r, ind) in present.iter().enumerate() {
            let row = first + r as u32;
            let zh = self.lang == Lang::Zh;
            let (name, definition, numerator, denominator) = if zh {
                (
                    ind.name_zh,
                    ind.definition_zh.to_owned(),
                    ind.numerator_zh,
                    ind.denominator_zh,
                )
            } else {
                let definition = if ind.denominator.is_empty() {
                    ind.numerator.to_owned()
                } else {
                    format!("{} / {}", ind.numerator, ind.denominator)
                };
                (ind.name_en, definition, ind.numerator, ind.denominator)
            };
            ws.write_string_with_format(row, 0, name, &styles.wrap)?;
            ws.write_string_with_format(row, 1, ind.id, &styles.wrap)?;
            ws.write_string_with_format(row, 2, &definition, &styles.wrap)?;
            ws.write_string_with_format(row, 3, numerator, &styles.wrap)?;
            ws.write_string_with_format(row, 4, denominator, &styles.wrap)?;
            let unit = match ind.unit() {
                Unit::Count => "unit_count",
                Unit::Per100 => "unit_per100",
                Unit::Share => "unit_share",
            };
            ws.write_string_with_format(row, 5, self.l(unit), &styles.wrap)?;
            if let Some(item) = s.items.iter().find(|it| it.id == ind.id) {
                for (c, v) in [(6, item.target), (7, item.floor)] {
                    if let Some(v) = v {
                        ws.write_number_with_format(row, c, v, styles.target(item.unit))?;
                    }
                }
                if let Some(w) = item.weight {
                    ws.write_number_with_format(row, 8, w, &styles.score)?;
                }
            }
            let mut bases: Vec<&str> = (0..rows.indicator_id.len())
                .filter(|&i| rows.indicator_id[i].as_deref() == Some(ind.id))
                .filter_map(|i| rows.basis[i].as_deref())
                .collect();
            bases.sort();
            bases.dedup();
            let bases: Vec<&str> = bases
                .iter()
                .map(|b| basis_label(self.lang, b).unwrap_or(b))
                .collect();
            ws.write_string_with_format(row, 9, bases.join("、"), &styles.wrap)?;
            ws.write_datetime_with_format(row, 10, &as_of, &styles.date)?;
            ws.write_datetime_with_format(row, 11, &start, &styles.date)?;
            ws.write_datetime_with_format(row, 12, &end, &styles.date)?;
            // Spreadsheets do not all grow a row for wrapped text: give it the lines its
            // longest cell needs.
            let lines = [
                (name, headers[0].1),
                (definition.as_str(), headers[2].1),
                (numerator, headers[3].1),
                (denominator, headers[4].1),
            ]
            .iter()
            .map(|(text, width)| (display_width(text) / width).ceil().max(1.0))
            .fold(1.0, f64::max);
            ws.set_row_height(row, 15.0 * lines)?;
        }
        let last = (first + present.len() as u32)
            .saturating_sub(1)
            .max(header_row);
        ws.set_freeze_panes(first, 1)?;
        ws.autofilter(header_row, 0, last, last_col)?;
        Ok(())
    }

    fn village_discrepancy_sheet(
        &self,
        ws: &mut Worksheet,
        styles: &Styles,
        vd: &DataFrame,
        names: &BTreeMap<String, String>,
        title_base: &str,
    ) -> Result<(), ExportError> {
        let village = texts(vd, "village")?;
        let rule = texts(vd, "rule_id")?;
        let count = floats(vd, "count")?;
        let denominator = floats(vd, "denominator")?;
        let rate = floats(vd, "rate")?;
        let xl = |e: rust_xlsxwriter::XlsxError| ExportError::Table {
            table: "village_discrepancies".to_owned(),
            message: e.to_string(),
        };
        let title = format!(
            "{title_base} {}（{} {}）",
            self.l("village_discrepancies_title"),
            self.l("title_as_of"),
            self.as_of
        );
        let columns: [(String, f64); 7] = [
            (self.column("village"), 14.0),
            (self.column("area_name"), 16.0),
            (self.l("rule_name").to_owned(), 28.0),
            (self.l("count").to_owned(), 9.0),
            (self.column("denominator"), 9.0),
            (self.l("rate").to_owned(), 9.0),
            (self.column("suppressed"), 9.0),
        ];
        let last_col = columns.len() as u16 - 1;
        self.frame(
            ws,
            styles,
            &SheetFrame {
                name: self.l("sheet_village_discrepancies"),
                title: &title,
                note: &self.legend("legend_level"),
                last_col,
                header_row: 2,
            },
        )
        .map_err(xl)?;
        let header_row = 2u32;
        for (c, (text, width)) in columns.iter().enumerate() {
            ws.write_string_with_format(header_row, c as u16, text, &styles.header)
                .map_err(xl)?;
            ws.set_column_width(c as u16, *width).map_err(xl)?;
        }
        let first = header_row + 1;
        for i in 0..vd.height() {
            let row = first + i as u32;
            let code = village[i].as_deref().unwrap_or("");
            ws.write_string(row, 0, code).map_err(xl)?;
            ws.write_string(row, 1, names.get(code).map_or("", String::as_str))
                .map_err(xl)?;
            let id = rule[i].as_deref().unwrap_or("");
            let rule_name = poprecon_checks::CATALOGUE
                .iter()
                .find(|r| r.id.as_str() == id)
                .map_or(id, |r| {
                    if self.lang == Lang::Zh {
                        r.name_zh
                    } else {
                        r.name_en
                    }
                });
            ws.write_string(row, 2, crate::neutralize(rule_name).as_ref())
                .map_err(xl)?;
            let cell = Cell {
                value: rate[i],
                numerator: count[i],
                denominator: denominator[i],
            };
            let suppressed = cell.suppressed(self.suppress_below);
            if !suppressed {
                for (c, v, f) in [
                    (3, count[i], &styles.count),
                    (4, denominator[i], &styles.count),
                    (5, rate[i], &styles.percent),
                ] {
                    if let Some(v) = v.filter(|v| v.is_finite()) {
                        ws.write_number_with_format(row, c, v, f).map_err(xl)?;
                    }
                }
            }
            ws.write_string_with_format(row, 6, yes_no(self.lang, suppressed), &styles.centre)
                .map_err(xl)?;
        }
        let last = (first + vd.height() as u32)
            .saturating_sub(1)
            .max(header_row);
        ws.set_freeze_panes(first, 2).map_err(xl)?;
        ws.autofilter(header_row, 0, last, last_col).map_err(xl)?;
        Ok(())
    }
}

/// What a sheet's frame says and where its headers end.
#[derive(Debug, Clone, Copy)]
struct SheetFrame<'a> {
    name: &'a str,
    title: &'a str,
    note: &'a str,
    last_col: u16,
    header_row: u32,
}

/// Cell formats of the workbook.
struct Styles {
    title: Format,
    note: Format,
    group: Format,
    header: Format,
    centre: Format,
    wrap: Format,
    percent: Format,
    ratio: Format,
    /// Verification factors, to two decimals.
    ratio_2: Format,
    /// p-values, to three decimals.
    ratio_3: Format,
    count: Format,
    score: Format,
    date: Format,
    target_percent: Format,
    target_ratio: Format,
    good: Format,
    middle: Format,
    bad: Format,
}

impl Styles {
    fn new() -> Self {
        let header = Format::new()
            .set_bold()
            .set_text_wrap()
            .set_align(FormatAlign::Center)
            .set_align(FormatAlign::VerticalCenter)
            .set_background_color(Color::RGB(0xDDEBF7))
            .set_border(FormatBorder::Thin);
        let grey = Color::RGB(0x595959);
        Styles {
            title: Format::new()
                .set_bold()
                .set_font_size(14)
                .set_align(FormatAlign::Center)
                .set_align(FormatAlign::VerticalCenter),
            note: Format::new()
                .set_font_size(9)
                .set_font_color(grey)
                .set_text_wrap()
                .set_align(FormatAlign::Left)
                .set_align(FormatAlign::VerticalCenter),
            group: header.clone(),
            header,
            centre: Format::new().set_align(FormatAlign::Center),
            wrap: Format::new().set_text_wrap().set_align(FormatAlign::Top),
            percent: Format::new().set_num_format(PERCENT_FORMAT),
            ratio: Format::new().set_num_format(RATIO_FORMAT),
            ratio_2: Format::new().set_num_format("0.00"),
            ratio_3: Format::new().set_num_format("0.000"),
            count: Format::new().set_num_format(COUNT_FORMAT),
            score: Format::new().set_num_format(SCORE_FORMAT).set_bold(),
            date: Format::new()
                .set_num_format(DATE_FORMAT)
                .set_align(FormatAlign::Top),
            target_percent: Format::new()
                .set_num_format(PERCENT_FORMAT)
                .set_font_color(grey),
            target_ratio: Format::new()
                .set_num_format(RATIO_FORMAT)
                .set_font_color(grey),
            good: Format::new()
                .set_background_color(Color::RGB(0xC6EFCE))
                .set_font_color(Color::RGB(0x006100)),
            middle: Format::new()
                .set_background_color(Color::RGB(0xFFEB9C))
                .set_font_color(Color::RGB(0x9C5700)),
            bad: Format::new()
                .set_background_color(Color::RGB(0xFFC7CE))
                .set_font_color(Color::RGB(0x9C0006)),
        }
    }

    fn value(&self, unit: Unit) -> &Format {
        match unit {
            Unit::Count => &self.count,
            Unit::Per100 => &self.ratio,
            Unit::Share => &self.percent,
        }
    }

    fn target(&self, unit: Unit) -> &Format {
        match unit {
            Unit::Share => &self.target_percent,
            _ => &self.target_ratio,
        }
    }
}

/// One indicator's value in an area, with the counts it comes from.
#[derive(Debug, Clone, Copy, Default)]
struct Cell {
    value: Option<f64>,
    numerator: Option<f64>,
    denominator: Option<f64>,
}

impl Cell {
    /// A count above 0 and below the threshold, as [`crate::suppress_small`] judges.
    fn suppressed(&self, below: i64) -> bool {
        [self.numerator, self.denominator]
            .into_iter()
            .flatten()
            .any(|n| n > 0.0 && n < below as f64)
    }
}

/// An item of the scheme, as the assessment table gives it.
#[derive(Debug, Clone)]
struct Item {
    id: String,
    unit: Unit,
    target: Option<f64>,
    floor: Option<f64>,
    weight: Option<f64>,
}

/// An assessed area.
#[derive(Debug, Clone)]
struct Area {
    level: String,
    code: String,
    name: Option<String>,
    cells: BTreeMap<String, Cell>,
    score: Option<f64>,
    veto: bool,
    veto_reasons: Option<String>,
}

/// `assessment.parquet` pivoted: areas down, items across.
#[derive(Debug, Default)]
struct Summary {
    items: Vec<Item>,
    areas: Vec<Area>,
}

impl Summary {
    fn read(df: &DataFrame) -> Result<Self, ExportError> {
        let level = texts(df, "level")?;
        let code = texts(df, "area_code")?;
        let name = texts(df, "area_name")?;
        let id = texts(df, "indicator_id")?;
        let value = floats(df, "value")?;
        let numerator = floats(df, "numerator")?;
        let denominator = floats(df, "denominator")?;
        let target = floats(df, "target")?;
        let floor = floats(df, "floor")?;
        let weight = floats(df, "weight")?;
        let veto = bools(df, "veto")?;
        let reasons = texts(df, "veto_reasons")?;
        let mut s = Summary::default();
        for i in 0..df.height() {
            let (Some(l), Some(c), Some(item)) = (&level[i], &code[i], &id[i]) else {
                continue;
            };
            let at = match s.areas.iter().position(|a| &a.level == l && &a.code == c) {
                Some(at) => at,
                None => {
                    s.areas.push(Area {
                        level: l.clone(),
                        code: c.clone(),
                        name: name[i].clone(),
                        cells: BTreeMap::new(),
                        score: None,
                        veto: false,
                        veto_reasons: None,
                    });
                    s.areas.len() - 1
                }
            };
            let area = &mut s.areas[at];
            area.veto |= veto[i].unwrap_or(false);
            if area.veto_reasons.is_none() {
                area.veto_reasons = reasons[i].clone();
            }
            if item == "total" {
                area.score = value[i];
                continue;
            }
            area.cells.insert(
                item.clone(),
                Cell {
                    value: value[i],
                    numerator: numerator[i],
                    denominator: denominator[i],
                },
            );
            match s.items.iter_mut().find(|it| &it.id == item) {
                Some(it) => {
                    it.target = it.target.or(target[i]);
                    it.floor = it.floor.or(floor[i]);
                    it.weight = it.weight.or(weight[i]);
                }
                None => s.items.push(Item {
                    id: item.clone(),
                    unit: unit_of(item),
                    target: target[i],
                    floor: floor[i],
                    weight: weight[i],
                }),
            }
        }
        Ok(s)
    }

    /// The rank of area `i` within its level: by score, highest first, vetoed areas after
    /// the others; equal scores share a rank (1, 2, 2, 4). No score, no rank.
    fn rank(&self, i: usize) -> Option<usize> {
        let me = &self.areas[i];
        // (vetoed, score): not vetoed beats vetoed, then the higher score.
        let key = |a: &Area| a.score.map(|s| (a.veto, s));
        let (vetoed, score) = key(me)?;
        let better = self
            .areas
            .iter()
            .filter(|a| a.level == me.level)
            .filter_map(key)
            .filter(|&(v, s)| (!v && vetoed) || (v == vetoed && s > score))
            .count();
        Some(better + 1)
    }
}

/// The columns of `indicators.parquet` the workbook reads.
#[derive(Debug)]
struct IndicatorRows {
    level: Vec<Option<String>>,
    area_code: Vec<Option<String>>,
    area_name: Vec<Option<String>>,
    indicator_id: Vec<Option<String>>,
    basis: Vec<Option<String>>,
    numerator: Vec<Option<f64>>,
    denominator: Vec<Option<f64>>,
    value: Vec<Option<f64>>,
    low_n: Vec<Option<bool>>,
    ci_low: Vec<Option<f64>>,
    ci_high: Vec<Option<f64>>,
}

impl IndicatorRows {
    fn read(df: &DataFrame) -> Result<Self, ExportError> {
        Ok(IndicatorRows {
            level: texts(df, "level")?,
            area_code: texts(df, "area_code")?,
            area_name: texts(df, "area_name")?,
            indicator_id: texts(df, "indicator_id")?,
            basis: texts(df, "basis")?,
            numerator: floats(df, "numerator")?,
            denominator: floats(df, "denominator")?,
            value: floats(df, "value")?,
            low_n: bools(df, "low_n")?,
            ci_low: floats(df, "ci_low")?,
            ci_high: floats(df, "ci_high")?,
        })
    }

    /// Area code → name.
    fn area_names(&self) -> BTreeMap<String, String> {
        self.area_code
            .iter()
            .zip(&self.area_name)
            .filter_map(|(c, n)| Some((c.clone()?, n.clone()?)))
            .collect()
    }
}

fn unit_of(id: &str) -> Unit {
    poprecon_indicators::indicator(id).map_or(Unit::Share, |i| i.unit())
}

fn catalogue_rank(id: Option<&str>) -> usize {
    poprecon_indicators::CATALOGUE
        .iter()
        .position(|i| Some(i.id) == id)
        .unwrap_or(usize::MAX)
}

/// `A`, `B`, … `Z`, `AA`, … for column index `c` (0-based).
fn column_name(c: u16) -> String {
    let mut n = c as u32 + 1;
    let mut out = Vec::new();
    while n > 0 {
        let r = (n - 1) % 26;
        out.push(b'A' + r as u8);
        n = (n - 1) / 26;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// The width of a text in column-width units: a Chinese character takes two.
fn display_width(text: &str) -> f64 {
    text.chars()
        .map(|c| if c.is_ascii() { 1.0 } else { 2.0 })
        .sum()
}

/// `15` for 15.0, `7.5` for 7.5.
fn trim_float(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x}")
    }
}

fn missing(table: &str, column: &str, e: PolarsError) -> ExportError {
    ExportError::Table {
        table: table.to_owned(),
        message: format!("column `{column}`: {e}"),
    }
}

fn texts(df: &DataFrame, column: &str) -> Result<Vec<Option<String>>, ExportError> {
    let s = df
        .column(column)
        .and_then(|c| c.as_materialized_series().cast(&DataType::String))
        .map_err(|e| missing("workbook", column, e))?;
    let ca = s.str().map_err(|e| missing("workbook", column, e))?;
    Ok(ca.iter().map(|v| v.map(str::to_owned)).collect())
}

fn floats(df: &DataFrame, column: &str) -> Result<Vec<Option<f64>>, ExportError> {
    let s = df
        .column(column)
        .and_then(|c| c.as_materialized_series().cast(&DataType::Float64))
        .map_err(|e| missing("workbook", column, e))?;
    let ca = s.f64().map_err(|e| missing("workbook", column, e))?;
    Ok(ca.iter().collect())
}

fn bools(df: &DataFrame, column: &str) -> Result<Vec<Option<bool>>, ExportError> {
    let s = df
        .column(column)
        .and_then(|c| c.as_materialized_series().cast(&DataType::Boolean))
        .map_err(|e| missing("workbook", column, e))?;
    let ca = s.bool().map_err(|e| missing("workbook", column, e))?;
    Ok(ca.iter().collect())
}
