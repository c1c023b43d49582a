import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp, deployFolder, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { ServiceTaskRegistry } from '../../service-tasks/registry.js';
import { bpmn } from '../support/bpmn.js';
import { TEST_TOKENS_SETTING } from '../support/server-process.js';
import { createTestDatabase } from '../support/test-app.js';

/**
 * Given an empty PostgreSQL database, when two nodes start at the same moment (each migrating
 * and deploying its processes folder), then both start and every key has one version. On
 * PGlite there is no second process to race, so this runs on PostgreSQL only.
 */
const onPostgres = process.env.DATABASE_URL ? describe : describe.skip;
const KEYS = ['boot_a', 'boot_b', 'boot_c', 'boot_d'];

function writeProcesses(folder: string, label: string): void {
  for (const key of KEYS) {
    writeFileSync(
      join(folder, `${key}.bpmn`),
      bpmn(key, `<bpmn:startEvent id="start" /><bpmn:userTask id="task" name="${label}" /><bpmn:endEvent id="end" />
        <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="task" /><bpmn:sequenceFlow id="f2" sourceRef="task" targetRef="end" />`),
    );
  }
}

onPostgres('two nodes booting at once on an empty database', () => {
  const folder = mkdtempSync(join(tmpdir(), 'regenflow-boot-'));
  const apps: App[] = [];
  let drop = async () => {};

  afterAll(async () => {
    for (const app of apps) await app.close();
    await drop();
    rmSync(folder, { recursive: true, force: true });
  });

  const boot = async (url: string, index: number) => {
    const config = loadConfig({
      PORT: '0',
      REGENFLOW_DATA_DIR: '/tmp/regenflow-unused',
      REGENFLOW_NODE_ID: `boot-${index}`,
      REGENFLOW_TOKENS: TEST_TOKENS_SETTING,
      DATABASE_URL: url,
      REGENFLOW_DB_POOL: '4',
    });
    const app = await createApp(config, { registry: new ServiceTaskRegistry(), log: () => {} });
    apps.push(app);
    return app;
  };

  it('when both migrate and deploy the same folder, then both start and each key has one version; a changed file makes one more', async () => {
    const database = await createTestDatabase();
    drop = database.drop;
    writeProcesses(folder, 'first');
    const [a, b] = await Promise.all([boot(database.url!, 0), boot(database.url!, 1)]);
    await Promise.all([deployFolder(a.engine, folder), deployFolder(b.engine, folder)]);
    const versions = async (): Promise<Array<{ key: string; n: string; latest: number }>> =>
      a.database.knex('process_definitions').whereIn('key', KEYS).groupBy('key').select('key').count({ n: '*' }).max({ latest: 'version' }) as never;
    expect((await versions()).map((row) => [row.key, Number(row.n), row.latest]).sort()).toEqual(KEYS.map((key) => [key, 1, 1]));

    // A rolled-out change reaches both nodes at once: one new version per key, both see it.
    writeProcesses(folder, 'second');
    const [linesA, linesB] = await Promise.all([deployFolder(a.engine, folder), deployFolder(b.engine, folder)]);
    expect((await versions()).map((row) => [row.key, Number(row.n), row.latest]).sort()).toEqual(KEYS.map((key) => [key, 2, 2]));
    expect(linesA.map((line) => line.replace(' (new)', ''))).toEqual(KEYS.map((key) => `${key} v2`));
    expect(linesB.map((line) => line.replace(' (new)', ''))).toEqual(KEYS.map((key) => `${key} v2`));

    // Unchanged: no version.
    expect(await deployFolder(b.engine, folder)).toEqual(KEYS.map((key) => `${key} v2`));
  }, 60_000);
});
