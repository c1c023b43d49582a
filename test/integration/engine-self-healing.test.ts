import { randomUUID } from 'node:crypto';
import { entropyTopics } from '../../service-tasks/entropy/topics.js';
import { createEngineControl } from '../../src/engine/engine-control.js';
import { createEntropyStore } from '../../src/store/entropy-store.js';
import { bpmn } from '../support/bpmn.js';
import { ordersProcess } from '../support/orders-process.js';
import { TEST_TOKENS } from '../support/server-process.js';
import { createTestApp, eventually } from '../support/test-app.js';

/**
 * regenflow heals itself: a newly deployed version of a process fails; the engine strategy
 * "roll new starts back to the previous version" is generated, deployed and run as a
 * workflow on the real engine, and its heal.* steps act on the engine.
 */
describe('engine self-healing', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let base: string;

  const post = async (path: string, body: unknown) => {
    const response = await fetch(`${base}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_TOKENS.operator}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as any };
  };

  const orders = ordersProcess;

  beforeAll(async () => {
    app = await createTestApp({ builtIns: true });
    base = `http://127.0.0.1:${await app.listen()}`;
  });
  afterAll(async () => {
    await app.dispose();
  });

  it('when version 2 of a process fails and the rollback strategy runs, then new starts run version 1 again, running instances move back where they can, and incidents are retried', async () => {
    // Given: v1 good, v2 with a step whose worker fails: two incidents at the fraud check (a step v1 does not have), and
    // one instance past it, waiting at the charge (which v1 has too).
    await app.engine.deploy([{ name: 'orders.bpmn', xml: orders('good') }]);
    await app.engine.deploy([{ name: 'orders.bpmn', xml: orders('broken') }]);
    for (let i = 0; i < 3; i++) await app.engine.start({ processKey: 'orders' });
    const tasks = await app.engine.fetchAndLock({ workerId: 'w', maxTasks: 10, usePriority: false, topics: [{ topicName: 'orders.fraud-check', lockDuration: 10_000 }] });
    expect(tasks).toHaveLength(3);
    const [passed, ...failing] = tasks;
    await app.engine.completeExternalTask(passed!.id, 'w', {});
    for (const task of failing) await app.engine.externalTaskFailure(task.id, 'w', { errorMessage: 'fraud service down', retries: 0, retryTimeout: 0 });
    expect(await app.database.knex('incidents').where({ process_key: 'orders' }).whereNull('resolved_at')).toHaveLength(2);
    const charging = passed!.instance_id;

    // When: Develop and Implement the engine strategy for regenflow/orders.
    const developed = await post('/api/entropy/dmedi/develop', { system: 'regenflow/orders', strategyId: 'engine-version-rollback' });
    expect(developed.status).toBe(201);
    expect(developed.body.simulation.runs).toBe(200);
    const implemented = await post('/api/entropy/dmedi/implement', { system: 'regenflow/orders', strategyId: 'engine-version-rollback' });
    expect(implemented.status).toBe(201);
    await eventually(async () => (await app.engine.getInstance(implemented.body.instanceId)).status === 'completed');

    // Then: the latest version is v1's content again, and the incidents were retried.
    const versions = await app.database.knex('process_definitions').where({ key: 'orders' }).orderBy('version');
    expect(versions.map((row: { version: number }) => row.version)).toEqual([1, 2, 3]);
    expect(versions[2].checksum).toBe(versions[0].checksum);
    const fresh = await app.engine.start({ processKey: 'orders' });
    const waiting = await app.database.knex('external_tasks').where({ instance_id: fresh.id }).pluck('topic');
    expect(waiting).toEqual(['orders.charge']);
    expect(await app.database.knex('incidents').where({ process_key: 'orders' }).whereNull('resolved_at')).toHaveLength(0);
    const strategyRun = await app.engine.getInstance(implemented.body.instanceId);
    expect(strategyRun.variables).toMatchObject({ rolledBackTo: 1, activeVersion: 3, incidentsRetried: 2, instancesMovedBack: 1 });
    // And the instance waiting at the charge moved onto version 3 (v1's content) by a migration batch, and finishes there;
    // the two at the fraud check (which v1 does not have) stayed on version 2, each named with why
    const left = strategyRun.variables.instancesLeft as Array<{ instanceId: string; version: number; reason: string }>;
    expect(left.map((entry) => entry.instanceId).sort()).toEqual(failing.map((task) => task.instance_id).sort());
    expect(left.every((entry) => entry.version === 2 && /fraud_check/.test(entry.reason))).toBe(true);
    await eventually(async () => (await app.database.knex('process_instances').where({ id: charging }).first()).definition_id === versions[2].id);
    const charges = await app.engine.fetchAndLock({ workerId: 'w', maxTasks: 10, usePriority: false, topics: [{ topicName: 'orders.charge', lockDuration: 10_000 }] });
    const charge = charges.find((task) => task.instance_id === charging);
    expect(charge).toBeDefined();
    await app.engine.completeExternalTask(charge!.id, 'w', {});
    expect((await app.engine.getInstance(charging)).status).toBe('completed');
  });

  it("when a DMEDI cycle rolls back a regenflow process to its snapshot's version, then the instances the failed version started move back too", async () => {
    // Given: a cycle snapshotted `refunds` at version 1, then its strategy deployed version 2, which started an instance
    // now waiting at the charge (a step both versions have)
    const refunds = (extra: string) =>
      bpmn(
        'refunds',
        `<bpmn:startEvent id="start" />${extra}<bpmn:userTask id="approve" /><bpmn:endEvent id="end" />
        <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="approve" /><bpmn:sequenceFlow id="f2" sourceRef="approve" targetRef="end" />`,
      );
    await app.engine.deploy([{ name: 'refunds.bpmn', xml: refunds('') }]);
    await app.engine.deploy([{ name: 'refunds.bpmn', xml: refunds('<bpmn:documentation>v2</bpmn:documentation>') }]);
    const onV2 = await app.engine.start({ processKey: 'refunds' });
    const topics = entropyTopics({ entropyStore: createEntropyStore(app.database.knex), engineControl: createEngineControl(() => app.engine) });
    const rollback = topics.find((topic) => topic.topic === 'entropy.rollback')!;

    // When: the cycle's rollback runs
    const result = (await rollback.handler(rollback.input.parse({ system: 'regenflow/refunds', snapshotVersion: 1 }), { instanceId: randomUUID(), idempotencyKey: 'rollback-refunds' } as never)) as Record<string, any>;

    // Then: version 1's content is the latest again (version 3), and the instance of version 2 moves onto it by a batch
    expect(result).toMatchObject({ rolledBack: true, rollbackVersion: 3 });
    expect(result.rollbackReason).toMatch(/1 running instance\(s\) of version 2 move back by migration \(batch /);
    const v3 = await app.database.knex('process_definitions').where({ key: 'refunds', version: 3 }).first();
    await eventually(async () => (await app.database.knex('process_instances').where({ id: onV2.id }).first()).definition_id === v3.id);
    const task = await app.database.knex('user_tasks').where({ instance_id: onV2.id }).first();
    expect(task.activity_id).toBe('approve');
    await app.engine.completeUserTask(task.id);
    expect((await app.engine.getInstance(onV2.id)).status).toBe('completed');
  });

  it('when instances have not moved for a while, then only those waiting on work nobody does are reset; a person or a timer is waiting, not stuck', async () => {
    // Given three old instances: one on an external task no worker takes, one on a person, one on a timer
    const waits = bpmn(
      'waits',
      `<bpmn:startEvent id="start" />
      <bpmn:exclusiveGateway id="which" default="to_timer" />
      <bpmn:serviceTask id="work" camunda:type="external" camunda:topic="nobody.serves" />
      <bpmn:userTask id="person" />
      <bpmn:intermediateCatchEvent id="later"><bpmn:timerEventDefinition><bpmn:timeDuration>P7D</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
      <bpmn:endEvent id="end" />
      <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="which" />
      <bpmn:sequenceFlow id="to_work" sourceRef="which" targetRef="work"><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">\${kind == "work"}</bpmn:conditionExpression></bpmn:sequenceFlow>
      <bpmn:sequenceFlow id="to_person" sourceRef="which" targetRef="person"><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">\${kind == "person"}</bpmn:conditionExpression></bpmn:sequenceFlow>
      <bpmn:sequenceFlow id="to_timer" sourceRef="which" targetRef="later" />
      <bpmn:sequenceFlow id="f1" sourceRef="work" targetRef="end" />
      <bpmn:sequenceFlow id="f2" sourceRef="person" targetRef="end" />
      <bpmn:sequenceFlow id="f3" sourceRef="later" targetRef="end" />`,
    );
    await app.engine.deploy([{ name: 'waits.bpmn', xml: waits }]);
    const work = await app.engine.start({ processKey: 'waits', variables: { kind: 'work' }, businessKey: 'W-1' });
    const person = await app.engine.start({ processKey: 'waits', variables: { kind: 'person' } });
    const timer = await app.engine.start({ processKey: 'waits', variables: { kind: 'timer' } });
    const anHourAgo = new Date(Date.now() - 3_600_000);
    await app.database.knex('process_instances').whereIn('id', [work.id, person.id, timer.id]).update({ updated_at: anHourAgo });

    // When the reset strategy runs for what has not moved for 30 minutes
    const reset = await createEngineControl(() => app.engine).resetStuckInstances('waits', new Date(Date.now() - 1_800_000));

    // Then the instance on unserved work was replaced by a fresh one with its variables; the others wait on
    expect(reset).toBe(1);
    const statuses = Object.fromEntries(
      (await app.database.knex('process_instances').whereIn('id', [work.id, person.id, timer.id]).select('id', 'status')).map((row: { id: string; status: string }) => [row.id, row.status]),
    );
    expect(statuses).toEqual({ [work.id]: 'cancelled', [person.id]: 'active', [timer.id]: 'active' });
    const replacement = await app.database.knex('process_instances').where({ process_key: 'waits', business_key: 'W-1', status: 'active' }).first();
    expect(replacement.variables).toMatchObject({ kind: 'work' });
  });
});
