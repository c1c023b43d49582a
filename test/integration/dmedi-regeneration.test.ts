import '../support/simulated-time.js';
import { jest } from '@jest/globals';
import { join } from 'node:path';
import { deployFolder } from '../../src/app.js';
import { STRATEGIES } from '../../service-tasks/entropy/strategies.js';
import { phasesFromSpans } from '../support/dmedi-phases.js';
import { repositoryRoot } from '../support/server-process.js';
import { SpanSimulator, writeSpans, type Degradation } from '../support/span-simulator.js';
import { createTestApp, eventually } from '../support/test-app.js';
import { DmediWorld, faultsInForce, type WorldService } from '../support/dmedi-world.js';

/**
 * The whole loop on the real engine and the shipped dmedi-regeneration.bpmn: a simulated
 * service (spans written into the span store, live) degrades; a DMEDI cycle measures it,
 * ranks and generates a strategy workflow, and runs it as a call activity whose steps the
 * service's own agent (this test, an external-task worker) carries out — the simulator
 * models the repair by ending its degradations. The cycle then measures again and learns.
 */
describe('DMEDI regeneration', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  const regenTopics = [...new Set(STRATEGIES.flatMap((strategy) => strategy.steps.map((step) => step.topic)).filter((topic) => topic.startsWith('regen.')))];

  /**
   * Services for the adversarial cycles below, on simulated time (test/support/dmedi-world.ts):
   * each has a declared rollback hook, and says what a strategy step and a rollback do to it.
   */
  const world = new DmediWorld();
  const noRollbackEffect = world.service({ system: 'shop-rollback-changes-nothing', seed: 21, requestsPerSecond: 5, onRollback: () => 202 });
  const worsened = world.service({
    system: 'shop-strategy-worsens',
    seed: 22,
    requestsPerSecond: 5,
    onStrategy: (step, _strategy, self) => void (step === 1 && self.simulator.inject({ kind: 'latency-shift', at: new Date(), magnitude: 6 })),
    // The rollback returns to the release before the fault: it ends the fault and the strategy's damage.
    onRollback: (self) => {
      self.simulator.applyStrategy('rollback');
      return 202;
    },
  });
  const hookFails = world.service({ system: 'shop-hook-fails', seed: 23, requestsPerSecond: 5, onRollback: () => 500 });
  const vanishes = world.service({ system: 'shop-fault-vanishes', seed: 24, requestsPerSecond: 5, onRollback: () => 202 });
  const quiet = world.service({ system: 'shop-almost-no-traffic', seed: 25, requestsPerSecond: 0.02, onStrategy: (_step, strategy, self) => self.simulator.applyStrategy(strategy) });
  const quietStable = world.service({ system: 'shop-almost-no-traffic-stable', seed: 26, requestsPerSecond: 0.02 });
  /** A fix that works; the rollback would bring the fault back (it undoes the fix). */
  const fixedBy = (system: string, seed: number, requestsPerSecond: number) =>
    world.service({
      system,
      seed,
      requestsPerSecond,
      onStrategy: (_step, strategy, self) => self.simulator.applyStrategy(strategy),
      onRollback: (self) => {
        self.simulator.inject({ kind: 'latency-tail', at: new Date(), magnitude: 8 });
        return 202;
      },
    });
  // One service per try of the slow-tail cycle (see its retries), each with a history of its own.
  const slowTails = [0, 1, 2].map((attempt) => fixedBy(attempt ? `shop-slow-tail-${attempt}` : 'shop-slow-tail', 27 + 100 * attempt, 2));
  let slowTailTries = 0;
  const clearFix = fixedBy('shop-clear-fix', 28, 5);
  const unchanged = world.service({ system: 'shop-unchanged', seed: 29, requestsPerSecond: 5, onRollback: () => 202 });

  beforeAll(async () => {
    app = await createTestApp({ builtIns: true, env: { REGENFLOW_WORKER_RETRY_MS: '100', REGENFLOW_ROLLBACK_HOOKS: await world.hooksFile() } });
    await app.listen();
    await deployFolder(app, join(repositoryRoot, 'processes'));
    world.engine = app.engine;
    world.knex = app.database.knex;
  }, 180_000);
  afterAll(async () => {
    await app.dispose();
    await world.close();
  });

  /** The service's agent: carries out regen.* steps; any step but backup/validate applies the strategy to the simulator (unless `changesNothing`). */
  function serveAgent(simulator: SpanSimulator, changesNothing = false): () => void {
    let stopped = false;
    const loop = async () => {
      while (!stopped) {
        const tasks = await app.engine.fetchAndLock({
          workerId: 'orders-agent',
          maxTasks: 5,
          usePriority: false,
          topics: regenTopics.map((topicName) => ({ topicName, lockDuration: 30_000 })),
        });
        for (const task of tasks) {
          if (!changesNothing && !['regen.backup-state', 'regen.validate'].includes(task.topic)) simulator.applyStrategy(String(task.variables.strategyId));
          await app.engine.completeExternalTask(task.id, 'orders-agent', { [`${task.activity_id}Done`]: true });
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };
    void loop();
    return () => {
      stopped = true;
    };
  }

  it('when a degraded system goes through a cycle, then all five phases run and entropy after is lower than before', async () => {
    // Given: 10 minutes of healthy traffic, then 40 s of errors, slow responses and renamed routes, still going on.
    const system = 'orders-api';
    const now = Date.now();
    const simulator = new SpanSimulator({ system, seed: 42, requestsPerSecond: 20 });
    const degradedSince = new Date(now - 40_000);
    simulator.inject({ kind: 'error-burst', at: degradedSince, magnitude: 0.4 });
    simulator.inject({ kind: 'latency-shift', at: degradedSince, magnitude: 2.5 });
    simulator.inject({ kind: 'schema-drift', at: degradedSince });
    await writeSpans(app.database.knex, simulator.generate(new Date(now - 600_000), new Date(now)));
    const stopTraffic = simulator.live(app.database.knex, new Date(now));
    const stopAgent = serveAgent(simulator);
    try {
      // When
      const instance = await app.engine.start({
        processKey: 'dmedi-regeneration',
        variables: { system, windowSeconds: 30, baselineSeconds: 540, settleDuration: 'PT60S', injectedFailureRate: 0.02 },
      });
      // (ended, or waiting for a person to roll back: then the verdict says why)
      const ended = await eventually(async () => {
        const row = await app.engine.getInstance(instance.id);
        if (row.status !== 'active') return row;
        return (await app.database.knex('user_tasks').where({ instance_id: instance.id }).first()) && row;
      }, 270_000);

      // Then
      const verdict = ended.variables as Record<string, any>;
      if (ended.status !== 'completed') throw new Error(`not completed: ${verdict.verdict}, ${JSON.stringify(verdict.verdictReasons)}`);
      expect(verdict.verdict).toBe('recovered');
      await app.telemetry.flush();
      expect(await phasesFromSpans(app.telemetry.spans, instance.id)).toEqual({ define: true, measure: true, explore: true, develop: true, implement: true });
      const variables = ended.variables as Record<string, any>;
      expect(variables.regenerationNeeded).toBe(true);
      expect(variables.entropyAfter).toBeLessThan(variables.entropy);
      expect(variables).toMatchObject({ verdict: 'recovered', recovered: true });
      expect(simulator.applied.map((applied) => applied.strategyId)).toContain(variables.strategyId);
      // Measure's snapshot against the verdict's last look (the settle loop writes one measurement per look, so the two
      // newest rows of the system are both looks at the settle window).
      const before = await app.database.knex('entropy_measurements').where({ id: variables.measurementId, system }).first();
      const after = await app.database.knex('entropy_measurements').where({ id: variables.measurementAfterId, system }).first();
      expect(Number(before.score)).toBeGreaterThanOrEqual(0.3);
      expect(Number(before.score)).toBeCloseTo(variables.entropy, 6);
      expect(Number(after.score)).toBeCloseTo(variables.entropyAfter, 6);
      expect(Number(after.score)).toBeLessThan(Number(before.score));
      expect(new Date(after.window_start).getTime()).toBeGreaterThanOrEqual(new Date(before.window_end).getTime() - 1000);
      const outcome = await app.database.knex('strategy_outcomes').where({ instance_id: instance.id }).first();
      expect(outcome).toMatchObject({ strategy_id: variables.strategyId, success: true });
      const ends = await app.database.knex('history').where({ instance_id: instance.id, event: 'end' }).pluck('activity_id');
      expect(ends).toEqual(expect.arrayContaining(['learn_success', 'end_regenerated']));
    } finally {
      stopAgent();
      await stopTraffic();
    }
  }, 300_000);

  it('when the strategy changes nothing, then the cycle is not recovered and, with no rollback hook, a person is asked to roll back', async () => {
    // Given a service failing 40 % of its requests and 2.5 times slower for the last 40 s, still going on
    const system = 'orders-unchanged';
    const now = Date.now();
    const simulator = new SpanSimulator({ system, seed: 43, requestsPerSecond: 20 });
    const degradedSince = new Date(now - 40_000);
    simulator.inject({ kind: 'error-burst', at: degradedSince, magnitude: 0.4 }).inject({ kind: 'latency-shift', at: degradedSince, magnitude: 2.5 });
    await writeSpans(app.database.knex, simulator.generate(new Date(now - 600_000), new Date(now)));
    const stopTraffic = simulator.live(app.database.knex, new Date(now));
    // and an agent that runs every step of the strategy without changing anything
    const stopAgent = serveAgent(simulator, true);
    try {
      // When a cycle runs
      const instance = await app.engine.start({
        processKey: 'dmedi-regeneration',
        variables: { system, windowSeconds: 30, baselineSeconds: 540, settleDuration: 'PT5S', injectedFailureRate: 0.02 },
      });
      const [task] = await eventually(async () => {
        const tasks = await app.database.knex('user_tasks').where({ instance_id: instance.id });
        return tasks.length > 0 && tasks;
      }, 120_000);

      // Then the verdict is "not recovered" against the state before the fault, and the rollback goes to a person
      expect(task).toMatchObject({ activity_id: 'rollback_by_hand' });
      const variables = (await app.engine.getInstance(instance.id)).variables as Record<string, any>;
      expect(variables).toMatchObject({ regenerationNeeded: true, recovered: false, verdict: 'not-recovered', rolledBack: false });
      expect(variables.entropyAfter).toBeGreaterThanOrEqual(0.3);
      expect(await app.database.knex('strategy_outcomes').where({ instance_id: instance.id }).first()).toMatchObject({ success: false });
    } finally {
      stopAgent();
      await stopTraffic();
    }
  }, 150_000);

  it('when a system had its allowed cycles within the window, then the circuit breaker refuses the next one', async () => {
    const run = async () => {
      const instance = await app.engine.start({ processKey: 'dmedi-regeneration', variables: { system: 'quiet-system', maxCycles: 1, breakerMinutes: 60 } });
      await eventually(async () => (await app.engine.getInstance(instance.id)).status !== 'active');
      return app.database.knex('history').where({ instance_id: instance.id, event: 'end' }).pluck('activity_id');
    };
    // A system without traffic problems: the first cycle measures and finds nothing to do.
    expect(await run()).toEqual(expect.arrayContaining(['define_charter', 'measure_entropy', 'end_healthy']));
    const refused = await run();
    expect(refused).toContain('end_refused');
    expect(refused).not.toContain('define_charter');
  });

  describe('on simulated time, when the world does not play along', () => {
    /** 25 minutes of history; the fault began 4 minutes before the cycle (the 5-minute window holds it). */
    async function degrade(service: WorldService, faults: Array<Parameters<WorldService['simulator']['inject']>[0]>) {
      for (const fault of faults) service.simulator.inject(fault);
      await world.history(service, 1500);
    }
    const since = () => new Date(Date.now() - 240_000);
    // A cycle's real time is mostly the engine's and the measurements' work; on a loaded machine it takes minutes.
    const cycle = (service: WorldService) => world.runCycle(service, { windowSeconds: 300, baselineSeconds: 1200 }, 300_000);

    it('when the rollback answers 2xx but the system is still degraded, then the cycle looks again and hands it to a person', async () => {
      await degrade(noRollbackEffect, [{ kind: 'error-burst', at: since(), magnitude: 0.3 }]);
      const result = await cycle(noRollbackEffect);
      expect(result.end).toBe('person: investigate');
      expect(result.variables).toMatchObject({ verdict: 'not-recovered', rolledBack: true, healthyAfterRollback: false, verdictAfterRollback: 'not-recovered' });
      expect(noRollbackEffect.rollbackCalls).toBe(1);
      await app.engine.cancel(result.instanceId);
    }, 330_000);

    it('when the strategy makes things worse and the rollback repairs it, then the cycle ends "Rolled back" with the system healthy again', async () => {
      await degrade(worsened, [{ kind: 'error-burst', at: since(), magnitude: 0.3 }]);
      const result = await cycle(worsened);
      expect(result.end).toBe('end_rolled_back');
      expect(result.variables).toMatchObject({ verdict: 'not-recovered', rolledBack: true, healthyAfterRollback: true, verdictAfterRollback: 'recovered' });
      expect(result.variables.entropyAfter).toBeGreaterThanOrEqual(0.3);
      expect(faultsInForce(worsened.simulator, Date.now())).toEqual([]);
    }, 330_000);

    it('when the rollback hook fails, then a person is asked to roll back by hand', async () => {
      await degrade(hookFails, [{ kind: 'error-burst', at: since(), magnitude: 0.3 }]);
      const result = await cycle(hookFails);
      expect(result.end).toBe('person: rollback_by_hand');
      expect(result.variables).toMatchObject({ verdict: 'not-recovered', rolledBack: false });
      expect(result.variables.rollbackReason).toMatch(/answered 500/);
      await app.engine.cancel(result.instanceId);
    }, 330_000);

    it('when the fault goes away by itself while the system settles, then the cycle ends "Regenerated" and nothing is rolled back', async () => {
      const fault: Degradation = { kind: 'error-burst', at: since(), magnitude: 0.3 };
      await degrade(vanishes, [fault]);
      // It ends as the strategy runs (which changes nothing), so the settle window holds none of it.
      // Ending it 5 s later left a few faulty seconds in the window whenever the settle began
      // sooner than that, and the verdict then rightly said "not recovered" (flaky under load).
      vanishes.onStrategy = () => {
        fault.until ??= new Date(Date.now());
      };
      const result = await cycle(vanishes);
      expect(result.end).toBe('end_regenerated');
      expect(result.variables).toMatchObject({ verdict: 'recovered', recovered: true });
      expect(vanishes.rollbackCalls).toBe(0);
    }, 330_000);

    describe('a slow tail at low traffic', () => {
      // The verdict is a sequential test that calls a repaired fault "still sick" in up to 5 % of
      // cycles by design. At 0.6 requests/s on this route, with a 16-minute budget and the
      // reference's share taken as known, this cycle ended "still there" in 1 of 8 CI runs ("6 of 33
      // slower", LLR 5.15). A failed try is printed, then tried again on a fresh service.
      jest.retryTimes(2, { logErrorsBeforeRetry: true });
      it('when Measure found a slow tail and the strategy removes it, then the verdict judges the tail (not the mean) and keeps the fix', async () => {
        const slowTail = slowTails[slowTailTries++]!;
        // A tenth of the requests eight times slower, at 2 requests/s: the mean of ln(duration) moves by about a fifth,
        // too little to show a repair within the settle time; the share past the reference's p95 falls from ~14 % to 5 %.
        await degrade(slowTail, [{ kind: 'latency-tail', at: since(), magnitude: 8 }]);
        // The tail's test is slow by nature: a repaired route at 0.6 requests/s shows about 3.4 % past the p95 against 12.6 %
        // still sick, so its SPRT needs 90-150 spans. On the default budget (8 minutes) that left it undecided at half the
        // budget in 3 of 6 CI runs, before an unclear verdict leaning healthy could look on while the budget lasts; since,
        // 7 of 7 local runs (two at a time) decided on the first try.
        const result = await cycle(slowTail);
        expect(result.variables.regenerationNeeded).toBe(true);
        // (with the verdict's reasons, so that a failure says which finding called the fix off)
        expect(`${result.end}: ${(result.variables.verdictReasons as string[] | undefined)?.join('; ')}`).toMatch(/^end_regenerated:/);
        expect(result.variables).toMatchObject({ verdict: 'recovered', recovered: true });
        expect((result.variables.verdictReasons as string[]).join(' ')).toContain('latency-tail');
        expect(slowTail.rollbackCalls).toBe(0);
      }, 330_000);
    });

    it('when the evidence is clear early, then the verdict comes at the first looks, long before the settle deadline, either way', async () => {
      // A repair at 5 requests/s: failures back to 1 % are clear on a minute of traffic
      await degrade(clearFix, [{ kind: 'error-burst', at: since(), magnitude: 0.3 }]);
      const fixed = await cycle(clearFix);
      // (with the verdict's reasons, so that a failure says which finding called the fix off)
      expect(`${fixed.end}: ${(fixed.variables.verdictReasons as string[] | undefined)?.join('; ')}`).toMatch(/^end_regenerated:/);
      const looks = (result: typeof fixed, id: string) => result.activities.filter(([activity]) => activity === id);
      const settled = (result: typeof fixed, id: string) => looks(result, id).reduce((sum, [, seconds]) => sum + seconds, 0);
      const budget = (Date.parse(fixed.variables.settleDeadline) - Date.parse(fixed.variables.settleFrom)) / 1000;
      expect(looks(fixed, 'implement_measure_again').length).toBeLessThanOrEqual(3);
      expect(settled(fixed, 'implement_settle')).toBeLessThan(budget);
      expect(settled(fixed, 'implement_settle')).toBeLessThanOrEqual(90);

      // Nothing changes at all: "not recovered" as early, and the check after the rollback within the same budget.
      await degrade(unchanged, [{ kind: 'error-burst', at: since(), magnitude: 0.3 }]);
      const stillSick = await cycle(unchanged);
      await app.engine.cancel(stillSick.instanceId);
      expect(stillSick.end).toBe('person: investigate');
      expect(stillSick.variables.verdict).toBe('not-recovered');
      expect(looks(stillSick, 'implement_measure_again').length).toBeLessThanOrEqual(2);
      expect(settled(stillSick, 'implement_settle') + settled(stillSick, 'rollback_settle')).toBeLessThanOrEqual(8 * 60);
    }, 630_000);

    it('when a system has almost no traffic, then a stable one is left alone, and a failing one is judged within the settle time, not looked at forever', async () => {
      await world.history(quietStable, 1500);
      const stable = await cycle(quietStable);
      expect(stable.end).toBe('end_healthy');
      expect(quietStable.steps + quietStable.rollbackCalls).toBe(0);

      await degrade(quiet, [{ kind: 'error-burst', at: since(), magnitude: 1 }]);
      const failing = await cycle(quiet);
      if (failing.end.startsWith('person:')) await app.engine.cancel(failing.instanceId);
      expect(failing.end).not.toBe('stuck');
      // Either it was not sure enough to act (one request in 50 s), or it acted and judged within settleDuration (8 minutes).
      if (failing.variables.regenerationNeeded) {
        expect(failing.variables.verdict).toMatch(/^(recovered|not-recovered)$/);
        const settled = failing.activities.filter(([id]) => id === 'implement_settle').reduce((sum, [, seconds]) => sum + seconds, 0);
        expect(settled).toBeLessThanOrEqual(8 * 60 + 5);
      }
    }, 330_000);
  });
});
