import type { ProcessSettings } from '../timer-schedule.js';
import { AppError } from '../../errors.js';
import type {
  ExternalTaskWait,
  HandlerFailure,
  SubscriptionWait,
  TimerFailure,
  TransitionEvent,
  TransitionOutcome,
  UncaughtBpmnError,
  UserTaskWait,
  Variables,
} from '../types.js';
import type { CompiledDefinition } from '../definition-cache.js';
import { TimersRelay, TransitionTimers } from './transition-timers.js';
import { shiftDueTimes } from './state-clock.js';
import { BpmnErrorSignal, bindServiceTasks, type DecisionTaskEvaluator, type InlineHandlerLookup, type ServiceCompletion } from './service-binding.js';
import { readUserTask } from './camunda-properties.js';
import { createStackYield } from './stack-yield.js';
import { parallelJoinExtension } from './parallel-join.js';
import { VISITS_KEY } from './execution-ids.js';
import { safeCopy } from './variables.js';
import { BpmnInstance, classifyWait, failCallActivity, resolveInScope, setVariables, type ActivityEvent } from './bpmn-adapter.js';
import { describeUncaught, TransitionListeners, UncaughtError } from './transition-listeners.js';
import {
  afterFiring,
  armedEventStarts,
  errorEventStartFor,
  scheduleTimers,
  STATE_KEY,
  triggerEventStart,
  type ArmedEventStart,
  type EventStartTimers,
} from './event-sub-process-starts.js';

export { safeCopy } from './variables.js';

export interface RuntimeOptions {
  expressions: object;
  scripts: object;
  inlineHandlers: InlineHandlerLookup;
  /** Activity starts allowed in one transition before it is stopped with an incident. */
  maxSteps: number;
  /** Wall time one transition may run activities before it is stopped the same way. @default 10000 */
  maxRunMs?: number;
  /** Read by diagrams as `${environment.settings.NAME}` (see ProcessSettings). */
  settings?: ProcessSettings;
  /** Evaluates business rule tasks' decisions (`camunda:decisionRef`). */
  decisions?: DecisionTaskEvaluator;
  /** This node's clock minus the database's, in ms (NodeClockOffset, cached: asked at every transition); absent: the same clock. */
  clockOffset?: () => Promise<number>;
}

export interface InstanceContext {
  instanceId: string;
  processKey: string;
  businessKey?: string | null;
  /** Saved state; absent for a new instance. */
  state?: unknown;
  variables?: Variables;
  /** Executions whose inline handler failed and awaits a retry: do not run them again. */
  parkedExecutions?: ReadonlySet<string>;
  /** A timer start event whose job fired: its timer is due now, whatever it says. */
  dueNow?: string;
  /** Entries per activity id so far, committed ones and this run's (kept in the saved state). */
  visits?: Record<string, number>;
  /**
   * This instance's engine as its last committed transition left it (see warm-instances.ts):
   * resumed instead of recovering `state`. The caller vouches that `state` is what it committed.
   */
  warm?: WarmInstance;
  /**
   * Called with the engine, parked, when it may serve the instance's next transition (the
   * instance waits and nothing failed). The caller keeps it only once the outcome committed.
   */
  onParked?: (warm: WarmInstance) => void;
}

/** An instance's live engine between two transitions, with the bindings a next run rebinds. */
export interface WarmInstance {
  readonly definitionId: string;
  readonly engine: BpmnInstance;
  readonly services: ReturnType<typeof bindServiceTasks>;
  readonly stackYield: ReturnType<typeof createStackYield>;
  readonly timers: TimersRelay;
}

/**
 * Runs one transition of one instance: recover (or start) the bpmn-engine, apply one
 * event, run until every token waits or the instance ends, and report what it became.
 * It touches no database: the caller commits the outcome. The engine is reached through
 * its adapter (bpmn-adapter.ts); what the run does is recorded by its listeners
 * (transition-listeners.ts).
 */
export class ProcessRuntime {
  constructor(private readonly options: RuntimeOptions) {}

  async run(definition: CompiledDefinition, given: InstanceContext, event: TransitionEvent | null): Promise<TransitionOutcome> {
    const { outcome, warm } = await this.runOnce(definition, given, event);
    if (warm) given.onParked?.(warm);
    return outcome;
  }

