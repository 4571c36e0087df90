// Reads a BPMN 2.0 file with bpmn-moddle (bpmn.io's BPMN library) and prints
// what it found as one JSON line: the warnings it raised, the user tasks,
// the lanes with their tasks, the parallel gateways and the conditions of
// the conditional flows. tests/bpmn.rs compares them with the definition.
//   node check.mjs FILE.bpmn
import { readFileSync } from "node:fs";
import { BpmnModdle } from "bpmn-moddle";

const xml = readFileSync(process.argv[2], "utf8");
const { rootElement, warnings } = await new BpmnModdle().fromXML(xml);
const process_ = rootElement.rootElements.find((element) => element.$type === "bpmn:Process");
const elements = process_.flowElements || [];
const ofType = (type) => elements.filter((element) => element.$type === type);
const flows = ofType("bpmn:SequenceFlow");
console.log(
  JSON.stringify({
    warnings: warnings.map((warning) => warning.message),
    tasks: ofType("bpmn:UserTask").map((task) => task.id),
    lanes: (process_.laneSets || []).flatMap((set) =>
      set.lanes.map((lane) => ({ name: lane.name, tasks: (lane.flowNodeRef || []).map((node) => node.id) })),
    ),
    parallelGateways: ofType("bpmn:ParallelGateway").length,
    conditions: flows.filter((flow) => flow.conditionExpression).map((flow) => flow.conditionExpression.body),
    unresolved: flows.filter((flow) => !flow.sourceRef || !flow.targetRef).length,
    starts: ofType("bpmn:StartEvent").length,
    ends: ofType("bpmn:EndEvent").length,
    // What the diagram draws: the elements its shapes and edges stand for.
    nodes: elements.filter((element) => element.$type !== "bpmn:SequenceFlow").map((element) => element.id),
    flows: flows.map((flow) => flow.id),
    drawn: (rootElement.diagrams || []).flatMap((diagram) =>
      (diagram.plane.planeElement || []).filter((shape) => shape.bpmnElement).map((shape) => shape.bpmnElement.id),
    ),
  }),
);
