import { sequence } from '../support/bpmn.js';
import { TEST_TOKENS } from '../support/server-process.js';
import { createTestApp } from '../support/test-app.js';

describe('load shedding', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  beforeAll(async () => {
    app = await createTestApp({ env: { REGENFLOW_MAX_IN_FLIGHT: '2' } });
  }, 60_000);
  afterAll(async () => {
    await app.dispose();
  });

  it('when more requests arrive than the server takes in flight, then the excess gets 503 with Retry-After at once and probes still answer', async () => {
    {
      const base = `http://127.0.0.1:${await app.listen()}`;
      // Deploys are slow enough (analysis in a worker, one at a time) to overlap.
      const deploy = (index: number) =>
        fetch(`${base}/api/deployments?name=d${index}.bpmn`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TEST_TOKENS.admin}`, 'content-type': 'application/xml' },
          body: sequence(`shed_${index}`, [{ id: 'wait', xml: '<bpmn:userTask id="wait" />' }]),
        });
      const pending = Array.from({ length: 12 }, (_, index) => deploy(index));
      const health = await fetch(`${base}/healthz`);
      expect(health.status).toBe(200);
      const responses = await Promise.all(pending);
      const shed = responses.filter((response) => response.status === 503);
      expect(shed.length).toBeGreaterThan(0);
      expect(shed.every((response) => /^\d+$/.test(response.headers.get('retry-after') ?? ''))).toBe(true);
      expect(responses.every((response) => response.status === 201 || response.status === 503)).toBe(true);
      await Promise.all(responses.map((response) => response.arrayBuffer()));
    }
  });
});
