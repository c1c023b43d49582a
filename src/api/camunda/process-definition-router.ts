import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { notFound } from '../../errors.js';
import type { WorkflowEngine } from '../../engine/workflow-engine.js';
import { allow } from '../auth.js';
import { respondIdempotently } from '../idempotency.js';
import { auditEntry } from '../audit.js';
import { BooleanParam, c7Definition, c7Instance, PageQuery } from './camunda-shapes.js';
import { sendJson } from './external-task-router.js';
import { fromTyped, toTyped, TypedVariablesSchema } from './typed-variables.js';

const Key = z.string().min(1).max(255).regex(/^[A-Za-z_][\w.-]*$/, 'must be a process definition key');
const DefinitionId = z.string().max(300).regex(/^[A-Za-z_][\w.-]*:\d+:[0-9a-f]{8}$/, 'must be a process definition id');
const DefinitionQuery = z.object({
  key: Key.optional(),
  keyLike: z.string().max(255).optional(),
  name: z.string().max(255).optional(),
  deploymentId: z.string().max(64).optional(),
  latestVersion: BooleanParam.optional(),
  ...PageQuery,
}).strict(); // an unknown filter is a 400, never silently ignored
const StartBody = z.object({
  variables: TypedVariablesSchema.optional(),
  businessKey: z.string().max(255).nullish(),
  caseInstanceId: z.null().optional(),
  withVariablesInReturn: z.boolean().default(false),
  skipCustomListeners: z.boolean().optional(),
  skipIoMappings: z.boolean().optional(),
});

/** `/engine-rest/process-definition`: list, count, by key or id, XML, start. */
export function processDefinitionRouter(engine: WorkflowEngine): Router {
  const router = Router();
  const readers = allow('owner', 'operator');

  router.get('/', readers, async (req, res) => {
    const { firstResult, maxResults, sortBy: _s, sortOrder: _o, ...filter } = DefinitionQuery.parse(req.query);
    sendJson(res, 200, (await engine.camundaQueries.listDefinitions(filter, { firstResult, maxResults })).map(c7Definition));
  });
  router.get('/count', readers, async (req, res) => {
    const { firstResult: _f, maxResults: _m, sortBy: _s, sortOrder: _o, ...filter } = DefinitionQuery.parse(req.query);
    sendJson(res, 200, { count: await engine.camundaQueries.countDefinitions(filter) });
  });

  const latest = async (req: Request) => {
    const key = Key.parse(req.params.key);
    const [row] = await engine.camundaQueries.listDefinitions({ key, latestVersion: true }, { firstResult: 0, maxResults: 1 });
    if (!row) throw notFound('process definition with key', key);
    return row;
  };
  const byId = async (req: Request) => {
    const id = DefinitionId.parse(req.params.id);
    const row = await engine.definitionQueries.findDefinition(id);
    if (!row) throw notFound('process definition', id);
    return row;
  };
  const xml = async (res: Response, id: string) => {
    const row = await engine.definitionQueries.findDefinition(id);
    sendJson(res, 200, { id, bpmn20Xml: row?.xml ?? null });
  };
  const start = async (req: Request, res: Response, definition: { id: string; key: string }) => {
    const body = StartBody.parse(req.body ?? {});
    const entry = auditEntry(req, 'instance.start', definition.key, { definitionId: definition.id, via: 'engine-rest' });
    await respondIdempotently(
      req,
      res,
      engine.auditLog,
      entry,
      (audit) => engine.start({ definitionId: definition.id, variables: fromTyped(body.variables), businessKey: body.businessKey ?? null, audit }),
      (row) => ({ status: 200, body: { ...c7Instance(row), ...(body.withVariablesInReturn ? { variables: toTyped(row.variables) } : {}) } }),
      ([first]) => engine.getInstance(first!.instance_id!),
    );
  };

  router.get('/key/:key', readers, async (req, res) => sendJson(res, 200, c7Definition(await latest(req))));
  router.get('/key/:key/xml', readers, async (req, res) => xml(res, (await latest(req)).id));
  router.post('/key/:key/start', allow('owner', 'operator'), async (req, res) => start(req, res, await latest(req)));
  router.get('/:id', readers, async (req, res) => sendJson(res, 200, c7Definition(await byId(req))));
  router.get('/:id/xml', readers, async (req, res) => xml(res, (await byId(req)).id));
  router.post('/:id/start', allow('owner', 'operator'), async (req, res) => start(req, res, await byId(req)));
  return router;
}
