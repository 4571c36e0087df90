//! Mail against a real SMTP server on loopback (aiosmtpd, scripts/smtp_sink.py):
//! messages parsed back, the decision PDF attached, the server down and up
//! again, 4xx and 5xx answers, and the .eml fallback.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use jiff::civil::{date, Date, DateTime, Time};
use onewindow::engine::{Actor, Command as Engine};
use onewindow::notify::{deliver, Mailer};
use onewindow::store::{Request, Store};

mod common;
use common::{open, root, scratch};

struct Sink {
    child: Child,
    port: u16,
    folder: PathBuf,
}

impl Sink {
    fn start(port: u16, folder: &Path) -> Sink {
        let mut child = Command::new("python3")
            .arg(root().join("scripts/smtp_sink.py"))
            .arg(port.to_string())
            .arg(folder)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs scripts/smtp_sink.py (./run test installs aiosmtpd)");
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        assert_eq!(line.trim(), "ready", "the SMTP server started");
        Sink {
            child,
            port,
            folder: folder.to_path_buf(),
        }
    }

    fn messages(&self) -> Vec<Vec<u8>> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&self.folder)
            .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        paths.sort();
        paths
            .into_iter()
            .map(|p| std::fs::read(p).unwrap())
            .collect()
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn at(day: Date, hour: i8) -> DateTime {
    DateTime::from_parts(day, Time::constant(hour, 0, 0, 0))
}

async fn mailer(url: Option<&str>, eml: &Path) -> Mailer {
    Mailer::new(
        url,
        eml.to_path_buf(),
        "一窗受理平台 <noreply@onewindow.example.cn>",
        &root().join("templates/mail"),
        onewindow::links::Links::new("http://localhost:8080"),
    )
    .await
    .expect("mailer")
}

async fn approved_filing(store: &Store, id: &str, email: &str) {
    let workflow = store.workflow("new_combined").unwrap();
    let mut answers =
        onewindow::project::read_answers(&root().join("workflows/samples/new_combined.json"))
            .unwrap();
    answers.email = Some(email.to_string());
    let submission = answers.submission(&workflow).unwrap();
    let mut request = Request::new(
        id,
        Actor::Applicant,
        Engine::Submit { submission },
        at(date(2026, 9, 14), 9),
    );
    request.workflow = Some("new_combined".into());
    store.apply(request).await.unwrap();
    let steps = [
        (
            Actor::Window {
                department: "window".into(),
            },
            Engine::Accept,
        ),
        (
            Actor::Reviewer {
                department: "civil".into(),
            },
            Engine::File { step: 1 },
        ),
        (
            Actor::Reviewer {
                department: "health".into(),
            },
            Engine::Approve { step: 0 },
        ),
    ];
    for (actor, command) in steps {
        store
            .apply(Request::new(id, actor, command, at(date(2026, 9, 16), 10)))
            .await
            .unwrap();
    }
}

/// A store holding approved filings (id, applicant address) whose documents
/// are rendered, and the time just after.
async fn approved_and_rendered(filings: &[(&str, &str)]) -> (Store, DateTime) {
    let store = open(&sqlite()).await;
    for (id, email) in filings {
        approved_filing(&store, id, email).await;
    }
    let renderer = onewindow::documents::Renderer::new(&root().join("templates")).unwrap();
    let now = at(date(2026, 9, 16), 12);
    onewindow::app::worker::render_documents(
        &store,
        &renderer,
        "renderer",
        now,
        &onewindow::links::Links::new("http://localhost:8080"),
    )
    .await
    .unwrap();
    (store, now)
}

