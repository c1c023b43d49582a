/**
 * `npm run bench`: durable throughput against raw in-memory bpmn-engine, measured in the
 * same run on the same machine. These machines are noisy: read the ratios and the medians.
 *
 *   A: start -> 3 service tasks -> end   (inline handlers: one durable transition)
 *   B: start -> user task -> end         (two durable transitions: start, complete)
 *
 * The durable variants run through `createApp()` on the embedded default, PGlite (a fresh
 * temporary data folder, or in memory with `--pglite memory`), and, when DATABASE_URL is
 * set, on a fresh database of that PostgreSQL server (dropped afterwards). The baseline is
 * bpmn-engine alone running the same diagram with a plain service function and a no-op
 * Logger, the definition parsed once: the same work without durability.
 *
 * Every variant gets a warm-up, then REPETITIONS rounds of N instances; the rounds are
 * interleaved (raw, durable, raw, durable, ...) so that drift in machine load hits every
 * variant alike, and each figure is the median over the rounds.
 *
 *   npm run bench -- --n 200 --concurrency 8 --repetitions 3 --pglite disk|memory
 *   BENCH_N=200 npm run bench
 *
 * The last line is `durable/in-memory throughput ratio: R`, R = best of (sequential,
 * concurrent) durable A throughput on PGlite / raw A throughput.
 */
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
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

// ------------------------------------------------------------------ settings

function usage(message: string): never {
  console.error(`bench: ${message}`);
  console.error('usage: npm run bench -- [--n N] [--concurrency C] [--repetitions R] [--pglite disk|memory]');
  process.exit(2);
}

function readArgs() {
  try {
    return parseArgs({
      options: {
        n: { type: 'string' },
        concurrency: { type: 'string' },
        repetitions: { type: 'string' },
        pglite: { type: 'string' },
      },
      strict: true,
    }).values;
  } catch (error) {
    return usage(error instanceof Error ? error.message : String(error));
  }
}

function positiveInteger(name: string, given: string | undefined, fallback: number): number {
  if (given === undefined || given === '') return fallback;
  const value = Number(given);
  if (!Number.isInteger(value) || value < 1) usage(`${name} must be a positive integer, got '${given}'`);
  return value;
}

const args = readArgs();
const N = positiveInteger('--n / BENCH_N', args.n ?? process.env.BENCH_N, 500);
const CONCURRENCY = positiveInteger('--concurrency', args.concurrency ?? process.env.BENCH_CONCURRENCY, 8);
const REPETITIONS = positiveInteger('--repetitions', args.repetitions ?? process.env.BENCH_REPETITIONS, 3);
const WARM_UP = Math.min(N, 100);
const PGLITE_MODE = args.pglite ?? process.env.BENCH_PGLITE ?? 'disk';
if (PGLITE_MODE !== 'disk' && PGLITE_MODE !== 'memory') usage(`--pglite must be 'disk' or 'memory', got '${PGLITE_MODE}'`);

// A full collection between measurements keeps one variant's garbage out of the next one's figures.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

// ------------------------------------------------------------------ diagrams

const TOPIC = 'bench.step';
const serviceXml = sequence(
  'bench_services',
  ['a', 'b', 'c'].map((id) => ({ id, xml: `<bpmn:serviceTask id="${id}" camunda:type="external" camunda:topic="${TOPIC}" />` })),
);
const userTaskXml = sequence('bench_user_task', [{ id: 'ask', xml: '<bpmn:userTask id="ask" />' }]);
// The same shapes for bpmn-engine alone: the service is a plain function from the environment.
const rawServiceXml = sequence(
  'raw_services',
  ['a', 'b', 'c'].map((id) => ({ id, xml: `<bpmn:serviceTask id="${id}" implementation="\${environment.services.step}" />` })),
);
const rawUserTaskXml = sequence('raw_user_task', [{ id: 'ask', xml: '<bpmn:userTask id="ask" />' }]);

// ------------------------------------------------------------------ measuring

