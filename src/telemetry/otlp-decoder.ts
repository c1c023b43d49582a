import { Worker } from 'node:worker_threads';
import { AppError, type ErrorCode } from '../errors.js';
import type { IngestResult } from './otlp-ingest.js';
import type { MetricsIngestResult } from './otlp-metrics-ingest.js';

/** A protobuf batch that takes longer than this to decode is refused (503) and its worker replaced. @default 60 s */
const DEFAULT_DECODE_TIMEOUT_MS = 60_000;

let worker: Worker | null = null;
let queue: Promise<unknown> = Promise.resolve();
let nextId = 0;

/** From sources (tsx, jest) the worker registers tsx's loader first, as the diagram analyser's does. */
function startWorker(): Worker {
  const fromSource = import.meta.url.endsWith('.ts');
  const url = new URL(fromSource ? './otlp-decode-worker.ts' : './otlp-decode-worker.js', import.meta.url);
  const started = fromSource
    ? new Worker(`(async () => { (await import('tsx/esm/api')).register(); await import(${JSON.stringify(url.href)}); })();`, { eval: true })
    : new Worker(url);
  started.unref();
  return started;
}

type Decoded<S> = S extends 'traces' ? IngestResult : MetricsIngestResult;

/**
 * Decodes an OTLP protobuf body in a worker thread, one batch at a time: the event loop
 * stays free for every other request while a big batch decodes, and a batch that takes
 * longer than `timeoutMs` is refused with 503 (the worker is replaced).
 */
export function decodeProtobufOffThread<S extends 'traces' | 'metrics'>(signal: S, body: Buffer, timeoutMs = DEFAULT_DECODE_TIMEOUT_MS): Promise<Decoded<S>> {
  const run = queue.then(() => decode(signal, body, timeoutMs));
  queue = run.catch(() => undefined);
  return run as Promise<Decoded<S>>;
}

function decode(signal: 'traces' | 'metrics', body: Buffer, timeoutMs: number): Promise<unknown> {
  worker ??= startWorker();
  const current = worker;
  const id = nextId++;
  const records: unknown[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      void current.terminate();
      if (worker === current) worker = null;
      reject(Object.assign(new AppError('DECODE_TIMEOUT', `decoding the OTLP batch took longer than ${timeoutMs} ms; send smaller batches`), {}));
    }, timeoutMs);
    // The records come in several messages (see RECORDS_PER_MESSAGE), then the result.
    const onMessage = (message: { id: number; records?: unknown[]; result?: Record<string, unknown>; error?: { code?: string; message: string } }) => {
      if (message.id !== id) return;
      if (message.records) {
        for (const record of message.records) records.push(record);
        return;
      }
      cleanup();
      if (message.error) reject(new AppError((message.error.code as ErrorCode | undefined) ?? 'VALIDATION_FAILED', message.error.message));
      else resolve({ ...message.result, [signal === 'traces' ? 'spans' : 'points']: records });
    };
    const onError = (error: Error) => {
      cleanup();
      if (worker === current) worker = null;
      reject(error);
    };
    function cleanup() {
      clearTimeout(timer);
      current.off('message', onMessage);
      current.off('error', onError);
    }
    current.on('message', onMessage);
    current.on('error', onError);
    current.postMessage({ id, signal, body: new Uint8Array(body.buffer, body.byteOffset, body.byteLength) });
  });
}

/** Stops the decoder thread (shutdown, tests). */
export async function closeOtlpDecoder(): Promise<void> {
  const current = worker;
  worker = null;
  if (current) await current.terminate();
}
