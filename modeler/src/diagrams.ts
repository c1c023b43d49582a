/** Diagram text helpers shared by the modeler and the diff. */

/** A new executable process: a start event, a task and an end event, laid out. */
export function newDiagramXml(): string {
  const id = `Process_${Math.random().toString(36).slice(2, 9)}`;
  return `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="Definitions_${id}" targetNamespace="http://regenflow.dev/bpmn">
  <bpmn:process id="${id}" name="New process" isExecutable="true">
    <bpmn:startEvent id="StartEvent_1" name="Started">
      <bpmn:outgoing>Flow_1</bpmn:outgoing>
    </bpmn:startEvent>
    <bpmn:endEvent id="EndEvent_1" name="Done">
      <bpmn:incoming>Flow_1</bpmn:incoming>
    </bpmn:endEvent>
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_1" targetRef="EndEvent_1" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="Diagram_1">
    <bpmndi:BPMNPlane id="Plane_1" bpmnElement="${id}">
      <bpmndi:BPMNShape id="StartEvent_1_di" bpmnElement="StartEvent_1">
        <dc:Bounds x="180" y="160" width="36" height="36" />
        <bpmndi:BPMNLabel><dc:Bounds x="178" y="203" width="40" height="14" /></bpmndi:BPMNLabel>
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="EndEvent_1_di" bpmnElement="EndEvent_1">
        <dc:Bounds x="432" y="160" width="36" height="36" />
        <bpmndi:BPMNLabel><dc:Bounds x="437" y="203" width="26" height="14" /></bpmndi:BPMNLabel>
      </bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="Flow_1_di" bpmnElement="Flow_1">
        <di:waypoint x="216" y="178" />
        <di:waypoint x="432" y="178" />
      </bpmndi:BPMNEdge>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>`;
}

const BPMN_MODEL = 'http://www.omg.org/spec/BPMN/20100524/MODEL';
const BPMN_DI = 'http://www.omg.org/spec/BPMN/20100524/DI';

interface IndexedElement {
  id: string;
  type: string;
  name: string;
  attributes: Record<string, string>;
  /** Everything inside the element except elements that have an id of their own. */
  body: string;
}

export interface DiffEntry {
  id: string;
  type: string;
  name: string;
  changes: string[];
}

export interface DiagramDiff {
  added: DiffEntry[];
  removed: DiffEntry[];
  changed: DiffEntry[];
  /** Only the layout moved. */
  moved: DiffEntry[];
}

function parse(xml: string): Document {
  const document = new DOMParser().parseFromString(xml, 'application/xml');
  if (document.getElementsByTagName('parsererror').length) throw new Error('the diagram XML does not parse');
  return document;
}

function indexModel(document: Document): Map<string, IndexedElement> {
  const index = new Map<string, IndexedElement>();
  const serializer = new XMLSerializer();
  for (const element of Array.from(document.getElementsByTagNameNS(BPMN_MODEL, '*'))) {
    const id = element.getAttribute('id');
    if (!id || element.localName === 'definitions') continue;
    const attributes: Record<string, string> = {};
    for (const attribute of Array.from(element.attributes)) {
      if (attribute.name !== 'id') attributes[attribute.name] = attribute.value;
    }
    const body = Array.from(element.childNodes)
      .filter((child) => !(child instanceof Element && child.hasAttribute('id')))
      .map((child) => (child instanceof Element ? serializer.serializeToString(child) : (child.textContent ?? '').trim()))
      .join('')
      .replace(/\s+/g, ' ');
    index.set(id, { id, type: element.localName, name: element.getAttribute('name') ?? '', attributes, body });
  }
  return index;
}

function indexLayout(document: Document): Map<string, string> {
  const layout = new Map<string, string>();
  for (const element of Array.from(document.getElementsByTagNameNS(BPMN_DI, '*'))) {
    const ref = element.getAttribute('bpmnElement');
    if (!ref || (element.localName !== 'BPMNShape' && element.localName !== 'BPMNEdge')) continue;
    const points = Array.from(element.children)
      .filter((child) => child.localName === 'Bounds' || child.localName === 'waypoint')
      .map((child) => ['x', 'y', 'width', 'height'].map((name) => child.getAttribute(name) ?? '').join(','));
    layout.set(ref, points.join(' '));
  }
  return layout;
}

/** What changed between two versions of a diagram: elements added, removed, changed, moved. */
export function diffDiagrams(beforeXml: string, afterXml: string): DiagramDiff {
  const beforeDocument = parse(beforeXml);
  const afterDocument = parse(afterXml);
  const before = indexModel(beforeDocument);
  const after = indexModel(afterDocument);
  const beforeLayout = indexLayout(beforeDocument);
  const afterLayout = indexLayout(afterDocument);
  const entry = (element: IndexedElement, changes: string[] = []): DiffEntry => ({ id: element.id, type: element.type, name: element.name, changes });
  const diff: DiagramDiff = { added: [], removed: [], changed: [], moved: [] };
  for (const [id, element] of after) {
    const old = before.get(id);
    if (!old) {
      diff.added.push(entry(element));
      continue;
    }
    const changes: string[] = [];
    if (old.type !== element.type) changes.push(`type ${old.type} → ${element.type}`);
    for (const name of new Set([...Object.keys(old.attributes), ...Object.keys(element.attributes)])) {
      const was = old.attributes[name];
      const is = element.attributes[name];
      if (was === is) continue;
      if (was === undefined) changes.push(`${name} set to "${is}"`);
      else if (is === undefined) changes.push(`${name} removed (was "${was}")`);
      else changes.push(`${name}: "${was}" → "${is}"`);
    }
    if (old.body !== element.body) changes.push('content changed (extension elements, conditions, definitions or references)');
    if (changes.length) diff.changed.push(entry(element, changes));
    else if ((beforeLayout.get(id) ?? '') !== (afterLayout.get(id) ?? '')) diff.moved.push(entry(element, ['layout']));
  }
  for (const [id, element] of before) if (!after.has(id)) diff.removed.push(entry(element));
  return diff;
}
