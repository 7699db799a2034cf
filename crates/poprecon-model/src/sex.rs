//! Sex, coded as in GB/T 2261.1.

use std::borrow::Cow;

use unicode_normalization::UnicodeNormalization;

/// Sex as coded by GB/T 2261.1; the discriminant is the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Sex {
    /// `0`: not known.
    Unknown = 0,
    /// `1`.
    Male = 1,
    /// `2`.
    Female = 2,
    /// `9`: not stated.
    Unspecified = 9,
}

impl Sex {
    /// Reads a sex cell: `0`/`1`/`2`/`9`, `男`/`女`/`男性`/`女性`, `M`/`F` and `male`/`female`
    /// in any case, `未知` (unknown), `未说明` (unspecified); trimmed, full-width forms folded
    /// by NFKC. `None` for anything else, and for an empty cell.
    pub fn parse(raw: &str) -> Option<Sex> {
        let trimmed = raw.trim();
        // The usual spellings need no normalisation.
        match trimmed {
            "1" | "男" => return Some(Sex::Male),
            "2" | "女" => return Some(Sex::Female),
            _ => {}
        }
        let normalized: Cow<'_, str> = if trimmed.is_ascii() {
            Cow::Borrowed(trimmed)
        } else {
            Cow::Owned(trimmed.nfkc().collect())
        };
        let value = normalized.trim();
        match value {
            "0" | "未知" => Some(Sex::Unknown),
            "1" | "男" | "男性" => Some(Sex::Male),
            "2" | "女" | "女性" => Some(Sex::Female),
            "9" | "未说明" => Some(Sex::Unspecified),
            _ if value.eq_ignore_ascii_case("m") || value.eq_ignore_ascii_case("male") => {
                Some(Sex::Male)
            }
            _ if value.eq_ignore_ascii_case("f") || value.eq_ignore_ascii_case("female") => {
                Some(Sex::Female)
            }
            _ => None,
        }
    }

    /// The GB/T 2261.1 code: 0, 1, 2 or 9.
    pub fn code(self) -> i32 {
        self as i32
    }

    /// The sex for a GB/T 2261.1 code, `None` for any other number.
    pub fn from_code(code: i32) -> Option<Sex> {
        match code {
            0 => Some(Sex::Unknown),
            1 => Some(Sex::Male),
            2 => Some(Sex::Female),
            9 => Some(Sex::Unspecified),
            _ => None,
        }
    }
}
