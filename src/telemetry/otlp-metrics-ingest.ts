import { createHash } from 'node:crypto';
import type { IExportMetricsServiceResponse } from '@opentelemetry/otlp-transformer';
import protobuf from 'protobufjs';
import { z } from 'zod';
import { AppError } from '../errors.js';
import { ENGINE_SYSTEM_PREFIX } from '../engine/types.js';
import type { MetricPointRecord } from '../store/metric-points.js';
import { Attributes, clean, flatten, Nanos, OTLP_COMMON_PROTO, type OtlpEncoding } from './otlp-ingest.js';

/**
 * The part of opentelemetry/proto/{metrics,collector/metrics}/v1 that a metrics export
 * carries, field numbers as published. Exemplars are not read (protobuf skips the field);
 * AggregationTemporality is an enum on the wire, read as int32.
 */
const OTLP_METRICS_PROTO = `${OTLP_COMMON_PROTO}
message ExportMetricsServiceRequest { repeated ResourceMetrics resource_metrics = 1; }
message ResourceMetrics { Resource resource = 1; repeated ScopeMetrics scope_metrics = 2; string schema_url = 3; }
message ScopeMetrics { InstrumentationScope scope = 1; repeated Metric metrics = 2; string schema_url = 3; }
message Metric {
  string name = 1; string description = 2; string unit = 3;
  oneof data { Gauge gauge = 5; Sum sum = 7; Histogram histogram = 9; ExponentialHistogram exponential_histogram = 10; Summary summary = 11; }
  repeated KeyValue metadata = 12;
}
message Gauge { repeated NumberDataPoint data_points = 1; }
message Sum { repeated NumberDataPoint data_points = 1; int32 aggregation_temporality = 2; bool is_monotonic = 3; }
message Histogram { repeated HistogramDataPoint data_points = 1; int32 aggregation_temporality = 2; }
message ExponentialHistogram { repeated ExponentialHistogramDataPoint data_points = 1; int32 aggregation_temporality = 2; }
message Summary { repeated SummaryDataPoint data_points = 1; }
message NumberDataPoint {
  repeated KeyValue attributes = 7; fixed64 start_time_unix_nano = 2; fixed64 time_unix_nano = 3;
  oneof value { double as_double = 4; sfixed64 as_int = 6; }
  uint32 flags = 8;
}
message HistogramDataPoint {
  repeated KeyValue attributes = 9; fixed64 start_time_unix_nano = 2; fixed64 time_unix_nano = 3;
  fixed64 count = 4; optional double sum = 5; repeated fixed64 bucket_counts = 6; repeated double explicit_bounds = 7;
  uint32 flags = 10; optional double min = 11; optional double max = 12;
}
message ExponentialHistogramDataPoint {
  repeated KeyValue attributes = 1; fixed64 start_time_unix_nano = 2; fixed64 time_unix_nano = 3;
  fixed64 count = 4; optional double sum = 5; sint32 scale = 6; fixed64 zero_count = 7;
  uint32 flags = 10; optional double min = 12; optional double max = 13;
}
message SummaryDataPoint {
  repeated KeyValue attributes = 7; fixed64 start_time_unix_nano = 2; fixed64 time_unix_nano = 3;
  fixed64 count = 4; double sum = 5; uint32 flags = 8;
}
message ExportMetricsPartialSuccess { int64 rejected_data_points = 1; string error_message = 2; }
message ExportMetricsServiceResponse { ExportMetricsPartialSuccess partial_success = 1; }
`;

const root = protobuf.parse(OTLP_METRICS_PROTO).root;
const RequestType = root.lookupType('otlp.ExportMetricsServiceRequest');
const ResponseType = root.lookupType('otlp.ExportMetricsServiceResponse');

// ------------------------------------------------------------------ the decoded shape (OTLP/JSON)

