import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { AppError } from '../../src/errors.js';
import { insideRoot, runCommand, type CommandResult, type CommandSpec } from './command-runner.js';
import { missingScript } from './npm-scripts.js';
import type { KeptWorktree, KeptWorktreeStore } from '../../src/store/kept-worktrees.js';

/** Git refs and branch names we accept: no option-looking names, no `..`, no odd characters. */
export const REF = /^(?!-)(?!.*\.\.)(?!.*\/\/)[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$/;

export interface WorktreeRunnerOptions {
  /** The work folder: worktrees are made below it and nothing runs outside it. */
  workRoot: string;
  /** Repositories must lie below one of these folders. */
  repositoryRoots: readonly string[];
  envAllowList: readonly string[];
  /** Bytes of output (and of the diff) kept. @default 65536 */
  outputLimit?: number;
  /** Time budget of each git command. @default 60000 */
  gitTimeoutMs?: number;
  /** Where kept worktrees are recorded, so another node or a restart can remove them. @default in memory */
  kept?: KeptWorktreeStore;
  /**
   * This node's id: its worktrees lie in `worktrees/<node id>/` and it removes only those it
   * recorded under this id. @default an id kept in the work folder, so a restart (or another
   * node on the same work folder) is the same node
   */
  nodeId?: string;
  /** How often `startSweeping` removes this node's worktrees of ended instances. @default 300000 */
  sweepIntervalMs?: number;
}

/** A command of a task; `script` names the npm script it runs, checked against package.json first. */
export interface WorktreeCommand extends CommandSpec {
  script?: string;
}

export interface WorktreeTask {
  repository: string;
  ref: string;
  /** Names the worktree folder (e.g. instance and execution): the same key reuses nothing stale. */
  key: string;
  /** Files to write before the commands run, relative to the worktree root. */
  files?: Array<{ path: string; content: string }>;
  commands: WorktreeCommand[];
  /**
   * Run before `commands` only when this task made the worktree afresh (none kept under the
   * key on this node, or the ref moved): what an earlier task would have left in a kept one
   * (a validation phase on another node still needs setup's installed dependencies).
   */
  setup?: WorktreeCommand[];
  /** Commit the changes to this branch (created from `ref`); without it nothing is committed. */
  branch?: string;
  message?: string;
  /** Extra environment for the commands (set by server code, never from process variables). */
  env?: Record<string, string>;
  /** Runs inside the worktree after the commands (e.g. reading a report it wrote). */
  inspect?: (directory: string) => Promise<void>;
  /** Sees each command line (`$ npm test`) and its output as it comes: a live log. */
  onOutput?: (text: string) => void;
  /**
   * Keep the worktree for the next task with the same key (the phases of one validation
   * share what setup installed); `discard` removes it. Kept worktrees are never committed.
   */
  keep?: boolean;
  /** The process instance a kept worktree belongs to: it is removed when the instance ends. */
  instanceId?: string;
}

export interface WorktreeResult {
  commands: CommandResult[];
  /** True when this task made the worktree (nothing kept was reused). */
  fresh: boolean;
  /** What `setup` ran (only in a fresh worktree); when one failed, `commands` did not run. */
  setup: CommandResult[];
  /** True when every command exited 0. */
  succeeded: boolean;
  durationMs: number;
  diff: string;
  changedFiles: string[];
  commit: string | null;
  branch: string | null;
  /** The worktree's HEAD when the task ended (after its commit, if any). */
  head: string;
}

/**
 * The built-in agent: each task gets a fresh `git worktree` of the repository at a ref in
 * the work folder, its commands run there one after the other (stopping at the first that
 * fails), the changes are committed to a branch when one is asked for, and the worktree
 * is removed whatever happened.
 */
export class WorktreeRunner {
  /** git keeps worktree metadata in the repository: adds and removes on one repository take turns. */
  private readonly repositoryLocks = new Map<string, Promise<unknown>>();
  /** Worktrees kept for later tasks, recorded where every node sees them. */
  private readonly kept: KeptWorktreeStore;
  private readonly git: (args: string[], cwd: string) => Promise<CommandResult>;
  private ownId?: Promise<string>;

  constructor(private readonly options: WorktreeRunnerOptions) {
    this.kept = options.kept ?? memoryKeptWorktrees();
    this.git = (args, cwd) =>
      runCommand(
        { argv: ['git', '-c', 'user.name=regenflow', '-c', 'user.email=regenflow@localhost', '-c', 'commit.gpgsign=false', ...args], timeoutMs: options.gitTimeoutMs ?? 60_000 },
        // LC_ALL=C (LANGUAGE then ignored): git's messages stay English whatever locale REGENFLOW_AGENT_ENV passes, since callers read them.
        { cwd, root: cwd, envAllowList: options.envAllowList, outputLimit: options.outputLimit, env: { GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C', LANGUAGE: '' } },
      );
  }

  /** The repository's absolute path, when it lies below an allowed root and is a git repository. */
  async repository(path: string): Promise<string> {
    const absolute = resolve(path);
    let allowed: string | undefined;
    for (const root of this.options.repositoryRoots) {
      try {
        allowed = await insideRoot(root, absolute);
        break;
      } catch {
        // not below this root
      }
    }
    if (!allowed) throw new AppError('REPOSITORY_NOT_ALLOWED', `${path} is not below an allowed repository root`);
    const top = await this.git(['rev-parse', '--show-toplevel'], allowed);
    if (top.exitCode !== 0) throw new AppError('REPOSITORY_INVALID', `${path} is not a git repository: ${top.output.trim()}`);
    return allowed;
  }

  async run(task: WorktreeTask): Promise<WorktreeResult> {
    if (!REF.test(task.ref)) throw new AppError('REF_INVALID', `ref ${task.ref} is not accepted`);
    if (task.branch !== undefined && !REF.test(task.branch)) throw new AppError('REF_INVALID', `branch ${task.branch} is not accepted`);
    const repository = await this.repository(task.repository);
    const started = performance.now();
    const nodeId = await this.nodeId();
    const folder = await this.folder(task.key);
    // A kept worktree is reused only while it still holds the commit the ref names now.
    let reusable = task.keep === true && !task.branch && (await stat(join(folder, '.git')).catch(() => null))?.isFile() === true;
    if (reusable) {
      const wanted = await this.git(['rev-parse', '--verify', `${task.ref}^{commit}`], repository);
      const held = await this.git(['rev-parse', 'HEAD'], folder);
      reusable = wanted.exitCode === 0 && wanted.output.trim() === held.output.trim();
    }
    if (!reusable) {
      await this.remove(repository, folder);
      const add = await this.exclusive(repository, () =>
        // Locked: another node's `git worktree prune` (which cannot see this disk) must not unregister it.
        this.git(['worktree', 'add', '--lock', ...(task.branch ? ['-B', task.branch, folder] : ['--detach', folder]), `${task.ref}^{commit}`], repository),
      );
      if (add.exitCode !== 0) throw new AppError('WORKTREE_FAILED', `git worktree add failed: ${add.output.trim()}`);
    }
    try {
      for (const file of task.files ?? []) {
        const target = await insideRoot(folder, file.path);
        await mkdir(dirname(target), { recursive: true });
        await insideRoot(folder, dirname(target));
        await writeFile(target, file.content);
      }
      const setup = !reusable && task.setup?.length ? await this.commands(folder, task.setup, task.env, task.onOutput) : [];
      const setupFailed = setup.some((result) => result.exitCode !== 0);
      const results = setupFailed ? [] : await this.commands(folder, task.commands, task.env, task.onOutput);
      // A command that stopped in a merge (a conflict) left markers and MERGE_HEAD: staging and
      // committing them would record the conflict as the merge. What merged before it stays.
      const succeeded = !setupFailed && results.every((result) => result.exitCode === 0);
      if (!succeeded && (await this.git(['rev-parse', '-q', '--verify', 'MERGE_HEAD'], folder)).exitCode === 0) {
        const aborted = await this.git(['merge', '--abort'], folder);
        if (aborted.exitCode !== 0) throw new AppError('WORKTREE_FAILED', `git merge --abort failed: ${aborted.output.trim()}`);
      }
      await task.inspect?.(folder);
      // A kept workspace (validation phases) is only read: staging it would stage installed dependencies.
      const staging = !task.keep || task.branch;
      if (staging) await this.git(['add', '-A'], folder);
      const diff = staging ? (await this.git(['diff', '--cached', '--no-color'], folder)).output : '';
      const names = staging ? (await this.git(['diff', '--cached', '--name-only'], folder)).output : '';
      const changedFiles = names.split('\n').filter(Boolean);
      let commit: string | null = null;
      if (task.branch && changedFiles.length) {
        const committed = await this.git(['commit', '-q', '--no-verify', '-m', task.message ?? `regenflow: ${task.key}`], folder);
        if (committed.exitCode !== 0) throw new AppError('COMMIT_FAILED', `git commit failed: ${committed.output.trim()}`);
      }
      const head = (await this.git(['rev-parse', 'HEAD'], folder)).output.trim();
      if (task.branch && changedFiles.length) commit = head;
      return {
        commands: results,
        fresh: !reusable,
        setup,
        succeeded,
        durationMs: Math.round(performance.now() - started),
        diff,
        changedFiles,
        commit,
        branch: task.branch ?? null,
        head,
      };
    } finally {
      if (!task.keep || task.branch) await this.remove(repository, folder);
      else {
        const kept = { key: task.key, repository, folder, instanceId: task.instanceId ?? null, nodeId };
        await this.kept.keep(kept);
        // The instance may have ended while the commands ran: its release has passed this worktree by.
        if (task.instanceId && (await this.kept.instanceEnded(task.instanceId))) await this.release(kept);
      }
    }
  }

  /** Runs commands one after the other in the worktree, stopping at the first that fails. */
  private async commands(folder: string, commands: WorktreeCommand[], env: Record<string, string> | undefined, onOutput?: (text: string) => void): Promise<CommandResult[]> {
    const results: CommandResult[] = [];
    for (const command of commands) {
      const missing = command.script ? await missingScript(folder, command.script) : null;
      if (missing) {
        // Not run at all: npm would only say "Missing script" with exit code 1, which reads like a failing script.
        results.push({ argv: command.argv, exitCode: null, signal: null, timedOut: false, durationMs: 0, output: missing, truncated: false, missingScript: command.script });
        break;
      }
      onOutput?.(`$ ${command.argv.join(' ')}\n`);
      const result = await runCommand(
        { argv: command.argv, timeoutMs: command.timeoutMs },
        { cwd: folder, root: folder, envAllowList: this.options.envAllowList, env, outputLimit: this.options.outputLimit, onOutput },
      );
      results.push(result);
      if (result.exitCode !== 0) break;
    }
    return results;
  }

  /** Text for people: paths below the work folder relative to it (the server's own layout stays on the server). */
  relativePaths(text: string): string {
    return text.split(`${resolve(this.options.workRoot)}/`).join('');
  }

  /** The commit a ref names now: what a validation pins, so every later step runs exactly that. */
  async resolve(repositoryPath: string, ref: string): Promise<string> {
    if (!REF.test(ref)) throw new AppError('REF_INVALID', `ref ${ref} is not accepted`);
    const repository = await this.repository(repositoryPath);
    const resolved = await this.git(['rev-parse', '--verify', '--end-of-options', `${ref}^{commit}`], repository);
    if (resolved.exitCode !== 0) throw new AppError('REF_INVALID', `${ref} names no commit: ${resolved.output.trim()}`);
    return resolved.output.trim();
  }

  /** Paths of the files at a ref of the repository (read-only; no worktree needed). */
  async listFiles(repositoryPath: string, ref: string): Promise<string[]> {
    if (!REF.test(ref)) throw new AppError('REF_INVALID', `ref ${ref} is not accepted`);
    const repository = await this.repository(repositoryPath);
    const listed = await this.git(['ls-tree', '-r', '--name-only', `${ref}^{commit}`], repository);
    if (listed.exitCode !== 0) throw new AppError('REF_INVALID', `git ls-tree ${ref}: ${listed.output.trim()}`);
    return listed.output.split('\n').filter(Boolean);
  }

  /** Removes this node's kept worktree of a key (another node's copy is its node's to remove when the instance ends). */
  async discard(repositoryPath: string, key: string): Promise<void> {
    const repository = await this.repository(repositoryPath);
    await this.remove(repository, await this.folder(key));
    await this.kept.forget(key, await this.nodeId());
  }

  /** Removes this node's worktrees kept for an instance: called when the instance ends on this node. */
  async releaseInstance(instanceId: string): Promise<number> {
    const worktrees = await this.kept.ofInstance(instanceId, await this.nodeId());
    for (const worktree of worktrees) await this.release(worktree);
    return worktrees.length;
  }

  /**
   * Removes this node's worktrees kept for instances that are no longer active: those that
   * ended on another node, or while this one was down. Run at start and by `startSweeping`.
   */
  async releaseOrphans(): Promise<number> {
    const worktrees = await this.kept.orphans(await this.nodeId());
    for (const worktree of worktrees) await this.release(worktree);
    return worktrees.length;
  }

  /** Sweeps this node's orphans every `sweepIntervalMs` (the timer does not keep the process alive); returns the stop. */
  startSweeping(onError: (error: unknown) => void = () => {}): () => void {
    let sweeping = false;
    const timer = setInterval(() => {
      if (sweeping) return;
      sweeping = true;
      this.releaseOrphans()
        .catch(onError)
        .finally(() => (sweeping = false));
    }, this.options.sweepIntervalMs ?? 300_000);
    timer.unref();
    return () => clearInterval(timer);
  }

  /** Removes one of this node's kept worktrees and forgets it; a recorded folder outside this node's worktrees is only forgotten. */
  private async release(worktree: KeptWorktree): Promise<void> {
    const mine = await insideRoot(await this.nodeFolder(), worktree.folder).then(
      () => true,
      () => false,
    );
    if (mine) {
      const repository = await this.repository(worktree.repository).catch(() => null);
      // A repository no longer allowed here: what git knows of it is not ours to change any more.
      if (repository) await this.remove(repository, worktree.folder);
      else await rm(worktree.folder, { recursive: true, force: true });
    }
    await this.kept.forget(worktree.key, worktree.nodeId);
  }

  /** This node's id for kept worktrees: the configured one, else one kept in the work folder (so it survives a restart). */
  private nodeId(): Promise<string> {
    const pending = (this.ownId ??= (async () => {
      if (this.options.nodeId) return this.options.nodeId;
      const file = join(this.options.workRoot, 'node-id');
      const kept = (await readFile(file, 'utf8').catch(() => '')).trim();
      if (kept) return kept;
      await mkdir(this.options.workRoot, { recursive: true });
      const made = `work-${randomUUID()}`;
      // `wx`: two nodes starting on one work folder agree on the first id written.
      await writeFile(file, made, { flag: 'wx' }).catch(() => {});
      return (await readFile(file, 'utf8')).trim();
    })());
    // A failed read or write (a full disk, a folder not there yet) is tried again next time.
    pending.catch(() => {
      if (this.ownId === pending) this.ownId = undefined;
    });
    return pending;
  }

  /** `worktrees/<node id>` in the work folder: nodes sharing a disk (or a path layout) never share a folder. */
  private async nodeFolder(): Promise<string> {
    const relative = join('worktrees', (await this.nodeId()).replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 120));
    await mkdir(join(this.options.workRoot, relative), { recursive: true });
    return insideRoot(this.options.workRoot, relative);
  }

  private async folder(key: string): Promise<string> {
    return join(await this.nodeFolder(), key.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 120));
  }

  private async remove(repository: string, folder: string): Promise<void> {
    await this.exclusive(repository, async () => {
      // Only ever a folder of this node: `-f -f` removes it although it is locked (and only its
      // metadata when the folder is gone). No prune: it would touch other worktrees of the repository.
      const removed = await this.git(['worktree', 'remove', '-f', '-f', folder], repository);
      if (removed.exitCode !== 0) await rm(folder, { recursive: true, force: true });
    });
  }

  private async exclusive<T>(repository: string, work: () => Promise<T>): Promise<T> {
    const previous = this.repositoryLocks.get(repository) ?? Promise.resolve();
    const next = previous.catch(() => {}).then(work);
    const settled = next.catch(() => {});
    this.repositoryLocks.set(repository, settled);
    try {
      return await next;
    } finally {
      if (this.repositoryLocks.get(repository) === settled) this.repositoryLocks.delete(repository);
    }
  }
}

/** The kept-worktree record in memory, for a runner without a database (one process, no restart). */
function memoryKeptWorktrees(): KeptWorktreeStore {
  const kept = new Map<string, KeptWorktree>();
  const id = (key: string, nodeId: string) => JSON.stringify([key, nodeId]);
  return {
    keep: async (worktree) => void kept.set(id(worktree.key, worktree.nodeId), worktree),
    find: async (key, nodeId) => kept.get(id(key, nodeId)),
    forget: async (key, nodeId) => void kept.delete(id(key, nodeId)),
    ofInstance: async (instanceId, nodeId) => [...kept.values()].filter((worktree) => worktree.instanceId === instanceId && worktree.nodeId === nodeId),
    orphans: async () => [],
    instanceEnded: async () => false,
  };
}
