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
    (
        "numerator_strict",
        "分子(严格匹配)",
        "Numerator (strict links)",
    ),
    ("decided", "已有审核决定", "Decided"),
    ("decision", "审核决定", "Decision"),
    ("decided_by", "审核人", "Decided by"),
    ("decided_on", "决定日期", "Decided on"),
    ("decision_reason", "决定理由", "Decision reason"),
    ("queued", "待处理", "Queued"),
    (
        "numerator_loose",
        "分子(宽松匹配)",
        "Numerator (loose links)",
    ),
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

/// Words of exports that the page does not use (key, Chinese, English): area levels, yes
/// and no, and the assessors' workbook.
const EXPORT_LABELS: &[(&str, &str, &str)] = &[
    ("level_jurisdiction", "全辖区", "Jurisdiction"),
    ("level_city", "市", "City"),
    ("level_county", "县(区)", "County"),
    ("level_township", "乡镇(街道)", "Township"),
    ("level_village", "村(居)", "Village"),
    ("yes", "是", "yes"),
    ("no", "否", "no"),
    ("score", "总得分", "Score"),
    ("rank", "名次", "Rank"),
    ("item_weight", "分", "points"),
    ("indicator_code", "指标代码", "Indicator id"),
    ("definition", "定义", "Definition"),
    ("unit", "单位", "Unit"),
    ("unit_count", "人", "count"),
    ("unit_per100", "男婴/100女婴", "boys per 100 girls"),
    ("unit_share", "%", "%"),
    ("period_start", "统计期间起", "Period from"),
    ("period_end", "统计期间止", "Period to"),
    ("bases", "统计口径", "Bases"),
    ("rule_name", "核查规则", "Rule"),
    ("sheet_summary", "考核汇总", "Assessment"),
    ("sheet_definitions", "指标说明", "Definitions"),
    (
        "sheet_village_discrepancies",
        "各村核查问题",
        "Village discrepancies",
    ),
    ("sheet_suffix_indicators", "指标", " indicators"),
    (
        "summary_title",
        "目标管理责任制考核汇总",
        "target responsibility assessment",
    ),
    ("indicators_title", "指标", "indicators"),
    ("definitions_title", "考核指标说明", "indicator definitions"),
    (
        "village_discrepancies_title",
        "各村(居)数据核查问题",
        "discrepancies per village",
    ),
    (
        "legend_summary",
        "值达到目标值为绿色，介于最低值与目标值之间为黄色，未达最低值为红色；* 为分子或分母小于{n}的小数抑制；总得分满分100，名次按总得分排列，一票否决的地区排在最后。",
        "Green: value at or beyond the target; amber: between floor and target; red: short of the floor. * = suppressed (numerator or denominator below {n}). Score out of 100; ranked by score, vetoed areas last.",
    ),
    (
        "legend_level",
        "分子或分母小于{n}的行已做小数抑制（分子、分母、值和置信区间不显示）；分母小于样本量下限的比率标为“样本量小”，仅供参考。",
        "Rows with a numerator or denominator below {n} are suppressed (counts, value and interval not shown); rates on a small denominator are marked and indicative only.",
    ),
    ("title_as_of", "数据截止", "as of"),
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
    pick(LABELS, lang, key)
        .or_else(|| pick(EXPORT_LABELS, lang, key))
        .unwrap_or("")
}

/// The name of an area level (`county` → 县(区)), if it is one.
pub fn level_label(lang: Lang, level: &str) -> Option<&'static str> {
    pick(EXPORT_LABELS, lang, &format!("level_{level}"))
}

/// The name of a counting basis (`residence` → 现居住地), if it is one.
pub fn basis_label(lang: Lang, basis: &str) -> Option<&'static str> {
    pick(LABELS, lang, &format!("basis_{basis}"))
}

/// 是/否 (yes/no).
pub fn yes_no(lang: Lang, value: bool) -> &'static str {
    label(lang, if value { "yes" } else { "no" })
}

/// Every label of a language, for the page's script.
pub(crate) fn all(lang: Lang) -> Value {
    let mut map = Map::new();
    for (k, _, _) in LABELS {
        map.insert((*k).to_owned(), Value::from(label(lang, k)));
    }
    Value::Object(map)
}
