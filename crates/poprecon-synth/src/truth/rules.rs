//! The discrepancy rules of domain.md §5 with the readings of §8, over one village: the
//! values as written (canonicalised by [`super::observe`]). Which birth-level record
//! (delivery, certificate, the child's household row, vaccination) belongs to which birth is
//! the generator's true linkage; everything found through a person (a mother's bookings and
//! registrations, her household rows and children, a couple's marriages, a claimant's
//! deliveries, a pupil's household rows) is found by the valid normalised IDs as written.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;

use super::observe::{
    IdValue, date_value, id_conflicts, id_is_valid_male, id_value, int_value, name_value,
    relation_code, sex_value, student_no_id, text_value,
};
use super::{Discrepancy, RULES, VillageInput, key_slot};
use crate::render::{BirthTruth, Role, Row};
use crate::schema::Src;
use crate::world::{VillageWorld, days};

/// Grace periods and windows: the defaults of domain.md §5 and §8.
const CERTIFICATE_GRACE: i64 = 30;
const HOUSEHOLD_GRACE: i64 = 60;
const HEPB1_GRACE: i64 = 7;
const BOOKING_WINDOW: i64 = 300;
const REGISTRATION_BEFORE: i64 = 730;
const REGISTRATION_AFTER: i64 = 90;
const EARLY_BOOKING_WEEKS: i64 = 13;
const LATE_REGISTRATION_DAYS: i64 = 30;
const CLAIM_WINDOW: i64 = 180;

/// The four birth-level sources in the order of §8.2.
pub(crate) const BIRTH_LEVEL: [Src; 4] = [
    Src::HospitalDelivery,
    Src::BirthCertificate,
    Src::Household,
    Src::Vaccination,
];

/// The policy limit in force on a date: 2 from 2016-01-01, 3 from 2021-05-31.
pub(crate) fn limit_on(date: NaiveDate) -> Option<i64> {
    let ymd = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap_or(NaiveDate::MAX);
    if date >= ymd(2021, 5, 31) {
        Some(3)
    } else if date >= ymd(2016, 1, 1) {
        Some(2)
    } else {
        None
    }
}

fn rule(id: &str) -> u8 {
    RULES.iter().position(|r| *r == id).unwrap_or(0) as u8
}

/// A valid, normalised resident ID.
pub(crate) type Id = [u8; 18];

/// Column positions of the fields the rules read, looked up once per village.
#[derive(Debug)]
struct Cols {
    reg_date: usize,
    reg_woman: usize,
    reg_man: usize,
    reg_order: usize,
    reg_village: usize,
    pc_mother: usize,
    pc_date: usize,
    pc_weeks: usize,
    pc_village: usize,
    del_mother: usize,
    del_date: usize,
    del_seq: usize,
    del_sex: usize,
    del_village: usize,
    cert_sex: usize,
    cert_date: usize,
    cert_place: usize,
    cert_mother: usize,
    cert_father: usize,
    vac_child: usize,
    vac_sex: usize,
    vac_birth: usize,
    vac_mother: usize,
    vac_vaccine: usize,
    vac_dose: usize,
    vac_date: usize,
    vac_village: usize,
    hh_person: usize,
    hh_name: usize,
    hh_sex: usize,
    hh_birth: usize,
    hh_no: usize,
    hh_relation: usize,
    hh_village: usize,
    hh_reg_date: usize,
    hh_reason: usize,
    hh_status: usize,
    hh_mother: usize,
    sch_no: usize,
    sch_person: usize,
    sch_name: usize,
    sch_sex: usize,
    sch_birth: usize,
    mar_kind: usize,
    mar_man: usize,
    mar_woman: usize,
    mar_date: usize,
    ss_person: usize,
    ss_claim: usize,
}

fn col(src: Src, field: &str) -> usize {
    src.columns()
        .iter()
        .position(|c| c.field == field)
        .unwrap_or(usize::MAX)
}

impl Cols {
    fn new() -> Cols {
        use Src::*;
        Cols {
            reg_date: col(BirthRegistration, "registration_date"),
            reg_woman: col(BirthRegistration, "woman_id"),
            reg_man: col(BirthRegistration, "man_id"),
            reg_order: col(BirthRegistration, "child_order"),
            reg_village: col(BirthRegistration, "residence_village"),
            pc_mother: col(PrenatalCare, "mother_id"),
            pc_date: col(PrenatalCare, "booking_date"),
            pc_weeks: col(PrenatalCare, "booking_gestational_weeks"),
            pc_village: col(PrenatalCare, "residence_village"),
            del_mother: col(HospitalDelivery, "mother_id"),
            del_date: col(HospitalDelivery, "delivery_date"),
            del_seq: col(HospitalDelivery, "birth_seq"),
            del_sex: col(HospitalDelivery, "child_sex"),
            del_village: col(HospitalDelivery, "residence_village"),
            cert_sex: col(BirthCertificate, "child_sex"),
            cert_date: col(BirthCertificate, "birth_date"),
            cert_place: col(BirthCertificate, "birth_place_type"),
            cert_mother: col(BirthCertificate, "mother_id"),
            cert_father: col(BirthCertificate, "father_id"),
            vac_child: col(Vaccination, "child_id"),
            vac_sex: col(Vaccination, "child_sex"),
            vac_birth: col(Vaccination, "birth_date"),
            vac_mother: col(Vaccination, "mother_id"),
            vac_vaccine: col(Vaccination, "vaccine"),
            vac_dose: col(Vaccination, "dose"),
            vac_date: col(Vaccination, "vaccination_date"),
            vac_village: col(Vaccination, "residence_village"),
            hh_person: col(Household, "person_id"),
            hh_name: col(Household, "name"),
            hh_sex: col(Household, "sex"),
            hh_birth: col(Household, "birth_date"),
            hh_no: col(Household, "household_no"),
            hh_relation: col(Household, "relation_to_head"),
            hh_village: col(Household, "village"),
            hh_reg_date: col(Household, "registration_date"),
            hh_reason: col(Household, "registration_reason"),
            hh_status: col(Household, "status"),
            hh_mother: col(Household, "mother_id"),
            sch_no: col(School, "student_no"),
            sch_person: col(School, "person_id"),
            sch_name: col(School, "name"),
            sch_sex: col(School, "sex"),
            sch_birth: col(School, "birth_date"),
            mar_kind: col(Marriage, "kind"),
            mar_man: col(Marriage, "man_id"),
            mar_woman: col(Marriage, "woman_id"),
            mar_date: col(Marriage, "registration_date"),
            ss_person: col(SocialSecurity, "person_id"),
            ss_claim: col(SocialSecurity, "maternity_claim_date"),
        }
    }
}

