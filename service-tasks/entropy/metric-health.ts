/**
 * Health components from OTLP metrics, when a system sends them. Which direction of a
 * metric is bad is decided by its name, unit and kind as the OpenTelemetry semantic
 * conventions define them; a metric no rule knows counts only by how far it moved from its
 * baseline, and only when a statistical test says it moved at all.
 *
 * | rule          | which metrics                                                        | score 0..1 (1 = good)                                                      | weight |
 * |---------------|----------------------------------------------------------------------|----------------------------------------------------------------------------|--------|
 * | utilization   | gauge or non-monotonic sum named `*.utilization`, unit `1`          | busiest series' mean u (idle/free states out): 1 up to 0.7, 0 at 1         | 1      |
 * | latency       | histogram named `*.duration` (http/rpc/db server and client durations) | mean (Δsum/Δcount) against the baseline's: 1 at or below, 0 at 3× (as spans) | 1      |
 * | errors        | the same histograms: share of points carrying `error.type`           | 1 at 0 %, linear to 0 at 25 % (as spans)                                   | 1      |
 * | error-counter | monotonic sum named `*.errors` / `*.failures` or unit `{error}`      | rate up against baseline by the Poisson rate test (p < 0.01): 1 − ln(ratio)/ln 4 | 1 |
 * | shift         | any other gauge or non-monotonic sum                                 | Welch's t-test on per-bucket means (p < 0.01; one-sided where `harmfulDirection` knows the bad way): 1 − min(1, |Cohen's d| / 3); else 1 | 0.5 |
 *
 * Other metrics (plain counters, other histograms, summaries) have no direction the
 * conventions fix and no per-point sample to test: listed as ignored. A component without
 * data to judge (no points in the current window, no baseline where one is needed) is left
 * out rather than scored 1, so it does not dilute the others.
 */
import { poissonRateTest, welch } from './statistics.js';
import type { MetricAggregate } from './ports.js';

export type MetricRule = 'utilization' | 'latency' | 'errors' | 'error-counter' | 'shift';

export interface MetricComponent {
  metric: string;
  unit: string;
  rule: MetricRule;
  score: number;
  weight: number;
  /** What the score was computed from (means, ratio, p-value). */
  detail: Record<string, number | null>;
}

export interface MetricHealth {
  score: number;
  components: MetricComponent[];
  ignored: Array<{ metric: string; reason: string }>;
}

/** Utilization at or below this is fine; 1 is saturation. */
const UTILIZATION_KNEE = 0.7;
const ERROR_RATE_FLOOR = 0.25;
const LATENCY_RATIO_FLOOR = 3;
/** Significance level of the tests that decide whether a metric moved at all. */
export const METRIC_ALPHA = 0.01;
const SHIFT_WEIGHT = 0.5;

const clamp = (value: number) => Math.min(1, Math.max(0, value));

