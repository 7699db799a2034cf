//! `poprecon export`: a run's tables as XLSX or CSV for one audience.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use polars::prelude::DataFrame;
use poprecon_export::{Audience, ExportFormat};
use poprecon_report::Lang;

use crate::run_cmd::read_parquet;

/// What each audience receives, and how.
struct Item {
    file: &'static str,
    sheet_zh: &'static str,
    sheet_en: &'static str,
}

const AGGREGATES: &[Item] = &[
    Item {
        file: "indicators",
        sheet_zh: "指标",
        sheet_en: "indicators",
    },
    Item {
        file: "assessment",
        sheet_zh: "考核得分",
        sheet_en: "assessment",
    },
    Item {
        file: "village_discrepancies",
        sheet_zh: "各村不一致",
        sheet_en: "village_discrepancies",
    },
];

const DETAIL: &[Item] = &[
    Item {
        file: "discrepancies",
        sheet_zh: "不一致明细",
        sheet_en: "discrepancies",
    },
    Item {
        file: "births",
        sheet_zh: "出生事件",
        sheet_en: "births",
    },
];

const DATA_TEAM: &[Item] = &[
    Item {
        file: "links",
        sheet_zh: "关联",
        sheet_en: "links",
    },
    Item {
        file: "data_quality",
        sheet_zh: "数据质量",
        sheet_en: "data_quality",
    },
];

/// Counts below this are suppressed in assessor exports.
pub const SUPPRESS_BELOW: i64 = 5;

pub fn export(
    run: &Path,
    audience: Audience,
    format: ExportFormat,
    out: &Path,
    lang: Lang,
) -> Result<Vec<PathBuf>> {
    if !run.join("manifest.json").is_file() {
        anyhow::bail!(
            "`{}` is not a run folder (no `manifest.json`)\nhint: pass the `--out` folder of `poprecon run`",
            run.display()
        );
    }
    crate::output::create_private_dir(out)?;
    let mut items: Vec<&Item> = AGGREGATES.iter().collect();
    if audience != Audience::Assessor {
        items.extend(DETAIL);
    }
    if audience == Audience::DataTeam {
        items.extend(DATA_TEAM);
    }
    let ext = match format {
        ExportFormat::Xlsx => "xlsx",
        ExportFormat::Csv => "csv",
    };
    let mut written = Vec::new();
    for item in items {
        let source = run.join(format!("{}.parquet", item.file));
        if !source.is_file() {
            continue;
        }
        let df = read_parquet(&source)?;
        let df = prepare(item.file, df, audience)?;
        let sheet = if lang == Lang::Zh {
            item.sheet_zh
        } else {
            item.sheet_en
        };
        let path = out.join(format!("{}_{}.{ext}", item.file, audience_name(audience)));
        let mask = audience == Audience::Analyst;
        poprecon_export::write_table(&df, &path, format, sheet, &|c| header(c, lang), mask)
            .with_context(|| format!("cannot export `{}`", item.file))?;
        written.push(path);
    }
    Ok(written)
}

fn audience_name(a: Audience) -> &'static str {
    match a {
        Audience::Assessor => "assessor",
        Audience::Analyst => "analyst",
        Audience::DataTeam => "data_team",
    }
}

/// Assessors get aggregates without person-level columns and with small counts suppressed.
fn prepare(file: &str, df: DataFrame, audience: Audience) -> Result<DataFrame> {
    if audience != Audience::Assessor {
        return Ok(df);
    }
    let person_level = ["birth_id", "mother_id", "record_key"];
    let keep: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|c| c.to_string())
        .filter(|c| !person_level.contains(&c.as_str()) && !c.ends_with("_key"))
        .collect();
    let df = df.select(keep)?;
    let counts: &[&str] = match file {
        "village_discrepancies" => &["count", "denominator"],
        _ => &["numerator", "denominator"],
    };
    let rates: &[&str] = match file {
        "village_discrepancies" => &["rate"],
        _ => &["value", "ci_low", "ci_high", "credit"],
    };
    Ok(poprecon_export::suppress_small(
        &df,
        counts,
        rates,
        SUPPRESS_BELOW,
    )?)
}

/// Column labels people read.
fn header(column: &str, lang: Lang) -> Option<String> {
    const LABELS: &[(&str, &str, &str)] = &[
        ("level", "层级", "Level"),
        ("area_code", "地区代码", "Area code"),
        ("area_name", "地区名称", "Area"),
        ("indicator_id", "指标", "Indicator"),
        ("basis", "统计口径", "Basis"),
        ("numerator", "分子", "Numerator"),
        ("denominator", "分母", "Denominator"),
        ("value", "值", "Value"),
        ("low_n", "样本量小", "Small denominator"),
        ("ci_low", "95%置信下限", "95% CI low"),
        ("ci_high", "95%置信上限", "95% CI high"),
        ("target", "目标值", "Target"),
        ("floor", "最低值", "Floor"),
        ("weight", "权重", "Weight"),
        ("credit", "得分", "Credit"),
        ("veto", "一票否决", "Veto"),
        ("veto_reasons", "否决原因", "Veto reasons"),
        ("village", "村(居)代码", "Village"),
        ("rule_id", "规则", "Rule"),
        ("severity", "严重程度", "Severity"),
        ("count", "数量", "Count"),
        ("rate", "比率", "Rate"),
        ("discrepancy_id", "不一致编号", "Discrepancy id"),
        ("birth_id", "出生事件编号", "Birth id"),
        ("field", "数据项", "Field"),
        ("values", "各来源取值", "Values"),
        ("status", "状态", "Status"),
        ("first_seen", "首次发现日期", "First seen"),
        ("suppressed", "小数抑制", "Suppressed"),
        ("hospital_delivery_key", "住院分娩记录号", "Delivery key"),
        (
            "birth_certificate_key",
            "出生医学证明编号",
            "Certificate key",
        ),
        ("household_key", "户籍身份证号", "Household key"),
        ("vaccination_key", "儿童编码", "Vaccination key"),
        ("prenatal_care_key", "保健手册编号", "Prenatal key"),
        ("birth_registration_key", "生育登记编号", "Registration key"),
        ("mother_id", "母亲身份证号", "Mother ID"),
        ("birth_date", "出生日期", "Birth date"),
        ("child_sex", "性别", "Sex"),
        ("floating", "流动人口", "Floating"),
        ("birth_order", "孩次", "Birth order"),
        ("policy_category", "政策类别", "Policy category"),
    ];
    let rule_or_indicator = poprecon_checks::CATALOGUE
        .iter()
        .find(|r| r.id.as_str() == column)
        .map(|r| {
            if lang == Lang::Zh {
                r.name_zh
            } else {
                r.name_en
            }
        });
    LABELS
        .iter()
        .find(|(k, _, _)| *k == column)
        .map(|(_, zh, en)| if lang == Lang::Zh { *zh } else { *en })
        .or(rule_or_indicator)
        .map(str::to_owned)
}
