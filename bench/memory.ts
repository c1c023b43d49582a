/**
 * `npm run bench:memory`: what a waiting instance costs. Parks N instances on a user task,
 * then N on a one-day timer, and prints per waiting instance: the heap growth (after a full
 * collection; a durable engine keeps nothing per parked instance in memory, so this should be
 * near zero), the database growth (pg_database_size) and the tables it went to, and on PGlite
 * the data folder's growth on disk.
 *
 * Then, per definition size (4, 52, 202 and 1,002 activities: start, a user task, plain tasks,
 * end), the stored state of one instance waiting on its user task: as stored (the lean format,
 * stateFormat 2) and in bpmn-engine's full listing, which rows held before (format 1).
 *
 *   npm run bench:memory -- --n 20000 --concurrency 8 --database pglite|postgres|both
 */
import { readdirSync, statSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ServiceTaskRegistry } from '../service-tasks/registry.js';
import { createApp, type App } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { sequence } from '../test/support/bpmn.js';
import { createTestDatabase } from '../test/support/test-app.js';
import { Engine } from 'bpmn-engine';
import { compileDefinition } from '../src/engine/definition-cache.js';
import * as definitionsStore from '../src/store/definitions.js';

function usage(message: string): never {
  console.error(`bench:memory: ${message}`);
  console.error('usage: npm run bench:memory -- [--n N] [--concurrency C] [--database pglite|postgres|both]');
  process.exit(2);
}

const { values: args } = (() => {
  try {
    return parseArgs({ options: { n: { type: 'string' }, concurrency: { type: 'string' }, database: { type: 'string' } }, strict: true });
  } catch (error) {
    return usage(error instanceof Error ? error.message : String(error));
  }
})();
const positiveInteger = (name: string, given: string | undefined, fallback: number) => {
  if (given === undefined) return fallback;
  const value = Number(given);
  if (!Number.isInteger(value) || value < 1) usage(`${name} must be a positive integer, got '${given}'`);
  return value;
};
const N = positiveInteger('--n', args.n ?? process.env.BENCH_N, 20_000);
const CONCURRENCY = positiveInteger('--concurrency', args.concurrency, 8);
const DATABASES = args.database ?? (process.env.DATABASE_URL ? 'both' : 'pglite');
if (!['pglite', 'postgres', 'both'].includes(DATABASES)) usage(`--database must be pglite, postgres or both, got '${DATABASES}'`);
if (DATABASES !== 'pglite' && !process.env.DATABASE_URL) usage('--database postgres needs DATABASE_URL');

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

const userTaskXml = sequence('bench_park_task', [{ id: 'ask', xml: '<bpmn:userTask id="ask" />' }]);
const timerXml = sequence('bench_park_timer', [
  { id: 'wait', xml: '<bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition><bpmn:timeDuration xsi:type="bpmn:tFormalExpression">P1D</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>' },
]);

/** Heap in use after full collections (two, so that finalizers' garbage goes too). */
function settledHeap(): number {
  collectGarbage();
  collectGarbage();
  return process.memoryUsage().heapUsed;
}

function folderBytes(path: string): number {
  let total = 0;
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    const full = join(path, entry.name);
    total += entry.isDirectory() ? folderBytes(full) : statSync(full).size;
  }
  return total;
}

async function tableBytes(app: App): Promise<Map<string, number>> {
  const result = await app.database.knex.raw(
    "select c.relname as name, pg_total_relation_size(c.oid)::bigint as bytes from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.relkind = 'r' and n.nspname = 'public'",
  );
  return new Map((result.rows as Array<{ name: string; bytes: string }>).map((row) => [row.name, Number(row.bytes)]));
}

async function databaseBytes(app: App): Promise<number> {
  const result = await app.database.knex.raw('select pg_database_size(current_database())::bigint as bytes');
  return Number(result.rows[0].bytes);
}

async function park(app: App, processKey: string, count: number): Promise<number> {
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < count) {
        next++;
        const row = await app.engine.start({ processKey });
        if (row.status !== 'active') throw new Error(`instance ${row.id} is ${row.status}, expected it waiting`);
      }
    }),
  );
  return count / ((performance.now() - started) / 1000);
}

