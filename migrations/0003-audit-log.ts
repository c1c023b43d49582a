import type { Knex } from 'knex';

/**
 * The audit log: who did what to which target, and with what result. Rows are written in
 * the same database transaction as the action they record, and a trigger refuses every
 * UPDATE, DELETE and TRUNCATE, so the table only grows.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('audit_entries', (t) => {
    t.bigIncrements('id').primary();
    t.timestamp('at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.text('actor').notNullable(); // "<role>:<first 12 hex of the token's SHA-256>"
    t.text('action').notNullable(); // dot.case, e.g. instance.cancel
    t.text('target').notNullable(); // what the action named: a key, an id
    t.text('result').notNullable(); // ok | the error code of a refused action
    t.uuid('instance_id'); // the instance the action changed, when there is one (no FK: the log outlives rows)
    t.jsonb('details');
    t.index(['at']);
    t.index(['actor']);
    t.index(['instance_id']);
  });
  await knex.raw(`
    create function audit_entries_append_only() returns trigger language plpgsql as $$
    begin
      raise exception 'audit_entries is append-only';
    end $$`);
  await knex.raw(`create trigger audit_entries_no_update before update or delete on audit_entries
    for each row execute function audit_entries_append_only()`);
  await knex.raw(`create trigger audit_entries_no_truncate before truncate on audit_entries
    for each statement execute function audit_entries_append_only()`);
}

export async function down(): Promise<void> {
  throw new Error('migrations are forward-only');
}
