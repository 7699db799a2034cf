//! The indicator catalogue of domain.md §6: ids, names and definitions.

/// One indicator of the built-in catalogue.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Indicator {
    /// The id used in files and settings.
    pub id: &'static str,
    /// The name people read (Chinese, the default label).
    pub name_zh: &'static str,
    pub name_en: &'static str,
    /// What the numerator counts.
    pub numerator: &'static str,
    /// What the denominator counts (empty for `live_births`, a count).
    pub denominator: &'static str,
    /// The default target of an assessment (`None`: not assessed by default). Rates are
    /// fractions (0.98), the sex ratio is boys per 100 girls.
    pub target: Option<f64>,
    /// Whether a lower value is better (`floating_birth_share` and the like are
    /// descriptive; `higher_order_birth_share` is lower-is-better).
    pub lower_is_better: bool,
}

const fn ind(
    id: &'static str,
    name_zh: &'static str,
    name_en: &'static str,
    numerator: &'static str,
    denominator: &'static str,
    target: Option<f64>,
    lower_is_better: bool,
) -> Indicator {
    Indicator {
        id,
        name_zh,
        name_en,
        numerator,
        denominator,
        target,
        lower_is_better,
    }
}

/// The 14 indicators of domain.md §6, in its order.
pub const CATALOGUE: [Indicator; 14] = [
    ind(
        "live_births",
        "活产数",
        "Live births",
        "live birth events",
        "",
        None,
        false,
    ),
    ind(
        "sex_ratio_at_birth",
        "出生人口性别比",
        "Sex ratio at birth",
        "male live births",
        "female live births (value = numerator / denominator × 100)",
        Some(107.0),
        true,
    ),
    ind(
        "hospital_delivery_rate",
        "住院分娩率",
        "Hospital delivery rate",
        "live births with a hospital delivery",
        "live births",
        Some(0.98),
        false,
    ),
    ind(
        "birth_certificate_rate",
        "出生医学证明签发率",
        "Birth certificate issuance rate",
        "live births with a certificate among the denominator",
        "live births born on or before as_of − 30 days",
        Some(0.98),
        false,
    ),
    ind(
        "household_registration_rate",
        "出生登记率",
        "Household birth registration rate",
        "births to non-floating mothers with a household record among the denominator",
        "births to non-floating mothers born on or before as_of − 60 days",
        Some(0.95),
        false,
    ),
    ind(
        "registration_service_rate",
        "生育登记率",
        "Birth registration service rate",
        "live births with the mother's birth registration",
        "live births",
        Some(0.90),
        false,
    ),
    ind(
        "prenatal_booking_rate",
        "孕产期保健建册率",
        "Prenatal booking rate",
        "deliveries with the mother's prenatal booking",
        "deliveries (live births with a hospital delivery)",
        Some(0.90),
        false,
    ),
    ind(
        "early_prenatal_booking_rate",
        "早孕建册率",
        "Early prenatal booking rate",
        "deliveries booked before 13 weeks of gestation",
        "deliveries (live births with a hospital delivery)",
        Some(0.80),
        false,
    ),
    ind(
        "hepb1_timely_rate",
        "乙肝疫苗首针及时接种率",
        "Timely hepatitis B birth dose rate",
        "live births among the denominator with HepB dose 1 dated no later than the day after the birth date (not late)",
        "live births born on or before as_of − 7 days",
        Some(0.95),
        false,
    ),
    ind(
        "policy_compliance_rate",
        "政策符合率",
        "Family planning policy compliance rate",
        "births with a known order within the limit in force (or no limit in force)",
        "births with a known order",
        Some(0.95),
        false,
    ),
    ind(
        "birth_info_accuracy_rate",
        "出生人口信息准确率",
        "Birth information accuracy rate",
        "births seen in ≥ 2 birth-level sources with no sex, date or mother-ID mismatch",
        "births seen in ≥ 2 birth-level sources",
        Some(0.98),
        false,
    ),
    ind(
        "floating_birth_share",
        "流动人口出生占比",
        "Share of births to floating mothers",
        "births to floating mothers",
        "live births",
        None,
        false,
    ),
    ind(
        "floating_prenatal_booking_rate",
        "流动人口孕产期保健建册率",
        "Prenatal booking rate of floating mothers",
        "floating mothers' deliveries with a prenatal booking",
        "floating mothers' deliveries",
        Some(0.85),
        false,
    ),
    ind(
        "higher_order_birth_share",
        "多孩率",
        "Higher-order birth share",
        "births of order 3 or more",
        "births with a known order",
        None,
        true,
    ),
];

/// The catalogue entry of `id`.
pub fn indicator(id: &str) -> Option<&'static Indicator> {
    CATALOGUE.iter().find(|i| i.id == id)
}

/// The indicators reported at a strict and a loose match threshold: those whose numerator
/// depends on a probabilistic link of a birth-level source, and that source.
pub(crate) fn linked_source(id: &str) -> Option<&'static str> {
    match id {
        "hospital_delivery_rate" => Some("hospital_delivery"),
        "birth_certificate_rate" => Some("birth_certificate"),
        "household_registration_rate" => Some("household"),
        "hepb1_timely_rate" => Some("vaccination"),
        _ => None,
    }
}
