//! `hospital_delivery` (住院分娩): one row per child delivered in a medical institution.
//!
//! [`HospitalDelivery`] declares the schema, the usual headers, the outcome and
//! delivery-mode vocabularies, and the source's own checks (plurality and `birth_seq`).

use poprecon_ingest::{CodeMap, FieldKind as K, FieldSpec as F, RowCheck, Source, aliases};

/// Pregnancy outcome of the child.
pub static OUTCOME: CodeMap = CodeMap {
    name: "outcome",
    entries: &[
        ("活产", "live"),
        ("活产儿", "live"),
        ("live", "live"),
        ("1", "live"),
        ("死产", "stillbirth"),
        ("死胎", "stillbirth"),
        ("死胎死产", "stillbirth"),
        ("stillbirth", "stillbirth"),
        ("2", "stillbirth"),
        ("活婴", "live"),
        ("活产婴儿", "live"),
        ("死产儿", "stillbirth"),
        ("死胎儿", "stillbirth"),
    ],
};

/// Mode of delivery.
pub static DELIVERY_MODE: CodeMap = CodeMap {
    name: "delivery_mode",
    entries: &[
        ("顺产", "vaginal"),
        ("自然分娩", "vaginal"),
        ("阴道分娩", "vaginal"),
        ("阴道自然分娩", "vaginal"),
        ("自然产", "vaginal"),
        ("vaginal", "vaginal"),
        ("剖宫产", "caesarean"),
        ("剖腹产", "caesarean"),
        ("剖宫产术", "caesarean"),
        ("子宫下段剖宫产", "caesarean"),
        ("caesarean", "caesarean"),
        ("助产", "assisted"),
        ("阴道助产", "assisted"),
        ("产钳", "assisted"),
        ("产钳助产", "assisted"),
        ("阴道手术助产", "assisted"),
        ("胎头吸引", "assisted"),
        ("胎吸", "assisted"),
        ("胎头吸引术", "assisted"),
        ("臀位助产", "assisted"),
        ("臀牵引", "assisted"),
        ("assisted", "assisted"),
    ],
};

static FIELDS: &[F] = &[
    F::new("record_id", "分娩记录编号", K::Text)
        .required()
        .aliases(&["分娩记录编号", "分娩编号", "住院号", "记录编号"]),
    F::new("mother_id", "产妇身份证号", K::ResidentId)
        .required()
        .aliases(&[
            "产妇身份证号",
            "母亲身份证号",
            "母亲有效身份证件号码",
            "产妇身份证号码",
        ]),
    F::new("mother_name", "产妇姓名", K::Name).aliases(&["产妇姓名", "母亲姓名"]),
    F::new("delivery_date", "分娩时间", K::DateTime)
        .required()
        .aliases(&["分娩时间", "分娩日期", "出生时间", "出生日期"]),
    F::new("institution", "助产机构", K::Text).aliases(&["助产机构", "分娩机构", "接生机构"]),
    F::new("delivery_mode", "分娩方式", K::Code(&DELIVERY_MODE)).aliases(&["分娩方式"]),
    F::new("gestational_weeks", "孕周", K::Int { min: 20, max: 45 }).aliases(&[
        "孕周",
        "分娩孕周",
        "孕周数",
    ]),
    F::new("outcome", "妊娠结局", K::Code(&OUTCOME)).aliases(&["妊娠结局", "分娩结局", "出生结局"]),
    F::new("plurality", "胎数", K::Int { min: 1, max: 8 }).aliases(&["胎数", "胎儿数"]),
    F::new("birth_seq", "多胎顺序", K::Int { min: 1, max: 8 }).aliases(&[
        "多胎顺序",
        "胎儿顺序",
        "出生顺序",
    ]),
    F::new("child_sex", "新生儿性别", K::Sex).aliases(&["新生儿性别", "婴儿性别", "性别"]),
    F::new(
        "birth_weight_g",
        "出生体重(克)",
        K::Int {
            min: 200,
            max: 7000,
        },
    )
    .aliases(&["出生体重(克)", "出生体重", "新生儿体重"]),
    F::new("residence_village", "现居住地", K::Village).aliases(aliases::RESIDENCE_VILLAGE),
];

/// The hospital-delivery source.
#[derive(Debug, Clone, Copy, Default)]
pub struct HospitalDelivery;

impl Source for HospitalDelivery {
    fn id(&self) -> &'static str {
        "hospital_delivery"
    }
    fn label_zh(&self) -> &'static str {
        "住院分娩"
    }
    fn fields(&self) -> &'static [F] {
        FIELDS
    }
    fn key_field(&self) -> &'static str {
        "record_id"
    }
    // What `check_row` reads, flags and clears.
    fn check_row_fields(&self) -> Option<&'static [&'static str]> {
        Some(&["birth_seq", "plurality"])
    }
    fn check_row(&self, row: &mut RowCheck<'_>) {
        // The rank within a multiple birth cannot exceed the number of children born.
        if let (Some(seq), Some(n)) = (row.int("birth_seq"), row.int("plurality"))
            && seq > n
        {
            row.flag("birth_seq", "exceeds_plurality");
            row.clear("birth_seq");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabularies_map_the_usual_spellings() {
        assert_eq!(OUTCOME.lookup("活产"), Some("live"));
        assert_eq!(OUTCOME.lookup(" 死胎 "), Some("stillbirth"));
        assert_eq!(DELIVERY_MODE.lookup("剖宫产"), Some("caesarean"));
        assert_eq!(DELIVERY_MODE.lookup("飞行"), None);
    }
}
