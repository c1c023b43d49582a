import { jest } from '@jest/globals';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { layoutProcess } from 'bpmn-auto-layout';
import type { Page } from 'playwright-core';
import { sequence } from '../support/bpmn.js';
import { dmn } from '../support/dmn.js';
import { createNodeProject } from '../support/node-project.js';
import { eventually } from '../support/test-app.js';
import { openUi, type UiSession } from './browser.js';

jest.setTimeout(120_000);

/**
 * Issue 13's operations in a real browser: a long phase's live log while it runs and its result
 * when it ends, the instance list's variable filter, the inbox's saved filters, and the
 * decisions an instance evaluated.
 */
describe('browser: live log, variable search, saved filters, decision history', () => {
  let ui: UiSession;
  let page: Page;
  let base: string;
  let call: UiSession['call'];
  let project: Awaited<ReturnType<typeof createNodeProject>>;
  const release = () => join(project.root, 'release');

  beforeAll(async () => {
    project = await createNodeProject();
    const script = `const fs=require('fs');let i=0;const t=setInterval(()=>{console.log('tick '+(++i));if(fs.existsSync(process.argv[1])||i>1200){clearInterval(t);console.error('released after '+i);}},50);`;
    const phases = join(project.root, 'phases.yaml');
    await writeFile(phases, `gate: 0.5\nregistry: semconv/registry.yaml\nphases:\n  - { name: unit, kind: command, argv: [node, -e, ${JSON.stringify(script)}, ${JSON.stringify(release())}], weight: 1, timeoutMs: 90000, required: true }\n`);
    ui = await openUi({
      app: {
        builtIns: true,
        env: { REGENFLOW_DATA_DIR: join(project.root, 'data'), REGENFLOW_AGENT_REPOSITORIES: join(project.root, 'repos'), REGENFLOW_VALIDATOR_PHASES: phases, REGENFLOW_WORKER_RETRY_MS: '100' },
      },
    });
    ({ page, base, call } = ui);
    // Laid out as the modeler or the generator would: the instance view draws the diagram.
    const deploy = async (name: string, xml: string) => expect((await call('POST', '/api/deployments', { name, xml: name.endsWith('.bpmn') ? await layoutProcess(xml) : xml })).status).toBe(201);
    await deploy('long-phase.bpmn', sequence('long_phase', [{ id: 'unit', xml: '<bpmn:serviceTask id="unit" name="Unit tests" camunda:type="external" camunda:topic="validator.unit" />' }]));
    await deploy(
      'discount.dmn',
      dmn([{ id: 'discount', name: 'Discount', inputs: [{ expression: 'amount', typeRef: 'number' }], outputs: [{ name: 'discount', typeRef: 'integer' }], rules: [[['< 100'], ['0']], [['>= 100'], ['10']]] }], { id: 'discount_drg' }),
    );
    await deploy(
      'order.bpmn',
      sequence('order', [
        { id: 'price', xml: '<bpmn:businessRuleTask id="price" name="Price" camunda:decisionRef="discount" camunda:resultVariable="discount" camunda:mapDecisionResult="singleEntry" />' },
        { id: 'approve', xml: '<bpmn:userTask id="approve" name="Approve order" />' },
      ]),
    );
  }, 180_000);
  afterAll(async () => {
    await ui?.close();
    await project?.remove();
  });

  it("when a phase runs, then the instance view shows its log as it comes and its result when it ends", async () => {
    await ui.signIn('admin');
    const started = await call('POST', '/api/process-instances', { processKey: 'long_phase', variables: { repository: project.repository, ref: 'main' } });
    await page.goto(`${base}/#/instance/${started.body.id}`);
    const run = page.locator('#rf-live-log .rf-live-run[data-run="unit"]');
    await run.locator('pre:has-text("tick 20")').waitFor({ timeout: 60_000 });
    expect(await run.getAttribute('data-state')).toBe('running');
    expect(await run.locator('.rf-live-status').textContent()).toBe('running…');
    expect(await page.locator('#rf-instance-status').textContent()).toBe('active');
    // The tail follows the output: the reader sees the newest lines without scrolling.
    await eventually(async () => run.locator('pre').evaluate((pre) => pre.scrollHeight > pre.clientHeight), 60_000);
    await eventually(async () => run.locator('pre').evaluate((pre) => pre.scrollHeight - pre.scrollTop - pre.clientHeight < 30), 10_000);
    await ui.shot('instance-live-log');

    await writeFile(release(), '');
    await page.locator('#rf-live-log .rf-live-run[data-state="passed"]').waitFor({ timeout: 60_000 });
    expect(await run.locator('.rf-live-result').textContent()).toMatch(/passed/);
    expect(await run.locator('pre').textContent()).toMatch(/released after \d+/);
    await page.waitForSelector('#rf-instance-status:text-is("completed")', { timeout: 30_000 });
    await rm(release(), { force: true });
  });

  it('when instances are filtered by a variable, then only those whose variables match are listed; a DMN evaluation shows on the instance', async () => {
    const ids: Record<string, string> = {};
    for (const [customer, amount] of [['acme', 150], ['globex', 50], ['acme', 20]] as const) {
      const started = await call('POST', '/api/process-instances', { processKey: 'order', variables: { customer, amount } });
      ids[`${customer}${amount}`] = started.body.id;
    }
    await page.goto(`${base}/#/instances`);
    await page.fill('#rf-filter-variable', 'customer = acme; amount > 100');
    await page.click('#rf-filters button[type=submit]');
    // The one row listed, once the filtered answer is in: before it, the unfiltered list can hold a single instance too.
    // Read in one DOM pass: the list re-renders while polling, and a row located before a re-render would wait out its timeout.
    const listed = async () => page.locator('#rf-instance-rows tr[data-instance-id]').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-instance-id')));
    await eventually(async () => (await listed()).join() === ids.acme150, 15_000);
    await ui.shot('instances-variable-filter');
    await page.fill('#rf-filter-variable', 'customer_eq_acme');
    await page.click('#rf-filters button[type=submit]');
    await eventually(async () => (await page.locator('#rf-instance-rows tr[data-instance-id]').count()) === 2, 15_000);

    // The instance's decision: inputs, the rule that matched, the output
    await page.goto(`${base}/#/instance/${ids.acme150}`);
    const decision = page.locator('#rf-decision-history .rf-decision[data-decision="discount"]');
    await decision.waitFor({ timeout: 15_000 });
    expect(await decision.locator(':scope > summary').textContent()).toMatch(/Discount v1 at Price/);
    expect(await decision.locator('.rf-decision-inputs').textContent()).toContain('150');
    expect(await decision.locator('.rf-decision-rules').textContent()).toContain('matched rule #2');
    expect(await decision.locator('.rf-decision-outputs').textContent()).toContain('10');
    await ui.shot('instance-decisions');
  });

  it("when a saved filter is picked in the inbox, then only its tasks are listed, with its count", async () => {
    const filter = await call('POST', '/engine-rest/filter/create', {
      resourceType: 'Task',
      name: 'Acme approvals',
      query: { taskDefinitionKey: 'approve', processVariables: [{ name: 'customer', operator: 'eq', value: 'acme' }] },
      properties: { priority: 1 },
    });
    expect(filter.status).toBe(200);
    await page.goto(`${base}/#/tasks`);
    await page.waitForSelector('#rf-task-filter option:has-text("Acme approvals (2)")', { state: 'attached' });
    await eventually(async () => (await page.locator('#rf-task-list li[data-task-id]').count()) === 3, 15_000);
    await page.selectOption('#rf-task-filter', filter.body.id);
    await eventually(async () => (await page.locator('#rf-task-list li[data-task-id]').count()) === 2, 15_000);
    await ui.shot('inbox-saved-filter');
    // The choice stays across a reload of the page
    await page.reload();
    await eventually(async () => (await page.locator('#rf-task-list li[data-task-id]').count()) === 2, 15_000);
    expect(await page.locator('#rf-task-filter').inputValue()).toBe(filter.body.id);
    expect(ui.browser.problems).toEqual([]);
  });

  it('when a process was deployed without diagram layout, then the instance view and the modeler lay it out and mark where it waits', async () => {
    // Deployed as written by hand or by a tool that keeps only the semantics: no BPMNDI at all.
    const bare = sequence('bare', [{ id: 'check', xml: '<bpmn:userTask id="check" name="Check by hand" />' }]);
    expect(bare).not.toMatch(/BPMNShape/);
    const deployed = await call('POST', '/api/deployments', { name: 'bare.bpmn', xml: bare });
    expect(deployed.status).toBe(201);
    const started = await call('POST', '/api/process-instances', { processKey: 'bare', variables: {} });
    expect(started.status).toBe(201);
    await page.goto(`${base}/#/instance/${started.body.id}`);
    await page.waitForSelector('#rf-view-instance g.djs-element.rf-active[data-element-id="check"]', { timeout: 15_000 });
    await ui.shot('instance-without-layout');
    await page.goto(`${base}/#/modeler/${encodeURIComponent(started.body.definitionId)}`);
    await page.waitForSelector('#rf-modeler-canvas g.djs-element[data-element-id="check"]', { timeout: 15_000 });
    expect(ui.browser.problems).toEqual([]);
  });
});
