//! Signing in and out, applicants registering, and the administrator's
//! page where staff accounts are opened.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::auth::{set_cookie, Posted, Viewer, Web, SESSION_COOKIE, VISITOR_COOKIE};
use super::error::WebError;
use super::page::{render, Nav};
use super::routes::{Audience::Anyone, Route, ADMIN};
use crate::app::accounts::{
    normalize_email, Account, NewAccount, Role, SignIn, REGISTRATION_HOURS, SESSION_HOURS,
};
use crate::app::AppError;

pub fn routes() -> Vec<Route> {
    vec![
        Route::get("/login", Anyone, login_page),
        Route::post("/login", Anyone, login),
        Route::post("/logout", Anyone, logout),
        Route::get("/register", Anyone, register_page),
        Route::post("/register", Anyone, register),
        Route::get("/register/confirm", Anyone, confirm_page),
        Route::post("/register/confirm", Anyone, confirm),
        Route::get("/admin/accounts", ADMIN, accounts_page),
        Route::post("/admin/accounts", ADMIN, add_account),
    ]
}

/// Where an account starts after signing in.
pub fn home(role: Role) -> &'static str {
    match role {
        Role::Applicant => "/my",
        Role::Window | Role::Reviewer | Role::Head => "/inbox",
        Role::Admin => "/admin/accounts",
        Role::Policy => "/policy",
    }
}

/// A path on this site to come back to; anything else goes home.
fn safe_next(next: &str) -> Option<&str> {
    (next.starts_with('/') && !next.starts_with("//") && !next.contains('\\')).then_some(next)
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    nav: Nav,
    next: String,
    email: String,
    expired: bool,
    failed: bool,
}

#[derive(Deserialize)]
struct LoginQuery {
    next: Option<String>,
    expired: Option<String>,
}

async fn login_page(
    viewer: Viewer,
    Query(query): Query<LoginQuery>,
) -> Result<Html<String>, WebError> {
    render(&LoginPage {
        nav: Nav::of(&viewer),
        next: query.next.unwrap_or_default(),
        email: String::new(),
        expired: query.expired.is_some(),
        failed: false,
    })
}

#[derive(Deserialize)]
struct LoginForm {
    email: String,
    password: String,
    #[serde(default)]
    next: String,
}

async fn login(State(web): State<Web>, posted: Posted<LoginForm>) -> Result<Response, WebError> {
    let Posted { viewer, form, peer } = posted;
    let signed = web
        .app
        .sign_in_limited(&form.email, &form.password, peer, web.app.now())
        .await?;
    let (account, token) = match signed {
        SignIn::Welcome(account, token) => (account, token),
        SignIn::TooMany => return Err(WebError::TooMany),
        SignIn::Refused => {
            tracing::info!(email = %form.email, ?peer, "sign-in failed");
            let page = render(&LoginPage {
                nav: Nav::of(&viewer),
                next: form.next,
                email: form.email,
                expired: false,
                failed: true,
            })?;
            return Ok((axum::http::StatusCode::UNAUTHORIZED, page).into_response());
        }
    };
    // A new session each time: a cookie from before cannot be ridden.
    if let Some(old) = &viewer.session {
        web.app.sign_out(old).await?;
    }
    let target = safe_next(&form.next)
        .unwrap_or(home(account.role))
        .to_string();
    Ok(signed_in(&web, &token.0, &target))
}

/// The answer that starts a session: its cookie set, the visitor's cleared.
fn signed_in(web: &Web, token: &str, target: &str) -> Response {
    let mut response = Redirect::to(target).into_response();
    let headers = response.headers_mut();
    headers.append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, token, SESSION_HOURS * 3600, web.secure),
    );
    headers.append(
        header::SET_COOKIE,
        set_cookie(VISITOR_COOKIE, "", 0, web.secure),
    );
    response
}

#[derive(Deserialize)]
struct Empty {}

async fn logout(State(web): State<Web>, posted: Posted<Empty>) -> Result<Response, WebError> {
    if let Some(token) = &posted.viewer.session {
        web.app.sign_out(token).await?;
    }
    let mut response = Redirect::to("/").into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, "", 0, web.secure),
    );
    Ok(response)
}

#[derive(Template)]
#[template(path = "register.html")]
struct RegisterPage {
    nav: Nav,
    name: String,
    email: String,
    problems: Vec<String>,
}

async fn register_page(viewer: Viewer) -> Result<Html<String>, WebError> {
    render(&RegisterPage {
        nav: Nav::of(&viewer),
        name: String::new(),
        email: String::new(),
        problems: Vec::new(),
    })
}

#[derive(Deserialize)]
struct RegisterForm {
    name: String,
    email: String,
    password: String,
}

