//! The one-time notice (一次性告知), derived from a checked workflow.

use super::ir::Workflow;

pub fn one_time_notice(workflow: &Workflow) -> String {
    workflow.title.clone()
}
