//! One error type for every handler, mapped to a status code and a page in
//! Chinese that says what happened and nothing of the internals.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::app::AppError;

/// What a request could not do.
#[derive(Debug)]
pub enum WebError {
    /// No such procedure, filing or document.
    NotFound,
    /// The request itself is wrong (a field too long, a malformed value).
    BadRequest(String),
    /// Something failed that the person cannot fix; logged, not shown.
    Internal(String),
}

impl From<AppError> for WebError {
    fn from(error: AppError) -> WebError {
        match error {
            AppError::NotFound(_) => WebError::NotFound,
            AppError::Invalid(problems) => {
                WebError::BadRequest(crate::engine::Problem::list(&problems))
            }
            other => WebError::Internal(other.to_string()),
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    heading: &'a str,
    message: &'a str,
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, heading, message) = match &self {
            WebError::NotFound => (
                StatusCode::NOT_FOUND,
                "未找到",
                "您要找的页面或事项不存在，或者您无权查看。",
            ),
            WebError::BadRequest(message) => {
                (StatusCode::BAD_REQUEST, "请求有误", message.as_str())
            }
            WebError::Internal(detail) => {
                tracing::error!(%detail, "request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "系统暂时无法处理",
                    "请稍后再试；如仍无法办理，请联系综合窗口。",
                )
            }
        };
        let page = ErrorPage { heading, message };
        match page.render() {
            Ok(html) => (status, Html(html)).into_response(),
            Err(_) => (status, heading.to_string()).into_response(),
        }
    }
}
