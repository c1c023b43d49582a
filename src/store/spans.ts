import type { Knex } from 'knex';

/** Where a span came from: the engine's own activities, or `POST /v1/traces`. */
export type SpanSource = 'engine' | 'otlp';

/** One finished span, as the span store keeps it. Times are Unix nanoseconds (OTLP's unit). */
export interface SpanRecord {
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  serviceName: string;
  name: string;
  /** OTLP SpanKind: 0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  /** 0 unset, 1 ok, 2 error. */
  statusCode: 0 | 1 | 2;
  statusMessage: string | null;
  attributes: Record<string, unknown>;
  resource: Record<string, unknown>;
  scopeName: string | null;
  events: unknown[] | null;
  links: unknown[] | null;
  instanceId: string | null;
  processKey: string | null;
  processVersion: number | null;
  activityId: string | null;
  source: SpanSource;
}

/** A stored span as read back (times in milliseconds precision, as JS dates carry them). */
export interface StoredSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  serviceName: string;
  name: string;
  kind: number;
  startTime: Date;
  endTime: Date;
  durationMs: number;
  statusCode: number;
  statusMessage: string | null;
  attributes: Record<string, unknown>;
  resource: Record<string, unknown>;
  links: Array<{ traceId: string; spanId: string; attributes?: Record<string, unknown> }>;
  instanceId: string | null;
  processKey: string | null;
  processVersion: number | null;
  activityId: string | null;
  source: SpanSource;
}

/** The small surface other modules (entropy, validator, API) use to write and read spans. */
export interface SpanStore {
  /** Inserts spans in bounded batches; a span already stored (same trace and span id) is skipped. Resolves with how many were new. */
  insertSpans(spans: readonly SpanRecord[]): Promise<number>;
  listByInstance(instanceId: string): Promise<StoredSpan[]>;
  listByTrace(traceId: string): Promise<StoredSpan[]>;
}

export function createSpanStore(knex: Knex): SpanStore {
  return {
    insertSpans: (spans) => insertSpans(knex, spans),
    listByInstance: (instanceId) => listSpans(knex, { instance_id: instanceId }),
    listByTrace: (traceId) => listSpans(knex, { trace_id: traceId }),
  };
}

// 22 columns: 500 rows stay far below PostgreSQL's 65,535 parameters per statement.
const BATCH_ROWS = 500;

export async function insertSpans(knex: Knex, spans: readonly SpanRecord[]): Promise<number> {
  let inserted = 0;
  for (let offset = 0; offset < spans.length; offset += BATCH_ROWS) {
    const rows = spans.slice(offset, offset + BATCH_ROWS).map(toRow);
    const result = await knex('spans').insert(rows).onConflict(['trace_id', 'span_id']).ignore().returning('id');
    inserted += result.length;
  }
  return inserted;
}

async function listSpans(knex: Knex, where: Record<string, string>): Promise<StoredSpan[]> {
  const rows = await knex('spans').where(where).orderBy([{ column: 'start_time' }, { column: 'id' }]);
  return rows.map(fromRow);
}

/**
 * When activities started, from the engine's history: a span that ends in a later
 * transition than the one that started it gets its true start time from here.
 */
export async function findActivityStarts(
  knex: Knex,
  keys: ReadonlyArray<{ instanceId: string; executionId: string }>,
): Promise<Map<string, Date>> {
  const found = new Map<string, Date>();
  if (!keys.length) return found;
  const instanceIds = [...new Set(keys.map((key) => key.instanceId))];
  const executionIds = [...new Set(keys.map((key) => key.executionId))];
  const rows: Array<{ instance_id: string; execution_id: string; at: Date }> = await knex('history')
    .whereIn('instance_id', instanceIds)
    .whereIn('execution_id', executionIds)
    .where({ event: 'start' })
    .groupBy('instance_id', 'execution_id')
    .select('instance_id', 'execution_id')
    .min({ at: 'at' });
  for (const row of rows) found.set(`${row.instance_id}/${row.execution_id}`, new Date(row.at));
  return found;
}

