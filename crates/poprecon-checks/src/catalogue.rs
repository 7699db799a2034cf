//! The rule catalogue of domain.md §5: ids, names, default severities and what each rule
//! counts in its village denominator.

use serde::{Deserialize, Serialize};

/// How urgent a discrepancy is for the data team.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    High,
    Medium,
    Low,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
        }
    }
}

/// A rule of the catalogue. The string form ([`RuleId::as_str`]) is the id of domain.md §5,
/// used in pipeline files and in every output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RuleId {
    DeliveryWithoutCertificate,
    CertificateWithoutDelivery,
    BirthWithoutHouseholdRegistration,
    HouseholdBirthWithoutCertificate,
    BirthWithoutRegistrationService,
    DeliveryWithoutPrenatalBooking,
    BirthWithoutHepb1,
    LateHepb1,
    LatePrenatalBooking,
    LateHouseholdRegistration,
    SexMismatch,
    BirthDateMismatch,
    MotherIdMismatch,
    IdNumberConflict,
    ChildOrderMismatch,
    OutOfPolicyBirth,
    RegistrationWithoutMarriage,
    MaternityClaimWithoutDelivery,
    StudentWithoutHouseholdRegistration,
    DuplicateRecord,
    AmbiguousLink,
    InvalidValue,
}

/// What the catalogue says of one rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleInfo {
    pub id: RuleId,
    pub name_zh: &'static str,
    pub name_en: &'static str,
    /// Severity unless the pipeline sets another.
    pub severity: Severity,
    /// What the rule's village denominator counts.
    pub denominator: &'static str,
}

impl RuleId {
    /// Every rule, in the order of domain.md §5.
    pub const ALL: [RuleId; 22] = [
        RuleId::DeliveryWithoutCertificate,
        RuleId::CertificateWithoutDelivery,
        RuleId::BirthWithoutHouseholdRegistration,
        RuleId::HouseholdBirthWithoutCertificate,
        RuleId::BirthWithoutRegistrationService,
        RuleId::DeliveryWithoutPrenatalBooking,
        RuleId::BirthWithoutHepb1,
        RuleId::LateHepb1,
        RuleId::LatePrenatalBooking,
        RuleId::LateHouseholdRegistration,
        RuleId::SexMismatch,
        RuleId::BirthDateMismatch,
        RuleId::MotherIdMismatch,
        RuleId::IdNumberConflict,
        RuleId::ChildOrderMismatch,
        RuleId::OutOfPolicyBirth,
        RuleId::RegistrationWithoutMarriage,
        RuleId::MaternityClaimWithoutDelivery,
        RuleId::StudentWithoutHouseholdRegistration,
        RuleId::DuplicateRecord,
        RuleId::AmbiguousLink,
        RuleId::InvalidValue,
    ];

    pub fn as_str(self) -> &'static str {
        ID_STRINGS[self as usize]
    }

    /// The rule of an id string.
    pub fn parse(id: &str) -> Option<RuleId> {
        RuleId::ALL.into_iter().find(|r| r.as_str() == id)
    }

    pub fn info(self) -> &'static RuleInfo {
        &CATALOGUE[self as usize]
    }

    pub fn default_severity(self) -> Severity {
        self.info().severity
    }
}

/// What a rule reads: the births stage (one row per birth, or per delivery for the booking
/// rule), or every record of its source (domain.md §8.13).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    Birth(BirthRule),
    Record(RecordRule),
}

/// The rules over the births stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BirthRule {
    DeliveryWithoutCertificate,
    CertificateWithoutDelivery,
    BirthWithoutHouseholdRegistration,
    HouseholdBirthWithoutCertificate,
    BirthWithoutRegistrationService,
    DeliveryWithoutPrenatalBooking,
    BirthWithoutHepb1,
    LateHepb1,
    LateHouseholdRegistration,
    SexMismatch,
    BirthDateMismatch,
    MotherIdMismatch,
    ChildOrderMismatch,
    OutOfPolicyBirth,
    AmbiguousLink,
}

