import { deployFolder } from '../../src/app.js';
import { bpmn } from '../support/bpmn.js';
import { httpClient, TEST_TOKENS } from '../support/server-process.js';
import { createTestApp } from '../support/test-app.js';

/**
 * What a start may be: the start variables a process declares on its start event are checked
 * over native REST and Camunda 7 REST alike, a process that only a timer or a message starts
 * is refused a plain start and can be run now, and form fields without an id never deploy.
 */
describe('checked starts, run now and who the token is', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let base: string;
  const as = (role: keyof typeof TEST_TOKENS) => httpClient(base, TEST_TOKENS[role]);

  beforeAll(async () => {
    app = await createTestApp({ env: { REGENFLOW_EVOLUTION_CADENCE: 'R/PT12H', REGENFLOW_CI_NIGHTLY_CADENCE: 'R/PT24H' } });
    base = `http://127.0.0.1:${await app.listen()}`;
    await deployFolder(app, 'processes');
    // Every shipped process deployed: slow on a loaded machine.
  }, 120_000);
  afterAll(async () => {
    await app.dispose();
  });

  it('when a shipped process is started without its required start variables, then native and Camunda 7 REST answer 400 naming each one and nothing starts', async () => {
    const native = await as('owner')('POST', '/api/process-instances', { processKey: 'dmedi-regeneration', variables: {} });
    expect(native.status).toBe(400);
    expect(native.body).toMatchObject({ code: 'VALIDATION_FAILED', details: { missing: ['system'] } });
    expect(native.body.detail).toContain("missing 'system'");

    const ci = await as('owner')('POST', '/api/process-instances', { processKey: 'ci-pipeline', variables: { ref: 42 } });
    expect(ci.status).toBe(400);
    expect(ci.body.details).toMatchObject({ missing: ['repository'], invalid: [{ name: 'ref', expected: 'text' }] });

    const c7 = await as('owner')('POST', '/engine-rest/process-definition/key/feature-lifecycle/start', { variables: { repository: { value: '/tmp/r', type: 'String' } } });
    expect(c7.status).toBe(400);
    expect(c7.body.type).toBe('InvalidRequestException');
    expect(c7.body.message).toContain("missing 'baseRef', 'feature', 'entities'");

    const entities = await as('owner')('POST', '/api/process-instances', {
      processKey: 'feature-lifecycle',
      variables: { repository: '/tmp/r', baseRef: 'main', feature: 'x', entities: 'not a list' },
    });
    expect(entities.status).toBe(400);
    expect(entities.body.details.invalid).toEqual([{ name: 'entities', expected: 'a JSON object or array' }]);
    expect(await app.database.knex('process_instances')).toHaveLength(0);
  });

  it('when the start variables are there, then the start goes through, for an operator too', async () => {
    const started = await as('operator')('POST', '/api/process-instances', { processKey: 'dmedi-regeneration', variables: { system: 'shop', threshold: 0.5 } });
    expect(started.status).toBe(201);
    expect(started.body.variables).toMatchObject({ system: 'shop' });
    const c7 = await as('operator')('POST', '/engine-rest/process-definition/key/dmedi-regeneration/start', { variables: { system: { value: 'shop', type: 'String' } } });
    expect(c7.status).toBe(200);
  });

  it('when a timer- or message-started process gets a plain start, then it is refused with START_EVENT_REQUIRED, and run now starts it moving without touching the schedule', async () => {
    for (const processKey of ['evolution-cycle', 'ci-nightly', 'incident-response']) {
      const plain = await as('owner')('POST', '/api/process-instances', { processKey });
      expect(plain.status).toBe(400);
      expect(plain.body.code).toBe('START_EVENT_REQUIRED');
      expect(plain.body.detail).toContain(`/api/process-definitions/key/${processKey}/run-now`);
    }
    const c7 = await as('owner')('POST', '/engine-rest/process-definition/key/evolution-cycle/start', {});
    expect(c7.status).toBe(400);

    const schedule = async () => (await app.database.knex('jobs').where({ kind: 'timer-start' }).orderBy('activity_id').select('activity_id', 'due_at', 'payload')).map((job) => ({ ...job, due_at: new Date(job.due_at).toISOString() }));
    const before = await schedule();
    const run = await as('operator')('POST', '/api/process-definitions/key/evolution-cycle/run-now', {});
    expect(run.status).toBe(201);
    expect(run.body.processKey).toBe('evolution-cycle');
    // It left the timer start event: its first task waits as an external task.
    const detail = await as('operator')('GET', `/api/process-instances/${run.body.id}`);
    expect(detail.body.activeActivities).toContain('collect_telemetry');
    expect(await schedule()).toEqual(before);

    const unknown = await as('owner')('POST', '/api/process-definitions/key/evolution-cycle/run-now', { startEventId: 'nope' });
    expect(unknown.status).toBe(400);
    expect(unknown.body.detail).toContain("no start event 'nope'");
    const missing = await as('owner')('POST', '/api/process-definitions/key/no-such-process/run-now', {});
    expect(missing.status).toBe(404);
  });

  it('when a form field has no id, then lint reports it and deploy refuses it naming the element', async () => {
    const xml = bpmn(
      'form_without_id',
      `<bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
      <bpmn:userTask id="review" name="Review"><bpmn:extensionElements><camunda:formData>
        <camunda:formField label="Approved?" type="boolean" />
      </camunda:formData></bpmn:extensionElements><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
      <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
      <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="review" />
      <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="end" />`,
    );
    const lint = await as('owner')('POST', '/api/deployments/lint', { name: 'form.bpmn', xml });
    expect(lint.body.ok).toBe(false);
    expect(lint.body.errors).toEqual([expect.objectContaining({ rule: 'form-field', elementId: 'review', message: expect.stringContaining("('Approved?') of review has no id") })]);
    const deploy = await as('admin')('POST', '/api/deployments', { name: 'form.bpmn', xml });
    expect(deploy.status).toBe(400);
    expect(deploy.body.detail).toContain('review');
    expect(await app.database.knex('process_definitions').where({ key: 'form_without_id' })).toHaveLength(0);
  });

  it('when each role asks GET /api/me, then it learns its role and exactly what the route table lets it do', async () => {
    const operator = await as('operator')('GET', '/api/me');
    expect(operator.status).toBe(200);
    expect(operator.body).toMatchObject({ role: 'operator', actor: expect.stringMatching(/^operator:[0-9a-f]{12}$/), topics: null });
    expect(operator.body.can).toMatchObject({ start: true, runNow: true, completeTasks: true, retryIncidents: true, deploy: false, lint: false, postAlerts: false });
    const owner = await as('owner')('GET', '/api/me');
    expect(owner.body.can).toMatchObject({ start: true, lint: true, deploy: false, viewHealth: true });
    const admin = await as('admin')('GET', '/api/me');
    expect(Object.values(admin.body.can).every(Boolean)).toBe(true);
    const alert = await as('alert')('GET', '/api/me');
    expect(alert.body.can).toMatchObject({ postAlerts: true, start: false, viewInstances: false });
    expect(alert.body.operations.map((operation: { method: string; path: string }) => `${operation.method} ${operation.path}`)).toEqual(
      expect.arrayContaining(['post /api/alerts/alertmanager', 'get /api/me']),
    );
    // What /api/me says holds: a refused ability is a 403, a granted one is not.
    expect((await as('operator')('POST', '/api/deployments/lint', { name: 'x.bpmn', xml: '<x/>' })).status).toBe(403);
    expect((await as('alert')('GET', '/api/process-instances')).status).toBe(403);
    expect((await fetch(`${base}/api/me`)).status).toBe(401);
  });
});
