import { z } from 'zod';
import { ServiceTaskRegistry } from '../../service-tasks/registry.js';
import { createApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { BpmnErrorSignal } from '../../src/engine/runtime/service-binding.js';
import type { Database } from '../../src/store/database.js';
import { TEST_TOKENS_SETTING } from '../support/server-process.js';
import { bpmn } from '../support/bpmn.js';
import { createTestApp, createTestDatabase, eventually, openEmbeddedTestDatabase } from '../support/test-app.js';

const MESSAGE = '<bpmn:message id="Msg_cancel" name="cancel_order" />';
const REJECTED = '<bpmn:error id="Rejected" errorCode="REJECTED" />';

/** `esp.reject` raises the BPMN error REJECTED. */
function registry() {
  return new ServiceTaskRegistry().register({
    topic: 'esp.reject',
    description: 'raises a BPMN error',
    mode: 'inline',
    input: z.object({}).passthrough(),
    output: z.object({}),
    handler: async () => {
      throw new BpmnErrorSignal('REJECTED', 'not allowed');
    },
  });
}

/** A process that waits at `work`, with an event sub-process `esp` whose start event is `startXml`. */
function withEventSubProcess(processId: string, startXml: string, espBody = '<bpmn:userTask id="esp_task" />', extra = ''): string {
  return bpmn(
    processId,
    `<bpmn:startEvent id="start" />
    <bpmn:userTask id="work" />
    <bpmn:endEvent id="end" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="work" />
    <bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="end" />
    <bpmn:subProcess id="esp" triggeredByEvent="true">
      ${startXml}
      ${espBody}
      <bpmn:endEvent id="esp_end" />
      <bpmn:sequenceFlow id="g1" sourceRef="esp_start" targetRef="esp_task" />
      <bpmn:sequenceFlow id="g2" sourceRef="esp_task" targetRef="esp_end" />
    </bpmn:subProcess>`,
    extra,
  );
}

/** Event sub-processes (triggeredByEvent) across transitions: the instance is saved and reloaded between wait and trigger. */
describe('event sub-processes', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;

  beforeAll(async () => {
    app = await createTestApp({ registry: registry() });
    app.poller.start();
  });
  afterAll(async () => {
    await app.dispose();
  });

  const userTasks = (instanceId: string) => app.database.knex('user_tasks').where({ instance_id: instanceId }).orderBy('activity_id').pluck('activity_id');
  const ended = (instanceId: string) => app.database.knex('history').where({ instance_id: instanceId, event: 'end' }).pluck('activity_id');
  const subscriptions = (instanceId: string) => app.database.knex('subscriptions').where({ instance_id: instanceId });
  const timerJobs = (instanceId: string) => app.database.knex('jobs').where({ instance_id: instanceId });
  const completeTask = async (instanceId: string, activityId: string, variables = {}) => {
    const task = await app.database.knex('user_tasks').where({ instance_id: instanceId, activity_id: activityId }).first();
    return app.engine.completeUserTask(task.id, variables);
  };

  it('when an interrupting message event sub-process is correlated while the process waits, then the waiting task is cancelled and the sub-process runs', async () => {
    // Given a process waiting at a user task, with an interrupting message event sub-process
    const xml = withEventSubProcess(
      'esp_message',
      '<bpmn:startEvent id="esp_start" isInterrupting="true"><bpmn:messageEventDefinition messageRef="Msg_cancel" /></bpmn:startEvent>',
      undefined,
      MESSAGE,
    );
    await app.engine.deploy([{ name: 'esp_message.bpmn', xml }]);
    const started = await app.engine.start({ processKey: 'esp_message', businessKey: 'order-1' });
    expect(await userTasks(started.id)).toEqual(['work']);

    // Then the event sub-process's start event is a subscription while the process waits
    expect(await subscriptions(started.id)).toEqual([expect.objectContaining({ kind: 'message', name: 'cancel_order', activity_id: 'esp_start' })]);

    // When the message is correlated (a new transition: the instance is reloaded from its state)
    await app.engine.correlateMessage({ messageName: 'cancel_order', businessKey: 'order-1', variables: { reason: 'customer' } });

    // Then `work` is gone and the event sub-process waits at its own task
    expect(await userTasks(started.id)).toEqual(['esp_task']);
    expect(await subscriptions(started.id)).toEqual([]);
    const row = await completeTask(started.id, 'esp_task');
    expect(row).toMatchObject({ status: 'completed', variables: expect.objectContaining({ reason: 'customer' }) });
    expect(await ended(started.id)).toEqual(expect.arrayContaining(['esp_task', 'esp_end', 'esp']));
    expect(await ended(started.id)).not.toContain('work');
  });

  it('when a non-interrupting message event sub-process is correlated, then it runs beside the waiting task, refuses a second message while it runs (known limitation: Camunda and Zeebe start a second run), and listens again once it ended', async () => {
    // Given a process waiting at a user task, with a non-interrupting message event sub-process
    const xml = withEventSubProcess(
      'esp_message_ni',
      '<bpmn:startEvent id="esp_start" isInterrupting="false"><bpmn:messageEventDefinition messageRef="Msg_cancel" /></bpmn:startEvent>',
      undefined,
      MESSAGE,
    );
    await app.engine.deploy([{ name: 'esp_message_ni.bpmn', xml }]);
    const started = await app.engine.start({ processKey: 'esp_message_ni', variables: { orderId: 'A-1' } });

    // When the message is correlated by a correlation key
    await app.engine.correlateMessage({ messageName: 'cancel_order', correlationKeys: { orderId: 'A-1' } });

    // Then `work` still waits beside the event sub-process, which does not listen while it runs: bpmn-elements runs
    // one activity once at a time (a known limitation, see the README)
    expect(await userTasks(started.id)).toEqual(['esp_task', 'work']);
    expect(await subscriptions(started.id)).toEqual([]);
    await expect(app.engine.correlateMessage({ messageName: 'cancel_order', correlationKeys: { orderId: 'A-1' } })).rejects.toMatchObject({
      code: 'MESSAGE_NOT_CORRELATED',
    });

    // And when it ended, it listens again and runs a second time
    await completeTask(started.id, 'esp_task');
    expect(await subscriptions(started.id)).toEqual([expect.objectContaining({ kind: 'message', activity_id: 'esp_start' })]);
    await app.engine.correlateMessage({ messageName: 'cancel_order', correlationKeys: { orderId: 'A-1' } });
    expect(await userTasks(started.id)).toEqual(['esp_task', 'work']);

    // And when everything is done the instance completes and listens no more
    await completeTask(started.id, 'esp_task');
    const row = await completeTask(started.id, 'work');
    expect(row.status).toBe('completed');
    expect(await subscriptions(started.id)).toEqual([]);
  });

  it('when a message for an event sub-process carries a variable named id, then the event sub-process still starts and the variable is set', async () => {
    // Given an interrupting message event sub-process
    const xml = withEventSubProcess(
      'esp_message_id',
      '<bpmn:startEvent id="esp_start"><bpmn:messageEventDefinition messageRef="Msg_cancel" /></bpmn:startEvent>',
      undefined,
      MESSAGE,
    );
    await app.engine.deploy([{ name: 'esp_message_id.bpmn', xml }]);
    const started = await app.engine.start({ processKey: 'esp_message_id', businessKey: 'order-42' });

    // When the message is correlated with a payload field `id`
    await app.engine.correlateMessage({ messageName: 'cancel_order', businessKey: 'order-42', variables: { id: 'order-42' } });

    // Then the event sub-process runs and `id` is a process variable
    expect(await userTasks(started.id)).toEqual(['esp_task']);
    expect((await app.engine.getInstance(started.id)).variables).toMatchObject({ id: 'order-42' });
  });

  it('when a non-interrupting message event sub-process is correlated, then a receive task of its scope waiting for the same message still waits', async () => {
    // Given a receive task for the same message beside the user task
    const xml = bpmn(
      'esp_message_receive',
      `<bpmn:startEvent id="start" />
      <bpmn:parallelGateway id="split" />
      <bpmn:userTask id="work" />
      <bpmn:receiveTask id="receive" messageRef="Msg_cancel" />
      <bpmn:endEvent id="end_a" /><bpmn:endEvent id="end_b" />
      <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="split" />
      <bpmn:sequenceFlow id="f1" sourceRef="split" targetRef="work" />
      <bpmn:sequenceFlow id="f2" sourceRef="split" targetRef="receive" />
      <bpmn:sequenceFlow id="f3" sourceRef="work" targetRef="end_a" />
      <bpmn:sequenceFlow id="f4" sourceRef="receive" targetRef="end_b" />
      <bpmn:subProcess id="esp" triggeredByEvent="true">
        <bpmn:startEvent id="esp_start" isInterrupting="false"><bpmn:messageEventDefinition messageRef="Msg_cancel" /></bpmn:startEvent>
        <bpmn:endEvent id="esp_end" />
        <bpmn:sequenceFlow id="g1" sourceRef="esp_start" targetRef="esp_end" />
      </bpmn:subProcess>`,
      MESSAGE,
    );
    await app.engine.deploy([{ name: 'esp_message_receive.bpmn', xml }]);
    const started = await app.engine.start({ processKey: 'esp_message_receive' });
    const rows = await subscriptions(started.id);
    expect(rows.map((row) => row.activity_id).sort()).toEqual(['esp_start', 'receive']);

    // When the message is delivered to the event sub-process's subscription
    const espRow = rows.find((row) => row.activity_id === 'esp_start');
    await app.engine.transition(started.id, { type: 'deliver-message', refId: espRow.ref_id, executionId: espRow.execution_id, variables: {} });

    // Then the event sub-process ran and the receive task still waits
    expect(await ended(started.id)).toContain('esp_end');
    expect(await ended(started.id)).not.toContain('receive');
    expect((await subscriptions(started.id)).map((row) => row.activity_id).sort()).toEqual(['esp_start', 'receive']);
  });

  it('when an interrupting timer event sub-process comes due while the process waits, then the job poller cancels the task and runs the sub-process', async () => {
    // Given a process waiting at a user task, with a 1-second interrupting timer event sub-process
    const xml = withEventSubProcess(
      'esp_timer',
      '<bpmn:startEvent id="esp_start"><bpmn:timerEventDefinition><bpmn:timeDuration>PT1S</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:startEvent>',
    );
    await app.engine.deploy([{ name: 'esp_timer.bpmn', xml }]);
    const started = await app.engine.start({ processKey: 'esp_timer' });

    // Then its timer is a job while the process waits
    expect(await timerJobs(started.id)).toEqual([expect.objectContaining({ activity_id: 'esp_start' })]);

    // When it comes due, then the poller interrupts `work` and the event sub-process waits at its task
    await eventually(async () => (await userTasks(started.id)).join() === 'esp_task');
    expect(await timerJobs(started.id)).toEqual([]);
    expect((await completeTask(started.id, 'esp_task')).status).toBe('completed');
  });

  it('when a non-interrupting timer-cycle event sub-process comes due, then it fires repeatedly beside the waiting task until the process ends', async () => {
    // Given a cycle of three one-second repetitions
    const xml = withEventSubProcess(
      'esp_cycle',
      '<bpmn:startEvent id="esp_start" isInterrupting="false"><bpmn:timerEventDefinition><bpmn:timeCycle>R3/PT1S</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:startEvent>',
      '<bpmn:task id="esp_task" />',
    );
    await app.engine.deploy([{ name: 'esp_cycle.bpmn', xml }]);
    const started = await app.engine.start({ processKey: 'esp_cycle' });

    // When the poller fires it, then it runs alongside `work` at least twice
    await eventually(async () => (await ended(started.id)).filter((id) => id === 'esp_task').length >= 2, 15_000);
    expect(await userTasks(started.id)).toEqual(['work']);

    // And when `work` completes, the process ends and the timer job goes with it
    expect((await completeTask(started.id, 'work')).status).toBe('completed');
    expect(await timerJobs(started.id)).toEqual([]);
  });

  const startsOf = (instanceId: string, activityId: string) =>
    app.database.knex('history').where({ instance_id: instanceId, activity_id: activityId, event: 'start' }).count({ n: '*' }).first().then((row) => Number(row?.n));

  it('when a non-interrupting timeDuration event sub-process fired into a wait state and ended, then it does not fire again', async () => {
    // Given a one-second duration whose event sub-process waits at a user task
    const xml = withEventSubProcess(
      'esp_duration_waits',
      '<bpmn:startEvent id="esp_start" isInterrupting="false"><bpmn:timerEventDefinition><bpmn:timeDuration>PT1S</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:startEvent>',
    );
    await app.engine.deploy([{ name: 'esp_duration_waits.bpmn', xml }]);
    const started = await app.engine.start({ processKey: 'esp_duration_waits' });

    // When it fires and its task is completed
    await eventually(async () => (await userTasks(started.id)).includes('esp_task'));
    await completeTask(started.id, 'esp_task');

    // Then no timer waits any more, and after its duration again it has still fired once
    expect(await timerJobs(started.id)).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(await userTasks(started.id)).toEqual(['work']);
    expect(await startsOf(started.id, 'esp_start')).toBe(1);
  });

  it('when a non-interrupting R2 timer-cycle event sub-process fires into a wait state, then it fires exactly twice', async () => {
    // Given a cycle of two one-second repetitions whose event sub-process waits at a user task
    const xml = withEventSubProcess(
      'esp_cycle_waits',
      '<bpmn:startEvent id="esp_start" isInterrupting="false"><bpmn:timerEventDefinition><bpmn:timeCycle>R2/PT1S</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:startEvent>',
    );
    await app.engine.deploy([{ name: 'esp_cycle_waits.bpmn', xml }]);
    const started = await app.engine.start({ processKey: 'esp_cycle_waits' });

    // When it fires, its task is completed, it fires again and that task is completed too
    await eventually(async () => (await userTasks(started.id)).includes('esp_task'));
    await completeTask(started.id, 'esp_task');
    await eventually(async () => (await userTasks(started.id)).includes('esp_task'));
    await completeTask(started.id, 'esp_task');

    // Then the cycle is used up: no timer waits, and no third run comes
    expect(await timerJobs(started.id)).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(await userTasks(started.id)).toEqual(['work']);
    expect(await startsOf(started.id, 'esp_start')).toBe(2);
  });

  it('when an event sub-process has a timer that is not valid, then deploy refuses it naming the start event, and lint says the same', async () => {
    // Given a timer event sub-process whose duration is no duration
    const xml = withEventSubProcess(
      'esp_bad_timer',
      '<bpmn:startEvent id="esp_start"><bpmn:timerEventDefinition><bpmn:timeDuration>soon</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:startEvent>',
    );

    // When it is linted and deployed
    const report = await app.engine.lint({ name: 'esp_bad_timer.bpmn', xml });
    const deploy = app.engine.deploy([{ name: 'esp_bad_timer.bpmn', xml }]);

    // Then both name the start event, and nothing is stored
    expect(report.ok).toBe(false);
    expect(report.errors).toEqual([expect.objectContaining({ elementId: 'esp_start', rule: 'timer' })]);
    await expect(deploy).rejects.toMatchObject({ code: 'INVALID_DEFINITION', message: expect.stringContaining('esp_start') });
    expect(await app.database.knex('process_definitions').where({ key: 'esp_bad_timer' })).toHaveLength(0);
  });

  it('when an event sub-process timer resolves to no valid timer at run time, then the instance starts with an incident and later transitions go through', async () => {
    // Given a timer event sub-process whose duration is read from a variable
    const xml = withEventSubProcess(
      'esp_variable_timer',
      '<bpmn:startEvent id="esp_start"><bpmn:timerEventDefinition><bpmn:timeDuration>${patience}</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:startEvent>',
    );
    await app.engine.deploy([{ name: 'esp_variable_timer.bpmn', xml }]);

    // When it starts with a value that is no duration
    const started = await app.engine.start({ processKey: 'esp_variable_timer', variables: { patience: 'a while' } });

    // Then it waits at `work` with an incident naming the start event, and no timer
    expect(started.status).toBe('active');
    const incidents = await app.database.knex('incidents').where({ instance_id: started.id });
    expect(incidents).toEqual([expect.objectContaining({ type: 'failedTimer', activity_id: 'esp_start', message: expect.stringContaining('a while') })]);
    expect(await timerJobs(started.id)).toEqual([]);

    // And later transitions go through, without a second incident
    await app.engine.setVariables(started.id, { note: 'still here' });
    expect((await completeTask(started.id, 'work')).status).toBe('completed');
    expect(await app.database.knex('incidents').where({ instance_id: started.id })).toHaveLength(1);
  });

  it('when a signal event sub-process is broadcast while the process waits, then it interrupts the task', async () => {
    // Given an interrupting signal event sub-process
    const xml = withEventSubProcess(
      'esp_signal',
      '<bpmn:startEvent id="esp_start"><bpmn:signalEventDefinition signalRef="Sig_halt" /></bpmn:startEvent>',
      undefined,
      '<bpmn:signal id="Sig_halt" name="halt_all" />',
    );
    await app.engine.deploy([{ name: 'esp_signal.bpmn', xml }]);
    const started = await app.engine.start({ processKey: 'esp_signal' });
    expect(await subscriptions(started.id)).toEqual([expect.objectContaining({ kind: 'signal', name: 'halt_all' })]);

    // When the signal is broadcast
    await app.engine.broadcastSignal('halt_all');

    // Then `work` is gone and the event sub-process waits
    expect(await userTasks(started.id)).toEqual(['esp_task']);
  });

  it('when a signal is broadcast to an instance with a signal catch and a non-interrupting signal event sub-process, then each runs once', async () => {
    // Given an instance waiting at a signal catch, with a non-interrupting event sub-process for the same signal
    const xml = bpmn(
      'esp_signal_and_catch',
      `<bpmn:startEvent id="start" />
      <bpmn:intermediateCatchEvent id="go"><bpmn:signalEventDefinition signalRef="Sig_go" /></bpmn:intermediateCatchEvent>
      <bpmn:userTask id="work" />
      <bpmn:endEvent id="end" />
      <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="go" />
      <bpmn:sequenceFlow id="f2" sourceRef="go" targetRef="work" />
      <bpmn:sequenceFlow id="f3" sourceRef="work" targetRef="end" />
      <bpmn:subProcess id="esp" triggeredByEvent="true">
        <bpmn:startEvent id="esp_start" isInterrupting="false"><bpmn:signalEventDefinition signalRef="Sig_go" /></bpmn:startEvent>
        <bpmn:task id="esp_task" />
        <bpmn:endEvent id="esp_end" />
        <bpmn:sequenceFlow id="g1" sourceRef="esp_start" targetRef="esp_task" />
        <bpmn:sequenceFlow id="g2" sourceRef="esp_task" targetRef="esp_end" />
      </bpmn:subProcess>`,
      '<bpmn:signal id="Sig_go" name="go_all" />',
    );
    await app.engine.deploy([{ name: 'esp_signal_and_catch.bpmn', xml }]);
    const started = await app.engine.start({ processKey: 'esp_signal_and_catch' });
    expect(await subscriptions(started.id)).toHaveLength(2);

    // When the signal is broadcast once
    const result = await app.engine.broadcastSignal('go_all');

    // Then both executions got it, once: the catch moved on to `work` and the event sub-process ran once
    expect(result).toEqual({ delivered: 2, started: 0 });
    expect(await userTasks(started.id)).toEqual(['work']);
    expect(await startsOf(started.id, 'esp_start')).toBe(1);
    expect(await startsOf(started.id, 'go')).toBe(1);
    expect(await ended(started.id)).toEqual(expect.arrayContaining(['go', 'esp_end']));
  });

  it('when a message event sub-process sits in an embedded sub-process, then it listens only while that sub-process is active', async () => {
    // Given a sub-process waiting at `inner_work`, with a message event sub-process inside it, then `after`
    const xml = bpmn(
      'esp_nested',
      `<bpmn:startEvent id="start" />
      <bpmn:subProcess id="inner">
        <bpmn:startEvent id="inner_start" />
        <bpmn:userTask id="inner_work" />
        <bpmn:endEvent id="inner_end" />
        <bpmn:sequenceFlow id="g1" sourceRef="inner_start" targetRef="inner_work" />
        <bpmn:sequenceFlow id="g2" sourceRef="inner_work" targetRef="inner_end" />
        <bpmn:subProcess id="esp" triggeredByEvent="true">
          <bpmn:startEvent id="esp_start"><bpmn:messageEventDefinition messageRef="Msg_cancel" /></bpmn:startEvent>
          <bpmn:endEvent id="esp_end" />
          <bpmn:sequenceFlow id="h1" sourceRef="esp_start" targetRef="esp_end" />
        </bpmn:subProcess>
      </bpmn:subProcess>
      <bpmn:userTask id="after" />
      <bpmn:endEvent id="end" />
      <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="inner" />
      <bpmn:sequenceFlow id="f2" sourceRef="inner" targetRef="after" />
      <bpmn:sequenceFlow id="f3" sourceRef="after" targetRef="end" />`,
      MESSAGE,
    );
    await app.engine.deploy([{ name: 'esp_nested.bpmn', xml }]);
    const started = await app.engine.start({ processKey: 'esp_nested' });
    expect(await subscriptions(started.id)).toEqual([expect.objectContaining({ kind: 'message', activity_id: 'esp_start' })]);

    // When the message is correlated, then the sub-process is interrupted and the process goes on to `after`
    await app.engine.correlateMessage({ messageName: 'cancel_order', processInstanceId: started.id });
    expect(await userTasks(started.id)).toEqual(['after']);
    expect(await subscriptions(started.id)).toEqual([]);
  });

  it('when an error is thrown in a later transition under an error event sub-process, then the sub-process catches it and the instance completes', async () => {
    // Given a user task (a wait state: the instance is saved) before an error end event, under an error event sub-process
    const xml = bpmn(
      'esp_error_later',
      `<bpmn:startEvent id="start" />
      <bpmn:userTask id="review" />
      <bpmn:endEvent id="boom"><bpmn:errorEventDefinition errorRef="Boom" /></bpmn:endEvent>
      <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="review" />
      <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="boom" />
      <bpmn:subProcess id="on_error" triggeredByEvent="true">
        <bpmn:startEvent id="on_error_start"><bpmn:errorEventDefinition errorRef="Boom" /></bpmn:startEvent>
        <bpmn:endEvent id="on_error_end" />
        <bpmn:sequenceFlow id="g1" sourceRef="on_error_start" targetRef="on_error_end" />
      </bpmn:subProcess>`,
      '<bpmn:error id="Boom" errorCode="BOOM" />',
    );
    await app.engine.deploy([{ name: 'esp_error_later.bpmn', xml }]);
    const started = await app.engine.start({ processKey: 'esp_error_later' });
    expect(started.status).toBe('active');

    // When the task is completed (the instance is reloaded and the error end event throws)
    const after = await completeTask(started.id, 'review');

    // Then the event sub-process caught it
    expect(after).toMatchObject({ status: 'completed', error_message: null });
    expect(await ended(started.id)).toContain('on_error_end');
  });

  it('when an error is thrown in a later transition inside a sub-process with an error event sub-process, then it is caught there and the process goes on', async () => {
    // Given the throw after a user task inside a sub-process that holds the error event sub-process
    const xml = bpmn(
      'esp_error_nested',
      `<bpmn:startEvent id="start" />
      <bpmn:subProcess id="inner">
        <bpmn:startEvent id="inner_start" />
        <bpmn:userTask id="review" />
        <bpmn:endEvent id="boom"><bpmn:errorEventDefinition errorRef="Boom" /></bpmn:endEvent>
        <bpmn:sequenceFlow id="g1" sourceRef="inner_start" targetRef="review" />
        <bpmn:sequenceFlow id="g2" sourceRef="review" targetRef="boom" />
        <bpmn:subProcess id="on_error" triggeredByEvent="true">
          <bpmn:startEvent id="on_error_start"><bpmn:errorEventDefinition errorRef="Boom" /></bpmn:startEvent>
          <bpmn:endEvent id="on_error_end" />
          <bpmn:sequenceFlow id="h1" sourceRef="on_error_start" targetRef="on_error_end" />
        </bpmn:subProcess>
      </bpmn:subProcess>
      <bpmn:userTask id="after" />
      <bpmn:endEvent id="end" />
      <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="inner" />
      <bpmn:sequenceFlow id="f2" sourceRef="inner" targetRef="after" />
      <bpmn:sequenceFlow id="f3" sourceRef="after" targetRef="end" />`,
      '<bpmn:error id="Boom" errorCode="BOOM" />',
    );
    await app.engine.deploy([{ name: 'esp_error_nested.bpmn', xml }]);
    const started = await app.engine.start({ processKey: 'esp_error_nested' });

    // When the task is completed
    const after = await completeTask(started.id, 'review');

    // Then the error was caught inside the sub-process and the process waits at `after`
    expect(after.status).toBe('active');
    expect(await userTasks(started.id)).toEqual(['after']);
    expect(await ended(started.id)).toContain('on_error_end');
  });

  it('when an interrupting message event sub-process is correlated, then the external task and timer of its scope go with the user task', async () => {
    // Given a parallel split into a user task, an external task and a 1-hour timer, under a message event sub-process
    const xml = bpmn(
      'esp_cancels_waits',
      `<bpmn:startEvent id="start" />
      <bpmn:parallelGateway id="split" />
      <bpmn:userTask id="work" />
      <bpmn:serviceTask id="remote" camunda:type="external" camunda:topic="esp.remote" />
      <bpmn:intermediateCatchEvent id="later"><bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
      <bpmn:endEvent id="end_a" /><bpmn:endEvent id="end_b" /><bpmn:endEvent id="end_c" />
      <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="split" />
      <bpmn:sequenceFlow id="f1" sourceRef="split" targetRef="work" />
      <bpmn:sequenceFlow id="f2" sourceRef="split" targetRef="remote" />
      <bpmn:sequenceFlow id="f3" sourceRef="split" targetRef="later" />
      <bpmn:sequenceFlow id="f4" sourceRef="work" targetRef="end_a" />
      <bpmn:sequenceFlow id="f5" sourceRef="remote" targetRef="end_b" />
      <bpmn:sequenceFlow id="f6" sourceRef="later" targetRef="end_c" />
      <bpmn:subProcess id="esp" triggeredByEvent="true">
        <bpmn:startEvent id="esp_start"><bpmn:messageEventDefinition messageRef="Msg_cancel" /></bpmn:startEvent>
        <bpmn:endEvent id="esp_end" />
        <bpmn:sequenceFlow id="g1" sourceRef="esp_start" targetRef="esp_end" />
      </bpmn:subProcess>`,
      MESSAGE,
    );
    await app.engine.deploy([{ name: 'esp_cancels_waits.bpmn', xml }]);
    const started = await app.engine.start({ processKey: 'esp_cancels_waits' });
    expect(await app.database.knex('external_tasks').where({ instance_id: started.id })).toHaveLength(1);
    expect(await timerJobs(started.id)).toEqual([expect.objectContaining({ activity_id: 'later' })]);

    // When the message is correlated
    await app.engine.correlateMessage({ messageName: 'cancel_order', processInstanceId: started.id });

    // Then the instance completed through the event sub-process and waits for nothing
    expect((await app.engine.getInstance(started.id)).status).toBe('completed');
    expect(await app.database.knex('external_tasks').where({ instance_id: started.id })).toHaveLength(0);
    expect(await timerJobs(started.id)).toEqual([]);
    expect(await userTasks(started.id)).toEqual([]);
    expect(await ended(started.id)).not.toContain('end_a');
  });

  it('when an interrupting message event sub-process is correlated while a call activity of its scope waits, then the called instance is cancelled', async () => {
    // Given a parent waiting at a call activity whose child waits at a user task
    const child = bpmn(
      'esp_child',
      `<bpmn:startEvent id="start" /><bpmn:userTask id="child_work" /><bpmn:endEvent id="end" />
      <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="child_work" />
      <bpmn:sequenceFlow id="f2" sourceRef="child_work" targetRef="end" />`,
    );
    const parent = withEventSubProcess(
      'esp_parent',
      '<bpmn:startEvent id="esp_start"><bpmn:messageEventDefinition messageRef="Msg_cancel" /></bpmn:startEvent>',
      undefined,
      MESSAGE,
    ).replace('<bpmn:userTask id="work" />', '<bpmn:callActivity id="work" calledElement="esp_child" />');
    await app.engine.deploy([
      { name: 'esp_child.bpmn', xml: child },
      { name: 'esp_parent.bpmn', xml: parent },
    ]);
    const started = await app.engine.start({ processKey: 'esp_parent' });
    const called = await app.database.knex('process_instances').where({ parent_instance_id: started.id }).first();
    expect(called.status).toBe('active');

    // When the message is correlated to the parent
    await app.engine.correlateMessage({ messageName: 'cancel_order', processInstanceId: started.id });

    // Then the parent runs its event sub-process and the called instance is cancelled
    expect(await userTasks(started.id)).toEqual(['esp_task']);
    expect((await app.engine.getInstance(called.id)).status).toBe('cancelled');
  });

  it('when an error nothing catches is thrown in a later transition beside an error event sub-process for another code, then the instance fails and nothing after it is recorded', async () => {
    // Given a user task before an error end event, under an event sub-process that catches another code
    const xml = bpmn(
      'esp_error_other',
      `<bpmn:startEvent id="start" />
      <bpmn:userTask id="review" />
      <bpmn:endEvent id="boom"><bpmn:errorEventDefinition errorRef="Boom" /></bpmn:endEvent>
      <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="review" />
      <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="boom" />
      <bpmn:subProcess id="on_error" triggeredByEvent="true">
        <bpmn:startEvent id="on_error_start"><bpmn:errorEventDefinition errorRef="Other" /></bpmn:startEvent>
        <bpmn:endEvent id="on_error_end" />
        <bpmn:sequenceFlow id="g1" sourceRef="on_error_start" targetRef="on_error_end" />
      </bpmn:subProcess>`,
      '<bpmn:error id="Boom" errorCode="BOOM" /><bpmn:error id="Other" errorCode="OTHER" />',
    );
    await app.engine.deploy([{ name: 'esp_error_other.bpmn', xml }]);
    const started = await app.engine.start({ processKey: 'esp_error_other' });

    // When the task is completed and the error end event throws
    const after = await completeTask(started.id, 'review');

    // Then the instance failed on it, with the thrower's error and not its end in the history
    expect(after).toMatchObject({ status: 'failed', error_message: expect.stringMatching(/^unhandled BPMN error BOOM\b.*\(thrown by boom\)$/) });
    const boom = await app.database.knex('history').where({ instance_id: started.id, activity_id: 'boom' }).orderBy('id').pluck('event');
    expect(boom).toEqual(['start', 'error']);
    expect(await ended(started.id)).not.toContain('on_error_end');
  });

  it('when a handler inside a sub-process raises a BPMN error, then the process-level error event sub-process for its code catches it', async () => {
    // Given a handler raising REJECTED inside a sub-process with no boundary event, under an error event sub-process for REJECTED
    const xml = bpmn(
      'esp_handler_error',
      `<bpmn:startEvent id="start" />
      <bpmn:subProcess id="inner">
        <bpmn:startEvent id="inner_start" />
        <bpmn:serviceTask id="check" camunda:type="external" camunda:topic="esp.reject" />
        <bpmn:endEvent id="inner_end" />
        <bpmn:sequenceFlow id="g1" sourceRef="inner_start" targetRef="check" />
        <bpmn:sequenceFlow id="g2" sourceRef="check" targetRef="inner_end" />
      </bpmn:subProcess>
      <bpmn:endEvent id="end" />
      <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="inner" />
      <bpmn:sequenceFlow id="f2" sourceRef="inner" targetRef="end" />
      <bpmn:subProcess id="on_error" triggeredByEvent="true">
        <bpmn:startEvent id="on_error_start"><bpmn:errorEventDefinition errorRef="Rejected" /></bpmn:startEvent>
        <bpmn:userTask id="on_error_task" />
        <bpmn:endEvent id="on_error_end" />
        <bpmn:sequenceFlow id="h1" sourceRef="on_error_start" targetRef="on_error_task" />
        <bpmn:sequenceFlow id="h2" sourceRef="on_error_task" targetRef="on_error_end" />
      </bpmn:subProcess>`,
      REJECTED,
    );
    await app.engine.deploy([{ name: 'esp_handler_error.bpmn', xml }]);

    // When it runs and the handler raises its error
    const started = await app.engine.start({ processKey: 'esp_handler_error' });

    // Then the event sub-process caught it: the instance waits in it, the task shows its error, `end` was not reached
    expect(started).toMatchObject({ status: 'active', error_message: null });
    expect(await userTasks(started.id)).toEqual(['on_error_task']);
    const check = await app.database.knex('history').where({ instance_id: started.id, activity_id: 'check' }).orderBy('id').pluck('event');
    expect(check).toEqual(['start', 'error']);
    expect((await completeTask(started.id, 'on_error_task')).status).toBe('completed');
    expect(await ended(started.id)).toEqual(expect.arrayContaining(['on_error_end', 'on_error']));
    expect(await ended(started.id)).not.toContain('end');
  });

  it('when an external-task worker reports a BPMN error, then a catch-all error event sub-process catches it', async () => {
    // Given an external task under an error event sub-process that names no error
    const xml = bpmn(
      'esp_worker_error',
      `<bpmn:startEvent id="start" />
      <bpmn:serviceTask id="remote" camunda:type="external" camunda:topic="esp.worker" />
      <bpmn:endEvent id="end" />
      <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="remote" />
      <bpmn:sequenceFlow id="f2" sourceRef="remote" targetRef="end" />
      <bpmn:subProcess id="on_error" triggeredByEvent="true">
        <bpmn:startEvent id="on_error_start"><bpmn:errorEventDefinition /></bpmn:startEvent>
        <bpmn:endEvent id="on_error_end" />
        <bpmn:sequenceFlow id="h1" sourceRef="on_error_start" targetRef="on_error_end" />
      </bpmn:subProcess>`,
    );
    await app.engine.deploy([{ name: 'esp_worker_error.bpmn', xml }]);
    const started = await app.engine.start({ processKey: 'esp_worker_error' });
    const [task] = await app.engine.fetchAndLock({ workerId: 'w', maxTasks: 1, usePriority: false, topics: [{ topicName: 'esp.worker', lockDuration: 10_000 }] });

    // When the worker reports a BPMN error
    await app.engine.externalTaskBpmnError(task!.id, 'w', { errorCode: 'OUT_OF_STOCK', errorMessage: 'no items left', variables: { why: 'stock' } });

    // Then the event sub-process caught it and the instance completed through it
    const row = await app.engine.getInstance(started.id);
    expect(row).toMatchObject({ status: 'completed', error_message: null, variables: expect.objectContaining({ why: 'stock' }) });
    expect(await ended(started.id)).toContain('on_error_end');
    expect(await ended(started.id)).not.toContain('end');
    expect(await app.database.knex('external_tasks').where({ instance_id: started.id })).toHaveLength(0);
  });

  it('when a called instance fails, then an error event sub-process of the calling scope catches its error', async () => {
    // Given a child that throws BOOM after a user task, called from a parent with an error event sub-process for BOOM
    const child = bpmn(
      'esp_failing_child',
      `<bpmn:startEvent id="start" /><bpmn:userTask id="approve" />
      <bpmn:endEvent id="boom"><bpmn:errorEventDefinition errorRef="Boom" /></bpmn:endEvent>
      <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="approve" />
      <bpmn:sequenceFlow id="f2" sourceRef="approve" targetRef="boom" />`,
      '<bpmn:error id="Boom" errorCode="BOOM" />',
    );
    const parent = bpmn(
      'esp_catching_parent',
      `<bpmn:startEvent id="start" />
      <bpmn:callActivity id="call" calledElement="esp_failing_child" />
      <bpmn:endEvent id="end" />
      <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="call" />
      <bpmn:sequenceFlow id="f2" sourceRef="call" targetRef="end" />
      <bpmn:subProcess id="on_error" triggeredByEvent="true">
        <bpmn:startEvent id="on_error_start"><bpmn:errorEventDefinition errorRef="ParentBoom" /></bpmn:startEvent>
        <bpmn:endEvent id="on_error_end" />
        <bpmn:sequenceFlow id="h1" sourceRef="on_error_start" targetRef="on_error_end" />
      </bpmn:subProcess>`,
      '<bpmn:error id="ParentBoom" errorCode="BOOM" />',
    );
    await app.engine.deploy([
      { name: 'esp_failing_child.bpmn', xml: child },
      { name: 'esp_catching_parent.bpmn', xml: parent },
    ]);
    const started = await app.engine.start({ processKey: 'esp_catching_parent' });
    const called = await app.database.knex('process_instances').where({ parent_instance_id: started.id }).first();

    // When the child's task is completed and it fails on BOOM
    await completeTask(called.id, 'approve');

    // Then the child failed, and the parent completed through its event sub-process
    expect((await app.engine.getInstance(called.id)).status).toBe('failed');
    const done = await eventually(async () => {
      const row = await app.engine.getInstance(started.id);
      return row.status !== 'active' && row;
    });
    expect(done).toMatchObject({ status: 'completed', error_message: null });
    expect(await ended(started.id)).toContain('on_error_end');
    expect(await ended(started.id)).not.toContain('end');
  });
});

