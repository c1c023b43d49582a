/**
 * Lays out BPMN files that have no diagram yet (bpmn-auto-layout) and checks them as a
 * deploy would: `tsx scripts/layout-bpmn.ts scripts/process-sources/x.bpmn processes/`.
 * The sources of the shipped entropy processes are in scripts/process-sources/ without layout.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { createRequire } from 'node:module';
import { layoutProcess } from 'bpmn-auto-layout';
import { BpmnModdle } from 'bpmn-moddle';
import { analyseDefinition, closeAnalyser } from '../src/engine/definitions/analyse-definition.js';

const camundaSchema = createRequire(import.meta.url)('camunda-bpmn-moddle/resources/camunda.json');

/** bpmn-auto-layout follows incoming/outgoing: derive them from the sequence flows. */
async function linkFlows(xml: string): Promise<string> {
  const moddle = new BpmnModdle({ camunda: camundaSchema });
  const { rootElement } = await moddle.fromXML(xml);
  for (const process of rootElement.rootElements.filter((element: any) => element.$type === 'bpmn:Process')) {
    for (const flow of process.flowElements.filter((element: any) => element.$type === 'bpmn:SequenceFlow')) {
      flow.sourceRef.outgoing = [...(flow.sourceRef.outgoing ?? []).filter((f: any) => f !== flow), flow];
      flow.targetRef.incoming = [...(flow.targetRef.incoming ?? []).filter((f: any) => f !== flow), flow];
    }
  }
  return (await moddle.toXML(rootElement, { format: true })).xml;
}

const files = process.argv.slice(2, -1);
const target = process.argv.at(-1) as string;
for (const file of files) {
  const laidOut = await layoutProcess(await linkFlows(await readFile(file, 'utf8')));
  const analysis = await analyseDefinition(laidOut);
  for (const finding of [...analysis.errors, ...analysis.warnings]) console.log(`${file}: ${finding.severity} ${finding.elementId ?? ''} ${finding.message}`);
  if (!analysis.ok) process.exitCode = 1;
  await writeFile(join(target, basename(file)), laidOut);
  console.log(`${file} -> ${join(target, basename(file))}: ${analysis.ok ? 'ok' : 'rejected'}`);
}
await closeAnalyser();
