//! The vocabulary every crate shares: the nine sources (domain.md §2), their record keys and
//! the `<source>_key` columns of `births` and `discrepancies` (§7), household status and its
//! one rank (§8.22), and day numbers of dates.

use chrono::NaiveDate;

/// One of the nine sources of domain.md §2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SourceId {
    BirthRegistration,
    PrenatalCare,
    HospitalDelivery,
    BirthCertificate,
    Vaccination,
    Household,
    School,
    Marriage,
    SocialSecurity,
}

impl SourceId {
    /// Every source, in the order of domain.md §2.
    pub const ALL: [SourceId; 9] = [
        SourceId::BirthRegistration,
        SourceId::PrenatalCare,
        SourceId::HospitalDelivery,
        SourceId::BirthCertificate,
        SourceId::Vaccination,
        SourceId::Household,
        SourceId::School,
        SourceId::Marriage,
        SourceId::SocialSecurity,
    ];

    /// The four birth-level sources, in the order of domain.md §8.2 (the first available of
    /// these gives a birth's sex and date).
    pub const BIRTH_LEVEL: [SourceId; 4] = [
        SourceId::HospitalDelivery,
        SourceId::BirthCertificate,
        SourceId::Household,
        SourceId::Vaccination,
    ];

    /// The id of the pipeline file, the tables and the output columns.
    pub const fn id(self) -> &'static str {
        match self {
            SourceId::BirthRegistration => "birth_registration",
            SourceId::PrenatalCare => "prenatal_care",
            SourceId::HospitalDelivery => "hospital_delivery",
            SourceId::BirthCertificate => "birth_certificate",
            SourceId::Vaccination => "vaccination",
            SourceId::Household => "household",
            SourceId::School => "school",
            SourceId::Marriage => "marriage",
            SourceId::SocialSecurity => "social_security",
        }
    }

    /// The source of an id.
    pub fn parse(id: &str) -> Option<SourceId> {
        SourceId::ALL.into_iter().find(|s| s.id() == id)
    }

    /// The canonical field whose value is the record key (domain.md §7).
    pub const fn key_field(self) -> &'static str {
        match self {
            SourceId::BirthCertificate => "certificate_no",
            SourceId::Vaccination => "child_code",
            SourceId::Household | SourceId::SocialSecurity => "person_id",
            SourceId::School => "student_no",
            _ => "record_id",
        }
    }

    /// Whether the record key is a resident ID (its text as given is `<key>_input`).
    pub const fn key_is_id(self) -> bool {
        matches!(self, SourceId::Household | SourceId::SocialSecurity)
    }

    /// The column of this source's record key in `births` and `discrepancies`.
    pub fn key_column(self) -> String {
        format!("{}_key", self.id())
    }

    /// The Chinese name of the source (domain.md §2).
    pub const fn label_zh(self) -> &'static str {
        match self {
            SourceId::BirthRegistration => "生育登记",
            SourceId::PrenatalCare => "孕产期保健",
            SourceId::HospitalDelivery => "住院分娩",
            SourceId::BirthCertificate => "出生医学证明",
            SourceId::Vaccination => "预防接种",
            SourceId::Household => "户籍",
            SourceId::School => "学籍",
            SourceId::Marriage => "婚姻登记",
            SourceId::SocialSecurity => "社保",
        }
    }

    /// Whether this is one of the four birth-level sources.
    pub fn is_birth_level(self) -> bool {
        SourceId::BIRTH_LEVEL.contains(&self)
    }
}

/// The ids of [`SourceId::ALL`], for tables and files keyed by text.
pub const SOURCE_IDS: [&str; 9] = ids(SourceId::ALL);

/// The ids of [`SourceId::BIRTH_LEVEL`], in the order of domain.md §8.2.
pub const BIRTH_LEVEL_IDS: [&str; 4] = ids(SourceId::BIRTH_LEVEL);

const fn ids<const N: usize>(sources: [SourceId; N]) -> [&'static str; N] {
    let mut out = [""; N];
    let mut i = 0;
    while i < N {
        out[i] = sources[i].id();
        i += 1;
    }
    out
}

impl std::fmt::Display for SourceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

/// Ingest's column of the record key as written in the extract, trimmed (domain.md §7).
pub const RECORD_KEY: &str = "record_key";

/// The canonical values of the household `status` field (domain.md §8.22).
pub const HOUSEHOLD_STATUSES: [&str; 4] = ["active", "moved_out", "deceased", "cancelled"];

/// The one order of a person's household rows: active first, then rows without a status (a
/// registry without status lists its residents), then moved out, then the rest. Ranks 0
/// and 1 are active rows (domain.md §8.8); of several rows, the lowest rank is the one that
/// counts.
pub fn household_status_rank(status: Option<&str>) -> u8 {
    match status {
        Some("active") => 0,
        None => 1,
        Some("moved_out") => 2,
        Some(_) => 3,
    }
}

/// Whether a household row of this status is an active one (ranks 0 and 1).
pub fn household_status_active(status: Option<&str>) -> bool {
    household_status_rank(status) <= 1
}

/// Days since 1970-01-01, the integer form in which dates are compared.
pub fn epoch_days(d: NaiveDate) -> i32 {
    d.signed_duration_since(NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch"))
        .num_days() as i32
}

/// The date of a day number of [`epoch_days`].
pub fn date_of_days(days: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch") + chrono::Duration::days(days.into())
}

/// Record keys in their natural order: all-digit keys by number, others as text. Of copies
/// of one record, the one with the smaller key is kept (domain.md §8.18).
pub fn key_order(a: &str, b: &str) -> std::cmp::Ordering {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    if digits(a) && digits(b) {
        let (ta, tb) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
        ta.len().cmp(&tb.len()).then(ta.cmp(tb)).then(a.cmp(b))
    } else {
        a.cmp(b)
    }
}
