import type { Knex } from 'knex';

/**
 * What the agent and validator modules must find again from any node: each validation
 * phase's result as the phase task recorded it (scoring reads these, never process
 * variables, which a start request can set), and the systems released features handed
 * to the evolution cycle for monitoring.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('validation_phase_results', (t) => {
    t.uuid('instance_id').notNullable(); // the process instance whose phase task ran it
    t.text('phase').notNullable();
    t.text('ref').notNullable(); // what was validated: a result of another ref does not count
    t.jsonb('result').notNullable();
    t.timestamp('recorded_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    // A resubmission runs the phase again and replaces its result.
    t.primary(['instance_id', 'phase']);
  });

  await knex.schema.createTable('monitored_systems', (t) => {
    t.text('service_name').primary(); // the OpenTelemetry service.name its spans carry
    t.text('feature').notNullable(); // the feature whose release handed it over last
    t.text('commit'); // the released commit, when known
    t.uuid('instance_id').notNullable(); // the feature-lifecycle instance that handed it over
    t.timestamp('since', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('registered_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('monitored_systems');
  await knex.schema.dropTable('validation_phase_results');
}
