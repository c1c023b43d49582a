import { Router } from 'express';
import { z } from 'zod';
import type { WorkflowEngine } from '../../engine/workflow-engine.js';
import { INCIDENT_TYPES } from '../../engine/types.js';
import { allow } from '../auth.js';
import { c7Incident, PageQuery, Uuid } from './camunda-shapes.js';
import { sendJson } from './external-task-router.js';

const IncidentQuery = z.object({
  processInstanceId: Uuid.optional(),
  processDefinitionKeyIn: z.string().max(1000).optional(),
  incidentType: z.enum(INCIDENT_TYPES).optional(),
  activityId: z.string().min(1).max(255).optional(),
  ...PageQuery,
}).strict(); // an unknown filter is a 400, never silently ignored

/** `/engine-rest/incident`: open incidents (list, count). */
export function incidentRouter(engine: WorkflowEngine): Router {
  const router = Router();
  const readers = allow('owner', 'operator');
  const filterOf = (query: unknown) => {
    const { firstResult, maxResults, sortBy: _s, sortOrder: _o, processDefinitionKeyIn, ...filter } = IncidentQuery.parse(query);
    return { filter: { ...filter, processDefinitionKeys: processDefinitionKeyIn?.split(',') }, page: { firstResult, maxResults } };
  };
  router.get('/', readers, async (req, res) => {
    const { filter, page } = filterOf(req.query);
    sendJson(res, 200, (await engine.camundaQueries.listIncidents(filter, page)).map(c7Incident));
  });
  router.get('/count', readers, async (req, res) => {
    sendJson(res, 200, { count: await engine.camundaQueries.countIncidents(filterOf(req.query).filter) });
  });
  return router;
}
