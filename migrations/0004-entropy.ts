import type { Knex } from 'knex';

/**
 * The entropy module's own rows: every measurement (the dashboard's history and control
 * charts of the score), the outcome of every applied strategy (what the ranking learns
 * success probabilities from) and every regeneration cycle (the circuit breaker counts them,
 * the rollback reads their snapshot).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('entropy_measurements', (t) => {
    t.bigIncrements('id').primary();
    t.text('system').notNullable();
    t.timestamp('measured_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('window_start', { useTz: true }).notNullable();
    t.timestamp('window_end', { useTz: true }).notNullable();
    t.double('health').notNullable();
    t.text('health_state').notNullable();
    t.integer('drift').notNullable();
    t.integer('validation_errors').notNullable();
    t.double('score').notNullable();
    t.text('level').notNullable();
    t.jsonb('indicators').notNullable();
    t.index(['system', 'measured_at']);
  });

  await knex.schema.createTable('strategy_outcomes', (t) => {
    t.bigIncrements('id').primary();
    t.text('idempotency_key').notNullable().unique(); // handlers run at least once
    t.text('system').notNullable();
    t.text('strategy_id').notNullable();
    t.text('level').notNullable();
    t.boolean('success').notNullable();
    t.double('entropy_before');
    t.double('entropy_after');
    t.uuid('instance_id');
    t.timestamp('recorded_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['strategy_id']);
  });

  await knex.schema.createTable('regeneration_cycles', (t) => {
    t.bigIncrements('id').primary();
    t.text('idempotency_key').notNullable().unique();
    t.text('system').notNullable();
    t.uuid('instance_id');
    t.text('status').notNullable().defaultTo('running'); // running | recovered | rolled-back
    t.text('strategy_id');
    t.jsonb('snapshot');
    t.timestamp('started_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['system', 'started_at']);
  });
}

export async function down(): Promise<void> {
  throw new Error('migrations are forward-only');
}
