import { z } from 'zod';
import { ServiceTaskRegistry } from '../../service-tasks/registry.js';
import { BpmnErrorSignal } from '../../src/engine/runtime/service-binding.js';
import { bpmn, sequence } from '../support/bpmn.js';
import { createTestApp, eventually } from '../support/test-app.js';

const serviceTask = (id: string, topic: string, extra = '') =>
  `<bpmn:serviceTask id="${id}" camunda:type="external" camunda:topic="${topic}">${extra}</bpmn:serviceTask>`;

function registryWith(calls: string[]) {
  const registry = new ServiceTaskRegistry();
  registry.register({
    topic: 'test.add',
    description: 'adds one to n',
    mode: 'inline',
    input: z.object({ n: z.number().default(0) }),
    output: z.object({ n: z.number() }),
    handler: async ({ n }, context) => {
      calls.push(context.idempotencyKey);
      return { n: n + 1 };
    },
  });
  registry.register({
    topic: 'test.flaky',
    description: 'fails until told not to',
    mode: 'inline',
    input: z.object({ fail: z.boolean().default(true) }).passthrough(),
    output: z.object({ ok: z.boolean() }),
    handler: async ({ fail }) => {
      if (fail) throw new Error('downstream unavailable');
      return { ok: true };
    },
  });
  registry.register({
    topic: 'test.reject',
    description: 'raises a BPMN error',
    mode: 'inline',
    input: z.object({}).passthrough(),
    output: z.object({}),
    handler: async () => {
      throw new BpmnErrorSignal('REJECTED', 'rejected by policy');
    },
  });
  return registry;
}

