import { createRequire } from 'node:module';
import { layoutProcess } from 'bpmn-auto-layout';
import { BpmnModdle } from 'bpmn-moddle';
import type { Strategy } from '../entropy/strategies.js';

const require = createRequire(import.meta.url);
const camundaSchema = require('camunda-bpmn-moddle/resources/camunda.json');

/** The process key of a strategy's workflow for a system: `regen-<system>-<strategy>`. */
export function strategyProcessKey(system: string, strategyId: string): string {
  const slug = system.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
  return `regen-${slug}-${strategyId}`;
}

/**
 * The workflow that applies one strategy to one system: start → its steps, each an external
 * service task on the step's topic (done by the system's agent, or by regenflow's `heal.*`
 * handlers) → end. Built as a model with bpmn-moddle (Camunda 7 dialect), laid out by
 * bpmn-auto-layout so it renders; the engine's deploy lints and parses it.
 */
export async function generateStrategyWorkflow(system: string, strategy: Strategy): Promise<{ processKey: string; xml: string }> {
  const moddle = new BpmnModdle({ camunda: camundaSchema }) as BpmnModdle & { create(type: string, attributes?: Record<string, unknown>): any };
  const processKey = strategyProcessKey(system, strategy.id);
  const process = moddle.create('bpmn:Process', { id: processKey, name: `${strategy.name} for ${system}`, isExecutable: true, flowElements: [] });
  const start = moddle.create('bpmn:StartEvent', { id: 'start', name: 'Strategy chosen' });
  const end = moddle.create('bpmn:EndEvent', { id: 'end', name: 'Strategy applied' });
  const tasks = strategy.steps.map((step, index) =>
    moddle.create('bpmn:ServiceTask', {
      id: `step_${index + 1}_${step.id.replace(/[^A-Za-z0-9_]/g, '_')}`,
      name: step.name,
      'camunda:type': 'external',
      'camunda:topic': step.topic,
    }),
  );
  const nodes = [start, ...tasks, end];
  const flows = nodes.slice(1).map((target, index) => {
    const source = nodes[index];
    const flow = moddle.create('bpmn:SequenceFlow', { id: `flow_${index + 1}`, sourceRef: source, targetRef: target });
    source.outgoing = [...(source.outgoing ?? []), flow];
    target.incoming = [...(target.incoming ?? []), flow];
    return flow;
  });
  process.flowElements = [...nodes, ...flows];
  const definitions = moddle.create('bpmn:Definitions', {
    id: `defs_${processKey.replace(/-/g, '_')}`,
    targetNamespace: 'http://regenflow.dev/generated',
    exporter: 'regenflow generator',
    rootElements: [process],
  });
  const { xml } = await moddle.toXML(definitions, { format: true });
  return { processKey, xml: await layoutProcess(xml) };
}
