//! The web application: routers per audience merged in one place, one
//! error type, pages rendered on the server (askama, checked when the crate
//! compiles) that work without JavaScript and load nothing from elsewhere.
//!
//! Every handler calls a use case of [`crate::app`]; nothing here decides
//! what the engine decides. Today the public's pages are served; the
//! applicant's, the window's, the reviewers' and the policy staff's come
//! with the rest of the issue "The web application".

mod accounts;
mod api;
mod apply;
pub mod auth;
mod error;
mod filing;
mod inbox;
mod input;
mod page;
mod policy;
mod public;
pub mod routes;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use routes::Audience::Anyone;

pub use error::WebError;

use crate::app::App;
use auth::Web;

/// The stylesheet, compiled in: pages load nothing from another site.
const SITE_CSS: &str = include_str!("../../web/static/site.css");

/// The one script: the policy staff's editor checks while they type. Pages
/// that load it are marked [`OwnScript`]; all others forbid every script.
const EDITOR_JS: &str = include_str!("../../web/static/editor.js");

/// Every route of the product with who may use it: each audience's
/// routes, merged here. The router is built from this table.
pub fn routes() -> Vec<routes::Route> {
    let mut all = public::routes();
    all.extend(accounts::routes());
    all.extend(apply::routes());
    all.extend(filing::routes());
    all.extend(inbox::routes());
    all.extend(policy::routes());
    all.extend(api::routes());
    all.extend([
        routes::Route::get("/healthz", Anyone, healthz),
        routes::Route::get("/readyz", Anyone, readyz),
        routes::Route::get("/metrics", Anyone, metrics),
        routes::Route::get("/static/site.css", Anyone, stylesheet),
        routes::Route::get("/static/editor.js", Anyone, editor_script),
    ]);
    all
}

/// The router: [`routes`], each behind its audience's door.
/// Cookies are marked `Secure` when the product's public address is https.
pub fn router(app: Arc<App>) -> Router {
    // Uploads: three files at the limit in one request, and the form.
    let body_limit = usize::try_from(app.config().max_upload.saturating_mul(3))
        .unwrap_or(usize::MAX)
        .max(8 * 1024 * 1024);
    let web = Web {
        secure: app.config().base_url.starts_with("https://"),
        app,
        requests: Arc::default(),
    };
    let table = routes().into_iter().fold(Router::new(), |router, route| {
        let path = route.path;
        router.route(path, route.admitted(&web))
    });
    table
        // Anything else under the API answers as the API does.
        .route("/api/v1/{*rest}", any(api::unknown))
        .route_layer(middleware::from_fn(route_pattern))
        .fallback(not_found)
        .layer(axum::extract::DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn_with_state(
            web.clone(),
            error::with_navigation,
        ))
        .layer(middleware::from_fn_with_state(
            web.clone(),
            auth::visitor_cookie,
        ))
        .layer(middleware::from_fn_with_state(
            web.clone(),
            security_headers,
        ))
        .layer(middleware::from_fn_with_state(web.clone(), observed))
        .with_state(web)
}

/// The route a request matched (its pattern, `/filings/{id}`), carried out
/// on the answer for [`observed`]: a pattern names no one.
#[derive(Debug, Clone)]
struct RoutePattern(Arc<str>);

async fn route_pattern(
    matched: Option<axum::extract::MatchedPath>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    if let Some(matched) = matched {
        response
            .extensions_mut()
            .insert(RoutePattern(Arc::from(matched.as_str())));
    }
    response
}

