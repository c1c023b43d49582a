import type { Knex } from 'knex';

/** One piece of alert work waiting in the queue (see migrations/0027-alert-queue.ts). */
export interface AlertQueueRow {
  id: string;
  alert_id: string;
  fingerprint: string;
  kind: 'firing' | 'resolved';
  payload: Record<string, unknown>;
  attempts: number;
  locked_by: string | null;
  locked_until: Date | null;
  available_at: Date;
  last_error: string | null;
  failed_at: Date | null;
}

/** Queues the work of a stored alert, in the transaction that stored it; returns the row's id. */
export async function enqueueAlertWork(trx: Knex | Knex.Transaction, work: { alertId: string; fingerprint: string; kind: 'firing' | 'resolved'; payload: unknown }): Promise<string> {
  const [row] = await trx('alert_queue')
    .insert({ alert_id: work.alertId, fingerprint: work.fingerprint, kind: work.kind, payload: JSON.stringify(work.payload) })
    .returning('id');
  return String(row.id ?? row);
}

/**
 * Claims queued work for one node, by the database's clock: the oldest row of each fingerprint
 * that no node holds (a lease that ran out belongs to a node that died) and whose back-off is
 * over. A fingerprint with an older row still queued waits for it, so its work runs in order.
 */
export async function claimAlertWork(knex: Knex, nodeId: string, limit: number, leaseMs: number): Promise<AlertQueueRow[]> {
  const result = await knex.raw(
    `UPDATE alert_queue SET locked_by = ?, locked_until = now() + make_interval(secs => ?), attempts = attempts + 1
       WHERE id IN (
         SELECT q.id FROM alert_queue q
          WHERE q.failed_at IS NULL AND q.available_at <= now() AND (q.locked_until IS NULL OR q.locked_until < now())
            AND NOT EXISTS (SELECT 1 FROM alert_queue e WHERE e.fingerprint = q.fingerprint AND e.failed_at IS NULL AND e.id < q.id)
          ORDER BY q.id
          LIMIT ?
          FOR UPDATE SKIP LOCKED)
     RETURNING *`,
    [nodeId, leaseMs / 1000, limit],
  );
  return (result.rows as AlertQueueRow[]).map((row) => ({ ...row, id: String(row.id), payload: typeof row.payload === 'string' ? JSON.parse(row.payload) : row.payload }));
}

/**
 * The work is done: the row goes, unless another node took it over meanwhile (then false). Run
 * in the transaction that commits the work's effect, so that the effect and the row's removal
 * commit together: a node that dies in between, or whose lease another node took over, cannot
 * leave the work to be done twice.
 */
export async function finishAlertWork(knex: Knex, id: string, nodeId: string): Promise<boolean> {
  return (await knex('alert_queue').where({ id, locked_by: nodeId }).delete()) > 0;
}

/** The work failed: try again after `retryInMs`, or, when `give up`, keep it as failed with its error. */
export async function failAlertWork(knex: Knex, id: string, nodeId: string, error: string, retryInMs: number | null): Promise<void> {
  await knex('alert_queue')
    .where({ id, locked_by: nodeId })
    .update({
      locked_by: null,
      locked_until: null,
      last_error: error.slice(0, 2000),
      ...(retryInMs === null ? { failed_at: knex.raw('now()') } : { available_at: knex.raw('now() + make_interval(secs => ?)', [retryInMs / 1000]) }),
    });
}

/** Which of these rows are still waiting or being worked (not done and not failed for good). */
export async function pendingAlertWork(knex: Knex, ids: string[]): Promise<Set<string>> {
  if (!ids.length) return new Set();
  const rows: Array<{ id: string | number }> = await knex('alert_queue').whereIn('id', ids).whereNull('failed_at').select('id');
  return new Set(rows.map((row) => String(row.id)));
}

/** The queue rows of these alerts still waiting or being worked. */
export async function pendingWorkOfAlerts(knex: Knex, alertIds: string[]): Promise<string[]> {
  const rows: Array<{ id: string | number }> = await knex('alert_queue').whereIn('alert_id', alertIds).whereNull('failed_at').select('id');
  return rows.map((row) => String(row.id));
}

/** Queue rows that gave up, by id, with their last error. */
export async function failedAlertWork(knex: Knex, ids: string[]): Promise<Map<string, string>> {
  if (!ids.length) return new Map();
  const rows: Array<{ id: string | number; last_error: string | null }> = await knex('alert_queue').whereIn('id', ids).whereNotNull('failed_at').select('id', 'last_error');
  return new Map(rows.map((row) => [String(row.id), row.last_error ?? 'failed']));
}

/** How many rows wait (for /metrics and the tests), how many gave up, and how long the oldest waiting one has waited (seconds, on the database's clock). */
export async function alertQueueDepth(knex: Knex): Promise<{ waiting: number; failed: number; oldestWaitingSeconds: number }> {
  const row = await knex('alert_queue').first(
    knex.raw('count(*) FILTER (WHERE failed_at IS NULL) AS waiting'),
    knex.raw('count(*) FILTER (WHERE failed_at IS NOT NULL) AS failed'),
    knex.raw('coalesce(extract(epoch FROM now() - min(created_at) FILTER (WHERE failed_at IS NULL)), 0) AS oldest'),
  );
  return { waiting: Number(row?.waiting ?? 0), failed: Number(row?.failed ?? 0), oldestWaitingSeconds: Math.max(0, Number(row?.oldest ?? 0)) };
}

/**
 * The incident instance already started for one occurrence (its `startsAt` variable): a node
 * that died after the start committed, before its queue row went, must not start a second one
 * nor take its own start for a re-fire.
 */
export async function findIncidentStartedFor(knex: Knex, fingerprint: string, processKey: string, startsAtIso: string): Promise<string | undefined> {
  const row = await knex('process_instances')
    .where({ business_key: fingerprint, process_key: processKey })
    .whereRaw("variables->>'startsAt' = ?", [startsAtIso])
    .orderBy('started_at')
    .first('id');
  return row?.id;
}
