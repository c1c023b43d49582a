import express, { type ErrorRequestHandler, type Response } from 'express';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AppError, STATUS_BY_CODE } from '../../src/errors.js';
import { otlpTracesReceiver, type SpanSink } from '../../src/telemetry/otlp-http.js';
import { decodeTraceResponse } from '../../src/telemetry/otlp-ingest.js';
import type { CapturedSpan } from './semconv.js';

/** What one phase may export: bodies beyond it are refused (413) and counted, never cut and decoded. */
const BODY_LIMIT = 8 * 1024 * 1024;

/**
 * A loopback OTLP/HTTP receiver that lives for one validation phase: the command under
 * test gets its address as OTEL_EXPORTER_OTLP_ENDPOINT. It is the receiver behind the server's
 * own `POST /v1/traces` (JSON or protobuf, `application/x-protobuf` or `application/protobuf`,
 * plain or gzip), with a span sink that keeps the spans for the semantic-convention check
 * and every refused request and rejected span counted. Only the command of this phase
 * reaches the loopback port, so it needs no token.
 */
export class OtlpCapture {
  readonly spans: CapturedSpan[] = [];
  private server: Server | null = null;
  private refusedRequests = 0;
  private rejected = 0;

  async start(): Promise<string> {
    const sink: SpanSink = {
      insertSpans: async (spans) => {
        for (const span of spans) this.spans.push({ name: span.name, attributes: span.attributes });
        return spans.length;
      },
    };
    const app = express();
    // First, so refusals of the body parser are counted too.
    app.use((_req, res, next) => {
      const send = res.send.bind(res);
      res.send = (body?: unknown) => {
        this.account(res.statusCode, body);
        return send(body);
      };
      next();
    });
    // The server's JSON parser (gzip inflated, limit refused with 413); the router reads protobuf itself.
    app.use(express.json({ limit: BODY_LIMIT }));
    app.use('/v1/traces', otlpTracesReceiver(sink, { protobufBytes: BODY_LIMIT }));
    app.use((req, res) => sendProblem(res, 404, `no route for ${req.method} ${req.path}`, 'NOT_FOUND'));
    app.use(refusal);
    await new Promise<void>((resolve) => {
      this.server = app.listen(0, '127.0.0.1', () => resolve());
    });
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  /** Requests refused (wrong path or type, undecodable, too large). */
  get refused(): number {
    return this.refusedRequests;
  }

  /** Spans the ingest rejected inside requests it accepted (partialSuccess.rejectedSpans). */
  get rejectedSpans(): number {
    return this.rejected;
  }

  /** Refused requests plus rejected spans. */
  get rejectedRequests(): number {
    return this.refusedRequests + this.rejected;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server!.close(resolve));
    this.server = null;
  }

  /** Reads the answer the ingest gives: a problem counts the request, a partial success its rejected spans. */
  private account(status: number, body: unknown): void {
    if (status >= 400) {
      this.refusedRequests++;
      return;
    }
    try {
      const answer = Buffer.isBuffer(body) ? decodeTraceResponse(body) : (JSON.parse(String(body)) as ReturnType<typeof decodeTraceResponse>);
      this.rejected += Number(answer.partialSuccess?.rejectedSpans ?? 0);
    } catch {
      this.refusedRequests++;
    }
  }
}

/** A refusal as problem+json: the exporter only needs the status; the code helps whoever reads the phase's log. */
const refusal: ErrorRequestHandler = (error, _req, res, _next) => {
  const bodyError = (error as { type?: string; status?: number })?.type;
  const status = error instanceof AppError ? (STATUS_BY_CODE[error.code] ?? 500) : Number((error as { status?: number })?.status) || 500;
  const code = error instanceof AppError ? error.code : bodyError === 'entity.too.large' ? 'PAYLOAD_TOO_LARGE' : bodyError === 'entity.parse.failed' ? 'MALFORMED_JSON' : status < 500 ? 'BAD_REQUEST' : 'INTERNAL';
  sendProblem(res, status, String((error as Error)?.message ?? error), code);
};

function sendProblem(res: Response, status: number, detail: string, code: string): void {
  res.status(status).type('application/problem+json').send(JSON.stringify({ type: 'about:blank', title: code, status, detail, code }));
}
