//! The transition function: `(filing, actor, command, now) → (filing, effects)`.
//!
//! Pure: it reads no clock and does no IO. The caller supplies `now`, the
//! checked workflow the filing was pinned to, and the calendar; it persists
//! the new state and carries out the effects (documents, mail, timers).

use std::collections::BTreeMap;
use std::fmt;

use jiff::civil::{Date, DateTime};
use serde::{Deserialize, Serialize};

use super::clock;
use super::state::*;
use super::submission::{missing_materials, Problem, Submission, Upload};
use crate::calendar::{Calendar, CalendarError};
use crate::dsl::ir::{Event, NotifyEvent, Recipient, Route, StepKind, Workflow};

/// What the engine needs besides the filing.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub workflow: &'a Workflow,
    pub calendar: &'a Calendar,
}

/// Who acts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Actor {
    Applicant,
    /// A clerk of the window (the intake department).
    Window {
        department: String,
    },
    /// A reviewer of a department.
    Reviewer {
        department: String,
    },
    /// A department's head: approves extensions.
    Head {
        department: String,
    },
    /// A signing party of an agreement.
    Party {
        party: String,
    },
    /// The timer worker.
    System,
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::Applicant => write!(f, "applicant"),
            Actor::Window { department } => write!(f, "window:{department}"),
            Actor::Reviewer { department } => write!(f, "reviewer:{department}"),
            Actor::Head { department } => write!(f, "head:{department}"),
            Actor::Party { party } => write!(f, "party:{party}"),
            Actor::System => write!(f, "system"),
        }
    }
}

/// What an actor asks for. Steps are indices into the workflow's `steps`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    Submit {
        submission: Submission,
    },
    Accept,
    /// The one correction notice of intake: every item at once.
    RequestCorrection {
        items: Vec<String>,
    },
    AnswerCorrection {
        submission: Submission,
    },
    RefuseToAccept {
        reasons: Vec<String>,
    },
    Approve {
        step: usize,
    },
    Refuse {
        step: usize,
        reasons: Vec<String>,
    },
    File {
        step: usize,
    },
    Sign {
        step: usize,
    },
    /// A correction during review: the clock pauses until the applicant answers.
    RequestStepCorrection {
        step: usize,
        items: Vec<String>,
    },
    AnswerStepCorrection {
        step: usize,
        submission: Submission,
    },
    /// Expert review, inspection, appraisal or hearing (art. 45), with its stated duration.
    Pause {
        step: usize,
        kind: PauseKind,
        days: u32,
        reason: String,
    },
    Resume {
        step: usize,
    },
    /// Extend the limit by the definition's allowance, with the head's approval.
    Extend {
        reason: String,
    },
    /// Supply materials accepted as deferrable (容缺).
    SupplyDeferred {
        materials: BTreeMap<String, Upload>,
    },
    Withdraw {
        reason: String,
    },
    Timer {
        timer: Timer,
    },
    /// A year's holidays were published (or corrected): the filing's
    /// reminders and deemed acceptance are scheduled again on the new
    /// calendar (the due dates themselves are always derived from it).
    Recalendar {
        /// What changed, for the history: e.g. the notice that was added.
        note: String,
    },
}

impl Command {
    pub fn name(&self) -> &'static str {
        match self {
            Command::Submit { .. } => "submit",
            Command::Accept => "accept",
            Command::RequestCorrection { .. } => "request_correction",
            Command::AnswerCorrection { .. } => "answer_correction",
            Command::RefuseToAccept { .. } => "refuse_to_accept",
            Command::Approve { .. } => "approve",
            Command::Refuse { .. } => "refuse",
            Command::File { .. } => "file",
            Command::Sign { .. } => "sign",
            Command::RequestStepCorrection { .. } => "request_step_correction",
            Command::AnswerStepCorrection { .. } => "answer_step_correction",
            Command::Pause { .. } => "pause",
            Command::Resume { .. } => "resume",
            Command::Extend { .. } => "extend",
            Command::SupplyDeferred { .. } => "supply_deferred",
            Command::Withdraw { .. } => "withdraw",
            Command::Timer { .. } => "timer",
            Command::Recalendar { .. } => "recalendar",
        }
    }
}

/// Timers the engine asks the worker to fire; each is re-checked when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "timer", rename_all = "snake_case")]
pub enum Timer {
    /// The intake limit passed untouched: accepted by law (art. 32).
    DeemedAcceptance,
    StepDueSoon {
        step: usize,
    },
    StepOverdue {
        step: usize,
    },
}

/// The facts of an event a message must tell, beyond the filing itself: a
/// pause's kind, stated days and expected end; an extension's reason, days
/// and new completion date.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Told {
    /// Why: an extension's or a pause's stated reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// A pause's kind (art. 45), as the applicant reads it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause_kind: Option<String>,
    /// Working days: a pause's stated duration, or an extension's length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<u32>,
    /// A pause's expected end, or the completion date after an extension.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Date>,
}

/// What the caller must do after persisting the new state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum Effect {
    Notify {
        recipients: Vec<Recipient>,
        event: NotifyEvent,
        /// The step concerned; reviewers and heads are that step's department's.
        step: Option<usize>,
        department: Option<String>,
        /// The event's facts the message states.
        #[serde(default)]
        told: Told,
    },
    IssueDocument {
        event: Event,
        /// Index into the workflow's outcomes.
        outcome: usize,
        title: String,
        template: String,
        issued_by: String,
    },
    ScheduleTimer {
        at: Date,
        timer: Timer,
    },
}

