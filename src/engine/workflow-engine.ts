import { createHash, randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Knex } from 'knex';
import { AppError, isRetryableConflict, notFound } from '../errors.js';
import * as definitionsStore from '../store/definitions.js';
import * as externalTasksStore from '../store/external-tasks.js';
import { externalTaskAttempt } from '../store/external-task-attempts.js';
import * as jobsStore from '../store/jobs.js';
import { appendAuditEntry, type AuditEntry } from '../store/audit-entries.js';
import { hasOpenIncident, insertIncident, isParkedExecution, resolveLeftIncidents } from '../store/incidents.js';
import { endInstance, insertInstance, lockInstance, updateInstance, type InstanceRow } from '../store/transitions.js';
import type { DefinitionAnalysis, Finding, ProcessInfo } from './definitions/analyse-definition.js';
import { DefinitionCache, type CompiledDefinition } from './definition-cache.js';
import { InstanceLocks } from './instance-locks.js';
import type { ProcessRuntime } from './runtime/process-runtime.js';
import { safeCopy } from './runtime/process-runtime.js';
import { activityOfExecution } from './runtime/execution-ids.js';
import { nextStartTimerDue, resolveStartTimer, type ProcessSettings } from './timer-schedule.js';
import type { CommittedTransition, ExternalTaskFailureReport, TransitionEvent, TransitionOutcome, Variables } from './types.js';

export interface WorkflowEngineOptions {
  knex: Knex;
  runtime: ProcessRuntime;
  analyse: (xml: string, options: { allowScripts: boolean }) => Promise<DefinitionAnalysis>;
  /** Names this node in job and external-task locks. */
  nodeId: string;
  allowScripts?: boolean;
  /** What timer start events read as `${environment.settings.NAME}`; the runtime gets the same. */
  settings?: ProcessSettings;
  /** Attempts of one transition against concurrent updates. @default 8 */
  maxAttempts?: number;
  /** How long a claimed job stays with this node. @default 60000 */
  jobLeaseMs?: number;
  /** Back-off before a failed job runs again. @default 10000 */
  jobRetryDelayMs?: number;
  /** Leases a job may outlive (claimed again after its lease ran out) before it is quarantined as an incident. @default 3 */
  jobMaxLeases?: number;
}

export interface DeployResource {
  name: string;
  xml: string;
}

export interface DeployedDefinition {
  id: string;
  key: string;
  version: number;
  name: string | null;
  executable: boolean;
  /** False when the same content was already the latest version. */
  created: boolean;
  warnings: DefinitionAnalysis['warnings'];
}

export interface Deployment {
  id: string;
  name: string;
  definitions: DeployedDefinition[];
}

export interface StartOptions {
  processKey?: string;
  definitionId?: string;
  variables?: Variables;
  businessKey?: string | null;
  audit?: AuditEntry;
}

export interface CorrelateOptions {
  messageName: string;
  businessKey?: string;
  processInstanceId?: string;
  /** Process variables the instance must have (Camunda 7 `correlationKeys`). */
  correlationKeys?: Variables;
  variables?: Variables;
  /** Deliver to every matching subscription instead of exactly one. */
  all?: boolean;
  audit?: AuditEntry;
}

/** How a new instance starts: its variables and the event its first transition applies. */
interface StartRunOptions {
  variables?: Variables;
  businessKey?: string | null;
  event?: TransitionEvent;
  /** A timer start event whose job fired. */
  dueNow?: string;
  parentExecutionId?: string;
  audit?: AuditEntry;
  /** A called instance's id, derived from its call activity's stable key. */
  id?: string;
}

/** A new instance run in memory, ready to be written (with its call activities' children). */
interface PreparedInstance {
  id: string;
  definition: CompiledDefinition;
  businessKey: string | null;
  parentExecutionId?: string;
  outcome: TransitionOutcome;
  children: PreparedInstance[];
  /** The row as written, once it is. */
  row?: InstanceRow;
}

const MAX_CALL_DEPTH = 20;

export interface CorrelationResult {
  resultType: 'Execution' | 'ProcessDefinition';
  instanceId: string;
}

/**
 * Events: `instance.started` and `instance.ended` ({ id, processKey, status }),
 * `transition.committed` ({ instanceId, parentInstanceId, processKey, seconds }), `transition.outcome` (CommittedTransition,
 * after every commit that ran or ended an instance), `external-tasks.created` (topics),
 * `external-tasks.fetching` (workerId, topics: every fetch is a worker's heartbeat),
 * `external-task.failed` (ExternalTaskFailureReport, after a worker's failure report commits),
 * `incident.created` ({ instanceId, processKey, activityId, type }, after its commit),
 * `jobs.scheduled`, `job.fired` ({ kind, dueAt, firedAt }).
 */
export class WorkflowEngine extends EventEmitter {
  readonly knex: Knex;
  private readonly runtime: ProcessRuntime;
  private readonly definitions: DefinitionCache;
  private readonly locks = new InstanceLocks();
  private readonly options: Required<Omit<WorkflowEngineOptions, 'knex' | 'runtime' | 'analyse'>> & WorkflowEngineOptions;

  constructor(options: WorkflowEngineOptions) {
    super();
    this.knex = options.knex;
    this.runtime = options.runtime;
    this.options = { allowScripts: false, settings: {}, maxAttempts: 8, jobLeaseMs: 60_000, jobRetryDelayMs: 10_000, jobMaxLeases: 3, ...options };
    this.definitions = new DefinitionCache((id, via) => definitionsStore.findDefinition(via ?? this.knex, id));
  }

  // ---------------------------------------------------------------- deployments

