//! Returns against records: the villages' statistical returns (统计报表) read as a source
//! ([`Returns`]) and compared, area by area and indicator by indicator, with the figures
//! the run derived from the records ([`compare`]).

use std::collections::HashMap;

use chrono::{Datelike, NaiveDate};
use polars::prelude::*;
use poprecon_indicators::Unit;
use poprecon_ingest::{FieldKind as K, FieldSpec as F, Source};

use crate::frame::{Frame, Kind, floats, opt_floats, opt_texts, texts};
use crate::stats;
use crate::{Settings, VerifyError};

/// The returns file: one row per period, area and indicator (or count) with the reported
/// value, and for a rate its numerator and denominator where the return gives them.
#[derive(Debug, Clone, Copy)]
pub struct Returns;

static RETURNS_FIELDS: &[F] = &[
    F::new("period", "统计期", K::Text).required().aliases(&[
        "统计期",
        "报告期",
        "统计时期",
        "统计期间",
        "统计年度",
        "年度",
        "期间",
    ]),
    F::new("area_code", "地区代码", K::Text)
        .required()
        .aliases(&[
            "地区代码",
            "区划代码",
            "行政区划代码",
            "村居代码",
            "村(居)代码",
            "单位代码",
            "统计用区划代码",
        ]),
    F::new("area_name", "地区名称", K::Text).aliases(&[
        "地区名称",
        "区划名称",
        "村居名称",
        "村(居)名称",
        "单位名称",
    ]),
    F::new("indicator", "指标", K::Text).required().aliases(&[
        "指标",
        "指标名称",
        "指标代码",
        "统计项目",
        "项目",
    ]),
    F::new("value", "报告值", K::Text).required().aliases(&[
        "报告值",
        "上报值",
        "上报数",
        "报表数",
        "数值",
        "指标值",
    ]),
    F::new(
        "numerator",
        "分子",
        K::Float {
            min: 0.0,
            max: 1e12,
        },
    )
    .aliases(&["分子", "分子数"]),
    F::new(
        "denominator",
        "分母",
        K::Float {
            min: 0.0,
            max: 1e12,
        },
    )
    .aliases(&["分母", "分母数"]),
    F::new("basis", "统计口径", K::Text).aliases(&["统计口径", "口径"]),
];

impl Source for Returns {
    fn id(&self) -> &'static str {
        "returns"
    }
    fn label_zh(&self) -> &'static str {
        "统计报表"
    }
    fn fields(&self) -> &'static [F] {
        RETURNS_FIELDS
    }
    fn key_field(&self) -> &'static str {
        "area_code"
    }
}

/// What became of a return row (the `status` column of `returns_comparison.parquet`).
pub mod status {
    /// Compared with the records.
    pub const COMPARED: &str = "compared";
    /// The return's period is not the run's: nothing to compare it with.
    pub const OTHER_PERIOD: &str = "other_period";
    /// The period cannot be read (`2025`, `2025年`, `2025-01-01~2025-12-31` …).
    pub const UNKNOWN_PERIOD: &str = "unknown_period";
    /// The indicator is neither an id nor a name of the catalogue.
    pub const UNKNOWN_INDICATOR: &str = "unknown_indicator";
    /// No area of the run's indicators has this code (on this basis).
    pub const UNKNOWN_AREA: &str = "unknown_area";
    /// The counting basis is not residence, household or occurrence.
    pub const UNKNOWN_BASIS: &str = "unknown_basis";
    /// The reported value is not a number.
    pub const INVALID_VALUE: &str = "invalid_value";
}

