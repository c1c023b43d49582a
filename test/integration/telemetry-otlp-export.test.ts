import { createServer, type AddressInfo } from 'node:net';
import { z } from 'zod';
import { ServiceTaskRegistry } from '../../service-tasks/registry.js';
import { sequence } from '../support/bpmn.js';
import { TEST_TOKENS_SETTING } from '../support/server-process.js';
import { createApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createTestApp, createTestDatabase, eventually } from '../support/test-app.js';

const TELEMETRY_TOKEN = 'telemetry-test-token';

function registry() {
  return new ServiceTaskRegistry().register({
    topic: 'export.score',
    description: 'scores an order',
    mode: 'inline',
    input: z.object({}).passthrough(),
    output: z.object({ score: z.number() }),
    handler: async () => ({ score: 0.9 }),
  });
}

/**
 * A real OTLP export end to end: the engine of one app exports its spans to a second
 * regenflow server's POST /v1/traces, and an instance that ran over several transitions
 * (a user task and a timer in between) arrives there as one trace.
 */
describe('telemetry: OTLP export to another server', () => {
  let receiver: Awaited<ReturnType<typeof createTestApp>>;
  let receiverUrl: string;

  beforeAll(async () => {
    receiver = await createTestApp({ env: { REGENFLOW_TOKENS: `${TEST_TOKENS_SETTING},telemetry:${TELEMETRY_TOKEN}` } });
    receiverUrl = `http://127.0.0.1:${await receiver.listen()}`;
  });
  afterAll(async () => {
    await receiver.dispose();
  });

  it.each([
    ['http/protobuf', 'gzip'],
    ['http/json', 'none'],
  ])('when the engine exports by %s (compression %s), then an instance over three transitions arrives as one trace with its parentage and start times', async (protocol, compression) => {
    // Given an engine whose OTEL_* settings point at the receiver
    const serviceName = `orders-${protocol.replace('/', '-')}`;
    const sender = await createTestApp({
      registry: registry(),
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiverUrl,
        OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
        OTEL_EXPORTER_OTLP_HEADERS: `authorization=Bearer%20${TELEMETRY_TOKEN}`,
        OTEL_EXPORTER_OTLP_COMPRESSION: compression,
        OTEL_SERVICE_NAME: serviceName,
        OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=test',
      },
    });
    try {
      expect(sender.telemetry.otlp).toMatchObject({ url: `${receiverUrl}/v1/traces`, protocol });
      sender.poller.start();
      const xml = sequence('export_order', [
        { id: 'score', xml: '<bpmn:serviceTask id="score" camunda:type="external" camunda:topic="export.score" />' },
        { id: 'approve', xml: '<bpmn:userTask id="approve" />' },
        {
          id: 'cool_down',
          xml: '<bpmn:intermediateCatchEvent id="cool_down"><bpmn:timerEventDefinition><bpmn:timeDuration>PT0.3S</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>',
        },
      ]);
      await sender.engine.deploy([{ name: 'export_order.bpmn', xml }]);

      // When an instance starts, waits for its user task, then for its timer, and ends
      const started = await sender.engine.start({ processKey: 'export_order' });
      await new Promise((resolve) => setTimeout(resolve, 100));
      const task = await sender.database.knex('user_tasks').where({ instance_id: started.id }).first();
      await sender.engine.completeUserTask(task.id, { approved: true });
      await eventually(async () => (await sender.engine.getInstance(started.id)).status === 'completed');
      await sender.telemetry.flush();
      expect(sender.telemetry.pipeline.stats).toMatchObject({ notExported: 0, dropped: 0, failed: 0 });
      expect(sender.telemetry.pipeline.stats.exported).toBeGreaterThanOrEqual(6);

      // Then the receiver holds the instance's trace: the same spans the sender stored
      const local = await sender.telemetry.spans.listByInstance(started.id);
      const remote = await eventually(async () => {
        const spans = await receiver.telemetry.spans.listByTrace(started.trace_id!);
        return spans.length === local.length ? spans : null;
      });
      expect(local.map((span) => span.name).sort()).toEqual(['approve', 'cool_down', 'end', 'export_order', 'score', 'start']);
      for (const mine of local) {
        const theirs = remote.find((span) => span.spanId === mine.spanId)!;
        expect(theirs).toMatchObject({
          traceId: started.trace_id,
          parentSpanId: mine.parentSpanId,
          name: mine.name,
          serviceName,
          source: 'otlp',
          statusCode: mine.statusCode,
          instanceId: started.id,
          processKey: 'export_order',
          processVersion: 1,
          activityId: mine.activityId,
        });
        expect(theirs.startTime.getTime()).toBe(mine.startTime.getTime());
        expect(theirs.endTime.getTime()).toBe(mine.endTime.getTime());
        expect(theirs.attributes).toEqual(mine.attributes);
      }

      // with the instance span as the one root and every activity under it
      const root = remote.find((span) => span.parentSpanId === null)!;
      expect(root.spanId).toBe(started.root_span_id);
      expect(remote.filter((span) => span !== root).every((span) => span.parentSpanId === root.spanId)).toBe(true);
      expect(root.resource).toMatchObject({ 'service.name': serviceName, 'deployment.environment': 'test', 'telemetry.sdk.language': 'nodejs' });
      const rootRow = await receiver.database.knex('spans').where({ span_id: root.spanId }).first();
      expect(rootRow.scope_name).toBe('regenflow');

      // and the spans that waited carry their true start, in an earlier transition than their end
      const approve = remote.find((span) => span.name === 'approve')!;
      const coolDown = remote.find((span) => span.name === 'cool_down')!;
      expect(approve.durationMs).toBeGreaterThanOrEqual(100);
      expect(coolDown.durationMs).toBeGreaterThanOrEqual(300);
      expect(approve.startTime.getTime()).toBeLessThan(coolDown.startTime.getTime());
      expect(root.startTime.getTime()).toBeLessThanOrEqual(Math.min(...remote.map((span) => span.startTime.getTime())));
    } finally {
      await sender.dispose();
    }
  });

  it('when the OTLP endpoint is down, then transitions commit, the spans are in the span store, and the failed export is logged and counted', async () => {
    const lines: string[] = [];
    // A port nothing listens on any more.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const goneUrl = `http://127.0.0.1:${(probe.address() as AddressInfo).port}`;
    await new Promise((resolve) => probe.close(resolve));
    const database = await createTestDatabase();
    const sender = await createApp(
      loadConfig({
        PORT: '0',
        REGENFLOW_DATA_DIR: '/tmp/regenflow-unused',
        REGENFLOW_TOKENS: TEST_TOKENS_SETTING,
        OTEL_EXPORTER_OTLP_ENDPOINT: goneUrl,
        OTEL_EXPORTER_OTLP_TIMEOUT: '1000',
        ...(database.url && { DATABASE_URL: database.url }),
      }),
      { registry: new ServiceTaskRegistry(), inMemoryDatabase: !database.url, log: (line) => lines.push(line) },
    );
    try {
      await sender.engine.deploy([{ name: 'down.bpmn', xml: sequence('export_down', [{ id: 'step', xml: '<bpmn:task id="step" />' }]) }]);
      const started = await sender.engine.start({ processKey: 'export_down' });
      expect(started.status).toBe('completed');
      await sender.telemetry.flush();
      expect(await sender.telemetry.spans.listByInstance(started.id)).toHaveLength(4);
      expect(sender.telemetry.pipeline.stats.notExported).toBe(4);
      expect(lines.some((line) => line.startsWith('OTLP export of 4 spans failed'))).toBe(true);
    } finally {
      await sender.close();
      await database.drop();
    }
  }, 60_000);
});
