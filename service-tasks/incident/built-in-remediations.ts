import { z } from 'zod';
import type { FeatureFlagStore } from '../../src/store/incident-store.js';
import type { InlineHandlerContext } from '../../src/engine/runtime/service-binding.js';

/**
 * regenflow's own remediations: run in-process, each with the undo information its
 * rollback needs. Everything else is done by remote workers on `remediation.remote`.
 */
export interface BuiltInRemediation<P extends z.ZodType = z.ZodType> {
  topic: string;
  description: string;
  params: P;
  apply(params: z.infer<P>, context: InlineHandlerContext): Promise<{ result: Record<string, unknown>; undo: Record<string, unknown> }>;
  rollback(undo: Record<string, unknown>, context: InlineHandlerContext): Promise<Record<string, unknown>>;
}

const FlagParams = z.object({ flag: z.string().min(1).max(200), value: z.unknown() });
const FlagUndo = z.object({ flag: z.string(), previousExisted: z.boolean(), previousValue: z.unknown() });

/** Sets a feature flag (a kill switch, a fallback path); rollback restores what it was. */
export function featureFlagRemediation(flags: FeatureFlagStore): BuiltInRemediation<typeof FlagParams> {
  return {
    topic: 'remediation.feature-flag',
    description: 'Sets a feature flag (kill switch); rollback restores its previous value',
    params: FlagParams,
    async apply(params, context) {
      // The idempotency key makes a re-run return the first run's undo, not "our own value".
      const change = await flags.change({
        key: params.flag,
        value: params.value ?? null,
        actor: `incident:${context.instanceId}`,
        idempotencyKey: `apply:${context.idempotencyKey}`,
      });
      return {
        result: { flag: params.flag, value: params.value ?? null },
        undo: { flag: params.flag, previousExisted: change.previousExisted, previousValue: change.previousValue ?? null },
      };
    },
    async rollback(undo, context) {
      const parsed = FlagUndo.parse(undo);
      await flags.change({
        key: parsed.flag,
        value: parsed.previousValue ?? null,
        remove: !parsed.previousExisted,
        actor: `incident:${context.instanceId}:rollback`,
        idempotencyKey: `rollback:${context.idempotencyKey}`,
      });
      return { flag: parsed.flag, restored: parsed.previousExisted ? (parsed.previousValue ?? null) : null, removed: !parsed.previousExisted };
    },
  };
}
