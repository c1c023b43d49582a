import { createHash } from 'node:crypto';
import express, { type Express, type RequestHandler } from 'express';
import { rateLimit } from 'express-rate-limit';
import helmet from 'helmet';
import type { WorkflowEngine } from '../engine/workflow-engine.js';
import { allow, authenticate, type TokenRegistry } from './auth.js';
import { camundaErrorHandler, camundaNotFound } from './camunda/camunda-errors.js';
import { deploymentRouter } from './camunda/deployment-router.js';
import { externalTaskRouter, sendJson } from './camunda/external-task-router.js';
import { historyRouter } from './camunda/history-router.js';
import { incidentRouter } from './camunda/incident-router.js';
import { camundaMigrationRouters } from './camunda/migration-router.js';
import { migrationRoutes } from './migration-routes.js';
import { messageRouter } from './camunda/message-router.js';
import { processDefinitionRouter } from './camunda/process-definition-router.js';
import { processInstanceRouter } from './camunda/process-instance-router.js';
import { signalRouter } from './camunda/signal-router.js';
import { taskRouter } from './camunda/task-router.js';
import { docsRouter } from './docs-router.js';
import { commandOutputRoutes, type LiveLogReader } from './command-output-router.js';
import { historyRoutes } from './history-routes.js';
import { filterRouter } from './camunda/filter-router.js';
import { databaseFault } from '../errors.js';
import { guardJsonBody } from './json-guard.js';
import { nativeRouter, nativeRoutes } from './native-router.js';
import { meRoute } from './me-route.js';
import { openApiDocument, type RouteMount, type RouteSpec } from './route-spec.js';
import { declaredRoutes } from './route-table.js';
import { notFoundHandler, problemHandler, sendProblem } from './problem.js';
import { staticRouter } from './static-router.js';
import { uiApiRouter, type KnownTopic } from './ui-router.js';
import type { DecisionService } from '../decisions/index.js';
import { decisionRoutes } from './decisions-router.js';
import type { FormService } from '../forms/index.js';
import { formRoutes } from './forms-router.js';
import { processDefinitionFormRouter, taskFormRouter } from './camunda/form-router.js';
import { decisionDefinitionRouter, decisionHistoryRouter } from './camunda/decision-definition-router.js';

export interface HttpOptions {
  tokens: TokenRegistry;
  /** Requests per minute per token. @default 30000 */
  rateLimitPerMinute?: number;
  /** JSON bodies larger than this are refused with 413. @default 1 MiB */
  jsonBytes?: number;
  /** BPMN uploads larger than this are refused with 413. @default 5 MiB */
  bpmnBytes?: number;
  isReady: () => Promise<boolean>;
  /** Topics of the built-in modules, for the modeler's topic picker. */
  knownTopics?: () => KnownTopic[];
  /** The built browser app. @default dist/modeler */
  modelerDir?: string;
  onError?: (error: unknown) => void;
  /** Requests in flight (probes and long polls aside) past which new ones get 503. @default 256 */
  maxInFlight?: number;
  /** True while the server shuts down: new requests get 503, long polls answer at once. */
  draining?: () => boolean;
  /**
   * The product modules' routers (alerts, agents, entropy, /metrics, OTLP ingest, ...), see
   * src/modules: each authenticated once, mounted most specific path first.
   */
  mounts?: RouteMount[];
  /** DMN decisions: `.dmn` deploys, /api/decision-definitions, /engine-rest/decision-definition. */
  decisions?: DecisionService;
  /** Forms (form-js): `.form` deploys, /api/forms, task and start forms, submissions checked. */
  forms?: FormService;
  /** The worktrees module's live log reader: GET /api/process-instances/:id/logs (absent: no such route). */
  liveLog?: LiveLogReader;
}

