//! The one error every use case returns.

use std::fmt;

use crate::documents::DocumentError;
use crate::engine::{EngineError, Problem};
use crate::store::StoreError;

/// Why a use case failed. Front ends map each kind to their own answer (an
/// exit code, an HTTP status); the message is for people.
#[derive(Debug)]
pub enum AppError {
    /// The applicant's input has problems, all of them listed (in Chinese).
    Invalid(Vec<Problem>),
    /// No such workflow, filing or document.
    NotFound(String),
    /// The definitions on disk have errors; the rendered diagnostics.
    Definitions(String),
    /// Configuration or setup: a path, a URL, a missing database.
    Config(String),
    /// The store refused (the engine's reason, a conflict, an upload) or failed.
    Store(StoreError),
    Document(DocumentError),
    Mail(String),
}

impl AppError {
    /// The engine's refusal, when that is what this is.
    pub fn rejection(&self) -> Option<&EngineError> {
        match self {
            AppError::Store(StoreError::Rejected(error)) => Some(error),
            _ => None,
        }
    }

    /// Whether the filing moved on since the revision the actor saw.
    pub fn is_conflict(&self) -> bool {
        matches!(self, AppError::Store(StoreError::Conflict { .. }))
    }

    /// Whether an idempotency key came again with another request.
    pub fn is_key_reused(&self) -> bool {
        matches!(self, AppError::Store(StoreError::KeyReused(_)))
    }

    /// Why an uploaded file was refused (size, kind), for the applicant.
    pub fn upload_refusal(&self) -> Option<&str> {
        match self {
            AppError::Store(StoreError::Upload(message)) => Some(message),
            _ => None,
        }
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppError::Invalid(problems) => f.write_str(&Problem::list(problems)),
            AppError::NotFound(what) => write!(f, "not found: {what}"),
            AppError::Definitions(diagnostics) => write!(
                f,
                "the definitions have errors; run `onewindow check`\n{diagnostics}"
            ),
            AppError::Config(message) | AppError::Mail(message) => f.write_str(message),
            AppError::Store(error) => write!(f, "{error}"),
            AppError::Document(error) => write!(f, "{error}"),
        }
    }
}

impl std::error::Error for AppError {}

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> AppError {
        match error {
            StoreError::NotFound(what) => AppError::NotFound(format!("filing `{what}`")),
            other => AppError::Store(other),
        }
    }
}

impl From<DocumentError> for AppError {
    fn from(error: DocumentError) -> AppError {
        AppError::Document(error)
    }
}
