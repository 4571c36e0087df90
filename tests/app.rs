//! The application layer's use cases, as the command line and the web call
//! them: on the embedded SQLite, with the real renderer and `.eml` mail.

use std::path::{Path, PathBuf};

use jiff::civil::{date, Date, DateTime};
use onewindow::app::worker::{MailConfig, Worker};
use onewindow::app::{Access, Action, App, AppError, Config, NewFiling};
use onewindow::engine::clock::Level;
use onewindow::engine::{Actor, Applicant, Command};
use onewindow::project::Paths;
use onewindow::store::read::{QueueFilter, QueuePage};

mod common;
use common::{root, scratch};

fn config(data: &Path, flows: PathBuf) -> Config {
    Config {
        database: None,
        data: data.to_path_buf(),
        paths: Paths {
            flows: vec![flows],
            templates: root().join("templates"),
        },
        calendars: root().join("calendars"),
        region: "cn".into(),
        base_url: "https://yiyang.example.gov.cn/".into(),
        max_upload: onewindow::app::DEFAULT_MAX_UPLOAD,
        access: Access::CreateIfMissing,
        clock: onewindow::app::Clock::fixed(common::ORDINARY_DAY),
    }
}

async fn open(flows: PathBuf) -> (App, PathBuf) {
    let data = scratch("app");
    let app = App::open(config(&data, flows))
        .await
        .expect("the app opens");
    (app, data)
}

fn at(day: Date) -> DateTime {
    day.at(10, 0, 0, 0)
}

fn sample(workflow: &str) -> onewindow::engine::Answers {
    onewindow::project::read_answers(&root().join(format!("workflows/samples/{workflow}.json")))
        .expect("sample")
}

/// A new filing of the shipped sample answers, every material uploaded.
async fn new_filing(app: &App, id: &str, workflow: &str, day: Date) -> NewFiling {
    let answers = sample(workflow);
    let mut materials = std::collections::BTreeMap::new();
    for material in &answers.materials {
        let upload = app
            .store()
            .store_upload(
                "applicant@onewindow.example.cn",
                &format!("{material}.pdf"),
                "pdf",
                &onewindow::app::samples::sample_pdf("sample"),
                at(day),
            )
            .await
            .expect("upload");
        materials.insert(material.clone(), upload);
    }
    NewFiling {
        id: Some(id.into()),
        workflow: workflow.into(),
        applicant: Applicant {
            name: answers.applicant,
            email: answers.email,
            signatories: answers.signatories,
        },
        form: answers.form,
        facts: onewindow::engine::Facts::registry(answers.facts),
        materials,
        key: Some(format!("{id}:submit")),
        account: None,
        now: at(day),
    }
}

async fn act(app: &App, filing: &str, actor: Actor, command: Command, day: Date) {
    app.act(Action {
        filing: filing.into(),
        actor,
        command,
        expected_revision: None,
        key: None,
        account: None,
        now: at(day),
    })
    .await
    .unwrap_or_else(|e| panic!("{filing}: {e}"));
}

fn reviewer(department: &str) -> Actor {
    Actor::Reviewer {
        department: department.into(),
    }
}

async fn worker(app: &App, data: &Path) -> Worker {
    let mail = MailConfig {
        smtp: None,
        eml_dir: data.join("mail"),
        from: "一窗受理平台 <noreply@onewindow.example.cn>".into(),
        templates: root().join("templates/mail"),
    };
    Worker::new(app, &mail).await.expect("worker")
}

#[tokio::test]
async fn wrong_answers_are_all_listed_and_nothing_is_filed() {
    let (app, _) = open(root().join("workflows")).await;
    let mut filing = new_filing(&app, "BAD-1", "new_combined", date(2026, 9, 14)).await;
    filing.form.insert("beds".into(), "很多".into());
    filing.applicant.email = Some("not an address".into());
    let error = app.submit(filing).await.unwrap_err();
    let AppError::Invalid(problems) = &error else {
        panic!("{error}");
    };
    let subjects: Vec<Option<&str>> = problems.iter().map(|p| p.subject.as_deref()).collect();
    assert!(subjects.contains(&Some("beds")), "{problems:?}");
    assert!(subjects.contains(&Some("email")), "{problems:?}");
    assert!(matches!(
        app.filing("BAD-1", date(2026, 9, 14)).await,
        Err(AppError::NotFound(_))
    ));
    let unknown = app.workflow("new_combimed").unwrap_err().to_string();
    assert!(
        unknown.contains("new_combined"),
        "lists the workflows: {unknown}"
    );
}

