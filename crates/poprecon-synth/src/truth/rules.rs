//! The discrepancy rules of domain.md §5 with the readings of §8, over one village: the
//! values as written (canonicalised by [`super::observe`]) and the true linkage (which
//! record belongs to which birth, mother, couple or pupil).

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;

use super::observe::{
    IdValue, date_time_value, date_value, id_cell_is, id_conflicts, id_is_valid_male, id_value,
    int_value, plain_id, relation_code, sex_value, text_value,
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

/// Column positions of the fields the rules read, looked up once per village.
#[derive(Debug)]
struct Cols {
    reg_date: usize,
    reg_woman: usize,
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
    vac_child: usize,
    vac_sex: usize,
    vac_birth: usize,
    vac_mother: usize,
    vac_vaccine: usize,
    vac_dose: usize,
    vac_date: usize,
    vac_village: usize,
    hh_person: usize,
    hh_sex: usize,
    hh_birth: usize,
    hh_no: usize,
    hh_relation: usize,
    hh_village: usize,
    hh_reg_date: usize,
    hh_reason: usize,
    hh_status: usize,
    hh_mother: usize,
    sch_person: usize,
    sch_sex: usize,
    sch_birth: usize,
    mar_kind: usize,
    mar_date: usize,
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
            vac_child: col(Vaccination, "child_id"),
            vac_sex: col(Vaccination, "child_sex"),
            vac_birth: col(Vaccination, "birth_date"),
            vac_mother: col(Vaccination, "mother_id"),
            vac_vaccine: col(Vaccination, "vaccine"),
            vac_dose: col(Vaccination, "dose"),
            vac_date: col(Vaccination, "vaccination_date"),
            vac_village: col(Vaccination, "residence_village"),
            hh_person: col(Household, "person_id"),
            hh_sex: col(Household, "sex"),
            hh_birth: col(Household, "birth_date"),
            hh_no: col(Household, "household_no"),
            hh_relation: col(Household, "relation_to_head"),
            hh_village: col(Household, "village"),
            hh_reg_date: col(Household, "registration_date"),
            hh_reason: col(Household, "registration_reason"),
            hh_status: col(Household, "status"),
            hh_mother: col(Household, "mother_id"),
            sch_person: col(School, "person_id"),
            sch_sex: col(School, "sex"),
            sch_birth: col(School, "birth_date"),
            mar_kind: col(Marriage, "kind"),
            mar_date: col(Marriage, "registration_date"),
            ss_claim: col(SocialSecurity, "maternity_claim_date"),
        }
    }
}

/// Hash maps keyed by IDs and keys the generator made: a fast hasher, no adversary.
type Map<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<crate::world::KeyHasher>>;
type Set<K> = HashSet<K, std::hash::BuildHasherDefault<crate::world::KeyHasher>>;

/// A child's kept records in the child-level health sources.
#[derive(Debug, Default)]
struct ChildRows {
    /// The delivery row (the extra copy of a duplicate excluded).
    delivery: Option<usize>,
    certificate: Option<usize>,
    /// Every kept dose row.
    vaccination: Vec<usize>,
}

/// A pregnancy's kept records in the mother-level sources and its delivery rows.
#[derive(Debug, Default)]
struct PregnancyRows {
    registration: Option<usize>,
    booking: Option<usize>,
    /// Every kept delivery row, live or stillbirth, extra copies included (§8.16).
    deliveries: Vec<usize>,
    /// The stillbirth's delivery row (not a copy).
    stillbirth: Option<usize>,
}

/// A birth-level record's values as written.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Obs {
    pub row: usize,
    pub sex: Option<u8>,
    pub date: Option<NaiveDate>,
    pub minute: Option<(u32, u32)>,
    pub mother: IdValue,
    /// The child's own ID (household `person_id`, vaccination `child_id`).
    pub child: IdValue,
}

