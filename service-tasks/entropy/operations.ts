/**
 * Per-operation judgement: every span name is judged on its own (requests by their own error
 * rate and latency, dependencies by theirs), so one sick route among healthy ones is not
 * averaged away. Every test is one-sided — more errors, slower, fewer requests, something
 * gone — because faster and busier is not sickness. Each test is exact or has a minimum of
 * evidence, and the significance level is shared out over all the tests of a measurement
 * (Bonferroni), so a stable stream with many operations stays quiet.
 *
 * A finding has a severity in 0..1: a confirmed, material breach starts at
 * SEVERITY_FLOOR and grows with the size of the breach to 1 (an outage, a quarter of requests
 * failing, four times slower). The measurement's health is 1 − the worst severity: the worst
 * operation's health, not a pooled mean.
 */
import type { OperationAggregate, SpanAggregates, SpanStats } from './ports.js';
import { binomialLowerTail, binomialUpperTail, fisherUpperTail, welch } from './statistics.js';

export type FindingSignal =
  | 'errors'
  | 'errors-absolute'
  | 'latency'
  | 'latency-tail'
  | 'errors-sequential'
  | 'latency-sequential'
  | 'throughput'
  | 'outage'
  | 'vanished'
  | 'semantic'
  | 'loop-thrash';

export interface Finding {
  /** Span name, or `(service)` for the service's requests as a whole. */
  operation: string;
  role: string;
  signal: FindingSignal;
  test: string;
  pValue?: number;
  /** Size of the breach in the signal's own unit (error-rate excess, latency ratio, rate ratio, …). */
  effect: number;
  severity: number;
  /** A vanished attribute: the attribute key the operation stopped sending; a shifted value: its key. */
  attribute?: string;
  /** A shifted attribute value (signal `semantic`): the value whose share of the operation's spans grew. */
  value?: string;
  /** A shifted attribute value: its share of the operation's spans in the reference sample and in the current one. */
  baselineShare?: number;
  currentShare?: number;
  /** What it was compared with: the whole baseline, or its oldest quarter (before a long fault). */
  reference?: 'baseline' | 'oldest-quarter';
  /**
   * Counted in drift (the operation is named among the degraded ones, the latency indicator
   * fires), not in health: a dependency that got slower while no request did. A dependency's
   * latency moves with the mix of requests that call it (more checkouts, slower queries), and
   * what users feel is the requests' latency, judged on its own; so alone it moves the score by
   * the drift term only (two indicators, 0.12) and cannot make a stable system "sick". Only at
   * twice as slow or more (`countsInDrift`): a shift of the route mix moves a shared
   * dependency's mean by less (×1.4 when checkouts triple in the simulated shop).
   */
  diagnostic?: boolean;
}

export interface OperationOptions {
  /** Chance, over all tests of one measurement, that a stable stream shows any finding. @default 0.004 */
  familyAlpha: number;
  /** Smallest rise of an error rate that counts (absolute). @default 0.02 */
  minErrorRateChange: number;
  /** Smallest ratio of the current error rate to the reference one. @default 1.5 */
  minErrorRatio: number;
  /** Smallest ratio of geometric-mean durations that counts as slower. @default 1.2 */
  minLatencyRatio: number;
  /** Smallest rise of the share of spans slower than the reference's p95. @default 0.05 */
  minTailShare: number;
  /** Expected count under "nothing changed" from which an absence counts. @default 10 */
  minExpectedForAbsence: number;
  /** A drop of the request rate to this share or below counts. @default 0.7 */
  maxThroughputRatio: number;
  /** An absence must also last this long (spans reach the store late). @default 30 */
  minAbsenceSeconds: number;
  /** Request error rate that is sick whatever the baseline was. @default 0.3 */
  absoluteErrorRate: number;
  /**
   * An attribute key counts as vanished only when the operation carried it on at least this share of
   * its spans: keys an operation sets now and then (on failures, on some inputs) come and go with good
   * news too. @default 0.5
   */
  minKeyPresence: number;
  /** Smallest rise of an attribute value's share of an operation's spans that counts (absolute). @default 0.05 */
  minValueShareChange: number;
  /** Smallest ratio of an attribute value's current share to its reference share. @default 2 */
  minValueShareRatio: number;
  /** Spans of the operation (in the stretch tested) and spans with the value needed to judge a value's share. @default 20 and 5 */
  minValueSpans: number;
  minValueCount: number;
}