#[tokio::test]
async fn a_filing_through_the_use_cases_from_window_to_verified_permit() {
    let (app, data) = open(root().join("workflows")).await;
    let day = date(2026, 9, 14);
    let filing = new_filing(&app, "APP-1", "new_combined", day).await;
    let email = filing.applicant.email.clone().expect("sample e-mail");
    let view = app.submit(filing.clone()).await.unwrap();
    assert_eq!(
        (view.status.name(), view.status_label.as_str()),
        ("submitted", "待受理")
    );
    assert_eq!(view.link, "https://yiyang.example.gov.cn/filings/APP-1");
    // A double click files once.
    assert_eq!(app.submit(filing).await.unwrap().revision, view.revision);
    let window = |today| QueuePage {
        department: "window".into(),
        filter: QueueFilter::All,
        today,
        limit: 50,
        offset: 0,
    };
    let intake = app.queue(&window(day)).await.unwrap();
    assert_eq!(intake.len(), 1);
    assert_eq!(intake[0].label, "一窗受理");
    act(
        &app,
        "APP-1",
        Actor::Window {
            department: "window".into(),
        },
        Command::Accept,
        date(2026, 9, 15),
    )
    .await;
    let view = app.filing("APP-1", date(2026, 9, 15)).await.unwrap();
    assert_eq!(view.status, "in_review");
    assert!(view.promised_due.is_some() && view.legal_due >= view.promised_due);
    let active: Vec<_> = view.steps.iter().filter(|s| s.state == "active").collect();
    // Steps have ids that do not move when the view is rebuilt.
    let workflow = app.workflow("new_combined").unwrap();
    for step in &view.steps {
        assert_eq!(workflow.step_index(&step.id), Some(step.index));
    }
    assert_eq!(active.len(), 2, "health and civil affairs at once");
    assert!(active.iter().all(|s| s.level == Some(Level::Green)));
    // A stale revision is a conflict, not a silent overwrite.
    let stale = app
        .act(Action {
            filing: "APP-1".into(),
            actor: reviewer("civil"),
            command: Command::File { step: 1 },
            expected_revision: Some(1),
            key: None,
            account: None,
            now: at(date(2026, 9, 16)),
        })
        .await
        .unwrap_err();
    assert!(stale.to_string().contains("reload"), "{stale}");
    act(
        &app,
        "APP-1",
        reviewer("civil"),
        Command::File { step: 1 },
        date(2026, 9, 16),
    )
    .await;
    act(
        &app,
        "APP-1",
        reviewer("health"),
        Command::Approve { step: 0 },
        date(2026, 9, 17),
    )
    .await;
    let mine = app.filings_of(&email).await.unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(
        (mine[0].status.name(), mine[0].decided_on),
        ("decided", Some(date(2026, 9, 17)))
    );
    // The filing reports each department's part in its own legal form.
    let view = app.filing("APP-1", date(2026, 9, 17)).await.unwrap();
    assert_eq!(view.decision.as_deref(), Some("granted"));
    let parts: Vec<(&str, &str, Option<&str>, Option<&str>)> = view
        .parts
        .iter()
        .map(|p| {
            (
                p.department.as_str(),
                p.form_label.as_str(),
                p.result.as_deref(),
                p.decision.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        parts,
        [
            ("health", "行政许可", Some("准予行政许可"), Some("granted")),
            ("civil", "备案", Some("予以备案"), Some("filed")),
        ]
    );
    assert_eq!(view.parts[1].decided_on, Some(date(2026, 9, 16)));
    // Once it opens, the registry tells when it may apply for designation.
    app.store()
        .record_opening("APP-1", date(2026, 10, 31))
        .await
        .unwrap();
    let eligibility = app
        .eligible_from("91440900MA5100005H", "insurance_designation")
        .await
        .unwrap();
    assert_eq!(eligibility.len(), 1);
    assert!(eligibility[0].rule.contains("运营3个月后"));
    assert_eq!(
        eligibility[0].from,
        date(2027, 2, 1),
        "three whole months after 31 October: the period ends on 31 January (Civil Code arts. 201–202)"
    );
    // After the worker renders it, the permit verifies, its code in any case.
    let worker = worker(&app, &data).await;
    let pass = worker
        .pass(&app, "worker", at(date(2026, 9, 17)), 100)
        .await
        .unwrap();
    assert!(
        pass.rendered.rendered >= 3 && pass.rendered.failed == 0,
        "{pass:?}"
    );
    let permit = app
        .store()
        .documents_of("APP-1", "approved")
        .await
        .unwrap()
        .into_iter()
        .find(|d| d.template == "medical_license")
        .expect("the licence");
    let number = permit.number.clone().unwrap();
    let lower = permit.verify_code.to_lowercase();
    let verified = app
        .verify(&number, &format!(" {lower} "))
        .await
        .unwrap()
        .expect("genuine");
    assert_eq!(
        verified.holder, "茂名康颐医养中心",
        "the institution the licence names, not the company that applied"
    );
    // The number as a PDF reader copies it, with spaces between its runs
    // (issue 20: "医养 2026 卫 00002" was not found).
    let copied: String = number
        .chars()
        .map(|c| {
            if c.is_ascii_digit() {
                c.to_string()
            } else {
                format!(" {c} ")
            }
        })
        .collect();
    assert!(
        app.verify(&copied, &permit.verify_code)
            .await
            .unwrap()
            .is_some(),
        "{copied}"
    );
    assert!(app
        .verify(&number, "0000000000000000")
        .await
        .unwrap()
        .is_none());
    // A decision addressed to the applicant names the applicant.
    let decision = app
        .store()
        .documents_of("APP-1", "approved")
        .await
        .unwrap()
        .into_iter()
        .find(|d| d.template == "grant_decision")
        .expect("the decision");
    let verified = app
        .verify(decision.number.as_deref().unwrap(), &decision.verify_code)
        .await
        .unwrap()
        .expect("genuine");
    assert_eq!(verified.holder, "茂名康颐医养有限公司");
}

/// The agreement PDF's "valid until" and the registry's term end come from
/// one rule: with a 24-month renewal both say two years, not one.
#[tokio::test]
async fn a_24_month_agreement_prints_and_registers_the_same_term() {
    let flows = scratch("flows-24");
    for entry in std::fs::read_dir(root().join("workflows")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "flow") {
            let text = std::fs::read_to_string(&path).unwrap();
            let text = text.replace("every 1 year renew", "every 24 months renew");
            std::fs::write(flows.join(path.file_name().unwrap()), text).unwrap();
        }
    }
    let (app, data) = open(flows).await;
    let filing = new_filing(&app, "A-24", "cooperation_agreement", date(2026, 11, 2)).await;
    agreement_signed_and_filed(
        &app,
        filing,
        [date(2026, 11, 2), date(2026, 11, 4), date(2026, 11, 6)],
    )
    .await;
    let agreements = app.store().agreements().await.unwrap();
    assert_eq!(agreements.len(), 1);
    let (start, end) = (&agreements[0].3, &agreements[0].4);
    assert_eq!((start.as_str(), end.as_str()), ("2026-12-01", "2028-11-30"));
    let worker = worker(&app, &data).await;
    worker
        .pass(&app, "worker", at(date(2026, 11, 6)), 100)
        .await
        .unwrap();
    let text = agreement_text(&app, &data, "A-24").await;
    assert!(
        text.contains("2028年11月30日"),
        "the PDF prints the registered end, as Chinese documents write dates: {text}"
    );
    assert!(!text.contains("2027年11月30日"), "and not a year: {text}");
}

/// Issue: a pause with a stated duration must show when it ends.
#[tokio::test]
async fn a_pause_shows_when_it_is_expected_to_end() {
    let (app, _) = open(root().join("workflows")).await;
    let day = date(2026, 9, 14);
    app.submit(new_filing(&app, "PAUSE-1", "new_combined", day).await)
        .await
        .unwrap();
    act(
        &app,
        "PAUSE-1",
        Actor::Window {
            department: "window".into(),
        },
        Command::Accept,
        day,
    )
    .await;
    let pause = Command::Pause {
        step: 0,
        kind: onewindow::engine::state::PauseKind::ExpertReview,
        days: 10,
        reason: "组织专家评审".into(),
    };
    act(
        &app,
        "PAUSE-1",
        reviewer("health"),
        pause,
        date(2026, 9, 15),
    )
    .await;
    let view = app.filing("PAUSE-1", date(2026, 9, 16)).await.unwrap();
    assert_eq!(view.pauses.len(), 1);
    let shown = &view.pauses[0];
    assert_eq!(
        (shown.kind.as_str(), shown.stated_days),
        ("专家评审", Some(10))
    );
    assert_eq!(
        shown.expected_until,
        Some(app.calendar().add_workdays(date(2026, 9, 15), 10).unwrap()),
        "ten working days on the real calendar"
    );
    assert_eq!(view.steps[0].level, Some(Level::Paused));
    assert_eq!(view.promised_due, None, "no due date while the clock stops");
    act(
        &app,
        "PAUSE-1",
        reviewer("health"),
        Command::Resume { step: 0 },
        date(2026, 9, 22),
    )
    .await;
    let view = app.filing("PAUSE-1", date(2026, 9, 22)).await.unwrap();
    assert_eq!(view.pauses[0].until, Some(date(2026, 9, 22)));
    assert_eq!(view.pauses[0].expected_until, None, "ended");
    assert!(view.promised_due.is_some());
}

/// A queue names a step as the version its filing is pinned to names it,
/// even after a new version renames it.
#[tokio::test]
async fn queues_label_steps_by_the_filings_own_version() {
    let flows = scratch("flows-versions");
    for entry in std::fs::read_dir(root().join("workflows")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "flow") {
            std::fs::copy(&path, flows.join(path.file_name().unwrap())).unwrap();
        }
    }
    let data = scratch("app-versions");
    let day = date(2026, 9, 14);
    {
        let app = App::open(config(&data, flows.clone())).await.unwrap();
        app.submit(new_filing(&app, "V-OLD", "new_combined", day).await)
            .await
            .unwrap();
        act(
            &app,
            "V-OLD",
            Actor::Window {
                department: "window".into(),
            },
            Command::Accept,
            day,
        )
        .await;
    }
    let path = flows.join("new_combined.flow");
    let text = std::fs::read_to_string(&path).unwrap();
    let version = text
        .lines()
        .find(|l| l.trim_start().starts_with("version "))
        .unwrap();
    let renamed = text.replace(version, "  version 99").replace(
        "\"医疗机构设置审批与执业登记（两证合一）\"",
        "\"医疗机构设置审批（新版）\"",
    );
    std::fs::write(&path, renamed).unwrap();
    let app = App::open(config(&data, flows)).await.unwrap();
    assert_eq!(app.workflow("new_combined").unwrap().version, 99);
    let queue = app
        .queue(&QueuePage {
            department: "health".into(),
            filter: QueueFilter::All,
            today: day,
            limit: 50,
            offset: 0,
        })
        .await
        .unwrap();
    assert_eq!(queue.len(), 1);
    assert_eq!(queue[0].label, "医疗机构设置审批与执业登记（两证合一）");
}

