import { createHash } from 'node:crypto';
import { sequence } from '../support/bpmn.js';
import { httpClient, TEST_TOKENS } from '../support/server-process.js';
import { createTestApp } from '../support/test-app.js';

const actorOf = (role: keyof typeof TEST_TOKENS) => `${role}:${createHash('sha256').update(TEST_TOKENS[role]).digest('hex').slice(0, 12)}`;

/** The append-only audit log: written in the action's transaction, read by admins. */
describe('audit log', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let base: string;
  const as = (role: keyof typeof TEST_TOKENS) => httpClient(base, TEST_TOKENS[role]);
  const entries = async (query = '') => (await as('admin')('GET', `/api/audit?limit=1000${query}`)).body as Array<Record<string, any>>;

  beforeAll(async () => {
    app = await createTestApp();
    base = `http://127.0.0.1:${await app.listen()}`;
  });
  afterAll(async () => {
    await app.dispose();
  });

  it('when roles deploy, start, steer and complete, then each action is recorded with actor, target, result and instance', async () => {
    const xml = sequence('audit_flow', [
      { id: 'review', xml: '<bpmn:userTask id="review" />' },
      { id: 'paid', xml: '<bpmn:intermediateCatchEvent id="paid"><bpmn:messageEventDefinition messageRef="Paid" /></bpmn:intermediateCatchEvent>' },
    ], '<bpmn:message id="Paid" name="audit.paid" />');
    expect((await as('admin')('POST', '/api/deployments', { name: 'audit.bpmn', xml })).status).toBe(201);
    const started = await as('owner')('POST', '/api/process-instances', { processKey: 'audit_flow', businessKey: 'A-1' });
    const id = started.body.id;
    await as('owner')('PUT', `/api/process-instances/${id}/variables`, { level: 2 });
    const [task] = (await as('operator')('GET', `/api/tasks?instanceId=${id}`)).body;
    await as('operator')('POST', `/api/tasks/${task.id}/complete`, { variables: { ok: true } });
    await as('owner')('POST', '/api/messages', { messageName: 'audit.paid', businessKey: 'A-1' });

    const recorded = (await entries(`&instanceId=${id}`)).reverse();
    expect(recorded.map((entry) => [entry.actor, entry.action, entry.target, entry.result])).toEqual([
      [actorOf('owner'), 'instance.start', 'audit_flow', 'ok'],
      [actorOf('owner'), 'instance.set-variables', id, 'ok'],
      [actorOf('operator'), 'task.complete', task.id, 'ok'],
      [actorOf('owner'), 'message.correlate', 'audit.paid', 'ok'],
    ]);
    expect(recorded[0]).toMatchObject({ instanceId: id, details: { businessKey: 'A-1' }, at: expect.any(String) });
    const [deploy] = await entries('&action=deployment.create');
    expect(deploy).toMatchObject({ actor: actorOf('admin'), target: 'audit.bpmn', result: 'ok', details: { definitions: [expect.stringMatching(/^audit_flow:1:/)] } });
    // No token is ever written, only its digest prefix.
    expect(JSON.stringify(await entries())).not.toContain(TEST_TOKENS.owner);
  });

  it('when the engine refuses an action, then the refusal is recorded with its code; invalid input records nothing', async () => {
    const id = (await as('owner')('POST', '/api/process-instances', { processKey: 'audit_flow' })).body.id;
    expect((await as('owner')('DELETE', `/api/process-instances/${id}`)).status).toBe(204);
    expect((await as('owner')('DELETE', `/api/process-instances/${id}`)).status).toBe(409);
    expect((await entries(`&target=${id}&action=instance.cancel`)).map((entry) => entry.result)).toEqual(['INSTANCE_ENDED', 'ok']);

    const before = (await entries()).length;
    expect((await as('owner')('POST', '/api/process-instances', { processKey: 42 })).status).toBe(400);
    expect((await as('worker')('DELETE', `/api/process-instances/${id}`)).status).toBe(403);
    expect((await entries()).length).toBe(before);
  });

  it('when the audit entry cannot be written, then the action itself is rolled back: both share one transaction', async () => {
    const broken = { actor: null as unknown as string, action: 'instance.start', target: 'audit_flow' };
    await expect(app.engine.start({ processKey: 'audit_flow', businessKey: 'never-stored', audit: broken })).rejects.toThrow();
    expect(await app.database.knex('process_instances').where({ business_key: 'never-stored' })).toHaveLength(0);

    const row = await app.engine.start({ processKey: 'audit_flow' });
    await expect(app.engine.cancel(row.id, 'x', { ...broken, action: 'instance.cancel' })).rejects.toThrow();
    expect((await app.engine.getInstance(row.id)).status).toBe('active');
    await expect(app.engine.setVariables(row.id, { lost: true }, { ...broken, action: 'instance.set-variables' })).rejects.toThrow();
    expect((await app.engine.getInstance(row.id)).variables).not.toHaveProperty('lost');
    const [task] = await app.database.knex('user_tasks').where({ instance_id: row.id });
    await expect(app.engine.completeUserTask(task.id, {}, { ...broken, action: 'task.complete' })).rejects.toThrow();
    expect(await app.database.knex('user_tasks').where({ id: task.id })).toHaveLength(1);
  });

  it('when the log is read, then only admins may, pages are newest first, and rows cannot be changed or deleted', async () => {
    expect((await as('owner')('GET', '/api/audit')).status).toBe(403);
    expect((await as('operator')('GET', '/api/audit')).status).toBe(403);
    const response = await fetch(`${base}/api/audit?limit=2&offset=0`, { headers: { authorization: `Bearer ${TEST_TOKENS.admin}` } });
    const total = Number(response.headers.get('x-total-count'));
    const first = (await response.json()) as Array<{ id: string }>;
    const second = (await as('admin')('GET', '/api/audit?limit=2&offset=2')).body as Array<{ id: string }>;
    expect(total).toBeGreaterThan(4);
    const ids = [...first, ...second].map((entry) => Number(entry.id));
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    expect(new Set(ids).size).toBe(4);

    await expect(app.database.knex('audit_entries').update({ result: 'forged' })).rejects.toThrow(/append-only/);
    await expect(app.database.knex('audit_entries').delete()).rejects.toThrow(/append-only/);
    await expect(app.database.knex.raw('truncate audit_entries')).rejects.toThrow(/append-only/);
    expect(Number((await app.database.knex('audit_entries').count({ n: '*' }))[0]!.n)).toBe(total);
  });
});
