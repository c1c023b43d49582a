/**
 * The `timers` bpmn-engine gets for one transition. Nothing is left ticking in memory:
 * a timer that is not yet due becomes a job row when the transition commits, and the
 * job poller of any node resumes the instance when it is due; the timer then finds its
 * stored `expireAt` in the past and completes. Timers that are already due run at once.
 */
interface TimerOwner {
  id?: string;
  executionId?: string;
  expireAt?: Date | string;
}

export interface PendingTimer {
  owner: TimerOwner | null;
  callback: (...args: unknown[]) => void;
  args: unknown[];
  delay: number;
  dueAt: Date;
}

export class TransitionTimers {
  private readonly pending = new Set<PendingTimer>();
  /** Timer start events of event sub-processes whose job fired: due now, whatever they say. */
  private readonly forced = new Set<string>();

  /** @param dueNowActivityId a timer start event that must fire in this transition */
  constructor(private readonly dueNowActivityId?: string) {}

  register(owner: TimerOwner) {
    return {
      setTimeout: (callback: (...args: unknown[]) => void, delay: number, ...args: unknown[]) =>
        this.set(owner, callback, delay, args),
      clearTimeout: (ref: PendingTimer) => this.clearTimeout(ref),
    };
  }

  forceDue(activityId: string): void {
    this.forced.add(activityId);
  }

  setTimeout = (callback: (...args: unknown[]) => void, delay: number, ...args: unknown[]): PendingTimer =>
    this.set(null, callback, delay, args);

  clearTimeout = (ref: PendingTimer | undefined): undefined => {
    if (ref) this.pending.delete(ref);
    return undefined;
  };

  /** bpmn-engine clears these when an execution completes. */
  get executing(): PendingTimer[] {
    return [...this.pending];
  }

  /** Timers that are still waiting: they become jobs. */
  get waiting(): PendingTimer[] {
    return [...this.pending];
  }

  /** Runs the timers that came due while the transition ran; returns whether any ran. */
  fireDue(now = Date.now()): boolean {
    let fired = false;
    for (const timer of [...this.pending]) {
      if (timer.dueAt.getTime() > now) continue;
      this.pending.delete(timer);
      timer.callback(...timer.args);
      fired = true;
    }
    return fired;
  }

  private set(owner: TimerOwner | null, callback: (...args: unknown[]) => void, delay: number, args: unknown[]) {
    const expireAt =
      owner?.id && (owner.id === this.dueNowActivityId || owner.executionId === this.dueNowActivityId || this.forced.has(owner.id))
        ? new Date()
        : owner?.expireAt
          ? new Date(owner.expireAt)
          : new Date(Date.now() + Math.max(0, delay));
    const timer: PendingTimer = { owner, callback, args, delay, dueAt: expireAt };
    this.pending.add(timer);
    return timer;
  }
}

/**
 * The `timers` a bpmn-engine keeps for its life: bpmn-elements registers timers through the
 * environment it was built with, so a warm engine reused by the next transition reaches that
 * transition's TransitionTimers through this relay.
 */
export class TimersRelay {
  constructor(public current: TransitionTimers) {}

  register(owner: TimerOwner) {
    return {
      setTimeout: (callback: (...args: unknown[]) => void, delay: number, ...args: unknown[]) => this.current.register(owner).setTimeout(callback, delay, ...args),
      clearTimeout: (ref: PendingTimer) => this.current.clearTimeout(ref),
    };
  }

  setTimeout = (callback: (...args: unknown[]) => void, delay: number, ...args: unknown[]): PendingTimer => this.current.setTimeout(callback, delay, ...args);

  clearTimeout = (ref: PendingTimer | undefined): undefined => this.current.clearTimeout(ref);

  get executing(): PendingTimer[] {
    return this.current.executing;
  }
}
