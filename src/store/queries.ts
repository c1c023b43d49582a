import type { Knex } from 'knex';
import type { InstanceRow } from './transitions.js';
import { whereIncidents } from './instance-list.js';
import { whereVariable, type VariableCondition } from './camunda-queries.js';

/** Read models for the API: what operators look at. */

export async function listInstances(
  knex: Knex,
  filter: {
    status?: string;
    processKey?: string;
    businessKey?: string;
    startedBefore?: Date;
    startedAfter?: Date;
    incidents?: 'open' | 'none';
    /** Variable conditions (`name_op_value`), all of which must hold. */
    variables?: VariableCondition[];
    /** Ended (true) or running (false) only. */
    finished?: boolean;
    limit: number;
    offset: number;
  },
): Promise<InstanceRow[]> {
  const query = knex('process_instances')
    .select('id', 'definition_id', 'process_key', 'business_key', 'status', 'variables', 'parent_instance_id', 'error_message', 'started_at', 'ended_at')
    .orderBy('started_at', 'desc')
    .limit(filter.limit)
    .offset(filter.offset);
  if (filter.status) query.where('status', filter.status);
  if (filter.processKey) query.where('process_key', filter.processKey);
  if (filter.businessKey) query.where('business_key', filter.businessKey);
  if (filter.startedBefore) query.where('started_at', '<', filter.startedBefore);
  if (filter.startedAfter) query.where('started_at', '>', filter.startedAfter);
  whereIncidents(query, filter.incidents);
  whereListed(query, filter);
  query.orderBy('id');
  return query;
}

/** The history filters of an instance list: ended or running, and variable conditions. */
function whereListed(query: Knex.QueryBuilder, filter: { variables?: VariableCondition[]; finished?: boolean }): void {
  if (filter.finished === true) query.whereNot('status', 'active');
  if (filter.finished === false) query.where('status', 'active');
  for (const condition of filter.variables ?? []) whereVariable(query, 'process_instances.variables', condition);
}

/** How many instances match a list filter (for pagination), ignoring limit and offset. */
export async function countInstances(
  knex: Knex,
  filter: { status?: string; processKey?: string; businessKey?: string; startedBefore?: Date; startedAfter?: Date; incidents?: 'open' | 'none'; variables?: VariableCondition[]; finished?: boolean },
): Promise<number> {
  const query = knex('process_instances').count<{ count: string }[]>({ count: '*' });
  if (filter.status) query.where('status', filter.status);
  if (filter.processKey) query.where('process_key', filter.processKey);
  if (filter.businessKey) query.where('business_key', filter.businessKey);
  if (filter.startedBefore) query.where('started_at', '<', filter.startedBefore);
  if (filter.startedAfter) query.where('started_at', '>', filter.startedAfter);
  whereIncidents(query, filter.incidents);
  whereListed(query, filter);
  const [row] = await query;
  return Number(row?.count ?? 0);
}

/** What an instance waits on (its wait rows and open incidents), for the instance detail. */
export async function instanceWaits(knex: Knex, instanceId: string) {
  const [userTasks, externalTasks, jobs, subscriptions, incidents] = await Promise.all([
    knex('user_tasks').where({ instance_id: instanceId }),
    knex('external_tasks').where({ instance_id: instanceId }),
    knex('jobs').where({ instance_id: instanceId }),
    knex('subscriptions').where({ instance_id: instanceId }),
    knex('incidents').where({ instance_id: instanceId }).whereNull('resolved_at'),
  ]);
  const active = [
    ...userTasks.map((task) => task.activity_id),
    ...externalTasks.map((task) => task.activity_id),
    ...jobs.map((job) => job.activity_id),
    ...subscriptions.map((subscription) => subscription.activity_id),
  ];
  return {
    activeActivities: [...new Set(active)],
    userTasks,
    externalTasks,
    timers: jobs,
    subscriptions,
    incidents,
  };
}

export async function instanceHistory(knex: Knex, instanceId: string) {
  return knex('history').where({ instance_id: instanceId }).orderBy('id');
}

export async function listUserTasks(
  knex: Knex,
  filter: { assignee?: string; candidateGroup?: string; processKey?: string; instanceId?: string },
) {
  const query = knex('user_tasks').orderBy([{ column: 'priority', order: 'desc' }, { column: 'created_at' }]);
  if (filter.assignee) query.where('assignee', filter.assignee);
  if (filter.candidateGroup) query.whereRaw('? = any(candidate_groups)', [filter.candidateGroup]);
  if (filter.processKey) query.where('process_key', filter.processKey);
  if (filter.instanceId) query.where('instance_id', filter.instanceId);
  return query;
}

export async function findUserTask(knex: Knex, id: string) {
  return knex('user_tasks').where({ id }).first();
}

export async function listIncidents(knex: Knex, filter: { open: boolean; instanceId?: string; processKey?: string; type?: string }) {
  const query = knex('incidents').orderBy('created_at', 'desc');
  if (filter.open) query.whereNull('resolved_at');
  if (filter.instanceId) query.where('instance_id', filter.instanceId);
  if (filter.processKey) query.where('process_key', filter.processKey);
  if (filter.type) query.where('type', filter.type);
  return query;
}

/**
 * Jobs an operator looks at: `due` (due now, retries left: the poller will take them),
 * `failed` (retries used up: an incident holds them) or `all`.
 */
export async function listJobs(knex: Knex, filter: { state: 'due' | 'failed' | 'all'; instanceId?: string; limit: number; offset: number }) {
  const query = knex('jobs')
    .select('id', 'kind', 'instance_id', 'definition_id', 'activity_id', 'due_at', 'retries', 'locked_by', 'locked_until', 'error_message', 'created_at')
    .orderBy([{ column: 'due_at' }, { column: 'id' }])
    .limit(filter.limit)
    .offset(filter.offset);
  if (filter.state === 'due') query.where('due_at', '<=', knex.raw('now()')).andWhere('retries', '>', 0);
  if (filter.state === 'failed') query.where('retries', 0);
  if (filter.instanceId) query.where('instance_id', filter.instanceId);
  return query;
}

export async function listExternalTasks(knex: Knex, filter: { topic?: string }) {
  const query = knex('external_tasks').orderBy('created_at');
  if (filter.topic) query.where('topic', filter.topic);
  return query;
}
