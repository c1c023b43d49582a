import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseTokens, resolveTokens } from '../../src/api/auth.js';
import { sequence } from '../support/bpmn.js';
import { httpClient, TEST_TOKENS } from '../support/server-process.js';
import { createTestApp } from '../support/test-app.js';

/** Security on by default: bearer tokens with roles, only in the Authorization header. */
describe('authentication and roles', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let base: string;
  const as = (role: keyof typeof TEST_TOKENS) => httpClient(base, TEST_TOKENS[role]);

  beforeAll(async () => {
    app = await createTestApp();
    base = `http://127.0.0.1:${await app.listen()}`;
    await app.engine.deploy([{ name: 'auth.bpmn', xml: sequence('auth_flow', [{ id: 'wait', xml: '<bpmn:userTask id="wait" />' }]) }]);
  });
  afterAll(async () => {
    await app.dispose();
  });

  it('when no token, a malformed header, a wrong token or a token in the query is sent, then the answer is 401', async () => {
    const none = await fetch(`${base}/api/process-instances`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    expect(await none.json()).toMatchObject({ code: 'UNAUTHENTICATED', detail: expect.stringContaining('Authorization') });
    expect((await fetch(`${base}/api/process-instances`, { headers: { authorization: TEST_TOKENS.admin } })).status).toBe(401);
    expect((await httpClient(base, 'not-a-token')('GET', '/api/process-instances')).status).toBe(401);
    expect((await fetch(`${base}/api/process-instances?access_token=${TEST_TOKENS.admin}`)).status).toBe(401);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it('when a role acts outside its rights, then the answer is 403 and nothing is stored', async () => {
    const xml = sequence('forbidden_flow', [{ id: 't', xml: '<bpmn:task id="t" />' }]);
    expect((await as('operator')('POST', '/api/deployments', { name: 'x.bpmn', xml })).status).toBe(403);
    expect((await as('owner')('POST', '/api/deployments', { name: 'x.bpmn', xml })).status).toBe(403);
    expect((await as('admin')('GET', '/api/process-definitions?key=forbidden_flow')).body).toEqual([]);
    expect((await as('operator')('POST', '/api/deployments/lint', { name: 'x.bpmn', xml })).status).toBe(403);
    expect((await as('worker')('GET', '/api/process-instances')).status).toBe(403);
    expect((await as('alert')('GET', '/api/tasks')).status).toBe(403);
    const fetchAndLock = { workerId: 'w', maxTasks: 1, topics: [{ topicName: 'x', lockDuration: 1000 }] };
    expect((await as('owner')('POST', '/engine-rest/external-task/fetchAndLock', fetchAndLock)).status).toBe(403);
    expect(await app.database.knex('process_instances').where({ process_key: 'auth_flow' })).toHaveLength(0);
  });

  it('when each role does its own work, then it is allowed', async () => {
    const started = await as('owner')('POST', '/api/process-instances', { processKey: 'auth_flow' });
    expect(started.status).toBe(201);
    const tasks = await as('operator')('GET', `/api/tasks?instanceId=${started.body.id}`);
    expect(tasks.body).toHaveLength(1);
    expect((await as('operator')('POST', `/api/tasks/${tasks.body[0].id}/complete`, {})).status).toBe(200);
    const fetched = await as('worker')('POST', '/engine-rest/external-task/fetchAndLock', {
      workerId: 'w',
      maxTasks: 1,
      topics: [{ topicName: 'none', lockDuration: 1000 }],
    });
    expect(fetched).toMatchObject({ status: 200, body: [] });
  });
});

describe('rate limits', () => {
  it('when a token spends its budget, then further requests get a 429 problem while other tokens go on', async () => {
    const limited = await createTestApp({ env: { REGENFLOW_RATE_LIMIT: '5' } });
    const base = `http://127.0.0.1:${await limited.listen()}`;
    try {
      const operator = httpClient(base, TEST_TOKENS.operator);
      const statuses = [];
      for (let i = 0; i < 6; i++) statuses.push((await operator('GET', '/api/tasks')).status);
      expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
      const refused = await fetch(`${base}/api/tasks`, { headers: { authorization: `Bearer ${TEST_TOKENS.operator}` } });
      expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(await refused.json()).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
      const c7 = await fetch(`${base}/engine-rest/task`, { headers: { authorization: `Bearer ${TEST_TOKENS.operator}` } });
      expect(c7.status).toBe(429);
      expect(c7.headers.get('content-type')).toBe('application/json');
      expect(await c7.json()).toMatchObject({ type: 'RestException', message: expect.stringContaining('budget') });
      expect((await httpClient(base, TEST_TOKENS.owner)('GET', '/api/tasks')).status).toBe(200);
    } finally {
      await limited.dispose();
    }
  });
});

describe('tokens at start', () => {
  it('when tokens are configured badly, then start-up fails naming the problem', () => {
    expect(() => parseTokens('root:secret-token')).toThrow(/'root' is not a role/);
    expect(() => parseTokens('admin:short')).toThrow(/shorter than 8/);
    expect(parseTokens('admin:long-enough-1, worker:long-enough-2')).toEqual([
      { role: 'admin', token: 'long-enough-1' },
      { role: 'worker', token: 'long-enough-2' },
    ]);
  });

  it('when a server would listen beyond loopback without tokens, then it refuses to start', () => {
    expect(() => resolveTokens({ host: '0.0.0.0', dataDir: '/nonexistent' })).toThrow(/refusing to listen on 0\.0\.0\.0 without REGENFLOW_TOKENS/);
  });

  it('when a loopback server has no tokens, then it keeps a generated admin token in the data folder', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'regenflow-token-'));
    const first = resolveTokens({ host: '127.0.0.1', dataDir });
    const path = first.generated?.path as string;
    const token = readFileSync(path, 'utf8').trim();
    expect(token.length).toBeGreaterThanOrEqual(32);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(first.registry.grantOf(token)?.role).toBe('admin');
    const again = resolveTokens({ host: '127.0.0.1', dataDir });
    expect(again.registry.grantOf(token)?.role).toBe('admin');
    expect(again.registry.grantOf(`${token}x`)).toBeNull();
    rmSync(dataDir, { recursive: true, force: true });
  });
});

