//! A workflow as BPMN 2.0 XML, for the tools other teams use: a lane per
//! department, a user task per step (intake first), parallel gateways
//! around parallel steps, and a step that applies only to some filings
//! behind an exclusive gateway whose flow carries its condition as text.
//! `onewindow export bpmn` writes it, with a diagram (BPMN DI) laid out in
//! columns by how far each node is from the start and in bands by lane, so
//! that modelling tools draw it as it is.

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
        r#"<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI" id="Definitions_{}_{}" targetNamespace="https://onewindow.example/bpmn" exporter="onewindow" exporterVersion="{}">"#,
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
    diagram(&mut out, graph);
    let _ = writeln!(out, "</bpmn:definitions>");
    out
}

/// A node's place in the drawing.
struct Placed {
    x: i64,
    y: i64,
    width: i64,
    height: i64,
}

const COLUMN: i64 = 190;
const ROW: i64 = 130;
const LANE_LABEL: i64 = 30;
const POOL_LABEL: i64 = 30;

/// The diagram: the pool, a band per lane, each node in the column of its
/// longest distance from the start, flows as right-angled lines.
fn diagram(out: &mut String, graph: &Graph) {
    let depth = depths(graph);
    let lanes = lane_order(graph);
    // The band of a node without a lane: that of a neighbouring task.
    let band_of = |index: usize| -> usize {
        let node = &graph.nodes[index];
        let lane = node.lane.clone().or_else(|| nearest_lane(graph, &node.id));
        lane.and_then(|l| lanes.iter().position(|x| *x == l))
            .unwrap_or(0)
    };
    // Rows within each band and column.
    let mut used: std::collections::HashMap<(usize, usize), i64> = std::collections::HashMap::new();
    let mut slots = Vec::with_capacity(graph.nodes.len());
    for (index, _) in graph.nodes.iter().enumerate() {
        let key = (band_of(index), depth[index]);
        let row = used.entry(key).or_insert(0);
        slots.push((key.0, depth[index], *row));
        *row += 1;
    }
    let rows_in = |band: usize| {
        used.iter()
            .filter(|((b, _), _)| *b == band)
            .map(|(_, rows)| *rows)
            .max()
            .unwrap_or(1)
    };
    let mut band_top = Vec::with_capacity(lanes.len().max(1));
    let mut top = 0;
    for band in 0..lanes.len().max(1) {
        band_top.push(top);
        top += rows_in(band) * ROW;
    }
    let height = top.max(ROW);
    let columns = depth.iter().copied().max().unwrap_or(0) as i64 + 1;
    let width = POOL_LABEL + LANE_LABEL + columns * COLUMN;
    let placed: Vec<Placed> = graph
        .nodes
        .iter()
        .zip(&slots)
        .map(|(node, (band, column, row))| {
            let (w, h) = match node.kind {
                Kind::Task => (110, 80),
                Kind::Parallel | Kind::Exclusive => (50, 50),
                Kind::Start | Kind::End => (36, 36),
            };
            let cx = POOL_LABEL + LANE_LABEL + *column as i64 * COLUMN + COLUMN / 2;
            let cy = band_top[*band] + row * ROW + ROW / 2;
            Placed {
                x: cx - w / 2,
                y: cy - h / 2,
                width: w,
                height: h,
            }
        })
        .collect();
    let _ = writeln!(out, r#"  <bpmndi:BPMNDiagram id="Diagram">"#);
    let _ = writeln!(
        out,
        r#"    <bpmndi:BPMNPlane id="Plane" bpmnElement="Collaboration">"#
    );
    shape(out, "Participant", 0, 0, width, height);
    for (band, lane) in lanes.iter().enumerate() {
        let lane_height = rows_in(band) * ROW;
        shape(
            out,
            &format!("Lane_{}", xml_id(lane)),
            POOL_LABEL,
            band_top[band],
            width - POOL_LABEL,
            lane_height,
        );
    }
    for (node, place) in graph.nodes.iter().zip(&placed) {
        shape(out, &node.id, place.x, place.y, place.width, place.height);
    }
    for flow in &graph.flows {
        let find = |id: &str| graph.nodes.iter().position(|n| n.id == id);
        let (Some(from), Some(to)) = (find(&flow.from), find(&flow.to)) else {
            continue;
        };
        let (a, b) = (&placed[from], &placed[to]);
        let waypoints = if graph.nodes[from].default.as_deref() == Some(flow.id.as_str()) {
            // The way round a step that does not apply: under it.
            let below = a.y.max(b.y) + a.height.max(b.height) + 35;
            let (ax, bx) = (a.x + a.width / 2, b.x + b.width / 2);
            [
                (ax, a.y + a.height),
                (ax, below),
                (bx, below),
                (bx, b.y + b.height),
            ]
        } else {
            let start = (a.x + a.width, a.y + a.height / 2);
            let end = (b.x, b.y + b.height / 2);
            let middle = (start.0 + end.0) / 2;
            [start, (middle, start.1), (middle, end.1), end]
        };
        let _ = writeln!(
            out,
            r#"      <bpmndi:BPMNEdge id="{}_di" bpmnElement="{}">"#,
            flow.id, flow.id
        );
        for (x, y) in waypoints {
            let _ = writeln!(out, r#"        <di:waypoint x="{x}" y="{y}" />"#);
        }
        let _ = writeln!(out, "      </bpmndi:BPMNEdge>");
    }
    let _ = writeln!(out, "    </bpmndi:BPMNPlane>");
    let _ = writeln!(out, "  </bpmndi:BPMNDiagram>");
}

fn shape(out: &mut String, element: &str, x: i64, y: i64, width: i64, height: i64) {
    let horizontal = if element.starts_with("Lane_") || element == "Participant" {
        r#" isHorizontal="true""#
    } else {
        ""
    };
    let _ = writeln!(
        out,
        r#"      <bpmndi:BPMNShape id="{element}_di" bpmnElement="{element}"{horizontal}>"#
    );
    let _ = writeln!(
        out,
        r#"        <dc:Bounds x="{x}" y="{y}" width="{width}" height="{height}" />"#
    );
    let _ = writeln!(out, "      </bpmndi:BPMNShape>");
}

/// Each node's column: its longest distance from the start (the flows
/// form no cycle).
fn depths(graph: &Graph) -> Vec<usize> {
    let index = |id: &str| graph.nodes.iter().position(|n| n.id == id);
    let mut depth = vec![0usize; graph.nodes.len()];
    // Relax as many times as there are nodes: enough for any acyclic graph.
    for _ in 0..graph.nodes.len() {
        let mut changed = false;
        for flow in &graph.flows {
            if let (Some(from), Some(to)) = (index(&flow.from), index(&flow.to)) {
                if depth[to] < depth[from] + 1 {
                    depth[to] = depth[from] + 1;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    depth
}

/// The lanes in the order their first task appears.
fn lane_order(graph: &Graph) -> Vec<String> {
    let mut order: Vec<String> = Vec::new();
    for node in &graph.nodes {
        if let Some(lane) = &node.lane {
            if !order.contains(lane) {
                order.push(lane.clone());
            }
        }
    }
    order
}

/// The lane of the task a node without one leads to, or comes from.
fn nearest_lane(graph: &Graph, id: &str) -> Option<String> {
    let lane_of = |id: &str| graph.nodes.iter().find(|n| n.id == id)?.lane.clone();
    graph
        .flows
        .iter()
        .filter(|f| f.from == id)
        .find_map(|f| lane_of(&f.to))
        .or_else(|| {
            graph
                .flows
                .iter()
                .filter(|f| f.to == id)
                .find_map(|f| lane_of(&f.from))
        })
}

/// A lane per department (and one for signing parties), each listing its
/// tasks, in the order they first appear.
fn lanes(out: &mut String, workflow: &Workflow, graph: &Graph) {
    let _ = writeln!(out, r#"    <bpmn:laneSet id="LaneSet">"#);
    for lane in lane_order(graph) {
        let lane = lane.as_str();
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