/** The HTTP layer: routers, body limits and the problem+json error mapping. */
export function createHttpApp(engine: WorkflowEngine, options: HttpOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.use(securityHeaders());
  app.use((req, _res, next) => {
    req.log = options.onError;
    next();
  });
  // Load shedding: past this many requests in flight a new one is answered 503 at once
  // (Retry-After) rather than queued behind the others; probes and long polls do not count.
  const maxInFlight = options.maxInFlight ?? 256;
  let inFlight = 0;
  app.use((req, res, next) => {
    if (req.path === '/healthz' || req.path === '/readyz' || req.path.endsWith('/fetchAndLock')) return next();
    if (inFlight >= maxInFlight) {
      res.setHeader('Retry-After', '1');
      const message = `the server has ${inFlight} requests in flight; retry after Retry-After`;
      if (req.originalUrl.startsWith('/engine-rest/')) return sendJson(res, 503, { type: 'RestException', message, code: 0 });
      return sendProblem(res, 503, 'Service Unavailable', message, { code: 'OVERLOADED' });
    }
    inFlight++;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      inFlight--;
    };
    res.once('finish', finish);
    res.once('close', finish);
    next();
  });
  const draining = options.draining ?? (() => false);
  // Shutting down: what is in flight finishes, a request that arrives on a kept-alive
  // connection is told to go elsewhere (it did nothing, so a retry is safe).
  app.use((req, res, next) => {
    if (!draining()) return next();
    res.setHeader('Connection', 'close');
    res.setHeader('Retry-After', '2');
    if (req.originalUrl.startsWith('/engine-rest/')) return sendJson(res, 503, { type: 'RestException', message: 'the server is shutting down; retry on another node or after Retry-After', code: 0 });
    sendProblem(res, 503, 'Service Unavailable', 'the server is shutting down; retry on another node or after Retry-After', { code: 'SHUTTING_DOWN' });
  });
  // A `__proto__` key anywhere in a JSON body is refused while parsing: no later
  // Object.assign or spread can then reach a prototype.
  app.use(express.json({ limit: options.jsonBytes ?? 1024 * 1024, reviver: refuseProtoKeys }));
  // NUL, lone surrogates and nesting deeper than 64: a 400 before any handler runs.
  app.use(guardJsonBody);

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  // Readiness (for a load balancer): the database answers within 2 s. `/healthz` stays liveness.
  app.get('/readyz', async (_req, res) => {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(Object.assign(new Error('Query read timeout'), { name: 'ReadyTimeout' })), 2000);
    });
    try {
      await Promise.race([options.isReady(), deadline]);
      res.json({ status: 'ready', database: 'ok' });
    } catch (error) {
      const fault = databaseFault(error);
      res.setHeader('Retry-After', String(fault?.retryAfter ?? 5));
      res.status(503).json({ status: 'not ready', database: fault?.code ?? 'DATABASE_ERROR', reason: fault?.reason ?? String((error as Error)?.message ?? error) });
    } finally {
      clearTimeout(timer);
    }
  });

  // One budget per principal; answers 429 as problem+json.
  const perToken = rateLimit({
    windowMs: 60_000,
    limit: options.rateLimitPerMinute ?? 30_000,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    // The authenticated principal, not the header's spelling: `bearer`, `BEARER` or an extra
    // space each had their own budget. authenticate() runs first and sets req.actor.
    keyGenerator: (req) => req.actor ?? createHash('sha256').update(req.headers.authorization ?? '').digest('hex'),
    handler: (req, res) =>
      req.originalUrl.startsWith('/engine-rest/')
        ? sendJson(res, 429, { type: 'RestException', message: 'the request budget of this token is used up; retry after the Retry-After delay', code: 0 })
        : sendProblem(res, 429, 'Too Many Requests', 'the request budget of this token is used up; retry after the Retry-After delay', {
            code: 'RATE_LIMITED',
          }),
  });
  const authenticated = [authenticate(options.tokens), perToken];
  app.use('/api', uiApiRouter(engine, { authenticated, topics: options.knownTopics ?? (() => []) }));
  const limits = { bpmnBytes: options.bpmnBytes ?? 5 * 1024 * 1024 };
  // A longer path first: a request under /api/entropy/dmedi meets its own router and is not
  // authenticated (and counted) a second time after falling through /api/entropy.
  const mounts = [...(options.mounts ?? [])].sort((a, b) => b.path.split('/').length - a.path.split('/').length);
  const routes = [...nativeRoutes(engine, limits, options.decisions, options.forms), ...(options.decisions ? decisionRoutes(options.decisions, limits) : [])];
  if (options.forms) routes.push(...formRoutes(options.forms, engine.definitionQueries));
  routes.push(...migrationRoutes(engine));
  if (options.liveLog) routes.push(...commandOutputRoutes(options.liveLog, { draining: options.draining }));
  routes.push(...historyRoutes(engine.queries));
  // One route table: the native routes and those other routers declare; spec and /api/me read it.
  routes.push(meRoute(() => table));
  const table = [
    { prefix: '/api', routes: [...routes, ...DOCS_ROUTES] },
    { prefix: '', routes: [...declaredRoutes(), ...(options.mounts ?? []).flatMap((mount) => mount.docs)] },
  ];
  app.use('/api', docsRouter(openApiDocument(table, { title: 'regenflow', version: API_VERSION })));
  // Before the native router: a request is authenticated (and counted) once.
  for (const mount of mounts) app.use(mount.path, ...authenticated, ...(mount.roles ? [allow(...mount.roles)] : []), mount.router);
  app.use('/api', ...authenticated, nativeRouter(routes));
  app.use('/engine-rest/external-task', ...authenticated, allow('worker'), externalTaskRouter(engine, draining));
  app.use('/engine-rest/deployment', ...authenticated, deploymentRouter(engine, limits, options.decisions, options.forms));
  if (options.decisions) app.use('/engine-rest/decision-definition', ...authenticated, decisionDefinitionRouter(options.decisions));
  if (options.decisions) app.use('/engine-rest/history/decision-instance', ...authenticated, decisionHistoryRouter(options.decisions));
  // Form routers first (one authentication, one count): they add endpoints and check submissions before start and complete run.
  const formRouters = (router: (engine: WorkflowEngine, forms: FormService) => express.Router) => (options.forms ? [router(engine, options.forms)] : []);
  app.use('/engine-rest/process-definition', ...authenticated, ...formRouters(processDefinitionFormRouter), processDefinitionRouter(engine));
  app.use('/engine-rest/process-instance', ...authenticated, processInstanceRouter(engine));
  app.use('/engine-rest/message', ...authenticated, messageRouter(engine));
  app.use('/engine-rest/signal', ...authenticated, signalRouter(engine));
  app.use('/engine-rest/filter', ...authenticated, filterRouter(engine));
  app.use('/engine-rest/task', ...authenticated, ...formRouters(taskFormRouter), taskRouter(engine));
  app.use('/engine-rest/history', ...authenticated, historyRouter(engine));
  app.use('/engine-rest/incident', ...authenticated, incidentRouter(engine));
  const c7Migration = camundaMigrationRouters(engine);
  app.use('/engine-rest/migration', ...authenticated, c7Migration.migration);
  app.use('/engine-rest/batch', ...authenticated, c7Migration.batch);
  app.get('/engine-rest/version', ...authenticated, (_req, res) => sendJson(res, 200, { version: '7.21.0' }));
  app.use('/engine-rest', camundaNotFound, camundaErrorHandler);

  app.use(staticRouter(options.modelerDir));
  app.use(notFoundHandler);
  app.use(problemHandler);
  return app;
}

