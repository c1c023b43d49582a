import type { Knex } from 'knex';

/** Read models of the Camunda 7 REST subset: one filter builder per resource, shared by list and count. */

export interface Page {
  firstResult: number;
  maxResults: number;
}

async function listAndPage<T>(query: Knex.QueryBuilder, page: Page): Promise<T[]> {
  return query.offset(page.firstResult).limit(page.maxResults);
}

async function count(query: Knex.QueryBuilder): Promise<number> {
  const [row] = await query.clearSelect().clearOrder().count<{ count: string }[]>({ count: '*' });
  return Number(row?.count ?? 0);
}

export interface DefinitionFilter {
  key?: string;
  keyLike?: string;
  name?: string;
  latestVersion?: boolean;
  deploymentId?: string;
}

function definitions(knex: Knex, filter: DefinitionFilter): Knex.QueryBuilder {
  const query = knex('process_definitions as d')
    .select('d.id', 'd.key', 'd.version', 'd.name', 'd.deployment_id', 'd.resource_name', 'd.executable')
    .orderBy([{ column: 'd.key' }, { column: 'd.version', order: 'desc' }]);
  if (filter.key) query.where('d.key', filter.key);
  if (filter.keyLike) query.whereLike('d.key', filter.keyLike);
  if (filter.name) query.where('d.name', filter.name);
  if (filter.deploymentId) query.where('d.deployment_id', filter.deploymentId);
  if (filter.latestVersion) query.whereRaw('d.version = (select max(d2.version) from process_definitions d2 where d2.key = d.key)');
  return query;
}

export const listDefinitions = (knex: Knex, filter: DefinitionFilter, page: Page) => listAndPage<C7DefinitionRow>(definitions(knex, filter), page);
export const countDefinitions = (knex: Knex, filter: DefinitionFilter) => count(definitions(knex, filter));

export interface C7DefinitionRow {
  id: string;
  key: string;
  version: number;
  name: string | null;
  deployment_id: string;
  resource_name: string;
  executable: boolean;
}

/** A Camunda 7 variable filter (`name_op_value` in a GET, `{name, operator, value}` in a POST). */
export interface VariableCondition {
  name: string;
  operator: 'eq' | 'neq' | 'gt' | 'gteq' | 'lt' | 'lteq' | 'like';
  value: unknown;
}

export interface InstanceFilter {
  processDefinitionKey?: string;
  processDefinitionKeyIn?: string[];
  processDefinitionKeyNotIn?: string[];
  processDefinitionId?: string;
  businessKey?: string;
  businessKeyLike?: string;
  processInstanceIds?: string[];
  superProcessInstance?: string;
  activityIdIn?: string[];
  withIncident?: boolean;
  incidentType?: string;
  variables?: VariableCondition[];
  /** regenflow never suspends an instance: true matches none. */
  suspended?: boolean;
  /** History queries: ended (true), running (false) or both. */
  finished?: boolean;
  /** Runtime queries see active instances only. */
  activeOnly?: boolean;
  sortBy?: 'instanceId' | 'definitionKey' | 'definitionId' | 'businessKey';
  sortOrder?: 'asc' | 'desc';
}

const INSTANCE_SORT = { instanceId: 'i.id', definitionKey: 'i.process_key', definitionId: 'i.definition_id', businessKey: 'i.business_key' } as const;

/**
 * One variable condition on a jsonb column. A GET sends every value as text, so `eq`
 * matches the text, or the number or boolean it spells, as Camunda 7 does for typed values.
 * Equality is written as containment (`@>`), which the GIN index on instance variables
 * (migration 0028b) answers; for the scalars a condition carries it means the same as `=`.
 */
