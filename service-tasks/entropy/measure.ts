/**
 * One measurement of a system: aggregate its spans in SQL over the current window and the
 * baseline window before it, compute health, drift and the entropy score, and store it.
 */
import { computeDrift, countDrift, DEFAULT_DRIFT_OPTIONS, type DriftOptions } from './drift.js';
import { entropyLevel, entropyScore } from './entropy-score.js';
import { computeHealth, withMetrics } from './health.js';
import { computeMetricHealth } from './metric-health.js';
import type { EntropyStore, Measurement } from './ports.js';
import { ENGINE_SYSTEM_PREFIX } from './strategies.js';

export interface MeasureOptions {
  system: string;
  /** Length of the window being judged. */
  windowSeconds: number;
  /** Length of the baseline window that ends where the current one starts. */
  baselineSeconds: number;
  /** End of the current window. @default now */
  at?: Date;
  /** Errors the validator reported for this system (0 when none ran). */
  validationErrors?: number;
  /** Buckets of the current window for the trend and the charts. @default 12 */
  buckets?: number;
  drift?: Partial<DriftOptions>;
  /** For a regenflow process: judge its latest version against the previous one (both over the whole span of time). */
  versions?: { previous: number; latest: number };
}

/** Spans per window whose attribute keys are read for semantic drift. */
const KEY_SAMPLE = 5000;

export async function measureSystem(store: EntropyStore, options: MeasureOptions): Promise<Measurement> {
  const end = options.at ?? new Date();
  const split = new Date(end.getTime() - options.windowSeconds * 1000);
  const start = new Date(split.getTime() - options.baselineSeconds * 1000);
  const driftOptions = { ...DEFAULT_DRIFT_OPTIONS, ...options.drift };
  const aggregates = await store.aggregateSpans(
    options.system,
    { baseline: { from: start, to: split }, current: { from: split, to: end } },
    { buckets: options.buckets ?? 12, repeatBound: driftOptions.repeatBound, keySample: KEY_SAMPLE, versions: options.versions },
  );
  // Metrics are per service and time. regenflow's own processes are judged from the engine's
  // spans alone: any telemetry token can send metrics under any service.name.
  const metricHealth = options.versions || options.system.startsWith(ENGINE_SYSTEM_PREFIX) ? null : computeMetricHealth(await store.aggregateMetrics(options.system, { baseline: { from: start, to: split }, current: { from: split, to: end } }));
  const health = withMetrics(
    computeHealth(aggregates.current, aggregates.baseline.count ? aggregates.baseline : null),
    metricHealth,
    aggregates.current.count + aggregates.baseline.count > 0,
  );
  const indicators = computeDrift(aggregates, driftOptions);
  const drift = countDrift(indicators);
  const validationErrors = options.validationErrors ?? 0;
  const score = entropyScore({ health: health.score, drift, validationErrors });
  return store.saveMeasurement({
    system: options.system,
    measuredAt: new Date().toISOString(),
    windowStart: split.toISOString(),
    windowEnd: end.toISOString(),
    health: health.score,
    healthState: health.state,
    drift,
    validationErrors,
    score,
    level: entropyLevel(score),
    indicators: {
      ...indicators,
      health,
      spans: { baseline: aggregates.baseline.count, current: aggregates.current.count },
      ...(options.versions && { versions: options.versions }),
    },
  });
}
