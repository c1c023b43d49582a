import { Router } from 'express';
import { z } from 'zod';
import { notFound } from '../../errors.js';
import type { WorkflowEngine } from '../../engine/workflow-engine.js';
import type { InstanceFilter } from '../../store/camunda-queries.js';
import { allow } from '../auth.js';
import { BooleanParam, c7HistoricInstance, PageQuery, Uuid, VariableConditionBody, VariablesParam } from './camunda-shapes.js';
import { sendJson } from './external-task-router.js';

const HistoryQuery = z.object({
  processDefinitionKey: z.string().min(1).max(255).optional(),
  processDefinitionId: z.string().min(1).max(300).optional(),
  businessKey: z.string().max(255).optional(),
  processInstanceId: Uuid.optional(),
  superProcessInstanceId: Uuid.optional(),
  finished: BooleanParam.optional(),
  unfinished: BooleanParam.optional(),
  variables: VariablesParam.optional(),
  ...PageQuery,
}).strict(); // an unknown filter is a 400, never silently ignored

const Key = z.string().min(1).max(255);
/** The same filters as a POST body (`POST /history/process-instance[/count]`), as C7's HistoricProcessInstanceQueryDto. */
const HistoryQueryBody = z
  .object({
    processDefinitionKey: Key.nullish(),
    processDefinitionKeyIn: z.array(Key).max(100).nullish(),
    processDefinitionId: z.string().min(1).max(300).nullish(),
    businessKey: z.string().max(255).nullish(),
    processInstanceId: Uuid.nullish(),
    processInstanceIds: z.array(Uuid).max(1000).nullish(),
    superProcessInstanceId: Uuid.nullish(),
    finished: z.boolean().nullish(),
    unfinished: z.boolean().nullish(),
    variables: z.array(VariableConditionBody).max(100).nullish(),
  })
  .strict();
const BodyPage = z.object({ firstResult: PageQuery.firstResult, maxResults: PageQuery.maxResults }).strict();

/** `/engine-rest/history/process-instance`: every instance, running or ended (list, count, one), filtered by variables too (GET `variables=name_op_value,…`, POST `variables: [{name, operator, value}]`). */
export function historyRouter(engine: WorkflowEngine): Router {
  const router = Router();
  const readers = allow('owner', 'operator');
  const toFilter = (q: z.infer<typeof HistoryQueryBody>): InstanceFilter => {
    const finished = q.finished === true ? true : q.unfinished === true ? false : undefined;
    // Both given: the one id, if the list holds it (C7 ANDs every filter).
    const ids = q.processInstanceIds && q.processInstanceId ? q.processInstanceIds.filter((id) => id === q.processInstanceId) : (q.processInstanceIds ?? (q.processInstanceId ? [q.processInstanceId] : undefined));
    return {
      processDefinitionKey: q.processDefinitionKey ?? undefined,
      processDefinitionKeyIn: q.processDefinitionKeyIn ?? undefined,
      processDefinitionId: q.processDefinitionId ?? undefined,
      businessKey: q.businessKey ?? undefined,
      // finished=true with unfinished=true matches nothing in C7.
      processInstanceIds: q.finished && q.unfinished ? [] : ids,
      superProcessInstance: q.superProcessInstanceId ?? undefined,
      finished,
      variables: q.variables ?? undefined,
    };
  };
  const filterOf = (query: unknown) => {
    const { firstResult, maxResults, ...q } = HistoryQuery.parse(query);
    return { filter: toFilter(q), page: { firstResult, maxResults } };
  };
  const filterOfBody = (body: unknown, query: unknown) => ({ filter: toFilter(HistoryQueryBody.parse(body ?? {})), page: BodyPage.parse(query) });

  router.get('/process-instance', readers, async (req, res) => {
    const { filter, page } = filterOf(req.query);
    sendJson(res, 200, (await engine.camundaQueries.listInstances(filter, page)).map(c7HistoricInstance));
  });
  router.get('/process-instance/count', readers, async (req, res) => {
    sendJson(res, 200, { count: await engine.camundaQueries.countInstances(filterOf(req.query).filter) });
  });
  router.post('/process-instance', readers, async (req, res) => {
    const { filter, page } = filterOfBody(req.body, req.query);
    sendJson(res, 200, (await engine.camundaQueries.listInstances(filter, page)).map(c7HistoricInstance));
  });
  router.post('/process-instance/count', readers, async (req, res) => {
    sendJson(res, 200, { count: await engine.camundaQueries.countInstances(filterOfBody(req.body, req.query).filter) });
  });
  router.get('/process-instance/:id', readers, async (req, res) => {
    const id = Uuid.parse(req.params.id);
    const row = await engine.camundaQueries.findInstance(id);
    if (!row) throw notFound('historic process instance', id);
    sendJson(res, 200, c7HistoricInstance(row));
  });
  return router;
}
