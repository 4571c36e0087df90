//! What leaves the process: the wire types of filings, queues and
//! documents, for pages, the JSON API and mail links.
//!
//! They are built from the engine's state and the read side but are not
//! those types: the engine may rename a field without changing what an
//! integrator receives, and nothing here is stored.

use jiff::civil::Date;
use serde::Serialize;

use crate::dsl::ir::StepKind;
use crate::dsl::Workflow;
use crate::engine::clock::{self, Level};
use crate::engine::state::{Decision, Status, StepOutcome, StepStatus};
use crate::engine::Filing;
use crate::links::Links;

/// A filing as its applicant and its reviewers see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FilingView {
    pub id: String,
    pub revision: i64,
    pub workflow: String,
    pub workflow_title: String,
    pub version: u32,
    /// Stable, for programs: `submitted`, `in_review`, `decided`, …
    pub status: FilingStatus,
    /// For people: 待受理, 审查中, 已办结, …
    pub status_label: String,
    pub applicant: String,
    pub received_on: Option<Date>,
    pub accepted_on: Option<Date>,
    pub deemed_accepted: bool,
    pub decided_on: Option<Date>,
    /// The decision as a whole once every part is over: `granted`,
    /// `refused`, `filed` or `partly` (parts differ).
    pub decision: Option<String>,
    /// For people: 准予, 不予, 已备案, 部分准予.
    pub decision_label: Option<String>,
    /// Why the filing as a whole was refused (at intake: 不予受理), as the
    /// notice states it; each department's own reasons are in its part.
    pub refusal_reasons: Vec<String>,
    /// Each deciding department's part (谁审批谁监管), in route order.
    pub parts: Vec<PartView>,
    /// The city's promised completion date; `None` before acceptance or while paused.
    pub promised_due: Option<Date>,
    /// The law's completion date.
    pub legal_due: Option<Date>,
    /// Some date shown lies in a year whose holidays are not yet published:
    /// it is provisional and may move when the year's calendar is added.
    pub provisional: bool,
    pub steps: Vec<StepView>,
    /// Times the clock stopped (art. 45 and corrections), open ones with
    /// when they are expected to end.
    pub pauses: Vec<PauseView>,
    /// The window's department: it takes intake.
    pub intake_department: String,
    /// The form and facts as filed, in the definition's order.
    pub form: Vec<FieldValue>,
    /// Every material of the list: uploaded or not, deferred (容缺) or not.
    pub materials: Vec<MaterialView>,
    /// Corrections asked of the applicant (intake's and each step's).
    pub corrections: Vec<CorrectionView>,
    /// The limit's extension, once approved.
    pub extension: Option<ExtensionView>,
    /// Everything done on the filing, oldest first.
    pub history: Vec<HistoryView>,
    pub link: String,
}

/// An approved extension of the limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ExtensionView {
    pub days: u32,
    pub reason: String,
    /// The approving head's department.
    pub approved_by: String,
    pub on: Date,
}

/// One thing done on a filing, in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct HistoryView {
    /// `YYYY-MM-DD HH:MM`, China time.
    pub at: String,
    /// Who: 申请人, a department, 系统.
    pub actor: String,
    /// What: 提交申请, 受理, 准予 …
    pub action: String,
}

/// A form field's value as filed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldValue {
    pub id: String,
    pub label: String,
    pub value: String,
    /// For a fact the applicant declared (the registry did not know it):
    /// the evidence material's name, for the reviewer to confirm it by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declared_with: Option<String>,
}

/// A material of the list and what the filing holds of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct MaterialView {
    pub id: String,
    pub label: String,
    /// The file's name as uploaded; `None` when not supplied.
    pub file: Option<String>,
    pub kind: Option<String>,
    pub size: Option<u64>,
    /// Accepted as deferrable (容缺) and not yet supplied.
    pub deferred: bool,
    /// May be supplied after acceptance.
    pub deferrable: bool,
    /// Why this filing must include it; `None` when it need not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub needed: Option<String>,
    /// Asked for by the correction the applicant has yet to answer.
    pub asked: bool,
}

/// A correction asked of the applicant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CorrectionView {
    /// The step that asked; `None` for the window at intake.
    pub step: Option<usize>,
    /// What is to be corrected, materials by their names.
    pub items: Vec<String>,
    pub requested_on: Date,
    pub answered_on: Option<Date>,
}

