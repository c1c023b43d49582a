import { z } from 'zod';
import { ServiceTaskRegistry } from '../../service-tasks/registry.js';
import { calledInstanceId } from '../../src/engine/workflow-engine.js';
import { bpmn, sequence } from '../support/bpmn.js';
import { createTestApp } from '../support/test-app.js';

/**
 * A handler's idempotency key is the same on every re-run of one activity instance. Given an
 * inline handler whose first run loses the optimistic race (another commit moves the instance
 * while it runs), when the transition is retried from a fresh load, then the handler sees the
 * same key again; and a call activity whose parent's transition is retried starts the same
 * called instance id. bpmn-elements makes execution ids random, so keys built from them differed.
 */
describe('idempotency keys across a lost race', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  const seen: Array<{ key: string; instanceId: string }> = [];
  let loseNextRace = false;

  beforeAll(async () => {
    const registry = new ServiceTaskRegistry();
    registry.register({
      topic: 'test.record',
      description: 'records its key; the first run loses the race',
      mode: 'inline',
      input: z.object({}).passthrough(),
      output: z.object({}).passthrough(),
      handler: async (_input, context) => {
        seen.push({ key: context.idempotencyKey, instanceId: context.instanceId });
        if (loseNextRace) {
          loseNextRace = false;
          // Another node commits on this instance meanwhile: this run's commit loses.
          await app.database.knex('process_instances').where({ id: context.instanceId }).increment('version', 1);
        }
        return {};
      },
    });
    app = await createTestApp({ registry });
    await app.engine.deploy([
      {
        name: 'record.bpmn',
        xml: sequence('record_twice', [
          { id: 'ask', xml: '<bpmn:userTask id="ask" />' },
          { id: 'record', xml: '<bpmn:serviceTask id="record" camunda:type="external" camunda:topic="test.record" />' },
          { id: 'call', xml: '<bpmn:callActivity id="call" calledElement="called_child" />' },
        ]),
      },
      { name: 'child.bpmn', xml: bpmn('called_child', '<bpmn:startEvent id="s" /><bpmn:userTask id="t" /><bpmn:sequenceFlow id="f" sourceRef="s" targetRef="t" />') },
    ]);
  });
  afterAll(async () => app.dispose());

  it('when the handler runs again after a lost race, then it sees the same key, and the called instance keeps its id', async () => {
    const instance = await app.engine.start({ processKey: 'record_twice' });
    const [task] = await app.database.knex('user_tasks').where({ instance_id: instance.id });
    loseNextRace = true;
    await app.engine.completeUserTask(task.id);

    const keys = seen.filter((call) => call.instanceId === instance.id).map((call) => call.key);
    expect(keys).toHaveLength(2); // the lost run and the retry
    expect(keys[1]).toBe(keys[0]);
    expect(keys[0]).toBe(`${instance.id}/record/1`);

    const [child] = await app.database.knex('process_instances').where({ parent_instance_id: instance.id });
    expect(child.id).toBe(calledInstanceId(`${instance.id}/call/1`));
  });

  it('when the same activity is entered again (a loop), then the visit counts up and the key differs', async () => {
    await app.engine.deploy([
      {
        name: 'loop.bpmn',
        xml: bpmn(
          'record_loop',
          `<bpmn:startEvent id="start" />
           <bpmn:serviceTask id="record" camunda:type="external" camunda:topic="test.record" />
           <bpmn:userTask id="again" />
           <bpmn:exclusiveGateway id="more" default="back" />
           <bpmn:endEvent id="end" />
           <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="record" />
           <bpmn:sequenceFlow id="f2" sourceRef="record" targetRef="again" />
           <bpmn:sequenceFlow id="f3" sourceRef="again" targetRef="more" />
           <bpmn:sequenceFlow id="done" sourceRef="more" targetRef="end"><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">\${stop == true}</bpmn:conditionExpression></bpmn:sequenceFlow>
           <bpmn:sequenceFlow id="back" sourceRef="more" targetRef="record" />`,
        ),
      },
    ]);
    const instance = await app.engine.start({ processKey: 'record_loop', variables: { stop: false } });
    const [first] = await app.database.knex('user_tasks').where({ instance_id: instance.id });
    await app.engine.completeUserTask(first.id, { stop: false });
    const [second] = await app.database.knex('user_tasks').where({ instance_id: instance.id });
    await app.engine.completeUserTask(second.id, { stop: true });
    const keys = seen.filter((call) => call.instanceId === instance.id).map((call) => call.key);
    expect(keys).toEqual([`${instance.id}/record/1`, `${instance.id}/record/2`]);
  });
});
