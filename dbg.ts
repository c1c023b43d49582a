import { measureSystem } from './service-tasks/entropy/measure.js';
import { openDatabase } from './src/store/database.js';
import { createEntropyStore } from './src/store/entropy-store.js';
import { SpanSimulator, writeSpans } from './test/support/span-simulator.js';
const database = await openDatabase({ dataDir: '/tmp/x', poolSize: 1, inMemory: true });
const store = createEntropyStore(database.knex);
const end = new Date(Date.UTC(2026, 0, 1, 12));
const split = new Date(end.getTime() - 600_000);
for (let seed = 1; seed <= 8; seed++) {
  const s = new SpanSimulator({ system: 's' + seed, seed: 10000 + seed, requestsPerSecond: 1 });
  const off = (((10000+seed) * 2654435761) % 1000) / 3000;
  s.inject({ kind: 'latency-shift', at: new Date(split.getTime() + off * 600_000) });
  await writeSpans(database.knex, s.generate(new Date(split.getTime() - 1800_000), end));
  const m = await measureSystem(store, { system: 's' + seed, windowSeconds: 600, baselineSeconds: 1800, at: end });
  const i = m.indicators as any;
  console.log(seed, off.toFixed(2), i.latencyShift.statistic.toFixed(3), i.latencyShift.pValue.toExponential(2), i.degradationTrend.detected, m.score.toFixed(3), m.level, m.healthState, m.health.toFixed(3));
}
