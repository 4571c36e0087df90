//! The application layer: the use cases every front end calls.
//!
//! An [`App`] is opened once per process from a [`Config`]: it loads the
//! definitions and the calendar, opens the store, and knows the links it
//! prints. The command line and the web application are peers over it;
//! neither talks to the store or the engine directly. Each use case
//! validates first and acts second, and fails with one [`AppError`].
//!
//! - filing: [`App::submit`], [`App::act`], [`App::upload`]
//! - reading: [`App::filing`], [`App::queue`], [`App::filings_of`]
//! - the public: [`App::verify`]
//! - operating: [`App::verify_audit`] and the [`worker`]'s drain loops

pub mod access;
pub mod accounts;
pub mod actions;
pub mod backup;
pub mod calendars;
pub mod clock;
pub mod corrections;
pub mod error;
pub mod institutions;
pub mod policy;
pub mod ratings;
pub mod samples;
pub mod views;
pub mod worker;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use jiff::civil::{Date, DateTime};

/// The boundary's vocabulary the front ends share with the engine: a
/// problem of the input by field, an uploaded file.
pub use crate::engine::{Problem, Upload};
pub use clock::Clock;
pub use error::AppError;
use views::{FilingSummary, FilingView, QueueItem, VerifiedDocument};

use crate::calendar::Calendar;
use crate::documents::numbering::{normalize_code, normalize_number};
use crate::dsl::Workflow;
use crate::engine::{self, Actor, Applicant, Command};
use crate::links::Links;
use crate::project::{self, Paths};
use crate::registry;
pub use crate::store::read::{QueueFilter, QueuePage};
use crate::store::{audit::Verification, Options, Request, Store};

/// The largest upload accepted by default: 20 MiB.
pub const DEFAULT_MAX_UPLOAD: u64 = 20 * 1024 * 1024;

/// Whether opening may create the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Commands that put data in: a missing SQLite file is created.
    CreateIfMissing,
    /// Commands that only read or work on what is there: a missing
    /// database is an error, never a fresh empty one that answers "not
    /// found" to a genuine permit.
    ExistingOnly,
}

/// Where everything is.
#[derive(Debug, Clone)]
pub struct Config {
    /// `sqlite:PATH` or `postgres://…`; default: `DATA/onewindow.db`.
    pub database: Option<String>,
    /// The data directory: the default database, uploads, mail files.
    pub data: PathBuf,
    pub paths: Paths,
    pub calendars: PathBuf,
    pub region: String,
    /// The public address the product's links start with.
    pub base_url: String,
    pub max_upload: u64,
    pub access: Access,
    /// Where the product's time comes from: the wall clock in service, a
    /// chosen day in tests.
    pub clock: Clock,
}

impl Config {
    /// The database URL this configuration opens.
    pub fn database_url(&self) -> String {
        self.database.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}?mode=rwc",
                self.data.join("onewindow.db").display()
            )
        })
    }

    /// The SQLite file a `sqlite:` URL names, if it names one.
    fn sqlite_file(url: &str) -> Option<PathBuf> {
        let rest = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))?;
        let path = rest.split('?').next().unwrap_or(rest);
        (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
    }
}

/// An application as a signed-in applicant sends it, through either door.
#[derive(Debug, Clone)]
pub struct Application {
    pub workflow: String,
    /// The applicant's name as the documents will print it.
    pub applicant: String,
    pub form: serde_json::Map<String, serde_json::Value>,
    /// The facts the applicant declares, by fact id: used only where the
    /// registry does not know them, each proven by its evidence material.
    pub facts: serde_json::Map<String, serde_json::Value>,
    /// Uploaded materials by material id, as [`App::upload`] or
    /// [`App::uploaded`] returned them.
    pub materials: BTreeMap<String, Upload>,
    /// Who signs for each party of an agreement: party id → e-mail.
    pub signatories: BTreeMap<String, String>,
    /// The door's key for sending it once (the API's `Idempotency-Key`,
    /// the form's hidden token), with the door it came through.
    pub key: Option<(Door, String)>,
}

/// Where an application came in; keys of one door never meet another's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Door {
    Pages,
    Api,
}

impl Door {
    fn name(self) -> &'static str {
        match self {
            Door::Pages => "web",
            Door::Api => "api",
        }
    }
}