/// What the rules and indicators need to know about a birth.
#[derive(Debug)]
pub(crate) struct BirthFacts {
    /// Per birth-level source in [`BIRTH_LEVEL`] order.
    pub obs: [Option<Obs>; 4],
    pub sex: Option<u8>,
    /// The birth's date (§8.2).
    pub date: NaiveDate,
    pub floating: bool,
    /// The mother's active household village as written (`None` when floating).
    pub mother_village: Option<String>,
    /// The computed order (§8.9); `None` when undetermined.
    pub order: Option<i64>,
    /// HepB dose 1: its date.
    pub hepb1: Option<NaiveDate>,
    pub registration: Option<usize>,
    pub booking: Option<usize>,
    /// The booking's gestational weeks.
    pub booking_weeks: Option<i64>,
    /// Sex, date and mother-ID mismatches (§8.5).
    pub mismatch: [bool; 3],
    /// The delivering institution (index into the village's institutions).
    pub institution: Option<u8>,
}

impl BirthFacts {
    pub(crate) fn sources_seen(&self) -> usize {
        self.obs.iter().flatten().count()
    }

    /// The keys of the birth-level and mother-level records found (a check of
    /// `births.parquet`).
    fn record_keys(&self, ctx: &Ctx<'_>) -> [Option<String>; 6] {
        let mut keys: [Option<String>; 6] = Default::default();
        keys[0] = self
            .registration
            .and_then(|i| ctx.key(Src::BirthRegistration, i));
        keys[1] = self.booking.and_then(|i| ctx.key(Src::PrenatalCare, i));
        for (k, src) in BIRTH_LEVEL.iter().enumerate() {
            keys[2 + k] = self.obs[k].and_then(|x| ctx.key(*src, x.row));
        }
        keys
    }
}

impl BirthTruth {
    /// The keys [`BirthFacts::record_keys`] finds, from the birth's record.
    fn keys_of(&self) -> [Option<String>; 6] {
        let mut keys: [Option<String>; 6] = Default::default();
        keys[0] = self.keys[key_slot(Src::BirthRegistration)].clone();
        keys[1] = self.keys[key_slot(Src::PrenatalCare)].clone();
        for (k, src) in BIRTH_LEVEL.iter().enumerate() {
            keys[2 + k] = self.keys[key_slot(*src)].clone();
        }
        keys
    }
}

