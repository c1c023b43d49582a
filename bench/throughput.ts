/**
 * `npm run bench`: durable throughput and CPU cost against raw in-memory bpmn-engine, measured
 * interleaved in one run on the same machine. These machines are noisy: read the ratios, the
 * CPU per instance and the medians, never one absolute rate.
 *
 *   A: start -> 3 service tasks -> end   (inline handlers: one durable transition)
 *   B: start -> user task -> end         (two durable transitions: start, complete)
 *
 * Every variant times the same span of work: from asking for an instance to start until it
 * has ended and its result was checked (raw: the engine's `end` event; durable: the committed
 * row says completed). Raw and durable run at the same concurrency (1 and --concurrency), and
 * each ratio divides like by like. CPU ms per instance is this process's CPU time (user +
 * system, every thread) over the instances of the round; on PostgreSQL the server's own CPU is
 * not in it (it is another process), so its CPU figure flatters it.
 *
 * Durable runs through `createApp()` on the embedded default, PGlite (a fresh temporary data
 * folder, or in memory with `--pglite memory`) and, when DATABASE_URL is set, on a fresh
 * database of that PostgreSQL server (dropped afterwards). The baseline is bpmn-engine alone
 * on the same diagram with a plain service function and a no-op Logger, the definition parsed
 * once: the same work without durability.
 *
 * Two-core speed-up: regenflow has no multi-threaded execution yet, so S is what two engine
 * processes on one PostgreSQL database (one per core) do together against one process alone,
 * both running durable A with --concurrency in flight for --seconds per round, interleaved.
 * Without DATABASE_URL it is not measured and the line says so.
 *
 *   npm run bench -- --n 200 --concurrency 8 --repetitions 3 --seconds 5 --pglite disk|memory
 *                    [--pglite-on-engine-thread]   (also PGlite on the engine's thread, as before)
 *
 * The last three lines are `cpu cost ratio: C` (raw A CPU per instance / durable A PGlite CPU
 * per instance, sequential), `two-core speed-up: S`, and `durable/in-memory throughput ratio: R`
 * (durable A on PGlite / raw A, both sequential; the embedded default, like for like).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
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
import { findLatestDefinition } from '../src/store/definitions.js';
import { loadConfig } from '../src/config.js';
import { sequence } from '../test/support/bpmn.js';
import { createTestDatabase } from '../test/support/test-app.js';

// ------------------------------------------------------------------ settings

function usage(message: string): never {
  console.error(`bench: ${message}`);
  console.error('usage: npm run bench -- [--n N] [--concurrency C] [--repetitions R] [--seconds S] [--pglite disk|memory] [--pglite-on-engine-thread]');
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
        seconds: { type: 'string' },
        // Also measure PGlite on the engine's own thread (REGENFLOW_PGLITE_THREAD=false), as it ran before.
        'pglite-on-engine-thread': { type: 'boolean' },
        // Internal: this process is one of the two engine processes of the two-core round.
        'two-core-child': { type: 'string' },
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
const TWO_CORE_SECONDS = positiveInteger('--seconds', args.seconds ?? process.env.BENCH_SECONDS, 5);
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
const rawAConcurrent = variant(`raw bpmn-engine A, ${CONCURRENCY} in flight`, () => runRaw(rawServiceContext, rawServices, quietListener), CONCURRENCY);
const rawB = variant('raw bpmn-engine B, sequential', () => runRaw(rawUserTaskContext, {}, signallingListener));

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

async function openApp(options: { databaseUrl?: string; dataDir: string; inMemory: boolean; deploy?: boolean; pgliteThread?: boolean; warmInstances?: number }): Promise<App> {
  const app = await createApp(
    loadConfig({
      PORT: '0',
      REGENFLOW_DATA_DIR: options.dataDir,
      ...(options.warmInstances !== undefined && { REGENFLOW_WARM_INSTANCES: String(options.warmInstances) }),
      ...(options.pgliteThread === false && { REGENFLOW_PGLITE_THREAD: 'false' }),
      ...(options.databaseUrl && { DATABASE_URL: options.databaseUrl }),
    }),
    { registry: benchRegistry(), inMemoryDatabase: options.inMemory, log: () => {} },
  );
  if (options.deploy !== false) {
    await app.engine.deploy([
      { name: 'bench-services.bpmn', xml: serviceXml },
      { name: 'bench-user-task.bpmn', xml: userTaskXml },
    ]);
  }
  return app;
}

/** One instance of A, from the start request to its committed end (checked). */
async function startA(app: App): Promise<void> {
  const row = await app.engine.start({ processKey: 'bench_services', variables: { n: 0 } });
  if (row.status !== 'completed' || row.variables.n !== 3) {
    throw new Error(`instance ${row.id} ended ${row.status} with n=${String(row.variables.n)}, expected completed with n=3`);
  }
}

