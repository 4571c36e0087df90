//! A filing's state: everything the engine decides, nothing it computes
//! again (due dates are derived by [`super::clock`]).

use std::collections::{BTreeMap, BTreeSet};

use jiff::civil::{Date, DateTime};
use serde::{Deserialize, Serialize};

use super::submission::{Submission, Upload};
use crate::dsl::ir::Value;

/// One application through the one window, pinned to its workflow version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Filing {
    pub id: String,
    pub workflow: String,
    pub version: u32,
    pub status: Status,
    pub applicant: String,
    /// Where the applicant is told of progress and decisions.
    #[serde(default)]
    pub applicant_email: Option<String>,
    pub values: BTreeMap<String, Value>,
    pub materials: BTreeMap<String, Upload>,
    /// Facts the applicant declared with their evidence, for the reviewer
    /// to confirm (the rest came from the registry).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub declared: BTreeSet<String>,
    /// Who signs for each party of an agreement: party id → the e-mail
    /// address of the account that signs for it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub signatories: BTreeMap<String, String>,
    /// The day the (latest complete) materials arrived.
    pub received_on: Option<Date>,
    pub accepted_on: Option<Date>,
    /// Accepted because the intake limit passed untouched (art. 32).
    pub deemed_accepted: bool,
    /// The one correction notice of intake, once issued.
    pub intake_correction: Option<Correction>,
    /// One per step of the workflow, in the workflow's order.
    pub steps: Vec<StepState>,
    pub pauses: Vec<Pause>,
    pub extension: Option<Extension>,
    /// The overall decision, once every part is over (or intake refused).
    pub decision: Option<Decision>,
    pub decided_on: Option<Date>,
    /// Each deciding department's part, once it is over (谁审批谁监管):
    /// department id → its own decision.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub parts: BTreeMap<String, Part>,
    /// Materials accepted as deferrable (容缺) and not yet supplied.
    pub deferred: BTreeSet<String>,
    /// Events whose documents were issued, so none is issued twice.
    pub issued: BTreeSet<crate::dsl::ir::Event>,
    /// Every command applied, in order (the store keeps the audit chain).
    pub history: Vec<Entry>,
}

impl Filing {
    /// A new filing, before submission.
    pub fn draft(id: impl Into<String>, workflow: &crate::dsl::Workflow) -> Filing {
        Filing {
            id: id.into(),
            workflow: workflow.id.clone(),
            version: workflow.version,
            status: Status::Draft,
            applicant: String::new(),
            applicant_email: None,
            values: BTreeMap::new(),
            materials: BTreeMap::new(),
            declared: BTreeSet::new(),
            signatories: BTreeMap::new(),
            received_on: None,
            accepted_on: None,
            deemed_accepted: false,
            intake_correction: None,
            steps: workflow
                .steps
                .iter()
                .map(|_| StepState::default())
                .collect(),
            pauses: Vec::new(),
            extension: None,
            decision: None,
            decided_on: None,
            parts: BTreeMap::new(),
            deferred: BTreeSet::new(),
            issued: BTreeSet::new(),
            history: Vec::new(),
        }
    }

    pub(crate) fn apply_submission(&mut self, submission: &Submission) {
        self.applicant = submission.applicant.clone();
        if submission.email.is_some() {
            self.applicant_email = submission.email.clone();
        }
        self.values = submission.values.clone();
        self.materials = submission.materials.clone();
        self.declared = submission.declared.clone();
        self.signatories = submission.signatories.clone();
    }

    /// What the filing holds as a submission, to add answers to.
    pub fn submission(&self) -> Submission {
        Submission {
            applicant: self.applicant.clone(),
            email: self.applicant_email.clone(),
            values: self.values.clone(),
            materials: self.materials.clone(),
            declared: self.declared.clone(),
            signatories: self.signatories.clone(),
        }
    }

    /// The correction most recently asked of the applicant, at intake or
    /// during review: what a correction notice and its mail list.
    pub fn latest_correction(&self) -> Option<&Correction> {
        self.steps
            .iter()
            .filter_map(|step| step.correction.as_ref())
            .chain(self.intake_correction.as_ref())
            .max_by_key(|correction| correction.requested_on)
    }

