import { z } from 'zod';
import type { App } from '../../../src/app.js';
import { statusOf } from '../../../src/api/problem.js';
import { ServiceTaskRegistry } from '../../../service-tasks/registry.js';
import { generateProcess, seededRandom } from './process-grammar.js';

/**
 * The model test's driver, in the style of Zeebe's replay tests: for one seed it generates a
 * process, starts instances with seeded gateway variables and drives each with a seeded choice
 * among what it waits for (complete a user or external task, fire a timer, deliver a message).
 * Which instance moves next, on which node, and which faults strike are drawn from a second
 * stream, so the faulty two-node run interleaves differently from the clean one-node run while
 * every instance makes the same choices. Each instance's committed path (status and the
 * activities it ended, as a multiset) must come out the same.
 */
export interface ModelFaults {
  /** Chance that a transition dies after running, before its commit (a node killed mid-transition). */
  killMidTransition: number;
  /** Chance that another commit moves the instance first (a lost optimistic race). */
  lostRace: number;
  /** Chance that a database connection is dropped before an action (PostgreSQL only). */
  dropConnection: number;
}

export const NO_FAULTS: ModelFaults = { killMidTransition: 0, lostRace: 0, dropConnection: 0 };
export const CI_FAULTS: ModelFaults = { killMidTransition: 0.15, lostRace: 0.1, dropConnection: 0.03 };

export interface InstancePath {
  status: string;
  ended: string[];
}

export interface ModelRun {
  processId: string;
  paths: Record<string, InstancePath>;
  actions: number;
  faults: number;
  /** Errors that are neither an injected fault nor a 4xx: each is a defect. */
  serverErrors: string[];
}

/** The registry model nodes need: the grammar's inline topic. */
export function modelRegistry(): ServiceTaskRegistry {
  return new ServiceTaskRegistry().register({
    topic: 'fuzz.inline',
    description: 'an inline step of a generated process',
    mode: 'inline',
    input: z.object({}).passthrough(),
    output: z.object({}).passthrough(),
    handler: async () => ({}),
  });
}

interface Wait {
  kind: 'user' | 'external' | 'timer' | 'message';
  activityId: string;
  id: string;
}

const INJECTED = 'injected fault: node killed mid-transition';

interface KillSettings {
  chance: number;
  random: () => number;
  counted: () => void;
}

/** Each node's current kill settings: the wrapper is installed once per node, each run sets its own. */
const killSettings = new WeakMap<App, KillSettings>();

/** Makes a node's transitions die after running with the given chance (before the commit). */
function injectKills(app: App, settings: KillSettings): void {
  const installed = killSettings.has(app);
  killSettings.set(app, settings);
  // Wrapping once: a node reused for several seeds would otherwise stack one wrapper (and one more chance to die) per seed.
  if (installed) return;
  // The one ProcessRuntime every engine module shares (reached through the transition module).
  const runtime = (app.engine as unknown as { transitions: { ctx: { runtime: { run: (...args: unknown[]) => Promise<unknown> } } } }).transitions.ctx.runtime;
  const run = runtime.run.bind(runtime);
  runtime.run = async (...args: unknown[]) => {
    const outcome = await run(...args);
    const current = killSettings.get(app)!;
    if (current.chance > 0 && current.random() < current.chance) {
      current.counted();
      throw new Error(INJECTED);
    }
    return outcome;
  };
}

function isInjected(error: unknown): boolean {
  const text = `${(error as Error)?.message ?? error}`;
  const code = (error as { code?: string })?.code;
  return text.includes(INJECTED) || code === '57P01' || /terminat|Connection ended|ECONNRESET|not queryable/i.test(text);
}

