import { createRequire } from 'node:module';
import { BpmnModdle } from 'bpmn-moddle';

const camundaSchema = createRequire(import.meta.url)('camunda-bpmn-moddle/resources/camunda.json');

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}
interface Point {
  x: number;
  y: number;
}

/** Elements drawn with their name outside the shape (bpmn-js's `isLabelExternal`). */
const EXTERNAL_LABELS = /^bpmn:(StartEvent|EndEvent|IntermediateCatchEvent|IntermediateThrowEvent|BoundaryEvent|\w*Gateway|DataObjectReference|DataStoreReference|SequenceFlow|MessageFlow)$/;

/**
 * The box bpmn-js draws an external label in: the DI's label bounds when given, else its
 * default spot (below a shape, beside a flow's middle), sized as its text renderer wraps the
 * name at 90 px in 11 px Arial (about 6.2 px a character, 14 px a line).
 */
export function labelBox(name: string, shape: Box | null, waypoints: Point[] | null, explicit: Box | null): Box {
  if (explicit) return explicit;
  const words = name.split(/\s+/);
  const lines: string[] = [''];
  for (const word of words) {
    const line = lines[lines.length - 1]!;
    if (line && (line.length + 1 + word.length) * 6.2 > 90) lines.push(word);
    else lines[lines.length - 1] = line ? `${line} ${word}` : word;
  }
  const width = Math.min(90, Math.max(...lines.map((line) => line.length * 6.2)));
  const height = lines.length * 14;
  let mid: Point;
  if (waypoints) {
    const middle = waypoints.length / 2 - 1;
    const first = waypoints[Math.floor(middle)]!;
    const second = waypoints[Math.ceil(middle + 0.01)]!;
    mid = { x: first.x + (second.x - first.x) / 2, y: first.y + (second.y - first.y) / 2 };
    const angle = Math.atan((second.y - first.y) / (second.x - first.x));
    if (Math.abs(angle) < Math.PI / 2) mid.y -= 15;
    else mid.x += 15;
  } else {
    mid = { x: shape!.x + shape!.width / 2, y: shape!.y + shape!.height + 10 };
  }
  return { x: mid.x - width / 2, y: mid.y - 10, width, height };
}

const overlaps = (a: Box, b: Box, margin = 0) => a.x < b.x + b.width - margin && b.x < a.x + a.width - margin && a.y < b.y + b.height - margin && b.y < a.y + a.height - margin;

/** Whether segment p-q passes through the inside of a box (shrunk by `inset`). */
function segmentCrossesBox(p: Point, q: Point, box: Box, inset = 2): boolean {
  const inner = { x: box.x + inset, y: box.y + inset, width: box.width - 2 * inset, height: box.height - 2 * inset };
  if (inner.width <= 0 || inner.height <= 0) return false;
  // Liang–Barsky clipping.
  let t0 = 0;
  let t1 = 1;
  const dx = q.x - p.x;
  const dy = q.y - p.y;
  for (const [pk, qk] of [
    [-dx, p.x - inner.x],
    [dx, inner.x + inner.width - p.x],
    [-dy, p.y - inner.y],
    [dy, inner.y + inner.height - p.y],
  ] as Array<[number, number]>) {
    if (pk === 0) {
      if (qk < 0) return false;
    } else {
      const t = qk / pk;
      if (pk < 0) t0 = Math.max(t0, t);
      else t1 = Math.min(t1, t);
      if (t0 > t1) return false;
    }
  }
  return t1 - t0 > 1e-6;
}

/** Two axis-parallel segments that run along each other for more than `length`. */
function sharedRun(a: [Point, Point], b: [Point, Point], length = 8): boolean {
  const horizontal = (s: [Point, Point]) => Math.abs(s[0].y - s[1].y) < 0.5;
  const vertical = (s: [Point, Point]) => Math.abs(s[0].x - s[1].x) < 0.5;
  const run = (a1: number, a2: number, b1: number, b2: number) => Math.min(Math.max(a1, a2), Math.max(b1, b2)) - Math.max(Math.min(a1, a2), Math.min(b1, b2));
  if (horizontal(a) && horizontal(b) && Math.abs(a[0].y - b[0].y) < 3) return run(a[0].x, a[1].x, b[0].x, b[1].x) > length;
  if (vertical(a) && vertical(b) && Math.abs(a[0].x - b[0].x) < 3) return run(a[0].y, a[1].y, b[0].y, b[1].y) > length;
  return false;
}

/**
 * What makes a diagram hard to read, per plane: labels over labels, over shapes or over flows
 * (other than their own), flows through shapes that are neither their source nor their target,
 * and flows that run along another flow which shares neither end. Each problem a sentence.
 */
