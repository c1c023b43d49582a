import { randomUUID } from 'node:crypto';
import { AlertIntake } from '../../src/alerts/alert-intake.js';
import { claimAlertWork, type AlertQueueRow } from '../../src/store/alert-queue.js';
import { createTestApp } from '../support/test-app.js';

/**
 * Alert work is done exactly once even when a node pauses past its lease: the message a
 * repeat or a resolve sends to the running incident commits together with the removal of its
 * queue row, so the node whose lease another node took over cannot deliver it a second time.
 * On PGlite and (with DATABASE_URL) on PostgreSQL.
 */
describe('alert queue: a lease taken over mid-delivery', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  const processKey = 'refire_counter';
  // Each `alert.refired` runs the non-interrupting event sub-process once: its start event's history counts the deliveries.
  const xml = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="http://regenflow.dev/test">
  <bpmn:message id="Msg_refired" name="alert.refired" />
  <bpmn:process id="${processKey}" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:userTask id="work" />
    <bpmn:endEvent id="end" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="work" />
    <bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="end" />
    <bpmn:subProcess id="on_refire" triggeredByEvent="true">
      <bpmn:startEvent id="refired" isInterrupting="false"><bpmn:messageEventDefinition messageRef="Msg_refired" /></bpmn:startEvent>
      <bpmn:endEvent id="refire_noted" />
      <bpmn:sequenceFlow id="g1" sourceRef="refired" targetRef="refire_noted" />
    </bpmn:subProcess>
  </bpmn:process>
</bpmn:definitions>`;

  beforeAll(async () => {
    // The app's own queue worker is not started (no listen): the two nodes below are the only ones.
    app = await createTestApp();
    await app.engine.deploy([{ name: `${processKey}.bpmn`, xml }]);
  });
  afterAll(async () => {
    await app.dispose();
  });

  const node = (nodeId: string) => new AlertIntake(app.database.knex, app.engine, { processKey, nodeId, leaseMs: 30_000 });
  /** The queue worker's step on one claimed row (what its loop does with each row it claims). */
  const work = (intake: AlertIntake, row: AlertQueueRow) => (intake as unknown as { work(row: AlertQueueRow): Promise<void> }).work(row);
  const deliveries = async (instanceId: string) => (await app.database.knex('history').where({ instance_id: instanceId, activity_id: 'refired' }).where('event', 'like', '%start%')).length;

  it('when a node pauses past its lease and another takes the repeat over, then the incident hears the repeat once, and the row goes with that delivery', async () => {
    // Given a running incident of fingerprint F, and a repeat of its alert stored with its work queued
    const knex = app.database.knex;
    const fingerprint = `lease-${randomUUID().slice(0, 8)}`;
    const incident = await app.engine.start({ processKey, businessKey: fingerprint });
    const alertId = randomUUID();
    const startsAt = new Date().toISOString();
    await knex('alerts').insert({ id: alertId, fingerprint, starts_at: startsAt, status: 'firing', source: 'generic', labels: { alertname: 'Repeat' } });
    const alert = { fingerprint, status: 'firing', labels: { alertname: 'Repeat' }, annotations: {}, startsAt, endsAt: null, generatorUrl: null };
    await knex('alert_queue').insert({ alert_id: alertId, fingerprint, kind: 'firing', payload: JSON.stringify({ alert, source: 'generic', group: { source: 'generic' }, actor: 'alert-test' }) });

    // When node A claims it with a lease that runs out before A gets to it (a long GC pause, a stalled event loop)
    const [claimedByA] = await claimAlertWork(knex, 'node-a', 1, 50);
    expect(claimedByA?.fingerprint).toBe(fingerprint);
    await new Promise((resolve) => setTimeout(resolve, 200));
    // And node B takes the row over and delivers the repeat
    const [claimedByB] = await claimAlertWork(knex, 'node-b', 1, 30_000);
    expect(claimedByB?.id).toBe(claimedByA?.id);
    await work(node('node-b'), claimedByB!);
    expect(await deliveries(incident.id)).toBe(1);
    expect(await knex('alert_queue').where({ id: claimedByB!.id }).first()).toBeUndefined();
    // And node A wakes up and does the work it had claimed
    await work(node('node-a'), claimedByA!);

    // Then the repeat was delivered once, not twice, and the alert says where it went
    expect(await deliveries(incident.id)).toBe(1);
    expect(await knex('alerts').where({ id: alertId }).first()).toMatchObject({ instance_id: incident.id, action: 'correlated' });
  });
});
