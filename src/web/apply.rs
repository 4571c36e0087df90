//! The applicant's pages: their filings, and the form generated from a
//! procedure's definition with its materials, submitted with an
//! idempotency key so a double click files once.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};

use super::auth::{SignedIn, Viewer, Web};
use super::error::WebError;
use super::page::{day, render, Nav};
use super::routes::{Route, APPLICANT};
use crate::app::accounts::{random_token, Account};
use crate::app::{AppError, Application, Door, Problem, Upload};
use crate::dsl::ir::{Field, FieldType, Requirement, Value};
use crate::dsl::Workflow;
use crate::engine::submission::{signatory_subject, DEFAULT_KINDS};

pub fn routes() -> Vec<Route> {
    vec![
        Route::get("/my", APPLICANT, my_filings),
        Route::get("/procedures/{id}/apply", APPLICANT, form_page),
        Route::post("/procedures/{id}/apply", APPLICANT, submit),
    ]
}

/// A filing in the applicant's list.
struct Row {
    id: String,
    workflow_title: String,
    status_label: String,
    received_on: String,
    decided_on: String,
}

#[derive(Template)]
#[template(path = "my.html")]
struct MyPage {
    nav: Nav,
    filings: Vec<Row>,
}

async fn my_filings(
    State(web): State<Web>,
    SignedIn { account, viewer }: SignedIn,
) -> Result<Html<String>, WebError> {
    let filings = web
        .app
        .filings_of(&account.email)
        .await?
        .into_iter()
        .map(|f| Row {
            id: f.id,
            workflow_title: f.workflow_title,
            status_label: f.status_label,
            received_on: day(f.received_on),
            decided_on: day(f.decided_on),
        })
        .collect();
    render(&MyPage {
        nav: Nav::of(&viewer),
        filings,
    })
}

/// A form field, or a fact to declare, as the page shows it.
struct FieldInput {
    id: String,
    /// The input's name: the field's id, a fact's behind [`FACT_PREFIX`].
    name: String,
    label: String,
    /// `text`, `number`, `date`, `checkbox`, `select` or `textarea`.
    input: &'static str,
    unit: &'static str,
    required: bool,
    min: Option<i64>,
    max: Option<i64>,
    value: String,
    checked: bool,
    /// Each choice's value, its words, and whether it is the one chosen.
    choices: Vec<(String, String, bool)>,
    help: Option<String>,
    error: Option<String>,
}

/// A material of the list as the page asks for it.
struct MaterialInput {
    id: String,
    label: String,
    requirement: String,
    deferrable: bool,
    accept: String,
    kinds: String,
    help: Option<String>,
    error: Option<String>,
    /// A file this account uploaded with a refused application: sent again
    /// (hidden) unless another is chosen. Its SHA-256 and name.
    kept: Option<(String, String)>,
}

#[derive(Template)]
#[template(path = "apply.html")]
struct ApplyPage {
    nav: Nav,
    workflow: String,
    title: String,
    key: String,
    applicant: String,
    email: String,
    max_upload_mb: u64,
    fields: Vec<FieldInput>,
    facts: Vec<FieldInput>,
    /// Who signs for each party of an agreement: an address per party.
    signatories: Vec<FieldInput>,
    materials: Vec<MaterialInput>,
    general: Vec<String>,
    has_field_errors: bool,
    had_files: bool,
}

/// What was typed, to show again after a refusal.
type Typed = BTreeMap<String, String>;

/// The inputs of fields (the form's, or the facts' behind `prefix`): a
/// fact is never required of the page (the registry may know it), and a
/// yes-or-no fact is a choice, so that leaving it is not declaring "no".
fn field_inputs(
    fields: &[Field],
    prefix: &str,
    typed: &Typed,
    problems: &[Problem],
) -> Vec<FieldInput> {
    let is_fact = !prefix.is_empty();
    fields
        .iter()
        .map(|field| {
            let (input, unit) = match &field.ty {
                FieldType::Text | FieldType::CreditCode => ("text", ""),
                FieldType::Int => ("number", ""),
                FieldType::Money => ("text", "元"),
                FieldType::Bool if is_fact => ("select", ""),
                FieldType::Bool => ("checkbox", ""),
                FieldType::Date => ("date", ""),
                FieldType::List => ("textarea", "每行一项"),
                FieldType::Choice(_) => ("select", ""),
            };
            let name = format!("{prefix}{}", field.id);
            let default = field.default.as_ref().map(default_text).unwrap_or_default();
            let value = typed.get(&name).cloned().unwrap_or(default);
            let choices: Vec<(String, String)> = match &field.ty {
                FieldType::Choice(choices) => {
                    choices.iter().map(|c| (c.clone(), c.clone())).collect()
                }
                FieldType::Bool if is_fact => vec![
                    ("true".to_string(), "是".to_string()),
                    ("false".to_string(), "否".to_string()),
                ],
                _ => Vec::new(),
            };
            FieldInput {
                id: name.replace(':', "-"),
                name,
                label: field.label.clone(),
                input,
                unit,
                required: field.required && field.ty != FieldType::Bool && !is_fact,
                min: field.min.filter(|_| field.ty == FieldType::Int),
                max: field.max.filter(|_| field.ty == FieldType::Int),
                checked: value == "true",
                choices: choices
                    .into_iter()
                    .map(|(choice, words)| {
                        let chosen = choice == value;
                        (choice, words, chosen)
                    })
                    .collect(),
                value,
                help: field.help.clone(),
                error: message_about(problems, &field.id),
            }
        })
        .collect()
}

