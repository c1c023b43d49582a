import { randomUUID } from 'node:crypto';
import { bpmn, sequence } from '../support/bpmn.js';
import { createTestApp, eventually } from '../support/test-app.js';

const ERROR = '<bpmn:error id="Boom" errorCode="BOOM" name="Boom happened" />';

/**
 * What happens to the rest of a call tree when one instance in it ends: the hand-back jobs
 * still queued for an ended parent go without incidents, and active children (at any depth)
 * are cancelled with their parent, however it ended.
 */
describe('ended parents: leftover jobs and children', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  const ended: Array<{ id: string; status: string; processKey: string }> = [];

  beforeAll(async () => {
    app = await createTestApp();
    app.poller.start();
    app.engine.on('instance.ended', (event) => ended.push(event));
    // A called process that fails at once, one that waits for a user task and then throws an
    // error nothing in it catches, one that only waits, and one that calls the waiting one.
    const instantFail = bpmn(
      'instant_fail',
      `<bpmn:startEvent id="start" />
      <bpmn:endEvent id="boom"><bpmn:errorEventDefinition errorRef="Boom" /></bpmn:endEvent>
      <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="boom" />`,
      ERROR,
    );
    const laterFail = bpmn(
      'later_fail',
      `<bpmn:startEvent id="start" />
      <bpmn:userTask id="approve" />
      <bpmn:endEvent id="boom"><bpmn:errorEventDefinition errorRef="Boom" /></bpmn:endEvent>
      <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="approve" />
      <bpmn:sequenceFlow id="f2" sourceRef="approve" targetRef="boom" />`,
      ERROR,
    );
    const waitkid = sequence('waitkid', [{ id: 'wait', xml: '<bpmn:userTask id="wait" />' }]);
    const mid = sequence('mid', [{ id: 'call_waitkid', xml: '<bpmn:callActivity id="call_waitkid" calledElement="waitkid" />' }]);
    for (const [name, xml] of Object.entries({ instantFail, laterFail, waitkid, mid })) {
      await app.engine.deploy([{ name: `${name}.bpmn`, xml }]);
    }
  });
  afterAll(async () => {
    await app.dispose();
  });

  const knex = () => app.database.knex;
  const settled = (id: string) =>
    eventually(async () => {
      const row = await app.engine.getInstance(id);
      return row.status !== 'active' && row;
    });
  const openIncidents = (instanceId: string) => knex()('incidents').where({ instance_id: instanceId }).whereNull('resolved_at');

  describe('leftover call jobs', () => {
    it('when the three children of a parallel multi-instance call activity fail, then the first fails the parent and the other hand-backs go without incidents', async () => {
      // Given a parent calling three instances that each fail at once
      const xml = sequence('mi_parent', [
        {
          id: 'call',
          xml: `<bpmn:callActivity id="call" calledElement="instant_fail">
            <bpmn:multiInstanceLoopCharacteristics><bpmn:loopCardinality>3</bpmn:loopCardinality></bpmn:multiInstanceLoopCharacteristics>
          </bpmn:callActivity>`,
        },
      ]);
      await app.engine.deploy([{ name: 'mi_parent.bpmn', xml }]);

      // When it starts and the first failure is handed back (run by hand: the poller waits)
      await app.poller.stop();
      let parent;
      try {
        parent = await app.engine.start({ processKey: 'mi_parent' });
        const children = await knex()('process_instances').where({ parent_instance_id: parent.id });
        expect(children.map((child) => child.status)).toEqual(['failed', 'failed', 'failed']);
        const jobs = await knex()('jobs').where({ instance_id: parent.id, kind: 'call-failed' });
        expect(jobs).toHaveLength(3);
        await app.engine.executeJob(jobs[0].id);
      } finally {
        app.poller.start();
      }

      // Then the parent failed at its call activity, and its commit took the other two hand-backs with it
      expect(await app.engine.getInstance(parent.id)).toMatchObject({ status: 'failed', error_message: expect.stringContaining('BOOM') });
      expect(await knex()('jobs').where({ instance_id: parent.id })).toHaveLength(0);
      expect(await openIncidents(parent.id)).toHaveLength(0);
      expect(await knex()('incidents').where({ instance_id: parent.id })).toHaveLength(0);
    });

    it('when a hand-back job is left for a parent that already ended (as an earlier release left them), then the poller deletes it without an incident', async () => {
      // Given a failed instance and a call-failed job aimed at it, on its last retry
      const xml = bpmn(
        'ended_target',
        `<bpmn:startEvent id="start" />
        <bpmn:endEvent id="boom"><bpmn:errorEventDefinition errorRef="Boom" /></bpmn:endEvent>
        <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="boom" />`,
        ERROR,
      );
      await app.engine.deploy([{ name: 'ended_target.bpmn', xml }]);
      const target = await app.engine.start({ processKey: 'ended_target' });
      expect(target.status).toBe('failed');
      const jobId = randomUUID();
      await knex()('jobs').insert({
        id: jobId,
        kind: 'call-failed',
        instance_id: target.id,
        activity_id: 'call_1',
        timer_key: `call-failed/${randomUUID()}`,
        due_at: new Date(),
        retries: 1,
        payload: JSON.stringify({ executionId: 'call_1', errorCode: 'BOOM', errorMessage: 'late', childId: randomUUID() }),
      });

      // When the poller runs it
      app.engine.emit('jobs.scheduled');
      await eventually(async () => {
        const job = await knex()('jobs').where({ id: jobId }).first();
        return !job || job.retries === 0;
      });

      // Then it is gone, and no incident was raised on the ended instance
      expect(await knex()('jobs').where({ id: jobId })).toHaveLength(0);
      expect(await knex()('incidents').where({ instance_id: target.id })).toHaveLength(0);
    });
  });
  describe('children of an ended parent', () => {
    const childOf = (parentId: string) =>
      eventually(() => knex()('process_instances').where({ parent_instance_id: parentId }).first() as Promise<{ id: string } | undefined>);

    /** A cancelled orphan: no waits left, its end announced, its trace closed as cancelled. */
    async function expectCancelled(id: string, processKey: string, reason: string) {
      const row = await app.engine.getInstance(id);
      expect(row).toMatchObject({ status: 'cancelled', error_message: reason, state: null });
      expect(row.ended_at).not.toBeNull();
      expect(await knex()('user_tasks').where({ instance_id: id })).toHaveLength(0);
      expect(ended).toContainEqual({ id, status: 'cancelled', processKey });
      await app.telemetry.flush();
      const root = (await app.telemetry.spans.listByInstance(id)).find((span) => span.spanId === row.root_span_id);
      expect(root?.attributes).toMatchObject({ status: 'cancelled', 'bpmn.cancel.reason': reason });
    }

    it('when a parent fails while its child waits in a grandchild, then child and grandchild are cancelled in the same commit', async () => {
      // Given top -> mid -> waitkid (at a user task), and a parallel path in top that will throw
      const xml = bpmn(
        'failing_top',
        `<bpmn:startEvent id="start" />
        <bpmn:parallelGateway id="fork" />
        <bpmn:callActivity id="call_mid" calledElement="mid" />
        <bpmn:endEvent id="end" />
        <bpmn:userTask id="go" />
        <bpmn:endEvent id="boom"><bpmn:errorEventDefinition errorRef="Boom" /></bpmn:endEvent>
        <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="fork" />
        <bpmn:sequenceFlow id="f2" sourceRef="fork" targetRef="call_mid" />
        <bpmn:sequenceFlow id="f3" sourceRef="call_mid" targetRef="end" />
        <bpmn:sequenceFlow id="f4" sourceRef="fork" targetRef="go" />
        <bpmn:sequenceFlow id="f5" sourceRef="go" targetRef="boom" />`,
        ERROR,
      );
      await app.engine.deploy([{ name: 'failing_top.bpmn', xml }]);
      const top = await app.engine.start({ processKey: 'failing_top' });
      const midRow = await childOf(top.id);
      const kid = await childOf(midRow.id);
      expect(await app.engine.getInstance(kid.id)).toMatchObject({ status: 'active' });

      // When top's own path throws an error nothing catches
      const go = await knex()('user_tasks').where({ instance_id: top.id, activity_id: 'go' }).first();
      const after = await app.engine.completeUserTask(go.id);

      // Then top failed, and by the time that returned mid and waitkid were cancelled
      expect(after.status).toBe('failed');
      await expectCancelled(midRow.id, 'mid', `parent ${top.id} failed`);
      await expectCancelled(kid.id, 'waitkid', `parent ${midRow.id} cancelled`);
    });

    it('when one child of a multi-instance call activity fails and a boundary event catches it, then the parent completes and its other children are cancelled', async () => {
      // Given three children waiting at their user tasks, under a call activity that catches BOOM
      const xml = bpmn(
        'mi_catching',
        `<bpmn:startEvent id="start" />
        <bpmn:callActivity id="call" calledElement="later_fail">
          <bpmn:multiInstanceLoopCharacteristics><bpmn:loopCardinality>3</bpmn:loopCardinality></bpmn:multiInstanceLoopCharacteristics>
        </bpmn:callActivity>
        <bpmn:boundaryEvent id="caught" attachedToRef="call"><bpmn:errorEventDefinition errorRef="Boom" /></bpmn:boundaryEvent>
        <bpmn:endEvent id="end" /><bpmn:endEvent id="handled" />
        <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="call" />
        <bpmn:sequenceFlow id="f2" sourceRef="call" targetRef="end" />
        <bpmn:sequenceFlow id="f3" sourceRef="caught" targetRef="handled" />`,
        ERROR,
      );
      await app.engine.deploy([{ name: 'mi_catching.bpmn', xml }]);
      const parent = await app.engine.start({ processKey: 'mi_catching' });
      const children: Array<{ id: string }> = await knex()('process_instances').where({ parent_instance_id: parent.id }).orderBy('started_at');
      expect(children).toHaveLength(3);

      // When the first child's task is completed and it throws its uncaught error
      const [first, ...others] = children;
      const task = await knex()('user_tasks').where({ instance_id: first!.id }).first();
      await app.engine.completeUserTask(task.id);

      // Then the parent completed along the error path, and the other two children were cancelled
      expect(await settled(parent.id)).toMatchObject({ status: 'completed', error_message: null });
      expect(await knex()('history').where({ instance_id: parent.id, event: 'end' }).pluck('activity_id')).toContain('handled');
      expect(await app.engine.getInstance(first!.id)).toMatchObject({ status: 'failed' });
      for (const other of others) await expectCancelled(other.id, 'later_fail', `parent ${parent.id} completed`);
      expect(await knex()('jobs').where({ instance_id: parent.id })).toHaveLength(0);
      expect(await knex()('incidents').where({ instance_id: parent.id })).toHaveLength(0);
    });

    it('when a parent is cancelled, then its grandchildren are cancelled too', async () => {
      // Given outer -> mid -> waitkid (at a user task)
      const xml = sequence('outer', [{ id: 'call_mid', xml: '<bpmn:callActivity id="call_mid" calledElement="mid" />' }]);
      await app.engine.deploy([{ name: 'outer.bpmn', xml }]);
      const outer = await app.engine.start({ processKey: 'outer' });
      const midRow = await childOf(outer.id);
      const kid = await childOf(midRow.id);

      // When the outer instance is cancelled
      await app.engine.cancel(outer.id, 'no longer needed');

      // Then all three ended cancelled, each naming why
      expect(await app.engine.getInstance(outer.id)).toMatchObject({ status: 'cancelled', error_message: 'no longer needed' });
      await expectCancelled(midRow.id, 'mid', `parent ${outer.id} cancelled`);
      await expectCancelled(kid.id, 'waitkid', `parent ${midRow.id} cancelled`);
    });
  });
});
