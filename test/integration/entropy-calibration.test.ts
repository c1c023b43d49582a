import { ENTROPY_LEVELS, type EntropyLevel } from '../../service-tasks/entropy/entropy-score.js';
import { measureSystem } from '../../service-tasks/entropy/measure.js';
import type { Finding } from '../../service-tasks/entropy/operations.js';
import { createEntropyStore } from '../../src/store/entropy-store.js';
import { CALIBRATION, type Scenario } from '../support/entropy-scenarios.js';
import { SpanSimulator, writeSpans, type SpanRow } from '../support/span-simulator.js';
import { createTestApp } from '../support/test-app.js';

/**
 * The entropy levels mean what they say: each named severity, simulated on the real span store
 * and measured by the real code, reaches the level it should (a stable stream and good news
 * stay LOW, an outage and 30 % errors are CRITICAL, one slow route of ten is at least MEDIUM).
 */
describe('entropy calibration', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  const end = new Date(Date.UTC(2026, 0, 1, 12));
  const split = new Date(end.getTime() - 600_000);
  let systems = 0;

  beforeAll(async () => {
    app = await createTestApp();
  });
  afterAll(async () => {
    await app.dispose();
  });

  async function measure(scenario: Scenario, seed: number, options: { onset?: Date; windowSeconds?: number; baselineSeconds?: number; from?: Date } = {}) {
    const system = `calibration-${++systems}`;
    const simulator = new SpanSimulator({ system, seed, requestsPerSecond: 1, ...scenario.traffic });
    for (const degradation of scenario.inject) simulator.inject({ ...degradation, at: options.onset ?? new Date(split.getTime() + 60_000) });
    await writeSpans(app.database.knex, simulator.generate(options.from ?? new Date(split.getTime() - 1_800_000), end));
    return measureSystem(createEntropyStore(app.database.knex), { system, windowSeconds: options.windowSeconds ?? 600, baselineSeconds: options.baselineSeconds ?? 1800, at: end });
  }
  const rank = (level: EntropyLevel) => ENTROPY_LEVELS.indexOf(level);

  it.each(CALIBRATION.map((scenario) => [scenario.name, scenario] as const))('when the service shows "%s", then the level is what that severity means', async (_name, scenario) => {
    const measurement = await measure(scenario, 4242);
    if (scenario.expect === 'LOW') {
      expect(measurement.level).toBe('LOW');
      expect(measurement.drift).toBe(0);
    } else {
      expect(rank(measurement.level)).toBeGreaterThanOrEqual(rank(scenario.expect));
    }
  });

  it('when one route of ten turns slow, then the measurement names that route and no other', async () => {
    const measurement = await measure({ name: 'slow route', traffic: { routes: 10 }, inject: [{ kind: 'latency-shift', magnitude: 3, route: '/route-4' }], expect: 'MEDIUM' }, 77);
    const degraded = (measurement.indicators as { degradedOperations: Array<{ operation: string; role: string }> }).degradedOperations;
    expect(degraded.filter((entry) => entry.role === 'request').map((entry) => entry.operation)).toEqual(['GET /route-4']);
  });

  it('when requests fail at 1 % and then 6 %, then the request error rate is judged on the requests, not diluted by their child spans', async () => {
    const measurement = await measure({ name: 'errors', inject: [{ kind: 'error-burst', magnitude: 0.06 }], expect: 'MEDIUM' }, 91);
    const indicators = measurement.indicators as Record<string, { detected: boolean; details: { currentRate: number } }>;
    expect(indicators.errorRate!.detected).toBe(true);
    // The pooled rate is the requests' (about 6 %), where pooling the three spans of a request would halve it.
    expect(indicators.errorRate!.details.currentRate).toBeGreaterThan(0.04);
    expect(measurement.level).not.toBe('LOW');
  });

  it('when 1 of 13 spans of a rarely called operation fails, then that is no fault', async () => {
    // Given a healthy service, and one operation that in the window ran 13 times, once failing
    const system = `calibration-${++systems}`;
    const simulator = new SpanSimulator({ system, seed: 5, requestsPerSecond: 1, errorRate: 0 });
    const spans = simulator.generate(new Date(split.getTime() - 1_800_000), end);
    const rare = (at: number, failed: boolean): SpanRow => ({ ...spans[0]!, trace_id: `rare${at}`.padEnd(32, '0'), span_id: `r${at}`.padEnd(16, '0'), parent_span_id: null, name: 'GET /rare', start_time: new Date(at).toISOString(), end_time: new Date(at + 20).toISOString(), duration_ms: 20, status_code: failed ? 2 : 1 });
    for (let i = 0; i < 40; i++) spans.push(rare(split.getTime() - 1_700_000 + i * 40_000, false));
    for (let i = 0; i < 13; i++) spans.push(rare(split.getTime() + 10_000 + i * 40_000, i === 6));
    await writeSpans(app.database.knex, spans);

    // When it is measured
    const measurement = await measureSystem(createEntropyStore(app.database.knex), { system, windowSeconds: 600, baselineSeconds: 1800, at: end });

    // Then nothing fired
    expect((measurement.indicators as { findings: Finding[] }).findings.filter((finding) => !finding.diagnostic)).toEqual([]);
    expect(measurement.level).toBe('LOW');
  });

  it('when a route stops three minutes before the end of the window, then it counts as vanished', async () => {
    const measurement = await measure({ name: 'vanish', inject: [{ kind: 'route-vanish', route: '/checkout' }], expect: 'MEDIUM' }, 13, { onset: new Date(end.getTime() - 180_000) });
    const semantic = (measurement.indicators as { semantic: { details: { vanishedNames: string[] } } }).semantic;
    expect(semantic.details.vanishedNames).toContain('GET /checkout');
    expect(measurement.level).not.toBe('LOW');
  });

  it('when a verdict is measured against the state before the fault, then names and attribute keys that came with the fault do not count as vanished', async () => {
    // Given a quiet service (1 request/s: the reference has fewer spans than the key sample) whose routes were renamed to
    // /v2… and whose status key changed 40 s before the end of Measure's reference, repaired 60 s after it
    const system = `calibration-${++systems}`;
    const referenceEnd = new Date(end.getTime() - 240_000);
    const repaired = new Date(end.getTime() - 180_000);
    const simulator = new SpanSimulator({ system, seed: 77, requestsPerSecond: 1 });
    simulator.inject({ kind: 'schema-drift', at: new Date(referenceEnd.getTime() - 40_000) });
    await writeSpans(app.database.knex, simulator.generate(new Date(referenceEnd.getTime() - 540_000), repaired));
    simulator.applyStrategy('default', repaired);
    await writeSpans(app.database.knex, simulator.generate(repaired, end));

    // When the settle window is measured against Measure's reference, with no list of what came with the fault
    const measurement = await measureSystem(createEntropyStore(app.database.knex), {
      system,
      windowSeconds: 180,
      baselineSeconds: 540,
      at: end,
      from: repaired,
      reference: { from: new Date(referenceEnd.getTime() - 540_000), to: referenceEnd },
    });

    // Then nothing of the fault state has "vanished": the service is back to the state before the fault
    const semantic = (measurement.indicators as { semantic: { details: { vanishedNames: string[]; vanishedKeys: string[] } } }).semantic;
    expect(semantic.details.vanishedNames).toEqual([]);
    expect(semantic.details.vanishedKeys).toEqual([]);
    expect((measurement.indicators as { findings: Finding[] }).findings.filter((finding) => ['vanished', 'semantic'].includes(finding.signal))).toEqual([]);
    expect(measurement.level).toBe('LOW');
  });

  it('when a fault has gone on for 50 minutes, then it has not become the new normal', async () => {
    // Given errors of 15 % for the last 50 minutes; the cycle's default windows: 15 min against the hour before
    const measurement = await measure({ name: 'persistent', inject: [{ kind: 'error-burst', magnitude: 0.15 }], expect: 'MEDIUM' }, 21, {
      onset: new Date(end.getTime() - 3_000_000),
      windowSeconds: 900,
      baselineSeconds: 3600,
      from: new Date(end.getTime() - 4_500_000),
    });
    expect(measurement.level).not.toBe('LOW');
    expect((measurement.indicators as { findings: Finding[] }).findings.some((finding) => finding.reference === 'oldest-quarter')).toBe(true);
  });

  it('when the db spans stop carrying db.system three minutes before the end, then that key on that operation is found vanished', async () => {
    // Given ten routes, and an attribute of a dependency's spans (not the requests') that stops partway through the window
    const measurement = await measure({ name: 'key gone', traffic: { routes: 10 }, inject: [{ kind: 'attribute-vanish', attribute: 'db.system' }], expect: 'MEDIUM' }, 31, { onset: new Date(end.getTime() - 180_000) });

    // Then the finding names the operation and the key, and the level calls for regeneration
    const findings = (measurement.indicators as { findings: Finding[] }).findings;
    expect(findings.filter((finding) => finding.attribute).map((finding) => [finding.operation, finding.attribute])).toEqual([['db.query', 'db.system']]);
    expect((measurement.indicators as { semantic: { details: { vanishedKeys: string[] } } }).semantic.details.vanishedKeys).toContain('db.system');
    expect(measurement.level).not.toBe('LOW');
  });

  it('when a tenth of one busy route\'s requests answer 404, then the measurement names that route, the key and the value with both shares', async () => {
    // Given ten routes, and 10 % of the requests to the busiest one answering 404 from a minute into the window (not failed by their span status)
    const measurement = await measure({ name: '404s', traffic: { routes: 10 }, inject: [{ kind: 'status-shift', magnitude: 0.1, route: '/route-1' }], expect: 'MEDIUM' }, 404);

    // Then one finding names the route, the key and the value, with both shares, and the level calls for regeneration
    const shifted = (measurement.indicators as { findings: Finding[] }).findings.filter((finding) => finding.value !== undefined);
    expect(shifted.map((finding) => [finding.operation, finding.attribute, finding.value])).toEqual([['GET /route-1', 'http.status_code', '404']]);
    expect(shifted[0]!.baselineShare).toBe(0);
    expect(shifted[0]!.currentShare).toBeGreaterThan(0.06);
    expect(shifted[0]!.currentShare).toBeLessThan(0.16);
    expect((measurement.indicators as { semantic: { detected: boolean; details: { shiftedValues: Array<{ operation: string; value: string }> } } }).semantic.details.shiftedValues).toEqual([
      expect.objectContaining({ operation: 'GET /route-1', key: 'http.status_code', value: '404' }),
    ]);
    expect(rank(measurement.level)).toBeGreaterThanOrEqual(rank('MEDIUM'));
  });

  it('when the usual value grows and the others fall, then no attribute value is a finding', async () => {
    // Given a service failing 5 % of its requests (status 500) that stops failing a minute into the window: 200 grows, 500 falls
    const measurement = await measure({ name: 'fixed', traffic: { errorRate: 0.05 }, inject: [{ kind: 'error-burst', magnitude: 0 }], expect: 'LOW' }, 405);

    // Then nothing fired
    expect((measurement.indicators as { findings: Finding[] }).findings).toEqual([]);
    expect(measurement.level).toBe('LOW');
  });

  it('when 1 of 13 spans of a rarely called operation carries a new status value, then that is no finding', async () => {
    // Given a healthy service, and one operation that answered 200 forty times in the baseline and in the window 13 times, once 404
    const system = `calibration-${++systems}`;
    const simulator = new SpanSimulator({ system, seed: 6, requestsPerSecond: 1, errorRate: 0 });
    const spans = simulator.generate(new Date(split.getTime() - 1_800_000), end);
    const rare = (at: number, status: number): SpanRow => ({
      ...spans[0]!,
      trace_id: `404${at}`.padEnd(32, '0'),
      span_id: `4${at}`.padEnd(16, '0'),
      parent_span_id: null,
      name: 'GET /rare',
      start_time: new Date(at).toISOString(),
      end_time: new Date(at + 20).toISOString(),
      duration_ms: 20,
      status_code: 1,
      attributes: JSON.stringify({ 'http.route': '/rare', 'http.status_code': status }),
    });
    for (let i = 0; i < 40; i++) spans.push(rare(split.getTime() - 1_700_000 + i * 40_000, 200));
    for (let i = 0; i < 13; i++) spans.push(rare(split.getTime() + 10_000 + i * 40_000, i === 6 ? 404 : 200));
    await writeSpans(app.database.knex, spans);

    // When it is measured
    const measurement = await measureSystem(createEntropyStore(app.database.knex), { system, windowSeconds: 600, baselineSeconds: 1800, at: end });

    // Then nothing fired
    expect((measurement.indicators as { findings: Finding[] }).findings).toEqual([]);
    expect(measurement.level).toBe('LOW');
  });

  it('when a dependency turns three times slower and no request does, then drift names it and the level stays below the threshold', async () => {
    // Given a stable service whose db calls (called in parallel, so no request waits longer) take three times as long from a minute into the window
    const system = `calibration-${++systems}`;
    const simulator = new SpanSimulator({ system, seed: 8, requestsPerSecond: 1 });
    const onset = split.getTime() + 60_000;
    const spans = simulator.generate(new Date(split.getTime() - 1_800_000), end).map((span) => {
      if (span.name !== 'db.query' || new Date(span.start_time).getTime() < onset) return span;
      return { ...span, duration_ms: span.duration_ms * 3, end_time: new Date(new Date(span.start_time).getTime() + span.duration_ms * 3).toISOString() };
    });
    await writeSpans(app.database.knex, spans);

    // When it is measured
    const measurement = await measureSystem(createEntropyStore(app.database.knex), { system, windowSeconds: 600, baselineSeconds: 1800, at: end });

    // Then the finding is there with its operation, counted in drift but not in health
    const indicators = measurement.indicators as { findings: Finding[]; degradedOperations: Array<{ operation: string }>; latencyShift: { detected: boolean; details: { operations: string[] } } };
    expect(indicators.findings.some((finding) => finding.operation === 'db.query' && finding.signal === 'latency' && finding.diagnostic)).toBe(true);
    expect(indicators.degradedOperations.map((entry) => entry.operation)).toEqual(['db.query']);
    expect(indicators.latencyShift.details.operations).toEqual(['db.query (dependency)']);
    expect(measurement.health).toBe(1);
    expect(measurement.drift).toBe(2);
    expect(measurement.level).toBe('LOW');
  });
});
