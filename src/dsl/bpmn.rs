//! A workflow as BPMN 2.0 XML, for the tools other teams use: a lane per
//! department, a user task per step (intake first), parallel gateways
//! around parallel steps, and a step that applies only to some filings
//! behind an exclusive gateway whose flow carries its condition as text.
//! `onewindow export bpmn` writes it.

use std::fmt::Write as _;

use super::ir::{Route, Step, Workflow};

/// The kinds of node the export writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Start,
    End,
    Task,
    Parallel,
    Exclusive,
}

impl Kind {
    fn element(self) -> &'static str {
        match self {
            Kind::Start => "bpmn:startEvent",
            Kind::End => "bpmn:endEvent",
            Kind::Task => "bpmn:userTask",
            Kind::Parallel => "bpmn:parallelGateway",
            Kind::Exclusive => "bpmn:exclusiveGateway",
        }
    }
}

struct Node {
    id: String,
    kind: Kind,
    name: String,
    /// The lane (department) of a task.
    lane: Option<String>,
    /// The flow taken when no condition holds (an exclusive split).
    default: Option<String>,
}

struct Flow {
    id: String,
    from: String,
    to: String,
    name: Option<String>,
    condition: Option<String>,
}

#[derive(Default)]
struct Graph {
    nodes: Vec<Node>,
    flows: Vec<Flow>,
}

impl Graph {
    fn node(&mut self, id: String, kind: Kind, name: String, lane: Option<String>) -> String {
        self.nodes.push(Node {
            id: id.clone(),
            kind,
            name,
            lane,
            default: None,
        });
        id
    }

    fn flow(
        &mut self,
        from: &str,
        to: &str,
        name: Option<String>,
        condition: Option<String>,
    ) -> String {
        let id = format!("Flow_{}", self.flows.len() + 1);
        self.flows.push(Flow {
            id: id.clone(),
            from: from.to_string(),
            to: to.to_string(),
            name,
            condition,
        });
        id
    }

    /// Adds a route; its first and last node.
    fn route(&mut self, workflow: &Workflow, route: &Route) -> (String, String) {
        match route {
            Route::Step(index) => self.step(workflow, *index),
            Route::Sequence(items) => {
                let parts: Vec<(String, String)> = items
                    .iter()
                    .map(|item| self.route(workflow, item))
                    .collect();
                for pair in parts.windows(2) {
                    self.flow(&pair[0].1, &pair[1].0, None, None);
                }
                match (parts.first(), parts.last()) {
                    (Some(first), Some(last)) => (first.0.clone(), last.1.clone()),
                    _ => self.empty(),
                }
            }
            Route::Parallel(items) => {
                let n = self.nodes.len();
                let fork = self.node(format!("Fork_{n}"), Kind::Parallel, "并联办理".into(), None);
                let join = self.node(format!("Join_{n}"), Kind::Parallel, "并联完成".into(), None);
                for item in items {
                    let (entry, exit) = self.route(workflow, item);
                    self.flow(&fork, &entry, None, None);
                    self.flow(&exit, &join, None, None);
                }
                (fork, join)
            }
        }
    }

    /// A route with no step: a pass-through gateway.
    fn empty(&mut self) -> (String, String) {
        let n = self.nodes.len();
        let id = self.node(format!("Pass_{n}"), Kind::Parallel, String::new(), None);
        (id.clone(), id)
    }

    fn step(&mut self, workflow: &Workflow, index: usize) -> (String, String) {
        let step = &workflow.steps[index];
        let task = self.node(
            format!("Task_{}", xml_id(&step.id)),
            Kind::Task,
            task_name(step),
            Some(lane_of(step)),
        );
        let Some(when) = &step.when else {
            return (task.clone(), task);
        };
        let tag = xml_id(&step.id);
        let split = self.node(
            format!("Applies_{tag}"),
            Kind::Exclusive,
            "是否适用".into(),
            None,
        );
        let join = self.node(
            format!("Applied_{tag}"),
            Kind::Exclusive,
            String::new(),
            None,
        );
        let condition = when.describe(workflow);
        self.flow(&split, &task, Some("适用".into()), Some(condition));
        self.flow(&task, &join, None, None);
        let bypass = self.flow(&split, &join, Some("不适用".into()), None);
        if let Some(node) = self.nodes.iter_mut().find(|n| n.id == split) {
            node.default = Some(bypass);
        }
        (split, join)
    }
}

/// The lane a step's task is in: its department (the kind, for a `local`
/// step), or the signing parties.
fn lane_of(step: &Step) -> String {
    step.department
        .clone()
        .unwrap_or_else(|| "parties".to_string())
}

fn task_name(step: &Step) -> String {
    format!(
        "{}（{}，{}个工作日）",
        step.label,
        step.legal_form().chinese(),
        step.limit
    )
}

