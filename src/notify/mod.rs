//! Mail: the outbox's notifications delivered over SMTP (lettre).
//!
//! One URL configures SMTP: `smtp://host:port` (plain), with `?tls=required`
//! (STARTTLS) or `smtps://` (implicit TLS), credentials as `user:pass@`.
//! Without one, each message is written as an `.eml` file so the demo shows
//! its mail. The wording lives in `templates/mail/EVENT.txt` (a `主题：`
//! subject line, a blank line, the body with `{placeholders}`).
//!
//! Each outbox row becomes one message whose Message-ID derives from the row,
//! so a resend after a crash is recognisably the same message. Transient
//! failures (4xx, refused connections, timeouts) retry with exponential
//! backoff and jitter; permanent ones (5xx) mark the row failed with the
//! server's answer for staff to see.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::civil::DateTime;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};

use crate::dsl::ir::{NotifyEvent, Recipient};
use crate::engine::Filing;
use crate::links::Links;
use crate::store::outbox::{AccountMail, Job, Kind, Letter, Notice};
use crate::store::{Claim, OutboxRow, Store};

/// The placeholders a mail template may use.
pub const PLACEHOLDERS: [&str; 16] = [
    "workflow",
    "filing",
    "applicant",
    "department",
    "step",
    "due",
    "items",
    "reasons",
    "link",
    "received_on",
    "accepted_on",
    "reason",
    "pause_kind",
    "days",
    "until",
    "decision",
];

/// Subject and body per event.
#[derive(Debug, Clone)]
pub struct MailTemplates {
    by_event: HashMap<NotifyEvent, (String, String)>,
}

impl MailTemplates {
    /// Loads `DIR/EVENT.txt`, one for every [`NotifyEvent`].
    ///
    /// # Errors
    /// An unreadable file, a missing `主题：` line, an unknown placeholder
    /// (named with its file), a file named after no event, or an event
    /// without its file.
    pub fn load(dir: &Path) -> Result<MailTemplates, String> {
        let mut by_event = HashMap::new();
        let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for entry in entries {
            let path = entry.map_err(|e| e.to_string())?.path();
            if path.extension().is_none_or(|e| e != "txt") {
                continue;
            }
            let text =
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let (first, body) = text.split_once('\n').unwrap_or((&text, ""));
            let subject = first
                .strip_prefix("主题：")
                .ok_or_else(|| format!("{}: the first line must be `主题：…`", path.display()))?;
            for placeholder in placeholders(subject).into_iter().chain(placeholders(body)) {
                if !PLACEHOLDERS.contains(&placeholder.as_str()) {
                    return Err(format!(
                        "{}: unknown placeholder `{{{placeholder}}}`; the placeholders are {}",
                        path.display(),
                        PLACEHOLDERS.join(", ")
                    ));
                }
            }
            let stem = path
                .file_stem()
                .map_or_else(String::new, |s| s.to_string_lossy().to_string());
            let event = NotifyEvent::from_name(&stem).ok_or_else(|| {
                format!(
                    "{}: `{stem}` is no event; the events are {}",
                    path.display(),
                    NotifyEvent::names().join(", ")
                )
            })?;
            by_event.insert(event, (subject.trim().to_string(), body.trim().to_string()));
        }
        let missing: Vec<&str> = NotifyEvent::ALL
            .iter()
            .filter(|event| !by_event.contains_key(event))
            .map(|event| event.name())
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "{}: no mail template for {}",
                dir.display(),
                missing
                    .iter()
                    .map(|name| format!("{name}.txt"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        Ok(MailTemplates { by_event })
    }

    /// The subject and text of an event's message with the values filled in.
    pub fn fill(&self, event: NotifyEvent, values: &HashMap<&str, String>) -> (String, String) {
        let (subject, body) = &self.by_event[&event];
        (substitute(subject, values), substitute(body, values))
    }
}

fn placeholders(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        out.push(rest[open + 1..open + close].to_string());
        rest = &rest[open + close + 1..];
    }
    out
}

fn substitute(text: &str, values: &HashMap<&str, String>) -> String {
    let mut out = text.to_string();
    for (key, value) in values {
        out = out.replace(&format!("{{{key}}}"), value);
    }
    out
}

/// Where messages go.
pub enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// No SMTP configured: `.eml` files in this folder.
    Files(PathBuf),
}

