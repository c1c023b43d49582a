import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeTraceRequest, encodeTraceResponse, type OtlpEncoding } from '../../src/telemetry/otlp-ingest.js';
import type { CapturedSpan } from './semconv.js';

/** The OTLP/HTTP encodings by content type: what the JSON and the protobuf exporters send. */
const ENCODINGS: Record<string, OtlpEncoding> = { 'application/json': 'json', 'application/x-protobuf': 'protobuf' };

/**
 * A loopback OTLP/HTTP receiver that lives for one validation phase: the command under
 * test gets its address as OTEL_EXPORTER_OTLP_ENDPOINT and every span it exports, as
 * JSON or protobuf (decoded as POST /v1/traces decodes them), is kept for the
 * semantic-convention check.
 */
export class OtlpCapture {
  readonly spans: CapturedSpan[] = [];
  private server: Server | null = null;
  private rejected = 0;

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size <= 8 * 1024 * 1024) chunks.push(chunk);
      });
      req.on('end', () => {
        const encoding = ENCODINGS[String(req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase()];
        const send = (status: number, body: Buffer | object) =>
          encoding === 'protobuf' && Buffer.isBuffer(body)
            ? res.writeHead(status, { 'content-type': 'application/x-protobuf' }).end(body)
            : res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
        if (req.method !== 'POST' || req.url !== '/v1/traces' || !encoding) {
          this.rejected++;
          send(415, { message: 'only OTLP/HTTP traces (application/json or application/x-protobuf) are captured' });
          return;
        }
        try {
          const raw = Buffer.concat(chunks);
          const decoded = decodeTraceRequest(encoding === 'json' ? JSON.parse(raw.toString('utf8')) : raw, encoding);
          for (const span of decoded.spans) this.spans.push({ name: span.name, attributes: span.attributes });
          this.rejected += decoded.rejected;
          send(200, encodeTraceResponse(decoded, encoding));
        } catch (error) {
          this.rejected++;
          send(400, { message: `not an OTLP trace export: ${(error as Error).message}` });
        }
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  /** Requests refused plus spans rejected inside accepted requests. */
  get rejectedRequests(): number {
    return this.rejected;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server!.close(resolve));
    this.server = null;
  }
}
