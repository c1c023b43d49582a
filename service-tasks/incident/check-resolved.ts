import { z } from 'zod';
import type { ServiceTaskDefinition } from '../registry.js';
import type { IncidentTaskDependencies } from './dependencies.js';

const Input = z.object({ fingerprint: z.string().min(1), startsAt: z.string().min(1) });
const Output = z.object({ alertResolved: z.boolean(), validation: z.string().nullable() });

/**
 * Before waiting for `alert.resolved`: the resolved notification may already have come
 * (while a person reviewed, or while a remote worker ran the fix), and a message that
 * arrives while nothing waits for it is not kept by the engine.
 */
export function checkResolvedTask(deps: IncidentTaskDependencies): ServiceTaskDefinition<typeof Input, typeof Output> {
  return {
    topic: 'incident.check-resolved',
    description: 'Tells whether the alert of this incident has resolved already',
    input: Input,
    output: Output,
    mode: 'inline',
    async handler(input) {
      const startsAt = new Date(input.startsAt);
      const occurrence = Number.isNaN(startsAt.getTime()) ? undefined : await deps.store.findAlertOccurrence(input.fingerprint, startsAt);
      const resolved = occurrence?.status === 'resolved';
      return { alertResolved: resolved, validation: resolved ? 'resolved' : null };
    },
  };
}
