import type { SpanStore } from '../../src/store/spans.js';

/** The DMEDI phases, by the activity ids that belong to them in dmedi-regeneration.bpmn. */
export const DMEDI_PHASES = {
  define: ['define_circuit_breaker', 'define_charter'],
  measure: ['measure_entropy'],
  explore: ['explore_classify', 'explore_strategies', 'explore_rank'],
  develop: ['develop_generate', 'develop_simulate'],
  implement: ['implement_snapshot', 'implement_run_strategy', 'implement_settle_start', 'implement_settle', 'implement_measure_again'],
} as const;

export type DmediPhaseReport = Record<keyof typeof DMEDI_PHASES, boolean>;

/**
 * Which DMEDI phases an instance completed, read from the engine's own spans (one span per
 * ended activity, status not error): the same evidence an OTLP backend would see.
 */
export async function phasesFromSpans(spans: SpanStore, instanceId: string): Promise<DmediPhaseReport> {
  const ended = new Set((await spans.listByInstance(instanceId)).filter((span) => span.statusCode !== 2).map((span) => span.activityId));
  return Object.fromEntries(
    Object.entries(DMEDI_PHASES).map(([phase, activities]) => [phase, activities.every((activity) => ended.has(activity))]),
  ) as DmediPhaseReport;
}
