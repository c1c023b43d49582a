import { bpmn, sequence } from '../support/bpmn.js';
import { TEST_TOKENS } from '../support/server-process.js';
import { createTestApp } from '../support/test-app.js';

type Role = keyof typeof TEST_TOKENS;

/** The Camunda 7 REST subset under /engine-rest over real HTTP: C7 paths, shapes and errors. */
describe('Camunda 7 REST subset', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let base: string;

  /** Every answer with a body must be exactly application/json, as C7 clients require. */
  const c7 = async (method: string, path: string, body?: unknown, role: Role = 'admin') => {
    const response = await fetch(`${base}/engine-rest${path}`, {
      method,
      headers: { authorization: `Bearer ${TEST_TOKENS[role]}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (text) expect(response.headers.get('content-type')).toBe('application/json');
    return { status: response.status, body: text ? JSON.parse(text) : null };
  };

  /** A deployment as the Camunda Modeler's deploy button sends it. */
  const modelerDeploy = async (fileName: string, xml: string, role: Role = 'admin') => {
    const form = new FormData();
    form.append('deployment-name', fileName.replace(/\.bpmn$/, ''));
    form.append('deployment-source', 'Camunda Modeler');
    form.append('deploy-changed-only', 'true');
    form.append(fileName, new Blob([xml], { type: 'application/octet-stream' }), fileName);
    const response = await fetch(`${base}/engine-rest/deployment/create`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_TOKENS[role]}`, accept: 'application/json' },
      body: form,
    });
    expect(response.headers.get('content-type')).toBe('application/json');
    return { status: response.status, body: (await response.json()) as any };
  };

  const invoiceXml = bpmn(
    'c7_invoice',
    `<bpmn:startEvent id="start" />
    <bpmn:userTask id="approve" name="Approve invoice" camunda:candidateGroups="accounting" />
    <bpmn:intermediateCatchEvent id="paid"><bpmn:messageEventDefinition messageRef="Paid" /></bpmn:intermediateCatchEvent>
    <bpmn:intermediateCatchEvent id="archived"><bpmn:signalEventDefinition signalRef="Archive" /></bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="end" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="approve" />
    <bpmn:sequenceFlow id="f2" sourceRef="approve" targetRef="paid" />
    <bpmn:sequenceFlow id="f3" sourceRef="paid" targetRef="archived" />
    <bpmn:sequenceFlow id="f4" sourceRef="archived" targetRef="end" />`,
    '<bpmn:message id="Paid" name="c7.paid" /><bpmn:signal id="Archive" name="c7.archive" />',
  );

  beforeAll(async () => {
    app = await createTestApp();
    base = `http://127.0.0.1:${await app.listen()}`;
  });
  afterAll(async () => {
    await app.dispose();
  });

  it('when the Camunda Modeler deploys, then C7 answers the deployment; unchanged content is not redeployed', async () => {
    const deployed = await modelerDeploy('invoice.bpmn', invoiceXml);
    expect(deployed.status).toBe(200);
    expect(deployed.body).toMatchObject({ id: expect.any(String), name: 'invoice', source: 'Camunda Modeler', tenantId: null });
    const definitions = Object.values(deployed.body.deployedProcessDefinitions) as any[];
    expect(definitions).toEqual([expect.objectContaining({ key: 'c7_invoice', version: 1, resource: 'invoice.bpmn', deploymentId: deployed.body.id, suspended: false })]);

    const again = await modelerDeploy('invoice.bpmn', invoiceXml);
    expect(again.body.deployedProcessDefinitions).toEqual({});
    expect((await c7('GET', '/process-definition/count?key=c7_invoice')).body).toEqual({ count: 1 });
  });

  it('when the Modeler deploys a broken diagram, then C7 answers a ParseException naming the element and nothing is stored', async () => {
    const broken = await modelerDeploy('broken.bpmn', bpmn('c7_broken', '<bpmn:startEvent id="start" /><bpmn:task id="orphan" />'));
    expect(broken.status).toBe(400);
    expect(broken.body).toMatchObject({ type: 'ParseException', message: expect.stringContaining('orphan'), code: 0 });
    expect(broken.body.details['broken.bpmn'].errors).toEqual(expect.arrayContaining([expect.objectContaining({ mainElementId: 'orphan', elementIds: ['orphan'] })]));
    expect((await c7('GET', '/process-definition?key=c7_broken')).body).toEqual([]);
    expect((await modelerDeploy('x.bpmn', invoiceXml, 'owner')).status).toBe(403);
  });

  it('when an instance is started by key with typed variables, then definitions, instances and counts answer in C7 shapes', async () => {
    const [definition] = (await c7('GET', '/process-definition?key=c7_invoice&latestVersion=true')).body;
    expect(definition).toMatchObject({ id: expect.stringMatching(/^c7_invoice:1:/), key: 'c7_invoice', version: 1, startableInTasklist: true });
    expect((await c7('GET', '/process-definition/key/c7_invoice')).body).toEqual(definition);
    expect((await c7('GET', `/process-definition/${encodeURIComponent(definition.id)}`)).body).toEqual(definition);
    expect((await c7('GET', '/process-definition/key/c7_invoice/xml')).body).toEqual({ id: definition.id, bpmn20Xml: invoiceXml });
    expect((await c7('GET', '/process-definition/key/nope')).body).toMatchObject({ type: 'InvalidRequestException', message: expect.stringContaining('nope') });

    const started = await c7('POST', '/process-definition/key/c7_invoice/start', {
      businessKey: 'INV-1',
      variables: { amount: { value: 120, type: 'Integer' }, meta: { value: '{"source":"scan"}', type: 'Json' } },
      withVariablesInReturn: true,
    }, 'owner');
    expect(started.status).toBe(200);
    expect(started.body).toMatchObject({ definitionId: definition.id, businessKey: 'INV-1', ended: false, suspended: false, links: [] });
    expect(started.body.variables.amount).toEqual({ value: 120, type: 'Integer', valueInfo: {} });
    const other = await c7('POST', `/process-definition/${encodeURIComponent(definition.id)}/start`, { businessKey: 'INV-2' }, 'owner');
    expect(other.status).toBe(200);
    expect((await c7('POST', '/process-definition/key/c7_invoice/start', {}, 'worker')).status).toBe(403);

    const listed = (await c7('GET', '/process-instance?processDefinitionKey=c7_invoice&businessKey=INV-1')).body;
    const { variables: _variables, ...shape } = started.body;
    expect(listed).toEqual([shape]);
    expect((await c7('GET', '/process-instance/count?processDefinitionKey=c7_invoice')).body).toEqual({ count: 2 });
    expect((await c7('GET', '/process-instance?processDefinitionKey=c7_invoice&maxResults=1&firstResult=1')).body).toHaveLength(1);
    expect((await c7('GET', `/process-instance/${started.body.id}`)).body).toMatchObject({ id: started.body.id, businessKey: 'INV-1' });
    expect((await c7('GET', `/process-instance/${started.body.id}/variables`)).body.meta).toEqual({ value: '{"source":"scan"}', type: 'Json', valueInfo: {} });
  });

  it('when tasks are queried, claimed and completed, then the instance moves on to the message and the signal', async () => {
    const [instance] = (await c7('GET', '/process-instance?businessKey=INV-1')).body;
    const tasks = (await c7('GET', `/task?processDefinitionKey=c7_invoice&processInstanceId=${instance.id}&taskDefinitionKey=approve`, undefined, 'operator')).body;
    expect(tasks).toEqual([
      expect.objectContaining({ name: 'Approve invoice', assignee: null, processInstanceId: instance.id, taskDefinitionKey: 'approve', processDefinitionId: instance.definitionId }),
    ]);
    expect(tasks[0].created).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$/);
    const taskId = tasks[0].id;
    expect((await c7('GET', '/task/count?processDefinitionKey=c7_invoice')).body).toEqual({ count: 2 });
    expect((await c7('POST', `/task/${taskId}/claim`, { userId: 'demo' }, 'operator')).status).toBe(204);
    expect((await c7('GET', '/task?assignee=demo')).body.map((task: { id: string }) => task.id)).toEqual([taskId]);
    expect((await c7('POST', `/task/${taskId}/claim`, { userId: 'other' })).body).toMatchObject({ type: 'TaskAlreadyClaimedException' });
    expect((await c7('GET', `/task/${taskId}`)).body).toMatchObject({ id: taskId, assignee: 'demo' });
    const completed = await c7('POST', `/task/${taskId}/complete`, { variables: { approved: { value: true, type: 'Boolean' } } }, 'operator');
    expect(completed.status).toBe(204);
    expect((await c7('GET', `/task/${taskId}`)).status).toBe(404);

    const correlated = await c7('POST', '/message', {
      messageName: 'c7.paid',
      businessKey: 'INV-1',
      correlationKeys: { amount: { value: 120, type: 'Integer' } },
      processVariables: { paidAt: { value: '2026-01-02T03:04:05.000+0000', type: 'Date' } },
      resultEnabled: true,
      variablesInResultEnabled: true,
    }, 'owner');
    expect(correlated.status).toBe(200);
    expect(correlated.body).toEqual([
      expect.objectContaining({ resultType: 'Execution', processInstance: null, execution: expect.objectContaining({ processInstanceId: instance.id }) }),
    ]);
    expect(correlated.body[0].variables.approved).toEqual({ value: true, type: 'Boolean', valueInfo: {} });
    const wrongKey = await c7('POST', '/message', { messageName: 'c7.paid', correlationKeys: { amount: { value: 1, type: 'Integer' } } }, 'owner');
    expect(wrongKey).toMatchObject({ status: 400, body: { type: 'RestException', message: expect.stringContaining('c7.paid') } });

    expect((await c7('POST', '/signal', { name: 'c7.archive', variables: { archived: { value: true, type: 'Boolean' } } }, 'owner')).status).toBe(204);
    const ended = await c7('GET', `/process-instance/${instance.id}`);
    expect(ended).toMatchObject({ status: 404, body: { type: 'InvalidRequestException' } });
    expect((await c7('GET', `/history/process-instance/${instance.id}`)).body).toMatchObject({ state: 'COMPLETED', businessKey: 'INV-1', processDefinitionKey: 'c7_invoice' });
  });

  it('when a message starts a process, then resultEnabled returns the new process instance', async () => {
    const xml = bpmn(
      'c7_by_message',
      `<bpmn:startEvent id="start"><bpmn:messageEventDefinition messageRef="Start" /></bpmn:startEvent>
      <bpmn:userTask id="handle" /><bpmn:endEvent id="end" />
      <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="handle" /><bpmn:sequenceFlow id="f2" sourceRef="handle" targetRef="end" />`,
      '<bpmn:message id="Start" name="c7.start" />',
    );
    expect((await modelerDeploy('by-message.bpmn', xml)).status).toBe(200);
    const started = await c7('POST', '/message', { messageName: 'c7.start', businessKey: 'M-1', resultEnabled: true }, 'owner');
    expect(started.body).toEqual([
      expect.objectContaining({ resultType: 'ProcessDefinition', execution: null, processInstance: expect.objectContaining({ businessKey: 'M-1', ended: false }) }),
    ]);
    expect((await c7('POST', '/message', { messageName: 'c7.start', businessKey: 'M-2' }, 'owner')).status).toBe(204);
    expect((await c7('GET', '/process-instance/count?processDefinitionKey=c7_by_message')).body).toEqual({ count: 2 });
  });

  it('when history is queried, then finished, unfinished, key and business key filters and counts agree', async () => {
    const all = (await c7('GET', '/history/process-instance?processDefinitionKey=c7_invoice')).body;
    expect(all).toHaveLength(2);
    const finished = (await c7('GET', '/history/process-instance?processDefinitionKey=c7_invoice&finished=true')).body;
    expect(finished).toEqual([expect.objectContaining({ businessKey: 'INV-1', state: 'COMPLETED', durationInMillis: expect.any(Number), endTime: expect.any(String) })]);
    const unfinished = (await c7('GET', '/history/process-instance?processDefinitionKey=c7_invoice&unfinished=true')).body;
    expect(unfinished).toEqual([expect.objectContaining({ businessKey: 'INV-2', state: 'ACTIVE', endTime: null })]);
    expect((await c7('GET', '/history/process-instance/count?businessKey=INV-2')).body).toEqual({ count: 1 });
    expect((await c7('GET', '/history/process-instance/count?processDefinitionKey=c7_invoice&finished=true&unfinished=true')).body).toEqual({ count: 0 });

    await c7('DELETE', `/process-instance/${unfinished[0].id}`, undefined, 'owner');
    expect((await c7('GET', `/history/process-instance/${unfinished[0].id}`)).body.state).toBe('EXTERNALLY_TERMINATED');
  });

  it('when an external task fails for good, then the incident is listed in C7 shape', async () => {
    await app.engine.deploy([{ name: 'c7inc.bpmn', xml: sequence('c7_incident', [{ id: 'work', xml: '<bpmn:serviceTask id="work" camunda:type="external" camunda:topic="c7.inc" />' }]) }]);
    const instance = await app.engine.start({ processKey: 'c7_incident' });
    const [task] = (await c7('POST', '/external-task/fetchAndLock', { workerId: 'w1', maxTasks: 1, topics: [{ topicName: 'c7.inc', lockDuration: 5000 }] }, 'worker')).body;
    expect((await c7('POST', `/external-task/${task.id}/failure`, { workerId: 'w1', errorMessage: 'boom', retries: 0, retryTimeout: 0 }, 'worker')).status).toBe(204);
    const incidents = (await c7('GET', `/incident?processInstanceId=${instance.id}`, undefined, 'operator')).body;
    expect(incidents).toEqual([
      expect.objectContaining({ processInstanceId: instance.id, incidentType: 'failedExternalTask', activityId: 'work', incidentMessage: 'boom', configuration: task.id }),
    ]);
    expect((await c7('GET', '/incident/count?incidentType=failedExternalTask')).body).toEqual({ count: 1 });
    expect((await c7('GET', '/incident?processDefinitionKeyIn=c7_incident,other')).body).toHaveLength(1);
  });

  it('when requests are wrong, then /engine-rest answers C7 errors {type, message} as exact application/json', async () => {
    expect(await c7('GET', '/version')).toEqual({ status: 200, body: { version: '7.21.0' } });
    const anonymous = await fetch(`${base}/engine-rest/process-instance`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('content-type')).toBe('application/json');
    expect(await anonymous.json()).toMatchObject({ type: 'AuthenticationException', message: expect.stringContaining('Authorization') });
    expect((await c7('GET', '/process-instance', undefined, 'worker')).body).toMatchObject({ type: 'AuthorizationException' });
    expect(await c7('GET', '/no-such-resource')).toMatchObject({ status: 404, body: { type: 'NotFoundException' } });
    expect(await c7('GET', '/process-instance?maxResults=lots')).toMatchObject({ status: 400, body: { type: 'InvalidRequestException', message: expect.stringContaining('maxResults') } });
    expect(await c7('GET', '/task/..%2F..%2Fetc')).toMatchObject({ status: 400, body: { type: 'InvalidRequestException' } });
    const malformed = await fetch(`${base}/engine-rest/message`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_TOKENS.owner}`, 'content-type': 'application/json' },
      body: '{"messageName":',
    });
    expect(malformed.status).toBe(400);
    expect(malformed.headers.get('content-type')).toBe('application/json');
    expect(await malformed.json()).toMatchObject({ type: 'InvalidRequestException' });
    expect(await c7('POST', '/process-definition/key/c7_invoice/start', { variables: { n: { value: 'x', type: 'Integer' } } }, 'owner')).toMatchObject({
      status: 400,
      body: { message: expect.stringContaining("variable 'n'") },
    });
  });
});
