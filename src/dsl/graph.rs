//! Diagrams of a workflow's routing: Graphviz DOT, SVG through Graphviz's
//! `dot`, and Mermaid. Parallel branches fan out and join; a conditional step
//! carries its condition on its box.

use std::fmt::Write as _;

use super::ir::{Route, Workflow};

/// A node of the diagram: an id and a label.
struct Node {
    id: String,
    label: String,
    conditional: bool,
}

/// Nodes and edges, independent of the output syntax.
struct Diagram {
    nodes: Vec<Node>,
    edges: Vec<(String, String)>,
}

fn diagram(workflow: &Workflow) -> Diagram {
    let intake_department = workflow.department_name(&workflow.intake.department);
    let mut nodes = vec![
        Node {
            id: "submit".into(),
            label: "提交申请".into(),
            conditional: false,
        },
        Node {
            id: "intake".into(),
            label: format!(
                "{}\n{}·{}个工作日",
                workflow.intake.label, intake_department, workflow.intake.limit
            ),
            conditional: false,
        },
    ];
    for (index, step) in workflow.steps.iter().enumerate() {
        let who = workflow.step_actors(step);
        let mut label = format!(
            "{}\n{}·{}·{}个工作日",
            step.label,
            who,
            step.legal_form().chinese(),
            step.limit
        );
        if let Some(when) = &step.when {
            label.push_str(&format!(
                "\n适用于：{}",
                wrap(&when.describe(workflow), LINE_CHARS)
            ));
        }
        nodes.push(Node {
            id: format!("step{index}"),
            label,
            conditional: step.when.is_some(),
        });
    }
    nodes.push(Node {
        id: "done".into(),
        label: "办结·出具文书".into(),
        conditional: false,
    });
    let mut edges = vec![("submit".to_string(), "intake".to_string())];
    let exits = connect(&workflow.route, vec!["intake".to_string()], &mut edges);
    edges.extend(exits.into_iter().map(|exit| (exit, "done".to_string())));
    Diagram { nodes, edges }
}

/// Adds the edges of `route` entered from `entries`; returns its exits.
fn connect(route: &Route, entries: Vec<String>, edges: &mut Vec<(String, String)>) -> Vec<String> {
    match route {
        Route::Step(index) => {
            let id = format!("step{index}");
            edges.extend(entries.into_iter().map(|entry| (entry, id.clone())));
            vec![id]
        }
        Route::Sequence(items) => items
            .iter()
            .fold(entries, |current, item| connect(item, current, edges)),
        Route::Parallel(items) if items.is_empty() => entries,
        Route::Parallel(items) => items
            .iter()
            .flat_map(|item| connect(item, entries.clone(), edges))
            .collect(),
    }
}

/// Graphviz DOT.
pub fn dot(workflow: &Workflow) -> String {
    let diagram = diagram(workflow);
    let mut out = String::new();
    let _ = writeln!(out, "digraph \"{}\" {{", escape_dot(&workflow.id));
    let _ = writeln!(out, "  label=\"{}\";", escape_dot(&workflow.title));
    let _ = writeln!(out, "  rankdir=TB;");
    let _ = writeln!(
        out,
        "  node [shape=box, style=rounded, fontname=\"Noto Sans CJK SC\"];"
    );
    for node in &diagram.nodes {
        let style = if node.conditional {
            ", style=\"rounded,dashed\""
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "  {} [label=\"{}\"{style}];",
            node.id,
            escape_dot(&node.label)
        );
    }
    for (from, to) in &diagram.edges {
        let _ = writeln!(out, "  {from} -> {to};");
    }
    out.push_str("}\n");
    out
}

/// Mermaid flowchart.
pub fn mermaid(workflow: &Workflow) -> String {
    let diagram = diagram(workflow);
    let mut out = String::from("flowchart TD\n");
    for node in &diagram.nodes {
        let (open, close) = if node.conditional {
            ("{{", "}}")
        } else {
            ("[", "]")
        };
        let _ = writeln!(
            out,
            "  {}{open}\"{}\"{close}",
            node.id,
            escape_mermaid(&node.label)
        );
    }
    for (from, to) in &diagram.edges {
        let _ = writeln!(out, "  {from} --> {to}");
    }
    out
}

/// Characters per line of a box; conditions can be long.
const LINE_CHARS: usize = 20;

/// Breaks text into lines of at most `width` characters.
fn wrap(text: &str, width: usize) -> String {
    let characters: Vec<char> = text.chars().collect();
    characters
        .chunks(width)
        .map(|line| line.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("\n")
}

fn escape_dot(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn escape_mermaid(text: &str) -> String {
    text.replace('"', "#quot;").replace('\n', "<br/>")
}
