//! Benchmarks that print figures: `onewindow bench dsl`.
//!
//! Each figure is the median of several runs on this machine; `--json` ends
//! the output with one line holding all of them.

use std::time::{Duration, Instant};

use crate::dsl;

#[cfg(feature = "full")]
pub mod http;
#[cfg(feature = "full")]
pub mod load;

/// How many times each measurement is repeated; the median is reported.
const RUNS: usize = 7;
/// The size of the generated definition.
const GENERATED_BYTES: usize = 1024 * 1024;

/// Checks the given definitions, then a generated definition of 1 MB, and
/// prints the figures.
///
/// # Errors
/// When the shipped definitions do not check, or the generated one does not.
pub fn dsl(input: &dsl::Input, json: bool) -> Result<(), String> {
    let shipped = dsl::load(input);
    if shipped.checked.has_errors() {
        return Err(format!(
            "the definitions do not check:\n{}",
            shipped.render_diagnostics()
        ));
    }
    let shipped_bytes: usize = input.flows.iter().map(|(_, text)| text.len()).sum();
    let shipped_time = median(|| {
        let loaded = dsl::load(input);
        std::hint::black_box(loaded.checked.workflows.len());
    });

    let generated = generate(input, GENERATED_BYTES);
    let generated_bytes: usize = generated.flows.iter().map(|(_, text)| text.len()).sum();
    let check = dsl::load(&generated);
    if check.checked.has_errors() {
        return Err(format!(
            "the generated definition does not check:\n{}",
            check.render_diagnostics()
        ));
    }
    let workflows = check.checked.workflows.len();
    let generated_time = median(|| {
        let loaded = dsl::load(&generated);
        std::hint::black_box(loaded.checked.workflows.len());
    });
    let megabytes = generated_bytes as f64 / (1024.0 * 1024.0);
    let throughput = megabytes / generated_time.as_secs_f64();

    println!(
        "workflows/: {} workflows, {} bytes, checked in {:.3} ms (median of {RUNS})",
        shipped.checked.workflows.len(),
        shipped_bytes,
        ms(shipped_time)
    );
    println!(
        "generated: {workflows} workflows, {generated_bytes} bytes ({megabytes:.2} MB), checked in {:.3} ms (median of {RUNS}), {throughput:.1} MB/s",
        ms(generated_time)
    );
    println!(
        "goal: 1 MB checked in under 50 ms: {}",
        if ms(generated_time) / megabytes < 50.0 {
            "met"
        } else {
            "missed"
        }
    );
    let round_trips = editor_round_trips(input, &shipped)?;
    for trip in &round_trips {
        println!(
            "editor round trip {}: check + notice + diagram {:.2} ms p50, {:.2} ms p99; with Graphviz's SVG {:.2} ms p50, {:.2} ms p99 ({EDITOR_RUNS} runs)",
            trip.workflow, trip.p50_ms, trip.p99_ms, trip.svg_p50_ms, trip.svg_p99_ms
        );
    }
    let slowest = round_trips.iter().map(|t| t.svg_p99_ms).fold(0.0, f64::max);
    println!(
        "goal: diagnostics within 100 ms of a keystroke for the shipped procedures: {} (slowest p99 with the SVG {slowest:.1} ms)",
        if slowest <= 100.0 { "met" } else { "missed" }
    );
    if json {
        let figures = serde_json::json!({
            "bench": "dsl",
            "editor_round_trips": round_trips,
            "shipped_workflows": shipped.checked.workflows.len(),
            "shipped_bytes": shipped_bytes,
            "shipped_check_ms": ms(shipped_time),
            "generated_workflows": workflows,
            "generated_bytes": generated_bytes,
            "generated_check_ms": ms(generated_time),
            "throughput_mb_per_s": throughput,
            "runs": RUNS,
        });
        println!("{figures}");
    }
    Ok(())
}

/// How many times each editor round trip is timed.
const EDITOR_RUNS: usize = 50;

/// The editor's round trip for one shipped procedure.
#[derive(Debug, serde::Serialize)]
pub struct RoundTrip {
    pub workflow: String,
    /// Check of the draft with the other definitions, notice, DOT text.
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// The same and the SVG drawn by Graphviz, as the editor's page shows it.
    pub svg_p50_ms: f64,
    pub svg_p99_ms: f64,
}

