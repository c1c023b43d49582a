import { nextStartTimerDue } from '../timer-schedule.js';

/**
 * Message, signal and timer start events of event sub-processes (triggeredByEvent).
 *
 * bpmn-elements starts an event sub-process only when an event thrown inside its scope is
 * delegated to it (an error, escalation, a thrown signal or message): a message correlated
 * from outside, a broadcast signal or a timer never reach it, and an interrupting start does
 * not cancel the scope's other activities. As in Camunda 7 and Zeebe, regenflow makes these
 * start events wait like boundary events while their scope (the process or a sub-process)
 * runs: each becomes a subscription or a timer job, keyed by the scope's execution id and
 * the start event, and the transition that delivers it runs the event sub-process in that
 * scope, cancelling the scope's other activities when the start event is interrupting.
 */

export type EventStartKind = 'message' | 'signal' | 'timer' | 'error';

export interface ArmedEventStart {
  /** `<scope execution id>/<start event id>`: stable while the scope runs. */
  key: string;
  kind: EventStartKind;
  startId: string;
  eventSubProcessId: string;
  interrupting: boolean;
  /** message, signal or error: the referenced element (none: a catch-all error start) */
  refId?: string;
  name?: string;
  /** timer */
  timerType?: 'timeDuration' | 'timeDate' | 'timeCycle';
  expression?: string;
  /** timer: why its text did not resolve */
  error?: string;
  scope: any;
}

/** Timer schedules of armed timer starts, kept in the saved state between transitions. */
export type EventStartTimers = Record<string, { dueAt: string; remaining?: number } | { done: true; error?: string }>;

export const STATE_KEY = 'regenflowEventStartTimers';

/** A running scope (process execution, sub-process execution) and where it runs: null at the top. */
interface RunningScope {
  scope: any;
  parent: RunningScope | null;
}

/** Every running scope of the engine, outer ones first. */
function runningScopeTree(engine: any): RunningScope[] {
  const scopes: RunningScope[] = [];
  const visit = (execution: any, parent: RunningScope | null) => {
    if (!execution || execution.completed) return;
    const entry = { scope: execution, parent };
    scopes.push(entry);
    for (const child of execution.getActivities?.() ?? []) {
      if (!child.isSubProcess || !child.isRunning) continue;
      for (const inner of child.execution?.source?.executions ?? []) visit(inner, entry);
    }
  };
  for (const definition of engine.execution?.definitions ?? []) {
    for (const process of definition.getProcesses?.() ?? []) {
      if (process.isRunning) visit(process.execution, null);
    }
  }
  return scopes;
}

function runningScopes(engine: any): any[] {
  return runningScopeTree(engine).map((entry) => entry.scope);
}

function isInterrupting(start: any): boolean {
  return start.behaviour?.isInterrupting !== false;
}

/** The event starts that wait now: in every running scope not already interrupted by one of its event sub-processes. */
export function armedEventStarts(engine: any): ArmedEventStart[] {
  const armed: ArmedEventStart[] = [];
  for (const scope of runningScopes(engine)) {
    const eventSubProcesses = (scope.getActivities?.() ?? []).filter((child: any) => child.triggeredByEvent);
    const interrupted = eventSubProcesses.some(
      (esp: any) => esp.isRunning && (esp.getStartActivities?.() ?? []).some((start: any) => isInterrupting(start)),
    );
    if (interrupted) continue;
    for (const esp of eventSubProcesses) {
      // bpmn-elements runs one activity once at a time: a non-interrupting event sub-process that
      // is still running does not listen until it ends (Camunda would start a second one beside it).
      if (esp.isRunning) continue;
      for (const start of esp.getStartActivities?.() ?? []) {
        for (const definition of start.eventDefinitions ?? []) {
          const base = {
            key: `${scope.executionId}/${start.id}`,
            startId: String(start.id),
            eventSubProcessId: String(esp.id),
            interrupting: isInterrupting(start),
            scope,
          };
          if (definition.type === 'bpmn:MessageEventDefinition' || definition.type === 'bpmn:SignalEventDefinition') {
            const reference = definition.reference ?? {};
            if (!reference.id) continue;
            armed.push({
              ...base,
              kind: definition.type === 'bpmn:MessageEventDefinition' ? 'message' : 'signal',
              refId: String(reference.id),
              name: String(reference.name && reference.name !== 'anonymous' ? reference.name : reference.id),
            });
          } else if (definition.type === 'bpmn:TimerEventDefinition') {
            const timerType = (['timeDuration', 'timeDate', 'timeCycle'] as const).find((type) => definition[type]);
            if (!timerType) continue;
            const text = String(definition[timerType]);
            const environment = scope.environment;
            try {
              const expression = environment?.expressions?.hasExpression?.(text) ? String(environment.resolveExpression(text)) : text;
              armed.push({ ...base, kind: 'timer', timerType, expression });
            } catch (error) {
              armed.push({ ...base, kind: 'timer', timerType, expression: text, error: `${timerType} ${JSON.stringify(text)}: ${messageOf(error)}` });
            }
          }
        }
      }
    }
  }
  return armed;
}

/**
 * The timers' schedules after a run: first computed for newly armed starts, kept for every
 * start whose scope still runs (also while its event sub-process runs and does not listen:
 * a fired duration stays done, a cycle keeps its count), dropped for scopes that ended.
 */
