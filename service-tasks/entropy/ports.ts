/**
 * What the entropy module needs from the database and from the engine: the narrow
 * interfaces it is handed (implemented in src/store/ and src/engine/engine-control.ts,
 * wired by src/app.ts). Nothing in service-tasks/entropy/ writes SQL.
 */
import type { EntropyLevel } from './entropy-score.js';
import type { HealthState, WindowStats } from './health.js';

export interface TimeWindow {
  from: Date;
  to: Date;
}

/** A window's counts, percentiles and log-spaced duration histogram, aggregated in SQL. */
export interface WindowAggregate extends WindowStats {
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

export interface EntropyStore {
  aggregateSpans(
    system: string,
    windows: { baseline: TimeWindow; current: TimeWindow },
    options: { buckets: number; repeatBound: number; keySample: number; versions?: { previous: number; latest: number }; /** The baseline's attribute-key sample only from spans before this. */ keysBefore?: Date },
  ): Promise<SpanAggregates>;
  series(system: string, window: TimeWindow, buckets: number): Promise<SeriesPoint[]>;
  /** OTLP metric data points of a service in both windows, per metric; empty when it sends none. */
  aggregateMetrics(system: string, windows: { baseline: TimeWindow; current: TimeWindow }): Promise<MetricAggregate[]>;
  systems(): Promise<string[]>;
  saveMeasurement(measurement: Measurement): Promise<Measurement>;
  measurements(system: string, limit: number): Promise<Measurement[]>;
  /** One measurement by id (null when there is none). */
  measurement(id: string): Promise<Measurement | null>;
  latestMeasurements(): Promise<Array<{ system: string; latest: Measurement | null }>>;
  recordOutcome(outcome: StrategyOutcome): Promise<void>;
  /** Successes and failures per strategy id (optionally for one system). */
  outcomeCounts(system?: string): Promise<Map<string, { successes: number; failures: number }>>;
  /** Registers a cycle unless one with the key exists; returns how many cycles the system started since `since` (this one included). */
  openCycle(cycle: { idempotencyKey: string; system: string; instanceId: string | null }, since: Date): Promise<{ cycleId: string; recent: number }>;
  updateCycle(instanceId: string, change: { status?: string; strategyId?: string; snapshot?: Record<string, unknown>; rollback?: Record<string, unknown> }): Promise<void>;
  cycleOf(instanceId: string): Promise<CycleRow | null>;
}

/** What "regenflow heals itself" may do to the engine; nothing more. */
export interface EngineControl {
  /** Lints, parses and stores a definition as a new version of its key. */
  deploy(name: string, xml: string): Promise<{ id: string; key: string; version: number; created: boolean }>;
  /** Versions of a key, newest first. */
  versions(processKey: string): Promise<Array<{ id: string; version: number }>>;
  /** Makes new starts of `processKey` run the content of `version` again (deployed as a new version). */
  rollbackStarts(processKey: string, version: number): Promise<{ version: number }>;
  /** Open incidents of the instances running one version of a key. */
  openIncidents(processKey: string, version: number): Promise<number>;
  /** Retries the open incidents of a process key; returns how many were retried. */
  retryIncidents(processKey: string): Promise<number>;
  /** Cancels instances of the key active without progress since `before` and starts each again with its variables. */
  resetStuckInstances(processKey: string, before: Date): Promise<number>;
}
