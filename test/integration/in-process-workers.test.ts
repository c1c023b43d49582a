import { z } from 'zod';
import { ServiceTaskRegistry } from '../../service-tasks/registry.js';
import { BpmnErrorSignal } from '../../src/engine/runtime/service-binding.js';
import { bpmn } from '../support/bpmn.js';
import { createTestApp, eventually } from '../support/test-app.js';

/** Built-in `worker` topics are served over the external-task protocol inside the server. */
describe('in-process workers', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let attempts = 0;

  beforeAll(async () => {
    const registry = new ServiceTaskRegistry().register({
      topic: 'slow.job',
      description: 'long work served by a worker: fails until the third attempt, or raises a BPMN error',
      mode: 'worker',
      input: z.object({ mode: z.enum(['flaky', 'reject', 'broken']) }),
      output: z.object({ attempt: z.number() }),
      handler: async ({ mode }) => {
        attempts++;
        if (mode === 'reject') throw new BpmnErrorSignal('NOT_ALLOWED', 'policy says no');
        if (mode === 'broken' || attempts < 3) throw new Error(`attempt ${attempts} failed`);
        return { attempt: attempts };
      },
    });
    app = await createTestApp({ registry, env: { REGENFLOW_WORKER_RETRY_MS: '50' } });
    await app.listen();
    const xml = bpmn(
      'slow',
      `<bpmn:startEvent id="start" />
      <bpmn:serviceTask id="job" camunda:type="external" camunda:topic="slow.job" />
      <bpmn:boundaryEvent id="refused" attachedToRef="job"><bpmn:errorEventDefinition errorRef="NotAllowed" /></bpmn:boundaryEvent>
      <bpmn:endEvent id="done" /><bpmn:endEvent id="rejected" />
      <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="job" />
      <bpmn:sequenceFlow id="f2" sourceRef="job" targetRef="done" />
      <bpmn:sequenceFlow id="f3" sourceRef="refused" targetRef="rejected" />`,
      '<bpmn:error id="NotAllowed" errorCode="NOT_ALLOWED" />',
    );
    await app.engine.deploy([{ name: 'slow.bpmn', xml }]);
  });
  afterAll(async () => {
    await app.dispose();
  });

  it('when the handler fails twice and then succeeds, then the retries carry the instance to the end', async () => {
    attempts = 0;
    const instance = await app.engine.start({ processKey: 'slow', variables: { mode: 'flaky' } });
    await eventually(async () => (await app.engine.getInstance(instance.id)).status === 'completed');
    expect((await app.engine.getInstance(instance.id)).variables).toMatchObject({ attempt: 3 });
    const failures = await app.database.knex('history').where({ instance_id: instance.id, event: 'external-task.failure' });
    expect(failures).toHaveLength(2);
  });

  it('when the handler raises a BPMN error, then the boundary event takes over', async () => {
    const instance = await app.engine.start({ processKey: 'slow', variables: { mode: 'reject' } });
    await eventually(async () => (await app.engine.getInstance(instance.id)).status === 'completed');
    const ends = await app.database.knex('history').where({ instance_id: instance.id, event: 'end' }).pluck('activity_id');
    expect(ends).toContain('rejected');
  });

  it('when the handler keeps failing, then the retries run out into an incident', async () => {
    const instance = await app.engine.start({ processKey: 'slow', variables: { mode: 'broken' } });
    const incident = await eventually(async () => app.database.knex('incidents').where({ instance_id: instance.id }).first());
    expect(incident).toMatchObject({ type: 'failedExternalTask', activity_id: 'job' });
    expect((await app.engine.getInstance(instance.id)).status).toBe('active');
  });
});
