import { gzipSync } from 'node:zlib';
import { OTLPMetricExporter as OtlpJsonMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as OtlpProtobufMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader, type PushMetricExporter } from '@opentelemetry/sdk-metrics';
import { measureSystem } from '../../service-tasks/entropy/measure.js';
import { entropyTopics } from '../../service-tasks/entropy/topics.js';
import type { HealthBreakdown } from '../../service-tasks/entropy/health.js';
import { createEntropyStore } from '../../src/store/entropy-store.js';
import { insertMetricPoints } from '../../src/store/metric-points.js';
import { encodeMetricsResponse } from '../../src/telemetry/otlp-metrics-ingest.js';
import { SpanSimulator, writeSpans } from '../support/span-simulator.js';
import { TEST_TOKENS, TEST_TOKENS_SETTING } from '../support/server-process.js';
import { createTestApp } from '../support/test-app.js';

const TELEMETRY_TOKEN = 'telemetry-metrics-token';
const headers = { authorization: `Bearer ${TELEMETRY_TOKEN}` };

/** A real OpenTelemetry MeterProvider whose reader exports to the server (flushed by hand). */
function meterProvider(serviceName: string, exporter: PushMetricExporter) {
  return new MeterProvider({
    resource: resourceFromAttributes({ 'service.name': serviceName }),
    readers: [new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 })],
  });
}

