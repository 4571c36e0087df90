//! What a signed-in person does to a filing, as one use case for the pages
//! and the API alike: the action as it arrives ([`ActionRequest`], the one
//! wire type of both), the engine's command it becomes, who may do it (the
//! use cases it goes through decide: [`App::claim_as`], [`App::act_as`]),
//! and what was done ([`Done`], whose names the pages' `?done=` shows).
//! Also a department's inbox as a signed-in person asks for it.

use std::collections::BTreeMap;

use jiff::civil::DateTime;
use serde::Deserialize;

use super::accounts::Account;
use super::views::QueueItem;
use super::{App, AppError, QueueFilter, QueuePage};
use crate::engine::state::PauseKind;
use crate::engine::transition::Context;
use crate::engine::{self, Actor, Command, Filing};

/// An action on a filing, as a page's form or the JSON API sends it: the
/// action (tagged by its name, `action`) and the revision the actor saw.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
pub struct ActionRequest {
    #[serde(flatten)]
    pub act: Act,
    /// The revision the actor saw; a filing that moved on is a conflict.
    #[serde(default, deserialize_with = "whole::optional")]
    #[schema(minimum = 0)]
    pub revision: Option<i64>,
}

/// What a person does to a filing, with what each action carries. The
/// names (`action`) are [`Done::name`]'s.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Act {
    /// Take a piece of work (a step; intake without one).
    Claim {
        #[serde(default, deserialize_with = "whole::optional")]
        #[schema(minimum = 0)]
        step: Option<usize>,
    },
    /// Give it back.
    Release {
        #[serde(default, deserialize_with = "whole::optional")]
        #[schema(minimum = 0)]
        step: Option<usize>,
    },
    /// The window accepts the application (受理).
    Accept,
    /// The window asks for a correction (补正), every item at once:
    /// material ids or free text.
    Correct {
        #[serde(default)]
        items: Vec<String>,
    },
    /// The window refuses to accept it (不予受理), one reason each.
    RefuseIntake {
        #[serde(default)]
        reasons: Vec<String>,
    },
    Approve {
        #[serde(deserialize_with = "whole::exact")]
        #[schema(minimum = 0)]
        step: usize,
    },
    /// A filing step's receipt (备案).
    File {
        #[serde(deserialize_with = "whole::exact")]
        #[schema(minimum = 0)]
        step: usize,
    },
    Refuse {
        #[serde(deserialize_with = "whole::exact")]
        #[schema(minimum = 0)]
        step: usize,
        #[serde(default)]
        reasons: Vec<String>,
    },
    /// A step asks the applicant for a correction.
    StepCorrect {
        #[serde(deserialize_with = "whole::exact")]
        #[schema(minimum = 0)]
        step: usize,
        #[serde(default)]
        items: Vec<String>,
    },
    /// The clock stops for what art. 45 allows, for so many working days.
    Pause {
        #[serde(deserialize_with = "whole::exact")]
        #[schema(minimum = 0)]
        step: usize,
        kind: PauseFor,
        #[serde(deserialize_with = "whole::exact")]
        #[schema(minimum = 1)]
        days: u32,
        #[serde(default)]
        reason: String,
    },
    Resume {
        #[serde(deserialize_with = "whole::exact")]
        #[schema(minimum = 0)]
        step: usize,
    },
    /// The head extends the limit (art. 42), with its reason.
    Extend {
        #[serde(default)]
        reason: String,
    },
    /// The applicant withdraws the application.
    Withdraw {
        #[serde(default)]
        reason: String,
    },
    /// A party of an agreement signs it, by the account the application
    /// named as that party's signatory (谁签谁负责).
    Sign {
        #[serde(deserialize_with = "whole::exact")]
        #[schema(minimum = 0)]
        step: usize,
        /// The party's id in the definition (`medical`, `eldercare`).
        party: String,
    },
}

/// Why a step's clock stops (行政许可法 art. 45): what a reviewer may
/// choose; the applicant's correction stops it by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PauseFor {
    ExpertReview,
    Inspection,
    Appraisal,
    Hearing,
}

impl From<PauseFor> for PauseKind {
    fn from(reason: PauseFor) -> PauseKind {
        match reason {
            PauseFor::ExpertReview => PauseKind::ExpertReview,
            PauseFor::Inspection => PauseKind::Inspection,
            PauseFor::Appraisal => PauseKind::Appraisal,
            PauseFor::Hearing => PauseKind::Hearing,
        }
    }
}

