/**
 * `npm run bench:entropy`: how well the drift indicators detect injected degradations, and
 * how often they cry wolf on stable streams. Every scenario is a seeded simulated service
 * (test/support/span-simulator.ts) written into the real span store (PGlite in memory, or
 * DATABASE_URL's server) and measured by the real measurement code (SQL aggregation + tests).
 *
 *   stable         no change: any indicator that fires is a false alarm
 *   latency-shift  every duration ×1.6 from a time in the first third of the window -> latencyShift
 *   error-burst    10 % of requests fail (baseline 1 %)                              -> errorRate
 *   schema-drift   routes renamed /v2/…, http.status_code -> http.response.status_code -> semantic
 *   loop-thrash    2 % of requests loop over one activity 40 times                   -> loopThrash
 *
 *   npm run bench:entropy -- --stable 100 --per-kind 50
 *
 * Recall = detected degraded scenarios (by the indicator aimed at the degradation) / all
 * degraded scenarios; false-alarm = stable scenarios with any indicator fired / stable ones.
 * Last line: `recall: R false-alarm: F`.
 */
import { parseArgs } from 'node:util';
import { measureSystem } from '../service-tasks/entropy/measure.js';
import { openDatabase } from '../src/store/database.js';
import { createEntropyStore } from '../src/store/entropy-store.js';
import { SpanSimulator, writeSpans, type DegradationKind } from '../test/support/span-simulator.js';
import { createTestDatabase } from '../test/support/test-app.js';

const { values } = parseArgs({ options: { stable: { type: 'string', default: '100' }, 'per-kind': { type: 'string', default: '50' } } });
const STABLE = Number(values.stable);
const PER_KIND = Number(values['per-kind']);
const WINDOW_S = 600;
const BASELINE_S = 1800;
const RATE = 1;

const INDICATOR: Record<DegradationKind, string> = {
  'latency-shift': 'latencyShift',
  'error-burst': 'errorRate',
  'schema-drift': 'semantic',
  'loop-thrash': 'loopThrash',
};

const testDatabase = await createTestDatabase();
const database = await openDatabase({ databaseUrl: testDatabase.url, dataDir: '/tmp/regenflow-unused', poolSize: 4, inMemory: !testDatabase.url });
const store = createEntropyStore(database.knex);
const end = new Date(Date.UTC(2026, 0, 1, 12));
const split = new Date(end.getTime() - WINDOW_S * 1000);
const start = new Date(split.getTime() - BASELINE_S * 1000);

let falseAlarms = 0;
const firedOnStable = new Map<string, number>();
const detected = new Map<DegradationKind, number>();
const measureMs: number[] = [];
let spanCount = 0;
const started = performance.now();

async function scenario(name: string, seed: number, kind: DegradationKind | null): Promise<Record<string, { detected: boolean }>> {
  const simulator = new SpanSimulator({ system: name, seed, requestsPerSecond: RATE });
  if (kind) simulator.inject({ kind, at: new Date(split.getTime() + seededOffset(seed) * WINDOW_S * 1000) });
  const spans = simulator.generate(start, end);
  spanCount += spans.length;
  await writeSpans(database.knex, spans);
  const t0 = performance.now();
  const measurement = await measureSystem(store, { system: name, windowSeconds: WINDOW_S, baselineSeconds: BASELINE_S, at: end });
  measureMs.push(performance.now() - t0);
  return measurement.indicators as Record<string, { detected: boolean }>;
}

/** Injection time: somewhere in the first third of the current window, known per seed. */
function seededOffset(seed: number): number {
  return ((seed * 2654435761) % 1000) / 3000;
}

for (let seed = 1; seed <= STABLE; seed++) {
  const indicators = await scenario(`stable-${seed}`, seed, null);
  const fired = Object.entries(indicators).filter(([, value]) => value && typeof value === 'object' && value.detected === true);
  if (fired.length) falseAlarms++;
  for (const [indicator] of fired) firedOnStable.set(indicator, (firedOnStable.get(indicator) ?? 0) + 1);
}
for (const kind of Object.keys(INDICATOR) as DegradationKind[]) {
  for (let seed = 1; seed <= PER_KIND; seed++) {
    const indicators = await scenario(`${kind}-${seed}`, 10_000 + seed, kind);
    if (indicators[INDICATOR[kind]]?.detected) detected.set(kind, (detected.get(kind) ?? 0) + 1);
  }
}

const degraded = PER_KIND * Object.keys(INDICATOR).length;
const hits = [...detected.values()].reduce((a, b) => a + b, 0);
const sorted = [...measureMs].sort((a, b) => a - b);
console.log(`database: ${database.description}`);
console.log(`scenarios: ${STABLE} stable, ${PER_KIND} per degradation; ${spanCount} spans; window ${WINDOW_S}s vs baseline ${BASELINE_S}s at ${RATE} req/s`);
for (const kind of Object.keys(INDICATOR) as DegradationKind[]) console.log(`  ${kind.padEnd(14)} recall ${((detected.get(kind) ?? 0) / PER_KIND).toFixed(3)}`);
console.log(`  stable         indicators fired: ${JSON.stringify(Object.fromEntries(firedOnStable))}`);
console.log(`measurement time per scenario: median ${sorted[Math.floor(sorted.length / 2)]?.toFixed(1)} ms; whole bench ${((performance.now() - started) / 1000).toFixed(1)} s`);
await database.close();
await testDatabase.drop();
console.log(`recall: ${(hits / degraded).toFixed(3)} false-alarm: ${(falseAlarms / STABLE).toFixed(3)}`);