export const DEFAULT_OPERATION_OPTIONS: OperationOptions = {
  familyAlpha: 0.004,
  minErrorRateChange: 0.02,
  minErrorRatio: 1.5,
  minLatencyRatio: 1.2,
  minTailShare: 0.05,
  minExpectedForAbsence: 10,
  maxThroughputRatio: 0.7,
  minAbsenceSeconds: 30,
  absoluteErrorRate: 0.3,
  minKeyPresence: 0.5,
  minValueShareChange: 0.05,
  minValueShareRatio: 2,
  minValueSpans: 20,
  minValueCount: 5,
};

/** The severity of the smallest confirmed breach: alone it brings the entropy score to MEDIUM (0.4·0.62 + one indicator). */
export const SEVERITY_FLOOR = 0.62;
const severity = (magnitude: number) => Math.min(1, SEVERITY_FLOOR + (1 - SEVERITY_FLOOR) * Math.min(1, Math.max(0, magnitude)));

/** How late spans may reach the store (an SDK's batch delay and then some). */
export const INGEST_GRACE_SECONDS = 15;

const LATENCY_SIGNALS: FindingSignal[] = ['latency', 'latency-tail', 'latency-sequential'];

/** A diagnostic dependency slowdown this many times slower names its operation in drift. */
export const DIAGNOSTIC_DRIFT_RATIO = 2;

/** Whether a finding counts in drift: every scored one, and a diagnostic slowdown of at least DIAGNOSTIC_DRIFT_RATIO. */
export const countsInDrift = (finding: Finding) => !finding.diagnostic || (finding.signal === 'latency' && finding.effect >= DIAGNOSTIC_DRIFT_RATIO);

/** Tests per operation (errors ×2 references, latency ×2, tail, two CUSUMs, the recent errors): the Bonferroni share. */
const TESTS_PER_OPERATION = 8;
/** Operations need this many baseline spans to be judged at all. */
const MIN_BASELINE = 10;

interface Moments {
  n: number;
  mean: number;
  variance: number;
}

function moments(stats: SpanStats): Moments {
  const n = stats.count;
  const mean = n ? stats.sumLog / n : 0;
  const variance = n > 1 ? Math.max(0, (stats.sumLog2 - n * mean * mean) / (n - 1)) : 0;
  return { n, mean, variance };
}

export interface OperationJudgement {
  findings: Finding[];
  /** Operations with at least one finding (diagnostic ones with severity 0), worst first. */
  degraded: Array<{ operation: string; role: string; severity: number; signals: FindingSignal[] }>;
  /** Significance level of each single test. */
  alpha: number;
  judged: number;
}

/**
 * `timeOrdered` false: the two sides are versions, not consecutive windows (a regenflow
 * process's latest version against its previous one), so nothing is read from the order of
 * the buckets (no sequential test, no "quiet since").
 */
