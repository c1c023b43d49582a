import { Worker } from 'node:worker_threads';
import { AppError, type ErrorCode } from '../errors.js';
import type { Finding } from '../engine/definitions/analysis-types.js';
import type { DecisionRequirements } from './dmn-model.js';
import type { DecisionWorkerReply, DecisionWorkerRequest } from './decision-worker.js';
import type { DrgEvaluation } from './evaluate-decision.js';

type Request = DecisionWorkerRequest extends infer R ? (R extends unknown ? Omit<R, 'id'> : never) : never;

export interface DecisionThreadOptions {
  /** How many decision models the worker keeps (the main thread's LRU decides which). @default 200 */
  capacity?: number;
  /** Longest a request waits for its turn; then DECISION_BUSY. @default 5000 */
  queueTimeoutMs?: number;
  /** Most requests waiting at once; more are DECISION_BUSY at once. @default 1000 */
  maxQueued?: number;
  /** Largest result (as JSON) a request may answer with; larger is DECISION_RESULT_TOO_LARGE. @default 1 MiB */
  maxResultBytes?: number;
  /** Longest a new worker may take to load (not counted in any request's budget). @default 30000 */
  startTimeoutMs?: number;
  /** Heap and stack limits of the worker: a decision that allocates without end ends its worker, not the server. */
  resourceLimits?: { maxOldGenerationSizeMb?: number; maxYoungGenerationSizeMb?: number; stackSizeMb?: number };
}

/**
 * One worker thread for DMN work, one request at a time. A request's budget starts when the
 * worker has it (the worker announces itself ready first, so loading it is nobody's time); one
 * that overruns ends the thread (a synchronous FEEL loop cannot be interrupted otherwise) and
 * fails with DECISION_TIMEOUT; the next request starts a new one. Waiting for a turn is bounded.
 */
export class DecisionThread {
  private worker: Promise<Worker> | null = null;
  /**
   * Definition ids whose DRG the current worker holds, least recently used first. This side
   * owns the cache: when it evicts an id it tells the worker to drop it, so both stay in step.
   */
  private sent = new Map<string, true>();
  private queue: Promise<unknown> = Promise.resolve();
  private queued = 0;
  private closed = false;
  private nextId = 0;
  readonly capacity: number;
  private readonly options: Required<Omit<DecisionThreadOptions, 'capacity'>>;

  constructor(options: DecisionThreadOptions = {}) {
    this.capacity = options.capacity ?? 200;
    this.options = {
      queueTimeoutMs: 5000,
      maxQueued: 1000,
      maxResultBytes: 1024 * 1024,
      startTimeoutMs: 30_000,
      resourceLimits: { maxOldGenerationSizeMb: 256, maxYoungGenerationSizeMb: 32, stackSizeMb: 4 },
      ...options,
    };
  }

  analyse(name: string, xml: string, timeoutMs: number): Promise<{ drg: DecisionRequirements; errors: Finding[]; warnings: Finding[] }> {
    return this.enqueue({ kind: 'analyse', name, xml, maxResultBytes: this.options.maxResultBytes * 16 }, timeoutMs, `parsing ${name}`) as Promise<{
      drg: DecisionRequirements;
      errors: Finding[];
      warnings: Finding[];
    }>;
  }

  evaluate(definitionId: string, drg: DecisionRequirements, decisionKey: string, variables: Record<string, unknown>, timeoutMs: number): Promise<DrgEvaluation> {
    const request = (): Request => {
      const held = this.sent.delete(definitionId);
      this.sent.set(definitionId, true);
      const drop: string[] = [];
      while (this.sent.size > this.capacity) {
        const oldest = this.sent.keys().next().value!;
        this.sent.delete(oldest);
        drop.push(oldest);
      }
      return { kind: 'evaluate', definitionId, drg: held ? undefined : drg, drop, decisionKey, variables, timeoutMs, maxResultBytes: this.options.maxResultBytes };
    };
    const run = this.enqueue(request, timeoutMs, `decision '${decisionKey}'`) as Promise<DrgEvaluation>;
    // A worker that lost the model anyway (it never should): send it once more with the model.
    return run.catch((error: unknown) => {
      if (!(error instanceof AppError) || error.code !== 'DECISION_NOT_LOADED') throw error;
      this.sent.delete(definitionId);
      return this.enqueue(request, timeoutMs, `decision '${decisionKey}'`) as Promise<DrgEvaluation>;
    });
  }

