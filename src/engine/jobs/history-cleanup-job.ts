import * as jobsStore from '../../store/jobs.js';
import { deleteEndedInstances } from '../../store/transitions.js';
import type { EngineContext } from '../engine-context.js';
import type { JobHandler } from './job-handler.js';

/** How often the history cleanup runs once armed. */
export const HISTORY_CLEANUP_EVERY_MS = 60 * 60 * 1000;

/**
 * History retention: deletes instances that ended more than the retention setting ago (with
 * their history, tasks and incidents), then runs again in an hour. One job row for all nodes.
 */
export function historyCleanupJob(ctx: EngineContext): JobHandler {
  return async () => {
    const days = ctx.options.historyRetentionDays;
    if (days > 0) {
      const deleted = await deleteEndedInstances(ctx.knex, days);
      if (deleted) ctx.emit('history.cleaned', { deleted, olderThanDays: days });
    }
    await jobsStore.rescheduleHistoryCleanup(ctx.knex, HISTORY_CLEANUP_EVERY_MS);
  };
}