/// Hash maps keyed by IDs and keys the generator made: a fast hasher, no adversary.
type Map<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<crate::world::KeyHasher>>;
type Set<K> = HashSet<K, std::hash::BuildHasherDefault<crate::world::KeyHasher>>;

/// A child's kept records in the child-level health sources (the true linkage).
#[derive(Debug, Default)]
struct ChildRows {
    /// The delivery row (the extra copy of a duplicate excluded).
    delivery: Option<usize>,
    certificate: Option<usize>,
    /// Every kept dose row.
    vaccination: Vec<usize>,
}

/// The kept rows of the village found by a person's valid ID as written (indexes into the
/// rows of their source, in row order).
#[derive(Debug, Default)]
struct ById<'a> {
    /// Household rows by `person_id`.
    household: Map<Id, Vec<usize>>,
    /// Household rows by `mother_id`.
    children: Map<Id, Vec<usize>>,
    /// Household rows with an empty `mother_id`, by household number.
    blank_mother: Map<&'a str, Vec<usize>>,
    /// Prenatal bookings by `mother_id`: (booking date, row).
    bookings: Map<Id, Vec<(NaiveDate, usize)>>,
    /// Birth registrations by `woman_id`: (registration date, row).
    registrations: Map<Id, Vec<(NaiveDate, usize)>>,
    /// Marriage records (not divorces) by `woman_id`: (date, row, valid `man_id`).
    marriages: Map<Id, Vec<(NaiveDate, usize, Option<Id>)>>,
    /// Delivery dates by `mother_id`: every kept row, live or stillbirth, copies included.
    deliveries: Map<Id, Vec<NaiveDate>>,
    /// Maternity claims by `person_id`: (claim date, row).
    claims: Map<Id, Vec<(NaiveDate, usize)>>,
    /// Kept household rows (any status) by name, sex and birth date as written: how many.
    persons: HashMap<(String, u8, NaiveDate), usize>,
}

/// A birth-level record's values as written.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Obs {
    pub row: usize,
    pub sex: Option<u8>,
    pub date: Option<NaiveDate>,
    pub mother: IdValue,
}

/// What the rules and indicators need to know about a birth.
#[derive(Debug)]
pub(crate) struct BirthFacts {
    /// Per birth-level source in [`BIRTH_LEVEL`] order.
    pub obs: [Option<Obs>; 4],
    /// The mother ID: the first valid `mother_id` of the birth's records (§8.2).
    pub mother: Option<Id>,
    pub sex: Option<u8>,
    /// The birth's date (§8.2).
    pub date: NaiveDate,
    /// No kept, active household row under the mother ID (or no mother ID) (§8.8).
    pub floating: bool,
    /// The village of the mother's active household row as written (`None` when floating).
    pub mother_village: Option<String>,
    /// The attribution of §4 and §8.11.
    pub village: Option<String>,
    /// The computed order (§8.9); `None` when undetermined.
    pub order: Option<i64>,
    /// HepB dose 1: its date.
    pub hepb1: Option<NaiveDate>,
    /// The mother-level records found under the mother ID (rows of their source).
    pub registration: Option<usize>,
    pub booking: Option<usize>,
    /// The booking's gestational weeks.
    pub booking_weeks: Option<i64>,
    pub marriage: Option<usize>,
    pub claim: Option<usize>,
    /// Sex, date and mother-ID mismatches (§8.5).
    pub mismatch: [bool; 3],
    /// The delivering institution (index into the village's institutions).
    pub institution: Option<u8>,
}

/// A stillbirth's delivery row of the period: a delivery (§8.4) that is no birth (§8.1).
/// Its mother is found by the row's valid `mother_id` alone: linkage attaches no stillbirth.
#[derive(Debug)]
pub(crate) struct StillbirthFacts {
    /// The delivery row.
    pub row: usize,
    /// No kept, active household row under the row's mother ID (or no valid ID) (§8.8).
    pub floating: bool,
    /// The village of the mother's active household row as written.
    pub mother_village: Option<String>,
    /// The attribution of §4 over what a delivery has: its residence, its booking's
    /// residence, the mother's active household village.
    pub village: Option<String>,
    /// Her booking dated in [delivery − 300 d, delivery] and its gestational weeks.
    pub booking: Option<usize>,
    pub booking_weeks: Option<i64>,
    /// The delivering institution (index into the village's institutions).
    pub institution: u8,
}

impl BirthFacts {
    pub(crate) fn sources_seen(&self) -> usize {
        self.obs.iter().flatten().count()
    }
}

/// What `births.parquet` takes from the truth: the columns found through the mother ID.
#[derive(Debug, Clone, Default)]
pub(crate) struct MotherSide {
    pub village: Option<String>,
    pub floating: bool,
    pub registration: Option<String>,
    pub booking: Option<String>,
    pub marriage: Option<String>,
    pub claim: Option<String>,
}

impl MotherSide {
    pub(crate) fn apply(self, birth: &mut BirthTruth) {
        birth.village = self.village;
        birth.mother_floating = self.floating;
        birth.keys[key_slot(Src::BirthRegistration)] = self.registration;
        birth.keys[key_slot(Src::PrenatalCare)] = self.booking;
        birth.keys[key_slot(Src::Marriage)] = self.marriage;
        birth.keys[key_slot(Src::SocialSecurity)] = self.claim;
    }
}

/// A village's rows, read once, with the indexes the rules need.
pub(crate) struct Ctx<'a> {
    pub input: &'a VillageInput<'a>,
    pub w: &'a VillageWorld,
    rows: &'a [Vec<Row>],
    cols: Cols,
    /// Per household-registry row of the world, its row in the extract.
    reg_row: Vec<usize>,
    child_rows: HashMap<(u32, u8), ChildRows>,
    birth_by_child: HashMap<(u32, u8), usize>,
    birth_by_reg: HashMap<u32, usize>,
    by_id: ById<'a>,
    /// Set by [`Ctx::attach`]: each birth's village, and the birth a mother-level, marriage
    /// or social-security row belongs to (the first birth that found it).
    birth_village: Vec<Option<String>>,
    birth_by_record: HashMap<(Src, usize), usize>,
}

