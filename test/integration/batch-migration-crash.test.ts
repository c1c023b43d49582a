import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { sequence } from '../support/bpmn.js';
import { httpClient, killServerProcess, startServerProcess } from '../support/server-process.js';
import { createTestDatabase, eventually } from '../support/test-app.js';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** How many waiting instances the batch moves (REGENFLOW_TEST_BATCH_SIZE=1000 for the full run). */
const INSTANCES = Number(process.env.REGENFLOW_TEST_BATCH_SIZE ?? 120);

/**
 * A migration batch survives a kill -9 of the server process running it: after the restart the
 * chunk the dead node held is claimed again when its short lease runs out, and every instance
 * ends up on v2 exactly once (one migration each in its history) and continues there.
 */
describe('a migration batch across a kill -9', () => {
  let dataDir: string;
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let child: ChildProcess | undefined;
  let call: ReturnType<typeof httpClient>;

  const start = async () => {
    const port = await freePort();
    child = await startServerProcess(
      { REGENFLOW_DATA_DIR: dataDir, REGENFLOW_PROCESSES_DIR: join(dataDir, 'no-processes'), ...(database.url ? { DATABASE_URL: database.url } : {}) },
      port,
    );
    call = httpClient(`http://127.0.0.1:${port}`);
  };

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'regenflow-batch-crash-'));
    database = await createTestDatabase();
    await start();
  }, 120_000);
  afterAll(async () => {
    if (child) await killServerProcess(child);
    await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it(`migrates ${INSTANCES} waiting instances exactly once though the server is killed in the middle`, async () => {
    const review = { id: 'review', xml: '<bpmn:userTask id="review" />' };
    const v1 = (await call('POST', '/api/deployments', { name: 'crash.bpmn', xml: sequence('crash', [review]) })).body.definitions[0].id;
    const ids: string[] = [];
    for (let offset = 0; offset < INSTANCES; offset += 20) {
      const started = await Promise.all(
        Array.from({ length: Math.min(20, INSTANCES - offset) }, () => call('POST', '/api/process-instances', { definitionId: v1 })),
      );
      ids.push(...started.map((response) => response.body.id as string));
    }
    expect(new Set(ids).size).toBe(INSTANCES);
    const v2 = (await call('POST', '/api/deployments', { name: 'crash.bpmn', xml: sequence('crash', [review, { id: 'added', xml: '<bpmn:userTask id="added" />' }]) })).body.definitions[0].id;
    const plan = (await call('POST', '/engine-rest/migration/generate', { sourceProcessDefinitionId: v1, targetProcessDefinitionId: v2 })).body;
    const batch = await call('POST', '/engine-rest/migration/executeAsync', { migrationPlan: plan, processInstanceQuery: { processDefinitionId: v1 } });
    expect(batch.status).toBe(200);

    // Kill the node once some, not all, instances have moved.
    const partway = await eventually(async () => {
      const progress = (await call('GET', `/api/batches/${batch.body.id}`)).body;
      return progress.done > 0 ? progress : null;
    }, 60_000);
    await killServerProcess(child!);
    child = undefined;
    expect(partway.done).toBeLessThan(INSTANCES);

    await start();
    const finished = await eventually(async () => {
      const progress = (await call('GET', `/api/batches/${batch.body.id}`)).body;
      return progress.status === 'completed' ? progress : null;
    }, 180_000);
    expect(finished).toMatchObject({ total: INSTANCES, done: INSTANCES, failed: 0, pending: 0 });

    const listed = (await call('GET', `/api/process-instances?processKey=crash&status=active&limit=${INSTANCES + 10}`)).body as Array<{ id: string; definitionId: string }>;
    expect(listed).toHaveLength(INSTANCES);
    expect(listed.filter((instance) => instance.definitionId !== v2)).toEqual([]);
    for (let offset = 0; offset < ids.length; offset += 40) {
      await Promise.all(
        ids.slice(offset, offset + 40).map(async (id) => {
          const history = (await call('GET', `/api/process-instances/${id}/history`)).body as Array<{ event: string }>;
          expect(history.filter((entry) => entry.event === 'instance.migrated')).toHaveLength(1);
        }),
      );
    }
    // They continue on v2: completing review leads to the task v2 added.
    const sample = ids.slice(0, 3);
    for (const id of sample) {
      const [task] = (await call('GET', `/api/tasks?instanceId=${id}`)).body;
      expect(task.activityId).toBe('review');
      expect((await call('POST', `/api/tasks/${task.id}/complete`, { variables: {} })).status).toBeLessThan(300);
      const [next] = (await call('GET', `/api/tasks?instanceId=${id}`)).body;
      expect(next.activityId).toBe('added');
    }
  }, 400_000);
});
