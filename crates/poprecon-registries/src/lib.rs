//! The reference registries poprecon checks the health side against: [`Household`] (户籍),
//! [`School`] (学籍), [`Marriage`] (婚姻登记) and [`SocialSecurity`] (社保).
//!
//! Each declares its schema, usual headers and vocabularies; `poprecon-ingest` reads them.
//! Relationship to the household head is kept as the two-digit code of GB/T 4761
//! ([`relation_code`]).

use poprecon_ingest::{CodeMap, FieldKind as K, FieldSpec as F, RowCheck, Source, Value, vocab};

/// Why a person was entered in the household register (户口登记/变动原因, as public-security
/// household systems write it): a birth, a move in, or anything else.
pub static REGISTRATION_REASON: CodeMap = CodeMap {
    name: "registration_reason",
    entries: &[
        ("出生", "birth"),
        ("出生登记", "birth"),
        ("出生申报", "birth"),
        ("出生入户", "birth"),
        ("新生儿入户", "birth"),
        ("出生补录", "birth"),
        ("birth", "birth"),
        ("迁入", "move_in"),
        ("户口迁入", "move_in"),
        ("迁移入户", "move_in"),
        ("省外迁入", "move_in"),
        ("市外迁入", "move_in"),
        ("县外迁入", "move_in"),
        ("省内迁入", "move_in"),
        ("市内迁入", "move_in"),
        ("县内迁入", "move_in"),
        ("投靠迁入", "move_in"),
        ("投亲靠友", "move_in"),
        ("婚迁", "move_in"),
        ("婚姻迁入", "move_in"),
        ("学生迁入", "move_in"),
        ("复员退伍", "move_in"),
        ("复退转迁入", "move_in"),
        ("工作调动", "move_in"),
        ("回国定居", "move_in"),
        ("move_in", "move_in"),
        ("收养", "other"),
        ("恢复户口", "other"),
        ("补录", "other"),
        ("户口补录", "other"),
        ("其他", "other"),
        ("other", "other"),
    ],
};

/// Marriage registration business (婚姻登记业务类型): 结婚 and 复婚 make a marriage, a
/// certificate re-issued (补领) records the same one; 离婚 a divorce.
pub static MARRIAGE_KIND: CodeMap = CodeMap {
    name: "marriage_kind",
    entries: &[
        ("结婚", "marriage"),
        ("结婚登记", "marriage"),
        ("复婚", "marriage"),
        ("复婚登记", "marriage"),
        ("补领结婚证", "marriage"),
        ("补发结婚证", "marriage"),
        ("marriage", "marriage"),
        ("离婚", "divorce"),
        ("离婚登记", "divorce"),
        ("协议离婚", "divorce"),
        ("补领离婚证", "divorce"),
        ("补发离婚证", "divorce"),
        ("divorce", "divorce"),
    ],
};

