//! The engine, one law rule at a time, with dates on the real calendar
//! (calendars/cn), including the 2026 Spring Festival and National Day.

use std::collections::BTreeMap;
use std::path::Path;

use jiff::civil::{date, Date, DateTime, Time};
use onewindow::calendar::Calendar;
use onewindow::dsl::ir::{Event, Recipient};
use onewindow::dsl::{self, Workflow};
use onewindow::engine::clock::{self, Level, Limit};
use onewindow::engine::state::{Decision, PauseKind, StepOutcome, StepStatus};
use onewindow::engine::{
    transition, validate, Actor, Command, Context, Effect, EngineError, Filing, Status, Submission,
    Timer, Upload,
};
use onewindow::engine::{Answers, Facts};
use onewindow::project::{self, Paths};

mod common;

struct World {
    loaded: dsl::Loaded,
    calendar: Calendar,
}

fn world() -> World {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let loaded = project::load(&Paths {
        flows: vec![root.join("workflows")],
        templates: root.join("templates"),
    })
    .expect("definitions");
    assert!(
        !loaded.checked.has_errors(),
        "{}",
        loaded.render_diagnostics()
    );
    let calendar = Calendar::load(&root.join("calendars"), "cn").expect("calendars");
    World { loaded, calendar }
}

/// One filing driven through the engine, keeping every effect.
struct Case<'w> {
    workflow: &'w Workflow,
    calendar: &'w Calendar,
    filing: Filing,
    effects: Vec<Effect>,
}

fn at(day: Date) -> DateTime {
    DateTime::from_parts(day, Time::constant(10, 0, 0, 0))
}

impl World {
    /// A sample filing submitted on one day and accepted by the window on another.
    fn accepted(&self, id: &str, submitted: Date, accepted: Date) -> Case<'_> {
        let mut case = self.case(id);
        case.submit(submitted);
        case.act(case.window(), Command::Accept, accepted);
        case
    }

    /// An eldercare clinic filed on 23 November 2026 without its site plan
    /// and its rules (two required materials), and its answers.
    fn filed_without_site_plan_and_rules(&self) -> (Case<'_>, Answers) {
        let mut case = self.case("eldercare_clinic");
        let answers = case.sample();
        let incomplete = case.submission(&answers, &["site_plan", "rules"]);
        case.act(
            Actor::Applicant,
            Command::Submit {
                submission: incomplete,
            },
            date(2026, 11, 23),
        );
        (case, answers)
    }

    fn case(&self, id: &str) -> Case<'_> {
        let workflow = self.loaded.workflow(id).expect("workflow");
        Case {
            workflow,
            calendar: &self.calendar,
            filing: Filing::draft(format!("T-{id}"), workflow),
            effects: Vec::new(),
        }
    }
}

impl Case<'_> {
    fn sample(&self) -> Answers {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(format!("workflows/samples/{}.json", self.workflow.id));
        serde_json::from_str(&std::fs::read_to_string(path).expect("sample")).expect("answers")
    }

    fn submission(&self, answers: &Answers, except: &[&str]) -> Submission {
        let uploads = answers
            .materials
            .iter()
            .filter(|id| !except.contains(&id.as_str()))
            .map(|id| (id.clone(), upload(id)))
            .collect();
        validate(
            self.workflow,
            answers.as_applicant(),
            &answers.form,
            &Facts::registry(answers.facts.clone()),
            uploads,
        )
        .expect("valid sample")
    }

    fn try_do(&mut self, actor: Actor, command: Command, day: Date) -> Result<(), EngineError> {
        let context = Context {
            workflow: self.workflow,
            calendar: self.calendar,
        };
        let next = transition(context, &self.filing, &actor, &command, at(day))?;
        self.filing = next.filing;
        self.effects.extend(next.effects);
        Ok(())
    }

    fn act(&mut self, actor: Actor, command: Command, day: Date) {
        if let Err(error) = self.try_do(actor, command, day) {
            panic!("{error}");
        }
    }

    fn submit(&mut self, day: Date) {
        let submission = self.submission(&self.sample(), &[]);
        self.act(Actor::Applicant, Command::Submit { submission }, day);
    }

    /// Files these answers, every material uploaded, and the window accepts
    /// the same day.
    fn submit_and_accept(&mut self, answers: &Answers, day: Date) {
        let submission = self.submission(answers, &[]);
        self.act(Actor::Applicant, Command::Submit { submission }, day);
        self.act(self.window(), Command::Accept, day);
    }

    fn window(&self) -> Actor {
        Actor::Window {
            department: self.workflow.intake.department.clone(),
        }
    }

    fn step(&self, label_part: &str) -> usize {
        self.workflow
            .steps
            .iter()
            .position(|s| s.label.contains(label_part))
            .unwrap_or_else(|| panic!("no step like {label_part}"))
    }

    /// The reviewer of the department that takes the step (its district's
    /// for a `local` step).
    fn reviewer(&self, step: usize) -> Actor {
        Actor::Reviewer {
            department: self
                .filing
                .step_department(self.workflow, step)
                .expect("department")
                .to_string(),
        }
    }

    fn issued(&self, event: Event) -> usize {
        self.effects
            .iter()
            .filter(
                |e| matches!(e, Effect::IssueDocument { event: issued, .. } if *issued == event),
            )
            .count()
    }

    fn notified(&self, event: &str) -> Vec<&Effect> {
        self.effects
            .iter()
            .filter(|e| matches!(e, Effect::Notify { event: name, .. } if name.name() == event))
            .collect()
    }

    fn step_due(&self, step: usize) -> Option<Date> {
        clock::step_due(self.workflow, &self.filing, self.calendar, step).expect("calendar")
    }
}

fn upload(id: &str) -> Upload {
    Upload {
        name: format!("{id}.pdf"),
        kind: "pdf".to_string(),
        sha256: "0".repeat(64),
        size: 1024,
    }
}

