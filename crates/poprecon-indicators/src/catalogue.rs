//! The indicator catalogue of domain.md §6: ids, names and definitions.

/// One indicator of the built-in catalogue.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Indicator {
    /// The id used in files and settings.
    pub id: &'static str,
    /// What its numerator and denominator count.
    pub membership: Membership,
    /// The name people read (Chinese, the default label).
    pub name_zh: &'static str,
    pub name_en: &'static str,
    /// What the numerator counts.
    pub numerator: &'static str,
    /// What the denominator counts (empty for `live_births`, a count).
    pub denominator: &'static str,
    /// The definition people read (统计口径说明), in Chinese.
    pub definition_zh: &'static str,
    /// The numerator in Chinese words.
    pub numerator_zh: &'static str,
    /// The denominator in Chinese words (empty for `live_births`).
    pub denominator_zh: &'static str,
    /// The default target of an assessment (`None`: not assessed by default). Rates are
    /// fractions (0.98), the sex ratio is boys per 100 girls.
    pub target: Option<f64>,
    /// Whether a lower value is better (`floating_birth_share` and the like are
    /// descriptive; `higher_order_birth_share` is lower-is-better).
    pub lower_is_better: bool,
}

// One argument per column of the catalogue table below, which reads as a table.
#[allow(clippy::too_many_arguments)]
const fn ind(
    id: &'static str,
    membership: Membership,
    name_zh: &'static str,
    name_en: &'static str,
    numerator: &'static str,
    denominator: &'static str,
    zh: [&'static str; 3],
    target: Option<f64>,
    lower_is_better: bool,
) -> Indicator {
    Indicator {
        id,
        membership,
        name_zh,
        name_en,
        numerator,
        denominator,
        definition_zh: zh[0],
        numerator_zh: zh[1],
        denominator_zh: zh[2],
        target,
        lower_is_better,
    }
}

/// The 14 indicators of domain.md §6, in its order.
pub const CATALOGUE: [Indicator; 14] = [
    ind(
        "live_births",
        Membership::LiveBirths,
        "活产数",
        "Live births",
        "live birth events",
        "",
        ["统计期内出生的活产婴儿数（出生事件数）", "活产婴儿数", ""],
        None,
        false,
    ),
    ind(
        "sex_ratio_at_birth",
        Membership::SexRatio,
        "出生人口性别比",
        "Sex ratio at birth",
        "male live births",
        "female live births (value = numerator / denominator × 100)",
        [
            "活产男婴数与活产女婴数之比乘以100（正常范围103–107，县级及以上判断）",
            "活产男婴数",
            "活产女婴数",
        ],
        Some(107.0),
        true,
    ),
    ind(
        "hospital_delivery_rate",
        Membership::HospitalDelivery,
        "住院分娩率",
        "Hospital delivery rate",
        "live births with a hospital delivery",
        "live births",
        [
            "有住院分娩记录的活产数占活产数的比例",
            "有住院分娩记录的活产数",
            "活产数",
        ],
        Some(0.98),
        false,
    ),
    ind(
        "birth_certificate_rate",
        Membership::BirthCertificate,
        "出生医学证明签发率",
        "Birth certificate issuance rate",
        "live births with a certificate among the denominator",
        "live births born on or before as_of − 30 days",
        [
            "出生满30天的活产中已签发出生医学证明的比例",
            "分母中已签发出生医学证明的活产数",
            "在数据截止日期30天前（含）出生的活产数",
        ],
        Some(0.98),
        false,
    ),
    ind(
        "household_registration_rate",
        Membership::HouseholdRegistration,
        "出生登记率",
        "Household birth registration rate",
        "births to non-floating mothers with a household record among the denominator",
        "births to non-floating mothers born on or before as_of − 60 days",
        [
            "非流动人口母亲所生、出生满60天的婴儿中已办理户籍出生登记的比例",
            "分母中有户籍记录的出生数",
            "非流动人口母亲所生、在数据截止日期60天前（含）出生的婴儿数",
        ],
        Some(0.95),
        false,
    ),
    ind(
        "registration_service_rate",
        Membership::RegistrationService,
        "生育登记率",
        "Birth registration service rate",
        "live births with the mother's birth registration",
        "live births",
        [
            "母亲办理了生育登记的活产数占活产数的比例",
            "母亲已办理生育登记的活产数",
            "活产数",
        ],
        Some(0.90),
        false,
    ),
    ind(
        "prenatal_booking_rate",
        Membership::PrenatalBooking,
        "孕产期保健建册率",
        "Prenatal booking rate",
        "deliveries with the mother's prenatal booking",
        "deliveries (live births with a hospital delivery)",
        [
            "产妇在分娩前建立孕产期保健手册的比例",
            "有孕产期保健建册记录的分娩数",
            "分娩数（有住院分娩记录的活产）",
        ],
        Some(0.90),
        false,
    ),
    ind(
        "early_prenatal_booking_rate",
        Membership::EarlyPrenatalBooking,
        "早孕建册率",
        "Early prenatal booking rate",
        "deliveries booked before 13 weeks of gestation",
        "deliveries (live births with a hospital delivery)",
        [
            "产妇在孕13周前建册的比例",
            "孕13周前建册的分娩数",
            "分娩数（有住院分娩记录的活产）",
        ],
        Some(0.80),
        false,
    ),
    ind(
        "hepb1_timely_rate",
        Membership::Hepb1Timely,
        "乙肝疫苗首针及时接种率",
        "Timely hepatitis B birth dose rate",
        "live births among the denominator with HepB dose 1 dated no later than the day after the birth date (not late)",
        "live births born on or before as_of − 7 days",
        [
            "出生满7天的活产中乙肝疫苗首针于出生当天或次日接种的比例",
            "分母中乙肝疫苗首针及时接种的活产数",
            "在数据截止日期7天前（含）出生的活产数",
        ],
        Some(0.95),
        false,
    ),
    ind(
        "policy_compliance_rate",
        Membership::PolicyCompliance,
        "政策符合率",
        "Family planning policy compliance rate",
        "births with a known order within the limit in force (or no limit in force)",
        "births with a known order",
        [
            "孩次可判定的出生中符合生育政策的比例",
            "孩次在当时政策限额内（或无限额）的出生数",
            "孩次可判定的出生数",
        ],
        Some(0.95),
        false,
    ),
    ind(
        "birth_info_accuracy_rate",
        Membership::BirthInfoAccuracy,
        "出生人口信息准确率",
        "Birth information accuracy rate",
        "births seen in ≥ 2 birth-level sources with no sex, date or mother-ID mismatch",
        "births seen in ≥ 2 birth-level sources",
        [
            "在两个及以上来源出现的出生中，性别、出生日期、母亲身份证号均一致的比例",
            "两个及以上来源出现且无性别、日期、母亲身份证号不一致的出生数",
            "在两个及以上出生相关来源出现的出生数",
        ],
        Some(0.98),
        false,
    ),
    ind(
        "floating_birth_share",
        Membership::FloatingBirthShare,
        "流动人口出生占比",
        "Share of births to floating mothers",
        "births to floating mothers",
        "live births",
        [
            "流动人口母亲所生活产数占活产数的比例",
            "流动人口母亲所生的活产数",
            "活产数",
        ],
        None,
        false,
    ),
    ind(
        "floating_prenatal_booking_rate",
        Membership::FloatingPrenatalBooking,
        "流动人口孕产期保健建册率",
        "Prenatal booking rate of floating mothers",
        "floating mothers' deliveries with a prenatal booking",
        "floating mothers' deliveries",
        [
            "流动人口产妇建立孕产期保健手册的比例",
            "流动人口产妇有建册记录的分娩数",
            "流动人口产妇的分娩数",
        ],
        Some(0.85),
        false,
    ),
    ind(
        "higher_order_birth_share",
        Membership::HigherOrderBirthShare,
        "多孩率",
        "Higher-order birth share",
        "births of order 3 or more",
        "births with a known order",
        [
            "孩次可判定的出生中第三孩及以上的比例",
            "孩次为3及以上的出生数",
            "孩次可判定的出生数",
        ],
        None,
        true,
    ),
];

/// How an indicator's value reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A count (`live_births`).
    Count,
    /// Per 100 (`sex_ratio_at_birth`: boys per 100 girls).
    Per100,
    /// A fraction shown as a percentage.
    Share,
}

