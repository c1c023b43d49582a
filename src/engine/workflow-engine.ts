import { EventEmitter } from 'node:events';
import type { Knex } from 'knex';
import * as definitionsStore from '../store/definitions.js';
import type { AuditEntry } from '../store/audit-entries.js';
import type { fetchAndLock as fetchAndLockRows } from '../store/external-tasks.js';
import type { InstanceRow } from '../store/transitions.js';
import type { DefinitionAnalysis } from './definitions/analyse-definition.js';
import { DefinitionCache } from './definition-cache.js';
import { Deployments, type DeployOptions } from './commands/deployments.js';
import { Instances } from './commands/instances.js';
import { UserTasks } from './commands/user-tasks.js';
import { Correlation } from './commands/correlation.js';
import { ExternalTasks } from './commands/external-tasks.js';
import { Incidents } from './commands/incidents.js';
import { Migrations } from './commands/migrations.js';
import { BatchOperations } from './jobs/batch-operations.js';
import { JobRunner } from './jobs/job-runner.js';
import { CamundaQueries } from './queries/camunda-queries.js';
import { DefinitionQueries } from './queries/definition-queries.js';
import { TaskFilters } from './task-filters.js';
import { AuditLog } from './audit-log.js';
import { OperatorQueries } from './queries/operator-queries.js';
import { Transitions } from './transitions.js';
import type {
  CorrelateOptions,
  CorrelationResult,
  DeployResource,
  Deployment,
  EngineContext,
  StartOptions,
  WorkflowEngineOptions,
} from './engine-context.js';
import type { TransitionEvent, Variables } from './types.js';

export type {
  CorrelateOptions,
  CorrelationResult,
  DeployedDefinition,
  DeployResource,
  Deployment,
  StartOptions,
  WorkflowEngineOptions,
} from './engine-context.js';
export { calledInstanceId } from './transitions.js';

/**
 * The engine's public surface: a thin facade over one module per behaviour — the transition
 * (`transitions.ts`), the command families (`commands/`: deployments, instances, user tasks,
 * correlation, external tasks, incidents) and the job runner with one handler per job kind
 * (`jobs/`). It owns the events every module emits:
 *
 * `instance.started` and `instance.ended` ({ id, processKey, status }),
 * `transition.committed` ({ instanceId, parentInstanceId, processKey, seconds }), `transition.outcome` (CommittedTransition,
 * after every commit that ran or ended an instance), `external-tasks.created` (topics),
 * `external-tasks.fetching` (workerId, topics: every fetch is a worker's heartbeat),
 * `external-task.failed` (ExternalTaskFailureReport, after a worker's failure report commits),
 * `incident.created` ({ instanceId, definitionId?, processKey, activityId, type }, after its commit),
 * `jobs.scheduled`, `job.fired` ({ kind, dueAt, firedAt }), `history.cleaned` ({ deleted, olderThanDays }).
 */
export class WorkflowEngine extends EventEmitter {
  readonly knex: Knex;
  private readonly transitions: Transitions;
  private readonly deployments: Deployments;
  private readonly instances: Instances;
  private readonly userTasks: UserTasks;
  private readonly correlation: Correlation;
  private readonly externalTasks: ExternalTasks;
  private readonly incidents: Incidents;
  private readonly jobs: JobRunner;
  /** Moving running instances to another version (plans, validation, per-instance migration). */
  readonly migrations: Migrations;
  /** Batch operations over many instances (migrate, cancel, retry incidents, set variables), run as chunk jobs. */
  readonly batches: BatchOperations;
  /** The reads of the Camunda 7 REST subset (definitions, instances, tasks, incidents: list, count, find). */
  readonly camundaQueries: CamundaQueries;
  /** What operators look at through the native API and the UI: instance lists and details, history, tasks, incidents, jobs, activity figures. */
  readonly queries: OperatorQueries;
  /** Deployed process definitions: one version, a key's latest, a list. */
  readonly definitionQueries: DefinitionQueries;
  /** Saved task filters (list, count, find, create, update, delete). */
  readonly taskFilters: TaskFilters;
  /** The audit log: refused actions, entries recorded after a job ran, the answers kept for Idempotency-Keys, reads. */
  readonly auditLog: AuditLog;

