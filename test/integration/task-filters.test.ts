import { sequence } from '../support/bpmn.js';
import { httpClient, TEST_TOKENS } from '../support/server-process.js';
import { createTestApp } from '../support/test-app.js';

/**
 * Saved task filters over Camunda 7's `/engine-rest/filter`: each token keeps its own, an admin
 * shares some with everyone, and a filter's `list`/`count` select the tasks its query names.
 */
describe('saved task filters over HTTP', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let operator: ReturnType<typeof httpClient>;
  let owner: ReturnType<typeof httpClient>;
  let admin: ReturnType<typeof httpClient>;
  let worker: ReturnType<typeof httpClient>;
  const instances: Record<string, string> = {};

  beforeAll(async () => {
    app = await createTestApp();
    const base = `http://127.0.0.1:${await app.listen()}`;
    operator = httpClient(base, TEST_TOKENS.operator);
    owner = httpClient(base, TEST_TOKENS.owner);
    admin = httpClient(base, TEST_TOKENS.admin);
    worker = httpClient(base, TEST_TOKENS.worker);
    await app.engine.deploy([{ name: 'review.bpmn', xml: sequence('review', [{ id: 'approve', xml: '<bpmn:userTask id="approve" name="Approve order" />' }]) }]);
    await app.engine.deploy([{ name: 'other.bpmn', xml: sequence('other', [{ id: 'look', xml: '<bpmn:userTask id="look" name="Look" />' }]) }]);
    for (const [name, processKey, customer] of [['acme1', 'review', 'acme'], ['acme2', 'review', 'acme'], ['globex', 'review', 'globex'], ['otherAcme', 'other', 'acme']] as const) {
      instances[name] = (await operator('POST', '/api/process-instances', { processKey, variables: { customer } })).body.id;
    }
    const [task] = await app.database.knex('user_tasks').where({ instance_id: instances.acme2 });
    expect((await operator('POST', `/engine-rest/task/${task.id}/claim`, { userId: 'erin' })).status).toBe(204);
  });
  afterAll(async () => {
    await app?.dispose();
  });

  const instancesOf = (tasks: Array<{ processInstanceId: string }>) => tasks.map((task) => Object.entries(instances).find(([, id]) => id === task.processInstanceId)![0]).sort();

  it('when a token saves a filter, then only it sees the filter, and list and count select the tasks its query names', async () => {
    // Given an operator's filter: acme's reviews
    const created = await operator('POST', '/engine-rest/filter/create', {
      resourceType: 'Task',
      name: 'Acme reviews',
      query: { processDefinitionKey: 'review', processVariables: [{ name: 'customer', operator: 'eq', value: 'acme' }], assignee: null },
      properties: { priority: 1, color: '#b00', description: 'orders of acme' },
    });
    expect(created.status).toBe(200);
    expect(created.body).toMatchObject({ id: expect.any(String), resourceType: 'Task', name: 'Acme reviews', owner: expect.stringMatching(/^operator:/), properties: { priority: 1 } });
    // The nulls a C7 client sends for unset fields are not stored as filters.
    expect(created.body.query).toEqual({ processDefinitionKey: 'review', processVariables: [{ name: 'customer', operator: 'eq', value: 'acme' }] });
    const id = created.body.id as string;

    // Then its tasks are acme's reviews, and a POST body extends the query
    expect(instancesOf((await operator('GET', `/engine-rest/filter/${id}/list`)).body)).toEqual(['acme1', 'acme2']);
    expect((await operator('GET', `/engine-rest/filter/${id}/count`)).body).toEqual({ count: 2 });
    expect(instancesOf((await operator('POST', `/engine-rest/filter/${id}/list`, { assignee: 'erin' })).body)).toEqual(['acme2']);
    expect((await operator('POST', `/engine-rest/filter/${id}/count`, { unassigned: true })).body).toEqual({ count: 1 });
    expect((await operator('GET', `/engine-rest/filter/${id}/list?maxResults=1`)).body).toHaveLength(1);
    expect((await operator('GET', `/engine-rest/filter/${id}?itemCount=true`)).body).toMatchObject({ name: 'Acme reviews', itemCount: 2 });
    expect((await operator('GET', '/engine-rest/filter?resourceType=Task')).body.map((filter: { name: string }) => filter.name)).toEqual(['Acme reviews']);

    // And another token neither sees nor touches it
    expect((await owner('GET', '/engine-rest/filter')).body).toEqual([]);
    expect((await owner('GET', '/engine-rest/filter/count')).body).toEqual({ count: 0 });
    for (const [method, path] of [['GET', `/engine-rest/filter/${id}`], ['GET', `/engine-rest/filter/${id}/list`], ['DELETE', `/engine-rest/filter/${id}`]] as const) {
      expect((await owner(method, path)).status).toBe(404);
    }
    expect((await owner('PUT', `/engine-rest/filter/${id}`, { resourceType: 'Task', name: 'mine now', query: {} })).status).toBe(404);

    // When its owner updates it, the new query counts
    const updated = await operator('PUT', `/engine-rest/filter/${id}`, { ...created.body, name: 'Acme reviews (unassigned)', query: { ...created.body.query, unassigned: true } });
    expect(updated.status).toBe(204);
    expect(instancesOf((await operator('GET', `/engine-rest/filter/${id}/list`)).body)).toEqual(['acme1']);
    expect((await operator('GET', `/engine-rest/filter/${id}`)).body.owner).toBe(created.body.owner);

    // And deleted, it is gone
    expect((await operator('DELETE', `/engine-rest/filter/${id}`)).status).toBe(204);
    expect((await operator('GET', `/engine-rest/filter/${id}`)).status).toBe(404);
  });

  it('when an admin shares a filter (no owner), then every reader sees and uses it, and only an admin changes it', async () => {
    const shared = await admin('POST', '/engine-rest/filter/create', { resourceType: 'Task', name: 'All tasks', owner: null, query: {}, properties: { priority: -10 } });
    expect(shared.body.owner).toBeNull();
    const own = await owner('POST', '/engine-rest/filter/create', { resourceType: 'Task', name: 'Looks', query: { taskDefinitionKey: 'look' } });
    // Ordered by the priority property, then name: the shared one first.
    expect((await owner('GET', '/engine-rest/filter')).body.map((filter: { name: string }) => filter.name)).toEqual(['All tasks', 'Looks']);
    expect((await operator('GET', '/engine-rest/filter')).body.map((filter: { name: string }) => filter.name)).toEqual(['All tasks']);
    expect((await operator('GET', `/engine-rest/filter/${shared.body.id}/count`)).body).toEqual({ count: 4 });
    expect(instancesOf((await owner('GET', `/engine-rest/filter/${own.body.id}/list`)).body)).toEqual(['otherAcme']);
    const refused = await operator('PUT', `/engine-rest/filter/${shared.body.id}`, { resourceType: 'Task', name: 'hijacked', query: {} });
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ type: 'AuthorizationException' });
    expect((await operator('DELETE', `/engine-rest/filter/${shared.body.id}`)).status).toBe(403);
    // The admin sees every filter
    expect((await admin('GET', '/engine-rest/filter/count')).body.count).toBeGreaterThanOrEqual(2);
    await admin('DELETE', `/engine-rest/filter/${shared.body.id}`);
    await owner('DELETE', `/engine-rest/filter/${own.body.id}`);
  });

  it('when a filter is careless or hostile, then saving it is refused with a C7 error, not using it later', async () => {
    const refuse = async (body: unknown, status = 400) => {
      const response = await operator('POST', '/engine-rest/filter/create', body);
      expect(response.status).toBe(status);
      expect(response.body).toMatchObject({ type: expect.any(String), message: expect.any(String) });
      return response.body.message as string;
    };
    expect(await refuse({ resourceType: 'Case', name: 'cases', query: {} })).toContain('resourceType');
    expect(await refuse({ resourceType: 'Task', name: 'typo', query: { asignee: 'erin' } })).toMatch(/asignee|unrecognized/i);
    await refuse({ resourceType: 'Task', name: 'bad op', query: { processVariables: [{ name: 'x', operator: 'between', value: 1 }] } });
    await refuse({ resourceType: 'Task', name: '   ', query: {} });
    await refuse({ resourceType: 'Task', name: 'huge', query: {}, properties: { blob: 'x'.repeat(20_000) } });
    await refuse({ resourceType: 'Task', name: 'proto', query: {}, properties: JSON.parse('{"__proto__": {"polluted": true}}') });
    await refuse({ resourceType: 'Task', name: 'for someone else', owner: 'owner:abcdef', query: {} }, 403);
    await refuse({ resourceType: 'Task', name: 'shared', owner: null, query: {} }, 403);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((await operator('GET', '/engine-rest/filter/not-a-uuid')).status).toBe(400);
    expect((await operator('GET', '/engine-rest/filter?resourceType=Case')).status).toBe(400);
    const created = await operator('POST', '/engine-rest/filter/create', { resourceType: 'Task', name: 'ok', query: {} });
    expect((await operator('POST', `/engine-rest/filter/${created.body.id}/list`, { nosuch: 1 })).status).toBe(400);
    // A worker token reads no tasks, so no filters either.
    expect((await worker('GET', '/engine-rest/filter')).status).toBe(403);
  });
});
