use std::borrow::Cow;

use chrono::{NaiveDate, NaiveDateTime};
use proptest::prelude::*;

use crate::*;

fn id(raw: &str) -> ResidentId {
    ResidentId::parse(raw).unwrap_or_else(|damage| panic!("{raw:?} should be valid: {damage}"))
}

fn damage(raw: &str) -> IdDamage {
    ResidentId::parse(raw).expect_err(&format!("{raw:?} should be invalid"))
}

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn ymd_hms(y: i32, m: u32, d: u32, h: u32, mi: u32, s: u32) -> NaiveDateTime {
    ymd(y, m, d).and_hms_opt(h, mi, s).unwrap()
}

// ---- id ----

#[test]
fn check_character_golden_vectors() {
    assert_eq!(check_character("34030220160101001"), Some('9'));
    assert_eq!(check_character("11010519491231002"), Some('X'));
    assert_eq!(check_character("44052418800101001"), Some('4'));
    assert_eq!(check_character("3403022016010100"), None);
    assert_eq!(check_character("3403022016010100１"), None);
    assert_eq!(check_character("3403022016010100X"), None);
}

#[test]
fn valid_ids_parse_with_their_fields() {
    let a = id("340302201601010019");
    assert_eq!(a.as_str(), "340302201601010019");
    assert_eq!(a.address_code(), "340302");
    assert_eq!(a.birth_date(), ymd(2016, 1, 1));
    assert_eq!(a.sex(), Sex::Male);
    assert_eq!(a.kind(), IdKind::Mainland);

    let b = id("11010519491231002X");
    assert_eq!(b.birth_date(), ymd(1949, 12, 31));
    assert_eq!(b.sex(), Sex::Female);

    let old = id("440524188001010014");
    assert_eq!(old.birth_date(), ymd(1880, 1, 1));
    assert_eq!(old.sex(), Sex::Male);

    assert_eq!(ResidentId::from_body("34030220160101001"), Some(a.clone()));
    assert_eq!("340302201601010019".parse::<ResidentId>(), Ok(a));
}

#[test]
fn legacy_15_digit_ids_are_upgraded() {
    let upgraded = id("340302860101123");
    assert_eq!(upgraded.as_str(), "340302198601011236");
    assert_eq!(upgraded.birth_date(), ymd(1986, 1, 1));
    assert_eq!(upgraded.sex(), Sex::Male);
    // A spreadsheet's float holds 15 digits exactly.
    assert_eq!(id("340302860101123.0"), upgraded);
    assert_eq!(damage("340302860230123"), IdDamage::BirthDate);
    assert_eq!(damage("34030286010112A"), IdDamage::Characters);
}

#[test]
fn id_kinds() {
    for (address, kind) in [
        ("810000", IdKind::HongKongMacauTaiwan),
        ("820000", IdKind::HongKongMacauTaiwan),
        ("830000", IdKind::HongKongMacauTaiwan),
        ("932000", IdKind::ForeignPermanent),
        ("110105", IdKind::Mainland),
    ] {
        let built = ResidentId::from_body(&format!("{address}19900101123")).unwrap();
        let parsed = id(built.as_str());
        assert_eq!(parsed.kind(), kind, "{address}");
        assert_eq!(parsed.address_code(), address);
    }
}

#[test]
fn from_body_rejects_bad_bodies() {
    assert_eq!(ResidentId::from_body("3403022016010100"), None);
    assert_eq!(ResidentId::from_body("3403022016010100a"), None);
    assert_eq!(ResidentId::from_body("34030220250230001"), None);
}

#[test]
fn ids_are_normalised() {
    let expected = id("340302201601010019");
    for raw in [
        "３４０３０２２０１６０１０１００１９",
        " 340302201601010019\t",
        "'340302201601010019",
        "＇340302201601010019",
        "340302 20160101 0019",
        "340302-20160101-0019",
        "340302\u{3000}20160101\u{200B}0019",
    ] {
        assert_eq!(id(raw), expected, "{raw:?}");
    }
    let with_x = id("11010519491231002X");
    for raw in [
        "11010519491231002x",
        "11010519491231002Ｘ",
        "11010519491231002ｘ",
    ] {
        assert_eq!(id(raw), with_x, "{raw:?}");
    }
}

