import { AppError, notFound } from '../../errors.js';
import { appendAuditEntry, type AuditEntry } from '../../store/audit-entries.js';
import type { InstanceRow } from '../../store/transitions.js';
import { claimUserTask, findUserTask } from '../../store/user-tasks.js';
import type { Variables } from '../types.js';
import type { EngineContext } from '../engine-context.js';
import type { Transitions } from '../transitions.js';

/** User task commands: complete, claim. */
export class UserTasks {
  constructor(
    private readonly ctx: EngineContext,
    private readonly transitions: Transitions,
  ) {}

  async completeUserTask(taskId: string, variables: Variables = {}, audit?: AuditEntry): Promise<InstanceRow> {
    const task = await findUserTask(this.ctx.knex, taskId);
    if (!task) throw notFound('task', taskId);
    return this.transitions.transition(
      task.instance_id,
      { type: 'complete-user-task', executionId: task.execution_id, variables },
      this.transitions.auditing(audit, task.instance_id),
    );
  }

  async claimUserTask(taskId: string, userId: string | null, audit?: AuditEntry): Promise<void> {
    const updated = await this.ctx.knex.transaction(async (trx) => {
      const claimed = await claimUserTask(trx, taskId, userId);
      if (claimed && audit) await appendAuditEntry(trx, audit);
      return claimed;
    });
    if (!updated) {
      const task = await findUserTask(this.ctx.knex, taskId);
      if (!task) throw notFound('task', taskId);
      throw new AppError('TASK_ALREADY_CLAIMED', `task ${taskId} is already claimed by ${task.assignee}`);
    }
  }
}
