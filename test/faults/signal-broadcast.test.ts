import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import knexFactory from 'knex';
import { bpmn } from '../support/bpmn.js';
import { httpClient, killServerProcess, startServerProcess, TEST_TOKENS } from '../support/server-process.js';
import { createTestDatabase, eventually } from '../support/test-app.js';

/**
 * Given instances that wait twice for one signal (a second delivery would move them past the
 * second catch) and a signal start event, when the node is killed -9 in the middle of a
 * broadcast, then the broadcast is finished after the restart (by the poller, once the dead
 * node's lease ran out) and every receiver got it exactly once; the retry of the request with
 * the same Idempotency-Key answers the whole broadcast's counts and delivers nothing again.
 * On PGlite and (with DATABASE_URL) on PostgreSQL.
 */
const WAITING = 40;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const signal = '<bpmn:signal id="sig_go" name="go" />';
const waitsTwice = bpmn(
  'sig_wait',
  `<bpmn:startEvent id="start" />
   <bpmn:intermediateCatchEvent id="first"><bpmn:signalEventDefinition signalRef="sig_go" /></bpmn:intermediateCatchEvent>
   <bpmn:intermediateCatchEvent id="second"><bpmn:signalEventDefinition signalRef="sig_go" /></bpmn:intermediateCatchEvent>
   <bpmn:endEvent id="end" />
   <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="first" />
   <bpmn:sequenceFlow id="f2" sourceRef="first" targetRef="second" />
   <bpmn:sequenceFlow id="f3" sourceRef="second" targetRef="end" />`,
  signal,
);
const startsOnSignal = bpmn(
  'sig_start',
  `<bpmn:startEvent id="start"><bpmn:signalEventDefinition signalRef="sig_go" /></bpmn:startEvent>
   <bpmn:userTask id="handle" />
   <bpmn:endEvent id="end" />
   <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="handle" />
   <bpmn:sequenceFlow id="f2" sourceRef="handle" targetRef="end" />`,
  signal,
);

describe(`a signal broadcast cut by kill -9 on ${process.env.DATABASE_URL ? 'PostgreSQL' : 'PGlite'}`, () => {
  let dataDir: string;
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let child: ChildProcess | undefined;

  const start = async () => {
    const port = await freePort();
    child = await startServerProcess(
      { REGENFLOW_DATA_DIR: dataDir, REGENFLOW_PROCESSES_DIR: join(dataDir, 'no-processes'), ...(database.url ? { DATABASE_URL: database.url } : {}) },
      port,
    );
    return `http://127.0.0.1:${port}`;
  };

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'regenflow-signal-'));
    database = await createTestDatabase();
  });

  afterAll(async () => {
    if (child) await killServerProcess(child);
    await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('when the node dies mid-broadcast, then after the restart every receiver has the signal exactly once', async () => {
    const first = await start();
    const admin = httpClient(first);
    for (const [name, xml] of [['sig-wait.bpmn', waitsTwice], ['sig-start.bpmn', startsOnSignal]]) {
      expect((await admin('POST', '/api/deployments', { name, xml })).status).toBe(201);
    }
    const ids: string[] = [];
    let asked = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (asked++ < WAITING) {
          const started = await admin('POST', '/api/process-instances', { processKey: 'sig_wait' });
          expect(started.status).toBe(201);
          ids.push(started.body.id);
        }
      }),
    );
    ids.sort(); // the broadcast delivers in instance-id order: the first id is reached first

    const broadcast = () =>
      fetch(`${first}/api/signals`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_TOKENS.admin}`, 'content-type': 'application/json', 'idempotency-key': 'go-once' },
        body: JSON.stringify({ name: 'go', variables: { wave: 1 } }),
      }).catch(() => null);
    void broadcast();
    // As soon as the first receiver has it, the node dies.
    await eventually(async () => ((await admin('GET', `/api/process-instances/${ids[0]}`)).body.activeActivities as string[]).includes('second'), 60_000);
    await killServerProcess(child!);

    if (database.url) {
      // The broadcast was cut: some receivers still wait for their delivery.
      const knex = knexFactory({ client: 'pg', connection: database.url });
      try {
        const [row] = await knex('signal_deliveries').count({ pending: '*' }).whereNull('delivered_at');
        expect(Number(row!.pending)).toBeGreaterThan(0);
      } finally {
        await knex.destroy();
      }
    }

    // The next node finishes it by itself once the dead node's lease ran out.
    const second = await start();
    const operator = httpClient(second, TEST_TOKENS.operator);
    const at = async (id: string) => (await operator('GET', `/api/process-instances/${id}`)).body as { status: string; activeActivities: string[] };
    await eventually(async () => (await at(ids[ids.length - 1]!)).activeActivities.includes('second'), 120_000);
    await eventually(async () => (await operator('GET', '/api/process-instances?processKey=sig_start')).body.length === 1, 60_000);

    // The client's retry gets the whole broadcast's counts; nothing is delivered again.
    const keyed = await fetch(`${second}/api/signals`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_TOKENS.admin}`, 'content-type': 'application/json', 'idempotency-key': 'go-once' },
      body: JSON.stringify({ name: 'go', variables: { wave: 1 } }),
    });
    expect(keyed.status).toBe(200);
    expect(await keyed.json()).toEqual({ delivered: WAITING, started: 1 });
    for (const id of ids) {
      const instance = await at(id);
      expect(instance).toMatchObject({ status: 'active', activeActivities: ['second'] });
    }
    expect((await operator('GET', '/api/process-instances?processKey=sig_start')).body).toHaveLength(1);
  }, 300_000);
});
