import { createHash } from 'node:crypto';
import type { CommittedTransition, ExternalTaskFailureReport, HistoryEntry } from '../engine/types.js';

/** A span derived from a committed transition; its start may still have to be read from history. */
export interface PendingSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  name: string;
  /** Known when the activity started in the same transition (or for the instance span). */
  start?: Date;
  /** Where to find the start when it is not known: the activity's history row. */
  startOf?: { instanceId: string; executionId: string };
  end: Date;
  statusCode: 0 | 1 | 2;
  statusMessage: string | null;
  attributes: Record<string, string | number | boolean>;
  instanceId: string;
  processKey: string;
  processVersion: number | null;
  activityId: string | null;
  activityType: string | null;
  /** Drop the span when no start is found (a discard of an activity that never started). */
  requireStart?: boolean;
  /** A placeholder for the spans of every activity still open when the instance was ended from outside (cancel). */
  openActivities?: boolean;
  /** A link to a span of another instance's trace (a called instance to its call activity). */
  linkTo?: { instanceId: string; spanId: string; attributes: Record<string, string> };
}

/** The span id of one activity execution: stable, so a span re-derived anywhere is the same span. */
export function activitySpanId(instanceId: string, executionId: string, attempt = ''): string {
  const id = createHash('sha256').update(`${instanceId}/${executionId}${attempt ? `/${attempt}` : ''}`).digest('hex').slice(0, 16);
  return id === '0000000000000000' ? '0000000000000001' : id;
}

/**
 * Tracing as one interceptor: every committed transition is turned into the spans of the
 * activities that ended in it (with their true start times, which may lie in an earlier
 * transition on another node), under the trace stored with the instance; the instance
 * span follows when the instance ends. Nothing here runs inside the transition.
 */
export function spansOfTransition(commit: CommittedTransition): PendingSpan[] {
  const { instance, outcome } = commit;
  if (!instance.trace_id || !instance.root_span_id) return [];
  const traceId = instance.trace_id;
  const rootSpanId = instance.root_span_id;
  const processVersion = versionOf(instance.definition_id);
  const common = instanceAttributes(instance, processVersion);
  const spans: PendingSpan[] = [];
  const history = outcome?.history ?? [];
  const starts = new Map<string, Date>();
  for (const entry of history) {
    if (entry.event === 'start' && entry.executionId && !starts.has(entry.executionId)) starts.set(entry.executionId, entry.at);
  }

  const activitySpan = (entry: HistoryEntry, spanId: string, status: string, error: string | null): PendingSpan => {
    const executionId = entry.executionId as string;
    const parentExecutionId = typeof entry.data?.parentExecutionId === 'string' ? entry.data.parentExecutionId : null;
    const start = starts.get(executionId);
    return {
      traceId,
      spanId,
      parentSpanId: parentExecutionId ? activitySpanId(instance.id, parentExecutionId) : rootSpanId,
      name: entry.activityId as string,
      ...(start ? { start } : { startOf: { instanceId: instance.id, executionId } }),
      end: entry.at,
      statusCode: error ? 2 : 0,
      statusMessage: error,
      attributes: {
        ...common,
        'bpmn.activity.id': entry.activityId as string,
        'bpmn.activity.type': entry.activityType ?? 'unknown',
        ...(entry.activityName && { 'bpmn.activity.name': entry.activityName }),
        'bpmn.execution.id': executionId,
        status,
        ...(error && { error }),
      },
      instanceId: instance.id,
      processKey: instance.process_key,
      processVersion,
      activityId: entry.activityId ?? null,
      activityType: entry.activityType ?? null,
    };
  };

  for (const entry of history) {
    if (!entry.activityId || !entry.executionId) continue;
    if (entry.event === 'end') {
      spans.push(activitySpan(entry, activitySpanId(instance.id, entry.executionId), 'completed', null));
    } else if (entry.event === 'error') {
      const code = typeof entry.data?.errorCode === 'string' ? `${entry.data.errorCode}: ` : '';
      spans.push(activitySpan(entry, activitySpanId(instance.id, entry.executionId), 'error', `${code}${String(entry.data?.error ?? 'error')}`));
    } else if (entry.event === 'interrupt') {
      spans.push(activitySpan(entry, activitySpanId(instance.id, entry.executionId), 'interrupted', null));
    } else if (entry.event === 'discard' && entry.activityType !== 'bpmn:BoundaryEvent') {
      // Only activities that had started: a discarded path that never ran has no span.
      spans.push({ ...activitySpan(entry, activitySpanId(instance.id, entry.executionId), 'discarded', null), requireStart: true });
    }
  }

  // A failed inline handler parks its activity with an incident: the failed attempt is an error span.
  for (const failure of outcome?.handlerFailures ?? []) {
    const at = instance.updated_at ? new Date(instance.updated_at) : new Date();
    const entry: HistoryEntry = { activityId: failure.activityId, executionId: failure.executionId, event: 'failure', at };
    const type = history.find((item) => item.executionId === failure.executionId)?.activityType;
    const span = activitySpan({ ...entry, activityType: type }, activitySpanId(instance.id, failure.executionId, `failure@${at.getTime()}`), 'failed', `${failure.topic}: ${failure.message}`);
    spans.push({ ...span, attributes: { ...span.attributes, 'bpmn.incident': true } });
  }

  // Cancelled from outside the engine run, or failed by an unhandled BPMN error: the activities
  // that were open (the scopes around the throw, parallel waits) end with the instance.
  if ((!outcome && instance.status !== 'active') || instance.status === 'failed') {
    spans.push({
      traceId,
      spanId: rootSpanId,
      parentSpanId: rootSpanId,
      name: '(open activities)',
      end: instance.ended_at ? new Date(instance.ended_at) : new Date(),
      statusCode: 0,
      statusMessage: null,
      attributes: { ...common, status: instance.status },
      instanceId: instance.id,
      processKey: instance.process_key,
      processVersion,
      activityId: null,
      activityType: null,
      openActivities: true,
    });
  }

  if (instance.status !== 'active') {
    const error = instance.status === 'failed' ? (instance.error_message ?? 'failed') : null;
    spans.push({
      traceId,
      spanId: rootSpanId,
      parentSpanId: null,
      name: instance.process_key,
      start: new Date(instance.started_at),
      end: instance.ended_at ? new Date(instance.ended_at) : new Date(),
      statusCode: error ? 2 : 0,
      statusMessage: error,
      attributes: {
        ...common,
        status: instance.status,
        ...(error && { error }),
        ...(instance.status === 'cancelled' && instance.error_message && { 'bpmn.cancel.reason': instance.error_message }),
        ...(instance.parent_instance_id && { 'bpmn.parent.instance.id': instance.parent_instance_id }),
        ...(instance.parent_execution_id && { 'bpmn.parent.execution.id': instance.parent_execution_id }),
      },
      instanceId: instance.id,
      processKey: instance.process_key,
      processVersion,
      activityId: null,
      activityType: null,
      ...(instance.parent_instance_id &&
        instance.parent_execution_id && {
          linkTo: {
            instanceId: instance.parent_instance_id,
            spanId: activitySpanId(instance.parent_instance_id, instance.parent_execution_id),
            attributes: { 'bpmn.link': 'called-by' },
          },
        }),
    });
  }
  return spans;
}

