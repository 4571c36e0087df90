//! The store: what the engine decides, kept through crashes, races and retries.
//!
//! SQLite by default (a file in the data directory, WAL checkpointed in the
//! background, `synchronous=FULL`),
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

pub mod accounts;
pub mod audit;
pub mod blobs;
pub mod institutions;
pub mod outbox;
pub mod ratings;
pub mod read;
pub mod versions;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

use jiff::civil::DateTime;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyPool, Executor as _, Row as _};
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument as _;

use crate::calendar::Calendar;
use crate::documents::numbering::{verification_code, Series};
use crate::dsl::ir::Workflow;
use crate::engine::{self, Actor, Command, Context, Effect, EngineError, Filing};
use crate::registry;
use outbox::{Job, Kind, Notice};

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
    /// Publishing a version that is not the next one: someone published
    /// since (the workflow is at `current`).
    Superseded {
        id: String,
        current: u32,
    },
    /// An uploaded file was refused (size, kind); the message is for the applicant.
    Upload(String),
    Database(String),
    /// The committer stopped (the process is shutting down).
    Closed,
    /// An idempotency key sent again with another request than the one it
    /// first came with; nothing was written.
    KeyReused(String),
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
            StoreError::Superseded { id, current } => write!(
                f,
                "workflow `{id}` is at version {current} now: base the draft on it and publish version {}",
                current + 1
            ),
            StoreError::UnknownWorkflow { id, version: Some(version) } => {
                write!(f, "no workflow `{id}` version {version} is known to this store")
            }
            StoreError::UnknownWorkflow { id, version: None } => write!(f, "no workflow `{id}`"),
            StoreError::WorkflowChanged { id, version } => write!(
                f,
                "workflow `{id}` version {version} differs from the definition filings were pinned to: raise its `version`"
            ),
            StoreError::Config(message) | StoreError::Upload(message) => write!(f, "{message}"),
            StoreError::Database(message) => write!(f, "database: {message}"),
            StoreError::Closed => write!(f, "the store is closed"),
            StoreError::KeyReused(key) => {
                write!(f, "the key `{key}` was used before for another request")
            }
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
    /// The signed-in account acting in that role, named in the audit entry.
    pub account: Option<String>,
    pub command: Command,
    /// The same key applies once, however often it is sent.
    pub key: Option<String>,
    /// What the keyed request asked (a SHA-256 of its content): the key
    /// sent again with another is refused ([`StoreError::KeyReused`]).
    pub fingerprint: Option<String>,
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
            account: None,
            command,
            key: None,
            fingerprint: None,
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

/// The workflow versions the store knows.
#[derive(Default)]
struct Versions {
    all: HashMap<(String, u32), Arc<Workflow>>,
    /// The version new filings of each workflow take.
    current: HashMap<String, u32>,
}

