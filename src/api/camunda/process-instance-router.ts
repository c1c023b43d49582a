import { Router } from 'express';
import { z } from 'zod';
import { notFound } from '../../errors.js';
import type { WorkflowEngine } from '../../engine/workflow-engine.js';
import * as camundaQueries from '../../store/camunda-queries.js';
import { allow } from '../auth.js';
import { audited, auditEntry } from '../audit.js';
import { c7Instance, PageQuery, Uuid } from './camunda-shapes.js';
import { sendJson } from './external-task-router.js';
import { toTyped } from './typed-variables.js';

const InstanceQuery = z.object({
  processDefinitionKey: z.string().min(1).max(255).optional(),
  processDefinitionId: z.string().min(1).max(300).optional(),
  businessKey: z.string().max(255).optional(),
  processInstanceIds: z
    .string()
    .max(37 * 100)
    .transform((ids) => ids.split(','))
    .pipe(z.array(Uuid))
    .optional(),
  superProcessInstance: Uuid.optional(),
  ...PageQuery,
});

/** `/engine-rest/process-instance`: running instances (list, count, one, its variables, delete). */
export function processInstanceRouter(engine: WorkflowEngine): Router {
  const router = Router();
  const knex = engine.knex;
  const readers = allow('owner', 'operator');
  const filterOf = (query: unknown) => {
    const { firstResult, maxResults, sortBy: _s, sortOrder: _o, ...filter } = InstanceQuery.parse(query);
    return { filter: { ...filter, activeOnly: true }, page: { firstResult, maxResults } };
  };

  router.get('/', readers, async (req, res) => {
    const { filter, page } = filterOf(req.query);
    sendJson(res, 200, (await camundaQueries.listInstances(knex, filter, page)).map(c7Instance));
  });
  router.get('/count', readers, async (req, res) => {
    sendJson(res, 200, { count: await camundaQueries.countInstances(knex, filterOf(req.query).filter) });
  });
  router.get('/:id', readers, async (req, res) => {
    const id = Uuid.parse(req.params.id);
    const row = await camundaQueries.findInstance(knex, id);
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
    await audited(knex, auditEntry(req, 'instance.cancel', id, { via: 'engine-rest' }), (audit) => engine.cancel(id, 'deleted via engine-rest', audit));
    res.status(204).end();
  });
  return router;
}
