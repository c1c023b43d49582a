import type { Knex } from 'knex';
import { leanState } from '../src/store/instances-state.js';

/**
 * Rewrites the saved state of waiting instances in the lean format (see
 * src/store/instances-state.ts): rows written before it list every element of their
 * definition, visited or not. Reading the old format keeps working (bpmn-engine recovers
 * both); this only gives those rows the size new ones have. In batches by id, so a large
 * table is never held in memory at once.
 */
const BATCH = 500;

export async function up(knex: Knex): Promise<void> {
  let after: string | null = null;
  for (;;) {
    const query = knex('process_instances')
      .whereNotNull('state')
      .whereRaw("jsonb_typeof(state) = 'object' and state -> 'stateFormat' is null");
    if (after !== null) query.where('id', '>', after);
    const rows: Array<{ id: string; state: unknown }> = await query
      .orderBy('id')
      .limit(BATCH)
      .select('id', 'state');
    if (!rows.length) return;
    for (const row of rows) {
      const state = typeof row.state === 'string' ? JSON.parse(row.state) : row.state;
      await knex('process_instances')
        .where({ id: row.id })
        .update({ state: JSON.stringify(leanState(state as Record<string, unknown>)) });
    }
    after = rows[rows.length - 1]!.id;
  }
}

/** The lean format is valid bpmn-engine state: nothing to undo. */
export async function down(): Promise<void> {}