/// A step id (`2.1`) as part of an XML id.
fn xml_id(id: &str) -> String {
    id.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// The workflow as a BPMN 2.0 process in a collaboration, with its lanes.
pub fn export(workflow: &Workflow) -> String {
    let mut graph = Graph::default();
    let start = graph.node("Start".into(), Kind::Start, "提交申请".into(), None);
    let intake = graph.node(
        "Task_intake".into(),
        Kind::Task,
        format!(
            "{}（{}个工作日）",
            workflow.intake.label, workflow.intake.limit
        ),
        Some(workflow.intake.department.clone()),
    );
    let (entry, exit) = graph.route(workflow, &workflow.route);
    let end = graph.node("End".into(), Kind::End, "办结".into(), None);
    graph.flow(&start, &intake, None, None);
    graph.flow(&intake, &entry, Some("受理".into()), None);
    graph.flow(&exit, &end, None, None);
    write(workflow, &graph)
}

fn write(workflow: &Workflow, graph: &Graph) -> String {
    let process = format!("Process_{}", xml_id(&workflow.id));
    let mut out = String::new();
    let _ = writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let _ = writeln!(
        out,
        r#"<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="Definitions_{}_{}" targetNamespace="https://onewindow.example/bpmn" exporter="onewindow" exporterVersion="{}">"#,
        xml_id(&workflow.id),
        workflow.version,
        env!("CARGO_PKG_VERSION")
    );
    let _ = writeln!(out, r#"  <bpmn:collaboration id="Collaboration">"#);
    let _ = writeln!(
        out,
        r#"    <bpmn:participant id="Participant" name="{}" processRef="{process}" />"#,
        escape(&workflow.title)
    );
    let _ = writeln!(out, "  </bpmn:collaboration>");
    let _ = writeln!(
        out,
        r#"  <bpmn:process id="{process}" name="{}（第{}版）" isExecutable="false">"#,
        escape(&workflow.title),
        workflow.version
    );
    let _ = writeln!(
        out,
        "    <bpmn:documentation>{}</bpmn:documentation>",
        escape(&format!(
            "法定时限{}个工作日，承诺时限{}个工作日。依据：{}",
            workflow.legal_limit,
            workflow.promised_limit,
            workflow.basis.join("；")
        ))
    );
    lanes(&mut out, workflow, graph);
    for node in &graph.nodes {
        let default = node
            .default
            .as_ref()
            .map(|flow| format!(r#" default="{flow}""#))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            r#"    <{} id="{}" name="{}"{default} />"#,
            node.kind.element(),
            node.id,
            escape(&node.name)
        );
    }
    for flow in &graph.flows {
        let name = flow
            .name
            .as_ref()
            .map(|name| format!(r#" name="{}""#, escape(name)))
            .unwrap_or_default();
        match &flow.condition {
            None => {
                let _ = writeln!(
                    out,
                    r#"    <bpmn:sequenceFlow id="{}" sourceRef="{}" targetRef="{}"{name} />"#,
                    flow.id, flow.from, flow.to
                );
            }
            Some(condition) => {
                let _ = writeln!(
                    out,
                    r#"    <bpmn:sequenceFlow id="{}" sourceRef="{}" targetRef="{}"{name}>"#,
                    flow.id, flow.from, flow.to
                );
                let _ = writeln!(
                    out,
                    r#"      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{}</bpmn:conditionExpression>"#,
                    escape(condition)
                );
                let _ = writeln!(out, "    </bpmn:sequenceFlow>");
            }
        }
    }
    let _ = writeln!(out, "  </bpmn:process>");
    let _ = writeln!(out, "</bpmn:definitions>");
    out
}

/// A lane per department (and one for signing parties), each listing its
/// tasks, in the order they first appear.
fn lanes(out: &mut String, workflow: &Workflow, graph: &Graph) {
    let mut order: Vec<&str> = Vec::new();
    for node in &graph.nodes {
        if let Some(lane) = node.lane.as_deref() {
            if !order.contains(&lane) {
                order.push(lane);
            }
        }
    }
    let _ = writeln!(out, r#"    <bpmn:laneSet id="LaneSet">"#);
    for lane in order {
        let name = if lane == "parties" {
            "签订各方".to_string()
        } else {
            workflow.department_name(lane)
        };
        let _ = writeln!(
            out,
            r#"      <bpmn:lane id="Lane_{}" name="{}">"#,
            xml_id(lane),
            escape(&name)
        );
        for node in graph
            .nodes
            .iter()
            .filter(|n| n.lane.as_deref() == Some(lane))
        {
            let _ = writeln!(
                out,
                "        <bpmn:flowNodeRef>{}</bpmn:flowNodeRef>",
                node.id
            );
        }
        let _ = writeln!(out, "      </bpmn:lane>");
    }
    let _ = writeln!(out, "    </bpmn:laneSet>");
}
