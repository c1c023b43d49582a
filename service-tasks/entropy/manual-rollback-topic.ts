/**
 * `entropy.record-manual-rollback`: after a person rolled a system back by hand (the
 * dmedi-regeneration user task that follows a rollback that did not happen), the cycle's
 * record says so, keeping why the automatic one did not.
 */
import { z } from 'zod';
import type { ServiceTaskDefinition } from '../registry.js';
import type { EntropyStore } from './ports.js';

const Input = z.object({
  system: z.string().min(1).max(200),
  /** The "Roll back by hand" form's note: what the person did (kept, cut to 2000 characters). */
  rollbackNote: z.string().optional(),
});
const Output = z.object({ manualRollbackRecorded: z.boolean() });

export function manualRollbackTopic({ entropyStore: store }: { entropyStore: EntropyStore }): ServiceTaskDefinition<typeof Input, typeof Output> {
  return {
    topic: 'entropy.record-manual-rollback',
    description: 'Records that a person rolled the cycle back by hand (cycle status rolled-back-by-hand); false when the instance has no cycle',
    mode: 'inline',
    input: Input,
    output: Output,
    async handler(input, context) {
      const cycle = await store.cycleOf(context.instanceId);
      if (!cycle) return { manualRollbackRecorded: false };
      // Idempotent: a second run finds the same record and writes the same.
      const automatic = cycle.rollback && cycle.rollback.byHand !== true ? cycle.rollback : ((cycle.rollback?.automatic as Record<string, unknown> | undefined) ?? null);
      await store.updateCycle(context.instanceId, {
        status: 'rolled-back-by-hand',
        rollback: { rolledBack: true, byHand: true, at: new Date().toISOString(), automatic, ...(input.rollbackNote && { note: input.rollbackNote.slice(0, 2000) }) },
      });
      return { manualRollbackRecorded: true };
    },
  };
}