  private async runOnce(
    definition: CompiledDefinition,
    given: InstanceContext,
    event: TransitionEvent | null,
  ): Promise<{ outcome: TransitionOutcome; warm?: WarmInstance }> {
    const committedVisits = ((given.state as Record<string, unknown> | undefined)?.[VISITS_KEY] ?? {}) as Record<string, number>;
    const visits: Record<string, number> = { ...committedVisits };
    const instance: InstanceContext = { ...given, visits };
    const timers = new TransitionTimers(instance.dueNow);
    const handlerFailures: HandlerFailure[] = [];
    const decisionEvaluations: NonNullable<TransitionOutcome['decisionEvaluations']> = [];
    const completions = new Map<string, ServiceCompletion>();
    const inflight = new Set<Promise<unknown>>();
    const runStartedAt = Date.now();
    // The time budget is the engine's own: time while an inline handler works (a measurement, a
    // call to another system) is the handler's, bounded by its own timeouts, not a loop's.
    let handlersBusy = 0;
    let handlersBusySince = 0;
    let handlerMs = 0;
    // Pending work the transition must wait for before it can save: inline handlers, stack hops.
    const track = (promise: Promise<unknown>) => {
      inflight.add(promise);
      void promise.finally(() => inflight.delete(promise));
    };
    const trackHandler = (promise: Promise<unknown>) => {
      if (handlersBusy++ === 0) handlersBusySince = Date.now();
      track(
        promise.finally(() => {
          if (--handlersBusy === 0) handlerMs += Date.now() - handlersBusySince;
        }),
      );
    };
    const engineMs = () => Date.now() - runStartedAt - handlerMs - (handlersBusy ? Date.now() - handlersBusySince : 0);
    let eventStartTimers: EventStartTimers = {};

    if (event?.type === 'complete-external-task') {
      completions.set(event.executionId, { kind: 'complete', variables: event.variables });
    } else if (event?.type === 'external-task-bpmn-error') {
      completions.set(event.executionId, {
        kind: 'bpmn-error',
        variables: event.variables,
        errorCode: event.errorCode,
        errorMessage: event.errorMessage ?? event.errorCode,
      });
    } else if (event?.type === 'retry-handler') {
      completions.set(event.executionId, { kind: 'retry' });
    }

    // The engine is created below (its extensions need the listeners): the listeners reach it late.
    let bpmn: BpmnInstance | undefined;
    const listeners = new TransitionListeners({
      instanceId: instance.instanceId,
      visits,
      maxSteps: this.options.maxSteps,
      maxRunMs: this.options.maxRunMs ?? 10_000,
      engineMs,
      inflight,
      stop: () => bpmn?.stop(),
      errorEventStart: (thrower, code) => {
        const start = bpmn && errorEventStartFor(bpmn.raw, thrower, code);
        return start ? { trigger: (detail) => triggerEventStart(start, detail) } : null;
      },
    });
    const failed = () => listeners.failure !== null;
    const root = () => bpmn?.rootEnvironment() ?? null;

    const warm = given.warm?.definitionId === definition.id ? given.warm : undefined;
    const bindings: Parameters<typeof bindServiceTasks>[0] = {
      instance,
      definition,
      inlineHandlers: this.options.inlineHandlers,
      completions,
      track,
      trackHandler,
      // Outputs are process variables (as in Camunda 7), also from inside a sub-process.
      setVariables: (activityEnvironment, variables) => setVariables(activityEnvironment, variables, root()),
      onHandlerFailure: (failure) => handlerFailures.push(failure),
      raiseToEventSubProcess: (activity, executeMessage, code, message) =>
        listeners.raiseToEventSubProcess(
          { id: activity.id, type: activity.type, executionId: executeMessage.content.executionId, content: executeMessage.content },
          code,
          message,
          activity,
        ),
      halted: failed,
      decisions: this.options.decisions,
      recordDecisions: (records) => {
        if (!failed()) decisionEvaluations.push(...(records as typeof decisionEvaluations));
      },
    };
    const stackYieldOptions = { budget: 40, track, stopped: failed };

    let services: WarmInstance['services'];
    let stackYield: WarmInstance['stackYield'];
    let timersRelay: TimersRelay;
    let engine: BpmnInstance;
    if (warm) {
      ({ services, stackYield, engine } = warm);
      services.rebind(bindings);
      stackYield.rebind(stackYieldOptions);
      timersRelay = warm.timers;
      timersRelay.current = timers;
    } else {
      services = bindServiceTasks(bindings);
      stackYield = createStackYield(stackYieldOptions);
      timersRelay = new TimersRelay(timers);
      engine = new BpmnInstance({
        name: instance.instanceId,
        sourceContext: definition.sourceContext,
        expressions: this.options.expressions,
        scripts: this.options.scripts,
        timers: timersRelay,
        extensions: { regenflowServices: services.extension, regenflowStackYield: stackYield.extension, regenflowParallelJoin: parallelJoinExtension },
        settings: { ...this.options.settings },
      });
    }
    bpmn = engine;
    engine.onError((error) => listeners.fail(error));

    // The saved due times are on the database's clock; bpmn-elements and the event sub-process starts
    // below compare them with this node's (a warm engine's own are on it already). An offset of 0,
    // the usual case, leaves the state as it is.
    const clockOffset = (await this.options.clockOffset?.()) ?? 0;
    const resumedState = shiftDueTimes(instance.state, clockOffset);
    try {
      if (warm) await engine.resumeParked(listeners.emitter);
      else if (resumedState) await engine.resume(resumedState, listeners.emitter);
      else await engine.start(listeners.emitter, { ...(instance.variables ?? {}) });
      // Event sub-process starts armed while the instance waited (see event-sub-process-starts.ts).
      const armed = armedEventStarts(engine.raw);
      const saved = ((resumedState as Record<string, unknown> | undefined)?.[STATE_KEY] ?? {}) as EventStartTimers;
      eventStartTimers = { ...saved };
      for (const start of armed) {
        const schedule = saved[start.key];
        if (start.kind !== 'timer' || !schedule || 'done' in schedule) continue;
        if (new Date(schedule.dueAt).getTime() > Date.now() && instance.dueNow !== start.startId) continue;
        timers.forceDue(start.startId);
        eventStartTimers[start.key] = afterFiring(start, schedule);
        if (!failed()) triggerEventStart(start);
      }
      if (!failed() && event) this.apply(engine, event, listeners, armed);
      await settle(inflight, timers, failed, () => listeners.judgeDeferred());
    } catch (error) {
      listeners.fail(error);
    }

    const { history, waits, callActivities, steps } = listeners;
    const failure = listeners.failure;
    const uncaught = failure ? uncaughtBpmnError(failure) : null;
    if (uncaught) {
      // See `uncaughtBpmnError`: the instance ends failed, keeping nothing that waits.
      return {
        outcome: {
        status: 'failed',
        state: null,
        variables: engine.rootVariables() ?? { ...(instance.variables ?? {}) },
        userTasks: [],
        externalTasks: [],
        subscriptions: [],
        timers: [],
        callActivities: [],
        history,
        handlerFailures: [],
        decisionEvaluations,
        steps,
        error: uncaught,
        },
      };
    }
    if (failure) throw asTransitionError(failure);

    const ended = engine.ended;
    // An ended instance keeps no state: skip serializing it.
    const state = ended ? null : await engine.saveState();
    const armedNow = ended ? [] : armedEventStarts(engine.raw);
    const timerFailures: TimerFailure[] = [];
    if (state) {
      const previous = eventStartTimers;
      eventStartTimers = scheduleTimers(engine.raw, armedNow, previous);
      for (const start of armedNow) {
        const schedule = eventStartTimers[start.key];
        if (schedule && 'error' in schedule && schedule.error && !previous[start.key]) {
          timerFailures.push({ activityId: start.startId, timerKey: start.key, message: schedule.error });
        }
      }
      state[STATE_KEY] = eventStartTimers;
      state[VISITS_KEY] = visits;
    }

    const userTasks: UserTaskWait[] = [];
    const subscriptions: SubscriptionWait[] = [];
    if (!ended) {
      for (const [executionId, api] of waits) {
        const kind = classifyWait(api);
        if (kind === 'user-task') userTasks.push(readUserTask(api, (text) => resolveInScope(this.options.expressions, text, api)));
        else if (kind === 'message' || kind === 'signal') {
          const ref = (kind === 'message' ? api.content.message : api.content.signal) ?? api.content.message ?? {};
          subscriptions.push({
            kind,
            name: String(ref.name ?? ref.id),
            refId: String(ref.id),
            activityId: api.id,
            executionId,
          });
        }
      }
      for (const start of armedNow) {
        if (start.kind === 'timer' || start.kind === 'error') continue;
        subscriptions.push({ kind: start.kind, name: start.name!, refId: start.refId!, activityId: start.startId, executionId: start.key });
      }
    }

    const externalTasks: ExternalTaskWait[] = ended ? [] : services.pendingExternalTasks();
    const variables = engine.rootVariables() ?? { ...(instance.variables ?? {}) };

    const outcome: TransitionOutcome = {
      status: ended ? 'completed' : 'active',
      // Saved with its due times on the database's clock, whichever node resumes it next.
      state: shiftDueTimes(state, -clockOffset),
      variables,
      userTasks,
      externalTasks,
      subscriptions,
      timers: ended
        ? []
        : timers.waiting
            .filter((timer) => timer.owner?.executionId)
            .map((timer) => ({ activityId: String(timer.owner?.id), timerKey: String(timer.owner?.executionId), dueAt: timer.dueAt }))
            .concat(
              armedNow.flatMap((start) => {
                const schedule = eventStartTimers[start.key];
                return start.kind === 'timer' && schedule && !('done' in schedule)
                  ? [{ activityId: start.startId, timerKey: start.key, dueAt: new Date(schedule.dueAt) }]
                  : [];
              }),
            ),
      callActivities: ended ? [] : [...callActivities.values()],
      history,
      handlerFailures,
      timerFailures,
      decisionEvaluations,
      steps,
    };
    // Only an instance that waits with nothing failed is worth keeping: an incident's retry, an
    // error or an end recovers from the committed state as before.
    const reusable = given.onParked && !ended && !handlerFailures.length && !timerFailures.length && !failed();
    if (!reusable || !(await engine.park())) return { outcome };
    return { outcome, warm: { definitionId: definition.id, engine, services, stackYield, timers: timersRelay } };
  }

