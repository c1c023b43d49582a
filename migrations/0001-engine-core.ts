import type { Knex } from 'knex';

/**
 * The engine core: definitions, instances and every kind of wait row. Instances keep
 * their bpmn-engine state in `state`; wait rows (user tasks, external tasks, jobs,
 * subscriptions) are derived from it and rewritten in the same transaction as the state,
 * so they can never disagree with it.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('deployments', (t) => {
    t.uuid('id').primary();
    t.text('name').notNullable();
    t.text('source').notNullable().defaultTo('api');
    t.timestamp('deployed_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  await knex.schema.createTable('process_definitions', (t) => {
    t.text('id').primary(); // "<key>:<version>:<short uuid>" as Camunda 7 does
    t.text('key').notNullable();
    t.integer('version').notNullable();
    t.text('name');
    t.uuid('deployment_id').notNullable().references('deployments.id');
    t.text('resource_name').notNullable();
    t.text('checksum').notNullable();
    t.text('xml').notNullable();
    t.text('source_context'); // serialized moddle context, null when not executable
    t.boolean('executable').notNullable();
    t.jsonb('info').notNullable(); // start events, topics: see ProcessInfo
    t.jsonb('report').notNullable(); // lint warnings kept with the version
    t.timestamp('deployed_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['key', 'version']);
  });

  await knex.schema.createTable('process_instances', (t) => {
    t.uuid('id').primary();
    t.text('definition_id').notNullable().references('process_definitions.id');
    t.text('process_key').notNullable();
    t.text('business_key');
    t.text('status').notNullable(); // active | completed | cancelled | failed
    t.integer('version').notNullable().defaultTo(1); // optimistic lock
    t.jsonb('state'); // bpmn-engine getState() without the embedded definition
    t.jsonb('variables').notNullable().defaultTo('{}');
    t.uuid('parent_instance_id').references('process_instances.id');
    t.text('parent_execution_id'); // the call activity execution waiting for this instance
    t.text('error_message');
    t.timestamp('started_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('ended_at', { useTz: true });
    t.index(['process_key', 'status']);
    t.index(['business_key']);
    t.index(['parent_instance_id']);
  });

  await knex.schema.createTable('user_tasks', (t) => {
    t.uuid('id').primary();
    t.uuid('instance_id').notNullable().references('process_instances.id').onDelete('CASCADE');
    t.text('process_key').notNullable();
    t.text('definition_id').notNullable();
    t.text('activity_id').notNullable();
    t.text('execution_id').notNullable();
    t.text('name');
    t.text('assignee');
    t.specificType('candidate_groups', 'text[]').notNullable().defaultTo('{}');
    t.specificType('candidate_users', 'text[]').notNullable().defaultTo('{}');
    t.text('form_key');
    t.jsonb('form_fields').notNullable().defaultTo('[]');
    t.integer('priority').notNullable().defaultTo(50);
    t.timestamp('due_at', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['instance_id', 'execution_id']);
    t.index(['assignee']);
  });

  await knex.schema.createTable('external_tasks', (t) => {
    t.uuid('id').primary();
    t.uuid('instance_id').notNullable().references('process_instances.id').onDelete('CASCADE');
    t.text('process_key').notNullable();
    t.text('definition_id').notNullable();
    t.text('activity_id').notNullable();
    t.text('execution_id').notNullable();
    t.text('topic').notNullable();
    t.integer('priority').notNullable().defaultTo(0);
    t.text('business_key');
    t.text('worker_id');
    t.timestamp('lock_expires_at', { useTz: true });
    t.integer('retries'); // null until a worker reports a failure, as in Camunda 7
    t.text('error_message');
    t.text('error_details');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['instance_id', 'execution_id']);
    t.index(['topic', 'lock_expires_at']);
  });

  await knex.schema.createTable('jobs', (t) => {
    t.uuid('id').primary();
    t.text('kind').notNullable(); // timer | timer-start | call-completed
    t.uuid('instance_id').references('process_instances.id').onDelete('CASCADE');
    t.text('definition_id');
    t.text('activity_id').notNullable();
    t.text('timer_key').notNullable(); // identity of the timer inside the instance
    t.timestamp('due_at', { useTz: true }).notNullable();
    t.jsonb('payload').notNullable().defaultTo('{}');
    t.integer('retries').notNullable().defaultTo(3);
    t.text('locked_by');
    t.timestamp('locked_until', { useTz: true });
    t.text('error_message');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['due_at']);
    t.index(['instance_id']);
  });

  await knex.schema.createTable('subscriptions', (t) => {
    t.uuid('id').primary();
    t.text('kind').notNullable(); // message | signal | message-start | signal-start
    t.text('name').notNullable();
    t.text('ref_id').notNullable(); // bpmn:Message / bpmn:Signal element id
    t.uuid('instance_id').references('process_instances.id').onDelete('CASCADE');
    t.text('definition_id').notNullable();
    t.text('activity_id').notNullable();
    t.text('execution_id');
    t.text('business_key');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['kind', 'name']);
    t.index(['instance_id']);
  });

  await knex.schema.createTable('incidents', (t) => {
    t.uuid('id').primary();
    t.uuid('instance_id').notNullable().references('process_instances.id').onDelete('CASCADE');
    t.text('process_key').notNullable();
    t.text('activity_id');
    t.text('execution_id');
    t.text('type').notNullable(); // failedJob | failedExternalTask | failedHandler | engineError
    t.text('message').notNullable();
    t.text('stack');
    t.jsonb('trigger'); // the event to apply again on retry
    t.uuid('job_id');
    t.uuid('external_task_id');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('resolved_at', { useTz: true });
    t.index(['instance_id']);
  });

  await knex.schema.createTable('history', (t) => {
    t.bigIncrements('id');
    t.uuid('instance_id').notNullable().references('process_instances.id').onDelete('CASCADE');
    t.text('activity_id');
    t.text('activity_type');
    t.text('activity_name');
    t.text('execution_id');
    t.text('event').notNullable();
    t.timestamp('at', { useTz: true }).notNullable();
    t.jsonb('data');
    t.index(['instance_id', 'id']);
  });
}

export async function down(): Promise<void> {
  throw new Error('migrations are forward-only');
}