/// How to send, from whom, in which words, with links to where.
pub struct Mailer {
    pub transport: Transport,
    pub from: Mailbox,
    pub templates: MailTemplates,
    /// The web application's addresses, for links in messages.
    pub links: Links,
}

impl Mailer {
    /// Async because lettre's connection pool starts a task on the Tokio
    /// runtime: built outside one, it panicked ("there is no reactor
    /// running"), which is how `worker --smtp` once failed at start.
    ///
    /// # Errors
    /// A bad SMTP URL or sender address, or mail templates that do not load.
    pub async fn new(
        smtp: Option<&str>,
        eml_dir: PathBuf,
        from: &str,
        templates: &Path,
        links: Links,
    ) -> Result<Mailer, String> {
        let transport = match smtp {
            Some(url) => Transport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| format!("SMTP URL `{url}`: {e}"))?
                    .pool_config(PoolConfig::new().max_size(8))
                    .timeout(Some(Duration::from_secs(10)))
                    .build(),
            ),
            None => Transport::Files(eml_dir),
        };
        Ok(Mailer {
            transport,
            from: from.parse().map_err(|e| format!("sender `{from}`: {e}"))?,
            templates: MailTemplates::load(templates)?,
            links,
        })
    }
}

/// What one delivery pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryRun {
    pub sent: usize,
    pub retried: usize,
    pub failed: usize,
    /// Rows with nobody to tell (no address known).
    pub skipped: usize,
}

/// The Message-ID of an outbox row: the same row, the same message.
pub fn message_id(row: &OutboxRow) -> String {
    format!(
        "<outbox-{}.{}@onewindow.mail>",
        row.id,
        sanitize(&row.filing)
    )
}

fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The delay before retry `attempt` (1, 2, …): 30 s doubling to an hour at
/// most, plus up to a fifth more as jitter drawn from the row, so retries of
/// many rows spread out.
pub fn backoff(attempt: i64, row_id: i64) -> Duration {
    let base = 30u64
        .saturating_mul(1u64 << attempt.clamp(1, 20).saturating_sub(1))
        .min(3600);
    let jitter = (row_id.unsigned_abs().wrapping_mul(2_654_435_761) % 1000) * base / 5000;
    Duration::from_secs(base + jitter)
}