/// Social-insurance schemes (险种类型, the code list AAE140 of the human-resources and
/// social-security information systems, with its usual labels and older names): pension,
/// unemployment, medical, work-injury and maternity insurance, employee and resident.
pub static SCHEME: CodeMap = CodeMap {
    name: "scheme",
    entries: &[
        // 110: employees' basic pension.
        ("110", "employee_pension"),
        ("企业职工基本养老保险", "employee_pension"),
        ("企业基本养老保险", "employee_pension"),
        ("职工基本养老保险", "employee_pension"),
        ("城镇职工基本养老保险", "employee_pension"),
        ("城镇企业职工基本养老保险", "employee_pension"),
        ("企业养老保险", "employee_pension"),
        ("职工养老保险", "employee_pension"),
        ("城职养老保险", "employee_pension"),
        ("employee_pension", "employee_pension"),
        // 120: government and public institutions.
        ("120", "public_sector_pension"),
        ("机关事业单位养老保险", "public_sector_pension"),
        ("机关事业单位基本养老保险", "public_sector_pension"),
        ("机关养老保险", "public_sector_pension"),
        ("public_sector_pension", "public_sector_pension"),
        // 170: residents' basic pension (and the rural and urban schemes it merged).
        ("170", "resident_pension"),
        ("城乡居民基本养老保险", "resident_pension"),
        ("城乡居民养老保险", "resident_pension"),
        ("城乡居民社会养老保险", "resident_pension"),
        ("居民养老保险", "resident_pension"),
        ("新型农村社会养老保险", "resident_pension"),
        ("新农保", "resident_pension"),
        ("城镇居民社会养老保险", "resident_pension"),
        ("城居保", "resident_pension"),
        ("resident_pension", "resident_pension"),
        // A pension whose scheme the extract does not say.
        ("基本养老保险", "pension"),
        ("养老保险", "pension"),
        ("pension", "pension"),
        // 210: unemployment.
        ("210", "unemployment"),
        ("失业保险", "unemployment"),
        ("unemployment", "unemployment"),
        // 310: employees' basic medical insurance.
        ("310", "employee_medical"),
        ("职工基本医疗保险", "employee_medical"),
        ("城镇职工基本医疗保险", "employee_medical"),
        ("职工医疗保险", "employee_medical"),
        ("职工医保", "employee_medical"),
        ("城职医疗保险", "employee_medical"),
        ("employee_medical", "employee_medical"),
        // 320, 330: supplementary medical schemes on top of the employees' one.
        ("320", "supplementary_medical"),
        ("330", "supplementary_medical"),
        ("公务员医疗补助", "supplementary_medical"),
        ("大额医疗费用补助", "supplementary_medical"),
        ("大额医疗保险", "supplementary_medical"),
        ("大病医疗保险", "supplementary_medical"),
        ("企业补充医疗保险", "supplementary_medical"),
        ("补充医疗保险", "supplementary_medical"),
        ("supplementary_medical", "supplementary_medical"),
        // 390: residents' basic medical insurance (and the schemes it merged).
        ("390", "resident_medical"),
        ("城乡居民基本医疗保险", "resident_medical"),
        ("城乡居民医疗保险", "resident_medical"),
        ("居民基本医疗保险", "resident_medical"),
        ("居民医保", "resident_medical"),
        ("城镇居民基本医疗保险", "resident_medical"),
        ("新型农村合作医疗", "resident_medical"),
        ("新农合", "resident_medical"),
        ("resident_medical", "resident_medical"),
        // 410: work injury.
        ("410", "work_injury"),
        ("工伤保险", "work_injury"),
        ("work_injury", "work_injury"),
        // 510: maternity.
        ("510", "maternity"),
        ("生育保险", "maternity"),
        ("职工生育保险", "maternity"),
        ("maternity", "maternity"),
        ("长期护理保险", "long_term_care"),
        ("long_term_care", "long_term_care"),
    ],
};

/// Insurance status (个人参保/缴费状态, AAC008/AAC031: 1 参保缴费, 2 暂停缴费, 3 终止缴费).
pub static INSURANCE_STATUS: CodeMap = CodeMap {
    name: "insurance_status",
    entries: &[
        ("1", "active"),
        ("参保缴费", "active"),
        ("正常参保", "active"),
        ("正常缴费", "active"),
        ("在保", "active"),
        ("正常", "active"),
        ("active", "active"),
        ("2", "suspended"),
        ("暂停缴费", "suspended"),
        ("暂停参保", "suspended"),
        ("中断缴费", "suspended"),
        ("暂停", "suspended"),
        ("suspended", "suspended"),
        ("3", "terminated"),
        ("终止参保", "terminated"),
        ("终止缴费", "terminated"),
        ("停保", "terminated"),
        ("终止", "terminated"),
        ("terminated", "terminated"),
    ],
};

