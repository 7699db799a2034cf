//! From a village's world to the rows of the nine extracts, with the mess injected at the
//! configured rates, and the truth that follows: the births with each source's record key
//! (domain.md §4, §7, §8), the invalid values of kept rows (§8.7) and, per row, the
//! quarantine reason and the injections (lines are added when the rows are written).

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use crate::MessRates;
use crate::divisions::Village;
use crate::schema::{self, Dialect, Src};
use crate::world::{self, Calendar, Place, VillageWorld, Window, days};
use crate::{ids, names};

/// One cell as written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    Empty,
    Text(String),
    Static(&'static str),
    Date(NaiveDate),
    DateTime(NaiveDateTime),
    /// A numeric cell (XLSX).
    Number(f64),
}

impl Cell {
    /// The cell as CSV text.
    pub(crate) fn text(&self) -> std::borrow::Cow<'_, str> {
        use std::borrow::Cow;
        match self {
            Cell::Empty => Cow::Borrowed(""),
            Cell::Text(s) => Cow::Borrowed(s),
            Cell::Static(s) => Cow::Borrowed(s),
            Cell::Date(d) => Cow::Owned(date_text(DateStyle::Dash, d.year(), d.month(), d.day())),
            Cell::DateTime(t) => Cow::Owned(datetime_text(false, *t)),
            Cell::Number(x) => Cow::Owned(format!("{x}")),
        }
    }
}

/// One injected piece of mess.
#[derive(Debug, Clone)]
pub(crate) struct Injection {
    pub field: &'static str,
    pub kind: &'static str,
    pub birth: Option<String>,
}

/// Why a row is in its extract, for the accounting of rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub(crate) enum Role {
    /// A registry row unrelated to a birth of the period.
    #[default]
    Background,
    /// A birth-level record of a live birth in the period.
    Birth,
    /// A mother-level record (booking, registration) of a pregnancy ending in the period.
    Mother,
    Stillbirth,
    /// A record of a pregnancy ending before or after the period.
    OutOfPeriod,
    /// A booking or registration of a pregnancy not ended by `as_of`.
    Pending,
    /// The extra copy of a duplicated delivery.
    Duplicate,
}

impl Role {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Role::Background => "background",
            Role::Birth => "birth",
            Role::Mother => "mother",
            Role::Stillbirth => "stillbirth",
            Role::OutOfPeriod => "out_of_period",
            Role::Pending => "pending",
            Role::Duplicate => "duplicate",
        }
    }
}

/// Which part of the world a row records: the true linkage the truth is computed with.
///
/// `index` points into the village world by source: household → `regs`, marriage →
/// `marriages`, social security → `insured`, school → `students`, and every health source
/// → `pregnancies`. `child` is the index into the pregnancy's `children` (delivery,
/// certificate, vaccination; `None` for a stillbirth's delivery), `dose` into the child's
/// `doses` (vaccination).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Link {
    pub index: u32,
    pub child: Option<u8>,
    pub dose: u8,
}

impl Link {
    fn of(index: usize) -> Link {
        Link {
            index: index as u32,
            ..Link::default()
        }
    }

    fn child(index: usize, child: usize) -> Link {
        Link {
            index: index as u32,
            child: Some(child as u8),
            dose: 0,
        }
    }
}

/// What the truth needs to know about a row.
#[derive(Debug, Clone, Default)]
pub(crate) struct Meta {
    /// The record key as written, trimmed; `None` when empty.
    pub key: Option<String>,
    pub link: Link,
    /// `(reason, field)` when the row must be quarantined.
    pub quarantine: Option<(&'static str, &'static str)>,
    pub injections: Vec<Injection>,
    pub role: Role,
}

#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub cells: Vec<Cell>,
    pub meta: Meta,
}

/// A birth of the truth (`truth/births.parquet`).
#[derive(Debug, Clone)]
pub(crate) struct BirthTruth {
    pub birth_id: String,
    /// Attribution (§4, §8.11), set by the truth with `mother_floating` and the keys of
    /// `birth_registration`, `prenatal_care`, `marriage` and `social_security`: they are
    /// found through the mother's ID as written.
    pub village: Option<String>,
    pub design_village: String,
    pub mother_floating: bool,
    pub sex: Option<i32>,
    pub birth_date: Option<NaiveDate>,
    pub true_sex: i32,
    pub true_birth_date: NaiveDate,
    /// `None` for a registry child (the generator made no time or place for it).
    pub birth_time: Option<NaiveDateTime>,
    pub birth_seq: i32,
    pub plurality: i32,
    pub birth_order: i32,
    pub home_birth: Option<bool>,
    pub mother_id: String,
    pub child_id: String,
    pub keys: [Option<String>; 9],
    pub origin: Origin,
}

/// Where a birth comes from in the village world.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Origin {
    /// The pregnancy: of this birth, or (registry child) the mother's later one.
    pub pregnancy: u32,
    /// Index into the pregnancy's `children`; `None` for a registry child, one of the
    /// mother's earlier children (`Pregnancy::earlier`) born in the period.
    pub child: Option<u8>,
    /// A registry child's household row.
    pub reg: Option<u32>,
    /// A registry child's true birth order.
    pub order: u8,
}

/// An invalid value of a kept row (domain.md §8.7).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct InvalidTruth {
    pub source: Src,
    pub key: String,
    pub field: &'static str,
    pub reason: &'static str,
    /// The row's index among the village's rows of its source.
    pub row: usize,
}

