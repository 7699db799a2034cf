//! The `[rules]` section of a pipeline file: one table per rule of the catalogue, keyed by
//! its id, and the data team's local rules.

use serde::{Deserialize, Serialize};

use crate::catalogue::{RuleId, Severity};
use crate::error::ChecksError;

/// The nine sources, in the order of domain.md §2 (`poprecon_model::SourceId::ALL`).
pub const SOURCES: [&str; 9] = poprecon_model::SOURCE_IDS;

/// Declares the settings of one rule: `enabled`, `severity` (the catalogue's by default) and
/// the rule's own settings with their defaults. A table that is present but partial takes
/// the defaults of the keys it leaves out; an unknown key is an error.
macro_rules! rule_settings {
    (
        $(#[$doc:meta])*
        $name:ident for $rule:ident {
            $( $(#[$fdoc:meta])* $field:ident : $ty:ty = $default:expr ),* $(,)?
        }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct $name {
            /// Whether the rule runs. Default `true`.
            pub enabled: bool,
            /// `high`, `medium` or `low`. Default: the catalogue's.
            pub severity: Severity,
            $( $(#[$fdoc])* pub $field: $ty, )*
        }

        impl Default for $name {
            fn default() -> Self {
                $name {
                    enabled: true,
                    severity: RuleId::$rule.default_severity(),
                    $( $field: $default, )*
                }
            }
        }
    };
}

rule_settings! {
    /// `delivery_without_certificate`: a live-birth delivery with no certificate linked.
    DeliveryWithoutCertificateSettings for DeliveryWithoutCertificate {
        /// Births younger than this many days at `as_of` are not reported yet. Default `30`.
        grace_days: i32 = 30,
    }
}

rule_settings! {
    /// `certificate_without_delivery`: a certificate of a birth in a medical institution with
    /// no delivery linked.
    CertificateWithoutDeliverySettings for CertificateWithoutDelivery {}
}

rule_settings! {
    /// `birth_without_household_registration`: a birth to a non-floating mother with no
    /// household record of the child.
    BirthWithoutHouseholdRegistrationSettings for BirthWithoutHouseholdRegistration {
        /// Births younger than this many days at `as_of` are not reported yet. Default `60`.
        grace_days: i32 = 60,
    }
}

rule_settings! {
    /// `household_birth_without_certificate`: a household record registered by reason of
    /// birth, born in the period, with no certificate linked.
    HouseholdBirthWithoutCertificateSettings for HouseholdBirthWithoutCertificate {}
}

rule_settings! {
    /// `birth_without_registration_service`: no birth registration of the mother dated within
    /// [birth − `days_before`, birth + `days_after`]. Linkage finds the registration, the rule
    /// reads it: the two keys are one setting with `[linkage] registration_days_before` and
    /// `registration_days_after` (the pipeline gives each pair one value).
    BirthWithoutRegistrationServiceSettings for BirthWithoutRegistrationService {
        /// Default `730`.
        days_before: i32 = 730,
        /// Default `90`.
        days_after: i32 = 90,
    }
}

rule_settings! {
    /// `delivery_without_prenatal_booking`: a delivery (a live birth event's, or a
    /// stillbirth's delivery row of the period, domain.md §8.4) with no prenatal booking of
    /// the mother within `days_before` days before it.
    DeliveryWithoutPrenatalBookingSettings for DeliveryWithoutPrenatalBooking {
        /// Default `300`. One setting with `[linkage] prenatal_window_days`: linkage finds
        /// the booking, the rule reads it (the pipeline gives both keys one value).
        days_before: i32 = 300,
    }
}

rule_settings! {
    /// `birth_without_hepb1`: a live birth with no HepB dose 1 linked.
    BirthWithoutHepb1Settings for BirthWithoutHepb1 {
        /// Births younger than this many days at `as_of` are not reported yet. Default `7`.
        grace_days: i32 = 7,
    }
}

rule_settings! {
    /// `late_hepb1`: HepB dose 1 given more than `max_days` after the birth.
    LateHepb1Settings for LateHepb1 {
        /// Default `1` (dates only: the same or the next day is within 24 h).
        max_days: i32 = 1,
    }
}

rule_settings! {
    /// `late_prenatal_booking`: a booking at `weeks` completed weeks of gestation or later.
    LatePrenatalBookingSettings for LatePrenatalBooking {
        /// Default `13`.
        weeks: i32 = 13,
    }
}

rule_settings! {
    /// `late_household_registration`: the child's household registration more than
    /// `max_days` after the birth.
    LateHouseholdRegistrationSettings for LateHouseholdRegistration {
        /// Default `30`.
        max_days: i32 = 30,
    }
}

rule_settings! {
    /// `sex_mismatch`: two birth-level sources give the child different sexes (male against
    /// female; `0` unknown and `9` unspecified disagree with nothing).
    SexMismatchSettings for SexMismatch {}
}

rule_settings! {
    /// `birth_date_mismatch`: two birth-level sources give birth dates more than
    /// `tolerance_days` apart (dates compared as dates, times ignored).
    BirthDateMismatchSettings for BirthDateMismatch {
        /// Default `0`.
        tolerance_days: i32 = 0,
    }
}

rule_settings! {
    /// `mother_id_mismatch`: two birth-level sources give different valid mother IDs.
    MotherIdMismatchSettings for MotherIdMismatch {}
}

rule_settings! {
    /// `id_number_conflict`: in any record of any source, a valid ID encodes another birth
    /// date or sex than its row records, or a mother's or woman's ID encodes male sex, or a
    /// man's or father's ID female sex.
    IdNumberConflictSettings for IdNumberConflict {}
}

rule_settings! {
    /// `child_order_mismatch`: the declared `child_order` of a birth registration differs
    /// from the computed order of the pregnancy's first child.
    ChildOrderMismatchSettings for ChildOrderMismatch {}
}

rule_settings! {
    /// `out_of_policy_birth`: the computed order exceeds the limit in force (the births
    /// table's `policy_category`).
    OutOfPolicyBirthSettings for OutOfPolicyBirth {}
}

rule_settings! {
    /// `registration_without_marriage`: no marriage record (not a divorce) of the couple
    /// dated strictly before the registration.
    RegistrationWithoutMarriageSettings for RegistrationWithoutMarriage {}
}

rule_settings! {
    /// `maternity_claim_without_delivery`: no delivery of the woman within ± `window_days`
    /// of the claim.
    MaternityClaimWithoutDeliverySettings for MaternityClaimWithoutDelivery {
        /// Default `180`.
        window_days: i32 = 180,
    }
}

rule_settings! {
    /// `student_without_household_registration`: the student's valid ID is in no household
    /// record (a student without a valid ID is in none).
    StudentWithoutHouseholdRegistrationSettings for StudentWithoutHouseholdRegistration {}
}

rule_settings! {
    /// `duplicate_record`: the same record twice in one source.
    DuplicateRecordSettings for DuplicateRecord {
        /// The sources checked. Default: all nine.
        sources: Vec<String> = SOURCES.iter().map(|s| (*s).to_owned()).collect(),
    }
}

rule_settings! {
    /// `ambiguous_link`: a record that matched two others equally well (from linkage).
    AmbiguousLinkSettings for AmbiguousLink {}
}

rule_settings! {
    /// `invalid_value`: a non-empty invalid ID, an unknown or malformed village code, or an
    /// impossible date in an optional field, flagged by ingest.
    InvalidValueSettings for InvalidValue {
        /// Further ingest reason codes reported as invalid values (e.g. `unknown_code`,
        /// `certificate_format`, `out_of_range`). Default: none.
        extra_reasons: Vec<String> = Vec::new(),
    }
}

/// A rule the data team adds without recompiling: a polars SQL query over the linked births
/// table, registered as `births`. Each row the query returns is a discrepancy of the birth
/// in its `birth_id` column; any other column it returns is shown in `values`.
///
/// ```toml
/// [[rules.local]]
/// id = "late_certificate_home_birth"
/// name_zh = "家庭分娩出生证明延迟"
/// severity = "low"
/// sql = "SELECT birth_id FROM births WHERE hospital_delivery_key IS NULL AND floating"
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LocalRule {
    /// A snake_case id, distinct from the catalogue's.
    pub id: String,
    pub name_zh: String,
    #[serde(default)]
    pub name_en: Option<String>,
    #[serde(default = "medium")]
    pub severity: Severity,
    /// `SELECT … FROM births WHERE …`; the result must have a `birth_id` column.
    pub sql: String,
    /// The discrepancy's `field`, if the rule is about one.
    #[serde(default)]
    pub field: Option<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn medium() -> Severity {
    Severity::Medium
}

fn yes() -> bool {
    true
}

/// The rules of a run: the `[rules]` section of a pipeline file. Every key is optional;
/// the defaults are those of domain.md §5.
///
/// ```toml
/// [rules.delivery_without_certificate]
/// grace_days = 45
///
/// [rules.registration_without_marriage]
/// enabled = false
///
/// [rules.sex_mismatch]
/// severity = "medium"
/// ```
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChecksConfig {
    pub delivery_without_certificate: DeliveryWithoutCertificateSettings,
    pub certificate_without_delivery: CertificateWithoutDeliverySettings,
    pub birth_without_household_registration: BirthWithoutHouseholdRegistrationSettings,
    pub household_birth_without_certificate: HouseholdBirthWithoutCertificateSettings,
    pub birth_without_registration_service: BirthWithoutRegistrationServiceSettings,
    pub delivery_without_prenatal_booking: DeliveryWithoutPrenatalBookingSettings,
    pub birth_without_hepb1: BirthWithoutHepb1Settings,
    pub late_hepb1: LateHepb1Settings,
    pub late_prenatal_booking: LatePrenatalBookingSettings,
    pub late_household_registration: LateHouseholdRegistrationSettings,
    pub sex_mismatch: SexMismatchSettings,
    pub birth_date_mismatch: BirthDateMismatchSettings,
    pub mother_id_mismatch: MotherIdMismatchSettings,
    pub id_number_conflict: IdNumberConflictSettings,
    pub child_order_mismatch: ChildOrderMismatchSettings,
    pub out_of_policy_birth: OutOfPolicyBirthSettings,
    pub registration_without_marriage: RegistrationWithoutMarriageSettings,
    pub maternity_claim_without_delivery: MaternityClaimWithoutDeliverySettings,
    pub student_without_household_registration: StudentWithoutHouseholdRegistrationSettings,
    pub duplicate_record: DuplicateRecordSettings,
    pub ambiguous_link: AmbiguousLinkSettings,
    pub invalid_value: InvalidValueSettings,
    /// `[[rules.local]]`: the data team's own rules.
    pub local: Vec<LocalRule>,
}

impl ChecksConfig {
    /// Whether a rule of the catalogue runs, and with what severity.
    pub fn rule(&self, id: RuleId) -> (bool, Severity) {
        macro_rules! pick {
            ($($variant:ident => $field:ident),* $(,)?) => {
                match id {
                    $(RuleId::$variant => (self.$field.enabled, self.$field.severity),)*
                }
            };
        }
        pick! {
            DeliveryWithoutCertificate => delivery_without_certificate,
            CertificateWithoutDelivery => certificate_without_delivery,
            BirthWithoutHouseholdRegistration => birth_without_household_registration,
            HouseholdBirthWithoutCertificate => household_birth_without_certificate,
            BirthWithoutRegistrationService => birth_without_registration_service,
            DeliveryWithoutPrenatalBooking => delivery_without_prenatal_booking,
            BirthWithoutHepb1 => birth_without_hepb1,
            LateHepb1 => late_hepb1,
            LatePrenatalBooking => late_prenatal_booking,
            LateHouseholdRegistration => late_household_registration,
            SexMismatch => sex_mismatch,
            BirthDateMismatch => birth_date_mismatch,
            MotherIdMismatch => mother_id_mismatch,
            IdNumberConflict => id_number_conflict,
            ChildOrderMismatch => child_order_mismatch,
            OutOfPolicyBirth => out_of_policy_birth,
            RegistrationWithoutMarriage => registration_without_marriage,
            MaternityClaimWithoutDelivery => maternity_claim_without_delivery,
            StudentWithoutHouseholdRegistration => student_without_household_registration,
            DuplicateRecord => duplicate_record,
            AmbiguousLink => ambiguous_link,
            InvalidValue => invalid_value,
        }
    }

    /// Checks what serde cannot; the error names the key at fault.
    pub fn validate(&self) -> Result<(), ChecksError> {
        let bad = |key: String, message: &str| {
            Err(ChecksError::Config {
                key: format!("rules.{key}"),
                message: message.to_owned(),
            })
        };
        let days = [
            (
                "delivery_without_certificate.grace_days",
                self.delivery_without_certificate.grace_days,
            ),
            (
                "birth_without_household_registration.grace_days",
                self.birth_without_household_registration.grace_days,
            ),
            (
                "birth_without_registration_service.days_before",
                self.birth_without_registration_service.days_before,
            ),
            (
                "birth_without_registration_service.days_after",
                self.birth_without_registration_service.days_after,
            ),
            (
                "delivery_without_prenatal_booking.days_before",
                self.delivery_without_prenatal_booking.days_before,
            ),
            (
                "birth_without_hepb1.grace_days",
                self.birth_without_hepb1.grace_days,
            ),
            ("late_hepb1.max_days", self.late_hepb1.max_days),
            (
                "late_household_registration.max_days",
                self.late_household_registration.max_days,
            ),
            (
                "birth_date_mismatch.tolerance_days",
                self.birth_date_mismatch.tolerance_days,
            ),
            (
                "maternity_claim_without_delivery.window_days",
                self.maternity_claim_without_delivery.window_days,
            ),
        ];
        for (key, value) in days {
            if !(0..=3650).contains(&value) {
                return bad(key.to_owned(), "must be between 0 and 3650 days");
            }
        }
        if !(1..=45).contains(&self.late_prenatal_booking.weeks) {
            return bad(
                "late_prenatal_booking.weeks".to_owned(),
                "must be between 1 and 45 weeks",
            );
        }
        for s in &self.duplicate_record.sources {
            if !SOURCES.contains(&s.as_str()) {
                return bad(
                    "duplicate_record.sources".to_owned(),
                    &format!(
                        "unknown source `{s}`; the sources are {}",
                        SOURCES.map(|s| format!("`{s}`")).join(", ")
                    ),
                );
            }
        }
        for r in &self.invalid_value.extra_reasons {
            if r.is_empty() || !r.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
                return bad(
                    "invalid_value.extra_reasons".to_owned(),
                    &format!("`{r}` is not a reason code (snake_case, e.g. `unknown_code`)"),
                );
            }
        }
        let mut seen: Vec<&str> = Vec::new();
        for (i, rule) in self.local.iter().enumerate() {
            let key = |k: &str| format!("local[{i}].{k}");
            let id = rule.id.as_str();
            let snake = !id.is_empty()
                && id.as_bytes()[0].is_ascii_lowercase()
                && id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !snake {
                return bad(key("id"), "must be snake_case, starting with a letter");
            }
            if RuleId::parse(id).is_some() {
                return bad(key("id"), &format!("`{id}` is a rule of the catalogue"));
            }
            if seen.contains(&id) {
                return bad(key("id"), &format!("`{id}` is declared twice"));
            }
            seen.push(id);
            if rule.name_zh.trim().is_empty() {
                return bad(key("name_zh"), "must not be empty");
            }
            if rule.sql.trim().is_empty() {
                return bad(key("sql"), "must not be empty");
            }
        }
        Ok(())
    }
}