export async function layoutProblems(xml: string): Promise<string[]> {
  const moddle = new BpmnModdle({ camunda: camundaSchema });
  const { rootElement } = await moddle.fromXML(xml);
  const problems: string[] = [];
  // bpmn-js shows the content of a collapsed sub-process on a plane of its own, even when its
  // DI sits on the process's plane: group what is drawn by the plane it is seen on.
  const collapsed = new Set<string>();
  for (const diagram of rootElement.diagrams ?? []) {
    for (const di of diagram.plane.planeElement ?? []) {
      if (di.$type === 'bpmndi:BPMNShape' && di.bpmnElement?.$type === 'bpmn:SubProcess' && !di.isExpanded) collapsed.add(di.bpmnElement.id);
    }
  }
  const planeOf = (element: any, fallback: string): string => {
    for (let parent = element.$parent; parent; parent = parent.$parent) if (collapsed.has(parent.id)) return parent.id;
    return fallback;
  };
  const planes = new Map<string, any[]>();
  for (const diagram of rootElement.diagrams ?? []) {
    for (const di of diagram.plane.planeElement ?? []) {
      if (!di.bpmnElement) continue;
      const plane = planeOf(di.bpmnElement, diagram.plane.bpmnElement?.id ?? diagram.id);
      planes.set(plane, [...(planes.get(plane) ?? []), di]);
    }
  }
  for (const planeElements of planes.values()) {
    const shapes: Array<{ id: string; box: Box; element: any }> = [];
    const labels: Array<{ id: string; box: Box; owner: string }> = [];
    const flows: Array<{ id: string; points: Point[]; source: string; target: string }> = [];
    for (const di of planeElements) {
      const element = di.bpmnElement;
      if (!element) continue;
      const name = typeof element.name === 'string' ? element.name.trim() : '';
      const explicit = di.label?.bounds ? { x: di.label.bounds.x, y: di.label.bounds.y, width: di.label.bounds.width, height: di.label.bounds.height } : null;
      if (di.$type === 'bpmndi:BPMNShape') {
        const box = { x: di.bounds.x, y: di.bounds.y, width: di.bounds.width, height: di.bounds.height };
        // An expanded sub-process contains its children: it is their background, not an obstacle.
        if (!(element.$type === 'bpmn:SubProcess' && di.isExpanded)) shapes.push({ id: element.id, box, element });
        if (name && EXTERNAL_LABELS.test(element.$type)) labels.push({ id: `label of ${element.id}`, box: labelBox(name, box, null, explicit), owner: element.id });
      } else if (di.$type === 'bpmndi:BPMNEdge') {
        const points = (di.waypoint ?? []).map((point: Point) => ({ x: point.x, y: point.y }));
        flows.push({ id: element.id, points, source: element.sourceRef?.id, target: element.targetRef?.id });
        if (name && EXTERNAL_LABELS.test(element.$type)) labels.push({ id: `label of ${element.id}`, box: labelBox(name, null, points, explicit), owner: element.id });
      }
    }
    const attachedTo = new Map(shapes.filter((shape) => shape.element.attachedToRef).map((shape) => [shape.id, shape.element.attachedToRef.id as string]));
    for (let i = 0; i < labels.length; i++) {
      for (let j = i + 1; j < labels.length; j++) {
        if (overlaps(labels[i]!.box, labels[j]!.box, 1)) problems.push(`${labels[i]!.id} overlaps ${labels[j]!.id}`);
      }
      for (const shape of shapes) {
        if (shape.id === labels[i]!.owner) continue;
        if (overlaps(labels[i]!.box, shape.box, 1)) problems.push(`${labels[i]!.id} overlaps ${shape.id}`);
      }
      for (const flow of flows) {
        if (flow.id === labels[i]!.owner) continue;
        for (let k = 0; k + 1 < flow.points.length; k++) {
          if (segmentCrossesBox(flow.points[k]!, flow.points[k + 1]!, labels[i]!.box, 1)) {
            problems.push(`${labels[i]!.id} lies on flow ${flow.id}`);
            break;
          }
        }
      }
    }
    for (const flow of flows) {
      for (const shape of shapes) {
        const ends = [flow.source, flow.target];
        // A boundary event sits on its host: a flow from it may leave across the host's edge.
        if (ends.includes(shape.id) || ends.some((end) => attachedTo.get(end) === shape.id) || attachedTo.get(shape.id) !== undefined && ends.includes(attachedTo.get(shape.id)!)) continue;
        for (let k = 0; k + 1 < flow.points.length; k++) {
          if (segmentCrossesBox(flow.points[k]!, flow.points[k + 1]!, shape.box)) {
            problems.push(`flow ${flow.id} runs through ${shape.id}`);
            break;
          }
        }
      }
    }
    for (let i = 0; i < flows.length; i++) {
      for (let j = i + 1; j < flows.length; j++) {
        const a = flows[i]!;
        const b = flows[j]!;
        if (a.source === b.source || a.target === b.target || a.target === b.source || a.source === b.target) continue;
        let found = false;
        for (let k = 0; k + 1 < a.points.length && !found; k++) {
          for (let m = 0; m + 1 < b.points.length && !found; m++) {
            found = sharedRun([a.points[k]!, a.points[k + 1]!], [b.points[m]!, b.points[m + 1]!]);
          }
        }
        if (found) problems.push(`flow ${a.id} runs along flow ${b.id}`);
      }
    }
  }
  return problems;
}