/// Everything one village contributes.
#[derive(Debug, Default)]
pub(crate) struct VillageOut {
    /// Rows per source while rendering; encoded into `parts` at the end.
    pub rows: Vec<Vec<Row>>,
    /// Per source, in [`schema::ALL`] order: the rows encoded for their file.
    pub parts: Vec<crate::sink::Part>,
    pub births: Vec<BirthTruth>,
    pub invalid: Vec<InvalidTruth>,
    /// The village's discrepancies and indicator counts (`truth/`).
    pub truth: crate::truth::VillageTruth,
    pub people: u64,
    /// Live children of the period with no accepted birth-level record (not births, §8.1).
    pub unseen_births: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DateStyle {
    Dash,
    Slash,
    Compact,
    Cjk,
    /// Month precision, `2019-09` (§3: read as the first of the month).
    Month,
}

/// How a required or optional date cell is written, to write an impossible one alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DateCell {
    Text(DateStyle),
    TextTime(bool),
    Xlsx,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IdStyle {
    Csv,
    Xlsx,
    /// Certificate XLSX: IDs may be stored as numbers.
    XlsxNumeric,
    Parquet,
}

fn date_text(style: DateStyle, y: i32, m: u32, d: u32) -> String {
    match style {
        DateStyle::Dash => format!("{y:04}-{m:02}-{d:02}"),
        DateStyle::Slash => format!("{y}/{m}/{d}"),
        DateStyle::Compact => format!("{y:04}{m:02}{d:02}"),
        DateStyle::Cjk => format!("{y}年{m}月{d}日"),
        DateStyle::Month => format!("{y:04}-{m:02}"),
    }
}

fn datetime_text(cjk: bool, t: NaiveDateTime) -> String {
    let d = t.date();
    if cjk {
        format!(
            "{}年{}月{}日{}时{}分",
            d.year(),
            d.month(),
            d.day(),
            t.hour(),
            t.minute()
        )
    } else {
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}",
            d.year(),
            d.month(),
            d.day(),
            t.hour(),
            t.minute()
        )
    }
}

/// Birth-level sources in the order of domain.md §8.2: delivery, certificate, household,
/// vaccination.
const SEEN_DELIVERY: usize = 0;
const SEEN_CERTIFICATE: usize = 1;
const SEEN_HOUSEHOLD: usize = 2;
const SEEN_VACCINATION: usize = 3;

/// A birth of the period while its records are rendered.
#[derive(Debug, Default, Clone)]
struct BirthAcc {
    id: String,
    origin: Origin,
    keys: [Option<String>; 9],
    seen: [Option<(Option<i32>, Option<NaiveDate>)>; 4],
    sex_conflict: Option<Src>,
    date_conflict: Option<Src>,
    mother_conflict: Option<Src>,
}

/// The row being built.
#[derive(Debug)]
struct Builder {
    cells: Vec<Cell>,
    meta: Meta,
    invalid: Vec<(&'static str, &'static str)>,
    birth: Option<String>,
}

impl Builder {
    fn new(src: Src, role: Role, birth: Option<&str>, link: Link) -> Builder {
        Builder {
            cells: vec![Cell::Empty; src.columns().len()],
            meta: Meta {
                role,
                link,
                ..Meta::default()
            },
            invalid: Vec::new(),
            birth: birth.map(str::to_owned),
        }
    }

    fn inject(&mut self, field: &'static str, kind: &'static str) {
        self.meta.injections.push(Injection {
            field,
            kind,
            birth: self.birth.clone(),
        });
    }
}

/// The mess of one village: its own random stream, so villages render in any order.
struct Renderer<'a> {
    rng: ChaCha8Rng,
    rates: &'a MessRates,
    dialect: Dialect,
    village: &'a Village,
    cal: Calendar,
    w: &'a VillageWorld,
    institutions: [String; 8],
    clinic: String,
    out: VillageOut,
    births: Vec<BirthAcc>,
    /// Index of each pregnancy's first birth in `births` (period pregnancies only).
    first_birth: Vec<Option<usize>>,
    /// Birth index of a household row of a period child.
    reg_birth: Vec<Option<usize>>,
    counters: [u32; 9],
}

/// The county-b dialect's 险种 names (the national list, employee and resident schemes).
const COUNTY_B_SCHEMES: [&str; 8] = [
    "企业职工基本养老保险",
    "城乡居民基本养老保险",
    "机关事业单位养老保险",
    "职工基本医疗保险",
    "城乡居民基本医疗保险",
    "失业保险",
    "工伤保险",
    "生育保险",
];

/// Share of pupils whose ID field the county-b dialect leaves blank.
const COUNTY_B_BLANK_PUPIL_ID: f64 = 0.07;

/// Share of maternity claimants whose delivery row carries a mistyped mother ID (county-b).
const COUNTY_B_CLAIMANT_DAMAGE: f64 = 0.3;

/// Rates that mistype an ID for certain (one digit substituted: the check catches it).
static MISTYPED: MessRates = MessRates {
    id_substitution: 1.0,
    id_transposition: 0.0,
    id_lowercase_x: 0.0,
    id_fullwidth: 0.0,
    id_apostrophe: 0.0,
    id_excel_text: 0.0,
    id_excel_numeric: 0.0,
    name_typo: 0.0,
    sex_conflict: 0.0,
    birth_date_conflict: 0.0,
    wrong_mother_id: 0.0,
    duplicate_delivery: 0.0,
    wrong_child_order: 0.0,
    unknown_village: 0.0,
    missing_required: 0.0,
    impossible_required_date: 0.0,
    impossible_optional_date: 0.0,
};

/// Renders one village.
pub(crate) fn render(
    world: &VillageWorld,
    village: &Village,
    cal: Calendar,
    rates: &MessRates,
    seed: u64,
    dialect: Dialect,
) -> VillageOut {
    let township = &village.township_name;
    let clinic_base = if township.ends_with("街道") {
        format!("{township}社区卫生服务中心")
    } else {
        format!("{township}卫生院")
    };
    let county = &village.county_name;
    let institutions = [
        "蚌埠医学院第一附属医院".to_owned(),
        "蚌埠医学院第二附属医院".to_owned(),
        "蚌埠市第一人民医院".to_owned(),
        "蚌埠市第三人民医院".to_owned(),
        "蚌埠市妇幼保健院".to_owned(),
        format!("{county}人民医院"),
        format!("{county}妇幼保健院"),
        clinic_base.clone(),
    ];
    let mut r = Renderer {
        rng: world::stream_rng(seed, &village.code, 2),
        rates,
        dialect,
        village,
        cal,
        w: world,
        institutions,
        clinic: format!("{clinic_base}预防接种门诊"),
        out: VillageOut {
            rows: (0..9).map(|_| Vec::new()).collect(),
            people: world.persons.len() as u64,
            ..VillageOut::default()
        },
        births: Vec::new(),
        first_birth: vec![None; world.pregnancies.len()],
        reg_birth: vec![None; world.regs.len()],
        counters: [0; 9],
    };
    r.plan_births();
    r.household();
    r.marriage();
    r.social_security();
    r.school();
    r.pregnancies();
    r.finish_births();
    let mut out = r.out;
    let rows = std::mem::take(&mut out.rows);
    out.invalid.sort();
    out.invalid
        .dedup_by(|a, b| a.source == b.source && a.key == b.key && a.field == b.field);
    out.truth = crate::truth::village(&crate::truth::VillageInput {
        world,
        village,
        cal,
        rows: &rows,
        births: &out.births,
        invalid: &out.invalid,
    });
    // The columns found through the mother's ID are the truth's (domain.md §8.3, §8.8).
    for (birth, side) in out
        .births
        .iter_mut()
        .zip(std::mem::take(&mut out.truth.births))
    {
        side.apply(birth);
    }
    out.parts = schema::ALL
        .iter()
        .zip(rows)
        .map(|(src, rows)| crate::sink::encode(*src, dialect, rows))
        .collect();
    out
}

