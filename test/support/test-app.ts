import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import knexFactory from 'knex';
import { createApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { openDatabase, type Database } from '../../src/store/database.js';
import { ServiceTaskRegistry } from '../../service-tasks/registry.js';
import { TEST_TOKENS_SETTING } from './server-process.js';

/**
 * An app on a fresh database: in-memory PGlite by default, or a new database on the
 * PostgreSQL server named by DATABASE_URL (CI runs the whole suite both ways).
 */
/** A new, empty database on the server of DATABASE_URL; undefined when running on PGlite. */
export async function createTestDatabase(): Promise<{ url?: string; drop(): Promise<void> }> {
  const serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) return { drop: async () => {} };
  const name = `regenflow_test_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
  const admin = knexFactory({ client: 'pg', connection: serverUrl, pool: { min: 0, max: 1 } });
  await admin.raw(`create database ${name}`);
  await admin.destroy();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const again = knexFactory({ client: 'pg', connection: serverUrl, pool: { min: 0, max: 1 } });
      await again.raw(`drop database if exists ${name} with (force)`);
      await again.destroy();
    },
  };
}

/**
 * The file of a freshly migrated embedded database's data-folder dump: every in-memory test
 * database starts as it instead of running initdb (3-5 s of PGlite's WASM each). The migrations
 * still run on each (and find nothing to do). It is made once per machine and per change of what
 * shapes a new database: the migrations, how the store opens PGlite, PGlite and knex, whose
 * contents name the file in the temporary folder.
 */
let templateFile: string | undefined;
export async function migratedDatabaseTemplate(): Promise<string> {
  if (templateFile) return templateFile;
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const key = createHash('sha256');
  const shaping = [
    ...readdirSync(join(root, 'migrations'))
      .sort()
      .map((name) => join('migrations', name)),
    'src/store/database.ts',
    'node_modules/@electric-sql/pglite/package.json',
    'node_modules/knex/package.json',
  ];
  for (const path of shaping) key.update(path).update(readFileSync(join(root, path)));
  const file = join(tmpdir(), `regenflow-pglite-template-${key.digest('hex').slice(0, 16)}.tar`);
  if (!existsSync(file)) {
    const database = await openDatabase({ dataDir: '/tmp/regenflow-unused', inMemory: true });
    try {
      // Renamed into place: a suite running beside this one reads a whole file or none.
      const partial = `${file}.${process.pid}.${randomUUID()}`;
      writeFileSync(partial, await database.dumpDataDir!());
      renameSync(partial, file);
    } finally {
      await database.close();
    }
  }
  templateFile = file;
  return file;
}

/** An in-memory embedded database, migrated (from the template): for nodes that share one database in this process. */
export async function openEmbeddedTestDatabase(): Promise<Database> {
  return openDatabase({ dataDir: '/tmp/regenflow-unused', inMemory: true, template: await migratedDatabaseTemplate() });
}

/**
 * `registry` replaces the topics the server knows; `builtIns: true` keeps the built-in
 * modules' topics (the default is an empty registry, so engine tests see only their own).
 */
export async function createTestApp(
  options: { registry?: ServiceTaskRegistry; builtIns?: boolean; env?: Record<string, string> } = {},
): Promise<App & { dispose(): Promise<void> }> {
  const database = await createTestDatabase();
  const databaseUrl = database.url;
  const dropDatabase = database.drop;
  const config = loadConfig({
    PORT: '0',
    REGENFLOW_DATA_DIR: '/tmp/regenflow-unused',
    REGENFLOW_JOB_POLL_MS: '50',
    REGENFLOW_TOKENS: TEST_TOKENS_SETTING,
    REGENFLOW_RATE_LIMIT: '100000',
    ...(databaseUrl && { DATABASE_URL: databaseUrl, REGENFLOW_DB_POOL: '4' }),
    ...options.env,
  });
  const app = await createApp(config, {
    registry: options.registry ?? (options.builtIns ? undefined : new ServiceTaskRegistry()),
    inMemoryDatabase: !databaseUrl,
    databaseTemplate: databaseUrl ? undefined : await migratedDatabaseTemplate(),
    log: () => {},
  });
  return Object.assign(app, {
    async dispose() {
      await app.close();
      await dropDatabase();
    },
  });
}

/** Polls until `check` returns a truthy value (for work done by the job poller). */
export async function eventually<T>(check: () => Promise<T | undefined | null | false>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