/// Why a command was refused. Nothing changes when one is returned.
#[derive(Debug, Clone, PartialEq)]
pub enum EngineError {
    WrongWorkflow {
        filing: (String, u32),
        given: (String, u32),
    },
    WrongState {
        status: Status,
        command: &'static str,
    },
    WrongActor {
        command: &'static str,
        expected: String,
        actor: String,
    },
    UnknownStep {
        step: usize,
    },
    WrongStepKind {
        step: usize,
        kind: StepKind,
        command: &'static str,
    },
    StepNotActive {
        step: usize,
        status: String,
    },
    StepPaused {
        step: usize,
    },
    /// A pause would run past the step's bound in calendar months.
    BeyondBound {
        step: usize,
        months: u32,
        bound: Date,
        until: Date,
    },
    AlreadySigned {
        step: usize,
        party: String,
    },
    CorrectionAlreadyRequested,
    NoOpenCorrection {
        step: usize,
    },
    IntakeLimitPassed {
        deemed_accepted_on: Date,
    },
    MissingMaterials {
        materials: Vec<String>,
    },
    /// A correction notice that leaves out a material the submission lacks.
    CorrectionIncomplete {
        omitted: Vec<String>,
    },
    /// An answer to a correction that does not supply every material the
    /// notice asked for (their names).
    AnswerIncomplete {
        missing: Vec<String>,
    },
    DeferredOutstanding {
        materials: Vec<String>,
    },
    EmptyReasons,
    NoExtensionAllowed,
    AlreadyExtended,
    NotPaused {
        step: usize,
    },
    Invalid {
        problems: Vec<Problem>,
    },
    Calendar(CalendarError),
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EngineError::WrongWorkflow { filing, given } => write!(
                f,
                "the filing is pinned to {} version {}, not {} version {}",
                filing.0, filing.1, given.0, given.1
            ),
            EngineError::WrongState { status, command } => {
                write!(f, "`{command}` is not possible while the filing is {}", status.chinese())
            }
            EngineError::WrongActor { command, expected, actor } => {
                write!(f, "`{command}` is for {expected}, not {actor}")
            }
            EngineError::UnknownStep { step } => write!(f, "there is no step {step}"),
            EngineError::WrongStepKind { step, kind, command } => {
                write!(f, "step {step} is a {} step; `{command}` does not apply", kind.chinese())
            }
            EngineError::StepNotActive { step, status } => write!(f, "step {step} is {status}, not in progress"),
            EngineError::StepPaused { step } => write!(f, "step {step} is paused; resume it first"),
            EngineError::BeyondBound { step, months, bound, until } => write!(
                f,
                "step {step} must end within {months} months, by {bound}; this pause would last until {until}: state fewer days"
            ),
            EngineError::AlreadySigned { step, party } => write!(f, "`{party}` already signed step {step}"),
            EngineError::CorrectionAlreadyRequested => {
                write!(f, "a correction notice was already issued: the applicant is told everything once")
            }
            EngineError::NoOpenCorrection { step } => write!(f, "step {step} awaits no correction"),
            EngineError::IntakeLimitPassed { deemed_accepted_on } => write!(
                f,
                "the intake limit has passed: the application counts as accepted on {deemed_accepted_on} (行政许可法 art. 32)"
            ),
            EngineError::MissingMaterials { materials } => {
                write!(f, "required materials are missing: {}; issue a correction notice instead", materials.join(", "))
            }
            EngineError::CorrectionIncomplete { omitted } => write!(
                f,
                "the correction notice must list everything missing at once (一次性告知); it omits {}",
                omitted.join("、")
            ),
            EngineError::AnswerIncomplete { missing } => write!(
                f,
                "the answer does not supply every material the correction asked for; still missing: {}",
                missing.join("、")
            ),
            EngineError::DeferredOutstanding { materials } => {
                write!(f, "deferred materials are still outstanding: {}", materials.join(", "))
            }
            EngineError::EmptyReasons => write!(f, "reasons or items must be given"),
            EngineError::NoExtensionAllowed => write!(f, "this procedure allows no extension"),
            EngineError::AlreadyExtended => write!(f, "the limit was already extended once"),
            EngineError::NotPaused { step } => write!(f, "step {step} is not paused"),
            EngineError::Invalid { problems } => {
                write!(f, "the submission is invalid: {}", Problem::list(problems))
            }
            EngineError::Calendar(error) => write!(f, "{error}"),
        }
    }
}

impl std::error::Error for EngineError {}

impl EngineError {
    /// Whether someone else acted first: the step or filing moved on
    /// between seeing it and acting (a race, not a mistake).
    pub fn is_race(&self) -> bool {
        matches!(
            self,
            EngineError::WrongState { .. }
                | EngineError::StepNotActive { .. }
                | EngineError::AlreadySigned { .. }
                | EngineError::CorrectionAlreadyRequested
                | EngineError::AlreadyExtended
                | EngineError::NoOpenCorrection { .. }
        )
    }

    /// The refusal in words for the people using the pages.
    pub fn chinese(&self) -> String {
        match self {
            EngineError::WrongWorkflow { .. } | EngineError::Calendar(_) => {
                "系统暂时无法办理此事项，请联系综合窗口".to_string()
            }
            EngineError::WrongState { status, .. } => {
                format!("此申请当前为“{}”，不能进行该操作", status.chinese())
            }
            EngineError::WrongActor { .. } => "该操作不属于您的职责".to_string(),
            EngineError::UnknownStep { .. } | EngineError::WrongStepKind { .. } => {
                "该环节不能进行此操作".to_string()
            }
            EngineError::StepNotActive { .. } => "该环节已办结或尚未开始".to_string(),
            EngineError::StepPaused { .. } => "该环节计时已中止，请先恢复计时".to_string(),
            EngineError::BeyondBound { months, bound, .. } => {
                format!("该环节须在{months}个月内、即{bound}前办结，中止时间过长，请缩短所需工作日")
            }
            EngineError::AlreadySigned { .. } => "您已签署".to_string(),
            EngineError::CorrectionAlreadyRequested => {
                "已出具过补正通知：补正须一次性告知".to_string()
            }
            EngineError::NoOpenCorrection { .. } => "没有待补正的内容".to_string(),
            EngineError::IntakeLimitPassed { deemed_accepted_on } => format!(
                "受理期限已过，依法自{deemed_accepted_on}起视为受理（行政许可法第三十二条）"
            ),
            EngineError::MissingMaterials { materials } => format!(
                "缺少必交材料（{}），请出具补正通知而不是受理",
                materials.join("、")
            ),
            EngineError::CorrectionIncomplete { omitted } => format!(
                "补正通知须一次性列明全部缺少的材料，尚未列入：{}",
                omitted.join("、")
            ),
            EngineError::AnswerIncomplete { missing } => format!(
                "补正通知要求的材料尚未全部提交，还缺：{}；补齐后一并提交",
                missing.join("、")
            ),
            EngineError::DeferredOutstanding { materials } => {
                format!("容缺材料尚未补齐：{}", materials.join("、"))
            }
            EngineError::EmptyReasons => "请填写理由或补正内容".to_string(),
            EngineError::NoExtensionAllowed => "本事项不允许延长办理期限".to_string(),
            EngineError::AlreadyExtended => "办理期限已延长过一次".to_string(),
            EngineError::NotPaused { .. } => "该环节计时未中止".to_string(),
            EngineError::Invalid { problems } => Problem::list(problems),
        }
    }
}

impl From<CalendarError> for EngineError {
    fn from(error: CalendarError) -> EngineError {
        EngineError::Calendar(error)
    }
}

