import { TEST_TOKENS } from '../support/server-process.js';
import { createTestApp } from '../support/test-app.js';

describe('rate limit', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  beforeAll(async () => {
    app = await createTestApp({ env: { REGENFLOW_RATE_LIMIT: '6' } });
  }, 60_000);
  afterAll(async () => {
    await app.dispose();
  });

  it('when a client varies the spelling of its Authorization header, then it still shares one budget', async () => {
    {
      const base = `http://127.0.0.1:${await app.listen()}`;
      const spellings = ['Bearer', 'bearer', 'BEARER', 'Bearer ', 'bEaReR', 'Bearer  ', 'bearer\t', 'BeArEr   '];
      const statuses: number[] = [];
      for (const scheme of spellings) {
        const response = await fetch(`${base}/api/process-definitions`, { headers: { authorization: `${scheme} ${TEST_TOKENS.admin}` } });
        statuses.push(response.status);
        if (response.status === 429) expect(response.headers.get('retry-after')).toMatch(/^\d+$/);
        await response.arrayBuffer();
      }
      expect(statuses.slice(0, 6)).toEqual([200, 200, 200, 200, 200, 200]);
      expect(statuses.slice(6)).toEqual([429, 429]);
      // Another principal has its own budget.
      expect((await fetch(`${base}/api/process-definitions`, { headers: { authorization: `Bearer ${TEST_TOKENS.owner}` } })).status).toBe(200);
    }
  });
});