  /**
   * Analyses (parse + lint) every resource, then stores each process as a new version of
   * its key, unless the latest version has the same content. All or nothing.
   */
  async deploy(resources: DeployResource[], options: { name?: string; source?: string; audit?: AuditEntry } = {}): Promise<Deployment> {
    if (!resources.length) throw new AppError('VALIDATION_FAILED', 'a deployment needs at least one BPMN resource');
    const analysed: Array<{ resource: DeployResource; analysis: DefinitionAnalysis }> = [];
    for (const resource of resources) {
      const analysis = await this.options.analyse(resource.xml, { allowScripts: this.options.allowScripts });
      if (!analysis.ok) {
        const shown = analysis.errors.slice(0, 5).map(formatFinding).join('; ');
        const more = analysis.errors.length > 5 ? ` (and ${analysis.errors.length - 5} more)` : '';
        throw new AppError(
          'INVALID_DEFINITION',
          `${resource.name} was rejected: ${shown || 'invalid'}${more}`,
          { details: { resource: resource.name, errors: analysis.errors, warnings: analysis.warnings } },
        );
      }
      const timerErrors = this.startTimerErrors(analysis);
      if (timerErrors.length) {
        throw new AppError('INVALID_DEFINITION', `${resource.name} was rejected: ${timerErrors.map(formatFinding).join('; ')}`, {
          details: { resource: resource.name, errors: timerErrors, warnings: analysis.warnings },
        });
      }
      analysed.push({ resource, analysis });
    }

    const deploymentId = randomUUID();
    const deployment: Deployment = { id: deploymentId, name: options.name ?? resources[0]!.name, definitions: [] };
    await this.knex.transaction(async (trx) => {
      await definitionsStore.insertDeployment(trx, { id: deploymentId, name: deployment.name, source: options.source ?? 'api' });
      const keys = [...new Set(analysed.flatMap(({ analysis }) => analysis.processes.map((process) => process.id)))].sort();
      for (const key of keys) await definitionsStore.lockDefinitionKey(trx, key);
      await refuseTakenMessageStarts(trx, analysed.flatMap(({ analysis }) => analysis.processes.filter((process) => process.isExecutable)));
      for (const { resource, analysis } of analysed) {
        const checksum = createHash('sha256').update(resource.xml).digest('hex');
        for (const process of analysis.processes) {
          const latest = await definitionsStore.findLatestVersion(trx, process.id);
          if (latest && latest.checksum === checksum) {
            deployment.definitions.push(summarise(latest, false, analysis));
            continue;
          }
          const version = (latest?.version ?? 0) + 1;
          const row = {
            id: `${process.id}:${version}:${deploymentId.slice(0, 8)}`,
            key: process.id,
            version,
            name: process.name ?? null,
            deployment_id: deploymentId,
            resource_name: resource.name,
            checksum,
            xml: resource.xml,
            source_context: process.isExecutable ? (analysis.serializedContext ?? null) : null,
            executable: process.isExecutable && Boolean(analysis.serializedContext),
            info: process as unknown as Record<string, unknown>,
            report: { warnings: analysis.warnings },
          };
          await definitionsStore.insertDefinition(trx, row);
          if (row.executable) await this.replaceStartTriggers(trx, row.id, process);
          deployment.definitions.push(summarise(row, true, analysis));
        }
      }
      if (options.audit) {
        const versions = deployment.definitions.map((definition) => definition.id);
        await appendAuditEntry(trx, { ...options.audit, details: { ...options.audit.details, deploymentId, definitions: versions } });
      }
    });
    this.emit('jobs.scheduled');
    return deployment;
  }

  /** Parses and lints like a deploy, stores nothing: the report a deploy would give. */
  async lint(resource: DeployResource): Promise<Pick<DefinitionAnalysis, 'ok' | 'errors' | 'warnings' | 'executableProcessIds'>> {
    const analysis = await this.options.analyse(resource.xml, { allowScripts: this.options.allowScripts });
    const { warnings, executableProcessIds } = analysis;
    // The timer checks a deploy runs after the analysis, so lint passes exactly what deploy stores.
    const errors = analysis.ok ? this.startTimerErrors(analysis) : analysis.errors;
    return { ok: analysis.ok && !errors.length, errors, warnings, executableProcessIds };
  }

  /** Message, signal and timer start events belong to the latest version only. */
  private async replaceStartTriggers(trx: Knex.Transaction, definitionId: string, process: ProcessInfo): Promise<void> {
    const olderVersions = trx('process_definitions').where({ key: process.id }).select('id');
    await trx('subscriptions').whereNull('instance_id').whereIn('definition_id', olderVersions).delete();
    await trx('jobs').where({ kind: 'timer-start' }).whereIn('definition_id', olderVersions).delete();
    for (const start of process.messageStartEvents) {
      await trx('subscriptions').insert({
        id: randomUUID(),
        kind: 'message-start',
        name: start.messageName,
        ref_id: start.messageRefId ?? start.messageName,
        definition_id: definitionId,
        activity_id: start.activityId,
      });
    }
    for (const start of process.signalStartEvents) {
      await trx('subscriptions').insert({
        id: randomUUID(),
        kind: 'signal-start',
        name: start.signalName,
        ref_id: start.signalRefId ?? start.signalName,
        definition_id: definitionId,
        activity_id: start.activityId,
      });
    }
    for (const start of process.timerStartEvents) {
      const { expression, first } = resolveStartTimer(start, this.options.settings);
      await trx('jobs').insert({
        id: randomUUID(),
        kind: 'timer-start',
        definition_id: definitionId,
        activity_id: start.activityId,
        timer_key: `${definitionId}/${start.activityId}`,
        due_at: first.dueAt,
        payload: JSON.stringify({ timerType: start.timerType, expression, remaining: first.remaining }),
      });
    }
  }

  /**
   * Timer starts that would never fire, or read a setting this server does not have: deploy
   * errors naming the event. Timers of event sub-processes may read instance variables, so
   * only their static texts are checked here; the runtime turns the others into incidents.
   */
  private startTimerErrors(analysis: DefinitionAnalysis): Finding[] {
    const errors: Finding[] = [];
    for (const process of analysis.processes) {
      if (!process.isExecutable) continue;
      const eventSubProcessStarts = (process.eventSubProcessTimerStarts ?? []).filter((start) => !isExpression(start.expression));
      for (const start of [...process.timerStartEvents, ...eventSubProcessStarts]) {
        try {
          resolveStartTimer(start, this.options.settings);
        } catch (error) {
          errors.push({ severity: 'error', rule: 'timer', elementId: start.activityId, message: (error as Error).message });
        }
      }
    }
    return errors;
  }

  /**
   * Settings are read when a timer start is armed, so a server restarted with another
   * setting (say a new evolution cadence) re-arms the timers of the deployed versions
   * whose text now resolves differently. Returns how many it re-armed.
   */
  async rearmStartTimers(now = new Date()): Promise<number> {
    let rearmed = 0;
    for (const job of await jobsStore.listTimerStartJobs(this.knex)) {
      const payload = job.payload as { timerType: ProcessInfo['timerStartEvents'][number]['timerType']; expression: string };
      const info = (await definitionsStore.findDefinitionSummary(this.knex, job.definition_id as string))?.info as ProcessInfo | undefined;
      const start = info?.timerStartEvents?.find((candidate) => candidate.activityId === job.activity_id);
      if (!start) continue;
      let resolved: ReturnType<typeof resolveStartTimer>;
      try {
        resolved = resolveStartTimer(start, this.options.settings, now);
      } catch {
        continue; // a setting this node lacks: keep the schedule the deploying node armed
      }
      if (resolved.expression === payload.expression && start.timerType === payload.timerType) continue;
      // A job leased by a node that died is re-armed too: its next fire would keep the old text.
      const next = { timerType: start.timerType, expression: resolved.expression, remaining: resolved.first.remaining };
      if (await jobsStore.rescheduleTimerStartJob(this.knex, job.id, resolved.first.dueAt, next, now)) rearmed++;
    }
    if (rearmed) this.emit('jobs.scheduled');
    return rearmed;
  }

  // ---------------------------------------------------------------- instances

  async start(options: StartOptions): Promise<InstanceRow> {
    const definition = await this.resolveDefinition(options);
    return this.startInstance(definition, { variables: options.variables, businessKey: options.businessKey, audit: options.audit });
  }

  private async resolveDefinition(options: { processKey?: string; definitionId?: string }): Promise<definitionsStore.DefinitionSummary> {
    const row = options.definitionId
      ? await definitionsStore.findDefinition(this.knex, options.definitionId)
      : options.processKey
        ? await definitionsStore.findLatestDefinition(this.knex, options.processKey)
        : undefined;
    if (!row) throw notFound('process definition', options.definitionId ?? options.processKey ?? '(none given)');
    if (!row.executable) throw new AppError('NOT_EXECUTABLE', `process definition ${row.id} is not executable`);
    return row;
  }

