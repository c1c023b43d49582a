/**
 * What the entropy module needs from the database and from the engine: the narrow
 * interfaces it is handed (implemented in src/store/ and src/engine/engine-control.ts,
 * wired by src/modules/entropy). Nothing in service-tasks/entropy/ writes SQL.
 */

// The shapes the store's entropy queries return live beside them (the store imports nothing above it).
export type {
  CycleRow,
  Measurement,
  MetricAggregate,
  MetricWindow,
  OperationAggregate,
  OperationRole,
  SeriesPoint,
  SpanAggregates,
  SpanStats,
  StrategyOutcome,
  TimeWindow,
  WindowAggregate,
} from '../../src/store/entropy-types.js';
import type { CycleRow, Measurement, MetricAggregate, SeriesPoint, SpanAggregates, StrategyOutcome, TimeWindow } from '../../src/store/entropy-types.js';

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

/** What moveRunningInstances did: the batches moving instances, how many they move, and those left behind. */
export interface MovedInstances {
  batchIds: string[];
  moving: number;
  left: Array<{ instanceId: string; version: number; reason: string }>;
}

/** What "regenflow heals itself" may do to the engine; nothing more. */
export interface EngineControl {
  /** Lints, parses and stores a definition as a new version of its key. */
  deploy(name: string, xml: string): Promise<{ id: string; key: string; version: number; created: boolean }>;
  /** Versions of a key, newest first. */
  versions(processKey: string): Promise<Array<{ id: string; version: number }>>;
  /** Makes new starts of `processKey` run the content of `version` again (deployed as a new version). */
  rollbackStarts(processKey: string, version: number): Promise<{ version: number }>;
  /**
   * Moves the running instances of `fromVersions` of a key onto `toVersion` (a rollback's
   * redeployed content), by migration batches that survive restarts: each instance whose every
   * active activity exists there by the same id. The rest stay where they are, with the reason.
   */
  moveRunningInstances(processKey: string, move: { fromVersions: number[]; toVersion: number }): Promise<MovedInstances>;
  /** Open incidents of the instances running one version of a key. */
  openIncidents(processKey: string, version: number): Promise<number>;
  /** Retries the open incidents of a process key; returns how many were retried. */
  retryIncidents(processKey: string): Promise<number>;
  /** Cancels instances of the key active without progress since `before` and starts each again with its variables. */
  resetStuckInstances(processKey: string, before: Date): Promise<number>;
}
