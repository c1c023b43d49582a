import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { notFound } from '../../errors.js';
import type { WorkflowEngine } from '../../engine/workflow-engine.js';
import type { TaskFilter } from '../../store/camunda-queries.js';
import { allow } from '../auth.js';
import { respondIdempotently } from '../idempotency.js';
import { audited, auditEntry } from '../audit.js';
import { BooleanParam, c7Task, CommaList, PageQuery, Uuid, VariableConditionBody, VariablesParam } from './camunda-shapes.js';
import { sendJson } from './external-task-router.js';
import { fromTyped, toTyped, TypedVariablesSchema } from './typed-variables.js';

const Key = z.string().min(1).max(255);
const TaskSortBy = z.enum(['id', 'name', 'assignee', 'created', 'priority', 'dueDate', 'taskDefinitionKey', 'processInstanceId']);

/** The filters regenflow implements; strict: any other filter is a 400, never silently ignored. */
const TaskQuery = z
  .object({
    processDefinitionKey: Key.optional(),
    processDefinitionKeyIn: CommaList(Key).optional(),
    processDefinitionId: z.string().min(1).max(300).optional(),
    processInstanceId: Uuid.optional(),
    processInstanceIdIn: CommaList(Uuid).optional(),
    processInstanceBusinessKey: z.string().max(255).optional(),
    processInstanceBusinessKeyLike: z.string().max(255).optional(),
    taskId: Uuid.optional(),
    taskDefinitionKey: Key.optional(),
    taskDefinitionKeyIn: CommaList(Key).optional(),
    taskDefinitionKeyLike: z.string().max(255).optional(),
    name: z.string().max(255).optional(),
    nameLike: z.string().max(255).optional(),
    assignee: Key.optional(),
    assigneeLike: z.string().max(255).optional(),
    assigneeIn: CommaList(Key).optional(),
    candidateGroup: Key.optional(),
    candidateGroups: CommaList(Key).optional(),
    candidateUser: Key.optional(),
    withCandidateGroups: BooleanParam.optional(),
    withoutCandidateGroups: BooleanParam.optional(),
    unassigned: BooleanParam.optional(),
    assigned: BooleanParam.optional(),
    active: BooleanParam.optional(),
    suspended: BooleanParam.optional(),
    processVariables: VariablesParam.optional(),
    ...PageQuery,
    sortBy: TaskSortBy.optional(),
  })
  .strict();

export const TaskQueryBody = z
  .object({
    processDefinitionKey: Key.nullish(),
    processDefinitionKeyIn: z.array(Key).max(100).nullish(),
    processDefinitionId: z.string().min(1).max(300).nullish(),
    processInstanceId: Uuid.nullish(),
    processInstanceIdIn: z.array(Uuid).max(1000).nullish(),
    processInstanceBusinessKey: z.string().max(255).nullish(),
    processInstanceBusinessKeyLike: z.string().max(255).nullish(),
    taskId: Uuid.nullish(),
    taskDefinitionKey: Key.nullish(),
    taskDefinitionKeyIn: z.array(Key).max(100).nullish(),
    taskDefinitionKeyLike: z.string().max(255).nullish(),
    name: z.string().max(255).nullish(),
    nameLike: z.string().max(255).nullish(),
    assignee: Key.nullish(),
    assigneeLike: z.string().max(255).nullish(),
    assigneeIn: z.array(Key).max(100).nullish(),
    candidateGroup: Key.nullish(),
    candidateGroups: z.array(Key).max(100).nullish(),
    candidateUser: Key.nullish(),
    withCandidateGroups: z.boolean().nullish(),
    withoutCandidateGroups: z.boolean().nullish(),
    unassigned: z.boolean().nullish(),
    assigned: z.boolean().nullish(),
    active: z.boolean().nullish(),
    suspended: z.boolean().nullish(),
    processVariables: z.array(VariableConditionBody).max(100).nullish(),
    sorting: z.array(z.object({ sortBy: TaskSortBy, sortOrder: z.enum(['asc', 'desc']) }).strict()).max(1).nullish(),
  })
  .strict();
