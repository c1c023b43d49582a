import { request } from 'node:http';
import { nativeRoutes } from '../../src/api/native-router.js';
import { sequence } from '../support/bpmn.js';
import { TEST_TOKENS } from '../support/server-process.js';
import { createTestApp } from '../support/test-app.js';

/** Careless and hostile request data: 4xx answers, never a 200 that did something odd or a 500. */
describe('hostile request data', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let base: string;
  beforeAll(async () => {
    app = await createTestApp();
    base = `http://127.0.0.1:${await app.listen()}`;
    await app.engine.deploy([{ name: 'h.bpmn', xml: sequence('hostile', [{ id: 'wait', xml: '<bpmn:userTask id="wait" />' }]) }]);
  });
  afterAll(async () => {
    await app.dispose();
  });
  const send = (method: string, path: string, body?: string, token: string = TEST_TOKENS.admin) =>
    fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body,
    });
  const startWith = (variables: string) => send('POST', '/api/process-instances', `{"processKey":"hostile","variables":${variables}}`);
  const instanceCount = async () => Number((await app.database.knex('process_instances').count({ n: '*' }))[0]!.n);

  it.each([
    ['a NUL character', '{"note":"a\\u0000b"}', /NUL/],
    ['a lone high surrogate', '{"note":"a\\ud800b"}', /surrogate/],
    ['a lone low surrogate', '{"note":"\\udc00"}', /surrogate/],
    ['a NUL in a name', '{"a\\u0000":1}', /NUL/],
    ['nesting 65 deep', `{"deep":${'['.repeat(65)}${']'.repeat(65)}}`, /deeper than 64/],
    ['nesting 100 deep', `{"deep":${'{"a":'.repeat(100)}1${'}'.repeat(100)}}`, /deeper than 64/],
  ])('when a start carries %s, then it is a 400 and nothing starts', async (_what, variables, says) => {
    const before = await instanceCount();
    const response = await startWith(variables);
    expect(response.status).toBe(400);
    expect(((await response.json()) as { detail: string }).detail).toMatch(says);
    expect(await instanceCount()).toBe(before);
  });

  it('when nesting is exactly at the limit, then the start is accepted', async () => {
    // The body is one level (the start object) plus "variables" plus 62 levels of arrays.
    expect((await startWith(`{"deep":${'['.repeat(62)}${']'.repeat(62)}}`)).status).toBe(201);
  });

  it('when a Camunda 7 Json variable smuggles __proto__, then it is a 400 and nothing is stored', async () => {
    const before = await instanceCount();
    const value = JSON.stringify({ nested: { __proto__: { polluted: true } } }).replace('"nested":{', '"nested":{"__proto__":{"polluted":true},');
    const response = await send('POST', '/engine-rest/process-definition/key/hostile/start', JSON.stringify({ variables: { data: { type: 'Json', value } } }));
    expect(response.status).toBe(400);
    expect(((await response.json()) as { type: string; message: string }).message).toMatch(/__proto__/);
    expect(await instanceCount()).toBe(before);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('when a Camunda 7 Json variable holds a NUL, then it is a 400', async () => {
    const response = await send('POST', '/engine-rest/process-definition/key/hostile/start', JSON.stringify({ variables: { data: { type: 'Json', value: '{"a":"x\\u0000"}' } } }));
    expect(response.status).toBe(400);
  });

  it('when a native multipart deploy carries many parts each under the part limit, then the whole body is refused with 413', async () => {
    const form = new FormData();
    const part = `<!-- ${'x'.repeat(900 * 1024)} -->`;
    for (let index = 0; index < 8; index++) form.append(`file${index}`, new Blob([part], { type: 'application/xml' }), `p${index}.bpmn`);
    const response = await fetch(`${base}/api/deployments`, { method: 'POST', headers: { authorization: `Bearer ${TEST_TOKENS.admin}` }, body: form });
    expect(response.status).toBe(413);
    expect(((await response.json()) as { detail: string }).detail).toMatch(/all parts together/);
  });

  const HOSTILE_IDS = ['..', '../', '%2e%2e%2f', '%2e%2e', '..%2f..%2fetc%2fpasswd', '%00', 'a%00b', 'x'.repeat(65), '%2F', '%E2%80%AE', '%ff'];
  const otherRoutes = [
    'get /engine-rest/process-definition/:id',
    'get /engine-rest/process-definition/:id/xml',
    'post /engine-rest/process-definition/:id/start',
    'get /engine-rest/process-definition/key/:id',
    'get /engine-rest/process-definition/key/:id/xml',
    'post /engine-rest/process-definition/key/:id/start',
    'get /engine-rest/process-instance/:id',
    'get /engine-rest/process-instance/:id/variables',
    'delete /engine-rest/process-instance/:id',
    'get /engine-rest/task/:id',
    'post /engine-rest/task/:id/claim',
    'post /engine-rest/task/:id/unclaim',
    'post /engine-rest/task/:id/complete',
    'post /engine-rest/external-task/:id/complete',
    'post /engine-rest/external-task/:id/failure',
    'post /engine-rest/external-task/:id/bpmnError',
    'post /engine-rest/external-task/:id/extendLock',
    'post /engine-rest/external-task/:id/unlock',
    'post /engine-rest/external-task/:id/lock',
    'get /engine-rest/history/process-instance/:id',
    'get /api/agents/:id',
    'delete /api/agents/:id',
    'get /api/patterns/:id',
    'patch /api/patterns/:id',
    'get /api/validation-runs/:id',
    'delete /api/entropy/monitored/:id',
    'get /api/ui/process-definitions/:id/activity-stats',
  ];

  /** A raw request: fetch would resolve `..` and `%2e%2e` in the path before sending it. */
  const rawStatus = (method: string, path: string, body?: string) =>
    new Promise<number>((resolve, reject) => {
      const url = new URL(base);
      const call = request(
        { host: url.hostname, port: url.port, method, path, headers: { authorization: `Bearer ${TEST_TOKENS.admin}`, ...(body ? { 'content-type': 'application/json' } : {}) } },
        (response) => {
          response.resume();
          response.on('end', () => resolve(response.statusCode ?? 0));
        },
      );
      call.on('error', reject);
      call.end(body);
    });

  it('when any route with an id gets a hostile id, then it answers 400 or 404, never 200 or 500', async () => {
    const table = nativeRoutes(app.engine, { bpmnBytes: 1024 })
      .filter((spec) => spec.path.includes('/:'))
      .map((spec) => `${spec.method} /api${spec.path}`);
    const routes = [...table, ...otherRoutes];
    expect(routes.length).toBeGreaterThan(35);
    const wrong: string[] = [];
    for (const route of routes) {
      const [method, pattern] = route.split(' ') as [string, string];
      for (const id of HOSTILE_IDS) {
        const path = pattern.replace(/:[A-Za-z]+/, id);
        const status = await rawStatus(method.toUpperCase(), path, method === 'get' || method === 'delete' ? undefined : '{}');
        if (![400, 404].includes(status)) wrong.push(`${method.toUpperCase()} ${path} -> ${status}`);
      }
    }
    expect(wrong).toEqual([]);
  });
});
