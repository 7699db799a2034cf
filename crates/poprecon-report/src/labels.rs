//! The words people read, in Chinese (default) and English.

use serde_json::{Map, Value};

/// The language of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Zh,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    pub fn html_lang(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }
}

impl std::str::FromStr for Lang {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "zh" | "zh-CN" | "cn" => Ok(Lang::Zh),
            "en" => Ok(Lang::En),
            other => Err(format!("unknown language `{other}` (use `zh` or `en`)")),
        }
    }
}

/// (key, Chinese, English).
const LABELS: &[(&str, &str, &str)] = &[
    (
        "report_title",
        "人口信息交叉核验报告",
        "Population records cross-validation report",
    ),
    ("as_of", "数据截止日期", "Extracts as of"),
    ("period", "统计期间", "Period"),
    ("run_id", "运行编号", "Run"),
    ("indicators", "指标", "Indicators"),
    (
        "jurisdiction_indicators",
        "全辖区指标",
        "Indicators for the jurisdiction",
    ),
    ("county_breakdown", "分县区指标", "By county"),
    ("township_breakdown", "分乡镇指标", "By township"),
    (
        "sex_ratio_chart",
        "出生人口性别比(正常范围 103–107)",
        "Sex ratio at birth (normal band 103–107)",
    ),
    (
        "discrepancies_by_rule",
        "按规则统计的不一致",
        "Discrepancies by rule",
    ),
    ("heat_table", "各村不一致数量", "Discrepancies per village"),
    ("mismatch_list", "不一致明细", "Mismatch list"),
    ("linkage", "关联情况", "Linkage"),
    ("quality", "数据质量", "Data quality"),
    ("ingest", "数据读取", "Ingest"),
    (
        "changes",
        "与上次运行相比",
        "Changes since the previous run",
    ),
    ("filter", "筛选", "Filter"),
    (
        "filter_text",
        "地区代码、规则或记录号",
        "Area code, rule or record key",
    ),
    ("all_rules", "全部规则", "All rules"),
    ("all_statuses", "全部状态", "All statuses"),
    ("shown", "显示", "Shown"),
    ("of", "共", "of"),
    ("no_data", "本次运行无此数据", "Not in this run"),
    (
        "records_side_by_side",
        "各来源记录对照",
        "Records side by side",
    ),
    ("indicator", "指标", "Indicator"),
    ("area", "地区", "Area"),
    ("area_code", "地区代码", "Area code"),
    ("value", "值", "Value"),
    ("numerator", "分子", "Numerator"),
    ("denominator", "分母", "Denominator"),
    ("low_n", "样本量小", "Small denominator"),
    ("ci95", "95%置信区间", "95% interval"),
    ("basis", "统计口径", "Basis"),
    ("basis_residence", "现居住地", "Residence"),
    ("basis_household", "户籍地", "Household"),
    ("basis_occurrence", "发生地", "Occurrence"),
    ("rule", "规则", "Rule"),
    ("severity", "严重程度", "Severity"),
    ("village", "村(居)", "Village"),
    ("count", "数量", "Count"),
    ("rate", "比率", "Rate"),
    ("status", "状态", "Status"),
    ("field", "数据项", "Field"),
    ("values", "各来源取值", "Values"),
    ("source", "来源", "Source"),
    ("record_key", "记录号", "Record key"),
    ("new", "新增", "new"),
    ("open", "未解决", "open"),
    ("resolved", "已解决", "resolved"),
    ("hospital_delivery", "住院分娩", "Hospital delivery"),
    ("birth_certificate", "出生医学证明", "Birth certificate"),
    ("household", "户籍", "Household"),
    ("vaccination", "预防接种", "Vaccination"),
    ("prenatal_care", "孕产期保健", "Prenatal care"),
    ("birth_registration", "生育登记", "Birth registration"),
    ("school", "学籍", "School"),
    ("marriage", "婚姻登记", "Marriage"),
    ("social_security", "社保", "Social security"),
];

/// Column names of the run's tables that are not also words of the report (key, Chinese,
/// English); [`column_label`] falls back to the report's words.
const COLUMN_LABELS: &[(&str, &str, &str)] = &[
    ("level", "层级", "Level"),
    ("area_name", "地区名称", "Area"),
    ("indicator_id", "指标", "Indicator"),
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
    ("discrepancy_id", "不一致编号", "Discrepancy id"),
    ("birth_id", "出生事件编号", "Birth id"),
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

fn pick(
    table: &[(&str, &'static str, &'static str)],
    lang: Lang,
    key: &str,
) -> Option<&'static str> {
    table
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|(_, zh, en)| if lang == Lang::Zh { *zh } else { *en })
}

/// The header people read for a column of the run's tables (exports), if it has one.
pub fn column_label(lang: Lang, column: &str) -> Option<&'static str> {
    pick(COLUMN_LABELS, lang, column).or_else(|| pick(LABELS, lang, column))
}

/// One label.
pub fn label(lang: Lang, key: &str) -> &'static str {
    pick(LABELS, lang, key).unwrap_or("")
}

/// Every label of a language, for the page's script.
pub(crate) fn all(lang: Lang) -> Value {
    let mut map = Map::new();
    for (k, _, _) in LABELS {
        map.insert((*k).to_owned(), Value::from(label(lang, k)));
    }
    Value::Object(map)
}