/// What the policy staff's editor does on each check, per shipped
/// procedure: check the text in place of its file, then tell and draw it.
fn editor_round_trips(input: &dsl::Input, shipped: &dsl::Loaded) -> Result<Vec<RoundTrip>, String> {
    let mut trips = Vec::new();
    for workflow in &shipped.checked.workflows {
        let id = workflow.id.as_str();
        let Some(text) = dsl::draft::definition_of(input, id) else {
            continue;
        };
        let once = |svg: bool| -> Result<Duration, String> {
            let start = Instant::now();
            let check = dsl::draft::check_draft(input, id, text);
            let workflow = check
                .workflow
                .ok_or_else(|| format!("{id} does not check as a draft"))?;
            std::hint::black_box(dsl::notice::one_time_notice(&workflow));
            let dot = dsl::graph::dot(&workflow);
            if svg {
                crate::project::graphviz_svg(&dot).map_err(|e| e.to_string())?;
            }
            Ok(start.elapsed())
        };
        let mut plain = (0..EDITOR_RUNS)
            .map(|_| once(false))
            .collect::<Result<Vec<_>, _>>()?;
        let mut drawn = (0..EDITOR_RUNS)
            .map(|_| once(true))
            .collect::<Result<Vec<_>, _>>()?;
        plain.sort_unstable();
        drawn.sort_unstable();
        let at = |times: &[Duration], share: f64| {
            ms(times[((times.len() as f64 * share) as usize).min(times.len() - 1)])
        };
        trips.push(RoundTrip {
            workflow: id.to_string(),
            p50_ms: at(&plain, 0.5),
            p99_ms: at(&plain, 0.99),
            svg_p50_ms: at(&drawn, 0.5),
            svg_p99_ms: at(&drawn, 0.99),
        });
    }
    Ok(trips)
}

/// A definition of at least `bytes` bytes: the shipped departments once, and
/// the shipped workflows repeated under new names.
pub fn generate(input: &dsl::Input, bytes: usize) -> dsl::Input {
    let (departments, workflows): (Vec<_>, Vec<_>) = input
        .flows
        .iter()
        .partition(|(_, text)| !text.contains("\nworkflow ") && !text.starts_with("workflow "));
    let mut text = String::with_capacity(bytes + 64 * 1024);
    for (_, department_text) in &departments {
        text.push_str(department_text);
        text.push('\n');
    }
    let mut copy = 0;
    while text.len() < bytes && !workflows.is_empty() {
        for (_, workflow_text) in &workflows {
            let renamed =
                workflow_text.replacen("\nworkflow ", &format!("\nworkflow copy{copy}_"), 1);
            text.push_str(&renamed);
            text.push('\n');
        }
        copy += 1;
    }
    dsl::Input {
        flows: vec![("generated.flow".to_string(), text)],
        templates: input.templates.clone(),
    }
}

fn median(mut run: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            run();
            start.elapsed()
        })
        .collect();
    times.sort_unstable();
    times[RUNS / 2]
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// The procedure `bench engine` runs: three reviews in parallel, then a
/// conditional fourth, then a numbered permit.
#[cfg(feature = "full")]
pub const ENGINE_FLOW: &str = r#"
workflow bench_permit "性能测试：三部门并联审批后编办审批" {
  version 1
  basis "onewindow bench engine"
  legal_limit 45 workdays
  promised_limit 20 workdays
  form {
    name: text "机构名称" required
    public: bool "公立" default true
  }
  materials { application "申请书" required kinds pdf }
  intake by window "综合窗口受理" within 5 workdays
  parallel {
    review by health "卫生健康审批" within 10 workdays
    review by civil "民政审批" within 10 workdays
    review by insurance "医保审批" within 10 workdays
  }
  review by staffing "编办审批" within 5 workdays when public
  jointly health, civil, insurance, staffing basis "性能测试：四部门一并决定的同一事项"
  on accepted issue "受理通知书" template acceptance_notice number "受{year}{dept}{seq:06}"
  on not_accepted issue "不予受理通知书" template refusal_notice
  on correction issue "补正材料通知书" template correction_notice
  on approved issue "准予行政许可决定书" template grant_decision number "准{year}{dept}{seq:06}"
  on rejected issue "不予行政许可决定书" template denial_decision
  notify reviewers on assigned
  notify applicant on accepted, approved, paused
}
"#;

