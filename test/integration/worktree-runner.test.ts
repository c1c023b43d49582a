import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from '../../service-tasks/agent/command-runner.js';
import { WorktreeRunner } from '../../service-tasks/agent/worktree-runner.js';
import type { PhasesFile } from '../../service-tasks/validator/phase-config.js';
import { runPhase } from '../../service-tasks/validator/phase-runner.js';
import { createNodeProject } from '../support/node-project.js';

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
      commands: [{ argv: ['node', '--test'], timeoutMs: 30_000 }],
      message: 'add notes',
    });
    expect(result).toMatchObject({ succeeded: true, changedFiles: ['docs/notes.md'], branch: 'feature/notes' });
    expect(result.commands[0]).toMatchObject({ exitCode: 0, timedOut: false });
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
