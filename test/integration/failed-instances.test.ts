import { z } from 'zod';
import { ServiceTaskRegistry } from '../../service-tasks/registry.js';
import { BpmnErrorSignal } from '../../src/engine/runtime/service-binding.js';
import { bpmn, sequence } from '../support/bpmn.js';
import { TEST_TOKENS } from '../support/server-process.js';
import { createTestApp, eventually } from '../support/test-app.js';

const ERROR = '<bpmn:error id="Boom" errorCode="BOOM" name="Boom happened" />';

function registry() {
  return new ServiceTaskRegistry()
    .register({
      topic: 'failing.reject',
      description: 'raises a BPMN error',
      mode: 'inline',
      input: z.object({}).passthrough(),
      output: z.object({}),
      handler: async () => {
        throw new BpmnErrorSignal('REJECTED', 'the order is not allowed');
      },
    })
    .register({
      topic: 'failing.slow',
      description: 'takes a moment, then succeeds',
      mode: 'inline',
      input: z.object({}).passthrough(),
      output: z.object({}),
      handler: async () => {
        await new Promise((resolve) => setTimeout(resolve, 100));
        return {};
      },
    })
    .register({
      topic: 'failing.broken',
      description: 'fails technically',
      mode: 'inline',
      input: z.object({}).passthrough(),
      output: z.object({}),
      handler: async () => {
        throw new Error('database unavailable');
      },
    });
}

/** The value of one sample line, e.g. `name{label="x"} 3`. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  for (const line of text.split('\n')) {
    const match = /^([^{\s]+)(?:\{([^}]*)\})?\s+(\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const present = (match[2] ?? '').split(',');
    if (wanted.every((label) => present.includes(label))) return Number(match[3]);
  }
  return undefined;
}

/**
 * A BPMN error that nothing catches ends its instance `failed` (see uncaughtBpmnError in
 * process-runtime.ts for why): checked on the row, the event, /metrics, the trace, the
 * native instance view and the C7 history, over real HTTP.
 */
