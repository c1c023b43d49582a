/**
 * One measurement of a system: aggregate its spans in SQL over the current window and the
 * baseline window before it, compute health, drift and the entropy score, and store it.
 */
import { computeDrift, countDrift, DEFAULT_DRIFT_OPTIONS, type DriftOptions } from './drift.js';
import { entropyLevel, entropyScore } from './entropy-score.js';
import { computeHealth, healthState, withMetrics } from './health.js';
import { computeMetricHealth } from './metric-health.js';
import { DEFAULT_OPERATION_OPTIONS, INGEST_GRACE_SECONDS, judgeOperations, SEVERITY_FLOOR, type Finding, type OperationOptions } from './operations.js';
import type { EntropyStore, Measurement, SpanAggregates } from './ports.js';
import { tailCounts } from './recovery.js';
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
  operations?: Partial<OperationOptions>;
  /** Judge against this reference window instead of the `baselineSeconds` before the window (a cycle's verify: the state before the fault). */
  reference?: { from: Date; to: Date };
  /** Start of the current window instead of `windowSeconds` before its end. */
  from?: Date;
  /**
   * Span names and attribute keys that came with the fault (those that appeared at a cycle's
   * Measure): their vanishing is the fault going away, not drift.
   */
  cameWithFault?: string[];
  /** For a regenflow process: judge its latest version against the previous one (both over the whole span of time). */
  versions?: { previous: number; latest: number };
}

/** Spans per window whose attribute keys are read for semantic drift. */
const KEY_SAMPLE = 5000;

export async function measureSystem(store: EntropyStore, options: MeasureOptions): Promise<Measurement> {
  const end = options.at ?? new Date();
  const split = options.from ?? new Date(end.getTime() - options.windowSeconds * 1000);
  const start = options.reference?.from ?? new Date(split.getTime() - options.baselineSeconds * 1000);
  const referenceEnd = options.reference?.to ?? split;
  const driftOptions = { ...DEFAULT_DRIFT_OPTIONS, ...options.drift };
  const aggregates = await store.aggregateSpans(
    options.system,
    { baseline: { from: start, to: referenceEnd }, current: { from: split, to: end } },
    {
      buckets: options.buckets ?? 12,
      repeatBound: driftOptions.repeatBound,
      keySample: KEY_SAMPLE,
      versions: options.versions,
      // A verdict's reference: attribute keys are sampled from its oldest quarter, the state before the fault.
      ...(options.reference && !options.versions && { keysBefore: new Date(start.getTime() + (referenceEnd.getTime() - start.getTime()) / 4) }),
    },
  );
  // Metrics are per service and time. regenflow's own processes are judged from the engine's
  // spans alone: any telemetry token can send metrics under any service.name.
  const metricHealth = options.versions || options.system.startsWith(ENGINE_SYSTEM_PREFIX) ? null : computeMetricHealth(await store.aggregateMetrics(options.system, { baseline: { from: start, to: referenceEnd }, current: { from: split, to: end } }));
  // Buckets that start in the future, or so recently that their spans may still be on their way (exporters send in
  // batches), say nothing about traffic: they are left out of every "how many, how quiet" test.
  const observedUntil = Math.min(end.getTime(), Date.now()) - INGEST_GRACE_SECONDS * 1000;
  const unobservedBuckets = aggregates.series.filter((point) => point.at.getTime() >= observedUntil).length;
  const judgement = judgeOperations(aggregates, { ...DEFAULT_OPERATION_OPTIONS, ...options.operations }, !options.versions, unobservedBuckets);
  // Measured for a verdict (against the state before the fault), what was not part of that state cannot have
  // vanished: span names and operations absent from the reference's oldest quarter, and what came with the fault.
  const notBefore = options.reference && !options.versions ? aggregates.names.filter((name) => name.baseline > 0 && name.oldest === 0).map((name) => name.name) : [];
  if (options.reference && !options.versions) {
    for (const operation of aggregates.operations) if (operation.name !== '(other)' && operation.baseline.count > 0 && operation.quarters[0]?.count === 0) notBefore.push(operation.name);
  }
  if (options.cameWithFault?.length || notBefore.length) {
    const gone = new Set([...(options.cameWithFault ?? []), ...notBefore]);
    judgement.findings = judgement.findings.filter((finding) => !(finding.signal === 'vanished' && gone.has(finding.operation)) && !(finding.attribute && (gone.has(finding.attribute) || gone.has(finding.operation))));
    judgement.degraded = judgement.degraded.filter((entry) => judgement.findings.some((finding) => finding.operation === entry.operation && finding.role === entry.role));
    aggregates.names = aggregates.names.filter((name) => !gone.has(name.name));
    aggregates.attributeKeys = { ...aggregates.attributeKeys, keys: aggregates.attributeKeys.keys.filter((key) => !gone.has(key.key)) };
    aggregates.operationKeys = aggregates.operationKeys?.filter((entry) => !gone.has(entry.name)).map((entry) => ({ ...entry, keys: entry.keys.filter((key) => !gone.has(key.key)) }));
  }
  const indicators = computeDrift(aggregates, driftOptions, judgement);
  const findings: Finding[] = [...judgement.findings];
  const semanticDetails = indicators.semantic.details as { vanishedNames: string[]; vanishedKeys: string[] };
  if (indicators.semantic.detected && (semanticDetails.vanishedNames.length || semanticDetails.vanishedKeys.length)) {
    findings.push({ operation: '(service)', role: 'request', signal: 'semantic', test: indicators.semantic.test, effect: indicators.semantic.statistic ?? 0, severity: SEVERITY_FLOOR });
  }
  if (indicators.loopThrash.detected) {
    findings.push({ operation: '(service)', role: 'request', signal: 'loop-thrash', test: indicators.loopThrash.test, effect: indicators.loopThrash.statistic ?? 0, severity: 0.7 });
  }
  // Health is the worst finding's: one sick route makes a sick service.
  const worst = findings.reduce((max, finding) => (finding.diagnostic ? max : Math.max(max, finding.severity)), 0);
  const pooled = computeHealth(aggregates.current, aggregates.baseline.count ? aggregates.baseline : null);
  const spanHealth = { ...pooled, score: 1 - worst, state: healthState(1 - worst), pooledScore: pooled.score };
  const health = withMetrics(spanHealth, metricHealth, aggregates.current.count + aggregates.baseline.count > 0);
  const drift = countDrift(indicators, judgement.degraded.length);
  const validationErrors = options.validationErrors ?? 0;
  const failures = userVisibleFailures(aggregates, indicators.errorRate.detected, indicators.throughput.detected, findings);
  const score = entropyScore({ health: health.score, drift, validationErrors: validationErrors + failures.errors });
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
      findings,
      degradedOperations: judgement.degraded,
      errors: { validation: validationErrors, ...failures },
      windows: { reference: { from: start.toISOString(), to: referenceEnd.toISOString() }, current: { from: split.toISOString(), to: end.toISOString() } },
      operations: aggregates.operations
        .filter((operation) => operation.name !== '(other)')
        .map((operation) => ({
          name: operation.name,
          role: operation.role,
          baseline: operation.baseline,
          current: operation.current,
          oldestQuarter: operation.quarters[0]?.count ?? null,
          // What a cycle's verdict re-runs each finding's test on (recovery.ts): the oldest quarter's stats, the buckets, the tail past the reference's p95.
          oldest: operation.quarters[0] ?? null,
          buckets: operation.buckets,
          tail: tailCounts(operation.baselineHistogram, operation.currentHistogram),
        })),
      // What a verdict re-runs a shifted value's share test on (recovery.ts): per operation, its spans in the key sample and
      // the count of each attribute value the current window carried (a value absent here had none).
      attributeValues: (aggregates.operationKeys ?? [])
        .filter((entry) => entry.name !== '(other)')
        .map((entry) => ({
          operation: entry.name,
          baselineSpans: entry.baselineSpans,
          currentSpans: entry.currentSpans.reduce((a, b) => a + b, 0),
          values: entry.keys.flatMap((key) => (key.values ?? []).map((value) => ({ key: key.key, value: value.value, baseline: value.baseline, current: value.current.reduce((a, b) => a + b, 0) })).filter((value) => value.current > 0)),
        })),
      spans: { baseline: aggregates.baseline.count, current: aggregates.current.count },
      requests: {
        baseline: { count: aggregates.baseline.count, errors: aggregates.baseline.errors, seconds: aggregates.baseline.seconds },
        current: { count: aggregates.current.count, errors: aggregates.current.errors, seconds: aggregates.current.seconds },
      },
      ...(options.versions && { versions: options.versions }),
    },
  });
}

