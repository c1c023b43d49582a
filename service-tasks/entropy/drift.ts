/**
 * Drift indicators: each compares the current window with the baseline window by a named
 * statistical test and fires only when the result is both significant (p < alpha) and
 * large enough to matter (an effect-size floor: with a million spans, a 1 % change is
 * "significant" and harmless). `drift` is the number of indicators that fired.
 */
import { countsInDrift, type Finding, type OperationJudgement } from './operations.js';
import type { SpanAggregates } from './ports.js';
import { binomialUpperTail, ksTwoSampleBinned, linearRegression, poissonRateTest, poissonZeroP } from './statistics.js';

export interface DriftOptions {
  /** Significance level of every test. @default 0.001 */
  alpha: number;
  /** Smallest KS distance that counts as a latency shift. @default 0.05 */
  minKsDistance: number;
  /** Smallest absolute change of the error rate that counts. @default 0.02 */
  minErrorRateChange: number;
  /** Smallest |ln(rate ratio)| of throughput that counts (ln 1.25). @default 0.223 */
  minThroughputLogRatio: number;
  /** Expected count under "nothing changed" above which an absence is drift (e^-10 ≈ 4.5e-5). @default 10 */
  minExpectedForAbsence: number;
  /** Repetitions of one activity within one instance beyond which it thrashes. @default 20 */
  repeatBound: number;
  /** Relative rise of the geometric-mean duration over the current window (by the fitted slope) that counts as a trend. @default 0.2 */
  minTrendRise: number;
}

export const DEFAULT_DRIFT_OPTIONS: DriftOptions = {
  alpha: 0.001,
  minKsDistance: 0.05,
  minErrorRateChange: 0.02,
  minThroughputLogRatio: Math.log(1.25),
  minExpectedForAbsence: 10,
  repeatBound: 20,
  minTrendRise: 0.2,
};

export interface Indicator {
  detected: boolean;
  test: string;
  statistic?: number;
  pValue?: number;
  effect?: number;
  details?: Record<string, unknown>;
}

export interface DriftIndicators {
  latencyShift: Indicator;
  errorRate: Indicator;
  throughput: Indicator;
  semantic: Indicator;
  loopThrash: Indicator;
  degradationTrend: Indicator;
  /** CUSUM of failures or latency per bucket, on some operation: a ramp or bursts. */
  sequential: Indicator;
}

export const DRIFT_INDICATORS = ['latencyShift', 'errorRate', 'throughput', 'semantic', 'loopThrash', 'degradationTrend', 'sequential'] as const;

/** Drift: the service-wide indicators that fired, plus one for each operation found degraded (how many things moved). */
export function countDrift(indicators: DriftIndicators, degradedOperations = 0): number {
  return DRIFT_INDICATORS.filter((name) => indicators[name].detected).length + degradedOperations;
}

const signalsOf = (judgement: OperationJudgement | undefined, signals: string[]) => (judgement?.findings ?? []).filter((finding) => !finding.diagnostic && signals.includes(finding.signal));
const operationsOf = (findings: Array<{ operation: string; role: string }>) => [...new Set(findings.map((finding) => `${finding.operation} (${finding.role})`))];

/**
 * The service-wide indicators. Latency, errors and the sequential test fire when some
 * operation's one-sided test fired (operations.ts): judged per route, a mix shift towards a
 * slower route is no latency shift, and one sick route is not averaged away. The pooled
 * figures (requests only: roots, SERVER and CONSUMER spans) stay in the details.
 */