export function judgeOperations(aggregates: SpanAggregates, options: OperationOptions = DEFAULT_OPERATION_OPTIONS, timeOrdered = true, unobservedBuckets = 0): OperationJudgement {
  const observed = Math.max(0, aggregates.series.length - unobservedBuckets);
  const eligible = aggregates.operations.filter((operation) => operation.baseline.count >= MIN_BASELINE && operation.name !== '(other)');
  const judged = Math.max(1, eligible.length);
  const alpha = options.familyAlpha / (judged * TESTS_PER_OPERATION + 4);
  const findings: Finding[] = [];
  const baselineSeconds = aggregates.baseline.seconds;
  const currentSeconds = aggregates.current.seconds;
  for (const operation of eligible) {
    findings.push(...judgeOperation(operation, options, alpha, { baselineSeconds, currentSeconds, bucketSeconds: aggregates.bucketSeconds, observed }, timeOrdered));
  }
  findings.push(...judgeRequests(aggregates, options, alpha, timeOrdered, observed));
  findings.push(...vanishedAttributes(aggregates, options, timeOrdered));
  const values = shiftedValues(aggregates, options, timeOrdered);
  findings.push(...values);
  const slowRequests = findings.some((finding) => finding.role === 'request' && LATENCY_SIGNALS.includes(finding.signal));
  for (const finding of findings) {
    if (finding.role !== 'request' && LATENCY_SIGNALS.includes(finding.signal) && !slowRequests) finding.diagnostic = true;
  }
  // A dependency's attribute values move with the mix of requests that call it (more checkouts, more INSERTs): alone
  // they are reported, not scored; once some request is found sick they count like the rest.
  const sickRequests = findings.some((finding) => finding.role === 'request' && !finding.diagnostic);
  for (const finding of values) if (finding.role !== 'request' && !sickRequests) finding.diagnostic = true;
  const byOperation = new Map<string, { operation: string; role: string; severity: number; signals: FindingSignal[] }>();
  for (const finding of findings) {
    if (finding.operation === '(service)' || !countsInDrift(finding)) continue;
    const key = `${finding.role} ${finding.operation}`;
    const entry = byOperation.get(key) ?? { operation: finding.operation, role: finding.role, severity: 0, signals: [] };
    // A diagnostic finding names its operation (drift) without a severity (health).
    if (!finding.diagnostic) entry.severity = Math.max(entry.severity, finding.severity);
    if (!entry.signals.includes(finding.signal)) entry.signals.push(finding.signal);
    byOperation.set(key, entry);
  }
  const degraded = [...byOperation.values()].sort((a, b) => b.severity - a.severity);
  return { findings, degraded, alpha, judged: eligible.length };
}

function judgeOperation(operation: OperationAggregate, options: OperationOptions, alpha: number, time: { baselineSeconds: number; currentSeconds: number; bucketSeconds: number; observed: number }, timeOrdered: boolean): Finding[] {
  const findings: Finding[] = [];
  const { name, role } = operation;
  const current = operation.current;
  const oldest = operation.quarters[0];
  const references: Array<['baseline' | 'oldest-quarter', SpanStats]> = [['baseline', operation.baseline]];
  if (oldest && oldest.count >= MIN_BASELINE) references.push(['oldest-quarter', oldest]);

  // Errors: exact one-sided binomial test of the current failures against the reference's rate.
  let errorFinding: Finding | null = null;
  for (const [reference, stats] of references) {
    const found = errorTest(current, stats, options, alpha);
    if (found && (!errorFinding || found.effect > errorFinding.effect)) errorFinding = { operation: name, role, ...found, reference };
  }
  if (errorFinding) findings.push(errorFinding);

  // Latency: Welch's t-test on ln(duration), one-sided (slower), with a material ratio.
  if (current.count >= 5) {
    let latencyFinding: Finding | null = null;
    const now = moments(current);
    for (const [reference, stats] of references) {
      const before = moments(stats);
      if (before.n < MIN_BASELINE) continue;
      const test = welch(before.n, before.mean, before.variance, now.n, now.mean, now.variance, 'greater');
      const ratio = Math.exp(now.mean - before.mean);
      if (test.pValue < alpha && ratio >= options.minLatencyRatio && (!latencyFinding || ratio > latencyFinding.effect)) {
        latencyFinding = {
          operation: name,
          role,
          signal: 'latency',
          test: "Welch's t-test on ln(duration), one-sided",
          pValue: test.pValue,
          effect: ratio,
          severity: severity(Math.log(ratio) / Math.log(4)),
          reference,
        };
      }
    }
    if (latencyFinding) findings.push(latencyFinding);
    const tail = tailTest(operation, options, alpha);
    if (tail) findings.push({ operation: name, role, ...tail, reference: 'baseline' });
  }

  // Sequential: CUSUM of the bucket log-likelihood ratios, on errors and on latency.
  if (timeOrdered) findings.push(...sequentialTests(operation, options, alpha).map((finding) => ({ operation: name, role, ...finding, reference: 'baseline' as const })));

  // Vanished: gone for the last stretch of the window (or all of it) while its baseline rate makes that improbable.
  if (role !== 'internal' && timeOrdered) {
    const rate = operation.baseline.count / Math.max(1, time.baselineSeconds);
    const quiet = trailingQuietSeconds(operation.buckets.slice(0, time.observed), time.bucketSeconds);
    if (quiet >= options.minAbsenceSeconds && rate * quiet >= options.minExpectedForAbsence) {
      findings.push({
        operation: name,
        role,
        signal: 'vanished',
        test: `no span for the last ${Math.round(quiet)} s, where ${(rate * quiet).toFixed(1)} were expected (Poisson P(0) < e^-${options.minExpectedForAbsence})`,
        pValue: Math.exp(-rate * quiet),
        effect: rate * quiet,
        severity: role === 'request' ? 0.8 : SEVERITY_FLOOR,
      });
    }
  }
  return findings;
}

