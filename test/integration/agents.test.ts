import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { sequence } from '../support/bpmn.js';
import { httpClient, killServerProcess, repositoryRoot, TEST_TOKENS } from '../support/server-process.js';
import { createTestApp, eventually } from '../support/test-app.js';

/** The agent registry over real HTTP: registration, heartbeats, health, released locks, and a remote agent taking a topic over. */
describe('agent registry', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let base: string;
  let worker: ReturnType<typeof httpClient>;
  let operator: ReturnType<typeof httpClient>;

  beforeAll(async () => {
    app = await createTestApp({ builtIns: true, env: { REGENFLOW_AGENT_HEARTBEAT_MS: '2500', REGENFLOW_WORKER_RETRY_MS: '100' } });
    const port = await app.listen();
    base = `http://127.0.0.1:${port}`;
    worker = httpClient(base, TEST_TOKENS.worker);
    operator = httpClient(base, TEST_TOKENS.operator);
    await app.engine.deploy([
      { name: 'silent.bpmn', xml: sequence('agents_silent', [{ id: 'work', xml: '<bpmn:serviceTask id="work" camunda:type="external" camunda:topic="agents.silent" />' }]) },
      { name: 'review.bpmn', xml: sequence('agents_review', [{ id: 'review', xml: '<bpmn:serviceTask id="review" camunda:type="external" camunda:topic="agent.review" />' }]) },
    ]);
  });
  afterAll(async () => {
    await app.dispose();
  });

  it('when the server starts, then its built-in worker is listed as a healthy agent with the built-in topics', async () => {
    const agents = (await operator('GET', '/api/agents')).body as Array<{ name: string; kind: string; healthy: boolean; topics: string[] }>;
    const builtIn = agents.find((agent) => agent.kind === 'built-in');
    expect(builtIn).toMatchObject({ healthy: true, topics: expect.arrayContaining(['agent.execute', 'validator.unit', 'generator.models']) });
  });

  it('when a registration is malformed, then the answer is a 400 problem naming the field', async () => {
    const response = await fetch(`${base}/api/agents`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_TOKENS.worker}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'bad name!', topics: [] }),
    });
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await response.text()).toMatch(/name|topics/);
    expect((await operator('POST', '/api/agents', { name: 'x', topics: ['t'] })).status).toBe(403);
  });

  it('when an agent holding a task stops fetching, then it turns unhealthy and its task is released to others', async () => {
    const registered = await worker('POST', '/api/agents', { name: 'silent-agent', topics: ['agents.silent'], capacity: 1 });
    expect(registered).toMatchObject({ status: 201, body: { name: 'silent-agent', healthy: true, work: [] } });
    const instance = await app.engine.start({ processKey: 'agents_silent' });
    const locked = await worker('POST', '/engine-rest/external-task/fetchAndLock', { workerId: 'silent-agent', maxTasks: 1, topics: [{ topicName: 'agents.silent', lockDuration: 600_000 }] });
    expect(locked.body).toHaveLength(1);
    expect((await operator('GET', '/api/agents/silent-agent')).body).toMatchObject({ healthy: true, work: [{ topic: 'agents.silent', instanceId: instance.id, activityId: 'work' }] });

    // The lock would hold for ten minutes; the missing heartbeats end it after 2.5 s.
    const released = await eventually(async () => {
      const agent = (await operator('GET', '/api/agents/silent-agent')).body;
      return agent.releasedAt && agent;
    }, 8000);
    expect(released).toMatchObject({ healthy: false, work: [] });
    const again = await worker('POST', '/engine-rest/external-task/fetchAndLock', { workerId: 'another-agent', maxTasks: 1, topics: [{ topicName: 'agents.silent', lockDuration: 10_000 }] });
    expect(again.body).toMatchObject([{ id: locked.body[0].id, workerId: 'another-agent' }]);
    await worker('POST', `/engine-rest/external-task/${locked.body[0].id}/complete`, { workerId: 'another-agent' });
    expect((await app.engine.getInstance(instance.id)).status).toBe('completed');
  });

  describe('a remote agent written with camunda-external-task-client-js', () => {
    let remote: ChildProcess;
    const output: string[] = [];

    beforeAll(async () => {
      remote = spawn(process.execPath, [join(repositoryRoot, 'test/support/camunda-agent.mjs'), base, TEST_TOKENS.worker, 'remote-reviewer'], { stdio: ['ignore', 'pipe', 'pipe'] });
      remote.stdout?.on('data', (chunk: Buffer) => output.push(...chunk.toString().trim().split('\n')));
      remote.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
      await eventually(async () => output.includes('subscribed'));
    });
    afterAll(async () => {
      await killServerProcess(remote);
    });

    it('when it registers for a topic, then it serves that topic instead of the built-in worker, and loses it when it goes silent', async () => {
      expect(app.agents.takenOver('agent.review')).toBe(true);
      const instance = await app.engine.start({ processKey: 'agents_review', variables: { reviewRound: 1 } });
      const done = await eventually(async () => {
        const row = await app.engine.getInstance(instance.id);
        return row.status === 'completed' && row;
      });
      // The built-in reviewer would have refused this instance (no repository): the remote one did the work.
      expect(done.variables).toMatchObject({ reviewedBy: 'remote-reviewer', quality: 0.95, reviewRound: 2, review: { notes: ['reviewed remotely'] } });
      expect(await app.database.knex('incidents').where({ instance_id: instance.id })).toHaveLength(0);

      await killServerProcess(remote);
      await eventually(async () => !app.agents.takenOver('agent.review'), 8000);
      const agents = (await operator('GET', '/api/agents')).body as Array<{ name: string; healthy: boolean }>;
      expect(agents.find((agent) => agent.name === 'remote-reviewer')).toMatchObject({ healthy: false });
    });
  });
});
