import * as jobsStore from '../../store/jobs.js';
import type { EngineContext } from '../engine-context.js';
import type { Transitions } from '../transitions.js';
import { runOnInstance, type JobHandler } from './job-handler.js';

/** A timer of an instance (intermediate catch, boundary, event sub-process start): resume the instance. */
export function timerJob(ctx: EngineContext, transitions: Transitions): JobHandler {
  return async (job, now) => {
    const ran = await runOnInstance(ctx, transitions, job, now ? { type: 'resume', dueNow: job.activity_id } : { type: 'resume' });
    // Fired timers were deleted by the commit; one that is not due yet is polled again.
    if (ran) await jobsStore.releaseJob(ctx.knex, job.id);
  };
}
