//! Cells as ingest reads them (domain.md §3), written here from the domain guide alone:
//! resident IDs normalised and checked, dates with their optional time, sex codes, small
//! integers. The truth compares these observed values, never the generator's true ones.

use chrono::NaiveDate;

use crate::render::Cell;

/// A resident-ID cell once normalised (§3, §8.5, §8.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdValue {
    /// Empty: no value.
    Blank,
    /// Not a valid ID (ingest flags it): no value either.
    Invalid,
    /// The valid, normalised 18-character ID.
    Valid([u8; 18]),
}

impl IdValue {
    pub(crate) fn valid(self) -> Option<[u8; 18]> {
        match self {
            IdValue::Valid(id) => Some(id),
            IdValue::Blank | IdValue::Invalid => None,
        }
    }
}

/// What a valid ID encodes: its birth date and whether it is a man's.
pub(crate) fn id_birth_date(id: &[u8; 18]) -> Option<NaiveDate> {
    let num = |r: std::ops::Range<usize>| {
        id[r]
            .iter()
            .fold(0u32, |acc, &d| acc * 10 + u32::from(d - b'0'))
    };
    NaiveDate::from_ymd_opt(num(6..10) as i32, num(10..12), num(12..14))
}

pub(crate) fn id_is_male(id: &[u8; 18]) -> bool {
    (id[16] - b'0') % 2 == 1
}

/// The ID `s` as ingest reads it: trim, NFKC of full-width digits and `Ｘ`, drop spaces, `-`
/// and a leading `'`, upper-case `x`; a legacy 15-digit number is upgraded; an 18-character
/// value is valid when its body holds a real date and its check character is right.
pub(crate) fn id_value(cell: &Cell) -> IdValue {
    match cell {
        Cell::Empty => IdValue::Blank,
        Cell::Text(s) => parse_id(s),
        Cell::Static(s) => parse_id(s),
        // Excel stores an 18-digit number with 15 significant digits: never a valid ID.
        Cell::Number(_) | Cell::Date(_) | Cell::DateTime(_) => IdValue::Invalid,
    }
}

fn parse_id(s: &str) -> IdValue {
    let t = s.trim();
    let t = t.strip_prefix('\'').unwrap_or(t);
    let mut buf = [0u8; 18];
    let mut n = 0;
    for c in t.chars() {
        let c = match c {
            '\u{FF10}'..='\u{FF19}' => char::from(b'0' + (c as u32 - 0xFF10) as u8),
            'Ｘ' | 'ｘ' | 'x' => 'X',
            ' ' | '\u{3000}' | '-' => continue,
            c => c,
        };
        if n == 18 || !(c.is_ascii_digit() || c == 'X') {
            return IdValue::Invalid;
        }
        buf[n] = c as u8;
        n += 1;
    }
    match n {
        0 => IdValue::Blank,
        15 => upgrade(&buf[..15]),
        18 if buf[..17].iter().all(u8::is_ascii_digit) => checked(buf),
        _ => IdValue::Invalid,
    }
}

/// An 18-character value of 17 digits and a digit or `X`: valid when its body holds a real
/// date and its check character is right.
fn checked(id: [u8; 18]) -> IdValue {
    if id_birth_date(&id).is_none() || check_character(&id[..17]) != id[17] {
        return IdValue::Invalid;
    }
    IdValue::Valid(id)
}

/// A legacy number: 6 address digits, `YYMMDD` of 19xx, 3 sequence digits.
fn upgrade(old: &[u8]) -> IdValue {
    if !old.iter().all(u8::is_ascii_digit) {
        return IdValue::Invalid;
    }
    let mut id = [0u8; 18];
    id[..6].copy_from_slice(&old[..6]);
    id[6] = b'1';
    id[7] = b'9';
    id[8..17].copy_from_slice(&old[6..15]);
    if id_birth_date(&id).is_none() {
        return IdValue::Invalid;
    }
    id[17] = check_character(&id[..17]);
    IdValue::Valid(id)
}

/// The GB 11643 check character of a 17-digit body.
fn check_character(body: &[u8]) -> u8 {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    let sum: u32 = body
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    CHECK[(sum % 11) as usize]
}

/// The cell's bytes when it holds an ID written plainly: 17 ASCII digits and a digit or
/// `X`, nothing else. Such a value normalises to itself.
pub(crate) fn plain_id(cell: &Cell) -> Option<[u8; 18]> {
    let s = match cell {
        Cell::Text(s) => s.as_str(),
        Cell::Static(s) => s,
        _ => return None,
    };
    let b = <[u8; 18]>::try_from(s.as_bytes()).ok()?;
    (b[..17].iter().all(u8::is_ascii_digit) && (b[17].is_ascii_digit() || b[17] == b'X'))
        .then_some(b)
}

