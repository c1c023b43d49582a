import { z } from 'zod';
import { confidenceOf } from '../../src/store/patterns.js';
import type { ServiceTaskDefinition } from '../registry.js';
import type { IncidentTaskDependencies } from './dependencies.js';
import { Labels, Note, Remediation, RemediationMode, Reviewer, Topic } from './schemas.js';

const Input = z.object({
  labels: Labels,
  /** The remediation the person chose; absent: no fix. */
  fixTopic: Topic.nullish(),
  fixParams: z.record(z.string(), z.unknown()).nullish(),
  /** The person already applied the fix by hand: validate it, do not run it. */
  fixAppliedManually: z.boolean().nullish(),
  /** Keep the fix as a pattern for this alert signature. @default true */
  recordAsPattern: z.boolean().nullish(),
  reviewer: Reviewer,
  reviewNote: Note,
});
const Output = z.object({
  fixAction: z.enum(['remediate', 'applied', 'none']),
  patternId: z.string().nullable(),
  remediation: Remediation.nullable(),
  remediationMode: RemediationMode,
  confidence: z.number(),
});

/**
 * Turns the outcome of a manual review into the next step, and records a person's fix as
 * a pattern (new, untried: confidence from the prior) so the next identical alert is
 * proposed with it.
 */
export function recordFixTask(deps: IncidentTaskDependencies): ServiceTaskDefinition<typeof Input, typeof Output> {
  return {
    topic: 'incident.record-fix',
    description: "Records an operator's manual fix (as a new pattern when asked) and picks the next step",
    input: Input,
    output: Output,
    mode: 'inline',
    async handler(input, context) {
      const remediation = input.fixTopic ? { topic: input.fixTopic, params: input.fixParams ?? {} } : null;
      const applied = input.fixAppliedManually === true;
      const fixAction = applied ? 'applied' : remediation ? 'remediate' : 'none';
      const remediationMode = applied ? 'manual' : !remediation ? 'none' : deps.remediations.has(remediation.topic) ? 'builtin' : 'remote';
      let patternId: string | null = null;
      let confidence = 0;
      if (remediation && input.recordAsPattern !== false) {
        const match = { alertname: input.labels.alertname ?? '', service: input.labels.service ?? input.labels.job ?? '', severity: input.labels.severity ?? '' };
        const { row } = await deps.store.recordFixAsPattern({
          match,
          remediation,
          description: input.reviewNote ?? null,
          origin: 'manual-fix',
          createdBy: input.reviewer ?? null,
        });
        patternId = row.id;
        confidence = confidenceOf(row.successes, row.failures).value;
      }
      await deps.store.recordOverride({
        idempotencyKey: context.idempotencyKey,
        instanceId: context.instanceId,
        patternId,
        action: remediation || applied ? 'manual-fix' : 'no-action',
        remediation,
        actor: input.reviewer ?? null,
        note: input.reviewNote ?? null,
      });
      await deps.store.recordDecision({
        idempotencyKey: context.idempotencyKey,
        instanceId: context.instanceId,
        step: 'manual-review',
        decision: fixAction,
        confidence: patternId ? confidence : null,
        details: { remediation, patternId, recordedAsPattern: Boolean(patternId), reviewer: input.reviewer ?? null, note: input.reviewNote ?? null },
      });
      return { fixAction, patternId, remediation, remediationMode, confidence };
    },
  };
}