function instanceAttributes(instance: CommittedTransition['instance'], processVersion: number | null): Record<string, string | number> {
  return {
    'bpmn.process.key': instance.process_key,
    ...(processVersion !== null && { 'bpmn.process.version': processVersion }),
    'bpmn.instance.id': instance.id,
    ...(instance.business_key && { 'bpmn.business.key': instance.business_key }),
  };
}

/**
 * The failed attempt a worker reported on an external task: an error span under the task's
 * parent, like a failed inline handler's (`handlerFailures` above), with the retries left and
 * `bpmn.incident` when none are (the report raised an incident). The task's own span follows
 * when it finally ends; each failed attempt is a span of its own.
 */
export function spanOfExternalTaskFailure(report: ExternalTaskFailureReport): PendingSpan[] {
  const { instance } = report;
  if (!instance.trace_id || !instance.root_span_id) return [];
  const processVersion = versionOf(instance.definition_id);
  const error = `${report.topic}: ${report.errorMessage ?? 'external task failed'}`;
  return [
    {
      traceId: instance.trace_id,
      spanId: activitySpanId(instance.id, report.executionId, `failure@${report.reportedAt.getTime()}`),
      parentSpanId: report.parentExecutionId ? activitySpanId(instance.id, report.parentExecutionId) : instance.root_span_id,
      name: report.activityId,
      ...(report.attemptStartedAt ? { start: report.attemptStartedAt } : { startOf: { instanceId: instance.id, executionId: report.executionId } }),
      end: report.reportedAt,
      statusCode: 2,
      statusMessage: error,
      attributes: {
        ...instanceAttributes(instance, processVersion),
        'bpmn.activity.id': report.activityId,
        'bpmn.activity.type': report.activityType ?? 'unknown',
        'bpmn.execution.id': report.executionId,
        'bpmn.external_task.id': report.taskId,
        'bpmn.external_task.topic': report.topic,
        'bpmn.external_task.worker_id': report.workerId,
        'bpmn.external_task.retries': report.retries,
        status: 'failed',
        error,
        ...(report.retries === 0 && { 'bpmn.incident': true }),
      },
      instanceId: instance.id,
      processKey: instance.process_key,
      processVersion,
      activityId: report.activityId,
      activityType: report.activityType,
    },
  ];
}

/** The spans of the activities still open when an instance was ended from outside, from their start rows. */
export function openActivitySpans(
  placeholder: PendingSpan,
  open: ReadonlyArray<{ activityId: string; activityType: string | null; activityName: string | null; executionId: string; at: Date; data: Record<string, unknown> | null }>,
): PendingSpan[] {
  return open.map((activity) => {
    const parentExecutionId = typeof activity.data?.parentExecutionId === 'string' ? activity.data.parentExecutionId : null;
    return {
      ...placeholder,
      openActivities: false,
      spanId: activitySpanId(placeholder.instanceId, activity.executionId),
      parentSpanId: parentExecutionId ? activitySpanId(placeholder.instanceId, parentExecutionId) : placeholder.parentSpanId,
      name: activity.activityId,
      start: activity.at,
      attributes: {
        ...placeholder.attributes,
        'bpmn.activity.id': activity.activityId,
        'bpmn.activity.type': activity.activityType ?? 'unknown',
        ...(activity.activityName && { 'bpmn.activity.name': activity.activityName }),
        'bpmn.execution.id': activity.executionId,
      },
      activityId: activity.activityId,
      activityType: activity.activityType,
    };
  });
}

/** Definition ids are `<key>:<version>:<short id>` (as Camunda 7 names them). */
function versionOf(definitionId: string): number | null {
  const parts = definitionId.split(':');
  const version = Number(parts[parts.length - 2]);
  return Number.isInteger(version) ? version : null;
}
