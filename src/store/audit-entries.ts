import type { Knex } from 'knex';

/** Who asked for an action and on what; the engine writes it inside the action's transaction. */
export interface AuditEntry {
  /** `<role>:<token digest prefix>`: names a token without revealing it. */
  actor: string;
  /** dot.case, e.g. `instance.start`. */
  action: string;
  /** What the request named: a process key, an instance, task or incident id. */
  target: string;
  /** `ok` unless given: a refused action is recorded with its error code. @default ok */
  result?: string;
  /** The instance the action changed, when there is one. */
  instanceId?: string | null;
  details?: Record<string, unknown>;
  /** The request's `Idempotency-Key`: unique per actor and action among successful entries. */
  idempotencyKey?: string;
}

export interface AuditEntryRow {
  id: string;
  at: Date;
  actor: string;
  action: string;
  target: string;
  result: string;
  instance_id: string | null;
  details: Record<string, unknown> | null;
}

/** The HTTP answer of an idempotent request: a retry gets exactly this again. */
export interface IdempotentAnswer {
  status: number;
  /** Absent: no body (204). */
  body?: unknown;
}

export async function appendAuditEntry(knex: Knex, entry: AuditEntry): Promise<void> {
  await knex('audit_entries').insert({
    actor: entry.actor,
    action: entry.action,
    target: entry.target,
    result: entry.result ?? 'ok',
    instance_id: entry.instanceId ?? null,
    details: entry.details ? JSON.stringify(entry.details) : null,
    ...(entry.idempotencyKey ? { idempotency_key: entry.idempotencyKey } : {}),
  });
}

/** The successful entries an `Idempotency-Key` already made, oldest first (empty: not used yet). */
export async function findIdempotentEntries(knex: Knex, actor: string, action: string, key: string): Promise<AuditEntryRow[]> {
  return knex('audit_entries').where({ actor, action, idempotency_key: key, result: 'ok' }).orderBy('id');
}

/** Keeps the answer of an idempotent request; the first one kept for a key stays. */
export async function recordIdempotentAnswer(knex: Knex, entry: AuditEntry & { idempotencyKey: string }, answer: IdempotentAnswer): Promise<void> {
  await knex('idempotent_answers')
    .insert({
      actor: entry.actor,
      action: entry.action,
      idempotency_key: entry.idempotencyKey,
      target: entry.target,
      status: answer.status,
      body: answer.body === undefined ? null : JSON.stringify(answer.body),
    })
    .onConflict(['actor', 'action', 'idempotency_key'])
    .ignore();
}

/** The answer kept for an Idempotency-Key, with the target it was for (undefined: none kept). */
export async function findIdempotentAnswer(knex: Knex, actor: string, action: string, key: string): Promise<(IdempotentAnswer & { target: string }) | undefined> {
  const row = await knex('idempotent_answers').where({ actor, action, idempotency_key: key }).first('target', 'status', 'body');
  if (!row) return undefined;
  const body = typeof row.body === 'string' ? JSON.parse(row.body) : row.body;
  return { target: row.target, status: row.status, ...(body === null ? {} : { body }) };
}

/** Whether an error is the unique index of idempotency keys refusing a second use of a key. */
export function isIdempotencyConflict(error: unknown): boolean {
  for (let current: any = error, depth = 0; current && depth < 8; current = current.cause, depth++) {
    if (current.code === '23505' && /audit_entries_idempotent/.test(String(current.constraint ?? current.message ?? ''))) return true;
  }
  return false;
}

export interface AuditFilter {
  actor?: string;
  action?: string;
  target?: string;
  instanceId?: string;
  limit: number;
  offset: number;
}

/** Newest first, with the total count of matching rows for pagination. */
export async function listAuditEntries(knex: Knex, filter: AuditFilter): Promise<{ total: number; entries: AuditEntryRow[] }> {
  const where = (query: Knex.QueryBuilder) => {
    if (filter.actor) query.where('actor', filter.actor);
    if (filter.action) query.where('action', filter.action);
    if (filter.target) query.where('target', filter.target);
    if (filter.instanceId) query.where('instance_id', filter.instanceId);
    return query;
  };
  const [entries, counted] = await Promise.all([
    where(knex('audit_entries').select('*').orderBy('id', 'desc').limit(filter.limit).offset(filter.offset)),
    where(knex('audit_entries').count<{ count: string }[]>({ count: '*' })),
  ]);
  return { total: Number(counted[0]?.count ?? 0), entries: entries as AuditEntryRow[] };
}

/** Start times of instances, for answering a replayed correlation. */
export async function instanceStartTimes(knex: Knex, ids: string[]): Promise<Array<{ id: string; started_at: Date }>> {
  return ids.length ? knex('process_instances').whereIn('id', ids).select('id', 'started_at') : [];
}
