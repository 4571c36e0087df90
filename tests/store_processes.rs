//! The store across real processes: a burst of filings killed with SIGKILL
//! loses no acknowledged transition; two worker processes on one PostgreSQL
//! fire each timer once; two stores on one PostgreSQL split the outbox.

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};

use jiff::civil::{date, DateTime, Time};
use onewindow::engine::{Actor, Command as Engine, Status};
use onewindow::store::{Request, Store};

mod common;
use common::{fresh_databases, open, root, scratch};

fn load_command(database: &str, data: &std::path::Path, filings: usize) -> Command {
    let mut command = common::onewindow();
    command
        .current_dir(root())
        .args([
            "load",
            "--workflow",
            "new_combined",
            "--prefix",
            "K",
            "--concurrency",
            "32",
            "--acks",
        ])
        .args(["--filings", &filings.to_string(), "--database", database])
        .arg("--data")
        .arg(data);
    command
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_mid_burst_loses_no_acknowledged_transition() {
    for url in fresh_databases().await {
        let data = scratch("crash");
        let filings = 300;
        let mut child = load_command(&url, &data, filings)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn load");
        let stdout = child.stdout.take().expect("stdout");
        let mut acks: Vec<(String, i64)> = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let mut parts = line.split_whitespace();
            if let (Some("ack"), Some(filing), Some(revision)) =
                (parts.next(), parts.next(), parts.next())
            {
                acks.push((filing.to_string(), revision.parse().expect("revision")));
            }
            if acks.len() == 400 {
                child.kill().expect("SIGKILL");
                break;
            }
        }
        child.wait().expect("reaped");
        assert_eq!(
            acks.len(),
            400,
            "{url}: the burst was killed after 400 acknowledgements"
        );

        // After restart: every acknowledged transition is there, exactly once.
        let store = open(&url).await;
        let entries = store.audit_entries().await.expect("audit");
        let mut per_revision: BTreeMap<(String, i64), usize> = BTreeMap::new();
        for entry in &entries {
            *per_revision
                .entry((entry.filing_id.clone(), entry.revision))
                .or_default() += 1;
        }
        for (filing, revision) in &acks {
            assert_eq!(
                per_revision.get(&(filing.clone(), *revision)),
                Some(&1),
                "{url}: {filing} revision {revision}"
            );
            let (_, stored) = store
                .filing(filing)
                .await
                .expect("acknowledged filing stored");
            assert!(
                stored >= *revision,
                "{url}: {filing} went back from {revision} to {stored}"
            );
        }
        let verification = store.verify_audit().await.expect("verify");
        assert!(
            verification.is_intact(),
            "{url}: {:?}",
            verification.problems
        );
        drop(store);

        // Running the same load again finishes every filing; retried steps apply once.
        let status = load_command(&url, &data, filings)
            .stdout(Stdio::null())
            .status()
            .expect("resume");
        assert!(status.success(), "{url}");
        let store = open(&url).await;
        assert_eq!(
            store.count("filings").await.unwrap(),
            filings as i64,
            "{url}"
        );
        assert_eq!(
            store.count("audit").await.unwrap(),
            4 * filings as i64,
            "{url}: submit, accept, two approvals each"
        );
        for index in [0, filings / 2, filings - 1] {
            let (filing, revision) = store.filing(&format!("K{index:06}")).await.unwrap();
            assert_eq!((filing.status, revision), (Status::Decided, 4), "{url}");
        }
        assert!(store.verify_audit().await.unwrap().is_intact(), "{url}");
        let _ = std::fs::remove_dir_all(data);
    }
}

/// Parses a worker's closing line: `NAME: claimed C timers, fired F, …`.
fn fired(output: &str) -> usize {
    output
        .lines()
        .find_map(|line| line.split("fired ").nth(1))
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no totals in {output:?}"))
}

