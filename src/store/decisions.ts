import type { Knex } from 'knex';

export interface DecisionDefinitionRow {
  id: string;
  key: string;
  version: number;
  name: string | null;
  version_tag: string | null;
  deployment_id: string;
  resource_name: string;
  drg_key: string;
  checksum: string;
  xml: string;
  /** The parsed DRG (`DecisionRequirements`), JSON. */
  model: unknown;
  deployed_at: Date;
}

export type DecisionDefinitionSummary = Omit<DecisionDefinitionRow, 'xml' | 'model'>;

const SUMMARY = ['id', 'key', 'version', 'name', 'version_tag', 'deployment_id', 'resource_name', 'drg_key', 'checksum', 'deployed_at'];

function parsed<T extends { model?: unknown }>(row: T | undefined): T | undefined {
  if (row && typeof row.model === 'string') row.model = JSON.parse(row.model);
  return row;
}

export async function findDecisionDefinition(knex: Knex, id: string): Promise<DecisionDefinitionRow | undefined> {
  return parsed(await knex('decision_definitions').where({ id }).first());
}

/** The id of a decision version chosen by Camunda 7's bindings: latest, a version, or the one deployed with a deployment. */
export async function findDecisionDefinitionId(
  knex: Knex,
  key: string,
  binding: { version?: number; deploymentId?: string } = {},
): Promise<string | undefined> {
  const query = knex('decision_definitions').where({ key }).orderBy('version', 'desc').first('id');
  if (binding.version !== undefined) query.where({ version: binding.version });
  if (binding.deploymentId !== undefined) query.where({ deployment_id: binding.deploymentId });
  const row = await query;
  if (row || binding.deploymentId === undefined) return row?.id;
  // Deployed again unchanged with that deployment: the version it links to.
  const linked = knex('decision_deployment_links as l')
    .join('decision_definitions as d', 'd.id', 'l.decision_definition_id')
    .where({ 'l.deployment_id': binding.deploymentId, 'l.key': key })
    .first('d.id');
  if (binding.version !== undefined) linked.where({ 'd.version': binding.version });
  return (await linked)?.id;
}

/** A deployment that holds an unchanged decision keeps its version and links it. */
export async function linkDecisionToDeployment(trx: Knex.Transaction, link: { deployment_id: string; decision_definition_id: string; key: string }): Promise<void> {
  await trx('decision_deployment_links').insert(link).onConflict(['deployment_id', 'key']).ignore();
}

export interface DecisionDefinitionFilter {
  id?: string;
  key?: string;
  keyLike?: string;
  name?: string;
  version?: number;
  deploymentId?: string;
  resourceName?: string;
  drgKey?: string;
  latestOnly?: boolean;
}

export async function listDecisionDefinitions(
  knex: Knex,
  filter: DecisionDefinitionFilter = {},
  page: { firstResult?: number; maxResults?: number } = {},
): Promise<DecisionDefinitionSummary[]> {
  const query = knex('decision_definitions').select(SUMMARY).orderBy([{ column: 'key' }, { column: 'version', order: 'desc' }]);
  applyFilter(query, filter);
  return query.offset(page.firstResult ?? 0).limit(Math.min(page.maxResults ?? 1000, 1000));
}

export async function countDecisionDefinitions(knex: Knex, filter: DecisionDefinitionFilter = {}): Promise<number> {
  const query = knex('decision_definitions').count<{ count: string | number }[]>({ count: '*' });
  applyFilter(query, filter);
  const [row] = await query;
  return Number(row?.count ?? 0);
}

function applyFilter(query: Knex.QueryBuilder, filter: DecisionDefinitionFilter): void {
  if (filter.id) query.where('id', filter.id);
  if (filter.key) query.where('key', filter.key);
  if (filter.keyLike) query.whereLike('key', filter.keyLike);
  if (filter.name) query.where('name', filter.name);
  if (filter.version !== undefined) query.where('version', filter.version);
  if (filter.deploymentId) query.where('deployment_id', filter.deploymentId);
  if (filter.resourceName) query.where('resource_name', filter.resourceName);
  if (filter.drgKey) query.where('drg_key', filter.drgKey);
  if (filter.latestOnly) {
    query.whereRaw('version = (select max(d2.version) from decision_definitions d2 where d2.key = decision_definitions.key)');
  }
}

/** The latest version of a key, locked until the deploying transaction ends (versions stay gapless and unique). */
export async function latestDecisionForUpdate(trx: Knex.Transaction, key: string): Promise<DecisionDefinitionSummary | undefined> {
  return trx('decision_definitions').where({ key }).orderBy('version', 'desc').forUpdate().first(SUMMARY);
}

export async function insertDecisionDefinition(trx: Knex.Transaction, row: Omit<DecisionDefinitionRow, 'deployed_at'>): Promise<void> {
  await trx('decision_definitions').insert({ ...row, model: JSON.stringify(row.model) });
}

export interface DecisionEvaluationRow {
  id: string;
  root_id: string | null;
  decision_definition_id: string;
  decision_key: string;
  decision_version: number;
  instance_id: string | null;
  process_definition_id: string | null;
  process_key: string | null;
  activity_id: string | null;
  execution_id: string | null;
  inputs: unknown;
  matched_rules: unknown;
  outputs: unknown;
  record: Record<string, unknown>;
  evaluated_at: Date;
}

export async function insertDecisionEvaluations(knex: Knex | Knex.Transaction, rows: DecisionEvaluationRow[]): Promise<void> {
  if (!rows.length) return;
  const json = rows.map((row) => ({
    ...row,
    inputs: JSON.stringify(row.inputs),
    matched_rules: JSON.stringify(row.matched_rules),
    outputs: JSON.stringify(row.outputs),
    record: JSON.stringify(row.record),
  }));
  for (let offset = 0; offset < json.length; offset += 200) await knex('decision_evaluations').insert(json.slice(offset, offset + 200));
}

export interface DecisionEvaluationFilter {
  id?: string;
  instanceId?: string;
  decisionKey?: string;
  decisionDefinitionId?: string;
  activityId?: string;
  rootId?: string;
  /** Only evaluations that no other required (the root of each DRG evaluation). */
  rootsOnly?: boolean;
}

export async function listDecisionEvaluations(
  knex: Knex,
  filter: DecisionEvaluationFilter,
  page: { firstResult?: number; maxResults?: number } = {},
): Promise<DecisionEvaluationRow[]> {
  const query = knex('decision_evaluations').orderBy([{ column: 'evaluated_at' }, { column: 'id' }]);
  if (filter.id) query.where('id', filter.id);
  if (filter.instanceId) query.where('instance_id', filter.instanceId);
  if (filter.decisionKey) query.where('decision_key', filter.decisionKey);
  if (filter.decisionDefinitionId) query.where('decision_definition_id', filter.decisionDefinitionId);
  if (filter.activityId) query.where('activity_id', filter.activityId);
  if (filter.rootId) query.where('root_id', filter.rootId);
  if (filter.rootsOnly) query.whereNull('root_id');
  const rows: DecisionEvaluationRow[] = await query.offset(page.firstResult ?? 0).limit(Math.min(page.maxResults ?? 1000, 1000));
  for (const row of rows) {
    for (const key of ['inputs', 'matched_rules', 'outputs', 'record'] as const) {
      if (typeof row[key] === 'string') (row as any)[key] = JSON.parse(row[key] as string);
    }
  }
  return rows;
}