const BodyPage = z.object({ firstResult: PageQuery.firstResult, maxResults: PageQuery.maxResults }).strict();

export function toFilter(q: Record<string, any>): TaskFilter {
  const { active, suspended, sorting, firstResult: _f, maxResults: _m, ...rest } = q;
  const filter: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(rest)) if (value !== null && value !== undefined) filter[key] = value;
  if (active === false || suspended === true) filter.suspended = true;
  if (sorting?.[0]) Object.assign(filter, sorting[0]);
  return filter as TaskFilter;
}
export const CompleteBody = z.object({ variables: TypedVariablesSchema.nullish(), withVariablesInReturn: z.boolean().default(false) });

/**
 * C7's task completion (`complete` and `submit-form`): audited, idempotent, answering 204 or the
 * variables. `detail` adds to the audit entry (how it came in).
 */
export async function completeTaskC7(engine: WorkflowEngine, req: Request, res: Response, id: string, body: z.infer<typeof CompleteBody>, detail: Record<string, unknown> = {}): Promise<void> {
  const variables = fromTyped(body.variables ?? undefined);
  const entry = auditEntry(req, 'task.complete', id, { names: Object.keys(variables), via: 'engine-rest', ...detail });
  await respondIdempotently(
    req,
    res,
    engine.auditLog,
    entry,
    (audit) => engine.completeUserTask(id, variables, audit),
    (row) => (body.withVariablesInReturn ? { status: 200, body: toTyped(row.variables) } : { status: 204 }),
    ([first]) => engine.getInstance(first!.instance_id!),
  );
}

/** `/engine-rest/task`: open user tasks (list, count, one), claim, unclaim, complete. */
export function taskRouter(engine: WorkflowEngine): Router {
  const router = Router();
  const workers = allow('owner', 'operator');
  const fromQuery = (query: unknown) => {
    const parsed = TaskQuery.parse(query);
    return { filter: toFilter(parsed), page: { firstResult: parsed.firstResult, maxResults: parsed.maxResults } };
  };
  const fromBody = (body: unknown, query: unknown) => ({ filter: toFilter(TaskQueryBody.parse(body ?? {})), page: BodyPage.parse(query) });

  router.get('/', workers, async (req, res) => {
    const { filter, page } = fromQuery(req.query);
    sendJson(res, 200, (await engine.camundaQueries.listTasks(filter, page)).map(c7Task));
  });
  router.get('/count', workers, async (req, res) => {
    sendJson(res, 200, { count: await engine.camundaQueries.countTasks(fromQuery(req.query).filter) });
  });
  router.post('/', workers, async (req, res) => {
    const { filter, page } = fromBody(req.body, req.query);
    sendJson(res, 200, (await engine.camundaQueries.listTasks(filter, page)).map(c7Task));
  });
  router.post('/count', workers, async (req, res) => {
    sendJson(res, 200, { count: await engine.camundaQueries.countTasks(fromBody(req.body, req.query).filter) });
  });
  router.get('/:id', workers, async (req, res) => {
    const id = Uuid.parse(req.params.id);
    const task = await engine.queries.findUserTask(id);
    if (!task) throw notFound('task', id);
    sendJson(res, 200, c7Task(task));
  });
  router.post('/:id/claim', workers, async (req, res) => {
    const id = Uuid.parse(req.params.id);
    const { userId } = z.object({ userId: z.string().min(1).max(255) }).parse(req.body ?? {});
    await audited(engine.auditLog, auditEntry(req, 'task.claim', id, { userId, via: 'engine-rest' }), (audit) => engine.claimUserTask(id, userId, audit));
    res.status(204).end();
  });
  router.post('/:id/unclaim', workers, async (req, res) => {
    const id = Uuid.parse(req.params.id);
    await audited(engine.auditLog, auditEntry(req, 'task.unclaim', id, { via: 'engine-rest' }), (audit) => engine.claimUserTask(id, null, audit));
    res.status(204).end();
  });
  router.post('/:id/complete', workers, async (req, res) => {
    await completeTaskC7(engine, req, res, Uuid.parse(req.params.id), CompleteBody.parse(req.body ?? {}));
  });
  return router;
}
