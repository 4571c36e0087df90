//! One conformance suite for both backends: SQLite in a temporary file and
//! PostgreSQL from `ONEWINDOW_TEST_POSTGRES` (an admin URL; `./run test`
//! starts a throwaway server and sets it). Each test gets a fresh database.
//! Without PostgreSQL the suite fails: a silent skip is not a pass.

use std::path::PathBuf;

mod common;
use common::{calendar, fresh_databases, open, root, workflows};

use jiff::civil::{date, Date, DateTime, Time};
use onewindow::credit_code::CreditCode;
use onewindow::engine::{validate, Actor, Command, EngineError, Facts, Status, Submission};
use onewindow::store::institutions::RegistryRecord;
use onewindow::store::{Options, Request, Store, StoreError};
use sqlx::Executor as _;

fn at(day: Date) -> DateTime {
    DateTime::from_parts(day, Time::constant(10, 0, 0, 0))
}

fn sample_submission(store: &Store, workflow: &str) -> Submission {
    let workflow = store.workflow(workflow).expect("workflow");
    let answers = onewindow::project::read_answers(
        &root().join(format!("workflows/samples/{}.json", workflow.id)),
    )
    .expect("sample");
    answers.submission(&workflow).expect("sample valid")
}

async fn submit(store: &Store, filing: &str, workflow: &str, day: Date) {
    let submission = sample_submission(store, workflow);
    let mut request = Request::new(
        filing,
        Actor::Applicant,
        Command::Submit { submission },
        at(day),
    );
    request.workflow = Some(workflow.to_string());
    store.apply(request).await.expect("submit");
}

async fn act(
    store: &Store,
    filing: &str,
    actor: Actor,
    command: Command,
    day: Date,
) -> Result<onewindow::store::Applied, StoreError> {
    store
        .apply(Request::new(filing, actor, command, at(day)))
        .await
}

fn window() -> Actor {
    Actor::Window {
        department: "window".into(),
    }
}

fn reviewer(department: &str) -> Actor {
    Actor::Reviewer {
        department: department.into(),
    }
}

/// A `new_combined` filing submitted on `submitted`, accepted the next day,
/// and approved by civil affairs and then health on the two days after.
async fn granted(store: &Store, filing: &str, submitted: Date) -> onewindow::store::Applied {
    let day = |n: i64| {
        submitted
            .checked_add(jiff::Span::new().days(n))
            .expect("date")
    };
    submit(store, filing, "new_combined", submitted).await;
    act(store, filing, window(), Command::Accept, day(1))
        .await
        .expect("accept");
    act(
        store,
        filing,
        reviewer("civil"),
        Command::File { step: 1 },
        day(2),
    )
    .await
    .expect("civil");
    act(
        store,
        filing,
        reviewer("health"),
        Command::Approve { step: 0 },
        day(3),
    )
    .await
    .expect("health")
}

#[tokio::test]
async fn a_filing_from_submission_to_permit() {
    for url in fresh_databases().await {
        let store = open(&url).await;
        let applied = granted(&store, "F-1", date(2026, 9, 14)).await;
        assert_eq!(applied.filing.status, Status::Decided, "{url}");
        assert_eq!(applied.revision, 4);
        let numbers: Vec<Option<String>> =
            applied.documents.iter().map(|d| d.number.clone()).collect();
        assert!(
            numbers.contains(&Some("医养2026卫00001".to_string())),
            "{url}: {numbers:?}"
        );
        let (filing, revision) = store.filing("F-1").await.expect("stored");
        assert_eq!((filing.status, revision), (Status::Decided, 4));
        assert_eq!(
            store.count("audit").await.unwrap(),
            4,
            "{url}: one entry per transition"
        );
        assert!(
            store.count("outbox").await.unwrap() >= 4,
            "{url}: notifications and renders queued"
        );
        // A second filing's permit takes the next number of the year, without gaps.
        let second = granted(&store, "F-2", date(2026, 9, 14)).await;
        let numbers: Vec<Option<String>> =
            second.documents.iter().map(|d| d.number.clone()).collect();
        assert!(
            numbers.contains(&Some("医养2026卫00002".to_string())),
            "{url}: {numbers:?}"
        );
        assert!(store.verify_audit().await.unwrap().is_intact(), "{url}");
    }
}

#[tokio::test]
async fn a_retried_request_applies_once() {
    for url in fresh_databases().await {
        let store = open(&url).await;
        submit(&store, "F-1", "new_combined", date(2026, 9, 14)).await;
        let mut request = Request::new("F-1", window(), Command::Accept, at(date(2026, 9, 15)));
        request.key = Some("accept-F-1-clerk-7".into());
        let first = store.apply(request.clone()).await.expect("first");
        let again = store.apply(request).await.expect("retry");
        assert!(!first.replayed && again.replayed, "{url}");
        assert_eq!(first.revision, again.revision);
        assert_eq!(
            store.count("audit").await.unwrap(),
            2,
            "{url}: submit and one accept"
        );
    }
}

