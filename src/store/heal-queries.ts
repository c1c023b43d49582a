import type { Knex } from 'knex';

/** Reads for "regenflow heals itself": what is broken or stuck in one process key. */

export async function openIncidentIds(knex: Knex, processKey: string): Promise<string[]> {
  return knex('incidents').where({ process_key: processKey }).whereNull('resolved_at').orderBy('created_at').pluck('id');
}

/** Top-level active instances of a key that have not moved since `before`. */
export async function stuckInstances(
  knex: Knex,
  processKey: string,
  before: Date,
  limit = 100,
): Promise<Array<{ id: string; variables: Record<string, unknown>; business_key: string | null }>> {
  return knex('process_instances')
    .where({ process_key: processKey, status: 'active' })
    .whereNull('parent_instance_id')
    .andWhere('updated_at', '<', before)
    .orderBy('updated_at')
    .limit(limit)
    .select('id', 'variables', 'business_key');
}
