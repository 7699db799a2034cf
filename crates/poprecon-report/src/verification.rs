//! The report's section of issue #18, 报表核实与来源完整性: the returns against the
//! records (flagged rows, and every row above village level) and the birth-level sources'
//! completeness against the dual-system estimate. Aggregates only, as static markup placed
//! after the page's scripted sections ([`with_verification`]); every text is escaped.

use std::fmt::Write as _;

use polars::prelude::*;

use crate::labels::{Lang, basis_label, label, level_label, yes_no};
use crate::{ReportError, escape_html};

/// The section's anchor on the page (`report.html#returns`).
pub const SECTION_ID: &str = "returns";

/// `html` (a rendered report) with the verification section after its main part and a link
/// to it in the navigation; `html` unchanged when the run has neither table.
pub fn with_verification(
    html: &str,
    lang: Lang,
    returns: Option<&DataFrame>,
    completeness: Option<&DataFrame>,
) -> Result<String, ReportError> {
    if returns.is_none() && completeness.is_none() {
        return Ok(html.to_owned());
    }
    let section = section(lang, returns, completeness)?;
    let title = escape_html(label(lang, "verification_section"));
    let nav = format!("<nav id=\"nav\"><a href=\"#{SECTION_ID}\">{title}</a>");
    Ok(html.replacen("<nav id=\"nav\">", &nav, 1).replacen(
        "</main>",
        &format!("</main>\n{section}"),
        1,
    ))
}

