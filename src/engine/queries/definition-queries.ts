import type { Knex } from 'knex';
import * as store from '../../store/definitions.js';

/**
 * Reads of deployed process definitions (src/store/definitions.ts), bound to the engine's
 * database: the routers ask here instead of running store functions. Each reads the table,
 * not the engine's definition cache.
 */
export class DefinitionQueries {
  constructor(private readonly knex: Knex) {}

  /** One version with its document's XML and serialized context. */
  findDefinition(id: string) {
    return store.findDefinition(this.knex, id);
  }

  /** One version's summary (no XML, no context). */
  findDefinitionSummary(id: string) {
    return store.findDefinitionSummary(this.knex, id);
  }

  /** The latest version's summary of a key. */
  findLatestDefinition(key: string) {
    return store.findLatestDefinition(this.knex, key);
  }

  listDefinitions(filter: Parameters<typeof store.listDefinitions>[1] = {}) {
    return store.listDefinitions(this.knex, filter);
  }
}
