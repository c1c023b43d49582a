import type { Knex } from 'knex';

/**
 * What the agent and validator modules must find again from any node: each validation
 * phase's result as the phase task recorded it (scoring reads these, never process
 * variables, which a start request can set).
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
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('validation_phase_results');
}
