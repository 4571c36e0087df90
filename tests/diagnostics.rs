//! Data-driven diagnostic tests.
//!
//! Each `tests/diagnostics/NAME.flow` is checked together with the departments
//! of `tests/diagnostics/prelude/` and the real `templates/`; the rendered
//! diagnostics must equal `NAME.expected` next to it. Run with
//! `UPDATE_EXPECT=1` to write the expectations, then read the diff.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use onewindow::dsl::{self, Severity};
use onewindow::project::{self, Paths};

const CASES: &str = "tests/diagnostics";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Loads the prelude, the given case file and the templates, with paths as
/// the repository shows them.
fn load(case: &Path) -> dsl::Loaded {
    std::env::set_current_dir(root()).expect("repository root");
    project::load(&Paths {
        flows: vec![PathBuf::from(CASES).join("prelude"), case.to_path_buf()],
        templates: PathBuf::from("templates"),
    })
    .expect("case files are readable")
}

fn cases() -> Vec<PathBuf> {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(root().join(CASES))
        .expect("cases folder")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "flow"))
        .map(|path| PathBuf::from(CASES).join(path.file_name().expect("name")))
        .collect();
    cases.sort();
    cases
}

#[test]
fn base_of_the_cases_is_clean() {
    let loaded = load(Path::new("tests/valid_base.flow"));
    assert_eq!(loaded.render_diagnostics(), "");
    assert_eq!(loaded.checked.workflows.len(), 1);
}

#[test]
fn shipped_workflows_are_clean() {
    std::env::set_current_dir(root()).expect("repository root");
    let loaded = project::load(&Paths::default()).expect("workflows");
    assert_eq!(loaded.render_diagnostics(), "");
    let mut ids: Vec<&str> = loaded
        .checked
        .workflows
        .iter()
        .map(|w| w.id.as_str())
        .collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        [
            "annual_evaluation",
            "cooperation_agreement",
            "eldercare_clinic",
            "family_doctor",
            "insurance_designation",
            "medical_eldercare",
            "new_combined"
        ]
    );
}

#[test]
fn every_case_matches_its_expected_diagnostics() {
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let mut failures = Vec::new();
    let mut error_kinds = BTreeSet::new();
    for case in cases() {
        let loaded = load(&case);
        let rendered = loaded.render_diagnostics();
        assert!(
            !loaded.checked.diagnostics.is_empty(),
            "{} produced no diagnostic; every case must break something",
            case.display()
        );
        error_kinds.extend(
            loaded
                .checked
                .diagnostics
                .iter()
                .filter(|d| d.severity == Severity::Error)
                .map(|d| d.code),
        );
        let expected_path = root().join(case.with_extension("expected"));
        if update {
            std::fs::write(&expected_path, &rendered).expect("write expectation");
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if expected != rendered {
            failures.push(format!(
                "--- {} expected\n{expected}--- actual\n{rendered}",
                case.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    eprintln!("error kinds covered: {} {error_kinds:?}", error_kinds.len());
    assert!(
        error_kinds.len() >= 25,
        "the cases cover only {} error kinds: {error_kinds:?}",
        error_kinds.len()
    );
}

#[test]
fn all_problems_of_a_file_are_reported_at_once() {
    let loaded = load(Path::new("tests/diagnostics/syntax_each_item.flow"));
    let syntax = loaded
        .checked
        .diagnostics
        .iter()
        .filter(|d| d.code == "syntax")
        .count();
    assert_eq!(syntax, 2, "{}", loaded.render_diagnostics());
    let loaded = load(Path::new("tests/diagnostics/field_options.flow"));
    assert!(
        loaded.checked.diagnostics.len() >= 10,
        "{}",
        loaded.render_diagnostics()
    );
}

#[test]
fn the_benchmarks_generated_definition_checks_clean() {
    // `bench dsl` checks the shipped definitions repeated past 1 MB: a file
    // that large is parsed on every core, and must read as the small one.
    std::env::set_current_dir(root()).expect("repository root");
    let input = project::read(&Paths::default()).expect("the shipped definitions");
    let generated = onewindow::bench::generate(&input, 512 * 1024);
    let loaded = dsl::load(&generated);
    assert_eq!(loaded.render_diagnostics(), "");
    assert!(loaded.checked.workflows.len() > 50);
}

#[test]
fn every_diagnostic_the_cases_raise_has_a_chinese_title() {
    // The policy staff's editor shows each diagnostic under its kind in Chinese.
    for case in cases() {
        for diagnostic in load(&case).checked.diagnostics {
            assert_ne!(
                dsl::diagnostic::title(diagnostic.code),
                "问题",
                "{}: `{}` has no Chinese title",
                case.display(),
                diagnostic.code
            );
        }
    }
}

/// The policy staff read the checker in Chinese: every message, hint and
/// note of every case says its words in Chinese (names of the language stay
/// in backticks), and each kind of problem has a Chinese title.
#[test]
fn every_message_hint_and_note_is_in_chinese() {
    let chinese = |text: &str| {
        let outside_code: String = text.split('`').step_by(2).collect::<Vec<_>>().concat();
        outside_code
            .chars()
            .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
    };
    let mut english = Vec::new();
    for case in cases() {
        for diagnostic in load(&case).checked.diagnostics {
            let notes = diagnostic.notes.iter().map(|(_, note)| note.as_str());
            for text in std::iter::once(diagnostic.message.as_str())
                .chain(diagnostic.hints.iter().map(String::as_str))
                .chain(notes)
            {
                if !chinese(text) {
                    english.push(format!("{} [{}]: {text}", case.display(), diagnostic.code));
                }
            }
            if dsl::diagnostic::title(diagnostic.code) == dsl::diagnostic::title("") {
                english.push(format!(
                    "{}: `{}` has no title",
                    case.display(),
                    diagnostic.code
                ));
            }
        }
    }
    assert!(english.is_empty(), "{}", english.join("\n"));
}
