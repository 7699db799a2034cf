//! `birth_certificate` (出生医学证明): one row per certificate issued.
//!
//! [`BirthCertificate`] declares the schema, the usual headers, the birth-place and
//! issue-type vocabularies, and the source's own check (the number's format).

use poprecon_ingest::{CodeMap, FieldKind as K, FieldSpec as F, RowCheck, Source};

/// Where the child was born. 医院 and 妇幼保健院 are medical institutions (domain.md §8.20).
pub static BIRTH_PLACE_TYPE: CodeMap = CodeMap {
    name: "birth_place_type",
    entries: &[
        ("医院", "medical_institution"),
        ("妇幼保健院", "medical_institution"),
        ("妇幼保健院(站)", "medical_institution"),
        ("医疗机构", "medical_institution"),
        ("卫生院", "medical_institution"),
        ("乡镇卫生院", "medical_institution"),
        ("社区卫生服务中心", "medical_institution"),
        ("妇幼保健机构", "medical_institution"),
        ("医疗卫生机构", "medical_institution"),
        ("medical_institution", "medical_institution"),
        ("1", "medical_institution"),
        ("家庭", "home"),
        ("家中", "home"),
        ("家里", "home"),
        ("在家", "home"),
        ("home", "home"),
        ("2", "home"),
        ("途中", "other"),
        ("路途中", "other"),
        ("急救车上", "other"),
        ("其他", "other"),
        ("other", "other"),
        ("9", "other"),
    ],
};

/// First issue, reissue (lost original) or replacement (corrected details).
pub static ISSUE_TYPE: CodeMap = CodeMap {
    name: "issue_type",
    entries: &[
        ("首次签发", "first"),
        ("首签", "first"),
        ("首发", "first"),
        ("首次", "first"),
        ("first", "first"),
        ("补发", "reissue"),
        ("补办", "reissue"),
        ("reissue", "reissue"),
        ("换发", "replacement"),
        ("换证", "replacement"),
        ("replacement", "replacement"),
    ],
};

static FIELDS: &[F] = &[
    // The key is kept exactly as written (after trimming); its format is checked below.
    F::new("certificate_no", "出生医学证明编号", K::Text)
        .required()
        .aliases(&[
            "出生医学证明编号",
            "出生证编号",
            "证明编号",
            "出生医学证明号",
        ]),
    F::new("child_name", "新生儿姓名", K::Name).aliases(&["新生儿姓名", "婴儿姓名", "姓名"]),
    F::new("child_sex", "性别", K::Sex)
        .required()
        .aliases(&["性别", "新生儿性别"]),
    F::new("birth_date", "出生时间", K::DateTime)
        .required()
        .aliases(&["出生时间", "出生日期"]),
    F::new(
        "birth_place_type",
        "出生地点分类",
        K::Code(&BIRTH_PLACE_TYPE),
    )
    .aliases(&["出生地点分类", "出生地点类型", "出生地分类"]),
    F::new("institution", "接生机构名称", K::Text).aliases(&[
        "接生机构名称",
        "接生机构",
        "助产机构",
    ]),
    F::new("mother_id", "母亲有效身份证件号码", K::ResidentId).aliases(&[
        "母亲有效身份证件号码",
        "母亲身份证号",
        "母亲身份证件号码",
    ]),
    F::new("mother_name", "母亲姓名", K::Name).aliases(&["母亲姓名"]),
    F::new("father_id", "父亲有效身份证件号码", K::ResidentId).aliases(&[
        "父亲有效身份证件号码",
        "父亲身份证号",
        "父亲身份证件号码",
    ]),
    F::new("father_name", "父亲姓名", K::Name).aliases(&["父亲姓名"]),
    F::new("issue_date", "签发日期", K::Date).aliases(&["签发日期", "发证日期"]),
    F::new("issue_type", "签发类型", K::Code(&ISSUE_TYPE)).aliases(&["签发类型", "签发方式"]),
];

/// The birth-certificate source.
#[derive(Debug, Clone, Copy, Default)]
pub struct BirthCertificate;

impl Source for BirthCertificate {
    fn id(&self) -> &'static str {
        "birth_certificate"
    }
    fn label_zh(&self) -> &'static str {
        "出生医学证明"
    }
    fn fields(&self) -> &'static [F] {
        FIELDS
    }
    fn key_field(&self) -> &'static str {
        "certificate_no"
    }
    // What `check_row` reads and flags.
    fn check_row_fields(&self) -> Option<&'static [&'static str]> {
        Some(&["certificate_no", "birth_date", "issue_date"])
    }
    fn check_row(&self, row: &mut RowCheck<'_>) {
        if let Some(no) = row.text("certificate_no")
            && poprecon_model::CertificateNo::parse(no).is_err()
        {
            row.flag("certificate_no", "certificate_format");
        }
        if let (Some(born), Some(issued)) = (row.date("birth_date"), row.date("issue_date"))
            && issued < born
        {
            row.flag("issue_date", "before_birth");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medical_institutions_per_domain_reading() {
        assert_eq!(BIRTH_PLACE_TYPE.lookup("医院"), Some("medical_institution"));
        assert_eq!(
            BIRTH_PLACE_TYPE.lookup("妇幼保健院"),
            Some("medical_institution")
        );
        assert_eq!(BIRTH_PLACE_TYPE.lookup("家庭"), Some("home"));
        assert_eq!(ISSUE_TYPE.lookup("补发"), Some("reissue"));
    }
}
