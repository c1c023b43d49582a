import { computeMetricHealth, welch } from '../../service-tasks/entropy/metric-health.js';
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

  it('when an unknown gauge shifts far beyond its noise, then Welch\'s test flags it; within its noise it scores 1', () => {
    const shifted = computeMetricHealth([metric('queue.depth', '{item}', 'gauge', false, { points: 50, mean: 10, variance: 4 }, { points: 50, mean: 16, variance: 4 })])!;
    expect(shifted.components[0]).toMatchObject({ rule: 'shift', weight: 0.5, score: 0 }); // d = 3
    const noise = computeMetricHealth([metric('queue.depth', '{item}', 'gauge', false, { points: 50, mean: 10, variance: 4 }, { points: 50, mean: 10.3, variance: 4 })])!;
    expect(noise.components[0]!.score).toBe(1);
    expect(welch(50, 10, 4, 50, 10.3, 4).pValue).toBeGreaterThan(0.01);
  });
});
