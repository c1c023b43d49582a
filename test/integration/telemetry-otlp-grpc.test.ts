import * as grpc from '@grpc/grpc-js';
import { z } from 'zod';
import { ServiceTaskRegistry } from '../../service-tasks/registry.js';
import { decodeTraceRequest } from '../../src/telemetry/index.js';
import type { SpanRecord } from '../../src/store/spans.js';
import { bpmn, sequence } from '../support/bpmn.js';
import { createTestApp, eventually } from '../support/test-app.js';

/** What the collector received in one Export call. */
interface Received {
  metadata: Record<string, unknown>;
  spans: SpanRecord[];
}

/**
 * A real OTLP/gRPC collector endpoint: `opentelemetry.proto.collector.trace.v1.TraceService/Export`
 * on @grpc/grpc-js, its requests decoded with the protobuf types of the project's own ingest.
 */
async function startCollector(): Promise<{ url: string; received: Received[]; stop(): Promise<void> }> {
  const received: Received[] = [];
  const bytes = (value: Buffer) => value;
  const service: grpc.ServiceDefinition = {
    Export: {
      path: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
      requestStream: false,
      responseStream: false,
      requestSerialize: bytes,
      requestDeserialize: bytes,
      responseSerialize: bytes,
      responseDeserialize: bytes,
    },
  };
  const server = new grpc.Server();
  server.addService(service, {
    Export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
      const { spans, rejected } = decodeTraceRequest(call.request, 'protobuf');
      received.push({ metadata: call.metadata.getMap(), spans });
      expect(rejected).toBe(0);
      callback(null, Buffer.alloc(0)); // an empty ExportTraceServiceResponse: full success
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    stop: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}

function registry() {
  return new ServiceTaskRegistry().register({
    topic: 'grpc.score',
    description: 'scores an order',
    mode: 'inline',
    input: z.object({}).passthrough(),
    output: z.object({ score: z.number() }),
    handler: async () => ({ score: 0.7 }),
  });
}

describe('telemetry: OTLP export over gRPC', () => {
  let collector: Awaited<ReturnType<typeof startCollector>>;

  beforeAll(async () => {
    collector = await startCollector();
  });
  afterAll(async () => {
    await collector.stop();
  });

  it.each([
    ['OTEL_EXPORTER_OTLP_PROTOCOL', 'OTEL_EXPORTER_OTLP_ENDPOINT', 'gzip'],
    ['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'none'],
  ])('when %s=grpc and %s name a gRPC collector (compression %s), then the engine spans arrive with their bpmn.* attributes, headers as metadata', async (protocolVariable, endpointVariable, compression) => {
    // Given an engine whose OTEL_* settings name a gRPC collector
    const serviceName = `grpc-orders-${compression}`;
    const sender = await createTestApp({
      registry: registry(),
      env: {
        [endpointVariable]: collector.url,
        [protocolVariable]: 'grpc',
        OTEL_EXPORTER_OTLP_HEADERS: 'x-collector-token=s3cret%20token',
        OTEL_EXPORTER_OTLP_COMPRESSION: compression,
        OTEL_SERVICE_NAME: serviceName,
      },
    });
    try {
      expect(sender.telemetry.otlp).toMatchObject({ url: collector.url, protocol: 'grpc' });
      const key = `grpc_order_${compression}`;
      await sender.engine.deploy([
        {
          name: `${key}.bpmn`,
          xml: sequence(key, [
            { id: 'score', xml: '<bpmn:serviceTask id="score" camunda:type="external" camunda:topic="grpc.score" />' },
            { id: 'approve', xml: '<bpmn:userTask id="approve" />' },
          ]),
        },
      ]);
      const failingKey = `grpc_failing_${compression}`;
      await sender.engine.deploy([
        {
          name: `${failingKey}.bpmn`,
          xml: bpmn(
            failingKey,
            `<bpmn:startEvent id="start" />
            <bpmn:endEvent id="boom"><bpmn:errorEventDefinition errorRef="Boom" /></bpmn:endEvent>
            <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="boom" />`,
            '<bpmn:error id="Boom" errorCode="BOOM" />',
          ),
        },
      ]);

      // When an instance runs over two transitions, and another fails on an unhandled error
      const started = await sender.engine.start({ processKey: key });
      const task = await sender.database.knex('user_tasks').where({ instance_id: started.id }).first();
      await sender.engine.completeUserTask(task.id, { approved: true });
      const failed = await sender.engine.start({ processKey: failingKey });
      expect(failed.status).toBe('failed');
      await sender.telemetry.flush();

      // Then every stored span went out by gRPC and the collector holds the same spans
      expect(sender.telemetry.pipeline.stats).toMatchObject({ notExported: 0, dropped: 0, failed: 0 });
      const local = [...(await sender.telemetry.spans.listByInstance(started.id)), ...(await sender.telemetry.spans.listByInstance(failed.id))];
      const arrived = await eventually(async () => {
        const spans = collector.received.flatMap((request) => request.spans).filter((span) => span.serviceName === serviceName);
        return spans.length >= local.length ? spans : null;
      });
      expect(arrived).toHaveLength(local.length);
      expect(arrived.filter((span) => span.traceId === started.trace_id).map((span) => span.name).sort()).toEqual(['approve', 'end', key, 'score', 'start']);
      for (const mine of local) {
        const theirs = arrived.find((span) => span.spanId === mine.spanId)!;
        expect(theirs).toMatchObject({ traceId: mine.traceId, parentSpanId: mine.parentSpanId, name: mine.name, statusCode: mine.statusCode });
        expect(theirs.attributes).toEqual(mine.attributes);
        expect(theirs.startTimeUnixNano).toBe(BigInt(mine.startTime.getTime()) * 1_000_000n);
      }
      const score = arrived.find((span) => span.name === 'score')!;
      expect(score.attributes).toMatchObject({
        'bpmn.process.key': key,
        'bpmn.process.version': 1,
        'bpmn.instance.id': started.id,
        'bpmn.activity.id': 'score',
        'bpmn.activity.type': 'bpmn:ServiceTask',
      });
      const failedRoot = arrived.find((span) => span.spanId === failed.root_span_id)!;
      expect(failedRoot).toMatchObject({ statusCode: 2, parentSpanId: null });
      expect(failedRoot.statusMessage).toContain('BOOM');
      expect(failedRoot.resource).toMatchObject({ 'service.name': serviceName });

      // with the configured headers as gRPC metadata
      const requests = collector.received.filter((request) => request.spans.some((span) => span.serviceName === serviceName));
      expect(requests.every((request) => request.metadata['x-collector-token'] === 's3cret token')).toBe(true);
    } finally {
      await sender.dispose();
    }
    // A whole engine started per case (migrations, export, a gRPC round trip): over 30 s on a loaded machine.
  }, 60_000);
});
