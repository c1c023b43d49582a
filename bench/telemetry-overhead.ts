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
 * Then OTLP ingest: batches of 500 spans sent by the real OTLP/HTTP protobuf exporter to
 * POST /v1/traces, against inserting the same spans into the span store directly.
 *
 * Ends with `tracing on/off throughput ratio: R`.
 */
import { parseArgs } from 'node:util';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { SpanRecord } from '../src/store/spans.js';
import { toReadableSpan } from '../src/telemetry/otlp-export.js';
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
    REGENFLOW_TOKENS: 'admin:bench-admin-token,telemetry:bench-telemetry-token',
    REGENFLOW_RATE_LIMIT: '1000000',
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
// ------------------------------------------------------------------ OTLP ingest
const BATCHES = 20;
const BATCH = 500;
const port = await app.listen();
const records = (seed: string): SpanRecord[][] =>
  Array.from({ length: BATCHES }, (_, batch) =>
    Array.from({ length: BATCH }, (_, index) => {
      const start = BigInt(Date.now()) * 1_000_000n;
      return {
        traceId: `${seed}${batch.toString(16).padStart(8, '0')}`.padEnd(32, '0'),
        spanId: (index + 1).toString(16).padStart(16, '0'),
        parentSpanId: index ? '0000000000000001' : null,
        serviceName: 'bench-service',
        name: `op ${index % 20}`,
        kind: 2,
        startTimeUnixNano: start,
        endTimeUnixNano: start + 1_500_000n,
        statusCode: index % 50 === 0 ? 2 : 0,
        statusMessage: null,
        attributes: { 'http.route': `/r/${index % 20}`, 'http.response.status_code': 200 },
        resource: { 'service.name': 'bench-service' },
        scopeName: 'bench',
        events: null,
        links: null,
        instanceId: null,
        processKey: null,
        processVersion: null,
        activityId: null,
        source: 'otlp',
      } satisfies SpanRecord;
    }),
  );
const resource = resourceFromAttributes({ 'service.name': 'bench-service' });
const exporter = new OTLPTraceExporter({ url: `http://127.0.0.1:${port}/v1/traces`, headers: { authorization: 'Bearer bench-telemetry-token' } });
let started = performance.now();
for (const batch of records('aa')) {
  const spans = batch.map((record) => toReadableSpan(record, resource, { name: 'bench' }));
  await new Promise<void>((resolve, reject) => exporter.export(spans, (result) => (result.code === 0 ? resolve() : reject(result.error))));
}
const overHttp = (BATCHES * BATCH) / ((performance.now() - started) / 1000);
await exporter.shutdown();
started = performance.now();
for (const batch of records('bb')) await app.telemetry.spans.insertSpans(batch);
const direct = (BATCHES * BATCH) / ((performance.now() - started) / 1000);
console.log(`OTLP ingest (http/protobuf, ${BATCHES} x ${BATCH} spans): ${overHttp.toFixed(0)} spans/s; direct span store insert of the same: ${direct.toFixed(0)} spans/s`);

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
