import type { Knex } from 'knex';

/**
 * The alert queue: what an alert asks of the incident process (start or correlate on a firing,
 * tell the instance on a resolution), stored in the same transaction as the alert itself, so
 * the webhook answers as soon as both are written and any node works the queue afterwards. A
 * row goes when its work committed; a node that dies holding one leaves a lease that runs out.
 * Rows of one fingerprint are worked one at a time, oldest first (a firing before its
 * resolution). A row that keeps failing ends `failed_at`, its error kept, and stops blocking
 * its fingerprint.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('alert_queue', (t) => {
    t.bigIncrements('id').primary();
    t.uuid('alert_id').notNullable().references('id').inTable('alerts').onDelete('CASCADE');
    t.text('fingerprint').notNullable();
    t.text('kind').notNullable(); // firing | resolved
    t.jsonb('payload').notNullable(); // the notification's alert as received, its source and the sender
    t.integer('attempts').notNullable().defaultTo(0);
    t.text('locked_by');
    t.timestamp('locked_until', { useTz: true });
    t.timestamp('available_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.text('last_error');
    t.timestamp('failed_at', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['fingerprint', 'id']);
    t.index(['available_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('alert_queue');
}
