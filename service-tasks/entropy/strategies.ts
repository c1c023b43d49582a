/**
 * The regeneration strategies per entropy level, each with its estimates, and the steps a
 * generated workflow runs for it. Steps with an `engine.*`-free topic are done by the
 * system's own agent (an external-task worker of that system); `heal.*` steps act on
 * regenflow itself through the engine control interface.
 */
import type { EntropyLevel } from './entropy-score.js';
import { ENGINE_SYSTEM_PREFIX } from '../../src/engine/types.js';

export interface StrategyStep {
  id: string;
  name: string;
  topic: string;
}

export interface Strategy {
  id: string;
  name: string;
  level: EntropyLevel;
  /** Chance that applying it makes things worse, 0..1. */
  risk: number;
  /** Expected minutes until the system is back. */
  recoveryMinutes: number;
  /** Share of the team's/cluster's capacity it takes while it runs, 0..1. */
  resources: number;
  /** Prior success probability before any outcome is recorded. */
  prior: number;
  /** Only for systems that are regenflow processes ("regenflow/<process key>"). */
  engineOnly?: boolean;
  steps: StrategyStep[];
}

const step = (id: string, name: string, topic = `regen.${id}`): StrategyStep => ({ id, name, topic });

export const STRATEGIES: Strategy[] = [
  { id: 'span-optimisation', name: 'Span optimisation', level: 'LOW', risk: 0.05, recoveryMinutes: 10, resources: 0.1, prior: 0.8, steps: [step('sample-spans', 'Tune span sampling'), step('validate', 'Validate telemetry')] },
  { id: 'cache-refresh', name: 'Cache refresh', level: 'LOW', risk: 0.05, recoveryMinutes: 5, resources: 0.1, prior: 0.75, steps: [step('refresh-caches', 'Refresh caches'), step('validate', 'Validate service')] },
  { id: 'validation-tuning', name: 'Validation tuning', level: 'LOW', risk: 0.1, recoveryMinutes: 15, resources: 0.15, prior: 0.7, steps: [step('tune-validation', 'Tune validation rules'), step('validate', 'Validate service')] },
  { id: 'agent-reset', name: 'Agent reset', level: 'MEDIUM', risk: 0.2, recoveryMinutes: 15, resources: 0.3, prior: 0.7, steps: [step('backup-state', 'Back up agent state'), step('reset-configuration', 'Reset configurations'), step('validate', 'Validate agents')] },
  { id: 'partial-regeneration', name: 'Partial regeneration', level: 'MEDIUM', risk: 0.3, recoveryMinutes: 45, resources: 0.4, prior: 0.65, steps: [step('backup-state', 'Back up state'), step('regenerate-components', 'Regenerate degraded components'), step('validate', 'Validate service')] },
  { id: 'workflow-optimisation', name: 'Workflow optimisation', level: 'MEDIUM', risk: 0.25, recoveryMinutes: 30, resources: 0.3, prior: 0.6, steps: [step('optimise-workflow', 'Optimise workflow'), step('validate', 'Validate workflow')] },
  { id: 'semantic-refresh', name: 'Semantic refresh', level: 'HIGH', risk: 0.35, recoveryMinutes: 60, resources: 0.5, prior: 0.6, steps: [step('backup-state', 'Back up state'), step('refresh-conventions', 'Refresh semantic conventions'), step('validate', 'Validate telemetry')] },
  { id: 'agent-reconstruction', name: 'Agent reconstruction', level: 'HIGH', risk: 0.45, recoveryMinutes: 90, resources: 0.6, prior: 0.55, steps: [step('backup-state', 'Back up agent state'), step('rebuild-agents', 'Rebuild agents'), step('validate', 'Validate agents')] },
  { id: 'validation-rebuild', name: 'Validation rebuild', level: 'HIGH', risk: 0.4, recoveryMinutes: 120, resources: 0.5, prior: 0.55, steps: [step('rebuild-validation', 'Rebuild validation suite'), step('validate', 'Validate service')] },
  { id: 'full-regeneration', name: 'Full regeneration', level: 'CRITICAL', risk: 0.6, recoveryMinutes: 240, resources: 0.9, prior: 0.5, steps: [step('backup-state', 'Back up state'), step('regenerate-system', 'Regenerate system'), step('validate', 'Validate service')] },
  { id: 'clean-slate-rebuild', name: 'Clean-slate rebuild', level: 'CRITICAL', risk: 0.7, recoveryMinutes: 480, resources: 1, prior: 0.45, steps: [step('backup-state', 'Back up state'), step('rebuild-from-scratch', 'Rebuild from scratch'), step('validate', 'Validate service')] },
  { id: 'emergency-rollback', name: 'Emergency rollback', level: 'CRITICAL', risk: 0.2, recoveryMinutes: 10, resources: 0.2, prior: 0.7, steps: [step('rollback-release', 'Roll back to the last good release'), step('validate', 'Validate service')] },
  // regenflow heals itself: the same levels, acting on the engine.
  { id: 'engine-retry-incidents', name: 'Retry incidents', level: 'MEDIUM', risk: 0.1, recoveryMinutes: 2, resources: 0.1, prior: 0.6, engineOnly: true, steps: [step('retry-incidents', 'Retry open incidents', 'heal.retry-incidents')] },
  { id: 'engine-reset-stuck', name: 'Reset stuck instances', level: 'HIGH', risk: 0.3, recoveryMinutes: 5, resources: 0.2, prior: 0.6, engineOnly: true, steps: [step('reset-stuck', 'Reset stuck instances', 'heal.reset-stuck-instances')] },
  { id: 'engine-version-rollback', name: 'Roll new starts back to the previous version', level: 'HIGH', risk: 0.15, recoveryMinutes: 2, resources: 0.1, prior: 0.7, engineOnly: true, steps: [step('rollback-version', 'Route new starts to the previous version', 'heal.rollback-version'), step('retry-incidents', 'Retry open incidents', 'heal.retry-incidents')] },
];

// Defined beside the engine's shapes, which the store and telemetry read too (they must not import this module).
export { ENGINE_SYSTEM_PREFIX };

export function strategyById(id: string): Strategy | undefined {
  return STRATEGIES.find((strategy) => strategy.id === id);
}

/** Strategies of a level; engine strategies are offered for regenflow's own processes (and only there, for HIGH and up, first). */
export function strategiesFor(level: EntropyLevel, system: string): Strategy[] {
  const engine = system.startsWith(ENGINE_SYSTEM_PREFIX);
  const order = ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'];
  return STRATEGIES.filter((strategy) => {
    if (strategy.engineOnly) return engine && order.indexOf(strategy.level) <= order.indexOf(level);
    return strategy.level === level;
  });
}

/**
 * The catalogue's strategies for the ids a policy table offered. An id the catalogue lacks, or an
 * engine strategy offered to a system that is not one of regenflow's processes, is an error
 * naming it (an incident on the cycle), not a strategy silently dropped.
 */
export function offeredStrategies(ids: string[], system: string): Strategy[] {
  const engine = system.startsWith(ENGINE_SYSTEM_PREFIX);
  return [...new Set(ids)].map((id) => {
    const strategy = strategyById(id);
    if (!strategy) throw new Error(`the strategy table offered ${id}, which is not in the catalogue (${STRATEGIES.map((known) => known.id).join(', ')})`);
    if (strategy.engineOnly && !engine) throw new Error(`the strategy table offered ${id}, which acts on regenflow's own processes, to ${system}`);
    return strategy;
  });
}
