import type { Knex } from 'knex';

/** Kill switches: regenflow's own remediation sets them, anything may read them. */
export interface FeatureFlagRow {
  key: string;
  value: unknown;
  updated_by: string | null;
  updated_at: Date;
}

export interface FlagChange {
  key: string;
  previousExisted: boolean;
  previousValue: unknown;
}

export async function getFlag(knex: Knex, key: string): Promise<FeatureFlagRow | undefined> {
  return knex('feature_flags').where({ key }).first();
}

export async function listFlags(knex: Knex): Promise<FeatureFlagRow[]> {
  return knex('feature_flags').orderBy('key');
}

/**
 * Sets a flag (null `value` with `remove` deletes it) and logs what it replaced, in one
 * transaction. With an idempotency key a second call changes nothing and returns the
 * change the first call made.
 */
export async function changeFlag(
  knex: Knex,
  change: { key: string; value: unknown; remove?: boolean; actor: string; idempotencyKey?: string },
): Promise<FlagChange> {
  return knex.transaction(async (trx) => {
    if (change.idempotencyKey) {
      const done = await trx('feature_flag_changes').where({ idempotency_key: change.idempotencyKey }).first();
      if (done) return { key: done.key, previousExisted: done.previous_existed, previousValue: done.previous_value };
    }
    const previous = await trx('feature_flags').where({ key: change.key }).forUpdate().first();
    if (change.remove) await trx('feature_flags').where({ key: change.key }).delete();
    else {
      await trx('feature_flags')
        .insert({ key: change.key, value: JSON.stringify(change.value ?? null), updated_by: change.actor, updated_at: new Date() })
        .onConflict('key')
        .merge();
    }
    await trx('feature_flag_changes').insert({
      idempotency_key: change.idempotencyKey ?? null,
      key: change.key,
      value: change.remove ? null : JSON.stringify(change.value ?? null),
      previous_existed: Boolean(previous),
      previous_value: previous ? JSON.stringify(previous.value) : null,
      actor: change.actor,
    });
    return { key: change.key, previousExisted: Boolean(previous), previousValue: previous?.value ?? null };
  });
}