/// The rules over every record of their source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RecordRule {
    LatePrenatalBooking,
    RegistrationWithoutMarriage,
    MaternityClaimWithoutDelivery,
    StudentWithoutHouseholdRegistration,
    DuplicateRecord,
    InvalidValue,
    IdNumberConflict,
}

impl RuleId {
    /// What the rule reads (every rule says, no default).
    pub(crate) const fn scope(self) -> Scope {
        use BirthRule as B;
        use RecordRule as R;
        match self {
            RuleId::DeliveryWithoutCertificate => Scope::Birth(B::DeliveryWithoutCertificate),
            RuleId::CertificateWithoutDelivery => Scope::Birth(B::CertificateWithoutDelivery),
            RuleId::BirthWithoutHouseholdRegistration => {
                Scope::Birth(B::BirthWithoutHouseholdRegistration)
            }
            RuleId::HouseholdBirthWithoutCertificate => {
                Scope::Birth(B::HouseholdBirthWithoutCertificate)
            }
            RuleId::BirthWithoutRegistrationService => {
                Scope::Birth(B::BirthWithoutRegistrationService)
            }
            RuleId::DeliveryWithoutPrenatalBooking => {
                Scope::Birth(B::DeliveryWithoutPrenatalBooking)
            }
            RuleId::BirthWithoutHepb1 => Scope::Birth(B::BirthWithoutHepb1),
            RuleId::LateHepb1 => Scope::Birth(B::LateHepb1),
            RuleId::LatePrenatalBooking => Scope::Record(R::LatePrenatalBooking),
            RuleId::LateHouseholdRegistration => Scope::Birth(B::LateHouseholdRegistration),
            RuleId::SexMismatch => Scope::Birth(B::SexMismatch),
            RuleId::BirthDateMismatch => Scope::Birth(B::BirthDateMismatch),
            RuleId::MotherIdMismatch => Scope::Birth(B::MotherIdMismatch),
            RuleId::IdNumberConflict => Scope::Record(R::IdNumberConflict),
            RuleId::ChildOrderMismatch => Scope::Birth(B::ChildOrderMismatch),
            RuleId::OutOfPolicyBirth => Scope::Birth(B::OutOfPolicyBirth),
            RuleId::RegistrationWithoutMarriage => Scope::Record(R::RegistrationWithoutMarriage),
            RuleId::MaternityClaimWithoutDelivery => {
                Scope::Record(R::MaternityClaimWithoutDelivery)
            }
            RuleId::StudentWithoutHouseholdRegistration => {
                Scope::Record(R::StudentWithoutHouseholdRegistration)
            }
            RuleId::DuplicateRecord => Scope::Record(R::DuplicateRecord),
            RuleId::AmbiguousLink => Scope::Birth(B::AmbiguousLink),
            RuleId::InvalidValue => Scope::Record(R::InvalidValue),
        }
    }
}

impl std::fmt::Display for RuleId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

const ID_STRINGS: [&str; 22] = [
    "delivery_without_certificate",
    "certificate_without_delivery",
    "birth_without_household_registration",
    "household_birth_without_certificate",
    "birth_without_registration_service",
    "delivery_without_prenatal_booking",
    "birth_without_hepb1",
    "late_hepb1",
    "late_prenatal_booking",
    "late_household_registration",
    "sex_mismatch",
    "birth_date_mismatch",
    "mother_id_mismatch",
    "id_number_conflict",
    "child_order_mismatch",
    "out_of_policy_birth",
    "registration_without_marriage",
    "maternity_claim_without_delivery",
    "student_without_household_registration",
    "duplicate_record",
    "ambiguous_link",
    "invalid_value",
];

const fn info(
    id: RuleId,
    name_zh: &'static str,
    name_en: &'static str,
    severity: Severity,
    denominator: &'static str,
) -> RuleInfo {
    RuleInfo {
        id,
        name_zh,
        name_en,
        severity,
        denominator,
    }
}

use Severity::{High, Low, Medium};