async function runOn(kind: 'pglite' | 'postgres'): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'regenflow-bench-memory-'));
  const database = kind === 'postgres' ? await createTestDatabase() : undefined;
  const app = await createApp(
    loadConfig({ PORT: '0', REGENFLOW_DATA_DIR: dataDir, ...(database?.url && { DATABASE_URL: database.url }) }),
    { registry: new ServiceTaskRegistry(), log: () => {} },
  );
  try {
    await app.engine.deploy([
      { name: 'bench-park-task.bpmn', xml: userTaskXml },
      { name: 'bench-park-timer.bpmn', xml: timerXml },
    ]);
    // Warm-up: caches, compiled code, pools; not counted.
    await park(app, 'bench_park_task', 50);
    await park(app, 'bench_park_timer', 50);
    console.log(`\n${app.database.description}: ${N} instances per kind, ${CONCURRENCY} starts in flight; load average ${loadavg().map((v) => v.toFixed(2)).join(' ')}`);
    for (const [label, processKey] of [
      ['user task', 'bench_park_task'],
      ['one-day timer', 'bench_park_timer'],
    ] as const) {
      const heapBefore = settledHeap();
      const rssBefore = process.memoryUsage().rss;
      const dbBefore = await databaseBytes(app);
      const tablesBefore = await tableBytes(app);
      const folderBefore = kind === 'pglite' ? folderBytes(dataDir) : 0;
      const rate = await park(app, processKey, N);
      const heapGrowth = settledHeap() - heapBefore;
      const rssGrowth = process.memoryUsage().rss - rssBefore;
      const dbGrowth = (await databaseBytes(app)) - dbBefore;
      const tablesAfter = await tableBytes(app);
      const byTable = [...tablesAfter]
        .map(([name, bytes]) => [name, bytes - (tablesBefore.get(name) ?? 0)] as const)
        .filter(([, grew]) => grew > 0)
        .sort((a, b) => b[1] - a[1])
        .slice(0, 6)
        .map(([name, grew]) => `${name} ${(grew / N).toFixed(0)}`)
        .join(', ');
      console.log(
        `${label.padEnd(14)} heap ${(heapGrowth / N).toFixed(0).padStart(6)} B/instance, rss ${(rssGrowth / N).toFixed(0).padStart(6)} B/instance, ` +
          `database ${(dbGrowth / N).toFixed(0).padStart(6)} B/instance` +
          (kind === 'pglite' ? `, data folder ${((folderBytes(dataDir) - folderBefore) / N).toFixed(0)} B/instance` : '') +
          ` (parked at ${rate.toFixed(1)}/s)`,
      );
      console.log(`${''.padEnd(14)} by table (B/instance, with indexes): ${byTable}`);
    }
    await stateSizes(app);
    const waiting = await app.database.knex('process_instances').where({ status: 'active' }).count<{ count: string }[]>('* as count');
    console.log(`  ${waiting[0]!.count} instances waiting; load average after ${loadavg().map((v) => v.toFixed(2)).join(' ')}`);
  } finally {
    await app.close();
    await database?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** One waiting instance's stored state per definition size: lean (as stored) and full (format 1). */
async function stateSizes(app: App): Promise<void> {
  console.log('  state of one instance waiting on its user task, by definition size (compact JSON: stored lean / full listing before; on disk: pg_column_size):');
  for (const activities of [4, 52, 202, 1002]) {
    const key = `bench_state_${activities}`;
    const steps = [{ id: 'ask', xml: '<bpmn:userTask id="ask" />' }, ...Array.from({ length: activities - 3 }, (_, i) => ({ id: `t${i}`, xml: `<bpmn:task id="t${i}" />` }))];
    await app.engine.deploy([{ name: `${key}.bpmn`, xml: sequence(key, steps) }]);
    const row = await app.engine.start({ processKey: key, variables: { orderId: 42, customer: 'ACME' } });
    const stored = await app.database.knex('process_instances').where({ id: row.id }).first(app.database.knex.raw('pg_column_size(state) as bytes'), 'state');
    // The full listing: the stored state recovered into an engine and read back, as rows were written before.
    const definition = (await definitionsStore.findDefinition(app.database.knex, row.definition_id))!;
    const engine = new Engine({ name: row.id, sourceContext: compileDefinition(definition).sourceContext } as any);
    const state = typeof stored.state === 'string' ? JSON.parse(stored.state) : stored.state;
    const leanBytes = Buffer.byteLength(JSON.stringify(state));
    delete state.stateFormat;
    engine.recover(state);
    const full = await engine.getState();
    for (const definitionState of full.definitions ?? []) delete (definitionState as { source?: unknown }).source;
    const fullBytes = Buffer.byteLength(JSON.stringify({ ...full, regenflowVisits: state.regenflowVisits, regenflowEventStartTimers: state.regenflowEventStartTimers }));
    console.log(
      `    ${String(activities).padStart(5)} activities: ${(leanBytes / 1024).toFixed(1).padStart(6)} KB / ${(fullBytes / 1024).toFixed(1).padStart(6)} KB; ` +
        `on disk ${(Number(stored.bytes) / 1024).toFixed(1)} KB`,
    );
  }
}

console.log(`regenflow bench:memory: node ${process.version}, ${availableParallelism()} cores`);
try {
  if (DATABASES !== 'postgres') await runOn('pglite');
  if (DATABASES !== 'pglite') await runOn('postgres');
  process.exit(0);
} catch (error) {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exit(1);
}
