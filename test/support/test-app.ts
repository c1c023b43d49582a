import { randomUUID } from 'node:crypto';
import knexFactory from 'knex';
import { createApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
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
