//! Resident IDs (公民身份号码, GB 11643-1999) and the residence-permit and foreign
//! permanent-resident numbers that share their layout.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfkc_quick};

use crate::Sex;

/// A valid resident ID in normal form: 17 ASCII digits and a matching check character
/// (a digit or `X`), with a possible birth date in digits 7–14.
///
/// `Display` and `Debug` print a masked form (`340302********0019`) so that an ID cannot reach
/// a log by accident; [`ResidentId::as_str`] gives the clear value.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResidentId(String);

/// Which kind of document issued the number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdKind {
    /// A mainland resident ID card.
    Mainland,
    /// A residence permit of a Hong Kong, Macau or Taiwan resident (address code 81/82/83).
    HongKongMacauTaiwan,
    /// A foreign permanent-resident ID card (2023 layout, first digit `9`).
    ForeignPermanent,
}

/// Why a raw value is not a valid resident ID: a bounded reason code for quarantine tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum IdDamage {
    /// Nothing is left after normalisation.
    #[error("resident id is empty")]
    Empty,
    /// A spreadsheet rendered the ID as a number (`3.40302E+17`, `340302201601010000.0`),
    /// losing its last digits.
    #[error("resident id was rendered as a number by a spreadsheet and lost digits")]
    ExcelScientific,
    /// 18 digits ending in `000` whose check fails: a spreadsheet kept only 15 significant
    /// digits. One truncated ID in 11 passes its check by chance and cannot be detected.
    #[error(
        "resident id ends in `000` and fails its check, as after a spreadsheet's 15-digit precision loss"
    )]
    ExcelTrailingZeros,
    /// Neither 15 nor 18 characters.
    #[error("resident id does not have 15 or 18 characters")]
    Length,
    /// A character other than a digit where a digit must be (`X` is allowed only last).
    #[error("resident id has a character other than a digit where a digit must be")]
    Characters,
    /// The embedded birth date is not a calendar date (`20250230`).
    #[error("resident id embeds an impossible birth date")]
    BirthDate,
    /// The check character does not match the first 17 digits (a mistyped or transposed digit).
    #[error("resident id check character does not match its first 17 digits")]
    CheckDigit,
}

impl IdDamage {
    /// Every reason code, in the order [`ResidentId::parse`] tests for them.
    pub const ALL: [IdDamage; 7] = [
        IdDamage::Empty,
        IdDamage::ExcelScientific,
        IdDamage::Length,
        IdDamage::Characters,
        IdDamage::BirthDate,
        IdDamage::ExcelTrailingZeros,
        IdDamage::CheckDigit,
    ];

    /// The snake_case reason code.
    pub fn code(self) -> &'static str {
        match self {
            IdDamage::Empty => "empty",
            IdDamage::ExcelScientific => "excel_scientific",
            IdDamage::ExcelTrailingZeros => "excel_trailing_zeros",
            IdDamage::Length => "length",
            IdDamage::Characters => "characters",
            IdDamage::BirthDate => "birth_date",
            IdDamage::CheckDigit => "check_digit",
        }
    }
}

/// Brings a raw ID cell to normal form: trim, NFKC (full-width digits and `Ｘ`), drop
/// whitespace, `-` (and the other Unicode dashes, soft hyphen and zero-width characters that
/// copy-paste brings along) and leading `'`, upper-case `x`.
///
/// An ASCII input with nothing to strip but surrounding whitespace is returned borrowed,
/// without allocating. The function is idempotent.
pub fn normalize_id(raw: &str) -> Cow<'_, str> {
    let trimmed = raw.trim();
    if trimmed.is_ascii() {
        let clean = !trimmed.starts_with('\'')
            && !trimmed
                .bytes()
                .any(|b| b == b'-' || b == b'x' || char::from(b).is_whitespace());
        if clean {
            return Cow::Borrowed(trimmed);
        }
        // ASCII is already in NFKC, and stays so when characters are dropped.
        return Cow::Owned(clean_id_chars(trimmed.chars()));
    }
    let cleaned = clean_id_chars(trimmed.nfkc());
    // Dropping a character can bring a base letter next to a combining mark it composes
    // with, so normalise once more to keep the function idempotent.
    match is_nfkc_quick(cleaned.chars()) {
        IsNormalized::Yes => Cow::Owned(cleaned),
        IsNormalized::No | IsNormalized::Maybe => Cow::Owned(cleaned.nfkc().collect()),
    }
}

