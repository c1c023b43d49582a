import type { Knex } from 'knex';
import type { Config } from '../src/config.js';
import { ServiceTaskRegistry } from './registry.js';
import type { EngineControl, EntropyStore } from './entropy/ports.js';
import { entropyTopics } from './entropy/topics.js';
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
  /** The entropy module's database door (src/store/entropy-store.ts). */
  entropyStore: EntropyStore;
  /** Deploy and self-healing actions on the engine (src/engine/engine-control.ts). */
  engineControl: EngineControl;
}

/** The registry of every built-in topic (generator, entropy, agent, validator). */
export function createBuiltInRegistry(dependencies: BuiltInDependencies): ServiceTaskRegistry {
  const registry = new ServiceTaskRegistry();
  for (const topic of [...entropyTopics(dependencies), ...healTopics(dependencies), ...dmediGeneratorTopics(dependencies)]) registry.register(topic);
  return registry;
}
