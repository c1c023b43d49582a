import type { Knex } from 'knex';

/** A worktree a node keeps between the tasks of an instance, below its own work folder. */
export interface KeptWorktree {
  key: string;
  repository: string;
  folder: string;
  instanceId: string | null;
  nodeId: string;
}

const fromRow = (row: { key: string; repository: string; folder: string; instance_id: string | null; node_id: string }): KeptWorktree => ({
  key: row.key,
  repository: row.repository,
  folder: row.folder,
  instanceId: row.instance_id,
  nodeId: row.node_id,
});

/**
 * Where the worktree runner records the worktrees it keeps between tasks: one row per key
 * and node, since each node keeps (and removes) only its own copy.
 */
export interface KeptWorktreeStore {
  /** Records (or re-points) this node's copy of a key. */
  keep(worktree: KeptWorktree): Promise<void>;
  find(key: string, nodeId: string): Promise<KeptWorktree | undefined>;
  forget(key: string, nodeId: string): Promise<void>;
  ofInstance(instanceId: string, nodeId: string): Promise<KeptWorktree[]>;
  /** A node's worktrees kept for instances that are no longer active (their end was missed or seen by another node). */
  orphans(nodeId: string): Promise<KeptWorktree[]>;
  /** Whether the instance is no longer active (ended, or gone). */
  instanceEnded(instanceId: string): Promise<boolean>;
}

export function createKeptWorktreeStore(knex: Knex): KeptWorktreeStore {
  return {
    async keep(worktree) {
      await knex('kept_worktrees')
        .insert({ key: worktree.key, repository: worktree.repository, folder: worktree.folder, instance_id: worktree.instanceId, node_id: worktree.nodeId, kept_at: knex.fn.now() })
        .onConflict(['key', 'node_id'])
        .merge(['repository', 'folder', 'instance_id', 'kept_at']);
    },
    async find(key, nodeId) {
      const row = await knex('kept_worktrees').where({ key, node_id: nodeId }).first();
      return row ? fromRow(row) : undefined;
    },
    async forget(key, nodeId) {
      await knex('kept_worktrees').where({ key, node_id: nodeId }).delete();
    },
    async ofInstance(instanceId, nodeId) {
      return (await knex('kept_worktrees').where({ instance_id: instanceId, node_id: nodeId })).map(fromRow);
    },
    async orphans(nodeId) {
      const rows = await knex('kept_worktrees')
        .where({ node_id: nodeId })
        .whereNotNull('instance_id')
        .whereNotExists(knex('process_instances').whereRaw('process_instances.id = kept_worktrees.instance_id').where('status', 'active'));
      return rows.map(fromRow);
    },
    async instanceEnded(instanceId) {
      return !(await knex('process_instances').where({ id: instanceId, status: 'active' }).first('id'));
    },
  };
}