#[test]
fn untouched_intake_is_deemed_accepted_from_the_day_of_receipt() {
    let world = world();
    let mut case = world.case("new_combined");
    // Thursday before the Spring Festival: five working days end on 2026-02-26.
    case.submit(date(2026, 2, 12));
    assert_eq!(
        clock::intake_due(case.workflow, &case.filing, case.calendar).unwrap(),
        Some(date(2026, 2, 26))
    );
    assert!(case.effects.contains(&Effect::ScheduleTimer {
        at: date(2026, 2, 27),
        timer: Timer::DeemedAcceptance
    }));
    // Fired early, the timer changes nothing.
    let before = case.filing.clone();
    case.act(
        Actor::System,
        Command::Timer {
            timer: Timer::DeemedAcceptance,
        },
        date(2026, 2, 26),
    );
    assert_eq!(case.filing, before);
    case.act(
        Actor::System,
        Command::Timer {
            timer: Timer::DeemedAcceptance,
        },
        date(2026, 2, 27),
    );
    assert_eq!(case.filing.status, Status::InReview);
    assert!(case.filing.deemed_accepted);
    assert_eq!(
        case.filing.accepted_on,
        Some(date(2026, 2, 12)),
        "art. 32: from the day the materials arrived"
    );
    assert_eq!(
        case.issued(Event::Accepted),
        1,
        "the acceptance notice is still issued"
    );
    // After the limit the window can no longer ask for corrections or refuse.
    let mut late = world.case("new_combined");
    late.submit(date(2026, 2, 12));
    let items = vec!["补充消防验收证明".to_string()];
    let error = late
        .try_do(
            late.window(),
            Command::RequestCorrection { items },
            date(2026, 2, 27),
        )
        .unwrap_err();
    assert_eq!(
        error,
        EngineError::IntakeLimitPassed {
            deemed_accepted_on: date(2026, 2, 12)
        }
    );
    let error = late
        .try_do(
            late.window(),
            Command::RefuseToAccept {
                reasons: vec!["不属本机关职权".into()],
            },
            date(2026, 2, 27),
        )
        .unwrap_err();
    assert!(matches!(error, EngineError::IntakeLimitPassed { .. }));
    late.act(late.window(), Command::Accept, date(2026, 3, 2));
    assert_eq!(late.filing.accepted_on, Some(date(2026, 2, 12)));
}

#[test]
fn correction_notice_lists_everything_once() {
    let world = world();
    let (mut case, answers) = world.filed_without_site_plan_and_rules();
    let error = case
        .try_do(case.window(), Command::Accept, date(2026, 11, 24))
        .unwrap_err();
    assert_eq!(
        error,
        EngineError::MissingMaterials {
            materials: vec!["site_plan".into(), "rules".into()]
        }
    );
    let items = vec![
        "选址报告和建筑设计平面图".to_string(),
        "医疗机构规章制度".to_string(),
    ];
    assert_eq!(
        case.try_do(
            case.window(),
            Command::RequestCorrection { items: vec![] },
            date(2026, 11, 24)
        ),
        Err(EngineError::EmptyReasons)
    );
    case.act(
        case.window(),
        Command::RequestCorrection {
            items: items.clone(),
        },
        date(2026, 11, 24),
    );
    assert_eq!(case.filing.status, Status::AwaitingCorrection);
    assert_eq!(case.filing.intake_correction.as_ref().unwrap().items, items);
    assert_eq!(case.issued(Event::Correction), 1);
    assert_eq!(case.notified("correction").len(), 1);
    // The answer restarts intake from the day the corrected materials arrive.
    let complete = case.submission(&answers, &[]);
    case.act(
        Actor::Applicant,
        Command::AnswerCorrection {
            submission: complete,
        },
        date(2026, 12, 1),
    );
    assert_eq!(case.filing.status, Status::Submitted);
    assert_eq!(case.filing.received_on, Some(date(2026, 12, 1)));
    // Everything was told at once: no second notice.
    let error = case
        .try_do(
            case.window(),
            Command::RequestCorrection {
                items: vec!["再补".into()],
            },
            date(2026, 12, 2),
        )
        .unwrap_err();
    assert_eq!(error, EngineError::CorrectionAlreadyRequested);
    case.act(case.window(), Command::Accept, date(2026, 12, 2));
    assert_eq!(case.filing.accepted_on, Some(date(2026, 12, 2)));
}

#[test]
fn refusal_to_accept_states_reasons() {
    let world = world();
    let mut case = world.case("new_combined");
    case.submit(date(2026, 11, 23));
    assert_eq!(
        case.try_do(
            case.window(),
            Command::RefuseToAccept { reasons: vec![] },
            date(2026, 11, 24)
        ),
        Err(EngineError::EmptyReasons)
    );
    let reasons = vec!["申请事项不属于本机关职权范围".to_string()];
    case.act(
        case.window(),
        Command::RefuseToAccept {
            reasons: reasons.clone(),
        },
        date(2026, 11, 24),
    );
    assert_eq!(case.filing.status, Status::NotAccepted);
    assert_eq!(case.filing.decision, Some(Decision::Refused { reasons }));
    assert_eq!(case.issued(Event::NotAccepted), 1);
    let error = case
        .try_do(case.window(), Command::Accept, date(2026, 11, 25))
        .unwrap_err();
    assert!(matches!(
        error,
        EngineError::WrongState {
            status: Status::NotAccepted,
            ..
        }
    ));
}

#[test]
fn parallel_reviews_never_wait_on_each_other() {
    let world = world();
    let mut case = world.accepted("new_combined", date(2026, 9, 14), date(2026, 9, 15));
    let health = case.step("医疗机构设置审批");
    let civil = case.step("养老机构备案");
    for step in [health, civil] {
        assert_eq!(
            case.filing.steps[step].status,
            StepStatus::Active {
                since: date(2026, 9, 15)
            }
        );
    }
    assert_eq!(
        case.notified("assigned").len(),
        2,
        "each department is told at once"
    );
    // Civil affairs files first; health is untouched and still running.
    case.act(
        case.reviewer(civil),
        Command::File { step: civil },
        date(2026, 9, 16),
    );
    assert_eq!(
        issued_by(&case, Event::Filed),
        vec![("civil".to_string(), "filing_receipt".to_string())],
        "civil affairs' receipt does not wait for health"
    );
    assert_eq!(
        case.filing.steps[health].status,
        StepStatus::Active {
            since: date(2026, 9, 15)
        }
    );
    assert_eq!(case.filing.status, Status::InReview);
    case.act(
        case.reviewer(health),
        Command::Approve { step: health },
        date(2026, 10, 9),
    );
    assert_eq!(case.filing.status, Status::Decided);
    assert_eq!(case.filing.decision, Some(Decision::Granted));
    assert_eq!(case.filing.decided_on, Some(date(2026, 10, 9)));
    assert_eq!(
        issued_by(&case, Event::Approved),
        vec![
            ("health".to_string(), "grant_decision".to_string()),
            ("health".to_string(), "medical_license".to_string())
        ],
        "health's decision and licence, in health's name"
    );
    assert_eq!(case.filing.parts["health"].decision, Decision::Granted);
    assert_eq!(case.filing.parts["civil"].decision, Decision::Filed);
}