    /// The reasons of a refusal to accept, or of the filing's refusal as a
    /// whole; empty otherwise.
    pub fn refusal_reasons(&self) -> &[String] {
        match &self.decision {
            Some(Decision::Refused { reasons }) => reasons,
            _ => &[],
        }
    }

    /// The reasons a department's documents and messages state: those it
    /// gave for refusing its part, else the filing's ([`Self::refusal_reasons`]).
    pub fn reasons_of(&self, department: &str) -> &[String] {
        match self.parts.get(department).map(|part| &part.decision) {
            Some(Decision::Refused { reasons }) => reasons,
            _ => self.refusal_reasons(),
        }
    }

    /// The department that takes step `index`: the district's for a
    /// `local` step once started, else the one the definition names.
    pub fn step_department<'a>(
        &'a self,
        workflow: &'a crate::dsl::Workflow,
        index: usize,
    ) -> Option<&'a str> {
        self.steps
            .get(index)
            .and_then(|state| state.department.as_deref())
            .or_else(|| workflow.steps.get(index)?.department.as_deref())
    }

    /// Who works on a piece of this filing now, as the engine takes its
    /// decisions from them: the intake (`None`) while the filing is at the
    /// window — the intake's window —, a review or filing step while it is
    /// active — its department's reviewers ([`Self::step_department`]).
    /// `None` when no one does: a step waiting, done or not applying, one
    /// signed by parties, a filing past intake. Claiming a piece asks this,
    /// so only the people who may decide it can hold it.
    pub fn worker_of(
        &self,
        workflow: &crate::dsl::Workflow,
        piece: Option<usize>,
    ) -> Option<super::Actor> {
        let Some(index) = piece else {
            return (self.status == Status::Submitted).then(|| super::Actor::Window {
                department: workflow.intake.department.clone(),
            });
        };
        let step = workflow.steps.get(index)?;
        let active = matches!(self.steps.get(index)?.status, StepStatus::Active { .. });
        let decided_by_a_department = step.kind != crate::dsl::ir::StepKind::Signing;
        if !(active && decided_by_a_department) {
            return None;
        }
        Some(super::Actor::Reviewer {
            department: self.step_department(workflow, index)?.to_string(),
        })
    }

    /// The department that decided a part named by its definition's
    /// department (`kind`): the district's when its steps were `local`.
    pub fn part_department<'a>(
        &'a self,
        workflow: &'a crate::dsl::Workflow,
        kind: &'a str,
    ) -> &'a str {
        workflow
            .part_steps(kind)
            .find_map(|index| self.steps[index].department.as_deref())
            .unwrap_or(kind)
    }

    /// The value of a form or fact field.
    pub fn value(&self, field: &str) -> Option<&Value> {
        self.values.get(field)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Draft,
    /// At the window, within the intake limit.
    Submitted,
    /// Told what to correct at intake; waiting for the applicant.
    AwaitingCorrection,
    /// Accepted; departments at work.
    InReview,
    Decided,
    NotAccepted,
    Withdrawn,
}

impl Status {
    pub const ALL: [Status; 7] = [
        Status::Draft,
        Status::Submitted,
        Status::AwaitingCorrection,
        Status::InReview,
        Status::Decided,
        Status::NotAccepted,
        Status::Withdrawn,
    ];

