import { computeMetricHealth, harmfulDirection } from '../../service-tasks/entropy/metric-health.js';
import { welch } from '../../service-tasks/entropy/statistics.js';
import type { MetricAggregate, MetricWindow } from '../../service-tasks/entropy/ports.js';

const side = (overrides: Partial<MetricWindow> = {}): MetricWindow => ({
  points: 0,
  exposureSeconds: 600,
  mean: null,
  variance: null,
  increase: 0,
  countIncrease: 0,
  sumIncrease: 0,
  failedCountIncrease: 0,
  buckets: 0,
  bucketMean: null,
  bucketVariance: null,
  ...overrides,
});
const metric = (name: string, unit: string, kind: MetricAggregate['kind'], monotonic: boolean, baseline: Partial<MetricWindow>, current: Partial<MetricWindow>): MetricAggregate => ({
  name,
  unit,
  kind,
  monotonic,
  baseline: side(baseline),
  current: side(current),
});

describe('metric health components', () => {
  it('when no metric matches a rule, then there is no metric health at all (spans alone decide)', () => {
    expect(computeMetricHealth([])).toBeNull();
    expect(computeMetricHealth([metric('bytes.sent', 'By', 'sum', true, { points: 5, increase: 10 }, { points: 5, increase: 10 })])).toBeNull();
  });

  it('when a duration histogram gets slower and fails more, then latency and errors score by the span rules', () => {
    const health = computeMetricHealth([
      metric('http.server.request.duration', 's', 'histogram', false, { countIncrease: 100, sumIncrease: 10 }, { countIncrease: 100, sumIncrease: 20, failedCountIncrease: 10 }),
    ])!;
    const byRule = Object.fromEntries(health.components.map((component) => [component.rule, component.score]));
    expect(byRule.latency).toBeCloseTo(0.5, 9); // twice the baseline mean: halfway to 3×
    expect(byRule.errors).toBeCloseTo(0.6, 9); // 10 % failed: 1 − 0.10 / 0.25
    expect(health.score).toBeCloseTo(0.55, 9);
  });

  it('when an error counter rises significantly, then it scores by the rate ratio; a steady one scores 1', () => {
    const rising = computeMetricHealth([metric('payments.errors', '{error}', 'sum', true, { points: 10, increase: 20 }, { points: 10, increase: 80 })])!;
    expect(rising.components[0]).toMatchObject({ rule: 'error-counter', score: 0 });
    const steady = computeMetricHealth([metric('payments.errors', '{error}', 'sum', true, { points: 10, increase: 20 }, { points: 10, increase: 22 })])!;
    expect(steady.components[0]!.score).toBe(1);
  });

  it("when a gauge's bucket means shift far beyond their noise, then Welch's test flags it; within their noise it scores 1", () => {
    const shifted = computeMetricHealth([metric('pool.size', '{item}', 'gauge', false, { points: 50, mean: 10, variance: 4, buckets: 36, bucketMean: 10, bucketVariance: 1 }, { points: 50, mean: 16, variance: 4, buckets: 12, bucketMean: 16, bucketVariance: 1 })])!;
    expect(shifted.components[0]).toMatchObject({ rule: 'shift', weight: 0.5, score: 0 }); // d = 3
    const noise = computeMetricHealth([metric('pool.size', '{item}', 'gauge', false, { points: 50, mean: 10, variance: 4, buckets: 36, bucketMean: 10, bucketVariance: 4 }, { points: 50, mean: 10.3, variance: 4, buckets: 12, bucketMean: 10.3, bucketVariance: 4 })])!;
    expect(noise.components[0]!.score).toBe(1);
    expect(welch(50, 10, 4, 50, 10.3, 4).pValue).toBeGreaterThan(0.01);
  });

  it('when correlated scrapes move a little, then the test on bucket means does not take them for 2,400 independent samples', () => {
    // 1,800 and 600 points, but the buckets vary as much as the points do: the series wanders.
    const wandering = metric('pool.size', '{item}', 'gauge', false, { points: 1800, mean: 10, variance: 4, buckets: 36, bucketMean: 10, bucketVariance: 4 }, { points: 600, mean: 11, variance: 4, buckets: 12, bucketMean: 11, bucketVariance: 4 });
    expect(welch(1800, 10, 4, 600, 11, 4).pValue).toBeLessThan(1e-10); // what a test on raw points would say
    expect(computeMetricHealth([wandering])!.components[0]!.score).toBe(1);
  });

  it('when a queue drains, then health does not fall; when it grows as much, then it does (one-sided where the harmful direction is known)', () => {
    expect(harmfulDirection('messaging.queue.depth')).toBe('up');
    expect(harmfulDirection('system.linux.memory.available')).toBe('down');
    expect(harmfulDirection('http.server.active_requests')).toBeNull();
    const windows = (from: number, to: number) => [{ points: 360, mean: from, variance: 4, buckets: 36, bucketMean: from, bucketVariance: 1 }, { points: 120, mean: to, variance: 4, buckets: 12, bucketMean: to, bucketVariance: 1 }] as const;
    const draining = computeMetricHealth([metric('messaging.queue.depth', '{message}', 'gauge', false, ...windows(20, 14))])!;
    expect(draining.components[0]!.score).toBe(1);
    const growing = computeMetricHealth([metric('messaging.queue.depth', '{message}', 'gauge', false, ...windows(20, 26))])!;
    expect(growing.components[0]!.score).toBe(0);
    // A gauge whose bad direction is not known is judged both ways, as before.
    const unknown = computeMetricHealth([metric('http.server.active_requests', '{request}', 'sum', false, ...windows(20, 14))])!;
    expect(unknown.components[0]!.score).toBe(0);
  });
});
