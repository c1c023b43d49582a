import { httpClient, TEST_TOKENS } from '../support/server-process.js';

const admin = { authorization: `Bearer ${TEST_TOKENS.admin}` };
import { bpmn, sequence } from '../support/bpmn.js';
import { createTestApp } from '../support/test-app.js';

/** The REST layer over real HTTP: validation, problem+json, and the Camunda 7 external-task API. */
describe('HTTP API', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let call: ReturnType<typeof httpClient>;
  let base: string;

  beforeAll(async () => {
    app = await createTestApp();
    const port = await app.listen();
    base = `http://127.0.0.1:${port}`;
    call = httpClient(base);
    const remote = sequence('http_remote', [{ id: 'work', xml: '<bpmn:serviceTask id="work" camunda:type="external" camunda:topic="http.work" />' }]);
    const deployed = await fetch(`${base}/api/deployments?name=remote.bpmn`, { method: 'POST', headers: { ...admin, 'content-type': 'application/xml' }, body: remote });
    expect(deployed.status).toBe(201);
  });
  afterAll(async () => {
    await app.dispose();
  });

  it('when a broken diagram is uploaded, then the 400 problem names the element and rule and nothing is stored', async () => {
    const broken = bpmn('http_broken', '<bpmn:startEvent id="start" /><bpmn:task id="orphan" />');
    const response = await fetch(`${base}/api/deployments`, { method: 'POST', headers: { ...admin, 'content-type': 'application/xml' }, body: broken });
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const problem = (await response.json()) as Record<string, unknown>;
    expect(problem).toMatchObject({ status: 400, code: 'INVALID_DEFINITION', detail: expect.stringContaining('orphan') });
    expect((await call('GET', '/api/process-definitions?key=http_broken')).body).toEqual([]);
  });

  it('when input is malformed or of the wrong type, then the answer is a 400 problem naming the field', async () => {
    const malformed = await fetch(`${base}/api/process-instances`, { method: 'POST', headers: { ...admin, 'content-type': 'application/json' }, body: '{"processKey":' });
    expect(malformed.status).toBe(400);
    expect(malformed.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const wrongType = await call('POST', '/api/process-instances', { processKey: 42 });
    expect(wrongType).toMatchObject({ status: 400, body: { code: 'VALIDATION_FAILED', errors: [{ path: 'processKey' }] } });
    const unknownField = await call('POST', '/api/process-instances', { processKey: 'http_remote', sneaky: true });
    expect(unknownField.status).toBe(400);
    const traversal = await call('GET', '/api/process-instances/..%2F..%2Fetc%2Fpasswd');
    expect(traversal.status).toBe(400);
    const missing = await call('GET', '/api/process-instances/00000000-0000-0000-0000-000000000000');
    expect(missing).toMatchObject({ status: 404, body: { code: 'NOT_FOUND' } });
  });

  it('when a worker long-polls, then fetchAndLock answers as soon as a task is created, as exact application/json', async () => {
    const polling = fetch(`${base}/engine-rest/external-task/fetchAndLock`, {
      method: 'POST',
      headers: { ...admin, 'content-type': 'application/json' },
      body: JSON.stringify({
        workerId: 'http-worker',
        maxTasks: 1,
        asyncResponseTimeout: 10_000,
        topics: [{ topicName: 'http.work', lockDuration: 10_000, variables: ['orderId'] }],
      }),
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const startedAt = Date.now();
    const started = await call('POST', '/api/process-instances', { processKey: 'http_remote', variables: { orderId: 'o-1', secret: 'x' } });
    expect(started.status).toBe(201);
    const response = await polling;
    expect(Date.now() - startedAt).toBeLessThan(5_000);
    expect(response.headers.get('content-type')).toBe('application/json');
    const [task] = (await response.json()) as Array<Record<string, any>>;
    if (!task) throw new Error("no task was fetched");
    expect(task).toMatchObject({
      topicName: 'http.work',
      workerId: 'http-worker',
      processInstanceId: started.body.id,
      variables: { orderId: { value: 'o-1', type: 'String' } },
    });
    expect(task.variables.secret).toBeUndefined();

    const stale = await call('POST', `/engine-rest/external-task/${task.id}/complete`, { workerId: 'someone-else' });
    expect(stale.status).toBe(400);
    const done = await call('POST', `/engine-rest/external-task/${task.id}/complete`, {
      workerId: 'http-worker',
      variables: { total: { value: 12.5, type: 'Double' }, details: { value: '{"a":1}', type: 'Json' } },
    });
    expect(done.status).toBe(204);
    const instance = (await call('GET', `/api/process-instances/${started.body.id}`)).body;
    expect(instance).toMatchObject({ status: 'completed', variables: { orderId: 'o-1', total: 12.5, details: { a: 1 } } });
  });

  it('when a body is larger than its limit, then the answer is a 413 problem and nothing is stored', async () => {
    const bigJson = await fetch(`${base}/api/process-instances`, {
      method: 'POST',
      headers: { ...admin, 'content-type': 'application/json' },
      body: JSON.stringify({ processKey: 'http_remote', variables: { blob: 'x'.repeat(1_100_000) } }),
    });
    expect(bigJson.status).toBe(413);
    expect(await bigJson.json()).toMatchObject({ status: 413, code: 'PAYLOAD_TOO_LARGE' });
    const bigBpmn = await fetch(`${base}/api/deployments?name=huge.bpmn`, {
      method: 'POST',
      headers: { ...admin, 'content-type': 'application/xml' },
      body: `<definitions>${' '.repeat(6 * 1024 * 1024)}</definitions>`,
    });
    expect(bigBpmn.status).toBe(413);
    expect((await call('GET', '/api/process-instances?processKey=http_remote&limit=1000')).body.every((row: { variables: object }) => !('blob' in row.variables))).toBe(true);
  });

  it('when Prometheus scrapes /metrics, then it gets instance counters, active instances and job lag', async () => {
    await call('POST', '/api/process-instances', { processKey: 'http_remote' });
    const response = await fetch(`${base}/metrics`, { headers: admin });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await response.text();
    expect(text).toMatch(/regenflow_instances_started_total\{process_key="http_remote"\} \d+/);
    expect(text).toMatch(/regenflow_active_instances\{process_key="http_remote"\} [1-9]/);
    expect(text).toContain('regenflow_job_lag_seconds');
    expect(text).toContain('regenflow_transition_duration_seconds_bucket');
    expect((await fetch(`${base}/metrics`)).status).toBe(401);
  });

  it('when nothing is there to fetch, then fetchAndLock waits for asyncResponseTimeout and answers an empty list', async () => {
    const startedAt = Date.now();
    const response = await call('POST', '/engine-rest/external-task/fetchAndLock', {
      workerId: 'idle',
      maxTasks: 1,
      asyncResponseTimeout: 300,
      topics: [{ topicName: 'nobody.publishes', lockDuration: 1000 }],
    });
    expect(response).toMatchObject({ status: 200, body: [] });
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(280);
  });

  it('when a process is driven over REST, then tasks, messages and history line up', async () => {
    const xml = sequence('http_flow', [
      { id: 'review', xml: '<bpmn:userTask id="review" camunda:candidateGroups="ops" />' },
      { id: 'paid', xml: '<bpmn:intermediateCatchEvent id="paid"><bpmn:messageEventDefinition messageRef="Paid" /></bpmn:intermediateCatchEvent>' },
    ], '<bpmn:message id="Paid" name="http.paid" />');
    expect((await call('POST', '/api/deployments', { name: 'flow.bpmn', xml })).status).toBe(201);
    const started = await call('POST', '/api/process-instances', { processKey: 'http_flow', businessKey: 'inv-9', variables: { amount: 3 } });
    const [task] = (await call('GET', '/api/tasks?candidateGroup=ops')).body;
    expect(task).toMatchObject({ activityId: 'review', instanceId: started.body.id });
    expect((await call('POST', `/api/tasks/${task.id}/claim`, { userId: 'ana' })).status).toBe(204);
    expect((await call('POST', `/api/tasks/${task.id}/complete`, { variables: { ok: true } })).status).toBe(200);
    const correlated = await call('POST', '/api/messages', { messageName: 'http.paid', businessKey: 'inv-9' });
    expect(correlated.body).toEqual([{ resultType: 'Execution', instanceId: started.body.id }]);
    const history = (await call('GET', `/api/process-instances/${started.body.id}/history`)).body;
    expect(history.filter((row: { event: string }) => row.event === 'end').map((row: { activityId: string }) => row.activityId)).toEqual([
      'start',
      'review',
      'paid',
      'end',
    ]);
  });
});