/// A village's rows, read once, with the indexes the rules need.
pub(crate) struct Ctx<'a> {
    pub input: &'a VillageInput<'a>,
    pub w: &'a VillageWorld,
    rows: &'a [Vec<Row>],
    cols: Cols,
    /// Per person, their household row (index into the household rows).
    person_row: Vec<Option<usize>>,
    /// Per household-registry row of the world, its row in the extract.
    reg_row: Vec<usize>,
    child_rows: HashMap<(u32, u8), ChildRows>,
    pregnancy_rows: Vec<PregnancyRows>,
    birth_by_child: HashMap<(u32, u8), usize>,
    birth_by_reg: HashMap<u32, usize>,
    birth_by_key: HashMap<(Src, &'a str), usize>,
    /// Kept household rows by their valid `mother_id`, for the mothers of the births.
    by_mother: Map<[u8; 18], Vec<usize>>,
    /// Kept household rows with an empty `mother_id`, by household number, for the
    /// households of the births' mothers.
    blank_by_household: Map<&'a str, Vec<usize>>,
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

impl<'a> Ctx<'a> {
    pub(crate) fn new(input: &'a VillageInput<'a>) -> Ctx<'a> {
        let w = input.world;
        let rows = input.rows;
        let c = Cols::new();
        let hh_rows = &rows[Src::Household.index()];
        let mut person_row = vec![None; w.persons.len()];
        let mut reg_row = vec![usize::MAX; w.regs.len()];
        for (i, row) in hh_rows.iter().enumerate() {
            let reg = row.meta.link.index as usize;
            reg_row[reg] = i;
            person_row[w.regs[reg].person as usize] = Some(i);
        }
        let mut child_rows: HashMap<(u32, u8), ChildRows> = HashMap::new();
        let mut pregnancy_rows: Vec<PregnancyRows> = (0..w.pregnancies.len())
            .map(|_| PregnancyRows::default())
            .collect();
        for (i, row) in rows[Src::HospitalDelivery.index()].iter().enumerate() {
            if !kept(row) {
                continue;
            }
            let link = row.meta.link;
            pregnancy_rows[link.index as usize].deliveries.push(i);
            if row.meta.role == Role::Duplicate {
                continue;
            }
            match link.child {
                Some(ch) => child_rows.entry((link.index, ch)).or_default().delivery = Some(i),
                None => pregnancy_rows[link.index as usize].stillbirth = Some(i),
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
        for (i, row) in rows[Src::BirthRegistration.index()].iter().enumerate() {
            if kept(row) {
                pregnancy_rows[row.meta.link.index as usize].registration = Some(i);
            }
        }
        for (i, row) in rows[Src::PrenatalCare.index()].iter().enumerate() {
            if kept(row) {
                pregnancy_rows[row.meta.link.index as usize].booking = Some(i);
            }
        }

        let mut birth_by_child = HashMap::new();
        let mut birth_by_reg = HashMap::new();
        let mut birth_by_key = HashMap::new();
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
            for src in [
                Src::BirthRegistration,
                Src::PrenatalCare,
                Src::Marriage,
                Src::SocialSecurity,
            ] {
                if let Some(k) = &birth.keys[key_slot(src)] {
                    birth_by_key.entry((src, k.as_str())).or_insert(b);
                }
            }
        }
        let mut ctx = Ctx {
            input,
            w,
            rows,
            cols: c,
            person_row,
            reg_row,
            child_rows,
            pregnancy_rows,
            birth_by_child,
            birth_by_reg,
            birth_by_key,
            by_mother: Map::default(),
            blank_by_household: Map::default(),
        };
        ctx.index_children();
        ctx
    }

    /// Indexes the registry rows that may be the children of the births' mothers (§8.9).
    fn index_children(&mut self) {
        let mut mothers: Set<[u8; 18]> = Set::default();
        let mut households: Map<&'a str, Vec<usize>> = Map::default();
        for birth in self.input.births {
            let mother = self.w.pregnancies[birth.origin.pregnancy as usize].mother;
            if let Some(id) = id_bytes(&self.w.persons[mother as usize].id) {
                mothers.insert(id);
            }
            if let Some(own) = self.active_row(mother)
                && let Some(no) = self.hh_text(own, self.cols.hh_no)
            {
                households.entry(no).or_default();
            }
        }
        for (i, row) in self.rows[Src::Household.index()].iter().enumerate() {
            if !kept(row) {
                continue;
            }
            let cell = &row.cells[self.cols.hh_mother];
            // Only the mothers' IDs matter here: any other valid ID is as good as invalid.
            let mother = match plain_id(cell) {
                Some(id) => IdValue::Valid(id),
                None => id_value(cell),
            };
            let mother = match mother {
                IdValue::Valid(id) if !mothers.contains(&id) => IdValue::Invalid,
                other => other,
            };
            match mother {
                IdValue::Valid(id) => self.by_mother.entry(id).or_default().push(i),
                IdValue::Blank => {
                    if let Some(no) = text_value(&row.cells[self.cols.hh_no])
                        && let Some(rows) = households.get_mut(no)
                    {
                        rows.push(i);
                    }
                }
                IdValue::Invalid => {}
            }
        }
        self.blank_by_household = households;
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

    /// The person's kept, active household row under an ID that reads as theirs (§8.8).
    fn active_row(&self, person: u32) -> Option<usize> {
        let i = self.person_row[person as usize]?;
        let row = &self.rows[Src::Household.index()][i];
        let id = id_bytes(&self.w.persons[person as usize].id)?;
        let active = matches!(
            self.hh_text(i, self.cols.hh_status),
            Some("正常" | "active")
        );
        (kept(row) && active && id_cell_is(&row.cells[self.cols.hh_person], &id)).then_some(i)
    }

    fn hh_kept(&self, i: usize) -> bool {
        kept(&self.rows[Src::Household.index()][i])
    }

    pub(crate) fn active_village(&self, person: u32) -> Option<String> {
        self.active_row(person)
            .and_then(|i| self.hh_text(i, self.cols.hh_village))
            .map(str::to_owned)
    }

    /// A birth-level record's values.
    fn obs(&self, src: Src, i: usize) -> Obs {
        let c = &self.cols;
        let cells = &self.row(src, i).cells;
        let (sex, when, mother, child) = match src {
            Src::HospitalDelivery => (c.del_sex, c.del_date, c.del_mother, None),
            Src::BirthCertificate => (c.cert_sex, c.cert_date, c.cert_mother, None),
            Src::Household => (c.hh_sex, c.hh_birth, c.hh_mother, Some(c.hh_person)),
            _ => (c.vac_sex, c.vac_birth, c.vac_mother, Some(c.vac_child)),
        };
        let dt = date_time_value(&cells[when]);
        Obs {
            row: i,
            sex: sex_value(&cells[sex]),
            date: dt.map(|(d, _)| d),
            minute: dt.and_then(|(_, t)| t),
            mother: id_value(&cells[mother]),
            child: child.map_or(IdValue::Blank, |col| id_value(&cells[col])),
        }
    }

    /// The facts of every birth of the village, in birth order.
    pub(crate) fn birth_facts(&self) -> Vec<BirthFacts> {
        let births = self.input.births;
        births
            .iter()
            .map(|b| {
                let f = self.facts_of(b);
                // `births.parquet` was assembled while rendering; the truth reads the rows
                // again: both must see the same birth.
                debug_assert_eq!(f.sex.map(i32::from), b.sex, "{}: sex", b.birth_id);
                debug_assert_eq!(Some(f.date), b.birth_date, "{}: date", b.birth_id);
                debug_assert_eq!(f.floating, b.mother_floating, "{}: floating", b.birth_id);
                debug_assert_eq!(f.record_keys(self), b.keys_of(), "{}: keys", b.birth_id);
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

        let mother_row = self.active_row(p.mother);
        let floating = mother_row.is_none();
        let mother_village =
            mother_row.and_then(|i| self.hh_text(i, c.hh_village).map(str::to_owned));

        // §8.3: the mother's records within their windows of the birth's date.
        let pr = &self.pregnancy_rows[o.pregnancy as usize];
        let registration = pr.registration.filter(|&i| {
            date_value(&self.row(Src::BirthRegistration, i).cells[c.reg_date]).is_some_and(|d| {
                d >= date - days(REGISTRATION_BEFORE) && d <= date + days(REGISTRATION_AFTER)
            })
        });
        let booking = pr.booking.filter(|&i| {
            date_value(&self.row(Src::PrenatalCare, i).cells[c.pc_date])
                .is_some_and(|d| d >= date - days(BOOKING_WINDOW) && d <= date)
        });
        let booking_weeks =
            booking.and_then(|i| int_value(&self.row(Src::PrenatalCare, i).cells[c.pc_weeks]));

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

        let order = (!floating).then(|| self.computed_order(birth, p.mother, date, &obs));
        let institution = child_rows.delivery.map(|_| p.institution);
        BirthFacts {
            obs,
            sex,
            date,
            floating,
            mother_village,
            order,
            hepb1,
            registration,
            booking,
            booking_weeks,
            mismatch,
            institution,
        }
    }

    /// §8.9: 1 + her children born strictly before, from the registry as written, plus the
    /// rank of a multiple birth.
    fn computed_order(
        &self,
        birth: &BirthTruth,
        mother: u32,
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
                _ => true,
            };
            relation_ok
                && self
                    .hh_date(*i, self.cols.hh_birth)
                    .is_some_and(|b| b < date)
                && !excluded.contains(i)
        };
        let mut earlier = id_bytes(&self.w.persons[mother as usize].id)
            .and_then(|id| self.by_mother.get(&id))
            .map_or(0, |rows| rows.iter().filter(|i| counts(i, false)).count());
        if let Some(own) = self.active_row(mother)
            && matches!(self.hh_relation(own), Some(2 | 10 | 11 | 12))
            && let Some(no) = self.hh_text(own, self.cols.hh_no)
        {
            earlier += self
                .blank_by_household
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

    /// The birth a kept record belongs to (§8.12), by the true linkage: a child-level
    /// record through its child (the extra copy of a duplicated delivery belongs to the
    /// birth of the original), a household row through its person, a mother-level,
    /// marriage or social-security record when a birth lists its key.
    fn birth_of(&self, src: Src, i: usize) -> Option<usize> {
        let row = self.row(src, i);
        let link = row.meta.link;
        match src {
            Src::HospitalDelivery | Src::BirthCertificate | Src::Vaccination => link
                .child
                .and_then(|ch| self.birth_by_child.get(&(link.index, ch)).copied()),
            Src::Household => self.birth_by_reg.get(&link.index).copied(),
            Src::School => None,
            _ => row
                .meta
                .key
                .as_deref()
                .and_then(|k| self.birth_by_key.get(&(src, k)).copied()),
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

    /// The persons whose active household village stands in for a record's (§8.12): the
    /// mother for mother-level records and deliveries, the child for certificates and
    /// vaccinations, the pupil, the insured, the woman then the man of a marriage.
    fn persons_of(&self, src: Src, i: usize) -> Vec<u32> {
        let w = self.w;
        let link = self.row(src, i).meta.link;
        let idx = link.index as usize;
        match src {
            Src::BirthRegistration | Src::PrenatalCare | Src::HospitalDelivery => {
                vec![w.pregnancies[idx].mother]
            }
            Src::BirthCertificate | Src::Vaccination => link
                .child
                .map(|ch| w.pregnancies[idx].children[usize::from(ch)].person)
                .into_iter()
                .collect(),
            Src::Household => vec![w.regs[idx].person],
            Src::School => vec![w.students[idx].person],
            Src::Marriage => vec![w.marriages[idx].woman, w.marriages[idx].man],
            Src::SocialSecurity => vec![w.insured[idx].person],
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
            Some(b) => self.input.births[b].village.clone(),
            None => self.own_village(src, i).map(str::to_owned).or_else(|| {
                self.persons_of(src, i)
                    .into_iter()
                    .find_map(|p| self.active_village(p))
            }),
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
}

/// A generated (valid, 18-character) ID as the key of the indexes.
fn id_bytes(id: &str) -> Option<[u8; 18]> {
    id.as_bytes().try_into().ok()
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

/// A discrepancy about a birth: its id and village, and the keys of the records named.
fn birth_row(
    birth: &BirthTruth,
    rule_id: &str,
    field: Option<&'static str>,
    sources: &[Src],
) -> Discrepancy {
    let mut keys: [Option<String>; 9] = Default::default();
    for s in sources {
        keys[key_slot(*s)] = birth.keys[key_slot(*s)].clone();
    }
    Discrepancy {
        rule: rule(rule_id),
        field,
        village: birth.village.clone(),
        birth_id: Some(birth.birth_id.clone()),
        source: None,
        record_key: None,
        keys,
    }
}

/// The rules about births (§5), over every birth of the truth.
pub(crate) fn birth_rules(ctx: &Ctx<'_>, facts: &[BirthFacts], out: &mut Vec<Discrepancy>) {
    let cal = ctx.input.cal;
    let c = &ctx.cols;
    let births = ctx.input.births;
    for (b, f) in facts.iter().enumerate() {
        let birth = &births[b];
        let has = |k: usize| f.obs[k].is_some();
        let seen: Vec<Src> = (0..4).filter(|&k| has(k)).map(|k| BIRTH_LEVEL[k]).collect();
        let (delivery, certificate, household) = (has(0), has(1), has(2));
        if delivery && f.date <= cal.as_of - days(CERTIFICATE_GRACE) && !certificate {
            out.push(birth_row(
                birth,
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
                out.push(birth_row(
                    birth,
                    "certificate_without_delivery",
                    None,
                    &[Src::BirthCertificate],
                ));
            }
        }
        if !f.floating && f.date <= cal.as_of - days(HOUSEHOLD_GRACE) && !household {
            out.push(birth_row(
                birth,
                "birth_without_household_registration",
                None,
                &seen,
            ));
        }
        if f.registration.is_none() {
            out.push(birth_row(
                birth,
                "birth_without_registration_service",
                None,
                &seen,
            ));
        }
        if delivery && f.booking.is_none() {
            out.push(birth_row(
                birth,
                "delivery_without_prenatal_booking",
                None,
                &[Src::HospitalDelivery],
            ));
        }
        match f.hepb1 {
            None if f.date <= cal.as_of - days(HEPB1_GRACE) => {
                out.push(birth_row(birth, "birth_without_hepb1", None, &seen));
            }
            Some(d) if (d - f.date).num_days() > 1 => {
                out.push(birth_row(birth, "late_hepb1", None, &[Src::Vaccination]));
            }
            _ => {}
        }
        if let Some(x) = f.obs[2]
            && let Some(reg) = ctx.hh_date(x.row, c.hh_reg_date)
            && (reg - f.date).num_days() > LATE_REGISTRATION_DAYS
        {
            out.push(birth_row(
                birth,
                "late_household_registration",
                None,
                &[Src::Household],
            ));
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
            out.push(birth_row(birth, rule_id, Some(field), &with_value));
        }
        if let (Some(order), Some(limit)) = (f.order, limit_on(f.date))
            && order > limit
        {
            out.push(birth_row(birth, "out_of_policy_birth", None, &seen));
        }
    }

    // child_order_mismatch: per registration linked to a birth, against the computed order
    // of the pregnancy's first child among the births (§8.14).
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
            out.push(birth_row(
                &births[b],
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
                    out.push(birth_row(
                        &births[b],
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

    // delivery_without_prenatal_booking for the period's stillbirths: a delivery dated in
    // the period with no booking of the mother within 300 days before it.
    for (pi, pr) in ctx.pregnancy_rows.iter().enumerate() {
        let Some(i) = pr.stillbirth else { continue };
        let Some(d) = stillbirth_date(ctx, i) else {
            continue;
        };
        if d < start || d > end {
            continue;
        }
        if stillbirth_booking(ctx, pi, d).is_none() {
            let mut row = ctx.record_row(
                "delivery_without_prenatal_booking",
                Src::HospitalDelivery,
                i,
                None,
            );
            row.source = None;
            row.record_key = None;
            out.push(row);
        }
    }
}

/// A stillbirth delivery's date as written.
pub(crate) fn stillbirth_date(ctx: &Ctx<'_>, i: usize) -> Option<NaiveDate> {
    date_value(&ctx.row(Src::HospitalDelivery, i).cells[ctx.cols.del_date])
}

/// The pregnancy's booking within 300 days before `date`, with its weeks.
pub(crate) fn stillbirth_booking(ctx: &Ctx<'_>, pi: usize, date: NaiveDate) -> Option<Option<i64>> {
    let c = &ctx.cols;
    let i = ctx.pregnancy_rows[pi].booking?;
    let cells = &ctx.row(Src::PrenatalCare, i).cells;
    let d = date_value(&cells[c.pc_date])?;
    (d >= date - days(BOOKING_WINDOW) && d <= date).then(|| int_value(&cells[c.pc_weeks]))
}

/// The period's stillbirth deliveries: (pregnancy, delivery row, date as written).
pub(crate) fn stillbirths(ctx: &Ctx<'_>) -> Vec<(usize, usize, NaiveDate)> {
    let cal = ctx.input.cal;
    ctx.pregnancy_rows
        .iter()
        .enumerate()
        .filter_map(|(pi, pr)| {
            let i = pr.stillbirth?;
            let d = stillbirth_date(ctx, i)?;
            (d >= cal.start && d <= cal.end).then_some((pi, i, d))
        })
        .collect()
}

impl Ctx<'_> {
    /// The stillbirth delivery row's residence as written.
    pub(crate) fn delivery_residence(&self, i: usize) -> Option<String> {
        self.own_village(Src::HospitalDelivery, i)
            .map(str::to_owned)
    }

    /// The booking row's residence as written.
    pub(crate) fn booking_residence(&self, pi: usize) -> Option<String> {
        let i = self.pregnancy_rows[pi].booking?;
        self.own_village(Src::PrenatalCare, i).map(str::to_owned)
    }
}

/// The rules about every record of an extract (§8.13) and `id_number_conflict`.
pub(crate) fn record_rules(ctx: &Ctx<'_>, out: &mut Vec<Discrepancy>) {
    let c = &ctx.cols;
    let w = ctx.w;

    // late_prenatal_booking (§8.19).
    for (i, row) in ctx.rows[Src::PrenatalCare.index()].iter().enumerate() {
        if kept(row) && int_value(&row.cells[c.pc_weeks]).is_some_and(|x| x >= EARLY_BOOKING_WEEKS)
        {
            out.push(ctx.record_row("late_prenatal_booking", Src::PrenatalCare, i, None));
        }
    }

    // registration_without_marriage (§8.15): the couple's kept marriages, not divorces.
    let couples: Set<(u32, u32)> = ctx.rows[Src::BirthRegistration.index()]
        .iter()
        .filter(|row| kept(row))
        .map(|row| {
            let p = &w.pregnancies[row.meta.link.index as usize];
            (p.father, p.mother)
        })
        .collect();
    let mut married: Map<(u32, u32), Vec<NaiveDate>> = Map::default();
    for row in &ctx.rows[Src::Marriage.index()] {
        let m = &w.marriages[row.meta.link.index as usize];
        if !kept(row) || !couples.contains(&(m.man, m.woman)) {
            continue;
        }
        let kind = text_value(&row.cells[c.mar_kind]);
        if !matches!(kind, Some("结婚" | "结婚登记" | "复婚" | "marriage")) {
            continue;
        }
        if let Some(d) = date_value(&row.cells[c.mar_date]) {
            married.entry((m.man, m.woman)).or_default().push(d);
        }
    }
    for (i, row) in ctx.rows[Src::BirthRegistration.index()].iter().enumerate() {
        if !kept(row) {
            continue;
        }
        let p = &w.pregnancies[row.meta.link.index as usize];
        let Some(date) = date_value(&row.cells[c.reg_date]) else {
            continue;
        };
        let before = married
            .get(&(p.father, p.mother))
            .is_some_and(|ds| ds.iter().any(|d| *d < date));
        if !before {
            out.push(ctx.record_row(
                "registration_without_marriage",
                Src::BirthRegistration,
                i,
                None,
            ));
        }
    }

    // maternity_claim_without_delivery (§8.16): any kept delivery row of the woman.
    let mut deliveries: Map<u32, Vec<NaiveDate>> = Map::default();
    for (pi, pr) in ctx.pregnancy_rows.iter().enumerate() {
        for &i in &pr.deliveries {
            if let Some(d) = date_value(&ctx.row(Src::HospitalDelivery, i).cells[c.del_date]) {
                deliveries
                    .entry(w.pregnancies[pi].mother)
                    .or_default()
                    .push(d);
            }
        }
    }
    for (i, row) in ctx.rows[Src::SocialSecurity.index()].iter().enumerate() {
        if !kept(row) {
            continue;
        }
        let Some(claim) = date_value(&row.cells[c.ss_claim]) else {
            continue;
        };
        let person = w.insured[row.meta.link.index as usize].person;
        let near = deliveries.get(&person).is_some_and(|ds| {
            ds.iter()
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

    // student_without_household_registration (§8.17): no kept household row of any status.
    for (i, row) in ctx.rows[Src::School.index()].iter().enumerate() {
        if !kept(row) {
            continue;
        }
        let person = w.students[row.meta.link.index as usize].person;
        let registered = ctx.person_row[person as usize].is_some_and(|r| ctx.hh_kept(r));
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

/// `ambiguous_link`: among the co-births of a multiple birth, for a pair of birth-level
/// sources, a birth's record in one source agrees with another co-birth's record in the
/// other source exactly as well as with its own (documented in the crate's `# The truth`).
pub(crate) fn ambiguous_links(ctx: &Ctx<'_>, facts: &[BirthFacts], out: &mut Vec<Discrepancy>) {
    let births = ctx.input.births;
    let mut by_pregnancy: HashMap<u32, Vec<usize>> = HashMap::new();
    for (b, birth) in births.iter().enumerate() {
        if birth.origin.child.is_some() {
            by_pregnancy
                .entry(birth.origin.pregnancy)
                .or_default()
                .push(b);
        }
    }
    let mut groups: Vec<Vec<usize>> = by_pregnancy
        .into_values()
        .filter(|g| g.len() >= 2)
        .collect();
    groups.sort();
    // The pairs of birth-level sources, A before B (indexes into `BIRTH_LEVEL`).
    let pairs: Vec<(usize, usize)> = (0..4)
        .flat_map(|a| (a + 1..4).map(move |b| (a, b)))
        .collect();
    for group in groups {
        for &(a, b) in &pairs {
            for &x in &group {
                let (Some(ax), Some(bx)) = (facts[x].obs[a], facts[x].obs[b]) else {
                    continue;
                };
                let own = agreement(a, b, &ax, &bx);
                let others = group.iter().filter(|&&y| y != x);
                let tie = others
                    .clone()
                    .any(|&y| facts[y].obs[b].is_some_and(|by| agreement(a, b, &ax, &by) == own))
                    || others.clone().any(|&y| {
                        facts[y].obs[a].is_some_and(|ay| agreement(a, b, &ay, &bx) == own)
                    });
                if tie {
                    out.push(birth_row(
                        &births[x],
                        "ambiguous_link",
                        None,
                        &[BIRTH_LEVEL[a], BIRTH_LEVEL[b]],
                    ));
                }
            }
        }
    }
}

/// How two records of sources `a` and `b` (indexes into [`BIRTH_LEVEL`]) agree, per field
/// both sources record: mother ID (valid values), birth date, sex, birth time to the minute
/// (delivery and certificate), child ID (household and vaccination, valid values). `None`
/// where either has no value.
fn agreement(a: usize, b: usize, x: &Obs, y: &Obs) -> [Option<bool>; 5] {
    fn cmp<T: PartialEq>(p: Option<T>, q: Option<T>) -> Option<bool> {
        Some(p? == q?)
    }
    let timed = a <= 1 && b <= 1;
    let child_ids = a >= 2 && b >= 2;
    [
        cmp(x.mother.valid(), y.mother.valid()),
        cmp(x.date, y.date),
        cmp(x.sex, y.sex),
        if timed { cmp(x.minute, y.minute) } else { None },
        if child_ids {
            cmp(x.child.valid(), y.child.valid())
        } else {
            None
        },
    ]
}