/// Whole numbers as JSON writes them: `3` and `3.0` alike (JSON Schema's
/// `integer` is any number without a fraction); `3.5`, a negative count
/// or one out of range is refused as a wrong value.
mod whole {
    use serde::de::{Deserialize, Deserializer, Error, Unexpected};

    pub fn exact<'de, D, T>(deserializer: D) -> Result<T, D::Error>
    where
        D: Deserializer<'de>,
        T: TryFrom<i64>,
    {
        let number = serde_json::Number::deserialize(deserializer)?;
        let whole = number.as_i64().or_else(|| {
            number
                .as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                .map(|f| f as i64)
        });
        let unexpected = || match number.as_f64() {
            Some(f) => Unexpected::Float(f),
            None => Unexpected::Other("number"),
        };
        whole
            .ok_or_else(|| D::Error::invalid_value(unexpected(), &"a whole number"))
            .and_then(|n| {
                T::try_from(n)
                    .map_err(|_| D::Error::invalid_value(unexpected(), &"a number in range"))
            })
    }

    pub fn optional<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: TryFrom<i64>,
    {
        #[derive(serde::Deserialize)]
        struct Whole<T: TryFrom<i64>>(#[serde(deserialize_with = "exact")] T);
        Ok(Option::<Whole<T>>::deserialize(deserializer)?.map(|Whole(n)| n))
    }
}

/// What an action did. Its [`Done::name`] is what the filing's page is told
/// (`?done=`): one table of the actions' names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Done {
    Claim,
    /// A colleague holds it already.
    Taken,
    Release,
    Accept,
    Correct,
    RefuseIntake,
    Approve,
    File,
    Refuse,
    StepCorrect,
    Pause,
    Resume,
    Extend,
    Withdraw,
    Sign,
}

impl Done {
    pub const ALL: [Done; 15] = [
        Done::Claim,
        Done::Taken,
        Done::Release,
        Done::Accept,
        Done::Correct,
        Done::RefuseIntake,
        Done::Approve,
        Done::File,
        Done::Refuse,
        Done::StepCorrect,
        Done::Pause,
        Done::Resume,
        Done::Extend,
        Done::Withdraw,
        Done::Sign,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Done::Claim => "claim",
            Done::Taken => "taken",
            Done::Release => "release",
            Done::Accept => "accept",
            Done::Correct => "correct",
            Done::RefuseIntake => "refuse_intake",
            Done::Approve => "approve",
            Done::File => "file",
            Done::Refuse => "refuse",
            Done::StepCorrect => "step_correct",
            Done::Pause => "pause",
            Done::Resume => "resume",
            Done::Extend => "extend",
            Done::Withdraw => "withdraw",
            Done::Sign => "sign",
        }
    }
}

/// What an action does.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Claim (`take`) or release a piece of work: not a command, nothing
    /// of the filing changes.
    Hold {
        take: bool,
        step: Option<usize>,
    },
    Command(Command),
    /// A party's signature: the command, taken as that party when the
    /// account is its signatory.
    Sign {
        party: String,
        command: Command,
    },
}

impl Act {
    /// Which action this is, by [`Done`]'s names.
    pub fn done(&self) -> Done {
        match self {
            Act::Claim { .. } => Done::Claim,
            Act::Release { .. } => Done::Release,
            Act::Accept => Done::Accept,
            Act::Correct { .. } => Done::Correct,
            Act::RefuseIntake { .. } => Done::RefuseIntake,
            Act::Approve { .. } => Done::Approve,
            Act::File { .. } => Done::File,
            Act::Refuse { .. } => Done::Refuse,
            Act::StepCorrect { .. } => Done::StepCorrect,
            Act::Pause { .. } => Done::Pause,
            Act::Resume { .. } => Done::Resume,
            Act::Extend { .. } => Done::Extend,
            Act::Withdraw { .. } => Done::Withdraw,
            Act::Sign { .. } => Done::Sign,
        }
    }

