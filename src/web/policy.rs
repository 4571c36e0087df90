//! The policy staff's pages: every workflow with its versions and the
//! filings pinned to each, and what changed between two versions — in
//! Chinese, with the filings still in progress on the older one.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::auth::{Posted, SignedIn, Viewer, Web};
use super::error::WebError;
use super::page::{day, provisional_years, render, Nav};
use super::routes::{Route, POLICY};
use crate::app::accounts::Account;
use crate::app::calendars::{CalendarYear, YearCheck};
use crate::app::policy::{Comparison, DraftInput, DraftPreview, EditorState, VersionsView};
use crate::app::AppError;
use crate::dsl::diff::Section;
use crate::dsl::draft::Located;

pub fn routes() -> Vec<Route> {
    vec![
        Route::get("/policy", POLICY, workflows),
        Route::get("/policy/workflows/{id}/compare", POLICY, compare),
        Route::get("/policy/workflows/{id}/edit", POLICY, editor),
        Route::post("/policy/workflows/{id}/edit", POLICY, edit),
        Route::post("/policy/workflows/{id}/check", POLICY, live_check),
        Route::get("/policy/workflows/{id}/diagram.svg", POLICY, diagram),
        Route::get(
            "/policy/templates/{template}/sample.pdf",
            POLICY,
            sample_pdf,
        ),
        Route::get("/policy/calendars", POLICY, calendars),
        Route::post("/policy/calendars", POLICY, calendar_year),
    ]
}

#[derive(Template)]
#[template(path = "policy.html")]
struct WorkflowsPage {
    nav: Nav,
    provisional: String,
    workflows: Vec<VersionsView>,
}

async fn workflows(State(web): State<Web>, viewer: Viewer) -> Result<Html<String>, WebError> {
    let mut workflows = Vec::new();
    for id in web.app.workflow_ids() {
        workflows.push(web.app.workflow_versions(&id).await?);
    }
    render(&WorkflowsPage {
        nav: Nav::of(&viewer),
        provisional: provisional_years(&web.app),
        workflows,
    })
}

#[derive(Deserialize)]
struct Versions {
    from: Option<u32>,
    to: Option<u32>,
}

/// The changes of one section, for the page.
struct SectionRows {
    heading: &'static str,
    changes: Vec<String>,
}

#[derive(Template)]
#[template(path = "compare.html")]
struct ComparePage {
    nav: Nav,
    versions: VersionsView,
    from: u32,
    to: u32,
    comparison: Comparison,
    sections: Vec<SectionRows>,
}

/// Compares two versions; by default the one before the current with the
/// current (or the current with itself when there is only one).
async fn compare(
    State(web): State<Web>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(chosen): Query<Versions>,
) -> Result<Html<String>, WebError> {
    let versions = web.app.workflow_versions(&id).await?;
    let newest = versions.versions.first().map_or(1, |v| v.version);
    let older = versions.versions.get(1).map_or(newest, |v| v.version);
    let (from, to) = (chosen.from.unwrap_or(older), chosen.to.unwrap_or(newest));
    let comparison = web.app.compare_versions(&id, from, to).await?;
    let mut sections: Vec<SectionRows> = Vec::new();
    for change in &comparison.changes {
        let heading = Section::chinese(change.section);
        match sections.last_mut() {
            Some(last) if last.heading == heading => last.changes.push(change.text.clone()),
            _ => sections.push(SectionRows {
                heading,
                changes: vec![change.text.clone()],
            }),
        }
    }
    render(&ComparePage {
        nav: Nav::of(&viewer),
        versions,
        from,
        to,
        comparison,
        sections,
    })
}

#[derive(Template)]
#[template(path = "editor.html")]
struct EditorPage {
    nav: Nav,
    id: String,
    title: String,
    state: EditorState,
    start: String,
    /// Why publishing was refused, each in a sentence.
    refused: Vec<String>,
    diagnostics: Vec<Located>,
    /// The draft's lines, numbered, each with its diagnostics' messages.
    lines: Vec<(usize, String, bool)>,
    /// The diagram's address (with the draft's time, so a new one is drawn),
    /// or why there is none.
    diagram: Result<String, String>,
    notice: Option<String>,
    simulation: Option<Result<String, String>>,
    /// The draft's documents: when issued, title, template.
    documents: Vec<(&'static str, String, String)>,
}

impl EditorPage {
    /// The file name the draft's diagnostics carry.
    fn draft_name(&self) -> String {
        crate::dsl::draft::draft_name(&self.id)
    }

    /// Whether the draft is the one shown by a diagnostic's file name.
    fn in_draft(&self, diagnostic: &Located) -> bool {
        diagnostic.file == crate::dsl::draft::draft_name(&self.id)
    }