const Double = z.union([z.number(), z.enum(['NaN', 'Infinity', '-Infinity'])]);
const Count = z.union([z.string().regex(/^\d{1,20}$/), z.number().int().nonnegative()]);
/** OTLP/JSON writes enums as integers; names are accepted too. */
const Temporality = z
  .union([z.number().int().min(0).max(2), z.enum(['AGGREGATION_TEMPORALITY_UNSPECIFIED', 'AGGREGATION_TEMPORALITY_DELTA', 'AGGREGATION_TEMPORALITY_CUMULATIVE'])])
  .transform((value) => (typeof value === 'number' ? value : ['AGGREGATION_TEMPORALITY_UNSPECIFIED', 'AGGREGATION_TEMPORALITY_DELTA', 'AGGREGATION_TEMPORALITY_CUMULATIVE'].indexOf(value)))
  .default(0);

const PointBase = {
  attributes: Attributes,
  startTimeUnixNano: Nanos.optional(),
  timeUnixNano: Nanos,
};
const NumberPoint = z
  .looseObject({ ...PointBase, asDouble: Double.optional(), asInt: z.union([z.string().regex(/^-?\d+$/), z.number().int()]).optional() })
  .refine((point) => point.asDouble !== undefined || point.asInt !== undefined, 'a number data point needs asDouble or asInt');
const HistogramPoint = z.looseObject({
  ...PointBase,
  count: Count.default(0),
  sum: Double.optional(),
  min: Double.optional(),
  max: Double.optional(),
  bucketCounts: z.array(Count).max(1000).default([]),
  explicitBounds: z.array(Double).max(1000).default([]),
});
const SummaryPoint = z.looseObject({ ...PointBase, count: Count.default(0), sum: Double.optional() });

const MetricSchema = z.looseObject({
  name: z.string().min(1).max(255),
  unit: z.string().max(255).default(''),
  gauge: z.looseObject({ dataPoints: z.array(z.unknown()).default([]) }).optional(),
  sum: z.looseObject({ dataPoints: z.array(z.unknown()).default([]), aggregationTemporality: Temporality, isMonotonic: z.boolean().default(false) }).optional(),
  histogram: z.looseObject({ dataPoints: z.array(z.unknown()).default([]), aggregationTemporality: Temporality }).optional(),
  exponentialHistogram: z.looseObject({ dataPoints: z.array(z.unknown()).default([]), aggregationTemporality: Temporality }).optional(),
  summary: z.looseObject({ dataPoints: z.array(z.unknown()).default([]) }).optional(),
});

/** The envelope is checked strictly; each metric and data point on its own, so one bad point is a partial success. */
const RequestSchema = z.looseObject({
  resourceMetrics: z
    .array(
      z.looseObject({
        resource: z.looseObject({ attributes: Attributes }).optional(),
        scopeMetrics: z
          .array(
            z.looseObject({
              scope: z.looseObject({ name: z.string().optional(), version: z.string().optional() }).optional(),
              metrics: z.array(z.unknown()).default([]),
            }),
          )
          .default([]),
      }),
    )
    .default([]),
});

export interface MetricsIngestResult {
  points: MetricPointRecord[];
  rejected: number;
  errorMessage: string | null;
}

