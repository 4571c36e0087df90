//! Due dates and warnings, derived from a filing and the calendar.
//!
//! Nothing here is stored: a due date follows from the day a clock started,
//! the limit, the pauses and the extension. The clock never runs while
//! paused, and an open pause means there is no due date until it ends.

use jiff::civil::Date;
use serde::Serialize;

use super::state::{Filing, StepStatus};
use crate::calendar::{Calendar, CalendarError};
use crate::dsl::ir::Workflow;

/// The yellow warning, in working days before a due date, when the
/// workflow sets no reminder.
pub const DEFAULT_YELLOW_DAYS: u32 = 3;

/// Warning levels shown to reviewers and staff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[cfg_attr(feature = "full", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Green,
    /// Due within the yellow window.
    Yellow,
    /// Past due.
    Red,
    /// The clock is stopped.
    Paused,
}

impl Level {
    /// The stable name, as serialized: `green`, `yellow`, `red`, `paused`.
    pub fn name(self) -> &'static str {
        match self {
            Level::Green => "green",
            Level::Yellow => "yellow",
            Level::Red => "red",
            Level::Paused => "paused",
        }
    }
}

/// The filing's two overall limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Limit {
    /// The city's promise (承诺时限).
    Promised,
    /// The law's limit (法定时限).
    Legal,
}

/// When intake must be done: the window's limit after the materials arrived.
///
/// # Errors
/// A date outside the loaded calendar years.
pub fn intake_due(
    workflow: &Workflow,
    filing: &Filing,
    calendar: &Calendar,
) -> Result<Option<Date>, CalendarError> {
    filing
        .received_on
        .map(|received| calendar.add_workdays(received, workflow.intake.limit))
        .transpose()
}

/// The overall due date of one limit, extension included; `None` before
/// acceptance or while a pause is open. Each limit is computed on its own:
/// the promise may fall in a loaded year when the legal limit does not.
///
/// # Errors
/// A date outside the loaded calendar years.
pub fn overall_due(
    workflow: &Workflow,
    filing: &Filing,
    calendar: &Calendar,
    limit: Limit,
) -> Result<Option<Date>, CalendarError> {
    let Some(accepted) = filing.accepted_on else {
        return Ok(None);
    };
    if filing.pauses.iter().any(|pause| pause.until.is_none()) {
        return Ok(None);
    }
    let days = match limit {
        Limit::Promised => workflow.promised_limit,
        Limit::Legal => workflow.legal_limit,
    } + filing.extension.as_ref().map_or(0, |e| e.days);
    let stopped = |day: Date| filing.pauses.iter().any(|pause| pause.stops(day));
    calendar
        .add_workdays_except(accepted, days, stopped)
        .map(Some)
}

/// The due date of step `index` while it is active, an extension approved
/// while it ran included; `None` otherwise or while a pause stopping it is
/// open.
///
/// # Errors
/// A date outside the loaded calendar years.
pub fn step_due(
    workflow: &Workflow,
    filing: &Filing,
    calendar: &Calendar,
    index: usize,
) -> Result<Option<Date>, CalendarError> {
    let StepStatus::Active { since } = filing.steps[index].status else {
        return Ok(None);
    };
    let pauses: Vec<_> = filing
        .pauses
        .iter()
        .filter(|pause| pause.step.is_none_or(|step| step == index))
        .collect();
    if pauses.iter().any(|pause| pause.until.is_none()) {
        return Ok(None);
    }
    let stopped = |day: Date| pauses.iter().any(|pause| pause.stops(day));
    let limit = step_limit(workflow, filing, index);
    let due = calendar.add_workdays_except(since, limit, stopped)?;
    // Pauses move the working-day due date, never past the step's bound.
    Ok(Some(
        step_bound(workflow, filing, index).map_or(due, |bound| due.min(bound)),
    ))
}

/// The working days step `index` has: its own limit, and an extension's
/// days (art. 42) when the extension was approved while the step ran
/// (steps begun after have the extended overall limit, not more days).
pub fn step_limit(workflow: &Workflow, filing: &Filing, index: usize) -> u32 {
    let extended = match filing.steps[index].status {
        StepStatus::Active { since } => filing
            .extension
            .as_ref()
            .filter(|extension| since <= extension.on)
            .map_or(0, |extension| extension.days),
        _ => 0,
    };
    workflow.steps[index].limit + extended
}