type Verdict = Omit<Finding, 'operation' | 'role' | 'reference'>;

function errorTest(current: SpanStats, reference: SpanStats, options: OperationOptions, alpha: number): Verdict | null {
  if (reference.count < MIN_BASELINE || current.errors < 3) return null;
  // The reference's rate with one failure added: a clean baseline never makes p0 zero.
  const p0 = (reference.errors + 1) / (reference.count + 1);
  const rate0 = reference.errors / reference.count;
  const rate1 = current.errors / current.count;
  const excess = rate1 - rate0;
  if (excess < options.minErrorRateChange || rate1 < options.minErrorRatio * rate0) return null;
  const pValue = binomialUpperTail(current.errors, current.count, p0);
  if (pValue >= alpha) return null;
  return { signal: 'errors', test: 'exact binomial test, one-sided (more failures than the reference rate)', pValue, effect: excess, severity: severity(excess / 0.25) };
}

/** Share of spans slower than the reference's p95 (a bin edge of the histogram), exact binomial, one-sided. */
function tailTest(operation: OperationAggregate, options: OperationOptions, alpha: number): Verdict | null {
  const base = operation.baselineHistogram;
  const total = base.reduce((a, b) => a + b, 0);
  const now = operation.currentHistogram;
  const nowTotal = now.reduce((a, b) => a + b, 0);
  if (total < 40 || nowTotal < 5) return null;
  let above = total;
  let edge = -1;
  for (let index = 0; index < base.length; index++) {
    above -= base[index] ?? 0;
    if (above <= 0.05 * total) {
      edge = index;
      break;
    }
  }
  if (edge < 0) return null;
  const nowAbove = now.slice(edge + 1).reduce((a, b) => a + b, 0);
  const p0 = (above + 1) / (total + 1);
  const share = nowAbove / nowTotal;
  if (nowAbove < 3 || share - p0 < options.minTailShare || share < 2 * p0) return null;
  const pValue = binomialUpperTail(nowAbove, nowTotal, p0);
  if (pValue >= alpha) return null;
  return { signal: 'latency-tail', test: "exact binomial test of the share slower than the reference's p95, one-sided", pValue, effect: share, severity: severity((share - p0) / 0.5) };
}

/**
 * CUSUM (Page) of per-bucket log-likelihood ratios against the baseline: Bernoulli for
 * failures (p0 → p1 = max(p0 + 5 points, 3·p0)), Gaussian for the bucket's mean ln(duration)
 * (μ0 → μ0 + ln 1.5). It accumulates evidence over consecutive buckets, so a ramp or a
 * burst that a whole-window mean dilutes still adds up. Threshold h = ln(buckets / α): by
 * Wald's bound, a stable stream crosses it with probability below α.
 */
