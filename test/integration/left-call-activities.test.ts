import { randomUUID } from 'node:crypto';
import { bpmn, sequence } from '../support/bpmn.js';
import { createTestApp, eventually } from '../support/test-app.js';

const MESSAGE = '<bpmn:message id="Stop" name="stop" />';
const HOUR = '<bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition>';

/**
 * A call activity left while its called instance still runs (interrupting boundary event,
 * terminate end event, interrupted multi-instance) cancels
 * that instance and its descendants in the parent's commit, while the parent goes on; a
 * hand-back that arrives late for an execution that no longer waits is dropped when its called
 * instance was cancelled, else it fails into an incident.
 */
describe('call activities left while their called instance runs', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  const ended: Array<{ id: string; status: string; processKey: string }> = [];

  beforeAll(async () => {
    app = await createTestApp();
    app.poller.start();
    app.engine.on('instance.ended', (event) => ended.push(event));
    // `waitkid` waits at a user task; `mid` calls it (so a call tree has a grandchild).
    const waitkid = sequence('waitkid', [{ id: 'wait', xml: '<bpmn:userTask id="wait" />' }]);
    const mid = sequence('mid', [{ id: 'call_waitkid', xml: '<bpmn:callActivity id="call_waitkid" calledElement="waitkid" />' }]);
    for (const [name, xml] of Object.entries({ waitkid, mid })) await app.engine.deploy([{ name: `${name}.bpmn`, xml }]);
  });
  afterAll(async () => {
    await app.dispose();
  });

  const knex = () => app.database.knex;
  const childrenOf = (parentId: string): Promise<Array<{ id: string; status: string; parent_execution_id: string }>> =>
    knex()('process_instances').where({ parent_instance_id: parentId }).orderBy('parent_execution_id');
  const childOf = (parentId: string) =>
    eventually(() => knex()('process_instances').where({ parent_instance_id: parentId }).first() as Promise<{ id: string } | undefined>);
  const taskOf = (instanceId: string, activityId: string) => knex()('user_tasks').where({ instance_id: instanceId, activity_id: activityId }).first();
  const incidents = (instanceId: string) => knex()('incidents').where({ instance_id: instanceId });
  /** Queues a child's hand-back to `executionId` of the parent, on its last retry (as one queued earlier would be); returns the job id. */
  async function queueLastHandBack(parentId: string, childId: string, executionId: string, variables: Record<string, unknown>): Promise<string> {
    const id = randomUUID();
    await knex()('jobs').insert({
      id,
      kind: 'call-completed',
      instance_id: parentId,
      activity_id: executionId,
      timer_key: `call-completed/${childId}`,
      due_at: new Date(),
      retries: 1,
      payload: JSON.stringify({ executionId, variables, childId }),
    });
    app.engine.emit('jobs.scheduled');
    return id;
  }

  /** A parent with a call activity (`call`, calling `calledElement`), a path out of it to `after` (a user task), and `extra` elements. */
  function parentWith(processId: string, call: string, extra: string, extraFlows: string, definitions = MESSAGE): string {
    return bpmn(
      processId,
      `<bpmn:startEvent id="start" />
      ${call}
      <bpmn:endEvent id="end" />
      <bpmn:userTask id="after" />
      <bpmn:endEvent id="after_end" />
      ${extra}
      <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="call" />
      <bpmn:sequenceFlow id="f2" sourceRef="call" targetRef="end" />
      <bpmn:sequenceFlow id="f_after" sourceRef="after" targetRef="after_end" />
      ${extraFlows}`,
      definitions,
    );
  }

  /** A cancelled called instance: no waits left, its end announced, its trace closed as cancelled. */
  async function expectCancelled(id: string, processKey: string, reason: string) {
    const row = await app.engine.getInstance(id);
    expect(row).toMatchObject({ status: 'cancelled', error_message: reason, state: null });
    expect(row.ended_at).not.toBeNull();
    expect(await knex()('user_tasks').where({ instance_id: id })).toHaveLength(0);
    expect(await knex()('history').where({ instance_id: id, event: 'instance.cancelled' })).toHaveLength(1);
    expect(ended).toContainEqual({ id, status: 'cancelled', processKey });
    await app.telemetry.flush();
    const root = (await app.telemetry.spans.listByInstance(id)).find((span) => span.spanId === row.root_span_id);
    expect(root?.attributes).toMatchObject({ status: 'cancelled', 'bpmn.cancel.reason': reason });
  }

  /** The parent went on past the call activity: active, waiting at `after`, the call activity left. */
  async function expectWentOn(parentId: string, leftAs: string) {
    expect(await app.engine.getInstance(parentId)).toMatchObject({ status: 'active' });
    expect(await taskOf(parentId, 'after')).toBeDefined();
    expect(await knex()('history').where({ instance_id: parentId, activity_id: 'call' }).pluck('event')).toContain(leftAs);
  }

  it('when an interrupting timer boundary event on a call activity fires, then the called instance and its own child are cancelled in the same commit', async () => {
    // Given top -> mid -> waitkid (at a user task), with a one-hour timer on top's call activity
    const xml = parentWith(
      'timer_top',
      '<bpmn:callActivity id="call" calledElement="mid" />',
      `<bpmn:boundaryEvent id="too_long" attachedToRef="call">${HOUR}</bpmn:boundaryEvent>`,
      '<bpmn:sequenceFlow id="f3" sourceRef="too_long" targetRef="after" />',
    );
    await app.engine.deploy([{ name: 'timer_top.bpmn', xml }]);
    const top = await app.engine.start({ processKey: 'timer_top' });
    const midRow = await childOf(top.id);
    const kid = await childOf(midRow.id);

    // When the timer fires (run now, as an operator would)
    const timer = await knex()('jobs').where({ instance_id: top.id, kind: 'timer' }).first();
    await app.engine.executeJob(timer.id);

    // Then top went on along the timer's path, and mid and waitkid were cancelled with that commit
    await expectWentOn(top.id, 'interrupt');
    await expectCancelled(midRow.id, 'mid', `parent ${top.id} left call activity call`);
    await expectCancelled(kid.id, 'waitkid', `parent ${midRow.id} cancelled`);
    expect(await incidents(top.id)).toHaveLength(0);
  });

  it('when an interrupting message boundary event fires, then the called instance is cancelled, and a hand-back that arrives later is dropped without an incident', async () => {
    // Given a parent waiting in its called instance, with a message boundary event on the call activity
    const xml = parentWith(
      'message_top',
      '<bpmn:callActivity id="call" calledElement="waitkid" />',
      '<bpmn:boundaryEvent id="stopped" attachedToRef="call"><bpmn:messageEventDefinition messageRef="Stop" /></bpmn:boundaryEvent>',
      '<bpmn:sequenceFlow id="f3" sourceRef="stopped" targetRef="after" />',
    );
    await app.engine.deploy([{ name: 'message_top.bpmn', xml }]);
    const parent = await app.engine.start({ processKey: 'message_top', businessKey: 'msg-1' });
    const kid = await childOf(parent.id);

    // When the message arrives
    await app.engine.correlateMessage({ messageName: 'stop', businessKey: 'msg-1' });

    // Then the parent went on, and its called instance was cancelled
    await expectWentOn(parent.id, 'interrupt');
    await expectCancelled(kid.id, 'waitkid', `parent ${parent.id} left call activity call`);
    expect(await knex()('jobs').where({ instance_id: parent.id }).whereIn('kind', ['call-completed', 'call-failed'])).toHaveLength(0);

    // And when a hand-back for the left execution still arrives (as one queued before the fix would), on its last retry
    const jobId = await queueLastHandBack(parent.id, kid.id, (await app.engine.getInstance(kid.id)).parent_execution_id as string, { late: true });
    await eventually(async () => {
      const job = await knex()('jobs').where({ id: jobId }).first();
      return !job || job.retries === 0;
    });

    // Then it is gone, without an incident, and the parent still waits where it was
    expect(await knex()('jobs').where({ id: jobId })).toHaveLength(0);
    expect(await incidents(parent.id)).toHaveLength(0);
    expect(await app.engine.getInstance(parent.id)).toMatchObject({ status: 'active' });
    expect((await app.engine.getInstance(parent.id)).variables).not.toHaveProperty('late');
  });

  it('when a hand-back finds no waiting call activity while its child was not cancelled, then it fails into an incident instead of being dropped', async () => {
    // Given a parent waiting at a user task, and a child that completed (nothing cancelled it)
    await app.engine.deploy([{ name: 'no_call.bpmn', xml: sequence('no_call', [{ id: 'work', xml: '<bpmn:userTask id="work" />' }]) }]);
    const parent = await app.engine.start({ processKey: 'no_call' });
    const kid = await app.engine.start({ processKey: 'waitkid' });
    await app.engine.completeUserTask((await taskOf(kid.id, 'wait')).id);
    expect((await app.engine.getInstance(kid.id)).status).toBe('completed');

    // When a hand-back for an execution the parent does not have runs, on its last retry
    const jobId = await queueLastHandBack(parent.id, kid.id, 'call_0123456789', {});
    await eventually(async () => (await knex()('jobs').where({ id: jobId }).first())?.retries === 0);

    // Then the job stays with an incident saying why
    expect(await incidents(parent.id)).toEqual([expect.objectContaining({ type: 'failedJob', job_id: jobId, message: expect.stringContaining('is not waiting') })]);
  });

  it('when the called instance completes and then an interrupting boundary event fires before the hand-back runs, then the hand-back goes with that commit and no incident follows', async () => {
    // Given a parent whose called instance finished while the poller was stopped (its hand-back queued)
    const xml = parentWith(
      'race_top',
      '<bpmn:callActivity id="call" calledElement="waitkid" />',
      '<bpmn:boundaryEvent id="stopped" attachedToRef="call"><bpmn:messageEventDefinition messageRef="Stop" /></bpmn:boundaryEvent>',
      '<bpmn:sequenceFlow id="f3" sourceRef="stopped" targetRef="after" />',
    );
    await app.engine.deploy([{ name: 'race_top.bpmn', xml }]);
    await app.poller.stop();
    let parent;
    try {
      parent = await app.engine.start({ processKey: 'race_top', businessKey: 'race-1' });
      const kid = await childOf(parent.id);
      await app.engine.completeUserTask((await taskOf(kid.id, 'wait')).id);
      expect(await app.engine.getInstance(kid.id)).toMatchObject({ status: 'completed' });
      expect(await knex()('jobs').where({ instance_id: parent.id, kind: 'call-completed' })).toHaveLength(1);

      // When the message interrupts the call activity first
      await app.engine.correlateMessage({ messageName: 'stop', businessKey: 'race-1' });
    } finally {
      app.poller.start();
    }

    // Then the parent went on along the message path, the hand-back is gone, and nothing raised an incident
    await expectWentOn(parent.id, 'interrupt');
    expect(await knex()('jobs').where({ instance_id: parent.id, kind: 'call-completed' })).toHaveLength(0);
    expect(await incidents(parent.id)).toHaveLength(0);
  });

  it('when a non-interrupting boundary event fires, then the called instance keeps running and hands back as usual', async () => {
    // Given a parent with a non-interrupting message boundary event on its call activity
    const xml = parentWith(
      'gentle_top',
      '<bpmn:callActivity id="call" calledElement="waitkid" />',
      '<bpmn:boundaryEvent id="nudged" attachedToRef="call" cancelActivity="false"><bpmn:messageEventDefinition messageRef="Stop" /></bpmn:boundaryEvent>',
      '<bpmn:sequenceFlow id="f3" sourceRef="nudged" targetRef="after" />',
    );
    await app.engine.deploy([{ name: 'gentle_top.bpmn', xml }]);
    const parent = await app.engine.start({ processKey: 'gentle_top', businessKey: 'gentle-1' });
    const kid = await childOf(parent.id);

    // When the message arrives
    await app.engine.correlateMessage({ messageName: 'stop', businessKey: 'gentle-1' });

    // Then the parent also waits at `after`, and the called instance still runs
    expect(await taskOf(parent.id, 'after')).toBeDefined();
    expect(await app.engine.getInstance(kid.id)).toMatchObject({ status: 'active' });

    // And when both finish, the parent completes through its call activity
    await app.engine.completeUserTask((await taskOf(kid.id, 'wait')).id);
    await app.engine.completeUserTask((await taskOf(parent.id, 'after')).id);
    const done = await eventually(async () => {
      const row = await app.engine.getInstance(parent.id);
      return row.status !== 'active' && row;
    });
    expect(done.status).toBe('completed');
    expect(await knex()('history').where({ instance_id: parent.id, activity_id: 'call' }).pluck('event')).toContain('end');
    expect(await app.engine.getInstance(kid.id)).toMatchObject({ status: 'completed' });
    expect(await incidents(parent.id)).toHaveLength(0);
  });

  it('when an interrupting signal boundary event on the sub-process around a call activity fires, then the called instance is cancelled', async () => {
    // Given a sub-process running a call activity, with a signal boundary event on the sub-process
    const xml = bpmn(
      'signal_top',
      `<bpmn:startEvent id="start" />
      <bpmn:subProcess id="scope">
        <bpmn:startEvent id="scope_start" />
        <bpmn:callActivity id="call" calledElement="waitkid" />
        <bpmn:endEvent id="scope_end" />
        <bpmn:sequenceFlow id="g1" sourceRef="scope_start" targetRef="call" />
        <bpmn:sequenceFlow id="g2" sourceRef="call" targetRef="scope_end" />
      </bpmn:subProcess>
      <bpmn:boundaryEvent id="aborted" attachedToRef="scope"><bpmn:signalEventDefinition signalRef="Abort" /></bpmn:boundaryEvent>
      <bpmn:endEvent id="end" />
      <bpmn:userTask id="after" />
      <bpmn:endEvent id="after_end" />
      <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="scope" />
      <bpmn:sequenceFlow id="f2" sourceRef="scope" targetRef="end" />
      <bpmn:sequenceFlow id="f3" sourceRef="aborted" targetRef="after" />
      <bpmn:sequenceFlow id="f4" sourceRef="after" targetRef="after_end" />`,
      '<bpmn:signal id="Abort" name="abort-left-calls" />',
    );
    await app.engine.deploy([{ name: 'signal_top.bpmn', xml }]);
    const parent = await app.engine.start({ processKey: 'signal_top' });
    const kid = await childOf(parent.id);

    // When the signal is broadcast
    await app.engine.broadcastSignal('abort-left-calls');

    // Then the parent went on along the signal's path, and the called instance was cancelled
    expect(await app.engine.getInstance(parent.id)).toMatchObject({ status: 'active' });
    expect(await taskOf(parent.id, 'after')).toBeDefined();
    await expectCancelled(kid.id, 'waitkid', `parent ${parent.id} left call activity call`);
    expect(await incidents(parent.id)).toHaveLength(0);
  });

  it('when a terminate end event ends the sub-process around a running call activity, then the called instance is cancelled and the parent goes on', async () => {
    // Given a sub-process running a call activity and, in parallel, a user task leading to a terminate end event
    const xml = bpmn(
      'terminate_top',
      `<bpmn:startEvent id="start" />
      <bpmn:subProcess id="scope">
        <bpmn:startEvent id="scope_start" />
        <bpmn:parallelGateway id="fork" />
        <bpmn:callActivity id="call" calledElement="waitkid" />
        <bpmn:endEvent id="call_end" />
        <bpmn:userTask id="give_up" />
        <bpmn:endEvent id="terminate"><bpmn:terminateEventDefinition /></bpmn:endEvent>
        <bpmn:sequenceFlow id="g1" sourceRef="scope_start" targetRef="fork" />
        <bpmn:sequenceFlow id="g2" sourceRef="fork" targetRef="call" />
        <bpmn:sequenceFlow id="g3" sourceRef="call" targetRef="call_end" />
        <bpmn:sequenceFlow id="g4" sourceRef="fork" targetRef="give_up" />
        <bpmn:sequenceFlow id="g5" sourceRef="give_up" targetRef="terminate" />
      </bpmn:subProcess>
      <bpmn:userTask id="after" />
      <bpmn:endEvent id="end" />
      <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="scope" />
      <bpmn:sequenceFlow id="f2" sourceRef="scope" targetRef="after" />
      <bpmn:sequenceFlow id="f3" sourceRef="after" targetRef="end" />`,
    );
    await app.engine.deploy([{ name: 'terminate_top.bpmn', xml }]);
    const parent = await app.engine.start({ processKey: 'terminate_top' });
    const kid = await childOf(parent.id);

    // When the parallel path reaches the terminate end event
    await app.engine.completeUserTask((await taskOf(parent.id, 'give_up')).id);

    // Then the sub-process ended, the parent waits at `after`, and the called instance was cancelled
    expect(await app.engine.getInstance(parent.id)).toMatchObject({ status: 'active' });
    expect(await taskOf(parent.id, 'after')).toBeDefined();
    await expectCancelled(kid.id, 'waitkid', `parent ${parent.id} left call activity call`);
    expect(await incidents(parent.id)).toHaveLength(0);
  });

  it('when a terminate end event ends the whole parent, then its called instance is cancelled too', async () => {
    // Given a parent running a call activity and, in parallel, a user task leading to a terminate end event
    const xml = bpmn(
      'terminate_all',
      `<bpmn:startEvent id="start" />
      <bpmn:parallelGateway id="fork" />
      <bpmn:callActivity id="call" calledElement="mid" />
      <bpmn:endEvent id="end" />
      <bpmn:userTask id="give_up" />
      <bpmn:endEvent id="terminate"><bpmn:terminateEventDefinition /></bpmn:endEvent>
      <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="fork" />
      <bpmn:sequenceFlow id="f2" sourceRef="fork" targetRef="call" />
      <bpmn:sequenceFlow id="f3" sourceRef="call" targetRef="end" />
      <bpmn:sequenceFlow id="f4" sourceRef="fork" targetRef="give_up" />
      <bpmn:sequenceFlow id="f5" sourceRef="give_up" targetRef="terminate" />`,
    );
    await app.engine.deploy([{ name: 'terminate_all.bpmn', xml }]);
    const parent = await app.engine.start({ processKey: 'terminate_all' });
    const midRow = await childOf(parent.id);
    const kid = await childOf(midRow.id);

    // When the terminate end event is reached
    const after = await app.engine.completeUserTask((await taskOf(parent.id, 'give_up')).id);

    // Then the parent completed, and mid and waitkid were cancelled in that commit
    expect(after.status).toBe('completed');
    await expectCancelled(midRow.id, 'mid', `parent ${parent.id} completed`);
    await expectCancelled(kid.id, 'waitkid', `parent ${midRow.id} cancelled`);
  });

  it('when a parallel multi-instance call activity is interrupted, then every running called instance is cancelled', async () => {
    // Given three called instances waiting under one call activity with a message boundary event
    const xml = parentWith(
      'mi_parallel_top',
      `<bpmn:callActivity id="call" calledElement="waitkid">
        <bpmn:multiInstanceLoopCharacteristics><bpmn:loopCardinality>3</bpmn:loopCardinality></bpmn:multiInstanceLoopCharacteristics>
      </bpmn:callActivity>`,
      '<bpmn:boundaryEvent id="stopped" attachedToRef="call"><bpmn:messageEventDefinition messageRef="Stop" /></bpmn:boundaryEvent>',
      '<bpmn:sequenceFlow id="f3" sourceRef="stopped" targetRef="after" />',
    );
    await app.engine.deploy([{ name: 'mi_parallel_top.bpmn', xml }]);
    const parent = await app.engine.start({ processKey: 'mi_parallel_top', businessKey: 'mi-par-1' });
    const kids = await childrenOf(parent.id);
    expect(kids.map((kid) => kid.status)).toEqual(['active', 'active', 'active']);

    // When one of them completes and then the message interrupts the call activity
    await app.engine.completeUserTask((await taskOf(kids[0]!.id, 'wait')).id);
    await eventually(async () => (await knex()('jobs').where({ instance_id: parent.id, kind: 'call-completed' })).length === 0);
    await app.engine.correlateMessage({ messageName: 'stop', businessKey: 'mi-par-1' });

    // Then the parent went on, the completed one stays completed and the other two were cancelled
    await expectWentOn(parent.id, 'interrupt');
    expect(await app.engine.getInstance(kids[0]!.id)).toMatchObject({ status: 'completed' });
    for (const kid of kids.slice(1)) await expectCancelled(kid.id, 'waitkid', `parent ${parent.id} left call activity call`);
    expect(await incidents(parent.id)).toHaveLength(0);
  });

  it('when a sequential multi-instance call activity is interrupted, then its current called instance is cancelled and no further one starts', async () => {
    // Given a sequential multi-instance call activity of three, in its second iteration
    const xml = parentWith(
      'mi_sequential_top',
      `<bpmn:callActivity id="call" calledElement="waitkid">
        <bpmn:multiInstanceLoopCharacteristics isSequential="true"><bpmn:loopCardinality>3</bpmn:loopCardinality></bpmn:multiInstanceLoopCharacteristics>
      </bpmn:callActivity>`,
      '<bpmn:boundaryEvent id="stopped" attachedToRef="call"><bpmn:messageEventDefinition messageRef="Stop" /></bpmn:boundaryEvent>',
      '<bpmn:sequenceFlow id="f3" sourceRef="stopped" targetRef="after" />',
    );
    await app.engine.deploy([{ name: 'mi_sequential_top.bpmn', xml }]);
    const parent = await app.engine.start({ processKey: 'mi_sequential_top', businessKey: 'mi-seq-1' });
    const [first] = await childrenOf(parent.id);
    await app.engine.completeUserTask((await taskOf(first!.id, 'wait')).id);
    const second = await eventually(async () => (await childrenOf(parent.id)).find((kid) => kid.status === 'active'));

    // When the message interrupts the call activity
    await app.engine.correlateMessage({ messageName: 'stop', businessKey: 'mi-seq-1' });

    // Then the parent went on, the second called instance was cancelled, and no third one started
    await expectWentOn(parent.id, 'interrupt');
    await expectCancelled(second.id, 'waitkid', `parent ${parent.id} left call activity call`);
    expect((await childrenOf(parent.id)).map((kid) => kid.status).sort()).toEqual(['cancelled', 'completed']);
    expect(await incidents(parent.id)).toHaveLength(0);
  });
});
