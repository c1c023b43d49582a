import { createHash, randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { AppError, isRetryableConflict, notFound } from '../errors.js';
import { appendAuditEntry, type AuditEntry } from '../store/audit-entries.js';
import { hasOpenIncident, insertIncident, parkedExecutions, resolveHandlerIncidents, resolveLeftIncidents } from '../store/incidents.js';
import { deleteHandBacksExcept, insertCallHandBack } from '../store/jobs.js';
import {
  activeChildren,
  calledExecutionIds,
  endInstance,
  findCalledInstance,
  findInstance,
  insertInstance,
  lockInstance,
  updateInstance,
  type InstanceRow,
} from '../store/transitions.js';
import { InstanceLocks } from './instance-locks.js';
import { WarmInstances } from './runtime/warm-instances.js';
import type { WarmInstance } from './runtime/process-runtime.js';
import { safeCopy } from './runtime/variables.js';
import { activityOfExecution } from './runtime/execution-ids.js';
import type { CommittedTransition, TransitionEvent, TransitionOutcome } from './types.js';
import type { EngineContext, StartRunOptions, PreparedInstance } from './engine-context.js';

/**
 * The transition: load an instance, run one event in memory, commit the outcome under the
 * version guard (instance row locked first, then its wait rows), retry lost races, deadlocks and
 * serialization failures from a fresh load, and announce what committed. Also a new instance's
 * first transition (with the children its call activities start).
 */
const MAX_CALL_DEPTH = 20;

/**
 * Moves a loaded instance onto another version before its transition runs (commands/migrations.ts):
 * the target definition, the state renamed onto it, the parked executions renamed, and what its
 * commit re-points (after the instance row's lock, before the outcome is written).
 */
export type Retarget = (
  loaded: InstanceRow,
  parked: string[],
) => Promise<{ definitionId: string; state: unknown; parked: string[]; commit(trx: Knex.Transaction): Promise<void> }>;

export class Transitions {
  private readonly locks = new InstanceLocks();
  private readonly warm: WarmInstances;

  constructor(private readonly ctx: EngineContext) {
    this.warm = new WarmInstances(ctx.options.warmInstances ?? 64);
  }

  /**
   * The first transition of an instance runs before anything is stored: an instance whose
   * start fails is never half-created; the caller gets the error.
   */
  async startInstance(
    definitionRow: { id: string; key: string },
    options: StartRunOptions,
  ): Promise<InstanceRow> {
    const prepared = await this.prepareInstance(definitionRow, options);
    // Measured (when due) before the commit: inside it, the embedded database's one connection is taken.
    await this.ctx.options.clock.current();
    const row = await this.ctx.knex.transaction(async (trx) => {
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
  async prepareInstance(definitionRow: { id: string; key: string }, options: StartRunOptions, depth = 0): Promise<PreparedInstance> {
    const definition = await this.ctx.definitions.get(definitionRow.id);
    const id = options.id ?? randomUUID();
    let warm: WarmInstance | undefined;
    const outcome = await this.ctx.runtime.run(
      definition,
      {
        instanceId: id,
        processKey: definition.key,
        businessKey: options.businessKey,
        variables: safeCopy(options.variables ?? {}),
        dueNow: options.dueNow,
        ...(this.warm.capacity > 0 && { onParked: (parked: WarmInstance) => (warm = parked) }),
      },
      options.event ?? null,
    );
    const children = await this.prepareChildren(null, outcome, options.businessKey ?? null, depth);
    return { id, definition, businessKey: options.businessKey ?? null, parentExecutionId: options.parentExecutionId, outcome, children, warm };
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
      parentId ? await calledExecutionIds(this.ctx.knex, parentId) : [],
    );
    const children: PreparedInstance[] = [];
    for (const call of outcome.callActivities) {
      if (existing.has(call.executionId)) continue;
      const called = await this.ctx.definitions.latest(call.calledElement);
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

  async writeInstance(trx: Knex.Transaction, prepared: PreparedInstance, parentInstanceId?: string): Promise<InstanceRow> {
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
      this.ctx.options.clock.known(),
    );
    await this.afterTransition(trx, row, prepared.outcome, prepared.children);
    prepared.row = row;
    return row;
  }

  /** After the commit of a new instance (and the children it started): announces them and keeps their engines warm. */
  announceAll(prepared: PreparedInstance, row: InstanceRow): void {
    if (prepared.warm && prepared.row?.status === 'active') this.warm.keep(prepared.id, prepared.row.version, prepared.warm);
    prepared.warm = undefined;
    this.ctx.emit('instance.started', { id: row.id, processKey: row.process_key });
    this.announce(row, prepared.outcome, null);
    for (const child of prepared.children) {
      const childRow = child.row ?? { ...row, id: child.id, process_key: child.definition.key, status: child.outcome.status, parent_instance_id: row.id };
      this.announceAll(child, childRow);
    }
  }

  async getInstance(id: string): Promise<InstanceRow> {
    const row = await findInstance(this.ctx.knex, id);
    if (!row) throw notFound('process instance', id);
    return row;
  }

  /**
   * Writes the caller's audit entry inside the transition's own commit. The entry is an
   * explicit argument rather than request context (AsyncLocalStorage): events emitted while
   * a request runs wake the job poller and in-process workers, whose timers would inherit
   * that context and be recorded as the caller's actions.
   */
  auditing(audit: AuditEntry | undefined, instanceId: string, guard?: (trx: Knex.Transaction) => Promise<void>) {
    if (!audit) return guard;
    return async (trx: Knex.Transaction) => {
      if (guard) await guard(trx);
      await appendAuditEntry(trx, { ...audit, instanceId });
    };
  }

  /**
   * One transition: load, run the engine in memory, commit with the version guard. A lost
   * race is retried from a fresh load; nothing of the loser is written.
   */
  async transition(
    instanceId: string,
    event: TransitionEvent,
    guard?: (trx: Knex.Transaction) => Promise<void>,
    retarget?: Retarget,
  ): Promise<InstanceRow> {
    return this.withRetries(instanceId, async () => {
      const startedAt = performance.now();
      const loaded = await this.getInstance(instanceId);
      if (loaded.status !== 'active') {
        throw new AppError('INSTANCE_ENDED', `process instance ${instanceId} has already ended (${loaded.status})`);
      }
      let parked = await parkedExecutions(this.ctx.knex, instanceId);
      // A migration runs this transition on the target version, from the state moved onto it.
      const moved = retarget ? await retarget(loaded, parked) : undefined;
      const current = moved ? { ...loaded, definition_id: moved.definitionId, state: moved.state } : loaded;
      if (moved) parked = moved.parked;
      const definition = await this.ctx.definitions.get(current.definition_id);
      // The engine this node parked after committing exactly this version, if it still has it (never for a migration).
      const warm = moved ? undefined : this.warm.take(instanceId, current.version, current.definition_id);
      let parkedNow: WarmInstance | undefined;
      const outcome = await this.ctx.runtime
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
            warm,
            ...(this.warm.capacity > 0 && { onParked: (parked: WarmInstance) => (parkedNow = parked) }),
          },
          event,
        )
        .catch(async (error: unknown) => {
          if (error instanceof AppError && error.code === 'STEP_LIMIT_EXCEEDED') await this.recordStepLimit(current, error);
          throw error;
        });
      const children = await this.prepareChildren(instanceId, outcome, current.business_key, 0);
      await this.ctx.options.clock.current();
      let orphans: InstanceRow[] = [];
      const row = await this.ctx.knex.transaction(async (trx) => {
        await lockInstance(trx, instanceId, current.version);
        if (guard) await guard(trx);
        if (moved) await moved.commit(trx);
        const updated = await updateInstance(trx, current, outcome, this.ctx.options.clock.known());
        if (event.type === 'retry-handler') {
          await resolveHandlerIncidents(trx, instanceId, event.executionId);
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
      if (parkedNow && row.status === 'active') this.warm.keep(instanceId, row.version, parkedNow);
      this.ctx.emit('transition.committed', {
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
    const recorded = await this.ctx.knex.transaction(async (trx) => {
      await lockInstance(trx, current.id);
      if (await hasOpenIncident(trx, current.id, 'stepLimit', activityId)) return false;
      await insertIncident(trx, { type: 'stepLimit', instanceId: current.id, processKey: current.process_key, activityId, message: error.message });
      return true;
    });
    if (recorded) this.ctx.emit('incident.created', { instanceId: current.id, processKey: current.process_key, activityId, type: 'stepLimit' });
  }

  async withRetries<T>(instanceId: string, work: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.locks.run(instanceId, work);
      } catch (error) {
        if (!isRetryableConflict(error) || attempt >= this.ctx.options.maxAttempts) throw error;
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
      const exists = await findCalledInstance(trx, row.id, child.parentExecutionId!);
      if (!exists) await this.writeInstance(trx, child, row.id);
    }
    const handBack = (kind: 'call-completed' | 'call-failed', payload: Record<string, unknown>) =>
      insertCallHandBack(trx, { kind, childId: row.id, parentInstanceId: row.parent_instance_id!, parentExecutionId: row.parent_execution_id!, payload });
    if (row.status === 'completed' && row.parent_instance_id && row.parent_execution_id) {
      await handBack('call-completed', { variables: outcome.variables });
    }
    // A called instance that failed throws its error at the parent's call activity (Zeebe and
    // BPMN propagate an uncaught error to the calling scope), where a boundary event may catch it.
    if (row.status === 'failed' && outcome.error && row.parent_instance_id && row.parent_execution_id) {
      await handBack('call-failed', { errorCode: outcome.error.errorCode, errorMessage: outcome.error.errorMessage || outcome.error.summary });
    }
    for (const failure of outcome.timerFailures ?? []) {
      await insertIncident(trx, {
        type: 'failedTimer',
        instanceId: row.id,
        processKey: row.process_key,
        activityId: failure.activityId,
        executionId: failure.timerKey,
        message: failure.message,
      });
    }
    for (const failure of outcome.handlerFailures) {
      await insertIncident(trx, {
        type: 'failedHandler',
        instanceId: row.id,
        processKey: row.process_key,
        activityId: failure.activityId,
        executionId: failure.executionId,
        message: `${failure.topic}: ${failure.message}`,
        stack: failure.stack ?? null,
        trigger: { type: 'retry-handler', executionId: failure.executionId },
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
  async endDescendants(trx: Knex.Transaction, rootId: string, how: (child: InstanceRow) => string | null): Promise<InstanceRow[]> {
    const ended: InstanceRow[] = [];
    for (let parents = [rootId]; parents.length; ) {
      const children = await activeChildren(trx, parents);
      const cancelled: string[] = [];
      for (const child of children) {
        const parentId = child.parent_instance_id as string;
        const why = parentId === rootId ? how(child) : 'cancelled';
        if (why === null) continue;
        await endInstance(trx, child, 'cancelled', `parent ${parentId} ${why}`, this.ctx.options.clock.known());
        ended.push((await findInstance(trx, child.id))!);
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
      await deleteHandBacksExcept(trx, row.id, [...waiting]);
    }
    return ended;
  }

  /** Instances cancelled with their parent: their spans (open activities, root) and ends. */
  announceOrphans(orphans: InstanceRow[]): void {
    for (const orphan of orphans) {
      this.ctx.emit('transition.outcome', { instance: orphan, event: null, outcome: null } satisfies CommittedTransition);
      this.ctx.emit('instance.ended', { id: orphan.id, status: orphan.status, processKey: orphan.process_key });
    }
  }

  private announce(row: InstanceRow, outcome: TransitionOutcome, event: TransitionEvent | null): void {
    this.ctx.emit('transition.outcome', { instance: row, event, outcome } satisfies CommittedTransition);
    if (outcome.externalTasks.length) this.ctx.emit('external-tasks.created', outcome.externalTasks.map((task) => task.topic));
    if (outcome.timers.length || outcome.callActivities.length || row.parent_instance_id) this.ctx.emit('jobs.scheduled');
    for (const failure of outcome.handlerFailures) {
      this.ctx.emit('incident.created', { instanceId: row.id, processKey: row.process_key, activityId: failure.activityId, type: 'failedHandler' });
    }
    for (const failure of outcome.timerFailures ?? []) {
      this.ctx.emit('incident.created', { instanceId: row.id, processKey: row.process_key, activityId: failure.activityId, type: 'failedTimer' });
    }
    if (row.status !== 'active') this.ctx.emit('instance.ended', { id: row.id, status: row.status, processKey: row.process_key });
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
