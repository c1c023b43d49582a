import { jest } from '@jest/globals';
import type { Page } from 'playwright-core';
import { TEST_TOKENS } from '../support/server-process.js';
import { openUi, type UiSession } from './browser.js';

jest.setTimeout(90_000);

const EXPENSE_FORM = {
  type: 'default',
  id: 'expense-review',
  schemaVersion: 16,
  components: [
    { type: 'text', id: 'Text_intro', text: '## Review the expense' },
    { type: 'textfield', id: 'Field_reviewer', key: 'reviewer', label: 'Your name', validate: { required: true } },
    { type: 'number', id: 'Field_amount', key: 'amount', label: 'Approved amount', validate: { min: 1, max: 500 } },
    {
      type: 'select',
      id: 'Field_decision',
      key: 'decision',
      label: 'Decision',
      values: [
        { label: 'Pay', value: 'pay' },
        { label: 'Refuse', value: 'refuse' },
      ],
      validate: { required: true },
    },
  ],
};

const CLAIM_FORM = {
  type: 'default',
  id: 'expense-claim',
  schemaVersion: 16,
  components: [
    { type: 'textfield', id: 'Field_claimant', key: 'claimant', label: 'Claimant', validate: { required: true } },
    { type: 'number', id: 'Field_claimed', key: 'amount', label: 'Amount claimed', validate: { min: 1 } },
  ],
};

const EXPENSE_PROCESS = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="defs_expense" targetNamespace="http://regenflow.dev/test">
  <bpmn:process id="expense" isExecutable="true">
    <bpmn:startEvent id="start" camunda:formRef="expense-claim"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="review" name="Review expense" camunda:formRef="expense-review" camunda:formRefBinding="deployment"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="review" />
    <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="end" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="diagram"><bpmndi:BPMNPlane id="plane" bpmnElement="expense">
    <bpmndi:BPMNShape id="start_di" bpmnElement="start"><dc:Bounds x="100" y="100" width="36" height="36" /></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="review_di" bpmnElement="review"><dc:Bounds x="190" y="78" width="100" height="80" /></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="end_di" bpmnElement="end"><dc:Bounds x="350" y="100" width="36" height="36" /></bpmndi:BPMNShape>
    <bpmndi:BPMNEdge id="f1_di" bpmnElement="f1"><di:waypoint x="136" y="118" /><di:waypoint x="190" y="118" /></bpmndi:BPMNEdge>
    <bpmndi:BPMNEdge id="f2_di" bpmnElement="f2"><di:waypoint x="290" y="118" /><di:waypoint x="350" y="118" /></bpmndi:BPMNEdge>
  </bpmndi:BPMNPlane></bpmndi:BPMNDiagram>