/// The new state and what to do about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub filing: Filing,
    pub effects: Vec<Effect>,
}

/// Applies one command.
///
/// # Errors
/// An [`EngineError`] naming why the command does not apply; the filing is
/// then unchanged. A timer that no longer applies is not an error: it
/// returns the filing unchanged and no effects.
pub fn transition(
    context: Context<'_>,
    filing: &Filing,
    actor: &Actor,
    command: &Command,
    now: DateTime,
) -> Result<Transition, EngineError> {
    let workflow = context.workflow;
    if filing.workflow != workflow.id || filing.version != workflow.version {
        return Err(EngineError::WrongWorkflow {
            filing: (filing.workflow.clone(), filing.version),
            given: (workflow.id.clone(), workflow.version),
        });
    }
    let mut machine = Machine {
        workflow,
        calendar: context.calendar,
        filing: filing.clone(),
        effects: Vec::new(),
        today: now.date(),
        clocks_start: now.date(),
    };
    let changed = machine.apply(actor, command)?;
    if !changed {
        return Ok(Transition {
            filing: filing.clone(),
            effects: Vec::new(),
        });
    }
    machine.filing.history.push(Entry {
        at: now,
        actor: actor.to_string(),
        command: command.name().to_string(),
    });
    Ok(Transition {
        filing: machine.filing,
        effects: machine.effects,
    })
}

struct Machine<'a> {
    workflow: &'a Workflow,
    calendar: &'a Calendar,
    filing: Filing,
    effects: Vec<Effect>,
    today: Date,
    /// The day steps activated now start their clocks: today, except at a
    /// deemed acceptance, when every clock runs from the acceptance date.
    clocks_start: Date,
}

