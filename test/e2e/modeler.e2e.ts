import { jest } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import type { Page } from 'playwright-core';
import { httpClient, TEST_TOKENS } from '../support/server-process.js';
import { openUi, type UiSession } from './browser.js';

const TOPIC = 'e2e.notify-requester';

jest.setTimeout(60_000);

/** Whether the page holds up leaving it: a cancelable beforeunload, as the browser fires it. */
const LEAVING = "(() => { const event = new Event('beforeunload', { cancelable: true }); window.dispatchEvent(event); return event.defaultPrevented; })()";

/**
 * The browser app in Debian's Chromium against a real server: modeler, deploy, instance on
 * its diagram, task inbox, live updates, heatmap and health. One story, step by step, as a
 * process owner and an operator would use it; screenshots of each view go to test-results/.
 */
describe('browser modeler and operations UI', () => {
  let ui: UiSession;
  let base: string;
  let call: UiSession['call'];
  let page: Page;
  let instanceId: string;

  const shot = (name: string) => ui.shot(name);
  const markerOf = (elementId: string) => page.locator(`#rf-view-instance g.djs-element[data-element-id="${elementId}"]`);

  beforeAll(async () => {
    // processes/ holds the shipped processes (builtIns): the story's own diagram is a fixture.
    ui = await openUi({ app: { builtIns: true }, deploy: ['test/fixtures/e2e/change-review.bpmn'] });
    ({ base, call, page } = ui);
  }, 120_000);

  afterAll(() => ui?.close());

  it('when the app is opened, then it is served with a strict CSP and asks for a token once', async () => {
    const response = await page.goto(`${base}/`);
    const csp = response?.headers()['content-security-policy'] ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/script-src[^;]*unsafe-inline/);
    expect(csp).toContain("connect-src 'self'");

    await page.fill('#rf-token', 'not-a-valid-token');
    await page.click('#rf-login button[type=submit]');
    await page.locator('#rf-login .rf-error', { hasText: /refused/ }).waitFor();
    await page.fill('#rf-token', TEST_TOKENS.admin);
    await page.click('#rf-login button[type=submit]');
    await page.waitForSelector('#rf-modeler-canvas .djs-container');
    await page.waitForSelector('#rf-live.rf-live-up');
    expect(await page.evaluate('Object.keys(sessionStorage)')).toEqual(['regenflow.token']);
  });

  it('when a deployed process is opened and a service task is added with the properties panel, then it deploys as a new version with its topic', async () => {
    await page.selectOption('#rf-open-select', { label: 'Change review (change-review v1)' });
    await page.waitForSelector('g.djs-element[data-element-id="review"]');
    await page.waitForSelector('#rf-diagram-title:text-is("Change review (change-review)")');
    await page.waitForSelector('#rf-lint-summary:text-is("0 error(s), 0 warning(s)")');

    // Create a task from the palette and drop it onto the flow after the review: it splits the flow.
    await page.click('.djs-palette .entry[data-action="create.task"]');
    const flow = (await page.locator('g.djs-element[data-element-id="Flow_2"]').boundingBox())!;
    const target = { x: flow.x + flow.width / 2, y: flow.y + flow.height / 2 };
    await page.mouse.move(target.x - 30, target.y, { steps: 5 });
    await page.mouse.move(target.x, target.y, { steps: 5 });
    await page.mouse.click(target.x, target.y);
    await page.waitForSelector('#rf-dirty:not([hidden])');
    const taskId = await page.locator('g.djs-element.selected').first().getAttribute('data-element-id');
    expect(taskId).toMatch(/^Activity_/);

    // Make it a service task (replace menu), name it and set its topic in the properties panel.
    await page.click('.djs-context-pad .entry[data-action="replace"]');
    await page.click('.djs-popup [data-id="replace-with-service-task"]');
    await page.waitForSelector('.bio-properties-panel-header-type:text-is("Service Task")');
    await openGroup(page, 'general');
    await page.fill('#bio-properties-panel-name', 'Notify requester');
    await page.press('#bio-properties-panel-name', 'Tab');
    await openGroup(page, 'CamundaPlatform__Implementation');
    await page.selectOption('#bio-properties-panel-implementationType', 'external');
    await page.fill('#bio-properties-panel-externalTopic', TOPIC);
    await page.press('#bio-properties-panel-externalTopic', 'Tab');
    await page.locator('#rf-topic-picker', { hasText: `waits on topic "${TOPIC}"` }).waitFor();
    await expect(page.textContent('#rf-lint-summary')).resolves.toBe('0 error(s), 0 warning(s)');
    await shot('modeler-properties');

    // Undo and redo come from bpmn-js's command stack.
    await page.click('#rf-undo');
    await expect(page.textContent('#rf-topic-picker')).resolves.not.toContain(TOPIC);
    await page.click('#rf-redo');
    await page.locator('#rf-topic-picker', { hasText: TOPIC }).waitFor();

    // Leaving the diagram with unsaved changes asks first; dismissing keeps it.
    const asked = new Promise<string>((resolve) =>
      page.once('dialog', (dialog) => {
        resolve(dialog.message());
        void dialog.dismiss();
      }),
    );
    await page.click('#rf-new');
    await expect(asked).resolves.toMatch(/unsaved changes/);
    // Closing or reloading the tab is held up too (the browser asks on beforeunload).
    expect(await page.evaluate(LEAVING)).toBe(true);
    await expect(page.textContent('#rf-diagram-title')).resolves.toBe('Change review (change-review)');

    const downloading = page.waitForEvent('download');
    await page.click('#rf-download-xml');
    const downloaded = await readFile((await (await downloading).path())!, 'utf8');
    expect(downloaded).toContain(`camunda:topic="${TOPIC}"`);
    expect(downloaded).toContain('camunda:type="external"');

    // A task dropped on empty canvas is disconnected: the browser lints it as the server's
    // deploy does, and the server refuses it for the same rule.
    await page.click('.djs-palette .entry[data-action="create.task"]');
    const canvas = (await page.locator('#rf-modeler-canvas').boundingBox())!;
    await page.mouse.move(canvas.x + canvas.width * 0.5, canvas.y + canvas.height * 0.85, { steps: 5 });
    await page.mouse.click(canvas.x + canvas.width * 0.5, canvas.y + canvas.height * 0.85);
    await page.locator('#rf-lint-summary', { hasText: /^1 error\(s\)/ }).waitFor();
    await expect(page.textContent('#rf-lint-list')).resolves.toContain('no-disconnected');
    // Where the API has a dry run of the deploy analysis, the modeler shows its verdict live.
    const dryRun = await call('POST', '/api/deployments/lint', { name: 'probe.bpmn', xml: '<x/>' });
    if (dryRun.status !== 404) {
      await page.locator('#rf-server-check', { hasText: 'a deploy would be refused' }).waitFor();
      await expect(page.textContent('#rf-server-check')).resolves.toContain('no-disconnected');
    } else {
      expect(await page.locator('#rf-server-check').isHidden()).toBe(true);
    }
    await page.click('#rf-deploy');
    await page.waitForSelector('#rf-deploy-result:has-text("Deploy refused")');
    await expect(page.textContent('#rf-deploy-result')).resolves.toContain('no-disconnected');
    await page.click('#rf-undo');
    await page.waitForSelector('#rf-lint-summary:text-is("0 error(s), 0 warning(s)")');
    if (dryRun.status !== 404) await page.locator('#rf-server-check', { hasText: 'Server check: deployable' }).waitFor();

    await page.click('#rf-deploy');
    await page.waitForSelector('#rf-deploy-ok:text-is("change-review v2 deployed")');
    await page.waitForSelector('#rf-dirty[hidden]', { state: 'attached' });
    expect(await page.evaluate(LEAVING)).toBe(false);
    const definitions = (await call('GET', '/api/process-definitions?key=change-review')).body;
    expect(definitions.map((definition: any) => definition.version)).toEqual([2, 1]);
    expect(definitions[0].info.externalTopics).toEqual([TOPIC]);
    const topics = (await call('GET', '/api/topics')).body;
    expect(topics).toContainEqual(expect.objectContaining({ topic: TOPIC, sources: ['deployed'] }));
    // The topic picker offers what the server knows now.
    await page.click(`g.djs-element[data-element-id="${taskId}"]`);
    await page.waitForSelector(`#rf-topic-select option[value="${TOPIC}"]`, { state: 'attached' });

    // The version list compares v1 with v2: the service task is added, the flow it split changed.
    await page.click('#rf-diff-button');
    // The diff fetches both versions first: wait for it rather than read an empty box.
    await page.locator('#rf-diff-output', { hasText: /Added \(\d+\)/ }).waitFor();
    const diff = await page.textContent('#rf-diff-output');
    expect(diff).toMatch(/Added \(\d+\)/);
    expect(diff).toContain(`${taskId} serviceTask "Notify requester"`);
    expect(diff).toContain('Flow_2 sequenceFlow');
    // v2 is on screen: what it added and changed is marked on the canvas.
    await expect(page.locator(`#rf-modeler-canvas g.djs-element[data-element-id="${taskId}"]`).getAttribute('class')).resolves.toContain('rf-diff-added');
    await expect(page.locator('#rf-modeler-canvas g.djs-element[data-element-id="Flow_2"]').getAttribute('class')).resolves.toContain('rf-diff-changed');
    await page.locator('#rf-diff-output').scrollIntoViewIfNeeded();
    await shot('modeler-versions');
  });

  it('when an instance is started, then its active user task is marked on the diagram and it is completed from the inbox', async () => {
    await page.click('#rf-start');
    await page.click('#rf-dialog-start-submit');
    await page.waitForURL(/#\/instance\//);
    instanceId = page.url().split('#/instance/')[1]!;
    await page.waitForSelector('#rf-view-instance g.djs-element.rf-active[data-element-id="review"]');
    await expect(markerOf('StartEvent_1').getAttribute('class')).resolves.toContain('rf-done');
    await expect(page.textContent('#rf-instance-status')).resolves.toBe('active');
    // Names from the diagram are text, never markup.
    await expect(page.locator('#rf-history').textContent()).resolves.toContain('Review <b>change</b>');
    expect(await page.locator('#rf-history b').count()).toBe(0);
    await expect(page.textContent('#rf-process-documentation')).resolves.toContain('<img src=x onerror=alert(1)> must show as text');
    expect(await page.locator('#rf-view-instance img').count()).toBe(0);
    await shot('instance-active');

    await page.click('#rf-waiting a:text("open in inbox")');
    await page.waitForSelector('#rf-task-form');
    await page.fill('#rf-user', 'erin');
    await page.dispatchEvent('#rf-user', 'change');
    await page.click('#rf-claim-task');
    await page.locator('#rf-task-assignee', { hasText: 'Assignee: erin' }).waitFor();
    await page.check('#rf-field-approved');
    await page.fill('#rf-field-comment', 'looks good');
    await shot('task-inbox');
    await page.click('#rf-complete-task');
    await page.waitForSelector('#rf-inbox-empty');
    const instance = (await call('GET', `/api/process-instances/${instanceId}`)).body;
    expect(instance.variables).toMatchObject({ approved: true, comment: 'looks good' });
  });

  it('when a worker completes the service task, then the open instance view turns done without a reload', async () => {
    await page.goto(`${base}/#/instance/${instanceId}`);
    const serviceTask = (await call('GET', `/api/process-instances/${instanceId}`)).body.externalTasks[0];
    expect(serviceTask.topic).toBe(TOPIC);
    await page.waitForSelector(`#rf-view-instance g.djs-element.rf-active[data-element-id="${serviceTask.activityId}"]`);
    await expect(markerOf('review').getAttribute('class')).resolves.toContain('rf-done');
    await page.waitForSelector('#rf-live.rf-live-up');

    // A remote worker does the task over the Camunda 7 external-task API.
    const worker = httpClient(base, TEST_TOKENS.worker);
    const locked = await worker('POST', '/engine-rest/external-task/fetchAndLock', { workerId: 'e2e-worker', maxTasks: 1, topics: [{ topicName: TOPIC, lockDuration: 10_000 }] });
    expect(locked.body).toHaveLength(1);
    expect((await worker('POST', `/engine-rest/external-task/${locked.body[0].id}/complete`, { workerId: 'e2e-worker', variables: {} })).status).toBe(204);

    // No navigation: the server-sent event makes the view refresh itself.
    await page.waitForSelector('#rf-instance-status:text-is("completed")');
    for (const id of ['StartEvent_1', 'review', serviceTask.activityId, 'EndEvent_1']) {
      await expect(markerOf(id).getAttribute('class')).resolves.toContain('rf-done');
    }
    await expect(page.locator(`.rf-count[data-activity="review"]`).textContent()).resolves.toBe('1');
    await shot('instance-done');
  });

  it('when an operator starts an instance from the list, retries its incident, sets a variable and cancels it, then the instance view shows each step', async () => {
    await page.click('.rf-nav a[data-view="instances"]');
    await page.waitForSelector('#rf-start-key option[value="change-review"]', { state: 'attached' });
    await page.selectOption('#rf-start-key', 'change-review');
    await page.fill('#rf-start-business-key', 'CHG-7');
    await page.fill('#rf-start-variables', '{"risk": "low"}');
    await page.click('#rf-start-submit');
    await page.waitForURL(/#\/instance\//);
    const id = page.url().split('#/instance/')[1]!;
    await page.locator('#rf-variables', { hasText: 'risk' }).waitFor();

    const task = (await call('GET', `/api/tasks?instanceId=${id}`)).body[0];
    expect((await call('POST', `/api/tasks/${task.id}/complete`, { variables: {} })).status).toBe(200);
    const worker = httpClient(base, TEST_TOKENS.worker);
    const fetchTask = () => worker('POST', '/engine-rest/external-task/fetchAndLock', { workerId: 'e2e-worker', maxTasks: 1, topics: [{ topicName: TOPIC, lockDuration: 10_000 }] });
    const [locked] = (await fetchTask()).body;
    expect(locked.processInstanceId).toBe(id);
    await worker('POST', `/engine-rest/external-task/${locked.id}/failure`, { workerId: 'e2e-worker', errorMessage: 'mail server down', retries: 0, retryTimeout: 0 });
    // A worker's failure raises the incident without an engine transition (no event): reload.
    await page.reload();
    await page.waitForSelector(`#rf-view-instance g.djs-element.rf-incident[data-element-id="${locked.activityId}"]`);
    await expect(page.textContent('#rf-instance-side')).resolves.toContain('mail server down');
    await shot('instance-incident');
    await page.click('#rf-instance-side button:text-is("Retry")');
    await page.waitForSelector(`#rf-view-instance g.djs-element.rf-incident[data-element-id="${locked.activityId}"]`, { state: 'detached' });
    expect((await call('GET', '/api/incidents')).body).toEqual([]);
    expect((await fetchTask()).body).toHaveLength(1);

    await page.fill('#rf-variables-edit', '{"priority": "high"}');
    await page.click('#rf-instance-side button:text-is("Set variables")');
    await page.locator('#rf-variables', { hasText: 'priority' }).waitFor();
    page.once('dialog', (dialog) => void dialog.accept());
    await page.click('#rf-cancel-instance');
    await page.waitForSelector('#rf-instance-status:text-is("cancelled")');
    const cancelled = (await call('GET', `/api/process-instances/${id}`)).body;
    expect(cancelled).toMatchObject({ status: 'cancelled', businessKey: 'CHG-7', variables: { risk: 'low', priority: 'high' } });
  });

  it('when the instances list, heatmap and health views are opened, then they show this run and what the server offers', async () => {
    await page.click('.rf-nav a[data-view="instances"]');
    await page.waitForSelector(`#rf-instance-rows tr[data-instance-id="${instanceId}"]`);
    await page.selectOption('#rf-filter-status', 'active');
    await page.waitForSelector(`#rf-instance-rows tr[data-instance-id="${instanceId}"]`, { state: 'detached' });
    await page.selectOption('#rf-filter-status', 'completed');
    await page.waitForSelector(`#rf-instance-rows tr[data-instance-id="${instanceId}"]`);
    await shot('instances');

    await page.click(`#rf-instance-rows tr[data-instance-id="${instanceId}"] td:nth-child(3) a`);
    await page.waitForSelector('#rf-view-heatmap .rf-heat-label[data-activity="review"]');
    await expect(page.locator('#rf-view-heatmap .rf-heat-label[data-activity="review"]').textContent()).resolves.toMatch(/^2× · /); // the completed and the cancelled instance
    await shot('heatmap');

    await page.click('.rf-nav a[data-view="health"]');
    await page.waitForSelector('#rf-health-incidents h3');
    await expect(page.textContent('#rf-health-incidents h3')).resolves.toBe('Open incidents (0)');
    // The entropy and alert endpoints come from other modules: a 404 reads "not available".
    for (const [path, section] of [
      ['/api/entropy/systems', '#rf-health-systems'],
      ['/api/alerts', '#rf-health-alerts'],
    ] as const) {
      const status = (await fetch(base + path, { headers: { authorization: `Bearer ${TEST_TOKENS.admin}` } })).status;
      const text = await page.locator(section).textContent();
      if (status === 404) expect(text).toContain('not available');
      else expect(text).not.toContain('not available');
    }
    await shot('health');
  });

  it('when the whole story ran, then the page logged no script error and no CSP violation', () => {
    // 400: the refused deploy; 401: the wrong token, both on purpose; 404: endpoints of modules this server lacks.
    const serious = ui.browser.problems.filter((problem) => !/Failed to load resource: the server responded with a status of (400|401|404)/.test(problem));
    expect(serious).toEqual([]);
  });
});

/** Expands a properties panel group unless it is open already. */
async function openGroup(page: Page, groupId: string): Promise<void> {
  const group = page.locator(`[data-group-id="group-${groupId}"]`);
  const header = group.locator('.bio-properties-panel-group-header');
  if ((await header.getAttribute('class'))?.split(' ').includes('open')) return;
  await header.locator('.bio-properties-panel-group-header-title').click();
  await page.waitForSelector(`[data-group-id="group-${groupId}"] .bio-properties-panel-group-header.open`);
}
