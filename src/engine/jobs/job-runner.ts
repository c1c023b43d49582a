import { AppError, notFound } from '../../errors.js';
import * as definitionsStore from '../../store/definitions.js';
import * as jobsStore from '../../store/jobs.js';
import { insertIncident, resolveJobIncidents } from '../../store/incidents.js';
import { findInstance, lockInstance } from '../../store/transitions.js';
import type { EngineContext } from '../engine-context.js';
import type { Transitions } from '../transitions.js';
import type { JobHandler } from './job-handler.js';
import { timerJob } from './timer-job.js';
import { timerStartJob } from './timer-start-job.js';
import { callHandBackJob } from './call-hand-back-job.js';
import { historyCleanupJob } from './history-cleanup-job.js';

/**
 * Runs claimed jobs through the handler of their kind (beside this file), counts failures down
 * and raises the incident at 0 in the same commit, and quarantines jobs that keep killing
 * their node.
 */
export class JobRunner {
  /** One handler per job kind, each in its own file beside this one. */
  private readonly handlers: Partial<Record<jobsStore.JobRow['kind'], JobHandler>>;

  constructor(
    private readonly ctx: EngineContext,
    private readonly transitions: Transitions,
  ) {
    const handBack = callHandBackJob(ctx, transitions);
    this.handlers = {
      timer: timerJob(ctx, transitions),
      'timer-start': timerStartJob(ctx, transitions),
      'call-completed': handBack,
      'call-failed': handBack,
      'history-cleanup': historyCleanupJob(ctx),
    };
  }

  /** A handler of a job kind that lives outside the core (batch chunks). */
  addHandler(kind: jobsStore.JobRow['kind'], handler: JobHandler): void {
    this.handlers[kind] = handler;
  }

  async armHistoryCleanup(): Promise<void> {
    if (this.ctx.options.historyRetentionDays > 0) await jobsStore.armHistoryCleanup(this.ctx.knex);
    else await jobsStore.disarmHistoryCleanup(this.ctx.knex);
  }

  /** Claims and runs due jobs; returns how many ran. Called by the job poller of every node. */
  async runDueJobs(limit = 20): Promise<number> {
    const jobs = await jobsStore.claimDueJobs(this.ctx.knex, this.ctx.options.nodeId, limit, this.ctx.options.jobLeaseMs);
    for (const job of jobs) {
      // Claimed again after its lease ran out, more than allowed: the job likely kills its node
      // (a runaway handler, memory). Quarantine it as an incident instead of the next crash.
      if (job.claims > this.ctx.options.jobMaxLeases) {
        const message = `job ${job.id} (${job.kind}) was claimed ${job.claims} times and never finished: its node may have died running it; quarantined`;
        await this.failClaimedJob(job, new AppError('JOB_QUARANTINED', message), true);
        continue;
      }
      this.ctx.emit('job.fired', { kind: job.kind, dueAt: new Date(job.due_at), firedAt: new Date(job.claimed_at ?? Date.now()) });
      await this.runClaimedJob(job);
    }
    return jobs.length;
  }

  /**
   * Runs one job now, due or not, even one whose retries are used up (an operator's
   * "execute now"). A timer fires at once. A failure counts its retries down as a polled
   * run would, and is thrown to the caller.
   */
  async executeJob(jobId: string): Promise<void> {
    const job = await jobsStore.claimJob(this.ctx.knex, jobId, this.ctx.options.nodeId, this.ctx.options.jobLeaseMs);
    if (!job) {
      if (!(await jobsStore.findJob(this.ctx.knex, jobId))) throw notFound('job', jobId);
      throw new AppError('JOB_LOCKED', `job ${jobId} is being run by another node`);
    }
    const error = await this.runClaimedJob(job, true);
    if (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new AppError('JOB_FAILED', `job ${jobId} failed: ${message}`, { cause: error });
    }
    await resolveJobIncidents(this.ctx.knex, jobId);
  }

  /** Runs a claimed job; a failure counts its retries down (an incident at 0) and is returned. */
  private async runClaimedJob(job: jobsStore.JobRow, now = false): Promise<unknown> {
    try {
      await this.runJob(job, now);
      return null;
    } catch (error) {
      await this.failClaimedJob(job, error);
      return error;
    }
  }

  /**
   * Counts a failed job down and, when its retries run out, raises its incident in the same
   * commit: at the instance, or at the definition for a timer start (no instance yet), where
   * an operator sees it and retries it as in Camunda 7.
   */
  private async failClaimedJob(job: jobsStore.JobRow, error: unknown, quarantine = false): Promise<void> {
    const message = error instanceof Error ? error.message : String(error);
    const raised = await this.ctx.knex.transaction(async (trx) => {
      const instance = job.instance_id ? await lockInstance(trx, job.instance_id) : undefined;
      const left = await jobsStore.failJob(trx, job, message, this.ctx.options.jobRetryDelayMs, quarantine);
      if (left > 0 || job.retries === 0) return null;
      const processKey = job.instance_id
        ? (await findInstance(trx, job.instance_id))?.process_key
        : (await definitionsStore.findDefinitionSummary(trx, job.definition_id as string))?.key;
      if (!processKey || (job.instance_id && !instance)) return null;
      await insertIncident(trx, {
        type: 'failedJob',
        instanceId: job.instance_id,
        definitionId: job.instance_id ? null : job.definition_id,
        processKey,
        activityId: job.activity_id,
        message,
        stack: error instanceof Error ? (error.stack ?? null) : null,
        trigger: { kind: job.kind },
        jobId: job.id,
      });
      return processKey;
    });
    if (raised) {
      this.ctx.emit('incident.created', { instanceId: job.instance_id, definitionId: job.definition_id, processKey: raised, activityId: job.activity_id ?? null, type: 'failedJob' });
    }
  }

  private async runJob(job: jobsStore.JobRow, now = false): Promise<void> {
    const handler = this.handlers[job.kind];
    if (!handler) throw new AppError('UNKNOWN_JOB', `job ${job.id} has unknown kind ${String(job.kind)}`);
    await handler(job, now);
  }

  /** When, by this node's clock, a job can next be claimed (leases and back-offs count). */
  async nextJobDueAt(): Promise<Date | null> {
    const ms = await jobsStore.msUntilNextClaimable(this.ctx.knex);
    return ms === null ? null : new Date(Date.now() + ms);
  }
}
