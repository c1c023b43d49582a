import type { Knex } from 'knex';
import type { Config } from '../src/config.js';
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
}

/** The registry of every built-in topic (generator, entropy, agent, validator). */
export function createBuiltInRegistry(_dependencies: BuiltInDependencies): ServiceTaskRegistry {
  const registry = new ServiceTaskRegistry();
  return registry;
}
