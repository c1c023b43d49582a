/**
 * `npm run bench:entropy`: how well the decision a DMEDI cycle acts on —
 * `regenerationNeeded`, the entropy score at or above the threshold (0.3, the LOW/MEDIUM
 * boundary) — fires on degraded services and stays quiet on stable ones. Every scenario is a
 * seeded simulated service (test/support/span-simulator.ts, kinds in
 * test/support/entropy-scenarios.ts) written into the real span store (PGlite in memory, or
 * DATABASE_URL's server) and measured by the real measurement code, window 10 min against the
 * 30 min before, the fault starting in the first third of the window.
 *
 * Sections: the calibration (level each named severity reaches against the level it should);
 * per kind the share of runs with regenerationNeeded and the levels reached; the hold-out set
 * (kinds and seeds never tuned on) apart; the time to detect (the stream replayed, measured
 * every minute after the onset until the signal fires).
 *
 *   npm run bench:entropy -- --per-kind 20 --stable 20 --ttd 5
 *
 * Last line: `recall: R false-alarm: F` — recall of regenerationNeeded over the degraded kinds,
 * false alarms over the stable kinds (the tuned set; the hold-out's are printed above it).
 */
import { parseArgs } from 'node:util';
import { ENTROPY_LEVELS, MIN_REGENERATION_THRESHOLD, type EntropyLevel } from '../service-tasks/entropy/entropy-score.js';
import { measureSystem } from '../service-tasks/entropy/measure.js';
import { openDatabase } from '../src/store/database.js';
import { createEntropyStore } from '../src/store/entropy-store.js';
import { CALIBRATION, DEGRADED_KINDS, HOLDOUT_DEGRADED, HOLDOUT_SEED_BASE, HOLDOUT_STABLE, STABLE_KINDS, type Scenario } from '../test/support/entropy-scenarios.js';
import { SpanSimulator, writeSpans } from '../test/support/span-simulator.js';
import { createTestDatabase } from '../test/support/test-app.js';

const { values } = parseArgs({ options: { stable: { type: 'string', default: '50' }, 'per-kind': { type: 'string', default: '30' }, ttd: { type: 'string', default: '5' }, calibration: { type: 'string', default: '5' }, holdout: { type: 'boolean', default: true }, 'no-holdout': { type: 'boolean', default: false } } });
/** `--no-holdout` while developing: the hold-out set is only looked at in a full run. */
const HOLDOUT = !values['no-holdout'];
const STABLE = Number(values.stable);
const PER_KIND = Number(values['per-kind']);
const TTD = Number(values.ttd);
const CALIBRATION_RUNS = Number(values.calibration);
const WINDOW_S = 600;
const BASELINE_S = 1800;
const THRESHOLD = MIN_REGENERATION_THRESHOLD;

const testDatabase = await createTestDatabase();
const database = await openDatabase({ databaseUrl: testDatabase.url, dataDir: '/tmp/regenflow-unused', poolSize: 4, inMemory: !testDatabase.url });
const store = createEntropyStore(database.knex);
const end = new Date(Date.UTC(2026, 0, 1, 12));
const split = new Date(end.getTime() - WINDOW_S * 1000);
const start = new Date(split.getTime() - BASELINE_S * 1000);
const measureMs: number[] = [];
let spanCount = 0;
let systems = 0;
const started = performance.now();

/** Onset: somewhere in the first third of the window, known per seed. */
const onsetOf = (seed: number) => new Date(split.getTime() + (((seed * 2654435761) % 1000) / 3000) * WINDOW_S * 1000);

async function write(scenario: Scenario, seed: number, onset: Date, until: Date): Promise<string> {
  const system = `s${++systems}`;
  const simulator = new SpanSimulator({ system, seed, requestsPerSecond: 1, ...scenario.traffic });
  for (const degradation of scenario.inject) simulator.inject({ ...degradation, at: onset });
  const spans = simulator.generate(start, until);
  spanCount += spans.length;
  await writeSpans(database.knex, spans);
  return system;
}

async function measure(system: string, at: Date): Promise<{ level: EntropyLevel; score: number }> {
  const t0 = performance.now();
  const measurement = await measureSystem(store, { system, windowSeconds: WINDOW_S, baselineSeconds: BASELINE_S, at });
  measureMs.push(performance.now() - t0);
  return { level: measurement.level, score: measurement.score };
}

interface KindResult {
  name: string;
  expect: EntropyLevel;
  runs: number;
  fired: number;
  levels: Record<EntropyLevel, number>;
  scores: number[];
}

async function runKind(scenario: Scenario, runs: number, seedBase: number): Promise<KindResult> {
  const result: KindResult = { name: scenario.name, expect: scenario.expect, runs, fired: 0, levels: { LOW: 0, MEDIUM: 0, HIGH: 0, CRITICAL: 0 }, scores: [] };
  for (let i = 1; i <= runs; i++) {
    const seed = seedBase + i;
    const system = await write(scenario, seed, onsetOf(seed), end);
    const { level, score } = await measure(system, end);
    result.levels[level]++;
    result.scores.push(score);
    if (score >= THRESHOLD) result.fired++;
  }
  return result;
}

/** Minutes from the onset until regenerationNeeded first fires, measuring every minute (null: not within 10). */
async function timeToDetect(scenario: Scenario, seed: number): Promise<number | null> {
  const onset = new Date(split.getTime());
  const system = await write(scenario, seed, onset, new Date(onset.getTime() + 600_000));
  for (let minute = 1; minute <= 10; minute++) {
    const { score } = await measure(system, new Date(onset.getTime() + minute * 60_000));
    if (score >= THRESHOLD) return minute;
  }
  return null;
}

