//! A draft of one workflow checked in place of its file, as the policy
//! staff's editor shows it: each diagnostic at its line and column, and
//! the checked workflow when there is no error (for its diagram, notice
//! and simulation).

use serde::Serialize;

use super::{load, Input, Severity, Workflow};

/// A diagnostic where the editor shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Located {
    /// The file it is in: the draft's name, or another definition's.
    pub file: String,
    /// One-based, in characters.
    pub line: usize,
    pub column: usize,
    pub error: bool,
    pub code: &'static str,
    /// The kind of problem in Chinese ([`super::diagnostic::title`]).
    pub title: &'static str,
    pub message: String,
    pub hints: Vec<String>,
}

/// What checking a draft found.
#[derive(Debug, Clone)]
pub struct DraftCheck {
    pub diagnostics: Vec<Located>,
    /// The workflow as checked, when the draft has no error.
    pub workflow: Option<Workflow>,
}

impl DraftCheck {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(|d| d.error)
    }
}

/// The file name a draft of workflow `id` is checked under.
pub fn draft_name(id: &str) -> String {
    format!("{id}.flow（草稿）")
}

/// Whether a file's text defines workflow `id` (`workflow ID "…" {`).
fn defines(source: &str, id: &str) -> bool {
    source.contains(&format!("workflow {id} "))
}

/// The text of the file of `input` that defines workflow `id`: the one a
/// draft of it stands in for.
pub fn definition_of<'i>(input: &'i Input, id: &str) -> Option<&'i str> {
    input
        .flows
        .iter()
        .find(|(_, source)| defines(source, id))
        .map(|(_, source)| source.as_str())
}

/// Checks `text` as the definition of workflow `id` with the other
/// definitions of `input` (the departments and the other workflows), in
/// place of the file that defines `id` today.
pub fn check_draft(input: &Input, id: &str, text: &str) -> DraftCheck {
    let mut flows: Vec<(String, String)> = input
        .flows
        .iter()
        .filter(|(_, source)| !defines(source, id))
        .cloned()
        .collect();
    let name = draft_name(id);
    flows.push((name.clone(), text.to_string()));
    let loaded = load(&Input {
        flows,
        templates: input.templates.clone(),
    });
    let mut diagnostics: Vec<Located> = loaded
        .checked
        .diagnostics
        .iter()
        .map(|diagnostic| {
            let file = loaded.sources.get(diagnostic.span.file);
            let (line, column) = file.line_col(diagnostic.span.start as usize);
            Located {
                file: file.path.clone(),
                line,
                column,
                error: diagnostic.severity == Severity::Error,
                code: diagnostic.code,
                title: super::diagnostic::title(diagnostic.code),
                message: diagnostic.message.clone(),
                hints: diagnostic.hints.clone(),
            }
        })
        .collect();
    diagnostics.sort_by(|a, b| {
        (a.file != name, a.line, a.column).cmp(&(b.file != name, b.line, b.column))
    });
    let workflow = loaded.workflow(id).cloned();
    if workflow.is_none() && !diagnostics.iter().any(|d| d.error) {
        diagnostics.push(Located {
            file: name,
            line: 1,
            column: 1,
            error: true,
            code: "draft-names-another-workflow",
            title: super::diagnostic::title("draft-names-another-workflow"),
            message: format!("草稿须定义事项`{id}`（`workflow {id} \"…\" {{ … }}`）"),
            hints: Vec::new(),
        });
    }
    let has_errors = diagnostics.iter().any(|d| d.error);
    DraftCheck {
        diagnostics,
        workflow: workflow.filter(|_| !has_errors),
    }
}
