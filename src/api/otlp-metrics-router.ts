import express, { Router } from 'express';
import { AppError } from '../errors.js';
import type { MetricPointStore } from '../store/metric-points.js';
import type { OtlpEncoding } from '../telemetry/otlp-ingest.js';
import { decodeMetricsRequest, encodeMetricsResponse } from '../telemetry/otlp-metrics-ingest.js';
import { allow } from './auth.js';

const PROTOBUF_TYPES = ['application/x-protobuf', 'application/protobuf'];

/**
 * `POST /v1/metrics`: OTLP/HTTP metrics ingest, the twin of `POST /v1/traces`, so a
 * system's metrics count in its health. JSON and protobuf, plain or gzip; answers 200 with
 * an ExportMetricsServiceResponse in the request's encoding (partialSuccess names the data
 * points it rejected), 400 when the body cannot be decoded.
 */
export function otlpMetricsRouter(points: MetricPointStore, limits: { protobufBytes: number }): Router {
  const router = Router();
  router.post(
    '/',
    allow('telemetry'),
    // JSON bodies were parsed (and inflated) by the app's JSON parser; protobuf is read here.
    express.raw({ type: PROTOBUF_TYPES, limit: limits.protobufBytes }),
    async (req, res) => {
      const encoding = encodingOf(req.headers['content-type']);
      const result = decodeMetricsRequest(req.body, encoding);
      if (result.points.length) await points.insertPoints(result.points);
      const answer = encodeMetricsResponse(result, encoding);
      if (encoding === 'json') {
        res.status(200).type('application/json').send(JSON.stringify(answer));
      } else {
        res.status(200).type('application/x-protobuf').send(answer);
      }
    },
  );
  return router;
}

function encodingOf(contentType: string | undefined): OtlpEncoding {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/json') return 'json';
  if (PROTOBUF_TYPES.includes(type)) return 'protobuf';
  throw new AppError('UNSUPPORTED_MEDIA_TYPE', `POST /v1/metrics takes application/json or application/x-protobuf, not '${type || '(none)'}'`);
}
