//! The check stage's input of the synthetic data (`common`): linked once, the births stage
//! made, every canonical table and the division's villages given. Shared by the `checks`
//! bench and the `checks_once` example.

use poprecon_checks::CheckInput;
use poprecon_link::{BirthFacts, FactSettings, LinkConfig, LinkOutput, birth_facts, link};

use crate::common::{Data, link_input};

/// Linkage and the births stage over the data, with the default linkage settings.
pub fn linked(d: &Data) -> (LinkOutput, BirthFacts) {
    let linked = link(&link_input(d), &LinkConfig::default()).expect("linkage runs");
    let facts = birth_facts(
        &linked.births,
        &link_input(d),
        &LinkConfig::default(),
        &FactSettings {
            birth_date_tolerance_days: d.plan.rules.birth_date_mismatch.tolerance_days,
        },
    )
    .expect("the births stage runs");
    (linked, facts)
}

/// What `run_checks` reads of the data, its linkage and its births stage.
pub fn check_input<'a>(
    d: &'a Data,
    linked: &'a LinkOutput,
    facts: &'a BirthFacts,
) -> CheckInput<'a> {
    let mut input = CheckInput::new(d.plan.as_of, d.plan.period)
        .with_births(&facts.births)
        .with_stillbirths(&facts.stillbirths)
        .with_ambiguous(&linked.ambiguous)
        .with_villages(d.plan.divisions.villages.keys().cloned());
    for (id, df) in &d.tables {
        input = input.with_source(id, df);
    }
    input
}
