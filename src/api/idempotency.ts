import type { Request, Response } from 'express';
import { z } from 'zod';
import { isIdempotencyConflict, type AuditLog } from '../engine/audit-log.js';
import { AppError } from '../errors.js';
import type { AuditEntry, AuditEntryRow, IdempotentAnswer } from '../store/audit-entries.js';
import { audited } from './audit.js';
import { sendJson } from './camunda/external-task-router.js';

const IdempotencyKey = z.string().regex(/^[\x21-\x7e]{1,200}$/, 'Idempotency-Key must be 1 to 200 visible ASCII characters');

/** How long a retry waits for the answer of a first request that committed but has not answered yet. */
const ANSWER_WAIT_MS = 5000;

export type { IdempotentAnswer };

/**
 * Runs an audited action once per `Idempotency-Key` (header; absent: every request acts)
 * and sends its answer. The key is stored on the action's audit entry, in the action's own
 * transaction, so it exists exactly when the action committed; the answer (status and body)
 * is stored beside it before it is sent. A retry with the same key (after a lost answer, or
 * while the first is still running) does not act again: it gets the first answer, with
 * `Idempotent-Replayed: true`, even when the instance has moved on since. Only when the
 * first request died between its commit and its answer is the answer rebuilt (`rebuild`,
 * from the entries it left) from what is stored now. The same key for another target is a 422.
 */
export async function respondIdempotently<T>(
  req: Request,
  res: Response,
  log: AuditLog,
  entry: AuditEntry,
  act: (audit: AuditEntry) => Promise<T>,
  answer: (result: T) => IdempotentAnswer | Promise<IdempotentAnswer>,
  rebuild: (previous: AuditEntryRow[]) => Promise<T>,
): Promise<void> {
  const header = req.get('idempotency-key');
  if (header === undefined) return send(res, await answer(await audited(log, entry, act)));
  const key = IdempotencyKey.parse(header);
  const keyed = { ...entry, idempotencyKey: key };
  const refuseOtherTarget = (target: string) => {
    if (target !== entry.target) throw new AppError('IDEMPOTENCY_KEY_REUSED', `Idempotency-Key ${key} was used for ${entry.action} on ${target}, not ${entry.target}`);
  };
  const replay = async (previous: AuditEntryRow[]) => {
    refuseOtherTarget(previous[0]!.target);
    const stored = await waitForAnswer(log, entry, key);
    res.setHeader('Idempotent-Replayed', 'true');
    send(res, stored ?? (await answer(await rebuild(previous))));
  };
  const kept = await log.findIdempotentAnswer(entry.actor, entry.action, key);
  if (kept) {
    refuseOtherTarget(kept.target);
    res.setHeader('Idempotent-Replayed', 'true');
    return send(res, kept);
  }
  const earlier = await log.findIdempotentEntries(entry.actor, entry.action, key);
  if (earlier.length) return replay(earlier);
  let result: T;
  try {
    result = await audited(log, keyed, act);
  } catch (error) {
    if (!isIdempotencyConflict(error)) throw error;
    // A concurrent request with the same key committed first: answer as it did.
    const winner = await log.findIdempotentEntries(entry.actor, entry.action, key);
    if (!winner.length) throw error;
    return replay(winner);
  }
  const first = await answer(result);
  // The action committed: a failure to keep its answer must not turn it into an error.
  await log.recordIdempotentAnswer(keyed, first).catch((error: unknown) => req.log?.(error));
  send(res, first);
}

/** The first request committed and is building its answer: wait for it rather than rebuild one from a later state. */
async function waitForAnswer(log: AuditLog, entry: AuditEntry, key: string): Promise<IdempotentAnswer | null> {
  const deadline = Date.now() + ANSWER_WAIT_MS;
  for (;;) {
    const answer = await log.findIdempotentAnswer(entry.actor, entry.action, key);
    if (answer) return answer;
    if (Date.now() >= deadline) return null;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function send(res: Response, answer: IdempotentAnswer): void {
  if (answer.body === undefined || answer.body === null) res.status(answer.status).end();
  else sendJson(res, answer.status, answer.body);
}

/**
 * What a correlation answered, rebuilt from its audit entries: an instance that the same
 * transaction started (its start time equals the entry's, both the transaction's now()) was
 * started by the message; the others were waiting for it.
 */
export async function correlationResults(log: AuditLog, previous: AuditEntryRow[]): Promise<Array<{ resultType: 'Execution' | 'ProcessDefinition'; instanceId: string }>> {
  const ids = previous.map((row) => row.instance_id).filter((id): id is string => Boolean(id));
  const started = new Map((await log.instanceStartTimes(ids)).map((row) => [row.id, new Date(row.started_at).getTime()]));
  return previous
    .filter((row) => row.instance_id)
    .map((row) => ({
      resultType: started.get(row.instance_id!) === new Date(row.at).getTime() ? 'ProcessDefinition' : 'Execution',
      instanceId: row.instance_id!,
    }));
}
