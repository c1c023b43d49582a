/**
 * What the GIN index on instance variables (migration 0028b) costs and buys, on PostgreSQL:
 * the time of one variable update per instance (what every transition writes) and of an
 * equality search (`variables @> '{"customer": "…"}'`), on the same rows with and without the
 * index, interleaved rounds, medians.
 *
 *   DATABASE_URL=postgres://… npm run bench:variable-index -- --rows 20000 --updates 2000 --rounds 3
 */
import { randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import knexFactory, { type Knex } from 'knex';

const { values } = parseArgs({ options: { rows: { type: 'string', default: '20000' }, updates: { type: 'string', default: '2000' }, rounds: { type: 'string', default: '3' } } });
const rows = Number(values.rows);
const updates = Number(values.updates);
const rounds = Number(values.rounds);
const url = process.env.DATABASE_URL;
if (!url) throw new Error('set DATABASE_URL to a PostgreSQL server');

const median = (list: number[]) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)]!;

async function table(knex: Knex, name: string, indexed: boolean): Promise<string[]> {
  await knex.schema.dropTableIfExists(name);
  await knex.schema.createTable(name, (t) => {
    t.uuid('id').primary();
    t.text('status').notNullable();
    t.jsonb('variables').notNullable();
    t.jsonb('state');
  });
  const ids: string[] = [];
  for (let offset = 0; offset < rows; offset += 1000) {
    const batch = Array.from({ length: Math.min(1000, rows - offset) }, (_, index) => {
      const id = randomUUID();
      ids.push(id);
      const n = offset + index;
      return { id, status: 'active', variables: JSON.stringify({ customer: `customer-${n % 500}`, amount: n % 1000, note: 'x'.repeat(40), items: [n, n + 1] }), state: JSON.stringify({ n }) };
    });
    await knex(name).insert(batch);
  }
  if (indexed) await knex.raw(`create index ${name}_variables on ${name} using gin (variables jsonb_path_ops)`);
  await knex.raw(`vacuum analyze ${name}`);
  return ids;
}

async function main() {
  const admin = knexFactory({ client: 'pg', connection: url, pool: { min: 0, max: 1 } });
  const database = `regenflow_bench_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  await admin.raw(`create database ${database}`);
  const target = new URL(url!);
  target.pathname = `/${database}`;
  const knex = knexFactory({ client: 'pg', connection: target.toString(), pool: { min: 1, max: 1 } });
  try {
    const plain = await table(knex, 'plain', false);
    const indexed = await table(knex, 'indexed', true);
    const results: Record<string, { update: number[]; search: number[] }> = { plain: { update: [], search: [] }, indexed: { update: [], search: [] } };
    for (let round = 0; round < rounds; round++) {
      for (const [name, ids] of [['plain', plain], ['indexed', indexed]] as const) {
        let started = performance.now();
        for (let i = 0; i < updates; i++) {
          const id = ids[(i * 7919 + round) % ids.length]!;
          // A transition rewrites state and variables of one row.
          await knex(name).where({ id }).update({ variables: knex.raw(`variables || ?::jsonb`, [JSON.stringify({ amount: i, step: round })]), state: JSON.stringify({ i }) });
        }
        results[name]!.update.push(((performance.now() - started) * 1000) / updates);
        started = performance.now();
        for (let i = 0; i < 50; i++) await knex(name).whereRaw('variables @> ?::jsonb', [JSON.stringify({ customer: `customer-${(i * 37) % 500}` })]).select('id');
        results[name]!.search.push((performance.now() - started) / 50);
      }
    }
    const [load] = loadavg();
    console.log(`rows ${rows}, ${updates} updates and 50 searches per round, ${rounds} rounds, load average ${load!.toFixed(1)}`);
    for (const name of ['plain', 'indexed'] as const) {
      console.log(`${name.padEnd(8)} update median ${median(results[name]!.update).toFixed(0)} µs/row   search median ${median(results[name]!.search).toFixed(2)} ms/query`);
    }
    console.log(`update cost ratio (indexed/plain): ${(median(results.indexed!.update) / median(results.plain!.update)).toFixed(2)}`);
    console.log(`search speed-up (plain/indexed): ${(median(results.plain!.search) / median(results.indexed!.search)).toFixed(1)}`);
  } finally {
    await knex.destroy();
    await admin.raw(`drop database if exists ${database} with (force)`);
    await admin.destroy();
  }
}

await main();
