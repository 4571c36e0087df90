//! Backups of the embedded database: a consistent copy of it, the uploaded
//! files beside it, and a manifest with the audit chain's head, in one
//! folder; and the restore that puts them in an empty data folder.
//! PostgreSQL is backed up with `pg_dump` and the files (docs/operations.md).

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{App, AppError};

/// What a backup holds, written beside it as `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    /// When it was taken, by the product's clock.
    pub taken_at: String,
    /// The database's file in the backup.
    pub database: String,
    /// The audit chain's head in that copy: a restore must end there.
    pub audit_seq: i64,
    pub audit_hash: String,
    /// Uploaded files copied.
    pub blobs: usize,
}

const FORMAT: u32 = 1;
const DATABASE: &str = "onewindow.db";
const BLOBS: &str = "blobs";
const MANIFEST: &str = "manifest.json";

impl App {
    /// Writes a backup into `to` (a new or empty folder): the database
    /// first, as one read snapshot taken while writes go on, then the
    /// uploaded files (never changed once written, so every file the copy
    /// refers to is there), then the manifest.
    ///
    /// # Errors
    /// A folder that is not empty, PostgreSQL, or a failed copy.
    pub async fn backup(&self, to: &Path) -> Result<Manifest, AppError> {
        let io = |error: std::io::Error| AppError::Config(format!("{}: {error}", to.display()));
        std::fs::create_dir_all(to).map_err(io)?;
        if std::fs::read_dir(to).map_err(io)?.next().is_some() {
            return Err(AppError::Config(format!(
                "{} is not empty: a backup goes into a new folder",
                to.display()
            )));
        }
        let (audit_seq, audit_hash) = self.store.snapshot_into(&to.join(DATABASE)).await?;
        let blobs = copy_tree(&self.config.data.join(BLOBS), &to.join(BLOBS)).map_err(io)?;
        let manifest = Manifest {
            format: FORMAT,
            taken_at: self.now().to_string(),
            database: DATABASE.to_string(),
            audit_seq,
            audit_hash,
            blobs,
        };
        let text = serde_json::to_string_pretty(&manifest)
            .map_err(|error| AppError::Config(error.to_string()))?;
        std::fs::write(to.join(MANIFEST), text).map_err(io)?;
        Ok(manifest)
    }
}

/// Puts the backup in `from` into the data folder `data`, which must hold
/// no database yet; the manifest says where the audit chain must end (the
/// caller opens the product there and verifies it).
///
/// # Errors
/// No manifest, another format, a data folder with a database, or a failed copy.
pub fn restore(from: &Path, data: &Path) -> Result<Manifest, AppError> {
    let io = |error: std::io::Error| AppError::Config(error.to_string());
    let text = std::fs::read_to_string(from.join(MANIFEST))
        .map_err(|error| AppError::Config(format!("{}: {error}", from.join(MANIFEST).display())))?;
    let manifest: Manifest =
        serde_json::from_str(&text).map_err(|error| AppError::Config(error.to_string()))?;
    if manifest.format != FORMAT {
        return Err(AppError::Config(format!(
            "backup format {} is not {FORMAT}",
            manifest.format
        )));
    }
    let database = data.join(DATABASE);
    if database.exists() {
        return Err(AppError::Config(format!(
            "{} exists: a backup is restored into a data folder without a database",
            database.display()
        )));
    }
    std::fs::create_dir_all(data).map_err(io)?;
    std::fs::copy(from.join(&manifest.database), &database).map_err(io)?;
    copy_tree(&from.join(BLOBS), &data.join(BLOBS)).map_err(io)?;
    Ok(manifest)
}

/// Copies the files under `from` (if it exists) to `to`, folders included,
/// leaving out files still being written (`.…tmp`); how many were copied.
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<usize> {
    if !from.exists() {
        return Ok(0);
    }
    std::fs::create_dir_all(to)?;
    let mut copied = 0;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        if entry.file_type()?.is_dir() {
            copied += copy_tree(&entry.path(), &to.join(&name))?;
        } else {
            std::fs::copy(entry.path(), to.join(&name))?;
            copied += 1;
        }
    }
    Ok(copied)
}
