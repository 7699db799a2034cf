//! The population of one village as it really is: persons, households, pregnancies and
//! their births, marriages, pupils and the insured. Nothing here is damaged; `render.rs`
//! turns this world into extracts and injects the mess.
//!
//! Each village is generated from its own random stream (seed, village code), so villages
//! can be generated in any order and in parallel. Resident IDs are finished afterwards:
//! [`assign_sequences`] walks the villages of a county in order so that no two persons share
//! an ID, then [`build_ids`] writes them out (in parallel).

use std::collections::HashSet;

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::divisions::Village;
use crate::{ids, names};

/// How big a village is: mean household rows, and live births per household row and year.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Size {
    pub rows: u32,
    pub birth_rate: f64,
    /// Share of stillbirths among singleton deliveries.
    pub stillbirth_share: f64,
}
/// Share of mothers absent from the local household registry (流动人口).
const FLOATING_SHARE: f64 = 0.12;
/// Of those, the share who have a household row here, but moved out.
const FLOATING_MOVED_OUT: f64 = 0.015;
/// Share of twin pregnancies.
const TWIN_SHARE: f64 = 0.015;
/// Share of stillbirths among singleton deliveries (Bengbu's).
pub(crate) const STILLBIRTH_SHARE: f64 = 0.005;
/// Probability of a boy: ordinary villages, and the villages with a high sex ratio.
const P_MALE: f64 = 0.517;
const P_MALE_HIGH: f64 = 0.575;
const HIGH_RATIO_VILLAGES: f64 = 0.10;

/// Address codes of IDs issued outside the province (Jiangsu, Henan, Shandong, Zhejiang
/// counties), for floating parents and persons who moved in. Outside Anhui so that they
/// never collide with the province scale's recoded county codes.
pub(crate) const EXTERNAL_ADDRESSES: [u32; 10] = [
    320321, 320382, 321323, 321324, 410526, 411422, 411424, 370826, 371721, 330106,
];

/// Address codes no person's ID is issued under (Jiangsu and Henan counties outside
/// [`EXTERNAL_ADDRESSES`]): a wrong mother ID written under one of them is nobody's, so
/// that the truth, computed village by village, finds through it what the whole extract
/// holds: nothing.
pub(crate) const UNISSUED_ADDRESSES: [u32; 4] = [320322, 320324, 410527, 410922];

/// The dates that frame a run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Calendar {
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub as_of: NaiveDate,
}

/// A random stream of one village: the same seed and village give the same stream, whatever
/// order villages are generated in.
pub(crate) fn stream_rng(seed: u64, village: &str, stream: u64) -> ChaCha8Rng {
    let code: u64 = village.parse().unwrap_or(0);
    let mut x = seed
        ^ code.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03);
    // SplitMix64 finaliser: nearby seeds give unrelated streams.
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^= x >> 31;
    ChaCha8Rng::seed_from_u64(x)
}

pub(crate) fn days(n: i64) -> TimeDelta {
    TimeDelta::days(n)
}

#[derive(Debug, Clone)]
pub(crate) struct Person {
    /// Address code of the ID: where it was issued.
    pub addr: u32,
    pub birth: NaiveDate,
    pub seq: u16,
    pub male: bool,
    /// Issued outside the village's county: kept unique across the whole run.
    pub external: bool,
    pub surname: &'static str,
    pub name: String,
    /// The 18-character ID, set by [`build_ids`].
    pub id: String,
    pub insured: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Active,
    MovedOut,
    Deceased,
    Cancelled,
}

impl Status {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Status::Active => "正常",
            Status::MovedOut => "迁出",
            Status::Deceased => "死亡",
            Status::Cancelled => "注销",
        }
    }
}

/// One row of the household registry.
#[derive(Debug, Clone)]
pub(crate) struct RegRow {
    pub person: u32,
    pub household: u32,
    pub relation: &'static str,
    pub status: Status,
    pub reg_date: NaiveDate,
    pub reason: &'static str,
    pub mother: Option<u32>,
    pub father: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Window {
    /// Born in the quarter before the period.
    Before,
    InPeriod,
    /// Born after the period, on or before `as_of`.
    After,
    /// Not born by `as_of`: only a booking and a registration can exist.
    Pending,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    Hospital,
    Home,
    /// On the way (途中): admitted afterwards, so a delivery record exists.
    Other,
}

#[derive(Debug, Clone)]
pub(crate) struct Pregnancy {
    pub mother: u32,
    pub father: u32,
    /// The mother's household row, if she has one (active, or moved out).
    #[cfg_attr(
        not(test),
        expect(dead_code, reason = "the design, which the tests compare")
    )]
    pub mother_reg: Option<u32>,
    /// By design: not in the local registry, or moved out.
    #[cfg_attr(
        not(test),
        expect(dead_code, reason = "the design, which the tests compare")
    )]
    pub floating: bool,
    pub window: Window,
    /// Delivery time of the first child, or the due date of a pending pregnancy.
    pub end: NaiveDateTime,
    pub gest_weeks: u8,
    pub plurality: u8,
    pub stillbirth: Option<(bool, u16)>,
    pub place: Place,
    /// Index into the village's institutions.
    pub institution: u8,
    pub mode: &'static str,
    /// True birth order of the first child of this pregnancy.
    pub order: u8,
    pub children: Vec<Child>,
    pub booking: Option<Booking>,
    pub registration: Option<NaiveDate>,
    /// The couple's marriage record (index into `marriages`), if any.
    #[cfg_attr(
        not(test),
        expect(dead_code, reason = "the design, which the tests compare")
    )]
    pub marriage: Option<u32>,
    /// The mother's social-security row (index into `insured`) if it carries this
    /// pregnancy's maternity claim.
    pub claim: Option<u32>,
    /// The household rows of the mother's earlier children (local families only), oldest
    /// first: the `k`-th is her child of order `k + 1`.
    pub earlier: Vec<u32>,
}

