//! What the policy staff read: each workflow's versions with the filings
//! pinned to each, and what changed between two versions with the filings
//! still in progress on the older one.

use serde::Serialize;

use super::{App, AppError};
use jiff::civil::{Date, DateTime};

use super::accounts::Account;
use crate::dsl::diff::{self, Change};
use crate::dsl::draft::DraftCheck;
use crate::engine::state::Status;
use crate::engine::Problem;
use crate::store::versions::{DraftRow, PinnedCount, Publication};

/// A workflow's versions, newest first.
#[derive(Debug, Clone, Serialize)]
pub struct VersionsView {
    pub id: String,
    pub title: String,
    pub versions: Vec<VersionRow>,
}

/// One version and the filings filed under it.
#[derive(Debug, Clone, Serialize)]
pub struct VersionRow {
    pub version: u32,
    /// New filings take this one.
    pub current: bool,
    pub legal_limit: u32,
    pub promised_limit: u32,
    /// How many filings are in each status (in words), in the engine's order.
    pub filings: Vec<(String, i64)>,
    /// Filings not yet closed: those a change does not reach.
    pub in_progress: i64,
    /// Who published it in the browser, when, and why; `None` for a
    /// version from the definitions' files.
    pub published: Option<(String, String, String)>,
}

/// Two versions compared.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub id: String,
    pub title: String,
    pub from: u32,
    pub to: u32,
    pub changes: Vec<Change>,
    /// The filings in progress on the older version, by status in words:
    /// they finish under it, whatever the newer one says.
    pub in_progress: Vec<(String, i64)>,
    pub in_progress_total: i64,
    /// Those filings by name (the first [`LISTED_FILINGS`]).
    pub in_progress_filings: Vec<PinnedFiling>,
    /// The newer version's 变更说明, when it was published in the browser.
    pub reason: Option<String>,
}

/// How many filings in progress a comparison names.
pub const LISTED_FILINGS: i64 = 200;

/// A filing in progress on an older version, as staff follow it up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PinnedFiling {
    pub id: String,
    /// Its status in words.
    pub status: String,
    pub received_on: Option<jiff::civil::Date>,
    pub promised_due: Option<jiff::civil::Date>,
}

impl App {
    /// Every version of a workflow with the filings pinned to each.
    ///
    /// # Errors
    /// [`AppError::NotFound`] for an unknown workflow; a store failure.
    pub async fn workflow_versions(&self, id: &str) -> Result<VersionsView, AppError> {
        let current = self.workflow(id)?;
        let counts = self.store.pinned_counts(id).await?;
        let publications = self.store.publications(id).await?;
        // Who published, by name.
        let publishers: Vec<&str> = publications
            .iter()
            .map(|p| p.published_by.as_str())
            .collect();
        let names = self.names_of(&publishers).await?;
        let versions = self
            .store
            .versions_of(id)
            .iter()
            .map(|workflow| {
                let pinned: Vec<&PinnedCount> = counts
                    .iter()
                    .filter(|c| c.version == workflow.version)
                    .collect();
                VersionRow {
                    version: workflow.version,
                    current: workflow.version == current.version,
                    legal_limit: workflow.legal_limit,
                    promised_limit: workflow.promised_limit,
                    filings: by_status(&pinned, |_| true),
                    in_progress: by_status(&pinned, |s| !s.is_closed())
                        .iter()
                        .map(|(_, n)| n)
                        .sum(),
                    published: publications
                        .iter()
                        .find(|p| p.version == workflow.version)
                        .map(|p| {
                            (
                                names
                                    .get(&p.published_by)
                                    .cloned()
                                    .unwrap_or_else(|| p.published_by.clone()),
                                p.published_at.clone(),
                                p.reason.clone(),
                            )
                        }),
                }
            })
            .collect();
        Ok(VersionsView {
            id: current.id.clone(),
            title: current.title.clone(),
            versions,
        })
    }

