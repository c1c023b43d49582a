import { randomBytes, randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { onDatabaseClock } from './database-clock.js';
import { insertDecisionEvaluations } from './decisions.js';
import { serializeState } from './instances-state.js';
import { ConcurrentUpdateError } from '../errors.js';
import type { InstanceStatus, TransitionOutcome } from './transition-types.js';

export interface InstanceRow {
  id: string;
  definition_id: string;
  process_key: string;
  business_key: string | null;
  status: InstanceStatus;
  version: number;
  state: unknown;
  variables: Record<string, unknown>;
  parent_instance_id: string | null;
  parent_execution_id: string | null;
  error_message: string | null;
  started_at: Date;
  updated_at: Date;
  ended_at: Date | null;
  /** The instance's trace (32 hex), chosen at start: every span of the instance belongs to it. */
  trace_id: string | null;
  /** The instance span (16 hex), the parent of its activity spans; emitted when the instance ends. */
  root_span_id: string | null;
}

export interface NewInstance {
  id: string;
  definitionId: string;
  processKey: string;
  businessKey?: string | null;
  parentInstanceId?: string | null;
  parentExecutionId?: string | null;
}

interface Scope {
  instanceId: string;
  definitionId: string;
  processKey: string;
  businessKey: string | null;
}

export async function findInstance(knex: Knex | Knex.Transaction, id: string): Promise<InstanceRow | undefined> {
  return knex('process_instances').where({ id }).first();
}

export async function findInstanceStatus(knex: Knex | Knex.Transaction, id: string): Promise<InstanceStatus | undefined> {
  return (await knex('process_instances').where({ id }).first('status'))?.status;
}

/**
 * Takes the instance row's lock, first thing in a transition's commit: every path locks the
 * instance before its wait rows (tasks, jobs, subscriptions), so two commits on one instance
 * queue on this row instead of deadlocking on each other's wait rows. Throws the lost-race
 * error when another commit moved the instance past `version`.
 */
export async function lockInstance(trx: Knex.Transaction, instanceId: string, version?: number): Promise<{ version: number; status: InstanceStatus } | undefined> {
  const row = await trx('process_instances').where({ id: instanceId }).forUpdate().first('version', 'status');
  if (row && version !== undefined && row.version !== version) throw new ConcurrentUpdateError(instanceId);
  return row;
}

/**
 * Writes a transition: the instance row (guarded by its version), the wait rows derived
 * from the outcome, and the history, all inside the caller's database transaction.
 */
/**
 * Times a node took on its own clock (when each step ran, when it committed) as the database's:
 * `t − offset`, where the offset is this node's clock minus the database's (NodeClockOffset). So
 * nodes whose clocks disagree write one timeline, and durations stay as the node measured them.
 */
const onDatabaseTime = (clockOffsetMs: number) => (time: Date) => (clockOffsetMs ? new Date(time.getTime() - clockOffsetMs) : time);

export async function insertInstance(trx: Knex.Transaction, instance: NewInstance, outcome: TransitionOutcome, clockOffsetMs = 0): Promise<InstanceRow> {
  const at = onDatabaseTime(clockOffsetMs);
  const now = new Date();
  // The first transition ran before this commit: the instance started with its first activity.
  const startedAt = outcome.history.reduce((earliest, entry) => (entry.at < earliest ? entry.at : earliest), now);
  const [row] = await trx('process_instances')
    .insert({
      id: instance.id,
      definition_id: instance.definitionId,
      process_key: instance.processKey,
      business_key: instance.businessKey ?? null,
      status: outcome.status,
      version: 1,
      state: serializeState(outcome.status === 'active' ? outcome.state : null),
      variables: JSON.stringify(outcome.variables),
      parent_instance_id: instance.parentInstanceId ?? null,
      parent_execution_id: instance.parentExecutionId ?? null,
      trace_id: randomBytes(16).toString('hex'),
      root_span_id: randomBytes(8).toString('hex'),
      started_at: at(startedAt),
      updated_at: at(now),
      ended_at: outcome.status === 'active' ? null : at(now),
      error_message: outcome.error?.summary ?? null,
    })
    .returning('*');
  const scope = {
    instanceId: instance.id,
    definitionId: instance.definitionId,
    processKey: instance.processKey,
    businessKey: instance.businessKey ?? null,
  };
  await writeWaits(trx, scope, outcome, true);
  const ended = outcome.status === 'active' ? [] : [endEntry(outcome, now)];
  await writeHistory(trx, instance.id, [{ event: 'instance.start', at: startedAt }, ...outcome.history, ...ended], at);
  await insertDecisionEvaluations(trx, outcome.decisionEvaluations ?? []);
  return row as InstanceRow;
}

export async function updateInstance(trx: Knex.Transaction, current: InstanceRow, outcome: TransitionOutcome, clockOffsetMs = 0): Promise<InstanceRow> {
  const at = onDatabaseTime(clockOffsetMs);
  const now = new Date();
  const ended = outcome.status !== 'active';
  const [row] = await trx('process_instances')
    .where({ id: current.id, version: current.version })
    .update({
      status: outcome.status,
      version: current.version + 1,
      state: serializeState(ended ? null : outcome.state),
      variables: JSON.stringify(outcome.variables),
      updated_at: at(now),
      ended_at: ended ? at(now) : null,
      ...(outcome.error && { error_message: outcome.error.summary }),
    })
    .returning('*');
  if (!row) throw new ConcurrentUpdateError(current.id);
  const scope = {
    instanceId: current.id,
    definitionId: current.definition_id,
    processKey: current.process_key,
    businessKey: current.business_key,
  };
  await writeWaits(trx, scope, outcome, false);
  // An ended instance waits for nothing: call hand-backs still queued for it (the other
  // children of a multi-instance call activity, say) would only fail and raise incidents.
  if (ended) await trx('jobs').where({ instance_id: current.id }).delete();
  const entries = ended ? [...outcome.history, endEntry(outcome, now)] : outcome.history;
  // An ended instance waits on nothing: its open incidents end with it (as a cancel's do).
  if (ended) await trx('incidents').where({ instance_id: current.id }).whereNull('resolved_at').update({ resolved_at: at(now) });
  await writeHistory(trx, current.id, entries, at);
  await insertDecisionEvaluations(trx, outcome.decisionEvaluations ?? []);
  return row as InstanceRow;
}

function endEntry(outcome: TransitionOutcome, at: Date): TransitionOutcome['history'][number] {
  const error = outcome.error;
  return {
    event: `instance.${outcome.status}`,
    at,
    ...(error && { data: { activityId: error.activityId, errorCode: error.errorCode, errorMessage: error.errorMessage, reason: error.summary } }),
  };
}

/** Ends an instance from outside the engine (cancel): drops every wait row. */
export async function endInstance(
  trx: Knex.Transaction,
  current: InstanceRow,
  status: Exclude<InstanceStatus, 'active'>,
  reason: string,
  clockOffsetMs = 0,
): Promise<void> {
  const now = onDatabaseTime(clockOffsetMs)(new Date());
  const updated = await trx('process_instances')
    .where({ id: current.id, version: current.version })
    .update({ status, version: current.version + 1, state: null, updated_at: now, ended_at: now, error_message: reason });
  if (!updated) throw new ConcurrentUpdateError(current.id);
  for (const table of ['user_tasks', 'external_tasks', 'jobs', 'subscriptions']) {
    await trx(table).where({ instance_id: current.id }).delete();
  }
  await trx('incidents').where({ instance_id: current.id }).whereNull('resolved_at').update({ resolved_at: now });
  await writeHistory(trx, current.id, [{ event: `instance.${status}`, at: now, data: { reason } }], (time) => time);
}

/** Rewrites one family of wait rows: rows whose key is gone are deleted, new keys inserted. */
async function syncRows<T>(
  trx: Knex.Transaction,
  table: string,
  keyColumn: string,
  instanceId: string,
  wanted: T[],
  keyOf: (item: T) => string,
  toRow: (item: T) => Record<string, unknown>,
  fresh: boolean,
  where: Record<string, unknown> = {},
): Promise<void> {
  const wantedKeys = new Set(wanted.map(keyOf));
  let existing = new Set<string>();
  if (!fresh) {
    const rows: Array<Record<string, string>> = await trx(table).where({ instance_id: instanceId, ...where }).select(keyColumn);
    existing = new Set(rows.map((row) => row[keyColumn] as string));
    const gone = [...existing].filter((key) => !wantedKeys.has(key));
    if (gone.length) await trx(table).where({ instance_id: instanceId, ...where }).whereIn(keyColumn, gone).delete();
  }
  const added = wanted.filter((item) => !existing.has(keyOf(item)));
  if (added.length) await trx(table).insert(added.map((item) => ({ id: randomUUID(), instance_id: instanceId, ...toRow(item) })));
}

async function writeWaits(trx: Knex.Transaction, scope: Scope, outcome: TransitionOutcome, fresh: boolean): Promise<void> {
  const common = { process_key: scope.processKey, definition_id: scope.definitionId };
  await syncRows(trx, 'user_tasks', 'execution_id', scope.instanceId, outcome.userTasks, (task) => task.executionId, (task) => ({
    ...common,
    activity_id: task.activityId,
    execution_id: task.executionId,
    name: task.name ?? null,
    assignee: task.assignee ?? null,
    candidate_groups: task.candidateGroups,
    candidate_users: task.candidateUsers,
    form_key: task.formKey ?? null,
    form_fields: JSON.stringify(task.formFields),
    priority: task.priority,
    due_at: task.dueAt ?? null,
  }), fresh);
  await syncRows(trx, 'external_tasks', 'execution_id', scope.instanceId, outcome.externalTasks, (task) => task.executionId, (task) => ({
    ...common,
    activity_id: task.activityId,
    execution_id: task.executionId,
    topic: task.topic,
    priority: task.priority,
    business_key: scope.businessKey,
    ...(task.localVariables && { local_variables: JSON.stringify(task.localVariables) }),
  }), fresh);
  await syncRows(
    trx,
    'subscriptions',
    'execution_id',
    scope.instanceId,
    outcome.subscriptions,
    (subscription) => subscription.executionId,
    (subscription) => ({
      kind: subscription.kind,
      name: subscription.name,
      ref_id: subscription.refId,
      definition_id: scope.definitionId,
      activity_id: subscription.activityId,
      execution_id: subscription.executionId,
      business_key: scope.businessKey,
    }),
    fresh,
  );
  await syncRows(
    trx,
    'jobs',
    'timer_key',
    scope.instanceId,
    outcome.timers,
    (timer) => `${timer.timerKey}@${timer.dueAt.toISOString()}`,
    (timer) => ({
      kind: 'timer',
      definition_id: scope.definitionId,
      activity_id: timer.activityId,
      timer_key: `${timer.timerKey}@${timer.dueAt.toISOString()}`,
      // The key keeps the node's due time (stable in the saved state); the row's due time is on the database's clock.
      due_at: onDatabaseClock(trx, timer.dueAt),
    }),
    fresh,
    { kind: 'timer' },
  );
}

async function writeHistory(
  trx: Knex.Transaction,
  instanceId: string,
  entries: TransitionOutcome['history'],
  at: (time: Date) => Date,
): Promise<void> {
  if (!entries.length) return;
  const rows = entries.map((entry) => ({
    instance_id: instanceId,
    activity_id: entry.activityId ?? null,
    activity_type: entry.activityType ?? null,
    activity_name: entry.activityName ?? null,
    execution_id: entry.executionId ?? null,
    event: entry.event,
    at: at(entry.at),
    data: entry.data ? JSON.stringify(entry.data) : null,
  }));
  // Bounded batches keep the parameter count under PostgreSQL's limit for long transitions.
  for (let offset = 0; offset < rows.length; offset += 500) await trx('history').insert(rows.slice(offset, offset + 500));
}

/**
 * History retention (Camunda 7's history time to live): deletes instances that ended more than
 * `days` ago, with their history, tasks and incidents (cascade), leaves first so a parent goes
 * after its called instances. At most `batches` batches of 500 per call; returns how many went.
 */
export async function deleteEndedInstances(knex: Knex, days: number, batches = 20): Promise<number> {
  let deleted = 0;
  for (let batch = 0; batch < batches; batch++) {
    const result = await knex.raw(
      `DELETE FROM process_instances WHERE id IN (
         SELECT p.id FROM process_instances p
          WHERE p.ended_at < now() - make_interval(days => ?)
            AND NOT EXISTS (SELECT 1 FROM process_instances c WHERE c.parent_instance_id = p.id)
          LIMIT 500)`,
      [days],
    );
    const count = Number(result.rowCount ?? 0);
    deleted += count;
    if (count === 0) break; // a short batch may have freed parents for the next one
  }
  return deleted;
}

/** The call-activity executions of a parent that have a called instance already. */
export async function calledExecutionIds(knex: Knex | Knex.Transaction, parentId: string): Promise<string[]> {
  return knex('process_instances').where({ parent_instance_id: parentId }).pluck('parent_execution_id');
}

export async function findCalledInstance(trx: Knex | Knex.Transaction, parentId: string, parentExecutionId: string): Promise<{ id: string } | undefined> {
  return trx('process_instances').where({ parent_instance_id: parentId, parent_execution_id: parentExecutionId }).first('id');
}

/** The active instances called by any of `parentIds`. */
export async function activeChildren(trx: Knex | Knex.Transaction, parentIds: string[]): Promise<InstanceRow[]> {
  return trx('process_instances').whereIn('parent_instance_id', parentIds).where({ status: 'active' });
}

/** One history row written outside a transition's outcome (a worker's failure report). */
export async function insertHistoryEntry(
  trx: Knex.Transaction,
  entry: { instanceId: string; activityId: string; executionId: string; event: string; at: Date; data: unknown },
): Promise<void> {
  await trx('history').insert({
    instance_id: entry.instanceId,
    activity_id: entry.activityId,
    execution_id: entry.executionId,
    event: entry.event,
    at: entry.at,
    data: JSON.stringify(entry.data),
  });
}
