import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { httpClient, repositoryRoot, TEST_TOKENS } from '../support/server-process.js';
import { createTestApp } from '../support/test-app.js';

/** The instance list answers what an operator scans for: incidents, where each ended and how, how long it took. */
describe('instance list', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let base: string;
  const call = (...args: Parameters<ReturnType<typeof httpClient>>) => httpClient(base, TEST_TOKENS.operator)(...args);
  const worker = (...args: Parameters<ReturnType<typeof httpClient>>) => httpClient(base, TEST_TOKENS.worker)(...args);
  const lint = async () => (await worker('POST', '/engine-rest/external-task/fetchAndLock', { workerId: 'w', maxTasks: 1, topics: [{ topicName: 'e2e.lint', lockDuration: 60_000 }] })).body[0];

  beforeAll(async () => {
    app = await createTestApp();
    base = `http://127.0.0.1:${await app.listen()}`;
    const xml = await readFile(join(repositoryRoot, 'test/fixtures/e2e/ops-review.bpmn'), 'utf8');
    expect((await httpClient(base)('POST', '/api/deployments', { name: 'ops-review.bpmn', xml })).status).toBe(201);
  });
  afterAll(async () => {
    await app.dispose();
  });

  it('when instances end on different end events or stop on an incident, then each entry says so and the incident filter finds them', async () => {
    const start = async (ticket: string) => (await call('POST', '/api/process-instances', { processKey: 'ops-review', businessKey: ticket, variables: { ticket } })).body.id as string;
    const shipped = await start('A');
    await worker('POST', `/engine-rest/external-task/${(await lint()).id}/complete`, { workerId: 'w', variables: { passed: { value: true, type: 'Boolean' } } });
    const failedCheck = await start('B');
    await worker('POST', `/engine-rest/external-task/${(await lint()).id}/complete`, { workerId: 'w', variables: { passed: { value: false, type: 'Boolean' } } });
    const stuck = await start('C');
    await worker('POST', `/engine-rest/external-task/${(await lint()).id}/failure`, { workerId: 'w', errorMessage: 'boom', retries: 0, retryTimeout: 0 });

    const list = await call('GET', '/api/process-instances?processKey=ops-review');
    const byId = new Map<string, any>(list.body.map((entry: any) => [entry.id, entry]));
    expect(byId.get(shipped)).toMatchObject({ status: 'completed', processName: 'Ops review', endActivityId: 'shipped', endActivityName: 'Shipped', endOutcome: 'success', openIncidents: 0 });
    expect(byId.get(shipped).durationMs).toBeGreaterThanOrEqual(0);
    expect(byId.get(failedCheck)).toMatchObject({ status: 'completed', endActivityId: 'check_failed', endOutcome: 'failure' });
    expect(byId.get(stuck)).toMatchObject({ status: 'active', openIncidents: 1, endActivityId: null, endOutcome: null, durationMs: null });

    const withIncidents = await call('GET', '/api/process-instances?processKey=ops-review&incidents=open');
    expect(withIncidents.body.map((entry: any) => entry.id)).toEqual([stuck]);
    const without = await call('GET', '/api/process-instances?processKey=ops-review&incidents=none');
    expect(without.body.map((entry: any) => entry.id).sort()).toEqual([shipped, failedCheck].sort());
    expect((await call('GET', '/api/process-instances?incidents=some')).status).toBe(400);
  });
});