/// A new filing as its applicant submits it.
#[derive(Debug, Clone)]
pub struct NewFiling {
    /// The filing's number; one is made from the workflow and time when `None`.
    pub id: Option<String>,
    pub workflow: String,
    pub applicant: Applicant,
    pub form: serde_json::Map<String, serde_json::Value>,
    pub facts: engine::Facts,
    /// Uploaded materials by material id, as [`App::upload`] returned them.
    pub materials: BTreeMap<String, Upload>,
    /// The same key files once, however often it is sent (a double click).
    pub key: Option<String>,
    /// The signed-in account filing it, named in the audit entry.
    pub account: Option<String>,
    pub now: DateTime,
}

impl NewFiling {
    /// What this filing asks, as a SHA-256 of its content (fields in name
    /// order, materials by their hashes): the same content sent again gives
    /// the same fingerprint, whatever order a client wrote it in.
    pub fn fingerprint(&self) -> String {
        let materials: BTreeMap<&String, &String> = self
            .materials
            .iter()
            .map(|(material, upload)| (material, &upload.sha256))
            .collect();
        let content = serde_json::json!({
            "workflow": self.workflow,
            "applicant": [self.applicant.name, self.applicant.email],
            "form": sorted(&self.form),
            "facts": sorted(&self.facts.registry),
            "declared": sorted(&self.facts.declared),
            "materials": materials,
        });
        crate::store::audit::sha256_hex(content.to_string().as_bytes())
    }
}

/// An ineligible applicant's problems, each rule on months of operation
/// told with the earliest day the registry's opening day makes it hold.
fn eligible_dates(
    workflow: &Workflow,
    opened: jiff::civil::Date,
    problems: Vec<Problem>,
) -> Vec<Problem> {
    let dates = registry::eligible_from(workflow, opened);
    problems
        .into_iter()
        .map(|mut problem| {
            if let Some((_, from)) = dates.iter().find(|(rule, _)| *rule == problem.message) {
                problem.message = format!(
                    "{}：按登记的开业日期（{}）计算，自{}起可以申请",
                    problem.message,
                    crate::calendar::chinese_date(opened),
                    crate::calendar::chinese_date(*from)
                );
            }
            problem
        })
        .collect()
}

/// A JSON object's fields in name order.
fn sorted(
    map: &serde_json::Map<String, serde_json::Value>,
) -> BTreeMap<&String, &serde_json::Value> {
    map.iter().collect()
}

/// A command on an existing filing.
#[derive(Debug, Clone)]
pub struct Action {
    pub filing: String,
    pub actor: Actor,
    pub command: Command,
    /// The revision the actor saw; a filing that moved on is a conflict.
    pub expected_revision: Option<i64>,
    pub key: Option<String>,
    /// The signed-in account acting, named in the audit entry.
    pub account: Option<String>,
    pub now: DateTime,
}

/// The product, opened.
#[derive(Clone)]
pub struct App {
    store: Store,
    links: Links,
    config: Arc<Config>,
    /// Bearer tokens recently seen, so an integrator's burst does not ask
    /// the database for its account on every request.
    tokens: Arc<accounts::TokenCache>,
    /// The definitions' and templates' texts as read at start, which the
    /// policy staff's drafts are checked with (not read again per keystroke).
    definitions: Arc<crate::dsl::Input>,
}