/// What an indicator counts, one variant per indicator of the catalogue: `compute.rs` gives
/// each its numerator and denominator membership, and nothing else decides what an indicator
/// counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Membership {
    LiveBirths,
    SexRatio,
    HospitalDelivery,
    BirthCertificate,
    HouseholdRegistration,
    RegistrationService,
    PrenatalBooking,
    EarlyPrenatalBooking,
    Hepb1Timely,
    PolicyCompliance,
    BirthInfoAccuracy,
    FloatingBirthShare,
    FloatingPrenatalBooking,
    HigherOrderBirthShare,
}

impl Membership {
    /// How the value reads.
    pub const fn unit(self) -> Unit {
        match self {
            Membership::LiveBirths => Unit::Count,
            Membership::SexRatio => Unit::Per100,
            Membership::HospitalDelivery
            | Membership::BirthCertificate
            | Membership::HouseholdRegistration
            | Membership::RegistrationService
            | Membership::PrenatalBooking
            | Membership::EarlyPrenatalBooking
            | Membership::Hepb1Timely
            | Membership::PolicyCompliance
            | Membership::BirthInfoAccuracy
            | Membership::FloatingBirthShare
            | Membership::FloatingPrenatalBooking
            | Membership::HigherOrderBirthShare => Unit::Share,
        }
    }

