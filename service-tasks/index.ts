import type { Knex } from 'knex';
import type { Config } from '../src/config.js';
import type { FeatureFlagStore, IncidentStore } from '../src/store/incident-store.js';
import { incidentTasks } from './incident/index.js';
import { ServiceTaskRegistry } from './registry.js';

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
  return registry;
}
