import { Router, type Request } from 'express';
import { z } from 'zod';
import { AppError, notFound } from '../../errors.js';
import type { WorkflowEngine } from '../../engine/workflow-engine.js';
import type { TaskFilterRow } from '../../store/task-filters.js';
import { allow } from '../auth.js';
import { c7Task, PageQuery, Uuid } from './camunda-shapes.js';
import { sendJson } from './external-task-router.js';
import { TaskQueryBody, toFilter } from './task-router.js';

/** A filter's display properties (Tasklist: color, description, priority, refresh, variables); bounded. */
const Properties = z
  .record(z.string().min(1).max(100), z.unknown())
  .refine((properties) => JSON.stringify(properties).length <= 16_384, 'properties are larger than 16 KB')
  .refine((properties) => !['__proto__', 'constructor', 'prototype'].some((name) => Object.hasOwn(properties, name)), 'property names __proto__, constructor, prototype are not allowed');

/** What `create` and an update take: C7's FilterDto. The query is checked as a task query now, not when the filter is used. */
const FilterBody = z
  .object({
    id: z.string().nullish(),
    resourceType: z.literal('Task', { message: 'only resourceType Task is supported' }),
    name: z.string().trim().min(1).max(255),
    owner: z.string().max(255).nullish(),
    query: TaskQueryBody.default({}),
    properties: Properties.nullish(),
    itemCount: z.number().nullish(),
  })
  .strict();

const FilterQuery = z
  .object({
    filterId: Uuid.optional(),
    resourceType: z.literal('Task', { message: 'only resourceType Task is supported' }).optional(),
    name: z.string().max(255).optional(),
    nameLike: z.string().max(255).optional(),
    owner: z.string().max(255).optional(),
    itemCount: z.enum(['true', 'false']).optional(),
    ...PageQuery,
  })
  .strict();
const ItemCount = z.object({ itemCount: z.enum(['true', 'false']).optional() }).strict();
const Page = z.object({ firstResult: PageQuery.firstResult, maxResults: PageQuery.maxResults }).strict();

const describe = (row: TaskFilterRow) => ({ id: row.id, resourceType: row.resource_type, name: row.name, owner: row.owner, query: row.query, properties: row.properties });

/** Drops the nulls C7 clients send for unset fields, so the stored query holds what filters. */
const compact = (query: Record<string, unknown>) => Object.fromEntries(Object.entries(query).filter(([, value]) => value !== null && value !== undefined));

/**
 * `/engine-rest/filter`: Camunda 7's saved filters for resourceType Task, as Tasklist uses them:
 * create, list, count, get, update, delete, and the tasks a filter selects (`{id}/list`,
 * `{id}/count`, a POST body extending its query). A filter belongs to the token that saved it
 * (its actor) and only that token sees and changes it; an admin may save a filter without owner,
 * which every reader sees (and only an admin changes), or one for another owner.
 */
export function filterRouter(engine: WorkflowEngine): Router {
  const router = Router();
  const readers = allow('owner', 'operator');
  const isAdmin = (req: Request) => req.role === 'admin';
  const actor = (req: Request) => req.actor ?? 'unknown';

  /** The owner a save may set: one's own, or (an admin) any or none. */
  const ownerFor = (req: Request, requested: string | null | undefined): string | null => {
    if (isAdmin(req)) return requested === undefined ? actor(req) : requested;
    if (requested !== undefined && requested !== null && requested !== actor(req)) throw new AppError('FORBIDDEN', `a filter can only be saved for its own token (${actor(req)}), not for ${requested}`);
    if (requested === null) throw new AppError('FORBIDDEN', 'only an admin saves shared filters (owner null)');
    return actor(req);
  };
  /** A filter the caller may see: own, shared, or any for an admin; others are "not found". */
  const visible = async (req: Request) => {
    const id = Uuid.parse(req.params.id);
    const row = await engine.taskFilters.find(id);
    if (!row || !(isAdmin(req) || row.owner === null || row.owner === actor(req))) throw notFound('filter', id);
    return row;
  };
  const changeable = async (req: Request) => {
    const row = await visible(req);
    if (!isAdmin(req) && row.owner !== actor(req)) throw new AppError('FORBIDDEN', `filter ${row.id} is shared: only an admin changes it`);
    return row;
  };
  const searchOf = (req: Request) => {
    const q = FilterQuery.parse(req.query);
    return { q, search: { visibleTo: isAdmin(req) ? undefined : actor(req), id: q.filterId, name: q.name, nameLike: q.nameLike, owner: q.owner } };
  };
  /** The tasks a filter selects: its saved query, extended (field by field) by a POST body. */
  const tasksOf = (row: TaskFilterRow, extending: unknown) => {
    const extension = compact(TaskQueryBody.parse(extending ?? {}));
    return toFilter(TaskQueryBody.parse({ ...row.query, ...extension }));
  };
  const withCount = async (row: TaskFilterRow, itemCount: boolean) =>
    itemCount ? { ...describe(row), itemCount: await engine.camundaQueries.countTasks(tasksOf(row, {})) } : describe(row);

  router.get('/', readers, async (req, res) => {
    const { q, search } = searchOf(req);
    const rows = await engine.taskFilters.list(search, { firstResult: q.firstResult, maxResults: q.maxResults });
    sendJson(res, 200, await Promise.all(rows.map((row) => withCount(row, q.itemCount === 'true'))));
  });
  router.get('/count', readers, async (req, res) => {
    sendJson(res, 200, { count: await engine.taskFilters.count(searchOf(req).search) });
  });
  router.post('/create', readers, async (req, res) => {
    const body = FilterBody.parse(req.body ?? {});
    const row = await engine.taskFilters.create({ name: body.name, owner: ownerFor(req, body.owner), query: compact(body.query), properties: body.properties ?? {} });
    sendJson(res, 200, describe(row));
  });
  router.get('/:id', readers, async (req, res) => {
    const { itemCount } = ItemCount.parse(req.query);
    sendJson(res, 200, await withCount(await visible(req), itemCount === 'true'));
  });
  router.put('/:id', readers, async (req, res) => {
    const row = await changeable(req);
    const body = FilterBody.parse(req.body ?? {});
    // An update without owner keeps the one it has (C7 clients send the whole DTO back).
    const owner = body.owner === undefined ? row.owner : ownerFor(req, body.owner);
    await engine.taskFilters.update(row.id, { name: body.name, owner, query: compact(body.query), properties: body.properties ?? {} });
    res.status(204).end();
  });
  router.delete('/:id', readers, async (req, res) => {
    const row = await changeable(req);
    await engine.taskFilters.delete(row.id);
    res.status(204).end();
  });
  for (const method of ['get', 'post'] as const) {
    router[method]('/:id/list', readers, async (req, res) => {
      const row = await visible(req);
      const page = Page.parse(req.query);
      sendJson(res, 200, (await engine.camundaQueries.listTasks(tasksOf(row, method === 'post' ? req.body : {}), page)).map(c7Task));
    });
    router[method]('/:id/count', readers, async (req, res) => {
      const row = await visible(req);
      sendJson(res, 200, { count: await engine.camundaQueries.countTasks(tasksOf(row, method === 'post' ? req.body : {})) });
    });
  }
  return router;
}
