//! The workflow language: parse → check → [`Workflow`].
//!
//! Policy staff write `.flow` files (see docs/language.md). [`load`] takes
//! their text and the headers of the typst templates and returns the checked
//! workflows with every diagnostic. This module does no IO: callers hand it
//! text (the CLI reads folders with [`crate::project`]).

pub mod ast;
pub mod bpmn;
pub mod check;
pub mod diagnostic;
pub mod diff;
pub mod draft;
pub mod graph;
pub mod ir;
pub mod notice;
pub mod parse;
pub mod sat;
pub mod source;

pub use check::Checked;
pub use diagnostic::{Diagnostic, Severity};
pub use ir::Workflow;
pub use source::{FileId, SourceMap, Span};

/// What [`load`] needs: the `.flow` files and the template files, as text.
#[derive(Debug, Default)]
pub struct Input {
    pub flows: Vec<(String, String)>,
    pub templates: Vec<(String, String)>,
}

/// The result of a load: the sources (to render diagnostics) and the check.
#[derive(Debug)]
pub struct Loaded {
    pub sources: SourceMap,
    pub checked: Checked,
}

impl Loaded {
    /// Every diagnostic, rendered with source lines and carets.
    pub fn render_diagnostics(&self) -> String {
        diagnostic::render(&self.sources, &self.checked.diagnostics)
    }

    pub fn workflow(&self, id: &str) -> Option<&Workflow> {
        self.checked
            .workflows
            .iter()
            .find(|workflow| workflow.id == id)
    }
}

/// Text without the byte-order mark that editors such as Windows Notepad
/// put first: it is no part of the definition, and columns count from
/// after it, as editors count them.
fn without_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// Parses and checks. Syntax errors in any file stop the semantic check, so
/// that a half-parsed file does not produce a flood of follow-on errors.
pub fn load(input: &Input) -> Loaded {
    let mut sources = SourceMap::new();
    let mut diagnostics = Vec::new();
    let mut templates = Vec::new();
    for (path, text) in &input.templates {
        let text = without_bom(text);
        let file = sources.add(path.clone(), text);
        let (decl, problems) = parse::parse_template_header(file, text);
        diagnostics.extend(problems);
        templates.extend(decl);
    }
    let mut files = Vec::new();
    for (path, text) in &input.flows {
        let text = without_bom(text);
        let file = sources.add(path.clone(), text);
        let (tree, problems) = parse::parse_file(file, text);
        diagnostics.extend(problems);
        files.push(tree);
    }
    let checked = if diagnostics.iter().any(|d| d.severity == Severity::Error) {
        Checked {
            diagnostics,
            ..Checked::default()
        }
    } else {
        let mut checked = check::check(&files, &templates);
        diagnostics.append(&mut checked.diagnostics);
        checked.diagnostics = diagnostics;
        checked
    };
    let mut checked = checked;
    checked
        .diagnostics
        .sort_by_key(|d| (d.span.file, d.span.start));
    Loaded { sources, checked }
}
