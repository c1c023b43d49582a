import { z } from 'zod';
import { statusOf } from '../../src/api/problem.js';
import { ServiceTaskRegistry } from '../../service-tasks/registry.js';
import { bpmn, sequence } from '../support/bpmn.js';
import { httpClient } from '../support/server-process.js';
import { createTestApp } from '../support/test-app.js';

/**
 * Guards found in review: a loop without a wait state is stopped within a small budget with a
 * stepLimit incident (a 422, not a 500); two keys cannot share a message start name; a parked
 * inline handler cannot be completed by a worker; an extended lock must still be held;
 * incidents close when their activity is left; a called instance is cancelled through its root.
 */
const loop = (id: string) =>
  bpmn(
    id,
    `<bpmn:startEvent id="start" />
     <bpmn:userTask id="ask" />
     <bpmn:task id="a" /><bpmn:task id="b" />
     <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="ask" />
     <bpmn:sequenceFlow id="f2" sourceRef="ask" targetRef="a" />
     <bpmn:sequenceFlow id="f3" sourceRef="a" targetRef="b" />
     <bpmn:sequenceFlow id="f4" sourceRef="b" targetRef="a" />`,
  );
const messageStart = (id: string, name: string) =>
  bpmn(
    id,
    `<bpmn:startEvent id="got_${id}"><bpmn:messageEventDefinition messageRef="m_${id}" /></bpmn:startEvent><bpmn:userTask id="t" />
     <bpmn:sequenceFlow id="f" sourceRef="got_${id}" targetRef="t" />`,
    `<bpmn:message id="m_${id}" name="${name}" />`,
  );

