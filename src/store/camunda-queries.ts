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

export interface InstanceFilter {
  processDefinitionKey?: string;
  processDefinitionId?: string;
  businessKey?: string;
  processInstanceIds?: string[];
  superProcessInstance?: string;
  /** History queries: ended (true), running (false) or both. */
  finished?: boolean;
  /** Runtime queries see active instances only. */
  activeOnly?: boolean;
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
    )
    .orderBy([{ column: 'i.started_at' }, { column: 'i.id' }]);
  if (filter.activeOnly) query.where('i.status', 'active');
  if (filter.finished === true) query.whereNot('i.status', 'active');
  if (filter.finished === false) query.where('i.status', 'active');
  if (filter.processDefinitionKey) query.where('i.process_key', filter.processDefinitionKey);
  if (filter.processDefinitionId) query.where('i.definition_id', filter.processDefinitionId);
  if (filter.businessKey) query.where('i.business_key', filter.businessKey);
  if (filter.processInstanceIds) query.whereIn('i.id', filter.processInstanceIds);
  if (filter.superProcessInstance) query.where('i.parent_instance_id', filter.superProcessInstance);
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
  processInstanceId?: string;
  taskDefinitionKey?: string;
  assignee?: string;
  candidateGroup?: string;
  unassigned?: boolean;
}

function tasks(knex: Knex, filter: TaskFilter): Knex.QueryBuilder {
  const query = knex('user_tasks').select('*').orderBy([{ column: 'created_at' }, { column: 'id' }]);
  if (filter.processDefinitionKey) query.where('process_key', filter.processDefinitionKey);
  if (filter.processInstanceId) query.where('instance_id', filter.processInstanceId);
  if (filter.taskDefinitionKey) query.where('activity_id', filter.taskDefinitionKey);
  if (filter.assignee) query.where('assignee', filter.assignee);
  if (filter.unassigned) query.whereNull('assignee');
  if (filter.candidateGroup) query.whereRaw('? = any(candidate_groups)', [filter.candidateGroup]);
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
