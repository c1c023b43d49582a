import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';

/** One receiver of a broadcast (see migrations/0027b-signal-broadcasts.ts). */
export interface SignalDelivery {
  id: string;
  broadcast_id: string;
  kind: 'instance' | 'start';
  instance_id: string | null;
  definition_id: string | null;
  process_key: string | null;
  ref_id: string;
  executions: number;
  outcome: 'delivered' | 'gone' | 'started' | null;
}

export interface SignalBroadcast {
  id: string;
  name: string;
  variables: Record<string, unknown>;
  audit: Record<string, unknown> | null;
}

const parse = <T>(value: unknown): T => (typeof value === 'string' ? JSON.parse(value) : value) as T;

/**
 * Records a broadcast and its receivers as they are now, in one transaction, leased to `nodeId`.
 * A broadcast with the same actor and idempotency key exists already: its id, nothing recorded.
 */
export async function recordSignalBroadcast(
  knex: Knex,
  broadcast: { name: string; variables: unknown; audit: unknown; actor: string | null; idempotencyKey: string | null; nodeId: string; leaseMs: number },
): Promise<{ id: string; created: boolean; name?: string }> {
  return knex.transaction(async (trx) => {
    if (broadcast.idempotencyKey) {
      const existing = await trx('signal_broadcasts').where({ actor: broadcast.actor, idempotency_key: broadcast.idempotencyKey }).first('id', 'name');
      if (existing) return { id: existing.id as string, created: false, name: existing.name as string };
    }
    const id = randomUUID();
    await trx('signal_broadcasts').insert({
      id,
      name: broadcast.name,
      variables: JSON.stringify(broadcast.variables ?? {}),
      audit: broadcast.audit ? JSON.stringify(broadcast.audit) : null,
      actor: broadcast.actor,
      idempotency_key: broadcast.idempotencyKey,
      locked_by: broadcast.nodeId,
      locked_until: trx.raw('now() + make_interval(secs => ?)', [broadcast.leaseMs / 1000]),
    });
    // One transition per instance and signal element moves every catch and event sub-process start there.
    await trx.raw(
      `INSERT INTO signal_deliveries (broadcast_id, kind, instance_id, ref_id, executions)
       SELECT ?, 'instance', instance_id, ref_id, count(*) FROM subscriptions WHERE kind = 'signal' AND name = ?
        GROUP BY instance_id, ref_id ORDER BY instance_id, ref_id`,
      [id, broadcast.name],
    );
    await trx.raw(
      `INSERT INTO signal_deliveries (broadcast_id, kind, definition_id, process_key, ref_id)
       SELECT ?, 'start', s.definition_id, d.key, s.ref_id FROM subscriptions s JOIN process_definitions d ON d.id = s.definition_id
        WHERE s.kind = 'signal-start' AND s.name = ? ORDER BY d.key`,
      [id, broadcast.name],
    );
    return { id, created: true };
  });
}

export async function findSignalBroadcast(knex: Knex, id: string): Promise<SignalBroadcast | undefined> {
  const row = await knex('signal_broadcasts').where({ id }).first('id', 'name', 'variables', 'audit');
  return row ? { ...row, variables: parse(row.variables), audit: parse(row.audit) } : undefined;
}

/** The broadcast a request with this idempotency key recorded, if any. */
export async function findSignalBroadcastByKey(knex: Knex, actor: string, idempotencyKey: string): Promise<string | undefined> {
  return (await knex('signal_broadcasts').where({ actor, idempotency_key: idempotencyKey }).first('id'))?.id;
}

/** Receivers still to deliver to, in order. */
export async function pendingSignalDeliveries(knex: Knex, broadcastId: string): Promise<SignalDelivery[]> {
  const rows = await knex('signal_deliveries').where({ broadcast_id: broadcastId }).whereNull('delivered_at').orderBy('id');
  return rows.map((row: SignalDelivery) => ({ ...row, id: String(row.id) }));
}

/**
 * Marks a delivery done, in the commit of the transition it caused; false when it was done
 * already (another node, or the run this one resumes, got there first): the caller rolls back.
 */
export async function markSignalDelivered(knex: Knex | Knex.Transaction, deliveryId: string, outcome: 'delivered' | 'gone' | 'started', startedInstanceId?: string): Promise<boolean> {
  const updated = await knex('signal_deliveries')
    .where({ id: deliveryId })
    .whereNull('delivered_at')
    .update({ delivered_at: knex.raw('now()'), outcome, started_instance_id: startedInstanceId ?? null });
  return updated > 0;
}

/** Keeps the broadcast with this node a while longer (called as it delivers). */
export async function renewSignalBroadcast(knex: Knex, id: string, nodeId: string, leaseMs: number): Promise<void> {
  await knex('signal_broadcasts').where({ id }).update({ locked_by: nodeId, locked_until: knex.raw('now() + make_interval(secs => ?)', [leaseMs / 1000]) });
}

export async function finishSignalBroadcast(knex: Knex, id: string): Promise<{ delivered: number; started: number }> {
  await knex('signal_broadcasts').where({ id }).whereNull('finished_at').update({ finished_at: knex.raw('now()'), locked_by: null, locked_until: null });
  const row = await knex('signal_deliveries')
    .where({ broadcast_id: id })
    .first(
      knex.raw(`coalesce(sum(executions) FILTER (WHERE outcome = 'delivered'), 0) AS delivered`),
      knex.raw(`count(*) FILTER (WHERE outcome = 'started') AS started`),
    );
  return { delivered: Number(row?.delivered ?? 0), started: Number(row?.started ?? 0) };
}

/** Claims one unfinished broadcast whose node stopped renewing its lease (it died), by the database's clock. */
export async function claimAbandonedSignalBroadcast(knex: Knex, nodeId: string, leaseMs: number): Promise<string | undefined> {
  const result = await knex.raw(
    `UPDATE signal_broadcasts SET locked_by = ?, locked_until = now() + make_interval(secs => ?)
      WHERE id = (SELECT id FROM signal_broadcasts WHERE finished_at IS NULL AND (locked_until IS NULL OR locked_until < now())
                   ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED)
      RETURNING id`,
    [nodeId, leaseMs / 1000],
  );
  return result.rows[0]?.id;
}
