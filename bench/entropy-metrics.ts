/**
 * `npm run bench:entropy-metrics`: what metrics add to measuring a system. Two systems with
 * the same spans (generate_series, 75 minutes: 60 baseline, 15 current); one also has metric
 * points — a CPU utilization gauge per core and a cumulative request-duration histogram per
 * route (differenced in SQL). Baseline in the same run: the system without metrics. Prints
 * times, asserts nothing.
 *
 *   npm run bench:entropy-metrics -- --spans 200000 --points 200000
 */
import { parseArgs } from 'node:util';
import { measureSystem } from '../service-tasks/entropy/measure.js';
import { openDatabase } from '../src/store/database.js';
import { createEntropyStore } from '../src/store/entropy-store.js';
import { createTestDatabase } from '../test/support/test-app.js';

const { values } = parseArgs({ options: { spans: { type: 'string', default: '200000' }, points: { type: 'string', default: '200000' } } });
const SPANS = Number(values.spans);
const POINTS = Number(values.points);
const testDatabase = await createTestDatabase();
const database = await openDatabase({ databaseUrl: testDatabase.url, dataDir: '/tmp/regenflow-unused', poolSize: 4, inMemory: !testDatabase.url });
const store = createEntropyStore(database.knex);
const end = new Date(Date.UTC(2026, 0, 1, 12));
const windowMs = 75 * 60 * 1000;
const start = new Date(end.getTime() - windowMs).toISOString();

async function fillSpans(system: string): Promise<void> {
  await database.knex.raw(
    `insert into spans (trace_id, span_id, service_name, name, start_time, end_time, duration_ms, status_code, attributes, source)
     select md5(?::text || i::text), substr(md5(?::text || i::text || 's'), 1, 16), ?, 'op-' || (i % 7),
            ?::timestamptz + (i::double precision / ? * interval '1 millisecond' * ?),
            ?::timestamptz + (i::double precision / ? * interval '1 millisecond' * ?) + interval '20 milliseconds',
            exp(3 + ((i::bigint * 7919) % 1000) / 1000.0), case when i % 97 = 0 then 2 else 1 end,
            jsonb_build_object('http.route', '/r' || (i % 5)), 'otlp'
       from generate_series(1, ?::int) as i`,
    [system, system, system, start, SPANS, windowMs, start, SPANS, windowMs, SPANS],
  );
}

async function fillPoints(system: string): Promise<number> {
  const t0 = performance.now();
  const half = Math.floor(POINTS / 2);
  // Gauge: 16 cores, one point per core per tick.
  await database.knex.raw(
    `insert into metric_points (service_name, name, unit, kind, temporality, series_key, attributes, time, value)
     select ?, 'system.cpu.utilization', '1', 'gauge', 0, 'cpu' || (i % 16), jsonb_build_object('cpu', i % 16),
            ?::timestamptz + (i::double precision * ?::double precision / ?) * interval '1 millisecond', 0.3 + ((i * 31) % 100) / 500.0
       from generate_series(1, ?::int) as i`,
    [system, start, windowMs, half, half],
  );
  // Cumulative histogram: 8 routes, count and sum growing per point.
  await database.knex.raw(
    `insert into metric_points (service_name, name, unit, kind, temporality, series_key, attributes, start_time, time, count, sum)
     select ?, 'http.server.request.duration', 's', 'histogram', 2, 'route' || (i % 8), jsonb_build_object('http.route', '/r' || (i % 8)),
            ?::timestamptz, ?::timestamptz + (i::double precision * ?::double precision / ?) * interval '1 millisecond', i * 10, i * 0.5
       from generate_series(1, ?::int) as i`,
    [system, start, start, windowMs, half, half],
  );
  return performance.now() - t0;
}

async function measure(system: string): Promise<number> {
  const t0 = performance.now();
  await measureSystem(store, { system, windowSeconds: 15 * 60, baselineSeconds: 60 * 60, at: end });
  return performance.now() - t0;
}

await fillSpans('spans-only');
await fillSpans('with-metrics');
const fill = await fillPoints('with-metrics');
await database.knex.raw('analyze spans');
await database.knex.raw('analyze metric_points');
const plain: number[] = [];
const metrics: number[] = [];
for (let round = 0; round < 3; round++) {
  plain.push(await measure('spans-only'));
  metrics.push(await measure('with-metrics'));
}
const median = (list: number[]) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)] as number;
console.log(`database: ${database.description}`);
console.log(`insert ${POINTS} metric points (generate_series): ${fill.toFixed(0)} ms`);
console.log(`measure ${SPANS} spans, no metrics: median ${median(plain).toFixed(0)} ms (${plain.map((v) => v.toFixed(0)).join(', ')})`);
console.log(`measure ${SPANS} spans + ${POINTS} metric points: median ${median(metrics).toFixed(0)} ms (${metrics.map((v) => v.toFixed(0)).join(', ')})`);
await database.close();
await testDatabase.drop();