#[test]
fn wrong_actors_and_decided_steps_are_refused() {
    let world = world();
    let mut case = world.case("new_combined");
    case.submit(date(2026, 9, 14));
    let error = case
        .try_do(
            Actor::Reviewer {
                department: "health".into(),
            },
            Command::Accept,
            date(2026, 9, 15),
        )
        .unwrap_err();
    assert!(
        matches!(
            error,
            EngineError::WrongActor {
                command: "accept",
                ..
            }
        ),
        "{error}"
    );
    case.act(case.window(), Command::Accept, date(2026, 9, 15));
    let health = case.step("医疗机构设置审批");
    let civil_reviewer = Actor::Reviewer {
        department: "civil".into(),
    };
    let error = case
        .try_do(
            civil_reviewer,
            Command::Approve { step: health },
            date(2026, 9, 16),
        )
        .unwrap_err();
    assert!(matches!(error, EngineError::WrongActor { .. }), "{error}");
    let error = case
        .try_do(
            case.reviewer(health),
            Command::File { step: health },
            date(2026, 9, 16),
        )
        .unwrap_err();
    assert!(
        matches!(error, EngineError::WrongStepKind { .. }),
        "{error}"
    );
    case.act(
        case.reviewer(health),
        Command::Approve { step: health },
        date(2026, 9, 16),
    );
    let error = case
        .try_do(
            case.reviewer(health),
            Command::Approve { step: health },
            date(2026, 9, 17),
        )
        .unwrap_err();
    assert_eq!(
        error,
        EngineError::StepNotActive {
            step: health,
            status: "already decided".into()
        }
    );
    assert_eq!(
        case.try_do(
            case.reviewer(health),
            Command::Approve { step: 99 },
            date(2026, 9, 17)
        ),
        Err(EngineError::UnknownStep { step: 99 })
    );
}

