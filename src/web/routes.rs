//! The route table: every path with its method, who may use it and its
//! handler. Each audience's module lists its own routes; [`super::router`]
//! builds the router from all of them and admits each route's audience
//! here, once, before its handler runs. The route × role test walks the
//! same table, so a route cannot be added without being tested.
//!
//! Which filing an account may see is not a route's business: that is
//! [`crate::app::access`], asked by the handlers.

use axum::extract::{FromRequestParts, Request, State};
use axum::handler::Handler;
use axum::http::Method;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{self, MethodRouter};

use super::api::{Bearer, Problem};
use super::auth::{Viewer, Web};
use super::error::WebError;
use crate::app::accounts::Role;

/// Who may use a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Anyone, signed in or not.
    Anyone,
    /// Accounts of these roles: a session for pages, a bearer token under
    /// `/api/`. Nobody signed in is asked to sign in (pages) or answered
    /// 401 (API); another role gets 403.
    Roles(&'static [Role]),
}

impl Audience {
    /// Whether an account of this role is admitted.
    pub fn admits(self, role: Role) -> bool {
        match self {
            Audience::Anyone => true,
            Audience::Roles(roles) => roles.contains(&role),
        }
    }
}

/// The roles that see filings (each filing then only if it is theirs).
pub const FILING: Audience =
    Audience::Roles(&[Role::Applicant, Role::Window, Role::Reviewer, Role::Head]);
/// The roles with an inbox.
pub const STAFF: Audience = Audience::Roles(&[Role::Window, Role::Reviewer, Role::Head]);
pub const APPLICANT: Audience = Audience::Roles(&[Role::Applicant]);
pub const HEAD: Audience = Audience::Roles(&[Role::Head]);
pub const ADMIN: Audience = Audience::Roles(&[Role::Admin]);
pub const POLICY: Audience = Audience::Roles(&[Role::Policy]);

/// One method on one path.
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub audience: Audience,
    handler: MethodRouter<Web>,
}

impl Route {
    pub fn get<H, T>(path: &'static str, audience: Audience, handler: H) -> Route
    where
        H: Handler<T, Web>,
        T: 'static,
    {
        Route::on(Method::GET, path, audience, routing::get(handler))
    }

    pub fn post<H, T>(path: &'static str, audience: Audience, handler: H) -> Route
    where
        H: Handler<T, Web>,
        T: 'static,
    {
        Route::on(Method::POST, path, audience, routing::post(handler))
    }

    fn on(
        method: Method,
        path: &'static str,
        audience: Audience,
        handler: MethodRouter<Web>,
    ) -> Route {
        Route {
            method,
            path,
            audience,
            handler,
        }
    }

    /// Whether the route belongs to the JSON API (bearer tokens, problem
    /// answers) rather than the pages (sessions, error pages).
    pub fn is_api(&self) -> bool {
        self.path.starts_with("/api/")
    }

    /// The handler behind its audience's door.
    pub(super) fn admitted(self, web: &Web) -> MethodRouter<Web> {
        let audience = self.audience;
        let api = self.is_api();
        self.handler.route_layer(middleware::from_fn_with_state(
            web.clone(),
            move |state: State<Web>, request: Request, next: Next| {
                admit(audience, api, state, request, next)
            },
        ))
    }
}

/// Lets the request through when its account is of the audience; the
/// account found is kept in the request, so the handler does not look again.
async fn admit(
    audience: Audience,
    api: bool,
    State(web): State<Web>,
    request: Request,
    next: Next,
) -> Response {
    if audience == Audience::Anyone {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    let role = if api {
        match Bearer::from_request_parts(&mut parts, &web).await {
            Ok(bearer) => bearer.0.role,
            Err(problem) => return problem.into_response(),
        }
    } else {
        match Viewer::from_request_parts(&mut parts, &web).await {
            Ok(viewer) => match viewer.signed_in() {
                Ok(account) => account.role,
                Err(error) => return error.into_response(),
            },
            Err(error) => return error.into_response(),
        }
    };
    if !audience.admits(role) {
        let error = WebError::Forbidden(format!(
            "{}不能办理此项；请使用有相应权限的账号登录。",
            role.chinese()
        ));
        return if api {
            Problem::from(error).into_response()
        } else {
            error.into_response()
        };
    }
    next.run(Request::from_parts(parts, body)).await
}