describe('telemetry: POST /v1/metrics (OTLP/HTTP metrics ingest) and metrics in health', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let base: string;

  beforeAll(async () => {
    app = await createTestApp({ env: { REGENFLOW_TOKENS: `${TEST_TOKENS_SETTING},telemetry:${TELEMETRY_TOKEN}` } });
    base = `http://127.0.0.1:${await app.listen()}`;
  });
  afterAll(async () => {
    await app.dispose();
  });

  const window = () => {
    const end = new Date(Date.now() + 60_000);
    return { baseline: { from: new Date(end.getTime() - 2_400_000), to: new Date(end.getTime() - 600_000) }, current: { from: new Date(end.getTime() - 600_000), to: end } };
  };

  it.each([
    ['http/json', (url: string) => new OtlpJsonMetricExporter({ url, headers })],
    ['http/protobuf', (url: string) => new OtlpProtobufMetricExporter({ url, headers })],
    ['http/protobuf with gzip', (url: string) => new OtlpProtobufMetricExporter({ url, headers, compression: 'gzip' as never })],
    ['http/json with gzip', (url: string) => new OtlpJsonMetricExporter({ url, headers, compression: 'gzip' as never })],
  ])('when an OpenTelemetry SDK exports a gauge, a counter and a histogram by %s, then each point is stored and cumulative points add up once', async (protocol, makeExporter) => {
    // Given an SDK (cumulative temporality, its default) exporting to the server
    const serviceName = `payments-${protocol.replace(/\W+/g, '-')}`;
    const provider = meterProvider(serviceName, makeExporter(`${base}/v1/metrics`));
    const meter = provider.getMeter('payments-lib', '2.0.0');
    meter.createObservableGauge('system.cpu.utilization', { unit: '1' }).addCallback((result) => result.observe(0.42, { 'cpu.logical_number': 0 }));
    const errors = meter.createCounter('payments.errors', { unit: '{error}' });
    const duration = meter.createHistogram('http.server.request.duration', { unit: 's' });

    // When it records, exports, records more and exports again
    for (let i = 0; i < 10; i++) duration.record(0.1, { 'http.route': '/pay' });
    duration.record(2, { 'http.route': '/pay', 'error.type': '500' });
    errors.add(3);
    await provider.forceFlush();
    await new Promise((resolve) => setTimeout(resolve, 5));
    for (let i = 0; i < 10; i++) duration.record(0.3, { 'http.route': '/pay' });
    errors.add(2);
    await provider.forceFlush();
    await provider.shutdown();

    // Then the points are stored as sent, one row per series and export
    const rows = await app.database.knex('metric_points').where({ service_name: serviceName }).orderBy(['name', 'time']);
    const gauge = rows.filter((row) => row.name === 'system.cpu.utilization');
    expect(gauge.length).toBeGreaterThanOrEqual(2);
    expect(gauge[0]).toMatchObject({ kind: 'gauge', unit: '1', value: 0.42, scope_name: 'payments-lib', attributes: { 'cpu.logical_number': 0 } });
    expect(rows.find((row) => row.name === 'payments.errors')).toMatchObject({ kind: 'sum', monotonic: true, temporality: 2, unit: '{error}' });
    const histogram = rows.find((row) => row.name === 'http.server.request.duration' && !row.attributes['error.type']);
    expect(histogram).toMatchObject({ kind: 'histogram', temporality: 2, unit: 's' });
    expect(histogram.bucket_counts.length).toBe(histogram.bucket_bounds.length + 1);

    // and aggregated in SQL, cumulative points differenced: 21 requests, 1 failed, 5 errors
    const [durationAggregate, errorAggregate, utilizationAggregate] = await createEntropyStore(app.database.knex).aggregateMetrics(serviceName, window());
    expect(durationAggregate).toMatchObject({ name: 'http.server.request.duration', kind: 'histogram' });
    expect(durationAggregate!.current.countIncrease).toBe(21);
    expect(durationAggregate!.current.failedCountIncrease).toBe(1);
    expect(durationAggregate!.current.sumIncrease).toBeCloseTo(10 * 0.1 + 2 + 10 * 0.3, 9);
    expect(errorAggregate).toMatchObject({ name: 'payments.errors', monotonic: true });
    expect(errorAggregate!.current.increase).toBe(5);
    expect(utilizationAggregate!.current.mean).toBeCloseTo(0.42, 9);

    // and a service that sends only metrics is a system, judged by its metrics alone
    const store = createEntropyStore(app.database.knex);
    expect(await store.systems()).toContain(serviceName);
    const measurement = await measureSystem(store, { system: serviceName, windowSeconds: 600, baselineSeconds: 1800, at: window().current.to });
    const health = measurement.indicators.health as HealthBreakdown;
    expect(health.metrics?.share).toBe(1);
    expect(health.metrics?.components.map((component) => `${component.metric}:${component.rule}`).sort()).toEqual(['http.server.request.duration:errors', 'system.cpu.utilization:utilization']);
    // 1 of 21 requests failed: errors 1 − (1/21)/0.25; utilization 42 % is fine
    expect(measurement.health).toBeCloseTo((1 + (1 - 1 / 21 / 0.25)) / 2, 9);
  });

  const point = (overrides: Record<string, unknown> = {}) => ({
    timeUnixNano: '1764000000000000000',
    asDouble: 0.5,
    attributes: [
      { key: 'core', value: { intValue: '1' } },
      { key: 'host.cpu.model', value: { stringValue: 'x86' } },
    ],
    ...overrides,
  });
  const request = (dataPoints: unknown[]) => ({
    resourceMetrics: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'inventory-metrics' } }] },
        scopeMetrics: [{ scope: { name: 'raw' }, metrics: [{ name: 'system.memory.utilization', unit: '1', gauge: { dataPoints } }] }],
      },
    ],
  });
  const post = (body: string | Uint8Array, contentType: string, extra: Record<string, string> = {}) =>
    fetch(`${base}/v1/metrics`, { method: 'POST', headers: { ...headers, 'content-type': contentType, ...extra }, body });

  it('when some points of a request are invalid, then the valid ones are stored, the answer counts the rejected ones, and a resend stores nothing twice', async () => {
    const body = request([point(), point({ timeUnixNano: 'yesterday' }), point({ asDouble: undefined })]);
    const response = await post(gzipSync(JSON.stringify(body)), 'application/json', { 'content-encoding': 'gzip' });
    expect(response.status).toBe(200);
    const answer = (await response.json()) as { partialSuccess: { rejectedDataPoints: string; errorMessage: string } };
    expect(answer.partialSuccess.rejectedDataPoints).toBe('2');
    expect(answer.partialSuccess.errorMessage).toContain('timeUnixNano');
    // The same point again, its attributes in another order: one series, one time.
    const reordered = point();
    await post(JSON.stringify(request([{ ...reordered, attributes: [...reordered.attributes].reverse() }])), 'application/json');
    const stored = await app.database.knex('metric_points').where({ service_name: 'inventory-metrics' });
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ value: 0.5, attributes: { core: 1, 'host.cpu.model': 'x86' } });
    expect(new Date(stored[0].time).toISOString()).toBe('2025-11-24T16:00:00.000Z');
  });

  it("when metrics claim a service.name under regenflow/, then they are refused, and stored ones never count in the health of regenflow's own process", async () => {
    // Given a telemetry client sending a saturated CPU for regenflow/orders next to its own service
    const now = BigInt(Date.now()) * 1_000_000n;
    const gauge = (value: number) => ({ name: 'system.cpu.utilization', unit: '1', gauge: { dataPoints: [{ timeUnixNano: String(now), asDouble: value }, { timeUnixNano: String(now - 1_000_000_000n), asDouble: value }] } });
    const resource = (name: string) => ({ attributes: [{ key: 'service.name', value: { stringValue: name } }] });
    const body = {
      resourceMetrics: [
        { resource: resource('regenflow/orders'), scopeMetrics: [{ scope: { name: 'host' }, metrics: [gauge(0.99)] }] },
        { resource: resource('honest-metrics'), scopeMetrics: [{ scope: { name: 'host' }, metrics: [gauge(0.2)] }] },
      ],
    };

    // When it posts them
    const response = await post(JSON.stringify(body), 'application/json');

    // Then the regenflow/ points are rejected with a reason, the others stored
    expect(response.status).toBe(200);
    const answer = (await response.json()) as { partialSuccess: { rejectedDataPoints: string; errorMessage: string } };
    expect(answer.partialSuccess.rejectedDataPoints).toBe('2');
    expect(answer.partialSuccess.errorMessage).toMatch(/regenflow\/orders.*not accepted/);
    expect(await app.database.knex('metric_points').where({ service_name: 'regenflow/orders' })).toHaveLength(0);
    expect(await app.database.knex('metric_points').where({ service_name: 'honest-metrics' })).toHaveLength(2);

    // and points that reached the table anyway (an older server) are not a system and not in its health
    await insertMetricPoints(app.database.knex, [
      { serviceName: 'regenflow/orders', name: 'system.cpu.utilization', unit: '1', kind: 'gauge', monotonic: null, temporality: 0, seriesKey: 'x', attributes: {}, scopeName: null, startTimeUnixNano: null, timeUnixNano: now, value: 0.99, count: null, sum: null, min: null, max: null, bucketBounds: null, bucketCounts: null },
    ]);
    const store = createEntropyStore(app.database.knex);
    expect(await store.systems()).not.toContain('regenflow/orders');
    const measurement = await measureSystem(store, { system: 'regenflow/orders', windowSeconds: 600, baselineSeconds: 1800, at: window().current.to });
    expect((measurement.indicators.health as HealthBreakdown).metrics).toBeUndefined();
  });

  it('when two replicas export the same cumulative counter, then each is its own series: no point is dropped and the increase is the sum of theirs', async () => {
    // Given two instances of one service (service.instance.id), counters started before the window
    const end = window().current.to.getTime();
    const nanos = (ms: number) => String(BigInt(ms) * 1_000_000n);
    const started = nanos(end - 3_000_000);
    const replica = (instance: string, points: Array<[atMs: number, value: number]>) => ({
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'replicated-api' } }, { key: 'service.instance.id', value: { stringValue: instance } }] },
      scopeMetrics: [
        {
          scope: { name: 'api', version: '1.0.0' },
          metrics: [{ name: 'api.errors', unit: '{error}', sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints: points.map(([at, value]) => ({ startTimeUnixNano: started, timeUnixNano: nanos(at), asInt: String(value) })) } }],
        },
      ],
    });

    // When both export, at the same times and interleaved (a: 10 → 20 → 25, b: 1000 → 1005)
    const response = await post(
      JSON.stringify({
        resourceMetrics: [
          replica('a', [
            [end - 300_000, 10],
            [end - 200_000, 20],
            [end - 100_000, 25],
          ]),
          replica('b', [
            [end - 300_000, 1000],
            [end - 150_000, 1005],
          ]),
        ],
      }),
      'application/json',
    );
    expect(response.status).toBe(200);

    // Then every point is stored, and the window's increase is 15 + 5, not a difference across replicas
    expect(await app.database.knex('metric_points').where({ service_name: 'replicated-api' })).toHaveLength(5);
    const [errors] = await createEntropyStore(app.database.knex).aggregateMetrics('replicated-api', window());
    expect(errors).toMatchObject({ name: 'api.errors', monotonic: true });
    expect(errors!.current.increase).toBe(20);
  });

  it('when utilization comes per CPU mode and per mountpoint, then the busiest series counts, idle and free left out: a busy CPU and one full disk are not averaged away', async () => {
    // Given a host whose CPU is 90 % user (idle 5 %), and whose /data disk is 99 % used among two near-empty ones
    const at = String(BigInt(window().current.to.getTime() - 120_000) * 1_000_000n);
    const gauge = (name: string, series: Array<[Record<string, string>, number]>) => ({
      name,
      unit: '1',
      gauge: { dataPoints: series.map(([attributes, value]) => ({ timeUnixNano: at, asDouble: value, attributes: Object.entries(attributes).map(([key, text]) => ({ key, value: { stringValue: text } })) })) },
    });
    const body = {
      resourceMetrics: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'busy-host' } }] },
          scopeMetrics: [
            {
              scope: { name: 'hostmetrics' },
              metrics: [
                gauge('system.cpu.utilization', [[{ 'cpu.mode': 'idle' }, 0.05], [{ 'cpu.mode': 'user' }, 0.9], [{ 'cpu.mode': 'system' }, 0.05]]),
                gauge('system.filesystem.utilization', [
                  [{ 'system.device': 'sda1', 'system.filesystem.mountpoint': '/', 'system.filesystem.state': 'used' }, 0.1],
                  [{ 'system.device': 'sda1', 'system.filesystem.mountpoint': '/', 'system.filesystem.state': 'free' }, 0.9],
                  [{ 'system.device': 'sdb1', 'system.filesystem.mountpoint': '/data', 'system.filesystem.state': 'used' }, 0.99],
                  [{ 'system.device': 'sdb1', 'system.filesystem.mountpoint': '/data', 'system.filesystem.state': 'free' }, 0.01],
                  [{ 'system.device': 'sda2', 'system.filesystem.mountpoint': '/boot', 'system.filesystem.state': 'used' }, 0.2],
                  [{ 'system.device': 'sda2', 'system.filesystem.mountpoint': '/boot', 'system.filesystem.state': 'free' }, 0.8],
                ]),
              ],
            },
          ],
        },
      ],
    };
    expect((await post(JSON.stringify(body), 'application/json')).status).toBe(200);

    // When it is measured
    const measurement = await measureSystem(createEntropyStore(app.database.knex), { system: 'busy-host', windowSeconds: 600, baselineSeconds: 1800, at: window().current.to });

    // Then the CPU scores by its user mode and the filesystem by /data
    const components = (measurement.indicators.health as HealthBreakdown).metrics!.components;
    const score = (metric: string) => components.find((component) => component.metric === metric && component.rule === 'utilization')!.score;
    expect(score('system.cpu.utilization')).toBeCloseTo((1 - 0.9) / 0.3, 9);
    expect(score('system.filesystem.utilization')).toBeCloseTo((1 - 0.99) / 0.3, 9);
  });

  it('when a queue gauge drains in one service and fills in another, then only the filling one loses health, judged on bucket means', async () => {
    // Given two services scraping messaging.queue.depth every 25 s for 40 minutes: 20 ± 2, then (the current window) 5 or 60
    const { baseline, current } = window();
    const series = (name: string, now: number) => {
      const dataPoints = [];
      for (let at = baseline.from.getTime() + 1000, i = 0; at < current.to.getTime(); at += 25_000, i++) {
        const value = (at >= current.from.getTime() ? now : 20) + ((i * 7) % 5) - 2;
        dataPoints.push({ timeUnixNano: String(BigInt(at) * 1_000_000n), asDouble: value });
      }
      return { resource: { attributes: [{ key: 'service.name', value: { stringValue: name } }] }, scopeMetrics: [{ scope: { name: 'broker' }, metrics: [{ name: 'messaging.queue.depth', unit: '{message}', gauge: { dataPoints } }] }] };
    };
    expect((await post(JSON.stringify({ resourceMetrics: [series('queue-draining', 5), series('queue-filling', 60)] }), 'application/json')).status).toBe(200);

    // When both are measured
    const store = createEntropyStore(app.database.knex);
    const shift = async (system: string) => {
      const measurement = await measureSystem(store, { system, windowSeconds: 600, baselineSeconds: 1800, at: current.to });
      return (measurement.indicators.health as HealthBreakdown).metrics!.components.find((component) => component.rule === 'shift')!;
    };

    // Then the draining queue keeps its health and the filling one scores 0; both tested over the current window's 12 buckets
    const draining = await shift('queue-draining');
    const filling = await shift('queue-filling');
    expect(draining).toMatchObject({ metric: 'messaging.queue.depth', score: 1, detail: expect.objectContaining({ buckets: 12, baselineBuckets: 36 }) });
    expect(filling.score).toBe(0);
  });

  it('when a cumulative counter has a point before the range, then the interval across its start counts: the first point inside is differenced against it', async () => {
    // Given a counter started an hour before the window: 100 twenty minutes before it, 130 in the baseline, 150 in the current window
    const { baseline, current } = window();
    const point = (atMs: number, value: number) => ({ startTimeUnixNano: String(BigInt(baseline.from.getTime() - 3_600_000) * 1_000_000n), timeUnixNano: String(BigInt(atMs) * 1_000_000n), asInt: String(value) });
    const body = {
      resourceMetrics: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'long-running' } }] },
          scopeMetrics: [{ scope: { name: 'app' }, metrics: [{ name: 'app.errors', unit: '{error}', sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints: [point(baseline.from.getTime() - 1_200_000, 100), point(baseline.from.getTime() + 600_000, 130), point(current.from.getTime() + 60_000, 150)] } }] }],
        },
      ],
    };
    expect((await post(JSON.stringify(body), 'application/json')).status).toBe(200);

    // When its windows are aggregated
    const [errors] = await createEntropyStore(app.database.knex).aggregateMetrics('long-running', window());

    // Then the baseline has the 30 since the point before it, the current window the next 20
    expect(errors!.baseline.increase).toBe(30);
    expect(errors!.current.increase).toBe(20);
  });

  it('when a protobuf request is accepted or partly rejected, then the answer is a protobuf ExportMetricsServiceResponse the SDK reads', async () => {
    const empty = await post(new Uint8Array(0), 'application/x-protobuf');
    expect(empty.status).toBe(200);
    expect(empty.headers.get('content-type')).toBe('application/x-protobuf');
    expect(ProtobufMetricsSerializer.deserializeResponse(new Uint8Array(await empty.arrayBuffer()))).toEqual({});
    // The partial success as the exporter's own decoder reads it (field numbers as published).
    const partial = encodeMetricsResponse({ rejected: 2, errorMessage: 'data point 1: timeUnixNano' }, 'protobuf') as Buffer;
    const decoded = ProtobufMetricsSerializer.deserializeResponse(new Uint8Array(partial)) as { partialSuccess?: { rejectedDataPoints?: unknown; errorMessage?: string } };
    expect(Number(decoded.partialSuccess?.rejectedDataPoints)).toBe(2);
    expect(decoded.partialSuccess?.errorMessage).toBe('data point 1: timeUnixNano');
  });

  it('when the body cannot be decoded, the content type is wrong or the token is missing or of another role, then the answer is 400, 415, 401 or 403', async () => {
    const garbage = await post(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]), 'application/x-protobuf');
    expect(garbage.status).toBe(400);
    expect(garbage.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const wrongShape = await post(JSON.stringify({ resourceMetrics: 'many' }), 'application/json');
    expect(wrongShape.status).toBe(400);
    expect(((await wrongShape.json()) as { code: string }).code).toBe('VALIDATION_FAILED');
    expect((await post('points', 'text/plain')).status).toBe(415);
    const anonymous = await fetch(`${base}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(anonymous.status).toBe(401);
    const worker = await fetch(`${base}/v1/metrics`, { method: 'POST', headers: { authorization: `Bearer ${TEST_TOKENS.worker}`, 'content-type': 'application/json' }, body: '{}' });
    expect(worker.status).toBe(403);
  });

  it('when a system saturates its CPU, then it is less healthy than the same spans without metrics, which score exactly as before', async () => {
    // Given two systems with the same 40 minutes of healthy spans
    const now = Date.now();
    // (up to the measuring time: a service that went quiet for the last half minute would be an outage)
    const spansOf = (system: string) => new SpanSimulator({ system, seed: 7, requestsPerSecond: 2 }).generate(new Date(now - 2_340_000), new Date(now + 60_000));
    await writeSpans(app.database.knex, spansOf('shop-with-metrics'));
    await writeSpans(app.database.knex, spansOf('shop-without-metrics'));
    // and one of them exporting a CPU utilization that sits at 98 % (a real SDK over HTTP)
    const provider = meterProvider('shop-with-metrics', new OtlpProtobufMetricExporter({ url: `${base}/v1/metrics`, headers }));
    provider
      .getMeter('host')
      .createObservableGauge('system.cpu.utilization', { unit: '1' })
      .addCallback((result) => result.observe(0.98));
    await provider.forceFlush();
    await provider.shutdown();

    // When both are measured over the same windows
    const store = createEntropyStore(app.database.knex);
    const at = new Date(now + 60_000);
    const measure = (system: string) => measureSystem(store, { system, windowSeconds: 600, baselineSeconds: 1800, at });
    const withMetrics = await measure('shop-with-metrics');
    const without = await measure('shop-without-metrics');

    // Then the saturated one scores lower, and says which metric did it
    expect(withMetrics.health).toBeLessThan(without.health);
    const health = withMetrics.indicators.health as HealthBreakdown;
    expect(health.metrics?.components).toEqual([expect.objectContaining({ metric: 'system.cpu.utilization', rule: 'utilization' })]);
    // 98 % is 0.28 of the way from the 70 % knee to saturation: (1 − 0.98) / 0.3
    expect(health.metrics!.components[0]!.score).toBeCloseTo(0.02 / 0.3, 9);
    expect(health.spanScore).toBeCloseTo(without.health, 9);
    expect(withMetrics.health).toBeCloseTo(0.7 * without.health + 0.3 * (0.02 / 0.3), 9);
    // and the entropy.measure task says so in its output
    const measureTask = entropyTopics({ entropyStore: store, engineControl: undefined as never }).find((task) => task.topic === 'entropy.measure')!;
    const output = await measureTask.handler(measureTask.input.parse({ system: 'shop-with-metrics', windowSeconds: 600, baselineSeconds: 1800 }), { instanceId: 'none', processKey: 'none', idempotencyKey: 'none' } as never);
    expect(measureTask.output.parse(output)).toMatchObject({ healthMetrics: ['system.cpu.utilization:utilization'] });
    // and the one without metrics is judged by its spans alone, as before metrics existed
    const plain = without.indicators.health as HealthBreakdown;
    expect(plain.metrics).toBeUndefined();
    expect(plain.spanScore).toBeUndefined();
    // (span health is the worst finding's, 1 − its severity: healthy spans, no finding, 1)
    expect(without.health).toBe(1);
  });
});
