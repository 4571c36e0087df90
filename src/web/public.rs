//! The public's pages, no login: the procedures and their one-time
//! notices, and the verification of documents (the URL a QR code carries,
//! or a number and a code typed in).

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Html;
use serde::{Deserialize, Serialize};

use super::auth::Viewer;
use super::error::WebError;
use super::page::{day, render, Nav};
use super::routes::{Audience::Anyone, Route};
use crate::app::access::ProgressView;
use crate::app::views::VerifiedDocument;
use crate::app::App;
use crate::dsl::notice::Notice;

pub fn routes() -> Vec<Route> {
    vec![
        Route::get("/", Anyone, procedures),
        Route::get("/procedures/{id}", Anyone, notice),
        Route::get("/verify", Anyone, verify_form),
        Route::get("/verify/{code}", Anyone, verify_code),
        Route::get("/progress", Anyone, progress),
        Route::get("/stats", Anyone, stats),
    ]
}

/// A procedure in the list (a page's and the API's).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub(super) struct Procedure {
    id: String,
    title: String,
    version: u32,
    promised_limit: u32,
    legal_limit: u32,
    /// The deciding departments' names, 、-separated.
    departments: String,
}

#[derive(Template)]
#[template(path = "procedures.html")]
struct ProceduresPage {
    nav: Nav,
    procedures: Vec<Procedure>,
}

async fn procedures(State(app): State<Arc<App>>, viewer: Viewer) -> Result<Html<String>, WebError> {
    render(&ProceduresPage {
        nav: Nav::of(&viewer),
        procedures: procedure_list(&app)?,
    })
}

/// The procedures in service, in order.
pub(super) fn procedure_list(app: &App) -> Result<Vec<Procedure>, WebError> {
    let mut procedures = Vec::new();
    for id in app.workflow_ids() {
        let workflow = app.workflow(&id)?;
        let departments: Vec<String> = workflow
            .deciding_departments()
            .iter()
            .map(|d| workflow.department_name(d))
            .collect();
        procedures.push(Procedure {
            id: workflow.id.clone(),
            title: workflow.title.clone(),
            version: workflow.version,
            promised_limit: workflow.promised_limit,
            legal_limit: workflow.legal_limit,
            departments: departments.join("、"),
        });
    }
    Ok(procedures)
}

/// A procedure's one-time notice (a page's and the API's).
pub(super) fn notice_of(app: &App, id: &str) -> Result<Notice, WebError> {
    let workflow = app.workflow(id)?;
    Ok(Notice::of(&workflow))
}

#[derive(Template)]
#[template(path = "notice.html")]
struct NoticePage {
    nav: Nav,
    id: String,
    notice: Notice,
}

async fn notice(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    viewer: Viewer,
) -> Result<Html<String>, WebError> {
    render(&NoticePage {
        nav: Nav::of(&viewer),
        notice: notice_of(&app, &id)?,
        id,
    })
}

#[derive(Template)]
#[template(path = "verify.html")]
struct VerifyPage {
    nav: Nav,
    found: Option<VerifiedDocument>,
    asked: bool,
    number: String,
    code: String,
}

/// The number and code a person typed; both bounded.
#[derive(Deserialize)]
struct VerifyQuery {
    number: Option<String>,
    code: Option<String>,
}

pub(super) const MAX_FIELD: usize = 64;

async fn verify_form(
    State(app): State<Arc<App>>,
    Query(query): Query<VerifyQuery>,
    viewer: Viewer,
) -> Result<Html<String>, WebError> {
    let (number, code) = (
        query.number.unwrap_or_default(),
        query.code.unwrap_or_default(),
    );
    if number.chars().count() > MAX_FIELD || code.chars().count() > MAX_FIELD {
        return Err(WebError::BadRequest(
            "文书编号和验证码均不超过64个字符".to_string(),
        ));
    }
    let asked = !number.trim().is_empty() && !code.trim().is_empty();
    let found = if asked {
        app.verify(&number, &code).await?
    } else {
        None
    };
    render(&VerifyPage {
        nav: Nav::of(&viewer),
        found,
        asked,
        number,
        code,
    })
}