  /** Applies the transition's event to the recovered (or started) engine. */
  private apply(engine: BpmnInstance, event: TransitionEvent, listeners: TransitionListeners, armed: ArmedEventStart[]) {
    const waits = listeners.waits;
    const root = () => engine.rootEnvironment();
    switch (event.type) {
      case 'resume':
      case 'complete-external-task':
      case 'external-task-bpmn-error':
      case 'retry-handler':
        return; // resuming re-invokes services and fires due timers by itself
      case 'set-variables': {
        const environment = root();
        if (environment) Object.assign(environment.variables, safeCopy(event.variables));
        return;
      }
      case 'complete-user-task': {
        const wait = waits.get(event.executionId);
        if (!wait || classifyWait(wait) !== 'user-task') {
          throw new AppError('TASK_NOT_ACTIVE', `user task execution ${event.executionId} is not waiting in this instance`);
        }
        setVariables(wait.environment, event.variables, root());
        engine.signal({ id: wait.id, executionId: event.executionId, message: safeCopy(event.variables) });
        return;
      }
      case 'deliver-message':
      case 'deliver-signal': {
        const target = event.executionId ? waits.get(event.executionId) : undefined;
        const eventStart = event.executionId && !target ? armed.find((start) => start.key === event.executionId) : undefined;
        if (eventStart) {
          const environment = root();
          if (environment) Object.assign(environment.variables, safeCopy(event.variables));
          triggerEventStart(eventStart, safeCopy(event.variables));
          return;
        }
        if (event.executionId && !target) {
          throw new AppError('SUBSCRIPTION_GONE', `execution ${event.executionId} no longer waits for ${event.refId}`);
        }
        if (target) setVariables(target.environment, event.variables, root());
        else {
          const environment = root();
          if (environment) Object.assign(environment.variables, safeCopy(event.variables));
        }
        engine.signal({
          id: event.refId,
          ...(event.executionId && { executionId: event.executionId }),
          message: safeCopy(event.variables),
        });
        // A broadcast signal also starts the event sub-processes waiting for it.
        if (event.type === 'deliver-signal' && !event.executionId) {
          for (const start of armed) if (start.kind === 'signal' && start.refId === event.refId) triggerEventStart(start, safeCopy(event.variables));
        }
        return;
      }
      case 'complete-call-activity': {
        const wait = calledFrom(waits, event.executionId);
        setVariables(wait.environment, event.variables, root());
        engine.signal({ id: wait.id, executionId: event.executionId, message: safeCopy(event.variables) });
        return;
      }
      case 'fail-call-activity': {
        const wait = calledFrom(waits, event.executionId);
        // The call activity errors with the child's code: an error boundary event on it, or an error
        // event sub-process of a scope around it, may catch it.
        if (listeners.raiseToEventSubProcess(wait, event.errorCode, event.errorMessage)) return;
        failCallActivity(wait, event.errorCode, event.errorMessage);
        return;
      }
    }
  }
}

