import { jest } from '@jest/globals';
import { existsSync } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';
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
import { createTestDatabase, eventually, openEmbeddedTestDatabase } from '../support/test-app.js';

/**
 * The phases of one validation share a worktree kept between their tasks. Each node keeps
 * its own copy (locked, below `worktrees/<node id>`) and removes only its own: when the
 * instance ends on it, in its periodic sweep, and at start. Every test starts its own
 * instances and checks `git worktree list` and the disk, not only the records.
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
    shared = database.url ? await openDatabase({ databaseUrl: database.url, dataDir: join(project.root, 'db'), poolSize: 4 }) : await openEmbeddedTestDatabase();
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

  const runnerOf = (app: App) => createWorktreeRunner(app.config, createKeptWorktreeStore(shared.knex));
  const recorded = (instanceId: string) => shared.knex('kept_worktrees').where({ instance_id: instanceId }).orderBy('node_id');

  it('when another node ends the instance, then it leaves the worktree alone and the node that kept it removes it in its sweep', async () => {
    // Given node a ran the setup phase and kept its worktree
    const a = await node('node-a');
    await a.listen();
    const { instanceId, kept } = await keepOne(a);
    expect(kept).toMatchObject({ key: `ci-${instanceId}`, node_id: 'node-a', repository: project.repository });
    expect(kept.folder).toBe(join(project.root, 'node-a', 'work', 'worktrees', 'node-a', `ci-${instanceId}`));
    expect(worktrees()).toContain(kept.folder);

    // When node b ends the instance and releases what it kept for it (nothing), and prunes the repository
    const b = await node('node-b');
    await b.engine.cancel(instanceId);
    await runnerOf(b).releaseInstance(instanceId);
    project.git('worktree', 'prune');

    // Then node a's worktree is still registered and on disk
    expect(worktrees()).toContain(kept.folder);
    expect(existsSync(join(kept.folder, 'package.json'))).toBe(true);

    // and node a's sweep removes it and its record
    expect(await runnerOf(a).releaseOrphans()).toBe(1);
    expect(worktrees()).not.toContain(kept.folder);
    expect(existsSync(kept.folder)).toBe(false);
    expect(await recorded(instanceId)).toEqual([]);
    await close(b);
    await close(a);
  });

  it('when the sweep timer runs, then the node removes its worktrees of instances that ended elsewhere', async () => {
    // Given a runner of node a sweeping every 50 ms, and a kept worktree of an instance that then ends
    const a = await node('node-sweep');
    await a.listen();
    const { instanceId, kept } = await keepOne(a);
    const runner = new WorktreeRunner({ workRoot: join(a.config.REGENFLOW_DATA_DIR, 'work'), repositoryRoots: [join(project.root, 'repos')], envAllowList: ['PATH'], kept: createKeptWorktreeStore(shared.knex), nodeId: 'node-sweep', sweepIntervalMs: 50 });
    const stop = runner.startSweeping();
    await shared.knex('process_instances').where({ id: instanceId }).update({ status: 'completed', ended_at: new Date() });

    // When the sweep comes round, then the worktree and its record are gone
    await eventually(async () => !worktrees().includes(kept.folder));
    expect(existsSync(kept.folder)).toBe(false);
    await eventually(async () => (await recorded(instanceId)).length === 0);
    stop();
    await close(a);
  });

  it('when the instance ended while its node was down, then the node removes the worktree when it starts again', async () => {
    // Given node a kept two worktrees and stopped; one instance ended without any node seeing it (a crash)
    const a = await node('node-restart');
    await a.listen();
    const { instanceId, kept } = await keepOne(a);
    const active = await keepOne(a);
    await close(a);
    await shared.knex('process_instances').where({ id: instanceId }).update({ status: 'completed', ended_at: new Date() });
    expect(worktrees()).toContain(kept.folder);

    // When node a starts again
    const restarted = await node('node-restart');

    // Then the orphaned worktree is gone; worktrees of active instances are left alone
    await eventually(async () => (await recorded(instanceId)).length === 0);
    expect(worktrees()).not.toContain(kept.folder);
    expect(existsSync(kept.folder)).toBe(false);
    expect(worktrees()).toContain(active.kept.folder);
    expect(existsSync(join(active.kept.folder, 'package.json'))).toBe(true);
    await restarted.engine.cancel(active.instanceId);
    await eventually(async () => !worktrees().includes(active.kept.folder));
    await close(restarted);
  });

  it.each([
    ['at the same data-folder path (the same layout on two machines)', 'layout', 'layout'],
    ['at different data-folder paths', 'data-a', 'data-b'],
  ])('when the nodes do not share a disk, %s, then the node that ends the instance removes nothing of the other node, which removes its worktree when it starts', async (_, pathA, pathB) => {
    // Given node a ran setup on its disk and kept its worktree, then went away with its disk
    const a = await node(`disk-${pathA}-a`, join(project.root, pathA));
    await a.listen();
    const { instanceId, kept } = await keepOne(a);
    await close(a);
    await rename(join(project.root, pathA), join(project.root, 'disk-a'));

    // When node b (its own disk) runs the next phase under the same key, ends the instance, releases and sweeps
    const b = await node(`disk-${pathB}-b`, join(project.root, pathB));
    const runnerOfB = runnerOf(b);
    await runnerOfB.run({ repository: project.repository, ref: 'main', key: `ci-${instanceId}`, keep: true, instanceId, commands: [{ argv: ['node', '-e', '1'], timeoutMs: 10_000 }] });
    const [, ofB] = await recorded(instanceId);
    expect(worktrees()).toContain(ofB.folder);
    await b.engine.cancel(instanceId);
    await runnerOfB.releaseInstance(instanceId);
    await runnerOfB.releaseOrphans();
    project.git('worktree', 'prune');

    // Then node b's copy is gone, and node a's is still registered (locked) and recorded for node a
    expect(worktrees()).not.toContain(ofB.folder);
    expect(worktrees()).toContain(kept.folder);
    expect(await recorded(instanceId)).toMatchObject([{ node_id: kept.node_id, folder: kept.folder }]);
    await close(b);

    // and when node a starts again with its disk, its start-up sweep removes the worktree and the record
    await rename(join(project.root, pathB), join(project.root, 'disk-b')).catch(() => {});
    await rename(join(project.root, 'disk-a'), join(project.root, pathA));
    expect(existsSync(join(kept.folder, 'package.json'))).toBe(true);
    const restarted = await node(`disk-${pathA}-a`, join(project.root, pathA));
    await eventually(async () => (await recorded(instanceId)).length === 0);
    expect(existsSync(kept.folder)).toBe(false);
    expect(worktrees()).not.toContain(kept.folder);
    await close(restarted);
    await rm(join(project.root, 'disk-b'), { recursive: true, force: true });
    await rm(join(project.root, pathA), { recursive: true, force: true });
  });

  it('when a phase finishes after its instance ended, then the worktree it would keep is removed at once', async () => {
    // Given an instance that has already ended
    const app = await node('node-late');
    await app.engine.deploy([{ name: 'ends-at-once.bpmn', xml: sequence('ends_at_once', []) }]);
    const instance = await app.engine.start({ processKey: 'ends_at_once', variables: {} });
    expect((await app.engine.getInstance(instance.id)).status).toBe('completed');
    const runner = new WorktreeRunner({ workRoot: join(project.root, 'late'), repositoryRoots: [join(project.root, 'repos')], envAllowList: ['PATH', 'HOME'], kept: createKeptWorktreeStore(shared.knex), nodeId: 'late' });

    // When a task of it keeps a worktree
    await runner.run({ repository: project.repository, ref: 'main', key: `late-${instance.id}`, keep: true, instanceId: instance.id, commands: [{ argv: ['node', '-e', '1'], timeoutMs: 10_000 }] });

    // Then nothing is left behind
    expect(await shared.knex('kept_worktrees').where({ key: `late-${instance.id}` }).first()).toBeUndefined();
    expect(worktrees().some((folder) => folder.includes(`late-${instance.id}`))).toBe(false);
    await close(app);
  });

  it('when the node id cannot be written at first, then a later task tries again instead of failing for ever', async () => {
    // Given a work folder that cannot be made (a file stands where its parent should be)
    const parent = join(project.root, 'blocked');
    await writeFile(parent, 'not a folder');
    const runner = new WorktreeRunner({ workRoot: join(parent, 'work'), repositoryRoots: [join(project.root, 'repos')], envAllowList: ['PATH'] });
    const task = { repository: project.repository, ref: 'main', key: 'node-id', commands: [{ argv: ['node', '-e', '1'], timeoutMs: 10_000 }] };
    await expect(runner.run(task)).rejects.toThrow();

    // When the folder can be made, then the same runner runs the task
    await rm(parent);
    expect(await runner.run(task)).toMatchObject({ succeeded: true });
  });
});
