import type { Knex } from 'knex';

/**
 * Batch operations (Camunda 7's batches): one row per batch, one row per item (an instance) with
 * its chunk, status and error. The chunks run as `batch` jobs in the jobs table, so they survive
 * restarts; an item turns `done` in the same commit as its instance's change.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('batches', (t) => {
    t.uuid('id').primary();
    t.text('type').notNullable(); // instance-migration | instance-cancel | incident-retry | set-variables
    t.text('status').notNullable(); // running | completed | cancelled
    t.jsonb('payload').notNullable(); // the operation's arguments (plan, variables, reason, retries)
    t.integer('total_items').notNullable();
    t.integer('chunk_size').notNullable();
    t.text('created_by');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('ended_at', { useTz: true });
    t.index(['status', 'created_at']);
  });
  await knex.schema.createTable('batch_items', (t) => {
    t.uuid('batch_id').notNullable().references('batches.id').onDelete('CASCADE');
    t.text('item_id').notNullable(); // a process instance id
    t.integer('chunk').notNullable();
    t.text('status').notNullable().defaultTo('pending'); // pending | done | failed
    t.text('error');
    t.timestamp('done_at', { useTz: true });
    t.primary(['batch_id', 'item_id']);
    t.index(['batch_id', 'chunk', 'status']);
  });
}

export async function down(): Promise<void> {
  throw new Error('migrations are forward-only');
}
