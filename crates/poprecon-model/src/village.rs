//! Village (村/居委会) statistical codes.

use std::borrow::Cow;
use std::fmt;

use unicode_normalization::UnicodeNormalization;

/// A 12-digit statistical village code: province 2 + city 2 + county 2 + township 3 +
/// village 3 digits. Valid in form only: whether the code exists is the division table's
/// business.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VillageCode(String);

/// Why a raw value is not a village code: a bounded reason code for quarantine tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum VillageCodeError {
    /// Nothing is left after normalisation.
    #[error("village code is empty")]
    Empty,
    /// Not 12 characters.
    #[error("village code does not have 12 digits")]
    Length,
    /// 12 characters, not all of them digits.
    #[error("village code has a character other than a digit")]
    Characters,
}

impl VillageCodeError {
    /// The snake_case reason code.
    pub fn code(self) -> &'static str {
        match self {
            VillageCodeError::Empty => "empty",
            VillageCodeError::Length => "length",
            VillageCodeError::Characters => "characters",
        }
    }
}

impl VillageCode {
    /// Trims, applies NFKC (full-width digits), drops a leading `'` and a `.0` suffix left by
    /// a spreadsheet's float (`340302001001.0`: 12 digits survive a float exactly), then
    /// validates 12 ASCII digits.
    pub fn parse(raw: &str) -> Result<VillageCode, VillageCodeError> {
        let trimmed = raw.trim();
        let normalized: Cow<'_, str> = if trimmed.is_ascii() {
            Cow::Borrowed(trimmed)
        } else {
            Cow::Owned(trimmed.nfkc().collect())
        };
        let mut code = normalized.trim();
        code = code.strip_prefix('\'').unwrap_or(code).trim();
        if let Some((integer, fraction)) = code.split_once('.')
            && fraction.bytes().all(|b| b == b'0')
        {
            code = integer;
        }
        if code.is_empty() {
            return Err(VillageCodeError::Empty);
        }
        if code.chars().count() != 12 {
            return Err(VillageCodeError::Length);
        }
        if !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(VillageCodeError::Characters);
        }
        Ok(VillageCode(code.to_owned()))
    }

    /// The 12-digit code.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The province prefix (2 digits).
    pub fn province(&self) -> &str {
        &self.0[..2]
    }

    /// The city prefix (4 digits).
    pub fn city(&self) -> &str {
        &self.0[..4]
    }

    /// The county prefix (6 digits).
    pub fn county(&self) -> &str {
        &self.0[..6]
    }

    /// The township prefix (9 digits).
    pub fn township(&self) -> &str {
        &self.0[..9]
    }
}

impl fmt::Display for VillageCode {
    /// The plain code: a village code is not personal data.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
