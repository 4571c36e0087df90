//! The store-facing commands: open the store from the definitions on disk,
//! verify the audit chain, run the timer worker, and generate load (which
//! the crash test and the sample data use).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use jiff::civil::{Date, DateTime, Time};

use crate::calendar::Calendar;
use crate::dsl::ir::StepKind;
use crate::dsl::Workflow;
use crate::engine::simulate::Answers;
use crate::engine::{self, clock, Actor, Command, Status, Submission, Upload};
use crate::project::{self, Paths};
use crate::store::{Options, Request, Store, StoreError};

/// Where the store and its definitions are.
#[derive(Debug, Clone)]
pub struct Setup {
    pub database: String,
    pub paths: Paths,
    pub calendars: PathBuf,
    pub region: String,
    pub blob_dir: PathBuf,
    pub max_upload: u64,
}

impl Setup {
    /// The default database: a SQLite file in the data directory.
    pub fn default_database(data_dir: &std::path::Path) -> String {
        format!(
            "sqlite://{}?mode=rwc",
            data_dir.join("onewindow.db").display()
        )
    }

    /// Loads definitions and calendar and opens the store.
    ///
    /// # Errors
    /// Definitions with errors, an unreadable calendar, or a store that cannot open.
    pub async fn open(&self) -> Result<Store, String> {
        let loaded = project::load(&self.paths).map_err(|e| e.to_string())?;
        if loaded.checked.has_errors() {
            return Err(format!(
                "the definitions have errors:\n{}",
                loaded.render_diagnostics()
            ));
        }
        let calendar = Calendar::load(&self.calendars, &self.region).map_err(|e| e.to_string())?;
        if let Some(parent) = self.database.strip_prefix("sqlite://").and_then(|rest| {
            let path = rest.split('?').next().unwrap_or(rest);
            std::path::Path::new(path).parent().map(|p| p.to_path_buf())
        }) {
            std::fs::create_dir_all(&parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        Store::open(Options {
            url: self.database.clone(),
            workflows: loaded.checked.workflows,
            calendar,
            blob_dir: self.blob_dir.clone(),
            max_upload: self.max_upload,
        })
        .await
        .map_err(|e| e.to_string())
    }
}

/// `audit verify`: prints the result; true when intact.
///
/// # Errors
/// When the store cannot be read.
pub async fn verify_audit(store: &Store) -> Result<bool, String> {
    let verification = store.verify_audit().await.map_err(|e| e.to_string())?;
    if verification.is_intact() {
        println!("audit chain intact: {} entries", verification.entries);
    } else {
        for problem in &verification.problems {
            println!("audit chain broken: {problem}");
        }
    }
    Ok(verification.is_intact())
}

/// The worker: claims `batch` due timers at a time and fires them, renders
/// the documents waiting in the outbox and delivers its mail; with `once` it stops when no
/// timer is due, else it looks again every five seconds. Prints its totals.
///
/// # Errors
/// A database failure.
/// How a worker runs.
#[derive(Debug, Clone)]
pub struct WorkerPlan {
    /// Recorded on what it claims.
    pub name: String,
    /// The time to act at; the wall clock in China when `None`.
    pub now: Option<DateTime>,
    /// One pass, then stop.
    pub once: bool,
    /// Timers claimed at a time.
    pub batch: i64,
    /// Where the public verification page is (documents' QR codes).
    pub base_url: String,
}

pub async fn worker(
    store: &Store,
    renderer: &crate::documents::Renderer,
    mailer: &crate::notify::Mailer,
    plan: &WorkerPlan,
) -> Result<(), String> {
    let WorkerPlan {
        name,
        now,
        once,
        batch,
        base_url,
    } = plan;
    let (name, now, once, batch, base_url) =
        (name.as_str(), *now, *once, *batch, base_url.as_str());
    let mut total = crate::store::TimerRun::default();
    let mut rendered = RenderRun::default();
    let mut mail = crate::notify::DeliveryRun::default();
    loop {
        let now = now.unwrap_or_else(local_now);
        let run = store
            .fire_due_timers(name, now, batch)
            .await
            .map_err(|e| e.to_string())?;
        total.claimed += run.claimed;
        total.fired += run.fired;
        total.no_longer_due += run.no_longer_due;
        total.already_fired += run.already_fired;
        let documents = render_documents(store, renderer, name, now, base_url).await?;
        rendered.rendered += documents.rendered;
        rendered.failed += documents.failed;
        let delivered = crate::notify::deliver(store, mailer, name, now).await?;
        mail.sent += delivered.sent;
        mail.retried += delivered.retried;
        mail.failed += delivered.failed;
        if run.claimed == 0 {
            println!(
                "{name}: claimed {} timers, fired {}, no longer due {}, already fired {}; rendered {} documents, {} failed; \
                 mailed {}, {} to retry, {} failed",
                total.claimed,
                total.fired,
                total.no_longer_due,
                total.already_fired,
                rendered.rendered,
                rendered.failed,
                mail.sent,
                mail.retried,
                mail.failed
            );
            if once {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_secs(5)).await;
        }
    }
}

/// The wall clock in China, for the worker when no `--now` is given.
pub fn local_now() -> DateTime {
    let zone = jiff::tz::TimeZone::get("Asia/Shanghai")
        .unwrap_or(jiff::tz::TimeZone::fixed(jiff::tz::offset(8)));
    jiff::Timestamp::now().to_zoned(zone).datetime()
}

/// A sample filing with every listed material uploaded (as placeholders).
pub fn sample_submission(workflow: &Workflow, answers: &Answers) -> Result<Submission, String> {
    let uploads = answers
        .materials
        .iter()
        .map(|id| {
            let upload = Upload {
                name: format!("{id}.pdf"),
                kind: "pdf".into(),
                sha256: "0".repeat(64),
                size: 1,
            };
            (id.clone(), upload)
        })
        .collect();
    engine::validate(
        workflow,
        &answers.applicant,
        &answers.form,
        &answers.facts,
        uploads,
    )
    .map(|submission| Submission {
        email: answers.email.clone(),
        ..submission
    })
    .map_err(|problems| {
        let messages: Vec<String> = problems.into_iter().map(|p| p.message).collect();
        messages.join("；")
    })
}

/// What a filing run did: transitions applied and their latencies.
#[derive(Debug, Default, Clone)]
pub struct Run {
    pub transitions: usize,
    pub latencies_us: Vec<u64>,
}

/// Drives one filing from submission to decision: the window accepts, each
/// active step is decided on its due date (signing by every party), as
/// `simulate` does, but durably. `ack` is called after each commit.
///
/// # Errors
/// A refused command or a store failure.
pub async fn drive_filing(
    store: &Store,
    workflow: &Arc<Workflow>,
    submission: Submission,
    id: &str,
    start: Date,
    ack: &(dyn Fn(&str, i64) + Sync),
) -> Result<Run, StoreError> {
    let at = |date: Date| DateTime::from_parts(date, Time::constant(9, 0, 0, 0));
    let mut run = Run::default();
    let send = |request: Request| {
        let started = Instant::now();
        async move {
            let applied = store.apply(request).await?;
            Ok::<_, StoreError>((applied, started.elapsed().as_micros() as u64))
        }
    };
    let mut request = Request::new(
        id,
        Actor::Applicant,
        Command::Submit { submission },
        at(start),
    );
    request.workflow = Some(workflow.id.clone());
    request.key = Some(format!("{id}:submit"));
    let (applied, latency) = send(request).await?;
    ack(id, applied.revision);
    run.latencies_us.push(latency);
    let window = Actor::Window {
        department: workflow.intake.department.clone(),
    };
    let mut request = Request::new(id, window, Command::Accept, at(start));
    request.key = Some(format!("{id}:accept"));
    let (mut applied, latency) = send(request).await?;
    ack(id, applied.revision);
    run.latencies_us.push(latency);
    let calendar = store.calendar();
    while applied.filing.status == Status::InReview {
        let mut next: Option<(Date, usize)> = None;
        for index in 0..workflow.steps.len() {
            if let Some(due) = clock::step_due(workflow, &applied.filing, calendar, index)
                .map_err(|e| StoreError::Rejected(e.into()))?
            {
                if next.is_none_or(|(best, _)| due < best) {
                    next = Some((due, index));
                }
            }
        }
        let Some((due, step)) = next else { break };
        let definition = &workflow.steps[step];
        let commands: Vec<(Actor, Command)> = match definition.kind {
            StepKind::Review => vec![(
                reviewer(definition.department.as_deref()),
                Command::Approve { step },
            )],
            StepKind::Filing => vec![(
                reviewer(definition.department.as_deref()),
                Command::File { step },
            )],
            StepKind::Signing => definition
                .parties
                .iter()
                .map(|party| {
                    (
                        Actor::Party {
                            party: party.clone(),
                        },
                        Command::Sign { step },
                    )
                })
                .collect(),
        };
        for (number, (actor, command)) in commands.into_iter().enumerate() {
            let mut request = Request::new(id, actor, command, at(due));
            request.key = Some(format!("{id}:{step}:{number}"));
            let (result, latency) = send(request).await?;
            ack(id, result.revision);
            run.latencies_us.push(latency);
            applied = result;
        }
    }
    run.transitions = run.latencies_us.len();
    Ok(run)
}

fn reviewer(department: Option<&str>) -> Actor {
    Actor::Reviewer {
        department: department.unwrap_or_default().to_string(),
    }
}

/// What `load` drives: `filings` sample filings of a workflow, `concurrency`
/// of them at once, with ids `PREFIX000000`, …
#[derive(Debug, Clone)]
pub struct LoadPlan {
    pub workflow: String,
    pub answers: Answers,
    pub prefix: String,
    pub filings: usize,
    pub concurrency: usize,
    pub start: Date,
    /// Print `ack FILING REVISION` after each durable commit.
    pub print_acks: bool,
}

/// Runs a [`LoadPlan`].
///
/// # Errors
/// A missing workflow, an invalid sample, or a store failure.
pub async fn load(store: &Store, plan: &LoadPlan) -> Result<Vec<Run>, String> {
    let LoadPlan {
        workflow,
        answers,
        prefix,
        filings,
        concurrency,
        start,
        print_acks,
    } = plan.clone();
    let workflow = store
        .workflow(&workflow)
        .ok_or_else(|| format!("unknown workflow `{workflow}`"))?;
    let submission = sample_submission(&workflow, &answers)?;
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let (store, workflow, submission, next) = (
            store.clone(),
            workflow.clone(),
            submission.clone(),
            next.clone(),
        );
        let prefix = prefix.to_string();
        tasks.spawn(async move {
            let mut runs = Vec::new();
            loop {
                let index = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if index >= filings {
                    return Ok::<_, String>(runs);
                }
                let id = format!("{prefix}{index:06}");
                let ack = |filing: &str, revision: i64| {
                    if print_acks {
                        use std::io::Write as _;
                        let mut out = std::io::stdout().lock();
                        let _ = writeln!(out, "ack {filing} {revision}");
                        let _ = out.flush();
                    }
                };
                let run = drive_filing(&store, &workflow, submission.clone(), &id, start, &ack)
                    .await
                    .map_err(|e| format!("{id}: {e}"))?;
                runs.push(run);
            }
        });
    }
    let mut runs = Vec::new();
    while let Some(result) = tasks.join_next().await {
        runs.extend(result.map_err(|e| e.to_string())??);
    }
    Ok(runs)
}

/// What one pass of the render worker did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RenderRun {
    pub rendered: usize,
    pub failed: usize,
}

