import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { incidentTasks } from '../../service-tasks/incident/index.js';
import { analyseDefinition, closeAnalyser } from '../../src/engine/definitions/analyse-definition.js';
import type { FeatureFlagStore, IncidentStore } from '../../src/store/incident-store.js';
import { repositoryRoot } from '../support/server-process.js';

afterAll(() => closeAnalyser());

describe('processes/incident-response.bpmn', () => {
  it('when the shipped diagram is analysed, then it is clean, starts by alert.firing, and only remediation.remote* is left to remote workers', async () => {
    const xml = readFileSync(join(repositoryRoot, 'processes', 'incident-response.bpmn'), 'utf8');
    const analysis = await analyseDefinition(xml);
    expect(analysis).toMatchObject({ ok: true, errors: [], warnings: [] });
    const [process] = analysis.processes;
    expect(process).toMatchObject({ id: 'incident-response', messageStartEvents: [{ messageName: 'alert.firing' }] });
    // Handlers are only registered here, never called: the stores are not touched.
    const topics = new Set(incidentTasks({ store: {} as IncidentStore, flags: {} as FeatureFlagStore, settings: {} as never }).map((task) => task.topic));
    const unserved = process!.externalTopics.filter((topic) => !topics.has(topic));
    expect(unserved.sort()).toEqual(['remediation.remote', 'remediation.remote.rollback']);
    // Full layout: every flow node has a shape and every sequence flow an edge.
    const ids = (pattern: RegExp) => [...xml.matchAll(pattern)].map((match) => match[1]).sort();
    const nodes = ids(/<bpmn:(?:startEvent|endEvent|serviceTask|businessRuleTask|userTask|subProcess|exclusiveGateway|eventBasedGateway|intermediateCatchEvent|boundaryEvent) id="([^"]+)"/g);
    const flows = ids(/<bpmn:sequenceFlow id="([^"]+)"/g);
    expect(nodes.length).toBeGreaterThan(30);
    expect(ids(/<bpmndi:BPMNShape id="[^"]+" bpmnElement="([^"]+)"/g)).toEqual(nodes);
    expect(ids(/<bpmndi:BPMNEdge id="[^"]+" bpmnElement="([^"]+)"/g)).toEqual(flows);
  });
});
