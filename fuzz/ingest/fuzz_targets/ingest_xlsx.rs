//! Any bytes as a `birth_certificate` XLSX extract: no panic (in calamine's ZIP and XML
//! readers or in ours), and rows read = accepted + quarantined.

#![no_main]

use libfuzzer_sys::fuzz_target;
use poprecon_birth_certificate::BirthCertificate;
use poprecon_fuzz_ingest::{ingest_one, scratch};
use poprecon_ingest::Format;

fuzz_target!(|data: &[u8]| {
    let path = scratch(data, "xlsx");
    ingest_one(&BirthCertificate, path, Format::Xlsx);
});
