//! The `onewindow` command line. `main.rs` only calls [`main`].

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::dsl;
use crate::project::{self, Paths};

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

#[derive(Subcommand)]
enum Command {
    /// Check workflow definitions; exit 1 with diagnostics when any is wrong.
    Check {
        /// `.flow` files or folders (default: workflows/).
        paths: Vec<PathBuf>,
        #[arg(long, default_value = "templates")]
        templates: PathBuf,
    },
    /// Print the one-time notice (一次性告知) of a workflow, in Chinese.
    Notice {
        workflow: String,
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
    /// Measure and print figures.
    Bench {
        #[command(subcommand)]
        what: BenchCommand,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Time to check workflows/ and throughput on a generated 1 MB definition.
    Dsl {
        /// End with one JSON object of the figures on the last line.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        definitions: DefinitionArgs,
    },
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
    match run(cli.command) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

fn run(command: Command) -> Result<ExitCode, String> {
    match command {
        Command::Check { paths, templates } => {
            let flows = if paths.is_empty() {
                Paths::default().flows
            } else {
                paths
            };
            let loaded = project::load(&Paths { flows, templates }).map_err(|e| e.to_string())?;
            eprint!("{}", loaded.render_diagnostics());
            let errors = loaded
                .checked
                .diagnostics
                .iter()
                .filter(|d| d.severity == dsl::Severity::Error)
                .count();
            if errors > 0 {
                eprintln!("{errors} error(s)");
                return Ok(ExitCode::FAILURE);
            }
            println!("ok: {} workflow(s) checked", loaded.checked.workflows.len());
            Ok(ExitCode::SUCCESS)
        }
        Command::Notice {
            workflow,
            definitions,
        } => {
            let loaded = load_clean(&definitions)?;
            let workflow = find(&loaded, &workflow)?;
            print!("{}", dsl::notice::one_time_notice(workflow));
            Ok(ExitCode::SUCCESS)
        }
        Command::Graph {
            workflow,
            format,
            output,
            definitions,
        } => {
            let loaded = load_clean(&definitions)?;
            let workflow = find(&loaded, &workflow)?;
            let bytes = match format {
                GraphFormat::Dot => dsl::graph::dot(workflow).into_bytes(),
                GraphFormat::Mermaid => dsl::graph::mermaid(workflow).into_bytes(),
                GraphFormat::Svg => dsl::graph::svg(workflow).map_err(|e| e.to_string())?,
            };
            match output {
                Some(path) => {
                    std::fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?
                }
                None => {
                    use std::io::Write as _;
                    std::io::stdout()
                        .write_all(&bytes)
                        .map_err(|e| e.to_string())?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Simulate {
            workflow,
            start,
            answers,
            calendars,
            region,
            definitions,
        } => {
            let loaded = load_clean(&definitions)?;
            let workflow = find(&loaded, &workflow)?;
            let calendar =
                crate::calendar::Calendar::load(&calendars, &region).map_err(|e| e.to_string())?;
            let path = answers.unwrap_or_else(|| {
                definitions
                    .workflows
                    .first()
                    .map_or_else(|| PathBuf::from("workflows"), PathBuf::clone)
                    .join("samples")
                    .join(format!("{}.json", workflow.id))
            });
            let text =
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let answers: crate::engine::simulate::Answers =
                serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            let report = crate::engine::simulate::simulate(workflow, &calendar, start, &answers)
                .map_err(|e| e.to_string())?;
            print!("{report}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            what: BenchCommand::Dsl { json, definitions },
        } => {
            let input = project::read(&definitions.paths()).map_err(|e| e.to_string())?;
            crate::bench::dsl(&input, json).map_err(|e| e.to_string())?;
            Ok(ExitCode::SUCCESS)
        }
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
