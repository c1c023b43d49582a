import { bpmn } from '../support/bpmn.js';
import { eventually } from '../support/test-app.js';
import { createTwoNodes, type TwoNodes } from '../support/two-nodes.js';

/**
 * Given two engine nodes on one database whose clocks disagree by minutes, when one node arms a
 * timer or holds a lease, then the database's clock decides: the timer fires once, when it is
 * due by the database, whichever node runs it, and a lease or lock the other node holds is
 * respected by the node whose clock runs ahead.
 *
 * Both nodes live in this process: a node's clock is faked by moving the process's `Date` while
 * only that node works (pollers are off; the test drives jobs), as a node with a wrong clock
 * would compute its times.
 */
const FIVE_MINUTES = 5 * 60_000;
const RealDate = Date;
let skewMs = 0;

class SkewedDate extends RealDate {
  constructor(...args: unknown[]) {
    if (args.length === 0) super(RealDate.now() + skewMs);
    else super(...(args as [number]));
  }
  static override now(): number {
    return RealDate.now() + skewMs;
  }
  static override [Symbol.hasInstance](value: unknown): boolean {
    return value instanceof RealDate;
  }
}

/** Runs `work` as a node whose clock is `skew` ms off the database's. */
async function onNodeClock<T>(skew: number, work: () => Promise<T>): Promise<T> {
  skewMs = skew;
  try {
    return await work();
  } finally {
    skewMs = 0;
  }
}

const timerProcess = bpmn(
  'skewed_timer',
  `<bpmn:startEvent id="start" />
   <bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition><bpmn:timeDuration>PT2S</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
   <bpmn:endEvent id="end" />
   <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait" />
   <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="end" />`,
);

const workProcess = bpmn(
  'skewed_work',
  `<bpmn:startEvent id="start" />
   <bpmn:serviceTask id="work" camunda:type="external" camunda:topic="skewed" />
   <bpmn:endEvent id="end" />
   <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="work" />
   <bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="end" />`,
);

/** A timer on one branch, a user task on the other: completing the task resumes the instance while the timer waits. */
const timerBesideTask = bpmn(
  'skewed_branches',
  `<bpmn:startEvent id="start" />
   <bpmn:parallelGateway id="fork" />
   <bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition><bpmn:timeDuration>PT2M</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
   <bpmn:userTask id="review" />
   <bpmn:endEvent id="waited" />
   <bpmn:endEvent id="reviewed" />
   <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="fork" />
   <bpmn:sequenceFlow id="f2" sourceRef="fork" targetRef="wait" />
   <bpmn:sequenceFlow id="f3" sourceRef="fork" targetRef="review" />
   <bpmn:sequenceFlow id="f4" sourceRef="wait" targetRef="waited" />
   <bpmn:sequenceFlow id="f5" sourceRef="review" targetRef="reviewed" />`,
);

