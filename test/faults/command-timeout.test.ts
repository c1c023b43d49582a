import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { commandContainment, runCommand } from '../../service-tasks/agent/command-runner.js';

/** A process is gone when kill(0) fails or it is a zombie waiting for a reaper. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describe('a command that times out', () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'regenflow-timeout-'));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('when a grandchild escaped with setsid, then the timeout kills it too and the duration is the real one', async () => {
    const pidFile = join(root, 'escaped.pid');
    const script = `setsid sh -c 'echo $$ > ${pidFile}; exec sleep 60' & trap '' TERM; sleep 60`;
    const result = await runCommand({ argv: ['sh', '-c', script], timeoutMs: 500 }, { cwd: root, root, envAllowList: ['PATH'], killGraceMs: 300 });
    expect(result.timedOut).toBe(true);
    expect(result.durationMs).toBeGreaterThanOrEqual(500);
    expect(result.durationMs).toBeLessThan(3000);
    const escaped = Number(readFileSync(pidFile, 'utf8'));
    expect(escaped).toBeGreaterThan(0);
    const deadline = Date.now() + 2000;
    while (alive(escaped) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(alive(escaped)).toBe(false);
  });

  it('when a grandchild escaped with setsid and cleared its environment, then the timeout still kills it (cgroup) and no cgroup is left', async () => {
    if ((await commandContainment()) !== 'cgroup') {
      console.warn('skipped: no writable cgroup v2 here; a grandchild that clears its environment after setsid cannot be found without one');
      return;
    }
    const pidFile = join(root, 'scrubbed.pid');
    const cgroupFile = join(root, 'scrubbed.cgroup');
    const script = `setsid env -i /bin/sh -c '/bin/cat /proc/self/cgroup > ${cgroupFile}; echo $$ > ${pidFile}; exec sleep 60' > /dev/null 2>&1 & trap '' TERM; sleep 60`;
    const result = await runCommand({ argv: ['sh', '-c', script], timeoutMs: 500 }, { cwd: root, root, envAllowList: ['PATH'], killGraceMs: 300 });
    expect(result.timedOut).toBe(true);
    expect(result.durationMs).toBeGreaterThanOrEqual(500);
    const scrubbed = Number(readFileSync(pidFile, 'utf8'));
    const deadline = Date.now() + 2000;
    while (alive(scrubbed) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(alive(scrubbed)).toBe(false);
    // The command's own cgroup, as its grandchild saw it: other suites on this machine may run
    // commands at the same time, so the parent folder may hold their cgroups, never this one.
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((line) => line.split(' - ')[1]?.startsWith('cgroup2 '))!;
    const commandCgroup = readFileSync(cgroupFile, 'utf8').split('\n').find((line) => line.startsWith('0::'))!.slice(3);
    expect(basename(commandCgroup)).toMatch(/^regenflow-command-/);
    const folder = `${mounts.split(' ')[4]}${commandCgroup}`;
    const removedBy = Date.now() + 10_000;
    while (existsSync(folder) && Date.now() < removedBy) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(existsSync(folder)).toBe(false);
  });

  it('when the program does not exist, then the result says so instead of throwing', async () => {
    const result = await runCommand({ argv: ['regenflow-no-such-program'], timeoutMs: 5000 }, { cwd: root, root, envAllowList: ['PATH'] });
    expect(result.exitCode === 127 || result.exitCode === null).toBe(true);
    expect(result.output).toMatch(/not found|ENOENT/);
  });

  it('when a command ends but left a setsid daemon behind, then the daemon is killed', async () => {
    const pidFile = join(root, 'daemon.pid');
    const result = await runCommand(
      { argv: ['sh', '-c', `setsid sh -c 'echo $$ > ${pidFile}; exec sleep 60' > /dev/null 2>&1 & sleep 0.2; exit 0`], timeoutMs: 5000 },
      { cwd: root, root, envAllowList: ['PATH'] },
    );
    expect(result.exitCode).toBe(0);
    const daemon = Number(readFileSync(pidFile, 'utf8'));
    const deadline = Date.now() + 2000;
    while (alive(daemon) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(alive(daemon)).toBe(false);
  });
});
