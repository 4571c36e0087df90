//! The JSON API for integrators, under `/api/v1`: the same use cases as the
//! pages, answered as JSON, errors as `application/problem+json` (RFC 9457).
//! The public's part needs no sign-in; the rest takes a bearer token of an
//! account (`onewindow user token`) and acts as that account's role.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use std::collections::BTreeMap;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;

use super::auth::Web;
use super::error::WebError;
use super::input::{FileBody, JsonBody, PathOf, QueryOf};
use super::public::{notice_of, procedure_list, Procedure};
use super::routes::{Audience::Anyone, Route, APPLICANT, FILING, STAFF};
use crate::app::access::{DocumentView, ProgressView};
use crate::app::accounts::Account;
use crate::app::actions::ActionRequest;
use crate::app::views::VerifiedDocument;
use crate::app::views::{FilingSummary, FilingView, QueueItem};
use crate::app::App;
use crate::app::{AppError, Application, Door, Upload};
use crate::dsl::notice::Notice;

pub fn routes() -> Vec<Route> {
    vec![
        Route::get("/api/v1/procedures", Anyone, procedures),
        Route::get("/api/v1/procedures/{id}/notice", Anyone, notice),
        Route::get("/api/v1/documents/{code}", Anyone, document),
        Route::post("/api/v1/uploads", APPLICANT, upload),
        Route::get("/api/v1/filings", APPLICANT, my_filings),
        Route::post("/api/v1/filings", APPLICANT, submit),
        Route::get("/api/v1/filings/{id}", FILING, filing),
        Route::post("/api/v1/filings/{id}/actions", FILING, act),
        Route::get("/api/v1/filings/{id}/documents", FILING, documents),
        Route::get(
            "/api/v1/filings/{id}/documents/{code}",
            FILING,
            document_pdf,
        ),
        Route::get("/api/v1/inbox", STAFF, inbox),
        Route::get("/api/v1/progress", Anyone, progress),
        Route::get("/api/openapi.json", Anyone, openapi),
    ]
}

/// Anything else under the API answers as the API does.
pub(super) async fn unknown() -> Problem {
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

/// An error (RFC 9457), in Chinese.
#[derive(Serialize, utoipa::ToSchema)]
struct ProblemBody {
    #[serde(rename = "type")]
    kind: &'static str,
    title: &'static str,
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
    /// Every problem of the input, by field (`subject`), in Chinese.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<crate::app::Problem>,
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let (status, title, message) = self.0.parts();
        let challenge = matches!(self.0, WebError::SignIn { .. });
        let errors = match &self.0 {
            WebError::Unprocessable(problems) => problems.clone(),
            _ => Vec::new(),
        };
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
            errors,
        };
        let json = serde_json::to_vec(&body).unwrap_or_default();
        let mut response = (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            json,
        )
            .into_response();
        if challenge {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

#[utoipa::path(get, path = "/api/v1/procedures", tag = "public",
    responses((status = 200, description = "The procedures in service", body = Vec<Procedure>)))]
async fn procedures(State(app): State<Arc<App>>) -> Result<Json<Vec<Procedure>>, Problem> {
    Ok(Json(procedure_list(&app)?))
}

#[utoipa::path(get, path = "/api/v1/procedures/{id}/notice", tag = "public",
    params(("id" = String, Path, description = "The procedure's id")),
    responses((status = 200, description = "Its one-time notice (一次性告知书)", body = Notice),
        (status = 404, description = "No such procedure", body = ProblemBody, content_type = "application/problem+json")))]
async fn notice(
    State(app): State<Arc<App>>,
    PathOf(id): PathOf<String>,
) -> Result<Json<Notice>, Problem> {
    Ok(Json(notice_of(&app, &id)?))
}

/// A genuine document by its verification code; 404 otherwise.
#[utoipa::path(get, path = "/api/v1/documents/{code}", tag = "public",
    params(("code" = String, Path, description = "The verification code printed on the document")),
    responses((status = 200, description = "The document is genuine", body = VerifiedDocument),
        (status = 404, description = "No document has this code", body = ProblemBody, content_type = "application/problem+json")))]
async fn document(
    State(app): State<Arc<App>>,
    PathOf(code): PathOf<String>,
) -> Result<Json<VerifiedDocument>, Problem> {
    if code.chars().count() > super::public::MAX_FIELD {
        return Err(WebError::NotFound.into());
    }
    let found = app.verify_by_code(&code).await?;
    found.map(Json).ok_or(Problem(WebError::NotFound))
}

