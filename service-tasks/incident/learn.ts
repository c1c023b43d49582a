import { z } from 'zod';
import { confidenceOf } from '../../src/store/patterns.js';
import type { ServiceTaskDefinition } from '../registry.js';
import type { IncidentTaskDependencies } from './dependencies.js';
import { Telemetry } from './schemas.js';

const Input = z.object({
  patternId: z.string().nullish(),
  result: z.enum(['success', 'failure']),
  validation: z.string().nullish(),
  incidentStartedAt: z.string().nullish(),
  /** The service's telemetry at analysis: a success remembers which operations were failing. */
  telemetry: Telemetry.nullish(),
});
const Output = z.object({ outcome: z.enum(['success', 'failure']), patternConfidence: z.number().nullable() });

/**
 * Counts the outcome against the pattern (once, however often the step runs): successes
 * and failures are the Beta posterior the next analysis reads.
 */
export function learnTask(deps: IncidentTaskDependencies): ServiceTaskDefinition<typeof Input, typeof Output> {
  return {
    topic: 'incident.learn',
    description: 'Records the outcome of a remediation against its pattern (Beta posterior confidence)',
    input: Input,
    output: Output,
    mode: 'inline',
    async handler(input, context) {
      const started = input.incidentStartedAt ? Date.parse(input.incidentStartedAt) : Number.NaN;
      const { pattern } = await deps.store.recordOutcome({
        idempotencyKey: context.idempotencyKey,
        instanceId: context.instanceId,
        patternId: input.patternId ?? null,
        result: input.result,
        durationMs: Number.isNaN(started) ? null : Date.now() - started,
        errorOperations: input.telemetry?.topErrors.map((entry) => entry.name) ?? [],
      });
      const after = pattern ? confidenceOf(pattern.successes, pattern.failures) : null;
      await deps.store.recordDecision({
        idempotencyKey: `${context.idempotencyKey}/validate`,
        instanceId: context.instanceId,
        step: 'validate',
        decision: input.result,
        details: { validation: input.validation ?? (input.result === 'success' ? 'resolved' : 'timeout') },
      });
      await deps.store.recordDecision({
        idempotencyKey: context.idempotencyKey,
        instanceId: context.instanceId,
        step: 'learn',
        decision: pattern ? `${input.result} counted` : 'no pattern',
        confidence: after?.value ?? null,
        details: { patternId: input.patternId ?? null, confidence: after },
      });
      return { outcome: input.result, patternConfidence: after?.value ?? null };
    },
  };
}
