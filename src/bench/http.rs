//! `bench http`: the web application measured from outside, over loopback.
//!
//! The server is the real router on a scratch SQLite store (durable: WAL,
//! `synchronous=FULL`), the worker not running. Submissions go through the
//! JSON API from `connections` keep-alive connections at once, each with
//! its own idempotency key; then a reviewer's inbox page is asked for
//! again and again with 1,000 open steps in the department.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;

use crate::app::accounts::{NewAccount, Role};
use crate::app::{Access, Action, App, Config};
use crate::engine::{Actor, Command};
use crate::project::Paths;

/// What `bench http` measured.
#[derive(Debug, Clone, Serialize)]
pub struct HttpFigures {
    pub submissions: usize,
    pub connections: usize,
    pub seconds: f64,
    pub submissions_per_second: f64,
    pub submit_p50_ms: f64,
    pub submit_p99_ms: f64,
    pub inbox_open_steps: usize,
    pub inbox_requests: usize,
    pub inbox_p50_ms: f64,
    pub inbox_p99_ms: f64,
}

/// One HTTP/1.1 exchange on a kept-alive connection: the status and body.
async fn exchange(
    stream: &mut BufReader<TcpStream>,
    request: &[u8],
) -> std::io::Result<(u16, Vec<u8>)> {
    stream.get_mut().write_all(request).await?;
    let mut line = String::new();
    stream.read_line(&mut line).await?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("a bad status line: {line:?}")))?;
    let mut length = 0usize;
    loop {
        line.clear();
        stream.read_line(&mut line).await?;
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; length];
    stream.read_exact(&mut body).await?;
    Ok((status, body))
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1000.0
}

