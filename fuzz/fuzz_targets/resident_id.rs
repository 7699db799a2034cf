//! `ResidentId::parse` and `normalize_id` on any text: no panic, normalisation is
//! idempotent, a parsed ID is 18 characters with a matching check character and parses
//! again to itself, and its `Display` never shows the clear value.

#![no_main]

use libfuzzer_sys::fuzz_target;
use poprecon_fuzz::id::{ResidentId, check_character, normalize_id};

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let once = normalize_id(raw);
    assert_eq!(normalize_id(&once), once, "normalize_id is idempotent");
    match ResidentId::parse(raw) {
        Ok(id) => {
            let s = id.as_str();
            assert_eq!(s.len(), 18);
            assert_eq!(check_character(&s[..17]), s[17..].chars().next());
            assert_eq!(
                ResidentId::parse(s).as_ref(),
                Ok(&id),
                "a valid ID parses to itself"
            );
            let _ = (id.kind(), id.address_code(), id.birth_date(), id.sex());
            let shown = format!("{id} {id:?}");
            assert!(!shown.contains(s), "Display and Debug mask the ID");
        }
        Err(damage) => {
            assert!(!damage.code().is_empty());
        }
    }
});