/// The address of the account that signs for each party of an agreement
/// (`party:ID`); the applicant's own is offered for none: each party is
/// named on purpose.
fn signatory_inputs(workflow: &Workflow, typed: &Typed, problems: &[Problem]) -> Vec<FieldInput> {
    workflow
        .parties
        .iter()
        .map(|party| {
            let name = signatory_subject(&party.id);
            FieldInput {
                id: name.replace(':', "-"),
                label: format!("{}签章人的电子邮箱", party.name),
                input: "email",
                unit: "",
                required: true,
                min: None,
                max: None,
                value: typed.get(&name).cloned().unwrap_or_default(),
                checked: false,
                choices: Vec::new(),
                help: Some(format!(
                    "受理后，{}以此邮箱的申请人账号登录平台签章；尚无账号的，请用此邮箱注册",
                    party.name
                )),
                error: message_about(problems, &name),
                name,
            }
        })
        .collect()
}

/// A default as the form field holds it.
fn default_text(value: &Value) -> String {
    match value {
        Value::Money(fen) => format!("{}.{:02}", fen / 100, fen.abs() % 100),
        Value::Bool(flag) => flag.to_string(),
        Value::List(items) => items.join("\n"),
        other => other.display(),
    }
}

fn message_about(problems: &[Problem], subject: &str) -> Option<String> {
    let messages: Vec<&str> = problems
        .iter()
        .filter(|p| p.subject.as_deref() == Some(subject))
        .map(|p| p.message.as_str())
        .collect();
    (!messages.is_empty()).then(|| messages.join("；"))
}

/// The name prefix of a kept upload's hidden input (`kept:MATERIAL`, its
/// value `SHA256 NAME`).
const KEPT_PREFIX: &str = "kept:";

/// The uploads a refused application carried, from their hidden inputs:
/// material → (SHA-256, name). Malformed ones are dropped; whether the
/// account sent them is [`crate::app::App::uploaded`]'s to say.
fn kept_uploads(typed: &Typed) -> BTreeMap<String, (String, String)> {
    typed
        .iter()
        .filter_map(|(name, value)| {
            let material = name.strip_prefix(KEPT_PREFIX)?;
            let (sha256, file) = value.split_once(' ')?;
            let hex = sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit());
            hex.then(|| (material.to_string(), (sha256.to_string(), file.to_string())))
        })
        .collect()
}

fn material_inputs(
    workflow: &Workflow,
    problems: &[Problem],
    kept: &BTreeMap<String, Upload>,
) -> Vec<MaterialInput> {
    workflow
        .materials
        .iter()
        .map(|material| {
            let kinds: Vec<String> = if material.kinds.is_empty() {
                DEFAULT_KINDS.iter().map(|k| (*k).to_string()).collect()
            } else {
                material.kinds.clone()
            };
            MaterialInput {
                id: material.id.clone(),
                label: material.label.clone(),
                requirement: requirement_words(workflow, material),
                deferrable: material.deferrable,
                accept: kinds
                    .iter()
                    .map(|k| format!(".{k}"))
                    .collect::<Vec<_>>()
                    .join(","),
                kinds: kinds
                    .iter()
                    .map(|k| k.to_uppercase())
                    .collect::<Vec<_>>()
                    .join("、"),
                help: material.help.clone(),
                error: message_about(problems, &material.id),
                kept: kept
                    .get(&material.id)
                    .map(|upload| (upload.sha256.clone(), upload.name.clone())),
            }
        })
        .collect()
}