/// Figures of `bench engine`.
#[cfg(feature = "full")]
#[derive(Debug, serde::Serialize)]
pub struct EngineFigures {
    pub backend: String,
    pub filings: usize,
    pub concurrency: usize,
    pub transitions: usize,
    pub seconds: f64,
    pub filings_per_second: f64,
    pub transitions_per_second: f64,
    pub latency_p50_ms: f64,
    pub latency_p99_ms: f64,
    pub commits: u64,
    pub transitions_per_commit: f64,
    pub peak_rss_mb: f64,
}

/// Runs `filings` bench filings end to end against an opened store.
///
/// # Errors
/// A store failure.
#[cfg(feature = "full")]
pub async fn engine(
    store: &crate::store::Store,
    backend: &str,
    filings: usize,
    concurrency: usize,
) -> Result<EngineFigures, String> {
    let answers = crate::engine::Answers {
        applicant: "性能测试申请人".into(),
        email: None,
        form: serde_json::json!({ "name": "性能测试机构", "public": true })
            .as_object()
            .cloned()
            .unwrap_or_default(),
        facts: serde_json::Map::new(),
        materials: vec!["application".into()],
        signatories: std::collections::BTreeMap::new(),
    };
    let (commits_before, _) = store.commit_stats();
    let started = Instant::now();
    let plan = load::LoadPlan {
        workflow: "bench_permit".into(),
        answers,
        prefix: "B".into(),
        filings,
        concurrency,
        start: jiff::civil::date(2026, 3, 2),
        print_acks: false,
    };
    let runs = load::load(store, &plan).await?;
    let seconds = started.elapsed().as_secs_f64();
    let (commits_after, _) = store.commit_stats();
    let mut latencies: Vec<u64> = runs
        .iter()
        .flat_map(|run| run.latencies_us.iter().copied())
        .collect();
    latencies.sort_unstable();
    let percentile = |p: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * p).round() as usize)
            .map_or(0.0, |us| *us as f64 / 1000.0)
    };
    let transitions = latencies.len();
    let commits = commits_after - commits_before;
    Ok(EngineFigures {
        backend: backend.to_string(),
        filings,
        concurrency,
        transitions,
        seconds,
        filings_per_second: filings as f64 / seconds,
        transitions_per_second: transitions as f64 / seconds,
        latency_p50_ms: percentile(0.50),
        latency_p99_ms: percentile(0.99),
        commits,
        transitions_per_commit: transitions as f64 / commits.max(1) as f64,
        peak_rss_mb: peak_rss_mb(),
    })
}

/// Peak resident memory of this process (VmHWM), in MiB.
pub fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmHWM:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Figures of `bench render`.
#[cfg(feature = "full")]
#[derive(Debug, serde::Serialize)]
pub struct RenderFigures {
    pub template: String,
    /// Font scan, library and templates, then the first document.
    pub cold_start_ms: f64,
    pub first_document_ms: f64,
    pub warm_p50_ms: f64,
    pub warm_p99_ms: f64,
    pub documents_per_second_1_thread: f64,
    pub documents_per_second_2_threads: f64,
    pub pdf_bytes: usize,
    pub peak_rss_mb: f64,
}

