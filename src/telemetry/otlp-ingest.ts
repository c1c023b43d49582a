import protobuf from 'protobufjs';
import { z } from 'zod';
import { AppError } from '../errors.js';
import type { SpanRecord } from '../store/spans.js';

/** Messages every OTLP signal shares (opentelemetry/proto/{common,resource}/v1). */
export const OTLP_COMMON_PROTO = `
syntax = "proto3";
package otlp;
message AnyValue {
  oneof value {
    string string_value = 1; bool bool_value = 2; int64 int_value = 3; double double_value = 4;
    ArrayValue array_value = 5; KeyValueList kvlist_value = 6; bytes bytes_value = 7;
  }
}
message ArrayValue { repeated AnyValue values = 1; }
message KeyValueList { repeated KeyValue values = 1; }
message KeyValue { string key = 1; AnyValue value = 2; }
message InstrumentationScope { string name = 1; string version = 2; repeated KeyValue attributes = 3; uint32 dropped_attributes_count = 4; }
message Resource { repeated KeyValue attributes = 1; uint32 dropped_attributes_count = 2; }
`;

/**
 * The part of the OTLP proto definitions (opentelemetry/proto/{common,resource,trace,
 * collector/trace}/v1) that a trace export carries, field numbers as published. SpanKind
 * and status code are enums on the wire, read here as int32 (the same varint).
 */
const OTLP_TRACE_PROTO = `${OTLP_COMMON_PROTO}
message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; string schema_url = 3; }
message ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; string schema_url = 3; }
message Span {
  bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; bytes parent_span_id = 4; fixed32 flags = 16;
  string name = 5; int32 kind = 6; fixed64 start_time_unix_nano = 7; fixed64 end_time_unix_nano = 8;
  repeated KeyValue attributes = 9; uint32 dropped_attributes_count = 10;
  repeated Event events = 11; uint32 dropped_events_count = 12;
  repeated Link links = 13; uint32 dropped_links_count = 14; Status status = 15;
  message Event { fixed64 time_unix_nano = 1; string name = 2; repeated KeyValue attributes = 3; uint32 dropped_attributes_count = 4; }
  message Link { bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; repeated KeyValue attributes = 4; uint32 dropped_attributes_count = 5; fixed32 flags = 6; }
}
message Status { string message = 2; int32 code = 3; }
message ExportTracePartialSuccess { int64 rejected_spans = 1; string error_message = 2; }
message ExportTraceServiceResponse { ExportTracePartialSuccess partial_success = 1; }
`;

const root = protobuf.parse(OTLP_TRACE_PROTO).root;
const RequestType = root.lookupType('otlp.ExportTraceServiceRequest');
const ResponseType = root.lookupType('otlp.ExportTraceServiceResponse');

// ------------------------------------------------------------------ the decoded shape (OTLP/JSON)

export const Nanos = z.union([z.string().regex(/^\d{1,20}$/, 'must be unsigned nanoseconds'), z.number().int().nonnegative()]);
const TraceId = z.string().regex(/^[0-9a-fA-F]{32}$/, 'must be 32 hex digits').refine((id) => !/^0+$/.test(id), 'must not be all zeros');
const SpanId = z.string().regex(/^[0-9a-fA-F]{16}$/, 'must be 16 hex digits').refine((id) => !/^0+$/.test(id), 'must not be all zeros');

export interface AnyValueShape {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string | number;
  doubleValue?: number | string;
  arrayValue?: { values?: AnyValueShape[] };
  kvlistValue?: { values?: KeyValueShape[] };
  bytesValue?: string;
}
export interface KeyValueShape {
  key: string;
  value?: AnyValueShape;
}
const AnyValue: z.ZodType<AnyValueShape> = z.lazy(() =>
  z.looseObject({
    stringValue: z.string().optional(),
    boolValue: z.boolean().optional(),
    intValue: z.union([z.string().regex(/^-?\d+$/), z.number().int()]).optional(),
    doubleValue: z.union([z.number(), z.enum(['NaN', 'Infinity', '-Infinity'])]).optional(),
    arrayValue: z.looseObject({ values: z.array(AnyValue).optional() }).optional(),
    kvlistValue: z.looseObject({ values: z.array(KeyValue).optional() }).optional(),
    bytesValue: z.string().optional(),
  }),
);
const KeyValue: z.ZodType<KeyValueShape> = z.lazy(() => z.looseObject({ key: z.string().max(1024), value: AnyValue.optional() }));
export const Attributes = z.array(KeyValue).max(1000).default([]);

