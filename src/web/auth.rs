//! Who is asking: the session cookie turned into an account ([`Viewer`]),
//! and the token every form carries ([`Posted`]). Failed sign-ins are
//! limited by the application (`App::sign_in_limited`), in the database.
//!
//! Every browser holds one random cookie: a visitor's before sign-in, a
//! session's after (a new one at each sign-in, so a cookie planted before
//! cannot be ridden). A form's token is the SHA-256 of that cookie: a page
//! of another site cannot read the cookie, so it cannot forge the token.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, FromRef, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use axum::Form;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::error::WebError;
use crate::app::accounts::{random_token, Account};
use crate::app::App;

/// The cookie of a signed-in browser.
pub const SESSION_COOKIE: &str = "ow_session";
/// The cookie of a browser not signed in (the base of its forms' tokens).
pub const VISITOR_COOKIE: &str = "ow_visitor";

/// What every handler shares.
#[derive(Clone)]
pub struct Web {
    pub app: Arc<App>,
    /// Cookies are `Secure` when the product is reached over TLS.
    pub secure: bool,
    /// The requests answered, for `/metrics`.
    pub requests: Arc<crate::metrics::Requests>,
}

impl FromRef<Web> for Arc<App> {
    fn from_ref(web: &Web) -> Arc<App> {
        web.app.clone()
    }
}

/// A cookie's value from the request's `Cookie` headers.
pub fn cookie(parts: &Parts, name: &str) -> Option<String> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, value)| *key == name && !value.is_empty() && value.len() <= 128)
        .map(|(_, value)| value.to_string())
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, whole site, Secure over TLS.
pub fn set_cookie(name: &str, value: &str, max_age: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let text = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}");
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Percent-encodes a value for a query string.
pub fn encode_query(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~/".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

use crate::app::accounts::form_token as csrf_of;

/// Gives a browser without a cookie a visitor's one, so the first page it
/// sees already carries a form token.
pub async fn visitor_cookie(
    axum::extract::State(web): axum::extract::State<Web>,
    mut request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    // The JSON API takes bearer tokens, never cookies.
    let browser = !parts.uri.path().starts_with("/api/");
    let fresh = (browser
        && cookie(&parts, SESSION_COOKIE).is_none()
        && cookie(&parts, VISITOR_COOKIE).is_none())
    .then(random_token);
    if let Some(token) = &fresh {
        if let Ok(value) = HeaderValue::from_str(&format!("{VISITOR_COOKIE}={token}")) {
            parts.headers.append(header::COOKIE, value);
        }
    }
    request = Request::from_parts(parts, body);
    let mut response = next.run(request).await;
    if let Some(token) = fresh {
        response.headers_mut().append(
            header::SET_COOKIE,
            set_cookie(VISITOR_COOKIE, &token, 7 * 24 * 3600, web.secure),
        );
    }
    response
}

/// Who is asking: an account or nobody, and this browser's form token.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub account: Option<Account>,
    pub csrf: String,
    /// The session cookie, when there is one (valid or not).
    pub session: Option<String>,
    /// The path asked for, to come back to after signing in.
    pub path: String,
}

impl Viewer {
    /// Whether a submitted token is this browser's.
    pub fn check(&self, token: &str) -> Result<(), WebError> {
        let expected = self.csrf.as_bytes();
        let given = token.as_bytes();
        let same = expected.len() == given.len()
            && expected
                .iter()
                .zip(given)
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if same {
            Ok(())
        } else {
            Err(WebError::Csrf)
        }
    }

    /// The account, or a redirect to sign in.
    pub fn signed_in(&self) -> Result<&Account, WebError> {
        self.account.as_ref().ok_or_else(|| WebError::SignIn {
            next: self.path.clone(),
            expired: self.session.is_some(),
        })
    }
}

impl<S> FromRequestParts<S> for Viewer
where
    S: Send + Sync,
    Arc<App>: FromRef<S>,
{
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Viewer, WebError> {
        if let Some(viewer) = parts.extensions.get::<Viewer>() {
            return Ok(viewer.clone());
        }
        let app = Arc::<App>::from_ref(state);
        let session = cookie(parts, SESSION_COOKIE);
        let account = match &session {
            Some(token) => app.session(token, app.now()).await?,
            None => None,
        };
        let base = session
            .clone()
            .or_else(|| cookie(parts, VISITOR_COOKIE))
            .unwrap_or_default();
        let path = parts
            .uri
            .path_and_query()
            .map_or_else(|| "/".to_string(), |p| p.as_str().to_string());
        let viewer = Viewer {
            account,
            csrf: csrf_of(&base),
            session,
            path,
        };
        parts.extensions.insert(viewer.clone());
        Ok(viewer)
    }
}

