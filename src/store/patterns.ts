import { createHash, randomUUID } from 'node:crypto';
import type { Knex } from 'knex';

/**
 * The incident pattern store (knowledge base): which remediation fixed which alert
 * signature, how often it worked, the outcome of every attempt, and what people decided.
 */

export interface Remediation {
  topic: string;
  params: Record<string, unknown>;
}

export interface PatternMatch {
  alertname: string;
  service: string;
  severity: string;
}

export interface PatternRow {
  id: string;
  signature: string;
  match: PatternMatch;
  remediation: Remediation;
  remediation_key: string;
  description: string | null;
  successes: number;
  failures: number;
  enabled: boolean;
  origin: 'manual-fix' | 'api';
  created_by: string | null;
  created_at: Date;
  updated_at: Date;
  last_seen_at: Date | null;
  error_operations: string[];
}

/** How a pattern's counts became its confidence, shown next to the number. */
export interface Confidence {
  value: number;
  successes: number;
  failures: number;
  method: 'beta-posterior-mean';
  prior: { alpha: number; beta: number };
  formula: string;
}

/** The uniform Beta(1, 1) prior: an untried fix is a coin toss. */
export const PRIOR = { alpha: 1, beta: 1 } as const;

/** Posterior mean of Beta(alpha + successes, beta + failures). */
export function confidenceOf(successes: number, failures: number): Confidence {
  const a = PRIOR.alpha + successes;
  const b = PRIOR.beta + failures;
  const value = a / (a + b);
  return {
    value,
    successes,
    failures,
    method: 'beta-posterior-mean',
    prior: { ...PRIOR },
    formula: `(${PRIOR.alpha} + ${successes}) / (${PRIOR.alpha} + ${successes} + ${PRIOR.beta} + ${failures}) = ${value.toFixed(3)}`,
  };
}