const API_VERSION = '0.1.0';

/** The docs routes themselves, so the spec lists every route under /api. */
const DOCS_ROUTES: RouteSpec[] = [
  { method: 'get', path: '/openapi.json', tag: 'docs', summary: 'This OpenAPI 3.1 document (no token needed).', roles: null, responses: { 200: { description: 'the spec' } }, handler: () => {} },
  { method: 'get', path: '/docs.css', tag: 'docs', summary: "The docs page's stylesheet.", roles: null, responses: { 200: { description: 'CSS', contentType: 'text/css' } }, handler: () => {} },
  { method: 'get', path: '/docs', tag: 'docs', summary: 'A page listing every route (no token needed).', roles: null, responses: { 200: { description: 'HTML', contentType: 'text/html' } }, handler: () => {} },
];

/**
 * helmet's default headers, worked out once: they do not depend on the request, and helmet's
 * eleven middlewares re-derived them on every request (about 1 % of a start's server CPU).
 * helmet stays the source of what is sent; this only replays its answer.
 */
export function securityHeaders(): RequestHandler {
  const headers: Array<[string, string]> = [];
  const removed: string[] = [];
  const recorder = {
    setHeader: (name: string, value: string) => headers.push([name, String(value)]),
    removeHeader: (name: string) => removed.push(name),
  };
  let synchronous = false;
  helmet()({} as never, recorder as never, () => (synchronous = true));
  // A helmet that someday derives a header per request (or asynchronously) is used as it is.
  if (!synchronous) return helmet();
  return (_req, res, next) => {
    for (const name of removed) res.removeHeader(name);
    for (const [name, value] of headers) res.setHeader(name, value);
    next();
  };
}

function refuseProtoKeys(key: string, value: unknown): unknown {
  if (key === '__proto__') throw new SyntaxError('the key "__proto__" is not allowed in a JSON body');
  return value;
}
