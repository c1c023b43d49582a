import type { AgentRow, AgentStore } from '../../src/store/agents.js';

export interface AgentHealth extends AgentRow {
  healthy: boolean;
  work: Array<{ id: string; topic: string; instanceId: string; activityId: string; lockExpiresAt: Date | null }>;
}

export interface AgentRegistryOptions {
  /** An agent silent for longer is unhealthy and loses its locks. */
  heartbeatTimeoutMs: number;
  /** How often the health sweep runs. @default a quarter of the timeout */
  sweepMs?: number;
  /** Told the topics of released tasks, so workers fetch them at once. */
  onReleased?: (topics: string[]) => void;
  onError?: (error: unknown) => void;
}

/**
 * Agents register with a name (the workerId they fetch with), their topics and a
 * capacity; every fetch is a heartbeat. A sweep marks agents silent beyond the timeout
 * unhealthy and releases the tasks they hold. While a healthy remote agent serves a
 * topic, the built-in worker leaves that topic to it (`takenOver`).
 */
export class AgentRegistry {
  private timer: NodeJS.Timeout | null = null;
  private remoteTopics = new Set<string>();
  private readonly lastBeat = new Map<string, number>();

  constructor(
    private readonly store: AgentStore,
    private readonly options: AgentRegistryOptions,
  ) {}

  async register(agent: { name: string; topics: string[]; capacity: number; kind?: AgentRow['kind'] }): Promise<AgentRow> {
    const row = await this.store.register({ ...agent, kind: agent.kind ?? 'remote' });
    this.lastBeat.set(agent.name, Date.now());
    await this.refresh();
    return row;
  }

  async heartbeat(name: string): Promise<void> {
    // Every fetch is a heartbeat, but one write per tenth of the timeout is enough.
    const now = Date.now();
    if (now - (this.lastBeat.get(name) ?? 0) < this.options.heartbeatTimeoutMs / 10) return;
    this.lastBeat.set(name, now);
    if (this.lastBeat.size > 10_000) this.lastBeat.clear();
    const known = await this.store.heartbeat(name);
    // A remote agent coming back takes its topics again.
    if (known) await this.refresh();
  }

  async unregister(name: string): Promise<boolean> {
    const removed = await this.store.remove(name);
    await this.refresh();
    return removed;
  }

  isHealthy(agent: AgentRow, now = Date.now()): boolean {
    return now - new Date(agent.last_heartbeat_at).getTime() <= this.options.heartbeatTimeoutMs;
  }

  /** True while a healthy remote agent serves the topic. */
  takenOver = (topic: string): boolean => this.remoteTopics.has(topic);

  async list(): Promise<AgentHealth[]> {
    const agents = await this.store.list();
    const work = await this.store.workOf(agents.map((agent) => agent.name));
    const now = Date.now();
    return agents.map((agent) => ({
      ...agent,
      healthy: this.isHealthy(agent, now),
      work: work
        .filter((task) => task.worker_id === agent.name)
        .map((task) => ({ id: task.id, topic: task.topic, instanceId: task.instance_id, activityId: task.activity_id, lockExpiresAt: task.lock_expires_at })),
    }));
  }

  async get(name: string): Promise<AgentHealth | undefined> {
    return (await this.list()).find((agent) => agent.name === name);
  }

  /** Releases the locks of agents silent beyond the timeout; returns how many tasks were freed. */
  async sweep(): Promise<number> {
    const released = await this.store.releaseStale(new Date(Date.now() - this.options.heartbeatTimeoutMs));
    await this.refresh();
    if (released.length) this.options.onReleased?.([...new Set(released.map((task) => task.topic))]);
    return released.length;
  }

  private async refresh(): Promise<void> {
    const agents = await this.store.list();
    const now = Date.now();
    this.remoteTopics = new Set(agents.filter((agent) => agent.kind === 'remote' && this.isHealthy(agent, now)).flatMap((agent) => agent.topics));
  }

  start(): void {
    const every = this.options.sweepMs ?? Math.max(50, Math.floor(this.options.heartbeatTimeoutMs / 4));
    const tick = () => {
      this.sweep()
        .catch((error) => this.options.onError?.(error))
        .finally(() => {
          if (this.timer) this.timer = setTimeout(tick, every).unref();
        });
    };
    this.timer = setTimeout(tick, every).unref();
    void this.refresh().catch((error) => this.options.onError?.(error));
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
