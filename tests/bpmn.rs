//! `onewindow export bpmn` read back by bpmn-moddle, bpmn.io's BPMN library
//! (npm, installed by `./run test` into tests/bpmn): for every shipped
//! procedure its tasks, lanes, gateways and conditions are the definition's.

use std::collections::BTreeMap;
use std::process::Command;

use onewindow::dsl::ir::Route;
use onewindow::dsl::Workflow;

mod common;
use common::{root, scratch, workflows};

/// What bpmn-moddle found in an exported file.
fn read_back(file: &std::path::Path) -> serde_json::Value {
    let script = root().join("tests/bpmn/check.mjs");
    assert!(
        root().join("tests/bpmn/node_modules/bpmn-moddle").is_dir(),
        "bpmn-moddle is not installed: run ./run test (it runs npm ci --prefix tests/bpmn)"
    );
    let output = Command::new("node")
        .arg(script)
        .arg(file)
        .output()
        .expect("node runs (./run test installs Node.js)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("one JSON line")
}

fn parallel_blocks(route: &Route) -> usize {
    match route {
        Route::Step(_) => 0,
        Route::Sequence(items) => items.iter().map(parallel_blocks).sum(),
        Route::Parallel(items) => 1 + items.iter().map(parallel_blocks).sum::<usize>(),
    }
}

fn task_id(step: &str) -> String {
    format!("Task_{}", step.replace('.', "_"))
}

/// Lane name → its tasks, as the definition says.
fn expected_lanes(workflow: &Workflow) -> BTreeMap<String, Vec<String>> {
    let mut lanes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    lanes
        .entry(workflow.department_name(&workflow.intake.department))
        .or_default()
        .push("Task_intake".to_string());
    for step in &workflow.steps {
        let lane = step
            .department
            .as_deref()
            .map_or("签订各方".to_string(), |d| workflow.department_name(d));
        lanes.entry(lane).or_default().push(task_id(&step.id));
    }
    for tasks in lanes.values_mut() {
        tasks.sort();
    }
    lanes
}

fn strings(value: &serde_json::Value) -> Vec<String> {
    let mut found: Vec<String> = value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    found.sort();
    found
}

#[test]
fn every_shipped_procedure_exports_as_bpmn_that_bpmn_moddle_reads_as_defined() {
    let dir = scratch("bpmn");
    let shipped = workflows();
    assert_eq!(shipped.len(), 7);
    for workflow in &shipped {
        let file = dir.join(format!("{}.bpmn", workflow.id));
        let output = common::onewindow()
            .args(["export", "bpmn", &workflow.id, "-o"])
            .arg(&file)
            .current_dir(root())
            .output()
            .expect("the binary runs");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let found = read_back(&file);
        let id = &workflow.id;
        assert_eq!(found["warnings"], serde_json::json!([]), "{id}: {found}");
        assert_eq!(found["unresolved"], 0, "{id}");
        assert_eq!(
            (found["starts"].as_u64(), found["ends"].as_u64()),
            (Some(1), Some(1)),
            "{id}"
        );

        let mut tasks: Vec<String> = workflow.steps.iter().map(|s| task_id(&s.id)).collect();
        tasks.push("Task_intake".to_string());
        tasks.sort();
        assert_eq!(strings(&found["tasks"]), tasks, "{id}: one task per step");

        let lanes: BTreeMap<String, Vec<String>> = found["lanes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|lane| {
                (
                    lane["name"].as_str().unwrap().to_string(),
                    strings(&lane["tasks"]),
                )
            })
            .collect();
        assert_eq!(
            lanes,
            expected_lanes(workflow),
            "{id}: a lane per department"
        );

        assert_eq!(
            found["parallelGateways"].as_u64().unwrap() as usize,
            2 * parallel_blocks(&workflow.route),
            "{id}: a fork and a join per parallel block"
        );
        let mut conditions: Vec<String> = workflow
            .steps
            .iter()
            .filter_map(|s| s.when.as_ref().map(|when| when.describe(workflow)))
            .collect();
        conditions.sort();
        assert_eq!(
            strings(&found["conditions"]),
            conditions,
            "{id}: conditions as text"
        );

        // The diagram draws every node, every flow, the pool and its lanes.
        let drawn = strings(&found["drawn"]);
        for element in strings(&found["nodes"])
            .iter()
            .chain(&strings(&found["flows"]))
        {
            assert!(drawn.contains(element), "{id}: {element} is not drawn");
        }
        assert!(drawn.contains(&"Participant".to_string()), "{id}: the pool");
        assert_eq!(
            drawn.iter().filter(|d| d.starts_with("Lane_")).count(),
            lanes.len(),
            "{id}: the lanes"
        );
    }
}

#[test]
fn text_that_would_break_xml_is_escaped() {
    let mut workflow = workflows().into_iter().next().unwrap();
    workflow.title = "<bpmn:evil> & \"quoted\" 'x'".to_string();
    workflow.steps[0].label = "</bpmn:userTask><script>".to_string();
    let file = scratch("bpmn-hostile").join("hostile.bpmn");
    std::fs::write(&file, onewindow::dsl::bpmn::export(&workflow)).unwrap();
    let found = read_back(&file);
    assert_eq!(found["warnings"], serde_json::json!([]), "{found}");
    assert_eq!(
        strings(&found["tasks"]).len(),
        workflow.steps.len() + 1,
        "{found}"
    );
}
