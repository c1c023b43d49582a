/** Shapes shared by the engine core, the store and the API. */

// What a transition commits lives beside the store that commits it; the engine and the API name it from here.
export { INCIDENT_TYPES } from '../store/transition-types.js';
export type {
  CallActivityWait,
  ExternalTaskWait,
  HandlerFailure,
  HistoryEntry,
  IncidentType,
  InstanceStatus,
  SubscriptionWait,
  TimerFailure,
  TimerWait,
  TransitionOutcome,
  UncaughtBpmnError,
  UserTaskWait,
  Variables,
} from '../store/transition-types.js';
export { ENGINE_SYSTEM_PREFIX } from '../store/entropy-types.js';
import type { TransitionOutcome, Variables } from '../store/transition-types.js';

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
