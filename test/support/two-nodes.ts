import { createApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import type { Database } from '../../src/store/database.js';
import { ServiceTaskRegistry } from '../../service-tasks/registry.js';
import { TEST_TOKENS_SETTING } from './server-process.js';
import { createTestDatabase, openEmbeddedTestDatabase } from './test-app.js';

export interface TwoNodes {
  nodes: [App, App];
  dispose(): Promise<void>;
}

/**
 * Two engine nodes in this process on one fresh database: on PostgreSQL each has its own
 * pool (as two servers would); on PGlite they share the one connection. Pollers are not
 * started unless `listen` is set: tests drive jobs themselves.
 */
export async function createTwoNodes(options: { env?: Record<string, string>; registry?: () => ServiceTaskRegistry } = {}): Promise<TwoNodes> {
  const database = await createTestDatabase();
  let shared: Database | undefined;
  if (!database.url) shared = await openEmbeddedTestDatabase();
  const apps: App[] = [];
  for (const index of [0, 1]) {
    const config = loadConfig({
      PORT: '0',
      REGENFLOW_DATA_DIR: '/tmp/regenflow-unused',
      REGENFLOW_NODE_ID: `node-${index}`,
      REGENFLOW_JOB_POLL_MS: '50',
      REGENFLOW_TOKENS: TEST_TOKENS_SETTING,
      REGENFLOW_RATE_LIMIT: '100000',
      ...(database.url && { DATABASE_URL: database.url, REGENFLOW_DB_POOL: '6' }),
      ...options.env,
    });
    apps.push(
      await createApp(config, {
        registry: options.registry?.() ?? new ServiceTaskRegistry(),
        ...(shared ? { database: shared } : {}),
        log: () => {},
      }),
    );
  }
  return {
    nodes: [apps[0]!, apps[1]!],
    async dispose() {
      for (const app of apps) await app.close();
      await shared?.close();
      await database.drop();
    },
  };
}