    /// The errors among the diagnostics: the one status line says how many.
    fn errors(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.error).count()
    }
}

async fn editor_page(
    web: &Web,
    viewer: &Viewer,
    id: &str,
    state: EditorState,
    start: jiff::civil::Date,
    refused: Vec<String>,
) -> Result<Response, WebError> {
    let title = web.app.workflow(id)?.title.clone();
    let DraftPreview {
        check,
        diagram,
        notice,
        simulation,
    } = web.app.preview_draft(id, &state.text, start);
    let draft = crate::dsl::draft::draft_name(id);
    let lines = state
        .text
        .lines()
        .enumerate()
        .map(|(index, line)| {
            let marked = check
                .diagnostics
                .iter()
                .any(|d| d.file == draft && d.line == index + 1);
            (index + 1, line.to_string(), marked)
        })
        .collect();
    let documents = check
        .workflow
        .iter()
        .flat_map(|workflow| &workflow.outcomes)
        .map(|o| (o.event.chinese(), o.title.clone(), o.template.clone()))
        .collect();
    let diagram = match diagram {
        Some(Ok(_)) => Ok(format!(
            "/policy/workflows/{id}/diagram.svg?at={}",
            super::auth::encode_query(state.saved_at.as_deref().unwrap_or("current"))
        )),
        Some(Err(why)) => Err(why),
        None => Err("定义有错误，改正后显示路线图".to_string()),
    };
    let mut page = render(&EditorPage {
        nav: Nav::of(viewer),
        id: id.to_string(),
        title,
        start: start.to_string(),
        refused,
        diagnostics: check.diagnostics,
        lines,
        diagram,
        notice,
        simulation,
        documents,
        state,
    })?
    .into_response();
    // It loads the editor's script, which checks while typing.
    page.extensions_mut().insert(super::OwnScript);
    Ok(page)
}

#[derive(Deserialize)]
struct Start {
    start: Option<jiff::civil::Date>,
}

/// The editor: the person's draft (or the version in service) checked and
/// previewed.
async fn editor(
    State(web): State<Web>,
    SignedIn { viewer, account }: SignedIn,
    Path(id): Path<String>,
    Query(query): Query<Start>,
) -> Result<Response, WebError> {
    let state = web.app.editor(&id, &account).await?;
    let start = query.start.unwrap_or_else(|| web.app.today());
    editor_page(&web, &viewer, &id, state, start, Vec::new()).await
}

#[derive(Deserialize)]
struct CheckForm {
    text: String,
}

/// What checking while typing answers.
#[derive(serde::Serialize)]
struct LiveCheck {
    diagnostics: Vec<Located>,
}

/// Checks a draft as typed (nothing saved): its diagnostics as JSON for
/// the editor's script.
async fn live_check(
    State(web): State<Web>,
    Path(id): Path<String>,
    posted: Posted<CheckForm>,
) -> Result<Response, WebError> {
    let check = web.app.check_draft(&id, &posted.form.text)?;
    Ok(axum::Json(LiveCheck {
        diagnostics: check.diagnostics,
    })
    .into_response())
}

#[derive(Deserialize)]
struct EditForm {
    text: String,
    base_version: u32,
    #[serde(default)]
    start: Option<jiff::civil::Date>,
    /// `check` (saves the draft), `publish` or `discard`.
    action: String,
    #[serde(default)]
    reason: String,
}

/// Checks and saves the draft, publishes it, or throws it away.
async fn edit(
    State(web): State<Web>,
    Path(id): Path<String>,
    posted: Posted<EditForm>,
) -> Result<Response, WebError> {
    let Posted { viewer, form, .. } = posted;
    let account = viewer.signed_in()?.clone();
    let now = web.app.now();
    let start = form.start.unwrap_or_else(|| now.date());
    let draft = DraftInput {
        text: form.text,
        base_version: form.base_version,
    };
    let edit_path = format!("/policy/workflows/{id}/edit?start={start}");
    match form.action.as_str() {
        "discard" => {
            web.app.discard_draft(&id, &account).await?;
            Ok(Redirect::to(&edit_path).into_response())
        }
        "publish" => publish(&web, &viewer, &account, &id, &draft, &form.reason, start).await,
        _ => {
            web.app.save_draft(&id, &account, &draft, now).await?;
            Ok(Redirect::to(&edit_path).into_response())
        }
    }
}