impl Machine<'_> {
    /// Applies the command; false when a timer found nothing to do.
    fn apply(&mut self, actor: &Actor, command: &Command) -> Result<bool, EngineError> {
        let name = command.name();
        if self.filing.status.is_closed() && !matches!(command, Command::Timer { .. }) {
            return Err(EngineError::WrongState {
                status: self.filing.status,
                command: name,
            });
        }
        match command {
            Command::Submit { submission } => self.submit(actor, name, submission)?,
            Command::Accept => self.accept_at_window(actor, name)?,
            Command::RequestCorrection { items } => self.request_correction(actor, name, items)?,
            Command::AnswerCorrection { submission } => {
                self.answer_correction(actor, name, submission)?
            }
            Command::RefuseToAccept { reasons } => self.refuse_to_accept(actor, name, reasons)?,
            Command::Approve { step } | Command::File { step } => {
                self.approve_or_file(actor, name, command, step)?
            }
            Command::Refuse { step, reasons } => self.refuse_step(actor, name, step, reasons)?,
            Command::Sign { step } => self.sign(actor, name, step)?,
            Command::RequestStepCorrection { step, items } => {
                self.request_step_correction(actor, name, step, items)?
            }
            Command::AnswerStepCorrection { step, submission } => {
                self.answer_step_correction(actor, name, step, submission)?
            }
            Command::Pause {
                step,
                kind,
                days,
                reason,
            } => self.pause(actor, name, step, kind, days, reason)?,
            Command::Resume { step } => self.resume(actor, name, step)?,
            Command::Extend { reason } => self.extend(actor, name, reason)?,
            Command::SupplyDeferred { materials } => {
                self.supply_deferred(actor, name, materials)?
            }
            Command::Withdraw { reason } => self.withdraw(actor, name, reason)?,
            Command::Timer { timer } => return self.timer(actor, name, timer),
            Command::Recalendar { .. } => return self.recalendar(actor, name),
        }
        Ok(true)
    }

    /// The applicant files: the rules hold and the materials arrive.
    fn submit(
        &mut self,
        actor: &Actor,
        name: &'static str,
        submission: &Submission,
    ) -> Result<(), EngineError> {
        self.expect_actor(actor, name, &Actor::Applicant)?;
        self.expect_status(&[Status::Draft], name)?;
        self.check_rules(submission)?;
        self.filing.apply_submission(submission);
        self.received()?;
        Ok(())
    }

    /// The window accepts; after the intake limit, as deemed (art. 32).
    fn accept_at_window(&mut self, actor: &Actor, name: &'static str) -> Result<(), EngineError> {
        self.expect_window(actor, name)?;
        self.expect_status(&[Status::Submitted], name)?;
        let deemed = self.intake_passed()?;
        let (missing, deferrable) = self.missing();
        if !missing.is_empty() && !deemed {
            return Err(EngineError::MissingMaterials { materials: missing });
        }
        // Only what the definition allows to follow is deferred (容缺); a
        // required material still missing at a deemed acceptance stays
        // missing, for the reviewing departments to ask for.
        self.accept(deemed, deferrable.into_iter())?;
        Ok(())
    }

    /// The window's one correction notice, listing every item (art. 32).
    fn request_correction(
        &mut self,
        actor: &Actor,
        name: &'static str,
        items: &[String],
    ) -> Result<(), EngineError> {
        self.expect_window(actor, name)?;
        self.expect_status(&[Status::Submitted], name)?;
        non_empty(items)?;
        if self.filing.intake_correction.is_some() {
            return Err(EngineError::CorrectionAlreadyRequested);
        }
        self.refuse_if_intake_passed()?;
        let omitted = self.omitted_from(items);
        if !omitted.is_empty() {
            return Err(EngineError::CorrectionIncomplete { omitted });
        }
        self.filing.intake_correction = Some(Correction {
            items: items.to_vec(),
            requested_on: self.today,
            answered_on: None,
        });
        self.filing.status = Status::AwaitingCorrection;
        self.issue(Event::Correction);
        self.notify(NotifyEvent::Correction, None);
        Ok(())
    }

    /// The applicant answers the intake correction; the materials arrive anew.
    fn answer_correction(
        &mut self,
        actor: &Actor,
        name: &'static str,
        submission: &Submission,
    ) -> Result<(), EngineError> {
        self.expect_actor(actor, name, &Actor::Applicant)?;
        self.expect_status(&[Status::AwaitingCorrection], name)?;
        self.check_rules(submission)?;
        let asked = self
            .filing
            .intake_correction
            .as_ref()
            .map(|c| c.items.clone());
        self.expect_answered(asked.as_deref().unwrap_or_default(), submission)?;
        self.filing.apply_submission(submission);
        if let Some(correction) = &mut self.filing.intake_correction {
            correction.answered_on = Some(self.today);
        }
        self.received()?;
        Ok(())
    }

    /// The window refuses to accept, with reasons.
    fn refuse_to_accept(
        &mut self,
        actor: &Actor,
        name: &'static str,
        reasons: &[String],
    ) -> Result<(), EngineError> {
        self.expect_window(actor, name)?;
        self.expect_status(&[Status::Submitted], name)?;
        non_empty(reasons)?;
        self.refuse_if_intake_passed()?;
        self.filing.status = Status::NotAccepted;
        self.filing.decision = Some(Decision::Refused {
            reasons: reasons.to_vec(),
        });
        self.filing.decided_on = Some(self.today);
        self.issue(Event::NotAccepted);
        self.notify(NotifyEvent::NotAccepted, None);
        Ok(())
    }

    /// A department approves its review step or completes its filing step.
    fn approve_or_file(
        &mut self,
        actor: &Actor,
        name: &'static str,
        command: &Command,
        step: &usize,
    ) -> Result<(), EngineError> {
        let kind = if matches!(command, Command::Approve { .. }) {
            StepKind::Review
        } else {
            StepKind::Filing
        };
        self.expect_status(&[Status::InReview], name)?;
        self.expect_step(*step, kind, name)?;
        self.expect_reviewer(actor, *step, name)?;
        self.expect_running(*step)?;
        self.expect_nothing_deferred()?;
        let outcome = if kind == StepKind::Review {
            StepOutcome::Approved
        } else {
            StepOutcome::Filed
        };
        self.finish_step(*step, outcome, actor)?;
        Ok(())
    }

    /// A department refuses its review step, with reasons.
    fn refuse_step(
        &mut self,
        actor: &Actor,
        name: &'static str,
        step: &usize,
        reasons: &[String],
    ) -> Result<(), EngineError> {
        self.expect_status(&[Status::InReview], name)?;
        self.expect_step(*step, StepKind::Review, name)?;
        self.expect_reviewer(actor, *step, name)?;
        self.expect_running(*step)?;
        non_empty(reasons)?;
        self.filing.steps[*step].status = StepStatus::Done {
            on: self.today,
            outcome: StepOutcome::Refused {
                reasons: reasons.to_vec(),
            },
            by: actor.to_string(),
        };
        let department = self.workflow.steps[*step]
            .department
            .clone()
            .unwrap_or_default();
        let name = self.workflow.department_name(&department);
        let form = self.workflow.steps[*step].legal_form();
        // A refusal ends the department's own part; where the definition
        // joins parts into one matter, it ends them all.
        let scope = match self.workflow.joined(&department) {
            Some(group) => {
                let reason = format!(
                    "{name}{}，联合办理事项一并终结（{}）",
                    form.wording(false),
                    group.basis
                );
                self.cancel_open_steps(None, &reason);
                None
            }
            None => {
                self.cancel_open_steps(
                    Some(&department),
                    &format!("{name}{}", form.wording(false)),
                );
                Some(department.as_str())
            }
        };
        self.close_pauses(scope);
        self.end_part(
            &department,
            Decision::Refused {
                reasons: reasons.to_vec(),
            },
            *step,
        );
        self.advance()
    }

    /// A party signs; the step is done when every party has.
    fn sign(&mut self, actor: &Actor, name: &'static str, step: &usize) -> Result<(), EngineError> {
        self.expect_status(&[Status::InReview], name)?;
        self.expect_step(*step, StepKind::Signing, name)?;
        let Actor::Party { party } = actor else {
            return Err(self.wrong_actor(actor, name, "a signing party"));
        };
        if !self.workflow.steps[*step].parties.contains(party) {
            return Err(self.wrong_actor(actor, name, "a signing party"));
        }
        self.expect_running(*step)?;
        if !self.filing.steps[*step].signatures.insert(party.clone()) {
            return Err(EngineError::AlreadySigned {
                step: *step,
                party: party.clone(),
            });
        }
        let all_signed = self.workflow.steps[*step]
            .parties
            .iter()
            .all(|p| self.filing.steps[*step].signatures.contains(p));
        if all_signed {
            self.finish_step(*step, StepOutcome::Signed, actor)?;
        }
        Ok(())
    }

    /// A department asks for corrections during review; its clock stops.
    fn request_step_correction(
        &mut self,
        actor: &Actor,
        name: &'static str,
        step: &usize,
        items: &[String],
    ) -> Result<(), EngineError> {
        self.expect_status(&[Status::InReview], name)?;
        self.expect_known_step(*step)?;
        self.expect_reviewer(actor, *step, name)?;
        self.expect_running(*step)?;
        non_empty(items)?;
        if self.filing.steps[*step].correction.is_some() {
            return Err(EngineError::CorrectionAlreadyRequested);
        }
        self.filing.steps[*step].correction = Some(Correction {
            items: items.to_vec(),
            requested_on: self.today,
            answered_on: None,
        });
        self.filing.pauses.push(Pause {
            kind: PauseKind::Correction,
            step: Some(*step),
            from: self.today,
            until: None,
            stated_days: None,
            reason: items.join("；"),
        });
        self.issue(Event::Correction);
        self.notify(NotifyEvent::Correction, Some(*step));
        Ok(())
    }

    /// The applicant answers a department's correction; its clock runs again.
    fn answer_step_correction(
        &mut self,
        actor: &Actor,
        name: &'static str,
        step: &usize,
        submission: &Submission,
    ) -> Result<(), EngineError> {
        self.expect_actor(actor, name, &Actor::Applicant)?;
        self.expect_status(&[Status::InReview], name)?;
        self.expect_known_step(*step)?;
        let open = self
            .open_pause(*step, true)
            .ok_or(EngineError::NoOpenCorrection { step: *step })?;
        self.check_rules(submission)?;
        let asked = self.filing.steps[*step]
            .correction
            .as_ref()
            .map(|c| c.items.clone());
        self.expect_answered(asked.as_deref().unwrap_or_default(), submission)?;
        self.filing.apply_submission(submission);
        self.filing.pauses[open].until = Some(self.today);
        if let Some(correction) = &mut self.filing.steps[*step].correction {
            correction.answered_on = Some(self.today);
        }
        self.notify(NotifyEvent::Assigned, Some(*step));
        self.schedule_step_timers(*step)?;
        Ok(())
    }

    /// An art. 45 pause (expert review, inspection, appraisal, hearing) with its stated days.
    fn pause(
        &mut self,
        actor: &Actor,
        name: &'static str,
        step: &usize,
        kind: &PauseKind,
        days: &u32,
        reason: &str,
    ) -> Result<(), EngineError> {
        self.expect_status(&[Status::InReview], name)?;
        self.expect_known_step(*step)?;
        self.expect_reviewer(actor, *step, name)?;
        self.expect_running(*step)?;
        if *kind == PauseKind::Correction {
            return Err(self.wrong_actor(actor, "pause", "request_step_correction"));
        }
        if *days == 0 || reason.trim().is_empty() {
            return Err(EngineError::EmptyReasons);
        }
        let until = self.calendar.add_workdays(self.today, *days)?;
        if let Some(bound) = clock::step_bound(self.workflow, &self.filing, *step) {
            if until > bound {
                return Err(EngineError::BeyondBound {
                    step: *step,
                    months: self.workflow.steps[*step].bound_months.unwrap_or_default(),
                    bound,
                    until,
                });
            }
        }
        self.filing.pauses.push(Pause {
            kind: *kind,
            step: Some(*step),
            from: self.today,
            until: None,
            stated_days: Some(*days),
            reason: reason.to_string(),
        });
        let told = Told {
            reason: Some(reason.to_string()),
            pause_kind: Some(kind.chinese().to_string()),
            days: Some(*days),
            until: Some(until),
        };
        self.notify_telling(NotifyEvent::Paused, Some(*step), told);
        Ok(())
    }

    /// The pause ends; the step's clock runs again.
    fn resume(
        &mut self,
        actor: &Actor,
        name: &'static str,
        step: &usize,
    ) -> Result<(), EngineError> {
        self.expect_status(&[Status::InReview], name)?;
        self.expect_known_step(*step)?;
        self.expect_reviewer(actor, *step, name)?;
        let open = self
            .open_pause(*step, false)
            .ok_or(EngineError::NotPaused { step: *step })?;
        self.filing.pauses[open].until = Some(self.today);
        self.schedule_step_timers(*step)?;
        Ok(())
    }

    /// A taking-part department's head extends the limit once, with the reason (art. 42).
    fn extend(
        &mut self,
        actor: &Actor,
        name: &'static str,
        reason: &str,
    ) -> Result<(), EngineError> {
        let Actor::Head { department } = actor else {
            return Err(self.wrong_actor(actor, name, "the head of a department taking part"));
        };
        let takes_part = self.workflow.intake.department == *department
            || self
                .workflow
                .steps
                .iter()
                .any(|s| s.department.as_ref() == Some(department));
        if !takes_part {
            return Err(self.wrong_actor(actor, name, "the head of a department taking part"));
        }
        self.expect_status(&[Status::InReview], name)?;
        if self.workflow.extension == 0 {
            return Err(EngineError::NoExtensionAllowed);
        }
        if self.filing.extension.is_some() {
            return Err(EngineError::AlreadyExtended);
        }
        if reason.trim().is_empty() {
            return Err(EngineError::EmptyReasons);
        }
        self.filing.extension = Some(Extension {
            days: self.workflow.extension,
            reason: reason.to_string(),
            approved_by: department.clone(),
            on: self.today,
        });
        // The steps under way get the days: their reminders move with them.
        for step in 0..self.filing.steps.len() {
            if matches!(self.filing.steps[step].status, StepStatus::Active { .. }) {
                self.schedule_step_timers(step)?;
            }
        }
        self.issue(Event::Extended);
        let told = Told {
            reason: Some(reason.to_string()),
            pause_kind: None,
            days: Some(self.workflow.extension),
            until: self.expected_completion()?,
        };
        self.notify_telling(NotifyEvent::Extended, None, told);
        Ok(())
    }

    /// The applicant supplies materials accepted as deferrable (容缺).
    fn supply_deferred(
        &mut self,
        actor: &Actor,
        name: &'static str,
        materials: &BTreeMap<String, Upload>,
    ) -> Result<(), EngineError> {
        self.expect_actor(actor, name, &Actor::Applicant)?;
        self.expect_status(&[Status::InReview], name)?;
        let unknown: Vec<Problem> = materials
            .keys()
            .filter(|id| !self.filing.deferred.contains(*id))
            .map(|id| Problem {
                subject: Some(id.clone()),
                message: format!("“{id}”不是容缺受理后待补交的材料"),
            })
            .collect();
        if materials.is_empty() || !unknown.is_empty() {
            return Err(EngineError::Invalid { problems: unknown });
        }
        for (id, upload) in materials {
            self.filing.deferred.remove(id);
            self.filing.materials.insert(id.clone(), upload.clone());
        }
        Ok(())
    }

    /// The applicant withdraws; open steps are cancelled.
    fn withdraw(
        &mut self,
        actor: &Actor,
        name: &'static str,
        reason: &str,
    ) -> Result<(), EngineError> {
        self.expect_actor(actor, name, &Actor::Applicant)?;
        if self.filing.status == Status::Draft {
            return Err(EngineError::WrongState {
                status: self.filing.status,
                command: name,
            });
        }
        self.cancel_open_steps(None, &format!("申请人撤回申请：{reason}"));
        self.close_pauses(None);
        self.filing.status = Status::Withdrawn;
        self.notify(NotifyEvent::Withdrawn, None);
        Ok(())
    }

    /// A timer fires; false when it no longer applies.
    fn timer(
        &mut self,
        actor: &Actor,
        name: &'static str,
        timer: &Timer,
    ) -> Result<bool, EngineError> {
        if *actor != Actor::System {
            return Err(self.wrong_actor(actor, name, "the timer worker"));
        }
        self.fire(*timer)
    }

    /// The calendar changed: the timers of what is open are scheduled on
    /// it (the old ones are re-checked when they fire and do nothing when
    /// they no longer apply). False when nothing is open.
    fn recalendar(&mut self, actor: &Actor, name: &'static str) -> Result<bool, EngineError> {
        if *actor != Actor::System {
            return Err(self.wrong_actor(actor, name, "the system"));
        }
        match self.filing.status {
            Status::Submitted => {
                let Some(due) = clock::intake_due(self.workflow, &self.filing, self.calendar)?
                else {
                    return Ok(false);
                };
                let after = due.tomorrow().map_err(|_| CalendarError::YearNotLoaded {
                    year: due.year(),
                    date: due,
                })?;
                self.effects.push(Effect::ScheduleTimer {
                    at: after.max(self.today),
                    timer: Timer::DeemedAcceptance,
                });
                Ok(true)
            }
            Status::InReview => {
                let active: Vec<usize> = (0..self.filing.steps.len())
                    .filter(|&index| {
                        matches!(self.filing.steps[index].status, StepStatus::Active { .. })
                    })
                    .collect();
                for step in &active {
                    self.schedule_step_timers(*step)?;
                }
                Ok(!active.is_empty())
            }
            _ => Ok(false),
        }
    }

    // ---- intake ------------------------------------------------------------

    /// Materials arrived (a submission or a correction's answer). The
    /// deemed-acceptance timer needs the intake deadline: a deadline in a
    /// year without a calendar is an error, never a timer left unset.
    fn received(&mut self) -> Result<(), EngineError> {
        let due = self
            .calendar
            .add_workdays(self.today, self.workflow.intake.limit)?;
        let after = due.tomorrow().map_err(|_| CalendarError::YearNotLoaded {
            year: due.year(),
            date: due,
        })?;
        self.filing.received_on = Some(self.today);
        self.filing.status = Status::Submitted;
        self.notify(NotifyEvent::Submitted, None);
        self.effects.push(Effect::ScheduleTimer {
            at: after,
            timer: Timer::DeemedAcceptance,
        });
        Ok(())
    }

    fn intake_passed(&self) -> Result<bool, EngineError> {
        let due = clock::intake_due(self.workflow, &self.filing, self.calendar)?;
        Ok(due.is_some_and(|due| self.today > due))
    }

    fn refuse_if_intake_passed(&self) -> Result<(), EngineError> {
        if self.intake_passed()? {
            return Err(EngineError::IntakeLimitPassed {
                deemed_accepted_on: self.filing.received_on.unwrap_or(self.today),
            });
        }
        Ok(())
    }

    fn missing(&self) -> (Vec<String>, Vec<String>) {
        missing_materials(self.workflow, &self.filing.submission())
    }

    /// The promised completion date, open pauses counted as ending when
    /// their stated duration says; `None` while a pause without one (a
    /// correction) is open.
    fn expected_completion(&self) -> Result<Option<Date>, EngineError> {
        let mut expected = self.filing.clone();
        for pause in expected.pauses.iter_mut().filter(|p| p.until.is_none()) {
            if let Some(days) = pause.stated_days {
                pause.until = Some(self.calendar.add_workdays(pause.from, days)?);
            }
        }
        Ok(clock::overall_due(
            self.workflow,
            &expected,
            self.calendar,
            clock::Limit::Promised,
        )?)
    }

    /// The labels of the materials the submission lacks that no item of a
    /// correction notice names (by label or id): the notice must list
    /// everything at once (一次性告知, art. 32).
    fn omitted_from(&self, items: &[String]) -> Vec<String> {
        let (missing, deferrable) = self.missing();
        missing
            .iter()
            .chain(&deferrable)
            .filter_map(|id| self.workflow.materials.iter().find(|m| &m.id == id))
            .filter(|material| {
                !items
                    .iter()
                    .any(|item| item.contains(&material.label) || item.contains(&material.id))
            })
            .map(|material| material.label.clone())
            .collect()
    }

    /// Acceptance, on the day materials arrived when deemed (art. 32).
    fn accept(
        &mut self,
        deemed: bool,
        outstanding: impl Iterator<Item = String>,
    ) -> Result<(), EngineError> {
        self.filing.accepted_on = Some(if deemed {
            self.filing.received_on.unwrap_or(self.today)
        } else {
            self.today
        });
        self.filing.deemed_accepted = deemed;
        self.clocks_start = self.filing.accepted_on.unwrap_or(self.today);
        self.filing.deferred.extend(outstanding);
        self.filing.status = Status::InReview;
        self.issue(Event::Accepted);
        self.notify(NotifyEvent::Accepted, None);
        self.advance()
    }

    // ---- review ------------------------------------------------------------

    /// Activates what the route allows, skips steps whose condition fails,
    /// and closes the filing when the route is done.
    fn advance(&mut self) -> Result<(), EngineError> {
        let route = self.workflow.route.clone();
        let done = self.progress(&route)?;
        self.issue_when_complete(StepKind::Signing, Event::Signed);
        self.end_finished_parts();
        if done && self.filing.status == Status::InReview {
            let decision = self.overall_decision();
            self.decide(decision);
        }
        Ok(())
    }

    /// Records each department's part whose steps are all over and one was
    /// done, and issues its documents.
    fn end_finished_parts(&mut self) {
        for department in self.workflow.deciding_departments() {
            if self.filing.parts.contains_key(department) {
                continue;
            }
            let steps: Vec<usize> = self.workflow.part_steps(department).collect();
            let over = steps.iter().all(|&index| {
                !matches!(
                    self.filing.steps[index].status,
                    StepStatus::Waiting | StepStatus::Active { .. }
                )
            });
            let last_done =
                steps
                    .iter()
                    .rev()
                    .find_map(|&index| match &self.filing.steps[index].status {
                        StepStatus::Done { outcome, .. } => Some((index, outcome.clone())),
                        _ => None,
                    });
            let (true, Some((step, outcome))) = (over, last_done) else {
                continue;
            };
            let decision = match outcome {
                StepOutcome::Refused { reasons } => Decision::Refused { reasons },
                StepOutcome::Filed => Decision::Filed,
                StepOutcome::Approved | StepOutcome::Signed => Decision::Granted,
            };
            self.end_part(department, decision, step);
        }
    }

    /// A department's part is over: recorded, its own documents issued in
    /// its name, the applicant told by it.
    fn end_part(&mut self, department: &str, decision: Decision, step: usize) {
        let event = part_event(&decision);
        // A filing from before parts were recorded may have had this event's
        // documents issued already (its receipts, once all filing steps were
        // over): record the part, never issue twice.
        let issued_before_parts = self.filing.issued.contains(&event)
            && !self
                .filing
                .parts
                .values()
                .any(|part| part_event(&part.decision) == event);
        self.filing.parts.insert(
            department.to_string(),
            Part {
                decision,
                on: self.today,
            },
        );
        if !issued_before_parts {
            self.issue_by(event, Some(department));
            self.notify(NotifyEvent::of(event), Some(step));
        }
    }

    /// The filing's decision once every part is over: what all parts
    /// decided, or `Partly` when they differ.
    fn overall_decision(&self) -> Decision {
        let parts = &self.filing.parts;
        let refused: Vec<(&String, &Vec<String>)> = parts
            .iter()
            .filter_map(|(department, part)| match &part.decision {
                Decision::Refused { reasons } => Some((department, reasons)),
                _ => None,
            })
            .collect();
        if !refused.is_empty() && refused.len() < parts.len() {
            return Decision::Partly;
        }
        if !refused.is_empty() {
            let reasons = refused
                .into_iter()
                .flat_map(|(_, reasons)| reasons.iter().cloned())
                .collect();
            return Decision::Refused { reasons };
        }
        if parts
            .values()
            .any(|part| part.decision == Decision::Granted)
        {
            Decision::Granted
        } else {
            Decision::Filed
        }
    }

    /// True when every step of `route` is over. Parallel branches are all
    /// visited, so none waits for another.
    fn progress(&mut self, route: &Route) -> Result<bool, EngineError> {
        match route {
            Route::Step(index) => match self.filing.steps[*index].status {
                StepStatus::Waiting => {
                    let step = &self.workflow.steps[*index];
                    let values = &self.filing.values;
                    let holds = step
                        .when
                        .as_ref()
                        .is_none_or(|c| c.eval(&|name| values.get(name)));
                    if holds {
                        self.filing.steps[*index].status = StepStatus::Active {
                            since: self.clocks_start,
                        };
                        if step.local {
                            let department = self
                                .workflow
                                .step_department_for(*index, &|name| values.get(name))
                                .map(str::to_string);
                            self.filing.steps[*index].department = department;
                        }
                        self.notify(NotifyEvent::Assigned, Some(*index));
                        self.schedule_step_timers(*index)?;
                        Ok(false)
                    } else {
                        let reason = match &step.when {
                            Some(condition) => {
                                format!("不适用：{}", condition.describe(self.workflow))
                            }
                            None => "不适用".to_string(),
                        };
                        self.filing.steps[*index].status = StepStatus::Skipped { reason };
                        Ok(true)
                    }
                }
                StepStatus::Active { .. } => Ok(false),
                _ => Ok(true),
            },
            Route::Sequence(items) => {
                for item in items {
                    if !self.progress(item)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Route::Parallel(items) => {
                let mut all = true;
                for item in items {
                    all &= self.progress(item)?;
                }
                Ok(all)
            }
        }
    }

    fn finish_step(
        &mut self,
        step: usize,
        outcome: StepOutcome,
        actor: &Actor,
    ) -> Result<(), EngineError> {
        self.filing.steps[step].status = StepStatus::Done {
            on: self.today,
            outcome,
            by: actor.to_string(),
        };
        self.advance()
    }

    /// Issues an event's documents once all steps of `kind` are over and one was done.
    fn issue_when_complete(&mut self, kind: StepKind, event: Event) {
        let of_kind: Vec<&StepState> = self
            .workflow
            .steps
            .iter()
            .zip(&self.filing.steps)
            .filter(|(step, _)| step.kind == kind)
            .map(|(_, state)| state)
            .collect();
        let over = of_kind.iter().all(|s| {
            matches!(
                s.status,
                StepStatus::Done { .. } | StepStatus::Skipped { .. }
            )
        });
        let any_done = of_kind
            .iter()
            .any(|s| matches!(s.status, StepStatus::Done { .. }));
        let already = self.filing.issued.contains(&event);
        if over && any_done && !already {
            self.issue(event);
            self.notify(NotifyEvent::of(event), None);
        }
    }

    fn decide(&mut self, decision: Decision) {
        self.filing.decision = Some(decision);
        self.filing.decided_on = Some(self.today);
        self.filing.status = Status::Decided;
    }

    /// Cancels the open steps of one department, or of all.
    fn cancel_open_steps(&mut self, department: Option<&str>, reason: &str) {
        let workflow = self.workflow;
        for (step, state) in workflow.steps.iter().zip(&mut self.filing.steps) {
            let in_scope = department.is_none_or(|d| step.department.as_deref() == Some(d));
            if in_scope
                && matches!(
                    state.status,
                    StepStatus::Waiting | StepStatus::Active { .. }
                )
            {
                state.status = StepStatus::Cancelled {
                    reason: reason.to_string(),
                };
            }
        }
    }

    /// Closes the open pauses of one department's steps, or all of them.
    fn close_pauses(&mut self, department: Option<&str>) {
        let workflow = self.workflow;
        let of_department = |pause: &Pause| {
            department.is_none_or(|d| {
                pause
                    .step
                    .is_some_and(|s| workflow.steps[s].department.as_deref() == Some(d))
            })
        };
        for pause in &mut self.filing.pauses {
            if pause.until.is_none() && of_department(pause) {
                pause.until = Some(self.today);
            }
        }
    }

    /// The open pause of a step: its correction, or another kind.
    fn open_pause(&self, step: usize, correction: bool) -> Option<usize> {
        self.filing.pauses.iter().position(|pause| {
            pause.step == Some(step)
                && pause.until.is_none()
                && (pause.kind == PauseKind::Correction) == correction
        })
    }

    fn schedule_step_timers(&mut self, step: usize) -> Result<(), EngineError> {
        let Some(due) = clock::step_due(self.workflow, &self.filing, self.calendar, step)? else {
            return Ok(());
        };
        // The first yellow day, or today when that has passed.
        let soon = clock::yellow_from(self.workflow, due, self.calendar)?.max(self.today);
        self.effects.push(Effect::ScheduleTimer {
            at: soon,
            timer: Timer::StepDueSoon { step },
        });
        if let Ok(after) = due.tomorrow() {
            self.effects.push(Effect::ScheduleTimer {
                at: after,
                timer: Timer::StepOverdue { step },
            });
        }
        Ok(())
    }

    /// A timer fired: act only if it still applies.
    fn fire(&mut self, timer: Timer) -> Result<bool, EngineError> {
        match timer {
            Timer::DeemedAcceptance => {
                if self.filing.status != Status::Submitted || !self.intake_passed()? {
                    return Ok(false);
                }
                let (_, deferrable) = self.missing();
                self.accept(true, deferrable.into_iter())?;
                Ok(true)
            }
            Timer::StepDueSoon { step } | Timer::StepOverdue { step } => {
                if step >= self.workflow.steps.len() || self.filing.status != Status::InReview {
                    return Ok(false);
                }
                let due = clock::step_due(self.workflow, &self.filing, self.calendar, step)?;
                let level = clock::level(self.workflow, due, self.today, self.calendar)?;
                let wanted = match timer {
                    Timer::StepDueSoon { .. } => clock::Level::Yellow,
                    _ => clock::Level::Red,
                };
                if level != wanted {
                    return Ok(false);
                }
                self.notify(
                    if wanted == clock::Level::Red {
                        NotifyEvent::Overdue
                    } else {
                        NotifyEvent::DueSoon
                    },
                    Some(step),
                );
                Ok(true)
            }
        }
    }

    // ---- effects -----------------------------------------------------------

    fn issue(&mut self, event: Event) {
        self.issue_by(event, None);
    }

    /// Issues an event's documents: all of them, or those in the name of
    /// the department whose part ended.
    fn issue_by(&mut self, event: Event, department: Option<&str>) {
        self.filing.issued.insert(event);
        for (index, outcome) in self.workflow.outcomes.iter().enumerate() {
            let values = &self.filing.values;
            let holds = outcome
                .when
                .as_ref()
                .is_none_or(|c| c.eval(&|name| values.get(name)));
            if outcome.event == event && holds && department.is_none_or(|d| outcome.issued_by == d)
            {
                let issued_by = self
                    .filing
                    .part_department(self.workflow, &outcome.issued_by)
                    .to_string();
                self.effects.push(Effect::IssueDocument {
                    event,
                    outcome: index,
                    title: outcome.title.clone(),
                    template: outcome.template.clone(),
                    issued_by,
                });
            }
        }
    }

    fn notify(&mut self, event: NotifyEvent, step: Option<usize>) {
        self.notify_telling(event, step, Told::default());
    }

    /// A notification that states the event's facts.
    fn notify_telling(&mut self, event: NotifyEvent, step: Option<usize>, told: Told) {
        let recipients = self.workflow.recipients_of(event);
        if recipients.is_empty() {
            return;
        }
        let department = step
            .and_then(|s| self.filing.step_department(self.workflow, s))
            .map(str::to_string);
        self.effects.push(Effect::Notify {
            recipients,
            event,
            step,
            department,
            told,
        });
    }

    // ---- checks ------------------------------------------------------------

    /// An answer supplies every material its correction asked for: each
    /// one uploaded anew (a file other than the one the filing holds).
    /// Items in the window's own words cannot be checked and are not.
    fn expect_answered(
        &self,
        asked: &[String],
        submission: &Submission,
    ) -> Result<(), EngineError> {
        let missing: Vec<String> = asked
            .iter()
            .filter(|item| self.workflow.materials.iter().any(|m| &m.id == *item))
            .filter(|item| {
                let held = self.filing.materials.get(*item).map(|u| &u.sha256);
                let given = submission.materials.get(*item).map(|u| &u.sha256);
                given.is_none() || given == held
            })
            .map(|item| self.workflow.item_words(item))
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(EngineError::AnswerIncomplete { missing })
        }
    }

    fn check_rules(&self, submission: &Submission) -> Result<(), EngineError> {
        let lookup = |name: &str| submission.values.get(name);
        let problems: Vec<Problem> = self
            .workflow
            .rules
            .iter()
            .filter(|rule| {
                rule.when.as_ref().is_none_or(|w| w.eval(&lookup)) && !rule.require.eval(&lookup)
            })
            .map(|rule| Problem {
                subject: None,
                message: rule.message.clone(),
            })
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(EngineError::Invalid { problems })
        }
    }

    fn expect_status(&self, allowed: &[Status], command: &'static str) -> Result<(), EngineError> {
        if allowed.contains(&self.filing.status) {
            Ok(())
        } else {
            Err(EngineError::WrongState {
                status: self.filing.status,
                command,
            })
        }
    }

    fn wrong_actor(&self, actor: &Actor, command: &'static str, expected: &str) -> EngineError {
        EngineError::WrongActor {
            command,
            expected: expected.to_string(),
            actor: actor.to_string(),
        }
    }

    fn expect_actor(
        &self,
        actor: &Actor,
        command: &'static str,
        expected: &Actor,
    ) -> Result<(), EngineError> {
        if actor == expected {
            Ok(())
        } else {
            Err(self.wrong_actor(actor, command, &expected.to_string()))
        }
    }

    fn expect_window(&self, actor: &Actor, command: &'static str) -> Result<(), EngineError> {
        let expected = Actor::Window {
            department: self.workflow.intake.department.clone(),
        };
        self.expect_actor(actor, command, &expected)
    }

    fn expect_known_step(&self, step: usize) -> Result<(), EngineError> {
        if step < self.workflow.steps.len() {
            Ok(())
        } else {
            Err(EngineError::UnknownStep { step })
        }
    }

    fn expect_step(
        &self,
        step: usize,
        kind: StepKind,
        command: &'static str,
    ) -> Result<(), EngineError> {
        self.expect_known_step(step)?;
        let actual = self.workflow.steps[step].kind;
        if actual == kind {
            Ok(())
        } else {
            Err(EngineError::WrongStepKind {
                step,
                kind: actual,
                command,
            })
        }
    }

    fn expect_reviewer(
        &self,
        actor: &Actor,
        step: usize,
        command: &'static str,
    ) -> Result<(), EngineError> {
        let department = self
            .filing
            .step_department(self.workflow, step)
            .unwrap_or_default()
            .to_string();
        self.expect_actor(actor, command, &Actor::Reviewer { department })
    }

    /// The step is in progress and not waiting on a pause.
    fn expect_running(&self, step: usize) -> Result<(), EngineError> {
        match &self.filing.steps[step].status {
            StepStatus::Active { .. } => {}
            other => {
                return Err(EngineError::StepNotActive {
                    step,
                    status: describe(other),
                })
            }
        }
        if self
            .filing
            .pauses
            .iter()
            .any(|p| p.step == Some(step) && p.until.is_none())
        {
            return Err(EngineError::StepPaused { step });
        }
        Ok(())
    }

    fn expect_nothing_deferred(&self) -> Result<(), EngineError> {
        if self.filing.deferred.is_empty() {
            Ok(())
        } else {
            Err(EngineError::DeferredOutstanding {
                materials: self.filing.deferred.iter().cloned().collect(),
            })
        }
    }
}

/// The document event a part's decision issues.
fn part_event(decision: &Decision) -> Event {
    match decision {
        Decision::Refused { .. } => Event::Rejected,
        Decision::Filed => Event::Filed,
        Decision::Granted | Decision::Partly => Event::Approved,
    }
}

fn non_empty(items: &[String]) -> Result<(), EngineError> {
    if items.is_empty() || items.iter().any(|item| item.trim().is_empty()) {
        Err(EngineError::EmptyReasons)
    } else {
        Ok(())
    }
}

fn describe(status: &StepStatus) -> String {
    match status {
        StepStatus::Waiting => "waiting".to_string(),
        StepStatus::Active { .. } => "in progress".to_string(),
        StepStatus::Done { .. } => "already decided".to_string(),
        StepStatus::Skipped { .. } => "skipped".to_string(),
        StepStatus::Cancelled { .. } => "cancelled".to_string(),
    }
}
