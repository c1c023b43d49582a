import type { Knex } from 'knex';

/**
 * A validation run validates one commit: its ref is resolved once, server-side, when the
 * run starts (validation_pins), and every phase result, the run itself and the deploys
 * after it carry that commit, so a branch that moves mid-run cannot mix commits or ship
 * one that was never validated.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('validation_pins', (t) => {
    t.uuid('instance_id').notNullable();
    t.text('ref').notNullable(); // the ref as the process names it
    t.text('commit').notNullable(); // what it named when the run started
    t.timestamp('pinned_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['instance_id', 'ref']);
  });
  await knex.schema.alterTable('validation_phase_results', (t) => {
    t.text('commit'); // null for results recorded before this migration
  });
  await knex.schema.alterTable('validation_runs', (t) => {
    t.text('commit');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('validation_runs', (t) => t.dropColumn('commit'));
  await knex.schema.alterTable('validation_phase_results', (t) => t.dropColumn('commit'));
  await knex.schema.dropTable('validation_pins');
}
