import { EventEmitter } from 'node:events';
import { AppError } from '../../errors.js';
import type { CallActivityWait, HistoryEntry, UncaughtBpmnError } from '../types.js';
import type { ActivityEvent } from './bpmn-adapter.js';
import { insideScope } from './bpmn-adapter.js';
import { idempotencyKeyOf, parseExecutionId } from './execution-ids.js';

/**
 * The listeners of one transition: they record what the run did (history rows, what waits,
 * called processes, entries per activity) and stop it when it must not go on (a step or time
 * budget spent, a BPMN error nothing catches). They share this object's state; the
 * orchestration (process-runtime.ts) reads it once the run settled.
 */
export interface ListenerOptions {
  instanceId: string;
  /** Entries per activity id: committed ones, counted on by this run. */
  visits: Record<string, number>;
  maxSteps: number;
  maxRunMs: number;
  /** The engine's own time so far (without inline handlers' work). */
  engineMs(): number;
  /** Work in flight (inline handlers, stack hops): a throw is judged once it is done. */
  inflight: ReadonlySet<Promise<unknown>>;
  stop(): void;
  /** The error event sub-process start that catches `code` thrown at an activity, if it is the next catcher. */
  errorEventStart(thrower: { id: string; executionId: string; activity?: unknown }, code: string): { trigger(detail: { code: string; message: string }): void } | null;
}

export class TransitionListeners {
  readonly emitter = new EventEmitter();
  readonly history: HistoryEntry[] = [];
  /** What waits now, by execution id: user tasks, catch events, receive tasks, call activities. */
  readonly waits = new Map<string, ActivityEvent>();
  readonly callActivities = new Map<string, CallActivityWait>();
  steps = 0;
  /** Why the run stopped; null while it goes on. */
  failure: unknown = null;

  // Executions that ended, were discarded or threw in this run; any other that leaves was interrupted.
  private readonly closed = new Set<string>();
  private readonly caughtFrom = new Map<string, number>();
  private readonly uncaughtThrows = new Set<string>();
  // Throws judged while work was pending: `judgeDeferred` judges them once nothing is in flight.
  // (Tracking the re-judge itself would keep `inflight` from ever emptying.)
  private readonly deferredThrows: Array<() => void> = [];
  private readonly raisedToEventSubProcess = new Set<string>();

  constructor(private readonly options: ListenerOptions) {
    this.listen();
  }

  /** Stops the run for `error`, unless it already stopped. */
  fail(error: unknown): void {
    this.failure ??= error;
  }

  /** Judges the throws deferred while work was in flight; returns whether there were any. */
  judgeDeferred(): boolean {
    return this.deferredThrows.splice(0).map((judge) => judge()).length > 0;
  }

  /**
   * A BPMN error raised at an activity (handler, worker, failed called instance) goes to the error
   * event sub-process that catches it, if that is the next catcher (see errorEventStartFor). Its
   * start event interrupts the scope, which discards the activity: recorded as its error.
   */
  raiseToEventSubProcess(api: Pick<ActivityEvent, 'id' | 'type' | 'executionId' | 'content'>, code: string, message: string, activity?: unknown): boolean {
    if (this.failure) return false;
    const start = this.options.errorEventStart({ id: api.id, executionId: api.executionId, activity }, code);
    if (!start) return false;
    this.raisedToEventSubProcess.add(api.executionId);
    this.closed.add(api.executionId);
    this.stamp('error', api, this.withParent(api, { error: message, errorCode: code }));
    start.trigger({ code, message });
    return true;
  }

  // Inside a sub-process, the end rows name the enclosing execution (the parent of its span).
  private withParent(api: Pick<ActivityEvent, 'content'>, data?: Record<string, unknown>) {
    const parent = api.content.parent;
    if (!parent?.executionId || parent.type === 'bpmn:Process') return data;
    // A multi-instance iteration runs as `<sub-process execution>_<index>`: its span is the sub-process's.
    const parsed = parseExecutionId(String(parent.executionId));
    const executionId = parsed?.iteration && parsed.activityId === parent.id ? parsed.execution : String(parent.executionId);
    return { ...data, parentExecutionId: executionId };
  }

  // Nothing after a failure is recorded: bpmn-engine's stop lets the current step run on, and
  // what runs then is discarded with the run (or, for an uncaught error, never happened).
  private stamp(event: string, api: Pick<ActivityEvent, 'id' | 'type' | 'executionId' | 'content'>, data?: Record<string, unknown>) {
    if (this.failure) return;
    this.history.push({
      activityId: api.id,
      activityType: api.type,
      activityName: api.content.name,
      executionId: api.executionId,
      event,
      at: new Date(),
      data,
    });
  }

  private takeCatch(sourceId: string): boolean {
    const caught = this.caughtFrom.get(sourceId) ?? 0;
    if (caught > 0) this.caughtFrom.set(sourceId, caught - 1);
    return caught > 0;
  }

  private judgeThrow(api: ActivityEvent, error: any, mark: number): void {
    if (this.failure || this.takeCatch(api.id)) return;
    if (this.options.inflight.size) return void this.deferredThrows.push(() => this.judgeThrow(api, error, mark));
    // Without an errorRef there is no code or name: bpmn-elements calls it `anonymous`.
    const referenced = error.type === 'bpmn:Error';
    const code = String((referenced && (error.code ?? error.id)) || 'unknown');
    const message = referenced ? String(error.name ?? error.code ?? '') : '';
    this.uncaughtThrows.add(api.executionId);
    this.closed.add(api.executionId);
    // What ran on while the catch was still possible (the thrower's end, the next activities) never happened.
    this.history.length = Math.min(this.history.length, mark);
    this.stamp('error', api, this.withParent(api, { error: message || 'error end event without errorRef', errorCode: code, uncaught: true }));
    this.failure = new UncaughtError(describeUncaught(api.id, code, message));
    this.options.stop();
  }

