//! The store: what the engine decides, kept through crashes, races and retries.
//!
//! SQLite by default (a file in the data directory, WAL, `synchronous=FULL`),
//! PostgreSQL for a `postgres://` URL; one code path over sqlx's `Any` driver
//! with a schema per backend in `migrations/`. A transition, its audit entry,
//! its outbox rows, its timers and its document numbers commit in one
//! transaction. One committer task per process takes the transitions that
//! arrive together and commits them in one transaction (group commit): one
//! durable write for many, each caller answered only after it is durable.
//!
//! Retried requests carry an idempotency key and apply once. Two people acting
//! on the same step: the committer applies them one after the other, so the
//! second meets the step already decided; a request may also state the
//! revision it saw and gets [`StoreError::Conflict`] when the filing moved on.

pub mod audit;
pub mod blobs;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use jiff::civil::DateTime;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyPool, Executor as _, Row as _};
use tokio::sync::{mpsc, oneshot};

use crate::calendar::Calendar;
use crate::dsl::ir::Workflow;
use crate::engine::{self, Actor, Command, Context, Effect, EngineError, Filing};

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// # Errors
    /// A URL that is neither `sqlite:` nor `postgres://`/`postgresql://`.
    pub fn of(url: &str) -> Result<Backend, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::Config(format!(
                "`{url}` is not a database URL: use sqlite:PATH or postgres://…"
            )))
        }
    }
}