function sequentialTests(operation: OperationAggregate, options: OperationOptions, alpha: number): Verdict[] {
  const baseline = operation.baseline;
  if (baseline.count < 30 || operation.buckets.length < 2) return [];
  const h = Math.log(operation.buckets.length / alpha);
  const found: Verdict[] = [];
  const p0 = (baseline.errors + 1) / (baseline.count + 1);
  const p1 = Math.min(0.95, Math.max(p0 + 0.05, 3 * p0));
  const up = Math.log(p1 / p0);
  const down = Math.log((1 - p1) / (1 - p0));
  let s = 0;
  let run = { errors: 0, count: 0 };
  let best = { s: 0, errors: 0, count: 0 };
  for (const bucket of operation.buckets) {
    const llr = bucket.errors * up + (bucket.count - bucket.errors) * down;
    if (s + llr <= 0) {
      s = 0;
      run = { errors: 0, count: 0 };
    } else {
      s += llr;
      run = { errors: run.errors + bucket.errors, count: run.count + bucket.count };
    }
    if (s > best.s) best = { s, ...run };
  }
  const rate0 = baseline.errors / baseline.count;
  if (best.s >= h && best.errors >= 3 && best.errors / best.count - rate0 >= options.minErrorRateChange) {
    const excess = best.errors / best.count - rate0;
    found.push({ signal: 'errors-sequential', test: 'Bernoulli CUSUM of bucket log-likelihood ratios, h = ln(buckets/α)', pValue: Math.exp(-best.s) * operation.buckets.length, effect: excess, severity: severity(excess / 0.25) });
  } else {
    const recent = recentErrors(operation, options, alpha);
    if (recent) found.push(recent);
  }
  const reference = moments(baseline);
  if (reference.variance > 0) {
    const delta = Math.log(1.5);
    s = 0;
    let sum = { count: 0, sumLog: 0 };
    let top = { s: 0, count: 0, sumLog: 0 };
    for (const bucket of operation.buckets) {
      if (!bucket.count) continue;
      const mean = bucket.sumLog / bucket.count;
      const llr = ((bucket.count * delta) / reference.variance) * (mean - reference.mean - delta / 2);
      if (s + llr <= 0) {
        s = 0;
        sum = { count: 0, sumLog: 0 };
      } else {
        s += llr;
        sum = { count: sum.count + bucket.count, sumLog: sum.sumLog + bucket.sumLog };
      }
      if (s > top.s) top = { s, ...sum };
    }
    const ratio = top.count ? Math.exp(top.sumLog / top.count - reference.mean) : 1;
    if (top.s >= h && top.count >= 5 && ratio >= options.minLatencyRatio) {
      found.push({ signal: 'latency-sequential', test: 'Gaussian CUSUM of bucket mean ln(duration), h = ln(buckets/α)', pValue: Math.exp(-top.s) * operation.buckets.length, effect: ratio, severity: severity(Math.log(ratio) / Math.log(4)) });
    }
  }
  return found;
}

/**
 * Attribute keys an operation stopped sending, for the whole window or from partway through it:
 * per span name and key, the run of the operation's latest spans (in the current window's sample,
 * bucket by bucket from the end) without the key, against the share of its baseline spans that
 * carried it. Under "nothing changed" each span carries the key with probability p (the
 * baseline's share, one span added so it is never certain), so n spans without it have
 * probability (1 − p)^n ≤ e^(−n·p); it counts when n·p ≥ `minExpectedForAbsence` (P < e^−10),
 * the run lasts `minAbsenceSeconds` and the key was usual (p ≥ `minKeyPresence`). Any key, any
 * operation (requests, dependencies, internal work).
 */
