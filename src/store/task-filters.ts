import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';

export interface TaskFilterRow {
  id: string;
  resource_type: string;
  name: string;
  owner: string | null;
  query: Record<string, unknown>;
  properties: Record<string, unknown>;
  created_at: Date;
  updated_at: Date;
}

export interface TaskFilterInput {
  name: string;
  owner: string | null;
  query: Record<string, unknown>;
  properties: Record<string, unknown>;
}

export interface TaskFilterSearch {
  /** Who asks: their own filters and the shared ones; `undefined` (an admin) sees all. */
  visibleTo?: string;
  id?: string;
  name?: string;
  nameLike?: string;
  owner?: string;
}

const parsed = (row: TaskFilterRow | undefined): TaskFilterRow | undefined => {
  if (!row) return row;
  for (const key of ['query', 'properties'] as const) if (typeof row[key] === 'string') row[key] = JSON.parse(row[key] as unknown as string);
  return row;
};

function search(knex: Knex, filter: TaskFilterSearch): Knex.QueryBuilder {
  const query = knex('task_filters').where('resource_type', 'Task');
  if (filter.visibleTo !== undefined) query.where((visible) => visible.where('owner', filter.visibleTo!).orWhereNull('owner'));
  if (filter.id) query.where('id', filter.id);
  if (filter.name !== undefined) query.where('name', filter.name);
  if (filter.nameLike !== undefined) query.whereLike('name', filter.nameLike);
  if (filter.owner !== undefined) query.where('owner', filter.owner);
  return query;
}

export async function listTaskFilters(knex: Knex, filter: TaskFilterSearch, page: { firstResult: number; maxResults: number }): Promise<TaskFilterRow[]> {
  // Tasklist orders filters by their `priority` property, then by name.
  const rows: TaskFilterRow[] = await search(knex, filter)
    .orderByRaw("coalesce((properties ->> 'priority')::numeric, 0), name, id")
    .offset(page.firstResult)
    .limit(page.maxResults);
  return rows.map((row) => parsed(row)!);
}

export async function countTaskFilters(knex: Knex, filter: TaskFilterSearch): Promise<number> {
  const [row] = await search(knex, filter).count<Array<{ count: string }>>({ count: '*' });
  return Number(row?.count ?? 0);
}

export async function findTaskFilter(knex: Knex, id: string): Promise<TaskFilterRow | undefined> {
  return parsed(await knex('task_filters').where({ id }).first());
}

export async function insertTaskFilter(knex: Knex, input: TaskFilterInput): Promise<TaskFilterRow> {
  const [row] = await knex('task_filters')
    .insert({ id: randomUUID(), resource_type: 'Task', name: input.name, owner: input.owner, query: JSON.stringify(input.query), properties: JSON.stringify(input.properties) })
    .returning('*');
  return parsed(row)!;
}

export async function updateTaskFilter(knex: Knex, id: string, input: TaskFilterInput): Promise<boolean> {
  const count = await knex('task_filters')
    .where({ id })
    .update({ name: input.name, owner: input.owner, query: JSON.stringify(input.query), properties: JSON.stringify(input.properties), updated_at: knex.fn.now() });
  return count > 0;
}

export async function deleteTaskFilter(knex: Knex, id: string): Promise<boolean> {
  return (await knex('task_filters').where({ id }).del()) > 0;
}
