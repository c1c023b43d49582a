import type { Knex } from 'knex';
import type { EntropyStore } from '../../service-tasks/entropy/ports.js';
import * as measurements from './entropy-measurements.js';
import { ENGINE_SYSTEM_PREFIX } from '../engine/types.js';
import * as learning from './learning.js';
import * as metricPoints from './metric-points.js';
import * as spanMetrics from './span-metrics.js';

/** The entropy module's one door to the database. */
export function createEntropyStore(knex: Knex): EntropyStore {
  return {
    aggregateSpans: (system, windows, options) => spanMetrics.aggregateSpans(knex, system, windows, options),
    series: (system, window, buckets) => spanMetrics.seriesOf(knex, system, window, buckets),
    aggregateMetrics: (system, windows) => metricPoints.aggregateMetrics(knex, system, windows),
    systems: () => allSystems(knex),
    saveMeasurement: (measurement) => measurements.insertMeasurement(knex, measurement),
    measurements: (system, limit) => measurements.listMeasurements(knex, system, limit),
    measurement: (id) => measurements.measurementById(knex, id),
    async latestMeasurements() {
      const [systems, latest] = await Promise.all([allSystems(knex), measurements.latestPerSystem(knex)]);
      const names = [...new Set([...systems, ...latest.map((measurement) => measurement.system)])].sort();
      return names.map((system) => ({ system, latest: latest.find((measurement) => measurement.system === system) ?? null }));
    },
    recordOutcome: (outcome) => learning.insertOutcome(knex, outcome),
    outcomeCounts: (system) => learning.outcomeCounts(knex, system),
    openCycle: (cycle, since) => learning.openCycle(knex, cycle, since),
    updateCycle: (instanceId, change) => learning.updateCycle(knex, instanceId, change),
    cycleOf: (instanceId) => learning.cycleOf(knex, instanceId),
  };
}

/** Systems that sent spans, then those that sent only metrics (never a `regenflow/` name: those come from the engine's spans). */
async function allSystems(knex: Knex): Promise<string[]> {
  const [spans, metrics] = await Promise.all([spanMetrics.spanSystems(knex), metricPoints.metricSystems(knex)]);
  const known = new Set(spans);
  return [...spans, ...metrics.filter((system) => !known.has(system) && !system.startsWith(ENGINE_SYSTEM_PREFIX))];
}
