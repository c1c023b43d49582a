/**
 * `npm run bench:load`: an open-loop REST load on a real server process (`regenflow serve`
 * from the sources), as a client fleet would offer it: requests are sent on a fixed schedule
 * whether or not earlier ones were answered, so queueing shows up in the latencies instead of
 * slowing the offered rate down (a closed loop hides it).
 *
 *   phase 1: POST /api/process-instances (start -> user task), RATE per second for SECONDS
 *   phase 2: POST /api/tasks/:id/complete for the tasks phase 1 created, at the same rate
 *
 * Each phase prints p50/p95/p99/max latency, how many answers were not 2xx (by status), and the
 * server's CPU time per request (its /proc utime + stime over the phase, until the last answer,
 * divided by the requests). The server runs with its default settings (rate limit included)
 * and one operator token, on PGlite, then on a fresh PostgreSQL database when DATABASE_URL is
 * set. Read the figures with the load average printed beside them.
 *
 *   npm run bench:load -- --rate 100 --seconds 30 --database pglite|postgres|both
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { sequence } from '../test/support/bpmn.js';
import { killServerProcess, startServerProcess } from '../test/support/server-process.js';
import { createTestDatabase } from '../test/support/test-app.js';

function usage(message: string): never {
  console.error(`bench:load: ${message}`);
  console.error('usage: npm run bench:load -- [--rate R] [--seconds S] [--database pglite|postgres|both]');
  process.exit(2);
}

const { values: args } = (() => {
  try {
    return parseArgs({ options: { rate: { type: 'string' }, seconds: { type: 'string' }, database: { type: 'string' } }, strict: true });
  } catch (error) {
    return usage(error instanceof Error ? error.message : String(error));
  }
})();
const positive = (name: string, given: string | undefined, fallback: number) => {
  if (given === undefined) return fallback;
  const value = Number(given);
  if (!Number.isFinite(value) || value <= 0) usage(`${name} must be a positive number, got '${given}'`);
  return value;
};
const RATE = positive('--rate', args.rate, 100);
const SECONDS = positive('--seconds', args.seconds, 30);
const DATABASES = args.database ?? (process.env.DATABASE_URL ? 'both' : 'pglite');
if (!['pglite', 'postgres', 'both'].includes(DATABASES)) usage(`--database must be pglite, postgres or both, got '${DATABASES}'`);
if (DATABASES !== 'pglite' && !process.env.DATABASE_URL) usage('--database postgres needs DATABASE_URL');

const ADMIN = 'admin-bench-load-token';
const OPERATOR = 'operator-bench-load-token';
const xml = sequence('bench_load_task', [{ id: 'ask', xml: '<bpmn:userTask id="ask" />' }]);

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** User + system CPU of a process so far, in ms (Linux /proc; clock ticks are 100 Hz). */
function cpuMsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

interface Answer {
  ms: number;
  status: number;
  body: any;
}

function client(base: string, token: string) {
  return async (method: string, path: string, body?: unknown): Promise<Answer> => {
    const t0 = performance.now();
    try {
      const response = await fetch(base + path, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      return { ms: performance.now() - t0, status: response.status, body: text && response.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text };
    } catch (error) {
      // A refused or reset connection is an answer too: status 0.
      return { ms: performance.now() - t0, status: 0, body: String(error) };
    }
  };
}

/** Sends `count` requests at `rate` per second on a fixed schedule, never waiting for answers. */
async function openLoop(count: number, rate: number, send: (index: number) => Promise<Answer>): Promise<{ answers: Answer[]; offeredSeconds: number; lastAnswerSeconds: number }> {
  const started = performance.now();
  const pending: Array<Promise<Answer>> = [];
  let sent = 0;
  while (sent < count) {
    const due = Math.min(count, Math.floor(((performance.now() - started) / 1000) * rate) + 1);
    while (sent < due) pending.push(send(sent++));
    const nextAt = started + (sent / rate) * 1000;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, nextAt - performance.now())));
  }
  const offeredSeconds = (performance.now() - started) / 1000;
  const answers = await Promise.all(pending);
  return { answers, offeredSeconds, lastAnswerSeconds: (performance.now() - started) / 1000 };
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? 0;