#[test]
fn normalize_id_borrows_clean_ascii() {
    assert!(matches!(
        normalize_id("340302201601010019"),
        Cow::Borrowed("340302201601010019")
    ));
    assert!(matches!(
        normalize_id("  340302201601010019 "),
        Cow::Borrowed("340302201601010019")
    ));
    assert_eq!(normalize_id("'1101-0519 491231002x"), "11010519491231002X");
    assert_eq!(normalize_id("  ' "), "");
}

#[test]
fn id_damage_is_named() {
    let cases = [
        ("", IdDamage::Empty),
        (" '- ", IdDamage::Empty),
        ("3.40302E+17", IdDamage::ExcelScientific),
        ("3.40302e17", IdDamage::ExcelScientific),
        ("340302201601010000.0", IdDamage::ExcelScientific),
        ("340302201601010019.0", IdDamage::ExcelScientific),
        // What a spreadsheet keeps of `340302201601012345`.
        ("340302201601012000", IdDamage::ExcelTrailingZeros),
        ("11010519491231000X", IdDamage::CheckDigit),
        // One digit substituted (sequence 001 -> 007).
        ("340302201601010079", IdDamage::CheckDigit),
        // Adjacent digits transposed (…0019 -> …0109).
        ("340302201601010109", IdDamage::CheckDigit),
        ("34030220160101001", IdDamage::Length),
        ("3403022016010100199", IdDamage::Length),
        ("340302201601O10019", IdDamage::Characters),
        ("3403022016010100X9", IdDamage::Characters),
        ("34030220160101001九", IdDamage::Characters),
        ("3403022016010100一九", IdDamage::Characters),
        ("340302201601010一九", IdDamage::Length),
        ("3.40302E+", IdDamage::Length),
    ];
    for (raw, expected) in cases {
        assert_eq!(damage(raw), expected, "{raw:?}");
    }
    // One truncated ID in 11 passes its check by chance and cannot be told from a real one:
    // `340302201601010019` loses its last digits to `340302201601010000`, which is valid.
    assert_eq!(id("340302201601010000").birth_date(), ymd(2016, 1, 1));
    for date in ["20250230", "20251301", "20250100", "19000229"] {
        let body = format!("340302{date}001");
        let raw = format!("{body}{}", check_character(&body).unwrap());
        assert_eq!(damage(&raw), IdDamage::BirthDate, "{raw}");
    }
}

#[test]
fn id_damage_codes_are_distinct_snake_case() {
    let codes: Vec<&str> = IdDamage::ALL.iter().map(|d| d.code()).collect();
    assert_eq!(
        codes,
        [
            "empty",
            "excel_scientific",
            "length",
            "characters",
            "birth_date",
            "excel_trailing_zeros",
            "check_digit"
        ]
    );
}

#[test]
fn ids_are_masked_in_display_and_debug() {
    let a = id("340302201601010019");
    assert_eq!(a.to_string(), "340302********0019");
    assert_eq!(format!("{a:?}"), "ResidentId(340302********0019)");
    assert!(!format!("{:?}", Some(&a)).contains("20160101"));
}

#[test]
fn error_messages_are_lowercase_without_period() {
    let messages = IdDamage::ALL
        .iter()
        .map(ToString::to_string)
        .chain(
            [
                VillageCodeError::Empty,
                VillageCodeError::Length,
                VillageCodeError::Characters,
            ]
            .iter()
            .map(ToString::to_string),
        )
        .chain(
            [
                DateError::Empty,
                DateError::Impossible,
                DateError::Unrecognised,
            ]
            .iter()
            .map(ToString::to_string),
        )
        .chain(
            [CertificateError::Empty, CertificateError::Format]
                .iter()
                .map(ToString::to_string),
        );
    for message in messages {
        assert!(!message.ends_with('.'), "{message}");
        assert!(message.starts_with(char::is_lowercase), "{message}");
    }
}

// ---- village ----

