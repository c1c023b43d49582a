import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, SimpleSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { WorktreeRunner } from '../../service-tasks/agent/worktree-runner.js';
import { OtlpCapture } from '../../service-tasks/validator/otlp-capture.js';
import { PhasesFileSchema } from '../../service-tasks/validator/phase-config.js';
import { runPhase } from '../../service-tasks/validator/phase-runner.js';
import { createNodeProject } from '../support/node-project.js';
import { repositoryRoot } from '../support/server-process.js';

/** Exports one checkout span through a real OpenTelemetry SDK and exporter. */
async function exportCheckout(exporter: SpanExporter): Promise<void> {
  const provider = new BasicTracerProvider({ resource: resourceFromAttributes({ 'service.name': 'shop' }), spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const span = provider.getTracer('shop').startSpan('shop.checkout', { attributes: { 'shop.order.id': 'o-1', 'shop.items': 2, 'shop.gift': true } });
  span.end();
  await provider.forceFlush();
  await provider.shutdown();
}

describe('validator OTLP capture', () => {
  let capture: OtlpCapture;
  let endpoint: string;
  beforeEach(async () => {
    capture = new OtlpCapture();
    endpoint = await capture.start();
  });
  afterEach(async () => {
    await capture.stop();
  });

  it('when the protobuf exporter sends spans, then they are captured with typed attributes', async () => {
    await exportCheckout(new ProtoExporter({ url: `${endpoint}/v1/traces` }));
    expect(capture.spans).toEqual([{ name: 'shop.checkout', attributes: { 'shop.order.id': 'o-1', 'shop.items': 2, 'shop.gift': true } }]);
    expect(capture.rejectedRequests).toBe(0);
  });

  it('when the JSON exporter sends spans, then they are captured the same way', async () => {
    await exportCheckout(new JsonExporter({ url: `${endpoint}/v1/traces` }));
    expect(capture.spans).toEqual([{ name: 'shop.checkout', attributes: { 'shop.order.id': 'o-1', 'shop.items': 2, 'shop.gift': true } }]);
  });

  it('when a body is neither encoding or not a trace export, then it is refused and counted', async () => {
    const text = await fetch(`${endpoint}/v1/traces`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'spans' });
    const garbage = await fetch(`${endpoint}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: Buffer.from([0xff, 0xff, 0xff]) });
    expect([text.status, garbage.status]).toEqual([415, 400]);
    expect(capture.spans).toEqual([]);
    expect(capture.rejectedRequests).toBe(2);
  });

  it('when the exporter sends gzip, as the OTLP ingest accepts it, then the spans are captured', async () => {
    // Given what a gzip-compressing JSON exporter sends
    await exportCheckout(new JsonExporter({ url: `${endpoint}/v1/traces`, compression: 'gzip' as never }));
    const span = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', name: 'shop.checkout', kind: 1, startTimeUnixNano: '1', endTimeUnixNano: '2', attributes: [{ key: 'shop.order.id', value: { stringValue: 'o-2' } }] };
    const body = gzipSync(JSON.stringify({ resourceSpans: [{ resource: { attributes: [] }, scopeSpans: [{ scope: { name: 'shop' }, spans: [span] }] }] }));

    // When a gzip body is posted by hand too
    const posted = await fetch(`${endpoint}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body });

    // Then both exports were decoded and nothing was refused
    expect(posted.status).toBe(200);
    expect(capture.spans.map((captured) => captured.attributes['shop.order.id'])).toEqual(['o-1', 'o-2']);
    expect(capture.rejectedRequests).toBe(0);
  });

  it('when a body is larger than the capture takes, or spans in an export are malformed, then they are counted, not cut and decoded', async () => {
    // Given an export with one good span and two malformed ones, and one far too large
    const good = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', name: 'shop.checkout', startTimeUnixNano: '1', endTimeUnixNano: '2' };
    const bad = { ...good, traceId: 'not-a-trace-id' };
    const request = (spans: object[]) => JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans }] }] });

    // When both are posted
    const partial = await fetch(`${endpoint}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: request([good, bad, bad]) });
    const huge = await fetch(`${endpoint}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: request([{ ...good, name: 'x'.repeat(9 * 1024 * 1024) }]) });

    // Then the good span is kept, the malformed spans and the large request are counted
    expect([partial.status, huge.status]).toEqual([200, 413]);
    expect(capture.spans).toHaveLength(1);
    expect([capture.rejectedSpans, capture.refused]).toEqual([2, 1]);
  });
});