/// The two-digit GB/T 4761 code of a relationship to the household head, from a code
/// (`2`, `02`) or its usual label (`户主`, `长女`).
pub fn relation_code(text: &str) -> Option<&'static str> {
    const LABELS: &[(&str, &str)] = &[
        ("本人", "01"),
        ("户主", "02"),
        ("小集体户户主", "03"),
        ("配偶", "10"),
        ("夫", "11"),
        ("妻", "12"),
        ("子", "20"),
        ("儿子", "20"),
        ("独生子", "21"),
        ("长子", "22"),
        ("次子", "23"),
        ("三子", "24"),
        ("四子", "25"),
        ("五子", "26"),
        ("养子或继子", "27"),
        ("养子", "27"),
        ("继子", "27"),
        ("女婿", "28"),
        ("其他儿子", "29"),
        ("女", "30"),
        ("女儿", "30"),
        ("独生女", "31"),
        ("长女", "32"),
        ("次女", "33"),
        ("三女", "34"),
        ("四女", "35"),
        ("五女", "36"),
        ("养女或继女", "37"),
        ("养女", "37"),
        ("继女", "37"),
        ("儿媳", "38"),
        ("其他女儿", "39"),
        ("孙子、孙女或外孙子、外孙女", "40"),
        ("孙子", "41"),
        ("孙女", "42"),
        ("外孙子", "43"),
        ("外孙女", "44"),
        ("父母", "50"),
        ("父亲", "51"),
        ("母亲", "52"),
        ("兄弟姐妹", "70"),
        ("其他", "99"),
    ];
    // Every two-digit code of the standard, so that codes are returned as static strings.
    const CODES: &[&str] = &[
        "00", "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12", "13", "14",
        "15", "16", "17", "18", "19", "20", "21", "22", "23", "24", "25", "26", "27", "28", "29",
        "30", "31", "32", "33", "34", "35", "36", "37", "38", "39", "40", "41", "42", "43", "44",
        "45", "46", "47", "48", "49", "50", "51", "52", "53", "54", "55", "56", "57", "58", "59",
        "60", "61", "62", "63", "64", "65", "66", "67", "68", "69", "70", "71", "72", "73", "74",
        "75", "76", "77", "78", "79", "80", "81", "82", "83", "84", "85", "86", "87", "88", "89",
        "90", "91", "92", "93", "94", "95", "96", "97", "98", "99",
    ];
    let t = text.trim();
    let t = t.strip_suffix(".0").unwrap_or(t);
    if let Ok(n) = t.parse::<usize>() {
        return (1..=99).contains(&n).then(|| CODES[n]);
    }
    LABELS
        .iter()
        .find(|(label, _)| *label == t)
        .map(|(_, c)| *c)
}

static HOUSEHOLD_FIELDS: &[F] = &[
    F::new("person_id", "公民身份号码", K::ResidentId)
        .required()
        .aliases(&["公民身份号码", "身份证号", "身份证号码"]),
    F::new("name", "姓名", K::Name).aliases(&["姓名"]),
    F::new("sex", "性别", K::Sex).aliases(&["性别"]),
    F::new("birth_date", "出生日期", K::Date).aliases(&["出生日期"]),
    F::new("household_no", "户号", K::Text).aliases(&["户号", "户编号"]),
    F::new("relation_to_head", "与户主关系", K::Text).aliases(&[
        "与户主关系",
        "与户主关系代码",
        "家庭关系",
    ]),
    F::new("village", "户籍地村代码", K::Village)
        .required()
        .aliases(&[
            "户籍地村代码",
            "村代码",
            "村居委会代码",
            "户籍地址代码",
            "居委会代码",
        ]),
    F::new("registration_date", "登记日期", K::Date).aliases(&[
        "登记日期",
        "户籍登记日期",
        "入户日期",
    ]),
    F::new(
        "registration_reason",
        "登记原因",
        K::Code(&REGISTRATION_REASON),
    )
    .aliases(&["登记原因", "入户原因", "户口登记原因"]),
    F::new("status", "户口状态", K::Code(&vocab::HOUSEHOLD_STATUS)).aliases(&[
        "户口状态",
        "人口状态",
        "状态",
    ]),
    F::new("mother_id", "母亲身份证号", K::ResidentId)
        .aliases(&["母亲身份证号", "母亲公民身份号码"]),
    F::new("father_id", "父亲身份证号", K::ResidentId)
        .aliases(&["父亲身份证号", "父亲公民身份号码"]),
];

