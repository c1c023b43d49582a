import { Router } from 'express';
import { z } from 'zod';
import { notFound } from '../../errors.js';
import type { WorkflowEngine } from '../../engine/workflow-engine.js';
import * as camundaQueries from '../../store/camunda-queries.js';
import { allow } from '../auth.js';
import { BooleanParam, c7HistoricInstance, PageQuery, Uuid } from './camunda-shapes.js';
import { sendJson } from './external-task-router.js';

const HistoryQuery = z.object({
  processDefinitionKey: z.string().min(1).max(255).optional(),
  processDefinitionId: z.string().min(1).max(300).optional(),
  businessKey: z.string().max(255).optional(),
  processInstanceId: Uuid.optional(),
  superProcessInstanceId: Uuid.optional(),
  finished: BooleanParam.optional(),
  unfinished: BooleanParam.optional(),
  ...PageQuery,
}).strict(); // an unknown filter is a 400, never silently ignored

/** `/engine-rest/history/process-instance`: every instance, running or ended (list, count, one). */
export function historyRouter(engine: WorkflowEngine): Router {
  const router = Router();
  const knex = engine.knex;
  const readers = allow('owner', 'operator');
  const filterOf = (query: unknown) => {
    const q = HistoryQuery.parse(query);
    const finished = q.finished === true ? true : q.unfinished === true ? false : undefined;
    const filter = {
      processDefinitionKey: q.processDefinitionKey,
      processDefinitionId: q.processDefinitionId,
      businessKey: q.businessKey,
      // finished=true with unfinished=true matches nothing in C7.
      processInstanceIds: q.finished && q.unfinished ? [] : q.processInstanceId ? [q.processInstanceId] : undefined,
      superProcessInstance: q.superProcessInstanceId,
      finished,
    };
    return { filter, page: { firstResult: q.firstResult, maxResults: q.maxResults } };
  };

  router.get('/process-instance', readers, async (req, res) => {
    const { filter, page } = filterOf(req.query);
    sendJson(res, 200, (await camundaQueries.listInstances(knex, filter, page)).map(c7HistoricInstance));
  });
  router.get('/process-instance/count', readers, async (req, res) => {
    sendJson(res, 200, { count: await camundaQueries.countInstances(knex, filterOf(req.query).filter) });
  });
  router.get('/process-instance/:id', readers, async (req, res) => {
    const id = Uuid.parse(req.params.id);
    const row = await camundaQueries.findInstance(knex, id);
    if (!row) throw notFound('historic process instance', id);
    sendJson(res, 200, c7HistoricInstance(row));
  });
  return router;
}
