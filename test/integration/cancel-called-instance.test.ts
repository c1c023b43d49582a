import { bpmn, sequence } from '../support/bpmn.js';
import { TEST_TOKENS } from '../support/server-process.js';
import { createTestApp, eventually } from '../support/test-app.js';

const operator = { authorization: `Bearer ${TEST_TOKENS.operator}` };
/** engine-rest's delete asks for a process owner; the native cancel lets operators do it. */
const owner = { authorization: `Bearer ${TEST_TOKENS.owner}` };

/**
 * Cancelling (deleting) a called instance, as Camunda 7 does it (CallActivityTest
 * testDeleteProcessInstanceInCallActivity, testDeleteMultilevelProcessInstanceInCallActivity):
 * its caller's call activity would never get a result, so the caller ends with it, up the chain
 * of callers that wait on nothing else; the caller never goes past the call activity. A caller
 * with another branch running would need the call activity cancelled alone, which regenflow
 * refuses with 409 CALLED_INSTANCE instead of leaving that branch's join waiting forever.
 */
describe('cancelling a called instance', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let base: string;

  beforeAll(async () => {
    app = await createTestApp();
    base = `http://127.0.0.1:${await app.listen()}`;
    const leaf = sequence('leaf', [{ id: 'wait', xml: '<bpmn:userTask id="wait" />' }]);
    // Calls `leaf`, inside an embedded sub-process (a scope around the call), then a task nobody should reach.
    const middle = bpmn(
      'middle',
      `<bpmn:startEvent id="start" />
      <bpmn:subProcess id="scope">
        <bpmn:startEvent id="scope_start" />
        <bpmn:callActivity id="call_leaf" calledElement="leaf" />
        <bpmn:endEvent id="scope_end" />
        <bpmn:sequenceFlow id="s1" sourceRef="scope_start" targetRef="call_leaf" />
        <bpmn:sequenceFlow id="s2" sourceRef="call_leaf" targetRef="scope_end" />
      </bpmn:subProcess>
      <bpmn:boundaryEvent id="too_long" attachedToRef="scope"><bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>
      <bpmn:userTask id="after" />
      <bpmn:endEvent id="end" />
      <bpmn:endEvent id="late_end" />
      <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="scope" />
      <bpmn:sequenceFlow id="f2" sourceRef="scope" targetRef="after" />
      <bpmn:sequenceFlow id="f3" sourceRef="after" targetRef="end" />
      <bpmn:sequenceFlow id="f4" sourceRef="too_long" targetRef="late_end" />`,
    );
    const top = sequence('top', [{ id: 'call_middle', xml: '<bpmn:callActivity id="call_middle" calledElement="middle" />' }]);
    // Calls `leaf` on one branch while a user task waits on the other, joined after.
    const forked = bpmn(
      'forked',
      `<bpmn:startEvent id="start" />
      <bpmn:parallelGateway id="fork" />
      <bpmn:callActivity id="call_leaf" calledElement="leaf" />
      <bpmn:userTask id="review" />
      <bpmn:parallelGateway id="join" />
      <bpmn:endEvent id="end" />
      <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="fork" />
      <bpmn:sequenceFlow id="f2" sourceRef="fork" targetRef="call_leaf" />
      <bpmn:sequenceFlow id="f3" sourceRef="fork" targetRef="review" />
      <bpmn:sequenceFlow id="f4" sourceRef="call_leaf" targetRef="join" />
      <bpmn:sequenceFlow id="f5" sourceRef="review" targetRef="join" />
      <bpmn:sequenceFlow id="f6" sourceRef="join" targetRef="end" />`,
    );
    for (const [name, xml] of Object.entries({ leaf, middle, top, forked })) await app.engine.deploy([{ name: `${name}.bpmn`, xml }]);
  });
  afterAll(async () => {
    await app.dispose();
  });

  const knex = () => app.database.knex;
  const childOf = (parentId: string) =>
    eventually(() => knex()('process_instances').where({ parent_instance_id: parentId }).first() as Promise<{ id: string } | undefined>);
  const statusOf = async (id: string) => (await app.engine.getInstance(id)).status;

  it('when the leaf of top -> middle -> leaf is deleted over engine-rest, then all three end cancelled in one commit and no caller goes past its call', async () => {
    // Given three levels, the leaf at a user task
    const top = await app.engine.start({ processKey: 'top' });
    const middle = await childOf(top.id);
    const leaf = await childOf(middle.id);
    await eventually(async () => (await knex()('user_tasks').where({ instance_id: leaf.id })).length === 1);

    // When the leaf is deleted, as a Camunda 7 client does
    const response = await fetch(`${base}/engine-rest/process-instance/${leaf.id}`, { method: 'DELETE', headers: owner });

    // Then the whole chain is cancelled; the middle's timer and tasks are gone, and `after` never started
    expect(response.status).toBe(204);
    expect(await Promise.all([top.id, middle.id, leaf.id].map(statusOf))).toEqual(['cancelled', 'cancelled', 'cancelled']);
    expect((await app.engine.getInstance(top.id)).error_message).toBe(`deleted via engine-rest (through called instance ${leaf.id})`);
    for (const table of ['user_tasks', 'jobs', 'external_tasks', 'subscriptions']) {
      expect(await knex()(table).whereIn('instance_id', [top.id, middle.id, leaf.id])).toHaveLength(0);
    }
    expect(await knex()('history').where({ instance_id: middle.id, activity_id: 'after' })).toHaveLength(0);
    // The deletion is audited on the instance it was asked for
    expect(await knex()('audit_entries').where({ instance_id: leaf.id }).pluck('result')).toEqual(['ok']);
  });

  it('when the called instance of a caller with another branch waiting is cancelled, then it answers 409 naming the caller and the branch, and nothing changes', async () => {
    // Given `forked` waiting both at `review` and in its called `leaf`
    const forked = await app.engine.start({ processKey: 'forked' });
    const leaf = await childOf(forked.id);
    await eventually(async () => (await knex()('user_tasks').where({ instance_id: leaf.id })).length === 1);

    // When an operator cancels the leaf
    const response = await fetch(`${base}/api/process-instances/${leaf.id}`, { method: 'DELETE', headers: operator });

    // Then: a problem that says why and what to cancel instead
    expect(response.status).toBe(409);
    expect(response.headers.get('content-type')).toMatch(/application\/problem\+json/);
    const problem = (await response.json()) as { detail: string };
    expect(problem.detail).toContain(`call activity call_leaf of instance ${forked.id}, which also runs review`);
    expect(await Promise.all([forked.id, leaf.id].map(statusOf))).toEqual(['active', 'active']);

    // and cancelling the caller takes the leaf with it
    await app.engine.cancel(forked.id);
    expect(await Promise.all([forked.id, leaf.id].map(statusOf))).toEqual(['cancelled', 'cancelled']);
  });

  it('when the leaf is cancelled while its caller completes the other branch at the same moment, then exactly one outcome commits: never a caller left waiting for a call that cannot end', async () => {
    for (let round = 0; round < 5; round++) {
      // Given `forked` waiting at `review` and in its leaf
      const forked = await app.engine.start({ processKey: 'forked' });
      const leaf = await childOf(forked.id);
      const review = await eventually(() => knex()('user_tasks').where({ instance_id: forked.id, activity_id: 'review' }).first() as Promise<{ id: string } | undefined>);

      // When the review completes (leaving the call the caller's only branch) while the leaf is cancelled
      const [completed, cancelled] = await Promise.allSettled([app.engine.completeUserTask(review.id, {}), app.engine.cancel(leaf.id)]);

      // Then the review committed, and the cancellation either saw the review done and took the caller with it,
      // or saw it running and was refused: the caller never waits on a cancelled leaf
      expect(completed.status).toBe('fulfilled');
      const [forkedStatus, leafStatus] = await Promise.all([forked.id, leaf.id].map(statusOf));
      if (cancelled.status === 'fulfilled') expect([forkedStatus, leafStatus]).toEqual(['cancelled', 'cancelled']);
      else {
        expect(String(cancelled.reason)).toMatch(/also runs review|CALLED_INSTANCE|cancel that instance/);
        expect([forkedStatus, leafStatus]).toEqual(['active', 'active']);
        await app.engine.cancel(leaf.id); // the review is done now: the call is the caller's only branch
        expect(await Promise.all([forked.id, leaf.id].map(statusOf))).toEqual(['cancelled', 'cancelled']);
      }
    }
  });
});
