import type { Knex } from 'knex';
import { WAIT_TABLES } from './camunda-queries.js';

/** Read models for the operations UI: per-activity figures of one process version, topics in use. */

export interface ActivityStats {
  activityId: string;
  name: string | null;
  started: number;
  completed: number;
  /** Mean and max time from start to end of the completed runs, in milliseconds. */
  avgMs: number | null;
  maxMs: number | null;
  openIncidents: number;
  /** Active instances with a token waiting at the activity now (what a migration would move). */
  waiting: number;
}


/** Counts and durations per activity over every instance of one definition (a heatmap), and where its active instances wait now (a migration's source). */
export async function activityStats(knex: Knex, definitionId: string): Promise<ActivityStats[]> {
  const runs = await knex
    .with('h', (q) =>
      q
        .select('h.instance_id', 'h.activity_id', 'h.activity_name', 'h.execution_id', 'h.event', 'h.at', 'h.id')
        .from('history as h')
        .join('process_instances as i', 'i.id', 'h.instance_id')
        .where('i.definition_id', definitionId)
        .whereNotNull('h.activity_id'),
    )
    .select('s.activity_id')
    .max('s.activity_name as name')
    .count('* as started')
    .count('e.id as completed')
    .select(knex.raw('avg(extract(epoch from (e.at - s.at)) * 1000) as avg_ms'))
    .select(knex.raw('max(extract(epoch from (e.at - s.at)) * 1000) as max_ms'))
    .from('h as s')
    .leftJoin('h as e', function () {
      this.on('e.instance_id', 's.instance_id').andOn('e.execution_id', 's.execution_id').andOn('e.activity_id', 's.activity_id').andOnVal('e.event', 'end');
    })
    .where('s.event', 'start')
    .groupBy('s.activity_id');
  const incidents = await knex('incidents as n')
    .join('process_instances as i', 'i.id', 'n.instance_id')
    .where('i.definition_id', definitionId)
    .whereNull('n.resolved_at')
    .whereNotNull('n.activity_id')
    .select('n.activity_id')
    .count('* as open')
    .groupBy('n.activity_id');
  const activeInstances = knex('process_instances').select('id').where({ definition_id: definitionId, status: 'active' });
  const [firstWaits, ...otherWaits] = WAIT_TABLES.map((table) => knex(table).select('instance_id', 'activity_id').whereIn('instance_id', activeInstances));
  const waits = await knex
    .from(firstWaits!.unionAll(otherWaits).as('w'))
    .select('w.activity_id')
    .countDistinct('w.instance_id as waiting')
    .groupBy('w.activity_id');
  const openByActivity = new Map(incidents.map((row: any) => [row.activity_id as string, Number(row.open)]));
  const waitingByActivity = new Map(waits.map((row: any) => [row.activity_id as string, Number(row.waiting)]));
  const stats: ActivityStats[] = runs.map((row: any) => ({
    activityId: row.activity_id,
    name: row.name ?? null,
    started: Number(row.started),
    completed: Number(row.completed),
    avgMs: row.avg_ms === null ? null : Math.round(Number(row.avg_ms)),
    maxMs: row.max_ms === null ? null : Math.round(Number(row.max_ms)),
    openIncidents: openByActivity.get(row.activity_id) ?? 0,
    waiting: waitingByActivity.get(row.activity_id) ?? 0,
  }));
  // A migrated instance waits at activities it never started on this version.
  for (const activityId of new Set([...openByActivity.keys(), ...waitingByActivity.keys()])) {
    if (!stats.some((entry) => entry.activityId === activityId)) {
      stats.push({ activityId, name: null, started: 0, completed: 0, avgMs: null, maxMs: null, openIncidents: openByActivity.get(activityId) ?? 0, waiting: waitingByActivity.get(activityId) ?? 0 });
    }
  }
  return stats.sort((a, b) => a.activityId.localeCompare(b.activityId));
}

/** Topics external tasks wait on now, and topics deployed definitions name. */
export async function topicsInUse(knex: Knex): Promise<{ openTasks: string[]; definitions: string[] }> {
  const [open, declared] = await Promise.all([
    knex('external_tasks').distinct('topic').orderBy('topic'),
    knex
      .select(knex.raw(`distinct jsonb_array_elements_text(coalesce(info->'externalTopics', '[]'::jsonb)) as topic`))
      .from('process_definitions'),
  ]);
  return {
    openTasks: open.map((row: { topic: string }) => row.topic),
    definitions: declared.map((row: { topic: string }) => row.topic).sort(),
  };
}
