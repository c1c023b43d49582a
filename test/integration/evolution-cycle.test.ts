import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { deployFolder } from '../../src/app.js';
import { repositoryRoot } from '../support/server-process.js';
import { SpanSimulator, writeSpans } from '../support/span-simulator.js';
import { createTestApp, eventually } from '../support/test-app.js';

/**
 * The shipped evolution-cycle.bpmn on its timer start, against a degraded simulated system.
 * A cycle measures ~27 k spans through in-process workers: on a loaded 2-core machine that
 * outgrows jest's default 30 s, so each test gets room (behaviour is asserted, not speed).
 */
const CYCLE_TIMEOUT_MS = 90_000;

describe('evolution cycle', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;

  beforeAll(async () => {
    app = await createTestApp({ builtIns: true });
    await app.listen();
    // With the app: its decision tables too (the confidence gate is one).
    await deployFolder(app, join(repositoryRoot, 'processes'));
    // Given: payments was fine for an hour and fails and slows down for the last 15 minutes.
    const now = Date.now();
    const simulator = new SpanSimulator({ system: 'payments', seed: 9, requestsPerSecond: 2 });
    simulator.inject({ kind: 'error-burst', at: new Date(now - 900_000), magnitude: 0.5 });
    simulator.inject({ kind: 'latency-shift', at: new Date(now - 900_000), magnitude: 3 });
    await writeSpans(app.database.knex, simulator.generate(new Date(now - 4_500_000), new Date(now)));
    // Measured on the loaded 2-core machine: the app ~24 s, the folder with its decisions ~9 s, the spans ~10 s.
  }, CYCLE_TIMEOUT_MS);
  afterAll(async () => {
    await app.dispose();
  });

  /** Makes the cadence timer due now and waits for the cycle it starts. */
  async function fireCadence(): Promise<string> {
    const before = new Set(await app.database.knex('process_instances').where({ process_key: 'evolution-cycle' }).pluck('id'));
    await app.database.knex('jobs').where({ kind: 'timer-start' }).whereIn('definition_id', app.database.knex('process_definitions').where({ key: 'evolution-cycle' }).select('id')).update({ due_at: new Date() });
    return eventually(async () => (await app.database.knex('process_instances').where({ process_key: 'evolution-cycle' }).pluck('id')).find((id: string) => !before.has(id)), 20_000);
  }

  it('when the cadence fires and no strategy is proven yet, then the cycle finds the pattern and stops short of applying', async () => {
    const id = await fireCadence();
    const ended = await eventually(async () => {
      const row = await app.engine.getInstance(id);
      return row.status === 'completed' && row;
    }, 30_000);
    expect(ended.variables).toMatchObject({ patternFound: true, system: 'payments' });
    expect((ended.variables as { successProbability: number }).successProbability).toBeLessThanOrEqual(0.8);
    const ends = await app.database.knex('history').where({ instance_id: id, event: 'end' }).pluck('activity_id');
    expect(ends).toContain('end_not_confident');
  }, CYCLE_TIMEOUT_MS);

  it('when the best strategy has proven itself in earlier cycles, then the cycle simulates, validates and applies it', async () => {
    const [previous] = await app.database.knex('process_instances').where({ process_key: 'evolution-cycle' }).orderBy('started_at', 'desc').limit(1);
    const { strategyId, level } = previous.variables as { strategyId: string; level: string };
    await app.database.knex('strategy_outcomes').insert(
      Array.from({ length: 12 }, () => ({ idempotency_key: randomUUID(), system: 'payments', strategy_id: strategyId, level, success: true })),
    );
    const id = await fireCadence();
    // Then it waits in "apply": the generated strategy workflow runs as its child, waiting for the system's agent.
    const child = await eventually(async () => app.database.knex('process_instances').where({ parent_instance_id: id }).first(), 30_000);
    expect(child.process_key).toBe(`regen-payments-${strategyId}`);
    const ends = await app.database.knex('history').where({ instance_id: id, event: 'end' }).pluck('activity_id');
    expect(ends).toEqual(expect.arrayContaining(['collect_telemetry', 'rank_strategies', 'generate_workflow', 'simulate', 'validate', 'apply_snapshot']));
    expect(await app.database.knex('external_tasks').where({ instance_id: child.id }).pluck('topic')).toEqual([expect.stringMatching(/^regen\./)]);
  }, CYCLE_TIMEOUT_MS);
});
