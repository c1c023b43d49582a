import type { Knex } from 'knex';
import * as engineCore from './0001-engine-core.js';
import * as telemetry from './0002-telemetry.js';
import * as entropy from './0004-entropy.js';

interface Migration {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

/** Numbered, forward-only. Imported statically so dist, tsx and jest load the same list. */
const migrations: Array<[name: string, migration: Migration]> = [
  ['0001-engine-core', engineCore],
  ['0002-telemetry', telemetry],
  ['0004-entropy', entropy],
];

export const migrationSource: Knex.MigrationSource<[string, Migration]> = {
  getMigrations: async () => migrations,
  getMigrationName: ([name]) => name,
  getMigration: async ([, migration]) => migration,
};
