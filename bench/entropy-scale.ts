/**
 * `npm run bench:entropy-scale`: measuring one system with 1 M spans in the store.
 * The spans are made by generate_series inside the database (no client round trips), spread
 * over 75 minutes: 60 minutes of baseline, 15 of current window. Baseline in the same run:
 * the same measurement over a system with 10 k spans. Prints times, asserts nothing.
 *
 *   npm run bench:entropy-scale -- --spans 1000000
 */
import { parseArgs } from 'node:util';
import { measureSystem } from '../service-tasks/entropy/measure.js';
import { openDatabase } from '../src/store/database.js';
import { createEntropyStore } from '../src/store/entropy-store.js';
import { createTestDatabase } from '../test/support/test-app.js';

const { values } = parseArgs({ options: { spans: { type: 'string', default: '1000000' } } });
const SPANS = Number(values.spans);
const testDatabase = await createTestDatabase();
const database = await openDatabase({ databaseUrl: testDatabase.url, dataDir: '/tmp/regenflow-unused', poolSize: 4, inMemory: !testDatabase.url });
const store = createEntropyStore(database.knex);
const end = new Date(Date.UTC(2026, 0, 1, 12));
const windowMs = 75 * 60 * 1000;

async function fill(system: string, count: number): Promise<number> {
  const t0 = performance.now();
  await database.knex.raw(
    `insert into spans (trace_id, span_id, service_name, name, start_time, end_time, duration_ms, status_code, attributes, source)
     select md5(?::text || i::text), substr(md5(?::text || i::text || 's'), 1, 16), ?, 'op-' || (i % 7),
            ?::timestamptz + (i::double precision / ? * interval '1 millisecond' * ?),
            ?::timestamptz + (i::double precision / ? * interval '1 millisecond' * ?) + interval '20 milliseconds',
            exp(3 + ((i::bigint * 7919) % 1000) / 1000.0), case when i % 97 = 0 then 2 else 1 end,
            jsonb_build_object('http.route', '/r' || (i % 5), 'http.status_code', 200), 'otlp'
       from generate_series(1, ?::int) as i`,
    [system, system, system, new Date(end.getTime() - windowMs).toISOString(), count, windowMs, new Date(end.getTime() - windowMs).toISOString(), count, windowMs, count],
  );
  await database.knex.raw('analyze spans');
  return performance.now() - t0;
}

async function measure(system: string): Promise<number> {
  const t0 = performance.now();
  await measureSystem(store, { system, windowSeconds: 15 * 60, baselineSeconds: 60 * 60, at: end });
  return performance.now() - t0;
}

const smallFill = await fill('small-system', 10_000);
const bigFill = await fill('big-system', SPANS);
const small: number[] = [];
const big: number[] = [];
for (let round = 0; round < 3; round++) {
  small.push(await measure('small-system'));
  big.push(await measure('big-system'));
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
console.log(`database: ${database.description}`);
console.log(`insert (generate_series): 10k spans ${smallFill.toFixed(0)} ms, ${SPANS} spans ${bigFill.toFixed(0)} ms`);
console.log(`measure 10k-span system: median ${median(small).toFixed(0)} ms (${small.map((v) => v.toFixed(0)).join(', ')})`);
console.log(`measure ${SPANS}-span system: median ${median(big).toFixed(0)} ms (${big.map((v) => v.toFixed(0)).join(', ')})`);
await database.close();
await testDatabase.drop();
