/**
 * Drift indicators: each compares the current window with the baseline window by a named
 * statistical test and fires only when the result is both significant (p < alpha) and
 * large enough to matter (an effect-size floor: with a million spans, a 1 % change is
 * "significant" and harmless). `drift` is the number of indicators that fired.
 */
import type { SpanAggregates } from './ports.js';
import { ksTwoSampleBinned, linearRegression, poissonRateTest, poissonZeroP, twoProportionZTest } from './statistics.js';

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
}

export const DRIFT_INDICATORS = ['latencyShift', 'errorRate', 'throughput', 'semantic', 'loopThrash', 'degradationTrend'] as const;

export function countDrift(indicators: DriftIndicators): number {
  return DRIFT_INDICATORS.filter((name) => indicators[name].detected).length;
}

export function computeDrift(aggregates: SpanAggregates, options: DriftOptions = DEFAULT_DRIFT_OPTIONS): DriftIndicators {
  const { baseline, current } = aggregates;
  const hasBaseline = baseline.count > 0;

  const ks = ksTwoSampleBinned(baseline.histogram, current.histogram);
  const latencyShift: Indicator = {
    test: 'two-sample Kolmogorov-Smirnov on log-binned span durations',
    statistic: ks.statistic,
    pValue: ks.pValue,
    effect: ks.statistic,
    detected: hasBaseline && ks.pValue < options.alpha && ks.statistic >= options.minKsDistance,
    details: { baselineP95: baseline.p95, currentP95: current.p95 },
  };

  const proportions = twoProportionZTest(baseline.errors, baseline.count, current.errors, current.count);
  const rate0 = baseline.count ? baseline.errors / baseline.count : 0;
  const rate1 = current.count ? current.errors / current.count : 0;
  const errorRate: Indicator = {
    test: 'two-proportion z-test (pooled) on error spans',
    statistic: proportions.statistic,
    pValue: proportions.pValue,
    effect: rate1 - rate0,
    detected: hasBaseline && proportions.pValue < options.alpha && Math.abs(rate1 - rate0) >= options.minErrorRateChange,
    details: { baselineRate: rate0, currentRate: rate1 },
  };

  const rates = poissonRateTest(baseline.count, baseline.seconds, current.count, current.seconds);
  const logRatio = rates.ratio > 0 && Number.isFinite(rates.ratio) ? Math.log(rates.ratio) : rates.ratio === 0 ? -Infinity : Infinity;
  const throughput: Indicator = {
    test: 'conditional binomial test of two Poisson rates (normal approximation)',
    statistic: rates.statistic,
    pValue: rates.pValue,
    effect: rates.ratio,
    detected: hasBaseline && rates.pValue < options.alpha && Math.abs(logRatio) >= options.minThroughputLogRatio,
    details: { baselinePerSecond: baseline.seconds ? baseline.count / baseline.seconds : 0, currentPerSecond: current.seconds ? current.count / current.seconds : 0 },
  };

  const semantic = semanticDrift(aggregates, options, hasBaseline);

  const thrashing = aggregates.repeats.filter((repeat) => repeat.count > options.repeatBound);
  const loopThrash: Indicator = {
    test: `bound: one activity repeated more than ${options.repeatBound} times within one instance`,
    statistic: thrashing.reduce((max, repeat) => Math.max(max, repeat.count), 0),
    detected: thrashing.length > 0,
    details: { instances: thrashing.slice(0, 10) },
  };

  const degradationTrend = trend(aggregates, options);

  return { latencyShift, errorRate, throughput, semantic, loopThrash, degradationTrend };
}

/**
 * Set difference of span names and attribute keys, made a test: a name absent from one
 * window is drift only when the other window's rate makes its absence improbable — the
 * expected count under "nothing changed" is at least `minExpectedForAbsence` (Poisson P(0)).
 */
function semanticDrift(aggregates: SpanAggregates, options: DriftOptions, hasBaseline: boolean): Indicator {
  const { baseline, current, attributeKeys } = aggregates;
  const toCurrent = baseline.seconds > 0 ? current.seconds / baseline.seconds : 0;
  const appearedNames: string[] = [];
  const vanishedNames: string[] = [];
  for (const { name, baseline: inBaseline, current: inCurrent } of aggregates.names) {
    if (inBaseline === 0 && toCurrent > 0 && inCurrent / toCurrent >= options.minExpectedForAbsence) appearedNames.push(name);
    if (inCurrent === 0 && inBaseline * toCurrent >= options.minExpectedForAbsence) vanishedNames.push(name);
  }
  const appearedKeys: string[] = [];
  const vanishedKeys: string[] = [];
  const { baselineSample, currentSample } = attributeKeys;
  if (baselineSample > 0 && currentSample > 0) {
    for (const { key, baseline: inBaseline, current: inCurrent } of attributeKeys.keys) {
      if (inBaseline === 0 && (inCurrent / currentSample) * baselineSample >= options.minExpectedForAbsence) appearedKeys.push(key);
      if (inCurrent === 0 && (inBaseline / baselineSample) * currentSample >= options.minExpectedForAbsence) vanishedKeys.push(key);
    }
  }
  const changes = appearedNames.length + vanishedNames.length + appearedKeys.length + vanishedKeys.length;
  return {
    test: 'set difference of span names and attribute keys, each absence tested as Poisson P(0) < e^-10',
    statistic: changes,
    pValue: changes ? poissonZeroP(options.minExpectedForAbsence) : 1,
    detected: hasBaseline && changes > 0,
    details: { appearedNames, vanishedNames, appearedKeys, vanishedKeys },
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
