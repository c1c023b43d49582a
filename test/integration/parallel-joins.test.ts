import { bpmn } from '../support/bpmn.js';
import { createTestApp } from '../support/test-app.js';

/**
 * A converging parallel gateway joins tokens, one per incoming flow, as in Camunda and Zeebe.
 * bpmn-elements 17 joined by dead-path elimination, and a flow that merged before the join (an
 * exclusive gateway after an exclusive split or a boundary event) sent it a discard besides its
 * token: the join fired before a branch had finished, or waited for ever (found by the model test,
 * seeds 10, 18, 19 and 21). Every step below is its own committed transition (saved, recovered).
 */
describe('parallel joins', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;

  beforeAll(async () => {
    app = await createTestApp();
  });
  afterAll(async () => {
    await app?.dispose();
  });

  const userTask = async (instanceId: string, activityId: string) => {
    const row = await app.database.knex('user_tasks').where({ instance_id: instanceId, activity_id: activityId }).first();
    if (!row) throw new Error(`${activityId} does not wait in ${instanceId}`);
    return row.id as string;
  };
  const statusOf = async (instanceId: string) => (await app.engine.getInstance(instanceId)).status;
  const ended = (instanceId: string) =>
    app.database.knex('history').where({ instance_id: instanceId, event: 'end' }).orderBy('activity_id').pluck('activity_id');

  it('when a branch holds an exclusive split and merge and the other branch finishes first, then the join waits for the merge', async () => {
    const xml = bpmn(
      'join_after_merge',
      `<bpmn:startEvent id="start" />
      <bpmn:parallelGateway id="fork" />
      <bpmn:exclusiveGateway id="choose" default="toB" />
      <bpmn:userTask id="taskA" /><bpmn:userTask id="taskB" /><bpmn:userTask id="taskC" />
      <bpmn:exclusiveGateway id="merge" />
      <bpmn:parallelGateway id="join" />
      <bpmn:userTask id="after" />
      <bpmn:endEvent id="end" />
      <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="fork" />
      <bpmn:sequenceFlow id="f2" sourceRef="fork" targetRef="choose" />
      <bpmn:sequenceFlow id="f3" sourceRef="fork" targetRef="taskC" />
      <bpmn:sequenceFlow id="toA" sourceRef="choose" targetRef="taskA"><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">\${pickA == true}</bpmn:conditionExpression></bpmn:sequenceFlow>
      <bpmn:sequenceFlow id="toB" sourceRef="choose" targetRef="taskB" />
      <bpmn:sequenceFlow id="f4" sourceRef="taskA" targetRef="merge" />
      <bpmn:sequenceFlow id="f5" sourceRef="taskB" targetRef="merge" />
      <bpmn:sequenceFlow id="f6" sourceRef="merge" targetRef="join" />
      <bpmn:sequenceFlow id="f7" sourceRef="taskC" targetRef="join" />
      <bpmn:sequenceFlow id="f8" sourceRef="join" targetRef="after" />
      <bpmn:sequenceFlow id="f9" sourceRef="after" targetRef="end" />`,
    );
    await app.engine.deploy([{ name: 'join-after-merge.bpmn', xml }]);
    const { id } = await app.engine.start({ processKey: 'join_after_merge', variables: { pickA: true } });

    await app.engine.completeUserTask(await userTask(id, 'taskC'), {});
    // The exclusive branch has not reached the join: nothing after it may run yet.
    expect(await ended(id)).not.toContain('join');
    await expect(userTask(id, 'after')).rejects.toThrow('does not wait');

    await app.engine.completeUserTask(await userTask(id, 'taskA'), {});
    await app.engine.completeUserTask(await userTask(id, 'after'), {});
    expect(await statusOf(id)).toBe('completed');
    expect(await ended(id)).toEqual(['after', 'choose', 'end', 'fork', 'join', 'merge', 'start', 'taskA', 'taskC']);
  });

  it('when a boundary-guarded task precedes a parallel split, then the join fires once both branches finish, in either order', async () => {
    const xml = bpmn(
      'join_after_guard',
      `<bpmn:startEvent id="start" />
      <bpmn:userTask id="guarded" />
      <bpmn:boundaryEvent id="late" attachedToRef="guarded"><bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>
      <bpmn:userTask id="fallback" />
      <bpmn:exclusiveGateway id="merge" />
      <bpmn:parallelGateway id="fork" />
      <bpmn:userTask id="left" />
      <bpmn:intermediateCatchEvent id="right"><bpmn:messageEventDefinition messageRef="go" /></bpmn:intermediateCatchEvent>
      <bpmn:parallelGateway id="join" />
      <bpmn:endEvent id="end" />
      <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="guarded" />
      <bpmn:sequenceFlow id="f2" sourceRef="guarded" targetRef="merge" />
      <bpmn:sequenceFlow id="f3" sourceRef="late" targetRef="fallback" />
      <bpmn:sequenceFlow id="f4" sourceRef="fallback" targetRef="merge" />
      <bpmn:sequenceFlow id="f5" sourceRef="merge" targetRef="fork" />
      <bpmn:sequenceFlow id="f6" sourceRef="fork" targetRef="left" />
      <bpmn:sequenceFlow id="f7" sourceRef="fork" targetRef="right" />
      <bpmn:sequenceFlow id="f8" sourceRef="left" targetRef="join" />
      <bpmn:sequenceFlow id="f9" sourceRef="right" targetRef="join" />
      <bpmn:sequenceFlow id="f10" sourceRef="join" targetRef="end" />`,
      '<bpmn:message id="go" name="join.go" />',
    );
    await app.engine.deploy([{ name: 'join-after-guard.bpmn', xml }]);
    for (const messageFirst of [true, false]) {
      const { id } = await app.engine.start({ processKey: 'join_after_guard' });
      await app.engine.completeUserTask(await userTask(id, 'guarded'), {});
      const steps = [
        () => app.engine.correlateMessage({ messageName: 'join.go', processInstanceId: id }),
        async () => app.engine.completeUserTask(await userTask(id, 'left'), {}),
      ];
      for (const step of messageFirst ? steps : steps.reverse()) {
        expect(await statusOf(id)).toBe('active');
        await step();
      }
      expect(await statusOf(id)).toBe('completed');
      expect(await ended(id)).toEqual(['end', 'fork', 'guarded', 'join', 'left', 'merge', 'right', 'start']);
    }
  });
});