#[tokio::test]
async fn two_reviewers_on_one_step_one_wins() {
    for url in fresh_databases().await {
        let store = open(&url).await;
        submit(&store, "F-1", "new_combined", date(2026, 9, 14)).await;
        act(&store, "F-1", window(), Command::Accept, date(2026, 9, 15))
            .await
            .unwrap();
        let approve = act(
            &store,
            "F-1",
            reviewer("health"),
            Command::Approve { step: 0 },
            date(2026, 9, 16),
        );
        let refuse = act(
            &store,
            "F-1",
            reviewer("health"),
            Command::Refuse {
                step: 0,
                reasons: vec!["不符合设置规划".into()],
            },
            date(2026, 9, 16),
        );
        let (approve, refuse) = tokio::join!(approve, refuse);
        let outcomes = [approve.is_ok(), refuse.is_ok()];
        assert_eq!(
            outcomes.iter().filter(|ok| **ok).count(),
            1,
            "{url}: exactly one wins"
        );
        let loser = match (approve, refuse) {
            (Ok(_), Err(loser)) | (Err(loser), Ok(_)) => loser,
            _ => unreachable!("exactly one won"),
        };
        assert!(
            matches!(
                &loser,
                StoreError::Rejected(
                    EngineError::StepNotActive { .. } | EngineError::WrongState { .. }
                )
            ),
            "{url}: {loser}"
        );
        // A reviewer who states the revision they saw gets a conflict.
        let (_, seen) = store.filing("F-1").await.unwrap();
        let mut stale = Request::new(
            "F-1",
            reviewer("civil"),
            Command::File { step: 1 },
            at(date(2026, 9, 17)),
        );
        stale.expected_revision = Some(seen - 1);
        let error = store.apply(stale).await.unwrap_err();
        assert!(
            matches!(error, StoreError::Conflict { .. }),
            "{url}: {error}"
        );
        assert!(error.to_string().contains("reload"), "{error}");
    }
}

#[tokio::test]
async fn the_audit_chain_detects_edits_and_deletions() {
    for url in fresh_databases().await {
        let store = open(&url).await;
        submit(&store, "F-1", "new_combined", date(2026, 9, 14)).await;
        act(&store, "F-1", window(), Command::Accept, date(2026, 9, 15))
            .await
            .unwrap();
        act(
            &store,
            "F-1",
            reviewer("civil"),
            Command::File { step: 1 },
            date(2026, 9, 16),
        )
        .await
        .unwrap();
        let verification = store.verify_audit().await.unwrap();
        assert!(
            verification.is_intact(),
            "{url}: {:?}",
            verification.problems
        );
        assert_eq!(verification.entries, 3);
        let pool = store.pool();
        pool.execute("UPDATE audit SET comment = '已核实' WHERE seq = 2")
            .await
            .unwrap();
        let verification = store.verify_audit().await.unwrap();
        assert!(
            verification
                .problems
                .iter()
                .any(|p| p.contains("entry 2 was altered")),
            "{url}: {:?}",
            verification.problems
        );
        pool.execute("UPDATE audit SET comment = '' WHERE seq = 2")
            .await
            .unwrap();
        assert!(
            store.verify_audit().await.unwrap().is_intact(),
            "{url}: restored"
        );
        pool.execute("DELETE FROM audit WHERE seq = 3")
            .await
            .unwrap();
        let verification = store.verify_audit().await.unwrap();
        assert!(
            verification.problems.iter().any(|p| p.contains("removed")),
            "{url}: {:?}",
            verification.problems
        );
        pool.execute("DELETE FROM audit WHERE seq = 1")
            .await
            .unwrap();
        let verification = store.verify_audit().await.unwrap();
        assert!(
            verification
                .problems
                .iter()
                .any(|p| p.contains("entry 1 is missing")),
            "{url}: {:?}",
            verification.problems
        );
    }
}

#[tokio::test]
async fn timers_fire_once_and_only_when_due() {
    for url in fresh_databases().await {
        let store = open(&url).await;
        submit(&store, "F-1", "new_combined", date(2026, 2, 12)).await;
        let early = store
            .fire_due_timers("worker-a", at(date(2026, 2, 26)), 100)
            .await
            .unwrap();
        assert_eq!(
            early.claimed, 0,
            "{url}: not due before the day after the intake limit"
        );
        let run = store
            .fire_due_timers("worker-a", at(date(2026, 2, 27)), 100)
            .await
            .unwrap();
        assert_eq!((run.claimed, run.fired), (1, 1), "{url}: {run:?}");
        let (filing, _) = store.filing("F-1").await.unwrap();
        assert!(filing.deemed_accepted);
        assert_eq!(filing.accepted_on, Some(date(2026, 2, 12)));
        let again = store
            .fire_due_timers("worker-b", at(date(2026, 2, 28)), 100)
            .await
            .unwrap();
        assert_eq!(again.fired, 0, "{url}: {again:?}");
    }
}

#[tokio::test]
async fn a_changed_definition_needs_a_new_version() {
    for url in fresh_databases().await {
        drop(open(&url).await);
        let mut changed = workflows();
        let new_combined = changed.iter_mut().find(|w| w.id == "new_combined").unwrap();
        let shipped = new_combined.version;
        new_combined.promised_limit -= 1;
        let error = Store::open(Options {
            url: url.clone(),
            workflows: changed.clone(),
            calendar: calendar(),
            blob_dir: PathBuf::from("/tmp"),
            max_upload: 1,
        })
        .await
        .err()
        .expect("refused");
        assert!(
            matches!(error, StoreError::WorkflowChanged { ref id, version } if id == "new_combined" && version == shipped),
            "{url}: {error}"
        );
        // With a new version number, old filings keep their version.
        changed
            .iter_mut()
            .find(|w| w.id == "new_combined")
            .unwrap()
            .version = shipped + 1;
        let store = Store::open(Options {
            url: url.clone(),
            workflows: changed,
            calendar: calendar(),
            blob_dir: PathBuf::from("/tmp"),
            max_upload: 1,
        })
        .await
        .unwrap();
        assert_eq!(store.workflow("new_combined").unwrap().version, shipped + 1);
    }
}