async fn submit_many(store: &Store, count: usize, day: jiff::civil::Date) {
    let workflow = store.workflow("new_combined").unwrap();
    let answers =
        onewindow::project::read_answers(&root().join("workflows/samples/new_combined.json"))
            .unwrap();
    let submission = answers.submission(&workflow).unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for index in 0..count {
        let (store, submission) = (store.clone(), submission.clone());
        tasks.spawn(async move {
            let now = DateTime::from_parts(day, Time::constant(9, 0, 0, 0));
            let mut request = Request::new(
                format!("T{index:05}"),
                Actor::Applicant,
                Engine::Submit { submission },
                now,
            );
            request.workflow = Some("new_combined".into());
            store.apply(request).await.expect("submit");
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("task");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_worker_processes_fire_each_timer_once() {
    let postgres = fresh_databases().await.pop().expect("postgres");
    let data = scratch("workers");
    let filings = 1000;
    {
        let store = open(&postgres).await;
        submit_many(&store, filings, date(2026, 2, 12)).await;
        assert_eq!(store.count("timers").await.unwrap(), filings as i64);
    }
    // The day after the intake limit: every filing is due for deemed acceptance.
    let spawn = |name: &str| {
        common::onewindow()
            .current_dir(root())
            .args([
                "worker",
                "--once",
                "--batch",
                "10",
                "--now",
                "2026-02-27T09:00:00",
                "--name",
                name,
            ])
            .args(["--database", &postgres])
            .arg("--data")
            .arg(&data)
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn worker")
    };
    let (a, b) = (spawn("A"), spawn("B"));
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success() && b.status.success());
    let (out_a, out_b) = (
        String::from_utf8_lossy(&a.stdout).to_string(),
        String::from_utf8_lossy(&b.stdout).to_string(),
    );
    let (fired_a, fired_b) = (fired(&out_a), fired(&out_b));
    assert_eq!(fired_a + fired_b, filings, "{out_a}{out_b}");
    assert!(
        fired_a > 0 && fired_b > 0,
        "both processes shared the work: {out_a}{out_b}"
    );
    let store = open(&postgres).await;
    assert_eq!(
        store.count("audit").await.unwrap(),
        2 * filings as i64,
        "submit and one deemed acceptance each"
    );
    let (filing, revision) = store.filing("T00000").await.unwrap();
    assert!(filing.deemed_accepted && revision == 2);
    assert!(store.verify_audit().await.unwrap().is_intact());
    let _ = std::fs::remove_dir_all(data);
}

#[tokio::test(flavor = "multi_thread")]
async fn two_stores_split_the_outbox_without_overlap() {
    let postgres = fresh_databases().await.pop().expect("postgres");
    let first = open(&postgres).await;
    submit_many(&first, 300, date(2026, 3, 2)).await;
    // Acceptance notifies the applicant and each reviewing department.
    let window = Actor::Window {
        department: "window".into(),
    };
    for index in 0..300 {
        let now = DateTime::from_parts(date(2026, 3, 2), Time::constant(11, 0, 0, 0));
        let request = Request::new(format!("T{index:05}"), window.clone(), Engine::Accept, now);
        first.apply(request).await.expect("accept");
    }
    let second = open(&postgres).await;
    let pending = first
        .pending_outbox(onewindow::store::outbox::Kind::Notify)
        .await
        .unwrap()
        .len();
    assert!(pending >= 600, "acceptance queued notifications: {pending}");
    // Rows become available when queued (11:00); the workers come at noon.
    let now = DateTime::from_parts(date(2026, 3, 2), Time::constant(12, 0, 0, 0));
    let drain = |store: Store, name: &'static str| async move {
        let mut taken = Vec::new();
        loop {
            let rows = store
                .claim_outbox(onewindow::store::outbox::Kind::Notify, name, now, 60, 7)
                .await
                .expect("claim");
            if rows.is_empty() {
                return taken;
            }
            for row in rows {
                assert!(store.complete_outbox(name, row.id, now).await.unwrap());
                taken.push(row.id);
            }
        }
    };
    let (a, b) = tokio::join!(drain(first.clone(), "A"), drain(second, "B"));
    let (set_a, set_b): (HashSet<i64>, HashSet<i64>) =
        (a.iter().copied().collect(), b.iter().copied().collect());
    assert!(set_a.is_disjoint(&set_b), "no row was taken twice");
    assert_eq!(set_a.len() + set_b.len(), pending);
    assert!(
        !set_a.is_empty() && !set_b.is_empty(),
        "both took a share: {} and {}",
        set_a.len(),
        set_b.len()
    );
    assert!(first
        .pending_outbox(onewindow::store::outbox::Kind::Notify)
        .await
        .unwrap()
        .is_empty());
}

/// Issue 21: two `serve` processes started together on an empty PostgreSQL
/// database — one exited on a duplicate workflow version. Four processes
/// opened at once on an empty database all come up: migrations, the
/// definitions' versions and the read side are written by one at a time
/// (an advisory lock), and each finds the others' work in place.
#[tokio::test(flavor = "multi_thread")]
async fn four_processes_started_together_on_an_empty_database_all_come_up() {
    for round in 0..3 {
        let postgres = fresh_databases().await.pop().expect("postgres");
        let data = scratch("together");
        // Three named, one by default: its role, host and process id.
        let spawn = |name: String| {
            let named: &[&str] = if name == "P0" {
                &[]
            } else {
                &["--name", &name]
            };
            common::onewindow()
                .current_dir(root())
                .args(["worker", "--once"])
                .args(named)
                .args(["--database", &postgres])
                .arg("--data")
                .arg(&data)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn worker")
        };
        let started: Vec<_> = (0..4).map(|n| spawn(format!("P{n}"))).collect();
        for (n, process) in started.into_iter().enumerate() {
            let pid = process.id();
            let output = process.wait_with_output().unwrap();
            assert!(
                output.status.success(),
                "round {round}, process {n}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            let said = String::from_utf8_lossy(&output.stdout);
            let name = if n == 0 {
                "worker@".to_string()
            } else {
                format!("P{n}: ")
            };
            assert!(said.starts_with(&name), "{said}");
            if n == 0 {
                assert!(
                    said.contains(&format!(":{pid}: ")),
                    "named by its pid {pid}: {said}"
                );
            }
        }
        let store = open(&postgres).await;
        assert!(store.verify_audit().await.unwrap().is_intact());
        let _ = std::fs::remove_dir_all(data);
    }
}

/// A throwaway PostgreSQL of its own (scripts/postgres.sh), for a test that
/// restarts it; stopped and removed when dropped.
struct OwnPostgres {
    dir: std::path::PathBuf,
    url: String,
}

impl OwnPostgres {
    fn start(name: &str) -> OwnPostgres {
        let dir = scratch(name).join("pg");
        let output = Command::new(root().join("scripts/postgres.sh"))
            .arg("start")
            .arg(&dir)
            .output()
            .expect("scripts/postgres.sh runs");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let url = String::from_utf8_lossy(&output.stdout).trim().to_string();
        OwnPostgres { dir, url }
    }

    fn script(&self, what: &str) {
        let status = Command::new(root().join("scripts/postgres.sh"))
            .arg(what)
            .arg(&self.dir)
            .status()
            .expect("scripts/postgres.sh runs");
        assert!(status.success(), "postgres {what}");
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        self.script("stop");
    }
}

/// Issue 21: after a PostgreSQL restart every write failed until `serve`
/// was restarted (the committer kept its dead connection) while reads
/// went on. Under a steady load of submissions the database restarts:
/// writes resume within seconds of its return, the readiness probe says so,
/// every acknowledged submission is there once, and the audit chain holds.
#[tokio::test(flavor = "multi_thread")]
async fn writes_resume_after_the_database_restarts_and_nothing_acknowledged_is_lost() {
    use std::sync::atomic::Ordering;
    let postgres = OwnPostgres::start("pg-restart");
    let store = open(&postgres.url).await;
    let load = SteadyLoad::start(&store, "R");
    let (stop, acknowledged, mut load) = (load.stop, load.acknowledged, load.tasks);
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let before = acknowledged.lock().unwrap().len();
    assert!(before > 0, "the load runs");
    postgres.script("restart");
    let back = std::time::Instant::now();
    // Writes resume: an acknowledgement after the database is back.
    let resumed = loop {
        let latest = acknowledged.lock().unwrap().last().map(|(_, at)| *at);
        if latest.is_some_and(|at| at > back) {
            break back.elapsed();
        }
        assert!(
            back.elapsed() < std::time::Duration::from_secs(15),
            "writes never resumed after the restart"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    store.ping().await.expect("ready again");
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    let mut refused = 0;
    while let Some(task) = load.join_next().await {
        refused += task.expect("load task");
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    eprintln!(
        "restart: {before} acknowledged before, writes resumed {resumed:?} after the database returned, \
         {} acknowledged in all, {refused} refused while it was away",
        acknowledged.len()
    );
    for (id, _) in &acknowledged {
        let (filing, revision) = store
            .filing(id)
            .await
            .unwrap_or_else(|e| panic!("{id} acknowledged and lost: {e}"));
        assert_eq!(
            (filing.status, revision),
            (Status::Submitted, 1),
            "{id} once"
        );
    }
    let audit = store.count("audit").await.unwrap();
    assert!(
        audit >= acknowledged.len() as i64,
        "{audit} audit entries for {} acknowledged",
        acknowledged.len()
    );
    assert!(store.verify_audit().await.unwrap().is_intact());
}

/// Issue 21: the write-ahead log stayed at 455 MB beside a 410 MB database
/// when idle. Once commits stop, the log is checkpointed and truncated.
#[tokio::test(flavor = "multi_thread")]
async fn an_idle_sqlite_database_keeps_no_write_ahead_log() {
    let sqlite = fresh_databases().await.remove(0);
    let store = open(&sqlite).await;
    submit_many(&store, 500, date(2026, 2, 12)).await;
    let path = sqlite
        .trim_start_matches("sqlite://")
        .split('?')
        .next()
        .unwrap()
        .to_string();
    let wal = std::path::PathBuf::from(format!("{path}-wal"));
    let size = || std::fs::metadata(&wal).map_or(0, |m| m.len());
    let started = std::time::Instant::now();
    while size() > 0 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "the log keeps {} bytes while nothing is written",
            size()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(store.count("filings").await.unwrap(), 500);
}

/// Four tasks submitting new_combined filings one after another (ids
/// `PREFIX{task}-{n}`) until told to stop; what the store acknowledged,
/// with when; each task's count of refusals when it ends.
struct SteadyLoad {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    acknowledged: std::sync::Arc<std::sync::Mutex<Vec<(String, std::time::Instant)>>>,
    tasks: tokio::task::JoinSet<usize>,
}

impl SteadyLoad {
    fn start(store: &Store, prefix: &str) -> SteadyLoad {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::{Arc, Mutex};
        let workflow = store.workflow("new_combined").unwrap();
        let answers =
            onewindow::project::read_answers(&root().join("workflows/samples/new_combined.json"))
                .unwrap();
        let submission = answers.submission(&workflow).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let acknowledged = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = tokio::task::JoinSet::new();
        for task in 0..4 {
            let (store, submission) = (store.clone(), submission.clone());
            let (stop, acknowledged) = (stop.clone(), acknowledged.clone());
            let prefix = prefix.to_string();
            tasks.spawn(async move {
                let mut refused = 0;
                for n in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let id = format!("{prefix}{task}-{n:06}");
                    let at = DateTime::from_parts(date(2026, 2, 12), Time::constant(9, 0, 0, 0));
                    let mut request = Request::new(
                        id.clone(),
                        Actor::Applicant,
                        Engine::Submit {
                            submission: submission.clone(),
                        },
                        at,
                    );
                    request.workflow = Some("new_combined".into());
                    match store.apply(request).await {
                        Ok(_) => acknowledged
                            .lock()
                            .unwrap()
                            .push((id, std::time::Instant::now())),
                        Err(_) => refused += 1,
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
                }
                refused
            });
        }
        SteadyLoad {
            stop,
            acknowledged,
            tasks,
        }
    }
}

/// Issue 21: no backup story. `onewindow backup` runs in its own process
/// while this one keeps writing; it finishes under the load, `onewindow
/// restore` puts it into a new data folder and verifies that the audit
/// chain is intact and ends where the backup's did, and every submission
/// acknowledged before the backup began is in it, with the uploaded files.
#[tokio::test(flavor = "multi_thread")]
async fn a_backup_taken_under_load_restores_all_that_was_acknowledged_before_it() {
    use std::sync::atomic::Ordering;
    let data = scratch("backup");
    let store = Store::open(onewindow::store::Options {
        url: format!("sqlite://{}?mode=rwc", data.join("onewindow.db").display()),
        workflows: common::workflows(),
        calendar: common::calendar(),
        blob_dir: data.join("blobs"),
        max_upload: 1 << 20,
    })
    .await
    .unwrap();
    let material = onewindow::app::samples::sample_pdf("material");
    let stored = store.blobs.put("pdf", &material).unwrap();
    let load = SteadyLoad::start(&store, "B");
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let before: Vec<String> = load
        .acknowledged
        .lock()
        .unwrap()
        .iter()
        .map(|(id, _)| id.clone())
        .collect();
    let backup = data.join("backup");
    let started = std::time::Instant::now();
    let taken = tokio::task::spawn_blocking({
        let (data, backup) = (data.clone(), backup.clone());
        move || {
            common::onewindow()
                .arg("backup")
                .arg("--data")
                .arg(&data)
                .arg("-o")
                .arg(&backup)
                .output()
                .expect("onewindow runs")
        }
    })
    .await
    .unwrap();
    let took = started.elapsed();
    let during = load.acknowledged.lock().unwrap().len() - before.len();
    load.stop.store(true, Ordering::Relaxed);
    let mut tasks = load.tasks;
    while tasks.join_next().await.is_some() {}
    assert!(
        taken.status.success(),
        "{}{}",
        String::from_utf8_lossy(&taken.stdout),
        String::from_utf8_lossy(&taken.stderr)
    );
    assert!(during > 0, "the load went on while the backup was taken");
    eprintln!(
        "backup under load: {took:?}, {} acknowledged before, {during} during; {}",
        before.len(),
        String::from_utf8_lossy(&taken.stdout).trim()
    );

    let restored = scratch("restored");
    let restore = || {
        common::onewindow()
            .args(["restore", "--from"])
            .arg(&backup)
            .arg("--data")
            .arg(&restored)
            .output()
            .expect("onewindow runs")
    };
    let output = restore();
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && said.contains("audit chain intact"),
        "{said}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!restore().status.success(), "never over a database");

    let copy = Store::open(onewindow::store::Options {
        url: format!(
            "sqlite://{}?mode=rw",
            restored.join("onewindow.db").display()
        ),
        workflows: common::workflows(),
        calendar: common::calendar(),
        blob_dir: restored.join("blobs"),
        max_upload: 1 << 20,
    })
    .await
    .unwrap();
    for id in &before {
        copy.filing(id)
            .await
            .unwrap_or_else(|e| panic!("{id} acknowledged before the backup, missing: {e}"));
    }
    assert_eq!(copy.blobs.get(&stored.sha256).unwrap(), material);
    assert!(copy.verify_audit().await.unwrap().is_intact());
}
