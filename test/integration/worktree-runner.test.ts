import { jest } from '@jest/globals';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from '../../service-tasks/agent/command-runner.js';
import { WorktreeRunner } from '../../service-tasks/agent/worktree-runner.js';
import { loadPhases, type PhasesFile } from '../../service-tasks/validator/phase-config.js';
import { runPhase } from '../../service-tasks/validator/phase-runner.js';
import { createNodeProject } from '../support/node-project.js';
import { repositoryRoot } from '../support/server-process.js';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Commands run as argv in their own process group, inside the work folder, with only allow-listed environment. */
describe('command runner', () => {
  let root: string;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'regenflow-commands-'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('when a command outlives its timeout, then its whole process group dies, grandchild included', async () => {
    // The child starts a grandchild that would live for a minute, prints its pid, then waits too.
    const script = `const { spawn } = require('node:child_process');
      const grandchild = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
      console.log('grandchild ' + grandchild.pid);
      setTimeout(() => {}, 60000);`;
    const result = await runCommand({ argv: [process.execPath, '-e', script], timeoutMs: 700 }, { cwd: root, root, envAllowList: ['PATH'], killGraceMs: 200 });
    expect(result.timedOut).toBe(true);
    expect(result.exitCode).toBeNull();
    const grandchild = Number(result.output.match(/grandchild (\d+)/)?.[1]);
    expect(grandchild).toBeGreaterThan(0);
    const deadline = Date.now() + 3000;
    while (alive(grandchild) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(alive(grandchild)).toBe(false);
  });

  it('when a command exits while a grandchild it started still runs, then the grandchild is killed too', async () => {
    const script = `const { spawn } = require('node:child_process');
      const grandchild = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore', detached: false });
      console.log('grandchild ' + grandchild.pid);
      process.exit(0);`;
    const result = await runCommand({ argv: [process.execPath, '-e', script], timeoutMs: 10_000 }, { cwd: root, root, envAllowList: ['PATH'] });
    expect(result).toMatchObject({ exitCode: 0, timedOut: false });
    const grandchild = Number(result.output.match(/grandchild (\d+)/)?.[1]);
    const deadline = Date.now() + 3000;
    while (alive(grandchild) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(alive(grandchild)).toBe(false);
  });

  it('when the environment holds secrets, then only allow-listed variables reach the command', async () => {
    process.env.REGENFLOW_TEST_SECRET = 'do-not-leak';
    try {
      const result = await runCommand(
        { argv: [process.execPath, '-e', 'console.log(JSON.stringify(process.env))'], timeoutMs: 10_000 },
        { cwd: root, root, envAllowList: ['PATH'], env: { CI: 'true' } },
      );
      const seen = JSON.parse(result.output) as Record<string, string>;
      expect(seen.REGENFLOW_TEST_SECRET).toBeUndefined();
      expect(seen).toMatchObject({ CI: 'true', PATH: process.env.PATH });
    } finally {
      delete process.env.REGENFLOW_TEST_SECRET;
    }
  });

  it('when arguments hold shell syntax, then no shell interprets them', async () => {
    const result = await runCommand({ argv: ['echo', '$(id)', ';', 'rm', '-rf', '/'], timeoutMs: 10_000 }, { cwd: root, root, envAllowList: ['PATH'] });
    expect(result.output.trim()).toBe('$(id) ; rm -rf /');
  });

  it('when the output is larger than the limit, then it is cut and marked truncated', async () => {
    const result = await runCommand(
      { argv: [process.execPath, '-e', "process.stdout.write('x'.repeat(100000))"], timeoutMs: 10_000 },
      { cwd: root, root, envAllowList: ['PATH'], outputLimit: 1000 },
    );
    expect(result.output).toHaveLength(1000);
    expect(result.truncated).toBe(true);
  });

  it('when the working folder leaves the work folder (.. or a symlink), then the command is refused', async () => {
    await expect(runCommand({ argv: ['pwd'], timeoutMs: 1000 }, { cwd: join(root, '..'), root, envAllowList: [] })).rejects.toMatchObject({ code: 'PATH_OUTSIDE_WORK_FOLDER' });
    await symlink('/etc', join(root, 'escape'));
    await expect(runCommand({ argv: ['pwd'], timeoutMs: 1000 }, { cwd: join(root, 'escape'), root, envAllowList: [] })).rejects.toMatchObject({ code: 'PATH_OUTSIDE_WORK_FOLDER' });
  });
});

describe('worktree runner', () => {
  let project: Awaited<ReturnType<typeof createNodeProject>>;
  let runner: WorktreeRunner;

  beforeAll(async () => {
    project = await createNodeProject();
    runner = new WorktreeRunner({ workRoot: join(project.root, 'work'), repositoryRoots: [join(project.root, 'repos')], envAllowList: ['PATH', 'HOME'] });
  });
  afterAll(async () => {
    await project.remove();
  });

  it('when a task writes files and runs commands, then the diff is committed to its branch and the worktree is gone', async () => {
    const result = await runner.run({
      repository: project.repository,
      ref: 'main',
      key: 'task-1',
      branch: 'feature/notes',
      files: [{ path: 'docs/notes.md', content: '# notes\n' }],
      commands: [
        { argv: ['npm', 'ci', '--ignore-scripts', '--no-audit', '--no-fund', '--offline'], timeoutMs: 60_000 },
        { argv: ['node', '--test'], timeoutMs: 30_000 },
      ],
      message: 'add notes',
    });
    expect(result).toMatchObject({ succeeded: true, changedFiles: ['docs/notes.md'], branch: 'feature/notes' });
    expect(result.commands[1]).toMatchObject({ exitCode: 0, timedOut: false });
    expect(result.diff).toContain('+# notes');
    expect(project.git('rev-parse', 'feature/notes')).toBe(result.commit);
    expect(project.git('show', 'feature/notes:docs/notes.md')).toBe('# notes');
    expect(project.git('worktree', 'list').split('\n')).toHaveLength(1);
  });

  it('when a repository lies outside the allowed roots, or a ref or file path tries to escape, then the task is refused', async () => {
    const base = { key: 'task-2', commands: [] };
    await expect(runner.run({ ...base, repository: join(project.root, '..'), ref: 'main' })).rejects.toMatchObject({ code: 'REPOSITORY_NOT_ALLOWED' });
    await expect(runner.run({ ...base, repository: project.repository, ref: '--upload-pack=evil' })).rejects.toMatchObject({ code: 'REF_INVALID' });
    await expect(runner.run({ ...base, repository: project.repository, ref: 'main..HEAD' })).rejects.toMatchObject({ code: 'REF_INVALID' });
    await expect(runner.run({ ...base, repository: project.repository, ref: 'main', files: [{ path: '../../outside.txt', content: 'x' }] })).rejects.toMatchObject({
      code: 'PATH_OUTSIDE_WORK_FOLDER',
    });
    expect(project.git('worktree', 'list').split('\n')).toHaveLength(1);
  });

  it('when a run exports spans that break the registry, then the OpenTelemetry phase fails naming them; the registry phase checks the YAML', async () => {
    const emit = (await import('node:fs/promises')).readFile(join(project.repository, 'scripts/emit-spans.mjs'), 'utf8');
    const broken = (await emit).replace("attr('shop.order.id', 'o-1'), ", "attr('shop.secret', 'x'), ");
    const ref = project.commit({ 'scripts/emit-spans.mjs': broken }, 'spans without the order id', 'bad-spans');
    const phases: PhasesFile = {
      registry: 'semconv/registry.yaml',
      phases: [
        { name: 'otel', kind: 'otel', argv: ['node', 'scripts/emit-spans.mjs'], weight: 1, timeoutMs: 30_000, required: false },
        { name: 'registry', kind: 'registry', weight: 1, timeoutMs: 30_000, required: false },
      ],
    };
    const target = { repository: project.repository, ref, workspace: 'spans' };
    const otel = await runPhase(runner, phases, phases.phases[0]!, target);
    expect(otel).toMatchObject({ passed: false, score: 0 });
    expect(otel.summary).toContain('lacks required attribute shop.order.id');
    expect(otel.summary).toContain('has attribute shop.secret, which the registry does not define');
    const good = await runPhase(runner, phases, phases.phases[0]!, { ...target, ref: 'main', workspace: 'spans-main' });
    expect(good).toMatchObject({ passed: true, score: 1, summary: '1 spans follow the registry' });
    expect(await runPhase(runner, phases, phases.phases[1]!, target)).toMatchObject({ passed: true, summary: 'semconv/registry.yaml is well-formed' });
    await runner.discard(project.repository, 'spans');
    await runner.discard(project.repository, 'spans-main');
    expect(project.git('worktree', 'list').split('\n')).toHaveLength(1);
  });

  it('when the allowed environment asks for another language, then git still answers in English and the worktree path is shown relative to the work folder', async () => {
    // Given a branch checked out in a worktree of its own, and a runner that passes a German LANGUAGE on
    const workRoot = join(project.root, 'work-de');
    project.git('branch', 'taken', 'main');
    const task = { repository: project.repository, ref: 'main', key: 'taken-1', branch: 'taken', commands: [] };
    const german = new WorktreeRunner({ workRoot, repositoryRoots: [join(project.root, 'repos')], envAllowList: ['PATH', 'HOME', 'LANG', 'LANGUAGE'] });
    const before = process.env.LANGUAGE;
    process.env.LANGUAGE = 'de';
    try {
      const held = join(workRoot, 'worktrees', 'elsewhere');
      project.git('worktree', 'add', '-q', held, 'taken');

      // When a task makes that branch again
      const error = await german.run(task).then(
        () => null,
        (failure: Error) => failure,
      );

      // Then git's message is the English one the callers look for
      expect(error?.message).toMatch(/already (checked out|used by worktree)/);
      expect(german.relativePaths(error!.message)).not.toContain(workRoot);
      expect(german.relativePaths(error!.message)).toContain('worktrees/');
      project.git('worktree', 'remove', '--force', held);
    } finally {
      if (before === undefined) delete process.env.LANGUAGE;
      else process.env.LANGUAGE = before;
    }
  });

  it('when a kept worktree is asked for again after its ref moved, then it is made afresh at the new commit', async () => {
    const first = project.commit({ 'docs/a.md': 'a\n' }, 'a', 'moving');
    const look = { repository: project.repository, ref: 'moving', key: 'kept', keep: true, commands: [{ argv: ['git', 'rev-parse', 'HEAD'], timeoutMs: 10_000 }] };
    expect((await runner.run(look)).commands[0]!.output.trim()).toBe(first);
    const second = project.commit({ 'docs/b.md': 'b\n' }, 'b', 'moving');
    expect((await runner.run(look)).commands[0]!.output.trim()).toBe(second);
    await runner.discard(project.repository, 'kept');
    expect(project.git('worktree', 'list').split('\n')).toHaveLength(1);
  });
});

/**
 * ci-pipeline runs each phase as its own external task: the worktree setup filled may be on
 * another node, or stale because the ref moved. A phase in a fresh worktree runs setup first.
 */
describe('validation phases in a fresh worktree', () => {
  jest.setTimeout(120_000);
  let project: Awaited<ReturnType<typeof createNodeProject>>;
  let phases: PhasesFile;
  const nodeRunner = (name: string) =>
    new WorktreeRunner({ workRoot: join(project.root, name), repositoryRoots: [join(project.root, 'repos')], envAllowList: ['PATH', 'HOME'], nodeId: name });
  const phase = (name: string) => phases.phases.find((candidate) => candidate.name === name)!;

  beforeAll(async () => {
    project = await createNodeProject();
    phases = await loadPhases(join(repositoryRoot, 'test/fixtures/agents/phases.yaml'));
  });
  afterAll(async () => {
    await project.remove();
  });

  it('when setup ran on node a and unit runs on node b, then b runs setup first and unit passes', async () => {
    // Given node a ran setup in its kept worktree
    const a = nodeRunner('node-a');
    const b = nodeRunner('node-b');
    const target = { repository: project.repository, ref: 'main', workspace: 'ci-nodes' };
    expect(await runPhase(a, phases, phase('setup'), target)).toMatchObject({ passed: true });

    // When unit runs on node b (no worktree there) and again on node a
    const onB = await runPhase(b, phases, phase('unit'), target);
    const onA = await runPhase(a, phases, phase('unit'), target);

    // Then node b made its worktree, installed the dependency first and passed; node a reused its own
    expect(onB).toMatchObject({ passed: true, setupRan: true });
    expect(onA).toMatchObject({ passed: true });
    expect(onA.setupRan).toBeUndefined();
    await a.discard(project.repository, 'ci-nodes');
    await b.discard(project.repository, 'ci-nodes');
  });

  it('when the ref moved after setup, then the next phase runs setup in its fresh worktree and passes', async () => {
    // Given setup ran at the branch's first commit
    const runner = nodeRunner('node-moving');
    project.commit({ 'docs/one.md': 'one\n' }, 'one', 'moving-setup');
    const target = { repository: project.repository, ref: 'moving-setup', workspace: 'ci-moving' };
    expect(await runPhase(runner, phases, phase('setup'), target)).toMatchObject({ passed: true });

    // When the branch moves and integration runs
    project.commit({ 'docs/two.md': 'two\n' }, 'two', 'moving-setup');
    const integration = await runPhase(runner, phases, phase('integration'), target);

    // Then setup ran again in the new worktree
    expect(integration).toMatchObject({ passed: true, setupRan: true });
    await runner.discard(project.repository, 'ci-moving');
  });

  it('when a phase runs with no setup at all and setup fails there, then the phase fails saying so', async () => {
    // Given a commit whose package.json asks for a dependency its lockfile lacks (npm ci refuses it)
    const manifest = JSON.parse(project.git('show', 'main:package.json'));
    manifest.dependencies.missing = 'file:vendor/missing';
    const ref = project.commit({ 'package.json': JSON.stringify(manifest) }, 'break the lockfile', 'broken-setup');

    // When integration runs in a fresh worktree (feature-lifecycle runs it without a setup task)
    const result = await runPhase(nodeRunner('node-broken'), phases, phase('integration'), { repository: project.repository, ref, workspace: 'ci-broken' });

    // Then it failed because setup did
    expect(result).toMatchObject({ passed: false, score: 0, setupRan: true });
    expect(result.summary).toMatch(/^setup in a fresh worktree failed/);
  });
});
