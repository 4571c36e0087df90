//! What the JSON API reads from a request — its JSON body, its query, its
//! path, a file as its body — with every refusal answered as the API
//! answers everything: `application/problem+json`, in Chinese, naming the
//! field at fault. axum's own extractors answer English `text/plain`
//! ("Failed to deserialize the JSON body…"); these wrap them.
//!
//! - a body that is not JSON by its `Content-Type`: 415
//! - a body over the limit: 413
//! - JSON that does not parse (invalid UTF-8 included): 400, at its line
//!   and column
//! - JSON that parses but does not fit (a missing field, a wrong type, an
//!   unknown value): 422, each by its field's path
//! - a query or path that does not fit: 400, by parameter

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::api::Problem;
use super::error::WebError;
use crate::app::Problem as FieldProblem;

/// A JSON body, read as [`axum::Json`] would, refused in the API's way.
pub struct JsonBody<T>(pub T);

impl<T, S> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<JsonBody<T>, Problem> {
        let is_json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(';').next())
            .map(|media| media.trim().to_ascii_lowercase())
            .is_some_and(|media| {
                media == "application/json"
                    || (media.starts_with("application/") && media.ends_with("+json"))
            });
        if !is_json {
            return Err(Problem::from(WebError::UnsupportedMediaType(
                "请求正文须为 JSON（Content-Type: application/json）".into(),
            )));
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(body_refusal)?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// Parses JSON text into `T`: 400 when it is not JSON, 422 by field when
/// it does not fit.
///
/// # Errors
/// A [`Problem`] as the module says.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = match serde_path_to_error::deserialize::<_, T>(&mut deserializer) {
        Ok(value) => value,
        Err(error) if error.inner().is_data() => return Err(Problem::from(unfit(&error))),
        Err(error) => return Err(not_json(error.inner())),
    };
    // Nothing but white space after the value.
    deserializer.end().map_err(|error| not_json(&error))?;
    Ok(value)
}

/// Reads `T` from a JSON value a page's form was turned into: what does
/// not fit is refused as the API refuses it (422, by field).
///
/// # Errors
/// [`WebError::Unprocessable`], naming the field.
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, WebError> {
    serde_path_to_error::deserialize(value).map_err(|error| unfit(&error))
}

/// A value that does not fit, by its field, in Chinese.
fn unfit(error: &serde_path_to_error::Error<serde_json::Error>) -> WebError {
    let serde_message = error.inner().to_string();
    WebError::Unprocessable(vec![FieldProblem {
        subject: subject_of(&error.path().to_string(), &serde_message),
        message: data_problem(&serde_message),
    }])
}

/// The field at fault: the path to the value, and for a missing field
/// the field itself (serde names it in its message, not its path).
fn subject_of(path: &str, serde_message: &str) -> Option<String> {
    let path = (path != ".").then_some(path);
    let missing = serde_message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next());
    match (path, missing) {
        (Some(path), Some(field)) => Some(format!("{path}.{field}")),
        (None, Some(field)) => Some(field.to_string()),
        (path, None) => path.map(str::to_string),
    }
}

/// Text that is not JSON (or not UTF-8), at its line and column.
fn not_json(error: &serde_json::Error) -> Problem {
    Problem::from(WebError::BadRequest(format!(
        "请求正文不是有效的 JSON（UTF-8 编码），第{}行第{}列有误",
        error.line(),
        error.column()
    )))
}

/// What a value that does not fit is told, in Chinese, from serde's
/// wording (the field itself is named by its path).
fn data_problem(serde_message: &str) -> String {
    let quoted = |text: &str| {
        text.split('`')
            .nth(1)
            .map_or_else(String::new, str::to_string)
    };
    if serde_message.starts_with("missing field") {
        format!("缺少必填字段 {}", quoted(serde_message))
    } else if serde_message.starts_with("unknown field") {
        format!("没有这个字段：{}", quoted(serde_message))
    } else if serde_message.starts_with("unknown variant") {
        format!("取值 {} 无效", quoted(serde_message))
    } else if let Some(rest) = serde_message.strip_prefix("invalid type: ") {
        let expected = rest.split(", expected ").nth(1).unwrap_or_default();
        format!("类型不符：应为 {}", expected_in_chinese(expected))
    } else if serde_message.starts_with("invalid value") {
        "取值无效".to_string()
    } else if serde_message.starts_with("invalid length") {
        "元素个数不符".to_string()
    } else {
        "取值无效".to_string()
    }
}