    /// What changed from version `from` to version `to` of a workflow.
    ///
    /// # Errors
    /// [`AppError::NotFound`] for an unknown workflow or version; a store
    /// failure.
    pub async fn compare_versions(
        &self,
        id: &str,
        from: u32,
        to: u32,
    ) -> Result<Comparison, AppError> {
        let (old, new) = (
            self.workflow_version(id, from)?,
            self.workflow_version(id, to)?,
        );
        let counts = self.store.pinned_counts(id).await?;
        let pinned: Vec<&PinnedCount> = counts.iter().filter(|c| c.version == from).collect();
        let in_progress = by_status(&pinned, |s| !s.is_closed());
        let today = self.now().date();
        let mut in_progress_filings = Vec::new();
        for (filing, status) in self.store.pinned_filings(id, from, LISTED_FILINGS).await? {
            let open = Status::ALL
                .into_iter()
                .find(|s| s.name() == status)
                .is_some_and(|s| !s.is_closed());
            if !open {
                continue;
            }
            let view = self.filing(&filing, today).await?;
            in_progress_filings.push(PinnedFiling {
                id: view.id,
                status: view.status_label,
                received_on: view.received_on,
                promised_due: view.promised_due,
            });
        }
        let reason = self
            .store
            .publications(id)
            .await?
            .into_iter()
            .find(|p| p.version == to)
            .map(|p| p.reason);
        Ok(Comparison {
            id: new.id.clone(),
            title: new.title.clone(),
            from,
            to,
            changes: diff::diff(&old, &new),
            in_progress_total: in_progress.iter().map(|(_, n)| n).sum(),
            in_progress,
            in_progress_filings,
            reason,
        })
    }
}

/// The counts of the statuses `keep` selects, in words, in the engine's
/// order of statuses; none for a status without filings.
fn by_status(pinned: &[&PinnedCount], keep: impl Fn(Status) -> bool) -> Vec<(String, i64)> {
    Status::ALL
        .into_iter()
        .filter(|status| keep(*status))
        .filter_map(|status| {
            let count: i64 = pinned
                .iter()
                .filter(|c| c.status == status.name())
                .map(|c| c.count)
                .sum();
            (count > 0).then(|| (status.chinese().to_string(), count))
        })
        .collect()
}

/// A draft as the editor previews it: the check, and for a draft without
/// errors its diagram, one-time notice and a simulated filing.
#[derive(Debug, Clone)]
pub struct DraftPreview {
    pub check: DraftCheck,
    /// The routing diagram as SVG (Graphviz), or why it could not be drawn.
    pub diagram: Option<Result<Vec<u8>, String>>,
    pub notice: Option<String>,
    /// The sample filing's due dates from the chosen day, or why it could
    /// not run (the sample answers no longer fit the form, a year without
    /// a calendar…).
    pub simulation: Option<Result<String, String>>,
}

impl App {
    /// The definition of a workflow as its file held it at start.
    ///
    /// # Errors
    /// [`AppError::NotFound`] when no file defines it.
    pub fn definition_text(&self, id: &str) -> Result<String, AppError> {
        crate::dsl::draft::definition_of(&self.definitions, id)
            .map(str::to_string)
            .ok_or_else(|| AppError::NotFound(format!("the definition of workflow `{id}`")))
    }

    /// The routing diagram of a draft as SVG; `None` while it has errors.
    ///
    /// # Errors
    /// Graphviz cannot draw it (not installed, or it failed).
    pub fn draft_diagram(&self, id: &str, text: &str) -> Result<Option<Vec<u8>>, AppError> {
        let check = crate::dsl::draft::check_draft(&self.definitions, id, text);
        let Some(workflow) = &check.workflow else {
            return Ok(None);
        };
        crate::project::graphviz_svg(&crate::dsl::graph::dot(workflow))
            .map(Some)
            .map_err(|error| AppError::Config(error.to_string()))
    }

    /// Checks a draft of workflow `id` with the other definitions and, when
    /// it has no error, draws, tells and simulates it from `start`.
    pub fn preview_draft(&self, id: &str, text: &str, start: Date) -> DraftPreview {
        let check = crate::dsl::draft::check_draft(&self.definitions, id, text);
        let Some(workflow) = &check.workflow else {
            return DraftPreview {
                check,
                diagram: None,
                notice: None,
                simulation: None,
            };
        };
        let diagram = crate::project::graphviz_svg(&crate::dsl::graph::dot(workflow))
            .map_err(|error| error.to_string());
        let notice = crate::dsl::notice::one_time_notice(workflow);
        let answers =
            crate::project::read_answers(&crate::project::sample_path(&self.config.paths, id));
        let simulation = answers.and_then(|answers| {
            crate::engine::simulate::simulate(workflow, &self.calendar(), start, &answers)
                .map(|report| report.to_string())
                .map_err(|error| error.to_string())
        });
        DraftPreview {
            diagram: Some(diagram),
            notice: Some(notice),
            simulation: Some(simulation),
            check,
        }
    }

