import type { Knex } from 'knex';

/**
 * Saved task filters (Camunda 7's `/filter` for resourceType Task; Tasklist's filter list):
 * a name, a task query and display properties, owned by the token that saved it; a filter
 * without owner (saved by an admin) is shared with everyone.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('task_filters', (t) => {
    t.uuid('id').primary();
    t.text('resource_type').notNullable().defaultTo('Task');
    t.text('name').notNullable();
    t.text('owner'); // the saving token's actor (`role:hash`); null: shared
    t.jsonb('query').notNullable().defaultTo('{}');
    t.jsonb('properties').notNullable().defaultTo('{}');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['owner']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('task_filters');
}