  /** Ends the worker; requests after this fail (no new worker is started). */
  async close(): Promise<void> {
    this.closed = true;
    const current = this.worker;
    this.worker = null;
    this.sent.clear();
    if (current) await current.then((worker) => worker.terminate()).catch(() => undefined);
  }

  private enqueue(request: Request | (() => Request), timeoutMs: number, what: string): Promise<unknown> {
    if (this.closed) return Promise.reject(closedError());
    if (this.queued >= this.options.maxQueued) {
      return Promise.reject(new AppError('DECISION_BUSY', `${what}: ${this.queued} decision requests are already waiting; try again later`));
    }
    this.queued++;
    let expired = false;
    const waited = setTimeout(() => (expired = true), this.options.queueTimeoutMs);
    const run = this.queue.then(async () => {
      this.queued--;
      clearTimeout(waited);
      if (expired) throw new AppError('DECISION_BUSY', `${what} waited over ${this.options.queueTimeoutMs} ms for the decision worker; try again later`);
      if (this.closed) throw closedError();
      // Started (and ready) before the request is built: a new worker holds no model, and the request must know.
      const held = (this.worker ??= this.start());
      const worker = await held;
      return this.send(held, worker, typeof request === 'function' ? request() : request, timeoutMs, what);
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  private start(): Promise<Worker> {
    const fromSource = import.meta.url.endsWith('.ts');
    const url = new URL(fromSource ? './decision-worker.ts' : './decision-worker.js', import.meta.url);
    const options = { resourceLimits: this.options.resourceLimits };
    const started = fromSource
      ? new Worker(`(async () => { (await import('tsx/esm/api')).register(); await import(${JSON.stringify(url.href)}); })();`, { eval: true, ...options })
      : new Worker(url, options);
    started.unref();
    this.sent.clear();
    const ready = new Promise<Worker>((resolve, reject) => {
      const fail = (error: Error) => {
        cleanup();
        void started.terminate();
        if (this.worker === ready) this.worker = null;
        reject(error);
      };
      const timer = setTimeout(() => fail(new AppError('DECISION_TIMEOUT', `the decision worker did not start within ${this.options.startTimeoutMs} ms`)), this.options.startTimeoutMs);
      const onMessage = (message: { ready?: boolean }) => {
        if (!message?.ready) return;
        cleanup();
        resolve(started);
      };
      const onExit = (code: number) => fail(new Error(`the decision worker exited (${code}) while starting`));
      function cleanup() {
        clearTimeout(timer);
        started.off('message', onMessage);
        started.off('error', fail);
        started.off('exit', onExit);
      }
      started.on('message', onMessage);
      started.on('error', fail);
      started.on('exit', onExit);
    });
    return ready;
  }

  private send(held: Promise<Worker>, current: Worker, request: Request, timeoutMs: number, what: string): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const drop = () => {
        if (this.worker === held) this.worker = null;
        this.sent.clear();
      };
      const timer = setTimeout(() => {
        cleanup();
        drop();
        void current.terminate();
        reject(new AppError('DECISION_TIMEOUT', `${what} ran over its time budget of ${timeoutMs} ms`));
      }, timeoutMs);
      const onMessage = (reply: DecisionWorkerReply) => {
        if (reply.id !== id) return;
        cleanup();
        if (reply.error) return reject(new AppError(reply.error.code as ErrorCode, reply.error.message, { details: reply.error.details }));
        resolve(reply.result);
      };
      const onError = (error: Error & { code?: string }) => {
        cleanup();
        drop();
        if (error.code === 'ERR_WORKER_OUT_OF_MEMORY') {
          return reject(new AppError('DECISION_RESOURCES_EXHAUSTED', `${what} used more memory than a decision may (the worker was ended)`));
        }
        reject(error);
      };
      const onExit = (code: number) => {
        cleanup();
        drop();
        reject(new AppError('DECISION_RESOURCES_EXHAUSTED', `${what}: the decision worker ended (exit code ${code})`));
      };
      function cleanup() {
        clearTimeout(timer);
        current.off('message', onMessage);
        current.off('error', onError);
        current.off('exit', onExit);
      }
      current.on('message', onMessage);
      current.on('error', onError);
      current.on('exit', onExit);
      current.postMessage({ ...request, id });
    });
  }
}

const closedError = () => new AppError('DECISION_SERVICE_CLOSED', 'the decision service is shut down');
