import type { Knex } from 'knex';

export interface ExternalTaskAttempt {
  activityType: string | null;
  parentExecutionId: string | null;
  /** The activity's start, or the failure report before `before` when there was one. */
  startedAt: Date | null;
}

/**
 * Where one attempt at an external task began, from the instance history (no lock time is
 * stored): a first attempt starts with its activity, a retry with the failure report before it.
 */
export async function externalTaskAttempt(knex: Knex, instanceId: string, executionId: string, before: Date): Promise<ExternalTaskAttempt> {
  const start = await knex('history')
    .where({ instance_id: instanceId, execution_id: executionId, event: 'start' })
    .orderBy('id')
    .first('activity_type', 'at', 'data');
  const previous = await knex('history')
    .where({ instance_id: instanceId, execution_id: executionId, event: 'external-task.failure' })
    .andWhere('at', '<', before)
    .orderBy('at', 'desc')
    .first('at');
  const data = typeof start?.data === 'string' ? JSON.parse(start.data) : start?.data;
  return {
    activityType: start?.activity_type ?? null,
    parentExecutionId: typeof data?.parentExecutionId === 'string' ? data.parentExecutionId : null,
    startedAt: previous ? new Date(previous.at) : start ? new Date(start.at) : null,
  };
}
