/**
 * What a transition commits: the shapes the engine hands the store in one transaction (the
 * store owns them, as it owns the tables they go to; the engine re-exports them from
 * src/engine/types.ts). The store imports nothing above it.
 */
import type { DecisionEvaluationRow } from './decisions.js';

export type Variables = Record<string, unknown>;

export type InstanceStatus = 'active' | 'completed' | 'cancelled' | 'failed';

/**
 * Why an activity (or a definition's timer start) stopped and waits for an operator:
 * - `failedJob`: a timer, timer start or call hand-back used up its retries, or kept killing
 *   its node (its lease ran out again and again);
 * - `failedExternalTask`: a worker reported a failure with no retries left;
 * - `failedHandler`: an inline handler threw;
 * - `failedTimer`: a timer text resolved to no timer at run time;
 * - `stepLimit`: a transition ran more steps (or longer) than allowed without a wait state;
 * - `engineError`: anything else the engine could not place.
 */
export const INCIDENT_TYPES = ['failedJob', 'failedExternalTask', 'failedHandler', 'failedTimer', 'stepLimit', 'engineError'] as const;
export type IncidentType = (typeof INCIDENT_TYPES)[number];

export interface UserTaskWait {
  activityId: string;
  executionId: string;
  name?: string;
  assignee?: string;
  candidateGroups: string[];
  candidateUsers: string[];
  formKey?: string;
  formFields: Array<{ id: string; label?: string; type?: string; defaultValue?: unknown }>;
  priority: number;
  dueAt?: Date;
}

export interface ExternalTaskWait {
  activityId: string;
  executionId: string;
  topic: string;
  priority: number;
  /** The camunda:inputOutput input mapping, evaluated when the task was created (C7 local variables). */
  localVariables?: Variables;
}

export interface SubscriptionWait {
  kind: 'message' | 'signal';
  name: string;
  refId: string;
  activityId: string;
  executionId: string;
}

export interface TimerWait {
  activityId: string;
  /** The timer's execution id: stable across recover, so it names the job. */
  timerKey: string;
  dueAt: Date;
}

export interface CallActivityWait {
  activityId: string;
  executionId: string;
  calledElement: string;
  /** Stable across re-runs of the parent's transition: the called instance's id derives from it. */
  key: string;
}

export interface HistoryEntry {
  activityId?: string;
  activityType?: string;
  activityName?: string;
  executionId?: string;
  event: string;
  at: Date;
  data?: Record<string, unknown>;
}

export interface HandlerFailure {
  activityId: string;
  executionId: string;
  topic: string;
  message: string;
  stack?: string;
}

export interface TimerFailure {
  activityId: string;
  /** `<scope execution id>/<start event id>` */
  timerKey: string;
  message: string;
}

/** Everything a transition produced; committed at once or not at all. */
export interface TransitionOutcome {
  status: InstanceStatus;
  state: unknown;
  variables: Variables;
  userTasks: UserTaskWait[];
  externalTasks: ExternalTaskWait[];
  subscriptions: SubscriptionWait[];
  timers: TimerWait[];
  callActivities: CallActivityWait[];
  history: HistoryEntry[];
  handlerFailures: HandlerFailure[];
  /** Timer start events of event sub-processes whose timer did not resolve in this transition: incidents. */
  timerFailures?: TimerFailure[];
  /** Decisions that business rule tasks evaluated in this transition: recorded with its commit. */
  decisionEvaluations?: DecisionEvaluationRow[];
  steps: number;
  /** Why the instance failed (status `failed`): a BPMN error that no catch event caught. */
  error?: UncaughtBpmnError;
}

/** A BPMN error that ended its instance because nothing in the scope chain caught it. */
export interface UncaughtBpmnError {
  /** The activity that threw it (an error end event, or the service task whose handler or worker raised it). */
  activityId: string;
  errorCode: string;
  errorMessage: string;
  /** For the instance row's error_message: code, message and activity. */
  summary: string;
}