/// Compares the returns (the canonical table of [`Returns`]) with the run's
/// `indicators.parquet`.
///
/// D is the run's indicator for the same area, indicator and counting basis (the row's
/// 统计口径, else [`Settings::basis`]) over the run's period; a return is compared only when
/// its period is the run's (a year is a calendar year, or the statistical year 1 October –
/// 30 September ending in it with [`Settings::statistical_year`]).
///
/// One row per return row, in file and line order, with columns `level`, `area_code`,
/// `area_name`, `indicator_id`, `basis`, `period`, `status`, `reported`,
/// `reported_numerator`, `reported_denominator`, `derived`, `derived_numerator`,
/// `derived_denominator`, `difference` (D − R), `difference_numerator`,
/// `difference_denominator`, `vf` (D / R), `vf_numerator`, `vf_denominator`, `p_value`,
/// `suppressed`, `significant`, `flagged`, `source_file`, `source_line`.
///
/// The exact test: for a count, D against R as two Poisson counts of one rate (conditional
/// binomial); for a rate, the records' numerator out of their denominator against the
/// reported rate (binomial; the sex ratio as the boys' share). It is suppressed (null) when
/// a count tested is below [`Settings::min_count`]. `flagged`: VF, or the numerator's or
/// denominator's VF, outside [`Settings::band`].
pub fn compare(
    returns: &DataFrame,
    indicators: &DataFrame,
    period: (NaiveDate, NaiveDate),
    settings: &Settings,
) -> Result<DataFrame, VerifyError> {
    let derived = Derived::read(indicators)?;
    let r_period = texts(returns, "period")?;
    let r_area = texts(returns, "area_code")?;
    let r_indicator = texts(returns, "indicator")?;
    let r_value = texts(returns, "value")?;
    let r_num = opt_floats(returns, "numerator")?;
    let r_den = opt_floats(returns, "denominator")?;
    let r_basis = opt_texts(returns, "basis")?;
    let r_name = opt_texts(returns, "area_name")?;
    let file = opt_texts(returns, poprecon_ingest::SOURCE_FILE)?;
    let line = opt_floats(returns, poprecon_ingest::SOURCE_LINE)?;

    let mut out = Frame::default();
    // Return tables are small (an area per row), and each row needs its own exact test:
    // a loop over rows, not an expression.
    for i in 0..returns.height() {
        let text = |v: &Option<String>| v.as_deref().unwrap_or("").trim().to_owned();
        let period_text = text(&r_period[i]);
        let area = normalize_area(&text(&r_area[i]));
        let indicator = resolve_indicator(&text(&r_indicator[i]));
        let basis = match r_basis[i]
            .as_deref()
            .map(str::trim)
            .filter(|b| !b.is_empty())
        {
            Some(b) => resolve_basis(b),
            None => Some(settings.basis.clone()),
        };
        let unit = indicator.map(unit_of);
        let reported = parse_value(&text(&r_value[i]), unit);
        let found = match (indicator, &basis) {
            (Some(id), Some(b)) => derived.get(&area, id, b),
            _ => None,
        };
        let status = match (
            parse_period(&period_text, settings.statistical_year),
            indicator,
            &basis,
            reported,
            found,
        ) {
            (None, ..) => status::UNKNOWN_PERIOD,
            (_, None, ..) => status::UNKNOWN_INDICATOR,
            (_, _, None, ..) => status::UNKNOWN_BASIS,
            (_, _, _, None, _) => status::INVALID_VALUE,
            (_, _, _, _, None) => status::UNKNOWN_AREA,
            (Some(p), ..) if p != period => status::OTHER_PERIOD,
            _ => status::COMPARED,
        };
        out.text("level", found.map(|d| d.level.clone()));
        out.text("area_code", Some(area.clone()));
        out.text(
            "area_name",
            found
                .and_then(|d| d.name.clone())
                .or_else(|| r_name[i].clone()),
        );
        out.text("indicator_id", indicator.map(str::to_owned));
        out.text("basis", basis.clone());
        out.text("period", Some(period_text));
        out.text("status", Some(status.to_owned()));
        out.float("reported", reported);
        let compared = status == status::COMPARED;
        let d = found.filter(|_| compared);
        let unit = unit.unwrap_or(Unit::Count);
        // A count's value is its numerator: the return's value is its reported count.
        let (rn, rd) = match unit {
            Unit::Count => (r_num[i].or(reported), None),
            _ => (r_num[i], r_den[i]),
        };
        out.float("reported_numerator", rn);
        out.float("reported_denominator", rd);
        let dv = d.and_then(|d| d.value);
        let dn = d.and_then(|d| d.numerator);
        let dd = d.and_then(|d| d.denominator);
        out.float("derived", dv);
        out.float("derived_numerator", dn);
        out.float("derived_denominator", dd);
        let sub = |a: Option<f64>, b: Option<f64>| Some(a? - b?);
        let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) if b != 0.0 => Some(a / b),
            _ => None,
        };
        let rv = reported.filter(|_| compared);
        let (rn, rd) = (rn.filter(|_| compared), rd.filter(|_| compared));
        out.float("difference", sub(dv, rv));
        out.float("difference_numerator", sub(dn, rn));
        out.float("difference_denominator", sub(dd, rd));
        let vf = ratio(dv, rv);
        let vf_n = ratio(dn, rn);
        let vf_d = ratio(dd, rd);
        out.float("vf", vf);
        out.float("vf_numerator", vf_n);
        out.float("vf_denominator", vf_d);
        let p = match (compared, unit) {
            (false, _) => None,
            (true, Unit::Count) => match (dn, rn) {
                (Some(d), Some(r)) if d.min(r) >= settings.min_count as f64 => {
                    Some(stats::poisson_test(d.round() as u64, r.round() as u64))
                }
                _ => None,
            },
            (true, unit) => {
                // A rate: the records' numerator out of their denominator against the
                // reported rate. The sex ratio's "denominator" is the girls.
                let (k, n) = match (unit, dn, dd) {
                    (Unit::Per100, Some(b), Some(g)) => (b, b + g),
                    (_, Some(k), Some(n)) => (k, n),
                    _ => (0.0, 0.0),
                };
                let p0 = match (unit, rv) {
                    (Unit::Per100, Some(r)) => Some(r / (100.0 + r)),
                    (_, r) => r,
                };
                match p0 {
                    Some(p0) if n >= settings.min_count as f64 && (0.0..=1.0).contains(&p0) => {
                        Some(stats::binomial_test(k.round() as u64, n.round() as u64, p0))
                    }
                    _ => None,
                }
            }
        };
        out.float("p_value", p);
        out.boolean("suppressed", Some(compared && p.is_none()));
        out.boolean("significant", Some(p.is_some_and(|p| p < settings.alpha)));
        let outside =
            |v: Option<f64>| v.is_some_and(|v| v < settings.band.0 || v > settings.band.1);
        let zero_reported = compared && rv == Some(0.0) && dv.is_some_and(|d| d > 0.0);
        out.boolean(
            "flagged",
            Some(compared && (outside(vf) || outside(vf_n) || outside(vf_d) || zero_reported)),
        );
        out.text("source_file", file[i].clone());
        out.int("source_line", line[i].map(|l| l as i64));
    }
    out.finish(COMPARISON_COLUMNS)
}

