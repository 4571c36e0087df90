//! Random sequences of commands never break the engine's invariants:
//! no step is decided twice, parallel branches start together and later
//! items of a sequence wait for earlier ones, the clock never runs while
//! paused, closed filings stay closed, documents are issued once.

use std::collections::BTreeMap;
use std::path::Path;

use jiff::civil::{date, Date, DateTime, Time};
use onewindow::calendar::Calendar;
use onewindow::dsl::ir::{Event, Route};
use onewindow::dsl::{self, Workflow};
use onewindow::engine::clock;
use onewindow::engine::state::{PauseKind, StepStatus};
use onewindow::engine::Answers;
use onewindow::engine::{transition, Actor, Command, Context, Effect, Filing, Status, Timer};
use onewindow::project::{self, Paths};
use proptest::prelude::*;

const WORKFLOWS: [&str; 4] = [
    "new_combined",
    "cooperation_agreement",
    "eldercare_clinic",
    "medical_eldercare",
];

struct World {
    loaded: dsl::Loaded,
    calendar: Calendar,
}

fn world() -> &'static World {
    static WORLD: std::sync::OnceLock<World> = std::sync::OnceLock::new();
    WORLD.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let loaded = project::load(&Paths {
            flows: vec![root.join("workflows")],
            templates: root.join("templates"),
        })
        .expect("definitions");
        let calendar = Calendar::load(&root.join("calendars"), "cn").expect("calendars");
        World { loaded, calendar }
    })
}

/// One random move: which command, on which step, by the right actor or
/// not, after how many days.
#[derive(Debug, Clone)]
struct Move {
    command: u8,
    step: usize,
    party: usize,
    right_actor: bool,
    days_later: u8,
}

/// Command codes of `command_for`, weighted so that runs progress: the
/// commands that close a filing early (refusals, withdrawal) are rare.
fn command() -> impl Strategy<Value = u8> {
    prop_oneof![
        10 => Just(0u8), // accept
        2 => Just(1),    // intake correction
        3 => Just(2),    // its answer
        1 => Just(3),    // refuse to accept
        14 => Just(4),   // approve
        1 => Just(5),    // refuse
        10 => Just(6),   // file
        10 => Just(7),   // sign
        3 => Just(8),    // review correction
        4 => Just(9),    // its answer
        3 => Just(10),   // pause
        4 => Just(11),   // resume
        2 => Just(12),   // extend
        1 => Just(13),   // withdraw
        2 => Just(14),   // deemed acceptance timer
        3 => Just(15),   // overdue timer
    ]
}

fn moves() -> impl Strategy<Value = Vec<Move>> {
    prop::collection::vec(
        (
            command(),
            0usize..6,
            0usize..2,
            prop::bool::weighted(0.85),
            0u8..4,
        )
            .prop_map(|(command, step, party, right_actor, days_later)| Move {
                command,
                step,
                party,
                right_actor,
                days_later,
            }),
        1..40,
    )
}

fn sample(workflow: &Workflow) -> Answers {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("workflows/samples/{}.json", workflow.id));
    serde_json::from_str(&std::fs::read_to_string(path).expect("sample")).expect("answers")
}

/// The shipped sample, with every material it lists uploaded.
fn sample_submission(workflow: &Workflow) -> onewindow::engine::Submission {
    sample(workflow).submission(workflow).expect("sample")
}

