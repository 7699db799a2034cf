//! `birth_registration` (生育登记): the birth-service registration of a couple.
//!
//! [`BirthRegistration`] declares the schema, the usual headers of real extracts and the
//! source's own checks; `poprecon-ingest` does the reading.

use poprecon_ingest::{FieldKind as K, FieldSpec as F, Source, aliases};

static FIELDS: &[F] = &[
    F::new("record_id", "登记编号", K::Text)
        .required()
        .aliases(&["登记编号", "生育登记编号", "服务登记编号", "记录编号"]),
    F::new("registration_date", "登记日期", K::Date)
        .required()
        .aliases(&["登记日期", "生育登记日期", "办理日期"]),
    F::new("woman_id", "女方身份证号", K::ResidentId)
        .required()
        .aliases(&[
            "女方身份证号",
            "女方身份证号码",
            "女方公民身份号码",
            "妻子身份证号",
        ]),
    F::new("woman_name", "女方姓名", K::Name).aliases(&["女方姓名", "妻子姓名"]),
    F::new("man_id", "男方身份证号", K::ResidentId).aliases(&[
        "男方身份证号",
        "男方身份证号码",
        "男方公民身份号码",
        "丈夫身份证号",
    ]),
    F::new("man_name", "男方姓名", K::Name).aliases(&["男方姓名", "丈夫姓名"]),
    F::new("child_order", "孩次", K::Int { min: 1, max: 20 }).aliases(&[
        "孩次",
        "登记孩次",
        "生育孩次",
        "本次生育孩次",
    ]),
    F::new("residence_village", "现居住地", K::Village).aliases(aliases::RESIDENCE_VILLAGE),
];

/// The birth-registration source.
#[derive(Debug, Clone, Copy, Default)]
pub struct BirthRegistration;

impl Source for BirthRegistration {
    fn id(&self) -> &'static str {
        "birth_registration"
    }
    fn label_zh(&self) -> &'static str {
        "生育登记"
    }
    fn fields(&self) -> &'static [F] {
        FIELDS
    }
    fn key_field(&self) -> &'static str {
        "record_id"
    }
    // No row check.
    fn check_row_fields(&self) -> Option<&'static [&'static str]> {
        Some(&[])
    }
}
