//! Chinese names: weighted surnames, given-name characters by generation and sex, and the
//! one-character typos that data entry makes.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

/// Common surnames with weights in tenths of a percent of the population (rounded from the
/// 2020 census tables; the long tail is folded into the last entries).
static SURNAMES: &[(&str, u16)] = &[
    ("王", 71),
    ("李", 70),
    ("张", 68),
    ("刘", 54),
    ("陈", 46),
    ("杨", 31),
    ("黄", 23),
    ("赵", 23),
    ("吴", 20),
    ("周", 19),
    ("徐", 17),
    ("孙", 15),
    ("马", 15),
    ("朱", 14),
    ("胡", 13),
    ("郭", 12),
    ("何", 12),
    ("高", 11),
    ("林", 11),
    ("罗", 10),
    ("郑", 10),
    ("梁", 9),
    ("谢", 8),
    ("宋", 8),
    ("唐", 7),
    ("许", 7),
    ("韩", 7),
    ("冯", 7),
    ("邓", 7),
    ("曹", 7),
    ("彭", 6),
    ("曾", 6),
    ("肖", 6),
    ("田", 6),
    ("董", 6),
    ("袁", 5),
    ("潘", 5),
    ("于", 5),
    ("蒋", 5),
    ("蔡", 5),
    ("余", 5),
    ("杜", 5),
    ("叶", 5),
    ("程", 5),
    ("苏", 4),
    ("魏", 4),
    ("吕", 4),
    ("丁", 4),
    ("任", 4),
    ("沈", 4),
    ("姚", 4),
    ("卢", 4),
    ("姜", 4),
    ("崔", 4),
    ("钟", 3),
    ("谭", 3),
    ("陆", 3),
    ("汪", 3),
    ("范", 3),
    ("金", 3),
    ("石", 3),
    ("廖", 3),
    ("贾", 3),
    ("夏", 3),
    ("韦", 3),
    ("付", 3),
    ("方", 3),
    ("白", 3),
    ("邹", 3),
    ("孟", 3),
    ("熊", 3),
    ("秦", 3),
    ("邱", 3),
    ("江", 3),
    ("尹", 3),
    ("薛", 3),
    ("闫", 3),
    ("段", 3),
    ("雷", 2),
    ("侯", 2),
    ("龙", 2),
    ("史", 2),
    ("陶", 2),
    ("黎", 2),
    ("贺", 2),
    ("顾", 2),
    ("毛", 2),
    ("郝", 2),
    ("龚", 2),
    ("邵", 2),
    ("万", 2),
    ("钱", 2),
    ("严", 2),
    ("武", 2),
    ("戴", 2),
    ("莫", 1),
    ("孔", 1),
    ("汤", 1),
    ("欧阳", 1),
    ("司马", 1),
    ("诸葛", 1),
];

/// Given-name characters of people born before 1975.
static OLD_MALE: &[&str] = &[
    "建国", "建军", "国强", "志强", "卫东", "建华", "国平", "德明", "学文", "振华", "明", "军",
    "强", "华", "平", "勇", "刚", "林", "斌", "辉", "福", "贵", "成", "广", "德", "忠", "庆", "海",
    "春", "文", "玉", "永",
];
static OLD_FEMALE: &[&str] = &[
    "秀英", "桂英", "秀兰", "玉兰", "桂兰", "淑珍", "凤英", "玉梅", "秀珍", "桂芳", "兰", "英",
    "芳", "霞", "珍", "梅", "琴", "华", "荣", "红", "萍", "秀", "凤", "翠", "云", "莲", "玲",
];
/// Characters combined in pairs (or alone) for people born from 1975.
static MID_MALE: &[&str] = &[
    "伟", "强", "磊", "军", "勇", "杰", "涛", "斌", "超", "明", "刚", "平", "辉", "鹏", "华", "飞",
    "鑫", "波", "宇", "浩", "凯", "健", "俊", "帆", "帅", "旭", "宁", "龙", "林", "阳", "亮", "东",
    "峰", "雷", "晨", "新", "志", "海", "文", "兵",
];
static MID_FEMALE: &[&str] = &[
    "芳", "娜", "敏", "静", "丽", "艳", "娟", "霞", "燕", "玲", "萍", "红", "婷", "雪", "琳", "慧",
    "莉", "倩", "颖", "欣", "晶", "洁", "丹", "蕾", "璐", "琴", "云", "薇", "佳", "梅", "媛", "月",
    "悦", "露", "楠", "雯",
];
/// Characters of children born from 2010.
static NEW_MALE: &[&str] = &[
    "子", "睿", "泽", "宇", "浩", "然", "一", "诺", "梓", "豪", "铭", "航", "皓", "天", "佑", "锦",
    "程", "轩", "博", "文", "辰", "逸", "煜", "晨", "昊", "俊", "熙", "瑞", "安", "沐", "宸", "奕",
    "翔", "霖", "凯", "嘉", "言", "哲", "明", "阳",
];
static NEW_FEMALE: &[&str] = &[
    "梓", "涵", "诗", "琪", "可", "馨", "悦", "彤", "妍", "一", "诺", "思", "雨", "欣", "萱", "怡",
    "佳", "语", "若", "汐", "晴", "瑶", "桐", "依", "希", "沫", "冉", "安", "芯", "钰", "菲", "雅",
    "婉", "清", "朵", "甜", "心", "星", "乐", "宁",
];

