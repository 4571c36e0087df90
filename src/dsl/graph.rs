//! Diagrams of a workflow's routing.

use super::ir::Workflow;

pub fn dot(workflow: &Workflow) -> String {
    workflow.id.clone()
}
pub fn mermaid(workflow: &Workflow) -> String {
    workflow.id.clone()
}
pub fn svg(workflow: &Workflow) -> std::io::Result<Vec<u8>> {
    Ok(dot(workflow).into_bytes())
}