/// Renders the permit over and over, each with its own number.
///
/// # Errors
/// The renderer cannot start or a document fails.
#[cfg(feature = "full")]
pub fn render(templates: &std::path::Path, documents: usize) -> Result<RenderFigures, String> {
    use crate::documents::{Meta, Renderer};
    let template = "medical_license";
    let sample_path = templates.join("samples").join(format!("{template}.json"));
    let sample: serde_json::Map<String, serde_json::Value> = serde_json::from_str(
        &std::fs::read_to_string(&sample_path)
            .map_err(|e| format!("{}: {e}", sample_path.display()))?,
    )
    .map_err(|e| e.to_string())?;
    let document = |index: usize| {
        let mut data = sample.clone();
        let number = format!("医养2026卫{index:05}");
        data.insert("number".into(), number.clone().into());
        let meta = Meta {
            ident: number,
            date: jiff::civil::date(2026, 11, 23),
        };
        (data, meta)
    };
    let started = Instant::now();
    let renderer = Renderer::new(templates).map_err(|e| e.to_string())?;
    let (data, meta) = document(0);
    let first_started = Instant::now();
    let pdf = renderer
        .render(template, &data, &meta)
        .map_err(|e| e.to_string())?;
    let first_document_ms = ms(first_started.elapsed());
    let cold_start_ms = ms(started.elapsed());
    let mut latencies = Vec::with_capacity(documents);
    for index in 1..=documents {
        let (data, meta) = document(index);
        let one = Instant::now();
        renderer
            .render(template, &data, &meta)
            .map_err(|e| e.to_string())?;
        latencies.push(one.elapsed());
    }
    latencies.sort_unstable();
    let percentile = |p: f64| ms(latencies[((latencies.len() as f64 - 1.0) * p).round() as usize]);
    let one_thread = Instant::now();
    for index in 0..documents {
        let (data, meta) = document(documents + index);
        renderer
            .render(template, &data, &meta)
            .map_err(|e| e.to_string())?;
    }
    let documents_per_second_1_thread = documents as f64 / one_thread.elapsed().as_secs_f64();
    let two_threads = Instant::now();
    let renderer = &renderer;
    let results: Vec<Result<(), String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..2)
            .map(|thread| {
                let document = &document;
                scope.spawn(move || {
                    for index in (thread..documents).step_by(2) {
                        let (data, meta) = document(2 * documents + index);
                        renderer
                            .render(template, &data, &meta)
                            .map_err(|e| e.to_string())?;
                    }
                    Ok(())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("a thread panicked".into())))
            .collect()
    });
    results.into_iter().collect::<Result<Vec<()>, String>>()?;
    let documents_per_second_2_threads = documents as f64 / two_threads.elapsed().as_secs_f64();
    Ok(RenderFigures {
        template: template.into(),
        cold_start_ms,
        first_document_ms,
        warm_p50_ms: percentile(0.5),
        warm_p99_ms: percentile(0.99),
        documents_per_second_1_thread,
        documents_per_second_2_threads,
        pdf_bytes: pdf.len(),
        peak_rss_mb: peak_rss_mb(),
    })
}

/// A store in a scratch folder for a bench, with the national calendar.
///
/// # Errors
/// The calendar or the store failing to open.
#[cfg(feature = "full")]
pub async fn scratch_store(
    url: &str,
    workflows: Vec<crate::dsl::Workflow>,
    scratch: &std::path::Path,
) -> Result<crate::store::Store, String> {
    crate::store::Store::open(crate::store::Options {
        url: url.to_string(),
        workflows,
        calendar: crate::calendar::Calendar::load(std::path::Path::new("calendars"), "cn")
            .map_err(|e| e.to_string())?,
        blob_dir: scratch.join("blobs"),
        max_upload: 1024,
    })
    .await
    .map_err(|e| e.to_string())
}

/// Figures of `bench mail`.
#[cfg(feature = "full")]
#[derive(Debug, serde::Serialize)]
pub struct MailFigures {
    pub messages: usize,
    pub received: usize,
    pub drain_seconds: f64,
    pub messages_per_second: f64,
    pub peak_rss_mb: f64,
}

