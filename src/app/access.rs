//! Who may see and fetch what: an applicant their own filings, the window
//! what it takes in, a department the filings it has a step in
//! (谁审批谁监管). The one home of these rules; the web layer asks here and
//! answers "not found" for what an account may not see, so nothing leaks.

use jiff::civil::Date;
use serde::Serialize;

use super::accounts::{Account, Role};
use super::ratings::RatingView;
use super::views::FilingView;
use super::{App, AppError, Problem};
use crate::engine::{Filing, Upload};

/// A filing as its page shows it to one account.
#[derive(Debug, Clone)]
pub struct FilingDetail {
    pub view: FilingView,
    pub documents: Vec<DocumentView>,
    /// Who holds each claimed piece of work (`None`: intake).
    pub claims: Vec<(Option<usize>, String)>,
    pub rating: Option<RatingView>,
    /// The applicant's own query code (查询码), made the first time.
    pub query_code: Option<String>,
    /// The account filed it (a party's signatory only sees it).
    pub own: bool,
    /// What this account may do to it now: the page shows these.
    pub actions: super::actions::Actions,
}

/// A document of a filing as its page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DocumentView {
    pub title: String,
    pub number: Option<String>,
    pub department: String,
    pub issued_on: String,
    pub code: String,
    /// Rendered and ready to download.
    pub ready: bool,
}

/// The actor an account is on a filing: its role's, except that only the
/// applicant who filed it acts as the applicant (a party's signatory sees
/// the filing, and signs, but neither withdraws, answers nor rates it).
pub(super) fn actor_on(account: &Account, filing: &Filing) -> Option<crate::engine::Actor> {
    let own = filing.applicant_email.as_deref() == Some(account.email.as_str());
    match account.role {
        Role::Applicant if !own => None,
        _ => account.actor(),
    }
}

/// The actor an account acts as on a filing it sees, or why it cannot: an
/// applicant who did not file it is told so; a role that takes no part
/// (policy staff, administrators) finds nothing to act on.
fn acting(account: &Account, filing: &Filing) -> Result<crate::engine::Actor, AppError> {
    actor_on(account, filing).ok_or_else(|| match account.role {
        Role::Applicant => AppError::Invalid(vec![Problem {
            subject: None,
            message: "只有提交申请的申请人本人可以办理此项".to_string(),
        }]),
        _ => AppError::NotFound(format!("filing `{}`", filing.id)),
    })
}

/// Whether an account may see a filing.
fn may_see(account: &Account, workflow: &crate::dsl::Workflow, filing: &Filing) -> bool {
    let department = account.department.as_deref();
    match account.role {
        // The applicant, and whoever signs for a party of its agreement.
        Role::Applicant => {
            filing.applicant_email.as_deref() == Some(account.email.as_str())
                || filing
                    .signatories
                    .values()
                    .any(|email| *email == account.email)
        }
        Role::Window => department == Some(workflow.intake.department.as_str()),
        Role::Reviewer | Role::Head => (0..workflow.steps.len())
            .any(|index| filing.step_department(workflow, index) == department),
        Role::Policy | Role::Admin => false,
    }
}

impl App {
    /// A filing as this account may see it; [`AppError::NotFound`] when it
    /// may not (the same answer as for no filing at all).
    ///
    /// # Errors
    /// Not found or not visible; a store failure.
    pub async fn filing_for(
        &self,
        account: &Account,
        id: &str,
        today: Date,
    ) -> Result<FilingView, AppError> {
        let (filing, revision) = self.store.filing(id).await?;
        let workflow = self.pinned(&filing)?;
        if !may_see(account, &workflow, &filing) {
            return Err(AppError::NotFound(format!("filing `{id}`")));
        }
        self.view(&filing, revision, today)
    }

    /// Everything a filing's page shows to this account, after one check
    /// that it may see the filing: the view, the documents, who holds which
    /// piece of work, the rating, and the query code when it is the
    /// applicant's own.
    ///
    /// # Errors
    /// As [`App::filing_for`].
    pub async fn filing_detail(
        &self,
        account: &Account,
        id: &str,
        today: Date,
    ) -> Result<FilingDetail, AppError> {
        let (filing, revision) = self.store.filing(id).await?;
        let workflow = self.pinned(&filing)?;
        if !may_see(account, &workflow, &filing) {
            return Err(AppError::NotFound(format!("filing `{id}`")));
        }
        let own = filing.applicant_email.as_deref() == Some(account.email.as_str());
        let query_code = if own {
            let now = self.now().to_string();
            Some(self.store.query_code(id, &new_query_code(), &now).await?)
        } else {
            None
        };
        let claims = self.store.claims_of(id).await?;
        let calendar = self.store.calendar();
        let context = crate::engine::transition::Context {
            workflow: &workflow,
            calendar: &calendar,
        };
        let actions = super::actions::Actions::of(context, &filing, account, &claims, self.now());
        Ok(FilingDetail {
            view: self.view(&filing, revision, today)?,
            documents: self.documents_of(id).await?,
            claims,
            rating: self.store.rating(id).await?.map(RatingView::of),
            query_code,
            own,
            actions,
        })
    }

