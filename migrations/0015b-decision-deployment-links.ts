import type { Knex } from 'knex';

/**
 * Decisions that a deployment holds without a new version of their own: a mixed deployment
 * that re-deploys an unchanged `.dmn` beside a changed `.bpmn` keeps the decision's version,
 * and links it here, so `binding="deployment"` finds it in the new deployment (as Camunda 7,
 * where every resource of a deployment belongs to it).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('decision_deployment_links', (t) => {
    t.text('deployment_id').notNullable();
    t.text('decision_definition_id').notNullable().references('id').inTable('decision_definitions').onDelete('CASCADE');
    t.text('key').notNullable();
    t.primary(['deployment_id', 'key']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('decision_deployment_links');
}