#[tokio::test]
async fn state_survives_reopening() {
    for url in fresh_databases().await {
        {
            let store = open(&url).await;
            submit(&store, "F-1", "cooperation_agreement", date(2026, 9, 14)).await;
            act(&store, "F-1", window(), Command::Accept, date(2026, 9, 14))
                .await
                .unwrap();
        }
        let store = open(&url).await;
        let (filing, revision) = store.filing("F-1").await.unwrap();
        assert_eq!((filing.status, revision), (Status::InReview, 2), "{url}");
        let medical = Actor::Party {
            party: "medical".into(),
        };
        act(
            &store,
            "F-1",
            medical,
            Command::Sign { step: 0 },
            date(2026, 9, 15),
        )
        .await
        .unwrap();
        assert!(store.verify_audit().await.unwrap().is_intact());
    }
}

#[tokio::test]
async fn approvals_register_institutions_by_credit_code_and_their_opening_feeds_eligibility() {
    // The credit code new_combined's sample gives.
    let code = CreditCode::parse("91440900MA5100005H").unwrap();
    for url in fresh_databases().await {
        let store = open(&url).await;
        assert_eq!(
            store.registry(&code).await.unwrap(),
            None,
            "{url}: unknown before"
        );
        granted(&store, "F-1", date(2026, 3, 2)).await;
        assert_eq!(store.count("institutions").await.unwrap(), 1, "{url}");
        let known = store.registry(&code).await.unwrap().expect("registered");
        assert_eq!(known.opened_on, None, "{url}: not opened yet");
        assert!(!known
            .facts_on(date(2026, 8, 15))
            .contains_key("months_operating"));
        store.record_opening("F-1", date(2026, 6, 1)).await.unwrap();
        let known = store.registry(&code).await.unwrap().expect("registered");
        assert_eq!(known.opened_on, Some(date(2026, 6, 1)), "{url}");
        let designation = store.workflow("insurance_designation").unwrap();
        let form = serde_json::json!({
            "name": "茂名康颐医养中心护理院",
            "credit_code": code.as_str(),
            "license_number": "PDY98765444090411A1002",
            "medical_kind": "护理院"
        });
        let form = form.as_object().unwrap();
        // Two months after opening: not yet eligible (000 三(十八)).
        let facts = Facts::registry(known.facts_on(date(2026, 8, 15)));
        assert_eq!(facts.registry["months_operating"], 2, "{url}");
        let problems =
            validate(&designation, "康颐", form, &facts, Default::default()).unwrap_err();
        assert_eq!(
            problems[0].message,
            "医养结合机构中的医疗机构正式运营3个月后方可提出定点申请"
        );
        // The third month's period ends on 1 September (Civil Code arts.
        // 201–202): eligible from the 2nd, not on the 1st.
        let facts = Facts::registry(known.facts_on(date(2026, 9, 1)));
        assert_eq!(facts.registry["months_operating"], 2, "{url}");
        let facts = Facts::registry(known.facts_on(date(2026, 9, 2)));
        assert_eq!(facts.registry["months_operating"], 3, "{url}");
        assert!(validate(&designation, "康颐", form, &facts, Default::default()).is_ok());
        assert!(matches!(
            store.record_opening("NO-SUCH", date(2026, 6, 1)).await,
            Err(StoreError::NotFound(_))
        ));
    }
}

#[tokio::test]
async fn the_registry_keeps_what_other_systems_report_by_credit_code() {
    let code = CreditCode::parse("52410100MJA000004N").unwrap();
    let at = date(2026, 11, 16).at(9, 0, 0, 0);
    for url in fresh_databases().await {
        let store = open(&url).await;
        let mut record = RegistryRecord {
            credit_code: code.clone(),
            name: "郑州仁和门诊部".into(),
            opened_on: Some(date(2019, 5, 6)),
            facts: serde_json::json!({"valid_license": true, "insurance_designated": false})
                .as_object()
                .unwrap()
                .clone(),
            source: "卫健监管系统".into(),
        };
        store.record_registry(&record, at).await.unwrap();
        // Reported again: replaced, not added.
        record
            .facts
            .insert("insurance_designated".into(), true.into());
        store.record_registry(&record, at).await.unwrap();
        let known = store.registry(&code).await.unwrap().expect("recorded");
        assert_eq!(known.name, "郑州仁和门诊部", "{url}");
        let facts = known.facts_on(date(2026, 11, 16));
        assert_eq!(facts["insurance_designated"], true, "{url}");
        assert_eq!(facts["valid_license"], true, "{url}");
        assert_eq!(
            facts["months_operating"], 90,
            "{url}: May 2019 to November 2026"
        );
    }
}

