import type { Knex } from 'knex';
import { AppError } from '../../errors.js';
import * as jobsStore from '../../store/jobs.js';
import type { EngineContext } from '../engine-context.js';
import type { Transitions } from '../transitions.js';
import type { TransitionEvent } from '../types.js';

/** Runs one claimed job of its kind; `now` is an operator's "execute now" (a timer fires at once). */
export type JobHandler = (job: jobsStore.JobRow, now: boolean) => Promise<void>;

/**
 * Runs a job's transition on its instance. An instance that has ended meanwhile (failed on a
 * sibling's error, completed through a boundary event, cancelled) has nothing left to run it
 * on: the job goes, rather than failing into an incident. Returns whether it ran.
 */
export async function runOnInstance(
  ctx: EngineContext,
  transitions: Transitions,
  job: jobsStore.JobRow,
  event: TransitionEvent,
  guard?: (trx: Knex.Transaction) => Promise<void>,
): Promise<boolean> {
  try {
    await transitions.transition(job.instance_id as string, event, guard);
    return true;
  } catch (error) {
    if (!(error instanceof AppError && error.code === 'INSTANCE_ENDED')) throw error;
    await jobsStore.deleteJob(ctx.knex, job.id);
    return false;
  }
}
