import type { Knex } from 'knex';

/**
 * `Idempotency-Key` of starts, correlations and task completions, stored on the audit entry
 * that the engine writes in the action's own transaction: the key commits exactly when the
 * action does, so a retry after a lost answer finds it. Unique per principal and action
 * (a start makes a new instance each time, so its key alone is unique; a correlation to
 * several instances writes one entry per instance).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('audit_entries', (t) => {
    t.text('idempotency_key');
  });
  await knex.raw(`create unique index audit_entries_idempotent_start on audit_entries (actor, action, idempotency_key)
    where idempotency_key is not null and result = 'ok' and action = 'instance.start'`);
  await knex.raw(`create unique index audit_entries_idempotent_action on audit_entries (actor, action, idempotency_key, coalesce(instance_id::text, ''))
    where idempotency_key is not null and result = 'ok' and action <> 'instance.start'`);
}

export async function down(): Promise<void> {
  throw new Error('migrations are forward-only');
}
