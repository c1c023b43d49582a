import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';

export interface JobRow {
  id: string;
  kind: 'timer' | 'timer-start' | 'call-completed' | 'call-failed' | 'history-cleanup' | 'batch';
  instance_id: string | null;
  definition_id: string | null;
  activity_id: string;
  timer_key: string;
  due_at: Date;
  payload: Record<string, unknown>;
  retries: number;
  locked_by: string | null;
  locked_until: Date | null;
  error_message: string | null;
  /** Claims since the job last finished a run: more than one means leases ran out (a node died). */
  claims: number;
  /** When the claim happened, by the database's clock (claims only). */
  claimed_at?: Date;
}

/**
 * Claims due jobs for one node. SKIP LOCKED lets every node poll the same table without
 * waiting on each other; the lease makes a job claimable again if its node dies. Due times
 * and leases are compared with the database's clock, never a node's.
 */
export async function claimDueJobs(knex: Knex, nodeId: string, limit: number, leaseMs: number): Promise<JobRow[]> {
  const result = await knex.raw(
    `UPDATE jobs SET locked_by = ?, locked_until = now() + make_interval(secs => ?), claims = claims + 1
       WHERE id IN (
         SELECT id FROM jobs
          WHERE due_at <= now() AND retries > 0 AND (locked_until IS NULL OR locked_until < now())
          ORDER BY due_at
          LIMIT ?
          FOR UPDATE SKIP LOCKED)
     RETURNING *, now() AS claimed_at`,
    [nodeId, leaseMs / 1000, limit],
  );
  return result.rows as JobRow[];
}

/** Lets a job that did not fire (its instance moved on, or the clock disagreed) be polled again. */
export async function releaseJob(knex: Knex, jobId: string): Promise<void> {
  await knex('jobs').where({ id: jobId }).update({ locked_by: null, locked_until: null, claims: 0 });
}

/**
 * Counts a failed run down (to 0 at once when `quarantine`); returns the retries left. Retried
 * after a back-off. A reported failure is a finished run: the lease count starts again.
 */
export async function failJob(trx: Knex.Transaction, job: JobRow, message: string, retryInMs: number, quarantine = false): Promise<number> {
  const retries = quarantine ? 0 : Math.max(0, job.retries - 1);
  await trx('jobs')
    .where({ id: job.id })
    .update({ retries, error_message: message, locked_by: null, locked_until: trx.raw('now() + make_interval(secs => ?)', [retryInMs / 1000]), claims: 0 });
  return retries;
}

/** Locks a job this node claimed, in the caller's transaction; undefined when another node took it over. */
export async function lockClaimedJob(trx: Knex.Transaction, jobId: string, nodeId: string): Promise<JobRow | undefined> {
  return trx('jobs').where({ id: jobId, locked_by: nodeId }).forUpdate().first();
}

/** A timer start fired: its next due time on the database's clock (the lease and lease count end with the run). */
export async function rescheduleFiredJob(trx: Knex.Transaction, jobId: string, dueAt: Date, payload: unknown): Promise<void> {
  await trx('jobs').where({ id: jobId }).update({ due_at: dueAt, payload: JSON.stringify(payload), locked_by: null, locked_until: null, claims: 0 });
}

export async function deleteJob(knex: Knex | Knex.Transaction, jobId: string): Promise<number> {
  return knex('jobs').where({ id: jobId }).delete();
}

export async function findJob(knex: Knex | Knex.Transaction, jobId: string): Promise<JobRow | undefined> {
  return knex('jobs').where({ id: jobId }).first();
}

/** An operator's retry: new retries, claimable at once. */
export async function setJobRetries(trx: Knex.Transaction, jobId: string, retries: number): Promise<void> {
  await trx('jobs').where({ id: jobId }).update({ retries, locked_by: null, locked_until: null, claims: 0 });
}

/**
 * How long until some job can be claimed, by the database's clock: a job leased by a node (or
 * waiting out its failure back-off) is not claimable before its lease ends, so it counts from
 * then, not from its due time. Null when no job has retries left.
 */
export async function msUntilNextClaimable(knex: Knex): Promise<number | null> {
  const result = await knex.raw(
    `SELECT extract(epoch FROM (min(greatest(due_at, coalesce(locked_until, due_at))) - now())) * 1000 AS ms
       FROM jobs WHERE retries > 0`,
  );
  const ms = result.rows[0]?.ms;
  return ms === null || ms === undefined ? null : Number(ms);
}

/**
 * Claims one job whatever its due time and retries (execute now). A job in its failure
 * back-off (no owner) may be claimed; one another node is running may not.
 */
