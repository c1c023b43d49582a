import { createTestApp } from '../support/test-app.js';
import { bpmn, sequence } from '../support/bpmn.js';
import * as jobsStore from '../../src/store/jobs.js';

/**
 * Failed jobs stay visible. A timer start that fails three times (it calls a process that is
 * not deployed) raises a failedJob incident at its definition, in the commit that counts the
 * last retry down, and the operator's retry runs it again. A job whose node dies while running
 * it (its lease runs out again and again) is quarantined as an incident, not run forever.
 */
const nightly = bpmn(
  'nightly_calls',
  `<bpmn:startEvent id="tick"><bpmn:timerEventDefinition><bpmn:timeCycle>R/PT1H</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:startEvent>
   <bpmn:callActivity id="call" calledElement="not_yet_deployed" />
   <bpmn:endEvent id="end" />
   <bpmn:sequenceFlow id="f1" sourceRef="tick" targetRef="call" />
   <bpmn:sequenceFlow id="f2" sourceRef="call" targetRef="end" />`,
);
const called = sequence('not_yet_deployed', [{ id: 'ask', xml: '<bpmn:userTask id="ask" />' }]);
const waiting = sequence('lease_wait', [
  {
    id: 'wait',
    xml: '<bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>',
  },
]);

describe('failed and crashing jobs', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;

  beforeAll(async () => {
    app = await createTestApp();
  });
  afterAll(async () => app.dispose());

  const knex = () => app.database.knex;
  /** Due now, out of any back-off. */
  const dueNow = (jobId: string) => knex().raw(`update jobs set due_at = now() - interval '1 second', locked_by = null, locked_until = null where id = ?`, [jobId]);

  it('when a timer start fails three times, then its definition has an open failedJob incident that a retry clears', async () => {
    const deployment = await app.engine.deploy([{ name: 'nightly.bpmn', xml: nightly }]);
    const definitionId = deployment.definitions[0]!.id;
    const job = await knex()('jobs').where({ kind: 'timer-start', definition_id: definitionId }).first();
    for (let run = 0; run < 3; run++) {
      await dueNow(job.id);
      expect(await app.engine.runDueJobs()).toBe(1);
    }
    const failed = await knex()('jobs').where({ id: job.id }).first();
    expect(failed.retries).toBe(0);
    const incidents = await knex()('incidents').where({ job_id: job.id }).whereNull('resolved_at');
    expect(incidents).toEqual([
      expect.objectContaining({ type: 'failedJob', instance_id: null, definition_id: definitionId, process_key: 'nightly_calls', activity_id: 'tick' }),
    ]);
    expect(incidents[0].message).toMatch(/not_yet_deployed/);

    // The operator deploys what was missing and retries: the next run starts an instance.
    await app.engine.deploy([{ name: 'called.bpmn', xml: called }]);
    await app.engine.retryIncident(incidents[0].id, 1);
    await dueNow(job.id);
    expect(await app.engine.runDueJobs()).toBe(1);
    expect(Number((await knex()('process_instances').where({ process_key: 'nightly_calls' }).count({ n: '*' }).first())!.n)).toBe(1);
    expect(await knex()('incidents').where({ job_id: job.id }).whereNull('resolved_at')).toEqual([]);
  });

  it('when a job outlives its lease again and again (its node dies), then it is quarantined as an incident and not run', async () => {
    await app.engine.deploy([{ name: 'lease.bpmn', xml: waiting }]);
    const instance = await app.engine.start({ processKey: 'lease_wait' });
    const job = await knex()('jobs').where({ instance_id: instance.id, kind: 'timer' }).first();
    // Three nodes claim it and die before finishing: their leases run out.
    for (let crash = 0; crash < 3; crash++) {
      await dueNow(job.id);
      expect(await jobsStore.claimDueJobs(knex(), `doomed-${crash}`, 10, 60_000)).toHaveLength(1);
    }
    await dueNow(job.id);
    await app.engine.runDueJobs();
    expect((await app.engine.getInstance(instance.id)).status).toBe('active'); // the timer did not fire
    expect((await knex()('jobs').where({ id: job.id }).first()).retries).toBe(0);
    const [incident] = await knex()('incidents').where({ job_id: job.id }).whereNull('resolved_at');
    expect(incident).toEqual(expect.objectContaining({ type: 'failedJob', instance_id: instance.id, activity_id: 'wait' }));
    expect(incident.message).toMatch(/quarantined/);
  });
});
