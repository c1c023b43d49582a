import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { layoutProblems } from '../../scripts/diagram-layout-check.js';

const root = resolve(import.meta.dirname, '../..');
/** dmedi-regeneration's layout is left to the engineer who changes its semantics this session. */
const SKIPPED: string[] = [];

const tiny = (di: string) => `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI" id="d" targetNamespace="t">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="s" name="Start here" />
    <bpmn:task id="a" name="A" />
    <bpmn:task id="b" name="B" />
    <bpmn:sequenceFlow id="f1" name="go" sourceRef="s" targetRef="b" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="dia"><bpmndi:BPMNPlane id="plane" bpmnElement="p">
    <bpmndi:BPMNShape id="s_di" bpmnElement="s"><dc:Bounds x="0" y="40" width="36" height="36" /></bpmndi:BPMNShape>
    ${di}
    <bpmndi:BPMNShape id="b_di" bpmnElement="b"><dc:Bounds x="400" y="18" width="100" height="80" /></bpmndi:BPMNShape>
    <bpmndi:BPMNEdge id="f1_di" bpmnElement="f1"><di:waypoint x="36" y="58" /><di:waypoint x="400" y="58" /></bpmndi:BPMNEdge>
  </bpmndi:BPMNPlane></bpmndi:BPMNDiagram>
</bpmn:definitions>`;

describe('diagram layout', () => {
  it('when a flow runs through a shape or a label lies on a shape, then the check names both', async () => {
    // Task a stands in the way of s -> b, and under the start event's label.
    const problems = await layoutProblems(tiny('<bpmndi:BPMNShape id="a_di" bpmnElement="a"><dc:Bounds x="-20" y="80" width="100" height="80" /></bpmndi:BPMNShape>'));
    expect(problems).toEqual(expect.arrayContaining(['label of s overlaps a']));
    const crossing = await layoutProblems(tiny('<bpmndi:BPMNShape id="a_di" bpmnElement="a"><dc:Bounds x="200" y="18" width="100" height="80" /></bpmndi:BPMNShape>'));
    expect(crossing).toEqual(['label of f1 overlaps a', 'flow f1 runs through a']);
    const clear = await layoutProblems(tiny('<bpmndi:BPMNShape id="a_di" bpmnElement="a"><dc:Bounds x="200" y="200" width="100" height="80" /></bpmndi:BPMNShape>'));
    expect(clear).toEqual([]);
  });

  const shipped = readdirSync(join(root, 'processes')).filter((name) => name.endsWith('.bpmn') && !SKIPPED.includes(name));
  it.each(shipped)('when %s is drawn, then no label overlaps a label, a shape or a flow, and no flow runs through a shape or along another', async (name) => {
    expect(await layoutProblems(readFileSync(join(root, 'processes', name), 'utf8'))).toEqual([]);
  });
});
