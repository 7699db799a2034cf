//! The canonical value types of poprecon: every source crate parses its raw cells into these,
//! so that linkage and checks compare like with like.
//!
//! - [`ResidentId`]: a valid, normalised 18-character resident ID (公民身份号码, GB 11643-1999);
//!   [`ResidentId::parse`] names what is wrong with a bad one as an [`IdDamage`] reason code.
//!   Its `Display` and `Debug` are masked: use [`ResidentId::as_str`] for the clear value.
//! - [`VillageCode`]: a 12-digit statistical village code with its administrative prefixes.
//! - [`Sex`]: GB/T 2261.1 codes.
//! - [`DateValue`]: a date or a date-time, from [`parse_date`] or [`excel_serial_to_datetime`];
//!   [`parse_month`] for month-precision fields (`2019-09` is 2019-09-01).
//! - [`CertificateNo`]: a birth certificate number (出生医学证明编号).
//! - [`normalize_name`]: the normal form in which person names are compared.
//! - [`SourceId`]: the nine sources, their record keys and `<source>_key` columns;
//!   [`household_status_rank`], the one order of a person's household rows; [`epoch_days`].
//! - [`mask_ids`]: every resident ID in a text masked (`340302********0019`), the one masking
//!   of the analyst export and the analysts' report.
//! - [`Decisions`]: reviewers' decisions parsed from their CSV or TOML file
//!   ([`decisions`]), the one value checks and linkage both take.
//!
//! Bad data is not an error of the program: each parser returns a small `Copy` enum whose
//! `code()` is a bounded, snake_case reason code for quarantine tables. No error message
//! ever contains the value that failed, because these values are personal data.

pub mod certificate;
pub mod date;
pub mod decisions;
pub mod id;
pub mod mask;
pub mod name;
pub mod sex;
pub mod source;
pub mod village;

pub use certificate::{CertificateError, CertificateNo};
pub use date::{DateError, DateValue, excel_serial_to_datetime, parse_date, parse_month};
pub use decisions::{Decision, DecisionError, DecisionKind, Decisions, LinkConstraint, RecordRef};
pub use id::{IdDamage, IdKind, ResidentId, check_character, normalize_id};
pub use mask::{clear_ids, contains_id, mask_ids, replace_ids};
pub use name::normalize_name;
pub use sex::Sex;
pub use source::{
    BIRTH_LEVEL_IDS, HOUSEHOLD_STATUSES, RECORD_KEY, SOURCE_IDS, SourceId, date_of_days,
    epoch_days, household_status_active, household_status_rank, key_order,
};
pub use village::{VillageCode, VillageCodeError};

#[cfg(test)]
mod tests;
