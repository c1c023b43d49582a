import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { rmdirSync } from 'node:fs';
import { mkdir, readdir, readFile, realpath, rmdir, writeFile } from 'node:fs/promises';
import { isAbsolute, relative, resolve } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { AppError } from '../../src/errors.js';

/** One command: an argv (no shell string ever), with its own time budget. */
export interface CommandSpec {
  argv: string[];
  /** Killed with its whole process group after this long. */
  timeoutMs: number;
}

export interface CommandResult {
  argv: string[];
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  durationMs: number;
  /** stdout and stderr interleaved, cut at the output limit. */
  output: string;
  truncated: boolean;
  /** Set when the command was not run because the npm script it names is missing. */
  missingScript?: string;
}

export interface RunOptions {
  /** Where the command runs; must lie inside `root`. */
  cwd: string;
  /** The work folder no command may leave. */
  root: string;
  /** Names of variables passed on from this process's environment; nothing else is. */
  envAllowList: readonly string[];
  /** Extra variables set by the caller (not by process variables). */
  env?: Record<string, string>;
  /** Bytes of output kept. @default 65536 */
  outputLimit?: number;
  /** Wait between SIGTERM and SIGKILL on timeout. @default 1000 */
  killGraceMs?: number;
  /** Sees every chunk of output as it comes (a live log), before the output limit cuts it. */
  onOutput?: (text: string) => void;
}

/** Resolves `path` against `root` and refuses anything that lands outside it (.., absolute, symlinks). */
export async function insideRoot(root: string, path: string): Promise<string> {
  const realRoot = await realpath(root);
  const candidate = resolve(realRoot, path);
  const check = (target: string) => {
    const rel = relative(realRoot, target);
    if (rel.startsWith('..') || isAbsolute(rel)) throw new AppError('PATH_OUTSIDE_WORK_FOLDER', `${path} is outside the work folder`);
  };
  check(candidate);
  // A symlink inside the folder may still point out of it.
  const real = await realpath(candidate).catch(() => candidate);
  check(real);
  return real;
}

/** Only the allow-listed variables of this process, plus the caller's own. */
export function allowedEnvironment(allowList: readonly string[], extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of allowList) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return { ...env, ...extra };
}

/**
 * Runs one command in its own cgroup (v2, where this process may create one) and its own
 * process group (`detached`), so a timeout can kill the command and everything it started:
 * `spawn({ timeout })` only kills the direct child and leaves grandchildren running, and a
 * process group misses a grandchild that left it with setsid. When the command exits,
 * whatever it left behind is killed too. Without cgroups, an environment mark read from
 * /proc finds setsid escapees that kept their environment.
 */
