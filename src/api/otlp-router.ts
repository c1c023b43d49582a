import { Router } from 'express';
import { otlpMetricsReceiver, otlpTracesReceiver, type MetricPointSink, type SpanSink } from '../telemetry/otlp-http.js';
import { allow } from './auth.js';

export { storeInChunks } from '../telemetry/otlp-http.js';

/**
 * `POST /v1/traces`: OTLP/HTTP trace ingest, so any system's OpenTelemetry SDK or collector
 * can feed the span store (role `telemetry`). Answers an ExportTraceServiceResponse
 * (partialSuccess names the spans it rejected). The receiver itself is telemetry's
 * (src/telemetry/otlp-http.ts), shared with the validator's loopback capture.
 */
export function otlpTracesRouter(spans: SpanSink, limits: { protobufBytes: number }): Router {
  return telemetrySendersOnly(otlpTracesReceiver(spans, limits));
}

/**
 * `POST /v1/metrics`: OTLP/HTTP metrics ingest, so a system's metrics count in its health.
 * Answers an ExportMetricsServiceResponse (partialSuccess names the data points it rejected).
 */
export function otlpMetricsRouter(points: MetricPointSink, limits: { protobufBytes: number }): Router {
  return telemetrySendersOnly(otlpMetricsReceiver(points, limits));
}

/** The role check on the POST only: other methods fall through to 404 as before. */
function telemetrySendersOnly(receiver: Router): Router {
  const router = Router();
  router.post('/', allow('telemetry'));
  router.use(receiver);
  return router;
}
