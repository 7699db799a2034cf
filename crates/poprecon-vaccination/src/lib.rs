//! `vaccination` (预防接种): one row per dose given.
//!
//! [`Vaccination`] declares the schema, the usual headers, the vaccine vocabulary (Chinese
//! product names mapped to HepB, BCG, IPV, OPV, DTaP, …) and the source's own checks.

use poprecon_ingest::{CodeMap, FieldKind as K, FieldSpec as F, RowCheck, Source, aliases};

/// Vaccine names as immunisation systems write them, mapped to short codes.
pub static VACCINE: CodeMap = CodeMap {
    name: "vaccine",
    entries: &[
        ("乙肝疫苗", "HepB"),
        ("乙肝", "HepB"),
        ("乙型肝炎疫苗", "HepB"),
        ("重组乙型肝炎疫苗", "HepB"),
        ("重组乙型肝炎疫苗(酿酒酵母)", "HepB"),
        ("重组乙型肝炎疫苗(CHO细胞)", "HepB"),
        ("HepB", "HepB"),
        ("卡介苗", "BCG"),
        ("BCG", "BCG"),
        ("脊灰灭活疫苗", "IPV"),
        ("脊髓灰质炎灭活疫苗", "IPV"),
        ("IPV", "IPV"),
        ("脊灰减毒活疫苗", "OPV"),
        ("二价脊灰减毒活疫苗", "OPV"),
        ("bOPV", "OPV"),
        ("OPV", "OPV"),
        ("百白破疫苗", "DTaP"),
        ("百白破", "DTaP"),
        ("吸附无细胞百白破联合疫苗", "DTaP"),
        ("DTaP", "DTaP"),
        ("白破疫苗", "DT"),
        ("DT", "DT"),
        ("麻腮风疫苗", "MMR"),
        ("麻腮风", "MMR"),
        ("MMR", "MMR"),
        ("乙脑减毒活疫苗", "JE"),
        ("乙脑疫苗", "JE"),
        ("JE-L", "JE"),
        ("JE", "JE"),
        ("A群流脑多糖疫苗", "MenA"),
        ("MPSV-A", "MenA"),
        ("A群C群流脑多糖疫苗", "MenAC"),
        ("MPSV-AC", "MenAC"),
        ("甲肝减毒活疫苗", "HepA"),
        ("甲肝疫苗", "HepA"),
        ("HepA", "HepA"),
        ("HepA-L", "HepA"),
        // The rest of the national immunisation programme (国家免疫规划疫苗儿童免疫程序)
        // and the usual non-programme vaccines, by product name and abbreviation.
        ("乙肝疫苗(10μg)", "HepB"),
        ("乙肝疫苗(20μg)", "HepB"),
        ("HepB-CHO", "HepB"),
        ("HepB-SC", "HepB"),
        ("脊灰疫苗", "IPV"),
        ("Sabin株脊灰灭活疫苗", "IPV"),
        ("sIPV", "IPV"),
        ("脊灰减毒活疫苗(bOPV)", "OPV"),
        ("白破", "DT"),
        ("吸附白喉破伤风联合疫苗", "DT"),
        ("麻腮风联合减毒活疫苗", "MMR"),
        ("麻疹腮腺炎风疹联合减毒活疫苗", "MMR"),
        ("麻风疫苗", "MR"),
        ("麻疹风疹联合减毒活疫苗", "MR"),
        ("MR", "MR"),
        ("麻疹疫苗", "MV"),
        ("麻疹减毒活疫苗", "MV"),
        ("MV", "MV"),
        ("乙脑灭活疫苗", "JE"),
        ("乙型脑炎减毒活疫苗", "JE"),
        ("乙型脑炎灭活疫苗", "JE"),
        ("JE-I", "JE"),
        ("A群流脑疫苗", "MenA"),
        ("A群脑膜炎球菌多糖疫苗", "MenA"),
        ("A群C群流脑疫苗", "MenAC"),
        ("A群C群脑膜炎球菌多糖疫苗", "MenAC"),
        ("甲肝灭活疫苗", "HepA"),
        ("甲型肝炎减毒活疫苗", "HepA"),
        ("甲型肝炎灭活疫苗", "HepA"),
        ("HepA-I", "HepA"),
        ("b型流感嗜血杆菌结合疫苗", "Hib"),
        ("Hib疫苗", "Hib"),
        ("Hib", "Hib"),
        ("五联疫苗", "DTaP-IPV/Hib"),
        ("百白破-脊灰-Hib联合疫苗", "DTaP-IPV/Hib"),
        ("DTaP-IPV/Hib", "DTaP-IPV/Hib"),
        ("13价肺炎球菌多糖结合疫苗", "PCV13"),
        ("13价肺炎疫苗", "PCV13"),
        ("PCV13", "PCV13"),
        ("23价肺炎球菌多糖疫苗", "PPV23"),
        ("PPV23", "PPV23"),
        ("水痘疫苗", "VarV"),
        ("水痘减毒活疫苗", "VarV"),
        ("VarV", "VarV"),
        ("肠道病毒71型灭活疫苗", "EV71"),
        ("EV71疫苗", "EV71"),
        ("手足口疫苗", "EV71"),
        ("EV71", "EV71"),
        ("轮状病毒疫苗", "RV"),
        ("口服轮状病毒活疫苗", "RV"),
        ("RV", "RV"),
        ("流感疫苗", "Flu"),
        ("流感病毒裂解疫苗", "Flu"),
        ("Flu", "Flu"),
        ("HPV疫苗", "HPV"),
        ("人乳头瘤病毒疫苗", "HPV"),
        ("HPV", "HPV"),
        ("狂犬病疫苗", "Rabies"),
        ("人用狂犬病疫苗", "Rabies"),
        ("Rabies", "Rabies"),
        ("双价肾综合征出血热灭活疫苗", "HFRS"),
        ("出血热疫苗", "HFRS"),
        ("HFRS", "HFRS"),
        ("钩体疫苗", "Lep"),
        ("钩端螺旋体疫苗", "Lep"),
        ("炭疽减毒活疫苗", "Anthrax"),
        ("戊肝疫苗", "HepE"),
        ("戊型肝炎疫苗", "HepE"),
        ("HepE", "HepE"),
    ],
};

