import { jest } from '@jest/globals';
import type { Page } from 'playwright-core';
import { httpClient, TEST_TOKENS } from '../support/server-process.js';
import { SpanSimulator, writeSpans } from '../support/span-simulator.js';
import { eventually } from '../support/test-app.js';
import { openUi, type UiSession } from './browser.js';

jest.setTimeout(60_000);

/**
 * Operating instances in Chromium: each role sees what it may do, the start form and run now,
 * a step running or failing inside a collapsed sub-process, the incident as a sentence, the
 * instance list's incident column and end events, the variables tree.
 */
describe('browser operations: roles, starts, sub-processes, incidents, end events', () => {
  let ui: UiSession;
  let base: string;
  let page: Page;
  const shot = (name: string) => ui.shot(name);
  const signIn = (role: keyof typeof TEST_TOKENS) => ui.signIn(role);
  const element = (id: string) => page.locator(`#rf-view-instance g.djs-element[data-element-id="${id}"]`);
  const worker = () => httpClient(base, TEST_TOKENS.worker);
  const lockLint = async () => (await worker()('POST', '/engine-rest/external-task/fetchAndLock', { workerId: 'e2e', maxTasks: 1, topics: [{ topicName: 'e2e.lint', lockDuration: 60_000 }] })).body[0];

  beforeAll(async () => {
    ui = await openUi({ deploy: ['test/fixtures/e2e/ops-review.bpmn', 'test/fixtures/e2e/ops-nightly.bpmn'] });
    ({ base, page } = ui);
  }, 120_000);

  afterAll(() => ui?.close());

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
    await expect(page.locator('.rf-nav a:visible').allTextContents()).resolves.toEqual(['Modeler', 'Decisions', 'Forms', 'Instances', 'Migrations', 'Task inbox', 'Health']);
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
    // The filtered answer replaces the list: until it arrives the old rows (ours among them) are still there.
    await eventually(async () => (await page.locator('#rf-instance-rows tr[data-instance-id]').count()) === 1);
    await page.waitForSelector(`#rf-instance-rows tr[data-instance-id="${id}"]`);
    await expect(page.textContent(`#rf-instance-rows tr[data-instance-id="${id}"]`)).resolves.toContain('Ops review');
    await page.selectOption('#rf-filter-incidents', 'none');
    await page.waitForSelector(`#rf-instance-rows tr[data-instance-id="${id}"]`, { state: 'detached' });
    await page.selectOption('#rf-filter-incidents', '');

    // Retry from the instance, then the worker finishes it on the failure path.
    await page.goto(`${base}/#/instance/${id}`);
    await page.click('#rf-incidents button:text-is("Retry")');
    await page.waitForSelector('#rf-incidents', { state: 'detached' });
    const again = await lockLint();
    // What validator.score and two phase tasks record: the page says the gate's verdict and why.
    const json = (value: unknown) => ({ value: JSON.stringify(value), type: 'Json' });
    await worker()('POST', `/engine-rest/external-task/${again.id}/complete`, {
      workerId: 'e2e',
      variables: {
        passed: { value: false, type: 'Boolean' },
        report: json({ rules: { semi: 3, quotes: 0 }, files: ['a.ts', 'b.ts'] }),
        phase_unit: json({ name: 'unit', passed: true, score: 1, weight: 6, required: true, durationMs: 1200, summary: '12 tests passed', output: 'ok 12' }),
        phase_telemetry: json({ name: 'telemetry', passed: false, skipped: true, score: 0, weight: 4, required: false, durationMs: 0, summary: 'skipped: no test:telemetry script' }),
        validation: json({ score: 0.6, gate: 0.8, passed: false, vitalFew: ['unit', 'telemetry'], skipped: ['telemetry'], reasons: ['score 0.6 is below the gate 0.8', 'vital phase telemetry was skipped'] }),
      },
    });
    await page.waitForSelector('#rf-instance-status.rf-outcome-failure:text-is("completed")');
    await expect(page.textContent('#rf-gate-verdict')).resolves.toBe('Failed: score 0.6 against the gate 0.8');
    await expect(page.textContent('#rf-gate-reasons')).resolves.toContain('vital phase telemetry was skipped');
    await expect(page.textContent('#rf-gate-phases tr[data-phase="telemetry"]')).resolves.toContain('skipped');
    await expect(page.textContent('#rf-gate-skipped')).resolves.toContain('is not a pass');
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
    await writeSpans(ui.app.database.knex, simulator.generate(new Date(now - 300_000), new Date(now)));
    for (const window of [120, 60]) {
      expect((await ui.call('POST', '/api/entropy/measure', { system: 'checkout', windowSeconds: window, baselineSeconds: 240 - window })).status).toBe(201);
    }
    await page.click('.rf-nav a[data-view="health"]');
    const system = page.locator('#rf-health-systems .rf-system[data-system="checkout"]');
    await system.locator('.uplot').first().waitFor();
    await expect(system.locator('.rf-measurement').textContent()).resolves.toMatch(/entropy (LOW|MEDIUM|HIGH|CRITICAL).*— (little|noticeable|serious|the system)/);
    await expect(system.locator('.rf-measurement').textContent()).resolves.toMatch(/span health (HEALTHY|WARNING|CRITICAL|FAILING).*— /);
    // Every quantity is at least 0, with its unit on the axis.
    const yMins = await system.locator('.rf-chart[data-y-min]').evaluateAll((charts) => charts.map((chart) => Number(chart.getAttribute('data-y-min'))));
    expect(yMins.length).toBeGreaterThan(0);
    for (const yMin of yMins) expect(yMin).toBeGreaterThanOrEqual(0);
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
    const serious = ui.browser.problems.filter((problem) => !/Failed to load resource: the server responded with a status of (400|401|403|404)/.test(problem));
    expect(serious).toEqual([]);
  });
});
