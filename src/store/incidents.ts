import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';

/**
 * Why an activity (or a definition's timer start) stopped and waits for an operator:
 * - `failedJob`: a timer, timer start or call hand-back used up its retries, or kept killing
 *   its node (its lease ran out again and again);
 * - `failedExternalTask`: a worker reported a failure with no retries left;
 * - `failedHandler`: an inline handler threw;
 * - `failedTimer`: a timer text resolved to no timer at run time;
 * - `stepLimit`: a transition ran more steps (or longer) than allowed without a wait state;
 * - `engineError`: anything else the engine could not place.
 */
export const INCIDENT_TYPES = ['failedJob', 'failedExternalTask', 'failedHandler', 'failedTimer', 'stepLimit', 'engineError'] as const;
export type IncidentType = (typeof INCIDENT_TYPES)[number];

export interface NewIncident {
  type: IncidentType;
  /** Null for a definition-level incident (a timer start's job). */
  instanceId: string | null;
  definitionId?: string | null;
  processKey: string;
  activityId?: string | null;
  executionId?: string | null;
  message: string;
  stack?: string | null;
  trigger?: Record<string, unknown> | null;
  jobId?: string | null;
  externalTaskId?: string | null;
}

export interface IncidentRow {
  id: string;
  instance_id: string | null;
  definition_id: string | null;
  process_key: string;
  activity_id: string | null;
  execution_id: string | null;
  type: IncidentType;
  message: string;
  stack: string | null;
  trigger: Record<string, unknown> | null;
  job_id: string | null;
  external_task_id: string | null;
  created_at: Date;
  resolved_at: Date | null;
}

/** The one place an incident row is written. */
export async function insertIncident(trx: Knex | Knex.Transaction, incident: NewIncident): Promise<string> {
  const id = randomUUID();
  await trx('incidents').insert({
    id,
    instance_id: incident.instanceId,
    definition_id: incident.definitionId ?? null,
    process_key: incident.processKey,
    activity_id: incident.activityId ?? null,
    execution_id: incident.executionId ?? null,
    type: incident.type,
    message: incident.message,
    stack: incident.stack ?? null,
    trigger: incident.trigger ? JSON.stringify(incident.trigger) : null,
    job_id: incident.jobId ?? null,
    external_task_id: incident.externalTaskId ?? null,
  });
  return id;
}

export async function findIncident(knex: Knex, id: string): Promise<IncidentRow | undefined> {
  return knex('incidents').where({ id }).first();
}

/** Resolves one open incident; returns its instance (null for a definition's), or undefined if none was open. */
export async function resolveIncident(trx: Knex | Knex.Transaction, id: string): Promise<{ instance_id: string | null } | undefined> {
  const [resolved] = await trx('incidents').where({ id }).whereNull('resolved_at').update({ resolved_at: new Date() }).returning('instance_id');
  return resolved;
}

/** Open incidents of a job (an operator ran it by hand and it went through). */
export async function resolveJobIncidents(trx: Knex | Knex.Transaction, jobId: string): Promise<void> {
  await trx('incidents').where({ job_id: jobId }).whereNull('resolved_at').update({ resolved_at: new Date() });
}

/** Executions of an instance that an open failedHandler incident parks. */
export async function parkedExecutions(knex: Knex, instanceId: string): Promise<string[]> {
  return knex('incidents').where({ instance_id: instanceId, type: 'failedHandler' }).whereNull('resolved_at').pluck('execution_id');
}

/**
 * Incidents of executions an instance no longer runs: an activity left through a boundary
 * event, an interrupting event sub-process or a cancel takes its incident with it, so
 * self-healing does not retry what no longer exists. `stillRunning` are the execution ids
 * and activity ids that still wait; incidents of other executions are resolved.
 */
export async function resolveLeftIncidents(
  trx: Knex.Transaction,
  instanceId: string,
  stillWaiting: { executionIds: Set<string>; activityIds: Set<string> },
): Promise<number> {
  const open: Array<{ id: string; execution_id: string | null; activity_id: string | null; type: IncidentType }> = await trx('incidents')
    .where({ instance_id: instanceId })
    .whereNull('resolved_at')
    .select('id', 'execution_id', 'activity_id', 'type');
  const left = open.filter((incident) =>
    incident.execution_id
      ? !stillWaiting.executionIds.has(incident.execution_id) && !(incident.activity_id && stillWaiting.activityIds.has(incident.activity_id) && incident.type !== 'failedHandler')
      : incident.activity_id !== null && !stillWaiting.activityIds.has(incident.activity_id),
  );
  if (left.length) await trx('incidents').whereIn('id', left.map((incident) => incident.id)).update({ resolved_at: new Date() });
  return left.length;
}

/** Every open incident of an instance ends with it. */
export async function resolveInstanceIncidents(trx: Knex.Transaction, instanceId: string): Promise<void> {
  await trx('incidents').where({ instance_id: instanceId }).whereNull('resolved_at').update({ resolved_at: new Date() });
}
