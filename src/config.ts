import { z } from 'zod';
import { resolveStartTimer } from './engine/timer-schedule.js';

const boolean = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((value) => ['true', '1', 'yes'].includes(value));

/** A repeating ISO 8601 interval a timer start can run on (`R/P1D`, `R/PT6H`, `R5/PT1H`). */
const timerCycle = z.string().superRefine((value, context) => {
  try {
    resolveStartTimer({ timerType: 'timeCycle', expression: value }, {});
  } catch (error) {
    context.addIssue({ code: 'custom', message: `must be an ISO 8601 repeating interval such as R/P1D (${(error as Error).message})` });
  }
});

/** Every setting, read once from the environment at start and frozen. */
const ConfigSchema = z.object({
  /** Port of the HTTP server. @default 3000 */
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  /** Address to bind. Anything but loopback requires REGENFLOW_TOKENS. @default 127.0.0.1 */
  HOST: z.string().min(1).default('127.0.0.1'),
  /** PGlite files, the generated admin token and worktrees. @default ./data */
  REGENFLOW_DATA_DIR: z.string().min(1).default('./data'),
  /** A PostgreSQL server (postgres://…) instead of the embedded PGlite. */
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'DATABASE_URL must be a postgres:// URL')
    .optional(),
  /** Run the embedded PGlite in a worker thread, off the engine's event loop (false: on it, as before). @default true */
  REGENFLOW_PGLITE_THREAD: boolean.default(true),
  /** Connections to the PostgreSQL server. @default 10 */
  REGENFLOW_DB_POOL: z.coerce.number().int().min(1).max(200).default(10),
  /** Requests in flight (probes and long polls aside) past which new ones are shed with 503. */
  REGENFLOW_MAX_IN_FLIGHT: z.coerce.number().int().min(1).max(100_000).default(256),
  /** Longest a PostgreSQL statement may run; connecting and pool waits are capped by it too. */
  REGENFLOW_DB_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(20_000),
  /** Comma-separated role:token pairs, e.g. admin:s3cret,worker:w0rk. */
  REGENFLOW_TOKENS: z.string().optional(),
  /** Run JavaScript script tasks (off: diagrams are code only when an admin says so). @default false */
  REGENFLOW_ALLOW_SCRIPTS: boolean.default(false),
  /** Activities one transition may run before it is stopped with a stepLimit incident (a loop without a wait state). @default 1000 */
  REGENFLOW_MAX_STEPS: z.coerce.number().int().min(10).default(1000),
  /** Milliseconds one transition may run activities before it is stopped the same way. @default 10000 */
  REGENFLOW_MAX_TRANSITION_MS: z.coerce.number().int().min(100).default(10_000),
  /** Milliseconds between two measurements of this node's clock against the database's (history times and saved timers are written on the database's clock). @default 10000 */
  REGENFLOW_CLOCK_CHECK_MS: z.coerce.number().int().min(0).default(10_000),
  /** Days an ended instance and its history are kept before the hourly cleanup deletes them (Camunda 7's history time to live); 0 keeps them forever. @default 0 */
  REGENFLOW_HISTORY_RETENTION_DAYS: z.coerce.number().min(0).default(0),
  /** Parked engines of recently moved instances kept per node (their next transition skips recover); 0 turns it off. @default 64 */
  REGENFLOW_WARM_INSTANCES: z.coerce.number().int().min(0).default(64),
  /** How often the job poller looks for due timers when nothing woke it. @default 1000 */
  REGENFLOW_JOB_POLL_MS: z.coerce.number().int().min(10).default(1000),
  /** API requests per minute per token: far above what one node serves (~100-200 requests/s), so a busy worker or operator token is never refused; it stops a runaway client. @default 30000 */
  REGENFLOW_RATE_LIMIT: z.coerce.number().int().min(1).default(30_000),
  /** Wait before an in-process worker fetches a failed task again. @default 10000 */
  REGENFLOW_WORKER_RETRY_MS: z.coerce.number().int().min(0).default(10_000),
  /** Deploy every .bpmn in this folder at start. @default ./processes */
  REGENFLOW_PROCESSES_DIR: z.string().default('./processes'),
  /** Name of this engine node in locks. @default hostname-pid */
  REGENFLOW_NODE_ID: z.string().optional(),
  /** Engine spans waiting to be written before new ones are dropped (spans never slow a transition). @default 20000 */
  REGENFLOW_SPAN_QUEUE: z.coerce.number().int().min(100).default(20_000),
  // OpenTelemetry, as its specification names the variables (span export by OTLP).
  /** Switches OTLP span export off. @default false */
  OTEL_SDK_DISABLED: boolean.optional(),
  /** service.name of the engine's spans (in the span store and by OTLP). @default regenflow */
  OTEL_SERVICE_NAME: z.string().optional(),
  /** Extra resource attributes, `key=value,key=value`. */
  OTEL_RESOURCE_ATTRIBUTES: z.string().optional(),
  /** `otlp` (default) or `none`. */
  OTEL_TRACES_EXPORTER: z.string().optional(),
  /** Base URL of an OTLP receiver; over HTTP spans go to `<it>/v1/traces`, over gRPC to it as given. Unset: no OTLP export. */
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url().optional(),
  /** Full URL for spans (wins over OTEL_EXPORTER_OTLP_ENDPOINT). */
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z.url().optional(),
  /** `http/protobuf` (default), `http/json` or `grpc`. */
  OTEL_EXPORTER_OTLP_PROTOCOL: z.string().optional(),
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: z.string().optional(),
  /** Request headers, `key=value,key=value` (e.g. `authorization=Bearer%20token`). */
  OTEL_EXPORTER_OTLP_HEADERS: z.string().optional(),
  OTEL_EXPORTER_OTLP_TRACES_HEADERS: z.string().optional(),
  /** `gzip` or `none`. @default none */
  OTEL_EXPORTER_OTLP_COMPRESSION: z.string().optional(),
  OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: z.string().optional(),
  /** Milliseconds per export request. @default 10000 */
  OTEL_EXPORTER_OTLP_TIMEOUT: z.coerce.number().int().min(1).optional(),
  OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: z.coerce.number().int().min(1).optional(),
  /** Process a firing alert starts (by its message start event). @default incident-response */
  REGENFLOW_INCIDENT_PROCESS_KEY: z.string().min(1).default('incident-response'),
  /** How long a fix waits for its alert to resolve before it is rolled back (ISO 8601). @default PT15M */
  REGENFLOW_INCIDENT_VALIDATION_TIMEOUT: z.string().regex(/^P/, 'must be an ISO 8601 duration').default('PT15M'),
  /** An unacknowledged manual review escalates after this long (ISO 8601). @default PT30M */
  REGENFLOW_INCIDENT_REVIEW_ESCALATION: z.string().regex(/^P/, 'must be an ISO 8601 duration').default('PT30M'),
  /** Above this pattern confidence a fix runs without asking. @default 0.9 */
  REGENFLOW_INCIDENT_AUTO_CONFIDENCE: z.coerce.number().min(0).max(1).default(0.9),
  /** Below this confidence (or with no match) a person reviews; in between a person approves. @default 0.5 */
  REGENFLOW_INCIDENT_REVIEW_CONFIDENCE: z.coerce.number().min(0).max(1).default(0.5),
  /** Minutes of a service's spans the incident analysis looks at. @default 15 */
  REGENFLOW_INCIDENT_TELEMETRY_WINDOW_MINUTES: z.coerce.number().int().min(1).default(15),
  /** How long an alert webhook call waits for its incident starts and correlations before it answers 202 (they are queued durably either way); 0 answers once the alerts are stored. @default 0 */
  REGENFLOW_ALERT_ANSWER_WAIT_MS: z.coerce.number().int().min(0).max(60_000).default(0),
  /** How long a node holds queued alert work before another node presumes it dead and takes over. @default 60000 */
  REGENFLOW_ALERT_LEASE_MS: z.coerce.number().int().min(1000).default(60_000),
  /** Folders (comma-separated) below which agents may open git repositories. @default none: the worktree agent refuses every repository */
  REGENFLOW_AGENT_REPOSITORIES: z.string().default(''),
  /** Environment variables (comma-separated names) passed on to agent commands; nothing else is. */
  REGENFLOW_AGENT_ENV: z.string().default('PATH,HOME,LANG,LC_ALL,TZ,TMPDIR,NODE_ENV,npm_config_cache'),
  /** An agent that has not fetched for this long is unhealthy and its locked tasks are released. @default 60000 */
  REGENFLOW_AGENT_HEARTBEAT_MS: z.coerce.number().int().min(100).default(60_000),
  /** YAML with the command profiles agents run (deploy.staging, agent.execute, …). @default service-tasks/agent/profiles.yaml */
  REGENFLOW_AGENT_PROFILES: z.string().optional(),
  /** YAML with the validation phases (command, weight, timeout, required). @default service-tasks/validator/phases.yaml */
  REGENFLOW_VALIDATOR_PHASES: z.string().optional(),
  /** How often the evolution cycle runs (ISO 8601 repeating interval; its timer start reads it). @default R/P1D */
  REGENFLOW_EVOLUTION_CADENCE: timerCycle.default('R/P1D'),
  /** How often the nightly CI pipeline runs (ISO 8601 repeating interval). @default R/PT24H */
  REGENFLOW_CI_NIGHTLY_CADENCE: timerCycle.default('R/PT24H'),
  /** Repository the nightly CI pipeline run validates (the timer start of ci-pipeline). */
  REGENFLOW_CI_REPOSITORY: z.string().optional(),
  /** Ref the nightly CI run validates; it is also what a failed nightly release rolls back to. @default main */
  REGENFLOW_CI_REF: z.string().default('main'),
  /** Overall validation score a run needs to pass the quality gate. @default 0.8 */
  REGENFLOW_QUALITY_GATE: z.coerce.number().min(0).max(1).default(0.8),
  /**
   * YAML or JSON file declaring per system how a failed DMEDI cycle is rolled back: a webhook
   * (`hooks: [{ system, url, token?, tokenHeader?, timeoutMs? }]`, see
   * service-tasks/entropy/rollback-hooks.ts). A system without one is rolled back by a person.
   */
  REGENFLOW_ROLLBACK_HOOKS: z.string().optional(),
  /** OpenAI-compatible chat completions endpoint (e.g. http://127.0.0.1:11434/v1); templates are used when unset. */
  LLM_BASE_URL: z.string().url().optional(),
  /** Model name sent to LLM_BASE_URL. @default gpt-4o-mini */
  LLM_MODEL: z.string().default('gpt-4o-mini'),
  /** Bearer key for LLM_BASE_URL. */
  LLM_API_KEY: z.string().optional(),
});

export type Config = Readonly<z.infer<typeof ConfigSchema>>;

export function loadConfig(environment: NodeJS.ProcessEnv = process.env): Config {
  // An empty variable means "not set" (`DATABASE_URL= npm start` uses the embedded default).
  const given = Object.fromEntries(Object.entries(environment).filter(([, value]) => value !== ''));
  const parsed = ConfigSchema.safeParse(given);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ');
    throw new Error(`invalid configuration: ${problems}`);
  }
  return Object.freeze(parsed.data);
}
