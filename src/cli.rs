//! The `onewindow` command line. `main.rs` only calls [`main`].

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::app::worker::{MailConfig, Worker, WorkerPlan};
use crate::app::{Access, App, AppError, Clock, Config};
use crate::dsl;
use crate::project::{self, Paths};

/// What a command returns: an exit code, or an error printed as `error: …`.
type Outcome = Result<ExitCode, Box<dyn std::error::Error>>;

#[derive(Parser)]
#[command(
    name = "onewindow",
    version,
    about = "The engine behind the one window for combined medical-and-eldercare institutions"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
struct DefinitionArgs {
    /// Folder of typst templates whose `//!` headers declare their inputs.
    #[arg(long, default_value = "templates")]
    templates: PathBuf,
    /// `.flow` files or folders of them.
    #[arg(long = "workflows", default_value = "workflows")]
    workflows: Vec<PathBuf>,
}

impl DefinitionArgs {
    fn paths(&self) -> Paths {
        Paths {
            flows: self.workflows.clone(),
            templates: self.templates.clone(),
        }
    }
}

/// Where a command's time comes from.
#[derive(clap::Args, Clone)]
struct ClockArgs {
    /// The time to start at, in China's local time (e.g. 2026-12-31T16:30);
    /// the clock runs on from there. Without it, the wall clock. For trying
    /// the product on the days that matter.
    #[arg(long, env = "ONEWINDOW_NOW")]
    now: Option<jiff::civil::DateTime>,
}

impl ClockArgs {
    fn clock(&self) -> Clock {
        self.now.map_or_else(Clock::system, Clock::starting_at)
    }
}

/// How the product's mail goes out (the worker's and `serve`'s).
#[derive(clap::Args)]
struct MailArgs {
    /// SMTP server: smtp://host:port, ?tls=required for STARTTLS, smtps:// for
    /// implicit TLS, user:pass@ for credentials. Without it, mail is
    /// written as .eml files under DATA/mail.
    #[arg(long, env = "ONEWINDOW_SMTP")]
    smtp: Option<String>,
    /// The sender of the product's mail.
    #[arg(
        long,
        env = "ONEWINDOW_MAIL_FROM",
        default_value = "一窗受理平台 <noreply@onewindow.example.cn>"
    )]
    from: String,
}

