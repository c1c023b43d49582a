import { Router } from 'express';
import { z } from 'zod';
import { notFound } from '../../errors.js';
import type { WorkflowEngine } from '../../engine/workflow-engine.js';
import * as camundaQueries from '../../store/camunda-queries.js';
import * as queries from '../../store/queries.js';
import { allow } from '../auth.js';
import { audited, auditEntry } from '../audit.js';
import { BooleanParam, c7Task, PageQuery, Uuid } from './camunda-shapes.js';
import { sendJson } from './external-task-router.js';
import { fromTyped, toTyped, TypedVariablesSchema } from './typed-variables.js';

const TaskQuery = z.object({
  processDefinitionKey: z.string().min(1).max(255).optional(),
  processInstanceId: Uuid.optional(),
  taskDefinitionKey: z.string().min(1).max(255).optional(),
  assignee: z.string().min(1).max(255).optional(),
  candidateGroup: z.string().min(1).max(255).optional(),
  unassigned: BooleanParam.optional(),
  ...PageQuery,
});
const CompleteBody = z.object({ variables: TypedVariablesSchema.nullish(), withVariablesInReturn: z.boolean().default(false) });

/** `/engine-rest/task`: open user tasks (list, count, one), claim, unclaim, complete. */
export function taskRouter(engine: WorkflowEngine): Router {
  const router = Router();
  const knex = engine.knex;
  const workers = allow('owner', 'operator');
  const filterOf = (query: unknown) => {
    const { firstResult, maxResults, sortBy: _s, sortOrder: _o, ...filter } = TaskQuery.parse(query);
    return { filter, page: { firstResult, maxResults } };
  };

  router.get('/', workers, async (req, res) => {
    const { filter, page } = filterOf(req.query);
    sendJson(res, 200, (await camundaQueries.listTasks(knex, filter, page)).map(c7Task));
  });
  router.get('/count', workers, async (req, res) => {
    sendJson(res, 200, { count: await camundaQueries.countTasks(knex, filterOf(req.query).filter) });
  });
  router.get('/:id', workers, async (req, res) => {
    const id = Uuid.parse(req.params.id);
    const task = await queries.findUserTask(knex, id);
    if (!task) throw notFound('task', id);
    sendJson(res, 200, c7Task(task));
  });
  router.post('/:id/claim', workers, async (req, res) => {
    const id = Uuid.parse(req.params.id);
    const { userId } = z.object({ userId: z.string().min(1).max(255) }).parse(req.body ?? {});
    await audited(knex, auditEntry(req, 'task.claim', id, { userId, via: 'engine-rest' }), (audit) => engine.claimUserTask(id, userId, audit));
    res.status(204).end();
  });
  router.post('/:id/unclaim', workers, async (req, res) => {
    const id = Uuid.parse(req.params.id);
    await audited(knex, auditEntry(req, 'task.unclaim', id, { via: 'engine-rest' }), (audit) => engine.claimUserTask(id, null, audit));
    res.status(204).end();
  });
  router.post('/:id/complete', workers, async (req, res) => {
    const id = Uuid.parse(req.params.id);
    const body = CompleteBody.parse(req.body ?? {});
    const variables = fromTyped(body.variables ?? undefined);
    const entry = auditEntry(req, 'task.complete', id, { names: Object.keys(variables), via: 'engine-rest' });
    const row = await audited(knex, entry, (audit) => engine.completeUserTask(id, variables, audit));
    if (body.withVariablesInReturn) return sendJson(res, 200, toTyped(row.variables));
    res.status(204).end();
  });
  return router;
}
