import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import type { Database } from '../../src/store/database.js';
import { bpmn } from '../support/bpmn.js';
import { TEST_TOKENS_SETTING } from '../support/server-process.js';
import { createTestDatabase, openEmbeddedTestDatabase } from '../support/test-app.js';

/**
 * Warm instances (src/engine/runtime/warm-instances.ts): a node keeps the engine of an instance
 * it moved, parked, for that instance's next transition. Two nodes on one database take turns
 * on one instance: each node's parked engine is stale as soon as the other commits, and must
 * never be used then (the row's version tells).
 */
const ROUNDS = 6;
const loop = bpmn(
  'warm_loop',
  `<bpmn:startEvent id="start" />
  <bpmn:userTask id="step" />
  <bpmn:exclusiveGateway id="again" default="toEnd" />
  <bpmn:endEvent id="end" />
  <bpmn:sequenceFlow id="toStep" sourceRef="start" targetRef="step" />
  <bpmn:sequenceFlow id="toGate" sourceRef="step" targetRef="again" />
  <bpmn:sequenceFlow id="back" sourceRef="again" targetRef="step"><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">\${round &lt; ${ROUNDS}}</bpmn:conditionExpression></bpmn:sequenceFlow>
  <bpmn:sequenceFlow id="toEnd" sourceRef="again" targetRef="end" />`,
);

describe('warm instances on two nodes', () => {
  const apps: App[] = [];
  let shared: Database | undefined;
  let dropDatabase = async () => {};
  const dataDir = mkdtempSync(join(tmpdir(), 'regenflow-warm-'));

  beforeAll(async () => {
    const database = await createTestDatabase();
    dropDatabase = database.drop;
    // Two engines, each with its own warm instances; on PGlite they share this process's one connection.
    if (!database.url) shared = await openEmbeddedTestDatabase();
    for (const node of ['node-a', 'node-b']) {
      const config = loadConfig({
        PORT: '0',
        REGENFLOW_DATA_DIR: dataDir,
        REGENFLOW_NODE_ID: node,
        REGENFLOW_TOKENS: TEST_TOKENS_SETTING,
        ...(database.url && { DATABASE_URL: database.url, REGENFLOW_DB_POOL: '2' }),
      });
      apps.push(await createApp(config, { ...(shared && { database: shared }), log: () => {} }));
    }
    await apps[0]!.engine.deploy([{ name: 'warm-loop.bpmn', xml: loop }]);
  }, 60_000);

  afterAll(async () => {
    for (const app of apps) await app.close();
    await shared?.close();
    await dropDatabase();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const waitingTask = async (instanceId: string) => {
    const task = await apps[0]!.database.knex('user_tasks').where({ instance_id: instanceId }).first('id');
    expect(task).toBeDefined();
    return task.id as string;
  };

  it('when two nodes take turns on one instance, then each acts on the committed state, never on its own stale engine', async () => {
    // Node A starts it (its engine parked at version 1), then the nodes alternate: A, B, A, B, ...
    const started = await apps[0]!.engine.start({ processKey: 'warm_loop', variables: { round: 0 } });
    for (let round = 0; round < ROUNDS; round++) {
      const node = apps[round % 2]!;
      const row = await node.engine.completeUserTask(await waitingTask(started.id), { round: round + 1, [`by${round}`]: round % 2 ? 'b' : 'a' });
      expect(row.version).toBe(round + 2);
    }
    const ended = await apps[1]!.engine.getInstance(started.id);
    expect(ended.status).toBe('completed');
    // Every round's variables survived: a node resuming its stale engine would have dropped the other's.
    expect(ended.variables).toMatchObject({ round: ROUNDS, by0: 'a', by1: 'b', by2: 'a', by3: 'b', by4: 'a', by5: 'b' });
    const history = await apps[0]!.database.knex('history').where({ instance_id: started.id, activity_id: 'step', event: 'end' }).count<{ n: string }[]>({ n: '*' });
    expect(Number(history[0]!.n)).toBe(ROUNDS);
  });

  it('when one node moves an instance twice in a row, then its parked engine carries the instance on as a recovered one would', async () => {
    const started = await apps[1]!.engine.start({ processKey: 'warm_loop', variables: { round: 0 } });
    for (let round = 0; round < ROUNDS; round++) {
      await apps[1]!.engine.completeUserTask(await waitingTask(started.id), { round: round + 1, [`by${round}`]: 'b' });
    }
    const ended = await apps[0]!.engine.getInstance(started.id);
    expect(ended.status).toBe('completed');
    expect(ended.variables).toMatchObject({ round: ROUNDS, by0: 'b', by5: 'b' });
    const starts = await apps[0]!.database.knex('history').where({ instance_id: started.id, activity_id: 'step', event: 'start' }).count<{ n: string }[]>({ n: '*' });
    expect(Number(starts[0]!.n)).toBe(ROUNDS);
  });
});
