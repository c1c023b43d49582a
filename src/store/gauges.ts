import type { Knex } from 'knex';
import { fetchableExternalTasks } from './external-tasks.js';

/** Counts the /metrics gauges read at scrape time (every node reports the same totals). */
export async function countActiveInstances(knex: Knex): Promise<Array<{ processKey: string; count: number }>> {
  const rows: Array<{ process_key: string; n: string | number }> = await knex('process_instances')
    .where({ status: 'active' })
    .groupBy('process_key')
    .select('process_key')
    .count({ n: '*' });
  return rows.map((row) => ({ processKey: row.process_key, count: Number(row.n) }));
}

export async function countOpenIncidents(knex: Knex): Promise<Array<{ processKey: string; count: number }>> {
  const rows: Array<{ process_key: string; n: string | number }> = await knex('incidents')
    .whereNull('resolved_at')
    .groupBy('process_key')
    .select('process_key')
    .count({ n: '*' });
  return rows.map((row) => ({ processKey: row.process_key, count: Number(row.n) }));
}

/** The due time of the oldest job that is due and still has retries, or null. */
export async function oldestDueJob(knex: Knex): Promise<Date | null> {
  const row = await knex('jobs').where('retries', '>', 0).where('due_at', '<=', knex.raw('now()')).min({ due: 'due_at' }).first();
  return row?.due ? new Date(row.due) : null;
}

/** Jobs due now that still have retries (the job executor's backlog). */
export async function countDueJobs(knex: Knex): Promise<number> {
  const row = await knex('jobs').where('retries', '>', 0).where('due_at', '<=', knex.raw('now()')).count({ n: '*' }).first();
  return Number(row?.n ?? 0);
}

/** External tasks a worker could fetch now, per topic (fetchAndLock's rule). */
export async function countAvailableExternalTasks(knex: Knex): Promise<Array<{ topic: string; count: number }>> {
  const rows: Array<{ topic: string; n: string | number }> = await fetchableExternalTasks(knex).groupBy('t.topic').select('t.topic').count({ n: '*' });
  return rows.map((row) => ({ topic: row.topic, count: Number(row.n) }));
}