    /// Checks a draft of workflow `id` with the other definitions, nothing
    /// more: what the editor asks while its text is typed.
    ///
    /// # Errors
    /// [`AppError::NotFound`] for an unknown workflow; [`AppError::Invalid`]
    /// for a text over [`MAX_DEFINITION`].
    pub fn check_draft(&self, id: &str, text: &str) -> Result<DraftCheck, AppError> {
        self.workflow(id)?;
        let text = definition_as_checked(text)?;
        Ok(crate::dsl::draft::check_draft(&self.definitions, id, &text))
    }
}

/// The longest definition the editor takes.
pub const MAX_DEFINITION: usize = 256 * 1024;

/// What the editor opens with for one person.
#[derive(Debug, Clone)]
pub struct EditorState {
    pub text: String,
    /// The version in service when this text was begun.
    pub base_version: u32,
    /// The version in service now.
    pub current: u32,
    /// When the person's draft was saved; `None` for the definition in service.
    pub saved_at: Option<String>,
    /// Other people's drafts of the same workflow: who, when, on which version.
    pub others: Vec<(String, String, u32)>,
    /// The versions published in the browser, newest first.
    pub publications: Vec<Publication>,
}

/// A draft as a person submits it: its text and the version it was begun on.
#[derive(Debug, Clone)]
pub struct DraftInput {
    pub text: String,
    pub base_version: u32,
}

impl DraftInput {
    fn text(&self) -> Result<String, AppError> {
        definition_as_checked(&self.text)
    }
}

/// A definition as a person sent it, as the checker reads it: within
/// [`MAX_DEFINITION`], and with a browser's CRLF line ends made LF.
fn definition_as_checked(text: &str) -> Result<String, AppError> {
    if text.len() > MAX_DEFINITION {
        return Err(AppError::Invalid(vec![Problem::about(
            "text",
            format!("定义过长（超过{}KB）", MAX_DEFINITION / 1024),
        )]));
    }
    Ok(text.replace("\r\n", "\n"))
}

impl App {
    /// The editor of workflow `id` for `account`: their draft, or the
    /// definition in service.
    ///
    /// # Errors
    /// [`AppError::NotFound`] for an unknown workflow; a store failure.
    pub async fn editor(&self, id: &str, account: &Account) -> Result<EditorState, AppError> {
        let current = self.workflow(id)?.version;
        let drafts = self.store.drafts_of(id).await?;
        let publications = self.store.publications(id).await?;
        let own = drafts.iter().find(|d| d.account == account.email);
        let others = drafts
            .iter()
            .filter(|d| d.account != account.email)
            .map(|d| (d.account.clone(), d.saved_at.clone(), d.base_version))
            .collect();
        let (text, base_version, saved_at) = match own {
            Some(draft) => (
                draft.text.clone(),
                draft.base_version,
                Some(draft.saved_at.clone()),
            ),
            None => (
                self.definition_in_service(id, current, &publications)
                    .await?,
                current,
                None,
            ),
        };
        Ok(EditorState {
            text,
            base_version,
            current,
            saved_at,
            others,
            publications,
        })
    }

    /// The text of the version in service: the last one published in the
    /// browser, or the definitions' file.
    async fn definition_in_service(
        &self,
        id: &str,
        current: u32,
        publications: &[Publication],
    ) -> Result<String, AppError> {
        if publications.first().is_some_and(|p| p.version == current) {
            if let Some(text) = self.store.publication_text(id, current).await? {
                return Ok(text);
            }
        }
        self.definition_text(id)
    }

