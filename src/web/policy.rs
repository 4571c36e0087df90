//! The policy staff's pages: every workflow with its versions and the
//! filings pinned to each, and what changed between two versions — in
//! Chinese, with the filings still in progress on the older one.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Html;
use serde::Deserialize;

use super::auth::{Viewer, Web};
use super::error::WebError;
use super::page::{provisional_years, render, Nav};
use super::routes::{Route, POLICY};
use crate::app::policy::{Comparison, VersionsView};
use crate::dsl::diff::Section;

pub fn routes() -> Vec<Route> {
    vec![
        Route::get("/policy", POLICY, workflows),
        Route::get("/policy/workflows/{id}/compare", POLICY, compare),
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