function calledFrom(waits: ReadonlyMap<string, ActivityEvent>, executionId: string): ActivityEvent {
  const wait = waits.get(executionId);
  if (!wait || wait.type !== 'bpmn:CallActivity') {
    throw new AppError('SUBSCRIPTION_GONE', `call activity execution ${executionId} is not waiting in this instance`);
  }
  return wait;
}

/**
 * Waits until no inline handler is running, no deferred throw is left to judge and no due
 * timer is left to fire. `judgeDeferred` returns whether it judged any.
 */
async function settle(
  inflight: Set<Promise<unknown>>,
  timers: TransitionTimers,
  failed: () => boolean,
  judgeDeferred: () => boolean,
): Promise<void> {
  for (;;) {
    if (failed()) return;
    if (inflight.size) {
      await Promise.allSettled([...inflight]);
      continue;
    }
    if (judgeDeferred()) continue;
    if (timers.fireDue()) continue;
    // One more turn of the event loop: anything scheduled by the last step shows up now.
    await new Promise((resolve) => setImmediate(resolve));
    if (!inflight.size) return;
  }
}

/**
 * A BPMN error that no boundary event or event sub-process caught, in any scope up to the
 * process: thrown by an error end event, by a handler (BpmnErrorSignal) or reported by an
 * external-task worker (handleBpmnError). Such an instance ends `failed`.
 *
 * Why not an incident: Zeebe raises one ("unhandled error event"), but resolving it only
 * rethrows the same error into the same model (camunda/zeebe#6000), and Camunda 7 ends the
 * execution. A business error the model does not handle will not go away on retry; ending the
 * instance as failed, with the code, message and activity, makes it visible (status, /metrics,
 * trace, C7 history deleteReason) without pretending it can be retried. Technical failures
 * (a handler throwing anything else, a worker's failure report, an engine error) stay
 * retriable: incidents, or an error to the caller with nothing committed, as before.
 */