#[tokio::test]
async fn agreements_are_registered_with_a_renewal_reminder_before_the_year_ends() {
    for url in fresh_databases().await {
        let store = open(&url).await;
        submit(&store, "A-1", "cooperation_agreement", date(2026, 11, 2)).await;
        act(&store, "A-1", window(), Command::Accept, date(2026, 11, 2))
            .await
            .unwrap();
        for party in ["medical", "eldercare"] {
            let actor = Actor::Party {
                party: party.into(),
            };
            act(
                &store,
                "A-1",
                actor,
                Command::Sign { step: 0 },
                date(2026, 11, 4),
            )
            .await
            .unwrap();
        }
        for (step, department) in [(1, "health"), (2, "civil"), (3, "township")] {
            act(
                &store,
                "A-1",
                reviewer(department),
                Command::File { step },
                date(2026, 11, 6),
            )
            .await
            .unwrap();
        }
        let agreements = store.agreements().await.unwrap();
        assert_eq!(
            agreements,
            vec![(
                "A-1".to_string(),
                "风平镇卫生院".to_string(),
                "芒市中心敬老院".to_string(),
                "2026-12-01".to_string(),
                "2027-11-30".to_string()
            )],
            "{url}: one year from the term's start (一年一签)"
        );
        // The reminder waits until 30 days before the term ends.
        let at = |day: Date| DateTime::from_parts(day, Time::constant(12, 0, 0, 0));
        let renewal = |rows: Vec<onewindow::store::OutboxRow>| {
            rows.into_iter()
                .filter(|r| matches!(&r.job, onewindow::store::outbox::Job::Notify(n) if n.event == onewindow::dsl::ir::NotifyEvent::Renewal))
                .count()
        };
        let early = store
            .claim_outbox(
                onewindow::store::outbox::Kind::Notify,
                "mailer",
                at(date(2027, 10, 30)),
                60,
                1000,
            )
            .await
            .unwrap();
        assert_eq!(renewal(early), 0, "{url}");
        let due = store
            .claim_outbox(
                onewindow::store::outbox::Kind::Notify,
                "mailer",
                at(date(2027, 10, 31)),
                60,
                1000,
            )
            .await
            .unwrap();
        assert_eq!(renewal(due), 1, "{url}");
    }
}

#[tokio::test]
async fn uploads_are_stored_by_content_with_limits() {
    for url in fresh_databases().await {
        let store = open(&url).await;
        let now = DateTime::from_parts(date(2026, 9, 14), Time::constant(9, 0, 0, 0));
        let pdf = onewindow::app::samples::sample_pdf("申请书");
        let upload = store
            .store_upload("owner@applicant.cn", "申请书.pdf", "PDF", &pdf, now)
            .await
            .expect("stored");
        assert_eq!(
            (upload.kind.as_str(), upload.size),
            ("pdf", pdf.len() as u64)
        );
        assert_eq!(store.blobs.get(&upload.sha256).unwrap(), pdf, "{url}");
        let again = store
            .store_upload("owner@applicant.cn", "副本.pdf", "pdf", &pdf, now)
            .await
            .expect("same content");
        assert_eq!(again.sha256, upload.sha256);
        assert_eq!(
            store.count("uploads").await.unwrap(),
            1,
            "{url}: stored once by content"
        );
        let error = store
            .store_upload(
                "owner@applicant.cn",
                "x.pdf",
                "pdf",
                b"<html><script>alert(1)</script>",
                now,
            )
            .await
            .unwrap_err();
        assert!(error.to_string().contains("不是PDF格式"), "{error}");
        let error = store
            .store_upload(
                "owner@applicant.cn",
                "big.pdf",
                "pdf",
                &vec![b'%'; 21 * 1024 * 1024],
                now,
            )
            .await
            .unwrap_err();
        assert!(error.to_string().contains("文件过大"), "{error}");
        assert_eq!(
            store.count("uploads").await.unwrap(),
            1,
            "{url}: refused files leave nothing"
        );
        // An upload is its sender's: another account naming its hash finds
        // nothing, as with a hash never uploaded; sending the same bytes
        // makes it theirs too, stored once.
        let hashes = [upload.sha256.as_str()];
        let mine = store
            .upload_records("owner@applicant.cn", &hashes)
            .await
            .unwrap();
        assert_eq!(
            mine.get(&upload.sha256),
            Some(&(pdf.len() as u64, "pdf".to_string()))
        );
        let theirs = store
            .upload_records("other@applicant.cn", &hashes)
            .await
            .unwrap();
        assert!(theirs.is_empty(), "{url}: {theirs:?}");
        store
            .store_upload("other@applicant.cn", "同一文件.pdf", "pdf", &pdf, now)
            .await
            .unwrap();
        let theirs = store
            .upload_records("other@applicant.cn", &hashes)
            .await
            .unwrap();
        assert_eq!(theirs.len(), 1, "{url}");
        assert_eq!(store.count("uploads").await.unwrap(), 1, "{url}");
    }
}

