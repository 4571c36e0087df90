//! The web application over HTTP, in process (tower's `oneshot` on the
//! real router): the public's pages, their headers, and what bad input gets.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{to_bytes, Body};
use axum::http::{header, Request, StatusCode};
use onewindow::app::{Access, App};
use tower::ServiceExt as _;

mod common;
use common::{app_config, root, scratch};

/// A data directory with decided sample filings and their rendered
/// documents, made by the command line as `./run start` makes it.
fn data_with_documents() -> std::path::PathBuf {
    let data = decided_filings();
    onewindow_cli(&data, &["worker", "--once", "--now", "2027-03-01T09:00"]);
    data
}

/// A data directory with one decided sample filing, its documents issued
/// but not yet rendered.
fn decided_filings() -> std::path::PathBuf {
    let data = scratch("web");
    onewindow_cli(
        &data,
        &[
            "load",
            "--workflow",
            "new_combined",
            "--filings",
            "1",
            "--prefix",
            "W-",
        ],
    );
    data
}

fn onewindow_cli(data: &Path, args: &[&str]) {
    let output = common::onewindow()
        .args(args)
        .arg("--data")
        .arg(data)
        .current_dir(root())
        .output()
        .expect("onewindow runs");
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The sample filing's medical licence, as the store records it.
async fn licence(app: &App) -> onewindow::store::DocumentRecord {
    app.store()
        .documents_of("W-000000", "approved")
        .await
        .unwrap()
        .into_iter()
        .find(|d| d.template == "medical_license")
        .expect("the licence")
}

async fn app(data: &Path) -> Arc<App> {
    let config = app_config(data, "https://yiyang.example.gov.cn/", Access::ExistingOnly);
    Arc::new(App::open(config).await.expect("the app opens"))
}

/// GET a path: status, headers and the body as text.
async fn get(app: &Arc<App>, path: &str) -> (StatusCode, axum::http::HeaderMap, String) {
    let response = onewindow::web::router(app.clone())
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (status, headers, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn the_public_pages_list_procedures_show_notices_and_verify_documents() {
    let data = data_with_documents();
    let app = app(&data).await;

    let (status, headers, body) = get(&app, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("<html lang=\"zh-CN\">"), "{body}");
    assert!(body.contains("新建医养结合机构"), "{body}");
    assert!(body.contains("href=\"/procedures/new_combined\""), "{body}");
    let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert!(!body.contains("<script"), "no script at all");
    assert!(
        !body.contains("http://") && !body.contains("https://"),
        "nothing from elsewhere"
    );

    let (status, _, body) = get(&app, "/procedures/new_combined").await;
    assert_eq!(status, StatusCode::OK);
    for expected in [
        "新建医养结合机构一次性告知书",
        "四、申请材料",
        "谁审批谁监管",
        "市民政局（备案）：予以备案的，养老机构备案回执",
    ] {
        assert!(body.contains(expected), "{expected} in {body}");
    }
    // Every procedure's page says all of its notice, item by item, from
    // the one value the command line and the PDF render too.
    for id in app.workflow_ids() {
        let notice = onewindow::dsl::notice::Notice::of(&app.workflow(&id).unwrap());
        let (status, _, body) = get(&app, &format!("/procedures/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{id}");
        let escaped = |text: &str| {
            text.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&#34;")
                .replace('\'', "&#39;")
        };
        for section in &notice.sections {
            let items = section.items.iter();
            let words = std::iter::once(&section.heading)
                .chain(items.clone().map(|item| &item.text))
                .chain(items.flat_map(|item| &item.details));
            for text in words {
                assert!(body.contains(&escaped(text)), "{id}: {text} on the page");
            }
        }
    }

    // The QR code's page, and the same document by number and code.
    let permit = licence(&app).await;
    let (status, _, body) = get(&app, &format!("/verify/{}", permit.verify_code)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("经核验，该文书真实有效"), "{body}");
    assert!(body.contains("医疗机构执业许可证"), "{body}");
    assert!(body.contains("市卫生健康局"), "{body}");
    let number = permit.number.clone().unwrap();
    let query = format!(
        "/verify?number={}&code={}",
        percent(&number),
        permit.verify_code.to_lowercase()
    );
    let (status, _, body) = get(&app, &query).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("经核验，该文书真实有效"), "{body}");

    let (status, _, body) = get(&app, "/verify/0000000000000000").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("未找到"), "{body}");
    let (status, _, _) = get(&app, "/healthz").await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = get(&app, "/readyz").await;
    assert_eq!(status, StatusCode::OK);
    let (status, headers, _) = get(&app, "/static/site.css").await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/css"));
}

#[tokio::test]
async fn hostile_or_oversized_input_is_shown_literally_or_refused() {
    let data = data_with_documents();
    let app = app(&data).await;
    let hostile = "<script>alert(1)</script>";
    let (status, _, body) = get(&app, &format!("/verify?number={}&code=x", percent(hostile))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!body.contains(hostile), "escaped: {body}");
    assert!(body.contains("&#60;script&#62;"), "{body}");
    assert!(body.contains("未找到该文书"), "{body}");

    let long = "9".repeat(65);
    let (status, _, body) = get(&app, &format!("/verify?number={long}&code=1")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("不超过64个字符"), "{body}");

    let (status, _, body) = get(&app, "/procedures/no_such_thing").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        body.contains("未找到") && !body.contains("no_such_thing"),
        "{body}"
    );
    let (status, _, _) = get(&app, "/no/such/page").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// Percent-encodes a query value.
fn percent(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A GET over a real socket: the status code, or `None` while nothing answers.
fn http_status(port: u16, path: &str) -> Option<u16> {
    http_get(port, path).map(|(status, _)| status)
}

/// A GET over a real socket: the status code and the whole answer.
fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    let status = answer.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, answer))
}