  /**
   * The first transition of an instance runs before anything is stored: an instance whose
   * start fails is never half-created; the caller gets the error.
   */
  private async startInstance(
    definitionRow: { id: string; key: string },
    options: StartRunOptions,
  ): Promise<InstanceRow> {
    const prepared = await this.prepareInstance(definitionRow, options);
    const row = await this.knex.transaction(async (trx) => {
      const written = await this.writeInstance(trx, prepared);
      if (options.audit) await appendAuditEntry(trx, { ...options.audit, instanceId: written.id });
      return written;
    });
    this.announceAll(prepared, row);
    return row;
  }

  /**
   * Runs a new instance's first transition, and those of the children its call activities
   * start, in memory and outside any database transaction (handlers may use the database;
   * the embedded PGlite has a single connection).
   */
  private async prepareInstance(definitionRow: { id: string; key: string }, options: StartRunOptions, depth = 0): Promise<PreparedInstance> {
    const definition = await this.definitions.get(definitionRow.id);
    const id = options.id ?? randomUUID();
    const outcome = await this.runtime.run(
      definition,
      {
        instanceId: id,
        processKey: definition.key,
        businessKey: options.businessKey,
        variables: safeCopy(options.variables ?? {}),
        dueNow: options.dueNow,
      },
      options.event ?? null,
    );
    const children = await this.prepareChildren(null, outcome, options.businessKey ?? null, depth);
    return { id, definition, businessKey: options.businessKey ?? null, parentExecutionId: options.parentExecutionId, outcome, children };
  }

  /** Children for call activities that have none yet. */
  private async prepareChildren(
    parentId: string | null,
    outcome: TransitionOutcome,
    businessKey: string | null,
    depth: number,
  ): Promise<PreparedInstance[]> {
    if (!outcome.callActivities.length) return [];
    if (depth >= MAX_CALL_DEPTH) {
      throw new AppError('CALL_DEPTH_EXCEEDED', `call activities nest deeper than ${MAX_CALL_DEPTH} levels; does a process call itself?`);
    }
    const existing = new Set<string>(
      parentId ? await this.knex('process_instances').where({ parent_instance_id: parentId }).pluck('parent_execution_id') : [],
    );
    const children: PreparedInstance[] = [];
    for (const call of outcome.callActivities) {
      if (existing.has(call.executionId)) continue;
      const called = await definitionsStore.findLatestDefinition(this.knex, call.calledElement);
      if (!called?.executable) {
        throw new AppError('NOT_FOUND', `${call.activityId} calls process '${call.calledElement}', which is not deployed`);
      }
      // Camunda 7 passes variables only through camunda:in; regenflow passes all of them.
      children.push(
        await this.prepareInstance(
          called,
          { variables: outcome.variables, businessKey, parentExecutionId: call.executionId, id: calledInstanceId(call.key) },
          depth + 1,
        ),
      );
    }
    return children;
  }

  private async writeInstance(trx: Knex.Transaction, prepared: PreparedInstance, parentInstanceId?: string): Promise<InstanceRow> {
    const row = await insertInstance(
      trx,
      {
        id: prepared.id,
        definitionId: prepared.definition.id,
        processKey: prepared.definition.key,
        businessKey: prepared.businessKey,
        parentInstanceId: parentInstanceId ?? null,
        parentExecutionId: prepared.parentExecutionId ?? null,
      },
      prepared.outcome,
    );
    await this.afterTransition(trx, row, prepared.outcome, prepared.children);
    prepared.row = row;
    return row;
  }

  private announceAll(prepared: PreparedInstance, row: InstanceRow): void {
    this.emit('instance.started', { id: row.id, processKey: row.process_key });
    this.announce(row, prepared.outcome, null);
    for (const child of prepared.children) {
      const childRow = child.row ?? { ...row, id: child.id, process_key: child.definition.key, status: child.outcome.status, parent_instance_id: row.id };
      this.announceAll(child, childRow);
    }
  }

  async getInstance(id: string): Promise<InstanceRow> {
    const row = await this.knex('process_instances').where({ id }).first();
    if (!row) throw notFound('process instance', id);
    return row;
  }

  async cancel(instanceId: string, reason = 'cancelled', audit?: AuditEntry): Promise<void> {
    let descendants: InstanceRow[] = [];
    await this.withRetries(instanceId, async () => {
      const row = await this.getInstance(instanceId);
      if (row.status !== 'active') throw new AppError('INSTANCE_ENDED', `process instance ${instanceId} has already ended (${row.status})`);
      // Its parent's call activity waits for it: cancel the root, as Zeebe asks (see README).
      if (row.parent_instance_id) {
        throw new AppError(
          'CALLED_INSTANCE',
          `process instance ${instanceId} was started by call activity ${activityOfExecution(row.parent_execution_id ?? '')} of instance ${row.parent_instance_id}; cancel that instance instead`,
          { details: { parentInstanceId: row.parent_instance_id } },
        );
      }
      descendants = await this.knex.transaction(async (trx) => {
        await endInstance(trx, row, 'cancelled', reason);
        const orphans = await this.endDescendants(trx, instanceId, () => 'cancelled');
        if (audit) await appendAuditEntry(trx, { ...audit, instanceId });
        return orphans;
      });
    });
    const cancelled = await this.getInstance(instanceId);
    this.emit('transition.outcome', { instance: cancelled, event: null, outcome: null } satisfies CommittedTransition);
    this.announceOrphans(descendants);
    this.emit('instance.ended', { id: instanceId, status: 'cancelled', processKey: cancelled.process_key });
  }

  async setVariables(instanceId: string, variables: Variables, audit?: AuditEntry): Promise<InstanceRow> {
    return this.transition(instanceId, { type: 'set-variables', variables }, this.auditing(audit, instanceId));
  }

  /**
   * Writes the caller's audit entry inside the transition's own commit. The entry is an
   * explicit argument rather than request context (AsyncLocalStorage): events emitted while
   * a request runs wake the job poller and in-process workers, whose timers would inherit
   * that context and be recorded as the caller's actions.
   */
  private auditing(audit: AuditEntry | undefined, instanceId: string, guard?: (trx: Knex.Transaction) => Promise<void>) {
    if (!audit) return guard;
    return async (trx: Knex.Transaction) => {
      if (guard) await guard(trx);
      await appendAuditEntry(trx, { ...audit, instanceId });
    };
  }

  // ---------------------------------------------------------------- user tasks

  async completeUserTask(taskId: string, variables: Variables = {}, audit?: AuditEntry): Promise<InstanceRow> {
    const task = await this.knex('user_tasks').where({ id: taskId }).first();
    if (!task) throw notFound('task', taskId);
    return this.transition(
      task.instance_id,
      { type: 'complete-user-task', executionId: task.execution_id, variables },
      this.auditing(audit, task.instance_id),
    );
  }

