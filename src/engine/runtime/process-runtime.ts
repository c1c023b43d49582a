import type { ProcessSettings } from '../timer-schedule.js';
import { EventEmitter } from 'node:events';
import { Engine } from 'bpmn-engine';
import { AppError } from '../../errors.js';
import type {
  CallActivityWait,
  ExternalTaskWait,
  HandlerFailure,
  HistoryEntry,
  SubscriptionWait,
  TimerFailure,
  TransitionEvent,
  TransitionOutcome,
  UncaughtBpmnError,
  UserTaskWait,
  Variables,
} from '../types.js';
import type { CompiledDefinition } from '../definition-cache.js';
import { TransitionTimers } from './transition-timers.js';
import { BpmnErrorSignal, bindServiceTasks, type DecisionTaskEvaluator, type InlineHandlerLookup, type ServiceCompletion } from './service-binding.js';
import { readUserTask } from './camunda-properties.js';
import { createStackYield } from './stack-yield.js';
import { parallelJoinExtension } from './parallel-join.js';
import { idempotencyKeyOf, parseExecutionId, VISITS_KEY } from './execution-ids.js';
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

/** The no-op logger: bpmn-engine's debug logger costs ~15 % of throughput. */
const silentLogger = () => ({ debug() {}, error() {}, warn() {} });

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
}

interface WaitRecord {
  api: { id: string; type: string; executionId: string; content: Record<string, any>; environment: any; signal?: any };
}

/**
 * Runs one transition of one instance: recover (or start) the bpmn-engine, apply one
 * event, run until every token waits or the instance ends, and report what it became.
 * It touches no database: the caller commits the outcome.
 */
export class ProcessRuntime {
  constructor(private readonly options: RuntimeOptions) {}

