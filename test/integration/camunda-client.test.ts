import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { bpmn } from '../support/bpmn.js';
import { killServerProcess, repositoryRoot, TEST_TOKENS } from '../support/server-process.js';
import { createTestApp, eventually } from '../support/test-app.js';

/** The real camunda-external-task-client-js, unchanged, works against regenflow. */
describe('Camunda 7 external task client', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let worker: ChildProcess;
  const handled: string[] = [];

  beforeAll(async () => {
    app = await createTestApp();
    const port = await app.listen();
    const xml = bpmn(
      'c7_work',
      `<bpmn:startEvent id="start" />
      <bpmn:serviceTask id="remote" camunda:type="external" camunda:topic="c7.remote" />
      <bpmn:boundaryEvent id="rejected_by_worker" attachedToRef="remote"><bpmn:errorEventDefinition errorRef="Rejected" /></bpmn:boundaryEvent>
      <bpmn:endEvent id="done" /><bpmn:endEvent id="rejected" />
      <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="remote" />
      <bpmn:sequenceFlow id="f2" sourceRef="remote" targetRef="done" />
      <bpmn:sequenceFlow id="f3" sourceRef="rejected_by_worker" targetRef="rejected" />`,
      '<bpmn:error id="Rejected" errorCode="C7_REJECTED" />',
    );
    await app.engine.deploy([{ name: 'c7.bpmn', xml }]);
    worker = spawn(process.execPath, [join(repositoryRoot, 'test/support/camunda-worker.mjs'), `http://127.0.0.1:${port}/engine-rest`, 'c7.remote', TEST_TOKENS.worker], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    worker.stdout?.on('data', (chunk: Buffer) => handled.push(...chunk.toString().trim().split('\n')));
    await eventually(async () => handled.includes('subscribed'));
  });
  afterAll(async () => {
    await killServerProcess(worker);
    await app.dispose();
  });

  it('when the client completes a task, then the instance ends with the typed variables it sent', async () => {
    const instance = await app.engine.start({ processKey: 'c7_work', variables: { outcome: 'complete' } });
    await eventually(async () => (await app.engine.getInstance(instance.id)).status === 'completed');
    expect((await app.engine.getInstance(instance.id)).variables).toMatchObject({ handledBy: 'c7-client', score: 0.93 });
  });

  it('when the client reports a BPMN error, then the error boundary event catches it', async () => {
    const instance = await app.engine.start({ processKey: 'c7_work', variables: { outcome: 'bpmn-error' } });
    await eventually(async () => (await app.engine.getInstance(instance.id)).status === 'completed');
    const ends = await app.database.knex('history').where({ instance_id: instance.id, event: 'end' }).pluck('activity_id');
    expect(ends).toContain('rejected');
  });

  it('when the client reports a failure with no retries left, then an incident is raised', async () => {
    const instance = await app.engine.start({ processKey: 'c7_work', variables: { outcome: 'fail' } });
    const incident = await eventually(async () => app.database.knex('incidents').where({ instance_id: instance.id }).first());
    expect(incident).toMatchObject({ type: 'failedExternalTask', message: 'remote worker failed', activity_id: 'remote' });
  });
});
