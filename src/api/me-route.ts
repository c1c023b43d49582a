import { z } from 'zod';
import { ROLES, type Role } from './auth.js';
import { route, type RouteDoc, type RouteSpec } from './route-spec.js';

/** What the UI and the CLI ask of `GET /api/me`: named abilities, each one route of the table. */
const ABILITIES: Record<string, string> = {
  deploy: 'post /api/deployments',
  lint: 'post /api/deployments/lint',
  viewDefinitions: 'get /api/process-definitions',
  start: 'post /api/process-instances',
  runNow: 'post /api/process-definitions/key/{key}/run-now',
  viewInstances: 'get /api/process-instances',
  cancel: 'delete /api/process-instances/{id}',
  setVariables: 'put /api/process-instances/{id}/variables',
  correlateMessages: 'post /api/messages',
  viewTasks: 'get /api/tasks',
  completeTasks: 'post /api/tasks/{id}/complete',
  viewIncidents: 'get /api/incidents',
  retryIncidents: 'post /api/incidents/{id}/retry',
  runJobs: 'post /api/jobs/{id}/execute',
  migrate: 'post /api/migrations/execute',
  viewHealth: 'get /api/entropy/systems',
  viewAudit: 'get /api/audit',
  postAlerts: 'post /api/alerts',
  sendTelemetry: 'post /v1/traces',
};

const allowed = (doc: RouteDoc, role: Role) => doc.roles === null || role === 'admin' || doc.roles.includes(role);

/**
 * `GET /api/me`: who the presented token is (its role, the audit name, the topics a worker
 * token is limited to) and what it may do, read from the same route table that guards the
 * routes and writes the OpenAPI document, so the answer cannot drift from what is enforced.
 */
export function meRoute(table: () => Array<{ prefix: string; routes: RouteDoc[] }>): RouteSpec {
  return route({
    method: 'get',
    path: '/me',
    tag: 'session',
    summary: "Who the token is and what it may do: role, audit name, a worker's topics, named abilities (can.deploy, can.start, ...) and every operation the role may call.",
    roles: ROLES.filter((role) => role !== 'admin'),
    responses: {
      200: {
        description: 'the session',
        schema: z.object({
          role: z.enum(ROLES),
          actor: z.string().describe('role:first 12 hex of the token digest, as the audit log names it'),
          topics: z.array(z.string()).nullable().describe('topic patterns of a limited worker token; null: every topic'),
          can: z.record(z.string(), z.boolean()),
          operations: z.array(z.object({ method: z.string(), path: z.string(), summary: z.string() })),
        }),
      },
    },
    handler: (_input, req, res) => {
      const role = req.role as Role;
      const operations = table().flatMap(({ prefix, routes }) =>
        routes
          .filter((doc) => doc.roles !== null && allowed(doc, role))
          .map((doc) => ({ method: doc.method, path: `${prefix}${doc.path}`.replace(/:([A-Za-z_]+)/g, '{$1}'), summary: doc.summary })),
      );
      const keys = new Set(operations.map((operation) => `${operation.method} ${operation.path}`));
      const can = Object.fromEntries(Object.entries(ABILITIES).map(([name, key]) => [name, keys.has(key)]));
      res.json({ role, actor: req.actor, topics: req.topics ?? null, can, operations });
    },
  });
}
