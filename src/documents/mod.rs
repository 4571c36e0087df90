//! Documents: typst templates typeset to PDF.
//!
//! A [`Renderer`] is built once per process: it loads the templates folder,
//! scans the system fonts (a CJK font must be among them) and builds typst's
//! standard library. Each document then gets a small [`World`] that serves
//! the templates and one in-memory file, `/data.json`, holding the document's
//! data; templates read it with `json("/data.json")`. Applicant data is
//! therefore only ever data, never markup, and nothing else on disk is
//! reachable. Output is PDF/A-2b, with a fixed identifier and date, so the
//! same inputs give the same bytes.

pub mod numbering;

use std::collections::HashMap;
use std::path::Path;

use typst::diag::{FileError, FileResult, SourceDiagnostic, Warned};
use typst::foundations::{Bytes, Datetime, Smart};
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt as _, World};
use typst_kit::fonts::FontStore;
use typst_layout::PagedDocument;
use typst_pdf::{PdfOptions, PdfStandard, PdfStandards, Timestamp};

use crate::dsl::ast::TemplateDecl;
use crate::dsl::parse::parse_template_header;
use crate::dsl::FileId as FlowFileId;

/// The Debian package that provides the CJK fonts the templates use.
pub const FONT_PACKAGE: &str = "fonts-noto-cjk";

/// The families the templates ask for, in order.
pub const CJK_FAMILIES: [&str; 2] = ["Noto Serif CJK SC", "Noto Sans CJK SC"];

/// A document longer than this is refused rather than typeset on and on.
pub const MAX_PAGES: usize = 50;

/// The file the data of a document is served as.
const DATA_PATH: &str = "/data.json";

#[derive(Debug)]
pub enum DocumentError {
    /// No CJK font on the system: Chinese would print as boxes.
    NoCjkFont,
    UnknownTemplate {
        template: String,
        known: Vec<String>,
    },
    /// The data lacks a field the template declares.
    MissingField {
        template: String,
        field: String,
    },
    /// A field's value is not of the declared type.
    WrongType {
        template: String,
        field: String,
        expected: String,
    },
    UnknownField {
        template: String,
        field: String,
    },
    /// A field declared `nonempty` is empty (a refusal without reasons).
    EmptyField {
        template: String,
        field: String,
    },
    TooManyPages {
        template: String,
        pages: usize,
    },
    /// typst refused the template or its data.
    Typeset {
        template: String,
        messages: Vec<String>,
    },
    Io(String),
}

impl std::fmt::Display for DocumentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DocumentError::NoCjkFont => write!(
                f,
                "no CJK font found ({}): install it with `apt-get install {FONT_PACKAGE}`",
                CJK_FAMILIES.join(" or ")
            ),
            DocumentError::UnknownTemplate { template, known } => {
                write!(
                    f,
                    "unknown template `{template}`; the templates are {}",
                    known.join(", ")
                )
            }
            DocumentError::MissingField { template, field } => {
                write!(
                    f,
                    "template `{template}` needs the field `{field}`, which the data lacks"
                )
            }
            DocumentError::WrongType {
                template,
                field,
                expected,
            } => {
                write!(f, "template `{template}` takes `{field}` as {expected}")
            }
            DocumentError::UnknownField { template, field } => {
                write!(f, "template `{template}` has no field `{field}`")
            }
            DocumentError::EmptyField { template, field } => {
                write!(f, "template `{template}` needs `{field}` not empty")
            }
            DocumentError::TooManyPages { template, pages } => {
                write!(
                    f,
                    "template `{template}` ran to {pages} pages, more than {MAX_PAGES}"
                )
            }
            DocumentError::Typeset { template, messages } => {
                write!(f, "template `{template}` failed: {}", messages.join("; "))
            }
            DocumentError::Io(message) => write!(f, "{message}"),
        }
    }
}

impl std::error::Error for DocumentError {}

/// What identifies one rendering: its stable identifier and its date.
#[derive(Debug, Clone)]
pub struct Meta {
    /// A stable identifier, e.g. the document number.
    pub ident: String,
    /// The document's date, also its PDF creation date.
    pub date: jiff::civil::Date,
}

/// Templates, fonts and the library, shared by every document.
pub struct Renderer {
    library: LazyHash<Library>,
    fonts: FontStore,
    /// Every `.typ` of the templates folder, by its file id.
    sources: HashMap<FileId, Source>,
    /// The data files beside them (`*.json`), by file id.
    data_files: HashMap<FileId, Bytes>,
    /// Templates with a header, by name: their file and declared inputs.
    templates: HashMap<String, (FileId, TemplateDecl)>,
    data_id: FileId,
    /// Documents rendered, to evict typst's caches now and then.
    rendered: std::sync::atomic::AtomicUsize,
}

