import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { ServiceTaskRegistry } from '../../service-tasks/registry.js';
import { sequence } from '../support/bpmn.js';
import { httpClient, TEST_TOKENS } from '../support/server-process.js';
import { createTestApp, eventually } from '../support/test-app.js';

/** What the browser UI adds to the API, over real HTTP: topics, the event stream, heatmap figures, the static app. */
describe('UI API', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let base: string;
  let call: ReturnType<typeof httpClient>;

  beforeAll(async () => {
    const registry = new ServiceTaskRegistry().register({
      topic: 'ui.echo',
      description: 'returns its input',
      input: z.object({}).passthrough(),
      output: z.object({}).passthrough(),
      mode: 'inline',
      handler: async (input) => input,
    });
    app = await createTestApp({ registry });
    base = `http://127.0.0.1:${await app.listen()}`;
    call = httpClient(base);
    const xml = sequence('ui_flow', [
      { id: 'echo', xml: '<bpmn:serviceTask id="echo" name="Echo" camunda:type="external" camunda:topic="ui.echo" />' },
      { id: 'remote', xml: '<bpmn:serviceTask id="remote" name="Remote" camunda:type="external" camunda:topic="ui.remote" />' },
      { id: 'approve', xml: '<bpmn:userTask id="approve" name="Approve" />' },
    ]);
    expect((await call('POST', '/api/deployments', { name: 'ui-flow.bpmn', xml })).status).toBe(201);
  });
  afterAll(async () => {
    await app.dispose();
  });

  it('when the topics are asked for, then built-in, deployed and waited-on topics come back once each with their sources', async () => {
    const { status, body } = await call('GET', '/api/topics');
    expect(status).toBe(200);
    expect(body).toEqual([
      { topic: 'ui.echo', description: 'returns its input', mode: 'inline', sources: ['built-in', 'deployed'] },
      { topic: 'ui.remote', description: null, mode: null, sources: ['deployed'] },
    ]);
    const worker = httpClient(base, TEST_TOKENS.worker);
    expect((await worker('GET', '/api/topics')).status).toBe(403);
  });

  it('when an instance runs, then the event stream (token in the header only) carries its events as they happen', async () => {
    const refused = await fetch(`${base}/api/events?access_token=${TEST_TOKENS.operator}`);
    expect(refused.status).toBe(401);
    const controller = new AbortController();
    const response = await fetch(`${base}/api/events`, { headers: { authorization: `Bearer ${TEST_TOKENS.operator}` }, signal: controller.signal });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let received = '';
    const reading = (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        received += value;
      }
    })().catch(() => undefined);
    await eventually(async () => received.includes(': connected'));

    const started = await call('POST', '/api/process-instances', { processKey: 'ui_flow', variables: {} });
    expect(started.status).toBe(201);
    await eventually(async () => received.includes('event: external-tasks.created'));
    const frames = received.split('\n\n').filter((frame) => frame.startsWith('event:'));
    expect(frames).toContain(`event: instance.started\ndata: ${JSON.stringify({ id: started.body.id, processKey: 'ui_flow' })}`);
    expect(frames).toContain('event: external-tasks.created\ndata: ["ui.remote"]');

    // A transition names its instance, so an open instance view refreshes for its own only.
    await app.engine.deploy([{ name: 'ui-moves.bpmn', xml: sequence('ui_moves', [{ id: 'work', xml: '<bpmn:serviceTask id="work" camunda:type="external" camunda:topic="ui.moves" />' }]) }]);
    const moving = await app.engine.start({ processKey: 'ui_moves' });
    const [task] = await app.engine.fetchAndLock({ workerId: 'ui-worker', maxTasks: 1, usePriority: false, topics: [{ topicName: 'ui.moves', lockDuration: 10_000 }] });
    await app.engine.completeExternalTask(task!.id, 'ui-worker', {});
    await eventually(async () => received.includes('event: transition.committed'));
    const committed = received.split('\n\n').find((frame) => frame.startsWith('event: transition.committed'))!;
    expect(JSON.parse(committed.split('data: ')[1]!)).toMatchObject({ instanceId: moving.id, parentInstanceId: null, processKey: 'ui_moves' });

    // A worker's last failed attempt raises an incident outside any transition: the stream says so.
    const failing = await app.engine.start({ processKey: 'ui_moves' });
    const [attempt] = await app.engine.fetchAndLock({ workerId: 'ui-worker', maxTasks: 1, usePriority: false, topics: [{ topicName: 'ui.moves', lockDuration: 10_000 }] });
    await app.engine.externalTaskFailure(attempt!.id, 'ui-worker', { errorMessage: 'down', retries: 0, retryTimeout: 0 });
    await eventually(async () => received.includes('event: incident.created'));
    const incident = received.split('\n\n').find((frame) => frame.startsWith('event: incident.created'))!;
    expect(JSON.parse(incident.split('data: ')[1]!)).toEqual({ instanceId: failing.id, processKey: 'ui_moves', activityId: 'work', type: 'failedExternalTask' });
    controller.abort();
    await reading;
  });

  it('when instances of a version ran, then its activity stats count runs, completions, durations and open incidents per activity', async () => {
    const definition = (await call('GET', '/api/process-definitions?key=ui_flow')).body[0];
    const second = await call('POST', '/api/process-instances', { processKey: 'ui_flow', variables: {} });
    const worker = httpClient(base, TEST_TOKENS.worker);
    const locked = await worker('POST', '/engine-rest/external-task/fetchAndLock', { workerId: 'ui-test', maxTasks: 1, topics: [{ topicName: 'ui.remote', lockDuration: 10_000 }] });
    expect(locked.body).toHaveLength(1);
    await worker('POST', `/engine-rest/external-task/${locked.body[0].id}/failure`, { workerId: 'ui-test', errorMessage: 'remote down', retries: 0, retryTimeout: 0 });
    await eventually(async () => (await call('GET', '/api/incidents?processKey=ui_flow')).body.length === 1);

    const { status, body } = await call('GET', `/api/process-definitions/${encodeURIComponent(definition.id)}/activity-stats`);
    expect(status).toBe(200);
    const byId = Object.fromEntries(body.map((entry: any) => [entry.activityId, entry]));
    expect(byId.start).toMatchObject({ name: null, started: 2, completed: 2 });
    expect(byId.echo).toMatchObject({ name: 'Echo', started: 2, completed: 2, openIncidents: 0 });
    expect(byId.echo.avgMs).toBeGreaterThanOrEqual(0);
    expect(byId.remote).toMatchObject({ name: 'Remote', started: 2, completed: 0, avgMs: null, openIncidents: 1 });
    expect(byId.approve).toBeUndefined();
    expect(second.status).toBe(201);

    expect((await call('GET', '/api/process-definitions/nope:1:x/activity-stats')).body).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('when the browser app is asked for, then it is served without a token under its own CSP, and a missing build is a 503 problem', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'regenflow-ui-'));
    const { createHttpApp } = await import('../../src/api/http-server.js');
    const { TokenRegistry } = await import('../../src/api/auth.js');
    const serve = async (modelerDir: string) => {
      const http = createHttpApp(app.engine, { tokens: new TokenRegistry([]), isReady: async () => true, modelerDir });
      const server = http.listen(0, '127.0.0.1');
      await new Promise((resolve) => server.once('listening', resolve));
      const address = server.address() as { port: number };
      return { url: `http://127.0.0.1:${address.port}`, close: () => new Promise((resolve) => server.close(resolve)) };
    };
    try {
      const empty = await serve(join(folder, 'missing'));
      const missing = await fetch(`${empty.url}/`);
      expect(missing.status).toBe(503);
      expect(await missing.json()).toMatchObject({ code: 'MODELER_NOT_BUILT' });
      await empty.close();

      await writeFile(join(folder, 'index.html'), '<!doctype html><title>regenflow</title>');
      await writeFile(join(folder, 'app.js'), 'export {};');
      const built = await serve(folder);
      const page = await fetch(`${built.url}/`);
      expect(page.status).toBe(200);
      const csp = page.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toContain('https:');
      expect((await fetch(`${built.url}/app.js`)).headers.get('content-type')).toMatch(/javascript/);
      expect((await fetch(`${built.url}/nothing.js`)).status).toBe(404);
      // The API keeps helmet's defaults and its token check.
      expect((await fetch(`${built.url}/api/topics`)).status).toBe(401);
      await built.close();
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });
});
