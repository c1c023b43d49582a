import type { ServiceTaskRegistry } from '../../service-tasks/registry.js';
import { BpmnErrorSignal } from './runtime/service-binding.js';
import type { WorkflowEngine } from './workflow-engine.js';

export interface InProcessWorkerOptions {
  /** Names this node's workers in task locks. */
  workerId: string;
  /** Lock held while a handler runs. @default 300000 */
  lockDuration?: number;
  /** Retries given to a task whose handler throws the first time. @default 3 */
  retries?: number;
  /** Wait before a failed task is fetched again. @default 10000 */
  retryTimeout?: number;
  /** Tasks run at once, over all topics. @default 4 */
  concurrency?: number;
  /** Poll interval when no task was announced. @default 1000 */
  pollMs?: number;
  /** Topics to leave to others for now (e.g. a healthy remote agent took them over). */
  skipTopic?: (topic: string) => boolean;
  onError?: (error: unknown) => void;
}

/**
 * Serves the registry's `worker` topics (long-running built-in handlers) through the same
 * external-task protocol remote workers use: fetch and lock, run, complete or report a
 * failure (retries, then an incident) or a BPMN error. Only the HTTP hop is skipped.
 */
export class InProcessWorkers {
  private running = 0;
  private stopped = true;
  private timer: NodeJS.Timeout | null = null;
  private readonly active = new Set<Promise<void>>();
  private readonly options: Required<Omit<InProcessWorkerOptions, 'onError'>> & InProcessWorkerOptions;

  constructor(
    private readonly engine: WorkflowEngine,
    private readonly registry: ServiceTaskRegistry,
    options: InProcessWorkerOptions,
  ) {
    this.options = { lockDuration: 300_000, retries: 3, retryTimeout: 10_000, concurrency: 4, pollMs: 1000, skipTopic: () => false, ...options };
    engine.on('external-tasks.created', (topics: string[]) => {
      if (!topics.length || topics.some((topic) => this.topics().includes(topic))) this.schedule(0);
    });
  }

  private topics(): string[] {
    return this.registry
      .topics()
      .filter((definition) => definition.mode === 'worker' && !this.options.skipTopic?.(definition.topic))
      .map((definition) => definition.topic);
  }

  start(): void {
    if (!this.topics().length) return;
    this.stopped = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await Promise.allSettled([...this.active]);
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.poll(), delay);
    this.timer.unref();
  }

  private async poll(): Promise<void> {
    const room = this.options.concurrency - this.running;
    if (this.stopped || room <= 0) return;
    try {
      const tasks = await this.engine.fetchAndLock({
        workerId: this.options.workerId,
        maxTasks: room,
        usePriority: true,
        topics: this.topics().map((topicName) => ({ topicName, lockDuration: this.options.lockDuration })),
      });
      for (const task of tasks) {
        const work = this.run(task).finally(() => {
          this.active.delete(work);
          this.running--;
          this.schedule(0);
        });
        this.running++;
        this.active.add(work);
      }
      if (!tasks.length) this.schedule(this.options.pollMs);
    } catch (error) {
      this.options.onError?.(error);
      this.schedule(this.options.pollMs);
    }
  }

  private async run(task: Awaited<ReturnType<WorkflowEngine['fetchAndLock']>>[number]): Promise<void> {
    const definition = this.registry.get(task.topic);
    const workerId = this.options.workerId;
    // A handler may outlast the lock (a validation phase runs up to its own timeout): renew it
    // at half-time so no other worker takes the task while this one still works on it.
    const renewal = setInterval(() => {
      this.engine.extendExternalTaskLock(task.id, workerId, this.options.lockDuration).catch((error) => this.options.onError?.(error));
    }, Math.max(50, Math.floor(this.options.lockDuration / 2)));
    renewal.unref();
    try {
      if (!definition) throw new Error(`no handler for topic ${task.topic}`);
      const input = definition.input.parse(task.variables);
      const output = definition.output.parse(
        await definition.handler(input, {
          instanceId: task.instance_id,
          processKey: task.process_key,
          businessKey: task.business_key,
          activityId: task.activity_id,
          executionId: task.execution_id,
          idempotencyKey: `${task.instance_id}/${task.execution_id}`,
        }),
      ) as Record<string, unknown>;
      clearInterval(renewal);
      await this.engine.completeExternalTask(task.id, workerId, output);
    } catch (error) {
      clearInterval(renewal);
      try {
        if (error instanceof BpmnErrorSignal) {
          await this.engine.externalTaskBpmnError(task.id, workerId, { errorCode: error.code, errorMessage: error.message, variables: error.variables });
          return;
        }
        // Camunda 7 convention: the worker counts retries down, starting from its own default.
        const retries = task.retries === null ? this.options.retries - 1 : task.retries - 1;
        await this.engine.externalTaskFailure(task.id, workerId, {
          errorMessage: error instanceof Error ? error.message : String(error),
          errorDetails: error instanceof Error ? error.stack : undefined,
          retries,
          retryTimeout: this.options.retryTimeout,
        });
      } catch (reportError) {
        this.options.onError?.(reportError);
      }
    } finally {
      clearInterval(renewal);
    }
  }
}