/// Every this many documents, cache entries unused for [`CACHE_AGE`]
/// evictions are dropped: typst memoizes per document, and a worker that
/// never evicts grows without bound.
const EVICT_EVERY: usize = 16;
const CACHE_AGE: usize = 2;

fn file_id(path: &str) -> Result<FileId, DocumentError> {
    let vpath = VirtualPath::new(path).map_err(|e| DocumentError::Io(format!("{path}: {e:?}")))?;
    Ok(FileId::new(RootedPath::new(VirtualRoot::Project, vpath)))
}

impl Renderer {
    /// Loads the templates and the system's fonts.
    ///
    /// # Errors
    /// An unreadable folder, a template header with errors, or no CJK font.
    pub fn new(templates: &Path) -> Result<Renderer, DocumentError> {
        let mut fonts = FontStore::new();
        fonts.extend(typst_kit::fonts::system());
        require_cjk(&fonts)?;
        Renderer::with_fonts(templates, fonts)
    }

    /// Loads the templates with the given fonts.
    ///
    /// # Errors
    /// An unreadable folder or a template header with errors.
    pub fn with_fonts(templates: &Path, fonts: FontStore) -> Result<Renderer, DocumentError> {
        let mut sources = HashMap::new();
        let mut data_files = HashMap::new();
        let mut declared = HashMap::new();
        let entries = std::fs::read_dir(templates)
            .map_err(|e| DocumentError::Io(format!("{}: {e}", templates.display())))?;
        for entry in entries {
            let path = entry.map_err(|e| DocumentError::Io(e.to_string()))?.path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string();
            // Data files beside the templates (fee tables) are served as they are.
            if path.extension().is_some_and(|e| e == "json") {
                let bytes = std::fs::read(&path)
                    .map_err(|e| DocumentError::Io(format!("{}: {e}", path.display())))?;
                data_files.insert(file_id(&format!("/{name}"))?, Bytes::new(bytes));
                continue;
            }
            if path.extension().is_none_or(|e| e != "typ") {
                continue;
            }
            let text = std::fs::read_to_string(&path)
                .map_err(|e| DocumentError::Io(format!("{}: {e}", path.display())))?;
            let id = file_id(&format!("/{name}"))?;
            let (decl, problems) = parse_template_header(FlowFileId(0), &text);
            if !problems.is_empty() {
                return Err(DocumentError::Io(format!(
                    "{}: its `//!` header does not parse",
                    path.display()
                )));
            }
            if let Some(decl) = decl {
                declared.insert(decl.id.name.clone(), (id, decl));
            }
            sources.insert(id, Source::new(id, text));
        }
        Ok(Renderer {
            library: LazyHash::new(Library::builder().build()),
            fonts,
            sources,
            data_files,
            templates: declared,
            data_id: file_id(DATA_PATH)?,
            rendered: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// The declared templates, by name.
    pub fn templates(&self) -> impl Iterator<Item = &TemplateDecl> {
        self.templates.values().map(|(_, decl)| decl)
    }

    /// Typesets one document.
    ///
    /// # Errors
    /// An unknown template, data that does not fit its declared inputs,
    /// a typst error, or a document past [`MAX_PAGES`].
    pub fn render(
        &self,
        template: &str,
        data: &serde_json::Map<String, serde_json::Value>,
        meta: &Meta,
    ) -> Result<Vec<u8>, DocumentError> {
        let Some((main, decl)) = self.templates.get(template) else {
            let mut known: Vec<String> = self.templates.keys().cloned().collect();
            known.sort();
            return Err(DocumentError::UnknownTemplate {
                template: template.to_string(),
                known,
            });
        };
        check_data(decl, data)?;
        let mut data = data.clone();
        // Dates are checked as the calendar's, then printed as Chinese
        // documents write them (2026年12月7日).
        for input in decl.inputs.iter().filter(|input| input.ty.name == "date") {
            let day = data
                .get(&input.id.name)
                .and_then(serde_json::Value::as_str)
                .and_then(|text| text.parse::<jiff::civil::Date>().ok());
            if let Some(day) = day {
                let words = crate::calendar::chinese_date(day);
                data.insert(input.id.name.clone(), serde_json::Value::String(words));
            }
        }
        if let Some(serde_json::Value::String(url)) = data.get("verify_url") {
            data.insert("qr_svg".into(), serde_json::Value::String(qr_svg(url)));
        }
        let bytes = serde_json::to_vec(&data).map_err(|e| DocumentError::Io(e.to_string()))?;
        let today = Datetime::from_ymd(
            i32::from(meta.date.year()),
            meta.date.month() as u8,
            meta.date.day() as u8,
        );
        let world = DocumentWorld {
            renderer: self,
            main: *main,
            data: Bytes::new(bytes),
            today,
        };
        let failed = |diagnostics: Vec<SourceDiagnostic>| DocumentError::Typeset {
            template: template.to_string(),
            messages: diagnostics
                .into_iter()
                .map(|d| d.message.to_string())
                .collect(),
        };
        let count = self
            .rendered
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        if count.is_multiple_of(EVICT_EVERY) {
            typst::comemo::evict(CACHE_AGE);
        }
        let Warned { output, .. } = typst::compile::<PagedDocument>(&world);
        let document = output.map_err(|errors| failed(errors.into_iter().collect()))?;
        if document.pages().len() > MAX_PAGES {
            return Err(DocumentError::TooManyPages {
                template: template.to_string(),
                pages: document.pages().len(),
            });
        }
        let standards = PdfStandards::new(&[PdfStandard::A_2b])
            .map_err(|e| DocumentError::Io(e.message().to_string()))?;
        let options = PdfOptions {
            ident: Smart::Custom(meta.ident.clone()),
            timestamp: today.map(Timestamp::new_utc),
            standards,
            ..PdfOptions::default()
        };
        typst_pdf::pdf(&document, &options).map_err(|errors| failed(errors.into_iter().collect()))
    }
}

/// Refuses font sets without a CJK family: Chinese would print as boxes.
///
/// # Errors
/// [`DocumentError::NoCjkFont`], naming the package to install.
pub fn require_cjk(fonts: &FontStore) -> Result<(), DocumentError> {
    let found = fonts.book().families().any(|(family, _)| {
        CJK_FAMILIES
            .iter()
            .any(|wanted| family.eq_ignore_ascii_case(wanted))
    });
    if found {
        Ok(())
    } else {
        Err(DocumentError::NoCjkFont)
    }
}

/// The data must give every required input with its declared type, and
/// nothing the template does not declare (besides the QR code we add).
fn check_data(
    decl: &TemplateDecl,
    data: &serde_json::Map<String, serde_json::Value>,
) -> Result<(), DocumentError> {
    let template = decl.id.name.clone();
    for field in data.keys() {
        if !decl.inputs.iter().any(|input| &input.id.name == field) {
            return Err(DocumentError::UnknownField {
                template,
                field: field.clone(),
            });
        }
    }
    for input in &decl.inputs {
        let name = &input.id.name;
        let Some(value) = data.get(name).filter(|v| !v.is_null()) else {
            if input.optional {
                continue;
            }
            return Err(DocumentError::MissingField {
                template,
                field: name.clone(),
            });
        };
        let fits = match input.ty.name.as_str() {
            "int" => value.is_i64(),
            "bool" => value.is_boolean(),
            "list" => value
                .as_array()
                .is_some_and(|items| items.iter().all(serde_json::Value::is_string)),
            "sections" => {
                serde_json::from_value::<Vec<crate::dsl::notice::Section>>(value.clone()).is_ok()
            }
            "date" => value
                .as_str()
                .is_some_and(|text| text.parse::<jiff::civil::Date>().is_ok()),
            // text and money (as written, e.g. "12.50元")
            _ => value.is_string(),
        };
        let empty = value.as_str().is_some_and(|text| text.trim().is_empty())
            || value.as_array().is_some_and(Vec::is_empty);
        if fits && empty && input.nonempty {
            return Err(DocumentError::EmptyField {
                template,
                field: name.clone(),
            });
        }
        if !fits {
            let expected = match input.ty.name.as_str() {
                "int" => "a whole number",
                "bool" => "true or false",
                "list" => "a list of text",
                "sections" => "the sections of a notice",
                "date" => "a date (YYYY-MM-DD)",
                _ => "text",
            };
            return Err(DocumentError::WrongType {
                template,
                field: name.clone(),
                expected: expected.to_string(),
            });
        }
    }
    Ok(())
}

/// The QR code of a verification URL, as SVG.
pub fn qr_svg(url: &str) -> String {
    match qrcode::QrCode::new(url.as_bytes()) {
        Ok(code) => code
            .render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(120, 120)
            .quiet_zone(true)
            .build(),
        Err(_) => String::new(),
    }
}

/// One document's view: the templates, its data, its date. Nothing else.
struct DocumentWorld<'a> {
    renderer: &'a Renderer,
    main: FileId,
    data: Bytes,
    today: Option<Datetime>,
}

impl World for DocumentWorld<'_> {
    fn library(&self) -> &LazyHash<Library> {
        &self.renderer.library
    }

    fn book(&self) -> &LazyHash<FontBook> {
        self.renderer.fonts.book()
    }

    fn main(&self) -> FileId {
        self.main
    }

    fn source(&self, id: FileId) -> FileResult<Source> {
        self.renderer
            .sources
            .get(&id)
            .cloned()
            .ok_or_else(|| not_found(id))
    }

    fn file(&self, id: FileId) -> FileResult<Bytes> {
        if id == self.renderer.data_id {
            return Ok(self.data.clone());
        }
        if let Some(bytes) = self.renderer.data_files.get(&id) {
            return Ok(bytes.clone());
        }
        match self.renderer.sources.get(&id) {
            Some(source) => Ok(Bytes::from_string(source.clone())),
            None => Err(not_found(id)),
        }
    }

    fn font(&self, index: usize) -> Option<Font> {
        self.renderer.fonts.font(index)
    }

    fn today(&self, _offset: Option<typst::foundations::Duration>) -> Option<Datetime> {
        self.today
    }
}

fn not_found(id: FileId) -> FileError {
    FileError::NotFound(id.get().vpath().get_with_slash().into())
}

/// The appeal rights a refusal to accept states (行政复议法 art. 20,
/// 行政诉讼法 art. 46); a decision's remedy follows its legal form
/// ([`crate::dsl::ir::LegalForm::remedy`]).
pub const APPEAL: &str = "如不服本决定，可以自收到本文书之日起六十日内依法申请行政复议，或者六个月内依法向人民法院提起行政诉讼。";

/// What the engine knows that a document prints, beyond the filing itself.
pub struct DocumentFacts<'a> {
    /// The department in whose name it is issued (a district's for a
    /// `local` part); its definition names the city department.
    pub issued_by: &'a str,
    pub number: Option<&'a str>,
    pub verify_code: &'a str,
    pub verify_url: String,
    pub issued_on: jiff::civil::Date,
    /// The promised due date, when known.
    pub due_on: Option<jiff::civil::Date>,
    /// Said after it: empty, or that it is provisional
    /// ([`crate::calendar::Calendar::note`]).
    pub due_note: &'static str,
}