/** The labels signature: alertname + service + severity, in that order. */
export function signatureOf(match: PatternMatch): string {
  return `alertname=${match.alertname},service=${match.service},severity=${match.severity}`;
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonical((value as Record<string, unknown>)[key])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

/** One key per distinct fix (topic and parameters, key order ignored). */
export function remediationKey(remediation: Remediation): string {
  return `${remediation.topic}#${createHash('sha256').update(canonical(remediation.params)).digest('hex').slice(0, 16)}`;
}

export async function listPatterns(knex: Knex, filter: { signature?: string; service?: string; alertname?: string } = {}): Promise<PatternRow[]> {
  const query = knex('incident_patterns').orderBy([{ column: 'signature' }, { column: 'created_at' }]);
  if (filter.signature) query.where('signature', filter.signature);
  if (filter.service) query.whereRaw(`match->>'service' = ?`, [filter.service]);
  if (filter.alertname) query.whereRaw(`match->>'alertname' = ?`, [filter.alertname]);
  return query;
}

export async function findPattern(knex: Knex, id: string): Promise<PatternRow | undefined> {
  return knex('incident_patterns').where({ id }).first();
}

/** Enabled patterns for the same alert and service (any severity): the candidates of an analysis. */
export async function findCandidatePatterns(knex: Knex, match: PatternMatch): Promise<PatternRow[]> {
  return knex('incident_patterns')
    .where({ enabled: true })
    .whereRaw(`match->>'alertname' = ?`, [match.alertname])
    .whereRaw(`match->>'service' = ?`, [match.service])
    .orderBy('created_at');
}

/**
 * Creates a pattern, or returns the existing one for the same signature and fix (a
 * person recording the same fix twice must not split its history).
 */
export async function insertPatternOnce(
  knex: Knex,
  pattern: { match: PatternMatch; remediation: Remediation; description?: string | null; origin: 'manual-fix' | 'api'; createdBy?: string | null; successes?: number; failures?: number },
): Promise<{ created: boolean; row: PatternRow }> {
  const signature = signatureOf(pattern.match);
  const key = remediationKey(pattern.remediation);
  const [row] = await knex('incident_patterns')
    .insert({
      id: randomUUID(),
      signature,
      match: JSON.stringify(pattern.match),
      remediation: JSON.stringify(pattern.remediation),
      remediation_key: key,
      description: pattern.description ?? null,
      successes: pattern.successes ?? 0,
      failures: pattern.failures ?? 0,
      origin: pattern.origin,
      created_by: pattern.createdBy ?? null,
    })
    .onConflict(['signature', 'remediation_key'])
    .ignore()
    .returning('*');
  if (row) return { created: true, row };
  return { created: false, row: await knex('incident_patterns').where({ signature, remediation_key: key }).first() };
}

export async function updatePattern(
  knex: Knex,
  id: string,
  changes: { remediation?: Remediation; description?: string | null; enabled?: boolean; successes?: number; failures?: number },
): Promise<PatternRow | undefined> {
  const update: Record<string, unknown> = { updated_at: new Date() };
  if (changes.remediation) {
    update.remediation = JSON.stringify(changes.remediation);
    update.remediation_key = remediationKey(changes.remediation);
  }
  if (changes.description !== undefined) update.description = changes.description;
  if (changes.enabled !== undefined) update.enabled = changes.enabled;
  if (changes.successes !== undefined) update.successes = changes.successes;
  if (changes.failures !== undefined) update.failures = changes.failures;
  const [row] = await knex('incident_patterns').where({ id }).update(update).returning('*');
  return row;
}

export async function touchPatterns(knex: Knex, ids: string[], at = new Date()): Promise<void> {
  if (ids.length) await knex('incident_patterns').whereIn('id', ids).update({ last_seen_at: at });
}

/**
 * Records one outcome and counts it against its pattern, once per idempotency key (the
 * learn step runs at least once). Returns the pattern as it is afterwards.
 */
export async function recordOutcome(
  knex: Knex,
  outcome: {
    idempotencyKey: string;
    instanceId: string;
    patternId: string | null;
    result: 'success' | 'failure';
    durationMs: number | null;
    /** Span names failing when the fix worked: kept with the pattern (at most 10). */
    errorOperations?: string[];
  },
): Promise<{ counted: boolean; pattern: PatternRow | undefined }> {
  return knex.transaction(async (trx) => {
    const [inserted] = await trx('incident_outcomes')
      .insert({
        id: randomUUID(),
        idempotency_key: outcome.idempotencyKey,
        instance_id: outcome.instanceId,
        pattern_id: outcome.patternId,
        result: outcome.result,
        duration_ms: outcome.durationMs,
      })
      .onConflict('idempotency_key')
      .ignore()
      .returning('id');
    if (inserted && outcome.patternId) {
      const column = outcome.result === 'success' ? 'successes' : 'failures';
      await trx('incident_patterns').where({ id: outcome.patternId }).increment(column, 1).update({ updated_at: new Date() });
      if (outcome.result === 'success' && outcome.errorOperations?.length) {
        const current = await trx('incident_patterns').where({ id: outcome.patternId }).forUpdate().first('error_operations');
        const merged = [...new Set([...outcome.errorOperations, ...((current?.error_operations as string[]) ?? [])])].slice(0, 10);
        await trx('incident_patterns').where({ id: outcome.patternId }).update({ error_operations: JSON.stringify(merged) });
      }
    }
    const pattern = outcome.patternId ? await trx('incident_patterns').where({ id: outcome.patternId }).first() : undefined;
    return { counted: Boolean(inserted), pattern };
  });
}

export interface OutcomeRow {
  id: string;
  instance_id: string;
  pattern_id: string | null;
  result: 'success' | 'failure';
  duration_ms: number | null;
  recorded_at: Date;
}

export async function listOutcomes(knex: Knex, filter: { patternId?: string; instanceId?: string; limit?: number }): Promise<OutcomeRow[]> {
  const query = knex('incident_outcomes')
    .select('id', 'instance_id', 'pattern_id', 'result', 'duration_ms', 'recorded_at')
    .orderBy('recorded_at', 'desc')
    .limit(filter.limit ?? 100);
  if (filter.patternId) query.where('pattern_id', filter.patternId);
  if (filter.instanceId) query.where('instance_id', filter.instanceId);
  return query;
}

export interface OverrideRow {
  id: string;
  instance_id: string | null;
  pattern_id: string | null;
  action: string;
  remediation: Remediation | null;
  actor: string | null;
  note: string | null;
  at: Date;
}

/** A person's decision: approved, rejected, a manual fix, an edit through the API. */
export async function recordOverride(
  knex: Knex,
  override: { idempotencyKey?: string; instanceId?: string | null; patternId?: string | null; action: string; remediation?: Remediation | null; actor?: string | null; note?: string | null },
): Promise<void> {
  await knex('incident_overrides')
    .insert({
      id: randomUUID(),
      idempotency_key: override.idempotencyKey ?? null,
      instance_id: override.instanceId ?? null,
      pattern_id: override.patternId ?? null,
      action: override.action,
      remediation: override.remediation ? JSON.stringify(override.remediation) : null,
      actor: override.actor ?? null,
      note: override.note ?? null,
    })
    .onConflict('idempotency_key')
    .ignore();
}

export async function listOverrides(knex: Knex, filter: { patternId?: string; instanceId?: string }): Promise<OverrideRow[]> {
  const query = knex('incident_overrides').select('id', 'instance_id', 'pattern_id', 'action', 'remediation', 'actor', 'note', 'at').orderBy('at', 'desc').limit(100);
  if (filter.patternId) query.where('pattern_id', filter.patternId);
  if (filter.instanceId) query.where('instance_id', filter.instanceId);
  return query;
}