export function whereVariable(query: Knex.QueryBuilder, column: string, condition: VariableCondition): void {
  const { name, operator, value } = condition;
  const candidates: unknown[] = [value];
  if (typeof value === 'string') {
    if (value.trim() !== '' && Number.isFinite(Number(value))) candidates.push(Number(value));
    if (value === 'true' || value === 'false') candidates.push(value === 'true');
    if (value === 'null') candidates.push(null);
  }
  const equals = (builder: Knex.QueryBuilder) => {
    for (const candidate of candidates) builder.orWhereRaw(`${column} @> ?::jsonb`, [JSON.stringify({ [name]: candidate })]);
  };
  const numeric = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)) ? Number(value) : null;
  const comparison = { gt: '>', gteq: '>=', lt: '<', lteq: '<=' } as const;
  switch (operator) {
    case 'eq':
      query.where(equals);
      return;
    case 'neq':
      query.whereRaw(`jsonb_exists(${column}, ?)`, [name]).whereNot(equals);
      return;
    case 'like':
      query.whereRaw(`jsonb_typeof(${column} -> ?) = 'string' and ${column} ->> ? like ?`, [name, name, String(value)]);
      return;
    default: {
      const sql = comparison[operator];
      if (numeric !== null) {
        query.whereRaw(`jsonb_typeof(${column} -> ?) = 'number' and (${column} ->> ?)::numeric ${sql} ?`, [name, name, numeric]);
      } else {
        query.whereRaw(`jsonb_typeof(${column} -> ?) = 'string' and ${column} ->> ? ${sql} ?`, [name, name, String(value)]);
      }
    }
  }
}

/** Instances with a token waiting at one of these activities (between transitions every token waits). */
/** The wait rows: between transitions every token of an active instance waits in one of these. */
export const WAIT_TABLES = ['user_tasks', 'external_tasks', 'jobs', 'subscriptions'] as const;

function whereWaitingAt(query: Knex.QueryBuilder, activityIds: string[]): void {
  query.where((builder) => {
    for (const table of WAIT_TABLES) {
      builder.orWhereExists((sub) => sub.select(sub.client.raw('1')).from(table).whereRaw(`${table}.instance_id = i.id`).whereIn(`${table}.activity_id`, activityIds));
    }
  });
}

function instances(knex: Knex, filter: InstanceFilter): Knex.QueryBuilder {
  const query = knex('process_instances as i')
    .join('process_definitions as d', 'd.id', 'i.definition_id')
    .select(
      'i.id',
      'i.definition_id',
      'i.process_key',
      'i.business_key',
      'i.status',
      'i.parent_instance_id',
      'i.error_message',
      'i.started_at',
      'i.ended_at',
      'd.name as definition_name',
      'd.version as definition_version',
    );
  if (filter.sortBy) query.orderBy([{ column: INSTANCE_SORT[filter.sortBy], order: filter.sortOrder ?? 'asc' }, { column: 'i.id' }]);
  else query.orderBy([{ column: 'i.started_at' }, { column: 'i.id' }]);
  if (filter.activeOnly) query.where('i.status', 'active');
  if (filter.finished === true) query.whereNot('i.status', 'active');
  if (filter.finished === false) query.where('i.status', 'active');
  if (filter.suspended === true) query.whereRaw('false');
  if (filter.processDefinitionKey) query.where('i.process_key', filter.processDefinitionKey);
  if (filter.processDefinitionKeyIn) query.whereIn('i.process_key', filter.processDefinitionKeyIn);
  if (filter.processDefinitionKeyNotIn) query.whereNotIn('i.process_key', filter.processDefinitionKeyNotIn);
  if (filter.processDefinitionId) query.where('i.definition_id', filter.processDefinitionId);
  if (filter.businessKey !== undefined) query.where('i.business_key', filter.businessKey);
  if (filter.businessKeyLike !== undefined) query.whereLike('i.business_key', filter.businessKeyLike);
  if (filter.processInstanceIds) query.whereIn('i.id', filter.processInstanceIds);
  if (filter.superProcessInstance) query.where('i.parent_instance_id', filter.superProcessInstance);
  if (filter.activityIdIn) whereWaitingAt(query, filter.activityIdIn);
  if (filter.withIncident !== undefined || filter.incidentType) {
    const open = (sub: Knex.QueryBuilder) => {
      sub.select(knex.raw('1')).from('incidents as n').whereRaw('n.instance_id = i.id').whereNull('n.resolved_at');
      if (filter.incidentType) sub.where('n.type', filter.incidentType);
    };
    if (filter.withIncident === false) query.whereNotExists(open);
    else query.whereExists(open);
  }
  for (const condition of filter.variables ?? []) whereVariable(query, 'i.variables', condition);
  return query;
}