/// The columns of `returns_comparison.parquet`, in order.
pub const COMPARISON_COLUMNS: &[(&str, Kind)] = &[
    ("level", Kind::Text),
    ("area_code", Kind::Text),
    ("area_name", Kind::Text),
    ("indicator_id", Kind::Text),
    ("basis", Kind::Text),
    ("period", Kind::Text),
    ("status", Kind::Text),
    ("reported", Kind::Float),
    ("reported_numerator", Kind::Float),
    ("reported_denominator", Kind::Float),
    ("derived", Kind::Float),
    ("derived_numerator", Kind::Float),
    ("derived_denominator", Kind::Float),
    ("difference", Kind::Float),
    ("difference_numerator", Kind::Float),
    ("difference_denominator", Kind::Float),
    ("vf", Kind::Float),
    ("vf_numerator", Kind::Float),
    ("vf_denominator", Kind::Float),
    ("p_value", Kind::Float),
    ("suppressed", Kind::Bool),
    ("significant", Kind::Bool),
    ("flagged", Kind::Bool),
    ("source_file", Kind::Text),
    ("source_line", Kind::Int),
];

/// The run's indicators by (area, indicator, basis).
struct Derived {
    rows: HashMap<(String, String, String), DerivedRow>,
}

#[derive(Debug, Clone)]
struct DerivedRow {
    level: String,
    name: Option<String>,
    numerator: Option<f64>,
    denominator: Option<f64>,
    value: Option<f64>,
}

impl Derived {
    fn read(df: &DataFrame) -> Result<Derived, VerifyError> {
        let level = texts(df, "level")?;
        let area = texts(df, "area_code")?;
        let name = texts(df, "area_name")?;
        let id = texts(df, "indicator_id")?;
        let basis = texts(df, "basis")?;
        let num = floats(df, "numerator")?;
        let den = floats(df, "denominator")?;
        let value = floats(df, "value")?;
        let mut rows = HashMap::with_capacity(df.height());
        for i in 0..df.height() {
            let (Some(l), Some(a), Some(id), Some(b)) = (&level[i], &area[i], &id[i], &basis[i])
            else {
                continue;
            };
            // The jurisdiction row answers to its code too.
            let value = match (id.as_str(), value[i]) {
                ("live_births", None) => num[i],
                (_, v) => v,
            };
            rows.insert(
                (a.clone(), id.clone(), b.clone()),
                DerivedRow {
                    level: l.clone(),
                    name: name[i].clone(),
                    numerator: num[i],
                    denominator: den[i],
                    value,
                },
            );
        }
        Ok(Derived { rows })
    }