impl std::fmt::Debug for Ctx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("village", &self.input.village.code)
            .finish_non_exhaustive()
    }
}

fn kept(row: &Row) -> bool {
    row.meta.quarantine.is_none()
}

fn valid(row: &Row, col: usize) -> Option<Id> {
    id_value(&row.cells[col]).valid()
}

fn is_active(status: Option<&str>) -> bool {
    matches!(status, Some("正常" | "active"))
}

fn is_marriage(kind: Option<&str>) -> bool {
    matches!(kind, Some("结婚" | "结婚登记" | "复婚" | "marriage"))
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(input: &'a VillageInput<'a>) -> Ctx<'a> {
        let w = input.world;
        let rows = input.rows;
        let c = Cols::new();
        let mut reg_row = vec![usize::MAX; w.regs.len()];
        for (i, row) in rows[Src::Household.index()].iter().enumerate() {
            reg_row[row.meta.link.index as usize] = i;
        }
        let mut child_rows: HashMap<(u32, u8), ChildRows> = HashMap::new();
        for (i, row) in rows[Src::HospitalDelivery.index()].iter().enumerate() {
            let link = row.meta.link;
            if let (true, false, Some(ch)) =
                (kept(row), row.meta.role == Role::Duplicate, link.child)
            {
                child_rows.entry((link.index, ch)).or_default().delivery = Some(i);
            }
        }
        for (i, row) in rows[Src::BirthCertificate.index()].iter().enumerate() {
            if let (true, Some(ch)) = (kept(row), row.meta.link.child) {
                child_rows
                    .entry((row.meta.link.index, ch))
                    .or_default()
                    .certificate = Some(i);
            }
        }
        for (i, row) in rows[Src::Vaccination.index()].iter().enumerate() {
            if let (true, Some(ch)) = (kept(row), row.meta.link.child) {
                child_rows
                    .entry((row.meta.link.index, ch))
                    .or_default()
                    .vaccination
                    .push(i);
            }
        }

        let mut birth_by_child = HashMap::new();
        let mut birth_by_reg = HashMap::new();
        for (b, birth) in input.births.iter().enumerate() {
            let o = birth.origin;
            if let Some(ch) = o.child {
                birth_by_child.insert((o.pregnancy, ch), b);
                let child = &w.pregnancies[o.pregnancy as usize].children[usize::from(ch)];
                if let Some(r) = child.reg_row {
                    birth_by_reg.insert(r, b);
                }
            }
            if let Some(r) = o.reg {
                birth_by_reg.insert(r, b);
            }
        }
        let by_id = ById::new(rows, &c);
        Ctx {
            input,
            w,
            rows,
            cols: c,
            reg_row,
            child_rows,
            birth_by_child,
            birth_by_reg,
            by_id,
            birth_village: Vec::new(),
            birth_by_record: HashMap::new(),
        }
    }

    /// Records what the birth facts found, for the rows about single records (§8.12).
    pub(crate) fn attach(&mut self, facts: &[BirthFacts]) {
        self.birth_village = facts.iter().map(|f| f.village.clone()).collect();
        for (b, f) in facts.iter().enumerate() {
            for (src, row) in [
                (Src::BirthRegistration, f.registration),
                (Src::PrenatalCare, f.booking),
                (Src::Marriage, f.marriage),
                (Src::SocialSecurity, f.claim),
            ] {
                if let Some(i) = row {
                    self.birth_by_record.entry((src, i)).or_insert(b);
                }
            }
        }
    }

    /// The columns of `births.parquet` found through each birth's mother ID.
    pub(crate) fn mother_sides(&self, facts: &[BirthFacts]) -> Vec<MotherSide> {
        facts
            .iter()
            .map(|f| MotherSide {
                village: f.village.clone(),
                floating: f.floating,
                registration: f
                    .registration
                    .and_then(|i| self.key(Src::BirthRegistration, i)),
                booking: f.booking.and_then(|i| self.key(Src::PrenatalCare, i)),
                marriage: f.marriage.and_then(|i| self.key(Src::Marriage, i)),
                claim: f.claim.and_then(|i| self.key(Src::SocialSecurity, i)),
            })
            .collect()
    }

    fn hh_text(&self, i: usize, col: usize) -> Option<&'a str> {
        text_value(&self.rows[Src::Household.index()][i].cells[col])
    }

    fn hh_date(&self, i: usize, col: usize) -> Option<NaiveDate> {
        date_value(&self.rows[Src::Household.index()][i].cells[col])
    }

    fn hh_relation(&self, i: usize) -> Option<u8> {
        self.hh_text(i, self.cols.hh_relation)
            .and_then(relation_code)
    }

    fn row(&self, src: Src, i: usize) -> &'a Row {
        &self.rows[src.index()][i]
    }

    fn key(&self, src: Src, i: usize) -> Option<String> {
        self.row(src, i).meta.key.clone()
    }

    fn hh_kept(&self, i: usize) -> bool {
        kept(&self.rows[Src::Household.index()][i])
    }

    /// The first kept, active household row under `id` (§8.8).
    fn active_row(&self, id: &Id) -> Option<usize> {
        self.by_id
            .household
            .get(id)?
            .iter()
            .copied()
            .find(|&i| is_active(self.hh_text(i, self.cols.hh_status)))
    }

    fn active_village(&self, id: &Id) -> Option<&'a str> {
        self.active_row(id)
            .and_then(|i| self.hh_text(i, self.cols.hh_village))
    }

    /// A birth-level record's values.
    fn obs(&self, src: Src, i: usize) -> Obs {
        let c = &self.cols;
        let cells = &self.row(src, i).cells;
        let (sex, when, mother) = match src {
            Src::HospitalDelivery => (c.del_sex, c.del_date, c.del_mother),
            Src::BirthCertificate => (c.cert_sex, c.cert_date, c.cert_mother),
            Src::Household => (c.hh_sex, c.hh_birth, c.hh_mother),
            _ => (c.vac_sex, c.vac_birth, c.vac_mother),
        };
        Obs {
            row: i,
            sex: sex_value(&cells[sex]),
            date: date_value(&cells[when]),
            mother: id_value(&cells[mother]),
        }
    }

    /// The facts of every birth of the village, in birth order.
    pub(crate) fn birth_facts(&self) -> Vec<BirthFacts> {
        let births = self.input.births;
        births
            .iter()
            .map(|b| {
                let f = self.facts_of(b);
                // `births.parquet`'s sex and date were assembled while rendering; the truth
                // reads the rows again: both must see the same birth.
                debug_assert_eq!(f.sex.map(i32::from), b.sex, "{}: sex", b.birth_id);
                debug_assert_eq!(Some(f.date), b.birth_date, "{}: date", b.birth_id);
                f
            })
            .collect()
    }

    fn facts_of(&self, birth: &BirthTruth) -> BirthFacts {
        let c = &self.cols;
        let o = birth.origin;
        let p = &self.w.pregnancies[o.pregnancy as usize];
        let empty = ChildRows::default();
        let (child_rows, reg) = match o.child {
            Some(ch) => (
                self.child_rows.get(&(o.pregnancy, ch)).unwrap_or(&empty),
                p.children[usize::from(ch)].reg_row,
            ),
            None => (&empty, o.reg),
        };
        let household = reg
            .map(|r| self.reg_row[r as usize])
            .filter(|&i| self.hh_kept(i));
        let rows = [
            child_rows.delivery,
            child_rows.certificate,
            household,
            child_rows.vaccination.first().copied(),
        ];
        let obs: [Option<Obs>; 4] =
            std::array::from_fn(|k| rows[k].map(|i| self.obs(BIRTH_LEVEL[k], i)));
        let sex = obs.iter().flatten().find_map(|x| x.sex);
        let date = obs
            .iter()
            .flatten()
            .find_map(|x| x.date)
            .unwrap_or(self.input.cal.start);

        // §8.2 order: the first valid mother ID; the mother is found by it alone.
        let mother = obs.iter().flatten().find_map(|x| x.mother.valid());
        let mother_row = mother.as_ref().and_then(|m| self.active_row(m));
        let floating = mother_row.is_none();
        let mother_village =
            mother_row.and_then(|i| self.hh_text(i, c.hh_village).map(str::to_owned));

        // §8.3: her records under that ID within their windows of the birth's date.
        let (booking, registration, marriage, claim) = match &mother {
            Some(m) => (
                self.booking_of(m, date),
                self.registration_of(m, date),
                self.marriage_of(m, date),
                self.claim_of(m, date),
            ),
            None => (None, None, None, None),
        };
        let booking_weeks =
            booking.and_then(|i| int_value(&self.row(Src::PrenatalCare, i).cells[c.pc_weeks]));

        // Attribution (§4, §8.11): the first present of delivery, booking and vaccination
        // residence, the child's household village, the mother's active household village.
        let own = |src: Src, row: Option<usize>| row.and_then(|i| self.own_village(src, i));
        let village = own(Src::HospitalDelivery, rows[0])
            .or_else(|| own(Src::PrenatalCare, booking))
            .or_else(|| own(Src::Vaccination, rows[3]))
            .or_else(|| own(Src::Household, rows[2]))
            .map(str::to_owned)
            .or_else(|| mother_village.clone());

        // HepB dose 1: the earliest kept row of HepB with dose 1 (§8.4).
        let hepb1 = child_rows
            .vaccination
            .iter()
            .filter_map(|&i| {
                let cells = &self.row(Src::Vaccination, i).cells;
                let hepb = text_value(&cells[c.vac_vaccine]).is_some_and(is_hepb);
                (hepb && int_value(&cells[c.vac_dose]) == Some(1))
                    .then(|| date_value(&cells[c.vac_date]))
                    .flatten()
            })
            .min();

        let mismatch = [
            distinct(obs.iter().flatten().filter_map(|x| x.sex)),
            distinct(obs.iter().flatten().filter_map(|x| x.date)),
            distinct(obs.iter().flatten().filter_map(|x| x.mother.valid())),
        ];

        let order = match (&mother, mother_row) {
            (Some(m), Some(own_row)) => Some(self.computed_order(birth, m, own_row, date, &obs)),
            _ => None,
        };
        let institution = child_rows.delivery.map(|_| p.institution);
        BirthFacts {
            obs,
            mother,
            sex,
            date,
            floating,
            mother_village,
            village,
            order,
            hepb1,
            registration,
            booking,
            booking_weeks,
            marriage,
            claim,
            mismatch,
            institution,
        }
    }

    /// The stillbirth deliveries of the period (delivery date as written inside it), the
    /// extra copy of a duplicate excluded, in row order.
    pub(crate) fn stillbirth_facts(&self) -> Vec<StillbirthFacts> {
        let c = &self.cols;
        let (start, end) = (self.input.cal.start, self.input.cal.end);
        let src = Src::HospitalDelivery;
        let mut out = Vec::new();
        for (i, row) in self.rows[src.index()].iter().enumerate() {
            if !kept(row) || row.meta.role != Role::Stillbirth {
                continue;
            }
            let Some(date) = date_value(&row.cells[c.del_date]) else {
                continue;
            };
            if date < start || date > end {
                continue;
            }
            let mother = valid(row, c.del_mother);
            let mother_row = mother.as_ref().and_then(|m| self.active_row(m));
            let mother_village =
                mother_row.and_then(|r| self.hh_text(r, c.hh_village).map(str::to_owned));
            let booking = mother.as_ref().and_then(|m| self.booking_of(m, date));
            let booking_weeks =
                booking.and_then(|b| int_value(&self.row(Src::PrenatalCare, b).cells[c.pc_weeks]));
            let village = self
                .own_village(src, i)
                .or_else(|| booking.and_then(|b| self.own_village(Src::PrenatalCare, b)))
                .map(str::to_owned)
                .or_else(|| mother_village.clone());
            let institution = self.w.pregnancies[row.meta.link.index as usize].institution;
            out.push(StillbirthFacts {
                row: i,
                floating: mother_row.is_none(),
                mother_village,
                village,
                booking,
                booking_weeks,
                institution,
            });
        }
        out
    }

    /// Her booking dated in [birth − 300 d, birth]: the latest (on one date, the smallest
    /// record key).
    fn booking_of(&self, mother: &Id, date: NaiveDate) -> Option<usize> {
        let rows = self.by_id.bookings.get(mother)?;
        self.latest(Src::PrenatalCare, rows, date - days(BOOKING_WINDOW), date)
    }

    /// Her registration dated in [birth − 730 d, birth + 90 d]: the latest on or before the
    /// birth, else the earliest after it.
    fn registration_of(&self, mother: &Id, date: NaiveDate) -> Option<usize> {
        let rows = self.by_id.registrations.get(mother)?;
        let src = Src::BirthRegistration;
        self.latest(src, rows, date - days(REGISTRATION_BEFORE), date)
            .or_else(|| {
                rows.iter()
                    .filter(|(d, _)| *d > date && *d <= date + days(REGISTRATION_AFTER))
                    .min_by(|a, b| a.0.cmp(&b.0).then(self.key_cmp(src, a.1, b.1)))
                    .map(|(_, i)| *i)
            })
    }

    /// Her latest marriage record (any man) dated strictly before the birth.
    fn marriage_of(&self, mother: &Id, date: NaiveDate) -> Option<usize> {
        let rows: Vec<(NaiveDate, usize)> = self
            .by_id
            .marriages
            .get(mother)?
            .iter()
            .map(|(d, i, _)| (*d, *i))
            .collect();
        self.latest(Src::Marriage, &rows, NaiveDate::MIN, date - days(1))
    }

    /// Her first social-security row with a maternity claim within ± 180 d of the birth.
    fn claim_of(&self, mother: &Id, date: NaiveDate) -> Option<usize> {
        self.by_id
            .claims
            .get(mother)?
            .iter()
            .find(|(d, _)| (*d - date).num_days().abs() <= CLAIM_WINDOW)
            .map(|(_, i)| *i)
    }

    /// The latest of `rows` dated in [lo, hi]; on one date, the smallest record key.
    fn latest(
        &self,
        src: Src,
        rows: &[(NaiveDate, usize)],
        lo: NaiveDate,
        hi: NaiveDate,
    ) -> Option<usize> {
        rows.iter()
            .filter(|(d, _)| *d >= lo && *d <= hi)
            .max_by(|a, b| a.0.cmp(&b.0).then(self.key_cmp(src, b.1, a.1)))
            .map(|(_, i)| *i)
    }

    fn key_cmp(&self, src: Src, a: usize, b: usize) -> std::cmp::Ordering {
        self.row(src, a)
            .meta
            .key
            .cmp(&self.row(src, b).meta.key)
            .then(a.cmp(&b))
    }

    /// §8.9: 1 + her children born strictly before, from the registry as written and found
    /// by her ID, plus the rank of a multiple birth.
    fn computed_order(
        &self,
        birth: &BirthTruth,
        mother: &Id,
        own_row: usize,
        date: NaiveDate,
        obs: &[Option<Obs>; 4],
    ) -> i64 {
        let o = birth.origin;
        let p = &self.w.pregnancies[o.pregnancy as usize];
        // The household rows of this birth and its co-births.
        let mut excluded: Vec<usize> = Vec::new();
        match o.child {
            Some(_) => {
                for child in &p.children {
                    if let Some(r) = child.reg_row {
                        excluded.push(self.reg_row[r as usize]);
                    }
                }
            }
            None => excluded.extend(o.reg.map(|r| self.reg_row[r as usize])),
        }
        let counts = |i: &usize, children_only: bool| {
            let relation_ok = match self.hh_relation(*i) {
                Some(27 | 37) => false,
                Some(r) if children_only => (20..=26).contains(&r) || (30..=36).contains(&r),
                None if children_only => false,
                _ => true,
            };
            relation_ok
                && self
                    .hh_date(*i, self.cols.hh_birth)
                    .is_some_and(|b| b < date)
                && !excluded.contains(i)
        };
        let mut earlier = self
            .by_id
            .children
            .get(mother)
            .map_or(0, |rows| rows.iter().filter(|i| counts(i, false)).count());
        if matches!(self.hh_relation(own_row), Some(2 | 10 | 11 | 12))
            && let Some(no) = self.hh_text(own_row, self.cols.hh_no)
        {
            earlier += self
                .by_id
                .blank_mother
                .get(no)
                .map_or(0, |rows| rows.iter().filter(|i| counts(i, true)).count());
        }
        // The rank by the delivery's `birth_seq`; the generator's own where no delivery.
        let rank = obs[0]
            .and_then(|x| {
                int_value(&self.row(Src::HospitalDelivery, x.row).cells[self.cols.del_seq])
            })
            .unwrap_or_else(|| match o.child {
                Some(ch) => i64::from(p.children[usize::from(ch)].seq),
                None => 1,
            });
        1 + earlier as i64 + (rank - 1).max(0)
    }

    /// The birth a kept record belongs to (§8.12): a child-level record through its child
    /// (the true linkage; the extra copy of a duplicated delivery belongs to the birth of the
    /// original), a household row through its person, a registration, booking, marriage or
    /// social-security row when a birth found it under its mother ID.
    fn birth_of(&self, src: Src, i: usize) -> Option<usize> {
        let link = self.row(src, i).meta.link;
        match src {
            Src::HospitalDelivery | Src::BirthCertificate | Src::Vaccination => link
                .child
                .and_then(|ch| self.birth_by_child.get(&(link.index, ch)).copied()),
            Src::Household => self.birth_by_reg.get(&link.index).copied(),
            Src::School => None,
            _ => self.birth_by_record.get(&(src, i)).copied(),
        }
    }

    /// The record's own village or residence field as written.
    fn own_village(&self, src: Src, i: usize) -> Option<&'a str> {
        let c = &self.cols;
        let col = match src {
            Src::BirthRegistration => c.reg_village,
            Src::PrenatalCare => c.pc_village,
            Src::HospitalDelivery => c.del_village,
            Src::Vaccination => c.vac_village,
            Src::Household => c.hh_village,
            _ => return None,
        };
        text_value(&self.row(src, i).cells[col])
    }

    /// The ID fields whose person's active household village stands in for a record's
    /// (§8.12), in order.
    fn person_fields(&self, src: Src) -> Vec<usize> {
        let c = &self.cols;
        match src {
            Src::BirthRegistration => vec![c.reg_woman, c.reg_man],
            Src::PrenatalCare => vec![c.pc_mother],
            Src::HospitalDelivery => vec![c.del_mother],
            Src::Vaccination => vec![c.vac_child, c.vac_mother],
            // A certificate carries no ID of the child.
            Src::BirthCertificate => vec![c.cert_mother, c.cert_father],
            Src::Household => vec![],
            Src::School => vec![c.sch_person],
            Src::Marriage => vec![c.mar_woman, c.mar_man],
            Src::SocialSecurity => vec![c.ss_person],
        }
    }

    /// A discrepancy about one record: its birth and village per §8.12.
    fn record_row(
        &self,
        rule_id: &str,
        src: Src,
        i: usize,
        field: Option<&'static str>,
    ) -> Discrepancy {
        let birth = self.birth_of(src, i);
        let village = match birth {
            Some(b) => self.birth_village[b].clone(),
            None => self
                .own_village(src, i)
                .or_else(|| {
                    let row = self.row(src, i);
                    self.person_fields(src)
                        .into_iter()
                        .filter_map(|col| valid(row, col))
                        .find_map(|id| self.active_village(&id))
                })
                .map(str::to_owned),
        };
        let key = self.key(src, i);
        let mut keys: [Option<String>; 9] = Default::default();
        keys[key_slot(src)] = key.clone();
        Discrepancy {
            rule: rule(rule_id),
            field,
            village,
            birth_id: birth.map(|b| self.input.births[b].birth_id.clone()),
            source: Some(src),
            record_key: key,
            keys,
        }
    }

    /// A discrepancy about a birth: its id and village, and the keys of the records named
    /// (the birth-level ones from the birth, its registration from the facts).
    fn birth_row(
        &self,
        b: usize,
        f: &BirthFacts,
        rule_id: &str,
        field: Option<&'static str>,
        sources: &[Src],
    ) -> Discrepancy {
        let birth = &self.input.births[b];
        let mut keys: [Option<String>; 9] = Default::default();
        for s in sources {
            keys[key_slot(*s)] = match s {
                Src::BirthRegistration => f
                    .registration
                    .and_then(|i| self.key(Src::BirthRegistration, i)),
                _ => birth.keys[key_slot(*s)].clone(),
            };
        }
        Discrepancy {
            rule: rule(rule_id),
            field,
            village: f.village.clone(),
            birth_id: Some(birth.birth_id.clone()),
            source: None,
            record_key: None,
            keys,
        }
    }
}