/// Renders the documents the outbox holds: each PDF is stored by its
/// SHA-256 and the document row records the hash. A document that cannot be
/// rendered is marked failed with its reason, for staff to see.
///
/// # Errors
/// A store failure.
pub async fn render_documents(
    store: &Store,
    renderer: &crate::documents::Renderer,
    worker: &str,
    now: DateTime,
    base_url: &str,
) -> Result<RenderRun, String> {
    let mut run = RenderRun::default();
    loop {
        let rows = store
            .claim_outbox(crate::store::outbox::Kind::Render, worker, now, 300, 50)
            .await
            .map_err(|e| e.to_string())?;
        if rows.is_empty() {
            return Ok(run);
        }
        for row in rows {
            match render_one(store, renderer, &row, base_url).await {
                Ok(()) => {
                    store
                        .complete_outbox(worker, row.id, now)
                        .await
                        .map_err(|e| e.to_string())?;
                    run.rendered += 1;
                }
                Err(reason) => {
                    store
                        .fail_outbox(row.id, &reason, now)
                        .await
                        .map_err(|e| e.to_string())?;
                    run.failed += 1;
                }
            }
        }
    }
}

async fn render_one(
    store: &Store,
    renderer: &crate::documents::Renderer,
    row: &crate::store::OutboxRow,
    base_url: &str,
) -> Result<(), String> {
    let crate::store::outbox::Job::Render { verify_code: code } = &row.job else {
        return Err("not a render job".into());
    };
    let record = store
        .document(code)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("no such document")?;
    let (filing, _) = store
        .filing(&record.filing)
        .await
        .map_err(|e| e.to_string())?;
    let workflow = store
        .workflow_version(&filing.workflow, filing.version)
        .ok_or("the filing's workflow version is unknown")?;
    let outcome = workflow
        .outcomes
        .get(usize::try_from(record.outcome).unwrap_or(usize::MAX))
        .ok_or("no such outcome")?;
    let issued_on: Date = record.issued_on.parse().map_err(|_| "bad issue date")?;
    let due_on = clock::overall_due(&workflow, &filing, store.calendar(), clock::Limit::Promised)
        .ok()
        .flatten();
    let facts = crate::documents::DocumentFacts {
        number: record.number.as_deref(),
        verify_code: &record.verify_code,
        verify_url: crate::links::Links::new(base_url).verify(&record.verify_code),
        issued_on,
        due_on,
    };
    let data = crate::documents::document_data(&workflow, &filing, outcome, &facts);
    let meta = crate::documents::Meta {
        ident: record
            .number
            .clone()
            .unwrap_or_else(|| record.verify_code.clone()),
        date: issued_on,
    };
    let pdf = renderer
        .render(&record.template, &data, &meta)
        .map_err(|e| e.to_string())?;
    let stored = store.blobs.put("pdf", &pdf).map_err(|e| e.to_string())?;
    store
        .record_pdf(&record.verify_code, &stored.sha256)
        .await
        .map_err(|e| e.to_string())
}
