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
   * This node's id, recorded with what it keeps: only the node with this id removes (and
   * forgets) a kept worktree it cannot see. @default an id kept in the work folder, so a
   * restart (or another node on the same work folder) is the same node
   */
  nodeId?: string;
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
        { cwd, root: cwd, envAllowList: options.envAllowList, outputLimit: options.outputLimit, env: { GIT_TERMINAL_PROMPT: '0' } },
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
        this.git(['worktree', 'add', ...(task.branch ? ['-B', task.branch, folder] : ['--detach', folder]), `${task.ref}^{commit}`], repository),
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
      const setup = !reusable && task.setup?.length ? await this.commands(folder, task.setup, task.env) : [];
      const setupFailed = setup.some((result) => result.exitCode !== 0);
      const results = setupFailed ? [] : await this.commands(folder, task.commands, task.env);
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
        const replaced = await this.kept.keep({ key: task.key, repository, folder, instanceId: task.instanceId ?? null, nodeId: await this.nodeId() });
        // Another node kept this key before: its copy is stale now. When it cannot be removed from
        // here (another disk; the same path may be our own copy), its record moves to a key of its
        // own, so its node still finds it.
        if (replaced) {
          const removed = replaced.folder !== folder && (await this.removeRecorded(replaced));
          if (!removed) await this.kept.keep({ ...replaced, key: `${replaced.key}@${replaced.nodeId}` });
        }
        // The instance may have ended while the commands ran: its release has passed this worktree by.
        const orphaned = task.instanceId ? (await this.kept.orphans()).find((worktree) => worktree.key === task.key) : undefined;
        if (orphaned) await this.release(orphaned);
      }
    }
  }

  /** Runs commands one after the other in the worktree, stopping at the first that fails. */
  private async commands(folder: string, commands: WorktreeCommand[], env: Record<string, string> | undefined): Promise<CommandResult[]> {
    const results: CommandResult[] = [];
    for (const command of commands) {
      const missing = command.script ? await missingScript(folder, command.script) : null;
      if (missing) {
        // Not run at all: npm would only say "Missing script" with exit code 1, which reads like a failing script.
        results.push({ argv: command.argv, exitCode: null, signal: null, timedOut: false, durationMs: 0, output: missing, truncated: false, missingScript: command.script });
        break;
      }
      const result = await runCommand({ argv: command.argv, timeoutMs: command.timeoutMs }, { cwd: folder, root: folder, envAllowList: this.options.envAllowList, env, outputLimit: this.options.outputLimit });
      results.push(result);
      if (result.exitCode !== 0) break;
    }
    return results;
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

  /** Removes a kept worktree, wherever (on whichever node) it was kept. */
  async discard(repositoryPath: string, key: string): Promise<void> {
    const repository = await this.repository(repositoryPath);
    const folder = await this.folder(key);
    const recorded = await this.kept.find(key);
    await this.remove(repository, folder);
    if (recorded && recorded.nodeId !== (await this.nodeId())) {
      // Another node's copy at our own path is on its disk, not ours: what we removed was not it.
      const removed = recorded.folder !== folder && (await this.removeRecorded(recorded));
      if (!removed) return;
    }
    await this.kept.forget(key);
  }

  /** Removes every worktree kept for an instance: called when the instance ends, on whichever node ends it. */
  async releaseInstance(instanceId: string): Promise<number> {
    const worktrees = await this.kept.ofInstance(instanceId);
    for (const worktree of worktrees) await this.release(worktree);
    return worktrees.length;
  }

  /** Removes worktrees kept for instances that ended while no node removed them (a crash, a node gone); run at start. */
  async releaseOrphans(): Promise<number> {
    const worktrees = await this.kept.orphans();
    for (const worktree of worktrees) await this.release(worktree);
    return worktrees.length;
  }

  private async release(worktree: KeptWorktree): Promise<void> {
    if (await this.removeRecorded(worktree)) await this.kept.forget(worktree.key);
  }

  /**
   * Removes a recorded worktree; true when its record may be forgotten. One this node kept
   * (its node id, below its work folder) is removed like any of ours. Another node's may lie
   * on a disk this node does not see, at a path that means another folder here (nodes with
   * the same data-folder layout), so a path is no proof: only `git worktree remove` in the
   * repository touches it (git refuses any folder that is not one of that repository's
   * worktrees), no prune (that would drop the metadata of worktrees on disks this node does
   * not see), and unless git removed it the record stays for its node's start-up cleanup.
   * False when the repository is not allowed here.
   */
  private async removeRecorded(worktree: KeptWorktree): Promise<boolean> {
    let repository: string;
    try {
      repository = await this.repository(worktree.repository);
    } catch {
      return false;
    }
    const mine = worktree.nodeId === (await this.nodeId());
    const below = await insideRoot(join(this.options.workRoot, 'worktrees'), worktree.folder).then(
      () => true,
      () => false,
    );
    if (mine && below) {
      await this.remove(repository, worktree.folder);
      return true;
    }
    const removed = await this.exclusive(repository, () => this.git(['worktree', 'remove', '--force', worktree.folder], repository));
    return removed.exitCode === 0 || mine;
  }

  /** This node's id for kept worktrees: the configured one, else one kept in the work folder (so it survives a restart). */
  private nodeId(): Promise<string> {
    this.ownId ??= (async () => {
      if (this.options.nodeId) return this.options.nodeId;
      const file = join(this.options.workRoot, 'node-id');
      const kept = (await readFile(file, 'utf8').catch(() => '')).trim();
      if (kept) return kept;
      await mkdir(this.options.workRoot, { recursive: true });
      const made = `work-${randomUUID()}`;
      // `wx`: two nodes starting on one work folder agree on the first id written.
      await writeFile(file, made, { flag: 'wx' }).catch(() => {});
      return (await readFile(file, 'utf8')).trim();
    })();
    return this.ownId;
  }

  private async folder(key: string): Promise<string> {
    await mkdir(join(this.options.workRoot, 'worktrees'), { recursive: true });
    return join(await insideRoot(this.options.workRoot, 'worktrees'), key.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 120));
  }

  private async remove(repository: string, folder: string): Promise<void> {
    await this.exclusive(repository, async () => {
      const removed = await this.git(['worktree', 'remove', '--force', folder], repository);
      if (removed.exitCode !== 0) {
        // Not a worktree (any more): clear the folder and whatever metadata points at it.
        await rm(folder, { recursive: true, force: true });
        await this.git(['worktree', 'prune'], repository);
      }
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
  return {
    async keep(worktree) {
      const before = kept.get(worktree.key);
      kept.set(worktree.key, worktree);
      return before && (before.folder !== worktree.folder || before.repository !== worktree.repository || before.nodeId !== worktree.nodeId) ? before : undefined;
    },
    find: async (key) => kept.get(key),
    forget: async (key) => void kept.delete(key),
    ofInstance: async (instanceId) => [...kept.values()].filter((worktree) => worktree.instanceId === instanceId),
    orphans: async () => [],
  };
}