function vanishedAttributes(aggregates: SpanAggregates, options: OperationOptions, timeOrdered: boolean): Finding[] {
  const findings: Finding[] = [];
  const roleOf = new Map<string, string>();
  for (const operation of aggregates.operations) if (!roleOf.has(operation.name) || operation.role === 'request') roleOf.set(operation.name, operation.role);
  for (const entry of aggregates.operationKeys ?? []) {
    if (entry.name === '(other)' || entry.baselineSpans < MIN_BASELINE) continue;
    // The sample of the current window reaches back to its first bucket with spans; earlier buckets were not read.
    const first = entry.currentSpans.findIndex((count) => count > 0);
    if (first < 0) continue;
    for (const { key, baseline, current } of entry.keys) {
      const presence = baseline / (entry.baselineSpans + 1);
      if (presence < options.minKeyPresence) continue;
      let spans = 0;
      let since = entry.currentSpans.length;
      for (let k = entry.currentSpans.length - 1; k >= (timeOrdered ? first : 0); k--) {
        if ((current[k] ?? 0) > 0) break;
        spans += entry.currentSpans[k] ?? 0;
        since = k;
      }
      const seconds = timeOrdered ? (entry.currentSpans.length - since) * aggregates.bucketSeconds : aggregates.current.seconds;
      const expected = spans * presence;
      if (expected < options.minExpectedForAbsence || seconds < options.minAbsenceSeconds) continue;
      findings.push({
        operation: entry.name,
        role: roleOf.get(entry.name) ?? 'request',
        signal: 'semantic',
        attribute: key,
        test: `attribute ${key} missing from the last ${spans} spans (${Math.round(seconds)} s), where ${(presence * 100).toFixed(0)} % of the baseline's carried it (P(0) < e^-${options.minExpectedForAbsence})`,
        pValue: Math.exp(-expected),
        effect: spans,
        severity: SEVERITY_FLOOR,
      });
    }
  }
  return findings;
}

/** A shifted value's reference sample must hold this many spans of its operation. */
const MIN_VALUE_BASELINE = 30;

/**
 * Attribute values whose share of an operation's spans grew: a status code, an `error.type`, a
 * retry or timeout marker that more and more of one route's spans carry. Per span name and
 * attribute key with few distinct values (the store counts values only below a cardinality cap),
 * every value except the reference's most common one — "no such key" counting as a value, so
 * a key set only on failures has its values judged — is tested one-sided: Fisher's exact test
 * of its share in the current sample against the reference sample, over the trailing stretches
 * of the window (the last bucket, the last two, …, all of it: a fault that began partway is not
 * diluted by the healthy start). It counts when p < α shared out over every value and stretch
 * tested (Bonferroni), at least `minValueCount` of `minValueSpans` spans carry it, and its share
 * rose by `minValueShareChange` and to `minValueShareRatio` times the reference's. One-sided:
 * the usual value growing or any value falling is no finding. Keys the reference never carried
 * are left to the appeared-keys test (a release that adds an attribute is not sickness).
 */
function shiftedValues(aggregates: SpanAggregates, options: OperationOptions, timeOrdered: boolean): Finding[] {
  const roleOf = new Map<string, string>();
  for (const operation of aggregates.operations) if (!roleOf.has(operation.name) || operation.role === 'request') roleOf.set(operation.name, operation.role);
  type Candidate = { operation: string; currentSpans: number[]; baselineSpans: number; key: string; value: string; baseline: number; current: number[] };
  const candidates: Candidate[] = [];
  for (const entry of aggregates.operationKeys ?? []) {
    if (entry.name === '(other)' || entry.baselineSpans < MIN_VALUE_BASELINE) continue;
    for (const key of entry.keys) {
      if (!key.values || key.baseline === 0) continue;
      let dominant: string | null = null;
      let most = entry.baselineSpans - key.baseline;
      for (const value of key.values) {
        if (value.baseline > most) {
          most = value.baseline;
          dominant = value.value;
        }
      }
      for (const value of key.values) {
        if (value.value !== dominant) candidates.push({ operation: entry.name, currentSpans: entry.currentSpans, baselineSpans: entry.baselineSpans, key: key.key, value: value.value, baseline: value.baseline, current: value.current });
      }
    }
  }
  const stretches = timeOrdered ? Math.max(1, aggregates.series.length) : 1;
  const alpha = options.familyAlpha / Math.max(1, candidates.length * stretches);
  const findings: Finding[] = [];
  for (const candidate of candidates) {
    const p0 = candidate.baseline / candidate.baselineSpans;
    let spans = 0;
    let carrying = 0;
    let best: { pValue: number; share: number; spans: number; buckets: number } | null = null;
    for (let k = candidate.currentSpans.length - 1; k >= 0; k--) {
      spans += candidate.currentSpans[k] ?? 0;
      carrying += candidate.current[k] ?? 0;
      if ((!timeOrdered && k > 0) || spans < options.minValueSpans || carrying < options.minValueCount) continue;
      const share = carrying / spans;
      if (share - p0 < options.minValueShareChange || share < options.minValueShareRatio * p0) continue;
      const pValue = fisherUpperTail(candidate.baseline, candidate.baselineSpans, carrying, spans);
      if (pValue < alpha && (!best || pValue < best.pValue)) best = { pValue, share, spans, buckets: candidate.currentSpans.length - k };
    }
    if (!best) continue;
    const stretch = timeOrdered ? `the last ${Math.round(best.buckets * aggregates.bucketSeconds)} s` : 'the latest version';
    findings.push({
      operation: candidate.operation,
      role: roleOf.get(candidate.operation) ?? 'request',
      signal: 'semantic',
      attribute: candidate.key,
      value: candidate.value,
      baselineShare: p0,
      currentShare: best.share,
      test: `share of spans with ${candidate.key} = ${candidate.value}: ${(100 * best.share).toFixed(1)} % of ${best.spans} in ${stretch} against ${(100 * p0).toFixed(1)} % of ${candidate.baselineSpans} in the reference (Fisher's exact test, one-sided)`,
      pValue: best.pValue,
      effect: best.share - p0,
      severity: severity((best.share - p0) / 0.25),
    });
  }
  return findings;
}

