import { bpmn } from '../support/bpmn.js';
import { TEST_TOKENS } from '../support/server-process.js';
import { createTestApp } from '../support/test-app.js';
import { activitySpanId } from '../../src/telemetry/index.js';
import { measureSystem } from '../../service-tasks/entropy/measure.js';
import type { HealthBreakdown } from '../../service-tasks/entropy/health.js';
import { createEntropyStore } from '../../src/store/entropy-store.js';

/**
 * A worker's failure report (C7 `POST /external-task/{id}/failure`) is one failed attempt:
 * an error span, like a failed inline handler's, with the retries left and `bpmn.incident`
 * when the report used the last one. Over real HTTP, as a C7 worker sends it.
 */
describe('telemetry: external-task failure reports', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let base: string;

  beforeAll(async () => {
    app = await createTestApp();
    base = `http://127.0.0.1:${await app.listen()}`;
  });
  afterAll(async () => {
    await app.dispose();
  });

  const call = async (path: string, body: unknown, token: string = TEST_TOKENS.worker) => {
    const response = await fetch(`${base}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  };
  const fetchAndLock = async (workerId: string) => {
    const { status, body } = await call('/engine-rest/external-task/fetchAndLock', {
      workerId,
      maxTasks: 1,
      topics: [{ topicName: 'charge.card', lockDuration: 30_000 }],
    });
    expect(status).toBe(200);
    return body as Array<{ id: string; activityId: string }>;
  };

  it('when a worker reports failures until no retries are left, then each attempt is an error span and the last one marks the incident', async () => {
    // Given an external task inside a sub-process, fetched by a worker
    const xml = bpmn(
      'failing_payment',
      `<bpmn:startEvent id="start" />
      <bpmn:subProcess id="payment">
        <bpmn:startEvent id="payment_start" />
        <bpmn:serviceTask id="charge" name="Charge card" camunda:type="external" camunda:topic="charge.card" />
        <bpmn:endEvent id="payment_end" />
        <bpmn:sequenceFlow id="g1" sourceRef="payment_start" targetRef="charge" />
        <bpmn:sequenceFlow id="g2" sourceRef="charge" targetRef="payment_end" />
      </bpmn:subProcess>
      <bpmn:endEvent id="end" />
      <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="payment" />
      <bpmn:sequenceFlow id="f2" sourceRef="payment" targetRef="end" />`,
    );
    await app.engine.deploy([{ name: 'failing_payment.bpmn', xml }]);
    const instance = await app.engine.start({ processKey: 'failing_payment', businessKey: 'order-7' });
    const [task] = await fetchAndLock('payments-1');
    expect(task!.activityId).toBe('charge');

    // When it reports a failure with one retry left, and again with none left
    const first = await call(`/engine-rest/external-task/${task!.id}/failure`, {
      workerId: 'payments-1',
      errorMessage: 'card gateway timed out',
      errorDetails: 'ETIMEDOUT after 30s',
      retries: 1,
      retryTimeout: 0,
    });
    expect(first.status).toBe(204);
    const [again] = await fetchAndLock('payments-2');
    expect(again!.id).toBe(task!.id);
    const second = await call(`/engine-rest/external-task/${task!.id}/failure`, {
      workerId: 'payments-2',
      errorMessage: 'card gateway refused',
      retries: 0,
    });
    expect(second.status).toBe(204);

    // Then the trace holds two failed attempts of `charge`, under the sub-process span
    await app.telemetry.flush();
    const spans = await app.telemetry.spans.listByInstance(instance.id);
    const attempts = spans.filter((span) => span.activityId === 'charge').sort((a, b) => a.endTime.getTime() - b.endTime.getTime());
    expect(attempts).toHaveLength(2);
    const subProcessStart = await app.database.knex('history').where({ instance_id: instance.id, activity_id: 'payment', event: 'start' }).first();
    const row = await app.engine.getInstance(instance.id);
    for (const attempt of attempts) {
      expect(attempt).toMatchObject({
        traceId: row.trace_id,
        parentSpanId: activitySpanId(instance.id, subProcessStart.execution_id),
        statusCode: 2,
        name: 'charge',
        processKey: 'failing_payment',
      });
      expect(attempt.attributes).toMatchObject({
        'bpmn.process.key': 'failing_payment',
        'bpmn.instance.id': instance.id,
        'bpmn.business.key': 'order-7',
        'bpmn.activity.id': 'charge',
        'bpmn.activity.type': 'bpmn:ServiceTask',
        'bpmn.external_task.id': task!.id,
        'bpmn.external_task.topic': 'charge.card',
        status: 'failed',
      });
    }
    expect(attempts[0]).toMatchObject({ statusMessage: 'charge.card: card gateway timed out' });
    expect(attempts[0]!.attributes).toMatchObject({ 'bpmn.external_task.retries': 1, 'bpmn.external_task.worker_id': 'payments-1' });
    expect(attempts[0]!.attributes).not.toHaveProperty('bpmn.incident');
    expect(attempts[1]).toMatchObject({ statusMessage: 'charge.card: card gateway refused' });
    expect(attempts[1]!.attributes).toMatchObject({ 'bpmn.external_task.retries': 0, 'bpmn.external_task.worker_id': 'payments-2', 'bpmn.incident': true });
    // The first attempt ran from the task's start, the second from the first report on
    const chargeStart = await app.database.knex('history').where({ instance_id: instance.id, activity_id: 'charge', event: 'start' }).first();
    expect(attempts[0]!.startTime.getTime()).toBe(new Date(chargeStart.at).getTime());
    expect(attempts[1]!.startTime.getTime()).toBe(attempts[0]!.endTime.getTime());
    expect(attempts[0]!.spanId).not.toBe(attempts[1]!.spanId);

    // And once the incident is retried and a worker completes the task, the task's own span ends completed
    const incident = await app.database.knex('incidents').where({ instance_id: instance.id, type: 'failedExternalTask' }).first();
    expect((await call(`/api/incidents/${incident.id}/retry`, { retries: 1 }, TEST_TOKENS.operator)).status).toBe(204);
    const [third] = await fetchAndLock('payments-3');
    expect((await call(`/engine-rest/external-task/${third!.id}/complete`, { workerId: 'payments-3' })).status).toBe(204);
    await app.telemetry.flush();
    const done = (await app.telemetry.spans.listByInstance(instance.id)).filter((span) => span.activityId === 'charge');
    expect(done.map((span) => span.attributes.status).sort()).toEqual(['completed', 'failed', 'failed']);
    expect(done.find((span) => span.attributes.status === 'completed')!.spanId).toBe(activitySpanId(instance.id, chargeStart.execution_id));
  });

  it('when attempts fail and a retry makes them good, then the instances are not errors in the health of regenflow/<key>; one stopped at an incident is', async () => {
    // Given four instances of a process whose worker fails the first attempt (retries left) and then completes, and a fifth that runs out of retries
    await app.engine.deploy([{ name: 'flaky_charge.bpmn', xml: bpmn('flaky_charge', `<bpmn:startEvent id="start" /><bpmn:serviceTask id="charge" camunda:type="external" camunda:topic="charge.flaky" /><bpmn:endEvent id="end" /><bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="charge" /><bpmn:sequenceFlow id="f2" sourceRef="charge" targetRef="end" />`) }]);
    const lock = async () => (await call('/engine-rest/external-task/fetchAndLock', { workerId: 'flaky', maxTasks: 1, topics: [{ topicName: 'charge.flaky', lockDuration: 30_000 }] })).body as Array<{ id: string }>;
    for (let i = 0; i < 5; i++) {
      await app.engine.start({ processKey: 'flaky_charge' });
      const [task] = await lock();
      expect((await call(`/engine-rest/external-task/${task!.id}/failure`, { workerId: 'flaky', errorMessage: 'gateway busy', retries: i === 4 ? 0 : 2, retryTimeout: 0 })).status).toBe(204);
      if (i === 4) continue;
      const [retried] = await lock();
      expect((await call(`/engine-rest/external-task/${retried!.id}/complete`, { workerId: 'flaky' })).status).toBe(204);
    }
    await app.telemetry.flush();

    // When regenflow measures its own process
    const measurement = await measureSystem(createEntropyStore(app.database.knex), { system: 'regenflow/flaky_charge', windowSeconds: 600, baselineSeconds: 600 });

    // Then one instance of five failed: the one at the incident, not the four that recovered
    const health = measurement.indicators.health as HealthBreakdown;
    expect(measurement.indicators.spans).toEqual({ baseline: 0, current: 5 });
    expect(health.errorRate).toBeCloseTo(1 / 5, 12);
  });
});