/// Every request leaves one log line — method, route pattern, status,
/// latency, request id; no path, query, address or account — and is
/// counted for `/metrics`. The request id is the caller's `X-Request-Id`
/// when it is a plain token (a proxy's), else a new one; the answer
/// carries it back.
async fn observed(State(web): State<Web>, request: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    // The methods HTTP names; any other is one label, so that made-up
    // methods cannot grow the metrics without bound.
    let method: &'static str = match request.method().as_str() {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "PATCH" => "PATCH",
        "OPTIONS" => "OPTIONS",
        _ => "OTHER",
    };
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .filter(|id| {
            !id.is_empty()
                && id.len() <= 64
                && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        .map_or_else(
            || crate::app::accounts::random_token()[..16].to_string(),
            str::to_string,
        );
    let mut response = next.run(request).await;
    let elapsed = started.elapsed();
    let route = response
        .extensions()
        .get::<RoutePattern>()
        .map_or_else(|| Arc::from("(none)"), |pattern| pattern.0.clone());
    let status = response.status().as_u16();
    tracing::info!(
        target: "onewindow::request",
        request_id = %request_id,
        method,
        route = %route,
        status,
        latency_ms = elapsed.as_secs_f64() * 1000.0,
        "request"
    );
    web.requests.record(method, &route, status, elapsed);
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

/// What an operator watches, in Prometheus' text format: requests by route
/// and status with their latency, the commits, what waits in the database
/// (outbox by kind, timers due, leases), and this process's memory.
async fn metrics(State(web): State<Web>) -> Response {
    let mut out = String::new();
    web.requests.write(&mut out);
    if let Err(error) = web.app.metrics(&mut out).await {
        tracing::warn!(%error, "metrics: the database did not answer");
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "the database did not answer",
        )
            .into_response();
    }
    if let Some(bytes) = resident_bytes() {
        crate::metrics::single(
            &mut out,
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory of this process.",
            bytes,
        );
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}

/// This process's resident memory, from Linux's `/proc/self/statm`.
fn resident_bytes() -> Option<f64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: f64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096.0)
}

/// A page that runs the product's own script (from `/static/`, never
/// inline) and asks the product for JSON: the editor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OwnScript;

/// Whether an answer may be shown in a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// Never (every page).
    Never,
    /// Only by the product's own pages: a material previewed in its
    /// filing's page. Such an answer is a file, not a page, so it carries
    /// no policy for scripts or styles of its own (the browser's PDF
    /// viewer shows it).
    BySelf,
}

/// The headers every answer carries: no script at all, nothing framed
/// but a material in its filing's page (sandboxed: no script in it runs),
/// nothing loaded from elsewhere, no type sniffing; nothing kept in a cache
/// that a signed-in person was shown; over https, HSTS.
async fn security_headers(State(web): State<Web>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let signed_in = parts.headers.contains_key(header::AUTHORIZATION)
        || auth::cookie(&parts, auth::SESSION_COOKIE).is_some();
    let mut response = next.run(Request::from_parts(parts, body)).await;
    let framing = response
        .extensions()
        .get::<Framing>()
        .copied()
        .unwrap_or(Framing::Never);
    let scripted = response.extensions().get::<OwnScript>().is_some();
    // A page's policy, with what else it may load before the rest.
    macro_rules! page_policy {
        ($also:literal) => {
            concat!(
                "default-src 'none'; ",
                $also,
                "style-src 'self'; img-src 'self'; frame-src 'self'; form-action 'self'; \
                 frame-ancestors 'none'; base-uri 'none'"
            )
        };
    }
    let (policy, frame_options) = match framing {
        Framing::Never if scripted => (
            page_policy!("script-src 'self'; connect-src 'self'; "),
            "DENY",
        ),
        Framing::Never => (page_policy!(""), "DENY"),
        Framing::BySelf => ("sandbox; frame-ancestors 'self'", "SAMEORIGIN"),
    };
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, policy),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, frame_options),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if signed_in && !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-store"),
        );
    }
    if web.secure {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    response
}

/// The process answers.
async fn healthz() -> &'static str {
    "ok"
}

/// The database answers too.
async fn readyz(State(app): State<Arc<App>>) -> Response {
    match app.ready().await {
        Ok(()) => "ready".into_response(),
        Err(error) => {
            tracing::warn!(%error, "not ready");
            (StatusCode::SERVICE_UNAVAILABLE, "not ready").into_response()
        }
    }
}

async fn stylesheet() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        SITE_CSS,
    )
        .into_response()
}

async fn editor_script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        EDITOR_JS,
    )
        .into_response()
}

async fn not_found() -> WebError {
    WebError::NotFound
}

/// Serves until SIGINT or SIGTERM, then finishes the requests under way.
///
/// # Errors
/// The address cannot be bound, or the server fails.
pub async fn serve(app: Arc<App>, addr: SocketAddr) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(address = %listener.local_addr()?, "serving");
    let service = router(app).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, service)
        .with_graceful_shutdown(shutdown_signal())
        .await
}

/// Serves on a listener already bound until the process ends (benches and
/// tests that run the product in process).
///
/// # Errors
/// The server fails.
pub async fn serve_on(app: Arc<App>, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    axum::serve(listener, router(app)).await
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
