//! Resident IDs: built per domain.md §3, damaged the ways data entry and spreadsheets damage
//! them, and classified with the reason code the ingest vocabulary uses for that damage.
//!
//! The classification follows domain.md §3 and the order of checks documented on
//! `poprecon_model::IdDamage` (characters, birth date, trailing zeros, check); it is written
//! from the generator's knowledge of what it did, not by parsing the damaged value.

use chrono::{Datelike, NaiveDate};
use poprecon_model::{ResidentId, check_character};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

/// The 18-character ID of a person: address code, birth date, sequence, check character.
pub(crate) fn build(addr: u32, birth: NaiveDate, seq: u16) -> String {
    let mut body = [0u8; 17];
    write_digits(&mut body[0..6], u64::from(addr));
    let date =
        birth.year() as u64 * 10_000 + u64::from(birth.month()) * 100 + u64::from(birth.day());
    write_digits(&mut body[6..14], date);
    write_digits(&mut body[14..17], u64::from(seq));
    let body = std::str::from_utf8(&body).expect("ASCII digits");
    match ResidentId::from_body(body) {
        Some(id) => id.as_str().to_owned(),
        // Unreachable for a real date and a 6-digit address; kept total rather than panicking.
        None => format!("{body}0"),
    }
}

/// The 17-digit body of an ID as a number, the key of the uniqueness sets.
pub(crate) fn body_key(addr: u32, birth: NaiveDate, seq: u16) -> u64 {
    let date =
        birth.year() as u64 * 10_000 + u64::from(birth.month()) * 100 + u64::from(birth.day());
    (u64::from(addr) * 100_000_000 + date) * 1000 + u64::from(seq)
}

fn write_digits(out: &mut [u8], mut value: u64) {
    for slot in out.iter_mut().rev() {
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// One digit of the first 17 replaced by another.
pub(crate) fn substitute(rng: &mut ChaCha8Rng, id: &str) -> String {
    let mut bytes = id.as_bytes().to_vec();
    let at = rng.random_range(0..17);
    let old = bytes[at];
    let mut new = b'0' + rng.random_range(0..9u8);
    if new >= old {
        new += 1;
    }
    bytes[at] = new;
    String::from_utf8(bytes).expect("ASCII")
}

/// Two adjacent, different digits among the first 17 swapped; `None` when every adjacent
/// pair tried is equal.
pub(crate) fn transpose(rng: &mut ChaCha8Rng, id: &str) -> Option<String> {
    let mut bytes = id.as_bytes().to_vec();
    for _ in 0..8 {
        let at = rng.random_range(0..16);
        if bytes[at] != bytes[at + 1] {
            bytes.swap(at, at + 1);
            return Some(String::from_utf8(bytes).expect("ASCII"));
        }
    }
    None
}

/// The ID as a spreadsheet shows a number too long for it: `3.40302E+17`.
pub(crate) fn scientific(id: &str) -> String {
    let d = id.as_bytes();
    let mantissa: String = d[1..6].iter().map(|&b| char::from(b)).collect();
    let mantissa = mantissa.trim_end_matches('0');
    if mantissa.is_empty() {
        format!("{}E+17", char::from(d[0]))
    } else {
        format!("{}.{}E+17", char::from(d[0]), mantissa)
    }
}

/// The ID after a spreadsheet kept only 15 significant digits: the last three become `000`.
pub(crate) fn trailing_zeros(id: &str) -> String {
    let mut out = id[..15].to_owned();
    out.push_str("000");
    out
}

/// The ID in full-width digits (and `Ｘ`), as some input methods type it.
pub(crate) fn fullwidth(id: &str) -> String {
    id.chars()
        .map(|c| match c {
            '0'..='9' => char::from_u32(0xFF10 + (c as u32 - '0' as u32)).unwrap_or(c),
            'X' => 'Ｘ',
            c => c,
        })
        .collect()
}

/// The value an 18-digit ID has once Excel stored it as a double.
pub(crate) fn as_excel_number(id: &str) -> Option<f64> {
    id.parse::<u64>().ok().map(|n| n as f64)
}

/// The ingest reason code for an 18-character ASCII value made by [`substitute`],
/// [`transpose`] or [`trailing_zeros`]; `None` when the value happens to be a valid ID.
pub(crate) fn damage_reason(value: &str) -> Option<&'static str> {
    let b = value.as_bytes();
    if b.len() != 18 || !b[..17].iter().all(u8::is_ascii_digit) {
        return Some("characters");
    }
    let num = |r: std::ops::Range<usize>| {
        b[r].iter()
            .fold(0u32, |acc, &d| acc * 10 + u32::from(d - b'0'))
    };
    if NaiveDate::from_ymd_opt(num(6..10) as i32, num(10..12), num(12..14)).is_none() {
        return Some("birth_date");
    }
    if check_character(&value[..17]) == Some(char::from(b[17])) {
        return None;
    }
    if value.ends_with("000") {
        Some("excel_trailing_zeros")
    } else {
        Some("check_digit")
    }
}
