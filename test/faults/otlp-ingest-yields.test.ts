import { storeInChunks } from '../../src/api/otlp-router.js';
import { closeOtlpDecoder, decodeProtobufOffThread } from '../../src/telemetry/otlp-decoder.js';
import { encodeTraceRequest } from '../../src/telemetry/otlp-ingest.js';

/**
 * A big OTLP batch must not hold the event loop: decoded off the main thread, sent back in
 * pieces, stored a chunk per turn of the loop (PGlite settles its queries as microtasks, so
 * a plain `await` per insert never let another request in: 40k spans stalled /healthz 14 s).
 */
function traceBody(spans: number): Buffer {
  const id = (seed: number, length: number) => Array.from({ length }, (_, index) => (seed * 31 + index * 7 + 1) & 0xff);
  const now = BigInt(Date.now()) * 1_000_000n;
  const list = Array.from({ length: spans }, (_, index) => ({
    traceId: id(index >> 4, 16),
    spanId: id(index, 8),
    name: `span ${index}`,
    startTimeUnixNano: String(now + BigInt(index)),
    endTimeUnixNano: String(now + BigInt(index) + 1000n),
  }));
  return encodeTraceRequest({ resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'shop' } }] }, scopeSpans: [{ spans: list }] }] });
}

afterAll(() => closeOtlpDecoder());

describe('a big OTLP batch', () => {
  it('when it is decoded off the main thread, then every span comes back, in order, though in several messages', async () => {
    const result = await decodeProtobufOffThread('traces', traceBody(4500));
    expect(result.spans).toHaveLength(4500);
    expect(result.spans.map((span) => span.name)).toEqual(Array.from({ length: 4500 }, (_, index) => `span ${index}`));
    expect(result.rejected).toBe(0);
  });

  it('when it is stored, then the event loop turns between chunks even if every insert settles as a microtask', async () => {
    const records = Array.from({ length: 1000 }, (_, index) => index);
    const inserted: number[][] = [];
    let timerRanAfterInsert = -1;
    // A timer due at once: it can only run when the loop gets past the microtask queue.
    const timer = setTimeout(() => (timerRanAfterInsert = inserted.length), 0);
    // An insert like PGlite's: its work happens synchronously (here 2 ms, so the timer is due
    // after the first chunk), its promise settles as a microtask.
    await storeInChunks(records, async (chunk) => {
      const busyUntil = performance.now() + 2;
      while (performance.now() < busyUntil);
      inserted.push([...chunk]);
    });
    clearTimeout(timer);
    expect(inserted.flat()).toEqual(records);
    expect(inserted.length).toBeGreaterThan(1);
    expect(timerRanAfterInsert).toBeGreaterThanOrEqual(1);
    expect(timerRanAfterInsert).toBeLessThan(inserted.length);
  });
});
