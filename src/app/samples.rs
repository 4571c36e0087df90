//! A living system on first start: one account for each role and sample
//! filings of the new combined institution in different states — waiting
//! at the window, in parallel review, paused, overdue, decided with its
//! permit — so a newcomer sees the product work within a minute.
//!
//! Everything goes through the use cases (sign-up, submit, act) with real
//! uploaded files, so the samples are filings like any other.

use std::collections::BTreeMap;

use jiff::civil::DateTime;
use jiff::ToSpan as _;

use super::accounts::{random_token, NewAccount, Role};
use super::{Action, App, AppError, NewFiling};
use crate::credit_code::CreditCode;
use crate::dsl::ir::StepKind;
use crate::dsl::ir::CREDIT_CODE_FIELD;
use crate::engine::state::{PauseKind, StepStatus};
use crate::engine::{Actor, Applicant, Command, Facts};
use crate::project;
use crate::registry;
use crate::store::institutions::RegistryRecord;

/// The workflow the samples file.
const SAMPLE_WORKFLOW: &str = "new_combined";

/// An account created for the samples, with its password (shown once).
#[derive(Debug, Clone)]
pub struct SampleAccount {
    pub email: String,
    pub name: String,
    pub role: Role,
    pub department: Option<String>,
    pub password: String,
}

/// A sample filing and the state it was left in.
#[derive(Debug, Clone)]
pub struct SampleFiling {
    pub id: String,
    pub state: &'static str,
}

/// A one-page PDF with a line of text: a real file for a sample material.
pub fn sample_pdf(text: &str) -> Vec<u8> {
    let content = format!("BT /F1 14 Tf 72 720 Td ({text}) Tj ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R \
         /Resources << /Font << /F1 5 0 R >> >> >>"
            .to_string(),
        format!(
            "<< /Length {} >>\nstream\n{content}\nendstream",
            content.len()
        ),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
    ];
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (number, object) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{object}\nendobj\n", number + 1).as_bytes());
    }
    let xref = pdf.len();
    pdf.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        pdf.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    pdf
}

impl App {
    /// Creates the sample accounts and filings in an empty database:
    /// `None` when it already has accounts or filings.
    ///
    /// # Errors
    /// Missing sample answers, or a refusal or failure of a use case.
    pub async fn seed_samples(
        &self,
        now: DateTime,
    ) -> Result<Option<(Vec<SampleAccount>, Vec<SampleFiling>)>, AppError> {
        if self.has_accounts().await? || self.store.count("filings").await? > 0 {
            return Ok(None);
        }
        let accounts = self.sample_accounts(now).await?;
        self.sample_registry(now).await?;
        let applicant = &accounts[0];
        let filings = self.sample_filings(applicant, now).await?;
        Ok(Some((accounts, filings)))
    }

    async fn sample_accounts(&self, now: DateTime) -> Result<Vec<SampleAccount>, AppError> {
        let workflow = self.workflow(SAMPLE_WORKFLOW)?;
        let window = workflow.intake.department.clone();
        let plan: [(&str, &str, Role, Option<String>); 7] = [
            ("applicant", "茂名康颐医养有限公司", Role::Applicant, None),
            ("window", "综合窗口 王受理", Role::Window, Some(window)),
            (
                "health",
                "卫健局 李审查",
                Role::Reviewer,
                Some("health".into()),
            ),
            (
                "civil",
                "民政局 陈审查",
                Role::Reviewer,
                Some("civil".into()),
            ),
            (
                "health.head",
                "卫健局 张局长",
                Role::Head,
                Some("health".into()),
            ),
            ("policy", "政策科 周编制", Role::Policy, None),
            ("admin", "系统管理员", Role::Admin, None),
        ];
        let mut accounts = Vec::new();
        for (local, name, role, department) in plan {
            let account = SampleAccount {
                email: format!("{local}@sample.onewindow.cn"),
                name: name.to_string(),
                role,
                department,
                password: random_token()[..16].to_string(),
            };
            let new = NewAccount {
                email: account.email.clone(),
                name: account.name.clone(),
                role,
                department: account.department.clone(),
                password: account.password.clone(),
            };
            self.add_account(new, "samples", now).await?;
            accounts.push(account);
        }
        Ok(accounts)
    }

    /// The registry's records of the institutions the sample answers name,
    /// for each workflow with facts: what the sample's facts say, months of
    /// operation as an opening day, so a person filing the sample's credit
    /// code meets the registry as an institution known to it would.
    async fn sample_registry(&self, now: DateTime) -> Result<(), AppError> {
        for id in self.workflow_ids() {
            let workflow = self.workflow(&id)?;
            let path = project::sample_path(&self.config.paths, &id);
            if workflow.facts.is_empty() || !path.exists() {
                continue;
            }
            let answers = project::read_answers(&path).map_err(AppError::Config)?;
            let text = |field: &str| answers.form.get(field).and_then(|v| v.as_str());
            let Some(code) = text(CREDIT_CODE_FIELD).and_then(|c| CreditCode::parse(c).ok()) else {
                continue;
            };
            let mut facts = answers.facts.clone();
            let opened_on = match facts.remove(registry::MONTHS_OPERATING) {
                Some(months) => {
                    registry::opened_months_before(now.date(), months.as_i64().unwrap_or(0))
                }
                None => None,
            };
            let record = RegistryRecord {
                credit_code: code,
                name: text("name").unwrap_or(&answers.applicant).to_string(),
                opened_on,
                facts,
                source: "示例数据".to_string(),
            };
            self.store.record_registry(&record, now).await?;
        }
        Ok(())
    }