interface Figures {
  perSecond: number;
  p50: number;
  p99: number;
  /** CPU time of this process per instance (user + system), in ms. */
  cpuMs: number;
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

/** Runs `once` `count` times with `concurrency` in flight: instances/s and latency percentiles. */
async function measure(once: () => Promise<void>, count: number, concurrency: number): Promise<Figures> {
  collectGarbage();
  const latencies: number[] = [];
  let next = 0;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        next++;
        const t0 = performance.now();
        await once();
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  latencies.sort((a, b) => a - b);
  return {
    perSecond: count / elapsed,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    cpuMs: (cpu.user + cpu.system) / 1000 / count,
  };
}

interface Variant {
  name: string;
  once: () => Promise<void>;
  concurrency: number;
  runs: Figures[];
}

const variants: Variant[] = [];
const variant = (name: string, once: () => Promise<void>, concurrency = 1): Variant => {
  const entry = { name, once, concurrency, runs: [] };
  variants.push(entry);
  return entry;
};

const summary = (entry: Variant): Figures => ({
  perSecond: median(entry.runs.map((run) => run.perSecond)),
  p50: median(entry.runs.map((run) => run.p50)),
  p99: median(entry.runs.map((run) => run.p99)),
  cpuMs: median(entry.runs.map((run) => run.cpuMs)),
});

// ------------------------------------------------------------------ raw bpmn-engine

/** The diagram parsed and serialized once, as the durable engine does at deploy. */
async function sourceContextOf(xml: string): Promise<unknown> {
  const moddleContext = await new BpmnModdle().fromXML(xml);
  return serializer(moddleContext as any, TypeResolver({ ...elements } as any));
}

const silentLogger = () => ({ debug() {}, error() {}, warn() {} });

/** One in-memory instance: a fresh engine over the shared context; resolves when it ends. */
function runRaw(sourceContext: unknown, services: Record<string, unknown>, listener: EventEmitter): Promise<void> {
  const engine = new Engine({ sourceContext, Logger: silentLogger, services } as any);
  const ended = new Promise<void>((resolve, reject) => {
    engine.once('end', () => resolve());
    engine.once('error', reject);
  });
  return engine.execute({ listener, variables: { n: 0 } }).then(() => ended);
}

let rawServiceCalls = 0;
const rawServices = {
  step: (scope: { environment: { variables: { n?: number } } }, callback: (error: null, result: unknown) => void) => {
    rawServiceCalls++;
    callback(null, { n: (scope.environment.variables.n ?? 0) + 1 });
  },
};
const rawServiceContext = await sourceContextOf(rawServiceXml);
const rawUserTaskContext = await sourceContextOf(rawUserTaskXml);
const quietListener = new EventEmitter();
// Process B in memory: the user task is completed as soon as it waits.
const signallingListener = new EventEmitter();
signallingListener.on('wait', (api: { signal(message?: unknown): void }) => api.signal({ ok: true }));

const rawA = variant('raw bpmn-engine A, sequential', () => runRaw(rawServiceContext, rawServices, quietListener));
variant('raw bpmn-engine B, sequential', () => runRaw(rawUserTaskContext, {}, signallingListener));

// ------------------------------------------------------------------ durable

function benchRegistry(): ServiceTaskRegistry {
  return new ServiceTaskRegistry().register({
    topic: TOPIC,
    description: 'adds one',
    mode: 'inline',
    input: z.object({ n: z.number() }),
    output: z.object({ n: z.number() }),
    handler: async ({ n }) => ({ n: n + 1 }),
  });
}

async function openApp(options: { databaseUrl?: string; dataDir: string; inMemory: boolean }): Promise<App> {
  const app = await createApp(
    loadConfig({
      PORT: '0',
      REGENFLOW_DATA_DIR: options.dataDir,
      ...(options.databaseUrl && { DATABASE_URL: options.databaseUrl }),
    }),
    { registry: benchRegistry(), inMemoryDatabase: options.inMemory, log: () => {} },
  );
  await app.engine.deploy([
    { name: 'bench-services.bpmn', xml: serviceXml },
    { name: 'bench-user-task.bpmn', xml: userTaskXml },
  ]);
  return app;
}

/** Registers the durable variants of one app; `label` names its database in the table. */
function durableVariants(app: App, label: string) {
  const startA = async () => {
    const row = await app.engine.start({ processKey: 'bench_services', variables: { n: 0 } });
    if (row.status !== 'completed' || row.variables.n !== 3) {
      throw new Error(`instance ${row.id} ended ${row.status} with n=${String(row.variables.n)}, expected completed with n=3`);
    }
  };
  const sequential = variant(`durable A, ${label}, sequential`, startA);
  const concurrent = variant(`durable A, ${label}, ${CONCURRENCY} in flight`, startA, CONCURRENCY);
  variant(`durable B, ${label}, sequential`, async () => {
    const row = await app.engine.start({ processKey: 'bench_user_task' });
    const task = await app.database.knex('user_tasks').where({ instance_id: row.id }).first('id');
    if (!task) throw new Error(`instance ${row.id} has no user task`);
    const ended = await app.engine.completeUserTask(task.id, { ok: true });
    if (ended.status !== 'completed') throw new Error(`instance ${row.id} is ${ended.status} after its user task`);
  });
  return { sequential, concurrent };
}

// ------------------------------------------------------------------ the run

const cleanups: Array<() => Promise<void>> = [];
async function cleanUp(): Promise<void> {
  for (const cleanup of cleanups.reverse()) {
    try {
      await cleanup();
    } catch (error) {
      console.error(`clean-up failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  cleanups.length = 0;
}

async function main(): Promise<void> {
  const pgliteDir = mkdtempSync(join(tmpdir(), 'regenflow-bench-'));
  cleanups.push(async () => rmSync(pgliteDir, { recursive: true, force: true }));
  const embedded = await openApp({ dataDir: pgliteDir, inMemory: PGLITE_MODE === 'memory' });
  cleanups.push(() => embedded.close());
  const embeddedVariants = durableVariants(embedded, 'PGlite');

  let serverVariants: ReturnType<typeof durableVariants> | undefined;
  let serverDescription = 'not measured (DATABASE_URL is not set)';
  if (process.env.DATABASE_URL) {
    let database: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
    try {
      database = await createTestDatabase();
    } catch (error) {
      // The embedded figures (and the ratio) are still worth having without the server.
      serverDescription = `not measured: cannot create a database on DATABASE_URL (${error instanceof Error ? error.message : String(error)})`;
    }
    if (database) {
      cleanups.push(database.drop);
      const server = await openApp({ databaseUrl: database.url, dataDir: pgliteDir, inMemory: false });
      cleanups.push(() => server.close());
      serverVariants = durableVariants(server, 'PostgreSQL');
      serverDescription = `${server.database.description} (fresh database, dropped afterwards; pool ${server.config.REGENFLOW_DB_POOL})`;
    }
  }

  console.log(`regenflow bench: node ${process.version}, N=${N} instances per round, ${REPETITIONS} interleaved rounds after a warm-up of ${WARM_UP}, medians shown`);
  console.log(`  A: start -> 3 inline service tasks (topic ${TOPIC}) -> end, one durable transition per instance`);
  console.log('  B: start -> user task -> end, two durable transitions per instance (start, complete)');
  console.log(`  baseline: bpmn-engine alone, definition parsed once, plain service function, no-op Logger`);
  console.log(`  embedded: ${embedded.database.description}${PGLITE_MODE === 'disk' ? ' (temporary folder, removed afterwards)' : ''}`);
  console.log(`  server:   ${serverDescription}`);

  for (const entry of variants) await measure(entry.once, WARM_UP, entry.concurrency);
  for (let round = 0; round < REPETITIONS; round++) {
    for (const entry of variants) entry.runs.push(await measure(entry.once, N, entry.concurrency));
  }
  if (rawServiceCalls !== 3 * (WARM_UP + REPETITIONS * N)) throw new Error(`raw service ran ${rawServiceCalls} times`);

  const header = `${'variant'.padEnd(38)} ${'inst/s'.padStart(8)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'cpu ms/inst'.padStart(12)} ${'vs raw A'.padStart(9)}`;
  const raw = summary(rawA);
  console.log('');
  console.log(header);
  console.log('-'.repeat(header.length));
  for (const entry of variants) {
    const figures = summary(entry);
    console.log(
      `${entry.name.padEnd(38)} ${figures.perSecond.toFixed(1).padStart(8)} ${figures.p50.toFixed(2).padStart(8)} ` +
        `${figures.p99.toFixed(2).padStart(8)} ${figures.cpuMs.toFixed(2).padStart(12)} ${(figures.perSecond / raw.perSecond).toFixed(2).padStart(9)}`,
    );
  }
  console.log('');
  console.log(`per round, raw A inst/s:          ${rawA.runs.map((run) => run.perSecond.toFixed(1)).join(', ')}`);
  console.log(
    `per round, durable A PGlite best: ${embeddedVariants.sequential.runs
      .map((run, index) => Math.max(run.perSecond, embeddedVariants.concurrent.runs[index]!.perSecond).toFixed(1))
      .join(', ')}`,
  );
  const best = (set: ReturnType<typeof durableVariants>) => Math.max(summary(set.sequential).perSecond, summary(set.concurrent).perSecond);
  if (serverVariants) console.log(`PostgreSQL durable/in-memory throughput ratio: ${(best(serverVariants) / raw.perSecond).toFixed(2)}`);

  await cleanUp();
  console.log(`durable/in-memory throughput ratio: ${(best(embeddedVariants) / raw.perSecond).toFixed(2)}`);
}

try {
  await main();
  process.exit(0);
} catch (error) {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  await cleanUp();
  process.exit(1);
}