describe('nodes whose clocks disagree', () => {
  let two: TwoNodes;

  beforeAll(async () => {
    globalThis.Date = SkewedDate as DateConstructor;
    // Each node measures its clock at every commit: this test moves a node's clock between calls.
    two = await createTwoNodes({ env: { REGENFLOW_CLOCK_CHECK_MS: '0' } });
    await two.nodes[0].engine.deploy([
      { name: 'skewed-timer.bpmn', xml: timerProcess },
      { name: 'skewed-work.bpmn', xml: workProcess },
      { name: 'skewed-branches.bpmn', xml: timerBesideTask },
    ]);
  }, 60_000);

  afterAll(async () => {
    await two?.dispose();
    globalThis.Date = RealDate;
  });

  const knex = () => two.nodes[0].database.knex;

  /** Seconds from the database's now until the instance's timer job is due. */
  async function dueInSeconds(instanceId: string): Promise<number> {
    const result = await knex().raw(`SELECT extract(epoch FROM (due_at - clock_timestamp())) AS s FROM jobs WHERE instance_id = ? AND kind = 'timer'`, [instanceId]);
    return Number(result.rows[0].s);
  }

  async function timerEnds(instanceId: string): Promise<number> {
    return (await knex()('history').where({ instance_id: instanceId, activity_id: 'wait', event: 'end' })).length;
  }

  for (const [label, skew] of [
    ['five minutes ahead', FIVE_MINUTES],
    ['five minutes behind', -FIVE_MINUTES],
  ] as const) {
    test(`when a node ${label} arms a 2 s timer, then it is due 2 s later by the database's clock and the other node fires it once`, async () => {
      const [a, b] = two.nodes;
      const instance = await onNodeClock(skew, () => a.engine.start({ processKey: 'skewed_timer' }));
      const due = await dueInSeconds(instance.id);
      expect(due).toBeGreaterThan(0.5);
      expect(due).toBeLessThanOrEqual(2.1);
      // Not due yet by the database: the other node claims nothing.
      expect(await b.engine.runDueJobs()).toBe(0);
      await eventually(async () => {
        await b.engine.runDueJobs();
        return (await b.engine.getInstance(instance.id)).status === 'completed';
      }, 30_000);
      expect(await timerEnds(instance.id)).toBe(1);
      expect(await knex()('jobs').where({ instance_id: instance.id })).toHaveLength(0);
    }, 60_000);
  }

  test('when the node that fires a timer runs minutes behind the one that armed it, then it fires it when due instead of releasing it again and again', async () => {
    const [a, b] = two.nodes;
    const instance = await a.engine.start({ processKey: 'skewed_timer' });
    await eventually(async () => (await dueInSeconds(instance.id)) <= 0, 30_000);
    await onNodeClock(-FIVE_MINUTES, () => b.engine.runDueJobs());
    expect((await b.engine.getInstance(instance.id)).status).toBe('completed');
    expect(await timerEnds(instance.id)).toBe(1);
  }, 60_000);

  for (const [label, armedAt, resumedAt] of [
    ['runs minutes ahead of the node that armed it', 0, FIVE_MINUTES],
    ['runs minutes ahead, and the node that armed it minutes behind', -FIVE_MINUTES, FIVE_MINUTES],
  ] as const) {
    test(`when a node that ${label} resumes the instance for another reason while its 2-minute timer waits, then the timer keeps waiting, due when the database says`, async () => {
      const [a, b] = two.nodes;
      const instance = await onNodeClock(armedAt, () => a.engine.start({ processKey: 'skewed_branches' }));
      const dueBefore = await dueInSeconds(instance.id);
      expect(dueBefore).toBeGreaterThan(100);
      const task = await knex()('user_tasks').where({ instance_id: instance.id, activity_id: 'review' }).first();
      // A cold resume: the other node has no warm engine of this instance.
      await onNodeClock(resumedAt, () => b.engine.completeUserTask(task.id, {}));
      const after = await b.engine.getInstance(instance.id);
      expect(after.status).toBe('active');
      expect(await timerEnds(instance.id)).toBe(0);
      // Its job and the timer inside the saved state still say two minutes, by the database's clock.
      expect(Math.abs((await dueInSeconds(instance.id)) - dueBefore)).toBeLessThan(10);
      // And once the database says it is due, it fires, once.
      await knex()('jobs').where({ instance_id: instance.id, kind: 'timer' }).update({ due_at: knex().raw('now()') });
      await onNodeClock(armedAt, () => a.engine.runDueJobs());
      expect((await a.engine.getInstance(instance.id)).status).toBe('completed');
      expect(await timerEnds(instance.id)).toBe(1);
    }, 60_000);
  }

  test("when nodes minutes apart write one instance's history, then every time is on the database's clock, in the order the steps ran", async () => {
    const [a, b] = two.nodes;
    const instance = await onNodeClock(FIVE_MINUTES, () => a.engine.start({ processKey: 'skewed_branches' }));
    const task = await knex()('user_tasks').where({ instance_id: instance.id, activity_id: 'review' }).first();
    await onNodeClock(-FIVE_MINUTES, () => b.engine.completeUserTask(task.id, {}));
    await onNodeClock(FIVE_MINUTES, () => a.engine.cancel(instance.id));
    const lag = await knex().raw(
      `SELECT (SELECT max(abs(extract(epoch FROM (at - clock_timestamp())))) FROM history WHERE instance_id = ?) AS history,
              abs(extract(epoch FROM (started_at - clock_timestamp()))) AS started,
              abs(extract(epoch FROM (ended_at - clock_timestamp()))) AS ended
         FROM process_instances WHERE id = ?`,
      [instance.id, instance.id],
    );
    for (const seconds of Object.values(lag.rows[0])) expect(Number(seconds)).toBeLessThan(60);
    const times = (await knex()('history').where({ instance_id: instance.id }).orderBy('id')).map((row: { at: Date }) => new RealDate(row.at).getTime());
    expect(times).toEqual([...times].sort((x, y) => x - y));
  }, 60_000);

  test("when a node runs minutes ahead, then a job leased by the other node is not taken from it, by the poller or by execute-now", async () => {
    const [a] = two.nodes;
    const instance = await a.engine.start({ processKey: 'skewed_timer' });
    // The other node (node-1) claimed it a moment ago by the database's clock; its lease runs a minute.
    await knex()('jobs')
      .where({ instance_id: instance.id })
      .update({ due_at: knex().raw('now()'), locked_by: 'node-1', locked_until: knex().raw("now() + interval '60 seconds'") });
    const job = await knex()('jobs').where({ instance_id: instance.id }).first();
    await onNodeClock(FIVE_MINUTES, async () => {
      expect(await a.engine.runDueJobs()).toBe(0);
      await expect(a.engine.executeJob(job.id)).rejects.toMatchObject({ code: 'JOB_LOCKED' });
    });
    expect((await knex()('jobs').where({ id: job.id }).first()).locked_by).toBe('node-1');
    expect((await a.engine.getInstance(instance.id)).status).toBe('active');
  }, 60_000);

  test("when a node runs minutes ahead, then an external task another worker locked is neither fetched nor completed as if the lock had expired", async () => {
    const [a, b] = two.nodes;
    const instance = await b.engine.start({ processKey: 'skewed_work' });
    const topics = [{ topicName: 'skewed', lockDuration: 60_000 }];
    const [held] = await b.engine.fetchAndLock({ workerId: 'on-time', maxTasks: 1, usePriority: false, topics });
    expect(held?.instance_id).toBe(instance.id);
    await onNodeClock(FIVE_MINUTES, async () => {
      expect(await a.engine.fetchAndLock({ workerId: 'ahead', maxTasks: 5, usePriority: false, topics })).toHaveLength(0);
      // The holder's own completion through the node that runs ahead still counts: its lock is live.
      await a.engine.completeExternalTask(held!.id, 'on-time');
    });
    expect((await b.engine.getInstance(instance.id)).status).toBe('completed');
  }, 60_000);
});
