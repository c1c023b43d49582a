import { Router } from 'express';
import { z } from 'zod';
import { notFound } from '../../errors.js';
import type { WorkflowEngine } from '../../engine/workflow-engine.js';
import type { InstanceFilter } from '../../store/camunda-queries.js';
import { allow } from '../auth.js';
import { auditEntry } from '../audit.js';
import { respondIdempotently } from '../idempotency.js';
import { BooleanParam, c7Instance, CommaList, PageQuery, Uuid, VariableConditionBody, VariablesParam } from './camunda-shapes.js';
import { sendJson } from './external-task-router.js';
import { toTyped } from './typed-variables.js';

const Key = z.string().min(1).max(255);
const SortBy = z.enum(['instanceId', 'definitionKey', 'definitionId', 'businessKey']);

/**
 * The filters regenflow implements. Strict: a filter it does not know is a 400, never
 * silently ignored (a client that filters, then cancels, would act on every instance).
 */
const InstanceQuery = z
  .object({
    processDefinitionKey: Key.optional(),
    processDefinitionKeyIn: CommaList(Key).optional(),
    processDefinitionKeyNotIn: CommaList(Key).optional(),
    processDefinitionId: z.string().min(1).max(300).optional(),
    businessKey: z.string().max(255).optional(),
    businessKeyLike: z.string().max(255).optional(),
    processInstanceIds: CommaList(Uuid).optional(),
    superProcessInstance: Uuid.optional(),
    activityIdIn: CommaList(Key).optional(),
    withIncident: BooleanParam.optional(),
    incidentType: z.string().min(1).max(255).optional(),
    active: BooleanParam.optional(),
    suspended: BooleanParam.optional(),
    variables: VariablesParam.optional(),
    ...PageQuery,
    sortBy: SortBy.optional(),
  })
  .strict();

/** The same filters as a POST body (`POST /process-instance`, `/process-instance/count`), lists as arrays. */
const InstanceQueryBody = z
  .object({
    processDefinitionKey: Key.nullish(),
    processDefinitionKeyIn: z.array(Key).max(100).nullish(),
    processDefinitionKeyNotIn: z.array(Key).max(100).nullish(),
    processDefinitionId: z.string().min(1).max(300).nullish(),
    businessKey: z.string().max(255).nullish(),
    businessKeyLike: z.string().max(255).nullish(),
    processInstanceIds: z.array(Uuid).max(1000).nullish(),
    superProcessInstance: Uuid.nullish(),
    activityIdIn: z.array(Key).max(100).nullish(),
    withIncident: z.boolean().nullish(),
    incidentType: z.string().min(1).max(255).nullish(),
    active: z.boolean().nullish(),
    suspended: z.boolean().nullish(),
    variables: z.array(VariableConditionBody).max(100).nullish(),
    sorting: z.array(z.object({ sortBy: SortBy, sortOrder: z.enum(['asc', 'desc']) }).strict()).max(1).nullish(),
  })
  .strict();

type Parsed = Partial<Record<string, unknown>>;

function toFilter(q: Parsed): InstanceFilter {
  const { active, suspended, sorting, firstResult: _f, maxResults: _m, ...rest } = q as Record<string, any>;
  const filter: Record<string, unknown> = { activeOnly: true };
  for (const [key, value] of Object.entries(rest)) if (value !== null && value !== undefined) filter[key] = value;
  // Nothing is ever suspended here: active=false or suspended=true match no instance.
  if (active === false || suspended === true) filter.suspended = true;
  if (sorting?.[0]) Object.assign(filter, sorting[0]);
  return filter as InstanceFilter;
}

const BodyPage = z.object({ firstResult: PageQuery.firstResult, maxResults: PageQuery.maxResults }).strict();

/** `/engine-rest/process-instance`: running instances (list, count, one, its variables, delete). */
export function processInstanceRouter(engine: WorkflowEngine): Router {
  const router = Router();
  const readers = allow('owner', 'operator');
  const fromQuery = (query: unknown) => {
    const parsed = InstanceQuery.parse(query);
    return { filter: toFilter(parsed), page: { firstResult: parsed.firstResult, maxResults: parsed.maxResults } };
  };
  const fromBody = (body: unknown, query: unknown) => ({
    filter: toFilter(InstanceQueryBody.parse(body ?? {})),
    page: BodyPage.parse(query),
  });

  router.get('/', readers, async (req, res) => {
    const { filter, page } = fromQuery(req.query);
    sendJson(res, 200, (await engine.camundaQueries.listInstances(filter, page)).map(c7Instance));
  });
  router.get('/count', readers, async (req, res) => {
    sendJson(res, 200, { count: await engine.camundaQueries.countInstances(fromQuery(req.query).filter) });
  });
  router.post('/', readers, async (req, res) => {
    const { filter, page } = fromBody(req.body, req.query);
    sendJson(res, 200, (await engine.camundaQueries.listInstances(filter, page)).map(c7Instance));
  });
  router.post('/count', readers, async (req, res) => {
    sendJson(res, 200, { count: await engine.camundaQueries.countInstances(fromBody(req.body, req.query).filter) });
  });
  router.get('/:id', readers, async (req, res) => {
    const id = Uuid.parse(req.params.id);
    const row = await engine.camundaQueries.findInstance(id);
    // C7 answers 404 for an instance that has ended: it is history then.
    if (!row || row.status !== 'active') throw notFound('process instance', id);
    sendJson(res, 200, c7Instance(row));
  });
  router.get('/:id/variables', readers, async (req, res) => {
    const row = await engine.getInstance(Uuid.parse(req.params.id));
    sendJson(res, 200, toTyped(row.variables));
  });
  router.delete('/:id', allow('owner'), async (req, res) => {
    const id = Uuid.parse(req.params.id);
    await respondIdempotently(
      req,
      res,
      engine.auditLog,
      auditEntry(req, 'instance.cancel', id, { via: 'engine-rest' }),
      (audit) => engine.cancel(id, 'deleted via engine-rest', audit),
      () => ({ status: 204 }),
      async () => undefined,
    );
  });
  return router;
}
