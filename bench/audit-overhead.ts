/**
 * `npm run bench:audit`: what the audit log costs. Starts instances of start -> user task
 * with and without an audit entry (one more INSERT inside the same transaction), in
 * interleaved rounds so machine drift hits both alike; each figure is the median of the
 * rounds. On in-memory PGlite, or on a fresh database of DATABASE_URL when set.
 *
 *   npm run bench:audit -- --n 300 --repetitions 5
 */
import { parseArgs } from 'node:util';
import { ServiceTaskRegistry } from '../service-tasks/registry.js';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { sequence } from '../test/support/bpmn.js';
import { createTestDatabase } from '../test/support/test-app.js';

const { values } = parseArgs({ options: { n: { type: 'string' }, repetitions: { type: 'string' } }, strict: true });
const n = Number(values.n ?? 300);
const repetitions = Number(values.repetitions ?? 5);

const database = await createTestDatabase();
const app = await createApp(
  loadConfig({ PORT: '0', REGENFLOW_DATA_DIR: '/tmp/regenflow-bench-unused', REGENFLOW_TOKENS: 'admin:bench-admin-token', ...(database.url && { DATABASE_URL: database.url }) }),
  { registry: new ServiceTaskRegistry(), inMemoryDatabase: !database.url, log: () => {} },
);
try {
  await app.engine.deploy([{ name: 'bench.bpmn', xml: sequence('bench_audit', [{ id: 'wait', xml: '<bpmn:userTask id="wait" />' }]) }]);
  const audit = { actor: 'owner:0123456789ab', action: 'instance.start', target: 'bench_audit', details: { businessKey: 'bench' } };
  const round = async (audited: boolean) => {
    const started = performance.now();
    for (let i = 0; i < n; i++) await app.engine.start({ processKey: 'bench_audit', ...(audited ? { audit } : {}) });
    return n / ((performance.now() - started) / 1000);
  };
  await round(false);
  await round(true); // warm-up
  const plain: number[] = [];
  const withAudit: number[] = [];
  for (let r = 0; r < repetitions; r++) {
    plain.push(await round(false));
    withAudit.push(await round(true));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(`database: ${app.database.description}; ${repetitions} rounds of ${n} sequential starts`);
  console.log(`starts/s without audit (baseline): ${median(plain).toFixed(0)}  rounds: ${plain.map((x) => x.toFixed(0)).join(' ')}`);
  console.log(`starts/s with audit entry:         ${median(withAudit).toFixed(0)}  rounds: ${withAudit.map((x) => x.toFixed(0)).join(' ')}`);
  console.log(`audited/plain throughput ratio: ${(median(withAudit) / median(plain)).toFixed(2)}`);
} finally {
  await app.close();
  await database.drop();
}