fn command_for(workflow: &Workflow, _filing: &Filing, m: &Move) -> (Actor, Command) {
    let step = m.step % workflow.steps.len();
    let department = workflow.steps[step].department.clone().unwrap_or_default();
    let reviewer = Actor::Reviewer {
        department: department.clone(),
    };
    let window = Actor::Window {
        department: workflow.intake.department.clone(),
    };
    let submission = sample_submission(workflow);
    let (actor, command) = match m.command {
        0 => (window, Command::Accept),
        1 => (
            window,
            Command::RequestCorrection {
                items: vec!["补正".into()],
            },
        ),
        2 => (Actor::Applicant, Command::AnswerCorrection { submission }),
        3 => (
            window,
            Command::RefuseToAccept {
                reasons: vec!["不符合".into()],
            },
        ),
        4 => (reviewer, Command::Approve { step }),
        5 => (
            reviewer,
            Command::Refuse {
                step,
                reasons: vec!["不符合条件".into()],
            },
        ),
        6 => (reviewer, Command::File { step }),
        7 => {
            let parties = &workflow.steps[step].parties;
            let party = parties
                .get(m.party % parties.len().max(1))
                .cloned()
                .unwrap_or_default();
            (Actor::Party { party }, Command::Sign { step })
        }
        8 => (
            reviewer,
            Command::RequestStepCorrection {
                step,
                items: vec!["补充材料".into()],
            },
        ),
        9 => (
            Actor::Applicant,
            Command::AnswerStepCorrection { step, submission },
        ),
        10 => (
            reviewer,
            Command::Pause {
                step,
                kind: PauseKind::ExpertReview,
                days: 5,
                reason: "专家评审".into(),
            },
        ),
        11 => (reviewer, Command::Resume { step }),
        12 => (
            Actor::Head { department },
            Command::Extend {
                reason: "情况复杂".into(),
            },
        ),
        13 => (
            Actor::Applicant,
            Command::Withdraw {
                reason: "撤回".into(),
            },
        ),
        14 => (
            Actor::System,
            Command::Timer {
                timer: Timer::DeemedAcceptance,
            },
        ),
        _ => (
            Actor::System,
            Command::Timer {
                timer: Timer::StepOverdue { step },
            },
        ),
    };
    if m.right_actor {
        (actor, command)
    } else {
        (
            Actor::Reviewer {
                department: "insurance".into(),
            },
            command,
        )
    }
}

fn started(route: &Route, filing: &Filing) -> bool {
    route
        .step_indices()
        .iter()
        .any(|i| !matches!(filing.steps[*i].status, StepStatus::Waiting))
}

fn over(route: &Route, filing: &Filing) -> bool {
    route.step_indices().iter().all(|i| {
        matches!(
            filing.steps[*i].status,
            StepStatus::Done { .. } | StepStatus::Skipped { .. } | StepStatus::Cancelled { .. }
        )
    })
}

/// Parallel branches start together; a sequence's later items wait.
fn check_route(route: &Route, filing: &Filing) -> Result<(), String> {
    match route {
        Route::Step(_) => Ok(()),
        Route::Parallel(items) => {
            if started(route, filing) {
                for item in items {
                    if !started(item, filing) {
                        return Err(format!(
                            "a parallel branch did not start with its siblings: {item:?}"
                        ));
                    }
                }
            }
            items.iter().try_for_each(|item| check_route(item, filing))
        }
        Route::Sequence(items) => {
            for (position, item) in items.iter().enumerate() {
                if started(item, filing) {
                    for earlier in &items[..position] {
                        let cancelled_together = filing.status.is_closed();
                        if !over(earlier, filing) && !cancelled_together {
                            return Err(format!("{item:?} started before {earlier:?} was over"));
                        }
                    }
                }
            }
            items.iter().try_for_each(|item| check_route(item, filing))
        }
    }
}

fn check_invariants(
    workflow: &Workflow,
    calendar: &Calendar,
    before: &Filing,
    after: &Filing,
    effects: &[Effect],
    issued: &mut BTreeMap<Event, usize>,
) -> Result<(), String> {
    if before.status.is_closed() && before != after {
        return Err("a closed filing changed".into());
    }
    for (index, (old, new)) in before.steps.iter().zip(&after.steps).enumerate() {
        if matches!(old.status, StepStatus::Done { .. }) && old.status != new.status {
            return Err(format!("step {index} was decided twice"));
        }
    }
    if before != after && after.history.len() != before.history.len() + 1 {
        return Err("a change without exactly one history entry".into());
    }
    check_route(&workflow.route, after)?;
    for (index, state) in after.steps.iter().enumerate() {
        let StepStatus::Active { since } = state.status else {
            continue;
        };
        let pauses: Vec<_> = after
            .pauses
            .iter()
            .filter(|p| p.step.is_none_or(|s| s == index))
            .collect();
        let due = clock::step_due(workflow, after, calendar, index).map_err(|e| e.to_string())?;
        if pauses.iter().any(|p| p.until.is_none()) {
            if due.is_some() {
                return Err(format!("step {index} has a due date while paused"));
            }
            continue;
        }
        let due = due.ok_or("an active, unpaused step without due date")?;
        let stopped = |day: Date| pauses.iter().any(|p| p.stops(day));
        let counted = calendar
            .workdays_between_except(since, due, stopped)
            .map_err(|e| e.to_string())?;
        let limit = clock::step_limit(workflow, after, index);
        if counted != limit {
            return Err(format!(
                "step {index}: {counted} working days counted, limit {limit}"
            ));
        }
    }
    match after.status {
        Status::InReview if after.accepted_on.is_none() => {
            return Err("in review without acceptance".into())
        }
        Status::Decided if after.decision.is_none() || after.decided_on.is_none() => {
            return Err("decided without a decision".into())
        }
        _ => {}
    }
    for effect in effects {
        if let Effect::IssueDocument { event, outcome, .. } = effect {
            if *event != Event::Correction {
                let first_of_event = workflow.outcomes.iter().position(|o| o.event == *event);
                if first_of_event == Some(*outcome) {
                    *issued.entry(*event).or_default() += 1;
                    if issued[event] > 1 {
                        return Err(format!("documents of {event:?} issued twice"));
                    }
                }
            }
        }
    }
    Ok(())
}