/** Activities of an instance that started and have not ended (for the spans of a cancelled instance). */
export async function findOpenActivities(
  knex: Knex,
  instanceId: string,
): Promise<Array<{ activityId: string; activityType: string | null; activityName: string | null; executionId: string; at: Date; data: Record<string, unknown> | null }>> {
  const rows: Array<Record<string, any>> = await knex('history')
    .where({ instance_id: instanceId })
    .whereIn('event', ['start', 'end', 'discard', 'error'])
    .whereNotNull('execution_id')
    .orderBy('id')
    .select('activity_id', 'activity_type', 'activity_name', 'execution_id', 'event', 'at', 'data');
  const open = new Map<string, Record<string, any>>();
  for (const row of rows) {
    if (row.event === 'start') {
      if (!open.has(row.execution_id)) open.set(row.execution_id, row);
    } else open.delete(row.execution_id);
  }
  return [...open.values()].map((row) => ({
    activityId: row.activity_id,
    activityType: row.activity_type,
    activityName: row.activity_name,
    executionId: row.execution_id,
    at: new Date(row.at),
    data: row.data,
  }));
}

/** The trace of each instance (to link a called instance's span to its caller's trace). */
export async function findTraceIds(knex: Knex, instanceIds: readonly string[]): Promise<Map<string, string>> {
  if (!instanceIds.length) return new Map();
  const rows: Array<{ id: string; trace_id: string | null }> = await knex('process_instances').whereIn('id', [...new Set(instanceIds)]).select('id', 'trace_id');
  return new Map(rows.filter((row) => row.trace_id).map((row) => [row.id, row.trace_id as string]));
}

/** Nanoseconds since the epoch as a PostgreSQL timestamptz literal with microseconds. */
export function nanosToTimestamp(nanos: bigint): string {
  const micros = nanos / 1000n;
  const millis = Number(micros / 1000n);
  const iso = new Date(millis).toISOString(); // 2026-01-01T00:00:00.000Z
  const extra = String(Number(((micros % 1000n) + 1000n) % 1000n)).padStart(3, '0');
  return `${iso.slice(0, -1)}${extra}Z`;
}

function toRow(span: SpanRecord): Record<string, unknown> {
  return {
    trace_id: span.traceId,
    span_id: span.spanId,
    parent_span_id: span.parentSpanId,
    service_name: span.serviceName,
    name: span.name,
    kind: span.kind,
    start_time: nanosToTimestamp(span.startTimeUnixNano),
    end_time: nanosToTimestamp(span.endTimeUnixNano),
    duration_ms: Number(span.endTimeUnixNano - span.startTimeUnixNano) / 1e6,
    status_code: span.statusCode,
    status_message: span.statusMessage,
    attributes: JSON.stringify(span.attributes),
    resource: JSON.stringify(span.resource),
    scope_name: span.scopeName,
    events: span.events?.length ? JSON.stringify(span.events) : null,
    links: span.links?.length ? JSON.stringify(span.links) : null,
    instance_id: span.instanceId,
    process_key: span.processKey,
    process_version: span.processVersion,
    activity_id: span.activityId,
    source: span.source,
  };
}

function fromRow(row: Record<string, any>): StoredSpan {
  return {
    traceId: row.trace_id,
    spanId: row.span_id,
    parentSpanId: row.parent_span_id,
    serviceName: row.service_name,
    name: row.name,
    kind: row.kind,
    startTime: new Date(row.start_time),
    endTime: new Date(row.end_time),
    durationMs: Number(row.duration_ms),
    statusCode: row.status_code,
    statusMessage: row.status_message,
    attributes: row.attributes ?? {},
    resource: row.resource ?? {},
    links: row.links ?? [],
    instanceId: row.instance_id,
    processKey: row.process_key,
    processVersion: row.process_version,
    activityId: row.activity_id,
    source: row.source,
  };
}