    /// The stable name stored in the `status` column and sent to programs.
    pub fn name(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::Submitted => "submitted",
            Status::AwaitingCorrection => "awaiting_correction",
            Status::InReview => "in_review",
            Status::Decided => "decided",
            Status::NotAccepted => "not_accepted",
            Status::Withdrawn => "withdrawn",
        }
    }

    pub fn from_name(name: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|status| status.name() == name)
    }

    pub fn chinese(self) -> &'static str {
        match self {
            Status::Draft => "草稿",
            Status::Submitted => "待受理",
            Status::AwaitingCorrection => "待补正",
            Status::InReview => "审查中",
            Status::Decided => "已办结",
            Status::NotAccepted => "不予受理",
            Status::Withdrawn => "已撤回",
        }
    }

    /// No command but none changes a closed filing.
    pub fn is_closed(self) -> bool {
        matches!(
            self,
            Status::Decided | Status::NotAccepted | Status::Withdrawn
        )
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StepState {
    pub status: StepStatus,
    /// Parties that signed so far (signing steps).
    pub signatures: BTreeSet<String>,
    /// A correction this step asked of the applicant during review.
    pub correction: Option<Correction>,
    /// The department that took a `local` step: its district's, fixed when
    /// the step started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum StepStatus {
    /// Not reached yet.
    #[default]
    Waiting,
    Active {
        since: Date,
    },
    Done {
        on: Date,
        outcome: StepOutcome,
        by: String,
    },
    /// Its condition did not hold for this filing.
    Skipped {
        reason: String,
    },
    /// Closed without a decision (another department refused, or withdrawn).
    Cancelled {
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum StepOutcome {
    Approved,
    Refused { reasons: Vec<String> },
    Filed,
    Signed,
}

/// A list of items the applicant must correct, told once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Correction {
    pub items: Vec<String>,
    pub requested_on: Date,
    pub answered_on: Option<Date>,
}

/// A time the clock does not run: days after `from` up to and including
/// `until` do not count. An open pause (`until` is `None`) stops the clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pause {
    pub kind: PauseKind,
    /// The step whose clock stops too; the filing's overall clock always stops.
    pub step: Option<usize>,
    pub from: Date,
    pub until: Option<Date>,
    /// The duration the applicant was told, in working days (art. 45).
    pub stated_days: Option<u32>,
    pub reason: String,
}

impl Pause {
    /// Whether `day` is stopped by this pause.
    pub fn stops(&self, day: Date) -> bool {
        day > self.from && self.until.is_none_or(|until| day <= until)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PauseKind {
    /// The applicant corrects materials asked for during review.
    Correction,
    /// Art. 45: expert review (专家评审).
    ExpertReview,
    /// Art. 45: inspection, testing, quarantine (检验、检测、检疫).
    Inspection,
    /// Art. 45: appraisal (鉴定), e.g. the medical-insurance evaluation.
    Appraisal,
    /// Art. 45: hearing (听证).
    Hearing,
}

impl PauseKind {
    pub fn chinese(self) -> &'static str {
        match self {
            PauseKind::Correction => "申请人补正",
            PauseKind::ExpertReview => "专家评审",
            PauseKind::Inspection => "检验、检测、检疫",
            PauseKind::Appraisal => "鉴定、评估",
            PauseKind::Hearing => "听证",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extension {
    pub days: u32,
    pub reason: String,
    /// The head's department that approved it.
    pub approved_by: String,
    pub on: Date,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    Granted,
    Refused {
        reasons: Vec<String>,
    },
    /// Filings and signings only: recorded, nothing to grant.
    Filed,
    /// Some parts granted or filed, others refused: each department
    /// answers for its own ([`Filing::parts`]).
    Partly,
}

impl Decision {
    /// Whether something was granted or recorded.
    pub fn is_positive(&self) -> bool {
        matches!(self, Decision::Granted | Decision::Filed | Decision::Partly)
    }

    /// The stable name programs receive, as serde writes it.
    pub fn name(&self) -> &'static str {
        match self {
            Decision::Granted => "granted",
            Decision::Refused { .. } => "refused",
            Decision::Filed => "filed",
            Decision::Partly => "partly",
        }
    }

    pub fn chinese(&self) -> &'static str {
        match self {
            Decision::Granted => "准予",
            Decision::Refused { .. } => "不予",
            Decision::Filed => "已备案",
            Decision::Partly => "部分准予",
        }
    }
}

/// A department's part of a filing, once over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    /// Granted, refused with reasons, or filed: never partly.
    pub decision: Decision,
    pub on: Date,
}

/// One applied command, for the filing's own history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub at: DateTime,
    pub actor: String,
    pub command: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decision_names_are_serde_names() {
        for decision in [
            Decision::Granted,
            Decision::Refused { reasons: vec![] },
            Decision::Filed,
            Decision::Partly,
        ] {
            let json = serde_json::to_value(&decision).unwrap();
            assert_eq!(json["decision"], decision.name());
        }
    }

    #[test]
    fn status_names_are_serde_names() {
        for status in Status::ALL {
            assert_eq!(serde_json::to_value(status).unwrap(), status.name());
            assert_eq!(Status::from_name(status.name()), Some(status));
        }
    }
}