/// The account a bearer token belongs to; 401 without a valid one.
#[derive(Clone)]
pub struct Bearer(pub Account);

impl<S> FromRequestParts<S> for Bearer
where
    S: Send + Sync,
    Arc<App>: FromRef<S>,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Bearer, Problem> {
        if let Some(bearer) = parts.extensions.get::<Bearer>() {
            return Ok(bearer.clone());
        }
        let unauthorized = || {
            Problem(WebError::SignIn {
                next: String::new(),
                expired: false,
            })
        };
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty() && t.len() <= 128)
            .ok_or_else(unauthorized)?;
        let app = Arc::<App>::from_ref(state);
        let account = app.token_account(token).await?.ok_or_else(unauthorized)?;
        parts.extensions.insert(Bearer(account.clone()));
        Ok(Bearer(account))
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct UploadQuery {
    /// The file's name; its extension is the kind the content must be.
    #[param(
        min_length = 3,
        max_length = 200,
        pattern = r"\.(?:pdf|ofd|jpg|jpeg|png|doc|docx|xls|xlsx|PDF|OFD|JPG|JPEG|PNG|DOC|DOCX|XLS|XLSX)$"
    )]
    name: String,
}

/// Stores a material's file (the body, as is); its reference for a filing.
#[utoipa::path(post, path = "/api/v1/uploads", tag = "applicant", params(UploadQuery),
    request_body(content = FileBytes, content_type = "application/octet-stream", description = "The file, as is"),
    security(("bearer" = [])),
    responses((status = 201, description = "Stored; refer to it by `sha256` when filing", body = Upload),
        (status = 422, description = "Empty, or not a readable file of the kind its name says", body = ProblemBody, content_type = "application/problem+json")))]
async fn upload(
    State(app): State<Arc<App>>,
    Bearer(account): Bearer,
    QueryOf(query): QueryOf<UploadQuery>,
    FileBody(body): FileBody,
) -> Result<(StatusCode, Json<Upload>), Problem> {
    let upload = app.upload(&account, &query.name, &body).await?;
    Ok((StatusCode::CREATED, Json(upload)))
}

/// A file's bytes, as the body of an upload.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)] // describes the body; the handler reads the bytes
struct FileBytes(Vec<u8>);

/// A material of a new filing: a file uploaded before, by its hash.
#[derive(Deserialize, utoipa::ToSchema)]
struct MaterialRef {
    /// As the upload answered: 64 lowercase hexadecimal digits.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    sha256: String,
    #[schema(min_length = 1, max_length = 200)]
    name: String,
}

/// A new filing as an integrator sends it.
#[derive(Deserialize, utoipa::ToSchema)]
struct NewFilingRequest {
    /// The procedure's id (`GET /api/v1/procedures`).
    #[schema(pattern = "^[a-z][a-z0-9_]*$", max_length = 64)]
    workflow: String,
    /// The applicant's name as the documents will print it.
    #[schema(min_length = 1, max_length = 200)]
    applicant: String,
    #[serde(default)]
    form: serde_json::Map<String, serde_json::Value>,
    /// Eligibility facts the applicant declares, by fact id: taken only
    /// where the registry does not know the institution (by the form's
    /// `credit_code`) or the fact, each proven by its evidence material.
    #[serde(default)]
    facts: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    materials: BTreeMap<String, MaterialRef>,
    /// For an agreement: who signs for each party, by party id — the
    /// e-mail address of the applicant account that signs for it.
    #[serde(default)]
    signatories: BTreeMap<String, String>,
}

/// Files an application; the `Idempotency-Key` header files it once
/// however often the request is sent, answering the same each time.
#[utoipa::path(post, path = "/api/v1/filings", tag = "applicant", request_body = NewFilingRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "The same key files once")),
    security(("bearer" = [])),
    responses((status = 201, description = "Filed", body = FilingView),
        (status = 422, description = "Every problem of the form, by field", body = ProblemBody, content_type = "application/problem+json")))]
