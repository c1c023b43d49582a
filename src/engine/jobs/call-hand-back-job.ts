import type { Knex } from 'knex';
import { AppError } from '../../errors.js';
import * as jobsStore from '../../store/jobs.js';
import { findInstanceStatus } from '../../store/transitions.js';
import type { EngineContext } from '../engine-context.js';
import type { Transitions } from '../transitions.js';
import type { TransitionEvent, Variables } from '../types.js';
import { runOnInstance, type JobHandler } from './job-handler.js';

/**
 * A called instance ended (`call-completed`, `call-failed`): hand its result back to the
 * parent's call activity, exactly once: the job is deleted in the parent's commit. A call
 * activity that no longer waits (SUBSCRIPTION_GONE) was left, and leaving it cancelled the
 * child and deleted this job in the same commit (endLeftCalls): then the job goes. Anything
 * else is unexpected and keeps failing the job into an incident.
 */
export function callHandBackJob(ctx: EngineContext, transitions: Transitions): JobHandler {
  return async (job) => {
    const event: TransitionEvent =
      job.kind === 'call-completed'
        ? { type: 'complete-call-activity', executionId: String(job.payload.executionId), variables: job.payload.variables as Variables }
        : {
            type: 'fail-call-activity',
            executionId: String(job.payload.executionId),
            errorCode: String(job.payload.errorCode),
            errorMessage: String(job.payload.errorMessage),
          };
    const claimed = async (trx: Knex.Transaction) => {
      if (!(await jobsStore.deleteJob(trx, job.id))) throw new AppError('JOB_GONE', `job ${job.id} was already run`);
    };
    try {
      await runOnInstance(ctx, transitions, job, event, claimed);
    } catch (error) {
      if (!(error instanceof AppError && error.code === 'SUBSCRIPTION_GONE')) throw error;
      const childId = (job.payload as { childId?: string }).childId;
      const child = childId ? await findInstanceStatus(ctx.knex, childId) : undefined;
      const jobLeft = await jobsStore.findJob(ctx.knex, job.id);
      if (child !== 'cancelled' && jobLeft) throw error;
      await jobsStore.deleteJob(ctx.knex, job.id);
    }
  };
}
