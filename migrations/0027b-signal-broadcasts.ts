import type { Knex } from 'knex';

/**
 * Durable signal broadcasts: a broadcast is recorded with every receiver it has (the waiting
 * executions, one row per instance and signal element, and the signal start events) in one
 * transaction, then delivered receiver by receiver; each delivery is marked in the commit of
 * the transition it causes, so a receiver gets the signal exactly once however often the
 * broadcast is resumed (by the retry of its request, or by any node once its lease ran out).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('signal_broadcasts', (t) => {
    t.uuid('id').primary();
    t.text('name').notNullable();
    t.jsonb('variables').notNullable().defaultTo('{}');
    t.jsonb('audit'); // the request's audit entry (actor, idempotency key), written with each delivery
    t.text('actor');
    t.text('idempotency_key');
    t.text('locked_by');
    t.timestamp('locked_until', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('finished_at', { useTz: true });
    t.index(['finished_at', 'locked_until']);
  });
  await knex.raw('create unique index signal_broadcasts_idempotent on signal_broadcasts (actor, idempotency_key) where idempotency_key is not null');
  await knex.schema.createTable('signal_deliveries', (t) => {
    t.bigIncrements('id').primary();
    t.uuid('broadcast_id').notNullable().references('id').inTable('signal_broadcasts').onDelete('CASCADE');
    t.text('kind').notNullable(); // instance | start
    t.uuid('instance_id');
    t.text('definition_id');
    t.text('process_key');
    t.text('ref_id').notNullable();
    t.integer('executions').notNullable().defaultTo(1); // waiting executions the one transition moves
    t.text('outcome'); // delivered | gone | started
    t.uuid('started_instance_id');
    t.timestamp('delivered_at', { useTz: true });
    t.index(['broadcast_id', 'delivered_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('signal_deliveries');
  await knex.schema.dropTable('signal_broadcasts');
}
