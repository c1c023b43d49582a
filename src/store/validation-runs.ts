import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';

export interface PhaseResult {
  name: string;
  passed: boolean;
  /** 0..1 for this phase (pass/fail phases are 0 or 1). */
  score: number;
  weight: number;
  required: boolean;
  durationMs: number;
  exitCode?: number | null;
  timedOut?: boolean;
  summary: string;
  output?: string;
  /** A non-required phase whose script the repository lacks: not run, not passed, scored 0. */
  skipped?: boolean;
  /** The worktree was made afresh for this phase, so setup's command ran first. */
  setupRan?: boolean;
}

export interface ValidationRunRow {
  id: string;
  subject: string;
  instance_id: string | null;
  ref: string | null;
  score: number;
  gate: number;
  passed: boolean;
  phases: PhaseResult[];
  created_at: Date;
}

export async function insertValidationRun(
  knex: Knex,
  run: { subject: string; instanceId?: string | null; ref?: string | null; score: number; gate: number; passed: boolean; phases: PhaseResult[] },
): Promise<ValidationRunRow> {
  const [row] = await knex('validation_runs')
    .insert({
      id: randomUUID(),
      subject: run.subject,
      instance_id: run.instanceId ?? null,
      ref: run.ref ?? null,
      score: run.score,
      gate: run.gate,
      passed: run.passed,
      phases: JSON.stringify(run.phases),
    })
    .returning('*');
  return row as ValidationRunRow;
}

export async function listValidationRuns(knex: Knex, query: { subject?: string; limit: number; offset: number }): Promise<ValidationRunRow[]> {
  const q = knex('validation_runs').orderBy('created_at', 'desc').orderBy('id').limit(query.limit).offset(query.offset);
  if (query.subject) q.where({ subject: query.subject });
  return q;
}

export async function findValidationRun(knex: Knex, id: string): Promise<ValidationRunRow | undefined> {
  return knex('validation_runs').where({ id }).first();
}

/** Score over the last runs of a subject, oldest first, for trends. */
export async function scoreHistory(knex: Knex, subject: string, limit: number): Promise<Array<{ id: string; score: number; passed: boolean; created_at: Date }>> {
  const rows = await knex('validation_runs').where({ subject }).orderBy('created_at', 'desc').limit(limit).select('id', 'score', 'passed', 'created_at');
  return rows.reverse();
}

/** One row per activity span of an instance, as this engine wrote them (ingested spans may name any instance). */
export async function activitySpans(knex: Knex, instanceId: string): Promise<Array<{ activity_id: string; duration_ms: number; status_code: number }>> {
  return knex('spans').where({ instance_id: instanceId, source: 'engine' }).whereNotNull('activity_id').select('activity_id', 'duration_ms', 'status_code').orderBy('start_time');
}

/** Records (or, on a resubmission, replaces) the result a phase task of an instance produced. */
export async function recordPhaseResult(knex: Knex, instanceId: string, ref: string, result: PhaseResult): Promise<void> {
  await knex('validation_phase_results')
    .insert({ instance_id: instanceId, phase: result.name, ref, result: JSON.stringify(result), recorded_at: knex.fn.now() })
    .onConflict(['instance_id', 'phase'])
    .merge(['ref', 'result', 'recorded_at']);
}

/** The phase results recorded for an instance, by phase name; with `ref`, only those of that ref. */
export async function phaseResults(knex: Knex, instanceId: string, ref?: string): Promise<Map<string, PhaseResult>> {
  const query = knex('validation_phase_results').where({ instance_id: instanceId }).select('phase', 'result');
  if (ref !== undefined) query.where({ ref });
  const rows: Array<{ phase: string; result: PhaseResult }> = await query;
  return new Map(rows.map((row) => [row.phase, row.result]));
}

/** The validator module's narrow window on the database. */
export interface ValidationRunStore {
  insert(run: Parameters<typeof insertValidationRun>[1]): Promise<ValidationRunRow>;
  list(query: { subject?: string; limit: number; offset: number }): Promise<ValidationRunRow[]>;
  find(id: string): Promise<ValidationRunRow | undefined>;
  history(subject: string, limit: number): ReturnType<typeof scoreHistory>;
  activitySpans(instanceId: string): ReturnType<typeof activitySpans>;
  recordPhase(instanceId: string, ref: string, result: PhaseResult): Promise<void>;
  phaseResults(instanceId: string, ref?: string): Promise<Map<string, PhaseResult>>;
}

export function createValidationRunStore(knex: Knex): ValidationRunStore {
  return {
    insert: (run) => insertValidationRun(knex, run),
    list: (query) => listValidationRuns(knex, query),
    find: (id) => findValidationRun(knex, id),
    history: (subject, limit) => scoreHistory(knex, subject, limit),
    activitySpans: (instanceId) => activitySpans(knex, instanceId),
    recordPhase: (instanceId, ref, result) => recordPhaseResult(knex, instanceId, ref, result),
    phaseResults: (instanceId, ref) => phaseResults(knex, instanceId, ref),
  };
}
