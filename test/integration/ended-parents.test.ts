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

      // When it starts and the poller hands the failures back
      const parent = await app.engine.start({ processKey: 'mi_parent' });
      const children = await knex()('process_instances').where({ parent_instance_id: parent.id });
      expect(children.map((child) => child.status)).toEqual(['failed', 'failed', 'failed']);

      // Then the parent failed at its call activity, and nothing is left queued for it nor open on it
      expect(await settled(parent.id)).toMatchObject({ status: 'failed', error_message: expect.stringContaining('BOOM') });
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
});