  async claimUserTask(taskId: string, userId: string | null, audit?: AuditEntry): Promise<void> {
    const updated = await this.knex.transaction(async (trx) => {
      const count = await trx('user_tasks')
        .where({ id: taskId })
        .andWhere((q) => (userId ? q.whereNull('assignee').orWhere('assignee', userId) : q))
        .update({ assignee: userId });
      if (count && audit) await appendAuditEntry(trx, audit);
      return count;
    });
    if (!updated) {
      const task = await this.knex('user_tasks').where({ id: taskId }).first();
      if (!task) throw notFound('task', taskId);
      throw new AppError('TASK_ALREADY_CLAIMED', `task ${taskId} is already claimed by ${task.assignee}`);
    }
  }

  // ---------------------------------------------------------------- messages and signals

  async correlateMessage(options: CorrelateOptions): Promise<CorrelationResult[]> {
    for (let attempt = 1; ; attempt++) {
      const query = this.knex('subscriptions as s')
        .join('process_instances as i', 'i.id', 's.instance_id')
        .where({ 's.kind': 'message', 's.name': options.messageName, 'i.status': 'active' })
        .select('s.instance_id', 's.execution_id', 's.ref_id')
        .orderBy('s.created_at');
      if (options.businessKey) query.andWhere('i.business_key', options.businessKey);
      if (options.processInstanceId) query.andWhere('s.instance_id', options.processInstanceId);
      if (options.correlationKeys && Object.keys(options.correlationKeys).length) {
        query.andWhereRaw('i.variables @> ?::jsonb', [JSON.stringify(safeCopy(options.correlationKeys))]);
      }
      const subscriptions = await query;
      if (subscriptions.length > 1 && !options.all) {
        throw new AppError(
          'MESSAGE_CORRELATION_AMBIGUOUS',
          `message '${options.messageName}' matches ${subscriptions.length} executions; narrow it with a business key, ` +
            'correlation keys or an instance id, or correlate to all',
        );
      }
      if (subscriptions.length) {
        try {
          const results: CorrelationResult[] = [];
          for (const subscription of subscriptions) {
            await this.transition(
              subscription.instance_id,
              {
                type: 'deliver-message',
                refId: subscription.ref_id,
                executionId: subscription.execution_id,
                variables: options.variables ?? {},
              },
              this.auditing(options.audit, subscription.instance_id),
            );
            results.push({ resultType: 'Execution', instanceId: subscription.instance_id });
          }
          return results;
        } catch (error) {
          // The instance moved on between the lookup and the delivery: look again.
          if (error instanceof AppError && error.code === 'SUBSCRIPTION_GONE' && attempt < 3) continue;
          throw error;
        }
      }
      if (options.processInstanceId) break;
      const start = await this.knex('subscriptions as s')
        .join('process_definitions as d', 'd.id', 's.definition_id')
        .where({ 's.kind': 'message-start', 's.name': options.messageName })
        .select('s.*', 'd.key')
        .first();
      if (start) {
        const row = await this.startInstance(
          { id: start.definition_id, key: start.key },
          {
            variables: options.variables,
            businessKey: options.businessKey,
            event: { type: 'deliver-message', refId: start.ref_id, variables: {} },
            audit: options.audit,
          },
        );
        return [{ resultType: 'ProcessDefinition', instanceId: row.id }];
      }
      break;
    }
    throw new AppError(
      'MESSAGE_NOT_CORRELATED',
      `no process definition or execution matches message '${options.messageName}'`,
    );
  }

  /** Delivers a signal to every waiting catch event and starts every signal start event. */
  async broadcastSignal(name: string, variables: Variables = {}, audit?: AuditEntry): Promise<{ delivered: number; started: number }> {
    const waiting: Array<{ instance_id: string; ref_id: string }> = await this.knex('subscriptions')
      .where({ kind: 'signal', name })
      .select('instance_id', 'execution_id', 'ref_id');
    // One transition per instance (and signal element): it moves every catch and starts every event
    // sub-process waiting for it there, so one per subscription would deliver it again.
    const executions = new Map<string, { instanceId: string; refId: string; count: number }>();
    for (const row of waiting) {
      const key = `${row.instance_id}/${row.ref_id}`;
      const entry = executions.get(key) ?? { instanceId: row.instance_id, refId: row.ref_id, count: 0 };
      entry.count++;
      executions.set(key, entry);
    }
    let delivered = 0;
    for (const { instanceId, refId, count } of executions.values()) {
      try {
        await this.transition(instanceId, { type: 'deliver-signal', refId, variables }, this.auditing(audit, instanceId));
        delivered += count;
      } catch (error) {
        if (!(error instanceof AppError && ['SUBSCRIPTION_GONE', 'INSTANCE_ENDED'].includes(error.code))) throw error;
      }
    }
    const starts = await this.knex('subscriptions as s')
      .join('process_definitions as d', 'd.id', 's.definition_id')
      .where({ 's.kind': 'signal-start', 's.name': name })
      .select('s.*', 'd.key');
    for (const start of starts) {
      await this.startInstance(
        { id: start.definition_id, key: start.key },
        { variables, event: { type: 'deliver-signal', refId: start.ref_id, variables: {} }, audit },
      );
    }
    return { delivered, started: starts.length };
  }

  // ---------------------------------------------------------------- external tasks

  async fetchAndLock(request: Parameters<typeof externalTasksStore.fetchAndLock>[1]) {
    this.emit('external-tasks.fetching', request.workerId, request.topics.map((topic) => topic.topicName));
    return externalTasksStore.fetchAndLock(this.knex, request);
  }

  private async lockedTask(taskId: string, workerId: string, action: string) {
    const task = await externalTasksStore.findExternalTask(this.knex, taskId);
    if (!task) throw notFound('external task', taskId);
    await this.refuseParked(task);
    if (task.worker_id !== workerId) {
      throw new AppError(
        'EXTERNAL_TASK_NOT_LOCKED',
        `external task ${taskId} cannot be ${action} by worker '${workerId}'. It is locked by worker '${task.worker_id ?? ''}'.`,
      );
    }
    if (!task.lock_expires_at || new Date(task.lock_expires_at).getTime() < Date.now()) {
      throw new AppError('EXTERNAL_TASK_LOCK_EXPIRED', `the lock of worker '${workerId}' on external task ${taskId} has expired`);
    }
    return task;
  }

  /** A parked inline handler is retried through its incident, never completed by a worker. */
  private async refuseParked(task: { id: string; instance_id: string; execution_id: string }): Promise<void> {
    if (await isParkedExecution(this.knex, task.instance_id, task.execution_id)) {
      throw new AppError('EXTERNAL_TASK_PARKED', `external task ${task.id} is an inline handler parked by an incident; retry the incident instead`);
    }
  }

  /** The topic of an external task (for per-token topic limits). */
  async externalTaskTopic(taskId: string): Promise<string> {
    const task = await externalTasksStore.findExternalTask(this.knex, taskId);
    if (!task) throw notFound('external task', taskId);
    return task.topic;
  }

