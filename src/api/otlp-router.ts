import express, { Router } from 'express';
import { AppError } from '../errors.js';
import type { SpanStore } from '../store/spans.js';
import { decodeTraceRequest, encodeTraceResponse, type OtlpEncoding } from '../telemetry/otlp-ingest.js';
import { allow } from './auth.js';

const PROTOBUF_TYPES = ['application/x-protobuf', 'application/protobuf'];

/**
 * `POST /v1/traces`: OTLP/HTTP trace ingest, so any system's OpenTelemetry SDK or collector
 * can feed the span store. JSON (OTLP/JSON encoding) and protobuf, plain or gzip; answers
 * 200 with an ExportTraceServiceResponse in the request's encoding (partialSuccess names
 * the spans it rejected), 400 when the body cannot be decoded.
 */
export function otlpRouter(spans: SpanStore, limits: { protobufBytes: number }): Router {
  const router = Router();
  router.post(
    '/',
    allow('telemetry'),
    // JSON bodies were parsed (and inflated) by the app's JSON parser; protobuf is read here.
    express.raw({ type: PROTOBUF_TYPES, limit: limits.protobufBytes }),
    async (req, res) => {
      const encoding = encodingOf(req.headers['content-type']);
      const result = decodeTraceRequest(req.body, encoding);
      if (result.spans.length) await spans.insertSpans(result.spans);
      const answer = encodeTraceResponse(result, encoding);
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
  throw new AppError('UNSUPPORTED_MEDIA_TYPE', `POST /v1/traces takes application/json or application/x-protobuf, not '${type || '(none)'}'`);
}
