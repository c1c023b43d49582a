import { Worker } from 'node:worker_threads';
import { AppError } from '../errors.js';
import type { Finding } from '../engine/definitions/analysis-types.js';
import type { DecisionRequirements } from './dmn-model.js';
import type { DecisionWorkerReply, DecisionWorkerRequest } from './decision-worker.js';
import type { DrgEvaluation } from './evaluate-decision.js';

type Request = DecisionWorkerRequest extends infer R ? (R extends unknown ? Omit<R, 'id'> : never) : never;

/**
 * One worker thread for DMN work (parse + lint at deploy, evaluation), one request at a time.
 * A request that overruns its budget ends the thread (a synchronous FEEL loop cannot be
 * interrupted otherwise) and fails with DECISION_TIMEOUT; the next request starts a new one.
 */
export class DecisionThread {
  private worker: Worker | null = null;
  /**
   * Definition ids whose DRG the current worker holds, least recently used first. This side
   * owns the cache: when it evicts an id it tells the worker to drop it, so both stay in step.
   */
  private sent = new Map<string, true>();
  /** How many DRGs the worker keeps. */
  readonly capacity: number;

  constructor(options: { capacity?: number } = {}) {
    this.capacity = options.capacity ?? 200;
  }
  private queue: Promise<unknown> = Promise.resolve();
  private nextId = 0;

  analyse(name: string, xml: string, timeoutMs: number): Promise<{ drg: DecisionRequirements; errors: Finding[]; warnings: Finding[] }> {
    return this.enqueue({ kind: 'analyse', name, xml }, timeoutMs, `parsing ${name}`) as Promise<{ drg: DecisionRequirements; errors: Finding[]; warnings: Finding[] }>;
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
      return { kind: 'evaluate', definitionId, drg: held ? undefined : drg, drop, decisionKey, variables, timeoutMs };
    };
    const run = this.enqueue(request, timeoutMs, `decision '${decisionKey}'`) as Promise<DrgEvaluation>;
    // A worker that lost the model anyway (it never should): send it once more with the model.
    return run.catch((error: unknown) => {
      if (!(error instanceof AppError) || error.code !== 'DECISION_NOT_LOADED') throw error;
      this.sent.delete(definitionId);
      return this.enqueue(request, timeoutMs, `decision '${decisionKey}'`) as Promise<DrgEvaluation>;
    });
  }

  async close(): Promise<void> {
    const current = this.worker;
    this.worker = null;
    this.sent.clear();
    if (current) await current.terminate();
  }

  private enqueue(request: Request | (() => Request), timeoutMs: number, what: string): Promise<unknown> {
    const run = this.queue.then(() => {
      // Started before the request is built: a new worker holds no model, and the request must know.
      const fresh = !this.worker;
      this.worker ??= this.start();
      return this.send(typeof request === 'function' ? request() : request, timeoutMs, what, fresh);
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  private start(): Worker {
    const fromSource = import.meta.url.endsWith('.ts');
    const url = new URL(fromSource ? './decision-worker.ts' : './decision-worker.js', import.meta.url);
    const started = fromSource
      ? new Worker(`(async () => { (await import('tsx/esm/api')).register(); await import(${JSON.stringify(url.href)}); })();`, { eval: true })
      : new Worker(url);
    started.unref();
    this.sent.clear();
    return started;
  }

  private send(request: Request, timeoutMs: number, what: string, fresh: boolean): Promise<unknown> {
    const current = this.worker!;
    const id = this.nextId++;
    // Starting a thread (and tsx inside it, from sources) is not the request's time.
    const budget = timeoutMs + (fresh ? 5_000 : 0);
    return new Promise((resolve, reject) => {
      const drop = () => {
        if (this.worker === current) {
          this.worker = null;
          this.sent.clear();
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        drop();
        void current.terminate();
        reject(new AppError('DECISION_TIMEOUT', `${what} ran over its time budget of ${timeoutMs} ms`));
      }, budget);
      const onMessage = (reply: DecisionWorkerReply) => {
        if (reply.id !== id) return;
        cleanup();
        if (reply.error) return reject(new AppError(reply.error.code, reply.error.message, { details: reply.error.details }));
        resolve(reply.result);
      };
      const onError = (error: Error) => {
        cleanup();
        drop();
        reject(error);
      };
      function cleanup() {
        clearTimeout(timer);
        current.off('message', onMessage);
        current.off('error', onError);
      }
      current.on('message', onMessage);
      current.on('error', onError);
      current.postMessage({ ...request, id });
    });
  }
}