  /** The guard re-checks the lock inside the commit, so a task re-locked meanwhile is refused. */
  private lockGuard(taskId: string, workerId: string) {
    return async (trx: Knex.Transaction) => {
      const held = await trx('external_tasks')
        .where({ id: taskId, worker_id: workerId })
        .andWhere('lock_expires_at', '>=', new Date())
        .forUpdate()
        .first();
      if (!held) throw new AppError('EXTERNAL_TASK_LOCK_EXPIRED', `worker '${workerId}' no longer holds the lock on external task ${taskId}`);
    };
  }

  async completeExternalTask(taskId: string, workerId: string, variables: Variables = {}): Promise<void> {
    const task = await this.lockedTask(taskId, workerId, 'completed');
    await this.transition(task.instance_id, { type: 'complete-external-task', executionId: task.execution_id, variables }, this.lockGuard(taskId, workerId));
  }

  async externalTaskBpmnError(
    taskId: string,
    workerId: string,
    error: { errorCode: string; errorMessage?: string; variables?: Variables },
  ): Promise<void> {
    const task = await this.lockedTask(taskId, workerId, 'reported');
    await this.transition(
      task.instance_id,
      {
        type: 'external-task-bpmn-error',
        executionId: task.execution_id,
        errorCode: error.errorCode,
        errorMessage: error.errorMessage,
        variables: error.variables ?? {},
      },
      this.lockGuard(taskId, workerId),
    );
  }

  /** Camunda 7 failure: retries count down; at 0 an incident is raised and the task is not fetched. */
  async externalTaskFailure(
    taskId: string,
    workerId: string,
    failure: { errorMessage?: string; errorDetails?: string; retries: number; retryTimeout?: number },
  ): Promise<void> {
    const task = await this.lockedTask(taskId, workerId, 'failed');
    const retries = Math.max(0, failure.retries);
    const reportedAt = new Date();
    const attempt = await this.knex.transaction(async (trx) => {
      await lockInstance(trx, task.instance_id);
      await this.lockGuard(taskId, workerId)(trx);
      await trx('external_tasks')
        .where({ id: taskId })
        .update({
          retries,
          error_message: failure.errorMessage ?? null,
          error_details: failure.errorDetails ?? null,
          lock_expires_at: failure.retryTimeout ? new Date(Date.now() + failure.retryTimeout) : null,
          worker_id: failure.retryTimeout ? workerId : null,
        });
      if (retries === 0) {
        await trx('incidents').insert({
          id: randomUUID(),
          instance_id: task.instance_id,
          process_key: task.process_key,
          activity_id: task.activity_id,
          execution_id: task.execution_id,
          type: 'failedExternalTask',
          message: failure.errorMessage ?? 'external task failed',
          stack: failure.errorDetails ?? null,
          external_task_id: taskId,
        });
      }
      await trx('history').insert({
        instance_id: task.instance_id,
        activity_id: task.activity_id,
        execution_id: task.execution_id,
        event: 'external-task.failure',
        at: reportedAt,
        data: JSON.stringify({ workerId, retries, errorMessage: failure.errorMessage ?? null }),
      });
      return externalTaskAttempt(trx, task.instance_id, task.execution_id, reportedAt);
    });
    if (retries === 0) this.emit('incident.created', { instanceId: task.instance_id, processKey: task.process_key, activityId: task.activity_id, type: 'failedExternalTask' });
    this.emit('external-task.failed', {
      instance: await this.getInstance(task.instance_id),
      taskId,
      activityId: task.activity_id,
      activityType: attempt.activityType,
      executionId: task.execution_id,
      parentExecutionId: attempt.parentExecutionId,
      topic: task.topic,
      workerId,
      errorMessage: failure.errorMessage ?? null,
      retries,
      attemptStartedAt: attempt.startedAt,
      reportedAt,
    } satisfies ExternalTaskFailureReport);
  }

  async extendExternalTaskLock(taskId: string, workerId: string, newDuration: number): Promise<void> {
    await this.lockedTask(taskId, workerId, 'extended');
    // Conditional: a lock that expired (and maybe went to another worker) since the check stays lost.
    if (!(await externalTasksStore.extendLock(this.knex, taskId, workerId, newDuration))) {
      throw new AppError('EXTERNAL_TASK_LOCK_EXPIRED', `the lock of worker '${workerId}' on external task ${taskId} has expired`);
    }
  }

  async unlockExternalTask(taskId: string): Promise<void> {
    const task = await externalTasksStore.findExternalTask(this.knex, taskId);
    if (!task) throw notFound('external task', taskId);
    await externalTasksStore.updateExternalTask(this.knex, taskId, { worker_id: null, lock_expires_at: null });
    this.emit('external-tasks.created', [task.topic]);
  }

  async lockExternalTask(taskId: string, workerId: string, lockDuration: number): Promise<void> {
    const task = await externalTasksStore.findExternalTask(this.knex, taskId);
    if (task) await this.refuseParked(task);
    const updated = await this.knex('external_tasks')
      .where({ id: taskId })
      .andWhere((q) => q.whereNull('lock_expires_at').orWhere('lock_expires_at', '<', new Date()).orWhere('worker_id', workerId))
      .update({ worker_id: workerId, lock_expires_at: new Date(Date.now() + lockDuration) });
    if (!updated) {
      if (!(await externalTasksStore.findExternalTask(this.knex, taskId))) throw notFound('external task', taskId);
      throw new AppError('EXTERNAL_TASK_LOCKED', `external task ${taskId} is locked by another worker`);
    }
  }

  // ---------------------------------------------------------------- incidents

  /** Retries what the incident stopped; resolves it when the retry goes through. */
  async retryIncident(incidentId: string, retries = 1, audit?: AuditEntry): Promise<void> {
    const incident = await this.knex('incidents').where({ id: incidentId }).first();
    if (!incident) throw notFound('incident', incidentId);
    if (incident.resolved_at) throw new AppError('INCIDENT_RESOLVED', `incident ${incidentId} is already resolved`);
    switch (incident.type) {
      case 'failedHandler':
        await this.transition(incident.instance_id, { type: 'retry-handler', executionId: incident.execution_id }, this.auditing(audit, incident.instance_id));
        return;
      case 'failedExternalTask':
        await this.knex.transaction(async (trx) => {
          await lockInstance(trx, incident.instance_id);
          await trx('external_tasks').where({ id: incident.external_task_id }).update({ retries, worker_id: null, lock_expires_at: null });
          await trx('incidents').where({ id: incidentId }).update({ resolved_at: new Date() });
          if (audit) await appendAuditEntry(trx, { ...audit, instanceId: incident.instance_id });
        });
        this.emit('external-tasks.created', []);
        return;
      case 'failedJob':
        await this.knex.transaction(async (trx) => {
          if (incident.instance_id) await lockInstance(trx, incident.instance_id);
          await jobsStore.setJobRetries(trx, incident.job_id, retries);
          await trx('incidents').where({ id: incidentId }).update({ resolved_at: new Date() });
          if (audit) await appendAuditEntry(trx, { ...audit, instanceId: incident.instance_id });
        });
        this.emit('jobs.scheduled');
        return;
      default:
        throw new AppError('INCIDENT_NOT_RETRYABLE', `incident ${incidentId} of type ${incident.type} cannot be retried`);
    }
  }