  async run(definition: CompiledDefinition, given: InstanceContext, event: TransitionEvent | null): Promise<TransitionOutcome> {
    const committedVisits = ((given.state as Record<string, unknown> | undefined)?.[VISITS_KEY] ?? {}) as Record<string, number>;
    const visits: Record<string, number> = { ...committedVisits };
    const instance: InstanceContext = { ...given, visits };
    const timers = new TransitionTimers(instance.dueNow);
    const history: HistoryEntry[] = [];
    const waits = new Map<string, WaitRecord>();
    const handlerFailures: HandlerFailure[] = [];
    const decisionEvaluations: NonNullable<TransitionOutcome['decisionEvaluations']> = [];
    const callActivities = new Map<string, CallActivityWait>();
    const completions = new Map<string, ServiceCompletion>();
    const inflight = new Set<Promise<unknown>>();
    let steps = 0;
    const runStartedAt = Date.now();
    // The time budget is the engine's own: time while an inline handler works (a measurement, a
    // call to another system) is the handler's, bounded by its own timeouts, not a loop's.
    let handlersBusy = 0;
    let handlersBusySince = 0;
    let handlerMs = 0;
    const trackHandler = (promise: Promise<unknown>) => {
      if (handlersBusy++ === 0) handlersBusySince = Date.now();
      track(
        promise.finally(() => {
          if (--handlersBusy === 0) handlerMs += Date.now() - handlersBusySince;
        }),
      );
    };
    const engineMs = () => Date.now() - runStartedAt - handlerMs - (handlersBusy ? Date.now() - handlersBusySince : 0);
    let failure: unknown = null;
    let eventStartTimers: EventStartTimers = {};
    // Pending work the transition must wait for before it can save: inline handlers, stack hops.
    const track = (promise: Promise<unknown>) => {
      inflight.add(promise);
      void promise.finally(() => inflight.delete(promise));
    };

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

    const services = bindServiceTasks({
      instance,
      definition,
      inlineHandlers: this.options.inlineHandlers,
      completions,
      track,
      trackHandler,
      // Outputs are process variables (as in Camunda 7), also from inside a sub-process.
      setVariables: (activityEnvironment, variables) => setVariables(activityEnvironment, variables, rootEnvironmentOf(engine)),
      onHandlerFailure: (failed) => handlerFailures.push(failed),
      raiseToEventSubProcess: (activity, executeMessage, code, message) =>
        raiseToEventSubProcess(
          { id: activity.id, type: activity.type, executionId: executeMessage.content.executionId, content: executeMessage.content } as WaitRecord['api'],
          code,
          message,
          activity,
        ),
      halted: () => failure !== null,
      decisions: this.options.decisions,
      recordDecisions: (records) => {
        if (failure === null) decisionEvaluations.push(...(records as typeof decisionEvaluations));
      },
    });

    const stackYield = createStackYield({ budget: 40, track, stopped: () => failure !== null });

    const listener = new EventEmitter();
    // Inside a sub-process, the end rows name the enclosing execution (the parent of its span).
    const withParent = (api: WaitRecord['api'], data?: Record<string, unknown>) => {
      const parent = api.content.parent;
      if (!parent?.executionId || parent.type === 'bpmn:Process') return data;
      // A multi-instance iteration runs as `<sub-process execution>_<index>`: its span is the sub-process's.
      const parsed = parseExecutionId(String(parent.executionId));
      const executionId = parsed?.iteration && parsed.activityId === parent.id ? parsed.execution : String(parent.executionId);
      return { ...data, parentExecutionId: executionId };
    };
    // Nothing after a failure is recorded: bpmn-engine's stop lets the current step run on, and
    // what runs then is discarded with the run (or, for an uncaught error, never happened).
    const stamp = (event: string, api: WaitRecord['api'], data?: Record<string, unknown>) =>
      !failure &&
      history.push({
        activityId: api.id,
        activityType: api.type,
        activityName: api.content.name,
        executionId: api.executionId,
        event,
        at: new Date(),
        data,
      });
    listener.on('activity.start', (api) => {
      if (api.content.isRootScope === false) return;
      const overTime = engineMs() > (this.options.maxRunMs ?? 10_000);
      if ((++steps > this.options.maxSteps || overTime) && !failure) {
        const budget = overTime ? `for more than ${this.options.maxRunMs ?? 10_000} ms` : `more than ${this.options.maxSteps} activities`;
        failure = new AppError(
          'STEP_LIMIT_EXCEEDED',
          `${budget} ran without reaching a wait state (last: ${api.id}); is there a loop without a wait state?`,
          { details: { activityId: api.id, steps } },
        );
        engine.stop();
        return;
      }
      visits[api.id] = (visits[api.id] ?? 0) + 1;
      stamp('start', api, withParent(api));
    });
    // Executions that ended, were discarded or threw in this run; any other that leaves was interrupted.
    const closed = new Set<string>();
    // Error end events: bpmn-elements lets a thrown error that nothing catches end like a none
    // end event, and the run goes on after it. Delegation is synchronous, but its order is not
    // fixed: in a fresh run the catching boundary event or event sub-process catches before the
    // throw reaches this listener; in a run recovered from saved state the event sub-process's
    // start event catches right after it, in the same synchronous stretch. So a throw with no
    // catch yet is judged a microtask later (after pending stack hops, which may hold the catch),
    // and only then, still uncaught, stops the run.
    const caughtFrom = new Map<string, number>();
    const uncaughtThrows = new Set<string>();
    const takeCatch = (sourceId: string) => {
      const caught = caughtFrom.get(sourceId) ?? 0;
      if (caught > 0) caughtFrom.set(sourceId, caught - 1);
      return caught > 0;
    };
    listener.on('activity.catch', (api) => {
      const sourceId = api.content.source?.id;
      if (!sourceId || !isThrownError(api.content.error)) return;
      caughtFrom.set(sourceId, (caughtFrom.get(sourceId) ?? 0) + 1);
    });
    // Throws judged while work was pending: `settle` judges them once nothing is in flight. (Tracking
    // the re-judge itself would keep `inflight` from ever emptying.)
    const deferredThrows: Array<() => void> = [];
    const judgeThrow = (api: WaitRecord['api'], error: any, mark: number) => {
      if (failure || takeCatch(api.id)) return;
      if (inflight.size) return void deferredThrows.push(() => judgeThrow(api, error, mark));
      // Without an errorRef there is no code or name: bpmn-elements calls it `anonymous`.
      const referenced = error.type === 'bpmn:Error';
      const code = String((referenced && (error.code ?? error.id)) || 'unknown');
      const message = referenced ? String(error.name ?? error.code ?? '') : '';
      uncaughtThrows.add(api.executionId);
      closed.add(api.executionId);
      // What ran on while the catch was still possible (the thrower's end, the next activities) never happened.
      history.length = Math.min(history.length, mark);
      stamp('error', api, withParent(api, { error: message || 'error end event without errorRef', errorCode: code, uncaught: true }));
      failure = new UncaughtError(describeUncaught(api.id, code, message));
      engine.stop();
    };
    listener.on('activity.throw', (api) => {
      const error = api.content.message;
      if (!isThrownError(error) || failure) return;
      if (takeCatch(api.id)) return;
      const mark = history.length;
      queueMicrotask(() => judgeThrow(api, error, mark));
    });
    listener.on('activity.end', (api) => {
      if (uncaughtThrows.has(api.executionId)) return;
      if (api.content.isRootScope === false) return;
      closed.add(api.executionId);
      stamp('end', api, withParent(api));
    });
    listener.on('activity.discard', (api) => {
      forget(api);
      if (api.content.isRootScope === false || raisedToEventSubProcess.has(api.executionId)) return;
      closed.add(api.executionId);
      stamp('discard', api, withParent(api));
    });
    // A BPMN error raised at an activity (handler, worker, failed called instance) goes to the error
    // event sub-process that catches it, if that is the next catcher (see errorEventStartFor). Its
    // start event interrupts the scope, which discards the activity: recorded as its error.
    const raisedToEventSubProcess = new Set<string>();
    const raiseToEventSubProcess = (api: WaitRecord['api'], code: string, message: string, activity?: unknown): boolean => {
      if (failure) return false;
      const start = errorEventStartFor(engine, { id: api.id, executionId: api.executionId, activity }, code);
      if (!start) return false;
      raisedToEventSubProcess.add(api.executionId);
      closed.add(api.executionId);
      stamp('error', api, withParent(api, { error: message, errorCode: code }));
      triggerEventStart(start, { code, message });
      return true;
    };
    // A task interrupted by a boundary event (timer, message, signal) leaves without an end or discard.
    listener.on('activity.leave', (api) => {
      if (api.content.isRootScope === false || closed.has(api.executionId)) return;
      closed.add(api.executionId);
      stamp('interrupt', api, withParent(api));
    });
    // An activity that throws (a BPMN error caught by a boundary event) leaves without an end.
    listener.on('activity.error', (api) => {
      if (api.content.isRootScope === false) return;
      const error = api.content.error ?? {};
      const code = error.code ?? error.source?.content?.error?.code;
      closed.add(api.executionId);
      stamp('error', api, withParent(api, { error: String(error.description ?? error.message ?? 'error'), ...(code && { errorCode: String(code) }) }));
    });
    // A wait ends when its activity leaves or is discarded (also inside sub-processes,
    // which the definition's postponed list does not show), or when a scope around it leaves:
    // a terminate end event ends its sub-process without a word to the activities still in it.
    const forget = (api: WaitRecord['api']) => {
      for (const [executionId, wait] of waits) {
        if (
          executionId === api.executionId ||
          (wait.api.id === api.id && executionId.startsWith(api.executionId)) ||
          insideScope(wait.api.content.parent, api.executionId)
        ) {
          waits.delete(executionId);
          callActivities.delete(executionId);
        }
      }
    };
    listener.on('activity.leave', forget);
    listener.on('wait', (api) => {
      waits.set(api.executionId, { api });
    });
    listener.on('activity.call', (api) => {
      waits.set(api.executionId, { api });
      const iteration = api.content.isMultiInstance && Number.isInteger(api.content.index) ? Number(api.content.index) : undefined;
      callActivities.set(api.executionId, {
        activityId: api.id,
        executionId: api.executionId,
        calledElement: String(api.content.calledElement ?? ''),
        key: idempotencyKeyOf(instance.instanceId, api.id, visits[api.id] ?? 0, iteration),
      });
    });

    // bpmn-engine's typings are narrower than what it accepts (custom timers and context).
    const engine = new Engine({
      name: instance.instanceId,
      sourceContext: definition.sourceContext,
      Logger: silentLogger,
      expressions: this.options.expressions,
      scripts: this.options.scripts,
      timers,
      services: {},
      extensions: { regenflowServices: services.extension, regenflowStackYield: stackYield, regenflowParallelJoin: parallelJoinExtension },
      settings: { ...this.options.settings, enableDummyService: false, strict: false },
    } as any);
    engine.on('error', (error: unknown) => {
      failure ??= error;
    });

    try {
      if (instance.state) {
        engine.recover(instance.state as any); // a fresh copy: loaded from the row for this transition
        await engine.resume({ listener });
      } else {
        await engine.execute({ listener, variables: { ...(instance.variables ?? {}) } });
      }
      // Event sub-process starts armed while the instance waited (see event-sub-process-starts.ts).
      const armed = armedEventStarts(engine);
      const saved = ((instance.state as Record<string, unknown> | undefined)?.[STATE_KEY] ?? {}) as EventStartTimers;
      eventStartTimers = { ...saved };
      for (const start of armed) {
        const schedule = saved[start.key];
        if (start.kind !== 'timer' || !schedule || 'done' in schedule) continue;
        if (new Date(schedule.dueAt).getTime() > Date.now() && instance.dueNow !== start.startId) continue;
        timers.forceDue(start.startId);
        eventStartTimers[start.key] = afterFiring(start, schedule);
        if (!failure) triggerEventStart(start);
      }
      if (!failure && event) this.apply(engine, event, waits, () => rootEnvironmentOf(engine), armed, raiseToEventSubProcess);
      await settle(inflight, timers, () => failure !== null, () => deferredThrows.splice(0).map((judge) => judge()).length > 0);
    } catch (error) {
      failure ??= error;
    }

    const uncaught = failure ? uncaughtBpmnError(failure) : null;
    if (uncaught) {
      // See `uncaughtBpmnError`: the instance ends failed, keeping nothing that waits.
      return {
        status: 'failed',
        state: null,
        variables: readRootVariables(engine) ?? { ...(instance.variables ?? {}) },
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
      };
    }
    if (failure) throw asTransitionError(failure);

    const execution = engine.execution as any;
    const ended = engine.state === 'idle' && !(execution?.getPostponed?.() ?? []).length;
    // An ended instance keeps no state: skip serializing it.
    const state = ended ? null : ((await engine.getState()) as any);
    for (const definitionState of state?.definitions ?? []) delete definitionState.source;
    const armedNow = ended ? [] : armedEventStarts(engine);
    const timerFailures: TimerFailure[] = [];
    if (state) {
      const previous = eventStartTimers;
      eventStartTimers = scheduleTimers(engine, armedNow, previous);
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
      for (const [executionId, { api }] of waits) {
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
    const variables = readRootVariables(engine) ?? { ...(instance.variables ?? {}) };

    return {
      status: ended ? 'completed' : 'active',
      state,
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
  }

  private apply(
    engine: any,
    event: TransitionEvent,
    waits: Map<string, WaitRecord>,
    root: () => { variables: Variables } | null,
    armed: ArmedEventStart[],
    raiseToEventSubProcess: (api: WaitRecord['api'], code: string, message: string) => boolean,
  ) {
    const execution = engine.execution;
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
        if (!wait || classifyWait(wait.api) !== 'user-task') {
          throw new AppError('TASK_NOT_ACTIVE', `user task execution ${event.executionId} is not waiting in this instance`);
        }
        setVariables(wait.api.environment, event.variables, root());
        execution.signal({ id: wait.api.id, executionId: event.executionId, message: safeCopy(event.variables) });
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
        if (target) setVariables(target.api.environment, event.variables, root());
        else {
          const environment = root();
          if (environment) Object.assign(environment.variables, safeCopy(event.variables));
        }
        execution.signal({
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
        const wait = waits.get(event.executionId);
        if (!wait || wait.api.type !== 'bpmn:CallActivity') {
          throw new AppError('SUBSCRIPTION_GONE', `call activity execution ${event.executionId} is not waiting in this instance`);
        }
        setVariables(wait.api.environment, event.variables, root());
        execution.signal({ id: wait.api.id, executionId: event.executionId, message: safeCopy(event.variables) });
        return;
      }
      case 'fail-call-activity': {
        const wait = waits.get(event.executionId);
        if (!wait || wait.api.type !== 'bpmn:CallActivity') {
          throw new AppError('SUBSCRIPTION_GONE', `call activity execution ${event.executionId} is not waiting in this instance`);
        }
        // The call activity errors with the child's code: an error boundary event on it, or an error
        // event sub-process of a scope around it, may catch it.
        if (raiseToEventSubProcess(wait.api, event.errorCode, event.errorMessage)) return;
        (wait.api as any).sendApiMessage('error', { message: event.errorMessage, code: event.errorCode, calledInstanceError: true });
        return;
      }
    }
  }
}

/** Whether an activity's parent chain (bpmn-elements' `parent` with its `path`) runs in the scope execution (or one of its iterations). */
function insideScope(parent: { executionId?: string; path?: Array<{ executionId?: string }> } | undefined, scopeExecutionId: string): boolean {
  if (!parent) return false;
  const within = (executionId?: string) => Boolean(executionId) && (executionId === scopeExecutionId || executionId!.startsWith(`${scopeExecutionId}_`));
  return within(parent.executionId) || (parent.path ?? []).some((ancestor) => within(ancestor.executionId));
}

/** The environment of the instance's process: where process variables live. */
function rootEnvironmentOf(engine: any): { variables: Variables } | null {
  for (const definition of engine.execution?.definitions ?? []) {
    for (const process of definition.getProcesses?.() ?? []) {
      if (process.environment?.variables) return process.environment;
    }
  }
  return null;
}

/**
 * bpmn-elements copies the process run message (`fields`, `content`, `properties`) into the
 * process variables; those are engine internals, not variables anyone set.
 */
function readRootVariables(engine: any): Variables | null {
  const variables = rootEnvironmentOf(engine)?.variables;
  if (!variables) return null;
  const copy = { ...variables };
  const content = copy.content as { type?: string } | undefined;
  if (content && typeof content === 'object' && content.type === 'bpmn:Process' && 'fields' in copy) {
    delete copy.content;
    delete copy.fields;
    delete copy.properties;
  }
  return copy;
}

function classifyWait(api: WaitRecord['api']): 'user-task' | 'message' | 'signal' | 'other' {
  switch (api.type) {
    case 'bpmn:UserTask':
    case 'bpmn:ManualTask':
      return 'user-task';
    case 'bpmn:MessageEventDefinition':
    case 'bpmn:ReceiveTask':
      return 'message';
    case 'bpmn:SignalEventDefinition':
      return 'signal';
    default:
      return 'other';
  }
}

/** Variables from outside are copied through JSON so no `__proto__` key reaches an object. */
export function safeCopy(variables: Variables): Variables {
  const copy: Variables = Object.create(null);
  for (const [key, value] of Object.entries(variables ?? {})) {
    if (key === '__proto__' || key === 'constructor' || key === 'prototype') continue;
    copy[key] = value;
  }
  return { ...copy };
}

/** Sets process variables as Camunda does: on the root scope, visible to the local scope too. */
function setVariables(activityEnvironment: any, variables: Variables, root?: { variables: Variables } | null) {
  const copy = safeCopy(variables);
  if (activityEnvironment?.variables) Object.assign(activityEnvironment.variables, copy);
  if (root && root !== activityEnvironment) Object.assign(root.variables, copy);
}

function resolveInScope(expressions: any, text: string, api: any): unknown {
  if (!expressions.hasExpression(text)) return text;
  return expressions.resolveExpression(text, { environment: api.environment, content: api.content });
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
 * What an error end event throws: its bpmn:Error, or, without an errorRef, bpmn-elements'
 * anonymous error (`{ name: 'anonymous', referenceType: 'throw' }`), which only a catch-all
 * error event (no errorRef either) catches. Other throws (escalation, signal, ...) are not errors.
 */
function isThrownError(message: any): boolean {
  return message?.type === 'bpmn:Error' || message?.referenceType === 'throw';
}

/** An error end event whose error nothing caught (raised from the listener, which stops the run). */
class UncaughtError extends Error {
  constructor(readonly detail: UncaughtBpmnError) {
    super(detail.summary);
  }
}

function describeUncaught(activityId: string, errorCode: string, errorMessage: string): UncaughtBpmnError {
  const message = errorMessage && errorMessage !== errorCode ? `: ${errorMessage}` : '';
  return { activityId, errorCode, errorMessage, summary: `unhandled BPMN error ${errorCode}${message} (thrown by ${activityId})` };
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
