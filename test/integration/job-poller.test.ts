import { createTestApp, eventually } from '../support/test-app.js';
import { sequence } from '../support/bpmn.js';

/**
 * Given a job that another node holds (its lease runs for an hour) or that waits out its
 * failure back-off, when the poller is idle, then it sleeps until its poll interval instead
 * of re-polling at once: the job is not claimable, so it is not "due".
 */
const waitProcess = sequence('poll_wait', [
  {
    id: 'wait',
    xml: '<bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>',
  },
]);

describe('the job poller when idle', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let claims = 0;

  beforeAll(async () => {
    app = await createTestApp({ env: { REGENFLOW_JOB_POLL_MS: '1000' } });
    app.database.knex.on('query', (query: { sql: string }) => {
      if (/update\s+jobs\s+set\s+locked_by/i.test(query.sql)) claims++;
    });
    await app.engine.deploy([{ name: 'wait.bpmn', xml: waitProcess }]);
  });

  afterAll(async () => {
    await app.poller.stop();
    await app.dispose();
  });

  async function countClaimsFor(ms: number): Promise<number> {
    app.poller.start();
    await eventually(async () => claims > 0); // the first tick ran
    const before = claims;
    await new Promise((resolve) => setTimeout(resolve, ms));
    await app.poller.stop();
    return claims - before;
  }

  it('when the only due job is leased by another node, then the poller polls about once a second', async () => {
    const instance = await app.engine.start({ processKey: 'poll_wait' });
    await app.database.knex.raw(
      `update jobs set due_at = now() - interval '1 second', locked_by = 'other-node', locked_until = now() + interval '1 hour' where instance_id = ?`,
      [instance.id],
    );
    expect(await countClaimsFor(2000)).toBeLessThanOrEqual(4);
  });

  it('when the only due job waits out its back-off, then the poller polls about once a second', async () => {
    await app.database.knex.raw(`update jobs set locked_by = null, locked_until = now() + interval '1 hour'`);
    expect(await countClaimsFor(2000)).toBeLessThanOrEqual(4);
  });
});

const onPostgres = process.env.DATABASE_URL ? describe : describe.skip;

onPostgres('a job created on another node', () => {
  it('when node B sleeps a long poll interval, then a timer node A arms still fires on time (NOTIFY wakes B)', async () => {
    const { createTwoNodes } = await import('../support/two-nodes.js');
    const two = await createTwoNodes({ env: { REGENFLOW_JOB_POLL_MS: '60000' } });
    try {
      const [a, b] = two.nodes;
      await a.engine.deploy([{ name: 'soon.bpmn', xml: waitProcess.replace('PT1H', 'PT0.3S').replace(/poll_wait/g, 'poll_soon') }]);
      b.poller.start();
      await new Promise((resolve) => setTimeout(resolve, 300)); // B's first tick found nothing and sleeps a minute
      const instance = await a.engine.start({ processKey: 'poll_soon' });
      const ended = await eventually(async () => {
        const row = await a.engine.getInstance(instance.id);
        return row.status === 'completed' && row;
      }, 5000);
      expect(ended.status).toBe('completed');
    } finally {
      await two.nodes[1].poller.stop();
      await two.dispose();
    }
  });
});
