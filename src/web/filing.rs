//! One filing's page for everyone who may see it — the applicant, the
//! window, the departments with a step in it — with the actions each may
//! take, and its documents and materials to download.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::apply::{read_multipart, store_files};
use super::auth::{Posted, SignedIn, Web};
use super::error::WebError;
use super::page::{day, level_words, render, Nav};
use super::routes::{Route, APPLICANT, FILING, HEAD};
use crate::app::access::{DocumentView, FilingDetail};
use crate::app::accounts::random_token;
use crate::app::actions::{ActionRequest, Actions, Done};
use crate::app::ratings::{Rating, RatingView, LEVELS};
use crate::app::views::{FilingView, StepResult, StepType, StepView};

pub fn routes() -> Vec<Route> {
    vec![
        Route::get("/filings/{id}", FILING, filing_page),
        Route::post("/filings/{id}/act", FILING, act),
        Route::post("/filings/{id}/answer", APPLICANT, answer),
        Route::post("/filings/{id}/deferred", APPLICANT, deferred),
        Route::post("/filings/{id}/rate", APPLICANT, rate),
        Route::get("/filings/{id}/documents/{code}", FILING, document),
        Route::get("/filings/{id}/materials/{material}", FILING, material),
        Route::get(
            "/filings/{id}/materials/{material}/preview",
            FILING,
            preview,
        ),
        Route::get("/ratings", HEAD, poor_ratings),
        Route::post("/ratings/{id}/answer", HEAD, answer_rating),
    ]
}

/// A step as the page shows it.
struct StepRow {
    index: usize,
    label: String,
    taken_by: String,
    state: &'static str,
    /// `green`, `yellow`, `red`, `paused`; empty unless active.
    level: &'static str,
    level_label: &'static str,
    since: String,
    due_on: String,
    outcome: &'static str,
    reasons: Vec<String>,
    /// What the viewer may do on it ([`Actions`]); none: no actions shown.
    may: Vec<Done>,
    claimed_by: Option<String>,
    grant_action: &'static str,
    grant_label: &'static str,
}

impl StepRow {
    fn may(&self, action: &str) -> bool {
        self.may.iter().any(|done| done.name() == action)
    }
}

fn step_row(step: &StepView, actions: &Actions, claims: &[(Option<usize>, String)]) -> StepRow {
    let level = step.level.map_or("", |level| level.name());
    StepRow {
        index: step.index,
        label: step.label.clone(),
        taken_by: step.taken_by.clone(),
        state: step.state.words(),
        level_label: level_words(level),
        level,
        since: day(step.since),
        due_on: day(step.due_on),
        outcome: step.outcome.map_or("", StepResult::words),
        reasons: step.reasons.clone(),
        may: actions.on_step(step.index).to_vec(),
        claimed_by: claims
            .iter()
            .find(|(s, _)| *s == Some(step.index))
            .map(|(_, holder)| holder.clone()),
        grant_action: if step.kind == StepType::Filing {
            "file"
        } else {
            "approve"
        },
        grant_label: if step.kind == StepType::Filing {
            "备案"
        } else {
            "准予"
        },
    }
}