impl<'a> ById<'a> {
    fn new(rows: &'a [Vec<Row>], c: &Cols) -> ById<'a> {
        let mut by = ById::default();
        for (i, row) in rows[Src::Household.index()].iter().enumerate() {
            if !kept(row) {
                continue;
            }
            if let Some(id) = valid(row, c.hh_person) {
                by.household.entry(id).or_default().push(i);
            }
            if let (Some(name), Some(sex), Some(born)) = (
                name_value(&row.cells[c.hh_name]),
                sex_value(&row.cells[c.hh_sex]),
                date_value(&row.cells[c.hh_birth]),
            ) {
                *by.persons.entry((name, sex, born)).or_default() += 1;
            }
            match id_value(&row.cells[c.hh_mother]) {
                IdValue::Valid(id) => by.children.entry(id).or_default().push(i),
                IdValue::Blank => {
                    if let Some(no) = text_value(&row.cells[c.hh_no]) {
                        by.blank_mother.entry(no).or_default().push(i);
                    }
                }
                IdValue::Invalid => {}
            }
        }
        let dated = |src: Src, id_col: usize, date_col: usize| {
            let mut map: Map<Id, Vec<(NaiveDate, usize)>> = Map::default();
            for (i, row) in rows[src.index()].iter().enumerate() {
                if !kept(row) {
                    continue;
                }
                if let (Some(id), Some(d)) = (valid(row, id_col), date_value(&row.cells[date_col]))
                {
                    map.entry(id).or_default().push((d, i));
                }
            }
            map
        };
        by.bookings = dated(Src::PrenatalCare, c.pc_mother, c.pc_date);
        by.registrations = dated(Src::BirthRegistration, c.reg_woman, c.reg_date);
        by.claims = dated(Src::SocialSecurity, c.ss_person, c.ss_claim);
        for (id, rows) in dated(Src::HospitalDelivery, c.del_mother, c.del_date) {
            by.deliveries
                .insert(id, rows.into_iter().map(|(date, _)| date).collect());
        }
        for (i, row) in rows[Src::Marriage.index()].iter().enumerate() {
            if !kept(row) || !is_marriage(text_value(&row.cells[c.mar_kind])) {
                continue;
            }
            if let (Some(woman), Some(d)) =
                (valid(row, c.mar_woman), date_value(&row.cells[c.mar_date]))
            {
                by.marriages
                    .entry(woman)
                    .or_default()
                    .push((d, i, valid(row, c.mar_man)));
            }
        }
        by
    }
}

fn is_hepb(name: &str) -> bool {
    name.contains("乙肝") || name.contains("乙型肝炎") || name.eq_ignore_ascii_case("hepb")
}

fn distinct<T: PartialEq>(mut values: impl Iterator<Item = T>) -> bool {
    match values.next() {
        Some(first) => values.any(|v| v != first),
        None => false,
    }
}

/// The rules about births (§5), over every birth of the truth.
pub(crate) fn birth_rules(ctx: &Ctx<'_>, facts: &[BirthFacts], out: &mut Vec<Discrepancy>) {
    let cal = ctx.input.cal;
    let c = &ctx.cols;
    for (b, f) in facts.iter().enumerate() {
        let row = |rule_id: &str, field: Option<&'static str>, sources: &[Src]| {
            ctx.birth_row(b, f, rule_id, field, sources)
        };
        let has = |k: usize| f.obs[k].is_some();
        let seen: Vec<Src> = (0..4).filter(|&k| has(k)).map(|k| BIRTH_LEVEL[k]).collect();
        let (delivery, certificate, household) = (has(0), has(1), has(2));
        if delivery && f.date <= cal.as_of - days(CERTIFICATE_GRACE) && !certificate {
            out.push(row(
                "delivery_without_certificate",
                None,
                &[Src::HospitalDelivery],
            ));
        }
        if let Some(x) = f.obs[1]
            && !delivery
        {
            let place = text_value(&ctx.row(Src::BirthCertificate, x.row).cells[c.cert_place]);
            if matches!(place, Some("医院" | "妇幼保健院")) {
                out.push(row(
                    "certificate_without_delivery",
                    None,
                    &[Src::BirthCertificate],
                ));
            }
        }
        if !f.floating && f.date <= cal.as_of - days(HOUSEHOLD_GRACE) && !household {
            out.push(row("birth_without_household_registration", None, &seen));
        }
        if f.registration.is_none() {
            out.push(row("birth_without_registration_service", None, &seen));
        }
        if delivery && f.booking.is_none() {
            out.push(row(
                "delivery_without_prenatal_booking",
                None,
                &[Src::HospitalDelivery],
            ));
        }
        match f.hepb1 {
            None if f.date <= cal.as_of - days(HEPB1_GRACE) => {
                out.push(row("birth_without_hepb1", None, &seen));
            }
            Some(d) if (d - f.date).num_days() > 1 => {
                out.push(row("late_hepb1", None, &[Src::Vaccination]));
            }
            _ => {}
        }
        if let Some(x) = f.obs[2]
            && let Some(reg) = ctx.hh_date(x.row, c.hh_reg_date)
            && (reg - f.date).num_days() > LATE_REGISTRATION_DAYS
        {
            out.push(row("late_household_registration", None, &[Src::Household]));
        }
        let fields = [
            ("sex_mismatch", "sex"),
            ("birth_date_mismatch", "birth_date"),
            ("mother_id_mismatch", "mother_id"),
        ];
        for (k, (rule_id, field)) in fields.into_iter().enumerate() {
            if !f.mismatch[k] {
                continue;
            }
            let with_value: Vec<Src> = (0..4)
                .filter(|&s| {
                    f.obs[s].is_some_and(|x| match k {
                        0 => x.sex.is_some(),
                        1 => x.date.is_some(),
                        _ => x.mother.valid().is_some(),
                    })
                })
                .map(|s| BIRTH_LEVEL[s])
                .collect();
            out.push(row(rule_id, Some(field), &with_value));
        }
        if let (Some(order), Some(limit)) = (f.order, limit_on(f.date))
            && order > limit
        {
            out.push(row("out_of_policy_birth", None, &seen));
        }
    }