/** Scores each metric a rule knows; null when no metric gave a component. */
export function computeMetricHealth(metrics: readonly MetricAggregate[]): MetricHealth | null {
  const components: MetricComponent[] = [];
  const ignored: MetricHealth['ignored'] = [];
  for (const metric of metrics) {
    const { baseline, current } = metric;
    const gaugeLike = metric.kind === 'gauge' || (metric.kind === 'sum' && !metric.monotonic);
    const base = { metric: metric.name, unit: metric.unit };
    if (gaugeLike && /\.utilization$/.test(metric.name) && metric.unit === '1') {
      // The busiest series (one CPU mode, memory state or mountpoint), not the mean over all of them.
      const busiest = current.busiestSeriesMean ?? null;
      if (busiest === null) continue;
      components.push({ ...base, rule: 'utilization', weight: 1, score: clamp((1 - busiest) / (1 - UTILIZATION_KNEE)), detail: { busiestSeriesMean: busiest, mean: current.mean, baselineBusiestSeriesMean: baseline.busiestSeriesMean ?? null } });
    } else if ((metric.kind === 'histogram' || metric.kind === 'exponential_histogram') && /\.duration$/.test(metric.name)) {
      if (current.countIncrease <= 0) continue;
      const mean = current.sumIncrease / current.countIncrease;
      if (baseline.countIncrease > 0) {
        const baselineMean = baseline.sumIncrease / baseline.countIncrease;
        const ratio = baselineMean > 0 ? mean / baselineMean : 1;
        components.push({ ...base, rule: 'latency', weight: 1, score: clamp(1 - (ratio - 1) / (LATENCY_RATIO_FLOOR - 1)), detail: { mean, baselineMean, ratio } });
      }
      const errorRate = current.failedCountIncrease / current.countIncrease;
      components.push({ ...base, rule: 'errors', weight: 1, score: clamp(1 - errorRate / ERROR_RATE_FLOOR), detail: { errorRate, count: current.countIncrease } });
    } else if (metric.kind === 'sum' && metric.monotonic && (/\.(errors|failures)$/.test(metric.name) || /^\{(error|failure)s?\}$/.test(metric.unit))) {
      if (!current.points || !baseline.points) continue;
      // Errors are counts of events: the Poisson test compares their rates over the two window lengths.
      const test = poissonRateTest(baseline.increase, baseline.exposureSeconds, current.increase, current.exposureSeconds);
      const worse = test.ratio > 1 && test.pValue < METRIC_ALPHA;
      const score = !worse ? 1 : Number.isFinite(test.ratio) ? clamp(1 - Math.log(test.ratio) / Math.log(4)) : 0;
      components.push({ ...base, rule: 'error-counter', weight: 1, score, detail: { ratio: Number.isFinite(test.ratio) ? test.ratio : null, pValue: test.pValue, increase: current.increase, baselineIncrease: baseline.increase } });
    } else if (gaugeLike) {
      if (current.buckets < 2 || baseline.buckets < 2 || current.bucketMean === null || baseline.bucketMean === null || current.mean === null || baseline.mean === null) continue;
      const harmful = harmfulDirection(metric.name);
      // Tested on bucket means (successive scrapes are not independent samples); one-sided where the harmful direction is known.
      const test = welch(baseline.buckets, baseline.bucketMean, baseline.bucketVariance ?? 0, current.buckets, current.bucketMean, current.bucketVariance ?? 0, harmful === 'up' ? 'greater' : harmful === 'down' ? 'less' : 'two-sided');
      // The effect size is in units of the points' own spread.
      const d = cohensD(baseline.points, baseline.mean, baseline.variance ?? 0, current.points, current.mean, current.variance ?? 0);
      const score = test.pValue < METRIC_ALPHA ? clamp(1 - Math.abs(d) / 3) : 1;
      components.push({
        ...base,
        rule: 'shift',
        weight: SHIFT_WEIGHT,
        score,
        detail: { mean: current.mean, baselineMean: baseline.mean, buckets: current.buckets, baselineBuckets: baseline.buckets, t: Number.isFinite(test.t) ? test.t : null, pValue: test.pValue, cohensD: Number.isFinite(d) ? d : null, harmfulUp: harmful === null ? null : Number(harmful === 'up') },
      });
    } else {
      ignored.push({ metric: metric.name, reason: `${metric.monotonic ? 'monotonic ' : ''}${metric.kind} without a known direction` });
    }
  }
  if (!components.length) return null;
  const weight = components.reduce((total, component) => total + component.weight, 0);
  return { score: clamp(components.reduce((total, component) => total + component.weight * component.score, 0) / weight), components, ignored };
}

/**
 * Gauges whose harmful direction the semantic conventions make plain by name: more queued,
 * pending or lagging work and more memory in use are worse; less available or free is worse.
 * Others (active requests, thread counts, …) are judged two-sided.
 */
export function harmfulDirection(name: string): 'up' | 'down' | null {
  if (/(^|[._])(queue|queued|pending|backlog|lag|waiting)([._]|$)|\.(usage|used|errors|failures|timeouts)$/.test(name)) return 'up';
  if (/\.(available|free|hit_ratio|hit_rate)$/.test(name)) return 'down';
  return null;
}

/** Cohen's d with the pooled SD of the two samples. */
export function cohensD(n0: number, mean0: number, var0: number, n1: number, mean1: number, var1: number): number {
  const diff = mean1 - mean0;
  const pooled = Math.sqrt(((n0 - 1) * var0 + (n1 - 1) * var1) / Math.max(1, n0 + n1 - 2));
  return pooled > 0 ? diff / pooled : diff === 0 ? 0 : Math.sign(diff) * Infinity;
}
