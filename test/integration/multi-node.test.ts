import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import type { Database } from '../../src/store/database.js';
import { httpClient, killServerProcess, repositoryRoot, startServerProcess, TEST_TOKENS_SETTING } from '../support/server-process.js';
import { createTestDatabase, eventually, openEmbeddedTestDatabase } from '../support/test-app.js';
import { sequence } from '../support/bpmn.js';

/**
 * Two engine nodes on one database run a mixed load (user tasks, external tasks, messages,
 * timers) while every request goes to either node. On PostgreSQL the nodes are two server
 * processes; PGlite is single-process, so there the two nodes share one PGlite in this
 * process (separate engines, caches, locks and job pollers; one connection).
 */
const INSTANCES = 60;

/**
 * A client as the API asks: a 503 (the node shed the request; on PGlite under a loaded CI machine, its one connection stayed
 * busy past the acquire bound for some of 60 simultaneous correlations) is tried again after a pause. A shed request did
 * nothing, so the exactly-once assertions below still hold: a retry of something that had happened would fail them.
 */
function retryingShed(call: ReturnType<typeof httpClient>): ReturnType<typeof httpClient> {
  return async (method, path, body) => {
    for (let attempt = 1; ; attempt++) {
      const answer = await call(method, path, body);
      if (answer.status !== 503 || attempt >= 10) return answer;
      await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
    }
  };
}
const fixture = join(repositoryRoot, 'test/fixtures/multi-node/mixed-load.bpmn');

