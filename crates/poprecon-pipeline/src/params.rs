//! One home per domain parameter. A window, grace period or limit that a rule and an
//! indicator (or linkage) both read is one setting written under two keys: the file sets
//! either key and the other follows; a file that sets both to different values is an error
//! naming both keys.

use toml::Value;

use crate::PipelineError;
use crate::config::Config;

/// A setting read under two keys: its `[rules]` key and the key of the indicator or of
/// linkage that reads the same partition, with accessors to the value in a [`Config`].
struct Shared {
    rule: &'static str,
    other: &'static str,
    what: &'static str,
    get: fn(&Config) -> (i32, i32),
    set: fn(&mut Config, i32),
}

/// One [`Shared`] from the two fields' paths in a [`Config`] (`rules.x.y`, `indicators.z`).
macro_rules! shared {
    ($what:literal: $($r:ident).+ ~ $($o:ident).+) => {
        Shared {
            rule: stringify!($($r).+),
            other: stringify!($($o).+),
            what: $what,
            get: |c| (c.$($r).+, c.$($o).+),
            set: |c, v| {
                c.$($r).+ = v;
                c.$($o).+ = v;
            },
        }
    };
}

/// The settings shared by a rule and an indicator or linkage (domain.md §5, §6, §8.3).
const SHARED: &[Shared] = &[
    shared!("the certificate's grace period":
        rules.delivery_without_certificate.grace_days ~ indicators.certificate_after_days),
    shared!("the household registration's grace period":
        rules.birth_without_household_registration.grace_days ~ indicators.household_after_days),
    shared!("the HepB dose 1 grace period":
        rules.birth_without_hepb1.grace_days ~ indicators.hepb1_after_days),
    shared!("the limit between a timely and a late HepB dose 1":
        rules.late_hepb1.max_days ~ indicators.hepb1_within_days),
    shared!("the week from which a booking is late":
        rules.late_prenatal_booking.weeks ~ indicators.early_booking_weeks),
    shared!("the prenatal booking's window before the birth":
        rules.delivery_without_prenatal_booking.days_before ~ linkage.prenatal_window_days),
    shared!("the birth registration's window before the birth":
        rules.birth_without_registration_service.days_before ~ linkage.registration_days_before),
    shared!("the birth registration's window after the birth":
        rules.birth_without_registration_service.days_after ~ linkage.registration_days_after),
];

/// Whether the dotted `key` is written in the file.
fn written(doc: &Value, key: &str) -> bool {
    let mut v = doc;
    for part in key.split('.') {
        match v.get(part) {
            Some(next) => v = next,
            None => return false,
        }
    }
    true
}

/// Gives each shared setting its one value: the key the file writes (both keys, if they
/// agree); the defaults, which agree, where it writes neither.
pub(crate) fn unify(
    config: &mut Config,
    doc: &Value,
    path: &std::path::Path,
) -> Result<(), PipelineError> {
    for s in SHARED {
        let (rule, other) = (s.get)(config);
        let value = match (written(doc, s.rule), written(doc, s.other)) {
            (true, true) if rule != other => {
                return Err(PipelineError::Invalid {
                    path: path.to_owned(),
                    key: s.rule.to_owned(),
                    message: format!(
                        "= {rule} contradicts `{}` = {other}: both are {}, one setting read by the rule and by {}\nhint: set one of the two keys (the other follows), or give both the same value",
                        s.other,
                        s.what,
                        if s.other.starts_with("linkage") {
                            "linkage"
                        } else {
                            "its indicator"
                        },
                    ),
                });
            }
            (false, true) => other,
            _ => rule,
        };
        (s.set)(config, value);
    }
    Ok(())
}

#[cfg(test)]
pub(crate) fn shared_keys() -> Vec<(&'static str, &'static str)> {
    SHARED.iter().map(|s| (s.rule, s.other)).collect()
}
