//! Birth certificate numbers (出生医学证明编号).

use std::borrow::Cow;
use std::fmt;

use unicode_normalization::UnicodeNormalization;

/// A birth certificate number: one capital ASCII letter and 9 digits (the first two usually
/// the issuing province). It has no check digit.
///
/// `Debug` is masked (`O34*****89`) because the number identifies a person;
/// [`CertificateNo::as_str`] gives the clear value.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CertificateNo(String);

/// Why a raw value is not a certificate number: a bounded reason code for quarantine tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum CertificateError {
    /// Nothing is left after trimming.
    #[error("birth certificate number is empty")]
    Empty,
    /// Not one letter followed by 9 digits.
    #[error("birth certificate number is not one letter followed by 9 digits")]
    Format,
}

impl CertificateError {
    /// The snake_case reason code.
    pub fn code(self) -> &'static str {
        match self {
            CertificateError::Empty => "empty",
            CertificateError::Format => "certificate_format",
        }
    }
}

impl CertificateNo {
    /// Trims, applies NFKC (full-width letters and digits), upper-cases the letter and
    /// validates one letter + 9 digits.
    pub fn parse(raw: &str) -> Result<Self, CertificateError> {
        let trimmed = raw.trim();
        let normalized: Cow<'_, str> = if trimmed.is_ascii() {
            Cow::Borrowed(trimmed)
        } else {
            Cow::Owned(trimmed.nfkc().collect())
        };
        let value = normalized.trim();
        if value.is_empty() {
            return Err(CertificateError::Empty);
        }
        match value.as_bytes() {
            [letter, digits @ ..]
                if letter.is_ascii_alphabetic()
                    && digits.len() == 9
                    && digits.iter().all(u8::is_ascii_digit) =>
            {
                Ok(CertificateNo(value.to_ascii_uppercase()))
            }
            _ => Err(CertificateError::Format),
        }
    }

    /// The clear 10-character value. Never log it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for CertificateNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let masked = format_args!("{}*****{}", &self.0[..3], &self.0[8..]);
        f.debug_tuple("CertificateNo").field(&masked).finish()
    }
}