/** Seconds at the end of the window without a span (whole empty buckets). */
function trailingQuietSeconds(buckets: SpanStats[], bucketSeconds: number): number {
  let empty = 0;
  for (let index = buckets.length - 1; index >= 0 && (buckets[index] as SpanStats).count === 0; index--) empty++;
  return empty * bucketSeconds;
}

/**
 * The service's requests as a whole: fewer of them (one-sided conditional binomial test of
 * two Poisson rates), none at all for the last stretch where the baseline had traffic (an
 * outage), and an error rate that is sick whatever the baseline was.
 */
function judgeRequests(aggregates: SpanAggregates, options: OperationOptions, alpha: number, timeOrdered: boolean, observed: number): Finding[] {
  const findings: Finding[] = [];
  const { baseline } = aggregates;
  const settled = timeOrdered ? aggregates.series.slice(0, observed) : aggregates.series;
  // The current window as far as it is observed (all of it when the sides are versions).
  const current = timeOrdered
    ? { ...aggregates.current, count: settled.reduce((sum, point) => sum + point.count, 0), errors: settled.reduce((sum, point) => sum + point.errors, 0), seconds: observed * aggregates.bucketSeconds }
    : aggregates.current;
  if (baseline.count > 0 && baseline.seconds > 0 && current.seconds > 0 && settled.length) {
    const rate = baseline.count / baseline.seconds;
    const expected = rate * current.seconds;
    const quiet = timeOrdered ? trailingQuietSeconds(settled.map((point) => ({ count: point.count, errors: point.errors, sumLog: 0, sumLog2: 0 })), aggregates.bucketSeconds) : 0;
    if (quiet >= options.minAbsenceSeconds && rate * quiet >= options.minExpectedForAbsence) {
      findings.push({
        operation: '(service)',
        role: 'request',
        signal: 'outage',
        test: `no request for the last ${Math.round(quiet)} s, where ${(rate * quiet).toFixed(1)} were expected`,
        pValue: Math.exp(-rate * quiet),
        effect: current.count / Math.max(1, expected),
        severity: 1,
      });
    } else if (timeOrdered) {
      // Fewer requests, only between consecutive windows: two versions' request rates say how traffic was routed to each
      // and for how long, not how healthy either is.
      const drop = countCusum(settled.map((point) => point.count), rate * aggregates.bucketSeconds, alpha);
      if (drop && drop.ratio <= options.maxThroughputRatio) {
        findings.push({
          operation: '(service)',
          role: 'request',
          signal: 'throughput',
          test: 'Poisson CUSUM of requests per bucket (rate → half), h = ln(buckets/α)',
          pValue: drop.pValue,
          effect: drop.ratio,
          severity: severity(Math.log(1 / Math.max(drop.ratio, 1e-9)) / Math.log(4)),
        });
      }
      const share = current.seconds / (baseline.seconds + current.seconds);
      const pValue = binomialLowerTail(current.count, baseline.count + current.count, share);
      const ratio = current.count / expected;
      if (!drop && expected >= options.minExpectedForAbsence && pValue < alpha && ratio <= options.maxThroughputRatio) {
        findings.push({
          operation: '(service)',
          role: 'request',
          signal: 'throughput',
          test: 'conditional binomial test of two Poisson rates, one-sided (fewer requests)',
          pValue,
          effect: ratio,
          severity: severity(Math.log(1 / Math.max(ratio, 1e-9)) / Math.log(4)),
        });
      }
    }
  }
  if (current.count >= 10) {
    // Sick whatever the baseline was: the rate is above the floor with confidence (the floor itself a third lower).
    const pValue = binomialUpperTail(current.errors, current.count, (2 / 3) * options.absoluteErrorRate);
    if (current.errors / current.count >= options.absoluteErrorRate && pValue < alpha) {
      findings.push({ operation: '(service)', role: 'request', signal: 'errors-absolute', test: `error rate at or above ${options.absoluteErrorRate}, exact binomial`, pValue, effect: current.errors / current.count, severity: 1 });
    }
  }
  return findings;
}

