//! A department's inbox: its open work by due date, yellow and red
//! marked, narrowed to mine, unclaimed or overdue. The window's inbox is
//! its intake queue (deemed acceptance shows as the due date passing).

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Html;
use serde::Deserialize;

use super::auth::{SignedIn, Web};
use super::error::WebError;
use super::page::{day, level_words, provisional_years, render, Nav};
use super::routes::{Route, STAFF};

pub fn routes() -> Vec<Route> {
    vec![Route::get("/inbox", STAFF, inbox)]
}

/// A row of the inbox.
struct Row {
    filing: String,
    workflow_title: String,
    label: String,
    applicant: String,
    since: String,
    due_on: String,
    level: String,
    level_label: &'static str,
    claimed_by: String,
}

#[derive(Template)]
#[template(path = "inbox.html")]
struct InboxPage {
    nav: Nav,
    department: String,
    /// The provisional calendar years, 、-separated; empty when none.
    provisional: String,
    filters: Vec<(&'static str, &'static str, bool)>,
    items: Vec<Row>,
}

#[derive(Deserialize)]
struct Filter {
    filter: Option<String>,
}

/// The most rows one page shows.
const PAGE: i64 = 200;

async fn inbox(
    State(web): State<Web>,
    SignedIn { viewer, account }: SignedIn,
    Query(query): Query<Filter>,
) -> Result<Html<String>, WebError> {
    let department = account.department.clone().unwrap_or_default();
    let chosen = query.filter.as_deref().unwrap_or("all");
    let items = web.app.inbox_of(&account, chosen, PAGE, 0).await?;
    // Who holds each piece of work, by name.
    let holders: Vec<&str> = items
        .iter()
        .filter_map(|item| item.claimed_by.as_deref())
        .collect();
    let names = web.app.names_of(&holders).await?;
    let items = items
        .into_iter()
        .map(|item| {
            let level = item.level.name();
            Row {
                level_label: level_words(level),
                level: level.to_string(),
                filing: item.filing,
                workflow_title: item.workflow_title,
                label: item.label,
                applicant: item.applicant,
                since: day(Some(item.since)),
                due_on: day(item.due_on),
                claimed_by: item
                    .claimed_by
                    .map(|email| names.get(&email).cloned().unwrap_or(email))
                    .unwrap_or_default(),
            }
        })
        .collect();
    let filters = [
        ("all", "全部"),
        ("mine", "我认领的"),
        ("unclaimed", "未认领"),
        ("overdue", "已超期"),
    ]
    .into_iter()
    .map(|(key, label)| {
        (
            key,
            label,
            key == chosen
                || (chosen != "mine"
                    && chosen != "unclaimed"
                    && chosen != "overdue"
                    && key == "all"),
        )
    })
    .collect();
    render(&InboxPage {
        nav: Nav::of(&viewer),
        department: web
            .app
            .departments()
            .get(&department)
            .cloned()
            .unwrap_or(department),
        provisional: provisional_years(&web.app),
        filters,
        items,
    })
}
