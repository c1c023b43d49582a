import { jest } from '@jest/globals';
import { createApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { openDatabase, type Database } from '../../src/store/database.js';
import { sequence } from '../support/bpmn.js';
import { TEST_TOKENS_SETTING } from '../support/server-process.js';
import { createTestDatabase, eventually } from '../support/test-app.js';

const DAY = 24 * 60 * 60 * 1000;

const timerProcess = (key: string, duration: string) =>
  sequence(key, [
    {
      id: 'wait',
      xml: `<bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition><bpmn:timeDuration>${duration}</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>`,
    },
  ]);

/** Engine nodes that come and go over one database, as servers restart. */
describe('timers across time and restarts', () => {
  let database: Database;
  let drop = async () => {};
  const nodes: App[] = [];

  const startNode = async () => {
    const app = await createApp(loadConfig({ PORT: '0', REGENFLOW_DATA_DIR: '/tmp/regenflow-unused', REGENFLOW_JOB_POLL_MS: '50', REGENFLOW_TOKENS: TEST_TOKENS_SETTING }), {
      database,
      log: () => {},
    });
    nodes.push(app);
    return app;
  };

  beforeAll(async () => {
    const testDatabase = await createTestDatabase();
    drop = testDatabase.drop;
    database = await openDatabase({ databaseUrl: testDatabase.url, dataDir: '/tmp/regenflow-unused', inMemory: !testDatabase.url });
  });
  afterEach(() => {
    jest.useRealTimers();
  });
  afterAll(async () => {
    for (const node of nodes) await node.close();
    await database.close();
    await drop();
  });

  it('when a timer comes due while no node runs, then the next node to start fires it exactly once', async () => {
    const first = await startNode();
    await first.engine.deploy([{ name: 'down.bpmn', xml: timerProcess('while_down', 'PT0.5S') }]);
    const instance = await first.engine.start({ processKey: 'while_down' });
    await first.close(); // before the timer is due: nothing is left running in memory

    await new Promise((resolve) => setTimeout(resolve, 700));
    const second = await startNode();
    second.poller.start();
    await eventually(async () => (await second.engine.getInstance(instance.id)).status === 'completed');
    const fired = await database.knex('history').where({ instance_id: instance.id, activity_id: 'wait', event: 'end' });
    expect(fired).toHaveLength(1);
  });

  it('when a 30-day timer is set, then it is a job due in 30 days that fires when the clock gets there, not before', async () => {
    const node = await startNode();
    await node.engine.deploy([{ name: 'month.bpmn', xml: timerProcess('a_month', 'P30D') }]);
    const startedAt = Date.now();
    const instance = await node.engine.start({ processKey: 'a_month' });
    const [job] = await database.knex('jobs').where({ instance_id: instance.id });
    expect(new Date(job.due_at).getTime() - startedAt).toBeGreaterThanOrEqual(30 * DAY - 1000);
    expect(new Date(job.due_at).getTime() - startedAt).toBeLessThanOrEqual(30 * DAY + 5000);

    // Two clocks say when: the database's (due times, claims: one clock for every node) and the
    // node's (bpmn-elements' own timer on resume). Time is moved on for both; the node's only is faked.
    jest.useFakeTimers({
      doNotFake: ['nextTick', 'setImmediate', 'clearImmediate', 'setInterval', 'clearInterval', 'setTimeout', 'clearTimeout', 'queueMicrotask', 'hrtime', 'performance'],
      now: startedAt + 29 * DAY,
    });
    node.poller.start();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await node.engine.getInstance(instance.id)).status).toBe('active');

    jest.setSystemTime(startedAt + 30 * DAY + 10_000);
    await database.knex('jobs').where({ id: job.id }).update({ due_at: database.knex.raw("now() - interval '1 second'") });
    node.poller.wake();
    await eventually(async () => (await node.engine.getInstance(instance.id)).status === 'completed');
    expect(await database.knex('jobs').where({ instance_id: instance.id })).toHaveLength(0);
  });
});