  async resolveIncident(incidentId: string, audit?: AuditEntry): Promise<void> {
    await this.knex.transaction(async (trx) => {
      const [resolved] = await trx('incidents').where({ id: incidentId }).whereNull('resolved_at').update({ resolved_at: new Date() }).returning('instance_id');
      if (!resolved) throw notFound('open incident', incidentId);
      if (audit) await appendAuditEntry(trx, { ...audit, instanceId: resolved.instance_id });
    });
  }

  // ---------------------------------------------------------------- jobs

  /** Claims and runs due jobs; returns how many ran. Called by the job poller of every node. */
  async runDueJobs(limit = 20): Promise<number> {
    const jobs = await jobsStore.claimDueJobs(this.knex, this.options.nodeId, limit, this.options.jobLeaseMs);
    for (const job of jobs) {
      // Claimed again after its lease ran out, more than allowed: the job likely kills its node
      // (a runaway handler, memory). Quarantine it as an incident instead of the next crash.
      if (job.claims > this.options.jobMaxLeases) {
        const message = `job ${job.id} (${job.kind}) was claimed ${job.claims} times and never finished: its node may have died running it; quarantined`;
        await this.failClaimedJob(job, new AppError('JOB_QUARANTINED', message), true);
        continue;
      }
      this.emit('job.fired', { kind: job.kind, dueAt: new Date(job.due_at), firedAt: new Date() });
      await this.runClaimedJob(job);
    }
    return jobs.length;
  }

  /**
   * Runs one job now, due or not, even one whose retries are used up (an operator's
   * "execute now"). A timer fires at once. A failure counts its retries down as a polled
   * run would, and is thrown to the caller.
   */
  async executeJob(jobId: string): Promise<void> {
    const job = await jobsStore.claimJob(this.knex, jobId, this.options.nodeId, this.options.jobLeaseMs);
    if (!job) {
      if (!(await this.knex('jobs').where({ id: jobId }).first('id'))) throw notFound('job', jobId);
      throw new AppError('JOB_LOCKED', `job ${jobId} is being run by another node`);
    }
    const error = await this.runClaimedJob(job, true);
    if (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new AppError('JOB_FAILED', `job ${jobId} failed: ${message}`, { cause: error });
    }
    await this.knex('incidents').where({ job_id: jobId }).whereNull('resolved_at').update({ resolved_at: new Date() });
  }

  /** Runs a claimed job; a failure counts its retries down (an incident at 0) and is returned. */
  private async runClaimedJob(job: jobsStore.JobRow, now = false): Promise<unknown> {
    try {
      await this.runJob(job, now);
      return null;
    } catch (error) {
      await this.failClaimedJob(job, error);
      return error;
    }
  }

  /**
   * Counts a failed job down and, when its retries run out, raises its incident in the same
   * commit: at the instance, or at the definition for a timer start (no instance yet), where
   * an operator sees it and retries it as in Camunda 7.
   */
  private async failClaimedJob(job: jobsStore.JobRow, error: unknown, quarantine = false): Promise<void> {
    const message = error instanceof Error ? error.message : String(error);
    const raised = await this.knex.transaction(async (trx) => {
      const instance = job.instance_id ? await lockInstance(trx, job.instance_id) : undefined;
      const left = await jobsStore.failJob(trx, job, message, this.options.jobRetryDelayMs, quarantine);
      if (left > 0 || job.retries === 0) return null;
      const processKey = job.instance_id
        ? ((await trx('process_instances').where({ id: job.instance_id }).first('process_key'))?.process_key as string | undefined)
        : (await definitionsStore.findDefinitionSummary(trx, job.definition_id as string))?.key;
      if (!processKey || (job.instance_id && !instance)) return null;
      await insertIncident(trx, {
        type: 'failedJob',
        instanceId: job.instance_id,
        definitionId: job.instance_id ? null : job.definition_id,
        processKey,
        activityId: job.activity_id,
        message,
        stack: error instanceof Error ? (error.stack ?? null) : null,
        trigger: { kind: job.kind },
        jobId: job.id,
      });
      return processKey;
    });
    if (raised) {
      this.emit('incident.created', { instanceId: job.instance_id, definitionId: job.definition_id, processKey: raised, activityId: job.activity_id ?? null, type: 'failedJob' });
    }
  }

  private async runJob(job: jobsStore.JobRow, now = false): Promise<void> {
    switch (job.kind) {
      case 'timer': {
        const ran = await this.runOnInstance(job, now ? { type: 'resume', dueNow: job.activity_id } : { type: 'resume' });
        // Fired timers were deleted by the commit; one that is not due yet is polled again.
        if (ran) await jobsStore.releaseJob(this.knex, job.id);
        return;
      }
      case 'timer-start': {
        const payload = job.payload as { timerType: ProcessInfo['timerStartEvents'][number]['timerType']; expression: string; remaining?: number };
        const definition = await definitionsStore.findDefinition(this.knex, job.definition_id as string);
        if (!definition) {
          await this.knex('jobs').where({ id: job.id }).delete();
          return;
        }
        const prepared = await this.prepareInstance(definition, { dueNow: job.activity_id });
        const started = await this.knex.transaction(async (trx) => {
          const still = await jobsStore.lockClaimedJob(trx, job.id, this.options.nodeId);
          if (!still) return null; // another node took over after our lease ran out
          const row = await this.writeInstance(trx, prepared);
          const next = nextStartTimerDue(payload.timerType, payload.expression, { firedAt: new Date(job.due_at), remaining: payload.remaining });
          if (next) await jobsStore.rescheduleFiredJob(trx, job.id, next.dueAt, { ...payload, remaining: next.remaining });
          else await jobsStore.deleteJob(trx, job.id);
          return row;
        });
        if (started) this.announceAll(prepared, started);
        return;
      }
      case 'call-completed': {
        const payload = job.payload as { executionId: string; variables: Variables };
        await this.handBack(job, { type: 'complete-call-activity', executionId: payload.executionId, variables: payload.variables });
        return;
      }
      case 'call-failed': {
        const payload = job.payload as { executionId: string; errorCode: string; errorMessage: string };
        await this.handBack(job, { type: 'fail-call-activity', executionId: payload.executionId, errorCode: payload.errorCode, errorMessage: payload.errorMessage });
        return;
      }
      default:
        throw new AppError('UNKNOWN_JOB', `job ${job.id} has unknown kind ${String(job.kind)}`);
    }
  }

  /**
   * Runs a job's transition on its instance. An instance that has ended meanwhile (failed on a
   * sibling's error, completed through a boundary event, cancelled) has nothing left to run it
   * on: the job goes, rather than failing into an incident. Returns whether it ran.
   */
  private async runOnInstance(job: jobsStore.JobRow, event: TransitionEvent, guard?: (trx: Knex.Transaction) => Promise<void>): Promise<boolean> {
    try {
      await this.transition(job.instance_id as string, event, guard);
      return true;
    } catch (error) {
      if (!(error instanceof AppError && error.code === 'INSTANCE_ENDED')) throw error;
      await this.knex('jobs').where({ id: job.id }).delete();
      return false;
    }
  }

