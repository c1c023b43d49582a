import type { Knex } from 'knex';

export interface ExternalTaskRow {
  id: string;
  instance_id: string;
  process_key: string;
  definition_id: string;
  activity_id: string;
  execution_id: string;
  topic: string;
  priority: number;
  business_key: string | null;
  worker_id: string | null;
  lock_expires_at: Date | null;
  retries: number | null;
  error_message: string | null;
  error_details: string | null;
  created_at: Date;
}

export interface LockedExternalTask extends ExternalTaskRow {
  variables: Record<string, unknown>;
}

export interface TopicRequest {
  topicName: string;
  lockDuration: number;
  processDefinitionKey?: string;
  businessKey?: string;
}

/**
 * External tasks (as `t`) a worker may take now: nobody holds them (or the lock ran out), they
 * have retries left (null: never failed), and no parked inline handler waits on them for an
 * operator's retry. Fetch-and-lock takes from these; /metrics counts them as the workers' backlog.
 */
export function fetchableExternalTasks(knex: Knex): Knex.QueryBuilder {
  return knex('external_tasks as t')
    .where((q) => q.whereNull('t.lock_expires_at').orWhere('t.lock_expires_at', '<', knex.raw('now()')))
    .andWhere((q) => q.whereNull('t.retries').orWhere('t.retries', '>', 0))
    .whereNotExists(
      knex('incidents as n')
        .whereRaw('n.instance_id = t.instance_id and n.execution_id = t.execution_id')
        .where('n.type', 'failedHandler')
        .whereNull('n.resolved_at'),
    );
}

/**
 * Camunda 7 fetch-and-lock: tasks that nobody holds (or whose lock expired) and that have
 * retries left (null means never failed) are locked for `lockDuration` ms to `workerId`.
 */
export async function fetchAndLock(
  knex: Knex,
  request: { workerId: string; maxTasks: number; usePriority: boolean; topics: TopicRequest[] },
): Promise<LockedExternalTask[]> {
  return knex.transaction(async (trx) => {
    const locked: LockedExternalTask[] = [];
    for (const topic of request.topics) {
      const room = request.maxTasks - locked.length;
      if (room <= 0) break;
      const query = fetchableExternalTasks(trx)
        .where('t.topic', topic.topicName)
        .select('t.id')
        .limit(room)
        .forUpdate()
        .skipLocked();
      if (topic.processDefinitionKey) query.andWhere('t.process_key', topic.processDefinitionKey);
      if (topic.businessKey) query.andWhere('t.business_key', topic.businessKey);
      query.orderBy(request.usePriority ? [{ column: 't.priority', order: 'desc' }, { column: 't.created_at' }] : [{ column: 't.created_at' }]);
      const ids = (await query).map((row: { id: string }) => row.id);
      if (!ids.length) continue;
      const rows: ExternalTaskRow[] = await trx('external_tasks')
        .whereIn('id', ids)
        .update({ worker_id: request.workerId, lock_expires_at: trx.raw('now() + make_interval(secs => ?)', [topic.lockDuration / 1000]) })
        .returning('*');
      const variables = await trx('process_instances')
        .whereIn('id', [...new Set(rows.map((row) => row.instance_id))])
        .select('id', 'variables');
      const byInstance = new Map(variables.map((row: { id: string; variables: Record<string, unknown> }) => [row.id, row.variables]));
      // Input-mapped local variables shadow process variables of the same name, as in Camunda 7.
      for (const { local_variables: local, ...row } of rows as Array<ExternalTaskRow & { local_variables?: Record<string, unknown> | null }>) {
        locked.push({ ...row, variables: { ...(byInstance.get(row.instance_id) ?? {}), ...(local ?? {}) } });
      }
    }
    return locked;
  });
}

export async function findExternalTask(knex: Knex, id: string): Promise<ExternalTaskRow | undefined> {
  return knex('external_tasks').where({ id }).first();
}

/** The task row with whether its lock is live by the database's clock (a node's clock may be off). */
export async function findExternalTaskLock(knex: Knex, id: string): Promise<(ExternalTaskRow & { lock_live: boolean }) | undefined> {
  return knex('external_tasks')
    .where({ id })
    .first('*', knex.raw('coalesce(lock_expires_at >= now(), false) AS lock_live'));
}

export async function updateExternalTask(knex: Knex, id: string, changes: Partial<ExternalTaskRow>): Promise<void> {
  await knex('external_tasks').where({ id }).update(changes);
}

/** Extends a lock only while this worker still holds it; returns whether it did. */
export async function extendLock(knex: Knex, id: string, workerId: string, durationMs: number): Promise<boolean> {
  const updated = await knex('external_tasks')
    .where({ id, worker_id: workerId })
    .andWhere('lock_expires_at', '>=', knex.raw('now()'))
    .update({ lock_expires_at: knex.raw("now() + make_interval(secs => ?)", [durationMs / 1000]) });
  return updated > 0;
}

/** A failed-task incident retried: the task may be fetched again, with `retries` left. */
export async function restoreExternalTaskRetries(trx: Knex.Transaction, id: string, retries: number): Promise<void> {
  await trx('external_tasks').where({ id }).update({ retries, worker_id: null, lock_expires_at: null });
}

/** The task row while `workerId` holds an unexpired lock on it, locked for the commit. */
export async function lockHeldExternalTask(trx: Knex.Transaction, id: string, workerId: string): Promise<ExternalTaskRow | undefined> {
  return trx('external_tasks').where({ id, worker_id: workerId }).andWhere('lock_expires_at', '>=', trx.raw('now()')).forUpdate().first();
}

/** A worker's failure report: retries left, the error, and the retry timeout as a lock held by the worker. */
export async function recordExternalTaskFailure(
  trx: Knex.Transaction,
  id: string,
  failure: { workerId: string; retries: number; errorMessage?: string; errorDetails?: string; retryTimeout?: number },
): Promise<void> {
  await trx('external_tasks')
    .where({ id })
    .update({
      retries: failure.retries,
      error_message: failure.errorMessage ?? null,
      error_details: failure.errorDetails ?? null,
      lock_expires_at: failure.retryTimeout ? trx.raw('now() + make_interval(secs => ?)', [failure.retryTimeout / 1000]) : null,
      worker_id: failure.retryTimeout ? failure.workerId : null,
    });
}

/** Locks a task for `workerId` when it is free, its lock expired, or the worker holds it already. */
export async function lockExternalTaskFor(knex: Knex, id: string, workerId: string, lockDurationMs: number): Promise<boolean> {
  const updated = await knex('external_tasks')
    .where({ id })
    .andWhere((q) => q.whereNull('lock_expires_at').orWhere('lock_expires_at', '<', knex.raw('now()')).orWhere('worker_id', workerId))
    .update({ worker_id: workerId, lock_expires_at: knex.raw('now() + make_interval(secs => ?)', [lockDurationMs / 1000]) });
  return updated > 0;
}