/** Two engines on one database: what one node committed, the other resumes. */
describe('event sub-processes on two nodes', () => {
  const apps: App[] = [];
  let shared: Database | undefined;
  let dropDatabase = async () => {};

  beforeAll(async () => {
    const database = await createTestDatabase();
    dropDatabase = database.drop;
    if (!database.url) shared = await openEmbeddedTestDatabase();
    for (const node of ['node-a', 'node-b']) {
      const config = loadConfig({
        PORT: '0',
        REGENFLOW_DATA_DIR: '/tmp/regenflow-unused',
        REGENFLOW_NODE_ID: node,
        REGENFLOW_JOB_POLL_MS: '50',
        REGENFLOW_TOKENS: TEST_TOKENS_SETTING,
        ...(database.url && { DATABASE_URL: database.url, REGENFLOW_DB_POOL: '2' }),
      });
      apps.push(await createApp(config, { ...(shared && { database: shared }), log: () => {} }));
    }
  });
  afterAll(async () => {
    for (const app of apps) await app.close();
    await shared?.close();
    await dropDatabase();
  });

  it('when one node starts the instance and the other correlates the message and fires the error, then the event sub-processes run there', async () => {
    // Given a process deployed and started on node A: a message event sub-process and an error event sub-process
    const [a, b] = apps as [App, App];
    const xml = bpmn(
      'esp_two_nodes',
      `<bpmn:startEvent id="start" />
      <bpmn:userTask id="work" />
      <bpmn:endEvent id="boom"><bpmn:errorEventDefinition errorRef="Boom" /></bpmn:endEvent>
      <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="work" />
      <bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="boom" />
      <bpmn:subProcess id="on_message" triggeredByEvent="true">
        <bpmn:startEvent id="on_message_start" isInterrupting="false"><bpmn:messageEventDefinition messageRef="Msg_cancel" /></bpmn:startEvent>
        <bpmn:endEvent id="on_message_end" />
        <bpmn:sequenceFlow id="g1" sourceRef="on_message_start" targetRef="on_message_end" />
      </bpmn:subProcess>
      <bpmn:subProcess id="on_error" triggeredByEvent="true">
        <bpmn:startEvent id="on_error_start"><bpmn:errorEventDefinition errorRef="Boom" /></bpmn:startEvent>
        <bpmn:endEvent id="on_error_end" />
        <bpmn:sequenceFlow id="h1" sourceRef="on_error_start" targetRef="on_error_end" />
      </bpmn:subProcess>`,
      `${MESSAGE}<bpmn:error id="Boom" errorCode="BOOM" />`,
    );
    await a.engine.deploy([{ name: 'esp_two_nodes.bpmn', xml }]);
    const started = await a.engine.start({ processKey: 'esp_two_nodes', businessKey: 'two-nodes' });

    // When node B correlates the message, then its event sub-process ran there and `work` still waits
    await b.engine.correlateMessage({ messageName: 'cancel_order', businessKey: 'two-nodes' });
    const history = () => b.database.knex('history').where({ instance_id: started.id, event: 'end' }).pluck('activity_id');
    expect(await history()).toContain('on_message_end');

    // And when node B completes `work`, its error is caught by the error event sub-process
    const task = await b.database.knex('user_tasks').where({ instance_id: started.id, activity_id: 'work' }).first();
    const after = await b.engine.completeUserTask(task.id);
    expect(after).toMatchObject({ status: 'completed', error_message: null });
    expect(await history()).toContain('on_error_end');
  });

  it('when one node starts an instance with a timer event sub-process, then a job run on the other node fires it', async () => {
    // Given an instance started on node A, waiting at `work` under a one-second interrupting timer event sub-process
    const [a, b] = apps as [App, App];
    await a.engine.deploy([
      {
        name: 'esp_timer_two_nodes.bpmn',
        xml: withEventSubProcess(
          'esp_timer_two_nodes',
          '<bpmn:startEvent id="esp_start"><bpmn:timerEventDefinition><bpmn:timeDuration>PT1S</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:startEvent>',
        ),
      },
    ]);
    const started = await a.engine.start({ processKey: 'esp_timer_two_nodes' });

    // When the timer is due and node B runs the due jobs
    await eventually(async () => (await b.engine.runDueJobs()) > 0, 10_000);

    // Then node B interrupted `work` and the event sub-process waits at its task
    const tasks = await b.database.knex('user_tasks').where({ instance_id: started.id }).pluck('activity_id');
    expect(tasks).toEqual(['esp_task']);
    expect(await b.database.knex('jobs').where({ instance_id: started.id })).toEqual([]);
  });
});
