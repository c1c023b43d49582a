import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, Socket as NetSocket, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bpmn, sequence } from '../support/bpmn.js';
import { httpClient, killServerProcess, startServerProcess, TEST_TOKENS } from '../support/server-process.js';
import { createTestDatabase } from '../support/test-app.js';

/**
 * Faults against a real server process, on PGlite and (with DATABASE_URL) on PostgreSQL:
 * the server answers within a bound, and nothing it acknowledged is lost.
 */
const onPostgres = Boolean(process.env.DATABASE_URL);
const ANSWER_BOUND_MS = 15_000;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A TCP proxy in front of PostgreSQL that can refuse (down) or stall (frozen) the database. */
class DatabaseProxy {
  mode: 'up' | 'down' | 'frozen' = 'up';
  private readonly sockets = new Set<Socket>();
  private server!: Server;
  port = 0;
  constructor(private readonly target: { host: string; port: number }) {}
  async start(): Promise<void> {
    this.server = createServer((client) => {
      if (this.mode === 'down') return void client.destroy();
      const upstream = new NetSocket();
      upstream.connect(this.target.port, this.target.host);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => {});
      }
      client.on('data', (chunk) => this.mode === 'up' && upstream.write(chunk));
      upstream.on('data', (chunk) => this.mode === 'up' && client.write(chunk));
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
  }
  down(): void {
    this.mode = 'down';
    for (const socket of this.sockets) socket.destroy();
  }
  async stop(): Promise<void> {
    this.down();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

interface Node {
  child: ChildProcess;
  base: string;
  call: ReturnType<typeof httpClient>;
}

describe(`faults against a server process on ${onPostgres ? 'PostgreSQL' : 'PGlite'}`, () => {
  let dataDir: string;
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let proxy: DatabaseProxy | undefined;
  let node: Node | undefined;

  const start = async (extra: Record<string, string> = {}): Promise<Node> => {
    const port = await freePort();
    let url = database.url;
    if (url && proxy) {
      const parsed = new URL(url);
      parsed.hostname = '127.0.0.1';
      parsed.port = String(proxy.port);
      url = parsed.toString();
    }
    const child = await startServerProcess(
      {
        REGENFLOW_DATA_DIR: dataDir,
        REGENFLOW_PROCESSES_DIR: join(dataDir, 'no-processes'),
        ...(url ? { DATABASE_URL: url, REGENFLOW_DB_STATEMENT_TIMEOUT_MS: '3000' } : {}),
        ...extra,
      },
      port,
    );
    const base = `http://127.0.0.1:${port}`;
    node = { child, base, call: httpClient(base) };
    return node;
  };

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'regenflow-faults-'));
    database = await createTestDatabase();
    if (database.url) {
      const target = new URL(database.url);
      proxy = new DatabaseProxy({ host: target.hostname, port: Number(target.port || 5432) });
      await proxy.start();
    }
    const first = await start();
    const deployed = await first.call('POST', '/api/deployments', {
      name: 'faults.bpmn',
      xml: sequence('faults', [{ id: 'review', xml: '<bpmn:userTask id="review" />' }]),
    });
    expect(deployed.status).toBe(201);
    const external = await first.call('POST', '/api/deployments', {
      name: 'faults-ext.bpmn',
      xml: sequence('faults_ext', [{ id: 'work', xml: '<bpmn:serviceTask id="work" camunda:type="external" camunda:topic="faults.work" />' }]),
    });
    expect(external.status).toBe(201);
  }, 120_000);

  afterAll(async () => {
    if (node) await killServerProcess(node.child);
    await proxy?.stop();
    await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const timed = async <T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> => {
    const started = Date.now();
    const value = await work();
    return { value, ms: Date.now() - started };
  };
  const startInstance = (target: Node, businessKey: string) =>
    fetch(`${target.base}/api/process-instances`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_TOKENS.admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ processKey: 'faults', businessKey }),
    }).then(async (response) => ({ status: response.status, body: (await response.json().catch(() => null)) as any }));

  // One kill and one restart for both cases (a server start is the slowest part of this file).
  it('when the node is killed -9 under load and during a deploy, then every start it acknowledged survives the restart, once, and the deployment is all there or not at all', async () => {
    const target = node!;
    const processes = Array.from(
      { length: 30 },
      (_, index) => `<bpmn:process id="atomic_${index}" isExecutable="true"><bpmn:startEvent id="s${index}" /><bpmn:userTask id="t${index}" /><bpmn:endEvent id="e${index}" />
        <bpmn:sequenceFlow id="a${index}" sourceRef="s${index}" targetRef="t${index}" /><bpmn:sequenceFlow id="b${index}" sourceRef="t${index}" targetRef="e${index}" /></bpmn:process>`,
    );
    const xml = `<?xml version="1.0" encoding="UTF-8"?><bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="atomic" targetNamespace="http://t">${processes.join('')}</bpmn:definitions>`;
    const deploying = target.call('POST', '/api/deployments', { name: 'atomic.bpmn', xml }).catch(() => null);
    const acknowledged: string[] = [];
    const requests = Array.from({ length: 40 }, (_, index) =>
      startInstance(target, `kill-${index}`)
        .then((result) => {
          if (result.status === 201) acknowledged.push(result.body.id);
        })
        .catch(() => {}),
    );
    while (acknowledged.length < 5) await new Promise((resolve) => setTimeout(resolve, 5));
    await killServerProcess(target.child);
    await Promise.all(requests);
    const answered = await deploying;
    const restarted = await start();
    for (const id of acknowledged) expect((await restarted.call('GET', `/api/process-instances/${id}`)).status).toBe(200);
    const listed = await restarted.call('GET', '/api/process-instances?processKey=faults&limit=1000');
    const keys = (listed.body as Array<{ businessKey: string }>).map((row) => row.businessKey).filter((key) => key.startsWith('kill-'));
    expect(new Set(keys).size).toBe(keys.length);
    const definitions = await restarted.call('GET', '/api/process-definitions');
    const stored = (definitions.body as Array<{ key: string }>).filter((row) => row.key.startsWith('atomic_')).length;
    expect([0, 30]).toContain(stored);
    if (answered?.status === 201) expect(stored).toBe(30);
  });

  it('when two clients complete one task at once, then exactly one wins and the instance moves once', async () => {
    const target = node!;
    const started = await startInstance(target, 'double');
    const tasks = await target.call('GET', `/api/tasks?instanceId=${started.body.id}`);
    const taskId = tasks.body[0].id;
    const results = await Promise.all(Array.from({ length: 5 }, () => target.call('POST', `/api/tasks/${taskId}/complete`, { variables: {} })));
    const statuses = results.map((result) => result.status).sort();
    expect(statuses.filter((status) => status === 200)).toHaveLength(1);
    expect(statuses.every((status) => [200, 404, 409].includes(status))).toBe(true);
    const instance = await target.call('GET', `/api/process-instances/${started.body.id}`);
    expect(instance.body.status).toBe('completed');
  });

  it('when workers fetch at once and a lock expires, then each task has one holder and the late worker is refused', async () => {
    const target = node!;
    for (let index = 0; index < 6; index++) {
      expect((await target.call('POST', '/api/process-instances', { processKey: 'faults_ext', businessKey: `ext-${index}` })).status).toBe(201);
    }
    const worker = httpClient(target.base, TEST_TOKENS.worker);
    const fetches = await Promise.all(
      Array.from({ length: 4 }, (_, index) =>
        worker('POST', '/engine-rest/external-task/fetchAndLock', { workerId: `w${index}`, maxTasks: 6, topics: [{ topicName: 'faults.work', lockDuration: 400 }] }),
      ),
    );
    const locked = fetches.flatMap((result) => result.body as Array<{ id: string; workerId: string }>);
    expect(locked).toHaveLength(6);
    expect(new Set(locked.map((task) => task.id)).size).toBe(6);
    // The lock runs out; another worker takes the task; the first one's completion is refused.
    const first = locked[0]!;
    // The late worker asks until the locks have run out (no fixed sleep: a loaded machine may take longer).
    let retaken = await worker('POST', '/engine-rest/external-task/fetchAndLock', { workerId: 'late', maxTasks: 6, topics: [{ topicName: 'faults.work', lockDuration: 60_000 }] });
    while (!(retaken.body as Array<{ id: string }>).some((task) => task.id === first.id)) {
      const more = await worker('POST', '/engine-rest/external-task/fetchAndLock', { workerId: 'late', maxTasks: 6, topics: [{ topicName: 'faults.work', lockDuration: 60_000 }] });
      retaken = { ...more, body: [...(retaken.body as object[]), ...(more.body as object[])] };
    }
    expect((retaken.body as Array<{ id: string }>).map((task) => task.id)).toContain(first.id);
    const stale = await worker('POST', `/engine-rest/external-task/${first.id}/complete`, { workerId: first.workerId });
    expect(stale.status).toBe(400);
    for (const task of retaken.body as Array<{ id: string }>) {
      expect((await worker('POST', `/engine-rest/external-task/${task.id}/complete`, { workerId: 'late' })).status).toBe(204);
    }
  });

  it('when a timer cycle under the floor or a catastrophic pattern arrives, then the node keeps answering', async () => {
    const target = node!;
    const deploy = await target.call('POST', '/api/deployments', {
      name: 'zero.bpmn',
      xml: bpmn('zero', `<bpmn:startEvent id="s" /><bpmn:userTask id="t" /><bpmn:boundaryEvent id="b" attachedToRef="t" cancelActivity="false"><bpmn:timerEventDefinition><bpmn:timeCycle>R/PT0S</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:boundaryEvent>
        <bpmn:endEvent id="e" /><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="t" /><bpmn:sequenceFlow id="f2" sourceRef="t" targetRef="e" />`),
    });
    expect(deploy.status).toBe(400);
    const regex = await target.call('POST', '/api/deployments', {
      name: 'regex.bpmn',
      xml: bpmn('regex', `<bpmn:startEvent id="s" /><bpmn:exclusiveGateway id="g" default="f3" /><bpmn:endEvent id="yes" /><bpmn:endEvent id="no" />
        <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="g" />
        <bpmn:sequenceFlow id="f2" sourceRef="g" targetRef="yes"><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">=matches(s, p)</bpmn:conditionExpression></bpmn:sequenceFlow>
        <bpmn:sequenceFlow id="f3" sourceRef="g" targetRef="no" />`),
    });
    expect(regex.status).toBe(201);
    const { value, ms } = await timed(() => target.call('POST', '/api/process-instances', { processKey: 'regex', variables: { s: `${'a'.repeat(40)}!`, p: '^(a+)+$' } }));
    expect(value.status).toBe(201);
    expect(ms).toBeLessThan(ANSWER_BOUND_MS);
    expect((await fetch(`${target.base}/healthz`)).status).toBe(200);
  });

  (onPostgres ? it : it.skip)('when the database is down, then requests answer 503 with Retry-After in bounded time, /readyz says why, and it recovers', async () => {
    const target = node!;
    proxy!.down();
    const { value: refused, ms } = await timed(() =>
      fetch(`${target.base}/api/process-instances`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_TOKENS.admin}`, 'content-type': 'application/json' },
        body: JSON.stringify({ processKey: 'faults', businessKey: 'while-down' }),
      }),
    );
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(ms).toBeLessThan(ANSWER_BOUND_MS);
    const health = await timed(() => fetch(`${target.base}/healthz`));
    expect(health.value.status).toBe(200);
    expect(health.ms).toBeLessThan(1000);
    const ready = await fetch(`${target.base}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ status: 'not ready', database: expect.stringMatching(/DATABASE_/) });
    proxy!.mode = 'up';
    const deadline = Date.now() + ANSWER_BOUND_MS;
    let recovered = await startInstance(target, 'after-down');
    while (recovered.status !== 201 && Date.now() < deadline) recovered = await startInstance(target, 'after-down');
    expect(recovered.status).toBe(201);
  });

  (onPostgres ? it : it.skip)('when the database freezes, then a request answers 503 within the bound instead of hanging', async () => {
    const target = node!;
    proxy!.mode = 'frozen';
    const { value, ms } = await timed(() => startInstance(target, 'while-frozen'));
    expect(value.status).toBe(503);
    expect(ms).toBeLessThan(ANSWER_BOUND_MS);
    expect((await fetch(`${target.base}/healthz`)).status).toBe(200);
    proxy!.down(); // drop the stalled connections; the pool reconnects
    proxy!.mode = 'up';
    const deadline = Date.now() + ANSWER_BOUND_MS;
    let recovered = await startInstance(target, 'after-frozen');
    while (recovered.status !== 201 && Date.now() < deadline) recovered = await startInstance(target, 'after-frozen');
    expect(recovered.status).toBe(201);
  });

  it('when SIGTERM arrives under load, then every request in flight is answered, none reset, and the process exits 0', async () => {
    const target = node!;
    const worker = httpClient(target.base, TEST_TOKENS.worker);
    const longPoll = timed(() => worker('POST', '/engine-rest/external-task/fetchAndLock', { workerId: 'poller', maxTasks: 1, asyncResponseTimeout: 60_000, topics: [{ topicName: 'nothing.here', lockDuration: 1000 }] }));
    const outcomes: Array<number | string> = [];
    const requests = Array.from({ length: 30 }, (_, index) =>
      startInstance(target, `term-${index}`).then(
        (result) => outcomes.push(result.status),
        (error: Error) => outcomes.push(`${(error.cause as { code?: string })?.code ?? error.message}`),
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 30));
    const exited = new Promise<number | null>((resolve) => target.child.once('exit', (code) => resolve(code)));
    target.child.kill('SIGTERM');
    await Promise.all(requests);
    const poll = await longPoll;
    expect(poll.value.status).toBe(200);
    expect(poll.ms).toBeLessThan(ANSWER_BOUND_MS);
    // Sent before the signal: each one is answered, 201 or 503 (then nothing was done); never a reset.
    expect(outcomes.filter((outcome) => outcome !== 201 && outcome !== 503)).toEqual([]);
    expect(await exited).toBe(0);
    const restarted = await start();
    const listed = await restarted.call('GET', '/api/process-instances?processKey=faults&limit=1000');
    const stored = (listed.body as Array<{ businessKey: string }>).filter((row) => row.businessKey.startsWith('term-')).length;
    expect(stored).toBe(outcomes.filter((outcome) => outcome === 201).length);
  });
});
