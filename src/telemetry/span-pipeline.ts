import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { SpanRecord } from '../store/spans.js';
import { toReadableSpan } from './otlp-export.js';
import { openActivitySpans, type PendingSpan } from './transition-tracer.js';

/** What the pipeline needs from the database (implemented in src/store/spans.ts). */
export interface SpanSink {
  insertSpans(spans: readonly SpanRecord[]): Promise<number>;
  findActivityStarts(keys: ReadonlyArray<{ instanceId: string; executionId: string }>): Promise<Map<string, Date>>;
  findTraceIds(instanceIds: readonly string[]): Promise<Map<string, string>>;
  findOpenActivities(instanceId: string): Promise<Parameters<typeof openActivitySpans>[1]>;
}

export interface SpanPipelineOptions {
  sink: SpanSink;
  /** The OTLP exporter, when OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT is set. */
  exporter?: SpanExporter | null;
  resource: Resource;
  serviceName: string;
  scope: InstrumentationScope;
  /** Spans waiting to be written; beyond this new spans are dropped (and counted). @default 20000 */
  maxQueue?: number;
  /** Spans per store write and OTLP request. @default 512 */
  batchSize?: number;
  /** How long a span may wait for its batch to fill. @default 200 */
  flushDelayMs?: number;
  /** OTLP requests in flight; further batches wait in the export backlog. @default 2 */
  maxExportsInFlight?: number;
  log: (line: string) => void;
}

export interface SpanPipelineStats {
  queued: number;
  dropped: number;
  written: number;
  exported: number;
  /** Spans in the store that the OTLP exporter could not deliver (failed, or behind by more than the queue). */
  notExported: number;
  failed: number;
}

const nanos = (date: Date): bigint => BigInt(date.getTime()) * 1_000_000n;

/**
 * Writes spans off the transition path: a bounded queue, drained in batches into the span
 * store and (when configured) an OTLP exporter.
 *
 * Spans are written after the transition committed, never inside it: a crash between the
 * commit and the flush loses the spans of that moment, never instance state, and a slow or
 * failing span store or collector never slows or fails a transition (failures are logged
 * and counted; a full queue drops new spans).
 */
export class SpanPipeline {
  private readonly queue: PendingSpan[] = [];
  private readonly options: Required<Omit<SpanPipelineOptions, 'exporter'>> & SpanPipelineOptions;
  private draining: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly exports = new Set<Promise<void>>();
  private readonly backlog: SpanRecord[][] = [];
  private backlogSpans = 0;
  private closed = false;
  private lastDropLog = 0;
  private readonly observers: Array<(spans: readonly SpanRecord[]) => void> = [];
  readonly stats: SpanPipelineStats = { queued: 0, dropped: 0, written: 0, exported: 0, notExported: 0, failed: 0 };

  constructor(options: SpanPipelineOptions) {
    this.options = { maxQueue: 20_000, batchSize: 512, flushDelayMs: 200, maxExportsInFlight: 2, ...options };
  }

  /** Sees every batch written to the span store (metrics). */
  onWritten(observer: (spans: readonly SpanRecord[]) => void): void {
    this.observers.push(observer);
  }

  enqueue(spans: readonly PendingSpan[]): void {
    if (!spans.length) return;
    if (this.closed) {
      this.stats.dropped += spans.length;
      return;
    }
    const room = this.options.maxQueue - this.queue.length;
    if (room < spans.length) {
      this.stats.dropped += spans.length - Math.max(room, 0);
      // A full queue means a slow store: say so, but not once per transition.
      if (Date.now() - this.lastDropLog > 10_000) {
        this.lastDropLog = Date.now();
        this.options.log(`span queue full (${this.options.maxQueue}): ${this.stats.dropped} spans dropped so far`);
      }
    }
    if (room > 0) this.queue.push(...spans.slice(0, room));
    this.stats.queued = this.queue.length;
    if (this.queue.length >= this.options.batchSize) this.schedule(0);
    else this.schedule(this.options.flushDelayMs);
  }

  /** Writes everything queued so far (and waits for the OTLP requests it started). */
  async flush(): Promise<void> {
    this.clearTimer();
    while (this.queue.length || this.draining) {
      this.draining ??= this.drain().finally(() => {
        this.draining = null;
      });
      await this.draining;
    }
    while (this.exports.size || (this.backlog.length && this.options.exporter)) {
      this.pump();
      await Promise.allSettled([...this.exports]);
    }
  }

  async shutdown(): Promise<void> {
    await this.flush();
    this.closed = true;
    await this.options.exporter?.shutdown().catch((error: unknown) => this.options.log(`OTLP exporter shutdown: ${String(error)}`));
  }

