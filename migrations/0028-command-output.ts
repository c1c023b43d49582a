import type { Knex } from 'knex';

/**
 * The live log of long work (validation phases, agent commands): their output, written in
 * batches while it runs, so the instance view and `regenflow start --follow` show it before the
 * phase ends. One row per batch; `id` is the cursor a reader continues from. Rows go with their
 * instance (history retention deletes the instance, the cascade its log).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('command_output', (t) => {
    t.bigIncrements('id').primary();
    t.uuid('instance_id').notNullable().references('process_instances.id').onDelete('CASCADE');
    t.text('activity_id').notNullable();
    /** One phase or agent run within the activity (e.g. `unit`, `agent.execute`). */
    t.text('run').notNullable();
    /** `start` (label in text), `output` (a batch of stdout/stderr), `end` (the result in data). */
    t.text('kind').notNullable();
    t.text('text').notNullable().defaultTo('');
    t.jsonb('data');
    t.timestamp('at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['instance_id', 'id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('command_output');
}
