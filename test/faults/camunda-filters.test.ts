import { bpmn } from '../support/bpmn.js';
import { httpClient } from '../support/server-process.js';
import { createTestApp } from '../support/test-app.js';

/** Camunda 7 filters: each one filters, and one that is not implemented is a 400, never ignored. */
describe('Camunda 7 query filters', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let call: ReturnType<typeof httpClient>;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    app = await createTestApp();
    call = httpClient(`http://127.0.0.1:${await app.listen()}`);
    const two = (key: string, first: string, second: string) =>
      bpmn(
        key,
        `<bpmn:startEvent id="start" /><bpmn:userTask id="${first}" name="Review ${first}" camunda:candidateGroups="reviewers" /><bpmn:userTask id="${second}" name="Approve" camunda:assignee="ann" />
         <bpmn:endEvent id="end" /><bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="${first}" />
         <bpmn:sequenceFlow id="f2" sourceRef="${first}" targetRef="${second}" /><bpmn:sequenceFlow id="f3" sourceRef="${second}" targetRef="end" />`,
      );
    await app.engine.deploy([{ name: 'orders.bpmn', xml: two('orders', 'check', 'approve') }]);
    await app.engine.deploy([{ name: 'claims.bpmn', xml: two('claims', 'triage', 'settle') }]);
    ids.acme = (await app.engine.start({ processKey: 'orders', businessKey: 'order-acme', variables: { customer: 'acme', amount: 250, vip: true } })).id;
    ids.bolt = (await app.engine.start({ processKey: 'orders', businessKey: 'order-bolt', variables: { customer: 'bolt', amount: 50 } })).id;
    ids.claim = (await app.engine.start({ processKey: 'claims', businessKey: 'claim-1', variables: { customer: 'acme', amount: 1000 } })).id;
    // bolt moves on to "approve"
    const task = await app.database.knex('user_tasks').where({ instance_id: ids.bolt }).first();
    await app.engine.completeUserTask(task.id, {});
  }, 60_000);
  afterAll(async () => {
    await app.dispose();
  });

  const instanceIds = async (query: string) => {
    const list = await call('GET', `/engine-rest/process-instance?${query}`);
    expect(list.status).toBe(200);
    const count = await call('GET', `/engine-rest/process-instance/count?${query}`);
    expect(count.body.count).toBe(list.body.length);
    return (list.body as Array<{ id: string }>).map((row) => row.id).sort();
  };
  const sorted = (...names: string[]) => names.map((name) => ids[name]!).sort();

  it.each([
    ['variables=customer_eq_nobody', []],
    ['variables=customer_eq_acme', ['acme', 'claim']],
    ['variables=customer_eq_acme,amount_gt_500', ['claim']],
    ['variables=amount_lteq_250', ['acme', 'bolt']],
    ['variables=customer_neq_acme', ['bolt']],
    ['variables=customer_like_b%25', ['bolt']],
    ['variables=vip_eq_true', ['acme']],
    ['businessKey=order-bolt', ['bolt']],
    ['businessKeyLike=order-%25', ['acme', 'bolt']],
    ['activityIdIn=approve', ['bolt']],
    ['activityIdIn=check,triage', ['acme', 'claim']],
    ['processDefinitionKeyIn=claims', ['claim']],
    ['processDefinitionKeyNotIn=claims', ['acme', 'bolt']],
    ['processDefinitionKey=orders', ['acme', 'bolt']],
    ['withIncident=true', []],
    ['suspended=true', []],
    ['active=true', ['acme', 'bolt', 'claim']],
  ])('when a client lists instances with %s, then only the matching ones come back', async (query, expected) => {
    expect(await instanceIds(query)).toEqual(sorted(...expected));
  });

  it('when the same filters come as a POST body, then they filter the same', async () => {
    const body = { variables: [{ name: 'customer', operator: 'eq', value: 'acme' }], processDefinitionKeyIn: ['orders'] };
    const list = await call('POST', '/engine-rest/process-instance', body);
    expect(list.status).toBe(200);
    expect(list.body.map((row: { id: string }) => row.id)).toEqual([ids.acme]);
    expect((await call('POST', '/engine-rest/process-instance/count', body)).body).toEqual({ count: 1 });
  });

  it.each([
    ['/engine-rest/process-instance?caseInstanceId=x'],
    ['/engine-rest/process-instance/count?variableNamesIgnoreCase=true'],
    ['/engine-rest/process-instance?variables=customer_is_acme'],
    ['/engine-rest/process-instance?sortBy=startTime&sortOrder=asc'],
    ['/engine-rest/task?taskVariables=a_eq_b'],
    ['/engine-rest/task/count?dueBefore=2026-01-01T00:00:00.000%2B0000'],
    ['/engine-rest/history/process-instance?startedBefore=2026-01-01T00:00:00.000%2B0000'],
    ['/engine-rest/incident?jobDefinitionId=x'],
  ])('when a filter that is not implemented is sent (%s), then the answer is a 400 in the C7 shape', async (path) => {
    const response = await call('GET', path);
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ type: 'InvalidRequestException', code: 0 });
  });

  const taskKeys = async (query: string) => {
    const list = await call('GET', `/engine-rest/task?${query}`);
    expect(list.status).toBe(200);
    expect((await call('GET', `/engine-rest/task/count?${query}`)).body.count).toBe(list.body.length);
    return (list.body as Array<{ processInstanceId: string; taskDefinitionKey: string }>).map((task) => task.taskDefinitionKey).sort();
  };

  it.each([
    ['processVariables=customer_eq_acme', ['check', 'triage']],
    ['processVariables=customer_eq_nobody', []],
    ['taskDefinitionKeyIn=approve,triage', ['approve', 'triage']],
    ['nameLike=Review%25', ['check', 'triage']],
    ['name=Approve', ['approve']],
    ['assignee=ann', ['approve']],
    ['candidateGroup=reviewers', ['check', 'triage']],
    ['processDefinitionKeyIn=claims', ['triage']],
    ['processInstanceBusinessKeyLike=order%25', ['approve', 'check']],
    ['unassigned=true', ['check', 'triage']],
  ])('when a client lists tasks with %s, then only the matching ones come back', async (query, expected) => {
    expect(await taskKeys(query)).toEqual(expected);
  });

  it('sorts by what the client asks', async () => {
    const list = await call('GET', '/engine-rest/process-instance?sortBy=businessKey&sortOrder=desc');
    expect(list.body.map((row: { businessKey: string }) => row.businessKey)).toEqual(['order-bolt', 'order-acme', 'claim-1']);
  });
});
