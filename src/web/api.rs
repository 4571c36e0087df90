//! The JSON API for integrators, under `/api/v1`: the same use cases as the
//! pages, answered as JSON, errors as `application/problem+json` (RFC 9457).
//! Today the public's part: the procedures, their notices, document checks.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Json, Router};
use serde::Serialize;

use super::error::WebError;
use super::public::{procedure_list, Notice, Procedure};
use crate::app::views::VerifiedDocument;
use crate::app::App;

pub fn router() -> Router<super::auth::Web> {
    Router::new()
        .route("/api/v1/procedures", get(procedures))
        .route("/api/v1/procedures/{id}/notice", get(notice))
        .route("/api/v1/documents/{code}", get(document))
        .route("/api/v1/{*rest}", any(unknown))
}

/// Anything else under the API answers as the API does.
async fn unknown() -> Problem {
    Problem(WebError::NotFound)
}

/// An error as `application/problem+json`.
pub struct Problem(WebError);

impl From<WebError> for Problem {
    fn from(error: WebError) -> Problem {
        Problem(error)
    }
}

impl From<crate::app::AppError> for Problem {
    fn from(error: crate::app::AppError) -> Problem {
        Problem(error.into())
    }
}

#[derive(Serialize)]
struct ProblemBody {
    #[serde(rename = "type")]
    kind: &'static str,
    title: &'static str,
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let (status, title, message) = self.0.parts();
        let detail = match self.0 {
            WebError::NotFound | WebError::Internal(_) => None,
            WebError::SignIn { .. } => {
                Some("需要有效的访问令牌（Authorization: Bearer …）".to_string())
            }
            _ => Some(message),
        };
        let body = ProblemBody {
            kind: "about:blank",
            title,
            status: status.as_u16(),
            detail,
        };
        let json = serde_json::to_vec(&body).unwrap_or_default();
        (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            json,
        )
            .into_response()
    }
}

async fn procedures(State(app): State<Arc<App>>) -> Result<Json<Vec<Procedure>>, Problem> {
    Ok(Json(procedure_list(&app)?))
}

async fn notice(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Json<Notice>, Problem> {
    Ok(Json(Notice::of(&app, &id)?))
}

/// A genuine document by its verification code; 404 otherwise.
async fn document(
    State(app): State<Arc<App>>,
    Path(code): Path<String>,
) -> Result<Json<VerifiedDocument>, Problem> {
    if code.chars().count() > super::public::MAX_FIELD {
        return Err(WebError::NotFound.into());
    }
    let found = app.verify_by_code(&code).await?;
    found.map(Json).ok_or(Problem(WebError::NotFound))
}