#[test]
fn village_codes() {
    let code = VillageCode::parse("340302001001").unwrap();
    assert_eq!(code.as_str(), "340302001001");
    assert_eq!(code.province(), "34");
    assert_eq!(code.city(), "3403");
    assert_eq!(code.county(), "340302");
    assert_eq!(code.township(), "340302001");
    assert_eq!(code.to_string(), "340302001001");
    for raw in [
        " 340302001001 ",
        "'340302001001",
        "３４０３０２００１００１",
        "340302001001.0",
        "340302001001.",
    ] {
        assert_eq!(VillageCode::parse(raw).as_ref(), Ok(&code), "{raw:?}");
    }
    let cases = [
        ("", VillageCodeError::Empty),
        (" ' ", VillageCodeError::Empty),
        ("34030200100", VillageCodeError::Length),
        ("3403020010011", VillageCodeError::Length),
        ("340302001001.5", VillageCodeError::Length),
        ("34030200100A", VillageCodeError::Characters),
        ("3403020010 1", VillageCodeError::Characters),
        ("34030200100一", VillageCodeError::Characters),
    ];
    for (raw, expected) in cases {
        assert_eq!(VillageCode::parse(raw), Err(expected), "{raw:?}");
    }
    assert_eq!(VillageCodeError::Characters.code(), "characters");
}

// ---- sex ----

#[test]
fn sex_parsing() {
    let cases = [
        ("0", Some(Sex::Unknown)),
        ("1", Some(Sex::Male)),
        ("2", Some(Sex::Female)),
        ("9", Some(Sex::Unspecified)),
        ("１", Some(Sex::Male)),
        (" 男 ", Some(Sex::Male)),
        ("女", Some(Sex::Female)),
        ("男性", Some(Sex::Male)),
        ("女性", Some(Sex::Female)),
        ("M", Some(Sex::Male)),
        ("f", Some(Sex::Female)),
        ("Ｆ", Some(Sex::Female)),
        ("MALE", Some(Sex::Male)),
        ("Female", Some(Sex::Female)),
        ("未知", Some(Sex::Unknown)),
        ("未说明", Some(Sex::Unspecified)),
        ("", None),
        (" ", None),
        ("3", None),
        ("10", None),
        ("x", None),
        ("男女", None),
    ];
    for (raw, expected) in cases {
        assert_eq!(Sex::parse(raw), expected, "{raw:?}");
    }
}

#[test]
fn sex_codes_round_trip() {
    for sex in [Sex::Unknown, Sex::Male, Sex::Female, Sex::Unspecified] {
        assert_eq!(Sex::from_code(sex.code()), Some(sex));
    }
    assert_eq!(Sex::Unspecified.code(), 9);
    assert_eq!(Sex::from_code(3), None);
    assert_eq!(Sex::from_code(-1), None);
}

// ---- date ----

#[test]
fn dates_in_every_format() {
    let date = DateValue::Date(ymd(2025, 3, 4));
    for raw in [
        "2025-03-04",
        "2025-3-4",
        "2025/3/4",
        "2025/03/04",
        "2025.3.4",
        "20250304",
        "2025年3月4日",
        "2025年03月04日",
        " 2025-03-04 ",
        "２０２５－０３－０４",
        "２０２５年３月４日",
        "\u{3000}2025/3/4\u{3000}",
    ] {
        assert_eq!(parse_date(raw), Ok(date), "{raw:?}");
    }
}

#[test]
fn date_times_in_every_format() {
    let minute = DateValue::DateTime(ymd_hms(2025, 3, 4, 10, 20, 0));
    let second = DateValue::DateTime(ymd_hms(2025, 3, 4, 10, 20, 30));
    let hour = DateValue::DateTime(ymd_hms(2025, 3, 4, 10, 0, 0));
    let cases = [
        ("2025-03-04 10:20", minute),
        ("2025-03-04 10:20:30", second),
        ("2025-03-04T10:20:30", second),
        ("2025/3/4 10:20", minute),
        ("2025.3.4  10:20:30", second),
        ("20250304 10:20", minute),
        ("20250304T10:20:30", second),
        ("20250304102030", second),
        ("2025年3月4日 10时20分", minute),
        ("2025年3月4日10时20分30秒", second),
        ("2025年3月4日10时", hour),
        ("2025-03-04 10时20分", minute),
        ("2025-03-04 10时", hour),
        (
            "2025-03-04 9:05",
            DateValue::DateTime(ymd_hms(2025, 3, 4, 9, 5, 0)),
        ),
        ("２０２５－０３－０４　１０：２０", minute),
    ];
    for (raw, expected) in cases {
        assert_eq!(parse_date(raw), Ok(expected), "{raw:?}");
    }
    let fractional = parse_date("2025-03-04 10:20:30.250").unwrap();
    assert_eq!(
        fractional.datetime(),
        ymd(2025, 3, 4).and_hms_milli_opt(10, 20, 30, 250)
    );
    assert_eq!(fractional.date(), ymd(2025, 3, 4));
    assert_eq!(DateValue::Date(ymd(2025, 3, 4)).datetime(), None);
}