#[tokio::test]
async fn issued_documents_are_rendered_stored_and_verifiable() {
    let renderer =
        onewindow::documents::Renderer::new(&root().join("templates")).expect("renderer");
    for url in fresh_databases().await {
        let store = open(&url).await;
        let applied = granted(&store, "F-1", date(2026, 9, 14)).await;
        let now = DateTime::from_parts(date(2026, 9, 17), Time::constant(12, 0, 0, 0));
        let run = onewindow::app::worker::render_documents(
            &store,
            &renderer,
            "renderer",
            now,
            &onewindow::links::Links::new("https://onewindow.example.gov.cn"),
        )
        .await
        .unwrap();
        // Acceptance notice; grant decision, licence and civil affairs' receipt.
        assert_eq!((run.rendered, run.failed), (4, 0), "{url}");
        let licence = applied
            .documents
            .iter()
            .find(|d| d.template == "medical_license")
            .expect("licence issued");
        let number = licence.number.clone().expect("numbered");
        let record = store
            .document(&licence.verify_code)
            .await
            .unwrap()
            .expect("stored");
        let sha256 = record.sha256.clone().expect("rendered");
        let pdf = store.blobs.get(&sha256).expect("content-addressed");
        let path =
            std::env::temp_dir().join(format!("onewindow-licence-{}.pdf", std::process::id()));
        std::fs::write(&path, &pdf).unwrap();
        let text = std::process::Command::new("pdftotext")
            .arg(&path)
            .arg("-")
            .output()
            .expect("pdftotext");
        let text: String = String::from_utf8_lossy(&text.stdout)
            .split_whitespace()
            .collect();
        for phrase in [
            "医疗机构执业许可证",
            "茂名康颐医养中心",
            "护理院",
            number.as_str(),
            &licence.verify_code,
        ] {
            assert!(text.contains(phrase), "{url}: {phrase:?} in {text}");
        }
        let verified = store
            .verify_document(&number, &licence.verify_code)
            .await
            .unwrap()
            .expect("genuine");
        assert_eq!(verified.department, "茂名市卫生健康局");
        assert_eq!(
            verified.holder, "茂名康颐医养中心",
            "the institution the licence names, not the company that applied"
        );
        assert_eq!(verified.issued_on, "2026-09-17");
        assert_eq!(verified.sha256, sha256);
        // A tampered number or code is not found.
        assert!(store
            .verify_document("医养2026卫00002", &licence.verify_code)
            .await
            .unwrap()
            .is_none());
        let mut forged = licence.verify_code.clone();
        forged.replace_range(0..1, if forged.starts_with('A') { "B" } else { "A" });
        assert!(store
            .verify_document(&number, &forged)
            .await
            .unwrap()
            .is_none());
        // Rendering again gives the same bytes.
        let workflow = store.workflow("new_combined").unwrap();
        let (filing, _) = store.filing("F-1").await.unwrap();
        let outcome = &workflow.outcomes[usize::try_from(record.outcome).unwrap()];
        let facts = onewindow::documents::DocumentFacts {
            issued_by: &record.issued_by,
            number: record.number.as_deref(),
            verify_code: &record.verify_code,
            verify_url: format!(
                "https://onewindow.example.gov.cn/verify/{}",
                record.verify_code
            ),
            issued_on: date(2026, 9, 17),
            due_on: None,
            due_note: "",
        };
        let data = onewindow::documents::document_data(&workflow, &filing, outcome, &facts);
        let again = renderer
            .render(
                "medical_license",
                &data,
                &onewindow::documents::Meta {
                    ident: number.clone(),
                    date: date(2026, 9, 17),
                },
            )
            .unwrap();
        assert!(
            again == pdf,
            "{url}: the same document renders to the same bytes"
        );
    }
}

#[tokio::test]
async fn queues_follow_every_transition_in_the_same_commit() {
    use onewindow::engine::clock::{self, Level};
    use onewindow::store::read::{QueueFilter, QueuePage};
    let page = |department: &str, today: Date, filter: QueueFilter| QueuePage {
        department: department.into(),
        filter,
        today,
        limit: 50,
        offset: 0,
    };
    for url in fresh_databases().await {
        let store = open(&url).await;
        let workflow = store.workflow("new_combined").unwrap();
        submit(&store, "Q-1", "new_combined", date(2026, 9, 14)).await;
        // At the window: intake, due by the intake limit.
        let (filing, _) = store.filing("Q-1").await.unwrap();
        let intake = store
            .queue(&page("window", date(2026, 9, 14), QueueFilter::All))
            .await
            .unwrap();
        assert_eq!(intake.len(), 1, "{url}");
        assert_eq!(intake[0].step, None, "{url}");
        assert_eq!(
            intake[0].due_on,
            clock::intake_due(&workflow, &filing, &store.calendar()).unwrap(),
            "{url}"
        );
        assert_eq!(intake[0].applicant, "茂名康颐医养有限公司");
        act(&store, "Q-1", window(), Command::Accept, date(2026, 9, 15))
            .await
            .unwrap();
        let (filing, _) = store.filing("Q-1").await.unwrap();
        assert!(store
            .queue(&page("window", date(2026, 9, 15), QueueFilter::All))
            .await
            .unwrap()
            .is_empty());
        // Both departments at once, each with the clock's due date and level.
        for (department, step) in [("health", 0), ("civil", 1)] {
            let due = clock::step_due(&workflow, &filing, &store.calendar(), step).unwrap();
            let queue = store
                .queue(&page(department, date(2026, 9, 15), QueueFilter::All))
                .await
                .unwrap();
            assert_eq!(queue.len(), 1, "{url} {department}");
            assert_eq!((queue[0].step, queue[0].due_on), (Some(step), due));
            assert_eq!(queue[0].level, Level::Green);
            let late = due.unwrap().tomorrow().unwrap();
            let overdue = store
                .queue(&page(department, late, QueueFilter::Overdue))
                .await
                .unwrap();
            assert_eq!(overdue.len(), 1, "{url} {department}");
            assert_eq!(overdue[0].level, Level::Red);
            for day in [due.unwrap(), date(2026, 9, 16)] {
                let expected = clock::level(&workflow, due, day, &store.calendar()).unwrap();
                let listed = store
                    .queue(&page(department, day, QueueFilter::All))
                    .await
                    .unwrap();
                assert_eq!(listed[0].level, expected, "{url} {department} {day}");
            }
        }
        // Claims: one holder at a time, and the filters see them.
        let now = at(date(2026, 9, 15));
        assert!(store.claim_step("Q-1", Some(0), "张三", now).await.unwrap());
        assert!(!store.claim_step("Q-1", Some(0), "李四", now).await.unwrap());
        let mine = store
            .queue(&page(
                "health",
                date(2026, 9, 15),
                QueueFilter::ClaimedBy("张三".into()),
            ))
            .await
            .unwrap();
        assert_eq!(mine[0].claimed_by.as_deref(), Some("张三"));
        assert!(store
            .queue(&page("health", date(2026, 9, 15), QueueFilter::Unclaimed))
            .await
            .unwrap()
            .is_empty());
        store.release_step("Q-1", Some(0)).await.unwrap();
        assert!(store.claim_step("Q-1", Some(0), "李四", now).await.unwrap());
        // Decided steps leave the queues; the applicant's list shows the decision.
        act(
            &store,
            "Q-1",
            reviewer("civil"),
            Command::File { step: 1 },
            date(2026, 9, 16),
        )
        .await
        .unwrap();
        assert!(store
            .queue(&page("civil", date(2026, 9, 16), QueueFilter::All))
            .await
            .unwrap()
            .is_empty());
        assert_eq!(
            store
                .queue(&page("health", date(2026, 9, 16), QueueFilter::All))
                .await
                .unwrap()
                .len(),
            1,
            "parallel steps never wait on each other"
        );
        act(
            &store,
            "Q-1",
            reviewer("health"),
            Command::Approve { step: 0 },
            date(2026, 9, 17),
        )
        .await
        .unwrap();
        assert!(store
            .queue(&page("health", date(2026, 9, 17), QueueFilter::All))
            .await
            .unwrap()
            .is_empty());
        let email = filing
            .applicant_email
            .clone()
            .expect("the sample has an e-mail");
        let mine = store.filings_of(&email).await.unwrap();
        assert_eq!(mine.len(), 1, "{url}");
        assert_eq!(mine[0].status, Status::Decided);
        assert_eq!(mine[0].decided_on, Some(date(2026, 9, 17)));
    }
}

