import { execFileSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sequence } from '../support/bpmn.js';
import { httpClient, killServerProcess, startServerProcess } from '../support/server-process.js';

/**
 * Disk full, for real: the PGlite folder on a tiny tmpfs that a filler file fills up. The
 * server must answer fast (507/503, not hang), keep what it committed, and work again once
 * space is back. Needs root and tmpfs (mount); skipped with a note where it cannot mount,
 * and on PostgreSQL (its data directory belongs to the shared server, see the note below).
 */
const ANSWER_BOUND_MS = 15_000;
const TMPFS_MB = 256;

function tryMount(folder: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_MB}m`, 'tmpfs', folder], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const root = mkdtempSync(join(tmpdir(), 'regenflow-disk-full-'));
const mounted = !process.env.DATABASE_URL && tryMount(root);
if (!mounted) {
  console.warn(
    process.env.DATABASE_URL
      ? 'skipping the disk-full test on PostgreSQL: the shared server\'s data directory cannot be put on a tmpfs here'
      : `skipping the disk-full test: cannot mount a tmpfs on ${root} (needs root and mount rights)`,
  );
  rmSync(root, { recursive: true, force: true });
}
const describeMounted = mounted ? describe : describe.skip;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Writes zeros until the device is full; the file is deleted to give the space back. */
function fill(path: string): void {
  const fd = openSync(path, 'w');
  const block = Buffer.alloc(1024 * 1024);
  try {
    for (;;) writeSync(fd, block);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  } finally {
    closeSync(fd);
  }
  // The last partial blocks too: nothing may be left for the database.
  const small = openSync(path, 'a');
  try {
    for (;;) writeSync(small, Buffer.alloc(512));
  } catch {
    /* full */
  } finally {
    closeSync(small);
  }
}

describeMounted('disk full under the PGlite folder', () => {
  let server: ChildProcess | undefined;
  let base: string;
  let port: number;
  const dataDir = join(root, 'data');
  const filler = join(root, 'filler');
  const start = () => startServerProcess({ REGENFLOW_DATA_DIR: dataDir, REGENFLOW_PROCESSES_DIR: join(root, 'no-processes') }, port);

  beforeAll(async () => {
    mkdirSync(dataDir, { recursive: true });
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
    server = await start();
    const api = httpClient(base);
    expect((await api('POST', '/api/deployments', { name: 'd.bpmn', xml: sequence('disk', [{ id: 'review', xml: '<bpmn:userTask id="review" />' }]) })).status).toBe(201);
  }, 120_000);

  afterAll(async () => {
    if (server) await killServerProcess(server);
    rmSync(filler, { force: true });
    try {
      execFileSync('umount', [root], { stdio: 'ignore' });
    } catch {
      /* already gone */
    }
    rmSync(root, { recursive: true, force: true });
  });

  it('when the device fills up, then requests fail fast with 507/503, nothing committed is lost, and it works again once space returns', async () => {
    const api = httpClient(base);
    const committed: string[] = [];
    for (let index = 0; index < 5; index++) {
      const started = await api('POST', '/api/process-instances', { processKey: 'disk', businessKey: `before-${index}` });
      expect(started.status).toBe(201);
      committed.push(started.body.id);
    }

    fill(filler);
    expect(statfsSync(root).bavail).toBeLessThan(2);
    // Writes big enough to need new pages: a full device must show.
    const refused: number[] = [];
    for (let index = 0; index < 20 && refused.length < 3; index++) {
      const began = Date.now();
      const answer = await api('POST', '/api/process-instances', { processKey: 'disk', businessKey: `full-${index}`, variables: { padding: 'x'.repeat(200_000) } });
      expect(Date.now() - began).toBeLessThan(ANSWER_BOUND_MS);
      if (answer.status === 201) committed.push(answer.body.id);
      else {
        expect([503, 507]).toContain(answer.status);
        refused.push(answer.status);
      }
    }
    expect(refused.length).toBeGreaterThan(0);
    const began = Date.now();
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    expect(Date.now() - began).toBeLessThan(ANSWER_BOUND_MS);

    rmSync(filler);
    let recovered = false;
    for (let attempt = 0; attempt < 20 && !recovered; attempt++) {
      const answer = await api('POST', '/api/process-instances', { processKey: 'disk', businessKey: 'after' });
      if (answer.status === 201) {
        committed.push(answer.body.id);
        recovered = true;
      } else await new Promise((resolve) => setTimeout(resolve, 500));
    }
    expect(recovered).toBe(true);

    // A restart reads back everything acknowledged.
    await killServerProcess(server!);
    server = await start();
    for (const id of committed) expect((await api('GET', `/api/process-instances/${id}`)).status).toBe(200);
  });
});