export function scheduleTimers(engine: any, armed: ArmedEventStart[], previous: EventStartTimers, now = new Date()): EventStartTimers {
  const live = new Set(runningScopes(engine).map((scope) => String(scope.executionId)));
  const next: EventStartTimers = {};
  for (const [key, schedule] of Object.entries(previous)) {
    if (live.has(key.slice(0, key.lastIndexOf('/')))) next[key] = schedule;
  }
  for (const start of armed) {
    if (start.kind !== 'timer' || next[start.key]) continue;
    // A text that resolves to no timer (say from a variable) is done, with the reason: the runtime raises an incident.
    try {
      if (start.error) throw new Error(start.error);
      const first = nextStartTimerDue(start.timerType!, start.expression!, null, now);
      next[start.key] = first ? { dueAt: first.dueAt.toISOString(), ...(first.remaining !== undefined && { remaining: first.remaining }) } : { done: true };
    } catch (error) {
      const message = start.error ?? `${start.timerType} ${JSON.stringify(start.expression)} is not a valid timer: ${messageOf(error)}`;
      next[start.key] = { done: true, error: message };
    }
  }
  return next;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** After a timer start fired: its next due time (cycles) or done. */
export function afterFiring(start: ArmedEventStart, schedule: { dueAt: string; remaining?: number }): EventStartTimers[string] {
  if (start.interrupting || start.timerType !== 'timeCycle') return { done: true };
  const next = nextStartTimerDue('timeCycle', start.expression!, { firedAt: new Date(schedule.dueAt), remaining: schedule.remaining });
  return next ? { dueAt: next.dueAt.toISOString(), ...(next.remaining !== undefined && { remaining: next.remaining }) } : { done: true };
}

/**
 * Runs the event sub-process of `start` in its scope and hands its start event the message
 * (a timer start is made due by the caller); an interrupting start then cancels the scope's
 * other running activities.
 */
export function triggerEventStart(start: ArmedEventStart, message: Record<string, unknown> = {}): void {
  const scope = start.scope;
  const esp = scope.getActivityById(start.eventSubProcessId);
  if (!esp) return;
  if (esp.isRunning) return;
  if (start.kind === 'timer') esp.run();
  else {
    // What bpmn-elements' ProcessExecution does for a delegated event, but handed to this event
    // sub-process only: a receive task or catch event in the scope waiting for the same message
    // has its own subscription and is not meant by this delivery. An error start event listens
    // for `throw` (its reference type), as it does for an error end event's throw.
    const type = start.kind === 'error' ? 'throw' : start.kind;
    // The reference id goes last: a payload field named `id` must not hide it from the start event.
    const content = { id: start.startId, message: { ...message, ...(start.refId && { id: start.refId }) } };
    esp.run(content.message);
    const api = scope.getApi();
    const routingKey = `${api.messagePrefix}.${type}.${scope.executionId}`;
    esp.broker.publish('api', routingKey, api.createMessage(content), { delegate: true, type });
  }
  if (!start.interrupting) return;
  for (const child of scope.getActivities()) {
    if (child.id === start.eventSubProcessId || !child.isRunning) continue;
    child.getApi().discard();
  }
}

const kReferenceElement = Symbol.for('referenceElement');

/** bpmn-elements' rule: an error event without errorRef catches any error, one with an errorRef the same code. */
function catchesError(definition: any, code: string): boolean {
  if (definition.type !== 'bpmn:ErrorEventDefinition') return false;
  const reference = definition[kReferenceElement];
  return !reference || String(reference.errorCode) === code;
}

/**
 * The error event sub-process that catches a BPMN error raised at an activity by a handler,
 * a worker or a failed called instance. bpmn-elements routes only errors thrown by error
 * end and throw events to event sub-processes; an activity's error goes to its boundary
 * events, then fails the scope around it. As in Camunda 7 and Zeebe, the innermost catcher
 * wins, scope by scope outwards: a boundary event on the activity (or on the sub-process
 * around it), then an error event sub-process of that scope. Returns null when the next
 * catcher is a boundary event, or there is none: bpmn-elements' own error path handles both.
 */
export function errorEventStartFor(engine: any, thrower: { id: string; executionId: string; activity?: unknown }, code: string): ArmedEventStart | null {
  // The scope the thrower runs in: its own activity object (a handler's), or a running child with its execution id.
  const runsIn = (scope: any) =>
    thrower.activity
      ? (scope.getActivities?.() ?? []).includes(thrower.activity)
      : (scope.getPostponed?.() ?? []).some((api: any) => api.id === thrower.id && api.executionId === thrower.executionId);
  let level = runningScopeTree(engine).find((entry) => runsIn(entry.scope));
  let inner = thrower.id;
  for (; level; inner = String(level.scope.id), level = level.parent ?? undefined) {
    const scope = level.scope;
    const children: any[] = scope.getActivities?.() ?? [];
    const boundary = children.some(
      (child) => child.attachedTo?.id === inner && (child.eventDefinitions ?? []).some((definition: any) => catchesError(definition, code)),
    );
    if (boundary) return null;
    for (const esp of children) {
      if (!esp.triggeredByEvent || esp.isRunning) continue;
      for (const start of esp.getStartActivities?.() ?? []) {
        const definition = (start.eventDefinitions ?? []).find((candidate: any) => catchesError(candidate, code));
        if (!definition) continue;
        const reference = definition[kReferenceElement];
        return {
          key: `${scope.executionId}/${start.id}`,
          kind: 'error',
          startId: String(start.id),
          eventSubProcessId: String(esp.id),
          interrupting: true, // an error start event always interrupts
          ...(reference && { refId: String(reference.id), name: String(reference.name ?? reference.id) }),
          scope,
        };
      }
    }
  }
  return null;
}