/// The data of one issued document: every input its template declares,
/// from the filing (form and fact fields) or from what the engine knows.
pub fn document_data(
    workflow: &crate::dsl::Workflow,
    filing: &crate::engine::Filing,
    outcome: &crate::dsl::ir::Outcome,
    facts: &DocumentFacts<'_>,
) -> serde_json::Map<String, serde_json::Value> {
    use crate::dsl::ir::{InputSource, Value};
    use serde_json::Value as Json;
    let date = |d: jiff::civil::Date| Json::String(d.to_string());
    let list = |items: Vec<String>| Json::Array(items.into_iter().map(Json::String).collect());
    let mut data = serde_json::Map::new();
    for (input, source) in &outcome.inputs {
        let value = match source {
            InputSource::Field(field) => filing.values.get(field).map(|value| match value {
                Value::Text(text) => Json::String(text.clone()),
                Value::Int(number) => Json::from(*number),
                Value::Money(_) => Json::String(value.display()),
                Value::Bool(flag) => Json::Bool(*flag),
                Value::Date(day) => date(*day),
                Value::List(items) => list(items.clone()),
            }),
            InputSource::System(system) => system_value(workflow, filing, outcome, facts, *system),
        };
        if let Some(value) = value {
            data.insert(input.clone(), value);
        }
    }
    data
}

