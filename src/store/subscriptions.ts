import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';

/** An active instance's execution waiting for a message. */
export interface MessageSubscription {
  instance_id: string;
  execution_id: string;
  ref_id: string;
}

/** A message or signal start event of a deployed definition. */
export interface StartSubscription {
  id: string;
  definition_id: string;
  activity_id: string;
  ref_id: string;
  name: string;
  /** The definition's process key. */
  key: string;
}

/** The active executions waiting for message `name`, oldest subscription first. */
export async function findMessageSubscriptions(
  knex: Knex,
  name: string,
  filter: { businessKey?: string; processInstanceId?: string; correlationKeys?: Record<string, unknown> },
): Promise<MessageSubscription[]> {
  const query = knex('subscriptions as s')
    .join('process_instances as i', 'i.id', 's.instance_id')
    .where({ 's.kind': 'message', 's.name': name, 'i.status': 'active' })
    .select('s.instance_id', 's.execution_id', 's.ref_id')
    .orderBy('s.created_at');
  if (filter.businessKey) query.andWhere('i.business_key', filter.businessKey);
  if (filter.processInstanceId) query.andWhere('s.instance_id', filter.processInstanceId);
  if (filter.correlationKeys && Object.keys(filter.correlationKeys).length) {
    query.andWhereRaw('i.variables @> ?::jsonb', [JSON.stringify(filter.correlationKeys)]);
  }
  return query;
}

/** The executions waiting for signal `name`. */
export async function findSignalSubscriptions(knex: Knex, name: string): Promise<MessageSubscription[]> {
  return knex('subscriptions').where({ kind: 'signal', name }).select('instance_id', 'execution_id', 'ref_id');
}

/** The message start event for `name` (deploy keeps one per name). */
export async function findMessageStart(knex: Knex, name: string): Promise<StartSubscription | undefined> {
  return knex('subscriptions as s').join('process_definitions as d', 'd.id', 's.definition_id').where({ 's.kind': 'message-start', 's.name': name }).select('s.*', 'd.key').first();
}

export async function findSignalStarts(knex: Knex, name: string): Promise<StartSubscription[]> {
  return knex('subscriptions as s').join('process_definitions as d', 'd.id', 's.definition_id').where({ 's.kind': 'signal-start', 's.name': name }).select('s.*', 'd.key');
}

/** Drops the message and signal starts and timer-start jobs of a key's earlier versions: start events belong to the latest version. */
export async function dropStartTriggersOfKey(trx: Knex.Transaction, processKey: string): Promise<void> {
  const olderVersions = trx('process_definitions').where({ key: processKey }).select('id');
  await trx('subscriptions').whereNull('instance_id').whereIn('definition_id', olderVersions).delete();
  await trx('jobs').where({ kind: 'timer-start' }).whereIn('definition_id', olderVersions).delete();
}

export async function insertStartSubscription(
  trx: Knex.Transaction,
  start: { kind: 'message-start' | 'signal-start'; name: string; refId: string; definitionId: string; activityId: string },
): Promise<void> {
  await trx('subscriptions').insert({
    id: randomUUID(),
    kind: start.kind,
    name: start.name,
    ref_id: start.refId,
    definition_id: start.definitionId,
    activity_id: start.activityId,
  });
}
