//! What a signed-in person does to a filing, as one use case for the pages
//! and the API alike: the action as it arrives ([`ActionRequest`], the one
//! wire type of both), the engine's command it becomes, who may do it (the
//! use cases it goes through decide: [`App::claim_as`], [`App::act_as`]),
//! and what was done ([`Done`], whose names the pages' `?done=` shows).
//! Also a department's inbox as a signed-in person asks for it.

use serde::Deserialize;

use super::accounts::Account;
use super::views::QueueItem;
use super::{App, AppError, QueueFilter, QueuePage};
use crate::engine::state::PauseKind;
use crate::engine::{Command, Problem};

/// An action on a filing, as a page's form or the JSON API sends it.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct ActionRequest {
    /// `accept`, `correct`, `refuse_intake`, `approve`, `file`, `refuse`,
    /// `step_correct`, `pause`, `resume`, `extend`, `withdraw`, `claim`, `release`.
    pub action: String,
    #[serde(default)]
    pub step: Option<usize>,
    /// Refusal reasons, one each.
    #[serde(default)]
    pub reasons: Vec<String>,
    /// Correction items: material ids or free text.
    #[serde(default)]
    pub items: Vec<String>,
    /// A pause's kind: `expert_review`, `inspection`, `appraisal`, `hearing`.
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub days: Option<u32>,
    #[serde(default)]
    pub reason: Option<String>,
    /// The revision the actor saw; a filing that moved on is a conflict.
    #[serde(default)]
    pub revision: Option<i64>,
}

/// What an action did. Its [`Done::name`] is what the filing's page is told
/// (`?done=`): one table of the actions' names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Done {
    Claim,
    /// A colleague holds it already.
    Taken,
    Release,
    Accept,
    Correct,
    RefuseIntake,
    Approve,
    File,
    Refuse,
    StepCorrect,
    Pause,
    Resume,
    Extend,
    Withdraw,
}

impl Done {
    pub const ALL: [Done; 14] = [
        Done::Claim,
        Done::Taken,
        Done::Release,
        Done::Accept,
        Done::Correct,
        Done::RefuseIntake,
        Done::Approve,
        Done::File,
        Done::Refuse,
        Done::StepCorrect,
        Done::Pause,
        Done::Resume,
        Done::Extend,
        Done::Withdraw,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Done::Claim => "claim",
            Done::Taken => "taken",
            Done::Release => "release",
            Done::Accept => "accept",
            Done::Correct => "correct",
            Done::RefuseIntake => "refuse_intake",
            Done::Approve => "approve",
            Done::File => "file",
            Done::Refuse => "refuse",
            Done::StepCorrect => "step_correct",
            Done::Pause => "pause",
            Done::Resume => "resume",
            Done::Extend => "extend",
            Done::Withdraw => "withdraw",
        }
    }

    /// The action named so (an action's request names it), if any.
    pub fn named(name: &str) -> Option<Done> {
        Done::ALL.into_iter().find(|done| done.name() == name)
    }
}

/// A problem of the request itself, by field, for the person to fix.
fn wrong(subject: &str, message: &str) -> AppError {
    AppError::Invalid(vec![Problem::about(subject, message)])
}

impl ActionRequest {
    fn step(&self) -> Result<usize, AppError> {
        self.step.ok_or_else(|| wrong("step", "缺少环节（step）"))
    }

    /// Which action this is.
    ///
    /// # Errors
    /// [`AppError::Invalid`]: no such action.
    pub fn done(&self) -> Result<Done, AppError> {
        Done::named(&self.action)
            .filter(|done| *done != Done::Taken)
            .ok_or_else(|| wrong("action", &format!("没有操作“{}”", self.action)))
    }

    /// The engine's command of this action (`None` for claiming and
    /// releasing, which are not commands).
    ///
    /// # Errors
    /// [`AppError::Invalid`]: a step or a pause's kind or days missing.
    pub fn command(&self, action: Done) -> Result<Option<Command>, AppError> {
        let reason = || {
            self.reason
                .as_deref()
                .unwrap_or_default()
                .trim()
                .to_string()
        };
        Ok(Some(match action {
            Done::Claim | Done::Release | Done::Taken => return Ok(None),
            Done::Accept => Command::Accept,
            Done::Correct => Command::RequestCorrection {
                items: self.items.clone(),
            },
            Done::RefuseIntake => Command::RefuseToAccept {
                reasons: self.reasons.clone(),
            },
            Done::Approve => Command::Approve { step: self.step()? },
            Done::File => Command::File { step: self.step()? },
            Done::Refuse => Command::Refuse {
                step: self.step()?,
                reasons: self.reasons.clone(),
            },
            Done::StepCorrect => Command::RequestStepCorrection {
                step: self.step()?,
                items: self.items.clone(),
            },
            Done::Pause => Command::Pause {
                step: self.step()?,
                kind: pause_kind(self.kind.as_deref())?,
                days: self
                    .days
                    .filter(|d| *d > 0)
                    .ok_or_else(|| wrong("days", "请填写所需工作日"))?,
                reason: reason(),
            },
            Done::Resume => Command::Resume { step: self.step()? },
            Done::Extend => Command::Extend { reason: reason() },
            Done::Withdraw => Command::Withdraw { reason: reason() },
        }))
    }
}

fn pause_kind(text: Option<&str>) -> Result<PauseKind, AppError> {
    Ok(match text {
        Some("expert_review") => PauseKind::ExpertReview,
        Some("inspection") => PauseKind::Inspection,
        Some("appraisal") => PauseKind::Appraisal,
        Some("hearing") => PauseKind::Hearing,
        _ => return Err(wrong("kind", "请选择中止计时的事由")),
    })
}

impl App {
    /// Carries out an action of a signed-in account on a filing: a claim,
    /// a release or a command, each refused unless this account may do it
    /// now ([`App::claim_as`], [`App::act_as`]).
    ///
    /// # Errors
    /// The request's own problems ([`AppError::Invalid`]), or what the use
    /// case refuses.
    pub async fn carry_out(
        &self,
        account: &Account,
        id: &str,
        request: &ActionRequest,
    ) -> Result<Done, AppError> {
        let now = self.now();
        let action = request.done()?;
        match request.command(action)? {
            None => {
                let take = action == Done::Claim;
                let held = self.claim_as(account, id, request.step, take, now).await?;
                Ok(match (take, held) {
                    (true, true) => Done::Claim,
                    (true, false) => Done::Taken,
                    (false, _) => Done::Release,
                })
            }
            Some(command) => {
                self.act_as(account, id, command, request.revision, None, now)
                    .await?;
                Ok(action)
            }
        }
    }

    /// A staff account's department's open work by due date: `filter` is
    /// `mine`, `unclaimed`, `overdue` or anything else for all of it.
    ///
    /// # Errors
    /// A store failure.
    pub async fn inbox_of(
        &self,
        account: &Account,
        filter: &str,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<QueueItem>, AppError> {
        let filter = match filter {
            "mine" => QueueFilter::ClaimedBy(account.email.clone()),
            "unclaimed" => QueueFilter::Unclaimed,
            "overdue" => QueueFilter::Overdue,
            _ => QueueFilter::All,
        };
        self.queue(&QueuePage {
            department: account.department.clone().unwrap_or_default(),
            filter,
            today: self.today(),
            limit,
            offset: offset.max(0),
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_has_one_name() {
        for done in Done::ALL {
            assert_eq!(Done::named(done.name()), Some(done));
        }
        let unknown = ActionRequest {
            action: String::new(),
            ..ActionRequest::default()
        };
        assert!(matches!(unknown.done(), Err(AppError::Invalid(_))));
    }
}
