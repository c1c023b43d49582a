import { bpmn, sequence } from '../support/bpmn.js';
import { TEST_TOKENS } from '../support/server-process.js';
import { createTestApp } from '../support/test-app.js';

/** A retry after a lost answer, with the same Idempotency-Key, does not act twice. */
describe('Idempotency-Key', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let base: string;
  beforeAll(async () => {
    app = await createTestApp();
    base = `http://127.0.0.1:${await app.listen()}`;
    await app.engine.deploy([{ name: 'i.bpmn', xml: sequence('idem', [{ id: 'review', xml: '<bpmn:userTask id="review" />' }]) }]);
    await app.engine.deploy([
      {
        name: 'm.bpmn',
        xml: bpmn(
          'idem_msg',
          `<bpmn:startEvent id="s" /><bpmn:receiveTask id="wait" messageRef="go" /><bpmn:endEvent id="e" />
           <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="wait" /><bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="e" />`,
          '<bpmn:message id="go" name="go" />',
        ),
      },
    ]);
  });
  afterAll(async () => {
    await app.dispose();
  });
  beforeAll(async () => {
    await app.engine.deploy([
      {
        name: 's.bpmn',
        xml: sequence('idem_sig', [{ id: 'wait', xml: '<bpmn:intermediateCatchEvent id="wait"><bpmn:signalEventDefinition signalRef="sig" /></bpmn:intermediateCatchEvent>' }, { id: 'after', xml: '<bpmn:userTask id="after" />' }], '<bpmn:signal id="sig" name="idem-go" />'),
      },
    ]);
  });
  const send = async (method: string, path: string, key?: string) => {
    const response = await fetch(`${base}${path}`, { method, headers: { authorization: `Bearer ${TEST_TOKENS.admin}`, ...(key ? { 'idempotency-key': key } : {}) } });
    return { status: response.status, replayed: response.headers.get('idempotent-replayed') };
  };
  const waiting = async (instanceId: string) => Number((await app.database.knex('subscriptions').where({ instance_id: instanceId, kind: 'signal' }).count({ n: '*' }))[0]!.n);
  const post = async (path: string, body: unknown, key?: string) => {
    const response = await fetch(`${base}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_TOKENS.admin}`, 'content-type': 'application/json', ...(key ? { 'idempotency-key': key } : {}) },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, replayed: response.headers.get('idempotent-replayed'), body: text ? JSON.parse(text) : null };
  };
  const count = async (processKey: string) => Number((await app.database.knex('process_instances').where({ process_key: processKey }).count({ n: '*' }))[0]!.n);

  it('when a start is retried with the same key, then it answers the first instance and starts no second one', async () => {
    const first = await post('/api/process-instances', { processKey: 'idem', businessKey: 'a' }, 'start-1');
    const retry = await post('/api/process-instances', { processKey: 'idem', businessKey: 'a' }, 'start-1');
    expect(first.status).toBe(201);
    expect(retry).toMatchObject({ status: 201, replayed: 'true' });
    expect(retry.body.id).toBe(first.body.id);
    expect(await count('idem')).toBe(1);
  });

  it('when the same key is sent by concurrent retries, then one instance starts and all answer it', async () => {
    const before = await count('idem');
    const results = await Promise.all(Array.from({ length: 8 }, () => post('/api/process-instances', { processKey: 'idem' }, 'start-burst')));
    expect(results.map((result) => result.status)).toEqual(Array(8).fill(201));
    expect(new Set(results.map((result) => result.body.id)).size).toBe(1);
    expect(await count('idem')).toBe(before + 1);
  });

  it('when a key is reused for another target, then it is a 422', async () => {
    const reused = await post('/api/process-instances', { processKey: 'idem_msg' }, 'start-1');
    expect(reused.status).toBe(422);
  });

  it('when a task completion is retried with its key, then the retry answers like the first instead of 404/409', async () => {
    const started = await post('/api/process-instances', { processKey: 'idem' });
    const task = await app.database.knex('user_tasks').where({ instance_id: started.body.id }).first();
    const first = await post(`/api/tasks/${task.id}/complete`, { variables: { ok: true } }, 'complete-1');
    const retry = await post(`/api/tasks/${task.id}/complete`, { variables: { ok: true } }, 'complete-1');
    expect(first.status).toBe(200);
    expect(retry).toMatchObject({ status: 200, replayed: 'true' });
    expect(retry.body.id).toBe(started.body.id);
    // Without a key the same retry is refused: the task is gone.
    expect((await post(`/api/tasks/${task.id}/complete`, { variables: {} })).status).toBe(404);
  });

  it('when a correlation is retried with its key, then it is not delivered twice nor refused', async () => {
    const started = await post('/api/process-instances', { processKey: 'idem_msg', businessKey: 'm-1' });
    const first = await post('/api/messages', { messageName: 'go', businessKey: 'm-1' }, 'correlate-1');
    const retry = await post('/api/messages', { messageName: 'go', businessKey: 'm-1' }, 'correlate-1');
    expect(first.status).toBe(200);
    expect(retry).toMatchObject({ status: 200, replayed: 'true', body: [{ resultType: 'Execution', instanceId: started.body.id }] });
  });

  it('when a Camunda 7 start is retried with its key, then it answers the same instance', async () => {
    const before = await count('idem');
    const first = await post('/engine-rest/process-definition/key/idem/start', {}, 'c7-start');
    const retry = await post('/engine-rest/process-definition/key/idem/start', {}, 'c7-start');
    expect(first.status).toBe(200);
    expect(retry.body.id).toBe(first.body.id);
    expect(await count('idem')).toBe(before + 1);
  });

  it('when a start is retried after the instance moved on, then the retry answers what the first answered, not the instance as it is now', async () => {
    const first = await post('/api/process-instances', { processKey: 'idem', businessKey: 'moved' }, 'start-moved');
    const task = await app.database.knex('user_tasks').where({ instance_id: first.body.id }).first();
    expect((await post(`/api/tasks/${task.id}/complete`, { variables: { done: 1 } })).status).toBe(200);
    const retry = await post('/api/process-instances', { processKey: 'idem', businessKey: 'moved' }, 'start-moved');
    expect(retry).toMatchObject({ status: 201, replayed: 'true' });
    expect(retry.body).toEqual(first.body);
    expect(first.body.status).toBe('active');
  });

  it('when a cancel is retried with its key, then the retry answers 204 like the first instead of 409', async () => {
    const started = await post('/api/process-instances', { processKey: 'idem' });
    expect(await send('DELETE', `/api/process-instances/${started.body.id}`, 'cancel-1')).toEqual({ status: 204, replayed: null });
    expect(await send('DELETE', `/api/process-instances/${started.body.id}`, 'cancel-1')).toEqual({ status: 204, replayed: 'true' });
    expect((await send('DELETE', `/api/process-instances/${started.body.id}`)).status).toBe(409);
    // The same action through Camunda 7's route, with the same key: the same answer.
    expect(await send('DELETE', `/engine-rest/process-instance/${started.body.id}`, 'cancel-1')).toEqual({ status: 204, replayed: 'true' });
  });

  it('when a signal is retried with its key, then it is not broadcast again to instances that wait by then', async () => {
    const early = await post('/api/process-instances', { processKey: 'idem_sig' });
    const first = await post('/api/signals', { name: 'idem-go' }, 'signal-1');
    expect(first).toMatchObject({ status: 200, body: { delivered: 1 } });
    const late = await post('/api/process-instances', { processKey: 'idem_sig' });
    const retry = await post('/api/signals', { name: 'idem-go' }, 'signal-1');
    expect(retry).toMatchObject({ status: 200, replayed: 'true', body: first.body });
    expect(await waiting(early.body.id)).toBe(0);
    expect(await waiting(late.body.id)).toBe(1);
    // Camunda 7's signal route too, and a broadcast that reached nobody keeps its key as well.
    expect((await post('/engine-rest/signal', { name: 'idem-nobody' }, 'c7-signal')).status).toBe(204);
    expect(await post('/engine-rest/signal', { name: 'idem-go' }, 'c7-signal')).toMatchObject({ status: 422 });
    expect(await post('/engine-rest/signal', { name: 'idem-nobody' }, 'c7-signal')).toMatchObject({ status: 204, replayed: 'true' });
    expect(await waiting(late.body.id)).toBe(1);
  });

  it('when the key is not visible ASCII, then it is a 400', async () => {
    expect((await post('/api/process-instances', { processKey: 'idem' }, 'x'.repeat(201))).status).toBe(400);
  });
});
