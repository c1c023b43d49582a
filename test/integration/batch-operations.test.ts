import { sequence } from '../support/bpmn.js';
import { httpClient, TEST_TOKENS } from '../support/server-process.js';
import { createTestApp, eventually } from '../support/test-app.js';

/**
 * Migration over REST (native and Camunda 7's shapes) and batch operations: a batch moves many
 * waiting instances, each exactly once, lists what failed, and stops when cancelled.
 */
describe('migration and batch operations over REST', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let base: string;
  const as = (role: keyof typeof TEST_TOKENS) => httpClient(base, TEST_TOKENS[role]);
  const knex = () => app.database.knex;
  const review = { id: 'review', xml: '<bpmn:userTask id="review" />' };
  const added = { id: 'added', xml: '<bpmn:userTask id="added" />' };
  let v1: string;
  let v2: string;

  beforeAll(async () => {
    app = await createTestApp();
    base = `http://127.0.0.1:${await app.listen()}`;
    v1 = (await app.engine.deploy([{ name: 'bo.bpmn', xml: sequence('bo', [review]) }])).definitions[0]!.id;
    v2 = (await app.engine.deploy([{ name: 'bo.bpmn', xml: sequence('bo', [review, added]) }])).definitions[0]!.id;
  }, 120_000);
  afterAll(async () => {
    await app.dispose();
  });

  const startOnV1 = async (count: number, businessKey?: string) => {
    const ids: string[] = [];
    for (let index = 0; index < count; index++) ids.push((await app.engine.start({ definitionId: v1, businessKey: businessKey ?? null })).id);
    return ids;
  };

  it('native: generate, validate (naming what is unmapped) and execute a plan', async () => {
    const [id] = await startOnV1(1);
    const generated = await as('operator')('POST', '/api/migrations/generate', { sourceDefinitionId: v1, targetDefinitionId: v2 });
    expect(generated.status).toBe(200);
    expect(generated.body.instructions).toContainEqual({ sourceActivityIds: ['review'], targetActivityIds: ['review'] });

    const unmapped = { ...generated.body, instructions: generated.body.instructions.filter((instruction: any) => instruction.sourceActivityIds[0] !== 'review') };
    const report = await as('operator')('POST', '/api/migrations/validate', { plan: unmapped, instanceIds: [id] });
    expect(report.body).toMatchObject({ valid: false, instructionReports: [] });
    expect(JSON.stringify(report.body.instanceReports)).toContain("active activity 'review'");
    const refused = await as('operator')('POST', '/api/migrations/execute', { plan: unmapped, instanceIds: [id] });
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ code: 'MIGRATION_INSTANCE_INVALID' });

    const hostile = await as('operator')('POST', '/api/migrations/execute', { plan: { ...generated.body, extra: 1 }, instanceIds: ['not-an-id'] });
    expect(hostile.status).toBe(400);
    expect(hostile.body.code).toBe('VALIDATION_FAILED');
    expect((await as('worker')('POST', '/api/migrations/generate', { sourceDefinitionId: v1, targetDefinitionId: v2 })).status).toBe(403);

    const executed = await as('operator')('POST', '/api/migrations/execute', { plan: generated.body, instanceIds: [id] });
    expect(executed).toMatchObject({ status: 200, body: { migrated: [id] } });
    expect((await app.engine.getInstance(id!)).definition_id).toBe(v2);
  });

  it("Camunda 7: generate, validate, execute and executeAsync answer in Camunda's shapes", async () => {
    const ids = await startOnV1(3, 'c7-mig');
    const generated = await as('operator')('POST', '/engine-rest/migration/generate', { sourceProcessDefinitionId: v1, targetProcessDefinitionId: v2, updateEventTriggers: false });
    expect(generated.status).toBe(200);
    expect(generated.body).toMatchObject({ sourceProcessDefinitionId: v1, targetProcessDefinitionId: v2, variables: null });
    expect(generated.body.instructions).toContainEqual({ sourceActivityIds: ['review'], targetActivityIds: ['review'], updateEventTrigger: false });

    const wrong = { ...generated.body, instructions: [{ sourceActivityIds: ['review'], targetActivityIds: ['nowhere'], updateEventTrigger: false }] };
    const validated = await as('operator')('POST', '/engine-rest/migration/validate', wrong);
    expect(validated.status).toBe(200);
    expect(validated.body.instructionReports[0].failures.join()).toContain("target activity 'nowhere' does not exist");
    const refusedPlan = await as('operator')('POST', '/engine-rest/migration/execute', { migrationPlan: wrong, processInstanceIds: [ids[0]] });
    expect(refusedPlan.status).toBe(400);
    expect(refusedPlan.body.type).toBe('MigrationPlanValidationException');
    expect(refusedPlan.body.validationReport.instructionReports).toHaveLength(1);

    const empty = { ...generated.body, instructions: [] };
    const refusedInstance = await as('operator')('POST', '/engine-rest/migration/execute', { migrationPlan: empty, processInstanceIds: [ids[0]] });
    expect(refusedInstance.status).toBe(400);
    expect(refusedInstance.body.type).toBe('MigratingProcessInstanceValidationException');
    expect(refusedInstance.body.validationReport.processInstanceValidationReports[0].activityInstanceValidationReports[0]).toMatchObject({ sourceScopeId: 'review' });

    const executed = await as('operator')('POST', '/engine-rest/migration/execute', { migrationPlan: generated.body, processInstanceIds: [ids[0]] });
    expect(executed.status).toBe(204);
    expect((await app.engine.getInstance(ids[0]!)).definition_id).toBe(v2);

    const batch = await as('operator')('POST', '/engine-rest/migration/executeAsync', { migrationPlan: generated.body, processInstanceQuery: { processDefinitionId: v1, businessKey: 'c7-mig' } });
    expect(batch.status).toBe(200);
    expect(batch.body).toMatchObject({ type: 'instance-migration', totalJobs: 1, invocationsPerBatchJob: 50, suspended: false });
    await eventually(async () => (await as('operator')('GET', `/engine-rest/batch/${batch.body.id}`)).status === 200 && (await app.engine.batches.get(batch.body.id)).status === 'completed', 20_000);
    for (const id of ids) expect((await app.engine.getInstance(id)).definition_id).toBe(v2);
    const statistics = await as('operator')('GET', `/engine-rest/batch/statistics?batchId=${batch.body.id}`);
    expect(statistics.body).toEqual([expect.objectContaining({ id: batch.body.id, totalJobs: 1, remainingJobs: 0, completedJobs: 1, failedJobs: 0 })]);
    expect((await as('operator')('GET', '/engine-rest/batch/count?type=instance-migration')).body.count).toBeGreaterThanOrEqual(1);
    expect((await as('operator')('DELETE', `/engine-rest/batch/${batch.body.id}`)).status).toBe(204);
    expect((await as('operator')('GET', `/engine-rest/batch/${batch.body.id}`)).status).toBe(404);
  });

  it('a batch migrates a hundred waiting instances, each exactly once, listing the instance it could not move', async () => {
    const ids = await startOnV1(100, 'many');
    const ended = ids[7]!;
    await app.engine.cancel(ended, 'gone before the batch ran');
    const plan = await app.engine.migrations.generate(v1, v2);
    const created = await as('owner')('POST', '/api/batches', { type: 'instance-migration', plan, instanceIds: ids });
    expect(created.status).toBe(202);
    expect(created.body).toMatchObject({ type: 'instance-migration', status: 'running', total: 100 });

    const done = await eventually(async () => {
      const batch = (await as('owner')('GET', `/api/batches/${created.body.id}`)).body;
      return batch.status === 'completed' ? batch : null;
    }, 150_000);
    expect(done).toMatchObject({ total: 100, done: 99, failed: 1, pending: 0 });
    expect(done.failures).toEqual([{ instanceId: ended, error: expect.stringContaining('has already ended (cancelled)') }]);

    const migrated = await knex()('history').whereIn('instance_id', ids).where({ event: 'instance.migrated' }).groupBy('instance_id').select('instance_id').count({ count: '*' });
    expect(migrated).toHaveLength(99);
    expect(migrated.every((row: any) => Number(row.count) === 1)).toBe(true);
    const onV2 = await knex()('process_instances').whereIn('id', ids).where({ definition_id: v2, status: 'active' }).count({ count: '*' }).first();
    expect(Number(onV2!.count)).toBe(99);
  }, 240_000);

  it('cancel, set-variables and incident-retry batches; a cancelled batch leaves its instances alone', async () => {
    const [a, b, c] = await startOnV1(3, 'ops');
    const setting = await as('operator')('POST', '/api/batches', { type: 'set-variables', variables: { priority: 'high' }, query: { businessKey: 'ops' } });
    expect(setting.status).toBe(202);
    await eventually(async () => (await app.engine.batches.get(setting.body.id)).status === 'completed');
    for (const id of [a, b, c]) expect((await app.engine.getInstance(id!)).variables).toMatchObject({ priority: 'high' });

    const cancelling = await as('operator')('POST', '/api/batches', { type: 'instance-cancel', reason: 'wrong order', instanceIds: [a, b] });
    await eventually(async () => (await app.engine.batches.get(cancelling.body.id)).status === 'completed');
    expect((await app.engine.getInstance(a!)).status).toBe('cancelled');
    expect((await app.engine.getInstance(c!)).status).toBe('active');

    // A batch cancelled before its chunk ran changes nothing.
    await app.poller.stop();
    const stopped = await app.engine.batches.create({ type: 'instance-cancel', reason: 'never' }, [c!]);
    const cancelled = await as('operator')('POST', `/api/batches/${stopped.id}/cancel`);
    expect(cancelled.body).toMatchObject({ status: 'cancelled', pending: 1, done: 0 });
    await app.engine.runDueJobs();
    expect((await app.engine.getInstance(c!)).status).toBe('active');
    expect((await as('operator')('GET', '/api/batches?status=cancelled')).body.map((batch: any) => batch.id)).toContain(stopped.id);
  });

  it('an incident-retry batch gives failed external tasks their retries back', async () => {
    const work = { id: 'work', xml: '<bpmn:serviceTask id="work" camunda:type="external" camunda:topic="bo.work" />' };
    await app.engine.deploy([{ name: 'bo_ext.bpmn', xml: sequence('bo_ext', [work]) }]);
    const instance = await app.engine.start({ processKey: 'bo_ext' });
    const [task] = await app.engine.fetchAndLock({ workerId: 'w', maxTasks: 1, usePriority: false, topics: [{ topicName: 'bo.work', lockDuration: 10_000 }] });
    await app.engine.externalTaskFailure(task!.id, 'w', { errorMessage: 'down', retries: 0 });
    const batch = await app.engine.batches.create({ type: 'incident-retry', retries: 3 }, [instance.id]);
    await app.engine.runDueJobs();
    expect((await app.engine.batches.get(batch.id)).status).toBe('completed');
    expect(await knex()('external_tasks').where({ id: task!.id }).first()).toMatchObject({ retries: 3 });
    expect(await knex()('incidents').where({ instance_id: instance.id }).whereNull('resolved_at')).toHaveLength(0);
  });
});