/// When a material must be given, in the applicant's words: a material
/// that proves a fact says which fact declared makes it required.
fn requirement_words(workflow: &Workflow, material: &crate::dsl::ir::Material) -> String {
    let proves: Vec<&str> = workflow
        .facts
        .iter()
        .filter(|fact| fact.evidence.as_deref() == Some(material.id.as_str()))
        .map(|fact| fact.label.as_str())
        .collect();
    match &material.requirement {
        Requirement::Required => "必交".to_string(),
        Requirement::RequiredWhen(condition) => {
            format!("{}时必交", condition.describe(workflow))
        }
        Requirement::Optional if !proves.is_empty() => {
            format!("申报“{}”时必交", proves.join("”“"))
        }
        Requirement::Optional => "选交".to_string(),
    }
}

struct Refill<'a> {
    typed: &'a Typed,
    problems: &'a [Problem],
    key: String,
    applicant: String,
    had_files: bool,
    /// The uploads to keep for the next try.
    kept: &'a BTreeMap<String, Upload>,
}

fn apply_page(
    web: &Web,
    viewer: &Viewer,
    account: &Account,
    workflow: &Workflow,
    refill: Refill<'_>,
) -> Result<Html<String>, WebError> {
    let subjects: Vec<&str> = workflow
        .form
        .iter()
        .chain(&workflow.facts)
        .map(|f| f.id.as_str())
        .chain(workflow.materials.iter().map(|m| m.id.as_str()))
        .collect();
    let signatories = signatory_inputs(workflow, refill.typed, refill.problems);
    let subjects: Vec<&str> = subjects
        .into_iter()
        .chain(signatories.iter().map(|s| s.name.as_str()))
        .collect();
    let general = refill
        .problems
        .iter()
        .filter(|p| p.subject.as_deref().is_none_or(|s| !subjects.contains(&s)))
        .map(|p| p.message.clone())
        .collect();
    let has_field_errors = refill
        .problems
        .iter()
        .any(|p| p.subject.as_deref().is_some_and(|s| subjects.contains(&s)));
    render(&ApplyPage {
        nav: Nav::of(viewer),
        workflow: workflow.id.clone(),
        title: workflow.title.clone(),
        key: refill.key,
        applicant: refill.applicant,
        email: account.email.clone(),
        max_upload_mb: web.app.config().max_upload / (1024 * 1024),
        fields: field_inputs(&workflow.form, "", refill.typed, refill.problems),
        facts: field_inputs(&workflow.facts, FACT_PREFIX, refill.typed, refill.problems),
        materials: material_inputs(workflow, refill.problems, refill.kept),
        signatories,
        has_field_errors,
        general,
        had_files: refill.had_files,
    })
}

async fn form_page(
    State(web): State<Web>,
    SignedIn { viewer, account }: SignedIn,
    Path(id): Path<String>,
) -> Result<Html<String>, WebError> {
    let workflow = web.app.workflow(&id)?;
    let refill = Refill {
        typed: &Typed::new(),
        problems: &[],
        key: random_token(),
        applicant: account.name.clone(),
        had_files: false,
        kept: &BTreeMap::new(),
    };
    apply_page(&web, &viewer, &account, &workflow, refill)
}

/// A posted application: text fields, and files by material.
#[derive(Default)]
struct Posted {
    fields: Typed,
    files: Vec<(String, String, Vec<u8>)>,
}

/// The longest text a form field takes (the engine's limit, at every door).
const MAX_TEXT: usize = crate::engine::submission::MAX_TEXT;

/// Reads a multipart body; the form token must come first, before any file
/// is looked at.
pub(super) async fn read_multipart(
    viewer: &Viewer,
    mut multipart: Multipart,
) -> Result<(Typed, Vec<(String, String, Vec<u8>)>), WebError> {
    let too_large = |error: axum::extract::multipart::MultipartError| {
        if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
            WebError::TooLarge("上传的文件合计超过了允许的大小，请压缩或分开提交。".to_string())
        } else {
            WebError::BadRequest(format!("表单无法读取：{}", error.body_text()))
        }
    };
    // Text as sent, UTF-8 only: never decoded lossily, nor guessed as
    // UTF-16 from a byte-order mark.
    let text_of = |name: &str, bytes: axum::body::Bytes| {
        String::from_utf8(bytes.to_vec()).map_err(|_| {
            WebError::BadRequest(format!("“{name}”不是有效的 UTF-8 文字，未作任何改动"))
        })
    };
    let mut posted = Posted::default();
    let mut checked = false;
    while let Some(field) = multipart.next_field().await.map_err(too_large)? {
        let name = field.name().unwrap_or_default().to_string();
        if !checked {
            if name != "csrf" {
                return Err(WebError::Csrf);
            }
            viewer.check(&text_of(&name, field.bytes().await.map_err(too_large)?)?)?;
            checked = true;
            continue;
        }
        if let Some(material) = name.strip_prefix("material:") {
            let file = field.file_name().unwrap_or_default().to_string();
            let bytes = field.bytes().await.map_err(too_large)?;
            if !file.is_empty() && !bytes.is_empty() {
                posted
                    .files
                    .push((material.to_string(), file, bytes.to_vec()));
            }
        } else {
            let text = text_of(&name, field.bytes().await.map_err(too_large)?)?;
            if text.chars().count() > MAX_TEXT {
                return Err(WebError::BadRequest(format!("“{name}”超过{MAX_TEXT}个字")));
            }
            posted.fields.insert(name, text);
        }
    }
    if !checked {
        return Err(WebError::Csrf);
    }
    Ok((posted.fields, posted.files))
}

