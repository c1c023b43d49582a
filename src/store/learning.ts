import type { Knex } from 'knex';
import type { CycleRow, StrategyOutcome } from './entropy-types.js';

/** strategy_outcomes (what the ranking learns from) and regeneration_cycles (the circuit breaker's count). */

export async function insertOutcome(knex: Knex, outcome: StrategyOutcome): Promise<void> {
  await knex('strategy_outcomes')
    .insert({
      idempotency_key: outcome.idempotencyKey,
      system: outcome.system,
      strategy_id: outcome.strategyId,
      level: outcome.level,
      success: outcome.success,
      entropy_before: outcome.entropyBefore ?? null,
      entropy_after: outcome.entropyAfter ?? null,
      instance_id: outcome.instanceId ?? null,
    })
    .onConflict('idempotency_key')
    .ignore();
}

export async function outcomeCounts(knex: Knex, system?: string): Promise<Map<string, { successes: number; failures: number }>> {
  const query = knex('strategy_outcomes')
    .select('strategy_id')
    .select(knex.raw('(count(*) filter (where success))::int as successes'))
    .select(knex.raw('(count(*) filter (where not success))::int as failures'))
    .groupBy('strategy_id');
  if (system) query.where({ system });
  const found = (await query) as Array<{ strategy_id: string; successes: number; failures: number }>;
  return new Map(found.map((row) => [row.strategy_id, { successes: Number(row.successes), failures: Number(row.failures) }]));
}

export async function openCycle(
  knex: Knex,
  cycle: { idempotencyKey: string; system: string; instanceId: string | null },
  since: Date,
): Promise<{ cycleId: string; recent: number }> {
  return knex.transaction(async (trx) => {
    await trx('regeneration_cycles')
      .insert({ idempotency_key: cycle.idempotencyKey, system: cycle.system, instance_id: cycle.instanceId })
      .onConflict('idempotency_key')
      .ignore();
    const row = await trx('regeneration_cycles').where({ idempotency_key: cycle.idempotencyKey }).first('id');
    const counted = await trx('regeneration_cycles')
      .where({ system: cycle.system })
      .andWhere('started_at', '>=', since)
      .whereNot('status', 'refused') // a refused attempt is no cycle
      // By id, not by time: a driver's Date has milliseconds, the column microseconds.
      .andWhere('id', '<=', row.id)
      .count<Array<{ recent: string | number }>>({ recent: '*' });
    return { cycleId: String(row.id), recent: Number(counted[0]?.recent ?? 0) };
  });
}

export async function updateCycle(knex: Knex, instanceId: string, change: { status?: string; strategyId?: string; snapshot?: Record<string, unknown>; rollback?: Record<string, unknown> }): Promise<void> {
  await knex('regeneration_cycles')
    .where({ instance_id: instanceId })
    .update({
      ...(change.status && { status: change.status }),
      ...(change.strategyId && { strategy_id: change.strategyId }),
      ...(change.snapshot && { snapshot: JSON.stringify(change.snapshot) }),
      ...(change.rollback && { rollback: JSON.stringify(change.rollback) }),
    });
}

export async function cycleOf(knex: Knex, instanceId: string): Promise<CycleRow | null> {
  const row = await knex('regeneration_cycles').where({ instance_id: instanceId }).orderBy('id', 'desc').first();
  if (!row) return null;
  return {
    id: String(row.id),
    system: row.system,
    instanceId: row.instance_id,
    status: row.status,
    strategyId: row.strategy_id,
    snapshot: typeof row.snapshot === 'string' ? JSON.parse(row.snapshot) : row.snapshot,
    rollback: typeof row.rollback === 'string' ? JSON.parse(row.rollback) : (row.rollback ?? null),
    startedAt: new Date(row.started_at).toISOString(),
  };
}
