import { join } from 'node:path';
import type { Knex } from 'knex';
import type { Config } from '../src/config.js';
import type { FeatureFlagStore, IncidentStore } from '../src/store/incident-store.js';
import { incidentTasks } from './incident/index.js';
import type { ValidationRunStore } from '../src/store/validation-runs.js';
import type { MonitoredSystemStore } from '../src/store/monitored-systems.js';
import type { KeptWorktreeStore } from '../src/store/kept-worktrees.js';
import type { CommandOutputStore } from '../src/store/command-output.js';
import { LiveLog, type LiveLogFactory } from './agent/live-log.js';
import { agentTopics, loadProfiles, WorktreeRunner } from './agent/index.js';
import { LlmClient } from './generator/llm-client.js';
import { scaffoldTopic } from './generator/scaffold.js';
import { ServiceTaskRegistry } from './registry.js';
import { loadPhases, validatorTopics } from './validator/index.js';
import type { EngineControl, EntropyStore } from './entropy/ports.js';
import { entropyTopics } from './entropy/topics.js';
import { loadRollbackHooks } from './entropy/rollback-hooks.js';
import { manualRollbackTopic } from './entropy/manual-rollback-topic.js';
import { healTopics } from './entropy/heal-topics.js';
import { dmediGeneratorTopics } from './generator/dmedi-topics.js';

export { ServiceTaskRegistry, type ServiceTaskDefinition } from './registry.js';

/**
 * What the built-in modules may reach, handed over by the composition root. Each module
 * takes only the slice it needs; a module's data access lives in `src/store/` behind a
 * small interface of its own.
 */
export interface BuiltInDependencies {
  config: Config;
  knex: Knex;
  /** Pattern store, decision log and alert lookups of incident response. */
  incident: { store: IncidentStore; flags: FeatureFlagStore };
  /** Validation runs and activity spans, for the validator. */
  validationRuns: ValidationRunStore;
  /** Registers a listener for ended instances (worktrees kept for an instance are removed then). */
  onInstanceEnded?: (listener: (instanceId: string) => void) => void;
  /** Called with what to stop when the app closes (timers of the built-in modules). */
  onClose?: (stop: () => void) => void;
  /** The entropy module's database door (src/store/entropy-store.ts). */
  entropyStore: EntropyStore;
  /** Deploy and self-healing actions on the engine (src/engine/engine-control.ts). */
  engineControl: EngineControl;
  /** Systems handed to the evolution cycle by feature.handoff (src/store/monitored-systems.ts). */
  monitoredSystems: MonitoredSystemStore;
  /** Worktrees kept between an instance's tasks, recorded for every node (src/store/kept-worktrees.ts). */
  keptWorktrees?: KeptWorktreeStore;
  /** Live logs of validation phases and agent commands (src/store/command-output.ts); absent, none are written. */
  commandOutput?: CommandOutputStore;
}

const once = <T>(load: () => Promise<T>): (() => Promise<T>) => {
  let loaded: Promise<T> | undefined;
  return () => (loaded ??= load().catch((error) => {
    loaded = undefined;
    throw error;
  }));
};

/** The worktree agent as configured: work folder below the data folder, allowed repositories, environment allow-list. */
export function createWorktreeRunner(config: Config, kept?: KeptWorktreeStore): WorktreeRunner {
  const list = (value: string) => value.split(',').map((item) => item.trim()).filter(Boolean);
  return new WorktreeRunner({
    workRoot: join(config.REGENFLOW_DATA_DIR, 'work'),
    repositoryRoots: list(config.REGENFLOW_AGENT_REPOSITORIES),
    envAllowList: list(config.REGENFLOW_AGENT_ENV),
    kept,
    // Unset, the runner keeps an id in its work folder: hostname-pid would change at every restart.
    nodeId: config.REGENFLOW_NODE_ID,
  });
}

/** The registry of every built-in topic (generator, entropy, agent, validator). */
export function createBuiltInRegistry(dependencies: BuiltInDependencies): ServiceTaskRegistry {
  const registry = new ServiceTaskRegistry();
  const { config } = dependencies;
  for (const task of incidentTasks({
    ...dependencies.incident,
    settings: {
      autoThreshold: config.REGENFLOW_INCIDENT_AUTO_CONFIDENCE,
      reviewThreshold: config.REGENFLOW_INCIDENT_REVIEW_CONFIDENCE,
      validationTimeout: config.REGENFLOW_INCIDENT_VALIDATION_TIMEOUT,
      reviewEscalationAfter: config.REGENFLOW_INCIDENT_REVIEW_ESCALATION,
      telemetryWindowMinutes: config.REGENFLOW_INCIDENT_TELEMETRY_WINDOW_MINUTES,
    },
  })) {
    registry.register(task);
  }
  const runner = createWorktreeRunner(config, dependencies.keptWorktrees);
  dependencies.onInstanceEnded?.((instanceId) => void runner.releaseInstance(instanceId).catch(() => {}));
  // This node's worktrees of instances that ended while it was down, or on another node (each node removes only its own).
  void runner.releaseOrphans().catch(() => {});
  dependencies.onClose?.(runner.startSweeping());
  const { commandOutput } = dependencies;
  const liveLog: LiveLogFactory | undefined = commandOutput
    ? (target) => new LiveLog(commandOutput, target, { onError: (error) => console.warn(`live log of ${target.instanceId}/${target.activityId} not written: ${(error as Error)?.message ?? String(error)}`) })
    : undefined;
  const llm = config.LLM_BASE_URL ? new LlmClient({ baseUrl: config.LLM_BASE_URL, model: config.LLM_MODEL, apiKey: config.LLM_API_KEY }) : undefined;
  registry.register(scaffoldTopic(llm));
  for (const topic of agentTopics({
    runner,
    profiles: once(() => loadProfiles(config.REGENFLOW_AGENT_PROFILES)),
    monitoredSystems: dependencies.monitoredSystems,
    pinnedCommit: (instanceId, ref) => dependencies.validationRuns.pinned(instanceId, ref),
    integrationPassed: async (instanceId) => (await dependencies.validationRuns.phaseResults(instanceId)).get('integration')?.passed,
    liveLog,
  })) registry.register(topic);
  const phases = once(() => loadPhases(config.REGENFLOW_VALIDATOR_PHASES));
  for (const topic of validatorTopics({ runner, runs: dependencies.validationRuns, phases, gate: config.REGENFLOW_QUALITY_GATE, nightly: { repository: config.REGENFLOW_CI_REPOSITORY, ref: config.REGENFLOW_CI_REF }, liveLog })) registry.register(topic);
  for (const topic of [...entropyTopics({ ...dependencies, rollbackHooks: loadRollbackHooks(config.REGENFLOW_ROLLBACK_HOOKS) }), manualRollbackTopic(dependencies), ...healTopics(dependencies), ...dmediGeneratorTopics(dependencies)]) registry.register(topic);
  return registry;
}