async fn submit(
    State(app): State<Arc<App>>,
    Bearer(account): Bearer,
    headers: HeaderMap,
    JsonBody(request): JsonBody<NewFilingRequest>,
) -> Result<Response, Problem> {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .filter(|k| !k.is_empty() && k.len() <= 128)
        .map(|k| (Door::Api, k.to_string()));
    let references = request
        .materials
        .into_iter()
        .map(|(material, r)| (material, (r.sha256, r.name)))
        .collect();
    let materials = app.uploaded(&account, references).await.map_err(invalid)?;
    let application = Application {
        workflow: request.workflow,
        applicant: request.applicant,
        form: request.form,
        facts: request.facts,
        materials,
        signatories: request.signatories,
        key,
    };
    let view = app
        .submit_as(&account, application)
        .await
        .map_err(invalid)?;
    let location = format!("/api/v1/filings/{}", view.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(view),
    )
        .into_response())
}

/// Invalid input lists every problem, by field.
fn invalid(error: AppError) -> Problem {
    match error {
        AppError::Invalid(problems) => Problem(WebError::Unprocessable(problems)),
        other => other.into(),
    }
}

#[utoipa::path(get, path = "/api/v1/filings", tag = "applicant", security(("bearer" = [])),
    responses((status = 200, description = "The applicant's filings", body = Vec<FilingSummary>)))]
async fn my_filings(
    State(app): State<Arc<App>>,
    Bearer(account): Bearer,
) -> Result<Json<Vec<FilingSummary>>, Problem> {
    Ok(Json(app.filings_of(&account.email).await?))
}

#[utoipa::path(get, path = "/api/v1/filings/{id}", tag = "filings",
    params(("id" = String, Path, description = "The filing's number")), security(("bearer" = [])),
    responses((status = 200, description = "The filing as this account may see it", body = FilingView),
        (status = 404, description = "No such filing, or not this account's to see", body = ProblemBody, content_type = "application/problem+json")))]
async fn filing(
    State(app): State<Arc<App>>,
    Bearer(account): Bearer,
    PathOf(id): PathOf<String>,
) -> Result<Json<FilingView>, Problem> {
    Ok(Json(app.filing_for(&account, &id, app.today()).await?))
}

/// The documents issued on a filing, each with the code that downloads it.
#[utoipa::path(get, path = "/api/v1/filings/{id}/documents", tag = "filings",
    params(("id" = String, Path, description = "The filing's number")), security(("bearer" = [])),
    responses((status = 200, description = "Its documents (notices, decisions, permits, receipts)", body = Vec<DocumentView>),
        (status = 404, description = "No such filing, or not this account's to see", body = ProblemBody, content_type = "application/problem+json")))]
async fn documents(
    State(app): State<Arc<App>>,
    Bearer(account): Bearer,
    PathOf(id): PathOf<String>,
) -> Result<Json<Vec<DocumentView>>, Problem> {
    Ok(Json(app.documents_for(&account, &id).await?))
}

/// A document of a filing as its PDF (PDF/A), as the applicant holds it.
#[utoipa::path(get, path = "/api/v1/filings/{id}/documents/{code}", tag = "filings",
    params(("id" = String, Path, description = "The filing's number"),
        ("code" = String, Path, description = "The document's verification code (from its list)")),
    security(("bearer" = [])),
    responses((status = 200, description = "The PDF", content_type = "application/pdf", body = Vec<u8>),
        (status = 404, description = "No such filing or document, not this account's to see, or not rendered yet", body = ProblemBody, content_type = "application/problem+json")))]
async fn document_pdf(
    State(app): State<Arc<App>>,
    Bearer(account): Bearer,
    PathOf((id, code)): PathOf<(String, String)>,
) -> Result<Response, Problem> {
    let (name, bytes) = app.document_pdf(&account, &id, &code).await?;
    Ok(super::filing::attachment(&name, "application/pdf", bytes))
}

/// An action on a filing; the filing as it is afterwards.
#[utoipa::path(post, path = "/api/v1/filings/{id}/actions", tag = "filings", request_body = ActionRequest,
    params(("id" = String, Path, description = "The filing's number")), security(("bearer" = [])),
    responses((status = 200, description = "Done; the filing as it is now", body = FilingView),
        (status = 409, description = "Someone acted first (a race)", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "The procedure's rules refuse it", body = ProblemBody, content_type = "application/problem+json")))]