export async function runCommand(spec: CommandSpec, options: RunOptions): Promise<CommandResult> {
  if (!spec.argv.length || !spec.argv[0]) throw new AppError('COMMAND_INVALID', 'a command needs at least a program name');
  const cwd = await insideRoot(options.root, options.cwd);
  const limit = options.outputLimit ?? 65_536;
  const started = performance.now();
  // Every process the command starts inherits this mark, also one that left the process
  // group with setsid: at the end, whatever still carries it is killed (see killMarked).
  const mark = `${COMMAND_MARK}=${randomUUID()}`;
  // Where the kernel allows it, the command runs in a cgroup of its own: nothing it starts can
  // leave it (setsid, a cleared environment, a double fork), and one write kills them all.
  // A shell joins the cgroup and then execs the command, so not even its first fork is outside.
  const cgroup = await createCommandCgroup();
  const [program, ...args] = cgroup ? ['/bin/sh', '-c', 'echo $$ > "$0" && exec "$@"', cgroup.procsFile, ...spec.argv] : spec.argv;
  const child = spawn(program!, args, {
    cwd,
    env: { ...allowedEnvironment(options.envAllowList, options.env), [COMMAND_MARK]: mark.slice(COMMAND_MARK.length + 1) },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    shell: false,
  });
  let output = '';
  let truncated = false;
  // One decoder per stream: a multi-byte character split across chunks stays whole.
  const decoders = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };
  const collect = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
    const text = decoders[stream].write(chunk);
    if (options.onOutput && text) {
      try {
        options.onOutput(text);
      } catch {
        // a live log never fails the command
      }
    }
    if (output.length >= limit) {
      truncated = true;
      return;
    }
    if (output.length + text.length > limit) truncated = true;
    output += text.slice(0, limit - output.length);
  };
  child.stdout?.on('data', collect('stdout'));
  child.stderr?.on('data', collect('stderr'));
  const closed = new Promise<void>((done) => child.once('close', () => done()));

  const killGroup = (signal: NodeJS.Signals) => {
    if (child.pid === undefined) return;
    try {
      process.kill(-child.pid, signal);
    } catch {
      // ESRCH: the group is already gone.
    }
  };
  let timedOut = false;
  let forceTimer: NodeJS.Timeout | undefined;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup('SIGTERM');
    forceTimer = setTimeout(() => {
      killGroup('SIGKILL');
      void cgroup?.kill();
      void killMarked(mark);
    }, options.killGraceMs ?? 1000);
  }, spec.timeoutMs);

  const { exitCode, signal } = await new Promise<{ exitCode: number | null; signal: string | null }>((done) => {
    child.once('error', (error) => {
      output += `\n${error.message}`;
      done({ exitCode: null, signal: null });
    });
    // 'exit', not 'close': a grandchild holding the pipes open must not keep us waiting.
    child.once('exit', (code, sig) => done({ exitCode: code, signal: sig }));
  });
  // The command's duration ends with it, not with the clean-up of what it left behind.
  const durationMs = Math.round(performance.now() - started);
  clearTimeout(timer);
  clearTimeout(forceTimer);
  // Let the pipes drain, but not for long: a leftover grandchild may hold them open.
  await Promise.race([closed, new Promise((done) => setTimeout(done, 200))]);
  killGroup('SIGKILL');
  await cgroup?.killAndRemove();
  await killMarked(mark);
  child.stdout?.destroy();
  child.stderr?.destroy();
  return {
    argv: spec.argv,
    exitCode,
    signal,
    timedOut,
    durationMs,
    output,
    truncated,
  };
}

/** A cgroup (v2) of one command run. */
interface CommandCgroup {
  /** Writing a pid here moves that process (and all it starts later) into the cgroup. */
  procsFile: string;
  /** SIGKILLs every process in the cgroup. */
  kill(): Promise<void>;
  /** Kills what is left and removes the cgroup, once it is empty. */
  killAndRemove(): Promise<void>;
}

/** The cgroup v2 folder this process lives in, if one is mounted and writable; found once. */
let cgroupParent: Promise<string | null> | undefined;

async function findCgroupParent(): Promise<string | null> {
  try {
    const mounts = await readFile('/proc/self/mountinfo', 'utf8');
    // mountinfo: id parent major:minor root mountpoint options ... - fstype source options
    const line = mounts.split('\n').find((entry) => entry.split(' - ')[1]?.startsWith('cgroup2 '));
    if (!line) return null;
    const mountPoint = line.split(' ')[4]!;
    const own = (await readFile('/proc/self/cgroup', 'utf8')).split('\n').find((entry) => entry.startsWith('0::'));
    const folder = `${mountPoint}${own ? own.slice(3).replace(/\/$/, '') : ''}`;
    // Probe: a folder we may create and a procs file we may write (delegation, permissions).
    const probe = `${folder}/regenflow-probe-${process.pid}`;
    await mkdir(probe);
    await rmdir(probe);
    return folder;
  } catch {
    return null;
  }
}

/** How commands are contained here: `cgroup` (nothing escapes) or `process-group` (plus the environment mark). */
export async function commandContainment(): Promise<'cgroup' | 'process-group'> {
  cgroupParent ??= findCgroupParent();
  return (await cgroupParent) ? 'cgroup' : 'process-group';
}