/// A database from before the read side: its filings are listed and queued
/// after the first open, from their states.
#[tokio::test]
async fn filings_stored_before_the_read_side_are_listed_after_the_first_open() {
    use onewindow::store::read::{QueueFilter, QueuePage};
    for url in fresh_databases().await {
        {
            let store = open(&url).await;
            granted(&store, "OLD-1", date(2026, 9, 14)).await;
            submit(&store, "OLD-2", "new_combined", date(2026, 9, 14)).await;
            act(
                &store,
                "OLD-2",
                window(),
                Command::Accept,
                date(2026, 9, 15),
            )
            .await
            .unwrap();
            // As the store left it before the read side existed.
            for statement in [
                "DELETE FROM active_steps",
                "DELETE FROM read_side_built",
                "UPDATE filings SET applicant = '', applicant_email = NULL, received_on = NULL, accepted_on = NULL, decided_on = NULL",
            ] {
                store.pool().execute(statement).await.unwrap();
            }
            assert!(store
                .filings_of("applicant@onewindow.example.cn")
                .await
                .unwrap()
                .is_empty());
        }
        let store = open(&url).await;
        let listed = store
            .filings_of("applicant@onewindow.example.cn")
            .await
            .unwrap();
        assert_eq!(listed.len(), 2, "{url}");
        let queue = store
            .queue(&QueuePage {
                department: "health".into(),
                filter: QueueFilter::All,
                today: date(2026, 9, 15),
                limit: 50,
                offset: 0,
            })
            .await
            .unwrap();
        assert_eq!(queue.len(), 1, "{url}: only the filing still in review");
        assert_eq!(queue[0].filing, "OLD-2");
        assert_eq!(queue[0].applicant, "茂名康颐医养有限公司");
        // Built once: a second open changes nothing.
        drop(store);
        let store = open(&url).await;
        assert_eq!(store.count("active_steps").await.unwrap(), 2, "{url}");
    }
}

/// Issue: the yearly evaluation the notice promises to remind was never
/// queued. A granted family-doctor participation now queues it for 30 days
/// before the year is up.
#[tokio::test]
async fn a_granted_participation_queues_the_reminder_of_next_years_evaluation() {
    use onewindow::dsl::ir::NotifyEvent;
    use onewindow::store::outbox::{Job, Kind};
    for url in fresh_databases().await {
        let store = open(&url).await;
        submit(&store, "FD-1", "family_doctor", date(2026, 9, 14)).await;
        act(&store, "FD-1", window(), Command::Accept, date(2026, 9, 15))
            .await
            .unwrap();
        act(
            &store,
            "FD-1",
            reviewer("health"),
            Command::Approve { step: 0 },
            date(2026, 9, 17),
        )
        .await
        .unwrap();
        let reminders = |rows: Vec<onewindow::store::OutboxRow>| -> Vec<_> {
            rows.into_iter()
                .filter_map(|row| match row.job {
                    Job::Notify(notice) if notice.event == NotifyEvent::EvaluationDue => {
                        Some(notice)
                    }
                    _ => None,
                })
                .collect()
        };
        let at_noon = |day: Date| DateTime::from_parts(day, Time::constant(12, 0, 0, 0));
        let early = store
            .claim_outbox(Kind::Notify, "mailer", at_noon(date(2027, 8, 17)), 60, 1000)
            .await
            .unwrap();
        assert!(reminders(early).is_empty(), "{url}: not before its day");
        let due = store
            .claim_outbox(Kind::Notify, "mailer", at_noon(date(2027, 8, 18)), 60, 1000)
            .await
            .unwrap();
        let due = reminders(due);
        assert_eq!(due.len(), 1, "{url}");
        assert_eq!(
            due[0].told.until,
            Some(date(2027, 9, 17)),
            "a year after the decision"
        );
        assert!(due[0]
            .told
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("年度考评")));
    }
}

