import { jest } from '@jest/globals';
import type { Page } from 'playwright-core';
import { TEST_TOKENS } from '../support/server-process.js';
import { eventually } from '../support/test-app.js';
import { openUi, type UiSession } from './browser.js';

jest.setTimeout(90_000);

/**
 * Issue 16's "done when" for decisions: a process owner, in a real browser, edits incident
 * response's automation table, tests it, deploys it, and the next alert takes the new path.
 */
describe('browser decision editor', () => {
  let ui: UiSession;
  let base: string;
  let call: UiSession['call'];
  let page: Page;

  const shot = (name: string) => ui.shot(name);

  /** Replaces the text of a decision table cell, as a person types it. */
  async function editCell(elementId: string, text: string) {
    const cell = page.locator(`#rf-dmn-canvas [data-element-id="${elementId}"] [contenteditable]`).first();
    await cell.click();
    await page.keyboard.press('Control+A');
    await page.keyboard.type(text);
    await page.keyboard.press('Escape').catch(() => {});
  }

  beforeAll(async () => {
    ui = await openUi({
      app: { builtIns: true, env: { REGENFLOW_INCIDENT_REVIEW_ESCALATION: 'PT1H' } },
      deploy: ['processes/incident-response.bpmn', 'processes/incident-automation-level.dmn'],
    });
    ({ base, call, page } = ui);
  }, 120_000);

  afterAll(() => ui?.close());

  it('when the owner edits the automation table, tests it and deploys it, then the next alert takes the new path', async () => {
    await page.goto(`${base}/`);
    await page.fill('#rf-token', TEST_TOKENS.admin);
    await page.click('#rf-login button[type=submit]');
    await page.waitForSelector('#rf-modeler-canvas .djs-container');
    // dmn-js is not in the first load: it comes with the decisions view.
    const scriptsBefore = await page.evaluate(() => performance.getEntriesByType('resource').map((entry) => entry.name).filter((name) => name.endsWith('.js')));
    expect(scriptsBefore.some((name) => /Modeler-/.test(name))).toBe(false);

    await page.click('.rf-nav a[data-view="decisions"]');
    await page.selectOption('#rf-dmn-open', 'incident-automation-level');
    await page.waitForSelector('#rf-dmn-title:text-is("Incident automation level — version 1")');
    await page.waitForSelector('#rf-dmn-canvas [data-element-id="approval_between_thresholds_confidence"]');
    expect(await page.locator('#rf-dmn-tabs button').count()).toBeGreaterThanOrEqual(2); // the DRD and the table
    await shot('decisions-table');

    // The new policy: everything up to 90 % is approved by a person first.
    await editCell('approval_between_thresholds_confidence', '[0..autoThreshold]');
    await editCell('person_below_threshold_confidence', '< 0');
    await page.click('#rf-dmn-deploy');
    await page.waitForSelector('#rf-dmn-deployed:has-text("incident-automation-level v2 (new)")');
    await page.waitForSelector('#rf-dmn-title:text-is("Incident automation level — version 2")');
    expect(await page.locator('#rf-dmn-versions li').count()).toBe(2);

    // Test this decision: version 2 decides 30 % is an approval.
    await page.fill('#rf-dmn-input-confidence', '0.3');
    await page.fill('#rf-dmn-input-autoThreshold', '0.9');
    await page.fill('#rf-dmn-input-reviewThreshold', '0.5');
    await page.click('#rf-dmn-evaluate');
    await page.waitForSelector('#rf-dmn-test-result:has-text("approval")');
    expect(await page.textContent('#rf-dmn-test-result')).toContain('rule 3 (approval_between_thresholds)');
    await shot('decisions-tested');

    // The next alert (unknown: confidence 0) now goes to a person's approval, not to manual review.
    const fired = await call('POST', '/api/alerts', {
      fingerprint: 'e2e-policy-0001',
      status: 'firing',
      labels: { alertname: 'CheckoutErrors', service: 'checkout', severity: 'critical' },
    });
    expect(fired.status).toBeLessThan(300);
    // Alert intake is asynchronous (202 while its incident work is queued): the alert list says which instance it started.
    const id = await eventually(async () => {
      const alerts = (await call('GET', '/api/alerts')).body as Array<{ fingerprint: string; instanceId: string | null }>;
      return alerts.find((alert) => alert.fingerprint === 'e2e-policy-0001')?.instanceId ?? undefined;
    });
    const detail = await eventually(async () => {
      const body = (await call('GET', `/api/process-instances/${id}`)).body;
      return body.activeActivities.includes('approve_fix') || body.activeActivities.includes('manual_review') ? body : undefined;
    });
    expect(detail.activeActivities).toContain('approve_fix');
    expect((await call('GET', `/api/process-instances/${id}/decisions`)).body[0]).toMatchObject({ decisionVersion: 2 });

    // A broken edit is refused with the element named, and nothing is deployed.
    await editCell('automatic_above_threshold_confidence', '> autoThreshold)');
    await page.click('#rf-dmn-deploy');
    await page.waitForSelector('#rf-dmn-deploy-errors li:has-text("automatic_above_threshold_confidence")');
    expect((await call('GET', '/api/decision-definitions?key=incident-automation-level')).body).toHaveLength(2);
    // The refused deploy's 400 is the only error the page saw (no CSP violation, no script error).
    expect(ui.browser.problems.filter((problem) => !problem.includes('status of 400'))).toEqual([]);
  });
});
