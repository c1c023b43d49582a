import { bpmn, sequence } from '../support/bpmn.js';
import { httpClient, TEST_TOKENS } from '../support/server-process.js';
import { createTestApp, eventually } from '../support/test-app.js';

const auth = (role: keyof typeof TEST_TOKENS = 'admin') => ({ authorization: `Bearer ${TEST_TOKENS[role]}` });
const TIMER_HOUR = '<bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition>';

/** The native API over real HTTP: deployments, instances, tasks, incidents and jobs. */
describe('native API', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let base: string;
  let call: ReturnType<typeof httpClient>;

  beforeAll(async () => {
    app = await createTestApp();
    base = `http://127.0.0.1:${await app.listen()}`;
    call = httpClient(base);
  });
  afterAll(async () => {
    await app.dispose();
  });

  it('when diagrams are uploaded as multipart, then each file part is deployed and its XML is served back', async () => {
    const first = sequence('mp_one', [{ id: 'wait', xml: '<bpmn:userTask id="wait" />' }]);
    const second = sequence('mp_two', [{ id: 'work', xml: '<bpmn:userTask id="work" />' }]);
    const form = new FormData();
    form.append('name', 'two diagrams');
    form.append('one', new Blob([first], { type: 'application/octet-stream' }), 'one.bpmn');
    form.append('two', new Blob([second], { type: 'application/octet-stream' }), '../../two.bpmn');
    const response = await fetch(`${base}/api/deployments`, { method: 'POST', headers: auth(), body: form });
    expect(response.status).toBe(201);
    const deployment = (await response.json()) as { name: string; definitions: Array<{ id: string; key: string; version: number; created: boolean }> };
    expect(deployment.name).toBe('two diagrams');
    expect(deployment.definitions.map((definition) => [definition.key, definition.version, definition.created])).toEqual([
      ['mp_one', 1, true],
      ['mp_two', 1, true],
    ]);
    const definitions = (await call('GET', '/api/process-definitions?key=mp_two')).body;
    expect(definitions[0].resourceName).toBe('two.bpmn');

    const xml = await fetch(`${base}/api/process-definitions/${encodeURIComponent(deployment.definitions[0]!.id)}/xml`, { headers: auth('operator') });
    expect(xml.headers.get('content-type')).toMatch(/^application\/xml/);
    expect(await xml.text()).toBe(first);

    const again = new FormData();
    again.append('file', new Blob([first]), 'one.bpmn');
    const unchanged = (await (await fetch(`${base}/api/deployments`, { method: 'POST', headers: auth(), body: again })).json()) as any;
    expect(unchanged.definitions[0]).toMatchObject({ key: 'mp_one', version: 1, created: false });
  });

  it('when a multipart upload is rejected, then the problem carries the lint report naming element and rule, and nothing is stored', async () => {
    const good = sequence('mp_good', [{ id: 'wait', xml: '<bpmn:userTask id="wait" />' }]);
    const broken = bpmn('mp_broken', '<bpmn:startEvent id="start" /><bpmn:task id="orphan" />');
    const form = new FormData();
    form.append('a', new Blob([good]), 'good.bpmn');
    form.append('b', new Blob([broken]), 'broken.bpmn');
    const response = await fetch(`${base}/api/deployments`, { method: 'POST', headers: auth(), body: form });
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const problem = (await response.json()) as any;
    expect(problem).toMatchObject({ code: 'INVALID_DEFINITION', details: { resource: 'broken.bpmn' } });
    expect(problem.details.errors).toEqual(expect.arrayContaining([expect.objectContaining({ elementId: 'orphan', rule: expect.any(String), message: expect.any(String) })]));
    expect(Array.isArray(problem.details.warnings)).toBe(true);
    // All or nothing: the good file of the same upload is not deployed either.
    expect((await call('GET', '/api/process-definitions?key=mp_good')).body).toEqual([]);
  });

  it('when a diagram is linted, then the report lists what a deploy would say and nothing is stored; a version keeps its warnings', async () => {
    const broken = bpmn('lint_broken', '<bpmn:startEvent id="start" /><bpmn:task id="orphan" />');
    const lint = await fetch(`${base}/api/deployments/lint?name=broken.bpmn`, { method: 'POST', headers: { ...auth('owner'), 'content-type': 'application/xml' }, body: broken });
    expect(lint.status).toBe(200);
    const report = (await lint.json()) as any;
    expect(report).toMatchObject({ resource: 'broken.bpmn', ok: false });
    expect(report.errors).toEqual(expect.arrayContaining([expect.objectContaining({ elementId: 'orphan', rule: expect.any(String) })]));
    expect((await call('GET', '/api/process-definitions?key=lint_broken')).body).toEqual([]);
    expect((await httpClient(base, TEST_TOKENS.operator)('POST', '/api/deployments/lint', { xml: broken })).status).toBe(403);

    const good = sequence('lint_good', [{ id: 'work', xml: '<bpmn:serviceTask id="work" />' }]);
    expect((await call('POST', '/api/deployments/lint', { name: 'good.bpmn', xml: good })).body).toMatchObject({ ok: true, errors: [], executableProcessIds: ['lint_good'] });
    const [deployed] = (await call('POST', '/api/deployments', { name: 'good.bpmn', xml: good })).body.definitions;
    const version = await call('GET', `/api/process-definitions/${encodeURIComponent(deployed.id)}`);
    expect(version.body).toMatchObject({ id: deployed.id, key: 'lint_good', version: 1, report: { warnings: deployed.warnings } });
    expect(version.body).not.toHaveProperty('xml');
    expect(deployed.warnings.length).toBeGreaterThan(0);
  });

  it('when instances are listed with filters and pages, then the pages partition the matches and X-Total-Count counts them', async () => {
    await app.engine.deploy([{ name: 'list.bpmn', xml: sequence('list_flow', [{ id: 'wait', xml: '<bpmn:userTask id="wait" />' }]) }]);
    const before = new Date();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await call('POST', '/api/process-instances', { processKey: 'list_flow', businessKey: i < 3 ? 'group-a' : 'group-b' })).body.id);
    await call('DELETE', `/api/process-instances/${ids[0]}?reason=test`);

    const page1 = await fetch(`${base}/api/process-instances?processKey=list_flow&status=active&limit=2&offset=0`, { headers: auth('operator') });
    expect(page1.headers.get('x-total-count')).toBe('4');
    const page2 = await call('GET', '/api/process-instances?processKey=list_flow&status=active&limit=2&offset=2');
    const page3 = await call('GET', '/api/process-instances?processKey=list_flow&status=active&limit=2&offset=4');
    const seen = [...((await page1.json()) as Array<{ id: string }>), ...page2.body].map((row: { id: string }) => row.id);
    expect(new Set(seen)).toEqual(new Set(ids.slice(1)));
    expect(page3.body).toEqual([]);

    expect((await call('GET', '/api/process-instances?processKey=list_flow&businessKey=group-a')).body).toHaveLength(3);
    expect((await call('GET', '/api/process-instances?processKey=list_flow&status=cancelled')).body.map((row: { id: string }) => row.id)).toEqual([ids[0]]);
    expect((await call('GET', `/api/process-instances?processKey=list_flow&startedAfter=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`)).body).toEqual([]);
    expect((await call('GET', `/api/process-instances?processKey=list_flow&startedBefore=${encodeURIComponent(before.toISOString())}`)).body).toEqual([]);
  });

  it('when an instance is inspected, steered and cancelled, then detail, variables and history follow', async () => {
    const xml = bpmn(
      'steer_flow',
      `<bpmn:startEvent id="start" />
      <bpmn:parallelGateway id="fork" />
      <bpmn:userTask id="approve" camunda:candidateGroups="ops" />
      <bpmn:intermediateCatchEvent id="later">${TIMER_HOUR}</bpmn:intermediateCatchEvent>
      <bpmn:parallelGateway id="join" />
      <bpmn:endEvent id="end" />
      <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="fork" />
      <bpmn:sequenceFlow id="f2" sourceRef="fork" targetRef="approve" />
      <bpmn:sequenceFlow id="f3" sourceRef="fork" targetRef="later" />
      <bpmn:sequenceFlow id="f4" sourceRef="approve" targetRef="join" />
      <bpmn:sequenceFlow id="f5" sourceRef="later" targetRef="join" />
      <bpmn:sequenceFlow id="f6" sourceRef="join" targetRef="end" />`,
    );
    expect((await call('POST', '/api/deployments', { name: 'steer.bpmn', xml })).status).toBe(201);
    const started = await call('POST', '/api/process-instances', { processKey: 'steer_flow', variables: { amount: 10 } });
    expect(started.status).toBe(201);
    const id = started.body.id;

    const detail = await call('GET', `/api/process-instances/${id}`);
    expect(detail.body).toMatchObject({ status: 'active', variables: { amount: 10 }, incidents: [] });
    expect(detail.body.activeActivities.sort()).toEqual(['approve', 'later']);

    const changed = await call('PUT', `/api/process-instances/${id}/variables`, { amount: 12, note: 'checked' });
    expect(changed).toMatchObject({ status: 200, body: { variables: { amount: 12, note: 'checked' } } });

    const [task] = (await call('GET', `/api/tasks?instanceId=${id}&candidateGroup=ops`)).body;
    expect((await call('POST', `/api/tasks/${task.id}/claim`, { userId: 'ana' })).status).toBe(204);
    expect((await call('POST', `/api/tasks/${task.id}/claim`, { userId: 'bob' })).body).toMatchObject({ status: 409, code: 'TASK_ALREADY_CLAIMED' });
    expect((await call('GET', `/api/tasks/${task.id}`)).body.assignee).toBe('ana');
    expect((await call('POST', `/api/tasks/${task.id}/unclaim`)).status).toBe(204);
    expect((await call('GET', `/api/tasks?assignee=ana&instanceId=${id}`)).body).toEqual([]);
    expect((await call('POST', `/api/tasks/${task.id}/claim`, { userId: 'bob' })).status).toBe(204);

    expect((await call('DELETE', `/api/process-instances/${id}?reason=${encodeURIComponent('no longer needed')}`)).status).toBe(204);
    expect((await call('GET', `/api/process-instances/${id}`)).body).toMatchObject({ status: 'cancelled', errorMessage: 'no longer needed', activeActivities: [] });
    expect((await call('DELETE', `/api/process-instances/${id}`)).body).toMatchObject({ status: 409, code: 'INSTANCE_ENDED' });
    const history = (await call('GET', `/api/process-instances/${id}/history`)).body.map((row: { event: string }) => row.event);
    expect(history[0]).toBe('instance.start');
    expect(history.at(-1)).toBe('instance.cancelled');
    expect((await call('GET', '/api/process-instances/00000000-0000-4000-8000-000000000000/history')).status).toBe(404);
  });

  it('when a message starts a process and a signal is broadcast, then instances start and move on', async () => {
    const xml = bpmn(
      'order_flow',
      `<bpmn:startEvent id="start"><bpmn:messageEventDefinition messageRef="Order" /></bpmn:startEvent>
      <bpmn:intermediateCatchEvent id="go"><bpmn:signalEventDefinition signalRef="Go" /></bpmn:intermediateCatchEvent>
      <bpmn:endEvent id="end" />
      <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="go" />
      <bpmn:sequenceFlow id="f2" sourceRef="go" targetRef="end" />`,
      '<bpmn:message id="Order" name="order.placed" /><bpmn:signal id="Go" name="native.go" />',
    );
    await call('POST', '/api/deployments', { name: 'order.bpmn', xml });
    const started = await call('POST', '/api/messages', { messageName: 'order.placed', businessKey: 'order-7', variables: { total: 5 } });
    expect(started.body).toEqual([{ resultType: 'ProcessDefinition', instanceId: expect.any(String) }]);
    const id = started.body[0].instanceId;
    expect((await call('GET', `/api/process-instances/${id}`)).body).toMatchObject({ businessKey: 'order-7', variables: { total: 5 }, status: 'active' });
    expect((await call('POST', '/api/messages', { messageName: 'nobody.listens' })).body).toMatchObject({ status: 400, code: 'MESSAGE_NOT_CORRELATED' });

    const signalled = await call('POST', '/api/signals', { name: 'native.go', variables: { went: true } });
    expect(signalled.body).toEqual({ delivered: 1, started: 0 });
    expect((await call('GET', `/api/process-instances/${id}`)).body).toMatchObject({ status: 'completed', variables: { went: true } });
  });

  it('when a failed external task raises an incident, then it is listed, retried with new retries, and a second one resolved', async () => {
    await app.engine.deploy([{ name: 'inc.bpmn', xml: sequence('inc_flow', [{ id: 'work', xml: '<bpmn:serviceTask id="work" camunda:type="external" camunda:topic="native.inc" />' }]) }]);
    const failOnce = async () => {
      const instance = await app.engine.start({ processKey: 'inc_flow' });
      const [task] = await app.engine.fetchAndLock({ workerId: 'w', maxTasks: 1, usePriority: false, topics: [{ topicName: 'native.inc', lockDuration: 10_000 }] });
      await app.engine.externalTaskFailure(task!.id, 'w', { errorMessage: 'disk full', retries: 0 });
      return instance.id;
    };
    const first = await failOnce();
    const second = await failOnce();
    const open = (await call('GET', '/api/incidents?processKey=inc_flow')).body;
    expect(open.map((incident: { instanceId: string }) => incident.instanceId).sort()).toEqual([first, second].sort());
    const incidentOf = (instanceId: string) => open.find((incident: { instanceId: string }) => incident.instanceId === instanceId);

    expect((await call('POST', `/api/incidents/${incidentOf(first).id}/retry`, { retries: 4 })).status).toBe(204);
    expect(await app.database.knex('external_tasks').where({ instance_id: first }).first()).toMatchObject({ retries: 4, worker_id: null });
    expect((await call('POST', `/api/incidents/${incidentOf(first).id}/retry`, { retries: 4 })).body).toMatchObject({ status: 409, code: 'INCIDENT_RESOLVED' });

    expect((await call('POST', `/api/incidents/${incidentOf(second).id}/resolve`)).status).toBe(204);
    expect((await call('GET', '/api/incidents?processKey=inc_flow')).body).toEqual([]);
    expect((await call('GET', '/api/incidents?processKey=inc_flow&open=false')).body).toHaveLength(2);
  });

  it('when a timer job is executed now, then the timer fires at once; a failing job counts down to an incident', async () => {
    const xml = sequence('job_flow', [
      { id: 'later', xml: `<bpmn:intermediateCatchEvent id="later">${TIMER_HOUR}</bpmn:intermediateCatchEvent>` },
      { id: 'call', xml: '<bpmn:callActivity id="call" calledElement="job_child" />' },
    ]);
    await call('POST', '/api/deployments', { name: 'job.bpmn', xml });
    const id = (await call('POST', '/api/process-instances', { processKey: 'job_flow' })).body.id;
    const [job] = (await call('GET', `/api/jobs?instanceId=${id}`)).body;
    expect(job).toMatchObject({ kind: 'timer', activityId: 'later', retries: 3 });
    expect((await call('GET', `/api/jobs?state=due&instanceId=${id}`)).body).toEqual([]);

    // The child process is not deployed: each run fails and counts the retries down.
    const failed = await call('POST', `/api/jobs/${job.id}/execute`);
    expect(failed.body).toMatchObject({ status: 422, code: 'JOB_FAILED', detail: expect.stringContaining('job_child') });
    await call('POST', `/api/jobs/${job.id}/execute`);
    await call('POST', `/api/jobs/${job.id}/execute`);
    expect((await call('GET', `/api/jobs?state=failed&instanceId=${id}`)).body).toMatchObject([{ id: job.id, retries: 0 }]);
    const [incident] = (await call('GET', `/api/incidents?instanceId=${id}`)).body;
    expect(incident).toMatchObject({ type: 'failedJob', jobId: job.id });
    expect((await call('GET', `/api/process-instances/${id}`)).body.status).toBe('active');

    await call('POST', '/api/deployments', { name: 'child.bpmn', xml: sequence('job_child', [{ id: 'wait', xml: '<bpmn:userTask id="wait" />' }]) });
    expect((await call('POST', `/api/incidents/${incident.id}/retry`, { retries: 2 })).status).toBe(204);
    expect((await call('POST', `/api/jobs/${job.id}/execute`)).status).toBe(204);
    const children = await eventually(async () => {
      const rows = await app.database.knex('process_instances').where({ parent_instance_id: id });
      return rows.length ? rows : null;
    });
    expect(children[0]).toMatchObject({ process_key: 'job_child', status: 'active' });
    expect((await call('GET', `/api/jobs?instanceId=${id}`)).body).toEqual([]);
    expect((await call('POST', `/api/jobs/${job.id}/execute`)).body).toMatchObject({ status: 404, code: 'NOT_FOUND' });
  });
  it('when tasks, incidents, jobs, external tasks, versions, history and an instance with its waits are read, then every field name is camelCase', async () => {
    const xml = bpmn(
      'camel_flow',
      `<bpmn:startEvent id="start" />
      <bpmn:parallelGateway id="fork" />
      <bpmn:userTask id="approve" camunda:candidateGroups="ops" />
      <bpmn:intermediateCatchEvent id="later">${TIMER_HOUR}</bpmn:intermediateCatchEvent>
      <bpmn:intermediateCatchEvent id="paid"><bpmn:messageEventDefinition messageRef="Paid" /></bpmn:intermediateCatchEvent>
      <bpmn:serviceTask id="work" camunda:type="external" camunda:topic="native.camel" />
      <bpmn:parallelGateway id="join" />
      <bpmn:endEvent id="end" />
      <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="fork" />
      <bpmn:sequenceFlow id="f2" sourceRef="fork" targetRef="approve" />
      <bpmn:sequenceFlow id="f3" sourceRef="fork" targetRef="later" />
      <bpmn:sequenceFlow id="f4" sourceRef="fork" targetRef="paid" />
      <bpmn:sequenceFlow id="f5" sourceRef="fork" targetRef="work" />
      <bpmn:sequenceFlow id="f6" sourceRef="approve" targetRef="join" />
      <bpmn:sequenceFlow id="f7" sourceRef="later" targetRef="join" />
      <bpmn:sequenceFlow id="f8" sourceRef="paid" targetRef="join" />
      <bpmn:sequenceFlow id="f9" sourceRef="work" targetRef="join" />
      <bpmn:sequenceFlow id="f10" sourceRef="join" targetRef="end" />`,
      '<bpmn:message id="Paid" name="camel.paid" />',
    );
    const deployed = (await call('POST', '/api/deployments', { name: 'camel.bpmn', xml })).body.definitions[0];
    const id = (await call('POST', '/api/process-instances', { processKey: 'camel_flow', variables: { snake_name: 1 } })).body.id;
    const [task] = await app.engine.fetchAndLock({ workerId: 'w', maxTasks: 1, usePriority: false, topics: [{ topicName: 'native.camel', lockDuration: 10_000 }] });
    await app.engine.externalTaskFailure(task!.id, 'w', { errorMessage: 'disk full', retries: 0 });

    const detail = (await call('GET', `/api/process-instances/${id}`)).body;
    for (const waits of ['userTasks', 'externalTasks', 'timers', 'subscriptions', 'incidents']) expect(detail[waits]).toHaveLength(1);
    expect(detail.userTasks[0]).toMatchObject({ instanceId: id, activityId: 'approve', candidateGroups: ['ops'], processKey: 'camel_flow', createdAt: expect.any(String) });
    expect(detail.externalTasks[0]).toMatchObject({ topic: 'native.camel', activityId: 'work', errorMessage: 'disk full', retries: 0 });
    expect(detail.timers[0]).toMatchObject({ kind: 'timer', activityId: 'later', dueAt: expect.any(String) });
    expect(detail.subscriptions[0]).toMatchObject({ kind: 'message', name: 'camel.paid', activityId: 'paid' });
    expect(detail.incidents[0]).toMatchObject({ type: 'failedExternalTask', instanceId: id, externalTaskId: task!.id, resolvedAt: null });
    const answers = [
      detail,
      (await call('GET', `/api/tasks?instanceId=${id}`)).body,
      (await call('GET', `/api/tasks/${detail.userTasks[0].id}`)).body,
      (await call('GET', `/api/incidents?instanceId=${id}`)).body,
      (await call('GET', `/api/jobs?instanceId=${id}`)).body,
      (await call('GET', '/api/external-tasks?topic=native.camel')).body,
      (await call('GET', `/api/process-instances/${id}/history`)).body,
      (await call('GET', '/api/process-definitions?key=camel_flow')).body,
      (await call('GET', `/api/process-definitions/${encodeURIComponent(deployed.id)}`)).body,
      (await call('GET', `/api/audit?instanceId=${id}`)).body,
    ];
    const snakeNames = new Set<string>();
    const walk = (value: unknown, path: string): void => {
      if (Array.isArray(value)) return value.forEach((item) => walk(item, `${path}[]`));
      if (!value || typeof value !== 'object') return;
      for (const [name, inner] of Object.entries(value)) {
        if (name.includes('_')) snakeNames.add(`${path}.${name}`);
        // Variables, a definition's analysis and an incident's trigger are data, named by their authors.
        if (!['variables', 'info', 'report', 'trigger', 'data', 'details', 'localVariables'].includes(name)) walk(inner, `${path}.${name}`);
      }
    };
    answers.forEach((answer, index) => walk(answer, `answer${index}`));
    expect([...snakeNames]).toEqual([]);
    expect(detail.variables).toEqual({ snake_name: 1 });
  });
});
