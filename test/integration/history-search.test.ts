import { sequence } from '../support/bpmn.js';
import { httpClient, TEST_TOKENS } from '../support/server-process.js';
import { createTestApp } from '../support/test-app.js';

/**
 * History search by variable: the native `/api/history/process-instances?variable=` and
 * Camunda 7's `/engine-rest/history/process-instance` `variables` filter (GET and POST), on
 * running and ended instances, with every operator Camunda supports.
 */
describe('history search by variable over HTTP', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let operator: ReturnType<typeof httpClient>;
  let base: string;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    app = await createTestApp();
    base = `http://127.0.0.1:${await app.listen()}`;
    operator = httpClient(base, TEST_TOKENS.operator);
    await app.engine.deploy([{ name: 'order.bpmn', xml: sequence('order', [{ id: 'check', xml: '<bpmn:userTask id="check" />' }]) }]);
    await app.engine.deploy([{ name: 'other.bpmn', xml: sequence('other', [{ id: 'wait', xml: '<bpmn:userTask id="wait" />' }]) }]);
    const start = async (name: string, processKey: string, variables: Record<string, unknown>) => {
      const started = await operator('POST', '/api/process-instances', { processKey, variables });
      expect(started.status).toBe(201);
      ids[name] = started.body.id;
    };
    await start('acme', 'order', { customer: 'acme', amount: 150, vip: true });
    await start('globex', 'order', { customer: 'globex', amount: 50, vip: false });
    await start('acmeCorp', 'order', { customer: 'acme corp', amount: 100, note: 'a,b' });
    await start('textual', 'order', { customer: 'initech', amount: '100' });
    await start('elsewhere', 'other', { customer: 'acme', amount: 150 });
    // globex's order ends: history search sees ended instances too
    const [task] = await app.database.knex('user_tasks').where({ instance_id: ids.globex });
    await app.engine.completeUserTask(task.id);
  });
  afterAll(async () => {
    await app?.dispose();
  });

  const native = async (query: string) => {
    const response = await operator('GET', `/api/history/process-instances?${query}`);
    expect(response.status).toBe(200);
    return (response.body as Array<{ id: string }>).map((row) => Object.entries(ids).find(([, id]) => id === row.id)![0]).sort();
  };

  it('when instances are searched by a variable with each operator, then exactly the matching ones come back, running or ended', async () => {
    expect(await native('variable=customer_eq_acme')).toEqual(['acme', 'elsewhere']);
    expect(await native('variable=customer_eq_acme&processKey=order')).toEqual(['acme']);
    // A GET value is text: eq matches the text or the number it spells, as Camunda 7 does.
    expect(await native('variable=amount_eq_100')).toEqual(['acmeCorp', 'textual']);
    expect(await native('variable=vip_eq_true')).toEqual(['acme']);
    expect(await native('variable=customer_neq_acme')).toEqual(['acmeCorp', 'globex', 'textual']);
    expect(await native('variable=amount_gt_100')).toEqual(['acme', 'elsewhere']);
    expect(await native('variable=amount_gteq_100')).toEqual(['acme', 'acmeCorp', 'elsewhere']);
    expect(await native('variable=amount_lt_100')).toEqual(['globex']);
    expect(await native('variable=amount_lteq_100')).toEqual(['acmeCorp', 'globex']);
    expect(await native(`variable=${encodeURIComponent('customer_like_acme%')}`)).toEqual(['acme', 'acmeCorp', 'elsewhere']);
    // Conditions add up; a value may hold commas in the native form.
    expect(await native('variable=customer_like_acme%25&variable=amount_lt_150')).toEqual(['acmeCorp']);
    expect(await native(`variable=${encodeURIComponent('note_eq_a,b')}`)).toEqual(['acmeCorp']);
    expect(await native('variable=customer_eq_globex&finished=true')).toEqual(['globex']);
    expect(await native('variable=customer_eq_globex&finished=false')).toEqual([]);
    // A name with underscores: the operator is the last _op_ that parses.
    expect(await native('variable=no_such_name_eq_1')).toEqual([]);

    const page = await operator('GET', '/api/history/process-instances?variable=customer_like_acme%25&limit=1');
    expect(page.body).toHaveLength(1);
    const counted = await fetch(`${base}/api/history/process-instances?variable=customer_like_acme%25&limit=1`, { headers: { authorization: `Bearer ${TEST_TOKENS.operator}` } });
    expect(counted.headers.get('x-total-count')).toBe('3');
    // The entries are the instance list's: name, incidents, end event, duration.
    const [ended] = (await operator('GET', '/api/history/process-instances?variable=customer_eq_globex')).body;
    expect(ended).toMatchObject({ status: 'completed', openIncidents: 0, endActivityId: 'end', variables: { customer: 'globex' } });
    expect(ended.durationMs).toEqual(expect.any(Number));
  });

  it('when a filter is careless or hostile, then it is a 400 problem or matches nothing, never an error', async () => {
    for (const query of ['variable=customer', 'variable=customer_is_acme', 'variable=', 'variables=customer_eq_acme', 'finished=maybe']) {
      const response = await fetch(`${base}/api/history/process-instances?${query}`, { headers: { authorization: `Bearer ${TEST_TOKENS.operator}` } });
      expect(response.status).toBe(400);
      expect(response.headers.get('content-type')).toMatch(/application\/problem\+json/);
    }
    expect(await native(`variable=${encodeURIComponent("a'); drop table process_instances; --_eq_1")}`)).toEqual([]);
    expect(await native('variable=__proto___eq_x')).toEqual([]);
    expect(await native('variable=constructor_eq_x')).toEqual([]);
    expect(await native(`variable=${encodeURIComponent('amount_gt_abc')}`)).toEqual([]);
    expect(await native(`variable=${encodeURIComponent('customer_like_%')}`)).toEqual(['acme', 'acmeCorp', 'elsewhere', 'globex', 'textual']);
    expect((await app.database.knex('process_instances').count('* as n').first())!.n).toBeDefined();
  });

  it("when Camunda 7's history query filters by variables (GET and POST), then it answers the same instances", async () => {
    const c7 = async (method: 'GET' | 'POST', path: string, body?: unknown) => {
      const response = await operator(method, `/engine-rest/history/process-instance${path}`, body);
      expect(response.status).toBe(200);
      return response.body;
    };
    const names = (rows: Array<{ id: string }>) => rows.map((row) => Object.entries(ids).find(([, id]) => id === row.id)![0]).sort();
    expect(names(await c7('GET', '?variables=customer_eq_acme,amount_gt_100&processDefinitionKey=order'))).toEqual(['acme']);
    expect(await c7('GET', '/count?variables=customer_like_acme%25')).toEqual({ count: 3 });
    expect(names(await c7('POST', '', { variables: [{ name: 'amount', operator: 'gteq', value: 100 }], unfinished: true }))).toEqual(['acme', 'acmeCorp', 'elsewhere']);
    // A typed POST value is that type: the number 100 is not the text "100".
    expect(names(await c7('POST', '', { variables: [{ name: 'amount', operator: 'eq', value: 100 }] }))).toEqual(['acmeCorp']);
    expect(names(await c7('POST', '?maxResults=1', { variables: [{ name: 'customer', operator: 'eq', value: 'acme' }] }))).toHaveLength(1);
    expect(await c7('POST', '/count', { variables: [{ name: 'customer', operator: 'neq', value: 'acme' }], finished: true })).toEqual({ count: 1 });
    const [row] = await c7('POST', '', { processInstanceIds: [ids.globex], variables: [{ name: 'vip', operator: 'eq', value: false }] });
    expect(row).toMatchObject({ id: ids.globex, state: 'COMPLETED', processDefinitionKey: 'order' });

    const refused = await operator('POST', '/engine-rest/history/process-instance', { variables: [{ name: 'amount', operator: 'between', value: 1 }] });
    expect(refused.status).toBe(400);
    expect((await operator('POST', '/engine-rest/history/process-instance', { nosuchFilter: true })).status).toBe(400);
    expect((await operator('GET', '/engine-rest/history/process-instance?variables=amount')).status).toBe(400);
  });

  it('when instances are searched by variable equality, then the query can use the GIN index on instance variables', async () => {
    const plan = await app.database.knex.transaction(async (trx) => {
      await trx.raw('set local enable_seqscan = off');
      const explained = await trx.raw('explain select id from process_instances where process_instances.variables @> ?::jsonb', [JSON.stringify({ customer: 'acme' })]);
      return (explained.rows as Array<Record<string, string>>).map((row) => Object.values(row)[0]).join('\n');
    });
    expect(plan).toContain('process_instances_variables');
  });
});