#[test]
fn impossible_and_unrecognised_dates() {
    let cases = [
        ("", DateError::Empty),
        ("  \u{3000}", DateError::Empty),
        ("20250230", DateError::Impossible),
        ("2025-13-01", DateError::Impossible),
        ("2025-02-29", DateError::Impossible),
        ("2025/4/31", DateError::Impossible),
        ("2025年0月1日", DateError::Impossible),
        ("2025-03-04 25:00", DateError::Impossible),
        ("2025-03-04 24:00", DateError::Impossible),
        ("2025-03-04 10:60", DateError::Impossible),
        ("2025-03-04 10:20:60", DateError::Impossible),
        ("2025年3月4日 24时", DateError::Impossible),
        ("20250304250000", DateError::Impossible),
        ("2025-03", DateError::Unrecognised),
        ("2025-03/04", DateError::Unrecognised),
        ("2025-003-04", DateError::Unrecognised),
        ("25-03-04", DateError::Unrecognised),
        ("2025304", DateError::Unrecognised),
        ("2025年3月4", DateError::Unrecognised),
        ("2025-03-0410:20", DateError::Unrecognised),
        ("2025-03-04 10", DateError::Unrecognised),
        ("2025-03-04 10:20 PM", DateError::Unrecognised),
        ("2025-03-04 10时20", DateError::Unrecognised),
        ("2025-03-04 10:20:30.", DateError::Unrecognised),
        ("2025-03-04Z", DateError::Unrecognised),
        ("45658", DateError::Unrecognised),
        ("March 4, 2025", DateError::Unrecognised),
    ];
    for (raw, expected) in cases {
        assert_eq!(parse_date(raw), Err(expected), "{raw:?}");
    }
    assert_eq!(DateError::Impossible.code(), "impossible_date");
    assert_eq!(DateError::Unrecognised.code(), "unrecognised_date");
}

#[test]
fn excel_serials() {
    let midnight = |y, m, d| Some(ymd_hms(y, m, d, 0, 0, 0));
    assert_eq!(excel_serial_to_datetime(1.0), midnight(1900, 1, 1));
    assert_eq!(excel_serial_to_datetime(59.0), midnight(1900, 2, 28));
    // Serial 60 is Excel's fictitious 1900-02-29.
    assert_eq!(excel_serial_to_datetime(60.0), None);
    assert_eq!(excel_serial_to_datetime(60.5), None);
    assert_eq!(excel_serial_to_datetime(61.0), midnight(1900, 3, 1));
    assert_eq!(excel_serial_to_datetime(45658.0), midnight(2025, 1, 1));
    assert_eq!(
        excel_serial_to_datetime(45658.5),
        Some(ymd_hms(2025, 1, 1, 12, 0, 0))
    );
    assert_eq!(
        excel_serial_to_datetime(45658.0 + (10.0 * 3600.0 + 20.0 * 60.0 + 30.0) / 86_400.0),
        Some(ymd_hms(2025, 1, 1, 10, 20, 30))
    );
    // Rounding to the second carries into the next day.
    assert_eq!(
        excel_serial_to_datetime(45658.0 + 86_399.6 / 86_400.0),
        midnight(2025, 1, 2)
    );
    assert_eq!(
        excel_serial_to_datetime(2_958_465.0),
        midnight(9999, 12, 31)
    );
    for bad in [0.0, 0.25, -1.0, f64::NAN, f64::INFINITY, 2_958_466.0, 1e300] {
        assert_eq!(excel_serial_to_datetime(bad), None, "{bad}");
    }
}

// ---- certificate ----

