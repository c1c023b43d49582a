import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, SimpleSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { join } from 'node:path';
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
});
