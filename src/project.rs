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
