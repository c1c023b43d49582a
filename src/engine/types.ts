/** Shapes shared by the engine core, the store and the API. */

export type Variables = Record<string, unknown>;

/** "regenflow/<process key>" names one of regenflow's own processes as a monitored system. */
export const ENGINE_SYSTEM_PREFIX = 'regenflow/';

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

/** One event applied by a transition (see DESIGN.md, "Execution model"). */
export type TransitionEvent =
  /** `dueNow`: the activity (or the timer's execution id) whose timer fires in this transition, due or not. */
  | { type: 'resume'; dueNow?: string }
  | { type: 'complete-user-task'; executionId: string; variables: Variables }
  | { type: 'deliver-message'; refId: string; executionId?: string; variables: Variables }
  | { type: 'deliver-signal'; refId: string; executionId?: string; variables: Variables }
  | { type: 'complete-external-task'; executionId: string; variables: Variables }
  | {
      type: 'external-task-bpmn-error';
      executionId: string;
      errorCode: string;
      errorMessage?: string;
      variables: Variables;
    }
  | { type: 'complete-call-activity'; executionId: string; variables: Variables }
  /** The called instance failed with an unhandled BPMN error: it is thrown at the call activity. */
  | { type: 'fail-call-activity'; executionId: string; errorCode: string; errorMessage: string }
  | { type: 'set-variables'; variables: Variables }
  | { type: 'retry-handler'; executionId: string };

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
  decisionEvaluations?: import('../store/decisions.js').DecisionEvaluationRow[];
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

/**
 * A worker's failure report on an external task (C7 `POST /external-task/{id}/failure`),
 * announced after its commit as `external-task.failed`: one failed attempt, not a transition.
 */
export interface ExternalTaskFailureReport {
  instance: import('../store/transitions.js').InstanceRow;
  taskId: string;
  activityId: string;
  activityType: string | null;
  executionId: string;
  /** The enclosing sub-process execution, when the task runs inside one. */
  parentExecutionId: string | null;
  topic: string;
  workerId: string;
  errorMessage: string | null;
  /** Retries left after this report; 0 raised an incident. */
  retries: number;
  /** When this attempt could start: the activity's start, or the previous failure report. */
  attemptStartedAt: Date | null;
  reportedAt: Date;
}

/**
 * What one committed transition produced, announced after the commit as
 * `transition.outcome`: observers (tracing) derive their records from it, never the reverse.
 */
export interface CommittedTransition {
  /** The instance row as committed (status, trace context, timestamps). */
  instance: import('../store/transitions.js').InstanceRow;
  /** The event the transition applied; null for a start. */
  event: TransitionEvent | null;
  /** Null when the instance was ended from outside the engine run (cancel). */
  outcome: TransitionOutcome | null;
}