/// The page a document's QR code opens: its code alone identifies it.
async fn verify_code(
    State(app): State<Arc<App>>,
    Path(code): Path<String>,
    viewer: Viewer,
) -> Result<Html<String>, WebError> {
    if code.chars().count() > MAX_FIELD {
        return Err(WebError::NotFound);
    }
    let found = app.verify_by_code(&code).await?;
    if found.is_none() {
        return Err(WebError::NotFound);
    }
    render(&VerifyPage {
        nav: Nav::of(&viewer),
        number: found
            .as_ref()
            .and_then(|d| d.number.clone())
            .unwrap_or_default(),
        code,
        found,
        asked: true,
    })
}

#[derive(Template)]
#[template(path = "progress.html")]
struct ProgressPage {
    nav: Nav,
    found: Option<ProgressView>,
    asked: bool,
    filing: String,
    code: String,
    received_on: String,
    accepted_on: String,
    promised_due: String,
    legal_due: String,
    /// Label, department, state and due date of each step.
    steps: Vec<(String, String, &'static str, String)>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ProgressQuery {
    /// The filing's number.
    pub filing: Option<String>,
    /// Its query code (查询码), in any letter case.
    pub code: Option<String>,
}

/// The progress a filing number and query code open, if they match.
pub(super) async fn lookup(
    app: &App,
    query: &ProgressQuery,
) -> Result<Option<ProgressView>, WebError> {
    let (filing, code) = (
        query.filing.as_deref().unwrap_or_default().trim(),
        query.code.as_deref().unwrap_or_default(),
    );
    if filing.chars().count() > MAX_FIELD || code.chars().count() > MAX_FIELD {
        return Err(WebError::BadRequest(
            "申请编号和查询码均不超过64个字符".to_string(),
        ));
    }
    if filing.is_empty() || code.trim().is_empty() {
        return Ok(None);
    }
    match app.progress(filing, code, app.today()).await {
        Ok(found) => Ok(found),
        Err(crate::app::AppError::NotFound(_)) => Ok(None),
        Err(other) => Err(other.into()),
    }
}

async fn progress(
    State(app): State<Arc<App>>,
    Query(query): Query<ProgressQuery>,
    viewer: Viewer,
) -> Result<Html<String>, WebError> {
    let found = lookup(&app, &query).await?;
    let steps = found
        .iter()
        .flat_map(|p| &p.steps)
        .map(|step| {
            let state = step.state.words();
            (
                step.label.clone(),
                step.taken_by.clone(),
                state,
                day(step.due_on),
            )
        })
        .collect();
    let dates = |f: fn(&ProgressView) -> Option<jiff::civil::Date>| day(found.as_ref().and_then(f));
    render(&ProgressPage {
        nav: Nav::of(&viewer),
        asked: query.filing.is_some(),
        received_on: dates(|p| p.received_on),
        accepted_on: dates(|p| p.accepted_on),
        promised_due: dates(|p| p.promised_due),
        legal_due: dates(|p| p.legal_due),
        steps,
        found,
        filing: query.filing.unwrap_or_default(),
        code: query.code.unwrap_or_default(),
    })
}

#[derive(Template)]
#[template(path = "stats.html")]
struct StatsPage {
    nav: Nav,
    /// Procedure, department, decided, on time (share), ratings, average, poor.
    rows: Vec<(String, String, usize, String, usize, String, usize)>,
}

/// Per procedure and department: finished on time, and ratings.
async fn stats(State(app): State<Arc<App>>, viewer: Viewer) -> Result<Html<String>, WebError> {
    let rows = app
        .service_figures(app.today())
        .await?
        .into_iter()
        .map(|f| {
            let share = f.on_time_share.map_or_else(
                || "—".to_string(),
                |s| format!("{}（{:.0}%）", f.on_time, s * 100.0),
            );
            let average = f
                .average
                .map_or_else(|| "—".to_string(), |a| format!("{a:.1}"));
            (
                f.workflow_title,
                f.department,
                f.decided,
                share,
                f.ratings,
                average,
                f.poor,
            )
        })
        .collect();
    render(&StatsPage {
        nav: Nav::of(&viewer),
        rows,
    })
}