/// Runs the benchmark in a scratch data directory.
///
/// # Errors
/// The product cannot open, an account cannot be made, a request fails or
/// answers other than expected.
pub async fn http(
    paths: Paths,
    submissions: usize,
    connections: usize,
) -> Result<HttpFigures, String> {
    let scratch = std::env::temp_dir().join(format!("onewindow-bench-http-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    let result = run(&scratch, paths, submissions, connections).await;
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

async fn run(
    scratch: &std::path::Path,
    paths: Paths,
    submissions: usize,
    connections: usize,
) -> Result<HttpFigures, String> {
    let config = Config {
        database: None,
        data: scratch.to_path_buf(),
        paths,
        calendars: "calendars".into(),
        region: "cn".into(),
        base_url: "http://localhost".into(),
        max_upload: crate::app::DEFAULT_MAX_UPLOAD,
        access: Access::CreateIfMissing,
        clock: crate::app::Clock::system(),
    };
    let app = Arc::new(App::open(config).await.map_err(|e| e.to_string())?);
    let now = app.now();
    for (email, role, department) in [
        ("bench@applicant.cn", Role::Applicant, None),
        ("bench@health.cn", Role::Reviewer, Some("health")),
    ] {
        let account = NewAccount {
            email: email.into(),
            name: "压测".into(),
            role,
            department: department.map(str::to_string),
            password: "bench-password-1".into(),
        };
        app.add_account(account, "bench", now)
            .await
            .map_err(|e| e.to_string())?;
    }
    let token = app
        .issue_api_token("bench@applicant.cn", "bench", now)
        .await
        .map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let served = app.clone();
    tokio::spawn(async move {
        let _ = crate::web::serve_on(served, listener).await;
    });

    let answers = crate::project::read_answers(&crate::project::sample_path(
        &app.config().paths,
        "new_combined",
    ))?;
    // Every material refers to one stored file, as an integrator that
    // uploaded first would send it.
    let pdf = crate::app::samples::sample_pdf("bench material");
    let upload = app
        .store()
        .store_upload("bench@applicant.cn", "material.pdf", "pdf", &pdf, now)
        .await
        .map_err(|e| e.to_string())?;
    let materials: serde_json::Map<String, serde_json::Value> = answers
        .materials
        .iter()
        .map(|m| {
            let reference =
                serde_json::json!({"sha256": upload.sha256, "name": format!("{m}.pdf")});
            (m.clone(), reference)
        })
        .collect();
    let body = serde_json::json!({
        "workflow": "new_combined",
        "applicant": answers.applicant,
        "form": answers.form,
        "materials": materials,
    })
    .to_string();
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..connections.max(1) {
        let (next, body, token) = (next.clone(), body.clone(), token.clone());
        tasks.spawn(async move {
            let stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
            stream.set_nodelay(true).map_err(|e| e.to_string())?;
            let mut stream = BufReader::new(stream);
            let mut latencies = Vec::new();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= submissions {
                    return Ok::<_, String>(latencies);
                }
                let request = format!(
                    "POST /api/v1/filings HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n\
                     Idempotency-Key: bench-{index}\r\nContent-Type: application/json\r\n\
                     Content-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                let sent = Instant::now();
                let (status, answer) = exchange(&mut stream, request.as_bytes())
                    .await
                    .map_err(|e| e.to_string())?;
                latencies.push(sent.elapsed());
                if status != 201 {
                    return Err(format!(
                        "submission {index}: {status} {}",
                        String::from_utf8_lossy(&answer)
                    ));
                }
            }
        });
    }
    let mut latencies = Vec::with_capacity(submissions);
    while let Some(result) = tasks.join_next().await {
        latencies.extend(result.map_err(|e| e.to_string())??);
    }
    let seconds = started.elapsed().as_secs_f64();
    latencies.sort_unstable();

    let (open_steps, inbox) = inbox(&app, addr, submissions.min(1000)).await?;
    Ok(HttpFigures {
        submissions,
        connections,
        seconds,
        submissions_per_second: submissions as f64 / seconds,
        submit_p50_ms: percentile(&latencies, 0.5),
        submit_p99_ms: percentile(&latencies, 0.99),
        inbox_open_steps: open_steps,
        inbox_requests: inbox.len(),
        inbox_p50_ms: percentile(&inbox, 0.5),
        inbox_p99_ms: percentile(&inbox, 0.99),
    })
}

/// Accepts `open` of the filings (each opens a health step), signs the
/// reviewer in, and times their inbox page.
async fn inbox(
    app: &Arc<App>,
    addr: std::net::SocketAddr,
    open: usize,
) -> Result<(usize, Vec<Duration>), String> {
    let now = app.now();
    let filings = app
        .filings_of("bench@applicant.cn")
        .await
        .map_err(|e| e.to_string())?;
    let mut tasks = tokio::task::JoinSet::new();
    for filing in filings.into_iter().take(open) {
        let app = app.clone();
        tasks.spawn(async move {
            app.act(Action {
                filing: filing.id,
                actor: Actor::Window {
                    department: "window".into(),
                },
                command: Command::Accept,
                expected_revision: None,
                key: None,
                account: Some("bench".into()),
                now,
            })
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
        });
    }
    while let Some(result) = tasks.join_next().await {
        result.map_err(|e| e.to_string())??;
    }
    let (_, session) = app
        .sign_in("bench@health.cn", "bench-password-1", now)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the reviewer could not sign in")?;
    let stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let mut stream = BufReader::new(stream);
    let request = format!(
        "GET /inbox HTTP/1.1\r\nHost: bench\r\nCookie: ow_session={}\r\n\r\n",
        session.0
    );
    let mut latencies = Vec::new();
    let mut rows = 0;
    for round in 0..220 {
        let sent = Instant::now();
        let (status, body) = exchange(&mut stream, request.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let elapsed = sent.elapsed();
        if status != 200 {
            return Err(format!("the inbox answered {status}"));
        }
        // The first rounds warm the caches; they are not counted.
        if round >= 20 {
            latencies.push(elapsed);
        }
        rows = String::from_utf8_lossy(&body)
            .matches("<tr class=\"level-")
            .count();
    }
    if rows == 0 {
        return Err("the inbox listed nothing".into());
    }
    latencies.sort_unstable();
    Ok((open, latencies))
}