/// Evaluations are recorded against their subject, passed or failed, and a
/// failure carries the consequence the definition states for that subject:
/// a family-doctor participant stops serving, an institution is followed up.
#[tokio::test]
async fn evaluations_are_recorded_with_their_consequences() {
    for url in fresh_databases().await {
        let store = open(&url).await;
        let day = date(2026, 9, 14);
        // An institution: civil affairs fails it, health passes it.
        submit(&store, "E-1", "annual_evaluation", day).await;
        act(&store, "E-1", window(), Command::Accept, day)
            .await
            .unwrap();
        // The district's departments find it in their queues; the city's do not.
        for (department, listed) in [("dianbai_health", 1), ("dianbai_civil", 1), ("health", 0)] {
            let page = onewindow::store::read::QueuePage {
                department: department.into(),
                filter: onewindow::store::read::QueueFilter::All,
                today: day,
                limit: 50,
                offset: 0,
            };
            let queue = store.queue(&page).await.unwrap();
            assert_eq!(queue.len(), listed, "{url}: {department}");
        }
        act(
            &store,
            "E-1",
            reviewer("dianbai_civil"),
            Command::Refuse {
                step: 1,
                reasons: vec!["养老护理员持证上岗率不足".into()],
            },
            date(2026, 9, 15),
        )
        .await
        .unwrap();
        act(
            &store,
            "E-1",
            reviewer("dianbai_health"),
            Command::Approve { step: 0 },
            date(2026, 9, 16),
        )
        .await
        .unwrap();
        let recorded = store.evaluations_of("茂名康颐医养中心").await.unwrap();
        let summary: Vec<(&str, bool, &str)> = recorded
            .iter()
            .map(|e| (e.department.as_str(), e.passed, e.decided_on.as_str()))
            .collect();
        assert_eq!(
            summary,
            [
                ("civil", false, "2026-09-15"),
                ("health", true, "2026-09-16")
            ],
            "{url}"
        );
        assert!(recorded[0].consequence.contains("限期整改"), "{url}");
        assert!(recorded[1].consequence.is_empty(), "{url}");
        assert_eq!(recorded[0].year, 2026);

        // A family-doctor participant: health alone evaluates it, and a
        // failure ends its participation.
        let workflow = store.workflow("annual_evaluation").unwrap();
        let mut answers = onewindow::project::read_answers(
            &root().join("workflows/samples/annual_evaluation.json"),
        )
        .unwrap();
        answers.form.insert("name".into(), "茂名康乐门诊部".into());
        answers
            .form
            .insert("subject".into(), "参与家庭医生签约服务的医疗机构".into());
        let submission = answers.submission(&workflow).unwrap();
        let mut request = Request::new(
            "E-2",
            Actor::Applicant,
            Command::Submit { submission },
            at(day),
        );
        request.workflow = Some("annual_evaluation".into());
        store.apply(request).await.unwrap();
        act(&store, "E-2", window(), Command::Accept, day)
            .await
            .unwrap();
        act(
            &store,
            "E-2",
            reviewer("dianbai_health"),
            Command::Refuse {
                step: 0,
                reasons: vec!["签约服务履约率未达要求".into()],
            },
            date(2026, 9, 17),
        )
        .await
        .unwrap();
        let (filing, _) = store.filing("E-2").await.unwrap();
        assert_eq!(
            filing.status,
            Status::Decided,
            "{url}: civil affairs' step does not apply"
        );
        let recorded = store.evaluations_of("茂名康乐门诊部").await.unwrap();
        assert_eq!(recorded.len(), 1, "{url}");
        assert!(!recorded[0].passed);
        assert!(
            recorded[0].consequence.contains("停止参与家庭医生签约服务"),
            "{url}: {}",
            recorded[0].consequence
        );
    }
}