  private schedule(delayMs: number): void {
    if (this.draining) return; // the running drain takes what is queued
    if (this.timer && delayMs > 0) return;
    this.clearTimer();
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.draining) return;
      this.draining = this.drain().finally(() => {
        this.draining = null;
        if (this.queue.length) this.schedule(0);
      });
    }, delayMs);
    this.timer.unref();
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private async drain(): Promise<void> {
    while (this.queue.length) {
      const batch = this.queue.splice(0, this.options.batchSize);
      this.stats.queued = this.queue.length;
      try {
        await this.write(batch);
      } catch (error) {
        this.stats.failed += batch.length;
        this.options.log(`span store write failed, ${batch.length} spans not stored: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }

  private async write(given: PendingSpan[]): Promise<void> {
    const batch: PendingSpan[] = [];
    for (const span of given) {
      if (span.openActivities) batch.push(...openActivitySpans(span, await this.options.sink.findOpenActivities(span.instanceId)));
      else batch.push(span);
    }
    const missing = batch.filter((span) => !span.start && span.startOf).map((span) => span.startOf!);
    const starts = missing.length ? await this.options.sink.findActivityStarts(missing) : new Map<string, Date>();
    const linked = batch.filter((span) => span.linkTo).map((span) => span.linkTo!.instanceId);
    const traces = linked.length ? await this.options.sink.findTraceIds(linked) : new Map<string, string>();
    const records: SpanRecord[] = [];
    for (const span of batch) {
      const start = span.start ?? (span.startOf && starts.get(`${span.startOf.instanceId}/${span.startOf.executionId}`));
      if (!start && span.requireStart) continue;
      const startNanos = nanos(start ?? span.end);
      const linkTrace = span.linkTo && traces.get(span.linkTo.instanceId);
      const endNanos = nanos(span.end);
      records.push({
        traceId: span.traceId,
        spanId: span.spanId,
        parentSpanId: span.parentSpanId,
        serviceName: this.options.serviceName,
        name: span.name,
        kind: 1,
        startTimeUnixNano: startNanos,
        endTimeUnixNano: endNanos < startNanos ? startNanos : endNanos,
        statusCode: span.statusCode,
        statusMessage: span.statusMessage,
        attributes: span.attributes,
        resource: this.options.resource.attributes as Record<string, unknown>,
        scopeName: this.options.scope.name,
        events: null,
        links: linkTrace ? [{ traceId: linkTrace, spanId: span.linkTo!.spanId, attributes: span.linkTo!.attributes }] : null,
        instanceId: span.instanceId,
        processKey: span.processKey,
        processVersion: span.processVersion,
        activityId: span.activityId,
        source: 'engine',
      });
    }
    if (!records.length) return;
    this.export(records);
    await this.options.sink.insertSpans(records);
    this.stats.written += records.length;
    for (const observer of this.observers) {
      try {
        observer(records);
      } catch (error) {
        this.options.log(`span observer failed: ${String(error)}`);
      }
    }
  }

  /**
   * Hands a batch to the OTLP exporter without waiting on it: batches wait in a backlog of
   * at most `maxQueue` spans (the oldest batch is dropped beyond it) and go out with a few
   * requests in flight.
   */
  private export(records: SpanRecord[]): void {
    if (!this.options.exporter) return;
    this.backlog.push(records);
    this.backlogSpans += records.length;
    while (this.backlogSpans > this.options.maxQueue && this.backlog.length > 1) {
      const dropped = this.backlog.shift()!;
      this.backlogSpans -= dropped.length;
      this.stats.notExported += dropped.length;
      this.options.log(`OTLP export is behind: ${dropped.length} spans not exported (they are in the span store)`);
    }
    this.pump();
  }

  private pump(): void {
    const exporter = this.options.exporter;
    while (exporter && this.exports.size < this.options.maxExportsInFlight && this.backlog.length) {
      const records = this.backlog.shift()!;
      this.backlogSpans -= records.length;
      const spans = records.map((record) => toReadableSpan(record, this.options.resource, this.options.scope));
      const done = new Promise<void>((resolve) => {
        exporter.export(spans, (result) => {
          if (result.code === 0) this.stats.exported += spans.length;
          else {
            this.stats.notExported += spans.length;
            this.options.log(`OTLP export of ${spans.length} spans failed: ${result.error?.message ?? 'unknown error'}`);
          }
          resolve();
        });
      });
      this.exports.add(done);
      void done.finally(() => {
        this.exports.delete(done);
        this.pump();
      });
    }
  }
}
