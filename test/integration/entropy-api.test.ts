import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repositoryRoot, TEST_TOKENS } from '../support/server-process.js';
import { SpanSimulator, writeSpans } from '../support/span-simulator.js';
import { createTestApp } from '../support/test-app.js';

/** The entropy dashboard's REST contract, over real HTTP. */
describe('entropy API', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let base: string;

  const call = async (path: string, init: RequestInit & { token?: string } = {}) => {
    const response = await fetch(`${base}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${init.token ?? TEST_TOKENS.owner}`, ...(init.body ? { 'content-type': 'application/json' } : {}) },
    });
    return { status: response.status, type: response.headers.get('content-type') ?? '', body: (await response.json()) as any };
  };

  beforeAll(async () => {
    app = await createTestApp({ builtIns: true });
    base = `http://127.0.0.1:${await app.listen()}`;
    // Given: ten healthy minutes of checkout traffic, the last minute failing half the time.
    const now = Date.now();
    const simulator = new SpanSimulator({ system: 'checkout', seed: 5, requestsPerSecond: 5 });
    simulator.inject({ kind: 'error-burst', at: new Date(now - 60_000), magnitude: 0.5 });
    await writeSpans(app.database.knex, simulator.generate(new Date(now - 600_000), new Date(now)));
  });
  afterAll(async () => {
    await app.dispose();
  });

  it('when an operator asks to measure a system, then the measurement is stored and listed newest first', async () => {
    const measured = await call('/api/entropy/measure', { method: 'POST', body: JSON.stringify({ system: 'checkout', windowSeconds: 60, baselineSeconds: 540 }), token: TEST_TOKENS.operator });
    expect(measured.status).toBe(201);
    expect(measured.body).toMatchObject({ system: 'checkout', healthState: expect.any(String), level: expect.any(String) });
    expect((measured.body.indicators as any).errorRate.detected).toBe(true);
    expect(measured.body.drift).toBeGreaterThanOrEqual(1);

    const second = await call('/api/entropy/measure', { method: 'POST', body: JSON.stringify({ system: 'checkout', windowSeconds: 300, baselineSeconds: 300 }) });
    const list = await call('/api/entropy/measurements?system=checkout&limit=5');
    expect(list.status).toBe(200);
    expect(list.body.map((m: { id: string }) => m.id)).toEqual([second.body.id, measured.body.id]);
    for (const key of ['system', 'measuredAt', 'health', 'healthState', 'drift', 'validationErrors', 'score', 'level', 'indicators']) {
      expect(list.body[0]).toHaveProperty(key);
    }
  });

  it('when the systems are listed, then each comes with its latest measurement or null', async () => {
    const systems = await call('/api/entropy/systems');
    expect(systems.status).toBe(200);
    expect(systems.body).toContainEqual({ system: 'checkout', latest: expect.objectContaining({ system: 'checkout' }) });
  });

  it('when the error-rate chart is asked for, then it has limits from the calm part and flags the burst', async () => {
    const chart = await call('/api/entropy/control-charts?system=checkout&metric=error_rate&windowSeconds=600&buckets=30');
    expect(chart.status).toBe(200);
    expect(chart.body).toMatchObject({ system: 'checkout', metric: 'error_rate', centre: expect.any(Number), upper: expect.any(Number), lower: expect.any(Number) });
    expect(chart.body.points).toHaveLength(30);
    const late = chart.body.violations.filter((violation: { rule: string; index: number }) => violation.rule === 'WE1' && violation.index >= 26);
    expect(late.length).toBeGreaterThan(0);
    // The limits come from the calm part (about 1 % of requests fail there, a third of spans are roots).
    expect(chart.body.centre).toBeLessThan(0.02);
    expect(chart.body.upper).toBeLessThan(0.1);
  });

  it('when the input is wrong or the role may not, then the answer is problem+json', async () => {
    const bad = await call('/api/entropy/control-charts?system=checkout&metric=bogus');
    expect(bad.status).toBe(400);
    expect(bad.type).toContain('application/problem+json');
    const forbidden = await call('/api/entropy/systems', { token: TEST_TOKENS.worker });
    expect(forbidden.status).toBe(403);
    expect(forbidden.type).toContain('application/problem+json');
  });

  it('when a DMEDI cycle is asked for with a threshold below the LOW/MEDIUM boundary, then it is a 400 and nothing starts', async () => {
    const count = async () => Number((await app.database.knex('process_instances').where({ process_key: 'dmedi-regeneration' }).count<{ n: string }[]>('* as n'))[0]!.n);
    const before = await count();
    for (const body of [{ system: 'checkout', threshold: 0 }, { system: 'checkout', variables: { threshold: 0.1 } }]) {
      const refused = await call('/api/entropy/dmedi/auto', { method: 'POST', body: JSON.stringify(body), token: TEST_TOKENS.operator });
      expect(refused.status).toBe(400);
      expect(refused.type).toContain('application/problem+json');
    }
    expect(await count()).toBe(before);
  });

  it('when the CLI runs DMEDI phases against the server, then it prints the charter, the ranking and the generated workflow', async () => {
    const cli = (...args: string[]) =>
      promisify(execFile)(process.execPath, ['--import', 'tsx', join(repositoryRoot, 'src/cli/main.ts'), '--url', base, 'dmedi', ...args], {
        cwd: repositoryRoot,
        env: { ...process.env, REGENFLOW_TOKEN: TEST_TOKENS.operator },
      });
    const define = await cli('define', '--system', 'checkout');
    expect(define.stdout).toContain('# Regeneration charter: checkout');
    const explore = JSON.parse((await cli('explore', '--system', 'checkout')).stdout);
    expect(explore.options.length).toBeGreaterThan(0);
    const develop = JSON.parse((await cli('develop', '--system', 'checkout', '--strategy', 'cache-refresh')).stdout);
    expect(develop).toMatchObject({ processKey: 'regen-checkout-cache-refresh', definition: { key: 'regen-checkout-cache-refresh' } });
    expect(develop.simulation.runs).toBe(200);
  }, 180_000);

  it('when a process owner deploys a strategy table that withdraws a strategy, then the Explore preview offers what the next cycle would', async () => {
    const explore = async () => (await call('/api/entropy/dmedi/explore', { method: 'POST', body: JSON.stringify({ system: 'checkout', level: 'HIGH' }) })).body.options.map((option: { id: string }) => option.id).sort();
    expect(await explore()).toEqual(['agent-reconstruction', 'semantic-refresh', 'validation-rebuild']);

    const shipped = await readFile(join(repositoryRoot, 'processes', 'entropy-level.dmn'), 'utf8');
    const withdrawn = shipped.replace(/<rule id="agent_reconstruction">[\s\S]*?<\/rule>\s*/, '');
    expect((await call('/api/deployments', { method: 'POST', body: JSON.stringify({ name: 'entropy-level.dmn', xml: withdrawn }), token: TEST_TOKENS.admin })).status).toBe(201);
    expect(await explore()).toEqual(['semantic-refresh', 'validation-rebuild']);

    // The level of a measured system is the deployed level table's too: a table that calls everything CRITICAL is followed.
    const everythingCritical = withdrawn.replace('<text>&lt; 0.3</text>', '<text>&lt; 0</text>').replace('<text>[0.3..0.6[</text>', '<text>[0..0.6[</text>').replace(/<outputEntry id="(low|medium|high)_level">\s*<text>"[A-Z]+"<\/text>/g, '<outputEntry id="$1_level">\n          <text>"CRITICAL"</text>');
    expect((await call('/api/deployments', { method: 'POST', body: JSON.stringify({ name: 'entropy-level.dmn', xml: everythingCritical }), token: TEST_TOKENS.admin })).status).toBe(201);
    const preview = await call('/api/entropy/dmedi/explore', { method: 'POST', body: JSON.stringify({ system: 'checkout' }) });
    expect(preview.body.level).toBe('CRITICAL');

    // A deployed level table with a gap where the measurement falls is an error naming it, not a guessed level.
    const noLevel = shipped.replace(/<rule id="(low|medium|high|critical)">[\s\S]*?<\/rule>\s*/g, '');
    expect((await call('/api/deployments', { method: 'POST', body: JSON.stringify({ name: 'entropy-level.dmn', xml: noLevel }), token: TEST_TOKENS.admin })).status).toBe(201);
    const gap = await call('/api/entropy/dmedi/explore', { method: 'POST', body: JSON.stringify({ system: 'checkout' }) });
    expect(gap).toMatchObject({ status: 422, body: { code: 'DECISION_RESULT_MAPPING' } });
    expect(gap.body.detail).toContain('entropy-level table gives no level');
    expect((await call('/api/deployments', { method: 'POST', body: JSON.stringify({ name: 'entropy-level.dmn', xml: shipped }), token: TEST_TOKENS.admin })).status).toBe(201);
  });
});