/// A department's own part of a filing and its own decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PartView {
    pub department: String,
    pub department_name: String,
    /// `licence`, `filing`, `designation`, `evaluation`.
    pub form: String,
    /// 行政许可, 备案, 医保协议管理, 评估.
    pub form_label: String,
    /// `granted`, `refused` or `filed` once over; `None` while open.
    pub decision: Option<String>,
    /// The decision in its legal form's words (准予行政许可, 评估不合格 …).
    pub result: Option<String>,
    pub decided_on: Option<Date>,
    pub reasons: Vec<String>,
}

/// A stop of the clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PauseView {
    /// 专家评审, 检验、检测、检疫, 鉴定、评估, 听证 or 申请人补正.
    pub kind: String,
    /// The step whose clock stopped, by its index.
    pub step: Option<usize>,
    pub from: Date,
    /// When it ended; `None` while open.
    pub until: Option<Date>,
    /// The working days the applicant was told it takes.
    pub stated_days: Option<u32>,
    /// While open: the day it ends if it takes the stated days.
    pub expected_until: Option<Date>,
    pub reason: String,
}

/// One step of a filing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct StepView {
    pub index: usize,
    /// Stable within the workflow version (its place in the route, e.g. `2.1`).
    pub id: String,
    pub label: String,
    /// `review`, `filing` or `signing`.
    pub kind: StepType,
    /// The department taking it (its id); `None` for signing.
    pub department: Option<String>,
    /// The department's name, or the signing parties'.
    pub taken_by: String,
    /// `waiting`, `active`, `done`, `skipped` or `cancelled`.
    pub state: StepState,
    pub since: Option<Date>,
    pub due_on: Option<Date>,
    /// While active: the last day of its bound in calendar months (`at
    /// most N months`), pauses included.
    pub bound_on: Option<Date>,
    /// `green`, `yellow`, `red` or `paused` while active.
    pub level: Option<Level>,
    /// `approved`, `refused`, `filed` or `signed` once done.
    pub outcome: Option<StepResult>,
    pub reasons: Vec<String>,
}

/// A piece of a department's open work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct QueueItem {
    pub filing: String,
    /// `None` for intake at the window.
    pub step: Option<usize>,
    pub label: String,
    pub workflow_title: String,
    pub applicant: String,
    pub since: Date,
    pub due_on: Option<Date>,
    pub level: Level,
    pub claimed_by: Option<String>,
    pub link: String,
}

/// A filing in an applicant's list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FilingSummary {
    pub id: String,
    pub workflow_title: String,
    pub status: FilingStatus,
    pub status_label: String,
    pub received_on: Option<Date>,
    pub decided_on: Option<Date>,
    pub link: String,
}

/// A rule on months of operation and the first day an institution meets
/// it: what an ineligible applicant is told instead of only "not yet".
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Eligibility {
    pub rule: String,
    pub from: Date,
}

/// What the public may see of a genuine document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct VerifiedDocument {
    pub title: String,
    pub number: Option<String>,
    pub department: String,
    pub issued_on: String,
    pub holder: String,
    pub sha256: String,
}