</bpmn:definitions>`;

/** Issue 16's forms in a real browser: a task rendered with form-js, refused while invalid, completed once valid. */
describe('browser forms', () => {
  let ui: UiSession;
  let base: string;
  let call: UiSession['call'];
  let page: Page;

  beforeAll(async () => {
    ui = await openUi();
    ({ base, call, page } = ui);
    const form = new FormData();
    form.append('expense-review.form', new Blob([JSON.stringify(EXPENSE_FORM)]), 'expense-review.form');
    form.append('expense-claim.form', new Blob([JSON.stringify(CLAIM_FORM)]), 'expense-claim.form');
    form.append('expense.bpmn', new Blob([EXPENSE_PROCESS]), 'expense.bpmn');
    const deployed = await fetch(`${base}/api/deployments`, { method: 'POST', headers: { authorization: `Bearer ${TEST_TOKENS.admin}` }, body: form });
    expect(deployed.status).toBe(201);
  }, 120_000);

  afterAll(() => ui?.close());

  it('when a person completes a task through its form, then an invalid entry is refused on the field and a valid one completes it', async () => {
    const started = await call('POST', '/api/process-instances', { processKey: 'expense', variables: { claimant: 'dan', amount: 900 } });
    expect(started.status).toBe(201);
    await page.goto(`${base}/#/tasks`);
    await page.fill('#rf-token', TEST_TOKENS.admin);
    await page.click('#rf-login button[type=submit]');
    await page.waitForSelector('#rf-task-list li[data-task-id]');
    // form-js is not in the first load: it comes with the first form shown.
    const loaded = () => page.evaluate(() => performance.getEntriesByType('resource').map((entry) => entry.name).filter((name) => /forms-runtime-/.test(name)));
    expect(await loaded()).toEqual([]);

    await page.click('#rf-task-list li[data-task-id] a');
    await page.waitForSelector('#rf-form-js[data-form-key="expense-review"] .fjs-form');
    expect((await loaded()).length).toBe(1);
    // The instance's amount (900) opens in the form, above the form's maximum; the reviewer is missing.
    await page.click('#rf-complete-task');
    await page.waitForSelector('#rf-form-problem:has-text("Fix the marked fields first.")');
    await expect(page.locator('#rf-form-js .fjs-form-field-error').allTextContents()).resolves.toEqual(
      expect.arrayContaining([expect.stringContaining('Field is required.'), expect.stringContaining('Field must have maximum value of 500.')]),
    );
    await ui.shot('forms-task-invalid');
    expect((await call('GET', `/api/process-instances/${started.body.id}`)).body.status).toBe('active');

    const form = page.locator('#rf-form-js');
    await form.getByLabel(/Your name/).fill('erin');
    await form.getByLabel(/Approved amount/).fill('120');
    await page.click('#rf-form-js .fjs-form-field-select .fjs-input-group');
    await page.click('#rf-form-js .fjs-dropdownlist-item:has-text("Pay")');
    await page.click('#rf-complete-task');
    await page.waitForSelector('#rf-inbox-empty');
    const instance = (await call('GET', `/api/process-instances/${started.body.id}`)).body;
    expect(instance.status).toBe('completed');
    expect(instance.variables).toMatchObject({ reviewer: 'erin', amount: 120, decision: 'pay' });
    expect(ui.browser.problems).toEqual([]);
  });

  it('when the owner opens the Forms page, then the form-js editor shows the deployed form and its versions', async () => {
    await page.click('.rf-nav a[data-view="forms"]');
    await page.waitForSelector('#rf-forms-editor .fjs-editor-container');
    await page.selectOption('#rf-forms-open', 'expense-review');
    await page.waitForSelector('#rf-forms-title:text-is("expense-review — version 1")');
    await page.waitForSelector('#rf-forms-editor .fjs-editor-container [data-id="Field_reviewer"]');
    await page.click('#rf-forms-deploy');
    await page.waitForSelector('#rf-forms-deployed:has-text("expense-review v")');
    expect(await page.locator('#rf-forms-versions li').count()).toBeGreaterThanOrEqual(1);
    await ui.shot('forms-editor');
    expect(ui.browser.problems).toEqual([]);
  });

  it('when a person starts an instance through the start form, then a missing field is refused and a filled form starts it', async () => {
    await page.click('.rf-nav a[data-view="instances"]');
    await page.selectOption('#rf-start-key', 'expense');
    await page.waitForSelector('#rf-start-fields #rf-form-js[data-form-key="expense-claim"] .fjs-form');
    await page.click('#rf-start-submit');
    await page.waitForSelector('#rf-start-problem:has-text("Fix the marked fields first.")');
    await page.locator('#rf-start-fields').getByLabel(/Claimant/).fill('erin');
    await page.locator('#rf-start-fields').getByLabel(/Amount claimed/).fill('42');
    await page.click('#rf-start-submit');
    await page.waitForURL(/#\/instance\//);
    const instanceId = page.url().split('#/instance/')[1]!;
    expect((await call('GET', `/api/process-instances/${instanceId}`)).body.variables).toMatchObject({ claimant: 'erin', amount: 42 });
    expect(ui.browser.problems).toEqual([]);
  });
});
