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
 * Beyond those (printed, never in the last line):
 *   throughput-drop   half the requests stop arriving                                  -> throughput
 *   latency-creep     durations grow linearly, ×2 ten minutes after the start           -> degradationTrend
 *   sensitivity       every kind at a subtler magnitude: latency ×1.25, errors 4 %, loop-thrash
 *                     0.5 %, throughput ×0.8, latency creep ×1.3 per 10 min
 *
 *   npm run bench:entropy -- --stable 100 --per-kind 50 --sensitivity 30
 *
 * Recall = detected degraded scenarios (by the indicator aimed at the degradation) / all
 * degraded scenarios; false-alarm = stable scenarios with any indicator fired / stable ones.
 * Last line: `recall: R false-alarm: F`, over the stable scenarios and the four standard
 * degradations above at their standard magnitudes only (as before the extra kinds existed).
 */
import { parseArgs } from 'node:util';
import { measureSystem } from '../service-tasks/entropy/measure.js';
import { openDatabase } from '../src/store/database.js';
import { createEntropyStore } from '../src/store/entropy-store.js';
import { SpanSimulator, writeSpans, type DegradationKind } from '../test/support/span-simulator.js';
import { createTestDatabase } from '../test/support/test-app.js';

const { values } = parseArgs({ options: { stable: { type: 'string', default: '100' }, 'per-kind': { type: 'string', default: '50' }, sensitivity: { type: 'string', default: '30' } } });
const STABLE = Number(values.stable);
const PER_KIND = Number(values['per-kind']);
const SENSITIVITY = Number(values.sensitivity);
const WINDOW_S = 600;
const BASELINE_S = 1800;
const RATE = 1;

type StandardKind = 'latency-shift' | 'error-burst' | 'schema-drift' | 'loop-thrash';
/** The standard degradations: the last line's recall is over these. */
const INDICATOR: Record<StandardKind, string> = {
  'latency-shift': 'latencyShift',
  'error-burst': 'errorRate',
  'schema-drift': 'semantic',
  'loop-thrash': 'loopThrash',
};
const EXTRA_INDICATOR: Record<Exclude<DegradationKind, StandardKind>, string> = {
  'throughput-drop': 'throughput',
  'latency-creep': 'degradationTrend',
};
/** Subtler magnitudes for the sensitivity section (schema drift has none: a rename is a rename). */
const SUBTLE: Array<[DegradationKind, number, string]> = [
  ['latency-shift', 1.25, 'latency ×1.25'],
  ['error-burst', 0.04, 'errors 4 %'],
  ['loop-thrash', 0.005, 'loop-thrash 0.5 %'],
  ['throughput-drop', 0.8, 'throughput ×0.8'],
  ['latency-creep', 1.3, 'creep ×1.3/10 min'],
];
const ALL_INDICATORS: Record<DegradationKind, string> = { ...INDICATOR, ...EXTRA_INDICATOR };

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

async function scenario(name: string, seed: number, kind: DegradationKind | null, magnitude?: number): Promise<Record<string, { detected: boolean }>> {
  const simulator = new SpanSimulator({ system: name, seed, requestsPerSecond: RATE });
  if (kind) simulator.inject({ kind, at: new Date(split.getTime() + seededOffset(seed) * WINDOW_S * 1000), magnitude });
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
for (const kind of Object.keys(INDICATOR) as StandardKind[]) {
  for (let seed = 1; seed <= PER_KIND; seed++) {
    const indicators = await scenario(`${kind}-${seed}`, 10_000 + seed, kind);
    if (indicators[INDICATOR[kind]]?.detected) detected.set(kind, (detected.get(kind) ?? 0) + 1);
  }
}
// Not in the last line: the newer kinds at their standard magnitude, and every kind subtler.
const extra = new Map<string, number>();
for (const kind of Object.keys(EXTRA_INDICATOR) as Array<keyof typeof EXTRA_INDICATOR>) {
  for (let seed = 1; seed <= PER_KIND; seed++) {
    const indicators = await scenario(`${kind}-${seed}`, 20_000 + seed, kind);
    if (indicators[EXTRA_INDICATOR[kind]]?.detected) extra.set(kind, (extra.get(kind) ?? 0) + 1);
  }
}
const subtle = new Map<string, number>();
for (const [kind, magnitude, label] of SUBTLE) {
  for (let seed = 1; seed <= SENSITIVITY; seed++) {
    const indicators = await scenario(`subtle-${kind}-${seed}`, 30_000 + seed, kind, magnitude);
    if (indicators[ALL_INDICATORS[kind]]?.detected) subtle.set(label, (subtle.get(label) ?? 0) + 1);
  }
}

const degraded = PER_KIND * Object.keys(INDICATOR).length;
const hits = [...detected.values()].reduce((a, b) => a + b, 0);
const sorted = [...measureMs].sort((a, b) => a - b);
console.log(`database: ${database.description}`);
console.log(`scenarios: ${STABLE} stable, ${PER_KIND} per degradation; ${spanCount} spans; window ${WINDOW_S}s vs baseline ${BASELINE_S}s at ${RATE} req/s`);
for (const kind of Object.keys(INDICATOR) as StandardKind[]) console.log(`  ${kind.padEnd(18)} recall ${((detected.get(kind) ?? 0) / PER_KIND).toFixed(3)}`);
console.log(`  stable             indicators fired: ${JSON.stringify(Object.fromEntries(firedOnStable))}`);
console.log(`beyond the standard kinds (not in the last line), ${PER_KIND} each:`);
for (const kind of Object.keys(EXTRA_INDICATOR)) console.log(`  ${kind.padEnd(18)} recall ${((extra.get(kind) ?? 0) / PER_KIND).toFixed(3)}`);
console.log(`sensitivity (subtler magnitudes, not in the last line), ${SENSITIVITY} each:`);
for (const [kind, , label] of SUBTLE) console.log(`  ${label.padEnd(18)} recall ${((subtle.get(label) ?? 0) / SENSITIVITY).toFixed(3)} (${ALL_INDICATORS[kind]})`);
console.log(`measurement time per scenario: median ${sorted[Math.floor(sorted.length / 2)]?.toFixed(1)} ms; whole bench ${((performance.now() - started) / 1000).toFixed(1)} s`);
await database.close();
await testDatabase.drop();
console.log(`recall: ${(hits / degraded).toFixed(3)} false-alarm: ${(falseAlarms / STABLE).toFixed(3)}`);
