import { z } from 'zod';
import { AppError } from '../../src/errors.js';
import type { ServiceTaskDefinition } from '../registry.js';
import type { IncidentTaskDependencies } from './dependencies.js';
import { Remediation } from './schemas.js';

const Input = z.object({ remediation: Remediation, confidence: z.number().nullish(), patternId: z.string().nullish() });
const Output = z.object({ remediationResult: z.record(z.string(), z.unknown()), remediationUndo: z.record(z.string(), z.unknown()), remediatedAt: z.string() });

/**
 * Runs one of regenflow's own remediations in-process (the diagram sends every other
 * topic to remote workers on `remediation.remote`). The undo goes out as a variable so a
 * failed validation can roll the fix back.
 */
export function remediateTask(deps: IncidentTaskDependencies): ServiceTaskDefinition<typeof Input, typeof Output> {
  return {
    topic: 'incident.remediate',
    description: "Applies a built-in remediation (regenflow's own) and keeps its undo information",
    input: Input,
    output: Output,
    mode: 'inline',
    async handler(input, context) {
      const remediation = deps.remediations.get(input.remediation.topic);
      if (!remediation) {
        throw new AppError('REMEDIATION_UNKNOWN', `${input.remediation.topic} is not a built-in remediation; remote workers serve it on remediation.remote`);
      }
      const params = remediation.params.safeParse(input.remediation.params);
      if (!params.success) {
        throw new AppError('HANDLER_INPUT_INVALID', `${remediation.topic} params: ${params.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ')}`);
      }
      const { result, undo } = await remediation.apply(params.data, context);
      await deps.store.recordDecision({
        idempotencyKey: context.idempotencyKey,
        instanceId: context.instanceId,
        step: 'remediate',
        decision: 'applied',
        confidence: input.confidence ?? null,
        details: { remediation: input.remediation, patternId: input.patternId ?? null, result, mode: 'builtin' },
      });
      return { remediationResult: result, remediationUndo: undo, remediatedAt: new Date().toISOString() };
    },
  };
}
