//! The worker: what happens after commit. Each pass fires the timers that
//! are due (deemed acceptance, warnings, overdue), renders the documents
//! the outbox holds, and delivers the mail; run once, or until stopped.
//! Each pass acts at the app's [`Clock`](super::Clock)'s time.
//!
//! Every drain goes through the store's one claim loop
//! ([`Store::outbox_claims`](crate::store::Store::outbox_claims)), so rows
//! are leased, and a row another worker holds is never done twice.

use std::path::PathBuf;
use std::time::Duration;

use jiff::civil::{Date, DateTime};

use super::{App, AppError};
use crate::documents::{DocumentFacts, Meta, Renderer};
use crate::engine::clock;
use crate::notify::{DeliveryRun, Mailer};
use crate::store::outbox::{Job, Kind};
use crate::store::{Claim, OutboxRow, Store, TimerRun};

/// How the mail goes out.
#[derive(Debug, Clone)]
pub struct MailConfig {
    /// `smtp://host:port` and its variants; `.eml` files in `eml_dir` when `None`.
    pub smtp: Option<String>,
    pub eml_dir: PathBuf,
    pub from: String,
    /// `templates/mail`.
    pub templates: PathBuf,
}

/// How a worker runs.
#[derive(Debug, Clone)]
pub struct WorkerPlan {
    /// Recorded on what it claims.
    pub name: String,
    /// One pass, then stop.
    pub once: bool,
    /// Timers claimed at a time.
    pub batch: i64,
}

/// What passes did, added up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkerTotals {
    pub timers: TimerRun,
    pub rendered: RenderRun,
    pub mail: DeliveryRun,
}

/// What one pass of the render worker did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RenderRun {
    pub rendered: usize,
    pub failed: usize,
}

/// The renderer and the mailer a worker needs, loaded once.
pub struct Worker {
    renderer: Renderer,
    mailer: Mailer,
}

/// How long a continuous worker waits when nothing was due.
const IDLE: Duration = Duration::from_secs(5);

impl Worker {
    /// Loads the templates and fonts and connects the mailer. Async
    /// because the mailer's pool lives on the runtime.
    ///
    /// # Errors
    /// Templates or fonts that do not load, or a bad SMTP URL or sender.
    pub async fn new(app: &App, mail: &MailConfig) -> Result<Worker, AppError> {
        let renderer = Renderer::new(&app.config().paths.templates)?;
        let mailer = Mailer::new(
            mail.smtp.as_deref(),
            mail.eml_dir.clone(),
            &mail.from,
            &mail.templates,
            app.links().clone(),
        )
        .await
        .map_err(AppError::Mail)?;
        Ok(Worker { renderer, mailer })
    }

    /// Runs passes until nothing is due (`once`) or forever, sleeping
    /// between idle passes.
    ///
    /// # Errors
    /// A store failure (a document or message that fails is recorded on its
    /// row instead).
    pub async fn run(&self, app: &App, plan: &WorkerPlan) -> Result<WorkerTotals, AppError> {
        let mut totals = WorkerTotals::default();
        loop {
            let now = app.now();
            let pass = self.pass(app, &plan.name, now, plan.batch).await?;
            add(&mut totals, &pass);
            if pass.timers.claimed == 0 {
                // Said once when a pass did something, not every few
                // seconds while there is nothing to do.
                let worked =
                    pass.timers.fired + pass.rendered.rendered + pass.mail.sent > 0 || plan.once;
                if worked {
                    tracing::info!(
                        worker = %plan.name,
                        fired = totals.timers.fired,
                        rendered = totals.rendered.rendered,
                        mailed = totals.mail.sent,
                        "worker idle"
                    );
                } else {
                    tracing::debug!(worker = %plan.name, "worker idle");
                }
                if plan.once {
                    return Ok(totals);
                }
                tokio::time::sleep(IDLE).await;
            }
        }
    }

    /// One pass: timers, then documents, then mail.
    ///
    /// # Errors
    /// A store failure.
    pub async fn pass(
        &self,
        app: &App,
        name: &str,
        now: DateTime,
        batch: i64,
    ) -> Result<WorkerTotals, AppError> {
        let store = app.store();
        let timers = store.fire_due_timers(name, now, batch).await?;
        let rendered = render_documents(store, &self.renderer, name, now, app.links()).await?;
        let mail = crate::notify::deliver(store, &self.mailer, name, now)
            .await
            .map_err(AppError::Mail)?;
        Ok(WorkerTotals {
            timers,
            rendered,
            mail,
        })
    }
}

fn add(totals: &mut WorkerTotals, pass: &WorkerTotals) {
    totals.timers.claimed += pass.timers.claimed;
    totals.timers.fired += pass.timers.fired;
    totals.timers.no_longer_due += pass.timers.no_longer_due;
    totals.timers.already_fired += pass.timers.already_fired;
    totals.rendered.rendered += pass.rendered.rendered;
    totals.rendered.failed += pass.rendered.failed;
    totals.mail.sent += pass.mail.sent;
    totals.mail.retried += pass.mail.retried;
    totals.mail.failed += pass.mail.failed;
    totals.mail.skipped += pass.mail.skipped;
}

/// Renders the documents the outbox holds: each PDF is stored by its
/// SHA-256 and the document row records the hash. A document that cannot be
/// rendered is marked failed with its reason, for staff to see.
///
/// # Errors
/// A store failure.
pub async fn render_documents(
    store: &Store,
    renderer: &Renderer,
    worker: &str,
    now: DateTime,
    links: &crate::links::Links,
) -> Result<RenderRun, AppError> {
    let mut run = RenderRun::default();
    let mut claims = store.outbox_claims(Claim {
        kind: Kind::Render,
        worker: worker.to_string(),
        now,
        lease_seconds: 300,
        limit: 50,
    });
    while let Some(rows) = claims.next().await? {
        for row in rows {
            match render_one(store, renderer, &row, links).await {
                Ok(()) => {
                    store.complete_outbox(worker, row.id, now).await?;
                    run.rendered += 1;
                }
                Err(reason) => {
                    tracing::warn!(row = row.id, filing = %row.filing, %reason, "document not rendered");
                    store.fail_outbox(row.id, &reason, now).await?;
                    run.failed += 1;
                }
            }
        }
    }
    Ok(run)
}

async fn render_one(
    store: &Store,
    renderer: &Renderer,
    row: &OutboxRow,
    links: &crate::links::Links,
) -> Result<(), String> {
    let Job::Render { verify_code } = &row.job else {
        return Err("not a render job".into());
    };
    let record = store
        .document(verify_code)
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
    // As it stood when issued; older documents: as it stands now.
    let calendar = store.calendar();
    let due_on = record.due_on.or_else(|| {
        clock::overall_due(&workflow, &filing, &calendar, clock::Limit::Promised)
            .ok()
            .flatten()
    });
    let due_note = due_on.map_or("", |due| calendar.note(due));
    let facts = DocumentFacts {
        due_note,
        issued_by: &record.issued_by,
        number: record.number.as_deref(),
        verify_code: &record.verify_code,
        verify_url: links.verify(&record.verify_code),
        issued_on,
        due_on,
    };
    let data = crate::documents::document_data(&workflow, &filing, outcome, &facts);
    let meta = Meta {
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