    /// What this action does: hold a piece of work or let it go, or the
    /// engine's command.
    pub fn effect(&self) -> Effect {
        let text = |reason: &str| reason.trim().to_string();
        Effect::Command(match self.clone() {
            Act::Claim { step } => return Effect::Hold { take: true, step },
            Act::Release { step } => return Effect::Hold { take: false, step },
            Act::Accept => Command::Accept,
            Act::Correct { items } => Command::RequestCorrection { items },
            Act::RefuseIntake { reasons } => Command::RefuseToAccept { reasons },
            Act::Approve { step } => Command::Approve { step },
            Act::File { step } => Command::File { step },
            Act::Refuse { step, reasons } => Command::Refuse { step, reasons },
            Act::StepCorrect { step, items } => Command::RequestStepCorrection { step, items },
            Act::Pause {
                step,
                kind,
                days,
                reason,
            } => Command::Pause {
                step,
                kind: kind.into(),
                days,
                reason: text(&reason),
            },
            Act::Resume { step } => Command::Resume { step },
            Act::Extend { reason } => Command::Extend {
                reason: text(&reason),
            },
            Act::Withdraw { reason } => Command::Withdraw {
                reason: text(&reason),
            },
            Act::Sign { step, party } => {
                return Effect::Sign {
                    party,
                    command: Command::Sign { step },
                }
            }
        })
    }
}

impl App {
    /// Carries out an action of a signed-in account on a filing: a claim,
    /// a release or a command, each refused unless this account may do it
    /// now ([`App::claim_as`], [`App::act_as`]).
    ///
    /// # Errors
    /// What the use case refuses.
    pub async fn carry_out(
        &self,
        account: &Account,
        id: &str,
        request: &ActionRequest,
    ) -> Result<Done, AppError> {
        let now = self.now();
        let action = request.act.done();
        match request.act.effect() {
            Effect::Hold { take, step } => {
                let held = self.claim_as(account, id, step, take, now).await?;
                Ok(match (take, held) {
                    (true, true) => Done::Claim,
                    (true, false) => Done::Taken,
                    (false, _) => Done::Release,
                })
            }
            Effect::Command(command) => {
                self.act_as(account, id, command, request.revision, None, now)
                    .await?;
                Ok(action)
            }
            Effect::Sign { party, command } => {
                self.sign_as(account, id, &party, command, request.revision, now)
                    .await?;
                Ok(action)
            }
        }
    }

    /// A staff account's department's open work by due date: `filter` is
    /// `mine`, `unclaimed`, `overdue` or anything else for all of it.
    ///
    /// # Errors
    /// A store failure.
    pub async fn inbox_of(
        &self,
        account: &Account,
        filter: &str,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<QueueItem>, AppError> {
        let filter = match filter {
            "mine" => QueueFilter::ClaimedBy(account.email.clone()),
            "unclaimed" => QueueFilter::Unclaimed,
            "overdue" => QueueFilter::Overdue,
            _ => QueueFilter::All,
        };
        self.queue(&QueuePage {
            department: account.department.clone().unwrap_or_default(),
            filter,
            today: self.today(),
            limit,
            offset: offset.max(0),
        })
        .await
    }
}

/// What one account may do to a filing now, worked out once for the pages
/// and the API: the actions the engine would accept from this account's
/// actor at this moment (each tried on the filing as it is, nothing kept),
/// and claiming or releasing the pieces of work it may decide.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Actions {
    /// At intake (the window's).
    pub intake: Vec<Done>,
    /// On each step, by its index; steps with nothing to do are absent.
    pub steps: BTreeMap<usize, Vec<Done>>,
    /// On the filing as a whole (the head's extension, the applicant's
    /// withdrawal).
    pub filing: Vec<Done>,
    /// The signatures this account may give now: (step, party), for each
    /// party the application named it the signatory of.
    pub signs: Vec<(usize, String)>,
}

impl Actions {
    /// What may be done on a step (empty for none).
    pub fn on_step(&self, step: usize) -> &[Done] {
        self.steps.get(&step).map_or(&[], Vec::as_slice)
    }

