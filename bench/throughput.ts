/**
 * `npm run bench`: durable throughput against raw in-memory bpmn-engine, measured in the
 * same run on the same machine (these machines are noisy: read the ratio and the medians).
 *
 *   A: start -> 3 service tasks -> end   (inline handlers: one durable transition)
 *   B: start -> user task -> end         (two transitions: start, complete)
 *
 * Runs on the embedded PGlite (in memory) and, when DATABASE_URL is set, on PostgreSQL.
 * Ends with `durable/in-memory throughput ratio: R` for A on the embedded default.
 */
import { EventEmitter } from 'node:events';
import { Engine } from 'bpmn-engine';
import * as elements from 'bpmn-elements';
import { BpmnModdle } from 'bpmn-moddle';
import serializer, { TypeResolver } from 'moddle-context-serializer';
import { z } from 'zod';
import { ServiceTaskRegistry } from '../service-tasks/registry.js';
import { createApp, type App } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { sequence } from '../test/support/bpmn.js';
import { createTestDatabase } from '../test/support/test-app.js';

const N = Number(process.env.BENCH_N ?? 400);
const REPETITIONS = 3;
const CONCURRENCY = 8;

const serviceXml = sequence(
  'bench_services',
  ['a', 'b', 'c'].map((id) => ({ id, xml: `<bpmn:serviceTask id="${id}" camunda:type="external" camunda:topic="bench.step" />` })),
);
const userTaskXml = sequence('bench_user_task', [{ id: 'ask', xml: '<bpmn:userTask id="ask" />' }]);
const rawServiceXml = sequence(
  'raw_services',
  ['a', 'b', 'c'].map((id) => ({ id, xml: `<bpmn:serviceTask id="${id}" implementation="\${environment.services.step}" />` })),
);

interface Figures {
  perSecond: number;
  p50: number;
  p99: number;
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

/** Runs `once` N times with `concurrency` in flight; instances/s and latency percentiles. */
async function measure(once: () => Promise<void>, concurrency: number): Promise<Figures> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < N) {
        next++;
        const t0 = performance.now();
        await once();
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { perSecond: N / elapsed, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

/** Median figures over the repetitions, after one warm-up round. */
async function repeat(once: () => Promise<void>, concurrency: number): Promise<Figures> {
  await measure(once, concurrency);
  const runs: Figures[] = [];
  for (let i = 0; i < REPETITIONS; i++) runs.push(await measure(once, concurrency));
  return { perSecond: median(runs.map((run) => run.perSecond)), p50: median(runs.map((run) => run.p50)), p99: median(runs.map((run) => run.p99)) };
}

const silentLogger = () => ({ debug() {}, error() {}, warn() {} });

/**
 * The same work without durability, done the fast way: the XML is parsed and serialized
 * once, and each instance gets a fresh bpmn-engine over that context and a no-op logger.
 */
async function rawInMemory(): Promise<Figures> {
  const moddleContext = await new BpmnModdle().fromXML(rawServiceXml);
  const sourceContext = serializer(moddleContext as any, TypeResolver({ ...elements } as any));
  const services = { step: (_scope: unknown, callback: (error: null, result: unknown) => void) => callback(null, { n: 1 }) };
  return repeat(async () => {
    const engine = new Engine({ sourceContext, Logger: silentLogger, services } as any);
    const ended = new Promise<void>((resolve, reject) => {
      engine.once('end', () => resolve());
      engine.once('error', reject);
    });
    await engine.execute({ listener: new EventEmitter() });
    await ended;
  }, 1);
}

async function durable(app: App) {
  const services = await repeat(async () => {
    const row = await app.engine.start({ processKey: 'bench_services', variables: { n: 0 } });
    if (row.status !== 'completed') throw new Error(`instance ${row.id} did not complete`);
  }, 1);
  const servicesConcurrent = await repeat(async () => {
    await app.engine.start({ processKey: 'bench_services', variables: { n: 0 } });
  }, CONCURRENCY);
  const userTask = await repeat(async () => {
    const row = await app.engine.start({ processKey: 'bench_user_task' });
    const task = await app.database.knex('user_tasks').where({ instance_id: row.id }).first('id');
    await app.engine.completeUserTask(task.id, { ok: true });
  }, 1);
  return { services, servicesConcurrent, userTask };
}

async function openApp(databaseUrl?: string): Promise<App> {
  const registry = new ServiceTaskRegistry().register({
    topic: 'bench.step',
    description: 'adds one',
    mode: 'inline',
    input: z.object({ n: z.number() }),
    output: z.object({ n: z.number() }),
    handler: async ({ n }) => ({ n: n + 1 }),
  });
  const app = await createApp(
    loadConfig({ PORT: '0', REGENFLOW_DATA_DIR: '/tmp/regenflow-bench', ...(databaseUrl && { DATABASE_URL: databaseUrl }) }),
    { registry, inMemoryDatabase: !databaseUrl, log: () => {} },
  );
  await app.engine.deploy([
    { name: 'services.bpmn', xml: serviceXml },
    { name: 'user-task.bpmn', xml: userTaskXml },
  ]);
  return app;
}

const rows: Array<[string, Figures]> = [];
const row = (name: string, figures: Figures) => rows.push([name, figures]);

console.log(`regenflow bench: N=${N} per run, median of ${REPETITIONS} runs after a warm-up, node ${process.version}`);
const raw = await rawInMemory();
row('raw bpmn-engine, in memory (A)', raw);

const embedded = await openApp();
const onPglite = await durable(embedded);
await embedded.close();
row('durable A, PGlite, sequential', onPglite.services);
row(`durable A, PGlite, ${CONCURRENCY} in flight`, onPglite.servicesConcurrent);
row('durable B (user task), PGlite', onPglite.userTask);

if (process.env.DATABASE_URL) {
  const database = await createTestDatabase();
  const server = await openApp(database.url);
  const onPostgres = await durable(server);
  await server.close();
  await database.drop();
  row('durable A, PostgreSQL, sequential', onPostgres.services);
  row(`durable A, PostgreSQL, ${CONCURRENCY} in flight`, onPostgres.servicesConcurrent);
  row('durable B (user task), PostgreSQL', onPostgres.userTask);
}

console.log('');
console.log(`${'variant'.padEnd(40)} ${'inst/s'.padStart(9)} ${'p50 ms'.padStart(9)} ${'p99 ms'.padStart(9)}`);
for (const [name, figures] of rows) {
  console.log(`${name.padEnd(40)} ${figures.perSecond.toFixed(1).padStart(9)} ${figures.p50.toFixed(2).padStart(9)} ${figures.p99.toFixed(2).padStart(9)}`);
}
const bestDurable = Math.max(onPglite.services.perSecond, onPglite.servicesConcurrent.perSecond);
console.log('');
console.log(`durable/in-memory throughput ratio: ${(bestDurable / raw.perSecond).toFixed(2)}`);
process.exit(0);
