import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export const repositoryRoot = join(import.meta.dirname, '..', '..');

/** One token per role for tests; servers started by tests get them as REGENFLOW_TOKENS. */
export const TEST_TOKENS = {
  admin: 'admin-test-token',
  owner: 'owner-test-token',
  operator: 'operator-test-token',
  worker: 'worker-test-token',
  alert: 'alert-test-token',
} as const;
export const TEST_TOKENS_SETTING = Object.entries(TEST_TOKENS)
  .map(([role, token]) => `${role}:${token}`)
  .join(',');

/** Starts `regenflow serve` from the sources as a real child process; resolves once it listens. */
export function startServerProcess(env: Record<string, string>, port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(repositoryRoot, 'src/cli/main.ts'), 'serve'], {
    cwd: repositoryRoot,
    env: { ...process.env, REGENFLOW_JOB_POLL_MS: '100', REGENFLOW_TOKENS: TEST_TOKENS_SETTING, REGENFLOW_RATE_LIMIT: '100000', ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('listening on')) resolve(child);
    });
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${output}`)));
  });
}

/** SIGKILL and wait until the process is gone. */
export async function killServerProcess(child: ChildProcess): Promise<void> {
  const exited = child.exitCode !== null || child.signalCode !== null;
  child.kill('SIGKILL');
  if (!exited) await new Promise((resolve) => child.once('exit', resolve));
}

/** A small JSON client for one server, authenticated as `token` (admin by default). */
export function httpClient(base: string, token: string = TEST_TOKENS.admin) {
  return async (method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> => {
    const response = await fetch(base + path, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  };
}
