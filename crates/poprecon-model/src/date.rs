//! Dates and date-times as the sources write them, and Excel serial dates.

use chrono::{Days, NaiveDate, NaiveDateTime, NaiveTime};
use unicode_normalization::UnicodeNormalization;

/// A date, or a date with a time of day: a source that records only the date is not given
/// a midnight it never wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DateValue {
    /// A calendar date.
    Date(NaiveDate),
    /// A date with a time of day.
    DateTime(NaiveDateTime),
}

impl DateValue {
    /// The calendar date, dropping any time of day.
    pub fn date(self) -> NaiveDate {
        match self {
            DateValue::Date(date) => date,
            DateValue::DateTime(datetime) => datetime.date(),
        }
    }

    /// The date-time, or `None` for a value that has no time of day.
    pub fn datetime(self) -> Option<NaiveDateTime> {
        match self {
            DateValue::Date(_) => None,
            DateValue::DateTime(datetime) => Some(datetime),
        }
    }
}

/// Why a raw value is not a date: a bounded reason code for quarantine tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum DateError {
    /// Nothing is left after trimming.
    #[error("date is empty")]
    Empty,
    /// Well formed, but not a calendar date or time of day (`20250230`, `25:00`).
    #[error("date is well formed but impossible")]
    Impossible,
    /// Not in any accepted format.
    #[error("date is not in a recognised format")]
    Unrecognised,
}

impl DateError {
    /// The snake_case reason code.
    pub fn code(self) -> &'static str {
        match self {
            DateError::Empty => "empty",
            DateError::Impossible => "impossible_date",
            DateError::Unrecognised => "unrecognised_date",
        }
    }
}

/// Parses a date cell.
///
/// Dates: `2025-03-04`, `2025/3/4`, `2025.3.4`, `20250304`, `2025年3月4日` (month and day
/// of one or two digits). Each may be followed, after spaces or `T`, by a time: `10:20`,
/// `10:20:30`, `10:20:30.5` (fractional seconds, as databases export them), `10时`,
/// `10时20分`, `10时20分30秒`; after `日` the separator is optional. Also accepted: 14 digits
/// `20250304102030`, the compact date-time of hospital information systems. Full-width
/// characters are folded by NFKC and surrounding whitespace is trimmed.
///
/// A well-formed value that is not a real date or time (`20250230`, `2025-13-01`, `25:00`)
/// is [`DateError::Impossible`], never guessed. ASCII input is parsed without allocating.
pub fn parse_date(raw: &str) -> Result<DateValue, DateError> {
    let trimmed = raw.trim();
    if trimmed.is_ascii() {
        return parse_normalized(trimmed);
    }
    let normalized: String = trimmed.nfkc().collect();
    parse_normalized(normalized.trim())
}

/// Parses a cell of a month-precision field (an enrolment month): the first day of the month.
///
/// Months: `2019-09`, `2019/9`, `2019.9`, `201909`, `2019年9月` (month of one or two digits,
/// full-width characters folded, surrounding whitespace trimmed). A whole date in any form
/// [`parse_date`] accepts is kept as that date, with any time of day dropped. A month
/// outside 1–12 (`2019-13`) is [`DateError::Impossible`].
pub fn parse_month(raw: &str) -> Result<chrono::NaiveDate, DateError> {
    match parse_date(raw) {
        Ok(d) => return Ok(d.date()),
        Err(DateError::Unrecognised) => {}
        Err(e) => return Err(e),
    }
    let trimmed = raw.trim();
    let normalized: String;
    let s = if trimmed.is_ascii() {
        trimmed
    } else {
        normalized = trimmed.nfkc().collect();
        normalized.trim()
    };
    let mut c = Cursor { rest: s };
    let lead = c.digits();
    let (year, month) = match lead.len() {
        6 => (number(&lead[..4]), number(&lead[4..])),
        4 => {
            let end = if c.eat("年") {
                Some("月")
            } else if c.eat("-") || c.eat("/") || c.eat(".") {
                None
            } else {
                return Err(DateError::Unrecognised);
            };
            let month = c.short_number().ok_or(DateError::Unrecognised)?;
            if let Some(end) = end
                && !c.eat(end)
            {
                return Err(DateError::Unrecognised);
            }
            (number(lead), month)
        }
        _ => return Err(DateError::Unrecognised),
    };
    if !c.rest.is_empty() {
        return Err(DateError::Unrecognised);
    }
    i32::try_from(year)
        .ok()
        .and_then(|year| NaiveDate::from_ymd_opt(year, month, 1))
        .ok_or(DateError::Impossible)
}

/// Converts a serial date of Excel's 1900 date system: serial 1 is 1900-01-01, and the
/// fraction is the time of day, rounded to the second.
///
/// Excel counts a fictitious 1900-02-29 as serial 60 (serial 61 is 1900-03-01), and serial 0
/// as 1900-01-00. Those days do not exist, so like any impossible date they give `None`
/// rather than a guess; so do serials that are not finite, not positive, or past 9999-12-31.
pub fn excel_serial_to_datetime(serial: f64) -> Option<NaiveDateTime> {
    // Serial 2958466 would be 10000-01-01, the first day Excel cannot represent.
    const END: f64 = 2_958_466.0;
    if !serial.is_finite() || serial <= 0.0 || serial >= END {
        return None;
    }
    // Rounding the whole serial, not only its fraction, carries 23:59:59.6 into the next day.
    let seconds = (serial * 86_400.0).round() as i64;
    let days = seconds.div_euclid(86_400);
    let second_of_day = u32::try_from(seconds.rem_euclid(86_400)).ok()?;
    let epoch = match days {
        0 | 60 => return None,
        1..=59 => NaiveDate::from_ymd_opt(1899, 12, 31)?,
        _ => NaiveDate::from_ymd_opt(1899, 12, 30)?,
    };
    let date = epoch.checked_add_days(Days::new(u64::try_from(days).ok()?))?;
    let time = NaiveTime::from_num_seconds_from_midnight_opt(second_of_day, 0)?;
    Some(date.and_time(time))
}