/// A minimal SMTP responder on loopback that accepts and counts messages:
/// the bench measures our side, not a mail server's.
#[cfg(feature = "full")]
async fn smtp_counter() -> std::io::Result<(u16, std::sync::Arc<std::sync::atomic::AtomicUsize>)> {
    use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let received = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = received.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let count = count.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                if write.write_all(b"220 counter ESMTP\r\n").await.is_err() {
                    return;
                }
                let mut in_data = false;
                while let Ok(Some(line)) = lines.next_line().await {
                    let reply: &[u8] = if in_data {
                        if line != "." {
                            continue;
                        }
                        in_data = false;
                        count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        b"250 queued\r\n"
                    } else {
                        let verb = line
                            .split_whitespace()
                            .next()
                            .unwrap_or_default()
                            .to_ascii_uppercase();
                        match verb.as_str() {
                            "EHLO" | "HELO" => b"250 counter\r\n",
                            "DATA" => {
                                in_data = true;
                                b"354 go ahead\r\n"
                            }
                            "QUIT" => {
                                let _ = write.write_all(b"221 bye\r\n").await;
                                return;
                            }
                            _ => b"250 OK\r\n",
                        }
                    };
                    if write.write_all(reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    Ok((port, received))
}

/// Queues `messages` notifications of one filing and drains them to a
/// local SMTP server with pooled connections.
///
/// # Errors
/// The store, the mailer or the local server failing.
#[cfg(feature = "full")]
pub async fn mail(
    templates: &std::path::Path,
    workflows: Vec<crate::dsl::Workflow>,
    messages: usize,
) -> Result<MailFigures, String> {
    use crate::engine::{Actor, Command};
    use crate::store::outbox::{Job, Notice};
    use crate::store::Request;
    let scratch = std::env::temp_dir().join(format!("onewindow-bench-mail-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).map_err(|e| e.to_string())?;
    let url = format!("sqlite://{}?mode=rwc", scratch.join("bench.db").display());
    let store = scratch_store(&url, workflows, &scratch).await?;
    let workflow = store
        .workflow("new_combined")
        .ok_or("no workflow new_combined")?;
    let mut answers =
        crate::project::read_answers(std::path::Path::new("workflows/samples/new_combined.json"))?;
    answers.email = Some("applicant@example.cn".into());
    let submission = answers
        .submission(&workflow)
        .map_err(|problems| crate::engine::Problem::list(&problems))?;
    let now = jiff::civil::date(2026, 9, 14).at(9, 0, 0, 0);
    let mut request = Request::new("M-1", Actor::Applicant, Command::Submit { submission }, now);
    request.workflow = Some("new_combined".into());
    store.apply(request).await.map_err(|e| e.to_string())?;
    // The backlog: notifications of the health step to its two reviewers.
    let job = Job::Notify(Notice {
        recipients: vec![crate::dsl::ir::Recipient::Reviewers],
        event: crate::dsl::ir::NotifyEvent::Assigned,
        step: Some(0),
        department: Some("health".into()),
        told: crate::engine::Told::default(),
    });
    store
        .enqueue("M-1", &vec![job; messages], now)
        .await
        .map_err(|e| e.to_string())?;
    let (port, received) = smtp_counter().await.map_err(|e| e.to_string())?;
    let mailer = crate::notify::Mailer::new(
        Some(&format!("smtp://127.0.0.1:{port}")),
        scratch.join("mail"),
        "一窗受理平台 <noreply@onewindow.example.cn>",
        &templates.join("mail"),
        crate::links::Links::new("http://localhost:8080"),
    )
    .await?;
    let started = Instant::now();
    let run = crate::notify::deliver(&store, &mailer, "bench", now).await?;
    let drain_seconds = started.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(MailFigures {
        messages: run.sent,
        received: received.load(std::sync::atomic::Ordering::Relaxed),
        drain_seconds,
        messages_per_second: run.sent as f64 / drain_seconds,
        peak_rss_mb: peak_rss_mb(),
    })
}

/// Figures of `bench queue`.
#[cfg(feature = "full")]
#[derive(Debug, serde::Serialize)]
pub struct QueueFigures {
    pub filings: usize,
    pub open_steps: i64,
    pub load_seconds: f64,
    pub page: i64,
    pub queries: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// Fills a scratch SQLite store with `filings` new-combined filings in
/// review (each submitted and accepted on a day of 2026, so due dates
/// spread), then times a department's first page of 50 by due date.
///
/// # Errors
/// Definitions with errors, or a store failure.
#[cfg(feature = "full")]
pub async fn queue(
    input: &dsl::Input,
    filings: usize,
    queries: usize,
) -> Result<QueueFigures, String> {
    use crate::engine::{Actor, Command};
    use crate::store::read::{QueueFilter, QueuePage};
    use crate::store::Request;
    let loaded = dsl::load(input);
    if loaded.checked.has_errors() {
        return Err(loaded.render_diagnostics());
    }
    let scratch =
        std::env::temp_dir().join(format!("onewindow-bench-queue-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).map_err(|e| e.to_string())?;
    let url = format!("sqlite://{}?mode=rwc", scratch.join("bench.db").display());
    let store = scratch_store(&url, loaded.checked.workflows.clone(), &scratch).await?;
    let workflow = store
        .workflow("new_combined")
        .ok_or("no workflow new_combined")?;
    let answers = crate::project::read_answers(&crate::project::sample_path(
        &crate::project::Paths::default(),
        "new_combined",
    ))?;
    let submission = answers
        .submission(&workflow)
        .map_err(|problems| crate::engine::Problem::list(&problems))?;
    // Working days of 2026 up to October, so every due date stays in 2026.
    let first = jiff::civil::date(2026, 1, 5);
    let days: Vec<jiff::civil::Date> = (0..280)
        .filter_map(|n| first.checked_add(jiff::Span::new().days(n)).ok())
        .filter(|day| store.calendar().is_workday(*day).unwrap_or(false))
        .collect();
    let started = Instant::now();
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..256 {
        let (store, submission, next, days) = (
            store.clone(),
            submission.clone(),
            next.clone(),
            days.clone(),
        );
        tasks.spawn(async move {
            loop {
                let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if index >= filings {
                    return Ok::<_, String>(());
                }
                let day = days[index % days.len()];
                let now = day.at(9, 0, 0, 0);
                let id = format!("Q{index:07}");
                let mut submit = Request::new(
                    id.clone(),
                    Actor::Applicant,
                    Command::Submit {
                        submission: submission.clone(),
                    },
                    now,
                );
                submit.workflow = Some("new_combined".into());
                store.apply(submit).await.map_err(|e| e.to_string())?;
                let window = Actor::Window {
                    department: "window".into(),
                };
                store
                    .apply(Request::new(id, window, Command::Accept, now))
                    .await
                    .map_err(|e| e.to_string())?;
            }
        });
    }
    while let Some(result) = tasks.join_next().await {
        result.map_err(|e| e.to_string())??;
    }
    let load_seconds = started.elapsed().as_secs_f64();
    let open_steps = store
        .count("active_steps")
        .await
        .map_err(|e| e.to_string())?;
    let mut latencies = Vec::with_capacity(queries);
    for query in 0..queries {
        let page = QueuePage {
            department: if query % 2 == 0 { "health" } else { "civil" }.into(),
            filter: QueueFilter::All,
            today: days[query % days.len()],
            limit: 50,
            offset: 0,
        };
        let started = Instant::now();
        let rows = store.queue(&page).await.map_err(|e| e.to_string())?;
        latencies.push(started.elapsed());
        if rows.len() != 50 {
            return Err(format!("a page of {} rows, not 50", rows.len()));
        }
    }
    latencies.sort_unstable();
    let percentile = |p: f64| {
        latencies[((latencies.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1000.0
    };
    let figures = QueueFigures {
        filings,
        open_steps,
        load_seconds,
        page: 50,
        queries,
        p50_ms: percentile(0.5),
        p99_ms: percentile(0.99),
    };
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(figures)
}

#[cfg(all(test, feature = "full"))]
mod tests {
    use crate::project::{self, Paths};

    /// `bench engine` runs on this definition beside the shipped ones: it
    /// must pass the checker as they do.
    #[test]
    fn the_engine_bench_definition_checks_clean() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let paths = Paths {
            flows: vec![root.join("workflows")],
            templates: root.join("templates"),
        };
        let mut input = project::read(&paths).expect("the definitions");
        input
            .flows
            .push(("bench_permit.flow".into(), super::ENGINE_FLOW.into()));
        let loaded = crate::dsl::load(&input);
        assert!(
            !loaded.checked.has_errors(),
            "{}",
            loaded.render_diagnostics()
        );
    }
}
