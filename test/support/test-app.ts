import { createHash, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import knexFactory from 'knex';
import { createApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { openDatabase } from '../../src/store/database.js';
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
 * A freshly migrated embedded database as a data-folder dump: every in-memory test database
 * starts from it instead of running initdb (3-5 s of PGlite's WASM each). The migrations still
 * run on it (and find nothing to do), and on a fresh database once per machine and change of
 * the migrations or of PGlite, which key the file in the temporary folder.
 */
let template: Uint8Array | undefined;
export async function migratedDatabaseTemplate(): Promise<Uint8Array> {
  if (template) return template;
  const root = new URL('../../', import.meta.url).pathname;
  const key = createHash('sha256');
  for (const name of readdirSync(join(root, 'migrations')).sort()) key.update(name).update(readFileSync(join(root, 'migrations', name)));
  key.update(readFileSync(join(root, 'node_modules/@electric-sql/pglite/package.json')));
  const file = join(tmpdir(), `regenflow-pglite-template-${key.digest('hex').slice(0, 16)}.tar`);
  try {
    template = new Uint8Array(readFileSync(file));
    return template;
  } catch {
    // not made yet on this machine
  }
  const database = await openDatabase({ dataDir: '/tmp/regenflow-unused', inMemory: true });
  try {
    template = await database.dumpDataDir!();
  } finally {
    await database.close();
  }
  // Renamed into place: a suite running beside this one reads a whole file or none.
  const partial = `${file}.${process.pid}.${randomUUID()}`;
  writeFileSync(partial, template);
  renameSync(partial, file);
  return template;
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