async fn act(
    State(web): State<Web>,
    Bearer(account): Bearer,
    PathOf(id): PathOf<String>,
    JsonBody(request): JsonBody<ActionRequest>,
) -> Result<Json<FilingView>, Problem> {
    web.app.carry_out(&account, &id, &request).await?;
    Ok(Json(
        web.app.filing_for(&account, &id, web.app.today()).await?,
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct InboxQuery {
    /// `mine`, `unclaimed` or `overdue`; all open work without it.
    filter: Option<String>,
    #[serde(default)]
    offset: i64,
}

/// A department's open work by due date, 200 at a time.
#[utoipa::path(get, path = "/api/v1/inbox", tag = "departments", params(InboxQuery), security(("bearer" = [])),
    responses((status = 200, description = "The department's open work by due date", body = Vec<QueueItem>)))]
async fn inbox(
    State(app): State<Arc<App>>,
    Bearer(account): Bearer,
    QueryOf(query): QueryOf<InboxQuery>,
) -> Result<Json<Vec<QueueItem>>, Problem> {
    let filter = query.filter.as_deref().unwrap_or("all");
    Ok(Json(
        app.inbox_of(&account, filter, 200, query.offset).await?,
    ))
}

/// A filing's progress by its number and query code; 404 when they do not match.
#[utoipa::path(get, path = "/api/v1/progress", tag = "public", params(super::public::ProgressQuery),
    responses((status = 200, description = "Where the filing stands; nothing personal", body = ProgressView),
        (status = 404, description = "Number and code do not match", body = ProblemBody, content_type = "application/problem+json")))]
async fn progress(
    State(app): State<Arc<App>>,
    QueryOf(query): QueryOf<super::public::ProgressQuery>,
) -> Result<Json<ProgressView>, Problem> {
    super::public::lookup(&app, &query)
        .await?
        .map(Json)
        .ok_or(Problem(WebError::NotFound))
}

/// The API's description, generated from the handlers and wire types above.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "onewindow 一窗受理 JSON API", description = "医养结合机构一窗受理：申请、受理、审查、进度和文书核验"),
    paths(procedures, notice, document, upload, submit, my_filings, filing, act, documents, document_pdf, inbox, progress),
    components(schemas(ProblemBody, crate::app::Problem)),
    modifiers(&BearerScheme, &Refusals),
    tags((name = "public", description = "No sign-in"),
        (name = "applicant", description = "An applicant's token"),
        (name = "filings", description = "Whoever may see the filing"),
        (name = "departments", description = "Window clerks, reviewers, heads"))
)]
pub struct ApiDoc;

/// The refusals every operation can answer, declared once for all of them
/// from what the operation takes: a query or path (400, 404), a bearer
/// token (401, 403), a body (413, 415, 422). Each is a [`ProblemBody`] as
/// `application/problem+json`; what an operation declares itself stays.
struct Refusals;

impl utoipa::Modify for Refusals {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let problem = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/problem+json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ProblemBody")))
                        .build(),
                )
                .build()
        };
        for item in openapi.paths.paths.values_mut() {
            for operation in [&mut item.get, &mut item.post].into_iter().flatten() {
                let mut refusals = vec![
                    ("400", "请求有误：查询参数或正文不符合要求"),
                    ("404", "未找到，或无权查看"),
                ];
                if operation.security.is_some() {
                    refusals.push(("401", "需要有效的访问令牌"));
                    refusals.push(("403", "此账号的角色不能办理"));
                }
                if operation.request_body.is_some() {
                    refusals.push(("413", "请求正文过大"));
                    refusals.push(("415", "请求正文的类型不支持"));
                    refusals.push(("422", "填写有误，或按办理规则不能办理"));
                }
                for (status, description) in refusals {
                    operation
                        .responses
                        .responses
                        .entry(status.to_string())
                        .or_insert_with(|| problem(description).into());
                }
            }
        }
    }
}

/// Bearer tokens (`onewindow user token`).
struct BearerScheme;

impl utoipa::Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The description, with the procedures in service as the values a new
/// filing's `workflow` may take (they change as policy staff publish).
async fn openapi(State(app): State<Arc<App>>) -> Json<serde_json::Value> {
    use utoipa::OpenApi as _;
    let mut document = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    let workflow =
        &mut document["components"]["schemas"]["NewFilingRequest"]["properties"]["workflow"];
    if workflow.is_object() {
        workflow["enum"] = serde_json::json!(app.workflow_ids());
    }
    Json(document)
}
