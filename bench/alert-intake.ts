/**
 * `npm run bench:alerts`: what the alert webhook costs on top of starting the incident
 * process, measured in the same run on the same app.
 *
 *   baseline:  POST /api/messages (alert.firing, the same variables) — the bare start
 *   alerts:    POST /api/alerts/alertmanager, one new alert each — store, dedupe, start
 *   repeats:   the same notifications again — all duplicates, nothing started
 *
 * Every request is over real HTTP to an app on in-memory PGlite (or a fresh database of
 * DATABASE_URL) with processes/incident-response.bpmn deployed; every start runs the
 * analysis against the pattern store and parks in manual review. Rounds are interleaved
 * (baseline, alerts, repeats, baseline, …) and each figure is the median over rounds.
 *
 *   npm run bench:alerts -- --n 100 --repetitions 3
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { alertmanagerFixture } from '../test/support/alert-fixtures.js';
import { httpClient, repositoryRoot, TEST_TOKENS, TEST_TOKENS_SETTING } from '../test/support/server-process.js';
import { createTestDatabase } from '../test/support/test-app.js';

const { values } = parseArgs({ options: { n: { type: 'string' }, repetitions: { type: 'string' } }, strict: true });
const N = Number(values.n ?? process.env.BENCH_N ?? 100);
const REPETITIONS = Number(values.repetitions ?? 3);

const database = await createTestDatabase();
const app = await createApp(
  loadConfig({
    PORT: '0',
    REGENFLOW_DATA_DIR: '/tmp/regenflow-bench-unused',
    REGENFLOW_TOKENS: TEST_TOKENS_SETTING,
    REGENFLOW_RATE_LIMIT: '100000000',
    ...(database.url && { DATABASE_URL: database.url }),
  }),
  { inMemoryDatabase: !database.url, log: () => {} },
);
const base = `http://127.0.0.1:${await app.listen()}`;
const admin = httpClient(base);
const owner = httpClient(base, TEST_TOKENS.owner);
const alerts = httpClient(base, TEST_TOKENS.alert);
await admin('POST', '/api/deployments', { name: 'incident-response.bpmn', xml: await readFile(join(repositoryRoot, 'processes/incident-response.bpmn'), 'utf8') });

const template = alertmanagerFixture('firing');
const notification = (round: number, index: number) => {
  const payload = structuredClone(template);
  payload.alerts[0]!.fingerprint = `bench-${round}-${index}`;
  payload.alerts[0]!.labels = { ...payload.alerts[0]!.labels, instance: `app-${index}:8080` };
  return payload;
};

async function timed(work: (index: number) => Promise<{ status: number }>): Promise<number> {
  const started = performance.now();
  for (let index = 0; index < N; index++) {
    const { status } = await work(index);
    if (status >= 300) throw new Error(`request ${index} answered ${status}`);
  }
  return N / ((performance.now() - started) / 1000);
}

const rates: Record<'baseline' | 'alerts' | 'repeats', number[]> = { baseline: [], alerts: [], repeats: [] };
for (let round = -1; round < REPETITIONS; round++) {
  // Round -1 warms up (JIT, definition cache, prepared statements) and is not counted.
  const baseline = await timed((index) => {
    const alert = notification(round, index).alerts[0]!;
    return owner('POST', '/api/messages', {
      messageName: 'alert.firing',
      businessKey: `baseline-${round}-${index}`,
      variables: { fingerprint: `baseline-${round}-${index}`, labels: alert.labels, annotations: alert.annotations, startsAt: alert.startsAt, endsAt: null },
    });
  });
  const fresh = await timed((index) => alerts('POST', '/api/alerts/alertmanager', notification(round, index)));
  const repeats = await timed((index) => alerts('POST', '/api/alerts/alertmanager', notification(round, index)));
  if (round >= 0) {
    rates.baseline.push(baseline);
    rates.alerts.push(fresh);
    rates.repeats.push(repeats);
  }
}

const median = (list: number[]) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)]!;
const m = { baseline: median(rates.baseline), alerts: median(rates.alerts), repeats: median(rates.repeats) };
console.log(`database: ${app.database.description}; n=${N} per round, ${REPETITIONS} rounds, sequential requests`);
console.log(`baseline  POST /api/messages (start only)        ${m.baseline.toFixed(1)} starts/s`);
console.log(`alerts    POST /api/alerts/alertmanager (new)     ${m.alerts.toFixed(1)} alerts/s`);
console.log(`repeats   POST /api/alerts/alertmanager (dupes)   ${m.repeats.toFixed(1)} alerts/s`);
console.log(`alert/start throughput ratio: ${(m.alerts / m.baseline).toFixed(2)}`);
await app.close();
await database.drop();
