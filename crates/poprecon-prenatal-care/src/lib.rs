//! `prenatal_care` (孕产期保健): prenatal booking records (建册/建卡).
//!
//! [`PrenatalCare`] declares the schema, the usual headers and the source's own checks.

use poprecon_ingest::{FieldKind as K, FieldSpec as F, RowCheck, Source, aliases};

static FIELDS: &[F] = &[
    F::new("record_id", "保健手册编号", K::Text)
        .required()
        .aliases(&[
            "保健手册编号",
            "建册编号",
            "孕产妇编号",
            "孕产妇保健手册编号",
            "记录编号",
        ]),
    F::new("mother_id", "孕产妇身份证号", K::ResidentId)
        .required()
        .aliases(&[
            "孕产妇身份证号",
            "孕妇身份证号",
            "母亲身份证号",
            "身份证号",
            "身份证号码",
        ]),
    F::new("mother_name", "孕产妇姓名", K::Name).aliases(&["孕产妇姓名", "孕妇姓名", "姓名"]),
    F::new("booking_date", "建册日期", K::Date)
        .required()
        .aliases(&["建册日期", "建卡日期", "建档日期"]),
    F::new(
        "booking_gestational_weeks",
        "建册孕周",
        K::Int { min: 1, max: 45 },
    )
    .aliases(&["建册孕周", "建卡孕周", "建档孕周"]),
    F::new("visit_count", "产检次数", K::Int { min: 0, max: 60 })
        .aliases(&["产检次数", "产前检查次数"]),
    F::new("expected_delivery_date", "预产期", K::Date).aliases(&["预产期"]),
    F::new("high_risk", "高危孕产妇", K::Bool).aliases(&["是否高危", "高危", "高危孕产妇"]),
    F::new("institution", "建册机构", K::Text).aliases(&["建册机构", "保健机构", "机构名称"]),
    F::new("residence_village", "现居住地", K::Village).aliases(aliases::RESIDENCE_VILLAGE),
];

/// The prenatal-care source.
#[derive(Debug, Clone, Copy, Default)]
pub struct PrenatalCare;

impl Source for PrenatalCare {
    fn id(&self) -> &'static str {
        "prenatal_care"
    }
    fn label_zh(&self) -> &'static str {
        "孕产期保健"
    }
    fn fields(&self) -> &'static [F] {
        FIELDS
    }
    fn key_field(&self) -> &'static str {
        "record_id"
    }
    // What `check_row` reads and flags.
    fn check_row_fields(&self) -> Option<&'static [&'static str]> {
        Some(&["booking_date", "expected_delivery_date"])
    }
    fn check_row(&self, row: &mut RowCheck<'_>) {
        // A due date before the booking is a data-entry error.
        if let (Some(booking), Some(due)) =
            (row.date("booking_date"), row.date("expected_delivery_date"))
            && due < booking
        {
            row.flag("expected_delivery_date", "before_booking");
        }
    }
}