export function computeDrift(aggregates: SpanAggregates, options: DriftOptions = DEFAULT_DRIFT_OPTIONS, judgement?: OperationJudgement): DriftIndicators {
  const { baseline, current } = aggregates;
  const hasBaseline = baseline.count > 0;

  const ks = ksTwoSampleBinned(baseline.histogram, current.histogram);
  // A dependency slower while no request is (a diagnostic finding) still shows here, with its operation named.
  const slower = (judgement?.findings ?? []).filter((finding) => ['latency', 'latency-tail'].includes(finding.signal) && countsInDrift(finding));
  const latencyShift: Indicator = {
    test: "per operation: Welch's t-test on ln(duration) and the share beyond the reference p95, one-sided",
    statistic: ks.statistic,
    pValue: Math.min(1, ...slower.map((finding) => finding.pValue ?? 1)),
    effect: Math.max(1, ...slower.filter((finding) => finding.signal === 'latency').map((finding) => finding.effect)),
    detected: hasBaseline && slower.length > 0,
    details: { operations: operationsOf(slower), pooledKsDistance: ks.statistic, pooledKsP: ks.pValue, baselineP95: baseline.p95, currentP95: current.p95 },
  };

  const rate0 = baseline.count ? baseline.errors / baseline.count : 0;
  const rate1 = current.count ? current.errors / current.count : 0;
  const pooledP = hasBaseline && current.errors >= 3 ? binomialUpperTail(current.errors, current.count, (baseline.errors + 1) / (baseline.count + 1)) : 1;
  const failing = signalsOf(judgement, ['errors', 'errors-absolute']);
  const errorRate: Indicator = {
    test: 'exact binomial test, one-sided, on the requests and on each operation',
    statistic: current.errors,
    pValue: Math.min(pooledP, ...failing.map((finding) => finding.pValue ?? 1)),
    effect: rate1 - rate0,
    detected: (hasBaseline && pooledP < options.alpha && rate1 - rate0 >= options.minErrorRateChange) || failing.length > 0,
    details: { baselineRate: rate0, currentRate: rate1, operations: operationsOf(failing) },
  };

  const rates = poissonRateTest(baseline.count, baseline.seconds, current.count, current.seconds);
  const fewer = signalsOf(judgement, ['throughput', 'outage']);
  const throughput: Indicator = {
    test: 'conditional binomial test of two Poisson rates, one-sided (fewer requests); no request for a stretch the baseline makes improbable',
    statistic: rates.statistic,
    pValue: Math.min(1, ...fewer.map((finding) => finding.pValue ?? 1)),
    effect: rates.ratio,
    detected: hasBaseline && fewer.length > 0,
    details: { outage: fewer.some((finding) => finding.signal === 'outage'), baselinePerSecond: baseline.seconds ? baseline.count / baseline.seconds : 0, currentPerSecond: current.seconds ? current.count / current.seconds : 0 },
  };

  const semantic = semanticDrift(
    aggregates,
    options,
    hasBaseline,
    signalsOf(judgement, ['vanished']).map((finding) => finding.operation),
    signalsOf(judgement, ['semantic']).filter((finding) => finding.attribute && finding.value === undefined).map((finding) => ({ operation: finding.operation, key: finding.attribute as string })),
    signalsOf(judgement, ['semantic']).filter((finding) => finding.value !== undefined),
  );
  const sequentialFindings = signalsOf(judgement, ['errors-sequential', 'latency-sequential']);
  const sequential: Indicator = {
    test: 'CUSUM per operation of bucket log-likelihood ratios (Bernoulli on failures, Gaussian on mean ln(duration))',
    statistic: sequentialFindings.length,
    pValue: Math.min(1, ...sequentialFindings.map((finding) => finding.pValue ?? 1)),
    detected: sequentialFindings.length > 0,
    details: { operations: operationsOf(sequentialFindings) },
  };

  const thrashing = aggregates.repeats.filter((repeat) => repeat.count > options.repeatBound);
  const loopThrash: Indicator = {
    test: `bound: one activity repeated more than ${options.repeatBound} times within one instance`,
    statistic: thrashing.reduce((max, repeat) => Math.max(max, repeat.count), 0),
    detected: thrashing.length > 0,
    details: { instances: thrashing.slice(0, 10) },
  };

  const degradationTrend = trend(aggregates, options);

  return { latencyShift, errorRate, throughput, semantic, loopThrash, degradationTrend, sequential };
}

/**
 * Set difference of span names and attribute keys, made a test: a name absent from one
 * window is drift only when the other window's rate makes its absence improbable — the
 * expected count under "nothing changed" is at least `minExpectedForAbsence` (Poisson P(0)).
 * Attribute values whose share of an operation's spans grew (operations.ts) count as well.
 */
