//! Resident IDs inside free text: found, masked or replaced.
//!
//! One definition of "an ID in a text" serves every output that leaves the data team: the
//! analyst export and the analysts' report both call [`mask_ids`], and the keyed pseudonyms
//! of the export call [`replace_ids`]. An ID is a run of 15 or 18 ID characters (17 digits
//! and a check `X` last) that is not part of a longer word or number; digits may be ASCII
//! or full-width (`３４０３…`, as a raw extract cell may hold them before normalisation). A
//! letter before the run does not protect it: the national student number (全国学籍号) is
//! `G` followed by the student's resident ID.

use std::borrow::Cow;

/// Masks every resident ID in a text, keeping the 6-digit address code and the last four
/// characters: `340302201601010019` → `340302********0019`.
pub fn mask_ids(s: &str) -> Cow<'_, str> {
    replace_ids(s, |id| {
        let chars: Vec<char> = id.chars().collect();
        let len = chars.len();
        let mut out = String::with_capacity(len + 8);
        out.extend(&chars[..6]);
        out.extend(std::iter::repeat_n('*', len - 10));
        out.extend(&chars[len - 4..]);
        out
    })
}

/// Whether a text holds a resident ID that [`mask_ids`] would mask.
pub fn contains_id(s: &str) -> bool {
    matches!(mask_ids(s), Cow::Owned(_))
}

/// Replaces every run of 15 or 18 ID characters (digits, with `X` or `x` last) that is not
/// part of a longer number with `f(run)` (letters around it do not matter).
pub fn replace_ids(s: &str, mut f: impl FnMut(&str) -> String) -> Cow<'_, str> {
    // Fast path: no digit at all (most names, codes and labels).
    if !s.bytes().any(|b| b.is_ascii_digit()) && s.is_ascii() {
        return Cow::Borrowed(s);
    }
    // A run `f` is called on holds at least 15 digits: a text with fewer (a Chinese name, a
    // date, a rule's message) is returned as it is, without the character table below.
    if s.chars().filter(|&c| is_digit(c)).count() < 15 {
        return Cow::Borrowed(s);
    }
    let chars: Vec<(usize, char)> = s.char_indices().collect();
    let at = |i: usize| chars.get(i).map(|&(_, c)| c);
    let mut out: Option<String> = None;
    let mut last = 0;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i].1;
        if is_digit(c) && (i == 0 || !is_digit(chars[i - 1].1)) {
            let mut j = i;
            while at(j).is_some_and(is_digit) {
                j += 1;
            }
            if j - i == 17 && at(j).is_some_and(is_check_x) {
                j += 1;
            }
            let len = j - i;
            let bounded = at(j).is_none_or(|c| !is_digit(c));
            if (len == 18 || len == 15) && bounded {
                let start = chars[i].0;
                let end = chars.get(j).map_or(s.len(), |&(b, _)| b);
                let o = out.get_or_insert_with(|| String::with_capacity(s.len()));
                o.push_str(&s[last..start]);
                o.push_str(&f(&s[start..end]));
                last = end;
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    match out {
        None => Cow::Borrowed(s),
        Some(mut o) => {
            o.push_str(&s[last..]);
            Cow::Owned(o)
        }
    }
}

fn is_digit(c: char) -> bool {
    c.is_ascii_digit() || ('０'..='９').contains(&c)
}

fn is_check_x(c: char) -> bool {
    matches!(c, 'X' | 'x' | 'Ｘ' | 'ｘ')
}

/// Every 18-character window of a text that is a resident ID in clear: 17 ASCII digits and
/// the right check character (GB 11643), wherever it stands (inside longer numbers too).
/// For tests that prove an output holds no ID; stricter than [`mask_ids`], which masks
/// whole runs only.
pub fn clear_ids(s: &str) -> Vec<&str> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    if b.len() < 18 {
        return out;
    }
    for i in 0..=b.len() - 18 {
        let w = &b[i..i + 18];
        if w[..17].iter().all(u8::is_ascii_digit)
            && (w[17].is_ascii_digit() || w[17] == b'X' || w[17] == b'x')
        {
            let body = &s[i..i + 17];
            let check = char::from(w[17]).to_ascii_uppercase();
            if crate::id::check_character(body) == Some(check) {
                out.push(&s[i..i + 18]);
            }
        }
    }
    out
}
