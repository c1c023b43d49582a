import type { Knex } from 'knex';
import { AppError, notFound } from '../../errors.js';
import * as externalTasksStore from '../../store/external-tasks.js';
import { externalTaskAttempt } from '../../store/external-task-attempts.js';
import { insertIncident, isParkedExecution } from '../../store/incidents.js';
import { insertHistoryEntry, lockInstance } from '../../store/transitions.js';
import type { ExternalTaskFailureReport, Variables } from '../types.js';
import type { EngineContext } from '../engine-context.js';
import type { Transitions } from '../transitions.js';

/** The Camunda 7 external-task protocol: fetch and lock, complete, BPMN error, failure, locks. */
export class ExternalTasks {
  constructor(
    private readonly ctx: EngineContext,
    private readonly transitions: Transitions,
  ) {}

  async fetchAndLock(request: Parameters<typeof externalTasksStore.fetchAndLock>[1]) {
    this.ctx.emit('external-tasks.fetching', request.workerId, request.topics.map((topic) => topic.topicName));
    return externalTasksStore.fetchAndLock(this.ctx.knex, request);
  }

  private async lockedTask(taskId: string, workerId: string, action: string) {
    const task = await externalTasksStore.findExternalTaskLock(this.ctx.knex, taskId);
    if (!task) throw notFound('external task', taskId);
    await this.refuseParked(task);
    if (task.worker_id !== workerId) {
      throw new AppError(
        'EXTERNAL_TASK_NOT_LOCKED',
        `external task ${taskId} cannot be ${action} by worker '${workerId}'. It is locked by worker '${task.worker_id ?? ''}'.`,
      );
    }
    if (!task.lock_live) {
      throw new AppError('EXTERNAL_TASK_LOCK_EXPIRED', `the lock of worker '${workerId}' on external task ${taskId} has expired`);
    }
    return task;
  }

  /** A parked inline handler is retried through its incident, never completed by a worker. */
  private async refuseParked(task: { id: string; instance_id: string; execution_id: string }): Promise<void> {
    if (await isParkedExecution(this.ctx.knex, task.instance_id, task.execution_id)) {
      throw new AppError('EXTERNAL_TASK_PARKED', `external task ${task.id} is an inline handler parked by an incident; retry the incident instead`);
    }
  }

  /** The topic of an external task (for per-token topic limits). */
  async externalTaskTopic(taskId: string): Promise<string> {
    const task = await externalTasksStore.findExternalTask(this.ctx.knex, taskId);
    if (!task) throw notFound('external task', taskId);
    return task.topic;
  }

  /** The guard re-checks the lock inside the commit, so a task re-locked meanwhile is refused. */
  private lockGuard(taskId: string, workerId: string) {
    return async (trx: Knex.Transaction) => {
      const held = await externalTasksStore.lockHeldExternalTask(trx, taskId, workerId);
      if (!held) throw new AppError('EXTERNAL_TASK_LOCK_EXPIRED', `worker '${workerId}' no longer holds the lock on external task ${taskId}`);
    };
  }

  async completeExternalTask(taskId: string, workerId: string, variables: Variables = {}): Promise<void> {
    const task = await this.lockedTask(taskId, workerId, 'completed');
    await this.transitions.transition(task.instance_id, { type: 'complete-external-task', executionId: task.execution_id, variables }, this.lockGuard(taskId, workerId));
  }

  async externalTaskBpmnError(
    taskId: string,
    workerId: string,
    error: { errorCode: string; errorMessage?: string; variables?: Variables },
  ): Promise<void> {
    const task = await this.lockedTask(taskId, workerId, 'reported');
    await this.transitions.transition(
      task.instance_id,
      {
        type: 'external-task-bpmn-error',
        executionId: task.execution_id,
        errorCode: error.errorCode,
        errorMessage: error.errorMessage,
        variables: error.variables ?? {},
      },
      this.lockGuard(taskId, workerId),
    );
  }