#[test]
fn conditional_steps_are_skipped_with_the_reason_recorded() {
    let world = world();
    let mut case = world.case("eldercare_clinic");
    let mut answers = case.sample();
    answers.form.insert("beds".into(), 260.into());
    answers.form.insert("kind".into(), "护理院".into());
    answers.form.insert("level".into(), 3.into());
    answers.materials.push("feasibility".into());
    case.submit_and_accept(&answers, date(2026, 9, 14));
    let two_in_one = case.step("两证合一");
    let setting = case.step("医疗机构设置审批");
    match &case.filing.steps[two_in_one].status {
        StepStatus::Skipped { reason } => assert!(reason.contains("不适用"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        case.filing.steps[setting].status,
        StepStatus::Active { .. }
    ));
}

/// 两证合一 (国卫办老龄发〔2019〕17号) exactly as written: level ≤ 2 and not
/// Sino-foreign or HK/Macao/Taiwan-invested; elsewhere the setting-up
/// approval is not a practice licence and no 执业许可证 is issued.
#[test]
fn two_in_one_applies_only_where_the_notice_says_and_otherwise_no_licence_is_issued() {
    let world = world();
    for (workflow, level, investment, two_in_one) in [
        ("eldercare_clinic", 1, "内资", true),
        ("eldercare_clinic", 2, "内资", true),
        ("eldercare_clinic", 3, "内资", false),
        ("eldercare_clinic", 1, "中外合资合作", false),
        ("new_combined", 2, "港澳台独资", false),
        ("new_combined", 1, "内资", true),
    ] {
        let mut case = world.case(workflow);
        let mut answers = case.sample();
        answers.form.insert("level".into(), level.into());
        answers.form.insert("investment".into(), investment.into());
        if investment != "内资" {
            answers.materials.push("investment_papers".into());
        }
        case.submit_and_accept(&answers, date(2026, 9, 14));
        let active: Vec<usize> = (0..case.workflow.steps.len())
            .filter(|&s| {
                matches!(case.filing.steps[s].status, StepStatus::Active { .. })
                    && case.workflow.steps[s].department.as_deref() == Some("health")
            })
            .collect();
        assert_eq!(active.len(), 1, "{workflow} {level} {investment}");
        let step = active[0];
        assert_eq!(
            case.workflow.steps[step].label.contains("两证合一"),
            two_in_one,
            "{workflow} {level} {investment}"
        );
        case.act(
            case.reviewer(step),
            Command::Approve { step },
            date(2026, 9, 16),
        );
        let templates: Vec<String> = issued_by(&case, Event::Approved)
            .into_iter()
            .map(|(_, template)| template)
            .collect();
        let expected = if two_in_one {
            ["grant_decision", "medical_license"]
        } else {
            ["grant_decision", "setting_approval"]
        };
        assert_eq!(templates, expected, "{workflow} {level} {investment}");
    }
}

/// The documents issued for an event, with the department each is issued by.
fn issued_by(case: &Case<'_>, event: Event) -> Vec<(String, String)> {
    case.effects
        .iter()
        .filter_map(|effect| match effect {
            Effect::IssueDocument {
                event: issued,
                template,
                issued_by,
                ..
            } if *issued == event => Some((issued_by.clone(), template.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn a_health_refusal_ends_only_the_health_part_and_civil_affairs_still_files() {
    let world = world();
    let mut case = world.accepted("new_combined", date(2026, 9, 14), date(2026, 9, 15));
    let health = case.step("医疗机构设置审批");
    let civil = case.step("养老机构备案");
    assert_eq!(
        case.try_do(
            case.reviewer(health),
            Command::Refuse {
                step: health,
                reasons: vec![]
            },
            date(2026, 9, 16)
        ),
        Err(EngineError::EmptyReasons)
    );
    let reasons = vec!["拟设护理院床位数少于设置标准".to_string()];
    case.act(
        case.reviewer(health),
        Command::Refuse {
            step: health,
            reasons: reasons.clone(),
        },
        date(2026, 9, 16),
    );
    // 谁审批谁监管: health's refusal is health's alone.
    assert_eq!(case.filing.status, Status::InReview);
    assert_eq!(case.filing.decision, None);
    assert_eq!(
        case.filing.parts["health"].decision,
        Decision::Refused {
            reasons: reasons.clone()
        }
    );
    assert!(matches!(
        case.filing.steps[civil].status,
        StepStatus::Active { .. }
    ));
    assert_eq!(
        issued_by(&case, Event::Rejected),
        vec![("health".to_string(), "denial_decision".to_string())]
    );
    let told = case.notified("rejected");
    assert!(matches!(
        told[..],
        [Effect::Notify { department: Some(d), .. }] if d == "health"
    ));
    case.act(
        case.reviewer(civil),
        Command::File { step: civil },
        date(2026, 9, 18),
    );
    assert_eq!(case.filing.parts["civil"].decision, Decision::Filed);
    assert_eq!(
        issued_by(&case, Event::Filed),
        vec![("civil".to_string(), "filing_receipt".to_string())]
    );
    assert_eq!(case.issued(Event::Approved), 0, "no licence was granted");
    assert_eq!(case.filing.status, Status::Decided);
    assert_eq!(case.filing.decision, Some(Decision::Partly));
    assert_eq!(case.filing.reasons_of("health"), &reasons[..]);
    assert!(case.filing.reasons_of("civil").is_empty());
}

#[test]
fn an_establishment_office_refusal_does_not_sink_the_eldercare_filing() {
    let world = world();
    let mut case = world.accepted("medical_eldercare", date(2026, 9, 14), date(2026, 9, 15));
    let civil = case.step("养老机构登记备案");
    let staffing = case.step("主要职责调整");
    case.act(
        case.reviewer(civil),
        Command::File { step: civil },
        date(2026, 9, 16),
    );
    assert_eq!(
        issued_by(&case, Event::Filed),
        vec![("civil".to_string(), "filing_receipt".to_string())],
        "the receipt is issued when civil affairs' own part is over"
    );
    case.act(
        case.reviewer(staffing),
        Command::Refuse {
            step: staffing,
            reasons: vec!["主要职责调整不符合事业单位分类改革要求".into()],
        },
        date(2026, 9, 17),
    );
    assert_eq!(case.filing.parts["civil"].decision, Decision::Filed);
    assert!(matches!(
        case.filing.steps[civil].status,
        StepStatus::Done {
            outcome: StepOutcome::Filed,
            ..
        }
    ));
    assert_eq!(
        issued_by(&case, Event::Rejected),
        vec![("staffing".to_string(), "denial_decision".to_string())]
    );
    assert_eq!(case.filing.decision, Some(Decision::Partly));
}

#[test]
fn a_failed_evaluation_is_an_evaluation_result_of_its_own_department() {
    let world = world();
    let mut case = world.accepted("annual_evaluation", date(2026, 9, 14), date(2026, 9, 15));
    let health = case.step("医疗卫生服务质量评估");
    let civil = case.step("养老服务质量评估");
    case.act(
        case.reviewer(civil),
        Command::Refuse {
            step: civil,
            reasons: vec!["养老护理员持证上岗率不足".into()],
        },
        date(2026, 9, 16),
    );
    assert_eq!(
        issued_by(&case, Event::Rejected),
        vec![("dianbai_civil".to_string(), "evaluation_result".to_string())],
        "an evaluation result, never a licence refusal"
    );
    assert!(matches!(
        case.filing.steps[health].status,
        StepStatus::Active { .. }
    ));
    case.act(
        case.reviewer(health),
        Command::Approve { step: health },
        date(2026, 9, 17),
    );
    assert_eq!(
        issued_by(&case, Event::Approved),
        vec![(
            "dianbai_health".to_string(),
            "evaluation_result".to_string()
        )]
    );
    assert_eq!(case.filing.decision, Some(Decision::Partly));
}

/// Annual evaluations are carried out by the district's departments: a
/// `local` step goes to the department serving the applicant's district,
/// which alone may act on it, issues in its own name and series, and finds
/// it in its own queue.
#[test]
fn local_steps_go_to_the_district_departments() {
    let world = world();
    for (district, health, civil) in [
        ("电白区", "dianbai_health", "dianbai_civil"),
        ("茂南区", "maonan_health", "maonan_civil"),
    ] {
        let mut case = world.case("annual_evaluation");
        let mut answers = case.sample();
        answers.form.insert("district".into(), district.into());
        case.submit_and_accept(&answers, date(2026, 9, 14));
        let (medical, care) = (0, 1);
        let taken_by = |step: usize| case.filing.step_department(case.workflow, step);
        assert_eq!(taken_by(medical), Some(health), "{district}");
        assert_eq!(taken_by(care), Some(civil), "{district}");
        let work = clock::open_work(case.workflow, &case.filing, case.calendar).unwrap();
        let queues: Vec<&str> = work.iter().map(|w| w.department.as_str()).collect();
        assert_eq!(
            queues,
            [health, civil],
            "each in its district department's queue"
        );
        let city = Actor::Reviewer {
            department: "health".into(),
        };
        assert!(matches!(
            case.try_do(city, Command::Approve { step: medical }, date(2026, 9, 15)),
            Err(EngineError::WrongActor { .. })
        ));
        let assigned: Vec<Option<&str>> = case
            .notified("assigned")
            .iter()
            .map(|effect| match effect {
                Effect::Notify { department, .. } => department.as_deref(),
                _ => None,
            })
            .collect();
        assert_eq!(assigned, [Some(health), Some(civil)]);
        case.act(
            Actor::Reviewer {
                department: health.into(),
            },
            Command::Approve { step: medical },
            date(2026, 9, 16),
        );
        case.act(
            Actor::Reviewer {
                department: civil.into(),
            },
            Command::Refuse {
                step: care,
                reasons: vec!["消防安全管理制度不健全".into()],
            },
            date(2026, 9, 17),
        );
        assert_eq!(
            issued_by(&case, Event::Approved),
            vec![(health.to_string(), "evaluation_result".to_string())]
        );
        assert_eq!(
            issued_by(&case, Event::Rejected),
            vec![(civil.to_string(), "evaluation_result".to_string())]
        );
        assert!(
            case.filing.parts.contains_key("civil"),
            "parts keep the definition's names"
        );
        assert_eq!(case.filing.decision, Some(Decision::Partly));
    }
}

/// A filing stored before parts were recorded, whose civil-affairs receipt
/// was issued when its filing step ended, gets no second receipt when
/// health decides later.
#[test]
fn a_filing_from_before_parts_gets_no_second_receipt() {
    let world = world();
    let mut case = world.accepted("eldercare_clinic", date(2026, 9, 14), date(2026, 9, 14));
    let civil = case.step("养老机构服务项目变更备案");
    let health = case.step("两证合一");
    case.act(
        case.reviewer(civil),
        Command::File { step: civil },
        date(2026, 9, 15),
    );
    assert_eq!(case.issued(Event::Filed), 1);
    // As the state was stored before this version: the receipt issued, no parts.
    case.filing.parts.clear();
    case.act(
        case.reviewer(health),
        Command::Approve { step: health },
        date(2026, 9, 16),
    );
    assert_eq!(case.issued(Event::Filed), 1, "issued once");
    assert_eq!(
        case.filing.parts["civil"].decision,
        Decision::Filed,
        "recorded"
    );
    assert_eq!(case.filing.decision, Some(Decision::Granted));
}

#[test]
fn joined_parts_end_together_when_one_is_refused() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::temp_dir().join(format!("onewindow-jointly-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        root.join("workflows/departments.flow"),
        dir.join("departments.flow"),
    )
    .unwrap();
    let flow = std::fs::read_to_string(root.join("workflows/annual_evaluation.flow"))
        .unwrap()
        .replace(
            "independent health, civil",
            "jointly health, civil basis \"测试：两项评估合为一个事项\"",
        );
    std::fs::write(dir.join("joint.flow"), flow).unwrap();
    let loaded = project::load(&Paths {
        flows: vec![dir.clone()],
        templates: root.join("templates"),
    })
    .expect("definitions");
    assert!(
        !loaded.checked.has_errors(),
        "{}",
        loaded.render_diagnostics()
    );
    let world = World {
        loaded,
        calendar: Calendar::load(&root.join("calendars"), "cn").expect("calendars"),
    };
    let mut case = world.accepted("annual_evaluation", date(2026, 9, 14), date(2026, 9, 15));
    let health = case.step("医疗卫生服务质量评估");
    let civil = case.step("养老服务质量评估");
    let reasons = vec!["养老护理员持证上岗率不足".to_string()];
    case.act(
        case.reviewer(civil),
        Command::Refuse {
            step: civil,
            reasons: reasons.clone(),
        },
        date(2026, 9, 16),
    );
    match &case.filing.steps[health].status {
        StepStatus::Cancelled { reason } => {
            assert!(reason.contains("测试：两项评估合为一个事项"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(case.filing.decision, Some(Decision::Refused { reasons }));
    assert_eq!(
        issued_by(&case, Event::Rejected),
        vec![("dianbai_civil".to_string(), "evaluation_result".to_string())]
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_correction_during_review_stops_the_clock_until_answered() {
    let world = world();
    let mut case = world.accepted("new_combined", date(2026, 11, 2), date(2026, 11, 2));
    let health = case.step("医疗机构设置审批");
    let civil = case.step("养老机构备案");
    // Twenty working days from Monday 2026-11-02.
    assert_eq!(case.step_due(health), Some(date(2026, 11, 30)));
    let items = vec!["补充护理院平面布局图".to_string()];
    case.act(
        case.reviewer(health),
        Command::RequestStepCorrection {
            step: health,
            items,
        },
        date(2026, 11, 4),
    );
    assert_eq!(
        case.step_due(health),
        None,
        "no due date while the applicant corrects"
    );
    assert_eq!(
        clock::overall_due(case.workflow, &case.filing, case.calendar, Limit::Promised),
        Ok(None)
    );
    assert_eq!(
        clock::level(case.workflow, None, date(2026, 11, 20), case.calendar).unwrap(),
        Level::Paused
    );
    assert_eq!(
        case.step_due(civil),
        Some(date(2026, 11, 30)),
        "the other department's clock runs on"
    );
    let error = case
        .try_do(
            case.reviewer(health),
            Command::Approve { step: health },
            date(2026, 11, 5),
        )
        .unwrap_err();
    assert_eq!(error, EngineError::StepPaused { step: health });
    // Answered Friday 11-13: the seven working days 11-05 … 11-13 do not count.
    let submission = case.submission(&case.sample(), &[]);
    case.act(
        Actor::Applicant,
        Command::AnswerStepCorrection {
            step: health,
            submission,
        },
        date(2026, 11, 13),
    );
    assert_eq!(case.step_due(health), Some(date(2026, 12, 9)));
    let paused = case
        .calendar
        .workdays_between(date(2026, 11, 30), date(2026, 12, 9))
        .unwrap();
    assert_eq!(paused, 7);
    let promised = clock::overall_due(case.workflow, &case.filing, case.calendar, Limit::Promised);
    assert_eq!(promised, Ok(Some(date(2026, 12, 9))));
    let legal = clock::overall_due(case.workflow, &case.filing, case.calendar, Limit::Legal);
    assert_eq!(
        legal,
        Ok(Some(date(2026, 12, 9))),
        "one licence: the law's twenty working days, as promised"
    );
}

/// The designation's evaluation ends within 3 calendar months, pauses
/// included: an on-site evaluation cannot silently outlast it (art. 202
/// month ends), and pauses move the due date no further than the bound.
#[test]
fn a_bound_in_calendar_months_holds_through_pauses() {
    let world = world();
    let mut case = world.accepted("insurance_designation", date(2026, 3, 2), date(2026, 3, 2));
    let step = 0;
    assert_eq!(case.workflow.steps[step].bound_months, Some(3));
    // Active from Monday 2 March: three months run from 3 March to 2 June.
    let bound = date(2026, 6, 2);
    assert_eq!(
        clock::step_bound(case.workflow, &case.filing, step),
        Some(bound)
    );
    let too_long = Command::Pause {
        step,
        kind: PauseKind::Appraisal,
        days: 80,
        reason: "医保定点现场评估".into(),
    };
    let error = case
        .try_do(case.reviewer(step), too_long, date(2026, 3, 3))
        .unwrap_err();
    match error {
        EngineError::BeyondBound {
            months: 3,
            bound: b,
            until,
            ..
        } => {
            assert_eq!(b, bound);
            assert!(until > bound, "{until}");
        }
        other => panic!("{other:?}"),
    }
    assert!(case.filing.pauses.is_empty(), "nothing recorded");
    // A pause that fits is taken; once it ends the working-day due date
    // would pass the bound, and the bound holds.
    case.act(
        case.reviewer(step),
        Command::Pause {
            step,
            kind: PauseKind::Appraisal,
            days: 50,
            reason: "医保定点现场评估".into(),
        },
        date(2026, 3, 3),
    );
    case.act(
        case.reviewer(step),
        Command::Resume { step },
        date(2026, 5, 20),
    );
    let unbounded = case.calendar.add_workdays(date(2026, 3, 2), 20).unwrap();
    assert!(unbounded < bound);
    assert_eq!(case.step_due(step), Some(bound), "capped by the bound");
}

#[test]
fn expert_review_pauses_with_its_stated_duration() {
    let world = world();
    let mut case = world.accepted("insurance_designation", date(2026, 3, 2), date(2026, 3, 2));
    let step = 0;
    let due = case.step_due(step).unwrap();
    let pause = Command::Pause {
        step,
        kind: PauseKind::Appraisal,
        days: 40,
        reason: "医保定点现场评估".into(),
    };
    case.act(case.reviewer(step), pause, date(2026, 3, 3));
    assert_eq!(case.filing.pauses[0].stated_days, Some(40));
    assert_eq!(
        case.notified("paused").len(),
        1,
        "the applicant is told how long (art. 45)"
    );
    assert_eq!(case.step_due(step), None);
    case.act(
        case.reviewer(step),
        Command::Resume { step },
        date(2026, 4, 30),
    );
    let stopped = case
        .calendar
        .workdays_between(date(2026, 3, 3), date(2026, 4, 30))
        .unwrap();
    assert_eq!(
        case.calendar
            .workdays_between(due, case.step_due(step).unwrap())
            .unwrap(),
        stopped
    );
    assert_eq!(
        case.try_do(
            case.reviewer(step),
            Command::Resume { step },
            date(2026, 5, 6)
        ),
        Err(EngineError::NotPaused { step })
    );
}

#[test]
fn extension_needs_the_head_and_is_told_to_the_applicant() {
    let world = world();
    let mut case = world.accepted("eldercare_clinic", date(2026, 9, 14), date(2026, 9, 14));
    let legal = |case: &Case<'_>| {
        clock::overall_due(case.workflow, &case.filing, case.calendar, Limit::Legal)
            .unwrap()
            .unwrap()
    };
    let before = legal(&case);
    let reason = "需组织现场核查，情况复杂".to_string();
    let error = case
        .try_do(
            Actor::Reviewer {
                department: "health".into(),
            },
            Command::Extend {
                reason: reason.clone(),
            },
            date(2026, 9, 30),
        )
        .unwrap_err();
    assert!(matches!(error, EngineError::WrongActor { .. }));
    let error = case
        .try_do(
            Actor::Head {
                department: "insurance".into(),
            },
            Command::Extend {
                reason: reason.clone(),
            },
            date(2026, 9, 30),
        )
        .unwrap_err();
    assert!(
        matches!(error, EngineError::WrongActor { .. }),
        "a department not taking part"
    );
    let head = Actor::Head {
        department: "health".into(),
    };
    case.act(
        head.clone(),
        Command::Extend {
            reason: reason.clone(),
        },
        date(2026, 9, 30),
    );
    let added = case
        .calendar
        .workdays_between(before, legal(&case))
        .unwrap();
    assert_eq!(added, 10, "art. 42: ten more working days");
    let told = case.notified("extended");
    assert_eq!(
        told.len(),
        1,
        "art. 42: the reason is told to the applicant"
    );
    assert!(
        matches!(told[0], Effect::Notify { recipients, .. } if recipients.contains(&Recipient::Applicant))
    );
    assert_eq!(
        case.filing.extension.as_ref().map(|e| e.reason.as_str()),
        Some(reason.as_str())
    );
    assert_eq!(
        case.try_do(head, Command::Extend { reason }, date(2026, 10, 9)),
        Err(EngineError::AlreadyExtended)
    );
    let mut agreement = world.accepted(
        "cooperation_agreement",
        date(2026, 9, 14),
        date(2026, 9, 14),
    );
    let head = Actor::Head {
        department: "health".into(),
    };
    assert_eq!(
        agreement.try_do(
            head,
            Command::Extend {
                reason: "复杂".into()
            },
            date(2026, 9, 15)
        ),
        Err(EngineError::NoExtensionAllowed)
    );
}

#[test]
fn eligibility_rules_check_the_facts_supplied() {
    let world = world();
    let case = world.case("insurance_designation");
    let mut answers = case.sample();
    answers.facts.insert("months_operating".into(), 2.into());
    let problems = validate(
        case.workflow,
        answers.as_applicant(),
        &answers.form,
        &Facts::registry(answers.facts.clone()),
        BTreeMap::new(),
    )
    .unwrap_err();
    assert_eq!(problems.len(), 1);
    assert_eq!(
        problems[0].message,
        "医养结合机构中的医疗机构正式运营3个月后方可提出定点申请"
    );

    let case = world.case("family_doctor");
    let mut answers = case.sample();
    answers.facts.insert("accident_3y".into(), true.into());
    answers
        .facts
        .insert("insurance_designated".into(), false.into());
    answers.form.insert("gp_physicians".into(), 0.into());
    let problems = validate(
        case.workflow,
        answers.as_applicant(),
        &answers.form,
        &Facts::registry(answers.facts.clone()),
        BTreeMap::new(),
    )
    .unwrap_err();
    let messages: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
    assert_eq!(
        messages.len(),
        3,
        "every failed condition at once: {messages:?}"
    );
    assert!(messages.contains(&"机构内至少具备全科医学执业医师1名"));
}

#[test]
fn wrong_form_values_are_all_reported_in_chinese() {
    let world = world();
    let case = world.case("eldercare_clinic");
    let mut answers = case.sample();
    answers.form.insert("beds".into(), "很多".into());
    answers.form.insert("kind".into(), "医院".into());
    answers.form.remove("address");
    answers.form.insert("color".into(), "红".into());
    let mut uploads = BTreeMap::new();
    uploads.insert(
        "application".to_string(),
        Upload {
            kind: "exe".into(),
            ..upload("application")
        },
    );
    let problems = validate(
        case.workflow,
        answers.as_applicant(),
        &answers.form,
        &Facts::registry(answers.facts.clone()),
        uploads,
    )
    .unwrap_err();
    let messages: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
    assert!(
        messages.contains(&"“养老机构核定床位数”应为整数"),
        "{messages:?}"
    );
    assert!(
        messages.contains(
            &"“拟设医疗机构类别”只能选择：诊所、医务室、护理站、护理院、门诊部、老年病专科医院"
        ),
        "{messages:?}"
    );
    assert!(messages.contains(&"请填写“机构地址”"), "{messages:?}");
    assert!(
        messages.contains(&"表单中没有“color”这一项"),
        "{messages:?}"
    );
    assert!(
        messages.contains(&"“设置医疗机构申请书”的文件格式EXE不符合要求，可提交PDF、OFD"),
        "{messages:?}"
    );
    answers.form.insert("beds".into(), (-1).into());
    let problems = validate(
        case.workflow,
        answers.as_applicant(),
        &answers.form,
        &Facts::registry(answers.facts.clone()),
        BTreeMap::new(),
    )
    .unwrap_err();
    assert!(problems
        .iter()
        .any(|p| p.message == "“养老机构核定床位数”不能小于0"));
}

#[test]
fn deferred_materials_must_arrive_before_a_decision() {
    let world = world();
    let mut case = world.case("new_combined");
    let answers = case.sample();
    let submission = case.submission(&answers, &["fire"]);
    case.act(
        Actor::Applicant,
        Command::Submit { submission },
        date(2026, 9, 14),
    );
    case.act(case.window(), Command::Accept, date(2026, 9, 14));
    assert!(case.filing.deferred.contains("fire"), "容缺受理");
    let health = case.step("医疗机构设置审批");
    let error = case
        .try_do(
            case.reviewer(health),
            Command::Approve { step: health },
            date(2026, 9, 21),
        )
        .unwrap_err();
    assert_eq!(
        error,
        EngineError::DeferredOutstanding {
            materials: vec!["fire".into()]
        }
    );
    let mut materials = BTreeMap::new();
    materials.insert("site_plan".to_string(), upload("site_plan"));
    assert!(matches!(
        case.try_do(
            Actor::Applicant,
            Command::SupplyDeferred { materials },
            date(2026, 9, 18)
        ),
        Err(EngineError::Invalid { .. })
    ));
    let mut materials = BTreeMap::new();
    materials.insert("fire".to_string(), upload("fire"));
    case.act(
        Actor::Applicant,
        Command::SupplyDeferred { materials },
        date(2026, 9, 18),
    );
    case.act(
        case.reviewer(health),
        Command::Approve { step: health },
        date(2026, 9, 21),
    );
}

#[test]
fn agreement_is_signed_by_both_parties_then_filed_with_three_departments() {
    let world = world();
    let mut case = world.accepted(
        "cooperation_agreement",
        date(2026, 9, 14),
        date(2026, 9, 14),
    );
    let sign = case.step("签订协议");
    let medical = Actor::Party {
        party: "medical".into(),
    };
    let eldercare = Actor::Party {
        party: "eldercare".into(),
    };
    case.act(
        medical.clone(),
        Command::Sign { step: sign },
        date(2026, 9, 15),
    );
    assert!(
        matches!(case.filing.steps[sign].status, StepStatus::Active { .. }),
        "one signature is not enough"
    );
    assert_eq!(
        case.try_do(medical, Command::Sign { step: sign }, date(2026, 9, 16)),
        Err(EngineError::AlreadySigned {
            step: sign,
            party: "medical".into()
        })
    );
    case.act(eldercare, Command::Sign { step: sign }, date(2026, 9, 16));
    assert_eq!(case.issued(Event::Signed), 1);
    let filings: Vec<usize> = (0..case.workflow.steps.len())
        .filter(|s| *s != sign)
        .collect();
    assert_eq!(filings.len(), 3);
    for step in &filings {
        assert_eq!(
            case.filing.steps[*step].status,
            StepStatus::Active {
                since: date(2026, 9, 16)
            }
        );
    }
    for (offset, step) in filings.iter().enumerate() {
        assert_eq!(
            case.issued(Event::Filed),
            offset,
            "each department that receives the agreement issues its own receipt when it files"
        );
        case.act(
            case.reviewer(*step),
            Command::File { step: *step },
            date(2026, 9, 17 + offset as i8),
        );
    }
    let receipts: Vec<String> = issued_by(&case, Event::Filed)
        .into_iter()
        .map(|(department, _)| department)
        .collect();
    assert_eq!(receipts, ["health", "civil", "township"]);
    assert_eq!(case.issued(Event::Signed), 1, "issued once");
    assert_eq!(case.filing.decision, Some(Decision::Filed));
    assert!(matches!(
        case.filing.steps[filings[2]].status,
        StepStatus::Done {
            outcome: StepOutcome::Filed,
            ..
        }
    ));
}

#[test]
fn warnings_turn_yellow_then_red_and_escalate_to_the_head() {
    let world = world();
    let mut case = world.accepted("new_combined", date(2026, 11, 2), date(2026, 11, 2));
    let health = case.step("医疗机构设置审批");
    let due = case.step_due(health).unwrap();
    assert_eq!(due, date(2026, 11, 30));
    let level = |today| clock::level(case.workflow, Some(due), today, case.calendar).unwrap();
    assert_eq!(level(date(2026, 11, 24)), Level::Green);
    assert_eq!(
        level(date(2026, 11, 25)),
        Level::Yellow,
        "three working days before"
    );
    assert_eq!(level(date(2026, 11, 30)), Level::Yellow);
    assert_eq!(level(date(2026, 12, 1)), Level::Red);
    assert!(case.effects.contains(&Effect::ScheduleTimer {
        at: date(2026, 11, 25),
        timer: Timer::StepDueSoon { step: health }
    }));
    assert!(case.effects.contains(&Effect::ScheduleTimer {
        at: date(2026, 12, 1),
        timer: Timer::StepOverdue { step: health }
    }));
    case.act(
        Actor::System,
        Command::Timer {
            timer: Timer::StepOverdue { step: health },
        },
        date(2026, 12, 1),
    );
    let overdue = case.notified("overdue");
    assert_eq!(overdue.len(), 1);
    let Effect::Notify {
        recipients,
        department,
        ..
    } = overdue[0]
    else {
        unreachable!()
    };
    assert_eq!(recipients, &vec![Recipient::Head]);
    assert_eq!(department.as_deref(), Some("health"));
}

#[test]
fn a_year_without_its_notice_yet_is_counted_provisionally() {
    // Issue 12: a missing year never closes the window. 2027 has no file:
    // its dates are counted on weekends and the fixed-date holidays, and
    // said to be provisional.
    let world = world();
    let mut case = world.case("new_combined");
    case.submit(date(2026, 12, 14));
    case.act(case.window(), Command::Accept, date(2026, 12, 15));
    assert_eq!(case.filing.status, Status::InReview);
    let calendar = &world.calendar;
    assert!(calendar.is_provisional(date(2027, 1, 4)));
    assert!(!calendar.is_provisional(date(2026, 12, 31)));
    // 1 January is a holiday in every year; the weekend rests.
    assert!(!calendar.is_workday(date(2027, 1, 1)).unwrap());
    assert!(!calendar.is_workday(date(2027, 1, 2)).unwrap());
    assert!(calendar.is_workday(date(2027, 1, 4)).unwrap());
    assert!(!calendar.is_workday(date(2027, 10, 3)).unwrap());
    assert_eq!(calendar.provisional_years(), vec![2027, 2028]);
}

#[test]
fn filings_are_pinned_to_their_workflow_version() {
    let world = world();
    let mut case = world.case("new_combined");
    case.submit(date(2026, 9, 14));
    let pinned = case.workflow.version;
    let mut next_version = case.workflow.clone();
    next_version.version = pinned + 1;
    let context = Context {
        workflow: &next_version,
        calendar: case.calendar,
    };
    let error = transition(
        context,
        &case.filing,
        &case.window(),
        &Command::Accept,
        at(date(2026, 9, 15)),
    )
    .unwrap_err();
    assert_eq!(
        error,
        EngineError::WrongWorkflow {
            filing: ("new_combined".into(), pinned),
            given: ("new_combined".into(), pinned + 1)
        }
    );
}

#[test]
fn withdrawal_closes_open_steps() {
    let world = world();
    let mut case = world.accepted("new_combined", date(2026, 9, 14), date(2026, 9, 14));
    case.act(
        Actor::Applicant,
        Command::Withdraw {
            reason: "调整选址".into(),
        },
        date(2026, 9, 16),
    );
    assert_eq!(case.filing.status, Status::Withdrawn);
    let cancelled = case
        .filing
        .steps
        .iter()
        .filter(|s| matches!(s.status, StepStatus::Cancelled { .. }))
        .count();
    assert_eq!(cancelled, 2, "both open steps");
    assert!(
        case.filing.steps.iter().all(|s| matches!(
            s.status,
            StepStatus::Cancelled { .. } | StepStatus::Skipped { .. }
        )),
        "nothing left open; the setting-only step stays skipped (两证合一 applies)"
    );
    assert_eq!(case.filing.history.len(), 3);
}

/// Every shipped procedure, filed on an ordinary day and on each day that
/// breaks dates (`common::BREAKING_DAYS`: 31 December, the first working
/// day of January, a make-up Saturday, the eve of a Golden Week, 29
/// February 2028), is decided within its promise, and every limit it is
/// told falls on a working day, after the day it was filed.
#[test]
fn every_shipped_sample_simulates_within_its_promise_on_the_days_that_break_dates() {
    let world = world();
    let days = std::iter::once(date(2026, 3, 2)).chain(common::BREAKING_DAYS.map(|d| d.at.date()));
    for day in days {
        for workflow in &world.loaded.checked.workflows {
            let case = world.case(&workflow.id);
            let on = format!("{} filed {day}", workflow.id);
            let report = onewindow::engine::simulate::simulate(
                workflow,
                &world.calendar,
                day,
                &case.sample(),
            )
            .unwrap_or_else(|e| panic!("{on}: {e}"));
            assert_eq!(report.filing.status, Status::Decided, "{on}");
            let promised = report.promised_due.clone().expect("promise known");
            assert!(report.completed_on <= promised, "{on}: {report}");
            let legal = report.legal_due.clone().expect("limit known");
            for (what, due) in [
                ("intake", report.intake_due),
                ("promise", promised),
                ("legal limit", legal),
            ] {
                assert!(due > day, "{on}: {what} {due}");
                assert!(
                    world.calendar.is_workday(due).unwrap(),
                    "{on}: {what} {due} is no working day"
                );
            }
        }
    }
}

#[test]
fn an_intake_deadline_beyond_the_provisional_years_refuses_the_submission() {
    let world = world();
    let mut case = world.case("new_combined");
    let submission = case.submission(&case.sample(), &[]);
    // Five working days from 2028-12-27 end in 2029: no file and not one of
    // the two provisional years after the last file.
    let error = case
        .try_do(
            Actor::Applicant,
            Command::Submit { submission },
            date(2028, 12, 27),
        )
        .unwrap_err();
    assert!(
        error.to_string().contains("calendars/cn/2029.toml"),
        "{error}"
    );
    assert_eq!(case.filing.status, Status::Draft, "nothing changed");
}

/// Issue: deemed acceptance dated the filing from receipt but started the
/// reviews' clocks on the day the timer fired, so a step could fall due
/// after the filing's own promised date.
#[test]
fn after_a_deemed_acceptance_every_clock_runs_from_the_acceptance_date() {
    let world = world();
    let mut case = world.case("new_combined");
    case.submit(date(2026, 2, 12));
    let deemed = Command::Timer {
        timer: Timer::DeemedAcceptance,
    };
    case.act(Actor::System, deemed, date(2026, 3, 2));
    assert_eq!(case.filing.accepted_on, Some(date(2026, 2, 12)));
    let promised = clock::overall_due(case.workflow, &case.filing, case.calendar, Limit::Promised)
        .unwrap()
        .unwrap();
    let active: Vec<usize> = (0..case.filing.steps.len())
        .filter(|&step| matches!(case.filing.steps[step].status, StepStatus::Active { .. }))
        .collect();
    assert!(!active.is_empty());
    for step in active {
        assert_eq!(
            case.filing.steps[step].status,
            StepStatus::Active {
                since: date(2026, 2, 12)
            }
        );
        let due = case.step_due(step).unwrap();
        assert!(
            due <= promised,
            "step {step} due {due} after the promise {promised}"
        );
    }
}

/// Issue: a correction notice that left out a missing material was
/// accepted, and the material later treated as deferred (容缺) though it
/// is not deferrable.
#[test]
fn a_correction_notice_must_name_every_missing_material() {
    let world = world();
    let (mut case, _) = world.filed_without_site_plan_and_rules();
    let before = case.filing.clone();
    let error = case
        .try_do(
            case.window(),
            Command::RequestCorrection {
                items: vec!["请补交选址报告和建筑设计平面图".into()],
            },
            date(2026, 11, 24),
        )
        .unwrap_err();
    assert_eq!(
        error,
        EngineError::CorrectionIncomplete {
            omitted: vec!["医疗机构规章制度".into()]
        }
    );
    assert!(error.to_string().contains("一次性告知"), "{error}");
    assert_eq!(case.filing, before, "nothing changed");
    // A material may be named by its id as well as its label.
    case.act(
        case.window(),
        Command::RequestCorrection {
            items: vec!["选址报告和建筑设计平面图".into(), "rules：规章制度".into()],
        },
        date(2026, 11, 24),
    );
    assert_eq!(case.filing.status, Status::AwaitingCorrection);
}

#[test]
fn a_deemed_acceptance_never_defers_a_material_that_is_not_deferrable() {
    let world = world();
    let mut case = world.case("eldercare_clinic");
    let answers = case.sample();
    let submission = case.submission(&answers, &["site_plan", "staff"]);
    case.act(
        Actor::Applicant,
        Command::Submit { submission },
        date(2026, 11, 2),
    );
    let deemed = Command::Timer {
        timer: Timer::DeemedAcceptance,
    };
    case.act(Actor::System, deemed, date(2026, 11, 16));
    assert!(case.filing.deemed_accepted);
    assert!(case.filing.deferred.contains("staff"), "deferrable: 容缺");
    assert!(
        !case.filing.deferred.contains("site_plan"),
        "required and not deferrable: still missing, never deferred"
    );
}

/// Issue 20: an applicant asked for two materials answered with one, and
/// the answer was taken; intake restarted with a material still missing.
#[test]
fn an_answer_to_a_correction_supplies_every_material_it_asked_for() {
    let world = world();
    let (mut case, answers) = world.filed_without_site_plan_and_rules();
    case.act(
        case.window(),
        Command::RequestCorrection {
            items: vec!["site_plan".into(), "rules".into()],
        },
        date(2026, 11, 24),
    );
    let before = case.filing.clone();
    let partial = case.submission(&answers, &["rules"]);
    let error = case
        .try_do(
            Actor::Applicant,
            Command::AnswerCorrection {
                submission: partial,
            },
            date(2026, 11, 26),
        )
        .unwrap_err();
    assert_eq!(
        error,
        EngineError::AnswerIncomplete {
            missing: vec!["医疗机构规章制度".into()]
        }
    );
    assert!(
        error.chinese().contains("还缺：医疗机构规章制度"),
        "{error}"
    );
    assert_eq!(case.filing, before, "nothing changed");
    let complete = case.submission(&answers, &[]);
    case.act(
        Actor::Applicant,
        Command::AnswerCorrection {
            submission: complete,
        },
        date(2026, 11, 27),
    );
    assert_eq!(case.filing.status, Status::Submitted);
}
