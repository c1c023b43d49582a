/**
 * `npm run bench:telemetry`: what engine tracing costs a transition, measured in the same
 * run: instances of start -> 3 inline service tasks -> end (5 activity spans + the instance
 * span each) with the tracing interceptor attached and detached, rounds interleaved
 * (off, on, off, on, ...) on one app, figures the median over the rounds. Span store writes
 * happen after the commit, so "on" is timed without waiting for them; the time to write
 * the queued spans afterwards is reported on its own.
 *
 *   npm run bench:telemetry -- --n 300 --repetitions 3
 *
 * Ends with `tracing on/off throughput ratio: R`.
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { ServiceTaskRegistry } from '../service-tasks/registry.js';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { sequence } from '../test/support/bpmn.js';
import { createTestDatabase } from '../test/support/test-app.js';

const { values } = parseArgs({ options: { n: { type: 'string' }, repetitions: { type: 'string' }, concurrency: { type: 'string' } } });
const N = Number(values.n ?? 300);
const REPETITIONS = Number(values.repetitions ?? 5);
const CONCURRENCY = Number(values.concurrency ?? 4);

const registry = new ServiceTaskRegistry().register({
  topic: 'bench.step',
  description: 'adds one',
  mode: 'inline',
  input: z.object({ n: z.number().default(0) }).passthrough(),
  output: z.object({ n: z.number() }),
  handler: async ({ n }) => ({ n: n + 1 }),
});

const database = await createTestDatabase();
const app = await createApp(
  loadConfig({
    PORT: '0',
    REGENFLOW_DATA_DIR: '/tmp/regenflow-bench-unused',
    REGENFLOW_TOKENS: 'admin:bench-admin-token',
    ...(database.url && { DATABASE_URL: database.url }),
  }),
  { registry, inMemoryDatabase: !database.url, log: () => {} },
);
const steps = [1, 2, 3].map((i) => ({ id: `s${i}`, xml: `<bpmn:serviceTask id="s${i}" camunda:type="external" camunda:topic="bench.step" />` }));
await app.engine.deploy([{ name: 'bench.bpmn', xml: sequence('bench_traced', steps) }]);

const tracing = app.engine.listeners('transition.outcome') as Array<(...args: unknown[]) => void>;
const setTracing = (on: boolean) => {
  app.engine.removeAllListeners('transition.outcome');
  if (on) for (const listener of tracing) app.engine.on('transition.outcome', listener);
};

async function round(count: number): Promise<number> {
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next++ < count) await app.engine.start({ processKey: 'bench_traced' });
    }),
  );
  return count / ((performance.now() - started) / 1000);
}

const median = (list: number[]) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)]!;
setTracing(true);
await round(Math.min(N, 100)); // warm-up
await app.telemetry.flush();

const off: number[] = [];
const on: number[] = [];
const tails: number[] = [];
const perInstance: number[] = [];
for (let r = 0; r < REPETITIONS; r++) {
  setTracing(false);
  off.push(await round(N));
  setTracing(true);
  const before = app.telemetry.pipeline.stats.written;
  on.push(await round(N));
  const flushStarted = performance.now();
  await app.telemetry.flush();
  tails.push(performance.now() - flushStarted);
  perInstance.push((app.telemetry.pipeline.stats.written - before) / N);
}
const stats = app.telemetry.pipeline.stats;
console.log(`database: ${app.database.description}; N=${N} instances per round, concurrency ${CONCURRENCY}, ${REPETITIONS} rounds`);
console.log(`tracing off: ${median(off).toFixed(1)} instances/s (rounds: ${off.map((v) => v.toFixed(0)).join(', ')})`);
console.log(`tracing on:  ${median(on).toFixed(1)} instances/s (rounds: ${on.map((v) => v.toFixed(0)).join(', ')})`);
console.log(
  `spans stored per instance: ${median(perInstance).toFixed(1)}; writing what was still queued after a round took ${median(tails).toFixed(0)} ms; dropped ${stats.dropped}, failed ${stats.failed}`,
);
await app.close();
await database.drop();
console.log(`tracing on/off throughput ratio: ${(median(on) / median(off)).toFixed(2)}`);
