import type { Knex } from 'knex';
import { onDatabaseClock } from './database-clock.js';

export interface AgentRow {
  name: string;
  topics: string[];
  capacity: number;
  kind: 'remote' | 'built-in';
  registered_at: Date;
  last_heartbeat_at: Date;
  released_at: Date | null;
}

export interface AgentWork {
  id: string;
  topic: string;
  instance_id: string;
  activity_id: string;
  lock_expires_at: Date | null;
}

/** Registers (or re-registers) an agent; registering is a heartbeat too. */
export async function registerAgent(
  knex: Knex,
  agent: { name: string; topics: string[]; capacity: number; kind: AgentRow['kind'] },
): Promise<AgentRow> {
  const [row] = await knex('agents')
    .insert({ name: agent.name, topics: JSON.stringify(agent.topics), capacity: agent.capacity, kind: agent.kind, registered_at: knex.raw('now()'), last_heartbeat_at: knex.raw('now()') })
    .onConflict('name')
    .merge({ topics: JSON.stringify(agent.topics), capacity: agent.capacity, kind: agent.kind, last_heartbeat_at: knex.raw('now()') })
    .returning('*');
  return row as AgentRow;
}

/** A fetch by a registered agent: its heartbeat. Unknown worker ids are not agents (0 rows). */
export async function recordHeartbeat(knex: Knex, name: string): Promise<boolean> {
  return (await knex('agents').where({ name }).update({ last_heartbeat_at: knex.raw('now()') })) > 0;
}

export async function listAgents(knex: Knex): Promise<AgentRow[]> {
  return knex('agents').orderBy('name');
}

export async function findAgent(knex: Knex, name: string): Promise<AgentRow | undefined> {
  return knex('agents').where({ name }).first();
}

export async function deleteAgent(knex: Knex, name: string): Promise<boolean> {
  return (await knex('agents').where({ name }).delete()) > 0;
}

/** External tasks an agent holds a live lock on. */
export async function workOf(knex: Knex, names: string[]): Promise<Array<AgentWork & { worker_id: string }>> {
  if (!names.length) return [];
  return knex('external_tasks')
    .whereIn('worker_id', names)
    .andWhere('lock_expires_at', '>=', knex.raw('now()'))
    .select('id', 'worker_id', 'topic', 'instance_id', 'activity_id', 'lock_expires_at')
    .orderBy('created_at');
}

/**
 * Agents silent since `cutoff`: their live locks are dropped (so other workers fetch the
 * tasks at once) in one transaction; returns each released task's topic.
 */
export async function releaseStaleAgents(knex: Knex, cutoff: Date): Promise<Array<{ agent: string; taskId: string; topic: string }>> {
  return knex.transaction(async (trx) => {
    // Heartbeats are stamped by the database's clock: the node's cutoff is moved onto it.
    const now = trx.raw('now()');
    // Built-in agents are this server's own workers: a crashed node's locks simply expire.
    const stale: string[] = await trx('agents').where({ kind: 'remote' }).andWhere('last_heartbeat_at', '<', onDatabaseClock(trx, cutoff)).pluck('name');
    if (!stale.length) return [];
    const released: Array<{ id: string; worker_id: string; topic: string }> = await trx('external_tasks')
      .whereIn('worker_id', stale)
      .andWhere('lock_expires_at', '>=', now)
      .update({ worker_id: null, lock_expires_at: null })
      .returning(['id', 'worker_id', 'topic']);
    await trx('agents').whereIn('name', stale).update({ released_at: now });
    return released.map((row) => ({ agent: row.worker_id, taskId: row.id, topic: row.topic }));
  });
}

/** The agent module's narrow window on the database. */
export interface AgentStore {
  register(agent: { name: string; topics: string[]; capacity: number; kind: AgentRow['kind'] }): Promise<AgentRow>;
  heartbeat(name: string): Promise<boolean>;
  list(): Promise<AgentRow[]>;
  find(name: string): Promise<AgentRow | undefined>;
  remove(name: string): Promise<boolean>;
  workOf(names: string[]): Promise<Array<AgentWork & { worker_id: string }>>;
  releaseStale(cutoff: Date): Promise<Array<{ agent: string; taskId: string; topic: string }>>;
}

export function createAgentStore(knex: Knex): AgentStore {
  return {
    register: (agent) => registerAgent(knex, agent),
    heartbeat: (name) => recordHeartbeat(knex, name),
    list: () => listAgents(knex),
    find: (name) => findAgent(knex, name),
    remove: (name) => deleteAgent(knex, name),
    workOf: (names) => workOf(knex, names),
    releaseStale: (cutoff) => releaseStaleAgents(knex, cutoff),
  };
}
