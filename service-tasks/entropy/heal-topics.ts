/**
 * "regenflow heals itself": the steps of the engine strategies, acting on one of regenflow's
 * own processes (system "regenflow/<process key>") through the engine control interface.
 */
import { z } from 'zod';
import type { ServiceTaskDefinition } from '../registry.js';
import type { EngineControl } from './ports.js';
import { ENGINE_SYSTEM_PREFIX } from './strategies.js';

const EngineSystem = z
  .string()
  .refine((system) => system.startsWith(ENGINE_SYSTEM_PREFIX) && system.length > ENGINE_SYSTEM_PREFIX.length, `must be ${ENGINE_SYSTEM_PREFIX}<process key>`);
const keyOf = (system: string) => system.slice(ENGINE_SYSTEM_PREFIX.length);

export function healTopics({ engineControl }: { engineControl: EngineControl }): ServiceTaskDefinition[] {
  const RollbackInput = z.object({ system: EngineSystem, toVersion: z.number().int().min(1).optional() });
  const rollbackVersion: ServiceTaskDefinition<typeof RollbackInput> = {
    topic: 'heal.rollback-version',
    description: 'Routes new starts of a process back to its previous version (or toVersion) by deploying that content as the latest',
    mode: 'inline',
    input: RollbackInput,
    output: z.object({ rolledBackTo: z.number().int().nullable(), activeVersion: z.number().int().nullable() }),
    async handler(input) {
      const key = keyOf(input.system);
      const versions = await engineControl.versions(key);
      const target = input.toVersion ?? versions[1]?.version;
      if (!target) return { rolledBackTo: null, activeVersion: versions[0]?.version ?? null };
      const { version } = await engineControl.rollbackStarts(key, target);
      return { rolledBackTo: target, activeVersion: version };
    },
  };
  const RetryInput = z.object({ system: EngineSystem });
  const retryIncidents: ServiceTaskDefinition<typeof RetryInput> = {
    topic: 'heal.retry-incidents',
    description: 'Retries the open incidents of a process',
    mode: 'inline',
    input: RetryInput,
    output: z.object({ incidentsRetried: z.number().int() }),
    async handler(input) {
      return { incidentsRetried: await engineControl.retryIncidents(keyOf(input.system)) };
    },
  };
  const ResetInput = z.object({ system: EngineSystem, stuckMinutes: z.coerce.number().min(1).default(60) });
  const resetStuck: ServiceTaskDefinition<typeof ResetInput> = {
    topic: 'heal.reset-stuck-instances',
    description: 'Cancels instances of a process that have not moved for stuckMinutes and starts each again with its variables',
    mode: 'inline',
    input: ResetInput,
    output: z.object({ instancesReset: z.number().int() }),
    async handler(input) {
      return { instancesReset: await engineControl.resetStuckInstances(keyOf(input.system), new Date(Date.now() - input.stuckMinutes * 60_000)) };
    },
  };
  return [rollbackVersion, retryIncidents, resetStuck] as ServiceTaskDefinition[];
}
