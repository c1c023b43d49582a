import { z } from 'zod';
import type { ServiceTaskDefinition } from '../registry.js';
import type { IncidentTaskDependencies } from './dependencies.js';
import { Labels } from './schemas.js';

const Input = z.object({
  reason: z.enum(['review-unacknowledged', 'remediation-failed']),
  fingerprint: z.string().nullish(),
  labels: Labels.nullish(),
  confidence: z.number().nullish(),
  /** For review-unacknowledged: the review task whose claim counts as acknowledgement. */
  reviewActivityId: z.string().nullish(),
});
const Output = z.object({ escalated: z.boolean(), escalatedAt: z.string().nullable(), escalationReason: z.string() });

/**
 * Marks the incident escalated, with why; the diagram decides who picks it up. A review
 * that someone has claimed counts as acknowledged and is not escalated.
 */
export function escalateTask(deps: IncidentTaskDependencies): ServiceTaskDefinition<typeof Input, typeof Output> {
  return {
    topic: 'incident.escalate',
    description: 'Escalates an incident (unacknowledged review, or a fix that failed and was rolled back)',
    input: Input,
    output: Output,
    mode: 'inline',
    async handler(input, context) {
      if (input.reason === 'review-unacknowledged' && input.reviewActivityId) {
        const assignee = await deps.store.userTaskAssignee(context.instanceId, input.reviewActivityId);
        if (assignee) {
          await deps.store.recordDecision({
            idempotencyKey: context.idempotencyKey,
            instanceId: context.instanceId,
            step: 'escalate',
            decision: 'acknowledged',
            details: { assignee },
          });
          return { escalated: false, escalatedAt: null, escalationReason: 'acknowledged' };
        }
      }
      await deps.store.recordDecision({
        idempotencyKey: context.idempotencyKey,
        instanceId: context.instanceId,
        step: 'escalate',
        decision: input.reason,
        confidence: input.confidence ?? null,
        details: { fingerprint: input.fingerprint ?? null, labels: input.labels ?? null },
      });
      return { escalated: true, escalatedAt: new Date().toISOString(), escalationReason: input.reason };
    },
  };
}
