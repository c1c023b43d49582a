import { readdir, readFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { JavaScripts } from 'bpmn-engine';
import { ServiceTaskRegistry } from '../service-tasks/registry.js';
import type { AgentRegistry } from '../service-tasks/agent/index.js';
import { resolveTokens } from './api/auth.js';
import { createHttpApp } from './api/http-server.js';
import type { Config } from './config.js';
import { createDecisionTaskEvaluator, DecisionService, deployResources, isDecisionResource } from './decisions/index.js';
import { startClusterWakeUps } from './engine/cluster-wake-ups.js';
import { analyseDefinition, closeAnalyser } from './engine/definitions/analyse-definition.js';
import { createDisabledScripts, createSafeExpressions } from './engine/expressions.js';
import { InProcessWorkers } from './engine/in-process-workers.js';
import { JobPoller } from './engine/job-poller.js';
import { ProcessRuntime } from './engine/runtime/process-runtime.js';
import { NodeClockOffset } from './store/database-clock.js';
import { WorkflowEngine } from './engine/workflow-engine.js';
import { deployWithForms, FormService, isFormResource } from './forms/index.js';
import { agentsModule, composeModules, productModules, telemetryModule, worktreesModule, type ComposedModules } from './modules/index.js';
import { registerScrapedGauges } from './telemetry/metrics.js';
import { openDatabase, type Database } from './store/database.js';
import { closeOtlpDecoder } from './telemetry/otlp-decoder.js';
import { createTelemetry, type Telemetry } from './telemetry/index.js';

export interface App {
  readonly config: Config;
  readonly database: Database;
  readonly engine: WorkflowEngine;
  readonly registry: ServiceTaskRegistry;
  readonly poller: JobPoller;
  readonly workers: InProcessWorkers;
  /** Engine spans (span store, OTLP export). */
  readonly telemetry: Telemetry;
  readonly agents: AgentRegistry;
  /** DMN decisions: deploy, evaluate, records. */
  readonly decisions: DecisionService;
  /** Forms (form-js): deploy, link, render, check submissions. */
  readonly forms: FormService;
  /** The product modules (src/modules): their services, routes and hooks. */
  readonly modules: ComposedModules;
  /** Starts the job poller and the HTTP server; resolves with the bound port. */
  listen(): Promise<number>;
  /** Drains HTTP first: `quietMs` keeps reading (and answering 503 to new requests) before the listener closes. */
  close(options?: { quietMs?: number }): Promise<void>;
}

export interface AppOverrides {
  /** Replaces the topics the server serves: the product modules' topics are then left out. */
  registry?: ServiceTaskRegistry;
  inMemoryDatabase?: boolean;
  /** The file of a migrated database's dump the in-memory database starts as (see DatabaseOptions.template). */
  databaseTemplate?: string;
  /** An open database to share (a second engine node in one process); not closed by the app. */
  database?: Database;
  log?: (line: string) => void;
}

/** The composition root: the one place that knows every part. */
export async function createApp(config: Config, overrides: AppOverrides = {}): Promise<App> {
  const log = overrides.log ?? ((line: string) => console.log(line));
  // Before anything opens: a server that would listen beyond loopback without tokens stops here.
  const tokens = resolveTokens({ tokens: config.REGENFLOW_TOKENS, host: config.HOST, dataDir: config.REGENFLOW_DATA_DIR });
  if (tokens.generated) {
    log(`no REGENFLOW_TOKENS set: an admin token is in ${tokens.generated.path}; send it as "Authorization: Bearer <token>"`);
  }
  const database =
    overrides.database ??
    (await openDatabase({
      databaseUrl: config.DATABASE_URL,
      dataDir: config.REGENFLOW_DATA_DIR,
      poolSize: config.REGENFLOW_DB_POOL,
      timeouts: dbTimeouts(config.REGENFLOW_DB_STATEMENT_TIMEOUT_MS),
      inMemory: overrides.inMemoryDatabase,
      template: overrides.databaseTemplate,
      pgliteThread: config.REGENFLOW_PGLITE_THREAD,
    }));
  // The runtime asks the registry per topic when a task runs, so the modules fill it after the engine exists.
  const registry = overrides.registry ?? new ServiceTaskRegistry();
  // What shipped diagrams read as `${environment.settings.NAME}` (timer starts have no variables).
  const processSettings = {
    evolutionCadence: config.REGENFLOW_EVOLUTION_CADENCE,
    ciNightlyCadence: config.REGENFLOW_CI_NIGHTLY_CADENCE,
  };
  const decisions = new DecisionService({ knex: database.knex });
  const forms = new FormService({ knex: database.knex });
  const nodeClock = new NodeClockOffset(database.knex, config.REGENFLOW_CLOCK_CHECK_MS);
  await nodeClock.current();
  const runtime = new ProcessRuntime({
    expressions: createSafeExpressions(),
    // bpmn-engine's JavaScripts use node:vm, which is no sandbox: only on explicit request.
    scripts: config.REGENFLOW_ALLOW_SCRIPTS ? new JavaScripts() : createDisabledScripts(),
    inlineHandlers: registry.inlineHandler,
    maxSteps: config.REGENFLOW_MAX_STEPS,
    maxRunMs: config.REGENFLOW_MAX_TRANSITION_MS,
    settings: processSettings,
    decisions: createDecisionTaskEvaluator(decisions, database.knex),
    clockOffset: () => nodeClock.current(),
  });
  const nodeId = config.REGENFLOW_NODE_ID ?? `${hostname()}-${process.pid}`;
  const engine = new WorkflowEngine({
    knex: database.knex,
    runtime,
    analyse: (xml, options) => analyseDefinition(xml, options),
    nodeId,
    allowScripts: config.REGENFLOW_ALLOW_SCRIPTS,
    settings: processSettings,
    historyRetentionDays: config.REGENFLOW_HISTORY_RETENTION_DAYS,
    warmInstances: config.REGENFLOW_WARM_INSTANCES,
    clock: nodeClock,
  });
  await engine.rearmStartTimers();
  await engine.armHistoryCleanup();
  const logError = (error: unknown) => log(`error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  const poller = new JobPoller(engine, config.REGENFLOW_JOB_POLL_MS, logError);
  // Other nodes on one PostgreSQL hear of new jobs and external tasks at once.
  const wakeUps =
    database.kind === 'postgres' && config.DATABASE_URL
      ? startClusterWakeUps({ engine, knex: database.knex, databaseUrl: config.DATABASE_URL, nodeId, onError: logError })
      : null;
  const telemetry = createTelemetry({
    engine,
    knex: database.knex,
    env: config,
    nodeId,
    maxQueue: config.REGENFLOW_SPAN_QUEUE,
    log,
  });
  // The product modules (src/modules/index.ts) on the core: topics, routes, listeners, start and stop.
  const modules = composeModules({ config, knex: database.knex, engine, decisions, telemetry, registry, nodeId, log, logError }, productModules);
  if (!overrides.registry) for (const topic of modules.topics()) registry.register(topic);
  registerScrapedGauges(modules.get(telemetryModule).metrics, modules.gauges);
  const agents = modules.get(agentsModule);
  const workers = new InProcessWorkers(engine, registry, {
    workerId: `regenflow:${nodeId}`,
    retryTimeout: config.REGENFLOW_WORKER_RETRY_MS,
    onError: logError,
    // A topic a remote agent took over is left to it.
    skipTopic: agents.takenOver,
  });
  let server: Server | null = null;
  let draining = false;

  return {
    config,
    database,
    engine,
    registry,
    poller,
    workers,
    telemetry,
    agents,
    decisions,
    forms,
    modules,
    async listen() {
      const http = createHttpApp(engine, {
        tokens: tokens.registry,
        knownTopics: () => registry.topics().map(({ topic, description, mode }) => ({ topic, description, mode })),
        rateLimitPerMinute: config.REGENFLOW_RATE_LIMIT,
        maxInFlight: config.REGENFLOW_MAX_IN_FLIGHT,
        isReady: async () => {
          await database.knex.raw('select 1');
          return true;
        },
        onError: logError,
        draining: () => draining,
        decisions,
        forms,
        mounts: modules.routes,
        liveLog: modules.get(worktreesModule).liveLogReader,
      });
      await modules.start();
      poller.start();
      workers.start();
      return new Promise<number>((resolve, reject) => {
        server = http.listen(config.PORT, config.HOST, () => {
          const address = server?.address();
          resolve(typeof address === 'object' && address ? address.port : config.PORT);
        });
        // Slow senders cannot hold a connection open (long polling is on the response side).
        server.requestTimeout = 30_000;
        server.headersTimeout = 20_000;
        server.once('error', reject);
      });
    },
    async close(options = {}) {
      // Stop accepting, let in-flight requests and long polls answer (bounded), then stop the rest:
      // a reset connection after a commit makes a client's retry start a duplicate.
      draining = true;
      if (server) await drainServer(server, options.quietMs ?? 100, 10_000);
      await modules.stop();
      await workers.stop();
      await poller.stop();
      await wakeUps?.close();
      await closeAnalyser();
      await closeOtlpDecoder();
      await decisions.close();
      await telemetry.close();
      if (!overrides.database) await database.close();
    },
  };
}

/**
 * Deploys every .bpmn, .dmn and .form file of a folder (unchanged files keep their version).
 * Given the app, its .form and .dmn files are deployed too (first, so processes find their
 * forms and decisions).
 */
export async function deployFolder(target: WorkflowEngine | (Pick<App, 'engine' | 'decisions'> & Partial<Pick<App, 'forms'>>), folder: string): Promise<string[]> {
  const { engine, decisions, forms } = 'decisions' in target ? target : { engine: target, decisions: undefined, forms: undefined };
  let files: string[];
  try {
    files = (await readdir(folder)).filter((file) => file.endsWith('.bpmn') || (decisions && isDecisionResource(file)) || (decisions && forms && isFormResource(file))).sort();
  } catch {
    return [];
  }
  const rank = (file: string) => (isFormResource(file) ? 0 : isDecisionResource(file) ? 1 : 2);
  files.sort((a, b) => rank(a) - rank(b));
  const lines: string[] = [];
  for (const file of files) {
    const resources = [{ name: file, xml: await readFile(join(folder, file), 'utf8') }];
    const options = { name: file, source: 'startup' };
    const deployment = decisions
      ? forms
        ? await deployWithForms(engine, decisions, forms, resources, options)
        : { ...(await deployResources(engine, decisions, resources, options)), forms: [] }
      : { ...(await engine.deploy(resources, options)), decisions: [], forms: [] };
    for (const definition of [...deployment.definitions, ...deployment.decisions, ...deployment.forms]) {
      lines.push(`${definition.key} v${definition.version}${definition.created ? ' (new)' : ''}`);
    }
  }
  return lines;
}

/**
 * Drains a server: for `quietMs` it still reads what clients already sent (new requests get
 * 503 with Connection: close, see http-server), since closing the listener drops every
 * connection whose request Node has not parsed yet as "idle" (a reset the client cannot
 * tell from a lost answer); then it closes the listener and waits for open requests up to
 * `graceMs` before cutting what is left.
 */
async function drainServer(server: Server, quietMs: number, graceMs: number): Promise<void> {
  const open = await new Promise<number>((resolve) => server.getConnections((_error, count) => resolve(count ?? 0)));
  if (open > 0 && quietMs > 0) await new Promise((resolve) => setTimeout(resolve, quietMs));
  const closed = new Promise((resolve) => server.close(resolve));
  // Kept-alive connections that finished their request would hold close() open: close them as they go idle.
  const idle = setInterval(() => server.closeIdleConnections(), 50);
  const grace = setTimeout(() => server.closeAllConnections(), graceMs);
  await closed;
  clearInterval(idle);
  clearTimeout(grace);
}

/** Connect and pool waits never longer than a statement may run. */
function dbTimeouts(statementMs: number) {
  return { statementMs, connectMs: Math.min(5000, statementMs), acquireMs: Math.min(8000, statementMs) };
}