/** How long a command's end waits for its cgroup to empty, and how long removal goes on after. */
const CGROUP_REMOVAL_WAIT_MS = 2_000;
const CGROUP_REMOVAL_BACKGROUND_MS = 60_000;

/**
 * Cgroups whose removal goes on in the background. The retries do not keep the process alive,
 * so whatever is left when it exits gets one last try (the processes in it were killed long ago).
 */
const cgroupsToRemove = new Set<string>();
let removeAtExit = false;
function armRemovalAtExit(): void {
  if (removeAtExit) return;
  removeAtExit = true;
  process.once('exit', () => {
    for (const folder of cgroupsToRemove) {
      try {
        rmdirSync(folder);
      } catch {
        // still busy, or gone already
      }
    }
  });
}

/** A fresh cgroup for one command, or null where cgroups v2 cannot be used (then process group and mark are all). */
async function createCommandCgroup(): Promise<CommandCgroup | null> {
  cgroupParent ??= findCgroupParent();
  const parent = await cgroupParent;
  if (!parent) return null;
  const folder = `${parent}/regenflow-command-${randomUUID()}`;
  try {
    await mkdir(folder);
  } catch {
    return null;
  }
  const kill = async () => {
    // cgroup.kill (Linux 5.14+) kills the whole cgroup atomically, also processes forking meanwhile.
    const killedAtOnce = await writeFile(`${folder}/cgroup.kill`, '1').then(
      () => true,
      () => false,
    );
    if (killedAtOnce) return;
    const pids = (await readFile(`${folder}/cgroup.procs`, 'utf8').catch(() => '')).split('\n').filter(Boolean);
    for (const pid of pids) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
  };
  return {
    procsFile: `${folder}/cgroup.procs`,
    kill,
    async killAndRemove() {
      // A killed process leaves the cgroup once the kernel has reaped it, which on a loaded
      // machine can take longer than the command's caller should wait: retry briefly here, then
      // go on in the background so that no cgroup is left behind.
      const removed = async () => {
        await kill();
        return rmdir(folder).then(
          () => true,
          () => false,
        );
      };
      const waitedUntil = Date.now() + CGROUP_REMOVAL_WAIT_MS;
      while (Date.now() < waitedUntil) {
        if (await removed()) return;
        await new Promise((done) => setTimeout(done, 20));
      }
      const givenUpAt = Date.now() + CGROUP_REMOVAL_BACKGROUND_MS;
      cgroupsToRemove.add(folder);
      armRemovalAtExit();
      const retry = () => {
        void removed().then((done) => {
          if (done) cgroupsToRemove.delete(folder);
          else if (Date.now() < givenUpAt) setTimeout(retry, 250).unref();
        });
      };
      setTimeout(retry, 250).unref();
    },
  };
}

/** The environment variable that marks every process of one command run. */
const COMMAND_MARK = 'REGENFLOW_COMMAND_RUN';

/**
 * SIGKILLs every process whose environment holds `mark`: the command's descendants, also
 * those that escaped its process group and session with setsid (a process group kill
 * misses them). Linux /proc only; elsewhere the group kill is all there is. A process
 * that scrubs its own environment escapes this too: run such tools in a container.
 */
async function killMarked(mark: string): Promise<number> {
  let pids: string[];
  try {
    pids = (await readdir('/proc')).filter((name) => /^\d+$/.test(name) && Number(name) !== process.pid);
  } catch {
    return 0;
  }
  let killed = 0;
  await Promise.all(
    pids.map(async (pid) => {
      try {
        const environ = await readFile(`/proc/${pid}/environ`, 'latin1');
        if (!environ.split('\0').includes(mark)) return;
        process.kill(Number(pid), 'SIGKILL');
        killed++;
      } catch {
        // gone meanwhile, or not ours to read
      }
    }),
  );
  return killed;
}
