import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import express, { Router } from 'express';
import { AppError } from '../errors.js';
import type { MetricPointStore } from '../store/metric-points.js';
import type { SpanStore } from '../store/spans.js';
import { decodeProtobufOffThread } from './otlp-decoder.js';
import { decodeTraceRequest, encodeTraceResponse, type OtlpEncoding } from './otlp-ingest.js';
import { decodeMetricsRequest, encodeMetricsResponse } from './otlp-metrics-ingest.js';

/** Where a trace receiver writes the spans it decoded. */
export type SpanSink = Pick<SpanStore, 'insertSpans'>;
/** Where a metrics receiver writes the data points it decoded. */
export type MetricPointSink = Pick<MetricPointStore, 'insertPoints'>;

const PROTOBUF_TYPES = ['application/x-protobuf', 'application/protobuf'];

/**
 * The OTLP/HTTP trace receiver: JSON (parsed and inflated by the app's JSON parser before
 * it) or protobuf, plain or gzip; answers an ExportTraceServiceResponse (partialSuccess names
 * the spans it rejected). Who may send is the mounting router's business: the server's
 * `POST /v1/traces` (src/api/otlp-router.ts) checks the role, a validator phase's loopback
 * capture takes whatever its command sends.
 */
export function otlpTracesReceiver(spans: SpanSink, limits: { protobufBytes: number }): Router {
  return otlpSignalReceiver('/v1/traces', limits, async (body, encoding) => {
    // OTLP/JSON bodies are capped at 1 MiB by the JSON parser; protobuf (up to 8 MiB) decodes off the main thread.
    const result = encoding === 'protobuf' && Buffer.isBuffer(body) ? await decodeProtobufOffThread('traces', body) : decodeTraceRequest(body, encoding);
    await storeInChunks(result.spans, (chunk) => spans.insertSpans(chunk));
    return encodeTraceResponse(result, encoding);
  });
}

/** The OTLP/HTTP metrics receiver: an ExportMetricsServiceResponse (partialSuccess names the data points it rejected). */
export function otlpMetricsReceiver(points: MetricPointSink, limits: { protobufBytes: number }): Router {
  return otlpSignalReceiver('/v1/metrics', limits, async (body, encoding) => {
    const result = encoding === 'protobuf' && Buffer.isBuffer(body) ? await decodeProtobufOffThread('metrics', body) : decodeMetricsRequest(body, encoding);
    await storeInChunks(result.points, (chunk) => points.insertPoints(chunk));
    return encodeMetricsResponse(result, encoding);
  });
}

/** Rows per insert of a big batch: one insert of this size holds PGlite (in-process) for tens of ms. */
const INSERT_CHUNK = 100;

/**
 * Stores a decoded batch a chunk at a time, returning to the event loop between chunks.
 * PGlite runs its queries on the main thread and settles them as microtasks, so one
 * `await` per insert never let a timer or another request in: 40k spans held every
 * request for ~14 s. A chunk per macrotask bounds what any other request waits.
 */
export async function storeInChunks<T>(records: readonly T[], insert: (chunk: readonly T[]) => Promise<unknown>): Promise<void> {
  for (let offset = 0; offset < records.length; offset += INSERT_CHUNK) {
    if (offset > 0) await yieldToEventLoop();
    await insert(records.slice(offset, offset + INSERT_CHUNK));
  }
}

/**
 * One OTLP/HTTP signal endpoint: JSON (OTLP/JSON encoding) and protobuf, plain or gzip;
 * 200 with the answer in the request's encoding, 400 when the body cannot be decoded.
 */
function otlpSignalReceiver(
  path: string,
  limits: { protobufBytes: number },
  ingest: (body: unknown, encoding: OtlpEncoding) => Promise<Buffer | object>,
): Router {
  const router = Router();
  router.post(
    '/',
    // JSON bodies were parsed (and inflated) by the app's JSON parser; protobuf is read here.
    express.raw({ type: PROTOBUF_TYPES, limit: limits.protobufBytes }),
    async (req, res) => {
      const encoding = encodingOf(path, req.headers['content-type']);
      const answer = await ingest(req.body, encoding);
      if (encoding === 'json') {
        res.status(200).type('application/json').send(JSON.stringify(answer));
      } else {
        res.status(200).type('application/x-protobuf').send(answer);
      }
    },
  );
  return router;
}

function encodingOf(path: string, contentType: string | undefined): OtlpEncoding {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/json') return 'json';
  if (PROTOBUF_TYPES.includes(type)) return 'protobuf';
  throw new AppError('UNSUPPORTED_MEDIA_TYPE', `POST ${path} takes application/json or application/x-protobuf, not '${type || '(none)'}'`);
}
