import { gzipSync } from 'node:zlib';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { OTLPTraceExporter as OtlpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OtlpProtobufExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, SimpleSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { decodeTraceResponse } from '../../src/telemetry/otlp-ingest.js';
import { TEST_TOKENS, TEST_TOKENS_SETTING } from '../support/server-process.js';
import { createTestApp } from '../support/test-app.js';

const TELEMETRY_TOKEN = 'telemetry-test-token';

/** Sends two spans (a server span and a failing child) through a real OpenTelemetry SDK. */
async function sendWithSdk(exporter: SpanExporter, serviceName: string): Promise<{ traceId: string; parentId: string; childId: string }> {
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': serviceName, 'deployment.environment': 'test' }),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const tracer = provider.getTracer('checkout-lib', '1.2.3');
  const parent = tracer.startSpan('GET /checkout', { kind: SpanKind.SERVER, attributes: { 'http.response.status_code': 200, 'http.route': '/checkout' } });
  const child = tracer.startSpan(
    'charge card',
    { kind: SpanKind.CLIENT, attributes: { retries: 2, ratio: 0.5, tags: ['a', 'b'], ok: false } },
    trace.setSpan(context.active(), parent),
  );
  child.addEvent('card declined', { code: 'R01' });
  child.setStatus({ code: SpanStatusCode.ERROR, message: 'declined' });
  child.end();
  parent.end();
  await provider.forceFlush();
  await provider.shutdown();
  return { traceId: parent.spanContext().traceId, parentId: parent.spanContext().spanId, childId: child.spanContext().spanId };
}

describe('telemetry: POST /v1/traces (OTLP/HTTP ingest)', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let base: string;

  beforeAll(async () => {
    app = await createTestApp({ env: { REGENFLOW_TOKENS: `${TEST_TOKENS_SETTING},telemetry:${TELEMETRY_TOKEN}` } });
    base = `http://127.0.0.1:${await app.listen()}`;
  });
  afterAll(async () => {
    await app.dispose();
  });

  const headers = { authorization: `Bearer ${TELEMETRY_TOKEN}` };

  it.each([
    ['http/json', (url: string) => new OtlpJsonExporter({ url, headers })],
    ['http/protobuf', (url: string) => new OtlpProtobufExporter({ url, headers })],
    ['http/protobuf with gzip', (url: string) => new OtlpProtobufExporter({ url, headers, compression: 'gzip' as never })],
    ['http/json with gzip', (url: string) => new OtlpJsonExporter({ url, headers, compression: 'gzip' as never })],
  ])('when an OpenTelemetry SDK exports spans by %s, then they land in the span store as sent', async (protocol, makeExporter) => {
    // Given an SDK whose exporter points at the server
    const serviceName = `checkout-${protocol.replace(/\W+/g, '-')}`;
    // When it exports a parent span and a failing child
    const sent = await sendWithSdk(makeExporter(`${base}/v1/traces`), serviceName);

    // Then both spans are stored, source otlp, with ids, parentage, status, attributes and resource
    const spans = await app.telemetry.spans.listByTrace(sent.traceId);
    expect(spans).toHaveLength(2);
    const parent = spans.find((span) => span.spanId === sent.parentId)!;
    const child = spans.find((span) => span.spanId === sent.childId)!;
    expect(parent).toMatchObject({ serviceName, name: 'GET /checkout', kind: 2, parentSpanId: null, statusCode: 0, source: 'otlp' });
    expect(parent.attributes).toEqual({ 'http.response.status_code': 200, 'http.route': '/checkout' });
    expect(parent.resource).toMatchObject({ 'service.name': serviceName, 'deployment.environment': 'test' });
    expect(child).toMatchObject({ name: 'charge card', kind: 3, parentSpanId: sent.parentId, statusCode: 2, statusMessage: 'declined' });
    expect(child.attributes).toEqual({ retries: 2, ratio: 0.5, tags: ['a', 'b'], ok: false });
    expect(child.startTime.getTime()).toBeGreaterThanOrEqual(parent.startTime.getTime());
    expect(child.durationMs).toBeGreaterThanOrEqual(0);
    const row = await app.database.knex('spans').where({ span_id: sent.childId }).first();
    expect(row.scope_name).toBe('checkout-lib');
    expect(row.events).toEqual([expect.objectContaining({ name: 'card declined', attributes: { code: 'R01' } })]);
  });

  const span = (overrides: Record<string, unknown> = {}) => ({
    traceId: '5b8efff798038103d269b633813fc60c',
    spanId: 'eee19b7ec3c1b174',
    name: 'lookup',
    kind: 1,
    startTimeUnixNano: '1764000000000000000',
    endTimeUnixNano: '1764000000250000000',
    attributes: [{ key: 'big', value: { intValue: '9007199254740993' } }],
    ...overrides,
  });
  const request = (spans: unknown[]) => ({
    resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'inventory' } }] }, scopeSpans: [{ scope: { name: 'raw' }, spans }] }],
  });
  const post = (body: string | Uint8Array, contentType: string, extra: Record<string, string> = {}) =>
    fetch(`${base}/v1/traces`, { method: 'POST', headers: { ...headers, 'content-type': contentType, ...extra }, body });

  it('when some spans of a request are invalid, then the valid ones are stored and the answer names the rejected count (partialSuccess)', async () => {
    const body = request([span(), span({ spanId: 'nothex', name: 'bad id' }), span({ spanId: 'aaaaaaaaaaaaaaaa', endTimeUnixNano: '1' })]);
    const response = await post(gzipSync(JSON.stringify(body)), 'application/json', { 'content-encoding': 'gzip' });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const answer = (await response.json()) as { partialSuccess: { rejectedSpans: string; errorMessage: string } };
    expect(answer.partialSuccess.rejectedSpans).toBe('2');
    expect(answer.partialSuccess.errorMessage).toContain('spanId');
    const stored = await app.telemetry.spans.listByTrace('5b8efff798038103d269b633813fc60c');
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ serviceName: 'inventory', durationMs: 250, attributes: { big: '9007199254740993' } });
    expect(stored[0]!.startTime.toISOString()).toBe('2025-11-24T16:00:00.000Z');

    // The same batch again (an exporter retry) stores nothing twice.
    await post(JSON.stringify(request([span()])), 'application/json');
    expect(await app.telemetry.spans.listByTrace('5b8efff798038103d269b633813fc60c')).toHaveLength(1);
  });

  it('when a protobuf request is accepted, then the answer is a protobuf ExportTraceServiceResponse', async () => {
    const response = await post(new Uint8Array(0), 'application/x-protobuf');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/x-protobuf');
    expect(decodeTraceResponse(new Uint8Array(await response.arrayBuffer()))).toEqual({});
  });

  it('when the body cannot be decoded, then the answer is 400 problem+json', async () => {
    const garbage = await post(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]), 'application/x-protobuf');
    expect(garbage.status).toBe(400);
    expect(garbage.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const badJson = await post('{"resourceSpans": [', 'application/json');
    expect(badJson.status).toBe(400);
    const wrongShape = await post(JSON.stringify({ resourceSpans: 'many' }), 'application/json');
    expect(wrongShape.status).toBe(400);
    expect(((await wrongShape.json()) as { code: string }).code).toBe('VALIDATION_FAILED');
  });

  it('when the content type is neither JSON nor protobuf, then the answer is 415', async () => {
    const response = await post('spans', 'text/plain');
    expect(response.status).toBe(415);
  });

  it('when the token is missing or of a role that may not send spans, then the answer is 401 or 403', async () => {
    const anonymous = await fetch(`${base}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(anonymous.status).toBe(401);
    const worker = await fetch(`${base}/v1/traces`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_TOKENS.worker}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(worker.status).toBe(403);
    // and the telemetry role can do nothing else
    const instances = await fetch(`${base}/api/process-instances`, { headers });
    expect(instances.status).toBe(403);
  });
});