/// Whether an ID cell holds a valid ID encoding another sex (1 male, 2 female) or birth date
/// than those given (§8.6). The full check runs only when the digits disagree.
pub(crate) fn id_conflicts(cell: &Cell, sex: Option<u8>, born: Option<NaiveDate>) -> bool {
    if let Some(b) = plain_id(cell) {
        let male = (b[16] - b'0') % 2 == 1;
        let sex_agrees = sex.is_none_or(|s| (s == 1) == male);
        let date_agrees = born.is_none_or(|d| {
            use chrono::Datelike;
            let digits = d.year() as u64 * 10_000 + u64::from(d.month()) * 100 + u64::from(d.day());
            let written = b[6..14]
                .iter()
                .fold(0u64, |acc, &x| acc * 10 + u64::from(x - b'0'));
            digits == written
        });
        if sex_agrees && date_agrees {
            return false;
        }
    }
    match id_value(cell) {
        IdValue::Valid(id) => {
            sex.is_some_and(|s| (s == 1) != id_is_male(&id))
                || born.is_some_and(|d| Some(d) != id_birth_date(&id))
        }
        IdValue::Blank | IdValue::Invalid => false,
    }
}

/// Whether an ID cell holds a valid man's ID (a mother's ID must not, §8.6).
pub(crate) fn id_is_valid_male(cell: &Cell) -> bool {
    if let Some(b) = plain_id(cell)
        && (b[16] - b'0').is_multiple_of(2)
    {
        return false;
    }
    id_value(cell).valid().is_some_and(|id| id_is_male(&id))
}

/// A date cell: its date, and the time to the minute where the cell holds one. `None` when
/// empty or impossible (§3: an impossible date is invalid, not guessed).
pub(crate) fn date_time_value(cell: &Cell) -> Option<(NaiveDate, Option<(u32, u32)>)> {
    use chrono::Timelike;
    match cell {
        Cell::Date(d) => Some((*d, None)),
        Cell::DateTime(t) => Some((t.date(), Some((t.hour(), t.minute())))),
        Cell::Text(s) => parse_date_time(s),
        Cell::Static(s) => parse_date_time(s),
        Cell::Empty | Cell::Number(_) => None,
    }
}

pub(crate) fn date_value(cell: &Cell) -> Option<NaiveDate> {
    date_time_value(cell).map(|(d, _)| d)
}

/// `2025-03-04`, `2025/3/4`, `20250304`, `2025年3月4日`, each with an optional time
/// (`10:20`, `10时20分`).
fn parse_date_time(s: &str) -> Option<(NaiveDate, Option<(u32, u32)>)> {
    let s = s.trim();
    let (date, rest) = if let Some((y, rest)) = s.split_once('年') {
        let (m, rest) = rest.split_once('月')?;
        let (d, rest) = rest.split_once('日')?;
        ((y, m, d), rest)
    } else {
        let (date, rest) = s.split_once(' ').unwrap_or((s, ""));
        let parts: Vec<&str> = date.split(['-', '/']).collect();
        match parts.as_slice() {
            [y, m, d] => ((*y, *m, *d), rest),
            [compact] if compact.len() == 8 && compact.bytes().all(|b| b.is_ascii_digit()) => {
                ((&compact[..4], &compact[4..6], &compact[6..]), rest)
            }
            _ => return None,
        }
    };
    let num = |t: &str| t.trim().parse::<u32>().ok();
    let day = NaiveDate::from_ymd_opt(num(date.0)? as i32, num(date.1)?, num(date.2)?)?;
    let rest = rest.trim();
    let time = if rest.is_empty() {
        None
    } else if let Some((h, m)) = rest.split_once(':') {
        Some((num(h)?, num(&m[..m.find(':').unwrap_or(m.len())])?))
    } else if let Some((h, m)) = rest.split_once('时') {
        Some((num(h)?, num(m.trim_end_matches('分'))?))
    } else {
        return None;
    };
    Some((day, time))
}

/// Sex as GB/T 2261.1: 1 male, 2 female (`男`/`女`, `M`/`F` accepted).
pub(crate) fn sex_value(cell: &Cell) -> Option<u8> {
    let text = match cell {
        Cell::Text(s) => s.as_str(),
        Cell::Static(s) => s,
        Cell::Number(x) => return (*x == 1.0).then_some(1).or((*x == 2.0).then_some(2)),
        _ => return None,
    };
    match text.trim() {
        "1" | "男" | "M" | "m" => Some(1),
        "2" | "女" | "F" | "f" => Some(2),
        _ => None,
    }
}