static FIELDS: &[F] = &[
    F::new("child_code", "儿童编码", K::Text)
        .required()
        .aliases(&["儿童编码", "儿童编号", "接种证号", "受种者编码"]),
    F::new("child_id", "儿童身份证号", K::ResidentId).aliases(&["儿童身份证号", "受种者身份证号"]),
    F::new("child_name", "儿童姓名", K::Name).aliases(&["儿童姓名", "受种者姓名", "姓名"]),
    F::new("child_sex", "性别", K::Sex).aliases(&["性别", "儿童性别"]),
    F::new("birth_date", "出生日期", K::Date)
        .required()
        .aliases(&["出生日期", "儿童出生日期"]),
    F::new("mother_id", "母亲身份证号", K::ResidentId)
        .aliases(&["母亲身份证号", "母亲身份证件号码"]),
    F::new("mother_name", "母亲姓名", K::Name).aliases(&["母亲姓名"]),
    F::new("vaccine", "疫苗名称", K::Code(&VACCINE))
        .required()
        .aliases(&["疫苗名称", "疫苗", "疫苗种类"]),
    F::new("dose", "剂次", K::Int { min: 1, max: 6 })
        .required()
        .aliases(&["剂次", "针次", "接种剂次"]),
    F::new("vaccination_date", "接种日期", K::Date)
        .required()
        .aliases(&["接种日期", "接种时间"]),
    F::new("institution", "接种单位", K::Text).aliases(&["接种单位", "接种门诊", "接种机构"]),
    F::new("residence_village", "现居住地", K::Village).aliases(aliases::RESIDENCE_VILLAGE),
];

/// The vaccination source.
#[derive(Debug, Clone, Copy, Default)]
pub struct Vaccination;

impl Source for Vaccination {
    fn id(&self) -> &'static str {
        "vaccination"
    }
    fn label_zh(&self) -> &'static str {
        "预防接种"
    }
    fn fields(&self) -> &'static [F] {
        FIELDS
    }
    fn key_field(&self) -> &'static str {
        "child_code"
    }
    // What `check_row` reads, flags and clears.
    fn check_row_fields(&self) -> Option<&'static [&'static str]> {
        Some(&["birth_date", "vaccination_date"])
    }
    fn check_row(&self, row: &mut RowCheck<'_>) {
        // A dose before birth is a data-entry error; the row stays, the date is not used.
        if let (Some(born), Some(given)) = (row.date("birth_date"), row.date("vaccination_date"))
            && given < born
        {
            row.flag("vaccination_date", "before_birth");
            row.clear("vaccination_date");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vaccine_names_map_to_codes() {
        assert_eq!(VACCINE.lookup("乙肝疫苗"), Some("HepB"));
        assert_eq!(VACCINE.lookup("卡介苗"), Some("BCG"));
        assert_eq!(VACCINE.lookup("hepb"), Some("HepB"));
        assert_eq!(VACCINE.lookup("bopv"), Some("OPV"));
        assert_eq!(VACCINE.lookup("新冠疫苗"), None);
    }
}
