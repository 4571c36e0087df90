//! The web application for the people who sign in — applicants, the window,
//! reviewers, heads, administrators — over HTTP in process (tower's
//! `oneshot` on one real router), each person a browser with its cookies.
//! Sessions, form tokens, who sees what, and what bad input gets.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::Router;
use onewindow::app::accounts::{NewAccount, Role};
use onewindow::app::{Access, App, Clock, Config};
use onewindow::web::routes::Audience;
use tower::ServiceExt as _;

mod common;
use common::{app_config, root, scratch, Day};
use onewindow::calendar::chinese_date;

const PASSWORD: &str = "a-long-password-1";

async fn app(data: &Path, max_upload: u64) -> Arc<App> {
    let config = Config {
        max_upload,
        ..app_config(data, "http://localhost:8080", Access::CreateIfMissing)
    };
    Arc::new(App::open(config).await.expect("the app opens"))
}

/// An ordinary day and every day that breaks dates, for the tests of
/// dates (each iteration's failure names its day through its data folder
/// and the asserts' messages).
fn days() -> impl Iterator<Item = Day> {
    std::iter::once(Day {
        at: common::ORDINARY_DAY,
        why: "an ordinary day",
    })
    .chain(common::BREAKING_DAYS)
}

/// The time of the tests that are not about a day of their own: the day
/// their app's clock stands at ([`common::ORDINARY_DAY`]).
fn now() -> jiff::civil::DateTime {
    common::ORDINARY_DAY
}

/// Staff and applicants of the tests, all with [`PASSWORD`].
async fn people(app: &App) {
    for (email, role, department) in [
        ("owner@applicant.cn", Role::Applicant, None),
        ("other@applicant.cn", Role::Applicant, None),
        ("window@staff.cn", Role::Window, Some("window")),
        ("health@staff.cn", Role::Reviewer, Some("health")),
        ("health2@staff.cn", Role::Reviewer, Some("health")),
        ("civil@staff.cn", Role::Reviewer, Some("civil")),
        ("insurance@staff.cn", Role::Reviewer, Some("insurance")),
        ("head@staff.cn", Role::Head, Some("health")),
        ("policy@staff.cn", Role::Policy, None),
        ("admin@staff.cn", Role::Admin, None),
    ] {
        let account = NewAccount {
            email: email.into(),
            name: format!("测试{}", role.chinese()),
            role,
            department: department.map(str::to_string),
            password: PASSWORD.into(),
        };
        app.add_account(account, "test", now()).await.unwrap();
    }
}

/// A browser: one router, its cookies, and the address it connects from
/// (none: the router sees no peer).
struct Browser {
    router: Router,
    cookies: HashMap<String, String>,
    peer: Option<std::net::SocketAddr>,
    /// Where the pages it is shown are kept, when they are to be looked at
    /// in Chromium afterwards ([`Looked`]).
    looked: Option<(Looked, String)>,
}

/// The HTML pages people were shown, each under who saw it, for axe-core
/// and the phone's width in Chromium once the walk is over.
#[derive(Clone, Default)]
struct Looked(Arc<std::sync::Mutex<Vec<(String, String, String)>>>);

impl Looked {
    /// A browser whose pages are kept under `who`.
    fn browser(&self, router: &Router, who: &str) -> Browser {
        Browser {
            looked: Some((self.clone(), who.to_string())),
            ..Browser::new(router)
        }
    }

    fn keep(&self, who: &str, path: &str, body: &str) {
        self.0
            .lock()
            .unwrap()
            .push((who.to_string(), path.to_string(), body.to_string()));
    }

    /// Writes each page once per person, place (the filing's id and the
    /// query left out) and set of sections as a file that reads the product's own
    /// style sheet, opens them all in Chromium at 1280 and at 390 pixels
    /// (web/a11y/check.mjs: axe-core, and nothing wider than a phone), and
    /// fails on any serious violation. Returns how many pages were looked at.
    fn check_in_chromium(&self, folder: &Path) -> usize {
        std::fs::create_dir_all(folder).unwrap();
        let style = format!("file://{}", root().join("web/static/site.css").display());
        let mut places = std::collections::BTreeSet::new();
        let mut files = Vec::new();
        for (who, path, body) in self.0.lock().unwrap().iter() {
            let place: String = path
                .split('?')
                .next()
                .unwrap_or_default()
                .split('/')
                .map(|part| {
                    if part.chars().filter(|c| *c == '-').count() == 1 && part.starts_with("20") {
                        "ID"
                    } else {
                        part
                    }
                })
                .collect::<Vec<_>>()
                .join("/");
            // The same place in another state shows other sections (a
            // decided filing its documents): looked at again.
            let sections: Vec<&str> = body
                .split("<h2")
                .skip(1)
                .filter_map(|rest| rest.split("</h2>").next())
                .collect();
            if !places.insert((who.clone(), place.clone(), sections.join("|"))) {
                continue;
            }
            let name: String = format!("{who}{place}")
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect();
            let file = folder.join(format!("{:03}-{name}.html", files.len()));
            std::fs::write(
                &file,
                body.replace("href=\"/static/site.css\"", &format!("href=\"{style}\"")),
            )
            .unwrap();
            files.push(format!("file://{}", file.display()));
        }
        let output = common::node()
            .arg(root().join("web/a11y/check.mjs"))
            .arg("--screenshots")
            .arg(folder.join("screenshots"))
            .args(&files)
            .output()
            .expect("node runs (./run test installs Node.js, Chromium and web/a11y's packages)");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "the pages people were shown, in Chromium:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(stdout.lines().count(), files.len(), "{stdout}");
        files.len()
    }
}

struct Page {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
    bytes: Vec<u8>,
}

impl Page {
    fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .map_or("", |v| v.to_str().unwrap())
    }

    /// The form token the page carries.
    fn csrf(&self) -> String {
        let at = self
            .body
            .find("name=\"csrf\" value=\"")
            .expect("a form token")
            + 19;
        self.body[at..at + 64].to_string()
    }
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

impl Browser {
    fn new(router: &Router) -> Browser {
        Browser {
            router: router.clone(),
            cookies: HashMap::new(),
            peer: None,
            looked: None,
        }
    }

    async fn send(&mut self, request: axum::http::request::Builder, body: Body) -> Page {
        let cookie: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let mut request = request.header(header::COOKIE, cookie.join("; "));
        if let Some(peer) = self.peer {
            request = request.extension(axum::extract::ConnectInfo(peer));
        }
        let request = request.body(body).unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        for value in response.headers().get_all(header::SET_COOKIE) {
            let text = value.to_str().unwrap();
            let (pair, _) = text.split_once(';').unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_string(), value.to_string());
            }
        }
        let status = response.status();
        let headers = response.headers().clone();
        let body = to_bytes(response.into_body(), 1 << 24).await.unwrap();
        Page {
            status,
            headers,
            body: String::from_utf8_lossy(&body).to_string(),
            bytes: body.to_vec(),
        }
    }

    async fn get(&mut self, path: &str) -> Page {
        let page = self.send(Request::get(path), Body::empty()).await;
        let html = page
            .headers
            .get(header::CONTENT_TYPE)
            .is_some_and(|kind| kind.to_str().unwrap().starts_with("text/html"));
        if let (Some((looked, who)), true) = (&self.looked, html) {
            looked.keep(who, path, &page.body);
        }
        page
    }

    async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let body: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        self.post_raw(path, body.join("&").into_bytes()).await
    }

    /// Posts a form body as is (already percent-encoded).
    async fn post_raw(&mut self, path: &str, body: Vec<u8>) -> Page {
        self.send(
            Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded"),
            Body::from(body),
        )
        .await
    }

    /// Posts a form as the page that carries it would: with its token.
    async fn submit(&mut self, page_path: &str, path: &str, fields: &[(&str, &str)]) -> Page {
        let csrf = self.get(page_path).await.csrf();
        let mut fields = fields.to_vec();
        fields.insert(0, ("csrf", &csrf));
        self.post(path, &fields).await
    }

    /// Posts a percent-encoded form body after the page's token.
    async fn submit_raw(&mut self, page_path: &str, path: &str, encoded: &[u8]) -> Page {
        let csrf = self.get(page_path).await.csrf();
        let body = [format!("csrf={csrf}&").as_bytes(), encoded].concat();
        self.post_raw(path, body).await
    }

    async fn multipart(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        files: &[(&str, &str, &[u8])],
    ) -> Page {
        let fields: Vec<(&str, &[u8])> = fields.iter().map(|(k, v)| (*k, v.as_bytes())).collect();
        self.multipart_with(path, &fields, files).await
    }

    /// A multipart form whose text fields are bytes as given (UTF-8 or not).
    async fn multipart_bytes(&mut self, path: &str, fields: &[(&str, &[u8])]) -> Page {
        self.multipart_with(path, fields, &[]).await
    }

    async fn multipart_with(
        &mut self,
        path: &str,
        fields: &[(&str, &[u8])],
        files: &[(&str, &str, &[u8])],
    ) -> Page {
        let boundary = "----onewindow-test-boundary";
        let mut body = Vec::new();
        for (name, value) in fields {
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n")
                    .as_bytes(),
            );
            body.extend_from_slice(value);
            body.extend_from_slice(b"\r\n");
        }
        for (name, file, bytes) in files {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                )
                .as_bytes(),
            );
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        self.send(
            Request::post(path).header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            ),
            Body::from(body),
        )
        .await
    }

    async fn sign_in(&mut self, email: &str) -> Page {
        let page = self
            .submit(
                "/login",
                "/login",
                &[("email", email), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{email}: {}", page.body);
        page
    }
}

/// A table cell as the pages write it: under its column's name, which a
/// phone shows beside the value when the table stacks.
fn cell(column: &str, text: &str) -> String {
    format!("<td data-label=\"{column}\">{text}</td>")
}

/// A scratch product with the test's people and its router.
async fn product(name: &str, max_upload: u64) -> (Arc<App>, Router) {
    let data = scratch(name);
    let app = app(&data, max_upload).await;
    people(&app).await;
    let router = onewindow::web::router(app.clone());
    (app, router)
}

/// The sample applicant's form values of new_combined, as a browser posts them.
fn sample_form() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(root().join("workflows/samples/new_combined.json")).unwrap();
    let answers: serde_json::Value = serde_json::from_str(&text).unwrap();
    answers["form"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), typed(v)))
        .collect()
}

fn sample_pdf() -> Vec<u8> {
    onewindow::app::samples::sample_pdf("test material")
}

/// Files new_combined as `browser`'s applicant, with every required
/// material; the filing's id.
async fn file(browser: &mut Browser, applicant_name: &str, key: &str) -> Page {
    let all = [
        "application",
        "feasibility",
        "site_plan",
        "fire",
        "staff",
        "rules",
        "private_registration",
    ];
    file_with(browser, applicant_name, key, &all).await
}