const SpanSchema = z
  .looseObject({
    traceId: TraceId,
    spanId: SpanId,
    parentSpanId: z.union([SpanId, z.literal('')]).optional(),
    name: z.string().min(1).max(1024),
    kind: z.number().int().min(0).max(5).default(0),
    startTimeUnixNano: Nanos,
    endTimeUnixNano: Nanos,
    attributes: Attributes,
    events: z
      .array(z.looseObject({ timeUnixNano: Nanos.optional(), name: z.string().default(''), attributes: Attributes }))
      .max(1000)
      .default([]),
    links: z
      .array(z.looseObject({ traceId: TraceId, spanId: SpanId, attributes: Attributes }))
      .max(1000)
      .default([]),
    status: z.looseObject({ code: z.number().int().min(0).max(2).default(0), message: z.string().optional() }).optional(),
  })
  .refine((span) => BigInt(span.endTimeUnixNano) >= BigInt(span.startTimeUnixNano), 'endTimeUnixNano is before startTimeUnixNano');

/** The envelope is checked strictly; each span on its own, so one bad span is a partial success. */
const RequestSchema = z.looseObject({
  resourceSpans: z
    .array(
      z.looseObject({
        resource: z.looseObject({ attributes: Attributes }).optional(),
        scopeSpans: z
          .array(
            z.looseObject({
              scope: z.looseObject({ name: z.string().optional(), version: z.string().optional() }).optional(),
              spans: z.array(z.unknown()).default([]),
            }),
          )
          .default([]),
      }),
    )
    .default([]),
});

export interface IngestResult {
  spans: SpanRecord[];
  rejected: number;
  errorMessage: string | null;
}

export type OtlpEncoding = 'json' | 'protobuf';

/** Decodes an ExportTraceServiceRequest (OTLP/JSON object or protobuf bytes) into span records. */
export function decodeTraceRequest(body: unknown, encoding: OtlpEncoding): IngestResult {
  const json = encoding === 'protobuf' ? protobufToJson(body) : (body ?? {});
  const request = RequestSchema.parse(json);
  const spans: SpanRecord[] = [];
  let rejected = 0;
  let errorMessage: string | null = null;
  for (const resourceSpans of request.resourceSpans) {
    const resource = flatten(resourceSpans.resource?.attributes ?? []);
    const serviceName = typeof resource['service.name'] === 'string' && resource['service.name'] ? resource['service.name'] : 'unknown_service';
    const scopes = resourceSpans.scopeSpans;
    for (const scopeSpans of scopes) {
      for (const [index, candidate] of scopeSpans.spans.entries()) {
        const parsed = SpanSchema.safeParse(candidate);
        if (!parsed.success) {
          rejected++;
          errorMessage ??= `span ${index} of scope '${scopeSpans.scope?.name ?? ''}': ${parsed.error.issues
            .map((issue) => `${issue.path.join('.') || '(span)'}: ${issue.message}`)
            .join('; ')}`;
          continue;
        }
        spans.push(toRecord(parsed.data, serviceName, resource, scopeSpans.scope?.name ?? null));
      }
    }
  }
  return { spans, rejected, errorMessage };
}

/** The ExportTraceServiceResponse, in the encoding of the request. */
export function encodeTraceResponse(result: { rejected: number; errorMessage: string | null }, encoding: OtlpEncoding): Buffer | object {
  const partialSuccess = result.rejected ? { rejectedSpans: String(result.rejected), errorMessage: result.errorMessage ?? '' } : undefined;
  if (encoding === 'json') return partialSuccess ? { partialSuccess } : {};
  const message = ResponseType.fromObject(partialSuccess ? { partialSuccess } : {});
  return Buffer.from(ResponseType.encode(message).finish());
}

/** Encodes an ExportTraceServiceRequest given as protobufjs objects (ids as bytes), for clients, tests and benchmarks. */
export function encodeTraceRequest(request: object): Buffer {
  return Buffer.from(RequestType.encode(RequestType.fromObject(request)).finish());
}

/** Decodes the protobuf ExportTraceServiceResponse (for clients and tests). */
export function decodeTraceResponse(bytes: Uint8Array): { partialSuccess?: { rejectedSpans?: string; errorMessage?: string } } {
  return ResponseType.toObject(ResponseType.decode(bytes), { longs: String }) as never;
}