  /**
   * Hands a child's end back to its parent, exactly once: the job is deleted in the parent's
   * commit. A call activity that no longer waits (SUBSCRIPTION_GONE) was left, and leaving it
   * cancelled the child and deleted this job in the same commit (endLeftCalls): then the job
   * goes. Anything else is unexpected and keeps failing the job into an incident.
   */
  private async handBack(job: jobsStore.JobRow, event: TransitionEvent): Promise<void> {
    const claimed = async (trx: Knex.Transaction) => {
      const deleted = await trx('jobs').where({ id: job.id }).delete();
      if (!deleted) throw new AppError('JOB_GONE', `job ${job.id} was already run`);
    };
    try {
      await this.runOnInstance(job, event, claimed);
    } catch (error) {
      if (!(error instanceof AppError && error.code === 'SUBSCRIPTION_GONE')) throw error;
      const childId = (job.payload as { childId?: string }).childId;
      const child = childId ? await this.knex('process_instances').where({ id: childId }).first('status') : undefined;
      const jobLeft = await this.knex('jobs').where({ id: job.id }).first('id');
      if (child?.status !== 'cancelled' && jobLeft) throw error;
      await this.knex('jobs').where({ id: job.id }).delete();
    }
  }

  /** When, by this node's clock, a job can next be claimed (leases and back-offs count). */
  async nextJobDueAt(): Promise<Date | null> {
    const ms = await jobsStore.msUntilNextClaimable(this.knex);
    return ms === null ? null : new Date(Date.now() + ms);
  }

  // ---------------------------------------------------------------- transitions

  /**
   * One transition: load, run the engine in memory, commit with the version guard. A lost
   * race is retried from a fresh load; nothing of the loser is written.
   */
  async transition(
    instanceId: string,
    event: TransitionEvent,
    guard?: (trx: Knex.Transaction) => Promise<void>,
  ): Promise<InstanceRow> {
    return this.withRetries(instanceId, async () => {
      const startedAt = performance.now();
      const current = await this.getInstance(instanceId);
      if (current.status !== 'active') {
        throw new AppError('INSTANCE_ENDED', `process instance ${instanceId} has already ended (${current.status})`);
      }
      const definition = await this.definitions.get(current.definition_id);
      const parked = await this.knex('incidents')
        .where({ instance_id: instanceId, type: 'failedHandler' })
        .whereNull('resolved_at')
        .pluck('execution_id');
      const outcome = await this.runtime
        .run(
          definition,
          {
            instanceId,
            processKey: current.process_key,
            businessKey: current.business_key,
            state: current.state,
            variables: current.variables,
            parkedExecutions: new Set(parked),
            dueNow: event.type === 'resume' ? event.dueNow : undefined,
          },
          event,
        )
        .catch(async (error: unknown) => {
          if (error instanceof AppError && error.code === 'STEP_LIMIT_EXCEEDED') await this.recordStepLimit(current, error);
          throw error;
        });
      const children = await this.prepareChildren(instanceId, outcome, current.business_key, 0);
      let orphans: InstanceRow[] = [];
      const row = await this.knex.transaction(async (trx) => {
        await lockInstance(trx, instanceId, current.version);
        if (guard) await guard(trx);
        const updated = await updateInstance(trx, current, outcome);
        if (event.type === 'retry-handler') {
          await trx('incidents')
            .where({ instance_id: instanceId, execution_id: event.executionId, type: 'failedHandler' })
            .whereNull('resolved_at')
            .update({ resolved_at: new Date() });
        }
        await this.afterTransition(trx, updated, outcome, children);
        if (updated.status === 'active') {
          const waiting = [...outcome.externalTasks, ...outcome.handlerFailures].map((task) => task.executionId);
          await resolveLeftIncidents(trx, updated.id, waiting);
        }
        orphans =
          updated.status !== 'active'
            ? await this.endDescendants(trx, updated.id, () => updated.status)
            : await this.endLeftCalls(trx, updated, outcome);
        return updated;
      });
      this.emit('transition.committed', {
        instanceId: row.id,
        parentInstanceId: row.parent_instance_id ?? null,
        processKey: row.process_key,
        seconds: (performance.now() - startedAt) / 1000,
      });
      this.announce(row, outcome, event);
      this.announceOrphans(orphans);
      for (const child of children) this.announceAll(child, child.row ?? { ...row, id: child.id, status: child.outcome.status, parent_instance_id: row.id });
      return row;
    });
  }

  /**
   * A transition that ran past its step or time budget commits nothing (the caller gets a 422);
   * the instance stays where it was, with a stepLimit incident on the activity where it was
   * stopped, so an operator sees the loop without a wait state.
   */
  private async recordStepLimit(current: InstanceRow, error: AppError): Promise<void> {
    const activityId = String(error.details?.activityId ?? '');
    const recorded = await this.knex.transaction(async (trx) => {
      await lockInstance(trx, current.id);
      if (await hasOpenIncident(trx, current.id, 'stepLimit', activityId)) return false;
      await insertIncident(trx, { type: 'stepLimit', instanceId: current.id, processKey: current.process_key, activityId, message: error.message });
      return true;
    });
    if (recorded) this.emit('incident.created', { instanceId: current.id, processKey: current.process_key, activityId, type: 'stepLimit' });
  }

