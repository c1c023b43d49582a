import { z } from 'zod';
import { AlertmanagerPayload, GenericPayload } from '../alerts/payloads.js';
import { RegisterSchema } from './agents-router.js';
import { AlertQuery } from './alerts-router.js';
import { ListQuery as MonitoredQuery } from './monitored-systems-router.js';
import { CreatePattern, EditPattern, PatternQuery } from './patterns-router.js';
import type { RouteDoc } from './route-spec.js';
import { ListQuery as RunsQuery, SpanCheckSchema, TrendQuery } from './validation-runs-router.js';

const Json = z.record(z.string(), z.unknown());
const Rows = z.array(Json);
const System = z.string().min(1).max(200);

/**
 * The routes of the routers that mount their own handlers, declared here so that the one
 * route table (these plus the native routes) gives the OpenAPI document and `GET /api/me`.
 * Paths are full paths. `test/integration/openapi.test.ts` walks express's stack and fails on
 * any served route that is missing here or in the native routes.
 */
export function declaredRoutes(options: { incident: boolean; agents: boolean; spans: boolean; metricPoints: boolean }): RouteDoc[] {
  const routes: RouteDoc[] = [
    { method: 'get', path: '/healthz', tag: 'health', summary: 'Liveness: 200 once the server accepts requests (no token needed).', roles: null, responses: { 200: { description: '{status: "ok"}' } } },
    { method: 'get', path: '/readyz', tag: 'health', summary: 'Readiness: 200 when the database answers, else 503 (no token needed).', roles: null, responses: { 200: { description: 'ready' }, 503: { description: 'database unreachable' } } },
    { method: 'get', path: '/metrics', tag: 'health', summary: 'Prometheus text exposition of the engine and HTTP metrics.', roles: ['owner', 'operator'], responses: { 200: { description: 'Prometheus text', contentType: 'text/plain' } } },

    { method: 'get', path: '/api/topics', tag: 'ui', summary: 'Topics the server knows: built-in ones (with description and mode), topics of deployed versions and of waiting external tasks.', roles: ['owner', 'operator'], responses: { 200: { description: 'topics', schema: z.array(z.object({ topic: z.string(), description: z.string().nullable(), mode: z.string().nullable(), sources: z.array(z.string()) })) } } },
    { method: 'get', path: '/api/events', tag: 'ui', summary: 'Server-sent events of the engine: instance.started, instance.ended, transition.committed, external-tasks.created, jobs.scheduled, incident.created (ids and keys, never variables).', roles: ['owner', 'operator'], responses: { 200: { description: 'an event stream', contentType: 'text/event-stream' } } },
    { method: 'get', path: '/api/process-definitions/:id/activity-stats', tag: 'ui', summary: "Per activity of a version: runs, running, failed and mean duration (the heatmap's figures).", roles: ['owner', 'operator'], params: z.object({ id: z.string() }), responses: { 200: { description: 'per-activity figures', schema: Rows }, 404: { description: 'no such version' } } },

    { method: 'get', path: '/api/entropy/systems', tag: 'entropy', summary: 'Systems with spans or measurements, with their latest entropy measurement.', roles: ['owner', 'operator'], responses: { 200: { description: 'systems', schema: Rows } } },
    { method: 'get', path: '/api/entropy/measurements', tag: 'entropy', summary: "A system's entropy measurements, newest first (?system=&limit=).", roles: ['owner', 'operator'], query: z.object({ system: System, limit: z.coerce.number().int().min(1).max(1000).default(50) }), responses: { 200: { description: 'measurements', schema: Rows } } },
    {
      method: 'get',
      path: '/api/entropy/control-charts',
      tag: 'entropy',
      summary: "A control chart of one metric of a system's spans: points per bucket, centre line, 1/2/3-sigma limits and Western Electric rule violations.",
      roles: ['owner', 'operator'],
      query: z.object({
        system: System,
        metric: z.enum(['latency_p95', 'error_rate', 'throughput']),
        windowSeconds: z.coerce.number().int().min(60).optional(),
        buckets: z.coerce.number().int().min(8).max(500).optional(),
        limitsFrom: z.coerce.number().int().min(2).optional(),
      }),
      responses: { 200: { description: 'the chart', schema: Json } },
    },
    { method: 'post', path: '/api/entropy/measure', tag: 'entropy', summary: 'Measure a system now (health, drift, entropy score and level) and store the measurement.', roles: ['owner', 'operator'], body: z.object({ system: System, windowSeconds: z.number().int().optional(), baselineSeconds: z.number().int().optional(), validationErrors: z.number().int().optional() }), responses: { 201: { description: 'the measurement', schema: Json } } },
    { method: 'post', path: '/api/entropy/dmedi/:phase', tag: 'entropy', summary: 'One DMEDI phase by hand: define, measure, explore, develop (deploys a strategy workflow), implement (starts it) or auto (starts dmedi-regeneration).', roles: ['owner', 'operator'], params: z.object({ phase: z.enum(['define', 'measure', 'explore', 'develop', 'implement', 'auto']) }), body: Json, responses: { 200: { description: 'the phase result', schema: Json }, 201: { description: 'deployed or started', schema: Json } } },
    { method: 'get', path: '/api/entropy/monitored', tag: 'entropy', summary: 'Systems released features handed to the evolution cycle (entropy.collect measures these first).', roles: ['owner', 'operator'], query: MonitoredQuery, responses: { 200: { description: 'monitored systems', schema: Rows } } },
    { method: 'delete', path: '/api/entropy/monitored/:serviceName', tag: 'entropy', summary: 'Retire a monitored system (audited).', roles: ['owner'], params: z.object({ serviceName: z.string() }), responses: { 204: { description: 'retired' }, 404: { description: 'no such system' } } },
  ];
  if (options.incident) {
    routes.push(
      { method: 'post', path: '/api/alerts/alertmanager', tag: 'alerts', summary: 'Alertmanager webhook (version 4 payload): each firing alert starts or steers an incident-response instance; the answer says what happened to each alert.', roles: ['alert'], body: AlertmanagerPayload, responses: { 200: { description: 'what happened to each alert', schema: Json }, 503: { description: 'nothing was stored; retry' } } },
      { method: 'post', path: '/api/alerts', tag: 'alerts', summary: 'Generic alert webhook (one alert or a list).', roles: ['alert'], body: GenericPayload, responses: { 200: { description: 'what happened to each alert', schema: Json }, 503: { description: 'nothing was stored; retry' } } },
      { method: 'get', path: '/api/alerts', tag: 'alerts', summary: 'Stored alert occurrences, newest first.', roles: ['owner', 'operator'], query: AlertQuery, responses: { 200: { description: 'alerts', schema: Rows } } },
      { method: 'get', path: '/api/patterns', tag: 'patterns', summary: 'Incident patterns with their confidence and how it was computed.', roles: ['owner', 'operator'], query: PatternQuery, responses: { 200: { description: 'patterns', schema: Rows } } },
      { method: 'get', path: '/api/patterns/decisions', tag: 'patterns', summary: "An incident instance's decision log interleaved with its activity history (?instanceId=).", roles: ['owner', 'operator'], query: z.object({ instanceId: z.string() }), responses: { 200: { description: 'decisions', schema: Json } } },
      { method: 'get', path: '/api/patterns/:id', tag: 'patterns', summary: 'One pattern with its outcomes and overrides.', roles: ['owner', 'operator'], params: z.object({ id: z.string() }), responses: { 200: { description: 'the pattern', schema: Json }, 404: { description: 'no such pattern' } } },
      { method: 'post', path: '/api/patterns', tag: 'patterns', summary: 'Create a pattern (alert match and remediation).', roles: ['owner'], body: CreatePattern, responses: { 201: { description: 'created', schema: Json }, 409: { description: 'a pattern with this match exists' } } },
      { method: 'patch', path: '/api/patterns/:id', tag: 'patterns', summary: "Edit a pattern's remediation, description, counts or enabled flag.", roles: ['owner'], params: z.object({ id: z.string() }), body: EditPattern, responses: { 200: { description: 'the pattern', schema: Json }, 404: { description: 'no such pattern' } } },
    );
  }
  if (options.agents) {
    routes.push(
      { method: 'get', path: '/api/agents', tag: 'agents', summary: 'Registered agents with their topics, capacity, heartbeat and health.', roles: ['owner', 'operator', 'worker'], responses: { 200: { description: 'agents', schema: Rows } } },
      { method: 'post', path: '/api/agents', tag: 'agents', summary: 'Register an agent or send its heartbeat.', roles: ['worker'], body: RegisterSchema, responses: { 200: { description: 'the agent', schema: Json } } },
      { method: 'get', path: '/api/agents/:name', tag: 'agents', summary: 'One agent.', roles: ['owner', 'operator', 'worker'], params: z.object({ name: z.string() }), responses: { 200: { description: 'the agent', schema: Json }, 404: { description: 'no such agent' } } },
      { method: 'delete', path: '/api/agents/:name', tag: 'agents', summary: 'Deregister an agent.', roles: ['worker'], params: z.object({ name: z.string() }), responses: { 204: { description: 'gone' } } },
      { method: 'get', path: '/api/validation-runs', tag: 'validation', summary: 'Validation runs (phases, scores, gate), newest first.', roles: ['owner', 'operator'], query: RunsQuery, responses: { 200: { description: 'runs', schema: Rows } } },
      { method: 'get', path: '/api/validation-runs/trend', tag: 'validation', summary: "The score trend of a subject's last runs.", roles: ['owner', 'operator'], query: TrendQuery, responses: { 200: { description: 'the trend', schema: Json } } },
      { method: 'post', path: '/api/validation-runs/span-checks', tag: 'validation', summary: "Check an instance's activity spans against expectations and score them.", roles: ['owner', 'operator'], body: SpanCheckSchema, responses: { 200: { description: 'the check', schema: Json } } },
      { method: 'get', path: '/api/validation-runs/:id', tag: 'validation', summary: 'One validation run with its phases.', roles: ['owner', 'operator'], params: z.object({ id: z.string() }), responses: { 200: { description: 'the run', schema: Json }, 404: { description: 'no such run' } } },
    );
  }
  if (options.spans) routes.push({ method: 'post', path: '/v1/traces', tag: 'telemetry', summary: 'OTLP/HTTP trace ingest (JSON or protobuf, gzip); spans feed the entropy module.', roles: ['telemetry'], alsoAccepts: { 'application/json': { description: 'ExportTraceServiceRequest as JSON' }, 'application/x-protobuf': { description: 'ExportTraceServiceRequest' } }, responses: { 200: { description: 'ExportTraceServiceResponse' } } });
  if (options.metricPoints) routes.push({ method: 'post', path: '/v1/metrics', tag: 'telemetry', summary: 'OTLP/HTTP metric ingest (JSON or protobuf, gzip).', roles: ['telemetry'], alsoAccepts: { 'application/json': { description: 'ExportMetricsServiceRequest as JSON' }, 'application/x-protobuf': { description: 'ExportMetricsServiceRequest' } }, responses: { 200: { description: 'ExportMetricsServiceResponse' } } });
  return routes;
}