function protobufToJson(body: unknown): unknown {
  if (!Buffer.isBuffer(body)) throw new AppError('VALIDATION_FAILED', 'expected a protobuf ExportTraceServiceRequest body');
  let message: protobuf.Message;
  try {
    message = RequestType.decode(body);
  } catch (error) {
    throw new AppError('VALIDATION_FAILED', `the body is not a protobuf ExportTraceServiceRequest: ${(error as Error).message}`);
  }
  const object = RequestType.toObject(message, { longs: String, bytes: Array, defaults: false, arrays: true });
  return idsToHex(object);
}

/** Protobuf carries ids as bytes and byte values as bytes; OTLP/JSON as hex ids and base64 values. */
function idsToHex(value: unknown, key = ''): unknown {
  if (Array.isArray(value)) {
    if (key === 'traceId' || key === 'spanId' || key === 'parentSpanId') return Buffer.from(value as number[]).toString('hex');
    if (key === 'bytesValue') return Buffer.from(value as number[]).toString('base64');
    return value.map((item) => idsToHex(item));
  }
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([name, item]) => [name, idsToHex(item, name)]));
  }
  return value;
}

type Span = z.infer<typeof SpanSchema>;

function toRecord(span: Span, serviceName: string, resource: Record<string, unknown>, scopeName: string | null): SpanRecord {
  const attributes = flatten(span.attributes);
  const instanceId = attributes['bpmn.instance.id'];
  const version = attributes['bpmn.process.version'];
  return {
    traceId: span.traceId.toLowerCase(),
    spanId: span.spanId.toLowerCase(),
    parentSpanId: span.parentSpanId ? span.parentSpanId.toLowerCase() : null,
    serviceName,
    name: clean(span.name),
    kind: span.kind,
    startTimeUnixNano: BigInt(span.startTimeUnixNano),
    endTimeUnixNano: BigInt(span.endTimeUnixNano),
    statusCode: (span.status?.code ?? 0) as 0 | 1 | 2,
    statusMessage: span.status?.message ? clean(span.status.message) : null,
    attributes,
    resource,
    scopeName,
    events: span.events.map((event) => ({ name: clean(event.name), timeUnixNano: event.timeUnixNano !== undefined ? String(event.timeUnixNano) : null, attributes: flatten(event.attributes) })),
    links: span.links.map((link) => ({ traceId: link.traceId.toLowerCase(), spanId: link.spanId.toLowerCase(), attributes: flatten(link.attributes) })),
    // Spans of BPMN processes (from another regenflow, say) keep their instance columns.
    instanceId: typeof instanceId === 'string' && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(instanceId) ? instanceId : null,
    processKey: typeof attributes['bpmn.process.key'] === 'string' ? attributes['bpmn.process.key'] : null,
    processVersion: typeof version === 'number' && Number.isInteger(version) && Math.abs(version) < 2 ** 31 ? version : null,
    activityId: typeof attributes['bpmn.activity.id'] === 'string' ? attributes['bpmn.activity.id'] : null,
    source: 'otlp',
  };
}

/** OTLP attributes as a plain JSON object (what the span store keeps and SQL reads). */
export function flatten(attributes: readonly KeyValueShape[]): Record<string, unknown> {
  const object: Record<string, unknown> = {};
  for (const { key, value } of attributes) object[clean(key)] = plain(value);
  return object;
}

function plain(value: AnyValueShape | undefined): unknown {
  if (!value) return null;
  if (value.stringValue !== undefined) return clean(value.stringValue);
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.intValue !== undefined) {
    const big = BigInt(value.intValue);
    return big <= BigInt(Number.MAX_SAFE_INTEGER) && big >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(big) : big.toString();
  }
  if (value.doubleValue !== undefined) return typeof value.doubleValue === 'number' ? value.doubleValue : String(value.doubleValue);
  if (value.arrayValue) return (value.arrayValue.values ?? []).map(plain);
  if (value.kvlistValue) return flatten(value.kvlistValue.values ?? []);
  if (value.bytesValue !== undefined) return value.bytesValue;
  return null;
}

/** PostgreSQL text and jsonb cannot hold NUL characters: they are dropped. */
export function clean(text: string): string {
  return text.includes('\u0000') ? text.replaceAll('\u0000', '') : text;
}