fn sqlite() -> String {
    format!(
        "sqlite://{}?mode=rwc",
        scratch("mail").join("onewindow.db").display()
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn messages_arrive_in_chinese_with_the_decision_attached() {
    let (store, now) = approved_and_rendered(&[("F-1", "applicant@example.cn")]).await;
    let folder = scratch("smtp");
    let sink = Sink::start(free_port(), &folder);
    let mailer = mailer(
        Some(&format!("smtp://127.0.0.1:{}", sink.port)),
        &folder.join("eml"),
    )
    .await;
    let run = deliver(&store, &mailer, "mailer", now).await.unwrap();
    assert_eq!((run.retried, run.failed), (0, 0), "{run:?}");
    assert!(
        run.sent >= 4,
        "reviewers told of their steps, the applicant of acceptance and decision: {run:?}"
    );
    let messages = sink.messages();
    assert_eq!(messages.len(), run.sent);
    let parsed: Vec<mail_parser::Message> = messages
        .iter()
        .map(|m| mail_parser::MessageParser::default().parse(m).unwrap())
        .collect();
    let decision = parsed
        .iter()
        .find(|m| m.subject().is_some_and(|s| s.contains("准予行政许可")))
        .expect("the decision message");
    assert_eq!(
        decision.subject(),
        Some("新建医养结合机构：茂名市卫生健康局准予行政许可（F-1）"),
        "the department that decided, in its act's words"
    );
    let receipt = parsed
        .iter()
        .find(|m| m.subject().is_some_and(|s| s.contains("予以备案")))
        .expect("civil affairs' own message");
    assert_eq!(
        receipt.subject(),
        Some("新建医养结合机构：茂名市民政局予以备案（F-1）")
    );
    assert_eq!(
        receipt.attachments().count(),
        1,
        "civil affairs' receipt, not health's licence"
    );
    assert!(decision
        .message_id()
        .is_some_and(|id| id.starts_with("outbox-") && id.ends_with("@onewindow.mail")));
    assert!(decision
        .body_text(0)
        .is_some_and(|t| t.contains("茂名康颐医养有限公司")));
    assert!(decision.body_html(0).is_some_and(|h| h.contains("<p>")));
    let documents = store.documents_of("F-1", "approved").await.unwrap();
    let attached: Vec<&[u8]> = decision.attachments().map(|a| a.contents()).collect();
    assert_eq!(
        attached.len(),
        documents.len(),
        "every document of the decision is attached"
    );
    for document in &documents {
        let pdf = store.blobs.get(document.sha256.as_ref().unwrap()).unwrap();
        assert!(
            attached.contains(&pdf.as_slice()),
            "the stored PDF's bytes are attached"
        );
    }
    // The acceptance mail says the notice is attached (issue 20: it was not).
    let accepted = parsed
        .iter()
        .find(|m| m.subject().is_some_and(|s| s.contains("您的申请已受理")))
        .expect("the acceptance message");
    let notice = &store.documents_of("F-1", "accepted").await.unwrap()[0];
    let pdf = store.blobs.get(notice.sha256.as_ref().unwrap()).unwrap();
    let attached: Vec<&[u8]> = accepted.attachments().map(|a| a.contents()).collect();
    assert_eq!(
        attached,
        vec![pdf.as_slice()],
        "the acceptance notice, once"
    );
    let assigned = parsed
        .iter()
        .filter(|m| m.subject().is_some_and(|s| s.starts_with("新的待办")))
        .count();
    assert_eq!(
        assigned, 2,
        "health and civil affairs each learn of their step"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_is_lost_while_the_server_is_down() {
    let (store, now) = approved_and_rendered(&[("F-1", "applicant@example.cn")]).await;
    let port = free_port();
    let folder = scratch("smtp-down");
    let mailer = mailer(
        Some(&format!("smtp://127.0.0.1:{port}")),
        &folder.join("eml"),
    )
    .await;
    // The server is down: every message is kept for later.
    let down = deliver(&store, &mailer, "mailer", now).await.unwrap();
    assert_eq!(down.sent, 0);
    assert!(down.retried >= 4, "{down:?}");
    let waiting = store
        .pending_outbox(onewindow::store::outbox::Kind::Notify)
        .await
        .unwrap()
        .len();
    assert_eq!(waiting, down.retried);
    // Too early for the retry: nothing is claimed.
    let sink = Sink::start(port, &folder);
    let early = deliver(&store, &mailer, "mailer", now).await.unwrap();
    assert_eq!(early.sent, 0, "backoff is respected");
    let later = deliver(&store, &mailer, "mailer", at(date(2026, 9, 16), 14))
        .await
        .unwrap();
    assert_eq!(later.sent, down.retried, "{later:?}");
    assert!(store
        .pending_outbox(onewindow::store::outbox::Kind::Notify)
        .await
        .unwrap()
        .is_empty());
    let ids: std::collections::HashSet<String> = sink
        .messages()
        .iter()
        .map(|m| {
            mail_parser::MessageParser::default()
                .parse(m)
                .unwrap()
                .message_id()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        ids.len(),
        down.retried,
        "each message once, each with its own stable id"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_4xx_retries_and_a_5xx_fails_with_the_reason() {
    // Rendered first: decisions wait for their PDFs.
    let (store, now) = approved_and_rendered(&[
        ("T-1", "tempfail@example.cn"),
        ("P-1", "permfail@example.cn"),
    ])
    .await;
    let folder = scratch("smtp-codes");
    let sink = Sink::start(free_port(), &folder);
    let mailer = mailer(
        Some(&format!("smtp://127.0.0.1:{}", sink.port)),
        &folder.join("eml"),
    )
    .await;
    let run = deliver(&store, &mailer, "mailer", now).await.unwrap();
    // Acceptance, civil affairs' filing and health's decision: three each.
    assert_eq!(
        run.failed, 3,
        "the permanently failing applicant's three messages: {run:?}"
    );
    assert_eq!(
        run.retried, 3,
        "the temporarily failing applicant's three messages: {run:?}"
    );
    assert_eq!(run.sent, 4, "the reviewers' messages: {run:?}");
    let pending = store
        .pending_outbox(onewindow::store::outbox::Kind::Notify)
        .await
        .unwrap();
    assert!(
        pending.iter().all(|(_, filing, _)| filing == "T-1"),
        "only the 4xx ones wait: {pending:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_smtp_the_messages_are_written_as_eml_files() {
    let (store, now) = approved_and_rendered(&[("F-1", "applicant@example.cn")]).await;
    let folder = scratch("eml");
    let run = deliver(&store, &mailer(None, &folder).await, "mailer", now)
        .await
        .unwrap();
    let files: Vec<PathBuf> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), run.sent);
    let message = mail_parser::MessageParser::default()
        .parse(&std::fs::read(&files[0]).unwrap())
        .unwrap()
        .subject()
        .map(str::to_string);
    assert!(message.is_some_and(|s| s.contains("F-1")));
}

#[test]
fn every_notified_event_has_a_mail_template() {
    let shipped = root().join("templates/mail");
    let templates = onewindow::notify::MailTemplates::load(&shipped).unwrap();
    for event in onewindow::dsl::ir::NotifyEvent::ALL {
        let (subject, text) = templates.fill(event, &std::collections::HashMap::new());
        assert!(
            !subject.is_empty() && !text.is_empty(),
            "templates/mail/{event}.txt"
        );
    }
    // A folder that lacks one is refused on load, naming the file.
    let partial = scratch("partial-mail");
    for entry in std::fs::read_dir(&shipped).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap() != "paused.txt" {
            std::fs::copy(&path, partial.join(path.file_name().unwrap())).unwrap();
        }
    }
    let error = onewindow::notify::MailTemplates::load(&partial).unwrap_err();
    assert!(error.contains("no mail template for paused.txt"), "{error}");
}

/// Runs the binary as the README shows, in the repository's folder.
fn onewindow(args: &[&str]) -> std::process::Output {
    common::onewindow()
        .args(args)
        .current_dir(root())
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_string()
}

/// The `mailed N, M to retry` figures the worker prints.
fn mailed(stdout: &str) -> (usize, usize) {
    let after = stdout.split("mailed ").nth(1).expect("the worker's totals");
    let numbers: Vec<usize> = after
        .split(|c: char| !c.is_ascii_digit())
        .filter(|part| !part.is_empty())
        .take(2)
        .map(|part| part.parse().unwrap())
        .collect();
    (numbers[0], numbers[1])
}

/// Sample filings decided through the binary, into a fresh data folder.
fn loaded_data(name: &str) -> PathBuf {
    let data = scratch(name);
    let output = onewindow(&[
        "load",
        "--workflow",
        "new_combined",
        "--filings",
        "2",
        "--prefix",
        "CLI-",
        "--data",
        data.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    data
}

#[test]
fn the_worker_command_sends_mail_over_smtp_as_the_readme_shows() {
    let data = loaded_data("cli-smtp");
    let folder = scratch("cli-smtp-sink");
    let sink = Sink::start(free_port(), &folder);
    let smtp = format!("smtp://127.0.0.1:{}", sink.port);
    let output = onewindow(&[
        "worker",
        "--once",
        "--data",
        data.to_str().unwrap(),
        "--smtp",
        &smtp,
        "--now",
        "2026-06-01T12:00",
    ]);
    assert!(
        output.status.success(),
        "worker --smtp: {}",
        text(&output.stderr)
    );
    let (sent, retried) = mailed(&text(&output.stdout));
    assert_eq!(retried, 0, "{}", text(&output.stdout));
    let messages = sink.messages();
    assert!(
        sent >= 8,
        "acceptance, assignments and decisions of two filings: {sent}"
    );
    assert_eq!(
        messages.len(),
        sent,
        "every message the worker counted arrived"
    );
    let parsed: Vec<mail_parser::Message> = messages
        .iter()
        .map(|m| {
            mail_parser::MessageParser::default()
                .parse(m)
                .expect("parses")
        })
        .collect();
    let decisions: Vec<&mail_parser::Message> = parsed
        .iter()
        .filter(|m| m.subject().is_some_and(|s| s.contains("准予行政许可")))
        .collect();
    assert_eq!(decisions.len(), 2, "one decision per filing");
    for decision in decisions {
        let pdfs: Vec<&[u8]> = decision
            .attachments()
            .map(|a| a.contents())
            .filter(|bytes| bytes.starts_with(b"%PDF-"))
            .collect();
        assert!(!pdfs.is_empty(), "the decision carries its PDFs");
    }
}

#[test]
fn the_worker_command_keeps_mail_while_the_server_is_down_and_sends_it_once_up() {
    let data = loaded_data("cli-smtp-down");
    let port = free_port();
    let smtp = format!("smtp://127.0.0.1:{port}");
    let worker = |now: &str| {
        onewindow(&[
            "worker",
            "--once",
            "--data",
            data.to_str().unwrap(),
            "--smtp",
            &smtp,
            "--now",
            now,
        ])
    };
    let down = worker("2026-06-01T12:00");
    assert!(down.status.success(), "{}", text(&down.stderr));
    let (sent, waiting) = mailed(&text(&down.stdout));
    assert_eq!(sent, 0, "nobody listens");
    assert!(
        waiting >= 8,
        "every message is kept: {}",
        text(&down.stdout)
    );
    let folder = scratch("cli-smtp-up");
    let sink = Sink::start(port, &folder);
    // After the backoff the same messages go out, each once.
    let up = worker("2026-06-01T15:00");
    assert!(up.status.success(), "{}", text(&up.stderr));
    assert_eq!(mailed(&text(&up.stdout)), (waiting, 0));
    let again = worker("2026-06-02T15:00");
    assert_eq!(mailed(&text(&again.stdout)), (0, 0), "nothing twice");
    let ids: std::collections::HashSet<String> = sink
        .messages()
        .iter()
        .map(|m| {
            mail_parser::MessageParser::default()
                .parse(m)
                .and_then(|m| m.message_id().map(str::to_string))
                .expect("a Message-ID")
        })
        .collect();
    assert_eq!(ids.len(), waiting, "each kept message arrived exactly once");
}

/// Issue: the pause and extension mails said "see the platform"; they now
/// state the kind, the days, the end date and the reason.
#[tokio::test(flavor = "multi_thread")]
async fn pause_and_extension_mails_state_their_facts() {
    let store = common::open(&sqlite()).await;
    let workflow = store.workflow("new_combined").unwrap();
    let answers =
        onewindow::project::read_answers(&root().join("workflows/samples/new_combined.json"))
            .unwrap();
    let submission = answers.submission(&workflow).unwrap();
    let mut request = Request::new(
        "P-1",
        Actor::Applicant,
        Engine::Submit { submission },
        at(date(2026, 9, 14), 9),
    );
    request.workflow = Some("new_combined".into());
    store.apply(request).await.unwrap();
    let pause = Engine::Pause {
        step: 0,
        kind: onewindow::engine::state::PauseKind::ExpertReview,
        days: 10,
        reason: "组织专家评审护理院设置方案".into(),
    };
    let extend = Engine::Extend {
        reason: "涉及多个部门联合审查".into(),
    };
    for (actor, command, day) in [
        (
            Actor::Window {
                department: "window".into(),
            },
            Engine::Accept,
            14,
        ),
        (
            Actor::Reviewer {
                department: "health".into(),
            },
            pause,
            15,
        ),
        (
            Actor::Head {
                department: "civil".into(),
            },
            extend,
            16,
        ),
    ] {
        store
            .apply(Request::new(
                "P-1",
                actor,
                command,
                at(date(2026, 9, day), 10),
            ))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    // The extension's written notice is rendered first: its mail carries it.
    let renderer = onewindow::documents::Renderer::new(&root().join("templates")).unwrap();
    onewindow::app::worker::render_documents(
        &store,
        &renderer,
        "renderer",
        at(date(2026, 9, 16), 11),
        &onewindow::links::Links::new("http://localhost:8080"),
    )
    .await
    .unwrap();
    let folder = scratch("told");
    deliver(
        &store,
        &mailer(None, &folder).await,
        "mailer",
        at(date(2026, 9, 16), 12),
    )
    .await
    .unwrap();
    let texts: Vec<String> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|entry| {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            let message = mail_parser::MessageParser::default().parse(&bytes).unwrap();
            format!(
                "{}\n{}",
                message.subject().unwrap_or_default(),
                message.body_text(0).unwrap_or_default()
            )
        })
        .collect();
    let paused = texts
        .iter()
        .find(|t| t.contains("中止计算"))
        .expect("the pause mail");
    // Ten working days from Tuesday 15 September 2026, on the real calendar.
    for fact in [
        "专家评审",
        "10个工作日",
        "组织专家评审护理院设置方案",
        "第四十五条",
    ] {
        assert!(paused.contains(fact), "{fact} in {paused}");
    }
    let until = onewindow::calendar::Calendar::load(&root().join("calendars"), "cn")
        .unwrap()
        .add_workdays(date(2026, 9, 15), 10)
        .unwrap();
    let until_words = onewindow::calendar::chinese_date(until);
    assert!(paused.contains(&until_words), "{until_words} in {paused}");
    let extended = texts
        .iter()
        .find(|t| t.contains("期限延长"))
        .expect("the extension mail");
    for fact in ["10个工作日", "涉及多个部门联合审查", "第四十二条"] {
        assert!(extended.contains(fact), "{fact} in {extended}");
    }
    // The new completion date counts the pause as ending when stated.
    let (filing, _) = store.filing("P-1").await.unwrap();
    let mut expected = filing.clone();
    expected.pauses[0].until = Some(until);
    let completion = onewindow::engine::clock::overall_due(
        &workflow,
        &expected,
        &store.calendar(),
        onewindow::engine::clock::Limit::Promised,
    )
    .unwrap()
    .unwrap();
    let completion = onewindow::calendar::chinese_date(completion);
    assert!(
        extended.contains(&format!("新的办结期限为{completion}")),
        "{completion} in {extended}"
    );
    assert!(!extended.contains("见办理平台"), "{extended}");
}