    /// Saves `account`'s draft of workflow `id`.
    ///
    /// # Errors
    /// [`AppError::Invalid`] for a text over [`MAX_DEFINITION`]; an unknown
    /// workflow; a store failure.
    pub async fn save_draft(
        &self,
        id: &str,
        account: &Account,
        draft: &DraftInput,
        now: DateTime,
    ) -> Result<(), AppError> {
        self.workflow(id)?;
        let row = DraftRow {
            workflow: id.to_string(),
            account: account.email.clone(),
            base_version: draft.base_version,
            text: draft.text()?,
            saved_at: now.strftime("%Y-%m-%d %H:%M:%S").to_string(),
        };
        Ok(self.store.save_draft(&row).await?)
    }

    /// Throws `account`'s draft of workflow `id` away: the editor opens the
    /// version in service again.
    ///
    /// # Errors
    /// A store failure.
    pub async fn discard_draft(&self, id: &str, account: &Account) -> Result<(), AppError> {
        Ok(self.store.discard_draft(id, &account.email).await?)
    }

    /// Publishes `account`'s draft as the next version of workflow `id`
    /// with its reason (变更说明); the new version's number.
    ///
    /// # Errors
    /// [`AppError::Invalid`] with every reason it cannot be published: no
    /// reason given, errors in the definition, a draft begun on a version
    /// that is no longer in service (someone published since), a version
    /// number that is not the next, nothing changed; a store failure.
    pub async fn publish(
        &self,
        id: &str,
        account: &Account,
        draft: &DraftInput,
        reason: &str,
        now: DateTime,
    ) -> Result<u32, AppError> {
        let current = self.workflow(id)?;
        let text = draft.text()?;
        let reason = reason.trim();
        let mut problems = Vec::new();
        if reason.is_empty() || reason.chars().count() > 500 {
            problems.push(Problem::about("reason", "请填写变更说明（500字以内）"));
        }
        if draft.base_version != current.version {
            problems.push(Problem::about(
                "text",
                format!(
                    "草稿基于第{}版，而在用版本已是第{}版（他人已发布）：请先比较两版的变化，在第{}版的基础上修改后再发布",
                    draft.base_version, current.version, current.version
                ),
            ));
        }
        let check = crate::dsl::draft::check_draft(&self.definitions, id, &text);
        match &check.workflow {
            None => problems.push(Problem::about("text", "定义有错误，改正后才能发布")),
            Some(workflow) if workflow.version != current.version + 1 => {
                problems.push(Problem::about(
                    "text",
                    format!(
                        "新版本的版本号应为 {}（version {}），现为 {}",
                        current.version + 1,
                        current.version + 1,
                        workflow.version
                    ),
                ));
            }
            Some(workflow) if diff::diff(&current, workflow).is_empty() => {
                problems.push(Problem::about("text", "与在用版本相比没有变化"));
            }
            Some(_) => {}
        }
        let Some(workflow) = check.workflow.filter(|_| problems.is_empty()) else {
            return Err(AppError::Invalid(problems));
        };
        let version = workflow.version;
        let publication = Publication {
            workflow: id.to_string(),
            version,
            published_by: account.email.clone(),
            published_at: now.strftime("%Y-%m-%d %H:%M").to_string(),
            reason: reason.to_string(),
        };
        self.store.publish(workflow, &text, &publication).await?;
        tracing::info!(workflow = id, version, by = %account.email, "published");
        Ok(version)
    }
}

impl App {
    /// A template typeset with its sample data (`templates/samples/`), as
    /// the editor previews a workflow's documents.
    ///
    /// # Errors
    /// [`AppError::NotFound`] for a template without sample data; a
    /// template that fails to render.
    pub fn template_sample_pdf(&self, template: &str) -> Result<Vec<u8>, AppError> {
        let not_found = || AppError::NotFound(format!("sample data of template `{template}`"));
        if template.is_empty()
            || !template
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(not_found());
        }
        let folder = &self.config.paths.templates;
        let text = std::fs::read_to_string(folder.join("samples").join(format!("{template}.json")))
            .map_err(|_| not_found())?;
        let data: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&text).map_err(|error| AppError::Config(error.to_string()))?;
        let date = data
            .get("issued_on")
            .and_then(|d| d.as_str())
            .and_then(|d| d.parse().ok())
            .unwrap_or_else(|| self.today());
        let renderer = crate::documents::Renderer::new(folder)?;
        let meta = crate::documents::Meta {
            ident: format!("样例-{template}"),
            date,
        };
        Ok(renderer.render(template, &data, &meta)?)
    }
}