impl FilingView {
    /// The view of a filing on `today` (for warning levels).
    pub fn of(
        workflow: &Workflow,
        filing: &Filing,
        revision: i64,
        calendar: &crate::calendar::Calendar,
        today: Date,
        links: &Links,
    ) -> FilingView {
        // A due date beyond the loaded calendar shows as unknown.
        let overall = |limit| {
            clock::overall_due(workflow, filing, calendar, limit)
                .ok()
                .flatten()
        };
        let steps: Vec<StepView> = workflow
            .steps
            .iter()
            .zip(&filing.steps)
            .enumerate()
            .map(|(index, (step, state))| {
                let due_on = clock::step_due(workflow, filing, calendar, index)
                    .ok()
                    .flatten();
                let active = matches!(state.status, StepStatus::Active { .. });
                let (since, outcome, reasons) = match &state.status {
                    StepStatus::Active { since } => (Some(*since), None, Vec::new()),
                    StepStatus::Done { on, outcome, .. } => {
                        let reasons = match outcome {
                            StepOutcome::Refused { reasons } => reasons.clone(),
                            _ => Vec::new(),
                        };
                        (Some(*on), Some(StepResult::of(outcome)), reasons)
                    }
                    StepStatus::Skipped { reason } | StepStatus::Cancelled { reason } => {
                        (None, None, vec![reason.clone()])
                    }
                    StepStatus::Waiting => (None, None, Vec::new()),
                };
                StepView {
                    index,
                    id: step.id.clone(),
                    label: step.label.clone(),
                    kind: StepType::of(step.kind),
                    department: filing
                        .step_department(workflow, index)
                        .filter(|_| step.kind != StepKind::Signing)
                        .map(str::to_string),
                    taken_by: match filing.step_department(workflow, index) {
                        Some(department) if step.kind != StepKind::Signing => {
                            workflow.department_name(department)
                        }
                        _ => workflow.step_actors(step),
                    },
                    state: StepState::of(&state.status),
                    since,
                    due_on,
                    bound_on: clock::step_bound(workflow, filing, index),
                    level: active.then(|| {
                        clock::level(workflow, due_on, today, calendar).unwrap_or(Level::Paused)
                    }),
                    outcome,
                    reasons,
                }
            })
            .collect();
        let promised_due = overall(clock::Limit::Promised);
        let legal_due = overall(clock::Limit::Legal);
        FilingView {
            id: filing.id.clone(),
            revision,
            workflow: workflow.id.clone(),
            workflow_title: workflow.title.clone(),
            version: filing.version,
            status: FilingStatus::of(filing.status),
            status_label: filing.status.chinese().to_string(),
            applicant: filing.applicant.clone(),
            received_on: filing.received_on,
            accepted_on: filing.accepted_on,
            deemed_accepted: filing.deemed_accepted,
            decided_on: filing.decided_on,
            decision: filing.decision.as_ref().map(|d| d.name().to_string()),
            decision_label: filing.decision.as_ref().map(|d| d.chinese().to_string()),
            refusal_reasons: match &filing.decision {
                Some(Decision::Refused { reasons }) => reasons.clone(),
                _ => Vec::new(),
            },
            parts: parts(workflow, filing),
            promised_due,
            legal_due,
            provisional: [promised_due, legal_due]
                .into_iter()
                .chain(steps.iter().map(|s: &StepView| s.due_on))
                .flatten()
                .any(|date| calendar.is_provisional(date)),
            steps,
            pauses: filing
                .pauses
                .iter()
                .map(|pause| PauseView {
                    kind: pause.kind.chinese().to_string(),
                    step: pause.step,
                    from: pause.from,
                    until: pause.until,
                    stated_days: pause.stated_days,
                    expected_until: pause
                        .stated_days
                        .filter(|_| pause.until.is_none())
                        .and_then(|days| calendar.add_workdays(pause.from, days).ok()),
                    reason: pause.reason.clone(),
                })
                .collect(),
            intake_department: workflow.intake.department.clone(),
            form: form_values(workflow, filing),
            materials: materials(workflow, filing),
            corrections: corrections(workflow, filing),
            extension: filing.extension.as_ref().map(|e| ExtensionView {
                days: e.days,
                reason: e.reason.clone(),
                approved_by: workflow.department_name(&e.approved_by),
                on: e.on,
            }),
            history: filing
                .history
                .iter()
                .map(|entry| HistoryView {
                    at: entry.at.strftime("%Y-%m-%d %H:%M").to_string(),
                    actor: actor_words(workflow, &entry.actor),
                    action: action_words(&entry.command).to_string(),
                })
                .collect(),
            link: links.filing(&filing.id),
        }
    }
}

/// Who acted, in words: the audit's `role:department` as people say it.
fn actor_words(workflow: &Workflow, actor: &str) -> String {
    let (role, rest) = actor.split_once(':').unwrap_or((actor, ""));
    match role {
        "applicant" => "申请人".to_string(),
        "window" => workflow.department_name(rest),
        "reviewer" => format!("{}审查人员", workflow.department_name(rest)),
        "head" => format!("{}负责人", workflow.department_name(rest)),
        "party" => rest.to_string(),
        "system" => "系统（期限）".to_string(),
        _ => actor.to_string(),
    }
}