fn expected_in_chinese(expected: &str) -> &'static str {
    match expected {
        e if e.contains("string") => "字符串",
        e if e.contains("i64")
            || e.contains("u64")
            || e.contains("integer")
            || e.contains("usize")
            || e.contains("u32")
            || e.contains("i32") =>
        {
            "整数"
        }
        e if e.contains("f64") || e.contains("number") => "数字",
        e if e.contains("bool") => "true 或 false",
        e if e.contains("map") || e.contains("struct") => "对象",
        e if e.contains("sequence") => "数组",
        _ => "其他类型",
    }
}

/// A query string, refused in the API's way.
pub struct QueryOf<T>(pub T);

impl<T, S> FromRequestParts<S> for QueryOf<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<QueryOf<T>, Problem> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|query| QueryOf(query.0))
            .map_err(|rejection: QueryRejection| {
                let text = rejection.body_text();
                let field = text
                    .split('`')
                    .nth(1)
                    .map_or_else(String::new, str::to_string);
                let message = if text.contains("missing field") {
                    format!("缺少查询参数 {field}")
                } else if field.is_empty() {
                    "查询参数有误".to_string()
                } else {
                    format!("查询参数 {field} 有误")
                };
                Problem::from(WebError::BadRequest(message))
            })
    }
}

/// Path parameters, refused in the API's way (a path that does not fit
/// names nothing there is: 404).
pub struct PathOf<T>(pub T);

impl<T, S> FromRequestParts<S> for PathOf<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<PathOf<T>, Problem> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|path| PathOf(path.0))
            .map_err(|_: PathRejection| Problem::from(WebError::NotFound))
    }
}

/// A file sent as the body, as is.
pub struct FileBody(pub Bytes);

impl<S> FromRequest<S> for FileBody
where
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<FileBody, Problem> {
        Bytes::from_request(request, state)
            .await
            .map(FileBody)
            .map_err(body_refusal)
    }
}

/// A body that could not be read: over the limit (413), else cut off (400).
fn body_refusal(rejection: BytesRejection) -> Problem {
    if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        Problem::from(WebError::TooLarge("请求正文超过上限".into()))
    } else {
        Problem::from(WebError::BadRequest("请求正文未能完整读取".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Sample {
        name: String,
        count: i64,
    }

    fn status(result: Result<Sample, Problem>) -> u16 {
        use axum::response::IntoResponse as _;
        result
            .err()
            .map_or(200, |p| p.into_response().status().as_u16())
    }

    #[test]
    fn json_refusals_are_told_by_field_in_chinese() {
        assert_eq!(status(parse_json(br#"{"name":"a","count":1}"#)), 200);
        assert_eq!(status(parse_json(br#"{"name":"a""#)), 400, "cut off");
        assert_eq!(
            status(parse_json(b"{\"name\":\"a\xff\",\"count\":1}")),
            400,
            "not UTF-8"
        );
        assert_eq!(
            status(parse_json(br#"{"name":"a","count":1} x"#)),
            400,
            "trailing"
        );
        assert_eq!(status(parse_json(br#"{"name":"a","count":1.5}"#)), 422);
        assert_eq!(status(parse_json(br#"{"count":1}"#)), 422);
        assert_eq!(data_problem("missing field `name`"), "缺少必填字段 name");
        assert_eq!(
            data_problem("invalid type: floating point `1.5`, expected i64"),
            "类型不符：应为 整数"
        );
    }
}
