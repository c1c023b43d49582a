import { join } from 'node:path';
import { createApp, deployFolder, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { openDatabase, type Database } from '../../src/store/database.js';
import { bpmn } from '../support/bpmn.js';
import { httpClient, repositoryRoot, TEST_TOKENS_SETTING } from '../support/server-process.js';
import { createTestDatabase, eventually } from '../support/test-app.js';

const HOUR = 60 * 60 * 1000;

const timerStartProcess = (key: string, cycle: string) =>
  bpmn(
    key,
    `<bpmn:startEvent id="cadence"><bpmn:outgoing>f1</bpmn:outgoing><bpmn:timerEventDefinition><bpmn:timeCycle>${cycle}</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:startEvent>
     <bpmn:sequenceFlow id="f1" sourceRef="cadence" targetRef="done" />
     <bpmn:endEvent id="done"><bpmn:incoming>f1</bpmn:incoming></bpmn:endEvent>`,
  );

/** Cadences of timer starts come from server settings; nodes restart with other settings over one database. */
describe('timer starts that read server settings', () => {
  let database: Database;
  let drop = async () => {};
  const nodes: App[] = [];

  const startNode = async (env: Record<string, string> = {}) => {
    const app = await createApp(
      loadConfig({ PORT: '0', REGENFLOW_DATA_DIR: '/tmp/regenflow-unused', REGENFLOW_JOB_POLL_MS: '50', REGENFLOW_TOKENS: TEST_TOKENS_SETTING, ...env }),
      { database, log: () => {} },
    );
    nodes.push(app);
    return app;
  };
  const timerJob = async (processKey: string) =>
    database
      .knex('jobs')
      .where({ kind: 'timer-start' })
      .whereIn('definition_id', database.knex('process_definitions').where({ key: processKey }).select('id'))
      .first();

  beforeAll(async () => {
    const testDatabase = await createTestDatabase();
    drop = testDatabase.drop;
    database = await openDatabase({ databaseUrl: testDatabase.url, dataDir: '/tmp/regenflow-unused', inMemory: !testDatabase.url });
  });
  afterEach(async () => {
    while (nodes.length) await nodes.pop()!.close();
  });
  afterAll(async () => {
    await database.close();
    await drop();
  });

  it('when the evolution cadence is set to hourly, then the shipped evolution cycle is armed for the next hour, and a restart with another cadence re-arms it, also from the lease of a node that died', async () => {
    // Given a node with an hourly cadence deploys the shipped processes
    const first = await startNode({ REGENFLOW_EVOLUTION_CADENCE: 'R/PT1H' });
    const deployedAt = Date.now();
    await deployFolder(first.engine, join(repositoryRoot, 'processes'));
    const armed = await timerJob('evolution-cycle');
    expect((typeof armed.payload === 'string' ? JSON.parse(armed.payload) : armed.payload).expression).toBe('R/PT1H');
    expect(new Date(armed.due_at).getTime() - deployedAt).toBeGreaterThan(0.95 * HOUR);
    expect(new Date(armed.due_at).getTime() - deployedAt).toBeLessThan(1.05 * HOUR);
    await first.close();
    nodes.pop();
    // ...and a node that died while it held the timer's lease
    await database.knex('jobs').where({ id: armed.id }).update({ locked_by: 'dead-node', locked_until: new Date(Date.now() - 1000) });

    // When the server restarts with a six-hour cadence and deploys the same files again
    const restartedAt = Date.now();
    const second = await startNode({ REGENFLOW_EVOLUTION_CADENCE: 'R/PT6H' });
    await deployFolder(second.engine, join(repositoryRoot, 'processes'));

    // Then the same version's timer now runs every six hours
    const versions = await database.knex('process_definitions').where({ key: 'evolution-cycle' }).count<{ count: string }[]>('* as count');
    expect(Number(versions[0]!.count)).toBe(1);
    const rearmed = await timerJob('evolution-cycle');
    expect(rearmed.id).toBe(armed.id);
    const payload = typeof rearmed.payload === 'string' ? JSON.parse(rearmed.payload) : rearmed.payload;
    expect(payload.expression).toBe('R/PT6H');
    expect(new Date(rearmed.due_at).getTime() - restartedAt).toBeGreaterThan(5.9 * HOUR);
    expect(new Date(rearmed.due_at).getTime() - restartedAt).toBeLessThan(6.1 * HOUR);
    // The nightly CI keeps its own default cadence
    const nightly = await timerJob('ci-nightly');
    expect((typeof nightly.payload === 'string' ? JSON.parse(nightly.payload) : nightly.payload).expression).toBe('R/PT24H');
  });

  it('when a setting-driven timer start comes due, then it starts an instance and arms the next occurrence from the setting', async () => {
    const node = await startNode({ REGENFLOW_EVOLUTION_CADENCE: 'R/PT2H' });
    node.poller.start();
    await node.engine.deploy([{ name: 'tick.bpmn', xml: timerStartProcess('tick', '${environment.settings.evolutionCadence}') }]);
    const job = await timerJob('tick');
    await database.knex('jobs').where({ id: job.id }).update({ due_at: new Date() });

    const instance = await eventually(async () => database.knex('process_instances').where({ process_key: 'tick' }).first());
    await eventually(async () => (await node.engine.getInstance(instance.id)).status === 'completed');
    const next = await eventually(async () => {
      const row = await timerJob('tick');
      return new Date(row.due_at).getTime() > Date.now() + HOUR ? row : null;
    });
    expect(new Date(next.due_at).getTime() - Date.now()).toBeLessThan(2.05 * HOUR);
  });

  it('when a diagram timer start reads an unknown setting or never fires, then the deploy is a 400 naming the event and nothing is stored', async () => {
    const node = await startNode();
    const call = httpClient(`http://127.0.0.1:${await node.listen()}`);
    for (const [cycle, says] of [
      ['${environment.settings.weeklyCadence}', /does not resolve to a timer \(settings known: evolutionCadence, ciNightlyCadence\)/],
      ['R/PT0S', /shortest cycle is 1 s/],
      ['whenever', /not an ISO 8601 cycle/],
    ] as const) {
      const response = await call('POST', '/api/deployments', { name: 'bad.bpmn', xml: timerStartProcess('bad_timer', cycle) });
      expect(response.status).toBe(400);
      expect(response.body.details.errors).toEqual([expect.objectContaining({ elementId: 'cadence', rule: 'timer', message: expect.stringMatching(says) })]);
      expect(response.body.detail).toMatch(/cadence \(timer\)/);
    }
    expect(await database.knex('process_definitions').where({ key: 'bad_timer' })).toHaveLength(0);
  });

  it('when a cadence setting is not a repeating ISO 8601 interval, then the server refuses to start with the setting named', () => {
    expect(() => loadConfig({ REGENFLOW_EVOLUTION_CADENCE: 'daily' })).toThrow(/REGENFLOW_EVOLUTION_CADENCE: must be an ISO 8601 repeating interval/);
    expect(() => loadConfig({ REGENFLOW_CI_NIGHTLY_CADENCE: 'R/PT0S' })).toThrow(/REGENFLOW_CI_NIGHTLY_CADENCE/);
  });
});