/// What one run reached, to show the random runs explore the lifecycle.
#[derive(Debug, Default, Clone, Copy)]
struct Reached {
    in_review: bool,
    paused: bool,
    decided: bool,
    closed_otherwise: bool,
    refused_commands: usize,
}

/// Runs one random sequence; `Err` names the broken invariant.
fn run(which: usize, moves: &[Move]) -> Result<Reached, String> {
    let world = world();
    let workflow = world.loaded.workflow(WORKFLOWS[which]).expect("workflow");
    let context = Context {
        workflow,
        calendar: &world.calendar,
    };
    let at = |day: Date| DateTime::from_parts(day, Time::constant(9, 0, 0, 0));
    let mut day = date(2026, 3, 2);
    let submission = sample_submission(workflow);
    let mut filing = Filing::draft("P-1", workflow);
    filing = transition(
        context,
        &filing,
        &Actor::Applicant,
        &Command::Submit { submission },
        at(day),
    )
    .expect("submit")
    .filing;
    let mut issued = BTreeMap::new();
    let mut reached = Reached::default();
    for m in moves {
        day = day
            .checked_add(jiff::Span::new().days(i64::from(m.days_later)))
            .expect("date");
        let (actor, command) = command_for(workflow, &filing, m);
        match transition(context, &filing, &actor, &command, at(day)) {
            Ok(next) => {
                check_invariants(
                    workflow,
                    &world.calendar,
                    &filing,
                    &next.filing,
                    &next.effects,
                    &mut issued,
                )
                .map_err(|broken| {
                    format!(
                        "{broken}\nafter {command:?} by {actor} on {day}\n{:#?}",
                        next.filing
                    )
                })?;
                filing = next.filing;
            }
            // A refused command changes nothing: the caller keeps `filing`.
            Err(_) => reached.refused_commands += 1,
        }
        reached.in_review |= filing.status == Status::InReview;
        reached.paused |= filing.pauses.iter().any(|p| p.until.is_none());
        reached.decided |= filing.status == Status::Decided;
        reached.closed_otherwise |=
            matches!(filing.status, Status::NotAccepted | Status::Withdrawn);
    }
    Ok(reached)
}

proptest! {
    // 300 cases by default; `PROPTEST_CASES` raises it for a deeper run.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(300),
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_commands_keep_the_invariants(which in 0usize..WORKFLOWS.len(), moves in moves()) {
        if let Err(broken) = run(which, &moves) {
            prop_assert!(false, "{}", broken);
        }
    }
}

/// The random runs are worth something only if they reach the states the
/// invariants speak about.
#[test]
fn random_runs_reach_every_phase() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = (0usize..WORKFLOWS.len(), moves());
    let mut totals = [0usize; 4];
    let runs = 300;
    for _ in 0..runs {
        let (which, moves) = strategy.new_tree(&mut runner).expect("tree").current();
        let reached = run(which, &moves).expect("invariants hold");
        for (total, hit) in totals.iter_mut().zip([
            reached.in_review,
            reached.paused,
            reached.decided,
            reached.closed_otherwise,
        ]) {
            *total += usize::from(hit);
        }
    }
    eprintln!(
        "of {runs} runs: in review {}, paused {}, decided {}, refused or withdrawn {}",
        totals[0], totals[1], totals[2], totals[3]
    );
    assert!(
        totals[0] >= runs / 2,
        "too few runs reach review: {totals:?}"
    );
    assert!(totals[1] >= runs / 10, "too few runs pause: {totals:?}");
    assert!(
        totals[2] >= runs / 10,
        "too few runs are decided: {totals:?}"
    );
    assert!(
        totals[3] >= runs / 10,
        "too few runs are refused or withdrawn: {totals:?}"
    );
}