impl Shared {
    fn calendar(&self) -> Arc<Calendar> {
        Arc::clone(
            &self
                .calendar
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    fn versions(&self) -> std::sync::RwLockReadGuard<'_, Versions> {
        // A panic while publishing leaves the maps as they were or with the
        // new version whole: reading them on is safe.
        self.versions
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A workflow at a version.
    fn workflow_at(&self, id: &str, version: u32) -> Option<Arc<Workflow>> {
        self.versions().all.get(&(id.to_string(), version)).cloned()
    }

    /// The version new filings of a workflow take.
    fn current_of(&self, id: &str) -> Option<Arc<Workflow>> {
        let versions = self.versions();
        let version = versions.current.get(id)?;
        versions.all.get(&(id.to_string(), *version)).cloned()
    }
}

/// Shared by the store's handles and its committer.
struct Shared {
    backend: Backend,
    /// The working-day calendar; replaced whole when a year's notice is
    /// added while serving.
    calendar: std::sync::RwLock<Arc<Calendar>>,
    /// Every known version, current and pinned; a version published while
    /// serving joins them.
    versions: std::sync::RwLock<Versions>,
    sql: Sql,
    /// Uploads known to be stored, by hash: size and kind. A stored file
    /// never changes, so what was seen once holds (and saves a query per
    /// material when a filing refers to uploads).
    /// Uploads' sizes and kinds by (owner, hash): what an owner may name.
    uploads: std::sync::Mutex<HashMap<(String, String), (u64, String)>>,
}

/// Commits and the transitions they carried (group commit at work), the
/// batches that failed, and how large and how long each batch was.
#[derive(Debug)]
pub struct CommitStats {
    pub commits: std::sync::atomic::AtomicU64,
    pub transitions: std::sync::atomic::AtomicU64,
    pub failed: std::sync::atomic::AtomicU64,
    pub sizes: crate::metrics::Histogram,
    pub latency: crate::metrics::Histogram,
}

impl Default for CommitStats {
    fn default() -> CommitStats {
        CommitStats {
            commits: std::sync::atomic::AtomicU64::default(),
            transitions: std::sync::atomic::AtomicU64::default(),
            failed: std::sync::atomic::AtomicU64::default(),
            sizes: crate::metrics::Histogram::new(crate::metrics::BATCH),
            latency: crate::metrics::Histogram::new(crate::metrics::SECONDS),
        }
    }
}

impl CommitStats {
    /// A batch of `size` requests took `elapsed`, committed or not.
    fn record_batch(&self, size: usize, elapsed: std::time::Duration, committed: bool) {
        #[allow(clippy::cast_precision_loss)]
        self.sizes.observe(size as f64);
        self.latency.observe_duration(elapsed);
        if !committed {
            self.failed
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// The commit figures in Prometheus' text format.
    fn write(&self, out: &mut String) {
        use crate::metrics::{histogram, single};
        use std::sync::atomic::Ordering::Relaxed;
        #[allow(clippy::cast_precision_loss)]
        let count = |counter: &std::sync::atomic::AtomicU64| counter.load(Relaxed) as f64;
        single(
            out,
            "onewindow_commits_total",
            "counter",
            "Transactions the committer committed.",
            count(&self.commits),
        );
        single(
            out,
            "onewindow_commit_transitions_total",
            "counter",
            "Transitions those transactions carried.",
            count(&self.transitions),
        );
        single(
            out,
            "onewindow_commit_failures_total",
            "counter",
            "Batches rolled back (nothing of them acknowledged).",
            count(&self.failed),
        );
        histogram(
            out,
            "onewindow_commit_batch_size",
            "Requests per committed or failed batch.",
            &self.sizes,
        );
        histogram(
            out,
            "onewindow_commit_duration_seconds",
            "Time to commit a batch.",
            &self.latency,
        );
    }
}

/// What waits in the database, read when scraped: the outbox by kind
/// (depth, and the age of its oldest pending row), rows given up on,
/// timers due and not fired, and the leases workers hold now.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Waiting {
    /// Kind → (pending rows, seconds since the oldest was created).
    pub outbox: BTreeMap<String, (i64, i64)>,
    pub outbox_failed: i64,
    pub timers_due: i64,
    /// Table (`outbox`, `timers`) → rows leased now.
    pub leases: BTreeMap<&'static str, i64>,
}

/// The store. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    shared: Arc<Shared>,
    stats: Arc<CommitStats>,
    committer: mpsc::Sender<Submitted>,
    pub blobs: blobs::Blobs,
}

struct Submitted {
    request: Request,
    reply: oneshot::Sender<Result<Applied, StoreError>>,
}

/// The version of the `state` column's serialized [`Filing`]. A change to
/// the engine's types that alters it raises this number, and a migration
/// rewrites old rows; a row of another format is refused, never misread.
pub const STATE_FORMAT: i64 = 1;

/// Most transitions one transaction commits.
const MAX_BATCH: usize = 256;

/// A process's turn at setting the database up when it opens: on
/// PostgreSQL a session advisory lock held on one connection (released
/// by the database if the process dies holding it); SQLite's one file
/// needs none.
struct StartTurn(Option<PoolConnection<Any>>);

impl StartTurn {
    /// The lock's key: "onewindow start" as a number, the same in every process.
    const KEY: i64 = 0x6f6e_6577_696e_6473;

    async fn take(pool: &AnyPool, backend: Backend) -> Result<StartTurn, StoreError> {
        if backend != Backend::Postgres {
            return Ok(StartTurn(None));
        }
        let mut connection = pool.acquire().await?;
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(Self::KEY)
            .execute(&mut *connection)
            .await?;
        Ok(StartTurn(Some(connection)))
    }

    async fn give_back(self) -> Result<(), StoreError> {
        if let Some(mut connection) = self.0 {
            sqlx::query("SELECT pg_advisory_unlock($1)")
                .bind(Self::KEY)
                .execute(&mut *connection)
                .await?;
        }
        Ok(())
    }
}

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
                            .execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 10000; \
                             PRAGMA temp_store = MEMORY; PRAGMA cache_size = -65536; \
                             PRAGMA wal_autocheckpoint = 0;")
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(connect)
            .await?;
        // Processes started together take turns: the schema, the
        // definitions' versions and the read side are written by one at a
        // time, and the next finds them in place.
        let turn = StartTurn::take(&pool, backend).await?;
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
            // A version newer than the definitions' files was published in
            // the browser: new filings take it.
            if current.get(&id).is_some_and(|&file| version > file) {
                current.insert(id.clone(), version);
            }
            workflows.insert((id, version), Arc::new(workflow));
        }
        let shared = Arc::new(Shared {
            backend,
            calendar: std::sync::RwLock::new(Arc::new(options.calendar)),
            versions: std::sync::RwLock::new(Versions {
                all: workflows,
                current,
            }),
            sql,
            uploads: std::sync::Mutex::default(),
        });
        let rebuilt = read::build_once(&pool, &shared).await?;
        if rebuilt > 0 {
            tracing::info!(
                filings = rebuilt,
                "read side built for filings stored before it"
            );
        }
        turn.give_back().await?;
        let (sender, receiver) = mpsc::channel(4096);
        let stats = Arc::new(CommitStats::default());
        if backend == Backend::Sqlite {
            tokio::spawn(checkpointer(pool.clone(), stats.clone()));
        }
        tokio::spawn(committer(
            pool.clone(),
            shared.clone(),
            stats.clone(),
            receiver,
        ));
        Ok(Store {
            pool,
            shared,
            stats,
            committer: sender,
            blobs: blobs::Blobs::new(options.blob_dir, options.max_upload),
        })
    }

    /// How many commits carried how many transitions so far.
    pub fn commit_stats(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (
            self.stats.commits.load(Relaxed),
            self.stats.transitions.load(Relaxed),
        )
    }

    /// The working-day calendar as it is now.
    pub fn calendar(&self) -> Arc<Calendar> {
        self.shared.calendar()
    }

    /// Puts a new calendar in service (a year's notice added or corrected):
    /// every date derived from now on is counted on it.
    pub fn set_calendar(&self, calendar: Calendar) {
        *self
            .shared
            .calendar
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(calendar);
    }

    pub fn backend(&self) -> Backend {
        self.shared.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The current version of a workflow.
    pub fn workflow(&self, id: &str) -> Option<Arc<Workflow>> {
        self.shared.current_of(id)
    }

    /// The ids of the current workflows, sorted.
    pub fn workflow_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.shared.versions().current.keys().cloned().collect();
        ids.sort();
        ids
    }

    /// Applies one command durably: the answer comes after commit.
    ///
    /// # Errors
    /// [`StoreError::Rejected`] with the engine's reason, [`StoreError::Conflict`]
    /// when `expected_revision` is stale, or a database failure (nothing written).
    pub async fn apply(&self, request: Request) -> Result<Applied, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.committer
            .send(Submitted { request, reply })
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
        let format: i64 = row.try_get(2)?;
        if format != STATE_FORMAT {
            return Err(StoreError::Database(format!(
                "filing {id} is stored in state format {format}; this version reads format {STATE_FORMAT}"
            )));
        }
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

    /// A consistent copy of the SQLite database at `path` (`VACUUM INTO`:
    /// one read snapshot, so writers go on while it is taken and nothing
    /// they commit meanwhile is half in it), and the audit head it holds.
    /// PostgreSQL is backed up with `pg_dump` (docs/operations.md).
    ///
    /// # Errors
    /// PostgreSQL, an existing `path`, or a database failure.
    pub async fn snapshot_into(&self, path: &std::path::Path) -> Result<(i64, String), StoreError> {
        if self.shared.backend != Backend::Sqlite {
            return Err(StoreError::Config(
                "a PostgreSQL database is backed up with pg_dump (docs/operations.md)".into(),
            ));
        }
        if path.exists() {
            return Err(StoreError::Config(format!(
                "{} exists already",
                path.display()
            )));
        }
        let target = path.to_string_lossy().to_string();
        sqlx::query("VACUUM INTO $1")
            .bind(target)
            .execute(&self.pool)
            .await?;
        let url = format!("sqlite://{}?mode=ro", path.display());
        let mut copy = <sqlx::AnyConnection as sqlx::Connection>::connect(&url).await?;
        let head = sqlx::query(&self.shared.sql.select_head)
            .fetch_one(&mut copy)
            .await?;
        let head = (head.try_get(0)?, head.try_get(1)?);
        sqlx::Connection::close(copy).await?;
        Ok(head)
    }

    /// The audit chain's head: its last entry's number and hash.
    ///
    /// # Errors
    /// A database failure.
    pub async fn audit_head(&self) -> Result<(i64, String), StoreError> {
        let head = sqlx::query(&self.shared.sql.select_head)
            .fetch_one(&self.pool)
            .await?;
        Ok((head.try_get(0)?, head.try_get(1)?))
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

    /// Claims up to `limit` due timers for `worker` (leased for a minute)
    /// and fires each through [`Store::apply`]; a timer fires once however
    /// many workers run, because its idempotency key is its row.
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

    /// Claims up to `limit` outbox rows of `kind` that are due and not leased,
    /// leasing them to `worker` for `lease_seconds`. Rows leased by a worker
    /// that died come back when the lease runs out.
    ///
    /// # Errors
    /// A database failure, or a payload that is no [`Job`].
    pub async fn claim_outbox(
        &self,
        kind: Kind,
        worker: &str,
        now: DateTime,
        lease_seconds: i64,
        limit: i64,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        let lease = now
            .checked_add(jiff::Span::new().seconds(lease_seconds))
            .map_err(|e| StoreError::Config(e.to_string()))?;
        let rows = sqlx::query(&self.shared.sql.claim_outbox)
            .bind(lease.to_string())
            .bind(worker.to_string())
            .bind(kind.name())
            .bind(now.to_string())
            .bind(now.to_string())
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(OutboxRow {
                    id: row.try_get(0)?,
                    filing: row.try_get(1)?,
                    job: Job::from_payload(&row.try_get::<String, _>(2)?)
                        .map_err(StoreError::Database)?,
                    attempts: row.try_get(3)?,
                })
            })
            .collect()
    }

    /// Claims the rows of one kind batch after batch until none is due:
    /// the claim loop every outbox worker runs, written once.
    pub fn outbox_claims(&self, claim: Claim) -> Claims<'_> {
        Claims { store: self, claim }
    }

    /// Queues jobs for a filing outside any transition (a backlog for a
    /// bench, a resend staff ask for), available from `now`.
    ///
    /// # Errors
    /// A database failure.
    pub async fn enqueue(
        &self,
        filing: &str,
        jobs: &[Job],
        now: DateTime,
    ) -> Result<(), StoreError> {
        let mut connection = self.pool.acquire().await?;
        let now = now.to_string();
        insert_rows(
            &mut connection,
            &self.shared,
            "INSERT INTO outbox (filing_id, audit_seq, kind, payload, created_at, available_at)",
            6,
            jobs.len(),
            |index, query| {
                let job = &jobs[index];
                query
                    .bind(filing.to_string())
                    .bind(0i64)
                    .bind(job.kind().name())
                    .bind(job.to_payload())
                    .bind(now.clone())
                    .bind(now.clone())
            },
            "",
        )
        .await?;
        Ok(())
    }

    /// Marks claimed rows done; only the worker holding the lease can.
    ///
    /// # Errors
    /// A database failure.
    pub async fn complete_outbox(
        &self,
        worker: &str,
        id: i64,
        now: DateTime,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(&self.shared.sql.complete_outbox)
            .bind(now.to_string())
            .bind(id)
            .bind(worker.to_string())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Stores an upload as `owner`'s: the bytes by their SHA-256 (once,
    /// whoever sends them), and `owner` among those who sent them.
    ///
    /// # Errors
    /// [`StoreError::Upload`] for a refused file (empty, too large, not of
    /// its kind), or a database failure.
    pub async fn store_upload(
        &self,
        owner: &str,
        name: &str,
        kind: &str,
        bytes: &[u8],
        now: DateTime,
    ) -> Result<engine::Upload, StoreError> {
        let stored = self
            .blobs
            .put(kind, bytes)
            .map_err(|e| StoreError::Upload(e.to_string()))?;
        let kind = kind.to_ascii_lowercase();
        let mut transaction = self.pool.begin().await?;
        sqlx::query(&self.shared.sql.insert_upload)
            .bind(stored.sha256.clone())
            .bind(stored.size as i64)
            .bind(kind.clone())
            .bind(now.to_string())
            .execute(&mut *transaction)
            .await?;
        sqlx::query(&self.shared.sql.insert_upload_owner)
            .bind(stored.sha256.clone())
            .bind(owner.to_string())
            .bind(now.to_string())
            .execute(&mut *transaction)
            .await?;
        transaction.commit().await?;
        Ok(engine::Upload {
            name: name.to_string(),
            kind,
            sha256: stored.sha256,
            size: stored.size,
        })
    }

    /// The sizes and kinds of the uploads `owner` sent, by hash, in one
    /// query: a hash `owner` did not send is missing, as an unknown one is.
    ///
    /// # Errors
    /// A database failure.
    pub async fn upload_records(
        &self,
        owner: &str,
        hashes: &[&str],
    ) -> Result<HashMap<String, (u64, String)>, StoreError> {
        let key = |hash: &str| (owner.to_string(), hash.to_string());
        let mut known = HashMap::new();
        let mut missing = Vec::new();
        {
            let cache = self
                .shared
                .uploads
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            for hash in hashes {
                match cache.get(&key(hash)) {
                    Some(record) => {
                        known.insert((*hash).to_string(), record.clone());
                    }
                    None => missing.push(*hash),
                }
            }
        }
        if missing.is_empty() {
            return Ok(known);
        }
        let found = self.query_upload_records(owner, &missing).await?;
        let mut cache = self
            .shared
            .uploads
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if cache.len() > 100_000 {
            cache.clear();
        }
        cache.extend(found.iter().map(|(hash, v)| (key(hash), v.clone())));
        known.extend(found);
        Ok(known)
    }

    async fn query_upload_records(
        &self,
        owner: &str,
        hashes: &[&str],
    ) -> Result<HashMap<String, (u64, String)>, StoreError> {
        let marks: Vec<String> = (2..=hashes.len() + 1).map(|n| format!("${n}")).collect();
        let text = self.shared.sql.rewrite(&format!(
            "SELECT u.sha256, u.size, u.kind FROM uploads u
             JOIN upload_owners o ON o.sha256 = u.sha256
             WHERE o.account = $1 AND u.sha256 IN ({})",
            marks.join(", ")
        ));
        let mut query = sqlx::query(&text).bind(owner.to_string());
        for hash in hashes {
            query = query.bind((*hash).to_string());
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                let size: i64 = row.try_get(1)?;
                Ok((
                    row.try_get(0)?,
                    (u64::try_from(size).unwrap_or(0), row.try_get(2)?),
                ))
            })
            .collect()
    }

    /// Records the day a registered institution formally opened.
    ///
    /// # Errors
    /// An unknown institution, or a database failure.
    pub async fn record_opening(
        &self,
        institution: &str,
        opened_on: jiff::civil::Date,
    ) -> Result<(), StoreError> {
        let updated = sqlx::query(&self.shared.sql.record_opening)
            .bind(opened_on.to_string())
            .bind(institution.to_string())
            .execute(&self.pool)
            .await?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::NotFound(institution.to_string()));
        }
        Ok(())
    }

    /// The next filing number of a year: counted in the database, so
    /// processes sharing it never give one twice. Its own statement, not
    /// part of the filing's transaction: a number is never reused, and a
    /// filing refused after taking one leaves a gap.
    ///
    /// # Errors
    /// A database failure.
    pub async fn next_filing_number(&self, year: i64) -> Result<i64, StoreError> {
        let text = self.shared.sql.rewrite(
            "INSERT INTO number_sequences (scope, year, last) VALUES ($1, $2, 1)
             ON CONFLICT (scope, year) DO UPDATE SET last = number_sequences.last + 1
             RETURNING last",
        );
        let row = sqlx::query(&text)
            .bind(FILING_NUMBERS.to_string())
            .bind(year)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get(0)?)
    }

    /// Whether the database answers.
    ///
    /// # Errors
    /// It does not.
    pub async fn ping(&self) -> Result<(), StoreError> {
        match self.shared.backend {
            Backend::Sqlite => {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
            }
            // A standby answers reads but refuses every write: not ready.
            Backend::Postgres => {
                let row = sqlx::query("SELECT CASE WHEN pg_is_in_recovery() THEN 1 ELSE 0 END")
                    .fetch_one(&self.pool)
                    .await?;
                if row.try_get::<i32, _>(0)? != 0 {
                    return Err(StoreError::Database(
                        "the database is a standby in recovery: it takes no writes".into(),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The commit figures and what waits in the database now, in
    /// Prometheus' text format (`GET /metrics`).
    ///
    /// # Errors
    /// A database failure.
    pub async fn metrics(&self, now: DateTime, out: &mut String) -> Result<(), StoreError> {
        use crate::metrics::{family, single};
        use std::fmt::Write as _;
        self.stats.write(out);
        let waiting = self.waiting(now).await?;
        family(
            out,
            "onewindow_outbox_pending",
            "gauge",
            "Outbox rows not yet done, by kind.",
        );
        for (kind, (depth, _)) in &waiting.outbox {
            let _ = writeln!(out, "onewindow_outbox_pending{{kind=\"{kind}\"}} {depth}");
        }
        family(
            out,
            "onewindow_outbox_oldest_pending_seconds",
            "gauge",
            "Age of the oldest pending outbox row, by kind.",
        );
        for (kind, (_, age)) in &waiting.outbox {
            let _ = writeln!(
                out,
                "onewindow_outbox_oldest_pending_seconds{{kind=\"{kind}\"}} {age}"
            );
        }
        #[allow(clippy::cast_precision_loss)]
        {
            single(
                out,
                "onewindow_outbox_failed",
                "gauge",
                "Outbox rows given up on (each logged with its reason).",
                waiting.outbox_failed as f64,
            );
            single(
                out,
                "onewindow_timers_due",
                "gauge",
                "Timers due and not fired.",
                waiting.timers_due as f64,
            );
        }
        family(
            out,
            "onewindow_leases_held",
            "gauge",
            "Rows a worker holds a lease on now, by table.",
        );
        for (table, held) in &waiting.leases {
            let _ = writeln!(out, "onewindow_leases_held{{table=\"{table}\"}} {held}");
        }
        Ok(())
    }

    /// What waits in the database at `now`.
    ///
    /// # Errors
    /// A database failure.
    pub async fn waiting(&self, now: DateTime) -> Result<Waiting, StoreError> {
        let stamp = now.to_string();
        let mut waiting = Waiting::default();
        let pending = sqlx::query(
            "SELECT kind, COUNT(*), MIN(created_at) FROM outbox \
             WHERE done_at IS NULL AND failed_at IS NULL GROUP BY kind",
        )
        .fetch_all(&self.pool)
        .await?;
        for row in pending {
            let kind: String = row.try_get(0)?;
            let depth: i64 = row.try_get(1)?;
            let oldest: String = row.try_get(2)?;
            let age = oldest
                .parse::<DateTime>()
                .ok()
                .and_then(|oldest| oldest.until(now).ok())
                .and_then(|span| span.total(jiff::Unit::Second).ok())
                .unwrap_or(0.0);
            #[allow(clippy::cast_possible_truncation)]
            waiting.outbox.insert(kind, (depth, age.max(0.0) as i64));
        }
        let count = |sql: &'static str| {
            let stamp = stamp.clone();
            async move {
                let row = sqlx::query(sql).bind(stamp).fetch_one(&self.pool).await?;
                Ok::<i64, StoreError>(row.try_get::<i64, _>(0)?)
            }
        };
        let failed = sqlx::query("SELECT COUNT(*) FROM outbox WHERE failed_at IS NOT NULL")
            .fetch_one(&self.pool)
            .await?;
        waiting.outbox_failed = failed.try_get::<i64, _>(0)?;
        waiting.timers_due =
            count("SELECT COUNT(*) FROM timers WHERE fired_at IS NULL AND fire_on <= $1").await?;
        waiting.leases.insert(
            "outbox",
            count("SELECT COUNT(*) FROM outbox WHERE done_at IS NULL AND leased_until > $1")
                .await?,
        );
        waiting.leases.insert(
            "timers",
            count("SELECT COUNT(*) FROM timers WHERE fired_at IS NULL AND leased_until > $1")
                .await?,
        );
        Ok(waiting)
    }

    /// Agreements with their terms: (id, party A, party B, start, end).
    ///
    /// # Errors
    /// A database failure.
    pub async fn agreements(
        &self,
    ) -> Result<Vec<(String, String, String, String, String)>, StoreError> {
        let rows = sqlx::query(&self.shared.sql.select_agreements)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get(0)?,
                    row.try_get(1)?,
                    row.try_get(2)?,
                    row.try_get(3)?,
                    row.try_get(4)?,
                ))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// The evaluations recorded against a subject (an institution or an
    /// agreement, by name), oldest first.
    ///
    /// # Errors
    /// A database failure.
    pub async fn evaluations_of(&self, subject: &str) -> Result<Vec<Evaluation>, StoreError> {
        let rows = sqlx::query(&self.shared.sql.select_evaluations)
            .bind(subject.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let passed: i64 = row.try_get(4)?;
                Ok(Evaluation {
                    filing: row.try_get(0)?,
                    department: row.try_get(1)?,
                    subject: row.try_get(2)?,
                    year: row.try_get(3)?,
                    passed: passed != 0,
                    decided_on: row.try_get(5)?,
                    consequence: row.try_get(6)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// A workflow at the version a filing was pinned to.
    pub fn workflow_version(&self, id: &str, version: u32) -> Option<Arc<Workflow>> {
        self.shared.workflow_at(id, version)
    }

    /// An issued document by its verification code.
    ///
    /// # Errors
    /// A database failure.
    pub async fn document(&self, verify_code: &str) -> Result<Option<DocumentRecord>, StoreError> {
        let row = sqlx::query(&self.shared.sql.select_document)
            .bind(verify_code.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok(DocumentRecord {
                filing: row.try_get(0)?,
                event: row.try_get(1)?,
                outcome: row.try_get(2)?,
                title: row.try_get(3)?,
                template: row.try_get(4)?,
                issued_by: row.try_get(5)?,
                issued_on: row.try_get(6)?,
                number: row.try_get(7)?,
                verify_code: row.try_get(8)?,
                sha256: row.try_get(9)?,
                due_on: row
                    .try_get::<Option<String>, _>(10)?
                    .and_then(|d| d.parse().ok()),
            })
        })
        .transpose()
        .map_err(|e: sqlx::Error| StoreError::from(e))
    }

    /// Records the SHA-256 of a document's rendered PDF.
    ///
    /// # Errors
    /// A database failure.
    pub async fn record_pdf(&self, verify_code: &str, sha256: &str) -> Result<(), StoreError> {
        sqlx::query(&self.shared.sql.record_pdf)
            .bind(sha256.to_string())
            .bind(verify_code.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// What the public verification page shows, when both the number (as
    /// printed, empty for unnumbered documents) and the code match.
    ///
    /// # Errors
    /// A database failure.
    pub async fn verify_document(
        &self,
        number: &str,
        verify_code: &str,
    ) -> Result<Option<Verified>, StoreError> {
        let Some(record) = self.document(verify_code).await? else {
            return Ok(None);
        };
        if record.number.as_deref().unwrap_or_default() != number || record.sha256.is_none() {
            return Ok(None);
        }
        let (filing, _) = self.filing(&record.filing).await?;
        let workflow = self.workflow_version(&filing.workflow, filing.version);
        let department = workflow.as_ref().map_or_else(
            || record.issued_by.clone(),
            |workflow| workflow.department_name(&record.issued_by),
        );
        // The institution the document names (a licence's `name`), else
        // the applicant it is addressed to.
        let named = workflow
            .as_ref()
            .and_then(|workflow| workflow.outcomes.get(usize::try_from(record.outcome).ok()?))
            .and_then(|outcome| {
                outcome
                    .inputs
                    .iter()
                    .find_map(|(input, source)| match source {
                        crate::dsl::ir::InputSource::Field(field) if input == "name" => {
                            match filing.values.get(field) {
                                Some(crate::dsl::ir::Value::Text(text)) => Some(text.clone()),
                                _ => None,
                            }
                        }
                        _ => None,
                    })
            });
        Ok(Some(Verified {
            title: record.title,
            number: record.number,
            department,
            issued_on: record.issued_on,
            holder: named.unwrap_or(filing.applicant),
            sha256: record.sha256.unwrap_or_default(),
        }))
    }

    /// Marks many claimed rows done at once; only those this worker holds.
    ///
    /// # Errors
    /// A database failure.
    pub async fn complete_outbox_many(
        &self,
        worker: &str,
        ids: &[i64],
        now: DateTime,
    ) -> Result<u64, StoreError> {
        let mut done = 0;
        for chunk in ids.chunks(500) {
            let text = self.shared.sql.rewrite(&format!(
                "UPDATE outbox SET done_at = $1, leased_until = NULL WHERE leased_by = $2 AND done_at IS NULL AND id IN ({})",
                placeholders(3, chunk.len())
            ));
            let mut query = sqlx::query(&text)
                .bind(now.to_string())
                .bind(worker.to_string());
            for id in chunk {
                query = query.bind(*id);
            }
            done += query.execute(&self.pool).await?.rows_affected();
        }
        Ok(done)
    }

    /// Puts a claimed row back for a later try, with the reason it failed.
    ///
    /// # Errors
    /// A database failure.
    pub async fn retry_outbox(
        &self,
        id: i64,
        available_at: DateTime,
        reason: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(&self.shared.sql.retry_outbox)
            .bind(available_at.to_string())
            .bind(reason.to_string())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The documents a filing's event issued, in issue order.
    ///
    /// # Errors
    /// A database failure.
    pub async fn documents_of(
        &self,
        filing: &str,
        event: &str,
    ) -> Result<Vec<DocumentRecord>, StoreError> {
        let rows = sqlx::query(&self.shared.sql.documents_of)
            .bind(filing.to_string())
            .bind(event.to_string())
            .fetch_all(&self.pool)
            .await?;
        self.documents_by_code(&rows).await
    }

    /// The documents whose verification codes are the rows' first column.
    async fn documents_by_code(
        &self,
        rows: &[sqlx::any::AnyRow],
    ) -> Result<Vec<DocumentRecord>, StoreError> {
        let mut out = Vec::new();
        for row in rows {
            let code: String = row.try_get(0)?;
            out.extend(self.document(&code).await?);
        }
        Ok(out)
    }

    /// Every document issued on a filing, in the order issued.
    ///
    /// # Errors
    /// A database failure.
    pub async fn documents_of_filing(
        &self,
        filing: &str,
    ) -> Result<Vec<DocumentRecord>, StoreError> {
        let text = self
            .shared
            .sql
            .rewrite("SELECT verify_code FROM documents WHERE filing_id = $1 ORDER BY id");
        let rows = sqlx::query(&text)
            .bind(filing.to_string())
            .fetch_all(&self.pool)
            .await?;
        self.documents_by_code(&rows).await
    }

    /// Marks an outbox row failed for good, with the reason staff will see.
    ///
    /// # Errors
    /// A database failure.
    pub async fn fail_outbox(
        &self,
        id: i64,
        reason: &str,
        now: DateTime,
    ) -> Result<(), StoreError> {
        sqlx::query(&self.shared.sql.fail_outbox)
            .bind(now.to_string())
            .bind(reason.to_string())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Outbox rows of `kind` not yet done, oldest first.
    ///
    /// # Errors
    /// A database failure.
    pub async fn pending_outbox(&self, kind: Kind) -> Result<Vec<(i64, String, Job)>, StoreError> {
        let rows = sqlx::query(&self.shared.sql.pending_outbox)
            .bind(kind.name())
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let job = Job::from_payload(&row.try_get::<String, _>(2)?)
                    .map_err(StoreError::Database)?;
                Ok((row.try_get(0)?, row.try_get(1)?, job))
            })
            .collect()
    }

    /// Counts rows of a table (for tests and the bench). `table` must be one of ours.
    ///
    /// # Errors
    /// A database failure, or a table name that is not ours.
    pub async fn count(&self, table: &str) -> Result<i64, StoreError> {
        const TABLES: [&str; 11] = [
            "active_steps",
            "step_claims",
            "filings",
            "audit",
            "outbox",
            "timers",
            "documents",
            "idempotency",
            "institutions",
            "agreements",
            "uploads",
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

/// An issued document as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentRecord {
    pub filing: String,
    pub event: String,
    pub outcome: i64,
    pub title: String,
    pub template: String,
    pub issued_by: String,
    pub issued_on: String,
    pub number: Option<String>,
    pub verify_code: String,
    /// Set once the PDF is rendered and stored.
    pub sha256: Option<String>,
    /// The promised completion date when issued (`None` for documents
    /// issued before it was kept).
    pub due_on: Option<jiff::civil::Date>,
}

/// An evaluation result in the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub filing: String,
    pub department: String,
    pub subject: String,
    pub year: i64,
    pub passed: bool,
    pub decided_on: String,
    /// What follows the failure; empty when passed.
    pub consequence: String,
}

/// What the public may see of a genuine document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub title: String,
    pub number: Option<String>,
    /// The issuing department's name.
    pub department: String,
    pub issued_on: String,
    /// The institution the document names, else the applicant.
    pub holder: String,
    pub sha256: String,
}

/// What a worker claims from the outbox at a time.
#[derive(Debug, Clone)]
pub struct Claim {
    pub kind: Kind,
    /// Recorded on the rows; only this worker can complete them.
    pub worker: String,
    pub now: DateTime,
    /// How long the rows stay leased before another worker may take them.
    pub lease_seconds: i64,
    /// Rows per batch.
    pub limit: i64,
}

/// Batches of claimed rows; see [`Store::outbox_claims`].
pub struct Claims<'s> {
    store: &'s Store,
    claim: Claim,
}

impl Claims<'_> {
    /// The next batch, or `None` when no row of the kind is due.
    ///
    /// # Errors
    /// A database failure.
    pub async fn next(&mut self) -> Result<Option<Vec<OutboxRow>>, StoreError> {
        let Claim {
            kind,
            worker,
            now,
            lease_seconds,
            limit,
        } = &self.claim;
        let rows = self
            .store
            .claim_outbox(*kind, worker, *now, *lease_seconds, *limit)
            .await?;
        Ok((!rows.is_empty()).then_some(rows))
    }
}

/// A claimed outbox row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    pub id: i64,
    pub filing: String,
    pub job: Job,
    pub attempts: i64,
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
/// Copies SQLite's write-ahead log into the database file in the
/// background, so that no commit waits for it (connections do not
/// checkpoint on their own: `wal_autocheckpoint = 0`). Passive while
/// commits come: it never blocks a writer or a reader. Once they stop for
/// a tick, the log is truncated to nothing, so an idle database does not
/// keep hundreds of megabytes of log beside it.
async fn checkpointer(pool: AnyPool, stats: Arc<CommitStats>) {
    use std::sync::atomic::Ordering::Relaxed;
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(500));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut seen = stats.commits.load(Relaxed);
    let mut truncated = false;
    while !pool.is_closed() {
        tick.tick().await;
        let commits = stats.commits.load(Relaxed);
        let idle = commits == seen;
        seen = commits;
        let mode = match (idle, truncated) {
            (true, true) => continue,
            (true, false) => "TRUNCATE",
            (false, _) => "PASSIVE",
        };
        match sqlx::query(&format!("PRAGMA wal_checkpoint({mode})"))
            .fetch_optional(&pool)
            .await
        {
            Ok(_) => truncated = idle,
            Err(error) => tracing::debug!(%error, mode, "checkpoint"),
        }
    }
}

/// The committer's connection: kept while it works; after a batch fails
/// on it and it no longer answers (the database restarted, a failover), it
/// is dropped and the next batch takes a fresh one from the pool — so
/// writes resume as soon as the database is back, without a restart.
async fn committer(
    pool: AnyPool,
    shared: Arc<Shared>,
    stats: Arc<CommitStats>,
    mut receiver: mpsc::Receiver<Submitted>,
) {
    // Filings this committer wrote, by id: reused when the stored revision
    // still matches (another process may have moved a filing on).
    let mut cache: HashMap<String, (Filing, i64)> = HashMap::new();
    let mut held: Option<PoolConnection<Any>> = None;
    while let Some(first) = receiver.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let connection = match held.as_mut() {
            Some(connection) => connection,
            None => match pool.acquire().await {
                Ok(fresh) => {
                    tracing::info!("the committer has a connection to the database");
                    held.insert(fresh)
                }
                Err(error) => {
                    tracing::error!(%error, requests = jobs.len(), "no connection to the database: the batch is refused, nothing written");
                    let message = error.to_string();
                    for job in jobs {
                        let _ = job.reply.send(Err(StoreError::Database(message.clone())));
                    }
                    continue;
                }
            },
        };
        let requests: Vec<&Request> = jobs.iter().map(|job| &job.request).collect();
        let span = tracing::debug_span!("commit", requests = requests.len());
        let started = std::time::Instant::now();
        let committed = commit_batch(connection, &shared, &requests, &mut cache)
            .instrument(span)
            .await;
        stats.record_batch(requests.len(), started.elapsed(), committed.is_ok());
        let results = match committed {
            Ok(results) => {
                use std::sync::atomic::Ordering::Relaxed;
                stats.commits.fetch_add(1, Relaxed);
                let written = results
                    .iter()
                    .filter(|r| matches!(r, Ok(a) if a.audit_seq.is_some()))
                    .count();
                stats.transitions.fetch_add(written as u64, Relaxed);
                results
            }
            Err(error) => {
                let _ = connection.execute("ROLLBACK").await;
                tracing::error!(%error, requests = requests.len(), "batch rolled back");
                if sqlx::Connection::ping(&mut **connection).await.is_err() {
                    tracing::warn!(
                        "the committer's connection is broken: the next batch takes a fresh one"
                    );
                    if let Some(mut broken) = held.take() {
                        broken.close_on_drop();
                    }
                    // What this committer remembers may be what a lost
                    // transaction wrote: read it again.
                    cache.clear();
                }
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
    drop(held);
}

/// One transaction's work: what it read, and the rows it will write, table
/// by table, so that each table is written with one statement per batch.
struct Batch {
    head_seq: i64,
    head_hash: String,
    /// Filings as this transaction sees them: state, revision, whether the row exists.
    filings: HashMap<String, (Filing, i64, bool)>,
    /// Filings changed in this batch, in first-change order, with their
    /// latest state as serialized for the audit hash.
    changed: Vec<String>,
    states: HashMap<String, String>,
    /// Keys already applied: the filing, its revision then, the fingerprint.
    keys: HashMap<String, (String, i64, Option<String>)>,
    new_keys: Vec<(String, String, i64, String, Option<String>)>,
    audit: Vec<audit::Entry>,
    outbox: Vec<OutboxInsert>,
    institutions: Vec<InstitutionRow>,
    agreements: Vec<AgreementRow>,
    evaluations: Vec<EvaluationRow>,
    timers: Vec<(String, String, String)>,
    fired: Vec<i64>,
    documents: Vec<DocumentRow>,
    /// Number sequences touched, with the last number given.
    numbers: HashMap<NumberScope, i64>,
    /// The open work of each changed filing as it was before the batch.
    open_before: HashMap<String, Vec<read::WorkRow>>,
    now: String,
}

struct OutboxInsert {
    filing: String,
    audit_seq: i64,
    job: Job,
    created_at: String,
    /// When a worker may take it: now, or later for a reminder.
    available_at: String,
}

struct InstitutionRow {
    id: String,
    name: String,
    filing: String,
    workflow: String,
    approved_on: String,
    credit_code: Option<String>,
}

struct AgreementRow {
    id: String,
    party_a: String,
    party_b: String,
    filing: String,
    term_start: String,
    term_end: String,
}

/// An evaluation part's result, recorded against its subject.
struct EvaluationRow {
    filing: String,
    department: String,
    subject: String,
    year: i64,
    passed: bool,
    decided_on: String,
    consequence: String,
}

/// A gapless number sequence: a pattern with its department, and a year.
type NumberScope = (String, i64);

/// The sequence of filing numbers, apart from every document's (whose
/// scopes name a workflow and a pattern).
const FILING_NUMBERS: &str = "filings";

struct DocumentRow {
    filing: String,
    audit_seq: i64,
    event: String,
    outcome: i64,
    title: String,
    template: String,
    issued_by: String,
    issued_on: String,
    number: Option<String>,
    verify_code: String,
    /// The promised completion date when issued.
    due_on: Option<String>,
}

/// Filings the committer keeps in memory at most.
const CACHE_LIMIT: usize = 100_000;

async fn commit_batch(
    connection: &mut PoolConnection<Any>,
    shared: &Shared,
    requests: &[&Request],
    cache: &mut HashMap<String, (Filing, i64)>,
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
        changed: Vec::new(),
        states: HashMap::new(),
        keys: HashMap::new(),
        new_keys: Vec::new(),
        audit: Vec::new(),
        outbox: Vec::new(),
        institutions: Vec::new(),
        evaluations: Vec::new(),
        agreements: Vec::new(),
        timers: Vec::new(),
        fired: Vec::new(),
        documents: Vec::new(),
        numbers: HashMap::new(),
        open_before: HashMap::new(),
        now: requests
            .first()
            .map(|r| r.now.to_string())
            .unwrap_or_default(),
    };
    let start_seq = batch.head_seq;
    prefetch(connection, shared, &mut batch, requests, cache).await?;
    let mut results = Vec::with_capacity(requests.len());
    for request in requests {
        results.push(apply_one(connection, shared, &mut batch, request).await?);
    }
    write_batch(connection, shared, &batch).await?;
    if batch.head_seq != start_seq {
        sqlx::query(&sql.update_head)
            .bind(batch.head_seq)
            .bind(batch.head_hash.clone())
            .execute(&mut **connection)
            .await?;
    }
    connection.execute("COMMIT").await?;
    if cache.len() > CACHE_LIMIT {
        cache.clear();
    }
    for id in &batch.changed {
        let (filing, revision, _) = &batch.filings[id];
        cache.insert(id.clone(), (filing.clone(), *revision));
    }
    Ok(results)
}

/// Reads every key and filing the batch names: the keys, the filings'
/// revisions, and the state of those the cache does not hold at that revision.
async fn prefetch(
    connection: &mut PoolConnection<Any>,
    shared: &Shared,
    batch: &mut Batch,
    requests: &[&Request],
    cache: &HashMap<String, (Filing, i64)>,
) -> Result<(), sqlx::Error> {
    let keys: Vec<String> = unique(requests.iter().filter_map(|r| r.key.clone()));
    let select_keys =
        "SELECT key, filing_id, revision, fingerprint FROM idempotency WHERE key IN ({set})";
    for row in fetch_in(connection, shared, select_keys, &keys).await? {
        batch.keys.insert(
            row.try_get(0)?,
            (row.try_get(1)?, row.try_get(2)?, row.try_get(3)?),
        );
    }
    let mut ids: Vec<String> = requests.iter().map(|r| r.filing.clone()).collect();
    ids.extend(batch.keys.values().map(|(filing, _, _)| filing.clone()));
    let ids = unique(ids.into_iter());
    let mut missing = Vec::new();
    let select_revisions = "SELECT id, revision FROM filings WHERE id IN ({set})";
    for row in fetch_in(connection, shared, select_revisions, &ids).await? {
        let id: String = row.try_get(0)?;
        let revision: i64 = row.try_get(1)?;
        match cache.get(&id) {
            Some((filing, cached)) if *cached == revision => {
                batch.filings.insert(id, (filing.clone(), revision, true));
            }
            _ => missing.push(id),
        }
    }
    let select_states = "SELECT id, state, revision FROM filings WHERE id IN ({set})";
    for row in fetch_in(connection, shared, select_states, &missing).await? {
        let id: String = row.try_get(0)?;
        let state: String = row.try_get(1)?;
        let filing: Filing =
            serde_json::from_str(&state).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
        batch.filings.insert(id, (filing, row.try_get(2)?, true));
    }
    Ok(())
}

/// Runs `select`, whose `{set}` stands for the given values, with the
/// values bound as one JSON array: one statement whatever their number, so
/// it stays prepared (a list of placeholders made a new statement for every
/// batch size, and those pushed the inserts out of the statement cache).
async fn fetch_in(
    connection: &mut PoolConnection<Any>,
    shared: &Shared,
    select: &str,
    values: &[String],
) -> Result<Vec<sqlx::any::AnyRow>, sqlx::Error> {
    if values.is_empty() {
        return Ok(Vec::new());
    }
    let set = if shared.sql.postgres {
        "SELECT json_array_elements_text($1::json)"
    } else {
        "SELECT value FROM json_each($1)"
    };
    let text = shared.sql.rewrite(&select.replace("{set}", set));
    let values = serde_json::to_string(values).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    sqlx::query(&text)
        .bind(values)
        .fetch_all(&mut **connection)
        .await
}

fn rewrite_for(postgres: bool, text: &str) -> String {
    if postgres {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut expected = 1;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '$' {
            out.push(c);
            continue;
        }
        let mut number = 0usize;
        while let Some(digit) = chars.peek().and_then(|d| d.to_digit(10)) {
            number = number * 10 + digit as usize;
            chars.next();
        }
        debug_assert_eq!(
            number, expected,
            "placeholders must run $1, $2, … in order: {text}"
        );
        expected += 1;
        out.push('?');
    }
    out
}

fn unique(items: impl Iterator<Item = String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    items.filter(|item| seen.insert(item.clone())).collect()
}

/// `$first, $first+1, …` for `count` values.
fn placeholders(first: usize, count: usize) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(count * 7);
    for n in first..first + count {
        if n > first {
            out.push_str(", ");
        }
        let _ = write!(out, "${n}");
    }
    out
}

/// The most rows one statement carries (larger chunks measured no faster).
const MAX_CHUNK: usize = 64;

/// One multi-row INSERT per chunk of `rows`, each row `columns` values wide.
type AnyQuery<'q> = sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>;

/// How audit entries are written: the columns [`bind_audit`] binds.
const AUDIT_INSERT: &str = "INSERT INTO audit (seq, filing_id, revision, actor, at, event, comment, state_hash, prev_hash, hash)";
const AUDIT_COLUMNS: usize = 10;

fn bind_audit<'q>(query: AnyQuery<'q>, entry: &audit::Entry) -> AnyQuery<'q> {
    query
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
}

async fn insert_rows(
    connection: &mut PoolConnection<Any>,
    shared: &Shared,
    head: &str,
    columns: usize,
    rows: usize,
    mut bind: impl for<'q> FnMut(usize, AnyQuery<'q>) -> AnyQuery<'q>,
    tail: &str,
) -> Result<u64, sqlx::Error> {
    // Chunks of 64, 32, …, 1 rows: at most seven statement shapes per
    // table, which stay prepared in the connection's statement cache
    // instead of a new statement for every batch size.
    let mut affected = 0;
    let mut start = 0;
    while start < rows {
        let size = chunk_size(rows - start);
        let end = start + size;
        let text = shared.sql.rows_statement(head, tail, columns, size);
        let mut query = sqlx::query(&text);
        for row in start..end {
            query = bind(row, query);
        }
        affected += query.execute(&mut **connection).await?.rows_affected();
        start = end;
    }
    Ok(affected)
}

/// The largest power of two up to [`MAX_CHUNK`] that fits `remaining` rows.
fn chunk_size(remaining: usize) -> usize {
    let mut size = MAX_CHUNK;
    while size > remaining {
        size /= 2;
    }
    size
}

/// Writes what the batch decided: a few statements per table.
async fn write_batch(
    connection: &mut PoolConnection<Any>,
    shared: &Shared,
    batch: &Batch,
) -> Result<(), sqlx::Error> {
    write_filings(connection, shared, batch).await?;
    write_log(connection, shared, batch).await?;
    write_documents(connection, shared, batch).await?;
    write_registry(connection, shared, batch).await
}

/// The changed filings, inserted or updated where their revision is the one
/// read, and their open work for the queues.
async fn write_filings(
    connection: &mut PoolConnection<Any>,
    shared: &Shared,
    batch: &Batch,
) -> Result<(), sqlx::Error> {
    // Filings: insert new ones, update changed ones whose revision is the one read.
    let rows: Vec<(&String, &Filing, i64, bool)> = batch
        .changed
        .iter()
        .map(|id| {
            let (filing, revision, _) = &batch.filings[id];
            (id, filing, *revision, batch_existed(batch, id))
        })
        .collect();
    let states: Vec<&String> = rows
        .iter()
        .map(|(id, _, _, _)| &batch.states[*id])
        .collect();
    let written = insert_rows(
        connection,
        shared,
        "INSERT INTO filings (id, workflow, version, status, revision, state, created_at, updated_at, \
         applicant, applicant_email, received_on, accepted_on, decided_on, state_format)",
        14,
        rows.len(),
        |index, query| {
            let (id, filing, revision, _) = rows[index];
            let day = |d: Option<jiff::civil::Date>| d.map(|d| d.to_string());
            query
                .bind(id.clone())
                .bind(filing.workflow.clone())
                .bind(i64::from(filing.version))
                .bind(filing.status.name())
                .bind(revision)
                .bind(states[index].to_string())
                .bind(batch.now.clone())
                .bind(batch.now.clone())
                .bind(filing.applicant.clone())
                .bind(filing.applicant_email.clone())
                .bind(day(filing.received_on))
                .bind(day(filing.accepted_on))
                .bind(day(filing.decided_on))
                .bind(STATE_FORMAT)
        },
        "ON CONFLICT (id) DO UPDATE SET status = excluded.status, revision = excluded.revision, \
         state = excluded.state, updated_at = excluded.updated_at, applicant = excluded.applicant, \
         applicant_email = excluded.applicant_email, received_on = excluded.received_on, \
         accepted_on = excluded.accepted_on, decided_on = excluded.decided_on, \
         state_format = excluded.state_format \
         WHERE filings.revision < excluded.revision",
    )
    .await?;
    if written != rows.len() as u64 {
        // Another process moved a filing on since the batch read it: the
        // whole batch fails and its callers are told to try again.
        return Err(sqlx::Error::Protocol(
            "a filing changed under the committer; try again".into(),
        ));
    }
    let changes: Vec<(&str, &[read::WorkRow], Vec<read::WorkRow>)> = rows
        .iter()
        .map(|(id, filing, _, _)| {
            let before = batch.open_before.get(*id).map_or(&[][..], Vec::as_slice);
            (id.as_str(), before, read::open_rows(shared, filing))
        })
        .collect();
    read::write_open_work(connection, shared, &changes).await?;
    Ok(())
}

/// The audit entries, outbox rows, timers and idempotency keys of the batch,
/// and the timers it fired.
async fn write_log(
    connection: &mut PoolConnection<Any>,
    shared: &Shared,
    batch: &Batch,
) -> Result<(), sqlx::Error> {
    insert_rows(
        connection,
        shared,
        AUDIT_INSERT,
        AUDIT_COLUMNS,
        batch.audit.len(),
        |index, query| bind_audit(query, &batch.audit[index]),
        "",
    )
    .await?;
    insert_rows(
        connection,
        shared,
        "INSERT INTO outbox (filing_id, audit_seq, kind, payload, created_at, available_at)",
        6,
        batch.outbox.len(),
        |index, query| {
            let row = &batch.outbox[index];
            query
                .bind(row.filing.clone())
                .bind(row.audit_seq)
                .bind(row.job.kind().name())
                .bind(row.job.to_payload())
                .bind(row.created_at.clone())
                .bind(row.available_at.clone())
        },
        "",
    )
    .await?;
    for chunk in batch.fired.chunks(500) {
        let text = shared.sql.rewrite(&format!(
            "UPDATE timers SET fired_at = $1 WHERE id IN ({})",
            placeholders(2, chunk.len())
        ));
        let mut query = sqlx::query(&text).bind(batch.now.clone());
        for id in chunk {
            query = query.bind(*id);
        }
        query.execute(&mut **connection).await?;
    }
    // A timer scheduled again replaces the one not yet fired (a limit
    // extended, a calendar changed): one reminder per due date, not one
    // per date it ever had.
    let replace = shared
        .sql
        .rewrite("DELETE FROM timers WHERE filing_id = $1 AND timer = $2 AND fired_at IS NULL");
    for (filing, _, timer) in &batch.timers {
        sqlx::query(&replace)
            .bind(filing.clone())
            .bind(timer.clone())
            .execute(&mut **connection)
            .await?;
    }
    insert_rows(
        connection,
        shared,
        "INSERT INTO timers (filing_id, fire_on, timer)",
        3,
        batch.timers.len(),
        |index, query| {
            let (filing, on, timer) = &batch.timers[index];
            query
                .bind(filing.clone())
                .bind(on.clone())
                .bind(timer.clone())
        },
        "",
    )
    .await?;
    insert_rows(
        connection,
        shared,
        "INSERT INTO idempotency (key, filing_id, revision, created_at, fingerprint)",
        5,
        batch.new_keys.len(),
        |index, query| {
            let (key, filing, revision, now, fingerprint) = &batch.new_keys[index];
            query
                .bind(key.clone())
                .bind(filing.clone())
                .bind(*revision)
                .bind(now.clone())
                .bind(fingerprint.clone())
        },
        "",
    )
    .await?;
    Ok(())
}

/// Issued documents and the number sequences they advanced.
async fn write_documents(
    connection: &mut PoolConnection<Any>,
    shared: &Shared,
    batch: &Batch,
) -> Result<(), sqlx::Error> {
    insert_rows(
        connection,
        shared,
        "INSERT INTO documents (filing_id, audit_seq, event, outcome, title, template, issued_by, issued_on, number, verify_code, due_on)",
        11,
        batch.documents.len(),
        |index, query| {
            let row = &batch.documents[index];
            query
                .bind(row.filing.clone())
                .bind(row.audit_seq)
                .bind(row.event.clone())
                .bind(row.outcome)
                .bind(row.title.clone())
                .bind(row.template.clone())
                .bind(row.issued_by.clone())
                .bind(row.issued_on.clone())
                .bind(row.number.clone())
                .bind(row.verify_code.clone())
                .bind(row.due_on.clone())
        },
        "",
    )
    .await?;
    let numbers: Vec<(&NumberScope, &i64)> = batch.numbers.iter().collect();
    insert_rows(
        connection,
        shared,
        "INSERT INTO number_sequences (scope, year, last)",
        3,
        numbers.len(),
        |index, query| {
            let ((scope, year), last) = numbers[index];
            query.bind(scope.clone()).bind(*year).bind(*last)
        },
        "ON CONFLICT (scope, year) DO UPDATE SET last = excluded.last",
    )
    .await?;
    Ok(())
}

/// Institutions and agreements the batch's decisions registered.
async fn write_registry(
    connection: &mut PoolConnection<Any>,
    shared: &Shared,
    batch: &Batch,
) -> Result<(), sqlx::Error> {
    insert_rows(
        connection,
        shared,
        "INSERT INTO institutions (id, name, filing_id, workflow, approved_on, credit_code)",
        6,
        batch.institutions.len(),
        |index, query| {
            let row = &batch.institutions[index];
            query
                .bind(row.id.clone())
                .bind(row.name.clone())
                .bind(row.filing.clone())
                .bind(row.workflow.clone())
                .bind(row.approved_on.clone())
                .bind(row.credit_code.clone())
        },
        "",
    )
    .await?;
    insert_rows(
        connection,
        shared,
        "INSERT INTO agreements (id, party_a, party_b, filing_id, term_start, term_end)",
        6,
        batch.agreements.len(),
        |index, query| {
            let row = &batch.agreements[index];
            query
                .bind(row.id.clone())
                .bind(row.party_a.clone())
                .bind(row.party_b.clone())
                .bind(row.filing.clone())
                .bind(row.term_start.clone())
                .bind(row.term_end.clone())
        },
        "",
    )
    .await?;
    insert_rows(
        connection,
        shared,
        "INSERT INTO evaluations (filing_id, department, subject, year, passed, decided_on, consequence)",
        7,
        batch.evaluations.len(),
        |index, query| {
            let row = &batch.evaluations[index];
            query
                .bind(row.filing.clone())
                .bind(row.department.clone())
                .bind(row.subject.clone())
                .bind(row.year)
                .bind(i64::from(row.passed))
                .bind(row.decided_on.clone())
                .bind(row.consequence.clone())
        },
        "",
    )
    .await?;
    Ok(())
}

fn batch_existed(batch: &Batch, id: &str) -> bool {
    batch
        .filings
        .get(id)
        .is_some_and(|(_, _, existed)| *existed)
}

/// A retried request (its key applied before): answered as before — or
/// refused when the key came first with another request.
fn replayed(batch: &Batch, request: &Request) -> Option<Result<Applied, StoreError>> {
    let key = request.key.as_ref()?;
    let (filing_id, revision, fingerprint) = batch.keys.get(key)?;
    if let (Some(first), Some(now)) = (fingerprint, &request.fingerprint) {
        if first != now {
            return Some(Err(StoreError::KeyReused(key.clone())));
        }
    }
    let Some((filing, _, _)) = batch.filings.get(filing_id) else {
        return Some(Err(StoreError::NotFound(filing_id.clone())));
    };
    Some(Ok(Applied {
        filing: filing.clone(),
        revision: *revision,
        audit_seq: None,
        replayed: true,
        documents: Vec::new(),
    }))
}

/// One request inside the batch. `Err` only for database failures (which
/// abort the batch); refusals are `Ok(Err(..))`. Writes go to `batch`.
async fn apply_one(
    connection: &mut PoolConnection<Any>,
    shared: &Shared,
    batch: &mut Batch,
    request: &Request,
) -> Result<Result<Applied, StoreError>, sqlx::Error> {
    if let Some(answer) = replayed(batch, request) {
        return Ok(answer);
    }
    // Borrowed, not cloned: the engine clones the one it changes.
    let draft: Filing;
    let (filing, revision) = match batch.filings.get(&request.filing) {
        Some((filing, revision, _)) => (filing, *revision),
        None => {
            let Some(workflow_id) = &request.workflow else {
                return Ok(Err(StoreError::NotFound(request.filing.clone())));
            };
            let Some(workflow) = shared.current_of(workflow_id) else {
                return Ok(Err(StoreError::UnknownWorkflow {
                    id: workflow_id.clone(),
                    version: None,
                }));
            };
            draft = Filing::draft(request.filing.clone(), &workflow);
            (&draft, 0)
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
    let Some(pinned) = shared.workflow_at(&filing.workflow, filing.version) else {
        return Ok(Err(StoreError::UnknownWorkflow {
            id: filing.workflow.clone(),
            version: Some(filing.version),
        }));
    };
    let workflow: &Workflow = &pinned;
    let calendar = shared.calendar();
    let context = Context {
        workflow,
        calendar: &calendar,
    };
    let transition = match engine::transition(
        context,
        filing,
        &request.actor,
        &request.command,
        request.now,
    ) {
        Ok(transition) => transition,
        Err(error) => return Ok(Err(StoreError::Rejected(error))),
    };
    let now = request.now.to_string();
    let was_decided = filing.status == engine::Status::Decided;
    // The open work before the batch touched this filing, for the read side.
    // After a new calendar the stored rows were counted on the old one: none
    // is taken as before, so every open row is written again.
    let recounted = matches!(request.command, Command::Recalendar { .. });
    let open_before = (!batch.states.contains_key(&request.filing)).then(|| {
        if revision > 0 && !recounted {
            read::open_rows(shared, filing)
        } else {
            Vec::new()
        }
    });
    // The engine adds one history entry exactly when it changes the filing.
    if transition.filing.history.len() == filing.history.len() {
        // A timer that no longer applies: only the timer row changes.
        let filing = filing.clone();
        batch.fired.extend(request.timer);
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
    let entry = chain_entry(batch, request, next_revision, &state)?;
    let due_on = engine::clock::overall_due(
        workflow,
        &transition.filing,
        &calendar,
        engine::clock::Limit::Promised,
    )
    .ok()
    .flatten();
    let documents = record_effects(
        connection,
        shared,
        batch,
        request,
        workflow,
        (&transition.effects, due_on),
        &entry,
    )
    .await?;
    if transition.filing.status == engine::Status::Decided && !was_decided {
        register(workflow, &transition.filing, &entry, batch);
    }
    if let Some(key) = &request.key {
        batch.new_keys.push((
            key.clone(),
            request.filing.clone(),
            next_revision,
            now.clone(),
            request.fingerprint.clone(),
        ));
        batch.keys.insert(
            key.clone(),
            (
                request.filing.clone(),
                next_revision,
                request.fingerprint.clone(),
            ),
        );
    }
    batch.fired.extend(request.timer);
    batch.audit.push(entry.clone());
    let existed = batch_existed(batch, &request.filing);
    if batch.states.insert(request.filing.clone(), state).is_none() {
        batch.changed.push(request.filing.clone());
    }
    if let Some(before) = open_before {
        batch.open_before.insert(request.filing.clone(), before);
    }
    batch.filings.insert(
        request.filing.clone(),
        (transition.filing.clone(), next_revision, existed),
    );
    Ok(Ok(Applied {
        filing: transition.filing,
        revision: next_revision,
        audit_seq: Some(entry.seq),
        replayed: false,
        documents,
    }))
}

/// The rows a transition's effects add to the batch: timers, documents
/// with their numbers and render jobs, notifications. Returns the
/// documents issued, for the caller's answer.
async fn record_effects(
    connection: &mut PoolConnection<Any>,
    shared: &Shared,
    batch: &mut Batch,
    request: &Request,
    workflow: &Workflow,
    (effects, due_on): (&[Effect], Option<jiff::civil::Date>),
    entry: &audit::Entry,
) -> Result<Vec<IssuedDocument>, sqlx::Error> {
    let now = request.now.to_string();
    let mut documents = Vec::new();
    for effect in effects {
        match effect {
            Effect::ScheduleTimer { at, timer } => {
                let timer =
                    serde_json::to_string(timer).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
                // Scheduled twice in one batch: the later stands.
                batch.timers.retain(|(filing, _, earlier)| {
                    !(filing == &request.filing && *earlier == timer)
                });
                batch
                    .timers
                    .push((request.filing.clone(), at.to_string(), timer));
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
                        let series =
                            Series::of(workflow, pattern, issued_by, request.now.date().year());
                        let scope = (series.scope.clone(), i64::from(series.year));
                        let seq = next_number(connection, &shared.sql, batch, scope).await?;
                        Some(series.number(pattern, seq as u64))
                    }
                    None => None,
                };
                let verify_code = verification_code(&entry.hash, *outcome, documents.len());
                batch.documents.push(DocumentRow {
                    filing: request.filing.clone(),
                    audit_seq: entry.seq,
                    event: event.name().to_string(),
                    outcome: *outcome as i64,
                    title: title.clone(),
                    template: template.clone(),
                    issued_by: issued_by.clone(),
                    issued_on: request.now.date().to_string(),
                    number: number.clone(),
                    verify_code: verify_code.clone(),
                    due_on: due_on.map(|d| d.to_string()),
                });
                batch.outbox.push(OutboxInsert {
                    filing: request.filing.clone(),
                    audit_seq: entry.seq,
                    job: Job::Render {
                        verify_code: verify_code.clone(),
                    },
                    created_at: now.clone(),
                    available_at: now.clone(),
                });
                documents.push(IssuedDocument {
                    title: title.clone(),
                    template: template.clone(),
                    number,
                    verify_code,
                });
            }
            Effect::Notify { .. } => {
                batch.outbox.push(OutboxInsert {
                    filing: request.filing.clone(),
                    audit_seq: entry.seq,
                    job: Job::Notify(Notice::of(effect).expect("a notify effect")),
                    created_at: now.clone(),
                    available_at: now.clone(),
                });
            }
        }
    }
    Ok(documents)
}

/// The next audit entry, chained to the batch's head, which it becomes.
fn chain_entry(
    batch: &mut Batch,
    request: &Request,
    revision: i64,
    state: &str,
) -> Result<audit::Entry, sqlx::Error> {
    let mut entry = audit::Entry {
        seq: batch.head_seq + 1,
        filing_id: request.filing.clone(),
        revision,
        actor: match &request.account {
            Some(account) => format!("{} <{account}>", request.actor),
            None => request.actor.to_string(),
        },
        at: request.now.to_string(),
        event: serde_json::to_string(&request.command)
            .map_err(|e| sqlx::Error::Encode(Box::new(e)))?,
        comment: comment(&request.command),
        state_hash: audit::sha256_hex(state.as_bytes()),
        prev_hash: batch.head_hash.clone(),
        hash: String::new(),
    };
    entry.hash = audit::entry_hash(&entry.prev_hash, &entry);
    batch.head_seq = entry.seq;
    batch.head_hash = entry.hash.clone();
    Ok(entry)
}

/// A decision that granted or recorded something (wholly or in part) adds
/// what its workflow registers; an
/// agreement also queues its renewal reminder for the day it is due. The
/// terms come from [`registry`], as the documents' do.
fn register(workflow: &Workflow, filing: &Filing, entry: &audit::Entry, batch: &mut Batch) {
    use crate::dsl::ir::{NotifyEvent, Registration, Value};
    if workflow.registers.contains(&Registration::Evaluation) {
        record_evaluations(workflow, filing, batch);
    }
    let granted = filing
        .decision
        .as_ref()
        .is_some_and(engine::state::Decision::is_positive);
    let Some(decided) = filing.decided_on.filter(|_| granted) else {
        return;
    };
    let text = |field: &str| match filing.values.get(field) {
        Some(Value::Text(text)) => text.clone(),
        _ => String::new(),
    };
    queue_evaluation_reminder(workflow, filing, decided, entry, batch);
    for registration in &workflow.registers {
        match registration {
            Registration::Institution => batch.institutions.push(InstitutionRow {
                id: filing.id.clone(),
                name: text("name"),
                filing: filing.id.clone(),
                workflow: workflow.id.clone(),
                approved_on: decided.to_string(),
                credit_code: Some(text(crate::dsl::ir::CREDIT_CODE_FIELD))
                    .filter(|code| !code.is_empty()),
            }),
            // Recorded whatever the decision, above.
            Registration::Evaluation => {}
            Registration::Agreement => {
                let Some(term) = registry::agreement_term(workflow, filing) else {
                    continue;
                };
                batch.agreements.push(AgreementRow {
                    id: filing.id.clone(),
                    party_a: text("party_a"),
                    party_b: text("party_b"),
                    filing: filing.id.clone(),
                    term_start: term.start.to_string(),
                    term_end: term.end.to_string(),
                });
                if let Some(on) = registry::renewal_reminder_on(workflow, term) {
                    let told = engine::Told {
                        until: Some(term.end),
                        ..engine::Told::default()
                    };
                    queue_reminder(
                        batch,
                        workflow,
                        filing,
                        entry,
                        NotifyEvent::Renewal,
                        on,
                        told,
                    );
                }
            }
        }
    }
}

/// Each evaluation part's result, passed or failed, with the consequence
/// the definition states for a failure of this subject.
fn record_evaluations(workflow: &Workflow, filing: &Filing, batch: &mut Batch) {
    use crate::dsl::ir::{LegalForm, Value};
    let subject = match filing.values.get("name") {
        Some(Value::Text(text)) => text.clone(),
        _ => String::new(),
    };
    let year = match filing.values.get("year") {
        Some(Value::Int(year)) => *year,
        _ => 0,
    };
    for (department, part) in &filing.parts {
        if workflow.part_form(department) != Some(LegalForm::Evaluation) {
            continue;
        }
        let passed = !matches!(part.decision, engine::state::Decision::Refused { .. });
        let consequence = if passed {
            String::new()
        } else {
            workflow
                .consequences_for(&|name| filing.values.get(name))
                .join("；")
        };
        batch.evaluations.push(EvaluationRow {
            filing: filing.id.clone(),
            department: department.clone(),
            subject: subject.clone(),
            year,
            passed,
            decided_on: part.on.to_string(),
            consequence,
        });
    }
}

/// A granted or filed decision of a procedure evaluated periodically queues
/// the reminder of its next evaluation.
fn queue_evaluation_reminder(
    workflow: &Workflow,
    filing: &Filing,
    decided: jiff::civil::Date,
    entry: &audit::Entry,
    batch: &mut Batch,
) {
    use crate::dsl::ir::{NotifyEvent, Obligation};
    let Some((due, on)) = registry::next_evaluation(workflow, decided) else {
        return;
    };
    let told = engine::Told {
        reason: registry::obligation(workflow, Obligation::Evaluate).map(|r| r.label.clone()),
        until: Some(due),
        ..engine::Told::default()
    };
    queue_reminder(
        batch,
        workflow,
        filing,
        entry,
        NotifyEvent::EvaluationDue,
        on,
        told,
    );
}

/// Queues a reminder of `event` for 09:00 on `on`, for whoever the
/// definition tells of it (nobody listening: nothing queued).
fn queue_reminder(
    batch: &mut Batch,
    workflow: &Workflow,
    filing: &Filing,
    entry: &audit::Entry,
    event: crate::dsl::ir::NotifyEvent,
    on: jiff::civil::Date,
    told: engine::Told,
) {
    let recipients = workflow.recipients_of(event);
    if recipients.is_empty() {
        return;
    }
    batch.outbox.push(OutboxInsert {
        filing: filing.id.clone(),
        audit_seq: entry.seq,
        job: Job::Notify(Notice {
            recipients,
            event,
            step: None,
            department: None,
            told,
        }),
        created_at: entry.at.clone(),
        available_at: DateTime::from_parts(on, jiff::civil::Time::constant(9, 0, 0, 0)).to_string(),
    });
}

/// The next number of a sequence, gapless: read once per batch, counted in memory.
async fn next_number(
    connection: &mut PoolConnection<Any>,
    sql: &Sql,
    batch: &mut Batch,
    scope: NumberScope,
) -> Result<i64, sqlx::Error> {
    if !batch.numbers.contains_key(&scope) {
        let row = sqlx::query(&sql.select_number)
            .bind(scope.0.clone())
            .bind(scope.1)
            .fetch_optional(&mut **connection)
            .await?;
        let current = match row {
            Some(row) => row.try_get(0)?,
            None => 0,
        };
        batch.numbers.insert(scope.clone(), current);
    }
    let last = batch.numbers.get_mut(&scope).expect("inserted above");
    *last += 1;
    Ok(*last)
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
        | Command::Withdraw { reason }
        | Command::Recalendar { note: reason } => reason.clone(),
        _ => String::new(),
    }
}

/// A multi-row statement's shape: head, tail, columns, rows.
type RowsShape = (String, String, usize, usize);

/// The statements, written once with `$1 … $n` placeholders and rewritten
/// to plain positional `?` for SQLite.
struct Sql {
    postgres: bool,
    /// Multi-row statements by (head, tail, columns, rows), built once.
    rows: std::sync::Mutex<HashMap<RowsShape, Arc<str>>>,
    begin: String,
    lock_head: String,
    update_head: String,
    select_head: String,
    select_filing: String,
    select_audit: String,
    pending_outbox: String,
    claim_timers: String,
    claim_outbox: String,
    complete_outbox: String,
    record_opening: String,
    insert_upload: String,
    insert_upload_owner: String,
    select_document: String,
    record_pdf: String,
    fail_outbox: String,
    retry_outbox: String,
    documents_of: String,
    select_agreements: String,
    select_evaluations: String,
    select_number: String,
    workflow_digest: String,
    insert_workflow: String,
    all_workflows: String,
}

impl Sql {
    /// A statement in this backend's placeholder syntax. Statements are
    /// written with `$1 … $n`, each once and in order, so SQLite gets plain
    /// positional `?`: sqlx-sqlite looks numbered ones up by name, which
    /// costs more the more parameters a statement has.
    fn rewrite(&self, text: &str) -> String {
        rewrite_for(self.postgres, text)
    }

    /// `HEAD VALUES (…), (…) TAIL` for `rows` rows of `columns` values,
    /// built the first time and kept: the text is the same every batch.
    fn rows_statement(&self, head: &str, tail: &str, columns: usize, rows: usize) -> Arc<str> {
        let key = (head.to_string(), tail.to_string(), columns, rows);
        let mut cache = self
            .rows
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        cache
            .entry(key)
            .or_insert_with(|| {
                let values: Vec<String> = (0..rows)
                    .map(|row| format!("({})", placeholders(row * columns + 1, columns)))
                    .collect();
                self.rewrite(&format!("{head} VALUES {} {tail}", values.join(", ")))
                    .into()
            })
            .clone()
    }

    fn for_backend(backend: Backend) -> Sql {
        let postgres = backend == Backend::Postgres;
        let q = |text: &str| rewrite_for(postgres, text);
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
            postgres,
            rows: std::sync::Mutex::new(HashMap::new()),
            begin: if postgres { "BEGIN" } else { "BEGIN IMMEDIATE" }.to_string(),
            lock_head: q(if postgres {
                "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE"
            } else {
                "SELECT seq, hash FROM audit_head WHERE id = 1"
            }),
            update_head: q("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1"),
            select_head: q("SELECT seq, hash FROM audit_head WHERE id = 1"),
            select_filing: q("SELECT state, revision, state_format FROM filings WHERE id = $1"),
            select_audit: q(
                "SELECT seq, filing_id, revision, actor, at, event, comment, state_hash, prev_hash, hash FROM audit ORDER BY seq",
            ),
            pending_outbox: q(
                "SELECT id, filing_id, payload FROM outbox WHERE kind = $1 AND done_at IS NULL AND failed_at IS NULL ORDER BY id",
            ),
            claim_timers: q(claim_timers),
            claim_outbox: q(&format!(
                "UPDATE outbox SET leased_until = $1, leased_by = $2, attempts = attempts + 1 WHERE id IN (
                    SELECT id FROM outbox WHERE kind = $3 AND done_at IS NULL AND failed_at IS NULL
                      AND available_at <= $4 AND (leased_until IS NULL OR leased_until < $5)
                    ORDER BY id LIMIT $6{})
                 RETURNING id, filing_id, payload, attempts",
                if postgres { " FOR UPDATE SKIP LOCKED" } else { "" }
            )),
            record_opening: q("UPDATE institutions SET opened_on = $1 WHERE id = $2"),
            insert_upload: q(
                "INSERT INTO uploads (sha256, size, kind, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (sha256) DO NOTHING",
            ),
            insert_upload_owner: q(
                "INSERT INTO upload_owners (sha256, account, created_at) VALUES ($1, $2, $3) ON CONFLICT (sha256, account) DO NOTHING",
            ),
            select_document: q(
                "SELECT filing_id, event, outcome, title, template, issued_by, issued_on, number, verify_code, sha256, due_on
                 FROM documents WHERE verify_code = $1",
            ),
            record_pdf: q("UPDATE documents SET sha256 = $1 WHERE verify_code = $2"),
            fail_outbox: q("UPDATE outbox SET failed_at = $1, last_error = $2, leased_until = NULL WHERE id = $3"),
            retry_outbox: q("UPDATE outbox SET available_at = $1, last_error = $2, leased_until = NULL WHERE id = $3"),
            documents_of: q("SELECT verify_code FROM documents WHERE filing_id = $1 AND event = $2 ORDER BY id"),
            select_agreements: q("SELECT id, party_a, party_b, term_start, term_end FROM agreements ORDER BY id"),
            select_evaluations: q(
                "SELECT filing_id, department, subject, year, passed, decided_on, consequence
                 FROM evaluations WHERE subject = $1 ORDER BY year, decided_on, department",
            ),
            complete_outbox: q(
                "UPDATE outbox SET done_at = $1, leased_until = NULL WHERE id = $2 AND leased_by = $3 AND done_at IS NULL",
            ),
            select_number: q("SELECT last FROM number_sequences WHERE scope = $1 AND year = $2"),
            workflow_digest: q("SELECT digest FROM workflow_versions WHERE id = $1 AND version = $2"),
            insert_workflow: q("INSERT INTO workflow_versions (id, version, digest, definition) VALUES ($1, $2, $3, $4)"),
            all_workflows: q("SELECT id, version, definition FROM workflow_versions"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_go_in_power_of_two_chunks() {
        let sizes: Vec<usize> = std::iter::successors(Some((0, 0)), |&(start, _)| {
            (start < 150).then(|| (start + chunk_size(150 - start), chunk_size(150 - start)))
        })
        .skip(1)
        .map(|(_, size)| size)
        .collect();
        assert_eq!(sizes, [64, 64, 16, 4, 2]);
    }

    #[test]
    fn placeholders_for_each_backend() {
        assert_eq!(placeholders(3, 3), "$3, $4, $5");
        let text = "INSERT INTO t VALUES ($1, $2), ($3, $4)";
        assert_eq!(rewrite_for(true, text), text);
        assert_eq!(
            rewrite_for(false, text),
            "INSERT INTO t VALUES (?, ?), (?, ?)"
        );
    }
}