impl App {
    /// Loads the definitions and the calendar and opens the store.
    ///
    /// # Errors
    /// [`AppError::Definitions`] when a definition has errors;
    /// [`AppError::Config`] for an unreadable folder or calendar, or a
    /// database that does not exist under [`Access::ExistingOnly`];
    /// [`AppError::Store`] when the database cannot be opened.
    pub async fn open(config: Config) -> Result<App, AppError> {
        let definitions = project::read(&config.paths).map_err(|error| {
            AppError::Config(format!(
                "{error}; pass --workflows and --templates, or run from the project folder"
            ))
        })?;
        let loaded = crate::dsl::load(&definitions);
        if loaded.checked.has_errors() {
            return Err(AppError::Definitions(loaded.render_diagnostics()));
        }
        let calendar = Calendar::load(&config.calendars, &config.region).map_err(|error| {
            AppError::Config(format!("{error}; pass --calendars to name the folder"))
        })?;
        let url = config.database_url();
        if let Some(file) = Config::sqlite_file(&url) {
            match config.access {
                Access::ExistingOnly if !file.exists() => {
                    return Err(AppError::Config(format!(
                        "no database at {}: check --data or --database (ONEWINDOW_DATABASE), \
                         or create one with `./run start`",
                        file.display()
                    )));
                }
                Access::ExistingOnly => {}
                Access::CreateIfMissing => {
                    if let Some(parent) = file.parent().filter(|p| !p.as_os_str().is_empty()) {
                        std::fs::create_dir_all(parent).map_err(|error| {
                            AppError::Config(format!("{}: {error}", parent.display()))
                        })?;
                    }
                }
            }
        }
        let store = Store::open(Options {
            url,
            workflows: loaded.checked.workflows,
            calendar,
            blob_dir: config.data.join("blobs"),
            max_upload: config.max_upload,
        })
        .await?;
        tracing::info!(database = %config.database_url(), "store opened");
        for year in store.calendar().provisional_years() {
            tracing::warn!(
                year,
                "no calendar file for {year}: its dates are provisional (weekends and fixed-date holidays); add the year from the State Council's notice on the policy staff's page /policy/calendars (or as calendars/cn/{year}.toml)"
            );
        }
        Ok(App {
            store,
            links: Links::new(&config.base_url),
            config: Arc::new(config),
            tokens: Arc::default(),
            definitions: Arc::new(definitions),
        })
    }

