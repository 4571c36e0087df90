//! The engine: a filing's lifecycle as the law and its workflow say.
//!
//! [`transition`] is a pure function of the filing, the actor, the command
//! and `now`, given the checked [`Workflow`](crate::dsl::Workflow) the filing
//! is pinned to and the working-day [`Calendar`](crate::calendar::Calendar).
//! It returns the new filing and the effects to carry out — notify, issue a
//! document, schedule a timer — or a typed error, with nothing changed.
//!
//! Invariant: this module imports no database, mail, typst or HTTP crate,
//! and never reads the clock.
//!
//! The lifecycle: draft → submitted → at intake, accepted, one correction
//! notice listing every item (补正), or refused to accept with reasons; the
//! intake limit passing untouched accepts it as of the day the materials
//! arrived (art. 32). Then the route: parallel branches start together and
//! never wait on each other, conditional steps are skipped with the reason
//! recorded, filings and signings complete their parts. Any refusal decides
//! the filing refused (with reasons); otherwise approvals grant it, or it is
//! filed. Corrections during review, expert review, inspection, appraisal
//! and hearings pause the clock (art. 45); the head may extend the limit once
//! by the definition's allowance, the reason told to the applicant (art. 42).

pub mod clock;
pub mod simulate;
pub mod state;
pub mod submission;
pub mod transition;

pub use state::{Filing, Status};
pub use submission::{validate, Answers, Applicant, Facts, Problem, Submission, Upload};
pub use transition::{
    transition, Actor, Command, Context, Effect, EngineError, Timer, Told, Transition,
};
