import type { Knex } from 'knex';

/** Instances with (`open`) or without (`none`) an open incident. */
export function whereIncidents(query: Knex.QueryBuilder, incidents: 'open' | 'none' | undefined): void {
  if (!incidents) return;
  const open = (sub: Knex.QueryBuilder) => sub.select(1).from('incidents').whereRaw('incidents.instance_id = process_instances.id').whereNull('resolved_at');
  if (incidents === 'open') query.whereExists(open);
  else query.whereNotExists(open);
}

export interface InstanceListExtras {
  openIncidents: number;
  endActivityId: string | null;
  endActivityName: string | null;
}

/**
 * What an instance list shows beyond the instance rows, for one page of them: open incidents
 * per instance, the end event each ended instance reached (its last end event in history), and
 * the name of each version.
 */
export async function instanceListExtras(
  knex: Knex,
  rows: Array<{ id: string; definition_id: string; status: string }>,
): Promise<{ byInstance: Map<string, InstanceListExtras>; definitions: Map<string, { name: string | null; info: unknown }> }> {
  const ids = rows.map((row) => row.id);
  const ended = rows.filter((row) => row.status !== 'active').map((row) => row.id);
  const definitionIds = [...new Set(rows.map((row) => row.definition_id))];
  const [incidents, ends, definitions] = await Promise.all([
    ids.length ? knex('incidents').whereIn('instance_id', ids).whereNull('resolved_at').groupBy('instance_id').select('instance_id').count<Array<{ instance_id: string; count: string }>>({ count: '*' }) : [],
    ended.length
      ? knex('history')
          .distinctOn('instance_id')
          .whereIn('instance_id', ended)
          .where({ event: 'end', activity_type: 'bpmn:EndEvent' })
          .orderBy([{ column: 'instance_id' }, { column: 'id', order: 'desc' }])
          .select('instance_id', 'activity_id', 'activity_name')
      : [],
    definitionIds.length ? knex('process_definitions').whereIn('id', definitionIds).select('id', 'name', 'info') : [],
  ]);
  const byInstance = new Map<string, InstanceListExtras>();
  for (const id of ids) byInstance.set(id, { openIncidents: 0, endActivityId: null, endActivityName: null });
  for (const row of incidents) byInstance.get(row.instance_id)!.openIncidents = Number(row.count);
  for (const row of ends as Array<{ instance_id: string; activity_id: string; activity_name: string | null }>) {
    Object.assign(byInstance.get(row.instance_id)!, { endActivityId: row.activity_id, endActivityName: row.activity_name });
  }
  return {
    byInstance,
    definitions: new Map((definitions as Array<{ id: string; name: string | null; info: unknown }>).map((row) => [row.id, { name: row.name, info: typeof row.info === 'string' ? JSON.parse(row.info) : row.info }])),
  };
}