/// The check character for the first 17 digits of an ID, or `None` if `body17` is not
/// 17 ASCII digits.
pub fn check_character(body17: &str) -> Option<char> {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    let body = body17.as_bytes();
    if body.len() != 17 || !body.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let sum: u32 = body
        .iter()
        .zip(WEIGHTS)
        .map(|(&digit, weight)| u32::from(digit - b'0') * weight)
        .sum();
    Some(char::from(CHECK[(sum % 11) as usize]))
}

impl ResidentId {
    /// Normalises `raw` (see [`normalize_id`]), upgrades a legacy 15-digit number (inserts
    /// `19` and computes the check) and validates it, naming the damage when it fails.
    ///
    /// Tests run in the order of [`IdDamage::ALL`]. A 15-digit number written as
    /// `340302860101123.0` is accepted: a spreadsheet's float holds 15 digits exactly.
    pub fn parse(raw: &str) -> Result<ResidentId, IdDamage> {
        let normalized = normalize_id(raw);
        let mut id: &str = &normalized;
        if id.is_empty() {
            return Err(IdDamage::Empty);
        }
        if let Some((integer, fraction)) = id.split_once('.')
            && integer.len() == 15
            && fraction.bytes().all(|b| b == b'0')
        {
            id = integer;
        }
        if is_spreadsheet_number(id) {
            return Err(IdDamage::ExcelScientific);
        }
        if !id.is_ascii() {
            return Err(match id.chars().count() {
                15 | 18 => IdDamage::Characters,
                _ => IdDamage::Length,
            });
        }
        match id.len() {
            15 => Self::from_legacy(id),
            18 => Self::from_full(id),
            _ => Err(IdDamage::Length),
        }
    }

    /// Builds a valid ID from its first 17 digits, computing the check character. `None`
    /// unless `body17` is 17 ASCII digits with a possible birth date.
    pub fn from_body(body17: &str) -> Option<ResidentId> {
        let check = check_character(body17)?;
        birth_date_of(body17.as_bytes())?;
        let mut id = String::with_capacity(18);
        id.push_str(body17);
        id.push(check);
        Some(ResidentId(id))
    }

    /// The clear 18-character value. Never log it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The kind of document, from the address code.
    pub fn kind(&self) -> IdKind {
        match self.0.as_bytes() {
            [b'9', ..] => IdKind::ForeignPermanent,
            [b'8', b'1'..=b'3', ..] => IdKind::HongKongMacauTaiwan,
            _ => IdKind::Mainland,
        }
    }

    /// The 6-digit address code: where the ID was issued, not where the person lives.
    pub fn address_code(&self) -> &str {
        &self.0[..6]
    }

    /// The embedded birth date.
    pub fn birth_date(&self) -> NaiveDate {
        birth_date_of(self.0.as_bytes()).expect("a ResidentId is validated on construction")
    }

    /// The sex coded by the 17th digit: odd is male, even is female.
    pub fn sex(&self) -> Sex {
        if (self.0.as_bytes()[16] - b'0') % 2 == 1 {
            Sex::Male
        } else {
            Sex::Female
        }
    }