function report(label: string, run: Awaited<ReturnType<typeof openLoop>>, cpuMs: number) {
  const sorted = run.answers.map((answer) => answer.ms).sort((a, b) => a - b);
  const refused = new Map<number, number>();
  for (const answer of run.answers) if (answer.status < 200 || answer.status > 299) refused.set(answer.status, (refused.get(answer.status) ?? 0) + 1);
  const ms = (value: number) => `${value.toFixed(1)} ms`.padStart(10);
  console.log(
    `${label.padEnd(22)} p50 ${ms(percentile(sorted, 50))}  p95 ${ms(percentile(sorted, 95))}  p99 ${ms(percentile(sorted, 99))}  max ${ms(sorted.at(-1) ?? 0)}` +
      `  | ${run.answers.length} sent in ${run.offeredSeconds.toFixed(1)} s, last answer at ${run.lastAnswerSeconds.toFixed(1)} s` +
      `, not 2xx: ${refused.size ? [...refused].map(([status, n]) => `${n}x${status}`).join(' ') : 'none'}` +
      `  | server cpu ${(cpuMs / run.answers.length).toFixed(2)} ms/request`,
  );
}

async function runOn(kind: 'pglite' | 'postgres'): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'regenflow-bench-load-'));
  const database = kind === 'postgres' ? await createTestDatabase() : undefined;
  const port = await freePort();
  let server: ChildProcess | undefined;
  try {
    const env: Record<string, string> = {
      REGENFLOW_DATA_DIR: dataDir,
      REGENFLOW_TOKENS: `admin:${ADMIN},operator:${OPERATOR}`,
      // startServerProcess raises the rate limit for tests: the bench keeps the default.
      REGENFLOW_RATE_LIMIT: '',
      ...(database?.url && { DATABASE_URL: database.url }),
    };
    if (kind === 'pglite') env.DATABASE_URL = '';
    server = await startServerProcess(env, port);
    const base = `http://127.0.0.1:${port}`;
    const admin = client(base, ADMIN);
    const operator = client(base, OPERATOR);
    const deployed = await admin('POST', '/api/deployments', { name: 'bench-load.bpmn', xml });
    if (deployed.status !== 201 && deployed.status !== 200) throw new Error(`deploy answered ${deployed.status}: ${JSON.stringify(deployed.body)}`);
    // Warm-up, closed loop, not counted: the first requests compile and fill caches.
    for (let i = 0; i < 50; i++) await operator('POST', '/api/process-instances', { processKey: 'bench_load_task' });
    const warm = await operator('GET', '/api/tasks?processKey=bench_load_task');
    for (const task of warm.body as Array<{ id: string }>) await operator('POST', `/api/tasks/${task.id}/complete`, { variables: {} });

    const count = Math.round(RATE * SECONDS);
    console.log(`\n${kind === 'pglite' ? 'PGlite (embedded default)' : `PostgreSQL (${new URL(database!.url!).host}, fresh database)`}: ${count} requests per phase at ${RATE}/s; load average ${loadavg().map((v) => v.toFixed(2)).join(' ')}`);
    let cpuBefore = cpuMsOf(server.pid!);
    const starts = await openLoop(count, RATE, () => operator('POST', '/api/process-instances', { processKey: 'bench_load_task' }));
    report('start', starts, cpuMsOf(server.pid!) - cpuBefore);

    const started = new Set(starts.answers.filter((answer) => answer.status === 201).map((answer) => answer.body.id as string));
    const listed = await operator('GET', '/api/tasks?processKey=bench_load_task');
    const taskIds = (listed.body as Array<{ id: string; instanceId: string }>)
      .filter((task) => started.has(task.instanceId))
      .map((task) => task.id);
    if (taskIds.length !== started.size) console.log(`  (${started.size} instances started, ${taskIds.length} of their tasks listed)`);
    cpuBefore = cpuMsOf(server.pid!);
    const completions = await openLoop(taskIds.length, RATE, (index) => operator('POST', `/api/tasks/${taskIds[index]}/complete`, { variables: { index } }));
    report('completion', completions, cpuMsOf(server.pid!) - cpuBefore);
    const notCompleted = completions.answers.filter((answer) => answer.status === 200 && answer.body.status !== 'completed').length;
    if (notCompleted) console.log(`  ${notCompleted} completions answered 200 without the instance completed`);
    console.log(`  load average after: ${loadavg().map((v) => v.toFixed(2)).join(' ')}`);
  } finally {
    if (server) await killServerProcess(server);
    await database?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

console.log(`regenflow bench:load: open loop, ${RATE} requests/s for ${SECONDS} s per phase, one operator token, default settings; node ${process.version}, ${availableParallelism()} cores`);
try {
  if (DATABASES !== 'postgres') await runOn('pglite');
  if (DATABASES !== 'pglite') await runOn('postgres');
} catch (error) {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exit(1);
}