export interface C7InstanceRow {
  id: string;
  definition_id: string;
  process_key: string;
  business_key: string | null;
  status: string;
  parent_instance_id: string | null;
  error_message: string | null;
  started_at: Date;
  ended_at: Date | null;
  definition_name: string | null;
  definition_version: number;
}

export const listInstances = (knex: Knex, filter: InstanceFilter, page: Page) => listAndPage<C7InstanceRow>(instances(knex, filter), page);
export const countInstances = (knex: Knex, filter: InstanceFilter) => count(instances(knex, filter));
export const findInstance = async (knex: Knex, id: string): Promise<C7InstanceRow | undefined> => instances(knex, { processInstanceIds: [id] }).first();

export interface TaskFilter {
  processDefinitionKey?: string;
  processDefinitionKeyIn?: string[];
  processDefinitionId?: string;
  processInstanceId?: string;
  processInstanceIdIn?: string[];
  processInstanceBusinessKey?: string;
  processInstanceBusinessKeyLike?: string;
  taskDefinitionKey?: string;
  taskDefinitionKeyIn?: string[];
  taskDefinitionKeyLike?: string;
  taskId?: string;
  name?: string;
  nameLike?: string;
  assignee?: string;
  assigneeLike?: string;
  assigneeIn?: string[];
  candidateGroup?: string;
  candidateGroups?: string[];
  candidateUser?: string;
  withCandidateGroups?: boolean;
  withoutCandidateGroups?: boolean;
  unassigned?: boolean;
  assigned?: boolean;
  /** Tasks are never suspended here: true matches none. */
  suspended?: boolean;
  processVariables?: VariableCondition[];
  sortBy?: 'id' | 'name' | 'assignee' | 'created' | 'priority' | 'dueDate' | 'taskDefinitionKey' | 'processInstanceId';
  sortOrder?: 'asc' | 'desc';
}

const TASK_SORT = {
  id: 't.id',
  name: 't.name',
  assignee: 't.assignee',
  created: 't.created_at',
  priority: 't.priority',
  dueDate: 't.due_at',
  taskDefinitionKey: 't.activity_id',
  processInstanceId: 't.instance_id',
} as const;

