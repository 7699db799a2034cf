//! Comparison levels: how two records agree on each field.
//!
//! Each field has a few levels from the strongest agreement (1) down; 0 is the null level
//! (either side has no value), whose weight is 0. Every comparison is symmetric.

use crate::prepare::{IdDigits, Name, Rec};

/// The fields compared, in the order of [`Levels`].
pub(crate) const FIELDS: [FieldDef; N_FIELDS] = [
    FieldDef::new("mother_id", Kind::Id),
    FieldDef::new("mother_name", Kind::Name),
    FieldDef::new("child_name", Kind::Name),
    FieldDef::new("child_sex", Kind::Sex),
    FieldDef::new("birth_date", Kind::Date),
    FieldDef::new("birth_time", Kind::Time),
    FieldDef::new("institution", Kind::Exact),
    FieldDef::new("child_id", Kind::Id),
    FieldDef::new("father_id", Kind::Id),
    FieldDef::new("village", Kind::Village),
];

pub(crate) const N_FIELDS: usize = 10;
pub(crate) const MOTHER_ID: usize = 0;
pub(crate) const MOTHER_NAME: usize = 1;
pub(crate) const CHILD_NAME: usize = 2;
pub(crate) const CHILD_SEX: usize = 3;
pub(crate) const BIRTH_DATE: usize = 4;
pub(crate) const INSTITUTION: usize = 6;
pub(crate) const FATHER_ID: usize = 8;

/// The level of each field, 0 = null.
pub(crate) type Levels = [u8; N_FIELDS];

#[derive(Debug, Clone, Copy)]
pub(crate) struct FieldDef {
    pub name: &'static str,
    pub kind: Kind,
}

impl FieldDef {
    const fn new(name: &'static str, kind: Kind) -> Self {
        FieldDef { name, kind }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Id,
    Name,
    Sex,
    Date,
    Time,
    Exact,
    Village,
}

impl Kind {
    /// Level names, from level 1 on.
    pub(crate) fn levels(self) -> &'static [&'static str] {
        match self {
            Kind::Id => &[
                "exact",
                "one_substitution",
                "transposition",
                "truncated",
                "two_differences",
                "different",
            ],
            Kind::Name => &["exact", "homophone", "one_edit", "different"],
            Kind::Sex => &["same", "different"],
            Kind::Date => &["exact", "near", "within", "different"],
            Kind::Time => &["same_minute", "different"],
            Kind::Exact => &["exact", "different"],
            Kind::Village => &["same_village", "same_county", "different"],
        }
    }

    /// The m probabilities EM starts from (and shrinks towards), per level.
    pub(crate) fn default_m(self) -> &'static [f64] {
        match self {
            Kind::Id => &[0.90, 0.03, 0.01, 0.01, 0.01, 0.04],
            Kind::Name => &[0.85, 0.04, 0.04, 0.07],
            Kind::Sex => &[0.97, 0.03],
            Kind::Date => &[0.92, 0.04, 0.02, 0.02],
            Kind::Time => &[0.90, 0.10],
            Kind::Exact => &[0.85, 0.15],
            Kind::Village => &[0.80, 0.10, 0.10],
        }
    }
}

/// Date tolerances of the birth-date levels, in days.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tolerances {
    pub near: i32,
    pub within: i32,
}

/// Compares two records field by field.
pub(crate) fn compare(a: &Rec, b: &Rec, tol: Tolerances) -> Levels {
    [
        opt2(&a.mother_digits, &b.mother_digits, id_level),
        opt2(&a.mother_name, &b.mother_name, name_level),
        opt2(&a.child_name, &b.child_name, name_level),
        sex_level(a.sex, b.sex),
        opt2(&a.date, &b.date, |x, y| date_level(*x, *y, tol)),
        opt2(&a.minute(), &b.minute(), |x, y| if x == y { 1 } else { 2 }),
        opt2(
            &a.institution,
            &b.institution,
            |x, y| if x == y { 1 } else { 2 },
        ),
        opt2(&a.child_digits, &b.child_digits, id_level),
        opt2(&a.father_digits, &b.father_digits, id_level),
        opt2(&a.village, &b.village, |x, y| village_level(x, y)),
    ]
}

