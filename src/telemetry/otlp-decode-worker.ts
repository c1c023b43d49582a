import { parentPort } from 'node:worker_threads';
import { decodeTraceRequest } from './otlp-ingest.js';
import { decodeMetricsRequest } from './otlp-metrics-ingest.js';

/** Worker-thread entry: decoding a large OTLP protobuf batch (162k spans: ~1 min) must not block the server. */
parentPort?.on('message', (request: { id: number; signal: 'traces' | 'metrics'; body: Uint8Array }) => {
  try {
    const body = Buffer.from(request.body.buffer, request.body.byteOffset, request.body.byteLength);
    const result = request.signal === 'traces' ? decodeTraceRequest(body, 'protobuf') : decodeMetricsRequest(body, 'protobuf');
    parentPort?.postMessage({ id: request.id, result });
  } catch (error) {
    const appError = error as { code?: string; message?: string; issues?: unknown };
    parentPort?.postMessage({ id: request.id, error: { code: appError.code, message: appError.message ?? String(error), zod: Boolean(appError.issues) } });
  }
});
