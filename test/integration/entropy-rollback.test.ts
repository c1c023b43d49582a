import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deployFolder } from '../../src/app.js';
import { STRATEGIES } from '../../service-tasks/entropy/strategies.js';
import { loadRollbackHooks } from '../../service-tasks/entropy/rollback-hooks.js';
import { sequence } from '../support/bpmn.js';
import { repositoryRoot } from '../support/server-process.js';
import { SpanSimulator, writeSpans } from '../support/span-simulator.js';
import { createTestApp, eventually } from '../support/test-app.js';

interface Received {
  path: string;
  headers: IncomingMessage['headers'];
  body: Record<string, any>;
}

/**
 * Rollback of systems other than regenflow: the operator's hooks file names a webhook per
 * system; `entropy.rollback` posts to it over real HTTP and reports rolledBack only on a 2xx.
 * The hooks here are a real HTTP server in the test: one that accepts, one that fails, one
 * that never answers.
 */
describe('entropy.rollback through declared rollback hooks', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let hookServer: Server;
  const received: Received[] = [];
  /** Simulated services a rollback through /ok really returns to their state before the fault (checked again by the cycle). */
  const rolledBackBy = new Map<string, SpanSimulator>();

  beforeAll(async () => {
    hookServer = createServer((req, res) => {
      let data = '';
      req.on('data', (chunk) => (data += chunk));
      req.on('end', () => {
        received.push({ path: req.url ?? '', headers: req.headers, body: JSON.parse(data || '{}') });
        const attempts = received.filter((request) => request.path === req.url && request.headers['idempotency-key'] === req.headers['idempotency-key']).length;
        if (req.url === '/ok') {
          rolledBackBy.get(received.at(-1)?.body.system)?.applyStrategy('rollback');
          res.writeHead(202).end();
        }
        else if (req.url === '/fail') res.writeHead(500, { 'content-type': 'text/plain' }).end('deploy pipeline locked');
        else if (req.url === '/flaky') res.writeHead(attempts < 3 ? 503 : 202).end();
        else if (req.url === '/huge') res.writeHead(502, { 'content-type': 'text/html' }).end('<html>'.padEnd(1_000_000, 'x'));
        // /slow: never answers
      });
    });
    await new Promise<void>((resolve) => hookServer.listen(0, '127.0.0.1', resolve));
    const port = (hookServer.address() as { port: number }).port;
    const folder = mkdtempSync(join(tmpdir(), 'regenflow-hooks-'));
    const file = join(folder, 'rollback-hooks.yaml');
    writeFileSync(
      file,
      [
        'hooks:',
        `  - { system: shop-ok, url: "http://127.0.0.1:${port}/ok", token: hook-secret }`,
        `  - { system: shop-process-ok, url: "http://127.0.0.1:${port}/ok" }`,
        `  - { system: shop-failing, url: "http://127.0.0.1:${port}/fail", token: raw-token, tokenHeader: X-Rollback-Token }`,
        `  - { system: shop-slow, url: "http://127.0.0.1:${port}/slow", timeoutMs: 300 }`,
        `  - { system: shop-flaky, url: "http://127.0.0.1:${port}/flaky" }`,
        `  - { system: shop-huge, url: "http://127.0.0.1:${port}/huge" }`,
      ].join('\n'),
    );
    app = await createTestApp({ builtIns: true, env: { REGENFLOW_WORKER_RETRY_MS: '100', REGENFLOW_ROLLBACK_HOOKS: file } });
    await app.listen();
    await deployFolder(app, join(repositoryRoot, 'processes'));
    // circuit breaker (opens the cycle) → snapshot → rollback: the topics as a DMEDI cycle runs them
    await app.engine.deploy([
      {
        name: 'rollback-only.bpmn',
        xml: sequence('rollback_only', [
          { id: 'breaker', xml: '<bpmn:serviceTask id="breaker" camunda:type="external" camunda:topic="entropy.circuit-breaker" />' },
          { id: 'snapshot', xml: '<bpmn:serviceTask id="snapshot" camunda:type="external" camunda:topic="entropy.snapshot" />' },
          { id: 'rollback', xml: '<bpmn:serviceTask id="rollback" camunda:type="external" camunda:topic="entropy.rollback" />' },
        ]),
      },
    ]);
  }, 180_000);
  afterAll(async () => {
    await app.dispose();
    hookServer.closeAllConnections();
    await new Promise((resolve) => hookServer.close(resolve));
  });

  async function rollBack(system: string, extra: Record<string, unknown> = {}) {
    const instance = await app.engine.start({ processKey: 'rollback_only', variables: { system, strategyId: 'cache-refresh', measurementId: '41', entropy: 0.45, entropyAfter: 0.5, ...extra } });
    const ended = await eventually(async () => {
      const row = await app.engine.getInstance(instance.id);
      return row.status !== 'active' && row;
    }, 20_000);
    const cycle = await app.database.knex('regeneration_cycles').where({ instance_id: instance.id }).first();
    return { instance, ended, variables: ended.variables as Record<string, any>, cycle };
  }

  it('when the system has a hook that answers 2xx, then it gets the cycle, snapshot and an idempotency key, and the cycle is rolled back', async () => {
    const { instance, variables, cycle } = await rollBack('shop-ok');
    expect(variables).toMatchObject({ rolledBack: true, rollbackVersion: null });
    expect(variables.rollbackReason).toContain('answered 202');
    const call = received.find((request) => request.body.cycleInstanceId === instance.id)!;
    expect(call.path).toBe('/ok');
    expect(call.headers.authorization).toBe('Bearer hook-secret');
    expect(call.headers['idempotency-key']).toMatch(new RegExp(`^${instance.id}/`));
    expect(call.headers['content-type']).toBe('application/json');
    expect(call.body).toMatchObject({ system: 'shop-ok', strategyId: 'cache-refresh', entropyBefore: 0.45, entropyAfter: 0.5, snapshot: { measurementId: '41', entropy: 0.45, version: null } });
    expect(cycle.status).toBe('rolled-back');
    expect(cycle.rollback).toMatchObject({ rolledBack: true });
  });

  it('when the hook answers 500, then rolledBack is false with the answer as reason, and the cycle says the rollback failed', async () => {
    const { instance, variables, cycle } = await rollBack('shop-failing');
    expect(variables.rolledBack).toBe(false);
    expect(variables.rollbackReason).toMatch(/answered 500: deploy pipeline locked \(after 3 attempts\)/);
    expect(received.filter((request) => request.body.cycleInstanceId === instance.id)).toHaveLength(3);
    const call = received.find((request) => request.body.cycleInstanceId === instance.id)!;
    expect(call.headers['x-rollback-token']).toBe('raw-token');
    expect(call.headers.authorization).toBeUndefined();
    expect(cycle.status).toBe('rollback-failed');
    expect(cycle.rollback).toMatchObject({ rolledBack: false, reason: variables.rollbackReason });
  });

  it('when the hook answers 503 twice and then 2xx, then the rollback is tried again with the same idempotency key and succeeds', async () => {
    const { instance, variables, cycle } = await rollBack('shop-flaky');
    const calls = received.filter((request) => request.body.cycleInstanceId === instance.id);
    expect(calls).toHaveLength(3);
    expect(new Set(calls.map((call) => call.headers['idempotency-key'])).size).toBe(1);
    expect(variables).toMatchObject({ rolledBack: true });
    expect(cycle.status).toBe('rolled-back');
  });

  it('when the hook answers with a megabyte of body, then the reason in the variables and the cycle record keeps 500 characters of it', async () => {
    const { variables, cycle } = await rollBack('shop-huge');
    expect(variables.rolledBack).toBe(false);
    expect(variables.rollbackReason).toMatch(/answered 502: <html>x+…/);
    expect(variables.rollbackReason.length).toBeLessThan(700);
    expect(String(cycle.rollback.reason).length).toBeLessThan(700);
  });

  it('when the hook does not answer within its timeout, then rolledBack is false and the reason says so', async () => {
    const { variables, cycle } = await rollBack('shop-slow');
    expect(variables.rolledBack).toBe(false);
    expect(variables.rollbackReason).toContain('did not answer within 300 ms');
    expect(cycle.status).toBe('rollback-failed');
  });

  it('when no hook is declared for the system, then nothing is called, rolledBack is false and the reason names the setting', async () => {
    const before = received.length;
    // A hook URL in the process variables is not a way to choose where a rollback goes.
    const hookUrl = received[0] ? `http://${received[0].headers.host}/ok` : 'http://127.0.0.1:9/ok';
    const { variables, cycle } = await rollBack('shop-unknown', { url: hookUrl, rollbackHook: { url: hookUrl }, rollbackHooks: [{ system: 'shop-unknown', url: hookUrl }] });
    expect(received.length).toBe(before);
    expect(variables.rolledBack).toBe(false);
    expect(variables.rollbackReason).toContain('no rollback hook is configured for shop-unknown');
    expect(cycle.status).toBe('rollback-failed');
  });

  it('when the hooks file is wrong or missing, then loading it (at server start) fails naming the setting', () => {
    const folder = mkdtempSync(join(tmpdir(), 'regenflow-hooks-'));
    const file = join(folder, 'bad.yaml');
    writeFileSync(file, 'hooks:\n  - { system: a, url: "ftp://example.org/x" }\n');
    expect(() => loadRollbackHooks(file)).toThrow(/REGENFLOW_ROLLBACK_HOOKS.*url/);
    expect(() => loadRollbackHooks(join(folder, 'missing.yaml'))).toThrow(/cannot read/);
    const withCredentials = join(folder, 'credentials.yaml');
    writeFileSync(withCredentials, 'hooks:\n  - { system: a, url: "https://deployer:s3cret@deploy.internal/rollback" }\n');
    expect(() => loadRollbackHooks(withCredentials)).toThrow(/REGENFLOW_ROLLBACK_HOOKS.*url: must not carry credentials/);
  });

  describe('in the shipped dmedi-regeneration process, when the strategy made things worse', () => {
    const regenTopics = [...new Set(STRATEGIES.flatMap((strategy) => strategy.steps.map((step) => step.topic)).filter((topic) => topic.startsWith('regen.')))];

    /**
     * The systems' agent: does every regen.* step, and the strategy backfires: from its first
     * step on, every request of that system fails and runs six times slower.
     */
    function serveAgent(simulators: Map<string, SpanSimulator>): () => void {
      let stopped = false;
      const worsened = new Set<string>();
      void (async () => {
        while (!stopped) {
          const tasks = await app.engine.fetchAndLock({ workerId: 'shop-agent', maxTasks: 5, usePriority: false, topics: regenTopics.map((topicName) => ({ topicName, lockDuration: 30_000 })) });
          for (const task of tasks) {
            const system = String(task.variables.system);
            const simulator = simulators.get(system);
            if (simulator && !worsened.has(system)) {
              worsened.add(system);
              simulator.inject({ kind: 'error-burst', at: new Date(), magnitude: 1 }).inject({ kind: 'latency-shift', at: new Date(), magnitude: 6 });
            }
            await app.engine.completeExternalTask(task.id, 'shop-agent', {});
          }
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      })();
      return () => {
        stopped = true;
      };
    }

    /** A shop degraded for the last 40 s (half the requests fail, twice as slow, renamed routes): entropy MEDIUM, above the default threshold. */
    async function degradedShop(system: string, seed: number): Promise<{ simulator: SpanSimulator; stop: () => Promise<void> }> {
      const now = Date.now();
      const simulator = new SpanSimulator({ system, seed, requestsPerSecond: 10 });
      const since = new Date(now - 40_000);
      simulator.inject({ kind: 'error-burst', at: since, magnitude: 0.5 }).inject({ kind: 'latency-shift', at: since, magnitude: 2 }).inject({ kind: 'schema-drift', at: since });
      await writeSpans(app.database.knex, simulator.generate(new Date(now - 300_000), new Date(now)));
      return { simulator, stop: simulator.live(app.database.knex, new Date(now)) };
    }

    /**
     * The default threshold; the verify window lies wholly after the strategy ran. The settle budget leaves the check
     * after a rollback the 30 s of clean traffic a finding needs before it is called gone (MIN_RECOVERED_SECONDS).
     */
    async function cycle(system: string) {
      const instance = await app.engine.start({
        processKey: 'dmedi-regeneration',
        variables: { system, windowSeconds: 30, baselineSeconds: 270, verifyWindowSeconds: 3, settleDuration: 'PT90S', injectedFailureRate: 0, minSimulatedSuccess: 0 },
      });
      return instance.id;
    }
    const ends = (instanceId: string) => app.database.knex('history').where({ instance_id: instanceId, event: 'end' }).pluck('activity_id');

    it('then with a working hook it ends "Rolled back" once the system is seen healthy again, and without one a person is asked to roll back by hand', async () => {
      const shops = [await degradedShop('shop-process-ok', 11), await degradedShop('shop-process-unhooked', 12)];
      rolledBackBy.set('shop-process-ok', shops[0]!.simulator);
      const stopAgent = serveAgent(new Map([['shop-process-ok', shops[0]!.simulator], ['shop-process-unhooked', shops[1]!.simulator]]));
      try {
        const hooked = await cycle('shop-process-ok');
        const unhooked = await cycle('shop-process-unhooked');

        const hookedEnd = await eventually(async () => {
          const row = await app.engine.getInstance(hooked);
          return row.status !== 'active' && row;
        }, 150_000);
        expect(hookedEnd.status).toBe('completed');
        // The cycle acted on a real degradation, and after the strategy the system was worse, above the threshold.
        const judged = hookedEnd.variables as Record<string, any>;
        expect(judged.entropy).toBeGreaterThanOrEqual(0.3);
        // (both may sit at the top of the scale: half the requests failing is CRITICAL already)
        expect(judged.entropyAfter).toBeGreaterThanOrEqual(judged.entropy);
        expect(judged).toMatchObject({ recovered: false, verdict: 'not-recovered', rolledBack: true, healthyAfterRollback: true, verdictAfterRollback: 'recovered' });
        expect(await ends(hooked)).toEqual(expect.arrayContaining(['rollback', 'learn_failure', 'rollback_verify', 'end_rolled_back']));
        expect(received.some((request) => request.body.cycleInstanceId === hooked && request.body.system === 'shop-process-ok')).toBe(true);

        // Without a hook: the process waits at the user task and does not claim a rollback.
        const [task] = await eventually(async () => {
          const tasks = await app.database.knex('user_tasks').where({ instance_id: unhooked });
          return tasks.length > 0 && tasks;
        }, 60_000);
        expect(task).toMatchObject({ activity_id: 'rollback_by_hand' });
        const waiting = await app.engine.getInstance(unhooked);
        expect(waiting.status).toBe('active');
        expect(waiting.variables).toMatchObject({ rolledBack: false, recovered: false });
        expect(await ends(unhooked)).not.toContain('end_rolled_back');
        expect((await app.database.knex('regeneration_cycles').where({ instance_id: unhooked }).first()).status).toBe('rollback-failed');
        expect(await app.database.knex('strategy_outcomes').where({ instance_id: unhooked }).first()).toMatchObject({ success: false });

        await app.engine.completeUserTask(task.id, { rollbackNote: 'redeployed orders 1.4.2 by hand' });
        await eventually(async () => (await app.engine.getInstance(unhooked)).status === 'completed');
        expect(await ends(unhooked)).toEqual(expect.arrayContaining(['rollback_by_hand', 'record_manual_rollback', 'end_rolled_back_by_hand']));
        const recorded = await app.database.knex('regeneration_cycles').where({ instance_id: unhooked }).first();
        expect(recorded.status).toBe('rolled-back-by-hand');
        expect(recorded.rollback).toMatchObject({ rolledBack: true, byHand: true, note: 'redeployed orders 1.4.2 by hand', automatic: { rolledBack: false, reason: expect.stringContaining('no rollback hook is configured') } });
      } finally {
        stopAgent();
        for (const shop of shops) await shop.stop();
      }
    }, 240_000);

    it('then a cycle asked for with a threshold below the LOW/MEDIUM boundary does not run: no strategy, no rollback hook', async () => {
      // Given a healthy shop with a declared hook
      const now = Date.now();
      await writeSpans(app.database.knex, new SpanSimulator({ system: 'shop-ok', seed: 13, requestsPerSecond: 5 }).generate(new Date(now - 300_000), new Date(now)));
      const before = received.length;
      // When a cycle is started with threshold 0 (every entropy, noise included, would need "regeneration")
      const instance = await app.engine.start({ processKey: 'dmedi-regeneration', variables: { system: 'shop-ok', threshold: 0, windowSeconds: 30, baselineSeconds: 270 } });
      // Then it stops at an incident naming the floor, before measuring, and nothing is called
      const [incident] = await eventually(async () => {
        const rows = await app.database.knex('incidents').where({ instance_id: instance.id });
        return rows.length > 0 && rows;
      }, 30_000);
      expect(JSON.stringify(incident)).toMatch(/threshold/);
      expect(await ends(instance.id)).not.toContain('measure_entropy');
      expect(received.length).toBe(before);
    }, 60_000);
  });
});
