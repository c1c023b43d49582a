import type { Knex } from 'knex';
import * as measurements from './entropy-measurements.js';
import { ENGINE_SYSTEM_PREFIX } from './entropy-types.js';
import * as learning from './learning.js';
import * as metricPoints from './metric-points.js';
import * as spanMetrics from './span-metrics.js';

/**
 * The entropy module's one door to the database: it implements the EntropyStore port of
 * service-tasks/entropy/ports.ts (src/modules/entropy holds it to that at compile time)
 * without importing it, since the store imports nothing above it.
 */
export function createEntropyStore(knex: Knex) {
  const bind =
    <A extends unknown[], R>(query: (knex: Knex, ...args: A) => R) =>
    (...args: A): R =>
      query(knex, ...args);
  return {
    aggregateSpans: bind(spanMetrics.aggregateSpans),
    series: bind(spanMetrics.seriesOf),
    aggregateMetrics: bind(metricPoints.aggregateMetrics),
    systems: () => allSystems(knex),
    saveMeasurement: bind(measurements.insertMeasurement),
    measurements: bind(measurements.listMeasurements),
    measurement: bind(measurements.measurementById),
    async latestMeasurements() {
      const [systems, latest] = await Promise.all([allSystems(knex), measurements.latestPerSystem(knex)]);
      const names = [...new Set([...systems, ...latest.map((measurement) => measurement.system)])].sort();
      return names.map((system) => ({ system, latest: latest.find((measurement) => measurement.system === system) ?? null }));
    },
    recordOutcome: bind(learning.insertOutcome),
    outcomeCounts: bind(learning.outcomeCounts),
    openCycle: bind(learning.openCycle),
    updateCycle: bind(learning.updateCycle),
    cycleOf: bind(learning.cycleOf),
  };
}

/** Systems that sent spans, then those that sent only metrics (never a `regenflow/` name: those come from the engine's spans). */
async function allSystems(knex: Knex): Promise<string[]> {
  const [spans, metrics] = await Promise.all([spanMetrics.spanSystems(knex), metricPoints.metricSystems(knex)]);
  const known = new Set(spans);
  return [...spans, ...metrics.filter((system) => !known.has(system) && !system.startsWith(ENGINE_SYSTEM_PREFIX))];
}
