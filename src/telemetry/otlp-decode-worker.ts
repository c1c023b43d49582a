import { parentPort } from 'node:worker_threads';
import { decodeTraceRequest } from './otlp-ingest.js';
import { decodeMetricsRequest } from './otlp-metrics-ingest.js';

/**
 * Records per message back to the main thread: a message is deserialised there in one
 * piece, and 162k spans in one message held its event loop for about a second.
 */
export const RECORDS_PER_MESSAGE = 2000;

/** Worker-thread entry: decoding a large OTLP protobuf batch (162k spans: ~30 s) must not block the server. */
parentPort?.on('message', (request: { id: number; signal: 'traces' | 'metrics'; body: Uint8Array }) => {
  try {
    const body = Buffer.from(request.body.buffer, request.body.byteOffset, request.body.byteLength);
    if (request.signal === 'traces') {
      const { spans, ...rest } = decodeTraceRequest(body, 'protobuf');
      for (let offset = 0; offset < spans.length; offset += RECORDS_PER_MESSAGE) {
        parentPort?.postMessage({ id: request.id, records: spans.slice(offset, offset + RECORDS_PER_MESSAGE) });
      }
      parentPort?.postMessage({ id: request.id, result: { ...rest, spans: [] } });
    } else {
      const { points, ...rest } = decodeMetricsRequest(body, 'protobuf');
      for (let offset = 0; offset < points.length; offset += RECORDS_PER_MESSAGE) {
        parentPort?.postMessage({ id: request.id, records: points.slice(offset, offset + RECORDS_PER_MESSAGE) });
      }
      parentPort?.postMessage({ id: request.id, result: { ...rest, points: [] } });
    }
  } catch (error) {
    const appError = error as { code?: string; message?: string; issues?: unknown };
    parentPort?.postMessage({ id: request.id, error: { code: appError.code, message: appError.message ?? String(error), zod: Boolean(appError.issues) } });
  }
});