/**
 * The errors term counts user-visible failures the measurement found besides the validator's:
 * requests that failed beyond the reference rate and requests that went missing (fewer than
 * the reference rate promised), as a share of the requests expected, in units of 3 %: a
 * third of requests lost fills the term (10 errors), an outage or a 30 % error rate does.
 */
function userVisibleFailures(aggregates: SpanAggregates, errorsDetected: boolean, fewerDetected: boolean, findings: Finding[]): { errors: number; failedShare: number; missingShare: number } {
  const { baseline, current } = aggregates;
  const expected = baseline.count && baseline.seconds ? (baseline.count / baseline.seconds) * current.seconds : current.count;
  const base = Math.max(1, expected, current.count);
  const missing = fewerDetected ? Math.max(0, expected - current.count) : 0;
  let failed = 0;
  if (errorsDetected) {
    const pooled = Math.max(0, current.errors - (baseline.count ? baseline.errors / baseline.count : 0) * current.count);
    const failing = new Set(findings.filter((finding) => finding.signal === 'errors' && finding.role === 'request').map((finding) => finding.operation));
    const perOperation = aggregates.operations
      .filter((operation) => failing.has(operation.name) && operation.role === 'request')
      .reduce((sum, operation) => sum + Math.max(0, operation.current.errors - (operation.baseline.count ? operation.baseline.errors / operation.baseline.count : 0) * operation.current.count), 0);
    failed = Math.max(pooled, perOperation);
  }
  const failedShare = failed / base;
  const missingShare = missing / base;
  return { errors: Math.min(1, failedShare + missingShare) / 0.03, failedShare, missingShare };
}