async fn register(
    State(web): State<Web>,
    posted: Posted<RegisterForm>,
) -> Result<Response, WebError> {
    let Posted { viewer, form, .. } = posted;
    let now = web.app.now();
    match web
        .app
        .register(&form.email, &form.name, &form.password, now)
        .await
    {
        // The same answer whether or not the address has an account.
        Ok(()) => Ok(render(&RegisteredPage {
            nav: Nav::of(&viewer),
            email: normalize_email(&form.email),
            hours: REGISTRATION_HOURS,
        })?
        .into_response()),
        Err(AppError::Invalid(problems)) => {
            let page = render(&RegisterPage {
                nav: Nav::of(&viewer),
                name: form.name,
                email: form.email,
                problems: problems.into_iter().map(|p| p.message).collect(),
            })?;
            Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Template)]
#[template(path = "registered.html")]
struct RegisteredPage {
    nav: Nav,
    email: String,
    hours: i64,
}

#[derive(Template)]
#[template(path = "confirm.html")]
struct ConfirmPage {
    nav: Nav,
    token: String,
}

#[derive(Deserialize)]
struct ConfirmLink {
    #[serde(default)]
    token: String,
}

/// The mailed link asks once more: opening a link (a mail scanner may)
/// changes nothing; the button does.
async fn confirm_page(
    viewer: Viewer,
    Query(link): Query<ConfirmLink>,
) -> Result<Html<String>, WebError> {
    render(&ConfirmPage {
        nav: Nav::of(&viewer),
        token: link.token,
    })
}

async fn confirm(
    State(web): State<Web>,
    posted: Posted<ConfirmLink>,
) -> Result<Response, WebError> {
    let Posted { viewer, form, .. } = posted;
    let opened = web
        .app
        .confirm_registration(form.token.trim(), web.app.now())
        .await?;
    let Some((account, token)) = opened else {
        return Err(WebError::Gone(format!(
            "注册链接无效、已使用或已过期（{REGISTRATION_HOURS}小时内有效）。请重新注册；已完成注册的，请直接登录。"
        )));
    };
    if let Some(old) = &viewer.session {
        web.app.sign_out(old).await?;
    }
    Ok(signed_in(&web, &token.0, home(account.role)))
}

/// An account as the administrator's table shows it.
struct AccountRow {
    email: String,
    name: String,
    role: &'static str,
    department: String,
}

#[derive(Template)]
#[template(path = "accounts.html")]
struct AccountsPage {
    nav: Nav,
    accounts: Vec<AccountRow>,
    roles: Vec<(&'static str, &'static str)>,
    departments: Vec<(String, String)>,
    created: Option<String>,
    problems: Vec<String>,
}

async fn accounts_view(
    web: &Web,
    viewer: &Viewer,
    created: Option<String>,
    problems: Vec<String>,
) -> Result<Html<String>, WebError> {
    let departments = web.app.departments();
    let accounts = web
        .app
        .accounts()
        .await?
        .into_iter()
        .map(|account: Account| AccountRow {
            department: account
                .department
                .as_ref()
                .map(|d| departments.get(d).cloned().unwrap_or_else(|| d.clone()))
                .unwrap_or_default(),
            email: account.email,
            name: account.name,
            role: account.role.chinese(),
        })
        .collect();
    render(&AccountsPage {
        nav: Nav::of(viewer),
        accounts,
        roles: Role::ALL
            .iter()
            .filter(|role| **role != Role::Applicant)
            .map(|role| (role.name(), role.chinese()))
            .collect(),
        departments: departments.into_iter().collect(),
        created,
        problems,
    })
}

async fn accounts_page(State(web): State<Web>, viewer: Viewer) -> Result<Html<String>, WebError> {
    accounts_view(&web, &viewer, None, Vec::new()).await
}

#[derive(Deserialize)]
struct AccountForm {
    email: String,
    name: String,
    role: String,
    #[serde(default)]
    department: String,
    password: String,
}

async fn add_account(
    State(web): State<Web>,
    posted: Posted<AccountForm>,
) -> Result<Response, WebError> {
    let Posted { viewer, form, .. } = posted;
    let admin = viewer.signed_in()?.email.clone();
    let role = Role::parse(&form.role)
        .filter(|role| *role != Role::Applicant)
        .ok_or_else(|| WebError::BadRequest(format!("没有角色“{}”", form.role)))?;
    let account = NewAccount {
        email: form.email,
        name: form.name,
        role,
        department: Some(form.department).filter(|d| !d.is_empty()),
        password: form.password,
    };
    match web.app.add_account(account, &admin, web.app.now()).await {
        Ok(account) => Ok(
            accounts_view(&web, &viewer, Some(account.email), Vec::new())
                .await?
                .into_response(),
        ),
        Err(AppError::Invalid(problems)) => {
            let page = accounts_view(
                &web,
                &viewer,
                None,
                problems.into_iter().map(|p| p.message).collect(),
            )
            .await?;
            Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(other) => Err(other.into()),
    }
}