    /// The documents issued on a filing, for an account that may see it
    /// (the API's list; a page gets them with [`App::filing_detail`]).
    ///
    /// # Errors
    /// As [`App::filing_for`].
    pub async fn documents_for(
        &self,
        account: &Account,
        id: &str,
    ) -> Result<Vec<DocumentView>, AppError> {
        self.visible(account, id).await?;
        self.documents_of(id).await
    }

    /// The documents issued on a filing.
    async fn documents_of(&self, id: &str) -> Result<Vec<DocumentView>, AppError> {
        let departments = self.departments();
        Ok(self
            .store
            .documents_of_filing(id)
            .await?
            .into_iter()
            .map(|record| DocumentView {
                department: departments
                    .get(&record.issued_by)
                    .cloned()
                    .unwrap_or(record.issued_by),
                title: record.title,
                number: record.number,
                issued_on: record.issued_on,
                ready: record.sha256.is_some(),
                code: record.verify_code,
            })
            .collect())
    }

    /// A document's PDF, with the file name to save it under.
    ///
    /// # Errors
    /// Not visible, not of this filing, or not rendered yet: not found.
    pub async fn document_pdf(
        &self,
        account: &Account,
        id: &str,
        code: &str,
    ) -> Result<(String, Vec<u8>), AppError> {
        self.visible(account, id).await?;
        let missing = || AppError::NotFound(format!("document `{code}`"));
        let record = self
            .store
            .document(code)
            .await?
            .filter(|record| record.filing == id)
            .ok_or_else(missing)?;
        let sha256 = record.sha256.ok_or_else(missing)?;
        let bytes = self.store.blobs.get(&sha256).map_err(|_| missing())?;
        let name = record.number.unwrap_or(record.verify_code);
        Ok((format!("{}-{name}.pdf", record.title), bytes))
    }

    /// An uploaded material of a filing, with what the applicant called it.
    ///
    /// # Errors
    /// Not visible, or no such material: not found.
    pub async fn material_file(
        &self,
        account: &Account,
        id: &str,
        material: &str,
    ) -> Result<(Upload, Vec<u8>), AppError> {
        let filing = self.visible(account, id).await?;
        let missing = || AppError::NotFound(format!("material `{material}`"));
        let upload = filing
            .materials
            .get(material)
            .cloned()
            .ok_or_else(missing)?;
        let bytes = self
            .store
            .blobs
            .get(&upload.sha256)
            .map_err(|_| missing())?;
        Ok((upload, bytes))
    }

    /// Takes (or with `take` false gives back) a piece of a visible
    /// filing's work; `false` when a colleague holds it. Only those who
    /// may decide the piece now ([`Filing::worker_of`]) may hold it or
    /// give it back: another department's step, a step not in progress or
    /// an intake already done is refused, and nothing changes.
    ///
    /// # Errors
    /// As [`App::filing_for`]; the engine's `WrongActor` for anyone else.
    pub async fn claim_as(
        &self,
        account: &Account,
        id: &str,
        step: Option<usize>,
        take: bool,
        now: jiff::civil::DateTime,
    ) -> Result<bool, AppError> {
        let filing = self.visible(account, id).await?;
        let workflow = self.pinned(&filing)?;
        let actor = actor_on(account, &filing);
        let worker = filing.worker_of(&workflow, step);
        if worker.is_none() || worker != actor {
            // Refused as deciding it would be: the same rule, the same words.
            let command = if take { "claim" } else { "release" };
            return Err(AppError::Store(crate::store::StoreError::Rejected(
                crate::engine::EngineError::WrongActor {
                    command,
                    expected: worker
                        .map_or_else(|| "无人（该环节当前不在办理中）".into(), |w| w.to_string()),
                    actor: actor.map_or_else(String::new, |a| a.to_string()),
                },
            )));
        }
        if take {
            self.claim(id, step, &account.email, now).await
        } else {
            self.release(id, step).await.map(|()| true)
        }
    }

    /// A signed-in account's command on a filing it may see, as the actor
    /// its role makes it; the engine decides whether that actor may.
    ///
    /// # Errors
    /// Not visible (not found), a role that does not act on filings, or
    /// what [`App::act`] refuses.
    pub async fn act_as(
        &self,
        account: &Account,
        filing: &str,
        command: crate::engine::Command,
        expected_revision: Option<i64>,
        key: Option<String>,
        now: jiff::civil::DateTime,
    ) -> Result<FilingView, AppError> {
        let seen = self.visible(account, filing).await?;
        let actor = acting(account, &seen)?;
        self.act_by(account, filing, actor, command, expected_revision, key, now)
            .await
    }

