import { AppError, notFound } from '../../errors.js';
import * as jobsStore from '../../store/jobs.js';
import { appendAuditEntry, type AuditEntry } from '../../store/audit-entries.js';
import { restoreExternalTaskRetries } from '../../store/external-tasks.js';
import { findIncident, resolveIncident } from '../../store/incidents.js';
import { lockInstance } from '../../store/transitions.js';
import type { EngineContext } from '../engine-context.js';
import type { Transitions } from '../transitions.js';

/** Incident commands: retry what an incident stopped, or resolve it by hand. */
export class Incidents {
  constructor(
    private readonly ctx: EngineContext,
    private readonly transitions: Transitions,
  ) {}

  /** Retries what the incident stopped; resolves it when the retry goes through. */
  async retryIncident(incidentId: string, retries = 1, audit?: AuditEntry): Promise<void> {
    const incident = await findIncident(this.ctx.knex, incidentId);
    if (!incident) throw notFound('incident', incidentId);
    if (incident.resolved_at) throw new AppError('INCIDENT_RESOLVED', `incident ${incidentId} is already resolved`);
    switch (incident.type) {
      case 'failedHandler':
        await this.transitions.transition(incident.instance_id!, { type: 'retry-handler', executionId: incident.execution_id! }, this.transitions.auditing(audit, incident.instance_id!));
        return;
      case 'failedExternalTask':
        await this.ctx.knex.transaction(async (trx) => {
          await lockInstance(trx, incident.instance_id!);
          await restoreExternalTaskRetries(trx, incident.external_task_id!, retries);
          await resolveIncident(trx, incidentId);
          if (audit) await appendAuditEntry(trx, { ...audit, instanceId: incident.instance_id });
        });
        this.ctx.emit('external-tasks.created', []);
        return;
      case 'failedJob':
        await this.ctx.knex.transaction(async (trx) => {
          if (incident.instance_id) await lockInstance(trx, incident.instance_id);
          await jobsStore.setJobRetries(trx, incident.job_id!, retries);
          await resolveIncident(trx, incidentId);
          if (audit) await appendAuditEntry(trx, { ...audit, instanceId: incident.instance_id });
        });
        this.ctx.emit('jobs.scheduled');
        return;
      default:
        throw new AppError('INCIDENT_NOT_RETRYABLE', `incident ${incidentId} of type ${incident.type} cannot be retried`);
    }
  }

  async resolveIncident(incidentId: string, audit?: AuditEntry): Promise<void> {
    await this.ctx.knex.transaction(async (trx) => {
      const resolved = await resolveIncident(trx, incidentId);
      if (!resolved) throw notFound('open incident', incidentId);
      if (audit) await appendAuditEntry(trx, { ...audit, instanceId: resolved.instance_id });
    });
  }
}
