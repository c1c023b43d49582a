import type { Knex } from 'knex';

export interface DefinitionRow {
  id: string;
  key: string;
  version: number;
  name: string | null;
  deployment_id: string;
  resource_name: string;
  checksum: string;
  xml: string;
  source_context: string | null;
  executable: boolean;
  info: Record<string, any>;
  report: Record<string, any>;
  deployed_at: Date;
}

export type DefinitionSummary = Omit<DefinitionRow, 'xml' | 'source_context'>;

const SUMMARY = ['id', 'key', 'version', 'name', 'deployment_id', 'resource_name', 'checksum', 'executable', 'info', 'report', 'deployed_at'];

/** One version with its document's XML and serialized context (shared by the processes of one document). */
export async function findDefinition(knex: Knex, id: string): Promise<DefinitionRow | undefined> {
  const row = await knex('process_definitions as d')
    .leftJoin('definition_resources as r', function joinShared() {
      this.on('r.checksum', '=', 'd.checksum').andOn('d.shared_resource', '=', knex.raw('true'));
    })
    .where('d.id', id)
    .first('d.*', knex.raw('coalesce(d.xml, r.xml) as xml'), knex.raw('case when d.shared_resource then (case when d.executable then r.source_context end) else d.source_context end as source_context'));
  if (!row) return undefined;
  delete row.shared_resource;
  return row;
}

/** One version's summary (no XML, no context), its `info` parsed whatever the driver returns. */
export async function findDefinitionSummary(knex: Knex, id: string): Promise<DefinitionSummary | undefined> {
  const row = await knex('process_definitions').where({ id }).first(SUMMARY);
  if (row && typeof row.info === 'string') row.info = JSON.parse(row.info);
  return row;
}

/** The latest version's summary (no XML, no context: the definition cache loads those by id). */
export async function findLatestDefinition(knex: Knex, key: string): Promise<DefinitionSummary | undefined> {
  return knex('process_definitions').where({ key }).orderBy('version', 'desc').first(SUMMARY);
}

export async function listDefinitions(knex: Knex, filter: { key?: string; latestOnly?: boolean } = {}): Promise<DefinitionRow[]> {
  const query = knex('process_definitions').select(SUMMARY).orderBy([{ column: 'key' }, { column: 'version', order: 'desc' }]);
  if (filter.key) query.where({ key: filter.key });
  if (filter.latestOnly) {
    query.whereRaw('version = (select max(d2.version) from process_definitions d2 where d2.key = process_definitions.key)');
  }
  return query;
}

export async function insertDeployment(trx: Knex.Transaction, deployment: { id: string; name: string; source: string }): Promise<void> {
  await trx('deployments').insert(deployment);
}

/**
 * Stores a version. Its XML and serialized context belong to its document, stored once per
 * document content (checksum) however many processes it holds.
 */
export async function insertDefinition(trx: Knex.Transaction, row: Omit<DefinitionRow, 'deployed_at'>): Promise<void> {
  const { xml, source_context, ...rest } = row;
  // Look first: sending megabytes of XML per process only for `on conflict do nothing` costs as much as storing it.
  const stored = await trx('definition_resources').where({ checksum: row.checksum }).first<{ has_context: boolean } | undefined>(trx.raw('source_context is not null as has_context'));
  if (!stored) await trx('definition_resources').insert({ checksum: row.checksum, xml, source_context }).onConflict('checksum').ignore();
  // A document stored before as not executable (no context) gains the context now.
  else if (source_context && !stored.has_context) await trx('definition_resources').where({ checksum: row.checksum }).update({ source_context });
  await trx('process_definitions').insert({ ...rest, xml: null, source_context: null, shared_resource: true, info: JSON.stringify(row.info), report: JSON.stringify(row.report) });
}

/**
 * Serialises deploys of one key until the caller's transaction ends (two nodes deploying the
 * same file at boot): the second waits, then reads the first one's version as the latest.
 * Take the keys in sorted order, so two deploys of several keys cannot deadlock.
 */
export async function lockDefinitionKey(trx: Knex.Transaction, key: string): Promise<void> {
  await trx.raw(`select pg_advisory_xact_lock(hashtext('regenflow.deploy'), hashtext(?))`, [key]);
}

export async function findLatestVersion(trx: Knex.Transaction, key: string) {
  return trx('process_definitions').where({ key }).orderBy('version', 'desc').first();
}

/** Message start events of other keys' latest versions that listen for one of these names. */
export async function messageStartsNamed(trx: Knex.Transaction, names: string[], exceptKey: string): Promise<Array<{ name: string; key: string; activity_id: string }>> {
  if (!names.length) return [];
  return trx('subscriptions as s')
    .join('process_definitions as d', 'd.id', 's.definition_id')
    .where('s.kind', 'message-start')
    .whereIn('s.name', names)
    .whereNot('d.key', exceptKey)
    .select('s.name', 'd.key', 's.activity_id');
}
