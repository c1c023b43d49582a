import type { Knex } from 'knex';
import { ConcurrentUpdateError } from '../errors.js';

/** How a migration renames the source version's activities and executions. */
export interface Repointing {
  instanceId: string;
  sourceDefinitionId: string;
  targetDefinitionId: string;
  activity(id: string): string;
  executionId(id: string): string;
  /** A timer's key (`<execution or scope/start>`). */
  timerKey(key: string): string;
  history: { at: Date; data: Record<string, unknown> };
}

/**
 * Re-points an instance's rows at the target version inside its migration's commit (after the
 * instance row's lock): the instance's definition, its user tasks and external tasks (kept, with
 * their assignee, lock and retries), its timers (kept, with their due time), its open incidents
 * and its called instances' parent executions. Message and signal subscriptions are dropped and
 * written again from the transition's outcome on the target (its names and references).
 */
export async function repointInstance(trx: Knex.Transaction, move: Repointing): Promise<void> {
  const moved = await trx('process_instances')
    .where({ id: move.instanceId, definition_id: move.sourceDefinitionId })
    .update({ definition_id: move.targetDefinitionId });
  if (!moved) throw new ConcurrentUpdateError(move.instanceId);
  for (const table of ['user_tasks', 'external_tasks']) {
    const rows: Array<{ id: string; activity_id: string; execution_id: string }> = await trx(table)
      .where({ instance_id: move.instanceId })
      .select('id', 'activity_id', 'execution_id');
    for (const row of rows) {
      await trx(table)
        .where({ id: row.id })
        .update({ definition_id: move.targetDefinitionId, activity_id: move.activity(row.activity_id), execution_id: move.executionId(row.execution_id) });
    }
  }
  await trx('subscriptions').where({ instance_id: move.instanceId }).delete();
  const jobs: Array<{ id: string; kind: string; activity_id: string; timer_key: string }> = await trx('jobs')
    .where({ instance_id: move.instanceId })
    .select('id', 'kind', 'activity_id', 'timer_key');
  for (const job of jobs) {
    const at = job.timer_key.lastIndexOf('@');
    const timerKey = job.kind === 'timer' && at > 0 ? `${move.timerKey(job.timer_key.slice(0, at))}${job.timer_key.slice(at)}` : job.timer_key;
    await trx('jobs')
      .where({ id: job.id })
      .update({ definition_id: move.targetDefinitionId, activity_id: move.activity(job.activity_id), timer_key: timerKey });
  }
  const incidents: Array<{ id: string; activity_id: string | null; execution_id: string | null }> = await trx('incidents')
    .where({ instance_id: move.instanceId })
    .whereNull('resolved_at')
    .select('id', 'activity_id', 'execution_id');
  for (const incident of incidents) {
    await trx('incidents')
      .where({ id: incident.id })
      .update({
        activity_id: incident.activity_id && move.activity(incident.activity_id),
        execution_id: incident.execution_id && move.executionId(incident.execution_id),
      });
  }
  const children: Array<{ id: string; parent_execution_id: string | null }> = await trx('process_instances')
    .where({ parent_instance_id: move.instanceId, status: 'active' })
    .select('id', 'parent_execution_id');
  for (const child of children) {
    if (!child.parent_execution_id) continue;
    const renamed = move.executionId(child.parent_execution_id);
    if (renamed !== child.parent_execution_id) await trx('process_instances').where({ id: child.id }).update({ parent_execution_id: renamed });
  }
  await trx('history').insert({
    instance_id: move.instanceId,
    event: 'instance.migrated',
    at: move.history.at,
    data: JSON.stringify(move.history.data),
  });
}

/** Active instance ids of a definition, oldest first (a migration's or batch's selection). */
export async function activeInstanceIds(knex: Knex, filter: { definitionId?: string; processKey?: string; businessKey?: string; ids?: string[] }, limit: number): Promise<string[]> {
  const query = knex('process_instances').where({ status: 'active' }).orderBy([{ column: 'started_at' }, { column: 'id' }]).limit(limit);
  if (filter.definitionId) query.where({ definition_id: filter.definitionId });
  if (filter.processKey) query.where({ process_key: filter.processKey });
  if (filter.businessKey) query.where({ business_key: filter.businessKey });
  if (filter.ids) query.whereIn('id', filter.ids);
  return query.pluck('id');
}
