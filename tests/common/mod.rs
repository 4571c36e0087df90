//! Helpers shared by the store's test files: fresh databases on both
//! backends, and opening the store on the repository's definitions; the
//! days tests run on.
#![allow(dead_code)]

pub mod days;
#[allow(unused_imports)] // each test file uses its own part
pub use days::{Day, BREAKING_DAYS, ORDINARY_DAY};

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use onewindow::calendar::Calendar;
use onewindow::dsl::Workflow;
use onewindow::project::{self, Paths};
use onewindow::store::{Options, Store};
use sqlx::Executor as _;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub fn workflows() -> Vec<Workflow> {
    let loaded = project::load(&Paths {
        flows: vec![root().join("workflows")],
        templates: root().join("templates"),
    })
    .expect("definitions");
    loaded.checked.workflows
}

pub fn calendar() -> Calendar {
    Calendar::load(&root().join("calendars"), "cn").expect("calendars")
}

/// A fresh, empty database URL of each backend.
pub async fn fresh_databases() -> Vec<String> {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("onewindow-store-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let sqlite = format!("sqlite://{}?mode=rwc", dir.join("onewindow.db").display());
    let admin = std::env::var("ONEWINDOW_TEST_POSTGRES").expect(
        "ONEWINDOW_TEST_POSTGRES is not set: the PostgreSQL half of the store suite needs a server (./run test starts one)",
    );
    sqlx::any::install_default_drivers();
    let name = format!("onewindow_test_{}_{n}", std::process::id());
    let mut connection = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin)
        .await
        .expect("PostgreSQL reachable");
    connection
        .execute(format!("DROP DATABASE IF EXISTS {name}").as_str())
        .await
        .expect("drop");
    connection
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .expect("create");
    let postgres = match admin.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{name}"),
        None => panic!("ONEWINDOW_TEST_POSTGRES must end in /DATABASE"),
    };
    vec![sqlite, postgres]
}

pub async fn open(url: &str) -> Store {
    let blob_dir = std::env::temp_dir().join(format!("onewindow-blobs-{}", std::process::id()));
    Store::open(Options {
        url: url.to_string(),
        workflows: workflows(),
        calendar: calendar(),
        blob_dir,
        max_upload: 20 * 1024 * 1024,
    })
    .await
    .unwrap_or_else(|e| panic!("{url}: {e}"))
}

/// A fresh temporary directory.
pub fn scratch(name: &str) -> std::path::PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("onewindow-{name}-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// The product's configuration over a data folder, on the repository's
/// definitions and calendars.
pub fn app_config(
    data: &Path,
    base_url: &str,
    access: onewindow::app::Access,
) -> onewindow::app::Config {
    onewindow::app::Config {
        database: None,
        data: data.to_path_buf(),
        paths: Paths {
            flows: vec![root().join("workflows")],
            templates: root().join("templates"),
        },
        calendars: root().join("calendars"),
        region: "cn".into(),
        base_url: base_url.into(),
        max_upload: onewindow::app::DEFAULT_MAX_UPLOAD,
        access,
        clock: onewindow::app::Clock::fixed(ORDINARY_DAY),
    }
}

/// The `onewindow` binary as a test runs it: in the project folder, its
/// clock started on [`ORDINARY_DAY`] (`ONEWINDOW_NOW`; a `--now` given to
/// the command, or another `ONEWINDOW_NOW`, says another day). No test
/// runs the product on the wall clock.
pub fn onewindow() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_onewindow"));
    command
        .current_dir(root())
        .env("ONEWINDOW_NOW", ORDINARY_DAY.to_string());
    command
}

/// Node.js driving headless Chromium (web/a11y: Playwright and axe-core).
/// The browser is a visitor, not the product: it runs on the real clock
/// even when `./run test-days` preloads libfaketime into the test (under it
/// Chromium's timers crawl, and one run took over ten minutes); the product
/// it visits keeps the faked day.
pub fn node() -> std::process::Command {
    let mut command = std::process::Command::new("node");
    command.env_remove("LD_PRELOAD");
    command
}
