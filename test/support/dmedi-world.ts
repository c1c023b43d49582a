/**
 * The world around a DMEDI cycle, for tests and `bench:dmedi`: simulated services (span
 * simulator) whose spans carry the simulated clock, their agent serving the strategy's regen.*
 * steps, their declared rollback hooks (a real HTTP server), and a driver that runs one cycle
 * of the shipped process to its end, skipping the settle waits on the simulated clock
 * (test/support/simulated-time.ts, which must be imported before anything reads the clock).
 *
 * What a strategy step and a rollback do to a service is the case's choice (`onStrategy`,
 * `onRollback`); the engine, the span store, the measurement and the verdict are real.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Knex } from 'knex';
import type { WorkflowEngine } from '../../src/engine/workflow-engine.js';
import { STRATEGIES } from '../../service-tasks/entropy/strategies.js';
import { skipTo } from './simulated-time.js';
import { SpanSimulator, writeSpans, type Degradation, type SimulatorOptions } from './span-simulator.js';

export interface WorldService {
  system: string;
  simulator: SpanSimulator;
  /** A strategy's step that acts (not backup or validate) runs: `step` counts from 1. */
  onStrategy?(step: number, strategyId: string, service: WorldService): void;
  /** The rollback hook is called: the HTTP status it answers. */
  onRollback?(service: WorldService): number;
  steps: number;
  rollbackCalls: number;
  /** Spans are written up to here (simulated ms). */
  writtenUntil: number;
}

export interface CycleResult {
  instanceId: string;
  /** The end event reached, `person: <user task>` when the cycle waits for a person, or `stuck`. */
  end: string;
  /** Simulated wall time from start to end (or to the task for a person), in s. */
  durationS: number;
  /** Of it, the settle waits skipped on the simulated clock. */
  waitedS: number;
  variables: Record<string, any>;
  /** Activity id and seconds from its start to its end, in order. */
  activities: Array<[string, number]>;
}

const REGEN_TOPICS = [...new Set(STRATEGIES.flatMap((strategy) => strategy.steps.map((step) => step.topic)).filter((topic) => topic.startsWith('regen.')))];

/** The degradations of a simulator in force at `at` (good news aside). */
export function faultsInForce(simulator: SpanSimulator, at: number): Degradation[] {
  const all = (simulator as unknown as { degradations: Degradation[] }).degradations;
  return all.filter((d) => d.at.getTime() <= at && !(d.until && d.until.getTime() <= at) && !['traffic-surge', 'speed-up', 'route-mix'].includes(d.kind));
}

export class DmediWorld {
  readonly services = new Map<string, WorldService>();
  private server?: Server;
  private port = 0;
  engine?: WorkflowEngine;
  knex?: Knex;

  service(options: SimulatorOptions & Pick<WorldService, 'onStrategy' | 'onRollback'>): WorldService {
    const { onStrategy, onRollback, ...simulatorOptions } = options;
    const service: WorldService = { system: options.system, simulator: new SpanSimulator(simulatorOptions), onStrategy, onRollback, steps: 0, rollbackCalls: 0, writtenUntil: 0 };
    this.services.set(service.system, service);
    return service;
  }

