import { z } from 'zod';
import type { ServiceTaskDefinition } from '../registry.js';
import type { IncidentTaskDependencies } from './dependencies.js';
import { Note, Remediation, Reviewer } from './schemas.js';

const Input = z.object({
  approved: z.boolean({ error: 'the approval task must be completed with approved: true or false' }),
  reviewer: Reviewer,
  reviewNote: Note,
  patternId: z.string().nullish(),
  remediation: Remediation.nullish(),
  confidence: z.number().nullish(),
});
const Output = z.object({ approved: z.boolean() });

/** Logs a person's approve/reject of a proposed fix, as an override and a decision. */
export function recordApprovalTask(deps: IncidentTaskDependencies): ServiceTaskDefinition<typeof Input, typeof Output> {
  return {
    topic: 'incident.record-approval',
    description: "Records the on-call operator's approval or rejection of the proposed remediation",
    input: Input,
    output: Output,
    mode: 'inline',
    async handler(input, context) {
      const action = input.approved ? 'approved' : 'rejected';
      await deps.store.recordOverride({
        idempotencyKey: context.idempotencyKey,
        instanceId: context.instanceId,
        patternId: input.patternId ?? null,
        action,
        remediation: input.remediation ?? null,
        actor: input.reviewer ?? null,
        note: input.reviewNote ?? null,
      });
      await deps.store.recordDecision({
        idempotencyKey: context.idempotencyKey,
        instanceId: context.instanceId,
        step: 'approval',
        decision: action,
        confidence: input.confidence ?? null,
        details: { patternId: input.patternId ?? null, remediation: input.remediation ?? null, reviewer: input.reviewer ?? null, note: input.reviewNote ?? null },
      });
      return { approved: input.approved };
    },
  };
}