describe('two engine nodes on one database', () => {
  const clients: Array<ReturnType<typeof httpClient>> = [];
  const processes: ChildProcess[] = [];
  const apps: App[] = [];
  let shared: Database | undefined;
  let dropDatabase = async () => {};
  const dataDir = mkdtempSync(join(tmpdir(), 'regenflow-nodes-'));

  beforeAll(async () => {
    const database = await createTestDatabase();
    dropDatabase = database.drop;
    const basePort = 5000 + Math.floor(Math.random() * 800) * 2;
    if (database.url) {
      for (const [index, port] of [basePort, basePort + 1].entries()) {
        const env = { DATABASE_URL: database.url, REGENFLOW_NODE_ID: `node-${index}`, REGENFLOW_PROCESSES_DIR: join(dataDir, 'none') };
        processes.push(await startServerProcess(env, port));
        clients.push(retryingShed(httpClient(`http://127.0.0.1:${port}`)));
      }
    } else {
      shared = await openEmbeddedTestDatabase();
      for (const [index, port] of [basePort, basePort + 1].entries()) {
        const config = loadConfig({
          PORT: String(port),
          REGENFLOW_DATA_DIR: dataDir,
          REGENFLOW_NODE_ID: `node-${index}`,
          REGENFLOW_JOB_POLL_MS: '100',
          REGENFLOW_TOKENS: TEST_TOKENS_SETTING,
          REGENFLOW_RATE_LIMIT: '100000',
        });
        const app = await createApp(config, { database: shared, log: () => {} });
        await app.listen();
        apps.push(app);
        clients.push(retryingShed(httpClient(`http://127.0.0.1:${port}`)));
      }
    }
  }, 60_000);

  afterAll(async () => {
    for (const child of processes) await killServerProcess(child);
    for (const app of apps) await app.close();
    await shared?.close();
    await dropDatabase();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const node = (index: number) => clients[index % 2]!;

  it('when a mixed load hits both nodes, then every instance completes exactly once', async () => {
    const deployed = await node(0)('POST', '/api/deployments', { name: 'mixed-load.bpmn', xml: readFileSync(fixture, 'utf8') });
    expect(deployed.status).toBe(201);

    const started = await Promise.all(
      Array.from({ length: INSTANCES }, (_, index) =>
        node(index)('POST', '/api/process-instances', { processKey: 'mixed_load', businessKey: `order-${index}` }),
      ),
    );
    expect(started.every((result) => result.status === 201)).toBe(true);

    // Workers on both nodes take the external tasks while user tasks are completed on both.
    const tasks = (await node(0)('GET', '/api/tasks?processKey=mixed_load')).body as Array<{ id: string }>;
    expect(tasks).toHaveLength(INSTANCES);
    const worker = async (index: number) => {
      let done = 0;
      for (let round = 0; round < 200 && done < INSTANCES; round++) {
        const fetched = await node(index)('POST', '/engine-rest/external-task/fetchAndLock', {
          workerId: `worker-${index}`,
          maxTasks: 5,
          topics: [{ topicName: 'mixed.work', lockDuration: 60_000 }],
        });
        if (!fetched.body.length) {
          const open = (await node(index)('GET', '/api/external-tasks?topic=mixed.work')).body.length;
          if (!open) return done;
        }
        for (const task of fetched.body) {
          const completed = await node(index + 1)('POST', `/engine-rest/external-task/${task.id}/complete`, { workerId: `worker-${index}` });
          expect(completed.status).toBe(204);
          done++;
        }
      }
      return done;
    };
    const [workedA, workedB] = await Promise.all([
      worker(0),
      worker(1),
      Promise.all(tasks.map((task, index) => node(index)('POST', `/api/tasks/${task.id}/complete`, { variables: { reviewed: true } }))).then(
        (results) => expect(results.every((result) => result.status === 200)).toBe(true),
      ),
    ]);
    expect((workedA as number) + (workedB as number)).toBe(INSTANCES);

    // Every instance now waits for its message; correlate them on both nodes at once.
    await eventually(async () => {
      const waiting = (await node(0)('GET', '/api/process-instances?processKey=mixed_load&limit=1000')).body;
      const details = await Promise.all(waiting.map((instance: { id: string }) => node(1)('GET', `/api/process-instances/${instance.id}`)));
      return details.every((detail) => detail.body.subscriptions.length === 1);
    });
    const correlated = await Promise.all(
      Array.from({ length: INSTANCES }, (_, index) =>
        node(index + 1)('POST', '/api/messages', { messageName: 'mixed.go', businessKey: `order-${index}` }),
      ),
    );
    expect(correlated.every((result) => result.status === 200)).toBe(true);

    // Timers are fired by whichever node's poller claims them first.
    await eventually(async () => {
      const active = (await node(0)('GET', '/api/process-instances?processKey=mixed_load&status=active')).body;
      return active.length === 0;
    }, 30_000);
    const completed = (await node(1)('GET', '/api/process-instances?processKey=mixed_load&status=completed&limit=1000')).body;
    expect(completed).toHaveLength(INSTANCES);

    for (const instance of completed) {
      const history = (await node(0)('GET', `/api/process-instances/${instance.id}/history`)).body as Array<{ activityId: string; event: string }>;
      const ends = history.filter((row) => row.event === 'end').map((row) => row.activityId);
      for (const activity of ['start', 'review', 'work', 'go', 'settle', 'end']) {
        expect(ends.filter((id) => id === activity)).toHaveLength(1);
      }
      expect(history.filter((row) => row.event === 'instance.completed')).toHaveLength(1);
    }
  }, 120_000);

  it('when a new version is deployed on one node, then starts by key run it on that node at once and on the other within a notice', async () => {
    const versioned = (name: string) => sequence('versioned', [{ id: 'wait', xml: `<bpmn:userTask id="wait" name="${name}" />` }]);
    const startOn = async (index: number) => {
      const started = await node(index)('POST', '/api/process-instances', { processKey: 'versioned' });
      expect(started.status).toBe(201);
      return started.body.definitionId as string;
    };
    const first = await node(0)('POST', '/api/deployments', { name: 'versioned.bpmn', xml: versioned('one') });
    const v1 = first.body.definitions[0].id as string;
    // Both nodes now hold version 1 as the latest of its key.
    expect(await startOn(0)).toBe(v1);
    expect(await startOn(1)).toBe(v1);

    const second = await node(0)('POST', '/api/deployments', { name: 'versioned.bpmn', xml: versioned('two') });
    const v2 = second.body.definitions[0].id as string;
    expect(v2).not.toBe(v1);
    expect(await startOn(0)).toBe(v2);
    // The other node hears of it through the cluster's notice (PostgreSQL), well before its
    // cached entry would expire (5 s); nodes sharing one in-process PGlite have no notices.
    if (processes.length) await eventually(async () => (await startOn(1)) === v2, 2_500);
  }, 60_000);
});