/**
 * Failures since a change point, up to now: every stretch that ends with the window (from each
 * bucket to the last) by the exact binomial test against the reference rate, Bonferroni over the
 * stretches. A ramp or a fault that is still growing has its evidence at the end, where a
 * whole-window rate dilutes it and a CUSUM tuned to a large step (above) gathers it too slowly:
 * a dependency failing 0.5 % more each minute shows 5 % after ten minutes but 2 % over the window.
 */
function recentErrors(operation: OperationAggregate, options: OperationOptions, alpha: number): Verdict | null {
  const { buckets } = operation;
  const stretch: SpanStats = { count: 0, errors: 0, sumLog: 0, sumLog2: 0 };
  let best: { found: Verdict; pValue: number; buckets: number } | null = null;
  for (let index = buckets.length - 1; index >= 0; index--) {
    stretch.count += buckets[index]!.count;
    stretch.errors += buckets[index]!.errors;
    // The window's own error test on the stretch, at α shared out over the stretches.
    const found = errorTest(stretch, operation.baseline, options, alpha / buckets.length);
    const pValue = found?.pValue ?? 1;
    if (found && (!best || pValue < best.pValue)) best = { found, pValue, buckets: buckets.length - index };
  }
  if (!best) return null;
  return {
    ...best.found,
    signal: 'errors-sequential',
    test: `exact binomial test of the failures in the last ${best.buckets} of ${buckets.length} buckets, one-sided, Bonferroni over the stretches that end now`,
    pValue: Math.min(1, best.pValue * buckets.length),
  };
}

/**
 * Poisson CUSUM for a drop of a count per bucket from λ0 to λ0/2: accumulates the buckets'
 * log-likelihood ratios, fires past h = ln(buckets/α); returns the rate ratio over the run.
 */
function countCusum(counts: number[], expectedPerBucket: number, alpha: number): { ratio: number; pValue: number } | null {
  if (expectedPerBucket <= 0 || counts.length < 2) return null;
  const h = Math.log(counts.length / alpha);
  const lambda1 = expectedPerBucket / 2;
  let s = 0;
  let run = { count: 0, buckets: 0 };
  let best = { s: 0, count: 0, buckets: 0 };
  for (const count of counts) {
    const llr = count * Math.log(lambda1 / expectedPerBucket) - (lambda1 - expectedPerBucket);
    if (s + llr <= 0) {
      s = 0;
      run = { count: 0, buckets: 0 };
    } else {
      s += llr;
      run = { count: run.count + count, buckets: run.buckets + 1 };
    }
    if (s > best.s) best = { s, ...run };
  }
  if (best.s < h || !best.buckets) return null;
  return { ratio: best.count / (best.buckets * expectedPerBucket), pValue: Math.min(1, counts.length * Math.exp(-best.s)) };
}