#[derive(Debug, Clone)]
pub(crate) struct Child {
    pub person: u32,
    pub seq: u8,
    pub time: NaiveDateTime,
    pub weight: u16,
    pub male: bool,
    pub certificate: Option<Certificate>,
    /// The child's household row, if registered by `as_of`.
    pub reg_row: Option<u32>,
    pub doses: Vec<Dose>,
    /// Whether the vaccination record carries the child's ID.
    pub vacc_child_id: bool,
    /// Whether the vaccination record names the child `<mother>之子/之女` (named later).
    pub vacc_placeholder_name: bool,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Certificate {
    pub issue: NaiveDate,
    pub reissue: bool,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Dose {
    pub vaccine: u8,
    pub dose: u8,
    pub date: NaiveDate,
    /// Given where the child was born (HepB 1 and BCG in the delivery hospital).
    pub at_birth_place: bool,
}

/// Vaccines of the national schedule: Chinese product name as immunisation systems write it.
pub(crate) const VACCINES: [&str; 8] = [
    "乙肝疫苗",
    "卡介苗",
    "脊灰灭活疫苗",
    "二价脊灰减毒活疫苗",
    "百白破疫苗",
    "A群流脑多糖疫苗",
    "麻腮风疫苗",
    "乙脑减毒活疫苗",
];
/// (vaccine, dose, days after birth) of the national schedule in the first nine months.
const SCHEDULE: [(u8, u8, i64); 14] = [
    (0, 1, 0),
    (1, 1, 0),
    (0, 2, 30),
    (2, 1, 60),
    (2, 2, 90),
    (4, 1, 90),
    (3, 1, 120),
    (4, 2, 120),
    (4, 3, 150),
    (0, 3, 180),
    (5, 1, 180),
    (6, 1, 240),
    (7, 1, 240),
    (5, 2, 270),
];

#[derive(Debug, Clone, Copy)]
pub(crate) struct Booking {
    pub date: NaiveDate,
    pub weeks: u8,
    pub visits: u8,
    pub due: NaiveDate,
    pub high_risk: bool,
    pub at_hospital: bool,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct MarriageRec {
    pub man: u32,
    pub woman: u32,
    pub divorce: bool,
    pub date: NaiveDate,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Student {
    pub person: u32,
    /// 0 primary, 1 junior middle, 2 senior middle.
    pub stage: u8,
    pub grade: &'static str,
    pub enrolment: NaiveDate,
    /// Which school of the stage.
    pub school: u8,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Insured {
    pub person: u32,
    pub scheme: &'static str,
    pub status: &'static str,
    pub start: NaiveDate,
    pub claim: Option<NaiveDate>,
}

/// One village's population.
#[derive(Debug, Clone, Default)]
pub(crate) struct VillageWorld {
    pub persons: Vec<Person>,
    pub regs: Vec<RegRow>,
    pub pregnancies: Vec<Pregnancy>,
    pub marriages: Vec<MarriageRec>,
    pub students: Vec<Student>,
    pub insured: Vec<Insured>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Head {
    Father,
    Mother,
    Grandfather,
}

struct Gen {
    rng: ChaCha8Rng,
    cal: Calendar,
    stillbirth_share: f64,
    county: u32,
    p_male: f64,
    households: u32,
    w: VillageWorld,
}

/// Generates one village of about `size.rows` household rows.
pub(crate) fn generate(village: &Village, cal: Calendar, seed: u64, size: Size) -> VillageWorld {
    let mut rng = stream_rng(seed, &village.code, 1);
    let p_male = if rng.random_bool(HIGH_RATIO_VILLAGES) {
        P_MALE_HIGH
    } else {
        P_MALE
    };
    let mut g = Gen {
        rng,
        cal,
        stillbirth_share: size.stillbirth_share,
        county: village.county,
        p_male,
        households: 0,
        w: VillageWorld::default(),
    };
    let target = (f64::from(size.rows) * g.uniform(0.6, 1.4)).round() as usize;
    let births = (target as f64 * size.birth_rate * g.uniform(0.8, 1.2)).round() as usize;
    let mut born = 0;
    while born < births {
        born += g.pregnancy(Window::InPeriod);
    }
    let year = (cal.end - cal.start).num_days().max(1) as f64;
    let before = (births as f64 * 92.0 / year * g.uniform(0.8, 1.2)).round() as usize;
    let after_days = (cal.as_of - cal.end).num_days().max(0) as f64;
    let after = (births as f64 * after_days / year * g.uniform(0.8, 1.2)).round() as usize;
    let pending = (births as f64 * 0.7 * g.uniform(0.8, 1.2)).round() as usize;
    for _ in 0..before {
        g.pregnancy(Window::Before);
    }
    for _ in 0..after {
        g.pregnancy(Window::After);
    }
    for _ in 0..pending {
        g.pregnancy(Window::Pending);
    }
    while g.w.regs.len() < target {
        g.background_household();
    }
    let floating_pupils = (target as f64 * 0.004).round() as usize;
    for _ in 0..floating_pupils {
        g.floating_pupil();
    }
    g.pupils_and_insured();
    g.w
}

impl Gen {
    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.rng.random::<f64>()
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p.clamp(0.0, 1.0))
    }

    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        self.rng.random_range(lo..=hi)
    }

    fn date_between(&mut self, a: NaiveDate, b: NaiveDate) -> NaiveDate {
        let span = (b - a).num_days().max(0);
        a + days(self.range(0, span))
    }

    /// A birth date of someone aged `age` (whole years) on `as_of`.
    fn born_aged(&mut self, age: i64) -> NaiveDate {
        let d = self.range(0, 364);
        self.cal.as_of - days(age * 365 + age / 4 + d)
    }

    fn external_addr(&mut self) -> u32 {
        EXTERNAL_ADDRESSES[self.rng.random_range(0..EXTERNAL_ADDRESSES.len())]
    }

    fn person(
        &mut self,
        male: bool,
        birth: NaiveDate,
        addr: Option<u32>,
        surname: Option<&'static str>,
    ) -> u32 {
        let surname = surname.unwrap_or_else(|| names::surname(&mut self.rng));
        let name = names::full_name(&mut self.rng, surname, male, birth.year());
        // Sequence: odd for men, even for women; 000 is never issued.
        let k: u16 = self.rng.random_range(1..500);
        let seq = k * 2 - 1 + u16::from(!male);
        let (addr, external) = match addr {
            Some(a) => (a, a != self.county),
            None => (self.county, false),
        };
        self.w.persons.push(Person {
            addr,
            birth,
            seq,
            male,
            external,
            surname,
            name,
            id: String::new(),
            insured: false,
        });
        (self.w.persons.len() - 1) as u32
    }

    fn household(&mut self) -> u32 {
        self.households += 1;
        self.households - 1
    }

    #[allow(clippy::too_many_arguments)]
    fn reg(
        &mut self,
        person: u32,
        household: u32,
        relation: &'static str,
        status: Status,
        reg_date: NaiveDate,
        reason: &'static str,
        mother: Option<u32>,
        father: Option<u32>,
    ) -> u32 {
        let reg_date = reg_date.min(self.cal.as_of);
        self.w.regs.push(RegRow {
            person,
            household,
            relation,
            status,
            reg_date,
            reason,
            mother,
            father,
        });
        (self.w.regs.len() - 1) as u32
    }

    fn birth_reg_date(&mut self, person: u32) -> NaiveDate {
        let birth = self.w.persons[person as usize].birth;
        birth + days(self.range(5, 60))
    }

    fn child_male(&mut self) -> bool {
        let p = self.p_male;
        self.chance(p)
    }

    /// One pregnancy and its family; returns the live children born.
    fn pregnancy(&mut self, window: Window) -> usize {
        let cal = self.cal;
        let (from, to) = match window {
            Window::Before => (cal.start - days(92), cal.start - days(1)),
            Window::InPeriod => (cal.start, cal.end),
            Window::After => (cal.end + days(1), cal.as_of),
            Window::Pending => (cal.as_of + days(1), cal.as_of + days(270)),
        };
        if from > to {
            return 0;
        }
        let date = self.date_between(from, to);
        let minute = self.range(0, 1439) as u32;
        let end = date.and_time(
            NaiveTime::from_num_seconds_from_midnight_opt(minute * 60, 0).unwrap_or(NaiveTime::MIN),
        );
        let pending = window == Window::Pending;
        let roll = self.rng.random::<f64>();
        let floating = roll < FLOATING_SHARE;
        let moved_out = roll < FLOATING_MOVED_OUT;
        let still = !pending && self.chance(self.stillbirth_share);
        let plurality: u8 = if !still && self.chance(TWIN_SHARE) {
            2
        } else {
            1
        };
        let place = if still {
            Place::Hospital
        } else {
            match self.rng.random::<f64>() {
                r if r < 0.985 => Place::Hospital,
                r if r < 0.996 => Place::Home,
                _ => Place::Other,
            }
        };
        let gest_weeks = if pending {
            40
        } else if plurality == 2 {
            self.range(33, 38) as u8
        } else {
            match self.rng.random::<f64>() {
                r if r < 0.90 => self.range(37, 41) as u8,
                r if r < 0.98 => self.range(32, 36) as u8,
                _ => self.range(28, 31) as u8,
            }
        };
        let order: u8 = match self.rng.random::<f64>() {
            r if r < 0.45 => 1,
            r if r < 0.85 => 2,
            r if r < 0.97 => 3,
            _ => 4,
        };
        let gaps: Vec<i64> = (1..order).map(|_| self.range(500, 2200)).collect();
        let span: i64 = gaps.iter().sum();
        let age_days = (20 * 365 + span + self.range(0, 9 * 365)).min(44 * 365);
        let mother_birth = date - days(age_days);
        let father_birth = mother_birth - days(self.range(-700, 2500));
        let first_child = date - days(span);
        let marriage_date =
            (first_child - days(self.range(300, 1100))).max(mother_birth + days(20 * 365 + 30));

        let (mother, father, mother_reg, household, head) = if floating && !moved_out {
            let addr = self.external_addr();
            let m = self.person(false, mother_birth, Some(addr), None);
            let faddr = if self.chance(0.7) {
                addr
            } else {
                self.external_addr()
            };
            let f = self.person(true, father_birth, Some(faddr), None);
            (m, f, None, None, Head::Father)
        } else {
            let (m, f, mreg, hh, head) =
                self.family(mother_birth, father_birth, marriage_date, moved_out);
            (m, f, Some(mreg), Some(hh), head)
        };
        let family_surname = self.w.persons[father as usize].surname;
        let mother_surname = self.w.persons[mother as usize].surname;

        // Earlier children: registered with the family (local families only).
        let mut sons = 0u8;
        let mut daughters = 0u8;
        let mut earlier_rows = Vec::new();
        if let Some(hh) = household {
            let mut when = date;
            let mut earlier = Vec::new();
            for gap in gaps.iter().rev() {
                when -= days(*gap);
                earlier.push(when);
            }
            earlier.reverse();
            let blank_ok = head != Head::Grandfather;
            for born in earlier {
                let male = self.child_male();
                let surname = if self.chance(0.92) {
                    family_surname
                } else {
                    mother_surname
                };
                let c = self.person(male, born, None, Some(surname));
                let relation = child_relation(head, male, &mut sons, &mut daughters);
                let status = if self.chance(0.01) {
                    Status::Deceased
                } else {
                    Status::Active
                };
                let blank = blank_ok && self.chance(0.12);
                let reg_date = self.birth_reg_date(c);
                let row = self.reg(
                    c,
                    hh,
                    relation,
                    status,
                    reg_date,
                    "出生",
                    (!blank).then_some(mother),
                    (!blank).then_some(father),
                );
                earlier_rows.push(row);
            }
            if self.chance(0.015) {
                let male = self.chance(0.5);
                let born = {
                    let age = self.range(3, 12);
                    self.born_aged(age)
                };
                let c = self.person(male, born, None, Some(family_surname));
                let reg_date = born + days(self.range(200, 900));
                let relation = if male { "养子" } else { "养女" };
                self.reg(
                    c,
                    hh,
                    relation,
                    Status::Active,
                    reg_date,
                    "其他",
                    None,
                    None,
                );
            }
        }

        // The children of this pregnancy.
        let institution = self.institution(place);
        let mode = if place != Place::Hospital {
            "顺产"
        } else {
            match self.rng.random::<f64>() {
                r if r < 0.55 => "顺产",
                r if r < 0.95 => "剖宫产",
                _ => "阴道助产",
            }
        };
        let mut children = Vec::new();
        let mut stillbirth = None;
        if still {
            let male = self.child_male();
            stillbirth = Some((male, self.range(600, 2800) as u16));
        } else if !pending {
            let mut time = end;
            for seq in 1..=plurality {
                if seq > 1 {
                    let next = time + TimeDelta::minutes(self.range(1, 15));
                    time = if next.date() == time.date() {
                        next
                    } else {
                        time
                    };
                }
                let male = self.child_male();
                let weight = if plurality > 1 {
                    self.range(1700, 3000)
                } else if gest_weeks < 37 {
                    self.range(1500, 2900)
                } else {
                    (3300.0 + 420.0 * self.normal()).clamp(2300.0, 4800.0) as i64
                };
                let weight = weight as u16;
                let surname = if self.chance(0.92) {
                    family_surname
                } else {
                    mother_surname
                };
                let addr = if household.is_some() {
                    None
                } else {
                    Some(self.w.persons[mother as usize].addr)
                };
                let person = self.person(male, time.date(), addr, Some(surname));
                let mut child = Child {
                    person,
                    seq,
                    time,
                    weight,
                    male,
                    certificate: None,
                    reg_row: None,
                    doses: Vec::new(),
                    vacc_child_id: false,
                    vacc_placeholder_name: false,
                };
                self.certificate(&mut child, place);
                if let (Some(hh), false) = (household, moved_out) {
                    self.register_child(
                        &mut child,
                        hh,
                        head,
                        mother,
                        father,
                        &mut sons,
                        &mut daughters,
                    );
                }
                self.vaccinate(&mut child, place, floating);
                children.push(child);
            }
        }
        let live = children.len();

        let booking = self.booking(end.date(), gest_weeks, floating, pending);
        let registration = self.registration_service(end.date(), gest_weeks, floating);
        let marriage = self.couple_marriage(mother, father, marriage_date, registration, floating);
        let claim = self.mother_insurance(mother, end.date(), floating);
        if self.chance(0.5) {
            self.insure(father, true);
        }
        self.w.pregnancies.push(Pregnancy {
            mother,
            father,
            mother_reg,
            floating,
            window,
            end,
            gest_weeks,
            plurality,
            stillbirth,
            place,
            institution,
            mode,
            order,
            children,
            booking,
            registration,
            marriage,
            claim,
            earlier: earlier_rows,
        });
        if window == Window::InPeriod { live } else { 0 }
    }

    fn normal(&mut self) -> f64 {
        // Box-Muller.
        let u1: f64 = self.rng.random::<f64>().max(1e-12);
        let u2: f64 = self.rng.random::<f64>();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// A local family for a pregnancy: the couple, maybe grandparents, in one household.
    fn family(
        &mut self,
        mother_birth: NaiveDate,
        father_birth: NaiveDate,
        marriage_date: NaiveDate,
        moved_out: bool,
    ) -> (u32, u32, u32, u32, Head) {
        let hh = self.household();
        let head = if moved_out {
            Head::Father
        } else {
            match self.rng.random::<f64>() {
                r if r < 0.78 => Head::Father,
                r if r < 0.83 => Head::Mother,
                _ => Head::Grandfather,
            }
        };
        let father_addr = if self.chance(0.95) {
            None
        } else {
            Some(self.external_addr())
        };
        let father = self.person(true, father_birth, father_addr, None);
        let mother_local = self.chance(0.3);
        let mother_addr = if mother_local || self.chance(0.8) {
            None
        } else {
            Some(self.external_addr())
        };
        let mother = self.person(false, mother_birth, mother_addr, None);
        let surname = self.w.persons[father as usize].surname;
        let mother_status = if moved_out {
            Status::MovedOut
        } else {
            Status::Active
        };
        let (mother_reason, mother_date) = if mother_local {
            ("出生", self.birth_reg_date(mother))
        } else {
            ("迁入", marriage_date + days(self.range(10, 120)))
        };
        let father_date = self.birth_reg_date(father);
        let mother_reg;
        match head {
            Head::Grandfather => {
                let gf_birth = father_birth - days(self.range(22 * 365, 32 * 365));
                let gf = self.person(true, gf_birth, None, Some(surname));
                let gm_birth = gf_birth + days(self.range(-300, 1500));
                let gm = self.person(false, gm_birth, None, None);
                let d = self.birth_reg_date(gf);
                self.reg(gf, hh, "户主", Status::Active, d, "出生", None, None);
                let d = gm_birth + days(self.range(20 * 365, 25 * 365));
                self.reg(gm, hh, "配偶", Status::Active, d, "迁入", None, None);
                let relation = if self.chance(0.6) { "长子" } else { "次子" };
                self.reg(
                    father,
                    hh,
                    relation,
                    Status::Active,
                    father_date,
                    "出生",
                    Some(gm),
                    Some(gf),
                );
                mother_reg = self.reg(
                    mother,
                    hh,
                    "儿媳",
                    mother_status,
                    mother_date,
                    mother_reason,
                    None,
                    None,
                );
            }
            Head::Father => {
                self.reg(
                    father,
                    hh,
                    "户主",
                    Status::Active,
                    father_date,
                    "出生",
                    None,
                    None,
                );
                mother_reg = self.reg(
                    mother,
                    hh,
                    "配偶",
                    mother_status,
                    mother_date,
                    mother_reason,
                    None,
                    None,
                );
                if self.chance(0.25) {
                    let gf_birth = father_birth - days(self.range(22 * 365, 32 * 365));
                    let gf = self.person(true, gf_birth, None, Some(surname));
                    let d = self.birth_reg_date(gf);
                    self.reg(gf, hh, "父亲", Status::Active, d, "出生", None, None);
                    let gm_birth = gf_birth + days(self.range(-300, 1500));
                    let gm = self.person(false, gm_birth, None, None);
                    let status = if self.chance(0.08) {
                        Status::Deceased
                    } else {
                        Status::Active
                    };
                    let d = gm_birth + days(self.range(20 * 365, 25 * 365));
                    self.reg(gm, hh, "母亲", status, d, "迁入", None, None);
                }
            }
            Head::Mother => {
                mother_reg = self.reg(
                    mother,
                    hh,
                    "户主",
                    mother_status,
                    mother_date,
                    mother_reason,
                    None,
                    None,
                );
                self.reg(
                    father,
                    hh,
                    "配偶",
                    Status::Active,
                    father_date,
                    "出生",
                    None,
                    None,
                );
            }
        }
        (mother, father, mother_reg, hh, head)
    }

    fn institution(&mut self, place: Place) -> u8 {
        match place {
            // Index 7 is the township health centre (home births are certified there).
            Place::Home => 7,
            _ => match self.rng.random::<f64>() {
                r if r < 0.50 => self.range(0, 4) as u8,
                r if r < 0.85 => self.range(5, 6) as u8,
                _ => 7,
            },
        }
    }

    fn certificate(&mut self, child: &mut Child, place: Place) {
        let (p, lo, hi) = match place {
            Place::Hospital => (0.985, 1, 5),
            Place::Home => (0.90, 15, 120),
            Place::Other => (0.95, 3, 30),
        };
        if !self.chance(p) {
            return;
        }
        let delay = if place == Place::Hospital {
            match self.rng.random::<f64>() {
                r if r < 0.70 => self.range(lo, hi),
                r if r < 0.98 => self.range(6, 40),
                _ => self.range(41, 120),
            }
        } else {
            self.range(lo, hi)
        };
        let issue = child.time.date() + days(delay);
        if issue <= self.cal.as_of {
            let reissue = self.chance(0.01);
            child.certificate = Some(Certificate { issue, reissue });
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn register_child(
        &mut self,
        child: &mut Child,
        hh: u32,
        head: Head,
        mother: u32,
        father: u32,
        sons: &mut u8,
        daughters: &mut u8,
    ) {
        let delay = match self.rng.random::<f64>() {
            r if r < 0.68 => self.range(5, 30),
            r if r < 0.88 => self.range(31, 90),
            r if r < 0.95 => self.range(91, 365),
            _ => return,
        };
        let date = child.time.date() + days(delay);
        if date > self.cal.as_of {
            return;
        }
        let relation = child_relation(head, child.male, sons, daughters);
        let blank = head != Head::Grandfather && self.chance(0.03);
        let row = self.reg(
            child.person,
            hh,
            relation,
            Status::Active,
            date,
            "出生",
            (!blank).then_some(mother),
            (!blank).then_some(father),
        );
        child.reg_row = Some(row);
    }

    fn vaccinate(&mut self, child: &mut Child, place: Place, floating: bool) {
        if !self.chance(if floating { 0.93 } else { 0.98 }) {
            return;
        }
        let born = child.time.date();
        let hepb1_delay = match self.rng.random::<f64>() {
            r if r < 0.82 => Some(0),
            r if r < 0.94 => Some(1),
            r if r < 0.975 => Some(self.range(2, 7)),
            _ => None,
        };
        let hepb1_delay = if place == Place::Home {
            hepb1_delay.map(|d| d + self.range(0, 3))
        } else {
            hepb1_delay
        };
        for (vaccine, dose, due) in SCHEDULE {
            let date = match (vaccine, dose) {
                (0, 1) => match hepb1_delay {
                    Some(d) => born + days(d),
                    None => continue,
                },
                (1, 1) => born + days(hepb1_delay.unwrap_or(0) + self.range(0, 1)),
                _ => {
                    let late = if self.chance(0.1) {
                        self.range(15, 45)
                    } else {
                        self.range(0, 14)
                    };
                    born + days(due + late)
                }
            };
            if date > self.cal.as_of {
                continue;
            }
            let at_birth_place = due == 0 && place != Place::Home;
            child.doses.push(Dose {
                vaccine,
                dose,
                date,
                at_birth_place,
            });
        }
        child.doses.sort_by_key(|d| (d.date, d.vaccine, d.dose));
        child.vacc_child_id = self.chance(0.6);
        child.vacc_placeholder_name = self.chance(0.15);
    }

    fn booking(
        &mut self,
        end: NaiveDate,
        gest_weeks: u8,
        floating: bool,
        pending: bool,
    ) -> Option<Booking> {
        if !self.chance(if floating { 0.80 } else { 0.95 }) {
            return None;
        }
        let lmp = end - days(i64::from(gest_weeks) * 7 + self.range(0, 6));
        let weeks = match self.rng.random::<f64>() {
            r if r < 0.72 => self.range(6, 12),
            r if r < 0.94 => self.range(13, 20),
            _ => self.range(21, 30),
        };
        let weeks = weeks.min(i64::from(gest_weeks) - 1);
        let date = lmp + days(weeks * 7 + self.range(0, 6));
        if date > self.cal.as_of || date > end {
            return None;
        }
        let visits = if pending {
            ((self.cal.as_of - date).num_days() / 28 + 1).clamp(1, 8) as u8
        } else {
            self.range(5, 13) as u8
        };
        Some(Booking {
            date,
            weeks: weeks as u8,
            visits,
            due: lmp + days(280),
            high_risk: self.chance(0.18),
            at_hospital: self.chance(0.4),
        })
    }

    fn registration_service(
        &mut self,
        end: NaiveDate,
        gest_weeks: u8,
        floating: bool,
    ) -> Option<NaiveDate> {
        if !self.chance(if floating { 0.5 } else { 0.86 }) {
            return None;
        }
        let lmp = end - days(i64::from(gest_weeks) * 7);
        let date = match self.rng.random::<f64>() {
            r if r < 0.80 => lmp + days(self.range(40, 200)),
            r if r < 0.95 => end + days(self.range(1, 90)),
            _ => end + days(self.range(91, 240)),
        };
        (date <= self.cal.as_of).then_some(date)
    }

    fn couple_marriage(
        &mut self,
        mother: u32,
        father: u32,
        date: NaiveDate,
        registration: Option<NaiveDate>,
        floating: bool,
    ) -> Option<u32> {
        let date = if floating {
            if !self.chance(0.15) {
                return None;
            }
            date
        } else {
            match self.rng.random::<f64>() {
                r if r < 0.88 => date,
                r if r < 0.92 => match registration {
                    Some(reg) => reg + days(self.range(30, 200)),
                    None => return None,
                },
                _ => return None,
            }
        };
        if date > self.cal.as_of {
            return None;
        }
        self.w.marriages.push(MarriageRec {
            man: father,
            woman: mother,
            divorce: false,
            date,
        });
        Some((self.w.marriages.len() - 1) as u32)
    }

    /// The mother's social-security row; returns it when it carries this birth's claim.
    fn mother_insurance(&mut self, mother: u32, end: NaiveDate, floating: bool) -> Option<u32> {
        let employee = self.chance(if floating { 0.25 } else { 0.40 });
        if !employee {
            if !floating && self.chance(0.35 / 0.60) {
                self.insure(mother, false);
            }
            return None;
        }
        let row = self.insure(mother, true)?;
        if !self.chance(0.75) {
            return None;
        }
        let claim = end + days(self.range(30, 150));
        if claim > self.cal.as_of {
            return None;
        }
        self.w.insured[row as usize].claim = Some(claim);
        Some(row)
    }

    /// Adds a social-security row for a person who has none yet.
    fn insure(&mut self, person: u32, employee: bool) -> Option<u32> {
        if self.w.persons[person as usize].insured {
            return None;
        }
        self.w.persons[person as usize].insured = true;
        let birth = self.w.persons[person as usize].birth;
        let scheme = if employee {
            if self.chance(0.85) {
                "职工基本医疗保险"
            } else {
                "职工基本养老保险"
            }
        } else {
            "城乡居民基本医疗保险"
        };
        let status = match self.rng.random::<f64>() {
            r if r < 0.90 => "参保缴费",
            r if r < 0.97 => "暂停缴费",
            _ => "终止参保",
        };
        let earliest = (birth + days(18 * 365))
            .max(NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or(birth))
            .min(self.cal.as_of);
        let start = self.date_between(earliest, self.cal.as_of);
        self.w.insured.push(Insured {
            person,
            scheme,
            status,
            start,
            claim: None,
        });
        Some((self.w.insured.len() - 1) as u32)
    }

    /// A household of the background population.
    fn background_household(&mut self) {
        let hh = self.household();
        let kind = self.rng.random::<f64>();
        if kind < 0.28 {
            // Young family.
            let w_age = self.range(22, 35);
            let kids = self.range(0, 2);
            self.couple_with_kids(hh, w_age, kids, 1);
        } else if kind < 0.60 {
            // Middle-aged family with school-age or grown children.
            let w_age = self.range(36, 52);
            let kids = self.range(1, 3);
            self.couple_with_kids(hh, w_age, kids, 5);
        } else if kind < 0.85 {
            // Elderly couple or widow(er).
            let m_birth = {
                let age = self.range(58, 88);
                self.born_aged(age)
            };
            let man = self.person(true, m_birth, None, None);
            let w_birth = m_birth + days(self.range(-300, 1800));
            let woman = self.person(false, w_birth, None, None);
            let d = self.birth_reg_date(man);
            self.reg(man, hh, "户主", Status::Active, d, "出生", None, None);
            let status = if self.chance(0.15) {
                Status::Deceased
            } else {
                Status::Active
            };
            let d = w_birth + days(self.range(20 * 365, 24 * 365));
            self.reg(woman, hh, "配偶", status, d, "迁入", None, None);
        } else if kind < 0.95 {
            // Single adult, sometimes divorced.
            let male = self.chance(0.55);
            let birth = {
                let age = self.range(20, 60);
                self.born_aged(age)
            };
            let p = self.person(male, birth, None, None);
            let d = self.birth_reg_date(p);
            let status = if self.chance(0.01) {
                Status::Cancelled
            } else {
                Status::Active
            };
            self.reg(p, hh, "户主", status, d, "出生", None, None);
            let age = (self.cal.as_of - birth).num_days() / 365;
            if age >= 25 && self.chance(0.15) {
                let ex_birth = birth + days(self.range(-1500, 1500));
                let addr = Some(self.external_addr());
                let ex = self.person(!male, ex_birth, addr, None);
                let married = birth + days(self.range(22 * 365, (age * 365).max(22 * 365 + 1)));
                let divorced = self.date_between(married, self.cal.as_of);
                let (man, woman) = if male { (p, ex) } else { (ex, p) };
                self.w.marriages.push(MarriageRec {
                    man,
                    woman,
                    divorce: false,
                    date: married,
                });
                self.w.marriages.push(MarriageRec {
                    man,
                    woman,
                    divorce: true,
                    date: divorced,
                });
            }
        } else {
            // Worker who moved in.
            let male = self.chance(0.6);
            let birth = {
                let age = self.range(20, 45);
                self.born_aged(age)
            };
            let addr = Some(self.external_addr());
            let p = self.person(male, birth, addr, None);
            let d = self.date_between(birth + days(18 * 365), self.cal.as_of);
            self.reg(p, hh, "户主", Status::Active, d, "迁入", None, None);
        }
    }

    /// A couple (woman aged `w_age`) with `kids` children at least `min_kid_age` years old.
    fn couple_with_kids(&mut self, hh: u32, w_age: i64, kids: i64, min_kid_age: i64) {
        let w_birth = self.born_aged(w_age);
        let m_birth = w_birth - days(self.range(-700, 2500));
        let man = self.person(true, m_birth, None, None);
        let w_addr = if self.chance(0.8) {
            None
        } else {
            Some(self.external_addr())
        };
        let woman = self.person(false, w_birth, w_addr, None);
        let surname = self.w.persons[man as usize].surname;
        let d = self.birth_reg_date(man);
        self.reg(man, hh, "户主", Status::Active, d, "出生", None, None);
        // Children: the oldest born when the woman was 21 to 30.
        let mut kid_births = Vec::new();
        let mut born = w_birth + days(self.range(21 * 365, 30 * 365));
        let latest = self.cal.start - days(92 + 365 * min_kid_age);
        for _ in 0..kids {
            if born > latest {
                break;
            }
            kid_births.push(born);
            born += days(self.range(500, 2500));
        }
        let marriage = kid_births
            .first()
            .map(|b| *b - days(self.range(300, 1100)))
            .unwrap_or_else(|| {
                w_birth + days(self.range(22 * 365, (w_age * 365).max(22 * 365 + 1)))
            })
            .min(self.cal.as_of);
        let d = marriage + days(self.range(10, 120));
        self.reg(woman, hh, "配偶", Status::Active, d, "迁入", None, None);
        if w_age <= 50 && self.chance(0.9) {
            self.w.marriages.push(MarriageRec {
                man,
                woman,
                divorce: false,
                date: marriage,
            });
        }
        let mut sons = 0;
        let mut daughters = 0;
        for b in kid_births {
            let male = self.child_male();
            let kid = self.person(male, b, None, Some(surname));
            let relation = child_relation(Head::Father, male, &mut sons, &mut daughters);
            let age = (self.cal.as_of - b).num_days() / 365;
            let status = if age >= 22 && self.chance(0.3) {
                Status::MovedOut
            } else if self.chance(0.005) {
                Status::Deceased
            } else {
                Status::Active
            };
            // Older records often lack the parents' IDs.
            let blank = self.chance(if age >= 16 { 0.4 } else { 0.1 });
            let d = self.birth_reg_date(kid);
            self.reg(
                kid,
                hh,
                relation,
                status,
                d,
                "出生",
                (!blank).then_some(woman),
                (!blank).then_some(man),
            );
        }
        if self.chance(0.2) {
            let gm_birth = m_birth - days(self.range(22 * 365, 32 * 365));
            let gm = self.person(false, gm_birth, None, None);
            let d = gm_birth + days(self.range(20 * 365, 25 * 365));
            self.reg(gm, hh, "母亲", Status::Active, d, "迁入", None, None);
        }
        // A few employed women claim maternity benefit for a birth outside this registry.
        if (22..=40).contains(&w_age)
            && self.chance(0.004)
            && let Some(row) = self.insure(woman, true)
        {
            let claim = self.date_between(self.cal.start, self.cal.as_of);
            self.w.insured[row as usize].claim = Some(claim);
        }
    }

    /// A pupil whose family is not in the local registry.
    fn floating_pupil(&mut self) {
        let age = self.range(6, 15);
        let birth = self.born_aged(age);
        let male = self.chance(0.52);
        let addr = Some(self.external_addr());
        let p = self.person(male, birth, addr, None);
        if let Some(s) = self.student_of(p) {
            self.w.students.push(s);
        }
    }

    /// Pupils among the registry's children and insured adults, after all households exist.
    fn pupils_and_insured(&mut self) {
        for i in 0..self.w.regs.len() {
            let row = &self.w.regs[i];
            if row.status != Status::Active {
                continue;
            }
            let person = row.person;
            let birth = self.w.persons[person as usize].birth;
            let age = (self.cal.as_of - birth).num_days() / 365;
            if (6..=18).contains(&age) {
                if self.chance(0.96)
                    && let Some(s) = self.student_of(person)
                {
                    self.w.students.push(s);
                }
            } else if (18..=60).contains(&age) && self.chance(0.45) {
                let employee = self.chance(0.55);
                self.insure(person, employee);
            }
        }
    }

    fn student_of(&mut self, person: u32) -> Option<Student> {
        let birth = self.w.persons[person as usize].birth;
        let as_of = self.cal.as_of;
        let school_year = if as_of.month() >= 9 {
            as_of.year()
        } else {
            as_of.year() - 1
        };
        // Age on 31 August of the school year's start.
        let cutoff = NaiveDate::from_ymd_opt(school_year, 8, 31)?;
        let mut age = school_year - birth.year();
        if birth.with_year(school_year).is_none_or(|b| b > cutoff) {
            age -= 1;
        }
        if !(6..=17).contains(&age) {
            return None;
        }
        const GRADES: [&str; 12] = [
            "一年级",
            "二年级",
            "三年级",
            "四年级",
            "五年级",
            "六年级",
            "七年级",
            "八年级",
            "九年级",
            "高一",
            "高二",
            "高三",
        ];
        let index = (age - 6) as usize;
        let (stage, stage_start) = match index {
            0..=5 => (0u8, 0),
            6..=8 => (1, 6),
            _ => (2, 9),
        };
        let start_year = school_year - (index as i32 - stage_start);
        let enrolment = NaiveDate::from_ymd_opt(start_year, 9, 1)?;
        let school = self.rng.random_range(0..2u8);
        Some(Student {
            person,
            stage,
            grade: GRADES[index],
            enrolment,
            school,
        })
    }
}

/// The relation label of a head's (or grandhead's) child, counting sons and daughters.
fn child_relation(head: Head, male: bool, sons: &mut u8, daughters: &mut u8) -> &'static str {
    const SONS: [&str; 5] = ["长子", "次子", "三子", "四子", "五子"];
    const DAUGHTERS: [&str; 5] = ["长女", "次女", "三女", "四女", "五女"];
    if head == Head::Grandfather {
        return if male { "孙子" } else { "孙女" };
    }
    if male {
        *sons += 1;
        SONS.get(usize::from(*sons) - 1).copied().unwrap_or("子")
    } else {
        *daughters += 1;
        DAUGHTERS
            .get(usize::from(*daughters) - 1)
            .copied()
            .unwrap_or("女")
    }
}

/// Hashes the `u64` keys of the uniqueness sets: a SplitMix64 finaliser, much faster than
/// SipHash, and the keys are not chosen by an adversary.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        let mut x = self.0;
        x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        x ^ (x >> 31)
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 ^= n;
    }
}

/// A set of ID bodies (as numbers).
pub(crate) type KeySet = HashSet<u64, std::hash::BuildHasherDefault<KeyHasher>>;

/// Makes the IDs of a county's villages unique, in village and person order: a sequence
/// already taken moves to the next free one of the same parity. Call once per batch, in
/// order; the sets carry over between batches.
pub(crate) fn assign_sequences(
    worlds: &mut [VillageWorld],
    county_seen: &mut KeySet,
    external_seen: &mut KeySet,
) {
    for world in worlds {
        for p in &mut world.persons {
            let seen = if p.external {
                &mut *external_seen
            } else {
                &mut *county_seen
            };
            let mut seq = p.seq;
            // 499 sequences per sex and day: a county never fills them.
            for _ in 0..500 {
                if seen.insert(ids::body_key(p.addr, p.birth, seq)) {
                    break;
                }
                seq = if seq + 2 > 999 {
                    if p.male { 1 } else { 2 }
                } else {
                    seq + 2
                };
            }
            p.seq = seq;
        }
    }
}

/// Writes out the IDs once the sequences are final.
pub(crate) fn build_ids(world: &mut VillageWorld) {
    for p in &mut world.persons {
        p.id = ids::build(p.addr, p.birth, p.seq);
    }
}
