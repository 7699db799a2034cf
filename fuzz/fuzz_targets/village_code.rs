//! `VillageCode::parse` (and `Sex::parse`, the other code parser of the model) on any text:
//! no panic; a parsed village code is 12 ASCII digits whose prefixes nest and which parses
//! again to itself.

#![no_main]

use libfuzzer_sys::fuzz_target;
use poprecon_fuzz::Sex;
use poprecon_fuzz::village::VillageCode;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(sex) = Sex::parse(raw) {
        assert_eq!(Sex::from_code(sex.code()), Some(sex));
    }
    match VillageCode::parse(raw) {
        Ok(code) => {
            let s = code.as_str();
            assert_eq!(s.len(), 12);
            assert!(s.bytes().all(|b| b.is_ascii_digit()));
            assert!(code.township().starts_with(code.county()));
            assert!(code.county().starts_with(code.city()));
            assert!(code.city().starts_with(code.province()));
            assert_eq!(VillageCode::parse(s).as_ref(), Ok(&code));
            assert_eq!(code.to_string(), s);
        }
        Err(e) => assert!(!e.code().is_empty()),
    }
});