const rank = (level: EntropyLevel) => ENTROPY_LEVELS.indexOf(level);
const median = (list: number[]) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)] ?? NaN;

function table(title: string, results: KindResult[], degraded: boolean): void {
  console.log(title);
  console.log(`  ${'kind'.padEnd(44)} runs  ${degraded ? 'fired' : 'quiet'}   LOW MED HIGH CRIT  median score`);
  for (const r of results) {
    const share = degraded ? r.fired / r.runs : 1 - r.fired / r.runs;
    console.log(
      `  ${r.name.padEnd(44)} ${String(r.runs).padStart(4)}  ${share.toFixed(3)}  ${ENTROPY_LEVELS.map((level) => String(r.levels[level]).padStart(4)).join('')}  ${median(r.scores).toFixed(3)}`,
    );
  }
}

function summary(degraded: KindResult[], stable: KindResult[]): { recall: number; falseAlarm: number } {
  const runs = degraded.reduce((sum, r) => sum + r.runs, 0);
  const fired = degraded.reduce((sum, r) => sum + r.fired, 0);
  const stableRuns = stable.reduce((sum, r) => sum + r.runs, 0);
  const alarms = stable.reduce((sum, r) => sum + r.fired, 0);
  return { recall: runs ? fired / runs : NaN, falseAlarm: stableRuns ? alarms / stableRuns : NaN };
}

// Calibration
const calibration: KindResult[] = [];
for (const [index, scenario] of CALIBRATION.entries()) calibration.push(await runKind(scenario, CALIBRATION_RUNS, 40_000 + index * 1000));
// Tuned set
const degraded: KindResult[] = [];
for (const [index, scenario] of DEGRADED_KINDS.entries()) degraded.push(await runKind(scenario, PER_KIND, 10_000 + index * 1000));
const stable: KindResult[] = [];
for (const [index, scenario] of STABLE_KINDS.entries()) stable.push(await runKind(scenario, STABLE, 60_000 + index * 1000));
// Hold-out
const holdoutDegraded: KindResult[] = [];
if (HOLDOUT) for (const [index, scenario] of HOLDOUT_DEGRADED.entries()) holdoutDegraded.push(await runKind(scenario, PER_KIND, HOLDOUT_SEED_BASE + index * 1000));
const holdoutStable: KindResult[] = [];
if (HOLDOUT) for (const [index, scenario] of HOLDOUT_STABLE.entries()) holdoutStable.push(await runKind(scenario, STABLE, HOLDOUT_SEED_BASE + 50_000 + index * 1000));
// Time to detect, at the kinds' own traffic (1 req/s unless the kind says otherwise)
const ttd: Array<{ name: string; minutes: Array<number | null> }> = [];
for (const [index, scenario] of [...DEGRADED_KINDS, ...(HOLDOUT ? HOLDOUT_DEGRADED : [])].entries()) {
  const minutes: Array<number | null> = [];
  for (let i = 1; i <= TTD; i++) minutes.push(await timeToDetect(scenario, 70_000 + index * 1000 + i));
  ttd.push({ name: scenario.name, minutes });
}

console.log(`database: ${database.description}`);
console.log(`window ${WINDOW_S}s vs baseline ${BASELINE_S}s, 1 req/s unless the kind says; decision regenerationNeeded = score >= ${THRESHOLD}; ${spanCount} spans`);
console.log(`calibration (${CALIBRATION_RUNS} seeds each): level reached against the level it should reach`);
for (const r of calibration) {
  const reached = ENTROPY_LEVELS.filter((level) => r.levels[level] > 0).map((level) => `${level}×${r.levels[level]}`).join(' ');
  const ok = r.expect === 'LOW' ? r.levels.LOW === r.runs : ENTROPY_LEVELS.every((level) => rank(level) >= rank(r.expect) || r.levels[level] === 0);
  console.log(`  ${r.name.padEnd(34)} should ${r.expect.padEnd(8)} reached ${reached.padEnd(28)} median ${median(r.scores).toFixed(3)} ${ok ? 'ok' : 'MISS'}`);
}
table(`degraded kinds (tuned on), ${PER_KIND} seeds each:`, degraded, true);
table(`stable kinds (tuned on), ${STABLE} seeds each:`, stable, false);
table(`hold-out degraded kinds (never tuned on), ${PER_KIND} seeds each:`, holdoutDegraded, true);
table(`hold-out stable kinds (never tuned on), ${STABLE} seeds each:`, holdoutStable, false);
console.log(`time to detect (minutes after onset until regenerationNeeded, measured each minute; - = not within 10), ${TTD} runs each:`);
for (const { name, minutes } of ttd) {
  const found = minutes.filter((m): m is number => m !== null);
  console.log(`  ${name.padEnd(44)} ${minutes.map((m) => (m === null ? '-' : String(m))).join(' ').padEnd(24)} median ${found.length ? median(found) : '-'} max ${found.length === minutes.length ? Math.max(...found) : '>10'}`);
}
const holdout = summary(holdoutDegraded, holdoutStable);
console.log(`hold-out: recall ${holdout.recall.toFixed(3)} false-alarm ${holdout.falseAlarm.toFixed(3)}`);
console.log(`measurement time per measurement: median ${median(measureMs).toFixed(1)} ms; whole bench ${((performance.now() - started) / 1000).toFixed(1)} s`);
await database.close();
await testDatabase.drop();
const tuned = summary(degraded, stable);
console.log(`recall: ${tuned.recall.toFixed(3)} false-alarm: ${tuned.falseAlarm.toFixed(3)}`);