#[derive(Template)]
#[template(path = "filing.html")]
struct FilingPage {
    nav: Nav,
    f: FilingView,
    /// The signatures the viewer may give: (step, party id, the party's
    /// name, the step's label).
    signs: Vec<(usize, String, String, String)>,
    flash: Option<&'static str>,
    received_on: String,
    accepted_on: String,
    promised_due: String,
    legal_due: String,
    decided_on: String,
    steps: Vec<StepRow>,
    documents: Vec<DocumentView>,
    key: String,
    /// The applicant's own query code.
    query_code: Option<String>,
    rating: Option<RatingView>,
    levels: [(u8, &'static str); 5],
    applicant: bool,
    answering: bool,
    /// The open correction names materials: the answer asks for those
    /// only; otherwise (items in the window's words) for what applies.
    asks_materials: bool,
    has_deferred: bool,
    open: bool,
    /// The applicant may withdraw it.
    withdraw: bool,
    /// The window may take it in (accept, correct, refuse).
    window: bool,
    /// The head may extend its limit.
    head: bool,
}

impl FilingPage {
    /// Whether a material of this kind is shown in the page as an image
    /// ([`preview`]).
    fn pictured(&self, kind: Option<&str>) -> bool {
        kind.and_then(preview_type) == Some(Preview::Image)
    }

    /// Whether a material of this kind is shown in the page in a frame,
    /// by the browser's PDF viewer ([`preview`]).
    fn framed(&self, kind: Option<&str>) -> bool {
        kind.and_then(preview_type) == Some(Preview::Pdf)
    }
}

#[derive(Deserialize)]
struct DoneQuery {
    done: Option<String>,
}

/// What the page says after an action.
fn flash(done: &str) -> Option<&'static str> {
    Some(match done {
        "accept" => "已受理，各审查部门已收到待办。",
        "correct" | "step_correct" => "已出具补正通知，申请人将收到邮件。",
        "refuse_intake" => "已作出不予受理决定。",
        "approve" => "已作出准予的审查意见。",
        "file" => "已予备案。",
        "refuse" => "已作出不予的审查意见。",
        "pause" => "已中止计时，申请人将收到告知。",
        "resume" => "已恢复计时。",
        "extend" => "已批准延长办理期限，申请人将收到告知。",
        "withdraw" => "申请已撤回。",
        "sign" => "已签章；各方均签章后协议生效并出具。",
        "answer" => "补正材料已提交。",
        "deferred" => "容缺材料已补交。",
        "rated" => "感谢您的评价。",
        "claim" => "已认领。",
        "release" => "已释放，本部门其他人员可认领。",
        "taken" => "此项已由同事认领。",
        _ => return None,
    })
}

async fn filing_page(
    State(web): State<Web>,
    SignedIn { viewer, account }: SignedIn,
    Path(id): Path<String>,
    Query(done): Query<DoneQuery>,
) -> Result<Html<String>, WebError> {
    let today = web.app.today();
    let FilingDetail {
        view: f,
        documents,
        claims,
        rating,
        query_code,
        own,
        actions,
    } = web.app.filing_detail(&account, &id, today).await?;
    // Who holds a step, by name.
    let holders: Vec<&str> = claims.iter().map(|(_, holder)| holder.as_str()).collect();
    let names = web.app.names_of(&holders).await?;
    let claims: Vec<(Option<usize>, String)> = claims
        .into_iter()
        .map(|(step, holder)| (step, names.get(&holder).cloned().unwrap_or(holder)))
        .collect();
    let steps = f
        .steps
        .iter()
        .map(|s| step_row(s, &actions, &claims))
        .collect();
    let workflow = web.app.workflow_version(&f.workflow, f.version)?;
    let signs = actions
        .signs
        .iter()
        .map(|(step, party)| {
            let name = workflow
                .parties
                .iter()
                .find(|p| &p.id == party)
                .map_or_else(|| party.clone(), |p| p.name.clone());
            let label = workflow
                .steps
                .get(*step)
                .map_or_else(String::new, |s| s.label.clone());
            (*step, party.clone(), name, label)
        })
        .collect();
    let decided = f.status.is_over();
    // The applicant who filed it; a party's signatory only sees it and signs.
    let applicant = own;
    render(&FilingPage {
        query_code,
        rating,
        levels: LEVELS,
        nav: Nav::of(&viewer),
        flash: done.done.as_deref().and_then(flash),
        received_on: day(f.received_on),
        accepted_on: day(f.accepted_on),
        promised_due: day(f.promised_due),
        legal_due: day(f.legal_due),
        decided_on: day(f.decided_on),
        steps,
        signs,
        documents,
        key: random_token(),
        answering: applicant && f.corrections.iter().any(|c| c.answered_on.is_none()),
        asks_materials: f.materials.iter().any(|m| m.asked),
        has_deferred: applicant && f.materials.iter().any(|m| m.deferred),
        open: applicant && !decided,
        applicant,
        withdraw: actions.filing.contains(&Done::Withdraw),
        window: !actions.intake.is_empty(),
        head: actions.filing.contains(&Done::Extend),
        f,
    })
}

/// Lines of a text box, trimmed, empty ones dropped.
fn lines(text: Option<&String>) -> Vec<String> {
    text.map(|t| {
        t.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    })
    .unwrap_or_default()
}

/// An action as a page's form posts it: ticked `item:ID` boxes and an
/// `other` text box make the items; text boxes hold one reason per line;
/// numbers are typed. Read as the API reads its body ([`ActionRequest`]).
fn action_from_form(form: &HashMap<String, String>) -> Result<ActionRequest, WebError> {
    let mut items: Vec<String> = form
        .keys()
        .filter_map(|key| key.strip_prefix("item:"))
        .map(str::to_string)
        .collect();
    items.sort();
    items.extend(lines(form.get("other")));
    let mut sent = serde_json::json!({
        "reasons": lines(form.get("reasons")),
        "items": items,
    });
    let typed = |key: &str| form.get(key).map(|v| v.trim()).filter(|v| !v.is_empty());
    for key in ["action", "kind", "reason", "party"] {
        if let Some(text) = form.get(key).filter(|v| !v.is_empty()) {
            sent[key] = text.as_str().into();
        }
    }
    for key in ["step", "days", "revision"] {
        if let Some(number) = typed(key) {
            let number: i64 = number
                .parse()
                .map_err(|_| WebError::BadRequest(format!("“{key}”应为数字")))?;
            sent[key] = number.into();
        }
    }
    super::input::from_value(sent)
}

async fn act(
    State(web): State<Web>,
    Path(id): Path<String>,
    posted: Posted<HashMap<String, String>>,
) -> Result<Response, WebError> {
    let Posted { viewer, form, .. } = posted;
    let account = viewer.signed_in()?;
    let request = action_from_form(&form)?;
    let done = web.app.carry_out(account, &id, &request).await?;
    Ok(Redirect::to(&format!("/filings/{id}?done={}", done.name())).into_response())
}

/// The applicant answers a correction with files.
async fn answer(
    State(web): State<Web>,
    signed_in: SignedIn,
    Path(id): Path<String>,
    multipart: Multipart,
) -> Result<Response, WebError> {
    upload_answer(web, signed_in, id, multipart, "answer").await
}

/// The applicant supplies deferred (容缺) materials.
async fn deferred(
    State(web): State<Web>,
    signed_in: SignedIn,
    Path(id): Path<String>,
    multipart: Multipart,
) -> Result<Response, WebError> {
    upload_answer(web, signed_in, id, multipart, "deferred").await
}

async fn upload_answer(
    web: Web,
    SignedIn { viewer, account }: SignedIn,
    id: String,
    multipart: Multipart,
    what: &'static str,
) -> Result<Response, WebError> {
    let (typed, files) = read_multipart(&viewer, multipart).await?;
    let (uploads, problems) = store_files(&web, &account, files).await?;
    if !problems.is_empty() {
        // Said as any invalid input is: every problem, by its material.
        return Err(crate::app::AppError::Invalid(problems).into());
    }
    if uploads.is_empty() {
        return Err(WebError::BadRequest("请选择要提交的文件".to_string()));
    }
    let key = typed
        .get("key")
        .map(|k| format!("web:{}:{what}:{k}", account.email));
    let now = web.app.now();
    if what == "answer" {
        web.app
            .answer_correction(&account, &id, uploads, key, now)
            .await?;
    } else {
        web.app
            .supply_deferred(&account, &id, uploads, key, now)
            .await?;
    }
    Ok(Redirect::to(&format!("/filings/{id}?done={what}")).into_response())
}

/// A download: saved, never shown inline, never sniffed.
pub(super) fn attachment(name: &str, content_type: &'static str, bytes: Vec<u8>) -> Response {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let disposition = format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{}",
        super::auth::encode_query(name)
    );
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, "private, no-store".to_string()),
        ],
        bytes,
    )
        .into_response()
}