#[test]
fn certificate_numbers() {
    let expected = CertificateNo::parse("O340123456").unwrap();
    assert_eq!(expected.as_str(), "O340123456");
    for raw in [" O340123456 ", "o340123456", "Ｏ３４０１２３４５６"] {
        assert_eq!(CertificateNo::parse(raw).as_ref(), Ok(&expected), "{raw:?}");
    }
    assert_eq!(format!("{expected:?}"), "CertificateNo(O34*****56)");
    let cases = [
        ("", CertificateError::Empty),
        ("  ", CertificateError::Empty),
        ("O34012345", CertificateError::Format),
        ("O3401234567", CertificateError::Format),
        ("0340123456", CertificateError::Format),
        ("OO40123456", CertificateError::Format),
        ("甲340123456", CertificateError::Format),
    ];
    for (raw, error) in cases {
        assert_eq!(CertificateNo::parse(raw), Err(error), "{raw:?}");
    }
    assert_eq!(CertificateError::Format.code(), "certificate_format");
}

// ---- name ----

#[test]
fn names() {
    let cases = [
        ("张三", Some("张三")),
        ("  张三\t", Some("张三")),
        ("张\u{3000}三", Some("张 三")),
        ("张 \u{3000}  三", Some("张 三")),
        ("ＡＢＣ１２", Some("ABC12")),
        ("阿卜杜·热合曼", Some("阿卜杜·热合曼")),
        ("阿卜杜・热合曼", Some("阿卜杜·热合曼")),
        ("阿卜杜･热合曼", Some("阿卜杜·热合曼")),
        ("阿卜杜‧热合曼", Some("阿卜杜·热合曼")),
        ("", None),
        (" \u{3000} ", None),
    ];
    for (raw, expected) in cases {
        assert_eq!(normalize_name(raw).as_deref(), expected, "{raw:?}");
    }
}

// ---- properties ----

/// A valid 17-digit body: any address and sequence, a birth date from 1800 to 2099.
fn valid_body() -> impl Strategy<Value = String> {
    (0u32..1_000_000, 0i64..109_572, 0u32..1000).prop_map(|(address, day, sequence)| {
        let date = ymd(1800, 1, 1) + chrono::Duration::days(day);
        format!("{address:06}{}{sequence:03}", date.format("%Y%m%d"))
    })
}

