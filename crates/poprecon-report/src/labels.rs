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

/// (key, Chinese, English). Keys with a dot are codes of the data (`severity.high`,
/// `method.probabilistic`, `reason.missing_required`): the page looks a code up as
/// `<kind>.<code>` and shows the code itself only when no label exists.
const LABELS: &[(&str, &str, &str)] = &[
    (
        "report_title",
        "人口信息交叉核验报告",
        "Population records cross-validation report",
    ),
    ("as_of", "数据截止日期", "Extracts as of"),
    ("period", "统计期间", "Period"),
    ("run_id", "运行编号", "Run"),
    (
        "masked_note",
        "分析人员版本:身份证号已脱敏(前6位与后4位可见)。",
        "Analyst version: resident IDs are masked (first 6 and last 4 characters shown).",
    ),
    (
        "clear_note",
        "数据组版本:含明文身份证号,仅限数据组内部使用,不得外发。",
        "Data-team version: resident IDs in clear. For the data team only; do not send on.",
    ),
    ("loading", "正在加载数据……", "Loading data…"),
    (
        "no_decompression",
        "此浏览器无法解压报告数据,请使用新版 Chrome、Edge 或 Firefox 打开。",
        "This browser cannot decompress the report's data: open it in a recent Chrome, Edge or Firefox.",
    ),
    ("indicators", "指标", "Indicators"),
    (
        "jurisdiction_indicators",
        "全辖区指标",
        "Indicators for the jurisdiction",
    ),
    ("overview", "指标总览(按地区)", "Indicator overview by area"),
    (
        "overview_help",
        "颜色对照考核目标:绿色达到目标,黄色介于最低值与目标之间,红色低于最低值;灰色为样本量小。悬停查看置信区间,点击单元格查看对应出生事件。",
        "Colours against the assessment targets: green at or beyond the target, amber between floor and target, red below the floor; grey: small denominator. Hover for the interval, click a cell for its births.",
    ),
    ("level", "层级", "Level"),
    ("level.village", "村(居)", "Village"),
    ("level.township", "乡镇(街道)", "Township"),
    ("level.county", "县(区)", "County"),
    ("level.city", "市", "City"),
    ("level.jurisdiction", "全辖区", "Jurisdiction"),
    ("township", "乡镇(街道)", "Township"),
    ("all_townships", "全部乡镇", "All townships"),
    ("drill_title", "出生事件明细", "Births behind the cell"),
    (
        "drill_help",
        "点击上表中的单元格,查看计入该指标分子或分母的出生事件及其不一致。",
        "Click a cell above to see the births counted in its numerator or denominator, and their discrepancies.",
    ),
    ("in_numerator", "计入分子", "In numerator"),
    ("in_denominator", "计入分母", "In denominator"),
    ("yes", "是", "yes"),
    ("no", "否", "no"),
    ("births_count", "出生事件数", "Births"),
    ("delta", "较上次", "Change"),
    ("previous_value", "上次值", "Previous"),
    ("no_previous", "无上次运行数据", "No previous run"),
    ("target", "目标值", "Target"),
    ("floor", "最低值", "Floor"),
    ("county_breakdown", "分县区指标", "By county"),
    ("township_breakdown", "分乡镇指标", "By township"),
    (
        "sex_ratio_chart",
        "出生人口性别比及95%置信区间(正常范围 103–107)",
        "Sex ratio at birth with 95% intervals (normal band 103–107)",
    ),
    ("normal_band", "正常范围", "Normal band"),
    ("county", "县(区)", "County"),
    ("all_counties", "全部县区", "All counties"),
    (
        "discrepancies_by_rule",
        "按规则统计的不一致",
        "Discrepancies by rule",
    ),
    ("heat_table", "各村不一致数量", "Discrepancies per village"),
    ("mismatch_list", "不一致明细", "Mismatch list"),
    ("linkage", "关联情况", "Linkage"),
    ("quality", "数据质量", "Data quality"),
    ("quarantine", "隔离记录", "Quarantine"),
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
    ("all_severities", "全部严重程度", "All severities"),
    ("all_sources", "全部来源", "All sources"),
    ("shown", "显示", "Shown"),
    ("of", "共", "of"),
    ("page", "页", "Page"),
    ("previous_page", "上一页", "Previous"),
    ("next_page", "下一页", "Next"),
    ("no_data", "本次运行无此数据", "Not in this run"),
    ("none_found", "无符合条件的记录", "Nothing matches"),
    (
        "records_side_by_side",
        "各来源记录对照",
        "Records side by side",
    ),
    (
        "not_detailed",
        "本报告只嵌入前 {n} 条(按严重程度、新增优先)不一致的记录对照;其余请用 `poprecon export --for analyst` 查看。",
        "This report embeds the records of the first {n} discrepancies (highest severity, newest first); see `poprecon export --for analyst` for the others.",
    ),
    (
        "record_missing",
        "记录未在本次读取的数据中找到",
        "Record not found in this run's tables",
    ),
    ("disputed", "争议数据项", "Disputed field"),
    ("file_line", "文件:行", "File:line"),
    ("link_method", "关联方式", "Link method"),
    ("match_weight", "匹配权重", "Match weight"),
    (
        "waterfall",
        "匹配权重构成",
        "Match weight, comparison by comparison",
    ),
    ("prior", "先验", "Prior"),
    ("total", "合计", "Total"),
    (
        "other_terms",
        "其他(频率调整)",
        "Other (frequency adjustment)",
    ),
    ("comparison", "比较项", "Comparison"),
    ("comparison_level", "比较结果", "Level"),
    ("m_probability", "m 概率", "m probability"),
    ("u_probability", "u 概率", "u probability"),
    ("candidate_pairs", "候选对数", "Candidate pairs"),
    ("stage", "关联阶段", "Stage"),
    ("weight_histogram", "匹配权重分布", "Match weight histogram"),
    ("threshold", "匹配阈值", "Match threshold"),
    ("links_count", "关联记录数", "Linked records"),
    (
        "model_table",
        "各比较项的 m、u 概率",
        "m and u per comparison level",
    ),
    (
        "link_rates",
        "各村、各来源关联率",
        "Link rate per village and source",
    ),
    ("ambiguous_links", "关联冲突", "Contested links"),
    ("indicator", "指标", "Indicator"),
    ("area", "地区", "Area"),
    ("area_code", "地区代码", "Area code"),
    ("value", "值", "Value"),
    ("numerator", "分子", "Numerator"),
    ("denominator", "分母", "Denominator"),
    ("low_n", "样本量小", "Small denominator"),
    ("ci95", "95%置信区间", "95% interval"),
    ("basis", "统计口径", "Basis"),
    ("basis.residence", "现居住地", "Residence"),
    ("basis.household", "户籍地", "Household"),
    ("basis.occurrence", "发生地", "Occurrence"),
    ("rule", "规则", "Rule"),
    ("severity", "严重程度", "Severity"),
    ("severity.high", "高", "high"),
    ("severity.medium", "中", "medium"),
    ("severity.low", "低", "low"),
    ("village", "村(居)", "Village"),
    ("count", "数量", "Count"),
    ("rate", "比率", "Rate"),
    ("status", "状态", "Status"),
    ("status.new", "新增", "new"),
    ("status.open", "未解决", "open"),
    ("status.resolved", "已解决", "resolved"),
    ("field", "数据项", "Field"),
    ("values", "各来源取值", "Values"),
    ("source", "来源", "Source"),
    ("record_key", "记录号", "Record key"),
    ("birth", "出生事件", "Birth"),
    ("discrepancy_id", "不一致编号", "Discrepancy id"),
    ("first_seen", "首次发现日期", "First seen"),
    ("discrepancies", "不一致", "Discrepancies"),
    ("method.anchor", "起始记录", "anchor"),
    ("method.deterministic", "确定性匹配", "deterministic"),
    ("method.probabilistic", "概率匹配", "probabilistic"),
    ("method.decision", "人工判定", "reviewer decision"),
    ("kind.tie", "权重相同", "tie"),
    ("kind.outweighed", "权重较低", "outweighed"),
    ("read", "读取行数", "Rows read"),
    ("accepted", "接收行数", "Accepted"),
    ("quarantined", "隔离行数", "Quarantined"),
    ("invalid_values", "不合规数据项", "Invalid values"),
    ("reason", "原因", "Reason"),
    ("examples", "示例(文件:行)", "Examples (file:line)"),
    ("quarantine_reasons", "隔离原因", "Quarantine reasons"),
    ("metric", "指标项", "Metric"),
    ("metric.completeness", "完整性", "Completeness"),
    ("metric.timeliness", "及时性", "Timeliness"),
    ("metric.invalid_share", "不合规比例", "Invalid share"),
    ("metric.mean_lag_days", "平均滞后天数", "Mean lag (days)"),
    (
        "quality_summary",
        "各来源数据质量",
        "Data quality per source",
    ),
    (
        "quality_villages",
        "各村数据质量(完整性、及时性)",
        "Completeness and timeliness per village",
    ),
    ("all_fields", "全部数据项", "All fields"),
    ("linked", "已关联", "Linked"),
    ("unlinked", "未关联", "Unlinked"),
    ("link_rate", "关联率", "Link rate"),
    ("records", "记录数", "Records"),
    ("contested_source", "争议记录来源", "Contested source"),
    ("contested_key", "争议记录号", "Contested key"),
    ("candidate_source", "候选来源", "Candidate source"),
    ("candidate_key", "候选记录号", "Candidate key"),
    ("linked_to", "已关联", "Linked"),
    ("weight", "权重", "Weight"),
    ("kind", "类型", "Kind"),
    ("invalid_fields", "不合规数据项", "Invalid fields"),
    ("source_file", "文件", "File"),
    ("source_line", "行号", "Line"),
    ("hospital_delivery", "住院分娩", "Hospital delivery"),
    ("birth_certificate", "出生医学证明", "Birth certificate"),
    ("household", "户籍", "Household"),
    ("vaccination", "预防接种", "Vaccination"),
    ("prenatal_care", "孕产期保健", "Prenatal care"),
    ("birth_registration", "生育登记", "Birth registration"),
    ("school", "学籍", "School"),
    ("marriage", "婚姻登记", "Marriage"),
    ("social_security", "社保", "Social security"),
    ("suffix_input", "(原始输入)", " (as typed)"),
    ("suffix_time", "(时刻)", " (time)"),
    ("unknown_village", "村(居)不详", "Village unknown"),
    ("births", "出生事件数", "Births"),
    ("linked_share", "关联率", "Share linked"),
    (
        "contested_birth_id",
        "争议记录所属出生事件",
        "Birth of the contested record",
    ),
    (
        "candidate_birth_id",
        "候选记录所属出生事件",
        "Birth of the candidate",
    ),
    (
        "reason.missing_required",
        "必填项缺失",
        "required field missing",
    ),
    (
        "reason.invalid_required_date",
        "必填日期无效",
        "required date invalid",
    ),
    ("reason.field_count", "列数不符", "wrong number of fields"),
    ("reason.undecodable", "无法解码", "undecodable"),
    ("reason.duplicate", "重复行", "duplicate row"),
    ("cmp.birth_date", "出生日期", "birth date"),
    ("cmp.birth_time", "出生时间", "birth time"),
    ("cmp.child_id", "儿童身份证号", "child ID"),
    ("cmp.child_name", "儿童姓名", "child name"),
    ("cmp.child_sex", "性别", "sex"),
    ("cmp.father_id", "父亲身份证号", "father ID"),
    ("cmp.institution", "机构", "institution"),
    ("cmp.mother_id", "母亲身份证号", "mother ID"),
    ("cmp.mother_name", "母亲姓名", "mother name"),
    ("cmp.village", "村(居)", "village"),
    ("cmpl.null", "缺失", "missing"),
    ("cmpl.different", "不同", "different"),
    ("cmpl.exact", "完全相同", "exact"),
    ("cmpl.homophone", "同音", "homophone"),
    ("cmpl.near", "接近", "near"),
    ("cmpl.one_edit", "差一字", "one edit"),
    ("cmpl.one_substitution", "一位不同", "one substitution"),
    ("cmpl.same", "相同", "same"),
    ("cmpl.same_county", "同县", "same county"),
    ("cmpl.same_minute", "同一分钟", "same minute"),
    ("cmpl.same_village", "同村", "same village"),
    ("cmpl.transposition", "两位互换", "transposition"),
    ("cmpl.truncated", "截断", "truncated"),
    ("cmpl.two_differences", "两处不同", "two differences"),
    ("cmpl.within", "在容差内", "within tolerance"),
    ("cmpl.lambda", "匹配先验比例", "share of matches"),
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
    // Issue #18: returns against records, source completeness.
    ("sheet_returns", "报表核实", "Returns check"),
    (
        "verification_section",
        "报表核实与来源完整性",
        "Returns and source completeness",
    ),
    (
        "returns_title",
        "统计报表与记录核实",
        "returns against records",
    ),
    (
        "legend_returns",
        "R为统计报表上报值，D为按相同统计口径和统计期从记录计算的值；核实系数VF=D/R，超出0.90–1.10（管道[returns] band）标为“超出范围”，比率的分子、分母分别核实；p值为精确检验（计数按泊松、比率按二项），计数小于{n}时不检验；分子或分母小于{n}的行已做小数抑制。",
        "R: the value the return reported; D: the value derived from the records on the same basis and period. VF = D / R; outside 0.90–1.10 (the pipeline's [returns] band) it is flagged; a rate's numerator and denominator are checked apart. p: exact test (Poisson for counts, binomial for rates), not done below {n}; rows with a count below {n} are suppressed.",
    ),
    ("returns_reported", "上报值R", "Reported R"),
    ("returns_derived", "记录值D", "Records D"),
    ("returns_difference", "差值D−R", "D − R"),
    ("returns_vf", "核实系数VF", "VF"),
    ("returns_numerator_r", "分子R", "Numerator R"),
    ("returns_numerator_d", "分子D", "Numerator D"),
    ("returns_vf_numerator", "分子VF", "Numerator VF"),
    ("returns_denominator_r", "分母R", "Denominator R"),
    ("returns_denominator_d", "分母D", "Denominator D"),
    ("returns_vf_denominator", "分母VF", "Denominator VF"),
    ("returns_p", "p值", "p"),
    ("returns_flagged", "超出范围", "Flagged"),
    ("sheet_completeness", "来源完整性", "Source completeness"),
    (
        "completeness_title",
        "出生数据来源完整性（双系统估计）",
        "birth sources' completeness (dual-system estimate)",
    ),
    (
        "legend_completeness",
        "真实出生数按Chapman双系统估计（95%区间），完整性=该来源记录的出生数/估计数；估计所用两个来源：",
        "True births by Chapman's dual-system estimate (95 % interval); completeness = births the source recorded / the estimate. The two sources of the estimate:",
    ),
    ("completeness_source", "数据来源", "Source"),
    ("completeness_births", "来源出生数", "Births in source"),
    ("completeness_seen", "任一来源出生数", "Births seen"),
    ("completeness_estimate", "估计出生数", "Estimated births"),
    ("completeness_low", "估计下限", "Estimate low"),
    ("completeness_high", "估计上限", "Estimate high"),
    ("completeness_share", "完整性", "Completeness"),
    ("completeness_share_low", "完整性下限", "Completeness low"),
    ("completeness_share_high", "完整性上限", "Completeness high"),
    // The field teams' checklists. The answers stay Chinese in both languages: read_back
    // reads them.
    ("checklist.file", "核查清单", "checklist"),
    ("checklist.sheet", "现场核查清单", "Field checklist"),
    ("checklist.title_prefix", "", ""),
    (
        "checklist.title",
        "出生人口信息现场核查清单",
        " birth records: on-site verification checklist",
    ),
    ("checklist.as_of", "数据截止", "Extracts as of"),
    ("checklist.run", "运行编号", "run"),
    (
        "checklist.instructions",
        "先核查“样本”，无法入户的由同一抽样层的“替补”按顺序替换。核查结果填：属实 / 信息有误 / 查无此人；实际性别、出生日期、孩次与记录不同时才填写；待核实问题填：属实 / 不属实；新发现出生数为该户有而记录中没有的出生人数。灰色列供系统读回，请勿修改。",
        "Check the sample rows first; a household that cannot be visited is replaced by the next replacement of the same stratum, in order. Result: 属实 (as recorded) / 信息有误 (a fact is wrong) / 查无此人 (no such birth); fill the actual sex, birth date and order only where they differ from the record; facts to verify: 属实 (true) / 不属实 (not true); new births: births in the household that no record has. Do not edit the grey columns: poprecon reads them back.",
    ),
    ("checklist.row", "序号", "No."),
    ("checklist.village", "村(居)代码", "Village code"),
    ("checklist.village_name", "村(居)名称", "Village"),
    ("checklist.role", "类别", "Role"),
    ("checklist.role.sample", "样本", "sample "),
    ("checklist.role.replacement", "替补", "replacement "),
    ("checklist.mother_name", "母亲姓名", "Mother"),
    (
        "checklist.mother_id_masked",
        "母亲身份证号(脱敏)",
        "Mother ID (masked)",
    ),
    ("checklist.child_name", "婴儿姓名", "Child"),
    ("checklist.address", "住址", "Address"),
    ("checklist.birth_date", "出生日期", "Birth date"),
    ("checklist.child_sex", "性别", "Sex"),
    ("checklist.birth_order", "孩次", "Order"),
    ("checklist.facts", "待核实问题", "Facts to verify"),
    ("checklist.result", "核查结果", "Result"),
    ("checklist.actual_sex", "实际性别", "Actual sex"),
    (
        "checklist.actual_birth_date",
        "实际出生日期",
        "Actual birth date",
    ),
    ("checklist.actual_birth_order", "实际孩次", "Actual order"),
    ("checklist.issue_confirmed", "问题是否属实", "Facts true?"),
    ("checklist.new_births", "新发现出生数", "New births found"),
    ("checklist.checked_by", "核查人", "Checked by"),
    ("checklist.checked_on", "核查日期", "Checked on"),
    ("checklist.remarks", "备注", "Remarks"),
    ("checklist.stratum", "抽样层", "Stratum"),
    ("checklist.draw_order", "抽样顺序", "Draw order"),
    ("checklist.birth_id", "出生编号", "Birth id"),
    ("checklist.discrepancy_ids", "问题编号", "Discrepancy ids"),
    ("checklist.stratum_size", "层内记录数", "Stratum size"),
    ("checklist.sample_size", "层样本量", "Stratum sample"),
    (
        "checklist.inclusion_probability",
        "入样概率",
        "Inclusion probability",
    ),
    ("checklist.answer.confirmed", "属实", "属实"),
    ("checklist.answer.wrong", "信息有误", "信息有误"),
    ("checklist.answer.not_found", "查无此人", "查无此人"),
    ("checklist.answer.issue_true", "属实", "属实"),
    ("checklist.answer.issue_false", "不属实", "不属实"),
    ("checklist.sex.1", "男", "男"),
    ("checklist.sex.2", "女", "女"),
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
    pick(LABELS, lang, &format!("level.{level}"))
}

/// The name of a counting basis (`residence` → 现居住地), if it is one.
pub fn basis_label(lang: Lang, basis: &str) -> Option<&'static str> {
    pick(LABELS, lang, &format!("basis.{basis}"))
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