async fn document(
    State(web): State<Web>,
    SignedIn { account, .. }: SignedIn,
    Path((id, code)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let (name, bytes) = web.app.document_pdf(&account, &id, &code).await?;
    Ok(attachment(&name, "application/pdf", bytes))
}

async fn material(
    State(web): State<Web>,
    SignedIn { account, .. }: SignedIn,
    Path((id, material)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let (upload, bytes) = web.app.material_file(&account, &id, &material).await?;
    let content_type = content_type(&upload.kind).unwrap_or("application/octet-stream");
    Ok(attachment(&upload.name, content_type, bytes))
}

/// A material shown in the filing's page: images in an `<img>`, PDFs in a
/// frame of the filing's own page (the only page that may frame it). Its
/// kind was checked by content when it was stored; never sniffed. Other
/// kinds are downloads only.
async fn preview(
    State(web): State<Web>,
    SignedIn { account, .. }: SignedIn,
    Path((id, material)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let (upload, bytes) = web.app.material_file(&account, &id, &material).await?;
    preview_type(&upload.kind).ok_or(WebError::NotFound)?;
    let content_type = content_type(&upload.kind).ok_or(WebError::NotFound)?;
    let mut response = (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_DISPOSITION, "inline"),
            (header::CACHE_CONTROL, "private, no-store"),
        ],
        bytes,
    )
        .into_response();
    response.extensions_mut().insert(super::Framing::BySelf);
    Ok(response)
}

/// How a material is shown in the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Preview {
    Image,
    Pdf,
}

