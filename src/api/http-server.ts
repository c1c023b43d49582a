import { createHash } from 'node:crypto';
import express, { type Express } from 'express';
import { rateLimit } from 'express-rate-limit';
import type { Registry } from 'prom-client';
import helmet from 'helmet';
import type { WorkflowEngine } from '../engine/workflow-engine.js';
import { allow, authenticate, type TokenRegistry } from './auth.js';
import { externalTaskRouter, sendJson } from './camunda/external-task-router.js';
import { entropyRouter } from './entropy-router.js';
import { nativeRouter } from './native-router.js';
import { notFoundHandler, problemHandler, sendProblem } from './problem.js';

export interface HttpOptions {
  tokens: TokenRegistry;
  metrics: Registry;
  /** Requests per minute per token. @default 1200 */
  rateLimitPerMinute?: number;
  /** JSON bodies larger than this are refused with 413. @default 1 MiB */
  jsonBytes?: number;
  /** BPMN uploads larger than this are refused with 413. @default 5 MiB */
  bpmnBytes?: number;
  isReady: () => Promise<boolean>;
  onError?: (error: unknown) => void;
}

/** The HTTP layer: routers, body limits and the problem+json error mapping. */
export function createHttpApp(engine: WorkflowEngine, options: HttpOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.use(helmet());
  app.use((req, _res, next) => {
    req.log = options.onError;
    next();
  });
  app.use(express.json({ limit: options.jsonBytes ?? 1024 * 1024 }));

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const ready = await options.isReady().catch(() => false);
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'database unreachable' });
  });

  // One budget per token (its digest names it); answers 429 as problem+json.
  const perToken = rateLimit({
    windowMs: 60_000,
    limit: options.rateLimitPerMinute ?? 1200,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    keyGenerator: (req) => createHash('sha256').update(req.headers.authorization ?? '').digest('hex'),
    handler: (_req, res) =>
      sendProblem(res, 429, 'Too Many Requests', 'the request budget of this token is used up; retry after the Retry-After delay', {
        code: 'RATE_LIMITED',
      }),
  });
  const authenticated = [authenticate(options.tokens), perToken];
  app.get('/metrics', ...authenticated, allow('owner', 'operator'), async (_req, res) => {
    res.setHeader('Content-Type', options.metrics.contentType);
    res.end(await options.metrics.metrics());
  });
  app.use('/api/entropy', ...authenticated, allow('owner', 'operator'), entropyRouter(engine));
  app.use('/api', ...authenticated, nativeRouter(engine, { bpmnBytes: options.bpmnBytes ?? 5 * 1024 * 1024 }));
  app.use('/engine-rest/external-task', ...authenticated, allow('worker'), externalTaskRouter(engine));
  app.get('/engine-rest/version', ...authenticated, (_req, res) => sendJson(res, 200, { version: '7.21.0' }));

  app.use(notFoundHandler);
  app.use(problemHandler);
  return app;
}
