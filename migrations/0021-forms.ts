import type { Knex } from 'knex';

/**
 * Forms (form-js schemas, `.form` resources): every deployed version of a form, versioned per
 * form id as decisions are per decision key; the deployments that hold an unchanged form
 * without a version of their own; and the forms that user tasks and start events of each
 * process version link (`camunda:formRef` / `camunda:formKey`), read when a task's form is
 * shown or its submission checked.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('form_definitions', (t) => {
    t.text('id').primary(); // <form id>:<version>:<deployment prefix>, like process definitions
    t.text('key').notNullable(); // the schema's `id`
    t.integer('version').notNullable();
    t.text('version_tag');
    t.text('deployment_id').notNullable();
    t.text('resource_name').notNullable();
    t.text('checksum').notNullable();
    t.jsonb('schema').notNullable(); // the form-js schema as deployed
    t.jsonb('fields').notNullable(); // the checks a submission must pass, derived once at deploy
    t.timestamp('deployed_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['key', 'version']);
    t.index(['deployment_id']);
  });

  await knex.schema.createTable('form_deployment_links', (t) => {
    t.text('deployment_id').notNullable();
    t.text('form_definition_id').notNullable().references('id').inTable('form_definitions').onDelete('CASCADE');
    t.text('key').notNullable();
    t.text('resource_name').notNullable();
    t.primary(['deployment_id', 'key']);
  });

  await knex.schema.createTable('form_links', (t) => {
    t.text('process_definition_id').notNullable().references('id').inTable('process_definitions').onDelete('CASCADE');
    t.text('activity_id').notNullable();
    t.text('form_key').notNullable();
    t.text('binding').notNullable(); // latest | deployment | version
    t.integer('version');
    t.text('deployment_id').notNullable(); // the process version's deployment, for binding=deployment
    // A plain camunda:formKey: a form when one with that id is deployed, else an opaque key (Camunda 7).
    t.boolean('optional').notNullable().defaultTo(false);
    t.primary(['process_definition_id', 'activity_id']);
  });
}

export async function down(): Promise<void> {
  throw new Error('migrations are forward-only');
}