  constructor(options: WorkflowEngineOptions) {
    super();
    this.knex = options.knex;
    const resolved = { allowScripts: false, settings: {}, maxAttempts: 8, jobLeaseMs: 60_000, jobRetryDelayMs: 10_000, jobMaxLeases: 3, historyRetentionDays: 0, warmInstances: 64, clock: { current: async () => 0, known: () => 0, now: () => new Date() }, ...options };
    const context: EngineContext = {
      knex: options.knex,
      runtime: options.runtime,
      definitions: new DefinitionCache(
        (id, via) => definitionsStore.findDefinition(via ?? options.knex, id),
        500,
        (key) => definitionsStore.findLatestDefinition(options.knex, key),
      ),
      options: resolved,
      emit: (event, ...args) => this.emit(event, ...args),
    };
    // A deploy here or (relayed by the cluster wake-ups) on another node changes the latest versions.
    this.on('definitions.deployed', () => context.definitions.forgetLatest());
    this.transitions = new Transitions(context);
    this.deployments = new Deployments(context, this.transitions);
    this.instances = new Instances(context, this.transitions);
    this.userTasks = new UserTasks(context, this.transitions);
    this.correlation = new Correlation(context, this.transitions);
    this.externalTasks = new ExternalTasks(context, this.transitions);
    this.incidents = new Incidents(context, this.transitions);
    this.jobs = new JobRunner(context, this.transitions);
    this.migrations = new Migrations(context, this.transitions);
    this.batches = new BatchOperations(context, this.transitions, {
      migrations: this.migrations,
      cancel: (id, reason, audit) => this.instances.cancel(id, reason, audit),
      retryIncident: (id, retries, audit) => this.incidents.retryIncident(id, retries, audit),
    });
    this.jobs.addHandler('batch', this.batches.chunkJob());
    this.camundaQueries = new CamundaQueries(options.knex);
    this.queries = new OperatorQueries(options.knex);
    this.definitionQueries = new DefinitionQueries(options.knex);
    this.taskFilters = new TaskFilters(options.knex);
    this.auditLog = new AuditLog(options.knex);
  }

  /**
   * Analyses (parse + lint) every resource, then stores each process as a new version of
   * its key, unless the latest version has the same content. All or nothing.
   */
  async deploy(resources: DeployResource[], options: DeployOptions = {}): Promise<Deployment> {
    return this.deployments.deploy(resources, options);
  }

  /** Parses and lints like a deploy, stores nothing: the report a deploy would give. */
  async lint(resource: DeployResource): Promise<Pick<DefinitionAnalysis, 'ok' | 'errors' | 'warnings' | 'executableProcessIds'>> {
    return this.deployments.lint(resource);
  }

  /**
   * Settings are read when a timer start is armed, so a server restarted with another
   * setting (say a new evolution cadence) re-arms the timers of the deployed versions
   * whose text now resolves differently. Returns how many it re-armed.
   */
  async rearmStartTimers(): Promise<number> {
    return this.deployments.rearmStartTimers();
  }

  async start(options: StartOptions): Promise<InstanceRow> {
    return this.instances.start(options);
  }

  async cancel(instanceId: string, reason = 'cancelled', audit?: AuditEntry): Promise<void> {
    return this.instances.cancel(instanceId, reason, audit);
  }

  async setVariables(instanceId: string, variables: Variables, audit?: AuditEntry): Promise<InstanceRow> {
    return this.instances.setVariables(instanceId, variables, audit);
  }

  async getInstance(id: string): Promise<InstanceRow> {
    return this.transitions.getInstance(id);
  }

  /**
   * One transition: load, run the engine in memory, commit with the version guard. A lost
   * race is retried from a fresh load; nothing of the loser is written.
   */
  async transition(
    instanceId: string,
    event: TransitionEvent,
    guard?: (trx: Knex.Transaction) => Promise<void>,
  ): Promise<InstanceRow> {
    return this.transitions.transition(instanceId, event, guard);
  }

