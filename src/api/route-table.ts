import { z } from 'zod';
import type { RouteDoc } from './route-spec.js';

const Json = z.record(z.string(), z.unknown());
const Rows = z.array(Json);

/**
 * The core's routes that mount their own handlers (health, the UI's extras), declared here so
 * that the one route table (these, the native routes and the product modules' `docs`, see
 * src/modules) gives the OpenAPI document and `GET /api/me`. Paths are full paths.
 * `test/integration/openapi.test.ts` walks express's stack and fails on any served route
 * that is missing from the table.
 */
export function declaredRoutes(): RouteDoc[] {
  return [
    { method: 'get', path: '/healthz', tag: 'health', summary: 'Liveness: 200 once the server accepts requests (no token needed).', roles: null, responses: { 200: { description: '{status: "ok"}' } } },
    { method: 'get', path: '/readyz', tag: 'health', summary: 'Readiness: 200 when the database answers, else 503 (no token needed).', roles: null, responses: { 200: { description: 'ready' }, 503: { description: 'database unreachable' } } },

    { method: 'get', path: '/api/topics', tag: 'ui', summary: 'Topics the server knows: built-in ones (with description and mode), topics of deployed versions and of waiting external tasks.', roles: ['owner', 'operator'], responses: { 200: { description: 'topics', schema: z.array(z.object({ topic: z.string(), description: z.string().nullable(), mode: z.string().nullable(), sources: z.array(z.string()) })) } } },
    { method: 'get', path: '/api/events', tag: 'ui', summary: 'Server-sent events of the engine: instance.started, instance.ended, transition.committed, external-tasks.created, jobs.scheduled, incident.created (ids and keys, never variables).', roles: ['owner', 'operator'], responses: { 200: { description: 'an event stream', contentType: 'text/event-stream' } } },
    { method: 'get', path: '/api/process-definitions/:id/activity-stats', tag: 'ui', summary: "Per activity of a version: runs, completed runs, mean and max duration, open incidents and the active instances waiting there now (the heatmap's and the migration view's figures).", roles: ['owner', 'operator'], params: z.object({ id: z.string() }), responses: { 200: { description: 'per-activity figures', schema: Rows }, 404: { description: 'no such version' } } },
  ];
}