function uncaughtBpmnError(failure: unknown): UncaughtBpmnError | null {
  if (failure instanceof UncaughtError) return failure.detail;
  let error = failure as { inner?: unknown; source?: { content?: { id?: string } } } | undefined;
  let activityId: string | undefined;
  // Wrapped once per scope it left (task, sub-process, ...): the innermost source is the thrower.
  for (let depth = 0; error && depth < 10; depth++) {
    activityId = error.source?.content?.id ?? activityId;
    if (error instanceof BpmnErrorSignal) return describeUncaught(activityId ?? 'unknown', error.code, error.message);
    const fromChild = error as { calledInstanceError?: boolean; code?: string; message?: string };
    if (fromChild.calledInstanceError) return describeUncaught(activityId ?? 'unknown', String(fromChild.code), String(fromChild.message ?? ''));
    error = error.inner as typeof error;
  }
  return null;
}

function asTransitionError(failure: unknown): AppError {
  if (failure instanceof AppError) return failure;
  const error = failure as { message?: string; code?: string; source?: { content?: { id?: string } }; stack?: string };
  const activityId = error?.source?.content?.id;
  return new AppError('ENGINE_ERROR', `${activityId ? `${activityId}: ` : ''}${error?.message ?? String(failure)}`, {
    cause: failure,
    details: { activityId, errorCode: error?.code },
  });
}