/// `onewindow serve` on a free port of loopback, once it answers.
fn serve(data: &Path, options: &[&str]) -> (std::process::Child, u16) {
    serve_logging(data, options, std::process::Stdio::inherit())
}

/// [`serve`], its log (standard error) sent to `log`.
fn serve_logging(
    data: &Path,
    options: &[&str],
    log: std::process::Stdio,
) -> (std::process::Child, u16) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = common::onewindow()
        .arg("serve")
        .args(options)
        .args(["--addr", &format!("127.0.0.1:{port}"), "--data"])
        .arg(data)
        .current_dir(root())
        .stderr(log)
        .spawn()
        .expect("serve starts");
    wait_for("the server answering", || {
        http_status(port, "/healthz") == Some(200)
    });
    (server, port)
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{what} never happened"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `onewindow serve` runs the worker beside the pages: a document issued
/// before it started is rendered and then verifies at its QR code's URL;
/// SIGTERM stops it cleanly.
#[tokio::test(flavor = "multi_thread")]
async fn serve_runs_the_worker_and_stops_cleanly_on_sigterm() {
    let data = decided_filings();
    let app = app(&data).await;
    let permit = licence(&app).await;
    assert!(permit.sha256.is_none(), "not rendered before serve starts");
    let (mut server, port) = serve(&data, &[]);
    let verify = format!("/verify/{}", permit.verify_code);
    wait_for("the worker rendering the licence", || {
        http_status(port, &verify) == Some(200)
    });
    assert_eq!(http_status(port, "/readyz"), Some(200));
    let pid = server.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let start = Instant::now();
    let status = loop {
        if let Some(status) = server.try_wait().unwrap() {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "serve did not stop"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "a clean exit on SIGTERM: {status}");
}

/// The JSON API answers the same questions as the pages; errors are
/// `application/problem+json`.
#[tokio::test]
async fn the_api_lists_procedures_notices_and_documents_as_json() {
    let data = data_with_documents();
    let app = app(&data).await;
    let json = |body: &str| serde_json::from_str::<serde_json::Value>(body).unwrap();

    let (status, headers, body) = get(&app, "/api/v1/procedures").await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let procedures = json(&body);
    let ids: Vec<&str> = procedures
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 7);
    assert!(ids.contains(&"new_combined"));

    let (status, _, body) = get(&app, "/api/v1/procedures/new_combined/notice").await;
    assert_eq!(status, StatusCode::OK);
    let notice = json(&body);
    assert_eq!(notice["title"], "新建医养结合机构一次性告知书");
    assert_eq!(notice["sections"][3]["heading"], "四、申请材料");

    let permit = licence(&app).await;
    let (status, _, body) = get(&app, &format!("/api/v1/documents/{}", permit.verify_code)).await;
    assert_eq!(status, StatusCode::OK);
    let document = json(&body);
    assert_eq!(document["title"], "医疗机构执业许可证");
    assert_eq!(document["department"], "茂名市卫生健康局");
    assert_eq!(document["number"], permit.number.clone().unwrap().as_str());

    for path in [
        "/api/v1/documents/0000000000000000",
        "/api/v1/procedures/nope/notice",
        "/api/v1/nothing/here",
    ] {
        let (status, headers, body) = get(&app, path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(
            headers[header::CONTENT_TYPE],
            "application/problem+json",
            "{path}"
        );
        let problem = json(&body);
        assert_eq!(problem["status"], 404, "{path}");
        assert!(!body.contains("nope"), "nothing echoed: {body}");
    }
}

/// The public's pages in real headless Chromium (Debian's) with axe-core:
/// no serious or critical accessibility violation, and a screenshot of each.
/// `./run test` installs Chromium and the npm packages; without them this
/// test fails rather than skips.
#[tokio::test(flavor = "multi_thread")]
async fn the_public_pages_pass_the_accessibility_check() {
    let data = data_with_documents();
    let code = licence(&*app(&data).await).await.verify_code;
    let (mut server, port) = serve(&data, &["--no-worker"]);
    let base = format!("http://127.0.0.1:{port}");
    let pages = [
        format!("{base}/"),
        format!("{base}/procedures/new_combined"),
        format!("{base}/procedures/annual_evaluation"),
        format!("{base}/verify/{code}"),
        format!("{base}/verify?number=x&code=y"),
        format!("{base}/progress?filing=W-000000&code=ABCDEFGH"),
        format!("{base}/login"),
        format!("{base}/register"),
        format!("{base}/stats"),
        format!("{base}/no/such/page"),
    ];
    let shots = data.join("screenshots");
    let output = common::node()
        .arg(root().join("web/a11y/check.mjs"))
        .arg("--screenshots")
        .arg(&shots)
        .args(&pages)
        .output()
        .expect("node runs (./run test installs Node.js, Chromium and web/a11y's packages)");
    let _ = server.kill();
    let _ = server.wait();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "accessibility check failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let reports: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(reports.len(), pages.len(), "{stdout}");
    for report in &reports {
        assert_eq!(report["serious"], 0, "{report}");
    }
    for index in 0..pages.len() {
        let shot = shots.join(format!("{index}.png"));
        let bytes = std::fs::read(&shot).expect("a screenshot of every page");
        assert!(bytes.starts_with(b"\x89PNG"), "{}", shot.display());
    }
}

/// The whole path in real headless Chromium, each person in a session of
/// their own (web/a11y/e2e.mjs): an applicant registers and files the new
/// combined institution with its materials, the window accepts, health and
/// civil affairs decide in parallel, the applicant downloads the permit and
/// the public page verifies it. Every page is screenshot and passes axe-core.
#[tokio::test(flavor = "multi_thread")]
async fn a_filing_end_to_end_in_chromium() {
    let data = scratch("web-e2e");
    let mut accounts = serde_json::Map::new();
    for (key, role, department) in [
        ("window", "window", Some("window")),
        ("health", "reviewer", Some("health")),
        ("civil", "reviewer", Some("civil")),
        ("policy", "policy", None),
    ] {
        let email = format!("{key}@e2e.example.cn");
        let department = department
            .map(|d| vec!["--department", d])
            .unwrap_or_default();
        let output = common::onewindow()
            .args([
                "user",
                "add",
                "--email",
                &email,
                "--name",
                &format!("{key} 测试"),
            ])
            .args(["--role", role])
            .args(department)
            .arg("--data")
            .arg(&data)
            .env("ONEWINDOW_PASSWORD", "e2e-staff-password")
            .current_dir(root())
            .output()
            .expect("onewindow runs");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        accounts.insert(
            key.to_string(),
            serde_json::json!({ "email": email, "password": "e2e-staff-password" }),
        );
    }
    let accounts_file = data.join("accounts.json");
    std::fs::write(&accounts_file, serde_json::to_vec(&accounts).unwrap()).unwrap();
    let (mut server, port) = serve(&data, &[]);
    let shots = data.join("e2e-screenshots");
    let output = common::node()
        .arg(root().join("web/a11y/e2e.mjs"))
        .args(["--base", &format!("http://127.0.0.1:{port}")])
        .arg("--accounts")
        .arg(&accounts_file)
        .arg("--answers")
        .arg(root().join("workflows/samples/new_combined.json"))
        .arg("--screenshots")
        .arg(&shots)
        .arg("--work")
        .arg(data.join("e2e-work"))
        .arg("--mail")
        .arg(data.join("mail"))
        .output()
        .expect("node runs (./run test installs Node.js, Chromium and web/a11y's packages)");
    let _ = server.kill();
    let _ = server.wait();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the end-to-end run failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: serde_json::Value =
        serde_json::from_str(stdout.lines().last().expect("a summary")).unwrap();
    assert_eq!(summary["serious"], 0, "{stdout}");
    assert!(summary["pages"].as_u64().unwrap() >= 20, "{stdout}");
    assert!(stdout.contains("\"page\":\"policy-published\""), "{stdout}");
    // The editor's script checked the typed error on its own.
    let live = summary["liveCheckMs"]
        .as_u64()
        .expect("the live check answered");
    eprintln!("the editor's check while typing answered in Chromium in {live} ms");
    for line in stdout.lines().filter(|l| l.contains("\"screenshot\"")) {
        let report: serde_json::Value = serde_json::from_str(line).unwrap();
        let shot = std::fs::read(report["screenshot"].as_str().unwrap()).unwrap();
        assert!(shot.starts_with(b"\x89PNG"), "{line}");
    }
    // The permit the applicant downloaded is the real PDF/A with their institution.
    let permit = summary["permit"]
        .as_str()
        .expect("the permit was downloaded");
    let text = Command::new("pdftotext")
        .args([permit, "-"])
        .output()
        .expect("pdftotext (poppler-utils) runs");
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("茂名康颐医养中心"), "{text}");
    assert!(text.contains("医疗机构执业许可证"), "{text}");
}