fn section(
    lang: Lang,
    returns: Option<&DataFrame>,
    completeness: Option<&DataFrame>,
) -> Result<String, ReportError> {
    let l = |k: &str| escape_html(label(lang, k));
    let mut s = String::new();
    let _ = write!(
        s,
        "<section id=\"{SECTION_ID}\"><h2>{}</h2>",
        l("verification_section")
    );
    if let Some(df) = returns {
        let _ = write!(
            s,
            "<h3>{}</h3><p class=\"note\">{}</p>",
            l("returns_title"),
            l("legend_returns").replace("{n}", "5")
        );
        let err = ReportError::table("returns_comparison");
        let get = |c: &str| -> Result<Vec<Option<String>>, ReportError> {
            let s = df
                .column(c)
                .and_then(|c| c.as_materialized_series().cast(&DataType::String))
                .map_err(&err)?;
            Ok(s.str()
                .map_err(&err)?
                .iter()
                .map(|v| v.map(str::to_owned))
                .collect())
        };
        let num = |c: &str| -> Result<Vec<Option<f64>>, ReportError> {
            let s = df
                .column(c)
                .and_then(|c| c.as_materialized_series().cast(&DataType::Float64))
                .map_err(&err)?;
            Ok(s.f64().map_err(&err)?.iter().collect())
        };
        let (level, code, name, id, basis, status, flagged) = (
            get("level")?,
            get("area_code")?,
            get("area_name")?,
            get("indicator_id")?,
            get("basis")?,
            get("status")?,
            get("flagged")?,
        );
        let (r, d, vf, vfn, vfd, p) = (
            num("reported")?,
            num("derived")?,
            num("vf")?,
            num("vf_numerator")?,
            num("vf_denominator")?,
            num("p_value")?,
        );
        let compared: Vec<usize> = (0..df.height())
            .filter(|&i| status[i].as_deref() == Some("compared"))
            .collect();
        let n_flagged = compared
            .iter()
            .filter(|&&i| flagged[i].as_deref() == Some("true"))
            .count();
        let _ = write!(
            s,
            "<p>{}: {} / {}</p>",
            l("returns_flagged"),
            n_flagged,
            compared.len()
        );
        let shown: Vec<usize> = compared
            .iter()
            .copied()
            .filter(|&i| {
                flagged[i].as_deref() == Some("true") || level[i].as_deref() != Some("village")
            })
            .collect();
        let heads = [
            "level",
            "area_code",
            "indicator",
            "basis",
            "returns_reported",
            "returns_derived",
            "returns_vf",
            "returns_vf_numerator",
            "returns_vf_denominator",
            "returns_p",
            "returns_flagged",
        ];
        s.push_str("<table id=\"returns-table\"><thead><tr>");
        for h in heads {
            let text = crate::labels::column_label(lang, h).unwrap_or(label(lang, h));
            let _ = write!(s, "<th>{}</th>", escape_html(text));
        }
        s.push_str("</tr></thead><tbody>");
        let f2 = |v: Option<f64>| {
            v.filter(|v| v.is_finite())
                .map_or(String::new(), |v| format!("{v:.2}"))
        };
        let f4 = |v: Option<f64>| {
            v.filter(|v| v.is_finite())
                .map_or(String::new(), |v| format!("{v:.4}"))
        };
        for i in shown {
            let lv = level[i].as_deref().unwrap_or("");
            let b = basis[i].as_deref().unwrap_or("");
            let ind = id[i].as_deref().unwrap_or("");
            let ind_name = poprecon_indicators::indicator(ind).map_or(ind, |x| {
                if lang == Lang::Zh {
                    x.name_zh
                } else {
                    x.name_en
                }
            });
            let area = format!(
                "{} ({})",
                name[i].as_deref().unwrap_or(""),
                code[i].as_deref().unwrap_or("")
            );
            let flag = flagged[i].as_deref() == Some("true");
            let cells = [
                level_label(lang, lv).unwrap_or(lv).to_owned(),
                area,
                ind_name.to_owned(),
                basis_label(lang, b).unwrap_or(b).to_owned(),
                f4(r[i]),
                f4(d[i]),
                f2(vf[i]),
                f2(vfn[i]),
                f2(vfd[i]),
                f4(p[i]),
                yes_no(lang, flag).to_owned(),
            ];
            s.push_str(if flag {
                "<tr class=\"flagged\">"
            } else {
                "<tr>"
            });
            for c in cells {
                let _ = write!(s, "<td>{}</td>", escape_html(&c));
            }
            s.push_str("</tr>");
        }
        s.push_str("</tbody></table>");
    }
    if let Some(df) = completeness.filter(|df| df.height() > 0) {
        let err = ReportError::table("source_completeness");
        let get = |c: &str| -> Result<Vec<Option<String>>, ReportError> {
            let s = df
                .column(c)
                .and_then(|c| c.as_materialized_series().cast(&DataType::String))
                .map_err(&err)?;
            Ok(s.str()
                .map_err(&err)?
                .iter()
                .map(|v| v.map(str::to_owned))
                .collect())
        };
        let num = |c: &str| -> Result<Vec<Option<f64>>, ReportError> {
            let s = df
                .column(c)
                .and_then(|c| c.as_materialized_series().cast(&DataType::Float64))
                .map_err(&err)?;
            Ok(s.f64().map_err(&err)?.iter().collect())
        };
        let (level, code, name, source, pair) = (
            get("level")?,
            get("area_code")?,
            get("area_name")?,
            get("source")?,
            get("dse_pair")?,
        );
        let (n, est, lo, hi, c) = (
            num("births_with_source")?,
            num("dse_estimate")?,
            num("dse_low")?,
            num("dse_high")?,
            num("completeness")?,
        );
        let pair = pair
            .iter()
            .flatten()
            .next()
            .map(|p| {
                p.split('+')
                    .map(|x| label(lang, x))
                    .collect::<Vec<_>>()
                    .join(" × ")
            })
            .unwrap_or_default();
        let _ = write!(
            s,
            "<h3>{}</h3><p class=\"note\">{} {}</p>",
            l("completeness_title"),
            l("legend_completeness"),
            escape_html(&pair)
        );
        s.push_str("<table id=\"completeness-table\"><thead><tr>");
        for h in [
            "level",
            "area_code",
            "completeness_source",
            "completeness_births",
            "completeness_estimate",
            "completeness_low",
            "completeness_high",
            "completeness_share",
        ] {
            let text = crate::labels::column_label(lang, h).unwrap_or(label(lang, h));
            let _ = write!(s, "<th>{}</th>", escape_html(text));
        }
        s.push_str("</tr></thead><tbody>");
        for i in 0..df.height() {
            let lv = level[i].as_deref().unwrap_or("");
            if lv == "village" {
                continue;
            }
            let src = source[i].as_deref().unwrap_or("");
            let cells = [
                level_label(lang, lv).unwrap_or(lv).to_owned(),
                format!(
                    "{} ({})",
                    name[i].as_deref().unwrap_or(""),
                    code[i].as_deref().unwrap_or("")
                ),
                label(lang, src).to_owned(),
                n[i].map_or(String::new(), |v| format!("{v:.0}")),
                est[i].map_or(String::new(), |v| format!("{v:.1}")),
                lo[i].map_or(String::new(), |v| format!("{v:.0}")),
                hi[i].map_or(String::new(), |v| format!("{v:.0}")),
                c[i].map_or(String::new(), |v| format!("{:.1}%", 100.0 * v)),
            ];
            s.push_str("<tr>");
            for c in cells {
                let _ = write!(s, "<td>{}</td>", escape_html(&c));
            }
            s.push_str("</tr>");
        }
        s.push_str("</tbody></table>");
    }
    s.push_str("</section>");
    Ok(s)
}
