import * as definitionsStore from '../../store/definitions.js';
import { databaseNow } from '../../store/database-clock.js';
import * as jobsStore from '../../store/jobs.js';
import type { ProcessInfo } from '../definitions/analyse-definition.js';
import type { EngineContext } from '../engine-context.js';
import { nextStartTimerDue } from '../timer-schedule.js';
import type { Transitions } from '../transitions.js';
import type { JobHandler } from './job-handler.js';

/**
 * A timer start event fired: start an instance and arm the next fire in the same commit, so a
 * node that dies in between neither loses the cycle nor starts twice.
 */
export function timerStartJob(ctx: EngineContext, transitions: Transitions): JobHandler {
  return async (job) => {
    const payload = job.payload as { timerType: ProcessInfo['timerStartEvents'][number]['timerType']; expression: string; remaining?: number };
    const definition = await definitionsStore.findDefinition(ctx.knex, job.definition_id as string);
    if (!definition) {
      await jobsStore.deleteJob(ctx.knex, job.id);
      return;
    }
    const prepared = await transitions.prepareInstance(definition, { dueNow: job.activity_id });
    const started = await ctx.knex.transaction(async (trx) => {
      const still = await jobsStore.lockClaimedJob(trx, job.id, ctx.options.nodeId);
      if (!still) return null; // another node took over after our lease ran out
      const row = await transitions.writeInstance(trx, prepared);
      // Due times are on the database's clock: the next one is counted from its now, not this node's.
      const next = nextStartTimerDue(payload.timerType, payload.expression, { firedAt: new Date(job.due_at), remaining: payload.remaining }, await databaseNow(trx));
      if (next) await jobsStore.rescheduleFiredJob(trx, job.id, next.dueAt, { ...payload, remaining: next.remaining });
      else await jobsStore.deleteJob(trx, job.id);
      return row;
    });
    if (started) transitions.announceAll(prepared, started);
  };
}
