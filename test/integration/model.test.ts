import { CI_FAULTS, modelRegistry, NO_FAULTS, runModel } from '../support/model/model-run.js';
import { createTestApp } from '../support/test-app.js';
import { createTwoNodes, type TwoNodes } from '../support/two-nodes.js';

/**
 * The model test (Zeebe's replay style): for each seed, a generated process runs on two nodes
 * sharing one database with random interleavings and injected faults (transitions killed before
 * their commit, lost optimistic races, dropped connections on PostgreSQL), and on one node
 * without faults. Every instance's committed path must match, and nothing but an injected fault
 * may fail. More seeds: `npm run fuzz -- --seeds 200`.
 */
// 10 and 21: a parallel split whose branches merge before the join (see parallel-joins.test.ts).
const CI_SEEDS = [1, 2, 3, 10, 21];
const INSTANCES = 4;
let injected = 0;
let actions = 0;

describe('model test: two faulty nodes take the paths one clean node takes', () => {
  let two: TwoNodes;
  let single: Awaited<ReturnType<typeof createTestApp>>;

  beforeAll(async () => {
    two = await createTwoNodes({ registry: modelRegistry });
    single = await createTestApp({ registry: modelRegistry() });
  }, 60_000);
  afterAll(async () => {
    await two?.dispose();
    await single?.dispose();
  });

  it.each(CI_SEEDS)('when seed %i runs, then every instance takes the same path', async (seed) => {
    const reference = await runModel([single], seed, { instances: INSTANCES, faults: NO_FAULTS });
    expect(reference.serverErrors).toEqual([]);
    const faulty = await runModel(two.nodes, seed, { instances: INSTANCES, faults: CI_FAULTS });
    expect(faulty.serverErrors).toEqual([]);
    expect(Object.keys(reference.paths)).toHaveLength(INSTANCES);
    expect(faulty.paths).toEqual(reference.paths);
    injected += faulty.faults;
    actions += faulty.actions;
  }, 60_000);

  it('when the seeds ran, then faults were really injected', () => {
    expect(actions).toBeGreaterThan(CI_SEEDS.length * INSTANCES);
    expect(injected).toBeGreaterThan(0);
  });
});
