import { randomUUID } from 'node:crypto';
import { createMonitoredSystemStore } from '../../src/store/monitored-systems.js';
import { httpClient, TEST_TOKENS } from '../support/server-process.js';
import { createTestApp } from '../support/test-app.js';

describe('monitored systems registry', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let operator: ReturnType<typeof httpClient>;
  let worker: ReturnType<typeof httpClient>;
  let owner: ReturnType<typeof httpClient>;

  beforeAll(async () => {
    app = await createTestApp();
    const base = `http://127.0.0.1:${await app.listen()}`;
    operator = httpClient(base, TEST_TOKENS.operator);
    worker = httpClient(base, TEST_TOKENS.worker);
    owner = httpClient(base, TEST_TOKENS.owner);
  });
  afterAll(async () => {
    await app?.dispose();
  });

  it('when the same handoff registers twice, then nothing changes; when a later release hands over, then it moves the system on', async () => {
    // Given a system handed over by one feature-lifecycle instance
    const store = createMonitoredSystemStore(app.database.knex);
    const first = randomUUID();
    const registered = await store.register({ serviceName: 'orders', feature: 'checkout', commit: 'abc', instanceId: first });

    // When the handoff runs again (at least once) and then a later release hands over
    await new Promise((resolve) => setTimeout(resolve, 20));
    const again = await store.register({ serviceName: 'orders', feature: 'checkout', commit: 'abc', instanceId: first });
    const later = randomUUID();
    const moved = await store.register({ serviceName: 'orders', feature: 'refunds', commit: 'def', instanceId: later });

    // Then the retry left the row alone, the release moved it on, and it is listed once
    expect(again).toEqual(registered);
    expect(moved).toMatchObject({ feature: 'refunds', commit: 'def', instance_id: later });
    expect(new Date(moved.since).getTime()).toBeGreaterThan(new Date(registered.since).getTime());
    expect(new Date(moved.registered_at)).toEqual(new Date(registered.registered_at));
    const listed = await operator('GET', '/api/entropy/monitored');
    expect(listed.body).toEqual([expect.objectContaining({ serviceName: 'orders', feature: 'refunds', commit: 'def', instanceId: later })]);
  });

  it('when the query is malformed or the caller is not an operator, then the answer is a problem', async () => {
    const bad = await operator('GET', '/api/entropy/monitored?offset=-1&extra=1');
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ status: 400 });
    expect((await worker('GET', '/api/entropy/monitored')).status).toBe(403);
  });

  it('when an owner unregisters a system, then it is no longer listed and the removal is audited; an operator may not, and an unknown name is a 404', async () => {
    // Given a retired service that a release once handed over
    const store = createMonitoredSystemStore(app.database.knex);
    await store.register({ serviceName: 'legacy/billing', feature: 'billing', commit: null, instanceId: randomUUID() });

    // When an operator tries, then an owner does
    const refused = await operator('DELETE', `/api/entropy/monitored/${encodeURIComponent('legacy/billing')}`);
    const removed = await owner('DELETE', `/api/entropy/monitored/${encodeURIComponent('legacy/billing')}`);

    // Then only the owner's removal happened, in one commit with its audit entry
    expect(refused.status).toBe(403);
    expect(removed.status).toBe(204);
    expect(await store.names()).not.toContain('legacy/billing');
    const audit = await app.database.knex('audit_entries').where({ action: 'monitored-system.unregister', target: 'legacy/billing' });
    expect(audit).toEqual([expect.objectContaining({ result: 'ok', actor: expect.stringMatching(/^owner:/) })]);
    const again = await owner('DELETE', `/api/entropy/monitored/${encodeURIComponent('legacy/billing')}`);
    expect(again.status).toBe(404);
    expect(again.body).toMatchObject({ status: 404 });
    expect((await owner('DELETE', '/api/entropy/monitored/%20bad')).status).toBe(400);
  });
});
