import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { IncidentType } from './transition-types.js';

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
 * Incidents of what an instance no longer runs, resolved in the commit that left it: a parked
 * handler whose activity was left (a boundary event, an interrupting event sub-process), an
 * external task or job that is gone. Self-healing then never retries what no longer exists.
 * `parked` are the executions still waiting as external-task rows (parked handlers among them).
 */
export async function resolveLeftIncidents(trx: Knex.Transaction, instanceId: string, parked: string[]): Promise<void> {
  await trx('incidents')
    .where({ instance_id: instanceId })
    .whereNull('resolved_at')
    .andWhere((q) =>
      q
        .where((handler) => handler.where('type', 'failedHandler').whereNotIn('execution_id', parked.length ? parked : ['']))
        .orWhere((task) => task.where('type', 'failedExternalTask').whereNotExists(trx('external_tasks').whereRaw('external_tasks.id = incidents.external_task_id')))
        .orWhere((job) => job.where('type', 'failedJob').whereNotExists(trx('jobs').whereRaw('jobs.id = incidents.job_id'))),
    )
    .update({ resolved_at: new Date() });
}

/** An open step-limit incident on this activity already says it. */
export async function hasOpenIncident(trx: Knex | Knex.Transaction, instanceId: string, type: IncidentType, activityId: string): Promise<boolean> {
  return Boolean(await trx('incidents').where({ instance_id: instanceId, type, activity_id: activityId }).whereNull('resolved_at').first('id'));
}

/** Whether an external-task row is a parked inline handler (a failedHandler incident holds it). */
export async function isParkedExecution(knex: Knex | Knex.Transaction, instanceId: string, executionId: string): Promise<boolean> {
  return Boolean(
    await knex('incidents').where({ instance_id: instanceId, execution_id: executionId, type: 'failedHandler' }).whereNull('resolved_at').first('id'),
  );
}

/** Every open incident of an instance ends with it. */
export async function resolveInstanceIncidents(trx: Knex.Transaction, instanceId: string): Promise<void> {
  await trx('incidents').where({ instance_id: instanceId }).whereNull('resolved_at').update({ resolved_at: new Date() });
}

/** A retried handler's incidents: the retry is its resolution. */
export async function resolveHandlerIncidents(trx: Knex.Transaction, instanceId: string, executionId: string): Promise<void> {
  await trx('incidents').where({ instance_id: instanceId, execution_id: executionId, type: 'failedHandler' }).whereNull('resolved_at').update({ resolved_at: new Date() });
}