  /** Starts the hook server and writes the hooks file (REGENFLOW_ROLLBACK_HOOKS) for every service declared so far. */
  async hooksFile(): Promise<string> {
    this.server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const service = this.services.get(decodeURIComponent((req.url ?? '').replace(/^\/rollback\//, '')));
        if (!service) return void res.writeHead(404).end();
        service.rollbackCalls++;
        const status = service.onRollback ? service.onRollback(service) : 202;
        res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? '' : 'rollback refused');
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
    const file = join(mkdtempSync(join(tmpdir(), 'regenflow-dmedi-hooks-')), 'hooks.yaml');
    writeFileSync(file, ['hooks:', ...[...this.services.keys()].map((system) => `  - { system: ${system}, url: "http://127.0.0.1:${this.port}/rollback/${system}" }`)].join('\n'));
    return file;
  }

  async close(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server!.close(resolve));
  }

  private async writeUntil(service: WorldService, until: number): Promise<void> {
    if (until <= service.writtenUntil) return;
    await writeSpans(this.knex!, service.simulator.generate(new Date(service.writtenUntil), new Date(until)));
    service.writtenUntil = until;
  }

  /** Writes the service's history: `seconds` of traffic up to now. */
  async history(service: WorldService, seconds: number): Promise<void> {
    service.writtenUntil = Date.now() - seconds * 1000;
    await this.writeUntil(service, Date.now());
  }

  /** The services' agent: one round of regen.* steps. */
  private async serveAgent(): Promise<number> {
    const tasks = await this.engine!.fetchAndLock({ workerId: 'world-agent', maxTasks: 10, usePriority: false, topics: REGEN_TOPICS.map((topicName) => ({ topicName, lockDuration: 60_000 })) });
    for (const task of tasks) {
      const service = this.services.get(String(task.variables.system));
      if (service && !['regen.backup-state', 'regen.validate'].includes(task.topic)) {
        service.steps++;
        service.onStrategy?.(service.steps, String(task.variables.strategyId), service);
      }
      await this.engine!.completeExternalTask(task.id, 'world-agent', {});
    }
    return tasks.length;
  }

  /**
   * Runs one cycle of dmedi-regeneration for the service to its end (or to a task for a
   * person), writing the service's spans as simulated time goes and skipping each settle wait.
   */
  async runCycle(service: WorldService, variables: Record<string, unknown>, realTimeoutMs = 300_000): Promise<CycleResult> {
    const engine = this.engine!;
    const knex = this.knex!;
    const started = Date.now();
    await this.writeUntil(service, started);
    const instance = await engine.start({ processKey: 'dmedi-regeneration', variables: { system: service.system, ...variables } });
    const deadline = performance.now() + realTimeoutMs;
    let skipped = 0;
    for (;;) {
      await this.writeUntil(service, Date.now());
      // The task first, then the instance: read the other way round, a task created in between
      // came with variables the older row lacked (two reads, no snapshot).
      const waitingForPerson = await knex('user_tasks').where({ instance_id: instance.id }).first();
      const row = await engine.getInstance(instance.id);
      const stuck = performance.now() > deadline;
      if (row.status !== 'active' || waitingForPerson || stuck) {
        const ended = Date.now();
        const history: Array<{ activity_id: string; event: string; at: Date }> = await knex('history').where({ instance_id: instance.id }).whereIn('event', ['start', 'end']).orderBy('id');
        const begun = new Map<string, number>();
        const activities: Array<[string, number]> = [];
        for (const entry of history) {
          if (entry.event === 'start') begun.set(entry.activity_id, new Date(entry.at).getTime());
          else if (begun.has(entry.activity_id)) activities.push([entry.activity_id, (new Date(entry.at).getTime() - (begun.get(entry.activity_id) as number)) / 1000]);
        }
        const ends = activities.map(([id]) => id).filter((id) => id.startsWith('end_'));
        const end = stuck ? 'stuck' : waitingForPerson ? `person: ${waitingForPerson.activity_id}` : row.status !== 'completed' ? row.status : (ends.at(-1) ?? '?');
        return { instanceId: instance.id, end, durationS: (ended - started) / 1000, waitedS: skipped / 1000, variables: row.variables as Record<string, any>, activities };
      }
      if (await this.serveAgent()) continue;
      // Waiting only at a timer (no external task in flight): skip to its due time and run it, as "execute job" does.
      // Due times are on the database's clock, which simulated time does not move: skip by what is left until it.
      const [timer] = await knex('jobs')
        .where({ instance_id: instance.id, kind: 'timer' })
        .orderBy('due_at')
        .select('id', knex.raw('extract(epoch FROM (due_at - clock_timestamp())) * 1000 AS due_in_ms'));
      const busy = await knex('external_tasks').where({ instance_id: instance.id }).first();
      if (timer && !busy) {
        const due = Date.now() + Math.max(0, Number(timer.due_in_ms));
        await this.writeUntil(service, due);
        skipped += Math.max(0, due - Date.now());
        skipTo(due);
        try {
          await engine.executeJob(timer.id);
        } catch (error) {
          // The poller may have taken it first.
          if (!/JOB_LOCKED|not found|being run/i.test(String((error as Error).message))) throw error;
        }
        continue;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}