/// Delivers the notifications waiting in the outbox.
///
/// # Errors
/// A store failure (delivery failures are recorded on their rows).
pub async fn deliver(
    store: &Store,
    mailer: &Mailer,
    worker: &str,
    now: DateTime,
) -> Result<DeliveryRun, String> {
    let mut run = DeliveryRun::default();
    let mut claims = store.outbox_claims(Claim {
        kind: Kind::Notify,
        worker: worker.to_string(),
        now,
        lease_seconds: 120,
        limit: 100,
    });
    while let Some(rows) = claims.next().await.map_err(|e| e.to_string())? {
        // Compose in order, send concurrently over the pool, record the
        // sent ones with one statement.
        let mut sends = Vec::with_capacity(rows.len());
        for row in &rows {
            let outcome = match compose(store, mailer, row).await {
                Ok(Some(message)) => Pending::Send(message),
                Ok(None) => Pending::Done(Outcome::Skipped),
                Err(waiting) => Pending::Done(Outcome::Transient(waiting)),
            };
            sends.push(outcome);
        }
        let outcomes = futures_util::future::join_all(rows.iter().zip(sends).map(
            |(row, pending)| async move {
                match pending {
                    Pending::Send(message) => send(mailer, row, message).await,
                    Pending::Done(outcome) => outcome,
                }
            },
        ))
        .await;
        let mut done = Vec::new();
        for (row, outcome) in rows.iter().zip(outcomes) {
            match outcome {
                Outcome::Sent => {
                    done.push(row.id);
                    run.sent += 1;
                }
                Outcome::Skipped => {
                    done.push(row.id);
                    run.skipped += 1;
                }
                Outcome::Transient(reason) => {
                    let delay = jiff::SignedDuration::try_from(backoff(row.attempts, row.id))
                        .unwrap_or_default();
                    let again = now.checked_add(delay).unwrap_or(now);
                    tracing::warn!(
                        row = row.id,
                        filing = %row.filing,
                        attempt = row.attempts,
                        next_attempt = %again,
                        %reason,
                        "mail not delivered: tried again later"
                    );
                    store
                        .retry_outbox(row.id, again, &reason)
                        .await
                        .map_err(|e| e.to_string())?;
                    run.retried += 1;
                }
                Outcome::Permanent(reason) => {
                    tracing::error!(
                        row = row.id,
                        filing = %row.filing,
                        attempt = row.attempts,
                        %reason,
                        "mail not delivered: given up (the address or the message is refused)"
                    );
                    store
                        .fail_outbox(row.id, &reason, now)
                        .await
                        .map_err(|e| e.to_string())?;
                    run.failed += 1;
                }
            }
        }
        store
            .complete_outbox_many(worker, &done, now)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(run)
}

enum Pending {
    Send(Message),
    Done(Outcome),
}

enum Outcome {
    Sent,
    Skipped,
    Transient(String),
    Permanent(String),
}

async fn send(mailer: &Mailer, row: &OutboxRow, message: Message) -> Outcome {
    match &mailer.transport {
        Transport::Smtp(transport) => match transport.send(message).await {
            Ok(_) => Outcome::Sent,
            Err(error) if error.is_permanent() => Outcome::Permanent(error.to_string()),
            Err(error) => Outcome::Transient(error.to_string()),
        },
        Transport::Files(dir) => {
            let path = dir.join(format!("{}.eml", sanitize(&message_id(row))));
            let written = std::fs::create_dir_all(dir)
                .and_then(|()| std::fs::write(&path, message.formatted()));
            match written {
                Ok(()) => {
                    tracing::debug!(path = %path.display(), "mail written as a file");
                    Outcome::Sent
                }
                Err(error) => Outcome::Transient(format!("{}: {error}", path.display())),
            }
        }
    }
}

/// The message of an outbox row; `Ok(None)` when nobody has an address;
/// `Err` when it must wait (its decision PDF is not rendered yet).
async fn compose(
    store: &Store,
    mailer: &Mailer,
    row: &OutboxRow,
) -> Result<Option<Message>, String> {
    let (recipients, event, step, department, told) = match row.job.clone() {
        Job::Notify(Notice {
            recipients,
            event,
            step,
            department,
            told,
        }) => (recipients, event, step, department, told),
        Job::Account(mail) => {
            let (subject, text) = account_letter(&mailer.links, &mail);
            return message(mailer, row, subject, text, &[mail.to], Vec::new()).map(Some);
        }
        Job::Render { .. } => return Ok(None),
    };
    let (filing, _) = store.filing(&row.filing).await.map_err(|e| e.to_string())?;
    let workflow = store
        .workflow_version(&filing.workflow, filing.version)
        .ok_or("the filing's workflow version is unknown")?;
    let department_id = department.unwrap_or_else(|| workflow.intake.department.clone());
    let addresses = addresses(
        &workflow,
        &filing,
        &recipients,
        &department_id,
        (event, step),
    );
    if addresses.is_empty() {
        return Ok(None);
    }
    let about = About {
        step,
        department: &department_id,
        told: &told,
    };
    let values = values(&store.calendar(), mailer, &workflow, &filing, &about);
    let (subject, text) = mailer.templates.fill(event, &values);
    let attachments = decision_attachments(store, &filing, event, &department_id).await?;
    message(mailer, row, subject, text, &addresses, attachments).map(Some)
}

/// The subject and text of a mail about an account. Its words are the
/// product's own (not a procedure's), so they live here, not among the
/// policy staff's templates.
fn account_letter(links: &Links, mail: &AccountMail) -> (String, String) {
    match &mail.letter {
        Letter::Confirm { token } => (
            "请确认您的注册".to_string(),
            format!(
                "{}：\n\n您（或他人）使用本邮箱在医养结合机构一窗受理平台注册申请人账户。\n\n请打开以下链接完成注册（{}小时内有效，只能使用一次）：\n{}\n\n如果这不是您本人的操作，请忽略本邮件，不会开通任何账户。",
                mail.name,
                crate::app::accounts::REGISTRATION_HOURS,
                links.confirm_registration(token)
            ),
        ),
        Letter::Known => (
            "您的邮箱已注册过账户".to_string(),
            format!(
                "您好：\n\n有人使用本邮箱在医养结合机构一窗受理平台注册申请人账户，但本邮箱已有账户，未作任何改动。\n\n请直接登录：{}\n\n如果这不是您本人的操作，请忽略本邮件。",
                links.sign_in()
            ),
        ),
    }
}

/// The placeholders' values for a filing's message.
/// What a message is about besides its filing: the step, the department
/// and the event's facts.
struct About<'a> {
    step: Option<usize>,
    department: &'a str,
    told: &'a crate::engine::Told,
}