    /// A party's signature by the account the application named its
    /// signatory: taken as that party; anyone else is refused by the engine
    /// as the wrong actor, as any other step refuses them.
    ///
    /// # Errors
    /// As [`App::act_as`].
    pub async fn sign_as(
        &self,
        account: &Account,
        id: &str,
        party: &str,
        command: crate::engine::Command,
        expected_revision: Option<i64>,
        now: jiff::civil::DateTime,
    ) -> Result<FilingView, AppError> {
        let filing = self.visible(account, id).await?;
        let signs_for = filing.signatories.get(party) == Some(&account.email);
        let actor = if signs_for {
            crate::engine::Actor::Party {
                party: party.to_string(),
            }
        } else {
            acting(account, &filing)?
        };
        self.act_by(account, id, actor, command, expected_revision, None, now)
            .await
    }

    /// The command of a signed-in account, as `actor`, recorded under the
    /// account in the audit.
    #[allow(clippy::too_many_arguments)]
    async fn act_by(
        &self,
        account: &Account,
        filing: &str,
        actor: crate::engine::Actor,
        command: crate::engine::Command,
        expected_revision: Option<i64>,
        key: Option<String>,
        now: jiff::civil::DateTime,
    ) -> Result<FilingView, AppError> {
        self.act(super::Action {
            filing: filing.to_string(),
            actor,
            command,
            expected_revision,
            key,
            account: Some(account.email.clone()),
            now,
        })
        .await
    }

    pub(super) async fn visible(&self, account: &Account, id: &str) -> Result<Filing, AppError> {
        let (filing, _) = self.store.filing(id).await?;
        let workflow = self.pinned(&filing)?;
        if may_see(account, &workflow, &filing) {
            Ok(filing)
        } else {
            Err(AppError::NotFound(format!("filing `{id}`")))
        }
    }

    fn pinned(&self, filing: &Filing) -> Result<std::sync::Arc<crate::dsl::Workflow>, AppError> {
        self.store
            .workflow_version(&filing.workflow, filing.version)
            .ok_or_else(|| {
                AppError::NotFound(format!(
                    "workflow `{}` version {}",
                    filing.workflow, filing.version
                ))
            })
    }
}

/// A filing's progress as anyone with its number and query code sees it:
/// where it stands and by when, nothing about who filed it or what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ProgressView {
    pub id: String,
    pub workflow_title: String,
    pub status_label: String,
    pub received_on: Option<Date>,
    pub accepted_on: Option<Date>,
    pub promised_due: Option<Date>,
    pub legal_due: Option<Date>,
    pub provisional: bool,
    pub decided_on: Option<Date>,
    pub decision_label: Option<String>,
    pub steps: Vec<ProgressStep>,
}

/// A step of a filing's progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ProgressStep {
    pub label: String,
    pub taken_by: String,
    /// `waiting`, `active`, `done`, `skipped` or `cancelled`.
    pub state: super::views::StepState,
    pub due_on: Option<Date>,
}

impl ProgressView {
    fn of(view: FilingView) -> ProgressView {
        ProgressView {
            id: view.id,
            workflow_title: view.workflow_title,
            status_label: view.status_label,
            received_on: view.received_on,
            accepted_on: view.accepted_on,
            promised_due: view.promised_due,
            legal_due: view.legal_due,
            provisional: view.provisional,
            decided_on: view.decided_on,
            decision_label: view.decision_label,
            steps: view
                .steps
                .into_iter()
                .map(|step| ProgressStep {
                    label: step.label,
                    taken_by: step.taken_by,
                    state: step.state,
                    due_on: step.due_on,
                })
                .collect(),
        }
    }
}

/// Letters and digits no one mistakes for one another.
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";

fn new_query_code() -> String {
    let token = super::accounts::random_token();
    token
        .as_bytes()
        .chunks(2)
        .take(8)
        .map(|pair| {
            let byte =
                u8::from_str_radix(std::str::from_utf8(pair).unwrap_or("00"), 16).unwrap_or(0);
            char::from(CODE_ALPHABET[usize::from(byte) % CODE_ALPHABET.len()])
        })
        .collect()
}

impl App {
    /// A filing's progress for anyone with its number and query code (in
    /// any letter case); `None` when they do not match.
    ///
    /// # Errors
    /// A store failure.
    pub async fn progress(
        &self,
        id: &str,
        code: &str,
        today: Date,
    ) -> Result<Option<ProgressView>, AppError> {
        let Some(stored) = self.store.existing_query_code(id).await? else {
            return Ok(None);
        };
        let given = code.trim().to_uppercase();
        let same = stored.len() == given.len()
            && stored
                .bytes()
                .zip(given.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if !same {
            return Ok(None);
        }
        Ok(Some(ProgressView::of(self.filing(id, today).await?)))
    }
}