/** Decodes an ExportMetricsServiceRequest (OTLP/JSON object or protobuf bytes) into data point records. */
export function decodeMetricsRequest(body: unknown, encoding: OtlpEncoding): MetricsIngestResult {
  const json = encoding === 'protobuf' ? protobufToJson(body) : (body ?? {});
  const request = RequestSchema.parse(json);
  const points: MetricPointRecord[] = [];
  let rejected = 0;
  let errorMessage: string | null = null;
  const reject = (count: number, where: string, error: z.ZodError) => {
    rejected += count;
    errorMessage ??= `${where}: ${error.issues.map((issue) => `${issue.path.join('.') || '(point)'}: ${issue.message}`).join('; ')}`;
  };
  for (const resourceMetrics of request.resourceMetrics) {
    const resource = flatten(resourceMetrics.resource?.attributes ?? []);
    const serviceName = typeof resource['service.name'] === 'string' && resource['service.name'] ? resource['service.name'] : 'unknown_service';
    // regenflow/<key> is one of regenflow's own processes, judged from the engine's spans only:
    // metrics claiming that name would let a telemetry token steer its self-healing (rollbacks, resets).
    if (serviceName.startsWith(ENGINE_SYSTEM_PREFIX)) {
      rejected += resourceMetrics.scopeMetrics.reduce((total, scope) => total + scope.metrics.reduce<number>((sum, metric) => sum + dataPointsOf(metric), 0), 0);
      errorMessage ??= `service.name '${serviceName}': names under '${ENGINE_SYSTEM_PREFIX}' are regenflow's own processes, measured from its engine's spans; metrics for them are not accepted`;
      continue;
    }
    // The producer's identity beyond its service: replicas (service.instance.id, host.name, …)
    // are separate series, or their cumulative counters would be differenced into each other.
    const producer = sortedEntries(Object.fromEntries(Object.entries(resource).filter(([key]) => key !== 'service.name')));
    for (const scopeMetrics of resourceMetrics.scopeMetrics) {
      const scopeName = scopeMetrics.scope?.name ? clean(scopeMetrics.scope.name) : null;
      const scopeVersion = scopeMetrics.scope?.version ? clean(scopeMetrics.scope.version) : null;
      for (const [index, candidate] of scopeMetrics.metrics.entries()) {
        const parsed = MetricSchema.safeParse(candidate);
        if (!parsed.success) {
          reject(dataPointsOf(candidate), `metric ${index} of scope '${scopeName ?? ''}'`, parsed.error);
          continue;
        }
        const metric = parsed.data;
        const base = { serviceName, name: clean(metric.name), unit: clean(metric.unit), scopeName, series: [producer, scopeName, scopeVersion] };
        const each = <T>(raw: unknown[], schema: z.ZodType<T>, build: (point: T) => MetricPointRecord) => {
          for (const [pointIndex, rawPoint] of raw.entries()) {
            const point = schema.safeParse(rawPoint);
            if (point.success) points.push(build(point.data));
            else reject(1, `data point ${pointIndex} of metric '${base.name}'`, point.error);
          }
        };
        if (metric.gauge) {
          each(metric.gauge.dataPoints, NumberPoint, (point) => numberRecord(base, 'gauge', null, 0, point));
        } else if (metric.sum) {
          const { aggregationTemporality, isMonotonic } = metric.sum;
          each(metric.sum.dataPoints, NumberPoint, (point) => numberRecord(base, 'sum', isMonotonic, aggregationTemporality, point));
        } else if (metric.histogram) {
          const temporality = metric.histogram.aggregationTemporality;
          each(metric.histogram.dataPoints, HistogramPoint, (point) => ({
            ...countRecord(base, 'histogram', temporality, point),
            min: number(point.min),
            max: number(point.max),
            bucketBounds: point.bucketCounts.length ? point.explicitBounds.map((bound) => number(bound) ?? 0) : null,
            bucketCounts: point.bucketCounts.length ? point.bucketCounts.map(Number) : null,
          }));
        } else if (metric.exponentialHistogram) {
          // Count and sum only: exponential buckets are not kept.
          const temporality = metric.exponentialHistogram.aggregationTemporality;
          each(metric.exponentialHistogram.dataPoints, HistogramPoint, (point) => ({ ...countRecord(base, 'exponential_histogram', temporality, point), min: number(point.min), max: number(point.max) }));
        } else if (metric.summary) {
          // Summaries are cumulative by definition.
          each(metric.summary.dataPoints, SummaryPoint, (point) => countRecord(base, 'summary', 2, point));
        }
        // A metric without data (no known data field) carries no points: nothing to reject.
      }
    }
  }
  return { points, rejected, errorMessage };
}

