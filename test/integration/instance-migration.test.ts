import { AppError } from '../../src/errors.js';
import { sequence } from '../support/bpmn.js';
import { createTestApp } from '../support/test-app.js';

/**
 * Moving running instances to another version (Camunda 7's migration): a plan generated for
 * same-id activities, or written by hand, moves each waiting instance onto v2 in one committed
 * transition; the instance then continues on v2's path.
 */
describe('instance migration', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;

  beforeAll(async () => {
    app = await createTestApp();
  });
  afterAll(async () => {
    await app.dispose();
  });

  const knex = () => app.database.knex;
  const afterTask = { id: 'added', xml: '<bpmn:userTask id="added" name="Added in v2" />' };

  async function deployTwo(key: string, v1: Array<{ id: string; xml: string }>, v2: Array<{ id: string; xml: string }>, extra = '') {
    const first = await app.engine.deploy([{ name: `${key}.bpmn`, xml: sequence(key, v1, extra) }]);
    const second = await app.engine.deploy([{ name: `${key}.bpmn`, xml: sequence(key, v2, extra).replace(`id="defs_${key}"`, `id="defs_${key}_v2"`) }]);
    return { v1: first.definitions[0]!.id, v2: second.definitions[0]!.id };
  }

  async function waitingTask(instanceId: string) {
    return knex()('user_tasks').where({ instance_id: instanceId }).first();
  }

  it('moves an instance waiting at a user task to v2, keeps the task, and continues on v2', async () => {
    const ids = await deployTwo('mig_ut', [{ id: 'review', xml: '<bpmn:userTask id="review" />' }], [{ id: 'review', xml: '<bpmn:userTask id="review" />' }, afterTask]);
    const instance = await app.engine.start({ definitionId: ids.v1 });
    const before = await waitingTask(instance.id);
    await knex()('user_tasks').where({ id: before.id }).update({ assignee: 'ann' });

    const plan = await app.engine.migrations.generate(ids.v1, ids.v2);
    expect(plan.instructions).toEqual(expect.arrayContaining([{ sourceActivityIds: ['review'], targetActivityIds: ['review'] }]));
    expect(await app.engine.migrations.validate(plan)).toEqual([]);
    const moved = await app.engine.migrations.migrateInstance(plan, instance.id);

    expect(moved.definition_id).toBe(ids.v2);
    const after = await waitingTask(instance.id);
    expect(after).toMatchObject({ id: before.id, definition_id: ids.v2, activity_id: 'review', assignee: 'ann' });
    const history = await knex()('history').where({ instance_id: instance.id, event: 'instance.migrated' });
    expect(history).toHaveLength(1);
    expect(history[0].data).toMatchObject({ sourceDefinitionId: ids.v1, targetDefinitionId: ids.v2, sourceVersion: 1, targetVersion: 2 });

    await app.engine.completeUserTask(before.id);
    const next = await waitingTask(instance.id);
    expect(next).toMatchObject({ activity_id: 'added', definition_id: ids.v2 });
    expect((await app.engine.getInstance(instance.id)).status).toBe('active');
  });

  it('renames a waiting user task through a hand-written instruction', async () => {
    const ids = await deployTwo('mig_rename', [{ id: 'review', xml: '<bpmn:userTask id="review" />' }], [{ id: 'approve', xml: '<bpmn:userTask id="approve" />' }, afterTask]);
    const instance = await app.engine.start({ definitionId: ids.v1 });
    const before = await waitingTask(instance.id);
    const generated = await app.engine.migrations.generate(ids.v1, ids.v2);
    expect(generated.instructions.find((instruction) => instruction.sourceActivityIds[0] === 'review')).toBeUndefined();
    const plan = { ...generated, instructions: [...generated.instructions, { sourceActivityIds: ['review'], targetActivityIds: ['approve'] }] };

    await app.engine.migrations.migrateInstance(plan, instance.id);
    const after = await waitingTask(instance.id);
    expect(after).toMatchObject({ id: before.id, activity_id: 'approve', definition_id: ids.v2 });
    expect(after.execution_id).toMatch(/^approve_[0-9a-f]{10}$/);

    await app.engine.completeUserTask(before.id);
    expect(await waitingTask(instance.id)).toMatchObject({ activity_id: 'added' });
  });

  it('carries a timer over with its due time; when it fires, the instance continues on v2', async () => {
    const timer = { id: 'pause', xml: '<bpmn:intermediateCatchEvent id="pause"><bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>' };
    const ids = await deployTwo('mig_timer', [timer], [timer, afterTask]);
    const instance = await app.engine.start({ definitionId: ids.v1 });
    const job = await knex()('jobs').where({ instance_id: instance.id, kind: 'timer' }).first();

    await app.engine.migrations.migrateInstance(await app.engine.migrations.generate(ids.v1, ids.v2), instance.id);
    const moved = await knex()('jobs').where({ instance_id: instance.id, kind: 'timer' });
    expect(moved).toHaveLength(1);
    expect(moved[0]).toMatchObject({ id: job.id, definition_id: ids.v2, timer_key: job.timer_key });
    expect(new Date(moved[0].due_at).getTime()).toBe(new Date(job.due_at).getTime());

    await app.engine.executeJob(job.id);
    expect(await waitingTask(instance.id)).toMatchObject({ activity_id: 'added', definition_id: ids.v2 });
  });

  it("with updateEventTrigger a timer is resolved again from v2's definition, from now", async () => {
    const timerOf = (duration: string) => ({ id: 'pause', xml: `<bpmn:intermediateCatchEvent id="pause"><bpmn:timerEventDefinition><bpmn:timeDuration>${duration}</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>` });
    const ids = await deployTwo('mig_retime', [timerOf('PT1H')], [timerOf('PT5H'), afterTask]);
    const instance = await app.engine.start({ definitionId: ids.v1 });
    const before = await knex()('jobs').where({ instance_id: instance.id, kind: 'timer' }).first();

    const plan = await app.engine.migrations.generate(ids.v1, ids.v2, { updateEventTriggers: true });
    expect(plan.instructions).toContainEqual({ sourceActivityIds: ['pause'], targetActivityIds: ['pause'], updateEventTrigger: true });
    await app.engine.migrations.migrateInstance(plan, instance.id);
    const jobs = await knex()('jobs').where({ instance_id: instance.id, kind: 'timer' });
    expect(jobs).toHaveLength(1);
    const hoursAhead = (new Date(jobs[0].due_at).getTime() - Date.now()) / 3_600_000;
    expect(hoursAhead).toBeGreaterThan(4.9);
    expect(hoursAhead).toBeLessThanOrEqual(5);
    expect(new Date(jobs[0].due_at).getTime()).not.toBe(new Date(before.due_at).getTime());

    await app.engine.executeJob(jobs[0].id);
    expect(await waitingTask(instance.id)).toMatchObject({ activity_id: 'added', definition_id: ids.v2 });
  });

  it('re-creates a message subscription from v2; the message then continues the instance on v2', async () => {
    const message = '<bpmn:message id="Paid" name="mig.paid" />';
    const paid = { id: 'paid', xml: '<bpmn:intermediateCatchEvent id="paid"><bpmn:messageEventDefinition messageRef="Paid" /></bpmn:intermediateCatchEvent>' };
    const ids = await deployTwo('mig_msg', [paid], [paid, afterTask], message);
    const instance = await app.engine.start({ definitionId: ids.v1, businessKey: 'M-1' });

    await app.engine.migrations.migrateInstance(await app.engine.migrations.generate(ids.v1, ids.v2, { updateEventTriggers: true }), instance.id);
    const subscriptions = await knex()('subscriptions').where({ instance_id: instance.id });
    expect(subscriptions).toHaveLength(1);
    expect(subscriptions[0]).toMatchObject({ definition_id: ids.v2, activity_id: 'paid', name: 'mig.paid' });

    await app.engine.correlateMessage({ messageName: 'mig.paid', businessKey: 'M-1' });
    expect(await waitingTask(instance.id)).toMatchObject({ activity_id: 'added', definition_id: ids.v2 });
  });

  it('keeps a locked external task (its lock and worker) and completes it on v2', async () => {
    const work = { id: 'work', xml: '<bpmn:serviceTask id="work" camunda:type="external" camunda:topic="mig.work" />' };
    const ids = await deployTwo('mig_ext', [work], [work, afterTask]);
    const instance = await app.engine.start({ definitionId: ids.v1 });
    const [task] = await app.engine.fetchAndLock({ workerId: 'w1', maxTasks: 1, usePriority: false, topics: [{ topicName: 'mig.work', lockDuration: 60_000 }] });
    expect(task).toBeDefined();

    await app.engine.migrations.migrateInstance(await app.engine.migrations.generate(ids.v1, ids.v2), instance.id);
    expect(await knex()('external_tasks').where({ instance_id: instance.id }).first()).toMatchObject({ id: task!.id, definition_id: ids.v2, worker_id: 'w1' });

    await app.engine.completeExternalTask(task!.id, 'w1', { done: true });
    expect(await waitingTask(instance.id)).toMatchObject({ activity_id: 'added', definition_id: ids.v2 });
  });

  it('moves an instance waiting inside a sub-process (the sub-process maps with its task)', async () => {
    const sub = {
      id: 'sp',
      xml: `<bpmn:subProcess id="sp"><bpmn:startEvent id="sp_start" /><bpmn:userTask id="inner" /><bpmn:endEvent id="sp_end" />
        <bpmn:sequenceFlow id="sp_f1" sourceRef="sp_start" targetRef="inner" /><bpmn:sequenceFlow id="sp_f2" sourceRef="inner" targetRef="sp_end" /></bpmn:subProcess>`,
    };
    const ids = await deployTwo('mig_sub', [sub], [sub, afterTask]);
    const instance = await app.engine.start({ definitionId: ids.v1 });
    const task = await waitingTask(instance.id);
    const plan = await app.engine.migrations.generate(ids.v1, ids.v2);
    expect(plan.instructions.map((instruction) => instruction.sourceActivityIds[0])).toEqual(expect.arrayContaining(['sp', 'inner']));
    const withoutScope = { ...plan, instructions: plan.instructions.filter((instruction) => instruction.sourceActivityIds[0] !== 'sp') };
    expect((await app.engine.migrations.validate(withoutScope))[0]!.failures.join()).toContain("runs inside sub-process 'sp', which the plan does not map");

    await app.engine.migrations.migrateInstance(plan, instance.id);
    await app.engine.completeUserTask(task.id);
    expect(await waitingTask(instance.id)).toMatchObject({ activity_id: 'added', definition_id: ids.v2 });
  });

  it('refuses a plan that leaves an active activity unmapped, naming it, and changes nothing', async () => {
    const ids = await deployTwo('mig_refuse', [{ id: 'review', xml: '<bpmn:userTask id="review" />' }], [{ id: 'review', xml: '<bpmn:serviceTask id="review" camunda:type="external" camunda:topic="mig.review" />' }]);
    const instance = await app.engine.start({ definitionId: ids.v1 });
    const plan = await app.engine.migrations.generate(ids.v1, ids.v2);
    expect(plan.instructions.map((instruction) => instruction.sourceActivityIds[0])).not.toContain('review');

    const refused = await app.engine.migrations.migrateInstance(plan, instance.id).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(AppError);
    expect((refused as AppError).code).toBe('MIGRATION_INSTANCE_INVALID');
    expect((refused as AppError).message).toContain("active activity 'review'");

    const forced = { ...plan, instructions: [...plan.instructions, { sourceActivityIds: ['review'], targetActivityIds: ['review'] }] };
    const reports = await app.engine.migrations.validate(forced);
    expect(reports).toHaveLength(1);
    expect(reports[0]!.failures.join()).toMatch(/'review' cannot be mapped to 'review': review is a user-task, review is a service task/);

    const row = await app.engine.getInstance(instance.id);
    expect(row).toMatchObject({ definition_id: ids.v1, version: instance.version });
    expect(await waitingTask(instance.id)).toMatchObject({ definition_id: ids.v1 });
  });

  it('refuses an instance of another version and a mapping to a missing activity', async () => {
    const ids = await deployTwo('mig_other', [{ id: 'review', xml: '<bpmn:userTask id="review" />' }], [{ id: 'review', xml: '<bpmn:userTask id="review" />' }]);
    await app.engine.deploy([{ name: 'mig_other.bpmn', xml: sequence('mig_other', [{ id: 'review', xml: '<bpmn:userTask id="review" />' }, afterTask]) }]);
    const onV3 = await app.engine.start({ processKey: 'mig_other' });
    const plan = await app.engine.migrations.generate(ids.v1, ids.v2);
    await expect(app.engine.migrations.migrateInstance(plan, onV3.id)).rejects.toThrow(/not the plan's source/);
    const bad = { ...plan, instructions: [{ sourceActivityIds: ['review'], targetActivityIds: ['nowhere'] }] };
    await expect(app.engine.migrations.migrateInstance(bad, onV3.id)).rejects.toThrow(/target activity 'nowhere' does not exist/);
  });

  it('a completion racing a migration takes exactly one path', async () => {
    const ids = await deployTwo('mig_race', [{ id: 'review', xml: '<bpmn:userTask id="review" />' }], [{ id: 'review', xml: '<bpmn:userTask id="review" />' }, afterTask]);
    const plan = await app.engine.migrations.generate(ids.v1, ids.v2);
    const instances = await Promise.all(Array.from({ length: 8 }, () => app.engine.start({ definitionId: ids.v1 })));
    await Promise.all(
      instances.map(async (instance) => {
        const task = await waitingTask(instance.id);
        await Promise.allSettled([app.engine.completeUserTask(task.id), app.engine.migrations.migrateInstance(plan, instance.id)]);
      }),
    );
    for (const instance of instances) {
      const row = await app.engine.getInstance(instance.id);
      const reviewEnds = await knex()('history').where({ instance_id: instance.id, activity_id: 'review', event: 'end' });
      expect(reviewEnds).toHaveLength(1);
      const migrated = await knex()('history').where({ instance_id: instance.id, event: 'instance.migrated' });
      if (row.status === 'completed') {
        // Completed on v1 first: the migration found it ended and moved nothing.
        expect(row.definition_id).toBe(ids.v1);
        expect(migrated).toHaveLength(0);
      } else {
        // Migrated first: the completion ran on v2 and waits at v2's added task.
        expect(row.definition_id).toBe(ids.v2);
        expect(migrated).toHaveLength(1);
        expect(await waitingTask(instance.id)).toMatchObject({ activity_id: 'added' });
      }
    }
  });
});
