/**
 * bpmn-engine names executions `<activity id>_<10 hex>`, a multi-instance iteration with
 * `_<index>` after it.
 */
const EXECUTION_ID = /^(.+)_[0-9a-f]{10}(_\d+)?$/;

/** The activity id and the execution without its iteration suffix; null for other names. */
export function parseExecutionId(executionId: string): { activityId: string; execution: string; iteration: boolean } | null {
  const match = EXECUTION_ID.exec(executionId);
  if (!match) return null;
  return { activityId: match[1]!, execution: match[2] ? executionId.slice(0, -match[2].length) : executionId, iteration: Boolean(match[2]) };
}

/** The activity an execution belongs to (the id itself when it is not an engine-made name). */
export function activityOfExecution(executionId: string): string {
  return parseExecutionId(executionId)?.activityId ?? executionId;
}

/** Where the saved state keeps how often each activity was entered (committed with the state). */
export const VISITS_KEY = 'regenflowVisits';

/**
 * A handler's idempotency key: the same on every re-run of one activity instance (a transition
 * retried after a lost race, a handler retried after an incident), unlike bpmn-elements'
 * execution ids, which are random on each run. A multi-instance iteration adds its index.
 */
export function idempotencyKeyOf(instanceId: string, activityId: string, visit: number, iteration?: number): string {
  return `${instanceId}/${activityId}/${visit}${iteration === undefined ? '' : `/${iteration}`}`;
}