describe('failed instances: an unhandled BPMN error', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let base: string;
  const ended: Array<{ id: string; status: string; processKey: string }> = [];

  beforeAll(async () => {
    app = await createTestApp({ registry: registry() });
    app.poller.start();
    base = `http://127.0.0.1:${await app.listen()}`;
    app.engine.on('instance.ended', (event) => ended.push(event));
  });
  afterAll(async () => {
    await app.dispose();
  });

  const get = async (path: string, token: string = TEST_TOKENS.operator) => {
    const response = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(200);
    return response;
  };
  const metric = async (name: string, processKey: string) =>
    sample(await (await get('/metrics')).text(), name, { process_key: processKey });

  /** Everything a failed instance must show, wherever one looks. */
  async function expectFailed(instanceId: string, processKey: string, activityId: string, errorCode: string) {
    const row = await app.engine.getInstance(instanceId);
    expect(row.status).toBe('failed');
    expect(row.ended_at).not.toBeNull();
    expect(row.state).toBeNull();
    expect(row.error_message).toContain(errorCode);
    expect(row.error_message).toContain(activityId);
    expect(ended).toContainEqual({ id: instanceId, status: 'failed', processKey });
    expect(await metric('regenflow_instances_failed_total', processKey)).toBe(1);
    expect(await metric('regenflow_instances_ended_total', processKey)).toBe(1);
    expect(await metric('regenflow_instances_completed_total', processKey)).toBeUndefined();

    await app.telemetry.flush();
    const spans = await app.telemetry.spans.listByInstance(instanceId);
    const root = spans.find((span) => span.spanId === row.root_span_id)!;
    expect(root).toMatchObject({ statusCode: 2, statusMessage: row.error_message, attributes: expect.objectContaining({ status: 'failed' }) });
    const thrower = spans.find((span) => span.activityId === activityId)!;
    expect(thrower.statusCode).toBe(2);
    expect(thrower.statusMessage).toContain(errorCode);

    const view = await (await get(`/api/process-instances/${instanceId}`)).json();
    expect(view).toMatchObject({ status: 'failed', errorMessage: row.error_message, endedAt: expect.any(String) });
    const history = await (await get(`/engine-rest/history/process-instance/${instanceId}`)).json();
    expect(history).toMatchObject({ state: 'INTERNALLY_TERMINATED', deleteReason: row.error_message, endTime: expect.any(String) });
    return row;
  }

  it('when a process-level error end event throws an error nothing catches, then the instance ends failed, counted, traced and shown', async () => {
    // Given a process whose only path ends in an error end event, with no catch anywhere
    const xml = bpmn(
      'uncaught_end',
      `<bpmn:startEvent id="start" />
      <bpmn:endEvent id="boom"><bpmn:errorEventDefinition errorRef="Boom" /></bpmn:endEvent>
      <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="boom" />`,
      ERROR,
    );
    await app.engine.deploy([{ name: 'uncaught_end.bpmn', xml }]);

    // When it runs
    const started = await app.engine.start({ processKey: 'uncaught_end' });

    // Then it failed, naming the error and the end event
    expect(started.status).toBe('failed');
    const row = await expectFailed(started.id, 'uncaught_end', 'boom', 'BOOM');
    expect(row.error_message).toContain('Boom happened');
  });

  it('when an error end event in a sub-process is not caught there nor above, then the instance fails and nothing after the sub-process runs', async () => {
    // Given an error thrown in a sub-process that has no boundary event, then a user task after it
    const xml = bpmn(
      'uncaught_nested',
      `<bpmn:startEvent id="start" />
      <bpmn:subProcess id="inner">
        <bpmn:startEvent id="inner_start" />
        <bpmn:endEvent id="inner_boom"><bpmn:errorEventDefinition errorRef="Boom" /></bpmn:endEvent>
        <bpmn:sequenceFlow id="g1" sourceRef="inner_start" targetRef="inner_boom" />
      </bpmn:subProcess>
      <bpmn:userTask id="after" />
      <bpmn:endEvent id="end" />
      <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="inner" />
      <bpmn:sequenceFlow id="f2" sourceRef="inner" targetRef="after" />
      <bpmn:sequenceFlow id="f3" sourceRef="after" targetRef="end" />`,
      ERROR,
    );
    await app.engine.deploy([{ name: 'uncaught_nested.bpmn', xml }]);

    // When it runs
    const started = await app.engine.start({ processKey: 'uncaught_nested' });

    // Then it failed at the inner end event, and the user task after the sub-process never started
    await expectFailed(started.id, 'uncaught_nested', 'inner_boom', 'BOOM');
    expect(await app.database.knex('user_tasks').where({ instance_id: started.id })).toHaveLength(0);
    expect(await app.database.knex('history').where({ instance_id: started.id, activity_id: 'after' })).toHaveLength(0);
    // and the sub-process the error left is in the trace, ended with the instance
    const inner = (await app.telemetry.spans.listByInstance(started.id)).find((span) => span.activityId === 'inner');
    expect(inner?.attributes).toMatchObject({ 'bpmn.activity.type': 'bpmn:SubProcess', status: 'failed' });
  });

  it('when the error is caught by a boundary event on the sub-process or by an event sub-process, then the instance completes', async () => {
    // Given the same throw, caught once by a boundary event and once by an error event sub-process
    const boundary = bpmn(
      'caught_boundary',
      `<bpmn:startEvent id="start" />
      <bpmn:subProcess id="inner">
        <bpmn:startEvent id="inner_start" />
        <bpmn:endEvent id="inner_boom"><bpmn:errorEventDefinition errorRef="Boom" /></bpmn:endEvent>
        <bpmn:sequenceFlow id="g1" sourceRef="inner_start" targetRef="inner_boom" />
      </bpmn:subProcess>
      <bpmn:boundaryEvent id="caught" attachedToRef="inner"><bpmn:errorEventDefinition errorRef="Boom" /></bpmn:boundaryEvent>
      <bpmn:endEvent id="end" /><bpmn:endEvent id="handled" />
      <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="inner" />
      <bpmn:sequenceFlow id="f2" sourceRef="inner" targetRef="end" />
      <bpmn:sequenceFlow id="f3" sourceRef="caught" targetRef="handled" />`,
      ERROR,
    );
    const eventSubProcess = bpmn(
      'caught_event_sub',
      `<bpmn:startEvent id="start" />
      <bpmn:endEvent id="boom"><bpmn:errorEventDefinition errorRef="Boom" /></bpmn:endEvent>
      <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="boom" />
      <bpmn:subProcess id="on_error" triggeredByEvent="true">
        <bpmn:startEvent id="on_error_start"><bpmn:errorEventDefinition errorRef="Boom" /></bpmn:startEvent>
        <bpmn:endEvent id="on_error_end" />
        <bpmn:sequenceFlow id="g1" sourceRef="on_error_start" targetRef="on_error_end" />
      </bpmn:subProcess>`,
      ERROR,
    );
    await app.engine.deploy([{ name: 'caught_boundary.bpmn', xml: boundary }]);
    await app.engine.deploy([{ name: 'caught_event_sub.bpmn', xml: eventSubProcess }]);

    // When they run
    const first = await app.engine.start({ processKey: 'caught_boundary' });
    const second = await app.engine.start({ processKey: 'caught_event_sub' });

    // Then both complete, along their handling paths
    expect(first).toMatchObject({ status: 'completed', error_message: null });
    expect(second).toMatchObject({ status: 'completed', error_message: null });
    expect(await app.database.knex('history').where({ instance_id: first.id, event: 'end' }).pluck('activity_id')).toContain('handled');
    expect(await app.database.knex('history').where({ instance_id: second.id, event: 'end' }).pluck('activity_id')).toContain('on_error_end');
    expect(await metric('regenflow_instances_failed_total', 'caught_boundary')).toBeUndefined();
  });

  it('when an error end event without errorRef throws and nothing catches it, then the instance fails with code unknown', async () => {
    // Given an error end event that names no error
    const xml = bpmn(
      'uncaught_anonymous',
      `<bpmn:startEvent id="start" />
      <bpmn:endEvent id="boom"><bpmn:errorEventDefinition /></bpmn:endEvent>
      <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="boom" />`,
    );
    await app.engine.deploy([{ name: 'uncaught_anonymous.bpmn', xml }]);

    // When it runs
    const started = await app.engine.start({ processKey: 'uncaught_anonymous' });

    // Then it failed like any uncaught error, with the code unknown
    expect(started.status).toBe('failed');
    const row = await expectFailed(started.id, 'uncaught_anonymous', 'boom', 'unknown');
    expect(row.error_message).toBe('unhandled BPMN error unknown (thrown by boom)');
  });

  it('when an error end event without errorRef is thrown under a catch-all boundary event or a catch-all event sub-process, then it is caught and the instance completes', async () => {
    // Given the unreferenced throw in a sub-process with an error boundary event that names no error either,
    // and at process level under an error event sub-process that names none
    const boundary = bpmn(
      'anonymous_boundary',
      `<bpmn:startEvent id="start" />
      <bpmn:subProcess id="inner">
        <bpmn:startEvent id="inner_start" />
        <bpmn:endEvent id="inner_boom"><bpmn:errorEventDefinition /></bpmn:endEvent>
        <bpmn:sequenceFlow id="g1" sourceRef="inner_start" targetRef="inner_boom" />
      </bpmn:subProcess>
      <bpmn:boundaryEvent id="caught" attachedToRef="inner"><bpmn:errorEventDefinition /></bpmn:boundaryEvent>
      <bpmn:endEvent id="end" /><bpmn:endEvent id="handled" />
      <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="inner" />
      <bpmn:sequenceFlow id="f2" sourceRef="inner" targetRef="end" />
      <bpmn:sequenceFlow id="f3" sourceRef="caught" targetRef="handled" />`,
    );
    const eventSubProcess = bpmn(
      'anonymous_event_sub',
      `<bpmn:startEvent id="start" />
      <bpmn:endEvent id="boom"><bpmn:errorEventDefinition /></bpmn:endEvent>
      <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="boom" />
      <bpmn:subProcess id="on_error" triggeredByEvent="true">
        <bpmn:startEvent id="on_error_start"><bpmn:errorEventDefinition /></bpmn:startEvent>
        <bpmn:endEvent id="on_error_end" />
        <bpmn:sequenceFlow id="g1" sourceRef="on_error_start" targetRef="on_error_end" />
      </bpmn:subProcess>`,
    );
    await app.engine.deploy([{ name: 'anonymous_boundary.bpmn', xml: boundary }]);
    await app.engine.deploy([{ name: 'anonymous_event_sub.bpmn', xml: eventSubProcess }]);

    // When they run
    const first = await app.engine.start({ processKey: 'anonymous_boundary' });
    const second = await app.engine.start({ processKey: 'anonymous_event_sub' });

    // Then both complete along their handling paths
    expect(first).toMatchObject({ status: 'completed', error_message: null });
    expect(second).toMatchObject({ status: 'completed', error_message: null });
    expect(await app.database.knex('history').where({ instance_id: first.id, event: 'end' }).pluck('activity_id')).toContain('handled');
    expect(await app.database.knex('history').where({ instance_id: second.id, event: 'end' }).pluck('activity_id')).toContain('on_error_end');
  });

  it('when a built-in handler throws a BpmnErrorSignal with no boundary event, then the instance fails after a wait state, naming code, message and task', async () => {
    // Given a user task, then a service task whose handler raises a BPMN error nobody catches
    const xml = sequence('uncaught_signal', [
      { id: 'review', xml: '<bpmn:userTask id="review" />' },
      { id: 'check', xml: '<bpmn:serviceTask id="check" camunda:type="external" camunda:topic="failing.reject" />' },
    ]);
    await app.engine.deploy([{ name: 'uncaught_signal.bpmn', xml }]);
    const started = await app.engine.start({ processKey: 'uncaught_signal' });
    expect(started.status).toBe('active');

    // When the user task is completed and the handler raises its error
    const task = await app.database.knex('user_tasks').where({ instance_id: started.id }).first();
    const after = await app.engine.completeUserTask(task.id, { approved: true });

    // Then the instance failed, and keeps the variables it had
    expect(after.status).toBe('failed');
    const row = await expectFailed(started.id, 'uncaught_signal', 'check', 'REJECTED');
    expect(row.error_message).toContain('the order is not allowed');
    expect(row.variables).toMatchObject({ approved: true });
    expect(await app.database.knex('history').where({ instance_id: started.id, event: 'instance.failed' }).first()).toMatchObject({
      data: expect.objectContaining({ errorCode: 'REJECTED', activityId: 'check' }),
    });
  });

  it('when a handler inside a sub-process raises a BPMN error that neither the sub-process nor the process catches, then the instance fails naming the task', async () => {
    // Given the rejecting handler inside a sub-process without boundary events
    const xml = bpmn(
      'uncaught_nested_signal',
      `<bpmn:startEvent id="start" />
      <bpmn:subProcess id="inner">
        <bpmn:startEvent id="inner_start" />
        <bpmn:serviceTask id="inner_check" camunda:type="external" camunda:topic="failing.reject" />
        <bpmn:endEvent id="inner_end" />
        <bpmn:sequenceFlow id="g1" sourceRef="inner_start" targetRef="inner_check" />
        <bpmn:sequenceFlow id="g2" sourceRef="inner_check" targetRef="inner_end" />
      </bpmn:subProcess>
      <bpmn:endEvent id="end" />
      <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="inner" />
      <bpmn:sequenceFlow id="f2" sourceRef="inner" targetRef="end" />`,
    );
    await app.engine.deploy([{ name: 'uncaught_nested_signal.bpmn', xml }]);

    // When it runs
    const started = await app.engine.start({ processKey: 'uncaught_nested_signal' });

    // Then it failed at the task, not at the sub-process around it
    await expectFailed(started.id, 'uncaught_nested_signal', 'inner_check', 'REJECTED');
  });

  it('when an external-task worker reports a BPMN error over the C7 API and no boundary event catches it, then the instance fails', async () => {
    // Given an external task no in-process handler serves
    const xml = sequence('uncaught_worker', [
      { id: 'remote', xml: '<bpmn:serviceTask id="remote" camunda:type="external" camunda:topic="failing.remote" />' },
    ]);
    await app.engine.deploy([{ name: 'uncaught_worker.bpmn', xml }]);
    const started = await app.engine.start({ processKey: 'uncaught_worker' });
    const post = (path: string, body: unknown) =>
      fetch(`${base}/engine-rest/external-task${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_TOKENS.worker}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const fetched = await post('/fetchAndLock', { workerId: 'w1', maxTasks: 1, topics: [{ topicName: 'failing.remote', lockDuration: 10_000 }] });
    const [task] = (await fetched.json()) as Array<{ id: string }>;

    // When the worker reports a BPMN error
    const reported = await post(`/${task!.id}/bpmnError`, { workerId: 'w1', errorCode: 'OUT_OF_STOCK', errorMessage: 'no items left' });

    // Then the report is accepted, and the instance failed with no task left
    expect(reported.status).toBe(204);
    const row = await expectFailed(started.id, 'uncaught_worker', 'remote', 'OUT_OF_STOCK');
    expect(row.error_message).toContain('no items left');
    expect(await app.database.knex('external_tasks').where({ instance_id: started.id })).toHaveLength(0);
  });

  it('when a parallel branch throws an error nothing catches while the other branch runs an inline handler, then the instance fails promptly', async () => {
    // Given a split into an uncaught error end event and a handler that takes a moment
    const xml = bpmn(
      'uncaught_beside_handler',
      `<bpmn:startEvent id="start" />
      <bpmn:parallelGateway id="split" />
      <bpmn:endEvent id="boom"><bpmn:errorEventDefinition errorRef="Boom" /></bpmn:endEvent>
      <bpmn:serviceTask id="slow" camunda:type="external" camunda:topic="failing.slow" />
      <bpmn:endEvent id="end" />
      <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="split" />
      <bpmn:sequenceFlow id="f1" sourceRef="split" targetRef="boom" />
      <bpmn:sequenceFlow id="f2" sourceRef="split" targetRef="slow" />
      <bpmn:sequenceFlow id="f3" sourceRef="slow" targetRef="end" />`,
      ERROR,
    );
    await app.engine.deploy([{ name: 'uncaught_beside_handler.bpmn', xml }]);

    // When it runs (a hang here spins on microtasks: the test run never ends)
    const started = await app.engine.start({ processKey: 'uncaught_beside_handler' });

    // Then it failed on the throw
    expect(started.status).toBe('failed');
    await expectFailed(started.id, 'uncaught_beside_handler', 'boom', 'BOOM');
  }, 10_000);

  it('when a chain longer than one stack budget ends in an error nothing catches, then the instance fails promptly', async () => {
    // Given 60 tasks (the run hops to a fresh stack every ~41 activities) before an uncaught error end event
    const steps = Array.from({ length: 60 }, (_, index) => ({ id: `t${index}`, xml: `<bpmn:task id="t${index}" />` }));
    const xml = sequence('uncaught_after_hop', steps, ERROR).replace(
      '<bpmn:endEvent id="end" />',
      '<bpmn:endEvent id="end"><bpmn:errorEventDefinition errorRef="Boom" /></bpmn:endEvent>',
    );
    await app.engine.deploy([{ name: 'uncaught_after_hop.bpmn', xml }]);

    // When it runs
    const started = await app.engine.start({ processKey: 'uncaught_after_hop' });

    // Then it failed on the throw, thrown inside a stack hop
    expect(started.status).toBe('failed');
    await expectFailed(started.id, 'uncaught_after_hop', 'end', 'BOOM');
  }, 10_000);

  it('when a handler fails technically, then the instance stays active with an incident, not failed', async () => {
    // Given a handler that throws an ordinary error
    const xml = sequence('technical', [
      { id: 'work', xml: '<bpmn:serviceTask id="work" camunda:type="external" camunda:topic="failing.broken" />' },
    ]);
    await app.engine.deploy([{ name: 'technical.bpmn', xml }]);

    // When it runs
    const started = await app.engine.start({ processKey: 'technical' });

    // Then it waits for a retry, as before
    expect(started).toMatchObject({ status: 'active', error_message: null });
    expect(await app.database.knex('incidents').where({ instance_id: started.id, type: 'failedHandler' })).toHaveLength(1);
    expect(await metric('regenflow_instances_failed_total', 'technical')).toBeUndefined();
  });
  describe('across call activities', () => {
    beforeAll(async () => {
      // A called process that waits for a user task, then throws an error nothing in it catches
      const child = sequence('failing_child', [{ id: 'approve', xml: '<bpmn:userTask id="approve" />' }]).replace(
        '<bpmn:endEvent id="end" />',
        '<bpmn:endEvent id="end"><bpmn:errorEventDefinition errorRef="Boom" /></bpmn:endEvent>',
      ).replace('<bpmn:process', `${ERROR}\n  <bpmn:process`);
      await app.engine.deploy([{ name: 'failing_child.bpmn', xml: child }]);
    });

    const finishChild = async (parentId: string) => {
      const childRow = await eventually(() => app.database.knex('process_instances').where({ parent_instance_id: parentId }).first());
      const task = await eventually(() => app.database.knex('user_tasks').where({ instance_id: childRow.id }).first());
      await app.engine.completeUserTask(task.id);
      return childRow.id as string;
    };

    it('when a called instance fails and the call activity has an error boundary event for its code, then the child failed and the parent takes the error path', async () => {
      // Given a parent whose call activity catches BOOM
      const xml = bpmn(
        'catching_parent',
        `<bpmn:startEvent id="start" />
        <bpmn:callActivity id="call" calledElement="failing_child" />
        <bpmn:boundaryEvent id="child_failed" attachedToRef="call"><bpmn:errorEventDefinition errorRef="Boom" /></bpmn:boundaryEvent>
        <bpmn:endEvent id="end" /><bpmn:endEvent id="handled" />
        <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="call" />
        <bpmn:sequenceFlow id="f2" sourceRef="call" targetRef="end" />
        <bpmn:sequenceFlow id="f3" sourceRef="child_failed" targetRef="handled" />`,
        ERROR,
      );
      await app.engine.deploy([{ name: 'catching_parent.bpmn', xml }]);
      const parent = await app.engine.start({ processKey: 'catching_parent' });

      // When the child throws its uncaught error
      const childId = await finishChild(parent.id);

      // Then the child failed and the parent completed along the error path
      expect(await app.engine.getInstance(childId)).toMatchObject({ status: 'failed' });
      const done = await eventually(async () => {
        const row = await app.engine.getInstance(parent.id);
        return row.status !== 'active' && row;
      });
      expect(done).toMatchObject({ status: 'completed', error_message: null });
      expect(await app.database.knex('history').where({ instance_id: parent.id, event: 'end' }).pluck('activity_id')).toContain('handled');
    });

    it('when a called instance fails and the call activity does not catch its error, then the parent fails too, naming the call activity', async () => {
      // Given a parent whose call activity has no boundary event
      const xml = sequence('plain_parent', [{ id: 'call', xml: '<bpmn:callActivity id="call" calledElement="failing_child" />' }]);
      await app.engine.deploy([{ name: 'plain_parent.bpmn', xml }]);
      const parent = await app.engine.start({ processKey: 'plain_parent' });

      // When the child throws its uncaught error
      await finishChild(parent.id);

      // Then the parent failed with the child's error code at its call activity
      await eventually(async () => (await app.engine.getInstance(parent.id)).status !== 'active');
      await expectFailed(parent.id, 'plain_parent', 'call', 'BOOM');
    });
  });
});