  /**
   * A wait ends when its activity leaves or is discarded (also inside sub-processes, which the
   * definition's postponed list does not show), or when a scope around it leaves: a terminate end
   * event ends its sub-process without a word to the activities still in it.
   */
  private forget(api: ActivityEvent): void {
    for (const [executionId, wait] of this.waits) {
      if (executionId === api.executionId || (wait.id === api.id && executionId.startsWith(api.executionId)) || insideScope(wait.content.parent, api.executionId)) {
        this.waits.delete(executionId);
        this.callActivities.delete(executionId);
      }
    }
  }

  private listen(): void {
    const { emitter: listener, options } = this;
    listener.on('activity.start', (api: ActivityEvent) => {
      if (api.content.isRootScope === false) return;
      const overTime = options.engineMs() > options.maxRunMs;
      if ((++this.steps > options.maxSteps || overTime) && !this.failure) {
        const budget = overTime ? `for more than ${options.maxRunMs} ms` : `more than ${options.maxSteps} activities`;
        this.failure = new AppError('STEP_LIMIT_EXCEEDED', `${budget} ran without reaching a wait state (last: ${api.id}); is there a loop without a wait state?`, {
          details: { activityId: api.id, steps: this.steps },
        });
        options.stop();
        return;
      }
      options.visits[api.id] = (options.visits[api.id] ?? 0) + 1;
      this.stamp('start', api, this.withParent(api));
    });
    // Error end events: bpmn-elements lets a thrown error that nothing catches end like a none
    // end event, and the run goes on after it. Delegation is synchronous, but its order is not
    // fixed: in a fresh run the catching boundary event or event sub-process catches before the
    // throw reaches this listener; in a run recovered from saved state the event sub-process's
    // start event catches right after it, in the same synchronous stretch. So a throw with no
    // catch yet is judged a microtask later (after pending stack hops, which may hold the catch),
    // and only then, still uncaught, stops the run.
    listener.on('activity.catch', (api: ActivityEvent) => {
      const sourceId = api.content.source?.id;
      if (!sourceId || !isThrownError(api.content.error)) return;
      this.caughtFrom.set(sourceId, (this.caughtFrom.get(sourceId) ?? 0) + 1);
    });
    listener.on('activity.throw', (api: ActivityEvent) => {
      const error = api.content.message;
      if (!isThrownError(error) || this.failure) return;
      if (this.takeCatch(api.id)) return;
      const mark = this.history.length;
      queueMicrotask(() => this.judgeThrow(api, error, mark));
    });
    listener.on('activity.end', (api: ActivityEvent) => {
      if (this.uncaughtThrows.has(api.executionId)) return;
      if (api.content.isRootScope === false) return;
      this.closed.add(api.executionId);
      this.stamp('end', api, this.withParent(api));
    });
    listener.on('activity.discard', (api: ActivityEvent) => {
      this.forget(api);
      if (api.content.isRootScope === false || this.raisedToEventSubProcess.has(api.executionId)) return;
      this.closed.add(api.executionId);
      this.stamp('discard', api, this.withParent(api));
    });
    // A task interrupted by a boundary event (timer, message, signal) leaves without an end or discard.
    listener.on('activity.leave', (api: ActivityEvent) => {
      if (api.content.isRootScope === false || this.closed.has(api.executionId)) return;
      this.closed.add(api.executionId);
      this.stamp('interrupt', api, this.withParent(api));
    });
    // An activity that throws (a BPMN error caught by a boundary event) leaves without an end.
    listener.on('activity.error', (api: ActivityEvent) => {
      if (api.content.isRootScope === false) return;
      const error = api.content.error ?? {};
      const code = error.code ?? error.source?.content?.error?.code;
      this.closed.add(api.executionId);
      this.stamp('error', api, this.withParent(api, { error: String(error.description ?? error.message ?? 'error'), ...(code && { errorCode: String(code) }) }));
    });
    listener.on('activity.leave', (api: ActivityEvent) => this.forget(api));
    listener.on('wait', (api: ActivityEvent) => {
      this.waits.set(api.executionId, api);
    });
    listener.on('activity.call', (api: ActivityEvent) => {
      this.waits.set(api.executionId, api);
      const iteration = api.content.isMultiInstance && Number.isInteger(api.content.index) ? Number(api.content.index) : undefined;
      this.callActivities.set(api.executionId, {
        activityId: api.id,
        executionId: api.executionId,
        calledElement: String(api.content.calledElement ?? ''),
        key: idempotencyKeyOf(options.instanceId, api.id, options.visits[api.id] ?? 0, iteration),
      });
    });
  }
}

/**
 * What an error end event throws: its bpmn:Error, or, without an errorRef, bpmn-elements'
 * anonymous error (`{ name: 'anonymous', referenceType: 'throw' }`), which only a catch-all
 * error event (no errorRef either) catches. Other throws (escalation, signal, ...) are not errors.
 */
function isThrownError(message: { type?: string; referenceType?: string } | undefined): boolean {
  return message?.type === 'bpmn:Error' || message?.referenceType === 'throw';
}

/** An error end event whose error nothing caught (raised from the listener, which stops the run). */
export class UncaughtError extends Error {
  constructor(readonly detail: UncaughtBpmnError) {
    super(detail.summary);
  }
}

export function describeUncaught(activityId: string, errorCode: string, errorMessage: string): UncaughtBpmnError {
  const message = errorMessage && errorMessage !== errorCode ? `: ${errorMessage}` : '';
  return { activityId, errorCode, errorMessage, summary: `unhandled BPMN error ${errorCode}${message} (thrown by ${activityId})` };
}
