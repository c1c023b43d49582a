import { jest } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { httpClient, repositoryRoot, TEST_TOKENS } from '../support/server-process.js';
import { SpanSimulator, writeSpans } from '../support/span-simulator.js';
import { createTestApp } from '../support/test-app.js';
import { launchBrowser, type Browser } from './browser.js';

const SHOTS = join(repositoryRoot, 'test-results', 'e2e');
jest.setTimeout(60_000);

/**
 * Operating instances in Chromium: each role sees what it may do, the start form and run now,
 * a step running or failing inside a collapsed sub-process, the incident as a sentence, the
 * instance list's incident column and end events, the variables tree.
 */
describe('browser operations: roles, starts, sub-processes, incidents, end events', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let base: string;
  let call: ReturnType<typeof httpClient>;
  let browser: Browser;
  let page: Page;
  const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`) });
  const element = (id: string) => page.locator(`#rf-view-instance g.djs-element[data-element-id="${id}"]`);
  const worker = () => httpClient(base, TEST_TOKENS.worker);
  const lockLint = async () => (await worker()('POST', '/engine-rest/external-task/fetchAndLock', { workerId: 'e2e', maxTasks: 1, topics: [{ topicName: 'e2e.lint', lockDuration: 60_000 }] })).body[0];

  async function signIn(role: keyof typeof TEST_TOKENS): Promise<void> {
    await page.goto(`${base}/`);
    await page.evaluate('sessionStorage.clear()');
    await page.goto(`${base}/#/instances`);
    await page.fill('#rf-token', TEST_TOKENS[role]);
    await page.click('#rf-login button[type=submit]');
    await page.waitForSelector(`#rf-who:text-is("${role}")`);
  }

  beforeAll(async () => {
    execFileSync(process.execPath, ['--import', 'tsx', join(repositoryRoot, 'scripts/build-modeler.ts')], { cwd: repositoryRoot, stdio: 'pipe' });
    await mkdir(SHOTS, { recursive: true });
    app = await createTestApp();
    base = `http://127.0.0.1:${await app.listen()}`;
    call = httpClient(base);
    for (const name of ['ops-review.bpmn', 'ops-nightly.bpmn']) {
      const xml = await readFile(join(repositoryRoot, 'test/fixtures/e2e', name), 'utf8');
      expect((await call('POST', '/api/deployments', { name, xml })).status).toBe(201);
    }
    browser = await launchBrowser();
    page = browser.page;
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await app?.dispose();
  });

  it('when a worker, an owner or an operator signs in, then each sees only the pages and buttons its role may use', async () => {
    const requested: string[] = [];
    page.on('request', (request) => requested.push(new URL(request.url()).pathname));
    const app = await page.request.get(`${base}/app.js`, { headers: { 'accept-encoding': 'br, gzip' } });
    expect(app.headers()['content-encoding']).toBe('br');
    await signIn('worker');
    await page.waitForSelector('#rf-no-pages');
    await expect(page.textContent('#rf-no-pages')).resolves.toContain('The worker role has no pages here');
    expect(await page.locator('.rf-nav a:visible').count()).toBe(0);

    // The modeler's code is loaded only when the modeler is opened.
    expect(requested.filter((path) => path.includes('modeler-view'))).toEqual([]);
    await signIn('owner');
    await page.click('.rf-nav a[data-view="modeler"]');
    await page.waitForSelector('#rf-start');
    expect(await page.locator('#rf-deploy').count()).toBe(0); // deploying is for admins

    await signIn('operator');
    await page.click('.rf-nav a[data-view="modeler"]');
    await page.waitForSelector('#rf-start');
    expect(await page.locator('#rf-deploy').count()).toBe(0);
    await expect(page.locator('.rf-nav a:visible').allTextContents()).resolves.toEqual(['Modeler', 'Decisions', 'Forms', 'Instances', 'Task inbox', 'Health']);
  });

  it('when an operator starts from the form, then the start variables are asked for, and a timer-started process offers run now', async () => {
    await page.click('.rf-nav a[data-view="instances"]');
    await page.waitForSelector('#rf-start-key option[value="ops-review"]', { state: 'attached' });
    await page.selectOption('#rf-start-key', 'ops-nightly');
    await page.waitForSelector('#rf-start-submit:text-is("Run now")');
    await expect(page.textContent('#rf-start-note')).resolves.toContain('starts by a timer');
    await page.click('#rf-start-submit');
    await page.waitForURL(/#\/instance\//);
    await page.waitForSelector('#rf-view-instance g.djs-element.rf-active[data-element-id="look"]');

    await page.click('.rf-nav a[data-view="instances"]');
    await page.selectOption('#rf-start-key', 'ops-review');
    await page.waitForSelector('#rf-start-field-ticket');
    await expect(page.textContent('#rf-start-fields')).resolves.toContain('Ticket *');
    // The browser asks for the required field; the server would refuse it too.
    await page.click('#rf-start-submit');
    expect(page.url()).toMatch(/#\/instances/);
    await page.fill('#rf-start-field-ticket', 'CHG-42');
    await page.fill('#rf-start-field-priority', '2');
    await shot('ops-start-form');
    await page.click('#rf-start-submit');
    await page.waitForURL(/#\/instance\//);
  });

  it('when the step that runs is inside a collapsed sub-process, then the sub-process is marked, and drilling in shows the step; its incident reads as a sentence', async () => {
    const id = page.url().split('#/instance/')[1]!;
    await page.waitForSelector('#rf-view-instance g.djs-element.rf-active[data-element-id="checks"]');
    await page.waitForSelector('.rf-inside-active[data-activity="checks"]');
    await expect(page.textContent('#rf-waiting')).resolves.toContain('inside Automated checks');
    await shot('ops-active-inside');
    await page.click('.rf-inside-active[data-activity="checks"]');
    await page.waitForSelector('#rf-view-instance g.djs-element.rf-active[data-element-id="lint"]');
    await expect(element('lint').isVisible()).resolves.toBe(true);
    await page.waitForSelector('#rf-view-instance .bjs-breadcrumbs li');
    // Back out through the breadcrumb.
    await page.click('#rf-view-instance .bjs-breadcrumbs li:first-child');
    await expect(element('checks').isVisible()).resolves.toBe(true);

    // A worker fails the step with a validation error and no retries left: an incident inside.
    const task = await lockLint();
    const zodMessage = JSON.stringify([{ expected: 'string', code: 'invalid_type', path: ['repository'], message: 'Invalid input: expected string, received undefined' }], null, 2);
    await worker()('POST', `/engine-rest/external-task/${task.id}/failure`, { workerId: 'e2e', errorMessage: zodMessage, retries: 0, retryTimeout: 0 });
    await page.reload();
    await page.waitForSelector('#rf-view-instance g.djs-element.rf-incident[data-element-id="checks"]');
    await page.waitForSelector('.rf-inside-incident[data-activity="checks"]');
    await expect(page.textContent('#rf-incidents .rf-incident-sentence')).resolves.toBe('Lint: input `repository` is missing.');
    await expect(page.locator('#rf-incidents details.rf-raw').getAttribute('open')).resolves.toBeNull();
    await shot('ops-incident-inside');
    await page.click('.rf-inside-incident[data-activity="checks"]');
    await page.waitForSelector('#rf-view-instance g.djs-element.rf-incident[data-element-id="lint"]');
    await page.waitForSelector('.rf-incident-badge[data-activity="lint"]');

    // The list shows the incident, and filters by it.
    await page.click('.rf-nav a[data-view="instances"]');
    await page.waitForSelector(`#rf-instance-rows tr[data-instance-id="${id}"] .rf-incident-count:text-is("⚠ 1")`);
    await page.selectOption('#rf-filter-incidents', 'open');
    await page.waitForSelector(`#rf-instance-rows tr[data-instance-id="${id}"]`);
    expect(await page.locator('#rf-instance-rows tr[data-instance-id]').count()).toBe(1);
    await expect(page.textContent(`#rf-instance-rows tr[data-instance-id="${id}"]`)).resolves.toContain('Ops review');
    await page.selectOption('#rf-filter-incidents', 'none');
    await page.waitForSelector(`#rf-instance-rows tr[data-instance-id="${id}"]`, { state: 'detached' });
    await page.selectOption('#rf-filter-incidents', '');

    // Retry from the instance, then the worker finishes it on the failure path.
    await page.goto(`${base}/#/instance/${id}`);
    await page.click('#rf-incidents button:text-is("Retry")');
    await page.waitForSelector('#rf-incidents', { state: 'detached' });
    const again = await lockLint();
    await worker()('POST', `/engine-rest/external-task/${again.id}/complete`, { workerId: 'e2e', variables: { passed: { value: false, type: 'Boolean' }, report: { value: JSON.stringify({ rules: { semi: 3, quotes: 0 }, files: ['a.ts', 'b.ts'] }), type: 'Json' } } });
    await page.waitForSelector('#rf-instance-status.rf-outcome-failure:text-is("completed")');
    await expect(page.textContent('#rf-end-reached')).resolves.toContain('Check failed');
    await expect(element('check_failed').getAttribute('class')).resolves.toContain('rf-end-failure');
    await shot('ops-ended-failure');

    await page.click('.rf-nav a[data-view="instances"]');
    await page.waitForSelector(`#rf-instance-rows tr[data-instance-id="${id}"] .rf-end-reached.rf-outcome-failure:text-is("Check failed")`);
    await expect(page.locator(`#rf-instance-rows tr[data-instance-id="${id}"] td`).nth(7).textContent()).resolves.toMatch(/\d+(\.\d)? (ms|s|min)$/);
    await shot('ops-instances');
  });

  it('when the health page is opened, then the charts have time axes, units, a floor at 0, control bands, tooltips and the states in words', async () => {
    // Five minutes of checkout traffic, the last one failing half the time; two measurements.
    const now = Date.now();
    const simulator = new SpanSimulator({ system: 'checkout', seed: 5, requestsPerSecond: 2 });
    simulator.inject({ kind: 'error-burst', at: new Date(now - 60_000), magnitude: 0.5 });
    await writeSpans(app.database.knex, simulator.generate(new Date(now - 300_000), new Date(now)));
    for (const window of [120, 60]) {
      expect((await call('POST', '/api/entropy/measure', { system: 'checkout', windowSeconds: window, baselineSeconds: 240 - window })).status).toBe(201);
    }
    await page.click('.rf-nav a[data-view="health"]');
    const system = page.locator('#rf-health-systems .rf-system[data-system="checkout"]');
    await system.locator('.uplot').first().waitFor();
    await expect(system.locator('.rf-measurement').textContent()).resolves.toMatch(/entropy (LOW|MEDIUM|HIGH|CRITICAL).*— (little|noticeable|serious|the system)/);
    await expect(system.locator('.rf-measurement').textContent()).resolves.toMatch(/span health (HEALTHY|WARNING|CRITICAL|FAILING).*— /);
    // Every quantity is at least 0, with its unit on the axis.
    for (const chart of await system.locator('.rf-chart[data-y-min]').all()) {
      expect(Number(await chart.getAttribute('data-y-min'))).toBeGreaterThanOrEqual(0);
    }
    for (const [metric, unit] of [['latency_p95', 'ms'], ['error_rate', '%'], ['throughput', 'spans/s']]) {
      const chart = system.locator(`.rf-control-chart[data-metric="${metric}"]`);
      await expect(chart.locator('.rf-chart-title').textContent()).resolves.toContain(`(${unit})`);
      await chart.locator('canvas').waitFor();
    }
    await expect(system.locator('.rf-control-chart[data-metric="error_rate"] .rf-chart-title').textContent()).resolves.toMatch(/in control|rule violation/);
    const plot = system.locator('.rf-control-chart[data-metric="latency_p95"] .u-over');
    const box = (await plot.boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2);
    await expect(system.locator('.rf-control-chart[data-metric="latency_p95"] .rf-chart-tooltip').textContent()).resolves.toMatch(/ ms/);
    await shot('ops-health');
  });

  it('when the page logged anything, then it was no script error and no CSP violation', () => {
    const serious = browser.problems.filter((problem) => !/Failed to load resource: the server responded with a status of (400|401|403|404)/.test(problem));
    expect(serious).toEqual([]);
  });
});
