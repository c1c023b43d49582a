/**
 * A migration batch over many waiting instances (issue 16: 1,000 from v1 to v2): starts `n`
 * instances waiting at a user task on v1, deploys v2 (one more task after it), migrates them all
 * with one batch run by the job poller, and checks that every one is on v2 with exactly one
 * migration in its history. Prints instances/s of the batch and of a synchronous execute.
 *
 *   npx tsx bench/batch-migration.ts --n 1000 [DATABASE_URL=postgres://...]
 */
import { parseArgs } from 'node:util';
import { ServiceTaskRegistry } from '../service-tasks/registry.js';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { sequence } from '../test/support/bpmn.js';
import { createTestDatabase } from '../test/support/test-app.js';

const { values } = parseArgs({ options: { n: { type: 'string' }, sync: { type: 'string' } }, strict: true });
const n = Number(values.n ?? 1000);
const syncN = Number(values.sync ?? Math.min(100, n));

const database = await createTestDatabase();
const app = await createApp(
  loadConfig({ PORT: '0', REGENFLOW_DATA_DIR: '/tmp/regenflow-bench-unused', REGENFLOW_TOKENS: 'admin:bench-admin-token', REGENFLOW_JOB_POLL_MS: '50', ...(database.url && { DATABASE_URL: database.url }) }),
  { registry: new ServiceTaskRegistry(), inMemoryDatabase: !database.url, log: () => {} },
);
const knex = app.database.knex;
try {
  const review = { id: 'review', xml: '<bpmn:userTask id="review" />' };
  const v1 = (await app.engine.deploy([{ name: 'bench.bpmn', xml: sequence('bench_mig', [review]) }])).definitions[0]!.id;
  const ids: string[] = [];
  for (let i = 0; i < n + syncN; i++) ids.push((await app.engine.start({ definitionId: v1 })).id);
  const v2 = (await app.engine.deploy([{ name: 'bench.bpmn', xml: sequence('bench_mig', [review, { id: 'added', xml: '<bpmn:userTask id="added" />' }]) }])).definitions[0]!.id;
  const plan = await app.engine.migrations.generate(v1, v2);

  let started = performance.now();
  await app.engine.migrations.execute(plan, ids.slice(n));
  const syncSeconds = (performance.now() - started) / 1000;

  await app.listen();
  started = performance.now();
  const batch = await app.engine.batches.create({ type: 'instance-migration', plan }, ids.slice(0, n));
  for (;;) {
    if ((await app.engine.batches.get(batch.id)).status === 'completed') break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const batchSeconds = (performance.now() - started) / 1000;

  const onV2 = Number((await knex('process_instances').whereIn('id', ids).where({ definition_id: v2 }).count({ count: '*' }).first())!.count);
  const migrations = await knex('history').whereIn('instance_id', ids).where({ event: 'instance.migrated' }).groupBy('instance_id').select('instance_id').count({ count: '*' });
  const once = migrations.filter((row) => Number(row.count) === 1).length;
  console.log(`n=${n} database=${database.url ? 'postgresql' : 'pglite'}`);
  console.log(`sync execute: ${syncN} instances in ${syncSeconds.toFixed(1)} s (${(syncN / syncSeconds).toFixed(1)}/s)`);
  console.log(`batch: ${n} instances in ${batchSeconds.toFixed(1)} s (${(n / batchSeconds).toFixed(1)}/s)`);
  console.log(`on v2: ${onV2}/${ids.length}; migrated exactly once: ${once}/${ids.length}`);
  if (onV2 !== ids.length || once !== ids.length) process.exitCode = 1;
} finally {
  await app.close();
  await database.drop();
}