/// Files new_combined with only these materials.
async fn file_with(
    browser: &mut Browser,
    applicant_name: &str,
    key: &str,
    materials: &[&str],
) -> Page {
    let csrf = browser.get("/procedures/new_combined/apply").await.csrf();
    let form = sample_form();
    let mut fields: Vec<(&str, &str)> =
        vec![("csrf", &csrf), ("key", key), ("applicant", applicant_name)];
    fields.extend(form.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let pdf = sample_pdf();
    let names: Vec<String> = materials.iter().map(|m| format!("material:{m}")).collect();
    let files: Vec<(&str, &str, &[u8])> = names
        .iter()
        .map(|n| (n.as_str(), "file.pdf", pdf.as_slice()))
        .collect();
    browser
        .multipart("/procedures/new_combined/apply", &fields, &files)
        .await
}

/// The owner files new_combined on the page and the window accepts it on
/// its page: the owner's browser (signed in), the window's, and the
/// filing's number.
async fn accepted_on_the_pages(
    router: &Router,
    applicant: &str,
    key: char,
) -> (Browser, Browser, String) {
    let mut owner = Browser::new(router);
    owner.sign_in("owner@applicant.cn").await;
    let id = filing_id(&file(&mut owner, applicant, &key.to_string().repeat(64)).await);
    let mut window = Browser::new(router);
    window.sign_in("window@staff.cn").await;
    let path = format!("/filings/{id}");
    let page = window
        .submit(&path, &format!("{path}/act"), &[("action", "accept")])
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    (owner, window, id)
}

fn filing_id(page: &Page) -> String {
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    page.location()
        .strip_prefix("/filings/")
        .expect("the filing's page")
        .to_string()
}

#[tokio::test]
async fn signing_in_rotates_the_cookie_and_every_form_needs_its_token() {
    let (_app, router) = product("web-sessions", 1 << 20).await;
    let mut browser = Browser::new(&router);
    let login = browser.get("/login").await;
    let visitor = browser
        .cookies
        .get("ow_visitor")
        .cloned()
        .expect("a visitor cookie");
    let set = login
        .headers
        .get(header::SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax"),
        "{set}"
    );

    // No token, a forged token: refused, not signed in.
    for fields in [
        vec![("email", "owner@applicant.cn"), ("password", PASSWORD)],
        vec![
            (
                "csrf",
                "0000000000000000000000000000000000000000000000000000000000000000",
            ),
            ("email", "owner@applicant.cn"),
            ("password", PASSWORD),
        ],
    ] {
        let page = browser.post("/login", &fields).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.body);
        assert!(page.body.contains("表单已失效"), "{}", page.body);
        assert!(!browser.cookies.contains_key("ow_session"));
    }
    // A token taken from another browser is not this browser's.
    let mut stranger = Browser::new(&router);
    let foreign = stranger.get("/login").await.csrf();
    let page = browser
        .post(
            "/login",
            &[
                ("csrf", &foreign),
                ("email", "owner@applicant.cn"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);

    let page = browser.sign_in("owner@applicant.cn").await;
    assert_eq!(page.location(), "/my");
    let session = browser
        .cookies
        .get("ow_session")
        .cloned()
        .expect("a session");
    assert_ne!(session, visitor, "a new secret at sign-in");
    assert!(!browser.cookies.contains_key("ow_visitor"));
    let my = browser.get("/my").await;
    assert_eq!(my.status, StatusCode::OK);
    assert!(my.body.contains("测试申请人"), "{}", my.body);

    // Signing in again ends the old session.
    browser.sign_in("owner@applicant.cn").await;
    let mut thief = Browser::new(&router);
    thief.cookies.insert("ow_session".into(), session);
    let page = thief.get("/my").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert!(
        page.location().starts_with("/login?next=/my"),
        "{}",
        page.location()
    );

    // Signing out needs the token too, then the pages ask to sign in.
    let page = browser.post("/logout", &[]).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    let page = browser.submit("/my", "/logout", &[]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let page = browser.get("/my").await;
    assert!(page.location().starts_with("/login"), "{}", page.location());
}

#[tokio::test]
async fn sign_in_failures_are_limited_per_account_in_every_process() {
    let (app, router) = product("web-limits", 1 << 20).await;
    // A second process on the same database: the count is the database's.
    let second = Arc::new(
        App::open(app_config(
            &app.config().data,
            "http://localhost:8080",
            Access::ExistingOnly,
        ))
        .await
        .unwrap(),
    );
    let elsewhere = onewindow::web::router(second);
    let mut browser = Browser::new(&router);
    for _ in 0..5 {
        let page = browser
            .submit(
                "/login",
                "/login",
                &[
                    ("email", "owner@applicant.cn"),
                    ("password", "wrong-password"),
                ],
            )
            .await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED);
        assert!(page.body.contains("电子邮箱或密码不正确"), "{}", page.body);
    }
    let mut again = Browser::new(&elsewhere);
    let page = again
        .submit(
            "/login",
            "/login",
            &[("email", "owner@applicant.cn"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(
        page.status,
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits, in the other process too"
    );
    assert!(page.headers.contains_key(header::RETRY_AFTER));
    // Another account from elsewhere is not held up.
    let mut other = Browser::new(&router);
    other.sign_in("other@applicant.cn").await;
}

/// Regression (issue 19): five wrong passwords locked any account for 15
/// minutes, for everyone, from anywhere — five requests kept a department
/// out of its inbox. Now the address that fails is refused for that
/// account, and the account's owner, from their own address, gets in at
/// once.
#[tokio::test]
async fn failures_from_one_address_never_lock_the_owner_out() {
    let (_app, router) = product("web-lockout", 1 << 20).await;
    let mut attacker = Browser::new(&router);
    attacker.peer = Some("203.0.113.9:40000".parse().unwrap());
    let mut statuses = std::collections::BTreeSet::new();
    for _ in 0..50 {
        let page = attacker
            .submit(
                "/login",
                "/login",
                &[("email", "health@staff.cn"), ("password", "guess-1234567")],
            )
            .await;
        statuses.insert(page.status);
    }
    assert_eq!(
        statuses,
        [StatusCode::UNAUTHORIZED, StatusCode::TOO_MANY_REQUESTS].into(),
        "refused, then held up"
    );
    let mut owner = Browser::new(&router);
    owner.peer = Some("198.51.100.20:50000".parse().unwrap());
    owner.sign_in("health@staff.cn").await;
    assert!(owner.get("/inbox").await.body.contains("待办事项"));
    // The attacker's address stays held up, even with the right password.
    let page = attacker
        .submit(
            "/login",
            "/login",
            &[("email", "health@staff.cn"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn an_expired_session_asks_to_sign_in_again() {
    let (app, router) = product("web-expiry", 1 << 20).await;
    let long_ago = "2020-01-06T09:00:00".parse().unwrap();
    let (_, token) = app
        .sign_in("owner@applicant.cn", PASSWORD, long_ago)
        .await
        .unwrap()
        .expect("signed in");
    let mut browser = Browser::new(&router);
    browser.cookies.insert("ow_session".into(), token.0);
    let page = browser.get("/my").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), "/login?next=/my&expired=1");
    let page = browser.get(page.location()).await;
    assert!(page.body.contains("登录已过期"), "{}", page.body);
}

#[tokio::test]
async fn registering_checks_every_field_and_signs_in() {
    let (app, router) = product("web-register", 1 << 20).await;
    let mut browser = Browser::new(&router);
    let page = browser
        .submit(
            "/register",
            "/register",
            &[
                ("name", ""),
                ("email", "not-an-address"),
                ("password", "short"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    for message in ["请填写姓名", "请填写有效的电子邮箱地址", "密码至少10个字符"]
    {
        assert!(page.body.contains(message), "{message}: {}", page.body);
    }
    // Long enough but guessable (issue 19): a common password, a keyboard
    // row, the person's own address.
    for weak in ["password123456", "qwertyuiopas", "new@applicant.cn1"] {
        let page = browser
            .submit(
                "/register",
                "/register",
                &[
                    ("name", "新申请人"),
                    ("email", "new@applicant.cn"),
                    ("password", weak),
                ],
            )
            .await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{weak}");
        assert!(
            page.body.contains("密码太容易被猜中"),
            "{weak}: {}",
            page.body
        );
    }
    // Registering tells nothing of whether an address has an account
    // (issue 19): the page is the same for one that has and one that has
    // not; the mail to the address says which.
    let mut answers = Vec::new();
    for email in ["Owner@Applicant.cn", "New@Applicant.cn"] {
        let page = browser
            .submit(
                "/register",
                "/register",
                &[
                    ("name", "新申请人"),
                    ("email", email),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        answers.push(page.body.replace(&email.to_lowercase(), "ADDRESS"));
    }
    assert_eq!(answers[0], answers[1], "the answers differ");
    assert!(answers[0].contains("请查收邮件"), "{}", answers[0]);
    assert!(
        !browser.get("/my").await.body.contains("新申请人"),
        "not signed in before the address is confirmed"
    );
    let mail = delivered(&app).await;
    let known = &mail["owner@applicant.cn"];
    assert!(known.0.contains("已注册过账户"), "{known:?}");
    assert!(!known.1.contains("/register/confirm"), "{known:?}");
    let (subject, text) = &mail["new@applicant.cn"];
    assert!(subject.contains("请确认您的注册"), "{subject}");
    let link = text
        .split_whitespace()
        .find(|word| word.contains("/register/confirm?token="))
        .expect("the mail carries the link");
    let path = link.trim_start_matches("http://localhost:8080");
    // Opening the link (a mail scanner may) opens nothing; its button does.
    let page = browser.get(path).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("确认注册"), "{}", page.body);
    let token = path.split("token=").nth(1).unwrap();
    assert!(
        page.body.contains(token),
        "the page's button carries the link's token"
    );
    let page = browser
        .submit(path, "/register/confirm", &[("token", token)])
        .await;
    assert_eq!(page.location(), "/my", "{}", page.body);
    assert!(browser.get("/my").await.body.contains("新申请人"));
    // A link opens once.
    let mut other = Browser::new(&router);
    let page = other
        .submit(path, "/register/confirm", &[("token", token)])
        .await;
    assert_eq!(page.status, StatusCode::GONE, "{}", page.body);
    assert!(page.body.contains("注册链接无效、已使用或已过期"));
    let mut again = Browser::new(&router);
    let page = again.sign_in("new@applicant.cn").await;
    assert_eq!(page.location(), "/my", "the registered password signs in");
}

/// The account mail waiting in the outbox, delivered by the product's
/// mailer as files and read back: subject and text by address.
async fn delivered(app: &App) -> std::collections::HashMap<String, (String, String)> {
    let folder = scratch("web-register-mail");
    let mailer = onewindow::notify::Mailer::new(
        None,
        folder.clone(),
        "一窗受理平台 <noreply@onewindow.example.cn>",
        &root().join("templates/mail"),
        onewindow::links::Links::new("http://localhost:8080"),
    )
    .await
    .expect("mailer");
    onewindow::notify::deliver(app.store(), &mailer, "test", app.now())
        .await
        .expect("delivered");
    std::fs::read_dir(&folder)
        .unwrap()
        .map(|entry| std::fs::read(entry.unwrap().path()).unwrap())
        .map(|bytes| {
            let message = mail_parser::MessageParser::default()
                .parse(&bytes)
                .expect("a message");
            let to = match message.to() {
                Some(address) => address
                    .first()
                    .and_then(|a| a.address())
                    .unwrap_or_default(),
                None => "",
            }
            .to_string();
            let subject = message.subject().unwrap_or_default().to_string();
            (
                to,
                (
                    subject,
                    message.body_text(0).unwrap_or_default().to_string(),
                ),
            )
        })
        .collect()
}

#[tokio::test]
async fn only_an_administrator_opens_staff_accounts() {
    let (app, router) = product("web-admin", 1 << 20).await;
    let mut reviewer = Browser::new(&router);
    reviewer.sign_in("health@staff.cn").await;
    assert_eq!(
        reviewer.get("/admin/accounts").await.status,
        StatusCode::FORBIDDEN
    );
    let mut admin = Browser::new(&router);
    admin.sign_in("admin@staff.cn").await;
    let page = admin
        .submit(
            "/admin/accounts",
            "/admin/accounts",
            &[
                ("email", "clerk@staff.cn"),
                ("name", "新窗口人员"),
                ("role", "reviewer"),
                ("department", ""),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.body.contains("审查人员须属于一个部门"),
        "{}",
        page.body
    );
    let page = admin
        .submit(
            "/admin/accounts",
            "/admin/accounts",
            &[
                ("email", "clerk@staff.cn"),
                ("name", "新窗口人员"),
                ("role", "window"),
                ("department", "window"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let accounts = app.accounts().await.unwrap();
    let clerk = accounts
        .iter()
        .find(|a| a.email == "clerk@staff.cn")
        .unwrap();
    assert_eq!(
        (clerk.role, clerk.department.as_deref()),
        (Role::Window, Some("window"))
    );
    Browser::new(&router).sign_in("clerk@staff.cn").await;
}

#[tokio::test]
async fn a_filing_through_the_pages_from_submission_to_decision() {
    let (app, router) = product("web-filing", 1 << 20).await;
    let mut owner = Browser::new(&router);
    owner.sign_in("owner@applicant.cn").await;

    // A double click files once: the same key gives the same filing.
    let first = file(&mut owner, "康颐医养有限公司", &"a".repeat(64)).await;
    let again = file(&mut owner, "康颐医养有限公司", &"a".repeat(64)).await;
    let id = filing_id(&first);
    assert_eq!(id, filing_id(&again));
    let my = owner.get("/my").await;
    assert_eq!(my.body.matches("/filings/").count(), 1, "{}", my.body);

    let mut window = Browser::new(&router);
    window.sign_in("window@staff.cn").await;
    let inbox = window.get("/inbox").await;
    assert!(inbox.body.contains(&id), "{}", inbox.body);
    let path = format!("/filings/{id}");
    let act = format!("/filings/{id}/act");
    let page = window.get(&path).await;
    let revision = {
        let at = page.body.find("name=\"revision\" value=\"").unwrap() + 23;
        page.body[at..].split('"').next().unwrap().to_string()
    };
    let page = window
        .submit(
            &path,
            &act,
            &[("action", "accept"), ("revision", &revision)],
        )
        .await;
    assert_eq!(page.location(), format!("{path}?done=accept"));
    // The same form again (a stale page): the filing moved on.
    let page = window
        .submit(
            &path,
            &act,
            &[("action", "accept"), ("revision", &revision)],
        )
        .await;
    assert_eq!(page.status, StatusCode::CONFLICT, "{}", page.body);

    // Health and civil affairs decide in parallel, each its own part; two
    // health reviewers deciding the same step: the second is told plainly.
    let view = app.filing(&id, now().date()).await.unwrap();
    let step_of = |department: &str| {
        view.steps
            .iter()
            .find(|s| s.state == "active" && s.department.as_deref() == Some(department))
            .unwrap()
            .index
            .to_string()
    };
    let (health_step, civil_step) = (step_of("health"), step_of("civil"));
    let mut health = Browser::new(&router);
    health.sign_in("health@staff.cn").await;
    let mut colleague = Browser::new(&router);
    colleague.sign_in("health2@staff.cn").await;
    let mut civil = Browser::new(&router);
    civil.sign_in("civil@staff.cn").await;
    let health_csrf = health.get(&path).await.csrf();
    let colleague_csrf = colleague.get(&path).await.csrf();
    let civil_csrf = civil.get(&path).await.csrf();
    // Civil affairs may not decide health's step: refused, in Chinese.
    let page = civil
        .post(
            &act,
            &[
                ("csrf", &civil_csrf),
                ("action", "approve"),
                ("step", &health_step),
            ],
        )
        .await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        page.body
    );
    assert!(page.body.contains("该操作不属于您的职责"), "{}", page.body);
    let page = health
        .post(
            &act,
            &[
                ("csrf", &health_csrf),
                ("action", "approve"),
                ("step", &health_step),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let page = colleague
        .post(
            &act,
            &[
                ("csrf", &colleague_csrf),
                ("action", "approve"),
                ("step", &health_step),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::CONFLICT);
    assert!(page.body.contains("已由他人处理"), "{}", page.body);
    let page = civil
        .post(
            &act,
            &[
                ("csrf", &civil_csrf),
                ("action", "file"),
                ("step", &civil_step),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);

    let page = owner.get(&path).await;
    assert!(page.body.contains("已办结"), "{}", page.body);
    let audit = app.verify_audit().await.unwrap();
    assert!(audit.is_intact(), "{audit:?}");
    let entries = app.store().audit_entries().await.unwrap();
    for (actor, account) in [
        ("window:window", "window@staff.cn"),
        ("reviewer:health", "health@staff.cn"),
        ("reviewer:civil", "civil@staff.cn"),
        ("applicant", "owner@applicant.cn"),
    ] {
        let named = format!("{actor} <{account}>");
        assert!(
            entries.iter().any(|e| e.actor == named),
            "{named} in the audit"
        );
    }
}

/// Who the matrix asks: every account of [`people`], and nobody.
const VISITORS: [Option<(&str, Role)>; 10] = [
    Some(("owner@applicant.cn", Role::Applicant)),
    Some(("other@applicant.cn", Role::Applicant)),
    Some(("window@staff.cn", Role::Window)),
    Some(("health@staff.cn", Role::Reviewer)),
    Some(("civil@staff.cn", Role::Reviewer)),
    Some(("insurance@staff.cn", Role::Reviewer)),
    Some(("head@staff.cn", Role::Head)),
    Some(("policy@staff.cn", Role::Policy)),
    Some(("admin@staff.cn", Role::Admin)),
    None,
];

/// The route × role matrix, generated from the router's own table: every
/// route, for every role and for nobody. What the route's audience admits
/// gets through; any other role gets 403, nobody is asked to sign in (401
/// under the API); a filing that is not one's own answers 404 as if it did
/// not exist; every posted page asks for its form token first. Whoever
/// does not see the filing never reads its applicant or its number in any
/// answer of any route.
#[tokio::test]
async fn every_route_admits_its_audience_and_no_one_else() {
    let (app, router) = product("web-matrix", 1 << 20).await;
    let mut owner = Browser::new(&router);
    owner.sign_in("owner@applicant.cn").await;
    let id = filing_id(&file(&mut owner, "隐私医养有限公司", &"b".repeat(64)).await);
    let path = format!("/filings/{id}");
    let mut window = Browser::new(&router);
    window.sign_in("window@staff.cn").await;
    let page = window
        .submit(&path, &format!("{path}/act"), &[("action", "accept")])
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    render_everything(&app).await;
    let code = owner
        .get(&path)
        .await
        .body
        .split(&format!("{path}/documents/"))
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the acceptance notice")
        .to_string();
    // Who may see this filing: its applicant, the window, the departments
    // with a step in it (health, civil affairs) and their heads.
    let sees = |email: &str| {
        ["owner@", "window@", "health@", "civil@", "head@"]
            .iter()
            .any(|who| email.starts_with(who))
    };

    let routes = onewindow::web::routes();
    assert!(routes.len() > 30, "the table lists every route");
    for visitor in &VISITORS {
        let mut browser = Browser::new(&router);
        let mut token = None;
        if let Some((email, _)) = visitor {
            browser.sign_in(email).await;
            token = Some(app.issue_api_token(email, "matrix", now()).await.unwrap());
        }
        let who = visitor.map_or("nobody", |(email, _)| email);
        for route in &routes {
            let concrete = if route.path.contains("procedures/{id}")
                || route.path.contains("workflows/{id}")
            {
                route.path.replace("{id}", "new_combined")
            } else {
                route
                    .path
                    .replace("{id}", &id)
                    .replace("{code}", &code)
                    .replace("{material}", "application")
                    .replace("{template}", "acceptance_notice")
            };
            let mut request = Request::builder()
                .method(route.method.clone())
                .uri(&concrete);
            let mut body = Body::empty();
            if route.is_api() {
                if let Some(token) = &token {
                    request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
                }
                if route.method == axum::http::Method::POST {
                    request = request.header(header::CONTENT_TYPE, "application/json");
                    body = Body::from("{}");
                }
            } else if route.method == axum::http::Method::POST {
                // A post without its form token.
                request = request.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
                body = Body::from("x=1");
            }
            let mut page = browser.send(request, body).await;
            if !route.is_api() && [400, 415].contains(&page.status.as_u16()) {
                // A page that takes files: a multipart post without its token.
                page = browser.multipart(&concrete, &[("x", "1")], &[]).await;
            }
            let status = page.status.as_u16();
            let label = format!("{who} {} {}", route.method, route.path);
            let refused_for_role = status == 403 && !page.body.contains("表单已失效");
            match visitor {
                _ if route.audience == Audience::Anyone => {
                    assert!(!refused_for_role && status != 401, "{label}: {status}");
                    assert!(!page.location().starts_with("/login"), "{label}");
                }
                None if route.is_api() => assert_eq!(status, 401, "{label}"),
                None => {
                    assert_eq!(status, 303, "{label}");
                    assert!(page.location().starts_with("/login?next="), "{label}");
                }
                Some((_, role)) if !route.audience.admits(*role) => {
                    assert!(refused_for_role, "{label}: {status} {}", page.body);
                }
                Some(_) if route.method == axum::http::Method::POST && !route.is_api() => {
                    assert_eq!(status, 403, "{label}");
                    assert!(page.body.contains("表单已失效"), "{label}: {}", page.body);
                }
                Some((email, _)) if route.path.starts_with("/filings/{id}") && !sees(email) => {
                    assert_eq!(status, 404, "{label}");
                }
                Some((email, _)) if route.path.starts_with("/api/v1/filings/{id}") => {
                    // A read says 404; an action without its fields is
                    // refused before anyone looks for the filing.
                    let expected = match (sees(email), route.method.as_str()) {
                        (true, _) => status != 404,
                        (false, "GET") => status == 404,
                        (false, _) => status == 404 || status == 422,
                    };
                    assert!(expected, "{label}: {status}");
                    assert!(!refused_for_role && status != 401, "{label}: {status}");
                }
                Some(_) if route.method == axum::http::Method::POST => {
                    assert!(!refused_for_role && status != 401, "{label}: {status}");
                }
                Some(_) => assert_eq!(status, 200, "{label}: {}", page.body),
            }
            // A document's holder is shown to whoever holds its code.
            let keyed = route.path.contains("{code}");
            if !keyed && !visitor.is_some_and(|(email, _)| sees(email)) {
                assert!(
                    !page.body.contains("隐私医养"),
                    "{label} leaks the applicant"
                );
                // The compare page names the filings still on an older
                // version for policy staff to follow up (issue 20): their
                // numbers and dates, never the applicant.
                let names_filings = route.path.ends_with("/compare");
                if !names_filings {
                    assert!(!page.body.contains(&id), "{label} leaks the filing");
                }
            }
        }
    }
    // A download is an attachment, never sniffed.
    let material = format!("/filings/{id}/materials/application");
    let page = owner.get(&material).await;
    let disposition = page.headers[header::CONTENT_DISPOSITION].to_str().unwrap();
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    assert_eq!(page.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert!(page.body.starts_with("%PDF-"));
    // Another applicant cannot act on it either.
    let mut other = Browser::new(&router);
    other.sign_in("other@applicant.cn").await;
    let page = other
        .submit(
            "/my",
            &format!("/filings/{id}/act"),
            &[("action", "withdraw"), ("reason", "x")],
        )
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.filing(&id, now().date()).await.unwrap().status,
        "in_review"
    );
}

#[tokio::test]
async fn hostile_text_is_shown_as_text_and_bad_files_are_refused() {
    let max = 64 * 1024;
    let (app, router) = product("web-hostile", max).await;
    let mut owner = Browser::new(&router);
    owner.sign_in("owner@applicant.cn").await;
    let hostile = "<script>alert(1)</script>#set page(width: 1cm)]$\\";
    let id = filing_id(&file(&mut owner, hostile, &"c".repeat(64)).await);
    let page = owner.get(&format!("/filings/{id}")).await;
    assert!(!page.body.contains("<script>alert"), "markup is escaped");
    assert!(
        page.body
            .contains("&#60;script&#62;alert(1)&#60;/script&#62;#set page(width: 1cm)]$\\"),
        "{}",
        page.body
    );
    assert!(page.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .contains("default-src 'none'"));

    // … and printed literally in the acceptance notice's PDF: typst reads
    // it as data, never as markup.
    let mut window = Browser::new(&router);
    window.sign_in("window@staff.cn").await;
    let path = format!("/filings/{id}");
    let page = window
        .submit(&path, &format!("{path}/act"), &[("action", "accept")])
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    render_everything(&app).await;
    let page = owner.get(&path).await;
    let link = page
        .body
        .split("<a href=\"")
        .find(|rest| rest.starts_with(&format!("/filings/{id}/documents/")))
        .and_then(|rest| rest.split('"').next())
        .expect("the acceptance notice to download")
        .to_string();
    let pdf = owner.get(&link).await;
    assert_eq!(pdf.headers[header::CONTENT_TYPE], "application/pdf");
    let text = pdf_text(&app, &pdf.bytes);
    assert!(
        text.contains("<script>alert(1)</script>#setpage(width:1cm)]$\\"),
        "{text}"
    );

    // A file whose content is not what its name says; a file over the
    // limit: refused at the material, in Chinese, nothing filed.
    let csrf = owner.get("/procedures/new_combined/apply").await.csrf();
    let form = sample_form();
    let mut fields: Vec<(&str, &str)> =
        vec![("csrf", &csrf), ("key", "d"), ("applicant", "某公司")];
    fields.extend(form.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let big = [b"%PDF-".as_slice(), &vec![b'x'; max as usize + 1]].concat();
    let page = owner
        .multipart(
            "/procedures/new_combined/apply",
            &fields,
            &[
                (
                    "material:application",
                    "application.pdf",
                    b"<html>not a pdf</html>",
                ),
                ("material:feasibility", "feasibility.pdf", &big),
            ],
        )
        .await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        page.body
    );
    assert!(page.body.contains("application.pdf"), "{}", page.body);
    assert!(
        page.body.contains("文件过大") || page.body.contains("超过"),
        "{}",
        page.body
    );
    assert_eq!(owner.get("/my").await.body.matches("/filings/").count(), 1);

    // Regression (issue 19): random bytes after a `%PDF` header were taken
    // as a PDF. The file is parsed now, and refused at its material.
    let noise: Vec<u8> = (0..(max as u32 / 2))
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let fake = [b"%PDF-1.7\n".as_slice(), &noise].concat();
    let page = owner
        .multipart(
            "/procedures/new_combined/apply",
            &fields,
            &[("material:application", "application.pdf", &fake)],
        )
        .await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        page.body
    );
    assert!(page.body.contains("无法作为PDF打开"), "{}", page.body);
    assert_eq!(owner.get("/my").await.body.matches("/filings/").count(), 1);

    // A body over the request limit: 413.
    let huge = vec![b'x'; 9 * 1024 * 1024];
    let page = owner
        .multipart(
            "/procedures/new_combined/apply",
            &[("csrf", &csrf)],
            &[("material:application", "a.pdf", &huge)],
        )
        .await;
    assert_eq!(page.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", page.body);
    // A multipart form without its token first: refused before any file is stored.
    let page = owner
        .multipart(
            "/procedures/new_combined/apply",
            &[("key", "e")],
            &[("material:application", "a.pdf", &sample_pdf())],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(app.verify_audit().await.unwrap().is_intact());
}

#[tokio::test]
async fn the_first_start_samples_are_in_the_states_they_say() {
    let data = scratch("web-samples");
    let app = app(&data, onewindow::app::DEFAULT_MAX_UPLOAD).await;
    let (accounts, filings) = app
        .seed_samples(now())
        .await
        .unwrap()
        .expect("an empty database");
    let roles: Vec<Role> = accounts.iter().map(|a| a.role).collect();
    for role in Role::ALL {
        assert!(roles.contains(&role), "an account for {role}");
    }
    assert!(
        app.seed_samples(now()).await.unwrap().is_none(),
        "once only"
    );
    let today = now().date();
    let mut views = Vec::new();
    for filing in &filings {
        views.push(app.filing(&filing.id, today).await.unwrap());
    }
    let active = |v: &onewindow::app::views::FilingView| {
        v.steps.iter().filter(|s| s.state == "active").count()
    };
    assert_eq!(views[0].status, "submitted");
    assert_eq!(
        (views[1].status.name(), active(&views[1])),
        ("in_review", 2)
    );
    assert!(views[2].pauses.iter().any(|p| p.until.is_none()), "paused");
    assert!(
        views[3]
            .steps
            .iter()
            .any(|s| matches!(s.level, Some(onewindow::engine::clock::Level::Red))),
        "overdue"
    );
    assert_eq!(views[4].decision.as_deref(), Some("granted"));
    // Every document renders, the paused filing's acceptance notice too:
    // it states the promised date as it stood when issued.
    let mail = onewindow::app::worker::MailConfig {
        smtp: None,
        eml_dir: data.join("mail"),
        from: "一窗受理平台 <noreply@onewindow.example.cn>".into(),
        templates: root().join("templates/mail"),
    };
    let worker = onewindow::app::worker::Worker::new(&app, &mail)
        .await
        .unwrap();
    worker.pass(&app, "test", now(), 500).await.unwrap();
    for filing in &filings[1..] {
        for document in app.store().documents_of_filing(&filing.id).await.unwrap() {
            assert!(
                document.sha256.is_some(),
                "{} {} rendered",
                filing.id,
                document.title
            );
        }
    }
    // The sample applicant signs in and sees all five.
    let router = onewindow::web::router(app.clone());
    let mut browser = Browser::new(&router);
    let applicant = &accounts[0];
    let page = browser
        .submit(
            "/login",
            "/login",
            &[
                ("email", &applicant.email),
                ("password", &applicant.password),
            ],
        )
        .await;
    assert_eq!(page.location(), "/my");
    let my = browser.get("/my").await;
    assert_eq!(
        my.body.matches("/filings/SAMPLE-").count(),
        5,
        "{}",
        my.body
    );
}

/// A JSON request with a bearer token.
async fn api(
    router: &Router,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<(&str, Vec<u8>)>,
    key: Option<&str>,
) -> (StatusCode, HeaderMap, serde_json::Value) {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    let body = match body {
        Some((content_type, bytes)) => {
            request = request.header(header::CONTENT_TYPE, content_type);
            Body::from(bytes)
        }
        None => Body::empty(),
    };
    let response = router
        .clone()
        .oneshot(request.body(body).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = to_bytes(response.into_body(), 1 << 24).await.unwrap();
    let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    (status, headers, json)
}

/// A sample PDF uploaded through the API with `token`: its SHA-256.
async fn api_upload(router: &Router, token: &str) -> String {
    let (status, _, upload) = api(
        router,
        "POST",
        "/api/v1/uploads?name=application.pdf",
        Some(token),
        Some(("application/pdf", sample_pdf())),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{upload}");
    upload["sha256"].as_str().unwrap().to_string()
}

fn json(value: &serde_json::Value) -> Option<(&'static str, Vec<u8>)> {
    Some(("application/json", serde_json::to_vec(value).unwrap()))
}

#[tokio::test]
async fn the_api_files_acts_and_answers_with_bearer_tokens() {
    let (app, router) = product("web-api", 1 << 20).await;
    let token = |email: &'static str| {
        let app = app.clone();
        async move { app.issue_api_token(email, "test", now()).await.unwrap() }
    };
    let owner = token("owner@applicant.cn").await;
    let other = token("other@applicant.cn").await;
    let window = token("window@staff.cn").await;
    let health = token("health@staff.cn").await;

    let (status, headers, problem) = api(&router, "GET", "/api/v1/filings", None, None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers[header::WWW_AUTHENTICATE], "Bearer");
    assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
    assert_eq!(problem["status"], 401);
    let (status, ..) = api(
        &router,
        "GET",
        "/api/v1/filings",
        Some("forged"),
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Upload, then file referring to it.
    let upload = serde_json::json!({ "sha256": api_upload(&router, &owner).await });
    let (status, _, problem) = api(
        &router,
        "POST",
        "/api/v1/uploads?name=fake.pdf",
        Some(&owner),
        Some(("application/pdf", b"GIF89a not a pdf".to_vec())),
        None,
    )
    .await;
    // Well-formed, but not a file of the kind its name says.
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(
        problem.to_string().contains("文件内容不是PDF格式"),
        "{problem}"
    );

    let form: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str::<serde_json::Value>(
            &std::fs::read_to_string(root().join("workflows/samples/new_combined.json")).unwrap(),
        )
        .unwrap()["form"]
            .as_object()
            .unwrap()
            .clone();
    let mut wrong = form.clone();
    wrong.insert("medical_beds".into(), serde_json::json!(-3));
    let (status, _, problem) = api(
        &router,
        "POST",
        "/api/v1/filings",
        Some(&owner),
        json(&serde_json::json!({"workflow": "new_combined", "applicant": "接口医养", "form": wrong})),
        Some("k1"),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["errors"][0]["subject"], "medical_beds", "{problem}");

    let mut materials = serde_json::Map::new();
    for material in [
        "application",
        "feasibility",
        "site_plan",
        "fire",
        "staff",
        "rules",
        "private_registration",
    ] {
        materials.insert(
            material.into(),
            serde_json::json!({"sha256": upload["sha256"], "name": format!("{material}.pdf")}),
        );
    }
    let new = serde_json::json!({
        "workflow": "new_combined",
        "applicant": "接口医养",
        "form": form,
        "materials": materials,
    });
    let (status, headers, filed) = api(
        &router,
        "POST",
        "/api/v1/filings",
        Some(&owner),
        json(&new),
        Some("k1"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{filed}");
    let id = filed["id"].as_str().unwrap().to_string();
    assert_eq!(headers[header::LOCATION], format!("/api/v1/filings/{id}"));
    let (_, _, again) = api(
        &router,
        "POST",
        "/api/v1/filings",
        Some(&owner),
        json(&new),
        Some("k1"),
    )
    .await;
    assert_eq!(again["id"], id.as_str(), "the same key files once");
    let (_, _, mine) = api(&router, "GET", "/api/v1/filings", Some(&owner), None, None).await;
    assert_eq!(mine.as_array().unwrap().len(), 1);

    let path = format!("/api/v1/filings/{id}");
    let (status, ..) = api(&router, "GET", &path, Some(&other), None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Regression (issue 19): another applicant naming the owner's upload by
    // its hash filed with it (201) and downloaded the bytes. Now it is not
    // found — the very answer a hash never uploaded gets — and nothing is
    // filed.
    let unknown = "0".repeat(64);
    let mut answers = Vec::new();
    for hash in [upload["sha256"].as_str().unwrap(), unknown.as_str()] {
        let mut borrowed = new.clone();
        for reference in borrowed["materials"].as_object_mut().unwrap().values_mut() {
            reference["sha256"] = serde_json::json!(hash);
        }
        let (status, _, problem) = api(
            &router,
            "POST",
            "/api/v1/filings",
            Some(&other),
            json(&borrowed),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        answers.push(problem["errors"].as_array().unwrap().len());
        let shown = problem.to_string();
        assert!(shown.contains("没有找到已上传的文件"), "{shown}");
    }
    assert_eq!(
        answers[0], answers[1],
        "indistinguishable from a wrong hash"
    );
    let (_, _, theirs) = api(&router, "GET", "/api/v1/filings", Some(&other), None, None).await;
    assert!(theirs.as_array().unwrap().is_empty(), "{theirs}");
    let (status, ..) = api(
        &router,
        "POST",
        "/api/v1/filings",
        Some(&window),
        json(&new),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let actions = format!("{path}/actions");
    let (status, _, view) = api(
        &router,
        "POST",
        &actions,
        Some(&window),
        json(&serde_json::json!({"action": "accept"})),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["status"], "in_review");
    let (status, _, problem) = api(
        &router,
        "POST",
        &actions,
        Some(&window),
        json(&serde_json::json!({"action": "accept"})),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "accepted twice: {problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains("审查中"),
        "{problem}"
    );
    let (_, _, inbox) = api(&router, "GET", "/api/v1/inbox", Some(&health), None, None).await;
    let item = &inbox.as_array().unwrap()[0];
    assert_eq!(item["filing"], id.as_str());
    let step = item["step"].as_u64().unwrap();
    let approve = serde_json::json!({"action": "approve", "step": step});
    let (status, _, view) = api(
        &router,
        "POST",
        &actions,
        Some(&health),
        json(&approve),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let (status, _, problem) = api(
        &router,
        "POST",
        &actions,
        Some(&health),
        json(&approve),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "decided twice: {problem}");
    assert!(app.verify_audit().await.unwrap().is_intact());
}

#[tokio::test]
async fn anyone_with_the_number_and_query_code_sees_progress_and_nothing_personal() {
    let (_app, router) = product("web-progress", 1 << 20).await;
    let mut owner = Browser::new(&router);
    owner.sign_in("owner@applicant.cn").await;
    let id = filing_id(&file(&mut owner, "保密医养有限公司", &"f".repeat(64)).await);
    let page = owner.get(&format!("/filings/{id}")).await;
    let code = page
        .body
        .split("<dt>查询码</dt><dd><strong>")
        .nth(1)
        .and_then(|rest| rest.split("</strong>").next())
        .expect("the query code")
        .to_string();
    assert_eq!(code.len(), 8, "{code}");
    assert!(code.chars().all(|c| c.is_ascii_alphanumeric()), "{code}");
    // The same code every time.
    assert!(owner
        .get(&format!("/filings/{id}"))
        .await
        .body
        .contains(&code));

    let mut anyone = Browser::new(&router);
    let page = anyone
        .get(&format!(
            "/progress?filing={id}&code={}",
            code.to_lowercase()
        ))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("待受理"), "{}", page.body);
    assert!(page.body.contains("一窗受理"), "the steps: {}", page.body);
    assert!(!page.body.contains("保密医养"), "no applicant");
    assert!(!page.body.contains("茂名康颐医养中心"), "no form data");
    for wrong in ["AAAAAAAA", ""] {
        let page = anyone
            .get(&format!("/progress?filing={id}&code={wrong}"))
            .await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(!page.body.contains("待受理"), "{wrong}: {}", page.body);
    }
    let page = anyone.get("/progress?filing=NOPE&code=AAAAAAAA").await;
    assert!(page.body.contains("未找到"), "{}", page.body);

    let (status, _, json) = api(
        &router,
        "GET",
        &format!("/api/v1/progress?filing={id}&code={code}"),
        None,
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["status_label"], "待受理");
    assert!(json.get("applicant").is_none(), "{json}");
    let (status, ..) = api(
        &router,
        "GET",
        &format!("/api/v1/progress?filing={id}&code=WRONG"),
        None,
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// One pass of the worker: documents typeset, mail written.
async fn render_everything(app: &App) {
    let mail = onewindow::app::worker::MailConfig {
        smtp: None,
        eml_dir: app.config().data.join("mail"),
        from: "一窗受理平台 <noreply@onewindow.example.cn>".into(),
        templates: root().join("templates/mail"),
    };
    let worker = onewindow::app::worker::Worker::new(app, &mail)
        .await
        .unwrap();
    worker.pass(app, "test", app.now(), 500).await.unwrap();
}

/// Drives a filed new_combined filing to its decision through the use cases.
async fn decide(app: &App, id: &str) {
    use onewindow::app::Action;
    use onewindow::engine::{Actor, Command};
    let act = |actor: Actor, command: Command| Action {
        filing: id.to_string(),
        actor,
        command,
        expected_revision: None,
        key: None,
        account: None,
        now: app.now(),
    };
    let window = Actor::Window {
        department: "window".into(),
    };
    app.act(act(window, Command::Accept)).await.unwrap();
    let view = app.filing(id, now().date()).await.unwrap();
    for step in view.steps.iter().filter(|s| s.state == "active") {
        let department = step.department.clone().unwrap();
        let command = if step.kind == "filing" {
            Command::File { step: step.index }
        } else {
            Command::Approve { step: step.index }
        };
        app.act(act(Actor::Reviewer { department }, command))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn applicants_rate_closed_filings_and_heads_answer_poor_ratings() {
    let (app, router) = product("web-ratings", 1 << 20).await;
    let mut owner = Browser::new(&router);
    owner.sign_in("owner@applicant.cn").await;
    let id = filing_id(&file(&mut owner, "评价医养有限公司", &"9".repeat(64)).await);
    let path = format!("/filings/{id}");
    let rate = format!("{path}/rate");
    // Not before it closes.
    let page = owner
        .submit(&path, &rate, &[("stars", "1"), ("comment", "太慢")])
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);
    assert!(page.body.contains("办结后才能评价"), "{}", page.body);

    decide(&app, &id).await;
    let page = owner.get(&path).await;
    assert!(page.body.contains("请评价本次办理服务"), "{}", page.body);
    let mut other = Browser::new(&router);
    other.sign_in("other@applicant.cn").await;
    let page = other.submit("/my", &rate, &[("stars", "5")]).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND, "not theirs");
    // Two departments took part: the rating names the one it rates.
    let page = owner.get(&path).await;
    assert!(page.body.contains("评价的部门"), "{}", page.body);
    let page = owner.submit(&path, &rate, &[("stars", "2")]).await;
    assert!(page.body.contains("请选择评价的部门"), "{}", page.body);
    let page = owner
        .submit(
            &path,
            &rate,
            &[
                ("stars", "2"),
                ("comment", "<b>材料</b>要求说明不清"),
                ("department", "health"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let page = owner.submit(&path, &rate, &[("stars", "5")]).await;
    assert!(page.body.contains("此申请已评价过"), "once: {}", page.body);

    // The poor rating reaches health's head, who answers it.
    let mut head = Browser::new(&router);
    head.sign_in("head@staff.cn").await;
    let page = head.get("/ratings").await;
    assert!(page.body.contains("&#60;b&#62;材料"), "{}", page.body);
    let page = head
        .submit(
            "/ratings",
            &format!("/ratings/{id}/answer"),
            &[("answer", "已改进告知书的说明")],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let page = head
        .submit(
            "/ratings",
            &format!("/ratings/{id}/answer"),
            &[("answer", "第二次")],
        )
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "answered once");
    assert!(owner.get(&path).await.body.contains("已改进告知书的说明"));
    let mut reviewer = Browser::new(&router);
    reviewer.sign_in("health@staff.cn").await;
    assert_eq!(reviewer.get("/ratings").await.status, StatusCode::FORBIDDEN);

    // The public figures: each department's part finished on time, the rating.
    let page = Browser::new(&router).get("/stats").await;
    assert_eq!(page.status, StatusCode::OK);
    for expected in [
        "新建医养结合机构",
        "茂名市卫生健康局",
        "茂名市民政局",
        "1（100%）",
        "2.0",
    ] {
        assert!(page.body.contains(expected), "{expected}: {}", page.body);
    }
    // Counted against health, the department rated, and not civil affairs.
    let row = |name: &str| {
        page.body
            .split("<tr")
            .find(|row| row.contains(name))
            .unwrap_or_default()
            .to_string()
    };
    assert!(row("茂名市卫生健康局").contains("2.0"), "{}", page.body);
    assert!(!row("茂名市民政局").contains("2.0"), "{}", page.body);
}

#[tokio::test]
async fn the_window_asks_once_for_everything_missing_and_the_applicant_answers_on_the_page() {
    let (app, router) = product("web-correction", 1 << 20).await;
    let mut owner = Browser::new(&router);
    owner.sign_in("owner@applicant.cn").await;
    // Filed without the fire certificate (deferrable) and the staff list.
    let some = [
        "application",
        "feasibility",
        "site_plan",
        "rules",
        "private_registration",
    ];
    let id = filing_id(&file_with(&mut owner, "补正医养", "g", &some).await);
    let pdf = sample_pdf();
    let path = format!("/filings/{id}");
    let act = format!("{path}/act");

    let mut window = Browser::new(&router);
    window.sign_in("window@staff.cn").await;
    // Accepting with a required material missing is refused, in Chinese.
    let page = window.submit(&path, &act, &[("action", "accept")]).await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        page.body
    );
    assert!(page.body.contains("缺少必交材料"), "{}", page.body);
    // The notice must list everything missing at once: fire alone is not enough.
    let page = window
        .submit(&path, &act, &[("action", "correct"), ("item:fire", "on")])
        .await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        page.body
    );
    assert!(page.body.contains("一次性列明"), "{}", page.body);
    let page = window
        .submit(
            &path,
            &act,
            &[
                ("action", "correct"),
                ("item:staff", "on"),
                ("item:fire", "on"),
                ("other", "申请书须加盖公章"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(
        app.filing(&id, now().date()).await.unwrap().status,
        "awaiting_correction"
    );

    // The applicant answers with the file on the page.
    let page = owner.get(&path).await;
    assert!(page.body.contains("补正材料"), "{}", page.body);
    let csrf = page.csrf();
    let page = owner
        .multipart(
            &format!("{path}/answer"),
            &[("csrf", &csrf), ("key", "h")],
            &[
                ("material:staff", "staff.pdf", &pdf),
                ("material:fire", "fire.pdf", &pdf),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let view = app.filing(&id, now().date()).await.unwrap();
    assert_eq!(view.status, "submitted", "back at the window");
    assert!(view
        .materials
        .iter()
        .any(|m| m.id == "staff" && m.file.as_deref() == Some("staff.pdf")));
    assert!(view.corrections[0].answered_on.is_some());
}

#[tokio::test]
async fn the_openapi_document_describes_every_route_of_the_api() {
    let (_app, router) = product("web-openapi", 1 << 20).await;
    let (status, headers, doc) = api(&router, "GET", "/api/openapi.json", None, None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    // Every route of the API in the router's table is in the document,
    // with its method; those for accounts say they take a bearer token.
    let mut routes = 0;
    for route in onewindow::web::routes() {
        if !route.path.starts_with("/api/v1/") {
            continue;
        }
        let method = route.method.as_str().to_ascii_lowercase();
        let operation = &doc["paths"][route.path][&method];
        assert!(
            operation.is_object(),
            "{method} {} is not described",
            route.path
        );
        assert_eq!(
            operation["security"].is_array(),
            route.audience != Audience::Anyone,
            "{method} {}: bearer token",
            route.path
        );
        // Every refusal it can answer is declared, as a problem (issue 19:
        // schemathesis found 400/401/403/404/415 undeclared).
        let mut refusals = vec!["400", "404"];
        if route.audience != Audience::Anyone {
            refusals.extend(["401", "403"]);
        }
        if operation["requestBody"].is_object() {
            refusals.extend(["413", "415", "422"]);
        }
        for status in refusals {
            assert!(
                operation["responses"][status]["content"]["application/problem+json"].is_object(),
                "{method} {} declares {status}",
                route.path
            );
        }
        routes += 1;
    }
    assert!(routes >= 10, "{routes} routes found");
    // The upload's body is a file, not an array of integers.
    let upload = &doc["paths"]["/api/v1/uploads"]["post"]["requestBody"]["content"]
        ["application/octet-stream"]["schema"];
    let upload = match upload["$ref"].as_str() {
        Some(reference) => &doc["components"]["schemas"][reference.rsplit('/').next().unwrap()],
        None => upload,
    };
    assert_eq!(
        (upload["type"].as_str(), upload["format"].as_str()),
        (Some("string"), Some("binary")),
        "{upload}"
    );
    // Valid OpenAPI 3.1 by a validator no one here wrote (PyPI's
    // openapi-spec-validator, which ./run test installs). The commit that
    // brought the document said so, but no test ran it until now.
    let file = scratch("openapi").join("openapi.json");
    std::fs::write(&file, serde_json::to_vec(&doc).unwrap()).unwrap();
    let checked = std::process::Command::new("python3")
        .args([
            "-c",
            "import json, sys; from openapi_spec_validator import validate; validate(json.load(open(sys.argv[1])))",
        ])
        .arg(&file)
        .output()
        .expect("python3 runs (./run test installs openapi-spec-validator)");
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    for schema in [
        "FilingView",
        "ActionRequest",
        "NewFilingRequest",
        "ProblemBody",
        "ProgressView",
    ] {
        assert!(doc["components"]["schemas"][schema].is_object(), "{schema}");
    }
}

#[tokio::test]
async fn reviewers_claim_and_pause_heads_extend_and_applicants_supply_and_withdraw_on_the_pages() {
    let (app, router) = product("web-review-actions", 1 << 20).await;
    let mut owner = Browser::new(&router);
    owner.sign_in("owner@applicant.cn").await;
    // Filed without the fire certificate, which may be supplied later (容缺).
    let some = [
        "application",
        "feasibility",
        "site_plan",
        "staff",
        "rules",
        "private_registration",
    ];
    let id = filing_id(&file_with(&mut owner, "容缺医养", "r", &some).await);
    let pdf = sample_pdf();
    let path = format!("/filings/{id}");
    let act = format!("{path}/act");
    let mut window = Browser::new(&router);
    window.sign_in("window@staff.cn").await;
    let page = window.submit(&path, &act, &[("action", "accept")]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);

    // The applicant supplies the deferred material on the page.
    let page = owner.get(&path).await;
    assert!(page.body.contains("容缺，待补交"), "{}", page.body);
    let csrf = page.csrf();
    let page = owner
        .multipart(
            &format!("{path}/deferred"),
            &[("csrf", &csrf), ("key", "s")],
            &[("material:fire", "fire.pdf", &pdf)],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let view = app.filing(&id, now().date()).await.unwrap();
    assert!(view.materials.iter().all(|m| !m.deferred), "supplied");

    // Claims: one holder at a time within the department.
    let step = view
        .steps
        .iter()
        .find(|s| s.state == "active" && s.department.as_deref() == Some("health"))
        .unwrap()
        .index
        .to_string();
    let mut health = Browser::new(&router);
    health.sign_in("health@staff.cn").await;
    let mut colleague = Browser::new(&router);
    colleague.sign_in("health2@staff.cn").await;
    let page = health
        .submit(&path, &act, &[("action", "claim"), ("step", &step)])
        .await;
    assert_eq!(page.location(), format!("{path}?done=claim"));
    let page = colleague
        .submit(&path, &act, &[("action", "claim"), ("step", &step)])
        .await;
    assert_eq!(page.location(), format!("{path}?done=taken"));
    // Who holds it, by name, not address (issue 20).
    let page = colleague.get(&path).await;
    assert!(page.body.contains("由 测试审查人员 办理"), "{}", page.body);
    assert!(!page.body.contains("health@staff.cn"), "{}", page.body);
    let inbox = colleague.get("/inbox").await;
    assert!(
        inbox.body.contains(&cell("办理人", "测试审查人员")),
        "{}",
        inbox.body
    );
    let mine = health.get("/inbox?filter=mine").await;
    assert!(mine.body.contains(&id), "{}", mine.body);
    health
        .submit(&path, &act, &[("action", "release"), ("step", &step)])
        .await;
    let page = colleague
        .submit(&path, &act, &[("action", "claim"), ("step", &step)])
        .await;
    assert_eq!(page.location(), format!("{path}?done=claim"), "reassigned");

    // Pause for an expert review, then resume.
    let page = health
        .submit(
            &path,
            &act,
            &[
                ("action", "pause"),
                ("step", &step),
                ("kind", "expert_review"),
                ("days", "5"),
                ("reason", "专家现场评审"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let page = health.get(&path).await;
    assert!(
        page.body.contains("计时中止") && page.body.contains("专家现场评审"),
        "{}",
        page.body
    );
    let page = health
        .submit(&path, &act, &[("action", "resume"), ("step", &step)])
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);

    // The head approves an extension with its reason.
    let mut head = Browser::new(&router);
    head.sign_in("head@staff.cn").await;
    let page = head.get(&path).await;
    let revision = page
        .body
        .split("name=\"revision\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_string();
    let page = head
        .submit(
            &path,
            &act,
            &[
                ("action", "extend"),
                ("reason", "需补充现场核查"),
                ("revision", &revision),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let page = owner.get(&path).await;
    assert!(
        page.body.contains("需补充现场核查"),
        "the applicant sees it: {}",
        page.body
    );
    for action in [
        "提交申请",
        "受理",
        "补交容缺材料",
        "中止计时",
        "恢复计时",
        "批准延长期限",
    ] {
        assert!(page.body.contains(action), "{action} in the history");
    }

    // The applicant withdraws.
    let page = owner
        .submit(
            &path,
            &act,
            &[("action", "withdraw"), ("reason", "选址变更")],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(
        app.filing(&id, now().date()).await.unwrap().status,
        "withdrawn"
    );
}

/// A 1×1 PNG.
const PNG: &[u8] = &[
    137, 80, 78, 71, 13, 10, 26, 10, 0, 0, 0, 13, 73, 72, 68, 82, 0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0,
    0, 0, 31, 21, 196, 137, 0, 0, 0, 13, 73, 68, 65, 84, 120, 218, 99, 100, 96, 248, 95, 15, 0, 2,
    135, 1, 128, 235, 71, 186, 146, 0, 0, 0, 0, 73, 69, 78, 68, 174, 66, 96, 130,
];

#[tokio::test]
async fn materials_are_previewed_in_their_filings_page_only() {
    let (_app, router) = product("web-preview", 1 << 20).await;
    let mut owner = Browser::new(&router);
    owner.sign_in("owner@applicant.cn").await;
    let csrf = owner.get("/procedures/new_combined/apply").await.csrf();
    let form = sample_form();
    let mut fields: Vec<(&str, &str)> =
        vec![("csrf", &csrf), ("key", "p"), ("applicant", "预览医养")];
    fields.extend(form.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let pdf = sample_pdf();
    let files: Vec<(&str, &str, &[u8])> = vec![
        ("material:site_plan", "平面图.png", PNG),
        ("material:application", "申请书.pdf", pdf.as_slice()),
    ];
    let id = filing_id(
        &owner
            .multipart("/procedures/new_combined/apply", &fields, &files)
            .await,
    );
    let page = owner.get(&format!("/filings/{id}")).await;
    let preview = format!("/filings/{id}/materials/site_plan/preview");
    assert!(
        page.body
            .contains(&format!("<img class=\"preview\" src=\"{preview}\" alt=\"")),
        "{}",
        page.body
    );
    let image = owner.get(&preview).await;
    assert_eq!(image.status, StatusCode::OK);
    assert_eq!(image.headers[header::CONTENT_TYPE], "image/png");
    assert_eq!(image.headers[header::CONTENT_DISPOSITION], "inline");
    assert_eq!(image.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(image.bytes, PNG);
    // A PDF is shown in a frame of the filing's page, by the browser's PDF
    // viewer: only the product's own pages may frame it, and pages may
    // frame nothing but the product's own.
    let framed = format!("/filings/{id}/materials/application/preview");
    assert!(
        page.body.contains(&format!(
            "<iframe class=\"preview\" src=\"{framed}\" title=\"医养结合机构设立申请书（申请书.pdf）\""
        )),
        "{}",
        page.body
    );
    let policy = page.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(policy.contains("frame-src 'self'"), "{policy}");
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    assert_eq!(page.headers[header::X_FRAME_OPTIONS], "DENY");
    let shown = owner.get(&framed).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert_eq!(shown.headers[header::CONTENT_TYPE], "application/pdf");
    assert_eq!(shown.headers[header::CONTENT_DISPOSITION], "inline");
    assert_eq!(shown.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(shown.headers[header::X_FRAME_OPTIONS], "SAMEORIGIN");
    // Sandboxed (issue 19): a script inside the PDF cannot run.
    assert_eq!(
        shown.headers[header::CONTENT_SECURITY_POLICY],
        "sandbox; frame-ancestors 'self'"
    );
    assert_eq!(shown.bytes, pdf);
    // A material not filed is not found; nor is someone else's image.
    let page = owner
        .get(&format!("/filings/{id}/materials/fire/preview"))
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    let mut other = Browser::new(&router);
    other.sign_in("other@applicant.cn").await;
    assert_eq!(other.get(&preview).await.status, StatusCode::NOT_FOUND);
}

/// Regression (issue 19): the pages of a signed-in person (`/my`,
/// `/filings/ID`, the inbox) carried no `Cache-Control`, so a shared
/// computer's cache kept them. Every answer to a signed-in browser or a
/// bearer token is `no-store`; a public page is not marked; over https
/// every answer carries HSTS and cookies are `Secure`.
#[tokio::test]
async fn nothing_a_signed_in_person_sees_is_cached_and_https_is_strict() {
    let data = scratch("web-https");
    let config = app_config(
        &data,
        "https://yiyang.example.gov.cn",
        Access::CreateIfMissing,
    );
    let app = Arc::new(App::open(config).await.unwrap());
    people(&app).await;
    let router = onewindow::web::router(app.clone());
    let mut anonymous = Browser::new(&router);
    let public = anonymous.get("/").await;
    assert_eq!(public.status, StatusCode::OK);
    assert!(!public.headers.contains_key(header::CACHE_CONTROL));
    assert_eq!(
        public.headers[header::STRICT_TRANSPORT_SECURITY],
        "max-age=31536000"
    );
    let mut owner = Browser::new(&router);
    let signed = owner.sign_in("owner@applicant.cn").await;
    let cookie = signed.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");
    let id = filing_id(&file(&mut owner, "缓存医养", &"5".repeat(64)).await);
    let mut health = Browser::new(&router);
    health.sign_in("health@staff.cn").await;
    let mut pages = Vec::new();
    for path in ["/my".to_string(), format!("/filings/{id}"), "/".into()] {
        pages.push((owner.get(&path).await, path));
    }
    pages.push((health.get("/inbox").await, "/inbox".into()));
    for (page, path) in pages {
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert_eq!(
            page.headers[header::CACHE_CONTROL],
            "private, no-store",
            "{path}"
        );
    }
    let token = app
        .issue_api_token("owner@applicant.cn", "test", app.now())
        .await
        .unwrap();
    let (status, headers, _) =
        api(&router, "GET", "/api/v1/filings", Some(&token), None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CACHE_CONTROL], "private, no-store");
}

#[tokio::test]
async fn the_window_refuses_to_accept_with_reasons_and_the_applicant_reads_them() {
    let (app, router) = product("web-refuse-intake", 1 << 20).await;
    let mut owner = Browser::new(&router);
    owner.sign_in("owner@applicant.cn").await;
    let id = filing_id(&file(&mut owner, "不予受理医养", &"7".repeat(64)).await);
    let path = format!("/filings/{id}");
    let act = format!("{path}/act");
    let mut window = Browser::new(&router);
    window.sign_in("window@staff.cn").await;
    // Without a reason: refused, nothing changes.
    let page = window
        .submit(
            &path,
            &act,
            &[("action", "refuse_intake"), ("reasons", "  ")],
        )
        .await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        page.body
    );
    assert!(page.body.contains("请填写理由"), "{}", page.body);
    assert_eq!(
        app.filing(&id, now().date()).await.unwrap().status,
        "submitted"
    );
    let page = window
        .submit(
            &path,
            &act,
            &[
                ("action", "refuse_intake"),
                (
                    "reasons",
                    "申请事项不属于本机关职权范围\n请向县级民政部门申请",
                ),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let view = app.filing(&id, now().date()).await.unwrap();
    assert_eq!(view.status, "not_accepted");
    let page = owner.get(&path).await;
    assert!(page.body.contains("不予受理"), "{}", page.body);
    assert!(
        page.body.contains("申请事项不属于本机关职权范围"),
        "the applicant reads the reasons: {}",
        page.body
    );
    assert!(
        !page.body.contains("撤回理由"),
        "closed: no withdrawal form"
    );
}

/// The definitions folder with new_combined at version 6: the fire
/// certificate no longer deferrable (容缺).
fn definitions_with_version_5() -> std::path::PathBuf {
    let flows = scratch("web-policy-flows");
    for entry in std::fs::read_dir(root().join("workflows")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "flow") {
            let mut text = std::fs::read_to_string(&path).unwrap();
            if path.ends_with("new_combined.flow") {
                text = text.replace("version 5 ", "version 6 ").replace(
                    "fire \"消防验收或备案证明\" required deferrable",
                    "fire \"消防验收或备案证明\" required",
                );
            }
            std::fs::write(flows.join(path.file_name().unwrap()), text).unwrap();
        }
    }
    flows
}

#[tokio::test]
async fn policy_staff_see_each_version_its_filings_and_what_changed() {
    let (app, router) = product("web-policy", 1 << 20).await;
    let mut owner = Browser::new(&router);
    owner.sign_in("owner@applicant.cn").await;
    let old = filing_id(&file(&mut owner, "旧版医养", &"5".repeat(64)).await);
    let data = app.config().data.clone();
    drop((app, router));

    // The product restarts with version 6 of the definition.
    let config = Config {
        paths: onewindow::project::Paths {
            flows: vec![definitions_with_version_5()],
            templates: root().join("templates"),
        },
        ..app_config(&data, "http://localhost:8080", Access::ExistingOnly)
    };
    let app = Arc::new(App::open(config).await.unwrap());
    let router = onewindow::web::router(app.clone());
    let mut owner = Browser::new(&router);
    owner.sign_in("owner@applicant.cn").await;
    let new = filing_id(&file(&mut owner, "新版医养", &"6".repeat(64)).await);
    assert_eq!(app.filing(&old, now().date()).await.unwrap().version, 5);
    assert_eq!(app.filing(&new, now().date()).await.unwrap().version, 6);

    let mut policy = Browser::new(&router);
    let page = policy.sign_in("policy@staff.cn").await;
    assert_eq!(page.location(), "/policy");
    let page = policy.get("/policy").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("第6版（在用）"), "{}", page.body);
    assert!(page.body.contains(&cell("版本", "第5版")), "{}", page.body);
    assert!(page.body.contains("待受理 1 件"), "{}", page.body);

    let page = policy.get("/policy/workflows/new_combined/compare").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("第5版 → 第6版的变化"), "{}", page.body);
    assert!(page.body.contains("<h3>申请材料</h3>"), "{}", page.body);
    assert!(
        page.body
            .contains("<li>「消防验收或备案证明」不再容缺，须在受理前提交</li>"),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("按第5版在办的申请共 1 件（待受理 1 件）"),
        "{}",
        page.body
    );
    // The other way round and with itself; an unknown version is not found.
    let page = policy
        .get("/policy/workflows/new_combined/compare?from=5&to=5")
        .await;
    assert!(page.body.contains("两个版本的内容相同"), "{}", page.body);
    let page = policy
        .get("/policy/workflows/new_combined/compare?from=3&to=5")
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);

    // The filing on version 5 goes on under it: the window accepts it.
    let mut window = Browser::new(&router);
    window.sign_in("window@staff.cn").await;
    let path = format!("/filings/{old}");
    let page = window
        .submit(&path, &format!("{path}/act"), &[("action", "accept")])
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let view = app.filing(&old, now().date()).await.unwrap();
    assert_eq!((view.version, view.status.name()), (5, "in_review"));
}

/// The version of new_combined its shipped file states.
fn shipped_version() -> String {
    let text = std::fs::read_to_string(root().join("workflows/new_combined.flow")).unwrap();
    text.lines()
        .find_map(|line| line.trim().strip_prefix("version "))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("a version")
        .to_string()
}

/// Posts the editor of new_combined as its page would: the text, begun on
/// the shipped version, with an action (`check`, `publish` with a reason, …).
async fn edit_draft(browser: &mut Browser, text: &str, action: &str, reason: &str) -> Page {
    let edit = "/policy/workflows/new_combined/edit";
    let base = shipped_version();
    browser
        .submit(
            edit,
            edit,
            &[
                ("text", text),
                ("base_version", &base),
                ("action", action),
                ("reason", reason),
            ],
        )
        .await
}

/// The policy staff's editor: a draft is checked at its line, previewed,
/// saved per person; publishing needs a reason and an error-free text on
/// the version in service, writes the audit chain, and only new filings
/// take the new version — also after a restart.
#[tokio::test]
async fn policy_staff_edit_check_and_publish_a_new_version() {
    let (app, router) = product("web-publish", 1 << 20).await;
    app.add_account(
        NewAccount {
            email: "policy2@staff.cn".into(),
            name: "第二位政策人员".into(),
            role: Role::Policy,
            department: None,
            password: PASSWORD.into(),
        },
        "test",
        now(),
    )
    .await
    .unwrap();
    let mut owner = Browser::new(&router);
    owner.sign_in("owner@applicant.cn").await;
    let before = filing_id(&file(&mut owner, "发布前医养", &"8".repeat(64)).await);

    let edit = "/policy/workflows/new_combined/edit";
    let mut policy = Browser::new(&router);
    policy.sign_in("policy@staff.cn").await;
    let page = policy.get(edit).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("workflow new_combined"), "{}", page.body);
    assert!(
        page.body.contains("检查结果：没有发现错误。"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("一、"),
        "the one-time notice: {}",
        page.body
    );
    assert!(page
        .body
        .contains("<img class=\"diagram\" src=\"/policy/workflows/new_combined/diagram.svg"));
    // The editor alone runs a script, the product's own, which checks the
    // text as it is typed: diagnostics as JSON, nothing saved.
    let policy_header = page.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(
        policy_header.contains("script-src 'self'"),
        "{policy_header}"
    );
    let script_at = page
        .body
        .find("<script src=\"/static/editor.js\" defer></script>")
        .expect("the editor's script");
    assert!(
        script_at > page.body.find("<main").unwrap(),
        "in the page's body"
    );
    let other = policy.get("/policy").await;
    let other_header = other.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(!other_header.contains("script-src"), "{other_header}");
    let script = policy.get("/static/editor.js").await;
    assert!(
        script.body.contains("textContent"),
        "text only, never markup"
    );
    let typed = std::fs::read_to_string(root().join("workflows/new_combined.flow"))
        .unwrap()
        .replace("within 5 workdays", "within 5 weekdays");
    let check = "/policy/workflows/new_combined/check";
    let answer = policy.submit(edit, check, &[("text", &typed)]).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let answer: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
    let first = &answer["diagnostics"][0];
    assert_eq!(first["error"], true, "{answer}");
    assert!(first["line"].as_u64().unwrap() > 1, "{answer}");
    assert_eq!(
        policy.post(check, &[("text", &typed)]).await.status,
        StatusCode::FORBIDDEN
    );
    assert!(
        policy
            .get(edit)
            .await
            .body
            .contains("检查结果：没有发现错误。"),
        "a check while typing saves nothing"
    );

    // Each document the definition issues, typeset with sample data.
    let sample = "/policy/templates/acceptance_notice/sample.pdf";
    assert!(
        page.body
            .contains(&format!("<a href=\"{sample}\">《受理通知书》</a>")),
        "{}",
        page.body
    );
    let pdf = policy.get(sample).await;
    assert_eq!(pdf.headers[header::CONTENT_TYPE], "application/pdf");
    assert!(pdf.bytes.starts_with(b"%PDF-"));
    for bad in ["no_such_template", "..%2Fsecrets", "Acceptance"] {
        let page = policy
            .get(&format!("/policy/templates/{bad}/sample.pdf"))
            .await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{bad}");
    }
    let shipped = std::fs::read_to_string(root().join("workflows/new_combined.flow")).unwrap();

    // An error is shown at its line and column, the line marked.
    let broken = shipped.replace("within 5 workdays", "within 5 weekdays");
    let line = broken
        .lines()
        .position(|l| l.contains("within 5 weekdays"))
        .unwrap()
        + 1;
    let page = edit_draft(&mut policy, &broken, "check", "").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let page = policy.get(page.location()).await;
    assert!(
        page.body.contains(&format!(
            "错误（语法错误）：<a href=\"#L{line}\">第{line}行第"
        )),
        "{}",
        page.body
    );
    // One status line, one verdict (issue 20: 「发现1个错误」 beside 「没有发现问题」).
    assert!(
        page.body.contains("检查结果：发现1个错误。"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("没有发现"), "{}", page.body);
    assert!(page
        .body
        .contains(&format!("<li id=\"L{line}\" class=\"marked\">")));
    assert!(
        page.body.contains("定义有错误，改正后显示"),
        "{}",
        page.body
    );

    // The second person's draft is theirs; each sees the other is editing.
    let mut second = Browser::new(&router);
    second.sign_in("policy2@staff.cn").await;
    let page = second.get(edit).await;
    assert!(
        page.body.contains("policy@staff.cn 也在编辑此事项"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("检查结果：没有发现错误。"),
        "not the other's draft"
    );
    let theirs = shipped.replace("version 5 ", "version 6 ").replace(
        "rule \"医养结合机构应同时提供养老床位\" require care_beds > 0",
        "rule \"医养结合机构应同时提供养老床位\" require care_beds >= 2",
    );
    let page = edit_draft(&mut second, &theirs, "check", "").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);

    // Text meant to break the page or the diagram is shown as text.
    let hostile = shipped.replace("\"新建医养结合机构\" {", "\"<script>alert(1)</script>\" {");
    let page = edit_draft(&mut policy, &hostile, "check", "").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let page = policy.get(edit).await;
    assert!(!page.body.contains("<script>alert"), "escaped on the page");
    assert!(
        page.body.contains("&#60;script&#62;alert(1)"),
        "{}",
        page.body
    );
    let svg = policy
        .get("/policy/workflows/new_combined/diagram.svg")
        .await;
    assert!(!svg.body.contains("<script"), "{}", svg.body);
    assert!(svg.body.contains("&lt;script&gt;"), "{}", svg.body);

    // Fixed, as version 6; without a reason it is not published.
    let fixed = shipped.replace("version 5 ", "version 6 ").replace(
        "fire \"消防验收或备案证明\" required deferrable",
        "fire \"消防验收或备案证明\" required",
    );
    let page = edit_draft(&mut policy, &fixed, "publish", " ").await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        page.body
    );
    assert!(page.body.contains("请填写变更说明"), "{}", page.body);
    assert_eq!(app.workflow("new_combined").unwrap().version, 5);
    let svg = policy
        .get("/policy/workflows/new_combined/diagram.svg")
        .await;
    assert_eq!(svg.headers[header::CONTENT_TYPE], "image/svg+xml");
    assert!(svg.body.contains("<svg"), "{}", svg.body);

    let reason = "消防证明不再容缺受理（测试）";
    let page = edit_draft(&mut policy, &fixed, "publish", reason).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(
        page.location(),
        "/policy/workflows/new_combined/compare?from=5&to=6"
    );
    let page = policy.get(page.location()).await;
    assert!(
        page.body.contains("「消防验收或备案证明」不再容缺"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("按第5版在办的申请共 1 件"),
        "{}",
        page.body
    );
    // The compare page names them, for staff to follow up, and says why.
    assert!(
        page.body
            .contains(&format!("<a href=\"/filings/{before}\">{before}</a>")),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains(&format!("<strong>变更说明：</strong>{reason}")),
        "{}",
        page.body
    );
    let page = policy.get("/policy").await;
    // Who published, by name (issue 20: staff saw e-mail addresses where names belong).
    assert!(page.body.contains("测试政策人员，"), "{}", page.body);
    assert!(!page.body.contains("policy@staff.cn，"), "{}", page.body);
    assert!(page.body.contains(reason), "{}", page.body);

    // New filings take version 6; the earlier one stays on 5.
    let after = filing_id(&file(&mut owner, "发布后医养", &"9".repeat(64)).await);
    assert_eq!(app.filing(&before, now().date()).await.unwrap().version, 5);
    assert_eq!(app.filing(&after, now().date()).await.unwrap().version, 6);

    // The second person's draft was begun on version 5: refused, said why.
    let page = edit_draft(&mut second, &theirs, "publish", "床位").await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.body.contains("草稿基于第5版，而在用版本已是第6版"),
        "{}",
        page.body
    );
    assert_eq!(app.workflow("new_combined").unwrap().version, 6);

    // The publication is in the audit chain, which still verifies.
    let audit = app.verify_audit().await.unwrap();
    assert!(audit.is_intact(), "{audit:?}");
    let entries = app.store().audit_entries().await.unwrap();
    let entry = entries
        .iter()
        .find(|e| e.filing_id == "workflow:new_combined")
        .expect("the publication's audit entry");
    assert_eq!((entry.revision, entry.comment.as_str()), (6, reason));
    assert_eq!(entry.actor, "policy <policy@staff.cn>");

    // After a restart on the same files (version 5), version 6 stays in service.
    let data = app.config().data.clone();
    drop((app, router, owner, policy, second));
    let app = Arc::new(
        App::open(app_config(
            &data,
            "http://localhost:8080",
            Access::ExistingOnly,
        ))
        .await
        .unwrap(),
    );
    assert_eq!(app.workflow("new_combined").unwrap().version, 6);
    let router = onewindow::web::router(app);
    let mut policy = Browser::new(&router);
    policy.sign_in("policy@staff.cn").await;
    let page = policy.get(edit).await;
    assert!(page.body.contains("在用版本：第6版"), "{}", page.body);
    assert!(
        page.body.contains("version 6 "),
        "the published text: {}",
        page.body
    );
}

/// A copy of the repository's calendars the test may add years to.
fn calendars_copy() -> std::path::PathBuf {
    let dir = scratch("web-calendars");
    std::fs::create_dir_all(dir.join("cn")).unwrap();
    for entry in std::fs::read_dir(root().join("calendars/cn")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.join("cn").join(path.file_name().unwrap())).unwrap();
    }
    dir
}

/// A week of holidays ending on `due` — cut at 1 January when `due` falls
/// in a year's first week, since a year's file holds only its own days —
/// as a year's file: a correction of its year's file in `calendars` when
/// there is one, else the year's new file.
fn holidays_ending_on(calendars: &Path, due: jiff::civil::Date) -> (std::path::PathBuf, String) {
    let year = due.year();
    let week_before = due.checked_sub(jiff::Span::new().days(6)).unwrap();
    let start = week_before.max(jiff::civil::date(year, 1, 1));
    let range = format!("  {{ from = \"{start}\", to = \"{due}\", name = \"测试假期\" }},\n");
    let existing = calendars.join(format!("cn/{year}.toml"));
    let text = match std::fs::read_to_string(&existing) {
        Ok(text) => text.replacen("holidays = [\n", &format!("holidays = [\n{range}"), 1),
        Err(_) => format!(
            "region = \"cn\"\nyear = {year}\nsource = \"测试通知\"\nholidays = [\n{range}]\nworkdays = []\n"
        ),
    };
    (existing, text)
}

/// A year's file added by hand while the product is stopped: at the next
/// start the open filings are scheduled again on it — on an ordinary day
/// and on each day that breaks dates (regression: on 7 December a filing's
/// due date fell in January and the test's file began in December).
#[tokio::test]
async fn a_calendar_file_added_by_hand_is_applied_at_the_next_start() {
    for day in days() {
        calendar_file_added_by_hand_on(day).await;
    }
}

async fn calendar_file_added_by_hand_on(day: Day) {
    eprintln!("on {}: {}", day.at, day.why);
    let data = scratch("web-calendar-file");
    let calendars = calendars_copy();
    let config = || Config {
        calendars: calendars.clone(),
        clock: Clock::fixed(day.at),
        ..app_config(&data, "http://localhost:8080", Access::CreateIfMissing)
    };
    let app = Arc::new(App::open(config()).await.unwrap());
    people(&app).await;
    assert_eq!(
        app.apply_calendar_changes(app.now()).await.unwrap(),
        0,
        "first start"
    );
    let router = onewindow::web::router(app.clone());
    let (owner, window, id) = accepted_on_the_pages(&router, "手工日历医养", 'd').await;
    let due = app
        .filing(&id, app.today())
        .await
        .unwrap()
        .steps
        .iter()
        .find_map(|s| s.due_on)
        .unwrap();
    drop((app, router, owner, window));

    let (file_path, text) = holidays_ending_on(&calendars, due);
    std::fs::write(&file_path, text).unwrap();
    let app = Arc::new(App::open(config()).await.unwrap());
    assert_eq!(app.apply_calendar_changes(app.now()).await.unwrap(), 1);
    assert_eq!(
        app.apply_calendar_changes(app.now()).await.unwrap(),
        0,
        "once"
    );
    let view = app.filing(&id, app.today()).await.unwrap();
    assert!(view.steps.iter().find_map(|s| s.due_on).unwrap() > due);
    assert!(view
        .history
        .iter()
        .any(|h| h.action == "节假日安排更新，按新日历重新计算期限"));
    // The inbox lists the step at its new due date.
    let router = onewindow::web::router(app.clone());
    let mut health = Browser::new(&router);
    health.sign_in("health@staff.cn").await;
    let inbox = health.get("/inbox").await;
    assert!(inbox.body.contains(&id), "{}", inbox.body);
    assert!(
        !inbox.body.contains(&cell("期限", &chinese_date(due))),
        "{}",
        inbox.body
    );
}

/// Policy staff add a year's holidays: checked first (a make-up day on a
/// weekday is refused), the filings whose due dates move are listed, and
/// once in service the dates are counted on it and the filing's
/// reminders are scheduled again, in its history — on an ordinary day and
/// on each day that breaks dates.
#[tokio::test]
async fn policy_staff_add_a_calendar_year_and_see_the_dates_it_moves() {
    for day in days() {
        policy_staff_add_a_calendar_year_on(day).await;
    }
}

async fn policy_staff_add_a_calendar_year_on(day: Day) {
    eprintln!("on {}: {}", day.at, day.why);
    let data = scratch("web-calendar");
    let calendars = calendars_copy();
    let config = Config {
        calendars: calendars.clone(),
        clock: Clock::fixed(day.at),
        ..app_config(&data, "http://localhost:8080", Access::CreateIfMissing)
    };
    let app = Arc::new(App::open(config).await.unwrap());
    people(&app).await;
    let router = onewindow::web::router(app.clone());
    let (_owner, _window, id) = accepted_on_the_pages(&router, "日历医养", 'c').await;
    let view = app.filing(&id, app.today()).await.unwrap();
    let due = view
        .steps
        .iter()
        .find_map(|s| s.due_on)
        .expect("a step due");

    // A week of holidays ending on that due date, in the due date's year.
    let (existing, text) = holidays_ending_on(&calendars, due);
    let year = due.year();

    let mut policy = Browser::new(&router);
    policy.sign_in("policy@staff.cn").await;
    let page = policy.get("/policy/calendars").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("已录入"), "{}", page.body);

    // A make-up working day on a weekday is refused, nothing written.
    let monday = "region = \"cn\"\nyear = 2030\nsource = \"s\"\nworkdays = [{ date = \"2030-01-07\", name = \"调休上班\" }]\n";
    let page = policy
        .submit(
            "/policy/calendars",
            "/policy/calendars",
            &[("text", monday), ("action", "apply")],
        )
        .await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        page.body
    );
    assert!(
        page.body.contains("falls on a Saturday or Sunday"),
        "{}",
        page.body
    );
    assert!(!calendars.join("cn/2030.toml").exists());

    // Checked: the filing's due dates that move are listed; nothing changes.
    let page = policy
        .submit(
            "/policy/calendars",
            "/policy/calendars",
            &[("text", &text), ("action", "check")],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("日历文件检查无误"), "{}", page.body);
    assert!(
        page.body.contains(&format!("<a href=\"/filings/{id}\">")),
        "{}",
        page.body
    );
    assert!(
        page.body.contains(&cell("原日期", &chinese_date(due))),
        "{}",
        page.body
    );
    let unchanged = app.filing(&id, app.today()).await.unwrap();
    assert_eq!(unchanged.steps.iter().find_map(|s| s.due_on), Some(due));

    // Applied: in service at once, the file written, the filing recounted.
    let page = policy
        .submit(
            "/policy/calendars",
            "/policy/calendars",
            &[("text", &text), ("action", "apply")],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("节假日安排已生效"), "{}", page.body);
    assert!(std::fs::read_to_string(&existing)
        .unwrap()
        .contains("测试假期"));
    assert!(
        !app.calendar().is_workday(due).unwrap(),
        "{due} is a holiday now"
    );
    let moved = app.filing(&id, app.today()).await.unwrap();
    let after = moved.steps.iter().find_map(|s| s.due_on).unwrap();
    assert!(after > due, "{after} after {due}");
    assert!(!moved.provisional || after.year() > year, "{moved:?}");
    assert!(
        moved
            .history
            .iter()
            .any(|h| h.action == "节假日安排更新，按新日历重新计算期限"),
        "{:?}",
        moved.history
    );
    // The inbox lists the step at its new due date.
    let mut health = Browser::new(&router);
    health.sign_in("health@staff.cn").await;
    let inbox = health.get("/inbox").await;
    assert!(
        inbox.body.contains(&cell("期限", &chinese_date(after))),
        "{}",
        inbox.body
    );
    let audit = app.verify_audit().await.unwrap();
    assert!(audit.is_intact(), "{audit:?}");
}

/// A copy of the repository's calendar files up to `last` (the years after
/// it missing, as before their notices come out).
fn calendars_up_to(last: i16) -> std::path::PathBuf {
    let dir = calendars_copy();
    for entry in std::fs::read_dir(dir.join("cn")).unwrap() {
        let path = entry.unwrap().path();
        let year: i16 = path.file_stem().unwrap().to_str().unwrap().parse().unwrap();
        if year > last {
            std::fs::remove_file(path).unwrap();
        }
    }
    dir
}

/// The text of the first document of the filing whose title contains
/// `title`, downloaded through the filing's page as its applicant would,
/// read back with pdftotext, without whitespace.
async fn document_text(browser: &mut Browser, app: &App, id: &str, title: &str) -> String {
    let page = browser.get(&format!("/filings/{id}")).await;
    let link = page
        .body
        .split("<a href=\"")
        .filter(|rest| rest.starts_with(&format!("/filings/{id}/documents/")))
        .find(|rest| rest.split("</a>").next().is_some_and(|a| a.contains(title)))
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("a document {title} to download: {}", page.body))
        .to_string();
    downloaded_text(browser, app, &link).await
}

/// The text of a PDF downloaded from `link`, as pdftotext reads it, white
/// space removed.
async fn downloaded_text(browser: &mut Browser, app: &App, link: &str) -> String {
    let pdf = browser.get(link).await;
    assert_eq!(
        pdf.headers[header::CONTENT_TYPE],
        "application/pdf",
        "{link}"
    );
    pdf_text(app, &pdf.bytes)
}

/// A PDF's text as pdftotext reads it, white space removed.
fn pdf_text(app: &App, bytes: &[u8]) -> String {
    let file = app.config().data.join("downloaded.pdf");
    std::fs::write(&file, bytes).unwrap();
    let text = std::process::Command::new("pdftotext")
        .arg(&file)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) runs");
    String::from_utf8_lossy(&text.stdout)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// A filing received and accepted at the window on 31 December 2026 — the
/// last working day of the year and the last day the calendar files cover:
/// its limits run into 2027, whose notice is not out. The applicant's page
/// and the acceptance notice say the dates are provisional; on the first
/// working day of January the step is in health's inbox, within its limit.
#[tokio::test]
async fn a_filing_accepted_on_the_last_working_day_of_the_year() {
    let data = scratch("web-year-end");
    let clock = Clock::fixed(jiff::civil::date(2026, 12, 31).at(16, 30, 0, 0));
    let config = Config {
        calendars: calendars_up_to(2026),
        clock: clock.clone(),
        ..app_config(&data, "http://localhost:8080", Access::CreateIfMissing)
    };
    let app = Arc::new(App::open(config).await.unwrap());
    assert_eq!(app.calendar().provisional_years(), vec![2027, 2028]);
    people(&app).await;
    let router = onewindow::web::router(app.clone());
    let (mut owner, _window, id) = accepted_on_the_pages(&router, "岁末医养", 'e').await;
    let path = format!("/filings/{id}");

    let view = app.filing(&id, app.today()).await.unwrap();
    assert_eq!(view.status, "in_review");
    assert!(view.provisional, "{view:?}");
    let due = view
        .steps
        .iter()
        .find_map(|s| s.due_on)
        .expect("a step due");
    assert_eq!(due.year(), 2027, "the limit runs into the new year");
    let page = owner.get(&path).await;
    assert!(page.body.contains("期限为暂定"), "{}", page.body);
    assert!(
        page.body.contains(&onewindow::calendar::chinese_date(due)),
        "{}",
        page.body
    );

    render_everything(&app).await;
    let notice = document_text(&mut owner, &app, &id, "受理通知书").await;
    assert!(
        notice.contains(&onewindow::calendar::chinese_date(due)),
        "{notice}"
    );
    assert!(notice.contains("暂定"), "{notice}");

    // The first working day of January: in health's inbox, within its limit.
    clock.set(jiff::civil::date(2027, 1, 4).at(9, 0, 0, 0));
    let mut health = Browser::new(&router);
    health.sign_in("health@staff.cn").await;
    let inbox = health.get("/inbox").await;
    assert!(inbox.body.contains(&id), "{}", inbox.body);
    assert!(
        inbox.body.contains("<tr class=\"level-green\">"),
        "{}",
        inbox.body
    );
    assert!(!inbox.body.contains("level-red"), "{}", inbox.body);
    assert!(
        inbox.body.contains(&format!(
            "{}{}",
            cell("期限", &chinese_date(due)),
            cell("状态", "期限内")
        )),
        "{}",
        inbox.body
    );
    assert!(
        inbox.body.contains("2027、2028年的节假日安排尚未录入"),
        "{}",
        inbox.body
    );
}

/// Regression (issue 19): a civil-affairs reviewer claimed health's step
/// (303 `?done=claim`, then shown as its 办理人), a step that does not
/// apply could be claimed, and anyone who saw a filing could release
/// another department's claim. Only those who may decide a piece now hold
/// it: through the pages and the API alike, everyone else is refused and
/// no claim changes.
#[tokio::test]
async fn only_the_steps_department_claims_or_releases_it() {
    let (app, router) = product("web-claims", onewindow::app::DEFAULT_MAX_UPLOAD).await;
    let (_owner, mut window, id) = accepted_on_the_pages(&router, "认领医养", 'f').await;
    let path = format!("/filings/{id}");
    let act = format!("{path}/act");
    let view = app.filing(&id, app.today()).await.unwrap();
    let step_of = |department: &str, state: &str| {
        view.steps
            .iter()
            .find(|s| s.state == state && s.department.as_deref() == Some(department))
            .map(|s| s.index.to_string())
    };
    let health_step = step_of("health", "active").expect("health's step in progress");
    let skipped = view
        .steps
        .iter()
        .find(|s| s.state == "skipped")
        .map(|s| s.index.to_string())
        .expect("a step that does not apply");

    let mut civil = Browser::new(&router);
    civil.sign_in("civil@staff.cn").await;
    let mut health = Browser::new(&router);
    health.sign_in("health@staff.cn").await;
    for (who, step) in [
        (&mut civil, &health_step),
        (&mut health, &skipped),
        (&mut window, &health_step),
    ] {
        let page = who
            .submit(&path, &act, &[("action", "claim"), ("step", step)])
            .await;
        assert_eq!(
            page.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "step {step}: {}",
            page.body
        );
        assert!(page.body.contains("不属于您的职责"), "{}", page.body);
    }
    // The window's intake is done: no one claims it any more.
    let page = window.submit(&path, &act, &[("action", "claim")]).await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        page.body
    );
    assert!(
        app.store().claims_of(&id).await.unwrap().is_empty(),
        "no claim was stored"
    );

    // Health claims its own step; civil affairs cannot release it, by page
    // or by API.
    let page = health
        .submit(&path, &act, &[("action", "claim"), ("step", &health_step)])
        .await;
    assert_eq!(page.location(), format!("{path}?done=claim"));
    let page = civil
        .submit(
            &path,
            &act,
            &[("action", "release"), ("step", &health_step)],
        )
        .await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        page.body
    );
    let token = app
        .issue_api_token("civil@staff.cn", "test", app.now())
        .await
        .unwrap();
    let step: usize = health_step.parse().unwrap();
    for action in ["release", "claim"] {
        let (status, _, body) = api(
            &router,
            "POST",
            &format!("/api/v1/filings/{id}/actions"),
            Some(&token),
            json(&serde_json::json!({"action": action, "step": step})),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{action}: {body}");
    }
    assert_eq!(
        app.store().claims_of(&id).await.unwrap(),
        vec![(Some(step), "health@staff.cn".to_string())],
        "health still holds it"
    );
}

/// The sample new_combined request of the JSON API, every material the
/// upload `sha256`.
fn api_filing(sha256: &str, applicant: &str) -> serde_json::Value {
    let sample: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("workflows/samples/new_combined.json")).unwrap(),
    )
    .unwrap();
    let materials: serde_json::Map<String, serde_json::Value> = sample["materials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let m = m.as_str().unwrap();
            (
                m.to_string(),
                serde_json::json!({"sha256": sha256, "name": format!("{m}.pdf")}),
            )
        })
        .collect();
    serde_json::json!({
        "workflow": "new_combined",
        "applicant": applicant,
        "form": sample["form"],
        "materials": materials,
    })
}

/// Regression (issue 19): missing fields, wrong types, bad JSON, a wrong
/// content type, a missing query parameter and an oversized body answered
/// English `text/plain`; an `Idempotency-Key` sent again with another body
/// silently answered with the first filing. Every refusal under `/api` is
/// now `application/problem+json` in Chinese, naming the field at fault,
/// and nothing is stored.
#[tokio::test]
async fn the_api_refuses_bad_input_as_problems_in_chinese() {
    let (app, router) = product("web-api-input", 1 << 20).await;
    let token = app
        .issue_api_token("owner@applicant.cn", "test", app.now())
        .await
        .unwrap();
    let post =
        |path: &'static str, body: Option<(&'static str, Vec<u8>)>, key: Option<&'static str>| {
            let (router, token) = (router.clone(), token.clone());
            async move {
                let response = api(&router, "POST", path, Some(&token), body, key).await;
                assert_eq!(
                    response.1[header::CONTENT_TYPE],
                    "application/problem+json",
                    "{path}: {:?}",
                    response.2
                );
                response
            }
        };
    let shown = |problem: &serde_json::Value| problem.to_string();

    let (status, _, problem) = post(
        "/api/v1/filings",
        Some(("text/plain", b"{}".to_vec())),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{problem}");
    assert!(shown(&problem).contains("请求正文须为 JSON"), "{problem}");

    let (status, _, problem) = post(
        "/api/v1/filings",
        Some(("application/json", b"{\"workflow\":".to_vec())),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert!(shown(&problem).contains("不是有效的 JSON"), "{problem}");

    let invalid_utf8 = b"{\"workflow\":\"new_combined\",\"applicant\":\"ab\xff(cd\"}".to_vec();
    let (status, _, problem) = post(
        "/api/v1/filings",
        Some(("application/json", invalid_utf8)),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "invalid UTF-8: {problem}");

    let (status, _, problem) = post(
        "/api/v1/filings",
        json(&serde_json::json!({"applicant": "某"})),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["errors"][0]["subject"], "workflow", "{problem}");
    assert!(
        shown(&problem).contains("缺少必填字段 workflow"),
        "{problem}"
    );

    let (status, _, problem) = post(
        "/api/v1/filings",
        json(&serde_json::json!({"workflow": 3, "applicant": "某"})),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(
        shown(&problem).contains("类型不符：应为 字符串"),
        "{problem}"
    );

    let (status, _, problem) = post(
        "/api/v1/uploads",
        Some(("application/pdf", sample_pdf())),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert!(shown(&problem).contains("缺少查询参数 name"), "{problem}");

    let huge = vec![b' '; 9 * 1024 * 1024];
    let (status, _, problem) =
        post("/api/v1/filings", Some(("application/json", huge)), None).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{problem}");
    let (_, _, mine) = api(&router, "GET", "/api/v1/filings", Some(&token), None, None).await;
    assert!(mine.as_array().unwrap().is_empty(), "nothing filed: {mine}");

    // The same key with the same body files once; with another body it is
    // refused, and the first filing stays as it was.
    let sha256 = &api_upload(&router, &token).await;
    // The same limits at every door: a 5,000,000-character name is
    // refused by the API as by the form.
    let long = api_filing(sha256, &"x".repeat(5_000_000));
    let (status, _, problem) = post("/api/v1/filings", json(&long), None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        shown(&problem).contains("申请人名称超过200个字"),
        "{}",
        &shown(&problem)[..300]
    );
    let mut browser = Browser::new(&router);
    browser.sign_in("owner@applicant.cn").await;
    let csrf = browser.get("/procedures/new_combined/apply").await.csrf();
    let page = browser
        .multipart_bytes(
            "/procedures/new_combined/apply",
            &[
                ("csrf", csrf.as_bytes()),
                ("key", &[b'a'; 64]),
                ("applicant", b"ab\xff(cd\xff"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);
    assert!(page.body.contains("不是有效的 UTF-8 文字"), "{}", page.body);
    let page = browser
        .submit_raw("/login", "/login", b"email=ab%FF%28cd&password=x")
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);

    let first = api_filing(sha256, "幂等医养");
    let (status, _, filed) = api(
        &router,
        "POST",
        "/api/v1/filings",
        Some(&token),
        json(&first),
        Some("same-key"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{filed}");
    let (status, _, again) = api(
        &router,
        "POST",
        "/api/v1/filings",
        Some(&token),
        json(&first),
        Some("same-key"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{again}");
    assert_eq!(again["id"], filed["id"]);
    let other = api_filing(sha256, "另一家医养");
    let (status, _, problem) = post("/api/v1/filings", json(&other), Some("same-key")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(shown(&problem).contains("Idempotency-Key"), "{problem}");
    let (_, _, mine) = api(&router, "GET", "/api/v1/filings", Some(&token), None, None).await;
    assert_eq!(mine.as_array().unwrap().len(), 1, "{mine}");
    assert_eq!(mine[0]["id"], filed["id"]);
}

/// What must not move when someone is refused: the filing's revision and
/// the whole store's audit entries, outbox rows, timers, claims and inbox
/// rows.
async fn footprint(app: &App, id: &str) -> Vec<i64> {
    let store = app.store();
    let mut marks = vec![store.filing(id).await.unwrap().1];
    for table in [
        "audit",
        "outbox",
        "timers",
        "step_claims",
        "active_steps",
        "documents",
    ] {
        marks.push(store.count(table).await.unwrap());
    }
    marks
}

/// A step's actions as a person of any role may try them.
fn step_attempts(step: usize) -> Vec<(&'static str, Option<onewindow::engine::Command>)> {
    use onewindow::engine::Command;
    vec![
        ("claim", None),
        ("release", None),
        ("approve", Some(Command::Approve { step })),
        (
            "refuse",
            Some(Command::Refuse {
                step,
                reasons: vec!["不符合条件".into()],
            }),
        ),
        ("file", Some(Command::File { step })),
        ("sign", Some(Command::Sign { step })),
        (
            "correct",
            Some(Command::RequestStepCorrection {
                step,
                items: vec!["补充说明".into()],
            }),
        ),
        (
            "pause",
            Some(Command::Pause {
                step,
                kind: onewindow::engine::state::PauseKind::ExpertReview,
                days: 5,
                reason: "专家评审".into(),
            }),
        ),
    ]
}

/// Tries one action as `account`; whether it was done. A refusal must be
/// a refusal (not found, not theirs, not now) — never a failure.
async fn attempt(
    app: &App,
    account: &onewindow::app::accounts::Account,
    id: &str,
    step: Option<usize>,
    action: &str,
    command: Option<onewindow::engine::Command>,
) -> bool {
    let outcome = match command {
        Some(command) => app
            .act_as(account, id, command, None, None, app.now())
            .await
            .map(|_| true),
        None => {
            app.claim_as(account, id, step, action == "claim", app.now())
                .await
        }
    };
    match outcome {
        Ok(done) => done,
        Err(error) => {
            assert!(
                matches!(error, onewindow::app::AppError::NotFound(_))
                    || error.rejection().is_some()
                    || error.is_conflict(),
                "{id} {action} as {}: a failure, not a refusal: {error}",
                account.email
            );
            false
        }
    }
}

/// The department × step matrix (issue 19), generated from the shipped
/// definitions: every procedure is filed from its sample and carried to
/// its decision; at each step in progress and at each step waiting, done or
/// not applying, every action is tried by an account of every role and
/// every department (districts included). Only the step's own department
/// holds or decides it while it is in progress; everyone else is refused
/// and nothing changes — the revision, the audit chain, the outbox, the
/// timers, the claims, the inbox rows.
#[tokio::test]
async fn only_the_department_a_definition_names_acts_on_its_step() {
    use onewindow::app::accounts::{Account, Role};
    use onewindow::engine::{Actor, Command};
    let (app, _router) = product("web-step-matrix", onewindow::app::DEFAULT_MAX_UPLOAD).await;
    let mut accounts: Vec<Account> = Vec::new();
    for (role, department) in app
        .departments()
        .keys()
        .flat_map(|d| [Role::Window, Role::Reviewer, Role::Head].map(|r| (r, Some(d.clone()))))
        .chain([Role::Applicant, Role::Policy, Role::Admin].map(|r| (r, None)))
    {
        let email = format!(
            "{}-{}@matrix.cn",
            role.name(),
            department.as_deref().unwrap_or("none")
        );
        let new = NewAccount {
            email,
            name: format!("矩阵{}", role.chinese()),
            role,
            department,
            password: PASSWORD.into(),
        };
        accounts.push(app.add_account(new, "test", app.now()).await.unwrap());
    }
    let (mut tried, mut done) = (0usize, 0usize);
    for workflow_id in app.workflow_ids() {
        let workflow = app.workflow(&workflow_id).unwrap();
        let answers = onewindow::project::read_answers(
            &root().join(format!("workflows/samples/{workflow_id}.json")),
        )
        .unwrap();
        let owner = accounts.iter().find(|a| a.role == Role::Applicant).unwrap();
        let mut materials = std::collections::BTreeMap::new();
        for material in &answers.materials {
            let bytes = sample_pdf();
            let upload = app
                .upload(owner, &format!("{material}.pdf"), &bytes)
                .await
                .unwrap();
            materials.insert(material.clone(), upload);
        }
        let filed = app
            .submit(onewindow::app::NewFiling {
                id: None,
                workflow: workflow_id.clone(),
                applicant: onewindow::engine::Applicant {
                    name: answers.applicant.clone(),
                    email: Some(owner.email.clone()),
                    signatories: answers.signatories.clone(),
                },
                form: answers.form.clone(),
                facts: onewindow::engine::Facts::registry(answers.facts.clone()),
                materials,
                key: None,
                account: Some(owner.email.clone()),
                now: app.now(),
            })
            .await
            .unwrap_or_else(|e| panic!("{workflow_id}: {e}"));
        let id = filed.id.clone();

        // Intake: only the intake's window claims and accepts it.
        let window = |account: &Account| {
            account.role == Role::Window
                && account.department.as_deref() == Some(workflow.intake.department.as_str())
        };
        let before = footprint(&app, &id).await;
        for account in accounts.iter().filter(|a| !window(a)) {
            for (action, command) in [("claim", None), ("accept", Some(Command::Accept))] {
                tried += 1;
                assert!(
                    !attempt(&app, account, &id, None, action, command).await,
                    "{workflow_id}: {} may not {action} at intake",
                    account.email
                );
            }
        }
        assert_eq!(
            footprint(&app, &id).await,
            before,
            "{workflow_id}: intake unchanged"
        );
        let clerk = accounts.iter().find(|a| window(a)).unwrap();
        assert!(
            attempt(&app, clerk, &id, None, "claim", None).await,
            "{workflow_id}"
        );
        assert!(attempt(&app, clerk, &id, None, "accept", Some(Command::Accept)).await);
        done += 2;

        // Then step by step, until nothing is in progress.
        loop {
            let view = app.filing(&id, app.today()).await.unwrap();
            let active: Vec<_> = view.steps.iter().filter(|s| s.state == "active").collect();
            if active.is_empty() {
                break;
            }
            for step in &view.steps {
                let decides = |account: &Account| {
                    step.state == "active"
                        && step.kind != "signing"
                        && account.role == Role::Reviewer
                        && account.department == step.department
                };
                let before = footprint(&app, &id).await;
                for account in accounts.iter().filter(|a| !decides(a)) {
                    for (action, command) in step_attempts(step.index) {
                        tried += 1;
                        assert!(
                            !attempt(&app, account, &id, Some(step.index), action, command).await,
                            "{workflow_id} step {} ({}, {}): {} may not {action}",
                            step.index,
                            step.label,
                            step.state.name(),
                            account.email
                        );
                    }
                }
                assert_eq!(
                    footprint(&app, &id).await,
                    before,
                    "{workflow_id} step {}: nothing changed",
                    step.index
                );
            }
            // Those the definition names do it: hold, give back, decide.
            for step in active {
                let index = step.index;
                if step.kind == "signing" {
                    for party in &workflow.parties {
                        let party = Actor::Party {
                            party: party.id.clone(),
                        };
                        app.act(onewindow::app::Action {
                            filing: id.clone(),
                            actor: party,
                            command: Command::Sign { step: index },
                            expected_revision: None,
                            key: None,
                            account: None,
                            now: app.now(),
                        })
                        .await
                        .unwrap();
                    }
                    continue;
                }
                let reviewer = accounts
                    .iter()
                    .find(|a| a.role == Role::Reviewer && a.department == step.department)
                    .unwrap_or_else(|| {
                        panic!("{workflow_id}: a reviewer of {:?}", step.department)
                    });
                let decision = if step.kind == "review" {
                    ("approve", Command::Approve { step: index })
                } else {
                    ("file", Command::File { step: index })
                };
                for (action, command) in [("claim", None), ("release", None), ("claim", None)]
                    .into_iter()
                    .chain([(decision.0, Some(decision.1))])
                {
                    assert!(
                        attempt(&app, reviewer, &id, Some(index), action, command).await,
                        "{workflow_id} step {index}: {} may {action}",
                        reviewer.email
                    );
                    done += 1;
                }
            }
        }
        let view = app.filing(&id, app.today()).await.unwrap();
        assert_eq!(
            view.status, "decided",
            "{workflow_id}: carried to its decision"
        );
    }
    eprintln!("department × step matrix: {tried} refused attempts, {done} done");
    assert!(tried > 5_000, "{tried}");
    assert!(app.verify_audit().await.unwrap().is_intact());
}

/// What a browser posts for a sample value: text as typed, a list one item
/// per line, a yes-or-no as the box or choice sends it.
fn typed(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        serde_json::Value::Array(items) => items
            .iter()
            .filter_map(serde_json::Value::as_str)
            .collect::<Vec<_>>()
            .join("\n"),
        other => other.to_string(),
    }
}

/// An account of a department for the walk, made the first time it is
/// needed: the definitions name the departments, not the test.
async fn staff_of(app: &App, role: Role, department: &str) -> String {
    let email = format!("{}.{department}@walk.cn", role.name());
    let account = NewAccount {
        email: email.clone(),
        name: format!("{}{department}", role.chinese()),
        role,
        department: Some(department.to_string()),
        password: PASSWORD.into(),
    };
    // Made already for an earlier procedure: the same person.
    let _ = app.add_account(account, "test", now()).await;
    email
}

/// The account that signs for a party of an agreement, as the sample
/// answers name it: an applicant account, made the first time it is needed
/// (the party's own registration).
async fn signatory(app: &App, workflow_id: &str, party: &str) -> String {
    let answers = sample_answers(workflow_id);
    let email = answers["signatories"][party]
        .as_str()
        .unwrap_or_else(|| panic!("{workflow_id}: the sample names {party}'s signatory"))
        .to_string();
    let account = NewAccount {
        email: email.clone(),
        name: format!("{party}签章人"),
        role: Role::Applicant,
        department: None,
        password: PASSWORD.into(),
    };
    // Made already for an earlier filing: the same person.
    let _ = app.add_account(account, "test", now()).await;
    email
}

/// A shipped procedure's sample answers.
fn sample_answers(workflow_id: &str) -> serde_json::Value {
    let path = root().join(format!("workflows/samples/{workflow_id}.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Files a shipped procedure on its page as `owner` with its sample
/// answers and real files, the facts it reads declared on the form with the
/// material that proves each (the registry knows no one here); the filing's
/// id. `key` makes each filing its own.
async fn filed_on_the_page(
    owner: &mut Browser,
    workflow: &onewindow::dsl::Workflow,
    key: usize,
) -> String {
    let workflow_id = &workflow.id;
    let answers = sample_answers(workflow_id);
    owner.get(&format!("/procedures/{workflow_id}")).await;
    let apply = format!("/procedures/{workflow_id}/apply");
    let csrf = owner.get(&apply).await.csrf();
    let key = format!("{key:x}").repeat(64)[..64].to_string();
    let mut fields: Vec<(String, String)> = vec![
        ("csrf".into(), csrf),
        ("key".into(), key),
        (
            "applicant".into(),
            answers["applicant"].as_str().unwrap().into(),
        ),
    ];
    for (field, value) in answers["form"].as_object().unwrap() {
        if *value != serde_json::Value::Bool(false) {
            fields.push((field.clone(), typed(value)));
        }
    }
    if let Some(signatories) = answers["signatories"].as_object() {
        for (party, email) in signatories {
            fields.push((format!("party:{party}"), typed(email)));
        }
    }
    let mut materials: Vec<String> = answers["materials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap().to_string())
        .collect();
    for (fact, value) in answers["facts"].as_object().unwrap() {
        fields.push((format!("fact:{fact}"), typed(value)));
        let evidence = workflow
            .facts
            .iter()
            .find(|f| &f.id == fact)
            .and_then(|f| f.evidence.clone())
            .expect("each fact names its proof");
        if !materials.contains(&evidence) {
            materials.push(evidence);
        }
    }
    let fields: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let names: Vec<String> = materials.iter().map(|m| format!("material:{m}")).collect();
    let pdf = sample_pdf();
    let files: Vec<(&str, &str, &[u8])> = names
        .iter()
        .map(|n| (n.as_str(), "material.pdf", pdf.as_slice()))
        .collect();
    let page = owner.multipart(&apply, &fields, &files).await;
    assert_eq!(
        page.status,
        StatusCode::SEE_OTHER,
        "{workflow_id} is filed on its page: {}",
        page.body
    );
    let id = filing_id(&page);
    owner.get(page.location()).await;
    owner.get("/my").await;
    id
}

/// How the departments of a walk decide.
#[derive(Clone, Copy, PartialEq)]
enum Verdict {
    Grant,
    /// The first step whose page offers a refusal is refused with reasons;
    /// the others are granted.
    RefuseOne,
}

/// The reasons the walk's refusal gives, to be found in its decision.
const REFUSAL: &str = "经现场核查，护理人员配备不符合规定";

/// The window of the procedure accepts the filing on its page; then each
/// active step is decided on its page by a person of the department that
/// takes it (the district's for a local step), who first looks at the
/// inbox, until the filing is decided. The departments that decided, and
/// the one that refused (if any).
async fn decided_on_the_pages(
    app: &App,
    router: &Router,
    looked: &Looked,
    workflow: &onewindow::dsl::Workflow,
    id: &str,
    verdict: Verdict,
) -> (Vec<String>, Option<String>) {
    let workflow_id = &workflow.id;
    let path = format!("/filings/{id}");
    let act = format!("{path}/act");
    let window = staff_of(app, Role::Window, &workflow.intake.department).await;
    let mut at_window = looked.browser(router, "window");
    at_window.sign_in(&window).await;
    at_window.get("/inbox").await;
    let page = at_window.submit(&path, &act, &[("action", "accept")]).await;
    assert_eq!(
        page.status,
        StatusCode::SEE_OTHER,
        "{workflow_id}: {}",
        page.body
    );
    at_window.get(page.location()).await;

    let mut departments = Vec::new();
    let mut refused = None;
    for _round in 0..10 {
        let view = app.filing(id, now().date()).await.unwrap();
        if view.status.is_over() {
            break;
        }
        let active: Vec<_> = view.steps.iter().filter(|s| s.state == "active").collect();
        assert!(!active.is_empty(), "{workflow_id}: stuck at {view:?}");
        for step in active {
            let Some(department) = step.department.clone() else {
                // Each party signs for itself on the filing's page, told by
                // mail that it is its turn.
                for party in &workflow.steps[step.index].parties {
                    let email = signatory(app, workflow_id, party).await;
                    let mut person = looked.browser(router, &format!("party-{party}"));
                    person.sign_in(&email).await;
                    let page = person.get(&path).await;
                    let form = format!(
                        "name=\"step\" value=\"{}\"><input type=\"hidden\" name=\"party\" value=\"{party}\">",
                        step.index
                    );
                    assert!(
                        page.body.contains(&form),
                        "{workflow_id}: {party} may sign: {}",
                        page.body
                    );
                    let index = step.index.to_string();
                    let fields = [
                        ("action", "sign"),
                        ("step", index.as_str()),
                        ("party", party.as_str()),
                    ];
                    let page = person.submit(&path, &act, &fields).await;
                    assert_eq!(
                        page.status,
                        StatusCode::SEE_OTHER,
                        "{workflow_id}: {party} signs: {}",
                        page.body
                    );
                    person.get(page.location()).await;
                    departments.push(party.clone());
                }
                continue;
            };
            let reviewer = staff_of(app, Role::Reviewer, &department).await;
            let mut person = looked.browser(router, &format!("reviewer-{department}"));
            person.sign_in(&reviewer).await;
            person.get("/inbox").await;
            let index = step.index.to_string();
            let offers_refusal = person.get(&path).await.body.contains(&format!(
                "name=\"action\" value=\"refuse\"><input type=\"hidden\" name=\"step\" value=\"{index}\">"
            ));
            let refuse = verdict == Verdict::RefuseOne && refused.is_none() && offers_refusal;
            let fields: Vec<(&str, &str)> = if refuse {
                vec![("action", "refuse"), ("step", &index), ("reasons", REFUSAL)]
            } else if step.kind == "filing" {
                vec![("action", "file"), ("step", &index)]
            } else {
                vec![("action", "approve"), ("step", &index)]
            };
            let page = person.submit(&path, &act, &fields).await;
            assert_eq!(
                page.status,
                StatusCode::SEE_OTHER,
                "{workflow_id}: {department} decides {} on its page: {}",
                step.label,
                page.body
            );
            person.get(page.location()).await;
            if refuse {
                refused = Some(department.clone());
            }
            departments.push(department);
        }
    }
    let view = app.filing(id, now().date()).await.unwrap();
    assert!(view.status.is_over(), "{workflow_id}: decided: {view:?}");
    (departments, refused)
}

/// Every document the filing issued, downloaded by its applicant from the
/// filing's page and read back with pdftotext: each says its title and its
/// number. The titles, and the text of each.
async fn read_back(
    app: &App,
    owner: &mut Browser,
    workflow_id: &str,
    id: &str,
) -> Vec<(String, String)> {
    render_everything(app).await;
    let applicant = app
        .accounts()
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.email == "owner@applicant.cn")
        .unwrap();
    let detail = app
        .filing_detail(&applicant, id, now().date())
        .await
        .unwrap();
    assert!(
        detail.documents.len() >= 2,
        "{workflow_id}: an acceptance and a decision at least: {:?}",
        detail.documents
    );
    let path = format!("/filings/{id}");
    owner.get(&path).await;
    let mut read = Vec::new();
    for document in &detail.documents {
        assert!(document.ready, "{workflow_id}: {} rendered", document.title);
        let link = format!("{path}/documents/{}", document.code);
        let text = downloaded_text(owner, app, &link).await;
        assert!(
            text.contains(&document.title.replace(' ', "")),
            "{workflow_id}: {link} is {}: {text}",
            document.title
        );
        let number = document.number.clone().unwrap_or_default();
        assert!(
            text.contains(&number.replace(' ', "")),
            "{workflow_id}: {} carries its number {number}: {text}",
            document.title
        );
        read.push((document.title.clone(), text));
    }
    read
}

/// Issue 20: two of the seven procedures could not be filed by anyone while
/// every test passed, because only new_combined was walked. This walk is
/// generated from the definitions and their sample answers: each shipped
/// procedure is filed twice on its page by an applicant
/// ([`filed_on_the_page`]), accepted by its window and decided on the pages
/// by a person of each department ([`decided_on_the_pages`]): once granted,
/// once with a refusal with reasons where a department's page offers one.
/// Every document each path issued is downloaded and read back with
/// pdftotext (the refusal's decision says the reasons), and the applicant's
/// mail names each decision. Every page a person was shown is then looked
/// at in Chromium at 1280 and 390 pixels: axe-core, and nothing wider than
/// the phone. An agreement is signed by each party for itself, on the
/// filing's page, by the account the application named its signatory.
#[tokio::test]
async fn every_shipped_procedure_is_filed_and_decided_by_people_on_the_pages() {
    let (app, router) = product("web-every-procedure", 1 << 22).await;
    let looked = Looked::default();
    let mut owner = looked.browser(&router, "applicant");
    owner.sign_in("owner@applicant.cn").await;
    let mut walked = Vec::new();
    for (index, workflow_id) in app.workflow_ids().into_iter().enumerate() {
        let workflow = app.workflow(&workflow_id).unwrap();
        let id = filed_on_the_page(&mut owner, &workflow, 2 * index).await;
        let (departments, _) =
            decided_on_the_pages(&app, &router, &looked, &workflow, &id, Verdict::Grant).await;
        let granted = read_back(&app, &mut owner, &workflow_id, &id).await;

        let id = filed_on_the_page(&mut owner, &workflow, 2 * index + 1).await;
        let (_, refused_by) =
            decided_on_the_pages(&app, &router, &looked, &workflow, &id, Verdict::RefuseOne).await;
        let refused = read_back(&app, &mut owner, &workflow_id, &id).await;
        let can_refuse = workflow
            .steps
            .iter()
            .any(|s| s.kind == onewindow::dsl::ir::StepKind::Review);
        assert_eq!(
            refused_by.is_some(),
            can_refuse,
            "{workflow_id}: a review's page offers a refusal, and only a review's"
        );
        if let Some(department) = &refused_by {
            // The refusing department's decision (a local step's issuer is
            // named by its kind of department): a refusal's document.
            let refusals: Vec<&str> = workflow
                .outcomes
                .iter()
                .filter(|o| o.event == onewindow::dsl::ir::Event::Rejected)
                .map(|o| o.title.as_str())
                .collect();
            let (_, text) = refused
                .iter()
                .find(|(title, _)| refusals.contains(&title.as_str()))
                .unwrap_or_else(|| {
                    panic!("{workflow_id}: {department}'s refusal issues one of {refusals:?}: {refused:?}")
                });
            let reasons: String = REFUSAL.split_whitespace().collect();
            assert!(
                text.contains(&reasons),
                "{workflow_id}: the reasons in {text}"
            );
        }
        let titles = |read: &[(String, String)]| -> Vec<String> {
            read.iter().map(|(title, _)| title.clone()).collect()
        };
        walked.push((
            workflow_id.clone(),
            departments,
            titles(&granted),
            refused_by,
            titles(&refused),
        ));
    }
    // Every procedure, every department of a step, every outcome's title.
    for workflow_id in app.workflow_ids() {
        let workflow = app.workflow(&workflow_id).unwrap();
        let (_, departments, titles, _, _) = walked
            .iter()
            .find(|(id, ..)| *id == workflow_id)
            .unwrap_or_else(|| panic!("{workflow_id} was walked"));
        assert!(!departments.is_empty(), "{workflow_id}: a step was decided");
        for outcome in workflow
            .outcomes
            .iter()
            .filter(|o| o.event == onewindow::dsl::ir::Event::Accepted)
        {
            assert!(titles.contains(&outcome.title), "{workflow_id}: {titles:?}");
        }
    }
    let mail = std::fs::read_dir(app.config().data.join("mail"))
        .unwrap()
        .count();
    assert!(
        mail >= walked.len() * 4,
        "the applicant was told: {mail} messages"
    );
    // Each party's signatory was written to: its turn to sign, and the
    // agreement signed.
    let letters: Vec<String> = std::fs::read_dir(app.config().data.join("mail"))
        .unwrap()
        .map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap())
        .collect();
    for workflow_id in app.workflow_ids() {
        let workflow = app.workflow(&workflow_id).unwrap();
        for party in &workflow.parties {
            let email = signatory(&app, &workflow_id, &party.id).await;
            let told = letters
                .iter()
                .filter(|letter| {
                    letter
                        .lines()
                        .any(|line| line.starts_with("To:") && line.contains(&email))
                })
                .count();
            assert!(told >= 2, "{workflow_id}: {} told {told} times", party.id);
        }
    }
    let pages = looked.check_in_chromium(&app.config().data.join("looked"));
    println!("walked: {walked:#?}\npages looked at in Chromium: {pages}");
}

/// The walk through the JSON API, generated the same way: this time the
/// registry knows each institution by its credit code (as other systems
/// report it), so no fact is asked of the applicant nor any proof; the
/// window and each department act with their own bearer tokens; each
/// procedure is filed twice, granted and refused with reasons (where it has
/// a review), and every document is listed, downloaded as its PDF with the
/// applicant's token and read back with pdftotext.
#[tokio::test]
async fn every_shipped_procedure_is_filed_and_decided_through_the_api() {
    use onewindow::store::institutions::RegistryRecord;
    let (app, router) = product("web-every-procedure-api", 1 << 22).await;
    let owner = app
        .issue_api_token("owner@applicant.cn", "test", now())
        .await
        .unwrap();
    let upload = api_upload(&router, &owner).await;
    for workflow_id in app.workflow_ids() {
        let workflow = app.workflow(&workflow_id).unwrap();
        let answers = sample_answers(&workflow_id);
        let form = answers["form"].as_object().unwrap().clone();
        if !workflow.facts.is_empty() {
            let mut facts = answers["facts"].as_object().unwrap().clone();
            let months = facts.remove(onewindow::registry::MONTHS_OPERATING);
            let code = form["credit_code"].as_str().unwrap();
            let record = RegistryRecord {
                credit_code: onewindow::credit_code::CreditCode::parse(code).unwrap(),
                name: form["name"].as_str().unwrap().into(),
                opened_on: months.map(|m| {
                    onewindow::registry::opened_months_before(now().date(), m.as_i64().unwrap())
                        .unwrap()
                }),
                facts,
                source: "测试".into(),
            };
            app.store().record_registry(&record, now()).await.unwrap();
        }
        let materials: serde_json::Map<String, serde_json::Value> = answers["materials"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(serde_json::Value::as_str)
            .map(|m| {
                let reference = serde_json::json!({ "sha256": upload, "name": format!("{m}.pdf") });
                (m.to_string(), reference)
            })
            .collect();
        for verdict in [Verdict::Grant, Verdict::RefuseOne] {
            let request = serde_json::json!({
                "workflow": workflow_id,
                "applicant": answers["applicant"],
                "form": form,
                "materials": materials,
                "signatories": answers.get("signatories").cloned().unwrap_or(serde_json::json!({})),
            });
            let key = format!("walk-{workflow_id}-{}", verdict == Verdict::Grant);
            let (status, _, view) = api(
                &router,
                "POST",
                "/api/v1/filings",
                Some(&owner),
                json(&request),
                Some(&key),
            )
            .await;
            assert_eq!(status, StatusCode::CREATED, "{workflow_id}: {view}");
            let id = view["id"].as_str().unwrap().to_string();
            assert!(
                view["form"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|field| field.get("declared_with").is_none()),
                "{workflow_id}: the registry's facts, none declared: {view}"
            );
            let refused = decided_through_the_api(&app, &router, &workflow, &id, verdict).await;
            let path = format!("/api/v1/filings/{id}");
            let (status, _, view) = api(&router, "GET", &path, Some(&owner), None, None).await;
            assert_eq!(status, StatusCode::OK, "{view}");
            assert_eq!(
                view["status"], "decided",
                "{workflow_id}: decided through the API: {view}"
            );
            let read = read_back_through_the_api(&app, &router, &owner, &id).await;
            let issued = |event: onewindow::dsl::ir::Event| {
                workflow
                    .outcomes
                    .iter()
                    .filter(move |o| o.event == event)
                    .map(|o| o.title.as_str())
                    .any(|title| read.iter().any(|(t, _)| t == title))
            };
            assert!(
                issued(onewindow::dsl::ir::Event::Accepted),
                "{workflow_id}: {read:?}"
            );
            if refused {
                assert!(
                    issued(onewindow::dsl::ir::Event::Rejected),
                    "{workflow_id}: {read:?}"
                );
                let reasons: String = REFUSAL.split_whitespace().collect();
                assert!(
                    read.iter().any(|(_, text)| text.contains(&reasons)),
                    "{workflow_id}: the refusal's reasons in its decision: {read:?}"
                );
            }
        }
    }
}

/// Accepts the filing with the window's token, then decides each active
/// step with a token of the department that takes it, until decided;
/// under [`Verdict::RefuseOne`] the first review is refused with reasons.
/// Whether one was.
async fn decided_through_the_api(
    app: &App,
    router: &Router,
    workflow: &onewindow::dsl::Workflow,
    id: &str,
    verdict: Verdict,
) -> bool {
    let workflow_id = &workflow.id;
    let actions = format!("/api/v1/filings/{id}/actions");
    let window = staff_of(app, Role::Window, &workflow.intake.department).await;
    let window = app.issue_api_token(&window, "test", now()).await.unwrap();
    let accept = serde_json::json!({"action": "accept"});
    let (status, _, body) = api(router, "POST", &actions, Some(&window), json(&accept), None).await;
    assert_eq!(status, StatusCode::OK, "{workflow_id}: {body}");
    let mut refused = false;
    for _round in 0..10 {
        let view = app.filing(id, now().date()).await.unwrap();
        if view.status.is_over() {
            break;
        }
        for step in view.steps.iter().filter(|s| s.state == "active") {
            let Some(department) = step.department.clone() else {
                for party in &workflow.steps[step.index].parties {
                    let email = signatory(app, workflow_id, party).await;
                    let token = app.issue_api_token(&email, "test", now()).await.unwrap();
                    let sign =
                        serde_json::json!({"action": "sign", "step": step.index, "party": party});
                    let (status, _, body) =
                        api(router, "POST", &actions, Some(&token), json(&sign), None).await;
                    assert_eq!(
                        status,
                        StatusCode::OK,
                        "{workflow_id}: {party} signs: {body}"
                    );
                }
                continue;
            };
            let reviewer = staff_of(app, Role::Reviewer, &department).await;
            let token = app.issue_api_token(&reviewer, "test", now()).await.unwrap();
            let refuse = verdict == Verdict::RefuseOne && !refused && step.kind == "review";
            let decide = if refuse {
                serde_json::json!({"action": "refuse", "step": step.index, "reasons": [REFUSAL]})
            } else if step.kind == "filing" {
                serde_json::json!({"action": "file", "step": step.index})
            } else {
                serde_json::json!({"action": "approve", "step": step.index})
            };
            let (status, _, body) =
                api(router, "POST", &actions, Some(&token), json(&decide), None).await;
            assert_eq!(
                status,
                StatusCode::OK,
                "{workflow_id}: {department}: {body}"
            );
            refused |= refuse;
        }
    }
    refused
}

/// The filing's documents as the API lists them to the applicant, each
/// downloaded as its PDF with the applicant's token and read back with
/// pdftotext: title and text (whitespace left out).
async fn read_back_through_the_api(
    app: &App,
    router: &Router,
    owner: &str,
    id: &str,
) -> Vec<(String, String)> {
    render_everything(app).await;
    let list = format!("/api/v1/filings/{id}/documents");
    let (status, _, documents) = api(router, "GET", &list, Some(owner), None, None).await;
    assert_eq!(status, StatusCode::OK, "{documents}");
    let mut read = Vec::new();
    for document in documents.as_array().unwrap() {
        let title = document["title"].as_str().unwrap().to_string();
        let link = format!("{list}/{}", document["code"].as_str().unwrap());
        let request = Request::get(&link)
            .header(header::AUTHORIZATION, format!("Bearer {owner}"))
            .body(Body::empty())
            .unwrap();
        let response = router.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{link}");
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/pdf");
        let bytes = to_bytes(response.into_body(), 1 << 24).await.unwrap();
        let text = pdf_text(app, &bytes);
        assert!(
            text.contains(&title.replace(' ', "")),
            "{link}: {title} in {text}"
        );
        read.push((title, text));
    }
    read
}

/// Issue 20: after any validation error the applicant had to choose every
/// file again. The files uploaded with a refused application come back as
/// kept (hidden references this account's uploads answer to), and the
/// corrected application files with them; a reference that is not the
/// account's own keeps nothing.
#[tokio::test]
async fn uploads_are_kept_across_a_refused_application() {
    let (app, router) = product("web-kept-uploads", 1 << 20).await;
    let mut owner = Browser::new(&router);
    owner.sign_in("owner@applicant.cn").await;
    let apply = "/procedures/new_combined/apply";
    let csrf = owner.get(apply).await.csrf();
    let key = "k".repeat(64).replace('k', "a");
    let mut form = sample_form();
    let beds = form.iter().position(|(k, _)| k == "medical_beds").unwrap();
    form[beds].1 = "-5".into();
    let mut fields: Vec<(&str, &str)> = vec![
        ("csrf", &csrf),
        ("key", &key),
        ("applicant", "保留文件医养"),
    ];
    fields.extend(form.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let pdf = sample_pdf();
    let materials = [
        "application",
        "feasibility",
        "site_plan",
        "fire",
        "staff",
        "rules",
        "private_registration",
    ];
    let names: Vec<String> = materials.iter().map(|m| format!("material:{m}")).collect();
    let files: Vec<(&str, &str, &[u8])> = names
        .iter()
        .map(|n| (n.as_str(), "file.pdf", pdf.as_slice()))
        .collect();
    let page = owner.multipart(apply, &fields, &files).await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        page.body
    );
    assert_eq!(
        page.body
            .matches("已上传：file.pdf（保留，无需重新选择）")
            .count(),
        materials.len(),
        "{}",
        page.body
    );
    // The hidden references, as the browser sends them back.
    let kept: Vec<(String, String)> = page
        .body
        .split("<input type=\"hidden\" name=\"kept:")
        .skip(1)
        .map(|rest| {
            let (material, rest) = rest.split_once('"').unwrap();
            let value = rest
                .split("value=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            (format!("kept:{material}"), value.to_string())
        })
        .collect();
    assert_eq!(kept.len(), materials.len());
    // Someone else's browser sending the same references keeps nothing.
    let mut other = Browser::new(&router);
    other.sign_in("other@applicant.cn").await;
    let other_csrf = other.get(apply).await.csrf();
    form[beds].1 = "80".into();
    let mut theirs: Vec<(&str, &str)> =
        vec![("csrf", &other_csrf), ("key", &key), ("applicant", "别人")];
    theirs.extend(form.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    theirs.extend(kept.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let page = other.multipart(apply, &theirs, &[]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let id = filing_id(&page);
    let view = app.filing(&id, now().date()).await.unwrap();
    assert!(
        view.materials.iter().all(|m| m.file.is_none()),
        "not their uploads: {view:?}"
    );
    // The owner corrects the value and sends no file again: filed with all.
    let mut fields: Vec<(&str, &str)> = vec![
        ("csrf", &csrf),
        ("key", &key),
        ("applicant", "保留文件医养"),
    ];
    fields.extend(form.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    fields.extend(kept.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let page = owner.multipart(apply, &fields, &[]).await;
    let id = filing_id(&page);
    let view = app.filing(&id, now().date()).await.unwrap();
    for material in materials {
        let held = view.materials.iter().find(|m| m.id == material).unwrap();
        assert_eq!(held.file.as_deref(), Some("file.pdf"), "{material}");
    }
}

/// Issue 20: an error page showed the signed-out navigation to a person
/// who was signed in. It shows theirs (the status stays); to a visitor,
/// the visitor's.
#[tokio::test]
async fn an_error_page_keeps_the_signed_in_navigation() {
    let (_app, router) = product("web-error-nav", 1 << 20).await;
    let mut owner = Browser::new(&router);
    owner.sign_in("owner@applicant.cn").await;
    let page = owner.get("/filings/2026-999999").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.body.contains("未找到"), "{}", page.body);
    assert!(
        page.body.contains("<a href=\"/my\">我的申请</a>"),
        "{}",
        page.body
    );
    assert!(page.body.contains("退出登录"), "{}", page.body);
    assert!(!page.body.contains("<a href=\"/login\">"), "{}", page.body);
    let page = Browser::new(&router).get("/no-such-page").await;
    assert!(page.body.contains("<a href=\"/login\">"), "{}", page.body);
}