describe('engine guards', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let failing = true;

  beforeAll(async () => {
    const registry = new ServiceTaskRegistry();
    registry.register({
      topic: 'test.fails',
      description: 'fails while told to',
      mode: 'inline',
      input: z.object({}).passthrough(),
      output: z.object({}).passthrough(),
      handler: async () => {
        if (failing) throw new Error('downstream unavailable');
        return {};
      },
    });
    app = await createTestApp({ registry });
  });
  afterAll(async () => app.dispose());
  const knex = () => app.database.knex;

  it('when a user task completion enters a loop without a wait state, then it is refused within the budget with a stepLimit incident', async () => {
    await app.engine.deploy([{ name: 'loop.bpmn', xml: loop('spin_after_task') }]);
    const instance = await app.engine.start({ processKey: 'spin_after_task' });
    const [task] = await knex()('user_tasks').where({ instance_id: instance.id });
    const error = await app.engine.completeUserTask(task.id).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'STEP_LIMIT_EXCEEDED' });
    expect((error as Error).message).toMatch(/1000 activities|ms/);
    expect(statusOf(error)).toBe(422);
    const incidents = await knex()('incidents').where({ instance_id: instance.id, type: 'stepLimit' }).whereNull('resolved_at');
    expect(incidents).toHaveLength(1);
    expect(['a', 'b']).toContain(incidents[0].activity_id);
    // An operator finds it by its type, natively and over Camunda 7's REST.
    const http = httpClient(`http://127.0.0.1:${await app.listen()}`);
    const listed = await http('GET', `/api/incidents?type=stepLimit`);
    expect(listed.status).toBe(200);
    expect(listed.body.map((incident: { id: string }) => incident.id)).toContain(incidents[0].id);
    expect((await http('GET', '/engine-rest/incident/count?incidentType=stepLimit')).body).toEqual({ count: 1 });
    // Nothing of the run was committed: the task still waits.
    expect(await knex()('user_tasks').where({ id: task.id }).first()).toBeDefined();
    expect((await app.engine.getInstance(instance.id)).status).toBe('active');
  });

  it('when a second key deploys a message start name another key has, then the deploy is refused naming both', async () => {
    await app.engine.deploy([{ name: 'first.bpmn', xml: messageStart('first_owner', 'order.placed') }]);
    const error = await app.engine.deploy([{ name: 'second.bpmn', xml: messageStart('second_owner', 'order.placed') }]).catch((caught: unknown) => caught);
    expect(statusOf(error)).toBe(400);
    expect((error as Error).message).toMatch(/first_owner/);
    expect((error as Error).message).toMatch(/second_owner/);
    // A new version of the same key keeps its name.
    const again = await app.engine.deploy([{ name: 'first.bpmn', xml: messageStart('first_owner', 'order.placed').replace('<bpmn:userTask id="t" />', '<bpmn:userTask id="t" name="v2" />') }]);
    expect(again.definitions[0]!.version).toBe(2);
  });

  it('when an inline handler is parked by an incident, then no worker fetches or completes it, and retrying the incident does', async () => {
    await app.engine.deploy([
      { name: 'parked.bpmn', xml: sequence('parked_inline', [{ id: 'call', xml: '<bpmn:serviceTask id="call" camunda:type="external" camunda:topic="test.fails" />' }]) },
    ]);
    const instance = await app.engine.start({ processKey: 'parked_inline' });
    const [incident] = await knex()('incidents').where({ instance_id: instance.id, type: 'failedHandler' });
    // A later transition keeps the parked task as an external-task row on its inline topic.
    await app.engine.setVariables(instance.id, { touched: true });
    expect((await knex()('incidents').where({ id: incident.id }).first()).resolved_at).toBeNull();
    const [row] = await knex()('external_tasks').where({ instance_id: instance.id });
    const fetched = await app.engine.fetchAndLock({ workerId: 'sneaky', maxTasks: 5, usePriority: false, topics: [{ topicName: 'test.fails', lockDuration: 10_000 }] });
    expect(fetched).toEqual([]);
    await expect(app.engine.lockExternalTask(row.id, 'sneaky', 10_000)).rejects.toMatchObject({ code: 'EXTERNAL_TASK_PARKED' });
    await expect(app.engine.completeExternalTask(row.id, 'sneaky')).rejects.toMatchObject({ code: 'EXTERNAL_TASK_PARKED' });
    failing = false;
    await app.engine.retryIncident(incident.id);
    expect((await app.engine.getInstance(instance.id)).status).toBe('completed');
  });

  it('when a worker extends a lock that expired and went to another worker, then it is refused and the other keeps it', async () => {
    await app.engine.deploy([
      { name: 'ext.bpmn', xml: sequence('extend_lock', [{ id: 'work', xml: '<bpmn:serviceTask id="work" camunda:type="external" camunda:topic="extend.me" />' }]) },
    ]);
    await app.engine.start({ processKey: 'extend_lock' });
    const [task] = await app.engine.fetchAndLock({ workerId: 'slow', maxTasks: 1, usePriority: false, topics: [{ topicName: 'extend.me', lockDuration: 60_000 }] });
    // The check passes, then the lock moves on before the update: only a conditional update notices.
    const original = app.engine.lockExternalTask.bind(app.engine);
    await knex()('external_tasks').where({ id: task!.id }).update({ lock_expires_at: knex().raw("now() + interval '50 milliseconds'") });
    await new Promise((resolve) => setTimeout(resolve, 80));
    await original(task!.id, 'fast', 60_000);
    await expect(app.engine.extendExternalTaskLock(task!.id, 'slow', 60_000)).rejects.toMatchObject({ code: expect.stringMatching(/EXTERNAL_TASK_(NOT_LOCKED|LOCK_EXPIRED)/) });
    expect((await knex()('external_tasks').where({ id: task!.id }).first()).worker_id).toBe('fast');
  });

  it('when a boundary timer leaves an activity whose handler is parked, then its incident is resolved', async () => {
    failing = true;
    await app.engine.deploy([
      {
        name: 'left.bpmn',
        xml: bpmn(
          'left_incident',
          `<bpmn:startEvent id="start" />
           <bpmn:serviceTask id="call" camunda:type="external" camunda:topic="test.fails" />
           <bpmn:boundaryEvent id="late" attachedToRef="call"><bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>
           <bpmn:userTask id="fallback" /><bpmn:endEvent id="end" />
           <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="call" />
           <bpmn:sequenceFlow id="f2" sourceRef="call" targetRef="end" />
           <bpmn:sequenceFlow id="f3" sourceRef="late" targetRef="fallback" />`,
        ),
      },
    ]);
    const instance = await app.engine.start({ processKey: 'left_incident' });
    const [incident] = await knex()('incidents').where({ instance_id: instance.id, type: 'failedHandler' }).whereNull('resolved_at');
    expect(incident).toBeDefined();
    const job = await knex()('jobs').where({ instance_id: instance.id, kind: 'timer' }).first();
    await app.engine.executeJob(job.id);
    expect(await knex()('user_tasks').where({ instance_id: instance.id, activity_id: 'fallback' })).toHaveLength(1);
    expect((await knex()('incidents').where({ id: incident.id }).first()).resolved_at).not.toBeNull();
  });
});
