import type { WorkflowEngine } from './workflow-engine.js';

/**
 * Runs due jobs. Correctness comes from polling the jobs table (any node may run any job);
 * the in-memory wake-up only shortens the wait when this node knows a job is due sooner.
 */
export class JobPoller {
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private stopped = true;
  private again = false;

  constructor(
    private readonly engine: WorkflowEngine,
    private readonly pollMs: number,
    private readonly onError: (error: unknown) => void = () => {},
  ) {
    engine.on('jobs.scheduled', () => this.wake());
  }

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    while (this.running) await new Promise((resolve) => setTimeout(resolve, 10));
  }

  /** Look again soon: a job may have been added. */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.schedule(0);
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), delay);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    if (this.running || this.stopped) return;
    this.running = true;
    this.again = false;
    let delay = this.pollMs;
    try {
      while (!this.stopped && (await this.engine.runDueJobs()) > 0) {
        // drain everything that is due before sleeping
      }
      const next = await this.engine.nextJobDueAt();
      if (next) delay = Math.min(this.pollMs, Math.max(0, next.getTime() - Date.now()));
    } catch (error) {
      this.onError(error);
    } finally {
      this.running = false;
    }
    this.schedule(this.again ? 0 : delay);
  }
}