/// The last day of an active step's bound in calendar months (`at most N
/// months`), counted from the day after it started (Civil Code arts. 201–202).
pub fn step_bound(workflow: &Workflow, filing: &Filing, index: usize) -> Option<Date> {
    let months = workflow.steps[index].bound_months?;
    let StepStatus::Active { since } = filing.steps[index].status else {
        return None;
    };
    crate::calendar::months_end(since.tomorrow().ok()?, months)
}

/// How many working days before a due date the yellow warning begins.
pub fn yellow_days(workflow: &Workflow) -> u32 {
    workflow
        .reminders
        .iter()
        .map(|reminder| reminder.days_before)
        .min()
        .unwrap_or(DEFAULT_YELLOW_DAYS)
}

/// The warning level of a due date on `today`.
///
/// # Errors
/// A date outside the loaded calendar years.
pub fn level(
    workflow: &Workflow,
    due: Option<Date>,
    today: Date,
    calendar: &Calendar,
) -> Result<Level, CalendarError> {
    let Some(due) = due else {
        return Ok(Level::Paused);
    };
    if today > due {
        return Ok(Level::Red);
    }
    let remaining = calendar.workdays_between(today, due)?;
    Ok(if remaining <= yellow_days(workflow) {
        Level::Yellow
    } else {
        Level::Green
    })
}

/// The first day a due date shows yellow: from it on, at most
/// [`yellow_days`] working days remain (what [`level`] says, as a date the
/// read side can store and compare).
///
/// # Errors
/// A date outside the loaded calendar years.
pub fn yellow_from(
    workflow: &Workflow,
    due: Date,
    calendar: &Calendar,
) -> Result<Date, CalendarError> {
    let yellow = yellow_days(workflow);
    let mut day = due;
    let mut remaining = 0;
    loop {
        // Stepping back a day adds `day` to the working days still ahead.
        let more = remaining + u32::from(calendar.is_workday(day)?);
        if more > yellow {
            return Ok(day);
        }
        remaining = more;
        day = day.yesterday().map_err(|_| CalendarError::YearNotLoaded {
            year: day.year(),
            date: day,
        })?;
    }
}

/// Work waiting on a department: the window's intake, or an active step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenWork {
    /// The step's index; `None` for intake at the window.
    pub step: Option<usize>,
    pub department: String,
    pub since: Date,
    /// `None` while a pause stops its clock.
    pub due: Option<Date>,
    /// The first yellow day, when there is a due date.
    pub yellow_from: Option<Date>,
}

/// What departments must do on a filing now, with due dates: the read side
/// of queues. Signing steps are the parties' and belong to no queue.
///
/// # Errors
/// A date outside the loaded calendar years.
pub fn open_work(
    workflow: &Workflow,
    filing: &Filing,
    calendar: &Calendar,
) -> Result<Vec<OpenWork>, CalendarError> {
    let mut work = Vec::new();
    let with_dates = |step, department: &str, since, due: Option<Date>| {
        let yellow = due
            .map(|due| yellow_from(workflow, due, calendar))
            .transpose()?;
        Ok::<_, CalendarError>(OpenWork {
            step,
            department: department.to_string(),
            since,
            due,
            yellow_from: yellow,
        })
    };
    match filing.status {
        super::Status::Submitted => {
            if let Some(received) = filing.received_on {
                let due = intake_due(workflow, filing, calendar)?;
                work.push(with_dates(
                    None,
                    &workflow.intake.department,
                    received,
                    due,
                )?);
            }
        }
        super::Status::InReview => {
            for (index, state) in filing.steps.iter().enumerate() {
                let (StepStatus::Active { since }, Some(department)) =
                    (&state.status, filing.step_department(workflow, index))
                else {
                    continue;
                };
                let due = step_due(workflow, filing, calendar, index)?;
                work.push(with_dates(Some(index), department, *since, due)?);
            }
        }
        _ => {}
    }
    Ok(work)
}