/** The ExportMetricsServiceResponse, in the encoding of the request. */
export function encodeMetricsResponse(result: { rejected: number; errorMessage: string | null }, encoding: OtlpEncoding): Buffer | IExportMetricsServiceResponse {
  const partialSuccess = result.rejected ? { rejectedDataPoints: String(result.rejected), errorMessage: result.errorMessage ?? '' } : undefined;
  if (encoding === 'json') return (partialSuccess ? { partialSuccess } : {}) as IExportMetricsServiceResponse;
  const message = ResponseType.fromObject(partialSuccess ? { partialSuccess } : {});
  return Buffer.from(ResponseType.encode(message).finish());
}

type Base = Pick<MetricPointRecord, 'serviceName' | 'name' | 'unit' | 'scopeName'> & {
  /** What identifies a series besides its point attributes: resource attributes but service.name, scope name and version. */
  series: unknown[];
};

/** Keys sorted: the order sent does not matter. */
function sortedEntries(attributes: Record<string, unknown>): Array<[string, unknown]> {
  return Object.entries(attributes).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
type PointTimes = { attributes: z.infer<typeof Attributes>; startTimeUnixNano?: string | number; timeUnixNano: string | number };

function common(base: Base, point: PointTimes): Omit<MetricPointRecord, 'kind' | 'monotonic' | 'temporality'> {
  const attributes = flatten(point.attributes);
  const start = point.startTimeUnixNano !== undefined && BigInt(point.startTimeUnixNano) > 0n ? BigInt(point.startTimeUnixNano) : null;
  const { series, ...record } = base;
  return {
    ...record,
    attributes,
    // One time series = metric, producer (resource), scope and point attributes.
    seriesKey: createHash('sha1')
      .update(JSON.stringify([...series, sortedEntries(attributes)]))
      .digest('hex'),
    startTimeUnixNano: start,
    timeUnixNano: BigInt(point.timeUnixNano),
    value: null,
    count: null,
    sum: null,
    min: null,
    max: null,
    bucketBounds: null,
    bucketCounts: null,
  };
}

function numberRecord(base: Base, kind: 'gauge' | 'sum', monotonic: boolean | null, temporality: number, point: z.infer<typeof NumberPoint>): MetricPointRecord {
  const value = point.asDouble !== undefined ? number(point.asDouble) : Number(point.asInt);
  return { ...common(base, point), kind, monotonic, temporality, value };
}

function countRecord(base: Base, kind: MetricPointRecord['kind'], temporality: number, point: z.infer<typeof SummaryPoint>): MetricPointRecord {
  return { ...common(base, point), kind, monotonic: null, temporality, count: Number(point.count), sum: number(point.sum) };
}

/** NaN and infinities are not numbers the aggregates can use: stored as null. */
function number(value: number | string | undefined): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function dataPointsOf(candidate: unknown): number {
  if (!candidate || typeof candidate !== 'object') return 1;
  for (const field of ['gauge', 'sum', 'histogram', 'exponentialHistogram', 'summary']) {
    const data = (candidate as Record<string, { dataPoints?: unknown }>)[field];
    if (data && Array.isArray(data.dataPoints)) return Math.max(1, data.dataPoints.length);
  }
  return 1;
}

function protobufToJson(body: unknown): unknown {
  if (!Buffer.isBuffer(body)) throw new AppError('VALIDATION_FAILED', 'expected a protobuf ExportMetricsServiceRequest body');
  let message: protobuf.Message;
  try {
    message = RequestType.decode(body);
  } catch (error) {
    throw new AppError('VALIDATION_FAILED', `the body is not a protobuf ExportMetricsServiceRequest: ${(error as Error).message}`);
  }
  // bytes attribute values as base64, as OTLP/JSON writes them.
  return RequestType.toObject(message, { longs: String, bytes: String, defaults: false, arrays: true, oneofs: false });
}
