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
  /** The commit the ref named when the run started (null for runs from before pinning). */
  commit: string | null;
  score: number;
  gate: number;
  passed: boolean;
  phases: PhaseResult[];
  created_at: Date;
}

export async function insertValidationRun(
  knex: Knex,
  run: { subject: string; instanceId?: string | null; ref?: string | null; commit?: string | null; score: number; gate: number; passed: boolean; phases: PhaseResult[] },
): Promise<ValidationRunRow> {
  const [row] = await knex('validation_runs')
    .insert({
      id: randomUUID(),
      subject: run.subject,
      instance_id: run.instanceId ?? null,
      ref: run.ref ?? null,
      commit: run.commit ?? null,
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

/** Records (or, on a resubmission, replaces) the result a phase task of an instance produced for a commit. */
export async function recordPhaseResult(knex: Knex, instanceId: string, target: { ref: string; commit: string }, result: PhaseResult): Promise<void> {
  await knex('validation_phase_results')
    .insert({ instance_id: instanceId, phase: result.name, ref: target.ref, commit: target.commit, result: JSON.stringify(result), recorded_at: knex.fn.now() })
    .onConflict(['instance_id', 'phase'])
    .merge(['ref', 'commit', 'result', 'recorded_at']);
}

/** The phase results recorded for an instance, by phase name; with `ref` or `commit`, only those of it. */
export async function phaseResults(knex: Knex, instanceId: string, of: { ref?: string; commit?: string } = {}): Promise<Map<string, PhaseResult>> {
  const query = knex('validation_phase_results').where({ instance_id: instanceId }).select('phase', 'result');
  if (of.ref !== undefined) query.where({ ref: of.ref });
  if (of.commit !== undefined) query.where({ commit: of.commit });
  const rows: Array<{ phase: string; result: PhaseResult }> = await query;
  return new Map(rows.map((row) => [row.phase, row.result]));
}

/** Pins what `ref` names for an instance's validation (replacing an earlier pin: a new run); returns the commit. */
export async function pinCommit(knex: Knex, instanceId: string, ref: string, commit: string): Promise<string> {
  await knex('validation_pins').insert({ instance_id: instanceId, ref, commit, pinned_at: knex.fn.now() }).onConflict(['instance_id', 'ref']).merge(['commit', 'pinned_at']);
  return commit;
}

/** The commit an instance's validation pinned for `ref`, if one did. */
export async function pinnedCommit(knex: Knex, instanceId: string, ref: string): Promise<string | undefined> {
  const row: { commit: string } | undefined = await knex('validation_pins').where({ instance_id: instanceId, ref }).first('commit');
  return row?.commit;
}

/** The validator module's narrow window on the database. */
export interface ValidationRunStore {
  insert(run: Parameters<typeof insertValidationRun>[1]): Promise<ValidationRunRow>;
  list(query: { subject?: string; limit: number; offset: number }): Promise<ValidationRunRow[]>;
  find(id: string): Promise<ValidationRunRow | undefined>;
  history(subject: string, limit: number): ReturnType<typeof scoreHistory>;
  activitySpans(instanceId: string): ReturnType<typeof activitySpans>;
  recordPhase(instanceId: string, target: { ref: string; commit: string }, result: PhaseResult): Promise<void>;
  phaseResults(instanceId: string, of?: { ref?: string; commit?: string }): Promise<Map<string, PhaseResult>>;
  pin(instanceId: string, ref: string, commit: string): Promise<string>;
  pinned(instanceId: string, ref: string): Promise<string | undefined>;
}

export function createValidationRunStore(knex: Knex): ValidationRunStore {
  return {
    insert: (run) => insertValidationRun(knex, run),
    list: (query) => listValidationRuns(knex, query),
    find: (id) => findValidationRun(knex, id),
    history: (subject, limit) => scoreHistory(knex, subject, limit),
    activitySpans: (instanceId) => activitySpans(knex, instanceId),
    recordPhase: (instanceId, target, result) => recordPhaseResult(knex, instanceId, target, result),
    phaseResults: (instanceId, of) => phaseResults(knex, instanceId, of),
    pin: (instanceId, ref, commit) => pinCommit(knex, instanceId, ref, commit),
    pinned: (instanceId, ref) => pinnedCommit(knex, instanceId, ref),
  };
}
