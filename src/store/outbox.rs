//! What the outbox carries: a job per row, written in the transaction of the
//! state change that asked for it and done by a worker after commit.
//!
//! The row's `kind` column says which worker takes it; its `payload` is the
//! job as JSON. Both are typed here so the writer (the committer) and the
//! readers (the render worker, the mailer) cannot disagree.

use serde::{Deserialize, Serialize};

use crate::dsl::ir::{NotifyEvent, Recipient};
use crate::engine::{Effect, Told};

/// Which worker takes a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Typeset an issued document to PDF.
    Render,
    /// Send a notification by mail.
    Notify,
}

impl Kind {
    pub const ALL: [Kind; 2] = [Kind::Render, Kind::Notify];

    /// The value of the `kind` column.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Render => "render",
            Kind::Notify => "notify",
        }
    }
}

/// A notification to send: who, on which event, about which step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    pub recipients: Vec<Recipient>,
    pub event: NotifyEvent,
    /// The step concerned; reviewers and heads are that step's department's.
    pub step: Option<usize>,
    pub department: Option<String>,
    /// The event's facts the message states.
    #[serde(default)]
    pub told: Told,
}

impl Notice {
    /// The notice of an engine's `Notify` effect; `None` for other effects.
    pub fn of(effect: &Effect) -> Option<Notice> {
        match effect {
            Effect::Notify {
                recipients,
                event,
                step,
                department,
                told,
            } => Some(Notice {
                recipients: recipients.clone(),
                event: *event,
                step: *step,
                department: department.clone(),
                told: told.clone(),
            }),
            _ => None,
        }
    }
}

/// One row's work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "snake_case")]
pub enum Job {
    /// Render the document with this verification code.
    Render {
        verify_code: String,
    },
    Notify(Notice),
    /// A mail about an account, to an address (no filing's): the mailer
    /// takes it as it takes a notification.
    Account(AccountMail),
}

/// A mail about an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountMail {
    pub to: String,
    pub name: String,
    pub letter: Letter,
}

/// What an account mail says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "letter", rename_all = "snake_case")]
pub enum Letter {
    /// Someone registered with this address: the link that opens the
    /// account (its token; only its hash is stored beside the
    /// registration).
    Confirm { token: String },
    /// Someone registered with an address that has an account already:
    /// sign in, or reset the password at the window.
    Known,
}

impl Job {
    pub fn kind(&self) -> Kind {
        match self {
            Job::Render { .. } => Kind::Render,
            Job::Notify(_) | Job::Account(_) => Kind::Notify,
        }
    }

    /// The payload column's text.
    pub fn to_payload(&self) -> String {
        serde_json::to_string(self).expect("a job serializes")
    }

    /// # Errors
    /// A payload that is not a job (written by another version).
    pub fn from_payload(payload: &str) -> Result<Job, String> {
        serde_json::from_str(payload).map_err(|e| format!("outbox payload: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_round_trip_through_their_payload() {
        let jobs = [
            Job::Render {
                verify_code: "7F3A".into(),
            },
            Job::Notify(Notice {
                recipients: vec![Recipient::Applicant],
                event: NotifyEvent::Renewal,
                step: None,
                department: None,
                told: Told::default(),
            }),
            Job::Account(AccountMail {
                to: "a@b.cn".into(),
                name: "某".into(),
                letter: Letter::Confirm { token: "t".into() },
            }),
        ];
        for job in jobs {
            assert_eq!(Job::from_payload(&job.to_payload()).unwrap(), job);
        }
        assert_eq!(
            Job::Render {
                verify_code: String::new()
            }
            .kind()
            .name(),
            "render"
        );
    }
}