/// Whether an outcome ends a department's part (rather than intake or the
/// parties' signing): it then speaks only of that part.
fn of_part(outcome: &crate::dsl::ir::Outcome) -> bool {
    use crate::dsl::ir::Event;
    matches!(
        outcome.event,
        Event::Approved | Event::Rejected | Event::Filed
    )
}

/// The value the system supplies for one of its inputs.
fn system_value(
    workflow: &crate::dsl::Workflow,
    filing: &crate::engine::Filing,
    outcome: &crate::dsl::ir::Outcome,
    facts: &DocumentFacts<'_>,
    input: crate::dsl::ir::SystemInput,
) -> Option<serde_json::Value> {
    use crate::dsl::ir::{StepKind, SystemInput};
    use crate::engine::state::StepStatus;
    use serde_json::Value as Json;
    let date = |d: jiff::civil::Date| Json::String(d.to_string());
    let list = |items: Vec<String>| Json::Array(items.into_iter().map(Json::String).collect());
    match input {
        SystemInput::Number => Some(Json::String(facts.number.unwrap_or_default().to_string())),
        SystemInput::IssuedOn => Some(date(facts.issued_on)),
        SystemInput::Department => Some(Json::String(workflow.department_name(facts.issued_by))),
        SystemInput::Applicant => Some(Json::String(filing.applicant.clone())),
        SystemInput::FilingId => Some(Json::String(filing.id.clone())),
        SystemInput::WorkflowTitle => Some(Json::String(workflow.title.clone())),
        SystemInput::VerifyCode => Some(Json::String(facts.verify_code.to_string())),
        SystemInput::VerifyUrl => Some(Json::String(facts.verify_url.clone())),
        SystemInput::Reasons => Some(list(match (outcome.event, &filing.extension) {
            (crate::dsl::ir::Event::Extended, Some(extension)) => vec![extension.reason.clone()],
            _ => filing.reasons_of(&outcome.issued_by).to_vec(),
        })),
        SystemInput::Corrections => Some(list(
            filing
                .latest_correction()
                .map(|c| {
                    c.items
                        .iter()
                        .map(|item| workflow.item_words(item))
                        .collect()
                })
                .unwrap_or_default(),
        )),
        SystemInput::Materials => Some(list(
            workflow
                .materials
                .iter()
                .filter(|m| filing.materials.contains_key(&m.id))
                .map(|m| m.label.clone())
                .collect(),
        )),
        SystemInput::ReceivedOn => Some(date(filing.received_on.unwrap_or(facts.issued_on))),
        SystemInput::AcceptedOn => Some(date(filing.accepted_on.unwrap_or(facts.issued_on))),
        SystemInput::DecidedOn => Some(date(
            filing
                .parts
                .get(&outcome.issued_by)
                .map(|part| part.on)
                .or(filing.decided_on)
                .unwrap_or(facts.issued_on),
        )),
        SystemInput::DueOn => facts.due_on.map(date),
        SystemInput::DueNote => Some(serde_json::Value::String(facts.due_note.to_string())),
        SystemInput::ValidUntil => {
            crate::registry::valid_until(workflow, filing, facts.issued_on).map(date)
        }
        SystemInput::Basis => Some(list(workflow.basis.clone())),
        SystemInput::Parties => Some(list(
            workflow.parties.iter().map(|p| p.name.clone()).collect(),
        )),
        SystemInput::Steps => Some(list(
            workflow
                .steps
                .iter()
                .zip(&filing.steps)
                .filter(|(step, _)| {
                    !of_part(outcome) || step.department.as_ref() == Some(&outcome.issued_by)
                })
                .filter(|(_, state)| matches!(state.status, StepStatus::Done { .. }))
                .map(|(step, _)| step.label.clone())
                .collect(),
        )),
        SystemInput::Title => Some(Json::String(outcome.title.clone())),
        SystemInput::Consequence => Some(Json::String(
            if outcome.event == crate::dsl::ir::Event::Rejected {
                workflow
                    .consequences_for(&|name| filing.values.get(name))
                    .join("；")
            } else {
                String::new()
            },
        )),
        SystemInput::FiledWith => {
            let mut names: Vec<String> = Vec::new();
            for step in workflow.steps.iter().filter(|s| s.kind == StepKind::Filing) {
                let name = workflow.department_name(step.department.as_deref().unwrap_or_default());
                if !names.contains(&name) {
                    names.push(name);
                }
            }
            Some(list(names))
        }
        SystemInput::Result => {
            let form = match outcome.event {
                crate::dsl::ir::Event::Signed => crate::dsl::ir::LegalForm::Contract,
                _ => workflow.part_form(&outcome.issued_by).unwrap_or_default(),
            };
            let granted = outcome.event != crate::dsl::ir::Event::Rejected;
            Some(Json::String(form.wording(granted).to_string()))
        }
        SystemInput::Appeal => Some(Json::String(if of_part(outcome) {
            workflow
                .part_form(&outcome.issued_by)
                .unwrap_or_default()
                .remedy()
                .to_string()
        } else {
            APPEAL.to_string()
        })),
    }
}
