import { Worker } from 'node:worker_threads';

/**
 * The embedded PGlite database in a worker thread, with the face knex-pglite expects of a
 * PGlite instance (`waitReady`, `query`, `close`). On the engine thread PGlite's WASM took
 * about a quarter of the CPU of a transition and blocked the event loop while a query ran;
 * here it runs beside it, and a query that does not answer within `queryTimeoutMs` is
 * failed (a DATABASE_TIMEOUT fault) and the frozen thread replaced by a fresh one on the same
 * folder, which recovers it as after a crash (nothing uncommitted survives; what was
 * committed does). An in-memory database cannot be reopened: there the bound is off.
 */
export class PGliteThread {
  private worker!: Worker;
  private readonly pending = new Map<number, { resolve: (value: any) => void; reject: (error: Error) => void; timer?: NodeJS.Timeout }>();
  private nextId = 0;
  private closed = false;
  waitReady!: Promise<void>;

  /**
   * @param queryTimeoutMs 0: unbounded (as during migrations, see `bound`).
   * @param templateFile an in-memory database starts as the data-folder dump in this file (see `dumpDataDir`).
   */
  constructor(
    private readonly folder: string | undefined,
    private queryTimeoutMs = 0,
    private readonly templateFile?: string,
  ) {
    this.start();
  }

  /** Sets the bound on one query from now on (0: none). */
  bound(queryTimeoutMs: number): void {
    this.queryTimeoutMs = queryTimeoutMs;
  }

  private start(): void {
    const fromSource = import.meta.url.endsWith('.ts');
    const url = new URL(fromSource ? './pglite-thread-worker.ts' : './pglite-thread-worker.js', import.meta.url);
    const workerData = { folder: this.folder, templateFile: this.templateFile };
    // From sources (tsx, jest) the worker registers tsx's loader first, as the OTLP decoder's does.
    const worker = fromSource
      ? new Worker(`(async () => { (await import('tsx/esm/api')).register(); await import(${JSON.stringify(url.href)}); })();`, { eval: true, workerData })
      : new Worker(url, { workerData });
    this.worker = worker;
    this.waitReady = new Promise<void>((resolve, reject) => {
      const onReady = (message: { ready?: boolean; error?: Record<string, unknown> }) => {
        if (message.ready === undefined) return;
        worker.off('message', onReady);
        if (message.ready) resolve();
        else reject(revive(message.error ?? { message: 'PGlite did not start' }));
      };
      worker.on('message', onReady);
      worker.once('error', reject);
    });
    // Awaited by whoever queries first; an unobserved failure is not a crash of the process.
    this.waitReady.catch(() => {});
    worker.on('message', (message: { id?: number; result?: unknown; error?: Record<string, unknown> }) => {
      if (message.id === undefined) return;
      const waiting = this.pending.get(message.id);
      if (!waiting) return;
      this.settle(message.id);
      if (message.error) waiting.reject(revive(message.error));
      else waiting.resolve(message.result);
    });
    const failAll = (error: Error) => {
      if (this.worker !== worker) return;
      for (const [id, waiting] of this.pending) {
        this.settle(id);
        waiting.reject(error);
      }
    };
    worker.on('error', (error) => failAll(Object.assign(new Error(`the PGlite thread failed: ${error.message}`), { code: '57P01', cause: error })));
    worker.on('exit', (code) => {
      if (!this.closed) failAll(Object.assign(new Error(`the PGlite thread exited (${code})`), { code: '57P01' }));
    });
    // Idle, the thread does not keep the process alive; starting up and a query in flight do.
    void this.waitReady.finally(() => {
      if (this.worker === worker && !this.pending.size) worker.unref();
    });
  }

  private settle(id: number): void {
    const waiting = this.pending.get(id);
    if (waiting?.timer) clearTimeout(waiting.timer);
    this.pending.delete(id);
    if (!this.pending.size) this.worker.unref();
  }

  private call<T>(message: Record<string, unknown>, bounded: boolean): Promise<T> {
    if (this.closed && !('close' in message)) return Promise.reject(Object.assign(new Error('the database is closed'), { code: '57P01' }));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const waiting: { resolve: (value: any) => void; reject: (error: Error) => void; timer?: NodeJS.Timeout } = { resolve, reject };
      if (bounded && this.folder && this.queryTimeoutMs > 0) {
        waiting.timer = setTimeout(() => this.frozen(id), this.queryTimeoutMs);
        waiting.timer.unref();
      }
      this.pending.set(id, waiting);
      this.worker.ref();
      this.worker.postMessage({ id, ...message });
    });
  }

  /** A query ran past its bound: fail everything in flight, replace the thread (recovers the folder). */
  private frozen(id: number): void {
    if (!this.pending.has(id)) return;
    const stuck = this.worker;
    const error = Object.assign(new Error(`Query read timeout: PGlite did not answer within ${this.queryTimeoutMs} ms; its thread was restarted`), { code: '57014' });
    for (const [pendingId, waiting] of this.pending) {
      this.settle(pendingId);
      waiting.reject(error);
    }
    // The new thread opens the folder only once the old one is gone: two PGlites on one
    // folder lose writes. Queries meanwhile wait for it.
    const replaced = stuck.terminate().then(() => {
      this.start();
      return this.waitReady;
    });
    replaced.catch(() => {});
    this.waitReady = replaced;
  }

  async query(sql: string, params?: unknown[], options?: Record<string, unknown>): Promise<any> {
    await this.waitReady;
    return this.call({ sql, params, options }, true);
  }

  /** The whole data folder as an uncompressed tar (PGlite's `dumpDataDir`), for a `template`. */
  async dumpDataDir(): Promise<Uint8Array> {
    await this.waitReady;
    return this.call({ dump: true }, false);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    let timer: NodeJS.Timeout | undefined;
    try {
      await this.waitReady;
      // A thread frozen in a query is not waited on for ever: it is terminated (as a crash).
      const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(5000, this.queryTimeoutMs))));
      await Promise.race([this.call({ close: true }, false), deadline]);
    } finally {
      clearTimeout(timer);
      this.closed = true;
      await this.worker.terminate();
    }
  }
}

/** An error from the worker as an Error again, with PostgreSQL's fields (code, detail, ...) on it. */
function revive(fields: Record<string, unknown>): Error {
  const error = new Error(String(fields.message ?? 'PGlite error'));
  Object.assign(error, fields);
  return error;
}