export async function runModel(apps: App[], seed: number, options: { instances: number; faults: ModelFaults }): Promise<ModelRun> {
  const shape = seededRandom(seed);
  const schedule = seededRandom(seed * 7919 + (apps.length > 1 ? 1 : 0));
  const processId = `model_${seed}`;
  const generated = generateProcess(shape, processId);
  const knex = apps[0]!.database.knex;
  let faults = 0;
  for (const app of apps) injectKills(app, { chance: options.faults.killMidTransition, random: schedule, counted: () => faults++ });
  await apps[0]!.engine.deploy([{ name: `${processId}.bpmn`, xml: generated.xml }]);

  const serverErrors: string[] = [];
  const node = () => apps[Math.floor(schedule() * apps.length)]!;
  const postgres = apps[0]!.database.kind === 'postgres';

  /** Retries an action through injected faults and 4xx conflicts; returns its result or records a defect. */
  async function attempt<T>(label: string, action: (app: App) => Promise<T>): Promise<T | undefined> {
    for (let tries = 1; tries <= 12; tries++) {
      if (postgres && schedule() < options.faults.dropConnection) {
        await knex
          .raw(`select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() and state = 'idle' limit 1`)
          .catch(() => undefined);
        faults++;
      }
      try {
        return await action(node());
      } catch (error) {
        if (process.env.MODEL_DEBUG) console.log(`${label} try ${tries}: ${(error as { code?: string }).code ?? ''} ${(error as Error).message}`);
        if (isInjected(error) || statusOf(error) < 500) {
          if (tries === 12) serverErrors.push(`${label}: still failing after ${tries} tries: ${(error as Error).message}`);
          continue;
        }
        serverErrors.push(`${label}: ${(error as Error).stack ?? error}`);
        return undefined;
      }
    }
    return undefined;
  }

  interface Driven {
    key: string;
    id?: string;
    choose: () => number;
    chosen?: Wait;
    done: boolean;
  }
  const instances: Driven[] = Array.from({ length: options.instances }, (_, index) => ({
    key: `${processId}-${index}`,
    choose: seededRandom(seed * 1_000 + index + 1),
    done: false,
  }));

  for (const instance of instances) {
    const variables = Object.fromEntries(generated.variables.map((name) => [name, instance.choose() < 0.5]));
    const row = await attempt(`${instance.key} start`, (app) => app.engine.start({ processKey: processId, businessKey: instance.key, variables }));
    if (!row) {
      instance.done = true;
      continue;
    }
    instance.id = row.id;
  }

  /** The driver's own reads: a connection the fault dropped may be handed out once more before the pool notices. */
  async function read<T>(query: () => Promise<T>): Promise<T> {
    for (let tries = 1; ; tries++) {
      try {
        return await query();
      } catch (error) {
        if (tries >= 5 || !isInjected(error)) throw error;
      }
    }
  }

  async function waitsOf(instanceId: string): Promise<Wait[]> {
    const [users, externals, timers, messages] = await read(() => Promise.all([
      knex('user_tasks').where({ instance_id: instanceId }).select('id', 'activity_id'),
      knex('external_tasks').where({ instance_id: instanceId }).select('id', 'activity_id'),
      knex('jobs').where({ instance_id: instanceId, kind: 'timer' }).select('id', 'activity_id'),
      knex('subscriptions').where({ instance_id: instanceId, kind: 'message' }).select('name as id', 'activity_id'),
    ]));
    const tag = (kind: Wait['kind']) => (row: { id: string; activity_id: string }) => ({ kind, activityId: row.activity_id, id: row.id });
    return [...users.map(tag('user')), ...externals.map(tag('external')), ...timers.map(tag('timer')), ...messages.map(tag('message'))].sort((a, b) =>
      `${a.activityId}/${a.kind}`.localeCompare(`${b.activityId}/${b.kind}`),
    );
  }

  async function step(instance: Driven): Promise<void> {
    const row = await read(() => knex('process_instances').where({ id: instance.id }).first('status'));
    if (row.status !== 'active') {
      instance.done = true;
      return;
    }
    if (!instance.chosen) {
      const waits = await waitsOf(instance.id!);
      if (!waits.length) {
        serverErrors.push(`${instance.key}: active but waits for nothing`);
        instance.done = true;
        return;
      }
      instance.chosen = waits[Math.floor(instance.choose() * waits.length)];
    }
    const wait = instance.chosen!;
    const label = `${instance.key} ${wait.kind} ${wait.activityId}`;
    const worker = `fuzz-worker-${instance.key}`;
    const gone = async () => !(await waitsOf(instance.id!)).some((candidate) => candidate.kind === wait.kind && candidate.id === wait.id);
    await attempt(label, async (app) => {
      // A retried action whose first try committed after all (its answer was lost) is done.
      if (await gone()) return;
      if (options.faults.lostRace > 0 && schedule() < options.faults.lostRace) {
        await knex('process_instances').where({ id: instance.id }).increment('version', 1);
      }
      switch (wait.kind) {
        case 'user':
          await app.engine.completeUserTask(wait.id, {});
          return;
        case 'external':
          await app.engine.lockExternalTask(wait.id, worker, 60_000);
          await app.engine.completeExternalTask(wait.id, worker, {});
          return;
        case 'timer':
          await app.engine.executeJob(wait.id);
          return;
        case 'message':
          await app.engine.correlateMessage({ messageName: wait.id, processInstanceId: instance.id });
          return;
      }
    });
    instance.chosen = undefined;
  }

  let actions = 0;
  for (let round = 0; round < 400; round++) {
    const open = instances.filter((instance) => !instance.done);
    if (!open.length) break;
    // A few instances move at once, each on a node of its own choosing.
    const moving = open.filter(() => schedule() < 0.6).slice(0, 4);
    if (!moving.length) moving.push(open[Math.floor(schedule() * open.length)]!);
    actions += moving.length;
    await Promise.all(moving.map((instance) => step(instance)));
  }

  const paths: Record<string, InstancePath> = {};
  for (const instance of instances) {
    if (!instance.id) continue;
    const row = await read(() => knex('process_instances').where({ id: instance.id }).first('status'));
    const ended: string[] = await read(() => knex('history').where({ instance_id: instance.id, event: 'end' }).orderBy('activity_id').pluck('activity_id'));
    paths[instance.key] = { status: row.status, ended };
  }
  return { processId, paths, actions, faults, serverErrors };
}
