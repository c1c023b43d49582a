import { join } from 'node:path';
import { deployFolder } from '../../src/app.js';
import { STRATEGIES } from '../../service-tasks/entropy/strategies.js';
import { phasesFromSpans } from '../support/dmedi-phases.js';
import { repositoryRoot } from '../support/server-process.js';
import { SpanSimulator, writeSpans } from '../support/span-simulator.js';
import { createTestApp, eventually } from '../support/test-app.js';

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

  beforeAll(async () => {
    app = await createTestApp({ builtIns: true, env: { REGENFLOW_WORKER_RETRY_MS: '100' } });
    await app.listen();
    await deployFolder(app.engine, join(repositoryRoot, 'processes'));
  }, 120_000);
  afterAll(async () => {
    await app.dispose();
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
        variables: { system, windowSeconds: 30, baselineSeconds: 540, settleDuration: 'PT30S', injectedFailureRate: 0.02 },
      });
      // (ended, or waiting for a person to roll back: then the verdict says why)
      const ended = await eventually(async () => {
        const row = await app.engine.getInstance(instance.id);
        if (row.status !== 'active') return row;
        return (await app.database.knex('user_tasks').where({ instance_id: instance.id }).first()) && row;
      }, 120_000);

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
      const [after, before] = await app.database.knex('entropy_measurements').where({ system }).orderBy('id', 'desc').limit(2);
      expect(Number(after.score)).toBeLessThan(Number(before.score));
      const outcome = await app.database.knex('strategy_outcomes').where({ instance_id: instance.id }).first();
      expect(outcome).toMatchObject({ strategy_id: variables.strategyId, success: true });
      const ends = await app.database.knex('history').where({ instance_id: instance.id, event: 'end' }).pluck('activity_id');
      expect(ends).toEqual(expect.arrayContaining(['learn_success', 'end_regenerated']));
    } finally {
      stopAgent();
      await stopTraffic();
    }
  }, 150_000);

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
});