/// How a material of this stored kind is shown in the page, if at all.
fn preview_type(kind: &str) -> Option<Preview> {
    match kind {
        "png" | "jpg" | "jpeg" => Some(Preview::Image),
        "pdf" => Some(Preview::Pdf),
        _ => None,
    }
}

/// The media type of a material by its stored kind (checked by content
/// when it was stored).
fn content_type(kind: &str) -> Option<&'static str> {
    match kind {
        "pdf" => Some("application/pdf"),
        "png" => Some("image/png"),
        "jpg" | "jpeg" => Some("image/jpeg"),
        _ => None,
    }
}

#[derive(Deserialize)]
struct RateForm {
    stars: u8,
    #[serde(default)]
    comment: String,
    /// The department rated, when several took part.
    #[serde(default)]
    department: Option<String>,
}

/// The applicant rates a closed filing.
async fn rate(
    State(web): State<Web>,
    Path(id): Path<String>,
    posted: Posted<RateForm>,
) -> Result<Response, WebError> {
    let Posted { viewer, form, .. } = posted;
    let account = viewer.signed_in()?;
    web.app
        .rate(
            account,
            &id,
            Rating {
                stars: form.stars,
                comment: &form.comment,
                department: form.department.as_deref(),
            },
            web.app.now(),
        )
        .await?;
    Ok(Redirect::to(&format!("/filings/{id}?done=rated")).into_response())
}

#[derive(Template)]
#[template(path = "ratings.html")]
struct RatingsPage {
    nav: Nav,
    ratings: Vec<RatingView>,
}

/// A head's poor ratings to answer.
async fn poor_ratings(
    State(web): State<Web>,
    SignedIn { account, viewer }: SignedIn,
) -> Result<Html<String>, WebError> {
    render(&RatingsPage {
        nav: Nav::of(&viewer),
        ratings: web.app.poor_ratings(&account).await?,
    })
}

#[derive(Deserialize)]
struct AnswerForm {
    answer: String,
}

async fn answer_rating(
    State(web): State<Web>,
    Path(id): Path<String>,
    posted: Posted<AnswerForm>,
) -> Result<Response, WebError> {
    let Posted { viewer, form, .. } = posted;
    let head = viewer.signed_in()?;
    web.app
        .answer_rating(head, &id, &form.answer, web.app.now())
        .await?;
    Ok(Redirect::to("/ratings").into_response())
}
