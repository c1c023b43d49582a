import { HISTORY_CLEANUP_JOB_ID } from '../../src/store/jobs.js';
import { bpmn, sequence } from '../support/bpmn.js';
import { createTestApp } from '../support/test-app.js';

/**
 * Given REGENFLOW_HISTORY_RETENTION_DAYS, when the hourly cleanup job runs, then instances that
 * ended longer ago are deleted with their history (called instances before their parents),
 * while running and recently ended ones stay; the job arms itself for the next hour.
 */
describe('history retention', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  beforeAll(async () => {
    app = await createTestApp({ env: { REGENFLOW_HISTORY_RETENTION_DAYS: '7' } });
    await app.engine.deploy([
      { name: 'quick.bpmn', xml: bpmn('quick', '<bpmn:startEvent id="s" /><bpmn:endEvent id="e" /><bpmn:sequenceFlow id="f" sourceRef="s" targetRef="e" />') },
      { name: 'waits.bpmn', xml: sequence('waits', [{ id: 'ask', xml: '<bpmn:userTask id="ask" />' }]) },
      { name: 'calls.bpmn', xml: sequence('calls', [{ id: 'call', xml: '<bpmn:callActivity id="call" calledElement="waits" />' }]) },
    ]);
  });
  afterAll(async () => app.dispose());
  const knex = () => app.database.knex;

  it('when the cleanup runs, then only instances ended before the retention window are gone, with their history', async () => {
    const old = await app.engine.start({ processKey: 'quick' });
    const recent = await app.engine.start({ processKey: 'quick' });
    const running = await app.engine.start({ processKey: 'waits' });
    const parent = await app.engine.start({ processKey: 'calls' });
    await app.engine.cancel(parent.id);
    const [child] = await knex()('process_instances').where({ parent_instance_id: parent.id });
    await knex()('process_instances').whereIn('id', [old.id, parent.id, child.id]).update({ ended_at: knex().raw("now() - interval '8 days'") });

    const job = await knex()('jobs').where({ id: HISTORY_CLEANUP_JOB_ID }).first();
    expect(job.kind).toBe('history-cleanup');
    await app.engine.executeJob(HISTORY_CLEANUP_JOB_ID);

    const left = await knex()('process_instances').whereIn('id', [old.id, recent.id, running.id, parent.id, child.id]).pluck('id');
    expect(left.sort()).toEqual([recent.id, running.id].sort());
    expect(await knex()('history').whereIn('instance_id', [old.id, parent.id, child.id])).toEqual([]);
    const next = await knex()('jobs').where({ id: HISTORY_CLEANUP_JOB_ID }).first();
    expect(new Date(next.due_at).getTime() - Date.now()).toBeGreaterThan(50 * 60 * 1000);
  });
});