    fn get(&self, area: &str, id: &str, basis: &str) -> Option<&DerivedRow> {
        self.rows
            .get(&(area.to_owned(), id.to_owned(), basis.to_owned()))
    }
}

fn unit_of(id: &str) -> Unit {
    poprecon_indicators::indicator(id).map_or(Unit::Count, |i| i.unit())
}

/// An area code as returns write it, as the run's indicators name it: a code padded to 12
/// digits with zeros (`340302001000`, `340302000000`, `340300000000`) loses its padding.
pub fn normalize_area(code: &str) -> String {
    let mut c: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if c.len() == 12 && c.bytes().all(|b| b.is_ascii_digit()) {
        if c.ends_with("000000") {
            c.truncate(6);
        } else if c.ends_with("000") {
            c.truncate(9);
        }
    }
    while matches!(c.len(), 6 | 4) && c.ends_with("00") {
        c.truncate(c.len() - 2);
    }
    c
}

/// An indicator as a return names it: a catalogue id, its Chinese or English name, or a
/// usual name of the live-birth count.
pub fn resolve_indicator(text: &str) -> Option<&'static str> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    if let Some(i) = poprecon_indicators::CATALOGUE
        .iter()
        .find(|i| i.id == t || i.name_zh == t || i.name_en.eq_ignore_ascii_case(t))
    {
        return Some(i.id);
    }
    match t {
        "出生数" | "出生人数" | "活产婴儿数" | "出生人口数" | "活产数(人)" => {
            Some("live_births")
        }
        "性别比" | "出生性别比" => Some("sex_ratio_at_birth"),
        _ => None,
    }
}

/// A counting basis (统计口径) as a return writes it.
pub fn resolve_basis(text: &str) -> Option<String> {
    let b = match text.trim() {
        "residence" | "现居住地" | "居住地" | "现住址" => "residence",
        "household" | "户籍地" | "户籍" => "household",
        "occurrence" | "发生地" => "occurrence",
        _ => return None,
    };
    Some(b.to_owned())
}

/// A reported value: a number, with thousands separators or a `%`; a rate written as a
/// percentage (`98.5` or `98.5%`) reads as a fraction. `None` when it is not a number.
pub fn parse_value(text: &str, unit: Option<Unit>) -> Option<f64> {
    let t = text.trim().replace([',', '，'], "");
    let (t, percent) = match t.strip_suffix(['%', '％']) {
        Some(s) => (s.trim().to_owned(), true),
        None => (t, false),
    };
    let v: f64 = t.parse().ok().filter(|v: &f64| v.is_finite())?;
    Some(match unit {
        Some(Unit::Share) if percent || v > 1.0 => v / 100.0,
        _ if percent => v / 100.0,
        _ => v,
    })
}

/// A return's period: a year (`2025`, `2025年`, `2025年度`: the calendar year, or with
/// `statistical_year` the year from 1 October before to 30 September), or two dates
/// (`2025-01-01~2025-12-31`, `2025-01-01至2025-12-31`, `20250101-20251231`).
pub fn parse_period(text: &str, statistical_year: bool) -> Option<(NaiveDate, NaiveDate)> {
    let t = text.trim();
    let year = t
        .strip_suffix("年度")
        .or_else(|| t.strip_suffix('年'))
        .unwrap_or(t)
        .trim();
    if year.len() == 4 && year.bytes().all(|b| b.is_ascii_digit()) {
        let y: i32 = year.parse().ok()?;
        return if statistical_year {
            Some((
                NaiveDate::from_ymd_opt(y - 1, 10, 1)?,
                NaiveDate::from_ymd_opt(y, 9, 30)?,
            ))
        } else {
            Some((
                NaiveDate::from_ymd_opt(y, 1, 1)?,
                NaiveDate::from_ymd_opt(y, 12, 31)?,
            ))
        };
    }
    for sep in ["~", "～", "至", "到", "—", "--", " - ", "-"] {
        if let Some((a, b)) = t.split_once(sep)
            && let (Some(a), Some(b)) = (parse_date(a), parse_date(b))
        {
            return (a <= b).then_some((a, b));
        }
    }
    None
}

fn parse_date(text: &str) -> Option<NaiveDate> {
    let t = text.trim();
    ["%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y年%m月%d日", "%Y.%m.%d"]
        .iter()
        .find_map(|f| NaiveDate::parse_from_str(t, f).ok())
        .filter(|d| d.year() > 1900)
}