export async function claimJob(knex: Knex, jobId: string, nodeId: string, leaseMs: number): Promise<JobRow | undefined> {
  const [row] = await knex('jobs')
    .where({ id: jobId })
    .andWhere((q) => q.whereNull('locked_by').orWhereNull('locked_until').orWhere('locked_until', '<', knex.raw('now()')))
    .update({ locked_by: nodeId, locked_until: knex.raw('now() + make_interval(secs => ?)', [leaseMs / 1000]) })
    .returning('*');
  return row as JobRow | undefined;
}

/** Every timer-start job (one per timer start event of a latest definition version). */
export async function listTimerStartJobs(knex: Knex): Promise<JobRow[]> {
  const rows: JobRow[] = await knex('jobs').where({ kind: 'timer-start' });
  return rows.map((row) => ({ ...row, payload: typeof row.payload === 'string' ? JSON.parse(row.payload) : row.payload }));
}

/** Moves a timer-start job to a new schedule, unless a live node holds it. Returns whether it moved. */
export async function rescheduleTimerStartJob(knex: Knex, jobId: string, dueAt: Date, payload: unknown): Promise<boolean> {
  const moved = await knex('jobs')
    .where({ id: jobId })
    .andWhere((query) => query.whereNull('locked_by').orWhere('locked_until', '<', knex.raw('now()')))
    .update({ due_at: dueAt, payload: JSON.stringify(payload) });
  return moved > 0;
}

/** The one history-cleanup job (a fixed id, so nodes booting together arm it once). */
export const HISTORY_CLEANUP_JOB_ID = '00000000-0000-5000-8000-00000000c1ea';

/** Arms the history-cleanup job unless it exists; returns nothing either way. */
export async function armHistoryCleanup(knex: Knex): Promise<void> {
  await knex('jobs')
    .insert({ id: HISTORY_CLEANUP_JOB_ID, kind: 'history-cleanup', activity_id: 'history-cleanup', timer_key: 'history-cleanup', due_at: knex.raw('now()') })
    .onConflict('id')
    .ignore();
}

/** Drops the history-cleanup job (retention switched off). */
export async function disarmHistoryCleanup(knex: Knex): Promise<void> {
  await knex('jobs').where({ id: HISTORY_CLEANUP_JOB_ID }).delete();
}

/** The cleanup ran: next run after `everyMs`. */
export async function rescheduleHistoryCleanup(knex: Knex, everyMs: number): Promise<void> {
  await knex('jobs')
    .where({ id: HISTORY_CLEANUP_JOB_ID })
    .update({ due_at: knex.raw('now() + make_interval(secs => ?)', [everyMs / 1000]), locked_by: null, locked_until: null, claims: 0, retries: 3 });
}

/** A timer start event's job: one per (definition, start event); `dueAt` on the database's clock. */
export async function insertTimerStartJob(
  trx: Knex.Transaction,
  job: { definitionId: string; activityId: string; dueAt: Date; payload: unknown },
): Promise<void> {
  await trx('jobs').insert({
    id: randomUUID(),
    kind: 'timer-start',
    definition_id: job.definitionId,
    activity_id: job.activityId,
    timer_key: `${job.definitionId}/${job.activityId}`,
    due_at: job.dueAt,
    payload: JSON.stringify(job.payload),
  });
}

/** Hands a called instance's end back to its parent's call activity (a job the parent's node runs). */
export async function insertCallHandBack(
  trx: Knex.Transaction,
  handBack: { kind: 'call-completed' | 'call-failed'; childId: string; parentInstanceId: string; parentExecutionId: string; payload: Record<string, unknown> },
): Promise<void> {
  await trx('jobs').insert({
    id: randomUUID(),
    kind: handBack.kind,
    instance_id: handBack.parentInstanceId,
    activity_id: handBack.parentExecutionId,
    timer_key: `${handBack.kind}/${handBack.childId}`,
    due_at: trx.raw('now()'),
    payload: JSON.stringify({ executionId: handBack.parentExecutionId, ...handBack.payload, childId: handBack.childId }),
  });
}

/** Drops an instance's queued hand-backs for call activities that no longer wait. */
export async function deleteHandBacksExcept(trx: Knex.Transaction, instanceId: string, waitingExecutionIds: string[]): Promise<void> {
  await trx('jobs').where({ instance_id: instanceId }).whereIn('kind', ['call-completed', 'call-failed']).whereNotIn('activity_id', waitingExecutionIds).delete();
}
