import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';

export type BatchType = 'instance-migration' | 'instance-cancel' | 'incident-retry' | 'set-variables';
export type BatchStatus = 'running' | 'completed' | 'cancelled';
export type BatchItemStatus = 'pending' | 'done' | 'failed';

export interface BatchRow {
  id: string;
  type: BatchType;
  status: BatchStatus;
  payload: Record<string, unknown>;
  total_items: number;
  chunk_size: number;
  created_by: string | null;
  created_at: Date;
  ended_at: Date | null;
}

export interface BatchCounts {
  pending: number;
  done: number;
  failed: number;
}

/** The job kind that runs one chunk of a batch. */
export const BATCH_JOB_KIND = 'batch';

/**
 * Writes a batch, its items (chunk by chunk) and one due job per chunk, in one transaction: a
 * batch exists with all its work scheduled, or not at all.
 */
export async function insertBatch(
  trx: Knex.Transaction,
  batch: { type: BatchType; payload: Record<string, unknown>; createdBy: string | null; chunkSize: number },
  itemIds: string[],
): Promise<BatchRow> {
  const id = randomUUID();
  const [row] = await trx('batches')
    .insert({ id, type: batch.type, status: itemIds.length ? 'running' : 'completed', payload: JSON.stringify(batch.payload), total_items: itemIds.length, chunk_size: batch.chunkSize, created_by: batch.createdBy, ended_at: itemIds.length ? null : trx.raw('now()') })
    .returning('*');
  const items = itemIds.map((itemId, index) => ({ batch_id: id, item_id: itemId, chunk: Math.floor(index / batch.chunkSize) }));
  for (let offset = 0; offset < items.length; offset += 1000) await trx('batch_items').insert(items.slice(offset, offset + 1000));
  const chunks = Math.ceil(itemIds.length / batch.chunkSize);
  const jobs = Array.from({ length: chunks }, (_, chunk) => ({
    id: randomUUID(),
    kind: BATCH_JOB_KIND,
    activity_id: `batch/${batch.type}`,
    timer_key: `${id}/${chunk}`,
    due_at: trx.raw('now()'),
    payload: JSON.stringify({ batchId: id, chunk }),
  }));
  for (let offset = 0; offset < jobs.length; offset += 500) await trx('jobs').insert(jobs.slice(offset, offset + 500));
  return row as BatchRow;
}

export async function findBatch(knex: Knex | Knex.Transaction, id: string): Promise<BatchRow | undefined> {
  return knex('batches').where({ id }).first();
}

export interface BatchFilter {
  status?: BatchStatus;
  type?: BatchType;
  id?: string;
}

export async function listBatches(knex: Knex, filter: BatchFilter, page: { firstResult?: number; maxResults?: number } = {}): Promise<BatchRow[]> {
  const query = knex('batches').orderBy([{ column: 'created_at', order: 'desc' }, { column: 'id' }]);
  if (filter.status) query.where({ status: filter.status });
  if (filter.type) query.where({ type: filter.type });
  if (filter.id) query.where({ id: filter.id });
  return query.offset(page.firstResult ?? 0).limit(Math.min(page.maxResults ?? 100, 1000));
}

export async function countBatches(knex: Knex, filter: BatchFilter): Promise<number> {
  const query = knex('batches');
  if (filter.status) query.where({ status: filter.status });
  if (filter.type) query.where({ type: filter.type });
  if (filter.id) query.where({ id: filter.id });
  const row = await query.count({ count: '*' }).first();
  return Number(row?.count ?? 0);
}

/** Items per status, for each batch given. */
export async function batchCounts(knex: Knex, batchIds: string[]): Promise<Map<string, BatchCounts>> {
  const counts = new Map<string, BatchCounts>(batchIds.map((id) => [id, { pending: 0, done: 0, failed: 0 }]));
  if (!batchIds.length) return counts;
  const rows: Array<{ batch_id: string; status: BatchItemStatus; count: string | number }> = await knex('batch_items')
    .whereIn('batch_id', batchIds)
    .groupBy('batch_id', 'status')
    .select('batch_id', 'status')
    .count({ count: '*' });
  for (const row of rows) counts.get(row.batch_id)![row.status] = Number(row.count);
  return counts;
}

