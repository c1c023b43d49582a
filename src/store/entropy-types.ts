/**
 * The rows and aggregates the entropy queries return (span metrics, metric points,
 * measurements, learning): shapes of the store, so the store imports nothing above it.
 * service-tasks/entropy/ports.ts re-exports them for the entropy module; its EntropyStore port
 * is what src/store/entropy-store.ts implements (src/modules/entropy checks that at compile time).
 */

/** "regenflow/<process key>" names one of regenflow's own processes as a monitored system. */
export const ENGINE_SYSTEM_PREFIX = 'regenflow/';

/** The health states a measurement stores (service-tasks/entropy/health.ts HEALTH_STATES; tsc fails on a drift). */
export type HealthState = 'HEALTHY' | 'WARNING' | 'CRITICAL' | 'FAILING';
/** The entropy levels a measurement stores (service-tasks/entropy/entropy-score.ts ENTROPY_LEVELS; tsc fails on a drift). */
export type EntropyLevel = 'LOW' | 'MEDIUM' | 'HIGH' | 'CRITICAL';

export interface TimeWindow {
  from: Date;
  to: Date;
}

/** A window's counts, percentiles and log-spaced duration histogram, aggregated in SQL (fits health's WindowStats). */
export interface WindowAggregate {
  count: number;
  errors: number;
  seconds: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  /** Span counts per log-spaced duration bin (same edges for every window). */
  histogram: number[];
}

export interface SeriesPoint {
  /** Start of the bucket. */
  at: Date;
  count: number;
  errors: number;
  p95: number | null;
  mean: number | null;
  /** Mean of ln(duration in ms): the trend test's measure (far steadier per bucket than a p95). */
  logMean: number | null;
}

/** Sufficient statistics of a set of spans: how many, how many failed, Σ ln(ms) and Σ ln²(ms). */
export interface SpanStats {
  count: number;
  errors: number;
  sumLog: number;
  sumLog2: number;
}

/**
 * What a span stands for: a `request` the service served (a root span, or kind SERVER or
 * CONSUMER), a `dependency` it called (CLIENT or PRODUCER), or `internal` work inside one.
 */
export type OperationRole = 'request' | 'dependency' | 'internal';

/** One operation (span name and role) in the baseline and current windows. */
export interface OperationAggregate {
  name: string;
  role: OperationRole;
  baseline: SpanStats;
  /** The baseline in four equal parts, oldest first: the oldest is the reference a long fault has not reached. */
  quarters: SpanStats[];
  current: SpanStats;
  /** The current window in equal buckets, oldest first. */
  buckets: SpanStats[];
  /** Log-binned durations (same edges as WindowAggregate.histogram). */
  baselineHistogram: number[];
  currentHistogram: number[];
}

export interface SpanAggregates {
  /** Request spans (roots, SERVER, CONSUMER) when the system has any, else all its spans; instances for a regenflow process. */
  baseline: WindowAggregate;
  current: WindowAggregate;
  /** Span names with their counts in each window. */
  names: Array<{ name: string; baseline: number; current: number; /** In the baseline's oldest quarter. */ oldest?: number }>;
  /** Attribute keys counted over a bounded sample of the newest spans of each window. */
  attributeKeys: { baselineSample: number; currentSample: number; keys: Array<{ key: string; baseline: number; current: number }> };
  /**
   * The same samples per span name (the tracked ones; the rest as `(other)`): spans and spans with
   * each key, the current side per bucket of the window (so a key that stops partway shows).
   */
  operationKeys?: Array<{
    name: string;
    baselineSpans: number;
    currentSpans: number[];
    keys: Array<{
      key: string;
      baseline: number;
      current: number[];
      /** Spans with each value of the key, when it has few distinct values (absent for ids, urls and the like). */
      values?: Array<{ value: string; baseline: number; current: number[] }>;
    }>;
  }>;
  /** Instances (or traces) that ran one activity more often than `repeatBound` in the current window. */
  repeats: Array<{ instance: string; name: string; count: number }>;
  /** The current window in equal buckets, oldest first. */
  series: SeriesPoint[];
  /** Per operation (the busiest span names; the rest pooled as `(other)`): what is judged one by one. */
  operations: OperationAggregate[];
  /** Length of one bucket of the current window. */
  bucketSeconds: number;
}

/** One window's aggregate of one metric's data points (see src/store/metric-points.ts). */
export interface MetricWindow {
  points: number;
  /** Length of the window. */
  exposureSeconds: number;
  /** Mean and sample variance of the point values (gauges, sums). */
  mean: number | null;
  variance: number | null;
  /**
   * `*.utilization` gauges: the highest mean of one series (one CPU mode, memory state,
   * mountpoint, replica), idle and free states left out; null when no busy series sent points.
   */
  busiestSeriesMean?: number | null;
  /**
   * Gauges, sums: the window's points averaged per time bucket (a twelfth of the current
   * window), then over buckets. Neighbouring points of a series are correlated; bucket means
   * much less, so tests on them do not take 600 scrapes for 600 independent samples.
   */
  buckets: number;
  bucketMean: number | null;
  bucketVariance: number | null;
  /** Increase of a counter's value over the window (deltas summed, cumulative points differenced). */
  increase: number;
  /** Increase of histogram or summary count and sum; the count of points carrying `error.type` apart. */
  countIncrease: number;
  sumIncrease: number;
  failedCountIncrease: number;
}

export interface MetricAggregate {
  name: string;
  unit: string;
  kind: 'gauge' | 'sum' | 'histogram' | 'exponential_histogram' | 'summary';
  monotonic: boolean;
  baseline: MetricWindow;
  current: MetricWindow;
}

export interface Measurement {
  id?: string;
  system: string;
  measuredAt: string;
  windowStart: string;
  windowEnd: string;
  health: number;
  healthState: HealthState;
  drift: number;
  validationErrors: number;
  score: number;
  level: EntropyLevel;
  indicators: Record<string, unknown>;
}

export interface StrategyOutcome {
  idempotencyKey: string;
  system: string;
  strategyId: string;
  level: string;
  success: boolean;
  entropyBefore?: number | null;
  entropyAfter?: number | null;
  instanceId?: string | null;
}

export interface CycleRow {
  id: string;
  system: string;
  instanceId: string | null;
  status: string;
  strategyId: string | null;
  snapshot: Record<string, unknown> | null;
  /** What the rollback did (rolledBack, reason), when one ran. */
  rollback: Record<string, unknown> | null;
  startedAt: string;
}
