import { jest } from '@jest/globals';
import { existsSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { openDatabase, type Database } from '../../src/store/database.js';
import { WorktreeRunner } from '../../service-tasks/agent/worktree-runner.js';
import { createWorktreeRunner } from '../../service-tasks/index.js';
import { createKeptWorktreeStore } from '../../src/store/kept-worktrees.js';
import { sequence } from '../support/bpmn.js';
import { createNodeProject } from '../support/node-project.js';
import { repositoryRoot, TEST_TOKENS_SETTING } from '../support/server-process.js';
import { createTestDatabase, eventually } from '../support/test-app.js';

/**
 * The phases of one validation share a worktree kept between their tasks. It is recorded
 * in the database, so the node that ends the instance (not necessarily the one that kept
 * it) removes it, and a node that restarts removes those whose instance ended meanwhile.
 */
describe('kept worktrees on two nodes and across a restart', () => {
  jest.setTimeout(60_000);
  let project: Awaited<ReturnType<typeof createNodeProject>>;
  let shared: Database;
  let dropDatabase = async () => {};
  const open: App[] = [];

  beforeAll(async () => {
    project = await createNodeProject();
    const database = await createTestDatabase();
    dropDatabase = database.drop;
    shared = database.url ? await openDatabase({ databaseUrl: database.url, dataDir: join(project.root, 'db'), poolSize: 4 }) : await openDatabase({ dataDir: join(project.root, 'db'), inMemory: true });
  });
  afterAll(async () => {
    for (const app of open) await app.close();
    await shared?.close();
    await dropDatabase();
    await project?.remove();
  });

  /** An engine node with the built-in topics, its own data (and work) folder, on the shared database. */
  const node = async (name: string, dataDir = join(project.root, name)): Promise<App> => {
    const config = loadConfig({
      PORT: '0',
      REGENFLOW_DATA_DIR: dataDir,
      REGENFLOW_NODE_ID: name,
      REGENFLOW_JOB_POLL_MS: '50',
      REGENFLOW_WORKER_RETRY_MS: '100',
      REGENFLOW_TOKENS: TEST_TOKENS_SETTING,
      REGENFLOW_AGENT_REPOSITORIES: join(project.root, 'repos'),
      REGENFLOW_VALIDATOR_PHASES: join(repositoryRoot, 'test/fixtures/agents/phases.yaml'),
    });
    const app = await createApp(config, { database: shared, log: () => {} });
    open.push(app);
    return app;
  };
  const close = async (app: App) => {
    open.splice(open.indexOf(app), 1);
    await app.close();
  };
  const worktrees = () => project.git('worktree', 'list', '--porcelain').split('\n').filter((line) => line.startsWith('worktree ')).map((line) => line.slice('worktree '.length));

  /** Starts setup-then-hold on a node that serves the built-in topics, and waits until setup kept its worktree. */
  const keepOne = async (app: App) => {
    await app.engine.deploy([
      {
        name: 'setup-then-hold.bpmn',
        xml: sequence('setup_then_hold', [
          { id: 'setup', xml: '<bpmn:serviceTask id="setup" camunda:type="external" camunda:topic="validator.setup" />' },
          { id: 'hold', xml: '<bpmn:userTask id="hold" />' },
        ]),
      },
    ]);
    const instance = await app.engine.start({ processKey: 'setup_then_hold', variables: { repository: project.repository, ref: 'main' } });
    await eventually(async () => shared.knex('user_tasks').where({ instance_id: instance.id }).first(), 30_000);
    const [kept] = await shared.knex('kept_worktrees').where({ instance_id: instance.id });
    return { instanceId: instance.id as string, kept };
  };

  it('when another node ends the instance, then it finds the worktree the first node kept and removes it', async () => {
    // Given node a ran the setup phase and kept its worktree, then went away
    const a = await node('node-a');
    await a.listen();
    const { instanceId, kept } = await keepOne(a);
    expect(kept).toMatchObject({ key: `ci-${instanceId}`, node_id: 'node-a', repository: project.repository });
    expect(kept.folder.startsWith(join(project.root, 'node-a'))).toBe(true);
    expect(worktrees()).toContain(kept.folder);
    expect(existsSync(join(kept.folder, 'package.json'))).toBe(true);
    await close(a);

    // When node b ends the instance
    const b = await node('node-b');
    await b.engine.cancel(instanceId);

    // Then node b removed node a's worktree and its record
    await eventually(async () => !(await shared.knex('kept_worktrees').where({ instance_id: instanceId }).first()));
    expect(worktrees()).not.toContain(kept.folder);
    expect(existsSync(kept.folder)).toBe(false);
    await close(b);
  });

  it('when the instance ended while its node was down, then the node removes the worktree when it starts again', async () => {
    // Given node a kept a worktree and stopped; the instance ended without any node seeing it (a crash)
    const a = await node('node-a');
    await a.listen();
    const { instanceId, kept } = await keepOne(a);
    const active = await keepOne(a);
    await close(a);
    await shared.knex('process_instances').where({ id: instanceId }).update({ status: 'completed', ended_at: new Date() });
    expect(worktrees()).toContain(kept.folder);

    // When node a starts again
    const restarted = await node('node-a');

    // Then the orphaned worktree is gone; worktrees of active instances are left alone
    await eventually(async () => !(await shared.knex('kept_worktrees').where({ instance_id: instanceId }).first()));
    expect(worktrees()).not.toContain(kept.folder);
    expect(existsSync(kept.folder)).toBe(false);
    expect(worktrees()).toContain(active.kept.folder);
    expect(await shared.knex('kept_worktrees').where({ instance_id: active.instanceId }).first()).toBeDefined();
    await close(restarted);
  });

  it.each([
    ['at the same data-folder path (the same layout on two machines)', 'layout', 'layout'],
    ['at different data-folder paths', 'data-a', 'data-b'],
  ])('when the nodes do not share a disk, %s, then the node that ends the instance leaves the record to the node that kept the worktree, which removes it when it starts', async (_, pathA, pathB) => {
    // Given node a ran setup on its disk and kept its worktree, then went away
    const a = await node('node-a', join(project.root, pathA));
    await a.listen();
    await a.engine.deploy([
      {
        name: 'setup-hold-score.bpmn',
        xml: sequence('setup_hold_score', [
          { id: 'setup', xml: '<bpmn:serviceTask id="setup" camunda:type="external" camunda:topic="validator.setup" />' },
          { id: 'hold', xml: '<bpmn:userTask id="hold" />' },
          { id: 'score', xml: '<bpmn:serviceTask id="score" camunda:type="external" camunda:topic="validator.score" />' },
        ]),
      },
    ]);
    const instance = await a.engine.start({ processKey: 'setup_hold_score', variables: { repository: project.repository, ref: 'main' } });
    const hold = await eventually(async () => shared.knex('user_tasks').where({ instance_id: instance.id }).first(), 30_000);
    const kept = await shared.knex('kept_worktrees').where({ key: `ci-${instance.id}` }).first();
    expect(kept).toMatchObject({ node_id: 'node-a' });
    await close(a);
    // One machine stands in for two: node a's disk is somewhere node b does not see, and node b
    // has a disk of its own (at the same path when the layout is the same).
    await rename(join(project.root, pathA), join(project.root, 'disk-a'));

    // When node b scores (freeing the workspace) and so ends the instance, and its runner releases what the instance kept
    const b = await node('node-b', join(project.root, pathB));
    await b.listen();
    await b.engine.completeUserTask(hold.id);
    await eventually(async () => (await shared.knex('process_instances').where({ id: instance.id }).first()).status === 'completed', 30_000);
    const runnerOfB = createWorktreeRunner(b.config, createKeptWorktreeStore(shared.knex));
    await runnerOfB.releaseInstance(instance.id);

    // Then the record of node a's worktree is still there: node b removed nothing of it
    expect(await shared.knex('kept_worktrees').where({ key: `ci-${instance.id}` }).first()).toMatchObject({ node_id: 'node-a', folder: kept.folder });
    await close(b);

    // and when node a starts again with its disk, its start-up cleanup removes the worktree and the record
    await rename(join(project.root, pathB), join(project.root, 'disk-b')).catch(() => {});
    await rename(join(project.root, 'disk-a'), join(project.root, pathA));
    expect(existsSync(join(kept.folder, 'package.json'))).toBe(true);
    const restarted = await node('node-a', join(project.root, pathA));
    await eventually(async () => !(await shared.knex('kept_worktrees').where({ key: `ci-${instance.id}` }).first()));
    expect(existsSync(kept.folder)).toBe(false);
    expect(worktrees()).not.toContain(kept.folder);
    await close(restarted);
    await rm(join(project.root, 'disk-b'), { recursive: true, force: true });
  });

  it('when another node keeps the same key while the first copy is on a disk it does not see, then the first copy keeps a record its node finds at start', async () => {
    // Given node a kept the worktree of an active instance, then went away with its disk
    const a = await node('node-a', join(project.root, 'replaced-a'));
    await a.listen();
    const { instanceId, kept } = await keepOne(a);
    await close(a);
    await rename(join(project.root, 'replaced-a'), join(project.root, 'disk-a'));

    // When node b's runner keeps a worktree under the same key (the next phase ran there)
    const b = await node('node-b', join(project.root, 'replaced-b'));
    const runnerOfB = createWorktreeRunner(b.config, createKeptWorktreeStore(shared.knex));
    await runnerOfB.run({ repository: project.repository, ref: 'main', key: `ci-${instanceId}`, keep: true, instanceId, commands: [{ argv: ['node', '-e', '1'], timeoutMs: 10_000 }] });

    // Then the key is node b's, and node a's copy is still recorded for node a
    const rows = await shared.knex('kept_worktrees').where({ instance_id: instanceId }).orderBy('key');
    expect(rows).toMatchObject([
      { key: `ci-${instanceId}`, node_id: 'node-b' },
      { key: `ci-${instanceId}@node-a`, node_id: 'node-a', folder: kept.folder },
    ]);

    // and once the instance ended and node a is back, both copies are gone
    await b.engine.cancel(instanceId);
    await eventually(async () => (await shared.knex('kept_worktrees').where({ instance_id: instanceId })).length === 1);
    await close(b);
    await rename(join(project.root, 'disk-a'), join(project.root, 'replaced-a'));
    const restarted = await node('node-a', join(project.root, 'replaced-a'));
    await eventually(async () => !(await shared.knex('kept_worktrees').where({ instance_id: instanceId }).first()));
    expect(existsSync(kept.folder)).toBe(false);
    expect(worktrees().some((folder) => folder.includes(instanceId))).toBe(false);
    await close(restarted);
  });

  it('when a phase finishes after its instance ended, then the worktree it would keep is removed at once', async () => {
    // Given an instance that has already ended
    const [ended] = await shared.knex('process_instances').whereNot({ status: 'active' }).pluck('id');
    const runner = new WorktreeRunner({ workRoot: join(project.root, 'late'), repositoryRoots: [join(project.root, 'repos')], envAllowList: ['PATH', 'HOME'], kept: createKeptWorktreeStore(shared.knex), nodeId: 'late' });

    // When a task of it keeps a worktree
    await runner.run({ repository: project.repository, ref: 'main', key: `late-${ended}`, keep: true, instanceId: ended, commands: [{ argv: ['node', '-e', '1'], timeoutMs: 10_000 }] });

    // Then nothing is left behind
    expect(await shared.knex('kept_worktrees').where({ key: `late-${ended}` }).first()).toBeUndefined();
    expect(worktrees().some((folder) => folder.includes(`late-${ended}`))).toBe(false);
  });
});
