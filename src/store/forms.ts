import type { Knex } from 'knex';

export interface FormDefinitionRow {
  id: string;
  key: string;
  version: number;
  version_tag: string | null;
  deployment_id: string;
  resource_name: string;
  checksum: string;
  /** The form-js schema as deployed (JSON). */
  schema: unknown;
  /** The submission checks derived at deploy (`FormField[]`, JSON). */
  fields: unknown;
  deployed_at: Date;
}

export type FormDefinitionSummary = Omit<FormDefinitionRow, 'schema' | 'fields'>;

/** What a process version's user task or start event links: a form id and Camunda's binding. */
export interface FormLinkRow {
  process_definition_id: string;
  activity_id: string;
  form_key: string;
  binding: 'latest' | 'deployment' | 'version';
  version: number | null;
  deployment_id: string;
  /** A plain `camunda:formKey`: resolved when the form is shown, no form when none has that id. */
  optional: boolean;
}

const SUMMARY = ['id', 'key', 'version', 'version_tag', 'deployment_id', 'resource_name', 'checksum', 'deployed_at'];

function parsed<T extends { schema?: unknown; fields?: unknown }>(row: T | undefined): T | undefined {
  if (row && typeof row.schema === 'string') row.schema = JSON.parse(row.schema);
  if (row && typeof row.fields === 'string') row.fields = JSON.parse(row.fields);
  return row;
}

export async function findFormDefinition(knex: Knex | Knex.Transaction, id: string): Promise<FormDefinitionRow | undefined> {
  return parsed(await knex('form_definitions').where({ id }).first());
}

/**
 * The id of a form version chosen by Camunda's bindings: latest, a version, or the one a
 * deployment holds (its own or one it linked unchanged); by resource name for C7's
 * `camunda-forms:deployment:<resource>` form keys.
 */
export async function findFormDefinitionId(
  knex: Knex | Knex.Transaction,
  ref: { key?: string; resourceName?: string },
  binding: { version?: number; deploymentId?: string } = {},
): Promise<string | undefined> {
  const query = knex('form_definitions').orderBy('version', 'desc').first('id');
  if (ref.key !== undefined) query.where({ key: ref.key });
  if (ref.resourceName !== undefined) query.where({ resource_name: ref.resourceName });
  if (binding.version !== undefined) query.where({ version: binding.version });
  if (binding.deploymentId !== undefined) query.where({ deployment_id: binding.deploymentId });
  const row = await query;
  if (row || binding.deploymentId === undefined) return row?.id;
  const linked = knex('form_deployment_links as l').join('form_definitions as f', 'f.id', 'l.form_definition_id').where({ 'l.deployment_id': binding.deploymentId }).first('f.id');
  if (ref.key !== undefined) linked.where({ 'l.key': ref.key });
  if (ref.resourceName !== undefined) linked.where({ 'l.resource_name': ref.resourceName });
  return (await linked)?.id;
}

/**
 * Serialises deploys of one form id until the transaction ends: two nodes booting at once
 * with the same processes/ folder both create version 1 otherwise, and one fails.
 */
export async function lockFormKey(trx: Knex.Transaction, key: string): Promise<void> {
  await trx.raw(`select pg_advisory_xact_lock(hashtext('regenflow.deploy-form'), hashtext(?))`, [key]);
}

/** The latest version of a form id, locked until the deploying transaction ends (versions stay gapless and unique). */
export async function latestFormForUpdate(trx: Knex.Transaction, key: string): Promise<FormDefinitionSummary | undefined> {
  return trx('form_definitions').where({ key }).orderBy('version', 'desc').forUpdate().first(SUMMARY);
}

export async function insertFormDefinition(trx: Knex.Transaction, row: Omit<FormDefinitionRow, 'deployed_at'>): Promise<void> {
  await trx('form_definitions').insert({ ...row, schema: JSON.stringify(row.schema), fields: JSON.stringify(row.fields) });
}

/** A deployment that holds an unchanged form keeps its version and links it. */
export async function linkFormToDeployment(trx: Knex.Transaction, link: { deployment_id: string; form_definition_id: string; key: string; resource_name: string }): Promise<void> {
  await trx('form_deployment_links').insert(link).onConflict(['deployment_id', 'key']).ignore();
}

export async function listFormDefinitions(knex: Knex, filter: { key?: string; latestOnly?: boolean; deploymentId?: string } = {}): Promise<FormDefinitionSummary[]> {
  const query = knex('form_definitions').select(SUMMARY).orderBy([{ column: 'key' }, { column: 'version', order: 'desc' }]).limit(1000);
  if (filter.key) query.where('key', filter.key);
  if (filter.deploymentId) query.where('deployment_id', filter.deploymentId);
  if (filter.latestOnly) query.whereRaw('version = (select max(f2.version) from form_definitions f2 where f2.key = form_definitions.key)');
  return query;
}

/** The process versions a deployment created (unchanged ones kept their older version and links). */
export async function definitionsOfDeployment(trx: Knex.Transaction, deploymentId: string): Promise<Array<{ id: string; key: string }>> {
  return trx('process_definitions').where({ deployment_id: deploymentId }).select('id', 'key');
}

export async function insertFormLinks(trx: Knex.Transaction, rows: FormLinkRow[]): Promise<void> {
  if (rows.length) await trx('form_links').insert(rows);
}

export async function findFormLink(knex: Knex, processDefinitionId: string, activityId: string): Promise<FormLinkRow | undefined> {
  return knex('form_links').where({ process_definition_id: processDefinitionId, activity_id: activityId }).first();
}

/** An open user task as a form needs it: where it is, and the instance's variables (conditions and prefill read them). */
export async function findTaskForForm(
  knex: Knex,
  taskId: string,
): Promise<{ id: string; activity_id: string; instance_id: string; definition_id: string; variables: Record<string, unknown> } | undefined> {
  const row = await knex('user_tasks as t')
    .join('process_instances as i', 'i.id', 't.instance_id')
    .where('t.id', taskId)
    .first('t.id', 't.activity_id', 't.instance_id', 't.definition_id', 'i.variables');
  if (row && typeof row.variables === 'string') row.variables = JSON.parse(row.variables);
  return row;
}