fn values<'v>(
    calendar: &crate::calendar::Calendar,
    mailer: &Mailer,
    workflow: &crate::dsl::Workflow,
    filing: &Filing,
    about: &About<'_>,
) -> HashMap<&'v str, String> {
    let (step, told) = (about.step, about.told);
    let day =
        |d: Option<jiff::civil::Date>| d.map_or_else(String::new, crate::calendar::chinese_date);
    // A date still to come may lie in a year whose holidays are not out.
    let ahead = |d: Option<jiff::civil::Date>| d.map_or_else(String::new, |d| calendar.describe(d));
    let step_label = step
        .and_then(|s| workflow.steps.get(s))
        .map_or_else(String::new, |s| s.label.clone());
    let due = ahead(step.and_then(|s| {
        crate::engine::clock::step_due(workflow, filing, calendar, s)
            .ok()
            .flatten()
    }));
    // A signing step is addressed to its parties, not to a department.
    let department_name = match step.and_then(|s| workflow.steps.get(s)) {
        Some(signing) if signing.kind == crate::dsl::ir::StepKind::Signing => {
            workflow.step_actors(signing)
        }
        _ => workflow.department_name(about.department),
    };
    // A department's part speaks for itself: its reasons, its act's words.
    // Parts are named by the definition's department (the step's), which a
    // district's department takes for a `local` step.
    let part = step
        .and_then(|s| workflow.steps.get(s))
        .and_then(|s| s.department.as_deref())
        .unwrap_or(about.department);
    let reasons = filing.reasons_of(part).join("\n");
    let decision = step
        .and_then(|s| workflow.steps.get(s))
        .map_or_else(String::new, |s| {
            let refused = filing.parts.get(part).is_some_and(|part| {
                matches!(
                    part.decision,
                    crate::engine::state::Decision::Refused { .. }
                )
            });
            s.legal_form().wording(!refused).to_string()
        });
    let items = filing
        .latest_correction()
        .map(|c| {
            c.items
                .iter()
                .enumerate()
                .map(|(i, item)| format!("{}. {}", i + 1, workflow.item_words(item)))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default();
    HashMap::from([
        ("workflow", workflow.title.clone()),
        ("filing", filing.id.clone()),
        ("applicant", filing.applicant.clone()),
        ("department", department_name),
        ("step", step_label),
        ("due", due),
        ("items", items),
        ("reasons", reasons),
        ("link", mailer.links.filing(&filing.id)),
        ("received_on", day(filing.received_on)),
        ("accepted_on", day(filing.accepted_on)),
        ("reason", told.reason.clone().unwrap_or_default()),
        ("pause_kind", told.pause_kind.clone().unwrap_or_default()),
        (
            "days",
            told.days.map_or_else(String::new, |d| d.to_string()),
        ),
        ("until", ahead(told.until)),
        ("decision", decision),
    ])
}

/// The PDFs of a department's decision — or of the window's acceptance or
/// refusal to accept —, attached once rendered; `Err` while one is not yet.
async fn decision_attachments(
    store: &Store,
    filing: &Filing,
    event: NotifyEvent,
    department: &str,
) -> Result<Vec<SinglePart>, String> {
    let mut attachments = Vec::new();
    if matches!(
        event,
        NotifyEvent::Accepted
            | NotifyEvent::NotAccepted
            | NotifyEvent::Approved
            | NotifyEvent::Rejected
            | NotifyEvent::Filed
            | NotifyEvent::Extended
    ) {
        let documents = store
            .documents_of(&filing.id, event.name())
            .await
            .map_err(|e| e.to_string())?;
        for document in documents.into_iter().filter(|d| d.issued_by == department) {
            let Some(sha256) = &document.sha256 else {
                return Err(format!("waiting for “{}” to be rendered", document.title));
            };
            let pdf = store.blobs.get(sha256).map_err(|e| e.to_string())?;
            let name = format!(
                "{}{}.pdf",
                document.title,
                document.number.unwrap_or_default()
            );
            attachments.push(Attachment::new(name).body(
                pdf,
                ContentType::parse("application/pdf").map_err(|e| e.to_string())?,
            ));
        }
    }
    Ok(attachments)
}

/// The message: plain text and HTML alternatives, the attachments, the
/// row's stable Message-ID.
fn message(
    mailer: &Mailer,
    row: &OutboxRow,
    subject: String,
    text: String,
    addresses: &[String],
    attachments: Vec<SinglePart>,
) -> Result<Message, String> {
    let html = format!(
        "<html><body>{}</body></html>",
        text.split("\n\n")
            .map(|p| format!("<p>{}</p>", html_escape(p).replace('\n', "<br>")))
            .collect::<String>()
    );
    let mut builder = Message::builder()
        .from(mailer.from.clone())
        .subject(subject)
        .message_id(Some(message_id(row)));
    for address in addresses {
        match address.parse::<Mailbox>() {
            Ok(mailbox) => builder = builder.to(mailbox),
            Err(error) => return Err(format!("address `{address}`: {error}")),
        }
    }
    let alternative = MultiPart::alternative()
        .singlepart(SinglePart::plain(text))
        .singlepart(SinglePart::html(html));
    let body = attachments.into_iter().fold(
        MultiPart::mixed().multipart(alternative),
        |mixed, attachment| mixed.singlepart(attachment),
    );
    builder.multipart(body).map_err(|e| e.to_string())
}

/// Who is written to about `event` (on `step`, if any). A signing step is
/// the parties' work: its reviewers and head are nobody, and its parties
/// are told by their signatories' addresses; of other steps' assignments
/// the parties are not told (the departments' work is not theirs).
fn addresses(
    workflow: &crate::dsl::Workflow,
    filing: &Filing,
    recipients: &[Recipient],
    department: &str,
    (event, step): (NotifyEvent, Option<usize>),
) -> Vec<String> {
    let mut out = Vec::new();
    let of = |id: &str| workflow.department(id);
    let signing = step
        .and_then(|s| workflow.steps.get(s))
        .filter(|s| s.kind == crate::dsl::ir::StepKind::Signing);
    let departments_work = signing.is_none();
    for recipient in recipients {
        let found: Vec<String> = match recipient {
            Recipient::Applicant => filing.applicant_email.iter().cloned().collect(),
            Recipient::Reviewers if departments_work => of(department)
                .map(|d| d.reviewers.clone())
                .unwrap_or_default(),
            Recipient::Head if departments_work => {
                of(department).map(|d| d.heads.clone()).unwrap_or_default()
            }
            Recipient::Reviewers | Recipient::Head => Vec::new(),
            Recipient::Window => of(&workflow.intake.department)
                .map(|d| d.reviewers.clone())
                .unwrap_or_default(),
            Recipient::Parties if event == NotifyEvent::Assigned && signing.is_none() => Vec::new(),
            // Each party by its signatory; a filing from before
            // signatories were named tells its applicant, who filed for both.
            Recipient::Parties if filing.signatories.is_empty() => {
                filing.applicant_email.iter().cloned().collect()
            }
            Recipient::Parties => filing
                .signatories
                .iter()
                .filter(|(party, _)| signing.is_none_or(|s| s.parties.contains(party)))
                .map(|(_, email)| email.clone())
                .collect(),
        };
        for address in found {
            if !out.contains(&address) {
                out.push(address);
            }
        }
    }
    out
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_an_hour_with_bounded_jitter() {
        let seconds = |attempt, id| backoff(attempt, id).as_secs();
        assert!((30..=36).contains(&seconds(1, 7)));
        assert!((60..=72).contains(&seconds(2, 7)));
        assert!((3600..=4320).contains(&seconds(12, 7)));
        assert_ne!(seconds(3, 1), seconds(3, 2), "jitter spreads rows");
    }

    #[test]
    fn placeholders_are_found() {
        assert_eq!(placeholders("{a}：{b}（{c}）"), ["a", "b", "c"]);
        let values = HashMap::from([("a", "甲".to_string())]);
        assert_eq!(substitute("{a}{a}{x}", &values), "甲甲{x}");
    }
}