/// What was done, in words, by the command's name.
fn action_words(command: &str) -> &'static str {
    match command {
        "submit" => "提交申请",
        "accept" => "受理",
        "request_correction" => "出具补正通知",
        "answer_correction" => "补正材料",
        "refuse_to_accept" => "不予受理",
        "approve" => "准予",
        "refuse" => "不予",
        "file" => "备案",
        "sign" => "签署",
        "request_step_correction" => "审查中要求补正",
        "answer_step_correction" => "审查中补正材料",
        "pause" => "中止计时",
        "resume" => "恢复计时",
        "extend" => "批准延长期限",
        "supply_deferred" => "补交容缺材料",
        "withdraw" => "撤回申请",
        "timer" => "期限到达",
        "recalendar" => "节假日安排更新，按新日历重新计算期限",
        _ => "其他",
    }
}

fn form_values(workflow: &Workflow, filing: &Filing) -> Vec<FieldValue> {
    workflow
        .form
        .iter()
        .chain(&workflow.facts)
        .filter_map(|field| {
            let value = filing.values.get(&field.id)?;
            let declared_with = filing.declared.contains(&field.id).then(|| {
                crate::engine::submission::evidence_of(workflow, &field.id)
                    .map_or_else(String::new, |material| material.label.clone())
            });
            Some(FieldValue {
                id: field.id.clone(),
                label: field.label.clone(),
                value: value.display(),
                declared_with,
            })
        })
        .collect()
}

fn materials(workflow: &Workflow, filing: &Filing) -> Vec<MaterialView> {
    let submission = filing.submission();
    let open = filing
        .latest_correction()
        .filter(|correction| correction.answered_on.is_none());
    workflow
        .materials
        .iter()
        .map(|material| {
            let upload = filing.materials.get(&material.id);
            let needed = crate::engine::submission::need(workflow, &submission, material);
            MaterialView {
                id: material.id.clone(),
                label: material.label.clone(),
                file: upload.map(|u| u.name.clone()),
                kind: upload.map(|u| u.kind.clone()),
                size: upload.map(|u| u.size),
                deferred: filing.deferred.contains(&material.id),
                deferrable: material.deferrable,
                needed: needed.map(|need| need.words().to_string()),
                asked: open.is_some_and(|c| c.items.contains(&material.id)),
            }
        })
        .collect()
}

fn corrections(workflow: &Workflow, filing: &Filing) -> Vec<CorrectionView> {
    let view =
        |step: Option<usize>, correction: &crate::engine::state::Correction| CorrectionView {
            step,
            items: correction
                .items
                .iter()
                .map(|item| workflow.item_words(item))
                .collect(),
            requested_on: correction.requested_on,
            answered_on: correction.answered_on,
        };
    filing
        .intake_correction
        .iter()
        .map(|c| view(None, c))
        .chain(
            filing
                .steps
                .iter()
                .enumerate()
                .filter_map(|(index, step)| Some(view(Some(index), step.correction.as_ref()?))),
        )
        .collect()
}

/// Each deciding department's part, decided or open.
fn parts(workflow: &Workflow, filing: &Filing) -> Vec<PartView> {
    workflow
        .deciding_departments()
        .into_iter()
        .map(|department| {
            let form = workflow.part_form(department).unwrap_or_default();
            let part = filing.parts.get(department);
            let refused = part.is_some_and(|p| matches!(p.decision, Decision::Refused { .. }));
            PartView {
                department: department.to_string(),
                department_name: workflow
                    .department_name(filing.part_department(workflow, department)),
                form: form.name().to_string(),
                form_label: form.chinese().to_string(),
                decision: part.map(|p| p.decision.name().to_string()),
                result: part.map(|_| form.wording(!refused).to_string()),
                decided_on: part.map(|p| p.on),
                reasons: if refused {
                    filing.reasons_of(department).to_vec()
                } else {
                    Vec::new()
                },
            }
        })
        .collect()
}

/// A view enum's wire name (its serialised form), and comparison with it:
/// what integrators read is what tests and logs may compare against.
macro_rules! wire_names {
    ($kind:ident { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $kind {
            /// The name it is serialised as.
            pub fn name(self) -> &'static str {
                match self {
                    $($kind::$variant => $name),+
                }
            }
        }

        impl PartialEq<&str> for $kind {
            fn eq(&self, other: &&str) -> bool {
                self.name() == *other
            }
        }
    };
}