/// What `serve` prints until it serves; then it is stopped.
fn serve_output(data: &Path) -> Vec<String> {
    serve_output_with(data, &["--no-worker"]).0
}

/// What `serve` with these options prints on standard output until it
/// serves, once `/readyz` answers; then it is stopped, and what it logged
/// on standard error until then. Its mail, when it runs its worker, goes
/// to files in the data directory (no `--smtp`).
fn serve_output_with(data: &Path, options: &[&str]) -> (Vec<String>, String) {
    use std::io::BufRead as _;
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = common::onewindow()
        .args(["serve", "--addr", &format!("127.0.0.1:{port}"), "--data"])
        .arg(data)
        .args(options)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("serve starts");
    let stdout = server.stdout.take().unwrap();
    let mut lines = Vec::new();
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.unwrap();
        let serving = line.starts_with("serving on");
        lines.push(line);
        if serving {
            break;
        }
    }
    wait_for("ready", || http_status(port, "/readyz") == Some(200));
    let _ = server.kill();
    let mut logged = String::new();
    server
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logged)
        .unwrap();
    let _ = server.wait();
    (lines, logged)
}

/// `serve` started on 31 December 2026 with next year's calendar file
/// missing (the State Council's notice not out yet, as every year until
/// November or December): it starts, warns that 2027 and 2028 are
/// provisional, files its samples on that day, and says it is ready.
#[test]
fn serve_starts_on_31_december_with_next_year_missing() {
    let data = scratch("web-new-year");
    let calendars = data.join("calendars");
    std::fs::create_dir_all(calendars.join("cn")).unwrap();
    for year in [2025, 2026] {
        let name = format!("cn/{year}.toml");
        std::fs::copy(root().join("calendars").join(&name), calendars.join(&name)).unwrap();
    }
    let (lines, logged) = serve_output_with(
        &data,
        &[
            "--no-worker",
            "--now",
            "2026-12-31T16:30",
            "--calendars",
            calendars.to_str().unwrap(),
        ],
    );
    let text = lines.join("\n");
    for year in [2027, 2028] {
        assert!(
            logged.contains(&format!("no calendar file for {year}")),
            "{logged}"
        );
    }
    assert!(text.contains("decided with a permit"), "{text}");
    assert!(text.contains("overdue"), "{text}");
    assert!(text.contains("serving on"), "{text}");
}