    async fn sample_filings(
        &self,
        applicant: &SampleAccount,
        now: DateTime,
    ) -> Result<Vec<SampleFiling>, AppError> {
        let path = project::sample_path(&self.config.paths, SAMPLE_WORKFLOW);
        let answers = project::read_answers(&path).map_err(AppError::Config)?;
        let mut materials = BTreeMap::new();
        for material in &answers.materials {
            let bytes = sample_pdf(&format!("sample material: {material}"));
            let upload = self
                .store
                .store_upload(
                    &applicant.email,
                    &format!("{material}.pdf"),
                    "pdf",
                    &bytes,
                    now,
                )
                .await?;
            materials.insert(material.clone(), upload);
        }
        let new = |at: DateTime, number: usize| NewFiling {
            id: Some(format!("SAMPLE-{}-{number}", now.strftime("%Y%m%d"))),
            workflow: SAMPLE_WORKFLOW.to_string(),
            applicant: Applicant {
                name: answers.applicant.clone(),
                email: Some(applicant.email.clone()),
                signatories: answers.signatories.clone(),
            },
            form: answers.form.clone(),
            facts: Facts::registry(answers.facts.clone()),
            materials: materials.clone(),
            key: None,
            account: Some(applicant.email.clone()),
            now: at,
        };
        // Overdue: accepted some 45 days ago, so its steps are past due.
        let states: [(&'static str, i64); 5] = [
            ("waiting at the window", 0),
            ("in parallel review", 2),
            ("paused for expert review", 5),
            ("overdue", 45),
            ("decided with a permit", 30),
        ];
        let mut filings = Vec::new();
        for (number, (state, days_ago)) in states.into_iter().enumerate() {
            let at = now
                .checked_sub(days_ago.days())
                .map_err(|error| AppError::Config(error.to_string()))?;
            let view = self.submit(new(at, number + 1)).await?;
            if number > 0 {
                self.sample_act(
                    &view.id,
                    window_actor(&view.workflow, self)?,
                    Command::Accept,
                    at,
                )
                .await?;
            }
            match number {
                2 => self.sample_pause(&view.id, at).await?,
                4 => self.sample_decide(&view.id, at).await?,
                _ => {}
            }
            filings.push(SampleFiling { id: view.id, state });
        }
        Ok(filings)
    }

    async fn sample_act(
        &self,
        filing: &str,
        actor: Actor,
        command: Command,
        at: DateTime,
    ) -> Result<(), AppError> {
        self.act(Action {
            filing: filing.to_string(),
            actor,
            command,
            expected_revision: None,
            key: None,
            account: Some("samples".to_string()),
            now: at,
        })
        .await
        .map(|_| ())
    }

    /// A filing's first active step, its kind and its reviewer; `None`
    /// when no step is active.
    async fn first_active(&self, id: &str) -> Result<Option<(usize, StepKind, Actor)>, AppError> {
        let (filing, _) = self.store.filing(id).await?;
        let workflow = self.workflow(&filing.workflow)?;
        let Some(step) = filing
            .steps
            .iter()
            .position(|s| matches!(s.status, StepStatus::Active { .. }))
        else {
            return Ok(None);
        };
        let department = filing.step_department(&workflow, step).unwrap_or_default();
        let actor = Actor::Reviewer {
            department: department.to_string(),
        };
        Ok(Some((step, workflow.steps[step].kind, actor)))
    }

    /// The first active review waits for an expert review of ten days.
    async fn sample_pause(&self, id: &str, at: DateTime) -> Result<(), AppError> {
        let Some((step, _, actor)) = self.first_active(id).await? else {
            return Ok(());
        };
        let command = Command::Pause {
            step,
            kind: PauseKind::ExpertReview,
            days: 10,
            reason: "组织专家对护理院设置条件进行现场评审".to_string(),
        };
        self.sample_act(id, actor, command, at).await
    }

    /// Every active step decided in favour, a day apart, until the filing is over.
    async fn sample_decide(&self, id: &str, mut at: DateTime) -> Result<(), AppError> {
        for _ in 0..16 {
            let Some((step, kind, actor)) = self.first_active(id).await? else {
                return Ok(());
            };
            at = at
                .checked_add(1.day())
                .map_err(|error| AppError::Config(error.to_string()))?;
            let command = match kind {
                StepKind::Filing => Command::File { step },
                _ => Command::Approve { step },
            };
            self.sample_act(id, actor, command, at).await?;
        }
        Ok(())
    }
}

fn window_actor(workflow: &str, app: &App) -> Result<Actor, AppError> {
    Ok(Actor::Window {
        department: app.workflow(workflow)?.intake.department.clone(),
    })
}
