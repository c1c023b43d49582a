import { z } from 'zod';
import type { ServiceTaskDefinition } from '../registry.js';
import type { IncidentTaskDependencies } from './dependencies.js';
import { Labels } from './schemas.js';

const Input = z.object({
  reason: z.enum(['review-unacknowledged', 'remediation-failed']),
  fingerprint: z.string().nullish(),
  labels: Labels.nullish(),
  confidence: z.number().nullish(),
});
const Output = z.object({ escalatedAt: z.string(), escalationReason: z.string() });

/** Marks the incident escalated, with why; the diagram decides who picks it up. */
export function escalateTask(deps: IncidentTaskDependencies): ServiceTaskDefinition<typeof Input, typeof Output> {
  return {
    topic: 'incident.escalate',
    description: 'Escalates an incident (unacknowledged review, or a fix that failed and was rolled back)',
    input: Input,
    output: Output,
    mode: 'inline',
    async handler(input, context) {
      await deps.store.recordDecision({
        idempotencyKey: context.idempotencyKey,
        instanceId: context.instanceId,
        step: 'escalate',
        decision: input.reason,
        confidence: input.confidence ?? null,
        details: { fingerprint: input.fingerprint ?? null, labels: input.labels ?? null },
      });
      return { escalatedAt: new Date().toISOString(), escalationReason: input.reason };
    },
  };
}
