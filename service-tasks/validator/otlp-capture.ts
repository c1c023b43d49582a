import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CapturedSpan } from './semconv.js';

interface AnyValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
  arrayValue?: { values?: AnyValue[] };
}

const valueOf = (value: AnyValue | undefined): unknown => {
  if (!value) return undefined;
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return value.doubleValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.arrayValue) return (value.arrayValue.values ?? []).map(valueOf);
  return undefined;
};

/**
 * A loopback OTLP/HTTP receiver (JSON encoding) that lives for one validation phase: the
 * command under test gets its address as OTEL_EXPORTER_OTLP_ENDPOINT and every span it
 * exports is kept for the semantic-convention check.
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
        if (req.method !== 'POST' || req.url !== '/v1/traces' || !String(req.headers['content-type']).startsWith('application/json')) {
          this.rejected++;
          res.writeHead(415, { 'content-type': 'application/json' }).end('{"message":"only OTLP/HTTP JSON traces are captured"}');
          return;
        }
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          for (const resource of body.resourceSpans ?? []) {
            for (const scope of resource.scopeSpans ?? []) {
              for (const span of scope.spans ?? []) {
                const attributes = Object.fromEntries((span.attributes ?? []).map((a: { key: string; value: AnyValue }) => [a.key, valueOf(a.value)]));
                this.spans.push({ name: String(span.name), attributes });
              }
            }
          }
          res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        } catch {
          this.rejected++;
          res.writeHead(400, { 'content-type': 'application/json' }).end('{"message":"not OTLP JSON"}');
        }
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

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