/** Jobs (chunks) of each batch that are still to run, and those whose retries ran out. */
export async function batchJobCounts(knex: Knex, batchIds: string[]): Promise<Map<string, { remaining: number; failed: number }>> {
  const counts = new Map(batchIds.map((id) => [id, { remaining: 0, failed: 0 }]));
  if (!batchIds.length) return counts;
  const rows: Array<{ batch_id: string; retries: number }> = await knex('jobs')
    .where({ kind: BATCH_JOB_KIND })
    .whereIn(knex.raw("payload->>'batchId'") as unknown as string, batchIds)
    .select(knex.raw("payload->>'batchId' as batch_id"), 'retries');
  for (const row of rows) {
    const entry = counts.get(row.batch_id);
    if (!entry) continue;
    entry.remaining++;
    if (row.retries <= 0) entry.failed++;
  }
  return counts;
}

/** The items of a batch with a status (failed ones with their errors), in item order. */
export async function listBatchItems(knex: Knex, batchId: string, filter: { status?: BatchItemStatus }, limit = 1000): Promise<Array<{ item_id: string; status: BatchItemStatus; error: string | null; done_at: Date | null; chunk: number }>> {
  const query = knex('batch_items').where({ batch_id: batchId }).orderBy([{ column: 'chunk' }, { column: 'item_id' }]).limit(limit);
  if (filter.status) query.where({ status: filter.status });
  return query.select('item_id', 'status', 'error', 'done_at', 'chunk');
}

/** The pending items of one chunk. */
export async function pendingItems(knex: Knex, batchId: string, chunk: number): Promise<string[]> {
  return knex('batch_items').where({ batch_id: batchId, chunk, status: 'pending' }).orderBy('item_id').pluck('item_id');
}

/**
 * Settles one pending item (in the caller's transaction when its change commits with it);
 * false when it was settled already (another run of the chunk got there first).
 */
export async function settleItem(knex: Knex | Knex.Transaction, batchId: string, itemId: string, status: 'done' | 'failed', error?: string): Promise<boolean> {
  const updated = await knex('batch_items')
    .where({ batch_id: batchId, item_id: itemId, status: 'pending' })
    .update({ status, error: error ?? null, done_at: knex.raw('now()') });
  return updated > 0;
}

/** Keeps a running chunk's job with this node a little longer (a dead node's chunk is taken over soon after). */
export async function extendChunkLease(knex: Knex, jobId: string, nodeId: string, leaseMs: number): Promise<void> {
  await knex('jobs').where({ id: jobId, locked_by: nodeId }).update({ locked_until: knex.raw('now() + make_interval(secs => ?)', [leaseMs / 1000]) });
}

/**
 * A chunk ran to its end: its job goes, and the batch completes when no chunk is left. The batch
 * row is locked first, so two nodes finishing the last two chunks complete it once.
 */
export async function finishChunk(knex: Knex, jobId: string, batchId: string): Promise<boolean> {
  return knex.transaction(async (trx) => {
    const batch = await trx('batches').where({ id: batchId }).forUpdate().first('status');
    await trx('jobs').where({ id: jobId }).delete();
    if (!batch || batch.status !== 'running') return false;
    const left = await trx('jobs').where({ kind: BATCH_JOB_KIND }).whereRaw("payload->>'batchId' = ?", [batchId]).first('id');
    if (left) return false;
    await trx('batches').where({ id: batchId }).update({ status: 'completed', ended_at: trx.raw('now()') });
    return true;
  });
}

/** Stops a running batch: its chunks that have not run are dropped; items done stay done. */
export async function cancelBatch(knex: Knex, batchId: string): Promise<BatchRow | undefined> {
  return knex.transaction(async (trx) => {
    const batch = await trx('batches').where({ id: batchId }).forUpdate().first();
    if (!batch || batch.status !== 'running') return batch;
    await trx('jobs').where({ kind: BATCH_JOB_KIND }).whereRaw("payload->>'batchId' = ?", [batchId]).delete();
    const [row] = await trx('batches').where({ id: batchId }).update({ status: 'cancelled', ended_at: trx.raw('now()') }).returning('*');
    return row;
  });
}

/** Deletes a batch that has ended (cancel it first), with its items. */
export async function deleteBatch(knex: Knex, batchId: string): Promise<number> {
  return knex('batches').where({ id: batchId }).whereNot({ status: 'running' }).delete();
}

/** An instance's open incidents that a retry can restart (failed external tasks, jobs, handlers). */
export async function openIncidentIds(knex: Knex, instanceId: string): Promise<string[]> {
  return knex('incidents')
    .where({ instance_id: instanceId })
    .whereNull('resolved_at')
    .whereIn('type', ['failedExternalTask', 'failedJob', 'failedHandler'])
    .orderBy('created_at')
    .pluck('id');
}