/** A worker token may be limited to the topics it serves: `worker[ci.*|agent.review]:token`. */
describe('worker tokens limited to topics', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let limited: ReturnType<typeof httpClient>;
  let anyTopic: ReturnType<typeof httpClient>;

  beforeAll(async () => {
    app = await createTestApp({ env: { REGENFLOW_TOKENS: 'admin:admin-test-token,worker[ci.*]:ci-worker-token,worker:any-worker-token' } });
    const base = `http://127.0.0.1:${await app.listen()}`;
    limited = httpClient(base, 'ci-worker-token');
    anyTopic = httpClient(base, 'any-worker-token');
    const xml = sequence('topic_limits', [
      { id: 'unit', xml: '<bpmn:serviceTask id="unit" camunda:type="external" camunda:topic="ci.unit" />' },
      { id: 'pay', xml: '<bpmn:serviceTask id="pay" camunda:type="external" camunda:topic="payments.charge" />' },
    ]);
    await app.engine.deploy([{ name: 'topic-limits.bpmn', xml }]);
  });
  afterAll(async () => {
    await app.dispose();
  });

  const fetchTopic = (client: ReturnType<typeof httpClient>, topicName: string, workerId = 'w1') =>
    client('POST', '/engine-rest/external-task/fetchAndLock', { workerId, maxTasks: 1, topics: [{ topicName, lockDuration: 10_000 }] });

  it('when a limited worker fetches its own topic, then it gets the task; another topic is a 403 naming it', async () => {
    // Given an instance waiting in ci.unit
    const instance = await app.engine.start({ processKey: 'topic_limits' });

    // When the limited worker fetches ci.unit and then payments.charge
    const own = await fetchTopic(limited, 'ci.unit');
    const other = await fetchTopic(limited, 'payments.charge');

    // Then it holds the ci.unit task, and the other topic is refused by name
    expect(own.body).toEqual([expect.objectContaining({ topicName: 'ci.unit', processInstanceId: instance.id })]);
    expect(other.status).toBe(403);
    expect(other.body.message).toContain("'payments.charge'");
    expect((await limited('POST', `/engine-rest/external-task/${own.body[0].id}/complete`, { workerId: 'w1' })).status).toBe(204);
  });

  it('when a limited worker touches a task of another topic by id, then the answer is 403 and the task is untouched', async () => {
    // Given an instance that has moved on to payments.charge, its task locked by an unlimited worker
    await app.engine.start({ processKey: 'topic_limits' });
    const [unit] = (await fetchTopic(anyTopic, 'ci.unit', 'w2')).body;
    await anyTopic('POST', `/engine-rest/external-task/${unit.id}/complete`, { workerId: 'w2' });
    const [payment] = (await fetchTopic(anyTopic, 'payments.charge', 'w2')).body;
    expect(payment).toMatchObject({ topicName: 'payments.charge', workerId: 'w2' });

    // When the ci-limited worker tries to unlock or complete it
    const unlock = await limited('POST', `/engine-rest/external-task/${payment.id}/unlock`);
    const complete = await limited('POST', `/engine-rest/external-task/${payment.id}/complete`, { workerId: 'w2' });

    // Then both are refused and the lock still belongs to the worker that holds it
    expect(unlock.status).toBe(403);
    expect(complete.status).toBe(403);
    expect(await app.database.knex('external_tasks').where({ id: payment.id }).first()).toMatchObject({ worker_id: 'w2' });
  });

  it('when a topic list is given to a role other than worker, then the setting is refused at start', () => {
    expect(() => parseTokens('owner[ci.*]:owner-token-x')).toThrow('only worker tokens name topics');
    expect(parseTokens('worker[ci.*|agent.review]:w0rk-token')).toEqual([{ role: 'worker', token: 'w0rk-token', topics: ['ci.*', 'agent.review'] }]);
  });
});
