//! Any bytes as a `hospital_delivery` CSV extract (encoding detected): no panic, and rows
//! read = accepted + quarantined.

#![no_main]

use libfuzzer_sys::fuzz_target;
use poprecon_fuzz_ingest::{ingest_one, scratch};
use poprecon_hospital_delivery::HospitalDelivery;
use poprecon_ingest::Format;

fuzz_target!(|data: &[u8]| {
    let path = scratch(data, "csv");
    ingest_one(&HospitalDelivery, path, Format::Csv);
});