#[tokio::test]
async fn a_version_published_joins_the_store_and_its_audit_chain_on_both_backends() {
    use onewindow::store::versions::{DraftRow, Publication};
    for url in fresh_databases().await {
        let store = open(&url).await;
        let shipped = store.current_version("new_combined").unwrap();
        submit(&store, "F-1", "new_combined", date(2026, 9, 14)).await;
        let draft = DraftRow {
            workflow: "new_combined".into(),
            account: "policy@example.cn".into(),
            base_version: shipped,
            text: "workflow new_combined …".into(),
            saved_at: "2026-09-15 09:00:00".into(),
        };
        store.save_draft(&draft).await.unwrap();
        store
            .save_draft(&DraftRow {
                text: "saved again".into(),
                ..draft.clone()
            })
            .await
            .unwrap();
        let drafts = store.drafts_of("new_combined").await.unwrap();
        assert_eq!(drafts.len(), 1, "{url}: one draft per person");
        assert_eq!(drafts[0].text, "saved again");

        let mut next = (*store.workflow("new_combined").unwrap()).clone();
        next.version = shipped + 1;
        next.promised_limit = 15;
        let publication = Publication {
            workflow: "new_combined".into(),
            version: shipped + 1,
            published_by: "policy@example.cn".into(),
            published_at: "2026-09-15 10:00".into(),
            reason: "承诺时限缩短".into(),
        };
        store
            .publish(next.clone(), "text of the next", &publication)
            .await
            .unwrap();
        assert_eq!(
            store.current_version("new_combined"),
            Some(shipped + 1),
            "{url}"
        );
        assert!(store.drafts_of("new_combined").await.unwrap().is_empty());
        assert_eq!(
            store
                .publication_text("new_combined", shipped + 1)
                .await
                .unwrap()
                .as_deref(),
            Some("text of the next")
        );
        // Publishing the next again: someone already did.
        let again = store.publish(next, "again", &publication).await;
        assert!(
            matches!(again, Err(StoreError::Superseded { current, .. }) if current == shipped + 1),
            "{url}: {again:?}"
        );
        // The filing on the shipped version goes on under it; the chain verifies.
        let accepted = store
            .apply(Request::new(
                "F-1",
                window(),
                Command::Accept,
                at(date(2026, 9, 15)),
            ))
            .await
            .unwrap();
        assert_eq!(accepted.filing.version, shipped, "{url}");
        assert!(store.verify_audit().await.unwrap().is_intact(), "{url}");
        let counts = store.pinned_counts("new_combined").await.unwrap();
        assert_eq!(counts.len(), 1, "{url}: {counts:?}");
        assert_eq!((counts[0].version, counts[0].count), (shipped, 1));

        // Failed sign-ins: counted per key since a time, cleared on success.
        let keys = ["account:a@x.cn".to_string(), "address:1.2.3.4".to_string()];
        for minute in 0..3 {
            store
                .record_failure(
                    &keys,
                    &format!("2026-09-15T10:0{minute}:00"),
                    "2026-09-15T09:45:00",
                )
                .await
                .unwrap();
        }
        assert_eq!(
            store
                .failures_since(&keys[0], "2026-09-15T09:59:00")
                .await
                .unwrap(),
            3
        );
        assert_eq!(
            store
                .failures_since(&keys[0], "2026-09-15T10:00:30")
                .await
                .unwrap(),
            2
        );
        store.clear_failures(&keys[0]).await.unwrap();
        assert_eq!(
            store
                .failures_since(&keys[0], "2026-09-15T09:00:00")
                .await
                .unwrap(),
            0
        );
        assert_eq!(
            store
                .failures_since(&keys[1], "2026-09-15T09:00:00")
                .await
                .unwrap(),
            3
        );
    }
}

/// A registration waiting for its address is taken once, by its link's
/// hash, and not after it expires — on both backends.
#[tokio::test]
async fn a_registration_is_taken_once_and_not_after_it_expires() {
    use onewindow::store::accounts::Registration;
    for url in fresh_databases().await {
        let store = open(&url).await;
        let waiting = |hash: &str, expires_at: &str| Registration {
            token_hash: hash.to_string(),
            email: "new@applicant.cn".into(),
            name: "新申请人".into(),
            password_hash: "argon2-hash".into(),
            created_at: "2026-11-16T10:00:00".into(),
            expires_at: expires_at.to_string(),
        };
        let fresh = waiting("fresh", "2026-11-17T10:00:00");
        store.insert_registration(&fresh).await.unwrap();
        store
            .insert_registration(&waiting("stale", "2026-11-16T11:00:00"))
            .await
            .unwrap();
        let now = "2026-11-16T12:00:00";
        assert_eq!(
            store.take_registration("fresh", now).await.unwrap(),
            Some(fresh),
            "{url}"
        );
        assert_eq!(
            store.take_registration("fresh", now).await.unwrap(),
            None,
            "{url}: once"
        );
        assert_eq!(
            store.take_registration("stale", now).await.unwrap(),
            None,
            "{url}: expired"
        );
        assert_eq!(
            store.take_registration("wrong", now).await.unwrap(),
            None,
            "{url}"
        );
    }
}

#[tokio::test]
async fn filing_numbers_are_counted_once_each_however_many_ask_at_once() {
    for url in fresh_databases().await {
        let store = open(&url).await;
        let asks = (0..20).map(|_| store.next_filing_number(2026));
        let mut numbers: Vec<i64> = futures_util::future::join_all(asks)
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        numbers.sort_unstable();
        assert_eq!(numbers, (1..=20).collect::<Vec<_>>(), "{url}");
        assert_eq!(
            store.next_filing_number(2027).await.unwrap(),
            1,
            "{url}: a year of its own"
        );
        assert_eq!(store.next_filing_number(2026).await.unwrap(), 21, "{url}");
    }
}

/// Issue 20: after dates were recomputed on a new calendar, each step's
/// due-soon reminder was sent twice (the old timers kept beside the new).
#[tokio::test]
async fn a_timer_scheduled_again_replaces_the_one_not_yet_fired() {
    for url in fresh_databases().await {
        let store = open(&url).await;
        submit(&store, "F-1", "new_combined", date(2026, 11, 16)).await;
        act(&store, "F-1", window(), Command::Accept, date(2026, 11, 16))
            .await
            .unwrap();
        let scheduled = store.count("timers").await.unwrap();
        assert!(scheduled >= 4, "{url}: each step's due-soon and overdue");
        for day in [17, 18] {
            act(
                &store,
                "F-1",
                Actor::System,
                Command::Recalendar {
                    note: "节假日安排更新".into(),
                },
                date(2026, 11, day),
            )
            .await
            .unwrap();
            assert_eq!(
                store.count("timers").await.unwrap(),
                scheduled,
                "{url}: rescheduled, not added"
            );
        }
    }
}