/// The household registry (户籍).
#[derive(Debug, Clone, Copy, Default)]
pub struct Household;

impl Source for Household {
    fn id(&self) -> &'static str {
        "household"
    }
    fn label_zh(&self) -> &'static str {
        "户籍"
    }
    fn fields(&self) -> &'static [F] {
        HOUSEHOLD_FIELDS
    }
    fn key_field(&self) -> &'static str {
        "person_id"
    }
    // `check_row` maps the relation to its GB/T 4761 code.
    fn check_row_fields(&self) -> Option<&'static [&'static str]> {
        Some(&["relation_to_head"])
    }
    fn check_row(&self, row: &mut RowCheck<'_>) {
        if let Some(text) = row.text("relation_to_head") {
            match relation_code(text) {
                Some(code) => row.set("relation_to_head", Value::Str(code.into())),
                None => {
                    row.flag("relation_to_head", "unknown_code");
                    row.clear("relation_to_head");
                }
            }
        }
    }
}

static SCHOOL_FIELDS: &[F] = &[
    F::new("student_no", "学籍号", K::Text)
        .required()
        .aliases(&["学籍号", "全国学籍号", "学籍辅号"]),
    F::new("person_id", "身份证号", K::ResidentId).aliases(&[
        "身份证号",
        "身份证件号",
        "公民身份号码",
    ]),
    F::new("name", "姓名", K::Name).aliases(&["姓名", "学生姓名"]),
    F::new("sex", "性别", K::Sex).aliases(&["性别"]),
    F::new("birth_date", "出生日期", K::Date).aliases(&["出生日期"]),
    F::new("school", "学校名称", K::Text).aliases(&["学校名称", "学校"]),
    F::new("grade", "年级", K::Text).aliases(&["年级"]),
    F::new("enrolment_date", "入学日期", K::Month).aliases(&["入学日期", "入学年月", "入学时间"]),
];

/// School enrolment (学籍).
#[derive(Debug, Clone, Copy, Default)]
pub struct School;

impl Source for School {
    fn id(&self) -> &'static str {
        "school"
    }
    fn label_zh(&self) -> &'static str {
        "学籍"
    }
    fn fields(&self) -> &'static [F] {
        SCHOOL_FIELDS
    }
    fn key_field(&self) -> &'static str {
        "student_no"
    }
    // No row check.
    fn check_row_fields(&self) -> Option<&'static [&'static str]> {
        Some(&[])
    }
}

static MARRIAGE_FIELDS: &[F] = &[
    F::new("record_id", "登记编号", K::Text)
        .required()
        .aliases(&["登记编号", "婚姻登记编号", "登记证号", "记录编号"]),
    F::new("kind", "登记类型", K::Code(&MARRIAGE_KIND))
        .required()
        .aliases(&["登记类型", "业务类型", "婚姻登记类型"]),
    F::new("man_id", "男方身份证号", K::ResidentId)
        .required()
        .aliases(&["男方身份证号", "男方证件号码", "男方身份证件号码"]),
    F::new("woman_id", "女方身份证号", K::ResidentId)
        .required()
        .aliases(&["女方身份证号", "女方证件号码", "女方身份证件号码"]),
    F::new("registration_date", "登记日期", K::Date)
        .required()
        .aliases(&["登记日期", "婚姻登记日期"]),
];

/// Marriage registration (婚姻登记).
#[derive(Debug, Clone, Copy, Default)]
pub struct Marriage;

impl Source for Marriage {
    fn id(&self) -> &'static str {
        "marriage"
    }
    fn label_zh(&self) -> &'static str {
        "婚姻登记"
    }
    fn fields(&self) -> &'static [F] {
        MARRIAGE_FIELDS
    }
    fn key_field(&self) -> &'static str {
        "record_id"
    }
    // No row check.
    fn check_row_fields(&self) -> Option<&'static [&'static str]> {
        Some(&[])
    }
}

