import { SpanKind, SpanStatusCode, TraceFlags, type Attributes, type HrTime } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import { Metadata } from '@grpc/grpc-js';
import { OTLPTraceExporter as OtlpGrpcExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as OtlpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OtlpProtobufExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { defaultResource, resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { SpanRecord } from '../store/spans.js';

/** The OTEL_* variables of the OpenTelemetry specification that the span export honours. */
export interface OtelEnvironment {
  OTEL_SDK_DISABLED?: boolean;
  OTEL_SERVICE_NAME?: string;
  OTEL_RESOURCE_ATTRIBUTES?: string;
  OTEL_TRACES_EXPORTER?: string;
  OTEL_EXPORTER_OTLP_ENDPOINT?: string;
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?: string;
  OTEL_EXPORTER_OTLP_PROTOCOL?: string;
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL?: string;
  OTEL_EXPORTER_OTLP_HEADERS?: string;
  OTEL_EXPORTER_OTLP_TRACES_HEADERS?: string;
  OTEL_EXPORTER_OTLP_COMPRESSION?: string;
  OTEL_EXPORTER_OTLP_TRACES_COMPRESSION?: string;
  OTEL_EXPORTER_OTLP_TIMEOUT?: number;
  OTEL_EXPORTER_OTLP_TRACES_TIMEOUT?: number;
}

export interface OtlpSettings {
  url: string;
  protocol: 'http/protobuf' | 'http/json' | 'grpc';
  headers: Record<string, string>;
  compression: 'gzip' | 'none';
  timeoutMillis: number;
}

/**
 * Where and how to export, as the specification reads the variables: the signal-specific
 * endpoint is used as given, the generic one gets `/v1/traces` appended for HTTP (gRPC names
 * the service, not a path: both are used as given); the default protocol is http/protobuf.
 * Null when no endpoint is set or export is switched off.
 */
export function resolveOtlpSettings(env: OtelEnvironment, warn: (line: string) => void = () => {}): OtlpSettings | null {
  if (env.OTEL_SDK_DISABLED) return null;
  const exporters = (env.OTEL_TRACES_EXPORTER ?? 'otlp').split(',').map((name) => name.trim());
  if (!exporters.includes('otlp')) return null;
  const protocol = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf';
  if (protocol !== 'http/protobuf' && protocol !== 'http/json' && protocol !== 'grpc') {
    // Guessing a protocol would only fail request after request against the collector.
    warn(`OTLP protocol ${protocol} is not supported for span export (use http/protobuf, http/json or grpc): spans go only to the span store`);
    return null;
  }
  const url = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
    ? env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
    : env.OTEL_EXPORTER_OTLP_ENDPOINT
      ? protocol === 'grpc'
        ? env.OTEL_EXPORTER_OTLP_ENDPOINT
        : `${env.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces`
      : null;
  if (!url) return null;
  return {
    url,
    protocol,
    headers: { ...parseKeyValues(env.OTEL_EXPORTER_OTLP_HEADERS), ...parseKeyValues(env.OTEL_EXPORTER_OTLP_TRACES_HEADERS) },
    compression: (env.OTEL_EXPORTER_OTLP_TRACES_COMPRESSION ?? env.OTEL_EXPORTER_OTLP_COMPRESSION) === 'gzip' ? 'gzip' : 'none',
    timeoutMillis: env.OTEL_EXPORTER_OTLP_TRACES_TIMEOUT ?? env.OTEL_EXPORTER_OTLP_TIMEOUT ?? 10_000,
  };
}

export function createOtlpSpanExporter(settings: OtlpSettings): SpanExporter {
  if (settings.protocol === 'grpc') {
    // Headers travel as gRPC metadata; an http:// endpoint means plaintext, https:// TLS.
    const metadata = new Metadata();
    for (const [key, value] of Object.entries(settings.headers)) metadata.set(key.toLowerCase(), value);
    return new OtlpGrpcExporter({
      url: settings.url,
      metadata,
      timeoutMillis: settings.timeoutMillis,
      compression: settings.compression as never,
    });
  }
  const config = {
    url: settings.url,
    headers: settings.headers,
    timeoutMillis: settings.timeoutMillis,
    compression: settings.compression as never,
  };
  return settings.protocol === 'http/json' ? new OtlpJsonExporter(config) : new OtlpProtobufExporter(config);
}

/** The resource of the engine's own spans: service.name from OTEL_SERVICE_NAME, else `regenflow`. */
export function engineResource(env: OtelEnvironment, extra: Record<string, string>): { resource: Resource; serviceName: string } {
  const fromEnv = parseKeyValues(env.OTEL_RESOURCE_ATTRIBUTES);
  const serviceName = env.OTEL_SERVICE_NAME ?? fromEnv['service.name'] ?? 'regenflow';
  const resource = defaultResource().merge(resourceFromAttributes({ ...extra, ...fromEnv, 'service.name': serviceName }));
  return { resource, serviceName };
}

/** W3C-baggage-like `key=value,key=value` with percent-encoded values (OTEL_*_HEADERS, OTEL_RESOURCE_ATTRIBUTES). */
function parseKeyValues(text: string | undefined): Record<string, string> {
  const values: Record<string, string> = {};
  for (const pair of (text ?? '').split(',')) {
    const at = pair.indexOf('=');
    if (at <= 0) continue;
    try {
      values[decodeURIComponent(pair.slice(0, at).trim())] = decodeURIComponent(pair.slice(at + 1).trim());
    } catch {
      // A malformed pair is skipped, as the specification asks.
    }
  }
  return values;
}

const hrTime = (nanos: bigint): HrTime => [Number(nanos / 1_000_000_000n), Number(nanos % 1_000_000_000n)];

/**
 * A span that already happened, with the ids, times and parent the engine chose, in the
 * shape the OTLP exporters serialise. The SDK's tracer cannot create spans after the fact
 * with given ids, so the record is handed to the exporter directly.
 */
export function toReadableSpan(record: SpanRecord, resource: Resource, scope: InstrumentationScope): ReadableSpan {
  const spanContext = { traceId: record.traceId, spanId: record.spanId, traceFlags: TraceFlags.SAMPLED };
  return {
    name: record.name,
    kind: (record.kind > 0 ? record.kind - 1 : SpanKind.INTERNAL) as SpanKind, // OTLP numbers kinds from 1, the API from 0
    spanContext: () => spanContext,
    parentSpanContext: record.parentSpanId
      ? { traceId: record.traceId, spanId: record.parentSpanId, traceFlags: TraceFlags.SAMPLED, isRemote: false }
      : undefined,
    startTime: hrTime(record.startTimeUnixNano),
    endTime: hrTime(record.endTimeUnixNano),
    duration: hrTime(record.endTimeUnixNano - record.startTimeUnixNano),
    status:
      record.statusCode === 2
        ? { code: SpanStatusCode.ERROR, ...(record.statusMessage && { message: record.statusMessage }) }
        : { code: record.statusCode === 1 ? SpanStatusCode.OK : SpanStatusCode.UNSET },
    attributes: record.attributes as Attributes,
    links: (record.links ?? []).map((link) => {
      const { traceId, spanId, attributes } = link as { traceId: string; spanId: string; attributes?: Attributes };
      return { context: { traceId, spanId, traceFlags: TraceFlags.SAMPLED }, attributes: attributes ?? {} };
    }),
    events: [],
    ended: true,
    resource,
    instrumentationScope: scope,
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}
