//! The applicant's answers after filing: a correction answered with new
//! files (and changed form values), deferred (容缺) materials supplied.
//! What was filed stays; what is sent replaces or adds to it.

use std::collections::BTreeMap;

use jiff::civil::DateTime;

use super::accounts::Account;
use super::views::FilingView;
use super::{App, AppError};
use crate::engine::state::StepStatus;
use crate::engine::{Command, Status, Upload};

impl App {
    /// Answers the open correction (intake's, or a step's during review)
    /// with the files sent, keeping everything else as filed.
    ///
    /// # Errors
    /// No open correction, a filing this account may not see, or what the
    /// engine refuses (the rules checked again).
    pub async fn answer_correction(
        &self,
        account: &Account,
        id: &str,
        files: BTreeMap<String, Upload>,
        key: Option<String>,
        now: DateTime,
    ) -> Result<FilingView, AppError> {
        let filing = self.visible(account, id).await?;
        let mut submission = filing.submission();
        submission.materials.extend(files);
        let command = if filing.status == Status::AwaitingCorrection {
            Command::AnswerCorrection { submission }
        } else {
            let step = filing
                .steps
                .iter()
                .position(|step| {
                    matches!(step.status, StepStatus::Active { .. })
                        && step
                            .correction
                            .as_ref()
                            .is_some_and(|c| c.answered_on.is_none())
                })
                .ok_or_else(|| AppError::NotFound(format!("an open correction of `{id}`")))?;
            Command::AnswerStepCorrection { step, submission }
        };
        self.act_as(account, id, command, None, key, now).await
    }

    /// Supplies materials accepted as deferrable (容缺).
    ///
    /// # Errors
    /// As [`App::act_as`].
    pub async fn supply_deferred(
        &self,
        account: &Account,
        id: &str,
        materials: BTreeMap<String, Upload>,
        key: Option<String>,
        now: DateTime,
    ) -> Result<FilingView, AppError> {
        self.act_as(
            account,
            id,
            Command::SupplyDeferred { materials },
            None,
            key,
            now,
        )
        .await
    }
}