describe('the otel phase with a project that exports protobuf', () => {
  let project: Awaited<ReturnType<typeof createNodeProject>>;
  beforeAll(async () => {
    project = await createNodeProject();
  });
  afterAll(async () => {
    await project?.remove();
  });

  it("when the project's telemetry script exports through the protobuf exporter, then the phase checks its spans against the registry", async () => {
    // Given a telemetry script that uses the OpenTelemetry SDK and its protobuf exporter (configured by the OTEL_* variables the phase sets)
    const script = `import { createRequire } from 'node:module';
const require = createRequire(${JSON.stringify(join(repositoryRoot, 'package.json'))});
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-proto');
const { BasicTracerProvider, SimpleSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const provider = new BasicTracerProvider({ resource: resourceFromAttributes({ 'service.name': 'shop' }), spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter())] });
provider.getTracer('shop').startSpan('shop.checkout', { attributes: { 'shop.order.id': 'o-1', 'shop.items': 2 } }).end();
provider.getTracer('shop').startSpan('shop.checkout', { attributes: { 'shop.items': 'two' } }).end();
await provider.shutdown();
console.log('exported over protobuf');
`;
    const ref = project.commit({ 'scripts/emit-spans.mjs': script }, 'telemetry through the OpenTelemetry SDK', 'proto');
    const runner = new WorktreeRunner({ workRoot: join(project.root, 'work'), repositoryRoots: [join(project.root, 'repos')], envAllowList: ['PATH', 'HOME'] });
    const phases = PhasesFileSchema.parse({ phases: [{ name: 'otel', kind: 'otel', script: 'test:telemetry', weight: 1, timeoutMs: 60_000, required: false }] });

    // When the otel phase runs it
    const result = await runPhase(runner, phases, phases.phases[0]!, { repository: project.repository, ref, workspace: 'otel-proto' });
    await runner.discard(project.repository, 'otel-proto');

    // Then both spans arrived; the one that breaks the registry is named
    expect(result.output).toContain('exported over protobuf');
    expect(result).toMatchObject({
      passed: false,
      score: 0.5,
      summary: expect.stringMatching(/^2 violations in 2 spans: span "shop.checkout" lacks required attribute shop.order.id; span "shop.checkout" attribute shop.items is string, not int/),
    });
  });

  it('when the run exports one good span and 99 malformed ones, then the phase fails with the rejected spans counted in its score', async () => {
    // Given a telemetry script that exports one span that follows the registry and 99 with a broken trace id
    const script = `const good = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', name: 'shop.checkout', startTimeUnixNano: '1', endTimeUnixNano: '2', attributes: [{ key: 'shop.order.id', value: { stringValue: 'o-1' } }] };
const spans = [good, ...Array.from({ length: 99 }, () => ({ ...good, traceId: 'broken' }))];
const body = JSON.stringify({ resourceSpans: [{ resource: { attributes: [] }, scopeSpans: [{ scope: { name: 'shop' }, spans }] }] });
const response = await fetch(process.env.OTEL_EXPORTER_OTLP_ENDPOINT + '/v1/traces', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
console.log('exported', response.status);
`;
    const ref = project.commit({ 'scripts/emit-spans.mjs': script }, 'mostly malformed spans', 'malformed');
    const runner = new WorktreeRunner({ workRoot: join(project.root, 'work'), repositoryRoots: [join(project.root, 'repos')], envAllowList: ['PATH', 'HOME'] });
    const phases = PhasesFileSchema.parse({ phases: [{ name: 'otel', kind: 'otel', script: 'test:telemetry', weight: 1, timeoutMs: 60_000, required: false }] });

    // When the otel phase runs it
    const result = await runPhase(runner, phases, phases.phases[0]!, { repository: project.repository, ref, workspace: 'otel-malformed' });
    await runner.discard(project.repository, 'otel-malformed');

    // Then the one good span does not make a pass
    expect(result).toMatchObject({ passed: false, score: 0.01 });
    expect(result.summary).toContain('99 spans rejected');
  });
});
