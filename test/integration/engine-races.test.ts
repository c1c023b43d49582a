import { statusOf } from '../../src/api/problem.js';
import { bpmn } from '../support/bpmn.js';
import { createTwoNodes, type TwoNodes } from '../support/two-nodes.js';

/**
 * Given two engine nodes on one database, when a worker's completion on one node races the
 * same task's boundary timer (or a boundary message) on the other, then no call answers a
 * server error and each instance takes exactly one path. On PostgreSQL this raced into
 * deadlocks (40P01) when the completion locked the task row before the instance row.
 */
const ROUNDS = 25;
const raceProcess = bpmn(
  'race',
  `<bpmn:startEvent id="start" />
   <bpmn:serviceTask id="work" camunda:type="external" camunda:topic="race" />
   <bpmn:boundaryEvent id="timeout" attachedToRef="work">
     <bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition>
   </bpmn:boundaryEvent>
   <bpmn:boundaryEvent id="stopped" attachedToRef="work"><bpmn:messageEventDefinition messageRef="msg_stop" /></bpmn:boundaryEvent>
   <bpmn:endEvent id="done" /><bpmn:endEvent id="timedOut" /><bpmn:endEvent id="messaged" />
   <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="work" />
   <bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="done" />
   <bpmn:sequenceFlow id="f3" sourceRef="timeout" targetRef="timedOut" />
   <bpmn:sequenceFlow id="f4" sourceRef="stopped" targetRef="messaged" />`,
  '<bpmn:message id="msg_stop" name="stop" />',
);

describe('two nodes racing on one instance', () => {
  let two: TwoNodes;

  beforeAll(async () => {
    two = await createTwoNodes();
    await two.nodes[0].engine.deploy([{ name: 'race.bpmn', xml: raceProcess }]);
  }, 60_000);

  afterAll(async () => two?.dispose());

  async function settle(label: string, call: () => Promise<unknown>): Promise<{ label: string; status: number; error?: unknown }> {
    try {
      await call();
      return { label, status: 200 };
    } catch (error) {
      return { label, status: statusOf(error), error };
    }
  }

  async function endsTaken(instanceId: string): Promise<string[]> {
    const knex = two.nodes[0].database.knex;
    return knex('history').where({ instance_id: instanceId, event: 'end' }).whereIn('activity_id', ['done', 'timedOut', 'messaged']).pluck('activity_id');
  }

  async function startAndLock(businessKey: string) {
    const [a] = two.nodes;
    const instance = await a.engine.start({ processKey: 'race', businessKey });
    const [task] = await a.engine.fetchAndLock({
      workerId: 'w',
      maxTasks: 1,
      usePriority: false,
      topics: [{ topicName: 'race', lockDuration: 60_000, businessKey }],
    });
    const job = await a.database.knex('jobs').where({ instance_id: instance.id, kind: 'timer' }).first('id');
    return { instance, task: task!, jobId: job.id as string };
  }

  it('when a completion races the boundary timer on the other node, then no 5xx and one path', async () => {
    const failures: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const { instance, task, jobId } = await startAndLock(`timer-${round}`);
      const [a, b] = two.nodes;
      const results = await Promise.all([
        settle('complete', () => a.engine.completeExternalTask(task.id, 'w', { round })),
        settle('timer', () => b.engine.executeJob(jobId)),
      ]);
      for (const result of results) {
        if (result.status >= 500) failures.push(`${round} ${result.label}: ${String((result.error as Error)?.message ?? result.error).slice(-80)}`);
      }
      const ends = await endsTaken(instance.id);
      if (ends.length !== 1) failures.push(`${round}: ends ${ends.join(',') || '(none)'}`);
    }
    expect(failures).toEqual([]);
  }, 120_000);

  it('when a completion races a boundary message on the other node, then no 5xx and one path', async () => {
    const failures: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const { instance, task } = await startAndLock(`message-${round}`);
      const [a, b] = two.nodes;
      const results = await Promise.all([
        settle('complete', () => a.engine.completeExternalTask(task.id, 'w', { round })),
        settle('message', () => b.engine.correlateMessage({ messageName: 'stop', processInstanceId: instance.id })),
      ]);
      for (const result of results) {
        if (result.status >= 500) failures.push(`${round} ${result.label}: ${String((result.error as Error)?.message ?? result.error).slice(-80)}`);
      }
      const ends = await endsTaken(instance.id);
      if (ends.length !== 1) failures.push(`${round}: ends ${ends.join(',') || '(none)'}`);
    }
    expect(failures).toEqual([]);
  }, 120_000);
});