/// Without a public address, the links in mail and on documents are where
/// `serve` listens (not a fixed localhost:8080), and since only this machine
/// can open a loopback address it says so when it sends mail; with one,
/// every link is the public address and nothing is said.
#[test]
fn links_go_where_serve_listens_unless_a_public_address_is_given() {
    let data = scratch("web-base-url");
    let (lines, logged) = serve_output_with(&data, &[]);
    let serving = lines.last().unwrap();
    let port = serving
        .split("127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .unwrap();
    assert!(
        serving.contains(&format!("links to http://127.0.0.1:{port} ")),
        "{serving}"
    );
    assert!(
        logged.contains(&format!(
            "警告：邮件和二维码中的链接是 http://127.0.0.1:{port}，只有本机能打开"
        )),
        "{logged}"
    );
    let data = scratch("web-base-url-public");
    let (lines, logged) =
        serve_output_with(&data, &["--base-url", "https://yiyang.maoming.gov.cn/"]);
    assert!(
        lines
            .last()
            .unwrap()
            .contains("links to https://yiyang.maoming.gov.cn "),
        "{lines:?}"
    );
    assert!(!logged.contains("警告"), "{logged}");
}

/// On first start with an empty database `serve` opens one account per
/// role, prints each password once, and files samples in different states.
#[test]
fn first_start_creates_an_account_per_role_and_sample_filings() {
    let data = scratch("web-first-start");
    let lines = serve_output(&data);
    let text = lines.join("\n");
    for role in ["applicant", "window", "reviewer", "head", "policy", "admin"] {
        assert!(
            lines
                .iter()
                .any(|l| l.trim_start().starts_with(role) && l.contains('@')),
            "an account for {role}:\n{text}"
        );
    }
    for state in [
        "waiting at the window",
        "in parallel review",
        "paused",
        "overdue",
        "decided with a permit",
    ] {
        assert!(text.contains(state), "a sample {state}:\n{text}");
    }
    // A second start prints no passwords again.
    let again = serve_output(&data).join("\n");
    assert!(!again.contains("first start"), "{again}");
    assert!(again.contains("serving on"), "{again}");
}

/// A JSON request over a fresh connection: the status and body, or `None`
/// when the server did not answer (it was killed).
fn post_json(
    port: u16,
    path: &str,
    token: &str,
    key: Option<&str>,
    body: &str,
) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let key = key.map_or_else(String::new, |k| format!("Idempotency-Key: {k}\r\n"));
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nAuthorization: Bearer {token}\r\n{key}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    let status = answer.split_whitespace().nth(1)?.parse().ok()?;
    let body = answer.split_once("\r\n\r\n")?.1.to_string();
    Some((status, body))
}