    /// Whether the units are deliveries, live birth or stillbirth (domain.md §8.4), rather
    /// than live births.
    pub const fn counts_deliveries(self) -> bool {
        match self {
            Membership::PrenatalBooking
            | Membership::EarlyPrenatalBooking
            | Membership::FloatingPrenatalBooking => true,
            Membership::LiveBirths
            | Membership::SexRatio
            | Membership::HospitalDelivery
            | Membership::BirthCertificate
            | Membership::HouseholdRegistration
            | Membership::RegistrationService
            | Membership::Hepb1Timely
            | Membership::PolicyCompliance
            | Membership::BirthInfoAccuracy
            | Membership::FloatingBirthShare
            | Membership::HigherOrderBirthShare => false,
        }
    }

    /// The birth-level source whose probabilistic links the numerator depends on: the
    /// indicator is also reported at a strict and a loose match threshold.
    pub const fn linked_source(self) -> Option<&'static str> {
        match self {
            Membership::HospitalDelivery => Some("hospital_delivery"),
            Membership::BirthCertificate => Some("birth_certificate"),
            Membership::HouseholdRegistration => Some("household"),
            Membership::Hepb1Timely => Some("vaccination"),
            Membership::LiveBirths
            | Membership::SexRatio
            | Membership::RegistrationService
            | Membership::PrenatalBooking
            | Membership::EarlyPrenatalBooking
            | Membership::PolicyCompliance
            | Membership::BirthInfoAccuracy
            | Membership::FloatingBirthShare
            | Membership::FloatingPrenatalBooking
            | Membership::HigherOrderBirthShare => None,
        }
    }
}

impl Indicator {
    /// How the value reads.
    pub fn unit(&self) -> Unit {
        self.membership.unit()
    }
}

/// The catalogue entry of `id`.
pub fn indicator(id: &str) -> Option<&'static Indicator> {
    CATALOGUE.iter().find(|i| i.id == id)
}