/** Registers the durable variants of one app; `label` names its database in the table. */
function durableVariants(app: App, label: string) {
  const sequential = variant(`durable A, ${label}, sequential`, () => startA(app));
  const concurrent = variant(`durable A, ${label}, ${CONCURRENCY} in flight`, () => startA(app), CONCURRENCY);
  // The task's id is looked up by instance (one indexed read): a REST client gets it the same way.
  const twoTransitions = variant(`durable B, ${label}, sequential`, async () => {
    const row = await app.engine.start({ processKey: 'bench_user_task' });
    const task = await app.database.knex('user_tasks').where({ instance_id: row.id }).first('id');
    if (!task) throw new Error(`instance ${row.id} has no user task`);
    const ended = await app.engine.completeUserTask(task.id, { ok: true });
    if (ended.status !== 'completed') throw new Error(`instance ${row.id} is ${ended.status} after its user task`);
  });
  return { sequential, concurrent, twoTransitions };
}

// ------------------------------------------------------------------ two engine processes

interface TimedRun {
  instances: number;
  cpuMs: number;
  seconds: number;
}

type ChildMessage = { ready: true } | ({ done: true } & TimedRun) | { failed: string };

/** Runs durable A with `concurrency` in flight until `seconds` have passed: what it did. */
async function runFor(app: App, seconds: number, concurrency: number): Promise<TimedRun> {
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const deadline = started + seconds * 1000;
  let instances = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        await startA(app);
        instances++;
      }
    }),
  );
  const cpu = process.cpuUsage(cpuBefore);
  return { instances, cpuMs: (cpu.user + cpu.system) / 1000, seconds: (performance.now() - started) / 1000 };
}

/** The child side: an engine process on the parent's database that runs when told to. */
async function twoCoreChild(databaseUrl: string): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'regenflow-bench-child-'));
  const app = await openApp({ databaseUrl, dataDir, inMemory: false, deploy: false });
  const send = (message: ChildMessage) => process.send!(message);
  process.on('message', (message: { run?: number; warmUp?: number; stop?: true }) => {
    void (async () => {
      if (message.stop) {
        await app.close();
        rmSync(dataDir, { recursive: true, force: true });
        process.exit(0);
      }
      try {
        if (message.warmUp) {
          for (let i = 0; i < message.warmUp; i++) await startA(app);
          send({ ready: true });
        } else if (message.run) {
          collectGarbage();
          send({ done: true, ...(await runFor(app, message.run, CONCURRENCY)) });
        }
      } catch (error) {
        send({ failed: error instanceof Error ? (error.stack ?? error.message) : String(error) });
      }
    })();
  });
  send({ ready: true });
}

class EngineProcess {
  private constructor(private readonly child: ChildProcess) {}