    fn from_legacy(id: &str) -> Result<ResidentId, IdDamage> {
        if !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(IdDamage::Characters);
        }
        let mut body = String::with_capacity(18);
        body.push_str(&id[..6]);
        body.push_str("19");
        body.push_str(&id[6..]);
        Self::from_body(&body).ok_or(IdDamage::BirthDate)
    }

    /// Whether `s` is a valid ID in normal form already, so that [`ResidentId::parse`] would
    /// give it back unchanged. Allocates nothing: the ingest of a registry asks this of
    /// millions of cells before it asks for the ID itself.
    pub fn is_valid_normal(s: &str) -> bool {
        s.len() == 18 && Self::check_full(s).is_ok()
    }

    fn from_full(id: &str) -> Result<ResidentId, IdDamage> {
        Self::check_full(id).map(|()| ResidentId(id.to_owned()))
    }

    /// [`ResidentId::from_full`] without the value: `id` is 18 bytes.
    fn check_full(id: &str) -> Result<(), IdDamage> {
        let bytes = id.as_bytes();
        if !bytes[..17].iter().all(u8::is_ascii_digit)
            || !(bytes[17].is_ascii_digit() || bytes[17] == b'X')
        {
            return Err(IdDamage::Characters);
        }
        if birth_date_of(bytes).is_none() {
            return Err(IdDamage::BirthDate);
        }
        let check = check_character(&id[..17]).expect("17 ASCII digits were checked above");
        if char::from(bytes[17]) == check {
            Ok(())
        } else if id.ends_with("000") {
            Err(IdDamage::ExcelTrailingZeros)
        } else {
            Err(IdDamage::CheckDigit)
        }
    }
}

impl fmt::Display for ResidentId {
    /// The masked form: address code, eight stars, last four characters.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0[..6])?;
        f.write_str("********")?;
        f.write_str(&self.0[14..])
    }
}

impl fmt::Debug for ResidentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ResidentId")
            .field(&format_args!("{self}"))
            .finish()
    }
}

impl FromStr for ResidentId {
    type Err = IdDamage;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ResidentId::parse(s)
    }
}

/// Whether `s` is a number in decimal or scientific notation, as a spreadsheet writes one:
/// digits, then `.` and digits, or an exponent, or both.
fn is_spreadsheet_number(s: &str) -> bool {
    let bytes = s.as_bytes();
    let integer = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    if integer == 0 {
        return false;
    }
    let mut rest = &bytes[integer..];
    let mut notation = false;
    if let [b'.', tail @ ..] = rest {
        notation = true;
        rest = &tail[tail.iter().take_while(|b| b.is_ascii_digit()).count()..];
    }
    if let [b'e' | b'E', tail @ ..] = rest {
        let tail = tail.strip_prefix(b"+").unwrap_or(tail);
        let exponent = tail.iter().take_while(|b| b.is_ascii_digit()).count();
        if exponent == 0 {
            return false;
        }
        notation = true;
        rest = &tail[exponent..];
    }
    notation && rest.is_empty()
}

/// The date in digits 7–14 of an ID, if those are digits making a calendar date.
fn birth_date_of(id: &[u8]) -> Option<NaiveDate> {
    let digits = id.get(6..14)?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let number = |range: std::ops::Range<usize>| {
        digits[range]
            .iter()
            .fold(0u32, |acc, &d| acc * 10 + u32::from(d - b'0'))
    };
    let year = i32::try_from(number(0..4)).ok()?;
    NaiveDate::from_ymd_opt(year, number(4..6), number(6..8))
}

/// Drops whitespace, dashes, invisible characters and leading apostrophes; upper-cases `x`.
fn clean_id_chars(chars: impl Iterator<Item = char>) -> String {
    let mut out = String::new();
    for c in chars {
        let dropped = c.is_whitespace()
            || matches!(
                c,
                '-' | '\u{00AD}'
                    | '\u{2010}'..='\u{2015}'
                    | '\u{2212}'
                    | '\u{200B}'..='\u{200D}'
                    | '\u{2060}'
                    | '\u{FEFF}'
            )
            || (c == '\'' && out.is_empty());
        if !dropped {
            out.push(if c == 'x' { 'X' } else { c });
        }
    }
    out
}