#[tokio::test]
async fn dates_in_a_year_without_its_notice_are_shown_as_provisional() {
    let (app, _) = open(root().join("workflows")).await;
    let day = date(2026, 12, 14);
    let filing = new_filing(&app, "PROV-1", "new_combined", day).await;
    app.submit(filing).await.unwrap();
    let view = app
        .act(Action {
            filing: "PROV-1".into(),
            actor: Actor::Window {
                department: "window".into(),
            },
            command: Command::Accept,
            expected_revision: None,
            key: None,
            account: None,
            now: at(date(2026, 12, 15)),
        })
        .await
        .expect("accepted though 2027 has no calendar file");
    assert!(view.provisional, "{view:?}");
    assert!(view.promised_due.unwrap().year() == 2027);
    let early = new_filing(&app, "PROV-2", "new_combined", date(2026, 9, 14)).await;
    let view = app.submit(early).await.unwrap();
    assert!(!view.provisional);
}

/// An agreement filed, accepted at the window, signed by both parties and
/// filed with the three departments, on the three days given.
async fn agreement_signed_and_filed(
    app: &App,
    filing: NewFiling,
    [accepted, signed, filed]: [Date; 3],
) {
    let id = filing.id.clone().expect("an id");
    app.submit(filing).await.unwrap();
    let window = Actor::Window {
        department: "window".into(),
    };
    act(app, &id, window, Command::Accept, accepted).await;
    for party in ["medical", "eldercare"] {
        let party = Actor::Party {
            party: party.into(),
        };
        act(app, &id, party, Command::Sign { step: 0 }, signed).await;
    }
    for (step, department) in [(1, "health"), (2, "civil"), (3, "township")] {
        act(
            app,
            &id,
            reviewer(department),
            Command::File { step },
            filed,
        )
        .await;
    }
}

