import type { Knex } from 'knex';

/**
 * DMN decisions: every deployed version of a decision (versioned per decision key, as
 * process definitions are; the whole DMN resource is kept with each, since required
 * decisions are evaluated from the same file), and every evaluation (standalone or from a
 * business rule task, whose rows commit with the instance's transition).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('decision_definitions', (t) => {
    t.text('id').primary(); // <key>:<version>:<deployment prefix>, like process definitions
    t.text('key').notNullable();
    t.integer('version').notNullable();
    t.text('name');
    t.text('version_tag');
    t.text('deployment_id').notNullable();
    t.text('resource_name').notNullable();
    t.text('drg_key').notNullable(); // the DMN `definitions` id (C7's decision requirements key)
    t.text('checksum').notNullable();
    t.text('xml').notNullable();
    t.jsonb('model').notNullable(); // the parsed DRG (DecisionRequirements), never re-parsed
    t.timestamp('deployed_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['key', 'version']);
    t.index(['deployment_id']);
  });

  await knex.schema.createTable('decision_evaluations', (t) => {
    t.uuid('id').primary();
    // The evaluation this one was required by (a DRG): C7's rootDecisionInstanceId; null for the root.
    t.uuid('root_id');
    t.text('decision_definition_id').notNullable();
    t.text('decision_key').notNullable();
    t.integer('decision_version').notNullable();
    t.uuid('instance_id').references('process_instances.id').onDelete('CASCADE');
    t.text('process_definition_id');
    t.text('process_key');
    t.text('activity_id');
    t.text('execution_id');
    t.jsonb('inputs').notNullable();
    t.jsonb('matched_rules').notNullable();
    t.jsonb('outputs').notNullable(); // the result entries
    t.jsonb('record').notNullable(); // hit policy, aggregation, collect value: the rest of EvaluatedDecision
    t.timestamp('evaluated_at', { useTz: true, precision: 3 }).notNullable();
    t.index(['instance_id']);
    t.index(['decision_key', 'evaluated_at']);
  });
}

export async function down(): Promise<void> {
  throw new Error('migrations are forward-only');
}
