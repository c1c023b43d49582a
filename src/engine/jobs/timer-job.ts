import * as jobsStore from '../../store/jobs.js';
import type { EngineContext } from '../engine-context.js';
import type { Transitions } from '../transitions.js';
import { runOnInstance, type JobHandler } from './job-handler.js';

/**
 * A timer of an instance (intermediate catch, boundary, event sub-process start): resume the
 * instance with this timer due. The job was claimed because it is due by the database's clock,
 * the one authority: the timer fires whatever this node's clock says (a node minutes behind
 * would otherwise see it not yet due, release it, and claim it again at once until its clock
 * caught up).
 */
export function timerJob(ctx: EngineContext, transitions: Transitions): JobHandler {
  return async (job) => {
    const ran = await runOnInstance(ctx, transitions, job, { type: 'resume', dueNow: dueTimerOf(job) });
    // Fired timers were deleted by the commit; one that did not fire (its token moved on) is polled again.
    if (ran) await jobsStore.releaseJob(ctx.knex, job.id);
  };
}

/**
 * Which timer of the instance the job is: its execution id (`<executionId>@<due>`), so a
 * sibling timer on the same activity (a multi-instance body's boundary timers) keeps its
 * own due time; an event sub-process start (`<scope>/<startId>@<due>`) by its start event.
 */
export function dueTimerOf(job: Pick<jobsStore.JobRow, 'timer_key' | 'activity_id'>): string {
  const key = job.timer_key.slice(0, job.timer_key.lastIndexOf('@'));
  return !key || key.endsWith(`/${job.activity_id}`) ? job.activity_id : key;
}
