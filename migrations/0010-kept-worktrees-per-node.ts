import type { Knex } from 'knex';

/**
 * Each node keeps its own copy of a workspace (`worktrees/<node id>/<key>` in its work
 * folder) and removes only its own: a kept worktree is one row per (key, node_id).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('kept_worktrees', (t) => {
    t.dropPrimary();
  });
  // Rows of the old layout (`<key>@<node>` for a replaced copy) become the copy of their node.
  await knex('kept_worktrees').where('key', 'like', '%@%').update({ key: knex.raw("split_part(key, '@', 1)") });
  await knex.schema.alterTable('kept_worktrees', (t) => {
    t.primary(['key', 'node_id']);
    t.index(['node_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('kept_worktrees', (t) => {
    t.dropIndex(['node_id']);
    t.dropPrimary();
  });
  await knex.raw(`delete from kept_worktrees a using kept_worktrees b where a.key = b.key and a.kept_at < b.kept_at`);
  await knex.schema.alterTable('kept_worktrees', (t) => t.primary(['key']));
}
