import { sequence } from '../support/bpmn.js';
import { TEST_TOKENS } from '../support/server-process.js';
import { createTestApp } from '../support/test-app.js';

const TABLES = ['deployments', 'process_definitions', 'process_instances', 'user_tasks', 'external_tasks', 'jobs', 'subscriptions', 'incidents', 'history', 'audit_entries'];

/** Hostile and careless input over real HTTP: each a 4xx problem with a clear message, and nothing stored. */
describe('bad input', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let base: string;
  let instanceId: string;
  let taskId: string;

  /** Row counts of every table plus a digest of what requests could change in place. */
  const snapshot = async () => {
    const knex = app.database.knex;
    const counts = await Promise.all(TABLES.map(async (table) => [table, Number((await knex(table).count({ n: '*' }))[0]!.n)]));
    const { rows } = await knex.raw(
      `select md5(coalesce(string_agg(id::text || version || status || variables::text, ',' order by id), '')) as instances,
              (select md5(coalesce(string_agg(id::text || coalesce(assignee, '-'), ',' order by id), '')) from user_tasks) as tasks
         from process_instances`,
    );
    return { counts: Object.fromEntries(counts), ...rows[0] };
  };

  const send = (method: string, path: string, init: { body?: string | FormData; type?: string; token?: string | null } = {}) =>
    fetch(`${base}${path}`, {
      method,
      headers: {
        ...(init.token === null ? {} : { authorization: `Bearer ${init.token ?? TEST_TOKENS.admin}` }),
        ...(init.type ? { 'content-type': init.type } : typeof init.body === 'string' ? { 'content-type': 'application/json' } : {}),
      },
      body: init.body,
    });

  /** A 4xx problem+json whose detail says what is wrong. */
  const expectProblem = async (response: Response, status: number, detail: RegExp, code?: string) => {
    expect(response.status).toBe(status);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const problem = (await response.json()) as { status: number; title: string; detail: string; code: string };
    expect(problem).toMatchObject({ status, title: expect.any(String), ...(code ? { code } : {}) });
    expect(problem.detail).toMatch(detail);
    return problem;
  };

  beforeAll(async () => {
    app = await createTestApp();
    base = `http://127.0.0.1:${await app.listen()}`;
    await app.engine.deploy([{ name: 'bad.bpmn', xml: sequence('bad_flow', [{ id: 'wait', xml: '<bpmn:userTask id="wait" />' }]) }]);
    const row = await app.engine.start({ processKey: 'bad_flow', businessKey: 'b-1', variables: { n: 1 } });
    instanceId = row.id;
    taskId = (await app.database.knex('user_tasks').where({ instance_id: row.id }).first()).id;
  });
  afterAll(async () => {
    await app.dispose();
  });

  let before: Awaited<ReturnType<typeof snapshot>>;
  beforeEach(async () => {
    before = await snapshot();
  });
  afterEach(async () => {
    expect(await snapshot()).toEqual(before);
  });

  it('when the JSON is malformed, then 400 MALFORMED_JSON', async () => {
    await expectProblem(await send('POST', '/api/process-instances', { body: '{"processKey": "bad_flow",' }), 400, /JSON|Unexpected|end/i, 'MALFORMED_JSON');
    await expectProblem(await send('PUT', `/api/process-instances/${instanceId}/variables`, { body: "{'n': 2}" }), 400, /./, 'MALFORMED_JSON');
  });

  it('when fields have the wrong type, then 400 naming each field', async () => {
    const problem = await expectProblem(await send('POST', '/api/process-instances', { body: JSON.stringify({ processKey: 42, variables: [1] }) }), 400, /processKey/, 'VALIDATION_FAILED');
    expect(problem.detail).toMatch(/variables/);
    await expectProblem(await send('POST', `/api/tasks/${taskId}/complete`, { body: JSON.stringify({ variables: 'all of them' }) }), 400, /variables/);
    await expectProblem(await send('POST', `/api/tasks/${taskId}/claim`, { body: JSON.stringify({ userId: ['ana'] }) }), 400, /userId/);
    await expectProblem(await send('PUT', `/api/process-instances/${instanceId}/variables`, { body: '[1,2]' }), 400, /record|object/i);
    await expectProblem(await send('GET', '/api/process-instances?limit=lots'), 400, /limit/);
    await expectProblem(await send('GET', '/api/process-instances?startedAfter=yesterday-ish'), 400, /startedAfter/);
    await expectProblem(await send('POST', '/api/signals', { body: JSON.stringify({ name: '' }) }), 400, /name/);
  });

  it('when a body carries unknown fields, then 400 naming them rather than ignoring them', async () => {
    await expectProblem(await send('POST', '/api/process-instances', { body: JSON.stringify({ processKey: 'bad_flow', procesKey: 'typo' }) }), 400, /procesKey/);
    await expectProblem(await send('POST', `/api/tasks/${taskId}/claim`, { body: JSON.stringify({ userId: 'ana', assignee: 'bob' }) }), 400, /assignee/);
    await expectProblem(await send('POST', '/api/messages', { body: JSON.stringify({ messageName: 'm', businesKey: 'b-1' }) }), 400, /businesKey/);
    await expectProblem(await send('GET', '/api/process-instances?stauts=active'), 400, /stauts/);
  });

  it('when filters look like SQL, then they are values: nothing matches, enums refuse them, tables stay intact', async () => {
    const injected = await send('GET', `/api/process-instances?processKey=${encodeURIComponent("bad_flow' OR '1'='1")}`);
    expect(response200(injected)).toBe(true);
    expect(await injected.json()).toEqual([]);
    const dropped = await send('GET', `/api/process-instances?businessKey=${encodeURIComponent("b-1'; DROP TABLE process_instances; --")}`);
    expect(await dropped.json()).toEqual([]);
    expect(await (await send('GET', `/api/tasks?candidateGroup=${encodeURIComponent("x') OR true --")}`)).json()).toEqual([]);
    await expectProblem(await send('GET', `/api/process-instances?status=${encodeURIComponent("active' OR 1=1 --")}`), 400, /status/);
    await expectProblem(await send('GET', `/api/process-instances?limit=${encodeURIComponent('1; DELETE FROM history')}`), 400, /limit/);
    const c7 = await send('GET', `/engine-rest/process-instance?processDefinitionKey=${encodeURIComponent("bad_flow' --")}`);
    expect(await c7.json()).toEqual([]);
    expect(await app.database.knex('process_instances').where({ id: instanceId })).toHaveLength(1);
  });

  it('when a body has __proto__ or constructor keys, then 400 and no prototype is touched', async () => {
    const polluting = '{"processKey":"bad_flow","variables":{"__proto__":{"polluted":true}}}';
    await expectProblem(await send('POST', '/api/process-instances', { body: polluting }), 400, /__proto__/, 'MALFORMED_JSON');
    await expectProblem(await send('PUT', `/api/process-instances/${instanceId}/variables`, { body: '{"a":{"b":{"__proto__":{"x":1}}}}' }), 400, /__proto__/);
    await expectProblem(await send('PUT', `/api/process-instances/${instanceId}/variables`, { body: '{"constructor":{"prototype":{"x":1}}}' }), 400, /constructor/);
    const typed = await send('POST', '/engine-rest/process-definition/key/bad_flow/start', {
      body: '{"variables":{"__proto__":{"value":{"polluted":true},"type":"Json"}}}',
    });
    expect(typed.status).toBe(400);
    const form = new FormData();
    form.append('__proto__[polluted]', 'yes');
    form.append('file', new Blob(['']), 'empty.bpmn');
    expect((await send('POST', '/api/deployments', { body: form })).status).toBe(400);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((Object.prototype as Record<string, unknown>).x).toBeUndefined();
  });

  it('when bodies are oversize, then 413 for JSON beyond 1 MiB and BPMN beyond 5 MiB, each by its own limit', async () => {
    const bigJson = JSON.stringify({ processKey: 'bad_flow', variables: { blob: 'x'.repeat(1_100_000) } });
    await expectProblem(await send('POST', '/api/process-instances', { body: bigJson }), 413, /large|limit/i, 'PAYLOAD_TOO_LARGE');
    // 2 MiB of BPMN is over the JSON limit but under the BPMN one: it reaches the deploy analysis.
    const midBpmn = `<definitions>${' '.repeat(2 * 1024 * 1024)}</definitions>`;
    const analysed = await send('POST', '/api/deployments?name=mid.bpmn', { body: midBpmn, type: 'application/xml' });
    expect(analysed.status).toBe(400);
    // A refused deploy is an action: the audit log keeps who tried it; nothing else is stored.
    expect(await app.database.knex('audit_entries').where({ target: 'mid.bpmn' }).pluck('result')).toEqual(['INVALID_DEFINITION']);
    before.counts.audit_entries += 1;
    const bigBpmn = `<definitions>${' '.repeat(6 * 1024 * 1024)}</definitions>`;
    await expectProblem(await send('POST', '/api/deployments?name=big.bpmn', { body: bigBpmn, type: 'application/xml' }), 413, /large|limit/i, 'PAYLOAD_TOO_LARGE');
    const form = new FormData();
    form.append('file', new Blob([bigBpmn]), 'big.bpmn');
    await expectProblem(await send('POST', '/api/deployments', { body: form }), 413, /larger than/, 'PAYLOAD_TOO_LARGE');
  });

  it('when ids try path traversal, then 400 before anything is looked up', async () => {
    await expectProblem(await send('GET', '/api/process-instances/..%2F..%2Fetc%2Fpasswd'), 400, /id/);
    await expectProblem(await send('POST', '/api/tasks/..%2F..%2Fetc%2Fpasswd/complete', { body: '{}' }), 400, /id/);
    await expectProblem(await send('GET', '/api/process-definitions/..%2F..%2Fetc%2Fpasswd/xml'), 400, /id/);
    await expectProblem(await send('POST', '/api/jobs/%2E%2E%2F%2E%2E/execute'), 400, /id/);
    await expectProblem(await send('POST', '/api/incidents/..%5C..%5Cboot.ini/resolve'), 400, /id/);
  });

  it('when the token is missing, wrong, or of the wrong role, then 401 or 403 with a clear message', async () => {
    const start = JSON.stringify({ processKey: 'bad_flow' });
    await expectProblem(await send('POST', '/api/process-instances', { body: start, token: null }), 401, /Authorization/, 'UNAUTHENTICATED');
    await expectProblem(await send('POST', '/api/process-instances', { body: start, token: 'owner-test-tokem' }), 401, /not valid/, 'UNAUTHENTICATED');
    await expectProblem(await send('POST', `/api/process-instances?access_token=${TEST_TOKENS.owner}`, { body: start, token: null }), 401, /Authorization/);
    await expectProblem(await send('POST', '/api/process-instances', { body: start, token: TEST_TOKENS.worker }), 403, /worker role may not POST/, 'FORBIDDEN');
    await expectProblem(await send('DELETE', `/api/process-instances/${instanceId}`, { token: TEST_TOKENS.worker }), 403, /worker/);
    await expectProblem(await send('POST', '/api/deployments', { body: JSON.stringify({ xml: '<x/>' }), token: TEST_TOKENS.owner }), 403, /owner/);
    await expectProblem(await send('GET', '/api/audit', { token: TEST_TOKENS.operator }), 403, /operator/);
    await expectProblem(await send('POST', `/api/tasks/${taskId}/claim`, { body: '{"userId":"x"}', token: TEST_TOKENS.alert }), 403, /alert/);
  });
});

function response200(response: Response): boolean {
  return response.status === 200 && response.headers.get('content-type')?.startsWith('application/json') === true;
}