proptest! {
    #[test]
    fn normalize_id_is_idempotent(raw in any::<String>()) {
        let once = normalize_id(&raw).into_owned();
        prop_assert_eq!(normalize_id(&once), once.as_str());
    }

    #[test]
    fn normalize_id_is_idempotent_on_id_like_text(raw in "[ '\\-xX0-9０-９Ｘｘ\u{3000}.eE+]{0,24}") {
        let once = normalize_id(&raw).into_owned();
        prop_assert_eq!(normalize_id(&once), once.as_str());
    }

    #[test]
    fn ids_round_trip(body in valid_body()) {
        let built = ResidentId::from_body(&body).unwrap();
        prop_assert_eq!(&built.as_str()[..17], body.as_str());
        prop_assert_eq!(ResidentId::parse(built.as_str()), Ok(built.clone()));
        prop_assert_eq!(built.as_str().parse::<ResidentId>(), Ok(built));
    }

    #[test]
    fn is_valid_normal_is_parse_giving_the_text_back(raw in "[ '\\-xX0-9０-９Ｘ]{0,20}") {
        let round_trip = ResidentId::parse(&raw).is_ok_and(|id| id.as_str() == raw);
        prop_assert_eq!(ResidentId::is_valid_normal(&raw), round_trip, "{}", raw);
    }

    #[test]
    fn valid_ids_are_their_own_normal_form(body in valid_body()) {
        let built = ResidentId::from_body(&body).unwrap();
        prop_assert!(ResidentId::is_valid_normal(built.as_str()));
    }

    #[test]
    fn any_single_substitution_is_rejected(body in valid_body(), position in 0usize..17, shift in 1u8..10) {
        let valid = ResidentId::from_body(&body).unwrap();
        let mut bytes = valid.as_str().as_bytes().to_vec();
        bytes[position] = b'0' + (bytes[position] - b'0' + shift) % 10;
        let damaged = String::from_utf8(bytes).unwrap();
        prop_assert!(ResidentId::parse(&damaged).is_err(), "{}", damaged);
    }

    #[test]
    fn any_adjacent_transposition_is_rejected(body in valid_body(), position in 0usize..16) {
        let valid = ResidentId::from_body(&body).unwrap();
        let mut bytes = valid.as_str().as_bytes().to_vec();
        prop_assume!(bytes[position] != bytes[position + 1]);
        bytes.swap(position, position + 1);
        let damaged = String::from_utf8(bytes).unwrap();
        prop_assert!(ResidentId::parse(&damaged).is_err(), "{}", damaged);
    }

    #[test]
    fn parse_date_never_panics(raw in any::<String>()) {
        let _ = parse_date(&raw);
    }

    #[test]
    fn parse_date_never_panics_on_date_like_text(raw in "[0-9０-９:/.\\- T年月日时分秒]{0,24}") {
        let _ = parse_date(&raw);
    }

    #[test]
    fn written_dates_parse_back(day in 0i64..109_572, second in 0u32..86_400, style in 0usize..5) {
        let at = (ymd(1800, 1, 1) + chrono::Duration::days(day))
            .and_time(chrono::NaiveTime::from_num_seconds_from_midnight_opt(second, 0).unwrap());
        let format = ["%Y-%m-%d %H:%M:%S", "%Y/%-m/%-d %H:%M:%S", "%Y%m%dT%H:%M:%S",
            "%Y年%-m月%-d日%H时%M分%S秒", "%Y%m%d%H%M%S"][style];
        let written = at.format(format).to_string();
        prop_assert_eq!(parse_date(&written), Ok(DateValue::DateTime(at)), "{}", written);
        let date_only = at.date().format(&format[..date_part_len(format)]).to_string();
        prop_assert_eq!(parse_date(&date_only), Ok(DateValue::Date(at.date())), "{}", date_only);
    }

    #[test]
    fn village_prefixes_are_prefixes(code in "[0-9]{12}") {
        let village = VillageCode::parse(&code).unwrap();
        prop_assert_eq!(village.as_str(), code.as_str());
        for prefix in [village.province(), village.city(), village.county(), village.township()] {
            prop_assert!(code.starts_with(prefix));
        }
        prop_assert_eq!(
            [village.province().len(), village.city().len(), village.county().len(), village.township().len()],
            [2, 4, 6, 9]
        );
    }

    #[test]
    fn normalize_name_is_idempotent(raw in any::<String>()) {
        if let Some(once) = normalize_name(&raw) {
            prop_assert_eq!(normalize_name(&once), Some(once));
        }
    }
}

/// The length of the date part of a `written_dates_parse_back` format.
fn date_part_len(format: &str) -> usize {
    format
        .find([' ', 'T'])
        .or_else(|| format.find("日").map(|i| i + "日".len()))
        .unwrap_or("%Y%m%d".len())
}

#[test]
fn month_precision_values_read_as_the_first_of_the_month() {
    for raw in [
        "2019-09",
        "2019-9",
        "201909",
        "2019年9月",
        "2019年09月",
        "2019/9",
        "2019.09",
        " ２０１９－０９ ",
    ] {
        assert_eq!(parse_month(raw), Ok(ymd(2019, 9, 1)), "{raw:?}");
    }
    // A whole date stays that date; a time of day is dropped.
    assert_eq!(parse_month("2019-09-02"), Ok(ymd(2019, 9, 2)));
    assert_eq!(parse_month("2019年9月2日 8时"), Ok(ymd(2019, 9, 2)));
    assert_eq!(parse_month("2019-13"), Err(DateError::Impossible));
    assert_eq!(parse_month("201900"), Err(DateError::Impossible));
    assert_eq!(parse_month("20190230"), Err(DateError::Impossible));
    for raw in ["2019", "2019-", "2019年9", "19-09", "2019-09x", "九月"] {
        assert_eq!(parse_month(raw), Err(DateError::Unrecognised), "{raw:?}");
    }
    assert_eq!(parse_month("  "), Err(DateError::Empty));
    // A date field does not take a month: only month-precision fields do.
    assert_eq!(parse_date("2019-09"), Err(DateError::Unrecognised));
}