    // child_order_mismatch: per registration found for a birth, against the computed order
    // of the first birth that found it (§8.14).
    let mut done: HashSet<usize> = HashSet::new();
    for (b, f) in facts.iter().enumerate() {
        let Some(reg) = f.registration else { continue };
        if !done.insert(reg) {
            continue;
        }
        let declared = int_value(&ctx.row(Src::BirthRegistration, reg).cells[c.reg_order]);
        if let (Some(declared), Some(order)) = (declared, f.order)
            && declared != order
        {
            out.push(ctx.birth_row(
                b,
                f,
                "child_order_mismatch",
                Some("child_order"),
                &[Src::BirthRegistration],
            ));
        }
    }

    // Household birth records of the period's dates, without a certificate (§5): every
    // kept household row with reason birth and a birth date in the period.
    let (start, end) = (cal.start, cal.end);
    for i in 0..ctx.rows[Src::Household.index()].len() {
        let in_period = ctx
            .hh_date(i, c.hh_birth)
            .is_some_and(|d| d >= start && d <= end);
        let reason_birth = matches!(
            ctx.hh_text(i, c.hh_reason),
            Some("出生" | "出生登记" | "birth")
        );
        if !(in_period && reason_birth && ctx.hh_kept(i)) {
            continue;
        }
        let link = ctx.row(Src::Household, i).meta.link.index;
        match ctx.birth_by_reg.get(&link) {
            Some(&b) => {
                if facts[b].obs[1].is_none() {
                    out.push(ctx.birth_row(
                        b,
                        &facts[b],
                        "household_birth_without_certificate",
                        None,
                        &[Src::Household],
                    ));
                }
            }
            None => {
                let mut d = ctx.record_row(
                    "household_birth_without_certificate",
                    Src::Household,
                    i,
                    None,
                );
                d.source = None;
                d.record_key = None;
                out.push(d);
            }
        }
    }
}

