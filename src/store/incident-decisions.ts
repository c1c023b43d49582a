import type { Knex } from 'knex';

/** The decision log of incident-response instances: what was decided, with what confidence. */
export interface DecisionRow {
  id: string;
  instance_id: string;
  step: string;
  decision: string;
  confidence: number | null;
  details: Record<string, unknown>;
  at: Date;
}

/** Once per idempotency key: a step that runs again does not log twice. */
export async function recordDecision(
  knex: Knex,
  decision: { idempotencyKey: string; instanceId: string; step: string; decision: string; confidence?: number | null; details?: Record<string, unknown> },
): Promise<void> {
  await knex('incident_decisions')
    .insert({
      idempotency_key: decision.idempotencyKey,
      instance_id: decision.instanceId,
      step: decision.step,
      decision: decision.decision,
      confidence: decision.confidence ?? null,
      details: JSON.stringify(decision.details ?? {}),
    })
    .onConflict('idempotency_key')
    .ignore();
}

export async function listDecisions(knex: Knex, instanceId: string): Promise<DecisionRow[]> {
  return knex('incident_decisions').where({ instance_id: instanceId }).orderBy('id').select('id', 'instance_id', 'step', 'decision', 'confidence', 'details', 'at');
}
