import type { Knex } from 'knex';

/**
 * Engine core under many nodes and failures:
 * - an incident may belong to a definition rather than an instance (a timer start whose job
 *   used up its retries: Camunda 7 shows such failed jobs at the definition);
 * - a job counts the leases it was claimed under without finishing, so one that kills its node
 *   again and again is quarantined instead of retried forever;
 * - indexes for hot queries: instances by definition and by status and start, open incidents by
 *   process, user tasks by candidate group, ended instances for history retention.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('incidents', (t) => {
    t.setNullable('instance_id');
    t.text('definition_id');
  });
  await knex.schema.alterTable('jobs', (t) => {
    t.integer('claims').notNullable().defaultTo(0);
  });
  await knex.schema.alterTable('process_instances', (t) => {
    t.index(['definition_id']);
    t.index(['status', 'started_at']);
  });
  await knex.raw('create index incidents_open_by_process on incidents (process_key) where resolved_at is null');
  await knex.raw('create index process_instances_ended_at on process_instances (ended_at) where ended_at is not null');
  await knex.raw('create index user_tasks_candidate_groups on user_tasks using gin (candidate_groups)');
}

export async function down(): Promise<void> {
  throw new Error('migrations are forward-only');
}
