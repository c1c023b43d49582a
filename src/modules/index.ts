import { agentsModule } from './agents/index.js';
import { dmediModule } from './dmedi/index.js';
import { entropyModule } from './entropy/index.js';
import { generatorModule } from './generator/index.js';
import { incidentModule } from './incident/index.js';
import type { ProductModule } from './product-module.js';
import { telemetryModule } from './telemetry/index.js';
import { validatorModule } from './validator/index.js';
import { worktreesModule } from './worktrees/index.js';

export { composeModules, defineModule, type ComposedModules, type ModuleCore, type ModuleParts, type ModuleRoute, type ProductModule } from './product-module.js';
export { agentsModule, dmediModule, entropyModule, generatorModule, incidentModule, telemetryModule, validatorModule, worktreesModule };

/**
 * The product modules this server runs, in dependency order (a module may use only those
 * above it). A new module is one line here and a folder with its `index.ts`.
 */
export const productModules: readonly ProductModule<any>[] = [
  incidentModule,
  generatorModule,
  worktreesModule,
  validatorModule,
  entropyModule,
  agentsModule,
  dmediModule,
  telemetryModule,
];

/** Tables of the core (engine, audit, decisions, forms): every other table belongs to one module. */
export const CORE_TABLES: readonly string[] = [
  'process_definitions',
  'process_instances',
  'deployments',
  'definition_resources',
  'history',
  'jobs',
  'external_tasks',
  'user_tasks',
  'subscriptions',
  'incidents',
  'audit_entries',
  'idempotent_answers',
  'batches',
  'batch_items',
  'signal_broadcasts',
  'signal_deliveries',
  'task_filters',
  'decision_definitions',
  'decision_deployment_links',
  'decision_evaluations',
  'form_definitions',
  'form_deployment_links',
  'form_links',
];