  async completeUserTask(taskId: string, variables: Variables = {}, audit?: AuditEntry): Promise<InstanceRow> {
    return this.userTasks.completeUserTask(taskId, variables, audit);
  }

  async claimUserTask(taskId: string, userId: string | null, audit?: AuditEntry): Promise<void> {
    return this.userTasks.claimUserTask(taskId, userId, audit);
  }

  async correlateMessage(options: CorrelateOptions): Promise<CorrelationResult[]> {
    return this.correlation.correlateMessage(options);
  }

  /** Delivers a signal to every waiting catch event and starts every signal start event. */
  async broadcastSignal(name: string, variables: Variables = {}, audit?: AuditEntry): Promise<{ delivered: number; started: number }> {
    return this.correlation.broadcastSignal(name, variables, audit);
  }

  async fetchAndLock(request: Parameters<typeof fetchAndLockRows>[1]) {
    return this.externalTasks.fetchAndLock(request);
  }

  /** The topic of an external task (for per-token topic limits). */
  async externalTaskTopic(taskId: string): Promise<string> {
    return this.externalTasks.externalTaskTopic(taskId);
  }

  async completeExternalTask(taskId: string, workerId: string, variables: Variables = {}): Promise<void> {
    return this.externalTasks.completeExternalTask(taskId, workerId, variables);
  }

  async externalTaskBpmnError(
    taskId: string,
    workerId: string,
    error: { errorCode: string; errorMessage?: string; variables?: Variables },
  ): Promise<void> {
    return this.externalTasks.externalTaskBpmnError(taskId, workerId, error);
  }

  /** Camunda 7 failure: retries count down; at 0 an incident is raised and the task is not fetched. */
  async externalTaskFailure(
    taskId: string,
    workerId: string,
    failure: { errorMessage?: string; errorDetails?: string; retries: number; retryTimeout?: number },
  ): Promise<void> {
    return this.externalTasks.externalTaskFailure(taskId, workerId, failure);
  }

  async extendExternalTaskLock(taskId: string, workerId: string, newDuration: number): Promise<void> {
    return this.externalTasks.extendExternalTaskLock(taskId, workerId, newDuration);
  }

  async unlockExternalTask(taskId: string): Promise<void> {
    return this.externalTasks.unlockExternalTask(taskId);
  }

  async lockExternalTask(taskId: string, workerId: string, lockDuration: number): Promise<void> {
    return this.externalTasks.lockExternalTask(taskId, workerId, lockDuration);
  }

  /** Retries what the incident stopped; resolves it when the retry goes through. */
  async retryIncident(incidentId: string, retries = 1, audit?: AuditEntry): Promise<void> {
    return this.incidents.retryIncident(incidentId, retries, audit);
  }

  async resolveIncident(incidentId: string, audit?: AuditEntry): Promise<void> {
    return this.incidents.resolveIncident(incidentId, audit);
  }

  /** Arms (or, with retention off, drops) the one history-cleanup job; called once at start. */
  async armHistoryCleanup(): Promise<void> {
    return this.jobs.armHistoryCleanup();
  }

  /** Claims and runs due jobs; returns how many ran. Called by the job poller of every node. */
  async runDueJobs(limit = 20): Promise<number> {
    // A signal broadcast whose node died mid-way is finished by the next poller that looks.
    const resumed = (await this.correlation.resumeAbandonedBroadcast()) ? 1 : 0;
    return resumed + (await this.jobs.runDueJobs(limit));
  }

  /**
   * Runs one job now, due or not, even one whose retries are used up (an operator's
   * "execute now"). A timer fires at once. A failure counts its retries down as a polled
   * run would, and is thrown to the caller.
   */
  async executeJob(jobId: string): Promise<void> {
    return this.jobs.executeJob(jobId);
  }

  /** When, by this node's clock, a job can next be claimed (leases and back-offs count). */
  async nextJobDueAt(): Promise<Date | null> {
    return this.jobs.nextJobDueAt();
  }
}
