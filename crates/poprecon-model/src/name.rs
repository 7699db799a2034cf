//! Person names.

use std::borrow::Cow;

use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfkc_quick};

/// The normal form in which names are compared: NFKC (full-width Latin letters and digits
/// become ASCII; CJK unified ideographs are unchanged), every run of whitespace (full-width
/// U+3000 included) folded into one ASCII space, trimmed. The middle dot of minority and
/// foreign names is kept, and its look-alikes (U+30FB, U+FF65, U+2027) become U+00B7.
/// `None` when nothing is left.
pub fn normalize_name(raw: &str) -> Option<String> {
    let normalized: Cow<'_, str> = match is_nfkc_quick(raw.chars()) {
        IsNormalized::Yes => Cow::Borrowed(raw),
        IsNormalized::No | IsNormalized::Maybe => Cow::Owned(raw.nfkc().collect()),
    };
    let mut out = String::with_capacity(normalized.len());
    let mut space_pending = false;
    for c in normalized.chars() {
        if c.is_whitespace() {
            space_pending = !out.is_empty();
            continue;
        }
        if space_pending {
            out.push(' ');
            space_pending = false;
        }
        out.push(match c {
            '\u{30FB}' | '\u{FF65}' | '\u{2027}' => '\u{00B7}',
            c => c,
        });
    }
    (!out.is_empty()).then_some(out)
}
