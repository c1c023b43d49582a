import type { Knex } from 'knex';

/**
 * Incident response: the alerts that arrive (one row per alert occurrence, keyed by
 * fingerprint + startsAt so a re-sent notification can never start a second instance),
 * the pattern store (what fixed which alert, and how often it worked), the outcome of
 * every remediation, the decisions people made (overrides), and the decision log each
 * instance's history shows.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('alerts', (t) => {
    t.uuid('id').primary();
    t.text('fingerprint').notNullable();
    t.timestamp('starts_at', { useTz: true, precision: 3 }).notNullable();
    t.timestamp('ends_at', { useTz: true, precision: 3 }); // null: no end (Alertmanager's 0001-01-01)
    t.text('status').notNullable(); // firing | resolved
    t.text('source').notNullable(); // alertmanager | generic source name
    t.jsonb('labels').notNullable().defaultTo('{}');
    t.jsonb('annotations').notNullable().defaultTo('{}');
    t.text('generator_url');
    t.uuid('instance_id'); // the incident-response instance it started or was correlated to
    t.text('action'); // started | correlated | noted | stored
    t.timestamp('received_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('resolved_at', { useTz: true });
    // The dedupe key: two concurrent identical posts cannot both insert.
    t.unique(['fingerprint', 'starts_at']);
    t.index(['instance_id']);
    t.index(['received_at']);
  });

  // Which instance handles a fingerprint: claimed before the start, so that two nodes
  // receiving different occurrences of one alert at once do not both start an incident.
  await knex.schema.createTable('alert_incidents', (t) => {
    t.text('fingerprint').primary();
    t.uuid('instance_id'); // null while the claiming node starts it
    t.timestamp('claimed_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  await knex.schema.createTable('incident_patterns', (t) => {
    t.uuid('id').primary();
    t.text('signature').notNullable(); // alertname=…,service=…,severity=…
    t.jsonb('match').notNullable(); // { alertname, service, severity }
    t.jsonb('remediation').notNullable(); // { topic, params }
    t.text('remediation_key').notNullable(); // topic + canonical params: one pattern per fix
    t.text('description');
    t.integer('successes').notNullable().defaultTo(0);
    t.integer('failures').notNullable().defaultTo(0);
    t.boolean('enabled').notNullable().defaultTo(true);
    t.text('origin').notNullable(); // manual-fix | api
    t.text('created_by');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('last_seen_at', { useTz: true });
    // Span names that were failing when this fix worked: telemetry evidence for the next match.
    t.jsonb('error_operations').notNullable().defaultTo('[]');
    t.unique(['signature', 'remediation_key']);
  });

  await knex.schema.createTable('incident_outcomes', (t) => {
    t.uuid('id').primary();
    t.text('idempotency_key').notNullable().unique(); // handlers run at least once
    t.uuid('instance_id').notNullable();
    t.uuid('pattern_id').references('incident_patterns.id').onDelete('SET NULL');
    t.text('result').notNullable(); // success | failure
    t.double('duration_ms');
    t.timestamp('recorded_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['pattern_id', 'recorded_at']);
  });

  await knex.schema.createTable('incident_overrides', (t) => {
    t.uuid('id').primary();
    t.text('idempotency_key').unique();
    t.uuid('instance_id');
    t.uuid('pattern_id').references('incident_patterns.id').onDelete('SET NULL');
    t.text('action').notNullable(); // approved | rejected | manual-fix | edited | created
    t.jsonb('remediation');
    t.text('actor');
    t.text('note');
    t.timestamp('at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['pattern_id']);
    t.index(['instance_id']);
  });

  // No foreign key to process_instances: the first decision is taken inside the first
  // transition, before the instance row is written.
  await knex.schema.createTable('incident_decisions', (t) => {
    t.bigIncrements('id');
    t.text('idempotency_key').notNullable().unique();
    t.uuid('instance_id').notNullable();
    t.text('step').notNullable(); // analyse | approval | manual-review | remediate | validate | rollback | learn | escalate
    t.text('decision').notNullable();
    t.double('confidence');
    t.jsonb('details').notNullable().defaultTo('{}');
    t.timestamp('at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['instance_id', 'id']);
  });

  // regenflow's own remediation: kill switches other code (and workers) can read.
  await knex.schema.createTable('feature_flags', (t) => {
    t.text('key').primary();
    t.jsonb('value').notNullable();
    t.text('updated_by');
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  // Every change with what it replaced: a rollback restores it, a re-run finds its first run.
  await knex.schema.createTable('feature_flag_changes', (t) => {
    t.bigIncrements('id');
    t.text('idempotency_key').unique();
    t.text('key').notNullable();
    t.jsonb('value');
    t.boolean('previous_existed').notNullable();
    t.jsonb('previous_value');
    t.text('actor').notNullable();
    t.timestamp('at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['key', 'id']);
  });
}

export async function down(): Promise<void> {
  throw new Error('migrations are forward-only');
}