wire_names!(FilingStatus {
    Draft => "draft",
    Submitted => "submitted",
    AwaitingCorrection => "awaiting_correction",
    InReview => "in_review",
    Decided => "decided",
    NotAccepted => "not_accepted",
    Withdrawn => "withdrawn",
});
wire_names!(StepType { Review => "review", Filing => "filing", Signing => "signing" });
wire_names!(StepState {
    Waiting => "waiting",
    Active => "active",
    Done => "done",
    Skipped => "skipped",
    Cancelled => "cancelled",
});
wire_names!(StepResult {
    Approved => "approved",
    Refused => "refused",
    Filed => "filed",
    Signed => "signed",
});

/// Where a filing stands, as programs read it (serialised as its
/// snake_case name: `submitted`, `in_review`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FilingStatus {
    Draft,
    Submitted,
    AwaitingCorrection,
    InReview,
    Decided,
    NotAccepted,
    Withdrawn,
}

impl FilingStatus {
    pub(super) fn of(status: Status) -> FilingStatus {
        match status {
            Status::Draft => FilingStatus::Draft,
            Status::Submitted => FilingStatus::Submitted,
            Status::AwaitingCorrection => FilingStatus::AwaitingCorrection,
            Status::InReview => FilingStatus::InReview,
            Status::Decided => FilingStatus::Decided,
            Status::NotAccepted => FilingStatus::NotAccepted,
            Status::Withdrawn => FilingStatus::Withdrawn,
        }
    }

    /// Over: nothing more will be decided.
    pub fn is_over(self) -> bool {
        matches!(
            self,
            FilingStatus::Decided | FilingStatus::NotAccepted | FilingStatus::Withdrawn
        )
    }
}

/// What a step is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepType {
    /// A department's review (行政许可 and the like): granted or refused.
    Review,
    /// A department's filing (备案): filed or refused.
    Filing,
    /// The parties sign.
    Signing,
}

impl StepType {
    fn of(kind: StepKind) -> StepType {
        match kind {
            StepKind::Review => StepType::Review,
            StepKind::Filing => StepType::Filing,
            StepKind::Signing => StepType::Signing,
        }
    }
}

/// Where a step stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepState {
    Waiting,
    Active,
    Done,
    /// Its condition did not hold for this filing (不适用).
    Skipped,
    /// Closed without a decision.
    Cancelled,
}

impl StepState {
    fn of(status: &StepStatus) -> StepState {
        match status {
            StepStatus::Waiting => StepState::Waiting,
            StepStatus::Active { .. } => StepState::Active,
            StepStatus::Done { .. } => StepState::Done,
            StepStatus::Skipped { .. } => StepState::Skipped,
            StepStatus::Cancelled { .. } => StepState::Cancelled,
        }
    }

    /// In words, for people.
    pub fn words(self) -> &'static str {
        match self {
            StepState::Waiting => "未开始",
            StepState::Active => "办理中",
            StepState::Done => "已办结",
            StepState::Skipped => "不适用",
            StepState::Cancelled => "已终止",
        }
    }
}

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepResult {
    Approved,
    Refused,
    Filed,
    Signed,
}

impl StepResult {
    fn of(outcome: &StepOutcome) -> StepResult {
        match outcome {
            StepOutcome::Approved => StepResult::Approved,
            StepOutcome::Refused { .. } => StepResult::Refused,
            StepOutcome::Filed => StepResult::Filed,
            StepOutcome::Signed => StepResult::Signed,
        }
    }

    /// In words, for people.
    pub fn words(self) -> &'static str {
        match self {
            StepResult::Approved => "准予",
            StepResult::Refused => "不予",
            StepResult::Filed => "已备案",
            StepResult::Signed => "已签署",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn view_enums_are_serialised_as_their_wire_names() {
        for status in [FilingStatus::Submitted, FilingStatus::AwaitingCorrection] {
            assert_eq!(serde_json::to_value(status).unwrap(), status.name());
        }
        for state in [StepState::Active, StepState::Skipped] {
            assert_eq!(serde_json::to_value(state).unwrap(), state.name());
        }
        assert_eq!(serde_json::to_value(StepType::Filing).unwrap(), "filing");
        assert_eq!(
            serde_json::to_value(StepResult::Refused).unwrap(),
            "refused"
        );
    }
}
