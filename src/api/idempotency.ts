import type { Request, Response } from 'express';
import type { Knex } from 'knex';
import { z } from 'zod';
import { AppError } from '../errors.js';
import { findIdempotentEntries, instanceStartTimes as startTimes, isIdempotencyConflict, type AuditEntry, type AuditEntryRow } from '../store/audit-entries.js';
import { audited } from './audit.js';

const IdempotencyKey = z.string().regex(/^[\x21-\x7e]{1,200}$/, 'Idempotency-Key must be 1 to 200 visible ASCII characters');

/**
 * Runs an audited action once per `Idempotency-Key` (header; absent: every request acts).
 * The key is stored on the action's audit entry, in the action's own transaction, so it
 * exists exactly when the action committed. A retry with the same key (after a lost answer,
 * or while the first is still running) does not act again: `replay` answers from the
 * entries the first request left, with `Idempotent-Replayed: true`. The same key for
 * another target is a 422.
 */
export async function idempotent<T>(
  req: Request,
  res: Response,
  knex: Knex,
  entry: AuditEntry,
  act: (audit: AuditEntry) => Promise<T>,
  replay: (previous: AuditEntryRow[]) => Promise<T>,
): Promise<T> {
  const header = req.get('idempotency-key');
  if (header === undefined) return audited(knex, entry, act);
  const key = IdempotencyKey.parse(header);
  const keyed = { ...entry, idempotencyKey: key };
  const answerFrom = async (previous: AuditEntryRow[]) => {
    if (previous[0]!.target !== entry.target) {
      throw new AppError('IDEMPOTENCY_KEY_REUSED', `Idempotency-Key ${key} was used for ${previous[0]!.action} on ${previous[0]!.target}, not ${entry.target}`);
    }
    res.setHeader('Idempotent-Replayed', 'true');
    return replay(previous);
  };
  const earlier = await findIdempotentEntries(knex, entry.actor, entry.action, key);
  if (earlier.length) return answerFrom(earlier);
  try {
    return await audited(knex, keyed, act);
  } catch (error) {
    if (!isIdempotencyConflict(error)) throw error;
    // A concurrent request with the same key committed first: answer as it did.
    const winner = await findIdempotentEntries(knex, entry.actor, entry.action, key);
    if (!winner.length) throw error;
    return answerFrom(winner);
  }
}

/**
 * What a correlation answered, rebuilt from its audit entries: an instance that the same
 * transaction started (its start time equals the entry's, both the transaction's now()) was
 * started by the message; the others were waiting for it.
 */
export async function correlationResults(knex: Knex, previous: AuditEntryRow[]): Promise<Array<{ resultType: 'Execution' | 'ProcessDefinition'; instanceId: string }>> {
  const ids = previous.map((row) => row.instance_id).filter((id): id is string => Boolean(id));
  const started = new Map((await startTimes(knex, ids)).map((row) => [row.id, new Date(row.started_at).getTime()]));
  return previous
    .filter((row) => row.instance_id)
    .map((row) => ({
      resultType: started.get(row.instance_id!) === new Date(row.at).getTime() ? 'ProcessDefinition' : 'Execution',
      instanceId: row.instance_id!,
    }));
}
