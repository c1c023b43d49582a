import type { Knex } from 'knex';
import { appendAuditEntry, type AuditEntry } from './audit-entries.js';

export interface MonitoredSystemRow {
  service_name: string;
  feature: string;
  commit: string | null;
  instance_id: string;
  /** When the release that handed it over last was handed over. */
  since: Date;
  /** When it was first handed over. */
  registered_at: Date;
}

/**
 * Registers a system for monitoring, or moves it to a newer release. A handoff that runs
 * again for the same instance (inline tasks run at least once) changes nothing.
 */
export async function registerMonitoredSystem(
  knex: Knex,
  system: { serviceName: string; feature: string; commit?: string | null; instanceId: string },
): Promise<MonitoredSystemRow> {
  await knex('monitored_systems')
    .insert({ service_name: system.serviceName, feature: system.feature, commit: system.commit ?? null, instance_id: system.instanceId })
    .onConflict('service_name')
    .merge({ feature: system.feature, commit: system.commit ?? null, instance_id: system.instanceId, since: knex.fn.now() })
    .where('monitored_systems.instance_id', '<>', system.instanceId);
  return knex('monitored_systems').where({ service_name: system.serviceName }).first();
}

export async function listMonitoredSystems(knex: Knex, query: { limit: number; offset: number }): Promise<MonitoredSystemRow[]> {
  return knex('monitored_systems').orderBy('registered_at').orderBy('service_name').limit(query.limit).offset(query.offset);
}

/** The service names to measure, oldest registration first. */
export async function monitoredServiceNames(knex: Knex): Promise<string[]> {
  return knex('monitored_systems').orderBy('registered_at').orderBy('service_name').pluck('service_name');
}

/**
 * Stops monitoring a system (a retired service, a mistyped name). The audit entry is written
 * in the same transaction, so a removal is never unrecorded. False when it was not registered.
 */
export async function unregisterMonitoredSystem(knex: Knex, serviceName: string, audit: AuditEntry): Promise<boolean> {
  return knex.transaction(async (trx) => {
    // returning(): knex-pglite reports no row count for a delete inside a transaction.
    const removed = await trx('monitored_systems').where({ service_name: serviceName }).delete().returning('service_name');
    if (removed.length) await appendAuditEntry(trx, audit);
    return removed.length > 0;
  });
}

/** The monitored-systems registry as the agent and entropy modules and the REST API see it. */
export interface MonitoredSystemStore {
  register(system: Parameters<typeof registerMonitoredSystem>[1]): Promise<MonitoredSystemRow>;
  list(query: { limit: number; offset: number }): Promise<MonitoredSystemRow[]>;
  names(): Promise<string[]>;
  unregister(serviceName: string, audit: AuditEntry): Promise<boolean>;
}

export function createMonitoredSystemStore(knex: Knex): MonitoredSystemStore {
  return {
    register: (system) => registerMonitoredSystem(knex, system),
    list: (query) => listMonitoredSystems(knex, query),
    names: () => monitoredServiceNames(knex),
    unregister: (serviceName, audit) => unregisterMonitoredSystem(knex, serviceName, audit),
  };
}