  static async start(databaseUrl: string): Promise<EngineProcess> {
    const child = fork(fileURLToPath(import.meta.url), ['--two-core-child', databaseUrl, '--concurrency', String(CONCURRENCY)], {
      execArgv: process.execArgv,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const engine = new EngineProcess(child);
    await engine.next();
    return engine;
  }

  private async next(): Promise<ChildMessage> {
    const [message] = (await Promise.race([once(this.child, 'message'), once(this.child, 'exit').then(([code]) => [{ failed: `exited ${code}` }])])) as [ChildMessage];
    if ('failed' in message) throw new Error(`engine process: ${message.failed}`);
    return message;
  }

  async warmUp(instances: number): Promise<void> {
    this.child.send({ warmUp: instances });
    await this.next();
  }

  async run(seconds: number): Promise<TimedRun> {
    this.child.send({ run: seconds });
    return (await this.next()) as TimedRun & { done: true };
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    this.child.send({ stop: true });
    await once(this.child, 'exit');
  }
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

const ratio = (numerator: number, denominator: number) => (denominator > 0 ? (numerator / denominator).toFixed(2) : 'n/a');

async function main(): Promise<void> {
  const pgliteDir = mkdtempSync(join(tmpdir(), 'regenflow-bench-'));
  cleanups.push(async () => rmSync(pgliteDir, { recursive: true, force: true }));
  const embedded = await openApp({ dataDir: pgliteDir, inMemory: PGLITE_MODE === 'memory' });
  cleanups.push(() => embedded.close());
  const embeddedVariants = durableVariants(embedded, 'PGlite');
  // The same B on an app without warm instances: every completion recovers from the row.
  const coldDir = mkdtempSync(join(tmpdir(), 'regenflow-bench-'));
  cleanups.push(async () => rmSync(coldDir, { recursive: true, force: true }));
  const cold = await openApp({ dataDir: coldDir, inMemory: PGLITE_MODE === 'memory', warmInstances: 0 });
  cleanups.push(() => cold.close());
  const coldB = variant('durable B, PGlite, warm instances off', async () => {
    const row = await cold.engine.start({ processKey: 'bench_user_task' });
    const task = await cold.database.knex('user_tasks').where({ instance_id: row.id }).first('id');
    if (!task) throw new Error(`instance ${row.id} has no user task`);
    const ended = await cold.engine.completeUserTask(task.id, { ok: true });
    if (ended.status !== 'completed') throw new Error(`instance ${row.id} is ${ended.status} after its user task`);
  });
  let engineThread: App | undefined;
  let engineThreadVariants: ReturnType<typeof durableVariants> | undefined;
  if (args['pglite-on-engine-thread']) {
    const folder = mkdtempSync(join(tmpdir(), 'regenflow-bench-'));
    cleanups.push(async () => rmSync(folder, { recursive: true, force: true }));
    engineThread = await openApp({ dataDir: folder, inMemory: PGLITE_MODE === 'memory', pgliteThread: false });
    cleanups.push(() => engineThread!.close());
    engineThreadVariants = durableVariants(engineThread, 'PGlite same thread');
  }

  let serverVariants: ReturnType<typeof durableVariants> | undefined;
  let serverDescription = 'not measured (DATABASE_URL is not set; no server was started)';
  let twoCore: { one: EngineProcess; two: EngineProcess } | undefined;
  if (process.env.DATABASE_URL) {
    let database: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
    try {
      database = await createTestDatabase();
    } catch (error) {
      // The embedded figures (and the ratio) are still worth having without the server.
      serverDescription = `not measured: cannot create a database on DATABASE_URL (${error instanceof Error ? error.message : String(error)})`;
    }
    if (database?.url) {
      cleanups.push(database.drop);
      const server = await openApp({ databaseUrl: database.url, dataDir: pgliteDir, inMemory: false });
      cleanups.push(() => server.close());
      serverVariants = durableVariants(server, 'PostgreSQL');
      serverDescription = `${server.database.description} (fresh database, dropped afterwards; pool ${server.config.REGENFLOW_DB_POOL})`;
      const one = await EngineProcess.start(database.url);
      cleanups.push(() => one.stop());
      const two = await EngineProcess.start(database.url);
      cleanups.push(() => two.stop());
      twoCore = { one, two };
    }
  }

  console.log(`regenflow bench: node ${process.version}, N=${N} instances per round, ${REPETITIONS} interleaved rounds after a warm-up of ${WARM_UP}, medians shown`);
  console.log(`  A: start -> 3 inline service tasks (topic ${TOPIC}) -> end, one durable transition per instance`);
  console.log('  B: start -> user task -> end, two durable transitions per instance (start, complete)');
  console.log('  span timed on every side: from the start request to the instance\'s checked end');
  console.log(`  baseline: bpmn-engine alone, definition parsed once, plain service function, no-op Logger`);
  console.log(`  embedded: ${embedded.database.description}${PGLITE_MODE === 'disk' ? ' (temporary folder, removed afterwards)' : ''}`);
  if (engineThread) console.log(`  also:     ${engineThread.database.description} (REGENFLOW_PGLITE_THREAD=false)`);
  console.log(`  server:   ${serverDescription}`);
  console.log(`  load average at start: ${loadavg().map((value) => value.toFixed(2)).join(' ')} (${availableParallelism()} cores)`);

  for (const entry of variants) await measure(entry.once, WARM_UP, entry.concurrency);
  // A start by key read the latest version with one query before it was cached per key.
  const lookups: Array<{ cpuMs: number; wallMs: number }> = [];
  for (let round = 0; round < REPETITIONS; round++) {
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    for (let i = 0; i < 200; i++) await findLatestDefinition(embedded.database.knex, 'bench_user_task');
    const cpu = process.cpuUsage(cpuBefore);
    lookups.push({ cpuMs: (cpu.user + cpu.system) / 1000 / 200, wallMs: (performance.now() - started) / 200 });
  }
  const latestLookup = { cpuMs: median(lookups.map((l) => l.cpuMs)), wallMs: median(lookups.map((l) => l.wallMs)) };
  if (twoCore) await Promise.all([twoCore.one.warmUp(WARM_UP), twoCore.two.warmUp(WARM_UP)]);
  const oneProcess: TimedRun[] = [];
  const twoProcesses: TimedRun[] = [];
  for (let round = 0; round < REPETITIONS; round++) {
    for (const entry of variants) entry.runs.push(await measure(entry.once, N, entry.concurrency));
    if (twoCore) {
      oneProcess.push(await twoCore.one.run(TWO_CORE_SECONDS));
      const [a, b] = await Promise.all([twoCore.one.run(TWO_CORE_SECONDS), twoCore.two.run(TWO_CORE_SECONDS)]);
      twoProcesses.push({ instances: a.instances + b.instances, cpuMs: a.cpuMs + b.cpuMs, seconds: Math.max(a.seconds, b.seconds) });
    }
  }
  if (rawServiceCalls !== 3 * 2 * (WARM_UP + REPETITIONS * N)) throw new Error(`raw service ran ${rawServiceCalls} times`);

  const header = `${'variant'.padEnd(46)} ${'inst/s'.padStart(8)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'cpu ms/inst'.padStart(12)} ${'vs raw'.padStart(7)}`;
  // Each durable variant against the raw variant of the same shape and concurrency.
  const rawFor = (entry: Variant) => (entry.name.startsWith('durable B') ? rawB : entry.concurrency > 1 ? rawAConcurrent : rawA);
  console.log('');
  console.log(header);
  console.log('-'.repeat(header.length));
  for (const entry of variants) {
    const figures = summary(entry);
    const versus = entry.name.startsWith('raw') ? '' : ratio(figures.perSecond, summary(rawFor(entry)).perSecond);
    console.log(
      `${entry.name.padEnd(46)} ${figures.perSecond.toFixed(1).padStart(8)} ${figures.p50.toFixed(2).padStart(8)} ` +
        `${figures.p99.toFixed(2).padStart(8)} ${figures.cpuMs.toFixed(2).padStart(12)} ${versus.padStart(7)}`,
    );
  }
  console.log('');
  console.log(`per round, raw A inst/s:               ${rawA.runs.map((run) => run.perSecond.toFixed(1)).join(', ')}`);
  console.log(`per round, durable A PGlite inst/s:    ${embeddedVariants.sequential.runs.map((run) => run.perSecond.toFixed(1)).join(', ')}`);
  const line = (label: string, set: ReturnType<typeof durableVariants>) => {
    console.log(
      `${label}: throughput ratio A ${ratio(summary(set.sequential).perSecond, summary(rawA).perSecond)}` +
        `, A ${CONCURRENCY} in flight ${ratio(summary(set.concurrent).perSecond, summary(rawAConcurrent).perSecond)}` +
        `, B ${ratio(summary(set.twoTransitions).perSecond, summary(rawB).perSecond)}` +
        `; cpu cost ratio A ${ratio(summary(rawA).cpuMs, summary(set.sequential).cpuMs)}` +
        `, B ${ratio(summary(rawB).cpuMs, summary(set.twoTransitions).cpuMs)}`,
    );
  };
  line('PGlite    ', embeddedVariants);
  {
    const on = summary(embeddedVariants.twoTransitions);
    const off = summary(coldB);
    console.log(
      `warm instances (PGlite, durable B): cpu ms/inst on ${on.cpuMs.toFixed(2)}, off ${off.cpuMs.toFixed(2)} (ratio ${ratio(on.cpuMs, off.cpuMs)}); ` +
        `p50 ms on ${on.p50.toFixed(2)}, off ${off.p50.toFixed(2)}; inst/s ratio on/off ${ratio(on.perSecond, off.perSecond)}`,
    );
    console.log(
      `latest version per key (PGlite), what a cached start no longer pays: ${latestLookup.cpuMs.toFixed(3)} cpu ms and ${latestLookup.wallMs.toFixed(3)} ms wall per query (median of ${REPETITIONS} x 200)`,
    );
  }
  if (engineThreadVariants) line('PGlite on the engine thread', engineThreadVariants);
  if (serverVariants) line('PostgreSQL', serverVariants);

  let speedUp = 'not measured (needs DATABASE_URL: two engine processes share one PostgreSQL; PGlite is one process)';
  if (twoCore) {
    const rate = (run: TimedRun) => run.instances / run.seconds;
    const cpu = (run: TimedRun) => run.cpuMs / Math.max(1, run.instances);
    const one = median(oneProcess.map(rate));
    const two = median(twoProcesses.map(rate));
    console.log(
      `two engine processes on one PostgreSQL (durable A, ${CONCURRENCY} in flight each, ${TWO_CORE_SECONDS} s rounds): ` +
        `one ${one.toFixed(1)} inst/s (${median(oneProcess.map(cpu)).toFixed(2)} cpu ms/inst), ` +
        `two ${two.toFixed(1)} inst/s (${median(twoProcesses.map(cpu)).toFixed(2)} cpu ms/inst); per round ${twoProcesses.map((run, i) => ratio(rate(run), rate(oneProcess[i]!))).join(', ')}`,
    );
    speedUp = `${ratio(two, one)} (two engine processes on one PostgreSQL vs one; there is no multi-threaded execution yet)`;
  }
  console.log(`load average at end: ${loadavg().map((value) => value.toFixed(2)).join(' ')}`);

  await cleanUp();
  console.log(`cpu cost ratio: ${ratio(summary(rawA).cpuMs, summary(embeddedVariants.sequential).cpuMs)}`);
  console.log(`two-core speed-up: ${speedUp}`);
  console.log(`durable/in-memory throughput ratio: ${ratio(summary(embeddedVariants.sequential).perSecond, summary(rawA).perSecond)}`);
}

const childOf = args['two-core-child'];
try {
  if (childOf) {
    await twoCoreChild(childOf);
  } else {
    await main();
    process.exit(0);
  }
} catch (error) {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  await cleanUp();
  process.exit(1);
}
