import { measureSystem } from '../../service-tasks/entropy/measure.js';
import type { EngineControl } from '../../service-tasks/entropy/ports.js';
import { entropyTopics } from '../../service-tasks/entropy/topics.js';
import { createEntropyStore } from '../../src/store/entropy-store.js';
import { insertMetricPoints, type MetricPointRecord } from '../../src/store/metric-points.js';
import { SpanSimulator, writeSpans, type DegradationKind } from '../support/span-simulator.js';
import { createTestApp } from '../support/test-app.js';

/** Each injected degradation is caught by the indicator aimed at it, on the real span store. */
describe('entropy measurement', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  const end = new Date(Date.UTC(2026, 0, 1, 12));
  const split = new Date(end.getTime() - 600_000);

  beforeAll(async () => {
    app = await createTestApp();
  });
  afterAll(async () => {
    await app.dispose();
  });

  async function measure(system: string, seed: number, kind: DegradationKind | null, offsetMs = 60_000, magnitude?: number) {
    const simulator = new SpanSimulator({ system, seed, requestsPerSecond: 2 });
    if (kind) simulator.inject({ kind, at: new Date(split.getTime() + offsetMs), magnitude });
    await writeSpans(app.database.knex, simulator.generate(new Date(split.getTime() - 1_800_000), end));
    return measureSystem(createEntropyStore(app.database.knex), { system, windowSeconds: 600, baselineSeconds: 1800, at: end });
  }

  it('when the stream is stable, then no indicator fires and the level is LOW', async () => {
    const measurement = await measure('stable', 1, null);
    expect(measurement.drift).toBe(0);
    expect(measurement.level).toBe('LOW');
    expect(measurement.healthState).toBe('HEALTHY');
  });

  it.each([
    ['latency-shift', 'latencyShift'],
    ['error-burst', 'errorRate'],
    ['schema-drift', 'semantic'],
    ['loop-thrash', 'loopThrash'],
    ['throughput-drop', 'throughput'],
  ] as const)('when %s is injected, then %s fires', async (kind, indicator) => {
    const measurement = await measure(kind, 2, kind);
    expect((measurement.indicators as Record<string, { detected: boolean }>)[indicator]!.detected).toBe(true);
    expect(measurement.drift).toBeGreaterThanOrEqual(1);
  });

  it('when durations creep up (×3 ten minutes on), then the degradation trend fires', async () => {
    // At 2 requests/s the p95 of a 50 s bucket is noisy: a creep to ×2 is not reliably found (npm run bench:entropy prints how often).
    const measurement = await measure('latency-creep', 2, 'latency-creep', 60_000, 3);
    expect((measurement.indicators as Record<string, { detected: boolean }>).degradationTrend!.detected).toBe(true);
  });

  it('when routes are renamed, then the semantic indicator names what appeared and vanished', async () => {
    // Renamed from the start of the window: the old names are gone from all of it.
    const measurement = await measure('renamed', 3, 'schema-drift', 0);
    const details = (measurement.indicators as any).semantic.details;
    expect(details.appearedNames).toContain('GET /v2/orders');
    expect(details.vanishedNames).toContain('GET /orders');
    expect(details.appearedKeys).toContain('http.response.status_code');
    expect(details.vanishedKeys).toContain('http.status_code');
  });

  it('when a new version of a regenflow process fails more and runs slower than the previous one, then the version comparison says so', async () => {
    // Engine-like spans (what the telemetry module emits per activity), version 1 healthy, version 2 degraded.
    const asEngine = (spans: ReturnType<SpanSimulator['generate']>, version: number) =>
      spans.map((span) => ({ ...span, service_name: 'regenflow', source: 'engine', process_key: 'orders', process_version: version }));
    const v1 = new SpanSimulator({ system: 'regenflow', seed: 31, requestsPerSecond: 2 });
    const v2 = new SpanSimulator({ system: 'regenflow', seed: 32, requestsPerSecond: 2 })
      .inject({ kind: 'error-burst', at: new Date(0), magnitude: 0.3 })
      .inject({ kind: 'latency-shift', at: new Date(0), magnitude: 2 });
    const switchedAt = new Date(end.getTime() - 900_000);
    await writeSpans(app.database.knex, asEngine(v1.generate(new Date(end.getTime() - 2_700_000), switchedAt), 1));
    await writeSpans(app.database.knex, asEngine(v2.generate(switchedAt, end), 2));
    const store = createEntropyStore(app.database.knex);
    // A window that holds both versions: time mode would mix them; version mode separates them.
    const measurement = await measureSystem(store, { system: 'regenflow/orders', windowSeconds: 1800, baselineSeconds: 900, at: end, versions: { previous: 1, latest: 2 } });
    const indicators = measurement.indicators as Record<string, { detected: boolean; details?: Record<string, number> }>;
    expect(indicators.errorRate!.detected).toBe(true);
    expect(indicators.latencyShift!.detected).toBe(true);
    expect(indicators.throughput!.detected).toBe(false);
    expect(measurement.healthState).not.toBe('HEALTHY');
    expect(measurement.level).not.toBe('LOW');
  });

  it('when another system sends spans that claim a regenflow process key, then they do not count for regenflow itself', async () => {
    // Given healthy engine spans of regenflow/billing, and a failing flood over OTLP claiming the same key
    const billing = (simulator: SpanSimulator, source: 'engine' | 'otlp') =>
      simulator.generate(new Date(end.getTime() - 2_700_000), end).map((span) => ({ ...span, service_name: 'elsewhere', source, process_key: 'billing', process_version: 1 }));
    await writeSpans(app.database.knex, billing(new SpanSimulator({ system: 'billing-engine', seed: 41, requestsPerSecond: 2 }), 'engine'));
    const flood = new SpanSimulator({ system: 'billing-forged', seed: 42, requestsPerSecond: 2 }).inject({ kind: 'error-burst', at: new Date(end.getTime() - 900_000), magnitude: 0.9 });
    await writeSpans(app.database.knex, billing(flood, 'otlp'));

    // When regenflow measures its own billing process
    const measurement = await measureSystem(createEntropyStore(app.database.knex), { system: 'regenflow/billing', windowSeconds: 600, baselineSeconds: 1800, at: end });

    // Then only its own spans count: no error burst, nothing to heal
    const indicators = measurement.indicators as Record<string, { detected: boolean }>;
    expect(indicators.errorRate!.detected).toBe(false);
    expect(measurement.level).toBe('LOW');
  });

  it('when a cycle measures a regenflow process before and after its strategy, then both count the open incidents of the version serving starts', async () => {
    // Given regenflow/payments, whose latest version (2) has 4 open incidents
    const engineControl = { versions: async () => [{ id: 'p2', version: 2 }, { id: 'p1', version: 1 }], openIncidents: async (_key: string, version: number) => (version === 2 ? 4 : 0) } as unknown as EngineControl;
    const topics = entropyTopics({ entropyStore: createEntropyStore(app.database.knex), engineControl });
    const run = async (topic: string, input: Record<string, unknown>) => {
      const task = topics.find((candidate) => candidate.topic === topic)!;
      return (await task.handler(task.input.parse(input), { instanceId: 'cycle', processKey: 'dmedi-regeneration', idempotencyKey: `${topic}-key` } as never)) as Record<string, any>;
    };

    // When the cycle measures (time mode) and verifies
    const before = await run('entropy.measure', { system: 'regenflow/payments', windowSeconds: 600, baselineSeconds: 1800 });
    const after = await run('entropy.verify', { system: 'regenflow/payments', verifyWindowSeconds: 600, baselineSeconds: 1800, entropy: before.entropy });

    // Then the two are computed alike: same validation errors, same entropy for the same (empty) spans; and a window
    // without requests is no evidence of recovery, so with no settle deadline left the verdict is "not recovered"
    const stored = await app.database.knex('entropy_measurements').whereIn('id', [before.measurementId, after.measurementAfterId]).pluck('validation_errors');
    expect(stored).toEqual([4, 4]);
    expect(after.entropyAfter).toBeCloseTo(before.entropy, 12);
    expect(after).toMatchObject({ recovered: false, verdict: 'not-recovered' });
    expect(after.verdictReasons.join(' ')).toMatch(before.entropy >= 0.3 ? /at or above/ : /fewer than 10 requests/);
  });

  it('when a verdict is due but unclear at low traffic, then it looks again while the budget lasts if every finding leans healthy, and is "not recovered" if one leans sick', async () => {
    // Given two services at half a request per second, 30 % of requests failing for five minutes; a strategy ran 40 s ago
    // and repaired one of them: 20 clean requests are too few to be sure, but every one of them says "healthy"
    const now = Date.now();
    const settleFrom = new Date(now - 40_000);
    const topics = entropyTopics({ entropyStore: createEntropyStore(app.database.knex), engineControl: undefined as never });
    const verify = topics.find((candidate) => candidate.topic === 'entropy.verify')!;
    const look = async (system: string, repaired: boolean) => {
      const fault = { kind: 'error-burst' as const, at: new Date(now - 340_000), magnitude: 0.3, ...(repaired && { until: settleFrom }) };
      await writeSpans(app.database.knex, new SpanSimulator({ system, seed: 51, requestsPerSecond: 0.5 }).inject(fault).generate(new Date(now - 1_540_000), new Date(now)));
      const before = await measureSystem(createEntropyStore(app.database.knex), { system, windowSeconds: 300, baselineSeconds: 1200, at: settleFrom });
      expect(before.level).not.toBe('LOW');
      // When the verdict's planned time has passed, with four minutes of the cycle's budget left
      const input = { system, measurementId: before.id, settleFrom: settleFrom.toISOString(), settleDeadline: new Date(now - 1000).toISOString(), settleBudgetEnd: new Date(now + 240_000).toISOString() };
      return (await verify.handler(verify.input.parse(input), { instanceId: 'cycle', processKey: 'dmedi-regeneration', idempotencyKey: `verify-${system}` } as never)) as Record<string, any>;
    };

    // Then the repaired one is looked at again, before the budget's end less the time a check after a rollback needs
    const repaired = await look('quiet-repaired', true);
    expect(repaired).toMatchObject({ verdict: 'insufficient', evidenceSufficient: false });
    expect(repaired.verdictReasons[0]).toMatch(/leans healthy/);
    const later = Date.parse(repaired.settleDeadline) - now;
    expect(later).toBeGreaterThan(60_000);
    expect(later).toBeLessThan(240_000);
    // And the one still failing is not recovered, its deadline unchanged
    const failing = await look('quiet-failing', false);
    expect(failing).toMatchObject({ verdict: 'not-recovered', recovered: false });
    expect(failing.settleDeadline).toBeUndefined();
  });

  it('when handed-over systems that never reported outnumber the slots, then entropy.collect measures the systems that report first', async () => {
    // Given two handed-over systems that never sent a span, one that does, and the systems of the tests above
    await writeSpans(app.database.knex, new SpanSimulator({ system: 'reporting-c', seed: 7, requestsPerSecond: 1 }).generate(new Date(Date.now() - 120_000), new Date()));
    const monitoredSystems = { names: async () => ['stale-a', 'stale-b', 'reporting-c'] };
    const topics = entropyTopics({ entropyStore: createEntropyStore(app.database.knex), engineControl: undefined as never, monitoredSystems });
    const collect = topics.find((candidate) => candidate.topic === 'entropy.collect')!;
    const [latest] = await app.database.knex('entropy_measurements').max<{ max: string | null }[]>('id as max');

    // When the evolution cycle collects with room for two systems
    const result = (await collect.handler(collect.input.parse({ maxSystems: 2, windowSeconds: 60, baselineSeconds: 60 }), { instanceId: 'evolution' } as never)) as { systemsMeasured: number };

    // Then the handed-over system that reports went first, and no silent registration took a slot
    const measured: string[] = await app.database.knex('entropy_measurements').where('id', '>', latest?.max ?? 0).orderBy('id').pluck('system');
    expect(result.systemsMeasured).toBe(2);
    expect(measured).toHaveLength(2);
    expect(measured[0]).toBe('reporting-c');
    expect(measured).not.toContain('stale-a');
    expect(measured).not.toContain('stale-b');
  });

  it("when a verdict's reference ends before its settle window, then metrics leave the stretch between them out, as spans do", async () => {
    // Given a queue gauge every 30 s: 10 before the fault (the reference), 500 during it, 400 in the settle window
    const at = (ms: number, value: number, counter: number): MetricPointRecord[] => [
      { serviceName: 'metric-gap', name: 'messaging.queue.depth', unit: '{message}', kind: 'gauge', monotonic: null, temporality: 0, seriesKey: 'q', attributes: {}, scopeName: null, startTimeUnixNano: null, timeUnixNano: BigInt(ms) * 1_000_000n, value, count: null, sum: null, min: null, max: null, bucketBounds: null, bucketCounts: null },
      { serviceName: 'metric-gap', name: 'app.jobs.errors', unit: '{error}', kind: 'sum', monotonic: true, temporality: 2, seriesKey: 'e', attributes: {}, scopeName: null, startTimeUnixNano: BigInt(end.getTime() - 3_600_000) * 1_000_000n, timeUnixNano: BigInt(ms) * 1_000_000n, value: counter, count: null, sum: null, min: null, max: null, bucketBounds: null, bucketCounts: null },
    ];
    const referenceFrom = end.getTime() - 1_800_000;
    const referenceTo = end.getTime() - 1_200_000;
    const settle = end.getTime() - 300_000;
    const points: MetricPointRecord[] = [];
    let errors = 0;
    for (let ms = referenceFrom; ms < end.getTime(); ms += 30_000) {
      const value = ms < referenceTo ? 10 : ms < settle ? 500 : 400;
      errors += ms < referenceTo ? 1 : ms < settle ? 50 : 2;
      points.push(...at(ms, value, errors));
    }
    await insertMetricPoints(app.database.knex, points);

    // When the metrics are aggregated over the reference and the settle window
    const aggregates = await createEntropyStore(app.database.knex).aggregateMetrics('metric-gap', { baseline: { from: new Date(referenceFrom), to: new Date(referenceTo) }, current: { from: new Date(settle), to: end } });

    // Then the reference is the state before the fault only, and the settle window's counter increase is its own
    const queue = aggregates.find((metric) => metric.name === 'messaging.queue.depth')!;
    expect(queue.baseline).toMatchObject({ points: 20, mean: 10, exposureSeconds: 600 });
    expect(queue.current).toMatchObject({ points: 10, mean: 400 });
    const counter = aggregates.find((metric) => metric.name === 'app.jobs.errors')!;
    expect(counter.baseline.increase).toBe(19);
    expect(counter.current.increase).toBe(20);
  });
});
