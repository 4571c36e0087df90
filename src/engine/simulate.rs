//! Sample filings run through the engine on the calendar, in the worst case
//! the law allows: the window accepts on the last day of intake, and every
//! step is decided on its due date. What `onewindow simulate` prints.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

use jiff::civil::{Date, DateTime, Time};

use super::clock;
use super::state::{Filing, Status, StepStatus};
use super::submission::{Answers, Problem, Upload};
use super::transition::{transition, Actor, Command, Context, EngineError};
use crate::calendar::Calendar;
use crate::dsl::ir::{LegalForm, StepKind, Workflow};

/// The simulated course of a filing.
#[derive(Debug, Clone)]
pub struct Report {
    pub workflow: String,
    pub title: String,
    pub version: u32,
    pub submitted_on: Date,
    pub intake_due: Date,
    pub accepted_on: Date,
    pub steps: Vec<StepRow>,
    /// The city's promise and the law's limit from acceptance, or why unknown.
    pub promised_due: Result<Date, String>,
    pub legal_due: Result<Date, String>,
    pub completed_on: Date,
    pub filing: Filing,
}

#[derive(Debug, Clone)]
pub struct StepRow {
    pub id: String,
    pub label: String,
    pub who: String,
    pub kind: StepKind,
    /// What the step's part ends in (行政许可, 备案, 评估 …).
    pub form: LegalForm,
    pub limit: u32,
    pub course: Course,
}

#[derive(Debug, Clone)]
pub enum Course {
    Taken {
        /// The last day of the step's bound in calendar months, if it has one.
        bound: Option<Date>,
        active: Date,
        due: Date,
        decided: Date,
    },
    Skipped {
        reason: String,
    },
}

#[derive(Debug)]
pub enum SimulateError {
    /// The sample answers do not make a valid submission.
    Answers(Vec<Problem>),
    Engine(EngineError),
}

impl fmt::Display for SimulateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SimulateError::Answers(problems) => {
                writeln!(f, "the sample answers are not a valid submission:")?;
                for problem in problems {
                    let subject = problem.subject.as_deref().unwrap_or("-");
                    writeln!(f, "  {subject}: {}", problem.message)?;
                }
                Ok(())
            }
            SimulateError::Engine(error) => write!(f, "{error}"),
        }
    }
}

impl std::error::Error for SimulateError {}

impl From<EngineError> for SimulateError {
    fn from(error: EngineError) -> SimulateError {
        SimulateError::Engine(error)
    }
}

