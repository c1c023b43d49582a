import type { Knex } from 'knex';

/** Reads for "regenflow heals itself": what is broken or stuck in one process key. */

export async function openIncidentIds(knex: Knex, processKey: string): Promise<string[]> {
  return knex('incidents').where({ process_key: processKey }).whereNull('resolved_at').orderBy('created_at').pluck('id');
}

/** Open incidents of the instances that run one version of a key. */
export async function openIncidentCount(knex: Knex, processKey: string, version: number): Promise<number> {
  const [row] = await knex('incidents as i')
    .join('process_instances as p', 'p.id', 'i.instance_id')
    .join('process_definitions as d', 'd.id', 'p.definition_id')
    .where({ 'i.process_key': processKey, 'd.version': version })
    .whereNull('i.resolved_at')
    .count<{ count: string | number }[]>('* as count');
  return Number(row?.count ?? 0);
}

/**
 * Top-level active instances of a key that have not moved since `before` and wait for
 * nothing that will move them: no person (an open user task), no timer still to come, no
 * message or signal. What is left waits on work nobody does (external tasks no worker takes)
 * or on an incident. An approval that takes a week is waiting, not stuck.
 */
export async function stuckInstances(
  knex: Knex,
  processKey: string,
  before: Date,
  limit = 100,
): Promise<Array<{ id: string; variables: Record<string, unknown>; business_key: string | null }>> {
  const waitsOn = (table: string, extra?: (query: Knex.QueryBuilder) => void) =>
    function (this: Knex.QueryBuilder) {
      this.select(knex.raw('1')).from(table).whereRaw(`${table}.instance_id = process_instances.id`);
      extra?.(this);
    };
  return knex('process_instances')
    .where({ process_key: processKey, status: 'active' })
    .whereNull('parent_instance_id')
    .andWhere('updated_at', '<', before)
    .whereNotExists(waitsOn('user_tasks'))
    .whereNotExists(waitsOn('subscriptions'))
    .whereNotExists(waitsOn('jobs', (query) => query.where('due_at', '>', knex.raw('now()'))))
    .orderBy('updated_at')
    .limit(limit)
    .select('id', 'variables', 'business_key');
}
