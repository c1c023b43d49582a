import { Router } from 'express';
import { otlpMetricsRouter, otlpTracesRouter } from '../../api/otlp-router.js';
import type { RouteDoc } from '../../api/route-spec.js';
import { createMetricPointStore } from '../../store/metric-points.js';
import { createMetrics } from '../../telemetry/metrics.js';
import { defineModule } from '../product-module.js';

const OTLP_LIMITS = { protobufBytes: 8 * 1024 * 1024 };

/**
 * Telemetry's routes: Prometheus text at /metrics and OTLP/HTTP ingest of other systems'
 * traces and metrics (which feed the entropy module). The engine's own spans are the core's
 * (they exist before any module).
 */
export const telemetryModule = defineModule({
  name: 'telemetry',
  tables: ['spans', 'metric_points'],
  init({ engine, knex, telemetry }) {
    const metrics = createMetrics(engine, knex, telemetry);
    const prometheus = Router().get('/', async (_req, res) => {
      res.setHeader('Content-Type', metrics.contentType);
      res.end(await metrics.metrics());
    });
    return {
      service: { metrics },
      routes: [
        { path: '/metrics', roles: ['owner', 'operator'], router: prometheus, docs: METRICS_ROUTES },
        { path: '/v1/traces', router: otlpTracesRouter(telemetry.spans, OTLP_LIMITS), docs: TRACES_ROUTES },
        { path: '/v1/metrics', router: otlpMetricsRouter(createMetricPointStore(knex), OTLP_LIMITS), docs: OTLP_METRICS_ROUTES },
      ],
    };
  },
});

const METRICS_ROUTES: RouteDoc[] = [
  { method: 'get', path: '/metrics', tag: 'health', summary: 'Prometheus text exposition of the engine and HTTP metrics.', roles: ['owner', 'operator'], responses: { 200: { description: 'Prometheus text', contentType: 'text/plain' } } },
];
const TRACES_ROUTES: RouteDoc[] = [
  { method: 'post', path: '/v1/traces', tag: 'telemetry', summary: 'OTLP/HTTP trace ingest (JSON or protobuf, gzip); spans feed the entropy module.', roles: ['telemetry'], alsoAccepts: { 'application/json': { description: 'ExportTraceServiceRequest as JSON' }, 'application/x-protobuf': { description: 'ExportTraceServiceRequest' } }, responses: { 200: { description: 'ExportTraceServiceResponse' } } },
];
const OTLP_METRICS_ROUTES: RouteDoc[] = [
  { method: 'post', path: '/v1/metrics', tag: 'telemetry', summary: 'OTLP/HTTP metric ingest (JSON or protobuf, gzip).', roles: ['telemetry'], alsoAccepts: { 'application/json': { description: 'ExportMetricsServiceRequest as JSON' }, 'application/x-protobuf': { description: 'ExportMetricsServiceRequest' } }, responses: { 200: { description: 'ExportMetricsServiceResponse' } } },
];
