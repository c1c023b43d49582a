import type { Knex } from 'knex';

/** The DMEDI phases, by the prefix of the activity ids that belong to them in dmedi-regeneration.bpmn. */
export const DMEDI_PHASES = {
  define: ['define_circuit_breaker', 'define_charter'],
  measure: ['measure_entropy'],
  explore: ['explore_rank'],
  develop: ['develop_generate', 'develop_simulate'],
  implement: ['implement_snapshot', 'implement_run_strategy', 'implement_settle', 'implement_measure_again'],
} as const;

/**
 * Which DMEDI phases an instance completed, read from its history (activity `end` events).
 * When the engine emits one span per activity (telemetry), the same check reads spans:
 * swap this for a query on spans.activity_id where instance_id = the instance.
 */
export async function phasesFromInstanceHistory(knex: Knex, instanceId: string): Promise<Record<keyof typeof DMEDI_PHASES, boolean>> {
  const ended = new Set<string>(await knex('history').where({ instance_id: instanceId, event: 'end' }).pluck('activity_id'));
  return Object.fromEntries(
    Object.entries(DMEDI_PHASES).map(([phase, activities]) => [phase, activities.every((activity) => ended.has(activity))]),
  ) as Record<keyof typeof DMEDI_PHASES, boolean>;
}
