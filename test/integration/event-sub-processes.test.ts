import { bpmn } from '../support/bpmn.js';
import { createTestApp } from '../support/test-app.js';

/** Event sub-processes (triggeredByEvent) across transitions: the instance is saved and reloaded between wait and trigger. */
describe('event sub-processes', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;

  beforeAll(async () => {
    app = await createTestApp();
    app.poller.start();
  });
  afterAll(async () => {
    await app.dispose();
  });

  const userTasks = (instanceId: string) => app.database.knex('user_tasks').where({ instance_id: instanceId }).orderBy('activity_id').pluck('activity_id');
  const ended = (instanceId: string) => app.database.knex('history').where({ instance_id: instanceId, event: 'end' }).pluck('activity_id');
  const completeTask = async (instanceId: string, activityId: string, variables = {}) => {
    const task = await app.database.knex('user_tasks').where({ instance_id: instanceId, activity_id: activityId }).first();
    return app.engine.completeUserTask(task.id, variables);
  };

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
});
