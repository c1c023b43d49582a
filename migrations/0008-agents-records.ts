import type { Knex } from 'knex';

/**
 * What the agent and validator modules must find again from any node: each validation
 * phase's result as the phase task recorded it (scoring reads these, never process
 * variables, which a start request can set), the systems released features handed
 * to the evolution cycle for monitoring, and the worktrees kept between the tasks of an
 * instance (so any node, or this one after a restart, can remove them).
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

  await knex.schema.createTable('kept_worktrees', (t) => {
    t.text('key').primary(); // the workspace key tasks share (e.g. ci-<instance id>)
    t.text('repository').notNullable(); // the repository whose `git worktree` it is
    t.text('folder').notNullable(); // absolute path on the node that made it
    t.uuid('instance_id'); // removed when this instance ends
    t.text('node_id').notNullable();
    t.timestamp('kept_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['instance_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('kept_worktrees');
  await knex.schema.dropTable('monitored_systems');
  await knex.schema.dropTable('validation_phase_results');
}
