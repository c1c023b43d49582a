/**
 * `npm run bench:decisions`: what a decision costs. (1) One evaluation of the shipped
 * incident automation table: in the calling thread (`evaluateDrg`) against the worker thread
 * the server uses (`DecisionService.evaluate`: JSON copy, message round trip, records).
 * (2) An instance start that runs start -> business rule task -> user task against
 * start -> user task, so the decision's share of a transition shows. Interleaved rounds,
 * medians per operation. On in-memory PGlite, or a fresh database of DATABASE_URL when set.
 *
 *   npm run bench:decisions -- --n 300 --repetitions 5
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ServiceTaskRegistry } from '../service-tasks/registry.js';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { deployResources, evaluateDrg, parseDmn } from '../src/decisions/index.js';
import { sequence } from '../test/support/bpmn.js';
import { createTestDatabase } from '../test/support/test-app.js';

const { values } = parseArgs({ options: { n: { type: 'string' }, repetitions: { type: 'string' } }, strict: true });
const n = Number(values.n ?? 300);
const repetitions = Number(values.repetitions ?? 5);
const root = join(import.meta.dirname, '..');

const database = await createTestDatabase();
const app = await createApp(
  loadConfig({ PORT: '0', REGENFLOW_DATA_DIR: '/tmp/regenflow-bench-unused', REGENFLOW_TOKENS: 'admin:bench-admin-token', ...(database.url && { DATABASE_URL: database.url }) }),
  { registry: new ServiceTaskRegistry(), inMemoryDatabase: !database.url, log: () => {} },
);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
try {
  const xml = await readFile(join(root, 'processes', 'incident-automation-level.dmn'), 'utf8');
  const drg = await parseDmn('incident-automation-level.dmn', xml);
  const wait = { id: 'wait', xml: '<bpmn:userTask id="wait" />' };
  const decide = {
    id: 'decide',
    xml: '<bpmn:businessRuleTask id="decide" camunda:decisionRef="incident-automation-level" camunda:resultVariable="level" camunda:mapDecisionResult="singleEntry" />',
  };
  await deployResources(app.engine, app.decisions, [
    { name: 'incident-automation-level.dmn', xml },
    { name: 'plain.bpmn', xml: sequence('bench_plain', [wait]) },
    { name: 'decided.bpmn', xml: sequence('bench_decided', [decide, wait]) },
  ]);
  const confidence = (i: number) => (i % 100) / 100;

  const inThread: number[] = [];
  const inWorker: number[] = [];
  const plainStarts: number[] = [];
  const decidedStarts: number[] = [];
  await app.decisions.evaluate({ key: 'incident-automation-level' }, { confidence: 0.5 }); // the worker starts once
  for (let round = 0; round < repetitions; round++) {
    let started = performance.now();
    for (let i = 0; i < n; i++) evaluateDrg(drg, 'incident-automation-level', { confidence: confidence(i) });
    inThread.push((performance.now() - started) / n);
    started = performance.now();
    for (let i = 0; i < n; i++) await app.decisions.evaluate({ key: 'incident-automation-level' }, { confidence: confidence(i) });
    inWorker.push((performance.now() - started) / n);
    started = performance.now();
    for (let i = 0; i < n; i++) await app.engine.start({ processKey: 'bench_plain', variables: { confidence: confidence(i) } });
    plainStarts.push((performance.now() - started) / n);
    started = performance.now();
    for (let i = 0; i < n; i++) await app.engine.start({ processKey: 'bench_decided', variables: { confidence: confidence(i) } });
    decidedStarts.push((performance.now() - started) / n);
  }
  const recorded = await app.database.knex('decision_evaluations').count<{ count: string }[]>('* as count');
  console.log(`n=${n} repetitions=${repetitions} database=${database.url ? 'postgresql' : 'pglite'}`);
  console.log(`evaluation in thread: ${median(inThread).toFixed(3)} ms`);
  console.log(`evaluation in worker (as the server does): ${median(inWorker).toFixed(3)} ms`);
  console.log(`start -> user task: ${median(plainStarts).toFixed(2)} ms; start -> decision -> user task: ${median(decidedStarts).toFixed(2)} ms (${recorded[0]!.count} evaluations recorded)`);
  console.log(`decision share of a start: ${(median(decidedStarts) / median(plainStarts)).toFixed(2)}x`);
} finally {
  await app.close();
  await database.drop();
}