/// Stores each file (its kind from its name, checked by content); a refused
/// file is a problem of its material.
pub(super) async fn store_files(
    web: &Web,
    account: &Account,
    files: Vec<(String, String, Vec<u8>)>,
) -> Result<(BTreeMap<String, Upload>, Vec<Problem>), WebError> {
    let mut uploads = BTreeMap::new();
    let mut problems = Vec::new();
    for (material, file, bytes) in files {
        let name = crate::app::upload_name(&file);
        match web.app.upload(account, &file, &bytes).await {
            Ok(upload) => {
                uploads.insert(material, upload);
            }
            Err(error) => match error.upload_refusal() {
                Some(message) => {
                    problems.push(Problem::about(&material, format!("“{name}”：{message}")));
                }
                None => return Err(error.into()),
            },
        }
    }
    Ok((uploads, problems))
}

/// The name prefix of a declared fact's input, apart from the form's.
const FACT_PREFIX: &str = "fact:";

/// The fields' values as the engine reads them: HTML sends text, a ticked
/// box or nothing, a list one item per line; empty means not given. A fact
/// is declared with a yes/no choice, so a box left alone is not a "no".
fn form_values(
    fields: &[Field],
    typed: &Typed,
    prefix: &str,
) -> serde_json::Map<String, serde_json::Value> {
    use serde_json::Value as Json;
    let mut form = serde_json::Map::new();
    for field in fields {
        let text = typed
            .get(&format!("{prefix}{}", field.id))
            .map(|t| t.trim())
            .unwrap_or_default();
        let value = match &field.ty {
            FieldType::Bool if prefix.is_empty() => Json::Bool(text == "true"),
            FieldType::Bool if text.is_empty() => continue,
            FieldType::Bool => Json::Bool(text == "true"),
            _ if text.is_empty() => continue,
            FieldType::List => Json::Array(
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(|l| Json::String(l.to_string()))
                    .collect(),
            ),
            _ => Json::String(text.to_string()),
        };
        form.insert(field.id.clone(), value);
    }
    form
}

async fn submit(
    State(web): State<Web>,
    SignedIn { viewer, account }: SignedIn,
    Path(id): Path<String>,
    multipart: Multipart,
) -> Result<Response, WebError> {
    let workflow = web.app.workflow(&id)?;
    let (typed, files) = read_multipart(&viewer, multipart).await?;
    let had_files = !files.is_empty();
    // Files kept from a refused try, unless another is chosen now.
    let mut materials = match web.app.uploaded(&account, kept_uploads(&typed)).await {
        Ok(kept) => kept,
        Err(AppError::Invalid(_)) => BTreeMap::new(),
        Err(other) => return Err(other.into()),
    };
    let (chosen, mut problems) = store_files(&web, &account, files).await?;
    materials.extend(chosen);
    let key = typed
        .get("key")
        .filter(|k| k.len() == 64 && k.chars().all(|c| c.is_ascii_hexdigit()))
        .cloned()
        .unwrap_or_else(random_token);
    let applicant = typed.get("applicant").cloned().unwrap_or_default();
    if problems.is_empty() {
        let application = Application {
            workflow: workflow.id.clone(),
            applicant: applicant.clone(),
            form: form_values(&workflow.form, &typed, ""),
            facts: form_values(&workflow.facts, &typed, FACT_PREFIX),
            signatories: workflow
                .parties
                .iter()
                .filter_map(|party| {
                    let email = typed.get(&signatory_subject(&party.id))?.trim();
                    (!email.is_empty()).then(|| (party.id.clone(), email.to_string()))
                })
                .collect(),
            materials: materials.clone(),
            key: Some((Door::Pages, key.clone())),
        };
        match web.app.submit_as(&account, application).await {
            Ok(view) => return Ok(Redirect::to(&format!("/filings/{}", view.id)).into_response()),
            Err(AppError::Invalid(found)) => problems = found,
            Err(other) => return Err(other.into()),
        }
    }
    let refill = Refill {
        typed: &typed,
        problems: &problems,
        key,
        applicant,
        had_files,
        kept: &materials,
    };
    let page = apply_page(&web, &viewer, &account, &workflow, refill)?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}