/// Runs one sample filing submitted on `start`.
///
/// # Errors
/// Invalid answers, or an engine error — notably a due date in a year the
/// calendar does not cover.
pub fn simulate(
    workflow: &Workflow,
    calendar: &Calendar,
    start: Date,
    answers: &Answers,
) -> Result<Report, SimulateError> {
    let context = Context { workflow, calendar };
    let submission = answers
        .submission(workflow)
        .map_err(SimulateError::Answers)?;
    let at = |date: Date| DateTime::from_parts(date, Time::constant(9, 0, 0, 0));
    let mut filing = Filing::draft(format!("SIM-{}", workflow.id), workflow);
    let step = |filing: &Filing, actor: Actor, command: Command, date: Date| {
        transition(context, filing, &actor, &command, at(date)).map(|t| t.filing)
    };
    filing = step(
        &filing,
        Actor::Applicant,
        Command::Submit { submission },
        start,
    )?;
    let intake_due = clock::intake_due(workflow, &filing, calendar)
        .map_err(EngineError::from)?
        .unwrap_or(start);
    let window = Actor::Window {
        department: workflow.intake.department.clone(),
    };
    filing = step(&filing, window, Command::Accept, intake_due)?;
    let accepted_on = filing.accepted_on.unwrap_or(intake_due);
    if !filing.deferred.is_empty() {
        let materials = filing
            .deferred
            .iter()
            .map(|id| (id.clone(), Upload::placeholder(id, "pdf")))
            .collect();
        filing = step(
            &filing,
            Actor::Applicant,
            Command::SupplyDeferred { materials },
            accepted_on,
        )?;
    }
    let mut taken = BTreeMap::new();
    while filing.status == Status::InReview {
        let mut next: Option<(Date, usize)> = None;
        for index in 0..workflow.steps.len() {
            if let Some(due) =
                clock::step_due(workflow, &filing, calendar, index).map_err(EngineError::from)?
            {
                if next.is_none_or(|(best, _)| due < best) {
                    next = Some((due, index));
                }
            }
        }
        let Some((due, index)) = next else { break };
        let StepStatus::Active { since } = filing.steps[index].status else {
            break;
        };
        let definition = &workflow.steps[index];
        let bound = clock::step_bound(workflow, &filing, index);
        match definition.kind {
            StepKind::Review | StepKind::Filing => {
                let actor = Actor::Reviewer {
                    department: filing
                        .step_department(workflow, index)
                        .unwrap_or_default()
                        .to_string(),
                };
                let command = if definition.kind == StepKind::Review {
                    Command::Approve { step: index }
                } else {
                    Command::File { step: index }
                };
                filing = step(&filing, actor, command, due)?;
            }
            StepKind::Signing => {
                for party in &definition.parties {
                    let actor = Actor::Party {
                        party: party.clone(),
                    };
                    filing = step(&filing, actor, Command::Sign { step: index }, due)?;
                }
            }
        }
        taken.insert(index, (since, due, bound));
    }
    let due = |limit| match clock::overall_due(workflow, &filing, calendar, limit) {
        Ok(Some(date)) => Ok(date),
        Ok(None) => Err("paused".to_string()),
        Err(error) => Err(error.to_string()),
    };
    let (promised_due, legal_due) = (due(clock::Limit::Promised), due(clock::Limit::Legal));
    let steps = workflow
        .steps
        .iter()
        .enumerate()
        .map(|(index, definition)| {
            let who = workflow.step_actors(definition);
            let course = match (&filing.steps[index].status, taken.get(&index)) {
                (StepStatus::Done { on, .. }, Some((active, due, bound))) => Course::Taken {
                    bound: *bound,
                    active: *active,
                    due: *due,
                    decided: *on,
                },
                (StepStatus::Skipped { reason }, _) => Course::Skipped {
                    reason: reason.clone(),
                },
                (other, _) => Course::Skipped {
                    reason: format!("{other:?}"),
                },
            };
            StepRow {
                id: definition.id.clone(),
                label: definition.label.clone(),
                who,
                kind: definition.kind,
                form: definition.legal_form(),
                limit: definition.limit,
                course,
            }
        })
        .collect();
    Ok(Report {
        workflow: workflow.id.clone(),
        title: workflow.title.clone(),
        version: workflow.version,
        submitted_on: start,
        intake_due,
        accepted_on,
        steps,
        promised_due,
        legal_due,
        completed_on: filing.decided_on.unwrap_or(accepted_on),
        filing,
    })
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{}（{} 第{}版）: worst case on the working-day calendar",
            self.title, self.workflow, self.version
        );
        let _ = writeln!(out, "  submitted            {}", self.submitted_on);
        let _ = writeln!(
            out,
            "  intake due           {}  (untouched by then: accepted as of submission, art. 32)",
            self.intake_due
        );
        let _ = writeln!(
            out,
            "  accepted             {}  (worst case: on the last day)",
            self.accepted_on
        );
        for row in &self.steps {
            match &row.course {
                Course::Taken {
                    bound,
                    active,
                    due,
                    decided,
                } => {
                    let bound = bound.map_or_else(String::new, |b| format!(", at most by {b}"));
                    let _ = writeln!(
                        out,
                        "  step {:<5} {}（{}，{}，{}个工作日）: active {active}, due {due}{bound}, decided {decided}",
                        row.id,
                        row.label,
                        row.who,
                        row.form.chinese(),
                        row.limit
                    );
                }
                Course::Skipped { reason } => {
                    let _ = writeln!(
                        out,
                        "  step {:<5} {}（{}）: skipped — {reason}",
                        row.id, row.label, row.who
                    );
                }
            }
        }
        let show = |due: &Result<Date, String>| match due {
            Ok(date) => date.to_string(),
            Err(why) => format!("unknown: {why}"),
        };
        let _ = writeln!(out, "  promised due         {}", show(&self.promised_due));
        let _ = writeln!(out, "  legal due            {}", show(&self.legal_due));
        let verdict = match &self.promised_due {
            Ok(promised) if self.completed_on <= *promised => "within the promise",
            Ok(_) => "LATER than the promise",
            Err(_) => "promise unknown",
        };
        let _ = writeln!(
            out,
            "  worst-case completion {}  ({verdict})",
            self.completed_on
        );
        f.write_str(&out)
    }
}