/// Keeps, per field, the stronger of two comparisons (a record compared with the several
/// records of a birth agrees with the birth as well as with its best-agreeing record).
pub(crate) fn merge_best(acc: &mut Levels, other: &Levels) {
    for (a, o) in acc.iter_mut().zip(other) {
        if *o != 0 && (*a == 0 || *o < *a) {
            *a = *o;
        }
    }
}

fn opt2<T>(a: &Option<T>, b: &Option<T>, f: impl Fn(&T, &T) -> u8) -> u8 {
    match (a, b) {
        (Some(a), Some(b)) => f(a, b),
        _ => 0,
    }
}

/// 1 exact, 2 one substitution, 3 adjacent transposition, 4 truncated (one side's last
/// three digits are `000`, as Excel leaves an 18-digit number, and the first 15 agree),
/// 5 two differences, 6 different.
pub(crate) fn id_level(a: &IdDigits, b: &IdDigits) -> u8 {
    // The first two differing positions and the count, without allocating: this runs for
    // every candidate pair.
    let mut first = [usize::MAX; 2];
    let mut n = 0;
    for i in 0..18 {
        if a[i] != b[i] {
            if n < 2 {
                first[n] = i;
            }
            n += 1;
        }
    }
    let [i, j] = first;
    match n {
        0 => 1,
        1 => 2,
        2 if j == i + 1 && a[i] == b[j] && a[j] == b[i] => 3,
        _ if a[..15] == b[..15] && (&a[15..] == b"000" || &b[15..] == b"000") => 4,
        2 => 5,
        _ => 6,
    }
}

/// 1 exact, 2 homophone (same length, every differing character has the same plain
/// pinyin), 3 one edit (a typo, a missing or extra character), 4 different.
pub(crate) fn name_level(a: &Name, b: &Name) -> u8 {
    if a.chars == b.chars {
        return 1;
    }
    if a.chars.len() == b.chars.len()
        && (0..a.chars.len()).all(|i| {
            a.chars[i] == b.chars[i] || (a.sounds[i].is_some() && a.sounds[i] == b.sounds[i])
        })
    {
        return 2;
    }
    if within_one_edit(&a.chars, &b.chars) {
        return 3;
    }
    4
}

/// Whether the Levenshtein distance of two character strings is at most 1.
fn within_one_edit(a: &[char], b: &[char]) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    match long.len() - short.len() {
        0 => short.iter().zip(long).filter(|(x, y)| x != y).count() <= 1,
        1 => {
            let p = short.iter().zip(long).take_while(|(x, y)| x == y).count();
            short[p..] == long[p + 1..]
        }
        _ => false,
    }
}

/// Only male (1) and female (2) are compared; unknown (0) and unspecified (9) are null.
fn sex_level(a: Option<i32>, b: Option<i32>) -> u8 {
    match (a, b) {
        (Some(a @ (1 | 2)), Some(b @ (1 | 2))) => {
            if a == b {
                1
            } else {
                2
            }
        }
        _ => 0,
    }
}

/// 1 same day, 2 within `near` days, 3 within `within` days, 4 further apart.
pub(crate) fn date_level(a: i32, b: i32, tol: Tolerances) -> u8 {
    let d = (a - b).abs();
    if d == 0 {
        1
    } else if d <= tol.near {
        2
    } else if d <= tol.within {
        3
    } else {
        4
    }
}

fn village_level(a: &str, b: &str) -> u8 {
    if a == b {
        1
    } else {
        match (a.get(..6), b.get(..6)) {
            (Some(x), Some(y)) if x == y => 2,
            _ => 3,
        }
    }
}
