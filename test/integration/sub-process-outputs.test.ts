import { z } from 'zod';
import { ServiceTaskRegistry } from '../../service-tasks/registry.js';
import { bpmn } from '../support/bpmn.js';
import { createTestApp } from '../support/test-app.js';

/** Camunda 7 semantics the incident process relies on: outputs from inside a sub-process are process variables. */
describe('service task outputs inside a sub-process', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;

  beforeAll(async () => {
    const registry = new ServiceTaskRegistry().register({
      topic: 'inner.compute',
      description: 'an inline task inside a sub-process',
      mode: 'inline',
      input: z.object({ n: z.number() }),
      output: z.object({ doubled: z.number() }),
      handler: async ({ n }) => ({ doubled: n * 2 }),
    });
    app = await createTestApp({ registry });
    const xml = bpmn(
      'sub_outputs',
      `<bpmn:startEvent id="start" />
      <bpmn:subProcess id="sub">
        <bpmn:startEvent id="sub_start" />
        <bpmn:serviceTask id="compute" camunda:type="external" camunda:topic="inner.compute" />
        <bpmn:serviceTask id="remote" camunda:type="external" camunda:topic="inner.remote" />
        <bpmn:endEvent id="sub_end" />
        <bpmn:sequenceFlow id="s1" sourceRef="sub_start" targetRef="compute" />
        <bpmn:sequenceFlow id="s2" sourceRef="compute" targetRef="remote" />
        <bpmn:sequenceFlow id="s3" sourceRef="remote" targetRef="sub_end" />
      </bpmn:subProcess>
      <bpmn:userTask id="look" />
      <bpmn:endEvent id="end" />
      <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="sub" />
      <bpmn:sequenceFlow id="f2" sourceRef="sub" targetRef="look" />
      <bpmn:sequenceFlow id="f3" sourceRef="look" targetRef="end" />`,
    );
    await app.engine.deploy([{ name: 'sub-outputs.bpmn', xml }]);
  });
  afterAll(async () => {
    await app.dispose();
  });

  it('when inline and external tasks inside a sub-process complete, then their outputs are process variables', async () => {
    const started = await app.engine.start({ processKey: 'sub_outputs', variables: { n: 21 } });
    // The inline output is visible while the sub-process still waits on the external task.
    expect((await app.engine.getInstance(started.id)).variables).toMatchObject({ n: 21, doubled: 42 });
    const [task] = await app.engine.fetchAndLock({ workerId: 'w', maxTasks: 1, topics: [{ topicName: 'inner.remote', lockDuration: 10_000 }] } as never);
    await app.engine.completeExternalTask((task as { id: string }).id, 'w', { fromRemote: 'yes' });
    const after = await app.engine.getInstance(started.id);
    expect(after.variables).toMatchObject({ n: 21, doubled: 42, fromRemote: 'yes' });
  });
});
