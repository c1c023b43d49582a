import type { Knex } from 'knex';
import type { CommittedTransition, ExternalTaskFailureReport } from '../engine/types.js';
import type { WorkflowEngine } from '../engine/workflow-engine.js';
import { createSpanStore, findActivityStarts, findOpenActivities, findTraceIds, type SpanStore } from '../store/spans.js';
import { createOtlpSpanExporter, engineResource, resolveOtlpSettings, type OtelEnvironment, type OtlpSettings } from './otlp-export.js';
import { SpanPipeline } from './span-pipeline.js';
import { spanOfExternalTaskFailure, spansOfTransition } from './transition-tracer.js';

export { activitySpanId, spanOfExternalTaskFailure, spansOfTransition, type PendingSpan } from './transition-tracer.js';
export { SpanPipeline, type SpanPipelineStats } from './span-pipeline.js';
export { resolveOtlpSettings, toReadableSpan, type OtelEnvironment, type OtlpSettings } from './otlp-export.js';
export { decodeTraceRequest, type IngestResult } from './otlp-ingest.js';
export type { SpanRecord, SpanStore, StoredSpan } from '../store/spans.js';

export interface TelemetryOptions {
  engine: WorkflowEngine;
  knex: Knex;
  env: OtelEnvironment;
  /** service.instance.id of the engine's spans. */
  nodeId: string;
  /** Spans waiting to be written before new ones are dropped. @default 20000 */
  maxQueue?: number;
  log: (line: string) => void;
}

export interface Telemetry {
  readonly spans: SpanStore;
  readonly pipeline: SpanPipeline;
  /** Where spans are exported by OTLP, or null. */
  readonly otlp: OtlpSettings | null;
  readonly serviceName: string;
  /** Writes every span derived so far (tests, shutdown). */
  flush(): Promise<void>;
  close(): Promise<void>;
}

const SCOPE = { name: 'regenflow', version: '0.1.0' };

/**
 * Engine tracing: one listener on the engine's committed transitions (the interceptor),
 * the span pipeline it feeds, the span store and the OTLP exporter.
 */
export function createTelemetry(options: TelemetryOptions): Telemetry {
  const otlp = resolveOtlpSettings(options.env, options.log);
  const { resource, serviceName } = engineResource(options.env, { 'service.instance.id': options.nodeId, 'service.version': SCOPE.version });
  const spans = createSpanStore(options.knex);
  const pipeline = new SpanPipeline({
    sink: {
      insertSpans: spans.insertSpans,
      findActivityStarts: (keys) => findActivityStarts(options.knex, keys),
      findTraceIds: (instanceIds) => findTraceIds(options.knex, instanceIds),
      findOpenActivities: (instanceId) => findOpenActivities(options.knex, instanceId),
    },
    exporter: otlp ? createOtlpSpanExporter(otlp) : null,
    resource,
    serviceName,
    scope: SCOPE,
    maxQueue: options.maxQueue,
    log: options.log,
  });
  const onCommitted = (commit: CommittedTransition) => {
    // Runs right after a commit, on the caller's stack: it must never throw into the engine.
    try {
      pipeline.enqueue(spansOfTransition(commit));
    } catch (error) {
      options.log(`tracing a transition of ${commit.instance.id} failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  };
  const onTaskFailed = (report: ExternalTaskFailureReport) => {
    try {
      pipeline.enqueue(spanOfExternalTaskFailure(report));
    } catch (error) {
      options.log(`tracing a failure of external task ${report.taskId} failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  };
  options.engine.on('transition.outcome', onCommitted);
  options.engine.on('external-task.failed', onTaskFailed);
  if (otlp) options.log(`exporting spans by OTLP (${otlp.protocol}) to ${otlp.url}`);
  return {
    spans,
    pipeline,
    otlp,
    serviceName,
    flush: () => pipeline.flush(),
    async close() {
      options.engine.off('transition.outcome', onCommitted);
      options.engine.off('external-task.failed', onTaskFailed);
      await pipeline.shutdown();
    },
  };
}
