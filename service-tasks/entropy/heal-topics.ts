/**
 * "regenflow heals itself": the steps of the engine strategies, acting on one of regenflow's
 * own processes (system "regenflow/<process key>") through the engine control interface.
 */
import { z } from 'zod';
import type { ServiceTaskDefinition } from '../registry.js';
import type { EngineControl, MovedInstances } from './ports.js';
import { ENGINE_SYSTEM_PREFIX } from './strategies.js';

const EngineSystem = z
  .string()
  .refine((system) => system.startsWith(ENGINE_SYSTEM_PREFIX) && system.length > ENGINE_SYSTEM_PREFIX.length, `must be ${ENGINE_SYSTEM_PREFIX}<process key>`);
const keyOf = (system: string) => system.slice(ENGINE_SYSTEM_PREFIX.length);

/**
 * Rolls a process key back to `toVersion`: its content is deployed again as the latest (new
 * starts run it), and the running instances of the versions after it move onto that redeployed
 * version by migration, where each waits at an activity it has too. Used by the engine strategy's
 * rollback step and by a DMEDI cycle's rollback of a regenflow process.
 */
export async function rollBackVersion(
  engineControl: EngineControl,
  processKey: string,
  toVersion: number,
  /** The key's versions as the caller read them (engineControl.versions). */
  versions: Array<{ version: number }>,
): Promise<{ version: number; moved: MovedInstances; summary: string }> {
  const regressed = versions.map((row) => row.version).filter((version) => version > toVersion);
  const { version } = await engineControl.rollbackStarts(processKey, toVersion);
  const moved = await engineControl.moveRunningInstances(processKey, { fromVersions: regressed, toVersion: version });
  const left = moved.left.length ? `; ${moved.left.length} stay where they are (${moved.left.slice(0, 3).map((entry) => `${entry.instanceId} on version ${entry.version}: ${entry.reason}`).join('; ')}${moved.left.length > 3 ? '; …' : ''})` : '';
  const summary = `new starts of ${processKey} run version ${toVersion} again (as version ${version}); ${moved.moving} running instance(s) of version ${regressed.join(', ') || '-'} move back by migration${moved.batchIds.length ? ` (batch ${moved.batchIds.join(', ')})` : ''}${left}`;
  return { version, moved, summary };
}

export function healTopics({ engineControl }: { engineControl: EngineControl }): ServiceTaskDefinition[] {
  const RollbackInput = z.object({ system: EngineSystem, toVersion: z.number().int().min(1).optional() });
  const rollbackVersion: ServiceTaskDefinition<typeof RollbackInput> = {
    topic: 'heal.rollback-version',
    description: 'Rolls a process back to its previous version (or toVersion): deploys that content as the latest for new starts, and moves running instances of the later versions onto it by migration where they wait at an activity it has',
    mode: 'inline',
    input: RollbackInput,
    output: z.object({
      rolledBackTo: z.number().int().nullable(),
      activeVersion: z.number().int().nullable(),
      /** Running instances of the versions after rolledBackTo that migration batches move onto activeVersion. */
      instancesMovedBack: z.number().int(),
      /** Those that stay on their version (waiting at an activity rolledBackTo does not have), with why. */
      instancesLeft: z.array(z.object({ instanceId: z.string(), version: z.number().int(), reason: z.string() })),
      migrationBatchIds: z.array(z.string()),
    }),
    async handler(input) {
      const key = keyOf(input.system);
      const versions = await engineControl.versions(key);
      const target = input.toVersion ?? versions[1]?.version;
      if (!target) return { rolledBackTo: null, activeVersion: versions[0]?.version ?? null, instancesMovedBack: 0, instancesLeft: [], migrationBatchIds: [] };
      const { version, moved } = await rollBackVersion(engineControl, key, target, versions);
      return { rolledBackTo: target, activeVersion: version, instancesMovedBack: moved.moving, instancesLeft: moved.left.slice(0, 100), migrationBatchIds: moved.batchIds };
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