/// The 22 rules of domain.md §5, in its order. Severities are poprecon's defaults: `high`
/// for what changes the count or identity of births (missing certificate or household
/// registration, sex, mother and policy conflicts), `medium` for missing services and
/// conflicts an analyst must look at, `low` for timeliness and data-entry quality.
pub static CATALOGUE: [RuleInfo; 22] = [
    info(
        RuleId::DeliveryWithoutCertificate,
        "住院分娩无出生医学证明",
        "Delivery without birth certificate",
        High,
        "live births with a delivery, born on or before as_of minus the grace period",
    ),
    info(
        RuleId::CertificateWithoutDelivery,
        "出生医学证明无住院分娩记录",
        "Certificate without hospital delivery",
        Medium,
        "births whose certificate names a medical institution as the place of birth",
    ),
    info(
        RuleId::BirthWithoutHouseholdRegistration,
        "出生未落户",
        "Birth not registered in the household registry",
        High,
        "births to non-floating mothers, born on or before as_of minus the grace period",
    ),
    info(
        RuleId::HouseholdBirthWithoutCertificate,
        "户籍出生登记无出生医学证明",
        "Household birth registration without certificate",
        High,
        "births with a household record registered by reason of birth, born in the period",
    ),
    info(
        RuleId::BirthWithoutRegistrationService,
        "未办理生育登记",
        "Birth without birth-service registration",
        Medium,
        "live births",
    ),
    info(
        RuleId::DeliveryWithoutPrenatalBooking,
        "分娩无孕产期保健建册",
        "Delivery without prenatal booking",
        Medium,
        "deliveries: live births with a delivery and stillbirth deliveries of the period",
    ),
    info(
        RuleId::BirthWithoutHepb1,
        "新生儿无乙肝疫苗首针记录",
        "Newborn without HepB dose 1",
        High,
        "live births born on or before as_of minus the grace period",
    ),
    info(
        RuleId::LateHepb1,
        "乙肝疫苗首针未及时接种",
        "HepB dose 1 not timely",
        Medium,
        "live births with a HepB dose 1",
    ),
    info(
        RuleId::LatePrenatalBooking,
        "未早孕建册",
        "Late prenatal booking",
        Low,
        "prenatal bookings with a gestational age",
    ),
    info(
        RuleId::LateHouseholdRegistration,
        "出生登记不及时",
        "Late household registration",
        Low,
        "births with a household registration date",
    ),
    info(
        RuleId::SexMismatch,
        "性别不一致",
        "Sex mismatch",
        High,
        "births with the child's sex in two sources or more",
    ),
    info(
        RuleId::BirthDateMismatch,
        "出生日期不一致",
        "Birth date mismatch",
        Medium,
        "births with a birth date in two sources or more",
    ),
    info(
        RuleId::MotherIdMismatch,
        "母亲身份证号不一致",
        "Mother ID mismatch",
        High,
        "births with a valid mother ID in two sources or more",
    ),
    info(
        RuleId::IdNumberConflict,
        "身份证号与登记信息不符",
        "ID number conflicts with recorded data",
        Medium,
        "records of all sources with a valid ID checked, per ID field",
    ),
    info(
        RuleId::ChildOrderMismatch,
        "孩次不一致",
        "Child order mismatch",
        Medium,
        "birth registrations with a declared and a computed order",
    ),
    info(
        RuleId::OutOfPolicyBirth,
        "政策外生育",
        "Out-of-policy birth",
        High,
        "births with a known birth order",
    ),
    info(
        RuleId::RegistrationWithoutMarriage,
        "生育登记无婚姻登记",
        "Registration without marriage record",
        Low,
        "birth registrations",
    ),
    info(
        RuleId::MaternityClaimWithoutDelivery,
        "生育津贴无分娩记录",
        "Maternity claim without delivery",
        Medium,
        "maternity claims",
    ),
    info(
        RuleId::StudentWithoutHouseholdRegistration,
        "在籍学生无户籍",
        "Student without household registration",
        Medium,
        "school records (matched to household records by valid ID only)",
    ),
    info(
        RuleId::DuplicateRecord,
        "重复记录",
        "Duplicate record",
        Low,
        "records of the sources checked",
    ),
    info(
        RuleId::AmbiguousLink,
        "关联冲突",
        "Ambiguous link",
        Medium,
        "live births",
    ),
    info(
        RuleId::InvalidValue,
        "数据项不合规",
        "Invalid value",
        Low,
        "records of all sources",
    ),
];
