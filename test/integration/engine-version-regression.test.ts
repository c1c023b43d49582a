import { join } from 'node:path';
import { deployFolder } from '../../src/app.js';
import { ordersProcess } from '../support/orders-process.js';
import { repositoryRoot } from '../support/server-process.js';
import { createTestApp, eventually } from '../support/test-app.js';

/**
 * regenflow measures itself from the spans its engine emits for real instances: a new
 * version of a process that fails and slows down is judged against the version before it,
 * and the shipped DMEDI cycle rolls new starts back to the good version.
 */
describe('regenflow heals a regressed process version from its own spans', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;

  const orders = ordersProcess;

  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  /**
   * The orders service's worker, running all along: charging takes 5 ms; the fraud check
   * that version 2 added takes 100 ms (well above a loaded machine's scheduling noise, so
   * the latency shift is the diagram's, not the machine's) and fails two requests of three.
   */
  function serveOrders(): { stop(): Promise<void> } {
    let stopped = false;
    let requests = 0;
    const loop = async () => {
      while (!stopped) {
        const tasks = await app.engine.fetchAndLock({
          workerId: 'orders-worker',
          maxTasks: 10,
          usePriority: false,
          topics: [
            { topicName: 'orders.fraud-check', lockDuration: 30_000 },
            { topicName: 'orders.charge', lockDuration: 30_000 },
          ],
        });
        for (const task of tasks) {
          if (task.topic === 'orders.fraud-check') {
            await sleep(100);
            if (requests++ % 3 !== 0) await app.engine.externalTaskFailure(task.id, 'orders-worker', { errorMessage: 'fraud service: 503', retries: 0, retryTimeout: 0 });
            else await app.engine.completeExternalTask(task.id, 'orders-worker', {});
          } else {
            await sleep(5);
            await app.engine.completeExternalTask(task.id, 'orders-worker', {});
          }
        }
        if (!tasks.length) await sleep(20);
      }
    };
    const running = loop();
    // Awaited, so no fetch or completion of this test outlives its app's database.
    return {
      stop: async () => {
        stopped = true;
        await running;
      },
    };
  }

  /** Starts `count` orders and waits until each has completed or stopped at an incident. */
  async function orderTraffic(count: number): Promise<void> {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      ids.push((await app.engine.start({ processKey: 'orders' })).id);
      await sleep(10);
    }
    await eventually(async () => {
      const settled = await app.database
        .knex('process_instances as p')
        .whereIn('p.id', ids)
        .andWhere((query) => query.where('p.status', 'completed').orWhereExists(app.database.knex('incidents as i').whereRaw('i.instance_id = p.id').whereNull('i.resolved_at')))
        .count<{ count: string }[]>('* as count');
      return Number(settled[0]!.count) === count;
    }, 30_000);
  }

  beforeAll(async () => {
    app = await createTestApp({ builtIns: true, env: { REGENFLOW_WORKER_RETRY_MS: '100' } });
    await app.listen();
    await deployFolder(app, join(repositoryRoot, 'processes'));
    // Every shipped process deployed: as long as in dmedi-regeneration.test.ts on a loaded machine.
  }, 120_000);
  afterAll(async () => {
    await app.dispose();
  });

  it('when version 2 fails and slows down against version 1, then the cycle rolls new starts back to version 1 and learns the success', async () => {
    const worker = serveOrders();
    try {
      // Given: version 1 served well, then version 2 added a fraud check that fails two orders of three.
      await app.engine.deploy([{ name: 'orders.bpmn', xml: orders('good') }]);
      await orderTraffic(40);
      await app.engine.deploy([{ name: 'orders.bpmn', xml: orders('broken') }]);
      await orderTraffic(40);
      await app.telemetry.flush();

      // When: a DMEDI cycle judges the latest version against the previous one, while orders keep coming.
      const cycle = await app.engine.start({
        processKey: 'dmedi-regeneration',
        // A settle budget for two verdicts (the strategy's, and the check after a rollback), each needing 30 s of clean
        // traffic before a fault is called gone: with 30 s in all, the strategy's verdict had 15 s and could not say "recovered";
        // with 90 s it had 45 s, and on a loaded CI machine that once ended undecided. 3 minutes give it 90 s; a clear
        // verdict comes at the first look past 30 s either way.
        variables: { system: 'regenflow/orders', compareVersions: true, windowSeconds: 600, baselineSeconds: 600, settleDuration: 'PT3M', verifyWindowSeconds: 10 },
      });
      let cycleEnded = false;
      const traffic = (async () => {
        while (!cycleEnded) {
          await app.engine.start({ processKey: 'orders' });
          await sleep(100);
          await app.telemetry.flush();
        }
      })();
      let ended;
      try {
        // Ended, or waiting for a person (a verdict that called the fix off): the assertions below say which, with its reasons.
        ended = await eventually(async () => {
          const instance = await app.engine.getInstance(cycle.id);
          const waitingForPerson = await app.database.knex('user_tasks').where({ instance_id: cycle.id }).first('activity_id');
          return instance.status !== 'active' || waitingForPerson ? instance : null;
        }, 240_000);
      } finally {
        cycleEnded = true;
        await traffic;
      }

      // Then: from the engine's own spans, version 2 is HIGH or worse: instances fail and run longer.
      const [judged] = await app.database.knex('entropy_measurements').where({ system: 'regenflow/orders' }).orderBy('id').limit(1);
      const indicators = judged.indicators as Record<string, { detected: boolean }>;
      expect(['HIGH', 'CRITICAL']).toContain(judged.level);
      expect(indicators.errorRate!.detected).toBe(true);
      expect(indicators.latencyShift!.detected).toBe(true);
      expect(judged.validation_errors).toBeGreaterThan(0); // the open incidents of version 2

      // The cycle chose and ran the version rollback, and learned its success.
      // (with the verdict's reasons, so that a failure says which finding called the fix off)
      expect(`${ended.status}: ${(ended.variables.verdictReasons as string[] | undefined)?.join('; ')}`).toMatch(/^completed:/);
      expect(ended.variables).toMatchObject({ strategyId: 'engine-version-rollback', learnedSuccess: true });
      expect(Number(ended.variables.entropyAfter)).toBeLessThan(Number(ended.variables.entropy));
      // and the instances the rollback serves are healthy in their own right, not only by one incident count less:
      // measured the same way (open incidents of the version serving starts), they fail less and run faster.
      const after = await app.database.knex('entropy_measurements').where({ id: ended.variables.measurementAfterId }).first();
      const healthBefore = (judged.indicators as { health: { errorRate: number; latencyScore: number } }).health;
      const healthAfter = (after.indicators as { health: { errorRate: number; latencyScore: number; latencyRatio: { p95: number } } }).health;
      expect(healthBefore.errorRate).toBeGreaterThan(0.5);
      expect(healthAfter.errorRate).toBeLessThan(0.1);
      expect(healthAfter.latencyScore).toBeGreaterThan(healthBefore.latencyScore);
      expect(healthAfter.latencyRatio.p95).toBeLessThan(1.2);
      const versions = await app.database.knex('process_definitions').where({ key: 'orders' }).orderBy('version');
      expect(versions.map((row: { version: number }) => row.version)).toEqual([1, 2, 3]);
      expect(versions[2].checksum).toBe(versions[0].checksum);
      const fresh = await app.engine.start({ processKey: 'orders' });
      await eventually(async () => (await app.engine.getInstance(fresh.id)).status === 'completed', 30_000); // a polling worker on a loaded machine
      expect(await app.database.knex('history').where({ instance_id: fresh.id, activity_id: 'fraud_check' })).toHaveLength(0);
    } finally {
      await worker.stop();
    }
  }, 330_000);
});
