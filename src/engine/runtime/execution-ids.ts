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