    /// What `account` may do to `filing` at `now`; `claims` are who holds
    /// each piece of work.
    pub fn of(
        context: Context<'_>,
        filing: &Filing,
        account: &Account,
        claims: &[(Option<usize>, String)],
        now: DateTime,
    ) -> Actions {
        let Some(actor) = super::access::actor_on(account, filing) else {
            return Actions {
                signs: signs(context, filing, account, now),
                ..Actions::default()
            };
        };
        let allowed = |candidates: Vec<Act>| -> Vec<Done> {
            candidates
                .into_iter()
                .filter_map(|act| match act.effect() {
                    Effect::Command(command) => {
                        engine::transition(context, filing, &actor, &command, now)
                            .is_ok()
                            .then(|| act.done())
                    }
                    Effect::Hold { .. } | Effect::Sign { .. } => None,
                })
                .collect()
        };
        // Claimed by someone, released by whoever may decide it.
        let holding = |piece: Option<usize>| -> Option<Done> {
            (filing.worker_of(context.workflow, piece).as_ref() == Some(&actor)).then(|| {
                if claims.iter().any(|(held, _)| *held == piece) {
                    Done::Release
                } else {
                    Done::Claim
                }
            })
        };
        let with_holding = |piece: Option<usize>, mut done: Vec<Done>| -> Vec<Done> {
            if !done.is_empty() {
                done.extend(holding(piece));
            }
            done
        };
        let words = || vec!["…".to_string()];
        let intake = with_holding(
            None,
            allowed(vec![
                Act::Accept,
                Act::Correct { items: words() },
                Act::RefuseIntake { reasons: words() },
            ]),
        );
        let steps = (0..context.workflow.steps.len())
            .map(|step| {
                let candidates = vec![
                    Act::Approve { step },
                    Act::File { step },
                    Act::Refuse {
                        step,
                        reasons: words(),
                    },
                    Act::StepCorrect {
                        step,
                        items: words(),
                    },
                    Act::Pause {
                        step,
                        kind: PauseFor::ExpertReview,
                        days: 1,
                        reason: "…".into(),
                    },
                    Act::Resume { step },
                ];
                (step, with_holding(Some(step), allowed(candidates)))
            })
            .filter(|(_, done)| !done.is_empty())
            .collect();
        let filing_wide = allowed(vec![
            Act::Extend {
                reason: "…".into()
            },
            Act::Withdraw {
                reason: "…".into()
            },
        ]);
        Actions {
            intake,
            steps,
            filing: filing_wide,
            signs: signs(context, filing, account, now),
        }
    }
}

/// The signatures `account` may give now: each step a party it signs for
/// may sign, as the engine would take it.
fn signs(
    context: Context<'_>,
    filing: &Filing,
    account: &Account,
    now: DateTime,
) -> Vec<(usize, String)> {
    let mut signs = Vec::new();
    for (party, _) in filing
        .signatories
        .iter()
        .filter(|(_, email)| **email == account.email)
    {
        let actor = Actor::Party {
            party: party.clone(),
        };
        for step in 0..context.workflow.steps.len() {
            let command = Command::Sign { step };
            if engine::transition(context, filing, &actor, &command, now).is_ok() {
                signs.push((step, party.clone()));
            }
        }
    }
    signs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_is_sent_by_its_one_name() {
        for done in Done::ALL {
            let named: Vec<Done> = Done::ALL
                .into_iter()
                .filter(|other| other.name() == done.name())
                .collect();
            assert_eq!(named, vec![done], "one action per name");
            if done == Done::Taken {
                continue; // what a claim may turn out to be, never asked for
            }
            let sent = serde_json::json!({
                "action": done.name(), "step": 0, "kind": "hearing", "days": 3, "party": "medical",
            });
            let request: ActionRequest = serde_json::from_value(sent)
                .unwrap_or_else(|error| panic!("{}: {error}", done.name()));
            assert_eq!(request.act.done(), done);
        }
        let unknown = serde_json::json!({"action": ""});
        assert!(serde_json::from_value::<ActionRequest>(unknown).is_err());
    }

    #[test]
    fn whole_numbers_are_whole_however_written() {
        let read = |json: serde_json::Value| serde_json::from_value::<ActionRequest>(json);
        let written = read(serde_json::json!({"action": "approve", "step": 2.0, "revision": 7.0}));
        let written = written.expect("2.0 is the whole number 2");
        assert_eq!(written.act, Act::Approve { step: 2 });
        assert_eq!(written.revision, Some(7));
        for wrong in [
            serde_json::json!(2.5),
            serde_json::json!(-1),
            serde_json::json!(1e300),
        ] {
            assert!(read(serde_json::json!({"action": "approve", "step": wrong})).is_err());
        }
        let none = read(serde_json::json!({"action": "claim"})).expect("intake has no step");
        assert_eq!(none.act, Act::Claim { step: None });
        assert_eq!(none.revision, None);
    }
}
