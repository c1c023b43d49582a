import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { httpClient, killServerProcess, repositoryRoot as root, startServerProcess as startServer } from '../support/server-process.js';
import { createTestDatabase, eventually } from '../support/test-app.js';

/**
 * A real server process is killed with SIGKILL in the middle of a burst of work and
 * started again on the same data: every instance must go on from its last committed wait
 * state, with no wait state lost or created twice, and every instance must complete.
 */
const INSTANCES = 120;

describe('crash safety', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'regenflow-crash-'));
  const port = 4100 + Math.floor(Math.random() * 800);
  const base = `http://127.0.0.1:${port}`;
  let server: ChildProcess | undefined;
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let env: Record<string, string>;

  const call = httpClient(base);

  beforeAll(async () => {
    database = await createTestDatabase();
    env = {
      REGENFLOW_DATA_DIR: dataDir,
      REGENFLOW_PROCESSES_DIR: join(root, 'test/fixtures/crash'),
      ...(database.url && { DATABASE_URL: database.url }),
    };
    server = await startServer(env, port);
  }, 90_000); // a server process compiles the app with tsx first: slow on a loaded machine

  afterAll(async () => {
    if (server) await killServerProcess(server);
    await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('when the server is killed mid-burst, then after a restart every instance completes exactly once', async () => {
    const started: string[] = [];
    for (let i = 0; i < INSTANCES; i += 20) {
      const batch = await Promise.all(
        Array.from({ length: 20 }, (_, j) => call('POST', '/api/process-instances', { processKey: 'crash_mix', businessKey: `b${i + j}` })),
      );
      for (const result of batch) {
        expect(result.status).toBe(201);
        started.push(result.body.id);
      }
    }
    const tasks = (await call('GET', '/api/tasks?processKey=crash_mix')).body as Array<{ id: string }>;
    expect(tasks).toHaveLength(INSTANCES);

    // Complete half the tasks in a burst and kill the server while it works on them.
    const burst = tasks.slice(0, INSTANCES / 2).map((task) => call('POST', `/api/tasks/${task.id}/complete`, { variables: { ok: true } }).catch(() => null));
    await new Promise((resolve) => setTimeout(resolve, 150));
    await killServerProcess(server!);
    await Promise.all(burst);

    server = await startServer(env, port);

    // Every instance is still there, and waits in exactly one place.
    const instances = (await call('GET', '/api/process-instances?processKey=crash_mix&limit=1000')).body as Array<{ id: string; status: string }>;
    expect(instances.map((instance) => instance.id).sort()).toEqual([...started].sort());
    for (const instance of instances.filter((candidate) => candidate.status === 'active')) {
      const detail = (await call('GET', `/api/process-instances/${instance.id}`)).body;
      const waits = detail.userTasks.length + detail.timers.length + detail.externalTasks.length;
      expect(waits).toBe(1);
    }

    // Drive everything to the end: the rest of the user tasks, the timers, the remote work.
    const remaining = (await call('GET', '/api/tasks?processKey=crash_mix')).body as Array<{ id: string }>;
    for (const task of remaining) expect((await call('POST', `/api/tasks/${task.id}/complete`, { variables: { ok: true } })).status).toBe(200);
    let completedRemote = 0;
    await eventually(async () => {
      const locked = await call('POST', '/engine-rest/external-task/fetchAndLock', {
        workerId: 'crash-worker',
        maxTasks: 50,
        topics: [{ topicName: 'crash.work', lockDuration: 30_000 }],
      });
      for (const task of locked.body) {
        const done = await call('POST', `/engine-rest/external-task/${task.id}/complete`, { workerId: 'crash-worker' });
        expect(done.status).toBe(204);
        completedRemote++;
      }
      const active = (await call('GET', '/api/process-instances?processKey=crash_mix&status=active&limit=1000')).body;
      return active.length === 0;
    }, 60_000);
    expect(completedRemote).toBe(INSTANCES);
    const completed = (await call('GET', '/api/process-instances?processKey=crash_mix&status=completed&limit=1000')).body;
    expect(completed).toHaveLength(INSTANCES);
    for (const instance of completed.slice(0, 10)) {
      const history = (await call('GET', `/api/process-instances/${instance.id}/history`)).body as Array<{ activityId: string; event: string }>;
      expect(history.filter((row) => row.activityId === 'remote' && row.event === 'end')).toHaveLength(1);
    }
  }, 120_000);
});
