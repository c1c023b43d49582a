import type { Knex } from 'knex';

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

/** Where the worktree runner records the worktrees it keeps between tasks, for every node to find. */
export interface KeptWorktreeStore {
  /** Records (or re-points) a kept worktree; returns the one it replaced, if it lay elsewhere or on another node. */
  keep(worktree: KeptWorktree): Promise<KeptWorktree | undefined>;
  find(key: string): Promise<KeptWorktree | undefined>;
  forget(key: string): Promise<void>;
  ofInstance(instanceId: string): Promise<KeptWorktree[]>;
  /** Kept for instances that are no longer active (their end was missed: a crash, a node gone). */
  orphans(): Promise<KeptWorktree[]>;
}

export function createKeptWorktreeStore(knex: Knex): KeptWorktreeStore {
  const find = async (key: string) => {
    const row = await knex('kept_worktrees').where({ key }).first();
    return row ? fromRow(row) : undefined;
  };
  return {
    async keep(worktree) {
      const before = await find(worktree.key);
      await knex('kept_worktrees')
        .insert({ key: worktree.key, repository: worktree.repository, folder: worktree.folder, instance_id: worktree.instanceId, node_id: worktree.nodeId })
        .onConflict('key')
        .merge(['repository', 'folder', 'instance_id', 'node_id']);
      // Another node's copy at the same path is still another copy (its own disk).
      return before && (before.folder !== worktree.folder || before.repository !== worktree.repository || before.nodeId !== worktree.nodeId) ? before : undefined;
    },
    find,
    async forget(key) {
      await knex('kept_worktrees').where({ key }).delete();
    },
    async ofInstance(instanceId) {
      return (await knex('kept_worktrees').where({ instance_id: instanceId })).map(fromRow);
    },
    async orphans() {
      const rows = await knex('kept_worktrees')
        .whereNotNull('instance_id')
        .whereNotExists(knex('process_instances').whereRaw('process_instances.id = kept_worktrees.instance_id').where('status', 'active'));
      return rows.map(fromRow);
    },
  };
}
