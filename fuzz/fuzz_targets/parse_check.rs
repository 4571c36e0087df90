//! Parse and check arbitrary text with the real templates' headers, then
//! render everything a user can ask for: diagnostics, notices, diagrams.
//! Nothing may panic, whatever the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use onewindow::dsl;

const TEMPLATES: &[(&str, &str)] = &[
    ("templates/acceptance_notice.typ", include_str!("../../templates/acceptance_notice.typ")),
    ("templates/refusal_notice.typ", include_str!("../../templates/refusal_notice.typ")),
    ("templates/correction_notice.typ", include_str!("../../templates/correction_notice.typ")),
    ("templates/grant_decision.typ", include_str!("../../templates/grant_decision.typ")),
    ("templates/denial_decision.typ", include_str!("../../templates/denial_decision.typ")),
    ("templates/medical_license.typ", include_str!("../../templates/medical_license.typ")),
    ("templates/filing_receipt.typ", include_str!("../../templates/filing_receipt.typ")),
    ("templates/cooperation_agreement.typ", include_str!("../../templates/cooperation_agreement.typ")),
    ("templates/evaluation_result.typ", include_str!("../../templates/evaluation_result.typ")),
];

const DEPARTMENTS: &str = include_str!("../../workflows/departments.flow");

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let input = dsl::Input {
        flows: vec![
            ("departments.flow".to_string(), DEPARTMENTS.to_string()),
            ("fuzz.flow".to_string(), text.to_string()),
        ],
        templates: TEMPLATES
            .iter()
            .map(|(path, text)| (path.to_string(), text.to_string()))
            .collect(),
    };
    let loaded = dsl::load(&input);
    let _ = loaded.render_diagnostics();
    for workflow in &loaded.checked.workflows {
        let _ = dsl::notice::one_time_notice(workflow);
        let _ = dsl::graph::dot(workflow);
        let _ = dsl::graph::mermaid(workflow);
    }
});
