//! `parse_date` on any text and `excel_serial_to_datetime` on any float: no panic, and a
//! parsed date printed in ISO form parses back to the same value.

#![no_main]

use libfuzzer_sys::fuzz_target;
use poprecon_fuzz::date::{DateValue, excel_serial_to_datetime, parse_date};

fuzz_target!(|data: &[u8]| {
    if let Ok(bytes) = <[u8; 8]>::try_from(data) {
        let serial = f64::from_le_bytes(bytes);
        if let Some(dt) = excel_serial_to_datetime(serial) {
            assert!(serial > 0.0 && serial.is_finite());
            let _ = dt.and_utc();
        }
    }
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    match parse_date(raw) {
        Ok(DateValue::Date(d)) => {
            let again = parse_date(&d.format("%Y-%m-%d").to_string());
            assert_eq!(again, Ok(DateValue::Date(d)), "an ISO date round-trips");
        }
        Ok(DateValue::DateTime(dt)) => {
            let again = parse_date(&dt.format("%Y-%m-%d %H:%M:%S%.f").to_string());
            assert_eq!(
                again,
                Ok(DateValue::DateTime(dt)),
                "an ISO date-time round-trips"
            );
        }
        Err(e) => assert!(!e.code().is_empty()),
    }
});