fn cli_output(data: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let output = common::onewindow()
        .args(args)
        .arg("--data")
        .arg(data)
        .envs(env.iter().copied())
        .current_dir(root())
        .output()
        .expect("onewindow runs");
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).to_string()
}

/// The server killed with SIGKILL in a burst of submissions and
/// acceptances over HTTP, then started again: every submission answered
/// 201 exists exactly once, a retry with its key gets the same filing, the
/// audit chain verifies, and the mail queued before the kill goes out.
#[test]
fn a_burst_survives_sigkill_and_every_answered_submission_exists_once() {
    let data = scratch("web-sigkill");
    let password = [("ONEWINDOW_PASSWORD", "burst-password-1")];
    for (email, role, department) in [
        ("burst@applicant.cn", "applicant", None),
        ("burst@window.cn", "window", Some("window")),
    ] {
        let mut args = vec![
            "user", "add", "--email", email, "--name", "突发", "--role", role,
        ];
        if let Some(department) = department {
            args.extend(["--department", department]);
        }
        cli_output(&data, &args, &password);
    }
    let token = |email: &str| {
        cli_output(&data, &["user", "token", "--email", email], &[])
            .trim()
            .to_string()
    };
    let (applicant, window) = (token("burst@applicant.cn"), token("burst@window.cn"));
    let answers: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("workflows/samples/new_combined.json")).unwrap(),
    )
    .unwrap();
    // Every material refers to one file the applicant uploaded first.
    let (mut server, port) = serve(&data, &["--no-worker"]);
    let pdf = onewindow::app::samples::sample_pdf("burst");
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "POST /api/v1/uploads?name=m.pdf HTTP/1.1\r\nHost: l\r\nConnection: close\r\nAuthorization: Bearer {applicant}\r\nContent-Length: {}\r\n\r\n",
        pdf.len()
    )
    .unwrap();
    stream.write_all(&pdf).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let upload: serde_json::Value =
        serde_json::from_str(answer.split_once("\r\n\r\n").unwrap().1).unwrap();
    let materials: serde_json::Map<String, serde_json::Value> = answers["materials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m.as_str().unwrap().to_string(),
                serde_json::json!({"sha256": upload["sha256"], "name": "m.pdf"}),
            )
        })
        .collect();
    let body = serde_json::json!({
        "workflow": "new_combined",
        "applicant": answers["applicant"],
        "form": answers["form"],
        "materials": materials,
    })
    .to_string();

    // Eight clients file and accept as fast as they can; the server dies
    // under them once some 60 submissions were answered.
    let answered = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(String, String)>::new()));
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let sent = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let clients: Vec<_> = (0..8)
        .map(|client| {
            let (answered, accepted, sent) = (answered.clone(), accepted.clone(), sent.clone());
            let (body, applicant, window) = (body.clone(), applicant.clone(), window.clone());
            std::thread::spawn(move || {
                for n in 0.. {
                    let key = format!("burst-{client}-{n}");
                    sent.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some((status, reply)) =
                        post_json(port, "/api/v1/filings", &applicant, Some(&key), &body)
                    else {
                        return key;
                    };
                    assert_eq!(status, 201, "{reply}");
                    let id = serde_json::from_str::<serde_json::Value>(&reply).unwrap()["id"]
                        .as_str()
                        .unwrap()
                        .to_string();
                    answered.lock().unwrap().push((key, id.clone()));
                    let accept = post_json(
                        port,
                        &format!("/api/v1/filings/{id}/actions"),
                        &window,
                        None,
                        r#"{"action":"accept"}"#,
                    );
                    if let Some((200, _)) = accept {
                        accepted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                }
                unreachable!()
            })
        })
        .collect();
    wait_for("60 answered submissions", || {
        answered.lock().unwrap().len() >= 60
    });
    let pid = server.id().to_string();
    assert!(Command::new("kill")
        .args(["-KILL", &pid])
        .status()
        .unwrap()
        .success());
    let _ = server.wait();
    let unanswered: Vec<String> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    let answered = answered.lock().unwrap().clone();
    assert!(
        accepted.load(std::sync::atomic::Ordering::SeqCst) > 0,
        "some were accepted before the kill"
    );

    // Started again, with its worker: retries get the same filings.
    let (mut server, port) = serve(&data, &[]);
    for (key, id) in &answered {
        let (status, reply) =
            post_json(port, "/api/v1/filings", &applicant, Some(key), &body).unwrap();
        assert_eq!(status, 201, "{reply}");
        assert!(
            reply.contains(&format!("\"id\":\"{id}\"")),
            "{key}: {reply}"
        );
    }
    // The submissions cut off by the kill: a retry files each once.
    for key in &unanswered {
        let (status, _) = post_json(port, "/api/v1/filings", &applicant, Some(key), &body).unwrap();
        assert_eq!(status, 201);
        let (again, reply) =
            post_json(port, "/api/v1/filings", &applicant, Some(key), &body).unwrap();
        assert_eq!(again, 201, "{reply}");
    }
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(stream, "GET /api/v1/filings HTTP/1.1\r\nHost: l\r\nConnection: close\r\nAuthorization: Bearer {applicant}\r\n\r\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let filings: serde_json::Value =
        serde_json::from_str(answer.split_once("\r\n\r\n").unwrap().1).unwrap();
    let ids: Vec<&str> = filings
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    for (_, id) in &answered {
        assert_eq!(
            ids.iter().filter(|i| *i == id).count(),
            1,
            "{id} exactly once"
        );
    }
    assert_eq!(
        ids.len(),
        answered.len() + unanswered.len(),
        "one filing per key"
    );

    // The acceptance mail queued before the kill goes out after it.
    let mail = data.join("mail");
    wait_for("the queued acceptance mail written", || {
        std::fs::read_dir(&mail).map_or(0, |d| d.count()) > 0
    });
    let _ = server.kill();
    let _ = server.wait();
    // cli_output asserts the exit code: 0 only when the chain verifies.
    let audit = cli_output(&data, &["audit", "verify"], &[]);
    assert!(audit.starts_with("audit chain intact"), "{audit}");
    assert!(sent.load(std::sync::atomic::Ordering::SeqCst) >= answered.len());
}

/// The API is what its description says, checked by a tool no one here
/// wrote: schemathesis (PyPI, pinned in `tests/requirements.txt`) against a
/// running server, every check on (`tests/schemathesis/schemathesis.toml`
/// says where a schema-valid request may still meet a 422, and why), once
/// without a token and once with each kind of account's: the applicant,
/// the window and a reviewing department. Zero failures; the count of
/// cases each run generated is printed.
#[test]
fn the_api_is_what_its_description_says() {
    let data = scratch("web-schemathesis");
    // The first start files the samples; the second in parallel review.
    let (mut server, port) = serve(&data, &["--no-worker"]);
    let filing = format!("SAMPLE-{}-2", common::days::ORDINARY_DAY.strftime("%Y%m%d"));
    let config = root().join("tests/schemathesis/schemathesis.toml");
    let mut failures = Vec::new();
    for visitor in [
        None,
        Some("applicant@sample.onewindow.cn"),
        Some("window@sample.onewindow.cn"),
        Some("health@sample.onewindow.cn"),
    ] {
        let mut run = Command::new("schemathesis");
        run.arg("--config-file")
            .arg(&config)
            .args(["run", "--checks", "all", "--seed", "20261116"])
            .arg(format!("http://127.0.0.1:{port}/api/openapi.json"))
            .env("ONEWINDOW_FILING", &filing)
            .env("NO_COLOR", "1")
            .env_remove("LD_PRELOAD");
        if let Some(email) = visitor {
            let token = cli_output(&data, &["user", "token", "--email", email], &[]);
            run.args(["-H", &format!("Authorization: Bearer {}", token.trim())]);
        }
        let output = run
            .output()
            .expect("schemathesis runs (./run test installs it from tests/requirements.txt)");
        let report = String::from_utf8_lossy(&output.stdout).to_string();
        let cases = report
            .lines()
            .map(str::trim)
            .find(|line| {
                line.starts_with(|c: char| c.is_ascii_digit()) && line.contains(" generated, ")
            })
            .unwrap_or("no case count")
            .trim()
            .to_string();
        println!(
            "schemathesis as {}: {cases}",
            visitor.unwrap_or("a visitor without a token")
        );
        assert!(
            cases.contains(" generated, ") && cases.contains(" passed"),
            "schemathesis ran no cases: {report}"
        );
        if !output.status.success() {
            failures.push(format!(
                "as {visitor:?}:\n{report}\n{}",
                String::from_utf8_lossy(&output.stderr)
            ));
        }
    }
    server.kill().ok();
    server.wait().ok();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Issue 21: operators were blind — no line per request (404, 401 and 422
/// logged nothing), no metrics. Every request now leaves one line (method,
/// route pattern, status, latency, request id; never the path or who asked)
/// and `/metrics` is Prometheus' text format, as `promtool check metrics`
/// (Debian's `prometheus`) reads it.
#[test]
fn every_request_leaves_a_log_line_and_the_figures_are_on_metrics() {
    let data = scratch("web-metrics");
    let log = data.join("serve.log");
    /// The server stops with the test, passed or failed.
    struct Stopped(std::process::Child);
    impl Drop for Stopped {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let (server, port) = serve_logging(&data, &[], std::fs::File::create(&log).unwrap().into());
    let server = Stopped(server);
    for (path, status) in [
        ("/", 200),
        ("/procedures/new_combined", 200),
        ("/no/such/page", 404),
        ("/api/v1/filings", 401),
        ("/api/v1/progress?filing=x", 404),
    ] {
        assert_eq!(http_status(port, path), Some(status), "{path}");
    }
    let (status, answer) = http_get(port, "/metrics").expect("metrics answer");
    assert_eq!(status, 200, "{answer}");
    assert!(answer.to_lowercase().contains("x-request-id:"), "{answer}");
    drop(server);

    let metrics = answer.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    for expected in [
        "onewindow_http_requests_total{method=\"GET\",route=\"/procedures/{id}\",status=\"200\"} 1",
        "onewindow_http_requests_total{method=\"GET\",route=\"/api/v1/filings\",status=\"401\"} 1",
        "onewindow_http_requests_total{method=\"GET\",route=\"(none)\",status=\"404\"} 1",
        "onewindow_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"+Inf\"}",
        "onewindow_commits_total",
        "onewindow_commit_duration_seconds_count",
        "onewindow_outbox_pending{kind=",
        "onewindow_timers_due",
        "onewindow_leases_held{table=\"outbox\"}",
        "process_resident_memory_bytes",
    ] {
        assert!(metrics.contains(expected), "{expected} in\n{metrics}");
    }
    let file = data.join("metrics.txt");
    std::fs::write(&file, metrics).unwrap();
    let checked = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(&file).unwrap())
        .output()
        .expect("promtool (Debian's prometheus; ./run test installs it)");
    assert!(
        checked.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );

    let lines = std::fs::read_to_string(&log).unwrap();
    for (route, status) in [
        ("/procedures/{id}", 200),
        ("(none)", 404),
        ("/api/v1/filings", 401),
        ("/api/v1/progress", 404),
        ("/metrics", 200),
    ] {
        assert!(
            lines
                .lines()
                .any(|line| line.contains(&format!("route={route}"))
                    && line.contains(&format!("status={status}"))
                    && line.contains("request_id=")
                    && line.contains("latency_ms=")),
            "a line for {route} {status} in\n{lines}"
        );
    }
    assert!(
        !lines.contains("no/such/page"),
        "no path is logged: {lines}"
    );
    assert!(!lines.contains("filing=x"), "no query is logged: {lines}");
}