impl MailArgs {
    fn config(self, store: &StoreArgs) -> MailConfig {
        MailConfig {
            smtp: self.smtp,
            eml_dir: store.data.join("mail"),
            from: self.from,
            templates: store.definitions.templates.join("mail"),
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Check workflow definitions; exit 1 with diagnostics when any is wrong.
    Check {
        /// `.flow` files or folders (default: workflows/).
        paths: Vec<PathBuf>,
        #[arg(long, default_value = "templates")]
        templates: PathBuf,
    },
    /// Export a workflow for other tools.
    Export {
        #[command(subcommand)]
        what: ExportCommand,
    },
    /// Say in Chinese what changed between two versions of a definition:
    /// steps, departments, order, limits, materials, form, rules, documents.
    ///
    /// With --from, compare versions a running product keeps instead:
    /// `diff WORKFLOW --from N [--to M] --data DIR` also names the filings
    /// still in progress on version N and the newer version's 变更说明.
    Diff {
        /// The earlier `.flow` file; with --from, the workflow's id.
        old: String,
        /// The later `.flow` file (not with --from).
        #[arg(required_unless_present = "from")]
        new: Option<PathBuf>,
        /// The earlier stored version.
        #[arg(long)]
        from: Option<u32>,
        /// The later stored version (default: the one in service).
        #[arg(long, requires = "from")]
        to: Option<u32>,
        /// The departments both versions name (read with each).
        #[arg(long, default_value = "workflows/departments.flow")]
        departments: PathBuf,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Print the one-time notice (一次性告知) of a workflow, in Chinese, or
    /// typeset it to PDF with --pdf.
    Notice {
        workflow: String,
        /// Write the notice as a PDF here instead of printing it.
        #[arg(long)]
        pdf: Option<PathBuf>,
        /// The notice's date (default: today).
        #[arg(long)]
        date: Option<jiff::civil::Date>,
        #[command(flatten)]
        clock: ClockArgs,
        #[command(flatten)]
        definitions: DefinitionArgs,
    },
    /// Draw a workflow's routing as Graphviz DOT, SVG (through `dot`) or Mermaid.
    Graph {
        workflow: String,
        #[arg(long, value_enum, default_value = "dot")]
        format: GraphFormat,
        /// Write here instead of standard output.
        #[arg(short, long)]
        output: Option<PathBuf>,
        #[command(flatten)]
        definitions: DefinitionArgs,
    },
    /// Run a sample filing through the engine and print its due dates.
    Simulate {
        workflow: String,
        /// The day the sample is submitted (YYYY-MM-DD).
        #[arg(long)]
        start: jiff::civil::Date,
        /// Sample answers (JSON); default: workflows/samples/WORKFLOW.json.
        #[arg(long)]
        answers: Option<PathBuf>,
        /// Folder of working-day calendars.
        #[arg(long, default_value = "calendars")]
        calendars: PathBuf,
        /// Calendar region laid over the national one.
        #[arg(long, default_value = "cn")]
        region: String,
        #[command(flatten)]
        definitions: DefinitionArgs,
    },
    /// Typeset a template with data to PDF, or a folder of data files.
    Render {
        /// The template's name, e.g. medical_license.
        template: String,
        /// A JSON file of the template's fields, or a folder of them with --out a folder.
        #[arg(long)]
        data: PathBuf,
        /// The PDF to write, or the folder for a batch.
        #[arg(short, long)]
        out: PathBuf,
        #[arg(long, default_value = "templates")]
        templates: PathBuf,
        #[command(flatten)]
        clock: ClockArgs,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        what: AuditCommand,
    },
    /// Back up the embedded database (a consistent copy taken while
    /// writes go on), the uploaded files and a manifest into a new folder.
    Backup {
        #[command(flatten)]
        store: StoreArgs,
        /// The backup's folder (new or empty).
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Restore a backup into a data folder without a database, then verify
    /// that the audit chain is intact and ends where the backup's did.
    Restore {
        /// The backup's folder.
        #[arg(long)]
        from: PathBuf,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Fire due timers (deemed acceptance, warnings, overdue), once or continuously.
    Worker {
        #[command(flatten)]
        store: StoreArgs,
        /// Run one pass and stop.
        #[arg(long)]
        once: bool,
        /// This worker's name, recorded on the timers and outbox rows it
        /// leases (default: `worker@HOST:PID`, each process its own).
        #[arg(long)]
        name: Option<String>,
        /// Timers claimed at a time.
        #[arg(long, default_value_t = 100)]
        batch: i64,
        #[command(flatten)]
        mail: MailArgs,
    },
    /// Serve the web application (today the public's pages: procedures,
    /// one-time notices, document verification) until SIGINT or SIGTERM.
    Serve {
        #[command(flatten)]
        store: StoreArgs,
        /// The address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080", env = "ONEWINDOW_ADDR")]
        addr: std::net::SocketAddr,
        /// Do not run the worker (timers, documents, mail) in this process;
        /// run `onewindow worker` beside it instead.
        #[arg(long)]
        no_worker: bool,
        #[command(flatten)]
        mail: MailArgs,
    },
    /// The registry: `registry import FILE` loads what the city's systems
    /// know of its institutions (a JSON array of {credit_code, name,
    /// opened_on, facts}), every record checked before any is written.
    Registry {
        #[command(subcommand)]
        what: RegistryCommand,
    },
    /// Accounts: `user add` opens a staff account (or an applicant's),
    /// `user token` gives an account a bearer token for the JSON API.
    User {
        #[command(subcommand)]
        what: UserCommand,
    },
    /// Check a document's number and verification code, as the public page does.
    Verify {
        /// The number printed on the document (empty for unnumbered ones).
        number: String,
        /// The verification code printed next to the QR code.
        code: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Drive sample filings through the store from submission to decision.
    Load {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long, default_value = "new_combined")]
        workflow: String,
        #[arg(long, default_value_t = 10)]
        filings: usize,
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        #[arg(long, default_value = "2026-03-02")]
        start: jiff::civil::Date,
        /// Filing ids are PREFIX000000, PREFIX000001, …
        #[arg(long, default_value = "F")]
        prefix: String,
        /// Print `ack FILING REVISION` after each durable commit.
        #[arg(long)]
        acks: bool,
    },
    /// Measure and print figures.
    Bench {
        #[command(subcommand)]
        what: BenchCommand,
    },
}

/// The public address of commands that serve nothing themselves.
const DEFAULT_BASE_URL: &str = "http://localhost:8080";

/// Where the store is.
#[derive(clap::Args, Clone)]
struct StoreArgs {
    /// sqlite:PATH or postgres://… (default: a SQLite file in the data directory).
    #[arg(long, env = "ONEWINDOW_DATABASE")]
    database: Option<String>,
    /// The data directory: the default database and uploaded materials.
    #[arg(long, default_value = "data")]
    data: PathBuf,
    #[arg(long, default_value = "calendars")]
    calendars: PathBuf,
    #[arg(long, default_value = "cn")]
    region: String,
    /// The public address of the web application, in every link of mail,
    /// QR code and page, e.g. https://yiyang.maoming.gov.cn (default:
    /// where `serve` listens; for other commands http://localhost:8080).
    #[arg(long, env = "ONEWINDOW_BASE_URL")]
    base_url: Option<String>,
    #[command(flatten)]
    clock: ClockArgs,
    #[command(flatten)]
    definitions: DefinitionArgs,
}

impl StoreArgs {
    fn config(&self, access: Access) -> Config {
        Config {
            database: self.database.clone(),
            data: self.data.clone(),
            paths: self.definitions.paths(),
            calendars: self.calendars.clone(),
            region: self.region.clone(),
            base_url: self
                .base_url
                .clone()
                .unwrap_or_else(|| DEFAULT_BASE_URL.to_string()),
            max_upload: crate::app::DEFAULT_MAX_UPLOAD,
            access,
            clock: self.clock.clock(),
        }
    }

    /// Opens the product: only the commands meant to create a database may.
    async fn open(&self, access: Access) -> Result<App, AppError> {
        App::open(self.config(access)).await
    }
}

#[derive(Subcommand)]
enum RegistryCommand {
    /// Record institutions from a JSON file, replacing earlier records of
    /// the same credit code.
    Import {
        file: PathBuf,
        /// The system the records come from, kept with each.
        #[arg(long, default_value = "导入")]
        source: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Open an account; the password is read from ONEWINDOW_PASSWORD, or
    /// made up and printed once.
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// applicant, window, reviewer, head, policy or admin.
        #[arg(long)]
        role: String,
        /// The department of a window clerk, reviewer or head (its id).
        #[arg(long)]
        department: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Print a new bearer token for an account's use of the JSON API.
    Token {
        #[arg(long)]
        email: String,
        /// What the token is for (e.g. the integrating system's name).
        #[arg(long, default_value = "api")]
        label: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Recompute the hash chain; exit 1 when an entry was edited or removed.
    Verify {
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Drain a backlog of notifications to a local SMTP server: messages/s.
    Mail {
        #[arg(long, default_value_t = 10_000)]
        messages: usize,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        definitions: DefinitionArgs,
    },
    /// Typeset the permit again and again: cold start, warm latency, documents/s.
    Render {
        #[arg(long, default_value_t = 500)]
        documents: usize,
        #[arg(long)]
        json: bool,
        #[arg(long, default_value = "templates")]
        templates: PathBuf,
    },
    /// End-to-end filings per second through the store, with latencies.
    Engine {
        #[arg(long, value_enum, default_value = "sqlite")]
        backend: BackendChoice,
        /// A PostgreSQL URL for `--backend postgres`; without one a throwaway
        /// server is started with scripts/postgres.sh.
        #[arg(long)]
        database: Option<String>,
        #[arg(long, default_value_t = 5000)]
        filings: usize,
        /// Filings in flight at once; the committer groups their transitions.
        #[arg(long, default_value_t = 256)]
        concurrency: usize,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        definitions: DefinitionArgs,
    },
    /// A department's first page of open work by due date, on a store of
    /// many filings: p50 and p99 of the query.
    Queue {
        #[arg(long, default_value_t = 100_000)]
        filings: usize,
        #[arg(long, default_value_t = 500)]
        queries: usize,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        definitions: DefinitionArgs,
    },
    /// The web application over loopback: submissions per second through
    /// the JSON API at N connections (SQLite, durable), p50/p99; then a
    /// reviewer's inbox page with 1,000 open steps, p50/p99.
    Http {
        #[arg(long, default_value_t = 20_000)]
        submissions: usize,
        #[arg(long, default_value_t = 64)]
        connections: usize,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        definitions: DefinitionArgs,
    },
    /// Time to check workflows/ and throughput on a generated 1 MB definition.
    Dsl {
        /// End with one JSON object of the figures on the last line.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        definitions: DefinitionArgs,
    },
}

#[derive(Subcommand)]
enum ExportCommand {
    /// BPMN 2.0 XML: a lane per department, user tasks, parallel gateways,
    /// conditional flows with their conditions as text.
    Bpmn {
        workflow: String,
        /// Write here instead of standard output.
        #[arg(short, long)]
        output: Option<PathBuf>,
        #[command(flatten)]
        definitions: DefinitionArgs,
    },
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum BackendChoice {
    Sqlite,
    Postgres,
}

#[derive(Clone, Copy, ValueEnum)]
enum GraphFormat {
    Dot,
    Svg,
    Mermaid,
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.command);
    match run(cli.command) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

/// Logs go to standard error: warnings by default, the worker's progress
/// too; `ONEWINDOW_LOG` (e.g. `onewindow=debug`) chooses.
fn init_logging(command: &Command) {
    let default = match command {
        Command::Worker { .. } | Command::Serve { .. } => "onewindow=info",
        _ => "onewindow=warn",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("ONEWINDOW_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    use std::io::IsTerminal as _;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

fn run(command: Command) -> Outcome {
    match command {
        Command::Check { paths, templates } => check(paths, templates),
        Command::Export {
            what:
                ExportCommand::Bpmn {
                    workflow,
                    output,
                    definitions,
                },
        } => {
            let loaded = load_clean(&definitions)?;
            let xml = dsl::bpmn::export(find(&loaded, &workflow)?);
            match output {
                Some(path) => std::fs::write(&path, xml)
                    .map_err(|error| format!("{}: {error}", path.display()))?,
                None => print!("{xml}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Diff {
            old,
            new,
            from: Some(from),
            to,
            store,
            ..
        } => {
            if new.is_some() {
                return Err("compare two files, or stored versions with --from; not both".into());
            }
            diff_stored(&store, &old, from, to)
        }
        Command::Diff {
            old,
            new,
            departments,
            store,
            ..
        } => diff(
            Path::new(&old),
            &new.unwrap_or_default(),
            &Paths {
                flows: vec![departments],
                templates: store.definitions.templates.clone(),
            },
        ),
        Command::Serve {
            store,
            addr,
            no_worker,
            mail,
        } => {
            let mail = (!no_worker).then(|| mail.config(&store));
            serve(&store, addr, mail)
        }
        Command::Notice {
            workflow,
            pdf,
            date,
            clock,
            definitions,
        } => notice(
            &workflow,
            pdf,
            date.unwrap_or_else(|| clock.clock().today()),
            &definitions,
        ),
        Command::Graph {
            workflow,
            format,
            output,
            definitions,
        } => graph(&workflow, format, output, &definitions),
        Command::Simulate {
            workflow,
            start,
            answers,
            calendars,
            region,
            definitions,
        } => simulate(&workflow, start, answers, &calendars, &region, &definitions),
        Command::Render {
            template,
            data,
            out,
            templates,
            clock,
        } => {
            render(&template, &data, &out, &templates, clock.clock().today())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::User { what } => user(what),
        Command::Registry {
            what:
                RegistryCommand::Import {
                    file,
                    source,
                    store,
                },
        } => registry_import(&file, &source, &store),
        Command::Audit {
            what: AuditCommand::Verify { store },
        } => audit_verify(&store),
        Command::Backup { store, output } => backup(&store, &output),
        Command::Restore { from, store } => restore(&from, &store),
        Command::Worker {
            store,
            once,
            name,
            batch,
            mail,
        } => {
            let mail = mail.config(&store);
            let name = name.unwrap_or_else(|| process_name("worker"));
            let plan = WorkerPlan { name, once, batch };
            worker(&store, &mail, &plan)
        }
        Command::Verify {
            number,
            code,
            store,
        } => verify(&number, &code, &store),
        Command::Load {
            store,
            workflow,
            filings,
            concurrency,
            start,
            prefix,
            acks,
        } => {
            let answers = project::read_answers(&project::sample_path(
                &store.definitions.paths(),
                &workflow,
            ))?;
            let plan = crate::bench::load::LoadPlan {
                workflow,
                answers,
                prefix,
                filings,
                concurrency,
                start,
                print_acks: acks,
            };
            load(&store, &plan)
        }
        Command::Bench { what } => bench(what),
    }
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
}

fn check(paths: Vec<PathBuf>, templates: PathBuf) -> Outcome {
    let flows = if paths.is_empty() {
        Paths::default().flows
    } else {
        paths
    };
    let loaded = project::load(&Paths { flows, templates }).map_err(|error| {
        format!("{error}; name the files to check, and --templates when not run from the project folder")
    })?;
    eprint!("{}", loaded.render_diagnostics());
    let errors = loaded
        .checked
        .diagnostics
        .iter()
        .filter(|d| d.severity == dsl::Severity::Error)
        .count();
    if errors > 0 {
        eprintln!("发现{errors}个错误");
        return Ok(ExitCode::FAILURE);
    }
    println!("检查通过：共{}个事项", loaded.checked.workflows.len());
    Ok(ExitCode::SUCCESS)
}

/// `shared`: the departments' file and the templates, read with each version.
fn diff(old: &Path, new: &Path, shared: &Paths) -> Outcome {
    let one = |path: &Path| -> Result<dsl::Workflow, String> {
        let mut flows = shared.flows.clone();
        flows.push(path.to_path_buf());
        let loaded = project::load(&Paths {
            flows,
            templates: shared.templates.clone(),
        })
        .map_err(|error| {
            format!(
                "{error}; pass --departments and --templates when not run from the project folder"
            )
        })?;
        if loaded.checked.has_errors() {
            return Err(format!(
                "{} has errors; only checked definitions are compared\n{}",
                path.display(),
                loaded.render_diagnostics()
            ));
        }
        match loaded.checked.workflows.as_slice() {
            [workflow] => Ok(workflow.clone()),
            found => Err(format!(
                "{} defines {} workflows; compare one file of one workflow with another",
                path.display(),
                found.len()
            )),
        }
    };
    let (old, new) = (one(old)?, one(new)?);
    if old.id != new.id {
        eprintln!(
            "note: comparing two different workflows (`{}` and `{}`)",
            old.id, new.id
        );
    }
    let changes = dsl::diff::diff(&old, &new);
    print!("{}", dsl::diff::render(&old, &new, &changes));
    Ok(ExitCode::SUCCESS)
}

/// Two stored versions of a workflow compared, with the filings still in
/// progress on the earlier one, as the policy staff's compare page shows.
fn diff_stored(store: &StoreArgs, id: &str, from: u32, to: Option<u32>) -> Outcome {
    runtime()?.block_on(async {
        let app = store.open(Access::ExistingOnly).await?;
        let to = match to {
            Some(to) => to,
            None => app.workflow(id)?.version,
        };
        let comparison = app.compare_versions(id, from, to).await?;
        let (old, new) = (
            app.workflow_version(id, from)?,
            app.workflow_version(id, to)?,
        );
        print!("{}", dsl::diff::render(&old, &new, &comparison.changes));
        if let Some(reason) = &comparison.reason {
            println!("\n变更说明：{reason}");
        }
        if comparison.in_progress_filings.is_empty() {
            println!("\n没有按第{from}版在办的申请。");
        } else {
            println!(
                "\n按第{from}版在办的申请共 {} 件（仍按第{from}版办结）：",
                comparison.in_progress_total
            );
            for filing in &comparison.in_progress_filings {
                let day = |d: Option<jiff::civil::Date>| {
                    d.map_or_else(|| "—".to_string(), crate::calendar::chinese_date)
                };
                println!(
                    "  {}  {}  收件{}  承诺办结{}",
                    filing.id,
                    filing.status,
                    day(filing.received_on),
                    day(filing.promised_due)
                );
            }
        }
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    Ok(ExitCode::SUCCESS)
}

fn notice(
    id: &str,
    pdf: Option<PathBuf>,
    date: jiff::civil::Date,
    definitions: &DefinitionArgs,
) -> Outcome {
    let loaded = load_clean(definitions)?;
    let workflow = find(&loaded, id)?;
    let Some(path) = pdf else {
        print!("{}", dsl::notice::one_time_notice(workflow));
        return Ok(ExitCode::SUCCESS);
    };
    let renderer = crate::documents::Renderer::new(&definitions.templates)?;
    let data = dsl::notice::notice_data(workflow, date);
    let meta = crate::documents::Meta {
        ident: format!("{}-v{}", workflow.id, workflow.version),
        date,
    };
    let bytes = renderer.render("one_time_notice", &data, &meta)?;
    std::fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(ExitCode::SUCCESS)
}

fn graph(
    id: &str,
    format: GraphFormat,
    output: Option<PathBuf>,
    definitions: &DefinitionArgs,
) -> Outcome {
    let loaded = load_clean(definitions)?;
    let workflow = find(&loaded, id)?;
    let bytes = match format {
        GraphFormat::Dot => dsl::graph::dot(workflow).into_bytes(),
        GraphFormat::Mermaid => dsl::graph::mermaid(workflow).into_bytes(),
        GraphFormat::Svg => project::graphviz_svg(&dsl::graph::dot(workflow))?,
    };
    match output {
        Some(path) => {
            std::fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?
        }
        None => {
            use std::io::Write as _;
            std::io::stdout().write_all(&bytes)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn simulate(
    id: &str,
    start: jiff::civil::Date,
    answers: Option<PathBuf>,
    calendars: &std::path::Path,
    region: &str,
    definitions: &DefinitionArgs,
) -> Outcome {
    let loaded = load_clean(definitions)?;
    let workflow = find(&loaded, id)?;
    let calendar = crate::calendar::Calendar::load(calendars, region)?;
    let path = answers.unwrap_or_else(|| project::sample_path(&definitions.paths(), &workflow.id));
    let answers = project::read_answers(&path)?;
    let report = crate::engine::simulate::simulate(workflow, &calendar, start, &answers)?;
    print!("{report}");
    Ok(ExitCode::SUCCESS)
}

fn backup(store: &StoreArgs, output: &Path) -> Outcome {
    let started = std::time::Instant::now();
    let manifest = runtime()?
        .block_on(async { store.open(Access::ExistingOnly).await?.backup(output).await })?;
    println!(
        "backup in {}: the database to audit entry {}, {} uploaded files ({:.1} s)",
        output.display(),
        manifest.audit_seq,
        manifest.blobs,
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

fn restore(from: &Path, store: &StoreArgs) -> Outcome {
    if store.database.is_some() {
        return Err("a backup restores the embedded database of --data; PostgreSQL restores with pg_restore (docs/operations.md)".into());
    }
    let manifest = crate::app::backup::restore(from, &store.data)?;
    let (verification, head) = runtime()?.block_on(async {
        let app = store.open(Access::ExistingOnly).await?;
        Ok::<_, crate::app::AppError>((app.verify_audit().await?, app.audit_head().await?))
    })?;
    if !verification.is_intact() || head != (manifest.audit_seq, manifest.audit_hash.clone()) {
        for problem in &verification.problems {
            println!("audit chain broken: {problem}");
        }
        println!(
            "restored, but the audit chain ends at {} where the backup's ended at {}",
            head.0, manifest.audit_seq
        );
        return Ok(ExitCode::FAILURE);
    }
    println!(
        "restored into {}: audit chain intact, {} entries, ending where the backup's did; {} uploaded files",
        store.data.display(),
        verification.entries,
        manifest.blobs
    );
    Ok(ExitCode::SUCCESS)
}

fn audit_verify(store: &StoreArgs) -> Outcome {
    let verification = runtime()?
        .block_on(async { store.open(Access::ExistingOnly).await?.verify_audit().await })?;
    if verification.is_intact() {
        println!("audit chain intact: {} entries", verification.entries);
        return Ok(ExitCode::SUCCESS);
    }
    for problem in &verification.problems {
        println!("audit chain broken: {problem}");
    }
    Ok(ExitCode::FAILURE)
}

fn worker(store: &StoreArgs, mail: &MailConfig, plan: &WorkerPlan) -> Outcome {
    let totals = runtime()?.block_on(async {
        let app = store.open(Access::ExistingOnly).await?;
        let worker = Worker::new(&app, mail).await?;
        worker.run(&app, plan).await
    })?;
    let (timers, rendered, mail) = (totals.timers, totals.rendered, totals.mail);
    println!(
        "{}: claimed {} timers, fired {}, no longer due {}, already fired {}; rendered {} documents, {} failed; \
         mailed {}, {} to retry, {} failed",
        plan.name,
        timers.claimed,
        timers.fired,
        timers.no_longer_due,
        timers.already_fired,
        rendered.rendered,
        rendered.failed,
        mail.sent,
        mail.retried,
        mail.failed
    );
    Ok(ExitCode::SUCCESS)
}

/// Serves the web application; the worker runs beside it in the same
/// process unless `mail` is `None` (`--no-worker`).
fn serve(store: &StoreArgs, addr: std::net::SocketAddr, mail: Option<MailConfig>) -> Outcome {
    let mut store = store.clone();
    let links = match &store.base_url {
        Some(base) => crate::links::Links::new(base),
        None => crate::links::Links::listening_on(addr),
    };
    store.base_url = Some(links.base().to_string());
    if mail.is_some() && links.is_loopback() {
        let warning = format!(
            "警告：邮件和二维码中的链接是 {}，只有本机能打开。请用 --base-url 或 ONEWINDOW_BASE_URL 设置公众访问的地址，例如 https://yiyang.maoming.gov.cn",
            links.base()
        );
        eprintln!("{warning}");
        tracing::warn!(
            base_url = links.base(),
            "links in mail point at a loopback address"
        );
    }
    runtime()?.block_on(async {
        let app = std::sync::Arc::new(store.open(Access::CreateIfMissing).await?);
        if let Some((accounts, filings)) = app.seed_samples(app.now()).await? {
            print_samples(&accounts, &filings);
        }
        // A year's holidays added by hand while stopped: open filings
        // are scheduled again on them.
        app.apply_calendar_changes(app.now()).await?;
        if let Some(mail) = mail {
            let worker = Worker::new(&app, &mail).await?;
            let app = app.clone();
            let plan = WorkerPlan {
                name: process_name("serve"),
                once: false,
                batch: 100,
            };
            tokio::spawn(async move {
                if let Err(error) = worker.run(&app, &plan).await {
                    tracing::error!(%error, "the worker stopped");
                }
            });
        }
        println!(
            "serving on http://{addr}, links to {} (stop with Ctrl-C)",
            links.base()
        );
        crate::web::serve(app, addr).await?;
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// The sample accounts, with their passwords: printed this once only.
fn print_samples(
    accounts: &[crate::app::samples::SampleAccount],
    filings: &[crate::app::samples::SampleFiling],
) {
    println!("first start: sample accounts (the passwords are shown this once only)");
    for account in accounts {
        println!(
            "  {:<8} {:<34} {}  {}{}",
            account.role.name(),
            account.email,
            account.password,
            account.name,
            account
                .department
                .as_ref()
                .map_or_else(String::new, |d| format!(" [{d}]"))
        );
    }
    println!("sample filings of the applicant above:");
    for filing in filings {
        println!("  {}  {}", filing.id, filing.state);
    }
}

fn registry_import(file: &Path, source: &str, store: &StoreArgs) -> Outcome {
    let text =
        std::fs::read_to_string(file).map_err(|error| format!("{}: {error}", file.display()))?;
    let entries: Vec<crate::app::institutions::RegistryEntry> = serde_json::from_str(&text)
        .map_err(|error| format!("{}：不是登记记录的JSON数组（{error}）", file.display()))?;
    let imported = runtime()?.block_on(async {
        let app = store.open(Access::ExistingOnly).await?;
        app.import_registry(entries, source).await
    });
    match imported {
        Ok(count) => {
            println!("已登记 {count} 个机构（来源：{source}）");
            Ok(ExitCode::SUCCESS)
        }
        Err(AppError::Invalid(problems)) => {
            for problem in problems {
                eprintln!("error: {}", problem.message);
            }
            eprintln!("未登记任何机构：请改正以上问题后重新导入");
            Ok(ExitCode::FAILURE)
        }
        Err(other) => Err(other.into()),
    }
}

fn user(what: UserCommand) -> Outcome {
    match what {
        UserCommand::Add {
            email,
            name,
            role,
            department,
            store,
        } => {
            let Some(role) = crate::app::accounts::Role::parse(&role) else {
                eprintln!(
                    "no role `{role}`: use applicant, window, reviewer, head, policy or admin"
                );
                return Ok(ExitCode::FAILURE);
            };
            let (password, made_up) = match std::env::var("ONEWINDOW_PASSWORD") {
                Ok(password) if !password.is_empty() => (password, false),
                _ => (crate::app::accounts::random_token()[..16].to_string(), true),
            };
            let account = crate::app::accounts::NewAccount {
                email,
                name,
                role,
                department,
                password: password.clone(),
            };
            let created = runtime()?.block_on(async {
                let app = store.open(Access::CreateIfMissing).await?;
                app.add_account(account, "cli", app.now()).await
            });
            match created {
                Ok(account) => {
                    println!(
                        "account {} ({}) created",
                        account.email,
                        account.role.chinese()
                    );
                    if made_up {
                        println!("password (shown this once): {password}");
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(AppError::Invalid(problems)) => {
                    for problem in problems {
                        eprintln!("error: {}", problem.message);
                    }
                    Ok(ExitCode::FAILURE)
                }
                Err(other) => Err(other.into()),
            }
        }
        UserCommand::Token {
            email,
            label,
            store,
        } => {
            let token = runtime()?.block_on(async {
                let app = store.open(Access::ExistingOnly).await?;
                app.issue_api_token(&email, &label, app.now()).await
            })?;
            println!("{token}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn verify(number: &str, code: &str, store: &StoreArgs) -> Outcome {
    let verified = runtime()?.block_on(async {
        store
            .open(Access::ExistingOnly)
            .await?
            .verify(number, code)
            .await
    })?;
    let Some(document) = verified else {
        println!("not found: no document has this number and code");
        return Ok(ExitCode::FAILURE);
    };
    println!(
        "genuine: {} {}",
        document.title,
        document.number.unwrap_or_default()
    );
    println!(
        "  issued by {} on {}",
        document.department, document.issued_on
    );
    println!("  holder {}", document.holder);
    println!("  SHA-256 of the PDF {}", document.sha256);
    Ok(ExitCode::SUCCESS)
}

fn load(store: &StoreArgs, plan: &crate::bench::load::LoadPlan) -> Outcome {
    let runs = runtime()?.block_on(async {
        let app = store.open(Access::CreateIfMissing).await?;
        crate::bench::load::load(app.store(), plan)
            .await
            .map_err(Box::<dyn std::error::Error>::from)
    })?;
    let transitions: usize = runs.iter().map(|run| run.transitions).sum();
    eprintln!(
        "{} filings driven to decision, {transitions} transitions",
        runs.len()
    );
    Ok(ExitCode::SUCCESS)
}

fn bench(what: BenchCommand) -> Outcome {
    match what {
        BenchCommand::Mail {
            messages,
            json,
            definitions,
        } => {
            let loaded = load_clean(&definitions)?;
            let figures = runtime()?.block_on(crate::bench::mail(
                &definitions.templates,
                loaded.checked.workflows.clone(),
                messages,
            ))?;
            println!(
                "mail: {} messages drained in {:.2} s, {:.0} messages/s (the server received {}); peak memory {:.0} MiB",
                figures.messages, figures.drain_seconds, figures.messages_per_second, figures.received, figures.peak_rss_mb
            );
            print_json(json, &figures)?;
        }
        BenchCommand::Render {
            documents,
            json,
            templates,
        } => {
            let figures = crate::bench::render(&templates, documents)?;
            println!(
                "{}: cold start {:.0} ms (first document {:.0} ms); warm p50 {:.2} ms, p99 {:.2} ms",
                figures.template, figures.cold_start_ms, figures.first_document_ms, figures.warm_p50_ms, figures.warm_p99_ms
            );
            println!(
                "  {:.0} documents/s on one thread, {:.0} on two; {} bytes each; peak memory {:.0} MiB",
                figures.documents_per_second_1_thread, figures.documents_per_second_2_threads, figures.pdf_bytes, figures.peak_rss_mb
            );
            print_json(json, &figures)?;
        }
        BenchCommand::Engine {
            backend,
            database,
            filings,
            concurrency,
            json,
            definitions,
        } => bench_engine(backend, database, filings, concurrency, json, &definitions)?,
        BenchCommand::Http {
            submissions,
            connections,
            json,
            definitions,
        } => {
            let figures = runtime()?.block_on(crate::bench::http::http(
                definitions.paths(),
                submissions,
                connections,
            ))?;
            println!(
                "http: {} submissions through the JSON API at {} connections in {:.2} s: {:.0} submissions/s, p50 {:.2} ms, p99 {:.2} ms",
                figures.submissions, figures.connections, figures.seconds, figures.submissions_per_second, figures.submit_p50_ms, figures.submit_p99_ms
            );
            println!(
                "  reviewer inbox page with {} open steps: p50 {:.2} ms, p99 {:.2} ms over {} requests",
                figures.inbox_open_steps, figures.inbox_p50_ms, figures.inbox_p99_ms, figures.inbox_requests
            );
            print_json(json, &figures)?;
        }
        BenchCommand::Queue {
            filings,
            queries,
            json,
            definitions,
        } => {
            let input = project::read(&definitions.paths())?;
            let figures = runtime()?.block_on(crate::bench::queue(&input, filings, queries))?;
            println!(
                "queue: {} filings ({} open steps) loaded in {:.1} s; first page of {} by due date: p50 {:.2} ms, p99 {:.2} ms over {} queries",
                figures.filings, figures.open_steps, figures.load_seconds, figures.page, figures.p50_ms, figures.p99_ms, figures.queries
            );
            print_json(json, &figures)?;
        }
        BenchCommand::Dsl { json, definitions } => {
            let input = project::read(&definitions.paths())?;
            crate::bench::dsl(&input, json)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_json(json: bool, figures: &impl serde::Serialize) -> Result<(), serde_json::Error> {
    if json {
        println!("{}", serde_json::to_string(figures)?);
    }
    Ok(())
}

/// Runs `bench engine`; starts a throwaway PostgreSQL when asked for one without a URL.
fn bench_engine(
    backend: BackendChoice,
    database: Option<String>,
    filings: usize,
    concurrency: usize,
    json: bool,
    definitions: &DefinitionArgs,
) -> Result<(), Box<dyn std::error::Error>> {
    let scratch = std::env::temp_dir().join(format!("onewindow-bench-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    let mut throwaway = None;
    let url = match (backend, database) {
        (_, Some(url)) => url,
        (BackendChoice::Sqlite, None) => {
            format!("sqlite://{}?mode=rwc", scratch.join("bench.db").display())
        }
        (BackendChoice::Postgres, None) => {
            let dir = scratch.join("postgres");
            let output = std::process::Command::new("scripts/postgres.sh")
                .arg("start")
                .arg(&dir)
                .output()
                .map_err(|e| format!("scripts/postgres.sh: {e}"))?;
            if !output.status.success() {
                return Err(String::from_utf8_lossy(&output.stderr).into());
            }
            throwaway = Some(dir);
            String::from_utf8_lossy(&output.stdout).trim().to_string()
        }
    };
    let mut input = project::read(&definitions.paths())?;
    input
        .flows
        .push(("bench_permit.flow".into(), crate::bench::ENGINE_FLOW.into()));
    let loaded = dsl::load(&input);
    if loaded.checked.has_errors() {
        return Err(loaded.render_diagnostics().into());
    }
    let result = runtime()?.block_on(async {
        let store =
            crate::bench::scratch_store(&url, loaded.checked.workflows.clone(), &scratch).await?;
        let name = if backend == BackendChoice::Sqlite {
            "sqlite"
        } else {
            "postgres"
        };
        crate::bench::engine(&store, name, filings, concurrency).await
    });
    if let Some(dir) = throwaway {
        let _ = std::process::Command::new("scripts/postgres.sh")
            .arg("stop")
            .arg(&dir)
            .status();
    }
    let _ = std::fs::remove_dir_all(&scratch);
    let figures = result?;
    println!(
        "{}: {} filings ({} transitions) with {} at once in {:.2} s",
        figures.backend, figures.filings, figures.transitions, figures.concurrency, figures.seconds
    );
    println!(
        "  {:.0} filings/s, {:.0} transitions/s; latency p50 {:.2} ms, p99 {:.2} ms",
        figures.filings_per_second,
        figures.transitions_per_second,
        figures.latency_p50_ms,
        figures.latency_p99_ms
    );
    println!(
        "  {} durable commits, {:.1} transitions each; peak memory {:.0} MiB",
        figures.commits, figures.transitions_per_commit, figures.peak_rss_mb
    );
    print_json(json, &figures)?;
    Ok(())
}

/// `render`: one data file to one PDF, or a folder of data files to a folder
/// of PDFs with a progress bar. The document's identifier is its `number`
/// (else the file's name) and its date its `issued_on` (else today).
fn render(
    template: &str,
    data: &std::path::Path,
    out: &std::path::Path,
    templates: &std::path::Path,
    today: jiff::civil::Date,
) -> Result<(), String> {
    let renderer = crate::documents::Renderer::new(templates).map_err(|e| e.to_string())?;
    let one = |input: &std::path::Path, output: &std::path::Path| -> Result<(), String> {
        let text =
            std::fs::read_to_string(input).map_err(|e| format!("{}: {e}", input.display()))?;
        let fields: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", input.display()))?;
        let ident = fields
            .get("number")
            .and_then(|n| n.as_str())
            .map(str::to_string)
            .unwrap_or_else(|| {
                input
                    .file_stem()
                    .map_or_else(String::new, |s| s.to_string_lossy().to_string())
            });
        let date = fields
            .get("issued_on")
            .and_then(|d| d.as_str())
            .and_then(|d| d.parse().ok())
            .unwrap_or(today);
        let pdf = renderer
            .render(template, &fields, &crate::documents::Meta { ident, date })
            .map_err(|e| format!("{}: {e}", input.display()))?;
        std::fs::write(output, pdf).map_err(|e| format!("{}: {e}", output.display()))
    };
    if !data.is_dir() {
        return one(data, out);
    }
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(data)
        .map_err(|e| format!("{}: {e}", data.display()))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    inputs.sort();
    let bar = indicatif::ProgressBar::new(inputs.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}")
            .map_err(|e| e.to_string())?,
    );
    let mut failures = Vec::new();
    for input in &inputs {
        let output = out.join(input.with_extension("pdf").file_name().unwrap_or_default());
        bar.set_message(
            input
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .to_string(),
        );
        if let Err(error) = one(input, &output) {
            failures.push(error);
        }
        bar.inc(1);
    }
    bar.finish_with_message(format!(
        "{} rendered, {} failed",
        inputs.len() - failures.len(),
        failures.len()
    ));
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("\n"))
    }
}

/// Loads definitions that must be free of errors.
fn load_clean(definitions: &DefinitionArgs) -> Result<dsl::Loaded, String> {
    let loaded = project::load(&definitions.paths()).map_err(|e| e.to_string())?;
    if loaded.checked.has_errors() {
        return Err(format!(
            "the definitions have errors; run `onewindow check`\n{}",
            loaded.render_diagnostics()
        ));
    }
    Ok(loaded)
}

fn find<'l>(loaded: &'l dsl::Loaded, id: &str) -> Result<&'l dsl::Workflow, String> {
    loaded.workflow(id).ok_or_else(|| {
        let ids: Vec<&str> = loaded
            .checked
            .workflows
            .iter()
            .map(|w| w.id.as_str())
            .collect();
        format!(
            "unknown workflow `{id}`; the workflows are {}",
            ids.join(", ")
        )
    })
}

/// A process's name on what it leases: its role, host and process id
/// (`serve@web-2:4127`), so that the database tells who did what.
fn process_name(role: &str) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|host| host.trim().to_string())
        .filter(|host| !host.is_empty())
        .unwrap_or_else(|| "localhost".to_string());
    format!("{role}@{host}:{}", std::process::id())
}
