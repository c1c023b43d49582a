import express from 'express';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { otlpTracesRouter } from '../../src/api/otlp-router.js';
import { notFoundHandler, problemHandler } from '../../src/api/problem.js';
import type { SpanStore } from '../../src/store/spans.js';
import { decodeTraceResponse } from '../../src/telemetry/otlp-ingest.js';
import type { CapturedSpan } from './semconv.js';

/** What one phase may export: bodies beyond it are refused (413) and counted, never cut and decoded. */
const BODY_LIMIT = 8 * 1024 * 1024;

/**
 * A loopback OTLP/HTTP receiver that lives for one validation phase: the command under
 * test gets its address as OTEL_EXPORTER_OTLP_ENDPOINT. It is the server's own
 * `POST /v1/traces` (JSON or protobuf, `application/x-protobuf` or `application/protobuf`,
 * plain or gzip), with a span store that keeps the spans for the semantic-convention check
 * and every refused request and rejected span counted.
 */
export class OtlpCapture {
  readonly spans: CapturedSpan[] = [];
  private server: Server | null = null;
  private refusedRequests = 0;
  private rejected = 0;

  async start(): Promise<string> {
    const store: SpanStore = {
      insertSpans: async (spans) => {
        for (const span of spans) this.spans.push({ name: span.name, attributes: span.attributes });
        return spans.length;
      },
      listByInstance: async () => [],
      listByTrace: async () => [],
    };
    const app = express();
    // Only the command of this phase reaches this loopback port: it speaks as a telemetry sender.
    app.use((req, _res, next) => {
      req.role = 'telemetry';
      next();
    });
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
    app.use('/v1/traces', otlpTracesRouter(store, { protobufBytes: BODY_LIMIT }));
    app.use(notFoundHandler);
    app.use(problemHandler);
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