impl Renderer<'_> {
    fn hit(&mut self, p: f64) -> bool {
        p > 0.0 && self.rng.random::<f64>() < p
    }

    fn next(&mut self, src: Src) -> u32 {
        self.counters[src.index()] += 1;
        self.counters[src.index()]
    }

    fn gidx(&self) -> u32 {
        self.village.index
    }

    /// Numbers the births of the period and decides their cross-source conflicts.
    fn plan_births(&mut self) {
        let w = self.w;
        let mut n = 0;
        for (pi, p) in w.pregnancies.iter().enumerate() {
            if p.window != Window::InPeriod || p.children.is_empty() {
                continue;
            }
            self.first_birth[pi] = Some(self.births.len());
            for (c_index, c) in p.children.iter().enumerate() {
                n += 1;
                let mut acc = BirthAcc {
                    id: format!("{}-{n:03}", self.village.code),
                    origin: Origin {
                        pregnancy: pi as u32,
                        child: Some(c_index as u8),
                        reg: None,
                        order: 0,
                    },
                    ..BirthAcc::default()
                };
                let mut sources = Vec::with_capacity(4);
                if p.place != Place::Home {
                    sources.push(Src::HospitalDelivery);
                }
                if c.certificate.is_some() {
                    sources.push(Src::BirthCertificate);
                }
                if c.reg_row.is_some() {
                    sources.push(Src::Household);
                }
                if !c.doses.is_empty() {
                    sources.push(Src::Vaccination);
                }
                if sources.len() >= 2 {
                    if self.hit(self.rates.sex_conflict) {
                        acc.sex_conflict = Some(sources[self.rng.random_range(0..sources.len())]);
                    }
                    if self.hit(self.rates.birth_date_conflict) {
                        acc.date_conflict = Some(sources[self.rng.random_range(0..sources.len())]);
                    }
                }
                let mother_sources: Vec<Src> = sources
                    .iter()
                    .copied()
                    .filter(|s| {
                        matches!(
                            s,
                            Src::HospitalDelivery | Src::BirthCertificate | Src::Vaccination
                        )
                    })
                    .collect();
                if mother_sources.len() >= 2 && self.hit(self.rates.wrong_mother_id) {
                    acc.mother_conflict =
                        Some(mother_sources[self.rng.random_range(0..mother_sources.len())]);
                }
                if let Some(row) = c.reg_row {
                    self.reg_birth[row as usize] = Some(self.births.len());
                }
                self.births.push(acc);
            }
        }
        // Registry children: a mother's earlier children registered with her family are
        // live-born too, and those born in the period are births (§8.1) seen in the household
        // registry alone. (Only the earlier children of pregnancies not ended by `as_of` can
        // be: an earlier child is born at least 500 days before its younger sibling.) They
        // are numbered after the period's pregnancies, so earlier birth ids do not move.
        let cal = self.cal;
        for (pi, p) in w.pregnancies.iter().enumerate() {
            for (k, &row) in p.earlier.iter().enumerate() {
                let born = w.persons[w.regs[row as usize].person as usize].birth;
                if born < cal.start || born > cal.end {
                    continue;
                }
                n += 1;
                self.reg_birth[row as usize] = Some(self.births.len());
                self.births.push(BirthAcc {
                    id: format!("{}-{n:03}", self.village.code),
                    origin: Origin {
                        pregnancy: pi as u32,
                        child: None,
                        reg: Some(row),
                        order: (k + 1) as u8,
                    },
                    ..BirthAcc::default()
                });
            }
        }
    }

    /// Writes an ID cell, with the mess its source suffers. Returns whether the value still
    /// reads as the person's ID after normalisation.
    fn id_cell(&mut self, b: &mut Builder, src: Src, col: usize, id: &str, style: IdStyle) -> bool {
        let field = src.columns()[col].field;
        let r = *self.rates;
        let has_x = id.ends_with('X');
        let candidates: [(&'static str, f64, bool); 7] = [
            (
                "excel_numeric",
                r.id_excel_numeric,
                style == IdStyle::XlsxNumeric && !has_x,
            ),
            ("id_substitution", r.id_substitution, true),
            ("id_transposition", r.id_transposition, true),
            (
                "excel_text",
                r.id_excel_text,
                style == IdStyle::Csv && !id.ends_with("000"),
            ),
            ("lowercase_x", r.id_lowercase_x, has_x),
            ("fullwidth_digits", r.id_fullwidth, true),
            (
                "leading_apostrophe",
                r.id_apostrophe,
                style != IdStyle::Parquet,
            ),
        ];
        let u: f64 = self.rng.random();
        let mut acc = 0.0;
        let mut chosen = None;
        for (kind, rate, applicable) in candidates {
            if !applicable || rate <= 0.0 {
                continue;
            }
            acc += rate;
            if u < acc {
                chosen = Some(kind);
                break;
            }
        }
        let (cell, kind, reason, intact) = match chosen {
            Some("excel_numeric") => match ids::as_excel_number(id) {
                Some(x) => (
                    Cell::Number(x),
                    Some("excel_numeric"),
                    Some("excel_numeric"),
                    false,
                ),
                None => (Cell::Text(id.to_owned()), None, None, true),
            },
            Some("id_substitution") => {
                let s = ids::substitute(&mut self.rng, id);
                let reason = ids::damage_reason(&s);
                (Cell::Text(s), Some("id_substitution"), reason, false)
            }
            Some("id_transposition") => match ids::transpose(&mut self.rng, id) {
                Some(s) => {
                    let reason = ids::damage_reason(&s);
                    (Cell::Text(s), Some("id_transposition"), reason, false)
                }
                None => (Cell::Text(id.to_owned()), None, None, true),
            },
            Some("excel_text") => {
                if self.rng.random_bool(0.5) {
                    (
                        Cell::Text(ids::scientific(id)),
                        Some("excel_scientific"),
                        Some("excel_scientific"),
                        false,
                    )
                } else {
                    let s = ids::trailing_zeros(id);
                    let reason = ids::damage_reason(&s);
                    (Cell::Text(s), Some("excel_trailing_zeros"), reason, false)
                }
            }
            Some("lowercase_x") => (
                Cell::Text(id.replace('X', "x")),
                Some("lowercase_x"),
                None,
                true,
            ),
            Some("fullwidth_digits") => (
                Cell::Text(ids::fullwidth(id)),
                Some("fullwidth_digits"),
                None,
                true,
            ),
            Some("leading_apostrophe") => (
                Cell::Text(format!("'{id}")),
                Some("leading_apostrophe"),
                None,
                true,
            ),
            _ => (Cell::Text(id.to_owned()), None, None, true),
        };
        if let Some(kind) = kind {
            b.inject(field, kind);
        }
        if let Some(reason) = reason {
            b.invalid.push((field, reason));
        }
        b.cells[col] = cell;
        intact
    }

    fn name_cell(&mut self, b: &mut Builder, src: Src, col: usize, name: &str) {
        if self.hit(self.rates.name_typo)
            && let Some(t) = names::typo(&mut self.rng, name)
        {
            b.inject(src.columns()[col].field, "name_typo");
            b.cells[col] = Cell::Text(t);
            return;
        }
        b.cells[col] = Cell::Text(name.to_owned());
    }

    /// Writes a village code, sometimes one the division table does not know (a village
    /// numbered 9xx in a known township).
    fn village_cell(&mut self, b: &mut Builder, src: Src, col: usize) {
        let code = &self.village.code;
        let written = if self.hit(self.rates.unknown_village) {
            let field = src.columns()[col].field;
            b.inject(field, "unknown_village");
            b.invalid.push((field, "unknown_village"));
            // No village of the table is numbered 9xx.
            format!("{}9{:02}", &code[..9], self.rng.random_range(0..100u32))
        } else {
            code.clone()
        };
        b.cells[col] = Cell::Text(written);
    }

    fn impossible(&mut self, date: NaiveDate, style: DateCell) -> String {
        const DAYS: [(u32, u32); 7] = [
            (2, 30),
            (2, 31),
            (4, 31),
            (6, 31),
            (9, 31),
            (11, 31),
            (13, 1),
        ];
        let (m, d) = DAYS[self.rng.random_range(0..DAYS.len())];
        // A month-precision cell has no day to be impossible: its month is.
        let m = if style == DateCell::Text(DateStyle::Month) {
            13
        } else {
            m
        };
        let d = if m == 13 { date.day() } else { d };
        let y = date.year();
        match style {
            DateCell::Text(s) => date_text(s, y, m, d),
            DateCell::TextTime(cjk) => {
                if cjk {
                    format!("{}10时20分", date_text(DateStyle::Cjk, y, m, d))
                } else {
                    format!("{} 10:20", date_text(DateStyle::Dash, y, m, d))
                }
            }
            DateCell::Xlsx => date_text(DateStyle::Dash, y, m, d),
        }
    }

    /// An optional date cell, sometimes impossible (flagged `impossible_date`, row kept).
    fn optional_date(
        &mut self,
        b: &mut Builder,
        src: Src,
        col: usize,
        date: NaiveDate,
        style: DateCell,
    ) {
        if self.hit(self.rates.impossible_optional_date) {
            let field = src.columns()[col].field;
            let text = self.impossible(date, style);
            b.inject(field, "impossible_optional_date");
            b.invalid.push((field, "impossible_date"));
            b.cells[col] = Cell::Text(text);
            return;
        }
        b.cells[col] = match style {
            DateCell::Text(s) => Cell::Text(date_text(s, date.year(), date.month(), date.day())),
            DateCell::TextTime(_) | DateCell::Xlsx => Cell::Date(date),
        };
    }

    /// Decides the row's fate, stores it and returns its key if it is kept.
    fn finish(
        &mut self,
        src: Src,
        mut b: Builder,
        required: &[usize],
        dates: &[(usize, NaiveDate, DateCell)],
    ) -> Option<String> {
        let cols = src.columns();
        if !required.is_empty() && self.hit(self.rates.missing_required) {
            let col = required[self.rng.random_range(0..required.len())];
            b.cells[col] = Cell::Empty;
            b.meta.quarantine = Some(("missing_required", cols[col].field));
            b.inject(cols[col].field, "missing_required");
        } else if !dates.is_empty() && self.hit(self.rates.impossible_required_date) {
            let (col, date, style) = dates[self.rng.random_range(0..dates.len())];
            let text = self.impossible(date, style);
            b.cells[col] = Cell::Text(text);
            b.meta.quarantine = Some(("invalid_required_date", cols[col].field));
            b.inject(cols[col].field, "impossible_required_date");
        }
        b.meta.key = match &b.cells[0] {
            Cell::Text(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            Cell::Static(s) => Some((*s).to_owned()),
            _ => None,
        };
        let kept = b.meta.quarantine.is_none();
        if kept {
            let key = b.meta.key.clone().unwrap_or_default();
            let row = self.out.rows[src.index()].len();
            for (field, reason) in &b.invalid {
                self.out.invalid.push(InvalidTruth {
                    source: src,
                    key: key.clone(),
                    field,
                    reason,
                    row,
                });
            }
        }
        let key = if kept { b.meta.key.clone() } else { None };
        self.out.rows[src.index()].push(Row {
            cells: b.cells,
            meta: b.meta,
        });
        key
    }

    fn sex_label(male: bool) -> &'static str {
        if male { "男" } else { "女" }
    }

    fn household(&mut self) {
        let src = Src::Household;
        let w = self.w;
        let village = self.village.code.clone();
        for (i, row) in w.regs.iter().enumerate() {
            let p = &w.persons[row.person as usize];
            let birth = self.reg_birth[i];
            let role = match birth {
                Some(_) => Role::Birth,
                // Children of the births just before or after the period.
                None if p.birth >= self.cal.start - days(92) => Role::OutOfPeriod,
                None => Role::Background,
            };
            let birth_id = birth.map(|b| self.births[b].id.clone());
            let mut b = Builder::new(src, role, birth_id.as_deref(), Link::of(i));
            self.id_cell(&mut b, src, 0, &p.id, IdStyle::Parquet);
            self.name_cell(&mut b, src, 1, &p.name);
            let mut male = p.male;
            let mut born = p.birth;
            if let Some(bi) = birth {
                if self.births[bi].sex_conflict == Some(src) {
                    male = !male;
                    b.inject("sex", "sex_conflict");
                }
                if self.births[bi].date_conflict == Some(src) {
                    born = shift_one(&mut self.rng, born, false);
                    b.inject("birth_date", "birth_date_conflict");
                }
            }
            b.cells[2] = Cell::Static(if male { "1" } else { "2" });
            b.cells[3] = Cell::Date(born);
            b.cells[4] = Cell::Text(format!("{village}{:04}", row.household + 1));
            b.cells[5] = Cell::Static(row.relation);
            self.village_cell(&mut b, src, 6);
            b.cells[7] = Cell::Date(row.reg_date);
            b.cells[8] = Cell::Static(row.reason);
            b.cells[9] = Cell::Static(row.status.label());
            if let Some(m) = row.mother {
                let id = &w.persons[m as usize].id;
                self.id_cell(&mut b, src, 10, id, IdStyle::Parquet);
            }
            if let Some(f) = row.father {
                let id = &w.persons[f as usize].id;
                self.id_cell(&mut b, src, 11, id, IdStyle::Parquet);
            }
            let key = self.finish(src, b, &[0, 6], &[]);
            if let (Some(bi), Some(k)) = (birth, &key) {
                let acc = &mut self.births[bi];
                acc.keys[src.index()] = Some(k.clone());
                acc.seen[SEEN_HOUSEHOLD] = Some((Some(if male { 1 } else { 2 }), Some(born)));
            }
        }
    }

    fn marriage(&mut self) {
        let src = Src::Marriage;
        let w = self.w;
        for (i, m) in w.marriages.iter().enumerate() {
            let n = self.next(src);
            let mut b = Builder::new(src, Role::Background, None, Link::of(i));
            b.cells[0] = Cell::Text(format!(
                "J{:06}-{}-{:05}{:04}",
                self.village.county,
                m.date.year(),
                self.gidx(),
                n
            ));
            b.cells[1] = Cell::Static(if m.divorce { "离婚" } else { "结婚" });
            self.id_cell(&mut b, src, 2, &w.persons[m.man as usize].id, IdStyle::Csv);
            self.id_cell(
                &mut b,
                src,
                3,
                &w.persons[m.woman as usize].id,
                IdStyle::Csv,
            );
            let style = if self.rng.random_bool(0.6) {
                DateStyle::Cjk
            } else {
                DateStyle::Dash
            };
            b.cells[4] = Cell::Text(date_text(
                style,
                m.date.year(),
                m.date.month(),
                m.date.day(),
            ));
            self.finish(
                src,
                b,
                &[0, 1, 2, 3, 4],
                &[(4, m.date, DateCell::Text(style))],
            );
        }
    }

    fn social_security(&mut self) {
        let src = Src::SocialSecurity;
        let w = self.w;
        for (i, ins) in w.insured.iter().enumerate() {
            let p = &w.persons[ins.person as usize];
            let mut b = Builder::new(src, Role::Background, None, Link::of(i));
            self.id_cell(&mut b, src, 0, &p.id, IdStyle::Parquet);
            self.name_cell(&mut b, src, 1, &p.name);
            b.cells[2] = Cell::Static(match self.dialect {
                // Every 险种 of the national list, as another county's system names them;
                // a claimant's row keeps its own scheme.
                Dialect::CountyB if ins.claim.is_none() => {
                    COUNTY_B_SCHEMES[self.rng.random_range(0..COUNTY_B_SCHEMES.len())]
                }
                _ => ins.scheme,
            });
            b.cells[3] = Cell::Text(format!("{:06}", self.village.county));
            b.cells[4] = Cell::Static(ins.status);
            b.cells[5] = Cell::Date(ins.start);
            if let Some(c) = ins.claim {
                b.cells[6] = Cell::Date(c);
            }
            self.finish(src, b, &[0], &[]);
        }
    }

    fn school(&mut self) {
        let src = Src::School;
        let w = self.w;
        let township = self.village.township_name.clone();
        let county = self.village.county_name.clone();
        for (i, s) in w.students.iter().enumerate() {
            let p = &w.persons[s.person as usize];
            let mut b = Builder::new(src, Role::Background, None, Link::of(i));
            b.cells[0] = Cell::Text(format!("G{}", p.id));
            if self.dialect == Dialect::CountyB && self.rng.random_bool(COUNTY_B_BLANK_PUPIL_ID) {
                // The ID field left blank: the ID stays in the student number (§8.17).
                b.inject("person_id", "blank_pupil_id");
            } else {
                self.id_cell(&mut b, src, 1, &p.id, IdStyle::Csv);
            }
            self.name_cell(&mut b, src, 2, &p.name);
            b.cells[3] = Cell::Static(Self::sex_label(p.male));
            self.optional_date(&mut b, src, 4, p.birth, DateCell::Text(DateStyle::Compact));
            b.cells[5] = Cell::Text(match (s.stage, s.school) {
                (0, 0) => format!("{township}中心小学"),
                (0, _) => format!("{township}第二小学"),
                (1, 0) => format!("{county}第一中学"),
                (1, _) => format!("{county}第二中学"),
                (_, 0) => "蚌埠第二中学".to_owned(),
                (_, _) => format!("{county}第一中学"),
            });
            b.cells[6] = Cell::Static(s.grade);
            let enrolment = match self.dialect {
                Dialect::CountyB => DateStyle::Month,
                Dialect::Bengbu => DateStyle::Dash,
            };
            self.optional_date(&mut b, src, 7, s.enrolment, DateCell::Text(enrolment));
            self.finish(src, b, &[0], &[]);
        }
    }

    fn pregnancies(&mut self) {
        let w = self.w;
        let mut duplicates: Vec<Builder> = Vec::new();
        for (pi, p) in w.pregnancies.iter().enumerate() {
            let first = self.first_birth[pi];
            let mother = &w.persons[p.mother as usize];
            let father = &w.persons[p.father as usize];
            let mother_role = match p.window {
                Window::InPeriod => Role::Mother,
                Window::Pending => Role::Pending,
                Window::Before | Window::After => Role::OutOfPeriod,
            };
            let first_id = first.map(|f| self.births[f].id.clone());

            // Birth registration (生育登记).
            if let Some(date) = p.registration {
                let src = Src::BirthRegistration;
                let n = self.next(src);
                let mut b = Builder::new(src, mother_role, first_id.as_deref(), Link::of(pi));
                b.cells[0] = Cell::Text(format!("SY{:05}{n:04}", self.gidx()));
                let style = match self.rng.random::<f64>() {
                    x if x < 0.7 => DateStyle::Slash,
                    x if x < 0.9 => DateStyle::Dash,
                    _ => DateStyle::Compact,
                };
                b.cells[1] = Cell::Text(date_text(style, date.year(), date.month(), date.day()));
                self.id_cell(&mut b, src, 2, &mother.id, IdStyle::Csv);
                self.name_cell(&mut b, src, 3, &mother.name);
                self.id_cell(&mut b, src, 4, &father.id, IdStyle::Csv);
                self.name_cell(&mut b, src, 5, &father.name);
                let mut order = i32::from(p.order);
                if self.hit(self.rates.wrong_child_order) {
                    order = if order == 1 || self.rng.random_bool(0.5) {
                        order + 1
                    } else {
                        order - 1
                    };
                    b.inject("child_order", "wrong_child_order");
                }
                b.cells[6] = Cell::Text(order.to_string());
                if self.rng.random_bool(0.95) {
                    self.village_cell(&mut b, src, 7);
                }
                self.finish(src, b, &[0, 1, 2], &[(1, date, DateCell::Text(style))]);
            }

            // Prenatal booking (孕产期保健).
            if let Some(bk) = p.booking {
                let src = Src::PrenatalCare;
                let n = self.next(src);
                let mut b = Builder::new(src, mother_role, first_id.as_deref(), Link::of(pi));
                b.cells[0] = Cell::Text(format!("YC{:05}{n:04}", self.gidx()));
                self.id_cell(&mut b, src, 1, &mother.id, IdStyle::Xlsx);
                self.name_cell(&mut b, src, 2, &mother.name);
                b.cells[3] = Cell::Date(bk.date);
                b.cells[4] = Cell::Number(f64::from(bk.weeks));
                b.cells[5] = Cell::Number(f64::from(bk.visits));
                self.optional_date(&mut b, src, 6, bk.due, DateCell::Xlsx);
                b.cells[7] = Cell::Static(if bk.high_risk { "是" } else { "否" });
                b.cells[8] = Cell::Text(if bk.at_hospital {
                    self.institutions[usize::from(p.institution).min(6)].clone()
                } else {
                    self.institutions[7].clone()
                });
                if self.rng.random_bool(0.85) {
                    self.village_cell(&mut b, src, 9);
                }
                self.finish(src, b, &[0, 1, 3], &[(3, bk.date, DateCell::Xlsx)]);
            }

            if p.window == Window::Pending {
                continue;
            }

            // Hospital delivery (住院分娩): one row per child, or the stillbirth.
            if p.place != Place::Home {
                let src = Src::HospitalDelivery;
                let cjk = self.rng.random_bool(0.15);
                let residence_given = self.rng.random_bool(0.95);
                let mut rows: Vec<(Option<usize>, Link, bool, u8, u16, NaiveDateTime)> = Vec::new();
                if let Some((male, weight)) = p.stillbirth {
                    rows.push((None, Link::of(pi), male, 1, weight, p.end));
                } else {
                    for (c, child) in p.children.iter().enumerate() {
                        rows.push((
                            first.map(|f| f + c),
                            Link::child(pi, c),
                            child.male,
                            child.seq,
                            child.weight,
                            child.time,
                        ));
                    }
                }
                for (birth, link, male, seq, weight, time) in rows {
                    let role = match (p.stillbirth, p.window) {
                        (Some(_), _) => Role::Stillbirth,
                        (None, Window::InPeriod) => Role::Birth,
                        _ => Role::OutOfPeriod,
                    };
                    let birth_id = birth.map(|bi| self.births[bi].id.clone());
                    let n = self.next(src);
                    let mut b = Builder::new(src, role, birth_id.as_deref(), link);
                    b.cells[0] = Cell::Text(format!("FM{:05}{n:04}", self.gidx()));
                    let mut mother_id = mother.id.clone();
                    let (mut male, mut time) = (male, time);
                    if let Some(bi) = birth {
                        self.twist(
                            bi,
                            src,
                            &mut b,
                            &mut male,
                            &mut time,
                            &mut mother_id,
                            ("child_sex", "delivery_date", "mother_id"),
                        );
                    }
                    if self.dialect == Dialect::CountyB
                        && p.claim.is_some()
                        && self.rng.random_bool(COUNTY_B_CLAIMANT_DAMAGE)
                    {
                        // A claimant's delivery under a mistyped ID: linkage must still
                        // find it hers (§8.23).
                        let rates = self.rates;
                        self.rates = &MISTYPED;
                        self.id_cell(&mut b, src, 1, &mother_id, IdStyle::Csv);
                        self.rates = rates;
                    } else {
                        self.id_cell(&mut b, src, 1, &mother_id, IdStyle::Csv);
                    }
                    self.name_cell(&mut b, src, 2, &mother.name);
                    b.cells[3] = Cell::Text(datetime_text(cjk, time));
                    b.cells[4] = Cell::Text(self.institutions[usize::from(p.institution)].clone());
                    b.cells[5] = Cell::Static(p.mode);
                    b.cells[6] = Cell::Text(p.gest_weeks.to_string());
                    b.cells[7] = Cell::Static(if p.stillbirth.is_some() {
                        "死产"
                    } else {
                        "活产"
                    });
                    b.cells[8] = Cell::Text(p.plurality.to_string());
                    b.cells[9] = Cell::Text(seq.to_string());
                    b.cells[10] = Cell::Static(Self::sex_label(male));
                    b.cells[11] = Cell::Text(weight.to_string());
                    if self.dialect == Dialect::CountyB && p.stillbirth.is_some() {
                        // The new community, where only stillbirths' deliveries live.
                        b.cells[12] = Cell::Text(crate::divisions::Divisions::new_community(
                            &self.village.code,
                        ));
                    } else if residence_given {
                        self.village_cell(&mut b, src, 12);
                    }
                    let dup = self.hit(self.rates.duplicate_delivery);
                    let copy = dup.then(|| Builder {
                        cells: b.cells.clone(),
                        meta: Meta {
                            role: Role::Duplicate,
                            link,
                            ..Meta::default()
                        },
                        invalid: b.invalid.clone(),
                        birth: b.birth.clone(),
                    });
                    let key = self.finish(
                        src,
                        b,
                        &[0, 1, 3],
                        &[(3, time.date(), DateCell::TextTime(cjk))],
                    );
                    if let Some(copy) = copy
                        && key.is_some()
                    {
                        duplicates.push(copy);
                    }
                    if let (Some(bi), Some(k)) = (birth, key) {
                        let acc = &mut self.births[bi];
                        acc.keys[src.index()] = Some(k);
                        acc.seen[SEEN_DELIVERY] =
                            Some((Some(if male { 1 } else { 2 }), Some(time.date())));
                    }
                }
            }

            // Birth certificates (出生医学证明).
            for (c, child) in p.children.iter().enumerate() {
                let Some(cert) = child.certificate else {
                    continue;
                };
                let src = Src::BirthCertificate;
                let birth = first.map(|f| f + c);
                let role = if birth.is_some() {
                    Role::Birth
                } else {
                    Role::OutOfPeriod
                };
                let birth_id = birth.map(|bi| self.births[bi].id.clone());
                let n = self.next(src) - 1;
                let mut b = Builder::new(src, role, birth_id.as_deref(), Link::child(pi, c));
                let letter = char::from(b'P' + (n / 100).min(10) as u8);
                b.cells[0] = Cell::Text(format!("{letter}34{:05}{:02}", self.gidx(), n % 100));
                let person = &w.persons[child.person as usize];
                self.name_cell(&mut b, src, 1, &person.name);
                let (mut male, mut time) = (child.male, child.time);
                let mut mother_id = mother.id.clone();
                if let Some(bi) = birth {
                    self.twist(
                        bi,
                        src,
                        &mut b,
                        &mut male,
                        &mut time,
                        &mut mother_id,
                        ("child_sex", "birth_date", "mother_id"),
                    );
                }
                b.cells[2] = Cell::Static(Self::sex_label(male));
                b.cells[3] = Cell::DateTime(time);
                let (place_type, institution) = match p.place {
                    Place::Home => ("家庭", None),
                    Place::Other => ("其他", Some(p.institution)),
                    Place::Hospital => (
                        if matches!(p.institution, 4 | 6) {
                            "妇幼保健院"
                        } else {
                            "医院"
                        },
                        Some(p.institution),
                    ),
                };
                b.cells[4] = Cell::Static(place_type);
                if let Some(i) = institution {
                    b.cells[5] = Cell::Text(self.institutions[usize::from(i)].clone());
                }
                self.id_cell(&mut b, src, 6, &mother_id, IdStyle::XlsxNumeric);
                self.name_cell(&mut b, src, 7, &mother.name);
                self.id_cell(&mut b, src, 8, &father.id, IdStyle::XlsxNumeric);
                self.name_cell(&mut b, src, 9, &father.name);
                self.optional_date(&mut b, src, 10, cert.issue, DateCell::Xlsx);
                b.cells[11] = Cell::Static(if cert.reissue {
                    "补发"
                } else {
                    "首次签发"
                });
                let key = self.finish(src, b, &[0, 2, 3], &[(3, time.date(), DateCell::Xlsx)]);
                if let (Some(bi), Some(k)) = (birth, key) {
                    let acc = &mut self.births[bi];
                    acc.keys[src.index()] = Some(k);
                    acc.seen[SEEN_CERTIFICATE] =
                        Some((Some(if male { 1 } else { 2 }), Some(time.date())));
                }
            }

            // Vaccination (预防接种): one row per dose; child-level values alike on each.
            for (c, child) in p.children.iter().enumerate() {
                if child.doses.is_empty() {
                    continue;
                }
                let src = Src::Vaccination;
                let birth = first.map(|f| f + c);
                let role = if birth.is_some() {
                    Role::Birth
                } else {
                    Role::OutOfPeriod
                };
                let birth_id = birth.map(|bi| self.births[bi].id.clone());
                let n = self.next(src);
                let person = &w.persons[child.person as usize];
                let mut t = Builder::new(src, role, birth_id.as_deref(), Link::child(pi, c));
                t.cells[0] = Cell::Text(format!(
                    "{:06}{}{:05}{:03}",
                    self.village.county,
                    child.time.year(),
                    self.gidx(),
                    n % 1000
                ));
                if child.vacc_child_id && child.reg_row.is_some() {
                    self.id_cell(&mut t, src, 1, &person.id, IdStyle::Csv);
                }
                if child.vacc_placeholder_name {
                    let suffix = if child.male { "之子" } else { "之女" };
                    t.cells[2] = Cell::Text(format!("{}{suffix}", mother.name));
                } else {
                    self.name_cell(&mut t, src, 2, &person.name);
                }
                let (mut male, mut time) = (child.male, child.time);
                let mut mother_id = mother.id.clone();
                if let Some(bi) = birth {
                    self.twist(
                        bi,
                        src,
                        &mut t,
                        &mut male,
                        &mut time,
                        &mut mother_id,
                        ("child_sex", "birth_date", "mother_id"),
                    );
                }
                let born = time.date();
                t.cells[3] = Cell::Static(Self::sex_label(male));
                let style = if self.rng.random_bool(0.9) {
                    DateStyle::Dash
                } else {
                    DateStyle::Slash
                };
                t.cells[4] = Cell::Text(date_text(style, born.year(), born.month(), born.day()));
                self.id_cell(&mut t, src, 5, &mother_id, IdStyle::Csv);
                self.name_cell(&mut t, src, 6, &mother.name);
                if self.rng.random_bool(0.9) {
                    self.village_cell(&mut t, src, 11);
                }
                let mut any_kept = None;
                for (i, dose) in child.doses.iter().enumerate() {
                    let mut b = Builder {
                        cells: t.cells.clone(),
                        meta: Meta {
                            role,
                            link: Link {
                                dose: i as u8,
                                ..t.meta.link
                            },
                            // Child-level injections are recorded once, on the first dose row.
                            injections: if i == 0 {
                                t.meta.injections.clone()
                            } else {
                                Vec::new()
                            },
                            ..Meta::default()
                        },
                        invalid: t.invalid.clone(),
                        birth: t.birth.clone(),
                    };
                    b.cells[7] = Cell::Static(world::VACCINES[usize::from(dose.vaccine)]);
                    b.cells[8] = Cell::Text(dose.dose.to_string());
                    b.cells[9] = Cell::Text(date_text(
                        style,
                        dose.date.year(),
                        dose.date.month(),
                        dose.date.day(),
                    ));
                    b.cells[10] = Cell::Text(if dose.at_birth_place {
                        self.institutions[usize::from(p.institution)].clone()
                    } else {
                        self.clinic.clone()
                    });
                    let key = self.finish(
                        src,
                        b,
                        &[0, 4, 7, 8, 9],
                        &[
                            (4, born, DateCell::Text(style)),
                            (9, dose.date, DateCell::Text(style)),
                        ],
                    );
                    if any_kept.is_none() {
                        any_kept = key;
                    }
                }
                if let (Some(bi), Some(k)) = (birth, any_kept) {
                    let acc = &mut self.births[bi];
                    acc.keys[src.index()] = Some(k);
                    acc.seen[SEEN_VACCINATION] = Some((Some(if male { 1 } else { 2 }), Some(born)));
                }
            }
        }
        // Duplicated deliveries: the same record entered again later, under a new number.
        for mut b in duplicates {
            let src = Src::HospitalDelivery;
            let n = self.next(src);
            b.cells[0] = Cell::Text(format!("FM{:05}{n:04}", self.gidx()));
            b.meta.injections.clear();
            b.inject("record_id", "duplicate_delivery");
            let key = match &b.cells[0] {
                Cell::Text(s) => s.clone(),
                _ => String::new(),
            };
            let row = self.out.rows[src.index()].len();
            for (field, reason) in &b.invalid {
                self.out.invalid.push(InvalidTruth {
                    source: src,
                    key: key.clone(),
                    field,
                    reason,
                    row,
                });
            }
            b.meta.key = Some(key);
            self.out.rows[src.index()].push(Row {
                cells: b.cells,
                meta: b.meta,
            });
        }
    }

    /// Applies a birth's planned conflicts to the record of `src`.
    #[allow(clippy::too_many_arguments)]
    fn twist(
        &mut self,
        birth: usize,
        src: Src,
        b: &mut Builder,
        male: &mut bool,
        time: &mut NaiveDateTime,
        mother_id: &mut String,
        fields: (&'static str, &'static str, &'static str),
    ) {
        if self.births[birth].sex_conflict == Some(src) {
            *male = !*male;
            b.inject(fields.0, "sex_conflict");
        }
        if self.births[birth].date_conflict == Some(src) {
            // A vaccination date earlier than birth is cleared by ingest: shift that one back.
            let back_only = src == Src::Vaccination;
            let shifted = shift_one(&mut self.rng, time.date(), back_only);
            *time = shifted.and_time(time.time());
            b.inject(fields.1, "birth_date_conflict");
        }
        if self.births[birth].mother_conflict == Some(src) {
            *mother_id = self.other_woman_id(mother_id);
            b.inject(fields.2, "wrong_mother_id");
        }
    }

    /// A valid ID of another woman, born within four years of her, that no person of the
    /// run holds (an address code of [`world::UNISSUED_ADDRESSES`]).
    fn other_woman_id(&mut self, id: &str) -> String {
        let addr =
            world::UNISSUED_ADDRESSES[self.rng.random_range(0..world::UNISSUED_ADDRESSES.len())];
        let y: i32 = id[6..10].parse().unwrap_or(1990);
        let birth = NaiveDate::from_ymd_opt(y, 1, 1).unwrap_or(self.cal.start)
            + days(self.rng.random_range(-1500..1500));
        let seq: u16 = self.rng.random_range(1..500u16) * 2;
        ids::build(addr, birth, seq)
    }

    /// Assembles the births of the truth, in birth-id order. The columns found through the
    /// mother's ID are left to the truth (see [`BirthTruth::village`]).
    fn finish_births(&mut self) {
        let w = self.w;
        let accs = std::mem::take(&mut self.births);
        for mut acc in accs {
            let pi = acc.origin.pregnancy as usize;
            let p = &w.pregnancies[pi];
            let mother = &w.persons[p.mother as usize];
            let birth_level = [
                Src::HospitalDelivery,
                Src::BirthCertificate,
                Src::Household,
                Src::Vaccination,
            ];
            if birth_level.iter().all(|s| acc.keys[s.index()].is_none()) {
                self.out.unseen_births += 1;
                continue;
            }
            let sex = acc.seen.iter().flatten().find_map(|(s, _)| *s);
            let birth_date = acc.seen.iter().flatten().find_map(|(_, d)| *d);
            let truth = match (acc.origin.child, acc.origin.reg) {
                (Some(c), _) => {
                    let child = &p.children[usize::from(c)];
                    BirthTruth {
                        birth_id: std::mem::take(&mut acc.id),
                        village: None,
                        design_village: self.village.code.clone(),
                        mother_floating: false,
                        sex,
                        birth_date,
                        true_sex: if child.male { 1 } else { 2 },
                        true_birth_date: child.time.date(),
                        birth_time: Some(child.time),
                        birth_seq: i32::from(child.seq),
                        plurality: i32::from(p.plurality),
                        birth_order: i32::from(p.order) + i32::from(child.seq) - 1,
                        home_birth: Some(p.place == Place::Home),
                        mother_id: mother.id.clone(),
                        child_id: w.persons[child.person as usize].id.clone(),
                        keys: acc.keys,
                        origin: acc.origin,
                    }
                }
                (None, Some(row)) => {
                    let person = &w.persons[w.regs[row as usize].person as usize];
                    BirthTruth {
                        birth_id: std::mem::take(&mut acc.id),
                        village: None,
                        design_village: self.village.code.clone(),
                        mother_floating: false,
                        sex,
                        birth_date,
                        true_sex: if person.male { 1 } else { 2 },
                        true_birth_date: person.birth,
                        birth_time: None,
                        birth_seq: 1,
                        plurality: 1,
                        birth_order: i32::from(acc.origin.order),
                        home_birth: None,
                        mother_id: mother.id.clone(),
                        child_id: person.id.clone(),
                        keys: acc.keys,
                        origin: acc.origin,
                    }
                }
                (None, None) => continue,
            };
            self.out.births.push(truth);
        }
    }
}

/// A date one day off (either way, or only earlier).
fn shift_one(rng: &mut ChaCha8Rng, date: NaiveDate, back_only: bool) -> NaiveDate {
    if back_only || rng.random_bool(0.5) {
        date - days(1)
    } else {
        date + days(1)
    }
}