/// Why the store refused or failed.
#[derive(Debug)]
pub enum StoreError {
    /// The engine refused the command; nothing was written.
    Rejected(EngineError),
    /// The filing moved on since the revision the request saw.
    Conflict {
        filing: String,
        expected: i64,
        actual: i64,
    },
    NotFound(String),
    UnknownWorkflow {
        id: String,
        version: Option<u32>,
    },
    /// A workflow version's definition differs from the one filings were pinned to.
    WorkflowChanged {
        id: String,
        version: u32,
    },
    Config(String),
    Database(String),
    /// The committer stopped (the process is shutting down).
    Closed,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Rejected(error) => write!(f, "{error}"),
            StoreError::Conflict { filing, expected, actual } => write!(
                f,
                "filing {filing} changed since you loaded it (revision {expected}, now {actual}): reload and try again"
            ),
            StoreError::NotFound(id) => write!(f, "no filing `{id}`"),
            StoreError::UnknownWorkflow { id, version: Some(version) } => {
                write!(f, "no workflow `{id}` version {version} is known to this store")
            }
            StoreError::UnknownWorkflow { id, version: None } => write!(f, "no workflow `{id}`"),
            StoreError::WorkflowChanged { id, version } => write!(
                f,
                "workflow `{id}` version {version} differs from the definition filings were pinned to: raise its `version`"
            ),
            StoreError::Config(message) => write!(f, "{message}"),
            StoreError::Database(message) => write!(f, "database: {message}"),
            StoreError::Closed => write!(f, "the store is closed"),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> StoreError {
        StoreError::Database(error.to_string())
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(error: sqlx::migrate::MigrateError) -> StoreError {
        StoreError::Database(error.to_string())
    }
}

/// One command for one filing.
#[derive(Debug, Clone)]
pub struct Request {
    pub filing: String,
    /// For a `Submit` that creates the filing: its workflow (current version).
    pub workflow: Option<String>,
    pub actor: Actor,
    pub command: Command,
    /// The same key applies once, however often it is sent.
    pub key: Option<String>,
    /// The revision the actor saw; a different current revision is a conflict.
    pub expected_revision: Option<i64>,
    pub now: DateTime,
    /// The timer row this command fires; marked fired in the same transaction.
    pub timer: Option<i64>,
}

impl Request {
    pub fn new(
        filing: impl Into<String>,
        actor: Actor,
        command: Command,
        now: DateTime,
    ) -> Request {
        Request {
            filing: filing.into(),
            workflow: None,
            actor,
            command,
            key: None,
            expected_revision: None,
            now,
            timer: None,
        }
    }
}

/// A committed (or replayed) transition.
#[derive(Debug, Clone)]
pub struct Applied {
    pub filing: Filing,
    pub revision: i64,
    /// The audit entry written; `None` when nothing changed or replayed.
    pub audit_seq: Option<i64>,
    /// The key had been applied before: nothing was written now.
    pub replayed: bool,
    pub documents: Vec<IssuedDocument>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedDocument {
    pub title: String,
    pub template: String,
    pub number: Option<String>,
    pub verify_code: String,
}

/// Options for [`Store::open`].
pub struct Options {
    pub url: String,
    /// The checked workflows; their versions are recorded on open.
    pub workflows: Vec<Workflow>,
    pub calendar: Calendar,
    /// Where uploaded materials are kept (by content).
    pub blob_dir: std::path::PathBuf,
    /// The largest upload accepted, in bytes.
    pub max_upload: u64,
}

/// Shared by the store's handles and its committer.
struct Shared {
    backend: Backend,
    calendar: Calendar,
    /// Every known version, current and pinned.
    workflows: HashMap<(String, u32), Arc<Workflow>>,
    current: HashMap<String, u32>,
    sql: Sql,
}

/// The store. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    shared: Arc<Shared>,
    committer: mpsc::Sender<Job>,
    pub blobs: blobs::Blobs,
}

struct Job {
    request: Request,
    reply: oneshot::Sender<Result<Applied, StoreError>>,
}

/// Most transitions one transaction commits.
const MAX_BATCH: usize = 256;

impl Store {
    /// Opens (and migrates) the database and starts the committer.
    ///
    /// # Errors
    /// A bad URL, an unreachable database, a failed migration, or a workflow
    /// version whose definition changed.
    pub async fn open(options: Options) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of(&options.url)?;
        let connect: AnyConnectOptions = options
            .url
            .parse()
            .map_err(|e: sqlx::Error| StoreError::Config(e.to_string()))?;
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 4 } else { 8 })
            .after_connect(move |connection, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        connection
                            .execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 10000;")
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(connect)
            .await?;
        match backend {
            Backend::Sqlite => sqlx::migrate!("migrations/sqlite").run(&pool).await?,
            Backend::Postgres => sqlx::migrate!("migrations/postgres").run(&pool).await?,
        }
        let sql = Sql::for_backend(backend);
        let mut workflows = HashMap::new();
        let mut current = HashMap::new();
        for workflow in options.workflows {
            let definition =
                serde_json::to_string(&workflow).map_err(|e| StoreError::Config(e.to_string()))?;
            let digest = audit::sha256_hex(definition.as_bytes());
            let existing = sqlx::query(&sql.workflow_digest)
                .bind(workflow.id.clone())
                .bind(i64::from(workflow.version))
                .fetch_optional(&pool)
                .await?;
            match existing {
                Some(row) if row.try_get::<String, _>(0)? != digest => {
                    return Err(StoreError::WorkflowChanged {
                        id: workflow.id.clone(),
                        version: workflow.version,
                    })
                }
                Some(_) => {}
                None => {
                    sqlx::query(&sql.insert_workflow)
                        .bind(workflow.id.clone())
                        .bind(i64::from(workflow.version))
                        .bind(digest)
                        .bind(definition)
                        .execute(&pool)
                        .await?;
                }
            }
            current.insert(workflow.id.clone(), workflow.version);
            workflows.insert((workflow.id.clone(), workflow.version), Arc::new(workflow));
        }
        for row in sqlx::query(&sql.all_workflows).fetch_all(&pool).await? {
            let id: String = row.try_get(0)?;
            let version = u32::try_from(row.try_get::<i64, _>(1)?).unwrap_or_default();
            if workflows.contains_key(&(id.clone(), version)) {
                continue;
            }
            let definition: String = row.try_get(2)?;
            let workflow: Workflow = serde_json::from_str(&definition)
                .map_err(|e| StoreError::Database(e.to_string()))?;
            workflows.insert((id, version), Arc::new(workflow));
        }
        let shared = Arc::new(Shared {
            backend,
            calendar: options.calendar,
            workflows,
            current,
            sql,
        });
        let connection = pool.acquire().await?;
        let (sender, receiver) = mpsc::channel(4096);
        tokio::spawn(committer(connection, shared.clone(), receiver));
        Ok(Store {
            pool,
            shared,
            committer: sender,
            blobs: blobs::Blobs::new(options.blob_dir, options.max_upload),
        })
    }

    pub fn backend(&self) -> Backend {
        self.shared.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The current version of a workflow.
    pub fn workflow(&self, id: &str) -> Option<Arc<Workflow>> {
        let version = self.shared.current.get(id)?;
        self.shared
            .workflows
            .get(&(id.to_string(), *version))
            .cloned()
    }

    /// Applies one command durably: the answer comes after commit.
    ///
    /// # Errors
    /// [`StoreError::Rejected`] with the engine's reason, [`StoreError::Conflict`]
    /// when `expected_revision` is stale, or a database failure (nothing written).
    pub async fn apply(&self, request: Request) -> Result<Applied, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.committer
            .send(Job { request, reply })
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// A filing and its revision.
    ///
    /// # Errors
    /// [`StoreError::NotFound`], or a database failure.
    pub async fn filing(&self, id: &str) -> Result<(Filing, i64), StoreError> {
        let row = sqlx::query(&self.shared.sql.select_filing)
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(id.to_string()))?;
        let state: String = row.try_get(0)?;
        let revision: i64 = row.try_get(1)?;
        let filing =
            serde_json::from_str(&state).map_err(|e| StoreError::Database(e.to_string()))?;
        Ok((filing, revision))
    }

    /// Every audit entry in order, for verification and export.
    ///
    /// # Errors
    /// A database failure.
    pub async fn audit_entries(&self) -> Result<Vec<audit::Entry>, StoreError> {
        let rows = sqlx::query(&self.shared.sql.select_audit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(audit::Entry {
                    seq: row.try_get(0)?,
                    filing_id: row.try_get(1)?,
                    revision: row.try_get(2)?,
                    actor: row.try_get(3)?,
                    at: row.try_get(4)?,
                    event: row.try_get(5)?,
                    comment: row.try_get(6)?,
                    state_hash: row.try_get(7)?,
                    prev_hash: row.try_get(8)?,
                    hash: row.try_get(9)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Recomputes the audit chain.
    ///
    /// # Errors
    /// A database failure.
    pub async fn verify_audit(&self) -> Result<audit::Verification, StoreError> {
        let entries = self.audit_entries().await?;
        let head = sqlx::query(&self.shared.sql.select_head)
            .fetch_one(&self.pool)
            .await?;
        let (seq, hash): (i64, String) = (head.try_get(0)?, head.try_get(1)?);
        Ok(audit::verify(&entries, (seq, &hash)))
    }

    /// Claims due timers for `worker` (leased for `lease_seconds`) and fires
    /// each through [`Store::apply`]; a timer fires once however many workers
    /// run, because its idempotency key is its row.
    ///
    /// # Errors
    /// A database failure while claiming.
    pub async fn fire_due_timers(
        &self,
        worker: &str,
        now: DateTime,
        limit: i64,
    ) -> Result<TimerRun, StoreError> {
        let lease = now
            .checked_add(jiff::Span::new().seconds(60))
            .map_err(|e| StoreError::Config(e.to_string()))?;
        let rows = sqlx::query(&self.shared.sql.claim_timers)
            .bind(lease.to_string())
            .bind(worker.to_string())
            .bind(now.date().to_string())
            .bind(now.to_string())
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        let mut run = TimerRun {
            claimed: rows.len(),
            ..TimerRun::default()
        };
        for row in rows {
            let id: i64 = row.try_get(0)?;
            let filing: String = row.try_get(1)?;
            let timer: engine::Timer = serde_json::from_str(&row.try_get::<String, _>(2)?)
                .map_err(|e| StoreError::Database(e.to_string()))?;
            let mut request = Request::new(filing, Actor::System, Command::Timer { timer }, now);
            request.key = Some(format!("timer:{id}"));
            request.timer = Some(id);
            match self.apply(request).await {
                Ok(applied) if applied.replayed => run.already_fired += 1,
                Ok(applied) if applied.audit_seq.is_some() => run.fired += 1,
                Ok(_) => run.no_longer_due += 1,
                Err(StoreError::Rejected(_)) => run.no_longer_due += 1,
                Err(error) => return Err(error),
            }
        }
        Ok(run)
    }

    /// Outbox rows of `kind` not yet done, oldest first.
    ///
    /// # Errors
    /// A database failure.
    pub async fn pending_outbox(
        &self,
        kind: &str,
    ) -> Result<Vec<(i64, String, String)>, StoreError> {
        let rows = sqlx::query(&self.shared.sql.pending_outbox)
            .bind(kind.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Counts rows of a table (for tests and the bench). `table` must be one of ours.
    ///
    /// # Errors
    /// A database failure, or a table name that is not ours.
    pub async fn count(&self, table: &str) -> Result<i64, StoreError> {
        const TABLES: [&str; 8] = [
            "filings",
            "audit",
            "outbox",
            "timers",
            "documents",
            "idempotency",
            "institutions",
            "agreements",
        ];
        if !TABLES.contains(&table) {
            return Err(StoreError::Config(format!("no table `{table}`")));
        }
        let row = sqlx::query(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get(0)?)
    }
}

/// What one pass of the timer worker did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimerRun {
    pub claimed: usize,
    pub fired: usize,
    pub no_longer_due: usize,
    pub already_fired: usize,
}

/// The committer: takes what is waiting and commits it in one transaction.
async fn committer(
    mut connection: PoolConnection<Any>,
    shared: Arc<Shared>,
    mut receiver: mpsc::Receiver<Job>,
) {
    while let Some(first) = receiver.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let requests: Vec<&Request> = jobs.iter().map(|job| &job.request).collect();
        let results = match commit_batch(&mut connection, &shared, &requests).await {
            Ok(results) => results,
            Err(error) => {
                let _ = connection.execute("ROLLBACK").await;
                let message = error.to_string();
                requests
                    .iter()
                    .map(|_| Err(StoreError::Database(message.clone())))
                    .collect()
            }
        };
        for (job, result) in jobs.into_iter().zip(results) {
            let _ = job.reply.send(result);
        }
    }
    drop(connection);
}

/// Per-batch memory of what this transaction already wrote.
struct Batch {
    head_seq: i64,
    head_hash: String,
    filings: HashMap<String, (Filing, i64, bool)>,
    keys: HashMap<String, (String, i64)>,
}

async fn commit_batch(
    connection: &mut PoolConnection<Any>,
    shared: &Shared,
    requests: &[&Request],
) -> Result<Vec<Result<Applied, StoreError>>, sqlx::Error> {
    let sql = &shared.sql;
    connection.execute(sql.begin.as_str()).await?;
    let head = sqlx::query(&sql.lock_head)
        .fetch_one(&mut **connection)
        .await?;
    let mut batch = Batch {
        head_seq: head.try_get(0)?,
        head_hash: head.try_get(1)?,
        filings: HashMap::new(),
        keys: HashMap::new(),
    };
    let start_seq = batch.head_seq;
    let mut results = Vec::with_capacity(requests.len());
    for request in requests {
        results.push(apply_one(connection, shared, &mut batch, request).await?);
    }
    if batch.head_seq != start_seq {
        sqlx::query(&sql.update_head)
            .bind(batch.head_seq)
            .bind(batch.head_hash.clone())
            .execute(&mut **connection)
            .await?;
    }
    connection.execute("COMMIT").await?;
    Ok(results)
}

/// One request inside the batch's transaction. `Err` only for database
/// failures (which abort the batch); refusals are `Ok(Err(..))`.
async fn apply_one(
    connection: &mut PoolConnection<Any>,
    shared: &Shared,
    batch: &mut Batch,
    request: &Request,
) -> Result<Result<Applied, StoreError>, sqlx::Error> {
    let sql = &shared.sql;
    // A retried request: answer as before.
    if let Some(key) = &request.key {
        let known = match batch.keys.get(key) {
            Some(known) => Some(known.clone()),
            None => sqlx::query(&sql.select_key)
                .bind(key.clone())
                .fetch_optional(&mut **connection)
                .await?
                .map(|row| Ok::<_, sqlx::Error>((row.try_get(0)?, row.try_get(1)?)))
                .transpose()?,
        };
        if let Some((filing_id, revision)) = known {
            let Some((filing, _)) = load(connection, shared, batch, &filing_id).await? else {
                return Ok(Err(StoreError::NotFound(filing_id)));
            };
            return Ok(Ok(Applied {
                filing,
                revision,
                audit_seq: None,
                replayed: true,
                documents: Vec::new(),
            }));
        }
    }
    let loaded = load(connection, shared, batch, &request.filing).await?;
    let (filing, revision, exists) = match loaded {
        Some((filing, revision)) => (filing, revision, true),
        None => {
            let Some(workflow_id) = &request.workflow else {
                return Ok(Err(StoreError::NotFound(request.filing.clone())));
            };
            let Some(version) = shared.current.get(workflow_id) else {
                return Ok(Err(StoreError::UnknownWorkflow {
                    id: workflow_id.clone(),
                    version: None,
                }));
            };
            let workflow = &shared.workflows[&(workflow_id.clone(), *version)];
            (Filing::draft(request.filing.clone(), workflow), 0, false)
        }
    };
    if let Some(expected) = request.expected_revision {
        if expected != revision {
            return Ok(Err(StoreError::Conflict {
                filing: request.filing.clone(),
                expected,
                actual: revision,
            }));
        }
    }
    let Some(workflow) = shared
        .workflows
        .get(&(filing.workflow.clone(), filing.version))
    else {
        return Ok(Err(StoreError::UnknownWorkflow {
            id: filing.workflow.clone(),
            version: Some(filing.version),
        }));
    };
    let context = Context {
        workflow,
        calendar: &shared.calendar,
    };
    let transition = match engine::transition(
        context,
        &filing,
        &request.actor,
        &request.command,
        request.now,
    ) {
        Ok(transition) => transition,
        Err(error) => return Ok(Err(StoreError::Rejected(error))),
    };
    let now = request.now.to_string();
    if transition.filing == filing {
        // A timer that no longer applies: only the timer row changes.
        if let Some(timer) = request.timer {
            sqlx::query(&sql.mark_timer)
                .bind(now)
                .bind(timer)
                .execute(&mut **connection)
                .await?;
        }
        return Ok(Ok(Applied {
            filing,
            revision,
            audit_seq: None,
            replayed: false,
            documents: Vec::new(),
        }));
    }
    let next_revision = revision + 1;
    let state =
        serde_json::to_string(&transition.filing).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    let status = serde_json::to_value(transition.filing.status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    if exists {
        let updated = sqlx::query(&sql.update_filing)
            .bind(status)
            .bind(next_revision)
            .bind(state.clone())
            .bind(now.clone())
            .bind(request.filing.clone())
            .bind(revision)
            .execute(&mut **connection)
            .await?;
        if updated.rows_affected() != 1 {
            return Ok(Err(StoreError::Conflict {
                filing: request.filing.clone(),
                expected: revision,
                actual: revision + 1,
            }));
        }
    } else {
        sqlx::query(&sql.insert_filing)
            .bind(request.filing.clone())
            .bind(transition.filing.workflow.clone())
            .bind(i64::from(transition.filing.version))
            .bind(status)
            .bind(next_revision)
            .bind(state.clone())
            .bind(now.clone())
            .execute(&mut **connection)
            .await?;
    }
    // The audit entry, chained to the previous one.
    let mut entry = audit::Entry {
        seq: batch.head_seq + 1,
        filing_id: request.filing.clone(),
        revision: next_revision,
        actor: request.actor.to_string(),
        at: now.clone(),
        event: serde_json::to_string(&request.command)
            .map_err(|e| sqlx::Error::Encode(Box::new(e)))?,
        comment: comment(&request.command),
        state_hash: audit::sha256_hex(state.as_bytes()),
        prev_hash: batch.head_hash.clone(),
        hash: String::new(),
    };
    entry.hash = audit::entry_hash(&entry.prev_hash, &entry);
    sqlx::query(&sql.insert_audit)
        .bind(entry.seq)
        .bind(entry.filing_id.clone())
        .bind(entry.revision)
        .bind(entry.actor.clone())
        .bind(entry.at.clone())
        .bind(entry.event.clone())
        .bind(entry.comment.clone())
        .bind(entry.state_hash.clone())
        .bind(entry.prev_hash.clone())
        .bind(entry.hash.clone())
        .execute(&mut **connection)
        .await?;
    batch.head_seq = entry.seq;
    batch.head_hash = entry.hash.clone();
    // The effects: outbox rows, timers, numbered documents.
    let mut documents = Vec::new();
    for effect in &transition.effects {
        match effect {
            Effect::ScheduleTimer { at, timer } => {
                let timer =
                    serde_json::to_string(timer).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
                sqlx::query(&sql.insert_timer)
                    .bind(request.filing.clone())
                    .bind(at.to_string())
                    .bind(timer)
                    .execute(&mut **connection)
                    .await?;
            }
            Effect::IssueDocument {
                outcome,
                title,
                template,
                issued_by,
                event,
            } => {
                let number = match &workflow.outcomes[*outcome].number {
                    Some(pattern) => {
                        let abbr = workflow
                            .department(issued_by)
                            .and_then(|d| d.abbr.clone())
                            .unwrap_or_default();
                        let scope = format!("{}|{abbr}", pattern.source);
                        let year = request.now.date().year();
                        let seq = next_number(connection, sql, &scope, i64::from(year)).await?;
                        Some(pattern.format(year, &abbr, seq as u64))
                    }
                    None => None,
                };
                let verify_code = audit::sha256_hex(
                    format!("{}|{outcome}|{}", entry.hash, documents.len()).as_bytes(),
                )[..16]
                    .to_uppercase();
                sqlx::query(&sql.insert_document)
                    .bind(request.filing.clone())
                    .bind(entry.seq)
                    .bind(event.name().to_string())
                    .bind(*outcome as i64)
                    .bind(title.clone())
                    .bind(template.clone())
                    .bind(issued_by.clone())
                    .bind(request.now.date().to_string())
                    .bind(number.clone())
                    .bind(verify_code.clone())
                    .execute(&mut **connection)
                    .await?;
                let payload = serde_json::json!({ "effect": effect, "number": number, "verify_code": verify_code });
                insert_outbox(
                    connection,
                    sql,
                    &request.filing,
                    entry.seq,
                    "render",
                    &payload.to_string(),
                    &now,
                )
                .await?;
                documents.push(IssuedDocument {
                    title: title.clone(),
                    template: template.clone(),
                    number,
                    verify_code,
                });
            }
            Effect::Notify { .. } => {
                let payload =
                    serde_json::to_string(effect).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
                insert_outbox(
                    connection,
                    sql,
                    &request.filing,
                    entry.seq,
                    "notify",
                    &payload,
                    &now,
                )
                .await?;
            }
        }
    }
    if let Some(key) = &request.key {
        sqlx::query(&sql.insert_key)
            .bind(key.clone())
            .bind(request.filing.clone())
            .bind(next_revision)
            .bind(now.clone())
            .execute(&mut **connection)
            .await?;
        batch
            .keys
            .insert(key.clone(), (request.filing.clone(), next_revision));
    }
    if let Some(timer) = request.timer {
        sqlx::query(&sql.mark_timer)
            .bind(now)
            .bind(timer)
            .execute(&mut **connection)
            .await?;
    }
    batch.filings.insert(
        request.filing.clone(),
        (transition.filing.clone(), next_revision, true),
    );
    Ok(Ok(Applied {
        filing: transition.filing,
        revision: next_revision,
        audit_seq: Some(entry.seq),
        replayed: false,
        documents,
    }))
}

/// A filing as this transaction sees it.
async fn load(
    connection: &mut PoolConnection<Any>,
    shared: &Shared,
    batch: &mut Batch,
    id: &str,
) -> Result<Option<(Filing, i64)>, sqlx::Error> {
    if let Some((filing, revision, _)) = batch.filings.get(id) {
        return Ok(Some((filing.clone(), *revision)));
    }
    let Some(row) = sqlx::query(&shared.sql.select_filing)
        .bind(id.to_string())
        .fetch_optional(&mut **connection)
        .await?
    else {
        return Ok(None);
    };
    let state: String = row.try_get(0)?;
    let revision: i64 = row.try_get(1)?;
    let filing: Filing =
        serde_json::from_str(&state).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    batch
        .filings
        .insert(id.to_string(), (filing.clone(), revision, false));
    Ok(Some((filing, revision)))
}

async fn next_number(
    connection: &mut PoolConnection<Any>,
    sql: &Sql,
    scope: &str,
    year: i64,
) -> Result<i64, sqlx::Error> {
    let updated = sqlx::query(&sql.bump_number)
        .bind(scope.to_string())
        .bind(year)
        .fetch_optional(&mut **connection)
        .await?;
    if let Some(row) = updated {
        return row.try_get(0);
    }
    sqlx::query(&sql.insert_number)
        .bind(scope.to_string())
        .bind(year)
        .execute(&mut **connection)
        .await?;
    Ok(1)
}

async fn insert_outbox(
    connection: &mut PoolConnection<Any>,
    sql: &Sql,
    filing: &str,
    audit_seq: i64,
    kind: &str,
    payload: &str,
    now: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(&sql.insert_outbox)
        .bind(filing.to_string())
        .bind(audit_seq)
        .bind(kind.to_string())
        .bind(payload.to_string())
        .bind(now.to_string())
        .execute(&mut **connection)
        .await?;
    Ok(())
}

/// What a person wrote with a command, for the audit's comment column.
fn comment(command: &Command) -> String {
    match command {
        Command::RequestCorrection { items } | Command::RequestStepCorrection { items, .. } => {
            items.join("；")
        }
        Command::RefuseToAccept { reasons } | Command::Refuse { reasons, .. } => reasons.join("；"),
        Command::Pause { reason, .. }
        | Command::Extend { reason }
        | Command::Withdraw { reason } => reason.clone(),
        _ => String::new(),
    }
}

/// The statements, written once with `$N` placeholders and rewritten to
/// `?N` for SQLite.
struct Sql {
    begin: String,
    lock_head: String,
    update_head: String,
    select_head: String,
    select_key: String,
    insert_key: String,
    select_filing: String,
    insert_filing: String,
    update_filing: String,
    insert_audit: String,
    select_audit: String,
    insert_outbox: String,
    pending_outbox: String,
    insert_timer: String,
    claim_timers: String,
    mark_timer: String,
    insert_document: String,
    bump_number: String,
    insert_number: String,
    workflow_digest: String,
    insert_workflow: String,
    all_workflows: String,
}

impl Sql {
    fn for_backend(backend: Backend) -> Sql {
        let postgres = backend == Backend::Postgres;
        let q = |text: &str| -> String {
            if postgres {
                text.to_string()
            } else {
                text.replace('$', "?")
            }
        };
        let claim_timers = if postgres {
            "UPDATE timers SET leased_until = $1, leased_by = $2 WHERE id IN (
                SELECT id FROM timers WHERE fired_at IS NULL AND fire_on <= $3
                  AND (leased_until IS NULL OR leased_until < $4)
                ORDER BY id LIMIT $5 FOR UPDATE SKIP LOCKED)
             RETURNING id, filing_id, timer"
        } else {
            "UPDATE timers SET leased_until = $1, leased_by = $2 WHERE id IN (
                SELECT id FROM timers WHERE fired_at IS NULL AND fire_on <= $3
                  AND (leased_until IS NULL OR leased_until < $4)
                ORDER BY id LIMIT $5)
             RETURNING id, filing_id, timer"
        };
        Sql {
            begin: if postgres { "BEGIN" } else { "BEGIN IMMEDIATE" }.to_string(),
            lock_head: q(if postgres {
                "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE"
            } else {
                "SELECT seq, hash FROM audit_head WHERE id = 1"
            }),
            update_head: q("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1"),
            select_head: q("SELECT seq, hash FROM audit_head WHERE id = 1"),
            select_key: q("SELECT filing_id, revision FROM idempotency WHERE key = $1"),
            insert_key: q("INSERT INTO idempotency (key, filing_id, revision, created_at) VALUES ($1, $2, $3, $4)"),
            select_filing: q("SELECT state, revision FROM filings WHERE id = $1"),
            insert_filing: q(
                "INSERT INTO filings (id, workflow, version, status, revision, state, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
            ),
            update_filing: q(
                "UPDATE filings SET status = $1, revision = $2, state = $3, updated_at = $4 WHERE id = $5 AND revision = $6",
            ),
            insert_audit: q(
                "INSERT INTO audit (seq, filing_id, revision, actor, at, event, comment, state_hash, prev_hash, hash)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            ),
            select_audit: q(
                "SELECT seq, filing_id, revision, actor, at, event, comment, state_hash, prev_hash, hash FROM audit ORDER BY seq",
            ),
            insert_outbox: q(
                "INSERT INTO outbox (filing_id, audit_seq, kind, payload, created_at, available_at)
                 VALUES ($1, $2, $3, $4, $5, $5)",
            ),
            pending_outbox: q(
                "SELECT id, filing_id, payload FROM outbox WHERE kind = $1 AND done_at IS NULL AND failed_at IS NULL ORDER BY id",
            ),
            insert_timer: q("INSERT INTO timers (filing_id, fire_on, timer) VALUES ($1, $2, $3)"),
            claim_timers: q(claim_timers),
            mark_timer: q("UPDATE timers SET fired_at = $1 WHERE id = $2"),
            insert_document: q(
                "INSERT INTO documents (filing_id, audit_seq, event, outcome, title, template, issued_by, issued_on, number, verify_code)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            ),
            bump_number: q(
                "UPDATE number_sequences SET last = last + 1 WHERE scope = $1 AND year = $2 RETURNING last",
            ),
            insert_number: q("INSERT INTO number_sequences (scope, year, last) VALUES ($1, $2, 1)"),
            workflow_digest: q("SELECT digest FROM workflow_versions WHERE id = $1 AND version = $2"),
            insert_workflow: q("INSERT INTO workflow_versions (id, version, digest, definition) VALUES ($1, $2, $3, $4)"),
            all_workflows: q("SELECT id, version, definition FROM workflow_versions"),
        }
    }
}
