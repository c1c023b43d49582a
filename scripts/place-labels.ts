/**
 * Moves the external labels that overlap a label, a shape or a flow to the nearest free spot
 * around their element (written as BPMNLabel bounds in the DI, the rest of the file untouched),
 * then lists what is left: `tsx scripts/place-labels.ts processes/ci-pipeline.bpmn ...`.
 * scripts/diagram-layout-check.ts says what overlaps; test/unit/diagram-layout.test.ts holds
 * the shipped diagrams to it.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { labelBox, layoutProblems, type Box } from './diagram-layout-check.js';

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The DI block (shape or edge) of an element. */
function diBlock(xml: string, elementId: string): { start: number; end: number; text: string } | null {
  const open = new RegExp(`<bpmndi:BPMN(Shape|Edge)\\b[^>]*\\bbpmnElement="${escape(elementId)}"[^>]*>`).exec(xml);
  if (!open) return null;
  const close = xml.indexOf(`</bpmndi:BPMN${open[1]}>`, open.index);
  return { start: open.index, end: close + `</bpmndi:BPMN${open[1]}>`.length, text: xml.slice(open.index, close + `</bpmndi:BPMN${open[1]}>`.length) };
}

function withLabel(xml: string, elementId: string, box: Box): string {
  const block = diBlock(xml, elementId);
  if (!block) return xml;
  const indent = /\n(\s*)<\/bpmndi:BPMN(Shape|Edge)>$/.exec(block.text)?.[1] ?? '      ';
  const label = `${indent}  <bpmndi:BPMNLabel>\n${indent}    <dc:Bounds x="${Math.round(box.x)}" y="${Math.round(box.y)}" width="${Math.round(box.width)}" height="${Math.round(box.height)}" />\n${indent}  </bpmndi:BPMNLabel>\n`;
  const stripped = block.text.replace(/\s*<bpmndi:BPMNLabel>[\s\S]*?<\/bpmndi:BPMNLabel>/, '');
  const closing = stripped.lastIndexOf('</bpmndi:BPMN');
  const before = stripped.slice(0, closing).replace(/\s*$/, '\n');
  return xml.slice(0, block.start) + before + label + indent + stripped.slice(closing) + xml.slice(block.end);
}

function number(text: string, name: string): number {
  return Number(new RegExp(`\\b${name}="(-?[\\d.]+)"`).exec(text)?.[1]);
}

/** Spots to try for a label, nearest first. */
function candidates(xml: string, elementId: string, name: string): Box[] {
  const block = diBlock(xml, elementId);
  if (!block) return [];
  if (block.text.startsWith('<bpmndi:BPMNShape')) {
    const bounds = /<dc:Bounds[^>]*>/.exec(block.text)![0];
    const shape = { x: number(bounds, 'x'), y: number(bounds, 'y'), width: number(bounds, 'width'), height: number(bounds, 'height') };
    const size = labelBox(name, shape, null, null);
    const cx = shape.x + shape.width / 2;
    const cy = shape.y + shape.height / 2;
    const spots: Array<[number, number]> = [];
    for (const gap of [4, 14, 28]) {
      spots.push(
        [cx - size.width / 2, shape.y - size.height - gap], // above
        [shape.x + shape.width + gap, cy - size.height / 2 - 14], // right, a little up
        [shape.x - size.width - gap, cy - size.height / 2 - 14], // left, a little up
        [shape.x + shape.width + gap, shape.y + shape.height + gap - 6], // below right
        [shape.x - size.width - gap, shape.y + shape.height + gap - 6], // below left
        [shape.x + shape.width + gap, shape.y - size.height - gap + 6], // above right
        [shape.x - size.width - gap, shape.y - size.height - gap + 6], // above left
        [cx - size.width / 2, shape.y + shape.height + gap], // below
      );
    }
    return spots.map(([x, y]) => ({ x, y, width: size.width, height: size.height }));
  }
  const points = [...block.text.matchAll(/<di:waypoint x="(-?[\d.]+)" y="(-?[\d.]+)"/g)].map((match) => ({ x: Number(match[1]), y: Number(match[2]) }));
  const size = labelBox(name, null, points, null);
  const spots: Box[] = [];
  for (let k = 0; k + 1 < points.length; k++) {
    const p = points[k]!;
    const q = points[k + 1]!;
    for (const t of [0.5, 0.25, 0.75]) {
      const x = p.x + (q.x - p.x) * t;
      const y = p.y + (q.y - p.y) * t;
      if (Math.abs(p.y - q.y) < 1) {
        spots.push({ x: x - size.width / 2, y: y - size.height - 3, width: size.width, height: size.height }, { x: x - size.width / 2, y: y + 3, width: size.width, height: size.height });
      } else {
        spots.push({ x: x + 4, y: y - size.height / 2, width: size.width, height: size.height }, { x: x - size.width - 4, y: y - size.height / 2, width: size.width, height: size.height });
      }
    }
  }
  return spots;
}

const involving = (problems: string[], elementId: string) => problems.filter((problem) => problem.includes(`label of ${elementId} `) || problem.endsWith(`label of ${elementId}`));

export async function placeLabels(xml: string): Promise<{ xml: string; moved: string[]; left: string[] }> {
  const moved: string[] = [];
  let problems = await layoutProblems(xml);
  const tried = new Set<string>();
  for (;;) {
    const culprit = problems.map((problem) => /label of (\S+)/.exec(problem)?.[1]).find((id): id is string => Boolean(id) && !tried.has(id!));
    if (!culprit) break;
    tried.add(culprit);
    const name = new RegExp(`<bpmn:\\w+ id="${escape(culprit)}"[^>]*\\bname="([^"]*)"`).exec(xml)?.[1]?.replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"') ?? '';
    for (const box of candidates(xml, culprit, name)) {
      const next = withLabel(xml, culprit, box);
      const after = await layoutProblems(next);
      if (!involving(after, culprit).length && after.length < problems.length) {
        xml = next;
        problems = after;
        moved.push(culprit);
        break;
      }
    }
  }
  return { xml, moved, left: problems };
}

if (process.argv[1]?.endsWith('place-labels.ts')) {
  for (const file of process.argv.slice(2)) {
    const { xml, moved, left } = await placeLabels(await readFile(file, 'utf8'));
    await writeFile(file, xml);
    console.log(`${file}: moved ${moved.length} label(s)${moved.length ? ` (${moved.join(', ')})` : ''}; ${left.length} problem(s) left`);
    for (const problem of left) console.log(`  ${problem}`);
  }
}
