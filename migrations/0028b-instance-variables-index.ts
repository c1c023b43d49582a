import type { Knex } from 'knex';

/**
 * Search by variable (`variables=amount_eq_100` on the native and Camunda 7 instance and
 * history lists, the instance list's variable filter): a GIN index over the instance
 * variables answers equality, written as containment (`variables @> '{"amount": 100}'`),
 * without reading every instance. jsonb_path_ops: smaller and faster for `@>`, the only
 * operator these queries need of it.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('create index process_instances_variables on process_instances using gin (variables jsonb_path_ops)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop index if exists process_instances_variables');
}