  private async withRetries<T>(instanceId: string, work: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.locks.run(instanceId, work);
      } catch (error) {
        if (!isRetryableConflict(error) || attempt >= this.options.maxAttempts) throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * attempt));
      }
    }
  }

  /**
   * Rows that follow from a committed outcome, in the same database transaction: incidents
   * for failed handlers, child instances for call activities, and the job that hands a
   * finished child's variables back to its parent.
   */
  private async afterTransition(
    trx: Knex.Transaction,
    row: InstanceRow,
    outcome: TransitionOutcome,
    children: PreparedInstance[],
  ): Promise<void> {
    for (const child of children) {
      const exists = await trx('process_instances')
        .where({ parent_instance_id: row.id, parent_execution_id: child.parentExecutionId })
        .first('id');
      if (!exists) await this.writeInstance(trx, child, row.id);
    }
    const handBack = (kind: 'call-completed' | 'call-failed', payload: Record<string, unknown>) =>
      trx('jobs').insert({
        id: randomUUID(),
        kind,
        instance_id: row.parent_instance_id,
        activity_id: row.parent_execution_id,
        timer_key: `${kind}/${row.id}`,
        due_at: new Date(),
        payload: JSON.stringify({ executionId: row.parent_execution_id, ...payload, childId: row.id }),
      });
    if (row.status === 'completed' && row.parent_instance_id && row.parent_execution_id) {
      await handBack('call-completed', { variables: outcome.variables });
    }
    // A called instance that failed throws its error at the parent's call activity (Zeebe and
    // BPMN propagate an uncaught error to the calling scope), where a boundary event may catch it.
    if (row.status === 'failed' && outcome.error && row.parent_instance_id && row.parent_execution_id) {
      await handBack('call-failed', { errorCode: outcome.error.errorCode, errorMessage: outcome.error.errorMessage || outcome.error.summary });
    }
    for (const failure of outcome.timerFailures ?? []) {
      await trx('incidents').insert({
        id: randomUUID(),
        instance_id: row.id,
        process_key: row.process_key,
        activity_id: failure.activityId,
        execution_id: failure.timerKey,
        type: 'failedTimer',
        message: failure.message,
      });
    }
    for (const failure of outcome.handlerFailures) {
      await trx('incidents').insert({
        id: randomUUID(),
        instance_id: row.id,
        process_key: row.process_key,
        activity_id: failure.activityId,
        execution_id: failure.executionId,
        type: 'failedHandler',
        message: `${failure.topic}: ${failure.message}`,
        stack: failure.stack ?? null,
        trigger: JSON.stringify({ type: 'retry-handler', executionId: failure.executionId }),
      });
    }
  }

  /**
   * Cancels the active instances below an ended one, at every depth, in its commit: a child
   * whose parent ended (failed, completed past it through a boundary event, cancelled) has
   * nobody to hand its result to. `how` says why the parent let each direct child go (null:
   * keep it); deeper ones name their cancelled parent. A child moved meanwhile fails the
   * version guard, and the whole transition is retried.
   */
  private async endDescendants(trx: Knex.Transaction, rootId: string, how: (child: InstanceRow) => string | null): Promise<InstanceRow[]> {
    const ended: InstanceRow[] = [];
    for (let parents = [rootId]; parents.length; ) {
      const children: InstanceRow[] = await trx('process_instances').whereIn('parent_instance_id', parents).where({ status: 'active' });
      const cancelled: string[] = [];
      for (const child of children) {
        const parentId = child.parent_instance_id as string;
        const why = parentId === rootId ? how(child) : 'cancelled';
        if (why === null) continue;
        await endInstance(trx, child, 'cancelled', `parent ${parentId} ${why}`);
        ended.push(await trx('process_instances').where({ id: child.id }).first());
        cancelled.push(child.id);
      }
      parents = cancelled;
    }
    return ended;
  }

  /**
   * A call activity left while its called instance runs (an interrupting boundary event, an
   * interrupting event sub-process, a terminate end event, a multi-instance call interrupted)
   * takes the called instance and its descendants with it, in the same commit, as Camunda 7
   * (PvmExecutionImpl.clearScope deletes the sub-process instance) and Zeebe ("when an
   * interrupting boundary event is triggered, the call activity and the created process
   * instance are terminated", docs.camunda.io, call activities) do. A call activity waits
   * exactly while it is in `outcome.callActivities` (resume reports every waiting one), so
   * a child of any other execution was left. Hand-backs queued for such executions go too
   * (a child that ended just before): they would only find nothing waiting. `handBack` drops
   * any that slips past this.
   */
  private async endLeftCalls(trx: Knex.Transaction, row: InstanceRow, outcome: TransitionOutcome): Promise<InstanceRow[]> {
    const waiting = new Set(outcome.callActivities.map((call) => call.executionId));
    const ended = await this.endDescendants(trx, row.id, (child) => {
      const executionId = child.parent_execution_id;
      if (!executionId || waiting.has(executionId)) return null;
      return `left call activity ${activityOfExecution(executionId)}`;
    });
    const callLeft = outcome.history.some((entry) => entry.activityType === 'bpmn:CallActivity' && entry.event !== 'start');
    if (ended.length || callLeft) {
      await trx('jobs')
        .where({ instance_id: row.id })
        .whereIn('kind', ['call-completed', 'call-failed'])
        .whereNotIn('activity_id', [...waiting])
        .delete();
    }
    return ended;
  }

  /** Instances cancelled with their parent: their spans (open activities, root) and ends. */
  private announceOrphans(orphans: InstanceRow[]): void {
    for (const orphan of orphans) {
      this.emit('transition.outcome', { instance: orphan, event: null, outcome: null } satisfies CommittedTransition);
      this.emit('instance.ended', { id: orphan.id, status: orphan.status, processKey: orphan.process_key });
    }
  }

  private announce(row: InstanceRow, outcome: TransitionOutcome, event: TransitionEvent | null): void {
    this.emit('transition.outcome', { instance: row, event, outcome } satisfies CommittedTransition);
    if (outcome.externalTasks.length) this.emit('external-tasks.created', outcome.externalTasks.map((task) => task.topic));
    if (outcome.timers.length || outcome.callActivities.length || row.parent_instance_id) this.emit('jobs.scheduled');
    for (const failure of outcome.handlerFailures) {
      this.emit('incident.created', { instanceId: row.id, processKey: row.process_key, activityId: failure.activityId, type: 'failedHandler' });
    }
    for (const failure of outcome.timerFailures ?? []) {
      this.emit('incident.created', { instanceId: row.id, processKey: row.process_key, activityId: failure.activityId, type: 'failedTimer' });
    }
    if (row.status !== 'active') this.emit('instance.ended', { id: row.id, status: row.status, processKey: row.process_key });
  }
}

function summarise(
  row: { id: string; key: string; version: number; name: string | null; executable: boolean },
  created: boolean,
  analysis: DefinitionAnalysis,
): DeployedDefinition {
  return {
    id: row.id,
    key: row.key,
    version: row.version,
    name: row.name,
    executable: row.executable,
    created,
    warnings: analysis.warnings,
  };
}

/**
 * A message start name belongs to one process key (Camunda 7 refuses the deploy too): with two,
 * a correlation would pick one of them arbitrarily. A new version of the same key may keep it.
 */
async function refuseTakenMessageStarts(trx: Knex.Transaction, processes: ProcessInfo[]): Promise<void> {
  const owners = new Map<string, string>();
  for (const process of processes) {
    for (const start of process.messageStartEvents) {
      const other = owners.get(start.messageName);
      if (other && other !== process.id) {
        throw new AppError('INVALID_DEFINITION', `message start name '${start.messageName}' is used by both ${other} and ${process.id} (${start.activityId})`);
      }
      owners.set(start.messageName, process.id);
    }
    const taken = await definitionsStore.messageStartsNamed(trx, process.messageStartEvents.map((start) => start.messageName), process.id);
    if (taken.length) {
      const [first] = taken;
      const mine = process.messageStartEvents.find((start) => start.messageName === first!.name);
      throw new AppError(
        'INVALID_DEFINITION',
        `message start name '${first!.name}' of ${process.id} (${mine?.activityId}) is already used by deployed process ${first!.key} (${first!.activity_id})`,
      );
    }
  }
}

/**
 * A called instance's id: a UUID (version 5 layout) hashed from its call activity's key, so a
 * parent transition retried after a lost race starts the same child, not a new one.
 */
export function calledInstanceId(callKey: string): string {
  const hex = createHash('sha256').update(`regenflow.call/${callKey}`).digest('hex').slice(0, 32).split('');
  hex[12] = '5';
  hex[16] = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  const text = hex.join('');
  return `${text.slice(0, 8)}-${text.slice(8, 12)}-${text.slice(12, 16)}-${text.slice(16, 20)}-${text.slice(20)}`;
}

/** A timer text that is (or holds) an expression: `${...}`, or FEEL `=...`. */
function isExpression(text: string): boolean {
  return text.includes('${') || text.startsWith('=');
}

function formatFinding(finding: { elementId?: string; rule: string; message: string }): string {
  return `${finding.elementId ? `${finding.elementId} ` : ''}(${finding.rule}): ${finding.message}`;
}