async fn publish(
    web: &Web,
    viewer: &Viewer,
    account: &Account,
    id: &str,
    draft: &DraftInput,
    reason: &str,
    start: jiff::civil::Date,
) -> Result<Response, WebError> {
    // What is published is saved first: a refusal loses nothing.
    web.app
        .save_draft(id, account, draft, web.app.now())
        .await?;
    match web
        .app
        .publish(id, account, draft, reason, web.app.now())
        .await
    {
        Ok(version) => Ok(Redirect::to(&format!(
            "/policy/workflows/{id}/compare?from={}&to={version}",
            version - 1
        ))
        .into_response()),
        Err(AppError::Invalid(problems)) => {
            let state = web.app.editor(id, account).await?;
            let refused = problems.into_iter().map(|p| p.message).collect();
            let page = editor_page(web, viewer, id, state, start, refused).await?;
            Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(error) => Err(error.into()),
    }
}

/// The routing diagram of the person's draft (or of the version in
/// service), as SVG for the editor's `<img>`.
async fn diagram(
    State(web): State<Web>,
    SignedIn { account, .. }: SignedIn,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let state = web.app.editor(&id, &account).await?;
    let svg = web
        .app
        .draft_diagram(&id, &state.text)?
        .ok_or(WebError::NotFound)?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "private, no-store"),
        ],
        svg,
    )
        .into_response())
}

#[derive(Template)]
#[template(path = "calendars.html")]
struct CalendarsPage {
    nav: Nav,
    provisional: String,
    years: Vec<CalendarYear>,
    text: String,
    /// What the file's check found, and whether it is now in service.
    checked: Option<(YearCheck, bool)>,
    problems: Vec<String>,
}

/// A year's file to start from: the first provisional year, fixed-date
/// holidays filled in.
fn year_template(app: &crate::app::App) -> String {
    let year = app
        .calendar()
        .provisional_years()
        .first()
        .copied()
        .unwrap_or_else(|| app.today().year() + 1);
    format!(
        "region = \"cn\"\nyear = {year}\nsource = \"国务院办公厅关于{year}年部分节假日安排的通知（发文日期）\"\n\n\
         holidays = [\n  {{ from = \"{year}-01-01\", to = \"{year}-01-01\", name = \"元旦\" }},\n]\n\n\
         workdays = [\n  # {{ date = \"{year}-02-07\", name = \"春节调休上班\" }},\n]\n"
    )
}

async fn calendars_page(
    web: &Web,
    viewer: &Viewer,
    text: String,
    checked: Option<(YearCheck, bool)>,
    problems: Vec<String>,
) -> Result<Html<String>, WebError> {
    render(&CalendarsPage {
        nav: Nav::of(viewer),
        provisional: provisional_years(&web.app),
        years: web.app.calendar_years(),
        text,
        checked,
        problems,
    })
}

/// The calendar's years and a form for a year's holidays and make-up days.
async fn calendars(State(web): State<Web>, viewer: Viewer) -> Result<Html<String>, WebError> {
    let text = year_template(&web.app);
    calendars_page(&web, &viewer, text, None, Vec::new()).await
}

#[derive(Deserialize)]
struct YearForm {
    text: String,
    /// `check` or `apply`.
    action: String,
}

/// Checks a year's file and lists the due dates it moves; `apply` puts it
/// in service.
async fn calendar_year(
    State(web): State<Web>,
    posted: Posted<YearForm>,
) -> Result<Response, WebError> {
    let Posted { viewer, form, .. } = posted;
    let account = viewer.signed_in()?.clone();
    if form.text.len() > 64 * 1024 {
        return Err(WebError::BadRequest("日历文件过长".to_string()));
    }
    let now = web.app.now();
    let result = if form.action == "apply" {
        web.app
            .add_calendar_year(&form.text, &account, now)
            .await
            .map(|check| (check, true))
    } else {
        web.app
            .check_calendar_year(&form.text, now.date())
            .await
            .map(|check| (check, false))
    };
    match result {
        Ok(checked) => Ok(
            calendars_page(&web, &viewer, form.text, Some(checked), Vec::new())
                .await?
                .into_response(),
        ),
        Err(AppError::Invalid(problems)) => {
            let problems = problems.into_iter().map(|p| p.message).collect();
            let page = calendars_page(&web, &viewer, form.text, None, problems).await?;
            Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(error) => Err(error.into()),
    }
}

/// A template typeset with its sample data, shown in the browser.
async fn sample_pdf(
    State(web): State<Web>,
    Path(template): Path<String>,
) -> Result<Response, WebError> {
    let app = web.app.clone();
    let pdf = tokio::task::spawn_blocking(move || app.template_sample_pdf(&template))
        .await
        .map_err(|error| WebError::Internal(error.to_string()))??;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf"),
            (header::CONTENT_DISPOSITION, "inline"),
            (header::CACHE_CONTROL, "private, no-store"),
        ],
        pdf,
    )
        .into_response())
}