/// Time fields as written, before validation.
#[derive(Debug, Clone, Copy)]
struct TimeFields {
    hour: u32,
    minute: u32,
    second: u32,
    nano: u32,
}

fn parse_normalized(s: &str) -> Result<DateValue, DateError> {
    if s.is_empty() {
        return Err(DateError::Empty);
    }
    let mut cursor = Cursor { rest: s };
    let (year, month, day, time) = read_fields(&mut cursor).ok_or(DateError::Unrecognised)?;
    if !cursor.rest.is_empty() {
        return Err(DateError::Unrecognised);
    }
    let date = i32::try_from(year)
        .ok()
        .and_then(|year| NaiveDate::from_ymd_opt(year, month, day))
        .ok_or(DateError::Impossible)?;
    match time {
        None => Ok(DateValue::Date(date)),
        Some(t) => NaiveTime::from_hms_nano_opt(t.hour, t.minute, t.second, t.nano)
            .map(|time| DateValue::DateTime(date.and_time(time)))
            .ok_or(DateError::Impossible),
    }
}

/// Reads the shape of a date and optional time, leaving validation to the caller.
fn read_fields(c: &mut Cursor<'_>) -> Option<(u32, u32, u32, Option<TimeFields>)> {
    let lead = c.digits();
    let (year, month, day, after_cjk) = match lead.len() {
        8 => (
            number(&lead[..4]),
            number(&lead[4..6]),
            number(&lead[6..]),
            false,
        ),
        14 => {
            let time = TimeFields {
                hour: number(&lead[8..10]),
                minute: number(&lead[10..12]),
                second: number(&lead[12..]),
                nano: 0,
            };
            let (year, month, day) = (number(&lead[..4]), number(&lead[4..6]), number(&lead[6..8]));
            return Some((year, month, day, Some(time)));
        }
        4 => {
            let (month_end, day_end) = if c.eat("年") {
                ("月", Some("日"))
            } else if c.eat("-") {
                ("-", None)
            } else if c.eat("/") {
                ("/", None)
            } else if c.eat(".") {
                (".", None)
            } else {
                return None;
            };
            let month = c.short_number()?;
            if !c.eat(month_end) {
                return None;
            }
            let day = c.short_number()?;
            if let Some(day_end) = day_end
                && !c.eat(day_end)
            {
                return None;
            }
            (number(lead), month, day, day_end.is_some())
        }
        _ => return None,
    };
    if c.rest.is_empty() {
        return Some((year, month, day, None));
    }
    let separated = c.whitespace() || c.eat("T");
    if !separated && !after_cjk {
        return None;
    }
    Some((year, month, day, Some(read_time(c)?)))
}

fn read_time(c: &mut Cursor<'_>) -> Option<TimeFields> {
    let hour = c.short_number()?;
    let mut fields = TimeFields {
        hour,
        minute: 0,
        second: 0,
        nano: 0,
    };
    if c.eat(":") {
        fields.minute = c.short_number()?;
        if c.eat(":") {
            fields.second = c.short_number()?;
            if c.eat(".") {
                let fraction = c.digits();
                if fraction.is_empty() || fraction.len() > 9 {
                    return None;
                }
                let scale = 10u32.pow(9 - fraction.len() as u32);
                fields.nano = number(fraction) * scale;
            }
        }
    } else if c.eat("时") {
        if c.rest.is_empty() {
            return Some(fields);
        }
        fields.minute = c.short_number()?;
        if !c.eat("分") {
            return None;
        }
        if c.rest.is_empty() {
            return Some(fields);
        }
        fields.second = c.short_number()?;
        if !c.eat("秒") {
            return None;
        }
    } else {
        return None;
    }
    Some(fields)
}

/// The value of a run of at most 9 ASCII digits.
fn number(digits: &str) -> u32 {
    digits
        .bytes()
        .fold(0, |acc, d| acc * 10 + u32::from(d - b'0'))
}

/// A position in a normalised date string. It only ever advances past ASCII bytes or whole
/// literals, so `rest` stays on a character boundary.
struct Cursor<'a> {
    rest: &'a str,
}

impl<'a> Cursor<'a> {
    /// Consumes the run of ASCII digits at the cursor, possibly empty.
    fn digits(&mut self) -> &'a str {
        let len = self.rest.bytes().take_while(u8::is_ascii_digit).count();
        let (digits, rest) = self.rest.split_at(len);
        self.rest = rest;
        digits
    }

    /// Consumes a number of one or two digits.
    fn short_number(&mut self) -> Option<u32> {
        let digits = self.digits();
        (1..=2).contains(&digits.len()).then(|| number(digits))
    }

    fn eat(&mut self, literal: &str) -> bool {
        match self.rest.strip_prefix(literal) {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }

    /// Consumes a run of whitespace; whether there was any.
    fn whitespace(&mut self) -> bool {
        let rest = self.rest.trim_start();
        let consumed = rest.len() < self.rest.len();
        self.rest = rest;
        consumed
    }
}
