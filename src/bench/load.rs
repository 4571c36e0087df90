//! The load generator: sample filings driven from submission to decision
//! through the store, as `onewindow load` and `bench engine` run them (the
//! crash test and the sample data use it too).

use std::sync::Arc;
use std::time::Instant;

use jiff::civil::{Date, DateTime, Time};

use crate::dsl::ir::StepKind;
use crate::dsl::Workflow;
use crate::engine::{clock, Actor, Answers, Command, Status, Submission};
use crate::store::{Request, Store, StoreError};

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
            if let Some(due) = clock::step_due(workflow, &applied.filing, &calendar, index)
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
                reviewer(applied.filing.step_department(workflow, step)),
                Command::Approve { step },
            )],
            StepKind::Filing => vec![(
                reviewer(applied.filing.step_department(workflow, step)),
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
    let submission = answers
        .submission(&workflow)
        .map_err(|problems| crate::engine::Problem::list(&problems))?;
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
