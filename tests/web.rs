//! The web application over HTTP, in process (tower's `oneshot` on the
//! real router): the public's pages, their headers, and what bad input gets.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::http::{header, Request, StatusCode};
use onewindow::app::{Access, App, Config};
use onewindow::project::Paths;
use tower::ServiceExt as _;

mod common;
use common::{root, scratch};

/// A data directory with decided sample filings and their rendered
/// documents, made by the command line as `./run start` makes it.
fn data_with_documents() -> std::path::PathBuf {
    let data = scratch("web");
    let run = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_onewindow"))
            .args(args)
            .arg("--data")
            .arg(&data)
            .current_dir(root())
            .output()
            .expect("onewindow runs");
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    run(&[
        "load",
        "--workflow",
        "new_combined",
        "--filings",
        "1",
        "--prefix",
        "W-",
    ]);
    run(&["worker", "--once", "--now", "2027-03-01T09:00"]);
    data
}

async fn app(data: &Path) -> Arc<App> {
    let config = Config {
        database: None,
        data: data.to_path_buf(),
        paths: Paths {
            flows: vec![root().join("workflows")],
            templates: root().join("templates"),
        },
        calendars: root().join("calendars"),
        region: "cn".into(),
        base_url: "https://yiyang.example.gov.cn/".into(),
        max_upload: onewindow::app::DEFAULT_MAX_UPLOAD,
        access: Access::ExistingOnly,
    };
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

    // The QR code's page, and the same document by number and code.
    let permit = app
        .store()
        .documents_of("W-000000", "approved")
        .await
        .unwrap()
        .into_iter()
        .find(|d| d.template == "medical_license")
        .expect("the licence");
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
