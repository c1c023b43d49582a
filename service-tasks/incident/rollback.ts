import { z } from 'zod';
import { AppError } from '../../src/errors.js';
import type { ServiceTaskDefinition } from '../registry.js';
import type { IncidentTaskDependencies } from './dependencies.js';
import { Remediation } from './schemas.js';

const Input = z.object({
  remediation: Remediation,
  remediationUndo: z.record(z.string(), z.unknown()),
  validation: z.string().nullish(),
  patternId: z.string().nullish(),
});
const Output = z.object({ rollbackResult: z.record(z.string(), z.unknown()), rolledBackAt: z.string() });

/** Undoes a built-in remediation whose fix did not validate. */
export function rollbackTask(deps: IncidentTaskDependencies): ServiceTaskDefinition<typeof Input, typeof Output> {
  return {
    topic: 'incident.rollback',
    description: 'Rolls back a built-in remediation that did not fix the alert',
    input: Input,
    output: Output,
    mode: 'inline',
    async handler(input, context) {
      const remediation = deps.remediations.get(input.remediation.topic);
      if (!remediation) throw new AppError('REMEDIATION_UNKNOWN', `${input.remediation.topic} is not a built-in remediation`);
      const rollbackResult = await remediation.rollback(input.remediationUndo, context);
      await deps.store.recordDecision({
        idempotencyKey: context.idempotencyKey,
        instanceId: context.instanceId,
        step: 'rollback',
        decision: 'rolled-back',
        details: { remediation: input.remediation, patternId: input.patternId ?? null, reason: input.validation ?? 'timeout', result: rollbackResult },
      });
      return { rollbackResult, rolledBackAt: new Date().toISOString() };
    },
  };
}