static SOCIAL_SECURITY_FIELDS: &[F] = &[
    F::new("person_id", "公民身份号码", K::ResidentId)
        .required()
        .aliases(&["公民身份号码", "身份证号", "社会保障号码", "身份证号码"]),
    F::new("name", "姓名", K::Name).aliases(&["姓名"]),
    F::new("scheme", "险种", K::Code(&SCHEME)).aliases(&["险种", "参保险种", "险种类型"]),
    F::new("insured_area", "参保地", K::AreaCode).aliases(&[
        "参保地",
        "参保地区划",
        "参保地行政区划代码",
        "参保地区划代码",
    ]),
    F::new("status", "参保状态", K::Code(&INSURANCE_STATUS)).aliases(&["参保状态", "缴费状态"]),
    F::new("start_date", "参保日期", K::Date).aliases(&["参保日期", "参保时间", "参保开始日期"]),
    F::new("maternity_claim_date", "生育津贴申领日期", K::Date).aliases(&[
        "生育津贴申领日期",
        "生育待遇申领日期",
        "生育津贴申请日期",
    ]),
];

/// Social security (社保).
#[derive(Debug, Clone, Copy, Default)]
pub struct SocialSecurity;

impl Source for SocialSecurity {
    fn id(&self) -> &'static str {
        "social_security"
    }
    fn label_zh(&self) -> &'static str {
        "社保"
    }
    fn fields(&self) -> &'static [F] {
        SOCIAL_SECURITY_FIELDS
    }
    fn key_field(&self) -> &'static str {
        "person_id"
    }
    // No row check.
    fn check_row_fields(&self) -> Option<&'static [&'static str]> {
        Some(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relation_codes_from_codes_and_labels() {
        assert_eq!(relation_code("2"), Some("02"));
        assert_eq!(relation_code("02"), Some("02"));
        assert_eq!(relation_code("户主"), Some("02"));
        assert_eq!(relation_code("长女"), Some("32"));
        assert_eq!(relation_code("养子"), Some("27"));
        assert_eq!(relation_code("37"), Some("37"));
        assert_eq!(relation_code("0"), None);
        assert_eq!(relation_code("邻居"), None);
    }

    #[test]
    fn every_registry_declares_its_key() {
        let sources: [&dyn Source; 4] = [&Household, &School, &Marriage, &SocialSecurity];
        for s in sources {
            let key = poprecon_ingest::field(s, s.key_field()).expect("key field declared");
            assert!(key.required, "{}: the key is required", s.id());
        }
    }

    /// The social-insurance schemes of the national list (AAE140) and their usual labels:
    /// pension, unemployment, medical, work injury and maternity, employee and resident.
    #[test]
    fn every_national_scheme_is_known() {
        for (label, code) in [
            ("企业职工基本养老保险", "employee_pension"),
            ("110", "employee_pension"),
            ("机关事业单位养老保险", "public_sector_pension"),
            ("城乡居民基本养老保险", "resident_pension"),
            ("新农保", "resident_pension"),
            ("失业保险", "unemployment"),
            ("职工基本医疗保险", "employee_medical"),
            ("城镇职工基本医疗保险", "employee_medical"),
            ("城乡居民基本医疗保险", "resident_medical"),
            ("新型农村合作医疗", "resident_medical"),
            ("大额医疗费用补助", "supplementary_medical"),
            ("工伤保险", "work_injury"),
            ("生育保险", "maternity"),
            ("510", "maternity"),
        ] {
            assert_eq!(SCHEME.lookup(label), Some(code), "{label}");
        }
        assert_eq!(INSURANCE_STATUS.lookup("2"), Some("suspended"));
        assert_eq!(
            vocab::HOUSEHOLD_STATUS.lookup("出国（境）定居注销"),
            Some("cancelled")
        );
    }

    #[test]
    fn school_enrolment_is_month_precision() {
        let f = poprecon_ingest::field(&School, "enrolment_date").unwrap();
        assert_eq!(f.kind, K::Month);
    }
}