    /// The store, for the worker, the benches and tests. Front ends use the
    /// use cases instead.
    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn links(&self) -> &Links {
        &self.links
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The time now, by the configured [`Clock`]: every use case that acts
    /// takes it from here, never from the wall clock.
    pub fn now(&self) -> DateTime {
        self.config.clock.now()
    }

    /// The day now, by the configured [`Clock`].
    pub fn today(&self) -> Date {
        self.config.clock.today()
    }

    pub fn calendar(&self) -> std::sync::Arc<Calendar> {
        self.store.calendar()
    }

    /// The ids of the workflows in service, in order.
    pub fn workflow_ids(&self) -> Vec<String> {
        self.store.workflow_ids()
    }

    /// A version of a workflow the store keeps.
    ///
    /// # Errors
    /// [`AppError::NotFound`] for an unknown workflow or version.
    pub fn workflow_version(&self, id: &str, version: u32) -> Result<Arc<Workflow>, AppError> {
        self.store
            .workflow_version(id, version)
            .ok_or_else(|| AppError::NotFound(format!("workflow `{id}` version {version}")))
    }

    /// The current version of a workflow.
    ///
    /// # Errors
    /// [`AppError::NotFound`] naming the workflows there are.
    pub fn workflow(&self, id: &str) -> Result<Arc<Workflow>, AppError> {
        self.store.workflow(id).ok_or_else(|| {
            AppError::NotFound(format!(
                "workflow `{id}`; the workflows are {}",
                self.store.workflow_ids().join(", ")
            ))
        })
    }

    /// Files a new application: validates it, then submits it durably.
    ///
    /// # Errors
    /// [`AppError::Invalid`] with every problem of the form, facts and
    /// uploads; [`AppError::NotFound`] for an unknown workflow; the engine's
    /// refusal or a store failure.
    pub async fn submit(&self, filing: NewFiling) -> Result<FilingView, AppError> {
        let workflow = self.workflow(&filing.workflow)?;
        let fingerprint = filing.fingerprint();
        let submission = engine::validate(
            &workflow,
            filing.applicant,
            &filing.form,
            &filing.facts,
            filing.materials,
        )
        .map_err(AppError::Invalid)?;
        let id = match filing.id {
            Some(id) => id,
            None => {
                let year = i64::from(filing.now.year());
                filing_number(year, self.store.next_filing_number(year).await?)
            }
        };
        let mut request = Request::new(
            id,
            Actor::Applicant,
            Command::Submit { submission },
            filing.now,
        );
        request.workflow = Some(workflow.id.clone());
        request.key = filing.key;
        request.fingerprint = Some(fingerprint);
        request.account = filing.account;
        let applied = self.store.apply(request).await?;
        self.view(&applied.filing, applied.revision, filing.now.date())
    }

    /// Files an application of a signed-in applicant: the one builder of a
    /// new filing for the pages and the API (its applicant's address, its
    /// account in the audit, its key, its time).
    ///
    /// # Errors
    /// As [`App::submit`].
    pub async fn submit_as(
        &self,
        account: &accounts::Account,
        application: Application,
    ) -> Result<FilingView, AppError> {
        let key = application
            .key
            .map(|(door, key)| format!("{}:{}:{key}", door.name(), account.email));
        let workflow = self.workflow(&application.workflow)?;
        let now = self.now();
        let known = self.known(&workflow, &application.form).await?;
        let registry = known
            .as_ref()
            .map(|known| {
                let mut facts = known.facts_on(now.date());
                facts.retain(|id, _| workflow.facts.iter().any(|fact| &fact.id == id));
                facts
            })
            .unwrap_or_default();
        let filed = self
            .submit(NewFiling {
                id: None,
                workflow: application.workflow,
                applicant: Applicant {
                    name: application.applicant,
                    email: Some(account.email.clone()),
                    signatories: application.signatories,
                },
                form: application.form,
                facts: engine::Facts {
                    registry,
                    declared: application.facts,
                },
                materials: application.materials,
                key,
                account: Some(account.email.clone()),
                now,
            })
            .await;
        let opened = known.and_then(|known| known.opened_on);
        match (filed, opened) {
            (Err(AppError::Invalid(problems)), Some(opened)) => Err(AppError::Invalid(
                eligible_dates(&workflow, opened, problems),
            )),
            (filed, _) => filed,
        }
    }

    /// What the registry knows of the institution a form names by its
    /// credit code; `None` when the form gives no well-formed code (the
    /// engine says why) or the registry does not know it.
    async fn known(
        &self,
        workflow: &Workflow,
        form: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Option<crate::store::institutions::Known>, AppError> {
        if workflow.facts.is_empty() {
            return Ok(None);
        }
        let code = form
            .get(crate::dsl::ir::CREDIT_CODE_FIELD)
            .and_then(serde_json::Value::as_str)
            .and_then(|text| crate::credit_code::CreditCode::parse(text).ok());
        match code {
            Some(code) => Ok(self.store.registry(&code).await?),
            None => Ok(None),
        }
    }

    /// Applies a command of an actor to a filing.
    ///
    /// # Errors
    /// The engine's refusal (wrong actor, wrong state, a step already
    /// decided), a conflict with `expected_revision`, an unknown filing or a
    /// store failure.
    pub async fn act(&self, action: Action) -> Result<FilingView, AppError> {
        let mut request = Request::new(action.filing, action.actor, action.command, action.now);
        request.key = action.key;
        request.account = action.account;
        request.expected_revision = action.expected_revision;
        let applied = self.store.apply(request).await?;
        self.view(&applied.filing, applied.revision, action.now.date())
    }

    /// Stores a file an account uploads, as that account's own (size
    /// limit, kind checked by content). The name is what the account's
    /// browser or client sent, cleaned here for every door alike
    /// ([`upload_name`]); its kind is its extension.
    ///
    /// # Errors
    /// The store's refusal of the file, in words for the applicant.
    pub async fn upload(
        &self,
        account: &accounts::Account,
        file_name: &str,
        bytes: &[u8],
    ) -> Result<Upload, AppError> {
        let name = upload_name(file_name);
        let kind = name
            .rsplit_once('.')
            .map(|(_, extension)| extension.to_ascii_lowercase())
            .unwrap_or_default();
        Ok(self
            .store
            .store_upload(&account.email, &name, &kind, bytes, self.now())
            .await?)
    }

    /// Uploads `account` stored earlier, named by their hashes (the JSON
    /// API uploads first, then files referring to what it stored):
    /// material → (hash, file name) in, material → upload out. A hash
    /// another account uploaded is not found, as a wrong one is.
    ///
    /// # Errors
    /// [`AppError::Invalid`] naming each material whose hash `account`
    /// uploaded nothing under.
    pub async fn uploaded(
        &self,
        account: &accounts::Account,
        references: BTreeMap<String, (String, String)>,
    ) -> Result<BTreeMap<String, Upload>, AppError> {
        let hashes: Vec<&str> = references.values().map(|(hash, _)| hash.as_str()).collect();
        let stored = self.store.upload_records(&account.email, &hashes).await?;
        let mut uploads = BTreeMap::new();
        let mut problems = Vec::new();
        for (material, (sha256, name)) in &references {
            match stored.get(sha256) {
                Some((size, kind)) => {
                    uploads.insert(
                        material.clone(),
                        Upload {
                            name: upload_name(name),
                            kind: kind.clone(),
                            sha256: sha256.clone(),
                            size: *size,
                        },
                    );
                }
                None => problems.push(engine::Problem::about(
                    material,
                    format!("没有找到已上传的文件 {sha256}"),
                )),
            }
        }
        if problems.is_empty() {
            Ok(uploads)
        } else {
            Err(AppError::Invalid(problems))
        }
    }

    /// A filing with its steps, due dates and warning levels on `today`.
    ///
    /// # Errors
    /// [`AppError::NotFound`], or a store failure.
    pub async fn filing(&self, id: &str, today: Date) -> Result<FilingView, AppError> {
        let (filing, revision) = self.store.filing(id).await?;
        self.view(&filing, revision, today)
    }

    fn view(
        &self,
        filing: &engine::Filing,
        revision: i64,
        today: Date,
    ) -> Result<FilingView, AppError> {
        // Every version a filing was pinned to is loaded when the store opens.
        let workflow = self
            .store
            .workflow_version(&filing.workflow, filing.version)
            .ok_or_else(|| {
                AppError::NotFound(format!(
                    "workflow `{}` version {}",
                    filing.workflow, filing.version
                ))
            })?;
        Ok(FilingView::of(
            &workflow,
            filing,
            revision,
            &self.calendar(),
            today,
            &self.links,
        ))
    }

    /// One page of a department's open work by due date.
    ///
    /// # Errors
    /// A store failure.
    pub async fn queue(&self, page: &QueuePage) -> Result<Vec<QueueItem>, AppError> {
        let rows = self.store.queue(page).await?;
        Ok(rows
            .into_iter()
            .map(|row| {
                // Step numbers are the pinned version's, not the current one's.
                let workflow = self.store.workflow_version(&row.workflow, row.version);
                let title = workflow
                    .as_ref()
                    .map_or_else(String::new, |w| w.title.clone());
                let label = match (row.step, &workflow) {
                    (Some(step), Some(workflow)) => workflow
                        .steps
                        .get(step)
                        .map_or_else(String::new, |s| s.label.clone()),
                    (None, Some(workflow)) => workflow.intake.label.clone(),
                    _ => String::new(),
                };
                QueueItem {
                    link: self.links.filing(&row.filing),
                    filing: row.filing,
                    step: row.step,
                    label,
                    workflow_title: title,
                    applicant: row.applicant,
                    since: row.since,
                    due_on: row.due_on,
                    level: row.level,
                    claimed_by: row.claimed_by,
                }
            })
            .collect())
    }

    /// Takes a piece of a department's open work (`step` `None`: intake);
    /// `false` when a colleague holds it.
    ///
    /// # Errors
    /// A store failure.
    pub async fn claim(
        &self,
        filing: &str,
        step: Option<usize>,
        account: &str,
        now: DateTime,
    ) -> Result<bool, AppError> {
        Ok(self.store.claim_step(filing, step, account, now).await?)
    }

    /// Gives a piece of open work back.
    ///
    /// # Errors
    /// A store failure.
    pub async fn release(&self, filing: &str, step: Option<usize>) -> Result<(), AppError> {
        Ok(self.store.release_step(filing, step).await?)
    }

    /// The filings an applicant filed with this contact address.
    ///
    /// # Errors
    /// A store failure.
    pub async fn filings_of(&self, email: &str) -> Result<Vec<FilingSummary>, AppError> {
        let rows = self.store.filings_of(email).await?;
        Ok(rows
            .into_iter()
            .map(|row| FilingSummary {
                link: self.links.filing(&row.id),
                workflow_title: self
                    .store
                    .workflow_version(&row.workflow, row.version)
                    .map_or_else(String::new, |w| w.title.clone()),
                status: views::FilingStatus::of(row.status),
                status_label: row.status.chinese().to_string(),
                received_on: row.received_on,
                decided_on: row.decided_on,
                id: row.id,
            })
            .collect())
    }

    /// Whether a document with this number and code was issued here; the
    /// code is accepted in any letter case.
    ///
    /// # Errors
    /// A store failure.
    pub async fn verify(
        &self,
        number: &str,
        code: &str,
    ) -> Result<Option<VerifiedDocument>, AppError> {
        let found = self
            .store
            .verify_document(&normalize_number(number), &normalize_code(code))
            .await?;
        Ok(found.map(|document| VerifiedDocument {
            title: document.title,
            number: document.number,
            department: document.department,
            issued_on: document.issued_on,
            holder: document.holder,
            sha256: document.sha256,
        }))
    }

    /// When an institution in the registry may apply for a workflow whose
    /// rules ask for months of operation: each rule with its earliest day;
    /// empty while its opening day is not known.
    ///
    /// # Errors
    /// An unknown workflow, a code that is not one, an institution the
    /// registry does not know, or a database failure.
    pub async fn eligible_from(
        &self,
        credit_code: &str,
        workflow: &str,
    ) -> Result<Vec<views::Eligibility>, AppError> {
        let workflow = self.workflow(workflow)?;
        let code = crate::credit_code::CreditCode::parse(credit_code).map_err(|reason| {
            AppError::Invalid(vec![Problem::about(
                crate::dsl::ir::CREDIT_CODE_FIELD,
                reason,
            )])
        })?;
        let known =
            self.store.registry(&code).await?.ok_or_else(|| {
                AppError::NotFound(format!("institution with credit code `{code}`"))
            })?;
        let dates = known
            .opened_on
            .map(|opened| registry::eligible_from(&workflow, opened))
            .unwrap_or_default();
        Ok(dates
            .into_iter()
            .map(|(rule, from)| views::Eligibility { rule, from })
            .collect())
    }

    /// A document by the verification code its QR code carries: genuine
    /// when issued and rendered, as [`App::verify`] with its own number.
    ///
    /// # Errors
    /// A database failure.
    pub async fn verify_by_code(&self, code: &str) -> Result<Option<VerifiedDocument>, AppError> {
        let code = normalize_code(code);
        let Some(record) = self.store.document(&code).await? else {
            return Ok(None);
        };
        self.verify(record.number.as_deref().unwrap_or_default(), &code)
            .await
    }

    /// Whether the database answers (the readiness probe).
    ///
    /// # Errors
    /// The database does not answer.
    pub async fn ready(&self) -> Result<(), AppError> {
        Ok(self.store.ping().await?)
    }

    /// The store's figures and what waits in the database now, in
    /// Prometheus' text format.
    ///
    /// # Errors
    /// A store failure.
    pub async fn metrics(&self, out: &mut String) -> Result<(), AppError> {
        Ok(self.store.metrics(self.now(), out).await?)
    }

    /// The audit chain's head: its last entry's number and hash.
    ///
    /// # Errors
    /// A store failure.
    pub async fn audit_head(&self) -> Result<(i64, String), AppError> {
        Ok(self.store.audit_head().await?)
    }

    /// Recomputes the audit chain.
    ///
    /// # Errors
    /// A store failure.
    pub async fn verify_audit(&self) -> Result<Verification, AppError> {
        Ok(self.store.verify_audit().await?)
    }
}

/// A filing number: the workflow, the time to the second, and a suffix
/// from a process counter mixed with the clock's nanoseconds, so two
/// filings in one second (or from two processes) differ.
/// A filing's number as an applicant reads it out on the phone: the year
/// and the year's count of filings, `2026-000123` (the document numbers'
/// style). The store counts once per number across processes; a number
/// taken by a filing that then fails validation stays unused.
pub fn filing_number(year: i64, seq: i64) -> String {
    format!("{year}-{seq:06}")
}

/// The longest file name kept for an upload, in characters.
pub const MAX_UPLOAD_NAME: usize = 200;

/// A file name as the product keeps it, whichever door it came through:
/// the last part of a path (browsers on Windows send `C:\\…\\name`), no
/// control characters, at most [`MAX_UPLOAD_NAME`] characters.
pub fn upload_name(sent: &str) -> String {
    sent.rsplit(['/', '\\'])
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_UPLOAD_NAME)
        .collect()
}