function tasks(knex: Knex, filter: TaskFilter): Knex.QueryBuilder {
  const query = knex('user_tasks as t').select('t.*');
  if (filter.sortBy) query.orderBy([{ column: TASK_SORT[filter.sortBy], order: filter.sortOrder ?? 'asc' }, { column: 't.id' }]);
  else query.orderBy([{ column: 't.created_at' }, { column: 't.id' }]);
  if (filter.processDefinitionKey) query.where('t.process_key', filter.processDefinitionKey);
  if (filter.processDefinitionKeyIn) query.whereIn('t.process_key', filter.processDefinitionKeyIn);
  if (filter.processDefinitionId) query.where('t.definition_id', filter.processDefinitionId);
  if (filter.processInstanceId) query.where('t.instance_id', filter.processInstanceId);
  if (filter.processInstanceIdIn) query.whereIn('t.instance_id', filter.processInstanceIdIn);
  if (filter.taskId) query.where('t.id', filter.taskId);
  if (filter.taskDefinitionKey) query.where('t.activity_id', filter.taskDefinitionKey);
  if (filter.taskDefinitionKeyIn) query.whereIn('t.activity_id', filter.taskDefinitionKeyIn);
  if (filter.taskDefinitionKeyLike !== undefined) query.whereLike('t.activity_id', filter.taskDefinitionKeyLike);
  // A task without a name shows its activity id as its name (see c7Task): filter on the same.
  if (filter.name !== undefined) query.whereRaw('coalesce(t.name, t.activity_id) = ?', [filter.name]);
  if (filter.nameLike !== undefined) query.whereRaw('coalesce(t.name, t.activity_id) like ?', [filter.nameLike]);
  if (filter.assignee) query.where('t.assignee', filter.assignee);
  if (filter.assigneeLike !== undefined) query.whereLike('t.assignee', filter.assigneeLike);
  if (filter.assigneeIn) query.whereIn('t.assignee', filter.assigneeIn);
  if (filter.unassigned) query.whereNull('t.assignee');
  if (filter.assigned) query.whereNotNull('t.assignee');
  if (filter.candidateGroup) query.whereRaw('? = any(t.candidate_groups)', [filter.candidateGroup]);
  if (filter.candidateGroups) query.whereRaw('t.candidate_groups && ?::text[]', [filter.candidateGroups]);
  if (filter.candidateUser) query.whereRaw('? = any(t.candidate_users)', [filter.candidateUser]);
  if (filter.withCandidateGroups) query.whereRaw('cardinality(t.candidate_groups) > 0');
  if (filter.withoutCandidateGroups) query.whereRaw('cardinality(t.candidate_groups) = 0');
  if (filter.suspended === true) query.whereRaw('false');
  const needsInstance = filter.processVariables?.length || filter.processInstanceBusinessKey !== undefined || filter.processInstanceBusinessKeyLike !== undefined;
  if (needsInstance) {
    query.join('process_instances as i', 'i.id', 't.instance_id');
    if (filter.processInstanceBusinessKey !== undefined) query.where('i.business_key', filter.processInstanceBusinessKey);
    if (filter.processInstanceBusinessKeyLike !== undefined) query.whereLike('i.business_key', filter.processInstanceBusinessKeyLike);
    for (const condition of filter.processVariables ?? []) whereVariable(query, 'i.variables', condition);
  }
  return query;
}

export const listTasks = (knex: Knex, filter: TaskFilter, page: Page) => listAndPage<Record<string, any>>(tasks(knex, filter), page);
export const countTasks = (knex: Knex, filter: TaskFilter) => count(tasks(knex, filter));

export interface IncidentFilter {
  processInstanceId?: string;
  processDefinitionKeys?: string[];
  incidentType?: string;
  activityId?: string;
  open?: boolean;
}

function incidents(knex: Knex, filter: IncidentFilter): Knex.QueryBuilder {
  const query = knex('incidents as n')
    // A timer start's failed job has no instance: its incident names the definition.
    .leftJoin('process_instances as i', 'i.id', 'n.instance_id')
    .select('n.*', knex.raw('coalesce(n.definition_id, i.definition_id) as definition_id'))
    .orderBy([{ column: 'n.created_at' }, { column: 'n.id' }]);
  if (filter.open !== false) query.whereNull('n.resolved_at');
  if (filter.processInstanceId) query.where('n.instance_id', filter.processInstanceId);
  if (filter.processDefinitionKeys) query.whereIn('n.process_key', filter.processDefinitionKeys);
  if (filter.incidentType) query.where('n.type', filter.incidentType);
  if (filter.activityId) query.where('n.activity_id', filter.activityId);
  return query;
}

export const listIncidents = (knex: Knex, filter: IncidentFilter, page: Page) => listAndPage<Record<string, any>>(incidents(knex, filter), page);
export const countIncidents = (knex: Knex, filter: IncidentFilter) => count(incidents(knex, filter));
