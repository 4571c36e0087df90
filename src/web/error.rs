//! One error type for every handler, mapped to a status code and a page in
//! Chinese that says what happened and nothing of the internals.

use askama::Template;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};

use crate::app::AppError;

/// What a request could not do.
#[derive(Debug)]
pub enum WebError {
    /// No such procedure, filing or document — or one this account may
    /// not see: the two answer alike, so nothing leaks.
    NotFound,
    /// The request itself is wrong (a field too long, a malformed value).
    BadRequest(String),
    /// Input with problems, every one listed by its field.
    Unprocessable(Vec<crate::app::Problem>),
    /// Signed in, but this role may not do this.
    Forbidden(String),
    /// A page for signed-in accounts: sign in first, then come back to `next`.
    SignIn { next: String, expired: bool },
    /// A form without the token this browser was given (forged or stale).
    Csrf,
    /// Too many failed sign-ins.
    TooMany,
    /// An upload over the limit.
    TooLarge(String),
    /// A body of a type not taken here (the API takes JSON, or a file).
    UnsupportedMediaType(String),
    /// The engine refused what was asked (the rules of the procedure).
    Refused(String),
    /// Someone else acted first (a step already decided, a filing moved on).
    Conflict(String),
    /// A link that no longer opens anything (used or expired).
    Gone(String),
    /// Something failed that the person cannot fix; logged, not shown.
    Internal(String),
}

impl From<AppError> for WebError {
    fn from(error: AppError) -> WebError {
        match error {
            AppError::NotFound(_) => WebError::NotFound,
            AppError::Invalid(problems) => {
                WebError::BadRequest(crate::app::Problem::list(&problems))
            }
            other => {
                if let Some(refusal) = other.rejection() {
                    if refusal.is_race() {
                        WebError::Conflict(refusal.chinese())
                    } else {
                        WebError::Refused(refusal.chinese())
                    }
                } else if other.is_key_reused() {
                    WebError::Refused(
                        "此请求标识（Idempotency-Key）已用于另一份内容不同的申请；如要另行申请，请换一个标识"
                            .to_string(),
                    )
                } else if other.is_conflict() {
                    WebError::Conflict("此事项在您打开页面后已有变化".to_string())
                } else if let Some(message) = other.upload_refusal() {
                    // Well-formed, but not a file of its kind (422).
                    WebError::Unprocessable(vec![crate::app::Problem::about("file", message)])
                } else {
                    WebError::Internal(other.to_string())
                }
            }
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    nav: super::page::Nav,
    heading: &'a str,
    message: &'a str,
}

impl WebError {
    /// The status, heading and message people are shown.
    pub fn parts(&self) -> (StatusCode, &'static str, String) {
        match self {
            WebError::NotFound => (
                StatusCode::NOT_FOUND,
                "未找到",
                "您要找的页面或事项不存在，或者您无权查看。".to_string(),
            ),
            WebError::BadRequest(message) => {
                (StatusCode::BAD_REQUEST, "请求有误", message.clone())
            }
            WebError::Unprocessable(problems) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "填写有误",
                crate::app::Problem::list(problems),
            ),
            WebError::Forbidden(message) => (StatusCode::FORBIDDEN, "无权办理", message.clone()),
            WebError::SignIn { .. } => (
                StatusCode::UNAUTHORIZED,
                "请先登录",
                "此操作需要登录；登录已过期的，请重新登录。".to_string(),
            ),
            WebError::Csrf => (
                StatusCode::FORBIDDEN,
                "表单已失效",
                "该表单不是从本系统的页面提交的，或页面已过期。请返回上一页刷新后重新提交；您的事项未作任何改动。"
                    .to_string(),
            ),
            WebError::TooMany => (
                StatusCode::TOO_MANY_REQUESTS,
                "尝试次数过多",
                "登录失败次数过多，请十五分钟后再试。".to_string(),
            ),
            WebError::TooLarge(message) => {
                (StatusCode::PAYLOAD_TOO_LARGE, "文件过大", message.clone())
            }
            WebError::UnsupportedMediaType(message) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "请求格式不支持",
                message.clone(),
            ),
            WebError::Gone(message) => (StatusCode::GONE, "链接已失效", message.clone()),
            WebError::Refused(message) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "无法办理",
                format!("{message}。未作任何改动。"),
            ),
            WebError::Conflict(message) => (
                StatusCode::CONFLICT,
                "已由他人处理",
                format!("{message}（可能已由他人处理）。未作任何改动，请刷新页面查看最新状态。"),
            ),
            WebError::Internal(detail) => {
                tracing::error!(%detail, "request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "系统暂时无法处理",
                    "请稍后再试；如仍无法办理，请联系综合窗口。".to_string(),
                )
            }
        }
    }
}

/// An error page as shown: its heading and message, kept on the response
/// so that [`with_navigation`] can show it again under the navigation of
/// whoever is signed in.
#[derive(Debug, Clone)]
pub(super) struct Shown {
    heading: &'static str,
    message: String,
}

impl Shown {
    /// The page under `nav`.
    fn render(&self, nav: super::page::Nav) -> Option<String> {
        let page = ErrorPage {
            nav,
            heading: self.heading,
            message: &self.message,
        };
        page.render().ok()
    }
}

/// An error page carries the navigation of the person who met it, as every
/// other page does (it is rendered where no one is known, then again here
/// for a signed-in person; the status and headers stay).
pub(super) async fn with_navigation(
    axum::extract::State(web): axum::extract::State<super::auth::Web>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    use axum::extract::FromRequestParts as _;
    let (parts, body) = request.into_parts();
    // Only a session makes the navigation another: a visitor's request and
    // the API's (bearer tokens, problem+json) copy nothing.
    let asked = super::auth::cookie(&parts, super::auth::SESSION_COOKIE).map(|_| {
        let mut asked = axum::http::Request::new(());
        *asked.headers_mut() = parts.headers.clone();
        *asked.uri_mut() = parts.uri.clone();
        asked
    });
    let mut response = next
        .run(axum::extract::Request::from_parts(parts, body))
        .await;
    let (Some(shown), Some(asked)) = (response.extensions().get::<Shown>().cloned(), asked) else {
        return response;
    };
    let (mut asked, ()) = asked.into_parts();
    let Ok(viewer) = super::auth::Viewer::from_request_parts(&mut asked, &web).await else {
        return response;
    };
    if viewer.account.is_none() {
        return response;
    }
    if let Some(html) = shown.render(super::page::Nav::of(&viewer)) {
        *response.body_mut() = axum::body::Body::from(html);
        response.headers_mut().remove(header::CONTENT_LENGTH);
    }
    response
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        if let WebError::SignIn { next, expired } = &self {
            let mut target = format!("/login?next={}", super::auth::encode_query(next));
            if *expired {
                target.push_str("&expired=1");
            }
            return Redirect::to(&target).into_response();
        }
        let (status, heading, message) = self.parts();
        let shown = Shown { heading, message };
        let signed_out = super::page::Nav {
            links: vec![("/", "办理事项"), ("/login", "登录")],
            ..super::page::Nav::default()
        };
        let mut response = match shown.render(signed_out) {
            Some(html) => (status, Html(html)).into_response(),
            None => (status, heading.to_string()).into_response(),
        };
        response.extensions_mut().insert(shown);
        if status == StatusCode::TOO_MANY_REQUESTS {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("900"));
        }
        response
    }
}