/// A small integer (`2`, `2.0`, or a number cell).
pub(crate) fn int_value(cell: &Cell) -> Option<i64> {
    match cell {
        Cell::Number(x) if x.fract() == 0.0 => Some(*x as i64),
        Cell::Text(s) => {
            let t = s.trim();
            t.strip_suffix(".0").unwrap_or(t).parse().ok()
        }
        Cell::Static(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A text cell's trimmed text; `None` when empty.
pub(crate) fn text_value(cell: &Cell) -> Option<&str> {
    let t = match cell {
        Cell::Text(s) => s.trim(),
        Cell::Static(s) => s.trim(),
        _ => return None,
    };
    (!t.is_empty()).then_some(t)
}

/// The GB/T 4761 code of a relationship to the household head, for the labels household
/// extracts write (a two-digit code is taken as it is).
pub(crate) fn relation_code(label: &str) -> Option<u8> {
    let t = label.trim();
    if let Ok(n) = t.parse::<u8>() {
        return Some(n);
    }
    Some(match t {
        "本人" => 1,
        "户主" => 2,
        "配偶" => 10,
        "夫" => 11,
        "妻" => 12,
        "子" | "儿子" => 20,
        "独生子" => 21,
        "长子" => 22,
        "次子" => 23,
        "三子" => 24,
        "四子" => 25,
        "五子" => 26,
        "养子" | "继子" | "养子或继子" => 27,
        "女婿" => 28,
        "女" | "女儿" => 30,
        "独生女" => 31,
        "长女" => 32,
        "次女" => 33,
        "三女" => 34,
        "四女" => 35,
        "五女" => 36,
        "养女" | "继女" | "养女或继女" => 37,
        "儿媳" => 38,
        "孙子" => 41,
        "孙女" => 42,
        "外孙子" => 43,
        "外孙女" => 44,
        "父亲" => 51,
        "母亲" => 52,
        _ => return None,
    })
}

/// The resident ID inside a national student number (全国学籍号 = `G` + the 18-character
/// ID, §8.17), when that ID is valid.
pub(crate) fn student_no_id(cell: &Cell) -> Option<[u8; 18]> {
    let t = text_value(cell)?;
    let rest = t.strip_prefix(['G', 'g'])?;
    parse_id(rest).valid()
}

/// A name as ingest compares it: trimmed, runs of spaces (full-width ones included) folded
/// into one ASCII space; `None` when empty.
pub(crate) fn name_value(cell: &Cell) -> Option<String> {
    let t = text_value(cell)?;
    let folded: Vec<&str> = t
        .split(|c: char| c.is_whitespace())
        .filter(|w| !w.is_empty())
        .collect();
    (!folded.is_empty()).then(|| folded.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Cell {
        Cell::Text(s.to_owned())
    }

    #[test]
    fn ids_normalise_as_the_domain_guide_says() {
        let valid = |s: &str| id_value(&text(s)).valid().map(|b| b.to_vec());
        let id = b"340302201601010019".to_vec();
        assert_eq!(valid("340302201601010019"), Some(id.clone()));
        assert_eq!(valid(" '340302201601010019 "), Some(id.clone()));
        assert_eq!(
            valid("３４０３０２２０１６０１０１００１９"),
            Some(id.clone())
        );
        assert_eq!(valid("340302-20160101-0019"), Some(id));
        assert_eq!(
            valid("11010519491231002x"),
            Some(b"11010519491231002X".to_vec())
        );
        assert_eq!(
            valid("340302860101123"),
            Some(b"340302198601011236".to_vec())
        );
        assert!(valid("440524188001010014").is_some());
        for bad in [
            "340302201601010018",
            "340302201601010011",
            "3.40302E+17",
            "340302201602300012",
        ] {
            assert_eq!(id_value(&text(bad)), IdValue::Invalid, "{bad}");
        }
        assert_eq!(id_value(&Cell::Empty), IdValue::Blank);
        assert_eq!(id_value(&Cell::Number(3.403e17)), IdValue::Invalid);
        let id = *b"340302201601010019";
        assert!(id_is_male(&id), "sequence 001 is odd");
        assert!(!id_is_male(b"11010519491231002X"));
        assert_eq!(id_birth_date(&id), NaiveDate::from_ymd_opt(2016, 1, 1));
    }

    #[test]
    fn dates_parse_in_every_written_style() {
        let d = NaiveDate::from_ymd_opt(2025, 3, 4);
        for s in ["2025-03-04", "2025/3/4", "20250304", "2025年3月4日"] {
            assert_eq!(date_value(&text(s)), d, "{s}");
        }
        assert_eq!(
            date_time_value(&text("2025-03-04 10:20")),
            d.map(|d| (d, Some((10, 20))))
        );
        assert_eq!(
            date_time_value(&text("2025年3月4日10时20分")),
            d.map(|d| (d, Some((10, 20))))
        );
        for bad in [
            "2025-02-30",
            "2025/13/1",
            "2025年4月31日",
            "20250230 10:20",
            "",
        ] {
            assert_eq!(date_value(&text(bad)), None, "{bad}");
        }
    }
}