function semanticDrift(
  aggregates: SpanAggregates,
  options: DriftOptions,
  hasBaseline: boolean,
  vanishedPartway: string[],
  vanishedAttributes: Array<{ operation: string; key: string }> = [],
  shifted: Finding[] = [],
): Indicator {
  const { baseline, current, attributeKeys } = aggregates;
  const toCurrent = baseline.seconds > 0 ? current.seconds / baseline.seconds : 0;
  const appearedNames: string[] = [];
  const vanishedNames: string[] = [];
  for (const { name, baseline: inBaseline, current: inCurrent } of aggregates.names) {
    if (inBaseline === 0 && toCurrent > 0 && inCurrent / toCurrent >= options.minExpectedForAbsence) appearedNames.push(name);
    if (inCurrent === 0 && inBaseline * toCurrent >= options.minExpectedForAbsence) vanishedNames.push(name);
  }
  // Gone for the end of the window only (operations.ts): vanished as well.
  for (const name of vanishedPartway) if (!vanishedNames.includes(name)) vanishedNames.push(name);
  const appearedKeys: string[] = [];
  const vanishedKeys: string[] = [];
  const { baselineSample, currentSample } = attributeKeys;
  if (baselineSample > 0 && currentSample > 0) {
    for (const { key, baseline: inBaseline, current: inCurrent } of attributeKeys.keys) {
      if (inBaseline === 0 && (inCurrent / currentSample) * baselineSample >= options.minExpectedForAbsence) appearedKeys.push(key);
      if (inCurrent === 0 && (inBaseline / baselineSample) * currentSample >= options.minExpectedForAbsence) vanishedKeys.push(key);
    }
  }
  // Keys one operation stopped sending, for the whole window or from partway (operations.ts).
  for (const { key } of vanishedAttributes) if (!vanishedKeys.includes(key)) vanishedKeys.push(key);
  const changes = appearedNames.length + vanishedNames.length + appearedKeys.length + vanishedKeys.length + shifted.length;
  return {
    test: "set difference of span names and attribute keys, each absence tested as Poisson P(0) < e^-10; attribute values' shares per operation, Fisher's exact test, one-sided",
    statistic: changes,
    pValue: Math.min(changes - shifted.length ? poissonZeroP(options.minExpectedForAbsence) : 1, ...shifted.map((finding) => finding.pValue ?? 1)),
    detected: hasBaseline && changes > 0,
    details: {
      appearedNames,
      vanishedNames,
      appearedKeys,
      vanishedKeys,
      vanishedAttributes: vanishedAttributes.map(({ operation, key }) => `${operation}: ${key}`),
      shiftedValues: shifted.map((finding) => ({ operation: finding.operation, role: finding.role, key: finding.attribute, value: finding.value, baselineShare: finding.baselineShare, currentShare: finding.currentShare })),
    },
  };
}

/**
 * Least-squares slope of the mean ln(duration) over the current window's buckets, t-test of
 * slope = 0. The mean of logs, not a p95: with a few hundred spans a bucket, a p95 wanders
 * so much that only a steep creep stood out, while the mean log moves with the whole
 * distribution and is steady enough to show a 30 % creep.
 */
function trend(aggregates: SpanAggregates, options: DriftOptions): Indicator {
  const points = aggregates.series.filter((point) => point.logMean !== null && point.count >= 5);
  const xs = points.map((_, index) => index);
  const ys = points.map((point) => point.logMean as number);
  const fit = linearRegression(xs, ys);
  const rise = Math.exp(fit.slope * Math.max(0, points.length - 1)) - 1;
  return {
    test: 'least-squares slope of mean ln(duration) per bucket, Student t-test of slope = 0',
    statistic: fit.statistic,
    pValue: fit.pValue,
    effect: rise,
    detected: fit.n >= 6 && fit.pValue < options.alpha && rise >= options.minTrendRise,
    details: { buckets: points.length, slopePerBucket: fit.slope },
  };
}
