import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';

/** One alert occurrence as it is stored (fingerprint + startsAt is its identity). */
export interface AlertRow {
  id: string;
  fingerprint: string;
  starts_at: Date;
  ends_at: Date | null;
  status: 'firing' | 'resolved';
  source: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  generator_url: string | null;
  instance_id: string | null;
  action: string | null;
  received_at: Date;
  resolved_at: Date | null;
}

export interface NewAlert {
  fingerprint: string;
  startsAt: Date;
  endsAt: Date | null;
  status: 'firing' | 'resolved';
  source: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  generatorUrl: string | null;
}

/**
 * Inserts the alert unless one with the same fingerprint and startsAt exists. The unique
 * constraint decides between two concurrent identical posts: exactly one gets the row.
 */
export async function insertAlertOnce(knex: Knex, alert: NewAlert, action = 'stored'): Promise<{ inserted: boolean; row: AlertRow }> {
  const inserted = await knex('alerts')
    .insert({
      id: randomUUID(),
      fingerprint: alert.fingerprint,
      starts_at: alert.startsAt,
      ends_at: alert.endsAt,
      status: alert.status,
      source: alert.source,
      labels: JSON.stringify(alert.labels),
      annotations: JSON.stringify(alert.annotations),
      generator_url: alert.generatorUrl,
      action,
      resolved_at: alert.status === 'resolved' ? new Date() : null,
    })
    .onConflict(['fingerprint', 'starts_at'])
    .ignore()
    .returning('*');
  if (inserted[0]) return { inserted: true, row: inserted[0] };
  const existing = await knex('alerts').where({ fingerprint: alert.fingerprint, starts_at: alert.startsAt }).first();
  return { inserted: false, row: existing };
}

/** Marks a firing occurrence resolved; returns it only when this call made the change. */
export async function resolveAlert(knex: Knex, id: string, endsAt: Date | null): Promise<AlertRow | undefined> {
  const [row] = await knex('alerts')
    .where({ id, status: 'firing' })
    .update({ status: 'resolved', ends_at: endsAt, resolved_at: new Date() })
    .returning('*');
  return row;
}

/** Undoes resolveAlert when acting on the resolution failed. */
export async function reopenAlert(knex: Knex, id: string): Promise<void> {
  await knex('alerts').where({ id, status: 'resolved' }).update({ status: 'firing', ends_at: null, resolved_at: null });
}

/** What was done for an occurrence; `keepInstance`: an instance it was attached to before stays. */
export async function attachInstance(knex: Knex, id: string, instanceId: string | null, action: string, keepInstance = false): Promise<void> {
  await knex('alerts')
    .where({ id })
    .update({ instance_id: keepInstance ? knex.raw('coalesce(?, instance_id)', [instanceId]) : instanceId, action });
}

/** Occurrences by id. */
export async function findAlertsById(knex: Knex, ids: string[]): Promise<Map<string, AlertRow>> {
  if (!ids.length) return new Map();
  const rows: AlertRow[] = await knex('alerts').whereIn('id', ids);
  return new Map(rows.map((row) => [row.id, row]));
}

/** Forgets an occurrence whose processing failed, so a retry of the notification starts over. */
export async function deleteAlert(knex: Knex, id: string): Promise<void> {
  await knex('alerts').where({ id }).delete();
}

/**
 * The active instance that handles a fingerprint, if any: one an occurrence was attached
 * to, or one started with the fingerprint as business key (also found when the process
 * died between starting the instance and attaching it).
 */
export async function findRunningInstance(knex: Knex, fingerprint: string, processKey: string): Promise<string | undefined> {
  const row = await knex('process_instances')
    .where({ status: 'active' })
    .andWhere((q) =>
      q
        .whereIn('id', knex('alerts').where({ fingerprint }).whereNotNull('instance_id').select('instance_id'))
        .orWhere((byKey) => byKey.where({ business_key: fingerprint, process_key: processKey })),
    )
    .orderBy('started_at', 'desc')
    .first('id');
  return row?.id;
}

/** The firing occurrence of a fingerprint that is still open (for sources that send no startsAt). */
export async function findOpenFiring(knex: Knex, fingerprint: string): Promise<AlertRow | undefined> {
  return knex('alerts').where({ fingerprint, status: 'firing' }).orderBy('starts_at', 'desc').first();
}

/** One occurrence by its identity. */
export async function findOccurrence(knex: Knex, fingerprint: string, startsAt: Date): Promise<AlertRow | undefined> {
  return knex('alerts').where({ fingerprint, starts_at: startsAt }).first();
}

export async function listAlerts(
  knex: Knex,
  filter: { status?: string; fingerprint?: string; instanceId?: string; limit: number; offset: number },
): Promise<AlertRow[]> {
  const query = knex('alerts').orderBy('received_at', 'desc').orderBy('id').limit(filter.limit).offset(filter.offset);
  if (filter.status) query.where('status', filter.status);
  if (filter.fingerprint) query.where('fingerprint', filter.fingerprint);
  if (filter.instanceId) query.where('instance_id', filter.instanceId);
  return query;
}

export type IncidentClaim = { claimed: true } | { claimed: false; instanceId: string | null };

/**
 * Claims the right to start the incident of a fingerprint (one row per fingerprint, so
 * the database decides between nodes). Not claimed: another instance handles it (its id),
 * or another node is starting one right now (null). A claim whose instance ended, or
 * whose start has not finished within `staleAfterMs` (its node died), is taken over.
 */
export async function claimIncident(knex: Knex, fingerprint: string, staleAfterMs: number): Promise<IncidentClaim> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const [inserted] = await knex('alert_incidents').insert({ fingerprint, instance_id: null, claimed_at: knex.raw("date_trunc('milliseconds', now())") }).onConflict('fingerprint').ignore().returning('fingerprint');
    if (inserted) return { claimed: true };
    const claim = await knex('alert_incidents as c')
      .leftJoin('process_instances as i', 'i.id', 'c.instance_id')
      .where('c.fingerprint', fingerprint)
      .first('c.instance_id', 'c.claimed_at', 'i.status', knex.raw('c.claimed_at < now() - make_interval(secs => ?) AS expired', [staleAfterMs / 1000]));
    if (!claim) continue; // released meanwhile: try to insert again
    const stale = claim.instance_id ? claim.status !== 'active' : Boolean(claim.expired);
    if (!stale) return { claimed: false, instanceId: claim.instance_id };
    const taken = await knex('alert_incidents')
      .where({ fingerprint, claimed_at: claim.claimed_at })
      .modify((q) => (claim.instance_id ? q.where('instance_id', claim.instance_id) : q.whereNull('instance_id')))
      .update({ instance_id: null, claimed_at: knex.raw("date_trunc('milliseconds', now())") });
    if (taken) return { claimed: true };
  }
  return { claimed: false, instanceId: null };
}

export async function settleIncidentClaim(knex: Knex, fingerprint: string, instanceId: string): Promise<void> {
  await knex('alert_incidents').where({ fingerprint }).update({ instance_id: instanceId });
}

/** Gives a claim back when the start failed. */
export async function releaseIncidentClaim(knex: Knex, fingerprint: string): Promise<void> {
  await knex('alert_incidents').where({ fingerprint }).whereNull('instance_id').delete();
}