  /** Camunda 7 failure: retries count down; at 0 an incident is raised and the task is not fetched. */
  async externalTaskFailure(
    taskId: string,
    workerId: string,
    failure: { errorMessage?: string; errorDetails?: string; retries: number; retryTimeout?: number },
  ): Promise<void> {
    const task = await this.lockedTask(taskId, workerId, 'failed');
    const retries = Math.max(0, failure.retries);
    // On the database's clock, as the history it goes into (see NodeClockOffset).
    const reportedAt = this.ctx.options.clock.now();
    const attempt = await this.ctx.knex.transaction(async (trx) => {
      await lockInstance(trx, task.instance_id);
      await this.lockGuard(taskId, workerId)(trx);
      await externalTasksStore.recordExternalTaskFailure(trx, taskId, { ...failure, workerId, retries });
      if (retries === 0) {
        await insertIncident(trx, {
          type: 'failedExternalTask',
          instanceId: task.instance_id,
          processKey: task.process_key,
          activityId: task.activity_id,
          executionId: task.execution_id,
          message: failure.errorMessage ?? 'external task failed',
          stack: failure.errorDetails ?? null,
          externalTaskId: taskId,
        });
      }
      await insertHistoryEntry(trx, {
        instanceId: task.instance_id,
        activityId: task.activity_id,
        executionId: task.execution_id,
        event: 'external-task.failure',
        at: reportedAt,
        data: { workerId, retries, errorMessage: failure.errorMessage ?? null },
      });
      return externalTaskAttempt(trx, task.instance_id, task.execution_id, reportedAt);
    });
    if (retries === 0) this.ctx.emit('incident.created', { instanceId: task.instance_id, processKey: task.process_key, activityId: task.activity_id, type: 'failedExternalTask' });
    this.ctx.emit('external-task.failed', {
      instance: await this.transitions.getInstance(task.instance_id),
      taskId,
      activityId: task.activity_id,
      activityType: attempt.activityType,
      executionId: task.execution_id,
      parentExecutionId: attempt.parentExecutionId,
      topic: task.topic,
      workerId,
      errorMessage: failure.errorMessage ?? null,
      retries,
      attemptStartedAt: attempt.startedAt,
      reportedAt,
    } satisfies ExternalTaskFailureReport);
  }

  async extendExternalTaskLock(taskId: string, workerId: string, newDuration: number): Promise<void> {
    await this.lockedTask(taskId, workerId, 'extended');
    // Conditional: a lock that expired (and maybe went to another worker) since the check stays lost.
    if (!(await externalTasksStore.extendLock(this.ctx.knex, taskId, workerId, newDuration))) {
      throw new AppError('EXTERNAL_TASK_LOCK_EXPIRED', `the lock of worker '${workerId}' on external task ${taskId} has expired`);
    }
  }

  async unlockExternalTask(taskId: string): Promise<void> {
    const task = await externalTasksStore.findExternalTask(this.ctx.knex, taskId);
    if (!task) throw notFound('external task', taskId);
    await externalTasksStore.updateExternalTask(this.ctx.knex, taskId, { worker_id: null, lock_expires_at: null });
    this.ctx.emit('external-tasks.created', [task.topic]);
  }

  async lockExternalTask(taskId: string, workerId: string, lockDuration: number): Promise<void> {
    const task = await externalTasksStore.findExternalTask(this.ctx.knex, taskId);
    if (task) await this.refuseParked(task);
    const updated = await externalTasksStore.lockExternalTaskFor(this.ctx.knex, taskId, workerId, lockDuration);
    if (!updated) {
      if (!(await externalTasksStore.findExternalTask(this.ctx.knex, taskId))) throw notFound('external task', taskId);
      throw new AppError('EXTERNAL_TASK_LOCKED', `external task ${taskId} is locked by another worker`);
    }
  }
}
