import type { Knex } from 'knex';
import * as store from '../store/audit-entries.js';
import type { AuditEntry, AuditEntryRow, AuditFilter, IdempotentAnswer } from '../store/audit-entries.js';

/** Whether an error is the unique index of idempotency keys refusing a second use of a key. */
export { isIdempotencyConflict } from '../store/audit-entries.js';

/**
 * The audit log (who asked for what, and the answers kept for `Idempotency-Key`s), bound to
 * the engine's database: the HTTP layer records and reads it here. An action's own entry is
 * written by the engine inside the action's transaction; this records what happens beside it.
 */
export class AuditLog {
  constructor(private readonly knex: Knex) {}

  append(entry: AuditEntry): Promise<void> {
    return store.appendAuditEntry(this.knex, entry);
  }

  /** Newest first, with the total count of matching rows for pagination. */
  list(filter: AuditFilter): Promise<{ total: number; entries: AuditEntryRow[] }> {
    return store.listAuditEntries(this.knex, filter);
  }

  /** The successful entries an `Idempotency-Key` already made, oldest first (empty: not used yet). */
  findIdempotentEntries(actor: string, action: string, key: string): Promise<AuditEntryRow[]> {
    return store.findIdempotentEntries(this.knex, actor, action, key);
  }

  /** The answer kept for an Idempotency-Key, with the target it was for (undefined: none kept). */
  findIdempotentAnswer(actor: string, action: string, key: string): Promise<(IdempotentAnswer & { target: string }) | undefined> {
    return store.findIdempotentAnswer(this.knex, actor, action, key);
  }

  /** Keeps the answer of an idempotent request; the first one kept for a key stays. */
  recordIdempotentAnswer(entry: AuditEntry & { idempotencyKey: string }, answer: IdempotentAnswer): Promise<void> {
    return store.recordIdempotentAnswer(this.knex, entry, answer);
  }

  /** Start times of instances, for answering a replayed correlation. */
  instanceStartTimes(ids: string[]): Promise<Array<{ id: string; started_at: Date }>> {
    return store.instanceStartTimes(this.knex, ids);
  }
}
