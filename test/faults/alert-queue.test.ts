import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { httpClient, killServerProcess, repositoryRoot, startServerProcess, TEST_TOKENS } from '../support/server-process.js';
import { createTestDatabase, eventually } from '../support/test-app.js';

/**
 * Given a server process that answers alert webhooks as soon as the alerts are stored, when a
 * burst of alerts (new ones and repeats) arrives and the node is killed -9 right after
 * answering, then a node started on the same data starts exactly one incident per alert from
 * the durable queue: nothing answered is lost, nothing is started twice, repeats stay repeats.
 * On PGlite and (with DATABASE_URL) on PostgreSQL.
 */
const ALERTS = 12;
const SENDERS = 4;
const ANSWER_BOUND_MS = 15_000;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const notification = (index: number) => ({
  version: '4',
  status: 'firing',
  receiver: 'regenflow',
  groupLabels: { alertname: 'QueueBurst' },
  commonLabels: {},
  commonAnnotations: {},
  externalURL: 'http://alertmanager:9093',
  alerts: [
    {
      status: 'firing',
      labels: { alertname: 'QueueBurst', service: `shop-${index % 5}`, instance: `app-${index}:8080`, severity: 'warning' },
      annotations: { summary: 'burst' },
      startsAt: '2026-12-07T05:00:00.000Z',
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: 'http://prometheus:9090/graph',
      fingerprint: `burst${String(index).padStart(11, '0')}`,
    },
  ],
});

describe(`alert queue across a kill -9 on ${process.env.DATABASE_URL ? 'PostgreSQL' : 'PGlite'}`, () => {
  let dataDir: string;
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let child: ChildProcess | undefined;

  const start = async () => {
    const port = await freePort();
    child = await startServerProcess(
      {
        REGENFLOW_DATA_DIR: dataDir,
        REGENFLOW_PROCESSES_DIR: join(dataDir, 'no-processes'),
        // A dead node's queue rows are taken over after this.
        REGENFLOW_ALERT_LEASE_MS: '3000',
        ...(database.url ? { DATABASE_URL: database.url } : {}),
      },
      port,
    );
    return `http://127.0.0.1:${port}`;
  };

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'regenflow-alert-queue-'));
    database = await createTestDatabase();
  });

  afterAll(async () => {
    if (child) await killServerProcess(child);
    await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('when the node dies right after answering a burst of alerts, then the next node starts one incident per alert and no more', async () => {
    const first = await start();
    const admin = httpClient(first);
    for (const file of ['incident-response.bpmn', 'incident-automation-level.dmn']) {
      const deployed = await admin('POST', '/api/deployments', { name: file, xml: readFileSync(join(repositoryRoot, 'processes', file), 'utf8') });
      expect(deployed.status).toBe(201);
    }

    // When: every alert twice (the repeat a duplicate), from a few concurrent senders.
    const sender = httpClient(first, TEST_TOKENS.alert);
    const answers: Array<{ index: number; status: number; ms: number; action: string }> = [];
    await Promise.all(
      Array.from({ length: SENDERS }, async (_, lane) => {
        for (let index = lane; index < ALERTS * 2; index += SENDERS) {
          const started = Date.now();
          const answer = await sender('POST', '/api/alerts/alertmanager', notification(index % ALERTS));
          answers.push({ index: index % ALERTS, status: answer.status, ms: Date.now() - started, action: answer.body?.results?.[0]?.action });
        }
      }),
    );
    await killServerProcess(child!);

    // Every notification was answered within the bound, stored: queued, or a repeat of a stored one.
    expect(answers.filter((answer) => answer.status >= 300)).toEqual([]);
    expect(Math.max(...answers.map((answer) => answer.ms))).toBeLessThan(ANSWER_BOUND_MS);
    for (let index = 0; index < ALERTS; index++) {
      const actions = answers.filter((answer) => answer.index === index).map((answer) => answer.action);
      expect(actions.filter((action) => action !== 'duplicate')).toHaveLength(1);
    }

    // Then a new node on the same data works the rest of the queue (the dead node's rows once its lease ran out).
    const second = await start();
    const operator = httpClient(second, TEST_TOKENS.operator);
    const stored = await eventually(async () => {
      const rows = (await operator('GET', '/api/alerts?limit=1000')).body as Array<{ fingerprint: string; action: string; instanceId: string | null }>;
      return rows.length === ALERTS && rows.every((row) => row.action === 'started') ? rows : undefined;
    }, 120_000);
    expect(new Set(stored.map((row) => row.fingerprint)).size).toBe(ALERTS);
    const instances = (await operator('GET', '/api/process-instances?processKey=incident-response&limit=1000')).body as Array<{ id: string; businessKey: string }>;
    expect(instances).toHaveLength(ALERTS);
    expect(new Set(instances.map((instance) => instance.id))).toEqual(new Set(stored.map((row) => row.instanceId)));
  }, 300_000);
});
