import type { Knex } from 'knex';

/**
 * The answer (status and body) a request with an `Idempotency-Key` gave: a retry gets that
 * answer again, not the instance as it is by then. Beside the audit entries (which are
 * append-only and carry the key in the action's own transaction), one row per key.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('idempotent_answers', (t) => {
    t.text('actor').notNullable();
    t.text('action').notNullable();
    t.text('idempotency_key').notNullable();
    t.text('target').notNullable();
    t.integer('status').notNullable();
    t.jsonb('body');
    t.timestamp('at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['actor', 'action', 'idempotency_key']);
  });
}

export async function down(): Promise<void> {
  throw new Error('migrations are forward-only');
}