describe('engine core', () => {
  const calls: string[] = [];
  let app: Awaited<ReturnType<typeof createTestApp>>;

  beforeAll(async () => {
    // The 1,000-activity chain tests the stack, not the time budget: two suites side by side on
    // two cores pushed it past the default 10 s of engine time. The step limit still stops loops.
    app = await createTestApp({ registry: registryWith(calls), env: { REGENFLOW_MAX_STEPS: '2000', REGENFLOW_MAX_TRANSITION_MS: '60000' } });
    app.poller.start();
  });
  afterAll(async () => {
    await app.dispose();
  });

  describe('deploy', () => {
    it('when the same content is deployed twice, then it keeps one version; changed content makes the next', async () => {
      const xml = sequence('deploy_twice', [{ id: 'task', xml: '<bpmn:task id="task" />' }]);
      const first = await app.engine.deploy([{ name: 'a.bpmn', xml }]);
      const again = await app.engine.deploy([{ name: 'a.bpmn', xml }]);
      const changed = await app.engine.deploy([{ name: 'a.bpmn', xml: xml.replace('id="task" />', 'id="task" name="Task" />') }]);
      expect(first.definitions[0]).toMatchObject({ key: 'deploy_twice', version: 1, created: true });
      expect(again.definitions[0]).toMatchObject({ version: 1, created: false });
      expect(changed.definitions[0]).toMatchObject({ version: 2, created: true });
    });

    it('when a diagram is broken, then the deploy is refused naming the element and nothing is stored', async () => {
      const xml = bpmn('broken', '<bpmn:startEvent id="start" /><bpmn:task id="lonely" /><bpmn:endEvent id="end" /><bpmn:sequenceFlow id="f" sourceRef="start" targetRef="end" />');
      await expect(app.engine.deploy([{ name: 'broken.bpmn', xml }])).rejects.toMatchObject({
        code: 'INVALID_DEFINITION',
        message: expect.stringContaining('lonely'),
      });
      expect(await app.database.knex('process_definitions').where({ key: 'broken' })).toHaveLength(0);
    });
  });

  describe('inline service tasks', () => {
    it('when a process has three inline service tasks, then one transition runs it to the end with history', async () => {
      await app.engine.deploy([
        {
          name: 'three.bpmn',
          xml: sequence('three', ['a', 'b', 'c'].map((id) => ({ id, xml: serviceTask(id, 'test.add') }))),
        },
      ]);
      const instance = await app.engine.start({ processKey: 'three', variables: { n: 1 } });
      expect(instance.status).toBe('completed');
      expect(instance.variables).toEqual({ n: 4 });
      const history = await app.database.knex('history').where({ instance_id: instance.id }).orderBy('id');
      expect(history.filter((row) => row.event === 'end').map((row) => row.activity_id)).toEqual(['start', 'a', 'b', 'c', 'end']);
      expect(history.at(-1).event).toBe('instance.completed');
    });

    it('when an inline handler fails, then an incident parks the task until a retry succeeds', async () => {
      await app.engine.deploy([{ name: 'flaky.bpmn', xml: sequence('flaky', [{ id: 'call', xml: serviceTask('call', 'test.flaky') }]) }]);
      const instance = await app.engine.start({ processKey: 'flaky', variables: { fail: true } });
      expect(instance.status).toBe('active');
      const [incident] = await app.database.knex('incidents').where({ instance_id: instance.id });
      expect(incident).toMatchObject({ activity_id: 'call', type: 'failedHandler', message: 'test.flaky: downstream unavailable' });

      await app.engine.setVariables(instance.id, { fail: false });
      expect((await app.database.knex('incidents').where({ instance_id: instance.id }).whereNull('resolved_at')).length).toBe(1);
      await app.engine.retryIncident(incident.id);
      expect((await app.engine.getInstance(instance.id)).status).toBe('completed');
      expect((await app.database.knex('incidents').where({ id: incident.id }).first()).resolved_at).not.toBeNull();
    });

    it('when a handler raises a BPMN error, then the error boundary event with that code catches it', async () => {
      const xml = bpmn(
        'rejecting',
        `<bpmn:startEvent id="start" />
        ${serviceTask('check', 'test.reject')}
        <bpmn:boundaryEvent id="caught" attachedToRef="check"><bpmn:errorEventDefinition errorRef="Rejected" /></bpmn:boundaryEvent>
        <bpmn:endEvent id="ok" /><bpmn:endEvent id="handled" />
        <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="check" />
        <bpmn:sequenceFlow id="f2" sourceRef="check" targetRef="ok" />
        <bpmn:sequenceFlow id="f3" sourceRef="caught" targetRef="handled" />`,
        '<bpmn:error id="Rejected" errorCode="REJECTED" />',
      );
      await app.engine.deploy([{ name: 'rejecting.bpmn', xml }]);
      const instance = await app.engine.start({ processKey: 'rejecting' });
      expect(instance.status).toBe('completed');
      const ends = await app.database.knex('history').where({ instance_id: instance.id, event: 'end' }).pluck('activity_id');
      expect(ends).toContain('handled');
      expect(ends).not.toContain('ok');
    });
  });

  describe('user tasks', () => {
    it('when a user task is completed with variables, then the instance continues and keeps them', async () => {
      const xml = sequence('approve', [
        { id: 'review', xml: '<bpmn:userTask id="review" name="Review" camunda:candidateGroups="ops, sre" />' },
      ]);
      await app.engine.deploy([{ name: 'approve.bpmn', xml }]);
      const instance = await app.engine.start({ processKey: 'approve', businessKey: 'order-1' });
      expect(instance.status).toBe('active');
      const [task] = await app.database.knex('user_tasks').where({ instance_id: instance.id });
      expect(task).toMatchObject({ activity_id: 'review', name: 'Review', candidate_groups: ['ops', 'sre'] });

      await app.engine.claimUserTask(task.id, 'alice');
      await expect(app.engine.claimUserTask(task.id, 'bob')).rejects.toMatchObject({ code: 'TASK_ALREADY_CLAIMED' });
      const done = await app.engine.completeUserTask(task.id, { approved: true });
      expect(done.status).toBe('completed');
      expect(done.variables).toMatchObject({ approved: true });
      expect(await app.database.knex('user_tasks').where({ instance_id: instance.id })).toHaveLength(0);
    });

    it('when variables carry a __proto__ key, then nothing is polluted', async () => {
      const xml = sequence('pollute', [{ id: 'wait', xml: '<bpmn:userTask id="wait" />' }]);
      await app.engine.deploy([{ name: 'pollute.bpmn', xml }]);
      const variables = JSON.parse('{"__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}}, "ok": 1}');
      const instance = await app.engine.start({ processKey: 'pollute', variables });
      const [task] = await app.database.knex('user_tasks').where({ instance_id: instance.id });
      await app.engine.completeUserTask(task.id, variables);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect((await app.engine.getInstance(instance.id)).variables).toEqual({ ok: 1 });
    });
  });

  describe('external tasks', () => {
    beforeAll(async () => {
      const xml = bpmn(
        'remote',
        `<bpmn:startEvent id="start" />
        ${serviceTask('work', 'remote.work')}
        <bpmn:boundaryEvent id="failed" attachedToRef="work"><bpmn:errorEventDefinition errorRef="Broken" /></bpmn:boundaryEvent>
        <bpmn:endEvent id="done" /><bpmn:endEvent id="broken" />
        <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="work" />
        <bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="done" />
        <bpmn:sequenceFlow id="f3" sourceRef="failed" targetRef="broken" />`,
        '<bpmn:error id="Broken" errorCode="BROKEN" />',
      );
      await app.engine.deploy([{ name: 'remote.bpmn', xml }]);
    });

    const fetch = (workerId: string, lockDuration = 10_000) =>
      app.engine.fetchAndLock({ workerId, maxTasks: 10, usePriority: true, topics: [{ topicName: 'remote.work', lockDuration }] });

    it('when a worker completes its locked task, then the instance continues with its variables', async () => {
      const instance = await app.engine.start({ processKey: 'remote', variables: { input: 'x' } });
      const [task] = await fetch('worker-1');
      expect(task).toMatchObject({ instance_id: instance.id, topic: 'remote.work', variables: { input: 'x' } });
      expect(await fetch('worker-2')).toHaveLength(0); // locked
      await expect(app.engine.completeExternalTask(task!.id, 'worker-2', {})).rejects.toMatchObject({ code: 'EXTERNAL_TASK_NOT_LOCKED' });
      await app.engine.completeExternalTask(task!.id, 'worker-1', { result: 42 });
      const done = await app.engine.getInstance(instance.id);
      expect(done.status).toBe('completed');
      expect(done.variables).toMatchObject({ input: 'x', result: 42 });
    });

    it('when a lock expires, then another worker can fetch it and the stale worker cannot complete', async () => {
      const instance = await app.engine.start({ processKey: 'remote' });
      const [task] = await fetch('slow', 1);
      await new Promise((resolve) => setTimeout(resolve, 20));
      const [again] = await fetch('fast');
      expect(again?.id).toBe(task!.id);
      await expect(app.engine.completeExternalTask(task!.id, 'slow', {})).rejects.toMatchObject({ code: 'EXTERNAL_TASK_NOT_LOCKED' });
      await app.engine.extendExternalTaskLock(again!.id, 'fast', 60_000);
      await app.engine.completeExternalTask(again!.id, 'fast', {});
      expect((await app.engine.getInstance(instance.id)).status).toBe('completed');
    });

    it('when failures use up the retries, then an incident is raised and a retry makes the task fetchable', async () => {
      const instance = await app.engine.start({ processKey: 'remote' });
      const [task] = await fetch('w');
      await app.engine.externalTaskFailure(task!.id, 'w', { errorMessage: 'boom', retries: 1, retryTimeout: 0 });
      const [second] = await fetch('w');
      expect(second).toMatchObject({ id: task!.id, retries: 1, error_message: 'boom' });
      await app.engine.externalTaskFailure(task!.id, 'w', { errorMessage: 'boom again', retries: 0 });
      expect(await fetch('w')).toHaveLength(0);
      const [incident] = await app.database.knex('incidents').where({ instance_id: instance.id });
      expect(incident).toMatchObject({ type: 'failedExternalTask', activity_id: 'work', message: 'boom again' });
      await app.engine.retryIncident(incident.id, 2);
      const [third] = await fetch('w');
      expect(third).toMatchObject({ id: task!.id, retries: 2 });
      await app.engine.completeExternalTask(task!.id, 'w');
      expect((await app.engine.getInstance(instance.id)).status).toBe('completed');
    });

    it('when a worker reports a BPMN error, then the error boundary event takes the instance', async () => {
      const instance = await app.engine.start({ processKey: 'remote' });
      const [task] = await fetch('w');
      await app.engine.externalTaskBpmnError(task!.id, 'w', { errorCode: 'BROKEN', variables: { why: 'disk' } });
      const done = await app.engine.getInstance(instance.id);
      expect(done).toMatchObject({ status: 'completed', variables: { why: 'disk' } });
      const ends = await app.database.knex('history').where({ instance_id: instance.id, event: 'end' }).pluck('activity_id');
      expect(ends).toContain('broken');
    });

    it('when a task is unlocked, then it can be fetched at once', async () => {
      await app.engine.start({ processKey: 'remote' });
      const [task] = await fetch('w');
      await app.engine.unlockExternalTask(task!.id);
      const [again] = await fetch('other');
      expect(again?.id).toBe(task!.id);
      await app.engine.completeExternalTask(again!.id, 'other');
    });
  });

  describe('messages and signals', () => {
    beforeAll(async () => {
      const waiting = bpmn(
        'awaits_payment',
        `<bpmn:startEvent id="start" />
        <bpmn:intermediateCatchEvent id="paid"><bpmn:messageEventDefinition messageRef="Paid" /></bpmn:intermediateCatchEvent>
        <bpmn:endEvent id="end" />
        <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="paid" />
        <bpmn:sequenceFlow id="f2" sourceRef="paid" targetRef="end" />`,
        '<bpmn:message id="Paid" name="payment.received" />',
      );
      const started = bpmn(
        'on_order',
        `<bpmn:startEvent id="start"><bpmn:messageEventDefinition messageRef="Order" /></bpmn:startEvent>
        <bpmn:userTask id="pack" />
        <bpmn:endEvent id="end" />
        <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="pack" />
        <bpmn:sequenceFlow id="f2" sourceRef="pack" targetRef="end" />`,
        '<bpmn:message id="Order" name="order.placed" />',
      );
      const signalled = bpmn(
        'on_freeze',
        `<bpmn:startEvent id="start" />
        <bpmn:intermediateCatchEvent id="frozen"><bpmn:signalEventDefinition signalRef="Freeze" /></bpmn:intermediateCatchEvent>
        <bpmn:endEvent id="end" />
        <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="frozen" />
        <bpmn:sequenceFlow id="f2" sourceRef="frozen" targetRef="end" />`,
        '<bpmn:signal id="Freeze" name="release.freeze" />',
      );
      await app.engine.deploy([
        { name: 'waiting.bpmn', xml: waiting },
        { name: 'started.bpmn', xml: started },
        { name: 'signalled.bpmn', xml: signalled },
      ]);
    });

    it('when a message is correlated by name and business key, then only that instance moves', async () => {
      const a = await app.engine.start({ processKey: 'awaits_payment', businessKey: 'A' });
      const b = await app.engine.start({ processKey: 'awaits_payment', businessKey: 'B' });
      await expect(app.engine.correlateMessage({ messageName: 'payment.received' })).rejects.toMatchObject({
        code: 'MESSAGE_CORRELATION_AMBIGUOUS',
      });
      const result = await app.engine.correlateMessage({ messageName: 'payment.received', businessKey: 'B', variables: { amount: 10 } });
      expect(result).toEqual([{ resultType: 'Execution', instanceId: b.id }]);
      expect(await app.engine.getInstance(b.id)).toMatchObject({ status: 'completed', variables: { amount: 10 } });
      expect((await app.engine.getInstance(a.id)).status).toBe('active');
      await app.engine.correlateMessage({ messageName: 'payment.received', correlationKeys: {}, processInstanceId: a.id });
      expect((await app.engine.getInstance(a.id)).status).toBe('completed');
    });

    it('when a message matches a message start event, then it starts an instance', async () => {
      const [result] = await app.engine.correlateMessage({ messageName: 'order.placed', businessKey: 'o-7', variables: { sku: 'x1' } });
      expect(result?.resultType).toBe('ProcessDefinition');
      const instance = await app.engine.getInstance(result!.instanceId);
      expect(instance).toMatchObject({ process_key: 'on_order', business_key: 'o-7', status: 'active', variables: { sku: 'x1' } });
      expect(await app.database.knex('user_tasks').where({ instance_id: instance.id })).toHaveLength(1);
    });

    it('when no subscription matches, then the correlation is refused', async () => {
      await expect(app.engine.correlateMessage({ messageName: 'nobody.listens' })).rejects.toMatchObject({ code: 'MESSAGE_NOT_CORRELATED' });
    });

    it('when a signal is broadcast, then every waiting instance receives it', async () => {
      const one = await app.engine.start({ processKey: 'on_freeze' });
      const two = await app.engine.start({ processKey: 'on_freeze' });
      const result = await app.engine.broadcastSignal('release.freeze');
      expect(result.delivered).toBe(2);
      expect((await app.engine.getInstance(one.id)).status).toBe('completed');
      expect((await app.engine.getInstance(two.id)).status).toBe('completed');
    });
  });

  describe('timers', () => {
    it('when an intermediate timer is due, then the job poller resumes the instance once', async () => {
      const xml = sequence('short_wait', [
        { id: 'pause', xml: '<bpmn:intermediateCatchEvent id="pause"><bpmn:timerEventDefinition><bpmn:timeDuration>PT0.3S</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>' },
      ]);
      await app.engine.deploy([{ name: 'short.bpmn', xml }]);
      const instance = await app.engine.start({ processKey: 'short_wait' });
      expect(instance.status).toBe('active');
      const [job] = await app.database.knex('jobs').where({ instance_id: instance.id });
      expect(job).toMatchObject({ kind: 'timer', activity_id: 'pause' });
      await eventually(async () => (await app.engine.getInstance(instance.id)).status === 'completed');
      expect(await app.database.knex('jobs').where({ instance_id: instance.id })).toHaveLength(0);
      const ends = await app.database.knex('history').where({ instance_id: instance.id, event: 'end', activity_id: 'pause' });
      expect(ends).toHaveLength(1);
    });

    it('when an interrupting boundary timer fires on a user task, then the task is withdrawn', async () => {
      const xml = bpmn(
        'escalate',
        `<bpmn:startEvent id="start" />
        <bpmn:userTask id="ack" />
        <bpmn:boundaryEvent id="late" attachedToRef="ack"><bpmn:timerEventDefinition><bpmn:timeDuration>PT0.2S</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>
        <bpmn:userTask id="escalated" />
        <bpmn:endEvent id="end" /><bpmn:endEvent id="end2" />
        <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="ack" />
        <bpmn:sequenceFlow id="f2" sourceRef="ack" targetRef="end" />
        <bpmn:sequenceFlow id="f3" sourceRef="late" targetRef="escalated" />
        <bpmn:sequenceFlow id="f4" sourceRef="escalated" targetRef="end2" />`,
      );
      await app.engine.deploy([{ name: 'escalate.bpmn', xml }]);
      const instance = await app.engine.start({ processKey: 'escalate' });
      const tasks = () => app.database.knex('user_tasks').where({ instance_id: instance.id }).pluck('activity_id');
      expect(await tasks()).toEqual(['ack']);
      await eventually(async () => (await tasks()).includes('escalated'));
      expect(await tasks()).toEqual(['escalated']);
    });
  });

  describe('gateways', () => {
    it('when conditions use the safe expression dialects, then the exclusive gateway picks the matching flow', async () => {
      const xml = bpmn(
        'route',
        `<bpmn:startEvent id="start" />
        <bpmn:exclusiveGateway id="split" default="toManual" />
        <bpmn:endEvent id="auto" /><bpmn:endEvent id="eu" /><bpmn:endEvent id="manual" />
        <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="split" />
        <bpmn:sequenceFlow id="toAuto" sourceRef="split" targetRef="auto"><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">\${score >= 80 &amp;&amp; region == "us"}</bpmn:conditionExpression></bpmn:sequenceFlow>
        <bpmn:sequenceFlow id="toEu" sourceRef="split" targetRef="eu"><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">=score &gt;= 80 and region = "eu"</bpmn:conditionExpression></bpmn:sequenceFlow>
        <bpmn:sequenceFlow id="toManual" sourceRef="split" targetRef="manual" />`,
      );
      await app.engine.deploy([{ name: 'route.bpmn', xml }]);
      const endOf = async (variables: Record<string, unknown>) => {
        const instance = await app.engine.start({ processKey: 'route', variables });
        const ends = await app.database.knex('history').where({ instance_id: instance.id, event: 'end' }).pluck('activity_id');
        return ends.find((id: string) => ['auto', 'eu', 'manual'].includes(id));
      };
      expect(await endOf({ score: 90, region: 'us' })).toBe('auto');
      expect(await endOf({ score: 90, region: 'eu' })).toBe('eu');
      expect(await endOf({ score: 10, region: 'eu' })).toBe('manual');
    });

    it('when a parallel split waits on two user tasks, then the join completes after both', async () => {
      const xml = bpmn(
        'both',
        `<bpmn:startEvent id="start" />
        <bpmn:parallelGateway id="fork" /><bpmn:userTask id="left" /><bpmn:userTask id="right" /><bpmn:parallelGateway id="join" />
        <bpmn:endEvent id="end" />
        <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="fork" />
        <bpmn:sequenceFlow id="f2" sourceRef="fork" targetRef="left" />
        <bpmn:sequenceFlow id="f3" sourceRef="fork" targetRef="right" />
        <bpmn:sequenceFlow id="f4" sourceRef="left" targetRef="join" />
        <bpmn:sequenceFlow id="f5" sourceRef="right" targetRef="join" />
        <bpmn:sequenceFlow id="f6" sourceRef="join" targetRef="end" />`,
      );
      await app.engine.deploy([{ name: 'both.bpmn', xml }]);
      const instance = await app.engine.start({ processKey: 'both' });
      const tasks = await app.database.knex('user_tasks').where({ instance_id: instance.id }).orderBy('activity_id');
      expect(tasks.map((task) => task.activity_id)).toEqual(['left', 'right']);
      // Both at once: the per-instance lock and the version guard serialise them.
      await Promise.all(tasks.map((task) => app.engine.completeUserTask(task.id, { [task.activity_id]: true })));
      expect(await app.engine.getInstance(instance.id)).toMatchObject({ status: 'completed', variables: { left: true, right: true } });
    });
  });

  describe('limits', () => {
    it('when 1,000 activities run without a wait state, then the stack holds and the instance completes', async () => {
      const steps = Array.from({ length: 1000 }, (_, index) => ({ id: `t${index}`, xml: `<bpmn:task id="t${index}" />` }));
      await app.engine.deploy([{ name: 'long.bpmn', xml: sequence('long_chain', steps) }]);
      const instance = await app.engine.start({ processKey: 'long_chain' });
      expect(instance.status).toBe('completed');
    });

    it('when a loop never reaches a wait state, then the transition stops at the step limit and nothing is stored', async () => {
      const xml = bpmn(
        'spin',
        `<bpmn:startEvent id="start" /><bpmn:exclusiveGateway id="merge" /><bpmn:task id="a" /><bpmn:exclusiveGateway id="again" default="back" /><bpmn:endEvent id="end" />
        <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="merge" />
        <bpmn:sequenceFlow id="f1" sourceRef="merge" targetRef="a" />
        <bpmn:sequenceFlow id="f2" sourceRef="a" targetRef="again" />
        <bpmn:sequenceFlow id="back" sourceRef="again" targetRef="merge" />
        <bpmn:sequenceFlow id="out" sourceRef="again" targetRef="end"><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">\${never == true}</bpmn:conditionExpression></bpmn:sequenceFlow>`,
      );
      await app.engine.deploy([{ name: 'spin.bpmn', xml }]);
      await expect(app.engine.start({ processKey: 'spin' })).rejects.toMatchObject({ code: 'STEP_LIMIT_EXCEEDED' });
      expect(await app.database.knex('process_instances').where({ process_key: 'spin' })).toHaveLength(0);
    });
  });

  describe('cancel', () => {
    it('when an instance is cancelled, then its wait rows are gone and it cannot be moved', async () => {
      const xml = sequence('cancel_me', [{ id: 'wait', xml: '<bpmn:userTask id="wait" />' }]);
      await app.engine.deploy([{ name: 'cancel.bpmn', xml }]);
      const instance = await app.engine.start({ processKey: 'cancel_me' });
      const [task] = await app.database.knex('user_tasks').where({ instance_id: instance.id });
      await app.engine.cancel(instance.id);
      expect((await app.engine.getInstance(instance.id)).status).toBe('cancelled');
      expect(await app.database.knex('user_tasks').where({ instance_id: instance.id })).toHaveLength(0);
      await expect(app.engine.completeUserTask(task.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });
  });
});
