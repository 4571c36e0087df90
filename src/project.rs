//! Reading a project's definitions from disk: `.flow` files and the `//!`
//! headers of `templates/*.typ`. The only IO in front of [`crate::dsl`].

use std::io;
use std::path::{Path, PathBuf};

use crate::dsl;

/// Where definitions live. The defaults are the folders of this repository.
#[derive(Debug, Clone)]
pub struct Paths {
    /// Files or folders of `.flow` files.
    pub flows: Vec<PathBuf>,
    pub templates: PathBuf,
}

impl Default for Paths {
    fn default() -> Paths {
        Paths {
            flows: vec![PathBuf::from("workflows")],
            templates: PathBuf::from("templates"),
        }
    }
}

/// Reads every `.flow` under `paths.flows` and every `.typ` in `paths.templates`.
///
/// # Errors
/// A path that cannot be read, with the path named in the message.
pub fn read(paths: &Paths) -> io::Result<dsl::Input> {
    let mut input = dsl::Input::default();
    for path in &paths.flows {
        for file in files_with_extension(path, "flow")? {
            input.flows.push((display(&file), read_text(&file)?));
        }
    }
    for file in files_with_extension(&paths.templates, "typ")? {
        input.templates.push((display(&file), read_text(&file)?));
    }
    Ok(input)
}

/// Reads and checks in one go.
///
/// # Errors
/// As [`read`].
pub fn load(paths: &Paths) -> io::Result<dsl::Loaded> {
    Ok(dsl::load(&read(paths)?))
}

fn files_with_extension(path: &Path, extension: &str) -> io::Result<Vec<PathBuf>> {
    let metadata = std::fs::metadata(path).map_err(|error| with_path(error, path))?;
    if metadata.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).map_err(|error| with_path(error, path))? {
        let entry_path = entry.map_err(|error| with_path(error, path))?.path();
        if entry_path.is_dir() {
            files.extend(files_with_extension(&entry_path, extension)?);
        } else if entry_path.extension().is_some_and(|e| e == extension) {
            files.push(entry_path);
        }
    }
    files.sort();
    Ok(files)
}

fn read_text(path: &Path) -> io::Result<String> {
    std::fs::read_to_string(path).map_err(|error| with_path(error, path))
}

fn with_path(error: io::Error, path: &Path) -> io::Error {
    io::Error::new(error.kind(), format!("{}: {error}", path.display()))
}

fn display(path: &Path) -> String {
    path.to_string_lossy().replace('\\', "/")
}

/// Reads an applicant's answers from a JSON file (`workflows/samples/*.json`).
///
/// # Errors
/// An unreadable file or JSON that is not answers, with the path named.
pub fn read_answers(path: &Path) -> Result<crate::engine::Answers, String> {
    let text = read_text(path).map_err(|error| error.to_string())?;
    serde_json::from_str(&text).map_err(|error| format!("{}: {error}", path.display()))
}

/// The sample answers shipped for a workflow: `FLOWS/samples/ID.json`
/// beside the first folder of definitions.
pub fn sample_path(paths: &Paths, workflow: &str) -> PathBuf {
    paths
        .flows
        .first()
        .map_or_else(|| PathBuf::from("workflows"), PathBuf::clone)
        .join("samples")
        .join(format!("{workflow}.json"))
}

/// SVG of a DOT graph (`dsl::graph::dot`), drawn by Graphviz's `dot`.
///
/// # Errors
/// When `dot` is not installed (the error names the Debian package) or fails.
pub fn graphviz_svg(dot: &str) -> io::Result<Vec<u8>> {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let mut child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| {
            io::Error::new(
                error.kind(),
                format!("cannot run Graphviz's `dot` ({error}); install it with `apt-get install graphviz`"),
            )
        })?;
    child
        .stdin
        .take()
        .ok_or_else(|| io::Error::other("no stdin for dot"))?
        .write_all(dot.as_bytes())?;
    let output = child.wait_with_output()?;
    if !output.status.success() {
        return Err(io::Error::other(format!(
            "dot failed: {}",
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    Ok(output.stdout)
}