/// The peer's address, when the server knows it.
pub fn peer(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip())
}

/// A signed-in account and the viewer it came as: handlers for signed-in
/// people take this and never see an anonymous request (it is sent to
/// sign in, and back).
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub account: Account,
    pub viewer: Viewer,
}

impl<S> FromRequestParts<S> for SignedIn
where
    S: Send + Sync,
    Arc<App>: FromRef<S>,
{
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<SignedIn, WebError> {
        let viewer = Viewer::from_request_parts(parts, state).await?;
        let account = viewer.signed_in()?.clone();
        Ok(SignedIn { account, viewer })
    }
}

/// A form posted from one of our pages: its token checked, then its fields.
pub struct Posted<T> {
    pub viewer: Viewer,
    pub form: T,
    pub peer: Option<IpAddr>,
}

#[derive(Deserialize)]
struct Token {
    #[serde(default)]
    csrf: String,
}

impl<S, T> FromRequest<S> for Posted<T>
where
    S: Send + Sync,
    Arc<App>: FromRef<S>,
    T: DeserializeOwned + Send,
{
    type Rejection = WebError;

    async fn from_request(request: Request, state: &S) -> Result<Posted<T>, WebError> {
        let (mut parts, body) = request.into_parts();
        let viewer = Viewer::from_request_parts(&mut parts, state).await?;
        let peer = peer(&parts);
        let bytes = Bytes::from_request(Request::from_parts(parts.clone(), body), state)
            .await
            .map_err(|_| WebError::BadRequest("表单过大或无法读取".to_string()))?;
        if !decodes_as_utf8(&bytes) {
            return Err(WebError::BadRequest(
                "表单内容不是有效的 UTF-8 文字，未作任何改动".to_string(),
            ));
        }
        let form = |bytes: Bytes| Request::from_parts(parts.clone(), Body::from(bytes));
        let Form(token) = Form::<Token>::from_request(form(bytes.clone()), state)
            .await
            .map_err(|_| WebError::Csrf)?;
        viewer.check(&token.csrf)?;
        let Form(fields) =
            Form::<T>::from_request(form(bytes), state)
                .await
                .map_err(|rejection| {
                    WebError::BadRequest(format!("表单有误：{}", rejection.body_text()))
                })?;
        Ok(Posted {
            viewer,
            form: fields,
            peer,
        })
    }
}

/// Whether a form body (`application/x-www-form-urlencoded`) decodes to
/// UTF-8 text: the form parser would replace what does not, and store
/// "ab\u{fffd}" where the person typed something else.
fn decodes_as_utf8(body: &[u8]) -> bool {
    let mut decoded = Vec::with_capacity(body.len());
    let mut bytes = body.iter().copied();
    while let Some(byte) = bytes.next() {
        match byte {
            b'%' => {
                let high = bytes.next().and_then(|b| (b as char).to_digit(16));
                let low = bytes.next().and_then(|b| (b as char).to_digit(16));
                match (high, low) {
                    (Some(high), Some(low)) => decoded.push((high * 16 + low) as u8),
                    _ => return false,
                }
            }
            b'&' | b'=' => {
                if std::str::from_utf8(&decoded).is_err() {
                    return false;
                }
                decoded.clear();
            }
            other => decoded.push(other),
        }
    }
    std::str::from_utf8(&decoded).is_ok()
}

#[cfg(test)]
mod tests {
    use super::decodes_as_utf8;

    #[test]
    fn a_form_decodes_as_utf8_or_is_refused() {
        assert!(decodes_as_utf8(b"name=%E4%B8%AD&x=a+b"));
        assert!(!decodes_as_utf8(b"name=ab%FF%28cd"), "invalid UTF-8");
        assert!(
            !decodes_as_utf8(b"name=%FF%FEa%00"),
            "a UTF-16 byte-order mark"
        );
        assert!(!decodes_as_utf8(b"name=%E4"), "cut off");
        assert!(!decodes_as_utf8(b"name=%G1"), "not a percent escape");
    }
}