/// The text of a filing's rendered agreement, read back with pdftotext,
/// without white space.
async fn agreement_text(app: &App, data: &Path, id: &str) -> String {
    document_text(app, data, id, "signed", "cooperation_agreement").await
}

/// The text of a filing's rendered document of an event and template, as
/// pdftotext reads it, white space removed.
async fn document_text(app: &App, data: &Path, id: &str, event: &str, template: &str) -> String {
    let document = app
        .store()
        .documents_of(id, event)
        .await
        .unwrap()
        .into_iter()
        .find(|d| d.template == template)
        .unwrap_or_else(|| panic!("{id}: no {template} on {event}"));
    let pdf = app
        .store()
        .blobs
        .get(document.sha256.as_ref().expect("rendered"))
        .unwrap();
    let path = data.join(format!("{id}-{template}.pdf"));
    std::fs::write(&path, pdf).unwrap();
    let output = std::process::Command::new("pdftotext")
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) runs");
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .collect()
}

/// The subjects and bodies of the `.eml` messages written under `data`.
fn messages(data: &Path) -> Vec<(String, String)> {
    let Ok(entries) = std::fs::read_dir(data.join("mail")) else {
        return Vec::new();
    };
    entries
        .map(|entry| std::fs::read(entry.unwrap().path()).unwrap())
        .map(|bytes| {
            let message = mail_parser::MessageParser::default()
                .parse(&bytes)
                .expect("a message");
            (
                message.subject().unwrap_or_default().to_string(),
                message.body_text(0).unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// An agreement from 1 March 2027 runs a year (一年一签) and ends on 29
/// February 2028, a leap day in a provisional year (Civil Code art. 202: the
/// day before the anniversary): registered, printed and told as that day,
/// and its renewal reminded 30 days before it — not a day earlier.
#[tokio::test]
async fn an_agreement_whose_renewal_falls_on_29_february() {
    let (app, data) = open(root().join("workflows")).await;
    let mut filing = new_filing(&app, "A-LEAP", "cooperation_agreement", date(2027, 2, 1)).await;
    filing
        .form
        .insert("term_start".into(), serde_json::json!("2027-03-01"));
    agreement_signed_and_filed(
        &app,
        filing,
        [date(2027, 2, 1), date(2027, 2, 3), date(2027, 2, 5)],
    )
    .await;
    let agreements = app.store().agreements().await.unwrap();
    let (start, end) = (&agreements[0].3, &agreements[0].4);
    assert_eq!((start.as_str(), end.as_str()), ("2027-03-01", "2028-02-29"));

    let worker = worker(&app, &data).await;
    worker
        .pass(&app, "worker", at(date(2027, 2, 5)), 100)
        .await
        .unwrap();
    let text = agreement_text(&app, &data, "A-LEAP").await;
    assert!(text.contains("2028年2月29日"), "{text}");

    let renewal = |data: &Path| {
        messages(data)
            .into_iter()
            .filter(|(subject, _)| subject.contains("合作协议即将到期"))
            .collect::<Vec<_>>()
    };
    worker
        .pass(&app, "worker", at(date(2028, 1, 29)), 100)
        .await
        .unwrap();
    assert!(renewal(&data).is_empty(), "not before its day");
    worker
        .pass(&app, "worker", at(date(2028, 1, 30)), 100)
        .await
        .unwrap();
    let told = renewal(&data);
    assert!(!told.is_empty(), "reminded 30 days before 29 February");
    assert!(
        told.iter().all(|(_, body)| body.contains("2028年2月29日")),
        "{told:?}"
    );
}

/// An applicant account of the tests.
async fn applicant_account(app: &App) -> onewindow::app::accounts::Account {
    applicant_named(app, "applicant@onewindow.example.cn", "申请人").await
}

/// A sample's application as a person sends it: its form, none of its
/// facts (the registry's or the applicant's to give), the materials named
/// uploaded as real PDFs.
async fn application(
    app: &App,
    account: &onewindow::app::accounts::Account,
    workflow: &str,
    materials: &[&str],
) -> onewindow::app::Application {
    let answers = sample(workflow);
    let mut uploads = std::collections::BTreeMap::new();
    for material in materials {
        let bytes = onewindow::app::samples::sample_pdf(material);
        let upload = app
            .upload(account, &format!("{material}.pdf"), &bytes)
            .await
            .expect("upload");
        uploads.insert((*material).to_string(), upload);
    }
    onewindow::app::Application {
        workflow: workflow.into(),
        applicant: answers.applicant,
        form: answers.form,
        facts: serde_json::Map::new(),
        materials: uploads,
        signatories: answers.signatories,
        key: None,
    }
}

/// A form or fact value of a filing as its view shows it.
fn field<'v>(
    view: &'v onewindow::app::views::FilingView,
    id: &str,
) -> &'v onewindow::app::views::FieldValue {
    view.form
        .iter()
        .find(|f| f.id == id)
        .unwrap_or_else(|| panic!("{id} in {view:?}"))
}

fn problems(result: Result<onewindow::app::views::FilingView, AppError>) -> Vec<String> {
    match result {
        Err(AppError::Invalid(problems)) => problems.into_iter().map(|p| p.message).collect(),
        other => panic!("expected problems, got {other:?}"),
    }
}

#[tokio::test]
async fn facts_come_from_the_registry_by_credit_code_or_are_declared_with_their_proof() {
    use onewindow::credit_code::CreditCode;
    use onewindow::store::institutions::RegistryRecord;
    let (app, _) = open(root().join("workflows")).await;
    let account = applicant_account(&app).await;
    let today = common::ORDINARY_DAY.date();
    let listed = ["application", "license", "his", "staff"];

    // Unknown to the registry and nothing declared: asked to declare, with
    // the proof named.
    let unknown = application(&app, &account, "insurance_designation", &listed).await;
    let said = problems(app.submit_as(&account, unknown.clone()).await);
    assert_eq!(
        said,
        ["登记系统未掌握本机构的“正式运营月数”，请申报并上传证明材料“正式运营证明（开业日期）”"]
    );
    // Declared without the proof: the proof is asked for.
    let mut declared = unknown.clone();
    declared.facts.insert("months_operating".into(), 7.into());
    let said = problems(app.submit_as(&account, declared.clone()).await);
    assert_eq!(
        said,
        ["申报了“正式运营月数”，请同时上传证明材料“正式运营证明（开业日期）”"]
    );
    // Declared with its proof: filed, the fact marked declared with it.
    let mut proven = application(
        &app,
        &account,
        "insurance_designation",
        &["application", "license", "his", "staff", "operating"],
    )
    .await;
    proven.facts = declared.facts.clone();
    let view = app.submit_as(&account, proven).await.expect("filed");
    // A number to read out on the phone; refused applications took none.
    assert_eq!(view.id, "2026-000001");
    let months = field(&view, "months_operating");
    assert_eq!(months.value, "7");
    assert_eq!(
        months.declared_with.as_deref(),
        Some("正式运营证明（开业日期）")
    );

    // Known to the registry, opened two months ago: told the rule and the
    // day it will hold, whatever the applicant declares.
    let code = CreditCode::parse(unknown.form["credit_code"].as_str().unwrap()).unwrap();
    let opened = date(2026, 9, 10);
    let record = RegistryRecord {
        credit_code: code.clone(),
        name: "茂名康颐医养中心护理院".into(),
        opened_on: Some(opened),
        facts: serde_json::Map::new(),
        source: "测试".into(),
    };
    app.store()
        .record_registry(&record, at(today))
        .await
        .unwrap();
    let said = problems(app.submit_as(&account, declared).await);
    assert_eq!(
        said,
        ["医养结合机构中的医疗机构正式运营3个月后方可提出定点申请：按登记的开业日期（2026年9月10日）计算，自2026年12月11日起可以申请"]
    );
    // Opened long enough ago: filed from the registry, nothing declared,
    // no proof asked.
    let record = RegistryRecord {
        opened_on: Some(date(2026, 1, 5)),
        ..record
    };
    app.store()
        .record_registry(&record, at(today))
        .await
        .unwrap();
    let view = app.submit_as(&account, unknown).await.expect("filed");
    assert_eq!(view.id, "2026-000002");
    let months = field(&view, "months_operating");
    assert_eq!(months.value, "10");
    assert_eq!(months.declared_with, None);
}

#[tokio::test]
async fn family_doctor_files_from_the_registry_s_facts_and_refuses_with_the_condition() {
    use onewindow::credit_code::CreditCode;
    use onewindow::store::institutions::RegistryRecord;
    let (app, _) = open(root().join("workflows")).await;
    let account = applicant_account(&app).await;
    let today = common::ORDINARY_DAY.date();
    let answers = sample("family_doctor");
    let materials = [
        "application",
        "license",
        "team",
        "commitment_letter",
        "systems",
    ];
    let filing = application(&app, &account, "family_doctor", &materials).await;
    let code = CreditCode::parse(filing.form["credit_code"].as_str().unwrap()).unwrap();
    let mut facts = answers.facts.clone();
    facts.insert("insurance_sanction_3y".into(), true.into());
    let record = RegistryRecord {
        credit_code: code,
        name: answers.applicant.clone(),
        opened_on: Some(date(2015, 3, 1)),
        facts,
        source: "测试".into(),
    };
    app.store()
        .record_registry(&record, at(today))
        .await
        .unwrap();
    let said = problems(app.submit_as(&account, filing.clone()).await);
    assert_eq!(
        said,
        ["应为医保定点单位，近三年医保考核合格及以上，无医保违规被暂停、整改、通报情况"]
    );
    let record = RegistryRecord {
        facts: answers.facts.clone(),
        ..record
    };
    app.store()
        .record_registry(&record, at(today))
        .await
        .unwrap();
    let view = app.submit_as(&account, filing).await.expect("filed");
    assert!(view.form.iter().all(|field| field.declared_with.is_none()));
    assert_eq!(
        view.form.iter().filter(|f| f.id.ends_with("_3y")).count(),
        4
    );
}

/// Issue 20: the head extended the limit, the filing's dates moved but its
/// step's did not, the form to extend stayed, and no written notice told
/// the applicant the reasons (行政许可法 art. 42).
#[tokio::test]
async fn an_extension_moves_the_steps_limit_once_and_tells_the_reasons_in_writing() {
    let (app, data) = open(root().join("workflows")).await;
    let filing = new_filing(&app, "EXT-1", "new_combined", date(2026, 11, 16)).await;
    app.submit(filing).await.expect("filed");
    let window = Actor::Window {
        department: "window".into(),
    };
    act(&app, "EXT-1", window, Command::Accept, date(2026, 11, 16)).await;
    let before = app.filing("EXT-1", date(2026, 11, 20)).await.unwrap();
    let head = Actor::Head {
        department: "health".into(),
    };
    let reason = "需组织专家对护理院选址进行现场论证";
    let extend = Command::Extend {
        reason: reason.into(),
    };
    act(
        &app,
        "EXT-1",
        head.clone(),
        extend.clone(),
        date(2026, 11, 20),
    )
    .await;
    let after = app.filing("EXT-1", date(2026, 11, 20)).await.unwrap();
    let calendar = app.store().calendar();
    for (old, new) in before.steps.iter().zip(&after.steps) {
        let (Some(old_due), Some(new_due)) = (old.due_on, new.due_on) else {
            continue;
        };
        assert_eq!(
            calendar.workdays_between(old_due, new_due).unwrap(),
            10,
            "{}: the step's own limit moves by the extension",
            new.label
        );
    }
    assert!(after.steps.iter().any(|s| s.due_on.is_some()));
    let head_account = app
        .add_account(
            onewindow::app::accounts::NewAccount {
                email: "head@health.example.cn".into(),
                name: "卫健局 局长".into(),
                role: onewindow::app::accounts::Role::Head,
                department: Some("health".into()),
                password: "a long enough passphrase 2026".into(),
            },
            "test",
            at(date(2026, 11, 20)),
        )
        .await
        .unwrap();
    let detail = app
        .filing_detail(&head_account, "EXT-1", date(2026, 11, 20))
        .await
        .unwrap();
    assert!(
        !detail
            .actions
            .filing
            .contains(&onewindow::app::actions::Done::Extend),
        "granted once: not offered again"
    );
    let again = app
        .act(Action {
            filing: "EXT-1".into(),
            actor: head,
            command: extend,
            expected_revision: None,
            key: None,
            account: None,
            now: at(date(2026, 11, 23)),
        })
        .await;
    assert!(again.is_err(), "{again:?}");
    // The written notice, with the reasons and the new date, and mailed.
    let worker = worker(&app, &data).await;
    worker
        .pass(&app, "worker", at(date(2026, 11, 20)), 100)
        .await
        .unwrap();
    let text = document_text(&app, &data, "EXT-1", "extended", "extension_notice").await;
    assert!(text.contains("延长办理期限通知书"), "{text}");
    assert!(text.contains(reason), "{text}");
    assert!(text.contains("第四十二条"), "{text}");
    let due = after.promised_due.expect("a due date");
    assert!(
        text.contains(&onewindow::calendar::chinese_date(due)),
        "the new date, as Chinese documents write it: {text}"
    );
    assert!(
        messages(&data)
            .iter()
            .any(|(subject, body)| subject.contains("延长") && body.contains(reason)),
        "{:?}",
        messages(&data)
    );
}

/// An applicant account of the tests, by address and name.
async fn applicant_named(app: &App, email: &str, name: &str) -> onewindow::app::accounts::Account {
    let new = onewindow::app::accounts::NewAccount {
        email: email.into(),
        name: name.into(),
        role: onewindow::app::accounts::Role::Applicant,
        department: None,
        password: "a long enough passphrase 2026".into(),
    };
    app.add_account(new, "test", at(common::ORDINARY_DAY.date()))
        .await
        .expect("account")
}

/// Issue 20: the parties of an agreement signed only through the
/// application layer. Now the application names who signs for each party;
/// each signs for itself (谁签谁负责), only for its own party; a signatory
/// sees the filing but acts as no applicant (it neither withdraws nor
/// rates what someone else filed); a stranger sees nothing; an application
/// that names no signatory, or a malformed one, is refused with the party.
#[tokio::test]
async fn each_party_signs_for_itself_and_only_the_applicant_acts_as_the_applicant() {
    use onewindow::app::actions::{Act, ActionRequest};
    let (app, _) = open(root().join("workflows")).await;
    let applicant = applicant_account(&app).await;
    let medical = applicant_named(&app, "hospital@example.cn", "甲方签章人").await;
    let eldercare = applicant_named(&app, "home@example.cn", "乙方签章人").await;
    let stranger = applicant_named(&app, "stranger@example.cn", "他人").await;
    let materials = ["draft", "license_a", "license_b", "fee_tables"];

    let mut unnamed = application(&app, &applicant, "cooperation_agreement", &materials).await;
    unnamed.signatories = std::collections::BTreeMap::from([
        ("medical".to_string(), "not an address".to_string()),
        ("nobody".to_string(), "x@example.cn".to_string()),
    ]);
    let said = problems(app.submit_as(&applicant, unnamed).await);
    for expected in [
        "甲方（医疗机构）签章人的电子邮箱“not an address”格式不正确",
        "请填写乙方（养老机构）签章人的电子邮箱",
        "本事项没有签约方“nobody”",
    ] {
        assert!(said.iter().any(|s| s == expected), "{expected} in {said:?}");
    }

    let mut named = application(&app, &applicant, "cooperation_agreement", &materials).await;
    named.signatories = std::collections::BTreeMap::from([
        ("medical".to_string(), medical.email.clone()),
        ("eldercare".to_string(), eldercare.email.clone()),
    ]);
    let view = app.submit_as(&applicant, named).await.expect("filed");
    let id = view.id.clone();
    let today = common::ORDINARY_DAY.date();
    act(
        &app,
        &id,
        Actor::Window {
            department: "window".into(),
        },
        Command::Accept,
        today,
    )
    .await;
    let step = app
        .workflow("cooperation_agreement")
        .unwrap()
        .steps
        .iter()
        .position(|s| s.kind == onewindow::dsl::ir::StepKind::Signing)
        .expect("a signing step");

    assert!(
        app.filing_for(&stranger, &id, today).await.is_err(),
        "a stranger sees nothing"
    );
    let detail = app
        .filing_detail(&medical, &id, today)
        .await
        .expect("the signatory sees it");
    assert_eq!(detail.actions.signs, vec![(step, "medical".to_string())]);
    assert!(
        !detail.own && detail.query_code.is_none(),
        "not the signatory's own filing"
    );
    assert!(
        detail.actions.filing.is_empty(),
        "no withdrawal: {:?}",
        detail.actions
    );
    let sign = |party: &str| ActionRequest {
        act: Act::Sign {
            step,
            party: party.into(),
        },
        revision: None,
    };
    let withdraw = ActionRequest {
        act: Act::Withdraw {
            reason: "不再办理".into(),
        },
        revision: None,
    };
    let refused = app.carry_out(&medical, &id, &withdraw).await.unwrap_err();
    assert!(
        refused.to_string().contains("只有提交申请的申请人本人"),
        "{refused}"
    );
    // Not for the other party; not by the applicant who signs for no one.
    assert!(app
        .carry_out(&medical, &id, &sign("eldercare"))
        .await
        .is_err());
    assert!(app
        .carry_out(&applicant, &id, &sign("medical"))
        .await
        .is_err());
    assert!(app
        .carry_out(&stranger, &id, &sign("medical"))
        .await
        .is_err());

    app.carry_out(&medical, &id, &sign("medical"))
        .await
        .expect("medical signs");
    let again = app.carry_out(&medical, &id, &sign("medical")).await;
    assert!(again.is_err(), "a party signs once");
    app.carry_out(&eldercare, &id, &sign("eldercare"))
        .await
        .expect("eldercare signs");
    let view = app.filing(&id, today).await.unwrap();
    assert_eq!(view.steps[step].state, "done", "{view:?}");
}