#[test]
fn ids_are_masked_wherever_they_stand() {
    assert_eq!(mask_ids("340302201601010019"), "340302********0019");
    assert_eq!(mask_ids("11010519491231002X"), "110105********002X");
    assert_eq!(mask_ids("340302860101123"), "340302*****1123");
    assert_eq!(
        mask_ids("hospital_delivery=340302201601010019;birth_certificate=340302201601010027"),
        "hospital_delivery=340302********0019;birth_certificate=340302********0027"
    );
    // Next to Chinese text, after an apostrophe, in full-width digits (raw extract cells).
    assert_eq!(mask_ids("王芳340302201601010019"), "王芳340302********0019");
    assert_eq!(mask_ids("'340302201601010019"), "'340302********0019");
    assert_eq!(
        mask_ids("３４０３０２２０１６０１０１００１９"),
        "３４０３０２********００１９"
    );
    assert!(contains_id("a 11010519491231002x b"));
    // Not IDs: village codes (12 digits), certificate numbers, longer numbers.
    assert_eq!(mask_ids("340302001001"), "340302001001");
    assert_eq!(mask_ids("Q340000001"), "Q340000001");
    assert_eq!(mask_ids("3403022016010100190"), "3403022016010100190");
    // The national student number: `G` and the student's ID.
    assert_eq!(mask_ids("G340302201601010019"), "G340302********0019");
    assert!(!contains_id("王芳"));
}

#[test]
fn clear_ids_are_found_by_their_check_character() {
    assert_eq!(clear_ids("x340302201601010019y"), ["340302201601010019"]);
    assert_eq!(clear_ids("a 11010519491231002x"), ["11010519491231002x"]);
    // A wrong check character, a masked ID, a village code: none.
    assert!(clear_ids("340302201601010018").is_empty());
    assert!(clear_ids(&mask_ids("340302201601010019")).is_empty());
    assert!(clear_ids("340302001001").is_empty());
}

// ---- decisions ----

/// The source ids a decisions file may name (the pipeline passes every source's).
const SOURCES: [&str; 9] = [
    "birth_registration",
    "prenatal_care",
    "hospital_delivery",
    "birth_certificate",
    "vaccination",
    "household",
    "school",
    "marriage",
    "social_security",
];

#[test]
fn decisions_files_are_checked_without_echoing_values() {
    let e = Decisions::parse_csv(
        "discrepancy_id,decision,reviewer,date\nD1,approved,王芳,2026-01-16\n",
        &SOURCES,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("line 2") && e.contains("`decision`"), "{e}");
    let e = Decisions::parse_csv("id,decision\nD1,accepted\n", &SOURCES)
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown column `id`"), "{e}");
    let body = "34030219950101002";
    let secret = format!("{body}{}", check_character(body).unwrap());
    let e = Decisions::parse_csv(
        &format!(
            "source,key,decision,reviewer,date\nhousehold,{secret},must_link,王芳,2026-01-16\n"
        ),
        &SOURCES,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("other_source") && !e.contains(&secret), "{e}");
    let e = Decisions::parse_csv(
        &format!(
            "source,key,decision,reviewer,date\nhousehold,{secret},accepted,王芳,16/01/2026\n"
        ),
        &SOURCES,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("`date`") && !e.contains(&secret), "{e}");
    assert!(
        Decisions::parse_toml("[[decision]]\ndecision = \"accepted\"\nfoo = 1\n", &SOURCES)
            .is_err()
    );
}

#[test]
fn a_record_of_an_unknown_source_is_named_by_its_column() {
    let e = Decisions::parse_csv(
        "source,key,decision,reviewer,date\nhospital,D1,accepted,王芳,2026-01-16\n",
        &SOURCES,
    )
    .unwrap_err();
    assert_eq!(e.line, 2);
    assert!(
        e.to_string().starts_with(
            "decisions file, line 2: `source` must be one of `birth_registration`, `prenatal_care`"
        ),
        "{e}"
    );
    let d = Decisions::parse_toml(
        "[[decision]]\nsource = \"hospital_delivery\"\nkey = \"D1\"\nother_source = \"birth_certificate\"\nother_key = \"C1\"\ndecision = \"cannot_link\"\nreviewer = \"李明\"\ndate = 2026-01-16\n",
        &SOURCES,
    )
    .unwrap();
    let c = d.link_constraints();
    assert_eq!(c.len(), 1);
    assert_eq!((c[0].kind, c[0].line), (DecisionKind::CannotLink, 1));
    assert_eq!(c[0].b.key, "C1");
}
