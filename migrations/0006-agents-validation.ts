import type { Knex } from 'knex';

/**
 * Agents (remote and built-in workers with their topics, capacity and heartbeats),
 * validation runs (the nine-phase results with score and gate), and the input-mapped
 * local variables of external tasks: Camunda 7 hands a worker the task's
 * camunda:inputOutput mapping, which a multi-instance task needs to tell its items apart.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('agents', (t) => {
    t.text('name').primary(); // the workerId it fetches with
    t.jsonb('topics').notNullable().defaultTo('[]');
    t.integer('capacity').notNullable().defaultTo(1);
    t.text('kind').notNullable().defaultTo('remote'); // remote | built-in
    t.timestamp('registered_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('last_heartbeat_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('released_at', { useTz: true }); // when its locks were last released as unhealthy
  });

  await knex.schema.createTable('validation_runs', (t) => {
    t.uuid('id').primary();
    t.text('subject').notNullable(); // what was validated: a repository ref, a process key
    t.uuid('instance_id'); // the process instance that ran it, when one did
    t.text('ref');
    t.double('score').notNullable();
    t.double('gate').notNullable();
    t.boolean('passed').notNullable();
    t.jsonb('phases').notNullable().defaultTo('[]');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['subject', 'created_at']);
  });

  await knex.schema.alterTable('external_tasks', (t) => {
    t.jsonb('local_variables');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('external_tasks', (t) => {
    t.dropColumn('local_variables');
  });
  await knex.schema.dropTable('validation_runs');
  await knex.schema.dropTable('agents');
}