/// `delivery_without_prenatal_booking` over the stillbirths' deliveries (§8.4): a delivery
/// row that belongs to no birth, so its row carries no `birth_id` and its village is the
/// record's own (§8.12).
pub(crate) fn stillbirth_rules(
    ctx: &Ctx<'_>,
    stillbirths: &[StillbirthFacts],
    out: &mut Vec<Discrepancy>,
) {
    for s in stillbirths.iter().filter(|s| s.booking.is_none()) {
        let mut d = ctx.record_row(
            "delivery_without_prenatal_booking",
            Src::HospitalDelivery,
            s.row,
            None,
        );
        // A rule about a delivery, not one of §8.13: matched by its key like a birth's.
        d.source = None;
        d.record_key = None;
        out.push(d);
    }
}

/// The rules about every record of an extract (§8.13) and `id_number_conflict`. Persons are
/// found by the valid IDs as written: an empty or invalid ID finds no one.
pub(crate) fn record_rules(ctx: &Ctx<'_>, facts: &[BirthFacts], out: &mut Vec<Discrepancy>) {
    let c = &ctx.cols;
    let by = &ctx.by_id;
    // The delivery dates of each mother's births as linkage found them (§8.23): a birth's
    // delivery row is its mother's whatever ID that row carries.
    let mut linked: Map<Id, Vec<NaiveDate>> = Map::default();
    for f in facts {
        if let (Some(m), Some(d)) = (f.mother, f.obs[0].and_then(|x| x.date)) {
            linked.entry(m).or_default().push(d);
        }
    }

    // late_prenatal_booking (§8.19).
    for (i, row) in ctx.rows[Src::PrenatalCare.index()].iter().enumerate() {
        if kept(row) && int_value(&row.cells[c.pc_weeks]).is_some_and(|x| x >= EARLY_BOOKING_WEEKS)
        {
            out.push(ctx.record_row("late_prenatal_booking", Src::PrenatalCare, i, None));
        }
    }

    // registration_without_marriage (§8.15): a kept marriage (not divorce) row with the same
    // valid man and woman IDs, dated strictly before the registration.
    for (i, row) in ctx.rows[Src::BirthRegistration.index()].iter().enumerate() {
        if !kept(row) {
            continue;
        }
        let Some(date) = date_value(&row.cells[c.reg_date]) else {
            continue;
        };
        let married = match (valid(row, c.reg_man), valid(row, c.reg_woman)) {
            (Some(man), Some(woman)) => by
                .marriages
                .get(&woman)
                .is_some_and(|ms| ms.iter().any(|(d, _, m)| *m == Some(man) && *d < date)),
            _ => false,
        };
        if !married {
            out.push(ctx.record_row(
                "registration_without_marriage",
                Src::BirthRegistration,
                i,
                None,
            ));
        }
    }

    // maternity_claim_without_delivery (§8.16, §8.23): any kept delivery row under the
    // claimant's valid ID, or the delivery of one of her births, within ± 180 days.
    for (i, row) in ctx.rows[Src::SocialSecurity.index()].iter().enumerate() {
        if !kept(row) {
            continue;
        }
        let Some(claim) = date_value(&row.cells[c.ss_claim]) else {
            continue;
        };
        let near = valid(row, c.ss_person).is_some_and(|id| {
            by.deliveries
                .get(&id)
                .into_iter()
                .chain(linked.get(&id))
                .flatten()
                .any(|d| (*d - claim).num_days().abs() <= CLAIM_WINDOW)
        });
        if !near {
            out.push(ctx.record_row(
                "maternity_claim_without_delivery",
                Src::SocialSecurity,
                i,
                None,
            ));
        }
    }

    // student_without_household_registration (§8.17): no kept household row of any status
    // for the pupil, identified by the ID field, else the ID inside the student number,
    // else name, sex and birth date matching exactly one kept household row.
    for (i, row) in ctx.rows[Src::School.index()].iter().enumerate() {
        if !kept(row) {
            continue;
        }
        let id = valid(row, c.sch_person).or_else(|| student_no_id(&row.cells[c.sch_no]));
        let registered = match id {
            Some(id) => by.household.contains_key(&id),
            None => match (
                name_value(&row.cells[c.sch_name]),
                sex_value(&row.cells[c.sch_sex]),
                date_value(&row.cells[c.sch_birth]),
            ) {
                (Some(name), Some(sex), Some(born)) => {
                    by.persons.get(&(name, sex, born)) == Some(&1)
                }
                _ => false,
            },
        };
        if !registered {
            out.push(ctx.record_row(
                "student_without_household_registration",
                Src::School,
                i,
                None,
            ));
        }
    }

    // duplicate_record (§8.18): the extra copies.
    for (i, row) in ctx.rows[Src::HospitalDelivery.index()].iter().enumerate() {
        if kept(row) && row.meta.role == Role::Duplicate {
            out.push(ctx.record_row("duplicate_record", Src::HospitalDelivery, i, None));
        }
    }

    // invalid_value (§8.7): the invalid values the generator recorded, one row each.
    for inv in ctx.input.invalid {
        out.push(ctx.record_row("invalid_value", inv.source, inv.row, Some(inv.field)));
    }

    id_number_conflicts(ctx, out);
}

