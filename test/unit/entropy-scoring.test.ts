import { controlChart } from '../../service-tasks/entropy/control-chart.js';
import { entropyLevel, entropyScore } from '../../service-tasks/entropy/entropy-score.js';
import { computeHealth, healthState } from '../../service-tasks/entropy/health.js';
import { rankStrategies, successPosterior } from '../../service-tasks/entropy/ranking.js';
import { offeredStrategies, STRATEGIES, strategiesFor } from '../../service-tasks/entropy/strategies.js';

const window = (count: number, errors: number, p95: number, seconds = 900) => ({ count, errors, seconds, p50: p95 / 3, p95, p99: p95 * 1.5 });

describe('entropy scoring', () => {
  it('when health, drift and validation errors are given, then the score follows 0.4/0.3/0.3 with its caps', () => {
    expect(entropyScore({ health: 1, drift: 0, validationErrors: 0 })).toBe(0);
    expect(entropyScore({ health: 0.5, drift: 2, validationErrors: 3 })).toBeCloseTo(0.2 + 0.12 + 0.09, 10);
    expect(entropyScore({ health: 0, drift: 9, validationErrors: 99 })).toBeCloseTo(1, 10);
  });

  it('when scores sit on the level boundaries, then LOW < 0.3 ≤ MEDIUM < 0.6 ≤ HIGH < 0.8 ≤ CRITICAL', () => {
    expect([0.29, 0.3, 0.59, 0.6, 0.79, 0.8].map(entropyLevel)).toEqual(['LOW', 'MEDIUM', 'MEDIUM', 'HIGH', 'HIGH', 'CRITICAL']);
  });

  it('when health sits on the state boundaries, then HEALTHY > 0.9, WARNING 0.7–0.9, CRITICAL 0.5–0.7, FAILING < 0.5', () => {
    expect([0.91, 0.9, 0.7, 0.69, 0.5, 0.49].map(healthState)).toEqual(['HEALTHY', 'WARNING', 'WARNING', 'CRITICAL', 'CRITICAL', 'FAILING']);
  });

  it('when a window looks like its baseline, then health is 1; when errors, latency and traffic degrade, then it falls', () => {
    const baseline = window(3600, 36, 100, 3600);
    expect(computeHealth(window(900, 0, 100), baseline).score).toBeCloseTo(1, 6);
    const degraded = computeHealth(window(450, 90, 250), baseline);
    expect(degraded.errorRate).toBeCloseTo(0.2, 6);
    expect(degraded.latencyRatio.p95).toBeCloseTo(2.5, 6);
    expect(degraded.throughputRatio).toBeCloseTo(0.5, 6);
    expect(degraded.score).toBeLessThan(0.5);
    expect(degraded.state).toBe('FAILING');
  });

  it('when a point leaves 3σ or a run stays on one side, then the Western Electric rules report it', () => {
    const stable = [10, 11, 9, 10, 12, 8, 10, 11, 9, 10, 11, 9].map((value, i) => ({ at: `t${i}`, value }));
    const calm = controlChart(stable);
    expect(calm.violations).toEqual([]);
    expect(calm.upper).toBeGreaterThan(calm.centre);
    const spike = controlChart([...stable, { at: 'spike', value: 30 }], stable.length);
    expect(spike.violations).toContainEqual({ rule: 'WE1', index: stable.length, at: 'spike' });
    const run = controlChart([...stable, ...Array.from({ length: 8 }, (_, i) => ({ at: `r${i}`, value: 12.5 }))], stable.length);
    expect(run.violations.map((violation) => violation.rule)).toEqual(expect.arrayContaining(['WE3', 'WE4']));
  });

  it('when a strategy keeps failing, then its learned success probability falls and it drops in the ranking', () => {
    const medium = strategiesFor('MEDIUM', 'orders-api');
    const untouched = rankStrategies(medium, new Map());
    const top = untouched[0]!;
    expect(top.successProbability).toBeCloseTo(STRATEGIES.find((s) => s.id === top.id)!.prior, 10);
    const learned = rankStrategies(medium, new Map([[top.id, { successes: 0, failures: 12 }]]));
    expect(learned.find((option) => option.id === top.id)!.successProbability).toBeLessThan(0.2);
    expect(learned[0]!.id).not.toBe(top.id);
    expect(successPosterior(0.5, { successes: 8, failures: 0 }).mean).toBeCloseTo(10 / 12, 10);
  });

  it('when the system is one of regenflow’s processes, then the engine strategies are offered too', () => {
    expect(strategiesFor('HIGH', 'regenflow/orders').map((s) => s.id)).toEqual(
      expect.arrayContaining(['engine-version-rollback', 'engine-reset-stuck', 'engine-retry-incidents', 'semantic-refresh']),
    );
    expect(strategiesFor('HIGH', 'orders-api').some((s) => s.engineOnly)).toBe(false);
  });

  it('when a policy table offers strategies, then Explore gets those from the catalogue, and an unknown one or an engine strategy for a service is an error naming it', () => {
    expect(offeredStrategies(['validation-rebuild', 'semantic-refresh', 'semantic-refresh'], 'orders-api').map((s) => s.id)).toEqual(['validation-rebuild', 'semantic-refresh']);
    expect(offeredStrategies(['engine-reset-stuck'], 'regenflow/orders').map((s) => s.id)).toEqual(['engine-reset-stuck']);
    expect(() => offeredStrategies(['reboot-the-world'], 'orders-api')).toThrow(/reboot-the-world, which is not in the catalogue/);
    expect(() => offeredStrategies(['engine-reset-stuck'], 'orders-api')).toThrow(/engine-reset-stuck, which acts on regenflow's own processes, to orders-api/);
  });
});
