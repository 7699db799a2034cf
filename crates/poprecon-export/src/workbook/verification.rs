//! The workbook's sheets of issue #18: 报表核实 (the returns against the records, per area
//! and indicator) and 来源完整性 (each birth-level source against the dual-system estimate).
//! Aggregates only; counts 1–4 are suppressed as in the other sheets.

use polars::prelude::*;
use poprecon_report::{basis_label, level_label, yes_no};
use rust_xlsxwriter::Worksheet;

use super::{AssessorWorkbook, Cell, SheetFrame, Styles, floats, texts, unit_of};
use crate::ExportError;

impl AssessorWorkbook<'_> {
    /// 报表核实: the compared rows of `returns_comparison.parquet`, flagged ones first.
    pub(super) fn returns_sheet(
        &self,
        ws: &mut Worksheet,
        styles: &Styles,
        df: &DataFrame,
        title_base: &str,
    ) -> Result<(), ExportError> {
        let xl = |e: rust_xlsxwriter::XlsxError| ExportError::Table {
            table: "returns_comparison".to_owned(),
            message: e.to_string(),
        };
        let t = |c: &str| texts(df, c);
        let f = |c: &str| floats(df, c);
        let (level, code, name, id, basis, status) = (
            t("level")?,
            t("area_code")?,
            t("area_name")?,
            t("indicator_id")?,
            t("basis")?,
            t("status")?,
        );
        let (r, d, rn, dn, rd, dd) = (
            f("reported")?,
            f("derived")?,
            f("reported_numerator")?,
            f("derived_numerator")?,
            f("reported_denominator")?,
            f("derived_denominator")?,
        );
        let (vf, vfn, vfd, p) = (
            f("vf")?,
            f("vf_numerator")?,
            f("vf_denominator")?,
            f("p_value")?,
        );
        let flagged = super::bools(df, "flagged")?;
        let mut rows: Vec<usize> = (0..df.height())
            .filter(|&i| status[i].as_deref() == Some("compared"))
            .collect();
        // Flagged rows first, then by level (jurisdiction first), code and indicator.
        let rank = |l: &Option<String>| {
            ["jurisdiction", "city", "county", "township", "village"]
                .iter()
                .position(|x| Some(*x) == l.as_deref())
                .unwrap_or(5)
        };
        rows.sort_by_key(|&i| {
            (
                flagged[i] != Some(true),
                rank(&level[i]),
                code[i].clone(),
                super::catalogue_rank(id[i].as_deref()),
            )
        });
        let title = format!(
            "{title_base} {}（{} {}）",
            self.l("returns_title"),
            self.l("title_as_of"),
            self.as_of
        );
        let headers: [(&str, f64); 17] = [
            ("level", 9.0),
            ("area_code", 14.0),
            ("area_name", 16.0),
            ("indicator", 20.0),
            ("basis", 9.0),
            ("returns_reported", 10.0),
            ("returns_derived", 10.0),
            ("returns_difference", 10.0),
            ("returns_vf", 9.0),
            ("returns_numerator_r", 9.0),
            ("returns_numerator_d", 9.0),
            ("returns_vf_numerator", 9.0),
            ("returns_denominator_r", 9.0),
            ("returns_denominator_d", 9.0),
            ("returns_vf_denominator", 9.0),
            ("returns_p", 9.0),
            ("returns_flagged", 9.0),
        ];
        let last_col = headers.len() as u16; // one more: 小数抑制
        self.frame(
            ws,
            styles,
            &SheetFrame {
                name: self.l("sheet_returns"),
                title: &title,
                note: &self.legend("legend_returns"),
                last_col,
                header_row: 2,
            },
        )
        .map_err(xl)?;
        let header_row = 2u32;
        for (c, (key, width)) in headers.iter().enumerate() {
            let text = match *key {
                "level" | "area_code" | "area_name" | "basis" => self.column(key),
                "indicator" => self.l("indicator").to_owned(),
                k => self.l(k).to_owned(),
            };
            ws.write_string_with_format(header_row, c as u16, &text, &styles.header)
                .map_err(xl)?;
            ws.set_column_width(c as u16, *width).map_err(xl)?;
        }
        ws.write_string_with_format(
            header_row,
            last_col,
            self.column("suppressed"),
            &styles.header,
        )
        .map_err(xl)?;
        ws.set_column_width(last_col, 9.0).map_err(xl)?;
        let first = header_row + 1;
        for (k, &i) in rows.iter().enumerate() {
            let row = first + k as u32;
            let lv = level[i].as_deref().unwrap_or("");
            ws.write_string(row, 0, level_label(self.lang, lv).unwrap_or(lv))
                .map_err(xl)?;
            ws.write_string(row, 1, code[i].as_deref().unwrap_or(""))
                .map_err(xl)?;
            ws.write_string(
                row,
                2,
                crate::neutralize(name[i].as_deref().unwrap_or("")).as_ref(),
            )
            .map_err(xl)?;
            let ind = id[i].as_deref().unwrap_or("");
            ws.write_string(row, 3, self.indicator_name(ind))
                .map_err(xl)?;
            let b = basis[i].as_deref().unwrap_or("");
            ws.write_string(row, 4, basis_label(self.lang, b).unwrap_or(b))
                .map_err(xl)?;
            let unit = unit_of(ind);
            // Suppressed: a count of 1–4 among those reported or derived.
            let suppressed = [
                Cell {
                    value: None,
                    numerator: rn[i],
                    denominator: rd[i],
                },
                Cell {
                    value: None,
                    numerator: dn[i],
                    denominator: dd[i],
                },
            ]
            .iter()
            .any(|c| c.suppressed(self.suppress_below));
            if !suppressed {
                let value_format = styles.value(unit);
                let cells: [(u16, Option<f64>, &rust_xlsxwriter::Format); 12] = [
                    (5, r[i], value_format),
                    (6, d[i], value_format),
                    (7, sub(d[i], r[i]), value_format),
                    (8, vf[i], &styles.ratio_2),
                    (9, rn[i], &styles.count),
                    (10, dn[i], &styles.count),
                    (11, vfn[i], &styles.ratio_2),
                    (12, rd[i], &styles.count),
                    (13, dd[i], &styles.count),
                    (14, vfd[i], &styles.ratio_2),
                    (15, p[i], &styles.ratio_3),
                    (16, None, &styles.count),
                ];
                for (c, v, fmt) in cells {
                    if let Some(v) = v.filter(|v| v.is_finite()) {
                        ws.write_number_with_format(row, c, v, fmt).map_err(xl)?;
                    }
                }
            }
            let flag = flagged[i] == Some(true);
            ws.write_string_with_format(
                row,
                16,
                yes_no(self.lang, flag),
                if flag { &styles.bad } else { &styles.centre },
            )
            .map_err(xl)?;
            ws.write_string_with_format(
                row,
                last_col,
                yes_no(self.lang, suppressed),
                &styles.centre,
            )
            .map_err(xl)?;
        }
        let last = (first + rows.len() as u32)
            .saturating_sub(1)
            .max(header_row);
        ws.set_freeze_panes(first, 3).map_err(xl)?;
        ws.autofilter(header_row, 0, last, last_col).map_err(xl)?;
        Ok(())
    }

    /// 来源完整性: each area's births per source against Chapman's estimate.
    pub(super) fn completeness_sheet(
        &self,
        ws: &mut Worksheet,
        styles: &Styles,
        df: &DataFrame,
        title_base: &str,
    ) -> Result<(), ExportError> {
        let xl = |e: rust_xlsxwriter::XlsxError| ExportError::Table {
            table: "source_completeness".to_owned(),
            message: e.to_string(),
        };
        let (level, code, name, source, pair) = (
            texts(df, "level")?,
            texts(df, "area_code")?,
            texts(df, "area_name")?,
            texts(df, "source")?,
            texts(df, "dse_pair")?,
        );
        let (n, seen, est, lo, hi, c, clo, chi) = (
            floats(df, "births_with_source")?,
            floats(df, "births_observed")?,
            floats(df, "dse_estimate")?,
            floats(df, "dse_low")?,
            floats(df, "dse_high")?,
            floats(df, "completeness")?,
            floats(df, "completeness_low")?,
            floats(df, "completeness_high")?,
        );
        let pair_text = pair
            .iter()
            .flatten()
            .next()
            .map(|p| {
                p.split('+')
                    .map(|s| self.source_name(s))
                    .collect::<Vec<_>>()
                    .join(" × ")
            })
            .unwrap_or_default();
        let title = format!(
            "{title_base} {}（{} {}）",
            self.l("completeness_title"),
            self.l("title_as_of"),
            self.as_of
        );
        let note = format!("{} {pair_text}", self.legend("legend_completeness"));
        let headers: [(&str, f64); 12] = [
            ("level", 9.0),
            ("area_code", 14.0),
            ("area_name", 16.0),
            ("completeness_source", 14.0),
            ("completeness_births", 10.0),
            ("completeness_seen", 10.0),
            ("completeness_estimate", 10.0),
            ("completeness_low", 10.0),
            ("completeness_high", 10.0),
            ("completeness_share", 10.0),
            ("completeness_share_low", 10.0),
            ("completeness_share_high", 10.0),
        ];
        let last_col = headers.len() as u16;
        self.frame(
            ws,
            styles,
            &SheetFrame {
                name: self.l("sheet_completeness"),
                title: &title,
                note: &note,
                last_col,
                header_row: 2,
            },
        )
        .map_err(xl)?;
        let header_row = 2u32;
        for (col, (key, width)) in headers.iter().enumerate() {
            let text = match *key {
                "level" | "area_code" | "area_name" => self.column(key),
                k => self.l(k).to_owned(),
            };
            ws.write_string_with_format(header_row, col as u16, &text, &styles.header)
                .map_err(xl)?;
            ws.set_column_width(col as u16, *width).map_err(xl)?;
        }
        ws.write_string_with_format(
            header_row,
            last_col,
            self.column("suppressed"),
            &styles.header,
        )
        .map_err(xl)?;
        let first = header_row + 1;
        for i in 0..df.height() {
            let row = first + i as u32;
            let lv = level[i].as_deref().unwrap_or("");
            ws.write_string(row, 0, level_label(self.lang, lv).unwrap_or(lv))
                .map_err(xl)?;
            ws.write_string(row, 1, code[i].as_deref().unwrap_or(""))
                .map_err(xl)?;
            ws.write_string(
                row,
                2,
                crate::neutralize(name[i].as_deref().unwrap_or("")).as_ref(),
            )
            .map_err(xl)?;
            ws.write_string(row, 3, self.source_name(source[i].as_deref().unwrap_or("")))
                .map_err(xl)?;
            let suppressed = Cell {
                value: None,
                numerator: n[i],
                denominator: seen[i],
            }
            .suppressed(self.suppress_below);
            if !suppressed {
                let cells = [
                    (4, n[i], &styles.count),
                    (5, seen[i], &styles.count),
                    (6, est[i], &styles.ratio),
                    (7, lo[i], &styles.count),
                    (8, hi[i], &styles.count),
                    (9, c[i], &styles.percent),
                    (10, clo[i], &styles.percent),
                    (11, chi[i], &styles.percent),
                ];
                for (col, v, fmt) in cells {
                    if let Some(v) = v.filter(|v| v.is_finite()) {
                        ws.write_number_with_format(row, col, v, fmt).map_err(xl)?;
                    }
                }
            }
            ws.write_string_with_format(
                row,
                last_col,
                yes_no(self.lang, suppressed),
                &styles.centre,
            )
            .map_err(xl)?;
        }
        let last = (first + df.height() as u32)
            .saturating_sub(1)
            .max(header_row);
        ws.set_freeze_panes(first, 3).map_err(xl)?;
        ws.autofilter(header_row, 0, last, last_col).map_err(xl)?;
        Ok(())
    }

    fn source_name(&self, id: &str) -> String {
        match poprecon_report::label(self.lang, id) {
            "" => id.to_owned(),
            s => s.to_owned(),
        }
    }
}

fn sub(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    Some(a? - b?)
}