/// `id_number_conflict` (§8.6): a valid ID encoding another birth date or sex than its row
/// records for that person, or a mother's ID encoding a man. One row per record and field.
fn id_number_conflicts(ctx: &Ctx<'_>, out: &mut Vec<Discrepancy>) {
    let c = &ctx.cols;
    // (source, ID column, sex column, birth-date column) of a person's own ID.
    let own: [(Src, usize, usize, usize); 3] = [
        (Src::Household, c.hh_person, c.hh_sex, c.hh_birth),
        (Src::Vaccination, c.vac_child, c.vac_sex, c.vac_birth),
        (Src::School, c.sch_person, c.sch_sex, c.sch_birth),
    ];
    // Fields holding a mother's ID (the woman of a birth registration is the mother).
    let mothers: [(Src, usize); 6] = [
        (Src::BirthRegistration, c.reg_woman),
        (Src::PrenatalCare, c.pc_mother),
        (Src::HospitalDelivery, c.del_mother),
        (Src::BirthCertificate, c.cert_mother),
        (Src::Vaccination, c.vac_mother),
        (Src::Household, c.hh_mother),
    ];
    let mut seen: HashSet<(Src, &str, usize)> = HashSet::new();
    let mut children_seen: Set<(u32, Option<u8>)> = Set::default();
    let sources = [
        Src::BirthRegistration,
        Src::PrenatalCare,
        Src::HospitalDelivery,
        Src::BirthCertificate,
        Src::Vaccination,
        Src::Household,
        Src::School,
    ];
    for src in sources {
        for (i, row) in ctx.rows[src.index()].iter().enumerate() {
            if !kept(row) {
                continue;
            }
            // A child's vaccination values are alike on each of its dose rows: read once.
            if src == Src::Vaccination
                && !children_seen.insert((row.meta.link.index, row.meta.link.child))
            {
                continue;
            }
            let key = row.meta.key.as_deref().unwrap_or_default();
            let mut conflict = |col: usize| {
                if seen.insert((src, key, col)) {
                    let field = src.columns()[col].field;
                    out.push(ctx.record_row("id_number_conflict", src, i, Some(field)));
                }
            };
            for &(s, id_col, sex_col, birth_col) in &own {
                if s == src {
                    let sex = sex_value(&row.cells[sex_col]);
                    let born = date_value(&row.cells[birth_col]);
                    if id_conflicts(&row.cells[id_col], sex, born) {
                        conflict(id_col);
                    }
                }
            }
            for &(s, id_col) in &mothers {
                if s == src && id_is_valid_male(&row.cells[id_col]) {
                    conflict(id_col);
                }
            }
        }
    }
}