/// Pairs of characters that are read alike and confused in data entry.
static HOMOPHONES: &[(&str, &str)] = &[
    ("丽", "莉"),
    ("婷", "亭"),
    ("敏", "民"),
    ("静", "晶"),
    ("娜", "那"),
    ("伟", "玮"),
    ("杰", "洁"),
    ("磊", "垒"),
    ("涛", "滔"),
    ("斌", "彬"),
    ("明", "铭"),
    ("华", "桦"),
    ("辉", "晖"),
    ("鹏", "朋"),
    ("飞", "菲"),
    ("宇", "雨"),
    ("浩", "昊"),
    ("俊", "骏"),
    ("琳", "林"),
    ("慧", "惠"),
    ("欣", "馨"),
    ("佳", "嘉"),
    ("梓", "子"),
    ("涵", "含"),
    ("琪", "淇"),
    ("萱", "轩"),
    ("怡", "仪"),
    ("睿", "瑞"),
    ("泽", "则"),
    ("晨", "辰"),
    ("英", "瑛"),
    ("兰", "岚"),
    ("芳", "方"),
    ("红", "虹"),
    ("玲", "灵"),
    ("燕", "艳"),
    ("霞", "侠"),
    ("强", "墙"),
    ("军", "君"),
    ("勇", "永"),
];

const SURNAME_TOTAL: u32 = {
    let mut total = 0u32;
    let mut i = 0;
    while i < SURNAMES.len() {
        total += SURNAMES[i].1 as u32;
        i += 1;
    }
    total
};

/// A surname drawn by its weight.
pub(crate) fn surname(rng: &mut ChaCha8Rng) -> &'static str {
    let mut pick = rng.random_range(0..SURNAME_TOTAL);
    for (name, weight) in SURNAMES {
        let w = u32::from(*weight);
        if pick < w {
            return name;
        }
        pick -= w;
    }
    SURNAMES[0].0
}

/// A given name for a person of this sex born in this year.
pub(crate) fn given_name(rng: &mut ChaCha8Rng, male: bool, birth_year: i32) -> String {
    let (list, pairs) = match (birth_year, male) {
        (..1975, true) => (OLD_MALE, false),
        (..1975, false) => (OLD_FEMALE, false),
        (..2010, true) => (MID_MALE, true),
        (..2010, false) => (MID_FEMALE, true),
        (_, true) => (NEW_MALE, true),
        (_, false) => (NEW_FEMALE, true),
    };
    let first = list[rng.random_range(0..list.len())];
    // Old lists hold whole given names; newer ones single characters, mostly paired.
    if !pairs || rng.random_bool(0.25) {
        return first.to_owned();
    }
    let mut second = list[rng.random_range(0..list.len())];
    if second == first {
        second = list[(list.iter().position(|c| *c == first).unwrap_or(0) + 1) % list.len()];
    }
    let mut out = String::with_capacity(first.len() + second.len());
    out.push_str(first);
    out.push_str(second);
    out
}

/// A full name: surname and given name.
pub(crate) fn full_name(
    rng: &mut ChaCha8Rng,
    surname: &str,
    male: bool,
    birth_year: i32,
) -> String {
    let given = given_name(rng, male, birth_year);
    let mut out = String::with_capacity(surname.len() + given.len());
    out.push_str(surname);
    out.push_str(&given);
    out
}

/// The name with one character of the given name replaced: by a homophone where one is
/// known, else by another character of the same era's list. `None` for a name too short to
/// damage.
pub(crate) fn typo(rng: &mut ChaCha8Rng, name: &str) -> Option<String> {
    let chars: Vec<char> = name.chars().collect();
    if chars.len() < 2 {
        return None;
    }
    // Never the first character: surnames are copied from the parents and rarely mistyped.
    let at = rng.random_range(1..chars.len());
    let c = chars[at];
    let mut buf = [0u8; 4];
    let c_str: &str = c.encode_utf8(&mut buf);
    let replacement = HOMOPHONES
        .iter()
        .find_map(|(a, b)| {
            if *a == c_str {
                Some(*b)
            } else if *b == c_str {
                Some(*a)
            } else {
                None
            }
        })
        .unwrap_or_else(|| {
            let pool = MID_FEMALE;
            let pick = pool[rng.random_range(0..pool.len())];
            match (pick == c_str, c_str == "文") {
                (false, _) => pick,
                (true, false) => "文",
                (true, true) => "武",
            }
        });
    let mut out = String::with_capacity(name.len() + 3);
    for (i, ch) in chars.iter().enumerate() {
        if i == at {
            out.push_str(replacement);
        } else {
            out.push(*ch);
        }
    }
    (out != name).then_some(out)
}
